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
from xdsl.dialects.builtin import (
    Float32Type,
    FloatAttr,
    IntegerAttr,
    ModuleOp,
    StringAttr,
    TensorType,
)
from xdsl.ir import BlockArgument, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
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
    rewriter.replace(root, new_ops, [linear.result])


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
                rewriter.erase(op)
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
                rewriter.replace(op, fpq.GeluOp(op.operands[0]))
            return
        x = match_gelu_tanh(op)
        if x is not None and x.type == op.results[0].type:
            rewriter.replace(op, fpq.GeluOp(x))


# ---------------------------------------------------------------------------
# Helpers for matching by structure
# ---------------------------------------------------------------------------


def _op(value: SSAValue, *names: str) -> Operation | None:
    """The op producing ``value`` if its name is one of ``names``."""
    owner = value.owner
    return owner if isinstance(owner, Operation) and owner.name in names else None


def _shape(value: SSAValue) -> tuple[int, ...]:
    return tuple(value.type.get_shape())


def _ints(value: SSAValue | None) -> list[int] | None:
    array = constant_value(value) if value is not None else None
    if array is None or not np.issubdtype(array.dtype, np.integer):
        return None
    return [int(v) for v in array.reshape(-1)]


def _operand(op: Operation, name: str) -> SSAValue | None:
    """The operand ``name`` of an onnx op (None when the optional input is absent)."""
    return getattr(op, name, None)


def _axes(op: Operation, rank: int) -> list[int] | None:
    """The ``axes`` of Squeeze/ReduceL2/Slice (input or attribute), non-negative."""
    axes = _ints(_operand(op, "axes"))
    if axes is None:
        attr = op.properties.get("axes") or op.attributes.get("axes")
        axes = [a.value.data for a in attr.data] if attr is not None else None
    return None if axes is None else [a % rank for a in axes]


def _other(op: Operation, value: SSAValue) -> SSAValue:
    """The operand of binary ``op`` that is not ``value``."""
    a, b = op.operands
    return b if a == value else a


def _commuted(op: Operation) -> tuple[tuple[SSAValue, SSAValue], ...]:
    a, b = op.operands
    return ((a, b), (b, a))


def _squeezed(value: SSAValue, axis: int) -> SSAValue | None:
    """x when ``value`` is ``Squeeze(x, axes=[axis])`` (or a Reshape dropping that unit axis)."""
    op = _op(value, "onnx.Squeeze", "onnx.Reshape")
    if op is None:
        return None
    x = op.operands[0]
    shape = _shape(x)
    if len(shape) <= axis or shape[axis] != 1:
        return None
    if op.name == "onnx.Squeeze" and _axes(op, len(shape)) != [axis]:
        return None
    if _shape(value) != shape[:axis] + shape[axis + 1 :]:
        return None
    return x


def _unbound(value: SSAValue, axis: int) -> tuple[SSAValue, int] | None:
    """(source, i) when ``value`` is ``source[i]`` along ``axis`` (torch's ``unbind``).

    Spelled ``Squeeze(Split(source, axis)[i])`` (TorchScript exporter) or
    ``Squeeze(Slice(source, starts=[i], ends=[i+1], axes=[axis]))`` (dynamo).
    """
    piece = _squeezed(value, axis)
    op = _op(piece, "onnx.Split", "onnx.Slice") if piece is not None else None
    if op is None:
        return None
    source = op.operands[0]
    rank = len(_shape(source))
    if op.name == "onnx.Split":
        if _int_prop(op, "axis", 0) % rank != axis:
            return None
        sizes = _ints(_operand(op, "split"))
        if sizes is not None and set(sizes) != {1}:
            return None
        return source, op.results.index(piece)
    starts, ends = _ints(_operand(op, "starts")), _ints(_operand(op, "ends"))
    steps = _ints(_operand(op, "steps")) if _operand(op, "steps") is not None else [1]
    axes = _axes(op, rank) if _operand(op, "axes") is not None else list(range(len(starts or [])))
    if starts is None or ends is None or axes != [axis] or steps != [1]:
        return None
    size = _shape(source)[axis]
    start = starts[0] + size if starts[0] < 0 else starts[0]
    if not 0 <= start < size or min(ends[0] + size if ends[0] < 0 else ends[0], size) != start + 1:
        return None
    return source, start


def _transposed(value: SSAValue, perm: list[int]) -> SSAValue | None:
    op = _op(value, "onnx.Transpose")
    if op is None:
        return None
    attr = op.properties.get("perm") or op.attributes.get("perm")
    got = [a.value.data for a in attr.data] if attr is not None else None
    return op.operands[0] if got == perm else None


def _is_all(value: SSAValue | None, number: float) -> bool:
    array = constant_value(value) if value is not None else None
    return array is not None and array.size > 0 and bool(np.all(array == number))


# ---------------------------------------------------------------------------
# Embedding, SiLU, LayerNorm
# ---------------------------------------------------------------------------


class RaiseEmbedding(RewritePattern):
    """``Gather(table, indices)`` on axis 0 of a constant fp32 ``[N, C]`` table → ``fpq.embedding``.

    Before::

        %t = onnx.Constant dense_resource<class_emb.weight> : tensor<11x64xf32>
        %e = onnx.Gather %t, %label : (tensor<11x64xf32>, tensor<1xi64>) -> tensor<1x64xf32>

    After::

        %t = fpq.constant dense_resource<class_emb.weight> : tensor<11x64xf32>
        %e = fpq.embedding %t[%label] : (tensor<11x64xf32>, tensor<1xi64>) -> tensor<1x64xf32>
    """

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if op.name != "onnx.Gather" or _int_prop(op, "axis", 0) != 0:
            return
        table, indices = op.operands
        array = constant_value(table)
        if array is None or array.ndim != 2 or array.dtype != np.float32:
            return
        constant = as_fpq_constant(table)
        rewriter.replace(op, [constant, fpq.EmbeddingOp(constant.result, indices)])


class RaiseSilu(RewritePattern):
    """``Mul(x, Sigmoid(x))`` (either order) → ``fpq.silu``.

    Before::

        %s = onnx.Sigmoid %x : (tensor<1x64xf32>) -> tensor<1x64xf32>
        %y = onnx.Mul %x, %s : (tensor<1x64xf32>, tensor<1x64xf32>) -> tensor<1x64xf32>

    After::

        %y = fpq.silu %x : tensor<1x64xf32>
    """

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if op.name != "onnx.Mul":
            return
        for x, s in _commuted(op):
            sigmoid = _op(s, "onnx.Sigmoid")
            if sigmoid is not None and sigmoid.operands[0] == x and x.type == op.results[0].type:
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

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if op.name != "onnx.LayerNormalization" or len(op.results) != 1:
            return
        x = op.operands[0]
        rank = len(_shape(x))
        if _int_prop(op, "axis", -1) % rank != rank - 1 or _int_prop(op, "stash_type", 1) != 1:
            return
        bias = _operand(op, "B")
        if not _is_all(_operand(op, "Scale"), 1.0) or not (bias is None or _is_all(bias, 0.0)):
            return
        rewriter.replace(op, fpq.LayerNormOp(x, _float_prop(op, "epsilon", 1e-5)))


# ---------------------------------------------------------------------------
# AdaLN: split, modulate, gated residual
# ---------------------------------------------------------------------------


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

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if op.name != "onnx.Reshape":
            return
        source, shape = op.operands[0], _shape(op.results[0])
        if len(shape) < 2 or _shape(source)[-1:] != (shape[-2] * shape[-1],):
            return
        if _drop(shape[:-2]) != _drop(_shape(source)[:-1]):
            return
        axis, chunks = len(shape) - 2, shape[-2]
        pieces: dict[SSAValue, int] = {}
        for use in op.results[0].uses:
            if use.operation.name not in ("onnx.Split", "onnx.Slice"):
                return
            for result in use.operation.results:
                for squeeze in result.uses:
                    if len(squeeze.operation.results) != 1:
                        return
                    value = squeeze.operation.results[0]
                    found = _unbound(value, axis)
                    if found is None or found[0] != op.results[0]:
                        return
                    pieces[value] = found[1]
        if not pieces:
            return
        chunk_type = TensorType(Float32Type(), (*shape[:-2], shape[-1]))
        if any(value.type != chunk_type for value in pieces):
            return
        split = fpq.SplitOp(source, [chunk_type] * chunks)
        rewriter.insert(split, InsertPoint.before(op))
        for value, index in pieces.items():
            rewriter.replace_all_uses_with(value, split.outputs[index])


def _drop(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(d for d in shape if d != 1)


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

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if op.name != "onnx.Add":
            return
        for product, shift in _commuted(op):
            mul = _op(product, "onnx.Mul")
            if mul is None:
                continue
            for x, one_plus in _commuted(mul):
                add = _op(one_plus, "onnx.Add")
                if add is None or x.type != op.results[0].type:
                    continue
                for scale, one in _commuted(add):
                    if _close(_scalar(one), 1.0) and constant_value(scale) is None:
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

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if op.name != "onnx.Add":
            return
        out = op.results[0].type
        for x, product in _commuted(op):
            mul = _op(product, "onnx.Mul")
            if mul is None or x.type != out:
                continue
            for f, gamma in _commuted(mul):
                if f.type == out and gamma.type != out and constant_value(gamma) is None:
                    rewriter.replace(op, fpq.ResidualOp(x, f, gamma))
                    return


# ---------------------------------------------------------------------------
# Attention
# ---------------------------------------------------------------------------


def _l2_normalized(value: SSAValue) -> tuple[SSAValue, float] | None:
    """(t, eps) when ``value`` is ``t / max(‖t‖₂ over the last axis, eps)``.

    Spelled ``Div(t, [Expand](Clip(ReduceL2(t, axes=[-1], keepdims=1), min=eps)))``
    (``F.normalize``).
    """
    div = _op(value, "onnx.Div")
    if div is None:
        return None
    t, norm = div.operands
    expand = _op(norm, "onnx.Expand")
    clip = _op(expand.operands[0] if expand is not None else norm, "onnx.Clip")
    if clip is None or _operand(clip, "max") is not None:
        return None
    eps = _scalar(_operand(clip, "min")) if _operand(clip, "min") is not None else None
    reduce = _op(clip.operands[0], "onnx.ReduceL2")
    rank = len(_shape(t))
    if eps is None or eps <= 0 or reduce is None or reduce.operands[0] != t:
        return None
    if _axes(reduce, rank) != [rank - 1] or _int_prop(reduce, "keepdims", 1) != 1:
        return None
    return t, eps


def _qkv_heads(q: SSAValue, k: SSAValue, v: SSAValue) -> tuple[SSAValue, int] | None:
    """(qkv, H) when q, k, v are ``Transpose(Reshape(qkv, [B, L, 3, H, D]), [2, 0, 3, 1, 4])[0, 1, 2]``."""
    parts = [_unbound(t, 0) for t in (q, k, v)]
    if any(p is None for p in parts) or len({p[0] for p in parts}) != 1 or [p[1] for p in parts] != [0, 1, 2]:
        return None
    packed = _transposed(parts[0][0], [2, 0, 3, 1, 4])
    reshape = _op(packed, "onnx.Reshape") if packed is not None else None
    if reshape is None:
        return None
    qkv = reshape.operands[0]
    b, length, three, heads, d = _shape(packed)
    if three != 3 or _shape(qkv) != (b, length, 3 * heads * d):
        return None
    return qkv, heads


def _q_scale(value: SSAValue, heads: int) -> np.ndarray | None:
    """The per-head multiplier as ``[H]`` when ``value`` is a constant broadcasting like ``[1, H, 1, 1]``."""
    array = constant_value(value)
    if array is None or array.dtype != np.float32 or array.ndim > 4:
        return None
    try:
        return np.ascontiguousarray(np.broadcast_to(array, (1, heads, 1, 1)).reshape(heads))
    except ValueError:
        return None


def block_causal_boundaries(mask: np.ndarray) -> list[int] | None:
    """VAR's block-causal mask ``[..., L, L]`` (0 = attend, -inf = masked) as scale boundaries.

    Returns ``[0, b1, ..., L]`` such that a query in ``[b_k, b_k+1)`` sees
    exactly the keys ``[0, b_k+1)``, or None when ``mask`` is not of that form.
    """
    if mask.ndim < 2 or mask.shape[-1] != mask.shape[-2] or any(d != 1 for d in mask.shape[:-2]):
        return None
    square = mask.reshape(mask.shape[-2:])
    allowed = square == 0
    if not np.all(allowed | (square == -np.inf)):
        return None
    ends = allowed.sum(axis=1)
    bounds = [0, *sorted(set(int(e) for e in ends))]
    expected = np.repeat(np.asarray(bounds[1:]), np.diff(bounds))
    if bounds[-1] != square.shape[0] or len(expected) != len(ends) or np.any(expected != ends):
        return None
    if not np.array_equal(allowed, np.arange(square.shape[0])[None, :] < ends[:, None]):
        return None
    return bounds


class RaiseAttention(RewritePattern):
    """VAR's attention, from the packed qkv to the ``proj`` input → ``fpq.attention``.

    Matched from its last op backwards::

        %r   = onnx.Reshape %qkv, ... -> tensor<B x L x 3 x H x D>
        %t   = onnx.Transpose %r {perm = [2, 0, 3, 1, 4]}
        %q, %k, %v = unbind(%t, 0)                    (Split+Squeeze or Slice+Squeeze)
        %qn  = %q / max(ReduceL2(%q, -1), eps)         (Div, Expand?, Clip, ReduceL2)
        %qs  = onnx.Mul %qn, %scale                    (constant, [1, H, 1, 1])
        %kn  = %k / max(ReduceL2(%k, -1), eps)
        %kt  = onnx.Transpose %kn {perm = [0, 1, 3, 2]}
        %s   = onnx.MatMul %qs, %kt
        %sm  = onnx.Add %s, %mask                      (optional)
        %p   = onnx.Softmax %sm {axis = -1}
        %o   = onnx.MatMul %p, %v
        %ot  = onnx.Transpose %o {perm = [0, 2, 1, 3]}
        %out = onnx.Reshape %ot, ... -> tensor<B x L x C>

    After::

        %qs  = fpq.constant dense<[4.0, ...]> : tensor<Hxf32>
        %out = fpq.attention %qkv, %qs {num_heads = H, eps = 1.0e-12 : f32,
                                        block_causal = array<i64: 0, 1, 5, ..., L>} : ...

    A constant mask of VAR's block-causal form becomes ``block_causal``; any
    other mask is kept as the ``mask`` operand.
    """

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if op.name != "onnx.Reshape":
            return
        o = _transposed(op.operands[0], [0, 2, 1, 3])
        pv = _op(o, "onnx.MatMul") if o is not None else None
        softmax = _op(pv.operands[0], "onnx.Softmax") if pv is not None else None
        if softmax is None or _int_prop(softmax, "axis", -1) not in (-1, 3):
            return
        scores, mask = softmax.operands[0], None
        if (add := _op(scores, "onnx.Add")) is not None:
            for s, m in _commuted(add):
                if _op(s, "onnx.MatMul") is not None:
                    scores, mask = s, m
                    break
        qk = _op(scores, "onnx.MatMul")
        kt = _transposed(qk.operands[1], [0, 1, 3, 2]) if qk is not None else None
        k = _l2_normalized(kt) if kt is not None else None
        q_mul = _op(qk.operands[0], "onnx.Mul") if qk is not None else None
        if k is None or q_mul is None:
            return
        for qn, scale in _commuted(q_mul):
            q = _l2_normalized(qn)
            heads = _qkv_heads(q[0], k[0], pv.operands[1]) if q is not None else None
            if heads is None or q[1] != k[1]:
                continue
            qkv, num_heads = heads
            q_scale = _q_scale(scale, num_heads)
            if q_scale is None or _shape(op.results[0]) != (*_shape(qkv)[:2], _shape(qkv)[2] // 3):
                continue
            self._rewrite(rewriter, op, qkv, q_scale, num_heads, q[1], mask)
            return

    @staticmethod
    def _rewrite(rewriter, op, qkv, q_scale, num_heads, eps, mask) -> None:
        scale = new_constant("attn.q_scale", q_scale)
        bounds, mask_value = None, mask
        if mask is not None and (array := constant_value(mask)) is not None:
            bounds = block_causal_boundaries(array)
            if bounds is not None and bounds[-1] == _shape(qkv)[1]:
                mask_value = None
            else:
                bounds = None
        attention = fpq.AttentionOp(qkv, scale.result, num_heads, eps, bounds, mask_value)
        rewriter.replace(op, [scale, attention])


# ---------------------------------------------------------------------------
# No-op casts
# ---------------------------------------------------------------------------


class DropNoOpCast(RewritePattern):
    """``Cast``/``Identity`` whose result type is its operand's type → its operand."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if op.name in ("onnx.Cast", "onnx.Identity") and op.results[0].type == op.operands[0].type:
            rewriter.replace_all_uses_with(op.results[0], op.operands[0])
            rewriter.erase(op)


# ---------------------------------------------------------------------------
# Roles of linear layers
# ---------------------------------------------------------------------------



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
    if isinstance(linear.input, BlockArgument) and any(u.name == "onnx.Concat" for u in users):
        return "word_embed"
    return None


def annotate_roles(module: ModuleOp) -> None:
    """Set ``fpq.role`` on every ``fpq.linear`` whose role :func:`linear_role` finds."""
    for op in module.walk():
        if isinstance(op, fpq.LinearOp) and (role := linear_role(op)) is not None:
            op.attributes[fpq.ROLE_ATTR] = StringAttr(role)


@dataclass(frozen=True)
class RaiseOnnxToFpqPass(ModulePass):
    """Raise recognised ONNX subgraphs to float-level ``fpq`` ops (see module docstring)."""

    name = "raise-onnx-to-fpq"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(
            GreedyRewritePatternApplier(
                [
                    DropNoOpCast(),
                    RaiseMatMulToLinear(),
                    RaiseGemmToLinear(),
                    RaiseGelu(),
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
