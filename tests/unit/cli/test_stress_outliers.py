"""fpqc stress-outliers: outlier channels injected into the shipped digits VAR, its function unchanged."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from fpqc.errors import FpqcError
from fpqc.tools.stress_outliers import StressSettings, stress_outliers

from cli_helpers import run_fpqc

REPO = Path(__file__).resolve().parents[3]
MODEL = REPO / "examples/digits/var.onnx"
INPUTS = REPO / "examples/digits/inputs.npz"


def _initializers(path: Path) -> dict[str, np.ndarray]:
    return {init.name: numpy_helper.to_array(init) for init in onnx.load(str(path)).graph.initializer}


def _logits(path: Path) -> np.ndarray:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    data = np.load(INPUTS)
    feeds = {i.name: data[i.name] for i in session.get_inputs()}
    return session.run(None, feeds)[0].astype(np.float64)


@pytest.fixture(scope="module")
def strong(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("stress") / "strong.onnx"
    summary = run_fpqc("stress-outliers", str(MODEL), "-o", str(out), "--channels", "4", "--scale", "20-50")
    return out, summary


def test_the_stressed_model_computes_the_same_logits(strong):
    out, summary = strong
    # onnxruntime, not fpqc, is the judge here.
    assert np.max(np.abs(_logits(out) - _logits(MODEL))) < 1e-4
    match = re.search(r"float logits within (\S+) of the original \(limit 0.0001\)", summary)
    assert match and float(match.group(1)) < 1e-4


def test_outliers_are_where_the_report_says(strong):
    out, summary = strong
    lines = [line for line in summary.splitlines() if re.match(r"\s+b\d\.(mat_qkv|fc1) ", line)]
    assert len(lines) == 8  # 4 blocks x (mat_qkv, fc1)
    for line in lines:
        factors = [float(f) for f in re.search(r"x([\d., ]+)\s+largest", line).group(1).split(",")]
        assert len(factors) == 4 and all(20 <= f <= 50 for f in factors)
        before, after = (float(v) for v in re.search(r"channel ([\d.]+)x -> ([\d.]+)x", line).groups())
        assert before < 5 and after > 20

    old, new = _initializers(MODEL), _initializers(out)
    changed = {name for name in old if not np.array_equal(old[name], new[name])}
    ada_weights = {n for n in changed if n.endswith("ada_lin.1.weight")}
    ada_biases = {n for n in changed if n.endswith("ada_lin.1.bias")}
    readers = changed - ada_weights - ada_biases
    assert len(ada_weights) == len(ada_biases) == 4 and len(readers) == 8 and "head.bias" not in changed
    for name in ada_weights:  # scale and shift rows of 4 channels of both inputs scaled by their factors
        rows = np.flatnonzero(np.any(old[name] != new[name], axis=1))
        ratio = new[name][rows] / old[name][rows]
        assert len(rows) == 16 and np.all((ratio > 19.99) & (ratio < 50.01))
    for name in readers:  # MatMul weights [K, O]: 4 input rows divided by the factors
        rows = np.flatnonzero(np.any(old[name] != new[name], axis=1))
        ratio = old[name][rows] / new[name][rows]
        assert len(rows) == 4 and np.all((ratio > 19.99) & (ratio < 50.01))


def test_bad_settings_and_outputs_are_refused(tmp_path):
    with pytest.raises(FpqcError, match="would overwrite the input model"):
        stress_outliers(MODEL, MODEL, StressSettings())
    with pytest.raises(FpqcError, match="--channels 0"):
        stress_outliers(MODEL, tmp_path / "x.onnx", StressSettings(channels=0))
    with pytest.raises(FpqcError, match="--scale 50-20"):
        stress_outliers(MODEL, tmp_path / "x.onnx", StressSettings(low=50, high=20))
    with pytest.raises(FpqcError, match="only 128 channels"):
        stress_outliers(MODEL, tmp_path / "x.onnx", StressSettings(channels=200))
    with pytest.raises(FpqcError, match="not a role"):
        stress_outliers(MODEL, tmp_path / "x.onnx", StressSettings(roles=("fc3",)))
    assert not list(tmp_path.iterdir())


def test_galt_makes_w6a6_robust_to_the_outliers(strong, tmp_path):
    """The paper's W6A6 (GHT + DFQ, no GALT) suffers from strong outlier channels; GALT in front undoes them."""
    from fpqc.eval.quality import evaluate_teacher_forced

    out, _ = strong
    calib = tmp_path / "calib.npz"
    vae = REPO / "examples/digits/vae.npz"
    run_fpqc("calibrate", str(out), "--vae", str(vae), "--classes", "0-9", "--samples", "1", "-o", str(calib))
    results, _ = evaluate_teacher_forced(out, ["fp6-ght-dfq", "fpqvar-w6a6"], INPUTS, calib, vae)
    paper, galt = results
    assert galt.kl < 0.25 * paper.kl, (paper.kl, galt.kl)
