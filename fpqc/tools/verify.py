"""``fpqc verify``: the emitted C++ against the interpreter, bit for bit, over whole runs.

The build's kernels -- the C++ Vitis HLS compiles -- run as a C simulation
(:class:`~fpqc.backends.hls.csim_device.CsimDevice`: g++, a shared library,
called in-process).  Every kernel launch of a run is executed twice, by the
interpreter on the kernel's IR and by the C simulation on the same arguments,
and every result value is compared as its bit pattern (uint32 for f32, the
code for low-bit codes); the run continues with the interpreter's results.

Since the run goes on with the interpreter's results, no launch waits for the
C simulation of another: with ``jobs`` above 1, worker processes (each with
the kernels loaded) C-simulate the launches side by side while the
interpreter goes on, and the results are compared in launch order.

* A VAR build (it holds the per-scale step program) is checked over whole
  generations: ``samples`` images (classes 0, 1, ...), guidance, top-k/top-p
  sampling from a seeded generator, every launch of every scale.  With
  ``csim_generation`` the same generation is then run with every launch in the
  C simulation only (what ``fpqc generate --device csim`` does), and its
  tokens and images are compared with the interpreter's.  When every launch
  agrees, that generation is the checked one (the host side is the same code
  on the same values), so it is a test of ``--device csim``'s wiring rather
  than of the kernels: it runs by default for a build that runs in one job.
* Given ``inputs`` (an ``.npz`` of teacher-forcing inputs: labels ``[N]`` and
  tokens ``[N, L-1, Cvae]`` under the model's input names), a VAR build is
  checked over teacher forcing instead: the step program runs scale after scale
  on those tokens, every launch is compared, and its logits are compared with
  ``@main``'s (the interpreter's whole forward) bit for bit::

      logits_k = @step_k(tokens[:, scale k], KV cache)    k = 0 .. K-1
      concat(logits_0 .. logits_K-1) == @main(labels, tokens)

  One row is one teacher-forcing sample: no guidance, so half the launches of a
  generation's image.
* Any other build runs ``@main`` on ``samples`` seeded random inputs (float
  inputs standard normal, integer inputs 0 or 1), or once on ``inputs``; when
  every step is a kernel launch, the whole model also runs as one C simulation
  (``csim/csim_main.cpp``).

When a value differs, the report names where: the scale (step function),
kernel and launch, and -- replaying that launch with ``-DFPQC_DUMP`` next to
the interpreter with every intermediate recorded -- the first op of the kernel
whose results differ, and by how much.
"""

from __future__ import annotations

import os
import time
from collections import deque
from concurrent.futures import Future
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm import tqdm
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.interpreter import Interpreter
from xdsl.ir import Operation

from fpqc.backends.hls.codes import code_format
from fpqc.backends.hls.csim import compile_csim, load_schedule, run_csim
from fpqc.backends.hls.csim_device import CsimDevice
from fpqc.backends.hls.csim_pool import CsimPool
from fpqc.backends.interp.runner import main_arguments, make_interpreter, run_function
from fpqc.backends.model_signature import input_names, main_function, output_names
from fpqc.compiler import BUILD_WEIGHTS, load_build
from fpqc.dialects import hls
from fpqc.dialects.tensor_types import element_type_to_dtype
from fpqc.errors import FpqcError
from fpqc.files.npz import read_npz
from fpqc.files.scratch import scratch_directory
from fpqc.passes.constants import constant_key
from fpqc.passes.step_program import step_functions
from fpqc.runtime.model import KvCache, VarModel
from fpqc.runtime.progress import ScaleProgress, scale_bar
from fpqc.runtime.schedule import teacher_forcing_schedule
from fpqc.runtime.var_runtime import VarRuntime
from fpqc.weights import WeightStore

SAMPLING = dict(cfg=1.5, top_k=0, top_p=0.0)
"""How a verification generation samples (all tokens drawable: the draws use every logit)."""


@dataclass
class FirstDifference:
    kernel: str
    index: int  # op index in the kernel body; -1: every op agrees, the output ports differ
    op: str
    result: int
    differing: int
    total: int
    max_abs_diff: float
    where: str = ""  # the launch: scale or sample, and the how-many-th launch of the kernel

    def describe(self) -> str:
        where = f"@{self.kernel}" + (f", {self.where}" if self.where else "")
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
    generation: dict | None = None  # a VAR: scales, tokens and images of both devices compared
    teacher_forcing: tuple[int, int, int] | None = None  # a VAR on inputs: (scales, logits compared, differing)
    note: str | None = None
    seconds: float = 0.0

    def summary(self) -> str:
        verdict = "bit-identical" if self.differing == 0 else "MISMATCH"
        if self.compared == 0:
            verdict = "nothing compared"
        launches = sum(k.launches for k in self.kernels.values())
        kernel_values = sum(k.compared for k in self.kernels.values())
        kernel_diff = sum(k.differing for k in self.kernels.values())
        what = "images" if self.generation is not None else "samples"
        lines = [
            f"C simulation vs interpreter: {verdict}",
            f"  {what:<9} {self.samples}",
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
        if self.generation is not None:
            g = self.generation
            alone = (
                f"csim alone: tokens {g['tokens']}, images {g['images']}" if "tokens" in g
                else "csim alone: not run (every launch compared; --csim-generation runs it)"
            )
            lines.append(f"  generation     {g['scales']} scales; {alone}")
        if self.teacher_forcing is not None:
            scales, compared, differing = self.teacher_forcing
            lines.append(
                f"  teacher forcing  {scales} scales of the step program; its logits against @main's: "
                f"{compared:,} compared, {differing:,} differing"
            )
        lines.append(f"  values    {self.compared:,} compared, {self.differing:,} differing")
        if self.note:
            lines.append("  " + self.note)
        if self.first_difference is not None:
            lines.append("  " + self.first_difference.describe())
        lines.append(f"  time      {self.seconds:.1f} s")
        return "\n".join(lines)


def _bits(a: Any) -> np.ndarray:
    """The bits compared: codes as they are, fp32 with every NaN as the one quiet NaN.

    The numerics contract fixes every result but a NaN's sign and payload, which IEEE 754 leaves
    open and compilers change by commuting an addition.
    """
    a = np.asarray(a)
    if a.dtype == np.uint8:  # low-bit codes
        return a.reshape(-1)
    a = np.ascontiguousarray(a, dtype=np.float32)
    return np.where(np.isnan(a), np.float32(np.nan), a).view(np.uint32).reshape(-1)


@dataclass
class _Launch:
    """One launch whose results differ: what is needed to replay it."""

    call: hls.CallOp
    args: tuple
    where: str


class _CheckingLauncher:
    """Runs each launch in the interpreter and in the C simulation, compares, continues with the interpreter's.

    With ``pool`` a launch's C simulation is submitted to its workers and compared later, in launch order
    (:meth:`settle`); at most two launches a worker are in flight.
    """

    def __init__(
        self, module: ModuleOp, store: WeightStore, device: CsimDevice, report: VerifyReport,
        pool: CsimPool | None = None,
    ) -> None:
        self.interpreter = make_interpreter(module)
        self.store = store
        self.device = device
        self.report = report
        self.pool = pool
        self.in_flight = 2 * pool.jobs if pool is not None else 0
        self.pending: deque[tuple[hls.CallOp, tuple, tuple, Future, str]] = deque()
        self.context = ""
        self.first_bad: _Launch | None = None

    def __call__(self, call: hls.CallOp, args: tuple) -> tuple:
        name = call.callee.string_value()
        with self.store.activate():
            want = tuple(np.asarray(r) for r in self.interpreter.call_op(name, args))
        if self.pool is None:
            self._compare(call, args, want, self.device.launch(name, args), self.context)
        else:
            future = self.pool.submit(name, args, [constant_key(v) for v in call.operands])
            self.pending.append((call, args, want, future, self.context))
            self.settle(self.in_flight)
        return want

    def settle(self, in_flight: int = 0) -> None:
        """Compare the oldest launches' C simulations until at most ``in_flight`` are pending."""
        while len(self.pending) > in_flight:
            call, args, want, future, context = self.pending.popleft()
            self._compare(call, args, want, CsimPool.result(future), context)

    def _compare(self, call: hls.CallOp, args: tuple, want: tuple, got: tuple, context: str) -> None:
        name = call.callee.string_value()
        check = self.report.kernels.setdefault(name, KernelCheck(name))
        check.launches += 1
        for w, g in zip(want, got, strict=True):
            diff = int(np.count_nonzero(_bits(w) != _bits(g))) if w.shape == g.shape else w.size
            check.compared += w.size
            check.differing += diff
            if diff and self.first_bad is None:
                function = call.parent_op()
                scope = function.sym_name.data if isinstance(function, func.FuncOp) else "?"
                self.first_bad = _Launch(call, args, f"launch {check.launches - 1} ({context}{scope})")


def verify_build(
    build_dir: Path, samples: int = 4, seed: int = 0, jobs: int | None = None, csim_generation: bool | None = None,
    inputs: Path | None = None,
) -> VerifyReport:
    """Check every kernel launch of whole runs (see module docstring).

    ``jobs``: processes that C-simulate the launches (None: :func:`default_jobs`); ``csim_generation``: also run a
    VAR's generation in the C simulation only (None: when ``jobs`` is 1); ``inputs``: an ``.npz`` of the model's
    inputs to run on instead (``samples`` is then not used).
    """
    if samples < 1:
        raise FpqcError(f"--samples must be at least 1, got {samples}")
    if inputs is not None and not Path(inputs).is_file():
        raise FpqcError(f"{inputs}: no such file; pass --inputs an .npz keyed by the model's input names")
    if jobs is not None and jobs < 1:
        raise FpqcError(f"--jobs must be at least 1 (processes that C-simulate the launches), got {jobs}")
    start = time.perf_counter()
    build_dir = Path(build_dir)
    module, store = load_build(build_dir)
    model = VarModel.of_build(build_dir, module, store) if step_functions(module) else None
    report = VerifyReport(samples)
    if not any(isinstance(op, hls.KernelOp) for op in module.ops):
        report.note = "the build launches no kernel: nothing to C-simulate (fpqc run executes it)"
        report.seconds = time.perf_counter() - start
        return report
    device = CsimDevice(build_dir)  # compiles the kernels once, before any worker loads them
    jobs = default_jobs(build_dir) if jobs is None else jobs
    with ExitStack() as stack:
        pool = None
        if jobs > 1:
            pool = CsimPool(build_dir, jobs)
            stack.callback(pool.close)
            # The workers have the cores: more BLAS threads here would only take their time (d16-width verify:
            # 38 s -> 31 s with one while OpenBLAS's idle threads spun; 1-2 s since, fpqc/__init__.py).
            stack.enter_context(threadpool_limits(limits=1, user_api="blas"))
        checker = _CheckingLauncher(module, store, device, report, pool)
        if model is not None and inputs is not None:
            _verify_teacher_forcing(model, checker, report, Path(inputs))
        elif model is not None:
            alone = jobs == 1 if csim_generation is None else csim_generation
            _verify_generation(model, checker, report, samples, seed, alone)
        else:
            given = _read_inputs(Path(inputs), module) if inputs is not None else None
            _verify_main(build_dir, module, store, checker, report, samples, seed, given)
    for check in report.kernels.values():
        report.compared += check.compared
        report.differing += check.differing
    if checker.first_bad is not None:
        report.first_difference = _locate(build_dir, module, store, checker.first_bad)
    report.seconds = time.perf_counter() - start
    return report


PARALLEL_WEIGHT_BYTES = 64 << 20
"""A build with at least this much in weights.bin C-simulates its launches in worker processes by default: below
it, starting them (a Python with fpqc and the kernels each) costs about as much as they save."""


def default_jobs(build_dir: Path) -> int:
    """Every core for a build whose weights reach :data:`PARALLEL_WEIGHT_BYTES`, else 1; no more workers than
    half the available memory holds copies of the build's weights (each worker reads those its launches use)."""
    weights = build_dir / "weights.bin"
    if not weights.is_file() or weights.stat().st_size < PARALLEL_WEIGHT_BYTES:
        return 1
    stored = max(1, (build_dir / BUILD_WEIGHTS).stat().st_size)  # a build's (load_build checked it)
    available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return max(1, min(os.cpu_count() or 1, available // 2 // stored))


def _verify_generation(
    model: VarModel, checker: _CheckingLauncher, report: VerifyReport, samples: int, seed: int, alone: bool
) -> None:
    runtime = VarRuntime(model, model.vqvae())
    labels = np.arange(samples) % model.config.num_classes
    with scale_bar("verify", len(runtime.schedule) * (2 if alone else 1)) as bar:
        model.launcher = checker
        try:
            checked = runtime.generate(labels, seed=seed, observers=(ScaleProgress(bar),), **SAMPLING)
        finally:
            model.launcher = None
        checker.settle()
        report.generation = {"scales": len(checked.tokens)}
        if not alone:
            return
        alone_tokens, alone_images = _csim_generation(runtime, checker.device, labels.tolist(), seed,
                                                      (ScaleProgress(bar),))
    tokens = all(np.array_equal(a, b) for a, b in zip(checked.tokens, alone_tokens, strict=True))
    images = bool(np.array_equal(_bits(checked.images), _bits(alone_images)))
    report.generation.update(tokens="identical" if tokens else "DIFFERENT", images="identical" if images else "DIFFERENT")
    image_values = checked.images.size
    report.compared += image_values
    report.differing += 0 if images else int(np.count_nonzero(_bits(checked.images) != _bits(alone_images)))
    if not tokens and report.differing == 0:
        report.differing += 1
        report.note = "every kernel launch agrees, but the C-simulation-only generation drew other tokens"


def _verify_teacher_forcing(model: VarModel, checker: _CheckingLauncher, report: VerifyReport, path: Path) -> None:
    labels, tokens = _teacher_forcing_rows(model, path)
    report.samples = len(labels)
    schedule = teacher_forcing_schedule(model.config)
    cache, logits = KvCache(), []
    with scale_bar("verify", len(schedule)) as bar:
        model.launcher = checker
        try:
            for step in schedule:
                logits.append(model.step_logits(step, labels, tokens, cache=cache))
                bar.update(1)
        finally:
            model.launcher = None
        whole = model.forward(labels, tokens)  # in this process, while the workers finish the last launches
        checker.settle()
    steps = np.concatenate(logits, axis=1)
    differing = int(np.count_nonzero(_bits(steps) != _bits(whole)))
    report.teacher_forcing = (len(schedule), whole.size, differing)
    report.compared += whole.size
    report.differing += differing
    if differing and checker.first_bad is None:
        report.note = (
            "every kernel launch agrees, but the step program's logits differ from @main's: the step-program "
            "pass or the KV cache's wiring is wrong (the build's ir/3-step.mlir shows the step functions)"
        )


def _teacher_forcing_rows(model: VarModel, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The labels ``[N]`` and tokens ``[N, L-1, Cvae]`` of an inputs file, checked against the model."""
    data = read_npz(path, "inputs")
    names = model.inputs
    missing = [n for n in (names.label, names.tokens) if n not in data]
    if missing:
        raise FpqcError(
            f"{path}: missing input arrays {', '.join(missing)} (the model's inputs: {names.label}, {names.tokens})"
        )
    labels, tokens = np.asarray(data[names.label]), np.asarray(data[names.tokens])
    config = model.config
    shape = (config.L - config.first_l, config.Cvae)
    if labels.ndim != 1 or labels.dtype.kind not in "iu" or len(labels) == 0:
        raise FpqcError(f"{path}: '{names.label}' must be N >= 1 integer class labels, got {list(labels.shape)} "
                        f"{labels.dtype}")
    if tokens.shape != (len(labels), *shape) or tokens.dtype != np.float32:
        raise FpqcError(f"{path}: '{names.tokens}' must be float32 [{len(labels)}, {shape[0]}, {shape[1]}] (a row "
                        f"per label), got {list(tokens.shape)} {tokens.dtype}")
    if labels.min() < 0 or labels.max() > config.num_classes:
        raise FpqcError(f"{path}: labels must be 0 .. {config.num_classes} ({config.num_classes}: no class), "
                        f"got {labels.min()} .. {labels.max()}")
    return labels.astype(np.int64), tokens


def _read_inputs(path: Path, module: ModuleOp) -> dict[str, np.ndarray]:
    """The arrays of ``@main``'s inputs in an inputs file, each checked against its type."""
    data = read_npz(path, "inputs")
    names = input_names(main_function(module))
    try:
        main_arguments(module, {n: data[n] for n in names if n in data})
    except FpqcError as e:
        raise FpqcError(f"{path}: {e}") from None
    return {n: data[n] for n in names}


def _csim_generation(
    runtime: VarRuntime, device: CsimDevice, labels: list[int], seed: int, observers: tuple = ()
) -> tuple[list[np.ndarray], np.ndarray]:
    """Tokens and images of a generation with every launch on ``device`` (the C simulation)."""
    model = runtime.model
    model.launcher = lambda call, args: device.launch(call.callee.string_value(), args)
    try:
        result = runtime.generate(np.asarray(labels), seed=seed, observers=observers, **SAMPLING)
    finally:
        model.launcher = None
    return list(result.tokens), np.asarray(result.images)


def _verify_main(
    build_dir: Path, module: ModuleOp, store: WeightStore, checker: _CheckingLauncher, report: VerifyReport,
    samples: int, seed: int, given: dict[str, np.ndarray] | None,
) -> None:
    schedule = load_schedule(build_dir)
    main = main_function(module)
    names = input_names(main)
    whole = schedule.get("csim") == "supported"
    whole_exe = compile_csim(build_dir) if whole else None
    if not whole:
        report.note = "whole model: not C-simulated (some steps run on the host); every kernel launch checked"
    rng = np.random.default_rng(seed)
    compared = differing = 0
    if given is not None:
        samples = report.samples = 1
    for sample in tqdm(range(samples), desc="verify", unit="sample", disable=None, leave=False):
        checker.context = f"sample {sample}, "
        inputs = given if given is not None else _random_inputs(main, names, rng)
        expected = run_function(module, "main", tuple(inputs[n] for n in names), store, launcher=checker)
        if whole_exe is not None:
            got = run_csim(build_dir, inputs, exe=whole_exe)
            for name, want in zip(output_names(main), expected):
                compared += want.size
                differing += int(np.count_nonzero(_bits(want) != _bits(got[name])))
    checker.settle()
    if whole_exe is not None:
        report.whole_model = (compared, differing)
        report.compared += compared
        report.differing += differing
        if differing and checker.first_bad is None:
            report.note = (
                "every kernel launch agrees, but the whole-model C simulation differs: look at "
                "csim/csim_main.cpp and the packing of weights.bin"
            )


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


class _Recorder(Interpreter.Listener):
    """Keeps every op's results during an interpreter run."""

    def __init__(self) -> None:
        self.results: dict[Operation, tuple] = {}

    def did_interpret_op(self, op: Operation, results) -> None:
        self.results[op] = tuple(results)


def _locate(build_dir: Path, module: ModuleOp, store: WeightStore, launch: _Launch) -> FirstDifference:
    """Replay ``launch`` with every intermediate on both sides; the first kernel op that differs."""
    name = launch.call.callee.string_value()
    kernel = next(op for op in module.ops if isinstance(op, hls.KernelOp) and op.sym_name.data == name)
    recorder = _Recorder()
    interpreter = make_interpreter(module, (recorder,))
    with store.activate():
        want_out = interpreter.call_op(name, launch.args)
    device = CsimDevice(build_dir, dump=True)
    with scratch_directory("verify") as dump:
        previous = os.environ.get("FPQC_DUMP_DIR")
        os.environ["FPQC_DUMP_DIR"] = str(dump)
        try:
            got_out = device.launch(name, launch.args)
        finally:
            if previous is None:
                del os.environ["FPQC_DUMP_DIR"]
            else:
                os.environ["FPQC_DUMP_DIR"] = previous
        ops = [op for op in kernel.body.block.ops if not isinstance(op, hls.PlanOp | hls.ReturnOp)]
        for index, op in enumerate(ops):
            for j, (result, want) in enumerate(zip(op.results, recorder.results.get(op, ()))):
                path = dump / f"{name}.{index}.{j}.bin"
                if not path.is_file():
                    continue  # not a buffer of its own (a KV cache updated in place)
                want = np.asarray(want)
                is_codes = code_format(result.type) is not None
                got = np.fromfile(path, dtype=np.uint8 if is_codes else "<f4").reshape(want.shape)
                if is_codes:
                    delta = np.abs(want.astype(np.int64) - got.astype(np.int64)).reshape(-1)
                else:
                    delta = np.abs(want.astype(np.float64) - got.astype(np.float64)).reshape(-1)
                bad = _bits(want) != _bits(got)
                if bad.any():
                    return FirstDifference(
                        name, index, op.name, j, int(bad.sum()), int(bad.size),
                        float(np.nanmax(np.where(bad, delta, 0))), launch.where,
                    )
    for j, (want, got) in enumerate(zip(want_out, got_out)):
        bad = _bits(want) != _bits(got)
        if bad.any():
            return FirstDifference(name, -1, "", j, int(bad.sum()), int(bad.size), 0.0, launch.where)
    return FirstDifference(name, -1, "", 0, 0, 0, 0.0, launch.where)
