// RUN: fpqc-opt %s -p outline-kernels | filecheck %s

// quantize -> qlinear -> gelu becomes one kernel; the float linear stays on the
// host, and the gelu after it gets a kernel of its own.

func.func @main(%x: tensor<2x8xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>) {
  %wc = fpq.constant dense<1> : tensor<4x8xui8> -> tensor<4x8x!fpq.float<e2m1>>
  %ws = fpq.constant dense<1.0> : tensor<4x1xf32>
  %c, %s = fpq.quantize %x {quant = #fpq.quant<e2m1, token>} : tensor<2x8xf32> -> (tensor<2x8x!fpq.float<e2m1>>, tensor<2x1xf32>)
  %y = fpq.qlinear %c, %s, %wc, %ws {x_quant = #fpq.quant<e2m1, token>, w_quant = #fpq.quant<e2m1, channel>} : (tensor<2x8x!fpq.float<e2m1>>, tensor<2x1xf32>, tensor<4x8x!fpq.float<e2m1>>, tensor<4x1xf32>) -> tensor<2x4xf32>
  %w2 = fpq.constant dense<1.0> : tensor<4x4xf32>
  %h = fpq.linear %y, %w2 : (tensor<2x4xf32>, tensor<4x4xf32>) -> tensor<2x4xf32>
  %g = fpq.gelu %y : tensor<2x4xf32>
  %g2 = fpq.gelu %h : tensor<2x4xf32>
  func.return %g, %g2 : tensor<2x4xf32>, tensor<2x4xf32>
}

// CHECK:       hls.kernel @kernel_0(%[[X:.*]]: tensor<2x8xf32>, %[[WC:.*]]: tensor<4x8x!fpq.float<e2m1>>, %[[WS:.*]]: tensor<4x1xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>) attributes {target = "vck190", lanes = 16 : i64} {
// CHECK-NEXT:    %[[C:.*]], %[[S:.*]] = fpq.quantize %[[X]]
// CHECK-NEXT:    %[[Y:.*]] = fpq.qlinear %[[C]], %[[S]], %[[WC]], %[[WS]]
// CHECK-NEXT:    %[[G:.*]] = fpq.gelu %[[Y]]
// CHECK-NEXT:    hls.return %[[Y]], %[[G]] : tensor<2x4xf32>, tensor<2x4xf32>
// CHECK-NEXT:  }
// CHECK:       hls.kernel @kernel_1(%[[H:.*]]: tensor<2x4xf32>) -> tensor<2x4xf32>
// CHECK-NEXT:    fpq.gelu %[[H]]
// CHECK:       func.func @main
// CHECK:         %[[MWC:.*]] = fpq.constant
// CHECK:         %[[MWS:.*]] = fpq.constant
// CHECK:         %[[MY:.*]], %[[MG:.*]] = hls.call @kernel_0(%{{.*}}, %[[MWC]], %[[MWS]]) : (tensor<2x8xf32>, tensor<4x8x!fpq.float<e2m1>>, tensor<4x1xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>)
// CHECK:         %[[MH:.*]] = fpq.linear %[[MY]]
// CHECK:         %[[MG2:.*]] = hls.call @kernel_1(%[[MH]])
// CHECK:         func.return %[[MG]], %[[MG2]]
// CHECK-NOT:   fpq.quantize
