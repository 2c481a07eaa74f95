"""The quantized ``fpq`` ops: tensors of low-bit codes with fp32 scales."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from xdsl.dialects.builtin import Float32Type, TensorType
from xdsl.ir import SSAValue
from xdsl.irdl import (
    IRDLOperation,
    ParsePropInAttrDict,
    irdl_op_definition,
    operand_def,
    opt_operand_def,
    prop_def,
    result_def,
    traits_def,
)
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException

from fpqc.dialects.fpq.attributes import Granularity, QuantAttr
from fpqc.dialects.fpq.shapes import (
    codes_shape,
    expect_linear_output,
    expect_shape,
    expect_weight,
    tensor_shape,
)
from fpqc.dialects.fpq.types import F32Tensor


@irdl_op_definition
class QuantizeOp(IRDLOperation):
    """Quantize an fp32 tensor with scales computed from its own values.

    ``scales = absmax(group) / max_value`` and ``codes = encode(x / scale)``,
    exactly as :func:`fpqc.numerics.compute_scales` and
    :func:`fpqc.numerics.quantize` define::

        %c, %s = fpq.quantize %x {quant = #fpq.quant<e2m1, group 128>}
            : tensor<8x256xf32> -> (tensor<8x256x!fpq.float<e2m1>>, tensor<8x2xf32>)
    """

    name = "fpq.quantize"

    input = operand_def(F32Tensor)
    quant = prop_def(QuantAttr)

    irdl_options = (ParsePropInAttrDict(),)
    codes = result_def(TensorType)
    scales = result_def(F32Tensor)

    traits = traits_def(Pure())

    assembly_format = (
        "$input attr-dict `:` type($input) `->` `(` type($codes) `,` type($scales) `)`"
    )

    def __init__(self, x: SSAValue, quant: QuantAttr):
        shape = tensor_shape(x, "input", self.name)
        super().__init__(
            operands=[x],
            properties={"quant": quant},
            result_types=[
                TensorType(quant.element, shape),
                TensorType(Float32Type(), quant.scale_shape(shape)),
            ],
        )

    def verify_(self) -> None:
        shape = self.input.type.get_shape()
        self.quant.check_divides(shape, f"the input of {self.name}")
        expect_shape(codes_shape(self.codes, self.quant, "codes", self.name), shape, "codes", self.name)
        expect_shape(self.scales.type.get_shape(), self.quant.scale_shape(shape), "scales", self.name)


@irdl_op_definition
class DequantizeOp(IRDLOperation):
    """``decode(codes) · scale`` in fp32."""

    name = "fpq.dequantize"

    codes = operand_def(TensorType)
    scales = operand_def(F32Tensor)
    quant = prop_def(QuantAttr)

    irdl_options = (ParsePropInAttrDict(),)
    result = result_def(F32Tensor)

    traits = traits_def(Pure())

    assembly_format = (
        "$codes `,` $scales attr-dict `:` `(` type($codes) `,` type($scales) `)` `->` type($result)"
    )

    def __init__(self, codes: SSAValue, scales: SSAValue, quant: QuantAttr):
        shape = tensor_shape(codes, "codes", self.name)
        super().__init__(
            operands=[codes, scales],
            properties={"quant": quant},
            result_types=[TensorType(Float32Type(), shape)],
        )

    def verify_(self) -> None:
        shape = codes_shape(self.codes, self.quant, "codes", self.name)
        self.quant.check_divides(shape, "codes")
        expect_shape(self.scales.type.get_shape(), self.quant.scale_shape(shape), "scales", self.name)
        expect_shape(self.result.type.get_shape(), shape, "result", self.name)


@irdl_op_definition
class QLinearOp(IRDLOperation):
    """A linear layer on quantized operands with exact accumulation.

    Inputs: activation codes ``[..., K]`` with scales, weight codes ``[O, K]``
    with scales (both scaled along K), optional fp32 bias ``[O]``.  Per group of
    the finer of the two granularities the dot product of the codes is an
    exact integer (the FPGA's LUT products summed in a wide accumulator); the
    groups are combined in fp32 in ascending order,
    ``acc += (sx·sw) · p``, then ``y = acc + b``
    (:func:`fpqc.numerics.qlinear`)::

        %y = fpq.qlinear %c, %s, %wc, %ws, %b
            {x_quant = #fpq.quant<e2m1, group 128>, w_quant = #fpq.quant<e2m1, group 128>}
            : (...) -> tensor<8x64xf32>
    """

    name = "fpq.qlinear"

    input_codes = operand_def(TensorType)
    input_scales = operand_def(F32Tensor)
    weight_codes = operand_def(TensorType)
    weight_scales = operand_def(F32Tensor)
    bias = opt_operand_def(F32Tensor)
    x_quant = prop_def(QuantAttr)
    w_quant = prop_def(QuantAttr)

    irdl_options = (ParsePropInAttrDict(),)
    result = result_def(F32Tensor)

    traits = traits_def(Pure())

    assembly_format = (
        "$input_codes `,` $input_scales `,` $weight_codes `,` $weight_scales (`,` $bias^)? "
        "attr-dict `:` `(` type($input_codes) `,` type($input_scales) `,` type($weight_codes) "
        "`,` type($weight_scales) (`,` type($bias)^)? `)` `->` type($result)"
    )

    ALLOWED_X: ClassVar[tuple[Granularity, ...]] = (Granularity.TOKEN, Granularity.GROUP, Granularity.TENSOR)
    ALLOWED_W: ClassVar[tuple[Granularity, ...]] = (Granularity.CHANNEL, Granularity.GROUP, Granularity.TENSOR)

    def __init__(
        self,
        x_codes: SSAValue,
        x_scales: SSAValue,
        w_codes: SSAValue,
        w_scales: SSAValue,
        bias: SSAValue | None,
        x_quant: QuantAttr,
        w_quant: QuantAttr,
    ):
        x_shape = tensor_shape(x_codes, "input codes", self.name)
        w_shape = tensor_shape(w_codes, "weight codes", self.name)
        super().__init__(
            operands=[x_codes, x_scales, w_codes, w_scales, bias],
            properties={"x_quant": x_quant, "w_quant": w_quant},
            result_types=[TensorType(Float32Type(), (*x_shape[:-1], w_shape[0]))],
        )

    def combine_group_size(self) -> int:
        """Elements per exactly accumulated partial sum: the finer of the two groupings."""
        k = self.weight_codes.type.get_shape()[1]
        return accumulation_group_size(self.x_quant, self.w_quant, k)

    def verify_(self) -> None:
        op = self.name
        x = codes_shape(self.input_codes, self.x_quant, "input codes", op)
        w = codes_shape(self.weight_codes, self.w_quant, "weight codes", op)
        verify_quantized_linear(x, self.x_quant, w, self.w_quant, op)
        expect_shape(self.input_scales.type.get_shape(), self.x_quant.scale_shape(x), "input scales", op)
        expect_shape(self.weight_scales.type.get_shape(), self.w_quant.scale_shape(w), "weight scales", op)
        expect_linear_output(x, w, self.bias, self.result, op)


def accumulation_group_size(x_quant: QuantAttr, w_quant: QuantAttr, k: int) -> int:
    """Elements per exactly accumulated partial sum of a dot product of length ``k``.

    The finer of the two groupings.
    """
    return min(q.group_size_for(k) or k for q in (x_quant, w_quant))


def verify_quantized_linear(
    x: Sequence[int], x_quant: QuantAttr, w: Sequence[int], w_quant: QuantAttr, op: str
) -> None:
    """Check a quantized linear layer's input codes ``x`` ``[..., K]``, weight codes ``w`` ``[O, K]``.

    Their shapes, and the granularities and group sizes of their quantizations.
    """
    expect_weight(x, w, "weight codes", op)
    for quant, allowed, what in (
        (x_quant, QLinearOp.ALLOWED_X, "input"),
        (w_quant, QLinearOp.ALLOWED_W, "weight"),
    ):
        if quant.granularity.data not in allowed:
            raise VerifyException(
                f"{op}: {what} granularity '{quant.granularity.data}' is not one of {', '.join(allowed)}"
            )
    x_quant.check_divides(x, "the input")
    w_quant.check_divides(w, "the weight")
    gx = x_quant.group_size_for(x[-1]) or x[-1]
    gw = w_quant.group_size_for(w[1]) or w[1]
    if max(gx, gw) % min(gx, gw) != 0:
        raise VerifyException(
            f"{op}: input group size {gx} and weight group size {gw} must divide one another"
        )
