// RUN: fpqc-opt %s -p 'quantize{weight-format=e2m1 act-format=e2m1 group-size=8}' | filecheck %s
// RUN: fpqc-opt %s -p 'quantize{weight-format=e2m3 act-format=e2m3 weight-granularity=channel act-granularity=token}' | filecheck %s --check-prefix=TOKEN
// RUN: fpqc-opt %s -p 'quantize{weight-format=int4 act-format=int4 weight-granularity=tensor act-granularity=tensor}' | filecheck %s --check-prefix=INT

// A float linear layer with a constant weight becomes a dynamic activation
// quantizer feeding fpq.qlinear; the weight is quantized at compile time.

func.func @linear(%x: tensor<2x8xf32>) -> tensor<2x2xf32> {
  %w = fpq.constant dense<[[0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0], [-12.0, -8.0, -6.0, -4.0, -3.0, -2.0, -1.0, 0.0]]> : tensor<2x8xf32>
  %b = fpq.constant dense<[0.25, -0.25]> : tensor<2xf32>
  %y = fpq.linear %x, %w, %b : (tensor<2x8xf32>, tensor<2x8xf32>, tensor<2xf32>) -> tensor<2x2xf32>
  func.return %y : tensor<2x2xf32>
}

// The first row has absmax 6 (scale 1), the second absmax 12 (scale 2): the
// E2M1 codes are the grid positions, with the sign in bit 3.
// CHECK-LABEL: func.func @linear
// CHECK-DAG:   %[[WC:.*]] = fpq.constant dense<{{\[\[}}0, 1, 2, 3, 4, 5, 6, 7], [15, 14, 13, 12, 11, 10, 9, 0]]> : tensor<2x8xui8> -> tensor<2x8x!fpq.float<e2m1>>
// CHECK-DAG:   %[[WS:.*]] = fpq.constant dense<{{\[\[}}1.000000e+00], [2.000000e+00]]> : tensor<2x1xf32>
// CHECK-DAG:   %[[B:.*]] = fpq.constant dense<[2.500000e-01, -2.500000e-01]> : tensor<2xf32>
// CHECK:       %[[XC:.*]], %[[XS:.*]] = fpq.quantize %{{.*}} {quant = #fpq.quant<e2m1, group 8>} : tensor<2x8xf32> -> (tensor<2x8x!fpq.float<e2m1>>, tensor<2x1xf32>)
// CHECK:       %[[Y:.*]] = fpq.qlinear %[[XC]], %[[XS]], %[[WC]], %[[WS]], %[[B]] {x_quant = #fpq.quant<e2m1, group 8>, w_quant = #fpq.quant<e2m1, group 8>}
// CHECK:       func.return %[[Y]]
// CHECK-NOT:   fpq.linear

// TOKEN:       fpq.constant dense<{{.*}}> : tensor<2x8xui8> -> tensor<2x8x!fpq.float<e2m3>>
// TOKEN:       fpq.quantize %{{.*}} {quant = #fpq.quant<e2m3, token>} : tensor<2x8xf32> -> (tensor<2x8x!fpq.float<e2m3>>, tensor<2x1xf32>)
// TOKEN:       fpq.qlinear {{.*}}x_quant = #fpq.quant<e2m3, token>, w_quant = #fpq.quant<e2m3, channel>

// One scale for the whole weight: absmax 12 / 7.
// INT:         fpq.constant dense<{{.*}}> : tensor<2x8xui8> -> tensor<2x8x!fpq.int<4>>
// INT:         fpq.constant dense<1.71428573> : tensor<1x1xf32>
// INT:         fpq.quantize %{{.*}} {quant = #fpq.quant<int4, tensor>} : tensor<2x8xf32> -> (tensor<2x8x!fpq.int<4>>, tensor<1x1xf32>)

func.func @non_constant_weight_stays_float(%x: tensor<2x8xf32>, %w: tensor<2x8xf32>) -> tensor<2x2xf32> {
  %y = fpq.linear %x, %w : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x2xf32>
  func.return %y : tensor<2x2xf32>
}
// CHECK-LABEL: func.func @non_constant_weight_stays_float
// CHECK:       fpq.linear
