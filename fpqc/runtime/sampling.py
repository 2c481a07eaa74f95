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
    out = np.array(logits, dtype=np.float32, copy=True)
    V = out.shape[-1]
    if top_k > 0:
        kth = np.partition(out, V - min(top_k, V), axis=-1)[..., V - min(top_k, V), None]
        out[out < kth] = -np.inf
    if top_p > 0:
        order = np.argsort(out, axis=-1, kind="stable")
        ascending = np.take_along_axis(out, order, axis=-1)
        remove_sorted = _cumulative_f32(softmax_f32(ascending)).astype(np.float64) <= np.float64(1.0 - top_p)
        remove_sorted[..., -1] = False
        remove = np.zeros_like(remove_sorted)
        np.put_along_axis(remove, order, remove_sorted, axis=-1)
        out[remove] = -np.inf
    return out


def _cumulative_f32(p: np.ndarray) -> np.ndarray:
    """``p_0, p_0 + p_1, ...`` over the last axis, left to right in fp32 (``np.cumsum`` adds in order)."""
    return np.cumsum(p, axis=-1, dtype=np.float32)


def sample_tokens(logits: np.ndarray, rng: np.random.Generator, top_k: int = 0, top_p: float = 0.0) -> np.ndarray:
    """One token per row of ``logits [..., V]`` (top-k, then top-p, then a draw): int64 ``[...]``."""
    filtered = filter_top_k_top_p(logits, top_k, top_p)
    V = filtered.shape[-1]
    cdf = _cumulative_f32(softmax_f32(filtered.reshape(-1, V))).astype(np.float64)
    u = rng.random(cdf.shape[0]) * cdf[:, -1]
    idx = np.minimum((cdf <= u[:, None]).sum(axis=-1), V - 1)
    return idx.astype(np.int64).reshape(filtered.shape[:-1])


__all__ = ["guided_logits", "filter_top_k_top_p", "sample_tokens"]
