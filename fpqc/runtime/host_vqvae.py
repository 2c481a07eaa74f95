"""The VQVAE side of generation, on the host in float32 PyTorch (never quantized).

FPQVAR keeps the VQVAE in higher precision; the runtime runs the reference
modules of :mod:`fpqc.frontend.var.vqvae` with the arrays of ``vae.npz`` (see
:func:`fpqc.frontend.var.export.load_vae_npz`) or of a released VQVAE checkpoint
(``vae_ch160v4096z32.pth``, see :mod:`fpqc.frontend.var.vqvae_checkpoint`), so its
f_hat updates and images are the reference's own arithmetic:

* :meth:`HostVQVAE.code_map` — token indices ``[N, pn²]`` → codebook vectors ``[N, Cvae, pn, pn]``;
* :meth:`HostVQVAE.advance` — ``f_hat += φ_k(bicubic-up(h))`` and the next scale's
  teacher-forcing input (f_hat area-downsampled to ``pn_{k+1}``, as ``[N, pn_{k+1}², Cvae]``);
* :meth:`HostVQVAE.decode` — f_hat → images ``[N, H, W, 3]`` in [0, 1].
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from fpqc.errors import FpqcError
from fpqc.frontend.var.config import VQVAEConfig
from fpqc.frontend.var.export import VAE_NPZ_PREFIXES, load_vae_npz
from fpqc.frontend.var.vqvae import VQVAE
from fpqc.frontend.var.vqvae_checkpoint import load_state_dict, vqvae_config_from_state


class HostVQVAE:
    """The codebook, φ convs and decoder of a VQVAE, loaded from ``vae.npz`` or a released checkpoint."""

    def __init__(self, cfg: VQVAEConfig, arrays: dict[str, np.ndarray], source: str = "vae.npz") -> None:
        self.cfg = cfg
        vae = VQVAE(cfg, seed=None)
        state = {k: torch.from_numpy(np.asarray(v, dtype=np.float32)) for k, v in arrays.items()}
        try:
            missing, unexpected = vae.load_state_dict(state, strict=False)
        except RuntimeError as e:
            raise FpqcError(f"{source}: arrays do not fit the VQVAE of its config ({str(e).splitlines()[-1].strip()})") from None
        missing = [k for k in missing if k.startswith(VAE_NPZ_PREFIXES)]
        if missing or unexpected:
            what = f"missing {', '.join(missing[:3])}" if missing else f"unexpected {', '.join(unexpected[:3])}"
            raise FpqcError(f"{source}: not the arrays of a VAR VQVAE with the released key names ({what})")
        self.vae = vae.eval()
        self.quantize = vae.quantize

    @classmethod
    def load(cls, path: Path, patch_nums: tuple[int, ...] | None = None) -> "HostVQVAE":
        """Read ``vae.npz`` (config inside) or a released ``.pth`` checkpoint (its VAR's ``patch_nums``)."""
        if not path.is_file():
            raise FpqcError(
                f"{path}: no such file; generation needs the VQVAE: vae.npz beside an fpqc export, "
                "or the released checkpoint given with --vae vae_ch160v4096z32.pth"
            )
        if path.suffix in (".pth", ".pt"):
            if patch_nums is None:
                raise FpqcError(f"{path}: a VQVAE checkpoint needs the VAR's scales; load it through its VAR")
            arrays = load_state_dict(path)
            return cls(vqvae_config_from_state(arrays, patch_nums, path), arrays, str(path))
        try:
            cfg, arrays = load_vae_npz(path)
        except (OSError, ValueError, KeyError) as e:
            raise FpqcError(f"{path}: not a vae.npz written by export_var ({e})") from None
        return cls(cfg, arrays, str(path))

    def zero_fhat(self, n: int) -> torch.Tensor:
        """An empty f_hat ``[n, Cvae, h, w]``."""
        side = self.cfg.latent_size
        return torch.zeros(n, self.cfg.Cvae, side, side)

    @torch.no_grad()
    def code_map(self, idx: np.ndarray) -> torch.Tensor:
        """Token indices ``[N, pn²]`` → code map ``[N, Cvae, pn, pn]``."""
        return self.quantize.idxBl_to_h(torch.from_numpy(np.asarray(idx, dtype=np.int64)))

    @torch.no_grad()
    def advance(self, k: int, f_hat: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, np.ndarray | None]:
        """Add scale k's code map into f_hat; return (f_hat, next scale's input ``[N, pn²,
        Cvae]`` float32, or None after the last scale)."""
        scales = len(self.cfg.patch_nums)
        f_hat, down = self.quantize.get_next_autoregressive_input(k, scales, f_hat, h)
        if k == scales - 1:
            return f_hat, None
        n = down.shape[0]
        return f_hat, down.reshape(n, self.cfg.Cvae, -1).transpose(1, 2).contiguous().numpy()

    @torch.no_grad()
    def decode(self, f_hat: torch.Tensor) -> np.ndarray:
        """f_hat → images ``[N, H, W, 3]`` float32 in [0, 1]."""
        img = self.vae.fhat_to_img(f_hat).add(1).mul(0.5)
        return img.permute(0, 2, 3, 1).contiguous().numpy().astype(np.float32)


__all__ = ["HostVQVAE"]
