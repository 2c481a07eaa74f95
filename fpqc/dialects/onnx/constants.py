"""``onnx`` ops that make tensors from values: constants, filled tensors, ranges, random numbers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from xdsl.dialects.builtin import (
    DenseIntOrFPElementsAttr,
    DenseResourceAttr,
    Float32Type,
    FloatAttr,
    IntegerAttr,
    TensorType,
    f32,
)
from xdsl.ir import Attribute
from xdsl.irdl import (
    irdl_op_definition,
    operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
)
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.traits import ConstantLike, Pure
from xdsl.utils.exceptions import VerifyException

from fpqc.dialects.onnx.base import (
    OnnxOp,
    check_i64_vector,
    constant_ints,
    same_element_type,
)
from fpqc.dialects.onnx.shape_inference import (
    InferenceError,
    onnx_element_type,
    range_length,
)
from fpqc.dialects.tensor_types import element_type_of


@irdl_op_definition
class ConstantOp(OnnxOp):
    """A tensor: inline ``dense<...>`` or a weight-store ``dense_resource<key>``.

    Printed as ``%0 = onnx.Constant dense<[2, 4, 128]> : tensor<3xi64>``.
    """

    name = "onnx.Constant"

    value = prop_def(DenseIntOrFPElementsAttr | DenseResourceAttr)
    result = result_def(TensorType)
    traits = traits_def(ConstantLike(), Pure())

    assembly_format: ClassVar[str | None] = None

    def __init__(self, value: DenseIntOrFPElementsAttr | DenseResourceAttr):
        super().__init__(properties={"value": value}, result_types=[value.get_type()])

    def print(self, printer: Printer) -> None:
        printer.print_string(" ")
        printer.print_attribute(self.value)
        printer.print_op_attributes(self.attributes)

    @classmethod
    def parse(cls, parser: Parser) -> ConstantOp:
        pos = parser.pos
        value = parser.parse_attribute()
        if not isinstance(value, DenseIntOrFPElementsAttr | DenseResourceAttr):
            parser.raise_error("onnx.Constant expects a dense<...> or dense_resource<...> value", pos)
        op = cls(value)
        if attrs := parser.parse_optional_attr_dict():
            op.attributes.update(attrs)
        return op

    @classmethod
    def attribute_values(cls, properties: Mapping[str, Attribute]) -> dict[str, Any]:
        return {}

    @classmethod
    def infer_type(cls, operand_types, attrs, values):
        return None

    def verify_(self) -> None:
        if self.result.type != self.value.get_type():
            raise VerifyException(
                f"{self.name}: result type {self.result.type} does not match the value's type {self.value.get_type()}"
            )


@irdl_op_definition
class ConstantOfShapeOp(OnnxOp):
    """A tensor of the dims in ``input`` filled with ``value`` (a one-element tensor; 0.0 f32 by default)."""

    name = "onnx.ConstantOfShape"

    input = operand_def(TensorType)
    result = result_def(TensorType)
    value = opt_prop_def(DenseIntOrFPElementsAttr)
    traits = traits_def(Pure())

    @classmethod
    def infer_type(cls, operand_types, attrs, values):
        check_i64_vector(operand_types[0], "input")
        dims = constant_ints(values, 0)
        if dims is None:
            return None
        fill = attrs["value"]
        if fill is not None and fill.size != 1:
            raise InferenceError(f"value must hold one element, got {fill.size}")
        element = Float32Type() if fill is None else element_type_of(fill.dtype)
        return TensorType(element, dims)


@irdl_op_definition
class RangeOp(OnnxOp):
    """``start, start + delta, ...`` up to (excluding) ``limit``; three scalars of one type."""

    name = "onnx.Range"

    start = operand_def(TensorType)
    limit = operand_def(TensorType)
    delta = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())

    @classmethod
    def infer_type(cls, operand_types, attrs, values):
        element = same_element_type(operand_types)
        if any(t.get_shape() != () for t in operand_types):
            raise InferenceError("start, limit and delta must be scalars")
        if any(v is None for v in values):
            return None
        start, limit, delta = (v.item() for v in values)
        return TensorType(element, [range_length(start, limit, delta)])


@irdl_op_definition
class RandomUniformLikeOp(OnnxOp):
    """Uniform random numbers in ``[low, high)`` shaped like ``input`` (nondeterministic).

    Only the importer's class-dropout fold consumes it; no interpreter
    implementation exists and an imported model never contains it.
    """

    name = "onnx.RandomUniformLike"

    input = operand_def(TensorType)
    result = result_def(TensorType)
    dtype = opt_prop_def(IntegerAttr)
    high = prop_def(FloatAttr, FloatAttr(1.0, f32))
    low = prop_def(FloatAttr, FloatAttr(0.0, f32))
    seed = opt_prop_def(FloatAttr)

    @classmethod
    def infer_type(cls, operand_types, attrs, values):
        x = operand_types[0]
        element = x.get_element_type() if attrs["dtype"] is None else onnx_element_type(attrs["dtype"])
        return TensorType(element, x.get_shape())

