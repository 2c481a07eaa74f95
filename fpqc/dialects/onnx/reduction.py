"""Reductions and normalizations: ``Reduce*``, ``LayerNormalization``, ``Softmax``."""

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
    normalize_axis,
    reduced_axes,
)


class _ReduceOp(OnnxOp):
    """A reduction of ``data`` over ``axes`` (an optional i64 input, opset 18)."""

    data = operand_def(TensorType)
    axes = opt_operand_def(TensorType)
    result = result_def(TensorType)
    keepdims = prop_def(IntegerAttr, IntegerAttr(1, i64))
    noop_with_empty_axes = prop_def(IntegerAttr, IntegerAttr(0, i64))
    traits = traits_def(Pure())

    @classmethod
    def infer_type(cls, operand_types, attrs, values):
        shape = operand_types[0].get_shape()
        axes = None
        if len(operand_types) > 1 and operand_types[1] is not None:
            if values[1] is None:
                return None
            axes = values[1].reshape(-1).tolist()
        reduced = reduced_axes(len(shape), axes, attrs["noop_with_empty_axes"])
        if attrs["keepdims"]:
            dims = [1 if i in reduced else d for i, d in enumerate(shape)]
        else:
            dims = [d for i, d in enumerate(shape) if i not in reduced]
        return TensorType(operand_types[0].get_element_type(), dims)


@irdl_op_definition
class ReduceL2Op(_ReduceOp):
    name = "onnx.ReduceL2"


@irdl_op_definition
class ReduceMeanOp(_ReduceOp):
    name = "onnx.ReduceMean"


@irdl_op_definition
class ReduceSumOp(_ReduceOp):
    name = "onnx.ReduceSum"


@irdl_op_definition
class LayerNormalizationOp(OnnxOp):
    """Normalization of ``X`` over the axes ``axis..rank-1``, then ``· Scale + B``.

    Only the ``Y`` result is modelled (the importer rejects uses of ``Mean``
    and ``InvStdDev``).  Statistics are computed in float32 (``stash_type`` 1).
    """

    name = "onnx.LayerNormalization"

    X = operand_def(TensorType)
    Scale = operand_def(TensorType)
    B = opt_operand_def(TensorType)
    result = result_def(TensorType)
    axis = prop_def(IntegerAttr, IntegerAttr(-1, i64))
    epsilon = prop_def(FloatAttr, FloatAttr(1e-5, f32))
    stash_type = prop_def(IntegerAttr, IntegerAttr(1, i64))
    traits = traits_def(Pure())

    @classmethod
    def infer_type(cls, operand_types, attrs, values):
        x = operand_types[0]
        shape = x.get_shape()
        normalized = shape[normalize_axis(attrs["axis"], len(shape)):]
        for name, t in zip(("Scale", "B"), operand_types[1:]):
            same_element_type([x, t])
            try:
                fits = broadcast_shapes(t.get_shape(), normalized) == normalized
            except InferenceError:
                fits = False
            if not fits:
                raise InferenceError(f"{name} of shape {list(t.get_shape())} does not broadcast to {list(normalized)}")
        if attrs["stash_type"] != 1:
            raise InferenceError(f"stash_type {attrs['stash_type']} is not supported (only 1, float32)")
        return x


@irdl_op_definition
class SoftmaxOp(OnnxOp):
    """``exp(x) / sum(exp(x))`` along ``axis`` (opset 13 semantics)."""

    name = "onnx.Softmax"

    input = operand_def(TensorType)
    result = result_def(TensorType)
    axis = prop_def(IntegerAttr, IntegerAttr(-1, i64))
    traits = traits_def(Pure())

    @classmethod
    def infer_type(cls, operand_types, attrs, values):
        normalize_axis(attrs["axis"], len(operand_types[0].get_shape()))
        return operand_types[0]

