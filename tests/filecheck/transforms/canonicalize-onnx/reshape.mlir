// RUN: fpqc-opt %s -p canonicalize-onnx | filecheck %s

// A Reshape to the operand's own shape is the operand; its shape constant
// goes with it.
func.func @same_shape(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %s = onnx.Constant dense<[2, 3]> : tensor<2xi64>
  %r = onnx.Reshape %x, %s : (tensor<2x3xf32>, tensor<2xi64>) -> tensor<2x3xf32>
  func.return %r : tensor<2x3xf32>
}
// CHECK-LABEL: func.func @same_shape
// CHECK-NEXT:  func.return %x : tensor<2x3xf32>

// A Reshape of a Reshape is one Reshape of the first operand.
func.func @chain(%x: tensor<2x3x4xf32>) -> tensor<4x6xf32> {
  %s1 = onnx.Constant dense<[6, 4]> : tensor<2xi64>
  %s2 = onnx.Constant dense<[4, -1]> : tensor<2xi64>
  %a = onnx.Reshape %x, %s1 : (tensor<2x3x4xf32>, tensor<2xi64>) -> tensor<6x4xf32>
  %b = onnx.Reshape %a, %s2 : (tensor<6x4xf32>, tensor<2xi64>) -> tensor<4x6xf32>
  func.return %b : tensor<4x6xf32>
}
// CHECK-LABEL: func.func @chain
// CHECK-NEXT:  %[[S:.*]] = onnx.Constant dense<[4, -1]> : tensor<2xi64>
// CHECK-NEXT:  %[[B:.*]] = onnx.Reshape %x, %[[S]] : (tensor<2x3x4xf32>, tensor<2xi64>) -> tensor<4x6xf32>
// CHECK-NEXT:  func.return %[[B]]

// A chain back to the first shape is nothing at all.
func.func @round_trip(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %s1 = onnx.Constant dense<[6]> : tensor<1xi64>
  %s2 = onnx.Constant dense<[2, 3]> : tensor<2xi64>
  %a = onnx.Reshape %x, %s1 : (tensor<2x3xf32>, tensor<1xi64>) -> tensor<6xf32>
  %b = onnx.Reshape %a, %s2 : (tensor<6xf32>, tensor<2xi64>) -> tensor<2x3xf32>
  func.return %b : tensor<2x3xf32>
}
// CHECK-LABEL: func.func @round_trip
// CHECK-NEXT:  func.return %x : tensor<2x3xf32>

// A 0 in the outer shape copies a dim of the inner result: the chain stays.
func.func @copied_dim(%x: tensor<2x3x4xf32>) -> tensor<6x2x2xf32> {
  %s1 = onnx.Constant dense<[6, 4]> : tensor<2xi64>
  %s2 = onnx.Constant dense<[0, 2, 2]> : tensor<3xi64>
  %a = onnx.Reshape %x, %s1 : (tensor<2x3x4xf32>, tensor<2xi64>) -> tensor<6x4xf32>
  %b = onnx.Reshape %a, %s2 : (tensor<6x4xf32>, tensor<3xi64>) -> tensor<6x2x2xf32>
  func.return %b : tensor<6x2x2xf32>
}
// CHECK-LABEL: func.func @copied_dim
// CHECK:       %[[A:.*]] = onnx.Reshape %x
// CHECK:       %[[B:.*]] = onnx.Reshape %[[A]]
// CHECK-NEXT:  func.return %[[B]]
