// RUN: fpqc-opt %s -p 'tile{n_tile=32}' | filecheck %s

// DATAFLOW regions and the values that cross them.  The linear layer waits
// for all its activation codes, so it starts region 1.  GELU's result is
// read only by the residual, but the residual also reads the layer's output,
// so it runs in region 1 after GELU finished region 0: GELU's result waits
// in a whole buffer (a two-beat FIFO would have to hold all of it and would
// stall GELU for ever), while the layer's output streams into the residual.
// The residual's x, a kernel argument, is read again from its port in
// region 1, in the layer's column tiles of 32.

hls.kernel @kernel_0(%x: tensor<1x8x64xf32>, %w: tensor<64x64x!fpq.float<e2m1>>, %s: tensor<64x1xf32>, %gamma: tensor<1x1x64xf32>) -> tensor<1x8x64xf32> attributes {target = "vck190", lanes = 16 : i64} {
  %a = fpq.gelu %x : tensor<1x8x64xf32>
  %c, %cs = fpq.quantize %x {quant = #fpq.quant<e2m1, token>} : tensor<1x8x64xf32> -> (tensor<1x8x64x!fpq.float<e2m1>>, tensor<1x8x1xf32>)
  %y = fpq.qlinear %c, %cs, %w, %s {fpq.role = "fc", x_quant = #fpq.quant<e2m1, token>, w_quant = #fpq.quant<e2m1, channel>} : (tensor<1x8x64x!fpq.float<e2m1>>, tensor<1x8x1xf32>, tensor<64x64x!fpq.float<e2m1>>, tensor<64x1xf32>) -> tensor<1x8x64xf32>
  %r = fpq.residual %a, %y, %gamma : (tensor<1x8x64xf32>, tensor<1x8x64xf32>, tensor<1x1x64xf32>) -> tensor<1x8x64xf32>
  %z = fpq.residual %x, %r, %gamma : (tensor<1x8x64xf32>, tensor<1x8x64xf32>, tensor<1x1x64xf32>) -> tensor<1x8x64xf32>
  hls.return %z : tensor<1x8x64xf32>
}

// CHECK:      hls.plan {
// CHECK:        hls.buffer "gelu0.out" whole of %a as tensor<8x64xf32>
// CHECK:        hls.stage 1 "gelu0" elementwise %a region 0
// CHECK-NEXT:   hls.stage 2 "quantize0" quantize %c region 0
// CHECK-NEXT:   hls.stage 3 "fc.mul" lut_multiply %y region 1
// CHECK-NEXT:   hls.stage 4 "fc.combine" combine %y region 1
// CHECK-NEXT:   hls.stage 5 "residual0" elementwise %r region 1
// CHECK-NEXT:   hls.stage 6 "residual1" elementwise %z region 1
// CHECK-NEXT:   hls.stage 7 "write" write %z
// CHECK:        hls.stream "x>gelu0" of %x from "load" to "gelu0"
// CHECK:        hls.stream "x>residual1" of %x from "load" to "residual1" width 512 depth 2 columns 32
// CHECK-NOT:    "gelu0>residual0"
// CHECK:        hls.stream "fc>residual0" of %y from "fc.combine" to "residual0" width 1024 depth 2 columns 32
// CHECK-NEXT:   hls.stream "residual0>residual1" of %r from "residual0" to "residual1" width 512 depth 2 columns 32
// CHECK-NEXT:   hls.stream "residual1>write" of %z from "residual1" to "write" width 512 depth 2 columns 32
