"""Elementwise ``onnx`` ops: arithmetic, unary functions, comparisons, selection, clipping, casts."""

from __future__ import annotations

from xdsl.dialects.builtin import AnyFloat, IntegerAttr, StringAttr, TensorType, i1, i64
from xdsl.irdl import (
    AttrSizedOperandSegments,
    ParsePropInAttrDict,
    irdl_op_definition,
    operand_def,
    opt_operand_def,
    prop_def,
    result_def,
    traits_def,
    var_operand_def,
)
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException

from fpqc.dialects.onnx.base import OnnxOp, same_element_type
from fpqc.dialects.onnx.shape_inference import (
    InferenceError,
    broadcast_shapes,
    onnx_element_type,
)


class _BinaryOp(OnnxOp):
    """``A op B`` with multidirectional broadcasting; both operands of one element type."""

    A = operand_def(TensorType)
    B = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())

    @classmethod
    def infer_type(cls, operand_types, attrs, values):
        element = same_element_type(operand_types)
        a, b = operand_types
        return TensorType(element, broadcast_shapes(a.get_shape(), b.get_shape()))


@irdl_op_definition
class AddOp(_BinaryOp):
    name = "onnx.Add"


@irdl_op_definition
class SubOp(_BinaryOp):
    name = "onnx.Sub"


@irdl_op_definition
class MulOp(_BinaryOp):
    name = "onnx.Mul"


@irdl_op_definition
class DivOp(_BinaryOp):
    name = "onnx.Div"


@irdl_op_definition
class PowOp(OnnxOp):
    """``X ** Y``, broadcast; the result has the element type of ``X``."""

    name = "onnx.Pow"

    X = operand_def(TensorType)
    Y = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())

    @classmethod
    def infer_type(cls, operand_types, attrs, values):
        x, y = operand_types
        return TensorType(x.get_element_type(), broadcast_shapes(x.get_shape(), y.get_shape()))


class _UnaryOp(OnnxOp):
    """An elementwise function of one tensor; the result has its type."""

    input = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())

    @classmethod
    def infer_type(cls, operand_types, attrs, values):
        return operand_types[0]


@irdl_op_definition
class TanhOp(_UnaryOp):
    name = "onnx.Tanh"


@irdl_op_definition
class ReluOp(_UnaryOp):
    name = "onnx.Relu"


@irdl_op_definition
class SigmoidOp(_UnaryOp):
    name = "onnx.Sigmoid"


@irdl_op_definition
class ErfOp(_UnaryOp):
    name = "onnx.Erf"


@irdl_op_definition
class SqrtOp(_UnaryOp):
    name = "onnx.Sqrt"


@irdl_op_definition
class IdentityOp(_UnaryOp):
    name = "onnx.Identity"


@irdl_op_definition
class GeluOp(_UnaryOp):
    """GELU; ``approximate`` is ``"none"`` (erf form) or ``"tanh"``."""

    name = "onnx.Gelu"

    approximate = prop_def(StringAttr, StringAttr("none"))

    def verify_(self) -> None:
        super().verify_()
        if self.approximate.data not in ("none", "tanh"):
            raise VerifyException(f"{self.name}: approximate must be \"none\" or \"tanh\", got {self.approximate}")


@irdl_op_definition
class ExpOp(_UnaryOp):
    name = "onnx.Exp"


@irdl_op_definition
class LogOp(_UnaryOp):
    name = "onnx.Log"


@irdl_op_definition
class NegOp(_UnaryOp):
    name = "onnx.Neg"


@irdl_op_definition
class NotOp(_UnaryOp):
    """Logical not of a boolean (``i1``) tensor."""

    name = "onnx.Not"

    @classmethod
    def infer_type(cls, operand_types, attrs, values):
        if operand_types[0].get_element_type() != i1:
            raise InferenceError(f"the operand must be a boolean (i1) tensor, got {operand_types[0]}")
        return operand_types[0]


@irdl_op_definition
class IsNaNOp(_UnaryOp):
    """Whether each element of a float tensor is NaN: a boolean (``i1``) tensor of its shape."""

    name = "onnx.IsNaN"

    @classmethod
    def infer_type(cls, operand_types, attrs, values):
        element = operand_types[0].get_element_type()
        if not isinstance(element, AnyFloat):
            raise InferenceError(f"the operand must be a float tensor, got {operand_types[0]}")
        return TensorType(i1, operand_types[0].get_shape())


class _CompareOp(_BinaryOp):
    """``A cmp B`` with broadcasting; a boolean (``i1``) result."""

    @classmethod
    def infer_type(cls, operand_types, attrs, values):
        same_element_type(operand_types)
        a, b = operand_types
        return TensorType(i1, broadcast_shapes(a.get_shape(), b.get_shape()))


@irdl_op_definition
class EqualOp(_CompareOp):
    name = "onnx.Equal"


@irdl_op_definition
class LessOp(_CompareOp):
    name = "onnx.Less"


@irdl_op_definition
class GreaterOp(_CompareOp):
    name = "onnx.Greater"


@irdl_op_definition
class WhereOp(OnnxOp):
    """``condition ? X : Y`` elementwise, all three broadcast together."""

    name = "onnx.Where"

    condition = operand_def(TensorType)
    X = operand_def(TensorType)
    Y = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())

    @classmethod
    def infer_type(cls, operand_types, attrs, values):
        condition, x, y = operand_types
        if condition.get_element_type() != i1:
            raise InferenceError(f"condition must be a boolean (i1) tensor, got {condition}")
        element = same_element_type([x, y])
        return TensorType(element, broadcast_shapes(condition.get_shape(), x.get_shape(), y.get_shape()))


@irdl_op_definition
class ClipOp(OnnxOp):
    """``input`` clamped to ``[min, max]``; each bound is an optional scalar tensor.

    Printed with the keyword of each bound present::

        %y = onnx.Clip %x min %lo : tensor<4xf32> min tensor<f32> -> tensor<4xf32>
    """

    name = "onnx.Clip"

    input = operand_def(TensorType)
    min = opt_operand_def(TensorType)
    max = opt_operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    irdl_options = (AttrSizedOperandSegments(as_property=True), ParsePropInAttrDict())
    assembly_format = (
        "$input (`min` $min^)? (`max` $max^)? attr-dict `:` type($input)"
        " (`min` type($min)^)? (`max` type($max)^)? `->` type($result)"
    )

    @classmethod
    def infer_type(cls, operand_types, attrs, values):
        for bound in operand_types[1:]:
            if bound is not None:
                same_element_type([operand_types[0], bound])
                if bound.element_count() != 1:
                    raise InferenceError(f"min and max must be scalars, got {bound}")
        return operand_types[0]


class _VariadicOp(OnnxOp):
    """An elementwise function of one or more tensors, broadcast together."""

    data_0 = var_operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())

    @classmethod
    def infer_type(cls, operand_types, attrs, values):
        if not operand_types:
            raise InferenceError("needs at least one operand")
        element = same_element_type(operand_types)
        return TensorType(element, broadcast_shapes(*(t.get_shape() for t in operand_types)))


@irdl_op_definition
class MaxOp(_VariadicOp):
    name = "onnx.Max"


@irdl_op_definition
class MinOp(_VariadicOp):
    name = "onnx.Min"


@irdl_op_definition
class CastOp(OnnxOp):
    """``input`` converted to the ONNX data type ``to`` (e.g. 1 = float, 7 = int64)."""

    name = "onnx.Cast"

    input = operand_def(TensorType)
    result = result_def(TensorType)
    to = prop_def(IntegerAttr)
    saturate = prop_def(IntegerAttr, IntegerAttr(1, i64))
    traits = traits_def(Pure())

    @classmethod
    def infer_type(cls, operand_types, attrs, values):
        return TensorType(onnx_element_type(attrs["to"]), operand_types[0].get_shape())

