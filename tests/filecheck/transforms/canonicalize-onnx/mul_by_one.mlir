// RUN: fpqc-opt %s -p canonicalize-onnx | filecheck %s

// x · 1 is x, with the one on either side.
func.func @mul_by_one(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %one = onnx.Constant dense<1.0> : tensor<f32>
  %a = onnx.Mul %x, %one : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
  %b = onnx.Mul %one, %a : (tensor<f32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return %b : tensor<2x3xf32>
}
// CHECK-LABEL: func.func @mul_by_one
// CHECK-NEXT:  func.return %x : tensor<2x3xf32>

// A product by ones that broadcasts x to a larger shape is not x.
func.func @broadcasting_one(%x: tensor<3xf32>) -> tensor<2x3xf32> {
  %ones = onnx.Constant dense<1.0> : tensor<2x3xf32>
  %y = onnx.Mul %x, %ones : (tensor<3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return %y : tensor<2x3xf32>
}
// CHECK-LABEL: func.func @broadcasting_one
// CHECK:       onnx.Mul %x

// A product by another constant stays.
func.func @mul_by_two(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %two = onnx.Constant dense<2.0> : tensor<f32>
  %y = onnx.Mul %x, %two : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
  func.return %y : tensor<2x3xf32>
}
// CHECK-LABEL: func.func @mul_by_two
// CHECK:       onnx.Mul %x
