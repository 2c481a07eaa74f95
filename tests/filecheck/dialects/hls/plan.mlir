// RUN: fpqc-opt %s | fpqc-opt | filecheck %s
// RUN: fpqc-opt %s --print-op-generic | fpqc-opt | filecheck %s

// A kernel's hardware plan round-trips: PE array, ports (one in place), loop
// tiles with a padded remainder, buffers (a tile buffer shared by two values),
// stages in DATAFLOW regions and streams (one in column tiles).

hls.kernel @kernel_0(%x: tensor<8x128xf32>, %wc: tensor<96x128x!fpq.float<e2m1>>, %ws: tensor<96x1xf32>, %kc: tensor<1x16x96xf32>) -> (tensor<8x96xf32>, tensor<1x16x96xf32>) attributes {target = "vck190", lanes = 16 : i64} {
  %c, %s = fpq.quantize %x {quant = #fpq.quant<e2m1, token>} : tensor<8x128xf32> -> (tensor<8x128x!fpq.float<e2m1>>, tensor<8x1xf32>)
  %y = fpq.qlinear %c, %s, %wc, %ws {x_quant = #fpq.quant<e2m1, token>, w_quant = #fpq.quant<e2m1, channel>} : (tensor<8x128x!fpq.float<e2m1>>, tensor<8x1xf32>, tensor<96x128x!fpq.float<e2m1>>, tensor<96x1xf32>) -> tensor<8x96xf32>
  %g = fpq.gelu %kc : tensor<1x16x96xf32>
  hls.plan {
    hls.pe_array pes 64 lanes 16
    hls.port "x" in 0 %x width 512 burst 32 bundle "gmem0"
    hls.port "wc" in 1 %wc width 512 burst 12 bundle "gmem1"
    hls.port "ws" in 2 %ws width 512 burst 6 bundle "gmem2"
    hls.port "kc" in 3 %kc width 512 burst 48 bundle "gmem3"
    hls.port "out0" out 0 %y width 512 burst 48 bundle "gmem4"
    hls.port "out1" out 1 %g width 256 burst 1 bundle "gmem4" inplace "kc"
    hls.tile %c [rows 8 by 8, c 128 by 128 on lanes] ii 1
    hls.tile %y [rows 8 by 8, n 96 by 64 pad on pes, k 128 by 128 on lanes] ii 1
    hls.tile %g [rows 16 by 4, c 96 by 16 on lanes] ii 2
    hls.buffer "pe.w" tile of %wc, %ws as tensor<64x128x!fpq.float<e2m1>> in lutram banks 64 pack 16 copies 2 bits 65536
    hls.buffer "fc.acc" scratch of %y as tensor<64xi16> in registers banks 1 pack 1 copies 1 bits 1024
    hls.buffer "fc.x" whole of %c as tensor<8x128x!fpq.float<e2m1>> in bram banks 1 pack 16 copies 1 bits 4096
    hls.buffer "fc.xs" whole of %s as tensor<8x1xf32> in uram banks 1 pack 1 copies 1 bits 256
    hls.stage 0 "load" load %x, %wc, %ws, %kc
    hls.stage 1 "quantize0" quantize %c region 0
    hls.stage 2 "fc.mul" lut_multiply %y region 1
    hls.stage 3 "fc.combine" combine %y region 1
    hls.stage 4 "gelu0" elementwise %g region 0
    hls.stage 5 "write" write %y, %g
    hls.stream "x>quantize0" of %x from "load" to "quantize0" width 512 depth 2
    hls.stream "fc.sums" of %y from "fc.mul" to "fc.combine" width 1024 depth 2
    hls.stream "kc>gelu0" of %kc from "load" to "gelu0" width 512 depth 4
    hls.stream "fc>write" of %y from "fc.combine" to "write" width 2048 depth 2 columns 64
  }
  hls.return %y, %g : tensor<8x96xf32>, tensor<1x16x96xf32>
}

// CHECK:      %[[Y:.*]] = fpq.qlinear
// CHECK:      %[[G:.*]] = fpq.gelu
// CHECK-NEXT: hls.plan {
// CHECK-NEXT:   hls.pe_array pes 64 lanes 16
// CHECK-NEXT:   hls.port "x" in 0 %[[X:.*]] width 512 burst 32 bundle "gmem0"
// CHECK-NEXT:   hls.port "wc" in 1 %[[WC:.*]] width 512 burst 12 bundle "gmem1"
// CHECK-NEXT:   hls.port "ws" in 2 %[[WS:.*]] width 512 burst 6 bundle "gmem2"
// CHECK-NEXT:   hls.port "kc" in 3 %[[KC:.*]] width 512 burst 48 bundle "gmem3"
// CHECK-NEXT:   hls.port "out0" out 0 %[[Y]] width 512 burst 48 bundle "gmem4"
// CHECK-NEXT:   hls.port "out1" out 1 %[[G]] width 256 burst 1 bundle "gmem4" inplace "kc"
// CHECK-NEXT:   hls.tile %[[C:.*]] [rows 8 by 8, c 128 by 128 on lanes] ii 1
// CHECK-NEXT:   hls.tile %[[Y]] [rows 8 by 8, n 96 by 64 pad on pes, k 128 by 128 on lanes] ii 1
// CHECK-NEXT:   hls.tile %[[G]] [rows 16 by 4, c 96 by 16 on lanes] ii 2
// CHECK-NEXT:   hls.buffer "pe.w" tile of %[[WC]], %[[WS]] as tensor<64x128x!fpq.float<e2m1>> in lutram banks 64 pack 16 copies 2 bits 65536
// CHECK-NEXT:   hls.buffer "fc.acc" scratch of %[[Y]] as tensor<64xi16> in registers banks 1 pack 1 copies 1 bits 1024
// CHECK-NEXT:   hls.buffer "fc.x" whole of %[[C]] as tensor<8x128x!fpq.float<e2m1>> in bram banks 1 pack 16 copies 1 bits 4096
// CHECK-NEXT:   hls.buffer "fc.xs" whole of %{{.*}} as tensor<8x1xf32> in uram banks 1 pack 1 copies 1 bits 256
// CHECK-NEXT:   hls.stage 0 "load" load %[[X]], %[[WC]], %[[WS]], %[[KC]]
// CHECK-NEXT:   hls.stage 1 "quantize0" quantize %[[C]] region 0
// CHECK-NEXT:   hls.stage 2 "fc.mul" lut_multiply %[[Y]] region 1
// CHECK-NEXT:   hls.stage 3 "fc.combine" combine %[[Y]] region 1
// CHECK-NEXT:   hls.stage 4 "gelu0" elementwise %[[G]] region 0
// CHECK-NEXT:   hls.stage 5 "write" write %[[Y]], %[[G]]
// CHECK-NEXT:   hls.stream "x>quantize0" of %[[X]] from "load" to "quantize0" width 512 depth 2
// CHECK-NEXT:   hls.stream "fc.sums" of %[[Y]] from "fc.mul" to "fc.combine" width 1024 depth 2
// CHECK-NEXT:   hls.stream "kc>gelu0" of %[[KC]] from "load" to "gelu0" width 512 depth 4
// CHECK-NEXT:   hls.stream "fc>write" of %[[Y]] from "fc.combine" to "write" width 2048 depth 2 columns 64
// CHECK-NEXT: }
// CHECK-NEXT: hls.return %[[Y]], %[[G]]
