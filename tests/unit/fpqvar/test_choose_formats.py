"""The per-layer format search (the authors' MixedFormat) against a plain float64 reference."""

from __future__ import annotations

import numpy as np
import pytest

from fpqc.quant.format_choice import choose_formats

GRIDS = {
    "e2m1": [0, 0.5, 1, 1.5, 2, 3, 4, 6],
    "e3m0": [0, 0.25, 0.5, 1, 2, 4, 8, 16],
    "e1m2": [0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75],
}


def _nearest_ties_up(z: np.ndarray, name: str, group: int) -> np.ndarray:
    """Plain reference: per group scale absmax / max, nearest grid value, ties to the larger value."""
    half = np.array(GRIDS[name], np.float32)
    grid = np.concatenate([-half[:0:-1], half])
    groups = z.reshape(*z.shape[:-1], -1, group).astype(np.float32)
    absmax = np.abs(groups).max(-1, keepdims=True)
    scale = np.where(absmax == 0, np.float32(1), absmax / half[-1])
    index = np.searchsorted((grid[1:] + grid[:-1]) / 2, groups / scale, side="right")
    return (grid[index] * scale).reshape(z.shape)


def _reference_losses(rows, weight, formats, group):
    out = {}
    for w_name in formats:
        wq = _nearest_ties_up(weight, w_name, group).astype(np.float64)
        for a_name in formats:
            out[(w_name, a_name)] = np.mean([
                np.mean((_nearest_ties_up(x, a_name, group).astype(np.float64) @ wq.T
                         - x.astype(np.float64) @ weight.T.astype(np.float64)) ** 2)
                for x in rows
            ])
    return out


def test_losses_and_choice_match_the_reference():
    rng = np.random.default_rng(0)
    wide = np.sign(rng.standard_normal((48, 64))) * rng.uniform(2, 5, (48, 64))
    wide[np.arange(48), rng.integers(0, 64, 48)] = 100  # one large value per row: E3M0 keeps the rest
    rows = [wide[:16].astype(np.float32), wide[16:].astype(np.float32)]
    weight = (rng.standard_normal((24, 64)) / 8).astype(np.float32)
    formats = ("e1m2", "e2m1", "e3m0")
    got = choose_formats(rows, weight, formats, formats, 32, 32, "ties-up")
    want = _reference_losses(rows, weight, formats, 32)
    assert got.losses.keys() == want.keys()
    for pair, loss in want.items():
        assert got.losses[pair] == pytest.approx(loss, rel=1e-9)
    assert (got.weight_format, got.act_format) == min(want, key=want.__getitem__)
    assert got.act_format == "e3m0"


def test_gaussian_activations_choose_e2m1_and_ties_go_to_the_first_candidate():
    rng = np.random.default_rng(1)
    rows = [rng.standard_normal((32, 64)).astype(np.float32)]
    weight = (rng.standard_normal((16, 64)) / 8).astype(np.float32)
    got = choose_formats(rows, weight, ["e2m1"], ["e2m1", "e3m0"], 64, 64, "rne")
    assert (got.weight_format, got.act_format) == ("e2m1", "e2m1")
    same = choose_formats(rows, weight, ["e2m1"], ["e2m1", "e2m1b1"], 64, 64, "rne")  # two names, one grid
    assert same.act_format == "e2m1" and len(set(same.losses.values())) == 1
