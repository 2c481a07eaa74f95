"""fpqc eval's teacher-forced figures on the shipped digits VAR."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from fpqc.eval.quality import _kl, _sqnr_db, evaluate_teacher_forced

REPO = Path(__file__).resolve().parents[3]
MODEL = REPO / "examples/digits/var.onnx"


def test_kl_and_sqnr_definitions() -> None:
    logits = np.array([[[2.0, 0.0, -1.0]]], np.float32)
    assert _kl(logits, logits) == 0.0
    p = np.exp(logits[0, 0] - logits[0, 0].max()).astype(np.float64)
    p /= p.sum()
    q = np.full(3, 1 / 3)
    assert np.isclose(_kl(logits, np.zeros_like(logits)), float((p * np.log(p / q)).sum()))
    assert _sqnr_db(np.ones(4), np.ones(4)) == float("inf")
    assert np.isclose(_sqnr_db(np.ones(4), np.full(4, 1.1)), 20.0)


def test_recipes_on_the_digits_model() -> None:
    results, activations = evaluate_teacher_forced(
        MODEL, ["int4-rtn", "fp4-baseline", "fp6-baseline", "int4-rtn-fc2-float"]
    )
    labels = list(activations.inputs)
    assert activations.inputs["b1.fc1"].shape == (10, 130, 128)
    assert labels[0] == "word_embed" and labels[-2:] == ["head_ada_lin", "head"]
    assert labels[1:6] == ["b0.ada_lin", "b0.mat_qkv", "b0.proj", "b0.fc1", "b0.fc2"]
    by_name = {r.recipe: r for r in results}
    for r in results:
        assert r.kl > 0 and 0 < r.top1 < 1
        assert len(r.layers) == len(labels)
        # Layers kept in float are not scored; every block's four (three with fc2 in float) quantized layers are.
        fc2_float = r.recipe.endswith("-fc2-float")
        assert all(np.isnan(db) for label, db in r.layers
                   if label.endswith("ada_lin") or label == "head" or (fc2_float and label.endswith(".fc2")))
        assert sum(np.isfinite(db) for _, db in r.layers) == (12 if fc2_float else 16)
    # The paper's shape: FP4 beats INT4 at the same bit width, FP6 is far closer to float; leaving fc2 in float
    # (the authors' INT baseline) makes INT4 much better.
    assert by_name["fp6-baseline"].kl < by_name["fp4-baseline"].kl < by_name["int4-rtn"].kl
    assert by_name["int4-rtn-fc2-float"].kl < 0.6 * by_name["int4-rtn"].kl
    assert by_name["fp6-baseline"].mean_sqnr > by_name["fp4-baseline"].mean_sqnr > by_name["int4-rtn"].mean_sqnr


def test_seeds_rebuild_only_the_recipes_with_random_signs() -> None:
    results, _ = evaluate_teacher_forced(MODEL, ["fp4-ght", "fp4-baseline"], seeds=(0, 1))
    ght, baseline = results
    assert len(ght.kl_runs) == 2 and ght.kl_runs[0] != ght.kl_runs[1]
    assert ght.kl == np.mean(ght.kl_runs) and ght.kl_spread == np.std(ght.kl_runs) > 0
    assert len(baseline.kl_runs) == 1 and baseline.kl_spread == 0


def test_eval_cli_writes_table_json_and_plot(tmp_path: Path) -> None:
    fpqc = str(Path(sys.executable).parent / "fpqc")
    result = subprocess.run(
        [fpqc, "eval", str(MODEL), "--recipes", "fp8-rtn", "-o", str(tmp_path)],
        capture_output=True, text=True, check=True,
    )
    assert "fp8-rtn" in result.stdout and "KL (nats)" in result.stdout
    payload = json.loads((tmp_path / "eval.json").read_text())
    assert payload[0]["recipe"] == "fp8-rtn" and payload[0]["top1"] > 0.9
    assert (tmp_path / "layer_sqnr.png").stat().st_size > 10_000
    assert (tmp_path / "hadamard_histograms.png").stat().st_size > 10_000


def test_frechet_distance_and_inception_score() -> None:
    from fpqc.eval.generation import frechet_distance, inception_score

    rng = np.random.default_rng(0)
    a = rng.standard_normal((4000, 3))
    assert abs(frechet_distance(a, a)) < 1e-9
    # Two Gaussians N(0, I) and N(m, 4I): FID = |m|^2 + 3*(1 + 4 - 2*2) = |m|^2 + 3.
    b = 2.0 * rng.standard_normal((4000, 3)) + np.array([1.0, 2.0, 2.0])
    assert abs(frechet_distance(a, b) - 12.0) < 0.6
    confident = np.eye(10)[np.arange(100) % 10]
    assert np.isclose(inception_score(confident), 10.0, rtol=1e-6)
    assert np.isclose(inception_score(np.full((50, 10), 0.1)), 1.0)


def test_fid_to_float_compares_with_the_float_models_own_images() -> None:
    """fp8 draws nearly the float model's images with the same seeds: its features lie far closer to the
    float model's images than to the real digits (or than the float model's images lie to them)."""
    from fpqc.eval.generation import evaluate_generation

    scores = evaluate_generation(MODEL, ["fp8-rtn"], MODEL.parent / "classifier.pt", 2, seeds=(0, 1))
    assert "FID to float" not in scores["float"]
    fp8 = scores["fp8-rtn"]
    assert {"FID", "FID sd", "FID to float", "FID to float sd", "IS", "accuracy"} <= set(fp8)
    assert 0 <= fp8["FID to float"] < 0.5 * min(fp8["FID"], scores["float"]["FID"]), (fp8, scores["float"])
