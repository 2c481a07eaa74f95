"""The float-level linear layer, bit for bit: ``y = fp32(Σ_k x_k·w_k) + b`` summed in a fixed order.

``fpq.linear`` (the word embedding, AdaLN and the head, kept in float) runs on the host, in
Python or in the C++ host program; both compute exactly::

    acc = +0.0 (float64);  for k = 0, 1, ..., K-1:  acc = acc + float64(x[k]) · float64(w[k])
    y   = float32(acc)                       (round to nearest even)
    y   = y + b                              (one fp32 addition, when the layer has a bias)

The product of two fp32 values is exact in float64 (24 + 24 significant bits), so the only
rounding steps are the K float64 additions, left to right, and the final rounding to fp32.
Starting from +0.0 makes a sum of zeros +0 whatever the zeros' signs.

The C layer (:mod:`fpqc.numerics.compiled_float_linear`, tiles of sums in registers) runs
exactly these additions for a layer of two rows or more; for one row, or where no C compiler is
found, numba's loop (:func:`fpqc.numerics.ordered_loops.f64_dot_rows`) does, vectorised across
the outputs.
"""

from __future__ import annotations

import numpy as np

from fpqc.numerics import ordered_loops
from fpqc.numerics.compiled_float_linear import compiled_float_linear


def linear_f32(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """``x [..., K] · w [N, K]ᵀ (+ bias [N])`` in the order of the module docstring: ``[..., N]`` float32."""
    x = np.asarray(x, np.float32)
    w = np.asarray(w, np.float32)
    rows = np.ascontiguousarray(x.reshape(-1, x.shape[-1]))
    kernel = compiled_float_linear()
    if kernel is not None and rows.shape[0] > 1:  # one row: numba's loop reads w as it is, faster than packing
        y = kernel.layer(rows, np.ascontiguousarray(w))
    else:
        y = np.empty((rows.shape[0], w.shape[0]), np.float32)
        ordered_loops.f64_dot_rows(rows, np.ascontiguousarray(w), y)
    y = y.reshape(*x.shape[:-1], w.shape[0])
    if bias is not None:
        y = y + np.asarray(bias, np.float32)
    return y


__all__ = ["linear_f32"]
