"""The compiled quantized linear layer (fpqc.numerics.compiled_qlinear) against the BLAS path, bit for bit."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fpqc.numerics import c_library as c_library_module
from fpqc.numerics import compiled_qlinear as compiled_module
from fpqc.numerics import products
from fpqc.numerics.errors import NumericsError
from fpqc.numerics.formats import Format
from fpqc.numerics.products import exact_sum_dtype, qlinear, qlinear_weight

from layer_operands import random_layer_operands

FLOAT32_EXACT = ["e2m1", "e2m3", "e3m2", "e1m2", "e4m3"]


def _compiled():
    kernel = compiled_module.compiled_qlinear()
    assert kernel is not None, "gcc builds fpqc/numerics/qlinear_kernel.c on every machine the tests run on"
    return kernel


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, np.float32).view(np.uint32)


@settings(max_examples=80, deadline=None)
@given(
    fa=st.sampled_from(FLOAT32_EXACT), fb=st.sampled_from(FLOAT32_EXACT),
    rows=st.integers(1, 30), groups=st.integers(1, 3), group_size=st.sampled_from([16, 32, 128]),
    outputs=st.integers(1, 70), extreme=st.booleans(), with_bias=st.booleans(), special=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_compiled_layer_gives_the_blas_paths_bits(fa, fb, rows, groups, group_size, outputs, extreme,
                                                       with_bias, special, seed):
    a, b = Format.parse(fa), Format.parse(fb)
    if exact_sum_dtype(a, b, group_size) != np.float32:
        return  # the compiled layer takes only sums exact in float32; qlinear_weight checks
    rng = np.random.default_rng(seed)
    x_codes, w_codes, x_scales, w_scales = random_layer_operands(rng, a, b, rows, groups, group_size, outputs, extreme)
    if special:  # a NaN and an infinite scale (a group that held them) propagate as in the contract
        x_scales[0, 0] = np.nan
        w_scales[-1, -1] = np.inf
    bias = rng.standard_normal(outputs).astype(np.float32) if with_bias else None
    expected = qlinear(x_codes, a, x_scales, w_codes, b, w_scales, group_size, bias)  # small: the BLAS path
    xs = products.group_major_scales(x_scales, rows, groups, "activation")
    ws = products.group_major_scales(w_scales, outputs, groups, "weight")
    got = _compiled().layer(x_codes, a, xs, w_codes, b, ws, products.product_unit(a, b), bias, group_size)
    assert np.array_equal(_bits(got), _bits(expected))


def test_a_large_weight_is_read_from_its_codes_with_the_same_bits(monkeypatch):
    f = Format.parse("e2m1")
    rng = np.random.default_rng(1)
    x_codes = rng.integers(0, 16, (50, 256)).astype(np.uint8)
    w_codes = rng.integers(0, 16, (40, 256)).astype(np.uint8)
    x_scales = rng.uniform(0.1, 2, (50, 2)).astype(np.float32)
    w_scales = rng.uniform(0.1, 2, (40, 2)).astype(np.float32)
    expected = qlinear(x_codes, f, x_scales, w_codes, f, w_scales, 128)
    monkeypatch.setattr(products, "COMPILED_FROM", 1)
    weight = qlinear_weight(f, w_codes, f, w_scales, 128)
    assert weight.units is None and weight.codes is not None
    assert np.array_equal(_bits(products.qlinear_ready(x_codes, x_scales, weight)), _bits(expected))


def test_a_code_the_format_lacks_is_refused_on_the_compiled_path(monkeypatch):
    f = Format.parse("e2m1")
    monkeypatch.setattr(products, "COMPILED_FROM", 1)
    weight = qlinear_weight(f, np.zeros((4, 128), np.uint8), f, np.ones((4, 1), np.float32), 128)
    with pytest.raises(NumericsError, match="not a code of"):
        products.qlinear_ready(np.full((2, 128), 16, np.uint8), np.ones((2, 1), np.float32), weight)
    with pytest.raises(NumericsError, match="not a code of"):
        qlinear_weight(f, np.full((4, 128), 17, np.uint8), f, np.ones((4, 1), np.float32), 128)


def test_without_a_compiler_the_blas_path_is_used(monkeypatch):
    f = Format.parse("e2m1")
    monkeypatch.setenv("CC", "/nonexistent/cc")
    monkeypatch.setattr(products, "COMPILED_FROM", 1)
    c_library_module.c_library.cache_clear()
    compiled_module.compiled_qlinear.cache_clear()
    try:
        assert compiled_module.compiled_qlinear() is None
        weight = qlinear_weight(f, np.zeros((4, 128), np.uint8), f, np.ones((4, 1), np.float32), 128)
        assert weight.codes is None and weight.units is not None
    finally:
        c_library_module.c_library.cache_clear()
        compiled_module.compiled_qlinear.cache_clear()


def test_a_library_is_built_once_into_a_name_of_its_inputs(tmp_path, monkeypatch):
    monkeypatch.setattr(c_library_module.Path, "home", lambda: tmp_path)
    c_library_module.c_library.cache_clear()
    try:
        assert c_library_module.c_library("qlinear_kernel.c") is not None
        source = c_library_module.Path(c_library_module.__file__).with_name("qlinear_kernel.c")
        libraries = [*(source.parent / "__pycache__").glob("qlinear_kernel-*.so"),
                     *(tmp_path / ".cache" / "fpqc").glob("qlinear_kernel-*.so")]
        assert libraries, "the built library is kept"
        assert not list(libraries[0].parent.glob("qlinear_kernel-*.tmp")), "no temporary file is left"
        built = {p: p.stat().st_mtime_ns for p in libraries}
        c_library_module.c_library.cache_clear()
        assert c_library_module.c_library("qlinear_kernel.c") is not None
        assert {p: p.stat().st_mtime_ns for p in libraries} == built, "a second process loads it, builds nothing"
    finally:
        c_library_module.c_library.cache_clear()
