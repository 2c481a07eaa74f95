// RUN: python -c "import numpy as np; np.savez('%t.npz', **{'linear0/scale0': np.array([[1, 2], [0, 1]], np.float32), 'linear0/scale1': np.array([[1, 0]], np.float32)})"
// RUN: fpqc-opt %s -p 'input-hessians{calib="%t.npz"}' | filecheck %s
// RUN: fpqc-opt %s -p 'input-hessians{calib="%t.npz"},group-hadamard{block=2 fold-signs=false}' | filecheck %s --check-prefix=GHT
// RUN: fpqc-opt %s -p 'input-hessians{calib="%t.npz"},quantize{group-size=2 weight-rounding=gptq}' | filecheck %s --check-prefix=GPTQ
// RUN: not fpqc-opt %s -p 'quantize{group-size=2 weight-rounding=gptq}' 2>&1 | filecheck %s --check-prefix=MISSING
// RUN: not fpqc-opt %s -p 'input-hessians' 2>&1 | filecheck %s --check-prefix=NOCALIB

// The fc1 linear (fpq.linear #0 in program order) gets the second moment XᵀX
// of its calibration rows, every scale's rows alike: rows (1, 2), (0, 1) and
// (1, 0) give [[2, 2], [2, 5]].  The AdaLN linear, which FPQVAR keeps in
// float, gets none.

func.func @fc1(%x: tensor<1x3x2xf32>, %c: tensor<1x2xf32>) -> (tensor<1x3x2xf32>, tensor<1x2xf32>) {
  %w = fpq.constant dense<[[1.0, -0.3], [0.2, 0.9]]> : tensor<2x2xf32>
  %y = fpq.linear %x, %w {fpq.role = "fc1"} : (tensor<1x3x2xf32>, tensor<2x2xf32>) -> tensor<1x3x2xf32>
  %a = fpq.linear %c, %w {fpq.role = "ada_lin"} : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  func.return %y, %a : tensor<1x3x2xf32>, tensor<1x2xf32>
}

// CHECK:      fpq.linear %x, %w {fpq.role = "fc1", fpq.input_hessian = dense<{{\[\[}}2.000000e+00, 2.000000e+00], [2.000000e+00, 5.000000e+00]]> : tensor<2x2xf64>}
// CHECK:      fpq.linear %c, %w {fpq.role = "ada_lin"}

// group-hadamard turns the input x into x·Q with Q = D·H/√2 (here the signs
// of seed 0, (-1, -1), stay an operand of fpq.hadamard), and the Hessian into
// QᵀHQ = [[5.5, -1.5], [-1.5, 1.5]] (in float64: 5.4999999999999982, ...).
// GHT:        fpq.hadamard
// GHT:        fpq.linear %{{.*}}, %{{.*}} {fpq.role = "fc1", fpq.input_hessian = dense<{{\[\[}}5.49999{{[0-9]*}}, -1.49999{{[0-9]*}}], [-1.49999{{[0-9]*}}, 1.49999{{[0-9]*}}]]> : tensor<2x2xf64>}

// quantize rounds the weight by GPTQ and drops the attribute.
// GPTQ:       fpq.qlinear {{.*}}fpq.role = "fc1"
// GPTQ-NOT:   fpq.input_hessian

// MISSING:    error: quantize{weight-rounding=gptq}: the fc1 layer with weight 'inline' has no input Hessian; run input-hessians{calib="calib.npz"} before the passes that transform its input
// NOCALIB:    error: input-hessians reads calibration activations: run `fpqc calibrate MODEL -o calib.npz` first and pass input-hessians{calib="calib.npz"}
