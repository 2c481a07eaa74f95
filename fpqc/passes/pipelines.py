"""Named pass pipelines: what ``fpqc compile --recipe NAME`` runs.

A recipe is a pass-pipeline string in ``fpqc-opt -p`` syntax, split into the
stages whose IR a build writes out (``raise``, ``quantize``, ``hls``).  The
``--format`` of ``fpqc compile`` picks the default recipe.
"""

from __future__ import annotations

from dataclasses import dataclass

from fpqc.errors import FpqcError


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    quantize: str
    """The pass pipeline of the quantize stage."""


def _rtn(fmt: str, granularity: str = "group") -> str:
    act = "token" if granularity == "channel" else granularity
    return (
        f"quantize{{weight-format={fmt} act-format={fmt} "
        f"weight-granularity={granularity} act-granularity={act} group-size=128}}"
    )


RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe("fp4-rtn", "E2M1 weights and activations, per group of 128, round-to-nearest-even", _rtn("e2m1")),
        Recipe("fp6-rtn", "E2M3 weights and activations, per group of 128, round-to-nearest-even", _rtn("e2m3")),
        Recipe("fp8-rtn", "E4M3 weights and activations, per group of 128, round-to-nearest-even", _rtn("e4m3")),
    )
}

DEFAULT_RECIPE_FOR_FORMAT = {"fp4": "fp4-rtn", "fp6": "fp6-rtn", "fp8": "fp8-rtn"}

RAISE_PIPELINE = "raise-onnx-to-fpq"


def hls_pipeline(target: str) -> str:
    return f"lower-to-hls{{target={target}}}"


def recipe_for(format_name: str | None, recipe_name: str | None) -> Recipe:
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
    return RECIPES[DEFAULT_RECIPE_FOR_FORMAT[format_name]]
