"""The reference VAR transformer and VQVAE: released names/shapes, masks, quantizer, losses."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from fpqc.frontend.var import VAR, VARConfig, VQVAE, VQVAEConfig
from fpqc.frontend.var.transformer import released_param_shapes
from fpqc.frontend.var.vqvae import phi_index, phi_ticks


def _tiny_var(**kw) -> VAR:
    cfg = VARConfig.tiny(**kw)
    var = VAR(cfg, seed=0)
    var.init_weights(seed=1, init_adaln_gamma=0.5, init_head=1.0)  # non-trivial blocks
    return var.eval()


def test_d16_meta_has_released_names_and_shapes():
    shapes = released_param_shapes(VARConfig(depth=16))
    assert shapes["blocks.0.attn.mat_qkv.weight"] == (3072, 1024)
    assert shapes["class_emb.weight"] == (1001, 1024)
    assert shapes["pos_1LC"] == (1, 680, 1024)
    assert shapes["pos_start"] == (1, 1, 1024)
    assert shapes["lvl_embed.weight"] == (10, 1024)
    assert shapes["word_embed.weight"] == (1024, 32)
    assert shapes["head.weight"] == (4096, 1024)
    assert shapes["head_nm.ada_lin.1.weight"] == (2048, 1024)
    assert shapes["blocks.15.ada_lin.1.weight"] == (6144, 1024)
    assert shapes["blocks.3.attn.scale_mul_1H11"] == (1, 16, 1, 1)
    assert shapes["blocks.3.ffn.fc1.weight"] == (4096, 1024)
    assert shapes["blocks.3.ffn.fc2.weight"] == (1024, 4096)
    assert shapes["lvl_1L"] == (1, 680)
    assert shapes["attn_bias_for_masking"] == (1, 1, 680, 680)
    per_block = {"attn.scale_mul_1H11", "attn.q_bias", "attn.v_bias", "attn.zero_k_bias", "attn.mat_qkv.weight",
                 "attn.proj.weight", "attn.proj.bias", "ffn.fc1.weight", "ffn.fc1.bias", "ffn.fc2.weight",
                 "ffn.fc2.bias", "ada_lin.1.weight", "ada_lin.1.bias"}
    expected = {"word_embed.weight", "word_embed.bias", "class_emb.weight", "pos_start", "pos_1LC",
                "lvl_embed.weight", "head_nm.ada_lin.1.weight", "head_nm.ada_lin.1.bias", "head.weight",
                "head.bias", "lvl_1L", "attn_bias_for_masking"}
    expected |= {f"blocks.{i}.{n}" for i in range(16) for n in per_block}
    assert set(shapes) == expected
    n_params = sum(math.prod(s) for k, s in shapes.items()
                   if k not in ("lvl_1L", "attn_bias_for_masking") and "zero_k_bias" not in k)
    assert 305e6 < n_params < 315e6  # "d16 ≈ 310M parameters"


def test_vqvae_meta_has_released_names_and_shapes():
    with torch.device("meta"):
        vae = VQVAE(VQVAEConfig(), seed=None)
    sd = {k: tuple(v.shape) for k, v in vae.state_dict().items()}
    assert sd["quantize.embedding.weight"] == (4096, 32)
    for j in range(4):
        assert sd[f"quantize.quant_resi.qresi_ls.{j}.weight"] == (32, 32, 3, 3)
    assert sd["decoder.conv_in.weight"] == (640, 32, 3, 3)
    assert sd["decoder.up.0.block.0.conv1.weight"] == (160, 160, 3, 3)
    assert sd["decoder.up.4.attn.2.qkv.weight"] == (1920, 640, 1, 1)
    assert sd["encoder.down.3.downsample.conv.weight"] == (320, 320, 3, 3)
    assert sd["post_quant_conv.weight"] == sd["quant_conv.weight"] == (32, 32, 3, 3)
    assert VQVAEConfig().image_size == 256 and VQVAEConfig().downsample == 16


def test_config_json_round_trip():
    for cfg in (VARConfig(depth=16), VARConfig.tiny(cond_drop_rate=0.0)):
        again = VARConfig.from_json(cfg.to_json())
        assert again == cfg and again.vae == cfg.vae
        assert VQVAEConfig.from_json(cfg.vae.to_json()) == cfg.vae
    c = VARConfig(depth=20)
    assert (c.C, c.num_heads, c.head_dim, c.L, c.first_l) == (1280, 20, 64, 680, 1)
    with pytest.raises(ValueError):
        VARConfig.from_dict({"depth": 2, "nope": 1})


def test_state_dict_with_released_names_loads_strict(tmp_path):
    var = _tiny_var()
    path = tmp_path / "var_tiny.pth"
    torch.save(dict(var.state_dict()), path)
    other = VAR(var.cfg, seed=123)
    other.load_state_dict(torch.load(path, weights_only=True), strict=True)
    other.eval().inference = var.inference = True
    label, x = torch.tensor([1, 2]), torch.randn(2, var.L - 1, var.Cvae)
    torch.testing.assert_close(other(label, x), var(label, x), rtol=0, atol=0)
    vae = VQVAE(var.cfg.vae, seed=0)
    torch.save(dict(vae.state_dict()), tmp_path / "vae.pth")
    VQVAE(var.cfg.vae, seed=5).load_state_dict(torch.load(tmp_path / "vae.pth", weights_only=True), strict=True)


def test_forward_shapes_block_causality_and_class_dropout():
    var = _tiny_var()
    cfg = var.cfg
    label, x = torch.tensor([1, 7]), torch.randn(2, cfg.L - 1, cfg.Cvae)
    var.inference = True
    logits = var(label, x)
    assert logits.shape == (2, cfg.L, cfg.vocab_size)
    # changing the input of the last scale leaves the logits of earlier scales unchanged
    b, _ = cfg.begin_ends[-1]
    x2 = x.clone()
    x2[:, b - 1:] += 1.0
    out2 = var(label, x2)
    torch.testing.assert_close(out2[:, :b], logits[:, :b], rtol=0, atol=1e-6)
    assert (out2[:, b:] - logits[:, b:]).abs().max() > 1e-3
    # released training-time class dropout: rate 1 → every label becomes the null class
    drop = VAR(VARConfig.tiny(cond_drop_rate=1.0), seed=None)
    drop.load_state_dict(var.state_dict())
    drop.eval()
    null = torch.full_like(label, cfg.num_classes)
    torch.testing.assert_close(drop(label, x), var(null, x))
    drop.inference = True
    torch.testing.assert_close(drop(label, x), logits)


def test_phi_ticks_match_release():
    assert list(phi_ticks(4)) == pytest.approx([1 / 12, 13 / 36, 23 / 36, 11 / 12])
    # the 10 released scales use φ 0,0,1,1,1,2,2,3,3,3 (k = 2 is a float64-resolved tie)
    assert [phi_index(k / 9, 4) for k in range(10)] == [0, 0, 1, 1, 1, 2, 2, 3, 3, 3]
    assert [phi_index(k / 3, 4) for k in range(4)] == [0, 1, 2, 3]


def test_multiscale_quantizer_consistency():
    cfg = VARConfig.tiny()
    vae = VQVAE(cfg.vae, seed=0).eval()
    img = torch.rand(2, 3, cfg.image_size, cfg.image_size, generator=torch.Generator().manual_seed(0)) * 2 - 1
    idx = vae.img_to_idxBl(img)
    assert [tuple(i.shape) for i in idx] == [(2, pn * pn) for pn in cfg.patch_nums]
    assert all(i.dtype == torch.int64 for i in idx)
    with torch.no_grad():
        f = vae.quant_conv(vae.encoder(img))
        fhats = vae.quantize.f_to_idxBl_or_fhat(f, to_fhat=True)
        # the teacher-forcing input is f_hat after each scale, area-downsampled to the next size
        xin = vae.idxBl_to_var_input(idx)
        ref = torch.cat([F.interpolate(fh, size=(pn, pn), mode="area").flatten(2).transpose(1, 2)
                         for fh, pn in zip(fhats[:-1], cfg.patch_nums[1:])], dim=1)
        assert xin.shape == (2, cfg.L - 1, cfg.Cvae)
        torch.testing.assert_close(xin, ref, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(vae.idxBl_to_fhat(idx), fhats[-1], rtol=1e-5, atol=1e-5)
        out = vae.idxBl_to_img(idx)
    assert out.shape == img.shape and out.abs().max() <= 1


def test_small_vqvae_trains():
    cfg = VARConfig.tiny()
    vae = VQVAE(cfg.vae, seed=0).train()
    g = torch.Generator().manual_seed(0)
    img = torch.rand(4, 3, cfg.image_size, cfg.image_size, generator=g) * 2 - 1
    opt = torch.optim.Adam(vae.parameters(), lr=3e-3)
    losses = []
    for _ in range(15):
        loss = vae.training_loss(img)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert vae.encoder.conv_in.weight.grad is not None  # straight-through reaches the encoder
    assert vae.quantize.embedding.weight.grad is not None
    assert losses[-1] < 0.7 * losses[0]
