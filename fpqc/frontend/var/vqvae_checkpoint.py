"""A released VQVAE checkpoint (``vae_ch160v4096z32.pth``): its configuration, read off its arrays.

The released code saves the VQVAE as a bare state dict; the architecture is in
``build_vae_var``'s arguments, not in the file.  What the array shapes determine
is read from them::

    encoder.conv_in.weight [ch, 3, 3, 3]              → ch (without the encoder:
                                                        decoder.conv_out's input, i.e. ch_mult[0] = 1)
    decoder.up.{i}.block.{j}.conv2.weight [ch·m_i, …] → ch_mult, num_res_blocks + 1 blocks per level
    decoder.up.{top}.attn.* / decoder.mid.attn_1.*    → using_sa / using_mid_sa
    quantize.embedding.weight [V, Cvae]               → vocab_size, Cvae
    quantize.quant_resi.qresi_ls.{j}.*                → share_quant_resi (j < n); .qresi.* → 1

GroupNorm's group count and the φ residual ratio are not in the arrays; they
are the released values (32 groups, ratio 0.5) unless given.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from fpqc.errors import FpqcError

from .config import VQVAEConfig

RELEASED_NORM_GROUPS = 32
RELEASED_QUANT_RESI = 0.5


def load_state_dict(path: Path) -> dict[str, np.ndarray]:
    """The float32 arrays of a ``.pth`` state dict (tensors only; nothing is unpickled but tensors)."""
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises pickle, zip and runtime errors for files that are not checkpoints
        raise FpqcError(f"{path}: not a readable PyTorch checkpoint ({str(e).splitlines()[0]})") from None
    if isinstance(state, Mapping) and "state_dict" in state and isinstance(state["state_dict"], Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping):
        raise FpqcError(f"{path}: expected a state dict (name → tensor), found {type(state).__name__}")
    return {k: v.detach().float().numpy() for k, v in state.items() if isinstance(v, torch.Tensor)}


def _shape(state: Mapping[str, np.ndarray], key: str, source: Path) -> tuple[int, ...]:
    if key not in state:
        raise FpqcError(f"{source}: no '{key}'; expected a VQVAE state dict with the released key names")
    return tuple(state[key].shape)


def vqvae_config_from_state(
    state: Mapping[str, np.ndarray],
    patch_nums: tuple[int, ...],
    source: Path,
    norm_groups: int = RELEASED_NORM_GROUPS,
    quant_resi: float = RELEASED_QUANT_RESI,
) -> VQVAEConfig:
    """The :class:`VQVAEConfig` of a released-style VQVAE state dict (see the module docstring)."""
    vocab_size, cvae = _shape(state, "quantize.embedding.weight", source)
    if "encoder.conv_in.weight" in state:
        ch = state["encoder.conv_in.weight"].shape[0]
    else:
        ch = _shape(state, "decoder.conv_out.weight", source)[1]
    levels = sorted({int(m.group(1)) for k in state if (m := re.match(r"decoder\.up\.(\d+)\.", k))})
    if not levels or levels != list(range(len(levels))):
        raise FpqcError(f"{source}: no decoder.up.{{i}} levels; expected a VQVAE state dict with the released key names")
    blocks = {int(m.group(1)) for k in state if (m := re.match(r"decoder\.up\.0\.block\.(\d+)\.", k))}
    ch_mult = tuple(_shape(state, f"decoder.up.{i}.block.0.conv2.weight", source)[0] // ch for i in levels)
    shared = {int(m.group(1)) for k in state if (m := re.match(r"quantize\.quant_resi\.qresi_ls\.(\d+)\.", k))}
    if shared:
        share = len(shared)
    elif any(k.startswith("quantize.quant_resi.qresi.") for k in state):
        share = 1
    else:
        share = 0
    try:
        return VQVAEConfig(
            vocab_size=vocab_size,
            Cvae=cvae,
            patch_nums=patch_nums,
            ch=ch,
            ch_mult=ch_mult,
            num_res_blocks=len(blocks) - 1,
            norm_groups=norm_groups,
            using_sa=any(k.startswith(f"decoder.up.{levels[-1]}.attn.") for k in state),
            using_mid_sa=any(k.startswith("decoder.mid.attn_1.") for k in state),
            quant_resi=quant_resi,
            share_quant_resi=share,
        )
    except ValueError as e:
        raise FpqcError(f"{source}: {e}") from None


def config_fields(cfg: VQVAEConfig) -> dict[str, Any]:
    """The ``vae_*`` fields of :class:`~fpqc.frontend.var.config.VARConfig` for ``cfg``."""
    return {
        "vae_ch": cfg.ch,
        "vae_ch_mult": cfg.ch_mult,
        "vae_num_res_blocks": cfg.num_res_blocks,
        "vae_norm_groups": cfg.norm_groups,
        "vae_using_sa": cfg.using_sa,
        "vae_using_mid_sa": cfg.using_mid_sa,
        "vae_quant_resi": cfg.quant_resi,
        "vae_share_quant_resi": cfg.share_quant_resi,
        "vae_beta": cfg.beta,
    }
