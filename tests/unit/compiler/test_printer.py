"""FpqcPrinter prints what xDSL's Printer prints, byte for byte, at every stage of a VAR's compile."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from xdsl.printer import Printer

from fpqc import compiler
from fpqc.context import print_module
from fpqc.passes.pipelines import RAISE_PIPELINE, STEP_PIPELINE, outline_spec, recipe_for, tile_spec

DIGITS = Path(__file__).resolve().parents[3] / "examples" / "digits" / "var.onnx"


def xdsl_text(module) -> str:
    out = StringIO()
    Printer(stream=out).print_op(module)
    return out.getvalue() + "\n"


@pytest.fixture(scope="module")
def stages() -> list[tuple[str, str, str]]:
    """(stage, xDSL's text, fpqc's text) after each stage of an fp4 compile of the shipped digits model."""
    module, store = compiler.load_onnx(DIGITS)
    specs = [
        ("onnx", None),
        ("raised", RAISE_PIPELINE),
        ("quantized", recipe_for("fp4", None, None).pipeline(None)),
        ("step", STEP_PIPELINE),
        ("hls", outline_spec("vck190", steps=True)),
        ("tiled", tile_spec("vck190", "")),
    ]
    texts = []
    with store.activate():
        for stage, spec in specs:
            if spec is not None:
                compiler.run_pipeline(module, spec, stage)
            texts.append((stage, xdsl_text(module), print_module(module)))
    return texts


def test_every_stage_prints_as_xdsl_prints_it(stages) -> None:
    for stage, expected, printed in stages:
        assert printed == expected, stage


def test_the_stages_hold_the_types_it_reuses(stages) -> None:
    """The check above covers repeated tensor types, function types and fpqc's own types."""
    tiled = stages[-1][2]
    assert tiled.count("tensor<") > 1000
    assert "!fpq." in stages[2][2] and "-> (" in tiled
