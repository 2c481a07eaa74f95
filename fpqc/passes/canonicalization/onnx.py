"""Canonicalization patterns of the ``onnx`` dialect: ops that compute nothing go away.

Each pattern replaces an op by its operand (or a chain by one op) only when
the result is provably the same value, bit for bit -- with one stated
exception: adding a zero turns a ``-0.0`` into ``+0.0`` (see
:class:`RemoveNeutralOperand`).  Chains of data movement become the one op
they amount to: ``Reshape → Transpose → Reshape`` that only permutes axes (the
dynamo exporter's spelling of ``k.transpose(-2, -1)`` on merged batch and head
axes) becomes one ``Transpose``.
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
from fpqc.dialects.onnx import slice_bounds
from fpqc.passes.constants import constant_value


class RemoveSameTypeOp(RewritePattern):
    """``Cast``, ``Identity`` or ``Expand`` whose result has its operand's type → the operand.

    An ``Expand`` to the operand's own shape broadcasts nothing::

        %e = onnx.Expand %x, %shape : (tensor<2x3xf32>, tensor<2xi64>) -> tensor<2x3xf32>

    is ``%x``.
    """

    @op_type_rewrite_pattern
    def match_and_rewrite(
        self, op: onnx.CastOp | onnx.IdentityOp | onnx.ExpandOp, rewriter: PatternRewriter, /
    ) -> None:
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


_NEUTRAL_OPERANDS: dict[type[onnx.OnnxOp], tuple[int, bool]] = {
    onnx.AddOp: (0, True),
    onnx.SubOp: (0, False),
    onnx.MulOp: (1, True),
    onnx.DivOp: (1, False),
}
"""The neutral element of each arithmetic op, and whether it may stand on the left too."""


class RemoveNeutralOperand(RewritePattern):
    """``x + 0``, ``0 + x``, ``x - 0``, ``x · 1``, ``1 · x`` or ``x / 1`` → ``x``.

    The constant must be all zeros (all ones), and the result must have x's
    type: a neutral constant that broadcasts x to a larger shape stays.  ::

        %y = onnx.Add %x, %zero : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>

    is ``%x``.

    Multiplying or dividing by one, adding ``-0.0`` and subtracting ``+0.0``
    are exact.  Adding ``+0.0`` (or subtracting ``-0.0``) is exact except for
    the sign of a zero: IEEE ``-0.0 + 0.0`` is ``+0.0``, so where x holds
    ``-0.0`` the original op gave ``+0.0`` and the rewritten graph gives
    ``-0.0``.  The two are equal as numbers; they differ only in an
    operation that reads the sign of a zero: a division by it (``±inf``) or
    a quantizer (the sign bit of a zero's code; dual-format puts ``-0.0`` on
    its negative side).  In fpqc's ops a zero contributes 0 to every dot
    product and never raises a group's absmax, so its sign changes no value,
    and VAR's graph never divides by an activation that could be zero (its
    divisors are clipped norms, ``sqrt(var + eps)`` and softmax sums).  The
    exporters write these additions for zero biases (``zero_k_bias``, a
    freshly initialised ``nn.Linear``) and for ``x + 0`` spellings.
    """

    @op_type_rewrite_pattern
    def match_and_rewrite(
        self, op: onnx.AddOp | onnx.SubOp | onnx.MulOp | onnx.DivOp, rewriter: PatternRewriter, /
    ) -> None:
        neutral, either_side = _NEUTRAL_OPERANDS[type(op)]
        orders = ((op.A, op.B), (op.B, op.A)) if either_side else ((op.A, op.B),)
        for x, other in orders:
            value = constant_value(other)
            if x.type == op.result.type and value is not None and value.size > 0 and np.all(value == neutral):
                rewriter.replace(op, (), (x,))
                return


def selects_everything(
    shape: Sequence[int],
    starts: Sequence[int],
    ends: Sequence[int],
    axes: Sequence[int] | None,
    steps: Sequence[int] | None,
) -> bool:
    """Whether ONNX ``Slice`` with these inputs takes every element of a ``shape`` tensor, in order."""
    bounds = slice_bounds(shape, starts, ends, axes, steps)
    return all(range(dim)[bound] == range(dim) for bound, dim in zip(bounds, shape))


class RemoveFullSlice(RewritePattern):
    """``Slice`` that takes every element in order → its operand.

    Starts 0 (or ``-dim``), ends at or past the dim (``INT64_MAX`` for ``:``),
    steps 1, on every sliced axis -- the released VAR code's
    ``attn_bias_for_masking[:, :, :ed, :ed]`` and ``pos_1LC[:, :ed]`` with
    ``ed = L``::

        %m = onnx.Slice %bias, %zeros, %ends axes %axes : tensor<1x1x4x4xf32>, tensor<2xi64>,
            tensor<2xi64> axes tensor<2xi64> -> tensor<1x1x4x4xf32>

    is ``%bias``.  The starts, ends, axes and steps must be constants.
    """

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: onnx.SliceOp, rewriter: PatternRewriter, /) -> None:
        if op.result.type != op.data.type:
            return
        operands = (op.starts, op.ends, op.axes, op.steps)
        arrays = [None if v is None else constant_value(v) for v in operands]
        if any(v is not None and a is None for v, a in zip(operands, arrays)):
            return
        starts, ends, axes, steps = (None if a is None else a.reshape(-1).tolist() for a in arrays)
        if selects_everything(op.data.type.get_shape(), starts, ends, axes, steps):
            rewriter.replace(op, (), (op.data,))


ONNX_CANONICALIZATION_PATTERNS: tuple[RewritePattern, ...] = (
    RemoveSameTypeOp(),
    RemoveNoOpReshape(),
    CollapseReshapeChain(),
    RemoveIdentityTranspose(),
    RemoveInverseTransposes(),
    ReshapeTransposeReshapeToTranspose(),
    RemoveNeutralOperand(),
    RemoveFullSlice(),
)
