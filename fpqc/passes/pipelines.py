"""Named pass pipelines: what ``fpqc compile --recipe NAME`` runs.

A recipe is the quantize stage of a build -- a pass pipeline in ``fpqc-opt -p``
syntax that runs on the raised float IR -- plus what it needs.  ``--format``
picks the default recipe; the others are FPQVAR's variants and the paper's
baselines:

=================  ===========================================================
fpqvar-w4a4        GALT smoothing, group-wise Hadamard (GHT), E2M1 weights and
                   activations per group of 128, dual-format fc2 input
                   (E1M2 negatives / E2M1 positives)
fpqvar-w4a4-kv6    fpqvar-w4a4 with a 6-bit (E2M3) KV cache
fpqvar-w6a6        GHT, E2M3 weights per channel and activations per token,
                   dual-format fc2 input (INT6 negatives / E2M3 positives)
fp4-baseline       E2M1 per group of 128, round to nearest
fp6-baseline       E2M3 weights per channel, activations per token
mixedformat        fp4-baseline with E2M1 on both sides of fc2's input
int4-rtn           INT4 per group of 128 (the reference code's symmetric RTN)
int6-rtn           INT6 weights per channel, activations per token
fp8-rtn            E4M3 per group of 128
=================  ===========================================================

Every recipe keeps the layers FPQVAR keeps in higher precision (``ada_lin``,
``word_embed``, ``head``; attention's QKᵀ/softmax is never quantized) in
float, through the quantize pass's default ``keep-float``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fpqc.errors import FpqcError


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    quantize: str
    """The pass pipeline of the quantize stage; ``{calib}`` stands for the calibration file."""
    needs_calibration: bool = False

    def pipeline(self, calib: Path | None) -> str:
        if self.needs_calibration and calib is None:
            raise FpqcError(
                f"recipe '{self.name}' learns its smoothing from calibration data: "
                f"run `fpqc calibrate MODEL -o calib.npz` and pass --calib calib.npz"
            )
        return self.quantize.replace("{calib}", str(calib) if calib is not None else "")


def _quantize(fmt: str, weights: str, acts: str) -> str:
    return (
        f"quantize{{weight-format={fmt} act-format={fmt} "
        f"weight-granularity={weights} act-granularity={acts} group-size=128}}"
    )


_W4A4 = _quantize("e2m1", "group", "group")
_W6A6 = _quantize("e2m3", "channel", "token")
_GALT = 'galt{calib="{calib}"}'
_GHT = "group-hadamard"

RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe(
            "fpqvar-w4a4",
            "FPQVAR W4A4: GALT + GHT, E2M1 per group of 128, dual-format fc2 input",
            f"{_GALT},{_GHT},{_W4A4},dual-format{{format=dfq-w4a4}}",
            needs_calibration=True,
        ),
        Recipe(
            "fpqvar-w4a4-kv6",
            "FPQVAR W4A4 with a 6-bit (E2M3) KV cache",
            f"{_GALT},{_GHT},{_W4A4},dual-format{{format=dfq-w4a4}},kv-quantize{{format=e2m3}}",
            needs_calibration=True,
        ),
        Recipe(
            "fpqvar-w6a6",
            "FPQVAR W6A6: GHT, E2M3 weights per channel / activations per token, dual-format fc2 input",
            f"{_GHT},{_W6A6},dual-format{{format=dfq-w6a6}}",
        ),
        Recipe("fp4-baseline", "E2M1 weights and activations per group of 128, round to nearest", _W4A4),
        Recipe("fp6-baseline", "E2M3 weights per channel, activations per token, round to nearest", _W6A6),
        Recipe(
            "mixedformat",
            "fp4-baseline with E2M1 on both sides of fc2's input, separate scales",
            f"{_W4A4},dual-format{{format=mixedformat}}",
        ),
        Recipe("int4-rtn", "INT4 weights and activations per group of 128, symmetric RTN", _quantize("int4", "group", "group")),
        Recipe("int6-rtn", "INT6 weights per channel, activations per token, symmetric RTN", _quantize("int6", "channel", "token")),
        Recipe("fp8-rtn", "E4M3 weights and activations per group of 128, round to nearest", _quantize("e4m3", "group", "group")),
    )
}

DEFAULT_RECIPE_FOR_FORMAT = {"fp4": "fpqvar-w4a4", "fp6": "fpqvar-w6a6", "fp8": "fp8-rtn"}
"""``--format``'s recipes; fp4 falls back to :data:`FP4_WITHOUT_CALIBRATION` when no calibration is given."""

FP4_WITHOUT_CALIBRATION = "fp4-baseline"

RAISE_PIPELINE = "raise-onnx-to-fpq"

STEP_PIPELINE = "step-program"


def hls_pipeline(target: str, steps: bool, tile_options: str = "") -> str:
    """Outline kernels from the step program (``steps``: a VAR) or from ``@main``, then plan the hardware
    (``tile_options``: more options of the ``tile`` pass, ``"pes=256 row_tile=128"``)."""
    return f"{outline_spec(target, steps)},{tile_spec(target, tile_options)}"


def outline_spec(target: str, steps: bool) -> str:
    """The ``outline-kernels`` pass of the hls pipeline."""
    return f"outline-kernels{{target={target} function_prefix={'step_' if steps else 'main'}}}"


def tile_spec(target: str, tile_options: str = "") -> str:
    """The ``tile`` pass of the hls pipeline: ``tile{target=vck190 pes=256}``."""
    return f"tile{{target={target}{' ' + tile_options.strip() if tile_options.strip() else ''}}}"


def recipe_for(format_name: str | None, recipe_name: str | None, calib: Path | None = None) -> Recipe:
    """The recipe a ``--format``/``--recipe`` pair selects."""
    if recipe_name is not None:
        if recipe_name not in RECIPES:
            raise FpqcError(f"unknown recipe '{recipe_name}' (known: {', '.join(RECIPES)})")
        return RECIPES[recipe_name]
    format_name = format_name or "fp4"
    if format_name not in DEFAULT_RECIPE_FOR_FORMAT:
        raise FpqcError(
            f"unknown format '{format_name}' (use {', '.join(DEFAULT_RECIPE_FOR_FORMAT)})"
        )
    recipe = RECIPES[DEFAULT_RECIPE_FOR_FORMAT[format_name]]
    if recipe.needs_calibration and calib is None:
        recipe = RECIPES[FP4_WITHOUT_CALIBRATION]
    return recipe
