"""Quantize linear layers: weights offline, activations dynamically, round-to-nearest.

Every ``fpq.linear`` whose weight is a constant becomes an ``fpq.qlinear``:
the weight is quantized now (scales ``absmax / max_value`` per output channel,
per group of ``group-size`` along the input, or per tensor), and an
``fpq.quantize`` in front of it quantizes the activation at run time (per
token, per group, or per tensor), as the FPGA's quantizer does.

Options: ``keep-float`` (linear layers left in float, by the ``fpq.role``
attribute the raise pass sets; by default the ones FPQVAR keeps in higher
precision: ``ada_lin,head_ada_lin,word_embed,head``; ``keep-float=none``
quantizes every constant-weight linear), ``weight-format``/``act-format`` (any :meth:`Format.parse` name, e.g.
``e2m1``, ``e4m3``, ``int4``), ``weight-granularity`` (channel | group |
tensor), ``act-granularity`` (token | group | tensor), ``group-size``,
``rounding`` (rne | ties-up | ties-away), ``scale`` (fp32 | e8m0),
``weight-rounding`` (``rtn``: every weight to its nearest grid point;
``gptq``: GPTQ, :mod:`fpqc.quant.gptq`, which needs the ``fpq.input_hessian``
that ``input-hessians`` attaches; the pass drops that attribute).

A linear that carries ``fpq.weight_format`` / ``fpq.act_format`` (set by
``choose-formats``) is quantized in those formats instead, with the pass's
granularity, scales and rounding; the attributes do not stay on the qlinear.

Before::

    %y = fpq.linear %x, %w, %b : (tensor<8x256xf32>, tensor<64x256xf32>, tensor<64xf32>) -> tensor<8x64xf32>

After (``quantize{weight-format=e2m1 act-format=e2m1 weight-granularity=group act-granularity=group group-size=128}``)::

    %wc = fpq.constant dense_resource<w.codes> : tensor<64x256x!fpq.float<e2m1>>
    %ws = fpq.constant dense_resource<w.scales> : tensor<64x2xf32>
    %xc, %xs = fpq.quantize %x {quant = #fpq.quant<e2m1, group 128>}
        : tensor<8x256xf32> -> (tensor<8x256x!fpq.float<e2m1>>, tensor<8x2xf32>)
    %y = fpq.qlinear %xc, %xs, %wc, %ws, %b {w_quant = #fpq.quant<e2m1, group 128>,
        x_quant = #fpq.quant<e2m1, group 128>} : (...) -> tensor<8x64xf32>
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, StringAttr, TensorType
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.transforms.dead_code_elimination import region_dce
from xdsl.utils.exceptions import VerifyException

from fpqc.dialects import fpq
from fpqc.errors import FpqcError
from fpqc.passes.role_options import check_roles
from fpqc.numerics import Format
from fpqc.numerics.scales import quantize_weight
from fpqc.passes.constants import constant_entry, constant_key, constant_view, is_constant, new_constant
from fpqc.passes.input_hessians import INPUT_HESSIAN_ATTR, input_hessian_entry
from fpqc.quant.gptq import gptq_quantize_weight
from fpqc.weights import Entry, lazy_results, read_entry

HIGHER_PRECISION_ROLES = ("ada_lin", "head_ada_lin", "word_embed", "head")
WEIGHT_FORMAT_ATTR = "fpq.weight_format"
ACT_FORMAT_ATTR = "fpq.act_format"
"""A linear's own weight / activation format (a :meth:`Format.parse` name), replacing the pass's."""
WEIGHT_ROUNDINGS = ("rtn", "gptq")


def _with_format(quant: fpq.QuantAttr, op: fpq.LinearOp, attr: str) -> fpq.QuantAttr:
    """``quant`` in the format ``op``'s ``attr`` names, or ``quant`` itself when ``op`` has none."""
    name = op.attributes.get(attr)
    if not isinstance(name, StringAttr):
        return quant
    return fpq.QuantAttr.get(
        Format.parse(name.data), quant.granularity.data, quant.group_size.data, quant.scale_kind.data,
        quant.rounding.data,
    )


@dataclass
class QuantizeLinearLayers(RewritePattern):
    weight_quant: fpq.QuantAttr
    act_quant: fpq.QuantAttr
    keep_float: tuple[str, ...]
    weight_rounding: str

    def selected(self, op: fpq.LinearOp) -> bool:
        return fpq.role_of(op) not in self.keep_float

    def quantized_weight(self, op: fpq.LinearOp, quant: fpq.QuantAttr) -> tuple[Entry, Entry]:
        """The weight's ``(codes, scales)``, rounded to nearest or by GPTQ.

        Rounded to nearest, they are lazy weights computed together on the first read of either
        and then kept: ``fpqc compile`` reads them first in its background writer, beside the passes
        that follow (a VAR-d16's 201 million weights: about 2 s off the compile's main thread)."""
        shape = op.weight.type.get_shape()
        group = quant.group_size_for(shape[1])
        args = (quant.format, group, quant.scale_kind.data, quant.rounding.data)
        if self.weight_rounding == "rtn":
            weight = constant_entry(op.weight)
            codes, scales = lazy_results(lambda: quantize_weight(read_entry(weight), *args),
                                         [(shape, np.uint8), (quant.scale_shape(shape), np.float32)])
            return codes, scales
        hessian = input_hessian_entry(op)
        if hessian is None:
            raise FpqcError(
                f"quantize{{weight-rounding=gptq}}: the {fpq.role_of(op) or 'linear'} layer with weight "
                f"'{constant_key(op.weight) or 'inline'}' has no input Hessian; run "
                f'input-hessians{{calib="calib.npz"}} before the passes that transform its input'
            )
        return gptq_quantize_weight(constant_view(op.weight), read_entry(hessian), *args)

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: fpq.LinearOp, rewriter: PatternRewriter) -> None:
        if not self.selected(op):
            return
        if not is_constant(op.weight):
            return
        weight_quant = _with_format(self.weight_quant, op, WEIGHT_FORMAT_ATTR)
        act_quant = _with_format(self.act_quant, op, ACT_FORMAT_ATTR)
        shape = op.weight.type.get_shape()
        in_features = shape[1]
        for quant, what in ((weight_quant, "weight"), (act_quant, "activation")):
            group = quant.group_size_for(in_features)
            if group is not None and in_features % group != 0:
                raise FpqcError(
                    f"{what} group size {group} does not divide the {in_features} input features "
                    f"of the linear layer with weight {list(shape)}; "
                    f"choose a group size that divides {in_features}"
                )
        codes, scales = self.quantized_weight(op, weight_quant)
        hint = constant_key(op.weight) or "weight"
        codes_op = new_constant(hint + ".codes", codes, TensorType(weight_quant.element, shape))
        scales_op = new_constant(hint + ".scales", scales)
        quantize_op = fpq.QuantizeOp(op.input, act_quant)
        qlinear = fpq.QLinearOp(
            quantize_op.codes,
            quantize_op.scales,
            codes_op.result,
            scales_op.result,
            op.bias,
            act_quant,
            weight_quant,
        )
        qlinear.attributes.update(op.attributes)
        for attr in (WEIGHT_FORMAT_ATTR, ACT_FORMAT_ATTR):
            qlinear.attributes.pop(attr, None)
        codes_op.result.name_hint = "w_codes"
        scales_op.result.name_hint = "w_scales"
        quantize_op.codes.name_hint = "x_codes"
        quantize_op.scales.name_hint = "x_scales"
        rewriter.replace(op, [codes_op, scales_op, quantize_op, qlinear])


def _quant(
    fmt_name: str, granularity: str, group_size: int, scale: str, rounding: str, allowed: tuple[str, ...]
) -> fpq.QuantAttr:
    """The quantization of the pass options; FpqcError for a value ``fpq.qlinear`` does not take."""
    fmt = Format.parse(fmt_name)
    if granularity not in allowed:
        raise FpqcError(f"unknown granularity '{granularity}' (use {', '.join(allowed)})")
    try:
        return fpq.QuantAttr.get(fmt, granularity, group_size, scale, rounding)
    except VerifyException as e:
        raise FpqcError(str(e)) from None


@dataclass(frozen=True)
class QuantizeLinearPass(ModulePass):
    """Quantize every constant-weight ``fpq.linear`` (see module docstring)."""

    name = "quantize"

    keep_float: tuple[str, ...] = HIGHER_PRECISION_ROLES
    weight_format: str = "e2m1"
    act_format: str = "e2m1"
    weight_granularity: str = "group"
    act_granularity: str = "group"
    group_size: int = 128
    rounding: str = "rne"
    scale: str = "fp32"
    weight_rounding: str = "rtn"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        check_roles(self.name, "keep-float", self.keep_float, "none")
        if self.weight_rounding not in WEIGHT_ROUNDINGS:
            raise FpqcError(
                f"quantize: unknown weight-rounding '{self.weight_rounding}' (use {', '.join(WEIGHT_ROUNDINGS)})"
            )
        pattern = QuantizeLinearLayers(
            _quant(
                self.weight_format,
                self.weight_granularity,
                self.group_size,
                self.scale,
                self.rounding,
                fpq.QLinearOp.ALLOWED_W,
            ),
            _quant(
                self.act_format,
                self.act_granularity,
                self.group_size,
                self.scale,
                self.rounding,
                fpq.QLinearOp.ALLOWED_X,
            ),
            self.keep_float,
            self.weight_rounding,
        )
        PatternRewriteWalker(pattern, apply_recursively=False).rewrite_module(op)
        for linear in op.walk():
            linear.attributes.pop(INPUT_HESSIAN_ATTR, None)
        region_dce(op.body)
