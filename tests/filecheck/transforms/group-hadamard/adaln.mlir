// RUN: fpqc-opt %s -p 'group-hadamard{block=4}' | filecheck %s
// RUN: fpqc-opt %s -p 'group-hadamard{block=4 fold-signs=false}' | filecheck %s --check-prefix=SIGNS
// RUN: fpqc-opt %s -p 'group-hadamard{block=4 roles=proj}' | filecheck %s --check-prefix=NONE

// An AdaLN-modulated input of mat_qkv: the weight becomes W·Q, a pure FWHT
// runs on the modulation, and the random signs go into the AdaLN linear's
// scale and shift rows (rows 8..15 and 16..23 of the 3-way split).  With the
// all-ones AdaLN weight below, a folded row holds ±1 and a scale row's bias
// b·D + (D − 1) is 0.5 for D = +1 and -2.5 for D = -1 (the weight prints in hex:
// 0x3F800000 is 1.0, 0xBF800000 is -1.0, little-endian).

func.func @qkv(%c: tensor<1x8xf32>, %n: tensor<1x3x8xf32>) -> (tensor<1x3x8xf32>, tensor<1x1x8xf32>) {
  %wa = fpq.constant dense<1.0> : tensor<24x8xf32>
  %ba = fpq.constant dense<0.5> : tensor<24xf32>
  %a = fpq.linear %c, %wa, %ba {fpq.role = "ada_lin"} : (tensor<1x8xf32>, tensor<24x8xf32>, tensor<24xf32>) -> tensor<1x24xf32>
  %g, %sc, %sh = fpq.split %a : tensor<1x24xf32> -> (tensor<1x1x8xf32>, tensor<1x1x8xf32>, tensor<1x1x8xf32>)
  %m = fpq.modulate %n, %sc, %sh : (tensor<1x3x8xf32>, tensor<1x1x8xf32>, tensor<1x1x8xf32>) -> tensor<1x3x8xf32>
  %w = fpq.constant dense<0.25> : tensor<8x8xf32>
  %y = fpq.linear %m, %w {fpq.role = "mat_qkv"} : (tensor<1x3x8xf32>, tensor<8x8xf32>) -> tensor<1x3x8xf32>
  func.return %y, %g : tensor<1x3x8xf32>, tensor<1x1x8xf32>
}
// CHECK-LABEL: func.func @qkv
// CHECK:       %[[WA:.*]] = fpq.constant dense<"0x0000803F{{.*}}000080BF{{.*}}"> : tensor<24x8xf32>
// CHECK:       %[[BA:.*]] = fpq.constant dense<[5.000000e-01, {{.*}}-2.500000e+00{{.*}}> : tensor<24xf32>
// CHECK:       %[[A:.*]] = fpq.linear %c, %[[WA]], %[[BA]] {fpq.role = "ada_lin"}
// CHECK:       %{{.*}}, %[[SC:.*]], %[[SH:.*]] = fpq.split %[[A]]
// CHECK:       %[[M:.*]] = fpq.modulate %n, %[[SC]], %[[SH]]
// CHECK-NEXT:  %[[H:.*]] = fpq.hadamard %[[M]] {block = 4 : i64} : tensor<1x3x8xf32>
// CHECK:       %[[W:.*]] = fpq.constant dense<{{.*}}> : tensor<8x8xf32>
// CHECK:       fpq.linear %[[H]], %[[W]] {fpq.role = "mat_qkv"}

// SIGNS-LABEL: func.func @qkv
// SIGNS:       fpq.constant dense<1.000000e+00> : tensor<24x8xf32>
// SIGNS:       fpq.constant dense<5.000000e-01> : tensor<24xf32>
// SIGNS:       %[[M:.*]] = fpq.modulate
// SIGNS-NEXT:  %[[S:.*]] = fpq.constant dense<[{{.*}}-1.000000e+00{{.*}}]> : tensor<8xf32>
// SIGNS-NEXT:  %[[H:.*]] = fpq.hadamard %[[M]], %[[S]] {block = 4 : i64} : tensor<1x3x8xf32>, tensor<8xf32>
// SIGNS:       fpq.linear %[[H]], %{{.*}} {fpq.role = "mat_qkv"}

// NONE-LABEL: func.func @qkv
// NONE-NOT:   fpq.hadamard
// NONE:       fpq.constant dense<2.500000e-01> : tensor<8x8xf32>

// Two linears reading one input share one transform; the input is a function
// argument, so the signs stay online; another reader of the input keeps x.
func.func @shared(%x: tensor<2x8xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x8xf32>) {
  %w = fpq.constant dense<0.25> : tensor<4x8xf32>
  %a = fpq.linear %x, %w {fpq.role = "fc1"} : (tensor<2x8xf32>, tensor<4x8xf32>) -> tensor<2x4xf32>
  %b = fpq.linear %x, %w {fpq.role = "mat_qkv"} : (tensor<2x8xf32>, tensor<4x8xf32>) -> tensor<2x4xf32>
  %g = fpq.gelu %x : tensor<2x8xf32>
  func.return %a, %b, %g : tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x8xf32>
}
// CHECK-LABEL: func.func @shared
// CHECK-NEXT:  %[[S:.*]] = fpq.constant dense<{{.*}}> : tensor<8xf32>
// CHECK-NEXT:  %[[H:.*]] = fpq.hadamard %x, %[[S]] {block = 4 : i64}
// CHECK-NOT:   fpq.hadamard
// CHECK:       fpq.linear %[[H]], %{{.*}} {fpq.role = "fc1"}
// CHECK:       fpq.linear %[[H]], %{{.*}} {fpq.role = "mat_qkv"}
// CHECK:       fpq.gelu %x
