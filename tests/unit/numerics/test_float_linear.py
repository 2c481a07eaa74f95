"""The float-level linear layer: numba's loop, the compiled tiles and the left-to-right contract give the same bits."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fpqc.numerics import ordered_loops
from fpqc.numerics.compiled_float_linear import compiled_float_linear
from fpqc.numerics.float_linear import linear_f32


def _left_to_right(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The contract, one element at a time in Python floats (float64)."""
    out = np.empty((x.shape[0], w.shape[0]), np.float32)
    for r in range(x.shape[0]):
        for n in range(w.shape[0]):
            acc = 0.0
            for k in range(x.shape[1]):
                acc = acc + float(x[r, k]) * float(w[n, k])
            out[r, n] = np.float32(acc)
    return out


def test_random_layers_match_the_defined_order_bit_for_bit():
    rng = np.random.default_rng(0)
    for rows, k, n, spread in [(5, 32, 9, 1.0), (3, 128, 7, 1e3), (4, 17, 5, 1e-30)]:
        x = (rng.standard_normal((rows, k)) * spread).astype(np.float32)
        w = rng.standard_normal((n, k)).astype(np.float32)
        np.testing.assert_array_equal(linear_f32(x, w).view(np.uint32), _left_to_right(x, w).view(np.uint32))


def test_a_sum_whose_order_matters_takes_the_defined_order():
    # 2^60 + 1 - 2^60: left to right the 1 is lost in float64 (result 0); the exact sum is 1.
    x = np.array([[2.0**60, 1.0, -(2.0**60)], [1.0, 2.0**-24, 0.0]], np.float32)
    w = np.ones((1, 3), np.float32)
    y = linear_f32(x, w)
    assert y[0, 0] == 0.0
    assert y[1, 0] == 1.0  # 1 + 2^-24 is exact in float64, a tie in fp32: to even


def test_zero_sums_are_positive_zero_and_the_bias_is_one_fp32_add():
    x = np.array([[-0.0, 0.0], [-0.0, -0.0]], np.float32)
    w = np.array([[1.0, -1.0]], np.float32)
    assert not np.signbit(linear_f32(x, w)).any()
    bias = np.array([np.float32(0.1)], np.float32)
    x = np.array([[np.float32(1.0) / 3]], np.float32)
    y = linear_f32(x, np.ones((1, 1), np.float32), bias)
    assert y.dtype == np.float32 and y[0, 0] == x[0, 0] + bias[0]


def test_leading_axes_and_non_finite_inputs():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 8)).astype(np.float32)
    x[1, 2, 4] = np.inf
    w = rng.standard_normal((6, 8)).astype(np.float32)
    y = linear_f32(x, w)
    assert y.shape == (2, 3, 6)
    np.testing.assert_array_equal(y.reshape(6, 6), _left_to_right(x.reshape(6, 8), w))
    assert np.isinf(y[1, 2]).all()


def test_a_layer_of_many_rows_takes_the_compiled_tiles_with_the_same_bits():
    kernel = compiled_float_linear()
    assert kernel is not None, "gcc builds fpqc/numerics/float_linear_kernel.c on every machine the tests run on"
    rng = np.random.default_rng(2)
    rows = 2 * kernel.rows_per_tile + 1  # whole tiles and a padded one (two rows or more take the C layer)
    x = (rng.standard_normal((rows, 40)) * 10.0 ** rng.integers(-30, 30, (rows, 40))).astype(np.float32)
    w = rng.standard_normal((kernel.outputs_per_panel + 3, 40)).astype(np.float32)
    x[0], x[3], w[:, :3] = 0.0, 0.0, 1.0  # orders that matter: left to right, 1 and 0; right to left, 0 and 1
    x[0, :3], x[3, :3] = [2.0**60, -(2.0**60), 1.0], [1.0, 2.0**60, -(2.0**60)]
    x[1, 5], x[2] = np.inf, -0.0  # an infinity; a row of negative zeros sums to +0
    expected = _left_to_right(x, w)
    np.testing.assert_array_equal(linear_f32(x, w).view(np.uint32), expected.view(np.uint32))


def test_sums_carried_from_one_block_of_k_to_the_next_keep_their_order():
    kernel = compiled_float_linear()
    rng = np.random.default_rng(3)
    k = 2 * kernel.k_block + 37  # two whole blocks of k and a part of one
    rows = kernel.rows_per_tile + 2
    x = rng.standard_normal((rows, k)).astype(np.float32)
    w = rng.standard_normal((kernel.outputs_per_panel + 5, k)).astype(np.float32)
    b = kernel.k_block
    w[:, b - 1 : b + 2] = 1.0
    x[0, b - 1 : b + 2] = [2.0**60, 1.0, -(2.0**60)]  # across the first boundary: the 1 is lost left to right
    x[1, b - 1 : b + 2] = [1.0, 2.0**60, -(2.0**60)]
    x[2, :] = -0.0  # a sum of negative zeros carried over two boundaries is +0
    expected = np.empty((rows, w.shape[0]), np.float32)
    ordered_loops.f64_dot_rows(x, w, expected)
    got = kernel.layer(x, w)
    np.testing.assert_array_equal(got.view(np.uint32), expected.view(np.uint32))
    assert not np.signbit(got[2]).any()


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 40), k=st.one_of(st.integers(1, 300), st.integers(1000, 2100)),  # one block of k, or more
       outputs=st.integers(1, 50), spread=st.integers(0, 40),
       special=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_the_compiled_layer_gives_the_ordered_loops_bits(rows, k, outputs, spread, special, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((rows, k)) * 2.0 ** rng.integers(-spread, spread + 1, (rows, k))).astype(np.float32)
    w = (rng.standard_normal((outputs, k)) * 2.0 ** rng.integers(-spread, spread + 1, (outputs, k))).astype(np.float32)
    if special:
        x[0, 0], w[-1, -1], x[-1, -1] = np.nan, -np.inf, 1e-45  # NaN, infinity, the smallest subnormal
    expected = np.empty((rows, outputs), np.float32)
    ordered_loops.f64_dot_rows(x, w, expected)
    got = compiled_float_linear().layer(x, w)
    np.testing.assert_array_equal(got.view(np.uint32), expected.view(np.uint32))
