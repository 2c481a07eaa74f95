"""canonicalize-onnx's data-movement rules: Reshape → Transpose → Reshape is a permutation, a Slice takes
everything, exactly when the data says so."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fpqc.dialects.onnx import slice_bounds
from fpqc.passes.canonicalization.onnx import selects_everything, transpose_equivalent


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


INT64_MAX = 2**63 - 1
SLICE_BOUNDS = st.integers(-6, 6) | st.sampled_from([INT64_MAX, -INT64_MAX, -(2**63)])


@settings(max_examples=300, deadline=None)
@given(dims=st.lists(st.integers(1, 4), min_size=1, max_size=3), data=st.data())
def test_a_slice_selects_everything_exactly_when_it_changes_nothing(dims: list[int], data) -> None:
    """On a non-empty tensor (an empty one is unchanged by any slice that keeps its shape)."""
    shape = tuple(dims)
    axes = data.draw(st.lists(st.integers(-len(dims), len(dims) - 1), min_size=1, max_size=len(dims),
                              unique_by=lambda a: a % len(dims)))
    starts = [data.draw(SLICE_BOUNDS) for _ in axes]
    ends = [data.draw(SLICE_BOUNDS) for _ in axes]
    steps = [data.draw(st.sampled_from([-2, -1, 1, 2])) for _ in axes]
    x = np.arange(int(np.prod(shape))).reshape(shape)
    taken = x[tuple(slice_bounds(shape, starts, ends, axes, steps))]
    unchanged = taken.shape == x.shape and np.array_equal(taken, x)
    assert selects_everything(shape, starts, ends, axes, steps) == unchanged
