"""Raising ``MatMul``/``Gemm`` with constant weights to ``fpq.linear``.

Before::

    %w = onnx.Constant {value = dense_resource<fc1.weight> : tensor<64x32xf32>} ...
    %b = onnx.Constant {value = dense_resource<fc1.bias> : tensor<32xf32>} ...
    %0 = onnx.MatMul %x, %w : (tensor<8x64xf32>, tensor<64x32xf32>) -> tensor<8x32xf32>
    %1 = onnx.Add %b, %0 : (tensor<32xf32>, tensor<8x32xf32>) -> tensor<8x32xf32>

After (W transposed to the ``[O, K]`` layout, computed when it is read)::

    %w = fpq.constant dense_resource<fc1.weight.T> : tensor<32x64xf32>
    %b = fpq.constant dense_resource<fc1.bias> : tensor<32xf32>
    %1 = fpq.linear %x, %w, %b : (tensor<8x64xf32>, tensor<32x64xf32>, tensor<32xf32>) -> tensor<8x32xf32>
"""

from __future__ import annotations

import numpy as np
from xdsl.dialects.builtin import Float32Type, TensorType
from xdsl.ir import Operation, SSAValue
from xdsl.pattern_rewriter import (
    PatternRewriter,
    RewritePattern,
    op_type_rewrite_pattern,
)

from fpqc.dialects import fpq, onnx
from fpqc.passes.constants import (
    as_fpq_constant,
    constant_key,
    constant_value,
    derived_constant,
    is_constant,
    new_constant,
)
from fpqc.passes.raising.matching import single_user


def _linear_weight(w: SSAValue, transpose: bool) -> fpq.ConstantOp | None:
    """W as an ``[O, K]`` ``fpq.constant``, or None when W is not a 2-D fp32 constant.

    A transposed W is computed when it is read (a transposed view of W's values).
    """
    w_type = w.type
    if not is_constant(w) or not isinstance(w_type, TensorType) or w_type.get_num_dims() != 2:
        return None
    if not isinstance(w_type.get_element_type(), Float32Type):
        return None
    if transpose:
        k, o = w_type.get_shape()
        return derived_constant((constant_key(w) or "weight") + ".T", w, lambda array: array.T, (o, k))
    return as_fpq_constant(w)


def _is_bias(value: SSAValue, out_features: int) -> bool:
    """Whether ``value`` is a constant fp32 ``[O]`` or ``[1, O]`` tensor."""
    array = constant_value(value)
    return (
        array is not None
        and array.dtype == np.float32
        and array.shape in ((out_features,), (1, out_features))
    )


def _bias_constant(bias: SSAValue, out_features: int) -> fpq.ConstantOp:
    """The bias as an ``[O]`` ``fpq.constant``, sharing its weight-store entry when possible."""
    if bias.type.get_shape() == (out_features,):
        return as_fpq_constant(bias)
    array = constant_value(bias).reshape(out_features)
    return new_constant(constant_key(bias) or "bias", array)


def _replace_with_linear(
    rewriter: PatternRewriter,
    root: Operation,
    x: SSAValue,
    weight: fpq.ConstantOp,
    bias: SSAValue | None,
) -> None:
    new_ops: list[Operation] = [weight]
    bias_value = None
    if bias is not None:
        bias_op = _bias_constant(bias, weight.result.type.get_shape()[0])
        new_ops.append(bias_op)
        bias_value = bias_op.result
    linear = fpq.LinearOp(x, weight.result, bias_value, root.results[0].type)
    new_ops.append(linear)
    rewriter.replace(root, new_ops, [linear.result])


class RaiseMatMulToLinear(RewritePattern):
    """``MatMul(x, W[K,O])`` (+ ``Add(·, b[O])``) → ``fpq.linear``."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: onnx.MatMulOp, rewriter: PatternRewriter, /) -> None:
        weight = _linear_weight(op.B, transpose=True)
        if weight is None:
            return
        out_features = weight.result.type.get_shape()[0]
        add = single_user(op.result)
        if isinstance(add, onnx.AddOp):
            other = add.B if add.A == op.result else add.A
            if _is_bias(other, out_features):
                _replace_with_linear(rewriter, add, op.A, weight, other)
                rewriter.erase(op)
                return
        _replace_with_linear(rewriter, op, op.A, weight, None)


class RaiseGemmToLinear(RewritePattern):
    """``Gemm(x, W, b)`` with unit alpha/beta and no transA → ``fpq.linear``."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: onnx.GemmOp, rewriter: PatternRewriter, /) -> None:
        if op.alpha.value.data != 1.0 or op.beta.value.data != 1.0 or op.transA.value.data != 0:
            return
        transpose = op.transB.value.data == 0
        w_shape = op.B.type.get_shape()
        bias = op.C
        if len(w_shape) != 2 or (
            bias is not None and not _is_bias(bias, w_shape[1] if transpose else w_shape[0])
        ):
            return
        weight = _linear_weight(op.B, transpose)
        if weight is not None:
            _replace_with_linear(rewriter, op, op.A, weight, bias)
