"""The base class of the ``onnx`` ops, and the operand checks their type inference shares."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

import numpy as np
from xdsl.dialects.builtin import (
    ArrayAttr,
    DenseIntOrFPElementsAttr,
    FloatAttr,
    IntegerAttr,
    StringAttr,
    TensorType,
    i64,
)
from xdsl.ir import Attribute, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    OptOperandDef,
    ParsePropInAttrDict,
    VarOperandDef,
    VarResultDef,
)
from xdsl.traits import ConstantLike
from xdsl.utils.exceptions import VerifyException

from fpqc.dialects.onnx.shape_inference import InferenceError
from fpqc.dialects.tensor_types import element_type_to_dtype


def dense_array(attr: DenseIntOrFPElementsAttr) -> np.ndarray:
    """The numpy value of an inline ``dense<...>`` attribute."""
    tensor_type = attr.get_type()
    dtype = element_type_to_dtype(tensor_type.get_element_type())
    values = np.array(attr.get_values(), dtype=dtype)
    return values.reshape(tensor_type.get_shape())


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
        return dense_array(attr)
    raise TypeError(f"no Python value for attribute {attr}")


def inline_constant_value(value: SSAValue) -> np.ndarray | None:
    """The value of ``value`` if an ``onnx.Constant`` with an inline ``dense<...>`` produces it.

    The dialect does not read the weight store: the value of a ``dense_resource``
    constant is known only to a caller that holds it (see :meth:`OnnxOp.make`).
    """
    op = value.owner
    if isinstance(op, OnnxOp) and op.has_trait(ConstantLike):
        attr = op.properties["value"]
        if isinstance(attr, DenseIntOrFPElementsAttr):
            return dense_array(attr)
    return None


class OperandKind(Enum):
    """How many values an operand definition takes in ONNX's positional input list."""

    REQUIRED = "required"
    OPTIONAL = "optional"
    VARIADIC = "variadic"


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
    def operand_kinds(cls) -> list[tuple[str, OperandKind]]:
        """Each operand definition's name and kind, in ONNX's input order."""
        kinds: list[tuple[str, OperandKind]] = []
        for name, definition in cls.get_irdl_definition().operands:
            if isinstance(definition, OptOperandDef):
                kinds.append((name, OperandKind.OPTIONAL))
            elif isinstance(definition, VarOperandDef):
                kinds.append((name, OperandKind.VARIADIC))
            else:
                kinds.append((name, OperandKind.REQUIRED))
        return kinds

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
    def make(
        cls,
        operands: Sequence[SSAValue | None],
        properties: Mapping[str, Attribute] = {},
        values: Sequence[np.ndarray | None] | None = None,
    ) -> OnnxOp:
        """The op on positional ``operands`` (see the class docstring), typed by inference.

        ``values`` holds the values of constant operands, positionally; by default
        those of inline ``onnx.Constant`` operands are read from the IR.
        Raises :class:`InferenceError` when the operands do not fit together.
        """
        operand_types = [None if o is None else o.type for o in operands]
        if not all(t is None or isinstance(t, TensorType) for t in operand_types):
            raise InferenceError(f"operands must be tensors, got {', '.join(map(str, operand_types))}")
        if values is None:
            values = [None if o is None else inline_constant_value(o) for o in operands]
        result_types = cls.infer_types(operand_types, cls.attribute_values(properties), values)
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
        for name, kind in self.operand_kinds():
            value = getattr(self, name)
            if kind is OperandKind.VARIADIC:
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
                [None if o is None else inline_constant_value(o) for o in operands],
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
    for name, kind in cls.operand_kinds():
        if kind is OperandKind.OPTIONAL:
            value = rest.pop(0) if rest else None
            grouped.append([] if value is None else [value])
        elif kind is OperandKind.VARIADIC:
            grouped.append(rest)
            rest = []
        else:
            if not rest or rest[0] is None:
                raise InferenceError(f"required operand '{name}' is missing")
            grouped.append(rest.pop(0))
    if rest:
        raise InferenceError(f"{len(rest)} operands too many")
    return grouped


def same_element_type(types: Sequence[TensorType]) -> Attribute:
    """The element type all of ``types`` share."""
    element = types[0].get_element_type()
    for t in types[1:]:
        if t.get_element_type() != element:
            raise InferenceError(
                f"operand element types {' and '.join(str(t.get_element_type()) for t in types)} differ"
            )
    return element


def constant_ints(values: Sequence[np.ndarray | None], index: int) -> list[int] | None:
    """The constant integer operand ``index`` as a list, or None when not known."""
    value = values[index] if index < len(values) else None
    return None if value is None else [int(v) for v in np.asarray(value).reshape(-1)]


def check_i64_vector(t: TensorType | None, name: str) -> None:
    """``t`` (when present) is a 1-D tensor of i64, as ONNX's shape-like inputs are."""
    if t is not None and (t.get_element_type() != i64 or len(t.get_shape()) != 1):
        raise InferenceError(f"{name} must be a 1-D tensor of i64, got {t}")
