"""VAR's training-time class dropout, recognised in the ONNX graph so that import can remove it."""

from __future__ import annotations

from xdsl.dialects.builtin import ModuleOp

from fpqc.frontend.onnx_import import onnx_messages as onnx
from fpqc.frontend.onnx_import.loading import DEFAULT_DOMAINS

REMOVED_ATTR = "onnx.class_dropout_removed"
"""Unit attribute on the imported module when the import removed a class dropout."""

REMOVED_NOTE = (
    "the graph's class dropout (Where(RandomUniformLike < p, null class, label)) was removed: fpqc keeps the "
    "label, the inference semantics; onnxruntime runs it and replaces a label by the null class with "
    "probability p, so its logits differ from fpqc's on those draws"
)


def removed_class_dropout(module: ModuleOp) -> bool:
    """Whether importing ``module`` removed a class dropout (see :data:`REMOVED_NOTE`)."""
    return REMOVED_ATTR in module.attributes


def class_dropout_aliases(graph: onnx.GraphProto) -> dict[str, str]:
    """Fold the training-time class dropout: ``{Where output: label}`` for every match.

    The released VAR replaces each label by the null class with probability
    ``p`` during training::

        label = torch.where(torch.rand(B) < p, num_classes, label)

    which both torch exporters write as ::

        r = RandomUniformLike(...)          # or any RandomUniformLike chain
        c = Less(r, p)                      # or Greater(p, r); p a constant
        y = Where(c, null_class, label)     # null_class a constant

    At inference the dropout never fires, so ``y`` is ``label``: the Where's
    uses are redirected to ``label`` and dead-code elimination removes the
    random numbers.  A Where whose condition is anything else is kept.
    """
    producers = {name: node for node in graph.node for name in node.output if name}
    constants = {init.name for init in graph.initializer}
    constants |= {n.output[0] for n in graph.node if n.op_type == "Constant" and n.domain in DEFAULT_DOMAINS}

    def random(name: str) -> bool:
        node = producers.get(name)
        return node is not None and node.op_type == "RandomUniformLike" and node.domain in DEFAULT_DOMAINS

    aliases: dict[str, str] = {}
    for node in graph.node:
        if node.op_type != "Where" or node.domain not in DEFAULT_DOMAINS or len(node.input) != 3:
            continue
        condition, null_class, label = node.input
        compare = producers.get(condition)
        if compare is None or compare.domain not in DEFAULT_DOMAINS or null_class not in constants:
            continue
        if compare.op_type == "Less":
            noise, threshold = compare.input
        elif compare.op_type == "Greater":
            threshold, noise = compare.input
        else:
            continue
        if random(noise) and threshold in constants:
            aliases[node.output[0]] = label
    return aliases

