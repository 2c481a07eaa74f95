// host_ops.h -- the ops of the step program that run on the host, bit for bit as fpqc's interpreter.
//
// The float arithmetic follows fpqc/numerics: fpq.linear sums its exact float64 products left
// to right and rounds once to fp32 (numerics/float_linear.py); fpq.silu is fpqc's silu_f32
// (fpqc_numerics.h); onnx.Add is one fp32 (or int64) addition per element.  The rest moves data:
// onnx.Slice (ONNX clamping rules), onnx.Expand and broadcasting, reshapes, fpq.embedding, fpq.split.
#ifndef FPQC_HOST_HOST_OPS_H
#define FPQC_HOST_HOST_OPS_H

#include <string>
#include <vector>

#include "tensor.h"

namespace fpqc_host {

// Whether the host program implements `op` (the IR name of a host step).
bool is_host_op(const std::string& op);

// Run `op` on `args` (`slots[i]`: the ONNX input index of args[i]); each result already has the
// shape and dtype of the schedule.  `where` names the step in errors.
void run_host_op(const std::string& op, const std::vector<const Tensor*>& args, const std::vector<int>& slots,
                 const std::vector<Tensor*>& results, const std::string& where);

// y [..., N] = x [..., K] · w [N, K]ᵀ (+ bias [N]) in the order of numerics/float_linear.py.
void linear_f32(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y);

}  // namespace fpqc_host

#endif
