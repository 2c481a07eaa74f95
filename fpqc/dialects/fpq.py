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
``fpq.gelu`` (tanh approximation, computed with fpqc's own fp32 algorithm).

Quantized ops
-------------

``fpq.quantize`` (float tensor → codes + scales, scales computed dynamically
from the data), ``fpq.dequantize`` and ``fpq.qlinear`` (codes × codes with
exact group accumulation and the contract's fp32 combination of scales).

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

from xdsl.dialects.builtin import (
    DenseIntOrFPElementsAttr,
    DenseResourceAttr,
    Float32Type,
    IntAttr,
    StringAttr,
    TensorType,
)
from xdsl.ir import Attribute, Dialect, ParametrizedAttribute, SSAValue, TypeAttribute
from xdsl.irdl import (
    IRDLOperation,
    ParsePropInAttrDict,
    VarConstraint,
    base,
    irdl_attr_definition,
    irdl_op_definition,
    operand_def,
    opt_operand_def,
    prop_def,
    result_def,
    traits_def,
)
from xdsl.parser import AttrParser, Parser
from xdsl.printer import Printer
from xdsl.traits import ConstantLike, Pure
from xdsl.utils.exceptions import VerifyException

from fpqc.errors import FpqcError
from fpqc.numerics import Format

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
        except FpqcError as e:
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
        except FpqcError as e:
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
        raise FpqcError(f"unknown specials '{specials}' (use none, fn or ieee)")
    return replace(fmt, specials=specials)


def _parse_format_or_error(parser: AttrParser, spelling: str, pos: int) -> Format:
    try:
        return Format.parse(spelling)
    except FpqcError as e:
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


Fpq = Dialect(
    "fpq",
    [ConstantOp, LinearOp, GeluOp, QuantizeOp, DequantizeOp, QLinearOp],
    [FloatFormatType, IntFormatType, QuantAttr],
)
