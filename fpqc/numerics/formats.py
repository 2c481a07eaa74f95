"""Low-bit number formats: what every code of every fpqc format means.

A :class:`Format` is either a minifloat ``ExMy`` with an exponent bias, or a
two's-complement integer.  Codes are held one per ``uint8``.

Float formats (``kind="float"``)
--------------------------------
Bit layout of a code (OCP order, low ``1 + E + M`` bits of the byte)::

    sign (1 bit) | exponent e (E bits) | mantissa m (M bits)

Value, with ``bias`` B:

* ``e == 0``:  ``(-1)^sign * 2^(1-B) * m / 2^M``          (subnormals, and +-0)
* ``e >= 1``:  ``(-1)^sign * 2^(e-B) * (1 + m / 2^M)``

``specials`` says which codes are not finite:

* ``"none"``  every code is finite (OCP E2M1, E2M3, E3M2; fpqc's E1M2);
* ``"fn"``    only ``S.1..1.1..1`` (all exponent and mantissa bits set) is NaN,
  there is no infinity (OCP E4M3 = ``float8_e4m3fn``);
* ``"ieee"``  exponent all ones: mantissa 0 is +-inf, anything else NaN
  (E5M2).  With M = 0 there is no NaN code.

Defaults: bias ``2^(E-1) - 1`` except E = 1, whose bias is 1 (so ``e1m2`` is the
uniform grid 0, 0.25, ..., 1.75).  Specials ``ieee`` for E >= 5, ``fn`` for
E = 4, ``none`` below.  Decoding NaN codes gives a float32 quiet NaN with the
code's sign (bits ``0x7fc00000 | sign << 31``).

Integer formats (``kind="int"``)
--------------------------------
``intN`` (N = 2..8): two's complement in the low N bits of the byte, values
``-2^(N-1) .. 2^(N-1)-1``; one zero code (0); no NaN.

Names (``Format.parse`` / ``Format.name``)
------------------------------------------
``e{E}m{M}[b{B}][fn|ieee|finite]`` with E in 1..7, M in 0..6, 1 + E + M <= 8,
``int{N}``, and the presets ``fp4`` = e2m1, ``fp6`` = e2m3, ``fp8`` = e4m3.
``e4m3fn`` is accepted and equals ``e4m3``.  The canonical name omits the bias
and the specials suffix when they are the defaults, so ``parse(fmt.name) ==
fmt`` for every format.

Encoding
--------
``encode`` converts its input to float32 first, then runs the LUT quantizer of
``fpqc.numerics.rounding`` (round to nearest, ties per the rounding mode,
saturating to +-max_value; NaN -> ``nan_code``, which is 0 for formats without
NaN).  ``saturate=False`` exists for oracle tests against ``ml_dtypes``: inputs
that round beyond ``max_value`` (the rounding boundary is the midpoint to the
next value the exponent range would have, ``max_value + ulp(max_value)``, with
the tie rule of the rounding mode) become +-inf for ``ieee`` formats and the
signed NaN code for ``fn`` formats; ``none`` formats and integers still
saturate.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import numpy as np

from fpqc.numerics.errors import NumericsError
from fpqc.numerics.rounding import QuantizerSide, QuantizerTable, check_rounding, tie_goes_up

SPECIALS = ("none", "fn", "ieee")
_SPECIAL_SUFFIX = {"none": "finite", "fn": "fn", "ieee": "ieee"}
_COMPILED_LOOKUP_FROM = 1 << 16  # codes from which ``units`` uses the compiled, parallel lookup
_PRESETS = {"fp4": "e2m1", "fp6": "e2m3", "fp8": "e4m3"}
_NAME_RE = re.compile(r"e(\d+)m(\d+)(?:b(-?\d+))?(fn|ieee|finite)?")
_VALID_EXAMPLES = (
    "valid formats: e2m1 (fp4), e2m3 (fp6), e3m2, e4m3 (fp8, = e4m3fn), e5m2, e1m2, "
    "e3m4b5 (explicit bias), e2m1fn / e4m3ieee / e4m3finite (specials), int4, int6, int8 "
    "-- E in 1..7, M in 0..6, 1+E+M <= 8 bits"
)


def _default_bias(e_bits: int) -> int:
    return 1 if e_bits == 1 else 2 ** (e_bits - 1) - 1


def _default_specials(e_bits: int) -> str:
    return "ieee" if e_bits >= 5 else "fn" if e_bits == 4 else "none"


@dataclass(frozen=True)
class Format:
    """A low-bit number format (see the module docstring for the full contract).

    Construct with ``Format.parse("e2m1")``, ``Format(kind="float",
    exponent_bits=2, mantissa_bits=1)`` (bias, specials and bits default), or
    ``Format(kind="int", bits=4)``.
    """

    kind: str = "float"
    exponent_bits: int = 0
    mantissa_bits: int = 0
    bias: int | None = None
    specials: str | None = None
    bits: int | None = None

    def __post_init__(self):
        def fail(why):
            raise NumericsError(f"invalid format ({why}); {_VALID_EXAMPLES}")

        if self.kind == "int":
            if self.bits is None or not 2 <= self.bits <= 8:
                fail(f"int formats have 2..8 bits, got {self.bits}")
            for name, val, default in (("exponent_bits", self.exponent_bits, 0),
                                       ("mantissa_bits", self.mantissa_bits, 0),
                                       ("bias", self.bias, 0), ("specials", self.specials, "none")):
                if val is None:
                    object.__setattr__(self, name, default)
                elif val != default:
                    fail(f"int formats have {name}={default!r}, got {val!r}")
            return
        if self.kind != "float":
            fail(f"kind must be 'float' or 'int', got {self.kind!r}")
        e, m = self.exponent_bits, self.mantissa_bits
        if not 1 <= e <= 7 or not 0 <= m <= 6 or 1 + e + m > 8:
            fail(f"e{e}m{m} needs E in 1..7, M in 0..6 and 1+E+M <= 8")
        if self.bias is None:
            object.__setattr__(self, "bias", _default_bias(e))
        if self.specials is None:
            object.__setattr__(self, "specials", _default_specials(e))
        if self.specials not in SPECIALS:
            fail(f"specials must be one of {SPECIALS}, got {self.specials!r}")
        if self.bits is None:
            object.__setattr__(self, "bits", 1 + e + m)
        elif self.bits != 1 + e + m:
            fail(f"e{e}m{m} has {1 + e + m} bits, got bits={self.bits}")
        if self.specials == "ieee" and e == 1 and m == 0:
            fail("e1m0 with ieee specials has no nonzero finite value")
        vals = _decode_table(self)
        finite = vals[np.isfinite(vals)]
        if (not np.all(finite.astype(np.float32).astype(np.float64) == finite)
                or finite.max() <= 0 or self.step < 2.0**-148 or finite.max() >= 2.0**127):
            fail(f"bias {self.bias} puts the grid of e{e}m{m} outside float32")

    # ------------------------------------------------------------------ names
    @classmethod
    @functools.lru_cache(maxsize=None)
    def parse(cls, name: str) -> "Format":
        """The format named ``name`` (see module docstring); NumericsError if invalid.

        Cached: the IR's types name their format, and printing or verifying them parses it.
        """
        text = str(name).strip().lower()
        text = _PRESETS.get(text, text)
        if text.startswith("int"):
            if text[3:].isdigit():
                return cls(kind="int", bits=int(text[3:]))
        else:
            match = _NAME_RE.fullmatch(text)
            if match:
                e, m = int(match[1]), int(match[2])
                bias = int(match[3]) if match[3] is not None else None
                suffix = {v: k for k, v in _SPECIAL_SUFFIX.items()}.get(match[4])
                return cls(kind="float", exponent_bits=e, mantissa_bits=m, bias=bias,
                           specials=suffix)
        raise NumericsError(f"unknown number format {name!r}; {_VALID_EXAMPLES}")

    @property
    def name(self) -> str:
        """Canonical name: defaults for bias and specials are omitted."""
        if self.kind == "int":
            return f"int{self.bits}"
        e, m = self.exponent_bits, self.mantissa_bits
        text = f"e{e}m{m}"
        if self.bias != _default_bias(e):
            text += f"b{self.bias}"
        if self.specials != _default_specials(e):
            text += _SPECIAL_SUFFIX[self.specials]
        return text

    def __str__(self) -> str:
        return self.name

    # ------------------------------------------------------------- properties
    @property
    def n_codes(self) -> int:
        return 1 << self.bits

    @property
    def has_nan(self) -> bool:
        return self.specials == "fn" or (self.specials == "ieee" and self.mantissa_bits > 0)

    @property
    def has_inf(self) -> bool:
        return self.specials == "ieee"

    @property
    def nan_code(self) -> int:
        """Canonical (positive, quiet) NaN code; 0 (the code of +0) without NaN."""
        e, m = self.exponent_bits, self.mantissa_bits
        if self.specials == "fn":
            return (1 << (e + m)) - 1
        if self.has_nan:
            return (((1 << e) - 1) << m) | (1 << (m - 1))
        return 0

    @property
    def sign_bit(self) -> int:
        """Mask of the sign bit within a code."""
        return 1 << (self.bits - 1)

    @property
    def max_value(self) -> float:
        """Largest finite value."""
        return float(np.max(self.values()))

    @property
    def step(self) -> float:
        """Spacing of the finest grid: 2^(1-bias-M) for floats, 1 for ints."""
        if self.kind == "int":
            return 1.0
        return 2.0 ** (1 - self.bias - self.mantissa_bits)

    def decode_table(self) -> np.ndarray:
        """float32 value of every code (read-only, length ``n_codes``)."""
        return _decode_table_f32(self)

    def values(self) -> np.ndarray:
        """Sorted distinct finite values as float32 (zero once)."""
        return _values(self)

    # ------------------------------------------------------- encode / decode
    def decode(self, codes) -> np.ndarray:
        """float32 values of ``codes`` (integers in ``0 .. n_codes - 1``; NumericsError otherwise)."""
        return self.decode_table()[self.checked_codes(codes)]

    def units(self, codes, dtype=np.int64) -> np.ndarray:
        """Exact integer ``value / step`` of ``codes`` as ``dtype`` (default int64; NaN/inf codes -> 0)."""
        table, codes = _units_table(self, np.dtype(dtype)), self.checked_codes(codes)
        if codes.size < _COMPILED_LOOKUP_FROM:
            return table[codes]
        from fpqc.numerics import ordered_loops  # numba: only for the interpreter's large arrays

        return ordered_loops.lookup(table, codes)

    def checked_codes(self, codes) -> np.ndarray:
        """``codes`` as an index array, refusing a code this format does not have (e.g. 16 for a 4-bit format)."""
        c = np.asarray(codes)
        if c.size and (int(c.max()) >= self.n_codes or (c.dtype.kind != "u" and int(c.min()) < 0)):
            bad = int(c.max()) if int(c.max()) >= self.n_codes else int(c.min())
            raise NumericsError(
                f"code {bad} is not a code of {self.name}, which has {self.n_codes} (0..{self.n_codes - 1}); "
                "the constant was not encoded in this format"
            )
        return c if c.dtype.kind in "ui" else c.astype(np.intp)

    def quantizer_table(self, rounding: str = "rne") -> QuantizerTable:
        """The LUT quantizer (``fpqc.numerics.rounding``) for this format and mode."""
        return _quantizer_table(self, check_rounding(rounding))

    def encode(self, x, rounding: str = "rne", saturate: bool = True) -> np.ndarray:
        """uint8 codes of ``float32(x)`` (see module docstring)."""
        v = np.asarray(x, dtype=np.float32)
        codes = self.quantizer_table(rounding).encode(v)
        if saturate or self.kind == "int" or self.specials == "none":
            return codes
        top = self.max_value
        ulp = 2.0 ** (int(np.floor(np.log2(top))) - self.mantissa_bits)
        edge = np.float32(top + ulp / 2)
        a = np.abs(v)
        tie_pos = tie_goes_up(top, top + ulp, rounding, negative_side=False)
        tie_neg = tie_goes_up(top, top + ulp, rounding, negative_side=True)
        tie = np.where(np.signbit(v), tie_neg, tie_pos)
        over = (a > edge) | ((a == edge) & tie)
        inf_code = ((1 << self.exponent_bits) - 1) << self.mantissa_bits
        big = inf_code if self.specials == "ieee" else self.nan_code
        return np.where(over, (np.signbit(v) * self.sign_bit | big).astype(np.uint8), codes)


# ---------------------------------------------------------------- tables
@functools.lru_cache(maxsize=None)
def _decode_table(fmt: Format) -> np.ndarray:
    """float64 value of every code (NaN for NaN codes, +-inf for inf codes)."""
    if fmt.kind == "int":
        c = np.arange(fmt.n_codes, dtype=np.int64)
        return np.where(c >= fmt.n_codes // 2, c - fmt.n_codes, c).astype(np.float64)
    e_bits, m_bits, bias = fmt.exponent_bits, fmt.mantissa_bits, fmt.bias
    out = np.empty(fmt.n_codes, dtype=np.float64)
    e_all, m_all = (1 << e_bits) - 1, (1 << m_bits) - 1
    for code in range(fmt.n_codes):
        sign = -1.0 if code >> (e_bits + m_bits) else 1.0
        e = (code >> m_bits) & e_all
        m = code & m_all
        if fmt.specials == "fn" and e == e_all and m == m_all:
            out[code] = np.nan
        elif fmt.specials == "ieee" and e == e_all:
            out[code] = sign * np.inf if m == 0 else np.nan
        elif e == 0:
            out[code] = sign * 2.0 ** (1 - bias) * (m / 2.0**m_bits)
        else:
            out[code] = sign * 2.0 ** (e - bias) * (1 + m / 2.0**m_bits)
    return out


@functools.lru_cache(maxsize=None)
def _decode_table_f32(fmt: Format) -> np.ndarray:
    vals = _decode_table(fmt).astype(np.float32)
    bits = vals.view(np.uint32)
    nan = np.isnan(vals)
    sign = (np.arange(fmt.n_codes) & fmt.sign_bit) != 0
    bits[nan] = np.uint32(0x7FC00000) | (sign[nan].astype(np.uint32) << np.uint32(31))
    vals.setflags(write=False)
    return vals


@functools.lru_cache(maxsize=None)
def _values(fmt: Format) -> np.ndarray:
    v = _decode_table(fmt)
    out = np.unique(v[np.isfinite(v)] + 0.0).astype(np.float32)  # -0 + 0 = +0: one zero
    out.setflags(write=False)
    return out


@functools.lru_cache(maxsize=None)
def _units_table(fmt: Format, dtype: np.dtype) -> np.ndarray:
    v = _decode_table(fmt)
    u = np.where(np.isfinite(v), v, 0.0) / fmt.step
    assert np.all(u == np.round(u)) and np.all(u.astype(dtype) == u), "units exact in the dtype"
    out = u.astype(dtype)
    out.setflags(write=False)
    return out


@functools.lru_cache(maxsize=None)
def _quantizer_table(fmt: Format, rounding: str) -> QuantizerTable:
    vals = _decode_table(fmt)
    codes = np.arange(fmt.n_codes)
    if fmt.kind == "int":
        half = fmt.n_codes // 2
        pos_mags = np.arange(half)
        neg_mags = np.arange(half + 1)
        pos_codes = pos_mags
        neg_codes = (-neg_mags) & (fmt.n_codes - 1)
    else:
        finite_pos = (codes < fmt.sign_bit) & np.isfinite(vals)
        order = np.argsort(vals[finite_pos], kind="stable")
        pos_codes = codes[finite_pos][order]
        pos_mags = vals[pos_codes]
        neg_mags, neg_codes = pos_mags, pos_codes | fmt.sign_bit
    neg = QuantizerSide.build(neg_mags, neg_codes, rounding, True, fmt.name)
    pos = QuantizerSide.build(pos_mags, pos_codes, rounding, False, fmt.name)
    return QuantizerTable(fmt.name, rounding, neg, pos, fmt.nan_code)
