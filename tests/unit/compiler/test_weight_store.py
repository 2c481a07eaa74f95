"""The weight store's lazy weights: computed when read, kept or not, written one at a time."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from xdsl.dialects.builtin import DenseIntOrFPElementsAttr, DenseResourceAttr

from fpqc.files.npz import write_npz_members
from fpqc.weights import LazyWeight, WeightStore, materialize


def counting(array: np.ndarray) -> tuple[LazyWeight, list[int]]:
    """A lazy weight returning ``array``'s transposed view, and the list its reads are counted in."""
    reads: list[int] = []

    def compute() -> np.ndarray:
        reads.append(1)
        return array.T

    return LazyWeight(array.T.shape, array.dtype, compute), reads


@pytest.mark.parametrize("streaming", [False, True])
def test_get_computes_in_c_order_and_keeps_unless_streaming(streaming: bool) -> None:
    source = np.arange(12, dtype=np.float32).reshape(3, 4)
    lazy, reads = counting(source)
    store = WeightStore(streaming)
    store.add("w", lazy)
    assert store.nbytes("w") == 48 and not reads
    first = store.get("w")
    assert first.flags.c_contiguous and np.array_equal(first, source.T)
    store.get("w")
    assert len(reads) == (2 if streaming else 1)


def test_view_keeps_the_computed_order_and_nothing_else() -> None:
    source = np.arange(12, dtype=np.float32).reshape(3, 4)
    lazy, reads = counting(source)
    store = WeightStore()
    store.add("w", lazy)
    view = store.view("w")
    assert np.shares_memory(view, source) and view.flags.f_contiguous
    store.view("w")
    assert len(reads) == 2 and store.entry("w") is lazy


def test_save_writes_what_numpy_savez_writes(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    arrays = {"a": rng.standard_normal((5, 7)).astype(np.float32), "b": np.arange(9, dtype=np.uint8)}
    store = WeightStore(streaming=True)
    store.add("a", counting(np.ascontiguousarray(arrays["a"].T))[0])  # a transposed view, written in C order
    store.add("b", arrays["b"])
    store.save(tmp_path / "w.npz")
    expected = io.BytesIO()
    np.savez(expected, **arrays)
    assert (tmp_path / "w.npz").read_bytes() == expected.getvalue()


def test_members_are_produced_one_at_a_time() -> None:
    alive: list[int] = []

    def produce(n: int) -> np.ndarray:
        alive.append(n)
        return np.full(4, n, dtype=np.int64)

    order: list[list[int]] = []
    write_npz_members(io.BytesIO(), ((f"m{n}", lambda n=n: (order.append(list(alive)), produce(n))[1]) for n in range(3)))
    assert order == [[], [0], [0, 1]]  # each produced only when its turn comes


def test_materialize_without_a_store_computes_inline() -> None:
    lazy, reads = counting(np.ones((2, 2), np.float32))
    assert isinstance(materialize("w", lazy), DenseIntOrFPElementsAttr) and reads == [1]
    store = WeightStore()
    with store.activate():
        attr = materialize("w", counting(np.ones((8, 8), np.float32))[0])
    assert isinstance(attr, DenseResourceAttr) and isinstance(store.entry("w"), LazyWeight)
