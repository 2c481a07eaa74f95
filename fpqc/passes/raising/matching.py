"""Matching ``onnx`` subgraphs by structure: producers, constants, axes, unbinds."""

from __future__ import annotations

from typing import TypeVar

import numpy as np
from xdsl.dialects.builtin import ArrayAttr, IntegerAttr
from xdsl.ir import Operation, SSAValue

from fpqc.dialects import onnx
from fpqc.passes.constants import constant_value

CONST_TOLERANCE = 1e-6

_OpT = TypeVar("_OpT", bound=Operation)


def producer(value: SSAValue | None, kind: type[_OpT] | tuple[type[_OpT], ...]) -> _OpT | None:
    """The op of type ``kind`` producing ``value``, or None."""
    owner = value.owner if value is not None else None
    return owner if isinstance(owner, kind) else None


def single_user(value: SSAValue) -> Operation | None:
    uses = list(value.uses)
    return uses[0].operation if len(uses) == 1 else None


def shape(value: SSAValue) -> tuple[int, ...]:
    return tuple(value.type.get_shape())


def scalar(value: SSAValue) -> float | None:
    """The value of a one-element constant, or None."""
    array = constant_value(value)
    if array is None or array.size != 1:
        return None
    return float(array.reshape(()))


def close(a: float | None, b: float) -> bool:
    return a is not None and abs(a - b) <= CONST_TOLERANCE * max(1.0, abs(b))


def is_all(value: SSAValue | None, number: float) -> bool:
    """Whether ``value`` is a non-empty constant whose every element is ``number``."""
    array = constant_value(value) if value is not None else None
    return array is not None and array.size > 0 and bool(np.all(array == number))


def ints(value: SSAValue | None) -> list[int] | None:
    """The elements of an integer constant, or None."""
    array = constant_value(value) if value is not None else None
    if array is None or not np.issubdtype(array.dtype, np.integer):
        return None
    return [int(v) for v in array.reshape(-1)]


def int_list(attr: ArrayAttr[IntegerAttr] | None) -> list[int] | None:
    return None if attr is None else [a.value.data for a in attr.data]


def axes(op: onnx.SqueezeOp | onnx.ReduceL2Op | onnx.SliceOp, rank: int) -> list[int] | None:
    """The constant ``axes`` input of Squeeze/ReduceL2/Slice, non-negative, or None."""
    found = ints(op.axes)
    return None if found is None else [a % rank for a in found]


def commuted(op: Operation) -> tuple[tuple[SSAValue, SSAValue], ...]:
    """The operands of a binary op in both orders."""
    a, b = op.operands
    return ((a, b), (b, a))


def squeezed(value: SSAValue, axis: int) -> SSAValue | None:
    """x when ``value`` is ``Squeeze(x, axes=[axis])`` (or a Reshape dropping that unit axis)."""
    op = producer(value, (onnx.SqueezeOp, onnx.ReshapeOp))
    if op is None:
        return None
    x = op.operands[0]
    dims = shape(x)
    if len(dims) <= axis or dims[axis] != 1:
        return None
    if isinstance(op, onnx.SqueezeOp) and axes(op, len(dims)) != [axis]:
        return None
    if shape(value) != dims[:axis] + dims[axis + 1 :]:
        return None
    return x


def unbound(value: SSAValue, axis: int) -> tuple[SSAValue, int] | None:
    """(source, i) when ``value`` is ``source[i]`` along ``axis`` (torch's ``unbind``).

    Spelled ``Squeeze(Split(source, axis)[i])`` (TorchScript exporter) or
    ``Squeeze(Slice(source, starts=[i], ends=[i+1], axes=[axis]))`` (dynamo).
    """
    piece = squeezed(value, axis)
    op = producer(piece, (onnx.SplitOp, onnx.SliceOp))
    if op is None:
        return None
    source = op.operands[0]
    rank = len(shape(source))
    if isinstance(op, onnx.SplitOp):
        if op.axis.value.data % rank != axis:
            return None
        sizes = ints(op.split)
        if sizes is not None and set(sizes) != {1}:
            return None
        return source, op.results.index(piece)
    starts, ends = ints(op.starts), ints(op.ends)
    steps = ints(op.steps) if op.steps is not None else [1]
    sliced = axes(op, rank) if op.axes is not None else list(range(len(starts or [])))
    if starts is None or ends is None or sliced != [axis] or steps != [1]:
        return None
    size = shape(source)[axis]
    start = starts[0] + size if starts[0] < 0 else starts[0]
    if not 0 <= start < size or min(ends[0] + size if ends[0] < 0 else ends[0], size) != start + 1:
        return None
    return source, start


def transposed(value: SSAValue, perm: list[int]) -> SSAValue | None:
    """x when ``value`` is ``Transpose(x)`` by ``perm`` (given explicitly)."""
    op = producer(value, onnx.TransposeOp)
    return op.data if op is not None and int_list(op.perm) == perm else None
