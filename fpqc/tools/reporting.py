"""How the command-line tools end on an error: one line ``error: ...`` on stderr and an exit status."""

from __future__ import annotations

import sys
from collections.abc import Callable

from fpqc.errors import USER_ERRORS


def run_reporting_errors(body: Callable[[], int]) -> int:
    """``body()``'s exit status; a user error prints ``error: ...`` and gives 1, an interrupt 130.

    Running out of memory or recursion depth (a huge constant, deeply nested IR) is
    reported the same way: one line, exit status 1.
    """
    try:
        return body()
    except USER_ERRORS as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("error: out of memory: the model or one of its values is too large for this machine", file=sys.stderr)
        return 1
    except RecursionError:
        print("error: the input is nested too deeply to process", file=sys.stderr)
        return 1
