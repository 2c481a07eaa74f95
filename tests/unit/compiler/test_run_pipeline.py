"""compiler.run_pipeline: a stage that leaves invalid IR is one line naming the op that fails."""

from __future__ import annotations

import pytest

from fpqc import compiler
from fpqc.context import parse_module_file
from fpqc.errors import FpqcError

F16_GELU = """
func.func @main(%a: tensor<4xf16>) -> tensor<4xf16> {
  %0 = "fpq.gelu"(%a) : (tensor<4xf16>) -> tensor<4xf16>
  func.return %0 : tensor<4xf16>
}
"""


def f16_gelu(tmp_path):
    path = tmp_path / "f16.mlir"
    path.write_text(F16_GELU)
    return parse_module_file(path)


def test_declared_constraint_failure_names_the_op(tmp_path) -> None:
    module = f16_gelu(tmp_path)
    with pytest.raises(FpqcError) as error:
        compiler.run_pipeline(module, "canonicalize-onnx", "raise")
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("raise stage produced invalid IR: fpq.gelu: operand 'input'")
    assert "f16 should be of base attribute f32" in message


def test_bad_pipeline_is_one_line(tmp_path) -> None:
    module = f16_gelu(tmp_path)
    with pytest.raises(FpqcError, match=r"^invalid pass pipeline 'no-such-pass'"):
        compiler.run_pipeline(module, "no-such-pass", "raise")
