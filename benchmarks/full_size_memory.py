"""Benchmark (issue 13, goal 1): a full-size VAR exported and compiled on one machine.

Exports VAR-d``--depth`` (default 30: 2.0 billion parameters, 8 GB of fp32 weights; random
weights, a small VQVAE) into ``--cache`` unless it is already there, then compiles it with
``--format fp4`` and ``--format fp6``, each step a fresh process.  Prints each step's wall
time and peak RSS against the ONNX file's size and the machine's memory, with the load
average; goals: every step within the machine's memory, and a compile's peak memory at most
1.5x the ONNX file.  The builds are deleted afterwards unless ``--keep``.

    python benchmarks/full_size_memory.py [--depth 30] [--cache DIR] [--formats fp4,fp6] [--keep]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import fpqc, machine_memory, measure, model_bytes  # noqa: E402

GOAL_COMPILE_MEMORY_RATIO = 1.5


def report(what: str, run, size: int, memory: int) -> None:
    print(f"{what:28s} {run}  = {run.peak_bytes / size:4.2f}x the ONNX file, "
          f"{run.peak_bytes / memory:4.0%} of the machine's memory (load {run.load:.1f})", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=30)
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--formats", default="fp4,fp6")
    parser.add_argument("--keep", action="store_true", help="keep the builds (GBs) beside the export")
    args = parser.parse_args()
    cache = args.cache or Path("out/bench") / f"var_d{args.depth}_fpqc"
    model = cache / "var.onnx"
    memory = machine_memory()
    exported = None
    if not model.exists():
        print(f"exporting VAR-d{args.depth} to {cache} ...", flush=True)
        exported = measure(fpqc("export-var", "--depth", str(args.depth), "--small-vae", "-o", str(cache)))
    size = model_bytes(model)
    print(f"VAR-d{args.depth}: ONNX {size / 1e9:.2f} GB; machine memory {memory / 1e9:.1f} GB")
    if exported is not None:
        report(f"fpqc export-var --depth {args.depth}", exported, size, memory)
    met = exported is None or exported.peak_bytes < memory
    for fmt in args.formats.split(","):
        build = cache / f"build-{fmt}"
        run = measure(fpqc("compile", str(model), "--format", fmt, "-o", str(build)))
        report(f"fpqc compile --format {fmt}", run, size, memory)
        met &= run.peak_bytes <= GOAL_COMPILE_MEMORY_RATIO * size
        if not args.keep:
            shutil.rmtree(build)
    print(f"goals (every step within the machine's memory, compile <= {GOAL_COMPILE_MEMORY_RATIO}x the file): "
          f"{'met' if met else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
