// RUN: fpqc-opt %s -p 'quantize{layers=fc1,fc2 group-size=8}' | filecheck %s

// Only the linear layers whose fpq.role is listed are quantized; the rest
// (here an AdaLN linear, kept in higher precision as in FPQVAR) stay float.

func.func @roles(%x: tensor<2x8xf32>) -> (tensor<2x8xf32>, tensor<2x8xf32>) {
  %w = fpq.constant dense<0.5> : tensor<8x8xf32>
  %a = fpq.linear %x, %w {fpq.role = "ada_lin"} : (tensor<2x8xf32>, tensor<8x8xf32>) -> tensor<2x8xf32>
  %f = fpq.linear %x, %w {fpq.role = "fc1"} : (tensor<2x8xf32>, tensor<8x8xf32>) -> tensor<2x8xf32>
  func.return %a, %f : tensor<2x8xf32>, tensor<2x8xf32>
}
// CHECK-LABEL: func.func @roles
// CHECK:       fpq.linear %{{.*}}, %{{.*}} {fpq.role = "ada_lin"}
// CHECK:       fpq.quantize
// CHECK:       fpq.qlinear
// CHECK-NOT:   fpq.linear
