"""fpqc_tiled.h's row stages and fpqc_linear.h's PE array vs fpqc.numerics, bit for bit, through g++ drivers.

Each driver runs a sequence of launches in one process -- rows = MAX_ROWS, 1,
a non-maximal count, 0, MAX_ROWS again, 2 -- each with its own inputs, in row
tiles of TILE_ROWS rows (a tile's stages reading and writing streams, whole
buffers of all rows and whole buffers of one tile, as the plan's kinds), so
state left over from one launch or tile would show in the next.  Outputs are
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
from fpqc.backends.hls.codes import pack_codes, unpack_codes
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

MAX_ROWS, TILE_ROWS = 5, 2
LAUNCH_ROWS = [MAX_ROWS, 1, 3, 0, MAX_ROWS, 2]
WARNINGS = ["-Wall", "-Wextra", "-Wno-unknown-pragmas"]
CXX17 = ["-std=c++17", "-O2", "-ffp-contract=off", "-fno-fast-math"]

PRELUDE = """
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fpqc_tables.h"
#include "fpqc_tiled.h"
#include "fpqc_linear.h"
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
#define TILES(rows) for (int r0 = 0, nr = 0; nr = (rows) - r0 < TILE_ROWS ? (rows) - r0 : TILE_ROWS, r0 < (rows); r0 += TILE_ROWS)
"""


def _own_warnings(stderr: str) -> list[str]:
    """Warnings located in fpqc's headers (ap_types' own, e.g. GCC's -Wmaybe-uninitialized
    false positives on ap_private's default constructor, are not fpqc's code)."""
    found = re.finditer(r"^(\S+?):\d+:\d+: warning: .*$", stderr, re.M)
    return [m.group(0) for m in found if Path(m.group(1)).parent == INCLUDE_DIR]


def _compile(tmp_path, tables: TableSet, source: str, flags) -> str:
    """Build the driver; fpqc's headers must not warn.  Returns the executable."""
    (tmp_path / "fpqc_tables.h").write_text(tables.header())
    (tmp_path / "driver.cpp").write_text(f"#define TILE_ROWS {TILE_ROWS}\n" + source)
    exe = tmp_path / "driver"
    build = subprocess.run(
        ["g++", *flags, *WARNINGS, f"-I{tmp_path}", f"-I{INCLUDE_DIR}", "-isystem", str(ap_types_include()),
         str(tmp_path / "driver.cpp"), "-o", str(exe)],
        capture_output=True, text=True,
    )
    assert build.returncode == 0, build.stderr[-4000:]
    assert not _own_warnings(build.stderr), build.stderr[-4000:]
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


# ------------------------------------------------------------------ row stages

K_ELEM, G_ELEM, BLOCK = 256, 32, 128
SINGLE = [("e2m1", "rne"), ("e2m3", "ties-away")]
DUALS = ["e1m2/e2m1", "int6/e2m3"]
N = MAX_ROWS * K_ELEM


def _quantize_calls(fmt: Format, q: str, dec: str, name: str) -> list[str]:
    """Group quantizer from a stream in column tiles into whole buffers of all rows, dequantized from them
    into a stream; the token quantizer from a whole buffer into a stream of codes (packed into a port) and a
    tile's scale buffer, dequantized from the port's codes; the per-tensor quantizer over all rows."""
    b, k, g = fmt.bits, K_ELEM, G_ELEM
    c, u = f"c_{name}", f"u_{name}"
    return [
        f"fill_codes<{b}>(&{c}[0][0], {N}); fill_f32(&s_all[0][0], {N // g}); fill_f32(y, {N});",
        "TILES(rows) { hls::stream<fpqc::Beat<float, 16> > in; hls::stream<fpqc::Beat<float, 8> > out;",
        f"  fpqc::load_rows<{k}, 64, TILE_ROWS>(x, in, r0, nr);",
        f"  fpqc::quantize_stage<{b}, {k}, {g}, 64, TILE_ROWS, 4>(in, grp, {c}, s_all, {q}, r0, nr, fpqc::Tap(), fpqc::Tap());",
        f"  fpqc::dequantize_stage<{k}, {g}, {k}, TILE_ROWS, 8>({c}, s_all, out, {dec}, r0, nr, fpqc::Tap());",
        f"  fpqc::write_rows<{k}, {k}, TILE_ROWS>(out, y, r0, nr); }}",
        f"put_codes<{b}>(&{c}[0][0], {N}); put(s_all, 4 * {MAX_ROWS * k // g}); put(y, 4 * {N});",
        f"memset({u}, 0xff, sizeof {u}); fill_f32(&s_token[0][0], {MAX_ROWS}); fill_f32(y, {N});",
        "TILES(rows) {",
        f"  hls::stream<fpqc::Beat<ap_uint<{b}>, 16> > codes; hls::stream<fpqc::Beat<ap_uint<{b}>, 8> > back;",
        "  hls::stream<fpqc::Beat<float, 16> > out;",
        f"  fpqc::quantize_stage<{b}, {k}, {k}, {k}, TILE_ROWS, 16>(x_all, grp_k, codes, s_tile, {q}, r0, nr, fpqc::Tap(), fpqc::Tap());",
        f"  fpqc::write_rows<{k}, TILE_ROWS>(codes, {u}, r0, nr);",
        "  for (int i = 0; i < nr; ++i) s_token[r0 + i][0] = s_tile[i][0];",
        f"  fpqc::load_rows<{k}, {k}, TILE_ROWS>({u}, back, r0, nr);",
        f"  fpqc::dequantize_stage<{k}, {k}, {k}, TILE_ROWS, 4>(back, s_token, out, {dec}, r0, nr, fpqc::Tap());",
        f"  fpqc::write_rows<{k}, {k}, TILE_ROWS>(out, y, r0, nr); }}",
        f"put({u}, sizeof {u}); put(s_token, 4 * {MAX_ROWS}); put(y, 4 * {N});",
        f"fill_codes<{b}>(&{c}[0][0], {N}); fill_f32(&s_one[0][0], 1);",
        f"fpqc::quantize_tensor_stage<{b}, {k}, {MAX_ROWS}, 16>(x_all, {c}, s_one, {q}, rows, fpqc::Tap(), fpqc::Tap());",
        f"put_codes<{b}>(&{c}[0][0], {N}); put(s_one, 4);",
    ]


def test_row_stages_match_numerics(tmp_path):
    tables = TableSet()
    k, g = K_ELEM, G_ELEM
    decls, body, expect = [], [], []

    for fmt_name, rounding in SINGLE:
        fmt = Format.parse(fmt_name)
        words = -(-N // (32 // fmt.bits))
        decls += [f"static ap_uint<{fmt.bits}> c_{fmt_name}[{MAX_ROWS}][{k}];", f"static uint32_t u_{fmt_name}[{words}];"]
        body += _quantize_calls(fmt, tables.quantizer(fmt, rounding), tables.decoder(fmt), fmt_name)
        expect.append(("quantize", fmt, rounding, words))

    for name in DUALS:
        dual = DualFormat.parse(name)
        nb, pb, q = dual.neg.bits, dual.pos.bits, tables.dual_quantizer(dual, "rne")
        cn, cp = f"cn_{dual.neg.name}", f"cp_{dual.pos.name}"
        decls += [f"static ap_uint<{nb}> {cn}[{MAX_ROWS}][{k}];", f"static ap_uint<{pb}> {cp}[{MAX_ROWS}][{k}];"]
        for group, lanes, scratch, sn, sp in ((g, 4, "grp", "s_all", "s2_all"), (k, 8, "grp_k", "s_token", "s2_token")):
            body += [
                f"fill_codes<{nb}>(&{cn}[0][0], {N}); fill_codes<{pb}>(&{cp}[0][0], {N}); "
                f"fill_f32(&{sn}[0][0], {N // group}); fill_f32(&{sp}[0][0], {N // group});",
                "TILES(rows) { hls::stream<fpqc::Beat<float, 16> > in;",
                f"  fpqc::load_rows<{k}, {k}, TILE_ROWS>(x, in, r0, nr);",
                f"  fpqc::dual_quantize_stage<{nb}, {pb}, {k}, {group}, {k}, TILE_ROWS, {lanes}>(in, {scratch}, {cn}, "
                f"{cp}, {sn}, {sp}, {q}, r0, nr, fpqc::Tap(), fpqc::Tap(), fpqc::Tap(), fpqc::Tap()); }}",
                f"put_codes<{nb}>(&{cn}[0][0], {N}); put_codes<{pb}>(&{cp}[0][0], {N}); "
                f"put({sn}, 4 * {N // group}); put({sp}, 4 * {N // group});",
            ]
            expect.append(("dual", dual, group))

    signs = random_signs(k, seed=4)
    for has_signs in (False, True):
        arg = "ght_signs" if has_signs else "0"
        body += [
            f"fill_f32(y, {N}); TILES(rows) {{ hls::stream<fpqc::Beat<float, 16> > in; "
            "hls::stream<fpqc::Beat<float, 4> > out;",
            f"  fpqc::load_rows<{k}, {BLOCK}, TILE_ROWS>(x, in, r0, nr);",
            f"  fpqc::hadamard_stage<{k}, {BLOCK}, {str(has_signs).lower()}, {BLOCK}, TILE_ROWS, 4>(in, blk, {arg}, "
            "out, r0, nr, fpqc::Tap());",
            f"  fpqc::write_rows<{k}, {BLOCK}, TILE_ROWS>(out, y, r0, nr); }} put(y, 4 * {N});",
        ]
        expect.append(("hadamard", has_signs))
    body += [
        f"fill_f32(y, {N}); TILES(rows) {{ fpqc::gelu_stage<{k}, {k}, TILE_ROWS, 8>(x_all, y_tile, r0, nr, fpqc::Tap());",
        f"  for (int i = 0; i < nr; ++i) memcpy(y + (r0 + i) * {k}, y_tile[i], 4 * {k}); }} put(y, 4 * {N});",
    ]
    expect.append(("gelu",))

    source = PRELUDE + emit_ght_signs(signs, "ght") + "\n".join(decls) + f"""
static float x[{N}], y[{N}];
static float x_all[{MAX_ROWS}][{k}], y_tile[TILE_ROWS][{k}];
static float s_all[{MAX_ROWS}][{k // g}], s2_all[{MAX_ROWS}][{k // g}], s_token[{MAX_ROWS}][1], s2_token[{MAX_ROWS}][1];
static float s_tile[TILE_ROWS][1], s_one[1][1];
static float grp[2][{g}], grp_k[2][{k}], blk[2][{BLOCK}];
int main(int argc, char** argv) {{
    if (argc != 3) return 2;
    g_in = fopen(argv[1], "rb");
    g_out = fopen(argv[2], "wb");
    int launches;
    get(&launches, 4);
    for (int launch = 0; launch < launches; ++launch) {{
        int rows;
        get(&rows, 4);
        get(x, 4 * {N});
        fpqc::load_buffer(x, x_all, rows);
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
    ones = np.uint32(0xFFFFFFFF)

    for rows, x in zip(LAUNCH_ROWS, inputs):
        xr, m = x[:rows], rows * k
        for kind, *spec in expect:
            what = f"{kind} {spec} rows={rows}"
            if kind == "quantize":
                fmt, rounding, words = spec
                top = (1 << fmt.bits) - 1
                s = compute_scales(xr, fmt, axis=-1, group_size=g)
                want = quantize(xr, fmt, s, axis=-1, group_size=g, rounding=rounding)
                _check(out.take(N, np.uint8), want, m, top, what + " group codes")
                _check(out.take(N // g, "<u4"), _bits(s), rows * k // g, ones, what + " group scales")
                _check(out.take(N, "<u4"), dequantize(want, fmt, s, axis=-1, group_size=g), m, ones, what, floats=True)
                s = compute_scales(xr, fmt, axis=-1)
                want = quantize(xr, fmt, s, axis=-1, rounding=rounding)
                packed = out.take(words, "<u4")
                np.testing.assert_array_equal(unpack_codes(packed, fmt.bits, m), want.ravel(), err_msg=what + " port")
                _check(out.take(MAX_ROWS, "<u4"), _bits(s), rows, ones, what + " token scales")
                _check(out.take(N, "<u4"), dequantize(want, fmt, s, axis=-1), m, ones, what + " from the port",
                       floats=True)
                s = compute_scales(xr, fmt, axis=None)
                want = quantize(xr, fmt, s, axis=None, rounding=rounding)
                _check(out.take(N, np.uint8), want, m, top, what + " tensor codes")
                _check(out.take(1, "<u4"), _bits(s), 1, ones, what + " tensor scale")
            elif kind == "dual":
                dual, group = spec
                nc, pc = out.take(N, np.uint8), out.take(N, np.uint8)
                sn, sp = out.take(N // group, "<u4"), out.take(N // group, "<u4")
                want_sn, want_sp = compute_dual_scales(xr, dual, group)
                want_nc, want_pc = dual_quantize(xr, dual, want_sn, want_sp, group)
                _check(nc, want_nc, m, (1 << dual.neg.bits) - 1, what)
                _check(pc, want_pc, m, (1 << dual.pos.bits) - 1, what)
                _check(sn, _bits(want_sn), rows * k // group, ones, what)
                _check(sp, _bits(want_sp), rows * k // group, ones, what)
            elif kind == "hadamard":
                want = ght_f32(xr, signs, BLOCK) if spec[0] else fwht_f32(xr, BLOCK)
                _check(out.take(N, "<u4"), want, m, ones, what, floats=True)
            else:
                _check(out.take(N, "<u4"), gelu_tanh_f32(xr), m, ones, what, floats=True)
    out.done()


# ------------------------------------------------------------------ PE array

K, O = 128, 24
# Hardware plans (N_TILE, PES, LANES, WORD_BITS): one tile or several; 512-bit ports,
# where fp6 rows start inside a word, and 32-bit ports, whose words hold fewer codes
# than LANES; 1 to 32 lanes; more PEs than a tile's outputs.
ONE_TILE, SMALL_TILES, NARROW_PORT = (24, 4, 32, 512), (8, 2, 4, 512), (6, 3, 4, 64)
WIDE_LANES, ONE_PE, THIN, WIDE_ARRAY = (4, 4, 16, 128), (12, 1, 1, 256), (3, 1, 2, 64), (6, 8, 8, 512)


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
    Case("e2m1", "e2m1", Layout(32, 64), True, (ONE_TILE, NARROW_PORT, ONE_PE, WIDE_ARRAY)),  # fp4 per group
    Case("e2m3", "e2m3", Layout("token", "channel"), False, (SMALL_TILES, WIDE_LANES, THIN)),  # fp6
    Case("e2m3", "e2m1", Layout("tensor", 32), True, (NARROW_PORT, WIDE_LANES, ONE_PE)),  # fp6 x fp4
    Case("e2m1", "e2m3", Layout(64, "tensor"), False, (ONE_TILE, SMALL_TILES, THIN)),  # per-tensor w
]
DUAL_CASES = [
    Case("e1m2/e2m1", "e2m1", Layout(32, 64), True, (SMALL_TILES, NARROW_PORT, WIDE_LANES)),  # W4A4
    Case("int6/e2m3", "e2m3", Layout("token", "channel"), False, (ONE_TILE, NARROW_PORT, WIDE_ARRAY)),  # W6A6
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

PLAN = """fill_f32(y, {max_rows} * {o});
        TILES(rows) {{
            hls::stream<ap_uint<{word_bits}> > words;
            hls::stream<float> scales, biases;
            hls::stream<fpqc::Beat<ap_int<{acc_bits}>, {beat}> > sums;
            hls::stream<fpqc::Beat<float, {out_beat}> > out;
            fpqc::load_weight_words<{n_words}, {word_bits}>(w{j}, words);
            fpqc::load_weight_params<{k}, {o}, {ws_row}, {wg}, {n_tile}>(ws, scales);
            {load_biases}
            {mul}
            {combine}
            fpqc::write_rows<{o}, {n_tile}, TILE_ROWS>(out, y, r0, nr);
        }}
        put(y, 4 * {max_rows} * {o});"""


def _plan_code(j: int, case: Case, tables: TableSet, n_u32: int, plan: tuple[int, int, int, int]) -> tuple[list, str]:
    """(declarations, launch code) of one plan: the PE array's buffers, its streams and its four stages."""
    n_tile, pes, lanes, word_bits = plan
    w_fmt, planes, g = Format.parse(case.w), case.planes(), case.layout.g
    xs_row, xg, ws_row, wg = case.layout.template()
    sum_bits = max(accumulator_bits(f, w_fmt, lanes) for _, f in planes)
    acc_bits = max(accumulator_bits(f, w_fmt, g) for _, f in planes)
    s_rows = n_tile if ws_row else 1
    words = -(-n_u32 // (word_bits // 32))
    decls = [
        f"static ap_uint<{word_bits}> w{j}[{words}];",
        f"static ap_uint<{w_fmt.bits}> pe_w{j}[2][{n_tile}][{K}];",
        f"static float pe_ws{j}[2][{s_rows}][{K // wg}], pe_b{j}[2][{n_tile}], total{j}[{pes}];",
        f"static ap_int<{acc_bits}> acc{j}[{len(planes) * pes}];",
    ]
    layer = f"{K}, {O}, {g}, {n_tile}, {pes}"
    if case.dual:
        (nt, nu), (pt, pu) = (tables.product(f, w_fmt) for _, f in planes)
        mul = (f"fpqc::dual_linear_mul<{layer}, {lanes}, {w_fmt.bits}, {word_bits}, {sum_bits}, {acc_bits}, "
               f"TILE_ROWS>(xn, xp, words, pe_w{j}, {nt}, {pt}, acc{j}, sums, r0, nr);")
        combine = "fpqc::dual_linear_combine"
        scales, units = "sn, sp", f"{nu}, {pu}"
    else:
        table, unit = tables.product(planes[0][1], w_fmt)
        mul = (f"fpqc::linear_mul<{layer}, {lanes}, {w_fmt.bits}, {word_bits}, {sum_bits}, {acc_bits}, TILE_ROWS>(x, "
               f"words, pe_w{j}, {table}, acc{j}, sums, r0, nr);")
        combine, scales, units = "fpqc::linear_combine", "xs", unit
    b_in, b_buf = ("biases", f"pe_b{j}") if case.bias else ("fpqc::no_bias", "fpqc::no_bias")
    combine = (f"{combine}<{layer}, {acc_bits}, {xs_row}, {xg}, {ws_row}, {wg}, TILE_ROWS>({scales}, scales, {b_in}, "
               f"pe_ws{j}, {b_buf}, total{j}, sums, {units}, out, r0, nr, fpqc::Tap());")
    code = PLAN.format(
        max_rows=MAX_ROWS, o=O, k=K, g=g, word_bits=word_bits, sum_bits=sum_bits, acc_bits=acc_bits,
        beat=len(planes) * pes, out_beat=min(pes, n_tile), n_words=words, j=j, ws_row=ws_row, wg=wg, n_tile=n_tile,
        load_biases=f"fpqc::load_biases<{O}>(bias, biases);" if case.bias else "",
        mul=mul, combine=combine,
    )
    return decls, code


def _case_function(i: int, case: Case, tables: TableSet, n_u32: int, n_ws: int, xsc: int) -> str:
    """``case_<i>()``: reads the weights, then runs every launch with every plan of ``case``."""
    planes = case.planes()
    scale_names = ["sn", "sp"] if case.dual else ["xs"]
    xs_rows = MAX_ROWS if case.layout.template()[0] else 1
    decls = [f"static ap_uint<{f.bits}> {v}[{MAX_ROWS}][{K}];" for v, f in planes]
    decls += [f"static float {s}[{xs_rows}][{xsc}];" for s in scale_names]
    get_x = [f"get_codes<{f.bits}>(&{v}[0][0], {MAX_ROWS * K});" for v, f in planes]
    get_x += [f"get({s}, 4 * {xs_rows * xsc});" for s in scale_names]
    convert, plans = [], []
    for j, plan in enumerate(case.plans):
        plan_decls, code = _plan_code(j, case, tables, n_u32, plan)
        decls += plan_decls
        convert.append(f"fpqc::weight_words_from_u32<{plan[3]}>(w_u32, {n_u32}, w{j});")
        plans.append(code)
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
            # a per-tensor scale is the launch's own rows' (quantize_tensor_stage)
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
        functions.append(_case_function(i, case, tables, n_u32, n_ws, xs_row if xs_row else 1))
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
    ones = np.uint32(0xFFFFFFFF)
    for case, wants in zip(cases, expected):
        for rows, want in wants:
            what = f"{case.x} x {case.w} {case.layout} bias={case.bias} rows={rows}"
            for plan in case.plans:
                y = out.take(MAX_ROWS * O, "<u4")
                if rows == 0:
                    assert np.all(y == ones), f"{what} {plan}: wrote with rows=0"
                else:
                    _check(y, _bits(want), rows * O, ones, f"{what} plan {plan}")
    out.done()


def test_linear_stages_match_numerics(tmp_path):
    _run_cases(tmp_path, SINGLE_CASES, CXX17)


def test_dual_linear_stages_match_numerics(tmp_path):
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
