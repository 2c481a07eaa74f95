"""The float-level ``fpq`` ops: a VAR transformer's layers in fp32, before quantization."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from xdsl.dialects.builtin import (
    DenseArrayBase,
    DenseIntOrFPElementsAttr,
    DenseResourceAttr,
    Float32Type,
    FloatAttr,
    IntegerAttr,
    IntegerType,
    StringAttr,
    TensorType,
    i64,
)
from xdsl.ir import Attribute, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    ParsePropInAttrDict,
    VarConstraint,
    irdl_op_definition,
    irdl_to_attr_constraint,
    operand_def,
    opt_operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
    var_result_def,
)
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.traits import ConstantLike, Pure
from xdsl.utils.exceptions import VerifyException

from fpqc.dialects.fpq.attributes import QuantAttr
from fpqc.dialects.fpq.kv_scope import KvScope, check_kv_scope, kv_scope
from fpqc.dialects.fpq.shapes import (
    drop_unit_axes,
    expect_attention,
    expect_broadcast,
    expect_linear_output,
    expect_shape,
    expect_weight,
    tensor_shape,
)
from fpqc.dialects.fpq.types import F32Tensor, FloatFormatType, IntFormatType


@irdl_op_definition
class ConstantOp(IRDLOperation):
    """A tensor constant: inline ``dense<...>`` or a weight-store ``dense_resource<key>``.

    A constant of low-bit codes has a tensor of ``!fpq.float``/``!fpq.int``
    elements as result while its value holds the codes as ``ui8``.
    """

    name = "fpq.constant"

    value = prop_def(DenseIntOrFPElementsAttr | DenseResourceAttr)
    result = result_def(TensorType)

    traits = traits_def(ConstantLike(), Pure())

    def print(self, printer: Printer) -> None:
        printer.print_string(" ")
        printer.print_attribute(self.value)
        if self.result.type != self.value.get_type():
            printer.print_string(" -> ")
            printer.print_attribute(self.result.type)
        printer.print_op_attributes(self.attributes)

    @classmethod
    def parse(cls, parser: Parser) -> ConstantOp:
        pos = parser.pos
        value = parser.parse_attribute()
        if not isinstance(value, DenseIntOrFPElementsAttr | DenseResourceAttr):
            parser.raise_error("fpq.constant expects a dense<...> or dense_resource<...> value", pos)
        result_type = parser.parse_type() if parser.parse_optional_punctuation("->") else None
        op = cls(value, result_type)
        if (attrs := parser.parse_optional_attr_dict()):
            op.attributes.update(attrs)
        return op

    def __init__(self, value: DenseIntOrFPElementsAttr | DenseResourceAttr, result_type: Attribute | None = None):
        super().__init__(
            properties={"value": value},
            result_types=[result_type or value.get_type()],
        )

    def verify_(self) -> None:
        value_type = self.value.get_type()
        assert isinstance(value_type, TensorType)
        result_type = self.result.type
        expect_shape(value_type.get_shape(), result_type.get_shape(), "value", self.name)
        element = result_type.get_element_type()
        if isinstance(element, FloatFormatType | IntFormatType):
            if isinstance(self.value, DenseIntOrFPElementsAttr) and str(
                value_type.get_element_type()
            ) != "ui8":
                raise VerifyException(
                    f"{self.name}: low-bit codes must be stored as ui8, got {value_type}"
                )
        elif isinstance(self.value, DenseIntOrFPElementsAttr) and element != value_type.get_element_type():
            raise VerifyException(
                f"{self.name}: value type {value_type} does not match result type {result_type}"
            )


@irdl_op_definition
class LinearOp(IRDLOperation):
    """``y = x·Wᵀ + b`` in fp32: x ``[..., K]``, W ``[O, K]``, b ``[O]``, y ``[..., O]``."""

    name = "fpq.linear"

    input = operand_def(F32Tensor)
    weight = operand_def(F32Tensor)
    bias = opt_operand_def(F32Tensor)
    result = result_def(F32Tensor)

    traits = traits_def(Pure())

    assembly_format = (
        "$input `,` $weight (`,` $bias^)? attr-dict `:` "
        "`(` type($input) `,` type($weight) (`,` type($bias)^)? `)` `->` type($result)"
    )

    def __init__(self, x: SSAValue, w: SSAValue, b: SSAValue | None, result_type: Attribute):
        super().__init__(operands=[x, w, b], result_types=[result_type])

    def verify_(self) -> None:
        x = self.input.type.get_shape()
        w = self.weight.type.get_shape()
        expect_weight(x, w, "weight", self.name)
        expect_linear_output(x, w, self.bias, self.result, self.name)


@irdl_op_definition
class EmbeddingOp(IRDLOperation):
    """Table lookup: ``y[i..., :] = table[indices[i...], :]`` (e.g. ``class_emb[label]``).

    ``table`` is ``[N, C]`` fp32, ``indices`` an integer tensor of any shape; the
    result is ``[*indices.shape, C]``.  Negative indices count from the end (as
    ONNX ``Gather`` does); an index outside ``[-N, N)`` is an error at run time.
    """

    name = "fpq.embedding"

    table = operand_def(F32Tensor)
    indices = operand_def(TensorType[IntegerType])
    result = result_def(F32Tensor)

    traits = traits_def(Pure())

    assembly_format = (
        "$table `[` $indices `]` attr-dict `:` `(` type($table) `,` type($indices) `)` `->` type($result)"
    )

    def __init__(self, table: SSAValue, indices: SSAValue):
        rows = tensor_shape(table, "table", self.name)
        idx = tensor_shape(indices, "indices", self.name)
        super().__init__(
            operands=[table, indices], result_types=[TensorType(Float32Type(), (*idx, rows[-1]))]
        )

    def verify_(self) -> None:
        table = self.table.type.get_shape()
        if len(table) != 2:
            raise VerifyException(f"{self.name}: table must be 2-D [rows, features], got {list(table)}")
        expect_shape(
            self.result.type.get_shape(), (*self.indices.type.get_shape(), table[1]), "result", self.name
        )


class _ElementwiseOp(IRDLOperation):
    """An fp32 elementwise function of one tensor; the result has its type."""

    T: ClassVar = VarConstraint("T", irdl_to_attr_constraint(F32Tensor))
    input = operand_def(T)
    result = result_def(T)

    traits = traits_def(Pure())

    assembly_format = "$input attr-dict `:` type($result)"

    def __init__(self, x: SSAValue):
        super().__init__(operands=[x], result_types=[x.type])


@irdl_op_definition
class GeluOp(_ElementwiseOp):
    """GELU, tanh approximation: ``0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))``.

    Computed element-wise with :func:`fpqc.numerics.gelu_tanh_f32`.
    """

    name = "fpq.gelu"


@irdl_op_definition
class SiluOp(_ElementwiseOp):
    """SiLU, ``x·sigmoid(x)``, computed with :func:`fpqc.numerics.silu_f32`."""

    name = "fpq.silu"


@irdl_op_definition
class LayerNormOp(IRDLOperation):
    """Layer normalisation over the last axis, without affine parameters.

    For each row ``x[0..n)`` of the last axis, in fp32, in this order::

        s    = ((x0 + x1) + x2) + ... + x(n-1)        (left to right)
        mean = s / n
        d_i  = x_i - mean
        v    = ((d0·d0 + d1·d1) + ...) / n           (left to right)
        y_i  = d_i · rsqrt_f32(v + eps)

    ``rsqrt_f32`` is :func:`fpqc.numerics.rsqrt_f32`.
    """

    name = "fpq.layernorm"

    T: ClassVar = VarConstraint("T", irdl_to_attr_constraint(F32Tensor))
    input = operand_def(T)
    result = result_def(T)
    eps = prop_def(FloatAttr)

    irdl_options = (ParsePropInAttrDict(),)
    traits = traits_def(Pure())

    assembly_format = "$input attr-dict `:` type($result)"

    def __init__(self, x: SSAValue, eps: float):
        super().__init__(
            operands=[x], result_types=[x.type], properties={"eps": FloatAttr(eps, Float32Type())}
        )

    def verify_(self) -> None:
        if not self.input.type.get_shape():
            raise VerifyException(f"{self.name}: input must have at least one axis")
        if not self.eps.value.data > 0:
            raise VerifyException(f"{self.name}: eps must be positive, got {self.eps.value.data}")


@irdl_op_definition
class SplitOp(IRDLOperation):
    """Split the last axis into N equal chunks, one result each (N = number of results).

    Result i is ``input[..., i·C:(i+1)·C]`` with C = last axis / N, reshaped to
    the result type; the reshape may only insert or remove unit axes before
    the last one.  AdaLN uses it to cut ``ada_lin``'s ``[B, 6C]`` output into
    the six ``[B, 1, C]`` vectors (gamma1, gamma2, scale1, scale2, shift1,
    shift2) that broadcast over the tokens::

        %g1, %g2, %s1, %s2, %b1, %b2 = fpq.split %a : tensor<2x384xf32> -> (tensor<2x1x64xf32>, ...)
    """

    name = "fpq.split"

    input = operand_def(F32Tensor)
    outputs = var_result_def(F32Tensor)

    traits = traits_def(Pure())

    assembly_format = "$input attr-dict `:` type($input) `->` `(` type($outputs) `)`"

    def __init__(self, x: SSAValue, result_types: Sequence[Attribute]):
        super().__init__(operands=[x], result_types=[list(result_types)])

    def verify_(self) -> None:
        shape = self.input.type.get_shape()
        n = len(self.outputs)
        if n == 0 or not shape or shape[-1] % n:
            raise VerifyException(
                f"{self.name}: the last axis ({shape[-1] if shape else 'none'}) is not divisible "
                f"into {n} chunks"
            )
        chunk = (*shape[:-1], shape[-1] // n)
        for i, out in enumerate(self.outputs):
            got = out.type.get_shape()
            if not got or got[-1] != chunk[-1] or drop_unit_axes(got[:-1]) != drop_unit_axes(chunk[:-1]):
                raise VerifyException(
                    f"{self.name}: result {i} has shape {list(got)}; a chunk is {list(chunk)} "
                    "(only unit axes before the last may be added or removed)"
                )


@irdl_op_definition
class ModulateOp(IRDLOperation):
    """AdaLN modulation, ``y = x·(1 + scale) + shift`` in fp32, in that order.

    ``x`` is ``[B, L, C]`` (a layernorm output); ``scale`` and ``shift``
    broadcast to it (``[B, 1, C]``, one vector per sample).
    """

    name = "fpq.modulate"

    input = operand_def(F32Tensor)
    scale = operand_def(F32Tensor)
    shift = operand_def(F32Tensor)
    result = result_def(F32Tensor)

    traits = traits_def(Pure())

    assembly_format = (
        "$input `,` $scale `,` $shift attr-dict `:` "
        "`(` type($input) `,` type($scale) `,` type($shift) `)` `->` type($result)"
    )

    def __init__(self, x: SSAValue, scale: SSAValue, shift: SSAValue):
        super().__init__(operands=[x, scale, shift], result_types=[x.type])

    def verify_(self) -> None:
        x = self.input.type.get_shape()
        expect_broadcast(
            [self.scale.type.get_shape(), self.shift.type.get_shape()], x, "scale and shift", self.name
        )
        expect_shape(self.result.type.get_shape(), x, "result", self.name)


@irdl_op_definition
class ResidualOp(IRDLOperation):
    """Gated residual, ``y = x + f·gamma`` in fp32, in that order.

    ``x`` and ``f`` are ``[B, L, C]``; ``gamma`` broadcasts to them
    (``[B, 1, C]``, one gate vector per sample).
    """

    name = "fpq.residual"

    input = operand_def(F32Tensor)
    branch = operand_def(F32Tensor)
    gamma = operand_def(F32Tensor)
    result = result_def(F32Tensor)

    traits = traits_def(Pure())

    assembly_format = (
        "$input `,` $branch `,` $gamma attr-dict `:` "
        "`(` type($input) `,` type($branch) `,` type($gamma) `)` `->` type($result)"
    )

    def __init__(self, x: SSAValue, branch: SSAValue, gamma: SSAValue):
        super().__init__(operands=[x, branch, gamma], result_types=[x.type])

    def verify_(self) -> None:
        x = self.input.type.get_shape()
        expect_shape(self.branch.type.get_shape(), x, "branch", self.name)
        expect_broadcast([self.gamma.type.get_shape()], x, "gamma", self.name)
        expect_shape(self.result.type.get_shape(), x, "result", self.name)


@irdl_op_definition
class AttentionOp(IRDLOperation):
    """VAR self-attention from the packed ``mat_qkv`` output to the ``proj`` input.

    ``qkv`` is ``[B, L, 3C]``, laid out ``[q | k | v]``, each ``C = H·D`` split
    into ``H = num_heads`` heads of ``D`` channels.  Per batch, head and token,
    in fp32:

    1. ``q̂ = q · rsqrt_f32(max(Σq², eps²)) · q_scale[h]`` and
       ``k̂ = k · rsqrt_f32(max(Σk², eps²))`` (L2 normalisation, i.e.
       ``x / max(‖x‖, eps)``; the sums of squares run left to right over D);
       ``q_scale`` ``[H]`` is the learned ``exp(min(scale_mul, ln 100))``;
    2. scores ``s = q̂·k̂ᵀ`` (softmax scale 1; an fp32 matmul, like
       ``fpq.linear``), plus the additive ``mask`` operand if there is one;
    3. softmax over the keys: ``e = exp_f32(s - max s)``, keys masked out by
       ``block_causal`` contribute exactly 0, ``p = e / Σe`` (left to right);
    4. ``o = p·v``, heads concatenated back to ``[B, L, C]``.

    With ``kv_quant`` (FPQVAR's low-bit KV cache) the normalised keys ``k̂`` and
    the values ``v`` are quantized and dequantized with it, scaled along the
    head dimension (``#fpq.quant<e2m3, token>`` is one scale per token and
    head): those of earlier scales only (``kv_scope = "cached"``, the default:
    what comes out of the cache), or all of them (``kv_scope = "all"``); see
    :mod:`fpqc.dialects.fpq.kv_scope`.

    ``block_causal = array<i64: 0, b1, ..., L>`` is VAR's block-causal mask
    given by its scale boundaries (prefix sums of ``patch_nums²``): a query in
    ``[b_k, b_k+1)`` sees the keys ``[0, b_k+1)``.  Without it and without a
    ``mask`` operand every query sees every key.
    """

    name = "fpq.attention"

    qkv = operand_def(F32Tensor)
    q_scale = operand_def(F32Tensor)
    mask = opt_operand_def(F32Tensor)
    num_heads = prop_def(IntegerAttr)
    eps = prop_def(FloatAttr)
    block_causal = opt_prop_def(DenseArrayBase)
    kv_quant = opt_prop_def(QuantAttr)
    kv_scope = opt_prop_def(StringAttr)
    result = result_def(F32Tensor)

    irdl_options = (ParsePropInAttrDict(),)
    traits = traits_def(Pure())

    assembly_format = (
        "$qkv `,` $q_scale (`,` $mask^)? attr-dict `:` "
        "`(` type($qkv) `,` type($q_scale) (`,` type($mask)^)? `)` `->` type($result)"
    )

    def __init__(
        self,
        qkv: SSAValue,
        q_scale: SSAValue,
        num_heads: int,
        eps: float,
        block_causal: Sequence[int] | None = None,
        mask: SSAValue | None = None,
    ):
        b, l, c3 = tensor_shape(qkv, "qkv", self.name)
        properties: dict[str, Attribute] = {
            "num_heads": IntegerAttr(num_heads, i64),
            "eps": FloatAttr(eps, Float32Type()),
        }
        if block_causal is not None:
            properties["block_causal"] = DenseArrayBase.from_list(i64, list(block_causal))
        super().__init__(
            operands=[qkv, q_scale, mask],
            properties=properties,
            result_types=[TensorType(Float32Type(), (b, l, c3 // 3))],
        )

    def scope(self) -> KvScope | None:
        """Which keys and values ``kv_quant`` quantizes; None without it."""
        return kv_scope(self.kv_quant, self.kv_scope)

    def boundaries(self) -> tuple[int, ...] | None:
        """The ``block_causal`` scale boundaries, or None."""
        if self.block_causal is None:
            return None
        return tuple(int(v) for v in self.block_causal.get_values())

    def verify_(self) -> None:
        op = self.name
        heads = self.num_heads.value.data
        b, length, c = expect_attention(
            op, self.qkv.type.get_shape(), self.q_scale.type.get_shape(), heads, self.eps.value.data,
            self.kv_quant, "L",
        )
        check_kv_scope(op, self.kv_quant, self.kv_scope, has_scales=self.block_causal is not None)
        if self.mask is not None:
            if self.block_causal is not None:
                raise VerifyException(f"{op}: give either a mask operand or block_causal, not both")
            expect_broadcast([self.mask.type.get_shape()], (b, heads, length, length), "mask", op)
        bounds = self.boundaries()
        if bounds is not None and (
            len(bounds) < 2 or bounds[0] != 0 or bounds[-1] != length
            or any(x >= y for x, y in zip(bounds, bounds[1:]))
        ):
            raise VerifyException(
                f"{op}: block_causal boundaries {list(bounds)} must rise strictly from 0 to L = {length}"
            )
        expect_shape(self.result.type.get_shape(), (b, length, c), "result", op)
