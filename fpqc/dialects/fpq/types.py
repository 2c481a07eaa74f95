"""The ``fpq`` element types of low-bit codes, and the fp32 tensor type of float values."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TypeAlias

from xdsl.dialects.builtin import Float32Type, IntAttr, StringAttr, TensorType
from xdsl.ir import Attribute, ParametrizedAttribute, TypeAttribute
from xdsl.irdl import irdl_attr_definition
from xdsl.parser import AttrParser
from xdsl.printer import Printer
from xdsl.utils.exceptions import VerifyException

from fpqc.numerics import Format, NumericsError

F32Tensor: TypeAlias = TensorType[Float32Type]
"""A ranked tensor of f32 elements: the type of every float value of the dialect."""


@irdl_attr_definition
class FloatFormatType(ParametrizedAttribute, TypeAttribute):
    """A low-bit float element type, ``!fpq.float<e2m1>``.

    Non-default parameters are spelled out: ``!fpq.float<e3m4, bias = 5>``,
    ``!fpq.float<e4m3, specials = "ieee">``.
    """

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
            fmt = parse_format_name(parser, spelling, pos)
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
    """A symmetric two's-complement integer grid, ``!fpq.int<4>``, for the INT baselines."""

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


LowBitType: TypeAlias = FloatFormatType | IntFormatType
"""The element type of a tensor of low-bit codes (one uint8 code per element)."""


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


def parse_format_name(parser: AttrParser, spelling: str, pos: int) -> Format:
    """The format named ``spelling``; a parse error at ``pos`` if there is none."""
    try:
        return Format.parse(spelling)
    except NumericsError as e:
        parser.raise_error(str(e), pos)


def format_type(fmt: Format) -> LowBitType:
    """The element type of tensors holding codes of ``fmt``."""
    if fmt.kind == "int":
        return IntFormatType.from_format(fmt)
    return FloatFormatType.from_format(fmt)
