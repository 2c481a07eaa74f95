"""Checks of a model's values, run by a background thread while the caller goes on.

Refusing a NaN or an infinity in a model's weights means reading every weight: for
VAR-d16, 1.24 GB of external data, 0.7 s of numpy reductions at import and after
raising.  Reductions release the GIL, so a second core runs them while the main thread
builds and rewrites IR.  Checks run one after another in the order submitted, each in a
copy of the submitter's context (the active weight store is theirs too).  Leaving the
block waits for them; the first check that failed is the error, even when the block
itself failed after submitting it -- the error it would have met first had the checks run
in line::

    with BackgroundChecks() as checks:
        checks.submit(lambda: refuse_nan(read_entry(weight)))
        ...                            # the caller's own work
    # every check has passed, or the first failed check's error was raised
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType


class BackgroundChecks:
    """One thread running checks in order (see the module docstring)."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fpqc-checks")
        self._pending: list[Future[None]] = []

    def submit(self, check: Callable[[], None]) -> None:
        """Run ``check`` after the checks submitted before it, in the caller's context."""
        self._pending.append(self._executor.submit(contextvars.copy_context().run, check))

    def __enter__(self) -> BackgroundChecks:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        interrupted = kind is not None and not issubclass(kind, Exception)  # (Ctrl-C: stop, do not wait)
        self._executor.shutdown(wait=True, cancel_futures=interrupted)
        if not interrupted:
            for future in self._pending:
                if not future.cancelled() and future.exception() is not None:
                    raise future.exception()
