"""An ONNX node's attributes as op properties, and older-opset spellings normalised.

Each function raises ``ValueError`` with a message that names what is wrong;
the importer prefixes the file and the node.
"""

from __future__ import annotations

import numpy as np
from xdsl.dialects.builtin import (
    ArrayAttr,
    Float32Type,
    FloatAttr,
    IntegerAttr,
    StringAttr,
    TensorType,
    i64,
)
from xdsl.ir import Attribute
from xdsl.irdl import OptionalDef, VerificationContext
from xdsl.utils.exceptions import VerifyException

from fpqc.dialects.onnx import InferenceError, OnnxOp, normalize_axis
from fpqc.frontend.onnx_import import onnx_messages as onnx
from fpqc.frontend.onnx_import.loading import first_line
from fpqc.weights import dense_attr

ATTRIBUTE_INPUTS = {"axes", "split"}
"""Attributes of older opsets that later opsets made inputs of the same name."""


def attribute_property(attr: onnx.AttributeProto) -> Attribute:
    """The property for an ONNX attribute (a one-tensor attribute becomes ``dense<...>``)."""
    kind = attr.type
    if kind == onnx.AttributeProto.INT:
        return IntegerAttr(attr.i, i64)
    if kind == onnx.AttributeProto.FLOAT:
        return FloatAttr(attr.f, Float32Type())
    if kind == onnx.AttributeProto.STRING:
        return StringAttr(attr.s.decode())
    if kind == onnx.AttributeProto.INTS:
        return ArrayAttr([IntegerAttr(v, i64) for v in attr.ints])
    if kind == onnx.AttributeProto.TENSOR:
        return dense_attr(onnx.to_array(attr.t))
    raise ValueError(f"attributes of type {onnx.AttributeProto.AttributeType.Name(kind)} are not supported")


def constant_node_value(node: onnx.NodeProto) -> np.ndarray:
    """The tensor an ONNX ``Constant`` node holds, whichever attribute carries it."""
    if len(node.attribute) != 1:
        raise ValueError("a Constant node needs exactly one value attribute")
    attr = node.attribute[0]
    value = onnx.attribute_value(attr)
    if attr.name == "value":
        return onnx.to_array(value)
    if attr.name in ("value_float", "value_floats"):
        return np.array(value, dtype=np.float32)
    if attr.name in ("value_int", "value_ints"):
        return np.array(value, dtype=np.int64)
    raise ValueError(f"Constant attribute '{attr.name}' is not supported")


def node_properties(node: onnx.NodeProto, cls: type[OnnxOp]) -> tuple[dict[str, Attribute], dict[str, np.ndarray]]:
    """The node's attributes as properties of ``cls``, and older-opset attributes that are now inputs."""
    definitions = cls.get_irdl_definition().properties
    operand_names = {name for name, _ in cls.get_irdl_definition().operands}
    properties: dict[str, Attribute] = {}
    attribute_inputs: dict[str, np.ndarray] = {}
    for attr in node.attribute:
        if attr.name in ATTRIBUTE_INPUTS and attr.name in operand_names and attr.type == onnx.AttributeProto.INTS:
            attribute_inputs[attr.name] = np.array(attr.ints, dtype=np.int64)
            continue
        if attr.name not in definitions or attr.name == "operandSegmentSizes":
            raise ValueError(f"attribute '{attr.name}' is not supported")
        try:
            value = attribute_property(attr)
            definitions[attr.name].constr.verify(value, VerificationContext())
        except (ValueError, VerifyException) as e:
            raise ValueError(f"attribute '{attr.name}': {first_line(e)}") from None
        properties[attr.name] = value
    for name, definition in definitions.items():
        if name == "operandSegmentSizes":
            continue
        if name not in properties and definition.default_value is None and not isinstance(definition, OptionalDef):
            raise ValueError(f"required attribute '{name}' is missing")
    return properties, attribute_inputs


def old_softmax_axis(node: onnx.NodeProto, operand_type: TensorType, opset: int) -> IntegerAttr:
    """Softmax before opset 13 (over the flattened axes ``axis..``), as an opset-13 axis."""
    rank = len(operand_type.get_shape())
    axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
    try:
        last = normalize_axis(axis, rank) == rank - 1
    except InferenceError as e:
        raise ValueError(str(e)) from None
    if not last:
        raise ValueError(
            f"Softmax of opset {opset} over the axes {axis}.. of a rank-{rank} tensor is not "
            "supported (only over the last axis); re-export the model with opset 13 or later"
        )
    return IntegerAttr(-1, i64)
