// RUN: fpqc-opt %s -p raise-onnx-to-fpq | filecheck %s

// LayerNormalization over the last axis without affine parameters (unit
// scale, zero or no bias) is fpq.layernorm; a learned scale or bias, or
// another axis, stays in the onnx dialect.

func.func @no_affine(%x: tensor<1x3x4xf32>) -> tensor<1x3x4xf32> {
  %one = onnx.Constant dense<1.0> : tensor<4xf32>
  %zero = onnx.Constant dense<0.0> : tensor<4xf32>
  %y = onnx.LayerNormalization %x, %one, %zero {axis = -1 : i64, epsilon = 1.0e-06 : f32} : (tensor<1x3x4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x3x4xf32>
  func.return %y : tensor<1x3x4xf32>
}
// CHECK-LABEL: func.func @no_affine
// CHECK-NEXT:  %[[Y:.*]] = fpq.layernorm %x {eps = 1.000000e-06 : f32} : tensor<1x3x4xf32>
// CHECK-NEXT:  func.return %[[Y]]

// The dynamo exporter leaves the bias out.
func.func @scale_only(%x: tensor<1x3x4xf32>) -> tensor<1x3x4xf32> {
  %one = onnx.Constant dense<1.0> : tensor<4xf32>
  %y = onnx.LayerNormalization %x, %one {axis = 2 : i64, epsilon = 1.0e-06 : f32} : (tensor<1x3x4xf32>, tensor<4xf32>) -> tensor<1x3x4xf32>
  func.return %y : tensor<1x3x4xf32>
}
// CHECK-LABEL: func.func @scale_only
// CHECK-NEXT:  fpq.layernorm %x {eps = 1.000000e-06 : f32} : tensor<1x3x4xf32>

func.func @affine_scale(%x: tensor<1x3x4xf32>) -> tensor<1x3x4xf32> {
  %s = onnx.Constant dense<[1.0, 2.0, 1.0, 1.0]> : tensor<4xf32>
  %y = onnx.LayerNormalization %x, %s {epsilon = 1.0e-06 : f32} : (tensor<1x3x4xf32>, tensor<4xf32>) -> tensor<1x3x4xf32>
  func.return %y : tensor<1x3x4xf32>
}
// CHECK-LABEL: func.func @affine_scale
// CHECK-NOT:   fpq.layernorm
// CHECK:       onnx.LayerNormalization

func.func @affine_bias(%x: tensor<1x3x4xf32>) -> tensor<1x3x4xf32> {
  %one = onnx.Constant dense<1.0> : tensor<4xf32>
  %b = onnx.Constant dense<0.5> : tensor<4xf32>
  %y = onnx.LayerNormalization %x, %one, %b : (tensor<1x3x4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x3x4xf32>
  func.return %y : tensor<1x3x4xf32>
}
// CHECK-LABEL: func.func @affine_bias
// CHECK-NOT:   fpq.layernorm
// CHECK:       onnx.LayerNormalization

func.func @over_two_axes(%x: tensor<1x3x4xf32>) -> tensor<1x3x4xf32> {
  %one = onnx.Constant dense<1.0> : tensor<3x4xf32>
  %y = onnx.LayerNormalization %x, %one {axis = 1 : i64} : (tensor<1x3x4xf32>, tensor<3x4xf32>) -> tensor<1x3x4xf32>
  func.return %y : tensor<1x3x4xf32>
}
// CHECK-LABEL: func.func @over_two_axes
// CHECK-NOT:   fpq.layernorm
// CHECK:       onnx.LayerNormalization
