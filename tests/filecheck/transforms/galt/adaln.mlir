// RUN: python -c "import numpy as np; r = np.random.default_rng(0); x = r.standard_normal((2, 6, 8)); x[:, :, 5] *= 30; np.savez('%t.npz', **{f'linear1/scale{k}': x[k].astype(np.float32) for k in range(2)})"
// RUN: fpqc-opt %s -p 'galt{calib="%t.npz" block=4 group-size=4 epochs=20}' 2>%t.log | filecheck %s
// RUN: filecheck %s --check-prefix=LOG < %t.log
// RUN: fpqc-opt %s -p 'galt{calib="%t.npz" block=4 group-size=4 roles=proj}' | filecheck %s --check-prefix=NONE
// RUN: not fpqc-opt %s -p galt 2>&1 | filecheck %s --check-prefix=NOCALIB

// The AdaLN-modulated input of mat_qkv (fpq.linear #1 in program order, so
// its calibration rows are linear1/scale0 and linear1/scale1; channel 5 holds
// an outlier) gets a learned smoothing s: the mat_qkv weight becomes W/s (no
// longer the splat 0.25, so it prints element by element) and
// the AdaLN linear's scale rows (8..15) and shift rows (16..23) carry s; the
// gate rows (0..7) keep their all-ones weight and 0.5 bias (0x3F800000 is
// 1.0, little-endian).  galt inserts no transform of its own.

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
// CHECK:       %[[WA:.*]] = fpq.constant dense<"0x0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F{{.*}}"> : tensor<24x8xf32>
// CHECK-NEXT:  %[[BA:.*]] = fpq.constant dense<[5.000000e-01, 5.000000e-01, 5.000000e-01, 5.000000e-01, 5.000000e-01, 5.000000e-01, 5.000000e-01, 5.000000e-01, {{.*}}]> : tensor<24xf32>
// CHECK-NEXT:  %[[A:.*]] = fpq.linear %c, %[[WA]], %[[BA]] {fpq.role = "ada_lin"}
// CHECK-NEXT:  %{{.*}}, %[[SC:.*]], %[[SH:.*]] = fpq.split %[[A]]
// CHECK-NEXT:  %[[M:.*]] = fpq.modulate %n, %[[SC]], %[[SH]]
// CHECK-NEXT:  %[[W:.*]] = fpq.constant dense<{{\[\[}}{{.*}}]]> : tensor<8x8xf32>
// CHECK-NEXT:  fpq.linear %[[M]], %[[W]] {fpq.role = "mat_qkv"}
// CHECK-NOT:   fpq.hadamard

// The input of this fc1 is a function argument: there is nothing to fold s
// into, so the layer stays as it is, and the pass says so.
func.func @argument(%x: tensor<2x8xf32>) -> tensor<2x4xf32> {
  %w = fpq.constant dense<0.25> : tensor<4x8xf32>
  %y = fpq.linear %x, %w {fpq.role = "fc1"} : (tensor<2x8xf32>, tensor<4x8xf32>) -> tensor<2x4xf32>
  func.return %y : tensor<2x4xf32>
}
// CHECK-LABEL: func.func @argument
// CHECK-NEXT:  %[[W:.*]] = fpq.constant dense<2.500000e-01> : tensor<4x8xf32>
// CHECK-NEXT:  fpq.linear %x, %[[W]] {fpq.role = "fc1"}

// LOG: galt: mat_qkv (inline weight): held-out loss {{.*}} -> {{.*}}, s in [{{.*}}]
// LOG: galt: fc1 (inline weight): input is not an AdaLN modulation read only by the selected layers; left unchanged

// NONE-LABEL: func.func @qkv
// NONE:       fpq.constant dense<1.000000e+00> : tensor<24x8xf32>
// NONE:       fpq.constant dense<5.000000e-01> : tensor<24xf32>
// NONE:       fpq.constant dense<2.500000e-01> : tensor<8x8xf32>

// NOCALIB: error: galt learns its smoothing from calibration activations: run `fpqc calibrate MODEL -o calib.npz` first and pass galt{calib="calib.npz"}
