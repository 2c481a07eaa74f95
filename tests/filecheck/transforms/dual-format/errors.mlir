// RUN: not fpqc-opt %s -p dual-format 2>&1 | filecheck %s
// RUN: not fpqc-opt %s -p 'dual-format{format=e9m9}' 2>&1 | filecheck %s --check-prefix=FORMAT
// RUN: not fpqc-opt %s -p 'dual-format{mode=sometimes}' 2>&1 | filecheck %s --check-prefix=MODE

// The fc2 input quantized per tensor (quantize{act-granularity=tensor weight-granularity=tensor}).
func.func @per_tensor(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %g = fpq.gelu %x : tensor<2x8xf32>
  %wc = fpq.constant dense<7> : tensor<8x8xui8> -> tensor<8x8x!fpq.float<e2m1>>
  %ws = fpq.constant dense<0.0833333358> : tensor<1x1xf32>
  %gc, %gs = fpq.quantize %g {quant = #fpq.quant<e2m1, tensor>} : tensor<2x8xf32> -> (tensor<2x8x!fpq.float<e2m1>>, tensor<1x1xf32>)
  %y = fpq.qlinear %gc, %gs, %wc, %ws {fpq.role = "fc2", x_quant = #fpq.quant<e2m1, tensor>, w_quant = #fpq.quant<e2m1, tensor>} : (tensor<2x8x!fpq.float<e2m1>>, tensor<1x1xf32>, tensor<8x8x!fpq.float<e2m1>>, tensor<1x1xf32>) -> tensor<2x8xf32>
  func.return %y : tensor<2x8xf32>
}
// CHECK: dual-format needs the fc2 input quantized per token or per group, not per tensor; quantize with act-granularity=token or group
// FORMAT: error:
// FORMAT-SAME: e9m9
// MODE: unknown dual-format mode 'sometimes' (use auto, force, forbid)
