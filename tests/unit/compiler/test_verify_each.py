"""fpqc compile verifies the stages a user's model shapes and the final IR; --verify-each verifies every stage."""

from __future__ import annotations

from pathlib import Path

import pytest
from xdsl.dialects.builtin import ModuleOp, StringAttr

from fpqc import compiler
from fpqc.background_prints import BackgroundPrints
from fpqc.errors import FpqcError
from fpqc.passes.step_program import StepProgramPass

DIGITS = Path(__file__).resolve().parents[3] / "examples" / "digits" / "var.onnx"


def _verified_stages(monkeypatch, tmp_path, verify_each: bool | None) -> tuple[int, list[str]]:
    """How many times a compile of the digits model verifies the whole module itself, and the IR files whose
    printing children verify it first."""
    calls, checked = [], []
    original_verify, original_submit = ModuleOp.verify, BackgroundPrints.submit

    def submit(self, module, paths, check=None):
        if check is not None:
            checked.append(paths[0].name)
        original_submit(self, module, paths, check)

    monkeypatch.setattr(ModuleOp, "verify", lambda self, *a, **k: (calls.append(1), original_verify(self, *a, **k))[1])
    monkeypatch.setattr(BackgroundPrints, "submit", submit)
    compiler.compile_model(DIGITS, tmp_path / f"build-{verify_each}", verify_each=verify_each)
    return len(calls), checked


def test_the_default_verifies_raise_quantize_and_the_end(monkeypatch, tmp_path):
    monkeypatch.delenv("FPQC_VERIFY_EACH")
    assert not compiler.verify_each_default()
    # raised, quantized and the final IR, each by the child that prints it (its calls are not counted here)
    assert _verified_stages(monkeypatch, tmp_path, None) == (0, ["1-raised.mlir", "2-quantized.mlir", "4-hls.mlir"])
    assert _verified_stages(monkeypatch, tmp_path, True) == (5, [])  # ... and step and hls, here at once


def test_the_environment_turns_it_on(monkeypatch):
    monkeypatch.setenv("FPQC_VERIFY_EACH", "1")
    assert compiler.verify_each_default()
    monkeypatch.setenv("FPQC_VERIFY_EACH", "0")
    assert not compiler.verify_each_default()


@pytest.mark.parametrize("verify_each, stage", [(True, "step stage"), (False, "step or hls stage (--verify-each tells which)")])
def test_a_stage_that_breaks_the_ir_is_caught(monkeypatch, tmp_path, verify_each, stage):
    """A step pass that leaves its layer norms' epsilon a string: caught after the step stage, or at the end
    (carried into the kernels) without verify_each."""
    original = StepProgramPass.apply

    def broken(self, ctx, module):
        original(self, ctx, module)
        for op in module.walk():
            if op.name == "fpq.layernorm" and op.parent_op().sym_name.data != "main":
                op.properties["eps"] = StringAttr("tiny")

    monkeypatch.setattr(StepProgramPass, "apply", broken)
    with pytest.raises(FpqcError, match=f"^{stage.replace('(', '[(]').replace(')', '[)]')} produced invalid IR"):
        compiler.compile_model(DIGITS, tmp_path / "build", verify_each=verify_each)
