"""Named pass pipelines: what ``fpqc compile --recipe NAME`` runs.

A recipe is the quantize stage of a build -- a pass pipeline in ``fpqc-opt -p``
syntax that runs on the raised float IR -- plus what it needs.  ``--format``
picks the default recipe; the others are FPQVAR's variants, its ablations and
the baselines:

======================  ======================================================
fpqvar-w4a4             GALT smoothing, group-wise Hadamard (GHT), E2M1 weights
                        and activations per group of 128, dual-format (DFQ) fc2
                        input (E1M2 negatives / E2M1 positives); weights rounded
                        by GPTQ (fpqc's addition to the paper)
fpqvar-w4a4-kv6         fpqvar-w4a4 with a 6-bit (E2M3) KV cache
fpqvar-w4a4-ties-up     fpqvar-w4a4 rounding ties up, as the authors' code
fpqvar-w4a4-rtn         the paper's FPQVAR W4A4: weights rounded to nearest
fpqvar-w4a4-authors     as the authors' code: ties up, one set of Hadamard signs
                        for every layer, and GALT's last ``s`` of training on
                        every calibration row
fp4-ght                 ablation: GHT only
fp4-dfq                 ablation: DFQ only
fp4-ght-dfq             ablation: GHT + DFQ (fpqvar-w4a4 without GALT)
fp4-ght-dfq-gptq        ablation: GHT + DFQ + GPTQ (fpqvar-w4a4 without GALT)
fp4-galt-ght            ablation: GALT + GHT (fpqvar-w4a4 without DFQ)
fpqvar-w6a6             GALT (against E2M3 per token and channel), GHT, E2M3
                        weights per channel and activations per token, DFQ fc2
                        input (INT6 negatives / E2M3 positives), GPTQ weight
                        rounding; the paper uses GALT for W4A4 only
fpqvar-w6a6-rtn         fpqvar-w6a6 with weights rounded to nearest
fp6-ght-dfq             the paper's W6A6: fpqvar-w6a6 without GALT (no
                        calibration needed)
fpqvar-w6a6-authors     fp6-ght-dfq as the authors' code: ties up, one set of
                        Hadamard signs for every layer
fp4-baseline            E2M1 per group of 128, round to nearest
fp6-baseline            E2M3 weights per channel, activations per token
mixedformat             fp4-baseline with E2M1 on both sides of fc2's input,
                        separate scales (the authors' ``fp4_afpq``)
mixedformat-layerwise   the authors' per-layer MixedFormat: E2M1 weights, E2M1
                        or E3M0 activations chosen per layer (mat_qkv, fc1) on
                        calibration data, ada_lin quantized too
mixedformat-layerwise-w6a6  the same at 6 bits: E2M3 weights, E2M3 or E3M2
                        activations chosen per layer (mat_qkv, proj, fc1, fc2)
int4-rtn                INT4 per group of 128 (symmetric RTN), fc2 included
int6-rtn                INT6 weights per channel, activations per token
int4-rtn-fc2-float      int4-rtn with fc2 left in float, as the authors'
                        ``models_quant`` INT baseline
int6-rtn-fc2-float      int6-rtn with fc2 left in float
fp4-baseline-fc2-float  fp4-baseline with fc2 left in float (the like-for-like
                        comparison for int4-rtn-fc2-float)
fp6-baseline-fc2-float  fp6-baseline with fc2 left in float
fp8-rtn                 E4M3 per group of 128
======================  ======================================================

Every recipe keeps the layers FPQVAR keeps in higher precision (``ada_lin``,
``word_embed``, ``head``; attention's QKᵀ/softmax is never quantized) in
float, through the quantize pass's default ``keep-float``, except
``mixedformat-layerwise``, which quantizes ``ada_lin`` as the authors' does.
The ``*-fc2-float`` recipes keep fc2 in float too: they are not all-4-bit or
all-6-bit recipes.  The authors' asymmetric INT quantization of fc2's input
(their ``models_fp_quant`` path) is not offered: fpqc has no zero-point
quantizer.

``{seed}`` in a pipeline is the seed of its random Hadamard signs (GALT learns
against the same transform); ``fpqc eval --seeds`` varies it.
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
    """The pass pipeline of the quantize stage; ``{calib}`` stands for the calibration file, ``{seed}`` for the seed."""
    needs_calibration: bool = False

    @property
    def randomized(self) -> bool:
        """Whether the pipeline draws random Hadamard signs (its result depends on the seed)."""
        return "{seed}" in self.quantize

    def pipeline(self, calib: Path | None, seed: int = 0) -> str:
        if self.needs_calibration and calib is None:
            raise FpqcError(
                f"recipe '{self.name}' learns from calibration data: "
                f"run `fpqc calibrate MODEL -o calib.npz` and pass --calib calib.npz"
            )
        return self.quantize.replace("{calib}", str(calib) if calib is not None else "").replace("{seed}", str(seed))


HIGHER_PRECISION = "ada_lin,head_ada_lin,word_embed,head"


def _quantize(
    fmt: str, weights: str, acts: str, keep_float: str = HIGHER_PRECISION, rounding: str = "rne", gptq: bool = False
) -> str:
    weight_rounding = " weight-rounding=gptq" if gptq else ""
    return (
        f"quantize{{weight-format={fmt} act-format={fmt} weight-granularity={weights} "
        f"act-granularity={acts} group-size=128 keep-float={keep_float} rounding={rounding}{weight_rounding}}}"
    )


_W4A4 = _quantize("e2m1", "group", "group")
_W6A6 = _quantize("e2m3", "channel", "token")
_W4A4_GPTQ = _quantize("e2m1", "group", "group", gptq=True)
_W6A6_GPTQ = _quantize("e2m3", "channel", "token", gptq=True)
_HESSIANS = 'input-hessians{calib="{calib}"}'
_GALT = 'galt{calib="{calib}" seed={seed}}'
_GALT6 = 'galt{calib="{calib}" seed={seed} format=e2m3 group-size=0}'
_GHT = "group-hadamard{seed={seed}}"
_DFQ4 = "dual-format{format=dfq-w4a4}"
_DFQ6 = "dual-format{format=dfq-w6a6}"
_FC2_FLOAT = HIGHER_PRECISION + ",fc2"

RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe(
            "fpqvar-w4a4",
            "FPQVAR W4A4: GALT + GHT, E2M1 per group of 128 with GPTQ weight rounding, dual-format fc2 input",
            f"{_HESSIANS},{_GALT},{_GHT},{_W4A4_GPTQ},{_DFQ4}",
            needs_calibration=True,
        ),
        Recipe(
            "fpqvar-w4a4-kv6",
            "FPQVAR W4A4 with a 6-bit (E2M3) KV cache",
            f"{_HESSIANS},{_GALT},{_GHT},{_W4A4_GPTQ},{_DFQ4},kv-quantize{{format=e2m3}}",
            needs_calibration=True,
        ),
        Recipe(
            "fpqvar-w4a4-ties-up",
            "FPQVAR W4A4 rounding ties up (the authors' rounding)",
            f'{_HESSIANS},galt{{calib="{{calib}}" seed={{seed}} rounding=ties-up}},{_GHT},'
            f'{_quantize("e2m1", "group", "group", rounding="ties-up", gptq=True)},{_DFQ4}',
            needs_calibration=True,
        ),
        Recipe(
            "fpqvar-w4a4-rtn",
            "the paper's FPQVAR W4A4: fpqvar-w4a4 with every weight rounded to nearest (no GPTQ)",
            f"{_GALT},{_GHT},{_W4A4},{_DFQ4}",
            needs_calibration=True,
        ),
        Recipe(
            "fpqvar-w4a4-authors",
            "FPQVAR W4A4 as the authors' code: ties up, one Hadamard sign pattern, GALT's last s trained on every row",
            f'galt{{calib="{{calib}}" seed={{seed}} shared-signs=true rounding=ties-up select=last}},'
            f'group-hadamard{{seed={{seed}} shared-signs=true}},'
            f'{_quantize("e2m1", "group", "group", rounding="ties-up")},{_DFQ4}',
            needs_calibration=True,
        ),
        Recipe("fp4-ght", "ablation: GHT, E2M1 per group of 128", f"{_GHT},{_W4A4}"),
        Recipe("fp4-dfq", "ablation: E2M1 per group of 128, dual-format fc2 input", f"{_W4A4},{_DFQ4}"),
        Recipe("fp4-ght-dfq", "ablation: GHT + dual-format fc2 input (no GALT)", f"{_GHT},{_W4A4},{_DFQ4}"),
        Recipe(
            "fp4-ght-dfq-gptq",
            "ablation: GHT + dual-format fc2 input + GPTQ weight rounding (fpqvar-w4a4 without GALT)",
            f"{_HESSIANS},{_GHT},{_W4A4_GPTQ},{_DFQ4}",
            needs_calibration=True,
        ),
        Recipe(
            "fp4-galt-ght",
            "ablation: GALT + GHT (no dual format)",
            f"{_GALT},{_GHT},{_W4A4}",
            needs_calibration=True,
        ),
        Recipe(
            "fpqvar-w6a6",
            "FPQVAR W6A6 with GALT (the paper uses GALT for W4A4 only): GALT against E2M3 per token/channel, "
            "GHT, E2M3 weights per channel with GPTQ weight rounding / activations per token, dual-format fc2 input",
            f'{_HESSIANS},{_GALT6},{_GHT},{_W6A6_GPTQ},{_DFQ6}',
            needs_calibration=True,
        ),
        Recipe(
            "fpqvar-w6a6-rtn",
            "fpqvar-w6a6 with every weight rounded to nearest (no GPTQ)",
            f"{_GALT6},{_GHT},{_W6A6},{_DFQ6}",
            needs_calibration=True,
        ),
        Recipe(
            "fp6-ght-dfq",
            "the paper's W6A6: GHT, E2M3 weights per channel / activations per token, dual-format fc2 input",
            f"{_GHT},{_W6A6},{_DFQ6}",
        ),
        Recipe(
            "fpqvar-w6a6-authors",
            "FPQVAR W6A6 as the authors' code: ties up, one Hadamard sign pattern for every layer",
            f'group-hadamard{{seed={{seed}} shared-signs=true}},'
            f'{_quantize("e2m3", "channel", "token", rounding="ties-up")},{_DFQ6}',
        ),
        Recipe("fp4-baseline", "E2M1 weights and activations per group of 128, round to nearest", _W4A4),
        Recipe("fp6-baseline", "E2M3 weights per channel, activations per token, round to nearest", _W6A6),
        Recipe(
            "mixedformat",
            "fp4-baseline with E2M1 on both sides of fc2's input, separate scales",
            f"{_W4A4},dual-format{{format=mixedformat}}",
        ),
        Recipe(
            "mixedformat-layerwise",
            "E2M1 weights, E2M1 or E3M0 activations chosen per layer on calibration data, ada_lin quantized",
            'choose-formats{calib="{calib}"},' + _quantize("e2m1", "group", "group", "head_ada_lin,word_embed,head"),
            needs_calibration=True,
        ),
        Recipe(
            "mixedformat-layerwise-w6a6",
            "E2M3 weights, E2M3 or E3M2 activations chosen per layer on calibration data",
            'choose-formats{calib="{calib}" roles=mat_qkv,proj,fc1,fc2 weight-formats=e2m3 act-formats=e2m3,e3m2 '
            'weight-granularity=channel act-granularity=token},' + _W6A6,
            needs_calibration=True,
        ),
        Recipe("int4-rtn", "INT4 weights and activations per group of 128, symmetric RTN", _quantize("int4", "group", "group")),
        Recipe("int6-rtn", "INT6 weights per channel, activations per token, symmetric RTN", _quantize("int6", "channel", "token")),
        Recipe(
            "int4-rtn-fc2-float",
            "int4-rtn with fc2 in float (the authors' INT baseline)",
            _quantize("int4", "group", "group", _FC2_FLOAT),
        ),
        Recipe(
            "int6-rtn-fc2-float",
            "int6-rtn with fc2 in float (the authors' INT baseline)",
            _quantize("int6", "channel", "token", _FC2_FLOAT),
        ),
        Recipe("fp4-baseline-fc2-float", "fp4-baseline with fc2 in float", _quantize("e2m1", "group", "group", _FC2_FLOAT)),
        Recipe("fp6-baseline-fc2-float", "fp6-baseline with fc2 in float", _quantize("e2m3", "channel", "token", _FC2_FLOAT)),
        Recipe("fp8-rtn", "E4M3 weights and activations per group of 128, round to nearest", _quantize("e4m3", "group", "group")),
    )
}

DEFAULT_RECIPE_FOR_FORMAT = {"fp4": "fpqvar-w4a4", "fp6": "fpqvar-w6a6", "fp8": "fp8-rtn"}
"""``--format``'s recipes; without a calibration fp4 and fp6 fall back to :data:`WITHOUT_CALIBRATION`'s."""

WITHOUT_CALIBRATION = {"fp4": "fp4-baseline", "fp6": "fp6-ght-dfq"}
"""``--format``'s recipes when no calibration is given (GALT needs one)."""

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
        recipe = RECIPES[WITHOUT_CALIBRATION[format_name]]
    return recipe
