"""The ``#fpq.quant`` attribute and the enums it is made of."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from xdsl.dialects.builtin import IntAttr
from xdsl.dialects.utils import EnumAttribute
from xdsl.ir import Attribute, ParametrizedAttribute, SpacedOpaqueSyntaxAttribute
from xdsl.irdl import irdl_attr_definition
from xdsl.parser import AttrParser
from xdsl.printer import Printer
from xdsl.utils.exceptions import VerifyException
from xdsl.utils.str_enum import StrEnum

from fpqc.dialects.fpq.types import (
    FloatFormatType,
    IntFormatType,
    LowBitType,
    format_type,
    parse_format_name,
)
from fpqc.numerics import ROUNDING_MODES, Format
from fpqc.numerics.scales import SCALE_KINDS


class Granularity(StrEnum):
    """Which elements share a scale, along the last (reduction) axis."""

    TENSOR = "tensor"
    """One scale for the whole tensor."""
    TOKEN = "token"
    """One scale per row of an activation."""
    CHANNEL = "channel"
    """One scale per output row of a weight."""
    GROUP = "group"
    """One scale per ``group_size`` consecutive elements of a row."""


class ScaleKind(StrEnum):
    """How a scale is stored: as an fp32 value or as a power of two (``e8m0``)."""

    FP32 = "fp32"
    E8M0 = "e8m0"


class RoundingMode(StrEnum):
    """How a value is rounded to a code; the modes of :data:`fpqc.numerics.ROUNDING_MODES`."""

    RNE = "rne"
    TIES_UP = "ties-up"
    TIES_AWAY = "ties-away"


assert tuple(ScaleKind) == SCALE_KINDS, "ScaleKind must list fpqc.numerics.scales.SCALE_KINDS"
assert tuple(RoundingMode) == ROUNDING_MODES, "RoundingMode must list fpqc.numerics.ROUNDING_MODES"


@irdl_attr_definition
class GranularityAttr(EnumAttribute[Granularity], SpacedOpaqueSyntaxAttribute):
    """A :class:`Granularity`, ``#fpq<granularity group>`` on its own."""

    name = "fpq.granularity"


@irdl_attr_definition
class ScaleKindAttr(EnumAttribute[ScaleKind], SpacedOpaqueSyntaxAttribute):
    """A :class:`ScaleKind`, ``#fpq<scale_kind e8m0>`` on its own."""

    name = "fpq.scale_kind"


@irdl_attr_definition
class RoundingModeAttr(EnumAttribute[RoundingMode], SpacedOpaqueSyntaxAttribute):
    """A :class:`RoundingMode`, ``#fpq<rounding "ties-up">`` on its own."""

    name = "fpq.rounding"


_E = TypeVar("_E", bound=StrEnum)


def _member(enum: type[_E], value: str, what: str) -> _E:
    """``value`` as a member of ``enum``; a VerifyException naming the valid values otherwise."""
    if value not in enum.__members__.values():
        raise VerifyException(f"unknown {what} '{value}' (use {', '.join(enum)})")
    return enum(value)


@irdl_attr_definition
class QuantAttr(ParametrizedAttribute):
    """How a tensor is quantized: ``#fpq.quant<e2m1, group 128>``.

    The element format, the granularity (``tensor``, ``token``, ``channel`` or
    ``group N``) and, when not the defaults, ``scale = "e8m0"`` and
    ``rounding = "ties-up"``.  Scales are taken over the last axis:
    ``token``/``channel`` mean one group spanning the whole row, ``group N``
    N consecutive elements of a row, ``tensor`` one scale for everything.
    """

    name = "fpq.quant"

    element: LowBitType
    granularity: GranularityAttr
    group_size: IntAttr
    scale_kind: ScaleKindAttr
    rounding: RoundingModeAttr

    @staticmethod
    def get(
        fmt: Format,
        granularity: str,
        group_size: int = 0,
        scale_kind: str = "fp32",
        rounding: str = "rne",
    ) -> QuantAttr:
        """The attribute of ``fmt`` with the named granularity, scale kind and rounding.

        Raises VerifyException, naming the valid values, for an unknown name, and
        for a group granularity without a positive group size.
        """
        kind = _member(Granularity, granularity, "granularity")
        mode = _member(RoundingMode, rounding, "rounding")
        scale = _member(ScaleKind, scale_kind, "scale kind")
        return QuantAttr(
            format_type(fmt),
            GranularityAttr(kind),
            IntAttr(group_size if kind == Granularity.GROUP else 0),
            ScaleKindAttr(scale),
            RoundingModeAttr(mode),
        )

    @property
    def format(self) -> Format:
        return self.element.format

    def group_size_for(self, row_length: int) -> int | None:
        """Elements per scale along a row of ``row_length``; None for per-tensor."""
        if self.granularity.data == Granularity.TENSOR:
            return None
        if self.granularity.data == Granularity.GROUP:
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
            if self.granularity.data == Granularity.GROUP:
                printer.print_string(f" {self.group_size.data}")
            if self.scale_kind.data != ScaleKind.FP32:
                printer.print_string(f', scale = "{self.scale_kind.data}"')
            if self.rounding.data != RoundingMode.RNE:
                printer.print_string(f', rounding = "{self.rounding.data}"')

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> Sequence[Attribute]:
        with parser.in_angle_brackets():
            if (element := parser.parse_optional_type()) is None:
                pos = parser.pos
                element = format_type(parse_format_name(parser, parser.parse_identifier(" (a format)"), pos))
            parser.parse_punctuation(",")
            pos = parser.pos
            word = parser.parse_identifier(" (tensor, token, channel or group)")
            granularity = _parsed_member(parser, Granularity, word, "granularity", pos)
            group_size = parser.parse_integer() if granularity == Granularity.GROUP else 0
            scale_kind, rounding = ScaleKind.FP32, RoundingMode.RNE
            while parser.parse_optional_punctuation(",") is not None:
                key = parser.parse_identifier(" (scale or rounding)")
                parser.parse_punctuation("=")
                pos = parser.pos
                value = parser.parse_str_literal()
                if key == "scale":
                    scale_kind = _parsed_member(parser, ScaleKind, value, "scale kind", pos)
                elif key == "rounding":
                    rounding = _parsed_member(parser, RoundingMode, value, "rounding", pos)
                else:
                    parser.raise_error(f"unknown #fpq.quant parameter '{key}'")
        return (
            element,
            GranularityAttr(granularity),
            IntAttr(group_size),
            ScaleKindAttr(scale_kind),
            RoundingModeAttr(rounding),
        )

    def verify(self) -> None:
        if self.granularity.data == Granularity.GROUP and self.group_size.data <= 0:
            raise VerifyException(f"group size must be positive, got {self.group_size.data}")


def _parsed_member(parser: AttrParser, enum: type[_E], value: str, what: str, pos: int) -> _E:
    """``value``, parsed at ``pos``, as a member of ``enum``; a parse error naming the valid values otherwise."""
    try:
        return _member(enum, value, what)
    except VerifyException as e:
        parser.raise_error(str(e), pos)


def _short_format_name(element: LowBitType) -> str:
    """``e2m1`` when the type has only default parameters, else the full type."""
    if isinstance(element, IntFormatType):
        return f"int{element.bits.data}"
    assert isinstance(element, FloatFormatType)
    fmt = element.format
    if Format.parse(f"e{fmt.exponent_bits}m{fmt.mantissa_bits}") == fmt:
        return f"e{fmt.exponent_bits}m{fmt.mantissa_bits}"
    return str(element)
