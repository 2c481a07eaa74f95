"""The float-level linear layer, bit for bit: ``y = fp32(Σ_k x_k·w_k) + b`` summed in a fixed order.

``fpq.linear`` (the word embedding, AdaLN and the head, kept in float) runs on the host, in
numpy or in the C++ host program; both compute exactly::

    acc = +0.0 (float64);  for k = 0, 1, ..., K-1:  acc = acc + float64(x[k]) · float64(w[k])
    y   = float32(acc)                       (round to nearest even)
    y   = y + b                              (one fp32 addition, when the layer has a bias)

The product of two fp32 values is exact in float64 (24 + 24 significant bits), so the only
rounding steps are the K float64 additions, left to right, and the final rounding to fp32.
Starting from +0.0 makes a sum of zeros +0 whatever the zeros' signs.

numpy gets the same bits fast.  A BLAS matmul gives ``s`` in an order of its own, and
``A = |x|·|w|ᵀ``.  Any two float64 summation orders of the same K exact products differ by
less than ``2·γ_(K-1)·A`` (Higham, *Accuracy and Stability of Numerical Algorithms*, §4.2,
γ_n = n·u/(1 − n·u), u = 2^-53), so when ``s − m`` and ``s + m`` round to the same fp32
value, for the margin ``m = 4·(K+1)·u·A``, the left-to-right sum rounds to it too (rounding
is monotone).  The few elements left -- whose sum lies within ``m`` of an fp32 rounding
boundary, or holds an inf or NaN -- are summed left to right (``np.cumsum`` adds in order).
"""

from __future__ import annotations

import numpy as np

UNIT_ROUNDOFF = 2.0**-53
_CHUNK_ROWS = 4096  # elements recomputed left to right at a time (each holds K products)


def linear_f32(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """``x [..., K] · w [N, K]ᵀ (+ bias [N])`` in the order of the module docstring: ``[..., N]`` float32."""
    x = np.asarray(x, np.float32)
    w = np.asarray(w, np.float32)
    k = x.shape[-1]
    rows = x.reshape(-1, k).astype(np.float64)
    weights = w.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        fast = rows @ weights.T + 0.0  # + 0.0: a zero sum is +0, as in the defined order
        margin = (np.abs(rows) @ np.abs(weights).T) * (4.0 * (k + 1) * UNIT_ROUNDOFF)
        y = fast.astype(np.float32)
        unsure = (fast - margin).astype(np.float32) != (fast + margin).astype(np.float32)
    row_index, column_index = np.nonzero(unsure)
    for start in range(0, row_index.size, _CHUNK_ROWS):
        i = row_index[start:start + _CHUNK_ROWS]
        j = column_index[start:start + _CHUNK_ROWS]
        y[i, j] = left_to_right_f32(rows[i] * weights[j])
    y = y.reshape(*x.shape[:-1], w.shape[0])
    if bias is not None:
        y = y + np.asarray(bias, np.float32)
    return y


def left_to_right_f32(products: np.ndarray) -> np.ndarray:
    """``float32(+0.0 + p_0 + p_1 + ...)`` over the last axis of float64 ``products``, left to right."""
    with np.errstate(invalid="ignore", over="ignore"):
        return (np.cumsum(products, axis=-1)[..., -1] + 0.0).astype(np.float32)


__all__ = ["linear_f32", "left_to_right_f32"]
