"""GALT's learning (FPQVAR): a per-channel smoothing ``s`` for a linear layer's input, in torch.

For an input ``x [.., K]`` read by linear layers with weights ``W [O, K]``,
``s = exp(θ)`` (positive; ``θ = 0`` at the start) is learned so that the
layer quantized *after* the group-wise Hadamard ``Q`` stays close to the
float layer::

    loss(s) = Σ_scales MSE( FQ_x((x·s)·Q) · FQ_w((W/s)·Q)ᵀ , x·Wᵀ )

``x`` runs over the calibration rows of each VAR scale, ``W`` over the
readers' weights (the bias cancels).  ``FQ`` is :func:`fake_quantize`.
Training: AdamW (torch defaults but ``lr``), ``epochs`` epochs of one step
per scale, scales in order; the total loss is evaluated (no step) before
every epoch and after the last, and the ``s`` with the lowest total is kept
(``s = 1`` if nothing beats it).  Deterministic: nothing is drawn at random
but ``Q``, and torch runs on one thread.

The ``galt`` pass (:mod:`fpqc.passes.galt`) folds the result; see
``docs/passes.md`` for the method as a whole.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from fpqc.errors import FpqcError
from fpqc.files.npz import open_npz
from fpqc.numerics import Format
from fpqc.numerics.hadamard import ght_matrix


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
    """Input rows ``[T_k, K]`` per VAR scale k of the ``index``-th ``fpq.linear`` in program order.

    ``data`` is a calibration file of ``fpqc calibrate`` (:mod:`fpqc.runtime.calibrate`):
    its key ``linear{i}/scale{k}`` holds sampled input rows ``[R, K]``.
    """
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


@dataclass(frozen=True)
class SmoothedInput:
    """An input of linear layers to learn ``s`` for."""

    label: str
    """How reports name it, e.g. ``fc1 (blocks.0.fc1.weight)``."""
    linear_index: int
    """Program-order index of its first reader: its calibration rows are ``linear{i}/scale*``."""
    weights: list[np.ndarray]
    """The readers' weights ``[O, K]``."""
    foldable: bool
    """Whether ``s`` can be folded; when not, the input is reported and skipped."""


@dataclass(frozen=True)
class GaltSettings:
    """The quantizer GALT learns against, its training, and the Hadamard transform ``Q``."""

    format: str
    group_size: int
    epochs: int
    lr: float
    block: int
    seed: int


def _to_stderr(message: str) -> None:
    tqdm.write(message, file=sys.stderr)


def learn_from_calibration(
    path: Path,
    inputs: Sequence[SmoothedInput],
    settings: GaltSettings,
    report: Callable[[str], None] = _to_stderr,
) -> list[np.ndarray | None]:
    """``s`` for each of ``inputs`` (None for one that is not foldable), from the calibration file ``path``.

    The n-th input learns against ``Q = ght_matrix(K, block, seed + n)``, the
    transform ``group-hadamard`` applies to it.  Each input's loss before and
    after, and each input skipped, are reported through ``report`` (stderr,
    under a progress bar, by default).
    """
    if not path.is_file():
        raise FpqcError(f"{path}: no such calibration file; run `fpqc calibrate MODEL -o {path}` first")
    fmt = Format.parse(settings.format)
    data = open_npz(path, "calibration file")
    learned: list[np.ndarray | None] = []
    with data:
        for n, item in enumerate(tqdm(inputs, desc="galt", unit="layer", disable=None, leave=False)):
            if not item.foldable:
                report(
                    f"galt: {item.label}: input is not an AdaLN modulation read only by the "
                    f"selected layers; left unchanged"
                )
                learned.append(None)
                continue
            k = item.weights[0].shape[1]
            if settings.group_size <= 0 or k % settings.group_size:
                raise FpqcError(
                    f"galt: group size {settings.group_size} does not divide the {k} input features of "
                    f"{item.label}; choose a group size that divides {k}"
                )
            rows = calibration_rows(data, item.linear_index, path)
            if any(r.shape[-1] != k for r in rows):
                raise FpqcError(
                    f"{path}: calibration rows of {item.label} have {rows[0].shape[-1]} features, the layer "
                    f"has {k}; rerun `fpqc calibrate` on the same model"
                )
            q = ght_matrix(k, settings.block, settings.seed + n)
            result = learn_smoothing(
                rows, item.weights, q, fmt, settings.group_size, settings.epochs, settings.lr
            )
            report(f"galt: {item.label}: loss {result.loss_before:.6g} -> {result.loss_after:.6g}")
            learned.append(result.s)
    return learned
