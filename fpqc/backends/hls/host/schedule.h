// schedule.h -- host_schedule.json as structures: kernels and their ports, the step program.
//
// The host program runs the step program: @prologue once per batch of rows, then @step_k
// for every scale k.  Each function lists its buffers, its steps (kernel launches and host
// ops, in order) and how its arguments and results bind to model inputs and outputs,
// prologue results and KV caches (fpqc/backends/hls/host_schedule.py documents the file).
#ifndef FPQC_HOST_SCHEDULE_H
#define FPQC_HOST_SCHEDULE_H

#include <string>
#include <vector>

#include "json.h"
#include "tensor.h"

namespace fpqc_host {

// One parameter, or in-place result, of a kernel's top function.
struct PortSpec {
  std::string name;
  bool input = true;
  bool scalar = false;         // passed by value (a KV-cache offset)
  bool rows = false;           // holds the launch's token rows on axis 1
  DType dtype = DType::F32;
  std::vector<long long> shape;
  int bits = 0;                // packed codes: bits per code
  int word_bits = 32;          // packed weight ports read words this wide
  std::string updates;         // a result that updates this input port in place: no parameter of its own
};

struct KernelSpec {
  std::string name;
  int max_rows = -1;           // >= 0: the launch's rows are the last parameter
  std::vector<PortSpec> ports;

  // The parameters of the top function, in order: ports without `updates`, then `rows`.
  int parameter_count() const;
};

// A tensor (or scalar) of one function of the schedule.
struct BufferSpec {
  std::string name;
  std::string kind;            // input | weight | intermediate | output | scalar
  DType dtype = DType::F32;
  std::vector<long long> shape;
  int bits = 0;
  std::string weight;          // its data in weights.bin: entry name ...
  long long offset = -1;       // ... and byte offset
  long long bytes = 0;
  bool has_scalar = false;     // kind scalar: its value
  long long scalar = 0;
  bool has_values = false;     // a host constant held inline: its values
  Tensor values;
};

struct StepSpec {
  int index = 0;
  bool kernel = false;
  std::string name;            // the kernel, or the host op ("fpq.linear", "onnx.Add", ...)
  int rows = -1;               // kernel launches with max_rows: the token rows
  std::vector<int> args;       // buffer indices
  std::vector<int> results;
  std::vector<std::string> ports;  // kernel steps: the port of each arg, then of each result
  std::vector<int> slots;          // host ops: the ONNX input index of each arg
};

// How a function argument or result is bound.
struct Binding {
  int buffer = -1;
  std::string kind;            // input | output (name: ONNX name) | prologue (index) | kv_cache (name)
  std::string name;
  long long index = -1;
};

struct FunctionSpec {
  std::string name;
  std::vector<BufferSpec> buffers;
  std::vector<StepSpec> steps;
  std::vector<Binding> arguments;
  std::vector<Binding> returns;
};

struct Schedule {
  std::string format;
  std::vector<KernelSpec> kernels;
  bool has_prologue = false;
  FunctionSpec prologue;
  std::vector<FunctionSpec> scales;  // @step_0, @step_1, ...

  const KernelSpec& kernel(const std::string& name) const;  // HostError when unknown
};

// The schedule in `json` (a build's host_schedule.json); errors name the place in the file.
Schedule parse_schedule(const Json& json);

// 32-bit words holding the codes of a packed buffer (DType::Words).
std::size_t packed_words(const BufferSpec& buffer);

// A tensor of zeros laid out as `buffer` (its codes packed when it holds codes).
Tensor zeros_like(const BufferSpec& buffer);

}  // namespace fpqc_host

#endif
