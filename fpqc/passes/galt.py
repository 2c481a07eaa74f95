"""GHT-aware learnable transformation (FPQVAR's GALT): a learned per-channel smoothing.

Runs at float level, after ``raise-onnx-to-fpq`` and before ``group-hadamard``.
For each input ``x [.., K]`` of the selected ``fpq.linear``\\ s (by ``fpq.role``,
default ``mat_qkv,fc1``; linears reading one value share it), it learns a
vector ``s ∈ R^K``, ``s = exp(θ)`` (positive; ``θ = 0`` at the start), so that
the layer quantized *after* the group-wise Hadamard ``Q`` of ``group-hadamard``
stays close to the float layer::

    loss(s) = Σ_scales MSE( FQ_x((x·s)·Q) · FQ_w((W/s)·Q)ᵀ , x·Wᵀ )

``x`` runs over the calibration rows of each VAR scale (the outliers move from
scale to scale, so the statistics are kept per scale), ``W [O, K]`` over the
readers' weights (the bias cancels).  ``FQ`` is fpqc's fake quantization on
``format``'s grid (:func:`fake_quantize`): per token per group of
``group-size`` for the activation, per output channel per group for the
weight, scale ``absmax / max_value``, round to nearest even -- the forward
values are exactly :func:`fpqc.numerics.quantize` then ``dequantize``; the
backward pass treats the rounding as the identity (straight-through
estimator) and differentiates through the scales.  ``Q`` is
``ght_matrix(K, block, seed + n)`` for the n-th input in the order of
:func:`~fpqc.passes.group_hadamard.transformed_inputs`: the very transform
``group-hadamard{roles=R block=B seed=S}`` applies later, given the same
roles, block and seed as this pass.

Training: AdamW (torch defaults but ``lr``), ``epochs`` epochs of one step per
scale, scales in order.  The total loss is evaluated (no step) before every
epoch and after the last; the ``s`` with the lowest total is kept (``s = 1``
if nothing beats it), so the loss after is never above the loss before.  It
is deterministic: ``s`` starts at 1, nothing is drawn at random but ``Q``,
and torch runs on one thread.

Folding ``s`` away (float64, each result rounded once to fp32 on storage):

* the reader's weight: ``W' = W / s`` (per input column);
* the input, when ``x = LN(h)·(1 + scale) + shift`` is an ``fpq.modulate``
  whose ``scale`` and ``shift`` are chunks of an AdaLN ``fpq.linear``'s
  ``fpq.split`` (:func:`~fpqc.passes.group_hadamard.modulation_chunks`)::

      x·s = LN(h)·(1 + scale'') + shift''
      scale'' = s·scale + (s − 1)  →  W_scale'' = s·W_scale,  b_scale'' = s·b_scale + (s − 1)
      shift'' = s·shift            →  W_shift'' = s·W_shift,  b_shift'' = s·b_shift

  In real arithmetic the folded layer computes exactly the same function
  (``(x·s)·(W/s)ᵀ = x·Wᵀ``); in fp32 the four stored arrays each carry one
  rounding of the float64 product.

An input that is not such a modulation (or that another op reads too) cannot
take ``s``; its readers are left unchanged and the pass says so.  The pass
prints each input's loss before and after (stderr) under a progress bar.

Calibration file (``calib=PATH``, from ``fpqc calibrate``,
:mod:`fpqc.runtime.calibrate`): an ``.npz`` whose key ``linear{i}/scale{k}``
holds sampled input rows ``[R, K]`` (float32) of the i-th ``fpq.linear`` in
program order (of the raised float model: run ``galt`` before any pass that
adds or removes linears) at VAR scale k (:func:`calibration_rows`).  The
other keys of the file (per-channel statistics, the index) are not read.

Options: ``calib`` (required), ``roles`` (default ``mat_qkv,fc1``), ``format``
(default ``e2m1``; any :meth:`Format.parse` name), ``group-size`` (128),
``epochs`` (50), ``lr`` (0.01), ``block`` (128) and ``seed`` (0) of the
Hadamard transform.

Before::

    %sc, %sh = ... fpq.split %ada ...          (%ada = fpq.linear %c, %wa, %ba {fpq.role = "ada_lin"})
    %m = fpq.modulate %n, %sc, %sh : (...) -> tensor<1x30x256xf32>
    %y = fpq.linear %m, %w, %b {fpq.role = "fc1"} : (...) -> tensor<1x30x1024xf32>

After (``galt{calib="calib.npz"}``; ``%wa_galt``/``%ba_galt`` carry ``s`` in the
rows of ``%sc`` and ``%sh``, ``%w_galt = W / s``)::

    %ada = fpq.linear %c, %wa_galt, %ba_galt {fpq.role = "ada_lin"}
    %sc, %sh = ... fpq.split %ada ...
    %m = fpq.modulate %n, %sc, %sh : (...) -> tensor<1x30x256xf32>
    %y = fpq.linear %m, %w_galt, %b {fpq.role = "fc1"} : (...) -> tensor<1x30x1024xf32>
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter
from xdsl.transforms.dead_code_elimination import region_dce

from fpqc.dialects import fpq
from fpqc.errors import FpqcError
from fpqc.numerics import Format
from fpqc.numerics.hadamard import ght_matrix
from fpqc.passes.constants import constant_key, constant_value, new_constant
from fpqc.passes.group_hadamard import AdaLNFold, modulation_chunks, transformed_inputs


class _RoundToGrid(torch.autograd.Function):
    """fpqc's encode-then-decode of float32 values; identity gradient (straight-through)."""

    @staticmethod
    def forward(ctx, v: torch.Tensor, fmt: Format) -> torch.Tensor:
        a = v.detach().numpy()
        return torch.from_numpy(fmt.decode(fmt.encode(a)))

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad, None


def fake_quantize(z: torch.Tensor, fmt: Format, group_size: int) -> torch.Tensor:
    """``dequantize(quantize(z))`` with scales ``absmax / max_value`` per group of the last axis.

    float32; the forward values equal fpqc's :func:`compute_scales` /
    :func:`quantize` / :func:`dequantize` (round to nearest even, an all-zero
    group scaled by 1).  Gradients flow through the scales; the rounding is
    straight-through.
    """
    shape = z.shape
    groups = z.reshape(*shape[:-1], shape[-1] // group_size, group_size)
    absmax = groups.abs().amax(-1, keepdim=True)
    top = torch.tensor(fmt.max_value, dtype=z.dtype)
    scale = torch.where(absmax == 0, torch.ones_like(absmax), absmax / top)
    return (_RoundToGrid.apply(groups / scale, fmt) * scale).reshape(shape)


@dataclass(frozen=True)
class Smoothing:
    """A learned ``s`` and the total loss with ``s = 1`` and with ``s``."""

    s: np.ndarray
    loss_before: float
    loss_after: float


def learn_smoothing(
    rows: list[np.ndarray],
    weights: list[np.ndarray],
    q: np.ndarray,
    fmt: Format,
    group_size: int,
    epochs: int,
    lr: float,
) -> Smoothing:
    """Learn ``s`` for the inputs ``rows`` (one ``[T_k, K]`` per scale) of the layers ``weights``.

    See the module docstring for the loss, the optimizer and which ``s`` is kept.
    Torch runs on one thread here, so the result does not depend on the
    machine's thread count (and the small matrices of one layer run faster).
    """
    with _one_torch_thread():
        xs = [torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)) for x in rows]
        ws = [torch.from_numpy(np.ascontiguousarray(w, dtype=np.float32)) for w in weights]
        q_t = torch.from_numpy(np.asarray(q, dtype=np.float32))
        targets = [[x @ w.T for w in ws] for x in xs]
        theta = torch.zeros(q_t.shape[0], dtype=torch.float32, requires_grad=True)
        optimizer = torch.optim.AdamW([theta], lr=lr)

        def scale_loss(k: int) -> torch.Tensor:
            s = theta.exp()
            xq = fake_quantize((xs[k] * s) @ q_t, fmt, group_size)
            return sum(
                torch.mean((xq @ fake_quantize((w / s) @ q_t, fmt, group_size).T - target) ** 2)
                for w, target in zip(ws, targets[k])
            )

        def total_loss() -> float:
            with torch.no_grad():
                return float(sum(float(scale_loss(k)) for k in range(len(xs))))

        before = best = total_loss()
        best_theta = theta.detach().clone()
        for _ in range(epochs):
            for k in range(len(xs)):
                optimizer.zero_grad()
                scale_loss(k).backward()
                optimizer.step()
            loss = total_loss()
            if loss < best:
                best, best_theta = loss, theta.detach().clone()
        return Smoothing(np.exp(best_theta.numpy().astype(np.float64)), before, best)


@contextlib.contextmanager
def _one_torch_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def calibration_rows(data: np.lib.npyio.NpzFile, index: int, path: Path) -> list[np.ndarray]:
    """Input rows ``[T_k, K]`` per VAR scale k of the ``index``-th ``fpq.linear`` in program order."""
    keys = sorted(
        (key for key in data.files if key.startswith(f"linear{index}/scale")),
        key=lambda key: int(key.rsplit("scale", 1)[1]),
    )
    if not keys:
        raise FpqcError(
            f"{path}: no calibration activations for linear layer {index} (keys linear{index}/scale*); "
            f"rerun `fpqc calibrate` on the same model"
        )
    return [data[key].reshape(-1, data[key].shape[-1]) for key in keys]


def _label(linear: fpq.LinearOp) -> str:
    role = linear.attributes.get(fpq.ROLE_ATTR)
    name = constant_key(linear.weight) or "inline weight"
    return f"{role.data if isinstance(role, StringAttr) else 'linear'} ({name})"


@dataclass(frozen=True)
class GaltPass(ModulePass):
    """Learn and fold FPQVAR's GALT smoothing into selected linear inputs (see module docstring)."""

    name = "galt"

    calib: str = ""
    roles: tuple[str, ...] = ("mat_qkv", "fc1")
    format: str = "e2m1"
    group_size: int = 128
    epochs: int = 50
    lr: float = 0.01
    block: int = 128
    seed: int = 0

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if not self.calib:
            raise FpqcError(
                "galt learns its smoothing from calibration activations: run `fpqc calibrate MODEL "
                '-o calib.npz` first and pass galt{calib="calib.npz"}'
            )
        path = Path(self.calib)
        if not path.is_file():
            raise FpqcError(f"{path}: no such calibration file; run `fpqc calibrate MODEL -o {path}` first")
        fmt = Format.parse(self.format)
        index = {linear: i for i, linear in enumerate(o for o in op.walk() if isinstance(o, fpq.LinearOp))}
        inputs = list(transformed_inputs(op, self.roles).items())
        adaln: dict[fpq.LinearOp, AdaLNFold] = {}
        try:
            data = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise FpqcError(f"{path}: cannot read calibration data ({e})") from None
        with data:
            progress = tqdm(inputs, desc="galt", unit="layer", disable=None, leave=False)
            for n, (x, linears) in enumerate(progress):
                label = " + ".join(_label(linear) for linear in linears)
                chunks = modulation_chunks(x, linears)
                if chunks is None:
                    tqdm.write(
                        f"galt: {label}: input is not an AdaLN modulation read only by the "
                        f"selected layers; left unchanged",
                        file=sys.stderr,
                    )
                    continue
                weights = [constant_value(linear.weight) for linear in linears]
                k = weights[0].shape[1]
                if self.group_size <= 0 or k % self.group_size:
                    raise FpqcError(
                        f"galt: group size {self.group_size} does not divide the {k} input features of "
                        f"{label}; choose a group size that divides {k}"
                    )
                rows = calibration_rows(data, index[linears[0]], path)
                if any(r.shape[-1] != k for r in rows):
                    raise FpqcError(
                        f"{path}: calibration rows of {label} have {rows[0].shape[-1]} features, the layer "
                        f"has {k}; rerun `fpqc calibrate` on the same model"
                    )
                q = ght_matrix(k, self.block, self.seed + n)
                result = learn_smoothing(rows, weights, q, fmt, self.group_size, self.epochs, self.lr)
                tqdm.write(
                    f"galt: {label}: loss {result.loss_before:.6g} -> {result.loss_after:.6g}",
                    file=sys.stderr,
                )
                self._fold(result.s, linears, chunks, adaln)
        for fold in adaln.values():
            fold.rewrite("galt")
        region_dce(op.body)

    @staticmethod
    def _fold(
        s: np.ndarray,
        linears: list[fpq.LinearOp],
        chunks: tuple[tuple[fpq.LinearOp, slice], tuple[fpq.LinearOp, slice]],
        adaln: dict[fpq.LinearOp, AdaLNFold],
    ) -> None:
        for linear in linears:
            weight = constant_value(linear.weight)
            hint = (constant_key(linear.weight) or "weight") + ".galt"
            folded = new_constant(hint, (np.asarray(weight, dtype=np.float64) / s).astype(np.float32))
            Rewriter.insert_op(folded, InsertPoint.before(linear))
            linear.operands[1] = folded.result
        for (ada, rows), is_scale in zip(chunks, (True, False)):
            if ada not in adaln:
                adaln[ada] = AdaLNFold.of(ada)
            adaln[ada].fold(rows, s, is_scale)
