"""Every kind of recipe's accelerated layers compile to HLS and verify bit-exact (tiny VAR, CLI).

The recipes left out of :data:`ON_HARDWARE` put the same ops in the same places
as one that is in it, with other formats or tables (an ablation drops a pass of
fpqvar-w4a4, which fpqvar-w4a4-kv6 covers; fp6-baseline, fp8-rtn, int4-rtn and
int6-rtn are fp4-baseline's kernels with other formats; mixedformat is
fpqvar-w4a4's dual format with other formats; a ``-ties-up`` variant changes only
the quantizer tables; fp6-ght-dfq, fpqvar-w6a6's kernels, is verified by ``tests/unit/hls/test_fpqvar_var.py``).
Every format's and rounding mode's kernels are compared with ``fpqc/numerics``
bit for bit in ``tests/unit/hls/test_csim.py`` and ``test_tiled_library.py``, so
the suite does not compile and C-simulate a tiny VAR for every recipe.
"""

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


ON_HARDWARE = ("fp4-baseline", "fpqvar-w4a4-kv6", "mixedformat-layerwise", "int4-rtn-fc2-float")
QUANTIZED = {"mixedformat-layerwise": 10, "int4-rtn-fc2-float": 6}
"""Linear layers a recipe quantizes in the depth-2 VAR when not the blocks' 8 (ada_lin quantized; fc2 left float)."""


def test_the_hardware_recipes_are_recipes() -> None:
    assert set(ON_HARDWARE) <= set(RECIPES)


@pytest.mark.parametrize("recipe", ON_HARDWARE)
def test_recipe_compiles_and_verifies(tiny_var: tuple[Path, Path], tmp_path: Path, recipe: str) -> None:
    model, calib = tiny_var
    build = tmp_path / "build"
    summary = run_fpqc("compile", str(model), "--recipe", recipe, "--calib", str(calib), "-o", str(build))
    assert f"recipe      {recipe}:" in summary and f"{QUANTIZED.get(recipe, 8)} quantized" in summary
    report = run_fpqc("verify", str(build), "--samples", "1")
    match = re.search(r"^  values\s+([\d,]+) compared, ([\d,]+) differing", report, re.MULTILINE)
    assert match, report
    assert int(match.group(1).replace(",", "")) > 0 and match.group(2) == "0"
