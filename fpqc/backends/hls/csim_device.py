"""The C simulation as a device: the build's kernels as a shared library, launched through ctypes.

``CsimDevice(build)`` compiles ``kernels/*.cpp`` -- the C++ Vitis HLS
compiles, unchanged -- into ``csim/libkernels.so`` and runs one launch at a
time on numpy arrays, laid out as the host lays out the kernel's ports
(``host_schedule.json``): f32 tensors as they are, low-bit codes packed into
32-bit words (:mod:`fpqc.backends.hls.codes`).  The runtime hands it every
``hls.call`` of a schedule while the host ops stay in the interpreter::

    device = CsimDevice(Path("build"))
    y, = device.launch("kernel_0", (x, w_codes, w_scales, bias))

Kernels keep no state between launches that a result depends on, so any
sequence of launches gives the same results as the interpreter's.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fpqc.backends.hls.codes import pack_codes, unpack_codes, words_for
from fpqc.backends.hls.csim import compile_kernel_library, load_schedule
from fpqc.errors import FpqcError


def _to_port(port: dict, value: np.ndarray) -> np.ndarray:
    """``value`` laid out as the port expects it in memory."""
    value = np.asarray(value)
    if list(value.shape) != port["shape"]:
        raise FpqcError(
            f"kernel port {port['name']}: got shape {list(value.shape)}, the kernel expects {port['shape']}"
        )
    if port["dtype"] == "packed_codes":
        return np.ascontiguousarray(pack_codes(value, port["bits"]))
    return np.ascontiguousarray(value, dtype="<f4")


def _empty_port(port: dict) -> np.ndarray:
    n = int(np.prod(port["shape"], dtype=np.int64))
    if port["dtype"] == "packed_codes":
        return np.zeros(words_for(n, port["bits"]), "<u4")
    return np.zeros(n, "<f4")


def _from_port(port: dict, memory: np.ndarray) -> np.ndarray:
    """The array the interpreter holds for a port's memory."""
    if port["dtype"] == "packed_codes":
        n = int(np.prod(port["shape"], dtype=np.int64))
        return unpack_codes(memory, port["bits"], n).reshape(port["shape"])
    return memory.astype(np.float32).reshape(port["shape"])


class CsimDevice:
    """The build's kernels compiled with g++ and called in-process (see module docstring)."""

    def __init__(self, build: Path) -> None:
        schedule = load_schedule(build)
        self.ports = {k["name"]: k["ports"] for k in schedule["kernels"]}
        self.library = ctypes.CDLL(str(compile_kernel_library(build)))
        self.functions = {}
        for name, ports in self.ports.items():
            function = getattr(self.library, name)
            function.restype = None
            function.argtypes = [ctypes.c_void_p] * len(ports)
            self.functions[name] = function

    def launch(self, kernel: str, args: Sequence[np.ndarray]) -> tuple[np.ndarray, ...]:
        """Run ``kernel`` on ``args`` (its input ports, in order); its results, in order."""
        ports = self.ports.get(kernel)
        if ports is None:
            raise FpqcError(f"the C simulation has no kernel {kernel}; recompile the build")
        inputs = [p for p in ports if p["direction"] == "in"]
        outputs = [p for p in ports if p["direction"] == "out"]
        if len(args) != len(inputs):
            raise FpqcError(f"kernel {kernel}: {len(args)} arguments for {len(inputs)} input ports")
        memory = [_to_port(p, a) for p, a in zip(inputs, args)] + [_empty_port(p) for p in outputs]
        self.functions[kernel](*(m.ctypes.data for m in memory))
        return tuple(_from_port(p, m) for p, m in zip(outputs, memory[len(inputs):]))
