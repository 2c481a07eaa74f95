"""Fewer garbage collections while a compile builds IR.

Python's cyclic collector runs after every 700 net allocations of container objects and
scans the younger generations; a compile of VAR-d16 creates millions of IR objects (ops,
values, attributes), so the collector ran thousands of times and took about a tenth of the
compile's CPU (``perf``: ``gc_collect_main``), finding little: the IR is alive until the
compile ends.  Inside :func:`seldom_collected` the objects alive at its start (imported
modules, dialect definitions) are frozen out of every collection and the youngest
generation is collected after 50,000 allocations instead of 700.  Garbage is still
collected, less often: a compile holds some tens of megabytes more at its peak.

    with seldom_collected():
        compile ...
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

THRESHOLDS = (50_000, 20, 100)


@contextmanager
def seldom_collected() -> Iterator[None]:
    """Freeze the objects alive now and collect with :data:`THRESHOLDS` until the block ends."""
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
