"""Random operands of a quantized linear layer for the tests that compare two ways of computing it."""

import numpy as np

from fpqc.numerics.formats import Format


def random_layer_operands(rng: np.random.Generator, a: Format, b: Format, rows: int, groups: int, group_size: int,
                          outputs: int, extreme: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Codes ``x`` [rows, K] of ``a`` and ``w`` [outputs, K] of ``b`` (``extreme``: the largest magnitudes
    throughout, of both signs, so the largest sums) and float32 scales ``[rows, groups]`` and ``[outputs, groups]``
    over many binades, subnormal ones included, so that every step of the combination rounds."""
    k = groups * group_size
    x_codes = rng.integers(0, a.n_codes, (rows, k)).astype(np.uint8)
    w_codes = rng.integers(0, b.n_codes, (outputs, k)).astype(np.uint8)
    if extreme:
        for codes, fmt in ((x_codes, a), (w_codes, b)):
            units = fmt.units(np.arange(fmt.n_codes))
            codes[:] = np.argmax(units)
            codes[::2] = np.argmin(units)
    x_scales = (2.0 ** rng.integers(-140, 20, (rows, groups)) * rng.uniform(1, 2, (rows, groups))).astype(np.float32)
    w_scales = (2.0 ** rng.integers(-20, 20, (outputs, groups)) * rng.uniform(1, 2, (outputs, groups))).astype(np.float32)
    return x_codes, w_codes, x_scales, w_scales
