"""Quantize attention's key/value cache to a low-bit format (FPQVAR's "KV6").

Sets ``kv_quant`` on every ``fpq.attention``: the normalised keys and the
values are quantized per token and head (one scale per head-dim row), as a
6-bit KV cache on the FPGA would hold them.  QKᵀ and softmax themselves stay
fp32.  ``scope=cached`` (the default, the FPQVAR paper's semantics) quantizes
what comes out of the cache -- the keys and values of earlier scales -- while
each scale attends to its own keys and values in fp32; ``scope=all`` also
quantizes the current scale's (stricter; ``kv_scope = "all"`` on the op).

Before::

    %o = fpq.attention %qkv, %s {num_heads = 2 : i64, eps = 9.99999996e-13 : f32}
        : (tensor<1x30x384xf32>, tensor<2xf32>) -> tensor<1x30x128xf32>

After (``kv-quantize{format=e2m3}``; ``scope=all`` adds ``kv_scope = "all"``)::

    %o = fpq.attention %qkv, %s {num_heads = 2 : i64, eps = 9.99999996e-13 : f32,
        kv_quant = #fpq.quant<e2m3, token>} : (...) -> tensor<1x30x128xf32>
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.utils.exceptions import VerifyException

from fpqc.dialects import fpq
from fpqc.errors import FpqcError
from fpqc.numerics import Format


@dataclass(frozen=True)
class SetKvQuant(RewritePattern):
    """Give an ``fpq.attention`` the KV-cache quantization ``quant``."""

    quant: fpq.QuantAttr
    scope: fpq.KvScope

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: fpq.AttentionOp, rewriter: PatternRewriter) -> None:
        if self.scope is fpq.KvScope.CACHED and op.block_causal is None:
            raise FpqcError(
                f"kv-quantize: {op.name} has no block_causal scales, so no earlier scales to cache; "
                "use kv-quantize{scope=all}"
            )
        scope = None if self.scope is fpq.KvScope.CACHED else StringAttr(self.scope.value)
        if op.kv_quant != self.quant or op.kv_scope != scope:
            op.kv_quant = self.quant
            op.kv_scope = scope
            rewriter.notify_op_modified(op)


@dataclass(frozen=True)
class KvQuantizePass(ModulePass):
    """Give every ``fpq.attention`` a low-bit KV cache (see module docstring)."""

    name = "kv-quantize"

    format: str = "e2m3"
    rounding: str = "rne"
    scope: str = "cached"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        scopes = [s.value for s in fpq.KvScope]
        if self.scope not in scopes:
            raise FpqcError(f"kv-quantize: scope must be one of {scopes}, got '{self.scope}'")
        fmt = Format.parse(self.format)
        try:
            quant = fpq.QuantAttr.get(fmt, "token", rounding=self.rounding)
        except VerifyException as e:
            raise FpqcError(str(e)) from None
        PatternRewriteWalker(SetKvQuant(quant, fpq.KvScope(self.scope)), apply_recursively=False).rewrite_module(op)
