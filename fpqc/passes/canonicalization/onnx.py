"""Canonicalization patterns of the ``onnx`` dialect: ops that compute nothing go away.

Each pattern replaces an op by its operand (or a chain by one op) only when
the result is provably the same value, bit for bit.  Chains of data movement
become the one op they amount to: ``Reshape → Transpose → Reshape`` that only
permutes axes (the dynamo exporter's spelling of ``k.transpose(-2, -1)`` on
merged batch and head axes) becomes one ``Transpose``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from xdsl.dialects.builtin import ArrayAttr, IntegerAttr, i64
from xdsl.pattern_rewriter import (
    PatternRewriter,
    RewritePattern,
    op_type_rewrite_pattern,
)

from fpqc.dialects import onnx
from fpqc.passes.constants import constant_value


class RemoveNoOpCast(RewritePattern):
    """``Cast`` or ``Identity`` to its operand's own type → the operand."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: onnx.CastOp | onnx.IdentityOp, rewriter: PatternRewriter, /) -> None:
        if op.result.type == op.input.type:
            rewriter.replace(op, (), (op.input,))


class RemoveNoOpReshape(RewritePattern):
    """``Reshape`` to its operand's own shape → the operand."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: onnx.ReshapeOp, rewriter: PatternRewriter, /) -> None:
        if op.result.type == op.data.type:
            rewriter.replace(op, (), (op.data,))


class CollapseReshapeChain(RewritePattern):
    """``Reshape(Reshape(x, s1), s2)`` → ``Reshape(x, s2)``.

    Only when ``s2`` is a constant whose every dim is explicit or ``-1``: a
    ``0`` would copy a dim of the inner result, which ``x`` may not have.
    """

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: onnx.ReshapeOp, rewriter: PatternRewriter, /) -> None:
        inner = op.data.owner
        if not isinstance(inner, onnx.ReshapeOp):
            return
        shape = constant_value(op.shape)
        if shape is None or not np.all((shape > 0) | (shape == -1)):
            return
        collapsed = onnx.ReshapeOp.build(
            operands=[inner.data, op.shape], result_types=[op.result.type], properties=dict(op.properties)
        )
        rewriter.replace(op, collapsed)


def _permutation(perm: ArrayAttr[IntegerAttr] | None, rank: int) -> list[int]:
    """A Transpose's ``perm``; ONNX reverses the axes when it is absent."""
    return list(range(rank))[::-1] if perm is None else [p.value.data for p in perm.data]


def _is_identity(perm: Sequence[int]) -> bool:
    return list(perm) == list(range(len(perm)))


class RemoveIdentityTranspose(RewritePattern):
    """``Transpose`` by the identity permutation → its operand."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: onnx.TransposeOp, rewriter: PatternRewriter, /) -> None:
        if _is_identity(_permutation(op.perm, len(op.data.type.get_shape()))):
            rewriter.replace(op, (), (op.data,))


class RemoveInverseTransposes(RewritePattern):
    """``Transpose(Transpose(x, p1), p2)`` whose permutations compose to the identity → ``x``."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: onnx.TransposeOp, rewriter: PatternRewriter, /) -> None:
        inner = op.data.owner
        if not isinstance(inner, onnx.TransposeOp):
            return
        rank = len(op.data.type.get_shape())
        first, second = _permutation(inner.perm, rank), _permutation(op.perm, rank)
        if _is_identity([first[axis] for axis in second]):
            rewriter.replace(op, (), (inner.data,))


MAX_LAYOUT_ELEMENTS = 1 << 24
"""Largest tensor whose element order a layout pattern traces (an index array of this many int64s)."""


def transpose_equivalent(x_shape: Sequence[int], moved: np.ndarray) -> list[int] | None:
    """The ``perm`` with ``x.transpose(perm) == moved`` for the index array ``moved`` of ``x``, or None.

    ``moved`` is ``arange(size).reshape(x_shape)`` after the chain of Reshapes
    and Transposes; each of its axes must step through ``x`` by one of ``x``'s
    strides.  Unit axes are matched to ``x``'s unit axes in order.
    """
    if moved.ndim != len(x_shape):
        return None
    strides = [int(np.prod(x_shape[axis + 1 :], dtype=np.int64)) for axis in range(len(x_shape))]
    perm: list[int] = []
    for axis, dim in enumerate(moved.shape):
        if dim == 1:
            candidates = [a for a in range(len(x_shape)) if x_shape[a] == 1 and a not in perm]
        else:
            step = int(np.take(moved, 1, axis=axis).flat[0]) - int(moved.flat[0])
            candidates = [a for a in range(len(x_shape)) if strides[a] == step and x_shape[a] == dim]
        if not candidates or candidates[0] in perm:
            return None
        perm.append(candidates[0])
    index = np.arange(moved.size, dtype=np.int64).reshape(x_shape)
    return perm if np.array_equal(index.transpose(perm), moved) else None


class ReshapeTransposeReshapeToTranspose(RewritePattern):
    """``Reshape(Transpose(Reshape(x)))`` that only permutes ``x``'s axes → ``Transpose(x)``.

    Found by tracing the element order of ``x`` through the chain; the
    intermediate ops stay for other users (dead-code elimination removes them).
    """

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: onnx.ReshapeOp, rewriter: PatternRewriter, /) -> None:
        transpose = op.data.owner
        if not isinstance(transpose, onnx.TransposeOp):
            return
        inner = transpose.data.owner
        if not isinstance(inner, onnx.ReshapeOp):
            return
        x = inner.data
        x_shape = x.type.get_shape()
        size = int(np.prod(x_shape, dtype=np.int64))
        if size > MAX_LAYOUT_ELEMENTS:
            return
        middle = transpose.data.type.get_shape()
        perm = _permutation(transpose.perm, len(middle))
        moved = np.arange(size, dtype=np.int64).reshape(middle).transpose(perm).reshape(op.result.type.get_shape())
        equivalent = transpose_equivalent(x_shape, moved)
        if equivalent is None:
            return
        single = onnx.TransposeOp.build(
            operands=[x],
            result_types=[op.result.type],
            properties={"perm": ArrayAttr([IntegerAttr(axis, i64) for axis in equivalent])},
        )
        rewriter.replace(op, single)


class RemoveMulByOne(RewritePattern):
    """``Mul(x, 1)`` or ``Mul(1, x)`` with a constant all-ones factor and x's type as result → ``x``."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: onnx.MulOp, rewriter: PatternRewriter, /) -> None:
        for x, one in ((op.A, op.B), (op.B, op.A)):
            value = constant_value(one)
            if x.type == op.result.type and value is not None and value.size > 0 and np.all(value == 1):
                rewriter.replace(op, (), (x,))
                return


ONNX_CANONICALIZATION_PATTERNS: tuple[RewritePattern, ...] = (
    RemoveNoOpCast(),
    RemoveNoOpReshape(),
    CollapseReshapeChain(),
    RemoveIdentityTranspose(),
    RemoveInverseTransposes(),
    ReshapeTransposeReshapeToTranspose(),
    RemoveMulByOne(),
)
