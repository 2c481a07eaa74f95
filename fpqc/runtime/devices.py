"""Where a build's kernel launches run: ``interp`` (the interpreter) or ``csim`` (the emitted C++).

One schedule, several devices: the runtime walks the same step program and
runs its host ops in the interpreter either way; only each ``hls.call`` goes
to the device.  ``csim`` compiles the build's kernels -- the C++ Vitis HLS
compiles -- into a shared library and calls them in-process
(:class:`~fpqc.backends.hls.csim_device.CsimDevice`)::

    launcher = device_launcher("csim", Path("build"))
    runtime.model.launcher = launcher
"""

from __future__ import annotations

from pathlib import Path

from fpqc.backends.hls.csim_device import CsimDevice
from fpqc.backends.interp.hls_ops import Launcher
from fpqc.errors import FpqcError

DEVICES = ("interp", "csim")


def device_launcher(device: str, build: Path) -> Launcher | None:
    """The launcher of ``device`` for the build directory ``build`` (None: the interpreter)."""
    if device == "interp":
        return None
    if device == "csim":
        if not Path(build).is_dir():
            raise FpqcError(f"{build}: --device csim runs a build directory's kernels; compile the model first")
        csim = CsimDevice(Path(build))
        return lambda call, args: csim.launch(call.callee.string_value(), args)
    raise FpqcError(f"unknown device '{device}' (use {' or '.join(DEVICES)})")


__all__ = ["DEVICES", "device_launcher"]
