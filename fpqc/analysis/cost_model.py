"""Cycles, DDR traffic, images per second and the roofline of a planned module: :func:`estimate`.

Reads what the ``tile`` pass wrote -- every kernel's ``hls.plan`` -- and the
kernel launches of the step program (``@step_0`` ..., one generation of one
batch; a module without one: ``@main``), and costs every op of every launch:

**Compute.**  An op's cycles are its ``hls.tile`` loop nest at the launch's
size: ``ii × Π trips × ceil(tile / parallel)`` over its loops, where a loop
``on pes``, ``on lanes`` or ``on units`` spreads a tile's elements over that
many PEs, lanes or units (a plain loop runs its elements one after another).
A launch of ``n`` token rows scales a ``rows`` loop by ``n / max_rows``; an
attention's ``keys`` loop runs over the ``offset + n`` cache rows the launch
attends to.  Attention walks its nest twice (``q·kᵀ`` and ``p·v``) and
computes one softmax term per key and cycle on each unit.

**DDR.**  Bytes through the kernel's ports: a weight (a ``tile`` buffer of the
PE array) once per row tile of the layer reading it; a KV cache's rows
``[0, offset + n)`` read by the attention (once when one K/V tile holds them,
else once per new row) and its ``n`` new rows written; an
activation or parameter once per stream the ``load`` stage feeds with it (or
once into a ``whole`` buffer); a result once.  An op's DDR cycles are its bytes
at the slower of the target's DDR bandwidth and its ports' width per cycle.

**Schedule of a launch.**  An op takes ``max(compute, DDR)`` cycles.  It
starts with the op producing an input when that input is streamed to it
(``hls.stream``), after it when the input waits in a ``whole`` buffer, and
ends no earlier than a streamed producer; the linear layers run one after
another on the PE array.  A launch takes its schedule's length, or its DDR
bytes at the full bandwidth when that is longer.  Launches run one after
another: a scale is the sum of its launches, a batch the sum of its scales.
Not modelled: the host's share (prologue, head, sampling, VQVAE), launch
overheads, pipeline fill.

**Roofline.**  Per scale, the compute bound is the busiest engine's compute
cycles summed over the launches (the PE array runs the linear layers; every
other op has a unit of its own), the bandwidth bound its DDR bytes at the
target's bandwidth; the scale is compute- or memory-bound by the larger.  A
VAR batch of ``B`` rows holds ``B / 2`` images (classifier-free guidance).

Example::

    cost = estimate(module, load_target("vck190"))
    cost.images_per_second, cost.bound_images_per_second
    cost.scales[0].bound, cost.to_json(), cost.describe()
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from xdsl.dialects import arith, func
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, TensorType
from xdsl.ir import Operation, OpResult, SSAValue

from fpqc.analysis.op_labels import labels_of
from fpqc.dialects import fpq, hls
from fpqc.dialects.hls import BufferKind, Direction, StageKind
from fpqc.errors import FpqcError
from fpqc.targets import Target

PE_ARRAY = "pe_array"
PAPER_IMAGES_PER_SECOND = 1.1
"""FPQVAR's accelerator on the VCK190, VAR-d30 (the paper's abstract)."""


@dataclass(frozen=True)
class Launch:
    """``count`` launches of a kernel with ``rows`` token rows per sample and a KV cache ``offset``."""

    kernel: str
    rows: int | None = None
    """Token rows of a kernel with ``max_rows`` (None: the kernel's own shapes)."""
    offset: int | None = None
    count: int = 1


@dataclass
class OpCost:
    op: str
    engine: str
    compute: float
    ddr_bytes: float
    ddr_cycles: float
    macs: int
    start: float = 0.0
    finish: float = 0.0

    @property
    def cycles(self) -> float:
        return max(self.compute, self.ddr_cycles)


@dataclass
class LaunchCost:
    launch: Launch
    ops: list[OpCost]
    cycles: float
    ddr_bytes: float
    weight_bytes: float
    kv_bytes: float
    compute_bound: float
    memory_bound: float

    @property
    def macs(self) -> int:
        return sum(o.macs for o in self.ops)


@dataclass
class ScaleCost:
    """The launches of one step function (one scale) and their sums, ``count`` times each."""

    name: str
    rows: int | None
    launches: list[LaunchCost] = field(default_factory=list)

    def _sum(self, what: str) -> float:
        return sum(getattr(c, what) * c.launch.count for c in self.launches)

    @property
    def cycles(self) -> float:
        return self._sum("cycles")

    @property
    def compute_bound(self) -> float:
        return self._sum("compute_bound")

    @property
    def memory_bound(self) -> float:
        return self._sum("memory_bound")

    @property
    def ddr_bytes(self) -> float:
        return self._sum("ddr_bytes")

    @property
    def weight_bytes(self) -> float:
        return self._sum("weight_bytes")

    @property
    def kv_bytes(self) -> float:
        return self._sum("kv_bytes")

    @property
    def macs(self) -> int:
        return int(self._sum("macs"))

    @property
    def bound(self) -> str:
        return "memory" if self.memory_bound > self.compute_bound else "compute"

    def busiest(self) -> str:
        """The op (summed over the launches) with the most cycles: what the scale waits for."""
        cycles: Counter[str] = Counter()
        for c in self.launches:
            for o in c.ops:
                cycles[o.op] += o.cycles * c.launch.count
        return cycles.most_common(1)[0][0] if cycles else "-"


@dataclass
class Estimate:
    """The cost of one batch through the step program (module docstring)."""

    target: Target
    scales: list[ScaleCost]
    batch_rows: int | None
    """Rows of a batch (a VAR's ``B``: conditional and unconditional rows); None for other models."""
    peak_macs_per_cycle: int

    @property
    def clock_hz(self) -> float:
        return self.target.clock_mhz * 1e6

    def seconds(self, cycles: float) -> float:
        return cycles / self.clock_hz

    @property
    def cycles(self) -> float:
        return sum(s.cycles for s in self.scales)

    @property
    def images_per_batch(self) -> float:
        return self.batch_rows / 2 if self.batch_rows else 1.0

    def _rate(self, cycles: float) -> float:
        return self.images_per_batch / self.seconds(cycles) if cycles else 0.0

    @property
    def images_per_second(self) -> float:
        """Images (a VAR) or runs (another model) per second of the schedule's estimate."""
        return self._rate(self.cycles)

    @property
    def compute_bound(self) -> float:
        return sum(s.compute_bound for s in self.scales)

    @property
    def memory_bound(self) -> float:
        return sum(s.memory_bound for s in self.scales)

    @property
    def bound_images_per_second(self) -> float:
        """The roofline: images per second if every scale ran at the larger of its two bounds."""
        return self._rate(sum(max(s.compute_bound, s.memory_bound) for s in self.scales))

    def to_json(self) -> dict:
        ms = 1e3 / self.clock_hz
        unit = "images" if self.batch_rows else "runs"
        return {
            "clock_mhz": self.target.clock_mhz,
            "ddr_bandwidth_gbs": self.target.ddr_bandwidth_gbs,
            "batch_rows": self.batch_rows,
            f"{unit}_per_batch": self.images_per_batch,
            "cycles_per_batch": round(self.cycles),
            "ms_per_batch": self.cycles * ms,
            f"{unit}_per_second": self.images_per_second,
            "paper_images_per_second": PAPER_IMAGES_PER_SECOND if self.batch_rows else None,
            "roofline": {
                "peak_macs_per_cycle": self.peak_macs_per_cycle,
                "ddr_bytes_per_cycle": self.target.ddr_bytes_per_cycle,
                "compute_bound_ms": self.compute_bound * ms,
                "memory_bound_ms": self.memory_bound * ms,
                f"bound_{unit}_per_second": self.bound_images_per_second,
                "macs": sum(s.macs for s in self.scales),
                "ddr_bytes": sum(s.ddr_bytes for s in self.scales),
                "weight_bytes": sum(s.weight_bytes for s in self.scales),
                "kv_bytes": sum(s.kv_bytes for s in self.scales),
            },
            "scales": [
                {
                    "function": s.name,
                    "rows": s.rows,
                    "launches": sum(c.launch.count for c in s.launches),
                    "cycles": round(s.cycles),
                    "ms": s.cycles * ms,
                    "compute_bound_ms": s.compute_bound * ms,
                    "memory_bound_ms": s.memory_bound * ms,
                    "bound": s.bound,
                    "busiest_op": s.busiest(),
                    "macs": s.macs,
                    "ddr_bytes": s.ddr_bytes,
                    "weight_bytes": s.weight_bytes,
                    "kv_bytes": s.kv_bytes,
                }
                for s in self.scales
            ],
        }

    def describe(self) -> list[str]:
        """Lines for people: the estimate, its bounds and each scale."""
        ms = 1e3 / self.clock_hz
        unit = "images" if self.batch_rows else "runs"
        lines = [
            f"{self.images_per_second:.3g} {unit}/s estimated ({self.cycles * ms:.1f} ms per batch of "
            f"{self.images_per_batch:g}); roofline {self.bound_images_per_second:.3g} {unit}/s "
            f"(compute {self.compute_bound * ms:.1f} ms, DDR {self.memory_bound * ms:.1f} ms at "
            f"{self.target.ddr_bandwidth_gbs:g} GB/s, {self.target.clock_mhz:g} MHz)"
            + (f"; the paper: {PAPER_IMAGES_PER_SECOND} images/s (VAR-d30)" if self.batch_rows else ""),
        ]
        for s in self.scales:
            lines.append(
                f"{s.name:<10} rows {s.rows if s.rows is not None else '-':>4}  {s.cycles * ms:9.3f} ms  "
                f"compute {s.compute_bound * ms:8.3f}  DDR {s.memory_bound * ms:8.3f}  {s.bound}-bound, "
                f"busiest {s.busiest()}"
            )
        return lines


# ------------------------------------------------------------------ launches


def _constant_int(value: SSAValue) -> int | None:
    owner = value.owner
    if isinstance(owner, arith.ConstantOp) and isinstance(owner.value, IntegerAttr):
        return owner.value.value.data
    return None


def step_launches(module: ModuleOp) -> list[tuple[str, list[Launch]]]:
    """(function, its kernel launches) of each step function in scale order, or of ``@main``."""
    functions = {f.sym_name.data: f for f in module.ops if isinstance(f, func.FuncOp)}
    steps = sorted((n for n in functions if n.startswith("step_")), key=lambda n: int(n.removeprefix("step_")))
    kernels = {k.sym_name.data: k for k in module.ops if isinstance(k, hls.KernelOp)}
    out = []
    for name in steps or [n for n in ("main",) if n in functions]:
        launches: Counter[Launch] = Counter()
        for call in functions[name].walk():
            if not isinstance(call, hls.CallOp):
                continue
            kernel = kernels[call.callee.string_value()]
            rows = hls.call_rows(kernel, call) if kernel.max_rows is not None else None
            offset = None
            for arg, outer in zip(kernel.args, call.arguments):
                if not isinstance(arg.type, TensorType):
                    offset = _constant_int(outer)
            launches[Launch(kernel.sym_name.data, rows, offset)] += 1
        out.append((name, [Launch(k.kernel, k.rows, k.offset, n) for k, n in launches.items()]))
    return out


def kernel_launches(module: ModuleOp) -> dict[str, list[Launch]]:
    """Every kernel's launches over one batch of the step program (identical ones merged)."""
    merged: dict[str, Counter[Launch]] = {}
    for _, launches in step_launches(module):
        for launch in launches:
            key = Launch(launch.kernel, launch.rows, launch.offset)
            merged.setdefault(launch.kernel, Counter())[key] += launch.count
    return {k: [Launch(x.kernel, x.rows, x.offset, n) for x, n in c.items()] for k, c in merged.items()}


# ------------------------------------------------------------------ one launch


class _LaunchSize:
    """Shapes of one launch: a row tensor's ``max_rows`` axis is the launch's rows."""

    def __init__(self, kernel: hls.KernelOp, launch: Launch):
        self.max_rows = kernel.max_rows.value.data if kernel.max_rows is not None else None
        self.rows = launch.rows if self.max_rows is not None and launch.rows else self.max_rows
        self.offset = launch.offset

    def shape(self, value: SSAValue) -> tuple[int, ...]:
        shape = list(value.type.get_shape())
        if hls.is_row_shape(shape, self.max_rows):
            shape[1] = self.rows
        return tuple(shape)

    def bytes(self, value: SSAValue, rows: int | None = None) -> float:
        """Bytes of ``value`` at the launch (``rows``: that many rows along axis 1, a KV cache's)."""
        shape = list(self.shape(value))
        if rows is not None:
            shape[1] = rows
        return math.prod(shape) * hls.element_bits(value.type.get_element_type()) / 8

    def rows_extent(self, extent: int) -> int:
        if self.max_rows is None or self.rows == self.max_rows or extent % self.max_rows:
            return extent
        return extent // self.max_rows * self.rows


def _loop_cycles(tile: hls.TileOp, size: _LaunchSize, pes: int, lanes: int, keys: int | None) -> float:
    """``ii × Π trips × ceil(tile / parallel)`` over the loops at the launch's size (module docstring)."""
    cycles = float(tile.ii.value.data)
    for loop in tile.loops.data:
        extent, step = loop.extent.data, loop.tile.data
        if loop.dim.data == "rows":
            extent = size.rows_extent(extent)
        elif loop.dim.data == "keys" and keys is not None:
            extent = keys
        step = min(step, extent)
        parallel = {"pes": pes, "lanes": lanes, "units": step}.get(loop.parallel.data, 1)
        cycles *= -(-extent // step) * -(-step // parallel)
    return cycles


def _row_trips(tile: hls.TileOp, size: _LaunchSize) -> int:
    loop = tile.loop("rows")
    if loop is None:
        return 1
    extent = size.rows_extent(loop.extent.data)
    return -(-extent // min(loop.tile.data, extent))


def _cache_passes(tile: hls.TileOp | None, size: _LaunchSize, keys: int | None) -> int:
    """How often an attention streams its cache rows: once when one K/V tile holds them all (every new
    row reuses it), else once per new row."""
    loop = tile.loop("keys") if tile is not None else None
    if loop is None or loop.tile.data >= (keys if keys is not None else loop.extent.data):
        return 1
    rows = tile.loop("rows")
    return size.rows_extent(rows.extent.data) if rows is not None else 1


def _units(tile: hls.TileOp) -> int:
    """Units an op's ``on units`` loop spreads over (1: one)."""
    return math.prod(loop.tile.data for loop in tile.loops.data if loop.parallel.data == "units")


def _consumers(stage: hls.StageOp, ops: set[Operation]) -> set[Operation]:
    """The compute ops a stage runs (a write stage of an op's own results: that op)."""
    if stage.kind.data not in (StageKind.LOAD, StageKind.WRITE):
        return set(stage.ops())
    return {v.owner for v in stage.values if isinstance(v, OpResult) and v.owner in ops}


class _LaunchCoster:
    def __init__(self, kernel: hls.KernelOp, target: Target):
        plan = hls.plan_of(kernel)
        if plan is None:
            raise FpqcError(f"kernel @{kernel.sym_name.data} has no hardware plan; run the tile pass first")
        self.kernel, self.target, self.plan = kernel, target, plan
        pe = plan.pe_array()
        self.pes, self.lanes = pe.pes.value.data, pe.lanes.value.data
        self.ops = hls.compute_ops(kernel)
        self.labels = labels_of(self.ops)
        op_set = set(self.ops)
        stages = {s.stage_name.data: s for s in plan.entries_of(hls.StageOp)}
        self.streamed: set[tuple[SSAValue, Operation]] = set()
        self.load_streams: Counter[SSAValue] = Counter()
        for stream in plan.entries_of(hls.StreamOp):
            source, dest = stages[stream.from_stage.data], stages[stream.to_stage.data]
            if source.kind.data == StageKind.LOAD:
                self.load_streams[stream.value] += 1
            for op in _consumers(dest, op_set) - {stream.value.owner}:
                self.streamed.add((stream.value, op))
        self.tiled = {v for b in plan.entries_of(hls.BufferOp) if b.kind.data == BufferKind.TILE for v in b.values}
        self.ports = plan.entries_of(hls.PortOp)

    def cost(self, launch: Launch) -> LaunchCost:
        size = _LaunchSize(self.kernel, launch)
        keys = None if size.offset is None or size.rows is None else size.offset + size.rows
        traffic, weight, kv = self._traffic(size, keys)
        per_op = {op: self._op_cost(op, size, keys, traffic[op]) for op in self.ops}
        self._schedule(per_op)
        ops = list(per_op.values())
        total = sum(o.ddr_bytes for o in ops)
        engines: Counter[str] = Counter()
        for o in ops:
            engines[o.engine] += o.compute
        memory = total / self.target.ddr_bytes_per_cycle
        return LaunchCost(launch, ops, max(max((o.finish for o in ops), default=0.0), memory), total, weight, kv,
                          max(engines.values(), default=0.0), memory)

    def _traffic(self, size: _LaunchSize, keys: int | None) -> tuple[dict[Operation, list[tuple[float, float]]],
                                                                      float, float]:
        """(bytes, port bytes per cycle) each op moves through the ports; weight and KV-cache bytes."""
        traffic: dict[Operation, list[tuple[float, float]]] = {op: [] for op in self.ops}
        weight = kv = 0.0
        for port in self.ports:
            value, rate = port.value, port.width.value.data / 8
            if port.direction.data == Direction.OUT:
                owner = value.owner
                if owner not in traffic:
                    continue  # an argument returned as it is: no op moves it
                new_rows = port.inplace is not None and isinstance(owner, fpq.CachedAttentionOp)
                moved = size.bytes(value, size.rows if new_rows else None)
                kv += moved if new_rows else 0.0
                traffic[owner].append((moved, rate))
                continue
            reader = next((op for op in self.ops if value in op.operands), None)
            if reader is None:
                continue
            if isinstance(reader, fpq.CachedAttentionOp) and value in reader.caches:
                moved = size.bytes(value, keys) * _cache_passes(self.plan.tile_of(reader), size, keys)
                kv += moved
            elif value in self.tiled:
                tile = self.plan.tile_of(reader)
                moved = size.bytes(value) * (_row_trips(tile, size) if tile is not None else 1)
                weight += moved
            else:
                moved = size.bytes(value) * max(1, self.load_streams[value])
            traffic[reader].append((moved, rate))
        return traffic, weight, kv

    def _op_cost(self, op: Operation, size: _LaunchSize, keys: int | None,
                 traffic: list[tuple[float, float]]) -> OpCost:
        tile = self.plan.tile_of(op)
        compute = _loop_cycles(tile, size, self.pes, self.lanes, keys) if tile is not None else 0.0
        macs = 0
        if isinstance(op, fpq.CachedAttentionOp) and tile is not None:
            b, n, c3 = size.shape(op.qkv)
            seen = keys if keys is not None else op.k_cache.type.get_shape()[1]
            compute = 2 * compute + b * op.num_heads.value.data * n * seen / _units(tile)
            macs = 2 * b * n * seen * (c3 // 3)
        elif isinstance(op, fpq.QLinearOp | fpq.DualQLinearOp):
            n_out, k = op.weight_codes.type.get_shape()
            planes = 2 if isinstance(op, fpq.DualQLinearOp) else 1
            macs = math.prod(size.shape(op.operands[0])[:-1]) * n_out * k * planes
        moved = sum(b for b, _ in traffic)
        ddr = max([moved / self.target.ddr_bytes_per_cycle] + [b / r for b, r in traffic])
        engine = PE_ARRAY if isinstance(op, fpq.QLinearOp | fpq.DualQLinearOp) else self.labels[op]
        return OpCost(self.labels[op], engine, compute, moved, ddr, macs)

    def _schedule(self, per_op: dict[Operation, OpCost]) -> None:
        pe_free = 0.0
        for op in self.ops:
            cost = per_op[op]
            start, floor = 0.0, 0.0
            for value in op.operands:
                producer = value.owner if isinstance(value, OpResult) else None
                if producer not in per_op:
                    continue
                if (value, op) in self.streamed:
                    start = max(start, per_op[producer].start)
                    floor = max(floor, per_op[producer].finish)
                else:
                    start = max(start, per_op[producer].finish)
            if cost.engine == PE_ARRAY:
                start = max(start, pe_free)
            cost.start = start
            cost.finish = max(start + cost.cycles, floor)
            if cost.engine == PE_ARRAY:
                pe_free = cost.finish


def launch_cost(kernel: hls.KernelOp, target: Target, launch: Launch) -> LaunchCost:
    """The cost of one launch of ``kernel`` (module docstring)."""
    return _LaunchCoster(kernel, target).cost(launch)


def _batch_rows(module: ModuleOp) -> int | None:
    """``B`` of a step program's kernels (the leading axis of their row tensors)."""
    for kernel in module.ops:
        if isinstance(kernel, hls.KernelOp) and kernel.max_rows is not None:
            for arg in kernel.args:
                if isinstance(arg.type, TensorType) and hls.is_row_shape(arg.type.get_shape(), kernel.max_rows.value.data):
                    return arg.type.get_shape()[0]
    return None


def estimate(module: ModuleOp, target: Target, depth: int | None = None) -> Estimate:
    """The cost of one batch of ``module``'s step program (or ``@main``) on ``target``.

    ``depth``: cost a VAR of that many transformer blocks with this module's
    block kernel (a VAR block is the same kernel at any depth): the launches
    of a kernel holding an attention, ``blocks`` per scale, become ``depth``.
    """
    kernels = {k.sym_name.data: k for k in module.ops if isinstance(k, hls.KernelOp)}
    costers = {name: _LaunchCoster(k, target) for name, k in kernels.items()}
    functions = step_launches(module)
    scales = []
    cache: dict[Launch, LaunchCost] = {}
    for name, launches in functions:
        rows = max((launch.rows or 0 for launch in launches), default=0) or None
        scale = ScaleCost(name, rows)
        for launch in launches:
            count = launch.count
            if depth is not None and any(isinstance(op, fpq.CachedAttentionOp) for op in costers[launch.kernel].ops):
                count = depth * count // max(1, _blocks_per_scale(launches, launch.kernel))
            key = Launch(launch.kernel, launch.rows, launch.offset)
            if key not in cache:
                cache[key] = costers[launch.kernel].cost(key)
            cost = cache[key]
            scale.launches.append(LaunchCost(Launch(key.kernel, key.rows, key.offset, count), cost.ops, cost.cycles,
                                             cost.ddr_bytes, cost.weight_bytes, cost.kv_bytes, cost.compute_bound,
                                             cost.memory_bound))
        scales.append(scale)
    peak = sum(c.pes * c.lanes for c in costers.values())
    steps = bool(functions) and functions[0][0] != "main"
    return Estimate(target, scales, _batch_rows(module) if steps else None, peak)


def _blocks_per_scale(launches: list[Launch], kernel: str) -> int:
    return sum(launch.count for launch in launches if launch.kernel == kernel)


__all__ = [
    "PAPER_IMAGES_PER_SECOND",
    "Estimate",
    "Launch",
    "LaunchCost",
    "OpCost",
    "ScaleCost",
    "estimate",
    "kernel_launches",
    "launch_cost",
    "step_launches",
]
