// RUN: fpqc-opt %s -p canonicalize-onnx | filecheck %s

// The released VAR code's attn_bias_for_masking[:, :, :ed, :ed] with ed = L:
// a Slice that takes every element is its operand.
func.func @mask_up_to_l(%bias: tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32> {
  %starts = onnx.Constant dense<[0, 0]> : tensor<2xi64>
  %ends = onnx.Constant dense<[4, 4]> : tensor<2xi64>
  %axes = onnx.Constant dense<[2, 3]> : tensor<2xi64>
  %m = onnx.Slice %bias, %starts, %ends axes %axes : tensor<1x1x4x4xf32>, tensor<2xi64>, tensor<2xi64> axes tensor<2xi64> -> tensor<1x1x4x4xf32>
  func.return %m : tensor<1x1x4x4xf32>
}
// CHECK-LABEL: func.func @mask_up_to_l
// CHECK-NEXT:  func.return %bias : tensor<1x1x4x4xf32>

// pos_1LC[:, :] as the exporter writes `:` -- ends INT64_MAX, axes implied,
// explicit steps of 1 -- and a start of -dim, which is 0.
func.func @whole_axes(%pos: tensor<1x6x8xf32>) -> tensor<1x6x8xf32> {
  %starts = onnx.Constant dense<[0, -6]> : tensor<2xi64>
  %ends = onnx.Constant dense<9223372036854775807> : tensor<2xi64>
  %steps = onnx.Constant dense<1> : tensor<2xi64>
  %p = onnx.Slice %pos, %starts, %ends steps %steps : tensor<1x6x8xf32>, tensor<2xi64>, tensor<2xi64> steps tensor<2xi64> -> tensor<1x6x8xf32>
  func.return %p : tensor<1x6x8xf32>
}
// CHECK-LABEL: func.func @whole_axes
// CHECK-NEXT:  func.return %pos : tensor<1x6x8xf32>

// A Slice that takes part of an axis stays.
func.func @part(%x: tensor<4x6xf32>) -> tensor<4x5xf32> {
  %starts = onnx.Constant dense<1> : tensor<1xi64>
  %ends = onnx.Constant dense<6> : tensor<1xi64>
  %axes = onnx.Constant dense<1> : tensor<1xi64>
  %y = onnx.Slice %x, %starts, %ends axes %axes : tensor<4x6xf32>, tensor<1xi64>, tensor<1xi64> axes tensor<1xi64> -> tensor<4x5xf32>
  func.return %y : tensor<4x5xf32>
}
// CHECK-LABEL: func.func @part
// CHECK:       %[[Y:.*]] = onnx.Slice %x
// CHECK-NEXT:  func.return %[[Y]]

// x[::-1] keeps the type but reverses the elements: it stays.
func.func @reversed(%x: tensor<4x6xf32>) -> tensor<4x6xf32> {
  %starts = onnx.Constant dense<-1> : tensor<1xi64>
  %ends = onnx.Constant dense<-9223372036854775807> : tensor<1xi64>
  %axes = onnx.Constant dense<1> : tensor<1xi64>
  %steps = onnx.Constant dense<-1> : tensor<1xi64>
  %y = onnx.Slice %x, %starts, %ends axes %axes steps %steps : tensor<4x6xf32>, tensor<1xi64>, tensor<1xi64> axes tensor<1xi64> steps tensor<1xi64> -> tensor<4x6xf32>
  func.return %y : tensor<4x6xf32>
}
// CHECK-LABEL: func.func @reversed
// CHECK:       %[[Y:.*]] = onnx.Slice %x
// CHECK-NEXT:  func.return %[[Y]]
