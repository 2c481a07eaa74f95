"""Builds whose host schedule mixes kernel launches and host ops: dedupe, schedule, verify."""

import json

import numpy as np

from fpqc.backends.hls.build import emit_build
from fpqc.backends.hls.codes import unpack_codes
from fpqc.tools.verify import verify_build
from fpqc.backends.interp.runner import run_module
from fpqc.dialects import hls
from fpqc.targets import load_target

from conftest import corrupt_stage, lower, residual_blocks, seal, write_build


def _build(path, blocks=3, **kwargs):
    module, store = residual_blocks(blocks, **kwargs)
    lower(module)
    write_build(path, module, store)
    return module, store


def test_identical_kernels_are_merged(tmp_path):
    module, _ = _build(tmp_path, blocks=3)
    kernels = [op for op in module.ops if isinstance(op, hls.KernelOp)]
    assert [k.sym_name.data for k in kernels] == ["kernel_0", "kernel_1"]
    assert sorted(p.name for p in (tmp_path / "kernels").glob("kernel_*.cpp")) == ["kernel_0.cpp", "kernel_1.cpp"]
    source = (tmp_path / "kernels" / "kernel_0.cpp").read_text()
    # a shared kernel's ports are named after their role, not after one launch's buffers
    assert "const ap_uint<512>* weight_codes" in source and "const float* bias" in source


def test_host_schedule_lists_every_step(tmp_path):
    _build(tmp_path, blocks=2)
    schedule = json.loads((tmp_path / "host_schedule.json").read_text())
    manifest = {e["name"]: e for e in json.loads((tmp_path / "weights.json").read_text())["entries"]}
    assert schedule["format"] == "fpqc.host_schedule/3"
    steps = schedule["steps"]
    assert [(s["kind"], s.get("kernel") or s.get("op")) for s in steps] == [
        ("kernel", "kernel_0"), ("host", "onnx.Relu"), ("kernel", "kernel_1"), ("host", "onnx.Add"),
    ] * 2
    assert [s["index"] for s in steps] == list(range(8))
    assert [s["launch"] for s in steps if s["kind"] == "kernel"] == [0, 0, 1, 1]
    assert {k["name"]: k["launches"] for k in schedule["kernels"]} == {"kernel_0": 2, "kernel_1": 2}
    # launches of one kernel take different weights, each at its offset in weights.bin
    first, second = steps[0], steps[4]
    assert [a["port"] for a in first["args"]] == ["input", "weight_codes", "weight_scales", "bias"]
    assert first["args"][1]["weight"] != second["args"][1]["weight"]
    blob = np.fromfile(tmp_path / "weights.bin", dtype=np.uint8)
    for arg in first["args"][1:] + second["args"][1:]:
        entry = manifest[arg["weight"]]
        assert arg["offset"] == entry["offset"]
    codes = first["args"][1]
    words = blob[codes["offset"] : codes["offset"] + manifest[codes["weight"]]["bytes"]].view("<u4")
    assert unpack_codes(words, codes["bits"], 256 * 128).shape == (256 * 128,)
    # activations by buffer id; the host ops' operands and results with shapes
    assert first["args"][0]["buffer"] == "x" and "offset" not in first["args"][0]
    relu = steps[1]
    assert relu["args"] == [{"buffer": first["results"][0]["buffer"], "shape": [4, 256], "dtype": "f32"}]
    assert steps[2]["args"][0]["buffer"] == relu["results"][0]["buffer"]
    add = steps[3]
    assert [a["buffer"] for a in add["args"]] == ["x", steps[2]["results"][0]["buffer"]]
    assert schedule["outputs"][0]["buffer"] == steps[7]["results"][0]["buffer"]
    assert schedule["csim"].startswith("the host schedule runs 4 op(s) on the host")


def test_mixed_emission_is_deterministic(tmp_path):
    module, store = residual_blocks(2)
    lower(module)
    for out in ("a", "b"):
        emit_build(module, store, tmp_path / out, load_target("vck190"))
    for rel in ("host_schedule.json", "weights.bin", "kernels/kernel_0.cpp", "kernels/kernel_1.cpp"):
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


def test_run_with_host_ops(tmp_path):
    module, store = residual_blocks(2)
    lower(module)
    x = np.random.default_rng(0).standard_normal((4, 128)).astype(np.float32)
    y = run_module(module, {"x": x}, store)["y"]
    assert y.shape == (4, 128) and np.isfinite(y).all() and not np.array_equal(x, y)


def test_verify_checks_every_launch(tmp_path):
    _build(tmp_path, blocks=3)
    report = verify_build(tmp_path, samples=2, seed=1)
    assert report.differing == 0, report.summary()
    assert {k: (c.launches, c.compared) for k, c in report.kernels.items()} == {
        "kernel_0": (6, 6 * 4 * 256), "kernel_1": (6, 6 * 4 * 128),
    }
    assert report.whole_model is None and report.compared == 6 * 4 * 384
    summary = report.summary()
    assert "bit-identical" in summary and "12 launches checked" in summary


def test_verify_names_the_corrupted_kernel(tmp_path):
    _build(tmp_path, blocks=2)
    # Break kernel_1's quantizer: double the scale it writes for its first group (its codes stay right).
    first = "(r0 + i == 0 && c0 == 0 ? 2.0f * s : s)"
    corrupt_stage(tmp_path / "kernels" / "kernel_1.cpp", "quantize_stage",
                  ("put(scales, cs, i, c0 / G, s);", f"put(scales, cs, i, c0 / G, {first});"),
                  ("scales_tap.put(r0 + i, c0 / G, s);", f"scales_tap.put(r0 + i, c0 / G, {first});"))
    seal(tmp_path)  # a build whose C++ disagrees with its IR, as fpqc wrote it
    report = verify_build(tmp_path, samples=1)
    assert report.differing > 0
    assert report.kernels["kernel_0"].differing == 0 and report.kernels["kernel_1"].differing > 0
    first = report.first_difference
    assert (first.kernel, first.index, first.op, first.result) == ("kernel_1", 0, "fpq.quantize", 1)
    assert first.differing == 1
    assert "first differing op: fpq.quantize (#0 of @kernel_1, launch 0 (sample 0, main))" in report.summary()
