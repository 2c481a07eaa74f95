"""Generated images as files: a grid of images as one PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def save_image_grid(images: np.ndarray, path: Path, min_side: int = 64) -> None:
    """Images [N, H, W, 3] in [0, 1] as one PNG, up to 10 per row, each enlarged to at least ``min_side``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    zoom = max(1, -(-min_side // images.shape[1]))
    images = images.repeat(zoom, axis=1).repeat(zoom, axis=2)
    n, h, w, c = images.shape
    cols = min(n, 10)
    rows = -(-n // cols)
    grid = np.ones((rows * h, cols * w, c), dtype=np.float32)
    for i, image in enumerate(images):
        r, q = divmod(i, cols)
        grid[r * h:(r + 1) * h, q * w:(q + 1) * w] = image
    plt.imsave(path, np.clip(grid, 0, 1))
