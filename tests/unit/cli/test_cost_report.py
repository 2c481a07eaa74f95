"""`fpqc compile`'s cost report: resources, cycles per scale, images or runs per second, the roofline and
the design points, and `--tile` fixing the plan's choices."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cli_helpers import FPQC, run_fpqc

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def mlp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("mlp") / "mlp.onnx"
    subprocess.run([sys.executable, str(REPO / "examples/mlp/make_mlp.py"), "-o", str(path), "--in", "128",
                    "--hidden", "256", "--out", "128", "--batch", "8", "--exporter", "torchscript"],
                   check=True, capture_output=True)
    return path


def test_every_build_reports_resources_cycles_and_the_roofline(mlp: Path, tmp_path: Path) -> None:
    summary = run_fpqc("compile", str(mlp), "--format", "fp4", "-o", str(tmp_path / "build"))
    assert "  estimate    " in summary and "runs/s estimated" in summary
    report = json.loads((tmp_path / "build" / "report.json").read_text())
    resources = report["resources"]["total"]
    assert set(resources) == {"luts", "ffs", "dsps", "brams", "urams"}
    assert all(0 <= r["used"] <= r["available"] for r in resources.values())
    cost = report["cost"]
    assert cost["batch_rows"] is None and cost["runs_per_batch"] == 1  # an MLP: one run of @main
    (main,) = cost["scales"]
    assert main["function"] == "main" and main["cycles"] == cost["cycles_per_batch"] > 0
    assert cost["runs_per_second"] == pytest.approx(300e6 / cost["cycles_per_batch"])
    roofline = cost["roofline"]
    assert roofline["bound_runs_per_second"] >= cost["runs_per_second"]
    # fp4 codes, a scale per group of 128 and a bias per output of both layers, read once
    assert roofline["weight_bytes"] == 256 * 128 // 2 * 2 + (256 * 1 + 128 * 2) * 4 + (256 + 128) * 4
    (best, *_), = report["design_points"].values()
    assert best["cycles"] == main["cycles"] and set(best["launch_bounds"]) <= {"M", "C"}
    text = (tmp_path / "build" / "report.txt").read_text()
    assert "cost model (one batch through the step program" in text and "design points of @kernel_0" in text


def test_tile_options_fix_the_design_point(mlp: Path, tmp_path: Path) -> None:
    run_fpqc("compile", str(mlp), "--format", "fp4", "--tile", "pes=8 row_tile=4", "-o", str(tmp_path / "build"))
    report = json.loads((tmp_path / "build" / "report.json").read_text())
    (points,) = report["design_points"].values()
    assert [(p["pes"], p["row_tile"]) for p in points] == [(8, 4)]
    assert "pes 8 lanes 16" in (tmp_path / "build" / "model.hls.mlir").read_text()


def test_a_bad_tile_option_is_one_line(mlp: Path, tmp_path: Path) -> None:
    result = subprocess.run([FPQC, "compile", str(mlp), "--tile", "pes=-4", "-o", str(tmp_path / "build")],
                            capture_output=True, text=True)
    assert result.returncode == 1 and not (tmp_path / "build").exists()
    assert result.stderr.strip().splitlines() == ["error: tile: pes must be positive (0: chosen by the pass), got -4"]
