"""Raise ONNX subgraphs to float-level ``fpq`` ops, recognising them by graph structure.

The pass first runs ``canonicalize-onnx`` (no-op casts, reshapes, transposes
and multiplications by one go away), then the patterns of
:mod:`fpqc.passes.raising` -- linear layers (``MatMul``/``Gemm`` with constant
weights), GELU, the embedding lookup, SiLU, LayerNorm, AdaLN's split,
modulation and gated residual, and VAR's attention -- matched by structure,
never by node names, then sets each ``fpq.linear``'s ``fpq.role``
(:func:`~fpqc.analysis.linear_roles.linear_role`).  Ops that match no pattern
stay in the ``onnx`` dialect (they run on the host).

Before::

    %w = onnx.Constant dense_resource<fc1.weight> : tensor<64x256xf32>
    %c = onnx.Cast %x {to = 1 : i64} : (tensor<8x64xf32>) -> tensor<8x64xf32>
    %h = onnx.MatMul %c, %w : (tensor<8x64xf32>, tensor<64x256xf32>) -> tensor<8x256xf32>
    %g = onnx.Gelu %h {approximate = "tanh"} : (tensor<8x256xf32>) -> tensor<8x256xf32>

After::

    %w = fpq.constant dense_resource<fc1.weight.T> : tensor<256x64xf32>
    %h = fpq.linear %x, %w {fpq.role = "fc1"} : (tensor<8x64xf32>, tensor<256x64xf32>) -> tensor<8x256xf32>
    %g = fpq.gelu %h : tensor<8x256xf32>
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import GreedyRewritePatternApplier, PatternRewriteWalker
from xdsl.transforms.dead_code_elimination import region_dce

from fpqc.analysis.linear_roles import annotate_roles
from fpqc.passes.canonicalize_onnx import CanonicalizeOnnxPass
from fpqc.passes.raising.adaln import RaiseAdaLNSplit, RaiseModulate, RaiseResidual
from fpqc.passes.raising.attention import RaiseAttention
from fpqc.passes.raising.gelu import RaiseGelu, RaiseGeluTanhExpansion
from fpqc.passes.raising.layers import RaiseEmbedding, RaiseLayerNorm, RaiseSilu
from fpqc.passes.raising.linear import RaiseGemmToLinear, RaiseMatMulToLinear


@dataclass(frozen=True)
class RaiseOnnxToFpqPass(ModulePass):
    """Raise recognised ONNX subgraphs to float-level ``fpq`` ops (see module docstring)."""

    name = "raise-onnx-to-fpq"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        CanonicalizeOnnxPass().apply(ctx, op)
        PatternRewriteWalker(
            GreedyRewritePatternApplier(
                [
                    RaiseMatMulToLinear(),
                    RaiseGemmToLinear(),
                    RaiseGelu(),
                    RaiseGeluTanhExpansion(),
                    RaiseEmbedding(),
                    RaiseSilu(),
                    RaiseLayerNorm(),
                    RaiseAdaLNSplit(),
                    RaiseAttention(),
                    RaiseModulate(),
                    RaiseResidual(),
                ]
            ),
            apply_recursively=True,
        ).rewrite_module(op)
        region_dce(op.body)
        annotate_roles(op)
