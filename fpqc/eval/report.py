"""``fpqc eval``'s outputs: the table printed for people, ``eval.json`` and plots."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from fpqc.eval.quality import RecipeQuality


def table(results: list[RecipeQuality]) -> str:
    """A fixed-width table like the paper's, one row per recipe."""
    generation_keys = sorted({k for r in results for k in r.generation})
    header = f"{'recipe':<18} {'KL (nats)':>10} {'top-1':>7} {'mean SQNR':>10} {'min SQNR':>9}"
    header += "".join(f" {k:>9}" for k in generation_keys)
    lines = [header, "-" * len(header)]
    for r in results:
        finite = [db for _, db in r.layers if np.isfinite(db)]
        worst = min(finite) if finite else float("inf")
        row = f"{r.recipe:<18} {r.kl:>10.4f} {r.top1:>7.3f} {r.mean_sqnr:>8.2f}dB {worst:>7.2f}dB"
        row += "".join(f" {r.generation.get(k, float('nan')):>9.3f}" for k in generation_keys)
        lines.append(row)
    return "\n".join(lines)


def write_json(results: list[RecipeQuality], path: Path) -> None:
    payload = [
        {
            "recipe": r.recipe,
            "kl": r.kl,
            "top1": r.top1,
            "mean_sqnr_db": r.mean_sqnr,
            "layer_sqnr_db": {label: db for label, db in r.layers},
            "generation": r.generation,
        }
        for r in results
    ]
    path.write_text(json.dumps(payload, indent=2, sort_keys=True, allow_nan=True) + "\n")


def plot_layer_sqnr(results: list[RecipeQuality], path: Path) -> None:
    """Per-layer SQNR of every recipe (layers in program order; float layers left out)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 4.5))
    for r in results:
        points = [(i, db) for i, (_, db) in enumerate(r.layers) if np.isfinite(db)]
        if points:
            xs, ys = zip(*points)
            ax.plot(xs, ys, marker="o", markersize=3, label=r.recipe)
    labels = [label for label, _ in results[0].layers] if results else []
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=90, fontsize=7)
    ax.set_ylabel("SQNR of the layer output (dB)")
    ax.set_title("Per-layer SQNR against the float model (higher is better)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
