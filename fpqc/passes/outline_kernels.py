"""Outline the accelerator's work into ``hls.kernel`` functions: ``outline-kernels{target=vck190}``.

Quantized ops the HLS library implements (``fpq.quantize``, ``fpq.qlinear``,
``fpq.gelu``, ``fpq.dequantize`` and FPQVAR's ``fpq.hadamard``,
``fpq.dual_quantize``, ``fpq.dual_qlinear``) are grouped into regions, each
region becomes an ``hls.kernel`` (named ``kernel_0``, ``kernel_1``, ... in order of
their first op), and its place in the function is taken by an ``hls.call``.
Everything else stays in the function and runs on the host.  Values a region
uses but does not define -- function arguments, host results and
``fpq.constant`` weights, scales and biases -- become kernel arguments; values
it defines that are used outside become kernel results.  Kernels carry the
target's name and its accelerator ``lanes`` (from ``fpqc/targets/<target>.toml``).

Regions are found on a networkx view of each function's dataflow graph.
Every op gets a *host level*: the largest number of host ops (ops other than
accelerator ops and constants) on any path reaching it.  A region is a
connected component of accelerator ops joined by dataflow edges whose two ends
have the same host level.  The level never decreases along a path and grows
after each host op, so no path leaves a region and comes back: outlining never
creates a cycle between a kernel and the host.  The function is then
re-ordered in a topological order of the contracted graph (ties broken by the
original position), so the result is deterministic.

Identical kernels are then merged (``dedupe=true``, the default): kernels
whose bodies have the same ops, attributes, dataflow, shapes and formats (and
the same target and lanes) are one function, and every ``hls.call`` of a
duplicate launches the first one instead -- with its own weight buffers as
arguments.  The four quantized linears of a transformer block, repeated over
16 blocks, become a handful of kernels launched 64 times.  The remaining
kernels are numbered ``kernel_0``, ``kernel_1``, ... in order of first
appearance.  The FPQVAR ops join their neighbours like any accelerator op:
the group-wise Hadamard transform of a ``mat_qkv`` or ``fc1`` input runs in
the kernel of its quantizer and linear layer (the FPGA's Walsh-Hadamard unit
feeding the quantizer), and ``fc2``'s dual-format quantizer in the kernel of
its dual linear layer (with ``fc1`` and the GELU before it when nothing runs
on the host in between).  A Hadamard transform's random ``signs`` are a
constant like a weight: a kernel argument, so blocks with different signs
still share one kernel.

Before::

    func.func @main(%x: tensor<8x128xf32>) -> tensor<8x64xf32> {
      %wc = fpq.constant dense_resource<fc.w> : tensor<64x128xui8> -> tensor<64x128x!fpq.float<e2m1>>
      %ws = fpq.constant dense_resource<fc.s> : tensor<64x1xf32>
      %c, %s = fpq.quantize %x {quant = #fpq.quant<e2m1, token>} : ...
      %y = fpq.qlinear %c, %s, %wc, %ws {...} : (...) -> tensor<8x64xf32>
      %g = fpq.gelu %y : tensor<8x64xf32>
      func.return %g : tensor<8x64xf32>
    }

After::

    hls.kernel @kernel_0(%x: tensor<8x128xf32>, %wc: tensor<64x128x!fpq.float<e2m1>>,
                         %ws: tensor<64x1xf32>) -> tensor<8x64xf32>
        attributes {target = "vck190", lanes = 16 : i64} {
      %c, %s = fpq.quantize %x {quant = #fpq.quant<e2m1, token>} : ...
      %y = fpq.qlinear %c, %s, %wc, %ws {...} : (...) -> tensor<8x64xf32>
      %g = fpq.gelu %y : tensor<8x64xf32>
      hls.return %g : tensor<8x64xf32>
    }
    func.func @main(%x: tensor<8x128xf32>) -> tensor<8x64xf32> {
      %wc = fpq.constant ...
      %ws = fpq.constant ...
      %g = hls.call @kernel_0(%x, %wc, %ws) : (...) -> tensor<8x64xf32>
      func.return %g : tensor<8x64xf32>
    }
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import networkx as nx
from xdsl.context import Context
from xdsl.dialects import arith, func
from xdsl.dialects.builtin import (
    ArrayAttr,
    DenseResourceAttr,
    DictionaryAttr,
    FunctionType,
    IntegerAttr,
    ModuleOp,
    StringAttr,
    SymbolRefAttr,
    TensorType,
    i64,
)
from xdsl.ir import Attribute, Block, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter
from xdsl.rewriter import InsertPoint

from fpqc.analysis.dataflow import dataflow_graph
from fpqc.dialects import fpq, hls
from fpqc.dialects.operand_names import operand_names
from fpqc.targets import Target, load_target

ACCELERATOR_OPS: tuple[type[Operation], ...] = (
    fpq.QuantizeOp,
    fpq.QLinearOp,
    fpq.GeluOp,
    fpq.DequantizeOp,
    fpq.HadamardOp,
    fpq.DualQuantizeOp,
    fpq.DualQLinearOp,
    fpq.LayerNormOp,
    fpq.ModulateOp,
    fpq.ResidualOp,
    fpq.CachedAttentionOp,
)

CONSTANT_OPS: tuple[type[Operation], ...] = (fpq.ConstantOp, arith.ConstantOp)
"""Ops whose values become kernel arguments: weights, and scalars such as a KV-cache offset."""


def _first_layer_role(norm: fpq.LayerNormOp) -> str | None:
    """The ``fpq.role`` of the first linear layer a layer norm's output reaches."""
    frontier = [norm.result]
    while frontier:
        value = frontier.pop()
        for use in value.uses:
            role = fpq.role_of(use.operation)
            if role is not None:
                return role
            frontier.extend(use.operation.results)
    return None


def _is_block_output(op: Operation) -> bool:
    """A transformer block's output: a gated residual that feeds a layer norm whose first linear
    layer is not an FFN's ``fc1`` (the next block's attention, or the head)."""
    return isinstance(op, fpq.ResidualOp) and any(
        isinstance(use.operation, fpq.LayerNormOp) and _first_layer_role(use.operation) != "fc1"
        for use in op.result.uses
    )


def accelerator_regions(ops: list[Operation]) -> list[list[int]]:
    """The regions to outline, as sorted lists of positions in ``ops``, ordered by first position."""
    graph = dataflow_graph(ops)
    position = {op: i for i, op in enumerate(ops)}
    accel = {op for op in ops if isinstance(op, ACCELERATOR_OPS)}
    is_host = {op: op not in accel and not isinstance(op, CONSTANT_OPS) for op in ops}
    level: dict[Operation, int] = {}
    for node in nx.topological_sort(graph):
        level[node] = max(
            (level[p] + int(is_host[p]) for p in graph.predecessors(node)), default=0
        )
    joined = nx.Graph()
    joined.add_nodes_from(accel)
    block_outputs = {op for op in accel if _is_block_output(op)}
    joined.add_edges_from(
        (p, q)
        for p, q in graph.edges()
        if p in accel and q in accel and level[p] == level[q] and p not in block_outputs
    )
    return sorted(
        (sorted(position[op] for op in c) for c in nx.connected_components(joined)), key=lambda c: c[0]
    )


@dataclass(frozen=True)
class OutlineKernelsPass(ModulePass):
    """Outline accelerator regions into ``hls.kernel``s launched by ``hls.call``."""

    name = "outline-kernels"

    target: str = "vck190"
    dedupe: bool = True
    function_prefix: str = ""
    """Outline only the functions whose name starts with this (``step_``: the step program)."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        target = load_target(self.target)
        taken = {k.sym_name.data for k in op.ops if isinstance(k, hls.KernelOp)}
        counter = (i for i in itertools.count() if f"kernel_{i}" not in taken)
        rewriter = PatternRewriter(InsertPoint.at_end(op.body.block))
        new: list[hls.KernelOp] = []
        for function in [
            f for f in op.ops
            if isinstance(f, func.FuncOp) and not f.is_declaration and f.sym_name.data.startswith(self.function_prefix)
        ]:
            new += _outline_function(function, target, counter, rewriter)
        if self.dedupe and new:
            _dedupe_kernels(op, new, taken, rewriter)


def _type_key(t: Attribute, rows_free: bool) -> Attribute | tuple:
    """A type as a dictionary key; with ``rows_free``, axis 1 of a ranked tensor (the token rows) is left out."""
    if rows_free and isinstance(t, TensorType) and len(t.get_shape()) >= 2:
        shape = t.get_shape()
        return (shape[:1], shape[2:], t.get_element_type())
    return t


def _tensor_types(kernel: hls.KernelOp) -> list[Attribute]:
    """Every type of a kernel in a fixed order: arguments, results, then each body op's results."""
    types = [*kernel.function_type.inputs.data, *kernel.function_type.outputs.data]
    types += [r.type for op in kernel.body.block.ops for r in op.results]
    return types


def kernel_signature(kernel: hls.KernelOp, rows_free: bool = False) -> tuple:
    """A key equal for two kernels exactly when their bodies compute the same function.

    It covers the function type, the hardware parameters and, op by op, the
    name, properties, attributes, operands (as argument numbers or earlier
    results) and result types -- everything but symbol and value names.  With
    ``rows_free`` the extent of every tensor's axis 1 is left out: kernels
    equal but for their number of token rows (the same block at different
    scales) have equal signatures.  A hardware plan (``hls.plan``, written
    later by the ``tile`` pass) is left out: it follows from the rest.
    """
    refs: dict[SSAValue, tuple[int, int]] = {arg: (-1, i) for i, arg in enumerate(kernel.args)}
    function = kernel.function_type
    parts: list[tuple] = [
        tuple(_type_key(t, rows_free) for t in (*function.inputs.data, *function.outputs.data)),
        (kernel.target.data, kernel.lanes.value.data),
    ]
    for index, body_op in enumerate(kernel.body.block.ops):
        if isinstance(body_op, hls.PlanOp):
            continue
        for j, result in enumerate(body_op.results):
            refs[result] = (index, j)
        parts.append((
            body_op.name,
            tuple(refs[v] for v in body_op.operands),
            tuple(sorted(body_op.properties.items())),
            tuple(sorted(body_op.attributes.items())),
            tuple(_type_key(r.type, rows_free) for r in body_op.results),
        ))
    return tuple(parts)


def _row_counts(kernels: list[hls.KernelOp]) -> list[int] | None:
    """Each kernel's number of token rows, when ``kernels`` (equal but for axis 1) differ only in it.

    The axis-1 extents that vary between the kernels must vary together (one
    row count per kernel); those that do not vary (a ``[B, 1, C]`` vector, a
    KV cache of all L rows) are not rows.  None when they do not.
    """
    extents = [
        [t.get_shape()[1] for t in _tensor_types(k) if isinstance(t, TensorType) and len(t.get_shape()) >= 2]
        for k in kernels
    ]
    varying = [column for column in zip(*extents) if len(set(column)) > 1]
    if not varying or any(column != varying[0] for column in varying):
        return None
    return list(varying[0])


def _name_arguments_by_role(kernel: hls.KernelOp) -> None:
    """Name a shared kernel's arguments after their first use (``input``, ``weight_codes``, ``bias``, ...),
    not after one launch's values."""
    ops = list(kernel.body.block.ops)
    taken: set[str] = set()
    for i, arg in enumerate(kernel.args):
        use = min(arg.uses, key=lambda u: (ops.index(u.operation), u.index), default=None)
        names = operand_names(use.operation) if use else []
        base = names[min(use.index, len(names) - 1)] if names and not isinstance(use.operation, hls.ReturnOp) else f"in{i}"
        name, n = base, 1
        while name in taken:
            name, n = f"{base}_{n}", n + 1
        taken.add(name)
        arg.name_hint = name


def _dedupe_kernels(
    module: ModuleOp, new: list[hls.KernelOp], taken: set[str], rewriter: PatternRewriter
) -> None:
    """Merge identical kernels among ``new``, then kernels that differ only in their number of
    token rows into the one with the most rows (``max_rows``); renumber the survivors in order."""
    first: dict[tuple, hls.KernelOp] = {}
    rename: dict[str, hls.KernelOp] = {}
    for kernel in new:
        rename[kernel.sym_name.data] = first.setdefault(kernel_signature(kernel), kernel)
    families: dict[tuple, list[hls.KernelOp]] = {}
    for kernel in first.values():
        families.setdefault(kernel_signature(kernel, rows_free=True), []).append(kernel)
    for family in families.values():
        rows = _row_counts(family) if len(family) > 1 else None
        if rows is None:
            continue
        largest = family[rows.index(max(rows))]
        largest.max_rows = IntegerAttr(max(rows), i64)
        for name, target in rename.items():
            if target in family:
                rename[name] = largest
    survivors = [k for k in first.values() if k in rename.values()]
    counter = (i for i in itertools.count() if f"kernel_{i}" not in taken)
    final = {id(k): f"kernel_{next(counter)}" for k in survivors}
    for call in [c for c in module.walk() if isinstance(c, hls.CallOp)]:
        target = rename.get(call.callee.string_value())
        if target is not None:
            call.callee = SymbolRefAttr(final[id(target)])
            rewriter.notify_op_modified(call)
    for kernel in new:
        if kernel not in survivors:
            rewriter.erase(kernel)
    shared = {target for target in rename.values() if list(rename.values()).count(target) > 1}
    for kernel in survivors:
        kernel.sym_name = StringAttr(final[id(kernel)])
        if kernel in shared:
            _name_arguments_by_role(kernel)
        rewriter.notify_op_modified(kernel)


def _outline_function(
    function: func.FuncOp, target: Target, counter: Iterator[int], rewriter: PatternRewriter
) -> list[hls.KernelOp]:
    """Outline the regions of ``function``; return the new kernels in order."""
    block = function.body.block
    terminator = block.last_op
    assert terminator is not None
    ops = [o for o in block.ops if o is not terminator]
    regions = accelerator_regions(ops)
    if not regions:
        return []

    region_of = {i: r for r, members in enumerate(regions) for i in members}
    contracted = nx.DiGraph()
    key = {op: ("kernel", region_of[i]) if i in region_of else ("op", i) for i, op in enumerate(ops)}
    first: dict[tuple[str, int], int] = {}
    for i, op in enumerate(ops):
        contracted.add_node(key[op])
        first.setdefault(key[op], i)
    contracted.add_edges_from((key[p], key[q]) for p, q in dataflow_graph(ops).edges() if key[p] != key[q])
    order = list(nx.lexicographical_topological_sort(contracted, key=lambda n: first[n]))

    calls: dict[int, hls.CallOp] = {}
    kernels: list[hls.KernelOp] = []
    for r, members in enumerate(regions):
        calls[r], kernel = _outline_region(
            function, [ops[i] for i in members], f"kernel_{next(counter)}", target, rewriter
        )
        kernels.append(kernel)
    for node in order:
        moved = calls[node[1]] if node[0] == "kernel" else ops[node[1]]
        moved.detach()
        rewriter.insert(moved, InsertPoint.before(terminator))
    return kernels


def _port_hint(value: SSAValue) -> str | None:
    """A name for the kernel argument that ``value`` becomes: its own name, the weight it holds,
    or the ONNX name of the model input it is."""
    if value.name_hint:
        return value.name_hint
    owner = value.owner
    if isinstance(owner, fpq.ConstantOp) and isinstance(owner.value, DenseResourceAttr):
        return owner.value.resource_handle.data.replace(".", "_")
    if isinstance(owner, Block) and isinstance(owner.parent_op(), func.FuncOp):
        function = owner.parent_op()
        if function.arg_attrs is not None:
            name = function.arg_attrs.data[value.index].data.get("onnx.name")
            if isinstance(name, StringAttr):
                return name.data
    return None


def _updated_argument(result: SSAValue, inputs: list[SSAValue]) -> int | None:
    """The kernel argument that ``result`` updates in place: a KV cache written by ``fpq.cached_attention``."""
    op = result.owner
    if isinstance(op, fpq.CachedAttentionOp):
        cache = op.updated_cache(result)
        if cache is not None and cache in inputs:
            return inputs.index(cache)
    return None


def _outline_region(
    function: func.FuncOp, region_ops: list[Operation], name: str, target: Target, rewriter: PatternRewriter
) -> tuple[hls.CallOp, hls.KernelOp]:
    """Move ``region_ops`` into a new kernel before ``function``; return its (unplaced) call."""
    members = set(region_ops)
    inputs: list[SSAValue] = []
    for op in region_ops:
        for operand in op.operands:
            if operand.owner not in members and operand not in inputs:
                inputs.append(operand)
    outputs = [
        result
        for op in region_ops
        for result in op.results
        if any(use.operation not in members for use in result.uses)
    ]

    body = hls.new_kernel_body([v.type for v in inputs])
    mapping: dict[SSAValue, SSAValue] = dict(zip(inputs, body.block.args))
    for value, arg in zip(inputs, body.block.args):
        arg.name_hint = _port_hint(value)
    for op in region_ops:
        body.block.add_op(op.clone(value_mapper=mapping))
    body.block.add_op(hls.ReturnOp(*(mapping[v] for v in outputs)))
    kernel = hls.KernelOp(
        name,
        FunctionType.from_lists([v.type for v in inputs], [v.type for v in outputs]),
        body,
        target.name,
        target.lanes,
    )
    updates = [_updated_argument(v, inputs) for v in outputs]
    if any(i is not None for i in updates):
        kernel.res_attrs = ArrayAttr([
            DictionaryAttr({} if i is None else {hls.UPDATES_ATTR: IntegerAttr(i, i64)}) for i in updates
        ])
    rewriter.insert(kernel, InsertPoint.before(function))

    call = hls.CallOp(name, inputs, [v.type for v in outputs])
    rewriter.insert(call, InsertPoint.before(region_ops[0]))
    for old, new in zip(outputs, call.res):
        new.name_hint = old.name_hint
        rewriter.replace_uses_with_if(old, new, lambda use: use.operation not in members)
    for op in reversed(region_ops):
        rewriter.erase(op)
    return call, kernel
