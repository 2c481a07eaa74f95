"""C simulation of a build: compile the emitted C++ with g++ and run it on numpy inputs.

The kernels and ``csim/csim_main.cpp`` are compiled with
``-std=gnu++14 -O2 -ffp-contract=off -fno-fast-math`` (C++14 plus the hex-float
literals the generated tables use; Vitis HLS's clang accepts them too) against the Xilinx
``ap_int`` headers: ``$XILINX_HLS/include`` when Vitis HLS is installed,
otherwise the copy bundled with the ``hls4ml`` package.  ``run_csim`` writes
each input as a raw little-endian float32 file named after its ONNX tensor,
runs the executable and reads the outputs back the same way.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from fpqc.errors import FpqcError

CXXFLAGS = ("-std=gnu++14", "-O2", "-ffp-contract=off", "-fno-fast-math")


def ap_types_include() -> Path:
    """The directory holding ``ap_int.h``."""
    xilinx = os.environ.get("XILINX_HLS")
    if xilinx:
        return Path(xilinx) / "include"
    try:
        import hls4ml
    except ImportError:
        raise FpqcError(
            "no ap_int.h: set XILINX_HLS to a Vitis HLS installation or `pip install hls4ml`"
        ) from None
    return Path(hls4ml.__file__).parent / "templates" / "vivado" / "ap_types"


def load_schedule(build_dir: Path) -> dict:
    path = Path(build_dir) / "host_schedule.json"
    if not path.is_file():
        raise FpqcError(f"{build_dir}: no host_schedule.json; not an fpqc build directory")
    return json.loads(path.read_text())


def compile_csim(build_dir: Path, dump: bool = False) -> Path:
    """Compile the build's C simulation; return the executable (``csim/csim``, ``csim/csim_dump``)."""
    build_dir = Path(build_dir)
    schedule = load_schedule(build_dir)
    if schedule["csim"] != "supported":
        raise FpqcError(f"{build_dir}: cannot C-simulate this build: {schedule['csim']}")
    kernels = build_dir / "kernels"
    exe = build_dir / "csim" / ("csim_dump" if dump else "csim")
    sources = [build_dir / "csim" / "csim_main.cpp"] + [kernels / f"{k}.cpp" for k in schedule["kernels"]]
    command = [
        os.environ.get("CXX", "g++"),
        *CXXFLAGS,
        *(["-DFPQC_DUMP"] if dump else []),
        f"-I{kernels}",
        f"-I{ap_types_include()}",
        *map(str, sources),
        "-o",
        str(exe),
    ]
    try:
        result = subprocess.run(command, capture_output=True, text=True)
    except FileNotFoundError:
        raise FpqcError(f"C++ compiler '{command[0]}' not found; install g++ or set CXX") from None
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines() or [f"exit status {result.returncode}"]
        first = next((line for line in lines if "error" in line), lines[-1])
        raise FpqcError(f"C simulation does not compile: {first}")
    return exe


def run_csim(
    build_dir: Path,
    inputs: dict[str, np.ndarray],
    exe: Path | None = None,
    dump_dir: Path | None = None,
) -> dict[str, np.ndarray]:
    """Run the C simulation on ``inputs`` (keyed by ONNX input name); outputs by ONNX name.

    Compiles first unless ``exe`` is given.  With ``dump_dir`` (and an
    executable built with ``dump=True``) every kernel buffer is written there.
    """
    build_dir = Path(build_dir)
    schedule = load_schedule(build_dir)
    exe = exe or compile_csim(build_dir)
    buffers = {b["name"]: b for b in schedule["buffers"]}
    with tempfile.TemporaryDirectory(prefix="fpqc-csim-") as tmp:
        in_dir, out_dir = Path(tmp) / "in", Path(tmp) / "out"
        in_dir.mkdir()
        out_dir.mkdir()
        for entry in schedule["inputs"]:
            shape = buffers[entry["buffer"]]["shape"]
            if entry["name"] not in inputs:
                raise FpqcError(f"missing input '{entry['name']}' (shape {shape}) for the C simulation")
            value = np.asarray(inputs[entry["name"]])
            if list(value.shape) != shape:
                raise FpqcError(
                    f"input '{entry['name']}' has shape {list(value.shape)}; the build expects {shape}"
                )
            (in_dir / entry["file"]).write_bytes(np.ascontiguousarray(value, dtype="<f4").tobytes())
        env = dict(os.environ)
        if dump_dir is not None:
            env["FPQC_DUMP_DIR"] = str(dump_dir)
        result = subprocess.run(
            [str(exe), str(build_dir), str(in_dir), str(out_dir)], capture_output=True, text=True, env=env
        )
        if result.returncode != 0:
            raise FpqcError(f"C simulation failed: {result.stderr.strip() or f'exit status {result.returncode}'}")
        outputs = {}
        for entry in schedule["outputs"]:
            shape = tuple(buffers[entry["buffer"]]["shape"])
            data = np.fromfile(out_dir / entry["file"], dtype="<f4")
            outputs[entry["name"]] = data.reshape(shape)
    return outputs
