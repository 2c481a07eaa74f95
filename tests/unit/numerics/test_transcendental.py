"""fpqc's float32 transcendentals against float64 math, with the documented bounds."""

import numpy as np
import pytest

from fpqc.numerics import (
    ERROR_BOUNDS,
    exp_f32,
    gelu_tanh_f32,
    rsqrt_f32,
    sigmoid_f32,
    silu_f32,
    tanh_f32,
)

F32_MAX = float(np.finfo(np.float32).max)


def sweep(stride=4099):
    """Every ``stride``-th float32 bit pattern (all finite signs and exponents)."""
    bits = np.arange(0, 2**32, stride, dtype=np.uint64).astype(np.uint32)
    x = bits.view(np.float32)
    return x[np.isfinite(x)]


def _gelu64(x):
    v = 2 * np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)
    return x / (1 + np.exp(-v))


REFERENCES = {
    "exp_f32": (exp_f32, np.exp),
    "tanh_f32": (tanh_f32, np.tanh),
    "sigmoid_f32": (sigmoid_f32, lambda x: 1 / (1 + np.exp(-x))),
    "silu_f32": (silu_f32, lambda x: x / (1 + np.exp(-x))),
    "gelu_tanh_f32": (gelu_tanh_f32, _gelu64),
    "rsqrt_f32": (rsqrt_f32, lambda x: 1 / np.sqrt(x)),
}


def ulp_errors(y, ref):
    """|y - ref| in float32 ulps at ref; results below 2^-120 are checked separately."""
    a = np.abs(ref)
    expo = np.floor(np.log2(np.where(a > 0, a, 1.0)))
    ulp = np.exp2(np.maximum(expo, -126) - 23)
    return np.abs(y.astype(np.float64) - ref) / ulp


@pytest.mark.parametrize("name", list(REFERENCES))
def test_error_bound(name):
    fn, ref_fn = REFERENCES[name]
    x = sweep()
    if name == "rsqrt_f32":
        x = x[x > 0]
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        ref = ref_fn(x.astype(np.float64))
        y = fn(x)
    assert y.dtype == np.float32
    finite = np.abs(ref) <= F32_MAX
    tiny = np.abs(ref) < 2.0**-120
    normal = finite & ~tiny
    err = ulp_errors(y[normal], ref[normal])
    bound = ERROR_BOUNDS[name]
    if name == "gelu_tanh_f32":
        xs = x[normal].astype(np.float64)
        main = xs >= -1
        assert err[main].max() <= bound
        v = 2 * np.sqrt(2 / np.pi) * (xs + 0.044715 * xs**3)
        assert np.all(err <= 3 * (1 + np.abs(v)))
        assert np.max(np.abs(y[finite].astype(np.float64) - ref[finite])) <= 1e-6
    else:
        assert err.max() <= bound, f"{name}: {err.max():.3f} ulp"
    assert np.all(np.abs(y[tiny].astype(np.float64) - ref[tiny]) <= 2.0**-130)
    # outside float32 range: the right infinity
    over = ~finite
    assert np.all(np.isinf(y[over]) & (np.sign(y[over]) == np.sign(ref[over])))


def test_dense_sweep_near_zero_and_one():
    """Relative error where these functions are used most (|x| < 8), on a dense grid."""
    x = np.linspace(-8, 8, 2_000_001, dtype=np.float32)
    for name, (fn, ref_fn) in REFERENCES.items():
        if name in ("rsqrt_f32", "gelu_tanh_f32"):
            continue
        err = ulp_errors(fn(x), ref_fn(x.astype(np.float64)))
        assert err.max() <= ERROR_BOUNDS[name], name
    xp = np.linspace(1e-3, 8, 1_000_001, dtype=np.float32)
    assert ulp_errors(rsqrt_f32(xp), 1 / np.sqrt(xp.astype(np.float64))).max() <= 1.25
    xg = np.linspace(-1, 8, 1_000_001, dtype=np.float32)
    assert ulp_errors(gelu_tanh_f32(xg), _gelu64(xg.astype(np.float64))).max() <= 3.0


def test_special_values():
    inf, nan = np.float32(np.inf), np.float32(np.nan)
    x = np.float32([inf, -inf, nan, 0.0, -0.0])
    assert exp_f32(x)[:2].tolist() == [np.inf, 0.0] and np.isnan(exp_f32(x)[2])
    assert exp_f32(x)[3:].tolist() == [1.0, 1.0]
    assert exp_f32(np.float32([88.72, 88.73, -87.3, -103.0, -104.0, -200.0])).tolist()[1] == np.inf
    assert exp_f32(np.float32([-103.2]))[0] > 0  # subnormal results exist
    t = tanh_f32(x)
    assert t[:2].tolist() == [1.0, -1.0] and np.isnan(t[2])
    assert np.signbit(t[4]) and t[3] == 0 and not np.signbit(t[3])
    assert tanh_f32(np.float32([1e-30]))[0] == np.float32(1e-30)
    s = sigmoid_f32(x)
    assert s[:2].tolist() == [1.0, 0.0] and np.isnan(s[2]) and s[3] == 0.5
    si = silu_f32(x)
    assert si[0] == np.inf and si[1] == 0 and np.isnan(si[2]) and si[3] == 0
    g = gelu_tanh_f32(x)
    assert g[0] == np.inf and g[1] == 0 and np.isnan(g[2]) and g[3] == 0 and np.signbit(g[4])
    r = rsqrt_f32(np.float32([inf, -1.0, nan, 0.0, -0.0, 4.0, 2.0**-149]))
    assert r[0] == 0 and np.isnan(r[1]) and np.isnan(r[2])
    assert r[3] == np.inf and r[4] == -np.inf and r[5] == 0.5
    assert r[6] == np.float32(2.0**74.5)


def test_odd_symmetry_of_tanh():
    x = sweep(997)
    assert np.array_equal(tanh_f32(-x).view(np.uint32), (tanh_f32(x).view(np.uint32) ^ 2**31))
