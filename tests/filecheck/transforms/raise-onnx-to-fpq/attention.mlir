// RUN: fpqc-opt %s -p raise-onnx-to-fpq | filecheck %s

// VAR attention from the packed qkv to the proj input, in the TorchScript
// exporter's spelling (Split + Squeeze) and the dynamo exporter's (Slice +
// Squeeze), with the block-causal mask, another mask, no mask, and an L2
// normalisation over the wrong axis.  Masks are raw little-endian f32 (0 or
// -inf): the block-causal one for scales of 1 and 2 tokens is
// [[0, -inf, -inf], [0, 0, 0], [0, 0, 0]].

func.func @torchscript_split(%qkv: tensor<1x3x12xf32>) -> tensor<1x3x4xf32> {
  %s5 = onnx.Constant dense<[1, 3, 3, 2, 2]> : tensor<5xi64>
  %r = onnx.Reshape %qkv, %s5 : (tensor<1x3x12xf32>, tensor<5xi64>) -> tensor<1x3x3x2x2xf32>
  %t = onnx.Transpose %r {perm = [2, 0, 3, 1, 4]} : (tensor<1x3x3x2x2xf32>) -> tensor<3x1x2x3x2xf32>
  %zero = onnx.Constant dense<0> : tensor<1xi64>
  %ones = onnx.Constant dense<1> : tensor<3xi64>
  %p:3 = onnx.Split %t, %ones : (tensor<3x1x2x3x2xf32>, tensor<3xi64>) -> (tensor<1x1x2x3x2xf32>, tensor<1x1x2x3x2xf32>, tensor<1x1x2x3x2xf32>)
  %q = onnx.Squeeze %p#0, %zero : (tensor<1x1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x2xf32>
  %k = onnx.Squeeze %p#1, %zero : (tensor<1x1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x2xf32>
  %v = onnx.Squeeze %p#2, %zero : (tensor<1x1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x2xf32>
  %ax = onnx.Constant dense<-1> : tensor<1xi64>
  %eps = onnx.Constant dense<1.0e-12> : tensor<f32>
  %shape = onnx.Constant dense<[1, 2, 3, 2]> : tensor<4xi64>
  %ql2 = onnx.ReduceL2 %q, %ax : (tensor<1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x1xf32>
  %qc = onnx.Clip %ql2 min %eps : tensor<1x2x3x1xf32> min tensor<f32> -> tensor<1x2x3x1xf32>
  %qe = onnx.Expand %qc, %shape : (tensor<1x2x3x1xf32>, tensor<4xi64>) -> tensor<1x2x3x2xf32>
  %qn = onnx.Div %q, %qe : (tensor<1x2x3x2xf32>, tensor<1x2x3x2xf32>) -> tensor<1x2x3x2xf32>
  %kl2 = onnx.ReduceL2 %k, %ax : (tensor<1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x1xf32>
  %kc = onnx.Clip %kl2 min %eps : tensor<1x2x3x1xf32> min tensor<f32> -> tensor<1x2x3x1xf32>
  %ke = onnx.Expand %kc, %shape : (tensor<1x2x3x1xf32>, tensor<4xi64>) -> tensor<1x2x3x2xf32>
  %kn = onnx.Div %k, %ke : (tensor<1x2x3x2xf32>, tensor<1x2x3x2xf32>) -> tensor<1x2x3x2xf32>
  %qsc = onnx.Constant dense<[[[[4.0]], [[2.0]]]]> : tensor<1x2x1x1xf32>
  %qs = onnx.Mul %qn, %qsc : (tensor<1x2x3x2xf32>, tensor<1x2x1x1xf32>) -> tensor<1x2x3x2xf32>
  %kt = onnx.Transpose %kn {perm = [0, 1, 3, 2]} : (tensor<1x2x3x2xf32>) -> tensor<1x2x2x3xf32>
  %s = onnx.MatMul %qs, %kt : (tensor<1x2x3x2xf32>, tensor<1x2x2x3xf32>) -> tensor<1x2x3x3xf32>
  %mask = onnx.Constant dense<"0x00000000000080FF000080FF000000000000000000000000000000000000000000000000"> : tensor<1x1x3x3xf32>
  %sm = onnx.Add %s, %mask : (tensor<1x2x3x3xf32>, tensor<1x1x3x3xf32>) -> tensor<1x2x3x3xf32>
  %pr = onnx.Softmax %sm : (tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %o = onnx.MatMul %pr, %v : (tensor<1x2x3x3xf32>, tensor<1x2x3x2xf32>) -> tensor<1x2x3x2xf32>
  %ot = onnx.Transpose %o {perm = [0, 2, 1, 3]} : (tensor<1x2x3x2xf32>) -> tensor<1x3x2x2xf32>
  %s3 = onnx.Constant dense<[1, 3, 4]> : tensor<3xi64>
  %out = onnx.Reshape %ot, %s3 : (tensor<1x3x2x2xf32>, tensor<3xi64>) -> tensor<1x3x4xf32>
  func.return %out : tensor<1x3x4xf32>
}
// CHECK-LABEL: func.func @torchscript_split
// CHECK-NEXT:  %[[S:.*]] = fpq.constant dense<[4.000000e+00, 2.000000e+00]> : tensor<2xf32>
// CHECK-NEXT:  %[[O:.*]] = fpq.attention %qkv, %[[S]] {num_heads = 2 : i64, eps = 1.000000e-12 : f32, block_causal = array<i64: 0, 1, 3>} : (tensor<1x3x12xf32>, tensor<2xf32>) -> tensor<1x3x4xf32>
// CHECK-NEXT:  func.return %[[O]]


func.func @dynamo_slice(%qkv: tensor<1x3x12xf32>) -> tensor<1x3x4xf32> {
  %s5 = onnx.Constant dense<[1, 3, 3, 2, 2]> : tensor<5xi64>
  %r = onnx.Reshape %qkv, %s5 : (tensor<1x3x12xf32>, tensor<5xi64>) -> tensor<1x3x3x2x2xf32>
  %t = onnx.Transpose %r {perm = [2, 0, 3, 1, 4]} : (tensor<1x3x3x2x2xf32>) -> tensor<3x1x2x3x2xf32>
  %zero = onnx.Constant dense<0> : tensor<1xi64>
  %i0 = onnx.Constant dense<0> : tensor<1xi64>
  %i1 = onnx.Constant dense<1> : tensor<1xi64>
  %i2 = onnx.Constant dense<2> : tensor<1xi64>
  %i3 = onnx.Constant dense<3> : tensor<1xi64>
  %sl0 = onnx.Slice %t, %i0, %i1 axes %zero : tensor<3x1x2x3x2xf32>, tensor<1xi64>, tensor<1xi64> axes tensor<1xi64> -> tensor<1x1x2x3x2xf32>
  %sl1 = onnx.Slice %t, %i1, %i2 axes %zero : tensor<3x1x2x3x2xf32>, tensor<1xi64>, tensor<1xi64> axes tensor<1xi64> -> tensor<1x1x2x3x2xf32>
  %sl2 = onnx.Slice %t, %i2, %i3 axes %zero : tensor<3x1x2x3x2xf32>, tensor<1xi64>, tensor<1xi64> axes tensor<1xi64> -> tensor<1x1x2x3x2xf32>
  %q = onnx.Squeeze %sl0, %zero : (tensor<1x1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x2xf32>
  %k = onnx.Squeeze %sl1, %zero : (tensor<1x1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x2xf32>
  %v = onnx.Squeeze %sl2, %zero : (tensor<1x1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x2xf32>
  %ax = onnx.Constant dense<-1> : tensor<1xi64>
  %eps = onnx.Constant dense<1.0e-12> : tensor<f32>
  %shape = onnx.Constant dense<[1, 2, 3, 2]> : tensor<4xi64>
  %ql2 = onnx.ReduceL2 %q, %ax : (tensor<1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x1xf32>
  %qc = onnx.Clip %ql2 min %eps : tensor<1x2x3x1xf32> min tensor<f32> -> tensor<1x2x3x1xf32>
  %qe = onnx.Expand %qc, %shape : (tensor<1x2x3x1xf32>, tensor<4xi64>) -> tensor<1x2x3x2xf32>
  %qn = onnx.Div %q, %qe : (tensor<1x2x3x2xf32>, tensor<1x2x3x2xf32>) -> tensor<1x2x3x2xf32>
  %kl2 = onnx.ReduceL2 %k, %ax : (tensor<1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x1xf32>
  %kc = onnx.Clip %kl2 min %eps : tensor<1x2x3x1xf32> min tensor<f32> -> tensor<1x2x3x1xf32>
  %ke = onnx.Expand %kc, %shape : (tensor<1x2x3x1xf32>, tensor<4xi64>) -> tensor<1x2x3x2xf32>
  %kn = onnx.Div %k, %ke : (tensor<1x2x3x2xf32>, tensor<1x2x3x2xf32>) -> tensor<1x2x3x2xf32>
  %qsc = onnx.Constant dense<[[[[4.0]], [[2.0]]]]> : tensor<1x2x1x1xf32>
  %qs = onnx.Mul %qn, %qsc : (tensor<1x2x3x2xf32>, tensor<1x2x1x1xf32>) -> tensor<1x2x3x2xf32>
  %kt = onnx.Transpose %kn {perm = [0, 1, 3, 2]} : (tensor<1x2x3x2xf32>) -> tensor<1x2x2x3xf32>
  %s = onnx.MatMul %qs, %kt : (tensor<1x2x3x2xf32>, tensor<1x2x2x3xf32>) -> tensor<1x2x3x3xf32>
  %mask = onnx.Constant dense<"0x00000000000080FF000080FF000000000000000000000000000000000000000000000000"> : tensor<1x1x3x3xf32>
  %sm = onnx.Add %s, %mask : (tensor<1x2x3x3xf32>, tensor<1x1x3x3xf32>) -> tensor<1x2x3x3xf32>
  %pr = onnx.Softmax %sm : (tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %o = onnx.MatMul %pr, %v : (tensor<1x2x3x3xf32>, tensor<1x2x3x2xf32>) -> tensor<1x2x3x2xf32>
  %ot = onnx.Transpose %o {perm = [0, 2, 1, 3]} : (tensor<1x2x3x2xf32>) -> tensor<1x3x2x2xf32>
  %s3 = onnx.Constant dense<[1, 3, 4]> : tensor<3xi64>
  %out = onnx.Reshape %ot, %s3 : (tensor<1x3x2x2xf32>, tensor<3xi64>) -> tensor<1x3x4xf32>
  func.return %out : tensor<1x3x4xf32>
}
// CHECK-LABEL: func.func @dynamo_slice
// CHECK-NEXT:  fpq.constant
// CHECK-NEXT:  fpq.attention %qkv, %{{.*}} {num_heads = 2 : i64, eps = 1.000000e-12 : f32, block_causal = array<i64: 0, 1, 3>}
// CHECK-NEXT:  func.return


// A mask that is not block-causal stays an operand.

func.func @other_mask(%qkv: tensor<1x3x12xf32>) -> tensor<1x3x4xf32> {
  %s5 = onnx.Constant dense<[1, 3, 3, 2, 2]> : tensor<5xi64>
  %r = onnx.Reshape %qkv, %s5 : (tensor<1x3x12xf32>, tensor<5xi64>) -> tensor<1x3x3x2x2xf32>
  %t = onnx.Transpose %r {perm = [2, 0, 3, 1, 4]} : (tensor<1x3x3x2x2xf32>) -> tensor<3x1x2x3x2xf32>
  %zero = onnx.Constant dense<0> : tensor<1xi64>
  %ones = onnx.Constant dense<1> : tensor<3xi64>
  %p:3 = onnx.Split %t, %ones : (tensor<3x1x2x3x2xf32>, tensor<3xi64>) -> (tensor<1x1x2x3x2xf32>, tensor<1x1x2x3x2xf32>, tensor<1x1x2x3x2xf32>)
  %q = onnx.Squeeze %p#0, %zero : (tensor<1x1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x2xf32>
  %k = onnx.Squeeze %p#1, %zero : (tensor<1x1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x2xf32>
  %v = onnx.Squeeze %p#2, %zero : (tensor<1x1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x2xf32>
  %ax = onnx.Constant dense<-1> : tensor<1xi64>
  %eps = onnx.Constant dense<1.0e-12> : tensor<f32>
  %shape = onnx.Constant dense<[1, 2, 3, 2]> : tensor<4xi64>
  %ql2 = onnx.ReduceL2 %q, %ax : (tensor<1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x1xf32>
  %qc = onnx.Clip %ql2 min %eps : tensor<1x2x3x1xf32> min tensor<f32> -> tensor<1x2x3x1xf32>
  %qe = onnx.Expand %qc, %shape : (tensor<1x2x3x1xf32>, tensor<4xi64>) -> tensor<1x2x3x2xf32>
  %qn = onnx.Div %q, %qe : (tensor<1x2x3x2xf32>, tensor<1x2x3x2xf32>) -> tensor<1x2x3x2xf32>
  %kl2 = onnx.ReduceL2 %k, %ax : (tensor<1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x1xf32>
  %kc = onnx.Clip %kl2 min %eps : tensor<1x2x3x1xf32> min tensor<f32> -> tensor<1x2x3x1xf32>
  %ke = onnx.Expand %kc, %shape : (tensor<1x2x3x1xf32>, tensor<4xi64>) -> tensor<1x2x3x2xf32>
  %kn = onnx.Div %k, %ke : (tensor<1x2x3x2xf32>, tensor<1x2x3x2xf32>) -> tensor<1x2x3x2xf32>
  %qsc = onnx.Constant dense<[[[[4.0]], [[2.0]]]]> : tensor<1x2x1x1xf32>
  %qs = onnx.Mul %qn, %qsc : (tensor<1x2x3x2xf32>, tensor<1x2x1x1xf32>) -> tensor<1x2x3x2xf32>
  %kt = onnx.Transpose %kn {perm = [0, 1, 3, 2]} : (tensor<1x2x3x2xf32>) -> tensor<1x2x2x3xf32>
  %s = onnx.MatMul %qs, %kt : (tensor<1x2x3x2xf32>, tensor<1x2x2x3xf32>) -> tensor<1x2x3x3xf32>
  %mask = onnx.Constant dense<"0x00000000000080FF000080FF0000000000000000000080FF000080FF0000000000000000"> : tensor<1x1x3x3xf32>
  %sm = onnx.Add %s, %mask : (tensor<1x2x3x3xf32>, tensor<1x1x3x3xf32>) -> tensor<1x2x3x3xf32>
  %pr = onnx.Softmax %sm : (tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %o = onnx.MatMul %pr, %v : (tensor<1x2x3x3xf32>, tensor<1x2x3x2xf32>) -> tensor<1x2x3x2xf32>
  %ot = onnx.Transpose %o {perm = [0, 2, 1, 3]} : (tensor<1x2x3x2xf32>) -> tensor<1x3x2x2xf32>
  %s3 = onnx.Constant dense<[1, 3, 4]> : tensor<3xi64>
  %out = onnx.Reshape %ot, %s3 : (tensor<1x3x2x2xf32>, tensor<3xi64>) -> tensor<1x3x4xf32>
  func.return %out : tensor<1x3x4xf32>
}
// CHECK-LABEL: func.func @other_mask
// CHECK:       %[[M:.*]] = onnx.Constant dense<{{.*}}> : tensor<1x1x3x3xf32>
// CHECK:       fpq.attention %qkv, %{{.*}}, %[[M]] {num_heads = 2 : i64, eps = 1.000000e-12 : f32} : (tensor<1x3x12xf32>, tensor<2xf32>, tensor<1x1x3x3xf32>) -> tensor<1x3x4xf32>
// CHECK-NOT:   onnx.Softmax


// No mask: every query sees every key; a scalar q scale is broadcast per head.

func.func @no_mask(%qkv: tensor<1x3x12xf32>) -> tensor<1x3x4xf32> {
  %s5 = onnx.Constant dense<[1, 3, 3, 2, 2]> : tensor<5xi64>
  %r = onnx.Reshape %qkv, %s5 : (tensor<1x3x12xf32>, tensor<5xi64>) -> tensor<1x3x3x2x2xf32>
  %t = onnx.Transpose %r {perm = [2, 0, 3, 1, 4]} : (tensor<1x3x3x2x2xf32>) -> tensor<3x1x2x3x2xf32>
  %zero = onnx.Constant dense<0> : tensor<1xi64>
  %i0 = onnx.Constant dense<0> : tensor<1xi64>
  %i1 = onnx.Constant dense<1> : tensor<1xi64>
  %i2 = onnx.Constant dense<2> : tensor<1xi64>
  %i3 = onnx.Constant dense<3> : tensor<1xi64>
  %sl0 = onnx.Slice %t, %i0, %i1 axes %zero : tensor<3x1x2x3x2xf32>, tensor<1xi64>, tensor<1xi64> axes tensor<1xi64> -> tensor<1x1x2x3x2xf32>
  %sl1 = onnx.Slice %t, %i1, %i2 axes %zero : tensor<3x1x2x3x2xf32>, tensor<1xi64>, tensor<1xi64> axes tensor<1xi64> -> tensor<1x1x2x3x2xf32>
  %sl2 = onnx.Slice %t, %i2, %i3 axes %zero : tensor<3x1x2x3x2xf32>, tensor<1xi64>, tensor<1xi64> axes tensor<1xi64> -> tensor<1x1x2x3x2xf32>
  %q = onnx.Squeeze %sl0, %zero : (tensor<1x1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x2xf32>
  %k = onnx.Squeeze %sl1, %zero : (tensor<1x1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x2xf32>
  %v = onnx.Squeeze %sl2, %zero : (tensor<1x1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x2xf32>
  %ax = onnx.Constant dense<-1> : tensor<1xi64>
  %eps = onnx.Constant dense<1.0e-12> : tensor<f32>
  %shape = onnx.Constant dense<[1, 2, 3, 2]> : tensor<4xi64>
  %ql2 = onnx.ReduceL2 %q, %ax : (tensor<1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x1xf32>
  %qc = onnx.Clip %ql2 min %eps : tensor<1x2x3x1xf32> min tensor<f32> -> tensor<1x2x3x1xf32>
  %qe = onnx.Expand %qc, %shape : (tensor<1x2x3x1xf32>, tensor<4xi64>) -> tensor<1x2x3x2xf32>
  %qn = onnx.Div %q, %qe : (tensor<1x2x3x2xf32>, tensor<1x2x3x2xf32>) -> tensor<1x2x3x2xf32>
  %kl2 = onnx.ReduceL2 %k, %ax : (tensor<1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x1xf32>
  %kc = onnx.Clip %kl2 min %eps : tensor<1x2x3x1xf32> min tensor<f32> -> tensor<1x2x3x1xf32>
  %ke = onnx.Expand %kc, %shape : (tensor<1x2x3x1xf32>, tensor<4xi64>) -> tensor<1x2x3x2xf32>
  %kn = onnx.Div %k, %ke : (tensor<1x2x3x2xf32>, tensor<1x2x3x2xf32>) -> tensor<1x2x3x2xf32>
  %qsc = onnx.Constant dense<3.0> : tensor<f32>
  %qs = onnx.Mul %qn, %qsc : (tensor<1x2x3x2xf32>, tensor<f32>) -> tensor<1x2x3x2xf32>
  %kt = onnx.Transpose %kn {perm = [0, 1, 3, 2]} : (tensor<1x2x3x2xf32>) -> tensor<1x2x2x3xf32>
  %s = onnx.MatMul %qs, %kt : (tensor<1x2x3x2xf32>, tensor<1x2x2x3xf32>) -> tensor<1x2x3x3xf32>
  %pr = onnx.Softmax %s : (tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %o = onnx.MatMul %pr, %v : (tensor<1x2x3x3xf32>, tensor<1x2x3x2xf32>) -> tensor<1x2x3x2xf32>
  %ot = onnx.Transpose %o {perm = [0, 2, 1, 3]} : (tensor<1x2x3x2xf32>) -> tensor<1x3x2x2xf32>
  %s3 = onnx.Constant dense<[1, 3, 4]> : tensor<3xi64>
  %out = onnx.Reshape %ot, %s3 : (tensor<1x3x2x2xf32>, tensor<3xi64>) -> tensor<1x3x4xf32>
  func.return %out : tensor<1x3x4xf32>
}
// CHECK-LABEL: func.func @no_mask
// CHECK:       fpq.constant dense<3.000000e+00> : tensor<2xf32>
// CHECK-NEXT:  fpq.attention %qkv, %{{.*}} {num_heads = 2 : i64, eps = 1.000000e-12 : f32} : (tensor<1x3x12xf32>, tensor<2xf32>) -> tensor<1x3x4xf32>


// L2 norm over the token axis instead of the channels: not VAR's attention.

func.func @l2_wrong_axis(%qkv: tensor<1x3x12xf32>) -> tensor<1x3x4xf32> {
  %s5 = onnx.Constant dense<[1, 3, 3, 2, 2]> : tensor<5xi64>
  %r = onnx.Reshape %qkv, %s5 : (tensor<1x3x12xf32>, tensor<5xi64>) -> tensor<1x3x3x2x2xf32>
  %t = onnx.Transpose %r {perm = [2, 0, 3, 1, 4]} : (tensor<1x3x3x2x2xf32>) -> tensor<3x1x2x3x2xf32>
  %zero = onnx.Constant dense<0> : tensor<1xi64>
  %ones = onnx.Constant dense<1> : tensor<3xi64>
  %p:3 = onnx.Split %t, %ones : (tensor<3x1x2x3x2xf32>, tensor<3xi64>) -> (tensor<1x1x2x3x2xf32>, tensor<1x1x2x3x2xf32>, tensor<1x1x2x3x2xf32>)
  %q = onnx.Squeeze %p#0, %zero : (tensor<1x1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x2xf32>
  %k = onnx.Squeeze %p#1, %zero : (tensor<1x1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x2xf32>
  %v = onnx.Squeeze %p#2, %zero : (tensor<1x1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x2xf32>
  %ax = onnx.Constant dense<2> : tensor<1xi64>
  %eps = onnx.Constant dense<1.0e-12> : tensor<f32>
  %shape = onnx.Constant dense<[1, 2, 3, 2]> : tensor<4xi64>
  %ql2 = onnx.ReduceL2 %q, %ax : (tensor<1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x1x2xf32>
  %qc = onnx.Clip %ql2 min %eps : tensor<1x2x1x2xf32> min tensor<f32> -> tensor<1x2x1x2xf32>
  %qe = onnx.Expand %qc, %shape : (tensor<1x2x1x2xf32>, tensor<4xi64>) -> tensor<1x2x3x2xf32>
  %qn = onnx.Div %q, %qe : (tensor<1x2x3x2xf32>, tensor<1x2x3x2xf32>) -> tensor<1x2x3x2xf32>
  %kl2 = onnx.ReduceL2 %k, %ax : (tensor<1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x1x2xf32>
  %kc = onnx.Clip %kl2 min %eps : tensor<1x2x1x2xf32> min tensor<f32> -> tensor<1x2x1x2xf32>
  %ke = onnx.Expand %kc, %shape : (tensor<1x2x1x2xf32>, tensor<4xi64>) -> tensor<1x2x3x2xf32>
  %kn = onnx.Div %k, %ke : (tensor<1x2x3x2xf32>, tensor<1x2x3x2xf32>) -> tensor<1x2x3x2xf32>
  %qsc = onnx.Constant dense<[[[[4.0]], [[2.0]]]]> : tensor<1x2x1x1xf32>
  %qs = onnx.Mul %qn, %qsc : (tensor<1x2x3x2xf32>, tensor<1x2x1x1xf32>) -> tensor<1x2x3x2xf32>
  %kt = onnx.Transpose %kn {perm = [0, 1, 3, 2]} : (tensor<1x2x3x2xf32>) -> tensor<1x2x2x3xf32>
  %s = onnx.MatMul %qs, %kt : (tensor<1x2x3x2xf32>, tensor<1x2x2x3xf32>) -> tensor<1x2x3x3xf32>
  %mask = onnx.Constant dense<"0x00000000000080FF000080FF000000000000000000000000000000000000000000000000"> : tensor<1x1x3x3xf32>
  %sm = onnx.Add %s, %mask : (tensor<1x2x3x3xf32>, tensor<1x1x3x3xf32>) -> tensor<1x2x3x3xf32>
  %pr = onnx.Softmax %sm : (tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %o = onnx.MatMul %pr, %v : (tensor<1x2x3x3xf32>, tensor<1x2x3x2xf32>) -> tensor<1x2x3x2xf32>
  %ot = onnx.Transpose %o {perm = [0, 2, 1, 3]} : (tensor<1x2x3x2xf32>) -> tensor<1x3x2x2xf32>
  %s3 = onnx.Constant dense<[1, 3, 4]> : tensor<3xi64>
  %out = onnx.Reshape %ot, %s3 : (tensor<1x3x2x2xf32>, tensor<3xi64>) -> tensor<1x3x4xf32>
  func.return %out : tensor<1x3x4xf32>
}
// CHECK-LABEL: func.func @l2_wrong_axis
// CHECK-NOT:   fpq.attention
// CHECK:       onnx.Softmax
// CHECK-NOT:   fpq.attention
// CHECK:       func.return

