// RUN: fpqc-opt %s | fpqc-opt | filecheck %s
// RUN: fpqc-opt %s --print-op-generic | fpqc-opt | filecheck %s

// Every fpq op prints in its custom form and parses back.

func.func @float_level(%x: tensor<2x4x8xf32>) -> tensor<2x4x3xf32> {
  %w = fpq.constant dense<0.5> : tensor<3x8xf32>
  %b = fpq.constant dense<[1.0, 2.0, 3.0]> : tensor<3xf32>
  %y = fpq.linear %x, %w, %b : (tensor<2x4x8xf32>, tensor<3x8xf32>, tensor<3xf32>) -> tensor<2x4x3xf32>
  %z = fpq.linear %x, %w : (tensor<2x4x8xf32>, tensor<3x8xf32>) -> tensor<2x4x3xf32>
  %g = fpq.gelu %y : tensor<2x4x3xf32>
  func.return %g : tensor<2x4x3xf32>
}

// CHECK-LABEL: func.func @float_level
// CHECK:       %[[W:.*]] = fpq.constant dense<5.000000e-01> : tensor<3x8xf32>
// CHECK:       %[[B:.*]] = fpq.constant dense<[1.000000e+00, 2.000000e+00, 3.000000e+00]> : tensor<3xf32>
// CHECK:       %[[Y:.*]] = fpq.linear %{{.*}}, %[[W]], %[[B]] : (tensor<2x4x8xf32>, tensor<3x8xf32>, tensor<3xf32>) -> tensor<2x4x3xf32>
// CHECK:       fpq.linear %{{.*}}, %[[W]] : (tensor<2x4x8xf32>, tensor<3x8xf32>) -> tensor<2x4x3xf32>
// CHECK:       fpq.gelu %[[Y]] : tensor<2x4x3xf32>

func.func @quantized(%x: tensor<4x64xf32>, %wc: tensor<3x64x!fpq.float<e2m1>>, %ws: tensor<3x2xf32>) -> tensor<4x3xf32> {
  %c, %s = fpq.quantize %x {quant = #fpq.quant<e2m1, group 32>} : tensor<4x64xf32> -> (tensor<4x64x!fpq.float<e2m1>>, tensor<4x2xf32>)
  %d = fpq.dequantize %c, %s {quant = #fpq.quant<e2m1, group 32>} : (tensor<4x64x!fpq.float<e2m1>>, tensor<4x2xf32>) -> tensor<4x64xf32>
  %b = fpq.constant dense<0.0> : tensor<3xf32>
  %y = fpq.qlinear %c, %s, %wc, %ws, %b {x_quant = #fpq.quant<e2m1, group 32>, w_quant = #fpq.quant<e2m1, group 32>} : (tensor<4x64x!fpq.float<e2m1>>, tensor<4x2xf32>, tensor<3x64x!fpq.float<e2m1>>, tensor<3x2xf32>, tensor<3xf32>) -> tensor<4x3xf32>
  %t, %ts = fpq.quantize %x {quant = #fpq.quant<e2m3, token>} : tensor<4x64xf32> -> (tensor<4x64x!fpq.float<e2m3>>, tensor<4x1xf32>)
  %codes = fpq.constant dense<[[1, 2], [3, 4]]> : tensor<2x2xui8> -> tensor<2x2x!fpq.float<e2m1>>
  func.return %y : tensor<4x3xf32>
}

// CHECK-LABEL: func.func @quantized
// CHECK:       %{{.*}}, %{{.*}} = fpq.quantize %{{.*}} {quant = #fpq.quant<e2m1, group 32>} : tensor<4x64xf32> -> (tensor<4x64x!fpq.float<e2m1>>, tensor<4x2xf32>)
// CHECK:       fpq.dequantize %{{.*}}, %{{.*}} {quant = #fpq.quant<e2m1, group 32>} : (tensor<4x64x!fpq.float<e2m1>>, tensor<4x2xf32>) -> tensor<4x64xf32>
// CHECK:       fpq.qlinear %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {x_quant = #fpq.quant<e2m1, group 32>, w_quant = #fpq.quant<e2m1, group 32>}
// CHECK-SAME:  -> tensor<4x3xf32>
// CHECK:       fpq.quantize %{{.*}} {quant = #fpq.quant<e2m3, token>} : tensor<4x64xf32> -> (tensor<4x64x!fpq.float<e2m3>>, tensor<4x1xf32>)
// CHECK:       fpq.constant dense<{{\[\[}}1, 2], [3, 4]]> : tensor<2x2xui8> -> tensor<2x2x!fpq.float<e2m1>>

func.func @step(%qkv: tensor<2x4x36xf32>, %s: tensor<2xf32>, %k: tensor<2x5x12xf32>, %v: tensor<2x5x12xf32>, %offset: i64) -> tensor<2x4x12xf32> {
  %o, %k1, %v1 = fpq.cached_attention %qkv, %s, cache(%k, %v), %offset {num_heads = 2 : i64, eps = 1.0e-12 : f32} : (tensor<2x4x36xf32>, tensor<2xf32>, tensor<2x5x12xf32>, tensor<2x5x12xf32>, i64) -> (tensor<2x4x12xf32>, tensor<2x5x12xf32>, tensor<2x5x12xf32>)
  func.return %o : tensor<2x4x12xf32>
}

func.func @step_kv6(%qkv: tensor<2x4x36xf32>, %s: tensor<2xf32>, %kc: tensor<2x5x12x!fpq.float<e2m3>>, %ks: tensor<2x5x2xf32>, %vc: tensor<2x5x12x!fpq.float<e2m3>>, %vs: tensor<2x5x2xf32>, %offset: i64) -> tensor<2x4x12xf32> {
  %o, %kc1, %ks1, %vc1, %vs1 = fpq.cached_attention %qkv, %s, cache(%kc, %ks, %vc, %vs), %offset {num_heads = 2 : i64, eps = 1.0e-12 : f32, kv_quant = #fpq.quant<e2m3, token>} : (tensor<2x4x36xf32>, tensor<2xf32>, tensor<2x5x12x!fpq.float<e2m3>>, tensor<2x5x2xf32>, tensor<2x5x12x!fpq.float<e2m3>>, tensor<2x5x2xf32>, i64) -> (tensor<2x4x12xf32>, tensor<2x5x12x!fpq.float<e2m3>>, tensor<2x5x2xf32>, tensor<2x5x12x!fpq.float<e2m3>>, tensor<2x5x2xf32>)
  func.return %o : tensor<2x4x12xf32>
}

// CHECK-LABEL: func.func @step
// CHECK:       %{{.*}}, %{{.*}}, %{{.*}} = fpq.cached_attention %{{.*}}, %{{.*}}, cache(%{{.*}}, %{{.*}}), %{{.*}} {num_heads = 2 : i64, eps = 1.000000e-12 : f32} : (tensor<2x4x36xf32>, tensor<2xf32>, tensor<2x5x12xf32>, tensor<2x5x12xf32>, i64) -> (tensor<2x4x12xf32>, tensor<2x5x12xf32>, tensor<2x5x12xf32>)
// CHECK-LABEL: func.func @step_kv6
// CHECK:       %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} = fpq.cached_attention %{{.*}}, %{{.*}}, cache(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}), %{{.*}} {num_heads = 2 : i64, eps = 1.000000e-12 : f32, kv_quant = #fpq.quant<e2m3, token>} : (tensor<2x4x36xf32>, tensor<2xf32>, tensor<2x5x12x!fpq.float<e2m3>>, tensor<2x5x2xf32>, tensor<2x5x12x!fpq.float<e2m3>>, tensor<2x5x2xf32>, i64) -> (tensor<2x4x12xf32>, tensor<2x5x12x!fpq.float<e2m3>>, tensor<2x5x2xf32>, tensor<2x5x12x!fpq.float<e2m3>>, tensor<2x5x2xf32>)
