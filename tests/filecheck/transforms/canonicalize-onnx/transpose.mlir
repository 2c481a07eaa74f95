// RUN: fpqc-opt %s -p canonicalize-onnx | filecheck %s

// A Transpose by the identity permutation is its operand.
func.func @identity(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %t = onnx.Transpose %x {perm = [0, 1]} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return %t : tensor<2x3xf32>
}
// CHECK-LABEL: func.func @identity
// CHECK-NEXT:  func.return %x : tensor<2x3xf32>

// Two Transposes that undo each other are nothing.
func.func @inverse(%x: tensor<2x3x4xf32>) -> tensor<2x3x4xf32> {
  %t = onnx.Transpose %x {perm = [1, 2, 0]} : (tensor<2x3x4xf32>) -> tensor<3x4x2xf32>
  %u = onnx.Transpose %t {perm = [2, 0, 1]} : (tensor<3x4x2xf32>) -> tensor<2x3x4xf32>
  func.return %u : tensor<2x3x4xf32>
}
// CHECK-LABEL: func.func @inverse
// CHECK-NEXT:  func.return %x : tensor<2x3x4xf32>

// Without perm a Transpose reverses the axes: twice is nothing.
func.func @reversed_twice(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %t = onnx.Transpose %x : (tensor<2x3xf32>) -> tensor<3x2xf32>
  %u = onnx.Transpose %t : (tensor<3x2xf32>) -> tensor<2x3xf32>
  func.return %u : tensor<2x3xf32>
}
// CHECK-LABEL: func.func @reversed_twice
// CHECK-NEXT:  func.return %x : tensor<2x3xf32>

// Two Transposes that do not compose to the identity stay.
func.func @not_inverse(%x: tensor<2x3x4xf32>) -> tensor<4x2x3xf32> {
  %t = onnx.Transpose %x {perm = [1, 2, 0]} : (tensor<2x3x4xf32>) -> tensor<3x4x2xf32>
  %u = onnx.Transpose %t {perm = [1, 2, 0]} : (tensor<3x4x2xf32>) -> tensor<4x2x3xf32>
  func.return %u : tensor<4x2x3xf32>
}
// CHECK-LABEL: func.func @not_inverse
// CHECK-NEXT:  %[[T:.*]] = onnx.Transpose %x {perm = [1 : i64, 2 : i64, 0 : i64]}
// CHECK-NEXT:  %[[U:.*]] = onnx.Transpose %[[T]] {perm = [1 : i64, 2 : i64, 0 : i64]}
// CHECK-NEXT:  func.return %[[U]]
