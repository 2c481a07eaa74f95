"""fpqc's ``onnx`` dialect: one op per ONNX node, with static shapes.

The ONNX importer (:mod:`fpqc.frontend.onnx_import`) produces this dialect;
the ``raise-onnx-to-fpq`` pass lifts recognised subgraphs out of it.  Op names
are the ONNX op types, operand names follow the ONNX input names (``A``, ``B``,
``C`` of Gemm, ``data`` and ``shape`` of Reshape; every unary op calls its
operand ``input``) and ONNX attributes are properties with their ONNX names and defaults: ints are ``i64``
``IntegerAttr`` (lists of ints an ``ArrayAttr`` of them), floats ``f32``
``FloatAttr`` and strings ``StringAttr``.  Properties at their default value
are not printed.  Semantics are those of the default ONNX domain at opset 20.

Every op has one result of static tensor type, except ``Split``, which has
one per piece.  ``infer_type`` (``infer_types`` for ``Split``) computes it
from the operand types, the attribute values and, where the ONNX op needs
them (the ``shape`` of ``Reshape``), the values of constant operands; the
importer uses it to type the ops it builds, and the verifier checks that the
result type is the inferred one.  Broadcasting follows the ONNX (= numpy)
multidirectional rules.

Operands are positional as in ONNX.  An absent optional input in the middle
(``Clip(x, "", max)``) is named in the text form by the keyword of each
optional operand that is present: ``onnx.Clip %x max %m : tensor<4xf32>
max tensor<f32> -> tensor<4xf32>`` (``Clip`` and ``Slice`` print this way).
Ops with a variable number of inputs (``Concat``, ``Max``, ``Min``) take
them as one variadic operand.  ``LayerNormalization`` has only its ``Y``
result: the importer rejects a model that uses its ``Mean`` or
``InvStdDev`` outputs.  ``RandomUniformLike`` is part of the dialect only so
that the importer can recognise (and remove) the training-time class dropout
of VAR; it has no interpreter implementation.

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
    IntegerType,
    StringAttr,
    TensorType,
    i1,
    i64,
)
from xdsl.ir import Attribute, Dialect, SSAValue
from xdsl.irdl import (
    AttrSizedOperandSegments,
    IRDLOperation,
    OptOperandDef,
    ParsePropInAttrDict,
    VarOperandDef,
    VarResultDef,
    irdl_op_definition,
    operand_def,
    opt_operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.traits import ConstantLike, Pure
from xdsl.utils.exceptions import VerifyException

from fpqc.errors import FpqcError
from fpqc.dialects.tensor_types import UnsupportedElementType, element_type_of
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
    """The Python value of an ONNX attribute property (int, float, str, list of ints or tensor)."""
    if isinstance(attr, IntegerAttr):
        return attr.value.data
    if isinstance(attr, FloatAttr):
        return attr.value.data
    if isinstance(attr, StringAttr):
        return attr.data
    if isinstance(attr, ArrayAttr):
        return [attribute_value(a) for a in attr.data]
    if isinstance(attr, DenseIntOrFPElementsAttr):
        return resolve(attr)
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
    """Base of the ops of one ONNX node; ``infer_types`` gives the result types.

    Operand lists are *positional*: ``None`` stands for an absent optional
    input before a present one, trailing absent inputs are left out, and a
    variadic operand contributes all its values.
    """

    # The assembly format shared by all ops with operands.
    assembly_format = "operands attr-dict `:` functional-type(operands, results)"
    irdl_options = (ParsePropInAttrDict(),)

    @classmethod
    def attribute_values(cls, properties: Mapping[str, Attribute]) -> dict[str, Any]:
        """The op's ONNX attributes as Python values, defaults filled in (None if absent)."""
        values: dict[str, Any] = {}
        for name, prop in cls.get_irdl_definition().properties.items():
            if name == "operandSegmentSizes":
                continue
            attr = properties.get(name, prop.default_value)
            values[name] = None if attr is None else attribute_value(attr)
        return values

    @classmethod
    def infer_type(
        cls,
        operand_types: Sequence[TensorType | None],
        attrs: Mapping[str, Any],
        values: Sequence[np.ndarray | None],
    ) -> TensorType | None:
        """The result type; ``values`` holds the constant operands' values (or None).

        Returns None when it depends on an operand value that is not known.
        Raises :class:`InferenceError` when the operands do not fit together.
        """
        raise TypeError(f"{cls.name} defines no infer_type")

    @classmethod
    def infer_types(
        cls,
        operand_types: Sequence[TensorType | None],
        attrs: Mapping[str, Any],
        values: Sequence[np.ndarray | None],
    ) -> list[TensorType] | None:
        """The types of all results (one for every op but ``Split``); see :meth:`infer_type`."""
        result = cls.infer_type(operand_types, attrs, values)
        return None if result is None else [result]

    @classmethod
    def make(cls, operands: Sequence[SSAValue | None], properties: Mapping[str, Attribute] = {}) -> OnnxOp:
        """The op on positional ``operands`` (see the class docstring), typed by inference.

        Constant operands are read from inline values or the active weight store.
        Raises :class:`InferenceError` when the operands do not fit together.
        """
        operand_types = [None if o is None else o.type for o in operands]
        if not all(t is None or isinstance(t, TensorType) for t in operand_types):
            raise InferenceError(f"operands must be tensors, got {', '.join(map(str, operand_types))}")
        result_types = cls.infer_types(
            operand_types,
            cls.attribute_values(properties),
            [None if o is None else _constant_value(o) for o in operands],
        )
        if result_types is None:
            raise InferenceError("the result shape depends on an operand that is not a constant")
        definition = cls.get_irdl_definition()
        ordered = {name: properties[name] for name in definition.properties if name in properties}
        variadic = isinstance(definition.results[0][1], VarResultDef)
        results: list[Any] = [result_types] if variadic else result_types
        return cls.build(operands=_group_operands(cls, operands), result_types=results, properties=ordered)

    def positional_operands(self) -> list[SSAValue | None]:
        """The operands as ONNX lists them (see the class docstring)."""
        flat: list[SSAValue | None] = []
        for name, definition in self.get_irdl_definition().operands:
            value = getattr(self, name)
            if isinstance(definition, OptOperandDef):
                flat.append(value)
            elif isinstance(definition, VarOperandDef):
                flat.extend(value)
            else:
                flat.append(value)
        while flat and flat[-1] is None:
            flat.pop()
        return flat

    def verify_(self) -> None:
        operands = self.positional_operands()
        for index, operand in enumerate(operands):
            if operand is not None and not isinstance(operand.type, TensorType):
                raise VerifyException(f"{self.name}: operand {index} must be a tensor, got {operand.type}")
        try:
            expected = self.infer_types(
                [None if o is None else o.type for o in operands],
                self.attribute_values(self.properties),
                [None if o is None else _constant_value(o) for o in operands],
            )
        except InferenceError as e:
            raise VerifyException(f"{self.name}: {e}") from None
        if expected is None:
            return
        actual = [r.type for r in self.results]
        if len(actual) != len(expected):
            raise VerifyException(f"{self.name}: {len(actual)} results, but the operands give {len(expected)}")
        for result, inferred in zip(actual, expected):
            if result != inferred:
                raise VerifyException(
                    f"{self.name}: result type {result} does not match the inferred type {inferred}"
                )


def _group_operands(cls: type[OnnxOp], operands: Sequence[SSAValue | None]) -> list[Any]:
    """``operands`` (positional) grouped as ``cls.build`` takes them, one entry per definition."""
    grouped: list[Any] = []
    rest = list(operands)
    for name, definition in cls.get_irdl_definition().operands:
        if isinstance(definition, OptOperandDef):
            value = rest.pop(0) if rest else None
            grouped.append([] if value is None else [value])
        elif isinstance(definition, VarOperandDef):
            grouped.append(rest)
            rest = []
        else:
            if not rest or rest[0] is None:
                raise InferenceError(f"required operand '{name}' is missing")
            grouped.append(rest.pop(0))
    if rest:
        raise InferenceError(f"{len(rest)} operands too many")
    return grouped


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
    except UnsupportedElementType as e:
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


# ---------------------------------------------------------------------------
# More elementwise: unary, comparisons, selection, clipping, n-ary max/min
# ---------------------------------------------------------------------------


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


class _CompareOp(_BinaryOp):
    """``A cmp B`` with broadcasting; a boolean (``i1``) result."""

    @classmethod
    def infer_type(cls, operand_types, attrs, values):
        _same_type(operand_types)
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
        element = _same_type([x, y])
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
                _same_type([operand_types[0], bound])
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
        element = _same_type(operand_types)
        return TensorType(element, broadcast_shapes(*(t.get_shape() for t in operand_types)))


@irdl_op_definition
class MaxOp(_VariadicOp):
    name = "onnx.Max"


@irdl_op_definition
class MinOp(_VariadicOp):
    name = "onnx.Min"


# ---------------------------------------------------------------------------
# Reductions and normalizations
# ---------------------------------------------------------------------------


def normalize_axis(axis: int, rank: int) -> int:
    """``axis`` in ``[0, rank)``, counting negative values from the back."""
    if not -rank <= axis < rank:
        raise InferenceError(f"axis {axis} is out of range for rank {rank}")
    return axis % rank


def reduced_axes(rank: int, axes: Sequence[int] | None, noop_with_empty_axes: int) -> tuple[int, ...]:
    """The axes a Reduce* op reduces: all when ``axes`` is empty (unless ``noop_with_empty_axes``)."""
    if axes is None or len(axes) == 0:
        return () if noop_with_empty_axes else tuple(range(rank))
    normalized = tuple(sorted(normalize_axis(int(a), rank) for a in axes))
    if len(set(normalized)) != len(normalized):
        raise InferenceError(f"axes {list(axes)} repeat an axis")
    return normalized


class _ReduceOp(OnnxOp):
    """A reduction of ``data`` over ``axes`` (an optional i64 input, opset 18)."""

    data = operand_def(TensorType)
    axes = opt_operand_def(TensorType)
    result = result_def(TensorType)
    keepdims = prop_def(IntegerAttr, _i64(1))
    noop_with_empty_axes = prop_def(IntegerAttr, _i64(0))
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
    axis = prop_def(IntegerAttr, _i64(-1))
    epsilon = prop_def(FloatAttr, _f32(1e-5))
    stash_type = prop_def(IntegerAttr, _i64(1))
    traits = traits_def(Pure())

    @classmethod
    def infer_type(cls, operand_types, attrs, values):
        x = operand_types[0]
        shape = x.get_shape()
        normalized = shape[normalize_axis(attrs["axis"], len(shape)):]
        for name, t in zip(("Scale", "B"), operand_types[1:]):
            _same_type([x, t])
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
    axis = prop_def(IntegerAttr, _i64(-1))
    traits = traits_def(Pure())

    @classmethod
    def infer_type(cls, operand_types, attrs, values):
        normalize_axis(attrs["axis"], len(operand_types[0].get_shape()))
        return operand_types[0]


# ---------------------------------------------------------------------------
# Shape manipulation
# ---------------------------------------------------------------------------


def _ints(values: Sequence[np.ndarray | None], index: int) -> list[int] | None:
    """The constant integer operand ``index`` as a list, or None when not known."""
    value = values[index] if index < len(values) else None
    return None if value is None else [int(v) for v in np.asarray(value).reshape(-1)]


def _i64_vector(t: TensorType | None, name: str) -> None:
    if t is not None and (t.get_element_type() != i64 or len(t.get_shape()) != 1):
        raise InferenceError(f"{name} must be a 1-D tensor of i64, got {t}")


@irdl_op_definition
class SqueezeOp(OnnxOp):
    """``data`` without the unit dims in ``axes`` (all unit dims when absent)."""

    name = "onnx.Squeeze"

    data = operand_def(TensorType)
    axes = opt_operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())

    @classmethod
    def infer_type(cls, operand_types, attrs, values):
        shape = operand_types[0].get_shape()
        if len(operand_types) > 1:
            _i64_vector(operand_types[1], "axes")
            axes = _ints(values, 1)
            if axes is None:
                return None
            axes = {normalize_axis(a, len(shape)) for a in axes}
            for a in axes:
                if shape[a] != 1:
                    raise InferenceError(f"cannot squeeze axis {a} of size {shape[a]}")
        else:
            axes = {i for i, d in enumerate(shape) if d == 1}
        return TensorType(operand_types[0].get_element_type(), [d for i, d in enumerate(shape) if i not in axes])


def unsqueeze_shape(shape: Shape, axes: Sequence[int]) -> Shape:
    """``shape`` with unit dims inserted at ``axes`` (positions in the result)."""
    rank = len(shape) + len(axes)
    positions = {normalize_axis(a, rank) for a in axes}
    if len(positions) != len(axes):
        raise InferenceError(f"axes {list(axes)} repeat an axis")
    rest = iter(shape)
    return tuple(1 if i in positions else next(rest) for i in range(rank))


@irdl_op_definition
class UnsqueezeOp(OnnxOp):
    """``data`` with unit dims inserted at ``axes`` (positions in the result)."""

    name = "onnx.Unsqueeze"

    data = operand_def(TensorType)
    axes = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())

    @classmethod
    def infer_type(cls, operand_types, attrs, values):
        _i64_vector(operand_types[1], "axes")
        axes = _ints(values, 1)
        if axes is None:
            return None
        return TensorType(operand_types[0].get_element_type(), unsqueeze_shape(operand_types[0].get_shape(), axes))


def split_sizes(dim: int, split: Sequence[int] | None, num_outputs: int | None) -> list[int]:
    """The piece sizes of ONNX ``Split``: ``split`` if given, else ``num_outputs`` pieces of
    ``ceil(dim / num_outputs)`` (the last ones smaller when ``dim`` does not divide)."""
    if split is not None:
        if any(s < 0 for s in split) or sum(split) != dim:
            raise InferenceError(f"split sizes {list(split)} do not add up to the dimension {dim}")
        return list(split)
    if num_outputs is None or num_outputs < 1:
        raise InferenceError("Split needs the 'split' input or a positive 'num_outputs'")
    chunk = -(-dim // num_outputs)
    return [max(0, min(chunk, dim - i * chunk)) for i in range(num_outputs)]


@irdl_op_definition
class SplitOp(OnnxOp):
    """``input`` cut along ``axis`` into pieces: sizes from ``split`` or ``num_outputs``.

    The importer fills in ``num_outputs`` for a Split of older opsets that
    gives neither (equal pieces, one per ONNX output).
    """

    name = "onnx.Split"

    input = operand_def(TensorType)
    split = opt_operand_def(TensorType)
    outputs = var_result_def(TensorType)
    axis = prop_def(IntegerAttr, _i64(0))
    num_outputs = opt_prop_def(IntegerAttr)
    traits = traits_def(Pure())

    @classmethod
    def infer_types(cls, operand_types, attrs, values):
        x = operand_types[0]
        shape = x.get_shape()
        axis = normalize_axis(attrs["axis"], len(shape))
        split = None
        if len(operand_types) > 1:
            _i64_vector(operand_types[1], "split")
            split = _ints(values, 1)
            if split is None:
                return None
            if attrs["num_outputs"] is not None:
                raise InferenceError("give either the 'split' input or 'num_outputs', not both")
        sizes = split_sizes(shape[axis], split, attrs["num_outputs"])
        return [TensorType(x.get_element_type(), (*shape[:axis], s, *shape[axis + 1 :])) for s in sizes]


def shape_range(rank: int, start: int | None, end: int | None) -> tuple[int, int]:
    """The ``[start, end)`` dims that ONNX ``Shape`` returns (negative counts from the back, clamped)."""
    def clamp(v: int) -> int:
        return min(max(v + rank if v < 0 else v, 0), rank)

    return clamp(start or 0), clamp(rank if end is None else end)


@irdl_op_definition
class ShapeOp(OnnxOp):
    """The dims ``start..end`` of ``data``'s shape as a 1-D i64 tensor (always a constant after import)."""

    name = "onnx.Shape"

    data = operand_def(TensorType)
    result = result_def(TensorType)
    start = opt_prop_def(IntegerAttr)
    end = opt_prop_def(IntegerAttr)
    traits = traits_def(Pure())

    @classmethod
    def infer_type(cls, operand_types, attrs, values):
        start, end = shape_range(len(operand_types[0].get_shape()), attrs["start"], attrs["end"])
        return TensorType(i64, [max(end - start, 0)])


@irdl_op_definition
class ExpandOp(OnnxOp):
    """``input`` broadcast with the dims in ``shape`` (bidirectionally, as numpy does)."""

    name = "onnx.Expand"

    input = operand_def(TensorType)
    shape = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())

    @classmethod
    def infer_type(cls, operand_types, attrs, values):
        _i64_vector(operand_types[1], "shape")
        dims = _ints(values, 1)
        if dims is None:
            return None
        return TensorType(operand_types[0].get_element_type(), broadcast_shapes(operand_types[0].get_shape(), tuple(dims)))


@irdl_op_definition
class ConcatOp(OnnxOp):
    """The ``inputs`` joined along ``axis``."""

    name = "onnx.Concat"

    inputs = var_operand_def(TensorType)
    result = result_def(TensorType)
    axis = prop_def(IntegerAttr)
    traits = traits_def(Pure())

    @classmethod
    def infer_type(cls, operand_types, attrs, values):
        if not operand_types:
            raise InferenceError("needs at least one operand")
        element = _same_type(operand_types)
        first = operand_types[0].get_shape()
        axis = normalize_axis(attrs["axis"], len(first))
        total = 0
        for t in operand_types:
            shape = t.get_shape()
            if len(shape) != len(first) or shape[:axis] + shape[axis + 1 :] != first[:axis] + first[axis + 1 :]:
                raise InferenceError(
                    f"shapes {' and '.join(str(list(t.get_shape())) for t in operand_types)} "
                    f"do not join along axis {axis}"
                )
            total += shape[axis]
        return TensorType(element, (*first[:axis], total, *first[axis + 1 :]))


@irdl_op_definition
class GatherOp(OnnxOp):
    """Entries of ``data`` along ``axis`` at integer ``indices`` (negative counts from the back)."""

    name = "onnx.Gather"

    data = operand_def(TensorType)
    indices = operand_def(TensorType)
    result = result_def(TensorType)
    axis = prop_def(IntegerAttr, _i64(0))
    traits = traits_def(Pure())

    @classmethod
    def infer_type(cls, operand_types, attrs, values):
        data, indices = operand_types
        if indices.get_element_type() not in (i64, IntegerType(32)):
            raise InferenceError(f"indices must be i32 or i64, got {indices}")
        shape = data.get_shape()
        axis = normalize_axis(attrs["axis"], len(shape))
        return TensorType(data.get_element_type(), (*shape[:axis], *indices.get_shape(), *shape[axis + 1 :]))


def slice_bounds(
    shape: Shape,
    starts: Sequence[int],
    ends: Sequence[int],
    axes: Sequence[int] | None,
    steps: Sequence[int] | None,
) -> list[slice]:
    """One Python ``slice`` per axis of ``shape`` with the ONNX ``Slice`` clamping rules."""
    rank = len(shape)
    axes = list(range(len(starts))) if axes is None else [normalize_axis(a, rank) for a in axes]
    steps = [1] * len(starts) if steps is None else list(steps)
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise InferenceError("starts, ends, axes and steps differ in length")
    if len(set(axes)) != len(axes):
        raise InferenceError(f"axes {axes} repeat an axis")
    bounds = [slice(None)] * rank
    for start, end, axis, step in zip(starts, ends, axes, steps):
        dim = shape[axis]
        if step == 0:
            raise InferenceError("a step of Slice is 0")
        start = start + dim if start < 0 else start
        end = end + dim if end < 0 else end
        if step > 0:
            start, end = min(max(start, 0), dim), min(max(end, 0), dim)
        else:
            start, end = min(max(start, 0), dim - 1), min(max(end, -1), dim - 1)
        bounds[axis] = slice(start, None if end < 0 else end, step)
    return bounds


def _sliced_length(bound: slice, dim: int) -> int:
    if bound == slice(None):
        return dim
    return len(range(bound.start, -1 if bound.stop is None else bound.stop, bound.step))


@irdl_op_definition
class SliceOp(OnnxOp):
    """``data[starts:ends:steps]`` on ``axes`` (all i64 inputs; ``axes``, ``steps`` optional).

    Printed with the keyword of each optional input present::

        %y = onnx.Slice %x, %s, %e axes %a : tensor<4x6xf32>, tensor<1xi64>, tensor<1xi64>
            axes tensor<1xi64> -> tensor<4x2xf32>
    """

    name = "onnx.Slice"

    data = operand_def(TensorType)
    starts = operand_def(TensorType)
    ends = operand_def(TensorType)
    axes = opt_operand_def(TensorType)
    steps = opt_operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    irdl_options = (AttrSizedOperandSegments(as_property=True), ParsePropInAttrDict())
    assembly_format = (
        "$data `,` $starts `,` $ends (`axes` $axes^)? (`steps` $steps^)? attr-dict `:` type($data) `,`"
        " type($starts) `,` type($ends) (`axes` type($axes)^)? (`steps` type($steps)^)? `->` type($result)"
    )

    @classmethod
    def infer_type(cls, operand_types, attrs, values):
        for name, t in zip(("starts", "ends", "axes", "steps"), operand_types[1:]):
            _i64_vector(t, name)
        known = [_ints(values, i) for i in range(1, len(operand_types))]
        present = [t is not None for t in operand_types[1:]]
        if any(p and k is None for p, k in zip(present, known)):
            return None
        known += [None] * (4 - len(known))
        shape = operand_types[0].get_shape()
        bounds = slice_bounds(shape, known[0], known[1], known[2], known[3])
        return TensorType(operand_types[0].get_element_type(), [_sliced_length(b, d) for b, d in zip(bounds, shape)])


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
        _i64_vector(operand_types[0], "input")
        dims = _ints(values, 0)
        if dims is None:
            return None
        fill = attrs["value"]
        if fill is not None and fill.size != 1:
            raise InferenceError(f"value must hold one element, got {fill.size}")
        element = Float32Type() if fill is None else element_type_of(fill.dtype)
        return TensorType(element, dims)


def range_length(start: float, limit: float, delta: float) -> int:
    """The number of elements of ONNX ``Range``: ``max(ceil((limit - start) / delta), 0)``."""
    if delta == 0:
        raise InferenceError("the delta of Range is 0")
    return max(int(np.ceil((limit - start) / delta)), 0)


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
        element = _same_type(operand_types)
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
    high = prop_def(FloatAttr, _f32(1.0))
    low = prop_def(FloatAttr, _f32(0.0))
    seed = opt_prop_def(FloatAttr)

    @classmethod
    def infer_type(cls, operand_types, attrs, values):
        x = operand_types[0]
        element = x.get_element_type() if attrs["dtype"] is None else onnx_element_type(attrs["dtype"])
        return TensorType(element, x.get_shape())


ONNX_OPS: dict[str, type[OnnxOp]] = {
    op.name.removeprefix("onnx."): op
    for op in (
        AddOp,
        CastOp,
        ClipOp,
        ConcatOp,
        ConstantOfShapeOp,
        ConstantOp,
        DivOp,
        EqualOp,
        ErfOp,
        ExpOp,
        ExpandOp,
        GatherOp,
        GeluOp,
        GemmOp,
        GreaterOp,
        IdentityOp,
        LayerNormalizationOp,
        LessOp,
        LogOp,
        MatMulOp,
        MaxOp,
        MinOp,
        MulOp,
        NegOp,
        NotOp,
        PowOp,
        RandomUniformLikeOp,
        RangeOp,
        ReduceL2Op,
        ReduceMeanOp,
        ReduceSumOp,
        ReluOp,
        ReshapeOp,
        ShapeOp,
        SigmoidOp,
        SliceOp,
        SoftmaxOp,
        SplitOp,
        SqrtOp,
        SqueezeOp,
        SubOp,
        TanhOp,
        TransposeOp,
        UnsqueezeOp,
        WhereOp,
    )
}
"""The op class of each supported ONNX op type."""

Onnx = Dialect("onnx", list(ONNX_OPS.values()), [])
