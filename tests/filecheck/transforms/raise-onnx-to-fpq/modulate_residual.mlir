// RUN: fpqc-opt %s -p raise-onnx-to-fpq | filecheck %s

// AdaLN modulation x·(1+scale)+shift and the gated residual x + f·gamma,
// in the operand orders the exporters write, and forms that are neither.

func.func @modulate(%n: tensor<1x6x8xf32>, %scale: tensor<1x1x8xf32>, %shift: tensor<1x1x8xf32>) -> tensor<1x6x8xf32> {
  %one = onnx.Constant dense<1.0> : tensor<f32>
  %0 = onnx.Add %scale, %one : (tensor<1x1x8xf32>, tensor<f32>) -> tensor<1x1x8xf32>
  %1 = onnx.Mul %n, %0 : (tensor<1x6x8xf32>, tensor<1x1x8xf32>) -> tensor<1x6x8xf32>
  %2 = onnx.Add %1, %shift : (tensor<1x6x8xf32>, tensor<1x1x8xf32>) -> tensor<1x6x8xf32>
  func.return %2 : tensor<1x6x8xf32>
}
// CHECK-LABEL: func.func @modulate
// CHECK-NEXT:  %[[Y:.*]] = fpq.modulate %n, %scale, %shift : (tensor<1x6x8xf32>, tensor<1x1x8xf32>, tensor<1x1x8xf32>) -> tensor<1x6x8xf32>
// CHECK-NEXT:  func.return %[[Y]]

func.func @modulate_swapped(%n: tensor<1x6x8xf32>, %scale: tensor<1x1x8xf32>, %shift: tensor<1x1x8xf32>) -> tensor<1x6x8xf32> {
  %one = onnx.Constant dense<1.0> : tensor<1xf32>
  %0 = onnx.Add %one, %scale : (tensor<1xf32>, tensor<1x1x8xf32>) -> tensor<1x1x8xf32>
  %1 = onnx.Mul %0, %n : (tensor<1x1x8xf32>, tensor<1x6x8xf32>) -> tensor<1x6x8xf32>
  %2 = onnx.Add %shift, %1 : (tensor<1x1x8xf32>, tensor<1x6x8xf32>) -> tensor<1x6x8xf32>
  func.return %2 : tensor<1x6x8xf32>
}
// CHECK-LABEL: func.func @modulate_swapped
// CHECK-NEXT:  fpq.modulate %n, %scale, %shift

// 2 + scale is not 1 + scale.
func.func @modulate_wrong_constant(%n: tensor<1x6x8xf32>, %scale: tensor<1x1x8xf32>, %shift: tensor<1x1x8xf32>) -> tensor<1x6x8xf32> {
  %two = onnx.Constant dense<2.0> : tensor<f32>
  %0 = onnx.Add %scale, %two : (tensor<1x1x8xf32>, tensor<f32>) -> tensor<1x1x8xf32>
  %1 = onnx.Mul %n, %0 : (tensor<1x6x8xf32>, tensor<1x1x8xf32>) -> tensor<1x6x8xf32>
  %2 = onnx.Add %1, %shift : (tensor<1x6x8xf32>, tensor<1x1x8xf32>) -> tensor<1x6x8xf32>
  func.return %2 : tensor<1x6x8xf32>
}
// CHECK-LABEL: func.func @modulate_wrong_constant
// CHECK-NOT:   fpq.modulate
// CHECK:       func.return

func.func @residual(%x: tensor<1x6x8xf32>, %f: tensor<1x6x8xf32>, %gamma: tensor<1x1x8xf32>) -> tensor<1x6x8xf32> {
  %0 = onnx.Mul %f, %gamma : (tensor<1x6x8xf32>, tensor<1x1x8xf32>) -> tensor<1x6x8xf32>
  %1 = onnx.Add %x, %0 : (tensor<1x6x8xf32>, tensor<1x6x8xf32>) -> tensor<1x6x8xf32>
  func.return %1 : tensor<1x6x8xf32>
}
// CHECK-LABEL: func.func @residual
// CHECK-NEXT:  %[[Y:.*]] = fpq.residual %x, %f, %gamma : (tensor<1x6x8xf32>, tensor<1x6x8xf32>, tensor<1x1x8xf32>) -> tensor<1x6x8xf32>
// CHECK-NEXT:  func.return %[[Y]]

func.func @residual_swapped(%x: tensor<1x6x8xf32>, %f: tensor<1x6x8xf32>, %gamma: tensor<1x1x8xf32>) -> tensor<1x6x8xf32> {
  %0 = onnx.Mul %gamma, %f : (tensor<1x1x8xf32>, tensor<1x6x8xf32>) -> tensor<1x6x8xf32>
  %1 = onnx.Add %0, %x : (tensor<1x6x8xf32>, tensor<1x6x8xf32>) -> tensor<1x6x8xf32>
  func.return %1 : tensor<1x6x8xf32>
}
// CHECK-LABEL: func.func @residual_swapped
// CHECK-NEXT:  fpq.residual %x, %f, %gamma

// A constant factor (as inside GELU's x + 0.044715·x³) is not a gate.
func.func @constant_gate(%x: tensor<1x6x8xf32>, %f: tensor<1x6x8xf32>) -> tensor<1x6x8xf32> {
  %c = onnx.Constant dense<0.044715> : tensor<f32>
  %0 = onnx.Mul %c, %f : (tensor<f32>, tensor<1x6x8xf32>) -> tensor<1x6x8xf32>
  %1 = onnx.Add %x, %0 : (tensor<1x6x8xf32>, tensor<1x6x8xf32>) -> tensor<1x6x8xf32>
  func.return %1 : tensor<1x6x8xf32>
}
// CHECK-LABEL: func.func @constant_gate
// CHECK-NOT:   fpq.residual
// CHECK:       func.return

// A full-size product is an ordinary multiply-add, not a per-sample gate.
func.func @full_size_gate(%x: tensor<1x6x8xf32>, %f: tensor<1x6x8xf32>, %g: tensor<1x6x8xf32>) -> tensor<1x6x8xf32> {
  %0 = onnx.Mul %f, %g : (tensor<1x6x8xf32>, tensor<1x6x8xf32>) -> tensor<1x6x8xf32>
  %1 = onnx.Add %x, %0 : (tensor<1x6x8xf32>, tensor<1x6x8xf32>) -> tensor<1x6x8xf32>
  func.return %1 : tensor<1x6x8xf32>
}
// CHECK-LABEL: func.func @full_size_gate
// CHECK-NOT:   fpq.residual
// CHECK:       func.return
