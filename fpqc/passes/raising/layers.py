"""Raising the embedding lookup, SiLU and LayerNorm to their ``fpq`` ops."""

from __future__ import annotations

import numpy as np
from xdsl.pattern_rewriter import (
    PatternRewriter,
    RewritePattern,
    op_type_rewrite_pattern,
)

from fpqc.dialects import fpq, onnx
from fpqc.passes.constants import as_fpq_constant, constant_value
from fpqc.passes.raising.matching import commuted, is_all, producer, shape


class RaiseEmbedding(RewritePattern):
    """``Gather(table, indices)`` on axis 0 of a constant fp32 ``[N, C]`` table → ``fpq.embedding``.

    Before::

        %t = onnx.Constant dense_resource<class_emb.weight> : tensor<11x64xf32>
        %e = onnx.Gather %t, %label : (tensor<11x64xf32>, tensor<1xi64>) -> tensor<1x64xf32>

    After::

        %t = fpq.constant dense_resource<class_emb.weight> : tensor<11x64xf32>
        %e = fpq.embedding %t[%label] : (tensor<11x64xf32>, tensor<1xi64>) -> tensor<1x64xf32>
    """

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: onnx.GatherOp, rewriter: PatternRewriter, /) -> None:
        if op.axis.value.data != 0:
            return
        array = constant_value(op.data)
        if array is None or array.ndim != 2 or array.dtype != np.float32:
            return
        constant = as_fpq_constant(op.data)
        rewriter.replace(op, [constant, fpq.EmbeddingOp(constant.result, op.indices)])


class RaiseSilu(RewritePattern):
    """``Mul(x, Sigmoid(x))`` (either order) → ``fpq.silu``.

    Before::

        %s = onnx.Sigmoid %x : (tensor<1x64xf32>) -> tensor<1x64xf32>
        %y = onnx.Mul %x, %s : (tensor<1x64xf32>, tensor<1x64xf32>) -> tensor<1x64xf32>

    After::

        %y = fpq.silu %x : tensor<1x64xf32>
    """

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: onnx.MulOp, rewriter: PatternRewriter, /) -> None:
        for x, s in commuted(op):
            sigmoid = producer(s, onnx.SigmoidOp)
            if sigmoid is not None and sigmoid.input == x and x.type == op.result.type:
                rewriter.replace(op, fpq.SiluOp(x))
                return


class RaiseLayerNorm(RewritePattern):
    """``LayerNormalization`` over the last axis with unit scale and zero (or no) bias → ``fpq.layernorm``.

    Before::

        %one = onnx.Constant dense<1.0> : tensor<64xf32>
        %n = onnx.LayerNormalization %x, %one {epsilon = 1.0e-06 : f32}
            : (tensor<1x30x64xf32>, tensor<64xf32>) -> tensor<1x30x64xf32>

    After::

        %n = fpq.layernorm %x {eps = 1.000000e-06 : f32} : tensor<1x30x64xf32>

    A LayerNormalization with a learned (non-unit) scale or a non-zero bias
    stays in the onnx dialect.
    """

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: onnx.LayerNormalizationOp, rewriter: PatternRewriter, /) -> None:
        rank = len(shape(op.X))
        if op.axis.value.data % rank != rank - 1 or op.stash_type.value.data != 1:
            return
        if not is_all(op.Scale, 1.0) or not (op.B is None or is_all(op.B, 0.0)):
            return
        rewriter.replace(op, fpq.LayerNormOp(op.X, op.epsilon.value.data))
