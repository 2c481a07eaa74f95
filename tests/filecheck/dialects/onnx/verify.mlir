// RUN: fpqc-opt %s --split-input-file --verify-diagnostics | filecheck %s

// The verifier re-infers every result type and names the op and both types.

func.func @matmul_result(%a: tensor<8x64xf32>, %b: tensor<64x32xf32>) {
  %0 = onnx.MatMul %a, %b : (tensor<8x64xf32>, tensor<64x32xf32>) -> tensor<8x16xf32>
  func.return
}
// CHECK: onnx.MatMul: result type tensor<8x16xf32> does not match the inferred type tensor<8x32xf32>

// -----

func.func @matmul_inner(%a: tensor<8x64xf32>, %b: tensor<32x64xf32>) {
  %0 = onnx.MatMul %a, %b : (tensor<8x64xf32>, tensor<32x64xf32>) -> tensor<8x64xf32>
  func.return
}
// CHECK: onnx.MatMul: inner dimensions of [8, 64] and [32, 64] differ

// -----

func.func @no_broadcast(%a: tensor<4x8xf32>, %b: tensor<5xf32>) {
  %0 = onnx.Add %a, %b : (tensor<4x8xf32>, tensor<5xf32>) -> tensor<4x8xf32>
  func.return
}
// CHECK: onnx.Add: shapes [4, 8] and [5] do not broadcast

// -----

func.func @element_types(%a: tensor<4xf32>, %b: tensor<4xi64>) {
  %0 = onnx.Mul %a, %b : (tensor<4xf32>, tensor<4xi64>) -> tensor<4xf32>
  func.return
}
// CHECK: onnx.Mul: operand element types f32 and i64 differ

// -----

func.func @gemm_trans(%a: tensor<8x64xf32>, %w: tensor<32x64xf32>) {
  %0 = onnx.Gemm %a, %w : (tensor<8x64xf32>, tensor<32x64xf32>) -> tensor<8x32xf32>
  func.return
}
// CHECK: onnx.Gemm: inner dimensions of op(A) [8, 64] and op(B) [32, 64] differ

// -----

func.func @reshape(%x: tensor<2x3x4xf32>) {
  %s = onnx.Constant dense<[5, -1]> : tensor<2xi64>
  %0 = onnx.Reshape %x, %s : (tensor<2x3x4xf32>, tensor<2xi64>) -> tensor<5x5xf32>
  func.return
}
// CHECK: onnx.Reshape: cannot reshape [2, 3, 4] to [5, -1]

// -----

func.func @transpose(%x: tensor<2x3x4xf32>) {
  %0 = onnx.Transpose %x {perm = [0 : i64, 0 : i64, 1 : i64]} : (tensor<2x3x4xf32>) -> tensor<2x2x3xf32>
  func.return
}
// CHECK: onnx.Transpose: perm [0, 0, 1] is not a permutation of the 3 axes

// -----

func.func @cast(%x: tensor<4xf32>) {
  %0 = onnx.Cast %x {to = 1 : i64} : (tensor<4xf32>) -> tensor<4xi64>
  func.return
}
// CHECK: onnx.Cast: result type tensor<4xi64> does not match the inferred type tensor<4xf32>

// -----

func.func @gelu(%x: tensor<4xf32>) {
  %0 = onnx.Gelu %x {approximate = "erf"} : (tensor<4xf32>) -> tensor<4xf32>
  func.return
}
// CHECK: onnx.Gelu: approximate must be "none" or "tanh", got "erf"

// -----

func.func @split_sizes(%x: tensor<6x4xf32>) {
  %s = onnx.Constant dense<[2, 3]> : tensor<2xi64>
  %0:2 = onnx.Split %x, %s : (tensor<6x4xf32>, tensor<2xi64>) -> (tensor<2x4xf32>, tensor<3x4xf32>)
  func.return
}
// CHECK: onnx.Split: split sizes [2, 3] do not add up to the dimension 6

// -----

func.func @split_count(%x: tensor<6x4xf32>) {
  %0:2 = onnx.Split %x {num_outputs = 3 : i64} : (tensor<6x4xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>)
  func.return
}
// CHECK: onnx.Split: 2 results, but the operands give 3

// -----

func.func @squeeze(%x: tensor<2x3xf32>) {
  %a = onnx.Constant dense<0> : tensor<1xi64>
  %0 = onnx.Squeeze %x, %a : (tensor<2x3xf32>, tensor<1xi64>) -> tensor<3xf32>
  func.return
}
// CHECK: onnx.Squeeze: cannot squeeze axis 0 of size 2

// -----

func.func @concat(%x: tensor<2x3xf32>, %y: tensor<2x4xf32>) {
  %0 = onnx.Concat %x, %y {axis = 0 : i64} : (tensor<2x3xf32>, tensor<2x4xf32>) -> tensor<4x3xf32>
  func.return
}
// CHECK: onnx.Concat: shapes [2, 3] and [2, 4] do not join along axis 0

// -----

func.func @where(%c: tensor<4xf32>, %x: tensor<4xf32>) {
  %0 = onnx.Where %c, %x, %x : (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return
}
// CHECK: onnx.Where: condition must be a boolean (i1) tensor, got tensor<4xf32>

// -----

func.func @is_nan_of_integers(%i: tensor<4xi64>) {
  %0 = onnx.IsNaN %i : (tensor<4xi64>) -> tensor<4xi1>
  func.return
}
// CHECK: onnx.IsNaN: the operand must be a float tensor, got tensor<4xi64>

// -----

func.func @reduce_axis(%x: tensor<2x3xf32>) {
  %a = onnx.Constant dense<2> : tensor<1xi64>
  %0 = onnx.ReduceL2 %x, %a : (tensor<2x3xf32>, tensor<1xi64>) -> tensor<2x3xf32>
  func.return
}
// CHECK: onnx.ReduceL2: axis 2 is out of range for rank 2

// -----

func.func @layernorm_scale(%x: tensor<2x8xf32>, %s: tensor<4xf32>) {
  %0 = onnx.LayerNormalization %x, %s : (tensor<2x8xf32>, tensor<4xf32>) -> tensor<2x8xf32>
  func.return
}
// CHECK: onnx.LayerNormalization: Scale of shape [4] does not broadcast to [8]
