"""Large files of a build written by a background thread while the compile's Python work goes on.

A VAR-d16 build writes over a gigabyte of weights (``weights.npz``, ``weights.bin``).
Copying arrays, ``zlib.crc32`` and file writes release the GIL for each
block, so a second core writes them while the main thread prints IR and emits C++.
Between blocks the writer needs the GIL back, and the main thread's pure-Python work
holds it until the interpreter's switch interval has passed: while writes are under way
that interval is 50 µs instead of 5 ms (a VAR-d16 build's weights, quantized by the writer
beside the compile's later stages: 4.2-4.8 s at 20-50 µs, 5.2-5.6 s at 0.1 ms, 6.0-6.9 s at
0.5 ms).

    with BackgroundWrites() as writes:
        writes.submit(lambda: store.save(staging / "weights.npz"))
        ...                   # the main thread's own work
        writes.wait()         # the first error of a write is raised here
    # leaving the block waits for the writes in any case: nothing writes into the
    # build directory after it (a failed compile removes its staging directory then)

Writes run one after another, in the order submitted, each in a copy of the submitter's
context (so the active weight store is theirs too).
"""

from __future__ import annotations

import contextvars
import sys
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType

SWITCH_INTERVAL_S = 0.00005


class BackgroundWrites:
    """One writer thread for a build's large files (see the module docstring)."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fpqc-writes")
        self._pending: list[Future[None]] = []
        self._switch_interval = sys.getswitchinterval()

    def submit(self, write: Callable[[], None]) -> None:
        """Run ``write`` after the writes submitted before it, in the caller's context."""
        self._pending.append(self._executor.submit(contextvars.copy_context().run, write))

    def wait(self) -> None:
        """Wait for every write submitted; raise the first one's exception, if any."""
        pending, self._pending = self._pending, []
        errors = [e for e in (future.exception() for future in pending) if e is not None]
        if errors:
            raise errors[0]

    def __enter__(self) -> BackgroundWrites:
        sys.setswitchinterval(min(SWITCH_INTERVAL_S, self._switch_interval))
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        try:
            if kind is None:
                self.wait()
        finally:
            self._executor.shutdown(wait=True, cancel_futures=True)
            sys.setswitchinterval(self._switch_interval)
