// RUN: fpqc-opt %s -p tile | filecheck %s

// Attention against a 6-bit KV cache (FPQVAR's KV6): each cache is E2M3 codes
// and a scale per token and head, four DDR ports updated in place.  The keys
// and values still reach the attention units as fp32 tiles (load_kv decodes
// the earlier rows); the launch's new keys and values stay on chip in
// fresh_k / fresh_v (all 4 rows of C = 64) until load_kv has streamed them
// and quantized them into the cache, and a key and a value head row ("kv",
// two rows) pass through the quantizer on their way.

hls.kernel @kernel_0(%x: tensor<1x4x64xf32>, %wq: tensor<192x64x!fpq.float<e2m1>>, %sq: tensor<192x1xf32>, %qs: tensor<2xf32>, %kc: tensor<1x12x64x!fpq.float<e2m3>>, %ks: tensor<1x12x2xf32>, %vc: tensor<1x12x64x!fpq.float<e2m3>>, %vs: tensor<1x12x2xf32>, %off: i64) -> (tensor<1x4x64xf32>, tensor<1x12x64x!fpq.float<e2m3>> {hls.updates = 4 : i64}, tensor<1x12x2xf32> {hls.updates = 5 : i64}, tensor<1x12x64x!fpq.float<e2m3>> {hls.updates = 6 : i64}, tensor<1x12x2xf32> {hls.updates = 7 : i64}) attributes {target = "vck190", lanes = 16 : i64} {
  %c, %cs = fpq.quantize %x {quant = #fpq.quant<e2m1, group 64>} : tensor<1x4x64xf32> -> (tensor<1x4x64x!fpq.float<e2m1>>, tensor<1x4x1xf32>)
  %qkv = fpq.qlinear %c, %cs, %wq, %sq {fpq.role = "mat_qkv", x_quant = #fpq.quant<e2m1, group 64>, w_quant = #fpq.quant<e2m1, channel>} : (tensor<1x4x64x!fpq.float<e2m1>>, tensor<1x4x1xf32>, tensor<192x64x!fpq.float<e2m1>>, tensor<192x1xf32>) -> tensor<1x4x192xf32>
  %o, %kc1, %ks1, %vc1, %vs1 = fpq.cached_attention %qkv, %qs, cache(%kc, %ks, %vc, %vs), %off {num_heads = 2 : i64, eps = 9.999999960e-13 : f32, kv_quant = #fpq.quant<e2m3, token>} : (tensor<1x4x192xf32>, tensor<2xf32>, tensor<1x12x64x!fpq.float<e2m3>>, tensor<1x12x2xf32>, tensor<1x12x64x!fpq.float<e2m3>>, tensor<1x12x2xf32>, i64) -> (tensor<1x4x64xf32>, tensor<1x12x64x!fpq.float<e2m3>>, tensor<1x12x2xf32>, tensor<1x12x64x!fpq.float<e2m3>>, tensor<1x12x2xf32>)
  hls.return %o, %kc1, %ks1, %vc1, %vs1 : tensor<1x4x64xf32>, tensor<1x12x64x!fpq.float<e2m3>>, tensor<1x12x2xf32>, tensor<1x12x64x!fpq.float<e2m3>>, tensor<1x12x2xf32>
}

// CHECK:      hls.plan {
// CHECK:        hls.port "kc" in 4 %kc width 512 burst 9 bundle "gmem4"
// CHECK-NEXT:   hls.port "ks" in 5 %ks width 512 burst 2 bundle "gmem5"
// CHECK-NEXT:   hls.port "vc" in 6 %vc width 512 burst 9 bundle "gmem6"
// CHECK-NEXT:   hls.port "vs" in 7 %vs width 512 burst 2 bundle "gmem7"
// CHECK:        hls.port "out1" out 1 %kc1 width 512 burst 9 bundle "gmem9" inplace "kc"
// CHECK-NEXT:   hls.port "out2" out 2 %ks1 width 512 burst 2 bundle "gmem10" inplace "ks"
// CHECK-NEXT:   hls.port "out3" out 3 %vc1 width 512 burst 9 bundle "gmem11" inplace "vc"
// CHECK-NEXT:   hls.port "out4" out 4 %vs1 width 512 burst 2 bundle "gmem12" inplace "vs"
// CHECK:        hls.buffer "cached_attention0.k" tile of %kc as tensor<24x32xf32>
// CHECK-NEXT:   hls.buffer "cached_attention0.v" tile of %vc as tensor<24x32xf32>
// CHECK-NEXT:   hls.buffer "cached_attention0.scores" scratch of %o as tensor<24xf32>
// CHECK-NEXT:   hls.buffer "cached_attention0.kv" scratch of %o as tensor<2x32xf32>
// CHECK-NEXT:   hls.buffer "cached_attention0.query" scratch of %o as tensor<64xf32> in registers
// CHECK-NEXT:   hls.buffer "cached_attention0.context" scratch of %o as tensor<64xf32> in registers
// CHECK-NEXT:   hls.buffer "cached_attention0.fresh_k" scratch of %o as tensor<4x64xf32> in bram banks 1 pack 16 copies 1 bits 8192
// CHECK-NEXT:   hls.buffer "cached_attention0.fresh_v" scratch of %o as tensor<4x64xf32> in bram banks 1 pack 16 copies 1 bits 8192
// CHECK:        hls.stage 0 "load" load %x, %wq, %sq, %qs, %off
// CHECK:        hls.stage 4 "cached_attention0.store_kv" write %kc1, %ks1, %vc1, %vs1 region 1
// CHECK-NEXT:   hls.stage 5 "cached_attention0.load_kv" load %kc, %ks, %vc, %vs region 2
// CHECK-NEXT:   hls.stage 6 "cached_attention0.attend" attention %o region 2
// CHECK:        hls.stream "cached_attention0.keys" of %kc from "cached_attention0.load_kv" to "cached_attention0.attend" width 512 depth 2
// CHECK-NEXT:   hls.stream "cached_attention0.values" of %vc from "cached_attention0.load_kv" to "cached_attention0.attend" width 512 depth 2
