"""The console scripts ``fpqc`` and ``fpqc-opt``: Ctrl-C at any moment ends in one line.

The tools' own modules import xDSL, numpy and torch, which takes a second or more;
these entry points import them inside the same ``KeyboardInterrupt`` guard that
covers the run, so an interrupt while starting up is reported like any other.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable


def _guarded(load: Callable[[], Callable[[], int]]) -> int:
    try:
        code = load()()
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    # The process ends now: its objects are left to the operating system.  The interpreter's last
    # collection would otherwise walk a large model's IR, garbage since the command returned
    # (VAR-d16's compile: most of a second).
    gc.freeze()
    return code


def fpqc() -> int:
    """``fpqc ...`` (see :mod:`fpqc.cli`)."""

    def load() -> Callable[[], int]:
        from fpqc.cli import main

        return main

    return _guarded(load)


def fpqc_opt() -> int:
    """``fpqc-opt ...`` (see :mod:`fpqc.tools.opt`)."""

    def load() -> Callable[[], int]:
        from fpqc.tools.opt import main

        return main

    return _guarded(load)
