"""Raising AdaLN: the split of the modulation vector, the modulation, the gated residual."""

from __future__ import annotations

from xdsl.dialects.builtin import Float32Type, TensorType
from xdsl.ir import SSAValue
from xdsl.pattern_rewriter import (
    PatternRewriter,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.rewriter import InsertPoint

from fpqc.dialects import fpq, onnx
from fpqc.passes.constants import constant_value
from fpqc.passes.raising.matching import (
    close,
    commuted,
    producer,
    scalar,
    shape,
    unbound,
)


class RaiseAdaLNSplit(RewritePattern):
    """``Reshape`` to ``[..., N, C]`` unbound along the N axis → ``fpq.split`` into N chunks.

    This is ``ada_lin(cond).view(-1, 1, 6, C).unbind(2)`` (and the head's 2-way
    split), with ``unbind`` spelled as Split+Squeeze or Slice+Squeeze.

    Before::

        %v = onnx.Reshape %a, %shape : (tensor<1x384xf32>, tensor<4xi64>) -> tensor<1x1x6x64xf32>
        %p:6 = onnx.Split %v, %ones {axis = 2 : i64} : (...) -> (tensor<1x1x1x64xf32>, ...)
        %g1 = onnx.Squeeze %p#0, %two : (tensor<1x1x1x64xf32>, tensor<1xi64>) -> tensor<1x1x64xf32>
        ...

    After::

        %g1, %g2, %s1, %s2, %b1, %b2 = fpq.split %a : tensor<1x384xf32> -> (tensor<1x1x64xf32>, ...)
    """

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: onnx.ReshapeOp, rewriter: PatternRewriter, /) -> None:
        source, dims = op.data, shape(op.result)
        if len(dims) < 2 or shape(source)[-1:] != (dims[-2] * dims[-1],):
            return
        if fpq.drop_unit_axes(dims[:-2]) != fpq.drop_unit_axes(shape(source)[:-1]):
            return
        axis, chunks = len(dims) - 2, dims[-2]
        pieces: dict[SSAValue, int] = {}
        for use in op.result.uses:
            if not isinstance(use.operation, onnx.SplitOp | onnx.SliceOp):
                return
            for result in use.operation.results:
                for squeeze in result.uses:
                    if len(squeeze.operation.results) != 1:
                        return
                    value = squeeze.operation.results[0]
                    found = unbound(value, axis)
                    if found is None or found[0] != op.result:
                        return
                    pieces[value] = found[1]
        if not pieces:
            return
        chunk_type = TensorType(Float32Type(), (*dims[:-2], dims[-1]))
        if any(value.type != chunk_type for value in pieces):
            return
        split = rewriter.insert(fpq.SplitOp(source, [chunk_type] * chunks), InsertPoint.before(op))
        for value, index in pieces.items():
            rewriter.replace_all_uses_with(value, split.outputs[index])


class RaiseModulate(RewritePattern):
    """``Add(Mul(x, Add(scale, 1)), shift)`` (any operand order) → ``fpq.modulate``.

    Before::

        %one = onnx.Constant dense<1.0> : tensor<f32>
        %s1 = onnx.Add %scale, %one : (tensor<1x1x64xf32>, tensor<f32>) -> tensor<1x1x64xf32>
        %m = onnx.Mul %n, %s1 : (tensor<1x30x64xf32>, tensor<1x1x64xf32>) -> tensor<1x30x64xf32>
        %y = onnx.Add %m, %shift : (tensor<1x30x64xf32>, tensor<1x1x64xf32>) -> tensor<1x30x64xf32>

    After::

        %y = fpq.modulate %n, %scale, %shift : (...) -> tensor<1x30x64xf32>
    """

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: onnx.AddOp, rewriter: PatternRewriter, /) -> None:
        for product, shift in commuted(op):
            mul = producer(product, onnx.MulOp)
            if mul is None:
                continue
            for x, one_plus in commuted(mul):
                add = producer(one_plus, onnx.AddOp)
                if add is None or x.type != op.result.type:
                    continue
                for scale, one in commuted(add):
                    if close(scalar(one), 1.0) and constant_value(scale) is None:
                        rewriter.replace(op, fpq.ModulateOp(x, scale, shift))
                        return


class RaiseResidual(RewritePattern):
    """``Add(x, Mul(f, gamma))`` with a computed, per-sample ``gamma`` → ``fpq.residual``.

    ``gamma`` must be a non-constant tensor that broadcasts to (and is smaller
    than) x's shape -- VAR's AdaLN gates ``[B, 1, C]`` -- so products with
    constants (e.g. inside a GELU) are not taken for gated residuals.

    Before::

        %g = onnx.Mul %f, %gamma : (tensor<1x30x64xf32>, tensor<1x1x64xf32>) -> tensor<1x30x64xf32>
        %y = onnx.Add %x, %g : (tensor<1x30x64xf32>, tensor<1x30x64xf32>) -> tensor<1x30x64xf32>

    After::

        %y = fpq.residual %x, %f, %gamma : (...) -> tensor<1x30x64xf32>
    """

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: onnx.AddOp, rewriter: PatternRewriter, /) -> None:
        out = op.result.type
        for x, product in commuted(op):
            mul = producer(product, onnx.MulOp)
            if mul is None or x.type != out:
                continue
            for f, gamma in commuted(mul):
                if f.type == out and gamma.type != out and constant_value(gamma) is None:
                    rewriter.replace(op, fpq.ResidualOp(x, f, gamma))
                    return
