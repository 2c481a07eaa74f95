"""Remove ``onnx`` ops that compute nothing: ``canonicalize-onnx``.

Applies :data:`~fpqc.passes.canonicalization.onnx.ONNX_CANONICALIZATION_PATTERNS`
until none matches: a ``Cast``, ``Identity`` or ``Expand`` to the operand's
own type, a ``Reshape`` to the operand's own shape, a ``Slice`` that takes
every element in order, a ``Transpose`` by the identity permutation, two
``Transpose``\\ s that undo each other, a ``Reshape`` of a ``Reshape`` (one
``Reshape`` of the first operand), ``Reshape → Transpose → Reshape`` that
only permutes axes (one ``Transpose``), and ``x + 0``, ``x - 0``, ``x · 1``
and ``x / 1`` with a constant zero or one that keeps x's type (adding a zero
turns ``-0.0`` into ``+0.0``; the pattern's docstring says why fpqc drops it
all the same).  This is the one place such ops go: the importer keeps one
op per ONNX node (it only folds constants and aliases ``Identity``), and
``raise-onnx-to-fpq`` runs this pass first, so its patterns never see these
ops.  Ops left without users are erased.

Before::

    %c = onnx.Cast %x {to = 1 : i64} : (tensor<2x3xf32>) -> tensor<2x3xf32>
    %t = onnx.Transpose %c {perm = [1, 0]} : (tensor<2x3xf32>) -> tensor<3x2xf32>
    %u = onnx.Transpose %t {perm = [1, 0]} : (tensor<3x2xf32>) -> tensor<2x3xf32>
    %y = onnx.Mul %u, %one : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
    %z = onnx.Add %zero, %y : (tensor<f32>, tensor<2x3xf32>) -> tensor<2x3xf32>
    func.return %z : tensor<2x3xf32>

After::

    func.return %x : tensor<2x3xf32>
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import GreedyRewritePatternApplier, PatternRewriteWalker

from fpqc.passes.canonicalization.onnx import ONNX_CANONICALIZATION_PATTERNS


@dataclass(frozen=True)
class CanonicalizeOnnxPass(ModulePass):
    """Remove ``onnx`` ops that compute nothing (see module docstring)."""

    name = "canonicalize-onnx"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(GreedyRewritePatternApplier(list(ONNX_CANONICALIZATION_PATTERNS))).rewrite_module(op)
