// RUN: fpqc-opt %s -p 'dual-format{format=dfq-w6a6}' | filecheck %s

// W6A6: the fc2 input, quantized per token (quantize{act-granularity=token
// weight-granularity=channel act-format=e2m3 weight-format=e2m3}), splits into
// INT6 negatives and E2M3 positives, per token; the weight stays per channel.

func.func @fc2(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %b = fpq.constant dense<2.500000e-01> : tensor<8xf32>
  %wc = fpq.constant dense<31> : tensor<8x8xui8> -> tensor<8x8x!fpq.float<e2m3>>
  %ws = fpq.constant dense<0.0666666701> : tensor<8x1xf32>
  %g = fpq.gelu %x : tensor<2x8xf32>
  %gc, %gs = fpq.quantize %g {quant = #fpq.quant<e2m3, token>} : tensor<2x8xf32> -> (tensor<2x8x!fpq.float<e2m3>>, tensor<2x1xf32>)
  %y = fpq.qlinear %gc, %gs, %wc, %ws, %b {fpq.role = "fc2", x_quant = #fpq.quant<e2m3, token>, w_quant = #fpq.quant<e2m3, channel>} : (tensor<2x8x!fpq.float<e2m3>>, tensor<2x1xf32>, tensor<8x8x!fpq.float<e2m3>>, tensor<8x1xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  func.return %y : tensor<2x8xf32>
}
// CHECK-LABEL: func.func @fc2
// CHECK:       %[[G:.*]] = fpq.gelu %x
// CHECK-NEXT:  fpq.dual_quantize %[[G]] {neg_quant = #fpq.quant<int6, token>, pos_quant = #fpq.quant<e2m3, token>} : tensor<2x8xf32> -> (tensor<2x8x!fpq.int<6>>, tensor<2x8x!fpq.float<e2m3>>, tensor<2x1xf32>, tensor<2x1xf32>)
// CHECK-NEXT:  fpq.dual_qlinear {{.*}}{fpq.role = "fc2", {{.*}}w_quant = #fpq.quant<e2m3, channel>}
// CHECK-NOT:   fpq.qlinear
