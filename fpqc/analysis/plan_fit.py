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
  and its share of the exact adder tree (one adder of the accumulator's
  width), each at its measured cost (:mod:`fpqc.targets.units`); its
  flip-flops hold the lanes' products and the accumulator;
- **logic LUTs**: the LUT quantizers (a comparator ladder per lane of every
  ``fpq.quantize`` / ``fpq.dual_quantize``), at their measured cost;
- **DSPs**: the fp32 multiplies and adds of every op's unit (its lanes and
  shared parts, :meth:`fpqc.targets.units.UnitCosts.dsps`), and of the PE
  array's combine stage -- as many combine units as group sums arrive per
  cycle (``pes × lanes × planes / group``), shared by the kernel's linear
  layers as the PE array is.

Example::

    fit = module_fit(module, load_target("vck190"))
    fit.fits()                 # every resource within the device
    fit.kernels[0].brams, fit.kernels[0].urams, fit.kernels[0].pe_luts
    fit.describe()             # a table for people
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.ir import Operation

from fpqc.dialects import fpq, hls
from fpqc.dialects.hls import Storage
from fpqc.errors import FpqcError
from fpqc.numerics import Format, accumulator_bits, max_abs_units
from fpqc.targets import Target


def product_bits(fx: Format, fw: Format) -> int:
    """Bits of the magnitude of an exact product of two codes, in product units."""
    return (max_abs_units(fx) * max_abs_units(fw)).bit_length()


def multiplier_luts(fx: Format, fw: Format, target: Target) -> int:
    """LUTs of one LUT multiplier (the product ROM) for ``fx`` × ``fw`` codes, as measured."""
    return target.units.multiplier_luts(fx, fw)


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


def linear_multipliers(op: fpq.QLinearOp | fpq.DualQLinearOp) -> list[Multiplier]:
    """The multipliers of one linear layer: one per activation code plane (a dual layer has two)."""
    group, fw = op.combine_group_size(), op.w_quant.format
    if isinstance(op, fpq.DualQLinearOp):
        return [Multiplier(op.neg_quant.format, fw, group), Multiplier(op.pos_quant.format, fw, group)]
    return [Multiplier(op.x_quant.format, fw, group)]


def multipliers(kernel: hls.KernelOp) -> list[Multiplier]:
    """The distinct multipliers of ``kernel``'s linear layers (a dual layer has two)."""
    found: dict[tuple[Format, Format], Multiplier] = {}
    for op in kernel.body.block.ops:
        if not isinstance(op, fpq.QLinearOp | fpq.DualQLinearOp):
            continue
        for m in linear_multipliers(op):
            known = found.get((m.fx, m.fw))
            if known is None or known.group < m.group:
                found[(m.fx, m.fw)] = m
    return list(found.values())


def lane_luts(kinds: Iterable[Multiplier], target: Target) -> int:
    """LUTs of one lane: each multiplier and its adder-tree share (one adder per multiplier)."""
    return sum(multiplier_luts(m.fx, m.fw, target) + target.units.adder_luts(m.accumulator_bits) for m in kinds)


def lane_ffs(kinds: Iterable[Multiplier]) -> int:
    """Flip-flops of one lane: its registered signed products and its share of the accumulators."""
    return sum(product_bits(m.fx, m.fw) + 1 + m.accumulator_bits for m in kinds)


OP_KINDS: dict[type, str] = {
    fpq.LayerNormOp: "layernorm",
    fpq.ModulateOp: "modulate",
    fpq.ResidualOp: "residual",
    fpq.GeluOp: "gelu",
    fpq.QuantizeOp: "quantize",
    fpq.DualQuantizeOp: "dual_quantize",
    fpq.DequantizeOp: "dequantize",
    fpq.HadamardOp: "hadamard",
    fpq.CachedAttentionOp: "attention",
}
"""The fp32 operation count (``fp32_ops.toml``) of each op kind the tile pass plans outside the PE array."""


def _unit_width(tile: hls.TileOp | None) -> tuple[int, int]:
    """(elements per cycle of the op's lanes loop, units its ``on units`` loop spreads over): 1 when none."""
    lanes = units = 1
    for loop in tile.loops.data if tile is not None else ():
        if loop.parallel.data == "lanes":
            lanes = loop.tile.data
        elif loop.parallel.data == "units":
            units = loop.tile.data
    return lanes, units


def op_dsps(op: Operation, tile: hls.TileOp | None, lanes: int, target: Target) -> int:
    """DSPs of the unit that runs ``op`` (a linear layer's are its PE array's: 0 here)."""
    kind = OP_KINDS.get(type(op))
    if kind is None:
        return 0
    width, units = _unit_width(tile)
    width = min(width, lanes)
    levels = op.block.value.data.bit_length() - 1 if isinstance(op, fpq.HadamardOp) else 0
    return target.units.dsps(kind, width, units, levels)


def combine_dsps(kernel: hls.KernelOp, pes: int, lanes: int, target: Target) -> int:
    """DSPs of the PE array's combine stage: the most any of its linear layers needs."""
    most = 0
    for op in kernel.body.block.ops:
        if isinstance(op, fpq.QLinearOp | fpq.DualQLinearOp):
            dual = isinstance(op, fpq.DualQLinearOp)
            sums_per_cycle = -(-pes * lanes // op.combine_group_size())
            most = max(most, target.units.dsps("dual_combine" if dual else "combine", 0, sums_per_cycle))
    return most


def quantizer_luts(op: Operation, tile: hls.TileOp | None, lanes: int, target: Target) -> int:
    """LUTs of the LUT quantizers of ``op`` (one comparator ladder per lane), 0 for other ops."""
    if isinstance(op, fpq.QuantizeOp):
        q = op.quant
        neg, pos = q.format, q.format
    elif isinstance(op, fpq.DualQuantizeOp):
        q = op.neg_quant
        neg, pos = op.neg_quant.format, op.pos_quant.format
    else:
        return 0
    width = min(_unit_width(tile)[0], lanes)
    return width * target.units.quantizer_luts(neg, pos, q.rounding.data)


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
    contents: TensorType
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
    logic_luts: int = 0
    dsps: int = 0

    @property
    def luts(self) -> int:
        return self.pe_luts + self.lutram_luts + self.logic_luts

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
        self.logic_luts += other.logic_luts
        self.dsps += other.dsps

    def counts(self, target: Target) -> dict[str, tuple[int, int]]:
        """Each resource's ``(used, available)`` count on ``target``."""
        return {
            "BRAM36": (self.brams, target.brams),
            "URAM": (self.urams, target.urams),
            "LUTs": (self.luts, target.luts),
            "FFs": (self.registers, target.ffs),
            "DSPs": (self.dsps, target.dsps),
        }

    def overflows(self, target: Target) -> list[str]:
        """``"N BRAM36 of M"`` for each resource over the target's count; empty when it fits."""
        return [f"{used} {unit} of {have}" for unit, (used, have) in self.counts(target).items() if used > have]

    def fits(self, target: Target) -> bool:
        return not self.overflows(target)

    def summary(self, target: Target) -> str:
        return (
            f"{self.brams}/{target.brams} BRAM36, {self.urams}/{target.urams} URAM, "
            f"{self.luts}/{target.luts} LUTs ({self.pe_luts} PE array, {self.lutram_luts} LUTRAM, "
            f"{self.logic_luts} quantizers), {self.registers}/{target.ffs} FFs, {self.dsps}/{target.dsps} DSPs; "
            f"{self.memory_bits / 2**20:.1f} Mib on chip"
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
    kinds = multipliers(kernel)
    fit.lane_luts = lane_luts(kinds, target)
    fit.pe_luts = fit.pes * fit.lanes * fit.lane_luts
    fit.registers = fit.pes * fit.lanes * lane_ffs(kinds)
    fit.dsps = combine_dsps(kernel, fit.pes, fit.lanes, target)
    for op in hls.compute_ops(kernel):
        tile = plan.tile_of(op)
        fit.dsps += op_dsps(op, tile, fit.lanes, target)
        fit.logic_luts += quantizer_luts(op, tile, fit.lanes, target)
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
        fit.buffers.append(BufferFit(buffer.buffer_name.data, storage, buffer.contents, bits, cost))
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
    "combine_dsps",
    "lane_ffs",
    "lane_luts",
    "module_fit",
    "multiplier_luts",
    "multipliers",
    "op_dsps",
    "product_bits",
    "quantizer_luts",
]
