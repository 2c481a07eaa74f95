"""IR files printed, and verified, by forked child processes while the compile's next stage runs.

A compile writes the IR after each stage (``ir/0-onnx.mlir`` ... ``model.hls.mlir``):
for VAR-d16, 1.6 MB of text and about 1.1 s of xDSL's printer, pure Python that
holds the GIL, so no thread can print beside the passes.  A child made by ``fork``
holds the module as it was when the stage ended (its memory is the parent's,
copied only where either process writes), prints it and exits, while the parent
goes on rewriting its own copy.  A child can verify that module first (``check``),
so that verifying a stage does not hold the passes up either::

    with BackgroundPrints() as prints:
        run_stage(module)
        prints.submit(module, [staging / "ir/1-raised.mlir"], check=verify_raised)   # returns after the fork
        run_next_stage(module)                                 # beside the child
        prints.wait()     # every file is written, or the first check's error (else a write's) is raised
    # leaving the block on an error kills the children, once each check has given its verdict

A check's :class:`~fpqc.errors.FpqcError` is the compile's error, even when the block failed
after submitting it: the stages after an invalid one may fail for that very reason, and the
invalid stage is what the user needs to hear about (as with
:class:`~fpqc.background_checks.BackgroundChecks`).

The child only verifies, prints and writes: it takes no lock that one of the parent's other
threads (the weight writer, the checks) might have held at the fork, closes every file
descriptor it inherited but its message pipe and the standard streams (so that a pipe
the parent writes, such as the report drawer's input, ends when the parent closes it),
and leaves by ``os._exit``, running none of the parent's exit handlers or buffered output.
Where ``os.fork`` is missing, ``submit`` checks and prints in the calling thread.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from xdsl.dialects.builtin import ModuleOp

from fpqc.errors import FpqcError
from fpqc.printer import print_module

_VERIFIED, _REFUSED, _FAILED = b"V", b"E", b"F"
"""What a child writes on its pipe: its check passed; its check's error follows; printing or writing
failed, the exception follows."""


class BackgroundPrints:
    """Forked children verifying and printing a module into files (see the module docstring)."""

    def __init__(self) -> None:
        self._children: list[tuple[int, int, list[Path], bool]] = []
        """(pid, the read end of its message pipe, the files it writes, whether it checks first)"""

    def submit(self, module: ModuleOp, paths: list[Path], check: Callable[[ModuleOp], None] | None = None) -> None:
        """Write ``module``'s text, as it is now, into each of ``paths``, after ``check(module)`` (which raises
        :class:`FpqcError` for a module it refuses) when given."""
        if not hasattr(os, "fork"):
            if check is not None:
                check(module)
            _write(module, paths)
            return
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child
            status = 0
            try:
                os.closerange(3, write_end)
                os.closerange(write_end + 1, os.sysconf("SC_OPEN_MAX"))
                if check is not None:
                    try:
                        check(module)
                    except FpqcError as e:
                        os.write(write_end, _REFUSED + str(e).encode(errors="replace")[:4096])
                        os._exit(1)
                    os.write(write_end, _VERIFIED)
                _write(module, paths)
            except BaseException as e:  # noqa: BLE001 -- the parent reports it
                status = 1
                os.write(write_end, _FAILED + f"{type(e).__name__}: {e}".encode(errors="replace")[:4096])
            finally:
                os._exit(status)
        os.close(write_end)
        self._children.append((pid, read_end, paths, check is not None))

    def wait(self) -> None:
        """Wait for every child; FpqcError: the first refused check's, else one naming the first file not
        written, and why."""
        children, self._children = self._children, []
        refusals, failures = [], []
        for pid, read_end, paths, _ in children:
            with os.fdopen(read_end, "rb") as pipe:
                message = pipe.read()
            _, status = os.waitpid(pid, 0)
            message = message.removeprefix(_VERIFIED)
            if message.startswith(_REFUSED):
                refusals.append(message[1:].decode(errors="replace"))
            elif status != 0:
                why = message[1:].decode(errors="replace") or (
                    f"the printing process ended with status {os.waitstatus_to_exitcode(status)}")
                failures.append(f"{paths[0]}: not written ({why})")
        if refusals or failures:
            raise FpqcError((refusals or failures)[0])

    def __enter__(self) -> BackgroundPrints:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if kind is None:
            self.wait()
            return
        children, self._children = self._children, []
        refusal = None
        for pid, read_end, _, checks in children:  # the compile failed: its staging directory goes next
            with os.fdopen(read_end, "rb") as pipe:
                if checks and pipe.read(1) == _REFUSED and refusal is None:  # its verdict first
                    refusal = pipe.read().decode(errors="replace")
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        if refusal is not None and not isinstance(error, KeyboardInterrupt):
            raise FpqcError(refusal) from error


def _write(module: ModuleOp, paths: list[Path]) -> None:
    text = print_module(module)
    for path in paths:
        path.write_text(text)


__all__ = ["BackgroundPrints"]
