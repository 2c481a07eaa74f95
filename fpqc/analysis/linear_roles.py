"""The VAR role of each ``fpq.linear`` (``fpq.role``), from the ops around it."""

from __future__ import annotations

from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.ir import BlockArgument, Operation, SSAValue

from fpqc.dialects import fpq, onnx


def _users(value: SSAValue) -> list[Operation]:
    return [use.operation for use in value.uses]


def linear_role(linear: fpq.LinearOp) -> str | None:
    """The VAR role of a linear layer, from the ops around it (None if none fits).

    ``mat_qkv`` feeds ``fpq.attention``; ``proj`` reads its output; ``fc1``
    feeds ``fpq.gelu``; ``fc2`` reads it; ``ada_lin`` feeds an ``fpq.split``
    whose chunks gate residuals, ``head_ada_lin`` one whose chunks do not;
    ``head`` reads a modulated layernorm; ``word_embed`` reads a model input
    and is concatenated after the start tokens (``onnx.Concat``).
    """
    users = _users(linear.result)
    source = linear.input.owner
    if any(isinstance(u, fpq.AttentionOp) and u.qkv == linear.result for u in users):
        return "mat_qkv"
    if isinstance(source, fpq.AttentionOp):
        return "proj"
    if any(isinstance(u, fpq.GeluOp) for u in users):
        return "fc1"
    if isinstance(source, fpq.GeluOp):
        return "fc2"
    splits = [u for u in users if isinstance(u, fpq.SplitOp)]
    if splits:
        gates = any(isinstance(u, fpq.ResidualOp) for s in splits for out in s.outputs for u in _users(out))
        return "ada_lin" if gates else "head_ada_lin"
    if isinstance(source, fpq.ModulateOp):
        return "head"
    if isinstance(linear.input, BlockArgument) and any(isinstance(u, onnx.ConcatOp) for u in users):
        return "word_embed"
    return None


def annotate_roles(module: ModuleOp) -> None:
    """Set ``fpq.role`` on every ``fpq.linear`` whose role :func:`linear_role` finds."""
    for op in module.walk():
        if isinstance(op, fpq.LinearOp) and (role := linear_role(op)) is not None:
            op.attributes[fpq.ROLE_ATTR] = StringAttr(role)
