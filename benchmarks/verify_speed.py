"""Benchmark (issue 13, goal 5): ``fpqc verify`` of a whole generation against one interpreter forward.

An fp4 build of a VAR (random weights: VAR-d16 by default, exported once into ``--cache``):

* ``run``: ``fpqc run BUILD --inputs`` -- one teacher-forcing forward of the quantized model in the
  interpreter (all tokens, the export's batch), start-up and loading the build included;
* ``verify``: ``fpqc verify BUILD --samples 1`` -- a whole generation with guidance, every kernel
  launch executed by the interpreter and by the C simulation and compared bit for bit, with the
  default jobs (every core for a build this size).

Rounds alternate (run, verify, ...), each a fresh process; the kernels' C-simulation objects are
compiled before the first round (they are cached in the build, as after any first verify).
Prints every run with its CPU time and the load average, the best of each and their ratio against
the goal (verify at most 10x a forward).

    python benchmarks/verify_speed.py [--depth 16] [--embed-dim N --heads N] [--rounds 1] [--cache DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import fpqc, measure, python  # noqa: E402
from compile_d16 import export, fp4_build  # noqa: E402

GOAL_RATIO = 10.0


def teacher_forcing_inputs(build: Path) -> Path:
    """Seeded inputs of one teacher-forcing forward at the build's shapes (``<build>_inputs.npz``)."""
    from fpqc.frontend.var.export import example_inputs  # here: the benchmark times fpqc in fresh processes
    from fpqc.runtime.model import VarModel

    model = VarModel.load(build)
    label, tokens = example_inputs(model.config, batch=1, seed=0)
    path = build.parent / f"{build.name}_inputs.npz"
    np.savez(path, **{model.inputs.label: label.numpy(), model.inputs.tokens: tokens.numpy()})
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=16)
    parser.add_argument("--embed-dim", type=int, default=None, help="another width (with --heads)")
    parser.add_argument("--heads", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=None)
    args = parser.parse_args()

    build = fp4_build(export(args.depth, args.cache, args.embed_dim, args.heads))
    inputs = teacher_forcing_inputs(build)
    print("compiling the kernels' C simulation ...", flush=True)
    measure(python("-c", "import sys; from pathlib import Path; from fpqc.backends.hls.csim_device import CsimDevice; "
                         "CsimDevice(Path(sys.argv[1]))", str(build)))
    print(f"{build}: {os.cpu_count()} cores, load average at start {os.getloadavg()[0]:.1f}")
    runs, verifies = [], []
    for round_ in range(1, args.rounds + 1):
        run = measure(fpqc("run", str(build), "--inputs", str(inputs), "-o", str(build.parent / "verify_speed.npz")))
        verify = measure(fpqc("verify", str(build), "--samples", "1"))
        runs.append(run)
        verifies.append(verify)
        print(f"round {round_}: run {run} (load {run.load:.1f}) | verify {verify} (load {verify.load:.1f}) "
              f"| {verify.seconds / run.seconds:.1f}x", flush=True)
    run, verify = min(runs, key=lambda r: r.seconds), min(verifies, key=lambda r: r.seconds)
    ratio = verify.seconds / run.seconds
    verdict = "met" if ratio <= GOAL_RATIO else "MISSED"
    print(f"best: verify {verify.seconds:.1f} s vs one forward {run.seconds:.2f} s = {ratio:.1f}x "
          f"(goal <= {GOAL_RATIO:g}x: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
