"""The quantized linear layer compiled from C: group sums kept in registers, not written out.

:func:`fpqc.numerics.products.qlinear` computes each group's exact sums with BLAS, one
array ``[T, O]`` a group, which the combining loop then reads back: on VAR-d16's layers
those arrays, G times the layer's output, cost as much as the products.
``qlinear_kernel.c`` computes the same layer tile by tile (a tile's sums and accumulators
stay in registers across all its groups) straight from the codes; its combination is the
contract's, compiled with ``-ffp-contract=off`` and without fast-math, and only the exact
integer sums are computed with fused multiply-adds
(``tests/unit/numerics/test_compiled_qlinear.py`` compares every bit with the BLAS path)::

    kernel = compiled_qlinear()                   # None where no C compiler is found
    y = kernel.layer(x_codes, fa, xs, w_codes, fb, ws, unit, bias, group_size)   # xs [G, T], ws [G, O]

The library is built on first use (:mod:`fpqc.numerics.c_library`).  Rows are packed, then
outputs computed, each in one share per core.
"""

from __future__ import annotations

import ctypes
import functools

import numpy as np

from fpqc.numerics.c_library import c_library
from fpqc.numerics.formats import Format
from fpqc.numerics.ordered_loops import run_in_shares


class CompiledQLinear:
    """The loaded ``qlinear_kernel`` library."""

    def __init__(self, library: ctypes.CDLL) -> None:
        pointer, long, f32 = ctypes.c_void_p, ctypes.c_long, ctypes.c_float
        self._pack_rows = library.qlinear_pack_rows
        self._pack_rows.argtypes = [pointer, pointer, long, long, long, long, pointer]
        self._outputs = library.qlinear_outputs
        self._outputs.argtypes = [pointer, pointer, pointer, pointer, pointer, f32, pointer, pointer,
                                  long, long, long, long, long, long, pointer]
        library.qlinear_rows_per_tile.restype = long
        library.qlinear_outputs_per_panel.restype = long
        self.rows_per_tile = int(library.qlinear_rows_per_tile())
        self.outputs_per_panel = int(library.qlinear_outputs_per_panel())

    def layer(self, x_codes: np.ndarray, fa: Format, xs: np.ndarray, w_codes: np.ndarray, fb: Format,
              ws: np.ndarray, unit: np.float32, bias: np.ndarray | None, group_size: int) -> np.ndarray:
        """float32 ``[T, O]``: the layer of uint8 codes ``x_codes`` ``[T, K]`` and ``w_codes`` ``[O, K]`` (C order)
        in groups of ``group_size``, with float32 scales ``xs`` ``[G, T]`` and ``ws`` ``[G, O]`` (C order), product
        ``unit`` and an optional float32 ``bias`` ``[O]``; every group sum must be exact in float32
        (``exact_sum_dtype``)."""
        (t, k), o, g = x_codes.shape, w_codes.shape[0], ws.shape[0]
        mr, nr = self.rows_per_tile, self.outputs_per_panel
        tiles, panels = -(-t // mr), -(-o // nr)
        x_table, w_table = _unit_table(fa), _unit_table(fb)
        packed = np.empty(tiles * mr * k, dtype=np.float32)
        out = np.empty((t, o), dtype=np.float32)

        def pack(lo: int, hi: int) -> None:
            self._pack_rows(x_codes.ctypes.data, x_table.ctypes.data, t, k, lo * mr, hi * mr, packed.ctypes.data)

        def outputs(lo: int, hi: int) -> None:
            panel = np.empty((k + g) * nr, dtype=np.float32)
            self._outputs(packed.ctypes.data, w_codes.ctypes.data, w_table.ctypes.data, xs.ctypes.data,
                          ws.ctypes.data, unit, None if bias is None else bias.ctypes.data, out.ctypes.data,
                          t, o, k, group_size, lo * nr, min(o, hi * nr), panel.ctypes.data)

        run_in_shares(pack, tiles, t * k)
        run_in_shares(outputs, panels, t * k * o)
        return out


@functools.cache
def _unit_table(fmt: Format) -> np.ndarray:
    """float32 [256]: the units of every code of ``fmt`` (0 past its codes; the caller has checked them)."""
    table = np.zeros(256, dtype=np.float32)
    table[: fmt.n_codes] = fmt.units(np.arange(fmt.n_codes), np.float32)
    return table


@functools.cache
def compiled_qlinear() -> CompiledQLinear | None:
    """The compiled layer, built on first use; None where it cannot be built (no C compiler)."""
    library = c_library("qlinear_kernel.c")
    return None if library is None else CompiledQLinear(library)


__all__ = ["CompiledQLinear", "compiled_qlinear"]
