"""Raising GELU (tanh approximation) to ``fpq.gelu``.

``Gelu`` with ``approximate = "tanh"``, or the same function spelled out as
``Mul``/``Add``/``Pow``/``Tanh`` the way the TorchScript exporter writes
``nn.GELU(approximate="tanh")``: ``0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³)))``,
in any association and operand order of the products and sums, with x³ as
``Pow(x, 3)`` or as products of x.

Before::

    %y = onnx.Gelu %x {approximate = "tanh"} : (tensor<8x32xf32>) -> tensor<8x32xf32>

After::

    %y = fpq.gelu %x : tensor<8x32xf32>
"""

from __future__ import annotations

import math

from xdsl.ir import SSAValue
from xdsl.pattern_rewriter import (
    PatternRewriter,
    RewritePattern,
    op_type_rewrite_pattern,
)

from fpqc.dialects import fpq, onnx
from fpqc.passes.raising.matching import close, producer, scalar, single_user

GELU_TANH_COEFF = math.sqrt(2.0 / math.pi)
GELU_CUBIC_COEFF = 0.044715


def _product_factors(value: SSAValue, root: bool = True) -> list[SSAValue]:
    """Flatten a tree of ``Mul`` (and ``Pow(x, 3)``) into its factors.

    Interior Muls are looked through only when this product is their sole user,
    so a shared intermediate is never swallowed.
    """
    if root or single_user(value) is not None:
        if (mul := producer(value, onnx.MulOp)) is not None:
            return _product_factors(mul.A, False) + _product_factors(mul.B, False)
        if (power := producer(value, onnx.PowOp)) is not None and close(scalar(power.Y), 3.0):
            return [power.X] * 3
    return [value]


def _sum_terms(value: SSAValue) -> list[SSAValue]:
    add = producer(value, onnx.AddOp)
    return [add.A, add.B] if add is not None else [value]


def _split_constant(factors: list[SSAValue]) -> tuple[float, list[SSAValue]]:
    """Multiply the scalar-constant factors together; return (coefficient, others)."""
    coefficient = 1.0
    others = []
    for f in factors:
        c = scalar(f)
        if c is None:
            others.append(f)
        else:
            coefficient *= c
    return coefficient, others


def match_gelu_tanh(root: onnx.MulOp) -> SSAValue | None:
    """The x of ``0.5·x·(1+tanh(√(2/π)(x+0.044715x³)))`` rooted at ``root``, or None."""
    coefficient, factors = _split_constant(_product_factors(root.result))
    if not close(coefficient, 0.5) or len(factors) != 2:
        return None
    for x, one_plus_tanh in (factors, factors[::-1]):
        terms = _sum_terms(one_plus_tanh)
        if len(terms) != 2:
            continue
        one = [t for t in terms if close(scalar(t), 1.0)]
        tanh = [op for t in terms if (op := producer(t, onnx.TanhOp)) is not None]
        if len(one) != 1 or len(tanh) != 1:
            continue
        c, inner = _split_constant(_product_factors(tanh[0].input, root=True))
        if not close(c, GELU_TANH_COEFF) or len(inner) != 1:
            continue
        poly = _sum_terms(inner[0])
        if len(poly) != 2 or x not in poly:
            continue
        cubic = poly[1] if poly[0] == x else poly[0]
        c3, cube = _split_constant(_product_factors(cubic))
        if close(c3, GELU_CUBIC_COEFF) and cube == [x, x, x]:
            return x
    return None


class RaiseGelu(RewritePattern):
    """``Gelu{approximate="tanh"}`` → ``fpq.gelu``."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: onnx.GeluOp, rewriter: PatternRewriter, /) -> None:
        if op.approximate.data == "tanh":
            rewriter.replace(op, fpq.GeluOp(op.input))


class RaiseGeluTanhExpansion(RewritePattern):
    """The tanh form of GELU spelled out in ``Mul``/``Add``/``Pow``/``Tanh`` → ``fpq.gelu``."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: onnx.MulOp, rewriter: PatternRewriter, /) -> None:
        x = match_gelu_tanh(op)
        if x is not None and x.type == op.result.type:
            rewriter.replace(op, fpq.GeluOp(x))
