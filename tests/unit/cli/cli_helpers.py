"""Helpers for the CLI tests: run `fpqc` as a user does; the tiny VAR's export options."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

FPQC = str(Path(sys.executable).parent / "fpqc")

TINY_VAR = (
    "--depth", "2", "--patch-nums", "1,2,3,4", "--vocab", "64", "--cvae", "8",
    "--embed-dim", "128", "--heads", "2", "--classes", "10", "--small-vae", "--batch", "2",
)
"""`fpqc export-var` options of a depth-2 VAR small enough for tests (C = 128: one group of 128)."""


def run_fpqc(*args: str) -> str:
    """Run `fpqc ARGS`, fail the test with its output unless it succeeds, return stdout."""
    result = subprocess.run([FPQC, *args], capture_output=True, text=True)
    assert result.returncode == 0, f"fpqc {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout

