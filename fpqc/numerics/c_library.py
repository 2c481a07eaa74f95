"""C loops of the interpreter, compiled on first use with the machine's C compiler.

Where numba's loops cannot keep a tile of sums in registers (a matrix product's inner
loop), fpqc has a few C files beside this one (``qlinear_kernel.c``,
``float_linear_kernel.c``).  :func:`c_library` builds one with ``$CC`` (default ``gcc``)
and ``-O3 -march=native -ffp-contract=off -fno-fast-math`` the first time a process
asks for it, and keeps the shared library in ``__pycache__`` beside the source (or in
``~/.cache/fpqc`` where that is not writable) under a name that hashes the source, the
compiler's version, the flags and the processor's features, as numba caches its loops;
a build goes to a temporary file that is then renamed, so processes building at once
never see half a library::

    library = c_library("qlinear_kernel.c")   # a ctypes.CDLL, or None: no compiler, or it failed

ctypes releases the GIL for the call, so the callers split their work among the cores
with :func:`fpqc.numerics.ordered_loops.run_in_shares`.  Where no library can be built,
they use their numpy and numba loops (the same bits, slower).
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import subprocess
import tempfile
from pathlib import Path

CFLAGS = ("-O3", "-march=native", "-ffp-contract=off", "-fno-fast-math", "-shared", "-fPIC")


@functools.cache
def c_library(source_name: str) -> ctypes.CDLL | None:
    """The library built from ``source_name`` (a file beside this module), built on first use; None where it
    cannot be built or loaded."""
    source = Path(__file__).with_name(source_name)
    compiler = os.environ.get("CC", "gcc")
    identity = _build_identity(compiler)
    if identity is None:
        return None
    key = hashlib.sha256("\0".join([source.read_text(), identity]).encode())
    name = f"{source.stem}-{key.hexdigest()[:16]}.so"
    for directory in (source.parent / "__pycache__", Path.home() / ".cache" / "fpqc"):
        library = directory / name
        if library.is_file() or _build(compiler, source, library):
            try:
                return ctypes.CDLL(str(library))
            except OSError:
                continue
    return None


def _build(compiler: str, source: Path, library: Path) -> bool:
    """Compile ``source`` to a temporary file beside ``library`` and rename it into place; False on failure."""
    try:
        library.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=library.parent, prefix=library.stem, suffix=".tmp")
        os.close(handle)
    except OSError:
        return False
    try:
        if subprocess.run([compiler, *CFLAGS, str(source), "-o", temporary], capture_output=True).returncode:
            return False
        os.replace(temporary, library)
        return True
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


@functools.cache
def _build_identity(compiler: str) -> str | None:
    """What a library built here depends on besides its source -- the compiler's version, the flags and the
    processor's features -- asked once a process; None where the compiler does not run."""
    try:
        version = subprocess.run([compiler, "--version"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return "\0".join([version, *CFLAGS, _processor_features()])


def _processor_features() -> str:
    """The processor's feature flags (``-march=native`` compiles for them), or '' where they cannot be read."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return line
    except OSError:
        pass
    return ""


__all__ = ["CFLAGS", "c_library"]
