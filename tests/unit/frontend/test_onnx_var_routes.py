"""Random-weight VARs (depth 2 and 3) through all three export routes, against onnxruntime.

``cond_drop_rate=0`` keeps the class dropout in the torchscript and dynamo
graphs (the importer must fold it) while onnxruntime's run of the same file
stays deterministic.
"""

from __future__ import annotations

import collections

import numpy as np
import onnxruntime as ort
import pytest

from fpqc.backends.interp.runner import run_module
from fpqc.frontend.onnx_import import import_onnx

pytest.importorskip("torch")

from fpqc.frontend.var.config import VARConfig  # noqa: E402
from fpqc.frontend.var.export import ROUTES, example_inputs, export_var  # noqa: E402

CONFIGS = {
    "d2": VARConfig.tiny(embed_dim=128, num_heads=2, cond_drop_rate=0.0),
    "d3": VARConfig.tiny(depth=3, embed_dim=192, num_heads=3, cond_drop_rate=0.0),
}


@pytest.fixture(scope="module", params=[(c, r) for c in CONFIGS for r in ROUTES], ids=lambda p: f"{p[0]}-{p[1]}")
def exported(request, tmp_path_factory):
    name, route = request.param
    cfg = CONFIGS[name]
    return cfg, route, export_var(cfg, tmp_path_factory.mktemp(f"{name}-{route}"), route=route)


def test_logits_match_onnxruntime(exported) -> None:
    cfg, _, path = exported
    module, store = import_onnx(path)
    module.verify()
    label, x = example_inputs(cfg, seed=3)
    inputs = {"label_B": label.numpy(), "x_BLCv_wo_first_l": x.numpy()}
    logits = run_module(module, inputs, store)["logits_BLV"]
    expected = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, inputs)[0]
    assert logits.shape == (1, cfg.L, cfg.vocab_size)
    assert np.max(np.abs(logits - expected)) / np.max(np.abs(expected)) <= 1e-4


def test_imported_graph(exported) -> None:
    """Per block: 2 LayerNorms, 2 ReduceL2s, a Softmax, a Tanh; no shape arithmetic or randomness."""
    cfg, route, path = exported
    module, _ = import_onnx(path)
    ops = collections.Counter(op.name.removeprefix("onnx.") for op in module.walk())
    for gone in ("Shape", "Identity", "RandomUniformLike", "Less", "Where", "Equal", "ConstantOfShape"):
        assert gone not in ops, (gone, ops)
    assert ops["LayerNormalization"] == 2 * cfg.depth + 1
    assert ops["ReduceL2"] == 2 * cfg.depth
    assert ops["Softmax"] == ops["Tanh"] == cfg.depth
    assert ops["Squeeze"] == 9 * cfg.depth + 2  # unbind of AdaLN's 6 and qkv's 3; the head's 2
    assert (ops["Slice"] > 0) == (route == "dynamo")
