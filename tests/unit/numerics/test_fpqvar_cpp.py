"""fpqc_fpqvar.h and the emitted tables give the same bits as fpqc.numerics.

A C++ driver includes ``fpqc_fpqvar.h`` and the tables of ``emit_dual_tables``,
``emit_dual_product_tables`` and ``emit_ght_signs``; it is compiled with
``g++ -std=c++14 -O2 -ffp-contract=off`` and its outputs on random data (with
exact ties, one-sided, all-zero, tiny and non-finite groups) must equal the
numpy functions bit for bit.
"""


import numpy as np
import pytest

from fpqc.numerics import (
    ROUNDING_MODES,
    DualFormat,
    Format,
    compute_dual_scales,
    compute_scales,
    dual_qlinear,
    dual_quantize,
    emit_dual_product_tables,
    emit_dual_tables,
    emit_ght_signs,
    fwht_f32,
    ght_f32,
    quantize,
    random_signs,
)

from cpp_driver import HEADERS, build_driver, driver_source

DIM = 256  # row length of the FWHT / GHT modes
FWHT_BLOCKS = [1, 2, 64, 128, 256]
GHT_SEED = 17
# dual-format quantizer modes: preset -> group size
QUANT = {"dfq-w4a4": 128, "dfq-w6a6": 256, "mixedformat": 32}
# dual linear layers: name -> (preset, weight format, K, XG, WG)
LINEAR = {
    "w4a4": ("dfq-w4a4", "e2m1", 512, 128, 128),
    "w6a6": ("dfq-w6a6", "e2m3", 512, 512, 512),
    "mixed": ("mixedformat", "e2m1", 512, 512, 64),
    "w4a4_e4m3": ("dfq-w4a4", "e4m3", 512, 32, 128),
}
T, O = 48, 40


def _ident(text):
    return text.replace("-", "_")


def _driver_source():
    parts = ['#include "fpqc_fpqvar.h"', *HEADERS, emit_ght_signs(random_signs(DIM, GHT_SEED), "t")]
    dispatch = []
    for block in FWHT_BLOCKS:
        dispatch.append(
            f'if (!std::strcmp(mode, "fwht_{block}")) {{ for (std::size_t r = 0; r < x.size(); '
            f"r += {DIM}) for (int b = 0; b < {DIM}; b += {block}) "
            f"fpqc::fwht_f32<{block}>(&x[r + b]); "
            "std::fwrite(x.data(), 4, x.size(), out); return 0; }")
    dispatch.append(
        f'if (!std::strcmp(mode, "ght_128")) {{ for (std::size_t r = 0; r < x.size(); r += {DIM}) '
        f"fpqc::ght_f32<{DIM}, 128>(&x[r], t_signs); std::fwrite(x.data(), 4, x.size(), out); "
        "return 0; }")
    for preset, g in QUANT.items():
        for rounding in ROUNDING_MODES:
            q = f"q_{_ident(preset)}_{_ident(rounding)}"
            parts.append(emit_dual_tables(DualFormat.parse(preset), rounding, q))
            dispatch.append(
                f'if (!std::strcmp(mode, "{q}")) {{ unsigned char n[{g}], p[{g}]; float sn, sp; '
                f"for (std::size_t i = 0; i < x.size(); i += {g}) {{ "
                f"fpqc::dual_scales<{g}>(&x[i], {q}, &sn, &sp); "
                f"fpqc::dual_quantize<{g}>(&x[i], sn, sp, {q}, n, p); "
                "std::fwrite(&sn, 4, 1, out); std::fwrite(&sp, 4, 1, out); "
                f"std::fwrite(n, 1, {g}, out); std::fwrite(p, 1, {g}, out); }} return 0; }}")
    for name, (preset, w_name, k, xg, wg) in LINEAR.items():
        dual, w_fmt = DualFormat.parse(preset), Format.parse(w_name)
        q, pt = f"l_{name}", f"lp_{name}"
        g = min(xg, wg)
        parts.append(emit_dual_tables(dual, "rne", q))
        parts.append(emit_dual_product_tables(dual, w_fmt, pt))
        # input: x [T, K], weight codes [O, K] (as floats), weight scales [O, K/WG], bias [O]
        dispatch.append(f"""if (!std::strcmp(mode, "{q}")) {{
    const float* xs = x.data();
    const float* wf = xs + {T * k};
    const float* ws = wf + {O * k};
    const float* bias = ws + {O * k // wg};
    static unsigned char n[{T * k}], p[{T * k}], w[{O * k}];
    static float sn[{T * k // xg}], sp[{T * k // xg}];
    for (int i = 0; i < {O * k}; ++i) w[i] = (unsigned char)wf[i];
    for (int i = 0; i < {T * k // xg}; ++i) {{
      fpqc::dual_scales<{xg}>(xs + i * {xg}, {q}, &sn[i], &sp[i]);
      fpqc::dual_quantize<{xg}>(xs + i * {xg}, sn[i], sp[i], {q}, n + i * {xg}, p + i * {xg});
    }}
    for (int r = 0; r < {T}; ++r) for (int o = 0; o < {O}; ++o) {{
      float acc = fpqc::dual_dot<{k}, {g}, {w_fmt.bits}, {xg}, {wg}>(
          n + r * {k}, p + r * {k}, w + o * {k}, sn + r * {k // xg}, sp + r * {k // xg},
          ws + o * {k // wg}, {pt}_n_prod, {pt}_n_unit, {pt}_p_prod, {pt}_p_unit);
      float y = acc + bias[o];
      std::fwrite(&y, 4, 1, out);
    }}
    return 0;
  }}""")
    return driver_source(parts, dispatch)


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    work = tmp_path_factory.mktemp("fpqvar_cpp")
    run = build_driver(work, _driver_source())
    return lambda mode, x: run(mode, x, np.uint8)


def assert_same_float_bits(got, want):
    assert got.shape == want.shape and got.dtype == want.dtype == np.float32
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(got), nan)
    diff = np.flatnonzero(got.view(np.uint32)[~nan] != want.view(np.uint32)[~nan])
    assert diff.size == 0, f"{diff.size} differ, first at index {diff[0]}"


def fwht_inputs(rng):
    rows = 800
    x = rng.standard_normal((rows, DIM)) * np.exp2(rng.uniform(-30, 30, (rows, 1)))
    x[:8] = rng.integers(-3, 4, (8, DIM))  # many exact cancellations and signed zeros
    x[8, :] = -0.0
    x[9, ::7] = np.inf
    x[10, 5] = np.nan
    x[11] = np.float32(3.4e38)  # overflows to inf in the first stage
    return x.astype(np.float32)


@pytest.mark.parametrize("block", FWHT_BLOCKS)
def test_fwht_bit_exact(driver, block):
    x = fwht_inputs(np.random.default_rng(block))
    assert x.size >= 100_000
    got = driver(f"fwht_{block}", x).view(np.float32).reshape(x.shape)
    with np.errstate(invalid="ignore", over="ignore"):
        want = fwht_f32(x, block)
    assert_same_float_bits(got, want)


def test_ght_bit_exact(driver):
    x = fwht_inputs(np.random.default_rng(99))
    got = driver("ght_128", x).view(np.float32).reshape(x.shape)
    with np.errstate(invalid="ignore", over="ignore"):
        want = ght_f32(x, random_signs(DIM, GHT_SEED), 128)
    assert_same_float_bits(got, want)


def dual_inputs(dual: DualFormat, g: int, rng) -> np.ndarray:
    """Random groups plus groups built to hit every tie, one-sided, zero and broken groups."""
    n_random = -(-100_000 // g)
    x = rng.standard_normal((n_random, g)) * np.exp2(rng.uniform(-20, 20, (n_random, 1)))
    x = x - rng.uniform(0, 2, (n_random, 1)) * np.abs(x).mean(axis=1, keepdims=True)
    special = []
    neg_grid = np.unique(dual.neg.quantizer_table().neg.magnitudes)
    pos_grid = np.unique(dual.pos.quantizer_table().pos.magnitudes)
    for p in range(-6, 7, 3):
        # scales exactly 2^p: the extremes are -neg_max * 2^p and pos_max * 2^p
        neg_pts = -np.concatenate([neg_grid, (neg_grid[1:] + neg_grid[:-1]) / 2]) * 2.0**p
        pos_pts = np.concatenate([pos_grid, (pos_grid[1:] + pos_grid[:-1]) / 2]) * 2.0**p
        pts = np.concatenate([neg_pts, pos_pts]).astype(np.float32)
        pts = np.concatenate([pts, np.nextafter(pts, np.float32(np.inf)),
                              np.nextafter(pts, np.float32(-np.inf))])
        pts = rng.permutation(pts)
        for i in range(0, pts.size, g - 2):
            grp = np.zeros(g, np.float32)
            chunk = pts[i : i + g - 2]
            grp[: chunk.size] = chunk
            grp[-2:] = [-dual.neg_max * 2.0**p, dual.pos_max * 2.0**p]
            special.append(grp)
    all_neg = -np.abs(rng.standard_normal(g))
    all_neg[::5] = -0.0
    all_pos = np.abs(rng.standard_normal(g))
    all_pos[::5] = 0.0
    tiny = np.float32(rng.choice([-1, 1], g) * 1.4e-45 * rng.integers(0, 4, g))
    neg_zeros = np.full(g, -0.0)
    broken = [rng.standard_normal(g) for _ in range(3)]
    broken[0][3], broken[1][g - 1], broken[2][0] = np.inf, -np.inf, np.nan
    special += [all_neg, all_pos, np.zeros(g), tiny, neg_zeros, *broken]
    return np.concatenate([x.astype(np.float32), np.array(special, dtype=np.float32)])


@pytest.mark.parametrize("preset", list(QUANT))
def test_dual_quantize_bit_exact(driver, preset):
    dual, g = DualFormat.parse(preset), QUANT[preset]
    x = dual_inputs(dual, g, np.random.default_rng(len(preset)))
    assert x.size >= 100_000
    s_neg, s_pos = compute_dual_scales(x, dual)
    assert (s_neg == 1).any() and (s_pos == 1).any() and np.isnan(s_neg).sum() == 3
    for rounding in ROUNDING_MODES:
        raw = driver(f"q_{_ident(preset)}_{_ident(rounding)}", x).reshape(len(x), 8 + 2 * g)
        assert_same_float_bits(raw[:, 0:4].copy().view(np.float32)[:, 0], s_neg[:, 0])
        assert_same_float_bits(raw[:, 4:8].copy().view(np.float32)[:, 0], s_pos[:, 0])
        with np.errstate(invalid="ignore"):
            neg, pos = dual_quantize(x, dual, s_neg, s_pos, rounding=rounding)
        assert np.array_equal(raw[:, 8 : 8 + g], neg), rounding
        assert np.array_equal(raw[:, 8 + g :], pos), rounding


@pytest.mark.parametrize("name", list(LINEAR))
def test_dual_qlinear_bit_exact(driver, name):
    preset, w_name, k, xg, wg = LINEAR[name]
    dual, w_fmt = DualFormat.parse(preset), Format.parse(w_name)
    rng = np.random.default_rng(k + xg + wg)
    x = (rng.standard_normal((T, k)) * 2 - 1).astype(np.float32)
    x[0] = -np.abs(x[0])          # a token with only negatives
    x[1] = np.abs(x[1])           # only positives
    x[2] = 0.0                    # all zero
    x[3, ::4] = 0.5 * np.ceil(x[3, ::4])  # exact values and ties in the mix
    w = rng.standard_normal((O, k)).astype(np.float32)
    ws = compute_scales(w, w_fmt, group_size=wg)
    wc = quantize(w, w_fmt, ws, group_size=wg)
    bias = rng.standard_normal(O).astype(np.float32)
    s_neg, s_pos = compute_dual_scales(x, dual, xg)
    neg, pos = dual_quantize(x, dual, s_neg, s_pos, xg)
    want = dual_qlinear(neg, pos, dual, s_neg, s_pos, wc, w_fmt, ws, min(xg, wg), bias)
    packed = np.concatenate([x.ravel(), wc.astype(np.float32).ravel(), ws.ravel(), bias])
    got = driver(f"l_{name}", packed).view(np.float32).reshape(T, O)
    assert_same_float_bits(got, want)
