"""fpqc_hls.h's FPQVAR templates (hadamard, dual_quantize_groups, dual_qlinear) vs fpqc.numerics.

One g++ driver per format combination runs the three templates on data read
from stdin, with the tables the emitter writes (``TableSet``: dual-format
quantizer and product ROMs) and the GHT signs of ``emit_ght_signs``; every
output is compared bit for bit with the numerics functions.  The data holds
the special cases: an all-zero group, a group without negatives, -0.0, exact
ties at scale 1, NaN and inf.
"""

import subprocess

import numpy as np
import pytest

from fpqc.backends.hls.csim import CXXFLAGS, ap_types_include
from fpqc.backends.hls.build import INCLUDE_DIR
from fpqc.backends.hls.tables import TableSet
from fpqc.numerics import Format, accumulator_bits, compute_scales, quantize
from fpqc.numerics.dual_format import DualFormat, compute_dual_scales, dual_qlinear, dual_quantize
from fpqc.numerics.hadamard import emit_ght_signs, fwht_f32, ght_f32, random_signs

ROWS, K, O, BLOCK = 4, 256, 8, 128

DRIVER = """
#include <stdio.h>
#include "fpqc_tables.h"
{signs}
int main() {{
    static float x[{n}], h_plain[{n}], h_signs[{n}], sn[{xgroups}], sp[{xgroups}];
    static float ws[{wscales}], bias[{o}], y[{rows} * {o}];
    static ap_uint<{nbits}> nc[{n}];
    static ap_uint<{pbits}> pc[{n}];
    static ap_uint<{wbits}> wc[{o} * {k}];
    static unsigned char wbytes[{o} * {k}], out_codes[2 * {n}];
    if (fread(x, 4, {n}, stdin) != {n}) return 1;
    if (fread(wbytes, 1, {o} * {k}, stdin) != {o} * {k}) return 1;
    if (fread(ws, 4, {wscales}, stdin) != {wscales}) return 1;
    if (fread(bias, 4, {o}, stdin) != {o}) return 1;
    for (int i = 0; i < {o} * {k}; ++i) wc[i] = wbytes[i];
    fpqc::hadamard<{rows}, {k}, {block}, false, 4>(x, 0, h_plain);
    fpqc::hadamard<{rows}, {k}, {block}, true, 4>(x, ght_signs, h_signs);
    fpqc::dual_quantize_groups<{nbits}, {pbits}, {xgroups}, {xg}>(x, nc, pc, sn, sp, {dual});
    fpqc::dual_qlinear<{rows}, {k}, {o}, {g}, {wbits}, {nacc}, {pacc}, {k} / {xg}, {xg}, {ws_row}, {wg},
                       true, 4>(
        fpqc::local_codes<{nbits}>(nc), fpqc::local_codes<{pbits}>(pc), sn, sp,
        fpqc::local_codes<{wbits}>(wc), ws, bias, {nprod}, {nunit}, {pprod}, {punit}, y);
    for (int i = 0; i < {n}; ++i) {{
        out_codes[i] = (unsigned char)nc[i].to_uint();
        out_codes[{n} + i] = (unsigned char)pc[i].to_uint();
    }}
    fwrite(h_plain, 4, {n}, stdout);
    fwrite(h_signs, 4, {n}, stdout);
    fwrite(sn, 4, {xgroups}, stdout);
    fwrite(sp, 4, {xgroups}, stdout);
    fwrite(y, 4, {rows} * {o}, stdout);
    fwrite(out_codes, 1, 2 * {n}, stdout);
    return 0;
}}
"""


def _activations(dual: DualFormat, g: int) -> np.ndarray:
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((ROWS, K)) * rng.choice([1e-3, 1.0, 30.0], (ROWS, K))).astype(np.float32)
    flat = x.reshape(-1, g)
    flat[1] = 0.0  # all-zero group: both scales 1
    flat[2] = np.abs(flat[2])  # no negatives: negative scale 1
    flat[2, :3] = -0.0  # -0.0 goes to the negative side (and is zero)
    neg, pos = dual.neg.values(), dual.pos.values()
    grid = np.sort(np.concatenate([neg[neg < 0], pos[pos >= 0]]))
    flat[3] = np.resize((grid[:-1] + grid[1:]) / 2, g)  # midpoints: ties at scale 1
    flat[3, 0], flat[3, 1] = -np.float32(dual.neg_max), np.float32(dual.pos_max)
    return x


@pytest.mark.parametrize(
    "neg, pos, w_name, x_group, w_group",
    [
        ("e1m2", "e2m1", "e2m1", 128, 128),  # FPQVAR W4A4
        ("int6", "e2m3", "e2m3", None, None),  # FPQVAR W6A6: per token / per channel
        ("e2m1", "e2m1", "e2m1", 64, 128),  # MixedFormat, finer activation groups
    ],
)
def test_fpqvar_templates_match_numerics(tmp_path, neg, pos, w_name, x_group, w_group):
    dual, w_fmt = DualFormat(Format.parse(neg), Format.parse(pos)), Format.parse(w_name)
    gx, gw = x_group or K, w_group or K
    g = min(gx, gw)
    n = ROWS * K
    tables = TableSet()
    n_prod, n_unit = tables.product(dual.neg, w_fmt)
    p_prod, p_unit = tables.product(dual.pos, w_fmt)
    signs = random_signs(K, seed=2)
    source = DRIVER.format(
        signs=emit_ght_signs(signs, "ght"), n=n, rows=ROWS, k=K, o=O, block=BLOCK, g=g, xg=gx,
        xgroups=n // gx, wscales=O * K // gw, ws_row=K // gw, wg=gw,
        nbits=dual.neg.bits, pbits=dual.pos.bits, wbits=w_fmt.bits,
        nacc=accumulator_bits(dual.neg, w_fmt, g), pacc=accumulator_bits(dual.pos, w_fmt, g),
        dual=tables.dual_quantizer(dual, "rne"), nprod=n_prod, nunit=n_unit, pprod=p_prod, punit=p_unit,
    )
    (tmp_path / "fpqc_tables.h").write_text(tables.header())
    (tmp_path / "driver.cpp").write_text(source)
    exe = tmp_path / "driver"
    subprocess.run(
        ["g++", *CXXFLAGS, f"-I{tmp_path}", f"-I{INCLUDE_DIR}", f"-I{ap_types_include()}",
         str(tmp_path / "driver.cpp"), "-o", str(exe)],
        check=True,
    )

    x = _activations(dual, gx)
    rng = np.random.default_rng(9)
    w = rng.standard_normal((O, K)).astype(np.float32)
    ws = compute_scales(w, w_fmt, axis=-1, group_size=gw)
    wc = quantize(w, w_fmt, ws, axis=-1, group_size=gw)
    bias = rng.standard_normal(O).astype(np.float32)
    stdin = x.tobytes() + wc.astype(np.uint8).tobytes() + ws.astype("<f4").tobytes() + bias.tobytes()

    def run(data: bytes) -> np.ndarray:
        return np.frombuffer(subprocess.run([str(exe)], input=data, capture_output=True, check=True).stdout, np.uint8)

    out = run(stdin)
    sizes = [4 * n, 4 * n, 4 * (n // gx), 4 * (n // gx), 4 * ROWS * O, 2 * n]
    parts = np.split(out, np.cumsum(sizes)[:-1])
    h_plain, h_signs, sn, sp, y = (p.view("<u4") for p in parts[:5])
    codes = parts[5]

    def bits(a):
        return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).ravel()

    np.testing.assert_array_equal(h_plain, bits(fwht_f32(x, BLOCK)))
    np.testing.assert_array_equal(h_signs, bits(ght_f32(x, signs, BLOCK)))
    want_sn, want_sp = compute_dual_scales(x, dual, gx)
    np.testing.assert_array_equal(sn, bits(want_sn))
    np.testing.assert_array_equal(sp, bits(want_sp))
    nc, pc = dual_quantize(x, dual, want_sn, want_sp, gx)
    np.testing.assert_array_equal(codes, np.concatenate([nc.ravel(), pc.ravel()]))

    def per_group(s, rows):
        s = s.reshape(rows, -1)
        return np.repeat(s, (K // g) // s.shape[1], axis=1)

    want_y = dual_qlinear(nc, pc, dual, per_group(want_sn, ROWS), per_group(want_sp, ROWS), wc, w_fmt,
                          per_group(ws, O), g, bias)
    np.testing.assert_array_equal(y, bits(want_y))

    # NaN and inf: NaN scales for both sides of the broken groups, NaN codes.
    broken = x.copy()
    broken[0, 5], broken[ROWS - 1, K - 1] = np.nan, -np.inf
    out = run(broken.tobytes() + stdin[4 * n:])
    parts = np.split(out, np.cumsum(sizes)[:-1])
    want_sn, want_sp = compute_dual_scales(broken, dual, gx)
    np.testing.assert_array_equal(parts[2].view("<u4"), bits(want_sn))
    np.testing.assert_array_equal(parts[3].view("<u4"), bits(want_sp))
    nc, pc = dual_quantize(broken, dual, want_sn, want_sp, gx)
    np.testing.assert_array_equal(parts[5], np.concatenate([nc.ravel(), pc.ravel()]))
