"""fpqc's own float32 transcendentals: the same bits in Python and in C++.

No libm: every function is built from float32 ``+ - * /``, comparisons and
bit manipulation, in the exact order written below, so this file (loops compiled by numba) and
``fpqc_numerics.h`` (compiled with ``-ffp-contract=off``) give identical bits.
Constants are float32 values written as hex floats.  Every ``+ - * /`` below
is one float32 operation, rounded to nearest even, evaluated in the order the
parentheses give; there is no fused multiply-add.

exp_f32(x)
    NaN -> NaN (same bits).  ``x`` is clamped to [-104, 89] (outside it the
    result is 0 or inf anyway, and the clamp keeps the integer arithmetic in
    range).  ``k = round_to_int(x * LOG2E)`` using the float32 "add and subtract
    1.5*2^23" trick (ties to even).  Cody-Waite reduction
    ``r = (x - k*LN2_HI) - k*LN2_LO`` with LN2_HI holding 15 significant bits
    (``k*LN2_HI`` is exact).  ``p = 1 + (r + r*r*P(r))`` with the degree-5 Taylor
    polynomial ``P(r) = 1/2 + r/6 + ... + r^5/5040`` by Horner.  The result is
    ``(p * 2^k1) * 2^k2`` with ``k1 = floor(k/2)``, ``k2 = k - k1``, each power of
    two built from exponent bits, so overflow gives inf and the subnormal range
    is rounded once.
tanh_f32(x)
    Odd: computed on ``a = |x|`` (sign bit cleared), the sign bit of ``x`` is
    copied back into the result.  ``a < 0.55``: ``z = a*a``,
    ``y = a + a*(z*Q(z))`` with a degree-4 polynomial Q (Horner) fitted by
    least squares on the relative error of tanh over [0, 0.55] (fit error
    3e-9, below the float32 rounding error).  Otherwise
    ``y = 1 - 2/(exp_f32(a+a) + 1)`` (saturates to 1; NaN stays NaN).
sigmoid_f32(x)
    ``e = exp_f32(-|x|)``; ``x >= 0``: ``1/(1+e)``; ``x < 0``: ``e/(1+e)``
    (accurate relative error on both sides, no inf/inf).
silu_f32(x)
    ``x * sigmoid(x)`` evaluated as: ``e = exp_f32(-|x|)``; ``x >= 0``:
    ``x/(1+e)``; ``x < 0``: ``(max(x, -200)*e)/(1+e)`` (the clamp makes -inf
    give -0 instead of NaN).
gelu_tanh_f32(x)
    ``0.5*x*(1 + tanh(sqrt(2/pi)*(x + 0.044715*x^3)))`` is, exactly in real
    arithmetic, ``x * sigmoid(v)`` with ``v = 2*sqrt(2/pi)*(x + 0.044715*x^3)``;
    fpqc evaluates that form (no cancellation in ``1 + tanh`` for negative x):
    ``xc = max(x, -16)`` (gelu is -0 below that in float32);
    ``v = xc * (C2*(xc*xc) + C1)`` with ``C1 = float32(2*sqrt(2/pi))``,
    ``C2 = float32(2*sqrt(2/pi)*0.044715)``; ``e = exp_f32(-|v|)``;
    ``v >= 0``: ``xc/(1+e)``, else ``(xc*e)/(1+e)``.
rsqrt_f32(x)
    NaN or x < 0 -> NaN; +-0 -> +-inf; +inf -> +0.  Subnormal x is scaled by
    2^24 first (and the result by 2^12).  Initial guess from the bits
    ``0x5f375a86 - (bits(x) >> 1)``, two Newton steps
    ``y = y * (1.5 - (h*y)*y)`` with ``h = 0.5*x``, and a final correction
    ``y = y + (y*0.5) * (1 - (x*y)*y)``.

Measured errors against float64: see ``ERROR_BOUNDS``.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir as llvm_ir
from numba import types
from numba.extending import intrinsic


def _f(text: str) -> np.float32:
    """The float32 written as a hex float (exact)."""
    return np.float32(float.fromhex(text))


LOG2E = _f("0x1.715476p+0")
LN2_HI = _f("0x1.62e4p-1")
LN2_LO = _f("0x1.7f7d1cp-20")
ROUND_MAGIC = _f("0x1.8p+23")
EXP_X_MIN = _f("-0x1.ap+6")  # -104
EXP_X_MAX = _f("0x1.64p+6")  # 89
EXP_POLY = tuple(_f(h) for h in (  # 1/7!, 1/6!, 1/5!, 1/4!, 1/3!, 1/2!  (Horner order)
    "0x1.a01a02p-13", "0x1.6c16c2p-10", "0x1.111112p-7",
    "0x1.555556p-5", "0x1.555556p-3", "0x1p-1"))

TANH_SMALL = _f("0x1.19999ap-1")  # 0.55
TANH_POLY = tuple(_f(h) for h in (  # Q(z), highest degree first
    "-0x1.9a8a82p-8", "0x1.591d5ep-6", "-0x1.b92442p-5", "0x1.110d0ap-3", "-0x1.55554ap-2"))

GELU_C1 = _f("0x1.988454p+0")  # 2*sqrt(2/pi)
GELU_C2 = _f("0x1.2444f2p-4")  # 2*sqrt(2/pi)*0.044715
GELU_X_MIN = _f("-0x1p+4")  # -16
SILU_X_MIN = _f("-0x1.9p+7")  # -200

RSQRT_MAGIC = np.int32(0x5F375A86)
RSQRT_NEWTON_STEPS = 2

ONE = np.float32(1)
TWO = np.float32(2)
HALF = np.float32(0.5)
THREE_HALVES = np.float32(1.5)

#: Max error of each function against the float64 formula, in ulps of float32
#: at the reference value, measured over every 31st float32 bit pattern plus
#: special values (the tests assert these).  Results below 2^-120 in magnitude
#: (the underflow range) are held to absolute error 2^-130 instead.
#: gelu_tanh_f32 meets its bound for x >= -1; below, its error grows with the
#: function's own condition number, to at most 3*(1 + |v|) ulps where
#: v = 2*sqrt(2/pi)*(x + 0.044715*x^3) (about 200 ulps at x = -9, where
#: gelu(x) ~ -2e-31), and never exceeds 1e-6 in absolute terms.
ERROR_BOUNDS = {
    "exp_f32": 1.01,
    "tanh_f32": 1.5,
    "sigmoid_f32": 2.5,
    "silu_f32": 3.5,
    "gelu_tanh_f32": 3.0,
    "rsqrt_f32": 1.25,
}


NAN = np.float32(np.nan)
INF = np.float32(np.inf)
SUBNORMAL_SCALE = np.float32(2.0**24)
SUBNORMAL_UNSCALE = np.float32(2.0**12)
SMALLEST_NORMAL = np.float32(2.0**-126)


# Each function is a scalar loop compiled by numba (no fast-math: every float32
# operation is rounded as written, none is fused or reordered) over a flat
# float32 array; the public functions below take and return arrays of any shape.


@intrinsic
def _bits(typingctx, x):
    """The bits of a float32 as an int32."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], llvm_ir.IntType(32))

    return types.int32(types.float32), codegen


@intrinsic
def _from_bits(typingctx, i):
    """The float32 whose bits are the int32 ``i``."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], llvm_ir.FloatType())

    return types.float32(types.int32), codegen


@numba.njit(inline="always", error_model="numpy")
def _pow2(k):
    """float32 2^k for an integer k in the normal exponent range -126..127."""
    return _from_bits(np.int32((k + 127) << 23))


@numba.njit(inline="always", error_model="numpy")
def _abs(x):
    return _from_bits(_bits(x) & np.int32(0x7FFFFFFF))


@numba.njit(inline="always", error_model="numpy")
def _copysign(mag, x):
    return _from_bits(_bits(mag) | (_bits(x) & np.int32(-0x80000000)))


# Written without branches where the result is chosen (both sides computed, one selected), so
# that the compiler vectorises the loops; the operations on the chosen side are those above.


@numba.njit(inline="always", error_model="numpy")
def _exp(x):
    xc = EXP_X_MIN if x < EXP_X_MIN else x
    xc = EXP_X_MAX if xc > EXP_X_MAX else xc
    xc = np.float32(0) if x != x else xc
    t = xc * LOG2E + ROUND_MAGIC
    kf = t - ROUND_MAGIC
    k = np.int32(_bits(t) - _bits(ROUND_MAGIC))
    r = (xc - kf * LN2_HI) - kf * LN2_LO
    p = EXP_POLY[0]
    for c in EXP_POLY[1:]:
        p = p * r + c
    p = ONE + (r + (r * r) * p)
    k1 = ((k + 256) >> 1) - 128
    y = (p * _pow2(k1)) * _pow2(k - k1)
    return x if x != x else y


@numba.njit(inline="always", error_model="numpy")
def _tanh(x):
    a = _abs(x)
    z = a * a
    q = TANH_POLY[0]
    for c in TANH_POLY[1:]:
        q = q * z + c
    small = a + a * (z * q)
    large = ONE - TWO / (_exp(a + a) + ONE)
    return _copysign(small if a < TANH_SMALL else large, x)


@numba.njit(inline="always", error_model="numpy")
def _sigmoid(x):
    e = _exp(-_abs(x))
    den = ONE + e
    return (ONE if x >= 0 else e) / den


@numba.njit(inline="always", error_model="numpy")
def _silu(x):
    e = _exp(-_abs(x))
    den = ONE + e
    return (x if x >= 0 else (SILU_X_MIN if x < SILU_X_MIN else x) * e) / den


@numba.njit(inline="always", error_model="numpy")
def _gelu_tanh(x):
    xc = GELU_X_MIN if x < GELU_X_MIN else x
    v = xc * (GELU_C2 * (xc * xc) + GELU_C1)
    e = _exp(-_abs(v))
    den = ONE + e
    return (xc if v >= 0 else xc * e) / den


@numba.njit(inline="always", error_model="numpy")
def _rsqrt(x):
    sub = x < SMALLEST_NORMAL
    xs = x * SUBNORMAL_SCALE if sub else x
    y = _from_bits(np.int32(RSQRT_MAGIC - (_bits(xs) >> 1)))
    h = HALF * xs
    for _ in range(RSQRT_NEWTON_STEPS):
        y = y * (THREE_HALVES - (h * y) * y)
    y = y + (y * HALF) * (ONE - (xs * y) * y)
    y = y * SUBNORMAL_UNSCALE if sub else y
    y = np.float32(0) if x == INF else y
    y = _copysign(INF, x) if x == 0 else y
    return NAN if x != x or x < 0 else y


# One compiled loop per function (top-level functions, so that numba's cache finds them again).


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _exp_loop(x, out):
    for i in range(x.size):
        out[i] = _exp(x[i])


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _tanh_loop(x, out):
    for i in range(x.size):
        out[i] = _tanh(x[i])


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _sigmoid_loop(x, out):
    for i in range(x.size):
        out[i] = _sigmoid(x[i])


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _silu_loop(x, out):
    for i in range(x.size):
        out[i] = _silu(x[i])


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _gelu_tanh_loop(x, out):
    for i in range(x.size):
        out[i] = _gelu_tanh(x[i])


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _rsqrt_loop(x, out):
    for i in range(x.size):
        out[i] = _rsqrt(x[i])


def _elementwise(loop, x) -> np.ndarray:
    """``loop`` over every element of ``x`` (any shape) as float32: an array of x's shape."""
    x = np.asarray(x, dtype=np.float32)
    out = np.empty(x.shape, np.float32)
    loop(np.ascontiguousarray(x).reshape(-1), out.reshape(-1))
    return out


def exp_f32(x) -> np.ndarray:
    """e^x in float32 (algorithm in the module docstring)."""
    return _elementwise(_exp_loop, x)


def tanh_f32(x) -> np.ndarray:
    """tanh(x) in float32 (algorithm in the module docstring)."""
    return _elementwise(_tanh_loop, x)


def sigmoid_f32(x) -> np.ndarray:
    """1 / (1 + e^-x) in float32 (algorithm in the module docstring)."""
    return _elementwise(_sigmoid_loop, x)


def silu_f32(x) -> np.ndarray:
    """x * sigmoid(x) in float32 (algorithm in the module docstring)."""
    return _elementwise(_silu_loop, x)


def gelu_tanh_f32(x) -> np.ndarray:
    """GELU, tanh approximation, in float32 (algorithm in the module docstring)."""
    return _elementwise(_gelu_tanh_loop, x)


def rsqrt_f32(x) -> np.ndarray:
    """1 / sqrt(x) in float32 (algorithm in the module docstring)."""
    return _elementwise(_rsqrt_loop, x)
