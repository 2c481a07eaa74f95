// RUN: not fpqc-opt %s -p 'quantize{group-size=3}' 2>&1 | filecheck %s

func.func @linear(%x: tensor<2x8xf32>) -> tensor<2x2xf32> {
  %w = fpq.constant dense<1.0> : tensor<2x8xf32>
  %y = fpq.linear %x, %w : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x2xf32>
  func.return %y : tensor<2x2xf32>
}
// CHECK: error: weight group size 3 does not divide the 8 input features of the linear layer with weight [2, 8]; choose a group size that divides 8
