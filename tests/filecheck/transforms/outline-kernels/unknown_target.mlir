// RUN: not fpqc-opt %s -p 'outline-kernels{target=nosuchboard}' 2>&1 | filecheck %s

func.func @main(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %g = fpq.gelu %x : tensor<2x4xf32>
  func.return %g : tensor<2x4xf32>
}

// CHECK: error: unknown target 'nosuchboard' (known targets: vck190, zcu104)
