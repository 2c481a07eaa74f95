"""Benchmark (issue 13, goal 5): ``fpqc verify`` against one interpreter forward.

An fp4 build of a VAR (random weights: VAR-d16 by default, exported once into ``--cache``):

* ``run``: ``fpqc run BUILD --inputs`` -- one teacher-forcing forward of the quantized model in the
  interpreter (all tokens, the export's batch), start-up and loading the build included;
* ``teacher-forcing``: ``fpqc verify BUILD --inputs`` on the same inputs -- the step program scale after
  scale on those tokens, every kernel launch executed by the interpreter and by the C simulation and
  compared bit for bit, then its logits against the interpreter's whole forward;
* ``generation``: ``fpqc verify BUILD --samples 1`` -- a whole generation with guidance (two rows a
  scale: twice the launches), every launch compared the same way.

Both verifies run with the default jobs (every core for a build this size).  The goal: verifying a
whole generation, or one teacher-forcing sample, within 10x a forward.

Rounds alternate (run, the checks, ...), each a fresh process; the kernels' C-simulation objects are
compiled before the first round (they are cached in the build, as after any first verify).
Prints every run with its CPU time and the load average, the best of each and their ratios against
the goal.

    python benchmarks/verify_speed.py [--depth 16] [--embed-dim N --heads N] [--rounds 1] [--cache DIR]
                                      [--checks teacher-forcing,generation]
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
CHECKS = ("teacher-forcing", "generation")


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
    parser.add_argument("--checks", default=",".join(CHECKS), help=f"of {', '.join(CHECKS)}")
    args = parser.parse_args()
    checks = [c for c in args.checks.split(",") if c]
    if not checks or set(checks) - set(CHECKS):
        parser.error(f"--checks: one or more of {', '.join(CHECKS)}")

    build = fp4_build(export(args.depth, args.cache, args.embed_dim, args.heads))
    inputs = teacher_forcing_inputs(build)
    print("compiling the kernels' C simulation ...", flush=True)
    measure(python("-c", "import sys; from pathlib import Path; from fpqc.backends.hls.csim_device import CsimDevice; "
                         "CsimDevice(Path(sys.argv[1]))", str(build)))
    print(f"{build}: {os.cpu_count()} cores, load average at start {os.getloadavg()[0]:.1f}")
    verify = {"teacher-forcing": ["--inputs", str(inputs)], "generation": ["--samples", "1"]}
    runs: list = []
    timed: dict[str, list] = {c: [] for c in checks}
    for round_ in range(1, args.rounds + 1):
        run = measure(fpqc("run", str(build), "--inputs", str(inputs), "-o", str(build.parent / "verify_speed.npz")))
        runs.append(run)
        line = [f"round {round_}: run {run} (load {run.load:.1f})"]
        for check in checks:
            got = measure(fpqc("verify", str(build), *verify[check]))
            timed[check].append(got)
            line.append(f"{check} verify {got} (load {got.load:.1f}) {got.seconds / run.seconds:.1f}x")
        print(" | ".join(line), flush=True)
    run = min(runs, key=lambda r: r.seconds)
    for check in checks:
        best = min(timed[check], key=lambda r: r.seconds)
        ratio = best.seconds / run.seconds
        verdict = "met" if ratio <= GOAL_RATIO else "MISSED"
        print(f"best: {check} verify {best.seconds:.1f} s vs one forward {run.seconds:.2f} s = {ratio:.1f}x "
              f"(goal <= {GOAL_RATIO:g}x: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
