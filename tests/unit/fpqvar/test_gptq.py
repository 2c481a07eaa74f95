"""GPTQ weight rounding (fpqc.quant.gptq) against a plain float64 reference, and its Hessian's travels."""

from __future__ import annotations

import numpy as np
import pytest

from fpqc.numerics import Format
from fpqc.numerics.hadamard import ght_congruence, ght_matrix
from fpqc.numerics.scales import scales_of_absmax, quantize_weight
from fpqc.quant.gptq import gptq_quantize_weight, input_hessian


def gptq_reference(w, h, fmt, group_size, rounding="rne", damp=0.01):
    """Textbook GPTQ (OBQ order, no Cholesky, no batches): after each column, update every later
    column with the inverse Hessian and remove the column from it."""
    w = np.array(w, dtype=np.float64)
    o, k = w.shape
    h = np.array(h, dtype=np.float64)
    dead = np.diag(h) <= 0
    h[dead, :] = 0
    h[:, dead] = 0
    h[dead, dead] = 1
    h += damp * np.mean(np.diag(h)) * np.eye(k)
    hinv = np.linalg.inv(h)
    codes = np.zeros((o, k), dtype=np.uint8)
    scales = np.zeros((o, k // group_size), dtype=np.float32)
    for j in range(k):
        if j % group_size == 0:
            absmax = np.abs(w[:, j : j + group_size]).max(axis=1).astype(np.float32)
            scales[:, j // group_size] = scales_of_absmax(absmax, fmt, "fp32")
        s = scales[:, j // group_size]
        codes[:, j] = fmt.encode(w[:, j].astype(np.float32) / s, rounding=rounding)
        error = (w[:, j] - fmt.decode(codes[:, j]).astype(np.float64) * s) / hinv[j, j]
        w[:, j + 1 :] -= np.outer(error, hinv[j, j + 1 :])
        hinv = hinv - np.outer(hinv[:, j], hinv[j, :]) / hinv[j, j]
    return codes, scales


def correlated_rows(n: int, k: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(k, k)) / np.sqrt(k) + np.eye(k)
    return (rng.normal(size=(n, k)) @ mix).astype(np.float32)


@pytest.mark.parametrize("fmt_name,group_size", [("e2m1", 16), ("e2m1", 64), ("e2m3", 64), ("int4", 32)])
def test_gptq_is_the_textbook_algorithm(fmt_name: str, group_size: int) -> None:
    fmt = Format.parse(fmt_name)
    rng = np.random.default_rng(1)
    w = rng.normal(size=(24, 64)).astype(np.float32)
    h = input_hessian([correlated_rows(300, 64, 2)])
    codes, scales = gptq_quantize_weight(w, h, fmt, group_size)
    ref_codes, ref_scales = gptq_reference(w, h, fmt, group_size)
    np.testing.assert_array_equal(scales, ref_scales)
    np.testing.assert_array_equal(codes, ref_codes)


def test_gptq_lowers_the_output_error_on_the_calibration_rows() -> None:
    fmt = Format.parse("e2m1")
    x = correlated_rows(400, 128, 3)
    w = np.random.default_rng(4).normal(size=(32, 128)).astype(np.float32)
    rtn = quantize_weight(w, fmt, 32)
    gptq = gptq_quantize_weight(w, input_hessian([x[:200], x[200:]]), fmt, 32)

    def output_error(codes, scales):
        dequantized = fmt.decode(codes) * np.repeat(scales, 32, axis=1)
        return float(np.sum((x.astype(np.float64) @ (w - dequantized).T.astype(np.float64)) ** 2))

    assert output_error(*gptq) < 0.8 * output_error(*rtn)


def test_without_correlations_gptq_rounds_to_nearest() -> None:
    """A diagonal Hessian carries no error from one column to another: GPTQ is RTN, bit for bit."""
    fmt = Format.parse("e2m1")
    w = np.random.default_rng(5).normal(size=(16, 64)).astype(np.float32)
    h = np.diag(np.random.default_rng(6).uniform(0.5, 2.0, size=64))
    for group in (16, None):
        codes, scales = gptq_quantize_weight(w, h, fmt, group)
        rtn_codes, rtn_scales = quantize_weight(w, fmt, group)
        np.testing.assert_array_equal(codes, rtn_codes)
        np.testing.assert_array_equal(scales, rtn_scales)


def test_a_channel_no_row_reaches_is_rounded_to_nearest_and_passes_nothing_on() -> None:
    fmt = Format.parse("e2m1")
    x = correlated_rows(300, 32, 7)
    x[:, 5] = 0
    h = input_hessian([x])
    w = np.random.default_rng(8).normal(size=(8, 32)).astype(np.float32)
    codes, _ = gptq_quantize_weight(w, h, fmt, 32)
    np.testing.assert_array_equal(codes, gptq_reference(w, h, fmt, 32)[0])
    np.testing.assert_array_equal(codes[:, 5], quantize_weight(w, fmt, 32)[0][:, 5])
    changed = w.copy()
    changed[:, 5] *= 0.7
    other = np.arange(32) != 5
    np.testing.assert_array_equal(gptq_quantize_weight(changed, h, fmt, 32)[0][:, other], codes[:, other])


def test_calibration_rows_with_nan_are_refused() -> None:
    from fpqc.numerics.errors import NumericsError

    x = correlated_rows(20, 16, 10)
    x[3, 4] = np.nan
    with pytest.raises(NumericsError, match="NaN or inf; rerun `fpqc calibrate`"):
        gptq_quantize_weight(np.ones((2, 16), np.float32), input_hessian([x]), Format.parse("e2m1"), 16)


def test_ght_congruence_is_the_second_moment_of_the_transformed_rows() -> None:
    x = correlated_rows(50, 256, 9).astype(np.float64)
    q = ght_matrix(256, 64, 3)
    np.testing.assert_allclose(ght_congruence(x.T @ x, 64, 3), (x @ q).T @ (x @ q), rtol=1e-10, atol=1e-9)
