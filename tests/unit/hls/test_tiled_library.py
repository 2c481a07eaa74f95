"""fpqc_tiled.h (runtime rows, weight-tiled linear layers) vs fpqc.numerics, bit for bit.

Each g++ driver runs a sequence of launches in one process -- rows = MAX_ROWS,
1, a non-maximal count, 0, MAX_ROWS again, 2 -- each with its own inputs, so
state left over from one launch would show in the next.  Outputs are
pre-filled with a sentinel (all ones) and written whole: the rows past
``rows`` must keep it.  The linear-layer drivers run every hardware plan
(N_TILE, PES, LANES, WORD_BITS) of :data:`PLANS` on the weights packed by
``codes.pack_codes`` (the bytes of weights.bin).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fpqc.backends.hls.build import INCLUDE_DIR
from fpqc.backends.hls.codes import pack_codes
from fpqc.backends.hls.csim import CXXFLAGS, ap_types_include
from fpqc.backends.hls.tables import TableSet
from fpqc.numerics import (
    Format,
    accumulator_bits,
    compute_scales,
    dequantize,
    gelu_tanh_f32,
    qlinear,
    quantize,
)
from fpqc.numerics.dual_format import DualFormat, compute_dual_scales, dual_qlinear, dual_quantize
from fpqc.numerics.hadamard import emit_ght_signs, fwht_f32, ght_f32, random_signs

MAX_ROWS = 5
LAUNCH_ROWS = [MAX_ROWS, 1, 3, 0, MAX_ROWS, 2]
WARNINGS = ["-Wall", "-Wextra", "-Wno-unknown-pragmas"]
CXX17 = ["-std=c++17", "-O2", "-ffp-contract=off", "-fno-fast-math"]

PRELUDE = """
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fpqc_tables.h"
#include "fpqc_tiled.h"
static FILE* g_in;
static FILE* g_out;
static void get(void* p, size_t n) {
    if (fread(p, 1, n, g_in) != n) { fprintf(stderr, "short input\\n"); exit(1); }
}
static void put(const void* p, size_t n) { fwrite(p, 1, n, g_out); }
static void fill_f32(float* y, int n) { memset(y, 0xff, (size_t)n * 4); }
template <int B> void fill_codes(ap_uint<B>* c, int n) { for (int i = 0; i < n; ++i) c[i] = (1 << B) - 1; }
template <int B> void put_codes(const ap_uint<B>* c, int n) {
    for (int i = 0; i < n; ++i) { unsigned char b = (unsigned char)c[i].to_uint(); put(&b, 1); }
}
template <int B> void get_codes(ap_uint<B>* c, int n) {
    for (int i = 0; i < n; ++i) { unsigned char b; get(&b, 1); c[i] = b; }
}
"""


def _own_warnings(stderr: str, exempt: tuple[str, ...]) -> list[str]:
    """Warnings located in fpqc's headers (ap_types' own, e.g. GCC's -Wmaybe-uninitialized
    false positives on ap_private's default constructor, are not fpqc's code)."""
    found = re.finditer(r"^(\S+?):\d+:\d+: warning: .*$", stderr, re.M)
    return [m.group(0) for m in found
            if Path(m.group(1)).parent == INCLUDE_DIR and Path(m.group(1)).name not in exempt]


def _compile(tmp_path, tables: TableSet, source: str, flags, exempt: tuple[str, ...] = ()) -> str:
    """Build the driver; fpqc's headers (but ``exempt``) must not warn.  Returns the executable."""
    (tmp_path / "fpqc_tables.h").write_text(tables.header())
    (tmp_path / "driver.cpp").write_text(source)
    exe = tmp_path / "driver"
    build = subprocess.run(
        ["g++", *flags, *WARNINGS, f"-I{tmp_path}", f"-I{INCLUDE_DIR}", "-isystem", str(ap_types_include()),
         str(tmp_path / "driver.cpp"), "-o", str(exe)],
        capture_output=True, text=True,
    )
    assert build.returncode == 0, build.stderr[-4000:]
    assert not _own_warnings(build.stderr, exempt), build.stderr[-4000:]
    return str(exe)


def _run(tmp_path, exe: str, data: bytes) -> bytes:
    (tmp_path / "in.bin").write_bytes(data)
    run = subprocess.run([exe, str(tmp_path / "in.bin"), str(tmp_path / "out.bin")],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "", run.stdout  # hls::stream: no read while empty, no leftover data
    return (tmp_path / "out.bin").read_bytes()


class Reader:
    def __init__(self, data: bytes):
        self.data, self.at = data, 0

    def take(self, n: int, dtype) -> np.ndarray:
        size = n * np.dtype(dtype).itemsize
        out = np.frombuffer(self.data, dtype, n, self.at)
        self.at += size
        return out

    def done(self):
        assert self.at == len(self.data)


def _bits(a) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).ravel()


def _same_floats(got: np.ndarray, want, what: str):
    """Same bits; NaN payloads may differ (only NaN-ness is specified)."""
    want = _bits(want)
    nan = np.isnan(want.view(np.float32))
    np.testing.assert_array_equal(np.isnan(got.view(np.float32)), nan, err_msg=what)
    np.testing.assert_array_equal(got[~nan], want[~nan], err_msg=what)


def _check(got: np.ndarray, want, n_written: int, sentinel, what: str, floats: bool = False):
    """The first ``n_written`` elements equal ``want``; the rest keep the sentinel."""
    if floats:
        _same_floats(got[:n_written], want, what)
    else:
        np.testing.assert_array_equal(got[:n_written], np.ravel(want), err_msg=what)
    assert np.all(got[n_written:] == sentinel), f"{what}: written past the rows of the launch"


def _launch_inputs(k: int, seed: int) -> list[np.ndarray]:
    """One [MAX_ROWS, k] input per launch; zero groups, -0.0, NaN and inf in some."""
    rng = np.random.default_rng(seed)
    inputs = []
    for i, _ in enumerate(LAUNCH_ROWS):
        x = (rng.standard_normal((MAX_ROWS, k)) * rng.choice([1e-3, 1.0, 30.0], (MAX_ROWS, 1))).astype(np.float32)
        x[0, :64] = 0.0
        x[0, 64:96] = np.abs(x[0, 64:96])
        x[0, 64:67] = -0.0
        if i == 4:
            x[1, 5], x[MAX_ROWS - 1, k - 1] = np.nan, -np.inf
        inputs.append(x)
    return inputs


# ------------------------------------------------------------ runtime-row templates

K_ELEM, G_ELEM, BLOCK = 256, 32, 128
SINGLE = [("e2m1", "rne"), ("e2m3", "ties-away")]
DUALS = ["e1m2/e2m1", "int6/e2m3"]


def test_runtime_row_templates_match_numerics(tmp_path):
    tables = TableSet()
    n, k, g = MAX_ROWS * K_ELEM, K_ELEM, G_ELEM
    decls, body, expect = [], [], []

    for fmt_name, rounding in SINGLE:
        fmt = Format.parse(fmt_name)
        b, q, dec, c = fmt.bits, tables.quantizer(fmt, rounding), tables.decoder(fmt), f"c_{fmt_name}"
        decls.append(f"static ap_uint<{b}> {c}[{n}];")
        for layout, qcall, dcall, n_scales in [
            ("group", f"fpqc::quantize_rows<{b}, {k}, {g}, {MAX_ROWS}, 4>(rows, x, {c}, s1, {q});",
             f"fpqc::dequantize_rows<{k}, {k // g}, {g}, {MAX_ROWS}, 8>(rows, {c}, s1, {dec}, y);", n // g),
            ("token", f"fpqc::quantize_rows<{b}, {k}, {k}, {MAX_ROWS}, 8>(rows, x, {c}, s1, {q});",
             f"fpqc::dequantize_rows<{k}, 1, {k}, {MAX_ROWS}, 4>(rows, fpqc::local_codes<{b}>({c}), s1, {dec}, y);",
             MAX_ROWS),
            ("tensor", f"fpqc::quantize_tensor_rows<{b}, {k}, {MAX_ROWS}, 16>(rows, x, {c}, s1, {q});",
             f"fpqc::dequantize_rows<{k}, 0, {k}, {MAX_ROWS}, 16>(rows, {c}, s1, {dec}, y);", 1),
        ]:
            body += [f"fill_codes<{b}>({c}, {n}); fill_f32(s1, {n});", qcall,
                     f"put_codes<{b}>({c}, {n}); put(s1, 4 * {n_scales});",
                     f"fill_f32(y, {n}); {dcall} put(y, 4 * {n});"]
            expect.append(("quantize", fmt, rounding, layout, n_scales))

    for name in DUALS:
        dual = DualFormat.parse(name)
        nb, pb, q = dual.neg.bits, dual.pos.bits, tables.dual_quantizer(dual, "rne")
        cn, cp = f"cn_{dual.neg.name}", f"cp_{dual.pos.name}"
        decls += [f"static ap_uint<{nb}> {cn}[{n}];", f"static ap_uint<{pb}> {cp}[{n}];"]
        for group, lanes in ((g, 4), (k, 8)):
            n_scales = n // group
            body += [f"fill_codes<{nb}>({cn}, {n}); fill_codes<{pb}>({cp}, {n}); fill_f32(s1, {n}); fill_f32(s2, {n});",
                     f"fpqc::dual_quantize_rows<{nb}, {pb}, {k}, {group}, {MAX_ROWS}, {lanes}>(rows, x, {cn}, {cp}, s1, s2, {q});",
                     f"put_codes<{nb}>({cn}, {n}); put_codes<{pb}>({cp}, {n}); put(s1, 4 * {n_scales}); put(s2, 4 * {n_scales});"]
            expect.append(("dual", dual, group, n_scales))

    signs = random_signs(k, seed=4)
    for has_signs in (False, True):
        arg = "ght_signs" if has_signs else "nullptr"
        body.append(f"fill_f32(y, {n}); fpqc::hadamard_rows<{k}, {BLOCK}, {str(has_signs).lower()}, {MAX_ROWS}, 4>"
                    f"(rows, x, {arg}, y); put(y, 4 * {n});")
        expect.append(("hadamard", has_signs))
    body.append(f"fill_f32(y, {n}); fpqc::gelu_rows<{k}, {MAX_ROWS}, 8>(rows, x, y); put(y, 4 * {n});")
    expect.append(("gelu",))

    source = PRELUDE + emit_ght_signs(signs, "ght") + "\n".join(decls) + f"""
static float x[{n}], y[{n}], s1[{n}], s2[{n}];
int main(int argc, char** argv) {{
    if (argc != 3) return 2;
    g_in = fopen(argv[1], "rb");
    g_out = fopen(argv[2], "wb");
    int launches;
    get(&launches, 4);
    for (int i = 0; i < launches; ++i) {{
        int rows;
        get(&rows, 4);
        get(x, 4 * {n});
        {chr(10).join(body)}
    }}
    fclose(g_out);
    return 0;
}}
"""
    exe = _compile(tmp_path, tables, source, CXX17)
    inputs = _launch_inputs(k, seed=21)
    data = np.int32(len(LAUNCH_ROWS)).tobytes() + b"".join(
        np.int32(rows).tobytes() + x.tobytes() for rows, x in zip(LAUNCH_ROWS, inputs))
    out = Reader(_run(tmp_path, exe, data))
    all_ones = np.uint32(0xFFFFFFFF)

    for rows, x in zip(LAUNCH_ROWS, inputs):
        xr, m = x[:rows], rows * k
        for kind, *spec in expect:
            what = f"{kind} {spec} rows={rows}"
            if kind == "quantize":
                fmt, rounding, layout, n_scales = spec
                codes, scales, y = out.take(n, np.uint8), out.take(n_scales, "<u4"), out.take(n, "<u4")
                axis, group = {"group": (-1, g), "token": (-1, None), "tensor": (None, None)}[layout]
                s = compute_scales(xr, fmt, axis=axis, group_size=group)
                want = quantize(xr, fmt, s, axis=axis, group_size=group, rounding=rounding)
                _check(codes, want, m, (1 << fmt.bits) - 1, what)
                n_written = 1 if layout == "tensor" else rows * (n_scales // MAX_ROWS)
                _check(scales, _bits(s), n_written, all_ones, what)
                _check(y, dequantize(want, fmt, s, axis=axis, group_size=group), m, all_ones, what, floats=True)
            elif kind == "dual":
                dual, group, n_scales = spec
                nc, pc = out.take(n, np.uint8), out.take(n, np.uint8)
                sn, sp = out.take(n_scales, "<u4"), out.take(n_scales, "<u4")
                want_sn, want_sp = compute_dual_scales(xr, dual, group)
                want_nc, want_pc = dual_quantize(xr, dual, want_sn, want_sp, group)
                _check(nc, want_nc, m, (1 << dual.neg.bits) - 1, what)
                _check(pc, want_pc, m, (1 << dual.pos.bits) - 1, what)
                _check(sn, _bits(want_sn), rows * k // group, all_ones, what)
                _check(sp, _bits(want_sp), rows * k // group, all_ones, what)
            elif kind == "hadamard":
                want = ght_f32(xr, signs, BLOCK) if spec[0] else fwht_f32(xr, BLOCK)
                _check(out.take(n, "<u4"), want, m, all_ones, what, floats=True)
            else:
                _check(out.take(n, "<u4"), gelu_tanh_f32(xr), m, all_ones, what, floats=True)
    out.done()


# ------------------------------------------------------------ tiled linear layers

K, O = 128, 24
# Hardware plans (N_TILE, PES, LANES, WORD_BITS): one tile or several; 512-bit ports,
# where fp6 rows start inside a word, and 32-bit ports, whose words hold fewer codes
# than LANES; 1 to 32 lanes.
ONE_TILE, SMALL_TILES, NARROW_PORT = (24, 4, 32, 512), (8, 2, 4, 512), (6, 3, 8, 32)
WIDE_LANES, ONE_PE, THIN = (4, 4, 16, 128), (12, 1, 1, 256), (3, 1, 2, 64)


@dataclass(frozen=True)
class Layout:
    """Scales along K: ``group`` elements per scale, or "token"/"channel" (one per row), or "tensor"."""

    x: str | int
    w: str | int

    @staticmethod
    def _size(spec) -> int:
        return K if isinstance(spec, str) else spec

    @staticmethod
    def _row(spec) -> int:
        return 0 if spec == "tensor" else K // Layout._size(spec)

    @property
    def g(self) -> int:
        return min(self._size(self.x), self._size(self.w))

    def template(self) -> tuple[int, int, int, int]:
        """XS_ROW, XG, WS_ROW, WG."""
        return self._row(self.x), self._size(self.x), self._row(self.w), self._size(self.w)

    @staticmethod
    def axis_group(spec) -> dict:
        if spec == "tensor":
            return {"axis": None}
        return {"axis": -1, "group_size": None if isinstance(spec, str) else spec}


@dataclass(frozen=True)
class Case:
    """One linear layer (formats, scale layout, bias) and the plans it runs with."""

    x: str  # activation format, or "<neg>/<pos>" for the dual-format layer
    w: str
    layout: Layout
    bias: bool
    plans: tuple[tuple[int, int, int, int], ...]

    @property
    def dual(self) -> bool:
        return "/" in self.x

    def planes(self) -> list[tuple[str, Format]]:
        if self.dual:
            d = DualFormat.parse(self.x)
            return [("xn", d.neg), ("xp", d.pos)]
        return [("x", Format.parse(self.x))]


SINGLE_CASES = [
    Case("e2m1", "e2m1", Layout(32, 64), True, (ONE_TILE, NARROW_PORT, ONE_PE)),  # fp4 per group
    Case("e2m3", "e2m3", Layout("token", "channel"), False, (SMALL_TILES, WIDE_LANES, THIN)),  # fp6
    Case("e2m3", "e2m1", Layout("tensor", 32), True, (NARROW_PORT, WIDE_LANES, ONE_PE)),  # fp6 x fp4
    Case("e2m1", "e2m3", Layout(64, "tensor"), False, (ONE_TILE, SMALL_TILES, THIN)),  # per-tensor w
]
DUAL_CASES = [
    Case("e1m2/e2m1", "e2m1", Layout(32, 64), True, (SMALL_TILES, NARROW_PORT, WIDE_LANES)),  # W4A4
    Case("int6/e2m3", "e2m3", Layout("token", "channel"), False, (ONE_TILE, NARROW_PORT, ONE_PE)),  # W6A6
    Case("e2m1/e2m1", "e2m1", Layout(64, "tensor"), True, (THIN, ONE_TILE, WIDE_LANES)),  # MixedFormat
]

CASE_FUNCTION = """
static void case_{i}() {{
    static uint32_t w_u32[{n_u32}];
    static float ws[{n_ws}], bias[{o}], y[{max_rows} * {o}];
    {decls}
    get(w_u32, 4 * {n_u32});
    get(ws, 4 * {n_ws});
    get(bias, 4 * {o});
    {convert}
    for (int launch = 0; launch < {n_launches}; ++launch) {{
        int rows;
        get(&rows, 4);
        {get_x}
        {plans}
    }}
}}
"""


def _case_function(i: int, case: Case, tables: TableSet, n_u32: int, n_ws: int, n_xs: int) -> str:
    """``case_<i>()``: reads the weights, then runs every launch with every plan of ``case``."""
    w_fmt, planes, g = Format.parse(case.w), case.planes(), case.layout.g
    xs_row, xg, ws_row, wg = case.layout.template()
    scale_names = ["sn", "sp"] if case.dual else ["xs"]
    decls = [f"static ap_uint<{f.bits}> {v}[{MAX_ROWS * K}];" for v, f in planes]
    decls += [f"static float {s}[{n_xs}];" for s in scale_names]
    get_x = [f"get_codes<{f.bits}>({v}, {MAX_ROWS * K});" for v, f in planes]
    get_x += [f"get({s}, 4 * {n_xs});" for s in scale_names]
    accs = ", ".join(str(accumulator_bits(f, w_fmt, g)) for _, f in planes)
    layer = f"{K}, {O}, {g}, {w_fmt.bits}, {accs}, {xs_row}, {xg}, {ws_row}, {wg}, {str(case.bias).lower()}"
    roms = ", ".join(f"{t}, {u}" for t, u in (tables.product(f, w_fmt) for _, f in planes))
    x_args = ", ".join(v for v, _ in planes) + ", " + ", ".join(scale_names)
    convert, plans = [], []
    for j, (n_tile, pes, lanes, word_bits) in enumerate(case.plans):
        words = -(-n_u32 // (word_bits // 32))
        decls.append(f"static ap_uint<{word_bits}> w{j}[{words}];")
        convert.append(f"fpqc::weight_words_from_u32<{word_bits}>(w_u32, {n_u32}, w{j});")
        template = "tiled_dual_qlinear" if case.dual else "tiled_qlinear"
        plans.append(
            f"fill_f32(y, {MAX_ROWS} * {O});\n        fpqc::{template}<{MAX_ROWS}, {layer}, {n_tile}, {pes}, "
            f"{lanes}, {word_bits}>(rows, {x_args}, w{j}, ws, {'bias' if case.bias else 'nullptr'}, {roms}, y);\n"
            f"        put(y, 4 * {MAX_ROWS} * {O});")
    return CASE_FUNCTION.format(
        i=i, n_u32=n_u32, n_ws=n_ws, o=O, max_rows=MAX_ROWS, n_launches=len(LAUNCH_ROWS),
        decls="\n    ".join(decls), convert="\n    ".join(convert), get_x="\n        ".join(get_x),
        plans="\n        ".join(plans))


def _case_data(case: Case, seed: int):
    """(input bytes, [(rows, numerics result or None)]) of one case."""
    rng = np.random.default_rng(seed)
    w_fmt, layout = Format.parse(case.w), case.layout
    w = (rng.standard_normal((O, K)) * rng.choice([0.01, 1.0, 8.0], (O, 1))).astype(np.float32)
    ws = compute_scales(w, w_fmt, **Layout.axis_group(layout.w))
    wc = quantize(w, w_fmt, ws, **Layout.axis_group(layout.w))
    bias = rng.standard_normal(O).astype(np.float32)
    data = [pack_codes(wc, w_fmt.bits).tobytes(), ws.astype("<f4").tobytes(), bias.tobytes()]
    wants = []
    for rows, x in zip(LAUNCH_ROWS, _launch_inputs(K, seed=seed + 1)):
        x = np.nan_to_num(x, nan=1.0, posinf=2.0, neginf=-3.0)
        data.append(np.int32(rows).tobytes())
        b = bias if case.bias else None
        if case.dual:
            dual = DualFormat.parse(case.x)
            group = None if isinstance(layout.x, str) else layout.x
            sn, sp = compute_dual_scales(x, dual, group)
            nc, pc = dual_quantize(x, dual, sn, sp, group)
            data += [nc.tobytes(), pc.tobytes(), sn.astype("<f4").tobytes(), sp.astype("<f4").tobytes()]
            want = dual_qlinear(nc[:rows], pc[:rows], dual, sn[:rows], sp[:rows], wc, w_fmt, ws, layout.g, b)
        else:
            fx = Format.parse(case.x)
            # a per-tensor scale is the launch's own rows' (quantize_tensor_rows)
            xs = compute_scales(x[:max(rows, 1)] if layout.x == "tensor" else x, fx, **Layout.axis_group(layout.x))
            xc = quantize(x, fx, xs, **Layout.axis_group(layout.x))
            data += [xc.tobytes(), xs.astype("<f4").tobytes()]
            want = qlinear(xc[:rows], fx, xs if layout.x == "tensor" else xs[:rows], wc, w_fmt, ws, layout.g, b)
        wants.append((rows, want if rows else None))
    return b"".join(data), wants, pack_codes(wc, w_fmt.bits).size, ws.size


def _run_cases(tmp_path, cases: list[Case], flags):
    tables = TableSet()
    functions, inputs, expected = [], [], []
    for i, case in enumerate(cases):
        data, wants, n_u32, n_ws = _case_data(case, seed=10 * i + 3)
        xs_row = case.layout.template()[0]
        functions.append(_case_function(i, case, tables, n_u32, n_ws, MAX_ROWS * xs_row if xs_row else 1))
        inputs.append(data)
        expected.append(wants)
    calls = " ".join(f"case_{i}();" for i in range(len(cases)))
    source = PRELUDE + "".join(functions) + f"""
int main(int argc, char** argv) {{
    if (argc != 3) return 2;
    g_in = fopen(argv[1], "rb");
    g_out = fopen(argv[2], "wb");
    {calls}
    fclose(g_out);
    return 0;
}}
"""
    exe = _compile(tmp_path, tables, source, flags)
    out = Reader(_run(tmp_path, exe, b"".join(inputs)))
    all_ones = np.uint32(0xFFFFFFFF)
    for case, wants in zip(cases, expected):
        for rows, want in wants:
            what = f"{case.x} x {case.w} {case.layout} bias={case.bias} rows={rows}"
            for plan in case.plans:
                y = out.take(MAX_ROWS * O, "<u4")
                if rows == 0:
                    assert np.all(y == all_ones), f"{what} {plan}: wrote with rows=0"
                else:
                    _check(y, _bits(want), rows * O, all_ones, f"{what} plan {plan}")
    out.done()


def test_tiled_qlinear_matches_numerics(tmp_path):
    _run_cases(tmp_path, SINGLE_CASES, CXX17)


def test_tiled_dual_qlinear_matches_numerics(tmp_path):
    _run_cases(tmp_path, DUAL_CASES, CXXFLAGS)  # the C simulation's flags


def test_weight_port_words_are_the_bytes_of_weights_bin():
    """A 512-bit port word is 16 consecutive uint32 of pack_codes: fp6 rows start inside a word."""
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 64, size=(3, 100)).astype(np.uint8)
    words = pack_codes(codes, 6)
    wide = np.zeros(-(-words.size // 16) * 16, "<u4")
    wide[: words.size] = words
    big = [int.from_bytes(wide[i : i + 16].tobytes(), "little") for i in range(0, wide.size, 16)]
    per_word = 16 * (32 // 6)
    for i, code in enumerate(codes.ravel()):
        word, j = divmod(i, per_word)
        lo = (j // 5) * 32 + (j % 5) * 6
        assert (big[word] >> lo) & 63 == code

