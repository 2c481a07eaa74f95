"""The float-level linear layer: BLAS fast path and the left-to-right contract give the same bits."""

import numpy as np

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
