"""Benchmark: import + raise a full-size VAR-d16 (random weights).

Exports VAR-d16 (310M parameters, 1.24 GB of fp32 weights as ONNX external
data) once into ``--cache`` (default ``out/bench/var_d16``), then imports and
raises it in a fresh process and prints the seconds each step took and the
process's peak resident memory, against the goals: under 20 s, and under 2x
the ONNX file's size in peak memory.

    python benchmarks/import_var_d16.py [--depth 16] [--route fpqc|torchscript|dynamo]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

GOAL_SECONDS = 20.0
GOAL_MEMORY_RATIO = 2.0

_MEASURE = r"""
import json, resource, sys, time
from pathlib import Path
t0 = time.perf_counter()
import fpqc.compiler as compiler
from fpqc.analysis.var_blocks import recognise_blocks
baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
t1 = time.perf_counter()
module, store = compiler.load_onnx(Path(sys.argv[1]))
t2 = time.perf_counter()
with store.activate():
    compiler.run_pipeline(module, "raise-onnx-to-fpq", "raise")
t3 = time.perf_counter()
blocks = recognise_blocks(module)
print(json.dumps({
    "startup_s": t1 - t0,
    "import_s": t2 - t1,
    "raise_s": t3 - t2,
    "blocks": blocks.blocks,
    "baseline_rss": baseline,
    "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
}))
"""


_EXPORT = r"""
import sys
from fpqc.frontend.var.config import VARConfig
from fpqc.frontend.var.export import export_var
depth, route, cache = int(sys.argv[1]), sys.argv[2], sys.argv[3]
small = VARConfig.tiny()
cfg = VARConfig(
    depth=depth,
    **{f: getattr(small, f) for f in ("vae_ch", "vae_ch_mult", "vae_num_res_blocks", "vae_norm_groups")},
)
export_var(cfg, cache, route=route)
"""


def export(depth: int, route: str, cache: Path) -> Path:
    """Export once into ``cache``, in a process of its own (its memory must not count)."""
    model = cache / "var.onnx"
    if model.exists():
        return model
    print(f"exporting VAR-d{depth} ({route}) to {cache} ...", flush=True)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", _EXPORT, str(depth), route, str(cache)], check=True)
    print(f"  exported in {time.perf_counter() - start:.1f} s", flush=True)
    return model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=16)
    parser.add_argument("--route", default="fpqc")
    parser.add_argument("--cache", type=Path, default=None)
    args = parser.parse_args()
    cache = args.cache or Path("out/bench") / f"var_d{args.depth}_{args.route}"
    model = export(args.depth, args.route, cache)
    file_bytes = sum(p.stat().st_size for p in cache.glob("var.onnx*"))

    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(model)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        print(result.stderr, file=sys.stderr)
        return 1
    m = json.loads(result.stdout.strip().splitlines()[-1])
    seconds = m["import_s"] + m["raise_s"]
    ratio = m["peak_rss"] / file_bytes
    print(f"VAR-d{args.depth} ({args.route} export): ONNX {file_bytes / 1e9:.2f} GB")
    print(f"  import           {m['import_s']:6.2f} s")
    print(f"  raise            {m['raise_s']:6.2f} s   ({m['blocks']} transformer blocks recognised)")
    print(f"  import + raise   {seconds:6.2f} s   goal < {GOAL_SECONDS:.0f} s: {'met' if seconds < GOAL_SECONDS else 'MISSED'}")
    print(f"  peak RSS         {m['peak_rss'] / 1e9:6.2f} GB  (python + libraries alone: {m['baseline_rss'] / 1e9:.2f} GB)")
    print(
        f"  peak / file size {ratio:6.2f} x   goal < {GOAL_MEMORY_RATIO:.0f} x: "
        f"{'met' if ratio < GOAL_MEMORY_RATIO else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
