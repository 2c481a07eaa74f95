"""Classifier-free guidance and top-k / top-p sampling in numpy, with a seeded Generator.

The filters follow the released VAR code (``fpqc.frontend.var.generate``)::

    t       = cfg · ratio                          (ratio = k / (K-1))
    logits  = (1 + t)·cond − t·uncond              (float32)
    top-k:  every logit below the k-th largest of its row → −inf (ties kept)
    top-p:  sort ascending; the entries whose cumulative softmax mass is ≤ 1 − top_p → −inf
            (the largest logit is always kept)
    draw:   one index per row from softmax(logits) (float64) by inverse CDF on
            ``rng.random()``: the first index whose cumulative mass exceeds u·total

Draws consume ``rng.random(rows)`` once per call, rows in row-major order, so a
seed fixes every token.
"""

from __future__ import annotations

import numpy as np


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
        cumulative = np.cumsum(_softmax(ascending), axis=-1)
        remove_sorted = cumulative <= 1 - top_p
        remove_sorted[..., -1] = False
        remove = np.zeros_like(remove_sorted)
        np.put_along_axis(remove, order, remove_sorted, axis=-1)
        out[remove] = -np.inf
    return out


def _softmax(logits: np.ndarray) -> np.ndarray:
    x = logits.astype(np.float64)
    x = np.exp(x - x.max(axis=-1, keepdims=True))
    return x / x.sum(axis=-1, keepdims=True)


def sample_tokens(logits: np.ndarray, rng: np.random.Generator, top_k: int = 0, top_p: float = 0.0) -> np.ndarray:
    """One token per row of ``logits [..., V]`` (top-k, then top-p, then a draw): int64 ``[...]``."""
    filtered = filter_top_k_top_p(logits, top_k, top_p)
    V = filtered.shape[-1]
    cdf = np.cumsum(_softmax(filtered.reshape(-1, V)), axis=-1)
    u = rng.random(cdf.shape[0]) * cdf[:, -1]
    idx = np.minimum((cdf <= u[:, None]).sum(axis=-1), V - 1)
    return idx.astype(np.int64).reshape(filtered.shape[:-1])


__all__ = ["guided_logits", "filter_top_k_top_p", "sample_tokens"]
