"""Sampling over a row's candidates gives the bits of the sampling contract's whole-row definition.

``fpqc.runtime.sampling`` runs top-p and the draw on the few entries top-k leaves (its candidates);
this file keeps the contract's whole-row form (the module docstring's, sorting and summing all V
entries) and compares tokens and filtered logits bit for bit, ties, −inf and NaN logits included.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fpqc.numerics.attention import softmax_f32
from fpqc.runtime.sampling import filter_top_k_top_p, sample_tokens


def whole_row_filter(logits: np.ndarray, top_k: int, top_p: float) -> np.ndarray:
    out = np.array(logits, dtype=np.float32, copy=True)
    V = out.shape[-1]
    if top_k > 0:
        kth = np.partition(out, V - min(top_k, V), axis=-1)[..., V - min(top_k, V), None]
        out[out < kth] = -np.inf
    if top_p > 0:
        order = np.argsort(out, axis=-1, kind="stable")
        ascending = np.take_along_axis(out, order, axis=-1)
        remove_sorted = np.cumsum(softmax_f32(ascending), axis=-1, dtype=np.float32) <= np.float64(1.0 - top_p)
        remove_sorted[..., -1] = False
        remove = np.zeros_like(remove_sorted)
        np.put_along_axis(remove, order, remove_sorted, axis=-1)
        out[remove] = -np.inf
    return out


def whole_row_sample(logits: np.ndarray, rng: np.random.Generator, top_k: int, top_p: float) -> np.ndarray:
    filtered = whole_row_filter(logits, top_k, top_p)
    V = filtered.shape[-1]
    cdf = np.cumsum(softmax_f32(filtered.reshape(-1, V)), axis=-1, dtype=np.float32).astype(np.float64)
    u = rng.random(cdf.shape[0]) * cdf[:, -1]
    idx = np.minimum((cdf <= u[:, None]).sum(axis=-1), V - 1)
    return idx.astype(np.int64).reshape(filtered.shape[:-1])


@st.composite
def logits_rows(draw):
    rows, V = draw(st.integers(1, 6)), draw(st.integers(1, 40))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if draw(st.booleans()):  # few distinct values: ties everywhere, at the k-th largest too
        logits = rng.integers(-3, 4, (rows, V)).astype(np.float32)
    else:
        logits = (rng.standard_normal((rows, V)) * draw(st.sampled_from([0.1, 3.0, 40.0]))).astype(np.float32)
    if draw(st.booleans()):
        logits[rng.random((rows, V)) < 0.3] = -np.inf  # a model may mask entries itself
    if draw(st.integers(0, 9)) == 0:
        logits[rng.random((rows, V)) < 0.1] = np.nan  # a broken model's rows sample as the contract says
    return logits


@settings(max_examples=300, deadline=None)
@given(logits_rows(), st.integers(0, 45), st.sampled_from([0.0, 0.3, 0.8, 0.9, 0.99, 1.0]), st.integers(0, 9))
def test_candidates_give_the_whole_row_bits(logits, top_k, top_p, seed):
    np.testing.assert_array_equal(filter_top_k_top_p(logits, top_k, top_p), whole_row_filter(logits, top_k, top_p))
    mine = sample_tokens(logits, np.random.default_rng(seed), top_k, top_p)
    theirs = whole_row_sample(logits, np.random.default_rng(seed), top_k, top_p)
    np.testing.assert_array_equal(mine, theirs)


def test_a_generation_sized_batch_draws_the_same_tokens():
    logits = (np.random.default_rng(5).standard_normal((10, 64, 256)) * 3).astype(np.float32)
    for top_k, top_p in [(20, 0.9), (900, 0.96), (1, 0.0), (0, 0.5)]:
        mine = sample_tokens(logits, np.random.default_rng(1), top_k, top_p)
        np.testing.assert_array_equal(mine, whole_row_sample(logits, np.random.default_rng(1), top_k, top_p))
