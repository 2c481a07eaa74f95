// RUN: fpqc-opt %s -p 'tile{pes=8 lanes=8 n_tile=16 row_tile=2 k_tile=16 storage="pe.w=uram,fc1.x*=bram"}' | filecheck %s
// RUN: fpqc-opt %s -p 'tile{pes=8 lanes=8 n_tile=16 row_tile=2 k_tile=16 storage="pe.w=uram,fc1.x*=bram"}' | fpqc-opt -p tile | filecheck %s --check-prefix=AGAIN

// Options fix choices by hand: 8 PEs of 8 lanes (the kernel's lanes follow),
// weight tiles of 16 x 16 (the partial sums of every row of a row tile carried
// across k tiles, fp32 since a k tile holds whole groups), 2 rows per row
// tile, the weight tile in URAM and the activation buffers in BRAM.
// Running the pass again replaces the plan with its own choices.

hls.kernel @kernel_0(%x: tensor<8x64xf32>, %w: tensor<48x64x!fpq.float<e2m1>>, %s: tensor<48x4xf32>) -> tensor<8x48xf32> attributes {target = "vck190", lanes = 16 : i64} {
  %c, %cs = fpq.quantize %x {quant = #fpq.quant<e2m1, group 16>} : tensor<8x64xf32> -> (tensor<8x64x!fpq.float<e2m1>>, tensor<8x4xf32>)
  %y = fpq.qlinear %c, %cs, %w, %s {fpq.role = "fc1", x_quant = #fpq.quant<e2m1, group 16>, w_quant = #fpq.quant<e2m1, group 16>} : (tensor<8x64x!fpq.float<e2m1>>, tensor<8x4xf32>, tensor<48x64x!fpq.float<e2m1>>, tensor<48x4xf32>) -> tensor<8x48xf32>
  hls.return %y : tensor<8x48xf32>
}

// CHECK:      hls.kernel @kernel_0({{.*}}) -> tensor<8x48xf32> attributes {target = "vck190", lanes = 8 : i64} {
// CHECK:        hls.pe_array pes 8 lanes 8
// CHECK:        hls.tile %c [rows 8 by 2, c 64 by 16 on lanes] ii 1
// CHECK-NEXT:   hls.tile %y [rows 8 by 2, n 48 by 16 on pes, k 64 by 16 on lanes] ii 1
// CHECK:        hls.buffer "pe.w" tile of %w as tensor<16x16x!fpq.float<e2m1>> in uram banks 8 pack 8 copies 2 bits 2048
// CHECK:        hls.buffer "fc1.partial" scratch of %y as tensor<2x16xf32>
// CHECK-NEXT:   hls.buffer "fc1.x" whole of %c as tensor<2x64x!fpq.float<e2m1>> in bram
// CHECK-NEXT:   hls.buffer "fc1.xs" whole of %cs as tensor<2x4xf32> in bram

// AGAIN:      attributes {target = "vck190", lanes = 16 : i64} {
// AGAIN:        hls.plan {
// AGAIN-NEXT:     hls.pe_array pes 32 lanes 16
// AGAIN:          hls.tile %y [rows 8 by 8, n 48 by 24 on pes, k 64 by 64 on lanes] ii 1
// AGAIN-NOT:      hls.plan
