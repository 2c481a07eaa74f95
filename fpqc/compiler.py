"""The compile driver: import, run the recipe's pipelines, emit a build directory.

A build directory holds::

    manifest.json        versions, target, platform, recipe, checksums of the model and its external data
    report.json          figures of the build; report.txt and report.html say the same for people
    ir/0-onnx.mlir       the IR after each stage
    ir/1-raised.mlir
    ir/2-quantized.mlir
    ir/3-step.mlir       ... plus VAR's per-scale step functions with their KV caches
    ir/4-hls.mlir
    model.hls.mlir       the final IR (what ``fpqc run BUILD`` and ``fpqc verify`` execute)
    weights.npz          the weight store behind its dense_resource references
    var_config.json      for a VAR: its configuration (fpqc's ONNX metadata, else read off the raised graph)
    vae.npz              ... and the runtime's VQVAE (--vae, else vae.npz beside the ONNX file)
    kernels/ csim/ vitis/ weights.bin weights.json host_schedule.json   (the HLS backend)

It is written into a staging directory beside ``-o`` and swapped into place at
the end (:mod:`fpqc.files.build_directory`): a failure or interruption leaves the
old build or the new one, whole; only a directory fpqc provably wrote is replaced.

A compile uses two cores: a background thread quantizes the weights and writes
``weights.npz`` (from the end of the quantize stage on) and ``weights.bin``
(:mod:`fpqc.files.background_writes`) while the main thread runs the later stages
and emits the rest, forked children print (and verify) each stage's IR beside the
next stage (:mod:`fpqc.background_prints`), and a helper process draws ``report.html``
(:mod:`fpqc.backends.html.report_drawer`).

The IR is verified where a user's model or calibration shapes it -- after the
raise and quantize stages -- and at the end, after the hardware plan, as LLVM
verifies its input and output: by the children that print those stages, whose
error is the compile's even when a later stage failed meanwhile.  The step and hls
stages, which only restructure verified IR, are verified too with ``verify_each``
(``fpqc compile --verify-each``, or ``FPQC_VERIFY_EACH=1``, which the test suite
sets), every stage then in the main thread: their verification is a tenth of a
VAR-d16 compile.

A graph that looks like a VAR (AdaLN-modulated blocks, the block-causal mask)
compiles only when raising recognised every block and every linear layer
(:func:`~fpqc.analysis.var_blocks.recognise_blocks`); otherwise compile stops
naming the first block and ONNX node where recognition failed, unless
``allow_partial_raise`` accepts a build whose unrecognised parts stay in float.
"""

from __future__ import annotations

from collections.abc import Callable
import json
import os
import shutil
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
from tqdm import tqdm
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import PassPipeline
from xdsl.utils.exceptions import ArgSpecParseError, DiagnosticException, VerifyException

from fpqc.analysis.cost_model import Estimate, estimate
from fpqc.analysis.placement import Placement, placement
from fpqc.analysis.plan_fit import ModuleFit, Usage, module_fit
from fpqc.analysis.pipeline_graph import pipeline_graphs
from fpqc.background_checks import BackgroundChecks
from fpqc.background_prints import BackgroundPrints
from fpqc.backends.html.report_drawer import ReportDrawer
from fpqc.context import make_context, parse_module_file
from fpqc.errors import FpqcError
from fpqc.files.background_writes import BackgroundWrites
from fpqc.files.checksums import BackgroundChecksums, file_blake3
from fpqc.files.build_directory import (
    BUILD_IR,
    BUILD_WEIGHTS,
    check_build,
    check_not_inside,
    check_output,
    exclusive,
    new_staging,
    put_in_place,
    recover,
    write_manifest,
)
from fpqc.frontend.onnx_import.class_dropout import REMOVED_NOTE, removed_class_dropout
from fpqc.frontend.onnx_import.loading import external_data_files, load_model
from fpqc.frontend.var_build_files import VarBuildFiles
from fpqc.garbage_collection import seldom_collected
from fpqc.numerics.scales import COMPILED_WEIGHTS_FROM
from fpqc.passes import ALL_PASSES
from fpqc.passes.pipelines import RAISE_PIPELINE, STEP_PIPELINE, Recipe, outline_spec, recipe_for, tile_spec
from fpqc.passes.tiling.explore import DesignPoint
from fpqc.passes.step_program import step_functions
from fpqc.weights import Entry, WeightStore, read_entry


def load_onnx(
    path: Path, input_shapes: dict[str, tuple[int, ...]] | None = None, streaming: bool = False
) -> tuple[ModuleOp, WeightStore]:
    """The imported model and its weight store (``streaming``: see :class:`~fpqc.weights.WeightStore`)."""
    from fpqc.frontend.onnx_import import import_onnx

    return import_onnx(path, input_shapes or None, streaming)


def load_build(build: Path) -> tuple[ModuleOp, WeightStore]:
    """The final IR and weight store of a build directory, checked whole and verified."""
    check_build(build, _package_version("fpqc"))
    ir_path = build / BUILD_IR
    try:
        module = parse_module_file(ir_path)
    except FpqcError as e:  # the IR of another fpqc (the dialects changed since) or edited by hand
        raise FpqcError(f"{e}; recompile the model") from None
    try:
        module.verify()
    except (VerifyException, DiagnosticException) as e:
        raise FpqcError(f"{ir_path}: the build's IR does not verify ({_first_failure(module, e)}); recompile") from None
    return module, WeightStore.load(build / BUILD_WEIGHTS)


def parse_pipeline(spec: str) -> PassPipeline:
    """A pass pipeline in ``fpqc-opt -p`` syntax; FpqcError for a malformed one."""
    try:
        return PassPipeline.parse_spec(ALL_PASSES, spec)
    except (ValueError, ArgSpecParseError) as e:
        detail = " ".join(line.strip() for line in str(e).strip().splitlines()[-1:])
        raise FpqcError(f"invalid pass pipeline '{spec}': {detail}") from None


def run_pipeline(module: ModuleOp, spec: str, stage: str, verify: bool = True) -> None:
    """Apply a pass pipeline (``fpqc-opt -p`` syntax) and, unless ``verify`` is False, verify the result."""
    pipeline = parse_pipeline(spec)
    try:
        pipeline.apply(make_context(), module)
        if verify:
            module.verify()
    except (VerifyException, DiagnosticException) as e:
        raise FpqcError(f"{stage} stage produced invalid IR: {_first_failure(module, e)}") from None


VERIFIED_STAGES = frozenset({"raised", "quantized"})
"""The stages whose IR a compile verifies without ``verify_each``: those a user's model and calibration shape."""


def verify_each_default() -> bool:
    """Whether a compile verifies every stage when not told: ``FPQC_VERIFY_EACH=1`` in the environment."""
    return os.environ.get("FPQC_VERIFY_EACH", "") == "1"


def _first_failure(module: ModuleOp, error: Exception) -> str:
    """One line for a verification failure, naming the op that fails when IRDL's message does not."""
    for op in module.walk():
        try:
            op.verify(verify_nested_ops=False)
        except VerifyException as e:
            message = " ".join(line.strip() for line in str(e).strip().splitlines()[:2])
            return message if message.startswith(op.name) else f"{op.name}: {message}"
    return str(error).strip().splitlines()[0]


def _package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


@dataclass
class CompileReport:
    model: str
    target: str
    platform: str
    recipe: Recipe
    stages: dict[str, dict[str, int]] = field(default_factory=dict)
    float_weight_bytes: int = 0
    packed_weight_bytes: int = 0
    kernels: list[str] = field(default_factory=list)
    blocks: int = 0
    expected_blocks: int | None = None
    unraised: dict[str, int] = field(default_factory=dict)
    raising_gaps: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    class_dropout_removed: bool = False
    placement: Placement | None = None
    fit: ModuleFit | None = None
    pipelines: dict[str, dict] = field(default_factory=dict)
    cost: Estimate | None = None
    design_points: dict[str, list[DesignPoint]] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "model": self.model,
            "target": self.target,
            "platform": self.platform,
            "recipe": self.recipe.name,
            "recipe_description": self.recipe.description,
            "ops_per_stage": self.stages,
            "float_weight_bytes": self.float_weight_bytes,
            "packed_weight_bytes": self.packed_weight_bytes,
            "kernels": self.kernels,
            "transformer_blocks": self.blocks,
            "expected_transformer_blocks": self.expected_blocks,
            "ops_not_raised": self.unraised,
            "raising_gaps": self.raising_gaps,
            "notes": self.notes,
            "class_dropout_removed": self.class_dropout_removed,
            "placement": self.placement.to_json() if self.placement is not None else None,
            "on_chip": None if self.fit is None else {
                "fits": self.fit.fits(),
                "kernels": {k.kernel: k.summary(self.fit.target) for k in self.fit.kernels},
                "total": self.fit.total.summary(self.fit.target),
            },
            "pipeline": self.pipelines,
            "resources": None if self.fit is None else {
                "total": _resources(self.fit.total, self.fit.target),
                "kernels": {k.kernel: _resources(k, self.fit.target) for k in self.fit.kernels},
            },
            "cost": self.cost.to_json() if self.cost is not None else None,
            "design_points": {kernel: [_point(p, self.cost) for p in points[:DESIGN_POINTS]]
                              for kernel, points in self.design_points.items()},
        }

    def summary(self) -> str:
        quantized = self.stages.get("quantized", {})
        lines = [
            f"fpqc build of {self.model} for {self.target} ({self.platform})",
            f"  recipe      {self.recipe.name}: {self.recipe.description}",
            f"  linear      {quantized.get('fpq.qlinear', 0) + quantized.get('fpq.dual_qlinear', 0)} quantized, "
            f"{quantized.get('fpq.linear', 0)} left in float",
            f"  blocks      {self._blocks_line()}",
            f"  not raised  {', '.join(f'{op} x{n}' for op, n in self.unraised.items()) or 'none'}",
            *(f"  partial     {gap}" for gap in self.raising_gaps),
            *(f"  note        {note}" for note in self.notes),
            *([f"  note        {REMOVED_NOTE}"] if self.class_dropout_removed else []),
            f"  kernels     {len(self.kernels)}: {', '.join(self.kernels) or '-'}",
            *([f"  on chip     {self.fit.total.summary(self.fit.target)}"] if self.fit is not None else []),
            *([f"  estimate    {self.cost.describe()[0]}"] if self.cost is not None else []),
            *(f"  runs on     {line}" for line in (self.placement.describe() if self.placement else [])),
            f"  weights     {self.float_weight_bytes:,} B float -> {self.packed_weight_bytes:,} B packed",
        ]
        return "\n".join(lines)


    def details(self) -> str:
        """report.txt's part after the summary: the estimate per scale and the design points explored."""
        lines = []
        if self.cost is not None:
            lines += ["", "cost model (one batch through the step program; fpqc/analysis/cost_model.py):"]
            lines += [f"  {line}" for line in self.cost.describe()[1:]]
        for kernel, points in self.design_points.items():
            lines += ["", f"design points of @{kernel}, best first (M/C: memory- or compute-bound launches, "
                          "fewest rows first):"]
            for p in points[:DESIGN_POINTS]:
                lines.append(f"  {p.describe()}: {_ms(p.cycles, self.cost)} ms per batch, compute "
                             f"{_ms(p.compute_bound, self.cost)} ms, DDR {_ms(p.memory_bound, self.cost)} ms, "
                             f"{p.bounds()}")
        return "\n".join(lines)

    def _blocks_line(self) -> str:
        line = f"{self.blocks} transformer blocks recognised"
        if self.expected_blocks is not None:
            line += f" of {self.expected_blocks}"
        return line


DESIGN_POINTS = 3
"""Design points of each kernel a report lists."""


def _ms(cycles: float, cost: Estimate | None) -> str:
    return f"{cost.seconds(cycles) * 1e3:.3f}" if cost is not None else "-"


def _resources(usage: Usage, target) -> dict[str, dict[str, int]]:
    used = {"luts": usage.luts, "ffs": usage.registers, "dsps": usage.dsps, "brams": usage.brams,
            "urams": usage.urams}
    return {name: {"used": value, "available": getattr(target, name)} for name, value in used.items()}


def _point(point: DesignPoint, cost: Estimate | None) -> dict:
    return {
        "pes": point.pes,
        "lanes": point.lanes,
        "attention_units": point.units,
        "k_tile": point.k_tile,
        "row_tile": point.row_tile,
        "cycles": round(point.cycles),
        "ms": cost.seconds(point.cycles) * 1e3 if cost is not None else None,
        "compute_bound_cycles": round(point.compute_bound),
        "memory_bound_cycles": round(point.memory_bound),
        "launch_bounds": point.bounds(),
        "resources": _resources(point.fit, cost.target) if cost is not None else None,
    }


def _op_histogram(module: ModuleOp) -> dict[str, int]:
    counts: dict[str, int] = {}
    for op in module.walk():
        if op is module:
            continue
        counts[op.name] = counts.get(op.name, 0) + 1
    return dict(sorted(counts.items()))


def compile_model(
    model: Path,
    output: Path,
    target: str = "vck190",
    format_name: str | None = "fp4",
    recipe_name: str | None = None,
    input_shapes: dict[str, tuple[int, ...]] | None = None,
    calib: Path | None = None,
    vae: Path | None = None,
    allow_partial_raise: bool = False,
    evaluation: Path | None = None,
    tile_options: str = "",
    verify_each: bool | None = None,
) -> CompileReport:
    """Compile ``model`` into the build directory ``output`` (see module docstring).

    ``vae`` is the VQVAE the build carries for generation (``vae.npz`` or a released
    ``.pth``); ``allow_partial_raise`` compiles a VAR whose blocks are not all recognised;
    ``tile_options`` fix choices of the ``tile`` pass (``"pes=256 row_tile=128"``; default: the
    cost model's best design point); ``verify_each`` verifies the IR after every stage (default:
    :func:`verify_each_default`), not only after those of :data:`VERIFIED_STAGES` and the last.
    """
    from fpqc.targets import load_target

    if verify_each is None:
        verify_each = verify_each_default()
    target_desc = load_target(target)
    recipe = recipe_for(format_name, recipe_name, calib)
    quantize_pipeline = recipe.pipeline(calib)
    inputs = {"model": model, "calibration file": calib, "VQVAE": vae, "eval.json of fpqc eval": evaluation}
    for what, path in inputs.items():
        if path is not None and not path.is_file():
            raise FpqcError(f"{path}: {'is a directory, not a file' if path.is_dir() else 'no such file'} (the {what})")
    check_output(output)
    check_not_inside(output, inputs)
    evaluated = None if evaluation is None else load_evaluation(evaluation)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise FpqcError(f"{output}: cannot create its parent directory ({e.strerror}); choose another -o") from None

    # A compile's IR lives until its end: no use collecting it again and again.
    with seldom_collected(), ReportDrawer() as drawer:
        checksums = BackgroundChecksums([model, *external_data_files(model, load_model(model))])
        module, store = load_onnx(model, input_shapes, streaming=True)
        stages = [
            ("onnx", None),
            ("raised", RAISE_PIPELINE),
            ("quantized", quantize_pipeline),
            ("step", STEP_PIPELINE),
            # Outline kernels from the step program when the model has one (a VAR), else from @main; the
            # hardware plan follows (the tile pass, run by _write_build to keep its design points).
            ("hls", lambda m: outline_spec(target_desc.name, steps=bool(step_functions(m)))),
        ]
        with exclusive(output):
            recover(output)
            check_output(output)
            staging = new_staging(output)
            try:
                report = _write_build(staging, model, module, store, stages, target_desc, recipe, calib, vae,
                                      allow_partial_raise, evaluated, checksums, drawer, tile_options, verify_each)
                put_in_place(staging, output)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
    return report


def _write_build(
    staging: Path,
    model: Path,
    module: ModuleOp,
    store: WeightStore,
    stages: list[tuple[str, str | Callable[[ModuleOp], str] | None]],
    target_desc,
    recipe: Recipe,
    calib: Path | None,
    vae: Path | None,
    allow_partial_raise: bool,
    evaluated: list[dict] | None,
    checksums: BackgroundChecksums,
    drawer: ReportDrawer,
    tile_options: str = "",
    verify_each: bool = False,
) -> CompileReport:
    """Run the stages on ``module`` and write every file of the build into ``staging``."""
    from fpqc.backends.hls.build import build_layout, emit_build, write_weights

    report = CompileReport(model.name, target_desc.name, target_desc.platform, recipe)
    report.float_weight_bytes = sum(store.nbytes(k) for k in store.keys())
    report.class_dropout_removed = removed_class_dropout(module)
    var_files: VarBuildFiles | None = None
    (staging / "ir").mkdir()
    ir_files = [staging / "ir" / f"{index}-{stage}.mlir" for index, (stage, _) in enumerate(stages)]
    with (store.activate(), BackgroundWrites() as writes, BackgroundChecks() as checks, BackgroundPrints() as prints,
          tqdm(total=len(stages) + 1, desc="compile", unit="stage", disable=None, leave=False) as bar):
        if any(store.entry(k).size >= COMPILED_WEIGHTS_FROM for k in store.keys()):
            writes.submit(_load_weight_loops)
        pipeline: list[str] = []
        for index, (stage, spec) in enumerate(stages):
            bar.set_postfix_str(stage)
            spec = spec(module) if callable(spec) else spec
            if stage == "step" and report.raising_gaps:
                # A VAR raised only in part has no scales to step through: generation reruns @main.
                report.notes.append("no per-scale step program: the model was raised only in part")
                spec = None
            check = None  # a stage verified without verify_each is verified by its printing child
            if spec is not None:
                run_pipeline(module, spec, stage, verify=verify_each)
                pipeline.append(spec)
                if not verify_each and stage in VERIFIED_STAGES:
                    check = _invalid_ir_check(f"{stage} stage")
            if stage == "hls":
                tile = tile_spec(target_desc.name, tile_options)
                report.design_points = _plan_hardware(module, tile, verify_each)
                pipeline.append(tile)
                if not verify_each:
                    check = _invalid_ir_check("step or hls stage (--verify-each tells which)")
            # each stage's IR is printed beside the next stage (the last one's beside the build's other files)
            prints.submit(module, [ir_files[index]] + ([staging / BUILD_IR] if index == len(stages) - 1 else []), check)
            report.stages[stage] = _op_histogram(module)
            if stage == "raised":
                _check_finite_weights(model, module, checks)
                var_files = _check_raised(model, module, report, allow_partial_raise, vae)
            if stage == "quantized":
                # The weights are final (the later stages move them into functions and kernels): the
                # writer quantizes them and writes weights.npz beside those stages.
                written = store.subset(_live_weight_keys(module))
                writes.submit(lambda: written.save(staging / BUILD_WEIGHTS))
            bar.update()
        bar.set_postfix_str("write")
        pruned = store.subset(_live_weight_keys(module))
        if pruned.keys() != written.keys():  # a later stage added or dropped a weight after all
            writes.submit(lambda: pruned.save(staging / BUILD_WEIGHTS))
        # The report's figures first, so that the drawer draws while the backend's files are written.
        layout = build_layout(module)
        writes.submit(lambda: write_weights(layout, pruned, staging))
        report.kernels = list(layout.kernels)
        if layout.kernels:
            report.placement = placement(module)
            report.fit = module_fit(module, target_desc)
            report.pipelines = pipeline_graphs(module)
            report.cost = estimate(module, target_desc)
        report.packed_weight_bytes = layout.weight_bytes
        page = drawer.draw(report.to_json(), evaluated)
        emitted = emit_build(module, pruned, staging, target_desc, writes, layout)
        if var_files is not None:
            var_files.write(staging)
        (staging / "report.json").write_text(json.dumps(report.to_json(), indent=2, sort_keys=True) + "\n")
        (staging / "report.txt").write_text(report.summary() + "\n" + report.details() + "\n")
        writes.wait()
        prints.wait()
        (staging / "report.html").write_text(page.result())
        bar.update()
    write_manifest(staging, {
        "fpqc": _package_version("fpqc"),
        "xdsl": _package_version("xdsl"),
        "onnx": _package_version("onnx"),
        "torch": _package_version("torch"),
        "numpy": _package_version("numpy"),
        "model": model.name,
        "model_blake3": checksums.result(),
        "target": target_desc.name,
        "platform": target_desc.platform,
        "part": target_desc.part,
        "kernels": list(emitted.kernels),
        "recipe": recipe.name,
        "pipeline": pipeline,
        "calibration": None if calib is None else {"file": calib.name, "blake3": file_blake3(calib)},
    })
    return report


def _load_weight_loops() -> None:
    """The writer's first job: load the compiled loops that quantize and fold the weights (numba starts in
    about a second), beside the main thread's first stages rather than when the weights are due."""
    from fpqc.numerics import ordered_loops

    ordered_loops.load_weight_loops()


def load_evaluation(path: Path) -> list[dict]:
    """The recipes of an ``eval.json`` written by ``fpqc eval``; one clear error for anything else."""
    try:
        rows = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise FpqcError(f"{path}: not an eval.json of fpqc eval ({e})") from None
    keys = {"recipe", "kl", "mean_sqnr_db", "layer_sqnr_db"}
    if not isinstance(rows, list) or not all(isinstance(r, dict) and keys <= r.keys() for r in rows):
        raise FpqcError(f"{path}: not an eval.json of fpqc eval (a list of recipes with {', '.join(sorted(keys))})")
    return rows
def _plan_hardware(module: ModuleOp, spec: str, verify: bool) -> dict[str, list[DesignPoint]]:
    """Run the ``tile`` pass ``spec`` on ``module`` and, if ``verify``, verify the final IR; the design points it
    explored for each kernel, best first."""
    (tile,) = parse_pipeline(spec).passes
    points = tile.plan_module(module)
    if verify:
        _invalid_ir_check("hls stage")(module)
    return points


def _invalid_ir_check(where: str) -> Callable[[ModuleOp], None]:
    """A check of a module, for :class:`BackgroundPrints`: FpqcError ``<where> produced invalid IR: ...`` for one
    that does not verify."""

    def check(module: ModuleOp) -> None:
        try:
            module.verify()
        except (VerifyException, DiagnosticException) as e:
            raise FpqcError(f"{where} produced invalid IR: {_first_failure(module, e)}") from None

    return check


def _check_finite_weights(model: Path, module: ModuleOp, checks: BackgroundChecks) -> None:
    """Refuse a linear layer or embedding whose weights are empty (now) or hold ±Inf (outputs Inf or NaN;
    by ``checks``, which read the weights beside the next stage).

    (Masks may hold -Inf; NaN anywhere is refused at import.)
    """
    from fpqc.dialects import fpq
    from fpqc.passes.constants import constant_entry

    def refuse_infinity(entry: Entry, what: str) -> None:
        array = read_entry(entry)
        # (the max and min of an array are finite only when all of it is: no temporary array)
        if not (np.isfinite(np.max(array)) and np.isfinite(np.min(array))):
            raise FpqcError(
                f"{model}: {what} has {int((~np.isfinite(array)).sum())} infinite weight(s) of {array.size}; "
                "its outputs would be Inf or NaN. Fix the weights before exporting"
            )

    for op in module.walk():
        if isinstance(op, (fpq.LinearOp, fpq.EmbeddingOp)):
            entry = constant_entry(op.weight if isinstance(op, fpq.LinearOp) else op.table)
            if entry is None:
                continue
            what = f"the {fpq.role_of(op)} linear layer" if fpq.role_of(op) else f"an {op.name}"
            if entry.size == 0:
                raise FpqcError(f"{model}: {what} has an empty weight {list(entry.shape)}; fix the model's shapes")
            checks.submit(lambda entry=entry, what=what: refuse_infinity(entry, what))


def _check_raised(
    model: Path, module: ModuleOp, report: CompileReport, allow_partial: bool, vae: Path | None
) -> VarBuildFiles | None:
    """Record what raising recognised; stop on a partially recognised VAR unless ``allow_partial``.

    Returns the VAR's configuration and VQVAE for the build (None for a model that is not a VAR).
    """
    from fpqc.analysis.var_blocks import recognise_blocks

    blocks = recognise_blocks(module)
    report.blocks, report.unraised = blocks.blocks, blocks.unraised
    var_files = VarBuildFiles.of(model, module if blocks.looks_like_var and blocks.complete else None, vae)
    declared = var_files.depth if var_files is not None else None
    report.expected_blocks = declared if declared is not None else blocks.sites if blocks.looks_like_var else None
    gaps = list(blocks.gaps)
    if declared is not None and declared != blocks.sites and not gaps:
        gaps.append(f"the model declares {declared} transformer blocks, the graph has {blocks.sites} attention layers")
    report.raising_gaps = gaps
    if gaps and (blocks.looks_like_var or declared is not None) and not allow_partial:
        more = f" (and {len(gaps) - 1} more)" if len(gaps) > 1 else ""
        raise FpqcError(
            f"{model}: {gaps[0]}{more}. The graph is a VAR that fpqc recognised only in part, so some of "
            "it would stay in float unnoticed; see 'VAR exports' in the README for the spellings fpqc "
            "recognises, or pass --allow-partial-raise to compile it with the unrecognised parts in float"
        )
    return var_files


def _live_weight_keys(module: ModuleOp) -> list[str]:
    """Keys of the weight store that the module still refers to, in IR order."""
    from xdsl.dialects.builtin import DenseResourceAttr

    keys: list[str] = []
    for op in module.walk():
        for attr in op.properties.values():
            if isinstance(attr, DenseResourceAttr) and attr.resource_handle.data not in keys:
                keys.append(attr.resource_handle.data)
    return keys
