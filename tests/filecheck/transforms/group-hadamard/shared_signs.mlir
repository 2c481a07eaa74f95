// RUN: fpqc-opt %s -p 'group-hadamard{block=8 seed=3}' | filecheck %s
// RUN: fpqc-opt %s -p 'group-hadamard{block=8 seed=3 shared-signs=true}' | filecheck %s --check-prefix=SHARED

// Two transformed inputs (function arguments: the signs stay an operand).  By
// default the n-th input draws the signs of seed + n, so the two differ;
// shared-signs=true gives both the signs of seed 3, as the FPQVAR authors'
// code reuses one transform for every layer.

func.func @two(%x: tensor<2x8xf32>, %z: tensor<2x8xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>) {
  %w = fpq.constant dense<0.25> : tensor<4x8xf32>
  %a = fpq.linear %x, %w {fpq.role = "mat_qkv"} : (tensor<2x8xf32>, tensor<4x8xf32>) -> tensor<2x4xf32>
  %b = fpq.linear %z, %w {fpq.role = "fc1"} : (tensor<2x8xf32>, tensor<4x8xf32>) -> tensor<2x4xf32>
  func.return %a, %b : tensor<2x4xf32>, tensor<2x4xf32>
}
// CHECK-LABEL: func.func @two
// CHECK:       %[[SZ:.*]] = fpq.constant dense<[[SIGNS:.*]]> : tensor<8xf32>
// CHECK-NEXT:  fpq.hadamard %z, %[[SZ]]
// CHECK-NOT:   dense<[[SIGNS]]> : tensor<8xf32>
// CHECK:       fpq.hadamard %x

// SHARED-LABEL: func.func @two
// SHARED:       %[[SZ:.*]] = fpq.constant dense<[[SIGNS:.*]]> : tensor<8xf32>
// SHARED-NEXT:  fpq.hadamard %z, %[[SZ]]
// SHARED-NEXT:  %[[SX:.*]] = fpq.constant dense<[[SIGNS]]> : tensor<8xf32>
// SHARED-NEXT:  fpq.hadamard %x, %[[SX]]
