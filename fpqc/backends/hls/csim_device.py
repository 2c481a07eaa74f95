"""The C simulation as a device: the build's kernels as a shared library, launched through ctypes.

``CsimDevice(build)`` compiles ``kernels/*.cpp`` -- the C++ Vitis HLS
compiles, unchanged -- into ``csim/libkernels.so`` and runs one launch at a
time on numpy arrays, laid out as the host lays out the kernel's ports
(``host_schedule.json``): f32 tensors as they are, low-bit codes packed into
32-bit words (:mod:`fpqc.backends.hls.codes`).  The runtime hands it every
``hls.call`` of a schedule while the host ops stay in the interpreter::

    device = CsimDevice(Path("build"))
    y, = device.launch("kernel_0", (x, w_codes, w_scales, bias))

A kernel with ``max_rows`` takes the launch's token rows as its last
parameter; its row ports (``"rows": true``) then hold that many rows on axis 1.
An argument passed again and again (a weight) can be laid out once
(``device.lay_out("kernel_0", 1, w_codes)``, a :class:`LaidOut`) and passed
as such to every launch.  A scalar port (a KV-cache offset) is passed by value.  A result that updates
an argument in place (``"updates": PORT``, a KV cache) has no parameter of its
own: the device returns the argument's memory after the launch.  Kernels keep
no state between launches that a result depends on, so any sequence of
launches gives the same results as the interpreter's.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fpqc.backends.hls.codes import pack_codes, unpack_codes, words_for
from fpqc.backends.hls.csim import KERNEL_DUMP_LIBRARY, KERNEL_LIBRARY, compile_kernel_library, load_schedule
from fpqc.errors import FpqcError


def _launch_shape(port: dict, rows: int | None) -> list[int]:
    shape = list(port["shape"])
    if port.get("rows") and rows is not None:
        shape[1] = rows
    return shape


def _to_port(port: dict, value: np.ndarray, rows: int | None) -> np.ndarray:
    """``value`` laid out as the port expects it in memory."""
    value = np.asarray(value)
    if list(value.shape) != _launch_shape(port, rows):
        raise FpqcError(
            f"kernel port {port['name']}: got shape {list(value.shape)}, the kernel expects "
            f"{_launch_shape(port, rows)}"
        )
    if port["dtype"] == "packed_codes":
        words = pack_codes(value, port["bits"])
        per_word = port.get("word_bits", 32) // 32  # a wide port reads whole words of its width
        padded = np.zeros(-(-words.size // per_word) * per_word, "<u4")
        padded[: words.size] = words
        return padded
    return np.array(value, dtype="<f4", order="C", copy=True)  # a kernel may update it in place


def _empty_port(port: dict, rows: int | None) -> np.ndarray:
    n = int(np.prod(_launch_shape(port, rows), dtype=np.int64))
    if port["dtype"] == "packed_codes":
        return np.zeros(words_for(n, port["bits"]), "<u4")
    return np.zeros(n, "<f4")


def _from_port(port: dict, memory: np.ndarray, rows: int | None) -> np.ndarray:
    """The array the interpreter holds for a port's memory."""
    shape = _launch_shape(port, rows)
    if port["dtype"] == "packed_codes":
        n = int(np.prod(shape, dtype=np.int64))
        return unpack_codes(memory, port["bits"], n).reshape(shape)
    return memory.astype(np.float32).reshape(shape)


class LaidOut:
    """An argument already in its port's memory layout (:meth:`CsimDevice.lay_out`); a launch uses it as it is."""

    __slots__ = ("memory",)

    def __init__(self, memory: np.ndarray) -> None:
        self.memory = memory


def _launch_rows(kernel: dict, inputs: list[dict], args: Sequence[np.ndarray]) -> int | None:
    """The token rows of a launch of a kernel with ``max_rows`` (axis 1 of its row arguments)."""
    if kernel.get("max_rows") is None:
        return None
    rows = {np.shape(a)[1] for p, a in zip(inputs, args) if p.get("rows")}
    if len(rows) != 1 or not 0 < next(iter(rows)) <= kernel["max_rows"]:
        raise FpqcError(f"kernel {kernel['name']}: row arguments of {sorted(rows)} rows for up to {kernel['max_rows']}")
    return rows.pop()


class CsimDevice:
    """The build's kernels compiled with g++ and called in-process (see module docstring)."""

    def __init__(self, build: Path, dump: bool = False, compiled: bool = False) -> None:
        """``dump``: kernels built with ``-DFPQC_DUMP`` write every buffer to ``$FPQC_DUMP_DIR``; ``compiled``: load
        the library as another process's ``CsimDevice`` of the build left it in ``csim/``, without compiling."""
        schedule = load_schedule(build)
        self.kernels = {k["name"]: k for k in schedule["kernels"]}
        name = KERNEL_DUMP_LIBRARY if dump else KERNEL_LIBRARY
        library = Path(build) / name if compiled else compile_kernel_library(build, dump)
        self.library = ctypes.CDLL(str(library))
        self.functions = {}
        for name, kernel in self.kernels.items():
            function = getattr(self.library, name)
            function.restype = None
            function.argtypes = [
                ctypes.c_longlong if p.get("scalar") else ctypes.c_void_p
                for p in kernel["ports"] if "updates" not in p
            ] + ([ctypes.c_int] if kernel.get("max_rows") is not None else [])
            self.functions[name] = function

    def _kernel(self, kernel: str) -> dict:
        described = self.kernels.get(kernel)
        if described is None:
            raise FpqcError(f"the C simulation has no kernel {kernel}; recompile the build")
        return described

    def lay_out(self, kernel: str, index: int, value: np.ndarray) -> LaidOut:
        """Input ``index`` of ``kernel`` laid out in its port's memory once, for launches to share: a port
        the kernel neither updates in place nor sizes by the launch's rows (a weight)."""
        ports = self._kernel(kernel)["ports"]
        port = [p for p in ports if p["direction"] == "in"][index]
        if port.get("scalar") or port.get("rows") or any(p.get("updates") == port["name"] for p in ports):
            raise FpqcError(f"kernel {kernel}: port {port['name']} changes from launch to launch; pass its value")
        return LaidOut(_to_port(port, value, None))

    def launch(self, kernel: str, args: Sequence[np.ndarray | LaidOut]) -> tuple[np.ndarray, ...]:
        """Run ``kernel`` on ``args`` (its input ports, in order); its results, in order."""
        described = self._kernel(kernel)
        ports = described["ports"]
        inputs = [p for p in ports if p["direction"] == "in"]
        outputs = [p for p in ports if p["direction"] == "out"]
        if len(args) != len(inputs):
            raise FpqcError(f"kernel {kernel}: {len(args)} arguments for {len(inputs)} input ports")
        rows = _launch_rows(described, inputs, args)
        memory = {
            p["name"]: (
                a.memory if isinstance(a, LaidOut) else int(np.asarray(a)) if p.get("scalar") else _to_port(p, a, rows)
            )
            for p, a in zip(inputs, args)
        }
        memory.update({p["name"]: _empty_port(p, rows) for p in outputs if "updates" not in p})
        params = [
            memory[p["name"]] if p.get("scalar") else memory[p["name"]].ctypes.data
            for p in ports if "updates" not in p
        ]
        self.functions[kernel](*params, *([rows] if rows is not None else []))
        return tuple(_from_port(p, memory[p.get("updates", p["name"])], rows) for p in outputs)
