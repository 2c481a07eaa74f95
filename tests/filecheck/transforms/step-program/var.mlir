// RUN: fpqc-opt %s -p step-program | filecheck %s
// RUN: fpqc-opt %s -p step-program,dce | filecheck %s --check-prefix=STEP0
// RUN: fpqc-opt %s -p kv-quantize,step-program | filecheck %s --check-prefix=KV6

// A two-scale VAR (patch_nums 1, 2: L = 5) as teacher forcing: the start token
// comes from the label, the four tokens of scale 1 from the input x; a
// positional table of L rows is added to both.  The pass keeps @main and adds
// @prologue (the start token, computed from the label once per generation),
// @step_0 (the start token only) and @step_1 (the four rows of scale 1), each
// with the prologue's results and the block's KV cache as arguments and results.

func.func @main(%label: tensor<2xi64> {onnx.name = "label_B"}, %x: tensor<2x4x8xf32> {onnx.name = "x_BLCv_wo_first_l"}) -> (tensor<2x5x16xf32> {onnx.name = "logits_BLV"}) {
  %table = fpq.constant dense<0.5> : tensor<3x12xf32>
  %sos = fpq.embedding %table[%label] : (tensor<3x12xf32>, tensor<2xi64>) -> tensor<2x12xf32>
  %one = onnx.Constant dense<1> : tensor<1xi64>
  %sos3 = onnx.Unsqueeze %sos, %one : (tensor<2x12xf32>, tensor<1xi64>) -> tensor<2x1x12xf32>
  %we = fpq.constant dense<0.25> : tensor<12x8xf32>
  %wb = fpq.constant dense<0.0> : tensor<12xf32>
  %emb = fpq.linear %x, %we, %wb {fpq.role = "word_embed"} : (tensor<2x4x8xf32>, tensor<12x8xf32>, tensor<12xf32>) -> tensor<2x4x12xf32>
  %tokens = onnx.Concat %sos3, %emb {axis = 1 : i64} : (tensor<2x1x12xf32>, tensor<2x4x12xf32>) -> tensor<2x5x12xf32>
  %pos = fpq.constant dense<0.125> : tensor<1x5x12xf32>
  %h = onnx.Add %tokens, %pos : (tensor<2x5x12xf32>, tensor<1x5x12xf32>) -> tensor<2x5x12xf32>
  %n = fpq.layernorm %h {eps = 1.0e-06 : f32} : tensor<2x5x12xf32>
  %wq = fpq.constant dense<0.01> : tensor<36x12xf32>
  %bq = fpq.constant dense<0.0> : tensor<36xf32>
  %qkv = fpq.linear %n, %wq, %bq {fpq.role = "mat_qkv"} : (tensor<2x5x12xf32>, tensor<36x12xf32>, tensor<36xf32>) -> tensor<2x5x36xf32>
  %s = fpq.constant dense<4.0> : tensor<2xf32>
  %o = fpq.attention %qkv, %s {num_heads = 2 : i64, eps = 1.0e-12 : f32, block_causal = array<i64: 0, 1, 5>} : (tensor<2x5x36xf32>, tensor<2xf32>) -> tensor<2x5x12xf32>
  %wh = fpq.constant dense<0.03> : tensor<16x12xf32>
  %bh = fpq.constant dense<0.0> : tensor<16xf32>
  %logits = fpq.linear %o, %wh, %bh {fpq.role = "head"} : (tensor<2x5x12xf32>, tensor<16x12xf32>, tensor<16xf32>) -> tensor<2x5x16xf32>
  func.return %logits : tensor<2x5x16xf32>
}

// CHECK:      func.func @main(
// CHECK:        fpq.attention
// CHECK:      func.func @prologue(%{{.*}}: tensor<2xi64> {onnx.name = "label_B"}) -> (tensor<2x1x12xf32> {fpq.prologue = 0 : i64})
// CHECK:        fpq.embedding
// CHECK:        onnx.Unsqueeze
// CHECK-NEXT:   func.return
// CHECK:      func.func @step_0(%{{.*}}: tensor<2x1x12xf32> {fpq.prologue = 0 : i64}, %{{.*}}: tensor<2x5x12xf32> {fpq.kv_cache = "k0"}, %{{.*}}: tensor<2x5x12xf32> {fpq.kv_cache = "v0"}) -> (tensor<2x1x16xf32> {onnx.name = "logits_BLV"}, tensor<2x5x12xf32> {fpq.kv_cache = "k0"}, tensor<2x5x12xf32> {fpq.kv_cache = "v0"})
// CHECK-NOT:    fpq.embedding
// CHECK-NOT:    fpq.linear {{.*}}word_embed
// CHECK:        onnx.Slice %{{.*}} : tensor<1x5x12xf32>, tensor<1xi64>, tensor<1xi64> axes tensor<1xi64> -> tensor<1x1x12xf32>
// CHECK:        %[[OFFSET:.*]] = arith.constant 0 : i64
// CHECK:        %{{.*}}, %[[K:.*]], %[[V:.*]] = fpq.cached_attention %{{.*}}, %{{.*}}, cache(%{{.*}}, %{{.*}}), %[[OFFSET]] {num_heads = 2 : i64, eps = 1.000000e-12 : f32} : (tensor<2x1x36xf32>, tensor<2xf32>, tensor<2x5x12xf32>, tensor<2x5x12xf32>, i64) -> (tensor<2x1x12xf32>, tensor<2x5x12xf32>, tensor<2x5x12xf32>)
// CHECK:        func.return %{{.*}}, %[[K]], %[[V]] : tensor<2x1x16xf32>, tensor<2x5x12xf32>, tensor<2x5x12xf32>
// CHECK:      func.func @step_1(%{{.*}}: tensor<2x4x8xf32> {onnx.name = "x_BLCv_wo_first_l"}, %{{.*}}: tensor<2x1x12xf32> {fpq.prologue = 0 : i64}, %{{.*}}: tensor<2x5x12xf32> {fpq.kv_cache = "k0"}, %{{.*}}: tensor<2x5x12xf32> {fpq.kv_cache = "v0"})
// CHECK:        fpq.linear %{{.*}} {fpq.role = "word_embed"} : (tensor<2x4x8xf32>, tensor<12x8xf32>, tensor<12xf32>) -> tensor<2x4x12xf32>
// CHECK:        onnx.Slice {{.*}} -> tensor<1x4x12xf32>
// CHECK:        fpq.layernorm %{{.*}} : tensor<2x4x12xf32>
// CHECK:        %[[OFFSET1:.*]] = arith.constant 1 : i64
// CHECK:        fpq.cached_attention {{.*}}, %[[OFFSET1]] {{.*}} : (tensor<2x4x36xf32>, tensor<2xf32>, tensor<2x5x12xf32>, tensor<2x5x12xf32>, i64)
// CHECK:        fpq.linear {{.*}}head{{.*}} -> tensor<2x4x16xf32>

// Step 0 does not compute the label's start token from x: no Concat survives.
// STEP0:      func.func @step_0(
// STEP0-NOT:  onnx.Concat
// STEP0:      func.return

// A 6-bit KV cache is stored as codes and a scale per token and head: four cache arguments and results.
// KV6:      func.func @step_1(%{{.*}}: tensor<2x4x8xf32> {onnx.name = "x_BLCv_wo_first_l"}, %{{.*}}: tensor<2x1x12xf32> {fpq.prologue = 0 : i64}, %{{.*}}: tensor<2x5x12x!fpq.float<e2m3>> {fpq.kv_cache = "k0"}, %{{.*}}: tensor<2x5x2xf32> {fpq.kv_cache = "k0.scales"}, %{{.*}}: tensor<2x5x12x!fpq.float<e2m3>> {fpq.kv_cache = "v0"}, %{{.*}}: tensor<2x5x2xf32> {fpq.kv_cache = "v0.scales"})
// KV6-SAME: -> (tensor<2x4x16xf32> {onnx.name = "logits_BLV"}, tensor<2x5x12x!fpq.float<e2m3>> {fpq.kv_cache = "k0"}, tensor<2x5x2xf32> {fpq.kv_cache = "k0.scales"}, tensor<2x5x12x!fpq.float<e2m3>> {fpq.kv_cache = "v0"}, tensor<2x5x2xf32> {fpq.kv_cache = "v0.scales"})
// KV6:      %[[OFFSET:.*]] = arith.constant 1 : i64
// KV6:      fpq.cached_attention %{{.*}}, %{{.*}}, cache(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}), %[[OFFSET]] {{{.*}}kv_quant = #fpq.quant<e2m3, token>}
