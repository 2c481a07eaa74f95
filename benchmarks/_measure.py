"""Shared by the benchmarks: run a command as a child process and measure its wall time and peak memory."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Run:
    seconds: float  # wall time
    cpu_seconds: float  # user + system time of the process (all its threads)
    peak_bytes: int
    load: float  # 1-minute load average when the run ended

    def __str__(self) -> str:
        return f"{self.seconds:7.2f} s ({self.cpu_seconds:.2f} s CPU) {self.peak_bytes / 1e9:5.2f} GB"


def measure(args: list[str], quiet: bool = True) -> Run:
    """Run ``args`` (a child process, the repository first on PYTHONPATH); its wall time and peak RSS.

    Raises ``RuntimeError`` with the child's stderr when it fails.
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    start = time.perf_counter()
    child = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL if quiet else None, stderr=subprocess.PIPE)
    stderr = child.stderr.read() if child.stderr else b""
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({child.returncode}):\n{stderr.decode(errors='replace')}")
    return Run(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024, os.getloadavg()[0])


def python(*args: str) -> list[str]:
    """``python args...`` with this interpreter."""
    return [sys.executable, *args]


def fpqc(*args: str) -> list[str]:
    """The ``fpqc`` command of this interpreter's environment (``pip install -e .`` puts it there)."""
    return [str(Path(sys.executable).parent / "fpqc"), *args]


def model_bytes(model: Path) -> int:
    """Bytes of an ONNX model and its external data files (``var.onnx*``)."""
    return sum(p.stat().st_size for p in model.parent.glob(model.name + "*"))


def machine_memory() -> int:
    """Total memory of the machine, bytes."""
    with open("/proc/meminfo") as f:
        return int(next(line for line in f if line.startswith("MemTotal")).split()[1]) * 1024
