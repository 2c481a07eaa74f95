"""Dual-format quantization: grids, scales, code planes, the dual linear layer, and MSE."""

import numpy as np
import pytest

from fpqc.numerics import NumericsError
from fpqc.numerics import (
    DualFormat,
    Format,
    compute_dual_scales,
    compute_scales,
    dequantize,
    dual_dequantize,
    dual_qlinear,
    dual_quantize,
    gelu_tanh_f32,
    product_unit,
    qlinear,
    quantize,
)

W4A4, W6A6, MIXED = (DualFormat.parse(n) for n in ("dfq-w4a4", "dfq-w6a6", "mixedformat"))
E2M1 = Format.parse("e2m1")


def test_presets_and_names():
    assert W4A4 == DualFormat(Format.parse("e1m2"), E2M1)
    assert W6A6 == DualFormat(Format.parse("int6"), Format.parse("e2m3"))
    assert MIXED == DualFormat(E2M1, E2M1)
    for dual in (W4A4, W6A6, MIXED, DualFormat.parse("E1M2/e2m3")):
        assert DualFormat.parse(dual.name) == dual
    assert W4A4.name == "e1m2/e2m1" and str(W6A6) == "int6/e2m3"
    assert (W4A4.neg_max, W4A4.pos_max) == (1.75, 6.0)
    assert (W6A6.neg_max, W6A6.pos_max) == (32.0, 7.5)
    assert (MIXED.neg_max, MIXED.pos_max) == (6.0, 6.0)
    for bad in ("e2m1", "e2m1/e2m1/e2m1", "dfq-w5a5", "e1m2/e9m9"):
        with pytest.raises(NumericsError):
            DualFormat.parse(bad)


def _round_trip_values(dual, rng, rows=64, k=128):
    x = rng.standard_normal((rows, k)).astype(np.float32) * rng.uniform(0.01, 50, (rows, 1))
    x = x.astype(np.float32)
    s_neg, s_pos = compute_dual_scales(x, dual, 32)
    neg, pos = dual_quantize(x, dual, s_neg, s_pos, 32)
    return x, s_neg, s_pos, neg, pos


def test_w4a4_grids_match_reference():
    rng = np.random.default_rng(0)
    x, s_neg, s_pos, neg, pos = _round_trip_values(W4A4, rng)
    assert neg.dtype == pos.dtype == np.uint8 and neg.shape == pos.shape == x.shape
    # an element lives on exactly one side; the other plane holds code 0
    is_neg = np.signbit(x)
    assert not pos[is_neg].any() and not neg[~is_neg].any()
    neg_vals = W4A4.neg.decode(neg)[is_neg]
    pos_vals = W4A4.pos.decode(pos)[~is_neg]
    assert set(np.unique(neg_vals + 0.0)) <= {0.0, -0.25, -0.5, -0.75, -1.0, -1.25, -1.5, -1.75}
    assert set(np.unique(pos_vals)) <= {0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0}
    # the extremes of each side land exactly on the ends of the grids
    xg = x.reshape(64, 4, 32)
    neg_min = np.where(np.signbit(xg), xg, 0).min(-1)
    pos_max = np.where(np.signbit(xg), 0, xg).max(-1)
    assert np.array_equal(s_neg, np.where(neg_min == 0, 1, -neg_min / np.float32(1.75)))
    assert np.array_equal(s_pos, np.where(pos_max == 0, 1, pos_max / np.float32(6)))
    y = dual_dequantize(neg, pos, W4A4, s_neg, s_pos, 32)
    yg = y.reshape(64, 4, 32)
    assert np.all(yg.min(-1) == (-np.float32(1.75)) * s_neg)
    assert np.all(yg.max(-1) == np.float32(6) * s_pos)
    # and each value is the grid point times the side's scale, exactly
    expect = np.where(is_neg, W4A4.neg.decode(neg) * np.repeat(s_neg, 32, -1),
                      W4A4.pos.decode(pos) * np.repeat(s_pos, 32, -1))
    assert np.array_equal(y, expect + np.float32(0))


def test_w6a6_uses_int6_negative_side_and_e2m3():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 256)).astype(np.float32)
    s_neg, s_pos = compute_dual_scales(x, W6A6)  # per token
    assert s_neg.shape == s_pos.shape == (8, 1)
    neg, pos = dual_quantize(x, W6A6, s_neg, s_pos)
    units = W6A6.neg.units(neg)
    assert units.min() == -32 and units.max() == 0
    assert np.all((units == -32).sum(-1) >= 1)  # each token's most negative value hits -32
    assert set(np.unique(W6A6.pos.decode(pos))) <= set(Format.parse("e2m3").values())
    assert W6A6.pos.decode(pos).max() == 7.5
    y = dual_dequantize(neg, pos, W6A6, s_neg, s_pos)
    assert np.max(np.abs(y - x) / np.where(x < 0, s_neg, s_pos)) <= 0.5 + 1e-6


def test_quantize_equals_plain_quantize_per_side():
    rng = np.random.default_rng(2)
    x, s_neg, s_pos, neg, pos = _round_trip_values(W4A4, rng)
    is_neg = np.signbit(x)
    for rounding in ("rne", "ties-up", "ties-away"):
        n, p = dual_quantize(x, W4A4, s_neg, s_pos, 32, rounding=rounding)
        assert np.array_equal(n[is_neg], quantize(x, W4A4.neg, s_neg, group_size=32,
                                                  rounding=rounding)[is_neg])
        assert np.array_equal(p[~is_neg], quantize(x, W4A4.pos, s_pos, group_size=32,
                                                   rounding=rounding)[~is_neg])


def test_ties_follow_the_rounding_mode():
    # scales exactly 1: the group's extremes are -1.75 and 6
    x = np.float32([[-1.75, 6.0, -0.125, -0.375, 0.25, 2.5, 5.0, -0.0]])
    s_neg, s_pos = compute_dual_scales(x, W4A4)
    assert (s_neg[0, 0], s_pos[0, 0]) == (1.0, 1.0)
    got = {r: dual_dequantize(*dual_quantize(x, W4A4, s_neg, s_pos, rounding=r), W4A4,
                              s_neg, s_pos)[0].tolist() for r in ("rne", "ties-up", "ties-away")}
    assert got["rne"] == [-1.75, 6.0, 0.0, -0.5, 0.0, 2.0, 4.0, 0.0]
    assert got["ties-up"] == [-1.75, 6.0, 0.0, -0.25, 0.5, 3.0, 6.0, 0.0]
    assert got["ties-away"] == [-1.75, 6.0, -0.25, -0.5, 0.5, 3.0, 6.0, 0.0]


def test_one_sided_zero_and_nonfinite_groups():
    x = np.zeros((5, 4), np.float32)
    x[0] = [-1, -2, -3.5, -0.0]      # all negative
    x[1] = [1, 2, 3, 0.0]            # all positive
    x[3] = [1, np.inf, -1, 0]        # broken
    x[4] = [np.nan, 1, -1, 0]        # broken
    s_neg, s_pos = compute_dual_scales(x, W4A4)
    assert s_neg[:3, 0].tolist() == [2.0, 1.0, 1.0]
    assert s_pos[:3, 0].tolist() == [1.0, 0.5, 1.0]
    assert np.isnan(s_neg[3:]).all() and np.isnan(s_pos[3:]).all()
    neg, pos = dual_quantize(x[:3], W4A4, s_neg[:3], s_pos[:3])
    assert not pos[0].any() and not neg[1].any() and not (neg[2] | pos[2]).any()
    assert np.array_equal(dual_dequantize(neg, pos, W4A4, s_neg[:3], s_pos[:3]), x[:3])


def test_bad_shapes_raise():
    x = np.zeros((2, 96), np.float32)
    with pytest.raises(NumericsError, match="group size"):
        compute_dual_scales(x, W4A4, 64)
    with pytest.raises(NumericsError, match="at least one axis"):
        compute_dual_scales(np.float32(1), W4A4)
    s = np.ones((2, 3), np.float32)
    with pytest.raises(NumericsError, match="code planes differ"):
        dual_dequantize(np.zeros((2, 96)), np.zeros((2, 48)), W4A4, s, s)
    with pytest.raises(NumericsError, match="scales"):
        dual_quantize(x, W4A4, np.ones((2, 5)), s, 32)


def _reference_dual_qlinear(neg, pos, dual, s_neg, s_pos, w, w_fmt, ws, gs, bias):
    """Scalar loops straight from the contract (float64 exact sums, float32 steps)."""
    t, k = neg.shape
    o = w.shape[0]
    un = dual.neg.units(neg).astype(np.float64)
    up = dual.pos.units(pos).astype(np.float64)
    uw = w_fmt.units(w).astype(np.float64)
    unit_n, unit_p = product_unit(dual.neg, w_fmt), product_unit(dual.pos, w_fmt)
    xg_n, xg_p, wg = k // s_neg.shape[1], k // s_pos.shape[1], k // ws.shape[1]
    y = np.zeros((t, o), np.float32)
    for r in range(t):
        for c in range(o):
            acc = np.float32(0)
            for g in range(k // gs):
                sl = slice(g * gs, (g + 1) * gs)
                sw = ws[c, g * gs // wg]
                pn = np.float32(un[r, sl] @ uw[c, sl]) * unit_n
                acc = acc + (s_neg[r, g * gs // xg_n] * sw) * pn
                pp = np.float32(up[r, sl] @ uw[c, sl]) * unit_p
                acc = acc + (s_pos[r, g * gs // xg_p] * sw) * pp
            y[r, c] = acc + bias[c]
    return y


@pytest.mark.parametrize("dual,w_name,xg,wg", [(W4A4, "e2m1", 64, 64), (W6A6, "e2m3", None, None),
                                                (MIXED, "e2m1", None, 32), (W4A4, "e4m3", 32, 128)])
def test_dual_qlinear_follows_the_contract(dual, w_name, xg, wg):
    rng = np.random.default_rng(3)
    w_fmt = Format.parse(w_name)
    x = gelu_tanh_f32(rng.standard_normal((6, 256)).astype(np.float32) * 3)
    w = rng.standard_normal((5, 256)).astype(np.float32)
    s_neg, s_pos = compute_dual_scales(x, dual, xg)
    neg, pos = dual_quantize(x, dual, s_neg, s_pos, xg)
    ws = compute_scales(w, w_fmt, group_size=wg)
    wc = quantize(w, w_fmt, ws, group_size=wg)
    bias = rng.standard_normal(5).astype(np.float32)
    gs = min(xg or 256, wg or 256)
    y = dual_qlinear(neg, pos, dual, s_neg, s_pos, wc, w_fmt, ws, gs, bias)
    assert y.dtype == np.float32 and y.shape == (6, 5)
    ref = _reference_dual_qlinear(neg, pos, dual, s_neg, s_pos, wc, w_fmt, ws, gs, bias)
    assert np.array_equal(y.view(np.uint32), ref.view(np.uint32))
    # and it is the product of the dequantized operands up to fp32 rounding
    xd = dual_dequantize(neg, pos, dual, s_neg, s_pos, xg).astype(np.float64)
    wd = dequantize(wc, w_fmt, ws, group_size=wg).astype(np.float64)
    np.testing.assert_allclose(y, xd @ wd.T + bias, rtol=0, atol=1e-4)


def test_dual_qlinear_with_one_side_empty_is_qlinear():
    # all positive: the negative plane is all zero and adds exact zeros
    rng = np.random.default_rng(4)
    x = np.abs(rng.standard_normal((4, 128))).astype(np.float32)
    w = rng.standard_normal((3, 128)).astype(np.float32)
    s_neg, s_pos = compute_dual_scales(x, MIXED, 64)
    neg, pos = dual_quantize(x, MIXED, s_neg, s_pos, 64)
    assert not neg.any()
    ws = compute_scales(w, E2M1, group_size=64)
    wc = quantize(w, E2M1, ws, group_size=64)
    y = dual_qlinear(neg, pos, MIXED, s_neg, s_pos, wc, E2M1, ws, 64)
    assert np.array_equal(y, qlinear(pos, E2M1, s_pos, wc, E2M1, ws, 64))


def _gelu_like(rng, rows, k):
    """Mostly small negatives in [-0.17, 0], a few (0.5%) large positives: a GELU output."""
    z = rng.normal(-1.5, 1.0, (rows, k))
    outliers = rng.random((rows, k)) < 0.005
    z[outliers] = rng.uniform(2, 12, outliers.sum())
    return gelu_tanh_f32(z.astype(np.float32))


def test_dfq_beats_single_scale_e2m1_on_gelu_output():
    rng = np.random.default_rng(5)
    x = _gelu_like(rng, 256, 1024)
    negative = x < 0
    assert x.min() >= -0.171 and np.mean(negative) > 0.8 and x.max() > 4
    s = compute_scales(x, E2M1, group_size=128)
    err = {"e2m1": dequantize(quantize(x, E2M1, s, group_size=128), E2M1, s, group_size=128) - x}
    for name, dual in (("mixedformat", MIXED), ("dfq-w4a4", W4A4)):
        s_neg, s_pos = compute_dual_scales(x, dual, 128)
        y = dual_dequantize(*dual_quantize(x, dual, s_neg, s_pos, 128), dual, s_neg, s_pos, 128)
        err[name] = y - x
    mse = {n: float(np.mean(e**2)) for n, e in err.items()}
    mse_neg = {n: float(np.mean(e[negative] ** 2)) for n, e in err.items()}
    print("\nGELU-like fc2 input, groups of 128 -- MSE (all / negatives only):")
    for name in err:
        print(f"  {name:12s} {mse[name]:.3e} / {mse_neg[name]:.3e}")
    assert mse["dfq-w4a4"] < mse["e2m1"] / 3
    assert mse_neg["dfq-w4a4"] < mse_neg["e2m1"] / 50
    assert mse["dfq-w4a4"] < mse["mixedformat"] and mse_neg["dfq-w4a4"] < mse_neg["mixedformat"]

