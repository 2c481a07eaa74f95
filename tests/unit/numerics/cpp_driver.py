"""Compile and run the small C++ drivers that check fpqc's C++ mirror against numpy.

A driver is a list of ``#include``s/tables plus a dispatch: one
``if (!std::strcmp(mode, "NAME")) { ... }`` statement per mode, which reads the
float32 inputs ``x`` and writes its results to ``out``.  :func:`build_driver`
adds ``main``, compiles it with ``g++ -std=c++14 -O2 -ffp-contract=off`` (and
every warning as an error) and returns ``run(mode, x, dtype)``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

import fpqc

INCLUDE = Path(fpqc.__file__).parent / "backends" / "hls" / "include"
HEADERS = ["#include <cstdio>", "#include <cstring>", "#include <vector>", ""]

_MAIN = """
int main(int argc, char** argv) {{
  if (argc != 4) return 2;
  const char* mode = argv[1];
  std::FILE* in = std::fopen(argv[2], "rb");
  std::vector<float> x;
  float v;
  while (std::fread(&v, 4, 1, in) == 1) x.push_back(v);
  std::fclose(in);
  std::FILE* out = std::fopen(argv[3], "wb");
  {body}
  return 3;
}}
"""


def driver_source(parts: Sequence[str], dispatch: Sequence[str]) -> str:
    """``parts`` (includes, tables) followed by a ``main`` running ``dispatch``."""
    return "\n".join([*parts, _MAIN.format(body="\n  ".join(dispatch))])


def build_driver(work: Path, source: str) -> Callable[..., np.ndarray]:
    """Compile ``source`` in ``work``; return ``run(mode, x=[], dtype=float32)``."""
    src, exe = work / "driver.cpp", work / "driver"
    src.write_text(source)
    build = subprocess.run(
        ["g++", "-std=c++14", "-O2", "-ffp-contract=off", "-pedantic", "-Wall", "-Wextra",
         "-Werror", f"-I{INCLUDE}", str(src), "-o", str(exe)], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-4000:]

    def run(mode: str, x=np.zeros(0, np.float32), dtype=np.float32) -> np.ndarray:
        inp, out = work / "in.bin", work / "out.bin"
        np.asarray(x, np.float32).tofile(inp)
        subprocess.run([str(exe), mode, str(inp), str(out)], check=True)
        return np.fromfile(out, dtype=dtype)

    return run
