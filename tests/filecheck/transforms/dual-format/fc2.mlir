// RUN: fpqc-opt %s -p dual-format | filecheck %s
// RUN: fpqc-opt %s -p 'dual-format{mode=force}' | filecheck %s --check-prefix=FORCE
// RUN: fpqc-opt %s -p 'dual-format{mode=forbid}' | filecheck %s --check-prefix=FORBID
// RUN: fpqc-opt %s -p 'dual-format{format="e2m1/e2m1" roles=fc2,proj mode=force}' | filecheck %s --check-prefix=ROLES

// The fc2 input (a GELU output) gets dual-format quantization: negatives on
// E1M2, positives on E2M1, each with its own scale per group.  Other roles,
// and in auto mode inputs not produced by a GELU, keep plain quantization.
// The input is the output of quantize{group-size=8}.

func.func @mlp(%x: tensor<2x8xf32>) -> (tensor<2x8xf32>, tensor<2x8xf32>) {
  %b = fpq.constant dense<2.500000e-01> : tensor<8xf32>
  %wc = fpq.constant dense<7> : tensor<8x8xui8> -> tensor<8x8x!fpq.float<e2m1>>
  %ws = fpq.constant dense<0.0833333358> : tensor<8x1xf32>
  %xc, %xs = fpq.quantize %x {quant = #fpq.quant<e2m1, group 8>} : tensor<2x8xf32> -> (tensor<2x8x!fpq.float<e2m1>>, tensor<2x1xf32>)
  %h = fpq.qlinear %xc, %xs, %wc, %ws, %b {fpq.role = "fc1", x_quant = #fpq.quant<e2m1, group 8>, w_quant = #fpq.quant<e2m1, group 8>} : (tensor<2x8x!fpq.float<e2m1>>, tensor<2x1xf32>, tensor<8x8x!fpq.float<e2m1>>, tensor<8x1xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  %g = fpq.gelu %h : tensor<2x8xf32>
  %gc, %gs = fpq.quantize %g {quant = #fpq.quant<e2m1, group 8>} : tensor<2x8xf32> -> (tensor<2x8x!fpq.float<e2m1>>, tensor<2x1xf32>)
  %y = fpq.qlinear %gc, %gs, %wc, %ws, %b {fpq.role = "fc2", x_quant = #fpq.quant<e2m1, group 8>, w_quant = #fpq.quant<e2m1, group 8>} : (tensor<2x8x!fpq.float<e2m1>>, tensor<2x1xf32>, tensor<8x8x!fpq.float<e2m1>>, tensor<8x1xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  %pc, %ps = fpq.quantize %x {quant = #fpq.quant<e2m1, group 8>} : tensor<2x8xf32> -> (tensor<2x8x!fpq.float<e2m1>>, tensor<2x1xf32>)
  %p = fpq.qlinear %pc, %ps, %wc, %ws {fpq.role = "proj", x_quant = #fpq.quant<e2m1, group 8>, w_quant = #fpq.quant<e2m1, group 8>} : (tensor<2x8x!fpq.float<e2m1>>, tensor<2x1xf32>, tensor<8x8x!fpq.float<e2m1>>, tensor<8x1xf32>) -> tensor<2x8xf32>
  func.return %y, %p : tensor<2x8xf32>, tensor<2x8xf32>
}
// CHECK-LABEL: func.func @mlp
// CHECK:       fpq.quantize %x {quant = #fpq.quant<e2m1, group 8>}
// CHECK:       %[[H:.*]] = fpq.qlinear {{.*}}fpq.role = "fc1"
// CHECK:       %[[G:.*]] = fpq.gelu %[[H]]
// CHECK-NOT:   fpq.quantize %[[G]]
// CHECK:       %[[NC:.*]], %[[PC:.*]], %[[SN:.*]], %[[SP:.*]] = fpq.dual_quantize %[[G]] {neg_quant = #fpq.quant<e1m2, group 8>, pos_quant = #fpq.quant<e2m1, group 8>} : tensor<2x8xf32> -> (tensor<2x8x!fpq.float<e1m2>>, tensor<2x8x!fpq.float<e2m1>>, tensor<2x1xf32>, tensor<2x1xf32>)
// CHECK:       %[[Y:.*]] = fpq.dual_qlinear %[[NC]], %[[PC]], %[[SN]], %[[SP]], %{{.*}}, %{{.*}}, %{{.*}} {fpq.role = "fc2", neg_quant = #fpq.quant<e1m2, group 8>, pos_quant = #fpq.quant<e2m1, group 8>, w_quant = #fpq.quant<e2m1, group 8>} : ({{.*}}) -> tensor<2x8xf32>
// CHECK:       fpq.qlinear {{.*}}fpq.role = "proj"
// CHECK:       func.return %[[Y]]

// FORBID-LABEL: func.func @mlp
// FORBID-NOT:   fpq.dual_quantize
// FORBID:       fpq.qlinear {{.*}}fpq.role = "fc2"

// ROLES-LABEL: func.func @mlp
// ROLES:       fpq.dual_quantize {{.*}}neg_quant = #fpq.quant<e2m1, group 8>, pos_quant = #fpq.quant<e2m1, group 8>
// ROLES:       fpq.dual_qlinear {{.*}}fpq.role = "fc2"
// ROLES:       fpq.dual_quantize %x
// ROLES:       fpq.dual_qlinear {{.*}}fpq.role = "proj"

// An fc2 whose input is not a GELU output: auto leaves it, force rewrites it.
func.func @not_gelu(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %wc = fpq.constant dense<7> : tensor<8x8xui8> -> tensor<8x8x!fpq.float<e2m1>>
  %ws = fpq.constant dense<0.0833333358> : tensor<8x1xf32>
  %xc, %xs = fpq.quantize %x {quant = #fpq.quant<e2m1, group 8>} : tensor<2x8xf32> -> (tensor<2x8x!fpq.float<e2m1>>, tensor<2x1xf32>)
  %y = fpq.qlinear %xc, %xs, %wc, %ws {fpq.role = "fc2", x_quant = #fpq.quant<e2m1, group 8>, w_quant = #fpq.quant<e2m1, group 8>} : (tensor<2x8x!fpq.float<e2m1>>, tensor<2x1xf32>, tensor<8x8x!fpq.float<e2m1>>, tensor<8x1xf32>) -> tensor<2x8xf32>
  func.return %y : tensor<2x8xf32>
}
// CHECK-LABEL: func.func @not_gelu
// CHECK-NOT:   fpq.dual_quantize
// CHECK:       fpq.qlinear {{.*}}fpq.role = "fc2"

// FORCE-LABEL: func.func @not_gelu
// FORCE:       fpq.dual_quantize %x
// FORCE:       fpq.dual_qlinear {{.*}}fpq.role = "fc2"
// FORCE-NOT:   fpq.qlinear
