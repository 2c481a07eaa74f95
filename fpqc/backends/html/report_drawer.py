"""``report.html`` drawn by a helper process, beside the compile.

The report's charts are matplotlib figures: about a second to import matplotlib and
another to draw a VAR-d16 build's charts, Python work that held the compile's main
thread at its very end.  A :class:`ReportDrawer` starts its helper when the compile
starts, so that the helper imports matplotlib while the compile reads the model; the
compile hands it the finished report and writes its other files (and waits for the
weights) while the helper draws.  The page is :func:`report_page`'s, byte for byte.

    with ReportDrawer() as drawer:          # the helper starts and imports matplotlib
        ...                                 # the compile
        page = drawer.draw(report, evaluation)
        ...                                 # the compile's last files
        (staging / "report.html").write_text(page.result())
    # the helper has exited (killed, should the compile fail before it drew)

The helper is :mod:`fpqc.backends.html.draw_page` run by a fresh interpreter (``python
-m``): it inherits none of the compile's threads or their locks, and runs none of the
caller's ``__main__``.  It reads the report and the evaluation as one JSON document on
stdin and writes the page to stdout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO
from types import TracebackType

from fpqc.errors import FpqcError

HELPER = "fpqc.backends.html.draw_page"
"""The helper's module."""

_PACKAGE_ROOT = Path(__file__).resolve().parents[3]
"""The directory holding the ``fpqc`` package, on the helper's path whatever put it on the caller's."""


class DrawnPage:
    """A page the helper is drawing; :meth:`result` waits for it."""

    def __init__(self, process: subprocess.Popen[bytes], errors: IO[bytes]) -> None:
        self._process = process
        self._errors = errors

    def result(self) -> str:
        assert self._process.stdout is not None
        with self._process.stdout:
            page = self._process.stdout.read()
        if self._process.wait() != 0:
            self._errors.seek(0)
            lines = self._errors.read().decode(errors="replace").strip().splitlines() or ["no message"]
            raise FpqcError(f"report.html: the report drawer failed ({lines[-1]})")
        return page.decode()  # the helper wrote UTF-8


class ReportDrawer:
    """A helper process that draws one report page (see the module docstring)."""

    def __init__(self) -> None:
        path = os.pathsep.join(p for p in (str(_PACKAGE_ROOT), os.environ.get("PYTHONPATH")) if p)
        self._errors = tempfile.TemporaryFile()  # not a pipe: nobody reads it while the helper runs
        self._process = subprocess.Popen(
            [sys.executable, "-m", HELPER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self._errors, env={**os.environ, "PYTHONPATH": path},
        )

    def draw(self, report: dict, evaluation: list[dict] | None = None) -> DrawnPage:
        """Have the helper draw ``report_page(report, evaluation)``; returns at once."""
        assert self._process.stdin is not None
        try:
            self._process.stdin.write(json.dumps({"report": report, "evaluation": evaluation}).encode())
            self._process.stdin.close()
        except BrokenPipeError:
            pass  # the helper is gone: DrawnPage.result reports how
        return DrawnPage(self._process, self._errors)

    def __enter__(self) -> ReportDrawer:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._process.returncode is None:  # no page was asked for, or it was not read: the compile failed
            self._process.kill()
            self._process.wait()
        for stream in (self._process.stdin, self._process.stdout, self._errors):
            if stream is not None:
                stream.close()

