// RUN: fpqc-opt %s -p canonicalize-onnx | filecheck %s

// An Expand whose result has the operand's shape broadcasts nothing: it is
// the operand, whether the shape is spelled out or only has ones.
func.func @same_shape(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %s = onnx.Constant dense<[2, 3]> : tensor<2xi64>
  %ones = onnx.Constant dense<[1, 1]> : tensor<2xi64>
  %a = onnx.Expand %x, %s : (tensor<2x3xf32>, tensor<2xi64>) -> tensor<2x3xf32>
  %b = onnx.Expand %a, %ones : (tensor<2x3xf32>, tensor<2xi64>) -> tensor<2x3xf32>
  func.return %b : tensor<2x3xf32>
}
// CHECK-LABEL: func.func @same_shape
// CHECK-NEXT:  func.return %x : tensor<2x3xf32>

// An Expand that broadcasts stays.
func.func @broadcast(%x: tensor<3x1xf32>) -> tensor<3x4xf32> {
  %s = onnx.Constant dense<[3, 4]> : tensor<2xi64>
  %e = onnx.Expand %x, %s : (tensor<3x1xf32>, tensor<2xi64>) -> tensor<3x4xf32>
  func.return %e : tensor<3x4xf32>
}
// CHECK-LABEL: func.func @broadcast
// CHECK:       %[[E:.*]] = onnx.Expand %x, %s : (tensor<3x1xf32>, tensor<2xi64>) -> tensor<3x4xf32>
// CHECK-NEXT:  func.return %[[E]]
