"""Group scales, and quantize / dequantize with them.

Groups
------
A tensor ``x`` is scaled in groups of ``group_size`` consecutive elements along
``axis`` (``group_size=None``: the whole axis is one group -- per token for an
activation ``[T, K]`` with ``axis=-1``, per output channel for a weight
``[O, K]``).  ``axis=None`` means one scale for the whole tensor.  A scale
array has ``x``'s shape with the ``axis`` dimension replaced by the number of
groups ``K / group_size`` (all ones for ``axis=None``); ``group_size`` must
divide ``K`` (else :class:`NumericsError`).

Scale of a group (``compute_scales``)
-------------------------------------
``absmax`` = max |x| over the group, converted to float32.

* ``scale_kind="fp32"`` (default): ``s = absmax / float32(max_value)``, one
  float32 division.
* ``scale_kind="e8m0"``: ``s`` = the smallest power of two with
  ``s * max_value >= absmax``, decided exactly (``2^p * max_value`` is an exact
  float32 product), clamped to E8M0's range ``2^-127 .. 2^127``.

An all-zero group gets ``s = 1.0``.  A group holding NaN or inf gets a NaN
scale (the tensor is broken; fpqc does not hide it).

Quantize / dequantize
---------------------
``quantize``: ``codes = fmt.encode(float32(x) / s)`` -- ``x`` is converted to
float32 first, the division is one float32 division per element, then the LUT
quantizer (``fpqc.numerics.rounding``).  ``dequantize``: ``decode(code) * s``,
one float32 multiplication.  The group layout of ``scales`` is inferred from
its shape; a ``group_size`` argument, if given, must agree with it.
"""

from __future__ import annotations

import numpy as np

from fpqc.numerics.errors import NumericsError
from fpqc.numerics.formats import Format

SCALE_KINDS = ("fp32", "e8m0")


def group_view(x: np.ndarray, axis: int, group_size: int | None):
    """``x`` reshaped so that groups are the last axis: ``[..., G, gs]`` with axis moved last."""
    k = x.shape[axis]
    gs = k if group_size is None else int(group_size)
    if gs <= 0 or k % gs:
        raise NumericsError(
            f"group size {group_size} does not divide dimension {axis} of size {k} "
            f"(tensor shape {tuple(x.shape)}); use a divisor of {k} or None for the whole axis"
        )
    moved = np.moveaxis(x, axis, -1)
    return moved.reshape(moved.shape[:-1] + (k // gs, gs))


def _pow2_f32(p: np.ndarray) -> np.ndarray:
    """Exact float32 2^p for integer p in -149 .. 127, built from bits."""
    p = np.asarray(p, dtype=np.int32)
    normal = ((p + 127).clip(1, 254).astype(np.uint32) << 23).view(np.float32)
    sub = (np.uint32(1) << (p + 149).clip(0, 22).astype(np.uint32)).view(np.float32)
    return np.where(p >= -126, normal, sub)


def _floor_log2_f32(a: np.ndarray) -> np.ndarray:
    """floor(log2(a)) for finite positive float32 ``a``, from its bits (subnormals too)."""
    bits = a.view(np.uint32)
    expo = (bits >> 23).astype(np.int32)
    small = np.where(expo > 0, np.float32(0), a)
    sub_scaled = (small * np.float32(2.0**24)).view(np.uint32)  # exact for subnormals
    sub_expo = (sub_scaled >> 23).astype(np.int32) - 24
    return np.where(expo > 0, expo, sub_expo) - 127


def _e8m0_scales(absmax: np.ndarray, max_value: float) -> np.ndarray:
    top = np.float32(max_value)
    safe = np.where((absmax > 0) & np.isfinite(absmax), absmax, np.float32(1))
    top_log2 = int(_floor_log2_f32(np.array([top]))[0])
    p = _floor_log2_f32(safe) - top_log2 - 1  # ceil(log2(absmax/max)) is p, p+1 or p+2
    for _ in range(2):
        # 2^p * max_value is exact in float64 for every p reached here
        p = np.where(np.ldexp(np.float64(top), p) < safe, p + 1, p)
    return _pow2_f32(p.clip(-127, 127))


def compute_scales(x, fmt: Format, axis: int | None = -1, group_size: int | None = None,
                   scale_kind: str = "fp32") -> np.ndarray:
    """float32 scales of ``x`` for ``fmt`` (see module docstring)."""
    x = np.asarray(x)
    if scale_kind not in SCALE_KINDS:
        raise NumericsError(f"unknown scale kind {scale_kind!r}; valid: {', '.join(SCALE_KINDS)}")
    if axis is None:
        absmax = np.max(np.abs(x)) if x.size else 0.0
        absmax = np.asarray(absmax).astype(np.float32).reshape((1,) * x.ndim)
    else:
        axis = axis % x.ndim
        groups = group_view(x, axis, group_size)
        absmax = np.moveaxis(np.max(np.abs(groups), axis=-1).astype(np.float32), -1, axis)
    return scales_of_absmax(absmax, fmt, scale_kind)


def scales_of_absmax(absmax: np.ndarray, fmt: Format, scale_kind: str) -> np.ndarray:
    """The scales of groups whose float32 absmax is ``absmax`` (module docstring)."""
    broken = ~np.isfinite(absmax)
    if scale_kind == "fp32":
        s = absmax / np.float32(fmt.max_value)
    else:
        s = _e8m0_scales(absmax, fmt.max_value)
    s = np.where(absmax == 0, np.float32(1), s)
    s = np.where(broken, np.float32(np.nan), s)
    return np.ascontiguousarray(s, dtype=np.float32)


def expand_scales(scales, shape, axis: int | None, group_size: int | None = None) -> np.ndarray:
    """``scales`` repeated over their groups to broadcast against a tensor of ``shape``."""
    s = np.asarray(scales, dtype=np.float32)
    if axis is None:
        if s.size != 1:
            raise NumericsError(f"per-tensor scales must hold one value, got shape {s.shape}")
        return s.reshape((1,) * len(shape))
    axis = axis % len(shape)
    if s.ndim != len(shape):
        raise NumericsError(f"scales of shape {s.shape} do not match tensor shape {tuple(shape)}")
    k, g = shape[axis], s.shape[axis]
    if g == 0 or k % g or (group_size is not None and group_size * g != k):
        raise NumericsError(
            f"scales of shape {s.shape} do not give groups of {group_size} along axis {axis} "
            f"of tensor shape {tuple(shape)}"
        )
    return np.repeat(s, k // g, axis=axis)


def quantize(x, fmt: Format, scales, axis: int | None = -1, group_size: int | None = None,
             rounding: str = "rne") -> np.ndarray:
    """uint8 codes of ``float32(x) / s`` (see module docstring)."""
    x = np.asarray(x, dtype=np.float32)
    s = expand_scales(scales, x.shape, axis, group_size)
    return fmt.encode(x / s, rounding=rounding)


def quantize_groups(x, fmt: Format, group_size: int | None, rounding: str = "rne") -> tuple[np.ndarray, np.ndarray]:
    """``(codes, scales)`` of ``x`` in groups of ``group_size`` along its last axis (None: whole rows) with fp32
    scales: :func:`compute_scales` then :func:`quantize`, bit for bit, in one compiled pass over each group."""
    from fpqc.numerics import ordered_loops  # numba: the interpreter's activations, a compile's large weights

    x = np.asarray(x, dtype=np.float32)
    k = x.shape[-1]
    group_size = group_size or k
    if k % group_size:
        raise NumericsError(f"group size {group_size} does not divide the last axis of shape {x.shape}")
    rows = np.ascontiguousarray(x).reshape(-1, k)
    shift, table = fmt.quantizer_table(rounding).key_table
    codes = np.empty(rows.shape, np.uint8)
    scales = np.empty((rows.shape[0], k // group_size), np.float32)
    ordered_loops.quantize_groups(rows, np.float32(fmt.max_value), table, shift, codes, scales)
    return codes.reshape(x.shape), scales.reshape(*x.shape[:-1], k // group_size)


COMPILED_WEIGHTS_FROM = 1 << 20
"""Values of a weight from which it is quantized, folded and packed by compiled loops (numba, in one pass
each, releasing the GIL); a smaller weight in numpy, with the same results: a model without such
weights compiles without starting numba (about a second)."""

_BLOCK = 1 << 22
"""Elements of a weight quantized at a time in numpy by :func:`quantize_weight` (scales other than
fp32): its temporaries (a few times 16 MB) are held at once.  Few numpy passes: ``fpqc compile``
quantizes in a background thread, which waits for the GIL after each pass."""


_ENCODE_CHUNK = 1 << 18
"""Values of a block encoded by one numpy pass: its temporaries stay in the CPU's caches (2^22 at a
time took four times as long), and a pass is long enough to be worth the GIL's wait after it."""

_TRANSPOSED_COLUMNS = 512
"""Columns of a block of codes transposed at a time: the rows they span stay in the CPU's caches
while numpy walks down them (the whole block at once took twice as long)."""


def quantize_weight(w, fmt: Format, group_size: int | None, scale_kind: str = "fp32",
                    rounding: str = "rne") -> tuple[np.ndarray, np.ndarray]:
    """``(codes, scales)`` of a weight ``[O, K]`` with groups along K: exactly
    ``compute_scales(w, fmt, -1, group_size)`` and ``quantize(w, fmt, scales, -1, group_size)``
    (``group_size=None``: one scale for the tensor, axis None), codes and scales in C order.

    Computed in the memory order ``w`` is stored in, so a Fortran-ordered ``w`` (a transposed
    view of a ``[K, O]`` array) is never copied: its codes are written transposed.  A large
    weight's fp32 scales are computed with its codes in one compiled pass (numba, releasing the
    GIL: ``fpqc compile`` quantizes in a background thread beside its passes); other weights a
    block of rows at a time in numpy.
    """
    w = np.asarray(w)
    if group_size is None:
        scales = compute_scales(w, fmt, axis=None, scale_kind=scale_kind)
        return np.ascontiguousarray(quantize(w, fmt, scales, axis=None, rounding=rounding)), scales
    o, k = w.shape
    group_view(w, -1, group_size)  # checks that group_size divides K
    stored_transposed = w.flags.f_contiguous and not w.flags.c_contiguous
    if scale_kind == "fp32" and w.size >= COMPILED_WEIGHTS_FROM:
        if stored_transposed:
            return _quantize_columns(w.T, fmt, group_size, rounding)
        return quantize_groups(w, fmt, group_size, rounding)
    table = fmt.quantizer_table(rounding)
    if stored_transposed:
        return _quantize_stored_transposed(w.T, fmt, table, group_size, scale_kind)
    w = np.ascontiguousarray(w)
    codes = np.empty((o, k), dtype=np.uint8)
    scales = np.empty((o, k // group_size), dtype=np.float32)
    rows = max(1, _BLOCK // k)
    for r in range(0, o, rows):
        groups = w[r : r + rows].reshape(-1, k // group_size, group_size)
        s = scales_of_absmax(np.max(np.abs(groups), axis=-1).astype(np.float32), fmt, scale_kind)
        scales[r : r + rows] = s
        x = np.asarray(groups, dtype=np.float32) / s[:, :, None]
        codes[r : r + rows] = table.encode(x, chunk=_ENCODE_CHUNK).reshape(-1, k)
    return codes, scales


def _quantize_columns(t: np.ndarray, fmt: Format, group_size: int, rounding: str) -> tuple[np.ndarray, np.ndarray]:
    """:func:`quantize_groups` of ``tᵀ`` for a C-ordered ``t [K, O]`` (groups run down its columns), in one
    compiled pass that releases the GIL, without copying ``t``."""
    from fpqc.numerics import ordered_loops

    k, o = t.shape
    shift, table = fmt.quantizer_table(rounding).key_table
    codes = np.empty((o, k), dtype=np.uint8)
    scales = np.empty((k // group_size, o), dtype=np.float32)
    t = np.asarray(t, dtype=np.float32)
    ordered_loops.quantize_columns(t, np.float32(fmt.max_value), table, shift, codes, scales)
    return codes, np.ascontiguousarray(scales.T)


def _quantize_stored_transposed(t: np.ndarray, fmt: Format, table, group_size: int,
                                scale_kind: str) -> tuple[np.ndarray, np.ndarray]:
    """:func:`quantize_weight` of ``tᵀ`` for a C-ordered ``t [K, O]``: groups run down t's columns,
    a block of whole groups of rows at a time."""
    k, o = t.shape
    rows = group_size * max(1, _BLOCK // (group_size * o))
    codes = np.empty((o, k), dtype=np.uint8)
    scales = np.empty((k // group_size, o), dtype=np.float32)
    for r in range(0, k, rows):
        groups = t[r : r + rows].reshape(-1, group_size, o)
        s = scales_of_absmax(np.max(np.abs(groups), axis=1).astype(np.float32), fmt, scale_kind)
        scales[r // group_size : r // group_size + len(s)] = s
        x = np.asarray(groups, dtype=np.float32) / s[:, None, :]
        block = table.encode(x.reshape(-1, o), chunk=_ENCODE_CHUNK)
        for c in range(0, o, _TRANSPOSED_COLUMNS):  # the block's columns are rows of the codes
            codes[c : c + _TRANSPOSED_COLUMNS, r : r + rows] = block[:, c : c + _TRANSPOSED_COLUMNS].T
    return codes, np.ascontiguousarray(scales.T)


def dequantize(codes, fmt: Format, scales, axis: int | None = -1,
               group_size: int | None = None) -> np.ndarray:
    """float32 ``decode(codes) * s`` (see module docstring)."""
    codes = np.asarray(codes)
    s = expand_scales(scales, codes.shape, axis, group_size)
    return fmt.decode(codes) * s
