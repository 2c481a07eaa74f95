// RUN: python -c "import numpy as np; r = np.random.default_rng(0); wide = np.sign(r.standard_normal((64, 8))) * r.uniform(2, 5, (64, 8)); wide[np.arange(64), r.integers(0, 8, 64)] = 100; np.savez('%t.npz', **{'linear0/scale0': wide.astype(np.float32), 'linear1/scale0': r.standard_normal((64, 8)).astype(np.float32)})"
// RUN: fpqc-opt %s -p 'choose-formats{calib="%t.npz" roles=mat_qkv,fc1 group-size=8}' 2>%t.log | filecheck %s
// RUN: filecheck %s --check-prefix=LOG < %t.log
// RUN: fpqc-opt %s -p 'choose-formats{calib="%t.npz" roles=mat_qkv,fc1 group-size=8},quantize{group-size=8}' 2>/dev/null | filecheck %s --check-prefix=QUANT
// RUN: not fpqc-opt %s -p choose-formats 2>&1 | filecheck %s --check-prefix=NOCALIB

// Linear 0 (mat_qkv) reads rows with one value of 100 among values of 2 to 5:
// E2M1 (smallest step 1/12 of the largest value) rounds the small ones to 0
// or 1/12, E3M0 (down to 1/64) keeps them.  Linear 1 (fc1) reads Gaussian values: E2M1
// fits.  The weights are E2M1 (the only weight candidate by default); proj is
// not a selected role and gets no choice.

func.func @layers(%x: tensor<64x8xf32>, %y: tensor<64x8xf32>) -> (tensor<64x4xf32>, tensor<64x4xf32>, tensor<64x4xf32>) {
  %w = fpq.constant dense<[[0.5, -1.0, 0.25, 2.0, -0.75, 1.5, -0.125, 0.0625], [1.0, 0.5, -0.5, 0.25, 2.0, -1.0, 0.75, -0.25], [-0.5, 0.125, 1.0, -2.0, 0.5, 0.25, -1.5, 1.0], [0.25, -0.25, 0.5, 1.0, -1.0, 2.0, 0.5, -0.5]]> : tensor<4x8xf32>
  %a = fpq.linear %x, %w {fpq.role = "mat_qkv"} : (tensor<64x8xf32>, tensor<4x8xf32>) -> tensor<64x4xf32>
  %b = fpq.linear %y, %w {fpq.role = "fc1"} : (tensor<64x8xf32>, tensor<4x8xf32>) -> tensor<64x4xf32>
  %c = fpq.linear %y, %w {fpq.role = "proj"} : (tensor<64x8xf32>, tensor<4x8xf32>) -> tensor<64x4xf32>
  func.return %a, %b, %c : tensor<64x4xf32>, tensor<64x4xf32>, tensor<64x4xf32>
}
// CHECK-LABEL: func.func @layers
// CHECK:       fpq.linear %x, %{{.*}} {fpq.role = "mat_qkv", fpq.weight_format = "e2m1", fpq.act_format = "e3m0"}
// CHECK:       fpq.linear %y, %{{.*}} {fpq.role = "fc1", fpq.weight_format = "e2m1", fpq.act_format = "e2m1"}
// CHECK:       fpq.linear %y, %{{.*}} {fpq.role = "proj"}

// LOG: choose-formats: mat_qkv (inline weight): weights e2m1, activations e3m0
// LOG: choose-formats: fc1 (inline weight): weights e2m1, activations e2m1

// The quantize pass takes each layer's chosen formats; the choice does not stay on the qlinear.
// QUANT-LABEL: func.func @layers
// QUANT:       fpq.quantize %x {quant = #fpq.quant<e3m0, group 8>}
// QUANT:       fpq.qlinear {{.*}} {fpq.role = "mat_qkv", x_quant = #fpq.quant<e3m0, group 8>, w_quant = #fpq.quant<e2m1, group 8>}
// QUANT:       fpq.quantize %y {quant = #fpq.quant<e2m1, group 8>}
// QUANT:       fpq.qlinear {{.*}} {fpq.role = "fc1", x_quant = #fpq.quant<e2m1, group 8>, w_quant = #fpq.quant<e2m1, group 8>}

// NOCALIB: error: choose-formats judges formats on calibration activations: run `fpqc calibrate MODEL -o calib.npz` first and pass choose-formats{calib="calib.npz"}
