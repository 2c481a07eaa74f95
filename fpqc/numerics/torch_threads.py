"""Torch on the calling thread alone, for a block of code.

fpqc calls torch in two places where its intra-op threads hurt: GALT's small matrices (one
thread also makes the result independent of the machine's thread count) and the int8
group sums, after each of which torch's OpenMP workers spin on and take the cores from
the compiled loop that combines the groups::

    with one_torch_thread():
        ...   # torch calls run on this thread; the count torch had is restored after
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    """Set torch's intra-op threads to one inside the block, restoring the count it had."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


__all__ = ["one_torch_thread"]
