"""Find the VAR transformer blocks in raised IR, on a networkx view of it.

After ``raise-onnx-to-fpq`` a VAR block is this dataflow (``S`` the block's
AdaLN split, ``x`` the block input)::

    silu → linear(ada_lin) → split S
    x → layernorm → modulate(·, S, S) → linear(mat_qkv) → attention → linear(proj)
      → residual(x, ·, S) = x1
    x1 → layernorm → modulate(·, S, S) → linear(fc1) → gelu → linear(fc2)
       → residual(x1, ·, S)

:func:`recognise_blocks` counts the ``fpq.attention`` ops around which the
whole of it is present, and lists the ops still in the ``onnx`` dialect
(``onnx.Constant`` aside: data, not computation)::

    report = recognise_blocks(module)
    print(report.summary())
    # recognised 16 transformer blocks; ops not raised: onnx.Add ×3, onnx.Concat ×1
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import networkx as nx
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation

from fpqc.analysis.dataflow import dataflow_graph
from fpqc.dialects import fpq, onnx


@dataclass(frozen=True)
class BlockReport:
    """Transformer blocks found, and the ops left in the onnx dialect by name."""

    blocks: int
    unraised: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        ops = ", ".join(f"{name} ×{count}" for name, count in self.unraised.items()) or "none"
        noun = "block" if self.blocks == 1 else "blocks"
        return f"recognised {self.blocks} transformer {noun}; ops not raised: {ops}"


class _Block:
    """Matching one block around an attention op (see the module docstring)."""

    def __init__(self, graph: nx.MultiDiGraph):
        self.graph = graph

    def producer(self, op: Operation, index: int, kind: type[Operation]) -> Operation | None:
        owner = op.operands[index].owner
        return owner if isinstance(owner, kind) and owner in self.graph else None

    def users(self, op: Operation, kind: type[Operation], index: int | None = None) -> list[Operation]:
        return [
            user
            for _, user, key in self.graph.out_edges(op, keys=True)
            if isinstance(user, kind) and (index is None or key == index)
        ]

    def single_user(self, op: Operation, kind: type[Operation], index: int | None = None) -> Operation | None:
        users = self.users(op, kind, index)
        return users[0] if len(users) == 1 else None

    def modulated_norm(self, modulate: Operation | None, split: Operation | None) -> Operation | None:
        """The layernorm under ``modulate``, whose scale and shift come from ``split``."""
        if modulate is None:
            return None
        if any(modulate.operands[i].owner is not split for i in (1, 2)):
            return None
        return self.producer(modulate, 0, fpq.LayerNormOp)

    def residual(self, branch: Operation | None, x, split: Operation) -> Operation | None:
        if branch is None:
            return None
        residual = self.single_user(branch, fpq.ResidualOp, index=1)
        if residual is None or residual.operands[0] != x or residual.operands[2].owner is not split:
            return None
        return residual

    def matches(self, attention: fpq.AttentionOp) -> bool:
        qkv = self.producer(attention, 0, fpq.LinearOp)
        modulate1 = self.producer(qkv, 0, fpq.ModulateOp) if qkv else None
        split = modulate1.operands[1].owner if modulate1 else None
        if not isinstance(split, fpq.SplitOp):
            return False
        ada_lin = self.producer(split, 0, fpq.LinearOp)
        if ada_lin is None or self.producer(ada_lin, 0, fpq.SiluOp) is None:
            return False
        norm1 = self.modulated_norm(modulate1, split)
        proj = self.single_user(attention, fpq.LinearOp, index=0)
        residual1 = self.residual(proj, norm1.input if norm1 else None, split)
        if norm1 is None or residual1 is None:
            return False
        norm2 = self.single_user(residual1, fpq.LayerNormOp)
        modulate2 = self.single_user(norm2, fpq.ModulateOp, index=0) if norm2 else None
        if self.modulated_norm(modulate2, split) is not norm2 or norm2 is None:
            return False
        fc1 = self.single_user(modulate2, fpq.LinearOp, index=0)
        gelu = self.single_user(fc1, fpq.GeluOp) if fc1 else None
        fc2 = self.single_user(gelu, fpq.LinearOp, index=0) if gelu else None
        return self.residual(fc2, residual1.result, split) is not None


def recognise_blocks(module: ModuleOp) -> BlockReport:
    """Count complete VAR blocks and list the ops not raised (see the module docstring)."""
    graph = dataflow_graph(
        [op for op in module.walk() if op.parent_block() is not None and not isinstance(op, ModuleOp)]
    )
    matcher = _Block(graph)
    blocks = sum(1 for op in graph if isinstance(op, fpq.AttentionOp) and matcher.matches(op))
    counts = Counter(
        op.name for op in graph if op.dialect_name() == "onnx" and not isinstance(op, onnx.ConstantOp)
    )
    unraised = dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
    return BlockReport(blocks, unraised)
