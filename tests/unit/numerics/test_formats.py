"""Formats and the LUT quantizer against independent oracles (ml_dtypes, QONNX FloatQuant)."""

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fpqc.numerics import NumericsError
from fpqc.numerics import ROUNDING_MODES, Format

ML_DTYPES = {
    "e2m1": ml_dtypes.float4_e2m1fn,
    "e2m3": ml_dtypes.float6_e2m3fn,
    "e3m2": ml_dtypes.float6_e3m2fn,
    "e4m3fn": ml_dtypes.float8_e4m3fn,
    "e5m2": ml_dtypes.float8_e5m2,
}


def same_bits(a, b):
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    both_nan = np.isnan(a) & np.isnan(b)
    return bool(np.all(both_nan | (a.view(np.uint32) == b.view(np.uint32))))


def probe_values(fmt, n=200_000, seed=0):
    """Random values over a wide range, every midpoint (tie) and grid value, +-0, +-inf."""
    rng = np.random.default_rng(seed)
    wide = rng.standard_normal(n) * np.exp2(rng.uniform(-30, 20, n))
    grid = fmt.values().astype(np.float64)
    mids = (grid[1:] + grid[:-1]) / 2
    ulp_top = 2.0 ** (np.floor(np.log2(fmt.max_value)) - max(fmt.mantissa_bits, 0))
    edges = np.array([fmt.max_value + ulp_top / 2, fmt.max_value + ulp_top, 1e30])
    x = np.concatenate([wide, grid, mids, edges, -edges, [0.0, -0.0, np.inf, -np.inf]])
    return x.astype(np.float32)


@pytest.mark.parametrize("name", ML_DTYPES)
def test_decode_every_code_matches_ml_dtypes(name):
    fmt = Format.parse(name)
    ref = np.arange(fmt.n_codes, dtype=np.uint8).view(ML_DTYPES[name]).astype(np.float32)
    assert same_bits(fmt.decode(np.arange(fmt.n_codes)), ref)
    assert fmt.n_codes == 2**fmt.bits


@pytest.mark.parametrize("name", ML_DTYPES)
def test_encode_matches_ml_dtypes_cast(name):
    fmt, dtype = Format.parse(name), ML_DTYPES[name]
    x = probe_values(fmt)
    got = fmt.encode(x, saturate=False)
    assert np.array_equal(got, x.astype(dtype).view(np.uint8))
    clipped = np.clip(x, -fmt.max_value, fmt.max_value)
    assert np.array_equal(fmt.encode(x), clipped.astype(dtype).view(np.uint8))


@pytest.mark.parametrize("name", ["e4m3fn", "e5m2"])
def test_nan_encodes_to_nan_code(name):
    fmt = Format.parse(name)
    nan = np.float32([np.nan])
    assert fmt.encode(nan)[0] == fmt.nan_code
    assert fmt.encode(nan, saturate=False)[0] == nan.astype(ML_DTYPES[name]).view(np.uint8)[0]
    assert np.isnan(fmt.decode([fmt.nan_code])[0])


def test_nan_without_nan_code_is_plus_zero():
    for name in ("e2m1", "e1m2", "int4"):
        fmt = Format.parse(name)
        assert not fmt.has_nan and fmt.nan_code == 0
        assert fmt.encode(np.float32([np.nan]))[0] == 0


def floatquant_reference(x, fmt):
    """QONNX FloatQuant (saturating, subnormals, round half to even), in float64."""
    x = np.clip(x.astype(np.float64), -fmt.max_value, fmt.max_value)
    _, e = np.frexp(np.abs(x))
    e = np.maximum(e - 1, 1 - fmt.bias)  # exponent of each value, floored at the subnormal one
    quantum = np.exp2((e - fmt.mantissa_bits).astype(np.float64))
    return np.round(x / quantum) * quantum


@pytest.mark.parametrize(
    "name", ["e2m1", "e2m3", "e3m2", "e4m3", "e5m2", "e1m2", "e3m4b5", "e2m2b0", "e4m3b9",
             "e3m3", "e5m0", "e2m0", "e1m0", "e6m1", "e4m3ieee", "e2m1b-1"]
)
def test_floatquant_formula(name):
    fmt = Format.parse(name)
    x = probe_values(fmt, n=50_000, seed=1)
    x = x[np.isfinite(x)]
    got = fmt.decode(fmt.encode(x)).astype(np.float64)
    assert np.array_equal(got, floatquant_reference(x, fmt))


@pytest.mark.parametrize("bits", [2, 4, 6, 8])
def test_int_formats(bits):
    fmt = Format.parse(f"int{bits}")
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    rng = np.random.default_rng(bits)
    x = np.concatenate([rng.uniform(-2 * hi - 3, 2 * hi + 3, 100_000),
                        np.arange(2 * lo - 2, 2 * hi + 3) / 2]).astype(np.float32)
    ref = np.clip(np.round(x), lo, hi)
    codes = fmt.encode(x)
    assert np.array_equal(fmt.decode(codes), ref)
    assert np.array_equal(codes, (ref.astype(np.int64) & (2**bits - 1)).astype(np.uint8))
    assert np.array_equal(fmt.units(codes), ref.astype(np.int64))
    assert fmt.encode(np.float32([-0.0]))[0] == 0  # one zero code
    assert fmt.max_value == hi and fmt.step == 1.0


def test_ties_up_mode():
    fmt = Format.parse("e2m1")
    x = np.float32([2.5, -2.5, 0.25, -0.25, 0.75, -0.75, 5.0, -5.0])
    codes = fmt.encode(x, rounding="ties-up")
    assert fmt.decode(codes).tolist() == [3.0, -2.0, 0.5, 0.0, 1.0, -0.5, 6.0, -4.0]
    assert codes[3] == 0x8  # -0.25 -> -0: negatives rounding to zero keep the sign bit
    assert fmt.decode(fmt.encode(x)).tolist() == [2.0, -2.0, 0.0, 0.0, 1.0, -1.0, 4.0, -4.0]
    assert fmt.decode(fmt.encode(x, rounding="ties-away")).tolist() == [
        3.0, -3.0, 0.5, -0.5, 1.0, -1.0, 6.0, -6.0]


def test_ties_up_matches_fpqvar_grid_search():
    """FPQVAR's reference: nearest grid point, ties to the later (larger) entry."""
    fmt = Format.parse("e2m3")
    grid = fmt.values().astype(np.float64)
    x = np.concatenate([(grid[1:] + grid[:-1]) / 2, np.linspace(-8, 8, 3001)]).astype(np.float32)
    dist = np.abs(x[:, None].astype(np.float64) - grid[None, :])
    ref = grid[len(grid) - 1 - np.argmin(dist[:, ::-1], axis=1)]  # last minimum
    got = fmt.decode(fmt.encode(x, rounding="ties-up"))
    assert np.array_equal(got, ref)


@pytest.mark.parametrize(
    "name,canonical,max_value",
    [("fp4", "e2m1", 6.0), ("fp6", "e2m3", 7.5), ("fp8", "e4m3", 448.0), ("e4m3fn", "e4m3", 448.0),
     ("e3m2", "e3m2", 28.0), ("e5m2", "e5m2", 57344.0), ("e1m2", "e1m2", 1.75),
     ("e3m4b5", "e3m4b5", 7.75), ("e3m4b3", "e3m4", 31.0), ("e2m1fn", "e2m1fn", 4.0),
     ("int8", "int8", 127.0), ("E2M1", "e2m1", 6.0)],
)
def test_names_round_trip(name, canonical, max_value):
    fmt = Format.parse(name)
    assert fmt.name == canonical == str(fmt)
    assert Format.parse(fmt.name) == fmt
    assert hash(Format.parse(canonical)) == hash(fmt)
    assert fmt.max_value == max_value


def test_e1m2_is_uniform_grid():
    fmt = Format.parse("e1m2")
    assert fmt.bias == 1 and fmt.step == 0.25
    assert fmt.values().tolist() == [i / 4 for i in range(-7, 8)]
    assert fmt.units(np.arange(16)).tolist() == list(range(8)) + [0, -1, -2, -3, -4, -5, -6, -7]


def test_properties():
    e4m3 = Format.parse("e4m3")
    assert (e4m3.specials, e4m3.nan_code, e4m3.has_nan, e4m3.step) == ("fn", 0x7F, True, 2.0**-9)
    e5m2 = Format.parse("e5m2")
    assert (e5m2.specials, e5m2.nan_code, e5m2.has_inf) == ("ieee", 0x7E, True)
    assert Format.parse("e3m2").specials == "none"
    assert Format(kind="float", exponent_bits=2, mantissa_bits=1) == Format.parse("e2m1")
    assert Format(kind="int", bits=4) == Format.parse("int4")
    assert len(e4m3.values()) == 253 and e4m3.values().dtype == np.float32


@pytest.mark.parametrize("bad", ["e9m1", "e4m4", "e0m3", "fp5", "int9", "int", "e2", "bf16", "e2m1b"])
def test_bad_names_raise(bad):
    with pytest.raises(NumericsError, match="valid formats"):
        Format.parse(bad)


def test_bad_rounding_raises():
    with pytest.raises(NumericsError, match="rne"):
        Format.parse("e2m1").encode(np.float32([1.0]), rounding="nearest")


def test_scalar_reference_matches_vectorized():
    for name in ("e2m1", "e4m3", "int4"):
        fmt = Format.parse(name)
        for rounding in ROUNDING_MODES:
            table = fmt.quantizer_table(rounding)
            x = probe_values(fmt, n=300, seed=3)
            x = np.concatenate([x, np.float32([np.nan])])
            ref = [table.encode_scalar(v) for v in x]
            assert table.encode(x).tolist() == ref


FORMATS = [Format.parse(n) for n in ("e2m1", "e2m3", "e3m2", "e4m3", "e5m2", "e1m2", "e3m4b5",
                                     "int4", "int8")]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(FORMATS), st.sampled_from(ROUNDING_MODES),
       st.floats(width=32, allow_nan=False, allow_infinity=False))
def test_encode_gives_nearest_grid_value(fmt, rounding, v):
    x = np.float32(v)
    got = float(fmt.decode(fmt.encode(np.float32([x]), rounding=rounding))[0])
    grid = fmt.values().astype(np.float64)
    if abs(float(x)) > 4 * fmt.max_value:  # saturates (and float64 distances would round)
        assert got == (grid[-1] if x > 0 else grid[0])
        return
    dist = np.abs(grid - float(x))
    assert abs(got - float(x)) == dist.min()
    nearest = grid[dist == dist.min()]
    if len(nearest) == 2:  # a tie: the mode decides
        lo, hi = nearest
        if rounding == "ties-up":
            assert got == hi
        elif rounding == "ties-away":
            assert abs(got) == max(abs(lo), abs(hi))
        else:
            assert got in (lo, hi)
            # even: the winner is an even multiple of the local spacing
            assert (abs(got) / (hi - lo)) % 2 == 0


def test_encode_throughput():
    import time

    fmt = Format.parse("e2m1")
    x = np.random.default_rng(0).standard_normal(4_000_000).astype(np.float32)
    fmt.encode(x[:10])
    start = time.perf_counter()
    fmt.encode(x)
    rate = x.size / (time.perf_counter() - start)
    assert rate > 5e6, f"encode runs at {rate / 1e6:.1f} M values/s"


@pytest.mark.parametrize("fmt", FORMATS + [Format.parse(n) for n in ("e2m1fn", "e4m3ieee", "e1m0", "int6")],
                         ids=lambda f: f.name)
def test_bit_table_encode_agrees_with_the_search_on_every_interval(fmt):
    """The fast form (a table over float32 bit patterns) against the searchsorted form of the LUT algorithm:
    the first, second and last value of every interval of bit patterns, every NaN payload's neighbours and
    random bit patterns, for every rounding mode."""
    rng = np.random.default_rng(0)
    for rounding in ROUNDING_MODES:
        table = fmt.quantizer_table(rounding)
        low = (1 << table._shift) - 1
        firsts = (np.arange(1 << (32 - table._shift), dtype=np.uint64) << np.uint64(table._shift)).astype(np.uint32)
        nans = np.array([0x7F800001, 0x7FC00000, 0x7FFFFFFF, 0xFF800001, 0xFFFFFFFF, 0xFFFFFFFF - low], np.uint32)
        bits = np.concatenate([firsts, firsts | 1, firsts | np.uint32(low), nans,
                               rng.integers(0, 1 << 32, 100_000, dtype=np.uint64).astype(np.uint32)])
        values = bits.view(np.float32)
        assert np.array_equal(table.encode(values), table._search(values)), (fmt.name, rounding)


def test_encode_keeps_a_fortran_ordered_input_in_its_order():
    x = np.random.default_rng(1).standard_normal((64, 48)).astype(np.float32) * 4
    fmt = Format.parse("e2m3")
    codes = fmt.encode(np.asfortranarray(x))
    assert codes.flags.f_contiguous and np.array_equal(codes, fmt.encode(x))
