"""GALT's learning (FPQVAR): a per-channel smoothing ``s`` for a linear layer's input, in torch.

For an input ``x [.., K]`` read by linear layers with weights ``W [O, K]``,
``s`` (initialised to 1 and trained directly, as the authors do) is learned
so that the layer quantized *after* the group-wise Hadamard ``Q`` stays close
to the float layer::

    loss(s) = Σ_scales MSE( FQ_x((x·s)·Q) · FQ_w((W/s)·Q)ᵀ , x·Wᵀ )

``x`` runs over calibration rows of each VAR scale, ``W`` over the readers'
weights (the bias cancels).  ``FQ`` is :func:`fake_quantize`.  Training:
AdamW (torch defaults but ``lr``), ``epochs`` epochs of one step per scale,
scales in order; after every step ``s`` is kept at or above :data:`S_MIN`
so that ``W/s`` stays finite.

Which ``s`` is kept (``select``):

``heldout`` (fpqc's default)
    each scale's rows are split in two (even positions fit, odd positions
    are held out); ``s`` is trained on the fit rows, and the held-out loss is
    evaluated with ``s = 1`` and after every epoch; the ``s`` with the lowest
    held-out loss is kept, and ``s = 1`` when no epoch beats ``s = 1`` by
    :data:`MIN_GAIN` (learning did not help this input).
``last`` (the authors' code)
    ``s`` is trained on all rows and the last one is kept.

Deterministic: nothing is drawn at random but ``Q``, and torch runs on one
thread.  The ``galt`` pass (:mod:`fpqc.passes.galt`) folds the result; see
``docs/passes.md`` for the method as a whole.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from fpqc.errors import FpqcError
from fpqc.files.npz import open_npz
from fpqc.numerics import Format
from fpqc.numerics.hadamard import ght_matrix
from fpqc.numerics.rounding import ROUNDING_MODES
from fpqc.numerics.torch_threads import one_torch_thread
from fpqc.quant.calibration import checked_rows, existing_calibration

SELECTIONS = ("heldout", "last")
S_MIN = 1e-3
"""The smallest ``s`` training may reach (the authors' code has no bound)."""
MIN_GAIN = 0.10
"""``heldout`` keeps a learned ``s`` only when it lowers the held-out loss by at least this fraction.

Redrawing the Hadamard signs alone moves a layer's held-out loss by up to
±6.5% on the shipped digits model (2% standard deviation), and gains of that
size did not lower the logits' KL there; a learned ``s`` has to do better than
a luckier draw of the transform."""


class _RoundToGrid(torch.autograd.Function):
    """fpqc's encode-then-decode of float32 values; identity gradient (straight-through)."""

    @staticmethod
    def forward(ctx, v: torch.Tensor, fmt: Format, rounding: str) -> torch.Tensor:
        a = v.detach().numpy()
        return torch.from_numpy(fmt.decode(fmt.encode(a, rounding)))

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        return grad, None, None


def fake_quantize(z: torch.Tensor, fmt: Format, group_size: int, rounding: str = "rne") -> torch.Tensor:
    """``dequantize(quantize(z))`` with scales ``absmax / max_value`` per group of the last axis
    (``group_size`` 0: one group, the whole last axis -- per token, or per output channel of a weight).

    float32; the forward values equal fpqc's :func:`compute_scales` /
    :func:`quantize` / :func:`dequantize` with ``rounding`` (an all-zero
    group scaled by 1).  Gradients flow through the scales; the rounding is
    straight-through.
    """
    shape = z.shape
    group_size = group_size or shape[-1]
    groups = z.reshape(*shape[:-1], shape[-1] // group_size, group_size)
    absmax = groups.abs().amax(-1, keepdim=True)
    top = torch.tensor(fmt.max_value, dtype=z.dtype)
    scale = torch.where(absmax == 0, torch.ones_like(absmax), absmax / top)
    return (_RoundToGrid.apply(groups / scale, fmt, rounding) * scale).reshape(shape)


@dataclass(frozen=True)
class GaltSettings:
    """The quantizer GALT learns against, its training, and the Hadamard transform ``Q``."""

    format: str
    group_size: int
    epochs: int
    lr: float
    block: int
    seed: int
    rounding: str = "rne"
    select: str = "heldout"
    shared_signs: bool = False
    """Every input learns against the transform of ``seed`` (``group-hadamard{shared-signs=true}``)."""

    def check(self) -> None:
        """FpqcError for a rounding mode or selection GALT does not know."""
        if self.rounding not in ROUNDING_MODES:
            raise FpqcError(f"galt: unknown rounding '{self.rounding}' (use {', '.join(ROUNDING_MODES)})")
        if self.select not in SELECTIONS:
            raise FpqcError(f"galt: unknown select '{self.select}' (use {', '.join(SELECTIONS)})")


@dataclass(frozen=True)
class Smoothing:
    """A learned ``s`` and the loss it was chosen on, with ``s = 1`` and with ``s``.

    ``heldout`` reports the held-out loss, ``last`` the loss over all rows.
    """

    s: np.ndarray
    loss_before: float
    loss_after: float
    """With the kept ``s``; for ``heldout`` where ``s = 1`` was kept, the best an epoch reached."""

    @property
    def kept(self) -> bool:
        """Whether a learned ``s`` was kept (not ``s = 1``)."""
        return not np.all(self.s == 1)


def split_rows(rows: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(fit rows, held-out rows) of each scale: even and odd positions (``select=heldout``)."""
    return [x[0::2] for x in rows], [x[1::2] for x in rows]


class _Objective:
    """The loss of ``s`` over some scales' rows of one input."""

    def __init__(self, rows: list[np.ndarray], weights: list[torch.Tensor], q: torch.Tensor,
                 fmt: Format, settings: GaltSettings) -> None:
        self.xs = [torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)) for x in rows if len(x)]
        self.weights, self.q, self.fmt, self.settings = weights, q, fmt, settings
        self.targets = [[x @ w.T for w in weights] for x in self.xs]

    def scale_loss(self, k: int, s: torch.Tensor) -> torch.Tensor:
        group, rounding = self.settings.group_size, self.settings.rounding
        xq = fake_quantize((self.xs[k] * s) @ self.q, self.fmt, group, rounding)
        return sum(
            torch.mean((xq @ fake_quantize((w / s) @ self.q, self.fmt, group, rounding).T - target) ** 2)
            for w, target in zip(self.weights, self.targets[k])
        )

    def total(self, s: torch.Tensor) -> float:
        with torch.no_grad():
            return float(sum(float(self.scale_loss(k, s)) for k in range(len(self.xs))))


def learn_smoothing(
    rows: list[np.ndarray], weights: list[np.ndarray], q: np.ndarray, settings: GaltSettings
) -> Smoothing:
    """Learn ``s`` for the inputs ``rows`` (one ``[T_k, K]`` per scale) of the layers ``weights``.

    See the module docstring for the loss, the optimizer and which ``s`` is kept.
    Torch runs on one thread here, so the result does not depend on the
    machine's thread count (and the small matrices of one layer run faster).
    """
    settings.check()
    fmt = Format.parse(settings.format)
    with one_torch_thread():
        ws = [torch.from_numpy(np.ascontiguousarray(w, dtype=np.float32)) for w in weights]
        q_t = torch.from_numpy(np.asarray(q, dtype=np.float32))
        heldout = settings.select == "heldout"
        fit_rows, judged_rows = split_rows(rows) if heldout else (rows, rows)
        fit = _Objective(fit_rows, ws, q_t, fmt, settings)
        judged = _Objective(judged_rows, ws, q_t, fmt, settings)
        s = torch.ones(q_t.shape[0], dtype=torch.float32, requires_grad=True)
        optimizer = torch.optim.AdamW([s], lr=settings.lr)
        before = best = judged.total(s)
        best_s = s.detach().clone()
        for _ in range(settings.epochs):
            for k in range(len(fit.xs)):
                optimizer.zero_grad()
                fit.scale_loss(k, s).backward()
                optimizer.step()
                with torch.no_grad():
                    s.clamp_(min=S_MIN)
            if heldout:
                loss = judged.total(s)
                if loss < best:
                    best, best_s = loss, s.detach().clone()
        if not heldout:
            return Smoothing(s.detach().numpy().astype(np.float64), before, judged.total(s))
        if best > (1 - MIN_GAIN) * before:
            return Smoothing(np.ones(q_t.shape[0]), before, best)
        return Smoothing(best_s.numpy().astype(np.float64), before, best)


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


_LEARNED: dict[str, Smoothing] = {}
"""Results of :func:`learn_smoothing` in this process, by a digest of all they depend on (learning is
deterministic): ``fpqc eval`` builds several recipes that learn the same ``s``."""


def _digest(arrays: Sequence[np.ndarray], *extra: object) -> str:
    digest = hashlib.sha256(repr(extra).encode())
    for array in arrays:
        digest.update(repr(array.shape).encode())
        digest.update(np.ascontiguousarray(array, dtype=np.float32).tobytes())
    return digest.hexdigest()


def _outcome(result: Smoothing, select: str) -> str:
    if select == "last":
        return f"loss {result.loss_before:.6g} -> {result.loss_after:.6g} (last s)"
    if not result.kept:
        return (f"held-out loss {result.loss_before:.6g} -> {result.loss_after:.6g} at best, "
                f"less than {MIN_GAIN:.0%} lower: s = 1 kept")
    return (f"held-out loss {result.loss_before:.6g} -> {result.loss_after:.6g}, "
            f"s in [{result.s.min():.3g}, {result.s.max():.3g}]")


def _to_stderr(message: str) -> None:
    tqdm.write(message, file=sys.stderr)


def learn_from_calibration(
    path: Path,
    inputs: Sequence[SmoothedInput],
    settings: GaltSettings,
    report: Callable[[str], None] = _to_stderr,
) -> list[np.ndarray | None]:
    """``s`` for each of ``inputs`` (None for one that is not foldable), from the calibration file ``path``.

    The n-th input learns against ``Q = ght_matrix(K, block, seed + n)`` (``seed`` with
    ``shared_signs``), the transform ``group-hadamard`` applies to it.  Each input's loss before and
    after (or that ``s = 1`` was kept), and each input skipped, are reported through ``report`` (stderr,
    under a progress bar, by default).
    """
    existing_calibration(path)
    settings.check()
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
            if settings.group_size < 0 or (settings.group_size and k % settings.group_size):
                raise FpqcError(
                    f"galt: group size {settings.group_size} does not divide the {k} input features of "
                    f"{item.label}; choose a group size that divides {k}"
                )
            rows = checked_rows(data, item.linear_index, path, k, item.label)
            key = _digest([*rows, *item.weights], settings, n)
            if key not in _LEARNED:
                q = ght_matrix(k, settings.block, settings.seed + (0 if settings.shared_signs else n))
                _LEARNED[key] = learn_smoothing(rows, item.weights, q, settings)
            result = _LEARNED[key]
            report(f"galt: {item.label}: {_outcome(result, settings.select)}")
            learned.append(result.s)
    return learned
