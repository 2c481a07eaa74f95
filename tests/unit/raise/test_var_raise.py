"""Tiny random VARs through all three export routes: import, raise, recognise, compare.

For each route the raised module must contain every transformer block in
full (``recognise_blocks``) and its interpreter output must match the
onnx-level interpreter's on the same inputs (relative error ≤ 1e-4 on the
logits).  ``cond_drop_rate=0`` keeps the class dropout in the torchscript and
dynamo graphs but never firing, so the outputs are deterministic.
"""

from __future__ import annotations

import numpy as np
import pytest

from fpqc import compiler
from fpqc.backends.interp.runner import run_module
from fpqc.dialects import fpq
from fpqc.frontend.var import VAR, VARConfig
from fpqc.frontend.var.export import ROUTES, example_inputs, export_var
from fpqc.analysis.var_blocks import recognise_blocks

CONFIGS = {
    "d2": VARConfig.tiny(cond_drop_rate=0.0),
    "d3": VARConfig.tiny(depth=3, patch_nums=(1, 2, 4), embed_dim=32, num_heads=2, vocab_size=48,
                         cond_drop_rate=0.0),
}
ROLES = ("word_embed", "ada_lin", "mat_qkv", "proj", "fc1", "fc2", "head_ada_lin", "head")


def _model(cfg: VARConfig) -> VAR:
    var = VAR(cfg, seed=0)
    var.init_weights(seed=1, init_adaln_gamma=0.5, init_head=1.0)
    return var.eval()


@pytest.fixture(scope="module", params=[(c, r) for c in CONFIGS for r in ROUTES], ids=lambda p: f"{p[0]}-{p[1]}")
def raised(request, tmp_path_factory):
    name, route = request.param
    cfg = CONFIGS[name]
    path = export_var(cfg, tmp_path_factory.mktemp(f"{name}-{route}"), var_state=_model(cfg).state_dict(),
                      route=route)
    module, store = compiler.load_onnx(path)
    label, x = example_inputs(cfg, seed=3)
    inputs = {"label_B": label.numpy(), "x_BLCv_wo_first_l": x.numpy()}
    reference = run_module(module, inputs, store)["logits_BLV"]
    with store.activate():
        compiler.run_pipeline(module, "raise-onnx-to-fpq", "raise")
    logits = run_module(module, inputs, store)["logits_BLV"]
    return cfg, module, reference, logits


def test_every_block_recognised(raised):
    cfg, module, _, _ = raised
    report = recognise_blocks(module)
    assert report.blocks == cfg.depth, report.summary()
    for op in ("onnx.MatMul", "onnx.Softmax", "onnx.LayerNormalization", "onnx.Tanh", "onnx.ReduceL2"):
        assert op not in report.unraised, report.summary()


def test_roles_and_mask(raised):
    cfg, module, _, _ = raised
    roles = [op.attributes["fpq.role"].data for op in module.walk() if isinstance(op, fpq.LinearOp)]
    per_block = ("ada_lin", "mat_qkv", "proj", "fc1", "fc2")
    expected = {r: cfg.depth if r in per_block else 1 for r in ROLES}
    assert {r: roles.count(r) for r in ROLES} == expected
    assert len(roles) == sum(expected.values())
    bounds = np.cumsum([0] + [p * p for p in cfg.patch_nums]).tolist()
    for op in module.walk():
        if isinstance(op, fpq.AttentionOp):
            assert op.boundaries() == tuple(bounds) and op.mask is None


def test_raised_output_matches_onnx_level(raised):
    _, _, reference, logits = raised
    error = np.max(np.abs(logits - reference)) / np.max(np.abs(reference))
    assert error <= 1e-4
