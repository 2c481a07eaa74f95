"""Exact products, exact group sums and the group-combination order of qlinear."""

import numpy as np
import pytest

from fpqc.numerics import NumericsError
from fpqc.numerics import (
    Format,
    accumulator_bits,
    combine_groups,
    compute_scales,
    group_partial_sums,
    product_table,
    product_unit,
    qlinear,
    quantize,
)

E2M1, E4M3, E1M2, INT4 = (Format.parse(n) for n in ("e2m1", "e4m3", "e1m2", "int4"))


@pytest.mark.parametrize("fa,fb", [(E2M1, E2M1), (E4M3, E2M1), (E1M2, INT4), (E4M3, E4M3)])
def test_product_table_is_exact(fa, fb):
    table = product_table(fa, fb)
    assert table.shape == (fa.n_codes, fb.n_codes) and table.dtype == np.int64
    unit = float(product_unit(fa, fb))
    va = fa.decode(np.arange(fa.n_codes)).astype(np.float64)
    vb = fb.decode(np.arange(fb.n_codes)).astype(np.float64)
    exact = np.nan_to_num(np.multiply.outer(va, vb), nan=0.0, posinf=0.0, neginf=0.0)
    exact[~np.isfinite(va)] = 0
    assert np.array_equal(table * unit, exact)


def test_product_unit_and_accumulator_bits():
    assert product_unit(E2M1, E2M1) == np.float32(0.25)
    assert product_unit(E4M3, E2M1) == np.float32(2.0**-10)
    # e2m1: |units| <= 12, product <= 144, 128 of them <= 18432 -> 15 bits + sign
    assert accumulator_bits(E2M1, E2M1, 128) == 16
    assert accumulator_bits(INT4, INT4, 1) == 8  # (-8)*(-8) = 64 needs 8 signed bits


def _random_codes(fmt, shape, rng, scale=1.0):
    x = (rng.standard_normal(shape) * scale).astype(np.float32)
    s = compute_scales(x, fmt)
    return quantize(x, fmt, s)


def test_group_partial_sums_are_exact_integers():
    rng = np.random.default_rng(0)
    xc = _random_codes(E4M3, (5, 256), rng)
    wc = _random_codes(E2M1, (7, 256), rng)
    p = group_partial_sums(xc, E4M3, wc, E2M1, 64)
    assert p.shape == (4, 5, 7) and p.dtype == np.float64
    ua, ub = E4M3.units(xc), E2M1.units(wc)
    for g in range(4):
        sl = slice(64 * g, 64 * (g + 1))
        ref = np.array([[sum(int(a) * int(b) for a, b in zip(ua[t, sl], ub[o, sl]))
                         for o in range(7)] for t in range(5)])
        assert np.array_equal(p[g], ref)


def test_too_wide_accumulator_raises():
    e5m2 = Format.parse("e5m2")
    codes = np.zeros((2, 4), np.uint8)
    with pytest.raises(NumericsError, match="bits"):
        group_partial_sums(codes, e5m2, codes, e5m2, 4)
    with pytest.raises(NumericsError, match="64 bits"):
        product_table(e5m2, e5m2)
    with pytest.raises(NumericsError, match="group size"):
        group_partial_sums(codes, E2M1, codes, E2M1, 3)


def slow_qlinear(xc, fa, xs, wc, fb, ws, group_size, bias=None):
    """The contract, one scalar float32 operation at a time."""
    t_rows, k = xc.shape
    o_rows = wc.shape[0]
    g_count = k // group_size
    unit = np.float32(fa.step * fb.step)
    ua, ub = fa.units(xc), fb.units(wc)
    out = np.zeros((t_rows, o_rows), np.float32)
    for t in range(t_rows):
        for o in range(o_rows):
            acc = np.float32(0.0)
            for g in range(g_count):
                sl = slice(group_size * g, group_size * (g + 1))
                psum = sum(int(a) * int(b) for a, b in zip(ua[t, sl], ub[o, sl]))
                p = np.float32(psum) * unit
                scale = np.float32(xs[t, g * xs.shape[1] // g_count]) * np.float32(
                    ws[o, g * ws.shape[1] // g_count])
                acc = np.float32(acc + np.float32(scale * p))
            out[t, o] = acc if bias is None else np.float32(acc + np.float32(bias[o]))
    return out


@pytest.mark.parametrize(
    "fa,fb,gx,gw,gs",
    [(E2M1, E2M1, 64, 64, 64), (E2M1, E2M1, None, 64, 64), (E4M3, E2M1, 32, None, 32),
     (E1M2, E2M1, 64, 64, 64), (INT4, INT4, None, None, 128), (E4M3, E4M3, 128, 64, 64)],
)
@pytest.mark.parametrize("batched", [True, False])  # every group at once; group after group
def test_qlinear_contract_order_and_accuracy(fa, fb, gx, gw, gs, batched, monkeypatch):
    from fpqc.numerics import products

    if not batched:
        monkeypatch.setattr(products, "BATCHED_PRODUCTS", 0)
    rng = np.random.default_rng(1)
    t_rows, o_rows, k = 5, 6, 256
    x = (rng.standard_normal((t_rows, k)) * np.exp2(rng.uniform(-3, 3, (t_rows, 1)))).astype(
        np.float32)
    w = (rng.standard_normal((o_rows, k)) * 0.1).astype(np.float32)
    if fa is E1M2:
        x = -np.abs(x)  # dual-format negative side: magnitudes, scale from the negatives
    xs = compute_scales(x, fa, group_size=gx)
    ws = compute_scales(w, fb, group_size=gw)
    xc, wc = quantize(x, fa, xs), quantize(w, fb, ws)
    bias = rng.standard_normal(o_rows).astype(np.float32)
    y = qlinear(xc, fa, xs, wc, fb, ws, gs, bias=bias)
    assert y.dtype == np.float32 and y.shape == (t_rows, o_rows)
    assert np.array_equal(y, slow_qlinear(xc, fa, xs, wc, fb, ws, gs, bias))
    # against float64 math on the dequantized operands
    g = k // gs
    xd = fa.decode(xc).astype(np.float64) * np.repeat(xs, k // xs.shape[1], axis=1)
    wd = fb.decode(wc).astype(np.float64) * np.repeat(ws, k // ws.shape[1], axis=1)
    ref = xd @ wd.T + bias
    magnitude = np.abs(xd) @ np.abs(wd).T + np.abs(bias)
    assert np.all(np.abs(y - ref) <= 1e-6 * magnitude * g)
    # the unfused pieces give the same bits
    partials = group_partial_sums(xc, fa, wc, fb, gs)
    combined = combine_groups(partials, xs, ws, product_unit(fa, fb))
    assert np.array_equal(combined + bias, y)
    # a weight readied once serves any activations of its format
    weight = products.qlinear_weight(fa, wc, fb, ws, gs)
    # units [G, gs, O] are a view of the weight's units [O, K]: readying copies nothing but the lookup
    assert weight.units.shape == (g, gs, o_rows) and weight.units.base is not None
    for rows in (xc, xc[::-1], xc[:1]):
        scales = xs if rows is xc else xs[::-1] if rows.shape[0] == t_rows else xs[:1]
        assert np.array_equal(products.qlinear_ready(rows, scales, weight, bias),
                              slow_qlinear(rows, fa, scales, wc, fb, ws, gs, bias))


def test_qlinear_shapes_are_checked():
    from fpqc.numerics.products import qlinear_ready, qlinear_weight

    codes = np.zeros((4, 64), np.uint8)
    with pytest.raises(NumericsError, match="weights \\[O, K\\]"):
        qlinear_weight(E2M1, codes[0], E2M1, np.ones(64, np.float32), 32)
    with pytest.raises(NumericsError, match="group size 48"):
        qlinear_weight(E2M1, codes, E2M1, np.ones((4, 1), np.float32), 48)
    weight = qlinear_weight(E2M1, codes, E2M1, np.ones((4, 2), np.float32), 32)
    with pytest.raises(NumericsError, match="activations \\[T, K\\]"):
        qlinear_ready(np.zeros((3, 32), np.uint8), np.ones((3, 1), np.float32), weight)


def test_combine_groups_order_is_fixed():
    """acc = acc + (t * p), ascending g, no FMA: checked on values where order matters."""
    partials = np.array([[[2.0**24]], [[1.0]], [[1.0]]])
    ones = np.ones((1, 3), np.float32)
    # 2^24 + 1 rounds back to 2^24 (ties to even), twice
    assert combine_groups(partials, ones, ones, 1.0)[0, 0] == np.float32(2.0**24)
    assert combine_groups(partials[::-1], ones, ones, 1.0)[0, 0] == np.float32(2.0**24 + 2)
    # int -> float32 conversion rounds to nearest even
    odd = np.array([[[2.0**25 + 3]]])
    assert combine_groups(odd, np.ones((1, 1)), np.ones((1, 1)), 1.0)[0, 0] == 2.0**25 + 4
