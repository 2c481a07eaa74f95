"""fpqc_block.h's stages (layernorm, modulate, residual, attention against a KV cache) and fpqc_kv_codes.h's
(a low-bit KV cache of codes and scales) vs fpqc, bit for bit.

One g++ driver (``-Wall -Wextra -Werror``, the ap_types headers as system
headers) reads a stream of calls from stdin -- an opcode, the call's counts,
its float32 inputs -- and runs each through its stages in the same process,
so the calls of one test run one after another with different row and key
counts (state left over between calls would show).  Every output is compared
bit for bit with :mod:`fpqc.numerics` (``numerics/block.py``,
``numerics/attention.py``); the KV-cache sequence is compared with the
interpreter running ``fpq.cached_attention`` itself, scale after scale.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from fpqc.backends.hls.build import INCLUDE_DIR, LIBRARY_HEADERS
from fpqc.backends.hls.codes import pack_codes
from fpqc.backends.hls.csim import CXXFLAGS, ap_types_include
from fpqc.backends.hls.tables import TableSet
from fpqc.backends.interp.runner import run_module
from fpqc.numerics import Format, layernorm_f32, modulate_f32, residual_f32
from fpqc.numerics.attention import attend, l2_normalize_f32

from conftest import parse

LN_C, LN_SMALL_C, LN_ROWS = 64, 7, 8  # layernorm_stage<64, ...>, <7, ...>, up to 8 rows
MOD_C, MOD_BATCH, MOD_ROWS = 64, 2, 8  # modulate / residual stages of C = 64, 2 samples of up to 8 rows
D, HEAD_ROWS, HEAD_KEYS = 16, 8, 24  # l2_inv_norm<16>, attend_row<16, 24>
B, L, C, H, MAX_N = 2, 30, 64, 4, 16  # attention: 2 samples, caches of 30 rows, C = 64 in 4 heads, n <= 16
TILE = 3  # rows of a row tile
UNITS = 3  # attention units of the second attention: H = 4 heads in groups of 3 and 1
STEPS = ((0, 1), (1, 4), (5, 9), (14, 16))  # (offset, n) of four consecutive scales: L = 30
EPS_ATTN = 1e-12  # VAR's l2-normalisation eps

# kv_quant variants: (opcode suffix, kv_quant and kv_scope properties, format, rounding, group along D,
# whether the current scale's keys are quantized too: kv_scope = "all").  With kv_quant the cache is codes
# (packed as fpqc.backends.hls.codes packs them) and scales.
KV_VARIANTS = {
    "none": (0, None, None, None, None, False),
    "e2m3-token-cached": (1, "kv_quant = #fpq.quant<e2m3, token>", "e2m3", "rne", D, False),
    "e2m1-group8-ties-up-all": (
        2, 'kv_quant = #fpq.quant<e2m1, group 8, rounding = "ties-up">, kv_scope = "all"', "e2m1", "ties-up", 8,
        True,
    ),
}

# Every warning an error, but for the two HLS idioms g++ does not know: the
# pragmas, and the loop labels that name loops in the synthesis reports.
WARNINGS = ("-Wall", "-Wextra", "-Werror", "-Wno-unknown-pragmas", "-Wno-unused-label")

# ap_private's default constructor reads its uninitialised word (clearUnusedBits);
# g++ 12 at -O2 and -O3 reports that at the ap_types line even from -isystem once it
# is inlined into fpqc code, so the driver silences -Wuninitialized and
# -Wmaybe-uninitialized for ap_types' own lines only (the state at a warning's
# location decides), before anything else includes them.  Rows run in row tiles of TILE (r0, nr), the stages reading and
# writing streams (loaded from and written to the driver's arrays as ports),
# whole buffers of all rows and whole buffers of one tile, as kernels do.
DRIVER = """
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "ap_int.h"
#pragma GCC diagnostic pop
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "fpqc_tables.h"
#include "fpqc_block.h"
#include "fpqc_kv_codes.h"

static bool get(void* p, size_t n) {{ return fread(p, 1, n, stdin) == n; }}
static bool get_f32(float* p, int n) {{ return get(p, (size_t)n * 4); }}
static void put_f32(const float* p, int n) {{ fwrite(p, 4, (size_t)n, stdout); }}
#define TILES(rows) for (int r0 = 0, nr = 0; nr = (rows) - r0 < {tile} ? (rows) - r0 : {tile}, r0 < (rows); r0 += {tile})

// attend_row's double buffering has nothing to move here.
struct NoMove {{
    void step() {{}}
}};

static float x[{big}], x2[{big}], y[{big}], v1[{big}], v2[{big}];
static float k_cache[{b} * {l} * {c}], v_cache[{b} * {l} * {c}];
static float ln_row[2][{ln_c}], ln_small_row[2][{ln_small_c}];
static float x_all[{mod_batch} * {mod_rows}][{mod_c}], y_tile[{tile}][{mod_c}];
static float scale[{mod_batch}][{mod_c}], shift[{mod_batch}][{mod_c}];
static float kb[{head_keys}][{d}], vb[{head_keys}][{d}], scores[{head_keys}], q_row[{d}], o_row[{d}];
static uint32_t k_codes[{b} * {l} * {c}], v_codes[{b} * {l} * {c}];  // words: at most one a code
static float k_scales[{b} * {l} * {c}], v_scales[{b} * {l} * {c}];
static float fresh_k[{b} * {max_n}][{c}], fresh_v[{b} * {max_n}][{c}];
static float q_all[{b} * {max_n}][{c}], out_all[{b} * {max_n}][{c}], kv1[1][{c} / {h}], kv2[2][{c} / {h}];
static float q_scale[{h}];

template <int CC, int N>
static void layernorm(float (&row)[2][CC], int n, float eps) {{
    TILES(n) {{
        hls::stream<fpqc::Beat<float, N> > in, out;
        fpqc::load_rows<CC, CC, {tile}>(x, in, r0, nr);
        fpqc::layernorm_stage<CC, {tile}, N>(in, row, out, eps, r0, nr, fpqc::Tap());
        fpqc::write_rows<CC, CC, {tile}>(out, y, r0, nr);
    }}
}}

// U heads at once, on U attention units, each with its bank of the tiles,
// score rows, query and context; an fp32 cache.
template <int U>
static void attention(int n, int offset, float eps) {{
    static float kt[2][U * {l}][{c} / {h}], vt[2][U * {l}][{c} / {h}], att_scores[2][U * {l}];
    static float query[U * {c} / {h}], context[U * {c} / {h}];
    fpqc::load_buffer(v1, q_scale);
    TILES({b} * n) {{  // mat_qkv's region: the new keys and values of a row tile into the caches
        hls::stream<fpqc::Beat<float, 8> > qkv;
        fpqc::load_rows<3 * {c}, 2 * {c} / {h}, {tile}>(x, qkv, r0, nr);
        fpqc::store_kv_stage<{c}, {h}, 2 * {c} / {h}, {b}, {l}, {tile}>(qkv, q_all, kv1, k_cache, v_cache, n, offset,
                                                                       eps, r0, nr);
    }}
    hls::stream<fpqc::Beat<float, 4> > keys, values;  // the next region: attention over all rows
    fpqc::load_kv_stage<{c}, {h}, {b}, {l}>(k_cache, v_cache, keys, values, n, offset);
    fpqc::attend_stage<{c}, {h}, {b}, {l}, U>(keys, values, kt, vt, q_all, q_scale, att_scores, query, context,
                                             out_all, n, offset, eps, fpqc::Tap());
    put_f32(&out_all[0][0], {b} * n * {c});
    put_f32(k_cache, {b} * {l} * {c});
    put_f32(v_cache, {b} * {l} * {c});
}}

// The same against a cache of BITS-bit codes with a scale per G channels.
template <int U, bool ALL, int BITS, int G>
static void codes_attention(int n, int offset, float eps, const fpqc::KvQuantizer& kvq) {{
    static float kt[2][U * {l}][{c} / {h}], vt[2][U * {l}][{c} / {h}], att_scores[2][U * {l}];
    static float query[U * {c} / {h}], context[U * {c} / {h}];
    const int words = ({b} * {l} * {c} + 32 / BITS - 1) / (32 / BITS), scales = {b} * {l} * {c} / G;
    fpqc::KvCodes<BITS, G> k = {{k_codes, k_scales}}, v = {{v_codes, v_scales}};
    fpqc::load_buffer(v1, q_scale);
    TILES({b} * n) {{
        hls::stream<fpqc::Beat<float, 8> > qkv;
        fpqc::load_rows<3 * {c}, 2 * {c} / {h}, {tile}>(x, qkv, r0, nr);
        fpqc::store_kv_codes_stage<{c}, {h}, 2 * {c} / {h}, {b}, {l}, {tile}, ALL>(
            qkv, q_all, kv2, fresh_k, fresh_v, k, v, kvq, n, offset, eps, r0, nr);
    }}
    hls::stream<fpqc::Beat<float, 4> > keys, values;
    fpqc::load_kv_codes_stage<{c}, {h}, {b}, {l}, ALL>(k, v, fresh_k, fresh_v, keys, values, kv2, kvq, n, offset);
    fpqc::attend_stage<{c}, {h}, {b}, {l}, U>(keys, values, kt, vt, q_all, q_scale, att_scores, query, context,
                                             out_all, n, offset, eps, fpqc::Tap());
    put_f32(&out_all[0][0], {b} * n * {c});
    fwrite(k_codes, 4, (size_t)words, stdout);
    put_f32(k_scales, scales);
    fwrite(v_codes, 4, (size_t)words, stdout);
    put_f32(v_scales, scales);
}}

// KV variant 0: an fp32 cache; 1 and 2: KV_VARIANTS' codes caches.
template <int U>
static void cached_attention(int variant, int n, int offset, float eps) {{
    if (variant == 0)
        attention<U>(n, offset, eps);
    else if (variant == 1)
        codes_attention<U, {kv1_all}, {kv1_bits}, {kv1_group}>(n, offset, eps,
                                                            fpqc::kv_quantizer({kv1_quantizer}, {kv1_decoder}));
    else
        codes_attention<U, {kv2_all}, {kv2_bits}, {kv2_group}>(n, offset, eps,
                                                            fpqc::kv_quantizer({kv2_quantizer}, {kv2_decoder}));
}}

// Set a codes cache of KV variant `variant`: the key codes' words and scales, then the value's.
static bool set_codes(int variant) {{
    const int bits = variant == 1 ? {kv1_bits} : {kv2_bits}, group = variant == 1 ? {kv1_group} : {kv2_group};
    const int words = ({b} * {l} * {c} + 32 / bits - 1) / (32 / bits), scales = {b} * {l} * {c} / group;
    return get(k_codes, (size_t)words * 4) && get_f32(k_scales, scales) && get(v_codes, (size_t)words * 4) &&
           get_f32(v_scales, scales);
}}

int main() {{
    int32_t op;
    while (get(&op, 4)) {{
        int32_t a[2];
        float eps;
        if (!get(a, 8) || !get(&eps, 4)) return 1;
        const int n = a[0], m = a[1];
        if (op == 1 || op == 2) {{  // layernorm: n rows (m unused)
            const int c = op == 1 ? {ln_c} : {ln_small_c};
            if (!get_f32(x, n * c)) return 1;
            if (op == 1) layernorm<{ln_c}, 16>(ln_row, n, eps);
            else layernorm<{ln_small_c}, 7>(ln_small_row, n, eps);
            put_f32(y, n * c);
        }} else if (op == 3 || op == 4) {{  // modulate / residual: n samples of m rows
            if (!get_f32(x, n * m * {mod_c}) || !get_f32(x2, n * m * {mod_c})) return 1;
            if (!get_f32(v1, n * {mod_c}) || !get_f32(v2, n * {mod_c})) return 1;
            fpqc::load_buffer(x, x_all, n * m);
            fpqc::load_buffer(v1, scale, n);
            fpqc::load_buffer(v2, shift, n);
            TILES(n * m) {{
                hls::stream<fpqc::Beat<float, 8> > in;  // in column tiles of 16
                if (op == 3) {{
                    fpqc::load_rows<{mod_c}, 16, {tile}>(x, in, r0, nr);
                    fpqc::modulate_stage<{mod_c}, 16, {tile}, 4>(in, scale, shift, y_tile, m, r0, nr, fpqc::Tap());
                }} else {{
                    fpqc::load_rows<{mod_c}, 16, {tile}>(x2, in, r0, nr);
                    fpqc::residual_stage<{mod_c}, 16, {tile}, 4>(x_all, in, scale, y_tile, m, r0, nr, fpqc::Tap());
                }}
                for (int i = 0; i < nr; ++i) memcpy(y + (r0 + i) * {mod_c}, y_tile[i], 4 * {mod_c});
            }}
            put_f32(y, n * m * {mod_c});
        }} else if (op == 5) {{  // l2 normalisation: n rows of D, x * l2_inv_norm(x)
            if (!get_f32(x, n * {d})) return 1;
            for (int i = 0; i < n; ++i) {{
                const float inv = fpqc::l2_inv_norm<{d}>(x + i * {d}, eps);
                for (int e = 0; e < {d}; ++e) y[i * {d} + e] = x[i * {d} + e] * inv;
            }}
            put_f32(y, n * {d});
        }} else if (op == 6) {{  // attend_row: n queries, m keys (k and v rows interleaved)
            if (!get_f32(x, n * {d}) || !get_f32(x2, m * 2 * {d})) return 1;
            for (int j = 0; j < m; ++j) {{
                memcpy(kb[j], x2 + j * 2 * {d}, 4 * {d});
                memcpy(vb[j], x2 + j * 2 * {d} + {d}, 4 * {d});
            }}
            NoMove none;
            for (int i = 0; i < n; ++i) {{
                memcpy(q_row, x + i * {d}, 4 * {d});
                fpqc::detail::attend_row<{d}, {head_keys}, 1>(q_row, kb, vb, m, scores, o_row, 0, none);
                memcpy(y + i * {d}, o_row, 4 * {d});
            }}
            put_f32(y, n * {d});
        }} else if (op == 7) {{  // set both caches
            if (!get_f32(k_cache, {b} * {l} * {c}) || !get_f32(v_cache, {b} * {l} * {c})) return 1;
        }} else if (op == 8) {{  // set both codes caches of KV variant n
            if (!set_codes(n)) return 1;
        }} else if (op >= 10 && op <= 15) {{  // cached attention: n new rows at offset m
            if (!get_f32(x, {b} * n * 3 * {c}) || !get_f32(v1, {h})) return 1;
            if (op >= 13)  // {units} attention units (the last group of heads short)
                cached_attention<{units}>(op - 13, n, m, eps);
            else
                cached_attention<1>(op - 10, n, m, eps);
        }} else {{
            return 2;
        }}
    }}
    return 0;
}}
"""


def _driver_source(tables: TableSet) -> str:
    kv = {}
    for name, (index, _, fmt_name, rounding, group, every_key) in KV_VARIANTS.items():
        if fmt_name is None:
            continue
        fmt = Format.parse(fmt_name)
        kv.update({
            f"kv{index}_bits": fmt.bits, f"kv{index}_group": group, f"kv{index}_all": str(every_key).lower(),
            f"kv{index}_quantizer": tables.quantizer(fmt, rounding), f"kv{index}_decoder": tables.decoder(fmt),
        })
    return DRIVER.format(
        big=B * MAX_N * 3 * C, b=B, l=L, c=C, h=H, max_n=MAX_N, d=D, head_keys=HEAD_KEYS, tile=TILE,
        ln_c=LN_C, ln_small_c=LN_SMALL_C, mod_c=MOD_C, mod_batch=MOD_BATCH, mod_rows=MOD_ROWS, units=UNITS,
        **kv,
    )


def _compile(work: Path, std: str, link: bool) -> Path:
    tables = TableSet()
    source = _driver_source(tables)
    (work / "fpqc_tables.h").write_text(tables.header())
    (work / "driver.cpp").write_text(source)
    out = work / ("driver" if link else "driver.o")
    flags = [flag for flag in CXXFLAGS if not flag.startswith("-std=")]
    build = subprocess.run(
        ["g++", f"-std={std}", *flags, *WARNINGS, f"-I{work}", f"-I{INCLUDE_DIR}",
         "-isystem", str(ap_types_include()), *([] if link else ["-c"]), str(work / "driver.cpp"), "-o", str(out)],
        capture_output=True, text=True,
    )
    assert build.returncode == 0, build.stderr[-6000:]
    return out


@pytest.fixture(scope="module")
def driver(tmp_path_factory) -> Path:
    """The driver compiled with fpqc's C-simulation flags (C++14) plus every warning as an error."""
    return _compile(tmp_path_factory.mktemp("block_driver"), CXXFLAGS[0].removeprefix("-std="), link=True)


def test_header_is_copied_into_builds_with_what_it_includes():
    assert "fpqc_block.h" in LIBRARY_HEADERS
    for header in LIBRARY_HEADERS:
        for line in (INCLUDE_DIR / header).read_text().splitlines():
            if line.startswith('#include "') and line not in ('#include "ap_int.h"', '#include "hls_stream.h"'):
                assert line.split('"')[1] in LIBRARY_HEADERS, f"{header}: {line}"


def test_compiles_warning_free_as_cpp17(tmp_path):
    _compile(tmp_path, "c++17", link=False)


@dataclass
class Calls:
    """A stream of driver calls and the float32 results each must give, in order."""

    inputs: list[bytes] = field(default_factory=list)
    expected: list[tuple[str, np.ndarray]] = field(default_factory=list)

    def call(self, op: int, a: int, b: int, eps: float, *arrays: np.ndarray) -> None:
        self.inputs.append(np.array([op, a, b], "<i4").tobytes() + np.float32(eps).tobytes())
        self.inputs.extend(np.ascontiguousarray(x, np.float32).tobytes() for x in arrays)

    def expect(self, what: str, *arrays: np.ndarray) -> None:
        self.expected.extend((what, np.asarray(x, np.float32)) for x in arrays)

    def run(self, driver: Path) -> None:
        result = subprocess.run([str(driver)], input=b"".join(self.inputs), capture_output=True, check=True)
        out = np.frombuffer(result.stdout, "<u4")
        assert out.size == sum(x.size for _, x in self.expected)
        at = 0
        for what, want in self.expected:
            got = out[at:at + want.size].reshape(want.shape)
            at += want.size
            bad = np.flatnonzero(got != want.view(np.uint32))
            assert bad.size == 0, (
                f"{what}: {bad.size} of {want.size} values differ; first at flat index {bad[0]}: "
                f"C++ {got.ravel()[bad[0]].view(np.float32)!r} vs numpy {want.ravel()[bad[0]]!r}"
            )


def _varied(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Normal values with magnitudes from 1e-4 to 1e4 mixed within a row."""
    return (rng.standard_normal(shape) * rng.choice([1e-4, 1e-2, 1.0, 1e2, 1e4], shape)).astype(np.float32)


def test_layernorm(driver):
    rng = np.random.default_rng(1)
    calls = Calls()
    for c, op in ((LN_C, 1), (LN_SMALL_C, 2)):
        for rows, eps in ((LN_ROWS, 1e-6), (1, 1e-5), (5, 1e-6), (LN_ROWS, 1e-3)):
            x = _varied(rng, (rows, c))
            if rows == LN_ROWS:
                x[1] = 3.25  # constant row: variance 0, y = 0 * rsqrt(eps)
                x[2] = rng.standard_normal(c).astype(np.float32) * np.float32(1e18)  # d*d overflows: y = d * 0
                x[3] = rng.standard_normal(c).astype(np.float32) * np.float32(1e-20)  # variance below eps
                x[4, 0] = -0.0
                x[4, 1:] = 0.0  # all zeros (one -0.0)
                x[5] = rng.standard_normal(c).astype(np.float32) * np.float32(3e4) + np.float32(1e5)  # big mean
                x[6] = -0.0  # sums start from their first term: s = -0.0, mean = -0.0, d = +0.0
                x[7] = rng.standard_normal(c).astype(np.float32) * np.float32(np.sqrt(eps))  # v / C near eps
            calls.call(op, rows, 0, eps, x)
            calls.expect(f"layernorm_stage<{c}> rows={rows} eps={eps}", layernorm_f32(x, eps))
    calls.run(driver)


def test_modulate_and_residual(driver):
    rng = np.random.default_rng(2)
    calls = Calls()
    for batch, rows in ((MOD_BATCH, MOD_ROWS), (1, 1), (MOD_BATCH, 3), (1, MOD_ROWS)):
        x, f = _varied(rng, (batch, rows, MOD_C)), _varied(rng, (batch, rows, MOD_C))
        scale, shift = _varied(rng, (batch, 1, MOD_C)), _varied(rng, (batch, 1, MOD_C))
        scale[0, 0, :4] = (-1.0, 1e-8, -1e-8, 3e38)  # 1 + scale: 0, rounds to 1, overflow to inf * x
        x[0, 0, :4] = (2.0, 5.0, 7.0, 0.0)  # inf * 0 = NaN at channel 3 of row 0 (same NaN both sides)
        x[0, 1:, 3] = 1.0
        if rows > 1:
            x[0, 1], f[0, 1] = -0.0, 0.0  # -0.0 + (±0.0 * gamma): the sign of zero follows gamma
        calls.call(3, batch, rows, 0.0, x, f, scale, shift)
        calls.expect(f"modulate batch={batch} rows={rows}", modulate_f32(x, scale, shift))
        calls.call(4, batch, rows, 0.0, x, f, scale, shift)
        calls.expect(f"residual batch={batch} rows={rows}", residual_f32(x, f, scale))
    calls.run(driver)


def test_l2_inv_norm(driver):
    rng = np.random.default_rng(3)
    calls = Calls()
    for rows, eps in ((10, 1e-12), (1, 1e-3), (7, 1e-6)):
        x = _varied(rng, (rows, D))
        if rows == 10:
            x[0] = 0.0  # all zero: x * rsqrt(eps*eps) = 0
            x[1] = rng.standard_normal(D).astype(np.float32) * np.float32(1e-14)  # norm below eps
            x[2] = rng.standard_normal(D).astype(np.float32) * np.float32(1e20)  # sum of squares overflows: 0
            x[3] = rng.standard_normal(D).astype(np.float32) * np.float32(1e15)
            x[4, :] = 0.0
            x[4, 5] = -2.0
            x[5, 3] = np.nan  # a NaN sum of squares stays NaN (numpy's maximum): the whole row is NaN
        calls.call(5, rows, 0, eps, x)
        calls.expect(f"l2_inv_norm rows={rows} eps={eps}", l2_normalize_f32(x, eps))
    calls.run(driver)


def test_attend_row(driver):
    rng = np.random.default_rng(4)
    calls = Calls()
    # (n, m): full, n = 1, m = 1, m not the maximum, back to large after small
    for n, m in ((HEAD_ROWS, HEAD_KEYS), (1, 1), (3, 17), (1, HEAD_KEYS), (HEAD_ROWS, 2), (5, 11)):
        q_scale = np.float32(rng.uniform(1.0, 30.0))
        q = l2_normalize_f32(_varied(rng, (n, D)), EPS_ATTN) * q_scale
        k = l2_normalize_f32(_varied(rng, (m, D)), EPS_ATTN)
        v = _varied(rng, (m, D))
        if m > 2:
            k[1] = 0.0  # a zero key: score exactly 0
        v[:, 0] = -0.0  # every term -0.0: the sum over the keys starts from its first term, stays -0.0
        calls.call(6, n, m, 0.0, q, np.concatenate([k, v], axis=-1))
        calls.expect(f"attend_row n={n} m={m}", attend(q, k, v))
    # raw, unnormalised queries and keys: scores up to ~1e4, softmax underflows to exact zeros
    n, m = 4, 9
    q, k, v = _varied(rng, (n, D)), rng.standard_normal((m, D)).astype(np.float32), _varied(rng, (m, D))
    calls.call(6, n, m, 0.0, q, np.concatenate([k, v], axis=-1))
    calls.expect(f"attend_row raw n={n} m={m}", attend(q, k, v))
    calls.run(driver)


def _cache_types(variant: str) -> list[str]:
    """The types of one cache (keys or values) of a KV variant: fp32, or codes and scales."""
    _, _, fmt, _, group, _ = KV_VARIANTS[variant]
    if fmt is None:
        return [f"tensor<{B}x{L}x{C}xf32>"]
    return [f"tensor<{B}x{L}x{C}x!fpq.float<{fmt}>>", f"tensor<{B}x{L}x{C // group}xf32>"]


def _cached_attention_module(n: int, offset: int, variant: str):
    kv_quant = KV_VARIANTS[variant][1]
    qkv, qs, out = f"tensor<{B}x{n}x{3 * C}xf32>", f"tensor<{H}xf32>", f"tensor<{B}x{n}x{C}xf32>"
    names = [f"{kind}{part}" for kind in "kv" for part in ("", "_scales")[:len(_cache_types(variant))]]
    types = _cache_types(variant) * 2
    quant = f", {kv_quant}" if kv_quant else ""
    arguments = ", ".join(f'%{name}: {t} {{onnx.name = "{name}"}}' for name, t in zip(names, types))
    results = ", ".join(f'{t} {{onnx.name = "{name}1"}}' for name, t in zip(names, types))
    return parse(f"""
func.func @main(%qkv: {qkv} {{onnx.name = "qkv"}}, %qs: {qs} {{onnx.name = "q_scale"}}, {arguments})
    -> ({out} {{onnx.name = "out"}}, {results}) {{
  %offset = arith.constant {offset} : i64
  %o, {", ".join(f"%{name}1" for name in names)} = fpq.cached_attention %qkv, %qs, cache({", ".join(f"%{name}" for name in names)}), %offset
      {{num_heads = {H} : i64, eps = {EPS_ATTN:e} : f32{quant}}}
      : ({qkv}, {qs}, {", ".join(types)}, i64) -> ({out}, {", ".join(types)})
  func.return %o, {", ".join(f"%{name}1" for name in names)} : {out}, {", ".join(types)}
}}
""")


def _stale_caches(rng: np.random.Generator, variant: str) -> dict[str, np.ndarray]:
    """Caches full of values the attention must never read (rows beyond those written so far)."""
    _, _, fmt, _, group, _ = KV_VARIANTS[variant]
    if fmt is None:
        return {kind: (rng.standard_normal((B, L, C)) * 1e3).astype(np.float32) for kind in "kv"}
    bits = Format.parse(fmt).bits
    caches = {}
    for kind in "kv":
        caches[kind] = rng.integers(0, 1 << bits, (B, L, C)).astype(np.uint8)
        caches[f"{kind}_scales"] = rng.uniform(1e-3, 1e3, (B, L, C // group)).astype(np.float32)
    return caches


def _as_driver_floats(variant: str, caches: dict[str, np.ndarray]) -> list[np.ndarray]:
    """The caches as the driver reads and writes them: fp32, or packed code words (as float32 bits) and scales."""
    fmt = KV_VARIANTS[variant][2]
    if fmt is None:
        return [caches["k"], caches["v"]]
    bits = Format.parse(fmt).bits
    return [pack_codes(caches[name], bits).view(np.float32) if name in "kv" else caches[name]
            for name in ("k", "k_scales", "v", "v_scales")]


@pytest.mark.parametrize("units", [1, UNITS])
@pytest.mark.parametrize("variant", sorted(KV_VARIANTS))
def test_cached_attention_over_scales(driver, variant, units):
    index = KV_VARIANTS[variant][0]
    rng = np.random.default_rng(5 + index)
    calls = Calls()
    caches = _stale_caches(rng, variant)
    calls.call(7 if index == 0 else 8, index, 0, 0.0, *_as_driver_floats(variant, caches))
    q_scale = rng.uniform(1.0, 30.0, H).astype(np.float32)
    for offset, n in STEPS:
        qkv = _varied(rng, (B, n, 3 * C))
        qkv[0, 0, C:C + D] = 0.0  # a zero key (head 0): eps path, stored as zeros
        qkv[-1, -1, :D] = 0.0  # a zero query (head 0): uniform softmax
        qkv[0, -1, 2 * C + D:2 * C + 2 * D] = 0.0  # a zero value row (head 1)
        calls.call((10 if units == 1 else 13) + index, n, offset, np.float32(EPS_ATTN), qkv, q_scale)
        got = run_module(_cached_attention_module(n, offset, variant), {"qkv": qkv, "q_scale": q_scale, **caches})
        caches = {name: got[f"{name}1"] for name in caches}
        what = f"cached_attention {variant} on {units} units offset={offset} n={n}"
        calls.expect(what, got["out"])
        names = ("key cache", "key scales", "value cache", "value scales") if index else ("key cache", "value cache")
        for name, array in zip(names, _as_driver_floats(variant, caches), strict=True):
            calls.expect(f"{what}: {name}", array)
    calls.run(driver)
