"""Per-layer number formats chosen on calibration data: the FPQVAR authors' MixedFormat search.

For a linear layer with weight ``W [O, K]`` and calibration input rows
``x_k [T_k, K]`` of each VAR scale k, every pair (weight format, activation
format) of the candidates is scored by the layer output's quantization error::

    loss(w, a) = mean_k MSE( FQ_a(x_k) · FQ_w(W)ᵀ , x_k · Wᵀ )

``FQ`` is fpqc's quantize-then-dequantize (:mod:`fpqc.numerics.scales`) with
scales ``absmax / max_value`` per group of ``group`` elements along the input
features (``group = K`` for per channel / per token) and the given rounding.
The pair with the lowest loss wins; ties go to the earlier candidate.  The
authors searched {E1M2, E2M1, E3M0} for both operands this way (one loss per
calibration sample, averaged) and shipped E2M1 weights with E2M1 or E3M0
activations chosen per layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fpqc.numerics import Format, compute_scales, dequantize, quantize


def fake_quantize(x: np.ndarray, fmt: Format, group: int, rounding: str) -> np.ndarray:
    """float32 ``dequantize(quantize(x))`` with one scale per ``group`` elements of the last axis."""
    scales = compute_scales(x, fmt, axis=-1, group_size=group)
    codes = quantize(x, fmt, scales, axis=-1, group_size=group, rounding=rounding)
    return dequantize(codes, fmt, scales, axis=-1, group_size=group)


@dataclass(frozen=True)
class FormatChoice:
    """The chosen (weight, activation) formats and every candidate pair's loss."""

    weight_format: str
    act_format: str
    losses: dict[tuple[str, str], float]


def choose_formats(
    rows: Sequence[np.ndarray],
    weight: np.ndarray,
    weight_formats: Sequence[str],
    act_formats: Sequence[str],
    weight_group: int,
    act_group: int,
    rounding: str,
) -> FormatChoice:
    """The pair of formats with the lowest output error on ``rows`` (one ``[T_k, K]`` per scale)."""
    weight = np.asarray(weight, dtype=np.float32)
    xs = [np.asarray(x, dtype=np.float32).reshape(-1, weight.shape[1]) for x in rows if len(x)]
    targets = [x.astype(np.float64) @ weight.T.astype(np.float64) for x in xs]
    losses: dict[tuple[str, str], float] = {}
    for w_name in weight_formats:
        wq = fake_quantize(weight, Format.parse(w_name), weight_group, rounding).astype(np.float64)
        for a_name in act_formats:
            fmt = Format.parse(a_name)
            losses[(w_name, a_name)] = float(np.mean([
                np.mean((fake_quantize(x, fmt, act_group, rounding).astype(np.float64) @ wq.T - target) ** 2)
                for x, target in zip(xs, targets)
            ]))
    best = min(losses, key=losses.__getitem__)
    return FormatChoice(best[0], best[1], losses)
