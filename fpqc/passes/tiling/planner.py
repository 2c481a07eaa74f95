"""One kernel's hardware plan from the rules (:mod:`fpqc.passes.tiling.rules`) and the choices.

How a value travels from the op that makes it to an op that reads it:

- an operand read ``whole`` or ``param`` lives in a ``whole`` buffer (one per
  value, whoever reads it);
- an operand read row by row is **streamed** when exactly one op reads it and
  it comes out in an order the reader can take (row after row; or column
  tiles of a width the reader's granule divides: a linear layer's
  ``n_tile``, an attention head) -- otherwise it is kept in a ``whole``
  buffer (a reorder buffer).  A value read by several ops, or read and also
  returned, is kept whole: a stream has one reader;
- a kernel argument read row by row is streamed from its port by the ``load``
  stage, in whatever order the reader wants; weights and KV caches are read
  in tiles into ``tile`` buffers;
- a result leaves through the ``write`` stage, streamed from its producer or
  read from its buffer; the new KV caches of an attention are written by its
  own ``store_kv`` stage.

Each buffer's storage comes from the size of one bank of one copy (the target
file's ``[storage]`` thresholds: registers, LUTRAM, BRAM, URAM), unless the
rule fixes it (accumulators in registers) or an option does; then, while BRAM
or URAM is over the device's count, the largest movable buffers move to the
other one (and LUTRAM to BRAM while LUTs run out).
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass, field

from xdsl.dialects.builtin import TensorType
from xdsl.ir import BlockArgument, Operation, SSAValue

from fpqc.analysis.op_labels import labels_of
from fpqc.analysis.plan_fit import bank_cost, lane_luts, multipliers
from fpqc.dialects import hls
from fpqc.dialects.operand_names import operand_names
from fpqc.dialects.hls import BufferKind, Direction, LoopAttr, StageKind, Storage, element_bits
from fpqc.errors import FpqcError
from fpqc.passes.tiling.regions import ARGUMENTS, Regions
from fpqc.passes.tiling.rules import (
    F32,
    ROW_ORDER,
    AttentionRule,
    Choices,
    How,
    LinearRule,
    Order,
    Read,
    Rule,
    Spec,
    StreamSpec,
    compatible,
    rows_of,
    rule_for,
    ruled_op_names,
    shape,
    tensor,
)
from fpqc.targets import Target

SHORT = {
    "input_codes": "x",
    "input_scales": "xs",
    "neg_codes": "xn",
    "pos_codes": "xp",
    "neg_scales": "xns",
    "pos_scales": "xps",
    "weight_codes": "w",
    "weight_scales": "ws",
}
"""Short buffer-name suffixes of operands (others keep their IRDL names)."""


def short_operand_names(op: Operation) -> list[str]:
    return [SHORT.get(name, name) for name in operand_names(op)]


def result_names(op: Operation) -> list[str]:
    return [name for name, _ in type(op).get_irdl_definition().results]


def kernel_rules(kernel: hls.KernelOp) -> dict[Operation, Rule]:
    """The rule of every compute op of ``kernel``; FpqcError naming an op without one."""
    rules: dict[Operation, Rule] = {}
    for op in hls.compute_ops(kernel):
        rule = rule_for(op)
        if rule is None:
            raise FpqcError(
                f"tile: kernel @{kernel.sym_name.data}: {op.name} has no tiling rule "
                f"(ops with rules: {', '.join(ruled_op_names())})"
            )
        rules[op] = rule
    return rules


def kernel_macs(kernel: hls.KernelOp) -> int:
    return sum(rule.macs(op) for op, rule in kernel_rules(kernel).items())


@dataclass
class Port:
    name: str
    direction: Direction
    index: int
    value: SSAValue
    burst: int
    inplace: str | None = None


@dataclass
class KernelPlan:
    """Everything the plan of one kernel holds, before it becomes IR."""

    kernel: hls.KernelOp
    choices: Choices
    ports: list[Port] = field(default_factory=list)
    tiles: list[tuple[SSAValue, list[LoopAttr]]] = field(default_factory=list)
    buffers: list[Spec] = field(default_factory=list)
    stages: list[tuple[str, StageKind, list[SSAValue], int | None]] = field(default_factory=list)
    """(name, kind, values, region) of each stage; load and write stages have no region."""
    streams: list[StreamSpec] = field(default_factory=list)

    def to_ir(self) -> hls.PlanOp:
        target = self.choices.target
        entries: list[Operation] = [hls.PeArrayOp(self.choices.pes, self.choices.lanes)]
        bundles = 0
        for port in self.ports:
            entries.append(hls.PortOp(port.name, port.direction, port.index, port.value, target.axi_data_width,
                                      port.burst, f"gmem{bundles}", port.inplace))
            bundles += 1
        entries += [hls.TileOp(value, loops, 1) for value, loops in self.tiles]
        for b in self.buffers:
            assert b.storage is not None
            entries.append(hls.BufferOp(b.name, b.kind, b.values, tensor(b.shape, b.element), b.storage,
                                        b.banks, b.pack, b.copies))
        entries += [hls.StageOp(i, *stage) for i, stage in enumerate(self.stages)]
        index = {name: i for i, (name, *_) in enumerate(self.stages)}
        streams = sorted(self.streams, key=lambda s: (index[s.source], index[s.dest]))
        entries += [hls.StreamOp(s.name, s.value, s.source, s.dest, s.width, s.depth, s.columns) for s in streams]
        return hls.PlanOp(entries)


def choose_n_tiles(kernel: hls.KernelOp, rules: dict[Operation, Rule], choices: Choices, n_tile: int) -> None:
    """``choices.n_tiles`` of every linear layer (``n_tile`` > 0: that, capped to N).

    By default a tile gives each PE one output column.  When the layer's
    output feeds (through element-wise ops) a reader of a granule (a scale
    group, a Hadamard block, a row, an attention head), the tile grows to a
    multiple of that granule if the bigger weight tiles cost fewer bits than
    the reorder buffer they save.  A tile that does not divide N shrinks to a
    multiple of the PE count that does, else to the largest divisor of N below
    it (the HLS library's weight tiles divide N; fewer PEs are then busy).
    """
    for op, rule in rules.items():
        if not isinstance(rule, LinearRule):
            continue
        rows, n, k = rule.dims(op)
        base = min(choices.pes, n)
        if n_tile:
            choices.n_tiles[op] = min(n_tile, n)
            continue
        chosen = base
        granule = _downstream_granule(kernel, rules, op)
        aligned = math.lcm(base, granule)
        if granule > 1 and aligned <= n and n % aligned == 0 and aligned != base:
            w_bits = element_bits(op.weight_codes.type.get_element_type())
            extra = 2 * (aligned - base) * rule.k_tile(op, choices) * w_bits
            reorder = rule.row_tile(op, choices) * n * 32
            if extra < reorder:
                chosen = aligned
        if n % chosen:
            fits = [t for t in range(chosen - chosen % base, 0, -base) if n % t == 0]
            chosen = fits[0] if fits else next(t for t in range(chosen, 0, -1) if n % t == 0)
        choices.n_tiles[op] = chosen


def _readers(kernel: hls.KernelOp, value: SSAValue) -> list[Operation]:
    ops = set(hls.compute_ops(kernel))
    return list(dict.fromkeys(use.operation for use in value.uses if use.operation in ops))


def _returned(kernel: hls.KernelOp, value: SSAValue) -> bool:
    return value in kernel.get_return_op().arguments


def _downstream_granule(kernel: hls.KernelOp, rules: dict[Operation, Rule], op: Operation) -> int:
    """The granule the first non-element-wise reader of ``op``'s result needs (1: none)."""
    value = op.results[0]
    while True:
        readers = _readers(kernel, value)
        if len(readers) != 1 or _returned(kernel, value):
            return 1
        reader = readers[0]
        index = next(u.index for u in value.uses if u.operation is reader)
        read = rules[reader].reads(reader)[index]
        if isinstance(rules[reader], AttentionRule) and read.how == How.QKV:
            return AttentionRule.dims(reader)[3]
        if read.how != How.ROWS:
            return 1
        if read.granule > 1:
            return read.granule
        value = reader.results[0]


class _Planner:
    def __init__(self, kernel: hls.KernelOp, rules: dict[Operation, Rule], choices: Choices):
        self.kernel = kernel
        self.rules = rules
        self.choices = choices
        self.ops = list(rules)
        self.labels = labels_of(self.ops)
        self.plan = KernelPlan(kernel, choices)
        self.held: dict[SSAValue, Spec] = {}
        self.orders: dict[SSAValue, Order] = {}
        self.port_names: dict[SSAValue, str] = {}
        self.written_by_op: set[SSAValue] = set()
        self.loaded_by_op: set[SSAValue] = set()
        self.regions = Regions()
        self.levels: dict[str, int] = {}
        """Level of each compute stage (:mod:`fpqc.passes.tiling.regions`)."""
        self.filled: dict[SSAValue, int] = {}
        """Level at which each op result is complete (its producer's last stage)."""
        self.readers: dict[SSAValue, list[int]] = {}
        """Levels of the stages that read each held value's buffer."""
        self.where = f"tile: kernel @{kernel.sym_name.data}"

    # ---------------------------------------------------------------- names
    def value_label(self, value: SSAValue) -> str:
        if isinstance(value, BlockArgument):
            return self.port_names[value]
        op = value.owner
        assert isinstance(op, Operation)
        if len(op.results) == 1:
            return self.labels[op]
        return f"{self.labels[op]}.{result_names(op)[value.index]}"

    def hold_name(self, value: SSAValue) -> str:
        """Name of the reorder buffer of an op's result: ``<op>.out``, ``<op>.<result>`` of several."""
        label = self.value_label(value)
        return label if len(value.owner.results) > 1 else f"{label}.out"

    def stage_name(self, op: Operation, suffix: str) -> str:
        return self.labels[op] if not suffix else f"{self.labels[op]}.{suffix}"

    def in_stage(self, op: Operation) -> str:
        return self.stage_name(op, self.rules[op].stages(op)[0][0])

    def out_stage(self, op: Operation) -> str:
        return self.stage_name(op, self.rules[op].stages(op)[-1][0])

    # ---------------------------------------------------------------- pieces
    def hold(self, value: SSAValue, name: str, rows: int | None, pack: bool) -> Spec:
        """The ``whole`` buffer of ``value`` (made once); ``rows``: rows it keeps, None: all."""
        if value in self.held:
            return self.held[value]
        dims = shape(value)
        element = value.type.get_element_type()
        if len(dims) == 1:
            contents = dims
        else:
            total = rows_of(value)
            contents = (min(rows or total, total), dims[-1])
        packed = math.gcd(self.choices.lanes, contents[-1]) if pack else 1
        spec = Spec(name, BufferKind.WHOLE, value, contents, element, pack=packed)
        self.held[value] = spec
        self.plan.buffers.append(spec)
        return spec

    def after(self, value: SSAValue) -> int:
        """The first level that may read ``value`` from its whole buffer: after the one that fills it."""
        return (ARGUMENTS if isinstance(value, BlockArgument) else self.filled[value]) + 1

    def add_tile(self, spec: Spec) -> None:
        """Add a ``tile`` buffer, merged into one of the same name and element (the PE array's)."""
        same = [b for b in self.plan.buffers if b.kind == BufferKind.TILE and b.name.split(":")[0] == spec.name]
        for known in same:
            if known.element == spec.element:
                known.shape = tuple(max(a, b) for a, b in zip(known.shape, spec.shape))
                known.banks = math.gcd(max(known.banks, spec.banks), known.shape[0])
                known.pack = math.gcd(known.pack, spec.pack)
                known.more.append(spec.value)
                return
        if same:  # another element type (weights of another format): a buffer of its own
            spec.name = f"{spec.name}:{len(same)}"
        self.plan.buffers.append(spec)

    def row_tile_of(self, value: SSAValue) -> int | None:
        op = value.owner
        return self.rules[op].row_tile(op, self.choices) if isinstance(op, Operation) else None

    def stream(self, value: SSAValue, source: str, dest: str, beat: int, name: str, order: Order = ROW_ORDER) -> None:
        """A stream of ``value``'s rows in ``order``, ``beat`` elements (at most) a beat."""
        segment = order[1] if order[0] == "columns" else shape(value)[-1]
        width = math.gcd(beat, segment) * element_bits(value.type.get_element_type())
        columns = order[1] if order[0] == "columns" else 0
        self.plan.streams.append(
            StreamSpec(name, value, source, dest, width, self.choices.target.stream_depth, columns)
        )

    def producer_beat(self, value: SSAValue) -> int:
        op = value.owner
        return self.rules[op].beat(op, self.choices) if isinstance(op, Operation) else self.choices.lanes

    # ---------------------------------------------------------------- the plan
    def run(self) -> KernelPlan:
        self.make_ports()
        for op in self.ops:
            self.plan_op(op)
        self.plan_results()
        self.size_buffers()
        self.make_stages()
        return self.plan

    def make_ports(self) -> None:
        target = self.choices.target
        taken: set[str] = set()

        def unique(base: str) -> str:
            name, i = base, 1
            while name in taken:
                name, i = f"{base}_{i}", i + 1
            taken.add(name)
            return name

        def burst(value: SSAValue) -> int:
            bits = math.prod(shape(value)) * element_bits(value.type.get_element_type())
            return max(1, min(target.burst_beats, -(-bits // target.axi_data_width)))

        for i, arg in enumerate(self.kernel.args):
            if not isinstance(arg.type, TensorType):
                continue  # a scalar (a KV-cache offset): a control register, not an AXI port
            self.port_names[arg] = unique(arg.name_hint or f"in{i}")
            self.plan.ports.append(Port(self.port_names[arg], Direction.IN, i, arg, burst(arg)))
        updates = hls.updated_arguments(self.kernel)  # outline-kernels marks the KV caches
        for j, value in enumerate(self.kernel.get_return_op().arguments):
            inplace = self.port_names.get(self.kernel.args[updates[j]]) if j in updates else None
            self.plan.ports.append(Port(unique(f"out{j}"), Direction.OUT, j, value, burst(value), inplace))

    def plan_op(self, op: Operation) -> None:
        """The op's loops, tiles, scratch and own streams; how each operand reaches it; its stages' levels.

        The op's level is the first after every buffer it reads; an operand that
        could stream (one reader, a compatible order) streams only from a
        producer on that level, in one order for all its streams -- the others
        are kept whole, which may move the op to a later level (and so on).
        """
        rule, choices, label = self.rules[op], self.choices, self.labels[op]
        spans = rule.spans_launch(op)
        self.plan.tiles.append((op.results[0], rule.loops(op, choices)))
        for spec in rule.tiles(op, choices, label):
            self.add_tile(spec)
        self.plan.buffers += rule.scratch(op, choices, label)
        self.plan.streams += rule.streams(op, choices, label)
        level = 0
        whole: list[SSAValue] = []
        candidates: list[tuple[SSAValue, Read, str]] = []
        arguments: list[tuple[SSAValue, str]] = []
        for index, (value, read, name) in enumerate(zip(op.operands, rule.reads(op), short_operand_names(op))):
            if read.how == How.WEIGHT:
                dest = self.stage_name(op, rule.weight_stage(op, index))
                self.weight_stream(value, dest, f"{self.value_label(value)}>{label}")
                continue
            if read.how == How.CACHE:
                self.check_cache(op, value)
                continue
            if read.how in (How.WHOLE, How.PARAM):
                rows = None if read.how == How.PARAM or spans else rule.row_tile(op, choices)
                self.hold(value, f"{label}.{name}", rows, read.pack)
                whole.append(value)
                continue
            granule = AttentionRule.dims(op)[3] if read.how == How.QKV else read.granule
            if isinstance(value, BlockArgument):
                arguments.append((value, f"{self.value_label(value)}>{label}"))
            elif value not in self.held and self.streamable(value, granule):
                candidates.append((value, read, name))
            else:
                if read.how == How.QKV:
                    self.hold(value, f"{label}.qkv", None, True)
                else:
                    self.hold(value, self.hold_name(value), self.row_tile_of(value), read.pack)
                whole.append(value)
        level = max([0] + [self.after(v) for v in whole] + [self.filled[v] for v, _, _ in candidates])
        while True:  # settle which candidates stream
            level = self.regions.available(level, spans and not isinstance(rule, AttentionRule))
            main: Order | None = None
            streamed = []
            for value, read, name in candidates:
                if self.filled[value] == level and main in (None, self.orders[value]):
                    streamed.append((value, read, name))
                    main = self.orders[value]
            kept = [c for c in candidates if c not in streamed]
            later = max([level] + [self.after(value) for value, _, _ in kept])
            if later == level:
                break
            level = later
        level = self.regions.place(level, spans and not isinstance(rule, AttentionRule))
        dest = self.in_stage(op)
        for value, read, name in kept:
            if read.how == How.QKV:
                self.hold(value, f"{label}.qkv", None, True)
            else:
                self.hold(value, self.hold_name(value), self.row_tile_of(value), read.pack)
            whole.append(value)
        for value, read, name in streamed:
            self.stream(value, self.out_stage(value.owner), dest, self.producer_beat(value),
                        f"{self.value_label(value)}>{label}", self.orders[value])
        order = main or ROW_ORDER
        for value, name in arguments:
            self.stream(value, "load", dest, self.choices.lanes, name, order)
        for suffix, _ in rule.stages(op):
            self.levels[self.stage_name(op, suffix)] = level
        for value in whole:
            self.readers.setdefault(value, []).append(level)
        if isinstance(rule, AttentionRule):
            self.plan_attention(op, level)
        else:
            for result in op.results:
                self.filled[result] = level
                self.orders[result] = rule.order(op, choices, order)

    def streamable(self, value: SSAValue, granule: int) -> bool:
        """Whether ``value`` (an op result) may stream to its reader: its only use, in an order the reader takes."""
        single = len(_readers(self.kernel, value)) == 1 and not _returned(self.kernel, value)
        return single and compatible(self.orders[value], granule)

    def weight_stream(self, value: SSAValue, dest: str, name: str) -> None:
        """The port words of weight codes, or the floats of weight scales and biases, from the load stage."""
        bits = element_bits(value.type.get_element_type())
        width = self.choices.target.axi_data_width if bits < 32 else bits
        self.plan.streams.append(StreamSpec(name, value, "load", dest, width, self.choices.target.stream_depth))

    def plan_attention(self, op: Operation, level: int) -> None:
        """Attention's stages: ``store_kv`` on the level of its input, ``load_kv`` and ``attend`` in a region
        of their own after it (every new key must be in the cache); ``q`` (when ``qkv`` streams) and the
        result kept whole for all rows."""
        label = self.labels[op]
        b, n, heads, d, _ = AttentionRule.dims(op)
        for result in op.results[1:]:
            if not _returned(self.kernel, result) or _readers(self.kernel, result):
                raise FpqcError(
                    f"{self.where}: the new KV caches of {op.name} must be results of the kernel and read by "
                    "no op of it (the cache lives in DDR)"
                )
            self.written_by_op.add(result)
        attend = self.regions.place(level + 1, True)
        self.levels[f"{label}.load_kv"] = self.levels[f"{label}.attend"] = attend
        if op.qkv in self.held:
            self.readers[op.qkv].append(attend)
        else:
            lanes = math.gcd(self.choices.lanes, heads * d)
            self.plan.buffers.append(Spec(f"{label}.q", BufferKind.WHOLE, op.qkv, (b * n, heads * d), F32, pack=lanes))
        self.filled[op.result] = attend
        self.hold(op.result, self.hold_name(op.result), None, True)

    def check_cache(self, op: Operation, cache: SSAValue) -> None:
        if not isinstance(cache, BlockArgument):
            raise FpqcError(f"{self.where}: the KV caches of {op.name} must be kernel arguments (they live in DDR)")
        self.loaded_by_op.add(cache)

    def plan_results(self) -> None:
        """Results stream to the write stage from their producers; one also read by ops is written from its
        buffer (holding all rows) after the last region."""
        for value in self.kernel.get_return_op().arguments:
            if value in self.written_by_op or value in self.held:
                continue
            if isinstance(value, BlockArgument):
                self.stream(value, "load", "write", self.choices.lanes, f"{self.value_label(value)}>write")
            else:
                self.stream(value, self.out_stage(value.owner), "write", self.producer_beat(value),
                            f"{self.value_label(value)}>write", self.orders[value])

    def size_buffers(self) -> None:
        """A whole buffer written in one loop group and read in another (or by the final write) holds all rows."""
        returned = set(self.kernel.get_return_op().arguments)
        for value, spec in self.held.items():
            if len(spec.shape) == 1:
                continue
            writer = ARGUMENTS if isinstance(value, BlockArgument) else self.filled[value]
            readers = [r for r in self.readers.get(value, []) if r in self.regions.numbers()]
            if value in returned or self.regions.crosses(writer, readers):
                spec.shape = (rows_of(value), spec.shape[-1])

    def make_stages(self) -> None:
        stages = self.plan.stages
        numbers = self.regions.numbers()
        loads = [a for a in self.kernel.args if a not in self.loaded_by_op]
        if loads:
            stages.append(("load", StageKind.LOAD, loads, None))
        for op in self.ops:
            for suffix, kind in self.rules[op].stages(op):
                if kind == StageKind.WRITE:
                    values = list(op.results[1:])
                elif kind == StageKind.LOAD:
                    values = [v for v in op.operands if v in self.loaded_by_op]
                else:
                    values = [op.results[0]]
                name = self.stage_name(op, suffix)
                stages.append((name, kind, values, numbers[self.levels[name]]))
        writes = [v for v in self.kernel.get_return_op().arguments if v not in self.written_by_op]
        if writes:
            stages.append(("write", StageKind.WRITE, list(dict.fromkeys(writes)), None))


def plan_kernel(kernel: hls.KernelOp, choices: Choices, n_tile: int = 0,
                storage: list[tuple[str, Storage]] | None = None) -> KernelPlan:
    """The plan of ``kernel`` under ``choices`` (see module docstring), storage assigned."""
    rules = kernel_rules(kernel)
    choose_n_tiles(kernel, rules, choices, n_tile)
    plan = _Planner(kernel, rules, choices).run()
    assign_storage(plan.buffers, choices.target, storage or [], choices.pes * choices.lanes * lane_luts(
        multipliers(kernel), choices.target))
    return plan


def storage_by_size(spec: Spec, target: Target) -> Storage:
    bits = spec.bank_bits
    if bits <= target.registers_max_bits:
        return Storage.REGISTERS
    if bits <= target.lutram_max_bits:
        return Storage.LUTRAM
    if bits >= target.uram_min_bits:
        return Storage.URAM
    return Storage.BRAM


def spec_cost(spec: Spec, storage: Storage, target: Target) -> int:
    return bank_cost(storage, spec.depth, spec.word_bits, target) * spec.banks * spec.copies


def assign_storage(specs: list[Spec], target: Target, overrides: list[tuple[str, Storage]], pe_luts: int) -> None:
    """Storage of every buffer: fixed, overridden (first matching glob), or by size and then balanced."""
    movable: list[Spec] = []
    for spec in specs:
        override = next((s for pattern, s in overrides if fnmatch.fnmatchcase(spec.name, pattern)), None)
        if override is not None:
            spec.storage = override
        elif spec.storage is None:
            spec.storage = storage_by_size(spec, target)
            movable.append(spec)

    def used(kind: Storage) -> int:
        return sum(spec_cost(s, kind, target) for s in specs if s.storage == kind)

    have = {Storage.BRAM: target.brams, Storage.URAM: target.urams, Storage.LUTRAM: target.luts - pe_luts}
    for source, dest in ((Storage.BRAM, Storage.URAM), (Storage.URAM, Storage.BRAM), (Storage.LUTRAM, Storage.BRAM)):
        candidates = sorted((s for s in movable if s.storage == source),
                            key=lambda s: (-spec_cost(s, source, target), s.name))
        for spec in candidates:
            if used(source) <= have[source]:
                break
            if used(dest) + spec_cost(spec, dest, target) <= have[dest]:
                spec.storage = dest


def parse_storage(option: str) -> list[tuple[str, Storage]]:
    """``"fc1.w=uram,*.x=bram"`` as (glob, storage) pairs; FpqcError for a malformed entry."""
    pairs = []
    for entry in filter(None, (e.strip() for e in option.split(","))):
        pattern, sep, kind = entry.partition("=")
        if not sep or not pattern or kind not in tuple(Storage):
            raise FpqcError(
                f"tile: storage entry '{entry}' is not <buffer name or glob>=<{'|'.join(Storage)}>"
            )
        pairs.append((pattern, Storage(kind)))
    return pairs


__all__ = [
    "KernelPlan",
    "assign_storage",
    "choose_n_tiles",
    "kernel_macs",
    "kernel_rules",
    "parse_storage",
    "plan_kernel",
]
