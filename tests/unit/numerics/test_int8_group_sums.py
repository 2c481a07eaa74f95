"""Group sums by oneDNN's int8 products (fpqc.numerics.int8_group_sums): the quantized linear layer's bits,
and only for formats where they are exact."""

import platform
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fpqc.numerics import int8_group_sums
from fpqc.numerics.formats import Format
from fpqc.numerics.int8_group_sums import int8_exact
from fpqc.numerics.products import int8_weight, qlinear_ready, qlinear_weight

from layer_operands import random_layer_operands

INT8_FORMATS = ["e2m1", "e2m3", "e1m2"]


def _x86_with_avx2() -> bool:
    """An x86-64 processor with AVX2, where oneDNN's int8 products run (elsewhere fpqc uses float32 BLAS)."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return False
    try:
        return " avx2" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return True  # not Linux: expect them


x86_only = pytest.mark.skipif(not _x86_with_avx2(), reason="oneDNN's int8 products need x86-64 with AVX2")


@x86_only
@pytest.mark.parametrize("fa", INT8_FORMATS)
@pytest.mark.parametrize("fb", INT8_FORMATS)
def test_oneDNN_sums_are_exact_for_formats_with_small_units(fa, fb):
    assert int8_exact(Format.parse(fa), Format.parse(fb), 128)


@pytest.mark.parametrize("fa, fb", [("e4m3", "e2m1"), ("e2m1", "e3m2"), ("e3m2", "e3m2")])
def test_formats_whose_units_pass_int8_are_not_packed(fa, fb):
    a, b = Format.parse(fa), Format.parse(fb)
    assert not int8_exact(a, b, 128)
    codes = np.zeros((4, 128), np.uint8)
    assert int8_weight(qlinear_weight(a, codes, b, np.ones((4, 1), np.float32), 128)) is None


def test_sums_that_would_leave_float32_exactness_are_not_packed():
    e2m3 = Format.parse("e2m3")  # 60 units: sums of 60·60·8192 need 26 bits
    assert not int8_exact(e2m3, e2m3, 8192)


def test_a_kernel_that_fails_its_check_is_not_used(monkeypatch):
    import torch

    def broken_prepack(*args):
        raise RuntimeError("no int8 products on this processor")

    int8_group_sums._kernel_is_exact.cache_clear()
    monkeypatch.setattr(torch.ops.onednn, "qlinear_prepack", broken_prepack)
    try:
        assert not int8_exact(Format.parse("e2m1"), Format.parse("e2m1"), 128)
    finally:
        int8_group_sums._kernel_is_exact.cache_clear()


@x86_only
@settings(max_examples=60, deadline=None)
@given(
    fa=st.sampled_from(INT8_FORMATS), fb=st.sampled_from(INT8_FORMATS),
    rows=st.integers(1, 40), groups=st.integers(1, 4), group_size=st.sampled_from([32, 128]),
    outputs=st.integers(1, 70), extreme=st.booleans(), with_bias=st.booleans(), seed=st.integers(0, 2**32 - 1),
)
def test_int8_products_give_the_float32_products_bits(fa, fb, rows, groups, group_size, outputs, extreme,
                                                      with_bias, seed):
    a, b = Format.parse(fa), Format.parse(fb)
    rng = np.random.default_rng(seed)
    x_codes, w_codes, x_scales, w_scales = random_layer_operands(rng, a, b, rows, groups, group_size, outputs, extreme)
    bias = rng.standard_normal(outputs).astype(np.float32) if with_bias else None
    weight = qlinear_weight(a, w_codes, b, w_scales, group_size)
    packed = int8_weight(weight)
    assert packed is not None
    expected = qlinear_ready(x_codes, x_scales, weight, bias)
    got = qlinear_ready(x_codes, x_scales, packed, bias)
    assert np.array_equal(got.view(np.uint32), expected.view(np.uint32))
