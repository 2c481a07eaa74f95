"""``recognise_blocks`` on hand-written IR: what counts as a gap in a VAR and how it is named."""

from __future__ import annotations

from xdsl.parser import Parser

from fpqc.analysis.var_blocks import recognise_blocks
from fpqc.context import make_context

A_LINEAR_LEFT_IN_ONNX = """
func.func @main(%x: tensor<1x3x8xf32>, %sc: tensor<1x1x8xf32>, %sh: tensor<1x1x8xf32>) -> tensor<1x3x4xf32> {
  %n = fpq.layernorm %x {eps = 1.0e-06 : f32} : tensor<1x3x8xf32>
  %m = fpq.modulate %n, %sc, %sh : (tensor<1x3x8xf32>, tensor<1x1x8xf32>, tensor<1x1x8xf32>) -> tensor<1x3x8xf32>
  %w = onnx.Constant dense<0.5> : tensor<8x4xf32>
  %y = onnx.MatMul %m, %w : (tensor<1x3x8xf32>, tensor<8x4xf32>) -> tensor<1x3x4xf32> loc("/head/MatMul")
  func.return %y : tensor<1x3x4xf32>
}
"""


def parse(text: str):
    return Parser(make_context(), text).parse_module()


def test_a_linear_layer_left_in_onnx_is_a_gap_named_by_its_node():
    report = recognise_blocks(parse(A_LINEAR_LEFT_IN_ONNX))
    assert report.looks_like_var and not report.complete
    (gap,) = report.gaps
    assert gap.startswith("ONNX node '/head/MatMul' (onnx.MatMul) multiplies by a constant weight [8, 4]")
    assert report.unraised == {"onnx.MatMul": 1}


def test_a_graph_without_adaln_or_block_causal_mask_is_not_a_var():
    text = A_LINEAR_LEFT_IN_ONNX.replace(
        "%m = fpq.modulate %n, %sc, %sh : (tensor<1x3x8xf32>, tensor<1x1x8xf32>, tensor<1x1x8xf32>) -> tensor<1x3x8xf32>",
        "%m = fpq.gelu %n : tensor<1x3x8xf32>",
    )
    report = recognise_blocks(parse(text))
    assert not report.looks_like_var and report.blocks == report.sites == 0
