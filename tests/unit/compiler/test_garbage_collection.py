"""seldom_collected: the collector's thresholds and frozen objects inside the block only; garbage still goes."""

from __future__ import annotations

import gc
import weakref

import pytest

from fpqc.garbage_collection import THRESHOLDS, seldom_collected


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


def test_thresholds_and_frozen_objects_only_inside_the_block() -> None:
    before = gc.get_threshold()
    with seldom_collected():
        assert gc.get_threshold() == THRESHOLDS
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_restored_when_the_block_raises() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError):
        with seldom_collected():
            raise RuntimeError("compile failed")
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_cyclic_garbage_is_still_collected() -> None:
    with seldom_collected():
        node = Node()
        alive = weakref.ref(node)
        del node
        kept = [[] for _ in range(2 * THRESHOLDS[0])]  # enough new containers to start a collection
        assert alive() is None
        del kept
