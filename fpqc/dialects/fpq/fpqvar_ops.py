"""FPQVAR's ``fpq`` ops: the group-wise Hadamard transform and dual-format quantization."""

from __future__ import annotations

from typing import ClassVar

from xdsl.dialects.builtin import Float32Type, IntegerAttr, TensorType, i64
from xdsl.ir import SSAValue
from xdsl.irdl import (
    IRDLOperation,
    ParsePropInAttrDict,
    VarConstraint,
    irdl_op_definition,
    irdl_to_attr_constraint,
    operand_def,
    opt_operand_def,
    prop_def,
    result_def,
    traits_def,
)
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException

from fpqc.dialects.fpq.attributes import Granularity, QuantAttr, ScaleKind
from fpqc.dialects.fpq.quantized_ops import (
    accumulation_group_size,
    verify_quantized_linear,
)
from fpqc.dialects.fpq.shapes import (
    codes_shape,
    expect_linear_output,
    expect_shape,
    tensor_shape,
)
from fpqc.dialects.fpq.types import F32Tensor


@irdl_op_definition
class HadamardOp(IRDLOperation):
    """The online part of FPQVAR's group-wise Hadamard transform (GHT).

    Each block of ``block`` consecutive elements of the last axis ``[..., K]``
    is multiplied by ``H_block / sqrt(block)`` with the fixed fp32 addition
    order of :func:`fpqc.numerics.hadamard.fwht_f32`.  With the optional
    ``signs`` operand (``[K]``, entries ±1) the random signs are applied first,
    :func:`fpqc.numerics.hadamard.ght_f32`; without it they have been folded
    elsewhere (into the AdaLN modulation) and the op is a pure FWHT::

        %y = fpq.hadamard %x {block = 128 : i64} : tensor<1x30x256xf32>
        %y = fpq.hadamard %x, %signs {block = 128 : i64} : tensor<1x30x256xf32>, tensor<256xf32>
    """

    name = "fpq.hadamard"

    T: ClassVar = VarConstraint("T", irdl_to_attr_constraint(F32Tensor))
    input = operand_def(T)
    signs = opt_operand_def(F32Tensor)
    block = prop_def(IntegerAttr)
    result = result_def(T)

    irdl_options = (ParsePropInAttrDict(),)
    traits = traits_def(Pure())

    assembly_format = "$input (`,` $signs^)? attr-dict `:` type($input) (`,` type($signs)^)?"

    def __init__(self, x: SSAValue, block: int, signs: SSAValue | None = None):
        super().__init__(
            operands=[x, signs],
            properties={"block": IntegerAttr(block, i64)},
            result_types=[x.type],
        )

    def verify_(self) -> None:
        op = self.name
        shape = self.input.type.get_shape()
        block = self.block.value.data
        if not shape:
            raise VerifyException(f"{op}: input must have at least one axis")
        if block <= 0 or block & (block - 1):
            raise VerifyException(f"{op}: block must be a power of two, got {block}")
        if shape[-1] % block:
            raise VerifyException(
                f"{op}: block {block} does not divide the last dimension ({shape[-1]}) of the input"
            )
        if self.signs is not None:
            expect_shape(self.signs.type.get_shape(), (shape[-1],), "signs", op)


def _check_dual_quants(neg: QuantAttr, pos: QuantAttr, op: str) -> None:
    """Both sides of a dual format share one scale grouping, scale kind and rounding."""
    if neg.granularity.data not in (Granularity.TOKEN, Granularity.GROUP):
        raise VerifyException(
            f"{op}: dual-format granularity must be token or group, got '{neg.granularity.data}'"
        )
    if (neg.granularity, neg.group_size) != (pos.granularity, pos.group_size):
        raise VerifyException(
            f"{op}: neg_quant and pos_quant must have the same granularity, got "
            f"{neg} and {pos}"
        )
    if neg.scale_kind.data != ScaleKind.FP32 or pos.scale_kind.data != ScaleKind.FP32:
        raise VerifyException(f"{op}: dual-format scales are fp32")
    if neg.rounding != pos.rounding:
        raise VerifyException(
            f"{op}: neg_quant and pos_quant must round the same way, got "
            f"'{neg.rounding.data}' and '{pos.rounding.data}'"
        )


@irdl_op_definition
class DualQuantizeOp(IRDLOperation):
    """Dual-format quantization (FPQVAR's DFQ) with scales from the data.

    Per group of the last axis, negative elements (sign bit set) are quantized
    with ``neg_quant``'s format and scale ``max|x_neg| / neg_max``, the others
    with ``pos_quant``'s and ``max x_pos / pos_max``, as
    :func:`fpqc.numerics.dual_format.compute_dual_scales` and
    :func:`~fpqc.numerics.dual_format.dual_quantize` define.  The results are
    two code planes of the input's shape (an element's code on the other side
    is 0) and the two fp32 scale tensors::

        %nc, %pc, %sn, %sp = fpq.dual_quantize %x
            {neg_quant = #fpq.quant<e1m2, group 128>, pos_quant = #fpq.quant<e2m1, group 128>}
            : tensor<8x256xf32> -> (tensor<8x256x!fpq.float<e1m2>>, tensor<8x256x!fpq.float<e2m1>>,
                                    tensor<8x2xf32>, tensor<8x2xf32>)
    """

    name = "fpq.dual_quantize"

    input = operand_def(F32Tensor)
    neg_quant = prop_def(QuantAttr)
    pos_quant = prop_def(QuantAttr)

    irdl_options = (ParsePropInAttrDict(),)
    neg_codes = result_def(TensorType)
    pos_codes = result_def(TensorType)
    neg_scales = result_def(F32Tensor)
    pos_scales = result_def(F32Tensor)

    traits = traits_def(Pure())

    assembly_format = (
        "$input attr-dict `:` type($input) `->` `(` type($neg_codes) `,` type($pos_codes) `,` "
        "type($neg_scales) `,` type($pos_scales) `)`"
    )

    def __init__(self, x: SSAValue, neg_quant: QuantAttr, pos_quant: QuantAttr):
        shape = tensor_shape(x, "input", self.name)
        scales = TensorType(Float32Type(), neg_quant.scale_shape(shape))
        super().__init__(
            operands=[x],
            properties={"neg_quant": neg_quant, "pos_quant": pos_quant},
            result_types=[
                TensorType(neg_quant.element, shape),
                TensorType(pos_quant.element, shape),
                scales,
                scales,
            ],
        )

    def verify_(self) -> None:
        op = self.name
        shape = self.input.type.get_shape()
        _check_dual_quants(self.neg_quant, self.pos_quant, op)
        self.neg_quant.check_divides(shape, f"the input of {op}")
        expect_shape(codes_shape(self.neg_codes, self.neg_quant, "neg codes", op), shape, "neg codes", op)
        expect_shape(codes_shape(self.pos_codes, self.pos_quant, "pos codes", op), shape, "pos codes", op)
        scales = self.neg_quant.scale_shape(shape)
        expect_shape(self.neg_scales.type.get_shape(), scales, "neg scales", op)
        expect_shape(self.pos_scales.type.get_shape(), scales, "pos scales", op)


@irdl_op_definition
class DualQLinearOp(IRDLOperation):
    """A linear layer on a dual-format activation with exact accumulation.

    Inputs: the two code planes ``[..., K]`` and two scale tensors of
    ``fpq.dual_quantize``, weight codes ``[O, K]`` with scales (``w_quant`` as
    in ``fpq.qlinear``), optional fp32 bias ``[O]``.  Per group of the finer
    of the two groupings the negative plane's and the positive plane's exact
    integer dot products with the weight codes are combined in fp32, the
    negative side's term first (:func:`fpqc.numerics.dual_format.dual_qlinear`)::

        %y = fpq.dual_qlinear %nc, %pc, %sn, %sp, %wc, %ws, %b {neg_quant = #fpq.quant<e1m2, group 128>,
            pos_quant = #fpq.quant<e2m1, group 128>, w_quant = #fpq.quant<e2m1, group 128>}
            : (...) -> tensor<8x64xf32>
    """

    name = "fpq.dual_qlinear"

    neg_codes = operand_def(TensorType)
    pos_codes = operand_def(TensorType)
    neg_scales = operand_def(F32Tensor)
    pos_scales = operand_def(F32Tensor)
    weight_codes = operand_def(TensorType)
    weight_scales = operand_def(F32Tensor)
    bias = opt_operand_def(F32Tensor)
    neg_quant = prop_def(QuantAttr)
    pos_quant = prop_def(QuantAttr)
    w_quant = prop_def(QuantAttr)

    irdl_options = (ParsePropInAttrDict(),)
    result = result_def(F32Tensor)

    traits = traits_def(Pure())

    assembly_format = (
        "$neg_codes `,` $pos_codes `,` $neg_scales `,` $pos_scales `,` $weight_codes `,` "
        "$weight_scales (`,` $bias^)? attr-dict `:` `(` type($neg_codes) `,` type($pos_codes) `,` "
        "type($neg_scales) `,` type($pos_scales) `,` type($weight_codes) `,` type($weight_scales) "
        "(`,` type($bias)^)? `)` `->` type($result)"
    )

    def __init__(
        self,
        neg_codes: SSAValue,
        pos_codes: SSAValue,
        neg_scales: SSAValue,
        pos_scales: SSAValue,
        w_codes: SSAValue,
        w_scales: SSAValue,
        bias: SSAValue | None,
        neg_quant: QuantAttr,
        pos_quant: QuantAttr,
        w_quant: QuantAttr,
    ):
        x_shape = tensor_shape(neg_codes, "neg codes", self.name)
        w_shape = tensor_shape(w_codes, "weight codes", self.name)
        super().__init__(
            operands=[neg_codes, pos_codes, neg_scales, pos_scales, w_codes, w_scales, bias],
            properties={"neg_quant": neg_quant, "pos_quant": pos_quant, "w_quant": w_quant},
            result_types=[TensorType(Float32Type(), (*x_shape[:-1], w_shape[0]))],
        )

    def combine_group_size(self) -> int:
        """Elements per exactly accumulated partial sum: the finer of the two groupings."""
        k = self.weight_codes.type.get_shape()[1]
        return accumulation_group_size(self.neg_quant, self.w_quant, k)

    def verify_(self) -> None:
        op = self.name
        _check_dual_quants(self.neg_quant, self.pos_quant, op)
        x = codes_shape(self.neg_codes, self.neg_quant, "neg codes", op)
        expect_shape(codes_shape(self.pos_codes, self.pos_quant, "pos codes", op), x, "pos codes", op)
        w = codes_shape(self.weight_codes, self.w_quant, "weight codes", op)
        verify_quantized_linear(x, self.neg_quant, w, self.w_quant, op)
        scales = self.neg_quant.scale_shape(x)
        expect_shape(self.neg_scales.type.get_shape(), scales, "neg scales", op)
        expect_shape(self.pos_scales.type.get_shape(), scales, "pos scales", op)
        expect_shape(self.weight_scales.type.get_shape(), self.w_quant.scale_shape(w), "weight scales", op)
        expect_linear_output(x, w, self.bias, self.result, op)
