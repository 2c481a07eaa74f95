"""Benchmark: teacher-forced quality of every recipe on the digits VAR and two outlier-stressed variants.

Makes the README's recipe table.  The variants come from ``fpqc stress-outliers``
(4 channels of every mat_qkv and fc1 input scaled by factors drawn from
``5-12`` for "moderate" and ``20-50`` for "strong", seed 0; the float logits are
unchanged).  Each model is calibrated as ``make demo`` does (classes 0-9, 2
images each) and every recipe is evaluated teacher-forced on the 10 held-out
digits of ``examples/digits/inputs.npz``; recipes with random Hadamard signs
are built once per seed and reported as mean ± standard deviation of the KL.
Prints a Markdown table, the lowest-KL recipe per bit width and model, and
writes ``quality.json``.

    python benchmarks/quality_table.py [--seeds 0-4] [--out out/bench/quality] [--recipes a,b]

``--recipes`` evaluates only those rows (the calibration and the seeds are the same, so
their figures are the ones a whole run gives).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import time
from pathlib import Path


from fpqc.eval.quality import evaluate_teacher_forced
from fpqc.passes.pipelines import RECIPES
from fpqc.runtime.calibrate import calibrate
from fpqc.runtime.var_runtime import VarRuntime
from fpqc.tools.stress_outliers import StressSettings, stress_outliers

DIGITS = Path(__file__).resolve().parents[1] / "examples/digits"
STRESS = {"moderate": (5.0, 12.0), "strong": (20.0, 50.0)}
ROWS = {
    "4-bit": ["fpqvar-w4a4", "fpqvar-w4a4-ties-up", "fpqvar-w4a4-rtn", "fpqvar-w4a4-authors", "fp4-ght", "fp4-dfq", "fp4-ght-dfq",
              "fp4-ght-dfq-gptq", "fp4-galt-ght", "fp4-baseline", "mixedformat", "mixedformat-layerwise", "int4-rtn"],
    "6-bit": ["fpqvar-w6a6", "fpqvar-w6a6-rtn", "fp6-ght-dfq", "fpqvar-w6a6-authors", "fp6-baseline", "mixedformat-layerwise-w6a6", "int6-rtn"],
    "fc2 in float": ["int4-rtn-fc2-float", "fp4-baseline-fc2-float", "int6-rtn-fc2-float", "fp6-baseline-fc2-float"],
    "8-bit": ["fp8-rtn"],
}


def _seeds(spec: str) -> tuple[int, ...]:
    first, _, last = spec.partition("-")
    return tuple(range(int(first), int(last or first) + 1))


def _models(out: Path) -> dict[str, Path]:
    models = {"shipped": DIGITS / "var.onnx"}
    for name, (low, high) in STRESS.items():
        path = out / f"{name}.onnx"
        report = stress_outliers(DIGITS / "var.onnx", path, StressSettings(4, low, high))
        print(f"{name}: {report.summary().splitlines()[-1]}")
        models[name] = path
    return models


def _cell(result) -> str:
    if len(result.kl_runs) > 1:
        return f"{result.kl:.4f} ± {result.kl_spread:.4f}"
    return f"{result.kl:.4f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0-4", help="Hadamard seeds, e.g. 0-4")
    parser.add_argument("--out", type=Path, default=Path("out/bench/quality"))
    parser.add_argument("--recipes", default="", help="only these rows, e.g. fpqvar-w4a4,fp4-ght-dfq")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    seeds = _seeds(args.seeds)
    recipes = [name for rows in ROWS.values() for name in rows]
    assert all(name in RECIPES for name in recipes)
    if args.recipes:
        unknown = set(args.recipes.split(",")) - set(recipes)
        if unknown:
            parser.error(f"not a row of the table: {', '.join(sorted(unknown))}")
        recipes = [name for name in recipes if name in args.recipes.split(",")]
    rows = {group: [n for n in names if n in recipes] for group, names in ROWS.items()}

    results: dict[str, dict[str, object]] = {}
    for name, model in _models(args.out).items():
        start = time.perf_counter()
        calib = args.out / f"calib_{name}.npz"
        calibrate(VarRuntime.load(model, DIGITS / "vae.npz"), list(range(10)), 2).save(calib)
        with contextlib.redirect_stderr(io.StringIO()):
            evaluated, _ = evaluate_teacher_forced(model, recipes, DIGITS / "inputs.npz", calib, DIGITS / "vae.npz", seeds)
        results[name] = {r.recipe: r for r in evaluated}
        print(f"{name}: calibrated and evaluated {len(recipes)} recipes in {time.perf_counter() - start:.0f} s")

    models = list(results)
    print(f"\n| recipe | {' | '.join(f'{m} KL' for m in models)} |")
    print(f"|---|{'---|' * len(models)}")
    for group, names in rows.items():
        if not names:
            continue
        print(f"| *{group}* |{' |' * len(models)}")
        for name in names:
            print(f"| {name} | {' | '.join(_cell(results[m][name]) for m in models)} |")
    print()
    for group in ("4-bit", "6-bit"):
        for m in models if rows[group] else ():
            by_mean = min(rows[group], key=lambda n: results[m][n].kl)
            by_seed0 = min(rows[group], key=lambda n: results[m][n].kl_runs[0])
            print(f"lowest {group} KL on {m}: {by_mean} (mean over seeds), {by_seed0} (seed {seeds[0]})")
    payload = {m: {n: {"kl": r.kl, "kl_runs": r.kl_runs, "top1": r.top1} for n, r in rs.items()}
               for m, rs in results.items()}
    (args.out / "quality.json").write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.out / 'quality.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
