"""Every recipe's accelerated layers compile to HLS and verify bit-exact (tiny VAR, CLI)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fpqc.passes.pipelines import RECIPES

from cli_helpers import TINY_VAR, run_fpqc



@pytest.fixture(scope="module")
def tiny_var(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("var")
    run_fpqc("export-var", *TINY_VAR, "-o", str(folder))
    run_fpqc("calibrate", str(folder / "var.onnx"), "--classes", "0-9", "--samples", "1", "-o", str(folder / "calib.npz"))
    return folder / "var.onnx", folder / "calib.npz"


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_recipe_compiles_and_verifies(tiny_var: tuple[Path, Path], tmp_path: Path, recipe: str) -> None:
    model, calib = tiny_var
    build = tmp_path / "build"
    summary = run_fpqc("compile", str(model), "--recipe", recipe, "--calib", str(calib), "-o", str(build))
    assert f"recipe      {recipe}:" in summary and "8 quantized" in summary
    report = run_fpqc("verify", str(build), "--samples", "1")
    match = re.search(r"^  values\s+([\d,]+) compared, ([\d,]+) differing", report, re.MULTILINE)
    assert match, report
    assert int(match.group(1).replace(",", "")) > 0 and match.group(2) == "0"
