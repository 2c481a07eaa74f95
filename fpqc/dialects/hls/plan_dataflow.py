"""The dataflow entries of an ``hls.plan``: ``hls.stage`` and ``hls.stream``.

A stage is a process of the kernel's dataflow (loading ports, a part of an op, writing results) in a
DATAFLOW region; a stream is a FIFO between two stages.  Their syntax and meaning are in
:mod:`fpqc.dialects.hls.plan`'s docstring::

    hls.stage 2 "fc1.mul" lut_multiply %y region 1
    hls.stream "fc1.sums" of %y from "fc1.mul" to "fc1.combine" width 8192 depth 2
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import I64, IntegerAttr, StringAttr
from xdsl.ir import Attribute, BlockArgument, Operation, OpResult, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    irdl_op_definition,
    lazy_traits_def,
    operand_def,
    opt_prop_def,
    prop_def,
    var_operand_def,
)
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.traits import HasParent
from xdsl.utils.exceptions import VerifyException

from fpqc.dialects.hls.plan_attributes import MOVES, StageKind, StageKindAttr
from fpqc.dialects.hls.plan_syntax import int_attr, kernel_of, parse_int_after, parse_optional_value, parse_value


def _plan_op() -> type[Operation]:
    """``hls.plan``, the parent of every entry (imported late: the plan module imports this one)."""
    from fpqc.dialects.hls.plan import PlanOp

    return PlanOp


@irdl_op_definition
class StageOp(IRDLOperation):
    """``hls.stage I "name" KIND %v, ...``: one dataflow stage."""

    name = "hls.stage"

    values = var_operand_def()
    index = prop_def(IntegerAttr[I64])
    stage_name = prop_def(StringAttr)
    kind = prop_def(StageKindAttr)
    region = opt_prop_def(IntegerAttr[I64])

    traits = lazy_traits_def(lambda: (HasParent(_plan_op()),))

    def __init__(self, index: int, name: str, kind: StageKind, values: Sequence[SSAValue], region: int | None = None):
        properties: dict[str, Attribute] = {
            "index": int_attr(index), "stage_name": StringAttr(name), "kind": StageKindAttr(kind),
        }
        if region is not None:
            properties["region"] = int_attr(region)
        super().__init__(operands=[values], properties=properties)

    @property
    def region_index(self) -> int | None:
        """The DATAFLOW region of the stage; None for the kernel's load and write stages."""
        return None if self.region is None else self.region.value.data

    def ops(self) -> list[Operation]:
        """The compute ops this stage runs (none for a load or write stage)."""
        if self.kind.data in MOVES:
            return []
        return list(dict.fromkeys(v.owner for v in self.values if isinstance(v.owner, Operation)))

    def print(self, printer: Printer) -> None:
        printer.print_string(f" {self.index.value.data} ")
        printer.print_string_literal(self.stage_name.data)
        printer.print_string(f" {self.kind.data}")
        if self.values:
            printer.print_string(" ")
            printer.print_list(self.values, printer.print_operand)
        if self.region is not None:
            printer.print_string(f" region {self.region.value.data}")

    @classmethod
    def parse(cls, parser: Parser) -> StageOp:
        index = parser.parse_integer(allow_boolean=False, allow_negative=False)
        name = parser.parse_str_literal(" (the stage's name)")
        kind = StageKind(parser.parse_keyword_in(tuple(StageKind), " (a stage kind)"))
        values = parser.parse_optional_undelimited_comma_separated_list(
            lambda: parse_optional_value(parser), lambda: parse_value(parser)
        )
        region = None
        if parser.parse_optional_keyword("region") is not None:
            region = parser.parse_integer(allow_boolean=False, allow_negative=False)
        return cls(index, name, kind, values or [], region)

    def verify_(self) -> None:
        name = f"hls.stage '{self.stage_name.data}'"
        kind = self.kind.data
        kernel = kernel_of(self)
        if kind not in MOVES and not self.values:
            raise VerifyException(f"{name}: a {kind} stage names the ops it runs")
        if kind not in MOVES and self.region is None:
            raise VerifyException(f"{name}: a compute stage ({kind}) needs a region")
        if kernel is None:
            return
        returned = set(kernel.get_return_op().arguments)
        for value in self.values:
            if kind == StageKind.LOAD and not (isinstance(value, BlockArgument) and value.block is kernel.body.block):
                raise VerifyException(f"{name}: a load stage loads kernel arguments")
            if kind == StageKind.WRITE and value not in returned:
                raise VerifyException(f"{name}: a write stage writes kernel results")
            if kind not in MOVES and not isinstance(value, OpResult):
                raise VerifyException(f"{name}: a {kind} stage names ops by their results")


@irdl_op_definition
class StreamOp(IRDLOperation):
    """``hls.stream "name" of %v from "a" to "b" width W depth D``: a FIFO between two stages."""

    name = "hls.stream"

    value = operand_def()
    stream_name = prop_def(StringAttr)
    from_stage = prop_def(StringAttr)
    to_stage = prop_def(StringAttr)
    width = prop_def(IntegerAttr[I64])
    depth = prop_def(IntegerAttr[I64])
    columns = opt_prop_def(IntegerAttr[I64])

    traits = lazy_traits_def(lambda: (HasParent(_plan_op()),))

    def __init__(self, name: str, value: SSAValue, from_stage: str, to_stage: str, width: int, depth: int,
                 columns: int = 0):
        properties: dict[str, Attribute] = {
            "stream_name": StringAttr(name),
            "from_stage": StringAttr(from_stage),
            "to_stage": StringAttr(to_stage),
            "width": int_attr(width),
            "depth": int_attr(depth),
        }
        if columns:
            properties["columns"] = int_attr(columns)
        super().__init__(operands=[value], properties=properties)

    @property
    def column_tile(self) -> int:
        """Columns per column tile of a stream of rows; 0: row after row."""
        return 0 if self.columns is None else self.columns.value.data

    def print(self, printer: Printer) -> None:
        printer.print_string(" ")
        printer.print_string_literal(self.stream_name.data)
        printer.print_string(" of ")
        printer.print_operand(self.value)
        printer.print_string(" from ")
        printer.print_string_literal(self.from_stage.data)
        printer.print_string(" to ")
        printer.print_string_literal(self.to_stage.data)
        printer.print_string(f" width {self.width.value.data} depth {self.depth.value.data}")
        if self.columns is not None:
            printer.print_string(f" columns {self.columns.value.data}")

    @classmethod
    def parse(cls, parser: Parser) -> StreamOp:
        name = parser.parse_str_literal(" (the stream's name)")
        parser.parse_keyword("of")
        value = parse_value(parser)
        parser.parse_keyword("from")
        source = parser.parse_str_literal()
        parser.parse_keyword("to")
        dest = parser.parse_str_literal()
        width, depth = parse_int_after(parser, "width"), parse_int_after(parser, "depth")
        columns = 0
        if parser.parse_optional_keyword("columns") is not None:
            pos = parser.pos
            columns = parser.parse_integer(allow_boolean=False, allow_negative=False)
            if columns == 0:
                parser.raise_error("hls.stream: columns must be positive", pos)
        return cls(name, value, source, dest, width, depth, columns)

    def verify_(self) -> None:
        if self.width.value.data <= 0 or self.depth.value.data <= 0:
            raise VerifyException(f"hls.stream '{self.stream_name.data}': width and depth must be positive")
        if self.columns is not None and self.columns.value.data <= 0:
            raise VerifyException(f"hls.stream '{self.stream_name.data}': columns must be positive")


__all__ = ["StageOp", "StreamOp"]
