"""Attention in fp32 with every reduction in a fixed order: the contract of ``fpq.attention``.

VAR's attention is not quantized (only its KV cache may be), but it runs on the
accelerator, so its fp32 arithmetic is part of the bit-exact contract: the HLS
library (``fpqc_block.h``) computes these same operations in this same order.
Every sum runs left to right, starting from its first term, each product
rounded to fp32 before it is added (no fused multiply-add)::

    l2_normalize(x)   x_i · rsqrt_f32(max(((x_0·x_0 + x_1·x_1) + ...), eps²))
    scores  s[i, j] = ((q[i,0]·k[j,0] + q[i,1]·k[j,1]) + ...)        over D
    (+ mask[i, j] when the op has an additive mask)
    top_i   = max_j s[i, j]
    e[i, j] = exp_f32(s[i, j] − top_i)
    p[i, j] = e[i, j] / ((e[i,0] + e[i,1]) + ...)                      over the keys
    o[i, d] = ((p[i,0]·v[0,d] + p[i,1]·v[1,d]) + ...)                 over the keys

:func:`attend` sees every key it is given.  VAR's block-causal mask is not a
mask here but a choice of keys: the queries of scale k attend to the keys of
scales 0..k and nothing else, so teacher forcing (:func:`block_causal_attend`,
one :func:`attend` per scale) and KV-cached generation (one :func:`attend` per
step, the earlier keys read from the cache) run the same arithmetic on the
same numbers and agree bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fpqc.numerics import ordered_loops
from fpqc.numerics.compiled_combined_rows import compiled_combined_rows
from fpqc.numerics.transcendental import rsqrt_f32


def sum_last_f32(x: np.ndarray) -> np.ndarray:
    """fp32 sum over the last axis, left to right from the first term; keeps the axis (size 1)."""
    x = np.asarray(x, np.float32)
    rows = np.ascontiguousarray(x.reshape(-1, x.shape[-1]))
    out = np.empty(rows.shape[0], np.float32)
    ordered_loops.sum_rows(rows, out)
    return out.reshape(*x.shape[:-1], 1)


def l2_normalize_f32(x: np.ndarray, eps: float) -> np.ndarray:
    """``x / max(‖x‖, eps)`` over the last axis, as ``x · rsqrt_f32(max(Σx², eps²))``."""
    x = np.asarray(x, np.float32)
    eps2 = np.float32(eps) * np.float32(eps)
    return x * rsqrt_f32(np.maximum(sum_last_f32(x * x), eps2))


def attention_heads(qkv: np.ndarray, heads: int, q_scale: np.ndarray, eps: float
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Queries, keys and values ``[B, H, L, D]`` of ``qkv`` [B, L, 3C] (the three projections side by side,
    each ``H`` heads of ``D``): ``l2_normalize(q)·q_scale[h]``, ``l2_normalize(k)`` and ``v``, in fp32, in one
    compiled pass (the same bits as :func:`l2_normalize_f32` on each head, then the product with its scale)."""
    qkv = np.ascontiguousarray(qkv, np.float32)
    b, length, width = qkv.shape
    depth = width // (3 * heads)
    q, k, v = (np.empty((b, heads, length, depth), np.float32) for _ in range(3))
    eps2 = np.float32(eps) * np.float32(eps)
    ordered_loops.attention_heads(qkv, np.ascontiguousarray(q_scale, np.float32).reshape(heads), eps2, q, k, v)
    return q, k, v


def _batched(a: np.ndarray, lead: tuple[int, ...]) -> np.ndarray:
    """``a [..., r, c]`` broadcast to ``lead + [r, c]`` as a C-contiguous float32 ``[B, r, c]``."""
    a = np.broadcast_to(np.asarray(a, np.float32), lead + a.shape[-2:])
    return np.ascontiguousarray(a).reshape(-1, *a.shape[-2:])


def scores_f32(q: np.ndarray, k: np.ndarray) -> np.ndarray:
    """``q·kᵀ`` for ``q [..., n, D]`` and ``k [..., m, D]``: ``[..., n, m]``, summed over D left to right."""
    lead = np.broadcast_shapes(np.shape(q)[:-2], np.shape(k)[:-2])
    queries = _batched(q, lead)
    keys_by_d = np.ascontiguousarray(np.swapaxes(_batched(k, lead), -1, -2))
    return _combined(queries, keys_by_d, ordered_loops.dot_rows).reshape(*lead, queries.shape[1], keys_by_d.shape[2])


def softmax_f32(s: np.ndarray) -> np.ndarray:
    """Softmax over the last axis: ``exp_f32(s − max)`` divided by its left-to-right sum."""
    s = np.asarray(s, np.float32)
    rows = np.ascontiguousarray(s.reshape(-1, s.shape[-1]))
    out = np.empty(rows.shape, np.float32)
    ordered_loops.softmax_rows(rows, out)
    return out.reshape(s.shape)


def weighted_sum_f32(p: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``p·v`` for ``p [..., n, m]`` and ``v [..., m, D]``: ``[..., n, D]``, summed over the keys left to right."""
    lead = np.broadcast_shapes(np.shape(p)[:-2], np.shape(v)[:-2])
    weights, values = _batched(p, lead), _batched(v, lead)
    return _combined(weights, values, ordered_loops.weighted_rows).reshape(*lead, weights.shape[1], values.shape[2])


def _combined(a: np.ndarray, rows: np.ndarray, loop) -> np.ndarray:
    """``Σ_r a[b, i, r]·rows[b, r, c]`` left to right ``[B, n, c]``: the C tiles
    (:mod:`fpqc.numerics.compiled_combined_rows`), or numba's ``loop`` where no C compiler is found."""
    kernel = compiled_combined_rows()
    if kernel is not None and a.shape[2] > 0:
        return kernel.combine(a, rows)
    out = np.empty((a.shape[0], a.shape[1], rows.shape[2]), np.float32)
    loop(a, rows, out)
    return out


def attend(q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Attention of queries ``q [..., n, D]`` over all keys ``k``/values ``v [..., m, D]``.

    ``q`` and ``k`` are already normalised and ``q`` scaled; ``mask`` (broadcast to
    ``[..., n, m]``) is added to the scores.
    """
    s = scores_f32(q, k)
    if mask is not None:
        s = s + np.asarray(mask, np.float32)
    return weighted_sum_f32(softmax_f32(s), v)


def block_causal_attend(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    boundaries: Sequence[int],
    cached: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Teacher-forcing attention under VAR's block-causal mask, one :func:`attend` per scale.

    The queries in ``[b_i, b_(i+1))`` attend to the keys ``[0, b_(i+1))``: those
    of their own scale from ``k``/``v``, those of earlier scales from ``cached``
    (the keys and values as a KV cache holds them) when it is given.
    """
    k_old, v_old = cached if cached is not None else (k, v)
    out = np.empty(q.shape, np.float32)
    for begin, end in zip(boundaries, boundaries[1:]):
        keys = np.concatenate([k_old[..., :begin, :], k[..., begin:end, :]], axis=-2)
        values = np.concatenate([v_old[..., :begin, :], v[..., begin:end, :]], axis=-2)
        out[..., begin:end, :] = attend(q[..., begin:end, :], keys, values)
    return out


__all__ = [
    "attend",
    "attention_heads",
    "block_causal_attend",
    "l2_normalize_f32",
    "scores_f32",
    "softmax_f32",
    "sum_last_f32",
    "weighted_sum_f32",
]
