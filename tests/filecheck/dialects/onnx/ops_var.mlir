// RUN: fpqc-opt %s | fpqc-opt | filecheck %s
// RUN: fpqc-opt %s --print-op-generic | fpqc-opt | filecheck %s

// The ops of VAR's exported graphs print in their custom form and parse back:
// several results (Split), variadic operands (Concat, Max, Min), optional
// operands named by keyword (Clip, Slice), a tensor property (ConstantOfShape).

func.func @elementwise(%a: tensor<2x3xf32>, %b: tensor<3xf32>, %c: tensor<2x3xi1>) -> (tensor<2x3xf32>, tensor<2x3xi1>, tensor<2x3xi1>) {
  %exp = onnx.Exp %a : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %log = onnx.Log %exp : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %neg = onnx.Neg %log : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %eq = onnx.Equal %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xi1>
  %lt = onnx.Less %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xi1>
  %gt = onnx.Greater %b, %a : (tensor<3xf32>, tensor<2x3xf32>) -> tensor<2x3xi1>
  %not = onnx.Not %gt : (tensor<2x3xi1>) -> tensor<2x3xi1>
  %nan = onnx.IsNaN %log : (tensor<2x3xf32>) -> tensor<2x3xi1>
  %where = onnx.Where %c, %neg, %b : (tensor<2x3xi1>, tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %lo = onnx.Constant dense<1.000000e-12> : tensor<f32>
  %clip_min = onnx.Clip %where min %lo : tensor<2x3xf32> min tensor<f32> -> tensor<2x3xf32>
  %clip_max = onnx.Clip %clip_min max %lo : tensor<2x3xf32> max tensor<f32> -> tensor<2x3xf32>
  %clip = onnx.Clip %clip_max min %lo max %lo : tensor<2x3xf32> min tensor<f32> max tensor<f32> -> tensor<2x3xf32>
  %max = onnx.Max %clip, %b, %a : (tensor<2x3xf32>, tensor<3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %min = onnx.Min %max : (tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return %min, %not, %nan : tensor<2x3xf32>, tensor<2x3xi1>, tensor<2x3xi1>
}

// CHECK-LABEL: func.func @elementwise
// CHECK-NEXT:    %exp = onnx.Exp %a : (tensor<2x3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT:    %log = onnx.Log %exp : (tensor<2x3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT:    %neg = onnx.Neg %log : (tensor<2x3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT:    %eq = onnx.Equal %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xi1>
// CHECK-NEXT:    %lt = onnx.Less %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xi1>
// CHECK-NEXT:    %gt = onnx.Greater %b, %a : (tensor<3xf32>, tensor<2x3xf32>) -> tensor<2x3xi1>
// CHECK-NEXT:    %not = onnx.Not %gt : (tensor<2x3xi1>) -> tensor<2x3xi1>
// CHECK-NEXT:    %nan = onnx.IsNaN %log : (tensor<2x3xf32>) -> tensor<2x3xi1>
// CHECK-NEXT:    %where = onnx.Where %c, %neg, %b : (tensor<2x3xi1>, tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT:    %lo = onnx.Constant dense<1.000000e-12> : tensor<f32>
// CHECK-NEXT:    %clip_min = onnx.Clip %where min %lo : tensor<2x3xf32> min tensor<f32> -> tensor<2x3xf32>
// CHECK-NEXT:    %clip_max = onnx.Clip %clip_min max %lo : tensor<2x3xf32> max tensor<f32> -> tensor<2x3xf32>
// CHECK-NEXT:    %clip = onnx.Clip %clip_max min %lo max %lo : tensor<2x3xf32> min tensor<f32> max tensor<f32> -> tensor<2x3xf32>
// CHECK-NEXT:    %max = onnx.Max %clip, %b, %a : (tensor<2x3xf32>, tensor<3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT:    %min = onnx.Min %max : (tensor<2x3xf32>) -> tensor<2x3xf32>

func.func @reductions(%x: tensor<2x5x64xf32>) -> (tensor<2x5x1xf32>, tensor<2x5xf32>, tensor<f32>, tensor<2x5x64xf32>, tensor<2x5x64xf32>) {
  %axes = onnx.Constant dense<-1> : tensor<1xi64>
  %l2 = onnx.ReduceL2 %x, %axes : (tensor<2x5x64xf32>, tensor<1xi64>) -> tensor<2x5x1xf32>
  %mean = onnx.ReduceMean %x, %axes {keepdims = 0 : i64} : (tensor<2x5x64xf32>, tensor<1xi64>) -> tensor<2x5xf32>
  %sum = onnx.ReduceSum %x {keepdims = 0 : i64} : (tensor<2x5x64xf32>) -> tensor<f32>
  %scale = onnx.Constant dense_resource<ln.weight> : tensor<64xf32>
  %ln = onnx.LayerNormalization %x, %scale {epsilon = 1.000000e-06 : f32} : (tensor<2x5x64xf32>, tensor<64xf32>) -> tensor<2x5x64xf32>
  %sm = onnx.Softmax %ln : (tensor<2x5x64xf32>) -> tensor<2x5x64xf32>
  func.return %l2, %mean, %sum, %ln, %sm : tensor<2x5x1xf32>, tensor<2x5xf32>, tensor<f32>, tensor<2x5x64xf32>, tensor<2x5x64xf32>
}

// CHECK-LABEL: func.func @reductions
// CHECK:         %l2 = onnx.ReduceL2 %x, %axes : (tensor<2x5x64xf32>, tensor<1xi64>) -> tensor<2x5x1xf32>
// CHECK-NEXT:    %mean = onnx.ReduceMean %x, %axes {keepdims = 0 : i64} : (tensor<2x5x64xf32>, tensor<1xi64>) -> tensor<2x5xf32>
// CHECK-NEXT:    %sum = onnx.ReduceSum %x {keepdims = 0 : i64} : (tensor<2x5x64xf32>) -> tensor<f32>
// CHECK-NEXT:    %scale = onnx.Constant dense_resource<ln.weight> : tensor<64xf32>
// CHECK-NEXT:    %ln = onnx.LayerNormalization %x, %scale {epsilon = 1.000000e-06 : f32} : (tensor<2x5x64xf32>, tensor<64xf32>) -> tensor<2x5x64xf32>
// CHECK-NEXT:    %sm = onnx.Softmax %ln : (tensor<2x5x64xf32>) -> tensor<2x5x64xf32>

func.func @shapes(%x: tensor<1x384xf32>, %t: tensor<11x64xf32>, %i: tensor<2xi64>) -> (tensor<1x1x64xf32>, tensor<1x1x64xf32>, tensor<2x64xf32>, tensor<1x2x64xf32>) {
  %shape = onnx.Constant dense<[-1, 1, 6, 64]> : tensor<4xi64>
  %v = onnx.Reshape %x, %shape : (tensor<1x384xf32>, tensor<4xi64>) -> tensor<1x1x6x64xf32>
  %ones = onnx.Constant dense<[1, 1, 4]> : tensor<3xi64>
  %p:3 = onnx.Split %v, %ones {axis = 2 : i64} : (tensor<1x1x6x64xf32>, tensor<3xi64>) -> (tensor<1x1x1x64xf32>, tensor<1x1x1x64xf32>, tensor<1x1x4x64xf32>)
  %q:2 = onnx.Split %v {axis = -2 : i64, num_outputs = 2 : i64} : (tensor<1x1x6x64xf32>) -> (tensor<1x1x3x64xf32>, tensor<1x1x3x64xf32>)
  %two = onnx.Constant dense<2> : tensor<1xi64>
  %g = onnx.Squeeze %p#0, %two : (tensor<1x1x1x64xf32>, tensor<1xi64>) -> tensor<1x1x64xf32>
  %all = onnx.Squeeze %p#1 : (tensor<1x1x1x64xf32>) -> tensor<64xf32>
  %zero = onnx.Constant dense<0> : tensor<1xi64>
  %u = onnx.Unsqueeze %all, %zero : (tensor<64xf32>, tensor<1xi64>) -> tensor<1x64xf32>
  %s = onnx.Shape %g {start = 1 : i64} : (tensor<1x1x64xf32>) -> tensor<2xi64>
  %e = onnx.Expand %u, %s : (tensor<1x64xf32>, tensor<2xi64>) -> tensor<1x64xf32>
  %gather = onnx.Gather %t, %i : (tensor<11x64xf32>, tensor<2xi64>) -> tensor<2x64xf32>
  %cat = onnx.Concat %u, %e {axis = 0 : i64} : (tensor<1x64xf32>, tensor<1x64xf32>) -> tensor<2x64xf32>
  %three = onnx.Constant dense<[3, 0]> : tensor<2xi64>
  %big = onnx.Constant dense<[-100, 64]> : tensor<2xi64>
  %axes = onnx.Constant dense<[0, 1]> : tensor<2xi64>
  %steps = onnx.Constant dense<[-1, 1]> : tensor<2xi64>
  %sl = onnx.Slice %t, %three, %big steps %steps : tensor<11x64xf32>, tensor<2xi64>, tensor<2xi64> steps tensor<2xi64> -> tensor<4x64xf32>
  %sl2 = onnx.Slice %cat, %zero, %two axes %zero : tensor<2x64xf32>, tensor<1xi64>, tensor<1xi64> axes tensor<1xi64> -> tensor<2x64xf32>
  %fill = onnx.ConstantOfShape %three {value = dense<7> : tensor<1xi64>} : (tensor<2xi64>) -> tensor<3x0xi64>
  %zeros = onnx.ConstantOfShape %two : (tensor<1xi64>) -> tensor<2xf32>
  %r = onnx.Unsqueeze %sl2, %zero : (tensor<2x64xf32>, tensor<1xi64>) -> tensor<1x2x64xf32>
  func.return %g, %g, %gather, %r : tensor<1x1x64xf32>, tensor<1x1x64xf32>, tensor<2x64xf32>, tensor<1x2x64xf32>
}

// CHECK-LABEL: func.func @shapes
// CHECK:         %p, %p_1, %p_2 = onnx.Split %v, %ones {axis = 2 : i64} : (tensor<1x1x6x64xf32>, tensor<3xi64>) -> (tensor<1x1x1x64xf32>, tensor<1x1x1x64xf32>, tensor<1x1x4x64xf32>)
// CHECK-NEXT:    %q, %q_1 = onnx.Split %v {axis = -2 : i64, num_outputs = 2 : i64} : (tensor<1x1x6x64xf32>) -> (tensor<1x1x3x64xf32>, tensor<1x1x3x64xf32>)
// CHECK:         %g = onnx.Squeeze %p, %two : (tensor<1x1x1x64xf32>, tensor<1xi64>) -> tensor<1x1x64xf32>
// CHECK-NEXT:    %all = onnx.Squeeze %p_1 : (tensor<1x1x1x64xf32>) -> tensor<64xf32>
// CHECK:         %u = onnx.Unsqueeze %all, %zero : (tensor<64xf32>, tensor<1xi64>) -> tensor<1x64xf32>
// CHECK-NEXT:    %s = onnx.Shape %g {start = 1 : i64} : (tensor<1x1x64xf32>) -> tensor<2xi64>
// CHECK-NEXT:    %e = onnx.Expand %u, %s : (tensor<1x64xf32>, tensor<2xi64>) -> tensor<1x64xf32>
// CHECK-NEXT:    %gather = onnx.Gather %t, %i : (tensor<11x64xf32>, tensor<2xi64>) -> tensor<2x64xf32>
// CHECK-NEXT:    %cat = onnx.Concat %u, %e {axis = 0 : i64} : (tensor<1x64xf32>, tensor<1x64xf32>) -> tensor<2x64xf32>
// CHECK:         %sl = onnx.Slice %t, %three, %big steps %steps : tensor<11x64xf32>, tensor<2xi64>, tensor<2xi64> steps tensor<2xi64> -> tensor<4x64xf32>
// CHECK-NEXT:    %sl2 = onnx.Slice %cat, %zero, %two axes %zero : tensor<2x64xf32>, tensor<1xi64>, tensor<1xi64> axes tensor<1xi64> -> tensor<2x64xf32>
// CHECK-NEXT:    %fill = onnx.ConstantOfShape %three {value = dense<7> : tensor<1xi64>} : (tensor<2xi64>) -> tensor<3x0xi64>
// CHECK-NEXT:    %zeros = onnx.ConstantOfShape %two : (tensor<1xi64>) -> tensor<2xf32>

func.func @range(%x: tensor<4xf32>) -> tensor<4xf32> {
  %start = onnx.Constant dense<1.000000e+00> : tensor<f32>
  %limit = onnx.Constant dense<3.000000e+00> : tensor<f32>
  %delta = onnx.Constant dense<5.000000e-01> : tensor<f32>
  %r = onnx.Range %start, %limit, %delta : (tensor<f32>, tensor<f32>, tensor<f32>) -> tensor<4xf32>
  %y = onnx.Add %x, %r : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %y : tensor<4xf32>
}

// CHECK-LABEL: func.func @range
// CHECK:         %r = onnx.Range %start, %limit, %delta : (tensor<f32>, tensor<f32>, tensor<f32>) -> tensor<4xf32>
