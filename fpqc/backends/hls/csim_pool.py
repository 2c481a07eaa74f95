"""The C simulation in worker processes: independent launches side by side, one per core.

A launch's results depend only on its arguments (kernels keep no state between
launches, :mod:`~fpqc.backends.hls.csim_device`), so launches whose arguments
are known run at the same time in ``jobs`` processes, each with the build's
kernels loaded.  A weight argument is not sent through a pipe: the caller names
its key in the build's ``weights.npz`` and the worker reads it there and lays it
out in its port's memory (packed codes) once::

    pool = CsimPool(Path("build"), jobs=2)
    future = pool.submit("kernel_0", (x, w_codes, w_scales), stored=(None, "fc1.codes", "fc1.scales"))
    y, = CsimPool.result(future)   # a worker that died is one FpqcError
    pool.close()

The kernels must be compiled first (``CsimDevice(build)`` in the caller): the
workers load ``csim/libkernels.so`` as it is (``CsimDevice(build, compiled=True)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from fpqc.backends.hls.csim_device import CsimDevice
from fpqc.errors import FpqcError
from fpqc.files.build_directory import BUILD_WEIGHTS
from fpqc.files.npz import open_npz


class CsimPool:
    """``jobs`` worker processes C-simulating the build's launches (see module docstring)."""

    def __init__(self, build: Path, jobs: int) -> None:
        self.jobs = jobs
        self.executor = ProcessPoolExecutor(
            jobs, mp_context=get_context("spawn"), initializer=_start_worker, initargs=(str(build),)
        )

    def submit(self, kernel: str, args: Sequence[Any], stored: Sequence[str | None]) -> Future:
        """Launch ``kernel`` on ``args``; ``stored[i]``: the weights.npz key that holds argument i (then it is
        read there instead of sent), or None.  The future's result is the launch's results."""
        sent = tuple(_Stored(key) if key is not None else arg for arg, key in zip(args, stored, strict=True))
        try:
            return self.executor.submit(_launch, kernel, sent)
        except BrokenProcessPool:
            raise _worker_died() from None

    @staticmethod
    def result(future: Future) -> tuple[np.ndarray, ...]:
        """A launch's results, or one FpqcError when a worker died."""
        try:
            return future.result()
        except BrokenProcessPool:
            raise _worker_died() from None

    def close(self) -> None:
        """Stop the workers; launches not yet started are dropped."""
        self.executor.shutdown(cancel_futures=True)


def _worker_died() -> FpqcError:
    return FpqcError("a C-simulation worker process died (killed, or out of memory); run with --jobs 1")


class _Stored:
    """An argument the worker reads from the build's weights."""

    __slots__ = ("key",)

    def __init__(self, key: str) -> None:
        self.key = key


_WORKER: dict[str, Any] = {}
"""A worker process's C simulation, the build's weights, and those it has laid out, by (kernel, argument, key)."""


def _start_worker(build: str) -> None:
    device = CsimDevice(Path(build), compiled=True)
    _WORKER.update(device=device, weights=open_npz(Path(build) / BUILD_WEIGHTS, "weights"), read={})


def _launch(kernel: str, args: tuple) -> tuple[np.ndarray, ...]:
    device, read = _WORKER["device"], _WORKER["read"]
    for index, arg in enumerate(args):
        if isinstance(arg, _Stored) and (kernel, index, arg.key) not in read:
            read[kernel, index, arg.key] = device.lay_out(kernel, index, _WORKER["weights"][arg.key])
    return device.launch(kernel, tuple(read[kernel, i, a.key] if isinstance(a, _Stored) else a
                                       for i, a in enumerate(args)))
