"""``fpqc stress-outliers``: a VAR with injected outlier channels that computes the same function.

FPQVAR's smoothing (GALT) and Hadamard transform exist for activations whose
few channels are much larger than the rest.  A small trained model may have
only mild outliers; this tool makes strong ones without changing what the
model computes, so recipes can be compared where outliers exist.

For every selected linear input ``x = LN(h)·(1 + scale) + shift`` (by
``fpq.role``, default ``mat_qkv,fc1``: the inputs GHT and GALT act on),
``channels`` channels are drawn at random and each is multiplied by a factor
``α`` drawn uniformly from ``[low, high]``; ``d`` is 1 elsewhere.  The factor
is folded, in float64 and stored once as fp32, into the ONNX initializers:

* the AdaLN linear's scale rows ``d·W``, ``d·b + (d − 1)`` and shift rows
  ``d·W``, ``d·b`` (so the modulation's output is ``x·d``; the same fold as
  ``group-hadamard``'s signs and ``galt``'s smoothing);
* the readers' weights ``W / d`` along the input features,

so ``(x·d)·(W/d)ᵀ = x·Wᵀ``.  The tool finds the layers by raising the model
(:mod:`fpqc.passes.raise_onnx_to_fpq`), so it works on any VAR fpqc raises.
It runs the float model before and after on teacher-forcing inputs
(:func:`fpqc.eval.teacher_forcing.load_inputs`) and writes the result only if
the logits agree within :data:`LOGIT_TOLERANCE`.  It reports, for each
stressed input, the largest channel's absmax over the median channel's
absmax (over all teacher-forced tokens) before and after.

The output is written whole or not at all (a temporary file beside it,
renamed into place); a model with external data gets ``OUT.onnx.data``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper
from xdsl.interpreter import Interpreter
from xdsl.ir import Operation

from fpqc.backends.interp.runner import run_module
from fpqc.compiler import load_onnx, run_pipeline
from fpqc.dialects import fpq
from fpqc.errors import FpqcError
from fpqc.eval.teacher_forcing import load_inputs
from fpqc.files.model_paths import file_beside
from fpqc.frontend.onnx_import.loading import TensorReader, load_model
from fpqc.passes.constants import constant_key
from fpqc.passes.group_hadamard import modulation_chunks, transformed_inputs
from fpqc.passes.pipelines import RAISE_PIPELINE
from fpqc.passes.role_options import check_roles
from fpqc.weights import WeightStore, read_entry

LOGIT_TOLERANCE = 1e-4
"""The largest absolute difference of the float logits the stressed model may show."""


@dataclass(frozen=True)
class StressSettings:
    """How many channels of each input to scale, by how much, which inputs, and the seed."""

    channels: int = 4
    low: float = 20.0
    high: float = 50.0
    roles: tuple[str, ...] = ("mat_qkv", "fc1")
    seed: int = 0

    def check(self) -> None:
        check_roles("stress-outliers", "--roles", self.roles)
        if self.channels < 1:
            raise FpqcError(f"--channels {self.channels}: scale at least one channel per input")
        if not 0 < self.low <= self.high:
            raise FpqcError(f"--scale {self.low:g}-{self.high:g}: give factors LOW-HIGH with 0 < LOW <= HIGH")


@dataclass(frozen=True)
class StressedInput:
    """One stressed input: its label, channels and factors, and its largest/median channel ratio."""

    label: str
    channels: list[int]
    factors: list[float]
    ratio_before: float
    ratio_after: float


@dataclass(frozen=True)
class StressReport:
    inputs: list[StressedInput]
    logit_difference: float

    def summary(self) -> str:
        lines = [
            f"  {item.label:<10} channels {', '.join(map(str, item.channels))}  "
            f"x{', '.join(f'{f:.1f}' for f in item.factors)}  "
            f"largest/median channel {item.ratio_before:.1f}x -> {item.ratio_after:.1f}x"
            for item in self.inputs
        ]
        before = [i.ratio_before for i in self.inputs]
        after = [i.ratio_after for i in self.inputs]
        lines.append(
            f"stressed {len(self.inputs)} inputs: largest/median channel {min(before):.1f}-{max(before):.1f}x "
            f"-> {min(after):.1f}-{max(after):.1f}x; float logits within {self.logit_difference:.2g} "
            f"of the original (limit {LOGIT_TOLERANCE:g})"
        )
        return "\n".join(lines)


class _InputAbsmax(Interpreter.Listener):
    """Per-channel absmax of the input of the linear layers with the given program-order indices."""

    def __init__(self, module_linears: list[fpq.LinearOp], indices: list[int]) -> None:
        self.index = {module_linears[i]: i for i in indices}
        self.absmax: dict[int, np.ndarray] = {}

    def will_interpret_op(self, op: Operation, args) -> None:
        if op in self.index:
            x = np.abs(np.asarray(args[0], dtype=np.float64))
            self.absmax[self.index[op]] = x.reshape(-1, x.shape[-1]).max(axis=0)


def _ratio(absmax: np.ndarray) -> float:
    return float(absmax.max() / np.median(absmax))


def _raised(model: Path):
    module, store = load_onnx(model)
    with store.activate():
        run_pipeline(module, RAISE_PIPELINE, "raise")
    return module, store


def _run(module, store: WeightStore, inputs: dict[str, np.ndarray], indices: list[int]):
    linears = [op for op in module.walk() if isinstance(op, fpq.LinearOp)]
    recorder = _InputAbsmax(linears, indices)
    outputs = run_module(module, inputs, store, listeners=(recorder,))
    return next(iter(outputs.values())), recorder.absmax


class _Initializers:
    """The ONNX model's initializers as float64 arrays to edit, found from the raised IR's weight keys."""

    def __init__(self, model: onnx.ModelProto, path: Path, store: WeightStore) -> None:
        self.model, self.path, self.store = model, path, store
        reader = TensorReader(path)
        self.arrays = {init.name: read_entry(reader.entry(init)) for init in model.graph.initializer}
        self.by_key = {WeightStore().unique_key(name): name for name in self.arrays}
        self.edited: dict[str, np.ndarray] = {}

    def lookup(self, key: str | None, what: str) -> tuple[str, bool]:
        """(initializer name, transposed?) of the weight-store ``key`` the raised IR uses for ``what``."""
        base, transposed = (key[:-2], True) if key is not None and key.endswith(".T") else (key, False)
        name = self.by_key.get(base) if base is not None else None
        if name is None or key not in self.store:
            raise FpqcError(f"{self.path}: cannot find the ONNX initializer of {what}; stress-outliers edits "
                            "only weights stored as initializers")
        value = self.store.get(key)
        original = self.arrays[name]
        if not np.array_equal((original.T if transposed else original).reshape(value.shape), value):
            raise FpqcError(f"{self.path}: the initializer '{name}' does not hold the weight of {what}")
        return name, transposed

    def edit(self, name: str) -> np.ndarray:
        """A float64 copy of the initializer ``name`` to edit in place (the same copy on every call)."""
        if name not in self.edited:
            self.edited[name] = np.array(self.arrays[name], dtype=np.float64)
        return self.edited[name]

    def write(self, out: Path) -> None:
        """The model with the edited initializers (fp32) as ``out`` (+ ``out.data`` if the input had external data)."""
        external = any(init.data_location == onnx.TensorProto.EXTERNAL for init in self.model.graph.initializer)
        result = onnx.ModelProto()
        result.CopyFrom(self.model)
        del result.graph.initializer[:]
        for init in self.model.graph.initializer:
            array = self.edited[init.name].astype(np.float32) if init.name in self.edited else self.arrays[init.name]
            result.graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(array), init.name))
        if external:
            onnx.save(result, str(out), save_as_external_data=True, all_tensors_to_one_file=True,
                      location=f"{out.name}.data", size_threshold=1024)
        else:
            onnx.save(result, str(out))


def _fold(initializers: _Initializers, linears: list[fpq.LinearOp], chunks, d: np.ndarray, label: str) -> None:
    """Multiply the modulation behind ``linears`` by ``d`` and divide their weights' input columns by ``d``."""
    for (ada, rows), is_scale in zip(chunks, (True, False)):
        name, transposed = initializers.lookup(constant_key(ada.weight), f"the AdaLN linear before {label}")
        weight = initializers.edit(name)
        if transposed:
            weight[:, rows] *= d[None, :]
        else:
            weight[rows] *= d[:, None]
        if ada.bias is None:
            raise FpqcError(f"the AdaLN linear before {label} has no bias; stress-outliers folds into its bias")
        bias_name, _ = initializers.lookup(constant_key(ada.bias), f"the AdaLN bias before {label}")
        bias = initializers.edit(bias_name).reshape(-1)
        bias[rows] = d * bias[rows] + ((d - 1) if is_scale else 0)
    for linear in linears:
        name, transposed = initializers.lookup(constant_key(linear.weight), label)
        weight = initializers.edit(name)
        if transposed:
            weight /= d[:, None]
        else:
            weight /= d[None, :]


def stress_outliers(
    model: Path, out: Path, settings: StressSettings, inputs: Path | None = None, vae: Path | None = None
) -> StressReport:
    """Write ``model`` with outlier channels injected (see the module docstring) to ``out``."""
    settings.check()
    if out.suffix != ".onnx":
        raise FpqcError(f"{out}: give the stressed model's file name, ending in .onnx")
    if not out.parent.is_dir():
        raise FpqcError(f"{out}: the directory {out.parent} does not exist; create it or choose another path")
    proto = load_model(model)
    written = {out.resolve(), out.with_name(f"{out.name}.data").resolve()}
    if written & _files_of(model, proto):
        raise FpqcError(f"{out}: would overwrite the input model or its external data; choose another output")
    module, store = _raised(model)
    with store.activate():
        linears = [op for op in module.walk() if isinstance(op, fpq.LinearOp)]
        selected = list(transformed_inputs(module, settings.roles).items())
        if not selected:
            raise FpqcError(f"{model}: no linear layer with role {', '.join(settings.roles)}; nothing to stress")
        initializers = _Initializers(proto, model, store)
        rng = np.random.default_rng(settings.seed)
        blocks = {op: b for b, op in enumerate(o for o in linears if fpq.role_of(o) == "ada_lin")}
        chosen: list[tuple[str, int, list[int], list[float]]] = []
        for x, readers in selected:
            k = x.type.get_shape()[-1]
            role = fpq.role_of(readers[0])
            chunks = modulation_chunks(x, readers)
            if chunks is None:
                raise FpqcError(f"{model}: the input of {role} (linear layer {linears.index(readers[0])}) is not an "
                                f"AdaLN modulation read only by {role}; stress-outliers cannot fold a factor into it")
            label = f"b{blocks[chunks[0][0]]}.{role}" if chunks[0][0] in blocks else role
            if settings.channels > k:
                raise FpqcError(f"--channels {settings.channels}: the input of {label} has only {k} channels")
            channels = sorted(rng.choice(k, settings.channels, replace=False).tolist())
            factors = rng.uniform(settings.low, settings.high, settings.channels).tolist()
            d = np.ones(k)
            d[channels] = factors
            _fold(initializers, readers, chunks, d, label)
            chosen.append((label, linears.index(readers[0]), channels, factors))
    data = load_inputs(model, inputs, module, vae)
    indices = [index for _, index, _, _ in chosen]
    reference, before = _run(module, store, data, indices)
    temporary = out.with_name(f".{out.name}.{os.getpid()}.tmp.onnx")
    try:
        initializers.write(temporary)
        stressed_module, stressed_store = _raised(temporary)
        logits, after = _run(stressed_module, stressed_store, data, indices)
        difference = float(np.max(np.abs(logits.astype(np.float64) - reference)))
        if not difference <= LOGIT_TOLERANCE:
            raise FpqcError(f"{model}: the stressed model's float logits differ by {difference:.3g} "
                            f"(limit {LOGIT_TOLERANCE:g}); choose smaller --scale factors")
        data_file = temporary.with_name(f"{temporary.name}.data")
        if data_file.exists():
            _relocate_external_data(temporary, data_file, out)
        os.replace(temporary, out)
    finally:
        temporary.unlink(missing_ok=True)
        temporary.with_name(f"{temporary.name}.data").unlink(missing_ok=True)
    stressed = [
        StressedInput(label, channels, factors, _ratio(before[index]), _ratio(after[index]))
        for label, index, channels, factors in chosen
    ]
    return StressReport(stressed, difference)


def _files_of(model: Path, proto: onnx.ModelProto) -> set[Path]:
    """The model's file and the external data files its initializers name."""
    files = {model.resolve()}
    for init in proto.graph.initializer:
        for entry in init.external_data:
            if entry.key == "location" and (file := file_beside(model, entry.value)) is not None:
                files.add(file)
    return files


def _relocate_external_data(model_file: Path, data_file: Path, out: Path) -> None:
    """Point ``model_file``'s external data at ``out.onnx.data`` and move ``data_file`` there."""
    proto = onnx.load(str(model_file), load_external_data=False)
    for init in proto.graph.initializer:
        for entry in init.external_data:
            if entry.key == "location":
                entry.value = f"{out.name}.data"
    onnx.save(proto, str(model_file))
    os.replace(data_file, out.with_name(f"{out.name}.data"))
