"""Kernels for the tile pass's tests, built with the op constructors: a quantized linear layer and a
whole VAR transformer block (one generation step against a KV cache), at VAR-d16 and VAR-d30 sizes.

Weights are kernel arguments (what outline-kernels makes of ``fpq.constant`` weights), so no weight
store is needed: the tile pass reads shapes and formats only.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.builder import Builder
from xdsl.dialects.builtin import (
    ArrayAttr,
    DictionaryAttr,
    FunctionType,
    IntegerAttr,
    ModuleOp,
    StringAttr,
    TensorType,
    f32,
    i64,
)
from xdsl.ir import SSAValue
from xdsl.rewriter import InsertPoint

from fpqc.dialects import fpq, hls
from fpqc.numerics import Format


@dataclass(frozen=True)
class Recipe:
    """The formats of a block's quantized layers (FPQVAR's W4A4 and W6A6)."""

    x: fpq.QuantAttr
    w: fpq.QuantAttr
    neg: fpq.QuantAttr
    pos: fpq.QuantAttr


def _q(fmt: str, granularity: str, group: int = 0) -> fpq.QuantAttr:
    return fpq.QuantAttr.get(Format.parse(fmt), granularity, group)


W4A4 = Recipe(_q("e2m1", "group", 128), _q("e2m1", "group", 128), _q("e1m2", "group", 128), _q("e2m1", "group", 128))
"""fp4: E2M1 per group of 128; fc2's input E1M2 negatives / E2M1 positives."""
W6A6 = Recipe(_q("e2m3", "token"), _q("e2m3", "channel"), _q("int6", "token"), _q("e2m3", "token"))
"""fp6: E2M3 weights per channel, activations per token; fc2's input INT6 negatives / E2M3 positives."""
RECIPES = {"fp4": W4A4, "fp6": W6A6}

D16 = dict(c=1024, heads=16, hidden=4096)
D30 = dict(c=1920, heads=30, hidden=7680)
STEP = dict(batch=2, new=256, cache=680)
"""The largest generation step of VAR with classifier-free guidance: 2 × 256 new tokens, a 680-row cache."""


class _KernelBuilder:
    def __init__(self) -> None:
        self.arg_types: list[TensorType] = []
        self.arg_names: list[str] = []
        self.ops: list = []

    def arg(self, name: str, shape: tuple[int, ...] | None, element=f32) -> int:
        """A tensor argument, or (``shape`` None) a scalar of type ``element``."""
        self.arg_types.append(element if shape is None else TensorType(element, shape))
        self.arg_names.append(name)
        return len(self.arg_types) - 1

    def weights(self, name: str, n: int, k: int, recipe: Recipe) -> tuple[int, int, int]:
        group = recipe.w.group_size_for(k) or k
        return (
            self.arg(f"{name}_w", (n, k), recipe.w.element),
            self.arg(f"{name}_s", (n, k // group)),
            self.arg(f"{name}_b", (n,)),
        )


def _kernel(name: str, arg_types, arg_names, build, updates: dict[int, int] | None = None) -> ModuleOp:
    """The kernel ``build`` makes; ``updates``: result index -> the argument it updates in place."""
    body = hls.new_kernel_body(arg_types)
    for arg, hint in zip(body.block.args, arg_names):
        arg.name_hint = hint
    b = Builder(InsertPoint.at_end(body.block))
    results = build(b, body.block.args)
    b.insert(hls.ReturnOp(*results))
    kernel = hls.KernelOp(name, FunctionType.from_lists(arg_types, [r.type for r in results]), body, "vck190", 16)
    if updates:
        kernel.res_attrs = ArrayAttr([
            DictionaryAttr({hls.UPDATES_ATTR: IntegerAttr(updates[j], i64)} if j in updates else {})
            for j in range(len(results))
        ])
    module = ModuleOp([kernel])
    module.verify()
    return module


def _linear(b: Builder, x: SSAValue, w: tuple[SSAValue, ...], recipe: Recipe, role: str) -> SSAValue:
    q = b.insert(fpq.QuantizeOp(x, recipe.x))
    op = fpq.QLinearOp(q.codes, q.scales, *w, recipe.x, recipe.w)
    op.attributes[fpq.ROLE_ATTR] = StringAttr(role)
    return b.insert(op).result


def linear_kernel(rows: int, k: int, n: int, fmt: str = "fp4") -> ModuleOp:
    """``@kernel_0(x, w, s, b) = qlinear(quantize(x), w, s, b)`` with ``rows`` rows, K = ``k``, N = ``n``."""
    recipe = RECIPES[fmt]
    kb = _KernelBuilder()
    kb.arg("x", (rows, k))
    kb.weights("fc1", n, k, recipe)

    def build(b: Builder, args) -> list[SSAValue]:
        return [_linear(b, args[0], tuple(args[1:4]), recipe, "fc1")]

    return _kernel("kernel_0", kb.arg_types, kb.arg_names, build)


def block_kernel(c: int, heads: int, hidden: int, fmt: str = "fp4", batch: int = 2, new: int = 256,
                 cache: int = 680, kv6: bool = False) -> ModuleOp:
    """One VAR block for one generation step as one kernel: AdaLN-modulated attention against a KV cache
    and the FFN, with FPQVAR's Hadamard transforms (signs folded into the modulation) and dual-format fc2.
    ``kv6``: the KV cache is E2M3 codes with a scale per token and head (FPQVAR's KV6).

    Results: the block's output and the new state of the caches.
    """
    recipe = RECIPES[fmt]
    kb = _KernelBuilder()
    x = kb.arg("x", (batch, new, c))
    vec = {name: kb.arg(name, (batch, 1, c)) for name in ("scale1", "shift1", "gamma1", "scale2", "shift2", "gamma2")}
    qkv_w = kb.weights("qkv", 3 * c, c, recipe)
    q_scale = kb.arg("q_scale", (heads,))
    kv_quant = fpq.QuantAttr.get(Format.parse("e2m3"), "token") if kv6 else None
    caches = []
    for kind in "kv":
        if kv6:
            caches.append(kb.arg(f"{kind}_cache", (batch, cache, c), fpq.FloatFormatType.from_format(kv_quant.format)))
            caches.append(kb.arg(f"{kind}_scales", (batch, cache, heads)))
        else:
            caches.append(kb.arg(f"{kind}_cache", (batch, cache, c)))
    offset = kb.arg("offset", None, i64)
    proj_w = kb.weights("proj", c, c, recipe)
    fc1_w = kb.weights("fc1", hidden, c, recipe)
    fc2_w = kb.weights("fc2", c, hidden, recipe)

    def build(b: Builder, args) -> list[SSAValue]:
        def ws(ids):
            return tuple(args[i] for i in ids)

        n1 = b.insert(fpq.LayerNormOp(args[x], 1e-6)).result
        m1 = b.insert(fpq.ModulateOp(n1, args[vec["scale1"]], args[vec["shift1"]])).result
        h1 = b.insert(fpq.HadamardOp(m1, 128)).result
        qkv = _linear(b, h1, ws(qkv_w), recipe, "mat_qkv")
        attn = b.insert(fpq.CachedAttentionOp(qkv, args[q_scale], [args[i] for i in caches], args[offset],
                                              heads, 1e-12, kv_quant))
        p = _linear(b, attn.result, ws(proj_w), recipe, "proj")
        x1 = b.insert(fpq.ResidualOp(args[x], p, args[vec["gamma1"]])).result
        n2 = b.insert(fpq.LayerNormOp(x1, 1e-6)).result
        m2 = b.insert(fpq.ModulateOp(n2, args[vec["scale2"]], args[vec["shift2"]])).result
        h2 = b.insert(fpq.HadamardOp(m2, 128)).result
        f = _linear(b, h2, ws(fc1_w), recipe, "fc1")
        g = b.insert(fpq.GeluOp(f)).result
        d = b.insert(fpq.DualQuantizeOp(g, recipe.neg, recipe.pos))
        fc2 = fpq.DualQLinearOp(d.neg_codes, d.pos_codes, d.neg_scales, d.pos_scales, *ws(fc2_w),
                                recipe.neg, recipe.pos, recipe.w)
        fc2.attributes[fpq.ROLE_ATTR] = StringAttr("fc2")
        y = b.insert(fc2).result
        x2 = b.insert(fpq.ResidualOp(x1, y, args[vec["gamma2"]])).result
        return [x2, *attn.new_caches]

    return _kernel("kernel_0", kb.arg_types, kb.arg_names, build, updates={1 + j: i for j, i in enumerate(caches)})
