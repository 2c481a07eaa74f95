// RUN: fpqc-opt %s -p canonicalize-onnx | filecheck %s

// x · 1 is x, with the one on either side.
func.func @mul_by_one(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %one = onnx.Constant dense<1.0> : tensor<f32>
  %a = onnx.Mul %x, %one : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
  %b = onnx.Mul %one, %a : (tensor<f32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return %b : tensor<2x3xf32>
}
// CHECK-LABEL: func.func @mul_by_one
// CHECK-NEXT:  func.return %x : tensor<2x3xf32>

// A product by ones that broadcasts x to a larger shape is not x.
func.func @broadcasting_one(%x: tensor<3xf32>) -> tensor<2x3xf32> {
  %ones = onnx.Constant dense<1.0> : tensor<2x3xf32>
  %y = onnx.Mul %x, %ones : (tensor<3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return %y : tensor<2x3xf32>
}
// CHECK-LABEL: func.func @broadcasting_one
// CHECK:       onnx.Mul %x

// A product by another constant stays.
func.func @mul_by_two(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %two = onnx.Constant dense<2.0> : tensor<f32>
  %y = onnx.Mul %x, %two : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
  func.return %y : tensor<2x3xf32>
}
// CHECK-LABEL: func.func @mul_by_two
// CHECK:       onnx.Mul %x

// x + 0, 0 + x and x - 0 are x; a negative zero is a zero too.
func.func @add_sub_zero(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %zero = onnx.Constant dense<0.0> : tensor<f32>
  %neg_zero = onnx.Constant dense<-0.0> : tensor<1x3xf32>
  %a = onnx.Add %x, %zero : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
  %b = onnx.Add %neg_zero, %a : (tensor<1x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %c = onnx.Sub %b, %zero : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
  func.return %c : tensor<2x3xf32>
}
// CHECK-LABEL: func.func @add_sub_zero
// CHECK-NEXT:  func.return %x : tensor<2x3xf32>

// x / 1 is x.
func.func @div_by_one(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %one = onnx.Constant dense<1.0> : tensor<f32>
  %y = onnx.Div %x, %one : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
  func.return %y : tensor<2x3xf32>
}
// CHECK-LABEL: func.func @div_by_one
// CHECK-NEXT:  func.return %x : tensor<2x3xf32>

// Integers too: i + 0 is i.
func.func @integer_add_zero(%i: tensor<4xi64>) -> tensor<4xi64> {
  %zero = onnx.Constant dense<0> : tensor<1xi64>
  %y = onnx.Add %zero, %i : (tensor<1xi64>, tensor<4xi64>) -> tensor<4xi64>
  func.return %y : tensor<4xi64>
}
// CHECK-LABEL: func.func @integer_add_zero
// CHECK-NEXT:  func.return %i : tensor<4xi64>

// 0 - x is -x and 1 / x the reciprocal: the neutral element counts on the right only.
func.func @neutral_on_the_left(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<2x3xf32>) {
  %zero = onnx.Constant dense<0.0> : tensor<f32>
  %one = onnx.Constant dense<1.0> : tensor<f32>
  %n = onnx.Sub %zero, %x : (tensor<f32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %r = onnx.Div %one, %x : (tensor<f32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return %n, %r : tensor<2x3xf32>, tensor<2x3xf32>
}
// CHECK-LABEL: func.func @neutral_on_the_left
// CHECK:       %[[N:.*]] = onnx.Sub %zero, %x
// CHECK:       %[[R:.*]] = onnx.Div %one, %x
// CHECK-NEXT:  func.return %[[N]], %[[R]]

// A constant that is zero in only some elements is not neutral.
func.func @partly_zero(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %c = onnx.Constant dense<[0.0, 0.0, 1.0]> : tensor<3xf32>
  %y = onnx.Add %x, %c : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  func.return %y : tensor<2x3xf32>
}
// CHECK-LABEL: func.func @partly_zero
// CHECK:       onnx.Add %x, %c

// A sum with zeros that broadcasts x to a larger shape is not x.
func.func @broadcasting_zero(%x: tensor<3xf32>) -> tensor<2x3xf32> {
  %zeros = onnx.Constant dense<0.0> : tensor<2x3xf32>
  %y = onnx.Add %x, %zeros : (tensor<3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return %y : tensor<2x3xf32>
}
// CHECK-LABEL: func.func @broadcasting_zero
// CHECK:       onnx.Add %x, %zeros
