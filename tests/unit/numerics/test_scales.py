"""Group scales, quantize and dequantize."""

import numpy as np
import pytest

from fpqc.numerics import NumericsError
from fpqc.numerics import Format, compute_scales, dequantize, quantize

E2M1 = Format.parse("e2m1")


def test_scale_shapes_and_values():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 256)).astype(np.float32)
    per_token = compute_scales(x, E2M1)
    assert per_token.shape == (6, 1) and per_token.dtype == np.float32
    assert np.array_equal(per_token[:, 0], np.abs(x).max(axis=1) / np.float32(6))
    grouped = compute_scales(x, E2M1, group_size=128)
    assert grouped.shape == (6, 2)
    assert np.array_equal(grouped, np.abs(x).reshape(6, 2, 128).max(-1) / np.float32(6))
    per_channel = compute_scales(x, E2M1, axis=0)
    assert per_channel.shape == (1, 256)
    assert np.array_equal(per_channel[0], np.abs(x).max(axis=0) / np.float32(6))
    per_tensor = compute_scales(x, E2M1, axis=None)
    assert per_tensor.shape == (1, 1) and per_tensor[0, 0] == np.abs(x).max() / np.float32(6)
    three_d = compute_scales(rng.standard_normal((2, 3, 64)), E2M1, axis=1, group_size=1)
    assert three_d.shape == (2, 3, 64)


def test_all_zero_group_gets_unit_scale():
    x = np.zeros((2, 8), np.float32)
    x[1, 5] = -3.0
    s = compute_scales(x, E2M1, group_size=4)
    assert s.tolist() == [[1.0, 1.0], [1.0, 0.5]]
    assert compute_scales(np.zeros((3, 3)), E2M1, axis=None).tolist() == [[1.0]]
    assert compute_scales(np.zeros((3, 3)), E2M1, scale_kind="e8m0").tolist() == [[1.0]] * 3


def test_nonfinite_group_gets_nan_scale():
    x = np.float32([[1.0, np.inf], [1.0, 2.0], [np.nan, 1.0]])
    assert np.isnan(compute_scales(x, E2M1)[[0, 2]]).all()
    assert compute_scales(x, E2M1)[1, 0] == np.float32(2) / np.float32(6)


@pytest.mark.parametrize("name", ["e2m1", "e2m3", "e4m3", "e1m2", "int4"])
def test_e8m0_is_smallest_power_of_two_above_ratio(name):
    fmt = Format.parse(name)
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((2000, 16)) * np.exp2(rng.integers(-140, 120, (2000, 1)))).astype(
        np.float32)
    # also exact powers of two times max_value (ratio exactly a power of two)
    x[:50, 0] = np.float32(fmt.max_value) * np.exp2(np.arange(-25, 25)).astype(np.float32)
    x[:50, 1:] = 0
    s = compute_scales(x, fmt, scale_kind="e8m0").astype(np.float64)[:, 0]
    absmax = np.abs(x).max(axis=1).astype(np.float64)
    mantissa, _ = np.frexp(s)
    assert np.all(mantissa == 0.5)  # powers of two
    in_range = (absmax / fmt.max_value > 2.0**-127) & (absmax / fmt.max_value < 2.0**127)
    assert np.all(s[in_range] * fmt.max_value >= absmax[in_range])
    assert np.all(s[in_range] / 2 * fmt.max_value < absmax[in_range])
    assert np.array_equal(s[:50], np.exp2(np.arange(-25, 25)))


def test_bad_group_size_names_sizes():
    x = np.ones((4, 100), np.float32)
    with pytest.raises(NumericsError, match="group size 128 .* size 100"):
        compute_scales(x, E2M1, group_size=128)
    with pytest.raises(NumericsError, match="scale kind"):
        compute_scales(x, E2M1, scale_kind="fp16")


def test_quantize_dequantize_round_trip():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((8, 256)).astype(np.float32)
    s = compute_scales(x, E2M1, group_size=64)
    codes = quantize(x, E2M1, s, group_size=64)
    assert codes.dtype == np.uint8 and codes.shape == x.shape
    expected = E2M1.encode(x / np.repeat(s, 64, axis=1))
    assert np.array_equal(codes, expected)
    y = dequantize(codes, E2M1, s)
    assert y.dtype == np.float32
    assert np.array_equal(y, E2M1.decode(codes) * np.repeat(s, 64, axis=1))
    # the group absmax element maps to +-max exactly
    assert np.all(np.abs(E2M1.decode(codes)).reshape(8, 4, 64).max(-1) == 6.0)
    # per tensor and per channel layouts
    st = compute_scales(x, E2M1, axis=None)
    assert np.array_equal(quantize(x, E2M1, st, axis=None), E2M1.encode(x / st))
    sc = compute_scales(x, E2M1, axis=0)
    assert np.array_equal(quantize(x, E2M1, sc, axis=0), E2M1.encode(x / sc))
    assert np.array_equal(quantize(x, E2M1, s, rounding="ties-up"),
                          E2M1.encode(x / np.repeat(s, 64, axis=1), rounding="ties-up"))


def test_quantize_rejects_mismatched_scales():
    x = np.ones((4, 96), np.float32)
    with pytest.raises(NumericsError):
        quantize(x, E2M1, np.ones((4, 5), np.float32))
    with pytest.raises(NumericsError):
        quantize(x, E2M1, np.ones((4, 3), np.float32), group_size=16)


@pytest.mark.parametrize(
    ("name", "group", "scale_kind", "shape"),
    [("e2m1", 128, "fp32", (384, 1024)), ("e2m3", "K", "fp32", (200, 1920)), ("int4", 128, "fp32", (96, 3840)),
     ("e4m3", 32, "e8m0", (64, 256)), ("e2m1", None, "fp32", (40, 256)), ("e2m1", 1920, "fp32", (1000, 1920))],
)
@pytest.mark.parametrize("block", [None, 7000, "compiled"])  # numpy: one block, many (the last partial); numba
def test_quantize_weight_is_compute_scales_then_quantize(name, group, scale_kind, shape, block, monkeypatch):
    """In C and in Fortran order (a transposed view), with zero, infinite, NaN and all -0.0 groups."""
    from fpqc.numerics import scales as scales_module
    from fpqc.numerics.scales import quantize_weight

    monkeypatch.setattr(scales_module, "COMPILED_WEIGHTS_FROM", 0 if block == "compiled" else 1 << 62)
    if isinstance(block, int):
        monkeypatch.setattr(scales_module, "_BLOCK", block)

    fmt = Format.parse(name)
    w = (np.random.default_rng(3).standard_normal(shape) * 0.02).astype(np.float32)
    w[0, :32], w[1, 5], w[2, 7], w[3, :] = 0, np.inf, np.nan, -0.0
    group_size = shape[1] if group == "K" else group
    axis = None if group_size is None else -1
    scales = compute_scales(w, fmt, axis=axis, group_size=group_size, scale_kind=scale_kind)
    codes = quantize(w, fmt, scales, axis=axis, group_size=group_size)
    for stored in (w, np.ascontiguousarray(w.T).T):
        got_codes, got_scales = quantize_weight(stored, fmt, group_size, scale_kind)
        assert got_codes.flags.c_contiguous and got_scales.flags.c_contiguous
        assert np.array_equal(got_codes, codes)
        assert np.array_equal(got_scales.view(np.uint32), scales.view(np.uint32))
