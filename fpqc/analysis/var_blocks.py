"""Find the VAR transformer blocks in raised IR, on a networkx view of it.

After ``raise-onnx-to-fpq`` a VAR block is this dataflow (``S`` the block's
AdaLN split, ``x`` the block input)::

    silu → linear(ada_lin) → split S
    x → layernorm → modulate(·, S, S) → linear(mat_qkv) → attention → linear(proj)
      → residual(x, ·, S) = x1
    x1 → layernorm → modulate(·, S, S) → linear(fc1) → gelu → linear(fc2)
       → residual(x1, ·, S)

:func:`recognise_blocks` takes every attention site — an ``fpq.attention``, or
an ``onnx.Softmax`` that raising did not turn into one — as one block, in
program order, and checks that the whole block is present around it.  It
reports the blocks found, the first piece missing in each block that is not
(naming the ONNX node when the op still has its ``loc``), linear layers left as
``onnx.MatMul``/``onnx.Gemm`` with a constant weight, and the ops still in the
``onnx`` dialect (``onnx.Constant`` aside: data, not computation)::

    report = recognise_blocks(module)
    print(report.summary())
    # recognised 15 of 16 transformer blocks; ops not raised: onnx.Softmax ×1, ...
    report.gaps[0]
    # "block 3 of 16: the attention around ONNX node '/blocks.3/attn/Softmax' (onnx.Softmax) was not raised ..."

A graph *looks like a VAR* when it has AdaLN-modulated layer norms
(``fpq.modulate``) or VAR's block-causal mask on an attention; then gaps mean
that part of the model would stay in float or unrecognised.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import networkx as nx
from xdsl.dialects.builtin import NameLoc, ModuleOp
from xdsl.ir import Operation

from fpqc.analysis.dataflow import dataflow_graph
from fpqc.dialects import fpq, onnx


EXPECTED_ATTENTION = (
    "softmax(q̂·k̂ᵀ + mask)·v with q̂, k̂ the L2-normalised q and k of one packed mat_qkv output "
    "and a constant per-head scale on q̂"
)


def describe(op: Operation) -> str:
    """``ONNX node 'name' (op)`` for an op that kept its ONNX name as its ``loc``, else the op's name."""
    if isinstance(op.location, NameLoc):
        return f"ONNX node '{op.location.desc.data}' ({op.name})"
    return op.name


@dataclass(frozen=True)
class BlockReport:
    """Transformer blocks found among the attention sites, what is missing, and the ops left in onnx."""

    blocks: int
    sites: int = 0
    looks_like_var: bool = False
    gaps: list[str] = field(default_factory=list)
    unraised: dict[str, int] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """Every attention site is a whole block and no linear layer stayed in onnx."""
        return not self.gaps

    def summary(self) -> str:
        ops = ", ".join(f"{name} ×{count}" for name, count in self.unraised.items()) or "none"
        noun = "block" if self.sites == 1 else "blocks"
        return f"recognised {self.blocks} of {self.sites} transformer {noun}; ops not raised: {ops}"


class _Block:
    """Matching one block around an attention op (see the module docstring)."""

    def __init__(self, graph: nx.MultiDiGraph):
        self.graph = graph

    def operand_owner(self, op: Operation, index: int) -> Operation | None:
        owner = op.operands[index].owner
        return owner if isinstance(owner, Operation) and owner in self.graph else None

    def producer(self, op: Operation, index: int, kind: type[Operation]) -> Operation | None:
        owner = self.operand_owner(op, index)
        return owner if isinstance(owner, kind) else None

    def users(self, op: Operation, kind: type[Operation], index: int | None = None) -> list[Operation]:
        return [
            user
            for _, user, key in self.graph.out_edges(op, keys=True)
            if isinstance(user, kind) and (index is None or key == index)
        ]

    def single_user(self, op: Operation, kind: type[Operation], index: int | None = None) -> Operation | None:
        users = self.users(op, kind, index)
        return users[0] if len(users) == 1 else None

    def found_instead(self, op: Operation, index: int | None = None) -> str:
        """What is there instead of the expected op: the producer of operand ``index``, or ``op``'s users."""
        if index is not None:
            owner = self.operand_owner(op, index)
            return f"found {describe(owner)}" if owner is not None else "found a graph input"
        users = [user for _, user in self.graph.out_edges(op)]
        if not users:
            return "found no user"
        return "found " + ", ".join(describe(user) for user in users[:3])

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

    def mismatch(self, attention: fpq.AttentionOp) -> str | None:
        """None when the whole block is present around ``attention``, else the first piece missing."""
        qkv = self.producer(attention, 0, fpq.LinearOp)
        if qkv is None:
            return f"no fpq.linear (mat_qkv) feeds the attention; {self.found_instead(attention, 0)}"
        modulate1 = self.producer(qkv, 0, fpq.ModulateOp)
        split = modulate1.operands[1].owner if modulate1 else None
        if not isinstance(split, fpq.SplitOp):
            return f"mat_qkv does not read an AdaLN-modulated layer norm; {self.found_instead(qkv, 0)}"
        ada_lin = self.producer(split, 0, fpq.LinearOp)
        if ada_lin is None or self.producer(ada_lin, 0, fpq.SiluOp) is None:
            return f"the AdaLN split is not fed by linear(silu(cond)) (ada_lin); {self.found_instead(split, 0)}"
        norm1 = self.modulated_norm(modulate1, split)
        if norm1 is None:
            return f"the modulation does not apply the AdaLN scale and shift to a layer norm; {self.found_instead(modulate1, 0)}"
        proj = self.single_user(attention, fpq.LinearOp, index=0)
        if proj is None:
            return f"the attention output does not feed one fpq.linear (proj); {self.found_instead(attention)}"
        residual1 = self.residual(proj, norm1.input, split)
        if residual1 is None:
            return f"proj does not feed a gated residual (x + proj·gamma1); {self.found_instead(proj)}"
        norm2 = self.single_user(residual1, fpq.LayerNormOp)
        modulate2 = self.single_user(norm2, fpq.ModulateOp, index=0) if norm2 else None
        if norm2 is None or self.modulated_norm(modulate2, split) is not norm2:
            return f"the first residual does not feed an AdaLN-modulated layer norm; {self.found_instead(residual1)}"
        fc1 = self.single_user(modulate2, fpq.LinearOp, index=0)
        if fc1 is None:
            return f"the second modulation does not feed one fpq.linear (fc1); {self.found_instead(modulate2)}"
        gelu = self.single_user(fc1, fpq.GeluOp)
        if gelu is None:
            return f"fc1 does not feed fpq.gelu; {self.found_instead(fc1)}"
        fc2 = self.single_user(gelu, fpq.LinearOp, index=0)
        if fc2 is None:
            return f"the GELU does not feed one fpq.linear (fc2); {self.found_instead(gelu)}"
        if self.residual(fc2, residual1.result, split) is None:
            return f"fc2 does not feed a gated residual (x1 + fc2·gamma2); {self.found_instead(fc2)}"
        return None


def _is_constant(op: Operation | None) -> bool:
    return isinstance(op, (onnx.ConstantOp, fpq.ConstantOp))


def _unraised_linear(op: Operation) -> bool:
    """An ``onnx.MatMul``/``onnx.Gemm`` multiplying by a constant 2-D weight: a linear layer left in onnx."""
    if not isinstance(op, (onnx.MatMulOp, onnx.GemmOp)):
        return False
    b = op.operands[1]
    return _is_constant(b.owner) and len(b.type.get_shape()) == 2


def recognise_blocks(module: ModuleOp) -> BlockReport:
    """Count complete VAR blocks, describe the gaps and list the ops not raised (see the module docstring)."""
    ops = [op for op in module.walk() if op.parent_block() is not None and not isinstance(op, ModuleOp)]
    graph = dataflow_graph(ops)
    matcher = _Block(graph)
    sites = [op for op in ops if isinstance(op, (fpq.AttentionOp, onnx.SoftmaxOp))]
    blocks, gaps = 0, []
    for index, site in enumerate(sites):
        where = f"block {index} of {len(sites)}"
        if isinstance(site, onnx.SoftmaxOp):
            gaps.append(f"{where}: the attention around {describe(site)} was not raised to fpq.attention; "
                        f"fpqc expects {EXPECTED_ATTENTION}")
        elif (reason := matcher.mismatch(site)) is not None:
            gaps.append(f"{where}: {reason}")
        else:
            blocks += 1
    gaps += [
        f"{describe(op)} multiplies by a constant weight {list(op.operands[1].type.get_shape())} but was not "
        "raised to fpq.linear, so this linear layer would stay in float"
        for op in ops
        if _unraised_linear(op)
    ]
    looks_like_var = any(
        isinstance(op, fpq.ModulateOp) or (isinstance(op, fpq.AttentionOp) and op.block_causal is not None)
        for op in ops
    )
    counts = Counter(op.name for op in ops if op.dialect_name() == "onnx" and not isinstance(op, onnx.ConstantOp))
    unraised = dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
    return BlockReport(blocks, len(sites), looks_like_var, gaps, unraised)
