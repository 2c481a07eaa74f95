// RUN: fpqc-opt %s --split-input-file -p tile | filecheck %s

// VAR-d16's fc1 (C = 1024 -> 4096) for the largest generation step (2 x 256
// rows with classifier-free guidance), one kernel per module.  fp4 (E2M1 per
// group of 128): the LUT budget (half of the VCK190's LUTs, a lane being a
// measured 30-LUT product ROM and a 16-bit adder) gives 512 PEs of 16 lanes;
// each [512, 1024] weight tile is reused for all 512 rows (weights read once
// per launch) and double buffered; the activation codes of all 512
// rows stay on chip (URAM); the small per-PE banks of the weight tile go to
// LUTRAM.  The quantizer and the layer are two DATAFLOW regions: the layer
// waits for all activation codes.  Each PE sums its 16 lanes' products in one
// cycle (13-bit lane sums) and accumulates them exactly over a group in its
// multiply stage (16 bits): one stream of group sums to the combination.

hls.kernel @kernel_0(%x: tensor<512x1024xf32>, %w: tensor<4096x1024x!fpq.float<e2m1>>, %s: tensor<4096x8xf32>, %b: tensor<4096xf32>) -> tensor<512x4096xf32> attributes {target = "vck190", lanes = 16 : i64} {
  %c, %cs = fpq.quantize %x {quant = #fpq.quant<e2m1, group 128>} : tensor<512x1024xf32> -> (tensor<512x1024x!fpq.float<e2m1>>, tensor<512x8xf32>)
  %y = fpq.qlinear %c, %cs, %w, %s, %b {fpq.role = "fc1", x_quant = #fpq.quant<e2m1, group 128>, w_quant = #fpq.quant<e2m1, group 128>} : (tensor<512x1024x!fpq.float<e2m1>>, tensor<512x8xf32>, tensor<4096x1024x!fpq.float<e2m1>>, tensor<4096x8xf32>, tensor<4096xf32>) -> tensor<512x4096xf32>
  hls.return %y : tensor<512x4096xf32>
}

// CHECK:      %[[C:.*]], %[[CS:.*]] = fpq.quantize %[[X:.*]] {quant = #fpq.quant<e2m1, group 128>}
// CHECK-NEXT: %[[Y:.*]] = fpq.qlinear
// CHECK-NEXT: hls.plan {
// CHECK-NEXT:   hls.pe_array pes 512 lanes 16
// CHECK-NEXT:   hls.port "x" in 0 %[[X]] width 512 burst 64 bundle "gmem0"
// CHECK-NEXT:   hls.port "w" in 1 %[[W:.*]] width 512 burst 64 bundle "gmem1"
// CHECK-NEXT:   hls.port "s" in 2 %[[S:.*]] width 512 burst 64 bundle "gmem2"
// CHECK-NEXT:   hls.port "b" in 3 %[[B:.*]] width 512 burst 64 bundle "gmem3"
// CHECK-NEXT:   hls.port "out0" out 0 %[[Y]] width 512 burst 64 bundle "gmem4"
// CHECK-NEXT:   hls.tile %[[C]] [rows 512 by 512, c 1024 by 128 on lanes] ii 1
// CHECK-NEXT:   hls.tile %[[Y]] [rows 512 by 512, n 4096 by 512 on pes, k 1024 by 1024 on lanes] ii 1
// CHECK-NEXT:   hls.buffer "quantize0.group" scratch of %[[C]] as tensor<128xf32> in lutram banks 1 pack 16 copies 2 bits 8192
// CHECK-NEXT:   hls.buffer "pe.w" tile of %[[W]] as tensor<512x1024x!fpq.float<e2m1>> in lutram banks 512 pack 16 copies 2 bits 4194304
// CHECK-NEXT:   hls.buffer "pe.ws" tile of %[[S]] as tensor<512x8xf32> in lutram banks 512 pack 1 copies 2 bits 262144
// CHECK-NEXT:   hls.buffer "pe.b" tile of %[[B]] as tensor<512xf32> in registers banks 512 pack 1 copies 2 bits 32768
// CHECK-NEXT:   hls.buffer "fc1.acc" scratch of %[[Y]] as tensor<512xi16> in registers banks 1 pack 1 copies 1 bits 8192
// CHECK-NEXT:   hls.buffer "fc1.total" scratch of %[[Y]] as tensor<512xf32> in registers banks 1 pack 1 copies 1 bits 16384
// CHECK-NEXT:   hls.buffer "fc1.x" whole of %[[C]] as tensor<512x1024x!fpq.float<e2m1>> in uram banks 1 pack 16 copies 1 bits 2097152
// CHECK-NEXT:   hls.buffer "fc1.xs" whole of %[[CS]] as tensor<512x8xf32> in bram banks 1 pack 1 copies 1 bits 131072
// CHECK-NEXT:   hls.stage 0 "load" load %[[X]], %[[W]], %[[S]], %[[B]]
// CHECK-NEXT:   hls.stage 1 "quantize0" quantize %[[C]] region 0
// CHECK-NEXT:   hls.stage 2 "fc1.mul" lut_multiply %[[Y]] region 1
// CHECK-NEXT:   hls.stage 3 "fc1.combine" combine %[[Y]] region 1
// CHECK-NEXT:   hls.stage 4 "write" write %[[Y]]
// CHECK-NEXT:   hls.stream "x>quantize0" of %[[X]] from "load" to "quantize0" width 512 depth 2
// CHECK-NEXT:   hls.stream "w>fc1" of %[[W]] from "load" to "fc1.mul" width 512 depth 2
// CHECK-NEXT:   hls.stream "s>fc1" of %[[S]] from "load" to "fc1.combine" width 32 depth 2
// CHECK-NEXT:   hls.stream "b>fc1" of %[[B]] from "load" to "fc1.combine" width 32 depth 2
// CHECK-NEXT:   hls.stream "fc1.sums" of %[[Y]] from "fc1.mul" to "fc1.combine" width 8192 depth 2
// CHECK-NEXT:   hls.stream "fc1>write" of %[[Y]] from "fc1.combine" to "write" width 16384 depth 2 columns 512
// CHECK-NEXT: }
// CHECK-NEXT: hls.return %[[Y]]

// -----

// fp6 (W6A6: E2M3 weights per channel, activations per token): the E2M3 x
// E2M3 product ROM measures 271 LUTs, so the budget gives 64 PEs;
// the quantizer keeps a whole row (its token scale) and the exact accumulators
// are 23 bits wide (a dot product of 1024 E2M3 products).

hls.kernel @kernel_0(%x: tensor<512x1024xf32>, %w: tensor<4096x1024x!fpq.float<e2m3>>, %s: tensor<4096x1xf32>, %b: tensor<4096xf32>) -> tensor<512x4096xf32> attributes {target = "vck190", lanes = 16 : i64} {
  %c, %cs = fpq.quantize %x {quant = #fpq.quant<e2m3, token>} : tensor<512x1024xf32> -> (tensor<512x1024x!fpq.float<e2m3>>, tensor<512x1xf32>)
  %y = fpq.qlinear %c, %cs, %w, %s, %b {fpq.role = "fc1", x_quant = #fpq.quant<e2m3, token>, w_quant = #fpq.quant<e2m3, channel>} : (tensor<512x1024x!fpq.float<e2m3>>, tensor<512x1xf32>, tensor<4096x1024x!fpq.float<e2m3>>, tensor<4096x1xf32>, tensor<4096xf32>) -> tensor<512x4096xf32>
  hls.return %y : tensor<512x4096xf32>
}

// CHECK:      hls.plan {
// CHECK-NEXT:   hls.pe_array pes 64 lanes 16
// CHECK:        hls.tile %{{.*}} [rows 512 by 512, c 1024 by 1024 on lanes] ii 1
// CHECK-NEXT:   hls.tile %{{.*}} [rows 512 by 512, n 4096 by 64 on pes, k 1024 by 1024 on lanes] ii 1
// CHECK-NEXT:   hls.buffer "quantize0.group" scratch of %{{.*}} as tensor<1024xf32> in bram banks 1 pack 16 copies 2 bits 65536
// CHECK-NEXT:   hls.buffer "pe.w" tile of %{{.*}} as tensor<64x1024x!fpq.float<e2m3>> in bram banks 64 pack 16 copies 2 bits 786432
// CHECK:        hls.buffer "fc1.acc" scratch of %{{.*}} as tensor<64xi23> in registers banks 1 pack 1 copies 1 bits 1472
// CHECK-NEXT:   hls.buffer "fc1.total" scratch of %{{.*}} as tensor<64xf32> in registers banks 1 pack 1 copies 1 bits 2048
// CHECK-NEXT:   hls.buffer "fc1.x" whole of %{{.*}} as tensor<512x1024x!fpq.float<e2m3>> in uram banks 1 pack 16 copies 1 bits 3145728
// CHECK:        hls.stream "fc1.sums" of %{{.*}} from "fc1.mul" to "fc1.combine" width 1472 depth 2
