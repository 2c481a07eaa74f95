"""The reference VAR model (Tian et al., 2024) in PyTorch, and its ONNX exporter.

- :mod:`.config` — :class:`VARConfig` / :class:`VQVAEConfig` (JSON-serialisable).
- :mod:`.transformer` — :class:`VAR`, with the released parameter names.
- :mod:`.vqvae` — :class:`VQVAE` with the multi-scale residual quantizer.
- :mod:`.generate` — KV-cached, classifier-free-guided sampling (``autoregressive_infer_cfg``).
- :mod:`.export` — ``export_var``: ``var.onnx`` + ``vae.npz`` for fpqc.
"""

from .config import VARConfig, VQVAEConfig

__all__ = ["VARConfig", "VQVAEConfig", "VAR", "VQVAE"]


def __getattr__(name: str):
    """``VAR`` and ``VQVAE`` on first use: they import torch, which compiling a model does not need."""
    if name == "VAR":
        from .transformer import VAR

        return VAR
    if name == "VQVAE":
        from .vqvae import VQVAE

        return VQVAE
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
