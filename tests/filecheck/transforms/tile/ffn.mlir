// RUN: fpqc-opt %s -p tile | filecheck %s

// A small FPQVAR FFN kernel (what outline-kernels makes of Hadamard ->
// quantize -> fc1 -> GELU -> dual-format quantize -> fc2): the whole plan.
// fc1's result streams through GELU into the dual quantizer (its column tiles
// hold whole groups of 16); the two linear layers share the PE array and its
// weight tiles; fc2's two code planes stay whole on chip.  At this size every
// launch waits on DDR, so the cost model's best design is the smallest PE array
// that keeps up: 32 PEs (fc2's N).  Three DATAFLOW regions: each linear layer
// waits for all its activation codes.  The SSA names are the input's.

hls.kernel @kernel_0(%x: tensor<4x32xf32>, %w1: tensor<64x32x!fpq.float<e2m1>>, %s1: tensor<64x2xf32>, %w2: tensor<32x64x!fpq.float<e2m1>>, %s2: tensor<32x4xf32>, %b2: tensor<32xf32>) -> tensor<4x32xf32> attributes {target = "vck190", lanes = 16 : i64} {
  %h = fpq.hadamard %x {block = 16 : i64} : tensor<4x32xf32>
  %c, %cs = fpq.quantize %h {quant = #fpq.quant<e2m1, group 16>} : tensor<4x32xf32> -> (tensor<4x32x!fpq.float<e2m1>>, tensor<4x2xf32>)
  %f = fpq.qlinear %c, %cs, %w1, %s1 {fpq.role = "fc1", x_quant = #fpq.quant<e2m1, group 16>, w_quant = #fpq.quant<e2m1, group 16>} : (tensor<4x32x!fpq.float<e2m1>>, tensor<4x2xf32>, tensor<64x32x!fpq.float<e2m1>>, tensor<64x2xf32>) -> tensor<4x64xf32>
  %g = fpq.gelu %f : tensor<4x64xf32>
  %nc, %pc, %sn, %sp = fpq.dual_quantize %g {neg_quant = #fpq.quant<e1m2, group 16>, pos_quant = #fpq.quant<e2m1, group 16>} : tensor<4x64xf32> -> (tensor<4x64x!fpq.float<e1m2>>, tensor<4x64x!fpq.float<e2m1>>, tensor<4x4xf32>, tensor<4x4xf32>)
  %y = fpq.dual_qlinear %nc, %pc, %sn, %sp, %w2, %s2, %b2 {fpq.role = "fc2", neg_quant = #fpq.quant<e1m2, group 16>, pos_quant = #fpq.quant<e2m1, group 16>, w_quant = #fpq.quant<e2m1, group 16>} : (tensor<4x64x!fpq.float<e1m2>>, tensor<4x64x!fpq.float<e2m1>>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<32x64x!fpq.float<e2m1>>, tensor<32x4xf32>, tensor<32xf32>) -> tensor<4x32xf32>
  hls.return %y : tensor<4x32xf32>
}

// CHECK:      %y = fpq.dual_qlinear
// CHECK-NEXT: hls.plan {
// CHECK-NEXT:   hls.pe_array pes 32 lanes 16
// CHECK-NEXT:   hls.port "x" in 0 %x width 512 burst 8 bundle "gmem0"
// CHECK-NEXT:   hls.port "w1" in 1 %w1 width 512 burst 16 bundle "gmem1"
// CHECK-NEXT:   hls.port "s1" in 2 %s1 width 512 burst 8 bundle "gmem2"
// CHECK-NEXT:   hls.port "w2" in 3 %w2 width 512 burst 16 bundle "gmem3"
// CHECK-NEXT:   hls.port "s2" in 4 %s2 width 512 burst 8 bundle "gmem4"
// CHECK-NEXT:   hls.port "b2" in 5 %b2 width 512 burst 2 bundle "gmem5"
// CHECK-NEXT:   hls.port "out0" out 0 %y width 512 burst 8 bundle "gmem6"
// CHECK-NEXT:   hls.tile %h [rows 4 by 4, c 32 by 16 on lanes] ii 1
// CHECK-NEXT:   hls.tile %c [rows 4 by 4, c 32 by 16 on lanes] ii 1
// CHECK-NEXT:   hls.tile %f [rows 4 by 4, n 64 by 32 on pes, k 32 by 32 on lanes] ii 1
// CHECK-NEXT:   hls.tile %g [rows 4 by 4, c 64 by 16 on lanes] ii 1
// CHECK-NEXT:   hls.tile %nc [rows 4 by 4, c 64 by 16 on lanes] ii 1
// CHECK-NEXT:   hls.tile %y [rows 4 by 4, n 32 by 32 on pes, k 64 by 64 on lanes] ii 1
// CHECK-NEXT:   hls.buffer "hadamard0.block" scratch of %h as tensor<16xf32> in lutram banks 1 pack 16 copies 2 bits 1024
// CHECK-NEXT:   hls.buffer "quantize0.group" scratch of %c as tensor<16xf32> in lutram banks 1 pack 16 copies 2 bits 1024
// CHECK-NEXT:   hls.buffer "pe.w" tile of %w1, %w2 as tensor<32x64x!fpq.float<e2m1>> in lutram banks 32 pack 16 copies 2 bits 16384
// CHECK-NEXT:   hls.buffer "pe.ws" tile of %s1, %s2 as tensor<32x4xf32> in lutram banks 32 pack 1 copies 2 bits 8192
// CHECK-NEXT:   hls.buffer "fc1.acc" scratch of %f as tensor<32xi13> in registers banks 1 pack 1 copies 1 bits 416
// CHECK-NEXT:   hls.buffer "fc1.total" scratch of %f as tensor<32xf32> in registers banks 1 pack 1 copies 1 bits 1024
// CHECK-NEXT:   hls.buffer "fc1.x" whole of %c as tensor<4x32x!fpq.float<e2m1>> in lutram banks 1 pack 16 copies 1 bits 512
// CHECK-NEXT:   hls.buffer "fc1.xs" whole of %cs as tensor<4x2xf32> in lutram banks 1 pack 1 copies 1 bits 256
// CHECK-NEXT:   hls.buffer "dual_quantize0.group" scratch of %nc as tensor<16xf32> in lutram banks 1 pack 16 copies 2 bits 1024
// CHECK-NEXT:   hls.buffer "pe.b" tile of %b2 as tensor<32xf32> in registers banks 32 pack 1 copies 2 bits 2048
// CHECK-NEXT:   hls.buffer "fc2.acc" scratch of %y as tensor<64xi13> in registers banks 1 pack 1 copies 1 bits 832
// CHECK-NEXT:   hls.buffer "fc2.total" scratch of %y as tensor<32xf32> in registers banks 1 pack 1 copies 1 bits 1024
// CHECK-NEXT:   hls.buffer "fc2.xn" whole of %nc as tensor<4x64x!fpq.float<e1m2>> in lutram banks 1 pack 16 copies 1 bits 1024
// CHECK-NEXT:   hls.buffer "fc2.xp" whole of %pc as tensor<4x64x!fpq.float<e2m1>> in lutram banks 1 pack 16 copies 1 bits 1024
// CHECK-NEXT:   hls.buffer "fc2.xns" whole of %sn as tensor<4x4xf32> in lutram banks 1 pack 1 copies 1 bits 512
// CHECK-NEXT:   hls.buffer "fc2.xps" whole of %sp as tensor<4x4xf32> in lutram banks 1 pack 1 copies 1 bits 512
// CHECK-NEXT:   hls.stage 0 "load" load %x, %w1, %s1, %w2, %s2, %b2
// CHECK-NEXT:   hls.stage 1 "hadamard0" transform %h region 0
// CHECK-NEXT:   hls.stage 2 "quantize0" quantize %c region 0
// CHECK-NEXT:   hls.stage 3 "fc1.mul" lut_multiply %f region 1
// CHECK-NEXT:   hls.stage 4 "fc1.combine" combine %f region 1
// CHECK-NEXT:   hls.stage 5 "gelu0" elementwise %g region 1
// CHECK-NEXT:   hls.stage 6 "dual_quantize0" quantize %nc region 1
// CHECK-NEXT:   hls.stage 7 "fc2.mul" lut_multiply %y region 2
// CHECK-NEXT:   hls.stage 8 "fc2.combine" combine %y region 2
// CHECK-NEXT:   hls.stage 9 "write" write %y
// CHECK-NEXT:   hls.stream "x>hadamard0" of %x from "load" to "hadamard0" width 512 depth 2
// CHECK-NEXT:   hls.stream "w1>fc1" of %w1 from "load" to "fc1.mul" width 512 depth 2
// CHECK-NEXT:   hls.stream "s1>fc1" of %s1 from "load" to "fc1.combine" width 32 depth 2
// CHECK-NEXT:   hls.stream "w2>fc2" of %w2 from "load" to "fc2.mul" width 512 depth 2
// CHECK-NEXT:   hls.stream "s2>fc2" of %s2 from "load" to "fc2.combine" width 32 depth 2
// CHECK-NEXT:   hls.stream "b2>fc2" of %b2 from "load" to "fc2.combine" width 32 depth 2
// CHECK-NEXT:   hls.stream "hadamard0>quantize0" of %h from "hadamard0" to "quantize0" width 512 depth 2
// CHECK-NEXT:   hls.stream "fc1.sums" of %f from "fc1.mul" to "fc1.combine" width 416 depth 2
// CHECK-NEXT:   hls.stream "fc1>gelu0" of %f from "fc1.combine" to "gelu0" width 1024 depth 2 columns 32
// CHECK-NEXT:   hls.stream "gelu0>dual_quantize0" of %g from "gelu0" to "dual_quantize0" width 512 depth 2 columns 32
// CHECK-NEXT:   hls.stream "fc2.sums" of %y from "fc2.mul" to "fc2.combine" width 832 depth 2
// CHECK-NEXT:   hls.stream "fc2>write" of %y from "fc2.combine" to "write" width 1024 depth 2
// CHECK-NEXT: }
// CHECK-NEXT: hls.return %y : tensor<4x32xf32>
