// RUN: not fpqc-opt %s -p 'quantize{act-granularity=tensor weight-granularity=tensor},dual-format' 2>&1 | filecheck %s
// RUN: not fpqc-opt %s -p 'dual-format{format=e9m9}' 2>&1 | filecheck %s --check-prefix=FORMAT
// RUN: not fpqc-opt %s -p 'dual-format{mode=sometimes}' 2>&1 | filecheck %s --check-prefix=MODE

func.func @per_tensor(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %w = fpq.constant dense<0.5> : tensor<8x8xf32>
  %g = fpq.gelu %x : tensor<2x8xf32>
  %y = fpq.linear %g, %w {fpq.role = "fc2"} : (tensor<2x8xf32>, tensor<8x8xf32>) -> tensor<2x8xf32>
  func.return %y : tensor<2x8xf32>
}
// CHECK: dual-format needs the fc2 input quantized per token or per group, not per tensor; quantize with act-granularity=token or group
// FORMAT: error:
// FORMAT-SAME: e9m9
// MODE: unknown dual-format mode 'sometimes' (use auto, force, forbid)
