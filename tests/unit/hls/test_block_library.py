"""fpqc_block.h (layernorm, modulate, residual, l2 normalisation, attention, KV cache) vs fpqc, bit for bit.

One g++ driver (``-Wall -Wextra -Werror``, the ap_types headers as system
headers) reads a stream of calls from stdin -- an opcode, the call's counts,
its float32 inputs -- and runs each through its template in the same process,
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
from fpqc.backends.hls.csim import CXXFLAGS, ap_types_include
from fpqc.backends.hls.tables import TableSet
from fpqc.backends.interp.runner import run_module
from fpqc.numerics import Format, layernorm_f32, modulate_f32, residual_f32
from fpqc.numerics.attention import attend, l2_normalize_f32

from conftest import parse

LN_C, LN_SMALL_C, LN_ROWS = 64, 7, 8  # layernorm<64, 8>, layernorm<7, 8>
MOD_C, MOD_BATCH, MOD_ROWS = 64, 2, 8  # modulate / residual <64, 2, 8>
D, HEAD_ROWS, HEAD_KEYS = 16, 8, 24  # l2_normalize<16>, attend_head<16, 8, 24>
B, L, C, H, MAX_N = 2, 30, 64, 4, 16  # cached_attention<2, 30, 64, 4, 16>
STEPS = ((0, 1), (1, 4), (5, 9), (14, 16))  # (offset, n) of four consecutive scales: L = 30
EPS_ATTN = 1e-12  # VAR's l2-normalisation eps

# kv_quant variants: (opcode suffix, kv_quant and kv_scope properties, format, rounding, group along D,
# whether the current scale's keys are quantized too: kv_scope = "all")
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
# g++ 12 at -O2 reports that at the ap_types line even from -isystem once it is
# inlined into fpqc code, so the driver silences -Wuninitialized for ap_types' own
# lines only (the state at a warning's location decides), before anything else
# includes them.
DRIVER = """
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#include "ap_int.h"
#pragma GCC diagnostic pop
#include <stdint.h>
#include <stdio.h>
#include "fpqc_tables.h"
#include "fpqc_block.h"

static bool get(void* p, size_t n) {{ return fread(p, 1, n, stdin) == n; }}
static bool get_f32(float* p, int n) {{ return get(p, (size_t)n * 4); }}
static void put_f32(const float* p, int n) {{ fwrite(p, 4, (size_t)n, stdout); }}

static float x[{big}], x2[{big}], y[{big}], v1[{big}], v2[{big}];
static float k_cache[{b} * {l} * {c}], v_cache[{b} * {l} * {c}];

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
            if (op == 1) fpqc::layernorm<{ln_c}, {ln_rows}>(x, y, n, eps);
            else fpqc::layernorm<{ln_small_c}, {ln_rows}>(x, y, n, eps);
            put_f32(y, n * c);
        }} else if (op == 3 || op == 4) {{  // modulate / residual: n samples of m rows
            if (!get_f32(x, n * m * {mod_c}) || !get_f32(x2, n * m * {mod_c})) return 1;
            if (!get_f32(v1, n * {mod_c}) || !get_f32(v2, n * {mod_c})) return 1;
            if (op == 3) fpqc::modulate<{mod_c}, {mod_batch}, {mod_rows}>(x, v1, v2, y, n, m);
            else fpqc::residual<{mod_c}, {mod_batch}, {mod_rows}>(x, x2, v1, y, n, m);
            put_f32(y, n * m * {mod_c});
        }} else if (op == 5) {{  // l2_normalize: n rows of D, written in place
            if (!get_f32(x, n * {d})) return 1;
            for (int i = 0; i < n; ++i) fpqc::l2_normalize<{d}>(x + i * {d}, x + i * {d}, eps);
            put_f32(x, n * {d});
        }} else if (op == 6) {{  // attend_head: n queries, m keys (k and v rows interleaved)
            if (!get_f32(x, n * {d}) || !get_f32(x2, m * 2 * {d})) return 1;
            fpqc::attend_head<{d}, {head_rows}, {head_keys}>(x, {d}, x2, x2 + {d}, 2 * {d}, y, {d}, n, m);
            put_f32(y, n * {d});
        }} else if (op == 7) {{  // set both caches
            if (!get_f32(k_cache, {b} * {l} * {c}) || !get_f32(v_cache, {b} * {l} * {c})) return 1;
        }} else if (op >= 10 && op <= 12) {{  // cached_attention: n new rows at offset m
            if (!get_f32(x, {b} * n * 3 * {c}) || !get_f32(v1, {h})) return 1;
            if (op == 10)
                fpqc::cached_attention<{b}, {l}, {c}, {h}, {max_n}>(x, v1, k_cache, v_cache, y, n, m, eps,
                                                               fpqc::NoKvQuant());
            else if (op == 11)
                fpqc::cached_attention<{b}, {l}, {c}, {h}, {max_n}>(
                    x, v1, k_cache, v_cache, y, n, m, eps,
                    fpqc::kv_quant<{kv1_bits}, {kv1_group}, {kv1_all}>({kv1_quantizer}, {kv1_decoder}));
            else
                fpqc::cached_attention<{b}, {l}, {c}, {h}, {max_n}>(
                    x, v1, k_cache, v_cache, y, n, m, eps,
                    fpqc::kv_quant<{kv2_bits}, {kv2_group}, {kv2_all}>({kv2_quantizer}, {kv2_decoder}));
            put_f32(y, {b} * n * {c});
            put_f32(k_cache, {b} * {l} * {c});
            put_f32(v_cache, {b} * {l} * {c});
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
        big=B * MAX_N * 3 * C, b=B, l=L, c=C, h=H, max_n=MAX_N, d=D, head_rows=HEAD_ROWS, head_keys=HEAD_KEYS,
        ln_c=LN_C, ln_small_c=LN_SMALL_C, ln_rows=LN_ROWS, mod_c=MOD_C, mod_batch=MOD_BATCH, mod_rows=MOD_ROWS,
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
            calls.expect(f"layernorm<{c}> rows={rows} eps={eps}", layernorm_f32(x, eps))
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


def test_l2_normalize(driver):
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
        calls.expect(f"l2_normalize rows={rows} eps={eps}", l2_normalize_f32(x, eps))
    calls.run(driver)


def test_attend_head(driver):
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
        calls.expect(f"attend_head n={n} m={m}", attend(q, k, v))
    # raw, unnormalised queries and keys: scores up to ~1e4, softmax underflows to exact zeros
    n, m = 4, 9
    q, k, v = _varied(rng, (n, D)), rng.standard_normal((m, D)).astype(np.float32), _varied(rng, (m, D))
    calls.call(6, n, m, 0.0, q, np.concatenate([k, v], axis=-1))
    calls.expect(f"attend_head raw n={n} m={m}", attend(q, k, v))
    calls.run(driver)


def _cached_attention_module(n: int, offset: int, kv_quant: str | None):
    qkv, qs, cache, out = (f"tensor<{B}x{n}x{3 * C}xf32>", f"tensor<{H}xf32>", f"tensor<{B}x{L}x{C}xf32>",
                           f"tensor<{B}x{n}x{C}xf32>")
    quant = f", {kv_quant}" if kv_quant else ""
    return parse(f"""
func.func @main(%qkv: {qkv} {{onnx.name = "qkv"}}, %qs: {qs} {{onnx.name = "q_scale"}},
                %k: {cache} {{onnx.name = "k"}}, %v: {cache} {{onnx.name = "v"}})
    -> ({out} {{onnx.name = "out"}}, {cache} {{onnx.name = "k1"}}, {cache} {{onnx.name = "v1"}}) {{
  %offset = arith.constant {offset} : i64
  %o, %k1, %v1 = fpq.cached_attention %qkv, %qs, %k, %v, %offset
      {{num_heads = {H} : i64, eps = {EPS_ATTN:e} : f32{quant}}}
      : ({qkv}, {qs}, {cache}, {cache}) -> ({out}, {cache}, {cache})
  func.return %o, %k1, %v1 : {out}, {cache}, {cache}
}}
""")


@pytest.mark.parametrize("variant", sorted(KV_VARIANTS))
def test_cached_attention_over_scales(driver, variant):
    index, kv_quant, *_ = KV_VARIANTS[variant]
    rng = np.random.default_rng(5 + index)
    calls = Calls()
    # stale cache contents beyond the rows written so far: never read
    k_cache = (rng.standard_normal((B, L, C)) * 1e3).astype(np.float32)
    v_cache = (rng.standard_normal((B, L, C)) * 1e3).astype(np.float32)
    calls.call(7, 0, 0, 0.0, k_cache, v_cache)
    q_scale = rng.uniform(1.0, 30.0, H).astype(np.float32)
    for offset, n in STEPS:
        qkv = _varied(rng, (B, n, 3 * C))
        qkv[0, 0, C:C + D] = 0.0  # a zero key (head 0): eps path, stored as zeros
        qkv[-1, -1, :D] = 0.0  # a zero query (head 0): uniform softmax
        qkv[0, -1, 2 * C + D:2 * C + 2 * D] = 0.0  # a zero value row (head 1)
        calls.call(10 + index, n, offset, np.float32(EPS_ATTN), qkv, q_scale)
        got = run_module(
            _cached_attention_module(n, offset, kv_quant), {"qkv": qkv, "q_scale": q_scale, "k": k_cache, "v": v_cache}
        )
        k_cache, v_cache = got["k1"], got["v1"]
        what = f"cached_attention {variant} offset={offset} n={n}"
        calls.expect(what, got["out"])
        calls.expect(f"{what}: key cache", k_cache)
        calls.expect(f"{what}: value cache", v_cache)
    calls.run(driver)

