"""The element-wise and row-wise fp32 ops of a VAR block: layernorm, AdaLN modulation, gated residual.

They are not quantized, but they run on the accelerator, so their fp32
arithmetic is part of the bit-exact contract: the HLS library
(``fpqc_block.h``: ``layernorm``, ``modulate``, ``residual``) computes these
same operations in this same order.  Every ``+ - * /`` is one fp32 operation
rounded to nearest even, evaluated in the order written; there is no fused
multiply-add.  Sums run left to right from their first term
(:func:`~fpqc.numerics.attention.sum_last_f32`).
"""

from __future__ import annotations

import numpy as np

from fpqc.numerics.attention import sum_last_f32
from fpqc.numerics.transcendental import rsqrt_f32


def layernorm_f32(x: np.ndarray, eps: float) -> np.ndarray:
    """Affine-free layer normalisation over the last axis (the order of ``fpq.layernorm``).

    For each row ``x[0..C)``, in fp32::

        s    = ((x0 + x1) + x2) + ... + x(C-1)       (left to right)
        mean = s / float(C)
        d_i  = x_i - mean
        v    = ((d0·d0 + d1·d1) + ...) / float(C)   (each product rounded, left to right)
        y_i  = d_i · rsqrt_f32(v + float32(eps))
    """
    x = np.asarray(x, np.float32)
    n = np.float32(x.shape[-1])
    d = x - sum_last_f32(x) / n
    var = sum_last_f32(d * d) / n
    return d * rsqrt_f32(var + np.float32(eps))


def modulate_f32(x: np.ndarray, scale: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """AdaLN modulation ``y = (x · (1 + scale)) + shift`` in fp32, in that order (``fpq.modulate``).

    ``1 + scale`` is one fp32 addition per channel; ``scale`` and ``shift``
    broadcast to ``x`` (``[B, 1, C]`` against ``[B, L, C]``: one vector per sample).
    """
    x, scale, shift = (np.asarray(a, np.float32) for a in (x, scale, shift))
    return x * (np.float32(1) + scale) + shift


def residual_f32(x: np.ndarray, f: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """Gated residual ``y = x + (f · gamma)`` in fp32, in that order (``fpq.residual``).

    ``gamma`` broadcasts to ``x`` and ``f`` (``[B, 1, C]``: one gate vector per sample).
    """
    x, f, gamma = (np.asarray(a, np.float32) for a in (x, f, gamma))
    return x + f * gamma


__all__ = ["layernorm_f32", "modulate_f32", "residual_f32"]
