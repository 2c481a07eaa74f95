"""The float-level linear layer compiled from C: each tile's ordered float64 sums kept in registers.

:func:`fpqc.numerics.float_linear.linear_f32` adds ``float64(x[k]) · float64(w[k])`` for
k = 0, 1, ... in that order.  numba's loop (``ordered_loops.f64_dot_rows``) vectorises it
across the outputs but keeps the sums in memory; ``float_linear_kernel.c`` holds a tile of
rows by outputs in registers for the whole of K, in the same order, with fused
multiply-adds that round exactly where the contract's additions do (the product of two
float32 is exact in float64; ``tests/unit/numerics/test_float_linear.py`` compares every
bit)::

    kernel = compiled_float_linear()          # None where no C compiler is found
    y = kernel.layer(x, w)                     # float32 x [T, K], w [O, K] (C order) -> float32 [T, O]

The library is built on first use (:mod:`fpqc.numerics.c_library`).  Rows are packed, then
outputs computed, each in one share per core.
"""

from __future__ import annotations

import ctypes
import functools

import numpy as np

from fpqc.numerics.c_library import c_library
from fpqc.numerics.ordered_loops import run_in_shares


class CompiledFloatLinear:
    """The loaded ``float_linear_kernel`` library."""

    def __init__(self, library: ctypes.CDLL) -> None:
        pointer, long = ctypes.c_void_p, ctypes.c_long
        self._pack_rows = library.float_linear_pack_rows
        self._pack_rows.argtypes = [pointer, long, long, long, long, pointer]
        self._outputs = library.float_linear_outputs
        self._outputs.argtypes = [pointer, pointer, pointer, long, long, long, long, long, pointer, pointer]
        library.float_linear_rows_per_tile.restype = long
        library.float_linear_outputs_per_panel.restype = long
        library.float_linear_k_block.restype = long
        self.rows_per_tile = int(library.float_linear_rows_per_tile())
        self.outputs_per_panel = int(library.float_linear_outputs_per_panel())
        self.k_block = int(library.float_linear_k_block())

    def layer(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        """float32 ``[T, O]`` = ``float32(Σ_k float64(x[t, k]) · float64(w[o, k]))``, k ascending from +0.0,
        of C-ordered float32 ``x`` ``[T, K]`` and ``w`` ``[O, K]``."""
        (t, k), o = x.shape, w.shape[0]
        mr, nr = self.rows_per_tile, self.outputs_per_panel
        tiles, panels = -(-t // mr), -(-o // nr)
        packed = np.empty(tiles * mr * k, dtype=np.float64)
        out = np.empty((t, o), dtype=np.float32)
        # every panel's sums between blocks of k (float_linear_kernel.c), where K spans more than one
        partial = np.empty(panels * tiles * mr * nr, dtype=np.float64) if k > self.k_block else None

        def pack(lo: int, hi: int) -> None:
            self._pack_rows(x.ctypes.data, t, k, lo * mr, hi * mr, packed.ctypes.data)

        def outputs(lo: int, hi: int) -> None:
            panel = np.empty(min(k, self.k_block) * nr, dtype=np.float64)
            self._outputs(packed.ctypes.data, w.ctypes.data, out.ctypes.data, t, o, k, lo * nr, min(o, hi * nr),
                          panel.ctypes.data, None if partial is None else partial.ctypes.data)

        run_in_shares(pack, tiles, t * k)
        run_in_shares(outputs, panels, t * k * o)
        return out


@functools.cache
def compiled_float_linear() -> CompiledFloatLinear | None:
    """The compiled layer, built on first use; None where it cannot be built (no C compiler)."""
    library = c_library("float_linear_kernel.c")
    return None if library is None else CompiledFloatLinear(library)


__all__ = ["CompiledFloatLinear", "compiled_float_linear"]
