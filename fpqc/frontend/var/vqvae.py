"""The multi-scale VQVAE of VAR, written to match the released code's structure and names.

Images are [B, 3, H, W] in [-1, 1]; the latent ``f`` is [B, Cvae, h, w] with
``h = w = patch_nums[-1] = H / downsample`` (16 for the released 256-px model,
``downsample = 2 ** (len(ch_mult) - 1)``). State-dict names follow
``vae_ch160v4096z32.pth``::

    encoder.{conv_in, down.{i}.block.{j}.{norm1,conv1,norm2,conv2,nin_shortcut},
             down.{i}.attn.{j}.{norm,qkv,proj_out}, down.{i}.downsample.conv,
             mid.{block_1,attn_1,block_2}, norm_out, conv_out}
    decoder.{conv_in, mid.*, up.{i}.block.{j}.*, up.{i}.attn.{j}.*, up.{i}.upsample.conv,
             norm_out, conv_out}
    quant_conv.*, post_quant_conv.*                     (3×3 convs, Cvae → Cvae)
    quantize.embedding.weight                           [V, Cvae]  (the codebook)
    quantize.quant_resi.qresi_ls.{0..3}.{weight [Cvae, Cvae, 3, 3], bias [Cvae]}  (φ convs)
    quantize.ema_vocab_hit_SV                           [K, V] (training statistics only)

Multi-scale residual quantization of ``f`` (scales k = 0..K-1, pn = patch_nums[k])::

    f_rest = f; f_hat = 0
    for k: z = area_downsample(f_rest, pn)                      # [B, Cvae, pn, pn]
           idx = argmin_v ||z - e_v||²                          # [B, pn·pn]
           h = bicubic_upsample(E[idx], h×w)   (skipped when pn = h)
           h = φ_k(h) = (1 - r)·h + r·conv3x3_k(h)   (r = 0.5; φ picked by nearest tick)
           f_hat += h; f_rest -= h

The φ used at scale k is ``qresi_ls[argmin_j |ticks_j - k/(K-1)|]`` with
``ticks = numpy.linspace(1/12, 11/12, 4)`` for 4 shared convs (float64, first on ties). Interpolation is torch's:
``mode='area'`` (adaptive average pooling) and ``mode='bicubic'`` (A = -0.75,
``align_corners=False``, border clamped).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import VQVAEConfig


# ============================================================ CNN building blocks
def Normalize(in_channels: int, num_groups: int = 32) -> nn.GroupNorm:
    return nn.GroupNorm(num_groups=num_groups, num_channels=in_channels, eps=1e-6, affine=True)


class Upsample2x(nn.Module):
    """Nearest ×2 then conv3x3: [B, C, h, w] → [B, C, 2h, 2w]."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, in_channels, kernel_size=3, stride=1, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


class Downsample2x(nn.Module):
    """Pad (0, 1, 0, 1) then conv3x3 stride 2: [B, C, h, w] → [B, C, h/2, w/2]."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, in_channels, kernel_size=3, stride=2, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, pad=(0, 1, 0, 1), mode="constant", value=0))


class ResnetBlock(nn.Module):
    """GN → SiLU → conv → GN → SiLU → conv, plus a (1×1 conv when channels change) skip."""

    def __init__(self, in_channels: int, out_channels: int, groups: int):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.norm1 = Normalize(in_channels, groups)
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=1, padding=1)
        self.norm2 = Normalize(out_channels, groups)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, stride=1, padding=1)
        self.nin_shortcut = (nn.Conv2d(in_channels, out_channels, kernel_size=1) if in_channels != out_channels
                             else nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return self.nin_shortcut(x) + h


class AttnBlock(nn.Module):
    """Single-head spatial self-attention with a 1×1-conv qkv: [B, C, h, w] → same."""

    def __init__(self, in_channels: int, groups: int):
        super().__init__()
        self.C = in_channels
        self.norm = Normalize(in_channels, groups)
        self.qkv = nn.Conv2d(in_channels, 3 * in_channels, kernel_size=1)
        self.w_ratio = int(in_channels) ** (-0.5)
        self.proj_out = nn.Conv2d(in_channels, in_channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        qkv = self.qkv(self.norm(x))
        B, _, H, W = qkv.shape
        C = self.C
        q, k, v = qkv.reshape(B, 3, C, H * W).unbind(1)  # each [B, C, HW]
        w = torch.bmm(q.permute(0, 2, 1), k).mul(self.w_ratio).softmax(dim=2)  # [B, HWq, HWk]
        h = torch.bmm(v, w.permute(0, 2, 1)).view(B, C, H, W)
        return x + self.proj_out(h)


def make_attn(in_channels: int, groups: int, using_sa: bool = True) -> nn.Module:
    return AttnBlock(in_channels, groups) if using_sa else nn.Identity()


class Encoder(nn.Module):
    """[B, 3, H, W] → [B, z_channels, H/ds, W/ds]."""

    def __init__(self, *, ch: int, ch_mult: Sequence[int], num_res_blocks: int, in_channels: int,
                 z_channels: int, groups: int, using_sa: bool = True, using_mid_sa: bool = True):
        super().__init__()
        self.ch, self.num_resolutions, self.num_res_blocks = ch, len(ch_mult), num_res_blocks
        self.conv_in = nn.Conv2d(in_channels, ch, kernel_size=3, stride=1, padding=1)
        in_ch_mult = (1,) + tuple(ch_mult)
        self.down = nn.ModuleList()
        block_in = ch
        for i_level in range(self.num_resolutions):
            block, attn = nn.ModuleList(), nn.ModuleList()
            block_in, block_out = ch * in_ch_mult[i_level], ch * ch_mult[i_level]
            for _ in range(num_res_blocks):
                block.append(ResnetBlock(block_in, block_out, groups))
                block_in = block_out
                if i_level == self.num_resolutions - 1 and using_sa:
                    attn.append(make_attn(block_in, groups))
            down = nn.Module()
            down.block, down.attn = block, attn
            if i_level != self.num_resolutions - 1:
                down.downsample = Downsample2x(block_in)
            self.down.append(down)
        self.mid = nn.Module()
        self.mid.block_1 = ResnetBlock(block_in, block_in, groups)
        self.mid.attn_1 = make_attn(block_in, groups, using_mid_sa)
        self.mid.block_2 = ResnetBlock(block_in, block_in, groups)
        self.norm_out = Normalize(block_in, groups)
        self.conv_out = nn.Conv2d(block_in, z_channels, kernel_size=3, stride=1, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(x)
        for i_level in range(self.num_resolutions):
            lvl = self.down[i_level]
            for i_block in range(self.num_res_blocks):
                h = lvl.block[i_block](h)
                if len(lvl.attn) > 0:
                    h = lvl.attn[i_block](h)
            if i_level != self.num_resolutions - 1:
                h = lvl.downsample(h)
        h = self.mid.block_2(self.mid.attn_1(self.mid.block_1(h)))
        return self.conv_out(F.silu(self.norm_out(h)))


class Decoder(nn.Module):
    """[B, z_channels, h, w] → [B, 3, h·ds, w·ds] (unclamped)."""

    def __init__(self, *, ch: int, ch_mult: Sequence[int], num_res_blocks: int, in_channels: int,
                 z_channels: int, groups: int, using_sa: bool = True, using_mid_sa: bool = True):
        super().__init__()
        self.ch, self.num_resolutions, self.num_res_blocks = ch, len(ch_mult), num_res_blocks
        block_in = ch * ch_mult[-1]
        self.conv_in = nn.Conv2d(z_channels, block_in, kernel_size=3, stride=1, padding=1)
        self.mid = nn.Module()
        self.mid.block_1 = ResnetBlock(block_in, block_in, groups)
        self.mid.attn_1 = make_attn(block_in, groups, using_mid_sa)
        self.mid.block_2 = ResnetBlock(block_in, block_in, groups)
        self.up = nn.ModuleList()
        for i_level in reversed(range(self.num_resolutions)):
            block, attn = nn.ModuleList(), nn.ModuleList()
            block_out = ch * ch_mult[i_level]
            for _ in range(num_res_blocks + 1):
                block.append(ResnetBlock(block_in, block_out, groups))
                block_in = block_out
                if i_level == self.num_resolutions - 1 and using_sa:
                    attn.append(make_attn(block_in, groups))
            up = nn.Module()
            up.block, up.attn = block, attn
            if i_level != 0:
                up.upsample = Upsample2x(block_in)
            self.up.insert(0, up)
        self.norm_out = Normalize(block_in, groups)
        self.conv_out = nn.Conv2d(block_in, in_channels, kernel_size=3, stride=1, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.mid.block_2(self.mid.attn_1(self.mid.block_1(self.conv_in(z))))
        for i_level in reversed(range(self.num_resolutions)):
            lvl = self.up[i_level]
            for i_block in range(self.num_res_blocks + 1):
                h = lvl.block[i_block](h)
                if len(lvl.attn) > 0:
                    h = lvl.attn[i_block](h)
            if i_level != 0:
                h = lvl.upsample(h)
        return self.conv_out(F.silu(self.norm_out(h)))


# ============================================================ φ and the quantizer
class Phi(nn.Conv2d):
    """φ(h) = (1 - r)·h + r·conv3x3(h), r = ``resi_ratio`` (0.5): [B, C, h, w] → same."""

    def __init__(self, embed_dim: int, quant_resi: float):
        super().__init__(embed_dim, embed_dim, kernel_size=3, stride=1, padding=1)
        self.resi_ratio = abs(quant_resi)

    def forward(self, h_BChw: torch.Tensor) -> torch.Tensor:
        return h_BChw.mul(1 - self.resi_ratio) + super().forward(h_BChw).mul_(self.resi_ratio)


def phi_ticks(n: int) -> np.ndarray:
    """Ticks on [0, 1] of ``n`` shared φ convs, computed with numpy exactly as released:
    ``linspace(1/12, 11/12, 4)`` for n = 4 (≈ 0.0833, 0.3611, 0.6389, 0.9167), else
    ``linspace(1/(2n), 1 - 1/(2n), n)``."""
    return np.linspace(1 / 3 / n, 1 - 1 / 3 / n, n) if n == 4 else np.linspace(1 / 2 / n, 1 - 1 / 2 / n, n)


def phi_index(ratio: float, n: int) -> int:
    """Index of the φ conv used at progress ``ratio = k / (K - 1)``: ``argmin |ticks - ratio|``
    in float64, first index on ties (as released). For K = 10 scales this gives
    0,0,1,1,1,2,2,3,3,3: k = 2 is an exact tie between ticks 0 and 1 in real arithmetic
    (2/9 − 1/12 = 13/36 − 2/9) that float64 rounding resolves to conv 1."""
    return int(np.argmin(np.abs(phi_ticks(n) - ratio)))


class PhiPartiallyShared(nn.Module):
    """``n`` φ convs (``qresi_ls``) shared over the K scales; ``self[k / (K-1)]`` picks one."""

    def __init__(self, qresi_ls: nn.ModuleList):
        super().__init__()
        self.qresi_ls = qresi_ls

    def __getitem__(self, at_from_0_to_1: float) -> nn.Module:
        return self.qresi_ls[phi_index(at_from_0_to_1, len(self.qresi_ls))]


class PhiShared(nn.Module):
    def __init__(self, qresi: nn.Module):
        super().__init__()
        self.qresi = qresi

    def __getitem__(self, _: float) -> nn.Module:
        return self.qresi


class PhiNonShared(nn.ModuleList):
    def __getitem__(self, at_from_0_to_1: float) -> nn.Module:  # type: ignore[override]
        return super().__getitem__(phi_index(at_from_0_to_1, len(self)))


class VectorQuantizer2(nn.Module):
    """Multi-scale residual vector quantizer (``quantize``) with codebook ``embedding`` [V, Cvae]."""

    def __init__(self, vocab_size: int, Cvae: int, v_patch_nums: Sequence[int], beta: float = 0.25,
                 quant_resi: float = 0.5, share_quant_resi: int = 4):
        super().__init__()
        self.vocab_size, self.Cvae = vocab_size, Cvae
        self.v_patch_nums = tuple(v_patch_nums)
        self.beta = beta

        def mk() -> nn.Module:
            return Phi(Cvae, quant_resi) if abs(quant_resi) > 1e-6 else nn.Identity()

        if share_quant_resi == 0:
            self.quant_resi = PhiNonShared([mk() for _ in self.v_patch_nums])
        elif share_quant_resi == 1:
            self.quant_resi = PhiShared(mk())
        else:
            self.quant_resi = PhiPartiallyShared(nn.ModuleList([mk() for _ in range(share_quant_resi)]))
        self.register_buffer("ema_vocab_hit_SV", torch.zeros(len(self.v_patch_nums), vocab_size))
        self.embedding = nn.Embedding(vocab_size, Cvae)

    def phi(self, si: int) -> nn.Module:
        """The φ module used at scale index ``si``."""
        SN = len(self.v_patch_nums)
        return self.quant_resi[si / (SN - 1) if SN > 1 else 0.0]

    def nearest(self, z_NC: torch.Tensor) -> torch.Tensor:
        """Index of the nearest codebook entry (squared L2) of each row: [N, Cvae] → [N]."""
        E = self.embedding.weight.detach()
        d = z_NC.square().sum(1, keepdim=True) + E.square().sum(1) - 2.0 * (z_NC @ E.T)
        return d.argmin(dim=1)

    def _quantize(self, f_BChw: torch.Tensor, training: bool):
        """Shared core: returns (idx list [B, pn²], f_hat list after each scale, f_hat with grad path)."""
        B, C, H, W = f_BChw.shape
        SN = len(self.v_patch_nums)
        assert self.v_patch_nums[-1] == H == W, f"latent {H}x{W} != last patch_num {self.v_patch_nums[-1]}"
        f_rest = f_BChw.detach().clone()
        f_hat = torch.zeros_like(f_rest)
        idx_list, fhat_list = [], []
        vq_loss = f_BChw.new_zeros(())
        for si, pn in enumerate(self.v_patch_nums):
            z = F.interpolate(f_rest, size=(pn, pn), mode="area") if si != SN - 1 else f_rest
            idx_N = self.nearest(z.permute(0, 2, 3, 1).reshape(-1, C))
            h = self.embedding(idx_N.view(B, pn, pn)).permute(0, 3, 1, 2)
            if si != SN - 1:
                h = F.interpolate(h, size=(H, W), mode="bicubic")
            h = self.phi(si)(h.contiguous())
            f_hat = f_hat + h
            f_rest = f_rest - h.detach() if training else f_rest - h
            idx_list.append(idx_N.reshape(B, pn * pn))
            fhat_list.append(f_hat)
            if training:
                # commitment (encoder → f_hat) + codebook/φ (f_hat → encoder output)
                vq_loss = vq_loss + self.beta * F.mse_loss(f_hat.detach(), f_BChw) + F.mse_loss(f_hat, f_BChw.detach())
        return idx_list, fhat_list, f_hat, vq_loss / SN

    def forward(self, f_BChw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Training pass: returns (straight-through f_hat [B, Cvae, h, w], vq_loss scalar).

        ``vq_loss`` = mean over scales of β·||sg(f_hat_k) - f||² + ||f_hat_k - sg(f)||²; the
        returned f_hat has f_hat's value and f's gradient (straight-through estimator).
        """
        _, _, f_hat, vq_loss = self._quantize(f_BChw.float(), training=True)
        return (f_hat.detach() - f_BChw.detach()) + f_BChw, vq_loss

    @torch.no_grad()
    def f_to_idxBl_or_fhat(self, f_BChw: torch.Tensor, to_fhat: bool) -> list[torch.Tensor]:
        """Latent [B, Cvae, h, w] → per scale: idx [B, pn²] (or f_hat [B, Cvae, h, w] after it)."""
        idx_list, fhat_list, _, _ = self._quantize(f_BChw.float(), training=False)
        return [t.clone() for t in fhat_list] if to_fhat else idx_list

    def embed_to_fhat(self, ms_h_BChw: list[torch.Tensor]) -> torch.Tensor:
        """Per-scale code maps [B, Cvae, pn, pn] → final f_hat [B, Cvae, h, w]."""
        B = ms_h_BChw[0].shape[0]
        H = W = self.v_patch_nums[-1]
        SN = len(self.v_patch_nums)
        f_hat = ms_h_BChw[0].new_zeros(B, self.Cvae, H, W)
        for si in range(SN):
            h = ms_h_BChw[si]
            if si < SN - 1:
                h = F.interpolate(h, size=(H, W), mode="bicubic")
            f_hat = f_hat + self.phi(si)(h)
        return f_hat

    def idxBl_to_h(self, idx_Bl: torch.Tensor) -> torch.Tensor:
        """Indices [B, pn²] → code map [B, Cvae, pn, pn]."""
        B, l = idx_Bl.shape
        pn = round(l ** 0.5)
        return self.embedding(idx_Bl).transpose(1, 2).reshape(B, self.Cvae, pn, pn)

    def idxBl_to_var_input(self, gt_ms_idx_Bl: list[torch.Tensor]) -> torch.Tensor:
        """Teacher-forcing input of VAR: [B, L - first_l, Cvae].

        For k = 0..K-2: f_hat after scale k, area-downsampled to patch_nums[k+1],
        flattened row-major to [B, pn_{k+1}², Cvae]; concatenated over k.
        """
        B = gt_ms_idx_Bl[0].shape[0]
        C, H = self.Cvae, self.v_patch_nums[-1]
        SN = len(self.v_patch_nums)
        f_hat = self.embedding.weight.new_zeros(B, C, H, H)
        next_scales = []
        for si in range(SN - 1):
            h = F.interpolate(self.idxBl_to_h(gt_ms_idx_Bl[si]), size=(H, H), mode="bicubic")
            f_hat = f_hat + self.phi(si)(h)
            pn_next = self.v_patch_nums[si + 1]
            next_scales.append(F.interpolate(f_hat, size=(pn_next, pn_next), mode="area").view(B, C, -1).transpose(1, 2))
        return torch.cat(next_scales, dim=1)

    def get_next_autoregressive_input(self, si: int, SN: int, f_hat: torch.Tensor, h_BChw: torch.Tensor
                                      ) -> tuple[torch.Tensor, torch.Tensor]:
        """Inference step: add φ_si(upsample(h)) into f_hat; return (f_hat, f_hat area-downsampled
        to the next scale's size, or f_hat itself after the last scale)."""
        HW = self.v_patch_nums[-1]
        if si != SN - 1:
            f_hat = f_hat + self.phi(si)(F.interpolate(h_BChw, size=(HW, HW), mode="bicubic"))
            pn = self.v_patch_nums[si + 1]
            return f_hat, F.interpolate(f_hat, size=(pn, pn), mode="area")
        f_hat = f_hat + self.phi(si)(h_BChw)
        return f_hat, f_hat


# ============================================================ the VQVAE
class VQVAE(nn.Module):
    """Encoder → quant_conv → multi-scale quantizer → post_quant_conv → decoder."""

    def __init__(self, cfg: VQVAEConfig, seed: int | None = 0):
        super().__init__()
        self.cfg = cfg
        self.V = self.vocab_size = cfg.vocab_size
        self.Cvae = cfg.Cvae
        self.downsample = cfg.downsample
        dd = dict(ch=cfg.ch, ch_mult=cfg.ch_mult, num_res_blocks=cfg.num_res_blocks, in_channels=cfg.in_channels,
                  z_channels=cfg.Cvae, groups=cfg.norm_groups, using_sa=cfg.using_sa, using_mid_sa=cfg.using_mid_sa)
        self.encoder = Encoder(**dd)
        self.decoder = Decoder(**dd)
        self.quantize = VectorQuantizer2(cfg.vocab_size, cfg.Cvae, cfg.patch_nums, beta=cfg.beta,
                                         quant_resi=cfg.quant_resi, share_quant_resi=cfg.share_quant_resi)
        self.quant_conv = nn.Conv2d(cfg.Cvae, cfg.Cvae, 3, stride=1, padding=1)
        self.post_quant_conv = nn.Conv2d(cfg.Cvae, cfg.Cvae, 3, stride=1, padding=1)
        if seed is not None:
            self.init_weights(seed)

    @torch.no_grad()
    def init_weights(self, seed: int = 0) -> None:
        """Seeded default PyTorch init, plus a codebook ~ N(0, 1) so that random latents
        use many codes (the released checkpoint's codebook has std ≈ 1 too)."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for m in self.modules():
                if m is not self and hasattr(m, "reset_parameters"):
                    m.reset_parameters()
            self.quantize.embedding.weight.normal_(0.0, 1.0)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):  # type: ignore[override]
        """As released: tolerate an ``ema_vocab_hit_SV`` with a different number of scales."""
        key = "quantize.ema_vocab_hit_SV"
        if key in state_dict and state_dict[key].shape != self.quantize.ema_vocab_hit_SV.shape:
            state_dict = dict(state_dict)
            state_dict[key] = self.quantize.ema_vocab_hit_SV
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    # --------------------------------------------------------------- training
    def forward(self, inp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[B, 3, H, W] in [-1, 1] → (reconstruction [B, 3, H, W], vq_loss scalar)."""
        f_hat, vq_loss = self.quantize(self.quant_conv(self.encoder(inp)))
        return self.decoder(self.post_quant_conv(f_hat)), vq_loss

    def training_loss(self, inp: torch.Tensor) -> torch.Tensor:
        """MSE reconstruction + VQ loss (no perceptual/GAN terms): a scalar to minimise."""
        rec, vq_loss = self(inp)
        return F.mse_loss(rec, inp) + vq_loss

    # --------------------------------------------------------------- inference
    def fhat_to_img(self, f_hat: torch.Tensor) -> torch.Tensor:
        """f_hat [B, Cvae, h, w] → image [B, 3, H, W] clamped to [-1, 1]."""
        return self.decoder(self.post_quant_conv(f_hat)).clamp(-1, 1)

    @torch.no_grad()
    def img_to_idxBl(self, img: torch.Tensor) -> list[torch.Tensor]:
        """Image [B, 3, H, W] in [-1, 1] → per scale indices [B, pn²] (int64)."""
        f = self.quant_conv(self.encoder(img))
        return self.quantize.f_to_idxBl_or_fhat(f, to_fhat=False)

    def idxBl_to_var_input(self, idx_list: list[torch.Tensor]) -> torch.Tensor:
        """See :meth:`VectorQuantizer2.idxBl_to_var_input`: → [B, L - first_l, Cvae]."""
        return self.quantize.idxBl_to_var_input(idx_list)

    def idxBl_to_fhat(self, idx_list: list[torch.Tensor]) -> torch.Tensor:
        return self.quantize.embed_to_fhat([self.quantize.idxBl_to_h(i) for i in idx_list])

    def idxBl_to_img(self, idx_list: list[torch.Tensor]) -> torch.Tensor:
        """Per-scale indices → image [B, 3, H, W] in [-1, 1]."""
        return self.fhat_to_img(self.idxBl_to_fhat(idx_list))


__all__ = ["VQVAE", "VectorQuantizer2", "Encoder", "Decoder", "Phi", "PhiPartiallyShared",
           "phi_ticks", "phi_index"]
