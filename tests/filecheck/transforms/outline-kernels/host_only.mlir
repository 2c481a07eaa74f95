// RUN: fpqc-opt %s -p 'outline-kernels{target=vck190}' | filecheck %s

// A function without accelerator ops is left alone.

func.func @main(%x: tensor<2x4xf32>, %w: tensor<4x4xf32>) -> tensor<2x4xf32> {
  %y = fpq.linear %x, %w : (tensor<2x4xf32>, tensor<4x4xf32>) -> tensor<2x4xf32>
  func.return %y : tensor<2x4xf32>
}

// CHECK-NOT:   hls.kernel
// CHECK:       fpq.linear
// CHECK-NOT:   hls.call
