"""``fpqc verify``: the emitted C++ against the interpreter, bit for bit.

Every emitted kernel is checked on realistic activations.  For ``samples``
seeded random model inputs the build's final IR (``model.hls.mlir`` with
``weights.npz``) runs in the interpreter -- host ops included -- and a
listener records the arguments and results of every ``hls.call``.  Each launch
is then replayed in the C simulation: ``csim/csim_kernels`` (one driver for
all kernels, each distinct kernel compiled once) runs the kernel on the
recorded activations and on its weights read from ``weights.bin`` at the
offsets of ``host_schedule.json``, all launches in one process.  Every result
value is compared with the interpreter's as its bit pattern (uint32 for f32,
the code for low-bit codes).

When every step of the schedule is a kernel launch (no host ops), the whole
model also runs as one C simulation (``csim/csim_main.cpp``) and its outputs
are compared with the interpreter's, as before.

Random inputs: float inputs are standard normal; integer inputs (token or
class indices) are 0 or 1, valid for any table of two rows or more; boolean
inputs are random.

When any value differs, the first differing launch (in schedule order, first
sample first) is replayed with ``-DFPQC_DUMP`` and its kernel is interpreted
alone on the same inputs with every intermediate recorded; the report names
the first op of that kernel whose results differ, and by how much.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.interpreter import Interpreter
from xdsl.ir import Operation

from fpqc.backends.hls.codes import code_format, pack_codes, unpack_codes
from fpqc.backends.hls.csim import (
    compile_csim,
    compile_kernel_driver,
    load_schedule,
    run_csim,
    run_kernel_jobs,
)
from fpqc.backends.interp.runner import make_interpreter
from fpqc.backends.model_signature import input_names, main_function
from fpqc.compiler import load_build
from fpqc.dialects import hls
from fpqc.dialects.tensor_types import element_type_to_dtype
from fpqc.errors import FpqcError
from fpqc.files.scratch import scratch_directory
from fpqc.weights import WeightStore


@dataclass
class FirstDifference:
    kernel: str
    index: int  # op index in the kernel body; -1: every op agrees, the output ports differ
    op: str
    result: int
    differing: int
    total: int
    max_abs_diff: float
    step: int | None = None  # the launch's step in host_schedule.json
    launch: int | None = None  # the how-many-th launch of this kernel
    sample: int | None = None

    def describe(self) -> str:
        where = f"@{self.kernel}"
        if self.step is not None:
            where += f", launch {self.launch} at step {self.step} of sample {self.sample}"
        if self.index < 0:
            return (
                f"first difference: the output ports of {where} (every op of the kernel agrees, port "
                f"{self.result} differs: the packed weights.bin or the port layout disagrees with the IR; "
                f"recompile): {self.differing} of {self.total} values differ"
            )
        return (
            f"first differing op: {self.op} (#{self.index} of {where}), result {self.result}: "
            f"{self.differing} of {self.total} values differ, max |difference| {self.max_abs_diff:g}"
        )


@dataclass
class KernelCheck:
    """What was checked of one kernel function."""

    name: str
    launches: int = 0
    compared: int = 0
    differing: int = 0


@dataclass
class VerifyReport:
    samples: int
    compared: int = 0
    differing: int = 0
    first_difference: FirstDifference | None = None
    kernels: dict[str, KernelCheck] = field(default_factory=dict)
    whole_model: tuple[int, int] | None = None  # (compared, differing) of the whole-model csim
    note: str | None = None
    seconds: float = 0.0

    def summary(self) -> str:
        verdict = "bit-identical" if self.differing == 0 else "MISMATCH"
        if self.compared == 0:
            verdict = "nothing compared"
        launches = sum(k.launches for k in self.kernels.values())
        kernel_values = sum(k.compared for k in self.kernels.values())
        kernel_diff = sum(k.differing for k in self.kernels.values())
        lines = [
            f"C simulation vs interpreter: {verdict}",
            f"  samples   {self.samples}",
            f"  kernels   {len(self.kernels)} distinct, {launches} launches checked",
        ]
        width = max((len(name) for name in self.kernels), default=0)
        for k in self.kernels.values():
            lines.append(
                f"    {k.name:<{width}}  {k.launches:>4} launches  {k.compared:>12,} values  "
                f"{k.differing:,} differing"
            )
        lines.append(f"  kernel values  {kernel_values:,} compared, {kernel_diff:,} differing")
        if self.whole_model is not None:
            lines.append(
                f"  whole model    {self.whole_model[0]:,} compared, {self.whole_model[1]:,} differing"
            )
        lines.append(f"  values    {self.compared:,} compared, {self.differing:,} differing")
        if self.note:
            lines.append("  " + self.note)
        if self.first_difference is not None:
            lines.append("  " + self.first_difference.describe())
        lines.append(f"  time      {self.seconds:.1f} s")
        return "\n".join(lines)


class _Recorder(Interpreter.Listener):
    """Keeps every op's results during an interpreter run."""

    def __init__(self) -> None:
        self.results: dict[Operation, tuple] = {}

    def did_interpret_op(self, op: Operation, results) -> None:
        self.results[op] = tuple(results)


class _LaunchRecorder(Interpreter.Listener):
    """Calls ``on_launch(call, args, results)`` for each of ``calls`` the interpreter runs."""

    def __init__(self, calls: list[hls.CallOp], on_launch: Callable) -> None:
        self.calls = set(calls)
        self.on_launch = on_launch
        self.pending: dict[Operation, tuple] = {}

    def will_interpret_op(self, op: Operation, args) -> None:
        if op in self.calls:
            self.pending[op] = tuple(args)

    def did_interpret_op(self, op: Operation, results) -> None:
        if op in self.calls:
            self.on_launch(op, self.pending.pop(op), tuple(results))


def _interpret(module, store: WeightStore, inputs: dict[str, np.ndarray], names: list[str], recorder=None):
    interpreter = make_interpreter(module, (recorder,) if recorder else ())
    main = main_function(module)
    with store.activate():
        results = interpreter.call_op(main.sym_name.data, tuple(inputs[n] for n in names))
    return [np.asarray(r) for r in results]


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


def _random_inputs(main: func.FuncOp, names: list[str], rng: np.random.Generator) -> dict[str, np.ndarray]:
    inputs = {}
    for name, t in zip(names, main.function_type.inputs.data):
        assert isinstance(t, TensorType)
        shape, dtype = tuple(t.get_shape()), element_type_to_dtype(t.get_element_type())
        if dtype.kind == "f":
            inputs[name] = rng.standard_normal(shape).astype(dtype)
        else:
            inputs[name] = rng.integers(0, 2, shape).astype(dtype)
    return inputs


def _port_bytes(ref: dict, value) -> bytes:
    """A kernel port's bytes for ``value`` (as the host would pass it)."""
    value = np.asarray(value)
    if ref["dtype"] == "packed_codes":
        return pack_codes(value, ref["bits"]).tobytes()
    return np.ascontiguousarray(value, dtype="<f4").tobytes()


def _port_value(ref: dict, data: bytes) -> np.ndarray:
    """Inverse of :func:`_port_bytes`: the array the interpreter takes."""
    n = int(np.prod(ref["shape"], dtype=np.int64))
    if ref["dtype"] == "packed_codes":
        words = np.frombuffer(data, dtype="<u4")
        return unpack_codes(words, ref["bits"], n).reshape(ref["shape"])
    return np.frombuffer(data, dtype="<f4").astype(np.float32).reshape(ref["shape"])


def _read_arg(arg: str, nbytes: int) -> bytes:
    path, at, offset = arg.rpartition("@")
    if at and offset.isdigit():
        with open(path, "rb") as f:
            f.seek(int(offset))
            return f.read(nbytes)
    return Path(arg).read_bytes()


def _compare(ref: dict, want, got_bytes: bytes) -> tuple[int, int, np.ndarray, np.ndarray]:
    """(values, differing, want bits, got bits) of one result port."""
    want = np.asarray(want)
    got = _port_value(ref, got_bytes)
    if ref["dtype"] == "packed_codes":
        want_bits, got_bits = want.astype(np.uint8).reshape(-1), got.reshape(-1)
    else:
        want_bits, got_bits = _bits(want).reshape(-1), _bits(got).reshape(-1)
    return want.size, int(np.count_nonzero(want_bits != got_bits)), want_bits, got_bits


@dataclass
class _Launch:
    sample: int
    step: dict
    job: tuple
    results: tuple


def verify_build(build_dir: Path, samples: int, seed: int = 0) -> VerifyReport:
    """Check every kernel launch (and, without host ops, the whole model); see module docstring."""
    if samples < 1:
        raise FpqcError(f"--samples must be at least 1, got {samples}")
    start = time.perf_counter()
    build_dir = Path(build_dir)
    module, store = load_build(build_dir)
    schedule = load_schedule(build_dir)
    if schedule.get("format") is None:
        raise FpqcError(f"{build_dir}: built by an older fpqc (host_schedule.json format 1); recompile it")
    main = main_function(module)
    names = input_names(main)
    out_names = [entry["name"] for entry in schedule["outputs"]]
    calls = [op for op in main.body.block.ops if isinstance(op, hls.CallOp)]
    steps = [s for s in schedule["steps"] if s["kind"] == "kernel"]
    if [c.callee.string_value() for c in calls] != [s["kernel"] for s in steps]:
        raise FpqcError(f"{build_dir}: host_schedule.json does not match {build_dir / 'model.hls.mlir'}; recompile")

    report = VerifyReport(samples)
    report.kernels = {k["name"]: KernelCheck(k["name"]) for k in schedule["kernels"]}
    if not calls:
        report.note = "the build launches no kernel: nothing to C-simulate (fpqc run executes it)"
        report.seconds = time.perf_counter() - start
        return report
    whole = schedule["csim"] == "supported"
    exe = compile_kernel_driver(build_dir)
    whole_exe = compile_csim(build_dir) if whole else None
    host_steps = sum(s["kind"] == "host" for s in schedule["steps"])
    if not whole:
        report.note = (
            f"whole model: not C-simulated ({host_steps} step(s) run on the host); "
            "every kernel launch checked on the interpreter's activations"
        )
    weights = str((build_dir / "weights.bin").resolve())
    step_of = dict(zip(calls, steps))
    rng = np.random.default_rng(seed)

    with scratch_directory("verify") as tmp_dir:
        launches: list[_Launch] = []
        whole_compared = whole_differing = 0
        whole_bad_sample: int | None = None
        for sample in range(samples):
            sample_dir = tmp_dir / f"s{sample}"
            sample_dir.mkdir()
            written: dict[str, str] = {}

            def on_launch(call, args, results, sample=sample, sample_dir=sample_dir, written=written):
                step = step_of[call]
                paths = []
                for ref, value in zip(step["args"], args):
                    if "offset" in ref:
                        paths.append(f"{weights}@{ref['offset']}")
                        continue
                    if ref["buffer"] not in written:
                        path = sample_dir / f"{ref['buffer']}.bin"
                        path.write_bytes(_port_bytes(ref, value))
                        written[ref["buffer"]] = str(path)
                    paths.append(written[ref["buffer"]])
                job = (step["kernel"], sample_dir / f"step{step['index']}", None, paths)
                launches.append(_Launch(sample, step, job, tuple(np.asarray(r) for r in results)))

            inputs = _random_inputs(main, names, rng)
            expected = _interpret(module, store, inputs, names, _LaunchRecorder(calls, on_launch))
            if whole_exe is not None:
                got = run_csim(build_dir, inputs, exe=whole_exe)
                for name, want in zip(out_names, expected):
                    diff = int(np.count_nonzero(_bits(want) != _bits(got[name])))
                    whole_compared += want.size
                    whole_differing += diff
                    if diff and whole_bad_sample is None:
                        whole_bad_sample = sample

        run_kernel_jobs(exe, [launch.job for launch in launches], tmp_dir)
        first_bad: _Launch | None = None
        for launch in launches:
            check = report.kernels[launch.step["kernel"]]
            check.launches += 1
            for j, (ref, want) in enumerate(zip(launch.step["results"], launch.results)):
                got = (Path(launch.job[1]) / f"{j}.bin").read_bytes()
                n, diff, _, _ = _compare(ref, want, got)
                check.compared += n
                check.differing += diff
                if diff and first_bad is None:
                    first_bad = launch
        for check in report.kernels.values():
            report.compared += check.compared
            report.differing += check.differing
        if whole_exe is not None:
            report.whole_model = (whole_compared, whole_differing)
            report.compared += whole_compared
            report.differing += whole_differing
            if whole_differing and first_bad is None:
                report.note = (
                    f"every kernel launch agrees, but the whole-model C simulation differs (sample "
                    f"{whole_bad_sample}): look at csim/csim_main.cpp and the packing of weights.bin"
                )
        if first_bad is not None:
            report.first_difference = _locate(build_dir, module, store, first_bad, tmp_dir)
    report.seconds = time.perf_counter() - start
    return report


def _locate(build_dir: Path, module: ModuleOp, store: WeightStore, launch: _Launch, tmp_dir: Path) -> FirstDifference:
    """Replay ``launch`` with every intermediate on both sides; the first kernel op that differs."""
    step = launch.step
    name = step["kernel"]
    kernel_ports = {k["name"]: k for k in load_schedule(build_dir)["kernels"]}[name]["ports"]
    args = []
    for ref, arg, port in zip(step["args"], launch.job[3], (p for p in kernel_ports if p["direction"] == "in")):
        args.append(_port_value(ref, _read_arg(arg, port["bytes"])))
    kernel = next(op for op in module.ops if isinstance(op, hls.KernelOp) and op.sym_name.data == name)
    recorder = _Recorder()
    interpreter = make_interpreter(module, (recorder,))
    with store.activate():
        interpreter.call_op(name, tuple(args))

    exe = compile_kernel_driver(build_dir, dump=True)
    dump, out = tmp_dir / "dump", tmp_dir / "dump_out"
    dump.mkdir()
    run_kernel_jobs(exe, [(name, out, dump, launch.job[3])], tmp_dir)
    where = dict(step=step["index"], launch=step["launch"], sample=launch.sample)
    for index, op in enumerate(kernel.body.block.ops):
        if isinstance(op, hls.ReturnOp):
            break
        if isinstance(op, hls.PlanOp):
            continue
        for j, (result, want) in enumerate(zip(op.results, recorder.results[op])):
            want = np.asarray(want)
            is_codes = code_format(result.type) is not None
            path = dump / f"{name}.{index}.{j}.bin"
            got = np.fromfile(path, dtype=np.uint8 if is_codes else "<f4").reshape(want.shape)
            if is_codes:
                want_bits, got_bits = want.astype(np.uint8), got
                delta = np.abs(want_bits.astype(np.int64) - got_bits.astype(np.int64))
            else:
                want_bits, got_bits = _bits(want), _bits(got)
                delta = np.abs(want.astype(np.float64) - got.astype(np.float64))
            bad = want_bits != got_bits
            if bad.any():
                return FirstDifference(
                    name, index, op.name, j, int(bad.sum()), int(bad.size),
                    float(np.nanmax(np.where(bad, delta, 0))), **where,
                )
    for j, (ref, want) in enumerate(zip(step["results"], launch.results)):
        n, diff, _, _ = _compare(ref, want, (out / f"{j}.bin").read_bytes())
        if diff:
            return FirstDifference(name, -1, "output port", j, diff, n, float("nan"), **where)
    return FirstDifference(name, -1, "output port", 0, 0, 0, float("nan"), **where)
