"""The compiled fixed-order loops against the contract's definition, one term at a time, bit for bit."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fpqc.numerics import ordered_loops
from fpqc.numerics.attention import (
    attention_heads,
    l2_normalize_f32,
    scores_f32,
    softmax_f32,
    sum_last_f32,
    weighted_sum_f32,
)
from fpqc.numerics.compiled_combined_rows import compiled_combined_rows
from fpqc.numerics.float_linear import linear_f32
from fpqc.numerics.products import combine_group
from fpqc.numerics.transcendental import exp_f32


def _awkward(rng, shape) -> np.ndarray:
    """Random float32 with some NaN, infinities, subnormals, signed zeros and huge values mixed in."""
    x = rng.standard_normal(shape).astype(np.float32)
    flat = x.reshape(-1)
    specials = np.array([np.nan, np.inf, -np.inf, 1e-40, -3e-42, 0.0, -0.0, 3e38, -3e38], np.float32)
    at = rng.choice(flat.size, size=min(flat.size, 12), replace=False)
    flat[at] = rng.choice(specials, size=at.size)
    return x


def _bits(x: np.ndarray) -> np.ndarray:
    """fp32 bits, every NaN as the one quiet NaN (a NaN's sign and payload are not in the contract)."""
    x = np.asarray(x, np.float32)
    return np.where(np.isnan(x), np.float32(np.nan), x).view(np.uint32)


def _sum_defined(x):
    acc = x[..., 0].copy()
    for c in range(1, x.shape[-1]):
        acc = acc + x[..., c]
    return acc[..., None]


def _scores_defined(q, k):
    acc = q[..., :, None, 0] * k[..., None, :, 0]
    for d in range(1, q.shape[-1]):
        acc = acc + q[..., :, None, d] * k[..., None, :, d]
    return acc


def _weighted_defined(p, v):
    acc = p[..., :, 0, None] * v[..., None, 0, :]
    for j in range(1, p.shape[-1]):
        acc = acc + p[..., :, j, None] * v[..., None, j, :]
    return acc


def _linear_defined(x, w):
    acc = np.zeros((x.shape[0], w.shape[0]), np.float64)
    for k in range(x.shape[1]):
        acc = acc + x[:, k, None].astype(np.float64) * w[None, :, k].astype(np.float64)
    return acc.astype(np.float32)


@pytest.mark.parametrize("shape", [(1, 1), (7, 33), (2, 3, 300)])
def test_sum_last_is_left_to_right(shape):
    x = _awkward(np.random.default_rng(0), shape)
    with np.errstate(all="ignore"):
        expected = _sum_defined(x)
    np.testing.assert_array_equal(_bits(sum_last_f32(x)), _bits(expected))


@pytest.mark.parametrize(
    "lead, n, m, depth",
    [((), 5, 7, 3), ((2, 3), 9, 17, 16), ((1,), 40, 70, 64), ((4,), 64, 128, 128)],  # the last on every core
)
def test_scores_and_weighted_sums_are_left_to_right(lead, n, m, depth):
    rng = np.random.default_rng(1)
    q = _awkward(rng, (*lead, n, depth))
    k = _awkward(rng, (*lead, m, depth))
    p = _awkward(rng, (*lead, n, m))
    v = _awkward(rng, (*lead, m, depth))
    with np.errstate(all="ignore"):
        scores, weighted = _scores_defined(q, k), _weighted_defined(p, v)
    np.testing.assert_array_equal(_bits(scores_f32(q, k)), _bits(scores))
    np.testing.assert_array_equal(_bits(weighted_sum_f32(p, v)), _bits(weighted))


def test_the_largest_cases_are_shared_among_the_cores():
    assert min(4 * 64 * 128 * 128, 61 * 256 * 300, 2 * 1024 * 2050, 4 * 1100 * 1024) >= ordered_loops.PARALLEL_WORK


def test_scores_broadcast_a_shared_key_set():
    rng = np.random.default_rng(2)
    q = rng.standard_normal((3, 4, 6, 8)).astype(np.float32)
    k = rng.standard_normal((4, 5, 8)).astype(np.float32)
    with np.errstate(all="ignore"):
        expected = _scores_defined(q, np.broadcast_to(k, (3, 4, 5, 8)))
    np.testing.assert_array_equal(_bits(scores_f32(q, k)), _bits(expected))


@pytest.mark.parametrize(
    "rows, depth, outputs",
    [(1, 1, 1), (3, 50, 7), (11, 37, 300), (17, 64, 5), (61, 256, 300), (2, 1024, 2050)],
)
def test_float_linear_tiles_keep_every_sum_in_order(rows, depth, outputs):
    """Rows and outputs that do not fill the loops' row blocks (8) and output tiles (256, or 4 for
    fewer than 8 rows); the last two on every core."""
    rng = np.random.default_rng(3)
    x = _awkward(rng, (rows, depth))
    # Magnitudes spread over 2^±60 make float64 sums depend on their order.
    w = (rng.standard_normal((outputs, depth)) * 2.0 ** rng.integers(-60, 60, (outputs, depth))).astype(np.float32)
    with np.errstate(all="ignore"):
        expected = _linear_defined(x, w)
        got = linear_f32(x, w)
    np.testing.assert_array_equal(_bits(got), _bits(expected))


@pytest.mark.parametrize("rows, outputs, dtype", [(3, 5, np.float32), (40, 300, np.float64), (1100, 1024, np.float64)])
def test_group_combination_is_the_contracts_step(rows, outputs, dtype):
    """``acc + (xs·ws)·(float32(partial)·unit)``, each operation one fp32 rounding; the last case on every core."""
    rng = np.random.default_rng(4)
    acc = _awkward(rng, (rows, outputs))
    partial = rng.integers(-(2**40), 2**40, (rows, outputs)).astype(dtype)  # float32 rounds these once
    xs, ws = _awkward(rng, (rows,)), _awkward(rng, (outputs,))
    unit = np.float32(2.0**-4)
    with np.errstate(all="ignore"):
        expected = acc + (xs[:, None] * ws[None, :]) * (partial.astype(np.float32) * unit)
        got = combine_group(acc.copy(), partial, xs, ws, unit)
    np.testing.assert_array_equal(_bits(got), _bits(expected))


@pytest.mark.parametrize("groups, rows, outputs, dtype", [(1, 3, 5, np.float32), (3, 40, 300, np.float64),
                                                     (4, 1100, 1024, np.float32)])
def test_all_groups_at_once_are_each_group_in_turn(groups, rows, outputs, dtype):
    """combine_groups (qlinear's small layers) against combine_group group after group, then the bias; the last on
    every core."""
    from fpqc.numerics import ordered_loops

    rng = np.random.default_rng(6)
    partials = rng.integers(-(2**40), 2**40, (groups, rows, outputs)).astype(dtype)
    xs, ws = _awkward(rng, (groups, rows)), _awkward(rng, (groups, outputs))
    unit = np.float32(2.0**-4)
    bias = _awkward(rng, (outputs,))
    expected, got = np.zeros((rows, outputs), np.float32), np.full((rows, outputs), np.nan, np.float32)
    with np.errstate(all="ignore"):
        for i in range(groups):
            combine_group(expected, partials[i], xs[i], ws[i], unit)
        ordered_loops.combine_groups(got, partials, xs, ws, unit)  # from +0.0, whatever ``got`` held
        np.testing.assert_array_equal(_bits(got), _bits(expected))
        ordered_loops.combine_groups(got, partials, xs, ws, unit, bias)
        np.testing.assert_array_equal(_bits(got), _bits(expected + bias))  # the bias last, one fp32 add


@pytest.mark.parametrize("shape", [(1, 1), (5, 9), (3, 4, 700), (64, 2048)])  # the last on every core
def test_softmax_is_exp_of_the_gap_to_the_maximum_over_the_left_to_right_sum(shape):
    rng = np.random.default_rng(5)
    with np.errstate(all="ignore"):
        x = _awkward(rng, shape) * np.float32(8)
        x[..., 0, :] = -np.inf  # a row of -inf: every gap is NaN
        e = exp_f32(x - np.max(x, axis=-1, keepdims=True))
        expected = e / _sum_defined(e)
        got = softmax_f32(x)
    np.testing.assert_array_equal(_bits(got), _bits(expected))


@pytest.mark.parametrize("batch, length, heads, depth", [(1, 1, 1, 1), (2, 5, 2, 8), (10, 64, 2, 64), (16, 256, 4, 64)])
def test_attention_heads_are_the_normalised_heads_of_qkv(batch, length, heads, depth):
    """One compiled pass gives the bits of l2_normalize_f32 on each head of q and k (then q's scale per head), and
    v's head rows: rows of zeros, of subnormals (below eps), with a NaN or an infinity, of huge values; the last
    case on every core."""
    rng = np.random.default_rng(9)
    width = 3 * heads * depth
    with np.errstate(all="ignore"):
        qkv = _awkward(rng, (batch, length, width)) * np.float32(4)
        qkv[0, 0, :depth] = 0.0
        qkv[0, -1, heads * depth:heads * depth + depth] = np.float32(1e-30)
        qkv[-1, 0, 0], qkv[-1, -1, heads * depth] = np.nan, np.inf
        qkv[-1, length // 2, :] = np.float32(3e38)
        q_scale = rng.uniform(0.5, 4, heads).astype(np.float32)
        eps = 1e-6

        def heads_of(part):
            x = qkv[..., part * heads * depth:(part + 1) * heads * depth]
            return x.reshape(batch, length, heads, depth).transpose(0, 2, 1, 3)

        want_q = l2_normalize_f32(heads_of(0), eps) * q_scale.reshape(1, heads, 1, 1)
        want_k = l2_normalize_f32(heads_of(1), eps)
        q, k, v = attention_heads(qkv, heads, q_scale, eps)
    for got, want in ((q, want_q), (k, want_k), (v, heads_of(2))):
        assert got.shape == (batch, heads, length, depth) and got.flags.c_contiguous
        np.testing.assert_array_equal(_bits(got), _bits(np.ascontiguousarray(want)))


def test_a_forked_child_shares_its_work_among_threads_of_its_own():
    """The parent's pool threads do not exist in a forked child; the child's calls still finish."""
    import multiprocessing

    rng = np.random.default_rng(6)
    q = rng.standard_normal((4, 64, 128)).astype(np.float32)
    k = rng.standard_normal((4, 128, 128)).astype(np.float32)
    expected = scores_f32(q, k)  # starts the parent's pool
    with multiprocessing.get_context("fork").Pool(1) as pool:
        got = pool.apply_async(scores_f32, (q, k)).get(timeout=120)  # a lost pool would hang the child
    np.testing.assert_array_equal(_bits(got), _bits(expected))


@pytest.mark.parametrize("name", ["e2m1", "e2m3", "e4m3", "e1m2"])
@pytest.mark.parametrize("rounding", ["rne", "ties-up"])
def test_the_compiled_encode_is_the_chunked_one(name, rounding, monkeypatch):
    """QuantizerTable.encode on a large array (the compiled loop, two cores) against its numpy chunks:
    random bit patterns, both infinities and NaNs of either sign around them, and the last keys,
    whose ``bits + low`` wraps in uint32."""
    from fpqc.numerics import rounding as rounding_module
    from fpqc.numerics.formats import Format

    rng = np.random.default_rng(1)
    bits = np.concatenate([
        rng.integers(0, 2**32, 1 << 20, dtype=np.uint64).astype(np.uint32),
        np.arange(2**32 - 4096, 2**32, dtype=np.uint64).astype(np.uint32),
        np.arange(0x7F800000 - 2048, 0x7F800000 + 2048, dtype=np.uint32),
        np.arange(0xFF800000 - 2048, 0xFF800000 + 2048, dtype=np.uint32),
    ])
    values = bits.view(np.float32).reshape(-1, 128)
    table = Format.parse(name).quantizer_table(rounding)
    compiled = table.encode(values)
    monkeypatch.setattr(rounding_module, "_COMPILED_ENCODE_FROM", 1 << 62)
    np.testing.assert_array_equal(compiled, table.encode(values))


@pytest.mark.parametrize("name, group", [("e2m1", 32), ("e2m3", None), ("e4m3", 16), ("int4", 64)])
@pytest.mark.parametrize("rounding", ["rne", "ties-up"])
@pytest.mark.parametrize("columns", [3, 4096])  # one core, and shared among the cores
def test_quantize_columns_is_quantize_groups_of_the_transpose(name, group, rounding, columns):
    """A weight stored transposed ([K, O], groups down its columns) quantizes as its transpose does,
    bit for bit, with the same adversarial groups as above, and K longer than a band of rows."""
    from fpqc.numerics import quantize_groups
    from fpqc.numerics.formats import Format

    fmt = Format.parse(name)
    rng = np.random.default_rng(5)
    k = 256
    x = (rng.standard_normal((columns, k)) * np.exp2(rng.integers(-30, 30, (columns, 1)))).astype(np.float32)
    x[0, :8], x[0, 8:16] = 0.0, -0.0
    x[1, 3], x[1, 40], x[1, 170] = np.nan, np.inf, -np.inf
    x[1, 100] = np.uint32(0xFFC00001).view(np.float32)  # a NaN with its sign set and a payload
    x[2, :] = rng.integers(1, 200, k).astype(np.uint32).view(np.float32) * rng.choice([-1, 1], k)  # subnormal
    x[-1, :] = np.float32(3e38) * rng.choice([-1, 1], k)
    want_codes, want_scales = quantize_groups(x, fmt, group, rounding)
    size = group or k
    shift, table = fmt.quantizer_table(rounding).key_table
    codes = np.empty((columns, k), np.uint8)
    scales = np.empty((k // size, columns), np.float32)
    ordered_loops.quantize_columns(np.ascontiguousarray(x.T), np.float32(fmt.max_value), table, shift, codes, scales)
    np.testing.assert_array_equal(codes, want_codes)
    np.testing.assert_array_equal(_bits(scales.T), _bits(want_scales))


@pytest.mark.parametrize("name, group", [("e2m1", 32), ("e2m3", None), ("e4m3", 16), ("int4", 64), ("e3m2", 8)])
@pytest.mark.parametrize("rounding", ["rne", "ties-up"])
@pytest.mark.parametrize("rows", [3, 4096])  # one core, and shared among the cores
def test_quantize_groups_is_compute_scales_then_quantize(name, group, rounding, rows):
    """The interpreter's one-pass quantizer against the contract's two steps, bit for bit: groups of zeros,
    of subnormals, with a NaN or an infinity of either sign, of huge values, and random magnitudes (a group's
    absmax is taken on the bits of its magnitudes)."""
    from fpqc.numerics import compute_scales, quantize, quantize_groups
    from fpqc.numerics.formats import Format

    fmt = Format.parse(name)
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((rows, 128)) * np.exp2(rng.integers(-30, 30, (rows, 1)))).astype(np.float32)
    x[0, :8] = 0.0
    x[0, 8:16] = -0.0
    x[1, 3], x[1, 40], x[1, 70] = np.nan, np.inf, -np.inf
    x[1, 100] = np.uint32(0xFFC00001).view(np.float32)  # a NaN with its sign set and a payload
    x[2, :] = rng.integers(1, 200, 128).astype(np.uint32).view(np.float32) * rng.choice([-1, 1], 128)  # subnormal
    x[-1, :] = np.float32(3e38) * rng.choice([-1, 1], 128)
    x = x[None]  # leading axes are kept
    codes, scales = quantize_groups(x, fmt, group, rounding)
    assert codes.shape == x.shape and scales.shape == (1, rows, 128 // (group or 128))
    with np.errstate(divide="ignore", invalid="ignore"):  # a subnormal group's scale can underflow to 0
        want_scales = compute_scales(x, fmt, axis=-1, group_size=group)
        want_codes = quantize(x, fmt, want_scales, axis=-1, group_size=group, rounding=rounding)
    np.testing.assert_array_equal(_bits(scales), _bits(want_scales))
    np.testing.assert_array_equal(codes, want_codes)


@settings(max_examples=40, deadline=None)
@given(batches=st.integers(1, 3), n=st.integers(1, 30), terms=st.integers(1, 70), width=st.integers(1, 80),
       seed=st.integers(0, 2**32 - 1))
def test_the_compiled_products_are_numbas_loop(batches, n, terms, width, seed):
    kernel = compiled_combined_rows()
    assert kernel is not None, "gcc builds fpqc/numerics/combined_rows_kernel.c on every machine the tests run on"
    rng = np.random.default_rng(seed)
    a, rows = _awkward(rng, (batches, n, terms)), _awkward(rng, (batches, terms, width))
    a[0, 0, 0], rows[0, 0, 0] = -0.0, 1.0  # a negative zero first product stays -0 when it is the whole sum
    expected = np.empty((batches, n, width), np.float32)
    with np.errstate(all="ignore"):
        ordered_loops.weighted_rows(a, rows, expected)
        got = kernel.combine(a, rows)
    np.testing.assert_array_equal(_bits(got), _bits(expected))
