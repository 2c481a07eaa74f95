"""Configuration of the reference VAR model and its multi-scale VQVAE.

One flat, JSON-serialisable dataclass, :class:`VARConfig`, describes both
networks; :meth:`VARConfig.vae` derives the :class:`VQVAEConfig` from it so the
shared facts (vocabulary, latent channels ``Cvae``, scales) live in one place.
The exporter writes ``VARConfig.to_dict()`` as JSON into the ONNX
``metadata_props`` (key ``fpqc.var_config``) and ``VQVAEConfig.to_dict()`` into
``vae.npz`` (key ``__config__``).

Released VAR-d16 (Tian et al., 2024)::

    VARConfig(depth=16)  # C = 1024, 16 heads, L = 680 tokens, V = 4096, Cvae = 32
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

DEFAULT_PATCH_NUMS = (1, 2, 3, 4, 5, 6, 8, 10, 13, 16)


@dataclass(frozen=True)
class VQVAEConfig:
    """The multi-scale VQVAE (``vae_ch160v4096z32`` when left at the defaults).

    The latent map is ``patch_nums[-1]`` × ``patch_nums[-1]`` × ``Cvae``; the image is
    ``downsample`` times larger per side, ``downsample = 2 ** (len(ch_mult) - 1)``.
    """

    vocab_size: int = 4096
    Cvae: int = 32
    patch_nums: tuple[int, ...] = DEFAULT_PATCH_NUMS
    ch: int = 160
    ch_mult: tuple[int, ...] = (1, 1, 2, 2, 4)
    num_res_blocks: int = 2
    norm_groups: int = 32
    using_sa: bool = True  # self-attention blocks at the lowest resolution
    using_mid_sa: bool = True  # self-attention in the middle block
    quant_resi: float = 0.5  # φ(h) = (1 - r)·h + r·conv3x3(h)
    share_quant_resi: int = 4  # number of shared φ convs
    beta: float = 0.25  # commitment loss weight
    in_channels: int = 3

    def __post_init__(self) -> None:
        object.__setattr__(self, "patch_nums", tuple(int(p) for p in self.patch_nums))
        object.__setattr__(self, "ch_mult", tuple(int(m) for m in self.ch_mult))
        for m in self.ch_mult:
            if (self.ch * m) % self.norm_groups:
                raise ValueError(
                    f"VQVAE channels {self.ch * m} not divisible by norm_groups={self.norm_groups}"
                )
        if list(self.patch_nums) != sorted(self.patch_nums):
            raise ValueError(f"patch_nums must increase, got {self.patch_nums}")

    @property
    def downsample(self) -> int:
        """Image pixels per latent position along one side."""
        return 2 ** (len(self.ch_mult) - 1)

    @property
    def latent_size(self) -> int:
        return self.patch_nums[-1]

    @property
    def image_size(self) -> int:
        return self.downsample * self.patch_nums[-1]

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["patch_nums"] = list(self.patch_nums)
        d["ch_mult"] = list(self.ch_mult)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "VQVAEConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, s: str) -> "VQVAEConfig":
        return cls.from_dict(json.loads(s))


@dataclass(frozen=True)
class VARConfig:
    """VAR transformer + VQVAE hyper-parameters.

    ``embed_dim`` defaults to ``64 * depth`` and ``num_heads`` to ``depth`` (head dim
    64), as in the released models; pass them explicitly for tiny test models.
    """

    depth: int = 16
    patch_nums: tuple[int, ...] = DEFAULT_PATCH_NUMS
    vocab_size: int = 4096
    Cvae: int = 32
    embed_dim: int | None = None
    num_heads: int | None = None
    mlp_ratio: float = 4.0
    num_classes: int = 1000
    norm_eps: float = 1e-6
    attn_l2_norm: bool = True
    cond_drop_rate: float = 0.1
    # VQVAE (see VQVAEConfig)
    vae_ch: int = 160
    vae_ch_mult: tuple[int, ...] = (1, 1, 2, 2, 4)
    vae_num_res_blocks: int = 2
    vae_norm_groups: int = 32
    vae_using_sa: bool = True
    vae_using_mid_sa: bool = True
    vae_quant_resi: float = 0.5
    vae_share_quant_resi: int = 4
    vae_beta: float = 0.25

    def __post_init__(self) -> None:
        object.__setattr__(self, "patch_nums", tuple(int(p) for p in self.patch_nums))
        object.__setattr__(self, "vae_ch_mult", tuple(int(m) for m in self.vae_ch_mult))
        if self.embed_dim is None:
            object.__setattr__(self, "embed_dim", 64 * self.depth)
        if self.num_heads is None:
            object.__setattr__(self, "num_heads", self.depth)
        if self.embed_dim % self.num_heads:
            raise ValueError(f"embed_dim={self.embed_dim} not divisible by num_heads={self.num_heads}")

    # --- derived sizes -------------------------------------------------------------
    @property
    def C(self) -> int:
        return int(self.embed_dim)

    @property
    def head_dim(self) -> int:
        return self.C // int(self.num_heads)

    @property
    def L(self) -> int:
        """Total number of tokens over all scales (680 for the default scales)."""
        return sum(pn * pn for pn in self.patch_nums)

    @property
    def first_l(self) -> int:
        return self.patch_nums[0] ** 2

    @property
    def begin_ends(self) -> list[tuple[int, int]]:
        """``[(begin, end)]`` token range of each scale in the flattened sequence."""
        out, cur = [], 0
        for pn in self.patch_nums:
            out.append((cur, cur + pn * pn))
            cur += pn * pn
        return out

    @property
    def vae(self) -> VQVAEConfig:
        return VQVAEConfig(
            vocab_size=self.vocab_size,
            Cvae=self.Cvae,
            patch_nums=self.patch_nums,
            ch=self.vae_ch,
            ch_mult=self.vae_ch_mult,
            num_res_blocks=self.vae_num_res_blocks,
            norm_groups=self.vae_norm_groups,
            using_sa=self.vae_using_sa,
            using_mid_sa=self.vae_using_mid_sa,
            quant_resi=self.vae_quant_resi,
            share_quant_resi=self.vae_share_quant_resi,
            beta=self.vae_beta,
        )

    @property
    def image_size(self) -> int:
        return self.vae.image_size

    # --- serialisation -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["patch_nums"] = list(self.patch_nums)
        d["vae_ch_mult"] = list(self.vae_ch_mult)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "VARConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown VARConfig keys: {sorted(unknown)}")
        return cls(**d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, s: str) -> "VARConfig":
        return cls.from_dict(json.loads(s))

    @classmethod
    def tiny(cls, **overrides: Any) -> "VARConfig":
        """A depth-2 toy (C=64, 4 heads, scales 1,2,3,4, V=64, Cvae=8, 16×16 images)
        for tests: builds and runs in milliseconds on a CPU."""
        kw: dict[str, Any] = dict(
            depth=2, patch_nums=(1, 2, 3, 4), vocab_size=64, Cvae=8, embed_dim=64,
            num_heads=4, num_classes=10, vae_ch=16, vae_ch_mult=(1, 2, 2),
            vae_num_res_blocks=1, vae_norm_groups=8,
        )
        kw.update(overrides)
        return cls(**kw)


__all__ = ["DEFAULT_PATCH_NUMS", "VARConfig", "VQVAEConfig"]
