// csim_kernels.h -- the table of the build's kernels for the C-simulation device.
//
// csim_kernels.cpp is generated per build: it declares every kernel's top function with
// its exact parameter types and wraps it in a launcher taking untyped parameters.
#ifndef FPQC_HOST_CSIM_KERNELS_H
#define FPQC_HOST_CSIM_KERNELS_H

namespace fpqc_host {

struct CsimKernel {
  const char* name;
  int parameters;  // of the top function, `rows` included
  // Calls the kernel: pointers[i] for a port parameter, scalars[i] for a scalar one.
  void (*launch)(void* const* pointers, const long long* scalars, int rows);
};

extern const CsimKernel kCsimKernels[];
extern const int kCsimKernelCount;

}  // namespace fpqc_host

#endif
