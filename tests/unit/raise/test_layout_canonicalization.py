"""canonicalize-onnx's Reshape → Transpose → Reshape rule: a permutation exactly when the data says so."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fpqc.passes.canonicalization.onnx import transpose_equivalent


def chain(x: np.ndarray, middle: tuple[int, ...], perm: tuple[int, ...], out: tuple[int, ...]) -> np.ndarray:
    return x.reshape(middle).transpose(perm).reshape(out)


def test_dynamo_k_transpose_is_one_transpose() -> None:
    x_shape, middle, perm = (2, 4, 6, 8), (8, 6, 8), (0, 2, 1)
    moved = chain(np.arange(2 * 4 * 6 * 8).reshape(x_shape), middle, perm, (2, 4, 8, 6))
    assert transpose_equivalent(x_shape, moved) == [0, 1, 3, 2]


@settings(max_examples=200, deadline=None)
@given(
    dims=st.lists(st.integers(1, 4), min_size=2, max_size=4),
    data=st.data(),
)
def test_a_found_permutation_moves_every_element_like_the_chain(dims: list[int], data) -> None:
    x_shape = tuple(dims)
    split = data.draw(st.integers(1, len(dims) - 1))
    middle = (int(np.prod(dims[:split])), *dims[split:])
    perm = data.draw(st.permutations(range(len(middle))))
    after = tuple(middle[p] for p in perm)
    out = data.draw(st.sampled_from([o for o in itertools.permutations(dims) if np.prod(o) == np.prod(after)]))
    x = np.random.default_rng(0).standard_normal(x_shape).astype(np.float32)
    moved = chain(np.arange(x.size).reshape(x_shape), middle, tuple(perm), tuple(out))
    found = transpose_equivalent(x_shape, moved)
    if found is not None:
        assert np.array_equal(x.transpose(found), chain(x, middle, tuple(perm), tuple(out)))


@settings(max_examples=100, deadline=None)
@given(dims=st.lists(st.integers(1, 4), min_size=1, max_size=5), data=st.data())
def test_every_pure_transpose_is_found(dims: list[int], data) -> None:
    x_shape = tuple(dims)
    perm = data.draw(st.permutations(range(len(dims))))
    moved = np.arange(int(np.prod(dims))).reshape(x_shape).transpose(perm)
    found = transpose_equivalent(x_shape, moved)
    assert found is not None
    assert np.array_equal(np.arange(moved.size).reshape(x_shape).transpose(found), moved)
