// RUN: fpqc-opt %s -p raise-onnx-to-fpq | filecheck %s

// GELU (tanh approximation) as the Gelu op and as the decomposition the
// TorchScript exporter writes, in different association orders.

func.func @gelu_op(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = onnx.Gelu %x {approximate = "tanh"} : (tensor<4x8xf32>) -> tensor<4x8xf32>
  func.return %0 : tensor<4x8xf32>
}
// CHECK-LABEL: func.func @gelu_op
// CHECK-NEXT:  %[[G:.*]] = fpq.gelu %{{.*}} : tensor<4x8xf32>
// CHECK-NEXT:  func.return %[[G]]

func.func @gelu_erf_op_is_not_tanh(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = onnx.Gelu %x : (tensor<4x8xf32>) -> tensor<4x8xf32>
  func.return %0 : tensor<4x8xf32>
}
// CHECK-LABEL: func.func @gelu_erf_op_is_not_tanh
// CHECK-NEXT:  onnx.Gelu

// x * x * x, constants on the left: what torch.onnx.export (TorchScript, opset 17) emits.
func.func @torchscript_decomposition(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = onnx.Mul %x, %x : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %1 = onnx.Mul %x, %0 : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %c0 = onnx.Constant dense<4.471500e-02> : tensor<1xf32>
  %2 = onnx.Mul %c0, %1 : (tensor<1xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %3 = onnx.Add %x, %2 : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %c1 = onnx.Constant dense<0.797884583> : tensor<1xf32>
  %4 = onnx.Mul %c1, %3 : (tensor<1xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %5 = onnx.Tanh %4 : (tensor<4x8xf32>) -> tensor<4x8xf32>
  %c2 = onnx.Constant dense<1.000000e+00> : tensor<1xf32>
  %6 = onnx.Add %c2, %5 : (tensor<1xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %7 = onnx.Mul %x, %6 : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %c3 = onnx.Constant dense<5.000000e-01> : tensor<1xf32>
  %8 = onnx.Mul %c3, %7 : (tensor<1xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  func.return %8 : tensor<4x8xf32>
}
// CHECK-LABEL: func.func @torchscript_decomposition
// CHECK-NEXT:  %[[G:.*]] = fpq.gelu %{{.*}} : tensor<4x8xf32>
// CHECK-NEXT:  func.return %[[G]]

// Pow(x, 3), 0.5 * x first, operands swapped.
func.func @pow_decomposition(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %three = onnx.Constant dense<3.0> : tensor<f32>
  %0 = onnx.Pow %x, %three : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  %c0 = onnx.Constant dense<4.471500e-02> : tensor<f32>
  %1 = onnx.Mul %0, %c0 : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  %2 = onnx.Add %1, %x : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %c1 = onnx.Constant dense<0.797884583> : tensor<f32>
  %3 = onnx.Mul %2, %c1 : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  %4 = onnx.Tanh %3 : (tensor<4x8xf32>) -> tensor<4x8xf32>
  %c2 = onnx.Constant dense<1.000000e+00> : tensor<f32>
  %5 = onnx.Add %4, %c2 : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  %c3 = onnx.Constant dense<5.000000e-01> : tensor<f32>
  %6 = onnx.Mul %x, %c3 : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  %7 = onnx.Mul %6, %5 : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  func.return %7 : tensor<4x8xf32>
}
// CHECK-LABEL: func.func @pow_decomposition
// CHECK-NEXT:  %[[G:.*]] = fpq.gelu %{{.*}} : tensor<4x8xf32>
// CHECK-NEXT:  func.return %[[G]]

// A wrong coefficient (0.04 instead of 0.044715) is not GELU.
func.func @wrong_coefficient(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %three = onnx.Constant dense<3.0> : tensor<f32>
  %0 = onnx.Pow %x, %three : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  %c0 = onnx.Constant dense<4.0e-02> : tensor<f32>
  %1 = onnx.Mul %0, %c0 : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  %2 = onnx.Add %1, %x : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %c1 = onnx.Constant dense<0.797884583> : tensor<f32>
  %3 = onnx.Mul %2, %c1 : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  %4 = onnx.Tanh %3 : (tensor<4x8xf32>) -> tensor<4x8xf32>
  %c2 = onnx.Constant dense<1.000000e+00> : tensor<f32>
  %5 = onnx.Add %4, %c2 : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  %c3 = onnx.Constant dense<5.000000e-01> : tensor<f32>
  %6 = onnx.Mul %x, %c3 : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  %7 = onnx.Mul %6, %5 : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  func.return %7 : tensor<4x8xf32>
}
// CHECK-LABEL: func.func @wrong_coefficient
// CHECK-NOT:   fpq.gelu
// CHECK:       onnx.Tanh
// CHECK-NOT:   fpq.gelu
// CHECK:       func.return
