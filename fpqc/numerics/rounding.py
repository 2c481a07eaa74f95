"""Rounding modes and the LUT quantizer: how a float32 becomes a low-bit code.

This is the single encoding algorithm of fpqc.  The Python encoder, the
interpreter and the FPGA's LUT quantizer (``encode_lut`` in
``backends/hls/include/fpqc_numerics.h``) all run exactly this procedure on
exactly these tables, so they agree bit for bit by construction.

Tables
------
A :class:`QuantizerTable` holds, for each sign side (``neg`` for inputs whose
sign bit is set, ``pos`` otherwise), a :class:`QuantizerSide`:

``magnitudes``  the distinct finite magnitudes the side can produce, ascending,
                starting with 0 (float64, for reference only);
``thresholds``  ``n`` float32 values, ``thresholds[i] = (mag[i] + mag[i+1]) / 2``
                -- the decision boundary between magnitude ``i`` and ``i+1``.
                Every threshold is exactly representable in float32 (checked
                when the table is built);
``tie_up``      ``n`` flags: an input exactly on ``thresholds[i]`` goes to the
                upper magnitude ``i+1`` when set, to ``i`` otherwise;
``codes``       ``n + 1`` uint8 codes, ``codes[i]`` encodes ``±magnitudes[i]``.

Algorithm (``encode``)
----------------------
For a float32 input ``v``::

    if v is NaN:            return nan_code
    side = neg if signbit(v) else pos          # -0.0 uses the neg side
    a    = |v|                                 # exact: clears the sign bit
    mag  = count(side.thresholds < a)          # 0 .. n
    if mag < n and a == side.thresholds[mag] and side.tie_up[mag]:
        mag += 1
    return side.codes[mag]

Fast form of the same algorithm (``QuantizerTable.encode``): every threshold
has few significant bits, so it is the first value of an interval of float32
bit patterns that share their sign, exponent and top mantissa bits (a *key*);
every other value of an interval lies strictly between two thresholds.  The
code of ``v`` is therefore ``table[2·key + (v is not its interval's first
value)]``, where the table holds, for every key, the codes the algorithm above
gives the interval's first and second values.  The table is built by running
the algorithm itself, so both forms agree on every float32 by construction.

Saturation falls out of the algorithm: anything above the last threshold
(including +-inf) gets the largest magnitude.  Negative inputs that round to
zero keep the sign bit (code of -0), as ``ml_dtypes`` casts do; integer formats
have a single zero code, so both sides map zero to code 0.  ``nan_code`` is the
format's canonical NaN, or 0 (the code of +0) for formats without NaN.

Rounding modes (``ROUNDING_MODES``) only change the ``tie_up`` flags:

``"rne"``        round to nearest, ties to even (default).  "Even" is decided
                 on the value grid: for a tie between neighbours ``lo < hi``
                 with spacing ``d = hi - lo``, ``lo`` wins when ``lo / d`` is an
                 even integer, otherwise ``hi``.  For float formats with M >= 1
                 this is "the code whose mantissa LSB is 0 wins"; at a binade
                 boundary the power of two wins; for M = 0 formats it is the
                 larger power of two (as the QONNX FloatQuant formula rounds);
                 ties between 0 and the smallest magnitude go to 0.
``"ties-up"``    ties go to the larger grid *value* (toward +inf), as FPQVAR's
                 reference code does: on the positive side ties go to the
                 larger magnitude, on the negative side to the smaller one
                 (e2m1: 2.5 -> 3, -2.5 -> -2, 0.25 -> 0.5, -0.25 -> -0 code).
``"ties-away"``  ties go away from zero (larger magnitude on both sides).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fpqc.numerics.errors import NumericsError

ROUNDING_MODES = ("rne", "ties-up", "ties-away")

_CHUNK = 1 << 16
"""Values encoded at a time: the temporaries of one chunk stay in the CPU caches."""

_COMPILED_ENCODE_FROM = 1 << 19
"""Values from which encode runs the compiled, parallel loop (unless given a ``chunk``: a compile's
weights are encoded in numpy, without starting numba)."""


def check_rounding(rounding: str) -> str:
    """Return ``rounding`` if it names a rounding mode, else raise NumericsError."""
    if rounding not in ROUNDING_MODES:
        raise NumericsError(
            f"unknown rounding mode {rounding!r}; valid modes: {', '.join(ROUNDING_MODES)}"
        )
    return rounding


def tie_goes_up(lo: float, hi: float, rounding: str, negative_side: bool) -> bool:
    """Whether an input exactly halfway between magnitudes ``lo < hi`` gets ``hi``."""
    if rounding == "ties-away":
        return True
    if rounding == "ties-up":
        return not negative_side
    ratio = lo / (hi - lo)  # an integer for every grid fpqc supports
    assert ratio == int(ratio), (lo, hi)
    return int(ratio) % 2 == 1


@dataclass(frozen=True, eq=False)
class QuantizerSide:
    """Decision table for one sign side of a quantizer (see module docstring)."""

    magnitudes: np.ndarray  # float64 [n + 1]
    thresholds: np.ndarray  # float32 [n]
    tie_up: np.ndarray  # uint8 [n]
    codes: np.ndarray  # uint8 [n + 1]

    @property
    def n_thresholds(self) -> int:
        return len(self.thresholds)

    @classmethod
    def build(cls, magnitudes, codes, rounding: str, negative_side: bool, what: str):
        """Make the side for ascending ``magnitudes`` (first 0) and their ``codes``."""
        mags = np.asarray(magnitudes, dtype=np.float64)
        mid = (mags[:-1] + mags[1:]) / 2
        thr = mid.astype(np.float32)
        if not np.array_equal(thr.astype(np.float64), mid) or not np.all(np.isfinite(thr)):
            raise NumericsError(
                f"format {what} has grid midpoints that float32 cannot represent exactly; "
                "choose a bias that keeps the grid inside the float32 range"
            )
        tie = [tie_goes_up(lo, hi, rounding, negative_side) for lo, hi in zip(mags[:-1], mags[1:])]
        arrays = (mags, thr, np.array(tie, dtype=np.uint8), np.asarray(codes, dtype=np.uint8))
        for a in arrays:
            a.setflags(write=False)
        return cls(*arrays)

    def encode_scalar(self, a: float) -> int:
        """Reference (unvectorized) lookup of a non-negative float32 magnitude ``a``."""
        n = self.n_thresholds
        mag = int(np.count_nonzero(self.thresholds < np.float32(a)))
        if mag < n and np.float32(a) == self.thresholds[mag] and self.tie_up[mag]:
            mag += 1
        return int(self.codes[mag])


class QuantizerTable:
    """The LUT quantizer of one format and rounding mode (see module docstring).

    Build it with ``Format.quantizer_table(rounding)``.  ``encode`` is the
    vectorized algorithm; it requires that one side's thresholds are a prefix
    of the other's (true for every fpqc format: float sides are identical, an
    int format's negative side has one more magnitude), which lets one
    ``searchsorted`` serve both sides.
    """

    def __init__(self, name: str, rounding: str, neg: QuantizerSide, pos: QuantizerSide,
                 nan_code: int):
        self.name = name
        self.rounding = rounding
        self.neg = neg
        self.pos = pos
        self.nan_code = int(nan_code)
        long_side = neg if neg.n_thresholds >= pos.n_thresholds else pos
        for side in (neg, pos):
            k = side.n_thresholds
            assert np.array_equal(side.thresholds, long_side.thresholds[:k])
        self._thr = long_side.thresholds
        n = len(self._thr)
        # Per side, tables padded to the long side's length: thresholds past a
        # side's end are +inf (never a tie), codes past its end repeat its max.
        thr_pad, tie_pad, code_pad = [], [], []
        for side in (pos, neg):
            k = side.n_thresholds
            t = np.full(n + 1, np.inf, dtype=np.float32)
            t[:k] = side.thresholds
            u = np.zeros(n + 1, dtype=bool)
            u[:k] = side.tie_up.astype(bool)
            c = np.full(n + 1, side.codes[-1], dtype=np.uint8)
            c[: k + 1] = side.codes
            thr_pad.append(t)
            tie_pad.append(u)
            code_pad.append(c)
        self._width = n + 1
        self._thr_flat = np.concatenate(thr_pad)
        self._tie_flat = np.concatenate(tie_pad)
        self._code_flat = np.concatenate(code_pad)
        self._shift, self._table = self._bit_table()

    @property
    def key_table(self) -> tuple[int, np.ndarray]:
        """``(shift, table)`` of the fast form, for a compiled loop that encodes as :meth:`encode` does: the
        code of float32 bits ``b`` is ``table[(b >> shift) + ((b + 2^shift - 1) mod 2^32 >> shift)]``."""
        return self._shift, self._table

    def _search(self, v: np.ndarray) -> np.ndarray:
        """Codes of float32 ``v`` by the LUT algorithm, vectorized with one ``searchsorted``."""
        a = np.abs(v)
        j = np.searchsorted(self._thr, a, side="left")
        j += np.signbit(v) * self._width
        j += (a == self._thr_flat[j]) & self._tie_flat[j]
        codes = self._code_flat[j]
        codes[np.isnan(v)] = self.nan_code
        return codes

    def _bit_table(self) -> tuple[int, np.ndarray]:
        """``(shift, table)`` of the fast form (module docstring): key = float32 bits >> shift."""
        mantissas = self._thr.view(np.uint32) & np.uint32(0x7FFFFF)
        needed = max((23 - (int(m) & -int(m)).bit_length() + 1 if m else 0) for m in mantissas)
        shift = 23 - needed
        assert shift >= 15, "every fpqc grid has thresholds of at most 8 significant mantissa bits"
        firsts = (np.arange(1 << (32 - shift), dtype=np.uint64) << np.uint64(shift)).astype(np.uint32)
        table = np.empty(2 * firsts.size, dtype=np.uint8)
        table[0::2] = self._search(firsts.view(np.float32))
        table[1::2] = self._search((firsts | np.uint32(1)).view(np.float32))
        # encode's ``bits + low`` overflows only for the last key's inside values (negative NaNs):
        # their index wraps to entry 2^(32 - shift) - 1, a positive NaN's, which holds the NaN code too.
        assert table[(1 << (32 - shift)) - 1] == self.nan_code
        table.setflags(write=False)
        return shift, table

    def encode(self, x, chunk: int | None = None) -> np.ndarray:
        """Codes (uint8, same shape) of float32 values ``x`` by the LUT algorithm (fast form).

        The codes are laid out in memory like ``x`` when ``x`` is Fortran-ordered, else in C order.
        Without ``chunk``, a large ``x`` runs the compiled loop (numba) and a small one numpy passes
        over chunks that stay in the CPU caches; with it, numpy passes over ``chunk`` values at a
        time (a compile's weights, in a background thread: few passes take the GIL few times).
        The codes are the same.
        """
        v = np.asarray(x, dtype=np.float32)
        if v.flags.f_contiguous and not v.flags.c_contiguous:
            return self.encode(v.T, chunk).T
        flat = np.ascontiguousarray(v).reshape(-1)
        codes = np.empty(flat.size, dtype=np.uint8)
        if chunk is None and flat.size >= _COMPILED_ENCODE_FROM:
            from fpqc.numerics import ordered_loops  # numba: for the interpreter's activations

            ordered_loops.encode_keys(self._table, self._shift, flat.view(np.uint32), codes)
            return codes.reshape(v.shape)
        chunk = chunk or _CHUNK
        shift, low = np.uint32(self._shift), np.uint32((1 << self._shift) - 1)
        for start in range(0, flat.size, chunk):
            bits = flat[start : start + chunk].view(np.uint32)
            index = bits >> shift
            inside = bits + low  # key + 1 exactly when the low bits are not all zero
            inside >>= shift
            index += inside  # 2·key + (the value is not its interval's first)
            np.take(self._table, index, out=codes[start : start + chunk], mode="clip")
        return codes.reshape(v.shape)

    def encode_scalar(self, v: float) -> int:
        """Unvectorized reference of :meth:`encode`, line for line the C++ code."""
        v = np.float32(v)
        if np.isnan(v):
            return self.nan_code
        side = self.neg if np.signbit(v) else self.pos
        return side.encode_scalar(np.abs(v))
