"""How much a quantization recipe changes a model: the figures of ``fpqc eval``.

For every recipe the model is imported, raised and quantized in-process, and
run in the interpreter (bit-exact with the FPGA kernels) on teacher-forcing
inputs next to the float model:

* **KL**: mean over all tokens of KL(softmax(float logits) ‖ softmax(quantized logits)), in nats;
* **top-1**: fraction of tokens whose arg-max agrees with the float model's;
* **per-layer SQNR**: for every quantized linear layer, in program order,
  ``10·log10(Σ y_float² / Σ (y_quant − y_float)²)`` dB on that layer's output
  in the full quantized model (errors of earlier layers included), labelled
  ``b{block}.{role}``.  Layers a recipe keeps in float get NaN: their outputs
  may legitimately differ (GHT folds its random signs into the AdaLN linears).

A recipe with random Hadamard signs is a different quantized model for each
seed.  With several ``seeds`` such a recipe is built and run once per seed:
KL and top-1 are the means over the seeds, ``kl_runs`` keeps each seed's KL
(their spread says how much of a difference between recipes is the luck of
the draw), and the per-layer SQNR is the first seed's.  Recipes without a
random transform run once.

Generation quality (FID / IS from the project's digit classifier) is added by
:mod:`fpqc.eval.generation` where the model has a runtime.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm
from xdsl.dialects.builtin import ModuleOp
from xdsl.interpreter import Interpreter
from xdsl.ir import Operation

from fpqc.backends.interp.runner import run_module
from fpqc.compiler import load_onnx, run_pipeline
from fpqc.dialects import fpq
from fpqc.errors import FpqcError
from fpqc.eval.teacher_forcing import load_inputs
from fpqc.passes.pipelines import RAISE_PIPELINE, RECIPES
from fpqc.weights import WeightStore

LINEAR_OPS = (fpq.LinearOp, fpq.QLinearOp, fpq.DualQLinearOp)


class _LinearRecorder(Interpreter.Listener):
    """Keeps the output of every linear-like op, in the order the interpreter runs them,
    and the input of every linear-like op (for the activation plots)."""

    def __init__(self) -> None:
        self.outputs: list[tuple[Operation, np.ndarray]] = []
        self.inputs: list[np.ndarray] = []

    def will_interpret_op(self, op: Operation, args) -> None:
        if isinstance(op, LINEAR_OPS):
            self.inputs.append(np.asarray(args[0]))

    def did_interpret_op(self, op: Operation, results) -> None:
        if isinstance(op, LINEAR_OPS):
            self.outputs.append((op, np.asarray(results[0])))


def _layer_labels(ops: list[Operation]) -> list[str]:
    """``b{i}.{role}`` for a block's layers (each block starts with its ``ada_lin``), else the role."""
    labels, block = [], -1
    for op in ops:
        role = fpq.role_of(op) or "linear"
        if role == "ada_lin":
            block += 1
        in_block = block >= 0 and role in ("ada_lin", "mat_qkv", "proj", "fc1", "fc2")
        labels.append(f"b{block}.{role}" if in_block else role)
    return labels


@dataclass
class RecipeQuality:
    recipe: str
    kl: float
    top1: float
    layers: list[tuple[str, float]] = field(default_factory=list)
    generation: dict[str, float] = field(default_factory=dict)
    kl_runs: list[float] = field(default_factory=list)
    """KL of each seed's model (one entry for a recipe without random signs)."""

    @property
    def kl_spread(self) -> float:
        """Standard deviation of the KL over the seeds (0 for a single run)."""
        return float(np.std(self.kl_runs)) if self.kl_runs else 0.0

    @property
    def mean_sqnr(self) -> float:
        quantized = [db for _, db in self.layers if np.isfinite(db)]
        return float(np.mean(quantized)) if quantized else float("inf")


def _run(module: ModuleOp, store: WeightStore, inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, _LinearRecorder]:
    recorder = _LinearRecorder()
    outputs = run_module(module, inputs, store, listeners=(recorder,))
    return next(iter(outputs.values())), recorder


def _kl(reference: np.ndarray, other: np.ndarray) -> float:
    def log_softmax(x: np.ndarray) -> np.ndarray:
        x = x.astype(np.float64)
        x = x - x.max(axis=-1, keepdims=True)
        return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))

    log_p, log_q = log_softmax(reference), log_softmax(other)
    return float((np.exp(log_p) * (log_p - log_q)).sum(axis=-1).mean())


def _sqnr_db(reference: np.ndarray, other: np.ndarray) -> float:
    noise = float(np.sum((other.astype(np.float64) - reference) ** 2))
    signal = float(np.sum(reference.astype(np.float64) ** 2))
    return float("inf") if noise == 0 else 10.0 * np.log10(signal / noise)


@dataclass
class FloatActivations:
    """The float model's linear-layer inputs, by layer label (for the activation plots)."""

    inputs: dict[str, np.ndarray]


def evaluate_teacher_forced(
    model: Path,
    recipes: list[str],
    inputs: Path | None = None,
    calib: Path | None = None,
    vae: Path | None = None,
    seeds: tuple[int, ...] = (0,),
) -> tuple[list[RecipeQuality], FloatActivations]:
    """Quality of each recipe against the float model; also the float model's layer inputs.

    The inputs are chosen by :func:`fpqc.eval.teacher_forcing.load_inputs` (``vae``: the
    VQVAE that generates them when there are none); ``seeds``: see the module docstring.
    """
    for name in recipes:
        if name not in RECIPES:
            raise FpqcError(f"unknown recipe '{name}' (known: {', '.join(RECIPES)})")
        RECIPES[name].pipeline(calib)
    if not seeds:
        raise FpqcError("give at least one seed")
    float_module, float_store = load_onnx(model)
    with float_store.activate():
        run_pipeline(float_module, RAISE_PIPELINE, "raise")
    data = load_inputs(model, inputs, float_module, vae)
    reference, float_layers = _run(float_module, float_store, data)
    labels = _layer_labels([op for op, _ in float_layers.outputs])

    results = []
    for name in tqdm(recipes, desc="eval", unit="recipe", disable=None, leave=False):
        recipe = RECIPES[name]
        runs = []
        for seed in seeds if recipe.randomized else seeds[:1]:
            module, store = load_onnx(model)
            with store.activate():
                run_pipeline(module, f"{RAISE_PIPELINE},{recipe.pipeline(calib, seed)}", name)
            logits, layers = _run(module, store, data)
            if len(layers.outputs) != len(float_layers.outputs):
                raise FpqcError(
                    f"recipe '{name}' changed the number of linear layers "
                    f"({len(float_layers.outputs)} -> {len(layers.outputs)}); cannot compare per layer"
                )
            sqnr = [
                (label, _sqnr_db(ref, out) if not isinstance(op, fpq.LinearOp) else float("nan"))
                for label, (_, ref), (op, out) in zip(labels, float_layers.outputs, layers.outputs, strict=True)
            ]
            runs.append((_kl(reference, logits), float((reference.argmax(-1) == logits.argmax(-1)).mean()), sqnr))
        results.append(
            RecipeQuality(
                recipe=name,
                kl=float(np.mean([kl for kl, _, _ in runs])),
                top1=float(np.mean([top1 for _, top1, _ in runs])),
                layers=runs[0][2],
                kl_runs=[kl for kl, _, _ in runs],
            )
        )
    return results, FloatActivations(dict(zip(labels, float_layers.inputs, strict=True)))
