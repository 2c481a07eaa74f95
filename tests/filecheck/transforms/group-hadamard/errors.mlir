// RUN: not fpqc-opt %s -p 'group-hadamard{block=16}' 2>&1 | filecheck %s

func.func @too_narrow(%x: tensor<2x12xf32>) -> tensor<2x4xf32> {
  %w = fpq.constant dense<0.25> : tensor<4x12xf32>
  %y = fpq.linear %x, %w {fpq.role = "fc1"} : (tensor<2x12xf32>, tensor<4x12xf32>) -> tensor<2x4xf32>
  func.return %y : tensor<2x4xf32>
}
// CHECK: group-hadamard: block 16 must be a power of two dividing the 12 input features of the fc1 linear layer; pick a block such as 4
