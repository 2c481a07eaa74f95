// RUN: fpqc-opt %s -p canonicalize-onnx | filecheck %s

// A Cast to the operand's own type and an Identity are their operand.
func.func @no_op_cast(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %c = onnx.Cast %x {to = 1 : i64} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %i = onnx.Identity %c : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %y = onnx.Relu %i : (tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return %y : tensor<2x3xf32>
}
// CHECK-LABEL: func.func @no_op_cast
// CHECK-NEXT:  %[[Y:.*]] = onnx.Relu %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT:  func.return %[[Y]]

// A Cast that changes the element type stays.
func.func @cast(%x: tensor<2x3xf32>) -> tensor<2x3xi64> {
  %c = onnx.Cast %x {to = 7 : i64} : (tensor<2x3xf32>) -> tensor<2x3xi64>
  func.return %c : tensor<2x3xi64>
}
// CHECK-LABEL: func.func @cast
// CHECK-NEXT:  %[[C:.*]] = onnx.Cast %x {to = 7 : i64} : (tensor<2x3xf32>) -> tensor<2x3xi64>
// CHECK-NEXT:  func.return %[[C]]
