// RUN: fpqc-opt %s -p raise-onnx-to-fpq | filecheck %s

// The spellings of VAR's attention that the torch exporters write, beyond
// attention.mlir's: scale factors around q·kᵀ, masks applied with Where, the
// softmax's NaN guard.  q and k are normalised without the Expand (the Div
// broadcasts); the block-causal mask is that of scales of 1 and 2 tokens,
// keys [[0], [0, 1, 2], [0, 1, 2]].

// F.scaled_dot_product_attention(q, k, v, scale=0.25, attn_mask=bias) through
// either exporter: Mul(q, √s) and Mul(kᵀ, √s) around the MatMul.  The factors
// fold into the per-head q scale: [4, 2] · 0.5 · 0.5.
func.func @sdpa_scale(%qkv: tensor<1x3x12xf32>) -> tensor<1x3x4xf32> {
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
  %ql2 = onnx.ReduceL2 %q, %ax : (tensor<1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x1xf32>
  %qc = onnx.Clip %ql2 min %eps : tensor<1x2x3x1xf32> min tensor<f32> -> tensor<1x2x3x1xf32>
  %qn = onnx.Div %q, %qc : (tensor<1x2x3x2xf32>, tensor<1x2x3x1xf32>) -> tensor<1x2x3x2xf32>
  %kl2 = onnx.ReduceL2 %k, %ax : (tensor<1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x1xf32>
  %kc = onnx.Clip %kl2 min %eps : tensor<1x2x3x1xf32> min tensor<f32> -> tensor<1x2x3x1xf32>
  %kn = onnx.Div %k, %kc : (tensor<1x2x3x2xf32>, tensor<1x2x3x1xf32>) -> tensor<1x2x3x2xf32>
  %qsc = onnx.Constant dense<[[[[4.0]], [[2.0]]]]> : tensor<1x2x1x1xf32>
  %qs = onnx.Mul %qn, %qsc : (tensor<1x2x3x2xf32>, tensor<1x2x1x1xf32>) -> tensor<1x2x3x2xf32>
  %kt = onnx.Transpose %kn {perm = [0, 1, 3, 2]} : (tensor<1x2x3x2xf32>) -> tensor<1x2x2x3xf32>
  %root = onnx.Constant dense<0.5> : tensor<f32>
  %qr = onnx.Mul %qs, %root : (tensor<1x2x3x2xf32>, tensor<f32>) -> tensor<1x2x3x2xf32>
  %ktr = onnx.Mul %kt, %root : (tensor<1x2x2x3xf32>, tensor<f32>) -> tensor<1x2x2x3xf32>
  %s = onnx.MatMul %qr, %ktr : (tensor<1x2x3x2xf32>, tensor<1x2x2x3xf32>) -> tensor<1x2x3x3xf32>
  %mask = onnx.Constant dense<"0x00000000000080FF000080FF000000000000000000000000000000000000000000000000"> : tensor<1x1x3x3xf32>
  %sm = onnx.Add %s, %mask : (tensor<1x2x3x3xf32>, tensor<1x1x3x3xf32>) -> tensor<1x2x3x3xf32>
  %pr = onnx.Softmax %sm : (tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %o = onnx.MatMul %pr, %v : (tensor<1x2x3x3xf32>, tensor<1x2x3x2xf32>) -> tensor<1x2x3x2xf32>
  %ot = onnx.Transpose %o {perm = [0, 2, 1, 3]} : (tensor<1x2x3x2xf32>) -> tensor<1x3x2x2xf32>
  %s3 = onnx.Constant dense<[1, 3, 4]> : tensor<3xi64>
  %out = onnx.Reshape %ot, %s3 : (tensor<1x3x2x2xf32>, tensor<3xi64>) -> tensor<1x3x4xf32>
  func.return %out : tensor<1x3x4xf32>
}
// CHECK-LABEL: func.func @sdpa_scale
// CHECK-NEXT:  %[[S:.*]] = fpq.constant dense<[1.000000e+00, 5.000000e-01]> : tensor<2xf32>
// CHECK-NEXT:  %[[O:.*]] = fpq.attention %qkv, %[[S]] {num_heads = 2 : i64, eps = 1.000000e-12 : f32, block_causal = array<i64: 0, 1, 3>} : (tensor<1x3x12xf32>, tensor<2xf32>) -> tensor<1x3x4xf32>
// CHECK-NEXT:  func.return %[[O]]

// A scale anywhere between the normalisations and the MatMul, or on the scores
// (q·kᵀ / 2, as `attn = q @ k.transpose(-2, -1) / 2` writes it), with the mask
// added on the left: [4, 2] · 3 / 2.
func.func @scores_scale(%qkv: tensor<1x3x12xf32>) -> tensor<1x3x4xf32> {
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
  %ql2 = onnx.ReduceL2 %q, %ax : (tensor<1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x1xf32>
  %qc = onnx.Clip %ql2 min %eps : tensor<1x2x3x1xf32> min tensor<f32> -> tensor<1x2x3x1xf32>
  %qn = onnx.Div %q, %qc : (tensor<1x2x3x2xf32>, tensor<1x2x3x1xf32>) -> tensor<1x2x3x2xf32>
  %kl2 = onnx.ReduceL2 %k, %ax : (tensor<1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x1xf32>
  %kc = onnx.Clip %kl2 min %eps : tensor<1x2x3x1xf32> min tensor<f32> -> tensor<1x2x3x1xf32>
  %kn = onnx.Div %k, %kc : (tensor<1x2x3x2xf32>, tensor<1x2x3x1xf32>) -> tensor<1x2x3x2xf32>
  %qsc = onnx.Constant dense<[[[[4.0]], [[2.0]]]]> : tensor<1x2x1x1xf32>
  %qs = onnx.Mul %qn, %qsc : (tensor<1x2x3x2xf32>, tensor<1x2x1x1xf32>) -> tensor<1x2x3x2xf32>
  %kt = onnx.Transpose %kn {perm = [0, 1, 3, 2]} : (tensor<1x2x3x2xf32>) -> tensor<1x2x2x3xf32>
  %three = onnx.Constant dense<3.0> : tensor<f32>
  %two = onnx.Constant dense<2.0> : tensor<f32>
  %k3 = onnx.Mul %three, %kt : (tensor<f32>, tensor<1x2x2x3xf32>) -> tensor<1x2x2x3xf32>
  %s = onnx.MatMul %qs, %k3 : (tensor<1x2x3x2xf32>, tensor<1x2x2x3xf32>) -> tensor<1x2x3x3xf32>
  %half = onnx.Div %s, %two : (tensor<1x2x3x3xf32>, tensor<f32>) -> tensor<1x2x3x3xf32>
  %mask = onnx.Constant dense<"0x00000000000080FF000080FF000000000000000000000000000000000000000000000000"> : tensor<1x1x3x3xf32>
  %sm = onnx.Add %mask, %half : (tensor<1x1x3x3xf32>, tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %pr = onnx.Softmax %sm : (tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %o = onnx.MatMul %pr, %v : (tensor<1x2x3x3xf32>, tensor<1x2x3x2xf32>) -> tensor<1x2x3x2xf32>
  %ot = onnx.Transpose %o {perm = [0, 2, 1, 3]} : (tensor<1x2x3x2xf32>) -> tensor<1x3x2x2xf32>
  %s3 = onnx.Constant dense<[1, 3, 4]> : tensor<3xi64>
  %out = onnx.Reshape %ot, %s3 : (tensor<1x3x2x2xf32>, tensor<3xi64>) -> tensor<1x3x4xf32>
  func.return %out : tensor<1x3x4xf32>
}
// CHECK-LABEL: func.func @scores_scale
// CHECK-NEXT:  fpq.constant dense<[6.000000e+00, 3.000000e+00]> : tensor<2xf32>
// CHECK-NEXT:  fpq.attention %qkv, %{{.*}} {num_heads = 2 : i64, eps = 1.000000e-12 : f32, block_causal = array<i64: 0, 1, 3>}
// CHECK-NEXT:  func.return

// scores.masked_fill(blocked, -inf): Where(blocked, -inf, scores) with a
// constant boolean mask of the block-causal form.
func.func @masked_fill(%qkv: tensor<1x3x12xf32>) -> tensor<1x3x4xf32> {
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
  %ql2 = onnx.ReduceL2 %q, %ax : (tensor<1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x1xf32>
  %qc = onnx.Clip %ql2 min %eps : tensor<1x2x3x1xf32> min tensor<f32> -> tensor<1x2x3x1xf32>
  %qn = onnx.Div %q, %qc : (tensor<1x2x3x2xf32>, tensor<1x2x3x1xf32>) -> tensor<1x2x3x2xf32>
  %kl2 = onnx.ReduceL2 %k, %ax : (tensor<1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x1xf32>
  %kc = onnx.Clip %kl2 min %eps : tensor<1x2x3x1xf32> min tensor<f32> -> tensor<1x2x3x1xf32>
  %kn = onnx.Div %k, %kc : (tensor<1x2x3x2xf32>, tensor<1x2x3x1xf32>) -> tensor<1x2x3x2xf32>
  %qsc = onnx.Constant dense<[[[[4.0]], [[2.0]]]]> : tensor<1x2x1x1xf32>
  %qs = onnx.Mul %qn, %qsc : (tensor<1x2x3x2xf32>, tensor<1x2x1x1xf32>) -> tensor<1x2x3x2xf32>
  %kt = onnx.Transpose %kn {perm = [0, 1, 3, 2]} : (tensor<1x2x3x2xf32>) -> tensor<1x2x2x3xf32>
  %s = onnx.MatMul %qs, %kt : (tensor<1x2x3x2xf32>, tensor<1x2x2x3xf32>) -> tensor<1x2x3x3xf32>
  %blocked = onnx.Constant dense<[[[[false, true, true], [false, false, false], [false, false, false]]]]> : tensor<1x1x3x3xi1>
  %ninf = onnx.Constant dense<"0x000080FF"> : tensor<f32>
  %sm = onnx.Where %blocked, %ninf, %s : (tensor<1x1x3x3xi1>, tensor<f32>, tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %pr = onnx.Softmax %sm : (tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %o = onnx.MatMul %pr, %v : (tensor<1x2x3x3xf32>, tensor<1x2x3x2xf32>) -> tensor<1x2x3x2xf32>
  %ot = onnx.Transpose %o {perm = [0, 2, 1, 3]} : (tensor<1x2x3x2xf32>) -> tensor<1x3x2x2xf32>
  %s3 = onnx.Constant dense<[1, 3, 4]> : tensor<3xi64>
  %out = onnx.Reshape %ot, %s3 : (tensor<1x3x2x2xf32>, tensor<3xi64>) -> tensor<1x3x4xf32>
  func.return %out : tensor<1x3x4xf32>
}
// CHECK-LABEL: func.func @masked_fill
// CHECK-NEXT:  fpq.constant dense<[4.000000e+00, 2.000000e+00]> : tensor<2xf32>
// CHECK-NEXT:  fpq.attention %qkv, %{{.*}} {num_heads = 2 : i64, eps = 1.000000e-12 : f32, block_causal = array<i64: 0, 1, 3>}
// CHECK-NEXT:  func.return

// SDPA with a boolean attn_mask through the dynamo exporter: the mask folded to
// 0 / finfo(float32).min and added, and the softmax guarded by
// Where(IsNaN(p), 0, p).  Every row sees a key, so the guard changes nothing.
func.func @sdpa_bool_mask_folded(%qkv: tensor<1x3x12xf32>) -> tensor<1x3x4xf32> {
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
  %ql2 = onnx.ReduceL2 %q, %ax : (tensor<1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x1xf32>
  %qc = onnx.Clip %ql2 min %eps : tensor<1x2x3x1xf32> min tensor<f32> -> tensor<1x2x3x1xf32>
  %qn = onnx.Div %q, %qc : (tensor<1x2x3x2xf32>, tensor<1x2x3x1xf32>) -> tensor<1x2x3x2xf32>
  %kl2 = onnx.ReduceL2 %k, %ax : (tensor<1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x1xf32>
  %kc = onnx.Clip %kl2 min %eps : tensor<1x2x3x1xf32> min tensor<f32> -> tensor<1x2x3x1xf32>
  %kn = onnx.Div %k, %kc : (tensor<1x2x3x2xf32>, tensor<1x2x3x1xf32>) -> tensor<1x2x3x2xf32>
  %qsc = onnx.Constant dense<[[[[4.0]], [[2.0]]]]> : tensor<1x2x1x1xf32>
  %qs = onnx.Mul %qn, %qsc : (tensor<1x2x3x2xf32>, tensor<1x2x1x1xf32>) -> tensor<1x2x3x2xf32>
  %kt = onnx.Transpose %kn {perm = [0, 1, 3, 2]} : (tensor<1x2x3x2xf32>) -> tensor<1x2x2x3xf32>
  %s = onnx.MatMul %qs, %kt : (tensor<1x2x3x2xf32>, tensor<1x2x2x3xf32>) -> tensor<1x2x3x3xf32>
  %mask = onnx.Constant dense<[[[[0.0, -3.40282347e+38, -3.40282347e+38], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]]]> : tensor<1x1x3x3xf32>
  %sm = onnx.Add %s, %mask : (tensor<1x2x3x3xf32>, tensor<1x1x3x3xf32>) -> tensor<1x2x3x3xf32>
  %pr = onnx.Softmax %sm : (tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %nan = onnx.IsNaN %pr : (tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xi1>
  %fzero = onnx.Constant dense<0.0> : tensor<f32>
  %pg = onnx.Where %nan, %fzero, %pr : (tensor<1x2x3x3xi1>, tensor<f32>, tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %o = onnx.MatMul %pg, %v : (tensor<1x2x3x3xf32>, tensor<1x2x3x2xf32>) -> tensor<1x2x3x2xf32>
  %ot = onnx.Transpose %o {perm = [0, 2, 1, 3]} : (tensor<1x2x3x2xf32>) -> tensor<1x3x2x2xf32>
  %s3 = onnx.Constant dense<[1, 3, 4]> : tensor<3xi64>
  %out = onnx.Reshape %ot, %s3 : (tensor<1x3x2x2xf32>, tensor<3xi64>) -> tensor<1x3x4xf32>
  func.return %out : tensor<1x3x4xf32>
}
// CHECK-LABEL: func.func @sdpa_bool_mask_folded
// CHECK-NEXT:  fpq.constant dense<[4.000000e+00, 2.000000e+00]> : tensor<2xf32>
// CHECK-NEXT:  fpq.attention %qkv, %{{.*}} {num_heads = 2 : i64, eps = 1.000000e-12 : f32, block_causal = array<i64: 0, 1, 3>}
// CHECK-NEXT:  func.return

// The same without the exporter's constant folding: Where(attend, 0, -inf)
// is the additive mask.
func.func @sdpa_bool_mask(%qkv: tensor<1x3x12xf32>) -> tensor<1x3x4xf32> {
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
  %ql2 = onnx.ReduceL2 %q, %ax : (tensor<1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x1xf32>
  %qc = onnx.Clip %ql2 min %eps : tensor<1x2x3x1xf32> min tensor<f32> -> tensor<1x2x3x1xf32>
  %qn = onnx.Div %q, %qc : (tensor<1x2x3x2xf32>, tensor<1x2x3x1xf32>) -> tensor<1x2x3x2xf32>
  %kl2 = onnx.ReduceL2 %k, %ax : (tensor<1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x1xf32>
  %kc = onnx.Clip %kl2 min %eps : tensor<1x2x3x1xf32> min tensor<f32> -> tensor<1x2x3x1xf32>
  %kn = onnx.Div %k, %kc : (tensor<1x2x3x2xf32>, tensor<1x2x3x1xf32>) -> tensor<1x2x3x2xf32>
  %qsc = onnx.Constant dense<[[[[4.0]], [[2.0]]]]> : tensor<1x2x1x1xf32>
  %qs = onnx.Mul %qn, %qsc : (tensor<1x2x3x2xf32>, tensor<1x2x1x1xf32>) -> tensor<1x2x3x2xf32>
  %kt = onnx.Transpose %kn {perm = [0, 1, 3, 2]} : (tensor<1x2x3x2xf32>) -> tensor<1x2x2x3xf32>
  %s = onnx.MatMul %qs, %kt : (tensor<1x2x3x2xf32>, tensor<1x2x2x3xf32>) -> tensor<1x2x3x3xf32>
  %attend = onnx.Constant dense<[[[[true, false, false], [true, true, true], [true, true, true]]]]> : tensor<1x1x3x3xi1>
  %ninf = onnx.Constant dense<"0x000080FF"> : tensor<f32>
  %fz = onnx.Constant dense<0.0> : tensor<f32>
  %mask = onnx.Where %attend, %fz, %ninf : (tensor<1x1x3x3xi1>, tensor<f32>, tensor<f32>) -> tensor<1x1x3x3xf32>
  %sm = onnx.Add %s, %mask : (tensor<1x2x3x3xf32>, tensor<1x1x3x3xf32>) -> tensor<1x2x3x3xf32>
  %pr = onnx.Softmax %sm : (tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %nan = onnx.IsNaN %pr : (tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xi1>
  %fzero = onnx.Constant dense<0.0> : tensor<f32>
  %pg = onnx.Where %nan, %fzero, %pr : (tensor<1x2x3x3xi1>, tensor<f32>, tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %o = onnx.MatMul %pg, %v : (tensor<1x2x3x3xf32>, tensor<1x2x3x2xf32>) -> tensor<1x2x3x2xf32>
  %ot = onnx.Transpose %o {perm = [0, 2, 1, 3]} : (tensor<1x2x3x2xf32>) -> tensor<1x3x2x2xf32>
  %s3 = onnx.Constant dense<[1, 3, 4]> : tensor<3xi64>
  %out = onnx.Reshape %ot, %s3 : (tensor<1x3x2x2xf32>, tensor<3xi64>) -> tensor<1x3x4xf32>
  func.return %out : tensor<1x3x4xf32>
}
// CHECK-LABEL: func.func @sdpa_bool_mask
// CHECK-NEXT:  fpq.constant dense<[4.000000e+00, 2.000000e+00]> : tensor<2xf32>
// CHECK-NEXT:  fpq.attention %qkv, %{{.*}} {num_heads = 2 : i64, eps = 1.000000e-12 : f32, block_causal = array<i64: 0, 1, 3>}
// CHECK-NEXT:  func.return

// Where(attend, scores, -inf) with a boolean mask that is not block-causal:
// the mask becomes the additive 0 / -inf operand.
func.func @where_other_mask(%qkv: tensor<1x3x12xf32>) -> tensor<1x3x4xf32> {
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
  %ql2 = onnx.ReduceL2 %q, %ax : (tensor<1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x1xf32>
  %qc = onnx.Clip %ql2 min %eps : tensor<1x2x3x1xf32> min tensor<f32> -> tensor<1x2x3x1xf32>
  %qn = onnx.Div %q, %qc : (tensor<1x2x3x2xf32>, tensor<1x2x3x1xf32>) -> tensor<1x2x3x2xf32>
  %kl2 = onnx.ReduceL2 %k, %ax : (tensor<1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x1xf32>
  %kc = onnx.Clip %kl2 min %eps : tensor<1x2x3x1xf32> min tensor<f32> -> tensor<1x2x3x1xf32>
  %kn = onnx.Div %k, %kc : (tensor<1x2x3x2xf32>, tensor<1x2x3x1xf32>) -> tensor<1x2x3x2xf32>
  %qsc = onnx.Constant dense<[[[[4.0]], [[2.0]]]]> : tensor<1x2x1x1xf32>
  %qs = onnx.Mul %qn, %qsc : (tensor<1x2x3x2xf32>, tensor<1x2x1x1xf32>) -> tensor<1x2x3x2xf32>
  %kt = onnx.Transpose %kn {perm = [0, 1, 3, 2]} : (tensor<1x2x3x2xf32>) -> tensor<1x2x2x3xf32>
  %s = onnx.MatMul %qs, %kt : (tensor<1x2x3x2xf32>, tensor<1x2x2x3xf32>) -> tensor<1x2x3x3xf32>
  %attend = onnx.Constant dense<[[[[true, false, true], [true, true, false], [true, true, true]]]]> : tensor<1x1x3x3xi1>
  %ninf = onnx.Constant dense<"0x000080FF"> : tensor<f32>
  %sm = onnx.Where %attend, %s, %ninf : (tensor<1x1x3x3xi1>, tensor<1x2x3x3xf32>, tensor<f32>) -> tensor<1x2x3x3xf32>
  %pr = onnx.Softmax %sm : (tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %o = onnx.MatMul %pr, %v : (tensor<1x2x3x3xf32>, tensor<1x2x3x2xf32>) -> tensor<1x2x3x2xf32>
  %ot = onnx.Transpose %o {perm = [0, 2, 1, 3]} : (tensor<1x2x3x2xf32>) -> tensor<1x3x2x2xf32>
  %s3 = onnx.Constant dense<[1, 3, 4]> : tensor<3xi64>
  %out = onnx.Reshape %ot, %s3 : (tensor<1x3x2x2xf32>, tensor<3xi64>) -> tensor<1x3x4xf32>
  func.return %out : tensor<1x3x4xf32>
}
// CHECK-LABEL: func.func @where_other_mask
// CHECK-NEXT:  %[[S:.*]] = fpq.constant dense<[4.000000e+00, 2.000000e+00]> : tensor<2xf32>
// CHECK-NEXT:  %[[M:.*]] = fpq.constant dense<[[[[0.000000e+00, 0xff800000, 0.000000e+00], [0.000000e+00, 0.000000e+00, 0xff800000], [0.000000e+00, 0.000000e+00, 0.000000e+00]]]]> : tensor<1x1x3x3xf32>
// CHECK-NEXT:  fpq.attention %qkv, %[[S]], %[[M]] {num_heads = 2 : i64, eps = 1.000000e-12 : f32} : (tensor<1x3x12xf32>, tensor<2xf32>, tensor<1x1x3x3xf32>) -> tensor<1x3x4xf32>
// CHECK-NEXT:  func.return

// A boolean mask that is not a constant: not raised (it cannot be made additive
// at compile time).
func.func @runtime_boolean_mask(%qkv: tensor<1x3x12xf32>, %attend: tensor<1x1x3x3xi1>) -> tensor<1x3x4xf32> {
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
  %ql2 = onnx.ReduceL2 %q, %ax : (tensor<1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x1xf32>
  %qc = onnx.Clip %ql2 min %eps : tensor<1x2x3x1xf32> min tensor<f32> -> tensor<1x2x3x1xf32>
  %qn = onnx.Div %q, %qc : (tensor<1x2x3x2xf32>, tensor<1x2x3x1xf32>) -> tensor<1x2x3x2xf32>
  %kl2 = onnx.ReduceL2 %k, %ax : (tensor<1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x1xf32>
  %kc = onnx.Clip %kl2 min %eps : tensor<1x2x3x1xf32> min tensor<f32> -> tensor<1x2x3x1xf32>
  %kn = onnx.Div %k, %kc : (tensor<1x2x3x2xf32>, tensor<1x2x3x1xf32>) -> tensor<1x2x3x2xf32>
  %qsc = onnx.Constant dense<[[[[4.0]], [[2.0]]]]> : tensor<1x2x1x1xf32>
  %qs = onnx.Mul %qn, %qsc : (tensor<1x2x3x2xf32>, tensor<1x2x1x1xf32>) -> tensor<1x2x3x2xf32>
  %kt = onnx.Transpose %kn {perm = [0, 1, 3, 2]} : (tensor<1x2x3x2xf32>) -> tensor<1x2x2x3xf32>
  %s = onnx.MatMul %qs, %kt : (tensor<1x2x3x2xf32>, tensor<1x2x2x3xf32>) -> tensor<1x2x3x3xf32>
  %ninf = onnx.Constant dense<"0x000080FF"> : tensor<f32>
  %sm = onnx.Where %attend, %s, %ninf : (tensor<1x1x3x3xi1>, tensor<1x2x3x3xf32>, tensor<f32>) -> tensor<1x2x3x3xf32>
  %pr = onnx.Softmax %sm : (tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %o = onnx.MatMul %pr, %v : (tensor<1x2x3x3xf32>, tensor<1x2x3x2xf32>) -> tensor<1x2x3x2xf32>
  %ot = onnx.Transpose %o {perm = [0, 2, 1, 3]} : (tensor<1x2x3x2xf32>) -> tensor<1x3x2x2xf32>
  %s3 = onnx.Constant dense<[1, 3, 4]> : tensor<3xi64>
  %out = onnx.Reshape %ot, %s3 : (tensor<1x3x2x2xf32>, tensor<3xi64>) -> tensor<1x3x4xf32>
  func.return %out : tensor<1x3x4xf32>
}
// CHECK-LABEL: func.func @runtime_boolean_mask
// CHECK-NOT:   fpq.attention
// CHECK:       onnx.Softmax
// CHECK-NOT:   fpq.attention
// CHECK:       func.return

// The NaN guard with a mask that is not a constant: a row might be all masked,
// where the guard makes the probabilities 0 and fpq.attention would not.
func.func @guard_with_runtime_mask(%qkv: tensor<1x3x12xf32>, %mask: tensor<1x1x3x3xf32>) -> tensor<1x3x4xf32> {
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
  %ql2 = onnx.ReduceL2 %q, %ax : (tensor<1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x1xf32>
  %qc = onnx.Clip %ql2 min %eps : tensor<1x2x3x1xf32> min tensor<f32> -> tensor<1x2x3x1xf32>
  %qn = onnx.Div %q, %qc : (tensor<1x2x3x2xf32>, tensor<1x2x3x1xf32>) -> tensor<1x2x3x2xf32>
  %kl2 = onnx.ReduceL2 %k, %ax : (tensor<1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x1xf32>
  %kc = onnx.Clip %kl2 min %eps : tensor<1x2x3x1xf32> min tensor<f32> -> tensor<1x2x3x1xf32>
  %kn = onnx.Div %k, %kc : (tensor<1x2x3x2xf32>, tensor<1x2x3x1xf32>) -> tensor<1x2x3x2xf32>
  %qsc = onnx.Constant dense<[[[[4.0]], [[2.0]]]]> : tensor<1x2x1x1xf32>
  %qs = onnx.Mul %qn, %qsc : (tensor<1x2x3x2xf32>, tensor<1x2x1x1xf32>) -> tensor<1x2x3x2xf32>
  %kt = onnx.Transpose %kn {perm = [0, 1, 3, 2]} : (tensor<1x2x3x2xf32>) -> tensor<1x2x2x3xf32>
  %s = onnx.MatMul %qs, %kt : (tensor<1x2x3x2xf32>, tensor<1x2x2x3xf32>) -> tensor<1x2x3x3xf32>
  %sm = onnx.Add %s, %mask : (tensor<1x2x3x3xf32>, tensor<1x1x3x3xf32>) -> tensor<1x2x3x3xf32>
  %pr = onnx.Softmax %sm : (tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %nan = onnx.IsNaN %pr : (tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xi1>
  %fzero = onnx.Constant dense<0.0> : tensor<f32>
  %pg = onnx.Where %nan, %fzero, %pr : (tensor<1x2x3x3xi1>, tensor<f32>, tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %o = onnx.MatMul %pg, %v : (tensor<1x2x3x3xf32>, tensor<1x2x3x2xf32>) -> tensor<1x2x3x2xf32>
  %ot = onnx.Transpose %o {perm = [0, 2, 1, 3]} : (tensor<1x2x3x2xf32>) -> tensor<1x3x2x2xf32>
  %s3 = onnx.Constant dense<[1, 3, 4]> : tensor<3xi64>
  %out = onnx.Reshape %ot, %s3 : (tensor<1x3x2x2xf32>, tensor<3xi64>) -> tensor<1x3x4xf32>
  func.return %out : tensor<1x3x4xf32>
}
// CHECK-LABEL: func.func @guard_with_runtime_mask
// CHECK-NOT:   fpq.attention
// CHECK:       onnx.Softmax
// CHECK-NOT:   fpq.attention
// CHECK:       func.return

// The NaN guard with a constant mask whose first row masks every key: not raised.
func.func @guard_all_masked_row(%qkv: tensor<1x3x12xf32>) -> tensor<1x3x4xf32> {
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
  %ql2 = onnx.ReduceL2 %q, %ax : (tensor<1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x1xf32>
  %qc = onnx.Clip %ql2 min %eps : tensor<1x2x3x1xf32> min tensor<f32> -> tensor<1x2x3x1xf32>
  %qn = onnx.Div %q, %qc : (tensor<1x2x3x2xf32>, tensor<1x2x3x1xf32>) -> tensor<1x2x3x2xf32>
  %kl2 = onnx.ReduceL2 %k, %ax : (tensor<1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x1xf32>
  %kc = onnx.Clip %kl2 min %eps : tensor<1x2x3x1xf32> min tensor<f32> -> tensor<1x2x3x1xf32>
  %kn = onnx.Div %k, %kc : (tensor<1x2x3x2xf32>, tensor<1x2x3x1xf32>) -> tensor<1x2x3x2xf32>
  %qsc = onnx.Constant dense<[[[[4.0]], [[2.0]]]]> : tensor<1x2x1x1xf32>
  %qs = onnx.Mul %qn, %qsc : (tensor<1x2x3x2xf32>, tensor<1x2x1x1xf32>) -> tensor<1x2x3x2xf32>
  %kt = onnx.Transpose %kn {perm = [0, 1, 3, 2]} : (tensor<1x2x3x2xf32>) -> tensor<1x2x2x3xf32>
  %s = onnx.MatMul %qs, %kt : (tensor<1x2x3x2xf32>, tensor<1x2x2x3xf32>) -> tensor<1x2x3x3xf32>
  %mask = onnx.Constant dense<"0x000080FF000080FF000080FF000000000000000000000000000000000000000000000000"> : tensor<1x1x3x3xf32>
  %sm = onnx.Add %s, %mask : (tensor<1x2x3x3xf32>, tensor<1x1x3x3xf32>) -> tensor<1x2x3x3xf32>
  %pr = onnx.Softmax %sm : (tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %nan = onnx.IsNaN %pr : (tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xi1>
  %fzero = onnx.Constant dense<0.0> : tensor<f32>
  %pg = onnx.Where %nan, %fzero, %pr : (tensor<1x2x3x3xi1>, tensor<f32>, tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %o = onnx.MatMul %pg, %v : (tensor<1x2x3x3xf32>, tensor<1x2x3x2xf32>) -> tensor<1x2x3x2xf32>
  %ot = onnx.Transpose %o {perm = [0, 2, 1, 3]} : (tensor<1x2x3x2xf32>) -> tensor<1x3x2x2xf32>
  %s3 = onnx.Constant dense<[1, 3, 4]> : tensor<3xi64>
  %out = onnx.Reshape %ot, %s3 : (tensor<1x3x2x2xf32>, tensor<3xi64>) -> tensor<1x3x4xf32>
  func.return %out : tensor<1x3x4xf32>
}
// CHECK-LABEL: func.func @guard_all_masked_row
// CHECK-NOT:   fpq.attention
// CHECK:       onnx.Softmax
// CHECK-NOT:   fpq.attention
// CHECK:       func.return

// masked_fill with -1e9 is not scores + mask (-1e9 + s is not -1e9): not raised.
func.func @fill_not_lowest(%qkv: tensor<1x3x12xf32>) -> tensor<1x3x4xf32> {
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
  %ql2 = onnx.ReduceL2 %q, %ax : (tensor<1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x1xf32>
  %qc = onnx.Clip %ql2 min %eps : tensor<1x2x3x1xf32> min tensor<f32> -> tensor<1x2x3x1xf32>
  %qn = onnx.Div %q, %qc : (tensor<1x2x3x2xf32>, tensor<1x2x3x1xf32>) -> tensor<1x2x3x2xf32>
  %kl2 = onnx.ReduceL2 %k, %ax : (tensor<1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x1xf32>
  %kc = onnx.Clip %kl2 min %eps : tensor<1x2x3x1xf32> min tensor<f32> -> tensor<1x2x3x1xf32>
  %kn = onnx.Div %k, %kc : (tensor<1x2x3x2xf32>, tensor<1x2x3x1xf32>) -> tensor<1x2x3x2xf32>
  %qsc = onnx.Constant dense<[[[[4.0]], [[2.0]]]]> : tensor<1x2x1x1xf32>
  %qs = onnx.Mul %qn, %qsc : (tensor<1x2x3x2xf32>, tensor<1x2x1x1xf32>) -> tensor<1x2x3x2xf32>
  %kt = onnx.Transpose %kn {perm = [0, 1, 3, 2]} : (tensor<1x2x3x2xf32>) -> tensor<1x2x2x3xf32>
  %s = onnx.MatMul %qs, %kt : (tensor<1x2x3x2xf32>, tensor<1x2x2x3xf32>) -> tensor<1x2x3x3xf32>
  %blocked = onnx.Constant dense<[[[[false, true, true], [false, false, false], [false, false, false]]]]> : tensor<1x1x3x3xi1>
  %fill = onnx.Constant dense<-1.0e+09> : tensor<f32>
  %sm = onnx.Where %blocked, %fill, %s : (tensor<1x1x3x3xi1>, tensor<f32>, tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %pr = onnx.Softmax %sm : (tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %o = onnx.MatMul %pr, %v : (tensor<1x2x3x3xf32>, tensor<1x2x3x2xf32>) -> tensor<1x2x3x2xf32>
  %ot = onnx.Transpose %o {perm = [0, 2, 1, 3]} : (tensor<1x2x3x2xf32>) -> tensor<1x3x2x2xf32>
  %s3 = onnx.Constant dense<[1, 3, 4]> : tensor<3xi64>
  %out = onnx.Reshape %ot, %s3 : (tensor<1x3x2x2xf32>, tensor<3xi64>) -> tensor<1x3x4xf32>
  func.return %out : tensor<1x3x4xf32>
}
// CHECK-LABEL: func.func @fill_not_lowest
// CHECK-NOT:   fpq.attention
// CHECK:       onnx.Softmax
// CHECK-NOT:   fpq.attention
// CHECK:       func.return

// A factor per channel of q is not a per-head scale: not raised.
func.func @per_channel_factor(%qkv: tensor<1x3x12xf32>) -> tensor<1x3x4xf32> {
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
  %ql2 = onnx.ReduceL2 %q, %ax : (tensor<1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x1xf32>
  %qc = onnx.Clip %ql2 min %eps : tensor<1x2x3x1xf32> min tensor<f32> -> tensor<1x2x3x1xf32>
  %qn = onnx.Div %q, %qc : (tensor<1x2x3x2xf32>, tensor<1x2x3x1xf32>) -> tensor<1x2x3x2xf32>
  %kl2 = onnx.ReduceL2 %k, %ax : (tensor<1x2x3x2xf32>, tensor<1xi64>) -> tensor<1x2x3x1xf32>
  %kc = onnx.Clip %kl2 min %eps : tensor<1x2x3x1xf32> min tensor<f32> -> tensor<1x2x3x1xf32>
  %kn = onnx.Div %k, %kc : (tensor<1x2x3x2xf32>, tensor<1x2x3x1xf32>) -> tensor<1x2x3x2xf32>
  %qsc = onnx.Constant dense<[[[[4.0]], [[2.0]]]]> : tensor<1x2x1x1xf32>
  %qs = onnx.Mul %qn, %qsc : (tensor<1x2x3x2xf32>, tensor<1x2x1x1xf32>) -> tensor<1x2x3x2xf32>
  %kt = onnx.Transpose %kn {perm = [0, 1, 3, 2]} : (tensor<1x2x3x2xf32>) -> tensor<1x2x2x3xf32>
  %chan = onnx.Constant dense<[[[[1.0, 2.0]]]]> : tensor<1x1x1x2xf32>
  %qch = onnx.Mul %qs, %chan : (tensor<1x2x3x2xf32>, tensor<1x1x1x2xf32>) -> tensor<1x2x3x2xf32>
  %s = onnx.MatMul %qch, %kt : (tensor<1x2x3x2xf32>, tensor<1x2x2x3xf32>) -> tensor<1x2x3x3xf32>
  %pr = onnx.Softmax %s : (tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %o = onnx.MatMul %pr, %v : (tensor<1x2x3x3xf32>, tensor<1x2x3x2xf32>) -> tensor<1x2x3x2xf32>
  %ot = onnx.Transpose %o {perm = [0, 2, 1, 3]} : (tensor<1x2x3x2xf32>) -> tensor<1x3x2x2xf32>
  %s3 = onnx.Constant dense<[1, 3, 4]> : tensor<3xi64>
  %out = onnx.Reshape %ot, %s3 : (tensor<1x3x2x2xf32>, tensor<3xi64>) -> tensor<1x3x4xf32>
  func.return %out : tensor<1x3x4xf32>
}
// CHECK-LABEL: func.func @per_channel_factor
// CHECK-NOT:   fpq.attention
// CHECK:       onnx.Softmax
// CHECK-NOT:   fpq.attention
// CHECK:       func.return
