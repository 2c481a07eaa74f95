// RUN: fpqc-opt %s --split-input-file --parsing-diagnostics | filecheck %s

// Storage kinds, buffer kinds, stage kinds and loop spreads are closed sets.

hls.kernel @k(%x: tensor<8x64xf32>) -> tensor<8x64xf32> attributes {target = "vck190", lanes = 16 : i64} {
  hls.plan {
    hls.buffer "b" whole of %x as tensor<8x64xf32> in flipflops banks 1 pack 1 copies 1 bits 16384
  }
  hls.return %x : tensor<8x64xf32>
}
// CHECK: Expected one of 'bram', 'lutram', 'registers', 'uram' (bram, uram, lutram or registers)

// -----

hls.kernel @k(%x: tensor<8x64xf32>) -> tensor<8x64xf32> attributes {target = "vck190", lanes = 16 : i64} {
  hls.plan {
    hls.buffer "b" cache of %x as tensor<8x64xf32> in bram banks 1 pack 1 copies 1 bits 16384
  }
  hls.return %x : tensor<8x64xf32>
}
// CHECK: (whole, tile or scratch)

// -----

hls.kernel @k(%x: tensor<8x64xf32>) -> tensor<8x64xf32> attributes {target = "vck190", lanes = 16 : i64} {
  hls.plan {
    hls.stage 0 "s" dance %x
  }
  hls.return %x : tensor<8x64xf32>
}
// CHECK: (a stage kind)

// -----

hls.kernel @k(%x: tensor<8x64xf32>) -> tensor<8x64xf32> attributes {target = "vck190", lanes = 16 : i64} {
  %g = fpq.gelu %x : tensor<8x64xf32>
  hls.plan {
    hls.tile %g [rows 8 by 8 on dsps] ii 1
  }
  hls.return %g : tensor<8x64xf32>
}
// CHECK: (pes, lanes or units)
