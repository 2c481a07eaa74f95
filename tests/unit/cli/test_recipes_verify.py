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

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
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


@dataclass
class Builds:
    """The tiny VAR's build of each recipe and its compile summary, compiled when first asked for."""

    tiny_var: tuple[Path, Path]
    folder: Path
    made: dict[str, tuple[Path, str]] = field(default_factory=dict)

    def of(self, recipe: str) -> tuple[Path, str]:
        if recipe not in self.made:
            model, calib = self.tiny_var
            build = self.folder / recipe
            summary = run_fpqc("compile", str(model), "--recipe", recipe, "--calib", str(calib), "-o", str(build))
            self.made[recipe] = (build, summary)
        return self.made[recipe]


@pytest.fixture(scope="module")
def builds(tiny_var: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Builds:
    return Builds(tiny_var, tmp_path_factory.mktemp("builds"))


@pytest.mark.parametrize("recipe", ON_HARDWARE)
def test_recipe_compiles_and_verifies(builds: Builds, recipe: str) -> None:
    build, summary = builds.of(recipe)
    assert f"recipe      {recipe}:" in summary and f"{QUANTIZED.get(recipe, 8)} quantized" in summary
    report = run_fpqc("verify", str(build), "--samples", "1")
    match = re.search(r"^  values\s+([\d,]+) compared, ([\d,]+) differing", report, re.MULTILINE)
    assert match, report
    assert int(match.group(1).replace(",", "")) > 0 and match.group(2) == "0"


def test_a_6bit_kv_cache_is_kept_as_codes_and_the_cpp_host_agrees(builds: Builds, tmp_path: Path) -> None:
    """fpqvar-w4a4-kv6's caches are E2M3 codes (packed five to a word) and a scale per token and head in the
    schedule and on the kernels' ports; the C++ host program generates the Python runtime's images with them."""
    build, _ = builds.of("fpqvar-w4a4-kv6")
    schedule = json.loads((build / "host_schedule.json").read_text())
    step = schedule["step_program"][-1]
    buffers = {b["name"]: b for b in step["buffers"]}
    caches = {b["kv_cache"]: buffers[b["buffer"]] for b in step["arguments"] if "kv_cache" in b}
    assert sorted(caches) == ["k0", "k0.scales", "k1", "k1.scales", "v0", "v0.scales", "v1", "v1.scales"]
    assert caches["k0"]["dtype"] == "packed_codes" and caches["k0"]["format"] == "e2m3" and caches["k0"]["bits"] == 6
    assert caches["k0"]["shape"] == [2, 30, 128] and caches["k0"]["bytes"] == -(-2 * 30 * 128 // 5) * 4
    assert caches["k0.scales"]["dtype"] == "f32" and caches["k0.scales"]["shape"] == [2, 30, 2]
    ports = {p["name"]: p for k in schedule["kernels"] for p in k["ports"]}
    assert any(p["dtype"] == "packed_codes" and p.get("updates") for p in ports.values())
    sampling = ["--classes", "3,8", "--seed", "2"]
    run_fpqc("generate", str(build), "--device", "csim", *sampling, "-o", str(tmp_path / "python.npz"))
    run_fpqc("generate", str(build), "--device", "csim", "--host", "cpp", *sampling, "-o", str(tmp_path / "cpp"))
    python, cpp = np.load(tmp_path / "python.npz"), np.load(tmp_path / "cpp.npz")
    assert sorted(cpp.files) == sorted(python.files)
    for name in python.files:
        assert np.array_equal(cpp[name], python[name]), name
