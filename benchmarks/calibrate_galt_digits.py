"""Benchmark: calibration and GALT on the shipped digits VAR.

Times ``fpqc calibrate`` (the float model run autoregressively over all six
scales for ``--samples`` images of each of the ten classes, statistics and
GALT rows recorded per layer and per scale) and then the ``galt`` pass (a
learned smoothing vector for each block's mat_qkv and fc1 inputs, 50 epochs,
one step per scale), and prints the seconds each took.

    python benchmarks/calibrate_galt_digits.py [--samples 2] [--out out/bench/digits]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import time
from pathlib import Path

from fpqc.compiler import load_onnx, run_pipeline
from fpqc.passes.pipelines import RAISE_PIPELINE
from fpqc.runtime.calibrate import calibrate
from fpqc.runtime.var_runtime import VarRuntime

MODEL = Path(__file__).resolve().parents[1] / "examples/digits/var.onnx"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2, help="images per class")
    parser.add_argument("--out", type=Path, default=Path("out/bench/digits"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    calib = args.out / "calib.npz"

    start = time.perf_counter()
    runtime = VarRuntime.load(MODEL)
    calibrate(runtime, list(range(10)), args.samples).save(calib)
    calibration_s = time.perf_counter() - start

    module, store = load_onnx(MODEL)
    with store.activate():
        run_pipeline(module, RAISE_PIPELINE, "raise")
        start = time.perf_counter()
        with contextlib.redirect_stderr(io.StringIO()):
            run_pipeline(module, f'galt{{calib="{calib}"}}', "galt")
        galt_s = time.perf_counter() - start

    print(f"digits VAR (depth 4, C 128, 6 scales), {10 * args.samples} calibration images")
    print(f"  calibration   {calibration_s:6.1f} s")
    print(f"  GALT          {galt_s:6.1f} s   (8 layer inputs x 50 epochs x 6 scales)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
