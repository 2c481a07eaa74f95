"""Raising VAR's attention, from the packed qkv to the ``proj`` input, to ``fpq.attention``."""

from __future__ import annotations

import numpy as np
from xdsl.ir import SSAValue
from xdsl.pattern_rewriter import (
    PatternRewriter,
    RewritePattern,
    op_type_rewrite_pattern,
)

from fpqc.dialects import fpq, onnx
from fpqc.passes.constants import constant_value, new_constant
from fpqc.passes.raising.matching import (
    axes,
    commuted,
    producer,
    scalar,
    shape,
    transposed,
    unbound,
)


def _l2_normalized(value: SSAValue) -> tuple[SSAValue, float] | None:
    """(t, eps) when ``value`` is ``t / max(‖t‖₂ over the last axis, eps)``.

    Spelled ``Div(t, [Expand](Clip(ReduceL2(t, axes=[-1], keepdims=1), min=eps)))``
    (``F.normalize``).
    """
    div = producer(value, onnx.DivOp)
    if div is None:
        return None
    t, norm = div.A, div.B
    expand = producer(norm, onnx.ExpandOp)
    clip = producer(expand.input if expand is not None else norm, onnx.ClipOp)
    if clip is None or clip.max is not None:
        return None
    eps = scalar(clip.min) if clip.min is not None else None
    reduce = producer(clip.input, onnx.ReduceL2Op)
    rank = len(shape(t))
    if eps is None or eps <= 0 or reduce is None or reduce.data != t:
        return None
    if axes(reduce, rank) != [rank - 1] or reduce.keepdims.value.data != 1:
        return None
    return t, eps


def _qkv_heads(q: SSAValue, k: SSAValue, v: SSAValue) -> tuple[SSAValue, int] | None:
    """(qkv, H) when q, k, v are ``Transpose(Reshape(qkv, [B, L, 3, H, D]), [2, 0, 3, 1, 4])[0, 1, 2]``."""
    parts = [unbound(t, 0) for t in (q, k, v)]
    if any(p is None for p in parts) or len({p[0] for p in parts}) != 1 or [p[1] for p in parts] != [0, 1, 2]:
        return None
    packed = transposed(parts[0][0], [2, 0, 3, 1, 4])
    reshape = producer(packed, onnx.ReshapeOp)
    if reshape is None:
        return None
    qkv = reshape.data
    b, length, three, heads, d = shape(packed)
    if three != 3 or shape(qkv) != (b, length, 3 * heads * d):
        return None
    return qkv, heads


def _q_scale(value: SSAValue, heads: int) -> np.ndarray | None:
    """The per-head multiplier as ``[H]`` when ``value`` is a constant broadcasting like ``[1, H, 1, 1]``."""
    array = constant_value(value)
    if array is None or array.dtype != np.float32 or array.ndim > 4:
        return None
    try:
        return np.ascontiguousarray(np.broadcast_to(array, (1, heads, 1, 1)).reshape(heads))
    except ValueError:
        return None


def block_causal_boundaries(mask: np.ndarray) -> list[int] | None:
    """VAR's block-causal mask ``[..., L, L]`` (0 = attend, -inf = masked) as scale boundaries.

    Returns ``[0, b1, ..., L]`` such that a query in ``[b_k, b_k+1)`` sees
    exactly the keys ``[0, b_k+1)``, or None when ``mask`` is not of that form.
    """
    if mask.ndim < 2 or mask.shape[-1] != mask.shape[-2] or any(d != 1 for d in mask.shape[:-2]):
        return None
    square = mask.reshape(mask.shape[-2:])
    allowed = square == 0
    if not np.all(allowed | (square == -np.inf)):
        return None
    ends = allowed.sum(axis=1)
    bounds = [0, *sorted({int(e) for e in ends})]
    expected = np.repeat(np.asarray(bounds[1:]), np.diff(bounds))
    if bounds[-1] != square.shape[0] or len(expected) != len(ends) or np.any(expected != ends):
        return None
    if not np.array_equal(allowed, np.arange(square.shape[0])[None, :] < ends[:, None]):
        return None
    return bounds


class RaiseAttention(RewritePattern):
    """VAR's attention, from the packed qkv to the ``proj`` input → ``fpq.attention``.

    Matched from its last op backwards::

        %r   = onnx.Reshape %qkv, ... -> tensor<B x L x 3 x H x D>
        %t   = onnx.Transpose %r {perm = [2, 0, 3, 1, 4]}
        %q, %k, %v = unbind(%t, 0)                    (Split+Squeeze or Slice+Squeeze)
        %qn  = %q / max(ReduceL2(%q, -1), eps)         (Div, Expand?, Clip, ReduceL2)
        %qs  = onnx.Mul %qn, %scale                    (constant, [1, H, 1, 1])
        %kn  = %k / max(ReduceL2(%k, -1), eps)
        %kt  = onnx.Transpose %kn {perm = [0, 1, 3, 2]}
        %s   = onnx.MatMul %qs, %kt
        %sm  = onnx.Add %s, %mask                      (optional)
        %p   = onnx.Softmax %sm {axis = -1}
        %o   = onnx.MatMul %p, %v
        %ot  = onnx.Transpose %o {perm = [0, 2, 1, 3]}
        %out = onnx.Reshape %ot, ... -> tensor<B x L x C>

    After::

        %qs  = fpq.constant dense<[4.0, ...]> : tensor<Hxf32>
        %out = fpq.attention %qkv, %qs {num_heads = H, eps = 1.0e-12 : f32,
                                        block_causal = array<i64: 0, 1, 5, ..., L>} : ...

    A constant mask of VAR's block-causal form becomes ``block_causal``; any
    other mask is kept as the ``mask`` operand.
    """

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: onnx.ReshapeOp, rewriter: PatternRewriter, /) -> None:
        o = transposed(op.data, [0, 2, 1, 3])
        pv = producer(o, onnx.MatMulOp)
        softmax = producer(pv.A, onnx.SoftmaxOp) if pv is not None else None
        if softmax is None or softmax.axis.value.data not in (-1, 3):
            return
        scores, mask = softmax.input, None
        if (add := producer(scores, onnx.AddOp)) is not None:
            for s, m in commuted(add):
                if producer(s, onnx.MatMulOp) is not None:
                    scores, mask = s, m
                    break
        qk = producer(scores, onnx.MatMulOp)
        kt = transposed(qk.B, [0, 1, 3, 2]) if qk is not None else None
        k = _l2_normalized(kt) if kt is not None else None
        q_mul = producer(qk.A, onnx.MulOp) if qk is not None else None
        if k is None or q_mul is None:
            return
        for qn, scale in commuted(q_mul):
            q = _l2_normalized(qn)
            heads = _qkv_heads(q[0], k[0], pv.B) if q is not None else None
            if heads is None or q[1] != k[1]:
                continue
            qkv, num_heads = heads
            q_scale = _q_scale(scale, num_heads)
            if q_scale is None or shape(op.result) != (*shape(qkv)[:2], shape(qkv)[2] // 3):
                continue
            self._rewrite(rewriter, op, qkv, q_scale, num_heads, q[1], mask)
            return

    @staticmethod
    def _rewrite(
        rewriter: PatternRewriter,
        op: onnx.ReshapeOp,
        qkv: SSAValue,
        q_scale: np.ndarray,
        num_heads: int,
        eps: float,
        mask: SSAValue | None,
    ) -> None:
        scale = new_constant("attn.q_scale", q_scale)
        bounds, mask_value = None, mask
        if mask is not None and (array := constant_value(mask)) is not None:
            bounds = block_causal_boundaries(array)
            if bounds is not None and bounds[-1] == shape(qkv)[1]:
                mask_value = None
            else:
                bounds = None
        attention = fpq.AttentionOp(qkv, scale.result, num_heads, eps, bounds, mask_value)
        rewriter.replace(op, [scale, attention])
