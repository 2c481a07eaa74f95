// RUN: fpqc-opt %s -p tile | filecheck %s
// RUN: fpqc-opt %s -p 'tile{attention_units=1}' | filecheck %s --check-prefix=ONE

// Attention of one generation step against a KV cache in DDR: the q third of
// mat_qkv's output is kept whole (every new row attends to every new key);
// the k and v thirds stream (column tiles of whole heads) to the stage that
// writes the new rows into the caches, whose out ports update the in ports'
// (the results outline-kernels marks hls.updates)
// buffers in place; then, per batch and head, that head's keys and values
// stream back from DDR (load_kv) into double-buffered tiles of all L = 12
// cache rows, with a score row buffer of L entries and a query and a context
// row in registers.  The cost model's best design attends to both heads at
// once, on two attention units (each with its own bank of the K/V tiles,
// score rows, query and context: banks 2); the option attention_units=1 keeps
// one.  Writing the new keys ends one DATAFLOW region; loading
// them back and attending is the next (region 2, once per launch: every row
// tile's keys are in the cache first).  The result is kept whole, and the
// proj quantizer reads it in the region after.

hls.kernel @kernel_0(%x: tensor<1x4x64xf32>, %wq: tensor<192x64x!fpq.float<e2m1>>, %sq: tensor<192x1xf32>, %qs: tensor<2xf32>, %kc: tensor<1x12x64xf32>, %vc: tensor<1x12x64xf32>, %wp: tensor<64x64x!fpq.float<e2m1>>, %sp: tensor<64x1xf32>, %off: i64) -> (tensor<1x4x64xf32>, tensor<1x12x64xf32> {hls.updates = 4 : i64}, tensor<1x12x64xf32> {hls.updates = 5 : i64}) attributes {target = "vck190", lanes = 16 : i64} {
  %c, %cs = fpq.quantize %x {quant = #fpq.quant<e2m1, group 64>} : tensor<1x4x64xf32> -> (tensor<1x4x64x!fpq.float<e2m1>>, tensor<1x4x1xf32>)
  %qkv = fpq.qlinear %c, %cs, %wq, %sq {fpq.role = "mat_qkv", x_quant = #fpq.quant<e2m1, group 64>, w_quant = #fpq.quant<e2m1, channel>} : (tensor<1x4x64x!fpq.float<e2m1>>, tensor<1x4x1xf32>, tensor<192x64x!fpq.float<e2m1>>, tensor<192x1xf32>) -> tensor<1x4x192xf32>
  %o, %k1, %v1 = fpq.cached_attention %qkv, %qs, cache(%kc, %vc), %off {num_heads = 2 : i64, eps = 9.999999960e-13 : f32} : (tensor<1x4x192xf32>, tensor<2xf32>, tensor<1x12x64xf32>, tensor<1x12x64xf32>, i64) -> (tensor<1x4x64xf32>, tensor<1x12x64xf32>, tensor<1x12x64xf32>)
  %d, %ds = fpq.quantize %o {quant = #fpq.quant<e2m1, group 64>} : tensor<1x4x64xf32> -> (tensor<1x4x64x!fpq.float<e2m1>>, tensor<1x4x1xf32>)
  %y = fpq.qlinear %d, %ds, %wp, %sp {fpq.role = "proj", x_quant = #fpq.quant<e2m1, group 64>, w_quant = #fpq.quant<e2m1, channel>} : (tensor<1x4x64x!fpq.float<e2m1>>, tensor<1x4x1xf32>, tensor<64x64x!fpq.float<e2m1>>, tensor<64x1xf32>) -> tensor<1x4x64xf32>
  hls.return %y, %k1, %v1 : tensor<1x4x64xf32>, tensor<1x12x64xf32>, tensor<1x12x64xf32>
}

// CHECK:      hls.plan {
// CHECK:        hls.port "kc" in 4 %kc width 512 burst 48 bundle "gmem4"
// CHECK-NEXT:   hls.port "vc" in 5 %vc width 512 burst 48 bundle "gmem5"
// CHECK:        hls.port "out1" out 1 %k1 width 512 burst 48 bundle "gmem9" inplace "kc"
// CHECK-NEXT:   hls.port "out2" out 2 %v1 width 512 burst 48 bundle "gmem10" inplace "vc"
// CHECK:        hls.tile %o [batch 1 by 1, heads 2 by 2 on units, rows 4 by 4, keys 12 by 12, d 32 by 32 on lanes] ii 1
// CHECK:        hls.buffer "cached_attention0.k" tile of %kc as tensor<24x32xf32> in {{.*}} banks 2 pack 16 copies 2
// CHECK-NEXT:   hls.buffer "cached_attention0.v" tile of %vc as tensor<24x32xf32> in {{.*}} banks 2 pack 16 copies 2
// CHECK-NEXT:   hls.buffer "cached_attention0.scores" scratch of %o as tensor<24xf32> in lutram banks 2 pack 1 copies 2 bits 1536
// CHECK-NEXT:   hls.buffer "cached_attention0.kv" scratch of %o as tensor<1x32xf32> in lutram banks 1 pack 16 copies 1 bits 1024
// CHECK-NEXT:   hls.buffer "cached_attention0.query" scratch of %o as tensor<64xf32> in registers banks 1 pack 1 copies 1 bits 2048
// CHECK-NEXT:   hls.buffer "cached_attention0.context" scratch of %o as tensor<64xf32> in registers banks 1 pack 1 copies 1 bits 2048
// CHECK-NEXT:   hls.buffer "cached_attention0.q_scale" whole of %qs as tensor<2xf32> in registers banks 1 pack 1 copies 1 bits 64
// CHECK-NEXT:   hls.buffer "cached_attention0.q" whole of %qkv as tensor<4x64xf32> in bram banks 1 pack 16 copies 1 bits 8192
// CHECK-NEXT:   hls.buffer "cached_attention0.result" whole of %o as tensor<4x64xf32> in bram banks 1 pack 16 copies 1 bits 8192
// CHECK:        hls.stage 0 "load" load %x, %wq, %sq, %qs, %wp, %sp, %off
// CHECK:        hls.stage 3 "mat_qkv.combine" combine %qkv region 1
// CHECK-NEXT:   hls.stage 4 "cached_attention0.store_kv" write %k1, %v1 region 1
// CHECK-NEXT:   hls.stage 5 "cached_attention0.load_kv" load %kc, %vc region 2
// CHECK-NEXT:   hls.stage 6 "cached_attention0.attend" attention %o region 2
// CHECK-NEXT:   hls.stage 7 "quantize1" quantize %d region 3
// CHECK:        hls.stage 10 "write" write %y
// CHECK:        hls.stream "mat_qkv>cached_attention0" of %qkv from "mat_qkv.combine" to "cached_attention0.store_kv" width 1024 depth 2 columns 32
// CHECK-NEXT:   hls.stream "cached_attention0.keys" of %kc from "cached_attention0.load_kv" to "cached_attention0.attend" width 512 depth 2
// CHECK-NEXT:   hls.stream "cached_attention0.values" of %vc from "cached_attention0.load_kv" to "cached_attention0.attend" width 512 depth 2
// CHECK-NOT:    to "quantize1"

// ONE:        hls.tile %o [batch 1 by 1, heads 2 by 1, rows 4 by 4, keys 12 by 12, d 32 by 32 on lanes] ii 1
// ONE:        hls.buffer "cached_attention0.k" tile of %kc as tensor<12x32xf32> in {{.*}} banks 1 pack 16 copies 2
// ONE-NEXT:   hls.buffer "cached_attention0.v" tile of %vc as tensor<12x32xf32> in {{.*}} banks 1 pack 16 copies 2
// ONE-NEXT:   hls.buffer "cached_attention0.scores" scratch of %o as tensor<12xf32> in lutram banks 1 pack 1 copies 2 bits 768
