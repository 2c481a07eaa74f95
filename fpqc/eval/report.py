"""``fpqc eval``'s outputs: the table printed for people, ``eval.json`` and plots."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from fpqc.eval.quality import RecipeQuality


def table(results: list[RecipeQuality]) -> str:
    """A fixed-width table like the paper's, one row per recipe (with the KL's spread over seeds, if several)."""
    generation_keys = sorted({k for r in results for k in r.generation})
    seeds = max((len(r.kl_runs) for r in results), default=1)
    width = max([26, *(len(r.recipe) for r in results)])
    header = f"{'recipe':<{width}} {'KL (nats)':>10}" + (f" {'± seeds':>8}" if seeds > 1 else "")
    header += f" {'top-1':>7} {'mean SQNR':>10} {'min SQNR':>9}"
    widths = {k: max(9, len(k)) for k in generation_keys}
    header += "".join(f" {k:>{widths[k]}}" for k in generation_keys)
    lines = [header, "-" * len(header)]
    for r in results:
        finite = [db for _, db in r.layers if np.isfinite(db)]
        worst = min(finite) if finite else float("inf")
        row = f"{r.recipe:<{width}} {r.kl:>10.4f}"
        if seeds > 1:
            row += f" {r.kl_spread:>8.4f}" if len(r.kl_runs) > 1 else f" {'-':>8}"
        row += f" {r.top1:>7.3f} {r.mean_sqnr:>8.2f}dB {worst:>7.2f}dB"
        row += "".join(f" {r.generation.get(k, float('nan')):>{widths[k]}.3f}" for k in generation_keys)
        lines.append(row)
    return "\n".join(lines)


def write_json(results: list[RecipeQuality], path: Path) -> None:
    payload = [
        {
            "recipe": r.recipe,
            "kl": r.kl,
            "kl_runs": r.kl_runs,
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


def plot_hadamard_histograms(activations: dict[str, np.ndarray], path: Path, block: int = 128, seed: int = 0) -> None:
    """Histograms and per-channel absmax of linear inputs before and after the group-wise Hadamard.

    One row per layer in ``activations`` (e.g. ``b1.mat_qkv``, ``b1.fc1``); the
    transform is ``ght_f32`` with the random signs of ``seed``, as the
    group-hadamard pass applies it.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fpqc.numerics.hadamard import ght_f32, random_signs

    fig, axes = plt.subplots(len(activations), 2, figsize=(11, 3.2 * len(activations)), squeeze=False)
    for row, (label, x) in enumerate(activations.items()):
        rows = x.reshape(-1, x.shape[-1]).astype(np.float32)
        transformed = ght_f32(rows, random_signs(rows.shape[-1], seed).astype(np.float32), block)
        bins = np.linspace(min(rows.min(), transformed.min()), max(rows.max(), transformed.max()), 121)
        hist_ax, channel_ax = axes[row]
        hist_ax.hist(rows.ravel(), bins=bins, alpha=0.6, label="before", log=True)
        hist_ax.hist(transformed.ravel(), bins=bins, alpha=0.6, label="after GHT", log=True)
        hist_ax.set_title(f"{label} input: values")
        hist_ax.legend(fontsize=8)
        channel_ax.plot(np.abs(rows).max(axis=0), label=f"before (max {np.abs(rows).max():.2f})")
        channel_ax.plot(np.abs(transformed).max(axis=0), label=f"after GHT (max {np.abs(transformed).max():.2f})")
        channel_ax.set_title(f"{label} input: per-channel absmax")
        channel_ax.set_xlabel("channel")
        channel_ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
