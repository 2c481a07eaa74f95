// RUN: fpqc-opt %s -p outline-kernels | filecheck %s
// RUN: fpqc-opt %s -p 'outline-kernels{dedupe=false}' | filecheck %s --check-prefix=NODEDUP

// Two "blocks" of quantized linear -> host relu -> quantized linear -> host
// residual add.  Each accelerator region between host ops is its own kernel;
// the second block's linears have the same shapes and formats as the first's,
// so they launch the first block's kernels with their own weights.  The
// schedule keeps the host ops between the launches, in dataflow order.

func.func @main(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %wa = fpq.constant dense<1> : tensor<16x8xui8> -> tensor<16x8x!fpq.float<e2m1>>
  %sa = fpq.constant dense<1.0> : tensor<16x1xf32>
  %wb = fpq.constant dense<2> : tensor<8x16xui8> -> tensor<8x16x!fpq.float<e2m1>>
  %sb = fpq.constant dense<1.0> : tensor<8x1xf32>
  %c0, %s0 = fpq.quantize %x {quant = #fpq.quant<e2m1, token>} : tensor<2x8xf32> -> (tensor<2x8x!fpq.float<e2m1>>, tensor<2x1xf32>)
  %h0 = fpq.qlinear %c0, %s0, %wa, %sa {x_quant = #fpq.quant<e2m1, token>, w_quant = #fpq.quant<e2m1, channel>} : (tensor<2x8x!fpq.float<e2m1>>, tensor<2x1xf32>, tensor<16x8x!fpq.float<e2m1>>, tensor<16x1xf32>) -> tensor<2x16xf32>
  %r0 = onnx.Relu %h0 : (tensor<2x16xf32>) -> tensor<2x16xf32>
  %c1, %s1 = fpq.quantize %r0 {quant = #fpq.quant<e2m1, token>} : tensor<2x16xf32> -> (tensor<2x16x!fpq.float<e2m1>>, tensor<2x1xf32>)
  %y0 = fpq.qlinear %c1, %s1, %wb, %sb {x_quant = #fpq.quant<e2m1, token>, w_quant = #fpq.quant<e2m1, channel>} : (tensor<2x16x!fpq.float<e2m1>>, tensor<2x1xf32>, tensor<8x16x!fpq.float<e2m1>>, tensor<8x1xf32>) -> tensor<2x8xf32>
  %x1 = onnx.Add %x, %y0 : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %wa1 = fpq.constant dense<3> : tensor<16x8xui8> -> tensor<16x8x!fpq.float<e2m1>>
  %sa1 = fpq.constant dense<0.5> : tensor<16x1xf32>
  %wb1 = fpq.constant dense<4> : tensor<8x16xui8> -> tensor<8x16x!fpq.float<e2m1>>
  %sb1 = fpq.constant dense<0.5> : tensor<8x1xf32>
  %c2, %s2 = fpq.quantize %x1 {quant = #fpq.quant<e2m1, token>} : tensor<2x8xf32> -> (tensor<2x8x!fpq.float<e2m1>>, tensor<2x1xf32>)
  %h1 = fpq.qlinear %c2, %s2, %wa1, %sa1 {x_quant = #fpq.quant<e2m1, token>, w_quant = #fpq.quant<e2m1, channel>} : (tensor<2x8x!fpq.float<e2m1>>, tensor<2x1xf32>, tensor<16x8x!fpq.float<e2m1>>, tensor<16x1xf32>) -> tensor<2x16xf32>
  %r1 = onnx.Relu %h1 : (tensor<2x16xf32>) -> tensor<2x16xf32>
  %c3, %s3 = fpq.quantize %r1 {quant = #fpq.quant<e2m1, token>} : tensor<2x16xf32> -> (tensor<2x16x!fpq.float<e2m1>>, tensor<2x1xf32>)
  %y1 = fpq.qlinear %c3, %s3, %wb1, %sb1 {x_quant = #fpq.quant<e2m1, token>, w_quant = #fpq.quant<e2m1, channel>} : (tensor<2x16x!fpq.float<e2m1>>, tensor<2x1xf32>, tensor<8x16x!fpq.float<e2m1>>, tensor<8x1xf32>) -> tensor<2x8xf32>
  %x2 = onnx.Add %x1, %y1 : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  func.return %x2 : tensor<2x8xf32>
}

// CHECK:       hls.kernel @kernel_0(%{{.*}}: tensor<2x8xf32>, %{{.*}}: tensor<16x8x!fpq.float<e2m1>>, %{{.*}}: tensor<16x1xf32>) -> tensor<2x16xf32>
// CHECK-NEXT:    fpq.quantize
// CHECK-NEXT:    fpq.qlinear
// CHECK-NEXT:    hls.return
// CHECK-NEXT:  }
// CHECK-NEXT:  hls.kernel @kernel_1(%{{.*}}: tensor<2x16xf32>, %{{.*}}: tensor<8x16x!fpq.float<e2m1>>, %{{.*}}: tensor<8x1xf32>) -> tensor<2x8xf32>
// CHECK-NEXT:    fpq.quantize
// CHECK-NEXT:    fpq.qlinear
// CHECK-NEXT:    hls.return
// CHECK-NEXT:  }
// CHECK-NOT:   hls.kernel
// CHECK:       func.func @main(%[[X:.*]]: tensor<2x8xf32>)
// CHECK-DAG:     %[[WA:.*]] = fpq.constant dense<1>
// CHECK-DAG:     %[[SA:.*]] = fpq.constant dense<1.000000e+00> : tensor<16x1xf32>
// CHECK:         %[[H0:.*]] = hls.call @kernel_0(%[[X]], %[[WA]], %[[SA]])
// CHECK-NEXT:    %[[R0:.*]] = onnx.Relu %[[H0]]
// CHECK:         %[[Y0:.*]] = hls.call @kernel_1(%[[R0]],
// CHECK-NEXT:    %[[X1:.*]] = onnx.Add %[[X]], %[[Y0]]
// CHECK-DAG:     %[[WA1:.*]] = fpq.constant dense<3>
// CHECK-DAG:     %[[SA1:.*]] = fpq.constant dense<5.000000e-01> : tensor<16x1xf32>
// CHECK:         %[[H1:.*]] = hls.call @kernel_0(%[[X1]], %[[WA1]], %[[SA1]])
// CHECK-NEXT:    %[[R1:.*]] = onnx.Relu %[[H1]]
// CHECK:         %[[Y1:.*]] = hls.call @kernel_1(%[[R1]],
// CHECK-NEXT:    %[[X2:.*]] = onnx.Add %[[X1]], %[[Y1]]
// CHECK-NEXT:    func.return %[[X2]]

// NODEDUP-COUNT-4: hls.kernel @kernel_{{[0-3]}}(
// NODEDUP:         func.func @main
// NODEDUP:           hls.call @kernel_0(
// NODEDUP:           onnx.Relu
// NODEDUP:           hls.call @kernel_1(
// NODEDUP:           onnx.Add
// NODEDUP:           hls.call @kernel_2(
// NODEDUP:           onnx.Relu
// NODEDUP:           hls.call @kernel_3(
// NODEDUP:           onnx.Add
