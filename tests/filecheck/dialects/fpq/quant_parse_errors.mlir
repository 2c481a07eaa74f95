// RUN: fpqc-opt %s --split-input-file --allow-unregistered-dialect --parsing-diagnostics | filecheck %s

// An unknown granularity, scale kind or rounding of #fpq.quant is rejected at parse time with the valid ones.

"test.q"() {q = #fpq.quant<e2m1, row>} : () -> ()
// CHECK: unknown granularity 'row' (use tensor, token, channel, group)

// -----

"test.q"() {q = #fpq.quant<e2m1, group 32, scale = "e5m2">} : () -> ()
// CHECK: unknown scale kind 'e5m2' (use fp32, e8m0)

// -----

"test.q"() {q = #fpq.quant<e2m1, group 32, rounding = "up">} : () -> ()
// CHECK: unknown rounding 'up' (use rne, ties-up, ties-away)
