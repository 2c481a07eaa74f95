// RUN: fpqc-opt %s -p raise-onnx-to-fpq | filecheck %s

// MatMul with a constant [K, O] weight (+ Add of a constant [O] bias, either
// operand order) and Gemm become fpq.linear with the weight laid out [O, K].

func.func @matmul_add(%x: tensor<2x3xf32>) -> tensor<2x2xf32> {
  %w = onnx.Constant dense<[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]> : tensor<3x2xf32>
  %b = onnx.Constant dense<[0.5, -0.5]> : tensor<2xf32>
  %0 = onnx.MatMul %x, %w : (tensor<2x3xf32>, tensor<3x2xf32>) -> tensor<2x2xf32>
  %1 = onnx.Add %b, %0 : (tensor<2xf32>, tensor<2x2xf32>) -> tensor<2x2xf32>
  func.return %1 : tensor<2x2xf32>
}
// CHECK-LABEL: func.func @matmul_add
// CHECK-DAG:   %[[W:.*]] = fpq.constant dense<{{\[\[}}1.000000e+00, 3.000000e+00, 5.000000e+00], [2.000000e+00, 4.000000e+00, 6.000000e+00]]> : tensor<2x3xf32>
// CHECK-DAG:   %[[B:.*]] = fpq.constant dense<[5.000000e-01, -5.000000e-01]> : tensor<2xf32>
// CHECK:       %[[Y:.*]] = fpq.linear %{{.*}}, %[[W]], %[[B]] : (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2xf32>) -> tensor<2x2xf32>
// CHECK-NEXT:  func.return %[[Y]]

func.func @matmul_3d_no_bias(%x: tensor<2x4x3xf32>) -> tensor<2x4x2xf32> {
  %w = onnx.Constant dense<1.0> : tensor<3x2xf32>
  %0 = onnx.MatMul %x, %w : (tensor<2x4x3xf32>, tensor<3x2xf32>) -> tensor<2x4x2xf32>
  func.return %0 : tensor<2x4x2xf32>
}
// CHECK-LABEL: func.func @matmul_3d_no_bias
// CHECK:       fpq.linear %{{.*}}, %{{.*}} : (tensor<2x4x3xf32>, tensor<2x3xf32>) -> tensor<2x4x2xf32>

func.func @gemm_trans_b(%x: tensor<2x3xf32>) -> tensor<2x2xf32> {
  %w = onnx.Constant dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]> : tensor<2x3xf32>
  %b = onnx.Constant dense<[1.0, 2.0]> : tensor<2xf32>
  %0 = onnx.Gemm %x, %w, %b {transB = 1 : i64} : (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2xf32>) -> tensor<2x2xf32>
  func.return %0 : tensor<2x2xf32>
}
// CHECK-LABEL: func.func @gemm_trans_b
// CHECK:       %[[W:.*]] = fpq.constant dense<{{\[\[}}1.000000e+00, 2.000000e+00, 3.000000e+00], [4.000000e+00, 5.000000e+00, 6.000000e+00]]> : tensor<2x3xf32>
// CHECK:       fpq.linear %{{.*}}, %[[W]], %{{.*}} : (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2xf32>) -> tensor<2x2xf32>

// Non-matching shapes and forms stay in the onnx dialect.

func.func @weight_not_constant(%x: tensor<2x3xf32>, %w: tensor<3x2xf32>) -> tensor<2x2xf32> {
  %0 = onnx.MatMul %x, %w : (tensor<2x3xf32>, tensor<3x2xf32>) -> tensor<2x2xf32>
  func.return %0 : tensor<2x2xf32>
}
// CHECK-LABEL: func.func @weight_not_constant
// CHECK:       onnx.MatMul
// CHECK-NOT:   fpq.linear

func.func @add_is_not_a_bias(%x: tensor<2x3xf32>, %r: tensor<2x2xf32>) -> tensor<2x2xf32> {
  %w = onnx.Constant dense<1.0> : tensor<3x2xf32>
  %0 = onnx.MatMul %x, %w : (tensor<2x3xf32>, tensor<3x2xf32>) -> tensor<2x2xf32>
  %1 = onnx.Add %0, %r : (tensor<2x2xf32>, tensor<2x2xf32>) -> tensor<2x2xf32>
  func.return %1 : tensor<2x2xf32>
}
// CHECK-LABEL: func.func @add_is_not_a_bias
// CHECK:       %[[Y:.*]] = fpq.linear %{{.*}}, %{{.*}} : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x2xf32>
// CHECK:       onnx.Add %[[Y]], %{{.*}}

func.func @gemm_with_alpha(%x: tensor<2x3xf32>) -> tensor<2x2xf32> {
  %w = onnx.Constant dense<1.0> : tensor<2x3xf32>
  %0 = onnx.Gemm %x, %w {transB = 1 : i64, alpha = 2.0 : f32} : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x2xf32>
  func.return %0 : tensor<2x2xf32>
}
// CHECK-LABEL: func.func @gemm_with_alpha
// CHECK:       onnx.Gemm
// CHECK-NOT:   fpq.linear
