// RUN: fpqc-opt %s -p raise-onnx-to-fpq | filecheck %s

// AdaLN: ada_lin(cond).view(-1, 1, N, C).unbind(2) is fpq.split into N chunks,
// with unbind spelled Split + Squeeze (TorchScript) or Slice + Squeeze (dynamo).

func.func @six_way_split(%a: tensor<1x24xf32>) -> (tensor<1x1x4xf32>, tensor<1x1x4xf32>, tensor<1x1x4xf32>, tensor<1x1x4xf32>, tensor<1x1x4xf32>, tensor<1x1x4xf32>) {
  %shape = onnx.Constant dense<[-1, 1, 6, 4]> : tensor<4xi64>
  %v = onnx.Reshape %a, %shape : (tensor<1x24xf32>, tensor<4xi64>) -> tensor<1x1x6x4xf32>
  %two = onnx.Constant dense<2> : tensor<1xi64>
  %ones = onnx.Constant dense<1> : tensor<6xi64>
  %p:6 = onnx.Split %v, %ones {axis = 2 : i64} : (tensor<1x1x6x4xf32>, tensor<6xi64>) -> (tensor<1x1x1x4xf32>, tensor<1x1x1x4xf32>, tensor<1x1x1x4xf32>, tensor<1x1x1x4xf32>, tensor<1x1x1x4xf32>, tensor<1x1x1x4xf32>)
  %c0 = onnx.Squeeze %p#0, %two : (tensor<1x1x1x4xf32>, tensor<1xi64>) -> tensor<1x1x4xf32>
  %c1 = onnx.Squeeze %p#1, %two : (tensor<1x1x1x4xf32>, tensor<1xi64>) -> tensor<1x1x4xf32>
  %c2 = onnx.Squeeze %p#2, %two : (tensor<1x1x1x4xf32>, tensor<1xi64>) -> tensor<1x1x4xf32>
  %c3 = onnx.Squeeze %p#3, %two : (tensor<1x1x1x4xf32>, tensor<1xi64>) -> tensor<1x1x4xf32>
  %c4 = onnx.Squeeze %p#4, %two : (tensor<1x1x1x4xf32>, tensor<1xi64>) -> tensor<1x1x4xf32>
  %c5 = onnx.Squeeze %p#5, %two : (tensor<1x1x1x4xf32>, tensor<1xi64>) -> tensor<1x1x4xf32>
  func.return %c0, %c1, %c2, %c3, %c4, %c5 : tensor<1x1x4xf32>, tensor<1x1x4xf32>, tensor<1x1x4xf32>, tensor<1x1x4xf32>, tensor<1x1x4xf32>, tensor<1x1x4xf32>
}
// CHECK-LABEL: func.func @six_way_split
// CHECK:       %[[P0:[^,]*]], {{.*}} = fpq.split %a : tensor<1x24xf32> -> (tensor<1x1x4xf32>, tensor<1x1x4xf32>, tensor<1x1x4xf32>, tensor<1x1x4xf32>, tensor<1x1x4xf32>, tensor<1x1x4xf32>)
// CHECK:       func.return %[[P0]], 


func.func @two_way_slice(%a: tensor<1x8xf32>) -> (tensor<1x1x4xf32>, tensor<1x1x4xf32>) {
  %shape = onnx.Constant dense<[-1, 1, 2, 4]> : tensor<4xi64>
  %v = onnx.Reshape %a, %shape : (tensor<1x8xf32>, tensor<4xi64>) -> tensor<1x1x2x4xf32>
  %two = onnx.Constant dense<2> : tensor<1xi64>
  %i0 = onnx.Constant dense<0> : tensor<1xi64>
  %i1 = onnx.Constant dense<1> : tensor<1xi64>
  %i2 = onnx.Constant dense<2> : tensor<1xi64>
  %sl0 = onnx.Slice %v, %i0, %i1 axes %two : tensor<1x1x2x4xf32>, tensor<1xi64>, tensor<1xi64> axes tensor<1xi64> -> tensor<1x1x1x4xf32>
  %sl1 = onnx.Slice %v, %i1, %i2 axes %two : tensor<1x1x2x4xf32>, tensor<1xi64>, tensor<1xi64> axes tensor<1xi64> -> tensor<1x1x1x4xf32>
  %c0 = onnx.Squeeze %sl0, %two : (tensor<1x1x1x4xf32>, tensor<1xi64>) -> tensor<1x1x4xf32>
  %c1 = onnx.Squeeze %sl1, %two : (tensor<1x1x1x4xf32>, tensor<1xi64>) -> tensor<1x1x4xf32>
  func.return %c0, %c1 : tensor<1x1x4xf32>, tensor<1x1x4xf32>
}
// CHECK-LABEL: func.func @two_way_slice
// CHECK:       %[[P0:[^,]*]], %[[P1:.*]] = fpq.split %a : tensor<1x8xf32> -> (tensor<1x1x4xf32>, tensor<1x1x4xf32>)
// CHECK:       func.return %[[P0]], %[[P1]] :


// Slices two chunks wide are not an unbind.
func.func @wide_slice(%a: tensor<1x24xf32>) -> tensor<1x1x2x4xf32> {
  %shape = onnx.Constant dense<[-1, 1, 6, 4]> : tensor<4xi64>
  %v = onnx.Reshape %a, %shape : (tensor<1x24xf32>, tensor<4xi64>) -> tensor<1x1x6x4xf32>
  %two = onnx.Constant dense<2> : tensor<1xi64>
  %i0 = onnx.Constant dense<0> : tensor<1xi64>
  %s = onnx.Slice %v, %i0, %two axes %two : tensor<1x1x6x4xf32>, tensor<1xi64>, tensor<1xi64> axes tensor<1xi64> -> tensor<1x1x2x4xf32>
  func.return %s : tensor<1x1x2x4xf32>
}
// CHECK-LABEL: func.func @wide_slice
// CHECK-NOT:   fpq.split
// CHECK:       onnx.Slice

// A reshape whose result is also used whole is not split away.
func.func @reshape_used_whole(%a: tensor<1x8xf32>) -> (tensor<1x1x4xf32>, tensor<1x1x2x4xf32>) {
  %shape = onnx.Constant dense<[-1, 1, 2, 4]> : tensor<4xi64>
  %v = onnx.Reshape %a, %shape : (tensor<1x8xf32>, tensor<4xi64>) -> tensor<1x1x2x4xf32>
  %two = onnx.Constant dense<2> : tensor<1xi64>
  %ones = onnx.Constant dense<1> : tensor<2xi64>
  %p:2 = onnx.Split %v, %ones {axis = 2 : i64} : (tensor<1x1x2x4xf32>, tensor<2xi64>) -> (tensor<1x1x1x4xf32>, tensor<1x1x1x4xf32>)
  %c = onnx.Squeeze %p#0, %two : (tensor<1x1x1x4xf32>, tensor<1xi64>) -> tensor<1x1x4xf32>
  func.return %c, %v : tensor<1x1x4xf32>, tensor<1x1x2x4xf32>
}
// CHECK-LABEL: func.func @reshape_used_whole
// CHECK-NOT:   fpq.split
// CHECK:       onnx.Split
