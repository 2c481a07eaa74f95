"""``OnnxOp.make``, as the importer uses it: ops typed by inference; the dialect never reads the weight store."""

from __future__ import annotations

import numpy as np
import pytest
from xdsl.dialects.builtin import TensorType, f32
from xdsl.ir import Block

from fpqc.dialects import onnx
from fpqc.weights import WeightStore, dense_attr


def test_inline_shape_is_read_from_the_ir() -> None:
    x = Block(arg_types=[TensorType(f32, (2, 3))]).args[0]
    shape = onnx.ConstantOp(dense_attr(np.array([3, 2], np.int64))).result
    assert onnx.ReshapeOp.make([x, shape]).results[0].type == TensorType(f32, (3, 2))


def test_stored_shape_comes_from_the_caller() -> None:
    store = WeightStore()
    x = Block(arg_types=[TensorType(f32, (2, 3))]).args[0]
    dims = np.array([3, 2], np.int64)
    shape = onnx.ConstantOp(store.add("shape", dims)).result
    with store.activate(), pytest.raises(onnx.InferenceError, match="depends on an operand that is not a constant"):
        onnx.ReshapeOp.make([x, shape])
    op = onnx.ReshapeOp.make([x, shape], values=[None, dims])
    assert op.results[0].type == TensorType(f32, (3, 2))
    op.verify()
