"""The configuration of a VAR, read off its raised teacher-forcing graph.

An ONNX export of the released code carries no ``fpqc.var_config`` metadata; after
``raise-onnx-to-fpq`` the graph itself says what the configuration is::

    fpq.attention ×depth {num_heads = H, block_causal = [0, 1, 5, ..., L]}
                                     → depth, num_heads, patch_nums (√ of each scale's tokens)
    fpq.linear {fpq.role = "mat_qkv"} weight [3C, C]   → embed_dim C
    fpq.linear {fpq.role = "fc1"}     weight [4C, C]   → mlp_ratio
    fpq.linear {fpq.role = "head"}    weight [V, C]    → vocab_size
    fpq.linear {fpq.role = "word_embed"} weight [C, Cvae] → Cvae
    fpq.embedding of a graph input, table [classes + 1, C] → num_classes
    fpq.layernorm {eps}                                → norm_eps

The VQVAE fields are not in the graph; they come from the VQVAE checkpoint
(:mod:`fpqc.frontend.var.vqvae_checkpoint`) or stay at the released values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from xdsl.dialects.builtin import ModuleOp
from xdsl.dialects.func import FuncOp
from xdsl.ir import BlockArgument

from fpqc.dialects import fpq
from fpqc.errors import FpqcError

from .config import VARConfig


def _weight_shape(linears: Mapping[str, fpq.LinearOp], role: str, source: Path) -> tuple[int, ...]:
    if role not in linears:
        raise FpqcError(
            f"{source}: no {role} linear layer was recognised, so the VAR configuration cannot be read from the graph"
        )
    return tuple(linears[role].weight.type.get_shape())


def infer_var_config(module: ModuleOp, source: Path) -> VARConfig:
    """The :class:`VARConfig` of the raised VAR ``module`` (see the module docstring).

    ``source`` names the model in errors; the ``vae_*`` fields keep their released values.
    Only ``@main``, the teacher-forcing forward, is read (not the step functions derived from it).
    """
    main = next((f for f in module.ops if isinstance(f, FuncOp) and f.sym_name.data == "main"), module)
    attentions = [op for op in main.walk() if isinstance(op, fpq.AttentionOp)]
    if not attentions:
        raise FpqcError(
            f"{source}: no VAR attention was recognised, so the graph is not a VAR teacher-forcing forward "
            "whose configuration fpqc can read; export the model's forward(label_B, x_BLCv_wo_first_l)"
        )
    bounds = {tuple(op.block_causal.get_values()) if op.block_causal is not None else None for op in attentions}
    heads = {op.num_heads.value.data for op in attentions}
    if len(bounds) != 1 or None in bounds or len(heads) != 1:
        raise FpqcError(
            f"{source}: the attention layers differ in their mask or head count, or have no block-causal mask; "
            "not a VAR teacher-forcing forward"
        )
    (boundaries,) = bounds
    patch_nums = []
    for begin, end in zip(boundaries, boundaries[1:]):
        side = math.isqrt(end - begin)
        if side * side != end - begin:
            raise FpqcError(
                f"{source}: a scale of the block-causal mask has {end - begin} tokens, not a square token map"
            )
        patch_nums.append(side)

    linears: dict[str, fpq.LinearOp] = {}
    for op in main.walk():
        if isinstance(op, fpq.LinearOp) and (role := fpq.role_of(op)) is not None:
            linears.setdefault(role, op)
    _, width = _weight_shape(linears, "mat_qkv", source)
    hidden, _ = _weight_shape(linears, "fc1", source)
    vocab, _ = _weight_shape(linears, "head", source)
    _, cvae = _weight_shape(linears, "word_embed", source)
    class_tables = [
        op.table.type.get_shape()[0]
        for op in main.walk()
        if isinstance(op, fpq.EmbeddingOp) and isinstance(op.indices, BlockArgument)
    ]
    if len(class_tables) != 1:
        raise FpqcError(f"{source}: no class embedding indexed by the label input was found")
    norms = [op.eps.value.data for op in main.walk() if isinstance(op, fpq.LayerNormOp)]
    try:
        return VARConfig(
            depth=len(attentions),
            patch_nums=tuple(patch_nums),
            vocab_size=vocab,
            Cvae=cvae,
            embed_dim=width,
            num_heads=heads.pop(),
            mlp_ratio=hidden / width,
            num_classes=class_tables[0] - 1,
            norm_eps=float(str(np.float32(norms[0]))) if norms else VARConfig.norm_eps,
            attn_l2_norm=True,
        )
    except ValueError as e:
        raise FpqcError(f"{source}: {e}") from None
