"""Scratch directories and files that a killed fpqc leaves behind, and their removal next time.

A scratch path carries the process id that made it (``fpqc-verify-<pid>-<random>``,
``<name>.<pid>.tmp.o``): an interruption fpqc sees (an error, Ctrl-C) removes it
at once; a process killed outright leaves it, and the next fpqc run that makes
scratch of the same kind removes those whose process is gone.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (one of another user counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_dead(directory: Path, pattern: str) -> None:
    """Remove the entries of ``directory`` matching ``pattern`` (its group 1 a pid) whose process is gone."""
    regex = re.compile(pattern)
    try:
        entries = list(directory.iterdir())
    except OSError:
        return
    for path in entries:
        match = regex.fullmatch(path.name)
        if match is None or pid_alive(int(match.group(1))) or path.is_symlink():
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


@contextmanager
def scratch_directory(kind: str) -> Iterator[Path]:
    """A temporary directory ``<tmp>/fpqc-<kind>-<pid>-<random>``, removed on exit.

    Dead processes' directories of the same kind are removed first.
    """
    root = Path(tempfile.gettempdir())
    remove_dead(root, rf"fpqc-{re.escape(kind)}-(\d+)-\w+")
    with tempfile.TemporaryDirectory(prefix=f"fpqc-{kind}-{os.getpid()}-", dir=root) as tmp:
        yield Path(tmp)
