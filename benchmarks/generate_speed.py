"""Benchmark: generation through fpqc's step program against the KV-cached PyTorch reference (issue 13, goal 4).

Generates the same classes with the shipped digits VAR (or, with ``--depth N``, a random-weight
VAR-dN exported once into ``out/bench/var_dN_fpqc``, as ``interpreter_speed.py`` does) three ways,
per image:

* ``torch``: ``autoregressive_infer_cfg`` (``fpqc/frontend/var/generate.py``, written like the
  released code) with its KV cache, on the model's own ``var.pth`` / ``vae.pth``;
* ``fpqc float``: ``VarRuntime.generate`` on ``var.onnx`` -- the float step program in fpqc's
  interpreter, scale by scale against its KV caches;
* ``fpqc fp4``: the same on an fp4 build (the bit-exact quantized interpreter).

Each is timed over ``--rounds`` alternating rounds (torch, float, fp4, torch, ...) and the best
round counts; the ratios are against the torch reference of the same run and the goal is 3x. Both
sides decode the images with their VQVAE. Prints the load average before and after, and the share of
the machine's CPU its hypervisor took during each best round (a shared virtual machine's noise).

    python benchmarks/generate_speed.py [--classes 0-9] [--rounds 3] [--cfg 3.0] [--depth 16]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import fpqc  # noqa: F401  (first, as in the fpqc commands: it sets numpy's BLAS thread timeout)
import torch

from _measure import StolenTime
from compile_d16 import export, fp4_build
from fpqc.compiler import compile_model
from fpqc.frontend.var.export import build_models
from fpqc.frontend.var.generate import autoregressive_infer_cfg
from fpqc.runtime.var_runtime import VarRuntime

DIGITS = Path(__file__).resolve().parents[1] / "examples/digits"
GOAL = 3.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", default="0-9", help="first-last class labels, one image each")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cfg", type=float, default=3.0, help="classifier-free guidance")
    parser.add_argument("--depth", type=int, default=None, help="a random-weight VAR-d<depth> instead of the digits")
    args = parser.parse_args()
    first, last = (int(c) for c in args.classes.split("-"))
    labels = list(range(first, last + 1))
    print(f"load average {os.getloadavg()[0]:.2f}; {len(labels)} images per run, guidance {args.cfg}")

    if args.depth is None:
        float_runtime = VarRuntime.load(DIGITS / "var.onnx")
        with tempfile.TemporaryDirectory() as scratch:
            build = Path(scratch) / "build"
            compile_model(DIGITS / "var.onnx", build, format_name="fp4")
            fp4_runtime = VarRuntime.load(build)
        var, vae = build_models(float_runtime.config, DIGITS / "var.pth", DIGITS / "vae.pth")
    else:
        model = export(args.depth)
        float_runtime, fp4_runtime = VarRuntime.load(model), VarRuntime.load(fp4_build(model))
        var, vae = build_models(float_runtime.config, seed=0)  # the export's random weights
    label_B = torch.tensor(labels, dtype=torch.long)

    def run_torch() -> None:
        with torch.inference_mode():
            autoregressive_infer_cfg(var, vae, len(labels), label_B, g_seed=0, cfg=args.cfg, top_k=20, top_p=0.9)

    runs = {
        "torch (KV cache)": run_torch,
        "fpqc float": lambda: float_runtime.generate(labels, seed=0, cfg=args.cfg, top_k=20, top_p=0.9),
        "fpqc fp4": lambda: fp4_runtime.generate(labels, seed=0, cfg=args.cfg, top_k=20, top_p=0.9),
    }
    for run in runs.values():  # warm-up: imports, caches, first-call costs
        run()
    timings: dict[str, list[tuple[float, float | None]]] = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, run in runs.items():
            stolen = StolenTime()
            start = time.perf_counter()
            run()
            timings[name].append((time.perf_counter() - start, stolen.share()))

    reference = min(timings["torch (KV cache)"])[0] / len(labels)
    print(f"\n| generator | s per image (best of {args.rounds}) | × torch | goal | CPU stolen |")
    print("|---|---|---|---|---|")
    for name, times in timings.items():
        seconds, stolen_share = min(times, key=lambda t: t[0])
        per_image = seconds / len(labels)
        ratio = per_image / reference
        goal = "reference" if name.startswith("torch") else ("met" if ratio <= GOAL else f"missed ({GOAL:g}x)")
        stolen_text = "?" if stolen_share is None else f"{100 * stolen_share:.0f}%"
        print(f"| {name} | {per_image:.4f} | {ratio:.1f}x | {goal} | {stolen_text} |")
    print(f"\nload average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
