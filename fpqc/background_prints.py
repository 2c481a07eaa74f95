"""IR files printed by forked child processes while the compile's next stage runs.

A compile writes the IR after each stage (``ir/0-onnx.mlir`` ... ``model.hls.mlir``):
for VAR-d16, 1.6 MB of text and about 1.1 s of xDSL's printer, pure Python that
holds the GIL, so no thread can print beside the passes.  A child made by ``fork``
holds the module as it was when the stage ended (its memory is the parent's,
copied only where either process writes), prints it and exits, while the parent
goes on rewriting its own copy::

    with BackgroundPrints() as prints:
        run_stage(module)
        prints.submit(module, [staging / "ir/1-raised.mlir"])   # returns after the fork
        run_next_stage(module)                                 # beside the printing child
        prints.wait()          # every file is written, or the first failure is raised
    # leaving the block kills any child still printing (the compile failed)

The child only prints and writes: it takes no lock that one of the parent's other
threads (the weight writer, the checks) might have held at the fork, closes every file
descriptor it inherited but its message pipe and the standard streams (so that a pipe
the parent writes, such as the report drawer's input, ends when the parent closes it),
and leaves by ``os._exit``, running none of the parent's exit handlers or buffered output.
Where ``os.fork`` is missing, ``submit`` prints in the calling thread.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from types import TracebackType

from xdsl.dialects.builtin import ModuleOp

from fpqc.errors import FpqcError
from fpqc.printer import print_module

_FAILED = 1
"""The child's exit status when printing or writing raised; its message is on its pipe."""


class BackgroundPrints:
    """Forked children printing a module into files (see the module docstring)."""

    def __init__(self) -> None:
        self._children: list[tuple[int, int, list[Path]]] = []
        """(pid, the read end of its message pipe, the files it writes)"""

    def submit(self, module: ModuleOp, paths: list[Path]) -> None:
        """Write ``module``'s text, as it is now, into each of ``paths``."""
        if not hasattr(os, "fork"):
            _write(module, paths)
            return
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child
            status = 0
            try:
                os.closerange(3, write_end)
                os.closerange(write_end + 1, os.sysconf("SC_OPEN_MAX"))
                _write(module, paths)
            except BaseException as e:  # noqa: BLE001 -- the parent reports it
                status = _FAILED
                os.write(write_end, f"{type(e).__name__}: {e}".encode(errors="replace")[:4096])
            finally:
                os._exit(status)
        os.close(write_end)
        self._children.append((pid, read_end, paths))

    def wait(self) -> None:
        """Wait for every child; FpqcError naming the first file not written, and why."""
        children, self._children = self._children, []
        failures = []
        for pid, read_end, paths in children:
            with os.fdopen(read_end, "rb") as pipe:
                message = pipe.read().decode(errors="replace")
            _, status = os.waitpid(pid, 0)
            if status != 0:
                why = message or f"the printing process ended with status {os.waitstatus_to_exitcode(status)}"
                failures.append(f"{paths[0]}: not written ({why})")
        if failures:
            raise FpqcError(failures[0])

    def __enter__(self) -> BackgroundPrints:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if kind is None:
            self.wait()
            return
        for pid, read_end, _ in self._children:  # the compile failed: its staging directory goes next
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(read_end)
        self._children = []


def _write(module: ModuleOp, paths: list[Path]) -> None:
    text = print_module(module)
    for path in paths:
        path.write_text(text)


__all__ = ["BackgroundPrints"]
