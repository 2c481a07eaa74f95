"""Raising VAR's attention, from the packed qkv to the ``proj`` input, to ``fpq.attention``.

The torch exporters write the same attention in several spellings; all of
them become one ``fpq.attention``:

- the scale: any constant factors that broadcast per head (scalars or
  ``[1, H, 1, 1]``) on q, on k, on kᵀ or on the scores ``q·kᵀ`` -- the
  learned ``scale_mul``, ``q.mul(scale)``, and ``Mul(q, √s)``/``Mul(kᵀ, √s)``
  around the MatMul, the way both exporters decompose
  ``F.scaled_dot_product_attention(..., scale=s)`` -- fold into the per-head
  ``q_scale`` (a ``Div`` by a constant is a factor of its reciprocal).  Their
  product is taken once in float64, so the result is the float attention,
  not bit for bit the chain of fp32 products;
- the mask: added (``Add(scores, mask)`` in either order, the additive mask a
  constant, a ``Where`` of constants -- SDPA's boolean ``attn_mask`` as
  ``Where(mask, 0, -inf)`` -- or any other value), or selected
  (``Where(mask, scores, fill)`` or ``Where(mask, fill, scores)``, the
  exporters' ``masked_fill``, with a constant boolean mask and a fill of
  ``-inf`` or ``torch.finfo(float32).min``, which becomes the additive mask
  ``fill``/0).  A boolean mask that is not a constant leaves the attention
  unraised;
- the softmax guard ``Where(IsNaN(p), 0, p)`` that SDPA with a boolean mask
  puts after the softmax (a row whose every key is masked is NaN, the guard
  makes it 0): dropped when the mask is a constant that leaves every row a
  finite score, so that for finite q and k no softmax row is NaN; with any
  other mask the attention stays unraised.

A constant mask of VAR's block-causal form becomes the ``block_causal``
attribute (masked entries ``-inf`` or ``finfo.min``: either adds a term whose
``exp`` is 0); any other mask is kept as the ``mask`` operand.
"""

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
    is_all,
    producer,
    scalar,
    shape,
    transposed,
    unbound,
)

LOWEST_F32 = float(np.finfo(np.float32).min)
"""A mask entry at most this (``-inf`` or ``torch.finfo(torch.float32).min``) masks its key out."""

Mask = SSAValue | np.ndarray
"""An additive attention mask: a value of the IR, or the array of a constant mask."""


def _l2_normalized(value: SSAValue | None) -> tuple[SSAValue, float] | None:
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


def _constant_factor(value: SSAValue | None) -> tuple[SSAValue, np.ndarray] | None:
    """(x, c) when ``value`` is ``x · c``, ``c · x`` or ``x / c`` (c then given as 1/c) that keeps x's type.

    ``c`` is an fp32 constant, returned in float64.
    """
    op = producer(value, (onnx.MulOp, onnx.DivOp))
    if op is None:
        return None
    orders = commuted(op) if isinstance(op, onnx.MulOp) else ((op.A, op.B),)
    for x, c in orders:
        array = constant_value(c)
        if array is not None and array.dtype == np.float32 and x.type == op.result.type:
            factor = array.astype(np.float64)
            return x, factor if isinstance(op, onnx.MulOp) else 1.0 / factor
    return None


def _constant_factors(value: SSAValue | None) -> tuple[SSAValue | None, list[np.ndarray]]:
    """(x, factors): ``value`` is x times the constant ``factors`` (none when it is no such product)."""
    factors: list[np.ndarray] = []
    while (found := _constant_factor(value)) is not None:
        value, factor = found
        factors.append(factor)
    return value, factors


def _per_head(factors: list[np.ndarray], heads: int) -> np.ndarray | None:
    """The product of ``factors`` as ``[H]`` fp32 when each broadcasts like ``[1, H, 1, 1]``, else None."""
    product = np.ones(heads, np.float64)
    for factor in factors:
        if factor.ndim > 4:
            return None
        try:
            product = product * np.broadcast_to(factor, (1, heads, 1, 1)).reshape(heads)
        except ValueError:
            return None
    return product.astype(np.float32)


def _softmax(value: SSAValue) -> tuple[onnx.SoftmaxOp, bool] | None:
    """(softmax, guarded) when ``value`` is a softmax over the last axis.

    ``guarded`` when it is spelled ``Where(IsNaN(p), 0, p)`` of the softmax p.
    """
    guarded = False
    if (where := producer(value, onnx.WhereOp)) is not None:
        is_nan = producer(where.condition, onnx.IsNaNOp)
        if is_nan is None or is_nan.input != where.Y or not is_all(where.X, 0) or where.result.type != where.Y.type:
            return None
        value, guarded = where.Y, True
    softmax = producer(value, onnx.SoftmaxOp)
    if softmax is None or softmax.axis.value.data not in (-1, 3):
        return None
    return softmax, guarded


def _where_of_constants(value: SSAValue) -> np.ndarray | None:
    """The fp32 array of ``Where(c, x, y)`` with constant c, x and y (SDPA's boolean mask made additive)."""
    where = producer(value, onnx.WhereOp)
    if where is None:
        return None
    arrays = [constant_value(v) for v in where.operands]
    return None if any(a is None for a in arrays) else np.where(*arrays).astype(np.float32)


def _masked_scores(value: SSAValue) -> tuple[SSAValue, Mask | None] | None:
    """(scores, mask) when the softmax input ``value`` is ``scores + mask``; None when it cannot be told.

    ``scores`` is q·kᵀ (a MatMul, with constant factors), ``mask`` None when
    there is none.  ``Where(c, scores, fill)`` keeps the scores where the
    constant ``c`` is true and is ``scores + where(c, 0, fill)`` when every
    fill is at most :data:`LOWEST_F32` (``Where(c, fill, scores)`` likewise).
    """
    if (add := producer(value, onnx.AddOp)) is not None:
        for scores, mask in commuted(add):
            if _is_qk(scores) and add.result.type == scores.type:
                array = _where_of_constants(mask)
                return scores, mask if array is None else array
    if (where := producer(value, onnx.WhereOp)) is not None:
        for scores, fill, masked_where in ((where.X, where.Y, False), (where.Y, where.X, True)):
            if not _is_qk(scores) or where.result.type != scores.type:
                continue
            condition, fill_value = constant_value(where.condition), constant_value(fill)
            if condition is None or fill_value is None or not np.all(fill_value <= LOWEST_F32):
                return None
            return scores, np.where(condition == masked_where, fill_value, 0).astype(np.float32)
    return value, None


def _is_qk(value: SSAValue) -> bool:
    """Whether ``value`` is a MatMul, possibly with constant factors."""
    return producer(_constant_factors(value)[0], onnx.MatMulOp) is not None


def _mask_array(mask: Mask | None) -> np.ndarray | None:
    """The value of a constant mask, or None."""
    return mask if isinstance(mask, np.ndarray) or mask is None else constant_value(mask)


def _no_row_all_masked(mask: Mask | None) -> bool:
    """Whether ``softmax(scores + mask)`` has no NaN for finite scores: every row keeps a finite entry.

    No mask, or a constant one without NaN or +inf with a finite entry in every row.
    """
    if mask is None:
        return True
    array = _mask_array(mask)
    return array is not None and bool(np.all(array < np.inf) and np.all(np.any(np.isfinite(array), axis=-1)))


def _normalized_q_k(scores: SSAValue) -> tuple[SSAValue, SSAValue, float, list[np.ndarray]] | None:
    """(q, k, eps, factors) when ``scores`` is ``(q / ‖q‖)·(k / ‖k‖)ᵀ`` times the constant ``factors``."""
    product, factors = _constant_factors(scores)
    qk = producer(product, onnx.MatMulOp)
    if qk is None:
        return None
    q_normalized, q_factors = _constant_factors(qk.A)
    kt, kt_factors = _constant_factors(qk.B)
    k_normalized, k_factors = _constant_factors(transposed(kt, [0, 1, 3, 2]))
    q, k = _l2_normalized(q_normalized), _l2_normalized(k_normalized)
    if q is None or k is None or q[1] != k[1]:
        return None
    return q[0], k[0], q[1], factors + q_factors + kt_factors + k_factors


def block_causal_boundaries(mask: np.ndarray) -> list[int] | None:
    """VAR's block-causal mask ``[..., L, L]`` (0 = attend, -inf = masked) as scale boundaries.

    Returns ``[0, b1, ..., L]`` such that a query in ``[b_k, b_k+1)`` sees
    exactly the keys ``[0, b_k+1)``, or None when ``mask`` is not of that form.
    A masked entry may be any value up to :data:`LOWEST_F32` (``-inf`` or
    ``finfo.min``, which SDPA's boolean mask becomes in the dynamo exporter):
    added to a score of ``fpq.attention`` (at most ``|q_scale|`` in size)
    either gives a term whose ``exp`` is exactly 0, as ``block_causal`` does.
    """
    if mask.ndim < 2 or mask.shape[-1] != mask.shape[-2] or any(d != 1 for d in mask.shape[:-2]):
        return None
    square = mask.reshape(mask.shape[-2:])
    allowed = square == 0
    if not np.all(allowed | (square <= LOWEST_F32)):
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

    Matched from its last op backwards (the spellings of scale, mask and
    softmax are in the module docstring)::

        %r   = onnx.Reshape %qkv, ... -> tensor<B x L x 3 x H x D>
        %t   = onnx.Transpose %r {perm = [2, 0, 3, 1, 4]}
        %q, %k, %v = unbind(%t, 0)                    (Split+Squeeze or Slice+Squeeze)
        %qn  = %q / max(ReduceL2(%q, -1), eps)         (Div, Expand?, Clip, ReduceL2)
        %qs  = onnx.Mul %qn, %scale                    (constant factors, per head)
        %kn  = %k / max(ReduceL2(%k, -1), eps)
        %kt  = onnx.Transpose %kn {perm = [0, 1, 3, 2]}
        %s   = onnx.MatMul %qs, %kt
        %sm  = onnx.Add %s, %mask                      (optional; or a Where)
        %p   = onnx.Softmax %sm {axis = -1}
        %o   = onnx.MatMul %p, %v
        %ot  = onnx.Transpose %o {perm = [0, 2, 1, 3]}
        %out = onnx.Reshape %ot, ... -> tensor<B x L x C>

    After::

        %qs  = fpq.constant dense<[4.0, ...]> : tensor<Hxf32>
        %out = fpq.attention %qkv, %qs {num_heads = H, eps = 1.0e-12 : f32,
                                        block_causal = array<i64: 0, 1, 5, ..., L>} : ...
    """

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: onnx.ReshapeOp, rewriter: PatternRewriter, /) -> None:
        pv = producer(transposed(op.data, [0, 2, 1, 3]), onnx.MatMulOp)
        softmax = _softmax(pv.A) if pv is not None else None
        masked = _masked_scores(softmax[0].input) if softmax is not None else None
        normalized = _normalized_q_k(masked[0]) if masked is not None else None
        if normalized is None:
            return
        guarded, mask = softmax[1], masked[1]
        q, k, eps, factors = normalized
        if guarded and not _no_row_all_masked(mask):
            return
        heads = _qkv_heads(q, k, pv.B)
        if heads is None:
            return
        qkv, num_heads = heads
        q_scale = _per_head(factors, num_heads)
        if q_scale is None or shape(op.result) != (*shape(qkv)[:2], shape(qkv)[2] // 3):
            return
        self._rewrite(rewriter, op, qkv, q_scale, num_heads, eps, mask)

    @staticmethod
    def _rewrite(
        rewriter: PatternRewriter,
        op: onnx.ReshapeOp,
        qkv: SSAValue,
        q_scale: np.ndarray,
        num_heads: int,
        eps: float,
        mask: Mask | None,
    ) -> None:
        new_ops = [new_constant("attn.q_scale", q_scale)]
        array = _mask_array(mask)
        bounds = block_causal_boundaries(array) if array is not None else None
        mask_value = None
        if bounds is None or bounds[-1] != shape(qkv)[1]:
            bounds = None
            if isinstance(mask, np.ndarray):
                mask_constant = new_constant("attn.mask", mask)
                new_ops.append(mask_constant)
                mask_value = mask_constant.result
            else:
                mask_value = mask
        attention = fpq.AttentionOp(qkv, new_ops[0].result, num_heads, eps, bounds, mask_value)
        rewriter.replace(op, [*new_ops, attention])
