"""The emitter on a hand-built quantized module: files, ports, packing, determinism."""

import json

import numpy as np
import pytest

from fpqc.backends.hls.csim import compile_csim
from fpqc.backends.hls.build import emit_build
from fpqc.backends.hls.codes import pack_codes, unpack_codes
from fpqc.errors import FpqcError
from fpqc.targets import load_target

from conftest import lower, quantized_linear


def _build(tmp_path, name="build", **kwargs):
    module, store = quantized_linear("e2m1", **kwargs)
    lower(module)
    out = tmp_path / name
    emit_build(module, store, out, load_target("vck190"))
    return out, store


def test_build_layout_and_kernel_interface(tmp_path):
    out, _ = _build(tmp_path, gelu=True)
    for rel in ("kernels/kernel_0.cpp", "kernels/fpqc_tables.h", "kernels/fpqc_hls.h",
                "kernels/fpqc_numerics.h", "weights.bin", "weights.json", "host_schedule.json",
                "csim/csim_main.cpp", "vitis/hls_config.cfg", "vitis/kernel_0.cfg",
                "vitis/link.cfg", "vitis/package.cfg", "vitis/Makefile", "vitis/check_vitis.sh"):
        assert (out / rel).is_file(), rel
    kernel = (out / "kernels/kernel_0.cpp").read_text()
    assert 'extern "C" void kernel_0(' in kernel
    assert "#pragma HLS INTERFACE mode=m_axi port=x offset=slave bundle=gmem0" in kernel
    assert "#pragma HLS INTERFACE mode=s_axilite port=return bundle=control" in kernel
    # two DATAFLOW regions: the quantizer, then the layer (it needs all activation codes) and GELU
    assert "fpqc::quantize_stage<4, 64, 64, 64, 4, 16>(s_x_quantize0, quantize0_group, qlinear0_x, qlinear0_xs," in kernel
    assert "fpqc::linear_mul<64, 8, 16, 8, 8, 16, 4, 512, 13, 13, 4>(qlinear0_x, " in kernel  # lane sums = group sums: G = lanes
    assert "fpqc::gelu_stage<8, 8, 4, 8>(s_qlinear0_gelu0, s_gelu0_write," in kernel
    assert "kernel_0_region0(r0, nr, x, " in kernel and "kernel_0_region1(r0, nr, " in kernel
    assert "const ap_uint<512>* " in kernel  # the weight codes arrive on a 512-bit port
    tables = (out / "kernels/fpqc_tables.h").read_text()
    assert "fpqc_e2m1_rne" in tables and "fpqc_e2m1_x_e2m1_prod" in tables
    assert "e4m3" not in tables  # only the formats in use
    cfg = (out / "vitis/hls_config.cfg").read_text()
    assert "part=xcvc1902-vsva2197-2MP-e-S" in cfg and "clock=300MHz" in cfg
    assert "PLATFORM ?= xilinx_vck190_base_202420_1" in (out / "vitis/Makefile").read_text()
    assert not (out / "host").exists()  # the C++ host program runs a VAR's step program; this model has none
    schedule = json.loads((out / "host_schedule.json").read_text())
    assert [s["kind"] for s in schedule["steps"]] == ["kernel"]
    assert schedule["inputs"] == [{"name": "x", "buffer": "x", "file": "x.f32"}]


def test_weights_are_packed_little_endian(tmp_path):
    out, store = _build(tmp_path)
    manifest = json.loads((out / "weights.json").read_text())
    entry = next(e for e in manifest["entries"] if e["packing"])
    assert entry["packing"]["codes_per_word"] == 8 and entry["offset"] % 64 == 0
    blob = np.fromfile(out / "weights.bin", dtype="<u4")
    words = blob[entry["offset"] // 4 : (entry["offset"] + entry["bytes"]) // 4]
    codes = store.get(entry["name"])
    np.testing.assert_array_equal(unpack_codes(words, 4, codes.size), codes.reshape(-1))
    assert words[0] & 0xF == codes.reshape(-1)[0] and (words[0] >> 4) & 0xF == codes.reshape(-1)[1]


@pytest.mark.parametrize("bits", range(1, 9))
@pytest.mark.parametrize("size", [37, 480])  # a last word part-filled; whole words only
def test_pack_roundtrip(bits, size):
    codes = np.random.default_rng(bits).integers(0, 1 << bits, size=size).astype(np.uint8)
    words = pack_codes(codes, bits)
    per = 32 // bits
    assert words.dtype == np.dtype("<u4") and words.size == -(-size // per)
    expected = [sum(int(c) << (i * bits) for i, c in enumerate(codes[w * per:(w + 1) * per])) for w in range(words.size)]
    assert words.tolist() == expected  # code i of a word in bits [i*bits, (i+1)*bits)
    np.testing.assert_array_equal(unpack_codes(words, bits, size), codes)


@pytest.mark.parametrize("bits", range(1, 8))
@pytest.mark.parametrize("size", [(1 << 20) + 37, (1 << 20) + 60, 5 << 20])  # part-filled last word; cores share
def test_compiled_packing_is_numpys(bits, size, monkeypatch):
    """A weight's codes narrower than a byte, packed by the compiled loop, give numpy's words."""
    from fpqc.backends.hls import codes as codes_module

    codes = np.random.default_rng(bits).integers(0, 256, size=size).astype(np.uint8)  # bits above the code's too
    compiled = pack_codes(codes, bits)
    monkeypatch.setattr(codes_module, "COMPILED_WEIGHTS_FROM", 1 << 62)
    np.testing.assert_array_equal(compiled, pack_codes(codes, bits))


def test_emission_is_deterministic(tmp_path):
    module, store = quantized_linear("e2m1", gelu=True)
    lower(module)
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        emit_build(module, store, out, load_target("vck190"))
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def test_host_ops_refuse_csim(tmp_path):
    from xdsl.dialects.builtin import TensorType, f32
    from xdsl.rewriter import InsertPoint, Rewriter

    from fpqc.dialects import fpq
    from fpqc.weights import dense_attr

    module, store = quantized_linear("e2m1")
    main = next(iter(module.ops))
    ret = main.body.block.last_op
    y = ret.operands[0]
    w = fpq.ConstantOp(dense_attr(np.eye(8, dtype=np.float32)))
    host = fpq.LinearOp(y, w.result, None, TensorType(f32, (4, 8)))
    for op in (w, host):
        Rewriter.insert_op(op, InsertPoint.before(ret))
    ret.operands = [host.result]
    module.verify()
    lower(module)
    out = tmp_path / "mixed"
    emit_build(module, store, out, load_target("vck190"))
    # no whole-model C simulation (fpqc verify checks each launch through the kernel library)
    assert not (out / "csim" / "csim_main.cpp").exists()
    with pytest.raises(FpqcError, match=r"cannot C-simulate .* op\(s\) on the host \(fpq.linear\)"):
        compile_csim(out)
