"""Classifier-free guidance and top-k / top-p sampling, in fp32 with every step in a fixed order.

The C++ host program (``host/sampling.cpp`` of a build) computes the same bits, so a seed
fixes the same tokens in both.  The filters follow the released VAR code
(``fpqc.frontend.var.generate``); every ``+ − · /`` is one fp32 operation::

    t        = float32(cfg · ratio)                    (ratio = k / (K-1), both float64)
    guided   = (1 + t)·cond − t·uncond
    top-k:   every logit below the k-th largest of its row → −inf (ties kept)
    top-p:   sort the row ascending (stable), p = softmax_f32(sorted), c_j = p_0 + ... + p_j
             left to right; the entries with float64(c_j) ≤ 1 − top_p → −inf (the largest is
             always kept)
    draw:    p = softmax_f32(filtered row), c_j = p_0 + ... + p_j left to right;
             u = the Generator's next float64 in [0, 1); the token is the number of c_j with
             float64(c_j) ≤ u · float64(c_(V-1)), at most V − 1

``softmax_f32`` is the attention's (:mod:`fpqc.numerics.attention`): ``exp_f32(x − max)``
divided by the left-to-right sum.  Draws consume ``rng.random(rows)`` once per call, rows in
row-major order.  Generation seeds ``np.random.default_rng(seed)``: numpy's SeedSequence and
PCG64 (XSL-RR 128/64), which the C++ host program reimplements.
"""

from __future__ import annotations

import numpy as np

from fpqc.numerics.attention import softmax_f32


def guided_logits(cond: np.ndarray, uncond: np.ndarray, cfg: float, ratio: float) -> np.ndarray:
    """``(1 + t)·cond − t·uncond`` with ``t = cfg · ratio``, in float32."""
    t = np.float32(cfg * ratio)
    return ((np.float32(1) + t) * cond.astype(np.float32) - t * uncond.astype(np.float32)).astype(np.float32)


def filter_top_k_top_p(logits: np.ndarray, top_k: int = 0, top_p: float = 0.0) -> np.ndarray:
    """A copy of ``logits [..., V]`` with the entries outside top-k, then outside the nucleus, at −inf."""
    return _filtered(logits, top_k, top_p)[0]


def _filtered(logits: np.ndarray, top_k: int, top_p: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`filter_top_k_top_p`'s result and its candidates: column indices ``[..., m]``, ascending, of
    each row's m largest entries, m the most entries above −inf in any row; every other entry is −inf.

    Top-p and the draw look at the candidates only and give the same bits as over the whole row: the
    entries left out are −inf, which sort first, weigh exactly 0 in a softmax and its left-to-right
    sums, and stay −inf; taking the candidates in column order keeps ties in the whole row's stable
    order.  After top-k, m is k unless there are ties at the k-th value.
    """
    out = np.array(logits, dtype=np.float32, copy=True)
    V = out.shape[-1]
    k = min(top_k, V)
    largest = None
    if k > 0:
        largest = np.argpartition(out, V - k, axis=-1)
        out[out < np.take_along_axis(out, largest[..., V - k, None], axis=-1)] = -np.inf
    candidates = _candidates(out, largest, k)
    if top_p > 0:
        values = np.take_along_axis(out, candidates, axis=-1)
        order = np.argsort(values, axis=-1, kind="stable")
        ascending = np.take_along_axis(values, order, axis=-1)
        remove_sorted = _cumulative_f32(softmax_f32(ascending)).astype(np.float64) <= np.float64(1.0 - top_p)
        remove_sorted[..., -1] = False
        out[_scattered(out.shape, np.take_along_axis(candidates, order, axis=-1), remove_sorted)] = -np.inf
    return out, candidates


def _candidates(out: np.ndarray, largest: np.ndarray | None, k: int) -> np.ndarray:
    """The candidates of :func:`_filtered`; ``largest`` an ``argpartition`` of the rows at ``V - k``, if made."""
    V = out.shape[-1]
    m = int(np.max(np.count_nonzero(out != -np.inf, axis=-1), initial=0))
    if m >= V or m == 0:  # (no entry above −inf: the whole row, as the contract has it)
        return np.broadcast_to(np.arange(V), out.shape).copy()
    if largest is None or m != k:
        largest = np.argpartition(out, V - m, axis=-1)
    return np.sort(largest[..., V - m:], axis=-1)


def _scattered(shape: tuple[int, ...], columns: np.ndarray, flags: np.ndarray) -> np.ndarray:
    """A bool array of ``shape``: ``flags`` at ``columns`` of each row, False elsewhere."""
    out = np.zeros(shape, dtype=bool)
    np.put_along_axis(out, columns, flags, axis=-1)
    return out


def _cumulative_f32(p: np.ndarray) -> np.ndarray:
    """``p_0, p_0 + p_1, ...`` over the last axis, left to right in fp32 (``np.cumsum`` adds in order)."""
    return np.cumsum(p, axis=-1, dtype=np.float32)


def sample_tokens(logits: np.ndarray, rng: np.random.Generator, top_k: int = 0, top_p: float = 0.0) -> np.ndarray:
    """One token per row of ``logits [..., V]`` (top-k, then top-p, then a draw): int64 ``[...]``.

    The draw's cumulative sum over the whole row only rises at the candidates (:func:`_filtered`), so the
    count of its entries at most ``u·c_(V-1)`` is the column of the first candidate above it (V − 1 if none).
    A row whose softmax is NaN throughout (all −inf, or a NaN logit) counts none: token 0.
    """
    filtered, candidates = _filtered(logits, top_k, top_p)
    V, m = filtered.shape[-1], candidates.shape[-1]
    columns = candidates.reshape(-1, m)
    cdf = _cumulative_f32(softmax_f32(np.take_along_axis(filtered.reshape(-1, V), columns, axis=-1))).astype(np.float64)
    u = rng.random(cdf.shape[0]) * cdf[:, -1]
    below = (cdf <= u[:, None]).sum(axis=-1)
    first_above = np.take_along_axis(columns, np.minimum(below, m - 1)[:, None], axis=-1)[:, 0]
    idx = np.where(below < m, first_above, V - 1)
    idx[np.isnan(cdf[:, -1])] = 0  # no finite weight in the row (all −inf, or NaN): every c_j is NaN, none counts
    return idx.astype(np.int64).reshape(filtered.shape[:-1])


__all__ = ["guided_logits", "filter_top_k_top_p", "sample_tokens"]
