"""fpqc calibrate: the documented keys and shapes, per-scale statistics, the index, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fpqc.cli import main
from fpqc.frontend.var.config import VARConfig
from fpqc.frontend.var.export import export_var
from fpqc.runtime import VarRuntime
from fpqc.runtime.calibrate import HIST_EDGES, calibrate

CONFIG = VARConfig.tiny()
ROWS = 8
BLOCK_ROLES = ("ada_lin", "mat_qkv", "proj", "fc1", "fc2")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return export_var(CONFIG, tmp_path_factory.mktemp("tiny"), route="fpqc", batch=2)


@pytest.fixture(scope="module")
def calib(tiny: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("calib") / "calib.npz"
    assert main(["calibrate", str(tiny), "--classes", "0-1", "--samples", "2", "--rows", str(ROWS),
                 "-o", str(out)]) == 0
    return out


def test_layers_are_named_by_block_and_role(calib: Path):
    index = json.loads(calib.with_suffix(".json").read_text())
    names = [layer["name"] for layer in index["layers"]]
    expected = ["word_embed"]
    for b in range(CONFIG.depth):
        expected += [f"block{b}.{role}" for role in BLOCK_ROLES]
    assert names == expected + ["head_ada_lin", "head"]
    assert [layer["linear"] for layer in index["layers"]] == list(range(len(names)))


def test_documented_keys_and_shapes(calib: Path):
    index = json.loads(calib.with_suffix(".json").read_text())
    K = len(CONFIG.patch_nums)
    with np.load(calib) as z:
        assert json.loads(bytes(z["__index__"]).decode()) == index
        np.testing.assert_array_equal(z["hist_edges"], HIST_EDGES)
        for layer in index["layers"]:
            scales = list(range(1, K)) if layer["name"] == "word_embed" else list(range(K))
            assert layer["scales"] == scales
            features = layer["in_features"]
            for k in scales:
                prefix = f"{layer['name']}.scale{k}"
                absmax, negfrac = z[f"{prefix}.absmax"], z[f"{prefix}.negfrac"]
                hist, count = z[f"{prefix}.hist"], int(z[f"{prefix}.count"])
                rows = z[f"linear{layer['linear']}/scale{k}"]
                assert absmax.shape == negfrac.shape == (features,) and absmax.dtype == np.float32
                assert hist.shape == (len(HIST_EDGES) + 1,) and hist.sum() == count * features
                assert ((0 <= negfrac) & (negfrac <= 1)).all()
                assert rows.shape == (min(ROWS, count), features) and rows.dtype == np.float32
                assert (np.abs(rows) <= absmax).all()
        # 4 images, each with its conditional and unconditional row: pn² tokens per row at scale k
        for k, pn in enumerate(CONFIG.patch_nums):
            assert int(z[f"block0.fc1.scale{k}.count"]) == 2 * 4 * pn * pn
            assert int(z[f"block1.ada_lin.scale{k}.count"]) == 2 * 4
    assert index["images"] == 4 and index["classes"] == [0, 1] and index["rows_per_scale"] == ROWS


def test_statistics_differ_from_scale_to_scale(calib: Path):
    with np.load(calib) as z:
        for name in ("block1.fc2", "block1.mat_qkv"):
            absmax = [z[f"{name}.scale{k}.absmax"] for k in range(len(CONFIG.patch_nums))]
            assert all(not np.allclose(a, b) for a, b in zip(absmax, absmax[1:]))


def test_plot_is_written(calib: Path):
    plot = calib.with_name("calib_absmax.png")
    assert plot.is_file() and plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_same_seed_same_file(tiny: Path):
    runtime = VarRuntime.load(tiny)
    a = calibrate(runtime, [3], 1, rows_per_scale=4, seed=7).arrays()
    b = calibrate(runtime, [3], 1, rows_per_scale=4, seed=7).arrays()
    for key in a:
        if key != "__index__":
            np.testing.assert_array_equal(a[key], b[key])


def test_the_same_calibration_gives_the_same_bytes(tiny: Path, calib: Path, tmp_path: Path):
    """The files hold statistics and settings, not the time the run took."""
    again = tmp_path / "calib.npz"
    assert main(["calibrate", str(tiny), "--classes", "0-1", "--samples", "2", "--rows", str(ROWS),
                 "-o", str(again)]) == 0
    assert again.read_bytes() == calib.read_bytes()
    assert again.with_suffix(".json").read_bytes() == calib.with_suffix(".json").read_bytes()
