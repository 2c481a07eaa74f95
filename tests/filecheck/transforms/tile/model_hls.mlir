// RUN: fpqc-opt %s -p tile | filecheck %s

// What `fpqc compile` writes as model.hls.mlir: kernels, and a host schedule
// whose weights are dense_resource references to weights.npz (not needed to
// plan).  The kernels share the LUT budget in proportion to their work (the
// FFN kernel does 8x the multiply-accumulates of the other, launched twice);
// at 16 rows both wait on DDR, so the cost model's best design for each is
// the smallest PE array that keeps up: 128 and 32 PEs.  The FFN's two layers
// share the weight tiles.  The host schedule is unchanged.

builtin.module {
  hls.kernel @kernel_0(%0: tensor<2x8x128xf32>, %w_codes: tensor<512x128x!fpq.float<e2m1>>, %w_scales: tensor<512x1xf32>, %1: tensor<512xf32>, %w_codes_1: tensor<128x512x!fpq.float<e2m1>>, %w_scales_1: tensor<128x4xf32>, %2: tensor<128xf32>) -> tensor<2x8x128xf32> attributes {target = "vck190", lanes = 16 : i64} {
    %x_codes, %x_scales = fpq.quantize %0 {quant = #fpq.quant<e2m1, group 128>} : tensor<2x8x128xf32> -> (tensor<2x8x128x!fpq.float<e2m1>>, tensor<2x8x1xf32>)
    %3 = fpq.qlinear %x_codes, %x_scales, %w_codes, %w_scales, %1 {fpq.role = "fc1", x_quant = #fpq.quant<e2m1, group 128>, w_quant = #fpq.quant<e2m1, group 128>} : (tensor<2x8x128x!fpq.float<e2m1>>, tensor<2x8x1xf32>, tensor<512x128x!fpq.float<e2m1>>, tensor<512x1xf32>, tensor<512xf32>) -> tensor<2x8x512xf32>
    %4 = fpq.gelu %3 : tensor<2x8x512xf32>
    %x_codes_1, %x_scales_1 = fpq.quantize %4 {quant = #fpq.quant<e2m1, group 128>} : tensor<2x8x512xf32> -> (tensor<2x8x512x!fpq.float<e2m1>>, tensor<2x8x4xf32>)
    %5 = fpq.qlinear %x_codes_1, %x_scales_1, %w_codes_1, %w_scales_1, %2 {fpq.role = "fc2", x_quant = #fpq.quant<e2m1, group 128>, w_quant = #fpq.quant<e2m1, group 128>} : (tensor<2x8x512x!fpq.float<e2m1>>, tensor<2x8x4xf32>, tensor<128x512x!fpq.float<e2m1>>, tensor<128x4xf32>, tensor<128xf32>) -> tensor<2x8x128xf32>
    hls.return %5 : tensor<2x8x128xf32>
  }
  hls.kernel @kernel_1(%0: tensor<2x8x128xf32>, %w_codes: tensor<128x128x!fpq.float<e2m1>>, %w_scales: tensor<128x1xf32>) -> tensor<2x8x128xf32> attributes {target = "vck190", lanes = 16 : i64} {
    %x_codes, %x_scales = fpq.quantize %0 {quant = #fpq.quant<e2m1, group 128>} : tensor<2x8x128xf32> -> (tensor<2x8x128x!fpq.float<e2m1>>, tensor<2x8x1xf32>)
    %1 = fpq.qlinear %x_codes, %x_scales, %w_codes, %w_scales {fpq.role = "proj", x_quant = #fpq.quant<e2m1, group 128>, w_quant = #fpq.quant<e2m1, group 128>} : (tensor<2x8x128x!fpq.float<e2m1>>, tensor<2x8x1xf32>, tensor<128x128x!fpq.float<e2m1>>, tensor<128x1xf32>) -> tensor<2x8x128xf32>
    hls.return %1 : tensor<2x8x128xf32>
  }
  func.func @main(%arg0: tensor<2x8x128xf32> {onnx.name = "x"}) -> (tensor<2x8x128xf32> {onnx.name = "y"}) {
    %0 = fpq.constant dense_resource<blocks.0.fc1.w> : tensor<512x128xui8> -> tensor<512x128x!fpq.float<e2m1>>
    %1 = fpq.constant dense_resource<blocks.0.fc1.s> : tensor<512x1xf32>
    %2 = fpq.constant dense_resource<blocks.0.fc1.b> : tensor<512xf32>
    %3 = fpq.constant dense_resource<blocks.0.fc2.w> : tensor<128x512xui8> -> tensor<128x512x!fpq.float<e2m1>>
    %4 = fpq.constant dense_resource<blocks.0.fc2.s> : tensor<128x4xf32>
    %5 = fpq.constant dense_resource<blocks.0.fc2.b> : tensor<128xf32>
    %6 = hls.call @kernel_0(%arg0, %0, %1, %2, %3, %4, %5) : (tensor<2x8x128xf32>, tensor<512x128x!fpq.float<e2m1>>, tensor<512x1xf32>, tensor<512xf32>, tensor<128x512x!fpq.float<e2m1>>, tensor<128x4xf32>, tensor<128xf32>) -> tensor<2x8x128xf32>
    %7 = fpq.constant dense_resource<blocks.1.proj.w> : tensor<128x128xui8> -> tensor<128x128x!fpq.float<e2m1>>
    %8 = fpq.constant dense_resource<blocks.1.proj.s> : tensor<128x1xf32>
    %9 = hls.call @kernel_1(%6, %7, %8) : (tensor<2x8x128xf32>, tensor<128x128x!fpq.float<e2m1>>, tensor<128x1xf32>) -> tensor<2x8x128xf32>
    %10 = fpq.constant dense_resource<blocks.1.fc1.w> : tensor<512x128xui8> -> tensor<512x128x!fpq.float<e2m1>>
    %11 = fpq.constant dense_resource<blocks.1.fc1.s> : tensor<512x1xf32>
    %12 = fpq.constant dense_resource<blocks.1.fc1.b> : tensor<512xf32>
    %13 = fpq.constant dense_resource<blocks.1.fc2.w> : tensor<128x512xui8> -> tensor<128x512x!fpq.float<e2m1>>
    %14 = fpq.constant dense_resource<blocks.1.fc2.s> : tensor<128x4xf32>
    %15 = fpq.constant dense_resource<blocks.1.fc2.b> : tensor<128xf32>
    %16 = hls.call @kernel_0(%9, %10, %11, %12, %13, %14, %15) : (tensor<2x8x128xf32>, tensor<512x128x!fpq.float<e2m1>>, tensor<512x1xf32>, tensor<512xf32>, tensor<128x512x!fpq.float<e2m1>>, tensor<128x4xf32>, tensor<128xf32>) -> tensor<2x8x128xf32>
    func.return %16 : tensor<2x8x128xf32>
  }
}

// CHECK:      hls.kernel @kernel_0(
// CHECK:        hls.plan {
// CHECK-NEXT:     hls.pe_array pes 128 lanes 16
// CHECK:          hls.tile %{{.*}} [rows 16 by 16, n 512 by 128 on pes, k 128 by 128 on lanes] ii 1
// CHECK:          hls.tile %{{.*}} [rows 16 by 16, n 128 by 128 on pes, k 512 by 512 on lanes] ii 1
// CHECK:          hls.buffer "pe.w" tile of %w_codes, %w_codes_1 as tensor<128x512x!fpq.float<e2m1>> in {{.*}} banks 128 pack 16 copies 2
// CHECK:          hls.stream "fc1>gelu0"
// CHECK-NEXT:     hls.stream "gelu0>quantize1"
// CHECK:        hls.return
// CHECK:      hls.kernel @kernel_1(
// CHECK:        hls.plan {
// CHECK-NEXT:     hls.pe_array pes 32 lanes 16
// CHECK:      func.func @main(
// CHECK-NEXT:   %0 = fpq.constant dense_resource<blocks.0.fc1.w> : tensor<512x128xui8> -> tensor<512x128x!fpq.float<e2m1>>
// CHECK:        hls.call @kernel_0(%arg0, %0, %1, %2, %3, %4, %5)
// CHECK:        hls.call @kernel_1(
// CHECK:        hls.call @kernel_0(
// CHECK-NOT:    hls.plan
