"""Benchmark: the C++ host program against fpqc's Python runtime on the shipped digits VAR.

Compiles the digits VAR (fp4) and generates the same images twice with every kernel launch
in the C simulation: once with ``fpqc generate --device csim`` (the Python runtime) and once
with ``--host cpp`` (the build's C++ host program, the VQVAE called back in Python).  Prints
both generation times (the C++ host program built beforehand, so neither counts compiling), the
time the C++ host program waited for its host library (Python start-up, the VQVAE), the ratios
and how many tokens and image values differ (the contract: none).

    python benchmarks/host_program_digits.py [--classes 0-9] [--out out/bench/host]
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

import numpy as np

from fpqc.backends.hls.csim_device import CsimDevice
from fpqc.backends.hls.host_program import compile_host_program
from fpqc.compiler import compile_model
from fpqc.runtime.cpp_host import generate_with_cpp_host
from fpqc.runtime.devices import device_launcher
from fpqc.runtime.var_runtime import VarRuntime

MODEL = Path(__file__).resolve().parents[1] / "examples/digits/var.onnx"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", default="0-9", help="first-last class labels, one image each")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("out/bench/host"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    first, last = (int(c) for c in args.classes.split("-"))
    labels = list(range(first, last + 1))
    build = args.out / "build"
    compile_model(MODEL, build, format_name="fp4")
    CsimDevice(build)  # the kernels' objects, shared by both runs
    compile_host_program(build)
    sampling = {"cfg": 1.5, "top_k": 40, "top_p": 0.95}

    runtime = VarRuntime.load(build)
    runtime.model.launcher = device_launcher("csim", build)
    start = time.perf_counter()
    python = runtime.generate(labels, args.seed, **sampling)
    python_s = time.perf_counter() - start

    start = time.perf_counter()
    summary = generate_with_cpp_host(build, labels, args.out / "cpp.npz", args.seed, **sampling)
    cpp_s = time.perf_counter() - start
    cpp = np.load(args.out / "cpp.npz")
    library_s = float(re.search(r"\(([\d.]+) s in the host library\)", summary).group(1))

    tokens = sum(t.size for t in python.tokens)
    differing = sum(int((cpp[f"tokens.scale{k}"] != t).sum()) for k, t in enumerate(python.tokens))
    print(f"{len(labels)} digits, {len(python.tokens)} scales, kernels in the C simulation")
    print(f"  Python runtime      {python_s:7.2f} s")
    print(f"  C++ host program    {cpp_s:7.2f} s   ({python_s / cpp_s:.2f}x the Python runtime's speed)")
    print(f"    of which waiting for the host library {library_s:.2f} s (Python start-up, the VQVAE); without it "
          f"{cpp_s - library_s:.2f} s, {python_s / (cpp_s - library_s):.2f}x")
    print(f"  tokens differing    {differing} of {tokens}")
    print(f"  image values differing {int((cpp['images'] != python.images).sum())} of {python.images.size}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
