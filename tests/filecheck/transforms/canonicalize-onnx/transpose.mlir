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

// The dynamo exporter's kᵀ on merged batch and head axes: Reshape, Transpose of the
// last two axes, Reshape back is one Transpose of the last two axes.
func.func @reshape_transpose_reshape(%k: tensor<2x4x6x8xf32>) -> tensor<2x4x8x6xf32> {
  %s0 = onnx.Constant dense<[8, 6, 8]> : tensor<3xi64>
  %s1 = onnx.Constant dense<[2, 4, 8, 6]> : tensor<4xi64>
  %m = onnx.Reshape %k, %s0 : (tensor<2x4x6x8xf32>, tensor<3xi64>) -> tensor<8x6x8xf32>
  %t = onnx.Transpose %m {perm = [0, 2, 1]} : (tensor<8x6x8xf32>) -> tensor<8x8x6xf32>
  %r = onnx.Reshape %t, %s1 : (tensor<8x8x6xf32>, tensor<4xi64>) -> tensor<2x4x8x6xf32>
  func.return %r : tensor<2x4x8x6xf32>
}
// CHECK-LABEL: func.func @reshape_transpose_reshape
// CHECK:       %[[T:.*]] = onnx.Transpose %k {perm = [0 : i64, 1 : i64, 3 : i64, 2 : i64]} : (tensor<2x4x6x8xf32>) -> tensor<2x4x8x6xf32>
// CHECK-NEXT:  func.return %[[T]]

// A chain that mixes elements across axes is not a transpose and stays.
func.func @reshape_transpose_reshape_mixing(%x: tensor<2x6xf32>) -> tensor<2x6xf32> {
  %s0 = onnx.Constant dense<[3, 4]> : tensor<2xi64>
  %s1 = onnx.Constant dense<[2, 6]> : tensor<2xi64>
  %m = onnx.Reshape %x, %s0 : (tensor<2x6xf32>, tensor<2xi64>) -> tensor<3x4xf32>
  %t = onnx.Transpose %m {perm = [1, 0]} : (tensor<3x4xf32>) -> tensor<4x3xf32>
  %r = onnx.Reshape %t, %s1 : (tensor<4x3xf32>, tensor<2xi64>) -> tensor<2x6xf32>
  func.return %r : tensor<2x6xf32>
}
// CHECK-LABEL: func.func @reshape_transpose_reshape_mixing
// CHECK:       onnx.Reshape
// CHECK:       onnx.Transpose
// CHECK:       onnx.Reshape
