"""Does a tiled design fit the device?  On-chip memory and LUTs of each kernel's plan.

Reads the ``hls.plan`` of every ``hls.kernel`` (written by the ``tile`` pass)
and counts, per kernel and for the whole module (all kernels are on the chip
at once), what its buffers and its PE array take of the target's resources:

- **memory**, per storage kind: the bits the buffers hold, and the blocks they
  occupy.  Each bank of each copy of a buffer is ``depth`` words of
  ``word_bits`` (``hls.buffer``'s ``pack`` elements); a BRAM bank takes the
  fewest 36 Kb blocks over the block RAM's width × depth shapes
  (``ceil(word / width) · ceil(depth / words)``), a URAM bank
  ``ceil(word / 72) · ceil(depth / 4096)`` UltraRAMs, a LUTRAM bank
  ``word · ceil(depth / 64)`` LUTs and a register bank one flip-flop per bit
  (the shapes from the target file);
- **LUTs of the PE array**: ``pes × lanes × lane LUTs``.  A lane holds one
  LUT multiplier per pair of code formats the kernel's linear layers multiply
  (:func:`multiplier_luts`) and its share of the exact adder tree (one adder
  of the accumulator's width).

Example::

    fit = module_fit(module, load_target("vck190"))
    fit.fits()                 # every resource within the device
    fit.kernels[0].brams, fit.kernels[0].urams, fit.kernels[0].pe_luts
    fit.describe()             # a table for people
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from xdsl.dialects.builtin import ModuleOp

from fpqc.dialects import fpq, hls
from fpqc.dialects.hls import Storage
from fpqc.errors import FpqcError
from fpqc.numerics import Format, accumulator_bits
from fpqc.targets import Target


def _max_units(fmt: Format) -> int:
    return int(np.max(np.abs(fmt.units(np.arange(fmt.n_codes)))))


def product_bits(fx: Format, fw: Format) -> int:
    """Bits of the magnitude of an exact product of two codes, in product units."""
    return (_max_units(fx) * _max_units(fw)).bit_length()


def multiplier_luts(fx: Format, fw: Format, target: Target) -> int:
    """LUTs of one LUT multiplier for ``fx`` × ``fw`` codes.

    A table from the two magnitudes (``bits − 1`` each) to the product's
    magnitude: one LUT per output bit while the inputs fit one LUT, twice as
    many per extra input (LUT6s joined by the F7/F8 multiplexers), plus one
    LUT for the product's sign.
    """
    inputs = (fx.bits - 1) + (fw.bits - 1)
    return product_bits(fx, fw) * 2 ** max(0, inputs - target.lut_inputs) + 1


@dataclass(frozen=True)
class Multiplier:
    """One kind of LUT multiplier in a lane: formats, and the exact sums it feeds."""

    fx: Format
    fw: Format
    group: int
    """Elements per exactly accumulated group (sets the accumulator's width)."""

    @property
    def accumulator_bits(self) -> int:
        return accumulator_bits(self.fx, self.fw, self.group)


def multipliers(kernel: hls.KernelOp) -> list[Multiplier]:
    """The distinct multipliers of ``kernel``'s linear layers (a dual layer has two)."""
    found: dict[tuple[Format, Format], Multiplier] = {}
    for op in kernel.body.block.ops:
        if isinstance(op, fpq.QLinearOp):
            pairs = [(op.x_quant.format, op.w_quant.format)]
        elif isinstance(op, fpq.DualQLinearOp):
            pairs = [(op.neg_quant.format, op.w_quant.format), (op.pos_quant.format, op.w_quant.format)]
        else:
            continue
        group = op.combine_group_size()
        for fx, fw in pairs:
            known = found.get((fx, fw))
            if known is None or known.group < group:
                found[(fx, fw)] = Multiplier(fx, fw, group)
    return list(found.values())


def lane_luts(kinds: Iterable[Multiplier], target: Target) -> int:
    """LUTs of one lane: each multiplier and its adder-tree share (one adder per multiplier)."""
    return sum(multiplier_luts(m.fx, m.fw, target) + m.accumulator_bits for m in kinds)


def bank_cost(storage: Storage, words: int, word_bits: int, target: Target) -> int:
    """Blocks (BRAM36 or URAM), LUTs (LUTRAM) or flip-flops (registers) of one bank of one copy."""
    if storage == Storage.BRAM:
        return min(-(-word_bits // w) * -(-words // d) for w, d in target.bram_shapes)
    if storage == Storage.URAM:
        width, depth = target.uram_shape
        return -(-word_bits // width) * -(-words // depth)
    if storage == Storage.LUTRAM:
        return word_bits * -(-words // target.lutram_bits_per_lut)
    return word_bits * words


def buffer_cost(buffer: hls.BufferOp, target: Target, storage: Storage | None = None) -> int:
    """What ``buffer`` takes in ``storage`` (default its own): :func:`bank_cost` × banks × copies."""
    storage = storage or buffer.storage.data
    banks, copies = buffer.banks.value.data, buffer.copies.value.data
    return bank_cost(storage, buffer.depth, buffer.word_bits, target) * banks * copies


UNITS = {Storage.BRAM: "BRAM36", Storage.URAM: "URAM", Storage.LUTRAM: "LUTs", Storage.REGISTERS: "FFs"}


@dataclass(frozen=True)
class BufferFit:
    name: str
    storage: Storage
    contents: str
    bits: int
    cost: int
    """Blocks, LUTs or flip-flops, as :data:`UNITS` names them for the storage."""

    def describe(self) -> str:
        return f"{self.name} ({self.contents}, {self.bits / 2**20:.1f} Mib in {self.cost} {UNITS[self.storage]})"


@dataclass
class Usage:
    """Resources some buffers and PE arrays take."""

    bits: dict[Storage, int] = field(default_factory=lambda: dict.fromkeys(Storage, 0))
    brams: int = 0
    urams: int = 0
    lutram_luts: int = 0
    registers: int = 0
    pe_luts: int = 0

    @property
    def luts(self) -> int:
        return self.pe_luts + self.lutram_luts

    @property
    def memory_bits(self) -> int:
        return sum(self.bits.values())

    def add(self, other: Usage) -> None:
        for kind in Storage:
            self.bits[kind] += other.bits[kind]
        self.brams += other.brams
        self.urams += other.urams
        self.lutram_luts += other.lutram_luts
        self.registers += other.registers
        self.pe_luts += other.pe_luts

    def counts(self, target: Target) -> dict[str, tuple[int, int]]:
        """Each resource's ``(used, available)`` count on ``target``."""
        return {
            "BRAM36": (self.brams, target.brams),
            "URAM": (self.urams, target.urams),
            "LUTs": (self.luts, target.luts),
            "FFs": (self.registers, target.ffs),
        }

    def overflows(self, target: Target) -> list[str]:
        """``"N BRAM36 of M"`` for each resource over the target's count; empty when it fits."""
        return [f"{used} {unit} of {have}" for unit, (used, have) in self.counts(target).items() if used > have]

    def fits(self, target: Target) -> bool:
        return not self.overflows(target)

    def summary(self, target: Target) -> str:
        return (
            f"{self.brams}/{target.brams} BRAM36, {self.urams}/{target.urams} URAM, "
            f"{self.luts}/{target.luts} LUTs ({self.pe_luts} PE array, {self.lutram_luts} LUTRAM), "
            f"{self.registers}/{target.ffs} FFs; {self.memory_bits / 2**20:.1f} Mib on chip"
        )


@dataclass
class KernelFit(Usage):
    kernel: str = ""
    pes: int = 0
    lanes: int = 0
    lane_luts: int = 0
    buffers: list[BufferFit] = field(default_factory=list)

    def largest(self, n: int = 3) -> list[BufferFit]:
        """The ``n`` buffers holding the most bits."""
        return sorted(self.buffers, key=lambda b: (-b.bits, b.name))[:n]


@dataclass
class ModuleFit:
    target: Target
    kernels: list[KernelFit]
    total: Usage

    def fits(self) -> bool:
        return self.total.fits(self.target)

    def describe(self) -> str:
        lines = [f"{k.kernel}: {k.pes} PEs x {k.lanes} lanes; {k.summary(self.target)}" for k in self.kernels]
        lines.append(f"total: {self.total.summary(self.target)}")
        return "\n".join(lines)


def kernel_fit(kernel: hls.KernelOp, target: Target) -> KernelFit:
    """The resources of ``kernel``'s plan; FpqcError when it has none."""
    plan = hls.plan_of(kernel)
    name = kernel.sym_name.data
    if plan is None:
        raise FpqcError(f"kernel @{name} has no hardware plan; run the tile pass first")
    pe = plan.pe_array()
    fit = KernelFit(kernel=name, pes=pe.pes.value.data, lanes=pe.lanes.value.data)
    fit.lane_luts = lane_luts(multipliers(kernel), target)
    fit.pe_luts = fit.pes * fit.lanes * fit.lane_luts
    for buffer in plan.entries_of(hls.BufferOp):
        storage = buffer.storage.data
        cost = buffer_cost(buffer, target)
        bits = buffer.bits.value.data
        fit.bits[storage] += bits
        if storage == Storage.BRAM:
            fit.brams += cost
        elif storage == Storage.URAM:
            fit.urams += cost
        elif storage == Storage.LUTRAM:
            fit.lutram_luts += cost
        else:
            fit.registers += cost
        fit.buffers.append(BufferFit(buffer.buffer_name.data, storage, str(buffer.contents), bits, cost))
    return fit


def module_fit(module: ModuleOp, target: Target) -> ModuleFit:
    """:func:`kernel_fit` of every kernel of ``module`` and their sum."""
    kernels = [kernel_fit(k, target) for k in module.ops if isinstance(k, hls.KernelOp)]
    total = Usage()
    for k in kernels:
        total.add(k)
    return ModuleFit(target, kernels, total)


__all__ = [
    "BufferFit",
    "KernelFit",
    "ModuleFit",
    "Multiplier",
    "Usage",
    "bank_cost",
    "buffer_cost",
    "kernel_fit",
    "lane_luts",
    "module_fit",
    "multiplier_luts",
    "multipliers",
    "product_bits",
]
