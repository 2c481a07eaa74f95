"""GPTQ: weight rounding that compensates each rounding error in the columns not yet rounded.

Round to nearest (RTN) rounds every weight on its own.  GPTQ (Frantar et al.,
2023) rounds the columns of ``W [O, K]`` one at a time and moves each column's
rounding error onto the columns still to come, weighted by the layer input's
second moment ``H = Xᵀ X`` (``X [N, K]``: calibration rows of the input), so
that the output error ``‖X (W − Ŵ)ᵀ‖²`` -- not the weight error -- is what is
kept small.  The result is ordinary codes and scales: the quantized layer, its
interpreter and the accelerator are unchanged; only which grid point each
weight takes differs.

Here, column ``j`` is rounded as RTN would round it -- ``codes =
encode(float32(w_j) / s)`` with the grid, rounding mode and scale rule of
:mod:`fpqc.numerics.scales` -- and a group's scale is taken from the group's
absmax at the moment its first column is reached (for per-tensor scales: of
the whole weight, before any update).  ``H`` is damped by ``damp`` times its
mean diagonal; a channel no calibration row reaches (zero diagonal) is
decoupled from the others (its column is rounded to nearest and passes no
error on, and none reaches it).  All arithmetic is
float64; columns are updated in batches of at most 128 ("lazy batch"
updates), which gives the same numbers as updating every later column after
each one (:func:`gptq_reference` in the tests).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from fpqc.numerics.errors import NumericsError
from fpqc.numerics.formats import Format
from fpqc.numerics.scales import scales_of_absmax

BATCH = 128
"""Columns rounded before the error is carried to the rest of the weight in one product."""


def input_hessian(rows: Iterable[np.ndarray]) -> np.ndarray:
    """float64 ``Xᵀ X`` of the calibration rows (each ``[.., K]``), all rows weighted alike."""
    total = None
    for block in rows:
        x = np.asarray(block, dtype=np.float64).reshape(-1, np.shape(block)[-1])
        total = x.T @ x if total is None else total + x.T @ x
    if total is None:
        raise NumericsError("input_hessian needs at least one block of calibration rows")
    return total


def _inverse_cholesky(hessian: np.ndarray, damp: float) -> np.ndarray:
    """Upper-triangular ``U`` with ``Uᵀ U = (H + damp·mean(diag H)·I)⁻¹``, dead channels made 1."""
    h = np.array(hessian, dtype=np.float64)
    if not np.isfinite(h).all():
        raise NumericsError("the layer input's calibration rows hold NaN or inf; rerun `fpqc calibrate`")
    k = h.shape[0]
    diag = np.diag(h).copy()
    dead = diag <= 0
    h[dead, :] = 0
    h[:, dead] = 0
    h[dead, dead] = 1
    mean = float(np.mean(np.diag(h)))
    h[np.diag_indices(k)] += damp * mean
    # With J the reversal, J·H·J = L·Lᵀ gives H⁻¹ = Uᵀ·U for the upper-triangular U = J·L⁻¹·J:
    # one Cholesky factorisation and one triangular solve, half the work of inverting H first.
    import torch  # here, not at the top: importing torch takes 2 s, and only GPTQ needs it

    flipped = torch.from_numpy(np.ascontiguousarray(h[::-1, ::-1]))
    lower, info = torch.linalg.cholesky_ex(flipped)
    if int(info) != 0:
        raise NumericsError(
            "the layer input's second moment is not positive definite even after damping; "
            "rerun `fpqc calibrate` with more samples"
        )
    identity = torch.eye(k, dtype=torch.float64)
    inverse = torch.linalg.solve_triangular(lower, identity, upper=False).numpy()
    return np.ascontiguousarray(inverse[::-1, ::-1])


def gptq_quantize_weight(
    w,
    hessian: np.ndarray,
    fmt: Format,
    group_size: int | None,
    scale_kind: str = "fp32",
    rounding: str = "rne",
    damp: float = 0.01,
) -> tuple[np.ndarray, np.ndarray]:
    """``(codes, scales)`` of a weight ``[O, K]`` rounded by GPTQ (see the module docstring).

    Shapes and layouts are :func:`fpqc.numerics.scales.quantize_weight`'s:
    codes ``[O, K]`` uint8, scales ``[O, K / group_size]`` float32 (``group_size``
    None: one scale ``[1, 1]``).
    """
    weight = np.array(w, dtype=np.float64, order="C")
    o, k = weight.shape
    if hessian.shape != (k, k):
        raise NumericsError(f"a weight with {k} input features needs a {k}x{k} input Hessian, got {hessian.shape}")
    if group_size is not None and (group_size <= 0 or k % group_size):
        raise NumericsError(f"group size {group_size} does not divide the {k} input features of the weight")
    u = _inverse_cholesky(hessian, damp)
    batch = BATCH if group_size is None else _batch(group_size)
    codes = np.empty((o, k), dtype=np.uint8)
    if group_size is None:
        scales = scales_of_absmax(np.abs(weight).max().astype(np.float32).reshape(1, 1), fmt, scale_kind)
    else:
        scales = np.empty((o, k // group_size), dtype=np.float32)
    for start in range(0, k, batch):
        stop = min(start + batch, k)
        errors = np.empty((o, stop - start))
        for j in range(start, stop):
            if group_size is not None and j % group_size == 0:
                group = weight[:, j : j + group_size]
                scales[:, j // group_size] = scales_of_absmax(np.abs(group).max(axis=1).astype(np.float32), fmt, scale_kind)
            s = scales[:, 0 if group_size is None else j // group_size]
            codes[:, j] = fmt.encode(weight[:, j].astype(np.float32) / s, rounding=rounding)
            rounded = fmt.decode(codes[:, j]).astype(np.float64) * s
            error = (weight[:, j] - rounded) / u[j, j]
            weight[:, j + 1 : stop] -= np.outer(error, u[j, j + 1 : stop])
            errors[:, j - start] = error
        weight[:, stop:] -= errors @ u[start:stop, stop:]
    return codes, scales


def _batch(group_size: int) -> int:
    """A batch that starts at every group's first column: a divisor of the group, at most :data:`BATCH`."""
    return max(d for d in range(1, min(group_size, BATCH) + 1) if group_size % d == 0)
