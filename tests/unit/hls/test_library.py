"""fpqc_hls.h templates (and fpqc_dataflow.h's packed code ports) vs fpqc.numerics, through a small g++ driver."""

import subprocess

import numpy as np
import pytest

from fpqc.backends.hls.csim import CXXFLAGS, ap_types_include
from fpqc.backends.hls.build import INCLUDE_DIR
from fpqc.backends.hls.codes import pack_codes
from fpqc.backends.hls.tables import TableSet
from fpqc.numerics import Format, compute_scales, dequantize, quantize

GROUPS, G = 8, 32

DRIVER = """
#include <stdio.h>
#include "fpqc_tables.h"
#include "fpqc_dataflow.h"
// The codes of a packed port, read back as fpqc_dataflow.h's loaders read them.
struct Packed {{
    const uint32_t* words;
    ap_uint<{bits}> operator[](int i) const {{ return fpqc::port_read(words, i, (ap_uint<{bits}>*)0); }}
}};
int main() {{
    static float x[{n}], scales[{groups}], y[{n}];
    static ap_uint<{bits}> codes[1][{n}];
    static uint32_t packed[{words}];
    if (fread(x, 4, {n}, stdin) != {n}) return 1;
    fpqc::quantize_groups<{bits}, {groups}, {g}>(x, codes[0], scales, {quantizer});
    fpqc::write_buffer(codes, packed, 1);
    const Packed port = {{packed}};
    fpqc::dequantize<{groups}, {g}>(port, scales, {decoder}, y);
    fwrite(scales, 4, {groups}, stdout);
    fwrite(packed, 4, {words}, stdout);
    fwrite(y, 4, {n}, stdout);
    return 0;
}}
"""


@pytest.mark.parametrize("fmt_name, rounding", [("e2m1", "rne"), ("e2m3", "ties-up"), ("e4m3", "rne"), ("int4", "ties-away")])
def test_quantize_pack_dequantize(tmp_path, fmt_name, rounding):
    fmt = Format.parse(fmt_name)
    n = GROUPS * G
    words = -(-n // (32 // fmt.bits))
    tables = TableSet()
    source = DRIVER.format(
        n=n, groups=GROUPS, g=G, bits=fmt.bits, words=words,
        quantizer=tables.quantizer(fmt, rounding), decoder=tables.decoder(fmt),
    )
    (tmp_path / "fpqc_tables.h").write_text(tables.header())
    (tmp_path / "driver.cpp").write_text(source)
    exe = tmp_path / "driver"
    subprocess.run(
        ["g++", *CXXFLAGS, f"-I{tmp_path}", f"-I{INCLUDE_DIR}", f"-I{ap_types_include()}",
         str(tmp_path / "driver.cpp"), "-o", str(exe)],
        check=True,
    )

    rng = np.random.default_rng(11)
    x = (rng.standard_normal(n) * rng.choice([1e-3, 1.0, 1e3], n)).astype(np.float32)
    x[G : 2 * G] = 0.0  # all-zero group: scale 1
    x[2 * G] = np.inf  # broken groups: NaN scale
    x[3 * G + 5] = np.nan
    grid = fmt.values()  # exact ties: midpoints of the grid at scale 1
    x[4 * G : 5 * G] = np.resize((grid[:-1] + grid[1:]) / 2, G)
    x[4 * G] = grid[-1]
    out = np.frombuffer(subprocess.run([str(exe)], input=x.tobytes(), capture_output=True, check=True).stdout, "<u4")

    xg = x.reshape(GROUPS, G)
    scales = compute_scales(xg, fmt, axis=-1)
    codes = quantize(xg, fmt, scales, axis=-1, rounding=rounding)
    want = np.concatenate(
        [scales.view(np.uint32).ravel(), pack_codes(codes, fmt.bits), dequantize(codes, fmt, scales, axis=-1).view(np.uint32).ravel()]
    )
    np.testing.assert_array_equal(out, want)
