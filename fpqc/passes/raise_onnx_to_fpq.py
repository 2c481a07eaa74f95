"""Raise ONNX ops to float-level ``fpq`` ops, recognising them by graph structure.

Patterns (never by node names):

* ``MatMul(x, W)`` with a constant 2-D ``W [K, O]``, optionally followed by
  ``Add(·, b)`` with a constant ``b [O]`` → ``fpq.linear`` (W transposed once,
  at compile time, to the ``[O, K]`` layout).
* ``Gemm(x, W, b)`` with ``alpha = beta = 1``, ``transA = 0`` and constant W, b
  → ``fpq.linear``.
* ``Gelu`` with ``approximate = "tanh"`` → ``fpq.gelu``, and the same function
  spelled out as ``Mul``/``Add``/``Pow``/``Tanh`` the way the TorchScript
  exporter writes ``nn.GELU(approximate="tanh")``:
  ``0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³)))``, in any association
  and operand order of the products and sums, with x³ as ``Pow(x, 3)`` or as
  products of x.

Before::

    %w = onnx.Constant {value = dense_resource<fc1.weight> : tensor<64x32xf32>} ...
    %b = onnx.Constant {value = dense_resource<fc1.bias> : tensor<32xf32>} ...
    %0 = onnx.MatMul %x, %w : (tensor<8x64xf32>, tensor<64x32xf32>) -> tensor<8x32xf32>
    %1 = onnx.Add %b, %0 : (tensor<32xf32>, tensor<8x32xf32>) -> tensor<8x32xf32>

After::

    %w = fpq.constant dense_resource<fc1.weight.T> : tensor<32x64xf32>
    %b = fpq.constant dense_resource<fc1.bias> : tensor<32xf32>
    %1 = fpq.linear %x, %w, %b : (tensor<8x64xf32>, tensor<32x64xf32>, tensor<32xf32>) -> tensor<8x32xf32>

Ops that match no pattern stay in the ``onnx`` dialect (they run on the host).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import FloatAttr, IntegerAttr, ModuleOp, StringAttr
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.transforms.dead_code_elimination import region_dce

from fpqc.dialects import fpq
from fpqc.passes.constants import as_fpq_constant, constant_key, constant_value, new_constant

GELU_TANH_COEFF = math.sqrt(2.0 / math.pi)
GELU_CUBIC_COEFF = 0.044715
_CONST_TOLERANCE = 1e-6


# ---------------------------------------------------------------------------
# Linear layers
# ---------------------------------------------------------------------------


def _linear_weight(w: SSAValue, transpose: bool) -> fpq.ConstantOp | None:
    """W as an ``[O, K]`` ``fpq.constant``, or None when W is not a 2-D constant."""
    array = constant_value(w)
    if array is None or array.ndim != 2 or array.dtype != np.float32:
        return None
    if transpose:
        return new_constant((constant_key(w) or "weight") + ".T", np.ascontiguousarray(array.T))
    return as_fpq_constant(w)


def _is_bias(value: SSAValue, out_features: int) -> bool:
    """Whether ``value`` is a constant fp32 ``[O]`` or ``[1, O]`` tensor."""
    array = constant_value(value)
    return (
        array is not None
        and array.dtype == np.float32
        and array.shape in ((out_features,), (1, out_features))
    )


def _single_user(value: SSAValue) -> Operation | None:
    uses = list(value.uses)
    return uses[0].operation if len(uses) == 1 else None


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
    rewriter.replace_op(root, new_ops, [linear.result])


class RaiseMatMulToLinear(RewritePattern):
    """``MatMul(x, W[K,O])`` (+ ``Add(·, b[O])``) → ``fpq.linear``."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if op.name != "onnx.MatMul":
            return
        x, w = op.operands
        weight = _linear_weight(w, transpose=True)
        if weight is None:
            return
        out_features = weight.result.type.get_shape()[0]
        add = _single_user(op.results[0])
        if add is not None and add.name == "onnx.Add":
            other = add.operands[1] if add.operands[0] == op.results[0] else add.operands[0]
            if _is_bias(other, out_features):
                _replace_with_linear(rewriter, add, x, weight, other)
                rewriter.erase_op(op)
                return
        _replace_with_linear(rewriter, op, x, weight, None)


class RaiseGemmToLinear(RewritePattern):
    """``Gemm(x, W, b)`` with unit alpha/beta and no transA → ``fpq.linear``."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if op.name != "onnx.Gemm":
            return
        if _float_prop(op, "alpha", 1.0) != 1.0 or _float_prop(op, "beta", 1.0) != 1.0:
            return
        if _int_prop(op, "transA", 0) != 0:
            return
        transpose = _int_prop(op, "transB", 0) == 0
        w_shape = op.operands[1].type.get_shape()
        bias = op.operands[2] if len(op.operands) == 3 else None
        if len(w_shape) != 2 or (
            bias is not None and not _is_bias(bias, w_shape[1] if transpose else w_shape[0])
        ):
            return
        weight = _linear_weight(op.operands[1], transpose)
        if weight is not None:
            _replace_with_linear(rewriter, op, op.operands[0], weight, bias)


def _float_prop(op: Operation, name: str, default: float) -> float:
    attr = op.properties.get(name) or op.attributes.get(name)
    return attr.value.data if isinstance(attr, FloatAttr) else default


def _int_prop(op: Operation, name: str, default: int) -> int:
    attr = op.properties.get(name) or op.attributes.get(name)
    return attr.value.data if isinstance(attr, IntegerAttr) else default


# ---------------------------------------------------------------------------
# GELU
# ---------------------------------------------------------------------------


def _scalar(value: SSAValue) -> float | None:
    array = constant_value(value)
    if array is None or array.size != 1:
        return None
    return float(array.reshape(()))


def _close(a: float | None, b: float) -> bool:
    return a is not None and abs(a - b) <= _CONST_TOLERANCE * max(1.0, abs(b))


def _product_factors(value: SSAValue, root: bool = True) -> list[SSAValue]:
    """Flatten a tree of ``Mul`` (and ``Pow(x, 3)``) into its factors.

    Interior Muls are looked through only when this product is their sole user,
    so a shared intermediate is never swallowed.
    """
    op = value.owner
    if isinstance(op, Operation) and (root or _single_user(value) is not None):
        if op.name == "onnx.Mul":
            return _product_factors(op.operands[0], False) + _product_factors(op.operands[1], False)
        if op.name == "onnx.Pow" and _close(_scalar(op.operands[1]), 3.0):
            return [op.operands[0]] * 3
    return [value]


def _sum_terms(value: SSAValue) -> list[SSAValue]:
    op = value.owner
    if isinstance(op, Operation) and op.name == "onnx.Add":
        return [op.operands[0], op.operands[1]]
    return [value]


def _split_constant(factors: list[SSAValue]) -> tuple[float, list[SSAValue]]:
    """Multiply the scalar-constant factors together; return (coefficient, others)."""
    coefficient = 1.0
    others = []
    for f in factors:
        c = _scalar(f)
        if c is None:
            others.append(f)
        else:
            coefficient *= c
    return coefficient, others


def match_gelu_tanh(root: Operation) -> SSAValue | None:
    """The x of ``0.5·x·(1+tanh(√(2/π)(x+0.044715x³)))`` rooted at ``root``, or None."""
    if root.name != "onnx.Mul":
        return None
    coefficient, factors = _split_constant(_product_factors(root.results[0]))
    if not _close(coefficient, 0.5) or len(factors) != 2:
        return None
    for x, one_plus_tanh in (factors, factors[::-1]):
        terms = _sum_terms(one_plus_tanh)
        if len(terms) != 2:
            continue
        one = [t for t in terms if _close(_scalar(t), 1.0)]
        tanh = [t for t in terms if isinstance(t.owner, Operation) and t.owner.name == "onnx.Tanh"]
        if len(one) != 1 or len(tanh) != 1:
            continue
        c, inner = _split_constant(_product_factors(tanh[0].owner.operands[0], root=True))
        if not _close(c, GELU_TANH_COEFF) or len(inner) != 1:
            continue
        poly = _sum_terms(inner[0])
        if len(poly) != 2 or x not in poly:
            continue
        cubic = poly[1] if poly[0] == x else poly[0]
        c3, cube = _split_constant(_product_factors(cubic))
        if _close(c3, GELU_CUBIC_COEFF) and cube == [x, x, x]:
            return x
    return None


class RaiseGelu(RewritePattern):
    """``Gelu{approximate="tanh"}`` or its tanh decomposition → ``fpq.gelu``."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if op.name == "onnx.Gelu":
            approximate = op.properties.get("approximate") or op.attributes.get("approximate")
            if isinstance(approximate, StringAttr) and approximate.data == "tanh":
                rewriter.replace_op(op, fpq.GeluOp(op.operands[0]))
            return
        x = match_gelu_tanh(op)
        if x is not None and x.type == op.results[0].type:
            rewriter.replace_op(op, fpq.GeluOp(x))


@dataclass(frozen=True)
class RaiseOnnxToFpqPass(ModulePass):
    """Raise recognised ONNX subgraphs to float-level ``fpq`` ops (see module docstring)."""

    name = "raise-onnx-to-fpq"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(
            GreedyRewritePatternApplier(
                [RaiseMatMulToLinear(), RaiseGemmToLinear(), RaiseGelu()]
            ),
            apply_recursively=True,
        ).rewrite_module(op)
        region_dce(op.body)
