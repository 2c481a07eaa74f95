"""Progress of a generation on the terminal: a tqdm bar advanced after every scale.

Bars are quiet when stderr is not a terminal (``disable=None``).
"""

from __future__ import annotations

from tqdm import tqdm

from fpqc.runtime.model import RunObserver
from fpqc.runtime.schedule import ScaleStep


def scale_bar(desc: str, scales: int) -> tqdm:
    """A bar of ``scales`` steps (one per scale of every generation it follows)."""
    return tqdm(total=scales, desc=desc, unit="scale", disable=None, leave=False)


class ScaleProgress(RunObserver):
    """Advances ``bar`` by one after every scale of a generation."""

    def __init__(self, bar: tqdm) -> None:
        self.bar = bar

    def end_step(self, step: ScaleStep) -> None:
        self.bar.update(1)
