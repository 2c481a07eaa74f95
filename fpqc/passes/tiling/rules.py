"""The ``tile`` pass's rule for each op kind that may run in a kernel.

A rule says how an op reads each operand (:class:`Read`), its loop nest, its
dataflow stages, the buffers and streams it needs of its own, and in which
order its results come out.  The rules an FPGA engineer would use:

- a **linear layer** (``fpq.qlinear``, ``fpq.dual_qlinear``) runs on the
  kernel's PE array, which its linear layers share one after another: its
  weights (codes, scales, bias) stream from DDR in tiles of ``[n_tile,
  k_tile]`` (``k_tile`` = K unless chosen) into the PE array's weight tile
  buffers (``pe.w``, ``pe.ws``, ``pe.b``, shared by the layers), each tile
  reused for every row of the row tile -- with the default row tile, all
  rows of the launch, so the weights are read once per launch -- and double
  buffered so the next tile loads while this one computes: the load stage
  streams the weight codes' port words to ``lut_multiply`` and the scales and
  biases to ``combine``, which move the next tile into the free copy while
  they work on this one.  Its activation codes and scales are kept whole on
  chip (every weight tile reads all of them): the layer starts a new
  DATAFLOW region.  ``n`` is spread over the PEs and ``k`` over the lanes;
  the pipeline is ``lut_multiply`` (the LUT products of each PE's lanes,
  their adder tree and the exact integer sum of each group in an accumulator
  register per PE: one beat of group sums per group) ``→ combine`` (fp32, one
  running total per PE in registers).  Results come out a column tile
  (``n_tile`` outputs of every row) at a time;
- **row-wise ops** read a row ``granule`` elements at a time, ``lanes``
  elements per cycle: ``fpq.quantize``/``fpq.dual_quantize`` a scale group
  (a whole row per token), ``fpq.hadamard`` a transform block,
  ``fpq.layernorm`` a whole row, the element-wise ops (``fpq.gelu``,
  ``fpq.dequantize``, ``fpq.modulate``, ``fpq.residual``) one element; the
  granule goes through a double-buffered scratch buffer.  Per-sample vectors
  (modulation, gates, Hadamard signs) are kept whole;
- **attention against a KV cache** (``fpq.cached_attention``) keeps the
  ``q`` third of its input whole on chip (all new rows attend to every new
  key), writes the new keys (normalised through a head-row buffer) and
  values into the cache in DDR, then -- in a region of its own, once per
  launch, after every row tile's keys are written -- per batch and head
  streams that head's keys and values back from DDR (``load_kv``) into tiles
  of ``kv_tile`` cache rows (double buffered: the next head's move in while
  this one's are read; by default one tile holds all L rows, reused by every
  new row), with a score row buffer of L entries and a query and a context
  row in registers.  ``attention_units`` heads are attended at once, each on
  a unit of its own with its own K/V tiles, score row, query and context
  (``heads H by u on units``; the tiles and score rows are banked by unit).
  With a 6-bit KV cache of FPQVAR's scope (``cached``), ``load_kv`` also
  quantizes the new rows in the cache after streaming them out as they are
  (through the head-row buffer).  Its result, a head at a time per sample,
  is kept whole for all rows of the launch.

An op that needs all rows of a launch at once (attention; a quantizer with one
scale per tensor) *spans the launch*: its region runs once per launch, not per
row tile.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
import math
from dataclasses import dataclass, field
from enum import Enum

from xdsl.dialects.builtin import Float32Type, IntegerType, TensorType
from xdsl.ir import Attribute, Operation, SSAValue

from fpqc.analysis.plan_fit import linear_multipliers
from fpqc.dialects import fpq
from fpqc.dialects.hls import BufferKind, LoopAttr, StageKind, Storage, element_bits
from fpqc.targets import Target

F32 = Float32Type()


class How(Enum):
    """How an op reads an operand."""

    WHOLE = "whole"
    """All rows of the row tile, again and again: kept whole on chip."""
    WEIGHT = "weight"
    """Streamed from DDR in tiles (weights, weight scales, biases)."""
    PARAM = "param"
    """A small per-sample vector broadcast over the rows: kept whole on chip."""
    CACHE = "cache"
    """A KV cache in DDR: the op reads it in tiles itself."""
    QKV = "qkv"
    """Attention's packed input: ``q`` kept whole, ``k`` and ``v`` written to the cache."""
    ROWS = "rows"
    """Row by row, ``granule`` consecutive elements at a time: can be streamed."""


@dataclass(frozen=True)
class Read:
    how: How
    granule: int = 1
    pack: bool = True
    """Whether a buffer of the operand packs ``lanes`` elements in a word (data), or one (scales)."""


@dataclass
class Choices:
    """The kernel-wide choices the rules work with."""

    target: Target
    pes: int
    lanes: int
    row_tile: int
    """Rows per row tile; 0: all rows of the launch."""
    k_tile: int = 0
    kv_tile: int = 0
    attention_units: int = 1
    """Heads an attention works on at once, one attention unit each."""
    n_tiles: dict[Operation, int] = field(default_factory=dict)
    """Chosen ``n_tile`` of each linear layer."""


@dataclass
class Spec:
    """A buffer before its storage is chosen (``storage`` set: fixed)."""

    name: str
    kind: BufferKind
    value: SSAValue
    shape: tuple[int, ...]
    element: Attribute
    banks: int = 1
    pack: int = 1
    copies: int = 1
    storage: Storage | None = None
    more: list[SSAValue] = field(default_factory=list)
    """Further values a shared ``tile`` buffer holds tiles of."""

    @property
    def values(self) -> list[SSAValue]:
        return [self.value, *self.more]

    @property
    def elements(self) -> int:
        return math.prod(self.shape)

    @property
    def bits(self) -> int:
        return self.elements * element_bits(self.element) * self.copies

    @property
    def word_bits(self) -> int:
        return self.pack * element_bits(self.element)

    @property
    def depth(self) -> int:
        return self.elements // (self.banks * self.pack)

    @property
    def bank_bits(self) -> int:
        """Bits of one bank of one copy."""
        return self.bits // (self.copies * self.banks)


@dataclass
class StreamSpec:
    name: str
    value: SSAValue
    source: str
    dest: str
    width: int
    depth: int
    columns: int = 0
    """Columns per column tile of a stream of rows; 0: row after row."""


Order = tuple[str, int]
"""How a value comes out: ``("rows", 0)`` row after row, ``("columns", w)`` ``w`` columns of every row at a time."""
ROW_ORDER: Order = ("rows", 0)


def compatible(order: Order, granule: int) -> bool:
    """Whether a reader of ``granule`` consecutive elements can take a value coming in ``order``."""
    return order[0] == "rows" or order[1] % granule == 0


def shape(value: SSAValue) -> tuple[int, ...]:
    t = value.type
    assert isinstance(t, TensorType)
    return tuple(t.get_shape())


def rows_of(value: SSAValue) -> int:
    return math.prod(shape(value)[:-1])


def floor_pow2(n: int) -> int:
    return 1 << (max(n, 1).bit_length() - 1)


def loop(dim: str, extent: int, tile: int, parallel: str = "") -> LoopAttr:
    return LoopAttr.get(dim, extent, max(1, min(tile, extent)), parallel)


def tensor(shape_: tuple[int, ...], element: Attribute) -> TensorType:
    return TensorType(element, shape_)


class Rule(ABC):
    """The rule of one op kind; see the module docstring."""

    ops: tuple[type[Operation], ...] = ()
    stage_kind: StageKind = StageKind.ELEMENTWISE

    @abstractmethod
    def reads(self, op: Operation) -> list[Read]:
        """How the op reads each operand."""

    def rows(self, op: Operation) -> int:
        """Rows of the op: the leading dimensions of its activation operand."""
        return rows_of(op.operands[0])

    def row_tile(self, op: Operation, choices: Choices) -> int:
        rows = self.rows(op)
        return min(choices.row_tile or rows, rows)

    def stages(self, op: Operation) -> list[tuple[str, StageKind]]:
        """(suffix, kind) of each stage, in order; a suffix of ``""`` names the stage by the op."""
        return [("", self.stage_kind)]

    @abstractmethod
    def loops(self, op: Operation, choices: Choices) -> list[LoopAttr]:
        """The op's loop nest, outermost first."""

    def scratch(self, op: Operation, choices: Choices, label: str) -> list[Spec]:
        return []

    def tiles(self, op: Operation, choices: Choices, label: str) -> list[Spec]:
        """Buffers of the operands the op streams from DDR in tiles (WEIGHT and CACHE reads)."""
        return []

    def weight_stage(self, op: Operation, index: int) -> str:
        """The suffix of the stage that reads operand ``index`` (a WEIGHT read) from the load stage."""
        return self.stages(op)[0][0]

    def spans_launch(self, op: Operation) -> bool:
        """Whether the op needs all rows of a launch at once (its region runs once per launch)."""
        return False

    def streams(self, op: Operation, choices: Choices, label: str) -> list[StreamSpec]:
        """Streams between the op's own stages."""
        return []

    def order(self, op: Operation, choices: Choices, input_order: Order) -> Order:
        return input_order

    def beat(self, op: Operation, choices: Choices) -> int:
        """Elements of a result per stream beat: ``lanes``, or fewer when they do not divide a row."""
        return math.gcd(choices.lanes, shape(op.results[0])[-1])

    def macs(self, op: Operation) -> int:
        """Multiply-accumulates of the PE array per launch."""
        return 0


class RowwiseRule(Rule):
    """An op reading its input row by row, ``granule`` elements at a time."""

    scratch_name = ""

    def granule(self, op: Operation) -> int:
        return 1

    def reads(self, op: Operation) -> list[Read]:
        return [Read(How.ROWS, self.granule(op))] + [Read(How.ROWS) for _ in op.operands[1:]]

    def loops(self, op: Operation, choices: Choices) -> list[LoopAttr]:
        c = shape(op.operands[0])[-1]
        granule = self.granule(op) if self.scratch_name else math.gcd(choices.lanes, c)
        return [loop("rows", self.rows(op), self.row_tile(op, choices)), loop("c", c, granule, "lanes")]

    def scratch(self, op: Operation, choices: Choices, label: str) -> list[Spec]:
        if not self.scratch_name:
            return []
        g = self.granule(op)
        return [Spec(f"{label}.{self.scratch_name}", BufferKind.SCRATCH, op.results[0], (g,), F32,
                     pack=math.gcd(choices.lanes, g), copies=2)]


class QuantizeRule(RowwiseRule):
    ops = (fpq.QuantizeOp, fpq.DualQuantizeOp)
    stage_kind = StageKind.QUANTIZE
    scratch_name = "group"

    def quant(self, op: Operation) -> fpq.QuantAttr:
        return op.quant if isinstance(op, fpq.QuantizeOp) else op.neg_quant

    def granule(self, op: Operation) -> int:
        c = shape(op.operands[0])[-1]
        return self.quant(op).group_size_for(c) or c

    def reads(self, op: Operation) -> list[Read]:
        if self.quant(op).group_size_for(1) is None:  # one scale per tensor: every element first
            return [Read(How.WHOLE)]
        return [Read(How.ROWS, self.granule(op))]

    def scratch(self, op: Operation, choices: Choices, label: str) -> list[Spec]:
        return super().scratch(op, choices, label) if self.reads(op)[0].how == How.ROWS else []

    def spans_launch(self, op: Operation) -> bool:
        return self.reads(op)[0].how == How.WHOLE


class DequantizeRule(RowwiseRule):
    ops = (fpq.DequantizeOp,)

    def granule(self, op: Operation) -> int:
        c = shape(op.operands[0])[-1]
        return op.quant.group_size_for(c) or c

    def reads(self, op: Operation) -> list[Read]:
        return [Read(How.ROWS, self.granule(op)), Read(How.ROWS, pack=False)]


class HadamardRule(RowwiseRule):
    ops = (fpq.HadamardOp,)
    stage_kind = StageKind.TRANSFORM
    scratch_name = "block"

    def granule(self, op: Operation) -> int:
        return op.block.value.data

    def reads(self, op: Operation) -> list[Read]:
        return [Read(How.ROWS, self.granule(op))] + [Read(How.PARAM) for _ in op.operands[1:]]


class LayerNormRule(RowwiseRule):
    ops = (fpq.LayerNormOp,)
    stage_kind = StageKind.NORMALIZE
    scratch_name = "row"

    def granule(self, op: Operation) -> int:
        return shape(op.operands[0])[-1]

    def order(self, op: Operation, choices: Choices, input_order: Order) -> Order:
        return ROW_ORDER


class ElementwiseRule(RowwiseRule):
    """``fpq.gelu``; ``fpq.modulate`` and ``fpq.residual`` with their per-sample vectors kept whole."""

    ops = (fpq.GeluOp, fpq.ModulateOp, fpq.ResidualOp)

    def reads(self, op: Operation) -> list[Read]:
        if isinstance(op, fpq.ModulateOp):
            return [Read(How.ROWS), Read(How.PARAM), Read(How.PARAM)]
        if isinstance(op, fpq.ResidualOp):
            return [Read(How.ROWS), Read(How.ROWS), Read(How.PARAM)]
        return [Read(How.ROWS)]


class LinearRule(Rule):
    """``fpq.qlinear`` and ``fpq.dual_qlinear`` on the PE array."""

    ops = (fpq.QLinearOp, fpq.DualQLinearOp)

    @staticmethod
    def planes(op: Operation) -> int:
        return 2 if isinstance(op, fpq.DualQLinearOp) else 1

    @staticmethod
    def dims(op: Operation) -> tuple[int, int, int]:
        """(rows, N, K)."""
        n, k = shape(op.weight_codes)
        return rows_of(op.operands[0]), n, k

    def reads(self, op: Operation) -> list[Read]:
        planes = self.planes(op)
        acts = [Read(How.WHOLE)] * planes + [Read(How.WHOLE, pack=False)] * planes
        return acts + [Read(How.WEIGHT)] * (len(op.operands) - 2 * planes)

    def stages(self, op: Operation) -> list[tuple[str, StageKind]]:
        return [("mul", StageKind.LUT_MULTIPLY), ("combine", StageKind.COMBINE)]

    def weight_stage(self, op: Operation, index: int) -> str:
        """The codes go to the LUT multipliers, the scales and biases to the combination."""
        return "mul" if op.operands[index] is op.weight_codes else "combine"

    def k_tile(self, op: Operation, choices: Choices) -> int:
        k = self.dims(op)[2]
        return min(choices.k_tile or k, k)

    def loops(self, op: Operation, choices: Choices) -> list[LoopAttr]:
        rows, n, k = self.dims(op)
        return [
            loop("rows", rows, self.row_tile(op, choices)),
            loop("n", n, choices.n_tiles[op], "pes"),
            loop("k", k, self.k_tile(op, choices), "lanes"),
        ]

    def accumulator_bits(self, op: Operation) -> int:
        return max(m.accumulator_bits for m in linear_multipliers(op))

    def tiles(self, op: Operation, choices: Choices, label: str) -> list[Spec]:
        """Tiles in the PE array's weight buffers (the planner merges those of the kernel's layers)."""
        label = "pe"
        nt, kt = choices.n_tiles[op], self.k_tile(op, choices)
        banks = math.gcd(choices.pes, nt)
        w_shape = shape(op.weight_codes)
        specs = [Spec(f"{label}.w", BufferKind.TILE, op.weight_codes, (nt, kt), op.weight_codes.type.get_element_type(),
                      banks=banks, pack=math.gcd(choices.lanes, kt), copies=2)]
        s_rows, groups = shape(op.weight_scales)
        group = op.w_quant.group_size_for(w_shape[1])
        s_cols = groups if group is None or group >= w_shape[1] else max(1, kt // group)
        s_rows = min(s_rows, nt)
        specs.append(Spec(f"{label}.ws", BufferKind.TILE, op.weight_scales, (s_rows, s_cols), F32,
                          banks=math.gcd(banks, s_rows), copies=2))
        if op.bias is not None:
            specs.append(Spec(f"{label}.b", BufferKind.TILE, op.bias, (nt,), F32, banks=banks, copies=2))
        return specs

    def scratch(self, op: Operation, choices: Choices, label: str) -> list[Spec]:
        planes, acc = self.planes(op), self.accumulator_bits(op)
        specs = [
            Spec(f"{label}.acc", BufferKind.SCRATCH, op.results[0], (planes * choices.pes,), IntegerType(acc),
                 storage=Storage.REGISTERS),
            Spec(f"{label}.total", BufferKind.SCRATCH, op.results[0], (choices.pes,), F32, storage=Storage.REGISTERS),
        ]
        k, kt = self.dims(op)[2], self.k_tile(op, choices)
        if kt < k:  # partial results of every row of the row tile carried across k tiles
            nt = choices.n_tiles[op]
            exact = op.combine_group_size() > kt  # a group spans k tiles: carry the exact sums
            element = IntegerType(acc) if exact else F32
            specs.append(Spec(f"{label}.partial", BufferKind.SCRATCH, op.results[0],
                              (self.row_tile(op, choices) * planes, nt), element, pack=math.gcd(choices.pes, nt)))
        return specs

    def streams(self, op: Operation, choices: Choices, label: str) -> list[StreamSpec]:
        p, planes = choices.pes, self.planes(op)
        depth = choices.target.stream_depth
        y = op.results[0]
        return [StreamSpec(f"{label}.sums", y, f"{label}.mul", f"{label}.combine", p * self.accumulator_bits(op) * planes,
                           depth)]

    def order(self, op: Operation, choices: Choices, input_order: Order) -> Order:
        n_tile = choices.n_tiles[op]
        return ROW_ORDER if n_tile == self.dims(op)[1] else ("columns", n_tile)

    def beat(self, op: Operation, choices: Choices) -> int:
        return min(choices.pes, choices.n_tiles[op])

    def macs(self, op: Operation) -> int:
        rows, n, k = self.dims(op)
        return rows * n * k * self.planes(op)


class AttentionRule(Rule):
    """``fpq.cached_attention``: see the module docstring."""

    ops = (fpq.CachedAttentionOp,)

    @staticmethod
    def dims(op: fpq.CachedAttentionOp) -> tuple[int, int, int, int, int]:
        """(B, n, heads, head dim D, cache rows L)."""
        b, n, c3 = shape(op.qkv)
        heads = op.num_heads.value.data
        return b, n, heads, c3 // 3 // heads, shape(op.k_cache)[1]

    def reads(self, op: Operation) -> list[Read]:
        return [Read(How.QKV), Read(How.PARAM, pack=False), *(Read(How.CACHE) for _ in op.caches)]

    def row_tile(self, op: Operation, choices: Choices) -> int:
        return self.rows(op)  # every new row attends to every new key: no row tiles

    def stages(self, op: Operation) -> list[tuple[str, StageKind]]:
        return [("store_kv", StageKind.WRITE), ("load_kv", StageKind.LOAD), ("attend", StageKind.ATTENTION)]

    def kv_tile(self, op: Operation, choices: Choices) -> int:
        cache_rows = self.dims(op)[4]
        return min(choices.kv_tile or cache_rows, cache_rows)

    def units(self, op: Operation, choices: Choices) -> int:
        return max(1, min(choices.attention_units, self.dims(op)[2]))

    def loops(self, op: Operation, choices: Choices) -> list[LoopAttr]:
        b, n, heads, d, cache_rows = self.dims(op)
        units = self.units(op, choices)
        return [
            loop("batch", b, 1),
            loop("heads", heads, units, "units" if units > 1 else ""),
            loop("rows", n, n),
            loop("keys", cache_rows, self.kv_tile(op, choices)),
            loop("d", d, d, "lanes"),
        ]

    def tiles(self, op: Operation, choices: Choices, label: str) -> list[Spec]:
        d, kt, units = self.dims(op)[3], self.kv_tile(op, choices), self.units(op, choices)
        return [
            Spec(f"{label}.{name}", BufferKind.TILE, value, (units * kt, d), F32, banks=units,
                 pack=math.gcd(choices.lanes, d), copies=2)
            for name, value in (("k", op.k_cache), ("v", op.v_cache))
        ]

    def scratch(self, op: Operation, choices: Choices, label: str) -> list[Spec]:
        d, cache_rows, units = self.dims(op)[3], self.dims(op)[4], self.units(op, choices)
        y = op.results[0]
        pack = math.gcd(choices.lanes, d)
        # The new key, normalised before it is stored; with a codes cache (fpqc_kv_codes.h) a key and a value
        # head row on their way to or from codes, and the launch's new keys and values, which attend in fp32
        # (or as quantized) from on chip.
        codes = op.kv_quant is not None
        specs = [
            Spec(f"{label}.scores", BufferKind.SCRATCH, y, (units * cache_rows,), F32, banks=units, copies=2),
            Spec(f"{label}.kv", BufferKind.SCRATCH, y, (2 if codes else 1, d), F32, pack=pack),
            Spec(f"{label}.query", BufferKind.SCRATCH, y, (units * d,), F32, storage=Storage.REGISTERS),
            Spec(f"{label}.context", BufferKind.SCRATCH, y, (units * d,), F32, storage=Storage.REGISTERS),
        ]
        if codes:
            b, n = self.dims(op)[:2]
            rows_shape = (b * n, shape(op.k_cache)[2])
            specs += [Spec(f"{label}.fresh_{name}", BufferKind.SCRATCH, y, rows_shape, F32, pack=pack) for name in "kv"]
        return specs

    def streams(self, op: Operation, choices: Choices, label: str) -> list[StreamSpec]:
        """The cached keys and values of one head after another, from ``load_kv`` to ``attend``."""
        beat = math.gcd(choices.lanes, self.dims(op)[3])
        return [
            StreamSpec(f"{label}.{name}", value, f"{label}.load_kv", f"{label}.attend", beat * 32,
                       choices.target.stream_depth)
            for name, value in (("keys", op.k_cache), ("values", op.v_cache))
        ]

    def spans_launch(self, op: Operation) -> bool:
        return True


RULES: tuple[Rule, ...] = (
    QuantizeRule(),
    DequantizeRule(),
    HadamardRule(),
    LayerNormRule(),
    ElementwiseRule(),
    LinearRule(),
    AttentionRule(),
)


def rule_for(op: Operation) -> Rule | None:
    return next((rule for rule in RULES if isinstance(op, rule.ops)), None)


def ruled_op_names() -> list[str]:
    return sorted(t.name for rule in RULES for t in rule.ops)
