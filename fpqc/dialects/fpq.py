"""The ``fpq`` dialect: float-level model ops and their low-bit quantized forms.

Types and attributes
--------------------

``!fpq.float<e2m1>``
    A low-bit float element type: sign, E exponent and M mantissa bits, a bias
    and a special-value convention (see :mod:`fpqc.numerics`).  Non-default
    parameters are spelled out, e.g. ``!fpq.float<e3m4, bias = 5>`` or
    ``!fpq.float<e4m3, specials = "ieee">``.  Tensors of it hold one uint8
    code per element.
``!fpq.int<4>``
    A two's-complement integer grid, for the INT baselines.
``#fpq.quant<e2m1, group 128>``
    How a tensor is quantized: the element format, the granularity along the
    last (reduction) axis -- ``tensor``, ``token`` (one scale per row of an
    activation), ``channel`` (one scale per output row of a weight) or
    ``group N`` (one scale per N consecutive elements of a row) -- and, when not
    the defaults, ``scale = "e8m0"`` and ``rounding = "ties-up"``.

Float-level ops
---------------

``fpq.constant``, ``fpq.linear`` (y = x·Wᵀ + b, W laid out ``[out, in]``),
``fpq.gelu`` (tanh approximation, computed with fpqc's own fp32 algorithm),
and the pieces of a VAR transformer:

``fpq.embedding`` (table lookup), ``fpq.silu``, ``fpq.layernorm`` (no affine,
fixed reduction order), ``fpq.split`` (AdaLN: the ``ada_lin`` output cut into
its six -- or, before the head, two -- conditioning vectors), ``fpq.modulate``
(``x·(1+scale)+shift``), ``fpq.residual`` (``x + f·gamma``) and
``fpq.attention`` (L2-normalised multi-head attention from the packed qkv to
the proj input, with VAR's block-causal mask as a list of scale boundaries).
AdaLN itself is ``fpq.silu`` → ``fpq.linear {fpq.role = "ada_lin"}`` →
``fpq.split``: the linear stays an ordinary linear layer for the quantizer.

A VAR block raised::

    %s = fpq.silu %cond : tensor<1x64xf32>
    %a = fpq.linear %s, %w_ada, %b_ada {fpq.role = "ada_lin"} : ... -> tensor<1x384xf32>
    %g1, %g2, %sc1, %sc2, %sh1, %sh2 = fpq.split %a : tensor<1x384xf32> -> (tensor<1x1x64xf32>, ...)
    %n1 = fpq.layernorm %x {eps = 1.000000e-06 : f32} : tensor<1x30x64xf32>
    %m1 = fpq.modulate %n1, %sc1, %sh1 : (...) -> tensor<1x30x64xf32>
    %qkv = fpq.linear %m1, %w_qkv, %b_qkv {fpq.role = "mat_qkv"} : ... -> tensor<1x30x192xf32>
    %o = fpq.attention %qkv, %q_scale {num_heads = 4 : i64, eps = 9.999999960e-13 : f32,
        block_causal = array<i64: 0, 1, 5, 14, 30>} : (...) -> tensor<1x30x64xf32>
    %p = fpq.linear %o, %w_proj, %b_proj {fpq.role = "proj"} : ...
    %x1 = fpq.residual %x, %p, %g1 : (...) -> tensor<1x30x64xf32>
    ... layernorm, modulate, fc1, gelu, fc2, residual with %g2

Quantized ops
-------------

``fpq.quantize`` (float tensor → codes + scales, scales computed dynamically
from the data), ``fpq.dequantize`` and ``fpq.qlinear`` (codes × codes with
exact group accumulation and the contract's fp32 combination of scales).

FPQVAR's ops: ``fpq.hadamard`` (the online part of the group-wise Hadamard
transform: a fast Walsh–Hadamard transform per block of the last axis, with
optional random ±1 signs applied first), ``fpq.dual_quantize`` (dual-format
quantization: two code planes and two scale tensors, negatives and
positives on their own grids) and ``fpq.dual_qlinear`` (a linear layer on
them).

Example::

    %c, %s = fpq.quantize %x {quant = #fpq.quant<e2m1, group 128>}
        : tensor<8x256xf32> -> (tensor<8x256x!fpq.float<e2m1>>, tensor<8x2xf32>)
    %y = fpq.qlinear %c, %s, %wc, %ws, %b
        {x_quant = #fpq.quant<e2m1, group 128>, w_quant = #fpq.quant<e2m1, group 128>}
        : (...) -> tensor<8x64xf32>
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import ClassVar

import numpy as np
from xdsl.dialects.builtin import (
    DenseArrayBase,
    DenseIntOrFPElementsAttr,
    DenseResourceAttr,
    Float32Type,
    FloatAttr,
    IntAttr,
    IntegerAttr,
    IntegerType,
    StringAttr,
    TensorType,
    i64,
)
from xdsl.ir import Attribute, Dialect, Operation, ParametrizedAttribute, SSAValue, TypeAttribute
from xdsl.irdl import (
    IRDLOperation,
    ParsePropInAttrDict,
    VarConstraint,
    base,
    irdl_attr_definition,
    irdl_op_definition,
    operand_def,
    opt_operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
    var_result_def,
)
from xdsl.parser import AttrParser, Parser
from xdsl.printer import Printer
from xdsl.traits import ConstantLike, Pure
from xdsl.utils.exceptions import VerifyException

from fpqc.numerics import Format, NumericsError

# ---------------------------------------------------------------------------
# Types
# ---------------------------------------------------------------------------


@irdl_attr_definition
class FloatFormatType(ParametrizedAttribute, TypeAttribute):
    """A low-bit float element type, ``!fpq.float<e2m1>``."""

    name = "fpq.float"

    exponent_bits: IntAttr
    mantissa_bits: IntAttr
    bias: IntAttr
    specials: StringAttr

    @staticmethod
    def from_format(fmt: Format) -> FloatFormatType:
        return FloatFormatType(
            IntAttr(fmt.exponent_bits),
            IntAttr(fmt.mantissa_bits),
            IntAttr(fmt.bias),
            StringAttr(fmt.specials),
        )

    @property
    def format(self) -> Format:
        return _float_format(
            self.exponent_bits.data, self.mantissa_bits.data, self.bias.data, self.specials.data
        )

    def print_parameters(self, printer: Printer) -> None:
        e, m = self.exponent_bits.data, self.mantissa_bits.data
        default = Format.parse(f"e{e}m{m}")
        with printer.in_angle_brackets():
            printer.print_string(f"e{e}m{m}")
            if self.bias.data != default.bias:
                printer.print_string(f", bias = {self.bias.data}")
            if self.specials.data != default.specials:
                printer.print_string(f', specials = "{self.specials.data}"')

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> Sequence[Attribute]:
        with parser.in_angle_brackets():
            pos = parser.pos
            spelling = parser.parse_identifier(" (a float format such as e2m1)")
            fmt = _parse_format_or_error(parser, spelling, pos)
            if fmt.kind != "float":
                parser.raise_error(f"'{spelling}' is not a float format; use !fpq.int<N>", pos)
            bias, specials = fmt.bias, fmt.specials
            while parser.parse_optional_punctuation(",") is not None:
                key = parser.parse_identifier(" (bias or specials)")
                parser.parse_punctuation("=")
                if key == "bias":
                    bias = parser.parse_integer()
                elif key == "specials":
                    specials = parser.parse_str_literal()
                else:
                    parser.raise_error(f"unknown !fpq.float parameter '{key}'")
        checked = _float_format(fmt.exponent_bits, fmt.mantissa_bits, bias, specials)
        return (
            IntAttr(checked.exponent_bits),
            IntAttr(checked.mantissa_bits),
            IntAttr(checked.bias),
            StringAttr(checked.specials),
        )

    def verify(self) -> None:
        try:
            self.format
        except NumericsError as e:
            raise VerifyException(str(e)) from None


@irdl_attr_definition
class IntFormatType(ParametrizedAttribute, TypeAttribute):
    """A symmetric two's-complement integer grid, ``!fpq.int<4>``."""

    name = "fpq.int"

    bits: IntAttr

    @staticmethod
    def from_format(fmt: Format) -> IntFormatType:
        return IntFormatType(IntAttr(fmt.bits))

    @property
    def format(self) -> Format:
        return Format.parse(f"int{self.bits.data}")

    def print_parameters(self, printer: Printer) -> None:
        with printer.in_angle_brackets():
            printer.print_int(self.bits.data)

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> Sequence[Attribute]:
        with parser.in_angle_brackets():
            bits = parser.parse_integer()
        return (IntAttr(bits),)

    def verify(self) -> None:
        try:
            self.format
        except NumericsError as e:
            raise VerifyException(str(e)) from None


LowBitType = FloatFormatType | IntFormatType


def _float_format(e: int, m: int, bias: int, specials: str) -> Format:
    spelling = f"e{e}m{m}b{bias}"
    fmt = Format.parse(spelling)
    if specials == fmt.specials:
        return fmt
    if specials == "fn":
        return Format.parse(spelling + "fn")
    if specials not in ("none", "fn", "ieee"):
        raise NumericsError(f"unknown specials '{specials}' (use none, fn or ieee)")
    return replace(fmt, specials=specials)


def _parse_format_or_error(parser: AttrParser, spelling: str, pos: int) -> Format:
    try:
        return Format.parse(spelling)
    except NumericsError as e:
        parser.raise_error(str(e), pos)


def format_type(fmt: Format) -> LowBitType:
    """The element type of tensors holding codes of ``fmt``."""
    if fmt.kind == "int":
        return IntFormatType.from_format(fmt)
    return FloatFormatType.from_format(fmt)


# ---------------------------------------------------------------------------
# Quantization attribute
# ---------------------------------------------------------------------------

GRANULARITIES = ("tensor", "token", "channel", "group")
SCALE_KINDS = ("fp32", "e8m0")


@irdl_attr_definition
class QuantAttr(ParametrizedAttribute):
    """How a tensor is quantized: ``#fpq.quant<e2m1, group 128>``.

    Scales are taken over the last axis: ``token``/``channel`` mean one group
    spanning the whole row, ``group N`` N consecutive elements of a row,
    ``tensor`` one scale for everything.
    """

    name = "fpq.quant"

    element: Attribute
    granularity: StringAttr
    group_size: IntAttr
    scale_kind: StringAttr
    rounding: StringAttr

    @staticmethod
    def get(
        fmt: Format,
        granularity: str,
        group_size: int = 0,
        scale_kind: str = "fp32",
        rounding: str = "rne",
    ) -> QuantAttr:
        return QuantAttr(
            format_type(fmt),
            StringAttr(granularity),
            IntAttr(group_size if granularity == "group" else 0),
            StringAttr(scale_kind),
            StringAttr(rounding),
        )

    @property
    def format(self) -> Format:
        assert isinstance(self.element, FloatFormatType | IntFormatType)
        return self.element.format

    def group_size_for(self, row_length: int) -> int | None:
        """Elements per scale along a row of ``row_length``; None for per-tensor."""
        if self.granularity.data == "tensor":
            return None
        if self.granularity.data == "group":
            return self.group_size.data
        return row_length

    def scale_shape(self, shape: Sequence[int]) -> tuple[int, ...]:
        """Shape of the scale tensor for a tensor of ``shape``."""
        group = self.group_size_for(shape[-1])
        if group is None:
            return tuple(1 for _ in shape)
        return (*shape[:-1], shape[-1] // group)

    def check_divides(self, shape: Sequence[int], what: str) -> None:
        group = self.group_size_for(shape[-1])
        if group is not None and shape[-1] % group != 0:
            raise VerifyException(
                f"group size {group} does not divide the last dimension ({shape[-1]}) of {what}"
            )

    def print_parameters(self, printer: Printer) -> None:
        with printer.in_angle_brackets():
            printer.print_string(_short_format_name(self.element))
            printer.print_string(f", {self.granularity.data}")
            if self.granularity.data == "group":
                printer.print_string(f" {self.group_size.data}")
            if self.scale_kind.data != "fp32":
                printer.print_string(f', scale = "{self.scale_kind.data}"')
            if self.rounding.data != "rne":
                printer.print_string(f', rounding = "{self.rounding.data}"')

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> Sequence[Attribute]:
        with parser.in_angle_brackets():
            if (element := parser.parse_optional_type()) is None:
                pos = parser.pos
                element = format_type(
                    _parse_format_or_error(parser, parser.parse_identifier(" (a format)"), pos)
                )
            parser.parse_punctuation(",")
            pos = parser.pos
            granularity = parser.parse_identifier(" (tensor, token, channel or group)")
            if granularity not in GRANULARITIES:
                parser.raise_error(
                    f"unknown granularity '{granularity}' (use {', '.join(GRANULARITIES)})", pos
                )
            group_size = parser.parse_integer() if granularity == "group" else 0
            scale_kind, rounding = "fp32", "rne"
            while parser.parse_optional_punctuation(",") is not None:
                key = parser.parse_identifier(" (scale or rounding)")
                parser.parse_punctuation("=")
                value = parser.parse_str_literal()
                if key == "scale":
                    scale_kind = value
                elif key == "rounding":
                    rounding = value
                else:
                    parser.raise_error(f"unknown #fpq.quant parameter '{key}'")
        return (
            element,
            StringAttr(granularity),
            IntAttr(group_size),
            StringAttr(scale_kind),
            StringAttr(rounding),
        )

    def verify(self) -> None:
        from fpqc.numerics import ROUNDING_MODES

        if not isinstance(self.element, FloatFormatType | IntFormatType):
            raise VerifyException(f"#fpq.quant needs an fpq format, got {self.element}")
        if self.granularity.data not in GRANULARITIES:
            raise VerifyException(f"unknown granularity '{self.granularity.data}'")
        if self.granularity.data == "group" and self.group_size.data <= 0:
            raise VerifyException("group granularity needs a positive group size")
        if self.scale_kind.data not in SCALE_KINDS:
            raise VerifyException(
                f"unknown scale kind '{self.scale_kind.data}' (use {', '.join(SCALE_KINDS)})"
            )
        if self.rounding.data not in ROUNDING_MODES:
            raise VerifyException(
                f"unknown rounding '{self.rounding.data}' (use {', '.join(ROUNDING_MODES)})"
            )


def _short_format_name(element: Attribute) -> str:
    """``e2m1`` when the type has only default parameters, else the full type."""
    if isinstance(element, IntFormatType):
        return f"int{element.bits.data}"
    assert isinstance(element, FloatFormatType)
    fmt = element.format
    if Format.parse(f"e{fmt.exponent_bits}m{fmt.mantissa_bits}") == fmt:
        return f"e{fmt.exponent_bits}m{fmt.mantissa_bits}"
    return str(element)


# ---------------------------------------------------------------------------
# The role of a linear layer
# ---------------------------------------------------------------------------

ROLE_ATTR = "fpq.role"
"""Discardable attribute naming what a linear layer is in a VAR (``{fpq.role = "fc2"}``).

``raise-onnx-to-fpq`` sets it from the graph's structure; the FPQVAR passes
choose their layers by it.  Roles: word_embed, ada_lin, mat_qkv, proj, fc1,
fc2, head_ada_lin, head.
"""


def role_of(op: Operation) -> str | None:
    """The ``fpq.role`` of ``op``, or None if it has none."""
    role = op.attributes.get(ROLE_ATTR)
    return role.data if isinstance(role, StringAttr) else None


# ---------------------------------------------------------------------------
# Helpers for verifiers
# ---------------------------------------------------------------------------


def _tensor(value: SSAValue | Attribute, what: str, op: str) -> TensorType:
    t = value.type if isinstance(value, SSAValue) else value
    if not isinstance(t, TensorType):
        raise VerifyException(f"{op}: {what} must be a ranked tensor, got {t}")
    return t


def _f32_tensor(value: SSAValue, what: str, op: str) -> tuple[int, ...]:
    t = _tensor(value, what, op)
    if not isinstance(t.get_element_type(), Float32Type):
        raise VerifyException(f"{op}: {what} must have f32 elements, got {t}")
    return t.get_shape()


def _codes_tensor(value: SSAValue, quant: QuantAttr, what: str, op: str) -> tuple[int, ...]:
    t = _tensor(value, what, op)
    if t.get_element_type() != quant.element:
        raise VerifyException(
            f"{op}: {what} has element type {t.get_element_type()} but its quantization "
            f"says {quant.element} (format mismatch)"
        )
    return t.get_shape()


def _expect_shape(got: Sequence[int], want: Sequence[int], what: str, op: str) -> None:
    if tuple(got) != tuple(want):
        raise VerifyException(
            f"{op}: {what} has shape {list(got)}, expected {list(want)}"
        )


# ---------------------------------------------------------------------------
# Float-level ops
# ---------------------------------------------------------------------------


@irdl_op_definition
class ConstantOp(IRDLOperation):
    """A tensor constant: inline ``dense<...>`` or a weight-store ``dense_resource<key>``.

    A constant of low-bit codes has a tensor of ``!fpq.float``/``!fpq.int``
    elements as result while its value holds the codes as ``ui8``.
    """

    name = "fpq.constant"

    value = prop_def(DenseIntOrFPElementsAttr | DenseResourceAttr)
    result = result_def(TensorType)

    traits = traits_def(ConstantLike(), Pure())

    def print(self, printer: Printer) -> None:
        printer.print_string(" ")
        printer.print_attribute(self.value)
        if self.result.type != self.value.get_type():
            printer.print_string(" -> ")
            printer.print_attribute(self.result.type)
        printer.print_op_attributes(self.attributes)

    @classmethod
    def parse(cls, parser: Parser) -> ConstantOp:
        pos = parser.pos
        value = parser.parse_attribute()
        if not isinstance(value, DenseIntOrFPElementsAttr | DenseResourceAttr):
            parser.raise_error("fpq.constant expects a dense<...> or dense_resource<...> value", pos)
        result_type = parser.parse_type() if parser.parse_optional_punctuation("->") else None
        op = cls(value, result_type)
        if (attrs := parser.parse_optional_attr_dict()):
            op.attributes.update(attrs)
        return op

    def __init__(self, value: DenseIntOrFPElementsAttr | DenseResourceAttr, result_type: Attribute | None = None):
        super().__init__(
            properties={"value": value},
            result_types=[result_type or value.get_type()],
        )

    def verify_(self) -> None:
        value_type = self.value.get_type()
        assert isinstance(value_type, TensorType)
        result_type = _tensor(self.result, "result", self.name)
        _expect_shape(value_type.get_shape(), result_type.get_shape(), "value", self.name)
        element = result_type.get_element_type()
        if isinstance(element, FloatFormatType | IntFormatType):
            if isinstance(self.value, DenseIntOrFPElementsAttr) and str(
                value_type.get_element_type()
            ) != "ui8":
                raise VerifyException(
                    f"{self.name}: low-bit codes must be stored as ui8, got {value_type}"
                )
        elif isinstance(self.value, DenseIntOrFPElementsAttr) and element != value_type.get_element_type():
            raise VerifyException(
                f"{self.name}: value type {value_type} does not match result type {result_type}"
            )


@irdl_op_definition
class LinearOp(IRDLOperation):
    """``y = x·Wᵀ + b`` in fp32: x ``[..., K]``, W ``[O, K]``, b ``[O]``, y ``[..., O]``."""

    name = "fpq.linear"

    input = operand_def(TensorType)
    weight = operand_def(TensorType)
    bias = opt_operand_def(TensorType)
    result = result_def(TensorType)

    traits = traits_def(Pure())

    assembly_format = (
        "$input `,` $weight (`,` $bias^)? attr-dict `:` "
        "`(` type($input) `,` type($weight) (`,` type($bias)^)? `)` `->` type($result)"
    )

    def __init__(self, x: SSAValue, w: SSAValue, b: SSAValue | None, result_type: Attribute):
        super().__init__(operands=[x, w, [b] if b is not None else []], result_types=[result_type])

    def verify_(self) -> None:
        x = _f32_tensor(self.input, "input", self.name)
        w = _f32_tensor(self.weight, "weight", self.name)
        if len(w) != 2:
            raise VerifyException(f"{self.name}: weight must be 2-D [out, in], got {list(w)}")
        if x[-1] != w[1]:
            raise VerifyException(
                f"{self.name}: input has {x[-1]} features but weight [out, in] = {list(w)} expects {w[1]}"
            )
        if self.bias is not None:
            _expect_shape(_f32_tensor(self.bias, "bias", self.name), (w[0],), "bias", self.name)
        _expect_shape(_f32_tensor(self.result, "result", self.name), (*x[:-1], w[0]), "result", self.name)


@irdl_op_definition
class GeluOp(IRDLOperation):
    """GELU, tanh approximation: ``0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))``.

    Computed element-wise with :func:`fpqc.numerics.gelu_tanh_f32`.
    """

    name = "fpq.gelu"

    T: ClassVar = VarConstraint("T", base(TensorType))
    input = operand_def(T)
    result = result_def(T)

    traits = traits_def(Pure())

    assembly_format = "$input attr-dict `:` type($result)"

    def __init__(self, x: SSAValue):
        super().__init__(operands=[x], result_types=[x.type])

    def verify_(self) -> None:
        _expect_shape(
            _f32_tensor(self.result, "result", self.name),
            _f32_tensor(self.input, "input", self.name),
            "result",
            self.name,
        )


@irdl_op_definition
class EmbeddingOp(IRDLOperation):
    """Table lookup: ``y[i..., :] = table[indices[i...], :]`` (e.g. ``class_emb[label]``).

    ``table`` is ``[N, C]`` fp32, ``indices`` an integer tensor of any shape; the
    result is ``[*indices.shape, C]``.  Negative indices count from the end (as
    ONNX ``Gather`` does); an index outside ``[-N, N)`` is an error at run time.
    """

    name = "fpq.embedding"

    table = operand_def(TensorType)
    indices = operand_def(TensorType)
    result = result_def(TensorType)

    traits = traits_def(Pure())

    assembly_format = (
        "$table `[` $indices `]` attr-dict `:` `(` type($table) `,` type($indices) `)` `->` type($result)"
    )

    def __init__(self, table: SSAValue, indices: SSAValue):
        rows = _tensor(table, "table", self.name).get_shape()
        idx = _tensor(indices, "indices", self.name).get_shape()
        super().__init__(
            operands=[table, indices], result_types=[TensorType(Float32Type(), (*idx, rows[-1]))]
        )

    def verify_(self) -> None:
        table = _f32_tensor(self.table, "table", self.name)
        if len(table) != 2:
            raise VerifyException(f"{self.name}: table must be 2-D [rows, features], got {list(table)}")
        idx = _tensor(self.indices, "indices", self.name)
        if not isinstance(idx.get_element_type(), IntegerType):
            raise VerifyException(f"{self.name}: indices must be integers, got {idx}")
        _expect_shape(
            _f32_tensor(self.result, "result", self.name), (*idx.get_shape(), table[1]), "result", self.name
        )


class _ElementwiseOp(IRDLOperation):
    """An fp32 elementwise function of one tensor; the result has its type."""

    T: ClassVar = VarConstraint("T", base(TensorType))
    input = operand_def(T)
    result = result_def(T)

    traits = traits_def(Pure())

    assembly_format = "$input attr-dict `:` type($result)"

    def __init__(self, x: SSAValue):
        super().__init__(operands=[x], result_types=[x.type])

    def verify_(self) -> None:
        _f32_tensor(self.input, "input", self.name)


@irdl_op_definition
class SiluOp(_ElementwiseOp):
    """SiLU, ``x·sigmoid(x)``, computed with :func:`fpqc.numerics.silu_f32`."""

    name = "fpq.silu"


@irdl_op_definition
class LayerNormOp(IRDLOperation):
    """Layer normalisation over the last axis, without affine parameters.

    For each row ``x[0..n)`` of the last axis, in fp32, in this order::

        s    = ((x0 + x1) + x2) + ... + x(n-1)        (left to right)
        mean = s / n
        d_i  = x_i - mean
        v    = ((d0·d0 + d1·d1) + ...) / n           (left to right)
        y_i  = d_i · rsqrt_f32(v + eps)

    ``rsqrt_f32`` is :func:`fpqc.numerics.rsqrt_f32`.
    """

    name = "fpq.layernorm"

    T: ClassVar = VarConstraint("T", base(TensorType))
    input = operand_def(T)
    result = result_def(T)
    eps = prop_def(FloatAttr)

    irdl_options = (ParsePropInAttrDict(),)
    traits = traits_def(Pure())

    assembly_format = "$input attr-dict `:` type($result)"

    def __init__(self, x: SSAValue, eps: float):
        super().__init__(
            operands=[x], result_types=[x.type], properties={"eps": FloatAttr(eps, Float32Type())}
        )

    def verify_(self) -> None:
        shape = _f32_tensor(self.input, "input", self.name)
        if not shape:
            raise VerifyException(f"{self.name}: input must have at least one axis")
        if not self.eps.value.data > 0:
            raise VerifyException(f"{self.name}: eps must be positive, got {self.eps.value.data}")


@irdl_op_definition
class SplitOp(IRDLOperation):
    """Split the last axis into N equal chunks, one result each (N = number of results).

    Result i is ``input[..., i·C:(i+1)·C]`` with C = last axis / N, reshaped to
    the result type; the reshape may only insert or remove unit axes before
    the last one.  AdaLN uses it to cut ``ada_lin``'s ``[B, 6C]`` output into
    the six ``[B, 1, C]`` vectors (gamma1, gamma2, scale1, scale2, shift1,
    shift2) that broadcast over the tokens::

        %g1, %g2, %s1, %s2, %b1, %b2 = fpq.split %a : tensor<2x384xf32> -> (tensor<2x1x64xf32>, ...)
    """

    name = "fpq.split"

    input = operand_def(TensorType)
    outputs = var_result_def(TensorType)

    traits = traits_def(Pure())

    assembly_format = "$input attr-dict `:` type($input) `->` `(` type($outputs) `)`"

    def __init__(self, x: SSAValue, result_types: Sequence[Attribute]):
        super().__init__(operands=[x], result_types=[list(result_types)])

    def verify_(self) -> None:
        shape = _f32_tensor(self.input, "input", self.name)
        n = len(self.outputs)
        if n == 0 or not shape or shape[-1] % n:
            raise VerifyException(
                f"{self.name}: the last axis ({shape[-1] if shape else 'none'}) is not divisible "
                f"into {n} chunks"
            )
        chunk = (*shape[:-1], shape[-1] // n)
        for i, out in enumerate(self.outputs):
            got = _f32_tensor(out, f"result {i}", self.name)
            if not got or got[-1] != chunk[-1] or _drop_units(got[:-1]) != _drop_units(chunk[:-1]):
                raise VerifyException(
                    f"{self.name}: result {i} has shape {list(got)}; a chunk is {list(chunk)} "
                    "(only unit axes before the last may be added or removed)"
                )


def _drop_units(shape: Sequence[int]) -> tuple[int, ...]:
    return tuple(d for d in shape if d != 1)


def _broadcasts_to(shapes: Sequence[Sequence[int]], target: Sequence[int], what: str, op: str) -> None:
    try:
        ok = tuple(np.broadcast_shapes(tuple(target), *map(tuple, shapes))) == tuple(target)
    except ValueError:
        ok = False
    if not ok:
        raise VerifyException(
            f"{op}: {what} of shapes {', '.join(str(list(s)) for s in shapes)} do not broadcast "
            f"to {list(target)}"
        )


@irdl_op_definition
class ModulateOp(IRDLOperation):
    """AdaLN modulation, ``y = x·(1 + scale) + shift`` in fp32, in that order.

    ``x`` is ``[B, L, C]`` (a layernorm output); ``scale`` and ``shift``
    broadcast to it (``[B, 1, C]``, one vector per sample).
    """

    name = "fpq.modulate"

    input = operand_def(TensorType)
    scale = operand_def(TensorType)
    shift = operand_def(TensorType)
    result = result_def(TensorType)

    traits = traits_def(Pure())

    assembly_format = (
        "$input `,` $scale `,` $shift attr-dict `:` "
        "`(` type($input) `,` type($scale) `,` type($shift) `)` `->` type($result)"
    )

    def __init__(self, x: SSAValue, scale: SSAValue, shift: SSAValue):
        super().__init__(operands=[x, scale, shift], result_types=[x.type])

    def verify_(self) -> None:
        x = _f32_tensor(self.input, "input", self.name)
        _broadcasts_to(
            [_f32_tensor(self.scale, "scale", self.name), _f32_tensor(self.shift, "shift", self.name)],
            x, "scale and shift", self.name,
        )
        _expect_shape(_f32_tensor(self.result, "result", self.name), x, "result", self.name)


@irdl_op_definition
class ResidualOp(IRDLOperation):
    """Gated residual, ``y = x + f·gamma`` in fp32, in that order.

    ``x`` and ``f`` are ``[B, L, C]``; ``gamma`` broadcasts to them
    (``[B, 1, C]``, one gate vector per sample).
    """

    name = "fpq.residual"

    input = operand_def(TensorType)
    branch = operand_def(TensorType)
    gamma = operand_def(TensorType)
    result = result_def(TensorType)

    traits = traits_def(Pure())

    assembly_format = (
        "$input `,` $branch `,` $gamma attr-dict `:` "
        "`(` type($input) `,` type($branch) `,` type($gamma) `)` `->` type($result)"
    )

    def __init__(self, x: SSAValue, branch: SSAValue, gamma: SSAValue):
        super().__init__(operands=[x, branch, gamma], result_types=[x.type])

    def verify_(self) -> None:
        x = _f32_tensor(self.input, "input", self.name)
        _expect_shape(_f32_tensor(self.branch, "branch", self.name), x, "branch", self.name)
        _broadcasts_to([_f32_tensor(self.gamma, "gamma", self.name)], x, "gamma", self.name)
        _expect_shape(_f32_tensor(self.result, "result", self.name), x, "result", self.name)


@irdl_op_definition
class AttentionOp(IRDLOperation):
    """VAR self-attention from the packed ``mat_qkv`` output to the ``proj`` input.

    ``qkv`` is ``[B, L, 3C]``, laid out ``[q | k | v]``, each ``C = H·D`` split
    into ``H = num_heads`` heads of ``D`` channels.  Per batch, head and token,
    in fp32:

    1. ``q̂ = q · rsqrt_f32(max(Σq², eps²)) · q_scale[h]`` and
       ``k̂ = k · rsqrt_f32(max(Σk², eps²))`` (L2 normalisation, i.e.
       ``x / max(‖x‖, eps)``; the sums of squares run left to right over D);
       ``q_scale`` ``[H]`` is the learned ``exp(min(scale_mul, ln 100))``;
    2. scores ``s = q̂·k̂ᵀ`` (softmax scale 1; an fp32 matmul, like
       ``fpq.linear``), plus the additive ``mask`` operand if there is one;
    3. softmax over the keys: ``e = exp_f32(s - max s)``, keys masked out by
       ``block_causal`` contribute exactly 0, ``p = e / Σe`` (left to right);
    4. ``o = p·v``, heads concatenated back to ``[B, L, C]``.

    With ``kv_quant`` (FPQVAR's low-bit KV cache) the normalised keys ``k̂`` and
    the values ``v`` are quantized and dequantized with it before use, scaled
    along the head dimension: ``#fpq.quant<e2m3, token>`` is one scale per
    token and head.

    ``block_causal = array<i64: 0, b1, ..., L>`` is VAR's block-causal mask
    given by its scale boundaries (prefix sums of ``patch_nums²``): a query in
    ``[b_k, b_k+1)`` sees the keys ``[0, b_k+1)``.  Without it and without a
    ``mask`` operand every query sees every key.
    """

    name = "fpq.attention"

    qkv = operand_def(TensorType)
    q_scale = operand_def(TensorType)
    mask = opt_operand_def(TensorType)
    num_heads = prop_def(IntegerAttr)
    eps = prop_def(FloatAttr)
    block_causal = opt_prop_def(DenseArrayBase)
    kv_quant = opt_prop_def(QuantAttr)
    result = result_def(TensorType)

    irdl_options = (ParsePropInAttrDict(),)
    traits = traits_def(Pure())

    assembly_format = (
        "$qkv `,` $q_scale (`,` $mask^)? attr-dict `:` "
        "`(` type($qkv) `,` type($q_scale) (`,` type($mask)^)? `)` `->` type($result)"
    )

    def __init__(
        self,
        qkv: SSAValue,
        q_scale: SSAValue,
        num_heads: int,
        eps: float,
        block_causal: Sequence[int] | None = None,
        mask: SSAValue | None = None,
    ):
        b, l, c3 = _tensor(qkv, "qkv", self.name).get_shape()
        properties: dict[str, Attribute] = {
            "num_heads": IntegerAttr(num_heads, i64),
            "eps": FloatAttr(eps, Float32Type()),
        }
        if block_causal is not None:
            properties["block_causal"] = DenseArrayBase.from_list(i64, list(block_causal))
        super().__init__(
            operands=[qkv, q_scale, [mask] if mask is not None else []],
            properties=properties,
            result_types=[TensorType(Float32Type(), (b, l, c3 // 3))],
        )

    def boundaries(self) -> tuple[int, ...] | None:
        """The ``block_causal`` scale boundaries, or None."""
        if self.block_causal is None:
            return None
        return tuple(int(v) for v in self.block_causal.get_values())

    def verify_(self) -> None:
        op = self.name
        qkv = _f32_tensor(self.qkv, "qkv", op)
        heads = self.num_heads.value.data
        if len(qkv) != 3 or qkv[2] % 3 or heads <= 0 or (qkv[2] // 3) % heads:
            raise VerifyException(
                f"{op}: qkv must be [B, L, 3·C] with C divisible by num_heads = {heads}, got {list(qkv)}"
            )
        b, length, c = qkv[0], qkv[1], qkv[2] // 3
        _expect_shape(_f32_tensor(self.q_scale, "q_scale", op), (heads,), "q_scale", op)
        if self.mask is not None:
            if self.block_causal is not None:
                raise VerifyException(f"{op}: give either a mask operand or block_causal, not both")
            _broadcasts_to([_f32_tensor(self.mask, "mask", op)], (b, heads, length, length), "mask", op)
        bounds = self.boundaries()
        if bounds is not None and (
            len(bounds) < 2 or bounds[0] != 0 or bounds[-1] != length
            or any(x >= y for x, y in zip(bounds, bounds[1:]))
        ):
            raise VerifyException(
                f"{op}: block_causal boundaries {list(bounds)} must rise strictly from 0 to L = {length}"
            )
        if not self.eps.value.data > 0:
            raise VerifyException(f"{op}: eps must be positive, got {self.eps.value.data}")
        if self.kv_quant is not None:
            self.kv_quant.check_divides((c // heads,), "a head of keys/values")
        _expect_shape(_f32_tensor(self.result, "result", op), (b, length, c), "result", op)


# ---------------------------------------------------------------------------
# Quantized ops
# ---------------------------------------------------------------------------


@irdl_op_definition
class QuantizeOp(IRDLOperation):
    """Quantize an fp32 tensor with scales computed from its own values.

    ``scales = absmax(group) / max_value`` and ``codes = encode(x / scale)``,
    exactly as :func:`fpqc.numerics.compute_scales` and
    :func:`fpqc.numerics.quantize` define.
    """

    name = "fpq.quantize"

    input = operand_def(TensorType)
    quant = prop_def(QuantAttr)

    irdl_options = (ParsePropInAttrDict(),)
    codes = result_def(TensorType)
    scales = result_def(TensorType)

    traits = traits_def(Pure())

    assembly_format = (
        "$input attr-dict `:` type($input) `->` `(` type($codes) `,` type($scales) `)`"
    )

    def __init__(self, x: SSAValue, quant: QuantAttr):
        shape = _tensor(x, "input", self.name).get_shape()
        super().__init__(
            operands=[x],
            properties={"quant": quant},
            result_types=[
                TensorType(quant.element, shape),
                TensorType(Float32Type(), quant.scale_shape(shape)),
            ],
        )

    def verify_(self) -> None:
        shape = _f32_tensor(self.input, "input", self.name)
        self.quant.check_divides(shape, f"the input of {self.name}")
        _expect_shape(_codes_tensor(self.codes, self.quant, "codes", self.name), shape, "codes", self.name)
        _expect_shape(
            _f32_tensor(self.scales, "scales", self.name), self.quant.scale_shape(shape), "scales", self.name
        )


@irdl_op_definition
class DequantizeOp(IRDLOperation):
    """``decode(codes) · scale`` in fp32."""

    name = "fpq.dequantize"

    codes = operand_def(TensorType)
    scales = operand_def(TensorType)
    quant = prop_def(QuantAttr)

    irdl_options = (ParsePropInAttrDict(),)
    result = result_def(TensorType)

    traits = traits_def(Pure())

    assembly_format = (
        "$codes `,` $scales attr-dict `:` `(` type($codes) `,` type($scales) `)` `->` type($result)"
    )

    def __init__(self, codes: SSAValue, scales: SSAValue, quant: QuantAttr):
        shape = _tensor(codes, "codes", self.name).get_shape()
        super().__init__(
            operands=[codes, scales],
            properties={"quant": quant},
            result_types=[TensorType(Float32Type(), shape)],
        )

    def verify_(self) -> None:
        shape = _codes_tensor(self.codes, self.quant, "codes", self.name)
        self.quant.check_divides(shape, "codes")
        _expect_shape(
            _f32_tensor(self.scales, "scales", self.name), self.quant.scale_shape(shape), "scales", self.name
        )
        _expect_shape(_f32_tensor(self.result, "result", self.name), shape, "result", self.name)


@irdl_op_definition
class QLinearOp(IRDLOperation):
    """A linear layer on quantized operands with exact accumulation.

    Inputs: activation codes ``[..., K]`` with scales, weight codes ``[O, K]``
    with scales (both scaled along K), optional fp32 bias ``[O]``.  Per group of
    the finer of the two granularities the dot product of the codes is an
    exact integer (the FPGA's LUT products summed in a wide accumulator); the
    groups are combined in fp32 in ascending order,
    ``acc += (sx·sw) · p``, then ``y = acc + b``
    (:func:`fpqc.numerics.qlinear`).
    """

    name = "fpq.qlinear"

    input_codes = operand_def(TensorType)
    input_scales = operand_def(TensorType)
    weight_codes = operand_def(TensorType)
    weight_scales = operand_def(TensorType)
    bias = opt_operand_def(TensorType)
    x_quant = prop_def(QuantAttr)
    w_quant = prop_def(QuantAttr)

    irdl_options = (ParsePropInAttrDict(),)
    result = result_def(TensorType)

    traits = traits_def(Pure())

    assembly_format = (
        "$input_codes `,` $input_scales `,` $weight_codes `,` $weight_scales (`,` $bias^)? "
        "attr-dict `:` `(` type($input_codes) `,` type($input_scales) `,` type($weight_codes) "
        "`,` type($weight_scales) (`,` type($bias)^)? `)` `->` type($result)"
    )

    ALLOWED_X: ClassVar[tuple[str, ...]] = ("token", "group", "tensor")
    ALLOWED_W: ClassVar[tuple[str, ...]] = ("channel", "group", "tensor")

    def __init__(
        self,
        x_codes: SSAValue,
        x_scales: SSAValue,
        w_codes: SSAValue,
        w_scales: SSAValue,
        bias: SSAValue | None,
        x_quant: QuantAttr,
        w_quant: QuantAttr,
    ):
        x_shape = _tensor(x_codes, "input codes", self.name).get_shape()
        w_shape = _tensor(w_codes, "weight codes", self.name).get_shape()
        super().__init__(
            operands=[x_codes, x_scales, w_codes, w_scales, [bias] if bias is not None else []],
            properties={"x_quant": x_quant, "w_quant": w_quant},
            result_types=[TensorType(Float32Type(), (*x_shape[:-1], w_shape[0]))],
        )

    def combine_group_size(self) -> int:
        """Elements per exactly accumulated partial sum: the finer of the two groupings."""
        k = _tensor(self.weight_codes, "weight codes", self.name).get_shape()[1]
        sizes = [q.group_size_for(k) or k for q in (self.x_quant, self.w_quant)]
        return min(sizes)

    def verify_(self) -> None:
        op = self.name
        x = _codes_tensor(self.input_codes, self.x_quant, "input codes", op)
        w = _codes_tensor(self.weight_codes, self.w_quant, "weight codes", op)
        if len(w) != 2:
            raise VerifyException(f"{op}: weight codes must be 2-D [out, in], got {list(w)}")
        if x[-1] != w[1]:
            raise VerifyException(
                f"{op}: input has {x[-1]} features but weight [out, in] = {list(w)} expects {w[1]}"
            )
        for quant, allowed, what in (
            (self.x_quant, self.ALLOWED_X, "input"),
            (self.w_quant, self.ALLOWED_W, "weight"),
        ):
            if quant.granularity.data not in allowed:
                raise VerifyException(
                    f"{op}: {what} granularity '{quant.granularity.data}' is not one of {', '.join(allowed)}"
                )
        self.x_quant.check_divides(x, "the input")
        self.w_quant.check_divides(w, "the weight")
        gx = self.x_quant.group_size_for(x[-1]) or x[-1]
        gw = self.w_quant.group_size_for(w[1]) or w[1]
        if max(gx, gw) % min(gx, gw) != 0:
            raise VerifyException(
                f"{op}: input group size {gx} and weight group size {gw} must divide one another"
            )
        _expect_shape(
            _f32_tensor(self.input_scales, "input scales", op), self.x_quant.scale_shape(x), "input scales", op
        )
        _expect_shape(
            _f32_tensor(self.weight_scales, "weight scales", op), self.w_quant.scale_shape(w), "weight scales", op
        )
        if self.bias is not None:
            _expect_shape(_f32_tensor(self.bias, "bias", op), (w[0],), "bias", op)
        _expect_shape(_f32_tensor(self.result, "result", op), (*x[:-1], w[0]), "result", op)


# ---------------------------------------------------------------------------
# FPQVAR ops: group-wise Hadamard transform and dual-format quantization
# ---------------------------------------------------------------------------


@irdl_op_definition
class HadamardOp(IRDLOperation):
    """The online part of FPQVAR's group-wise Hadamard transform (GHT).

    Each block of ``block`` consecutive elements of the last axis ``[..., K]``
    is multiplied by ``H_block / sqrt(block)`` with the fixed fp32 addition
    order of :func:`fpqc.numerics.hadamard.fwht_f32`.  With the optional
    ``signs`` operand (``[K]``, entries ±1) the random signs are applied first,
    :func:`fpqc.numerics.hadamard.ght_f32`; without it they have been folded
    elsewhere (into the AdaLN modulation) and the op is a pure FWHT::

        %y = fpq.hadamard %x {block = 128 : i64} : tensor<1x30x256xf32>
        %y = fpq.hadamard %x, %signs {block = 128 : i64} : tensor<1x30x256xf32>, tensor<256xf32>
    """

    name = "fpq.hadamard"

    T: ClassVar = VarConstraint("T", base(TensorType))
    input = operand_def(T)
    signs = opt_operand_def(TensorType)
    block = prop_def(IntegerAttr)
    result = result_def(T)

    irdl_options = (ParsePropInAttrDict(),)
    traits = traits_def(Pure())

    assembly_format = "$input (`,` $signs^)? attr-dict `:` type($input) (`,` type($signs)^)?"

    def __init__(self, x: SSAValue, block: int, signs: SSAValue | None = None):
        super().__init__(
            operands=[x, [signs] if signs is not None else []],
            properties={"block": IntegerAttr(block, i64)},
            result_types=[x.type],
        )

    def verify_(self) -> None:
        op = self.name
        shape = _f32_tensor(self.input, "input", op)
        block = self.block.value.data
        if not shape:
            raise VerifyException(f"{op}: input must have at least one axis")
        if block <= 0 or block & (block - 1):
            raise VerifyException(f"{op}: block must be a power of two, got {block}")
        if shape[-1] % block:
            raise VerifyException(
                f"{op}: block {block} does not divide the last dimension ({shape[-1]}) of the input"
            )
        if self.signs is not None:
            _expect_shape(_f32_tensor(self.signs, "signs", op), (shape[-1],), "signs", op)


def _check_dual_quants(neg: QuantAttr, pos: QuantAttr, op: str) -> None:
    """Both sides of a dual format share one scale grouping, scale kind and rounding."""
    if neg.granularity.data not in ("token", "group"):
        raise VerifyException(
            f"{op}: dual-format granularity must be token or group, got '{neg.granularity.data}'"
        )
    if (neg.granularity.data, neg.group_size.data) != (pos.granularity.data, pos.group_size.data):
        raise VerifyException(
            f"{op}: neg_quant and pos_quant must have the same granularity, got "
            f"{neg} and {pos}"
        )
    if neg.scale_kind.data != "fp32" or pos.scale_kind.data != "fp32":
        raise VerifyException(f"{op}: dual-format scales are fp32")
    if neg.rounding.data != pos.rounding.data:
        raise VerifyException(
            f"{op}: neg_quant and pos_quant must round the same way, got "
            f"'{neg.rounding.data}' and '{pos.rounding.data}'"
        )


@irdl_op_definition
class DualQuantizeOp(IRDLOperation):
    """Dual-format quantization (FPQVAR's DFQ) with scales from the data.

    Per group of the last axis, negative elements (sign bit set) are quantized
    with ``neg_quant``'s format and scale ``max|x_neg| / neg_max``, the others
    with ``pos_quant``'s and ``max x_pos / pos_max``, as
    :func:`fpqc.numerics.dual_format.compute_dual_scales` and
    :func:`~fpqc.numerics.dual_format.dual_quantize` define.  The results are
    two code planes of the input's shape (an element's code on the other side
    is 0) and the two fp32 scale tensors::

        %nc, %pc, %sn, %sp = fpq.dual_quantize %x
            {neg_quant = #fpq.quant<e1m2, group 128>, pos_quant = #fpq.quant<e2m1, group 128>}
            : tensor<8x256xf32> -> (tensor<8x256x!fpq.float<e1m2>>, tensor<8x256x!fpq.float<e2m1>>,
                                    tensor<8x2xf32>, tensor<8x2xf32>)
    """

    name = "fpq.dual_quantize"

    input = operand_def(TensorType)
    neg_quant = prop_def(QuantAttr)
    pos_quant = prop_def(QuantAttr)

    irdl_options = (ParsePropInAttrDict(),)
    neg_codes = result_def(TensorType)
    pos_codes = result_def(TensorType)
    neg_scales = result_def(TensorType)
    pos_scales = result_def(TensorType)

    traits = traits_def(Pure())

    assembly_format = (
        "$input attr-dict `:` type($input) `->` `(` type($neg_codes) `,` type($pos_codes) `,` "
        "type($neg_scales) `,` type($pos_scales) `)`"
    )

    def __init__(self, x: SSAValue, neg_quant: QuantAttr, pos_quant: QuantAttr):
        shape = _tensor(x, "input", self.name).get_shape()
        scales = TensorType(Float32Type(), neg_quant.scale_shape(shape))
        super().__init__(
            operands=[x],
            properties={"neg_quant": neg_quant, "pos_quant": pos_quant},
            result_types=[
                TensorType(neg_quant.element, shape),
                TensorType(pos_quant.element, shape),
                scales,
                scales,
            ],
        )

    def verify_(self) -> None:
        op = self.name
        shape = _f32_tensor(self.input, "input", op)
        _check_dual_quants(self.neg_quant, self.pos_quant, op)
        self.neg_quant.check_divides(shape, f"the input of {op}")
        _expect_shape(_codes_tensor(self.neg_codes, self.neg_quant, "neg codes", op), shape, "neg codes", op)
        _expect_shape(_codes_tensor(self.pos_codes, self.pos_quant, "pos codes", op), shape, "pos codes", op)
        scales = self.neg_quant.scale_shape(shape)
        _expect_shape(_f32_tensor(self.neg_scales, "neg scales", op), scales, "neg scales", op)
        _expect_shape(_f32_tensor(self.pos_scales, "pos scales", op), scales, "pos scales", op)


@irdl_op_definition
class DualQLinearOp(IRDLOperation):
    """A linear layer on a dual-format activation with exact accumulation.

    Inputs: the two code planes ``[..., K]`` and two scale tensors of
    ``fpq.dual_quantize``, weight codes ``[O, K]`` with scales (``w_quant`` as
    in ``fpq.qlinear``), optional fp32 bias ``[O]``.  Per group of the finer
    of the two groupings the negative plane's and the positive plane's exact
    integer dot products with the weight codes are combined in fp32, the
    negative side's term first (:func:`fpqc.numerics.dual_format.dual_qlinear`)::

        %y = fpq.dual_qlinear %nc, %pc, %sn, %sp, %wc, %ws, %b {neg_quant = #fpq.quant<e1m2, group 128>,
            pos_quant = #fpq.quant<e2m1, group 128>, w_quant = #fpq.quant<e2m1, group 128>}
            : (...) -> tensor<8x64xf32>
    """

    name = "fpq.dual_qlinear"

    neg_codes = operand_def(TensorType)
    pos_codes = operand_def(TensorType)
    neg_scales = operand_def(TensorType)
    pos_scales = operand_def(TensorType)
    weight_codes = operand_def(TensorType)
    weight_scales = operand_def(TensorType)
    bias = opt_operand_def(TensorType)
    neg_quant = prop_def(QuantAttr)
    pos_quant = prop_def(QuantAttr)
    w_quant = prop_def(QuantAttr)

    irdl_options = (ParsePropInAttrDict(),)
    result = result_def(TensorType)

    traits = traits_def(Pure())

    assembly_format = (
        "$neg_codes `,` $pos_codes `,` $neg_scales `,` $pos_scales `,` $weight_codes `,` "
        "$weight_scales (`,` $bias^)? attr-dict `:` `(` type($neg_codes) `,` type($pos_codes) `,` "
        "type($neg_scales) `,` type($pos_scales) `,` type($weight_codes) `,` type($weight_scales) "
        "(`,` type($bias)^)? `)` `->` type($result)"
    )

    def __init__(
        self,
        neg_codes: SSAValue,
        pos_codes: SSAValue,
        neg_scales: SSAValue,
        pos_scales: SSAValue,
        w_codes: SSAValue,
        w_scales: SSAValue,
        bias: SSAValue | None,
        neg_quant: QuantAttr,
        pos_quant: QuantAttr,
        w_quant: QuantAttr,
    ):
        x_shape = _tensor(neg_codes, "neg codes", self.name).get_shape()
        w_shape = _tensor(w_codes, "weight codes", self.name).get_shape()
        super().__init__(
            operands=[
                neg_codes, pos_codes, neg_scales, pos_scales, w_codes, w_scales,
                [bias] if bias is not None else [],
            ],
            properties={"neg_quant": neg_quant, "pos_quant": pos_quant, "w_quant": w_quant},
            result_types=[TensorType(Float32Type(), (*x_shape[:-1], w_shape[0]))],
        )

    def combine_group_size(self) -> int:
        """Elements per exactly accumulated partial sum: the finer of the two groupings."""
        k = _tensor(self.weight_codes, "weight codes", self.name).get_shape()[1]
        return min(q.group_size_for(k) or k for q in (self.neg_quant, self.w_quant))

    def verify_(self) -> None:
        op = self.name
        _check_dual_quants(self.neg_quant, self.pos_quant, op)
        x = _codes_tensor(self.neg_codes, self.neg_quant, "neg codes", op)
        _expect_shape(_codes_tensor(self.pos_codes, self.pos_quant, "pos codes", op), x, "pos codes", op)
        w = _codes_tensor(self.weight_codes, self.w_quant, "weight codes", op)
        if len(w) != 2:
            raise VerifyException(f"{op}: weight codes must be 2-D [out, in], got {list(w)}")
        if x[-1] != w[1]:
            raise VerifyException(
                f"{op}: input has {x[-1]} features but weight [out, in] = {list(w)} expects {w[1]}"
            )
        if self.w_quant.granularity.data not in QLinearOp.ALLOWED_W:
            raise VerifyException(
                f"{op}: weight granularity '{self.w_quant.granularity.data}' is not one of "
                f"{', '.join(QLinearOp.ALLOWED_W)}"
            )
        self.neg_quant.check_divides(x, "the input")
        self.w_quant.check_divides(w, "the weight")
        gx = self.neg_quant.group_size_for(x[-1]) or x[-1]
        gw = self.w_quant.group_size_for(w[1]) or w[1]
        if max(gx, gw) % min(gx, gw) != 0:
            raise VerifyException(
                f"{op}: input group size {gx} and weight group size {gw} must divide one another"
            )
        scales = self.neg_quant.scale_shape(x)
        _expect_shape(_f32_tensor(self.neg_scales, "neg scales", op), scales, "neg scales", op)
        _expect_shape(_f32_tensor(self.pos_scales, "pos scales", op), scales, "pos scales", op)
        _expect_shape(
            _f32_tensor(self.weight_scales, "weight scales", op), self.w_quant.scale_shape(w), "weight scales", op
        )
        if self.bias is not None:
            _expect_shape(_f32_tensor(self.bias, "bias", op), (w[0],), "bias", op)
        _expect_shape(_f32_tensor(self.result, "result", op), (*x[:-1], w[0]), "result", op)


Fpq = Dialect(
    "fpq",
    [
        ConstantOp,
        LinearOp,
        GeluOp,
        EmbeddingOp,
        SiluOp,
        LayerNormOp,
        SplitOp,
        ModulateOp,
        ResidualOp,
        AttentionOp,
        QuantizeOp,
        DequantizeOp,
        QLinearOp,
        HadamardOp,
        DualQuantizeOp,
        DualQLinearOp,
    ],
    [FloatFormatType, IntFormatType, QuantAttr],
)
