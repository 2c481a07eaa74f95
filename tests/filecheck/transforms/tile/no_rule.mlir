// RUN: not fpqc-opt %s -p tile 2>&1 | filecheck %s

// Every op kind that may run in a kernel has a rule; another op is named.

hls.kernel @kernel_1(%x: tensor<2x8xf32>) -> tensor<2x8xf32> attributes {target = "vck190", lanes = 16 : i64} {
  %y = fpq.silu %x : tensor<2x8xf32>
  hls.return %y : tensor<2x8xf32>
}

// CHECK: error: tile: kernel @kernel_1: fpq.silu has no tiling rule (ops with rules: fpq.cached_attention, fpq.dequantize, fpq.dual_qlinear, fpq.dual_quantize, fpq.gelu, fpq.hadamard, fpq.layernorm, fpq.modulate, fpq.qlinear, fpq.quantize, fpq.residual)
// CHECK-NOT: Traceback
