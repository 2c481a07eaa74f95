// RUN: fpqc-opt --allow-unregistered-dialect %s | fpqc-opt --allow-unregistered-dialect | filecheck %s
// RUN: fpqc-opt --allow-unregistered-dialect %s --print-op-generic | fpqc-opt --allow-unregistered-dialect | filecheck %s

// Every low-bit type and quantization attribute prints and parses back.

"test.types"() {
  fp4 = tensor<4x!fpq.float<e2m1>>,
  fp6a = tensor<4x!fpq.float<e2m3>>,
  fp6b = tensor<4x!fpq.float<e3m2>>,
  fp8a = tensor<4x!fpq.float<e4m3>>,
  fp8b = tensor<4x!fpq.float<e5m2>>,
  dual = tensor<4x!fpq.float<e1m2>>,
  biased = tensor<4x!fpq.float<e3m4, bias = 5>>,
  special = tensor<4x!fpq.float<e3m2, specials = "ieee">>,
  int4 = tensor<4x!fpq.int<4>>,
  q_group = #fpq.quant<e2m1, group 128>,
  q_token = #fpq.quant<e2m3, token>,
  q_channel = #fpq.quant<int4, channel>,
  q_tensor = #fpq.quant<e4m3, tensor>,
  q_options = #fpq.quant<e2m1, group 32, scale = "e8m0", rounding = "ties-up">,
  q_full_type = #fpq.quant<!fpq.float<e3m4, bias = 5>, token>,
  granularity = #fpq<granularity group>,
  scale_kind = #fpq<scale_kind e8m0>,
  rounding = #fpq<rounding "ties-away">
} : () -> ()

// CHECK:      "test.types"() {
// CHECK-SAME: fp4 = tensor<4x!fpq.float<e2m1>>
// CHECK-SAME: fp6a = tensor<4x!fpq.float<e2m3>>
// CHECK-SAME: fp6b = tensor<4x!fpq.float<e3m2>>
// CHECK-SAME: fp8a = tensor<4x!fpq.float<e4m3>>
// CHECK-SAME: fp8b = tensor<4x!fpq.float<e5m2>>
// CHECK-SAME: dual = tensor<4x!fpq.float<e1m2>>
// CHECK-SAME: biased = tensor<4x!fpq.float<e3m4, bias = 5>>
// CHECK-SAME: special = tensor<4x!fpq.float<e3m2, specials = "ieee">>
// CHECK-SAME: int4 = tensor<4x!fpq.int<4>>
// CHECK-SAME: q_group = #fpq.quant<e2m1, group 128>
// CHECK-SAME: q_token = #fpq.quant<e2m3, token>
// CHECK-SAME: q_channel = #fpq.quant<int4, channel>
// CHECK-SAME: q_tensor = #fpq.quant<e4m3, tensor>
// CHECK-SAME: q_options = #fpq.quant<e2m1, group 32, scale = "e8m0", rounding = "ties-up">
// CHECK-SAME: q_full_type = #fpq.quant<!fpq.float<e3m4, bias = 5>, token>
// CHECK-SAME: granularity = #fpq<granularity group>
// CHECK-SAME: scale_kind = #fpq<scale_kind e8m0>
// CHECK-SAME: rounding = #fpq<rounding "ties-away">
