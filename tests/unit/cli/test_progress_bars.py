"""Progress bars: drawn on a terminal, absent when the output is a pipe or a file (issue 13, goal 6).

The commands run as a user runs them, once on a pseudo-terminal (their stdout and stderr a tty) and once
with both captured through pipes, on the shipped digits model.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import termios
from pathlib import Path

from cli_helpers import FPQC

REPO = Path(__file__).resolve().parents[3]
DIGITS = REPO / "examples" / "digits" / "var.onnx"
BAR = re.compile(r"(\w+): +\d+%\|")  # tqdm's "compile:  40%|████ ..."


def _on_terminal(args: list[str]) -> tuple[int, str]:
    """Exit status and everything ``args`` wrote to its terminal."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # rows, columns (tqdm's width)
    child = subprocess.Popen(args, stdin=follower, stdout=follower, stderr=follower, close_fds=True)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 1 << 16)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    return child.wait(), b"".join(chunks).decode(errors="replace")


def test_bars_on_a_terminal_and_none_through_pipes(tmp_path: Path) -> None:
    commands = {
        "compile": [FPQC, "compile", str(DIGITS), "--format", "fp4", "-o", str(tmp_path / "build")],
        "generate": [FPQC, "generate", str(DIGITS), "--classes", "0", "-o", str(tmp_path / "images.npz")],
    }
    for name, args in commands.items():
        status, shown = _on_terminal(args)
        assert status == 0, shown
        assert name in BAR.findall(shown), shown  # the command's own bar, e.g. one step per compile stage
        piped = subprocess.run([*args[:-1], str(tmp_path / f"piped-{args[-1].rsplit('/', 1)[-1]}")],
                               capture_output=True, text=True)
        assert piped.returncode == 0, piped.stderr
        assert not BAR.search(piped.stdout + piped.stderr) and "\r" not in piped.stderr, piped.stderr
