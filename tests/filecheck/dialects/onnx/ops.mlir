// RUN: fpqc-opt %s | fpqc-opt | filecheck %s
// RUN: fpqc-opt %s --print-op-generic | fpqc-opt | filecheck %s

// Every onnx op prints in its custom form and parses back; properties at
// their ONNX default value are not printed.

func.func @elementwise(%a: tensor<2x3x4xf32>, %b: tensor<4xf32>) -> tensor<2x3x4xf32> {
  %add = onnx.Add %a, %b : (tensor<2x3x4xf32>, tensor<4xf32>) -> tensor<2x3x4xf32>
  %sub = onnx.Sub %add, %b : (tensor<2x3x4xf32>, tensor<4xf32>) -> tensor<2x3x4xf32>
  %mul = onnx.Mul %sub, %a : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  %div = onnx.Div %b, %mul : (tensor<4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  %three = onnx.Constant dense<3.000000e+00> : tensor<f32>
  %pow = onnx.Pow %div, %three : (tensor<2x3x4xf32>, tensor<f32>) -> tensor<2x3x4xf32>
  %tanh = onnx.Tanh %pow : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  %relu = onnx.Relu %tanh : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  %sigmoid = onnx.Sigmoid %relu : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  %gelu = onnx.Gelu %sigmoid : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  %gelu_tanh = onnx.Gelu %gelu {approximate = "tanh"} : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  %erf = onnx.Erf %gelu_tanh : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  %sqrt = onnx.Sqrt %erf : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  %id = onnx.Identity %sqrt : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  func.return %id : tensor<2x3x4xf32>
}

// CHECK-LABEL: func.func @elementwise
// CHECK-NEXT:    %add = onnx.Add %a, %b : (tensor<2x3x4xf32>, tensor<4xf32>) -> tensor<2x3x4xf32>
// CHECK-NEXT:    %sub = onnx.Sub %add, %b : (tensor<2x3x4xf32>, tensor<4xf32>) -> tensor<2x3x4xf32>
// CHECK-NEXT:    %mul = onnx.Mul %sub, %a : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
// CHECK-NEXT:    %div = onnx.Div %b, %mul : (tensor<4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
// CHECK-NEXT:    %three = onnx.Constant dense<3.000000e+00> : tensor<f32>
// CHECK-NEXT:    %pow = onnx.Pow %div, %three : (tensor<2x3x4xf32>, tensor<f32>) -> tensor<2x3x4xf32>
// CHECK-NEXT:    %tanh = onnx.Tanh %pow : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
// CHECK-NEXT:    %relu = onnx.Relu %tanh : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
// CHECK-NEXT:    %sigmoid = onnx.Sigmoid %relu : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
// CHECK-NEXT:    %gelu = onnx.Gelu %sigmoid : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
// CHECK-NEXT:    %gelu_tanh = onnx.Gelu %gelu {approximate = "tanh"} : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
// CHECK-NEXT:    %erf = onnx.Erf %gelu_tanh : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
// CHECK-NEXT:    %sqrt = onnx.Sqrt %erf : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
// CHECK-NEXT:    %id = onnx.Identity %sqrt : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
// CHECK-NEXT:    func.return %id : tensor<2x3x4xf32>

func.func @linear_algebra(%x: tensor<2x8x64xf32>, %a: tensor<64x8xf32>) -> (tensor<2x8x32xf32>, tensor<8x32xf32>, tensor<8x32xf32>) {
  %w = onnx.Constant dense_resource<onnx_ops.mm.weight> : tensor<64x32xf32>
  %mm = onnx.MatMul %x, %w : (tensor<2x8x64xf32>, tensor<64x32xf32>) -> tensor<2x8x32xf32>
  %wt = onnx.Constant dense_resource<onnx_ops.gemm.weight> : tensor<32x64xf32>
  %bias = onnx.Constant dense<0.5> : tensor<32xf32>
  %gemm = onnx.Gemm %a, %wt, %bias {alpha = 2.0 : f32, beta = 0.5 : f32, transA = 1 : i64, transB = 1 : i64} : (tensor<64x8xf32>, tensor<32x64xf32>, tensor<32xf32>) -> tensor<8x32xf32>
  %gemm2 = onnx.Gemm %a, %wt {transA = 1 : i64, transB = 1 : i64} : (tensor<64x8xf32>, tensor<32x64xf32>) -> tensor<8x32xf32>
  func.return %mm, %gemm, %gemm2 : tensor<2x8x32xf32>, tensor<8x32xf32>, tensor<8x32xf32>
}

// CHECK-LABEL: func.func @linear_algebra
// CHECK-NEXT:    %w = onnx.Constant dense_resource<onnx_ops.mm.weight> : tensor<64x32xf32>
// CHECK-NEXT:    %mm = onnx.MatMul %x, %w : (tensor<2x8x64xf32>, tensor<64x32xf32>) -> tensor<2x8x32xf32>
// CHECK-NEXT:    %wt = onnx.Constant dense_resource<onnx_ops.gemm.weight> : tensor<32x64xf32>
// CHECK-NEXT:    %bias = onnx.Constant dense<5.000000e-01> : tensor<32xf32>
// CHECK-NEXT:    %gemm = onnx.Gemm %a, %wt, %bias {alpha = 2.000000e+00 : f32, beta = 5.000000e-01 : f32, transA = 1 : i64, transB = 1 : i64} : (tensor<64x8xf32>, tensor<32x64xf32>, tensor<32xf32>) -> tensor<8x32xf32>
// CHECK-NEXT:    %gemm2 = onnx.Gemm %a, %wt {transA = 1 : i64, transB = 1 : i64} : (tensor<64x8xf32>, tensor<32x64xf32>) -> tensor<8x32xf32>

func.func @shapes(%x: tensor<2x3x4xf32>) -> (tensor<6x4xf32>, tensor<3x4x2xf32>, tensor<4x3x2xf32>, tensor<2x3x4xi64>) {
  %shape = onnx.Constant dense<[-1, 4]> : tensor<2xi64>
  %r = onnx.Reshape %x, %shape : (tensor<2x3x4xf32>, tensor<2xi64>) -> tensor<6x4xf32>
  %t = onnx.Transpose %x {perm = [1 : i64, 2 : i64, 0 : i64]} : (tensor<2x3x4xf32>) -> tensor<3x4x2xf32>
  %rev = onnx.Transpose %x : (tensor<2x3x4xf32>) -> tensor<4x3x2xf32>
  %c = onnx.Cast %x {to = 7 : i64} : (tensor<2x3x4xf32>) -> tensor<2x3x4xi64>
  func.return %r, %t, %rev, %c : tensor<6x4xf32>, tensor<3x4x2xf32>, tensor<4x3x2xf32>, tensor<2x3x4xi64>
}

// CHECK-LABEL: func.func @shapes
// CHECK-NEXT:    %shape = onnx.Constant dense<[-1, 4]> : tensor<2xi64>
// CHECK-NEXT:    %r = onnx.Reshape %x, %shape : (tensor<2x3x4xf32>, tensor<2xi64>) -> tensor<6x4xf32>
// CHECK-NEXT:    %t = onnx.Transpose %x {perm = [1 : i64, 2 : i64, 0 : i64]} : (tensor<2x3x4xf32>) -> tensor<3x4x2xf32>
// CHECK-NEXT:    %rev = onnx.Transpose %x : (tensor<2x3x4xf32>) -> tensor<4x3x2xf32>
// CHECK-NEXT:    %c = onnx.Cast %x {to = 7 : i64} : (tensor<2x3x4xf32>) -> tensor<2x3x4xi64>
