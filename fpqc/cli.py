"""The ``fpqc`` command line (compile / run / verify / generate / calibrate / ...): argument parsing only.

Every user error ends in one line ``error: ...`` on stderr and exit status 1;
a build directory is written to a temporary sibling and renamed into place
only when complete, so a failed compile leaves nothing behind.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fpqc.errors import FpqcError
from fpqc.files.npz import read_npz, write_npz
from fpqc.tools.reporting import run_reporting_errors


VAE_HELP = "the VQVAE: vae.npz (default: beside the model, or the build's), or the released vae_ch160v4096z32.pth"


def _optional_path(value: str | None) -> Path | None:
    return Path(value) if value else None


def _parse_shape_option(values: Sequence[str]) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    for item in values:
        name, sep, dims = item.rpartition("=")
        try:
            if not sep or not name:
                raise ValueError
            shapes[name] = tuple(int(d) for d in dims.split("x"))
        except ValueError:
            raise FpqcError(f"--input-shape '{item}': expected NAME=DxDx..., e.g. x=8x128") from None
    return shapes


# ---------------------------------------------------------------------------
# fpqc compile
# ---------------------------------------------------------------------------


def _cmd_compile(args: argparse.Namespace) -> int:
    from fpqc.compiler import compile_model

    report = compile_model(
        Path(args.model),
        Path(args.output),
        target=args.target,
        format_name=args.format,
        recipe_name=args.recipe,
        input_shapes=_parse_shape_option(args.input_shape),
        calib=Path(args.calib) if args.calib else None,
        vae=_optional_path(args.vae),
        allow_partial_raise=args.allow_partial_raise,
        evaluation=_optional_path(args.eval),
        tile_options=args.tile,
        verify_each=args.verify_each or None,
    )
    if args.recipe is None and args.format == "fp4" and args.calib is None:
        print("note: no --calib, so fp4 compiles with the fp4-baseline recipe; "
              "run `fpqc calibrate` and pass --calib for fpqvar-w4a4", file=sys.stderr)
    print(report.summary())
    print(f"  written to  {args.output}")
    return 0


# ---------------------------------------------------------------------------
# fpqc run
# ---------------------------------------------------------------------------


def _cmd_run(args: argparse.Namespace) -> int:
    from fpqc.backends.interp.runner import model_input_names, run_module
    from fpqc.compiler import load_build, load_onnx
    from fpqc.frontend.onnx_import.class_dropout import REMOVED_NOTE, removed_class_dropout

    model = Path(args.model)
    if model.is_dir():
        module, store = load_build(model)
    else:
        module, store = load_onnx(model, _parse_shape_option(args.input_shape))
        if removed_class_dropout(module):
            print(f"note: {REMOVED_NOTE}", file=sys.stderr)
    inputs = read_npz(Path(args.inputs), "inputs")
    names = set(model_input_names(module))
    extra = sorted(set(inputs) - names)
    if extra:
        print(f"note: ignoring arrays that are not model inputs: {', '.join(extra)}", file=sys.stderr)
    outputs = run_module(module, {k: v for k, v in inputs.items() if k in names}, store)
    out = Path(args.output)
    write_npz(out, outputs, "outputs")
    for name, value in outputs.items():
        print(f"{name}: {list(value.shape)} {value.dtype}")
    print(f"wrote {out}")
    return 0


# ---------------------------------------------------------------------------
# fpqc verify
# ---------------------------------------------------------------------------


def _cmd_verify(args: argparse.Namespace) -> int:
    from fpqc.tools.verify import verify_build

    build = Path(args.build)
    if not (build / "manifest.json").is_file():
        raise FpqcError(f"{build}: not an fpqc build directory (no manifest.json); run fpqc compile first")
    if args.inputs is not None and args.samples is not None:
        raise FpqcError("give --samples (seeded runs) or --inputs (a run on those inputs), not both")
    report = verify_build(build, samples=4 if args.samples is None else args.samples, seed=args.seed, jobs=args.jobs,
                          csim_generation=args.csim_generation, inputs=_optional_path(args.inputs))
    print(report.summary())
    return 0 if report.differing == 0 else 1


# ---------------------------------------------------------------------------
# fpqc export-var
# ---------------------------------------------------------------------------


def _int_tuple(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise FpqcError(f"expected comma-separated integers, got '{text}'") from None


def _cmd_export_var(args: argparse.Namespace) -> int:
    from fpqc.frontend.var.config import VARConfig
    from fpqc.frontend.var.export import ROUTES, export_var

    if args.route not in ROUTES:
        raise FpqcError(f"unknown export route '{args.route}' (use {', '.join(ROUTES)})")
    for path in (args.checkpoint, args.vae):
        if path is not None and not Path(path).is_file():
            raise FpqcError(f"{path}: no such file")
    overrides = {
        "patch_nums": _int_tuple(args.patch_nums) if args.patch_nums else None,
        "vocab_size": args.vocab,
        "Cvae": args.cvae,
        "embed_dim": args.embed_dim,
        "num_heads": args.heads,
        "num_classes": args.classes,
    }
    if args.small_vae:
        small = VARConfig.tiny()
        overrides.update(
            {f: getattr(small, f) for f in ("vae_ch", "vae_ch_mult", "vae_num_res_blocks", "vae_norm_groups")}
        )
    try:
        cfg = VARConfig(depth=args.depth, **{k: v for k, v in overrides.items() if v is not None})
        path = export_var(cfg, args.output, args.checkpoint, args.vae, route=args.route, batch=args.batch,
                          seed=args.seed, opset=args.opset)
    except (ValueError, RuntimeError) as e:
        raise FpqcError(f"export-var: {str(e).strip().splitlines()[0]}") from None
    print(f"wrote {path} (depth {cfg.depth}, C {cfg.C}, L {cfg.L}, route {args.route}) and {Path(args.output) / 'vae.npz'}")
    return 0


# ---------------------------------------------------------------------------
# fpqc eval
# ---------------------------------------------------------------------------


def _cmd_eval(args: argparse.Namespace) -> int:
    from fpqc.eval.quality import evaluate_teacher_forced
    from fpqc.eval.report import plot_hadamard_histograms, plot_layer_sqnr, table, write_json

    model = Path(args.model)
    if not model.is_file():
        raise FpqcError(f"{model}: no such file")
    recipes = [r for r in args.recipes.split(",") if r]
    calib = Path(args.calib) if args.calib else None
    if calib is not None and not calib.is_file():
        raise FpqcError(f"{calib}: no such file")
    vae = _optional_path(args.vae)
    seeds = tuple(_parse_ranges(args.seeds, "--seeds", "seeds"))
    results, activations = evaluate_teacher_forced(model, recipes, _optional_path(args.inputs), calib, vae, seeds)
    if args.generate > 0:
        from fpqc.eval.generation import evaluate_generation

        classifier = Path(args.classifier) if args.classifier else model.parent / "classifier.pt"
        generation_seeds = tuple(_parse_ranges(args.seed, "--seed", "seeds"))
        scores = evaluate_generation(model, recipes, classifier, args.generate, calib, generation_seeds, args.cfg, vae)
        print("float model: " + ", ".join(f"{k} {v:.3f}" for k, v in scores["float"].items()))
        for result in results:
            result.generation = scores[result.recipe]
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    write_json(results, out / "eval.json")
    plot_layer_sqnr(results, out / "layer_sqnr.png")
    shown = {k: v for k, v in activations.inputs.items() if k.endswith((".mat_qkv", ".fc1")) and k.startswith("b1.")}
    plot_hadamard_histograms(shown or dict(list(activations.inputs.items())[:1]), out / "hadamard_histograms.png")
    print(table(results))
    print(f"wrote {out / 'eval.json'}, {out / 'layer_sqnr.png'} and {out / 'hadamard_histograms.png'}")
    return 0


# ---------------------------------------------------------------------------
# fpqc stress-outliers
# ---------------------------------------------------------------------------


def _parse_factor_range(spec: str) -> tuple[float, float]:
    """``20-50`` or ``30`` → (low, high)."""
    low, sep, high = spec.partition("-")
    try:
        return float(low), float(high if sep else low)
    except ValueError:
        raise FpqcError(f"--scale '{spec}': expected factors like 20-50 or 30") from None


def _cmd_stress_outliers(args: argparse.Namespace) -> int:
    from fpqc.tools.stress_outliers import StressSettings, stress_outliers

    model = Path(args.model)
    low, high = _parse_factor_range(args.scale)
    roles = tuple(r for r in args.roles.split(",") if r)
    settings = StressSettings(args.channels, low, high, roles, args.seed)
    report = stress_outliers(model, Path(args.output), settings, _optional_path(args.inputs), _optional_path(args.vae))
    print(report.summary())
    print(f"wrote {args.output}")
    return 0


# ---------------------------------------------------------------------------
# fpqc generate / fpqc calibrate
# ---------------------------------------------------------------------------


def _parse_ranges(spec: str, option: str, example: str) -> list[int]:
    """``0-9``, ``3,5,7`` or ``0-4,9`` → the integers in order (for ``option``)."""
    values: list[int] = []
    try:
        for part in spec.split(","):
            first, sep, last = part.strip().partition("-")
            lo, hi = int(first), int(last) if sep else int(first)
            if lo < 0 or hi < lo:
                raise ValueError
            values.extend(range(lo, hi + 1))
    except ValueError:
        raise FpqcError(f"{option} '{spec}': expected {example} like 0-9, 3,5,7 or 0-4,9") from None
    return values


def _parse_classes(spec: str) -> list[int]:
    return _parse_ranges(spec, "--classes", "class labels")


def _cmd_generate(args: argparse.Namespace) -> int:
    import time

    from fpqc.runtime import VarRuntime
    from fpqc.runtime.devices import device_launcher
    from fpqc.runtime.images import save_image_grid
    from fpqc.runtime.progress import ScaleProgress, scale_bar

    if args.host == "cpp":
        return _generate_with_cpp_host(args)
    runtime = VarRuntime.load(Path(args.model), _optional_path(args.vae))
    labels = np.repeat(runtime.check_labels(_parse_classes(args.classes)), args.samples)
    runtime.model.launcher = device_launcher(args.device, Path(args.model))
    start = time.perf_counter()
    with scale_bar("generate", len(runtime.schedule)) as bar:
        out = runtime.generate(labels, args.seed, cfg=args.cfg, top_k=args.top_k, top_p=args.top_p,
                               observers=(ScaleProgress(bar),))
    seconds = time.perf_counter() - start
    path = Path(args.output).with_suffix(".npz")
    arrays = {"images": out.images, "labels": out.labels}
    arrays.update({f"tokens.scale{k}": t for k, t in enumerate(out.tokens)})
    write_npz(path, arrays, "images")
    grid = path.with_suffix(".png")
    save_image_grid(out.images, grid)
    kind = "quantized build" if runtime.model.quantized else "float model"
    if args.device == "csim":
        kind += " (kernels in the C simulation)"
    print(f"generated {len(labels)} images {list(out.images.shape[1:])} with the {kind} in {seconds:.2f} s "
          f"({seconds / len(labels):.2f} s per image)")
    print(f"wrote {path} and {grid}")
    return 0


def _generate_with_cpp_host(args: argparse.Namespace) -> int:
    """``fpqc generate BUILD --host cpp``: the build's C++ host program on the C simulation (it checks the
    class labels against the build)."""
    from importlib.metadata import version

    from fpqc.files.build_directory import check_build
    from fpqc.runtime.cpp_host import generate_with_cpp_host

    build = Path(args.model)
    if not build.is_dir() or args.device != "csim":
        raise FpqcError("--host cpp runs a build directory's C++ host program on the C simulation: "
                        "give a build and --device csim")
    if args.vae is not None:
        raise FpqcError("--host cpp decodes with the build's own vae.npz; leave out --vae")
    check_build(build, version("fpqc"))  # whole and unchanged, as `fpqc generate` checks it
    labels = np.repeat(_parse_classes(args.classes), args.samples).tolist()
    path = Path(args.output).with_suffix(".npz")
    summary = generate_with_cpp_host(build, labels, path, args.seed, args.cfg, args.top_k, args.top_p)
    print(f"{summary} (the C++ host program, kernels in the C simulation)")
    print(f"wrote {path} and {path.with_suffix('.png')}")
    return 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from fpqc.runtime import VarRuntime
    from fpqc.runtime.calibrate import calibrate

    model = Path(args.model)
    if model.is_dir():
        raise FpqcError(f"{model}: calibration runs the float model; pass the ONNX file, not a build directory")
    classes = _parse_classes(args.classes)
    runtime = VarRuntime.load(model, _optional_path(args.vae))
    result = calibrate(
        runtime, classes, args.samples, cfg=args.cfg, top_k=args.top_k, top_p=args.top_p, seed=args.seed,
        rows_per_scale=args.rows, model_name=model.name,
    )
    out = Path(args.output)
    index = result.save(out)
    plot = out.with_name(f"{out.stem}_absmax.png")
    fc2, qkv = result.plot(plot)
    images = result.settings["images"]
    print(f"calibrated {len(result.layers)} linear layers over {len(runtime.schedule)} scales on {images} images "
          f"in {result.seconds:.2f} s ({result.seconds / images:.2f} s per image)")
    print(f"wrote {out}, {index} and {plot} ({fc2} and {qkv} inputs)")
    return 0


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fpqc",
        description="Compile low-bit floating-point models (FPQVAR) to Vitis HLS for FPGAs.",
    )
    from fpqc import __version__

    parser.add_argument("--version", action="version", version=f"fpqc {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    compile_p = sub.add_parser("compile", help="ONNX model -> quantized IR, HLS C++, build files, report")
    compile_p.add_argument("model", help="the ONNX model")
    compile_p.add_argument("--target", default="vck190", help="target description (fpqc/targets/NAME.toml)")
    compile_p.add_argument("--format", default="fp4", help="fp4 | fp6 | fp8 (picks the default recipe)")
    compile_p.add_argument("--recipe", default=None, help="a named pipeline from fpqc.passes.pipelines")
    compile_p.add_argument("--calib", default=None, help="calibration file from fpqc calibrate (GALT recipes)")
    compile_p.add_argument("--input-shape", action="append", default=[], metavar="NAME=DxD",
                           help="static shape for a dynamic model input (repeatable)")
    compile_p.add_argument("--vae", default=None, help="the VQVAE the build carries for generation: vae.npz (default: beside the model) "
                           "or the released vae_ch160v4096z32.pth")
    compile_p.add_argument("--allow-partial-raise", action="store_true",
                           help="compile a VAR even when raising recognises only part of it (the rest stays float)")
    compile_p.add_argument("--eval", default=None, metavar="EVAL_JSON",
                           help="eval.json of fpqc eval: report.html plots its per-layer quantization error")
    compile_p.add_argument("--tile", default="", metavar="OPTIONS",
                           help="fix choices of the hardware plan, e.g. 'pes=256 attention_units=4 row_tile=128' "
                                "(options of the tile pass; default: the cost model's best design point)")
    compile_p.add_argument("--verify-each", action="store_true",
                           help="verify the IR after every stage, not only after raise, quantize and the hardware plan "
                                "(for work on fpqc's passes; also FPQC_VERIFY_EACH=1)")
    compile_p.add_argument("-o", "--output", required=True, help="build directory to write")
    compile_p.set_defaults(handler=_cmd_compile)

    run_p = sub.add_parser("run", help="run an ONNX model (float) or a build (quantized) in the interpreter")
    run_p.add_argument("model", help="an ONNX file or a build directory")
    run_p.add_argument("--inputs", required=True, help=".npz keyed by the ONNX input names")
    run_p.add_argument("--input-shape", action="append", default=[], metavar="NAME=DxD")
    run_p.add_argument("-o", "--output", required=True, help=".npz keyed by the ONNX output names")
    run_p.set_defaults(handler=_cmd_run)

    export_p = sub.add_parser("export-var", help="export a VAR (random weights or a checkpoint) to ONNX + vae.npz")
    export_p.add_argument("--depth", type=int, default=16)
    export_p.add_argument("--checkpoint", default=None, help="var_d*.pth with the released key names")
    export_p.add_argument("--vae", default=None, help="vae_ch160v4096z32.pth with the released key names")
    export_p.add_argument("--route", default="fpqc", help="fpqc | torchscript | dynamo")
    export_p.add_argument("--opset", type=int, default=18, help="ONNX opset to export at (dynamo writes at least 18)")
    export_p.add_argument("--patch-nums", default=None, help="e.g. 1,2,3,4 (default: the released 10 scales)")
    export_p.add_argument("--vocab", type=int, default=None)
    export_p.add_argument("--cvae", type=int, default=None)
    export_p.add_argument("--embed-dim", type=int, default=None)
    export_p.add_argument("--heads", type=int, default=None)
    export_p.add_argument("--classes", type=int, default=None)
    export_p.add_argument("--small-vae", action="store_true", help="a toy VQVAE (for tests and benchmarks of the transformer)")
    export_p.add_argument("--batch", type=int, default=1)
    export_p.add_argument("--seed", type=int, default=0)
    export_p.add_argument("-o", "--output", required=True, help="directory for var.onnx and vae.npz")
    export_p.set_defaults(handler=_cmd_export_var)

    eval_p = sub.add_parser("eval", help="quality of quantization recipes against the float model")
    eval_p.add_argument("model", help="the ONNX model")
    eval_p.add_argument(
        "--recipes",
        default="fpqvar-w4a4,fpqvar-w4a4-rtn,fpqvar-w4a4-kv6,fp4-ght-dfq,mixedformat,fp4-baseline,int4-rtn,int4-rtn-fc2-float,"
        "fpqvar-w6a6,fp6-ght-dfq,fp6-baseline,int6-rtn,int6-rtn-fc2-float",
        help="comma-separated recipe names (fpqc.passes.pipelines)",
    )
    eval_p.add_argument("--inputs", default=None, help="teacher-forcing inputs (default: inputs.npz beside the model, "
                        "else the float model's own generations)")
    eval_p.add_argument("--vae", default=None, help=VAE_HELP)
    eval_p.add_argument("--calib", default=None, help="calibration file from fpqc calibrate (for GALT recipes)")
    eval_p.add_argument("--seeds", default="0", help="seeds of the random Hadamard signs, e.g. 0-4: recipes with GHT "
                        "are built once per seed and their KL's mean and spread reported")
    eval_p.add_argument("--generate", type=int, default=0, metavar="N",
                        help="also generate N images per class and score them (FID, IS, accuracy)")
    eval_p.add_argument("--classifier", default=None, help="digit classifier (default: classifier.pt beside the model)")
    eval_p.add_argument("--cfg", type=float, default=3.0, help="guidance strength for --generate")
    eval_p.add_argument("--seed", default="0", help="seed(s) of the token draws for --generate, e.g. 0-2: the scores' "
                        "mean, and the FID-style score's spread across the seeds")
    eval_p.add_argument("-o", "--output", default="eval", help="directory for eval.json and plots")
    eval_p.set_defaults(handler=_cmd_eval)

    stress_p = sub.add_parser("stress-outliers", help="inject outlier channels into a VAR without changing its function")
    stress_p.add_argument("model", help="the float VAR's ONNX file")
    stress_p.add_argument("--channels", type=int, default=4, help="channels scaled in each selected input")
    stress_p.add_argument("--scale", default="20-50", metavar="LOW-HIGH", help="range of the factors (uniform)")
    stress_p.add_argument("--roles", default="mat_qkv,fc1", help="the linear layers whose inputs are stressed")
    stress_p.add_argument("--seed", type=int, default=0, help="seed of the channel and factor draws")
    stress_p.add_argument("--inputs", default=None, help="teacher-forcing inputs for the check (default: inputs.npz "
                          "beside the model, else the float model's own generations)")
    stress_p.add_argument("--vae", default=None, help=VAE_HELP)
    stress_p.add_argument("-o", "--output", required=True, help="the stressed model (.onnx)")
    stress_p.set_defaults(handler=_cmd_stress_outliers)

    def sampling_options(p: argparse.ArgumentParser, top_k: int, top_p: float) -> None:
        p.add_argument("--classes", default="0-9", help="class labels, e.g. 0-9, 3,5,7 or 0-4,9")
        p.add_argument("--samples", type=int, default=1, help="images per class")
        p.add_argument("--cfg", type=float, default=1.5, help="classifier-free guidance strength")
        p.add_argument("--top-k", type=int, default=top_k, help="keep the k most likely tokens (0: all)")
        p.add_argument("--top-p", type=float, default=top_p, help="nucleus mass to keep (0: all)")
        p.add_argument("--seed", type=int, default=0, help="seed of the token draws")
        p.add_argument("--vae", default=None, help=VAE_HELP)

    generate_p = sub.add_parser("generate", help="generate images with a VAR (ONNX: float; build: quantized)")
    generate_p.add_argument("model", help="a VAR's ONNX file or a build directory")
    sampling_options(generate_p, 0, 0.0)
    generate_p.add_argument("--device", choices=("interp", "csim"), default="interp",
                            help="run a build's kernels in the interpreter or in the C simulation of its C++")
    generate_p.add_argument("--host", choices=("python", "cpp"), default="python",
                            help="run the host side in fpqc's runtime or in the build's C++ host program "
                                 "(--device csim; the VQVAE stays in Python)")
    generate_p.add_argument("-o", "--output", default="samples.npz", help=".npz of images and tokens (+ .png grid)")
    generate_p.set_defaults(handler=_cmd_generate)

    calibrate_p = sub.add_parser("calibrate", help="per-layer, per-scale activation statistics for FPQVAR (GALT)")
    calibrate_p.add_argument("model", help="the float VAR's ONNX file")
    sampling_options(calibrate_p, 900, 0.96)
    calibrate_p.add_argument("--rows", type=int, default=256, help="raw input rows kept per layer per scale")
    calibrate_p.add_argument("-o", "--output", default="calib.npz", help="calibration file (+ .json index, _absmax.png)")
    calibrate_p.set_defaults(handler=_cmd_calibrate)

    verify_p = sub.add_parser("verify", help="C-simulate a build's HLS C++ and compare with the interpreter bit for bit")
    verify_p.add_argument("build", help="a build directory from fpqc compile")
    verify_p.add_argument("--samples", type=int, default=None,
                          help="images of a VAR's generation, or random input sets, to compare (default 4)")
    verify_p.add_argument("--inputs", default=None,
                          help=".npz of the model's inputs to run on instead: for a VAR, teacher forcing of each "
                               "row through the step program, its logits also compared with the whole forward's")
    verify_p.add_argument("--seed", type=int, default=0)
    verify_p.add_argument("--jobs", type=int, default=None,
                          help="processes that C-simulate the launches side by side (default: every core for a "
                               "build of at least 64 MB of weights, else 1)")
    verify_p.add_argument("--csim-generation", action=argparse.BooleanOptionalAction, default=None,
                          help="also run a VAR's generation in the C simulation alone and compare its tokens and "
                               "images (default: with one job)")
    verify_p.set_defaults(handler=_cmd_verify)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    return run_reporting_errors(lambda: args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
