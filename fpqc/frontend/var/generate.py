"""Class-conditional sampling with VAR: next-scale prediction with a KV cache and
classifier-free guidance, following the released ``autoregressive_infer_cfg``.

Per scale k = 0..K-1 (pn = patch_nums[k], l = pn²)::

    x        = next_token_map                       [2B, l, C]   (batch doubled: [labels, null])
    x        = blocks(x) with KV cache (new tokens attend to all cached tokens, no mask)
    logits   = head(head_nm(x, cond))               [2B, l, V]
    t        = cfg · k / (K-1)
    logits   = (1+t)·logits[:B] − t·logits[B:]      [B, l, V]
    idx      = sample(top_k, then top_p, seeded generator)   [B, l]
    f_hat   += φ_k(bicubic_up(E[idx] as [B, Cvae, pn, pn]))  (no upsample at the last scale)
    next_token_map = word_embed(area_down(f_hat, pn_{k+1})) + lvl_pos[next scale], repeated ×2

then ``vae.fhat_to_img(f_hat)`` mapped from [-1, 1] to [0, 1].
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from .transformer import VAR
from .vqvae import VQVAE


def filter_top_k_top_p_(logits_BlV: torch.Tensor, top_k: int = 0, top_p: float = 0.0) -> torch.Tensor:
    """In place: set to −inf every logit outside the top-k (ties with the k-th value kept),
    then every logit outside the nucleus: sorted ascending, the entries whose cumulative
    softmax mass is ≤ 1 − top_p are removed (the largest is always kept). Returns the tensor."""
    V = logits_BlV.shape[-1]
    if top_k > 0:
        kth = logits_BlV.topk(min(top_k, V), largest=True, sorted=False, dim=-1)[0].amin(dim=-1, keepdim=True)
        logits_BlV.masked_fill_(logits_BlV < kth, -torch.inf)
    if top_p > 0:
        sorted_logits, sorted_idx = logits_BlV.sort(dim=-1, descending=False)
        sorted_remove = sorted_logits.softmax(dim=-1).cumsum_(dim=-1) <= (1 - top_p)
        sorted_remove[..., -1:] = False
        logits_BlV.masked_fill_(sorted_remove.scatter(sorted_idx.ndim - 1, sorted_idx, sorted_remove), -torch.inf)
    return logits_BlV


def sample_with_top_k_top_p_(logits_BlV: torch.Tensor, top_k: int = 0, top_p: float = 0.0,
                             rng: torch.Generator | None = None, num_samples: int = 1) -> torch.Tensor:
    """Filter (in place) then draw from softmax: [B, l, V] → indices [B, l, num_samples]."""
    B, l, V = logits_BlV.shape
    filter_top_k_top_p_(logits_BlV, top_k, top_p)
    replacement = num_samples >= 0
    num_samples = abs(num_samples)
    probs = logits_BlV.softmax(dim=-1).view(-1, V)
    return torch.multinomial(probs, num_samples=num_samples, replacement=replacement, generator=rng).view(B, l, num_samples)


def gumbel_softmax_with_rng(logits: torch.Tensor, tau: float = 1.0, hard: bool = False, eps: float = 1e-10,
                            dim: int = -1, rng: torch.Generator | None = None) -> torch.Tensor:
    """Gumbel-softmax with an explicit generator (only for ``more_smooth``)."""
    if rng is None:
        return F.gumbel_softmax(logits=logits, tau=tau, hard=hard, eps=eps, dim=dim)
    gumbels = -torch.empty_like(logits).exponential_(generator=rng).log()
    y_soft = ((logits + gumbels) / tau).softmax(dim)
    if hard:
        index = y_soft.max(dim, keepdim=True)[1]
        y_hard = torch.zeros_like(logits).scatter_(dim, index, 1.0)
        return y_hard - y_soft.detach() + y_soft
    return y_soft


@torch.no_grad()
def autoregressive_infer_cfg(var: VAR, vae: VQVAE, B: int, label_B: torch.Tensor | int | None,
                             g_seed: int | None = None, cfg: float = 1.5, top_k: int = 0, top_p: float = 0.0,
                             more_smooth: bool = False, return_trace: bool = False
                             ) -> torch.Tensor | tuple[torch.Tensor, dict[str, Any]]:
    """Generate B images [B, 3, H, W] in [0, 1].

    :param label_B: [B] int64 labels, an int for all (negative = unconditional), or None (uniform, seeded)
    :param g_seed: seed of the ``torch.Generator`` used for labels and sampling (None: global RNG)
    :param return_trace: also return ``{"logits": [per scale [2B, l, V] raw cond/uncond logits],
        "idx": [per scale [B, l]], "label_B": [B], "f_hat": [B, Cvae, h, w]}``
    """
    dev = var.lvl_1L.device
    rng = None if g_seed is None else torch.Generator(device=dev).manual_seed(g_seed)
    if label_B is None:
        uniform = torch.full((1, var.num_classes), 1.0 / var.num_classes, device=dev)
        label_B = torch.multinomial(uniform, num_samples=B, replacement=True, generator=rng).reshape(B)
    elif isinstance(label_B, int):
        label_B = torch.full((B,), var.num_classes if label_B < 0 else label_B, device=dev, dtype=torch.long)

    quant = vae.quantize
    SN = len(var.patch_nums)
    sos = cond_BD = var.class_emb(torch.cat((label_B, torch.full_like(label_B, var.num_classes)), dim=0))
    lvl_pos = var.lvl_pos()
    next_token_map = (sos.unsqueeze(1).expand(2 * B, var.first_l, -1)
                      + var.pos_start.expand(2 * B, var.first_l, -1) + lvl_pos[:, :var.first_l])
    cur_L = 0
    f_hat = sos.new_zeros(B, var.Cvae, var.patch_nums[-1], var.patch_nums[-1])
    trace: dict[str, Any] = {"logits": [], "idx": [], "label_B": label_B}

    for b in var.blocks:
        b.attn.kv_caching(True)
    try:
        for si, pn in enumerate(var.patch_nums):
            ratio = si / var.num_stages_minus_1 if SN > 1 else 0.0
            cur_L += pn * pn
            x = next_token_map
            for b in var.blocks:
                x = b(x=x, cond_BD=cond_BD, attn_bias=None)
            logits_2BlV = var.get_logits(x, cond_BD)
            if return_trace:
                trace["logits"].append(logits_2BlV.clone())
            t = cfg * ratio
            logits_BlV = (1 + t) * logits_2BlV[:B] - t * logits_2BlV[B:]
            idx_Bl = sample_with_top_k_top_p_(logits_BlV, rng=rng, top_k=top_k, top_p=top_p, num_samples=1)[:, :, 0]
            trace["idx"].append(idx_Bl)
            if not more_smooth:
                h_BlC = quant.embedding(idx_Bl)
            else:
                gum_t = max(0.27 * (1 - ratio * 0.95), 0.005)
                h_BlC = gumbel_softmax_with_rng(logits_BlV.mul(1 + ratio), tau=gum_t, hard=False, dim=-1,
                                                rng=rng) @ quant.embedding.weight.unsqueeze(0)
            h_BChw = h_BlC.transpose(1, 2).reshape(B, var.Cvae, pn, pn)
            f_hat, next_token_map = quant.get_next_autoregressive_input(si, SN, f_hat, h_BChw)
            if si != SN - 1:
                next_token_map = next_token_map.view(B, var.Cvae, -1).transpose(1, 2)
                next_token_map = var.word_embed(next_token_map) + lvl_pos[:, cur_L:cur_L + var.patch_nums[si + 1] ** 2]
                next_token_map = next_token_map.repeat(2, 1, 1)
    finally:
        for b in var.blocks:
            b.attn.kv_caching(False)

    img = vae.fhat_to_img(f_hat).add(1).mul(0.5)
    if return_trace:
        trace["f_hat"] = f_hat
        return img, trace
    return img


__all__ = ["autoregressive_infer_cfg", "sample_with_top_k_top_p_", "filter_top_k_top_p_",
           "gumbel_softmax_with_rng"]
