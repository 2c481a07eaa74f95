"""The emitted C++ is the hardware plan: its arrays are the plan's buffers, its streams the plan's streams.

The kernel sources are read back as text.  Every array a kernel declares is an
``hls.buffer`` of its plan -- same name, element type and shape (a leading
``[2]`` for two copies), storage, banks and packing -- so the bits the C++
declares are the plan's bits, which the ``tile`` pass proved fit the device;
every ``hls::stream`` is an ``hls.stream`` of the plan with its width and
depth; there is one DATAFLOW region function per region of the plan; and the
library's stages declare no arrays of their own.  Checked on the shipped
digits model's build and on VAR-d16-sized block kernels (fp4 and fp6, the
latter with row tiles smaller than the launch).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from tiled_kernels import D16, STEP, block_kernel

from fpqc.backends.hls.build import INCLUDE_DIR, LIBRARY_HEADERS
from fpqc.backends.hls.identifiers import c_identifier
from fpqc.backends.hls.kernel_cpp import KernelEmitter
from fpqc.backends.hls.tables import TableSet
from fpqc.compiler import compile_model, load_build
from fpqc.context import make_context
from fpqc.dialects import fpq, hls
from fpqc.dialects.hls import Storage
from fpqc.passes.tile import TilePass

REPO = Path(__file__).resolve().parents[3]
ARRAY = re.compile(r"^\s*(?!return\b)(static\s+)?(const\s+)?([A-Za-z_][\w:<>, ]*?)\s+(\w+)((?:\[[^\]]+\])+)\s*;", re.M)
STREAM = re.compile(r'hls::stream<(.+?) > (\w+)\("([^"]+)"\);\n#pragma HLS STREAM variable=(\w+) depth=(\d+)')
LIBRARY_ARRAYS = {
    ("fpqc_dataflow.h", "v"): "a stream's beat: the registers of one beat of an hls.stream",
    ("fpqc_dataflow.h", "table"): "the C-simulation dump's table of results (-DFPQC_DUMP only)",
    ("fpqc_dataflow.h", "path"): "the C-simulation dump's file name (-DFPQC_DUMP only)",
    ("fpqc_linear.h", "word"): "the weight port's word being unpacked, split into its uint32 numbers (registers)",
    ("fpqc_linear.h", "next"): "the next weight-port word when a vector spans two, split likewise (registers)",
    ("fpqc_kv_codes.h", "codes"): "the codes of one head row as it is read from or written to a low-bit KV cache",
    ("fpqc_kv_codes.h", "scales"): "the scales of one head row as it is read from or written to a low-bit KV cache",
}
"""Arrays the library itself declares, and why they are not buffers of a plan."""


def element_bits(ctype: str) -> int:
    """Bits of a C++ element type of the emitted code: float, ap_uint<N>, ap_int<N>, fpqc::Beat<T, N>."""
    ctype = ctype.strip()
    if ctype == "float":
        return 32
    if beat := re.fullmatch(r"fpqc::Beat<(.+), (\d+)>", ctype):
        return element_bits(beat.group(1)) * int(beat.group(2))
    integer = re.fullmatch(r"ap_u?int<(\d+)>", ctype)
    assert integer is not None, ctype
    return int(integer.group(1))


@dataclass
class Declared:
    """What one kernel's source declares."""

    arrays: dict[str, tuple[str, tuple[int, ...]]]  # name -> (element type, dims)
    streams: dict[str, tuple[str, str, int]]  # plan name -> (C name, element type, depth)
    regions: int

    @property
    def bits(self) -> int:
        return sum(element_bits(t) * math.prod(dims) for t, dims in self.arrays.values())


def declared(source: str) -> Declared:
    arrays = {}
    for m in ARRAY.finditer(source):
        name = m.group(4)
        assert name not in arrays, f"{name} declared twice"
        arrays[name] = (m.group(3), tuple(int(d) for d in re.findall(r"\[(\d+)\]", m.group(5))))
    streams = {}
    for m in STREAM.finditer(source):
        assert m.group(2) == m.group(4) and m.group(3) not in streams
        streams[m.group(3)] = (m.group(2), m.group(1), int(m.group(5)))
    assert source.count("hls::stream<") == len(streams)  # every stream declaration parsed
    return Declared(arrays, streams, source.count("#pragma HLS DATAFLOW"))


def check_kernel_is_its_plan(kernel: hls.KernelOp, source: str) -> Declared:
    plan = hls.plan_of(kernel)
    found = declared(source)
    buffers = {c_identifier(b.buffer_name.data, set()): b for b in plan.entries_of(hls.BufferOp)}
    assert set(found.arrays) == set(buffers)
    for name, b in buffers.items():
        ctype, dims = found.arrays[name]
        copies = b.copies.value.data
        assert dims == ((copies,) if copies > 1 else ()) + b.shape, name
        assert element_bits(ctype) == b.element_bits, name
        assert element_bits(ctype) * math.prod(dims) == b.bits.value.data, name
        if b.storage.data == Storage.REGISTERS:
            assert f"#pragma HLS ARRAY_PARTITION variable={name} type=complete dim=0\n" in source, name
            continue
        assert f"#pragma HLS bind_storage variable={name} type=ram_2p impl={b.storage.data}\n" in source, name
        lead = 1 if copies > 1 else 0
        banks, pack = b.banks.value.data, b.pack.value.data
        assert (f"variable={name} type=cyclic factor={banks} dim={lead + 1}\n" in source) == (banks > 1), name
        assert (f"ARRAY_RESHAPE variable={name} type=cyclic factor={pack} dim={len(dims)}\n" in source) == (pack > 1)
    assert found.bits == sum(b.bits.value.data for b in plan.entries_of(hls.BufferOp))
    streams = {s.stream_name.data: s for s in plan.entries_of(hls.StreamOp)}
    assert set(found.streams) == set(streams)
    for name, s in streams.items():
        _, ctype, depth = found.streams[name]
        assert element_bits(ctype) == s.width.value.data, name
        assert depth == s.depth.value.data, name
    regions = {s.region_index for s in plan.entries_of(hls.StageOp)} - {None}
    assert found.regions == len(regions)
    return found


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("plan_cpp") / "build"
    compile_model(REPO / "examples/digits/var.onnx", out, format_name="fp4")
    return out


def test_the_digits_kernels_are_their_plans(digits):
    module = load_build(digits)[0]
    kernels = [op for op in module.ops if isinstance(op, hls.KernelOp)]
    assert [k.sym_name.data for k in kernels] == ["kernel_0", "kernel_1"]
    for kernel in kernels:
        found = check_kernel_is_its_plan(kernel, (digits / "kernels" / f"{kernel.sym_name.data}.cpp").read_text())
        assert found.bits > 0
    block = (digits / "kernels" / "kernel_0.cpp").read_text()
    # mat_qkv and store_kv share a region; attention runs once per launch in the next
    assert "// DATAFLOW region 2, once per launch (it needs all rows): stages cached_attention0.load_kv, " \
           "cached_attention0.attend." in block


@pytest.mark.parametrize("fmt, tiled, kv6", [("fp4", False, False), ("fp6", True, False), ("fp4", True, True)])
def test_a_d16_block_kernel_is_its_plan(fmt, tiled, kv6):
    module = block_kernel(**D16, fmt=fmt, kv6=kv6, **STEP)
    TilePass().apply(make_context(), module)
    (kernel,) = module.ops
    source = KernelEmitter(kernel, TableSet()).emit()
    found = check_kernel_is_its_plan(kernel, source)
    plan = hls.plan_of(kernel)
    assert found.bits == sum(b.bits.value.data for b in plan.entries_of(hls.BufferOp))
    # fp4 keeps all 512 rows of the launch on chip; fp6's wider codes do not fit, so its rows come in tiles
    row_tile = plan.tile_of(next(op for op in kernel.body.ops if fpq.role_of(op) == "fc1")).loop("rows").tile.data
    assert (row_tile < 512) == tiled
    # the whole buffers the linear layers wait for hold a row tile; attention's hold all 512 rows
    assert found.arrays["fc1_x"][1] == (row_tile, 1024)
    assert found.arrays["cached_attention0_q"][1] == (512, 1024)
    # a 6-bit KV cache keeps the launch's new keys and values on chip (so fp4's rows, too, come in tiles)
    assert ("cached_attention0_fresh_k" in found.arrays) == kv6
    loops = re.findall(r"for \(int r0 = 0; r0 < launch_rows; r0 \+= (\d+)\)", source)
    assert loops == [str(row_tile)] * 2  # before attention and after it


def test_the_library_declares_no_buffers_of_its_own():
    found = {}
    for header in LIBRARY_HEADERS:
        text = re.sub(r"//[^\n]*", "", (INCLUDE_DIR / header).read_text())
        for m in ARRAY.finditer(text):
            found[(header, m.group(4))] = m.group(0).strip()
    assert set(found) == set(LIBRARY_ARRAYS), found
