// runner.h -- runs one function of the step program on a device, moving data only when needed.
//
// A Value is one tensor of a run: its host copy, its device copy, or both.  Kernel launches
// read device copies (uploading a host copy first) and leave their results on the device;
// host ops read host copies (downloading first).  So a block's output goes from one kernel
// launch to the next without a round trip, the KV caches stay on the device from scale to
// scale (updated in place), and each weight is read from weights.bin and uploaded once.
#ifndef FPQC_HOST_RUNNER_H
#define FPQC_HOST_RUNNER_H

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "device.h"
#include "schedule.h"
#include "tensor.h"

namespace fpqc_host {

struct Value {
  Tensor host;
  bool host_valid = false;
  std::shared_ptr<DeviceBuffer> device;  // shared with the results that update it in place
  bool device_valid = false;
  bool scalar = false;                   // a scalar register: `host.i64[0]`
};
using ValuePtr = std::shared_ptr<Value>;

// A value whose host copy is `tensor`.
ValuePtr host_value(Tensor tensor);

class Runner {
 public:
  // `weights_path`: the build's weights.bin.
  Runner(const Schedule& schedule, Device& device, const std::string& weights_path);

  // Run `function` with `arguments` bound in order; its results, in order.
  std::vector<ValuePtr> run(const FunctionSpec& function, const std::vector<ValuePtr>& arguments);

  // The host copy of `value` (downloaded when only the device has it).
  const Tensor& host(const ValuePtr& value);

 private:
  ValuePtr weight(const BufferSpec& buffer, const std::string& where);
  ValuePtr constant(const BufferSpec& buffer, const std::string& where);
  void launch(const FunctionSpec& function, const StepSpec& step, std::vector<ValuePtr>& values);
  void host_op(const FunctionSpec& function, const StepSpec& step, std::vector<ValuePtr>& values);
  void upload(Value& value, const std::string& kernel, int parameter);

  const Schedule& schedule_;
  Device& device_;
  std::string weights_path_;
  int word_align_ = 1;  // packed code words are padded to whole words of the widest weight port
  std::map<std::string, ValuePtr> weights_;
};

}  // namespace fpqc_host

#endif
