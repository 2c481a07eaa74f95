"""End-to-end on VAR: export (three routes) -> compile -> verify -> run, with the `fpqc` CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import TINY_VAR, run_fpqc

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("route", ["fpqc", "torchscript", "dynamo"])
def test_every_export_route_compiles_verifies_and_runs(tmp_path: Path, route: str) -> None:
    run_fpqc("export-var", *TINY_VAR, "--route", route, "-o", str(tmp_path / "var"))
    build = tmp_path / "build"
    summary = run_fpqc("compile", str(tmp_path / "var" / "var.onnx"), "--format", "fp4", "-o", str(build))
    assert "2 transformer blocks recognised of 2" in summary
    # The four linear layers of each block are quantized; word_embed, the two AdaLN linears,
    # the head's AdaLN and the head stay float.
    assert "8 quantized, 5 left in float" in summary

    report = json.loads((build / "report.json").read_text())
    assert report["transformer_blocks"] == 2
    assert (build / "var_config.json").is_file() and (build / "vae.npz").is_file()
    schedule = json.loads((build / "host_schedule.json").read_text())
    assert {step["kind"] for step in schedule["steps"]} == {"host"}  # teacher forcing: the interpreter's
    prologue, *scales = schedule["step_program"]
    assert prologue["function"] == "prologue" and {s["kind"] for s in prologue["steps"]} == {"host"}
    assert [s["function"] for s in scales] == ["step_0", "step_1", "step_2", "step_3"]
    # every scale launches the kernels on its own token rows; the block kernel serves every scale
    launches = [[(step["kernel"], step["rows"]) for step in s["steps"] if step["kind"] == "kernel"] for s in scales]
    for each, n in zip(launches, (1, 4, 9, 16)):
        assert len(each) >= 2 and {rows for _, rows in each} == {n}
    assert set.intersection(*({k for k, _ in each} for each in launches))

    if route != "torchscript":  # the legacy route checks import, raising, the schedule and a run; two routes verify:
        # in one process with the C-simulation-only generation (a small build's default), and in two workers
        jobs = ["--jobs", "2"] if route == "dynamo" else []
        verified = run_fpqc("verify", str(build), "--samples", "1", *jobs)
        assert "bit-identical" in verified and " 0 differing" in verified
        alone = "csim alone: not run" if jobs else "tokens identical, images identical"
        assert alone in verified

    rng = np.random.default_rng(0)
    np.savez(
        tmp_path / "in.npz",
        label_B=np.array([3, 7], np.int64),
        x_BLCv_wo_first_l=rng.standard_normal((2, 29, 8)).astype(np.float32),
    )
    if route == "dynamo":  # teacher forcing of both rows through the step program, against @main's logits
        verified = run_fpqc("verify", str(build), "--inputs", str(tmp_path / "in.npz"), "--jobs", "2")
        assert "samples   2" in verified and " 0 differing" in verified
        assert "teacher forcing  4 scales of the step program; its logits against @main's: 3,840 compared, " \
               "0 differing" in verified
    run_fpqc("run", str(build), "--inputs", str(tmp_path / "in.npz"), "-o", str(tmp_path / "q.npz"))
    run_fpqc("run", str(tmp_path / "var" / "var.onnx"), "--inputs", str(tmp_path / "in.npz"), "-o", str(tmp_path / "f.npz"))
    quantized = np.load(tmp_path / "q.npz")["logits_BLV"]
    reference = np.load(tmp_path / "f.npz")["logits_BLV"]
    assert quantized.shape == reference.shape == (2, 30, 64)
    assert np.isfinite(quantized).all()
    assert not np.array_equal(quantized, reference)


def test_shipped_digits_model(tmp_path: Path) -> None:
    build = tmp_path / "build"
    summary = run_fpqc("compile", str(REPO / "examples/digits/var.onnx"), "--format", "fp6", "-o", str(build))
    assert "4 transformer blocks recognised of 4" in summary
    assert "16 quantized, 7 left in float" in summary
    cost = json.loads((build / "report.json").read_text())["cost"]  # 6 scales, 10 rows = 5 images a batch
    assert cost["images_per_batch"] == 5 and [s["function"] for s in cost["scales"]] == [f"step_{k}" for k in range(6)]
    assert cost["roofline"]["bound_images_per_second"] >= cost["images_per_second"] > 0
    run_fpqc("run", str(build), "--inputs", str(REPO / "examples/digits/inputs.npz"), "-o", str(tmp_path / "q.npz"))
    run_fpqc("run", str(REPO / "examples/digits/var.onnx"), "--inputs", str(REPO / "examples/digits/inputs.npz"),
         "-o", str(tmp_path / "f.npz"))
    quantized = np.load(tmp_path / "q.npz")["logits_BLV"]
    reference = np.load(tmp_path / "f.npz")["logits_BLV"]
    # W6A6 (E2M3, groups of 128) keeps the teacher-forced predictions close to the float model's.
    agreement = (quantized.argmax(-1) == reference.argmax(-1)).mean()
    assert agreement > 0.9, agreement
