// runner.cpp -- running step-program functions (runner.h).
#include "runner.h"

#include <algorithm>
#include <fstream>

#include "error.h"
#include "host_ops.h"

namespace fpqc_host {

namespace {

std::size_t element_bytes(DType dtype) { return dtype == DType::F32 ? 4 : dtype == DType::I64 ? 8 : 4; }

void* host_data(Tensor& t) {
  if (t.dtype == DType::F32) return t.f32.data();
  if (t.dtype == DType::I64) return t.i64.data();
  return t.words.data();
}

std::size_t host_bytes(const Tensor& t) {
  if (t.dtype == DType::F32) return t.f32.size() * 4;
  if (t.dtype == DType::I64) return t.i64.size() * 8;
  return t.words.size() * 4;
}

std::string step_name(const FunctionSpec& function, const StepSpec& step) {
  return "@" + function.name + " step " + std::to_string(step.index);
}

}  // namespace

ValuePtr host_value(Tensor tensor) {
  ValuePtr value = std::make_shared<Value>();
  value->host = std::move(tensor);
  value->host_valid = true;
  return value;
}

Runner::Runner(const Schedule& schedule, Device& device, const std::string& weights_path)
    : schedule_(schedule), device_(device), weights_path_(weights_path) {
  for (const KernelSpec& kernel : schedule.kernels)
    for (const PortSpec& port : kernel.ports)
      if (port.dtype == DType::Words) word_align_ = std::max(word_align_, port.word_bits / 32);
}

ValuePtr Runner::weight(const BufferSpec& buffer, const std::string& where) {
  auto cached = weights_.find(buffer.weight);
  if (cached != weights_.end()) return cached->second;
  if (buffer.offset < 0) throw HostError(where + ": weight " + buffer.weight + " has no place in weights.bin; recompile");
  const long long elements = element_count(buffer.shape);
  const std::size_t align = static_cast<std::size_t>(word_align_);
  const std::size_t words = buffer.dtype == DType::Words ? (packed_words(buffer) + align - 1) / align * align : 0;
  Tensor t = Tensor::zeros(buffer.dtype, buffer.shape, words);
  const std::size_t bytes = buffer.dtype == DType::Words ? static_cast<std::size_t>(buffer.bytes)
                                                         : static_cast<std::size_t>(elements) * element_bytes(buffer.dtype);
  std::ifstream file(weights_path_, std::ios::binary);
  file.seekg(buffer.offset);
  file.read(static_cast<char*>(host_data(t)), static_cast<std::streamsize>(bytes));
  if (!file) throw HostError(weights_path_ + ": cannot read " + std::to_string(bytes) + " bytes of " + buffer.weight +
                             " at offset " + std::to_string(buffer.offset) + "; recompile the model");
  ValuePtr value = host_value(std::move(t));
  weights_[buffer.weight] = value;
  return value;
}

ValuePtr Runner::constant(const BufferSpec& buffer, const std::string& where) {
  if (!buffer.weight.empty()) return weight(buffer, where);
  if (!buffer.has_values) throw HostError(where + ": onnx.Constant " + buffer.name + " has no data; recompile");
  return host_value(buffer.values);
}

const Tensor& Runner::host(const ValuePtr& value) {
  if (!value->host_valid) {
    if (!value->device_valid) throw HostError("a value is neither on the host nor on the device");
    device_.read(*value->device, host_data(value->host), host_bytes(value->host));
    value->host_valid = true;
  }
  return value->host;
}

void Runner::upload(Value& value, const std::string& kernel, int parameter) {
  if (value.device_valid) return;
  const std::size_t bytes = host_bytes(value.host);
  if (!value.device || value.device->bytes() != bytes)
    value.device = std::shared_ptr<DeviceBuffer>(device_.allocate(bytes, kernel, parameter).release());
  device_.write(*value.device, host_data(value.host), bytes);
  value.device_valid = true;
}

void Runner::launch(const FunctionSpec& function, const StepSpec& step, std::vector<ValuePtr>& values) {
  const std::string where = step_name(function, step);
  const KernelSpec& kernel = schedule_.kernel(step.name);
  if (step.ports.size() != kernel.ports.size())
    throw HostError(where + ": " + std::to_string(step.ports.size()) + " buffers for the " +
                    std::to_string(kernel.ports.size()) + " ports of " + kernel.name + "; recompile the model");
  std::vector<KernelArg> parameters;
  std::map<std::string, ValuePtr> inputs;
  std::size_t arg = 0, result = 0;
  for (std::size_t p = 0; p < kernel.ports.size(); ++p) {
    const PortSpec& port = kernel.ports[p];
    if (step.ports[p] != port.name)
      throw HostError(where + ": buffer for port " + step.ports[p] + " where " + kernel.name + " has " + port.name);
    if (port.input) {
      ValuePtr& value = values[static_cast<std::size_t>(step.args[arg++])];
      inputs[port.name] = value;
      KernelArg parameter;
      if (port.scalar) {
        parameter.scalar = host(value).i64.at(0);
      } else {
        if (value->host.dtype != port.dtype)
          throw HostError(where + ": port " + port.name + " of " + kernel.name + " gets the wrong element type");
        upload(*value, kernel.name, static_cast<int>(parameters.size()));
        parameter.buffer = value->device.get();
      }
      parameters.push_back(parameter);
      continue;
    }
    const BufferSpec& spec = function.buffers[static_cast<std::size_t>(step.results[result])];
    ValuePtr out = std::make_shared<Value>();
    out->host = zeros_like(spec);
    if (!port.updates.empty()) {
      ValuePtr& updated = inputs.at(port.updates);
      out->device = updated->device;  // the kernel writes the argument's memory in place: the old
      updated->device.reset();        // value keeps only its host copy, if it has one
      updated->device_valid = false;
    } else {
      out->device = std::shared_ptr<DeviceBuffer>(
          device_.allocate(host_bytes(out->host), kernel.name, static_cast<int>(parameters.size())).release());
      KernelArg parameter;
      parameter.buffer = out->device.get();
      parameters.push_back(parameter);
    }
    out->device_valid = true;
    values[static_cast<std::size_t>(step.results[result++])] = out;
  }
  if (static_cast<int>(parameters.size()) + (kernel.max_rows >= 0 ? 1 : 0) != device_.parameter_count(kernel.name))
    throw HostError(where + ": " + kernel.name + " on " + device_.describe() + " takes " +
                    std::to_string(device_.parameter_count(kernel.name)) + " parameters, the schedule gives " +
                    std::to_string(parameters.size()) + "; rebuild the host program and the kernels from this build");
  device_.launch(kernel.name, parameters, kernel.max_rows >= 0 ? step.rows : -1);
}

void Runner::host_op(const FunctionSpec& function, const StepSpec& step, std::vector<ValuePtr>& values) {
  const std::string where = step_name(function, step);
  if (step.name == "onnx.Constant") {
    const std::size_t result = static_cast<std::size_t>(step.results.at(0));
    values[result] = constant(function.buffers[result], where);
    return;
  }
  std::vector<const Tensor*> args;
  for (int index : step.args) args.push_back(&host(values[static_cast<std::size_t>(index)]));
  std::vector<ValuePtr> outs;
  std::vector<Tensor*> results;
  for (int index : step.results) {
    const BufferSpec& spec = function.buffers[static_cast<std::size_t>(index)];
    outs.push_back(host_value(Tensor::zeros(spec.dtype, spec.shape)));
    results.push_back(&outs.back()->host);
  }
  run_host_op(step.name, args, step.slots, results, where);
  for (std::size_t i = 0; i < outs.size(); ++i) values[static_cast<std::size_t>(step.results[i])] = outs[i];
}

std::vector<ValuePtr> Runner::run(const FunctionSpec& function, const std::vector<ValuePtr>& arguments) {
  std::vector<ValuePtr> values(function.buffers.size());
  if (arguments.size() != function.arguments.size())
    throw HostError("@" + function.name + " takes " + std::to_string(function.arguments.size()) + " arguments");
  for (std::size_t i = 0; i < arguments.size(); ++i)
    values[static_cast<std::size_t>(function.arguments[i].buffer)] = arguments[i];
  for (std::size_t i = 0; i < function.buffers.size(); ++i) {
    const BufferSpec& buffer = function.buffers[i];
    if (buffer.kind == "weight") values[i] = weight(buffer, "@" + function.name);
    if (buffer.kind == "scalar") {
      Tensor t = Tensor::zeros(DType::I64, {});
      t.i64[0] = buffer.scalar;
      values[i] = host_value(std::move(t));
      values[i]->scalar = true;
    }
  }
  for (const StepSpec& step : function.steps) {
    if (step.kernel) launch(function, step, values);
    else host_op(function, step, values);
  }
  std::vector<ValuePtr> results;
  for (const Binding& binding : function.returns) {
    const ValuePtr& value = values[static_cast<std::size_t>(binding.buffer)];
    if (!value) throw HostError("@" + function.name + " returns " + function.buffers[static_cast<std::size_t>(binding.buffer)].name +
                                " before computing it; recompile the model");
    results.push_back(value);
  }
  return results;
}

}  // namespace fpqc_host
