// RUN: fpqc-opt %s | fpqc-opt | filecheck %s
// RUN: fpqc-opt %s --print-op-generic | fpqc-opt | filecheck %s

// FPQVAR's ops print in their custom form and parse back: the online
// Hadamard transform (with and without random signs), dual-format
// quantization and the dual-format linear layer.

func.func @fpqvar(%x: tensor<2x3x256xf32>, %s: tensor<256xf32>, %wc: tensor<4x256x!fpq.float<e2m1>>, %ws: tensor<4x2xf32>, %b: tensor<4xf32>) -> (tensor<2x3x4xf32>, tensor<2x3x4xf32>) {
  %h = fpq.hadamard %x {block = 128 : i64} : tensor<2x3x256xf32>
  %g = fpq.hadamard %h, %s {block = 128 : i64} : tensor<2x3x256xf32>, tensor<256xf32>
  %nc, %pc, %sn, %sp = fpq.dual_quantize %g {neg_quant = #fpq.quant<e1m2, group 128>, pos_quant = #fpq.quant<e2m1, group 128>} : tensor<2x3x256xf32> -> (tensor<2x3x256x!fpq.float<e1m2>>, tensor<2x3x256x!fpq.float<e2m1>>, tensor<2x3x2xf32>, tensor<2x3x2xf32>)
  %y = fpq.dual_qlinear %nc, %pc, %sn, %sp, %wc, %ws, %b {neg_quant = #fpq.quant<e1m2, group 128>, pos_quant = #fpq.quant<e2m1, group 128>, w_quant = #fpq.quant<e2m1, group 128>} : (tensor<2x3x256x!fpq.float<e1m2>>, tensor<2x3x256x!fpq.float<e2m1>>, tensor<2x3x2xf32>, tensor<2x3x2xf32>, tensor<4x256x!fpq.float<e2m1>>, tensor<4x2xf32>, tensor<4xf32>) -> tensor<2x3x4xf32>
  %tn, %tp, %tsn, %tsp = fpq.dual_quantize %x {neg_quant = #fpq.quant<int6, token>, pos_quant = #fpq.quant<e2m3, token>} : tensor<2x3x256xf32> -> (tensor<2x3x256x!fpq.int<6>>, tensor<2x3x256x!fpq.float<e2m3>>, tensor<2x3x1xf32>, tensor<2x3x1xf32>)
  %wc6 = fpq.constant dense<0> : tensor<4x256xui8> -> tensor<4x256x!fpq.float<e2m3>>
  %ws6 = fpq.constant dense<1.0> : tensor<4x1xf32>
  %z = fpq.dual_qlinear %tn, %tp, %tsn, %tsp, %wc6, %ws6 {neg_quant = #fpq.quant<int6, token>, pos_quant = #fpq.quant<e2m3, token>, w_quant = #fpq.quant<e2m3, channel>} : (tensor<2x3x256x!fpq.int<6>>, tensor<2x3x256x!fpq.float<e2m3>>, tensor<2x3x1xf32>, tensor<2x3x1xf32>, tensor<4x256x!fpq.float<e2m3>>, tensor<4x1xf32>) -> tensor<2x3x4xf32>
  func.return %y, %z : tensor<2x3x4xf32>, tensor<2x3x4xf32>
}

// CHECK-LABEL: func.func @fpqvar
// CHECK:       %[[H:.*]] = fpq.hadamard %x {block = 128 : i64} : tensor<2x3x256xf32>
// CHECK:       %[[G:.*]] = fpq.hadamard %[[H]], %s {block = 128 : i64} : tensor<2x3x256xf32>, tensor<256xf32>
// CHECK:       %[[NC:.*]], %[[PC:.*]], %[[SN:.*]], %[[SP:.*]] = fpq.dual_quantize %[[G]] {neg_quant = #fpq.quant<e1m2, group 128>, pos_quant = #fpq.quant<e2m1, group 128>} : tensor<2x3x256xf32> -> (tensor<2x3x256x!fpq.float<e1m2>>, tensor<2x3x256x!fpq.float<e2m1>>, tensor<2x3x2xf32>, tensor<2x3x2xf32>)
// CHECK:       fpq.dual_qlinear %[[NC]], %[[PC]], %[[SN]], %[[SP]], %wc, %ws, %b {neg_quant = #fpq.quant<e1m2, group 128>, pos_quant = #fpq.quant<e2m1, group 128>, w_quant = #fpq.quant<e2m1, group 128>} : (tensor<2x3x256x!fpq.float<e1m2>>, tensor<2x3x256x!fpq.float<e2m1>>, tensor<2x3x2xf32>, tensor<2x3x2xf32>, tensor<4x256x!fpq.float<e2m1>>, tensor<4x2xf32>, tensor<4xf32>) -> tensor<2x3x4xf32>
// CHECK:       fpq.dual_quantize %x {neg_quant = #fpq.quant<int6, token>, pos_quant = #fpq.quant<e2m3, token>} : tensor<2x3x256xf32> -> (tensor<2x3x256x!fpq.int<6>>, tensor<2x3x256x!fpq.float<e2m3>>, tensor<2x3x1xf32>, tensor<2x3x1xf32>)
// CHECK:       fpq.dual_qlinear {{.*}} {neg_quant = #fpq.quant<int6, token>, pos_quant = #fpq.quant<e2m3, token>, w_quant = #fpq.quant<e2m3, channel>} : ({{.*}}, tensor<4x1xf32>) -> tensor<2x3x4xf32>
