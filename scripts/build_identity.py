"""Fingerprint what the shipped model's builds execute, to show a refactor changed no behaviour.

Compiles ``examples/digits/var.onnx`` three ways (``--format fp4`` without a
calibration, ``--format fp6``, and ``--recipe fpqvar-w4a4`` with a fixed
calibration), runs each build on ``examples/digits/inputs.npz`` with
``fpqc run``, and hashes everything a build executes: kernels, C simulation,
Vitis files, packed weights, the host schedule, ``model.hls.mlir``'s weight
store and the ``fpqc run`` outputs. C++ sources are compared as the compiler
reads them (comments stripped by ``g++ -fpreprocessed``); their raw bytes, like
the IR files, are reported separately: a comment or a canonicalization may
legitimately change those.

    python scripts/build_identity.py --save before.json     # on the old commit
    python scripts/build_identity.py --against before.json  # on the new one: exit 1 on any difference

The calibration is made once by ``fpqc calibrate`` and reused through
``--calib`` so that both runs quantize with the same statistics.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "examples" / "digits" / "var.onnx"
INPUTS = ROOT / "examples" / "digits" / "inputs.npz"
BUILDS = {
    "fp4": ["--format", "fp4"],
    "fp6": ["--format", "fp6"],
    "fpqvar-w4a4": ["--recipe", "fpqvar-w4a4", "--calib", "{calib}"],
}
EXECUTED = ("kernels", "csim", "host", "vitis", "weights.bin", "weights.json", "host_schedule.json")
"""What a build executes; a VAR's build has no ``csim/`` (its generations run through the step program)."""
CPP_SUFFIXES = (".h", ".hpp", ".cpp")
INFORMATIONAL = ("raw bytes", "ir")  # may differ: comments, canonicalized no-ops


def _fpqc(*args: str) -> None:
    fpqc = Path(sys.executable).parent / "fpqc"
    subprocess.run([str(fpqc), *args], check=True, stdout=subprocess.DEVNULL)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _npz_digest(path: Path) -> dict[str, str]:
    """Per-array digests (dtype, shape, bytes): npz containers carry zip metadata."""
    with np.load(path, allow_pickle=False) as data:
        return {k: _sha(f"{data[k].dtype}{data[k].shape}".encode() + data[k].tobytes()) for k in sorted(data.files)}


def _code(path: Path) -> bytes:
    """What a compiler reads: C++ without its comments, anything else as it is."""
    if path.suffix not in CPP_SUFFIXES:
        return path.read_bytes()
    stripped = subprocess.run(
        ["g++", "-fpreprocessed", "-dD", "-E", "-P", "-x", "c++", str(path)], check=True, capture_output=True
    )
    return stripped.stdout


def _calibration_digest(path: Path) -> dict[str, str]:
    """The calibration's arrays and JSON index, less the index's wall-clock ``seconds``."""
    digests = _npz_digest(path)
    with np.load(path, allow_pickle=False) as data:
        index = json.loads(data["__index__"].tobytes())
    index.pop("seconds", None)
    digests["__index__"] = _sha(json.dumps(index, sort_keys=True).encode())
    return digests


def _tree_digest(build: Path, names: tuple[str, ...], code_only: bool = False) -> dict[str, str]:
    digests: dict[str, str] = {}
    for name in names:
        root = build / name
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root] if root.exists() else []
        for path in files:
            digests[str(path.relative_to(build))] = _sha(_code(path) if code_only else path.read_bytes())
    return digests


def fingerprint(work: Path, calib: Path | None) -> dict:
    if calib is None:
        calib = work / "calib.npz"
        _fpqc("calibrate", str(MODEL), "--classes", "0-9", "--samples", "2", "-o", str(calib))
    result: dict = {"calibration": _calibration_digest(calib), "builds": {}}
    for name, options in BUILDS.items():
        build = work / name
        _fpqc("compile", str(MODEL), "--target", "vck190", *[o.format(calib=calib) for o in options], "-o", str(build))
        _fpqc("run", str(build), "--inputs", str(INPUTS), "-o", str(work / f"{name}.run.npz"))
        result["builds"][name] = {
            "executed": _tree_digest(build, EXECUTED, code_only=True),
            "raw bytes": _tree_digest(build, EXECUTED),
            "weights.npz": _npz_digest(build / "weights.npz"),
            "fpqc run": _npz_digest(work / f"{name}.run.npz"),
            "ir": _tree_digest(build, ("ir", "model.hls.mlir")),
        }
    return result


def compare(before: dict, after: dict) -> int:
    failures = 0
    for section in ("calibration",):
        if before[section] != after[section]:
            print(f"DIFFERENT {section}")
            failures += 1
    for name, build in before["builds"].items():
        for part in ("executed", "weights.npz", "fpqc run", "raw bytes", "ir"):
            old, new = build[part], after["builds"][name][part]
            changed = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
            verdict = "identical" if not changed else f"{len(changed)} differ: {', '.join(changed[:6])}"
            print(f"{name:12s} {part:12s} {len(new):3d} items {verdict}")
            if changed and part not in INFORMATIONAL:
                failures += 1
    print("builds execute identically" if failures == 0 else f"{failures} executed parts differ")
    return 0 if failures == 0 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--save", type=Path, help="write the fingerprint to this JSON file")
    group.add_argument("--against", type=Path, help="compare with a fingerprint saved earlier")
    parser.add_argument("--calib", type=Path, help="reuse this calibration instead of running fpqc calibrate")
    parser.add_argument("--keep", type=Path, help="build in this directory and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fpqc-identity-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        result = fingerprint(work, args.calib)
    if args.save:
        args.save.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
        print(f"wrote {args.save}")
        return 0
    return compare(json.loads(args.against.read_text()), result)


if __name__ == "__main__":
    sys.exit(main())
