// RUN: fpqc-opt %s -p raise-onnx-to-fpq | filecheck %s

// Raising runs canonicalize-onnx first: a no-op Cast between a MatMul and
// its bias Add, and a multiplication by one, do not stop the linear layer.
func.func @linear_through_no_ops(%x: tensor<2x4xf32>) -> tensor<2x3xf32> {
  %w = onnx.Constant dense<5.000000e-01> : tensor<4x3xf32>
  %b = onnx.Constant dense<2.500000e-01> : tensor<3xf32>
  %one = onnx.Constant dense<1.000000e+00> : tensor<f32>
  %m = onnx.MatMul %x, %w : (tensor<2x4xf32>, tensor<4x3xf32>) -> tensor<2x3xf32>
  %c = onnx.Cast %m {to = 1 : i64} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %u = onnx.Mul %c, %one : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
  %y = onnx.Add %u, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  func.return %y : tensor<2x3xf32>
}
// CHECK-LABEL: func.func @linear_through_no_ops
// CHECK-NEXT:  %[[W:.*]] = fpq.constant dense<5.000000e-01> : tensor<3x4xf32>
// CHECK-NEXT:  %[[B:.*]] = fpq.constant dense<2.500000e-01> : tensor<3xf32>
// CHECK-NEXT:  %[[Y:.*]] = fpq.linear %x, %[[W]], %[[B]] : (tensor<2x4xf32>, tensor<3x4xf32>, tensor<3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT:  func.return %[[Y]]
