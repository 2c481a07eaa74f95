"""Derive VAR's per-scale step program from its teacher-forcing graph: ``step-program``.

A VAR is exported as its teacher-forcing forward: all ``L`` tokens of all
scales at once, attention under a block-causal mask.  Generation runs the
scales one after another; step k only needs the ``n_k`` new tokens of scale k
and the keys and values of the scales before it.  This pass keeps ``@main``
(teacher forcing, for evaluation and calibration) and adds one function per
scale, ``@step_0`` ... ``@step_<K-1>``, that computes exactly the rows
``[b_k, b_(k+1))`` of ``@main`` with a KV cache as explicit state.

Every value of ``@main`` whose axis 1 runs over the token positions (the
token input, the positional tables, and everything computed row by row from
them) is cut to the rows of scale k.  What does not depend on the tokens (the
class embedding, the AdaLN vectors of every block) moves into ``@prologue``,
run once per generation: its results are arguments of every step
(``fpq.prologue = N``).  Each ``fpq.attention`` becomes an
``fpq.cached_attention`` that writes the new keys and values into that
block's cache at ``offset = b_k`` (an ``arith.constant`` operand, so that the
kernels of all scales are one) and attends to the cache's rows
``[0, b_(k+1))`` -- the keys the block-causal mask admits.  Since every
row-wise op computes a row from that row alone and attention uses the same
arithmetic on the same keys, step k reproduces the rows of scale k of teacher
forcing bit for bit (:mod:`fpqc.numerics.attention`); only the float-level
``fpq.linear`` (BLAS, outside the contract) may differ in the last bits.

Before (scales 1 and 2: L = 5)::

    func.func @main(%label: tensor<2xi64>, %x: tensor<2x4x8xf32>) -> tensor<2x5x256xf32> {
      ...
      %t = onnx.Concat %sos, %emb {axis = 1 : i64} : ... -> tensor<2x5x64xf32>
      %qkv = fpq.linear %t, %w, %b {fpq.role = "mat_qkv"} : ... -> tensor<2x5x192xf32>
      %o = fpq.attention %qkv, %s {..., block_causal = array<i64: 0, 1, 5>} : ... -> tensor<2x5x64xf32>
      ...
    }

After, besides ``@main``::

    func.func @prologue(%label: tensor<2xi64>) -> (tensor<2x1x64xf32> {fpq.prologue = 0 : i64}, ...) {
      ... the class embedding, the AdaLN linears and splits ...
    }
    func.func @step_1(%x: tensor<2x4x8xf32>, %sos: tensor<2x1x64xf32> {fpq.prologue = 0 : i64}, ...,
                      %k0: tensor<2x5x64xf32> {fpq.kv_cache = "k0"}, %v0: ... {fpq.kv_cache = "v0"})
        -> (tensor<2x4x256xf32>, tensor<2x5x64xf32>, tensor<2x5x64xf32>) {
      ...
      %qkv = fpq.linear %emb, %w, %b {fpq.role = "mat_qkv"} : ... -> tensor<2x4x192xf32>
      %offset = arith.constant 1 : i64
      %o, %k1, %v1 = fpq.cached_attention %qkv, %s, cache(%k0, %v0), %offset {...} : ...
      ...
      func.return %logits, %k1, %v1 : ...
    }

With a low-bit KV cache (``kv_quant``) each block's cache is four arguments,
the codes and the scales of the keys, then of the values
(``fpq.kv_cache = "k0"``, ``"k0.scales"``, ``"v0"``, ``"v0.scales"``).

A positional table is cut with ``onnx.Slice`` of the constant; the token input
of step k holds the ``n_k`` rows of scale k (``@main``'s input rows
``[b_k − b_1, b_(k+1) − b_1)``; step 0 has none).  An op that mixes the tokens
of different scales (a per-tensor activation scale, a reshape across the
token axis) cannot be cut per scale: the pass stops naming it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects import arith, func
from xdsl.dialects.builtin import (
    ArrayAttr,
    DenseIntOrFPElementsAttr,
    DictionaryAttr,
    FunctionType,
    IntegerAttr,
    ModuleOp,
    StringAttr,
    TensorType,
    i64,
)
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter
from xdsl.transforms.dead_code_elimination import region_dce

from fpqc.analysis.var_blocks import describe
from fpqc.dialects import fpq, onnx
from fpqc.errors import FpqcError
from fpqc.passes.constants import CONSTANT_OPS

KV_CACHE_ATTR = "fpq.kv_cache"
"""Argument and result attribute naming the KV cache a step function reads or returns."""

PROLOGUE_ATTR = "fpq.prologue"
"""Argument attribute of a step function (and result attribute of ``@prologue``): the prologue's result N."""

PROLOGUE = "prologue"
STEP_PREFIX = "step_"

Rows = tuple[int, int]
"""A range ``[start, stop)`` of token positions."""


def step_name(index: int) -> str:
    return f"{STEP_PREFIX}{index}"


def prologue_function(module: ModuleOp) -> func.FuncOp | None:
    """``@prologue``: what every step needs that does not depend on the tokens (None before this pass)."""
    return next((op for op in module.ops if isinstance(op, func.FuncOp) and op.sym_name.data == PROLOGUE), None)


def step_functions(module: ModuleOp) -> list[func.FuncOp]:
    """The ``@step_<k>`` functions of ``module``, in scale order (empty before this pass)."""
    steps = {
        op.sym_name.data: op
        for op in module.ops
        if isinstance(op, func.FuncOp) and op.sym_name.data.startswith(STEP_PREFIX)
    }
    return [steps[step_name(k)] for k in range(len(steps))]


def _shape(value: SSAValue) -> tuple[int, ...]:
    return tuple(value.type.get_shape()) if isinstance(value.type, TensorType) else ()


def _cache_types(op: fpq.AttentionOp, shape: list[int]) -> list[TensorType]:
    """The types a block's key (or value) cache ``[B, L, C]`` is stored in (:func:`fpq.kv_cache_types`)."""
    stored = fpq.kv_cache_types(op.kv_quant, op.num_heads.value.data, shape)
    if stored is None:
        raise FpqcError(
            f"step-program: {op.name}'s KV cache is quantized per tensor, but a cache holds the rows of "
            "several steps, each with its own scales; quantize it per token (kv-quantize)"
        )
    return stored


@functools.lru_cache(maxsize=4096)  # a step copies thousands of ops of a few dozen types; a type is built once
def _with_rows(t: TensorType, n: int) -> TensorType:
    shape = list(t.get_shape())
    shape[1] = n
    return TensorType(t.get_element_type(), shape)


def _mixes_tokens(op: Operation) -> FpqcError:
    return FpqcError(
        f"step-program: {describe(op)} mixes the tokens of different scales (its results do not keep "
        "the token axis), so VAR's per-scale step cannot be derived; quantize activations per token or "
        "per group, not per tensor"
    )


def _row_ranges(main: func.FuncOp, length: int, first: int) -> dict[SSAValue, Rows]:
    """The token positions covered by each value of ``main`` that has a token axis (axis 1)."""
    ranges: dict[SSAValue, Rows] = {}
    for arg in main.args:
        shape = _shape(arg)
        if len(shape) >= 2 and shape[1] in (length, length - first):
            ranges[arg] = (length - shape[1], length)
    for op in main.body.block.ops:
        if isinstance(op, CONSTANT_OPS):
            shape = _shape(op.results[0])
            if len(shape) >= 2 and shape[1] == length and not _is_weight(op.results[0]):
                ranges[op.results[0]] = (0, length)
            continue
        operand_rows = [ranges[v] for v in op.operands if v in ranges]
        if not operand_rows:
            continue
        if isinstance(op, onnx.ConcatOp) and op.axis.value.data in (1, -len(_shape(op.result))):
            ranges[op.result] = _concat_rows(op, ranges)
            continue
        rows = operand_rows[0]
        if any(r != rows for r in operand_rows):
            raise _mixes_tokens(op)
        for result in op.results:
            shape = _shape(result)
            if len(shape) < 2 or shape[1] != rows[1] - rows[0]:
                raise _mixes_tokens(op)
            ranges[result] = rows
    return ranges


def _concat_rows(op: onnx.ConcatOp, ranges: dict[SSAValue, Rows]) -> Rows:
    """The positions of a concatenation along the token axis, fixed by its pieces that have them.

    A piece without a token axis of its own (VAR's start-of-sequence row) takes
    the positions next to its neighbours.
    """
    sizes = [_shape(v)[1] for v in op.inputs]
    offsets = np.cumsum([0, *sizes])
    starts = {int(ranges[v][0] - offsets[i]) for i, v in enumerate(op.inputs) if v in ranges}
    if len(starts) != 1 or any(
        ranges[v] != (next(iter(starts)) + offsets[i], next(iter(starts)) + offsets[i + 1])
        for i, v in enumerate(op.inputs) if v in ranges
    ):
        raise _mixes_tokens(op)
    (start,) = starts
    return (start, start + int(offsets[-1]))


def _is_weight(value: SSAValue) -> bool:
    """Whether ``value`` is the weight operand of a linear layer (never cut per scale)."""
    return any(
        isinstance(use.operation, fpq.LinearOp | fpq.QLinearOp | fpq.DualQLinearOp | fpq.EmbeddingOp)
        and use.index != (1 if isinstance(use.operation, fpq.EmbeddingOp) else 0)
        for use in value.uses
    )


def _i64_constant(values: list[int]) -> onnx.ConstantOp:
    return onnx.ConstantOp(DenseIntOrFPElementsAttr.from_list(TensorType(i64, [len(values)]), values))


def _is_row_side(op: Operation, ranges: dict[SSAValue, Rows]) -> bool:
    """Whether ``op`` runs in the step functions: it touches token rows (or is attention or the return)."""
    return (
        isinstance(op, fpq.AttentionOp | func.ReturnOp)
        or any(v in ranges for v in op.operands)
        or any(r in ranges for r in op.results)
    )


def _prologue_values(main: func.FuncOp, ranges: dict[SSAValue, Rows]) -> list[SSAValue]:
    """Values computed without the tokens that the step functions read: the prologue's results."""
    out = []
    for op in main.body.block.ops:
        if isinstance(op, CONSTANT_OPS) or _is_row_side(op, ranges):
            continue
        for result in op.results:
            if any(_is_row_side(use.operation, ranges) for use in result.uses):
                out.append(result)
    return out


def _build_prologue(main: func.FuncOp, ranges: dict[SSAValue, Rows], values: list[SSAValue]) -> func.FuncOp:
    """``@prologue(<main's token-free inputs>) -> values``, the token-free part of ``main``."""
    names = main.arg_attrs.data if main.arg_attrs is not None else [DictionaryAttr({})] * len(main.args)
    args = [(arg, attrs) for arg, attrs in zip(main.args, names) if arg not in ranges]
    block = Block(arg_types=[arg.type for arg, _ in args])
    mapping: dict[SSAValue, SSAValue] = {arg: new for (arg, _), new in zip(args, block.args)}
    for op in main.body.block.ops:
        if _is_row_side(op, ranges):
            continue
        copy = op.clone(value_mapper=mapping)
        block.add_op(copy)
        for old, new in zip(op.results, copy.results):
            mapping[old] = new
    block.add_op(func.ReturnOp(*(mapping[v] for v in values)))
    prologue = func.FuncOp(
        PROLOGUE,
        FunctionType.from_lists(block.arg_types, [v.type for v in values]),
        Region(block),
        arg_attrs=ArrayAttr([attrs for _, attrs in args]),
    )
    prologue.res_attrs = ArrayAttr([DictionaryAttr({PROLOGUE_ATTR: IntegerAttr(i, i64)}) for i in range(len(values))])
    region_dce(prologue.body)
    return prologue


@dataclass
class _StepBuilder:
    """Builds ``@step_<index>`` for the rows ``[begin, end)`` of ``main``."""

    main: func.FuncOp
    ranges: dict[SSAValue, Rows]
    prologue: list[SSAValue]
    index: int
    begin: int
    end: int

    def _cut(self, rows: Rows) -> Rows | None:
        """The part of ``rows`` inside this scale, relative to ``rows``' start; None when empty."""
        lo, hi = max(rows[0], self.begin), min(rows[1], self.end)
        return (lo - rows[0], hi - rows[0]) if lo < hi else None

    def build(self) -> func.FuncOp:
        main = self.main
        n = self.end - self.begin
        arg_types, arg_attrs = [], []
        names = main.arg_attrs.data if main.arg_attrs is not None else [DictionaryAttr({})] * len(main.args)
        kept_args = []
        for arg, attrs in zip(main.args, names):
            if arg not in self.ranges and not any(_is_row_side(u.operation, self.ranges) for u in arg.uses):
                continue  # read by the prologue only
            if arg in self.ranges:
                cut = self._cut(self.ranges[arg])
                if cut is None:
                    continue
                if cut[1] - cut[0] != n:
                    raise FpqcError(f"step-program: input {arg.name_hint or '%arg'} covers only part of scale {self.index}")
                arg_types.append(_with_rows(arg.type, n))
            else:
                arg_types.append(arg.type)
            arg_attrs.append(attrs)
            kept_args.append(arg)
        for i, value in enumerate(self.prologue):
            arg_types.append(value.type)
            arg_attrs.append(DictionaryAttr({PROLOGUE_ATTR: IntegerAttr(i, i64)}))
        attentions = [op for op in main.body.block.ops if isinstance(op, fpq.AttentionOp)]
        cache_types = []
        state_count: dict[fpq.AttentionOp, int] = {}  # each attention's cache arguments
        for i, op in enumerate(attentions):
            b, length, c3 = _shape(op.qkv)
            cache = _cache_types(op, [b, length, c3 // 3])
            state_count[op] = 2 * len(cache)
            for kind in ("k", "v"):
                for type, suffix in zip(cache, ("", ".scales")):
                    cache_types.append(type)
                    arg_attrs.append(DictionaryAttr({KV_CACHE_ATTR: StringAttr(f"{kind}{i}{suffix}")}))
        block = Block(arg_types=[*arg_types, *cache_types])
        values: dict[SSAValue, SSAValue | None] = dict(zip([*kept_args, *self.prologue], block.args))
        for arg in main.args:
            values.setdefault(arg, None)
        caches = list(block.args[len(arg_types):])
        new_caches: list[SSAValue] = []

        for op in main.body.block.ops:
            if isinstance(op, func.ReturnOp):
                outputs = [values[v] for v in op.arguments]
                if any(v is None for v in outputs):
                    raise FpqcError(f"step-program: an output of @main has no rows in scale {self.index}")
                block.add_op(func.ReturnOp(*outputs, *new_caches))
                break
            if isinstance(op, fpq.AttentionOp):
                qkv = values[op.qkv]
                assert qkv is not None
                count = state_count[op]
                offset = arith.ConstantOp(IntegerAttr(self.begin, i64))
                step = fpq.CachedAttentionOp(
                    qkv, values[op.q_scale], caches[len(new_caches):len(new_caches) + count], offset.result,
                    op.num_heads.value.data, op.eps.value.data, op.kv_quant, op.kv_scope,
                )
                block.add_op(offset)
                block.add_op(step)
                values[op.result] = step.result
                new_caches += list(step.new_caches)
                continue
            if op.results and op.results[0] in self.ranges and isinstance(op, CONSTANT_OPS):
                self._cut_constant(op, block, values)
                continue
            if isinstance(op, onnx.ConcatOp) and op.result in self.ranges:
                self._cut_concat(op, block, values)
                continue
            if not isinstance(op, CONSTANT_OPS) and not _is_row_side(op, self.ranges):
                continue  # computed once by the prologue
            self._copy(op, block, values)

        step = func.FuncOp(
            step_name(self.index),
            FunctionType.from_lists(block.arg_types, [v.type for v in block.last_op.operands]),
            Region(block),
            arg_attrs=ArrayAttr(arg_attrs),
        )
        out_attrs = list(main.res_attrs.data) if main.res_attrs is not None else [
            DictionaryAttr({}) for _ in main.function_type.outputs.data
        ]
        out_attrs += [attrs for attrs in arg_attrs if KV_CACHE_ATTR in attrs.data]
        step.res_attrs = ArrayAttr(out_attrs)
        return step

    def _slice(self, value: SSAValue, cut: Rows, block: Block) -> SSAValue:
        """``value[:, cut[0]:cut[1]]`` by an ``onnx.Slice`` added to ``block``."""
        if cut == (0, _shape(value)[1]):
            return value
        starts, ends, axes = _i64_constant([cut[0]]), _i64_constant([cut[1]]), _i64_constant([1])
        for c in (starts, ends, axes):
            block.add_op(c)
        sliced = onnx.SliceOp.make([value, starts.result, ends.result, axes.result])
        block.add_op(sliced)
        return sliced.results[0]

    def _cut_constant(self, op: Operation, block: Block, values: dict) -> None:
        result = op.results[0]
        cut = self._cut(self.ranges[result])
        if cut is None:
            values[result] = None
            return
        copy = op.clone()
        block.add_op(copy)
        values[result] = self._slice(copy.results[0], cut, block)

    def _cut_concat(self, op: onnx.ConcatOp, block: Block, values: dict) -> None:
        start = self.ranges[op.result][0]
        pieces = []
        for piece in op.inputs:
            size = _shape(piece)[1]
            cut = self._cut((start, start + size))
            start += size
            if cut is None:
                continue
            # A piece with a token axis of its own is cut already; the others are cut here.
            pieces.append(values[piece] if piece in self.ranges else self._slice(values[piece], cut, block))
        if len(pieces) == 1:
            values[op.result] = pieces[0]
            return
        concat = onnx.ConcatOp.make(pieces, dict(op.properties))
        block.add_op(concat)
        values[op.result] = concat.results[0]

    def _copy(self, op: Operation, block: Block, values: dict) -> None:
        operands = [values[v] for v in op.operands]
        if any(v is None for v in operands):
            for result in op.results:
                values[result] = None
            return
        rows = self.end - self.begin
        result_types = [
            _with_rows(r.type, rows) if r in self.ranges else r.type for r in op.results
        ]
        copy = type(op).create(
            operands=operands,
            result_types=result_types,
            properties=dict(op.properties),
            attributes=dict(op.attributes),
        )
        copy.location = op.location
        block.add_op(copy)
        for old, new in zip(op.results, copy.results):
            new.name_hint = old.name_hint
            values[old] = new


@dataclass(frozen=True)
class StepProgramPass(ModulePass):
    """Add VAR's prologue and per-scale step functions with KV caches (see module docstring)."""

    name = "step-program"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        main = next(
            (f for f in op.ops if isinstance(f, func.FuncOp) and f.sym_name.data == "main"), None
        )
        if main is None or step_functions(op):
            return
        attentions = [a for a in main.body.block.ops if isinstance(a, fpq.AttentionOp)]
        if not attentions:
            return
        bounds = {a.boundaries() for a in attentions}
        if len(bounds) != 1 or None in bounds:
            raise FpqcError(
                "step-program: the attention layers do not share one block-causal mask, so the graph "
                "has no scales to step through"
            )
        (boundaries,) = bounds
        ranges = _row_ranges(main, boundaries[-1], boundaries[1])
        prologue = _prologue_values(main, ranges)
        rewriter = Rewriter()
        rewriter.insert_op(_build_prologue(main, ranges, prologue), InsertPoint.after(main))
        where = InsertPoint.after(prologue_function(op))
        for k, (begin, end) in enumerate(zip(boundaries, boundaries[1:])):
            step = _StepBuilder(main, ranges, prologue, k, begin, end).build()
            region_dce(step.body)
            rewriter.insert_op(step, where)
            where = InsertPoint.after(step)
