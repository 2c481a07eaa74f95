"""Generation by the build's C++ host program, with fpqc's VQVAE as its host library.

``fpqc generate BUILD --host cpp`` builds the host program of a VAR build on the C simulation
(:func:`~fpqc.backends.hls.host_program.compile_host_program`) and runs it: the C++ runs the
step program, guidance and top-k/top-p sampling (numpy's default_rng reimplemented), and
calls back :mod:`fpqc.runtime.host_library` -- this Python, ``-m fpqc.runtime.host_library``
-- for the VQVAE.  With the same seed it draws the same tokens as ``fpqc generate --device
csim`` and writes the same ``.npz``::

    summary = generate_with_cpp_host(Path("build"), [3, 7], Path("samples.npz"), seed=0)
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from fpqc.backends.hls.host_program import compile_host_program, run_host_program


def host_library_command(build: Path) -> list[str]:
    """The command that serves the VQVAE of ``build`` to the host program."""
    return [sys.executable, "-m", "fpqc.runtime.host_library", str(build)]


def generate_with_cpp_host(
    build: Path, labels: Sequence[int], output: Path, seed: int = 0, cfg: float = 1.5, top_k: int = 0,
    top_p: float = 0.0,
) -> str:
    """Generate one image per label into ``output`` (.npz, and a .png grid); the host program's summary."""
    program = compile_host_program(build)
    return run_host_program(
        program, Path(build).resolve(), labels, Path(output).resolve(), host_library_command(Path(build).resolve()),
        seed=seed, cfg=cfg, top_k=top_k, top_p=top_p,
    )


__all__ = ["generate_with_cpp_host", "host_library_command"]
