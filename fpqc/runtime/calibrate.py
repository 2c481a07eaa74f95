"""FPQVAR's calibration: input statistics of every linear layer, per VAR scale.

Which channels of an activation carry outliers changes from one VAR scale to the
next ("time-varying outliers", REFERENCE §1), so everything is recorded per layer
*and* per scale.  :func:`calibrate` generates images with the float model (an ONNX
file raised to float ``fpq``, so every ``fpq.linear`` is visible) through
:class:`~fpqc.runtime.var_runtime.VarRuntime` -- classifier-free guidance and
sampling as in generation, both the conditional and the unconditional rows
recorded (the accelerator runs both) -- and a listener reads the input of every
``fpq.linear`` on every run.  At scale k only the rows of scale k's own tokens
count (a KV-cached run sees just those): tokens ``[begin_k, end_k)`` of an input
over the L-token sequence, ``[begin_k - first_l, end_k - first_l)`` of
``word_embed``'s input (so ``word_embed`` has nothing at scale 0), every row of a
per-image input (the AdaLN condition of ``ada_lin`` / ``head_ada_lin``).  Padding
rows of the static batch are skipped.

Layers are named by role in program order: ``word_embed``, ``block{b}.{role}``
for ``ada_lin``, ``mat_qkv``, ``proj``, ``fc1``, ``fc2`` (block b starts at its
``ada_lin``), ``head_ada_lin``, ``head``; a linear without a role is
``linear{i}``.  ``i``, the linear's index in program order, is in the index.

The file (``calib.npz``; K = the layer's input features, NB = ``len(HIST_EDGES) + 1``):

=============================  ===============  ==============================================
key                            array            meaning
=============================  ===============  ==============================================
``{layer}.scale{k}.absmax``    float32 [K]      max |x| of each input channel
``{layer}.scale{k}.negfrac``   float32 [K]      fraction of values < 0 of each channel
``{layer}.scale{k}.hist``      int64 [NB]       counts of all values in the bins of ``hist_edges``
``{layer}.scale{k}.count``     int64 []         number of input rows seen
``linear{i}/scale{k}``         float32 [R, K]   a uniform sample (without replacement) of the
                                                rows seen, R ≤ ``rows_per_scale``: what GALT
                                                (:mod:`fpqc.quant.galt`) learns from
``hist_edges``                 float64 [NB-1]   the fixed histogram edges (:data:`HIST_EDGES`)
``__index__``                  uint8 [...]      UTF-8 JSON: the index below
=============================  ===============  ==============================================

The index (also written as ``calib.json`` beside ``calib.npz``) holds the model,
the generation settings (classes, samples per class, cfg, top-k, top-p, seed),
``rows_per_scale``, ``patch_nums`` and per layer ``{"name", "linear", "role",
"block", "in_features", "scales"}`` (the scales that have keys) -- not the time
calibration took, so that the same model and settings give the same bytes.

Histogram bins (fixed, the same for every layer): the edges are 0 and ±2^e for
e = -12, -11.5, ..., 12 (half octaves), ascending; bin 0 holds values below
−2^12, bin j (1 ≤ j < NB−1) holds ``[edges[j-1], edges[j])``, the last bin
values ≥ 2^12.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation

from fpqc.dialects import fpq
from fpqc.errors import FpqcError
from fpqc.frontend.var.config import VARConfig
from fpqc.backends.model_signature import main_function
from fpqc.runtime.model import RunObserver
from fpqc.runtime.progress import ScaleProgress, scale_bar
from fpqc.runtime.schedule import ScaleStep
from fpqc.runtime.var_runtime import VarRuntime

_POWERS = 2.0 ** np.arange(-12.0, 12.5, 0.5)
HIST_EDGES = np.concatenate([-_POWERS[::-1], [0.0], _POWERS])
"""Inner edges of the fixed histogram bins (see the module docstring)."""
ROWS_PER_SCALE = 256
"""Default bound on the raw input rows kept per layer per scale."""
BLOCK_ROLES = ("ada_lin", "mat_qkv", "proj", "fc1", "fc2")


@dataclass(frozen=True)
class LinearLayer:
    """An ``fpq.linear`` of the float model: its name, program-order index, role, block, input features."""

    name: str
    linear: int
    role: str | None
    block: int | None
    in_features: int


def linear_layers(module: ModuleOp) -> list[tuple[fpq.LinearOp, LinearLayer]]:
    """Every ``fpq.linear`` of ``@main`` in program order with its :class:`LinearLayer` (names: module docstring)."""
    out, block, seen = [], -1, set()
    for i, op in enumerate(o for o in main_function(module).walk() if isinstance(o, fpq.LinearOp)):
        role = fpq.role_of(op)
        if role == "ada_lin":
            block += 1
        in_block = role in BLOCK_ROLES and block >= 0
        name = f"block{block}.{role}" if in_block else (role or f"linear{i}")
        if name in seen:
            name = f"{name}.linear{i}"
        seen.add(name)
        in_features = op.operands[0].type.get_shape()[-1]
        out.append((op, LinearLayer(name, i, role, block if in_block else None, int(in_features))))
    return out


@dataclass
class _Stats:
    """Running statistics of one layer's input at one scale."""

    absmax: np.ndarray
    negatives: np.ndarray
    hist: np.ndarray
    count: int = 0
    rows: np.ndarray | None = None
    priorities: np.ndarray | None = None

    @classmethod
    def empty(cls, features: int) -> "_Stats":
        return cls(np.zeros(features, np.float32), np.zeros(features, np.int64), np.zeros(len(HIST_EDGES) + 1, np.int64))

    def add(self, rows: np.ndarray, rng: np.random.Generator, keep: int) -> None:
        """Fold ``rows [n, K]`` in; keep the ``keep`` rows of lowest random priority (a uniform sample)."""
        np.maximum(self.absmax, np.abs(rows).max(axis=0), out=self.absmax)
        self.negatives += (rows < 0).sum(axis=0)
        idx = np.searchsorted(HIST_EDGES, rows.ravel(), side="right")
        self.hist += np.bincount(idx, minlength=len(self.hist))
        self.count += rows.shape[0]
        priorities = rng.random(rows.shape[0])
        if self.rows is not None:
            rows, priorities = np.concatenate([self.rows, rows]), np.concatenate([self.priorities, priorities])
        order = np.argsort(priorities, kind="stable")[:keep]
        self.rows, self.priorities = rows[order].astype(np.float32), priorities[order]


class ActivationRecorder(RunObserver):
    """Records the input of every ``fpq.linear`` per scale (see the module docstring)."""

    def __init__(self, module: ModuleOp, config: VARConfig, rows_per_scale: int, rng: np.random.Generator) -> None:
        self.config = config
        self.rows_per_scale = rows_per_scale
        self.rng = rng
        self.layers = linear_layers(module)
        if not self.layers:
            raise FpqcError("calibration needs the float model with its fpq.linear layers; pass the ONNX file")
        self.by_op = {op: layer for op, layer in self.layers}
        self.stats: dict[tuple[str, int], _Stats] = {}
        self.step: ScaleStep | None = None
        self.real_rows = 0

    def begin_run(self, step: ScaleStep, real_rows: int) -> None:
        self.step, self.real_rows = step, real_rows

    def will_interpret_op(self, op: Operation, args) -> None:
        layer = self.by_op.get(op)
        if layer is None or self.step is None:
            return
        rows = self._scale_rows(np.asarray(args[0])[: self.real_rows], self.step)
        if rows.shape[0] == 0:
            return
        key = (layer.name, self.step.index)
        if key not in self.stats:
            self.stats[key] = _Stats.empty(layer.in_features)
        self.stats[key].add(rows.astype(np.float32), self.rng, self.rows_per_scale)

    def _scale_rows(self, x: np.ndarray, step: ScaleStep) -> np.ndarray:
        """The rows of ``x`` that belong to ``step``'s tokens, as ``[n, K]``."""
        if x.ndim == 3 and x.shape[1] == self.config.L:
            x = x[:, step.begin:step.end]
        elif x.ndim == 3 and x.shape[1] == self.config.L - self.config.first_l:
            x = x[:, max(step.begin - self.config.first_l, 0):step.end - self.config.first_l]
        return x.reshape(-1, x.shape[-1])


@dataclass
class Calibration:
    """The result of :func:`calibrate`: per-layer, per-scale statistics and the settings."""

    layers: list[LinearLayer]
    stats: dict[tuple[str, int], _Stats]
    settings: dict = field(default_factory=dict)
    seconds: float = 0.0

    def scales_of(self, name: str) -> list[int]:
        return sorted(k for (layer, k) in self.stats if layer == name)

    def absmax(self, name: str) -> np.ndarray:
        """Per-channel absmax of a layer's input, ``[scales, K]`` (scales without data omitted)."""
        return np.stack([self.stats[(name, k)].absmax for k in self.scales_of(name)])

    def index(self) -> dict:
        """The JSON index (see the module docstring)."""
        return {
            "format": "fpqc-calibration",
            "version": 1,
            **self.settings,
            "histogram_edges": HIST_EDGES.tolist(),
            "layers": [
                {"name": l.name, "linear": l.linear, "role": l.role, "block": l.block,
                 "in_features": l.in_features, "scales": self.scales_of(l.name)}
                for l in self.layers
            ],
        }

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays of ``calib.npz`` under the documented keys."""
        out: dict[str, np.ndarray] = {}
        for layer in self.layers:
            for k in self.scales_of(layer.name):
                s = self.stats[(layer.name, k)]
                prefix = f"{layer.name}.scale{k}"
                out[f"{prefix}.absmax"] = s.absmax
                out[f"{prefix}.negfrac"] = (s.negatives / max(s.count, 1)).astype(np.float32)
                out[f"{prefix}.hist"] = s.hist
                out[f"{prefix}.count"] = np.array(s.count, dtype=np.int64)
                out[f"linear{layer.linear}/scale{k}"] = s.rows
        out["hist_edges"] = HIST_EDGES
        out["__index__"] = np.frombuffer(json.dumps(self.index(), sort_keys=True).encode(), dtype=np.uint8).copy()
        return out

    def save(self, path: Path) -> Path:
        """Write ``path`` (.npz) and its index beside it (``.json``); returns the index's path."""
        index_path = path.with_suffix(".json")
        path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(path, lambda f: np.savez(f, **self.arrays()))
        _atomic_write(index_path, lambda f: f.write((json.dumps(self.index(), indent=2, sort_keys=True) + "\n").encode()))
        return index_path

    def plot(self, path: Path, block: int | None = None) -> tuple[str, str]:
        """Heat maps of per-channel absmax (channels × scales) of one block's fc2 and
        mat_qkv inputs (default: the middle block); returns the two layer names."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.colors import LogNorm

        blocks = sorted({l.block for l in self.layers if l.block is not None})
        if not blocks:
            raise FpqcError("no transformer blocks among the calibrated layers; nothing to plot")
        b = blocks[len(blocks) // 2] if block is None else block
        names = (f"block{b}.fc2", f"block{b}.mat_qkv")
        patch_nums = self.settings.get("patch_nums", [])
        fig, axes = plt.subplots(2, 1, figsize=(10, 6.5), constrained_layout=True)
        for ax, name in zip(axes, names, strict=True):
            data = self.absmax(name)
            scales = self.scales_of(name)
            positive = data[data > 0]
            norm = LogNorm(vmin=max(float(positive.min()), 1e-6), vmax=float(positive.max())) if positive.size else None
            image = ax.imshow(np.maximum(data, 1e-6), aspect="auto", interpolation="nearest", norm=norm, cmap="magma")
            ax.set_yticks(range(len(scales)))
            ax.set_yticklabels([f"{k} ({patch_nums[k]}²)" if k < len(patch_nums) else str(k) for k in scales])
            ax.set_ylabel("scale (tokens)")
            ax.set_xlabel("input channel")
            ax.set_title(f"{name} input: per-channel absmax per VAR scale")
            fig.colorbar(image, ax=ax, label="absmax")
        fig.savefig(path, dpi=120)
        plt.close(fig)
        return names


def _atomic_write(path: Path, write) -> None:
    """Write through a temporary file in the same folder, renamed into place at the end."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def calibrate(
    runtime: VarRuntime,
    classes: Sequence[int],
    samples_per_class: int,
    cfg: float = 1.5,
    top_k: int = 900,
    top_p: float = 0.96,
    seed: int = 0,
    rows_per_scale: int = ROWS_PER_SCALE,
    model_name: str = "",
) -> Calibration:
    """Generate ``samples_per_class`` images of each class with the float model and
    record every linear layer's input statistics per scale (see the module docstring)."""
    if runtime.model.quantized:
        raise FpqcError("calibration runs the float model; pass the ONNX file, not a build directory")
    if samples_per_class < 1 or rows_per_scale < 1:
        raise FpqcError("--samples and --rows must be at least 1")
    labels = np.tile(runtime.check_labels(classes), samples_per_class)
    sample_seed, row_seed = np.random.SeedSequence(seed).spawn(2)
    sample_rng, row_rng = np.random.default_rng(sample_seed), np.random.default_rng(row_seed)
    recorder = ActivationRecorder(runtime.model.module, runtime.config, rows_per_scale, row_rng)
    group = max(1, runtime.model.batch // 2)
    groups = [labels[i:i + group] for i in range(0, len(labels), group)]
    start = time.perf_counter()
    with scale_bar("calibrate", len(groups) * len(runtime.schedule)) as bar:
        for chunk in groups:
            # Teacher forcing at every scale: the recorder watches @main's layers.
            runtime.generate(chunk, sample_rng, cfg=cfg, top_k=top_k, top_p=top_p, decode=False,
                             observers=(recorder, ScaleProgress(bar)), kv_cache=False)
    seconds = time.perf_counter() - start
    settings = {
        "model": model_name,
        "classes": [int(c) for c in classes],
        "samples_per_class": samples_per_class,
        "images": len(labels),
        "cfg": cfg,
        "top_k": top_k,
        "top_p": top_p,
        "seed": seed,
        "rows_per_scale": rows_per_scale,
        "patch_nums": list(runtime.config.patch_nums),
    }
    return Calibration([layer for _, layer in recorder.layers], recorder.stats, settings, seconds)


__all__ = ["calibrate", "Calibration", "ActivationRecorder", "LinearLayer", "linear_layers", "HIST_EDGES",
           "ROWS_PER_SCALE"]
