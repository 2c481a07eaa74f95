// RUN: not fpqc-opt %s -p 'tile{row_tile=65536}' 2>&1 | filecheck %s --check-prefix=FIT
// RUN: not fpqc-opt %s -p 'tile{target=nosuchboard}' 2>&1 | filecheck %s --check-prefix=TARGET
// RUN: not fpqc-opt %s -p 'tile{storage="pe.w=flash"}' 2>&1 | filecheck %s --check-prefix=STORAGE

// A design that cannot fit is one line naming the kernel, what it needs, its
// largest buffers and the options to change: 65536 rows of 8192 activation
// codes kept on chip at once need far more than the VCK190's URAM and BRAM.

hls.kernel @kernel_0(%x: tensor<65536x8192xf32>, %w: tensor<64x8192x!fpq.float<e2m1>>, %s: tensor<64x64xf32>) -> tensor<65536x64xf32> attributes {target = "vck190", lanes = 16 : i64} {
  %c, %cs = fpq.quantize %x {quant = #fpq.quant<e2m1, group 128>} : tensor<65536x8192xf32> -> (tensor<65536x8192x!fpq.float<e2m1>>, tensor<65536x64xf32>)
  %y = fpq.qlinear %c, %cs, %w, %s {x_quant = #fpq.quant<e2m1, group 128>, w_quant = #fpq.quant<e2m1, group 128>} : (tensor<65536x8192x!fpq.float<e2m1>>, tensor<65536x64xf32>, tensor<64x8192x!fpq.float<e2m1>>, tensor<64x64xf32>) -> tensor<65536x64xf32>
  hls.return %y : tensor<65536x64xf32>
}

// FIT: error: tile: kernel @kernel_0 does not fit vck190: with 64 PEs and row tile 65536 (fewer PEs tried too) it needs {{.*}} URAM of 463; largest buffers: qlinear0.x (tensor<65536x8192x!fpq.float<e2m1>>, 2048.0 Mib in {{.*}}), {{.*}}; lower row_tile (now 65536), n_tile, k_tile, or place buffers with storage="NAME=bram|uram|lutram"
// FIT-NOT: error
// TARGET: error: unknown target 'nosuchboard' (known targets: vck190, zcu104)
// STORAGE: error: tile: storage entry 'pe.w=flash' is not <buffer name or glob>=<bram|uram|lutram|registers>
