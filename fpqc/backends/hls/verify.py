"""``fpqc verify``: the emitted C++ against the interpreter, bit for bit.

For ``samples`` seeded random input sets (standard normal, shapes from
``@main``) the build's final IR (``model.hls.mlir`` with ``weights.npz``) runs
in the interpreter and the C simulation runs the emitted kernels; every output
value is compared as its uint32 bit pattern.  When any differ, both sides are
run again on the first failing sample with every intermediate recorded -- the
interpreter through a listener on each op, the C simulation built with
``-DFPQC_DUMP`` -- and the report names the first kernel op (in schedule
order) whose results differ, and by how much.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from xdsl.interpreter import Interpreter
from xdsl.ir import Operation

from fpqc.backends.hls.csim import compile_csim, load_schedule, run_csim
from fpqc.backends.hls.emit import code_format, main_function
from fpqc.backends.interp.runner import INTERPRETER_FUNCTIONS
from fpqc.compiler import load_build
from fpqc.dialects import hls
from fpqc.errors import FpqcError
from fpqc.weights import WeightStore


@dataclass
class FirstDifference:
    kernel: str
    index: int
    op: str
    result: int
    differing: int
    total: int
    max_abs_diff: float

    def describe(self) -> str:
        return (
            f"first differing op: {self.op} (#{self.index} of @{self.kernel}), result {self.result}: "
            f"{self.differing} of {self.total} values differ, max |difference| {self.max_abs_diff:g}"
        )


@dataclass
class VerifyReport:
    samples: int
    compared: int
    differing: int
    first_difference: FirstDifference | None = None

    def summary(self) -> str:
        verdict = "bit-identical" if self.differing == 0 else "MISMATCH"
        lines = [
            f"C simulation vs interpreter: {verdict}",
            f"  samples   {self.samples}",
            f"  values    {self.compared:,} compared, {self.differing:,} differing",
        ]
        if self.first_difference is not None:
            lines.append("  " + self.first_difference.describe())
        return "\n".join(lines)


class _Recorder(Interpreter.Listener):
    """Keeps every op's results during an interpreter run."""

    def __init__(self) -> None:
        self.results: dict[Operation, tuple] = {}

    def did_interpret_op(self, op: Operation, results) -> None:
        self.results[op] = tuple(results)


def _interpret(module, store: WeightStore, inputs: dict[str, np.ndarray], names: list[str], recorder=None):
    interpreter = Interpreter(module, listeners=(recorder,) if recorder else ())
    for functions in INTERPRETER_FUNCTIONS:
        interpreter.register_implementations(functions())
    main = main_function(module)
    with store.activate():
        results = interpreter.call_op(main.sym_name.data, tuple(inputs[n] for n in names))
    return [np.asarray(r) for r in results]


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


def verify_build(build_dir: Path, samples: int, seed: int = 0) -> VerifyReport:
    """Compare interpreter and C simulation on ``samples`` random inputs (module docstring)."""
    if samples < 1:
        raise FpqcError(f"--samples must be at least 1, got {samples}")
    build_dir = Path(build_dir)
    module, store = load_build(build_dir)
    schedule = load_schedule(build_dir)
    exe = compile_csim(build_dir)
    names = [entry["name"] for entry in schedule["inputs"]]
    shapes = {b["name"]: tuple(b["shape"]) for b in schedule["buffers"]}
    out_names = [entry["name"] for entry in schedule["outputs"]]
    rng = np.random.default_rng(seed)

    compared = differing = 0
    first_bad: dict[str, np.ndarray] | None = None
    for _ in range(samples):
        inputs = {
            e["name"]: rng.standard_normal(shapes[e["buffer"]]).astype(np.float32) for e in schedule["inputs"]
        }
        expected = _interpret(module, store, inputs, names)
        got = run_csim(build_dir, inputs, exe=exe)
        for name, want in zip(out_names, expected):
            diff = int(np.count_nonzero(_bits(want) != _bits(got[name])))
            compared += want.size
            differing += diff
            if diff and first_bad is None:
                first_bad = inputs
    report = VerifyReport(samples, compared, differing)
    if first_bad is not None:
        report.first_difference = _locate(build_dir, module, store, first_bad, names)
    return report


def _locate(build_dir: Path, module, store: WeightStore, inputs, names) -> FirstDifference | None:
    """Re-run both sides with every intermediate recorded; the first kernel op that differs."""
    recorder = _Recorder()
    _interpret(module, store, inputs, names, recorder)
    exe = compile_csim(build_dir, dump=True)
    kernels = {op.sym_name.data: op for op in module.ops if isinstance(op, hls.KernelOp)}
    order = [op.callee.string_value() for op in main_function(module).body.block.ops if isinstance(op, hls.CallOp)]
    with tempfile.TemporaryDirectory(prefix="fpqc-dump-") as dump:
        run_csim(build_dir, inputs, exe=exe, dump_dir=Path(dump))
        for name in order:
            for index, op in enumerate(kernels[name].body.block.ops):
                if isinstance(op, hls.ReturnOp):
                    break
                for j, (result, want) in enumerate(zip(op.results, recorder.results[op])):
                    want = np.asarray(want)
                    is_codes = code_format(result.type) is not None
                    path = Path(dump) / f"{name}.{index}.{j}.bin"
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
                            float(np.nanmax(np.where(bad, delta, 0))),
                        )
    return None
