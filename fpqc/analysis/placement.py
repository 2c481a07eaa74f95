"""Where each op of a generation runs, and its share of the work: :func:`placement`.

Walks the per-scale step program of an hls-level module (``@prologue``,
``@step_0`` ...; a module without one: ``@main``) once, as one generation of one
batch runs it:
an op inside an ``hls.kernel`` runs on the device, every other op on the host.
For every op kind and place it counts the executions, the multiply-accumulates
and the bytes the op reads and writes::

    linear layers      rows · K · N MACs        (fpq.linear, fpq.qlinear, fpq.dual_qlinear)
    attention          2 · B · H · n · m · D     (q·kᵀ and p·v over the m = offset + n cached keys)
    every op           bytes of its operands and results (codes at their bit width, f32 4 B)

A kernel typed for ``max_rows`` token rows runs a launch on the launch's rows:
its row tensors (axis 1 = ``max_rows``) count that many rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from xdsl.dialects import arith, func
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, TensorType
from xdsl.ir import Attribute, Operation

from fpqc.dialects import fpq, hls

HOST, DEVICE = "host", "device"


@dataclass
class OpWork:
    """The work of one op kind in one place over a generation."""

    op: str
    where: str
    count: int = 0
    macs: int = 0
    bytes: int = 0


@dataclass
class Placement:
    """Every op kind's :class:`OpWork`, and the device's share of the MACs and bytes."""

    ops: list[OpWork]

    def share(self, where: str, what: str) -> float:
        total = sum(getattr(o, what) for o in self.ops)
        part = sum(getattr(o, what) for o in self.ops if o.where == where)
        return part / total if total else 0.0

    def to_json(self) -> dict:
        return {
            "device_share": {"macs": self.share(DEVICE, "macs"), "bytes": self.share(DEVICE, "bytes")},
            "ops": [vars(o) for o in self.ops],
        }

    def describe(self) -> list[str]:
        lines = []
        for where in (DEVICE, HOST):
            ops = [o for o in self.ops if o.where == where]
            names = ", ".join(f"{o.op} x{o.count}" for o in ops) or "-"
            lines.append(f"{where:<6} {self.share(where, 'macs'):6.1%} of MACs, "
                         f"{self.share(where, 'bytes'):6.1%} of bytes: {names}")
        return lines


def _shape(t: Attribute, rows: tuple[int, int] | None) -> tuple[int, ...]:
    """``t``'s shape, with a row tensor's ``max_rows`` replaced by the launch's ``rows``."""
    shape = list(t.get_shape())
    if rows is not None and hls.is_row_shape(shape, rows[0]):
        shape[1] = rows[1]
    return tuple(shape)


def _bytes(t: Attribute, rows: tuple[int, int] | None) -> int:
    if not isinstance(t, TensorType):
        return 8
    return math.prod(_shape(t, rows)) * hls.element_bits(t.get_element_type()) // 8


def _macs(op: Operation, rows: tuple[int, int] | None, offset: int | None) -> int:
    if isinstance(op, fpq.LinearOp | fpq.QLinearOp | fpq.DualQLinearOp):
        weight = op.weight if isinstance(op, fpq.LinearOp) else op.weight_codes
        n, k = weight.type.get_shape()
        return math.prod(_shape(op.operands[0].type, rows)[:-1]) * k * n
    if isinstance(op, fpq.CachedAttentionOp):
        b, n, c3 = _shape(op.qkv.type, rows)
        keys = (offset or 0) + n
        return 2 * b * n * keys * (c3 // 3)
    if isinstance(op, fpq.AttentionOp):
        b, length, c3 = op.qkv.type.get_shape()
        return 2 * b * length * length * (c3 // 3)
    return 0


def _constant_int(value) -> int | None:
    owner = value.owner
    if isinstance(owner, arith.ConstantOp) and isinstance(owner.value, IntegerAttr):
        return owner.value.value.data
    return None


def placement(module: ModuleOp) -> Placement:
    """The work of one generation of one batch, by op kind and place (module docstring)."""
    functions = [
        f for f in module.ops
        if isinstance(f, func.FuncOp) and (f.sym_name.data.startswith("step_") or f.sym_name.data == "prologue")
    ]
    if not functions:
        functions = [f for f in module.ops if isinstance(f, func.FuncOp) and f.sym_name.data == "main"]
    kernels = {k.sym_name.data: k for k in module.ops if isinstance(k, hls.KernelOp)}
    work: dict[tuple[str, str], OpWork] = {}

    def count(op: Operation, where: str, rows: tuple[int, int] | None, offset: int | None) -> None:
        entry = work.setdefault((op.name, where), OpWork(op.name, where))
        entry.count += 1
        entry.macs += _macs(op, rows, offset)
        entry.bytes += sum(_bytes(v.type, rows) for v in (*op.operands, *op.results))

    for function in functions:
        for op in function.body.block.ops:
            if isinstance(op, func.ReturnOp | fpq.ConstantOp | arith.ConstantOp) or op.name == "onnx.Constant":
                continue
            if not isinstance(op, hls.CallOp):
                count(op, HOST, None, _constant_int(op.operands[4]) if isinstance(op, fpq.CachedAttentionOp) else None)
                continue
            kernel = kernels[op.callee.string_value()]
            max_rows = kernel.max_rows.value.data if kernel.max_rows is not None else None
            rows = (max_rows, hls.call_rows(kernel, op)) if max_rows is not None else None
            arguments = dict(zip(kernel.args, op.arguments))
            for inner in kernel.body.block.ops:
                if isinstance(inner, hls.PlanOp | hls.ReturnOp):
                    continue
                offset = None
                if isinstance(inner, fpq.CachedAttentionOp):
                    outer = arguments.get(inner.offset)
                    offset = _constant_int(outer) if outer is not None else None
                count(inner, DEVICE, rows, offset)
    return Placement(sorted(work.values(), key=lambda w: (w.where, -w.macs, w.op)))


__all__ = ["DEVICE", "HOST", "OpWork", "Placement", "placement"]
