"""Quantized weights readied once and reused by every run of a model (fpqc.backends.interp.ready_weights)."""

import numpy as np
import pytest

from fpqc.backends.interp import ready_weights
from fpqc.backends.interp.ready_weights import ReadyWeights
from fpqc.numerics import Format, compute_scales, quantize
from fpqc.numerics.products import qlinear, qlinear_ready

E2M1 = Format.parse("e2m1")


def _weight(rows: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    w = np.random.default_rng(seed).standard_normal((rows, k)).astype(np.float32)
    scales = compute_scales(w, E2M1, group_size=32)
    return quantize(w, E2M1, scales, group_size=32), scales


def test_a_weight_is_readied_once_per_pair_of_arrays():
    ready = ReadyWeights()
    codes, scales = _weight(8, 64, 0)
    first = ready.get(E2M1, codes, E2M1, scales, 32)
    assert ready.get(E2M1, codes, E2M1, scales, 32) is first
    assert first.units.flags.c_contiguous  # a kept weight's units: copied once in the products' order
    assert ready.get(E2M1, codes.copy(), E2M1, scales, 32) is not first  # another array: readied anew
    assert ready.get(E2M1, codes, E2M1, scales.copy(), 32) is not first
    assert ready.get(E2M1, codes, E2M1, scales, 16) is not first  # another grouping (finer activation groups)


def test_readied_weights_give_qlinears_bits():
    ready = ReadyWeights()
    codes, scales = _weight(8, 64, 1)
    x = np.random.default_rng(2).standard_normal((5, 64)).astype(np.float32)
    x_scales = compute_scales(x, E2M1, group_size=32)
    x_codes = quantize(x, E2M1, x_scales, group_size=32)
    for _ in range(2):  # readied, then found
        got = qlinear_ready(x_codes, x_scales, ready.get(E2M1, codes, E2M1, scales[None], 32))  # leading axes
        assert np.array_equal(got, qlinear(x_codes, E2M1, x_scales, codes, E2M1, scales, 32))


@pytest.mark.parametrize("limits", [{"READY_BYTES": 100}, {"READY_UP_TO": 100, "READY_PACKED_BYTES": 100}])
def test_weights_past_the_limits_are_readied_at_each_use(limits, monkeypatch):
    for limit, value in limits.items():
        monkeypatch.setattr(ready_weights, limit, value)
    ready = ReadyWeights()
    codes, scales = _weight(8, 64, 3)  # 512 values, 2 KB of units
    first = ready.get(E2M1, codes, E2M1, scales, 32)
    again = ready.get(E2M1, codes, E2M1, scales, 32)
    assert again is not first and np.array_equal(again.units, first.units)
    assert not first.units.flags.c_contiguous  # a view of the units [O, K]: no copy for a single use


def test_a_large_weight_is_packed_for_int8_products_on_its_second_use(monkeypatch):
    monkeypatch.setattr(ready_weights, "READY_UP_TO", 100)
    ready = ReadyWeights()
    codes, scales = _weight(8, 64, 4)  # 512 values: "large"
    x = np.random.default_rng(5).standard_normal((5, 64)).astype(np.float32)
    x_scales = compute_scales(x, E2M1, group_size=32)
    x_codes = quantize(x, E2M1, x_scales, group_size=32)
    expected = qlinear(x_codes, E2M1, x_scales, codes, E2M1, scales, 32)
    first = ready.get(E2M1, codes, E2M1, scales, 32)
    assert first.packed is None  # a single use (a teacher-forcing forward) does not pay for packing
    second = ready.get(E2M1, codes, E2M1, scales, 32)
    assert second.packed is not None and second.units is None
    assert ready.get(E2M1, codes, E2M1, scales, 32) is second
    for weight in (first, second):
        assert np.array_equal(qlinear_ready(x_codes, x_scales, weight).view(np.uint32), expected.view(np.uint32))
