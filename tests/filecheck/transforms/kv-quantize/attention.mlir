// RUN: fpqc-opt %s -p kv-quantize | filecheck %s
// RUN: fpqc-opt %s -p 'kv-quantize{format=e4m3}' | filecheck %s --check-prefix=FP8
// RUN: fpqc-opt %s -p 'kv-quantize{scope=all}' | filecheck %s --check-prefix=ALL

// Every attention gets a low-bit KV cache: keys and values quantized per token and head.  By default
// (the paper's KV6) only those of earlier scales, as the cache returns them; scope=all also the
// current scale's, which the op records as kv_scope = "all".

func.func @attention(%qkv: tensor<1x5x384xf32>, %s: tensor<2xf32>) -> tensor<1x5x128xf32> {
  %o = fpq.attention %qkv, %s {num_heads = 2 : i64, eps = 1.0e-12 : f32, block_causal = array<i64: 0, 1, 5>} : (tensor<1x5x384xf32>, tensor<2xf32>) -> tensor<1x5x128xf32>
  func.return %o : tensor<1x5x128xf32>
}
// CHECK: fpq.attention %{{.*}}, %{{.*}} {{{.*}}kv_quant = #fpq.quant<e2m3, token>}
// CHECK-NOT: kv_scope
// FP8:   kv_quant = #fpq.quant<e4m3, token>
// ALL:   kv_quant = #fpq.quant<e2m3, token>, kv_scope = "all"}
