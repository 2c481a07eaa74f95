"""What the ops of an ``hls.plan`` share: reading and writing their custom syntax, and their checks.

The plan's ops (:mod:`fpqc.dialects.hls.plan`, :mod:`fpqc.dialects.hls.plan_dataflow`) name values
of their kernel (``%x``, defined before the plan, so their types are known) and integers after
keywords (``width 512``); each checks its names are unique and finds its kernel the same way.
"""

from __future__ import annotations

import functools

from xdsl.dialects.builtin import IntegerAttr, i64
from xdsl.ir import Operation, SSAValue
from xdsl.parser import Parser, UnresolvedOperand
from xdsl.utils.exceptions import VerifyException

from fpqc.dialects.hls.kernel import KernelOp


@functools.cache
def int_attr(value: int) -> IntegerAttr:
    """An i64 integer property (one attribute for each value: attributes are immutable, and a plan
    holds thousands of the same few integers)."""
    return IntegerAttr(value, i64)


def parse_int_after(parser: Parser, keyword: str) -> int:
    """``keyword N``: the non-negative integer N."""
    parser.parse_keyword(keyword)
    return parser.parse_integer(allow_boolean=False, allow_negative=False)


def parse_value(parser: Parser) -> SSAValue:
    """A value of the kernel named in a plan op (defined before the plan, so its type is known)."""
    return resolve_value(parser, parser.parse_unresolved_operand())


def parse_optional_value(parser: Parser) -> SSAValue | None:
    """A value of the kernel, or None when none is next."""
    operand = parser.parse_optional_unresolved_operand()
    return None if operand is None else resolve_value(parser, operand)


def resolve_value(parser: Parser, operand: UnresolvedOperand) -> SSAValue:
    """The kernel value ``operand`` names (an error naming it when the kernel has none such)."""
    values = parser.ssa_values.get(operand.operand_name)
    if values is None or operand.index >= len(values):
        parser.raise_error(f"a plan names values of its kernel; %{operand.operand_name} is not one", operand.span)
    return values[operand.index]


def kernel_of(op: Operation) -> KernelOp | None:
    """The kernel whose plan holds ``op`` (None while ``op`` is not in one)."""
    plan = op.parent_op()
    kernel = plan.parent_op() if plan is not None else None
    return kernel if isinstance(kernel, KernelOp) else None


def check_unique(names: list[str], what: str, where: str) -> None:
    """A VerifyException naming ``where`` when two of ``names`` are the same."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise VerifyException(f"{where}: two {what}s are named '{name}'")
        seen.add(name)


__all__ = [
    "check_unique",
    "int_attr",
    "kernel_of",
    "parse_int_after",
    "parse_optional_value",
    "parse_value",
    "resolve_value",
]
