"""A build's manifest checksums the model and every file of its external data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from blake3 import blake3
from onnx import TensorProto, helper, numpy_helper

from fpqc.compiler import compile_model


def linear_with_external_data(path: Path) -> Path:
    """``relu(x @ w1) @ w2``, each weight in a file of its own beside the model."""
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal(shape).astype(np.float32) for shape in ((128, 256), (256, 128))]
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w1"], ["h"]),
            helper.make_node("Relu", ["h"], ["r"]),
            helper.make_node("MatMul", ["r", "w2"], ["y"]),
        ],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [8, 128])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [8, 128])],
        initializer=[numpy_helper.from_array(w, f"w{i + 1}") for i, w in enumerate(weights)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=False, size_threshold=0)
    return path


def test_manifest_checksums_the_model_and_its_external_data(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    model = linear_with_external_data(tmp_path / "model" / "m.onnx")
    compile_model(model, tmp_path / "build", format_name="fp8")
    manifest = json.loads((tmp_path / "build" / "manifest.json").read_text())
    expected = {p.name: blake3(p.read_bytes()).hexdigest() for p in sorted(model.parent.iterdir())}
    assert set(expected) == {"m.onnx", "w1", "w2"}
    assert manifest["model_blake3"] == expected
