"""Benchmark (issue 13, goal 2): ``fpqc compile`` of VAR-d16 against the read-and-quantize-once limit.

The limit is the least any compiler of this model must do, measured in the same run
(``_LIMIT`` below): one process reads the ONNX model with its external data
(``onnx.load``) and quantizes every weight that fpqc quantizes, with numpy group scales
(``absmax / max``) and ``ml_dtypes``' cast to the format -- fp4: E2M1 per group of 128
along the input; fp6: E2M3 per output channel -- writing nothing.  The weights fpqc
quantizes are found by importing and raising the model first (not timed).

Runs alternate (fpqc, limit, fpqc, limit, ...) so that the machine's load falls on both
alike; each run is a fresh process, its wall time includes start-up (CPU time is printed too:
the load of a shared machine stretches wall times), its peak memory is the child's peak RSS.  Prints every run, the best of each, their ratio against the goal (fp4:
at most 1.5x the limit; fp6: 2x) and fpqc's peak memory against the ONNX file (goal: at most
1.5x), with the load average.  VAR-d16 (random weights, 1.24 GB) is exported once into
``--cache``.

    python benchmarks/compile_d16.py [--formats fp4,fp6] [--rounds 2] [--depth 16] [--cache DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import fpqc, measure, model_bytes, python  # noqa: E402

GOAL_RATIO = {"fp4": 1.5, "fp6": 2.0}
GOAL_MEMORY_RATIO = 1.5
ML_DTYPES = {"fp4": ("float4_e2m1fn", 6.0, 128), "fp6": ("float6_e2m3fn", 7.5, None)}

_QUANTIZED = r"""
import json, sys
from pathlib import Path
import onnx
import fpqc.compiler as compiler
from fpqc.dialects import fpq
from fpqc.passes.constants import constant_key
from fpqc.weights import WeightStore
module, store = compiler.load_onnx(Path(sys.argv[1]))
with store.activate():
    compiler.run_pipeline(module, "raise-onnx-to-fpq", "raise")
names = {WeightStore().unique_key(t.name): t.name  # the key the importer gives each initializer
         for t in onnx.load(sys.argv[1], load_external_data=False).graph.initializer}
chosen = []
for op in module.walk():
    if isinstance(op, fpq.LinearOp) and fpq.role_of(op) in ("mat_qkv", "proj", "fc1", "fc2"):
        key = constant_key(op.weight)
        transposed = key.endswith(".T")
        chosen.append([names[key[:-2] if transposed else key], transposed])
print(json.dumps(chosen))
"""

_LIMIT = r"""
import json, sys
import numpy as np, onnx, ml_dtypes
from onnx import numpy_helper
path, quantized, dtype, max_value, group = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], float(sys.argv[4]), sys.argv[5]
cast = getattr(ml_dtypes, dtype)
transposed = dict(quantized)
model = onnx.load(path, load_external_data=True)
for tensor in model.graph.initializer:
    w = numpy_helper.to_array(tensor)
    if tensor.name not in transposed:
        continue
    w = w if transposed[tensor.name] else w.T   # [K, O]: groups run down the columns
    k, o = w.shape
    rows = k if group == "channel" else int(group)
    groups = w.reshape(k // rows, rows, o)
    scales = np.abs(groups).max(axis=1, keepdims=True) / np.float32(max_value)
    scales[scales == 0] = 1
    codes = (groups / scales).astype(cast)
"""


def export(depth: int, cache: Path | None = None, embed_dim: int | None = None, heads: int | None = None) -> Path:
    """VAR-d``depth`` (random weights, ``--small-vae``; another width with ``embed_dim`` and ``heads``) in ``cache``
    (default ``out/bench/var_d{depth}_fpqc``, ``var_d{depth}w{embed_dim}`` at another width), exported unless it
    is there already; its ``var.onnx``."""
    width = ["--embed-dim", str(embed_dim), "--heads", str(heads)] if embed_dim else []
    cache = cache or Path("out/bench") / (f"var_d{depth}w{embed_dim}" if embed_dim else f"var_d{depth}_fpqc")
    model = cache / "var.onnx"
    if not model.exists():
        print(f"exporting VAR-d{depth} to {cache} ...", flush=True)
        run = measure(fpqc("export-var", "--depth", str(depth), *width, "--small-vae", "-o", str(cache)))
        print(f"  exported in {run}", flush=True)
    return model


def fp4_build(model: Path) -> Path:
    """The fp4 build of ``model`` beside its cache directory (``<cache>_fp4_build``), compiled unless it
    is there already with the HLS library headers of this checkout (a build from an older checkout would
    time the older accelerator code)."""
    from fpqc.compiler import compile_model  # here: the benchmark itself times fpqc in fresh processes

    build = model.parent.parent / f"{model.parent.name}_fp4_build"
    if not (build / "manifest.json").exists() or not _has_current_headers(build):
        print(f"compiling {model} (fp4) ...", flush=True)
        compile_model(model, build, format_name="fp4")
    return build


def _has_current_headers(build: Path) -> bool:
    """Whether ``build``'s copies of the HLS library headers are the ones a compile would write now."""
    from fpqc.backends.hls.build import INCLUDE_DIR, LIBRARY_HEADERS

    return all((build / "kernels" / h).is_file() and (build / "kernels" / h).read_bytes() == (INCLUDE_DIR / h).read_bytes()
               for h in LIBRARY_HEADERS)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--formats", default="fp4,fp6")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--depth", type=int, default=16)
    parser.add_argument("--cache", type=Path, default=None)
    args = parser.parse_args()
    model = export(args.depth, args.cache)
    size = model_bytes(model)
    found = subprocess.run(python("-c", _QUANTIZED, str(model)), capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    quantized = found.stdout.strip().splitlines()[-1]
    print(f"VAR-d{args.depth}: ONNX {size / 1e9:.2f} GB, {len(json.loads(quantized))} weights quantized; "
          f"load average at start {os.getloadavg()[0]:.1f}")
    failed = False
    with tempfile.TemporaryDirectory(prefix="fpqc-bench-", dir=model.parent) as scratch:
        for fmt in args.formats.split(","):
            dtype, max_value, group = ML_DTYPES[fmt]
            limit_args = python("-c", _LIMIT, str(model), quantized, dtype, str(max_value), str(group or "channel"))
            runs = {"fpqc": [], "limit": []}
            for round_ in range(args.rounds):
                build = Path(scratch) / f"{fmt}-{round_}"
                runs["fpqc"].append(measure(fpqc("compile", str(model), "--format", fmt, "-o", str(build))))
                shutil.rmtree(build)
                runs["limit"].append(measure(limit_args))
                a, b = runs["fpqc"][-1], runs["limit"][-1]
                print(f"{fmt} round {round_ + 1}: fpqc compile {a} | limit {b} | {a.seconds / b.seconds:.2f}x "
                      f"({a.cpu_seconds / b.cpu_seconds:.2f}x in CPU time; load {a.load:.1f}, {b.load:.1f})", flush=True)
            best = {k: min(v, key=lambda r: r.seconds) for k, v in runs.items()}
            ratio = best["fpqc"].seconds / best["limit"].seconds
            cpu = min(r.cpu_seconds for r in runs["fpqc"]) / min(r.cpu_seconds for r in runs["limit"])
            memory = max(r.peak_bytes for r in runs["fpqc"]) / size
            met = ratio <= GOAL_RATIO[fmt] and memory <= GOAL_MEMORY_RATIO
            failed |= not met
            print(f"{fmt} best: fpqc {best['fpqc'].seconds:.2f} s vs limit {best['limit'].seconds:.2f} s = {ratio:.2f}x "
                  f"(goal <= {GOAL_RATIO[fmt]}x: {'met' if ratio <= GOAL_RATIO[fmt] else 'MISSED'}; {cpu:.2f}x in CPU "
                  f"time); fpqc peak memory "
                  f"{max(r.peak_bytes for r in runs['fpqc']) / 1e9:.2f} GB = {memory:.2f}x the file "
                  f"(goal <= {GOAL_MEMORY_RATIO}x: {'met' if memory <= GOAL_MEMORY_RATIO else 'MISSED'}); "
                  f"limit peak {max(r.peak_bytes for r in runs['limit']) / 1e9:.2f} GB")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
