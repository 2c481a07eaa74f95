// RUN: not fpqc-opt %s 2>&1 | filecheck %s

// A malformed format is rejected at parse time with the list of valid ones.

func.func @bad_format() {
  %c = fpq.constant dense<0> : tensor<2xui8> -> tensor<2x!fpq.float<e9m3>>
  func.return
}
// CHECK: invalid format (e9m3 needs E in 1..7
