"""C simulation of a build: compile the emitted C++ with g++ and run it on numpy inputs.

The kernels and ``csim/csim_main.cpp`` are compiled with ``-std=gnu++14 -O3
-ffp-contract=off -fno-fast-math -fno-semantic-interposition -fPIC`` (C++14 plus the hex-float
literals the generated tables use; Vitis HLS's clang accepts them too; -O3 because a
C simulation of a large model runs for minutes: a fifth faster than -O2, for a quarter
more compile time) against the Xilinx
``ap_int`` headers: ``$XILINX_HLS/include`` when Vitis HLS is installed,
otherwise the copy bundled with the ``hls4ml`` package.  ``run_csim`` writes
each input as a raw little-endian float32 file named after its ONNX tensor,
runs the executable and reads the outputs back the same way.

``compile_kernel_library`` compiles every kernel into the shared library
``csim/libkernels.so`` that :class:`~fpqc.backends.hls.csim_device.CsimDevice`
launches in-process.  Each source is compiled to a position-independent object once --
``csim/obj/<source>-<hash>.o``, keyed by the source, the headers of
``kernels/``, the compiler and its flags -- in parallel, and linked; the executable
and the library share the kernels' objects.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from fpqc.backends.hls.host_schedule import MAIN_DRIVER, SCHEDULE_FILE
from fpqc.errors import FpqcError
from fpqc.files.scratch import remove_dead, scratch_directory

CXXFLAGS = ("-std=gnu++14", "-O3", "-ffp-contract=off", "-fno-fast-math", "-fno-semantic-interposition")
KERNEL_LIBRARY = "csim/libkernels.so"
KERNEL_DUMP_LIBRARY = "csim/libkernels_dump.so"


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
    path = Path(build_dir) / SCHEDULE_FILE
    if not path.is_file():
        raise FpqcError(f"{build_dir}: no {SCHEDULE_FILE}; not an fpqc build directory")
    try:
        schedule = json.loads(path.read_text())
    except ValueError:
        raise FpqcError(f"{path}: not readable JSON; recompile the model") from None
    if not isinstance(schedule, dict):
        raise FpqcError(f"{path}: not an fpqc host schedule; recompile the model")
    return schedule


def kernel_names(schedule: dict) -> list[str]:
    """The kernel functions of a build (host_schedule.json format 2 and later, or the older list of names)."""
    return [k if isinstance(k, str) else k["name"] for k in schedule["kernels"]]


def _run_compiler(command: list[str]) -> None:
    try:
        result = subprocess.run(command, capture_output=True, text=True)
    except FileNotFoundError:
        raise FpqcError(f"C++ compiler '{command[0]}' not found; install g++ or set CXX") from None
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines() or [f"exit status {result.returncode}"]
        first = next((line for line in lines if "error" in line), lines[-1])
        raise FpqcError(f"C simulation does not compile ({command[0]} exit status {result.returncode}): {first}")


def link_program(
    build_dir: Path, sources: list[Path], exe: Path, dump: bool = False, shared: bool = False,
    includes: tuple[Path, ...] = (),
) -> Path:
    """Compile each of ``sources`` to a cached object (in parallel) and link them into ``exe``
    (with ``shared``, a shared library).  Every object is position-independent, so that a
    program and ``csim/libkernels.so`` share a kernel's object.  ``includes``: header
    directories searched before ``kernels/``."""
    kernels = build_dir / "kernels"
    cxx = os.environ.get("CXX", "g++")
    flags = [
        *CXXFLAGS, "-fPIC", *(["-DFPQC_DUMP"] if dump else []),
        *(f"-I{directory}" for directory in includes), f"-I{kernels}", f"-I{ap_types_include()}",
    ]
    kernel_headers = _digest(sorted(kernels.glob("*.h")))  # a kernel's object: only these matter
    all_headers = _digest(sorted([*kernels.glob("*.h"), *(h for d in includes for h in Path(d).glob("*.h"))]))
    obj_dir = build_dir / "csim" / "obj"
    obj_dir.mkdir(parents=True, exist_ok=True)
    remove_dead(obj_dir, r"[\w-]+\.(\d+)\.tmp\.o")
    jobs: list[list[str]] = []
    finals: list[Path] = []
    objects: list[Path] = []
    for source in sources:
        key = hashlib.sha256()
        key.update("\0".join([cxx, *(f for f in flags if not f.startswith("-I"))]).encode())  # not the paths
        key.update(kernel_headers if source.parent == kernels else all_headers)
        key.update(source.read_bytes())
        obj = obj_dir / f"{source.stem}-{key.hexdigest()[:16]}.o"
        objects.append(obj)
        if not obj.is_file():
            tmp = obj.with_suffix(f".{os.getpid()}.tmp.o")
            jobs.append([cxx, *flags, "-c", str(source), "-o", str(tmp)])
            finals.append(obj)
    workers = max(1, min(len(jobs), os.cpu_count() or 1))
    if jobs:
        try:
            with ThreadPoolExecutor(workers) as pool:
                failures = [f for f in pool.map(_try_compile, jobs) if f is not None]
            if failures:
                raise failures[0]
            for command, obj in zip(jobs, finals):
                Path(command[-1]).replace(obj)
        finally:
            for command in jobs:
                Path(command[-1]).unlink(missing_ok=True)
    # Linked beside the objects, then renamed into place: another process that has the program or library
    # loaded, or is loading it (verify's workers each open csim/libkernels.so), never sees it half written.
    linked = obj_dir / f"{exe.name.replace('.', '_')}-{threading.get_ident()}.{os.getpid()}.tmp.o"
    try:
        _run_compiler([cxx, *(["-shared"] if shared else []), *map(str, objects), "-o", str(linked)])
        linked.replace(exe)
    finally:
        linked.unlink(missing_ok=True)
    return exe


def _digest(headers: list[Path]) -> bytes:
    """One hash of the names and contents of ``headers``."""
    digest = hashlib.sha256()
    for header in headers:
        digest.update(header.name.encode() + b"\0" + header.read_bytes())
    return digest.digest()


def _try_compile(command: list[str]) -> FpqcError | None:
    try:
        _run_compiler(command)
    except FpqcError as e:
        return FpqcError(f"{e} (in {Path(command[-3]).name})")
    return None


def compile_csim(build_dir: Path, dump: bool = False) -> Path:
    """Compile the build's C simulation; return the executable (``csim/csim``, ``csim/csim_dump``)."""
    build_dir = Path(build_dir)
    schedule = load_schedule(build_dir)
    if schedule["csim"] != "supported":
        raise FpqcError(f"{build_dir}: cannot C-simulate this build: {schedule['csim']}")
    kernels = build_dir / "kernels"
    exe = build_dir / "csim" / ("csim_dump" if dump else "csim")
    sources = [build_dir / MAIN_DRIVER] + [kernels / f"{k}.cpp" for k in kernel_names(schedule)]
    return link_program(build_dir, sources, exe, dump)


def compile_kernel_library(build_dir: Path, dump: bool = False) -> Path:
    """Compile every kernel of the build into the shared library ``csim/libkernels.so``
    (``csim/libkernels_dump.so`` with ``-DFPQC_DUMP``)."""
    build_dir = Path(build_dir)
    schedule = load_schedule(build_dir)
    sources = [build_dir / "kernels" / f"{k}.cpp" for k in kernel_names(schedule)]
    if not sources:
        raise FpqcError(f"{build_dir}: the build has no kernels to C-simulate")
    library = build_dir / (KERNEL_DUMP_LIBRARY if dump else KERNEL_LIBRARY)
    return link_program(build_dir, sources, library, dump=dump, shared=True)


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
    with scratch_directory("csim") as tmp:
        in_dir, out_dir = tmp / "in", tmp / "out"
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
