"""Attention's ordered products compiled from C: a tile of sums in registers for the whole sum.

:func:`fpqc.numerics.attention.scores_f32` and :func:`~fpqc.numerics.attention.weighted_sum_f32`
are one operation: ``out[b, i, c] = Σ_r a[b, i, r]·rows[b, r, c]`` left to right from the
first product, each product rounded to float32 before it is added.  numba's loop
(``ordered_loops.dot_rows`` / ``weighted_rows``) vectorises it across ``c`` four terms a
pass; ``combined_rows_kernel.c`` keeps a tile of rows by columns in registers for every
term (compiled with ``-ffp-contract=off``: a product and an addition, never fused;
``tests/unit/numerics/test_ordered_loops.py`` compares every bit)::

    kernel = compiled_combined_rows()         # None where no C compiler is found
    out = kernel.combine(a, rows)             # float32 [B, n, r] and [B, r, c] (C order) -> [B, n, c]

The library is built on first use (:mod:`fpqc.numerics.c_library`); the batches are shared
among the cores.
"""

from __future__ import annotations

import ctypes
import functools

import numpy as np

from fpqc.numerics.c_library import c_library
from fpqc.numerics.ordered_loops import run_in_shares


class CompiledCombinedRows:
    """The loaded ``combined_rows_kernel`` library."""

    def __init__(self, library: ctypes.CDLL) -> None:
        pointer, long = ctypes.c_void_p, ctypes.c_long
        self._combine = library.combined_rows
        self._combine.argtypes = [pointer, pointer, pointer, long, long, long, long, long, pointer]
        self._work_floats = library.combined_rows_work_floats
        self._work_floats.restype = long
        self._work_floats.argtypes = [long]

    def combine(self, a: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """float32 ``[B, n, c]``: ``Σ_r a[b, i, r]·rows[b, r, c]`` left to right from the first product, of C-ordered
        float32 ``a`` ``[B, n, r]`` and ``rows`` ``[B, r, c]`` (r at least 1)."""
        batches, n, terms = a.shape
        width = rows.shape[2]
        out = np.empty((batches, n, width), dtype=np.float32)
        work_floats = int(self._work_floats(terms))

        def combine(lo: int, hi: int) -> None:
            work = np.empty(work_floats, dtype=np.float32)
            self._combine(a.ctypes.data, rows.ctypes.data, out.ctypes.data, n, terms, width, lo, hi, work.ctypes.data)

        run_in_shares(combine, batches, a.size * width)
        return out


@functools.cache
def compiled_combined_rows() -> CompiledCombinedRows | None:
    """The compiled products, built on first use; None where they cannot be built (no C compiler)."""
    library = c_library("combined_rows_kernel.c")
    return None if library is None else CompiledCombinedRows(library)


__all__ = ["CompiledCombinedRows", "compiled_combined_rows"]
