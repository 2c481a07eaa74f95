// RUN: fpqc-opt %s --split-input-file --verify-diagnostics | filecheck %s

// The plan's invariants: tiles divide their extent or mark the remainder, a
// buffer's bits are elements x element bits x copies, every op is tiled and
// staged, every port is moved once, ports name their argument or result and
// are AXI widths, streams flow forward within one region, a compute stage is
// in a region, banks divide the buffer.

hls.kernel @k(%x: tensor<8x64xf32>) -> tensor<8x64xf32> attributes {target = "vck190", lanes = 16 : i64} {
  %g = fpq.gelu %x : tensor<8x64xf32>
  hls.plan {
    hls.pe_array pes 1 lanes 16
    hls.port "x" in 0 %x width 512 burst 1 bundle "gmem0"
    hls.port "out0" out 0 %g width 512 burst 1 bundle "gmem1"
    hls.tile %g [rows 8 by 3, c 64 by 16 on lanes] ii 1
    hls.stage 0 "load" load %x
    hls.stage 1 "gelu0" elementwise %g region 0
    hls.stage 2 "write" write %g
  }
  hls.return %g : tensor<8x64xf32>
}
// CHECK: loop rows: tile 3 does not divide 8; mark the remainder with 'pad'

// -----

hls.kernel @k(%x: tensor<8x64xf32>) -> tensor<8x64xf32> attributes {target = "vck190", lanes = 16 : i64} {
  %g = fpq.gelu %x : tensor<8x64xf32>
  hls.plan {
    hls.pe_array pes 1 lanes 16
    hls.port "x" in 0 %x width 512 burst 1 bundle "gmem0"
    hls.port "out0" out 0 %g width 512 burst 1 bundle "gmem1"
    hls.tile %g [rows 8 by 8, c 64 by 16 on lanes] ii 1
    hls.buffer "b" whole of %x as tensor<8x64xf32> in bram banks 1 pack 16 copies 2 bits 16384
    hls.stage 0 "load" load %x
    hls.stage 1 "gelu0" elementwise %g region 0
    hls.stage 2 "write" write %g
  }
  hls.return %g : tensor<8x64xf32>
}
// CHECK: hls.buffer 'b': bits must be elements × element bits × copies = 512 × 32 × 2 = 32768, got 16384

// -----

hls.kernel @k(%x: tensor<8x64xf32>) -> tensor<8x64xf32> attributes {target = "vck190", lanes = 16 : i64} {
  %g = fpq.gelu %x : tensor<8x64xf32>
  hls.plan {
    hls.pe_array pes 1 lanes 16
    hls.port "x" in 0 %x width 512 burst 1 bundle "gmem0"
    hls.port "out0" out 0 %g width 512 burst 1 bundle "gmem1"
    hls.stage 0 "load" load %x
    hls.stage 1 "gelu0" elementwise %g region 0
    hls.stage 2 "write" write %g
  }
  hls.return %g : tensor<8x64xf32>
}
// CHECK: hls.plan of @k: fpq.gelu needs exactly one hls.tile, has 0

// -----

hls.kernel @k(%x: tensor<8x64xf32>) -> tensor<8x64xf32> attributes {target = "vck190", lanes = 16 : i64} {
  %g = fpq.gelu %x : tensor<8x64xf32>
  hls.plan {
    hls.pe_array pes 1 lanes 16
    hls.port "x" in 0 %x width 512 burst 1 bundle "gmem0"
    hls.port "out0" out 0 %g width 512 burst 1 bundle "gmem1"
    hls.tile %g [rows 8 by 8, c 64 by 16 on lanes] ii 1
    hls.stage 0 "gelu0" elementwise %g region 0
    hls.stage 1 "write" write %g
  }
  hls.return %g : tensor<8x64xf32>
}
// CHECK: hls.plan of @k: port 'x' must be moved by exactly one load stage, is by 0

// -----

hls.kernel @k(%x: tensor<8x64xf32>) -> tensor<8x64xf32> attributes {target = "vck190", lanes = 16 : i64} {
  %g = fpq.gelu %x : tensor<8x64xf32>
  hls.plan {
    hls.pe_array pes 1 lanes 8
    hls.port "x" in 0 %x width 512 burst 1 bundle "gmem0"
    hls.port "out0" out 0 %g width 512 burst 1 bundle "gmem1"
    hls.tile %g [rows 8 by 8, c 64 by 16 on lanes] ii 1
    hls.stage 0 "load" load %x
    hls.stage 1 "gelu0" elementwise %g region 0
    hls.stage 2 "write" write %g
  }
  hls.return %g : tensor<8x64xf32>
}
// CHECK: hls.plan of @k: hls.pe_array has 8 lanes, the kernel 16

// -----

hls.kernel @k(%x: tensor<8x64xf32>) -> tensor<8x64xf32> attributes {target = "vck190", lanes = 16 : i64} {
  %g = fpq.gelu %x : tensor<8x64xf32>
  hls.plan {
    hls.pe_array pes 1 lanes 16
    hls.port "x" in 0 %g width 512 burst 1 bundle "gmem0"
  }
  hls.return %g : tensor<8x64xf32>
}
// CHECK: hls.port 'x': in-port 0 must name argument 0 of @k

// -----

hls.kernel @k(%x: tensor<8x64xf32>) -> tensor<8x64xf32> attributes {target = "vck190", lanes = 16 : i64} {
  %g = fpq.gelu %x : tensor<8x64xf32>
  hls.plan {
    hls.pe_array pes 1 lanes 16
    hls.port "x" in 0 %x width 384 burst 1 bundle "gmem0"
  }
  hls.return %g : tensor<8x64xf32>
}
// CHECK: hls.port 'x': width 384 must be a power of two from 8 to 1024 bits (AXI4)

// -----

hls.kernel @k(%x: tensor<8x64xf32>) -> tensor<8x64xf32> attributes {target = "vck190", lanes = 16 : i64} {
  %g = fpq.gelu %x : tensor<8x64xf32>
  hls.plan {
    hls.pe_array pes 1 lanes 16
    hls.port "x" in 0 %x width 512 burst 1 bundle "gmem0"
    hls.port "out0" out 0 %g width 512 burst 1 bundle "gmem1"
    hls.tile %g [rows 8 by 8, c 64 by 16 on lanes] ii 1
    hls.stage 0 "load" load %x
    hls.stage 1 "gelu0" elementwise %g region 0
    hls.stage 2 "write" write %g
    hls.stream "back" of %g from "gelu0" to "load" width 512 depth 2
  }
  hls.return %g : tensor<8x64xf32>
}
// CHECK: hls.plan of @k: stream 'back' must flow to a later stage ('gelu0' -> 'load')

// -----

hls.kernel @k(%x: tensor<8x64xf32>) -> tensor<8x64xf32> attributes {target = "vck190", lanes = 16 : i64} {
  %g = fpq.gelu %x : tensor<8x64xf32>
  hls.plan {
    hls.pe_array pes 1 lanes 16
    hls.buffer "b" whole of %x as tensor<8x64xf32> in bram banks 3 pack 1 copies 1 bits 16384
  }
  hls.return %g : tensor<8x64xf32>
}
// CHECK: hls.buffer 'b': 3 banks do not divide its first axis (8)

// -----

hls.kernel @k(%x: tensor<8x64xf32>) -> tensor<8x64xf32> attributes {target = "vck190", lanes = 16 : i64} {
  %g = fpq.gelu %x : tensor<8x64xf32>
  %h = fpq.gelu %g : tensor<8x64xf32>
  hls.plan {
    hls.pe_array pes 1 lanes 16
    hls.port "x" in 0 %x width 512 burst 1 bundle "gmem0"
    hls.port "out0" out 0 %h width 512 burst 1 bundle "gmem1"
    hls.tile %g [rows 8 by 8, c 64 by 16 on lanes] ii 1
    hls.tile %h [rows 8 by 8, c 64 by 16 on lanes] ii 1
    hls.stage 0 "load" load %x
    hls.stage 1 "gelu0" elementwise %g region 0
    hls.stage 2 "gelu1" elementwise %h region 1
    hls.stage 3 "write" write %h
    hls.stream "gelu0>gelu1" of %g from "gelu0" to "gelu1" width 512 depth 2
  }
  hls.return %h : tensor<8x64xf32>
}
// CHECK: hls.plan of @k: stream 'gelu0>gelu1' joins regions 0 and 1; a value crossing regions waits in a whole buffer (a FIFO would have to hold all of it)

// -----

hls.kernel @k(%x: tensor<8x64xf32>) -> tensor<8x64xf32> attributes {target = "vck190", lanes = 16 : i64} {
  %g = fpq.gelu %x : tensor<8x64xf32>
  hls.plan {
    hls.pe_array pes 1 lanes 16
    hls.stage 0 "gelu0" elementwise %g
  }
  hls.return %g : tensor<8x64xf32>
}
// CHECK: hls.stage 'gelu0': a compute stage (elementwise) needs a region
