"""Products of low-bit codes, exact group sums, and how groups are combined.

Exact products
--------------
Every finite value of a format is an integer multiple of its ``step``
(``Format.units``).  The product of a code of ``fa`` and a code of ``fb`` is
therefore exactly ``units_a * units_b`` times ``product_unit(fa, fb) =
fa.step * fb.step`` (a power of two, held as float32).  ``product_table`` is
that integer for every pair of codes -- the ROM of the FPGA's LUT multiplier.
NaN and inf codes count as 0: they never reach a product, since fpqc's
quantizer saturates.

Exact group sums
----------------
A dot product over one quantization group of ``group_size`` elements is an
exact integer in product units; ``accumulator_bits`` is the width of a signed
accumulator that holds any such sum.  Hardware accumulates it exactly;
``group_partial_sums`` computes the same integers with a BLAS matmul, which is
exact because every partial sum of integers below 2^53 (float64; 2^24 when
float32 is used) is exact whatever the summation order.

Combining groups (the only rounding in a quantized linear layer)
----------------------------------------------------------------
For ``T`` rows, ``O`` outputs and ``G`` groups, with partial sums
``P[g, t, o]``, activation scales ``xs[t, g]`` and weight scales ``ws[o, g]``,
every operation in float32, no fused multiply-add::

    acc = +0.0f
    for g in 0 .. G-1:                        # ascending
        p   = float32(P[g, t, o]) * unit      # int -> float32: round to nearest even
        t_s = xs[t, g] * ws[o, g]
        acc = acc + (t_s * p)                 # t_s * p rounded to float32 first
    y = acc + bias[o]                         # only when there is a bias

``qlinear`` runs exactly this; when the activation and weight scales use
different group sizes along K (e.g. activations per token, weights per group
of 128), the coarser scales are repeated onto the finer groups first, and
``group_size`` is the finer one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from fpqc.numerics.errors import NumericsError
from fpqc.numerics.formats import Format
from fpqc.numerics.torch_threads import one_torch_thread

if TYPE_CHECKING:
    from fpqc.numerics.int8_group_sums import Int8Groups


def product_unit(fa: Format, fb: Format) -> np.float32:
    """fa.step * fb.step as float32 (an exact power of two)."""
    unit = fa.step * fb.step
    if not 2.0**-149 <= unit < 2.0**127:
        raise NumericsError(f"the product unit of {fa} x {fb} ({unit!r}) is outside float32")
    return np.float32(unit)


@functools.lru_cache(maxsize=None)
def max_abs_units(fmt: Format) -> int:
    """The largest magnitude of a code of ``fmt`` in its units (NaN and infinity codes count 0)."""
    return int(np.max(np.abs(fmt.units(np.arange(fmt.n_codes)))))


def product_table(fa: Format, fb: Format) -> np.ndarray:
    """int64 [fa.n_codes, fb.n_codes]: exact products in units of ``product_unit``."""
    if max_abs_units(fa) * max_abs_units(fb) >= 2**63:
        raise NumericsError(f"products of {fa} x {fb} do not fit in 64 bits; use narrower formats")
    ua = fa.units(np.arange(fa.n_codes))
    ub = fb.units(np.arange(fb.n_codes))
    return np.multiply.outer(ua, ub)


def accumulator_bits(fa: Format, fb: Format, group_size: int) -> int:
    """Signed bits that hold any exact sum of ``group_size`` products of fa x fb."""
    bound = max_abs_units(fa) * max_abs_units(fb) * int(group_size)
    return bound.bit_length() + 1


def exact_sum_dtype(fa: Format, fb: Format, group_size: int) -> np.dtype:
    """float32 when every exact group sum of ``fa`` x ``fb`` fits its 24 bits, else float64 (NumericsError past 53)."""
    bits = accumulator_bits(fa, fb, group_size)
    if bits > 53:
        raise NumericsError(
            f"exact sums of {group_size} products of {fa} x {fb} need {bits} bits, more than "
            "float64 holds exactly (53); use a smaller group size"
        )
    return np.dtype(np.float32 if bits <= 24 else np.float64)


def _group_count(k: int, group_size: int) -> int:
    """Groups of ``group_size`` along a reduction of ``k``; NumericsError unless they divide it."""
    if group_size <= 0 or k % group_size:
        raise NumericsError(f"group size {group_size} does not divide the reduction size K={k}")
    return k // group_size


def _weight_units(w_codes: np.ndarray, fb: Format, dtype: np.dtype, group_size: int) -> np.ndarray:
    """The exact units ``[G, gs, O]`` of weight codes ``[O, K]``: a view of their units ``[O, K]``."""
    o, k = w_codes.shape
    g = _group_count(k, group_size)
    return fb.units(w_codes, dtype).reshape(o, g, group_size).transpose(1, 2, 0)


def split_groups(x_codes, fa: Format, w_codes, fb: Format, group_size: int):
    """Unit arrays ``[G, T, gs]`` and ``[G, gs, O]`` in the dtype that keeps matmul exact."""
    x_codes, w_codes = np.asarray(x_codes), np.asarray(w_codes)
    if x_codes.ndim != 2 or w_codes.ndim != 2 or x_codes.shape[1] != w_codes.shape[1]:
        raise NumericsError(
            f"qlinear needs activations [T, K] and weights [O, K]; got {x_codes.shape} "
            f"and {w_codes.shape}"
        )
    t, k = x_codes.shape
    dtype = exact_sum_dtype(fa, fb, group_size)
    ua = fa.units(x_codes, dtype).reshape(t, _group_count(k, group_size), group_size).transpose(1, 0, 2)
    return ua, _weight_units(w_codes, fb, dtype, group_size)


def group_partial_sums(x_codes, fa: Format, w_codes, fb: Format, group_size: int) -> np.ndarray:
    """float64 [G, T, O]: exact integer group sums of products, in product units."""
    ua, ub = split_groups(x_codes, fa, w_codes, fb, group_size)
    return np.matmul(ua, ub).astype(np.float64)


def check_group_scales(scales, rows: int, g: int, what: str) -> np.ndarray:
    """``scales`` broadcast to float32 ``[rows, g]`` (coarser groups repeated); NumericsError if they do not fit."""
    s = np.asarray(scales, dtype=np.float32)
    if s.ndim == 1:
        s = s[:, None]
    if s.ndim != 2 or s.shape[0] not in (1, rows) or s.shape[1] == 0 or g % s.shape[1]:
        raise NumericsError(
            f"{what} scales of shape {s.shape} do not fit {rows} rows and {g} groups "
            "(expected [rows, groups] with groups dividing the finest group count)"
        )
    return np.broadcast_to(np.repeat(s, g // s.shape[1], axis=1), (rows, g))


def combine_group(
    acc: np.ndarray, partial: np.ndarray, xs: np.ndarray, ws: np.ndarray, unit: np.float32
) -> np.ndarray:
    """One step of the contract, in place on float32 ``acc``: ``acc + (xs * ws) * (float32(partial) * unit)``."""
    from fpqc.numerics import ordered_loops  # numba: imported by the interpreter, not by a compile

    partial = np.ascontiguousarray(partial)
    if partial.dtype not in (np.float32, np.float64):
        partial = partial.astype(np.float64)
    ordered_loops.combine_group(
        acc, partial, np.ascontiguousarray(xs, np.float32), np.ascontiguousarray(ws, np.float32), np.float32(unit)
    )
    return acc


def group_major_scales(scales, rows: int, g: int, what: str) -> np.ndarray:
    """:func:`check_group_scales` as contiguous float32 ``[g, rows]``: one group's scales side by side."""
    return np.ascontiguousarray(check_group_scales(scales, rows, g, what).T)


def combine_groups(partials, x_scales, w_scales, unit) -> np.ndarray:
    """float32 [T, O] from partial sums [G, T, O] in the contract's order (module docstring)."""
    from fpqc.numerics import ordered_loops  # numba: imported by the interpreter, not by a compile

    partials = np.ascontiguousarray(partials)
    if partials.dtype not in (np.float32, np.float64):
        partials = partials.astype(np.float64)
    g, t, o = partials.shape
    out = np.empty((t, o), dtype=np.float32)
    ordered_loops.combine_groups(out, partials, group_major_scales(x_scales, t, g, "activation"),
                                 group_major_scales(w_scales, o, g, "weight"), np.float32(unit))
    return out


def _compiled_layer():
    """:func:`fpqc.numerics.compiled_qlinear.compiled_qlinear` (it imports numba: the interpreter does, a compile
    does not)."""
    from fpqc.numerics.compiled_qlinear import compiled_qlinear

    return compiled_qlinear()


@dataclass(frozen=True)
class QLinearWeight:
    """A quantized weight as :func:`qlinear_weight` readies it for activations of one format: exact
    units ``[G, gs, O]`` (in :func:`exact_sum_dtype`; a view of the units ``[O, K]``, which BLAS reads
    transposed as they are: a transposed copy would cost more than most products) and float32 scales
    ``[G, O]``.  A large weight is instead read from its ``codes`` (uint8 ``[O, K]``, C order) by the
    compiled layer (:mod:`fpqc.numerics.compiled_qlinear`; ``units`` None).  A layer that runs many times with the same
    weight (a generation's steps) readies it once, and a large one may instead hold its units packed for
    int8 products (:func:`int8_weight`; ``units`` None)."""

    fa: Format
    fb: Format
    group_size: int
    units: np.ndarray | None
    scales: np.ndarray
    packed: Int8Groups | None = None
    codes: np.ndarray | None = None


COMPILED_FROM = 1 << 20
"""Values of a weight from which :func:`qlinear_weight` leaves it to the compiled layer where one is built
and its sums are exact in float32 (VAR-d16's layers: 1.5-2x the BLAS path); a smaller layer's product
costs little next to the interpreter's other work, and a generation keeps its units ready instead."""


def qlinear_weight(fa: Format, w_codes, fb: Format, w_scales, group_size: int) -> QLinearWeight:
    """``w_codes`` [O, K] of ``fb`` and ``w_scales`` ([O, K/gw] or [O]) readied for :func:`qlinear_ready`
    with activations of ``fa`` (``group_size`` the finer of the two sides' groups)."""
    w_codes = np.asarray(w_codes)
    if w_codes.ndim != 2:
        raise NumericsError(f"qlinear needs weights [O, K]; got {w_codes.shape}")
    o, k = w_codes.shape
    dtype = exact_sum_dtype(fa, fb, group_size)
    byte_codes = max(fa.n_codes, fb.n_codes) <= 256
    if w_codes.size >= COMPILED_FROM and byte_codes and dtype == np.float32 and _compiled_layer() is not None:
        scales = group_major_scales(w_scales, o, _group_count(k, group_size), "weight")
        codes = np.ascontiguousarray(fb.checked_codes(w_codes), dtype=np.uint8)
        return QLinearWeight(fa, fb, group_size, None, scales, codes=codes)
    units = _weight_units(w_codes, fb, dtype, group_size)
    g, _, o = units.shape
    return QLinearWeight(fa, fb, group_size, units, group_major_scales(w_scales, o, g, "weight"))


def int8_weight(weight: QLinearWeight) -> QLinearWeight | None:
    """``weight`` with its units packed for int8 products (:mod:`fpqc.numerics.int8_group_sums`: the same
    bits, four times float32 BLAS on VAR-d16's layers, a byte a weight), or None where they would not be
    exact."""
    from fpqc.numerics.int8_group_sums import int8_exact, pack_groups

    if weight.packed is not None or not int8_exact(weight.fa, weight.fb, weight.group_size):
        return None
    units = weight.units
    if units is None:  # read from its codes by the compiled layer
        units = _weight_units(weight.codes, weight.fb, np.float32, weight.group_size)
    return QLinearWeight(weight.fa, weight.fb, weight.group_size, None, weight.scales, pack_groups(units))


BATCHED_PRODUCTS = 1 << 21
"""Group sums (G·T·O) up to which :func:`qlinear` multiplies every group at once (8 MB of float32):
a small layer's time goes to per-group calls, a large one's memory would grow with its groups."""


def qlinear(x_codes, fa: Format, x_scales, w_codes, fb: Format, w_scales, group_size: int,
            bias=None) -> np.ndarray:
    """float32 [T, O] = x @ w.T of quantized x [T, K] and w [O, K], bit-exact per the contract.

    ``x_scales`` is [T, K/gx] and ``w_scales`` [O, K/gw] (a [T] or [O] vector is
    one scale per row; a leading 1 broadcasts); ``group_size`` is the finer of
    gx and gw.  Groups are multiplied one at a time, so memory stays O(T*O), unless all their
    sums together are small (:data:`BATCHED_PRODUCTS`); the result is the same.
    """
    return qlinear_ready(x_codes, x_scales, qlinear_weight(fa, w_codes, fb, w_scales, group_size), bias)


def qlinear_ready(x_codes, x_scales, weight: QLinearWeight, bias=None) -> np.ndarray:
    """:func:`qlinear` of activations ``x_codes`` [T, K] of ``weight.fa`` with a weight readied by
    :func:`qlinear_weight`."""
    from fpqc.numerics import ordered_loops  # numba: imported by the interpreter, not by a compile

    x_codes = np.asarray(x_codes)
    (g, o), gs = weight.scales.shape, weight.group_size
    if x_codes.ndim != 2 or x_codes.shape[1] != g * gs:
        raise NumericsError(
            f"qlinear needs activations [T, K] and weights [O, K]; got {x_codes.shape} and {(o, g * gs)}"
        )
    t = x_codes.shape[0]
    xs, ws = group_major_scales(x_scales, t, g, "activation"), weight.scales
    unit = product_unit(weight.fa, weight.fb)
    bias = None if bias is None else np.ascontiguousarray(np.broadcast_to(np.asarray(bias, np.float32), (o,)))
    if weight.packed is not None:  # int8 products, group by group
        ua = np.ascontiguousarray(weight.fa.units(x_codes, np.int8).reshape(t, g, gs).transpose(1, 0, 2))
        with one_torch_thread():  # torch's spinning workers would take the combining loop's cores
            return _group_by_group(lambda i: weight.packed.group_sums(ua[i], i), (t, o), xs, ws, unit, bias)
    if weight.codes is not None:  # the compiled layer, from the codes
        x_codes = np.ascontiguousarray(weight.fa.checked_codes(x_codes), dtype=np.uint8)
        return _compiled_layer().layer(x_codes, weight.fa, xs, weight.codes, weight.fb, ws, unit, bias, gs)
    ua = weight.fa.units(x_codes, weight.units.dtype).reshape(t, g, gs).transpose(1, 0, 2)
    if g * t * o <= BATCHED_PRODUCTS:  # every group's sums at once, combined in one pass with the bias
        acc = np.empty((t, o), dtype=np.float32)
        ordered_loops.combine_groups(acc, np.matmul(ua, weight.units), xs, ws, unit, bias)
        return acc
    partial = np.empty((t, o), dtype=ua.dtype)  # one buffer for every group: a fresh one each costs page faults
    return _group_by_group(lambda i: np.matmul(ua[i], weight.units[i], out=partial), (t, o), xs, ws, unit, bias)


def _group_by_group(sums_of: Callable[[int], np.ndarray], shape: tuple[int, int], xs: np.ndarray, ws: np.ndarray,
                    unit: np.float32, bias: np.ndarray | None) -> np.ndarray:
    """float32 ``shape`` [T, O]: the contract's combination of the groups, whose exact sums [T, O] ``sums_of(i)``
    makes one group at a time (int8 products, or a layer too large for all of them at once), then ``+ bias``."""
    from fpqc.numerics import ordered_loops

    acc = np.zeros(shape, dtype=np.float32)
    for i in range(xs.shape[0]):
        ordered_loops.combine_group(acc, sums_of(i), xs[i], ws[i], unit)
    if bias is not None:
        np.add(acc, bias, out=acc)
    return acc
