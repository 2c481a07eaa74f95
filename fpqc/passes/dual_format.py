"""Dual-format quantization (FPQVAR's DFQ) of selected linear layers' inputs.

Runs after ``quantize``.  Each ``fpq.quantize`` → ``fpq.qlinear`` pair whose
qlinear has a selected ``fpq.role`` (by default ``fc2``, whose input is the
GELU output: mostly small negatives, a few large positives) becomes
``fpq.dual_quantize`` → ``fpq.dual_qlinear``: negatives on the dual format's
negative grid with their own scale, positives on its positive grid with
theirs, with the original scale grouping (token or group N) and rounding.
The weight codes and scales are the qlinear's, unchanged.

Options:

``format``
    A :meth:`DualFormat.parse` name: ``dfq-w4a4`` (= ``e1m2/e2m1``, the
    default), ``dfq-w6a6`` (= ``int6/e2m3``), ``mixedformat``
    (= ``e2m1/e2m1``) or ``"<neg>/<pos>"`` (quoted, e.g. ``format="e1m2/e2m1"``).
``roles``
    The ``fpq.role`` values of the qlinears to consider (default ``fc2``).
``mode``
    ``auto`` (default): apply where the quantized activation is produced by an
    ``fpq.gelu`` (the imbalanced distribution DFQ is made for); ``force``:
    apply to every selected role; ``forbid``: never apply (the pass is a
    no-op, for baselines that name it in a pipeline).

Before::

    %g = fpq.gelu %h : tensor<8x256xf32>
    %xc, %xs = fpq.quantize %g {quant = #fpq.quant<e2m1, group 128>}
        : tensor<8x256xf32> -> (tensor<8x256x!fpq.float<e2m1>>, tensor<8x2xf32>)
    %y = fpq.qlinear %xc, %xs, %wc, %ws, %b {x_quant = #fpq.quant<e2m1, group 128>,
        w_quant = #fpq.quant<e2m1, group 128>, fpq.role = "fc2"} : (...) -> tensor<8x64xf32>

After (``dual-format{format=dfq-w4a4}``)::

    %g = fpq.gelu %h : tensor<8x256xf32>
    %nc, %pc, %sn, %sp = fpq.dual_quantize %g {neg_quant = #fpq.quant<e1m2, group 128>,
        pos_quant = #fpq.quant<e2m1, group 128>} : tensor<8x256xf32> -> (...)
    %y = fpq.dual_qlinear %nc, %pc, %sn, %sp, %wc, %ws, %b {neg_quant = #fpq.quant<e1m2, group 128>,
        pos_quant = #fpq.quant<e2m1, group 128>, w_quant = #fpq.quant<e2m1, group 128>,
        fpq.role = "fc2"} : (...) -> tensor<8x64xf32>
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.transforms.dead_code_elimination import region_dce

from fpqc.dialects import fpq
from fpqc.errors import FpqcError
from fpqc.numerics.dual_format import DualFormat
from fpqc.passes.role_options import check_roles

MODES = ("auto", "force", "forbid")


@dataclass
class DualFormatLinearInputs(RewritePattern):
    dual: DualFormat
    roles: tuple[str, ...]
    force: bool

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: fpq.QLinearOp, rewriter: PatternRewriter) -> None:
        role = fpq.role_of(op)
        if role not in self.roles:
            return
        quantize = op.input_codes.owner
        if not isinstance(quantize, fpq.QuantizeOp) or op.input_scales.owner is not quantize:
            return
        if not self.force and not isinstance(quantize.input.owner, fpq.GeluOp):
            return
        quant = op.x_quant
        if quant.granularity.data not in ("token", "group"):
            raise FpqcError(
                f"dual-format needs the {role} input quantized per token or per group, "
                f"not per {quant.granularity.data}; quantize with act-granularity=token or group"
            )
        if quant.scale_kind.data != "fp32":
            raise FpqcError(
                f"dual-format scales are fp32, but the {role} input is quantized with "
                f"{quant.scale_kind.data} scales; quantize it with scale=fp32"
            )
        neg_quant, pos_quant = (
            fpq.QuantAttr.get(fmt, quant.granularity.data, quant.group_size.data, "fp32", quant.rounding.data)
            for fmt in (self.dual.neg, self.dual.pos)
        )
        dual_quantize = fpq.DualQuantizeOp(quantize.input, neg_quant, pos_quant)
        for value, hint in zip(dual_quantize.results, ("x_neg_codes", "x_pos_codes", "x_neg_scales", "x_pos_scales")):
            value.name_hint = hint
        dual_qlinear = fpq.DualQLinearOp(
            *dual_quantize.results,
            op.weight_codes,
            op.weight_scales,
            op.bias,
            neg_quant,
            pos_quant,
            op.w_quant,
        )
        dual_qlinear.attributes.update(op.attributes)
        rewriter.replace(op, [dual_quantize, dual_qlinear], [dual_qlinear.result])


@dataclass(frozen=True)
class DualFormatPass(ModulePass):
    """Dual-format quantization of selected linear inputs (see module docstring)."""

    name = "dual-format"

    format: str = "dfq-w4a4"
    roles: tuple[str, ...] = ("fc2",)
    mode: str = "auto"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        check_roles(self.name, "roles", self.roles)
        if self.mode not in MODES:
            raise FpqcError(f"unknown dual-format mode '{self.mode}' (use {', '.join(MODES)})")
        dual = DualFormat.parse(self.format)
        if self.mode == "forbid":
            return
        pattern = DualFormatLinearInputs(dual, self.roles, self.mode == "force")
        PatternRewriteWalker(pattern, apply_recursively=False).rewrite_module(op)
        region_dce(op.body)
