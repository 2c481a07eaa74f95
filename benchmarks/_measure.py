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
    steal: float | None = None  # share of the machine's CPU time its hypervisor took during the run

    def __str__(self) -> str:
        stolen = "" if self.steal is None else f", {100 * self.steal:.0f}% stolen"
        return f"{self.seconds:7.2f} s ({self.cpu_seconds:.2f} s CPU{stolen}) {self.peak_bytes / 1e9:5.2f} GB"


class StolenTime:
    """The share of the machine's CPU time a virtual machine's hypervisor gave to others between
    construction and :meth:`share` (``steal`` in ``/proc/stat``; None where there is no such file).
    On a shared machine it says more about a figure than the load average: half the CPU stolen
    doubles a run's wall time whatever its own load."""

    def __init__(self) -> None:
        self._start = self._ticks()

    @staticmethod
    def _ticks() -> tuple[int, int] | None:
        try:
            with open("/proc/stat") as f:
                fields = [int(v) for v in f.readline().split()[1:9]]
        except (OSError, ValueError):
            return None
        return fields[7], sum(fields)  # steal, all (user nice system idle iowait irq softirq steal)

    def share(self) -> float | None:
        end = self._ticks()
        if self._start is None or end is None or end[1] == self._start[1]:
            return None
        return (end[0] - self._start[0]) / (end[1] - self._start[1])


def measure(args: list[str], quiet: bool = True) -> Run:
    """Run ``args`` (a child process, the repository first on PYTHONPATH); its wall time and peak RSS.

    Raises ``RuntimeError`` with the child's stderr when it fails.
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    stolen = StolenTime()
    start = time.perf_counter()
    child = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL if quiet else None, stderr=subprocess.PIPE)
    stderr = child.stderr.read() if child.stderr else b""
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({child.returncode}):\n{stderr.decode(errors='replace')}")
    return Run(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024, os.getloadavg()[0], stolen.share())


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
