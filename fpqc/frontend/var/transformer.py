"""The VAR transformer (Tian et al., 2024), written to match the released code.

Parameter and buffer names and shapes are those of the released checkpoints
(``var_d16.pth`` loads with ``strict=True``); for depth d, C = 64·d, H = d heads,
V = 4096, Cvae = 32, L = Σ pn² = 680 tokens::

    word_embed.{weight [C, Cvae], bias [C]}
    class_emb.weight                [num_classes + 1, C]   (row num_classes = null class)
    pos_start                       [1, first_l, C]
    pos_1LC                         [1, L, C]
    lvl_embed.weight                [K, C]                  (K = number of scales)
    blocks.{i}.attn.scale_mul_1H11  [1, H, 1, 1]
    blocks.{i}.attn.{q_bias, v_bias} [C],  buffer zero_k_bias [C]
    blocks.{i}.attn.mat_qkv.weight  [3C, C]
    blocks.{i}.attn.proj.{weight [C, C], bias [C]}
    blocks.{i}.ffn.fc1.{weight [4C, C], bias}, ffn.fc2.{weight [C, 4C], bias}
    blocks.{i}.ada_lin.1.{weight [6C, C], bias [6C]}
    head_nm.ada_lin.1.{weight [2C, C], bias [2C]}
    head.{weight [V, C], bias [V]}
    buffers lvl_1L [1, L] (scale index per token), attn_bias_for_masking [1, 1, L, L]

The forwards are written operation for operation as the released code's CPU path
(AdaLN through ``nn.Sequential(SiLU, Linear)`` + view/unbind, affine-free LayerNorm,
``F.normalize`` on q/k, ``F.scaled_dot_product_attention(..., scale=self.scale)``,
the ``main_type`` matmul probe and ``.to(main_type)`` casts, the ``[:, :ed]`` slices
with ``ed = L``, the class dropout ``torch.where(torch.rand(B) < p, ...)``), so that
both torch exporters see the graph a user's export of the released model has.
Differences from the release: no flash/xformers/fused kernels, no drop-path/dropout
(always 0 at inference), no progressive training (``prog_si``), ``shared_ada_lin``
only as the identity (no ``shared_aln`` variant), and an ``inference`` flag that
removes the class dropout from :meth:`VAR.forward`.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import VARConfig


class FFN(nn.Module):
    """``fc2(gelu_tanh(fc1(x)))``: [B, L, C] → [B, L, C]."""

    def __init__(self, in_features: int, hidden_features: int):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = nn.GELU(approximate="tanh")
        self.fc2 = nn.Linear(hidden_features, in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class SelfAttention(nn.Module):
    """Multi-head self-attention with L2-normalised q/k and a learned per-head scale.

    As released: ``scaled_dot_product_attention`` with ``scale = 1`` (q and k are unit
    vectors; the learned ``scale_mul_1H11`` multiplies q) or ``0.25 / sqrt(head_dim)``
    without the L2 norm.

    ``forward(x [B, L, C], attn_bias [1, 1, L, L] or None) -> [B, L, C]``. With
    ``kv_caching(True)`` the keys/values of every call are appended to a cache and the
    queries of the new tokens attend to all cached tokens (no mask: during inference a
    new scale sees every earlier scale and all of its own tokens).
    """

    def __init__(self, embed_dim: int, num_heads: int, attn_l2_norm: bool = True):
        super().__init__()
        assert embed_dim % num_heads == 0
        self.num_heads, self.head_dim = num_heads, embed_dim // num_heads
        self.attn_l2_norm = attn_l2_norm
        if attn_l2_norm:
            self.scale = 1.0
            self.scale_mul_1H11 = nn.Parameter(torch.full((1, num_heads, 1, 1), 4.0).log())
            self.max_scale_mul = math.log(100.0)
        else:
            self.scale = 0.25 / math.sqrt(self.head_dim)
        self.mat_qkv = nn.Linear(embed_dim, 3 * embed_dim, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(embed_dim))
        self.v_bias = nn.Parameter(torch.zeros(embed_dim))
        self.register_buffer("zero_k_bias", torch.zeros(embed_dim))
        self.proj = nn.Linear(embed_dim, embed_dim)
        self.caching = False
        self.cached_k: torch.Tensor | None = None
        self.cached_v: torch.Tensor | None = None

    def kv_caching(self, enable: bool) -> None:
        """Turn the KV cache on or off; either way the cache is emptied."""
        self.caching, self.cached_k, self.cached_v = enable, None, None

    def forward(self, x: torch.Tensor, attn_bias: torch.Tensor | None) -> torch.Tensor:
        B, L, C = x.shape
        bias = torch.cat((self.q_bias, self.zero_k_bias, self.v_bias))
        qkv = F.linear(x, self.mat_qkv.weight, bias).view(B, L, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(dim=0)  # each [B, H, L, hd]
        if self.attn_l2_norm:
            scale_mul = self.scale_mul_1H11.clamp_max(self.max_scale_mul).exp()  # [1, H, 1, 1]
            q = F.normalize(q, dim=-1).mul(scale_mul)
            k = F.normalize(k, dim=-1)
        if self.caching:
            if self.cached_k is None:
                self.cached_k, self.cached_v = k, v
            else:
                k = self.cached_k = torch.cat((self.cached_k, k), dim=2)
                v = self.cached_v = torch.cat((self.cached_v, v), dim=2)
        out = F.scaled_dot_product_attention(q, k, v, scale=self.scale, attn_mask=attn_bias, dropout_p=0.0)
        return self.proj(out.transpose(1, 2).reshape(B, L, C))


class AdaLNSelfAttn(nn.Module):
    """One VAR block: AdaLN-modulated self-attention and FFN, gated residuals.

    ``gamma1, gamma2, scale1, scale2, shift1, shift2 = ada_lin(cond)`` (each [B, 1, C]);
    ``x += attn(LN(x)·(1+scale1)+shift1)·gamma1``; ``x += ffn(LN(x)·(1+scale2)+shift2)·gamma2``.
    """

    def __init__(self, embed_dim: int, cond_dim: int, num_heads: int, mlp_ratio: float,
                 norm_eps: float, attn_l2_norm: bool):
        super().__init__()
        self.C, self.D = embed_dim, cond_dim
        self.attn = SelfAttention(embed_dim, num_heads, attn_l2_norm=attn_l2_norm)
        self.ffn = FFN(embed_dim, round(embed_dim * mlp_ratio))
        self.ln_wo_grad = nn.LayerNorm(embed_dim, eps=norm_eps, elementwise_affine=False)
        self.ada_lin = nn.Sequential(nn.SiLU(inplace=False), nn.Linear(cond_dim, 6 * embed_dim))

    def forward(self, x: torch.Tensor, cond_BD: torch.Tensor, attn_bias: torch.Tensor | None) -> torch.Tensor:
        gamma1, gamma2, scale1, scale2, shift1, shift2 = self.ada_lin(cond_BD).view(-1, 1, 6, self.C).unbind(2)
        x = x + self.attn(self.ln_wo_grad(x).mul(scale1.add(1)).add_(shift1), attn_bias=attn_bias).mul_(gamma1)
        x = x + self.ffn(self.ln_wo_grad(x).mul(scale2.add(1)).add_(shift2)).mul(gamma2)
        return x


class AdaLNBeforeHead(nn.Module):
    """``LN(x)·(1+scale)+shift`` with ``scale, shift = ada_lin(cond)``: [B, L, C] → [B, L, C]."""

    def __init__(self, C: int, D: int, norm_eps: float):
        super().__init__()
        self.C, self.D = C, D
        self.ln_wo_grad = nn.LayerNorm(C, eps=norm_eps, elementwise_affine=False)
        self.ada_lin = nn.Sequential(nn.SiLU(inplace=False), nn.Linear(D, 2 * C))

    def forward(self, x_BLC: torch.Tensor, cond_BD: torch.Tensor) -> torch.Tensor:
        scale, shift = self.ada_lin(cond_BD).view(-1, 1, 2, self.C).unbind(2)
        return self.ln_wo_grad(x_BLC).mul(scale.add(1)).add_(shift)


class VAR(nn.Module):
    """Visual AutoRegressive transformer (next-scale prediction).

    ``forward(label_B [B] int64, x_BLCv_wo_first_l [B, L - first_l, Cvae]) -> logits [B, L, V]``
    is the teacher-forcing pass over all scales with the block-causal mask. Unless
    ``self.inference`` is set it applies the released training-time class dropout
    (label replaced by the null class ``num_classes`` with probability ``cond_drop_rate``).

    Build on ``torch.device("meta")`` to inspect the full-size model without allocating.
    """

    def __init__(self, cfg: VARConfig, seed: int | None = 0, inference: bool = False):
        super().__init__()
        self.cfg = cfg
        C = cfg.C
        self.Cvae, self.V = cfg.Cvae, cfg.vocab_size
        self.depth, self.C, self.D, self.num_heads = cfg.depth, C, C, cfg.num_heads
        self.num_classes = cfg.num_classes
        self.cond_drop_rate = cfg.cond_drop_rate
        self.inference = inference
        self.patch_nums = tuple(cfg.patch_nums)
        self.L, self.first_l = cfg.L, cfg.first_l
        self.begin_ends = cfg.begin_ends
        self.num_stages_minus_1 = len(self.patch_nums) - 1

        # 1. input (word) embedding, 2. class embedding, 3. positions and levels
        self.word_embed = nn.Linear(self.Cvae, C)
        self.class_emb = nn.Embedding(self.num_classes + 1, C)
        self.pos_start = nn.Parameter(torch.zeros(1, self.first_l, C))
        self.pos_1LC = nn.Parameter(torch.zeros(1, self.L, C))
        self.lvl_embed = nn.Embedding(len(self.patch_nums), C)

        # 4. backbone (the released shared_ada_lin is the identity unless shared_aln)
        self.shared_ada_lin = nn.Identity()
        self.blocks = nn.ModuleList([
            AdaLNSelfAttn(C, self.D, cfg.num_heads, cfg.mlp_ratio, cfg.norm_eps, cfg.attn_l2_norm)
            for _ in range(cfg.depth)
        ])

        # 5. block-causal mask: token of scale k sees all tokens of scales <= k
        d = torch.cat([torch.full((pn * pn,), i) for i, pn in enumerate(self.patch_nums)]).view(1, self.L, 1)
        dT = d.transpose(1, 2)  # [1, 1, L]
        self.register_buffer("lvl_1L", dT[:, 0].contiguous())  # [1, L]
        mask = torch.where(d >= dT, 0.0, -torch.inf).reshape(1, 1, self.L, self.L)
        self.register_buffer("attn_bias_for_masking", mask.contiguous())

        # 6. head
        self.head_nm = AdaLNBeforeHead(C, self.D, cfg.norm_eps)
        self.head = nn.Linear(C, self.V)

        if seed is not None:
            self.init_weights(seed=seed)

    # ------------------------------------------------------------------ init
    @torch.no_grad()
    def init_weights(self, seed: int = 0, init_adaln: float = 0.5, init_adaln_gamma: float = 1e-5,
                     init_head: float = 0.02, init_std: float = -1.0) -> None:
        """Random init following the released ``init_weights`` (as called by
        ``build_vae_var``: std = sqrt(1/(3C)), AdaLN ×0.5, gates ×1e-5, head ×0.02),
        seeded and independent of the global RNG. Tests pass a larger
        ``init_adaln_gamma`` so the blocks are not near-identity."""
        if init_std < 0:
            init_std = (1 / self.C / 3) ** 0.5
        g = torch.Generator().manual_seed(seed)

        def tn_(t: torch.Tensor, std: float) -> None:
            if t.device.type == "meta":
                return
            t.copy_(torch.randn(t.shape, generator=g).clamp_(-2, 2).mul_(std))

        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                tn_(m.weight, init_std)
                if getattr(m, "bias", None) is not None:
                    m.bias.zero_()
        for p in (self.pos_start, self.pos_1LC):
            tn_(p, init_std)
        self.head.weight.mul_(init_head)
        self.head.bias.zero_()
        self.head_nm.ada_lin[-1].weight.mul_(init_adaln)
        self.head_nm.ada_lin[-1].bias.zero_()
        for b in self.blocks:
            b.attn.proj.weight.div_(math.sqrt(2 * self.depth))
            b.ffn.fc2.weight.div_(math.sqrt(2 * self.depth))
            w = b.ada_lin[-1].weight
            w[2 * self.C:].mul_(init_adaln)
            w[: 2 * self.C].mul_(init_adaln_gamma)
            b.ada_lin[-1].bias.zero_()
            if b.attn.attn_l2_norm:
                b.attn.scale_mul_1H11.fill_(math.log(4.0))

    # ------------------------------------------------------------------ pieces
    def get_logits(self, h: torch.Tensor, cond_BD: torch.Tensor) -> torch.Tensor:
        """[B, l, C] hidden states → [B, l, V] logits."""
        return self.head(self.head_nm(h.float(), cond_BD).float()).float()

    def lvl_pos(self) -> torch.Tensor:
        """Level + position embedding of every token: [1, L, C]."""
        return self.lvl_embed(self.lvl_1L) + self.pos_1LC

    # ------------------------------------------------------------------ teacher forcing
    def forward(self, label_B: torch.Tensor, x_BLCv_wo_first_l: torch.Tensor) -> torch.Tensor:
        """Teacher forcing over all scales.

        :param label_B: [B] int64 class labels (``num_classes`` = unconditional)
        :param x_BLCv_wo_first_l: [B, L - first_l, Cvae] VAE-space inputs of scales 1..K-1
            (see :meth:`VQVAE.idxBl_to_var_input`)
        :return: logits [B, L, V]
        """
        ed = self.L  # the released code's progressive-training end (prog_si = -1: all tokens)
        B = x_BLCv_wo_first_l.shape[0]
        if not self.inference:  # the released class dropout, applied whenever cond_drop_rate > 0
            label_B = torch.where(torch.rand(B, device=label_B.device) < self.cond_drop_rate,
                                  self.num_classes, label_B)
        sos = cond_BD = self.class_emb(label_B)
        sos = sos.unsqueeze(1).expand(B, self.first_l, -1) + self.pos_start.expand(B, self.first_l, -1)
        x_BLC = torch.cat((sos, self.word_embed(x_BLCv_wo_first_l.float())), dim=1)
        x_BLC += self.lvl_embed(self.lvl_1L[:, :ed].expand(B, -1)) + self.pos_1LC[:, :ed]

        attn_bias = self.attn_bias_for_masking[:, :, :ed, :ed]
        cond_BD_or_gss = self.shared_ada_lin(cond_BD)
        temp = x_BLC.new_ones(8, 8)  # the released mixed-precision probe
        main_type = torch.matmul(temp, temp).dtype
        x_BLC = x_BLC.to(dtype=main_type)
        cond_BD_or_gss = cond_BD_or_gss.to(dtype=main_type)
        attn_bias = attn_bias.to(dtype=main_type)
        for b in self.blocks:
            x_BLC = b(x=x_BLC, cond_BD=cond_BD_or_gss, attn_bias=attn_bias)
        return self.get_logits(x_BLC.float(), cond_BD)


def released_param_shapes(cfg: VARConfig) -> dict[str, tuple[int, ...]]:
    """Name → shape of every entry of a released-style state dict (params + buffers),
    computed on the meta device (no allocation)."""
    with torch.device("meta"):
        m = VAR(cfg, seed=None)
    return {k: tuple(v.shape) for k, v in m.state_dict().items()}


__all__ = ["FFN", "SelfAttention", "AdaLNSelfAttn", "AdaLNBeforeHead", "VAR",
           "released_param_shapes"]
