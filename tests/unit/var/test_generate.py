"""KV-cached, CFG sampling against the teacher-forcing forward; seeding; top-k / top-p."""

from __future__ import annotations

import math

import torch

from fpqc.frontend.var import VAR, VARConfig, VQVAE
from fpqc.frontend.var.generate import autoregressive_infer_cfg, filter_top_k_top_p_, sample_with_top_k_top_p_


def _models():
    cfg = VARConfig.tiny()
    var = VAR(cfg, seed=0)
    var.init_weights(seed=1, init_adaln_gamma=0.5, init_head=1.0)
    return var.eval(), VQVAE(cfg.vae, seed=0).eval()


def test_kv_cached_logits_equal_teacher_forcing():
    var, vae = _models()
    cfg = var.cfg
    img, tr = autoregressive_infer_cfg(var, vae, 2, torch.tensor([3, 5]), g_seed=0, cfg=1.5, top_k=20,
                                       return_trace=True)
    assert img.shape == (2, 3, cfg.image_size, cfg.image_size)
    assert 0 <= img.min() and img.max() <= 1
    x = vae.idxBl_to_var_input(tr["idx"])
    var.inference = True
    with torch.no_grad():
        cond = var(tr["label_B"], x)
        uncond = var(torch.full_like(tr["label_B"], cfg.num_classes), x)
    full = torch.cat([cond, uncond])
    assert len(tr["logits"]) == len(cfg.patch_nums)
    for (b, e), lg in zip(cfg.begin_ends, tr["logits"]):
        assert lg.shape == (4, e - b, cfg.vocab_size)
        torch.testing.assert_close(lg, full[:, b:e], rtol=0, atol=1e-5)
    # the final f_hat is the one the quantizer rebuilds from the sampled indices
    torch.testing.assert_close(tr["f_hat"], vae.idxBl_to_fhat(tr["idx"]), rtol=1e-5, atol=1e-5)


def test_seeded_generation_is_deterministic():
    var, vae = _models()
    a = autoregressive_infer_cfg(var, vae, 2, None, g_seed=7, top_k=10, top_p=0.9)
    b = autoregressive_infer_cfg(var, vae, 2, None, g_seed=7, top_k=10, top_p=0.9)
    c = autoregressive_infer_cfg(var, vae, 2, None, g_seed=8, top_k=10, top_p=0.9)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    s = autoregressive_infer_cfg(var, vae, 1, -1, g_seed=1, more_smooth=True)  # unconditional, gumbel path
    assert s.shape == (1, 3, var.cfg.image_size, var.cfg.image_size)
    assert all(not blk.attn.caching and blk.attn.cached_k is None for blk in var.blocks)


def test_top_k_filter():
    logits = torch.tensor([[[1.0, 5.0, 3.0, 2.0, 5.0, -1.0]]])
    out = filter_top_k_top_p_(logits.clone(), top_k=3)
    inf = -math.inf
    assert out.tolist() == [[[inf, 5.0, 3.0, inf, 5.0, inf]]]
    assert torch.equal(filter_top_k_top_p_(logits.clone()), logits)  # 0 = off


def test_top_p_filter():
    # probabilities 0.1, 0.5, 0.15, 0.25: ascending cumulative mass 0.1, 0.25, 0.5, 1.0;
    # an entry is removed when its ascending cumulative mass is <= 1 - top_p
    p = torch.tensor([0.1, 0.5, 0.15, 0.25])
    logits = p.log().view(1, 1, 4)

    def kept(top_p: float, top_k: int = 0) -> list[bool]:
        return torch.isfinite(filter_top_k_top_p_(logits.clone(), top_k=top_k, top_p=top_p)).view(-1).tolist()

    assert kept(0.4) == [False, True, False, False]
    assert kept(0.6) == [False, True, False, True]
    assert kept(0.8) == [False, True, True, True]
    assert kept(0.95) == [True, True, True, True]
    assert kept(0.01) == [False, True, False, False]  # the largest is always kept
    assert kept(0.95, top_k=2) == [False, True, False, True]  # top-k first, then top-p
    assert kept(0.0) == [True, True, True, True]  # 0 = off


def test_sampling_respects_filter_and_seed():
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    logits = torch.randn(2, 5, 50, generator=torch.Generator().manual_seed(3))
    a = sample_with_top_k_top_p_(logits.clone(), top_k=1, rng=g1)
    assert torch.equal(a[..., 0], logits.argmax(-1))
    b = sample_with_top_k_top_p_(logits.clone(), top_k=5, rng=g1)
    sample_with_top_k_top_p_(logits.clone(), top_k=1, rng=g2)
    c = sample_with_top_k_top_p_(logits.clone(), top_k=5, rng=g2)
    assert torch.equal(b, c)
    top5 = logits.topk(5, dim=-1).indices
    assert bool((top5 == b).any(-1).all())
    assert b.shape == (2, 5, 1)
