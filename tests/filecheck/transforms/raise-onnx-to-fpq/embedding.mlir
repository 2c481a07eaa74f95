// RUN: fpqc-opt %s -p raise-onnx-to-fpq | filecheck %s

// Gather on axis 0 of a constant [N, C] table is an embedding lookup.

func.func @class_emb(%label: tensor<2xi64>) -> tensor<2x4xf32> {
  %t = onnx.Constant dense<[[0.0, 1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0], [8.0, 9.0, 10.0, 11.0]]> : tensor<3x4xf32>
  %e = onnx.Gather %t, %label : (tensor<3x4xf32>, tensor<2xi64>) -> tensor<2x4xf32>
  func.return %e : tensor<2x4xf32>
}
// CHECK-LABEL: func.func @class_emb
// CHECK-NEXT:  %[[T:.*]] = fpq.constant dense<{{.*}}> : tensor<3x4xf32>
// CHECK-NEXT:  %[[E:.*]] = fpq.embedding %[[T]][%label] : (tensor<3x4xf32>, tensor<2xi64>) -> tensor<2x4xf32>
// CHECK-NEXT:  func.return %[[E]]

// Gathering columns (axis 1) is not a row lookup.
func.func @axis_1(%i: tensor<2xi64>) -> tensor<3x2xf32> {
  %t = onnx.Constant dense<1.0> : tensor<3x4xf32>
  %e = onnx.Gather %t, %i {axis = 1 : i64} : (tensor<3x4xf32>, tensor<2xi64>) -> tensor<3x2xf32>
  func.return %e : tensor<3x2xf32>
}
// CHECK-LABEL: func.func @axis_1
// CHECK-NOT:   fpq.embedding
// CHECK:       onnx.Gather

// A table that is not a constant stays a Gather.
func.func @table_not_constant(%t: tensor<3x4xf32>, %i: tensor<2xi64>) -> tensor<2x4xf32> {
  %e = onnx.Gather %t, %i : (tensor<3x4xf32>, tensor<2xi64>) -> tensor<2x4xf32>
  func.return %e : tensor<2x4xf32>
}
// CHECK-LABEL: func.func @table_not_constant
// CHECK-NOT:   fpq.embedding
// CHECK:       onnx.Gather
