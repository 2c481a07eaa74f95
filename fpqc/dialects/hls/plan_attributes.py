"""The attributes of the hardware plan: storage kinds, buffer kinds, port directions, stage kinds and
loops (``#hls.loop<n 4096 by 512 on pes>``), and the bits of a buffer's element.

The ops that use them are in :mod:`fpqc.dialects.hls.plan`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from xdsl.dialects.builtin import (
    AnyFloat,
    IntAttr,
    IntegerType,
    StringAttr,
)
from xdsl.dialects.utils import EnumAttribute
from xdsl.ir import (
    Attribute,
    ParametrizedAttribute,
    SpacedOpaqueSyntaxAttribute,
)
from xdsl.irdl import (
    irdl_attr_definition,
)
from xdsl.parser import AttrParser
from xdsl.printer import Printer
from xdsl.utils.exceptions import VerifyException
from xdsl.utils.str_enum import StrEnum

from fpqc.dialects.fpq.types import FloatFormatType, IntFormatType


class Storage(StrEnum):
    """Where an on-chip buffer lives."""

    BRAM = "bram"
    """Block RAM (36 Kb blocks)."""
    URAM = "uram"
    """UltraRAM (288 Kb blocks, 72 bits wide)."""
    LUTRAM = "lutram"
    """Distributed RAM in LUTs (64 bits per LUT)."""
    REGISTERS = "registers"
    """Flip-flops: every element readable every cycle."""


class BufferKind(StrEnum):
    """What a buffer holds of its value."""

    WHOLE = "whole"
    """All of the value the kernel keeps on chip (one row tile of it)."""
    TILE = "tile"
    """One tile of a value streamed in from its DDR port."""
    SCRATCH = "scratch"
    """Working memory of the op producing the value."""


class Direction(StrEnum):
    IN = "in"
    OUT = "out"


class StageKind(StrEnum):
    """What a dataflow stage does."""

    LOAD = "load"
    QUANTIZE = "quantize"
    TRANSFORM = "transform"
    NORMALIZE = "normalize"
    ELEMENTWISE = "elementwise"
    LUT_MULTIPLY = "lut_multiply"
    COMBINE = "combine"
    ATTENTION = "attention"
    WRITE = "write"


MOVES = (StageKind.LOAD, StageKind.WRITE)
"""The stage kinds that move ports' data; the others compute."""

PARALLEL = ("pes", "lanes", "units")
"""What a loop's tile elements may be spread over: the PE array's PEs, the lanes of a unit, or as many
units of the op as the tile has elements (an attention's heads, one per attention unit)."""


@irdl_attr_definition
class StorageAttr(EnumAttribute[Storage], SpacedOpaqueSyntaxAttribute):
    """A :class:`Storage`, ``#hls<storage uram>`` on its own."""

    name = "hls.storage"


@irdl_attr_definition
class BufferKindAttr(EnumAttribute[BufferKind], SpacedOpaqueSyntaxAttribute):
    name = "hls.buffer_kind"


@irdl_attr_definition
class DirectionAttr(EnumAttribute[Direction], SpacedOpaqueSyntaxAttribute):
    name = "hls.direction"


@irdl_attr_definition
class StageKindAttr(EnumAttribute[StageKind], SpacedOpaqueSyntaxAttribute):
    name = "hls.stage_kind"


_DIM = re.compile(r"[a-z][a-z_]*")


@irdl_attr_definition
class LoopAttr(ParametrizedAttribute):
    """One loop of a tiled op: ``#hls.loop<n 4096 by 512 on pes>``.

    Dimension name, extent, tile size, ``pad`` when the tile does not divide
    the extent (the last tile is padded), and optionally what the elements of
    a tile are spread over (``on pes``, ``on lanes`` or ``on units``).
    """

    name = "hls.loop"

    dim: StringAttr
    extent: IntAttr
    tile: IntAttr
    parallel: StringAttr
    pad: IntAttr

    @staticmethod
    def get(dim: str, extent: int, tile: int, parallel: str = "", pad: bool | None = None) -> LoopAttr:
        """The loop; ``pad`` defaults to whether ``tile`` leaves a remainder."""
        if pad is None:
            pad = extent % tile != 0 if tile > 0 else False
        return LoopAttr(StringAttr(dim), IntAttr(extent), IntAttr(tile), StringAttr(parallel), IntAttr(int(pad)))

    @property
    def trips(self) -> int:
        """Number of tiles: ``ceil(extent / tile)``."""
        return -(-self.extent.data // self.tile.data)

    def print_parameters(self, printer: Printer) -> None:
        with printer.in_angle_brackets():
            self.print_bare(printer)

    def print_bare(self, printer: Printer) -> None:
        """``n 4096 by 512 on pes``, as inside ``hls.tile``'s brackets."""
        text = f"{self.dim.data} {self.extent.data} by {self.tile.data}"
        if self.pad.data:
            text += " pad"
        if self.parallel.data:
            text += f" on {self.parallel.data}"
        printer.print_string(text)

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> Sequence[Attribute]:
        with parser.in_angle_brackets():
            return cls.parse_bare(parser).parameters

    @classmethod
    def parse_bare(cls, parser: AttrParser) -> LoopAttr:
        dim = parser.parse_identifier(" (a loop dimension such as rows, n or k)")
        extent = parser.parse_integer(allow_boolean=False, allow_negative=False)
        parser.parse_keyword("by")
        tile = parser.parse_integer(allow_boolean=False, allow_negative=False)
        pad = parser.parse_optional_keyword("pad") is not None
        parallel = ""
        if parser.parse_optional_keyword("on") is not None:
            parallel = parser.parse_keyword_in(PARALLEL, " (pes, lanes or units)")
        return LoopAttr.get(dim, extent, tile, parallel, pad)

    def verify(self) -> None:
        dim, extent, tile = self.dim.data, self.extent.data, self.tile.data
        if not _DIM.fullmatch(dim):
            raise VerifyException(f"loop dimension '{dim}' is not a lower-case name")
        if extent <= 0 or not 1 <= tile <= extent:
            raise VerifyException(f"loop {dim}: tile {tile} must be between 1 and the extent {extent}")
        if self.parallel.data not in ("", *PARALLEL):
            raise VerifyException(f"loop {dim}: 'on {self.parallel.data}' is not one of {', '.join(PARALLEL)}")
        if bool(extent % tile) != bool(self.pad.data):
            if self.pad.data:
                raise VerifyException(f"loop {dim}: tile {tile} divides {extent}; drop 'pad'")
            raise VerifyException(
                f"loop {dim}: tile {tile} does not divide {extent}; mark the remainder with 'pad'"
            )


def element_bits(element: Attribute) -> int:
    """Bits of one element of a buffer: a low-bit code's width, an integer's, a float's."""
    if isinstance(element, FloatFormatType | IntFormatType):
        return element.format.bits
    if isinstance(element, IntegerType):
        return element.width.data
    if isinstance(element, AnyFloat):
        return element.bitwidth
    raise VerifyException(f"a buffer element must be a low-bit code, an integer or a float, got {element}")


PLAN_ATTRS: tuple[type[Attribute], ...] = (LoopAttr, StorageAttr, BufferKindAttr, DirectionAttr, StageKindAttr)
