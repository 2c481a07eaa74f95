"""A VAR transformer ready to run in fpqc's interpreter: its IR, weights, configuration and VQVAE.

:meth:`VarModel.load` accepts

* an ONNX file of VAR's teacher-forcing forward: it is imported and raised to the float
  ``fpq`` level (every ``fpq.linear`` visible, marked with its ``fpq.role``).  The
  configuration is the ONNX metadata ``fpqc.var_config`` of an ``fpqc export-var`` file,
  else read off the raised graph (:func:`~fpqc.frontend.var.infer_config.infer_var_config`:
  an export of the released code);
* a build directory of ``fpqc compile``: its final IR ``model.hls.mlir`` + ``weights.npz``
  (the quantized model, bit-exact with the FPGA kernels); the configuration is
  ``var_config.json`` in the build, else the metadata of the ONNX file that
  ``manifest.json``'s ``"model"`` names, when that file can be found.

The VQVAE (:class:`fpqc.runtime.host_vqvae.HostVQVAE`) is the file given as ``vae`` —
``vae.npz`` or the released checkpoint ``vae_ch160v4096z32.pth`` — else ``vae.npz`` in
the build, else the one beside the ONNX file.

The graph is VAR's teacher-forcing forward ``(label [B] int64, tokens [B, L-1, Cvae]
float32) -> logits [B, L, V]`` with a static batch B; its inputs are told apart by type,
whatever the exporter named them (``label_B`` / ``x_BLCv_wo_first_l`` for fpqc's export).
:meth:`VarModel.step_logits` runs any number of rows by splitting them into
batches of B (the last one padded by repeating its first row; padded rows are
dropped) and returns one scale's logits.

Generation runs the per-scale step program (``@prologue``, ``@step_0`` ... of
the ``step-program`` pass; a build has it, an ONNX file gets it when loaded):
the prologue computes once what does not depend on the tokens (the class
embedding, the AdaLN vectors), then step k computes only scale k's tokens
against a KV cache that a :class:`KvCache` carries from step to step, one set
of cache arrays per batch of B rows.
Without a :class:`KvCache` every step reruns the teacher-forcing ``@main`` and
keeps the rows of its scale (calibration does so: it watches ``@main``'s ops).
Both give the same logits bit for bit (the ``step-program`` docstring says why).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from xdsl.dialects.builtin import Float32Type, IntegerType, ModuleOp, TensorType
from xdsl.dialects.func import FuncOp
from xdsl.interpreter import Interpreter

from fpqc.backends.interp.hls_ops import Launcher
from fpqc.backends.interp.ready_weights import ReadyWeights
from fpqc.backends.interp.runner import model_input_names, run_function, run_module
from fpqc.compiler import load_build, load_onnx, run_pipeline
from fpqc.dialects.tensor_types import element_type_to_dtype
from fpqc.errors import FpqcError
from fpqc.frontend.var.config import VARConfig
from fpqc.frontend.var_build_files import CONFIG_FILE, VAE_FILE, VarBuildFiles
from fpqc.passes.pipelines import RAISE_PIPELINE, STEP_PIPELINE
from fpqc.passes.step_program import KV_CACHE_ATTR, PROLOGUE, PROLOGUE_ATTR, prologue_function, step_functions
from fpqc.runtime.schedule import ScaleStep
from fpqc.weights import WeightStore

if TYPE_CHECKING:
    from fpqc.runtime.host_vqvae import HostVQVAE


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


def _onnx_var_files(path: Path, module: ModuleOp | None = None, vae: Path | None = None) -> VarBuildFiles:
    """The configuration (metadata, else read off the raised ``module``) and VQVAE of an ONNX VAR."""
    files = VarBuildFiles.of(path, module, vae)
    if files is None:
        raise FpqcError(f"{path}: not an fpqc VAR export; load the ONNX file itself to read its configuration")
    return files


def _config(data: object, source: Path) -> VARConfig:
    try:
        if not isinstance(data, dict):
            raise TypeError(f"expected a JSON object, found {type(data).__name__}")
        return VARConfig.from_dict(data)
    except (ValueError, TypeError) as e:
        raise FpqcError(f"{source}: invalid VAR configuration ({e})") from None


def _read_config(path: Path) -> VARConfig:
    try:
        return _config(json.loads(path.read_text()), path)
    except ValueError as e:
        raise FpqcError(f"{path}: not a JSON VAR configuration ({e})") from None


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


def build_sources(build: Path) -> tuple[VARConfig, Path | None]:
    """(configuration, VQVAE file if any) of a build directory."""
    source = _recorded_model(build)
    if (build / CONFIG_FILE).is_file():
        config = _read_config(build / CONFIG_FILE)
    elif source is not None:
        config = _config(_onnx_var_files(source).config, source)
    else:
        raise FpqcError(
            f"{build}: the build has no var_config.json and its source model is not found; "
            f"recompile the VAR's ONNX file with fpqc compile"
        )
    for vae in (build / VAE_FILE, source.parent / VAE_FILE if source is not None else None):
        if vae is not None and vae.is_file():
            return config, vae
    return config, None


@dataclass(frozen=True)
class VarInputs:
    """The names of the two inputs of a VAR teacher-forcing graph, and its static batch."""

    label: str
    tokens: str
    batch: int


@dataclass
class KvCache:
    """The state of one generation, per batch of B rows: the arrays of ``@step_k``'s cache arguments,
    and the results of ``@prologue`` (computed once)."""

    batches: dict[int, list[np.ndarray]] = field(default_factory=dict)
    prologue: dict[int, tuple[np.ndarray, ...]] = field(default_factory=dict)


@dataclass
class VarModel:
    """The teacher-forcing VAR graph of a model, its weights, configuration and VQVAE file."""

    module: ModuleOp
    store: WeightStore
    config: VARConfig
    inputs: VarInputs
    vae: Path | None
    quantized: bool
    source: Path
    launcher: Launcher | None = None
    """Runs the kernel launches on another device (:mod:`fpqc.runtime.devices`); None: the interpreter."""
    ready: ReadyWeights = field(default_factory=ReadyWeights)
    """The quantized weights every run of this model shares, readied once (:mod:`fpqc.backends.interp.ready_weights`)."""

    @property
    def batch(self) -> int:
        return self.inputs.batch

    @classmethod
    def load(cls, path: str | Path, vae: Path | None = None) -> "VarModel":
        """Load an ONNX file (raised to float ``fpq``) or a build directory (see module docstring)."""
        path = Path(path)
        if vae is not None and not vae.is_file():
            raise FpqcError(f"{vae}: no such file")
        if path.is_dir():
            return cls.of_build(path, *load_build(path), vae)
        if path.is_file():
            module, store = load_onnx(path)
            with store.activate():
                run_pipeline(module, RAISE_PIPELINE, "raise")
                run_pipeline(module, STEP_PIPELINE, "step")
            files = _onnx_var_files(path, module, vae)
            config = _config(files.config, path)
            return cls(module, store, config, var_inputs(module, config, path), vae or files.vae, False, path)
        raise FpqcError(f"{path}: no such file or build directory")

    @classmethod
    def of_build(cls, build: Path, module: ModuleOp, store: WeightStore, vae: Path | None = None) -> "VarModel":
        """The model of a build directory whose IR and weights are already loaded (:func:`load_build`)."""
        config, found = build_sources(build)
        return cls(module, store, config, var_inputs(module, config, build), vae or found, True, build)

    def vqvae(self) -> HostVQVAE:
        """The host VQVAE of this model (see module docstring)."""
        if self.vae is None:
            where = "in the build" if self.quantized else "beside the model"
            raise FpqcError(
                f"{self.source}: no VQVAE ({VAE_FILE} {where}); pass the released checkpoint with "
                "--vae vae_ch160v4096z32.pth, or the vae.npz of fpqc export-var"
            )
        from fpqc.runtime.host_vqvae import HostVQVAE  # here: it imports torch (2-3 s), which only a VQVAE needs

        return HostVQVAE.load(self.vae, self.config.patch_nums)

    @property
    def has_steps(self) -> bool:
        """Whether the module holds the per-scale step program."""
        return bool(step_functions(self.module))

    def step_logits(
        self,
        step: ScaleStep,
        labels: np.ndarray,
        inputs: np.ndarray,
        observers: Sequence[RunObserver] = (),
        cache: KvCache | None = None,
    ) -> np.ndarray:
        """Scale ``step``'s logits ``[N, pn², V]`` for ``labels [N]`` and teacher-forcing
        ``inputs [N, L-1, Cvae]``, in batches of the graph's static batch size.

        With ``cache`` the step program computes them (module docstring)."""
        out = []
        for start, real, rows in self._batches(len(labels)):
            for observer in observers:
                observer.begin_run(step, real)
            feed = {self.inputs.label: labels[rows].astype(np.int64)}
            if cache is None:
                feed[self.inputs.tokens] = inputs[rows].astype(np.float32)
                result = run_module(self.module, feed, self.store, listeners=tuple(observers), launcher=self.launcher,
                                    ready=self.ready)
                logits = next(iter(result.values()))[:, step.begin:step.end]
            else:
                first = self.config.first_l
                feed[self.inputs.tokens] = inputs[rows, step.begin - first:step.end - first].astype(np.float32)
                logits = self._step_batch(step, feed, observers, cache, start)
            out.append(logits[:real])
        return np.concatenate(out, axis=0)

    def forward(self, labels: np.ndarray, inputs: np.ndarray) -> np.ndarray:
        """``@main``'s logits ``[N, L, V]`` for ``labels [N]`` and teacher-forcing ``inputs [N, L-1, Cvae]``, in
        batches of the graph's static batch size."""
        out = []
        for _, real, rows in self._batches(len(labels)):
            feed = {self.inputs.label: labels[rows].astype(np.int64), self.inputs.tokens: inputs[rows].astype(np.float32)}
            result = run_module(self.module, feed, self.store, launcher=self.launcher, ready=self.ready)
            out.append(next(iter(result.values()))[:real])
        return np.concatenate(out, axis=0)

    def _batches(self, n: int) -> Iterator[tuple[int, int, np.ndarray]]:
        """``(start, real, rows)`` for each batch of ``n`` rows: ``rows`` indexes B of them, the last batch padded
        by repeating its first row; its first ``real`` are its own."""
        for start in range(0, n, self.batch):
            real = min(self.batch, n - start)
            yield start, real, np.r_[np.arange(start, start + real), np.full(self.batch - real, start)]

    def _step_batch(
        self, step: ScaleStep, feed: dict[str, np.ndarray], observers: Sequence[RunObserver], cache: KvCache, start: int
    ) -> np.ndarray:
        """``@step_k`` on one batch (the prologue first, once per batch); its caches stay in ``cache``."""
        function = step_functions(self.module)[step.index]
        if start not in cache.prologue:
            prologue = prologue_function(self.module)
            cache.prologue[start] = run_function(
                self.module, PROLOGUE, _arguments(prologue, feed, (), ()), self.store, listeners=tuple(observers),
                ready=self.ready,
            )
        caches = cache.batches.get(start)
        if caches is None:
            caches = [
                np.zeros(t.get_shape(), element_type_to_dtype(t.get_element_type()))  # fp32, or codes
                for t, attrs in zip(function.function_type.inputs.data, function.arg_attrs.data)
                if KV_CACHE_ATTR in attrs.data
            ]
        logits, *cache.batches[start] = run_function(
            self.module, function.sym_name.data, _arguments(function, feed, cache.prologue[start], caches),
            self.store, listeners=tuple(observers), launcher=self.launcher, ready=self.ready,
        )
        return logits


def _arguments(
    function: FuncOp, feed: dict[str, np.ndarray], prologue: Sequence[np.ndarray], caches: Sequence[np.ndarray]
) -> tuple[np.ndarray, ...]:
    """The arguments of a step function (or of ``@prologue``) by their attributes: a model input by its
    ONNX name, a prologue result by its index, the KV caches in order."""
    out, next_cache = [], iter(caches)
    for attrs in function.arg_attrs.data:
        if KV_CACHE_ATTR in attrs.data:
            out.append(next(next_cache))
        elif PROLOGUE_ATTR in attrs.data:
            out.append(prologue[attrs.data[PROLOGUE_ATTR].value.data])
        else:
            out.append(feed[attrs.data["onnx.name"].data])
    return tuple(out)


def var_inputs(module: ModuleOp, config: VARConfig, path: Path) -> VarInputs:
    """The label and token inputs of a VAR teacher-forcing graph, told apart by their types."""
    names = model_input_names(module)
    main = next(op for op in module.ops if isinstance(op, FuncOp) and op.sym_name.data == "main")
    types = dict(zip(names, main.function_type.inputs.data, strict=True))
    expected = (config.L - config.first_l, config.Cvae)
    label = [n for n, t in types.items() if isinstance(t, TensorType) and len(t.get_shape()) == 1
             and isinstance(t.get_element_type(), IntegerType)]
    tokens = [n for n, t in types.items() if isinstance(t, TensorType) and len(t.get_shape()) == 3
              and isinstance(t.get_element_type(), Float32Type)]
    if len(names) != 2 or len(label) != 1 or len(tokens) != 1:
        shown = ", ".join(f"{n} {types[n]}" for n in names)
        raise FpqcError(
            f"{path}: inputs are {shown}; a VAR teacher-forcing graph has an int64 label [B] "
            f"and float32 tokens [B, {expected[0]}, {expected[1]}]"
        )
    batch = types[label[0]].get_shape()[0]
    shape = tuple(types[tokens[0]].get_shape())
    if shape != (batch, *expected):
        raise FpqcError(
            f"{path}: input {tokens[0]} has shape {list(shape)}, the VAR configuration needs "
            f"[{batch}, {expected[0]}, {expected[1]}]"
        )
    return VarInputs(label[0], tokens[0], int(batch))


__all__ = ["VarModel", "VarInputs", "RunObserver", "var_inputs"]
