"""A VAR transformer ready to run in fpqc's interpreter: its IR, weights and configuration.

:meth:`VarModel.load` accepts

* an ONNX file exported by :func:`fpqc.frontend.var.export.export_var`: it is imported and
  raised to the float ``fpq`` level (every ``fpq.linear`` visible, marked with its
  ``fpq.role``); the configuration is the ONNX metadata ``fpqc.var_config``;
* a build directory of ``fpqc compile``: its final IR ``model.hls.mlir`` + ``weights.npz``
  (the quantized model, bit-exact with the FPGA kernels); the configuration is
  ``var_config.json`` in the build, else the metadata of the ONNX file that
  ``manifest.json``'s ``"model"`` names, when that file can be found; ``vae.npz`` is the
  build's, else the one beside that ONNX file.

The VQVAE arrays (``vae.npz``) are loaded by :class:`fpqc.runtime.host_vqvae.HostVQVAE`
from :attr:`VarModel.vae_dir`.

The graph is VAR's teacher-forcing forward ``(label_B [B] int64, x_BLCv_wo_first_l
[B, L-1, Cvae]) -> logits_BLV [B, L, V]`` with a static batch B.
:meth:`VarModel.step_logits` runs any number of rows by splitting them into
batches of B (the last one padded by repeating its first row; padded rows are
dropped) and returns one scale's logits.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.dialects.func import FuncOp
from xdsl.interpreter import Interpreter

from fpqc.backends.interp.runner import model_input_names, run_module
from fpqc.compiler import load_build, load_onnx, run_pipeline
from fpqc.errors import FpqcError
from fpqc.frontend.var.config import VARConfig
from fpqc.frontend.var_build_files import CONFIG_FILE, CONFIG_METADATA, VAE_FILE, fpqc_metadata
from fpqc.passes.pipelines import RAISE_PIPELINE
from fpqc.runtime.schedule import ScaleStep
from fpqc.weights import WeightStore

LABEL_INPUT, TOKENS_INPUT = "label_B", "x_BLCv_wo_first_l"


class RunObserver(Interpreter.Listener):
    """Watches the interpreter during generation.

    Before each run of the graph the runtime calls :meth:`begin_run` with the
    scale step and the number of leading batch rows that are real (the rest
    is padding); after each scale, :meth:`end_step`.  The interpreter calls the
    :class:`~xdsl.interpreter.Interpreter.Listener` methods for every op.
    """

    def begin_run(self, step: ScaleStep, real_rows: int) -> None:
        """A run of the graph for ``step`` starts; rows ``[:real_rows]`` of its batch are real."""

    def end_step(self, step: ScaleStep) -> None:
        """Every run of ``step`` is done."""


def _onnx_var_config(path: Path) -> VARConfig:
    meta = fpqc_metadata(path)
    if CONFIG_METADATA not in meta:
        raise FpqcError(
            f"{path}: no '{CONFIG_METADATA}' metadata, so not a VAR exported by fpqc; export it with `fpqc export-var`"
        )
    return _parse_config(meta[CONFIG_METADATA], path)


def _parse_config(text: str, source: Path) -> VARConfig:
    try:
        return VARConfig.from_dict(json.loads(text))
    except (ValueError, TypeError) as e:
        raise FpqcError(f"{source}: invalid VAR configuration ({e})") from None


def _recorded_model(build: Path) -> Path | None:
    """The source ONNX file that ``manifest.json`` records, if it can be found."""
    manifest = build / "manifest.json"
    if not manifest.is_file():
        return None
    try:
        recorded = json.loads(manifest.read_text()).get("model")
    except (ValueError, AttributeError):
        raise FpqcError(f"{manifest}: not a readable build manifest; recompile the model") from None
    return Path(recorded) if recorded and Path(recorded).is_file() else None


def _build_sources(build: Path) -> tuple[VARConfig, Path]:
    """(configuration, folder that should hold ``vae.npz``) of a build directory."""
    source = _recorded_model(build)
    if (build / CONFIG_FILE).is_file():
        config = _parse_config((build / CONFIG_FILE).read_text(), build / CONFIG_FILE)
    elif source is not None:
        config = _onnx_var_config(source)
    else:
        raise FpqcError(
            f"{build}: the build has no var_config.json and its source model is not found; "
            f"recompile the VAR's var.onnx with fpqc compile"
        )
    if not (build / VAE_FILE).is_file() and source is not None and (source.parent / VAE_FILE).is_file():
        return config, source.parent
    return config, build


@dataclass
class VarModel:
    """The teacher-forcing VAR graph of a model, its weights and configuration."""

    module: ModuleOp
    store: WeightStore
    config: VARConfig
    batch: int
    vae_dir: Path
    quantized: bool

    @classmethod
    def load(cls, path: str | Path) -> "VarModel":
        """Load an ONNX file (raised to float ``fpq``) or a build directory (see module docstring)."""
        path = Path(path)
        if path.is_dir():
            module, store = load_build(path)
            config, vae_dir = _build_sources(path)
            quantized = True
        elif path.is_file():
            config, vae_dir = _onnx_var_config(path), path.parent
            module, store = load_onnx(path)
            with store.activate():
                run_pipeline(module, RAISE_PIPELINE, "raise")
            quantized = False
        else:
            raise FpqcError(f"{path}: no such file or build directory")
        return cls(module, store, config, _check_signature(module, config, path), vae_dir, quantized)

    def step_logits(
        self,
        step: ScaleStep,
        labels: np.ndarray,
        inputs: np.ndarray,
        observers: Sequence[RunObserver] = (),
    ) -> np.ndarray:
        """Scale ``step``'s logits ``[N, pn², V]`` for ``labels [N]`` and teacher-forcing
        ``inputs [N, L-1, Cvae]``, in batches of the graph's static batch size."""
        out = []
        for start in range(0, len(labels), self.batch):
            real = min(self.batch, len(labels) - start)
            rows = np.r_[np.arange(start, start + real), np.full(self.batch - real, start)]
            for observer in observers:
                observer.begin_run(step, real)
            feed = {LABEL_INPUT: labels[rows].astype(np.int64), TOKENS_INPUT: inputs[rows].astype(np.float32)}
            result = run_module(self.module, feed, self.store, listeners=tuple(observers))
            logits = next(iter(result.values()))
            out.append(logits[:real, step.begin:step.end])
        return np.concatenate(out, axis=0)


def _check_signature(module: ModuleOp, config: VARConfig, path: Path) -> int:
    """The static batch of the graph, after checking it is VAR's teacher-forcing forward."""
    names = model_input_names(module)
    if sorted(names) != sorted([LABEL_INPUT, TOKENS_INPUT]):
        raise FpqcError(
            f"{path}: inputs are {', '.join(names)}; a VAR teacher-forcing graph has {LABEL_INPUT} and {TOKENS_INPUT}"
        )
    main = next(op for op in module.ops if isinstance(op, FuncOp) and op.sym_name.data == "main")
    types = dict(zip(names, main.function_type.inputs.data, strict=True))
    tokens = types[TOKENS_INPUT]
    assert isinstance(tokens, TensorType)
    shape = tuple(tokens.get_shape())
    expected = (config.L - config.first_l, config.Cvae)
    if len(shape) != 3 or shape[1:] != expected:
        raise FpqcError(
            f"{path}: {TOKENS_INPUT} has shape {list(shape)}, the VAR configuration needs [B, {expected[0]}, {expected[1]}]"
        )
    return int(shape[0])


__all__ = ["VarModel", "RunObserver", "LABEL_INPUT", "TOKENS_INPUT"]
