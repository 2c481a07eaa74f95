"""BackgroundWrites: writes run in order, in the submitter's context; errors reach the caller; nothing runs after."""

from __future__ import annotations

import contextvars
import sys
import threading
import time

import pytest

from fpqc.files.background_writes import SWITCH_INTERVAL_S, BackgroundWrites

NAME = contextvars.ContextVar("name", default="none")


def test_writes_run_in_order_on_another_thread_with_the_callers_context() -> None:
    done: list[tuple[int, str, str]] = []
    token = NAME.set("compile")
    try:
        with BackgroundWrites() as writes:
            for i in range(3):
                writes.submit(lambda i=i: (time.sleep(0.01 * (3 - i)),
                                           done.append((i, NAME.get(), threading.current_thread().name))))
            writes.wait()
            assert [i for i, _, _ in done] == [0, 1, 2]
    finally:
        NAME.reset(token)
    assert {name for _, name, _ in done} == {"compile"}
    assert all(thread.startswith("fpqc-writes") for _, _, thread in done)


def test_the_first_error_is_raised_by_wait_and_later_writes_still_run() -> None:
    done: list[str] = []

    def fail(message: str) -> None:
        raise OSError(28, message)

    with BackgroundWrites() as writes:
        writes.submit(lambda: fail("first"))
        writes.submit(lambda: fail("second"))
        writes.submit(lambda: done.append("third"))
        with pytest.raises(OSError, match="first"):
            writes.wait()
    assert done == ["third"]


def test_leaving_the_block_waits_for_a_write_under_way_and_raises_its_error() -> None:
    finished = threading.Event()

    def slow_failure() -> None:
        time.sleep(0.2)
        finished.set()
        raise ValueError("disk gone")

    with pytest.raises(ValueError, match="disk gone"):
        with BackgroundWrites() as writes:
            writes.submit(slow_failure)
    assert finished.is_set()


def test_an_error_of_the_caller_waits_for_the_write_under_way_and_cancels_the_rest() -> None:
    started, finished, later = threading.Event(), threading.Event(), threading.Event()

    def slow() -> None:
        started.set()
        time.sleep(0.2)
        finished.set()

    with pytest.raises(KeyError):
        with BackgroundWrites() as writes:
            writes.submit(slow)
            writes.submit(later.set)
            started.wait()
            raise KeyError("the compile failed")
    assert finished.is_set() and not later.is_set()


def test_the_switch_interval_is_short_only_inside_the_block() -> None:
    before = sys.getswitchinterval()
    with BackgroundWrites():
        assert sys.getswitchinterval() == pytest.approx(min(before, SWITCH_INTERVAL_S))
    assert sys.getswitchinterval() == before
