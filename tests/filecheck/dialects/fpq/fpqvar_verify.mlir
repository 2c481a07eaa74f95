// RUN: fpqc-opt %s --split-input-file --verify-diagnostics | filecheck %s

// Verifier messages of FPQVAR's ops name the op and the mismatch.

func.func @block_not_power_of_two(%x: tensor<2x96xf32>) {
  %h = fpq.hadamard %x {block = 96 : i64} : tensor<2x96xf32>
  func.return
}
// CHECK: fpq.hadamard: block must be a power of two, got 96

// -----

func.func @block_does_not_divide(%x: tensor<2x96xf32>) {
  %h = fpq.hadamard %x {block = 64 : i64} : tensor<2x96xf32>
  func.return
}
// CHECK: fpq.hadamard: block 64 does not divide the last dimension (96) of the input

// -----

func.func @signs_per_channel(%x: tensor<2x64xf32>, %s: tensor<32xf32>) {
  %h = fpq.hadamard %x, %s {block = 32 : i64} : tensor<2x64xf32>, tensor<32xf32>
  func.return
}
// CHECK: fpq.hadamard: signs has shape [32], expected [64]

// -----

func.func @granularities_differ(%x: tensor<2x64xf32>) {
  %nc, %pc, %sn, %sp = fpq.dual_quantize %x {neg_quant = #fpq.quant<e1m2, token>, pos_quant = #fpq.quant<e2m1, group 32>} : tensor<2x64xf32> -> (tensor<2x64x!fpq.float<e1m2>>, tensor<2x64x!fpq.float<e2m1>>, tensor<2x1xf32>, tensor<2x1xf32>)
  func.return
}
// CHECK: fpq.dual_quantize: neg_quant and pos_quant must have the same granularity, got #fpq.quant<e1m2, token> and #fpq.quant<e2m1, group 32>

// -----

func.func @per_tensor(%x: tensor<2x64xf32>) {
  %nc, %pc, %sn, %sp = fpq.dual_quantize %x {neg_quant = #fpq.quant<e1m2, tensor>, pos_quant = #fpq.quant<e2m1, tensor>} : tensor<2x64xf32> -> (tensor<2x64x!fpq.float<e1m2>>, tensor<2x64x!fpq.float<e2m1>>, tensor<1x1xf32>, tensor<1x1xf32>)
  func.return
}
// CHECK: fpq.dual_quantize: dual-format granularity must be token or group, got 'tensor'

// -----

func.func @plane_format(%x: tensor<2x64xf32>) {
  %nc, %pc, %sn, %sp = fpq.dual_quantize %x {neg_quant = #fpq.quant<e1m2, token>, pos_quant = #fpq.quant<e2m1, token>} : tensor<2x64xf32> -> (tensor<2x64x!fpq.float<e2m1>>, tensor<2x64x!fpq.float<e2m1>>, tensor<2x1xf32>, tensor<2x1xf32>)
  func.return
}
// CHECK: fpq.dual_quantize: neg codes has element type !fpq.float<e2m1> but its quantization says !fpq.float<e1m2> (format mismatch)

// -----

func.func @dual_scales(%nc: tensor<2x64x!fpq.float<e1m2>>, %pc: tensor<2x64x!fpq.float<e2m1>>, %sn: tensor<2x2xf32>, %sp: tensor<2x1xf32>, %wc: tensor<3x64x!fpq.float<e2m1>>, %ws: tensor<3x2xf32>) {
  %y = fpq.dual_qlinear %nc, %pc, %sn, %sp, %wc, %ws {neg_quant = #fpq.quant<e1m2, group 32>, pos_quant = #fpq.quant<e2m1, group 32>, w_quant = #fpq.quant<e2m1, group 32>} : (tensor<2x64x!fpq.float<e1m2>>, tensor<2x64x!fpq.float<e2m1>>, tensor<2x2xf32>, tensor<2x1xf32>, tensor<3x64x!fpq.float<e2m1>>, tensor<3x2xf32>) -> tensor<2x3xf32>
  func.return
}
// CHECK: fpq.dual_qlinear: pos scales has shape [2, 1], expected [2, 2]

// -----

func.func @dual_weight_features(%nc: tensor<2x64x!fpq.float<e1m2>>, %pc: tensor<2x64x!fpq.float<e2m1>>, %sn: tensor<2x1xf32>, %sp: tensor<2x1xf32>, %wc: tensor<3x32x!fpq.float<e2m1>>, %ws: tensor<3x1xf32>) {
  %y = fpq.dual_qlinear %nc, %pc, %sn, %sp, %wc, %ws {neg_quant = #fpq.quant<e1m2, token>, pos_quant = #fpq.quant<e2m1, token>, w_quant = #fpq.quant<e2m1, channel>} : (tensor<2x64x!fpq.float<e1m2>>, tensor<2x64x!fpq.float<e2m1>>, tensor<2x1xf32>, tensor<2x1xf32>, tensor<3x32x!fpq.float<e2m1>>, tensor<3x1xf32>) -> tensor<2x3xf32>
  func.return
}
// CHECK: fpq.dual_qlinear: input has 64 features but weight [out, in] = [3, 32] expects 32
