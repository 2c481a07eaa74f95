"""Readable names of a kernel's compute ops, as the hardware plan's buffers and stages use them."""

from __future__ import annotations

from xdsl.ir import Operation

from fpqc.dialects import fpq


def labels_of(ops: list[Operation]) -> dict[Operation, str]:
    """A readable name per op: its ``fpq.role`` when unique, else ``<kind><i>`` (``quantize0``)."""
    roles = [fpq.role_of(op) for op in ops]
    labels: dict[Operation, str] = {}
    counters: dict[str, int] = {}
    for op, role in zip(ops, roles):
        if role is not None and roles.count(role) == 1:
            labels[op] = role
            continue
        kind = op.name.partition(".")[2]
        labels[op] = f"{kind}{counters.get(kind, 0)}"
        counters[kind] = counters.get(kind, 0) + 1
    return labels


__all__ = ["labels_of"]
