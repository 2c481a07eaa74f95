"""outline-kernels: which ops are outlined, kernel interfaces, no cycles, determinism."""

import networkx as nx
from xdsl.dialects import func

from fpqc.context import print_module
from fpqc.dialects import fpq, hls
from fpqc.analysis.dataflow import dataflow_graph
from fpqc.passes.outline_kernels import accelerator_regions

from conftest import lower, parse

MIXED = """
func.func @main(%x: tensor<2x8xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>) {
  %wc = fpq.constant dense<1> : tensor<4x8xui8> -> tensor<4x8x!fpq.float<e2m1>>
  %ws = fpq.constant dense<1.0> : tensor<4x1xf32>
  %c, %s = fpq.quantize %x {quant = #fpq.quant<e2m1, token>} : tensor<2x8xf32> -> (tensor<2x8x!fpq.float<e2m1>>, tensor<2x1xf32>)
  %y = fpq.qlinear %c, %s, %wc, %ws {x_quant = #fpq.quant<e2m1, token>, w_quant = #fpq.quant<e2m1, channel>} : (tensor<2x8x!fpq.float<e2m1>>, tensor<2x1xf32>, tensor<4x8x!fpq.float<e2m1>>, tensor<4x1xf32>) -> tensor<2x4xf32>
  %w2 = fpq.constant dense<1.0> : tensor<4x4xf32>
  %h = fpq.linear %y, %w2 : (tensor<2x4xf32>, tensor<4x4xf32>) -> tensor<2x4xf32>
  %g = fpq.gelu %h : tensor<2x4xf32>
  %g2 = fpq.gelu %y : tensor<2x4xf32>
  func.return %g, %g2 : tensor<2x4xf32>, tensor<2x4xf32>
}
"""


def _kernels(module):
    return [op for op in module.ops if isinstance(op, hls.KernelOp)]


def test_regions_split_around_host_ops():
    module = lower(parse(MIXED))
    kernels = _kernels(module)
    assert [k.sym_name.data for k in kernels] == ["kernel_0", "kernel_1"]
    # quantize, qlinear and the gelu of y share a kernel; the gelu after the host linear cannot.
    assert [op.name for op in kernels[0].body.block.ops] == [
        "fpq.quantize", "fpq.qlinear", "fpq.gelu", "hls.plan", "hls.return"
    ]
    assert [op.name for op in kernels[1].body.block.ops] == ["fpq.gelu", "hls.plan", "hls.return"]
    main = next(op for op in module.ops if isinstance(op, func.FuncOp))
    names = [op.name for op in main.body.block.ops]
    assert names.count("hls.call") == 2 and "fpq.linear" in names
    assert names.index("fpq.linear") < len(names) - 2  # the host op runs between the launches
    assert kernels[0].lanes.value.data == 16 and kernels[0].target.data == "vck190"


def test_constants_become_kernel_arguments():
    kernel = _kernels(lower(parse(MIXED)))[0]
    assert len(kernel.args) == 3  # x, weight codes, weight scales
    assert not any(isinstance(op, fpq.ConstantOp) for op in kernel.body.block.ops)


def test_outlining_never_creates_a_cycle():
    # q -> linear(host) -> gelu, and q -> gelu directly: gelu must not join q's kernel.
    text = """
func.func @main(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %c, %s = fpq.quantize %x {quant = #fpq.quant<e2m1, token>} : tensor<2x8xf32> -> (tensor<2x8x!fpq.float<e2m1>>, tensor<2x1xf32>)
  %d = fpq.dequantize %c, %s {quant = #fpq.quant<e2m1, token>} : (tensor<2x8x!fpq.float<e2m1>>, tensor<2x1xf32>) -> tensor<2x8xf32>
  %w = fpq.constant dense<1.0> : tensor<8x8xf32>
  %h = fpq.linear %d, %w : (tensor<2x8xf32>, tensor<8x8xf32>) -> tensor<2x8xf32>
  %e = fpq.dequantize %c, %s {quant = #fpq.quant<e2m1, token>} : (tensor<2x8x!fpq.float<e2m1>>, tensor<2x1xf32>) -> tensor<2x8xf32>
  %g = fpq.gelu %h : tensor<2x8xf32>
  func.return %g : tensor<2x8xf32>
}
"""
    module = parse(text)
    main = next(op for op in module.ops if isinstance(op, func.FuncOp))
    ops = [op for op in main.body.block.ops][:-1]
    regions = accelerator_regions(ops)
    assert [[ops[i].name for i in r] for r in regions] == [
        ["fpq.quantize", "fpq.dequantize", "fpq.dequantize"], ["fpq.gelu"]
    ]
    lower(module)
    main = next(op for op in module.ops if isinstance(op, func.FuncOp))
    assert nx.is_directed_acyclic_graph(dataflow_graph(list(main.body.block.ops)))


def test_deterministic_and_idempotent():
    first = print_module(lower(parse(MIXED)))
    assert first == print_module(lower(parse(MIXED)))
    assert print_module(lower(parse(first))) == first
