"""The HLS backend's build: hls-level IR -> Vitis HLS C++, packed weights, host schedule, build files.

``emit_build(module, store, build_dir, target)`` writes (``build_layout`` first, when a caller needs
the schedules and the weights' layout before the files)::

    kernels/<kernel>.cpp       one extern "C" top function per hls.kernel (identical kernels
                               were merged by outline-kernels: one source, many launches)
    kernels/fpqc_tables.h      LUT tables of exactly the formats used (from fpqc.numerics)
    kernels/fpqc_hls.h         the header-only HLS library (copied)
    kernels/fpqc_numerics.h    fpqc's scalar numerics in C++ (copied)
    kernels/fpqc_fpqvar.h      FPQVAR's numerics in C++: FWHT/GHT, dual format (copied)
    kernels/fpqc_dataflow.h    how stages pass values: stream beats, whole buffers, ports, dump taps (copied)
    kernels/fpqc_tiled.h       the row stages of the quantized path: quantizers, Hadamard, GELU (copied)
    kernels/fpqc_linear.h      the PE array's stages: weight tiles, LUT multiply, accumulate, combine (copied)
    kernels/fpqc_block.h       the rest of a block: layernorm, modulate, residual, attention stages (copied)
    kernels/fpqc_kv_codes.h    a low-bit KV cache stored as codes and scales (copied)
    weights.bin                every constant of the schedules, 64-byte aligned, little-endian
    weights.json               its manifest: name, offset, bytes, dtype, shape, packing
    host_schedule.json         buffers and the ordered steps (kernel launches, host ops)
    csim/csim_main.cpp         C simulation of the schedule (only when every step is a kernel)
    host/                      a VAR's C++ host program (backends/hls/host_program.py)
    vitis/                     the Vitis system: v++ configs, Makefile (sw_emu, hw_emu, hw), checks

Output is deterministic: the same module and weights give byte-identical files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from xdsl.dialects.builtin import ModuleOp

from fpqc.backends.hls.csim_sources import csim_main
from fpqc.backends.hls.host_program import host_program_files
from fpqc.backends.hls.host_schedule import MAIN_DRIVER, SCHEDULE_FILE, HostSchedule, host_schedule
from fpqc.backends.hls.kernel_cpp import KernelEmitter
from fpqc.backends.hls.tables import TableSet
from fpqc.backends.hls.vitis import EXECUTABLES, vitis_files
from fpqc.backends.hls.weight_blob import WeightBlob, weight_blob
from fpqc.backends.model_signature import main_function
from fpqc.passes.step_program import prologue_function, step_functions
from fpqc.dialects import hls, onnx
from fpqc.files.background_writes import BackgroundWrites
from fpqc.targets import Target
from fpqc.weights import WeightStore

INCLUDE_DIR = Path(__file__).parent / "include"
LIBRARY_HEADERS = (
    "fpqc_hls.h", "fpqc_numerics.h", "fpqc_fpqvar.h", "fpqc_dataflow.h", "fpqc_tiled.h", "fpqc_linear.h", "fpqc_block.h",
    "fpqc_kv_codes.h",
)


@dataclass
class EmitResult:
    """What :func:`emit_build` wrote."""

    kernels: list[str]
    weight_bytes: int
    files: list[str]


def _json(data: dict) -> str:
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def _compact_json(data: dict) -> str:
    """One line, no spaces: the host schedule of a large model is megabytes, which the host program
    fingerprints byte by byte and Python's JSON encoder writes indented only in pure Python."""
    return json.dumps(data, sort_keys=True, separators=(",", ":")) + "\n"


@dataclass
class BuildLayout:
    """The host schedules of an hls-level module and the layout of its ``weights.bin``: what a build's
    report needs, known before any file is written (:func:`build_layout`)."""

    schedule: HostSchedule
    steps: list[tuple[str, HostSchedule]]
    blob: WeightBlob
    kernels: list[str]

    @property
    def weight_bytes(self) -> int:
        return self.blob.total_bytes


def build_layout(module: ModuleOp) -> BuildLayout:
    """The host schedules of ``@main``, the prologue and the step functions, and every constant they read
    placed in ``weights.bin`` (the schedules' buffers learn their offsets)."""
    schedule = host_schedule(main_function(module))
    prologue = prologue_function(module)
    steps = [(f.sym_name.data, host_schedule(f)) for f in ([prologue] if prologue else []) + step_functions(module)]
    constants = [*schedule.constants, *(c for _, step in steps for c in step.constants)]
    # @main's fpq.constants first, in program order: the host's constants only add entries after them.
    constants.sort(key=lambda constant: isinstance(constant[1], onnx.ConstantOp))
    blob = weight_blob(constants)
    offsets = {e["name"]: e["offset"] for e in blob.entries}
    for buffer, _ in constants:
        buffer.offset = offsets.get(buffer.weight)
    kernels = [op.sym_name.data for op in module.ops if isinstance(op, hls.KernelOp)]
    return BuildLayout(schedule, steps, blob, kernels)


def write_weights(layout: BuildLayout, store: WeightStore, build_dir: Path) -> None:
    """Write ``weights.bin`` of ``layout`` into ``build_dir`` from ``store``."""
    with store.activate():
        layout.blob.write(Path(build_dir) / "weights.bin")


def emit_build(module: ModuleOp, store: WeightStore, build_dir: Path, target: Target,
               writes: BackgroundWrites | None = None, layout: BuildLayout | None = None) -> EmitResult:
    """Write the HLS backend's files for hls-level ``module`` into ``build_dir``; ``weights.bin``
    by ``writes`` when given (in the background: wait for it before reading the file).

    ``layout``: the module's :func:`build_layout` when the caller has it, and has had :func:`write_weights`
    write ``weights.bin`` from it (a compile starts that write before it draws the report)."""
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    if layout is None:
        layout = build_layout(module)
        if writes is None:
            write_weights(layout, store, build_dir)
        else:
            writes.submit(lambda: write_weights(layout, store, build_dir))
    schedule, steps = layout.schedule, layout.steps
    tables = TableSet()
    emitters = {op.sym_name.data: KernelEmitter(op, tables) for op in module.ops if isinstance(op, hls.KernelOp)}
    sources = {name: emitter.emit() for name, emitter in emitters.items()}
    manifest = layout.blob.manifest()
    files: dict[str, str | bytes] = {}
    for name, source in sources.items():
        files[f"kernels/{name}.cpp"] = source
    files["kernels/fpqc_tables.h"] = tables.header()
    for header in LIBRARY_HEADERS:
        files[f"kernels/{header}"] = (INCLUDE_DIR / header).read_text()
    files["weights.json"] = _json(manifest)
    schedule_json = schedule.to_json([emitter.describe() for emitter in emitters.values()], steps)
    files[SCHEDULE_FILE] = _compact_json(schedule_json)
    if schedule.csim_refusal() is None:
        files[MAIN_DRIVER] = csim_main(schedule, emitters, manifest)
    if step_functions(module) and emitters:  # a VAR's step program: the C++ host program runs its generations
        files.update(host_program_files(emitters, target, files[SCHEDULE_FILE], version("fpqc")))
    for name, text in vitis_files(schedule_json, target).items():
        files[f"vitis/{name}"] = text

    for rel, content in files.items():
        path = build_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    for script in EXECUTABLES:
        (build_dir / "vitis" / script).chmod(0o755)
    return EmitResult(list(layout.kernels), layout.weight_bytes, sorted([*files, "weights.bin"]))
