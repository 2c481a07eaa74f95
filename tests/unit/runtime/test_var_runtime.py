"""VarRuntime against the torch reference: per-scale logits with the same tokens, the
block-causal claim behind the teacher-forcing schedule, sampling, determinism, builds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from fpqc.compiler import compile_model
from fpqc.errors import FpqcError
from fpqc.frontend.var.config import VARConfig
from fpqc.frontend.var.export import build_models, export_var
from fpqc.frontend.var.generate import autoregressive_infer_cfg, filter_top_k_top_p_
from fpqc.runtime import VarRuntime, teacher_forcing_schedule
from fpqc.runtime.sampling import filter_top_k_top_p, sample_tokens

CONFIG = VARConfig.tiny()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return export_var(CONFIG, tmp_path_factory.mktemp("tiny"), route="fpqc", batch=2)


@pytest.fixture(scope="module")
def runtime(tiny: Path) -> VarRuntime:
    return VarRuntime.load(tiny)


@pytest.fixture(scope="module")
def reference():
    var, vae = build_models(CONFIG, seed=0)
    var.inference = True
    return var, vae


def test_schedule_lists_every_scale():
    steps = teacher_forcing_schedule(CONFIG)
    assert [s.patch_num for s in steps] == list(CONFIG.patch_nums)
    assert [(s.begin, s.end) for s in steps] == CONFIG.begin_ends
    assert steps[0].ratio == 0.0 and steps[-1].ratio == 1.0


def test_logits_and_images_match_the_reference_given_its_tokens(runtime, reference):
    var, vae = reference
    labels = torch.tensor([1, 7, 3])
    img, trace = autoregressive_infer_cfg(var, vae, 3, labels, g_seed=5, cfg=1.5, top_k=20, top_p=0.9,
                                          return_trace=True)
    out = runtime.generate(labels.numpy(), tokens=[t.numpy() for t in trace["idx"]], keep_logits=True)
    assert len(out.logits) == len(CONFIG.patch_nums)
    for mine, theirs in zip(out.logits, trace["logits"], strict=True):
        np.testing.assert_allclose(mine, theirs.numpy(), rtol=0, atol=1e-4)
    np.testing.assert_allclose(out.images, img.permute(0, 2, 3, 1).numpy(), rtol=0, atol=1e-4)


def test_rows_beyond_the_static_batch_are_split_and_padded(runtime, reference):
    var, _ = reference
    rng = np.random.default_rng(0)
    labels = np.array([0, 4, 10], dtype=np.int64)  # 3 rows through a batch-2 graph; 10 = null class
    x = rng.standard_normal((3, CONFIG.L - CONFIG.first_l, CONFIG.Cvae)).astype(np.float32)
    last = runtime.schedule[-1]
    mine = runtime.model.step_logits(last, labels, x)
    with torch.no_grad():
        theirs = var(torch.from_numpy(labels), torch.from_numpy(x))[:, last.begin:last.end].numpy()
    np.testing.assert_allclose(mine, theirs, rtol=0, atol=1e-4)


def test_block_causal_mask_makes_earlier_logits_independent_of_later_positions(runtime):
    rng = np.random.default_rng(1)
    labels = np.array([2, 5], dtype=np.int64)
    full = rng.standard_normal((2, CONFIG.L - CONFIG.first_l, CONFIG.Cvae)).astype(np.float32)
    every = runtime.model.step_logits(runtime.schedule[-1], labels, full)  # logits of the last scale only
    for step in runtime.schedule[:-1]:
        cut = full.copy()
        cut[:, step.end - CONFIG.first_l:] = 0.0
        whole = [runtime.model.step_logits(s, labels, cut) for s in runtime.schedule[: step.index + 1]]
        reference = [runtime.model.step_logits(s, labels, full) for s in runtime.schedule[: step.index + 1]]
        for a, b in zip(whole, reference, strict=True):
            np.testing.assert_array_equal(a, b)
        assert not np.array_equal(runtime.model.step_logits(runtime.schedule[-1], labels, cut), every)


def test_generation_is_deterministic_for_a_seed(runtime):
    a = runtime.generate([1, 2, 3], seed=4, top_k=10, top_p=0.9)
    b = runtime.generate([1, 2, 3], seed=4, top_k=10, top_p=0.9)
    c = runtime.generate([1, 2, 3], seed=5, top_k=10, top_p=0.9)
    assert all(np.array_equal(x, y) for x, y in zip(a.tokens, b.tokens, strict=True))
    np.testing.assert_array_equal(a.images, b.images)
    assert not all(np.array_equal(x, y) for x, y in zip(a.tokens, c.tokens, strict=True))
    side = CONFIG.image_size
    assert a.images.shape == (3, side, side, 3) and a.images.dtype == np.float32
    assert 0.0 <= a.images.min() and a.images.max() <= 1.0
    assert [t.shape for t in a.tokens] == [(3, pn * pn) for pn in CONFIG.patch_nums]


@pytest.mark.parametrize("top_k, top_p", [(0, 0.0), (5, 0.0), (0, 0.8), (7, 0.6), (100, 0.99)])
def test_filters_match_the_reference(top_k, top_p):
    logits = np.random.default_rng(2).standard_normal((3, 4, 64)).astype(np.float32) * 3
    mine = filter_top_k_top_p(logits, top_k, top_p)
    theirs = filter_top_k_top_p_(torch.from_numpy(logits.copy()), top_k, top_p).numpy()
    np.testing.assert_array_equal(np.isinf(mine), np.isinf(theirs))


def test_draws_stay_inside_the_filtered_support():
    logits = np.random.default_rng(3).standard_normal((50, 64)).astype(np.float32)
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(sample_tokens(logits, rng, top_k=1), logits.argmax(-1))
    allowed = np.isfinite(filter_top_k_top_p(logits, 5, 0.7))
    idx = sample_tokens(logits, rng, top_k=5, top_p=0.7)
    assert allowed[np.arange(50), idx].all()


def test_build_directory_runs_the_quantized_model(tiny, runtime, tmp_path):
    build = tmp_path / "build"
    compile_model(tiny, build, format_name=None, recipe_name="fp6-baseline")
    quantized = VarRuntime.load(build)
    assert quantized.model.quantized and not runtime.model.quantized
    reference = runtime.generate([1, 2], seed=0, keep_logits=True)
    out = quantized.generate([1, 2], tokens=reference.tokens, keep_logits=True)
    for a, b in zip(out.logits, reference.logits, strict=True):
        assert a.shape == b.shape and np.isfinite(a).all()


def test_missing_vae_and_config_are_clear_errors(tiny, tmp_path):
    (tmp_path / "var.onnx").write_bytes(tiny.read_bytes())
    with pytest.raises(FpqcError, match=r"var.onnx: no VQVAE \(vae.npz beside the model\); pass"):
        VarRuntime.load(tmp_path / "var.onnx")
    with pytest.raises(FpqcError, match="no such file or build directory"):
        VarRuntime.load(tmp_path / "nothing.onnx")
