// RUN: fpqc-opt %s -p outline-kernels | filecheck %s

// FPQVAR's ops are accelerator ops.  In each FFN the group-wise Hadamard
// transform feeds fc1's quantizer and linear layer, and fc2's dual-format
// quantizer feeds its dual linear layer: the whole FFN is one kernel, the
// Walsh-Hadamard unit in front of the quantizer.  The random signs are a
// kernel argument like the weights, so the second FFN (other signs, other
// weights, same shapes and formats) launches the first one's kernel.  The
// third FFN's transform has no signs (folded into AdaLN): another kernel.

func.func @main(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %signs0 = fpq.constant dense<[1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0, -1.0]> : tensor<8xf32>
  %w1 = fpq.constant dense<1> : tensor<16x8xui8> -> tensor<16x8x!fpq.float<e2m1>>
  %s1 = fpq.constant dense<1.0> : tensor<16x1xf32>
  %w2 = fpq.constant dense<2> : tensor<8x16xui8> -> tensor<8x16x!fpq.float<e2m1>>
  %s2 = fpq.constant dense<1.0> : tensor<8x1xf32>
  %b2 = fpq.constant dense<0.5> : tensor<8xf32>
  %h0 = fpq.hadamard %x, %signs0 {block = 4 : i64} : tensor<2x8xf32>, tensor<8xf32>
  %c0, %q0 = fpq.quantize %h0 {quant = #fpq.quant<e2m1, token>} : tensor<2x8xf32> -> (tensor<2x8x!fpq.float<e2m1>>, tensor<2x1xf32>)
  %f0 = fpq.qlinear %c0, %q0, %w1, %s1 {x_quant = #fpq.quant<e2m1, token>, w_quant = #fpq.quant<e2m1, channel>} : (tensor<2x8x!fpq.float<e2m1>>, tensor<2x1xf32>, tensor<16x8x!fpq.float<e2m1>>, tensor<16x1xf32>) -> tensor<2x16xf32>
  %g0 = fpq.gelu %f0 : tensor<2x16xf32>
  %nc0, %pc0, %sn0, %sp0 = fpq.dual_quantize %g0 {neg_quant = #fpq.quant<e1m2, token>, pos_quant = #fpq.quant<e2m1, token>} : tensor<2x16xf32> -> (tensor<2x16x!fpq.float<e1m2>>, tensor<2x16x!fpq.float<e2m1>>, tensor<2x1xf32>, tensor<2x1xf32>)
  %y0 = fpq.dual_qlinear %nc0, %pc0, %sn0, %sp0, %w2, %s2, %b2 {neg_quant = #fpq.quant<e1m2, token>, pos_quant = #fpq.quant<e2m1, token>, w_quant = #fpq.quant<e2m1, channel>} : (tensor<2x16x!fpq.float<e1m2>>, tensor<2x16x!fpq.float<e2m1>>, tensor<2x1xf32>, tensor<2x1xf32>, tensor<8x16x!fpq.float<e2m1>>, tensor<8x1xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  %x1 = onnx.Add %x, %y0 : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>

  %signs1 = fpq.constant dense<[-1.0, -1.0, 1.0, -1.0, 1.0, 1.0, 1.0, -1.0]> : tensor<8xf32>
  %w3 = fpq.constant dense<3> : tensor<16x8xui8> -> tensor<16x8x!fpq.float<e2m1>>
  %s3 = fpq.constant dense<0.5> : tensor<16x1xf32>
  %w4 = fpq.constant dense<4> : tensor<8x16xui8> -> tensor<8x16x!fpq.float<e2m1>>
  %s4 = fpq.constant dense<0.5> : tensor<8x1xf32>
  %b4 = fpq.constant dense<0.25> : tensor<8xf32>
  %h1 = fpq.hadamard %x1, %signs1 {block = 4 : i64} : tensor<2x8xf32>, tensor<8xf32>
  %c1, %q1 = fpq.quantize %h1 {quant = #fpq.quant<e2m1, token>} : tensor<2x8xf32> -> (tensor<2x8x!fpq.float<e2m1>>, tensor<2x1xf32>)
  %f1 = fpq.qlinear %c1, %q1, %w3, %s3 {x_quant = #fpq.quant<e2m1, token>, w_quant = #fpq.quant<e2m1, channel>} : (tensor<2x8x!fpq.float<e2m1>>, tensor<2x1xf32>, tensor<16x8x!fpq.float<e2m1>>, tensor<16x1xf32>) -> tensor<2x16xf32>
  %g1 = fpq.gelu %f1 : tensor<2x16xf32>
  %nc1, %pc1, %sn1, %sp1 = fpq.dual_quantize %g1 {neg_quant = #fpq.quant<e1m2, token>, pos_quant = #fpq.quant<e2m1, token>} : tensor<2x16xf32> -> (tensor<2x16x!fpq.float<e1m2>>, tensor<2x16x!fpq.float<e2m1>>, tensor<2x1xf32>, tensor<2x1xf32>)
  %y1 = fpq.dual_qlinear %nc1, %pc1, %sn1, %sp1, %w4, %s4, %b4 {neg_quant = #fpq.quant<e1m2, token>, pos_quant = #fpq.quant<e2m1, token>, w_quant = #fpq.quant<e2m1, channel>} : (tensor<2x16x!fpq.float<e1m2>>, tensor<2x16x!fpq.float<e2m1>>, tensor<2x1xf32>, tensor<2x1xf32>, tensor<8x16x!fpq.float<e2m1>>, tensor<8x1xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  %x2 = onnx.Add %x1, %y1 : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>

  %h2 = fpq.hadamard %x2 {block = 8 : i64} : tensor<2x8xf32>
  %c2, %q2 = fpq.quantize %h2 {quant = #fpq.quant<e2m1, token>} : tensor<2x8xf32> -> (tensor<2x8x!fpq.float<e2m1>>, tensor<2x1xf32>)
  %f2 = fpq.qlinear %c2, %q2, %w1, %s1 {x_quant = #fpq.quant<e2m1, token>, w_quant = #fpq.quant<e2m1, channel>} : (tensor<2x8x!fpq.float<e2m1>>, tensor<2x1xf32>, tensor<16x8x!fpq.float<e2m1>>, tensor<16x1xf32>) -> tensor<2x16xf32>
  %g2 = fpq.gelu %f2 : tensor<2x16xf32>
  %nc2, %pc2, %sn2, %sp2 = fpq.dual_quantize %g2 {neg_quant = #fpq.quant<e1m2, token>, pos_quant = #fpq.quant<e2m1, token>} : tensor<2x16xf32> -> (tensor<2x16x!fpq.float<e1m2>>, tensor<2x16x!fpq.float<e2m1>>, tensor<2x1xf32>, tensor<2x1xf32>)
  %y2 = fpq.dual_qlinear %nc2, %pc2, %sn2, %sp2, %w2, %s2, %b2 {neg_quant = #fpq.quant<e1m2, token>, pos_quant = #fpq.quant<e2m1, token>, w_quant = #fpq.quant<e2m1, channel>} : (tensor<2x16x!fpq.float<e1m2>>, tensor<2x16x!fpq.float<e2m1>>, tensor<2x1xf32>, tensor<2x1xf32>, tensor<8x16x!fpq.float<e2m1>>, tensor<8x1xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  func.return %y2 : tensor<2x8xf32>
}

// CHECK:       hls.kernel @kernel_0(%[[X:.*]]: tensor<2x8xf32>, %[[SIGNS:.*]]: tensor<8xf32>, %{{.*}}: tensor<16x8x!fpq.float<e2m1>>, %{{.*}}: tensor<16x1xf32>, %{{.*}}: tensor<8x16x!fpq.float<e2m1>>, %{{.*}}: tensor<8x1xf32>, %{{.*}}: tensor<8xf32>) -> tensor<2x8xf32>
// CHECK-NEXT:    %[[H:.*]] = fpq.hadamard %[[X]], %[[SIGNS]] {block = 4 : i64}
// CHECK-NEXT:    %[[C:.*]], %[[Q:.*]] = fpq.quantize %[[H]]
// CHECK-NEXT:    %[[F:.*]] = fpq.qlinear %[[C]], %[[Q]],
// CHECK-NEXT:    %[[G:.*]] = fpq.gelu %[[F]]
// CHECK-NEXT:    %[[NC:.*]], %[[PC:.*]], %[[SN:.*]], %[[SP:.*]] = fpq.dual_quantize %[[G]] {neg_quant = #fpq.quant<e1m2, token>, pos_quant = #fpq.quant<e2m1, token>}
// CHECK-NEXT:    %[[Y:.*]] = fpq.dual_qlinear %[[NC]], %[[PC]], %[[SN]], %[[SP]],
// CHECK-NEXT:    hls.return %[[Y]] : tensor<2x8xf32>
// CHECK-NEXT:  }
// CHECK-NEXT:  hls.kernel @kernel_1(%[[X2:.*]]: tensor<2x8xf32>, %{{.*}}: tensor<16x8x!fpq.float<e2m1>>,
// CHECK-NEXT:    fpq.hadamard %[[X2]] {block = 8 : i64} : tensor<2x8xf32>
// CHECK-NEXT:    fpq.quantize
// CHECK-NEXT:    fpq.qlinear
// CHECK-NEXT:    fpq.gelu
// CHECK-NEXT:    fpq.dual_quantize
// CHECK-NEXT:    fpq.dual_qlinear
// CHECK-NEXT:    hls.return
// CHECK-NEXT:  }
// CHECK-NOT:   hls.kernel
// CHECK:       func.func @main(%[[MX:.*]]: tensor<2x8xf32>)
// CHECK-NEXT:    %[[S0:.*]] = fpq.constant dense<[1.000000e+00, -1.000000e+00,
// CHECK:         %[[Y0:.*]] = hls.call @kernel_0(%[[MX]], %[[S0]],
// CHECK-NEXT:    %[[X1:.*]] = onnx.Add %[[MX]], %[[Y0]]
// CHECK-NEXT:    %[[S1:.*]] = fpq.constant dense<[-1.000000e+00, -1.000000e+00,
// CHECK:         %[[Y1:.*]] = hls.call @kernel_0(%[[X1]], %[[S1]],
// CHECK-NEXT:    %[[XX:.*]] = onnx.Add %[[X1]], %[[Y1]]
// CHECK-NEXT:    %[[Y2:.*]] = hls.call @kernel_1(%[[XX]],
// CHECK-NEXT:    func.return %[[Y2]]
// CHECK-NOT:     fpq.hadamard
