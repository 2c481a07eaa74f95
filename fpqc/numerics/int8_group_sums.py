"""Exact group sums by int8 matrix products (oneDNN, through torch), for formats whose units fit int8.

A quantized linear layer's group sums are integers in product units
(:mod:`fpqc.numerics.products`); any exact way of computing them gives the same
layer, bit for bit, since the contract's only roundings come after them.  When
every code of both formats is an integer of at most 127 units (fp4 E2M1: 12;
fp6 E2M3: 60), oneDNN's int8 GEMM (``torch.ops.onednn.qlinear_pointwise``, the
kernel behind PyTorch's x86 int8 inference) computes them exactly: products of
int8 and their sums in int32, returned as float32 ``float(sum) · 1.0 · 1.0`` --
exact while every sum stays below 2^24 (:func:`~fpqc.numerics.products.accumulator_bits`).
On AVX-512 VNNI or AMX that is four times float32 BLAS on a VAR-d16 layer's groups
of 128.  Processors without VNNI add pairs of u8·s8 products in int16 with
saturation; the formats taken here keep such a pair below 2^15 even with one side
shifted by 128 (how oneDNN makes a signed operand unsigned).

Whether the kernel is there and exact is checked once, on products at the bounds of
the formats' units, against numpy's int64 sums; where it is not (another processor,
a torch without oneDNN), the caller uses float32 BLAS.  Callers run the products with torch on
one thread (:func:`~fpqc.numerics.torch_threads.one_torch_thread`): with torch's OpenMP
threads each product's workers spin on after it, taking both cores from the loop that
combines the group sums (a VAR-d16 generation: 26 s on float32 BLAS, 29 s on int8 with
torch's two threads, 19 s with one).  A weight is packed once
(:func:`pack_groups`) and multiplies activations of any rows::

    packed = pack_groups(units)                 # units [G, gs, O], integers in a format that fits
    with one_torch_thread():                    # see above
        sums = packed.group_sums(x_units, g)    # float32 [T, O]: group g's exact sums
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from fpqc.numerics.formats import Format
from fpqc.numerics.products import accumulator_bits, max_abs_units

INT8_UNITS = 127
"""The most units a format's codes may have for its units to be int8."""

INT16_PAIR = 2**15 - 1
"""The largest sum of two u8·s8 products an int16 holds (processors without VNNI)."""


def int8_exact(fa: Format, fb: Format, group_size: int) -> bool:
    """Whether :func:`pack_groups` gives exact group sums of ``fa`` x ``fb`` here (module docstring)."""
    a, b = max_abs_units(fa), max_abs_units(fb)
    fits = (
        a <= INT8_UNITS and b <= INT8_UNITS
        and 2 * (128 + a) * b <= INT16_PAIR and 2 * (128 + b) * a <= INT16_PAIR
        and accumulator_bits(fa, fb, group_size) <= 24
    )
    return fits and _kernel_is_exact(a, b, group_size)


@dataclass(frozen=True)
class Int8Groups:
    """A weight's units ``[G, gs, O]`` packed for oneDNN, one packed ``[O, gs]`` int8 matrix per group."""

    packed: tuple
    """torch tensors, oneDNN's layout of each group"""
    group_size: int
    outputs: int

    def group_sums(self, x_units: np.ndarray, group: int) -> np.ndarray:
        """float32 ``[T, O]``: the exact sums of group ``group`` of int8 activation units ``x_units`` ``[T, gs]``
        (C order) times the weight's."""
        import torch

        ones, zeros = _unit_scales(self.outputs)
        sums = torch.ops.onednn.qlinear_pointwise(
            torch.from_numpy(x_units), 1.0, 0, self.packed[group], ones, zeros, None, 1.0, 0, torch.float32,
            "none", [], "",
        )
        return sums.numpy()


def pack_groups(units: np.ndarray) -> Int8Groups:
    """``units`` ``[G, gs, O]`` (integers within int8, any float or int dtype) packed for :meth:`Int8Groups.group_sums`."""
    import torch

    g, gs, o = units.shape
    packed = tuple(
        torch.ops.onednn.qlinear_prepack(torch.from_numpy(np.ascontiguousarray(units[i].T, dtype=np.int8)), None)
        for i in range(g)
    )
    return Int8Groups(packed, gs, o)


@functools.lru_cache(maxsize=None)
def _unit_scales(outputs: int):
    """The weight scales 1.0 and zero points 0 of ``outputs`` channels, as oneDNN takes them."""
    import torch

    return torch.ones(outputs, dtype=torch.float32), torch.zeros(outputs, dtype=torch.int64)


@functools.lru_cache(maxsize=None)
def _kernel_is_exact(a: int, b: int, group_size: int) -> bool:
    """Group sums of units up to ``a`` and ``b`` by :class:`Int8Groups` against int64 sums in numpy: every
    sign and magnitude pair, all-maximum rows (the largest sums), a few rows and columns."""
    try:
        rng = np.random.default_rng(0)
        x = rng.integers(-a, a + 1, (7, group_size))
        w = rng.integers(-b, b + 1, (group_size, 5))
        x[0], x[1], w[:, 0], w[:, 1] = a, -a, b, -b
        packed = pack_groups(w[None].astype(np.float32))
        sums = packed.group_sums(np.ascontiguousarray(x, dtype=np.int8), 0)
        return bool(np.array_equal(sums, (x @ w).astype(np.float32)))
    except (ImportError, RuntimeError, AttributeError):  # no torch, no oneDNN, or not this processor
        return False


__all__ = ["INT8_UNITS", "Int8Groups", "int8_exact", "pack_groups"]
