"""The per-scale schedule of VAR generation, as data.

Generation runs VAR's K scales in order; step k predicts the ``pn_k²`` tokens
of scale k.  :func:`teacher_forcing_schedule` lists the steps; the runtime
walks the list, so another schedule (a KV-cached one, or the FPGA host's
``schedule.json``) can take its place without touching the sampling and
VQVAE code around it.

For the default scales (1, 2, 3, 4, 5, 6, 8, 10, 13, 16)::

    ScaleStep(index=0, patch_num=1,  begin=0,   end=1,   ratio=0.0)
    ScaleStep(index=1, patch_num=2,  begin=1,   end=5,   ratio=0.111...)
    ...
    ScaleStep(index=9, patch_num=16, begin=424, end=680, ratio=1.0)
"""

from __future__ import annotations

from dataclasses import dataclass

from fpqc.frontend.var.config import VARConfig


@dataclass(frozen=True)
class ScaleStep:
    """One scale of generation: its index k, side ``patch_num``, token range
    ``[begin, end)`` in the flattened L-token sequence, and ``ratio = k / (K-1)``
    (the classifier-free-guidance ramp and the φ-conv selector)."""

    index: int
    patch_num: int
    begin: int
    end: int
    ratio: float

    @property
    def tokens(self) -> int:
        return self.end - self.begin


def teacher_forcing_schedule(cfg: VARConfig) -> list[ScaleStep]:
    """The K steps of generation with the static teacher-forcing graph.

    At step k the whole graph runs with the teacher-forcing input filled up to
    scale k (scales after k are zero); the block-causal mask makes the logits of
    scale k independent of the later positions, so they equal a KV-cached run's.
    """
    last = len(cfg.patch_nums) - 1
    return [
        ScaleStep(k, pn, begin, end, k / last if last > 0 else 0.0)
        for k, (pn, (begin, end)) in enumerate(zip(cfg.patch_nums, cfg.begin_ends, strict=True))
    ]


__all__ = ["ScaleStep", "teacher_forcing_schedule"]
