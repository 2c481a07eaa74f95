"""Benchmark: fpqc's interpreter against a float PyTorch forward of VAR-d16 (issue 13, goal 3).

One teacher-forcing forward (all 680 tokens, at the batch the model was exported for) of:

* ``torch``: the VAR of ``fpqc/frontend/var`` (written like the released code) at VAR-d16's
  shapes, float32, ``torch.inference_mode``;
* ``fpqc float``: ``var.onnx`` imported and raised, run by fpqc's interpreter (the same numerics
  as the step program);
* ``fpqc fp4``: an fp4 build's ``@main`` in the interpreter (bit-exact with the C simulation).

Times are the best of ``--rounds`` alternating rounds (torch, float, fp4, ...), on the same seeded
input; the ratios are against torch in the same run (goal: the quantized interpreter within 2x).
The float interpreter's peak memory (this process's RSS growth while it runs, sampled every
10 ms) is printed against the ONNX file's size (goal: within 1.5x). VAR-d16 (random weights,
1.24 GB) is exported once into ``--cache`` and reused.

    python benchmarks/interpreter_speed.py [--depth 16] [--rounds 2] [--cache out/bench/var_d16_fpqc]
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from pathlib import Path

import fpqc  # noqa: F401  (first, as in the fpqc commands: it sets numpy's BLAS thread timeout)
import torch

from _measure import model_bytes
from compile_d16 import export, fp4_build
from fpqc.backends.interp.runner import run_module
from fpqc.compiler import load_build, load_onnx, run_pipeline
from fpqc.frontend.var.export import build_models, example_inputs
from fpqc.passes.pipelines import RAISE_PIPELINE
from fpqc.runtime.model import VarModel

QUANTIZED_GOAL, MEMORY_GOAL = 2.0, 1.5


class PeakRss:
    """The largest resident set size of this process while the ``with`` block runs (sampled)."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()

    @staticmethod
    def now() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self.now())

    def __enter__(self) -> "PeakRss":
        self.start = self.now()
        self.peak = self.start
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=None)
    args = parser.parse_args()
    model = export(args.depth, args.cache)
    build = fp4_build(model)
    var_model = VarModel.load(model)
    config, batch = var_model.config, var_model.batch
    label, x = example_inputs(config, batch=batch, seed=0)
    inputs = {var_model.inputs.label: label.numpy(), var_model.inputs.tokens: x.numpy()}
    print(f"load average {os.getloadavg()[0]:.2f}; VAR-d{args.depth}, batch {batch}, {config.L} tokens", flush=True)

    var, _ = build_models(config, seed=0)
    float_module, float_store = load_onnx(model)
    with float_store.activate():
        run_pipeline(float_module, RAISE_PIPELINE, "raise")
    fp4_module, fp4_store = load_build(build)

    def run_torch() -> None:
        with torch.inference_mode():
            var(label, x)

    runs = {
        "torch float": run_torch,
        "fpqc float": lambda: run_module(float_module, inputs, float_store),
        "fpqc fp4": lambda: run_module(fp4_module, inputs, fp4_store),
    }
    timings: dict[str, list[float]] = {name: [] for name in runs}
    memory = 0
    for _ in range(args.rounds):
        for name, run in runs.items():
            with PeakRss() as rss:
                start = time.perf_counter()
                run()
                timings[name].append(time.perf_counter() - start)
            if name == "fpqc float":
                memory = max(memory, rss.peak - rss.start)

    reference = min(timings["torch float"])
    print(f"\n| forward | s (best of {args.rounds}) | × torch |")
    print("|---|---|---|")
    for name, times in timings.items():
        print(f"| {name} | {min(times):.2f} | {min(times) / reference:.1f}x |")
    ratio = min(timings["fpqc fp4"]) / reference
    print(f"\nquantized interpreter {ratio:.1f}x torch: goal {QUANTIZED_GOAL:g}x "
          f"{'met' if ratio <= QUANTIZED_GOAL else 'missed'}")
    size = model_bytes(model)
    print(f"float interpreter: {memory / 1e9:.2f} GB above its start, {memory / size:.2f}x the "
          f"{size / 1e9:.2f} GB model: goal {MEMORY_GOAL:g}x {'met' if memory <= MEMORY_GOAL * size else 'missed'}")
    print(f"load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
