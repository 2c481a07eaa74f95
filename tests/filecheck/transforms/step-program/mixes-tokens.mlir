// RUN: not fpqc-opt %s -p step-program 2>&1 | filecheck %s

// A per-tensor activation scale depends on every token of every scale: no
// per-scale step computes it, so the pass stops naming the op.

func.func @main(%label: tensor<1xi64> {onnx.name = "label_B"}, %x: tensor<1x4x8xf32> {onnx.name = "x"}) -> (tensor<1x1x1xf32>) {
  %c, %s = fpq.quantize %x {quant = #fpq.quant<e2m1, tensor>} : tensor<1x4x8xf32> -> (tensor<1x4x8x!fpq.float<e2m1>>, tensor<1x1x1xf32>)
  %qkv = fpq.constant dense<0.5> : tensor<1x5x36xf32>
  %sc = fpq.constant dense<4.0> : tensor<2xf32>
  %o = fpq.attention %qkv, %sc {num_heads = 2 : i64, eps = 1.0e-12 : f32, block_causal = array<i64: 0, 1, 5>} : (tensor<1x5x36xf32>, tensor<2xf32>) -> tensor<1x5x12xf32>
  func.return %s : tensor<1x1x1xf32>
}
// CHECK: step-program: fpq.quantize mixes the tokens of different scales
