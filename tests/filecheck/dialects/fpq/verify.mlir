// RUN: fpqc-opt %s --split-input-file --verify-diagnostics | filecheck %s

// Verifier messages name the op and the mismatch.

func.func @group_does_not_divide(%x: tensor<4x96xf32>) {
  %c, %s = fpq.quantize %x {quant = #fpq.quant<e2m1, group 64>} : tensor<4x96xf32> -> (tensor<4x96x!fpq.float<e2m1>>, tensor<4x1xf32>)
  func.return
}
// CHECK: group size 64 does not divide the last dimension (96) of the input of fpq.quantize

// -----

func.func @format_mismatch(%x: tensor<4x64xf32>) {
  %c, %s = fpq.quantize %x {quant = #fpq.quant<e2m1, group 64>} : tensor<4x64xf32> -> (tensor<4x64x!fpq.float<e4m3>>, tensor<4x1xf32>)
  func.return
}
// CHECK: fpq.quantize: codes has element type !fpq.float<e4m3> but its quantization says !fpq.float<e2m1> (format mismatch)

// -----

func.func @wrong_shapes(%x: tensor<2x8xf32>, %w: tensor<3x4xf32>) {
  %y = fpq.linear %x, %w : (tensor<2x8xf32>, tensor<3x4xf32>) -> tensor<2x3xf32>
  func.return
}
// CHECK: fpq.linear: input has 8 features but weight [out, in] = [3, 4] expects 4

// -----

func.func @wrong_scale_shape(%c: tensor<4x64x!fpq.float<e2m1>>, %s: tensor<4x1xf32>, %wc: tensor<3x64x!fpq.float<e2m1>>, %ws: tensor<3x2xf32>) {
  %y = fpq.qlinear %c, %s, %wc, %ws {x_quant = #fpq.quant<e2m1, group 32>, w_quant = #fpq.quant<e2m1, group 32>} : (tensor<4x64x!fpq.float<e2m1>>, tensor<4x1xf32>, tensor<3x64x!fpq.float<e2m1>>, tensor<3x2xf32>) -> tensor<4x3xf32>
  func.return
}
// CHECK: fpq.qlinear: input scales has shape [4, 1], expected [4, 2]

// -----

func.func @bad_granularity(%c: tensor<4x64x!fpq.float<e2m1>>, %s: tensor<4x1xf32>, %wc: tensor<3x64x!fpq.float<e2m1>>, %ws: tensor<3x1xf32>) {
  %y = fpq.qlinear %c, %s, %wc, %ws {x_quant = #fpq.quant<e2m1, channel>, w_quant = #fpq.quant<e2m1, channel>} : (tensor<4x64x!fpq.float<e2m1>>, tensor<4x1xf32>, tensor<3x64x!fpq.float<e2m1>>, tensor<3x1xf32>) -> tensor<4x3xf32>
  func.return
}
// CHECK: fpq.qlinear: input granularity 'channel' is not one of token, group, tensor

// -----

func.func @cache_too_short(%qkv: tensor<2x4x36xf32>, %s: tensor<2xf32>, %k: tensor<2x4x12xf32>) {
  %offset = arith.constant 1 : i64
  %o, %k1, %v1 = fpq.cached_attention %qkv, %s, cache(%k, %k), %offset {num_heads = 2 : i64, eps = 1.0e-12 : f32} : (tensor<2x4x36xf32>, tensor<2xf32>, tensor<2x4x12xf32>, tensor<2x4x12xf32>, i64) -> (tensor<2x4x12xf32>, tensor<2x4x12xf32>, tensor<2x4x12xf32>)
  func.return
}
// CHECK: fpq.cached_attention: rows [1, 5) do not fit a cache of 4 rows

// -----

func.func @kv6_scales_per_head(%qkv: tensor<2x4x36xf32>, %s: tensor<2xf32>, %kc: tensor<2x5x12x!fpq.float<e2m3>>, %ks: tensor<2x5x1xf32>) {
  %offset = arith.constant 1 : i64
  %o, %a, %b, %c, %d = fpq.cached_attention %qkv, %s, cache(%kc, %ks, %kc, %ks), %offset {num_heads = 2 : i64, eps = 1.0e-12 : f32, kv_quant = #fpq.quant<e2m3, token>} : (tensor<2x4x36xf32>, tensor<2xf32>, tensor<2x5x12x!fpq.float<e2m3>>, tensor<2x5x1xf32>, tensor<2x5x12x!fpq.float<e2m3>>, tensor<2x5x1xf32>, i64) -> (tensor<2x4x12xf32>, tensor<2x5x12x!fpq.float<e2m3>>, tensor<2x5x1xf32>, tensor<2x5x12x!fpq.float<e2m3>>, tensor<2x5x1xf32>)
  func.return
}
// CHECK: fpq.cached_attention: with kv_quant = #fpq.quant<e2m3, token> the cache is codes tensor<2x5x12x!fpq.float<e2m3>> and scales tensor<2x5x2xf32>, got tensor<2x5x12x!fpq.float<e2m3>> and tensor<2x5x1xf32>

// -----

func.func @kv6_as_floats(%qkv: tensor<2x4x36xf32>, %s: tensor<2xf32>, %k: tensor<2x5x12xf32>) {
  %offset = arith.constant 1 : i64
  %o, %k1, %v1 = fpq.cached_attention %qkv, %s, cache(%k, %k), %offset {num_heads = 2 : i64, eps = 1.0e-12 : f32, kv_quant = #fpq.quant<e2m3, token>} : (tensor<2x4x36xf32>, tensor<2xf32>, tensor<2x5x12xf32>, tensor<2x5x12xf32>, i64) -> (tensor<2x4x12xf32>, tensor<2x5x12xf32>, tensor<2x5x12xf32>)
  func.return
}
// CHECK: fpq.cached_attention: with kv_quant the cache is cache(%k_codes, %k_scales, %v_codes, %v_scales)

// -----

func.func @kv6_per_tensor(%qkv: tensor<2x4x36xf32>, %s: tensor<2xf32>, %kc: tensor<2x5x12x!fpq.float<e2m3>>, %ks: tensor<2x5x1xf32>) {
  %offset = arith.constant 1 : i64
  %o, %a, %b, %c, %d = fpq.cached_attention %qkv, %s, cache(%kc, %ks, %kc, %ks), %offset {num_heads = 2 : i64, eps = 1.0e-12 : f32, kv_quant = #fpq.quant<e2m3, tensor>} : (tensor<2x4x36xf32>, tensor<2xf32>, tensor<2x5x12x!fpq.float<e2m3>>, tensor<2x5x1xf32>, tensor<2x5x12x!fpq.float<e2m3>>, tensor<2x5x1xf32>, i64) -> (tensor<2x4x12xf32>, tensor<2x5x12x!fpq.float<e2m3>>, tensor<2x5x1xf32>, tensor<2x5x12x!fpq.float<e2m3>>, tensor<2x5x1xf32>)
  func.return
}
// CHECK: fpq.cached_attention: a KV cache stores rows of different steps, each with its own scales; kv_quant needs scales per token or group, not per tensor
