"""Class-conditional VAR generation in fpqc's interpreter: :class:`VarRuntime`.

::

    runtime = VarRuntime.load("examples/digits/var.onnx")   # float model (raised fpq IR)
    runtime = VarRuntime.load("build/")                      # quantized build, bit-exact with the FPGA
    out = runtime.generate([3, 7], seed=0, cfg=1.5, top_k=900, top_p=0.96)
    out.images          # [2, H, W, 3] float32 in [0, 1]
    out.tokens[k]       # [2, pn_k²] int64 token indices of scale k

Per step of the schedule (:func:`~fpqc.runtime.schedule.teacher_forcing_schedule`),
with N labels and the batch doubled for classifier-free guidance::

    labels2   = [labels, null × N]                    (null class = num_classes)
    inputs    [2N, L-1, Cvae]: scales 1..k filled from f_hat, later positions zero
    logits    = model(labels2, inputs)[:, begin_k:end_k]       (interpreter; any level)
    guided    = (1 + t)·logits[:N] − t·logits[N:],  t = cfg · k / (K-1)
    tokens_k  = top-k, top-p, draw (numpy Generator seeded with ``seed``)
    f_hat    += φ_k(bicubic-up(codebook[tokens_k]))   (host VQVAE, float32 PyTorch)
    inputs[:, scale k+1] = area-down(f_hat, pn_{k+1})

then ``images = decode(f_hat)``.  This agrees with the KV-cached reference
:func:`fpqc.frontend.var.generate.autoregressive_infer_cfg` given the same tokens
(the reference draws with a torch Generator, so with sampling the token streams differ).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fpqc.errors import FpqcError
from fpqc.runtime.model import KvCache, RunObserver, VarModel
from fpqc.runtime.sampling import guided_logits, sample_tokens
from fpqc.runtime.schedule import ScaleStep, teacher_forcing_schedule

if TYPE_CHECKING:
    from fpqc.runtime.host_vqvae import HostVQVAE  # imports torch: loaded by VarModel.vqvae when needed


@dataclass
class Generation:
    """What :meth:`VarRuntime.generate` returns.

    ``images`` [N, H, W, 3] float32 in [0, 1] (empty when not decoded); ``labels`` [N] int64; ``tokens`` one
    [N, pn_k²] int64 array per scale; ``logits`` (when asked for) one [2N, pn_k², V]
    float32 array per scale, the raw conditional rows then the unconditional ones.
    """

    images: np.ndarray
    labels: np.ndarray
    tokens: list[np.ndarray]
    logits: list[np.ndarray] = field(default_factory=list)


class VarRuntime:
    """A VAR model (float ONNX or quantized build) plus its host VQVAE, run scale by scale."""

    def __init__(self, model: VarModel, vqvae: HostVQVAE, schedule: list[ScaleStep] | None = None) -> None:
        config = model.config
        if (vqvae.cfg.vocab_size, vqvae.cfg.Cvae, vqvae.cfg.patch_nums) != (
            config.vocab_size, config.Cvae, config.patch_nums
        ):
            raise FpqcError(
                f"{model.vae}: VQVAE (vocabulary {vqvae.cfg.vocab_size}, Cvae {vqvae.cfg.Cvae}, "
                f"scales {list(vqvae.cfg.patch_nums)}) does not match the VAR's ({config.vocab_size}, "
                f"{config.Cvae}, {list(config.patch_nums)})"
            )
        self.model = model
        self.vqvae = vqvae
        self.schedule = schedule if schedule is not None else teacher_forcing_schedule(config)

    @classmethod
    def load(cls, path: str | Path, vae: Path | None = None) -> "VarRuntime":
        """An ONNX file or a build directory, and its VQVAE (see :mod:`fpqc.runtime.model`)."""
        model = VarModel.load(path, vae)
        return cls(model, model.vqvae())

    @property
    def config(self):
        return self.model.config

    def check_labels(self, labels: Sequence[int] | np.ndarray) -> np.ndarray:
        """``labels`` as int64 [N], each a class in ``0 .. num_classes - 1``."""
        arr = np.asarray(labels, dtype=np.int64).reshape(-1)
        bad = arr[(arr < 0) | (arr >= self.config.num_classes)]
        if arr.size == 0 or bad.size:
            raise FpqcError(
                f"class labels must be in 0..{self.config.num_classes - 1}"
                + (f"; got {int(bad[0])}" if bad.size else "; got none")
            )
        return arr

    def generate(
        self,
        labels: Sequence[int] | np.ndarray,
        seed: int | np.random.Generator = 0,
        cfg: float = 1.5,
        top_k: int = 0,
        top_p: float = 0.0,
        tokens: Sequence[np.ndarray] | None = None,
        keep_logits: bool = False,
        decode: bool = True,
        observers: Sequence[RunObserver] = (),
        kv_cache: bool = True,
    ) -> Generation:
        """Generate one image per label (see the module docstring).

        :param seed: seed of the numpy Generator that draws the tokens (or the Generator)
        :param tokens: force these tokens (one [N, pn_k²] array per scale) instead of sampling
        :param keep_logits: return the raw conditional/unconditional logits of every scale
        :param decode: decode f_hat to images (calibration skips it: ``images`` is then empty)
        :param observers: watch every run of the graph (e.g. to record activations)
        :param kv_cache: run the per-scale step program with its KV cache when the model has it;
            False reruns the teacher-forcing graph at every scale (same logits, bit for bit)
        """
        labels = self.check_labels(labels)
        config = self.config
        n = len(labels)
        if tokens is not None and len(tokens) != len(self.schedule):
            raise FpqcError(f"forced tokens: {len(tokens)} scales given, the model has {len(self.schedule)}")
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        both = np.concatenate([labels, np.full(n, config.num_classes, dtype=np.int64)])
        inputs = np.zeros((2 * n, config.L - config.first_l, config.Cvae), dtype=np.float32)
        f_hat = self.vqvae.zero_fhat(n)
        out = Generation(images=np.empty(0, np.float32), labels=labels, tokens=[])
        cache = KvCache() if kv_cache and self.model.has_steps else None
        for step in self.schedule:
            logits = self.model.step_logits(step, both, inputs, observers, cache)
            if keep_logits:
                out.logits.append(logits)
            if tokens is not None:
                idx = np.asarray(tokens[step.index], dtype=np.int64).reshape(n, step.tokens)
            else:
                idx = sample_tokens(guided_logits(logits[:n], logits[n:], cfg, step.ratio), rng, top_k, top_p)
            out.tokens.append(idx)
            f_hat, next_input = self.vqvae.advance(step.index, f_hat, self.vqvae.code_map(idx))
            if next_input is not None:
                begin, end = self.schedule[step.index + 1].begin, self.schedule[step.index + 1].end
                inputs[:, begin - config.first_l:end - config.first_l] = np.concatenate([next_input, next_input])
            for observer in observers:
                observer.end_step(step)
        if decode:
            out.images = self.vqvae.decode(f_hat)
        return out


__all__ = ["VarRuntime", "Generation"]
