"""Dual-format quantization (FPQVAR's DFQ): negatives and positives on two grids.

An activation whose values are mostly small negatives with a few large
positives (the GELU output feeding ``fc2``) is split by sign.  Negative
elements are quantized with the *negative format* and their own scale,
non-negative elements with the *positive format* and theirs.

Formats (:class:`DualFormat`)
-----------------------------
``DualFormat(neg, pos)`` holds two ordinary :class:`~fpqc.numerics.Format`
objects.  Only the negative side of ``neg``'s grid and the positive side of
``pos``'s grid are ever produced.  Names (``DualFormat.parse`` / ``.name``) are
``"<neg>/<pos>"`` plus three presets:

* ``dfq-w4a4`` = ``e1m2/e2m1``: negatives on {0, -0.25, ..., -1.75}, positives
  on E2M1 {0, 0.5, 1, 1.5, 2, 3, 4, 6};
* ``dfq-w6a6`` = ``int6/e2m3``: negatives on the integer grid {-32, ..., -1, 0}
  (the negative side of ``int6``, magnitudes 0..32), positives on E2M3 (max 7.5);
* ``mixedformat`` = ``e2m1/e2m1``: E2M1 on both sides with separate scales.

The *side maximum* is the largest magnitude a side can produce: ``neg_max`` is
the largest magnitude of ``neg``'s negative values (1.75 for e1m2, 32 for int6,
6 for e2m1), ``pos_max`` is ``pos.max_value``.

Which side an element goes to
-----------------------------
An element goes to the negative side iff its float32 sign bit is set (so -0.0
is negative, as in the LUT quantizer); everything else, +0.0 included, goes to
the positive side.  NaN goes by its sign bit too (and meets a NaN scale).

Scales (``compute_dual_scales``)
--------------------------------
Groups are ``group_size`` consecutive elements of the last axis
(``group_size=None``: the whole axis, i.e. per token), as in
``fpqc.numerics.scales``.  Per group, in float32::

    neg_absmax = max |x| over the negative-side elements (0 if none)
    pos_absmax = max |x| over the positive-side elements (0 if none)
    s_neg = neg_absmax / float32(neg_max)        # one float32 division
    s_pos = pos_absmax / float32(pos_max)

A side whose absmax is 0 (no element, or only zeros) gets scale 1.0.  A group
holding NaN or +-inf gets NaN for *both* scales.  Scale arrays have ``x``'s
shape with the last axis replaced by the number of groups.

Codes: two planes (``dual_quantize``)
-------------------------------------
The result is two uint8 code planes of ``x``'s shape, each in the ordinary
code layout of its format::

    negative-side element:  neg_code = neg.encode(x / s_neg),  pos_code = 0
    positive-side element:  neg_code = 0,                      pos_code = pos.encode(x / s_pos)

(one float32 division, then the LUT quantizer of ``fpqc.numerics.rounding``
with the given rounding mode).  Code 0 is +0 in every fpqc format, so each
element has at most one nonzero plane (a negative element that rounds to zero
keeps its format's -0 code, as the LUT quantizer gives it).  Two planes keep the LUT multiplier
simple: each plane meets the weights through the ordinary product ROM of
``product_table(neg, w_fmt)`` / ``product_table(pos, w_fmt)``, and a zero code
contributes an exact 0.  (Storage may pack the two planes as one code plus a
side bit; that is a layout choice, not a change of values.)

``dual_dequantize``: ``decode(neg_code) * s_neg + decode(pos_code) * s_pos`` in
float32; exact, since one of the two terms is a zero.

Dual linear layer (``dual_qlinear``): the combination order
-----------------------------------------------------------
This extends the contract of ``fpqc.numerics.products``.  For rows ``t``,
outputs ``o`` and groups ``g`` (the finer of the activation and weight scale
groupings), with exact integer group sums ``Pn[g, t, o]`` (negative plane
times weights, in units ``un = product_unit(neg, w_fmt)``) and ``Pp[g, t, o]``
(positive plane, units ``up = product_unit(pos, w_fmt)``), every operation in
float32 without fused multiply-add::

    acc = +0.0f
    for g in 0 .. G-1:                                 # ascending
        acc = acc + (s_neg[t, g] * ws[o, g]) * (float32(Pn[g, t, o]) * un)
        acc = acc + (s_pos[t, g] * ws[o, g]) * (float32(Pp[g, t, o]) * up)
    y = acc + bias[o]                                  # only when there is a bias

i.e. per group the negative side's term is added first, then the positive
side's, each step exactly one step of ``products.qlinear``'s loop.  The
integer sums are exact (BLAS on exactly representable values, as
``group_partial_sums``).

C++ twin: ``fpqc/backends/hls/include/fpqc_fpqvar.h`` with the tables of
``emit_dual_tables`` / ``emit_dual_product_tables``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fpqc.numerics.errors import NumericsError
from fpqc.numerics.c_arrays import c_float, emit_product_table, emit_quantizer_tables
from fpqc.numerics.formats import Format
from fpqc.numerics.products import combine_group, group_major_scales, product_unit, split_groups
from fpqc.numerics.scales import expand_scales, group_view

PRESETS = {"dfq-w4a4": "e1m2/e2m1", "dfq-w6a6": "int6/e2m3", "mixedformat": "e2m1/e2m1"}


@dataclass(frozen=True)
class DualFormat:
    """A negative-side format and a positive-side format (module docstring)."""

    neg: Format
    pos: Format

    @classmethod
    def parse(cls, name: str) -> "DualFormat":
        """``"<neg>/<pos>"`` or a preset name; NumericsError if invalid."""
        text = PRESETS.get(str(name).strip().lower(), str(name).strip().lower())
        parts = text.split("/")
        if len(parts) != 2:
            raise NumericsError(
                f"unknown dual format {name!r}; write '<neg format>/<pos format>' (e.g. "
                f"'e1m2/e2m1') or a preset: {', '.join(PRESETS)}"
            )
        return cls(Format.parse(parts[0]), Format.parse(parts[1]))

    @property
    def name(self) -> str:
        """Canonical ``"<neg>/<pos>"`` name (``parse(name) == self``)."""
        return f"{self.neg.name}/{self.pos.name}"

    def __str__(self) -> str:
        return self.name

    @property
    def neg_max(self) -> float:
        """Largest magnitude of the negative format's negative values."""
        return float(self.neg.quantizer_table().neg.magnitudes[-1])

    @property
    def pos_max(self) -> float:
        """Largest positive value of the positive format."""
        return self.pos.max_value


def _check_groups(x: np.ndarray, group_size: int | None) -> np.ndarray:
    if x.ndim == 0:
        raise NumericsError(
            "dual-format quantization needs at least one axis (groups run along the last)")
    return group_view(x, -1, group_size)


def compute_dual_scales(x, dual: DualFormat, group_size: int | None = None):
    """float32 ``(s_neg, s_pos)``, one per group of the last axis (module docstring)."""
    x = np.asarray(x, dtype=np.float32)
    groups = _check_groups(x, group_size)
    a = np.abs(groups)
    neg = np.signbit(groups)
    zero = np.float32(0)
    neg_absmax = np.max(np.where(neg, a, zero), axis=-1)
    pos_absmax = np.max(np.where(neg, zero, a), axis=-1)
    broken = ~np.all(np.isfinite(groups), axis=-1)
    out = []
    for absmax, top in ((neg_absmax, dual.neg_max), (pos_absmax, dual.pos_max)):
        s = absmax / np.float32(top)
        s = np.where(absmax == 0, np.float32(1), s)
        s = np.where(broken, np.float32(np.nan), s)
        out.append(np.ascontiguousarray(s, dtype=np.float32))
    return out[0], out[1]


def dual_quantize(x, dual: DualFormat, s_neg, s_pos, group_size: int | None = None,
                  rounding: str = "rne"):
    """uint8 ``(neg_codes, pos_codes)`` of ``x`` (module docstring: two planes)."""
    x = np.asarray(x, dtype=np.float32)
    _check_groups(x, group_size)
    sn = expand_scales(s_neg, x.shape, -1, group_size)
    sp = expand_scales(s_pos, x.shape, -1, group_size)
    neg = np.signbit(x)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        neg_codes = np.where(neg, dual.neg.encode(x / sn, rounding=rounding), 0)
        pos_codes = np.where(neg, 0, dual.pos.encode(x / sp, rounding=rounding))
    return neg_codes.astype(np.uint8), pos_codes.astype(np.uint8)


def dual_dequantize(neg_codes, pos_codes, dual: DualFormat, s_neg, s_pos,
                    group_size: int | None = None) -> np.ndarray:
    """float32 ``decode(neg_code) * s_neg + decode(pos_code) * s_pos``."""
    neg_codes, pos_codes = np.asarray(neg_codes), np.asarray(pos_codes)
    if neg_codes.shape != pos_codes.shape:
        raise NumericsError(
            f"dual-format code planes differ in shape: {neg_codes.shape} vs {pos_codes.shape}")
    sn = expand_scales(s_neg, neg_codes.shape, -1, group_size)
    sp = expand_scales(s_pos, pos_codes.shape, -1, group_size)
    return dual.neg.decode(neg_codes) * sn + dual.pos.decode(pos_codes) * sp


def dual_qlinear(neg_codes, pos_codes, dual: DualFormat, s_neg, s_pos, w_codes, w_fmt: Format,
                 w_scales, group_size: int, bias=None) -> np.ndarray:
    """float32 [T, O] = x @ w.T for a dual-format x [T, K], bit-exact per the contract.

    ``s_neg`` / ``s_pos`` are [T, K/gx] (or [T]: per token), ``w_scales``
    [O, K/gw] (or [O]); ``group_size`` is the finer of gx and gw.
    """
    un, wn = split_groups(neg_codes, dual.neg, w_codes, w_fmt, group_size)
    up, wp = split_groups(pos_codes, dual.pos, w_codes, w_fmt, group_size)
    g, t, o = un.shape[0], un.shape[1], wn.shape[2]
    sn = group_major_scales(s_neg, t, g, "negative-side activation")
    sp = group_major_scales(s_pos, t, g, "positive-side activation")
    ws = group_major_scales(w_scales, o, g, "weight")
    unit_n, unit_p = product_unit(dual.neg, w_fmt), product_unit(dual.pos, w_fmt)
    acc = np.zeros((t, o), dtype=np.float32)
    partial_n, partial_p = np.empty((t, o), dtype=un.dtype), np.empty((t, o), dtype=up.dtype)  # reused (qlinear)
    for i in range(g):
        acc = combine_group(acc, np.matmul(un[i], wn[i], out=partial_n), sn[i], ws[i], unit_n)
        acc = combine_group(acc, np.matmul(up[i], wp[i], out=partial_p), sp[i], ws[i], unit_p)
    if bias is not None:
        np.add(acc, np.asarray(bias, dtype=np.float32), out=acc)
    return acc


def emit_dual_tables(dual: DualFormat, rounding: str, prefix: str) -> str:
    """C++ quantizer tables and ``static const fpqc::DualQuantizer {prefix}``.

    The LUT tables of both formats are emitted with ``emit_quantizer_tables``
    (prefixes ``{prefix}_nf`` and ``{prefix}_pf``); the DualQuantizer uses the
    negative side of the first and the positive side of the second, plus the
    side maxima as float32 literals.  Needs ``fpqc_fpqvar.h`` included first.
    """
    return (
        f"// fpqc dual-format quantizer: {dual.name}, rounding {rounding}\n"
        + emit_quantizer_tables(dual.neg, rounding, f"{prefix}_nf")
        + emit_quantizer_tables(dual.pos, rounding, f"{prefix}_pf")
        + f"static const fpqc::DualQuantizer {prefix} = {{{prefix}_nf_neg, {prefix}_nf_nan_code, "
        f"{c_float(dual.neg_max)}, {prefix}_pf_pos, {prefix}_pf_nan_code, "
        f"{c_float(dual.pos_max)}}};\n"
    )


def emit_dual_product_tables(dual: DualFormat, w_fmt: Format, prefix: str) -> str:
    """The two product ROMs: ``{prefix}_n_prod`` / ``{prefix}_n_unit`` (negative
    format x ``w_fmt``) and ``{prefix}_p_prod`` / ``{prefix}_p_unit`` (positive)."""
    return (emit_product_table(dual.neg, w_fmt, f"{prefix}_n")
            + emit_product_table(dual.pos, w_fmt, f"{prefix}_p"))
