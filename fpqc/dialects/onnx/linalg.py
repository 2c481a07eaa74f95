"""Linear-algebra ``onnx`` ops: ``MatMul`` and ``Gemm``."""

from __future__ import annotations

from xdsl.dialects.builtin import FloatAttr, IntegerAttr, TensorType, f32, i64
from xdsl.irdl import (
    irdl_op_definition,
    operand_def,
    opt_operand_def,
    prop_def,
    result_def,
    traits_def,
)
from xdsl.traits import Pure

from fpqc.dialects.onnx.base import OnnxOp, same_element_type
from fpqc.dialects.onnx.shape_inference import (
    InferenceError,
    broadcast_shapes,
    matmul_shape,
)


@irdl_op_definition
class MatMulOp(OnnxOp):
    """``A @ B`` with numpy ``matmul`` semantics."""

    name = "onnx.MatMul"

    A = operand_def(TensorType)
    B = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())

    @classmethod
    def infer_type(cls, operand_types, attrs, values):
        element = same_element_type(operand_types)
        a, b = operand_types
        return TensorType(element, matmul_shape(a.get_shape(), b.get_shape()))


@irdl_op_definition
class GemmOp(OnnxOp):
    """``alpha · op(A) · op(B) + beta · C`` for 2-D A, B; C broadcasts to the result."""

    name = "onnx.Gemm"

    A = operand_def(TensorType)
    B = operand_def(TensorType)
    C = opt_operand_def(TensorType)
    result = result_def(TensorType)
    alpha = prop_def(FloatAttr, FloatAttr(1.0, f32))
    beta = prop_def(FloatAttr, FloatAttr(1.0, f32))
    transA = prop_def(IntegerAttr, IntegerAttr(0, i64))
    transB = prop_def(IntegerAttr, IntegerAttr(0, i64))
    traits = traits_def(Pure())

    @classmethod
    def infer_type(cls, operand_types, attrs, values):
        element = same_element_type(operand_types)
        a, b = operand_types[0].get_shape(), operand_types[1].get_shape()
        if len(a) != 2 or len(b) != 2:
            raise InferenceError(f"A and B must be 2-D, got {list(a)} and {list(b)}")
        m, k = a[::-1] if attrs["transA"] else a
        k2, n = b[::-1] if attrs["transB"] else b
        if k != k2:
            raise InferenceError(f"inner dimensions of op(A) {[m, k]} and op(B) {[k2, n]} differ")
        if len(operand_types) == 3:
            c = operand_types[2].get_shape()
            if broadcast_shapes(c, (m, n)) != (m, n):
                raise InferenceError(f"C of shape {list(c)} does not broadcast to {[m, n]}")
        return TensorType(element, (m, n))

