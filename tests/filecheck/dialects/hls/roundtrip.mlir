// RUN: fpqc-opt %s | fpqc-opt | filecheck %s

hls.kernel @kernel_0(%x: tensor<2x4xf32>) -> tensor<2x4xf32> attributes {target = "vck190", lanes = 8 : i64} {
  %g = fpq.gelu %x : tensor<2x4xf32>
  hls.return %g : tensor<2x4xf32>
}
func.func @main(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %y = hls.call @kernel_0(%x) : (tensor<2x4xf32>) -> tensor<2x4xf32>
  func.return %y : tensor<2x4xf32>
}

// CHECK:       hls.kernel @kernel_0(%[[X:.*]]: tensor<2x4xf32>) -> tensor<2x4xf32> attributes {target = "vck190", lanes = 8 : i64} {
// CHECK-NEXT:    %[[G:.*]] = fpq.gelu %[[X]] : tensor<2x4xf32>
// CHECK-NEXT:    hls.return %[[G]] : tensor<2x4xf32>
// CHECK-NEXT:  }
// CHECK:       func.func @main(%[[A:.*]]: tensor<2x4xf32>) -> tensor<2x4xf32> {
// CHECK-NEXT:    %[[Y:.*]] = hls.call @kernel_0(%[[A]]) : (tensor<2x4xf32>) -> tensor<2x4xf32>
