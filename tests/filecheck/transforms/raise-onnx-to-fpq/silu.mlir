// RUN: fpqc-opt %s -p raise-onnx-to-fpq | filecheck %s

// SiLU is Mul(x, Sigmoid(x)) in either operand order.

func.func @silu(%x: tensor<1x8xf32>) -> tensor<1x8xf32> {
  %s = onnx.Sigmoid %x : (tensor<1x8xf32>) -> tensor<1x8xf32>
  %y = onnx.Mul %x, %s : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x8xf32>
  func.return %y : tensor<1x8xf32>
}
// CHECK-LABEL: func.func @silu
// CHECK-NEXT:  %[[Y:.*]] = fpq.silu %x : tensor<1x8xf32>
// CHECK-NEXT:  func.return %[[Y]]

func.func @silu_swapped(%x: tensor<1x8xf32>) -> tensor<1x8xf32> {
  %s = onnx.Sigmoid %x : (tensor<1x8xf32>) -> tensor<1x8xf32>
  %y = onnx.Mul %s, %x : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x8xf32>
  func.return %y : tensor<1x8xf32>
}
// CHECK-LABEL: func.func @silu_swapped
// CHECK-NEXT:  fpq.silu %x : tensor<1x8xf32>

// The sigmoid of another tensor is not SiLU.
func.func @sigmoid_of_other(%x: tensor<1x8xf32>, %z: tensor<1x8xf32>) -> tensor<1x8xf32> {
  %s = onnx.Sigmoid %z : (tensor<1x8xf32>) -> tensor<1x8xf32>
  %y = onnx.Mul %x, %s : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x8xf32>
  func.return %y : tensor<1x8xf32>
}
// CHECK-LABEL: func.func @sigmoid_of_other
// CHECK-NOT:   fpq.silu
// CHECK:       onnx.Mul

// Broadcasting x against a larger sigmoid is not elementwise SiLU of x.
func.func @broadcast(%x: tensor<1x8xf32>, %z: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %s = onnx.Sigmoid %z : (tensor<4x8xf32>) -> tensor<4x8xf32>
  %y = onnx.Mul %x, %s : (tensor<1x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  func.return %y : tensor<4x8xf32>
}
// CHECK-LABEL: func.func @broadcast
// CHECK-NOT:   fpq.silu
// CHECK:       onnx.Mul
