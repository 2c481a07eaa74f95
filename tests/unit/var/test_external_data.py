"""save_streamed writes what onnx.load(load_external_data=True) + onnx.save_model(all_tensors_to_one_file) writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from fpqc.frontend.var.external_data import save_streamed


def exported(directory: Path, per_tensor_files: bool) -> Path:
    """A model like an exporter writes it: large and small float initializers and a Constant's value, raw or
    in external files (one per tensor, as torch's TorchScript exporter writes a model over 2 GB), and an
    int64 initializer in typed fields."""
    rng = np.random.default_rng(0)
    initializers = [numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)
                    for name, shape in (("big", (64, 48)), ("tiny", (3,)), ("edge", (248,)), ("edge2", (247,)))]
    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [8, 48])  # int64_data, not raw_data
    ones = numpy_helper.from_array(np.ones(384, np.float32), "ones")  # a Constant's value, also stored externally
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "big"], ["h"]), helper.make_node("Reshape", ["h", "shape"], ["r"]),
         helper.make_node("Constant", [], ["c"], value=ones), helper.make_node("Mul", ["r", "c"], ["y"])],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [8, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [8, 48])], initializer=[*initializers, shape],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    path = directory / "raw.onnx"
    directory.mkdir()
    if per_tensor_files:
        onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=False, size_threshold=0,
                        convert_attribute=True)
    else:
        onnx.save_model(model, path)
    return path


@pytest.mark.parametrize("per_tensor_files", [False, True])
@pytest.mark.parametrize("location", ["var.onnx.data", None])
def test_same_bytes_as_onnx_save_model(tmp_path: Path, per_tensor_files: bool, location: str | None) -> None:
    raw = exported(tmp_path / "raw", per_tensor_files)
    expected = tmp_path / "expected"
    expected.mkdir()
    model = onnx.load(str(raw), load_external_data=True)
    if location is None:
        onnx.save_model(model, expected / "var.onnx")
    else:
        onnx.save_model(model, expected / "var.onnx", save_as_external_data=True, all_tensors_to_one_file=True,
                        location=location, size_threshold=1024)
    got = tmp_path / "got"
    got.mkdir()
    written: list[int] = []
    save_streamed(onnx.load(str(raw), load_external_data=False), raw, got / "var.onnx", location,
                  progress=written.append)
    assert sorted(p.name for p in got.iterdir()) == sorted(p.name for p in expected.iterdir())
    for file in expected.iterdir():
        assert (got / file.name).read_bytes() == file.read_bytes(), file.name
    assert sum(written) == 4 * (64 * 48 + 3 + 248 + 247)
    assert [p.name for p in raw.parent.iterdir()] == ["raw.onnx"]  # the exporter's data files are gone
