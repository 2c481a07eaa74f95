"""fpqc's ``onnx`` dialect: one op per ONNX node, with static shapes.

The ONNX importer (:mod:`fpqc.frontend.onnx_import`) produces this dialect;
the ``raise-onnx-to-fpq`` pass lifts recognised subgraphs out of it.  Op names
are the ONNX op types, operand names follow the ONNX input names (``A``, ``B``,
``C`` of Gemm, ``data`` and ``shape`` of Reshape; every unary op calls its
operand ``input``) and ONNX attributes are properties with their ONNX names and defaults: ints are ``i64``
``IntegerAttr`` (lists of ints an ``ArrayAttr`` of them), floats ``f32``
``FloatAttr`` and strings ``StringAttr``.  Properties at their default value
are not printed.  Semantics are those of the default ONNX domain at opset 20.

Every op has one result of static tensor type.  ``infer_type`` computes it
from the operand types, the attribute values and, where the ONNX op needs
them (the ``shape`` of ``Reshape``), the values of constant operands; the
importer uses it to type the ops it builds, and the verifier checks that the
result type is the inferred one.  Broadcasting follows the ONNX (= numpy)
multidirectional rules.

Example::

    %0 = onnx.Constant dense_resource<fc1.weight> : tensor<64x128xf32>
    %1 = onnx.MatMul %x, %0 : (tensor<8x64xf32>, tensor<64x128xf32>) -> tensor<8x128xf32>
    %2 = onnx.Gelu %1 {approximate = "tanh"} : (tensor<8x128xf32>) -> tensor<8x128xf32>
    %3 = onnx.Constant dense<[2, 4, 128]> : tensor<3xi64>
    %4 = onnx.Reshape %2, %3 : (tensor<8x128xf32>, tensor<3xi64>) -> tensor<2x4x128xf32>
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from onnx import helper as onnx_helper
from xdsl.dialects.builtin import (
    ArrayAttr,
    DenseIntOrFPElementsAttr,
    DenseResourceAttr,
    Float32Type,
    FloatAttr,
    IntegerAttr,
    StringAttr,
    TensorType,
    i64,
)
from xdsl.ir import Attribute, Dialect, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    ParsePropInAttrDict,
    irdl_op_definition,
    operand_def,
    opt_operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
)
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.traits import ConstantLike, Pure
from xdsl.utils.exceptions import VerifyException

from fpqc.errors import FpqcError
from fpqc.ir_types import element_type_of
from fpqc.weights import resolve

Shape = tuple[int, ...]


class InferenceError(Exception):
    """The operands of an op do not fit together (e.g. shapes that do not broadcast)."""


def _i64(value: int) -> IntegerAttr:
    return IntegerAttr(value, i64)


def _f32(value: float) -> FloatAttr:
    return FloatAttr(value, Float32Type())


def broadcast_shapes(*shapes: Shape) -> Shape:
    """The ONNX multidirectional broadcast of ``shapes`` (numpy's rules)."""
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise InferenceError(
            f"shapes {' and '.join(str(list(s)) for s in shapes)} do not broadcast"
        ) from None


def attribute_value(attr: Attribute) -> Any:
    """The Python value of an ONNX attribute property (int, float, str or list of ints)."""
    if isinstance(attr, IntegerAttr):
        return attr.value.data
    if isinstance(attr, FloatAttr):
        return attr.value.data
    if isinstance(attr, StringAttr):
        return attr.data
    if isinstance(attr, ArrayAttr):
        return [attribute_value(a) for a in attr.data]
    raise TypeError(f"no Python value for attribute {attr}")


def _constant_value(value: SSAValue) -> np.ndarray | None:
    """The value of ``value`` if an ``onnx.Constant`` whose data is at hand produces it."""
    op = value.owner
    if not isinstance(op, ConstantOp):
        return None
    try:
        return resolve(op.value)
    except FpqcError:
        return None


class OnnxOp(IRDLOperation):
    """Base of the ops of one ONNX node: one result, whose type ``infer_type`` gives."""

    # The assembly format shared by all ops with operands.
    assembly_format = "operands attr-dict `:` functional-type(operands, results)"
    irdl_options = (ParsePropInAttrDict(),)

    @classmethod
    def attribute_values(cls, properties: Mapping[str, Attribute]) -> dict[str, Any]:
        """The op's ONNX attributes as Python values, defaults filled in (None if absent)."""
        values: dict[str, Any] = {}
        for name, prop in cls.get_irdl_definition().properties.items():
            attr = properties.get(name, prop.default_value)
            values[name] = None if attr is None else attribute_value(attr)
        return values

    @classmethod
    def infer_type(
        cls,
        operand_types: Sequence[TensorType],
        attrs: Mapping[str, Any],
        values: Sequence[np.ndarray | None],
    ) -> TensorType | None:
        """The result type; ``values`` holds the constant operands' values (or None).

        Returns None when it depends on an operand value that is not known.
        Raises :class:`InferenceError` when the operands do not fit together.
        """
        raise TypeError(f"{cls.name} defines no infer_type")

    @classmethod
    def make(cls, operands: Sequence[SSAValue], properties: Mapping[str, Attribute] = {}) -> OnnxOp:
        """The op on ``operands`` (trailing optional ones may be left out), typed by inference.

        Constant operands are read from inline values or the active weight store.
        Raises :class:`InferenceError` when the operands do not fit together.
        """
        operand_types = [o.type for o in operands]
        if not all(isinstance(t, TensorType) for t in operand_types):
            raise InferenceError(f"operands must be tensors, got {', '.join(map(str, operand_types))}")
        result_type = cls.infer_type(
            operand_types, cls.attribute_values(properties), [_constant_value(o) for o in operands]
        )
        if result_type is None:
            raise InferenceError("the result shape depends on an operand that is not a constant")
        definition = cls.get_irdl_definition()
        arguments: list[SSAValue | None] = list(operands)
        arguments += [None] * (len(definition.operands) - len(arguments))
        ordered = {name: properties[name] for name in definition.properties if name in properties}
        return cls.build(operands=arguments, result_types=[result_type], properties=ordered)

    def verify_(self) -> None:
        operand_types = []
        for index, operand in enumerate(self.operands):
            if not isinstance(operand.type, TensorType):
                raise VerifyException(f"{self.name}: operand {index} must be a tensor, got {operand.type}")
            operand_types.append(operand.type)
        try:
            expected = self.infer_type(
                operand_types,
                self.attribute_values(self.properties),
                [_constant_value(o) for o in self.operands],
            )
        except InferenceError as e:
            raise VerifyException(f"{self.name}: {e}") from None
        actual = self.results[0].type
        if expected is not None and actual != expected:
            raise VerifyException(
                f"{self.name}: result type {actual} does not match the inferred type {expected}"
            )


def _same_type(types: Sequence[TensorType]) -> Attribute:
    element = types[0].get_element_type()
    for t in types[1:]:
        if t.get_element_type() != element:
            raise InferenceError(
                f"operand element types {' and '.join(str(t.get_element_type()) for t in types)} differ"
            )
    return element


# ---------------------------------------------------------------------------
# Elementwise
# ---------------------------------------------------------------------------


class _BinaryOp(OnnxOp):
    """``A op B`` with multidirectional broadcasting; both operands of one element type."""

    A = operand_def(TensorType)
    B = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())

    @classmethod
    def infer_type(cls, operand_types, attrs, values):
        element = _same_type(operand_types)
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


# ---------------------------------------------------------------------------
# Linear algebra
# ---------------------------------------------------------------------------


def matmul_shape(a: Shape, b: Shape) -> Shape:
    """numpy ``matmul`` shape rules (1-D operands promoted, batch dims broadcast)."""
    if not a or not b:
        raise InferenceError("MatMul operands must have rank >= 1")
    a2 = (1, *a) if len(a) == 1 else a
    b2 = (*b, 1) if len(b) == 1 else b
    if a2[-1] != b2[-2]:
        raise InferenceError(f"inner dimensions of {list(a)} and {list(b)} differ")
    batch = broadcast_shapes(a2[:-2], b2[:-2])
    return batch + (a2[-2],) * (len(a) > 1) + (b2[-1],) * (len(b) > 1)


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
        element = _same_type(operand_types)
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
    alpha = prop_def(FloatAttr, _f32(1.0))
    beta = prop_def(FloatAttr, _f32(1.0))
    transA = prop_def(IntegerAttr, _i64(0))
    transB = prop_def(IntegerAttr, _i64(0))
    traits = traits_def(Pure())

    @classmethod
    def infer_type(cls, operand_types, attrs, values):
        element = _same_type(operand_types)
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


# ---------------------------------------------------------------------------
# Shapes and types
# ---------------------------------------------------------------------------


def reshape_shape(data: Shape, shape: Sequence[int], allowzero: int) -> Shape:
    """ONNX ``Reshape``: 0 copies the input dim (unless ``allowzero``), -1 is inferred."""
    dims = [int(d) for d in shape]
    if not allowzero:
        for i, d in enumerate(dims):
            if d == 0:
                if i >= len(data):
                    raise InferenceError(f"shape {dims} copies dim {i} of a rank-{len(data)} tensor")
                dims[i] = data[i]
    size = int(np.prod(data, dtype=np.int64))
    if dims.count(-1) > 1 or any(d < -1 for d in dims):
        raise InferenceError(f"invalid shape {dims}")
    if -1 in dims:
        known = int(np.prod([d for d in dims if d != -1], dtype=np.int64))
        if known == 0 or size % known:
            raise InferenceError(f"cannot reshape {list(data)} to {dims}")
        dims[dims.index(-1)] = size // known
    if int(np.prod(dims, dtype=np.int64)) != size:
        raise InferenceError(f"cannot reshape {list(data)} ({size} elements) to {dims}")
    return tuple(dims)


@irdl_op_definition
class ReshapeOp(OnnxOp):
    """``data`` with the dims in the int64 tensor ``shape`` (a constant after import)."""

    name = "onnx.Reshape"

    data = operand_def(TensorType)
    shape = operand_def(TensorType)
    result = result_def(TensorType)
    allowzero = prop_def(IntegerAttr, _i64(0))
    traits = traits_def(Pure())

    @classmethod
    def infer_type(cls, operand_types, attrs, values):
        data, shape = operand_types
        if shape.get_element_type() != i64 or len(shape.get_shape()) != 1:
            raise InferenceError(f"shape must be a 1-D tensor of i64, got {shape}")
        if values[1] is None:
            return None
        return TensorType(data.get_element_type(), reshape_shape(data.get_shape(), values[1], attrs["allowzero"]))

    def verify_(self) -> None:
        super().verify_()
        data = self.data.type
        result = self.result.type
        assert isinstance(data, TensorType) and isinstance(result, TensorType)
        if data.get_element_type() != result.get_element_type() or data.element_count() != result.element_count():
            raise VerifyException(f"{self.name}: cannot reshape {data} to {result}")


@irdl_op_definition
class TransposeOp(OnnxOp):
    """``data`` with its axes permuted by ``perm`` (reversed when absent)."""

    name = "onnx.Transpose"

    data = operand_def(TensorType)
    result = result_def(TensorType)
    perm = opt_prop_def(ArrayAttr[IntegerAttr])
    traits = traits_def(Pure())

    @classmethod
    def infer_type(cls, operand_types, attrs, values):
        shape = operand_types[0].get_shape()
        perm = attrs["perm"] if attrs["perm"] is not None else list(range(len(shape)))[::-1]
        if sorted(perm) != list(range(len(shape))):
            raise InferenceError(f"perm {perm} is not a permutation of the {len(shape)} axes")
        return TensorType(operand_types[0].get_element_type(), [shape[p] for p in perm])


def onnx_element_type(onnx_dtype: int) -> Attribute:
    """The element type of the ONNX ``TensorProto.DataType`` code ``onnx_dtype``."""
    try:
        dtype = onnx_helper.tensor_dtype_to_np_dtype(onnx_dtype)
    except KeyError:
        raise InferenceError(f"unknown ONNX data type {onnx_dtype}") from None
    try:
        return element_type_of(dtype)
    except FpqcError as e:
        raise InferenceError(str(e)) from None


@irdl_op_definition
class CastOp(OnnxOp):
    """``input`` converted to the ONNX data type ``to`` (e.g. 1 = float, 7 = int64)."""

    name = "onnx.Cast"

    input = operand_def(TensorType)
    result = result_def(TensorType)
    to = prop_def(IntegerAttr)
    saturate = prop_def(IntegerAttr, _i64(1))
    traits = traits_def(Pure())

    @classmethod
    def infer_type(cls, operand_types, attrs, values):
        return TensorType(onnx_element_type(attrs["to"]), operand_types[0].get_shape())


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


ONNX_OPS: dict[str, type[OnnxOp]] = {
    op.name.removeprefix("onnx."): op
    for op in (
        AddOp,
        CastOp,
        ConstantOp,
        DivOp,
        ErfOp,
        GeluOp,
        GemmOp,
        IdentityOp,
        MatMulOp,
        MulOp,
        PowOp,
        ReluOp,
        ReshapeOp,
        SigmoidOp,
        SqrtOp,
        SubOp,
        TanhOp,
        TransposeOp,
    )
}
"""The op class of each supported ONNX op type."""

Onnx = Dialect("onnx", list(ONNX_OPS.values()), [])
