"""fpqc_numerics.h and the emitted tables give the same bits as fpqc.numerics.

A small C++ driver includes the header and the tables emitted by
``fpqc.numerics.c_arrays``, is compiled with ``g++ -std=c++14 -O2 -ffp-contract=off``
and run on float32 inputs read from a file; its outputs must equal the numpy
implementation bit for bit (any NaN matches any NaN).
"""


import numpy as np
import pytest

from fpqc.numerics import (
    ROUNDING_MODES,
    Format,
    emit_decode_table,
    emit_product_table,
    emit_quantizer_tables,
    exp_f32,
    gelu_tanh_f32,
    product_table,
    product_unit,
    rsqrt_f32,
    sigmoid_f32,
    silu_f32,
    tanh_f32,
)

from cpp_driver import HEADERS, build_driver, driver_source

FUNCTIONS = {f.__name__: f for f in (exp_f32, tanh_f32, gelu_tanh_f32, sigmoid_f32, silu_f32,
                                     rsqrt_f32)}
FORMATS = ["e2m1", "e2m3", "e3m2", "e4m3", "e5m2", "e1m2", "e3m4b5", "int4", "int8"]
PRODUCTS = [("e2m1", "e2m1"), ("e4m3", "e2m1"), ("e1m2", "int8")]


def _prefix(name, rounding=None):
    text = name if rounding is None else f"{name}_{rounding}"
    return "t_" + text.replace("-", "_")


def _driver_source():
    parts = ['#include "fpqc_numerics.h"', *HEADERS]
    dispatch = []
    for name in FORMATS:
        fmt = Format.parse(name)
        parts.append(emit_decode_table(fmt, _prefix(name)))
        dispatch.append(
            f'if (!std::strcmp(mode, "dec_{name}")) {{ for (int c = 0; c < {fmt.n_codes}; ++c) '
            f"{{ float v = fpqc::decode_lut((unsigned char)c, {_prefix(name)}_decode); "
            "std::fwrite(&v, 4, 1, out); } return 0; }")
        for rounding in ROUNDING_MODES:
            p = _prefix(name, rounding)
            parts.append(emit_quantizer_tables(fmt, rounding, p))
            dispatch.append(
                f'if (!std::strcmp(mode, "enc_{name}_{rounding}")) {{ for (float v : x) {{ '
                f"unsigned char c = fpqc::encode_lut(v, {p}_neg, {p}_pos, {p}_nan_code); "
                "std::fputc(c, out); } return 0; }")
    for a, b in PRODUCTS:
        p = _prefix(f"{a}_{b}")
        n = Format.parse(a).n_codes * Format.parse(b).n_codes
        parts.append(emit_product_table(Format.parse(a), Format.parse(b), p))
        dispatch.append(
            f'if (!std::strcmp(mode, "prod_{a}_{b}")) {{ for (int i = 0; i < {n}; ++i) '
            f"{{ long long v = {p}_prod[i]; std::fwrite(&v, 8, 1, out); }} "
            f"std::fwrite(&{p}_unit, 4, 1, out); return 0; }}")
    for fn in FUNCTIONS:
        dispatch.append(
            f'if (!std::strcmp(mode, "{fn}")) {{ for (float v : x) {{ float y = fpqc::{fn}(v); '
            "std::fwrite(&y, 4, 1, out); } return 0; }")
    return driver_source(parts, dispatch)


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    work = tmp_path_factory.mktemp("cpp_mirror")
    return build_driver(work, _driver_source())


def special_inputs():
    """Signed zeros, infinities, NaNs, subnormals and each function's branch points."""
    edges = [0.0, np.inf, np.nan, 2.0**-149, 2.0**-126, 2.0**-127, 1e-30, 0.55, 0.5, 1.0,
             88.72283, 88.7228394, 89.0, 103.97, 104.0, 16.0, 200.0, 9.0, 2.0**23, 3.4e38]
    x = np.float32(edges)
    near = np.concatenate([np.nextafter(x, np.float32(np.inf)), np.nextafter(x, np.float32(0))])
    x = np.concatenate([x, near])
    return np.concatenate([x, -x, np.uint32([0x7FC00001, 0xFFC00000, 0x7F800001]).view(np.float32)])


def bit_sweep(stride):
    return np.arange(0, 2**32, stride, dtype=np.uint64).astype(np.uint32).view(np.float32)


def assert_same_float_bits(got, want):
    assert got.shape == want.shape
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(got), nan)
    diff = np.flatnonzero(got.view(np.uint32)[~nan] != want.view(np.uint32)[~nan])
    assert diff.size == 0, f"{diff.size} differ, first at {want[~nan][diff[0]]!r}"


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_transcendentals_bit_exact(driver, name):
    x = np.concatenate([bit_sweep(4093), special_inputs(),
                        np.linspace(-20, 20, 200_001, dtype=np.float32)])
    assert x.size > 1_000_000
    assert_same_float_bits(driver(name, x), FUNCTIONS[name](x))


def encode_inputs(fmt):
    grid = fmt.values().astype(np.float64)
    mids = ((grid[1:] + grid[:-1]) / 2).astype(np.float32)
    rng = np.random.default_rng(0)
    wide = (rng.standard_normal(100_000) * np.exp2(rng.uniform(-20, 20, 100_000)))
    return np.concatenate([bit_sweep(16381), special_inputs(), mids,
                           np.nextafter(mids, np.float32(np.inf)), np.nextafter(mids, np.float32(0)),
                           grid.astype(np.float32), wide.astype(np.float32)])


@pytest.mark.parametrize("name", FORMATS)
def test_encode_and_decode_bit_exact(driver, name):
    fmt = Format.parse(name)
    x = encode_inputs(fmt)
    for rounding in ROUNDING_MODES:
        got = driver(f"enc_{name}_{rounding}", x, dtype=np.uint8)
        assert np.array_equal(got, fmt.encode(x, rounding=rounding)), rounding
    assert_same_float_bits(driver(f"dec_{name}"), fmt.decode(np.arange(fmt.n_codes)))


@pytest.mark.parametrize("a,b", PRODUCTS)
def test_product_tables(driver, a, b):
    fa, fb = Format.parse(a), Format.parse(b)
    raw = driver(f"prod_{a}_{b}", dtype=np.uint8)
    n = fa.n_codes * fb.n_codes
    assert np.array_equal(raw[: 8 * n].view(np.int64), product_table(fa, fb).ravel())
    assert raw[8 * n :].view(np.float32)[0] == product_unit(fa, fb)
