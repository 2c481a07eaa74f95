"""The per-scale step program with its KV cache against teacher forcing: the same logits, bit for bit.

Generation through ``@step_k`` (each scale's new tokens against the KV cache)
and through ``@main`` rerun at every scale must give identical logits, tokens
and images, for the float model and for quantized recipes covering every
quantized op kind (group-wise Hadamard, dual format, a 6-bit KV cache).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fpqc.compiler import load_onnx, run_pipeline
from fpqc.dialects import fpq
from fpqc.frontend.var.config import VARConfig
from fpqc.frontend.var.export import export_var
from fpqc.passes.pipelines import RAISE_PIPELINE, RECIPES, STEP_PIPELINE
from fpqc.passes.step_program import prologue_function, step_functions
from fpqc.runtime import VarModel, VarRuntime

CONFIG = VARConfig.tiny(embed_dim=128, num_heads=2)  # a group of 128 needs C = 128
LABELS = [1, 7, 3]  # 6 rows with guidance: three batches of the export's 2, each with its own cache


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return export_var(CONFIG, tmp_path_factory.mktemp("tiny"), route="fpqc", batch=2)


def _quantized(model: Path, pipeline: str) -> VarRuntime:
    reference = VarModel.load(model)
    module, store = load_onnx(model)
    with store.activate():
        run_pipeline(module, f"{RAISE_PIPELINE},{pipeline},{STEP_PIPELINE}", "quantize")
    quantized = VarModel(module, store, reference.config, reference.inputs, reference.vae, True, reference.source)
    return VarRuntime(quantized, reference.vqvae())


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.all(a.view(np.uint32) == b.view(np.uint32)))


def _check_generation(runtime: VarRuntime) -> None:
    assert runtime.model.has_steps
    cached = runtime.generate(LABELS, seed=3, top_k=20, top_p=0.9, keep_logits=True)
    rerun = runtime.generate(LABELS, seed=3, top_k=20, top_p=0.9, keep_logits=True, kv_cache=False)
    for k, (a, b) in enumerate(zip(cached.logits, rerun.logits, strict=True)):
        assert _same_bits(a, b), f"scale {k}: step logits differ from teacher forcing"
    for a, b in zip(cached.tokens, rerun.tokens, strict=True):
        np.testing.assert_array_equal(a, b)
    assert _same_bits(cached.images, rerun.images)


def test_float_model_steps_match_teacher_forcing(tiny):
    _check_generation(VarRuntime.load(tiny))


@pytest.mark.parametrize(
    "pipeline",
    [
        RECIPES["fp4-baseline"].pipeline(None),
        RECIPES["fp6-ght-dfq"].pipeline(None),
        RECIPES["mixedformat"].pipeline(None) + ",kv-quantize{format=e2m3}",
    ],
    ids=["fp4-baseline", "fp6-ght-dfq", "mixedformat-kv6"],
)
def test_quantized_steps_match_teacher_forcing(tiny, pipeline):
    runtime = _quantized(tiny, pipeline)
    _check_generation(runtime)


def test_the_token_free_work_runs_once_in_the_prologue(tiny):
    model = VarModel.load(tiny)
    prologue = prologue_function(model.module)
    roles = [fpq.role_of(op) for op in prologue.walk() if isinstance(op, fpq.LinearOp)]
    assert roles.count("ada_lin") == CONFIG.depth and "head_ada_lin" in roles
    for step in step_functions(model.module):
        assert not [op for op in step.walk() if isinstance(op, fpq.SiluOp)]  # the class condition's SiLU
        roles = {fpq.role_of(op) for op in step.walk() if isinstance(op, fpq.LinearOp)}
        assert not roles & {"ada_lin", "head_ada_lin"}


def test_one_function_per_scale_with_one_cache_per_block(tiny):
    model = VarModel.load(tiny)
    steps = step_functions(model.module)
    assert len(steps) == len(CONFIG.patch_nums)
    for k, (step, (begin, end)) in enumerate(zip(steps, CONFIG.begin_ends, strict=True)):
        attentions = [op for op in step.walk() if isinstance(op, fpq.CachedAttentionOp)]
        assert len(attentions) == CONFIG.depth
        assert {op.constant_offset() for op in attentions} == {begin}
        assert len(step.function_type.outputs.data) == 1 + 2 * CONFIG.depth
        logits = step.function_type.outputs.data[0].get_shape()
        assert logits == (2, end - begin, CONFIG.vocab_size), k
