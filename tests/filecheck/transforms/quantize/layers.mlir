// RUN: fpqc-opt %s -p quantize{group-size=8} | filecheck %s
// RUN: fpqc-opt %s -p 'quantize{keep-float=none group-size=8}' | filecheck %s --check-prefix=ALL

// Linear layers whose fpq.role FPQVAR keeps in higher precision (here an
// AdaLN linear) stay float by default; keep-float=none quantizes them too.

func.func @roles(%x: tensor<2x8xf32>) -> (tensor<2x8xf32>, tensor<2x8xf32>) {
  %w = fpq.constant dense<0.5> : tensor<8x8xf32>
  %a = fpq.linear %x, %w {fpq.role = "ada_lin"} : (tensor<2x8xf32>, tensor<8x8xf32>) -> tensor<2x8xf32>
  %f = fpq.linear %x, %w {fpq.role = "fc1"} : (tensor<2x8xf32>, tensor<8x8xf32>) -> tensor<2x8xf32>
  func.return %a, %f : tensor<2x8xf32>, tensor<2x8xf32>
}
// CHECK-LABEL: func.func @roles
// CHECK:       fpq.linear %{{.*}}, %{{.*}} {fpq.role = "ada_lin"}
// CHECK:       fpq.quantize
// CHECK:       fpq.qlinear {{.*}} {{{.*}}fpq.role = "fc1"
// CHECK-NOT:   fpq.linear

// ALL-LABEL:   func.func @roles
// ALL-NOT:     fpq.linear
// ALL:         fpq.qlinear {{.*}}fpq.role = "ada_lin"
// ALL:         fpq.qlinear {{.*}}fpq.role = "fc1"
