// schedule.cpp -- reading host_schedule.json (schedule.h).
#include "schedule.h"

#include <map>

#include "error.h"

namespace fpqc_host {

namespace {

DType parse_dtype(const Json& value) {
  const std::string& name = value.str();
  if (name == "f32") return DType::F32;
  if (name == "int64" || name == "i64") return DType::I64;
  if (name == "packed_codes") return DType::Words;
  throw HostError(value.where() + ": the host program handles f32, int64 and packed codes, not " + name);
}

std::vector<long long> parse_shape(const Json& value) {
  std::vector<long long> shape;
  for (const Json& d : value.items()) shape.push_back(d.integer());
  return shape;
}

PortSpec parse_port(const Json& json) {
  PortSpec port;
  port.name = json.at("name").str();
  port.input = json.at("direction").str() == "in";
  const Json* scalar = json.find("scalar");
  port.scalar = scalar != nullptr && scalar->boolean();
  port.shape = parse_shape(json.at("shape"));
  if (const Json* updates = json.find("updates")) port.updates = updates->str();
  if (port.scalar) return port;
  port.dtype = parse_dtype(json.at("dtype"));
  const Json* rows = json.find("rows");
  port.rows = rows != nullptr && rows->boolean();
  if (port.dtype == DType::Words) port.bits = static_cast<int>(json.at("bits").integer());
  if (const Json* word_bits = json.find("word_bits")) port.word_bits = static_cast<int>(word_bits->integer());
  return port;
}

KernelSpec parse_kernel(const Json& json) {
  KernelSpec kernel;
  kernel.name = json.at("name").str();
  const Json& max_rows = json.at("max_rows");
  if (max_rows.kind() != Json::Kind::Null) kernel.max_rows = static_cast<int>(max_rows.integer());
  for (const Json& port : json.at("ports").items()) kernel.ports.push_back(parse_port(port));
  return kernel;
}

Tensor inline_values(const Json& json, const BufferSpec& buffer) {
  Tensor t = Tensor::zeros(buffer.dtype, buffer.shape);
  const std::vector<Json>& values = json.items();
  if (static_cast<long long>(values.size()) != element_count(buffer.shape) || buffer.dtype == DType::Words)
    throw HostError(json.where() + ": " + std::to_string(values.size()) + " values for a buffer of shape " +
                    shape_text(buffer.shape) + "; recompile the model");
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (buffer.dtype == DType::F32) t.f32[i] = static_cast<float>(values[i].number());
    else t.i64[i] = values[i].integer();
  }
  return t;
}

BufferSpec parse_buffer(const Json& json) {
  BufferSpec buffer;
  buffer.name = json.at("name").str();
  buffer.kind = json.at("kind").str();
  buffer.shape = parse_shape(json.at("shape"));
  buffer.dtype = parse_dtype(json.at("dtype"));
  buffer.bytes = json.at("bytes").integer();
  if (const Json* bits = json.find("bits")) buffer.bits = static_cast<int>(bits->integer());
  if (const Json* weight = json.find("weight")) buffer.weight = weight->str();
  if (const Json* offset = json.find("offset")) buffer.offset = offset->integer();
  if (const Json* value = json.find("value")) {
    buffer.has_scalar = true;
    buffer.scalar = value->integer();
  }
  if (const Json* values = json.find("values")) {
    buffer.has_values = true;
    buffer.values = inline_values(*values, buffer);
  }
  return buffer;
}

int buffer_index(const std::map<std::string, int>& index, const Json& ref) {
  const Json& name = ref.at("buffer");
  auto found = index.find(name.str());
  if (found == index.end()) throw HostError(name.where() + ": no buffer " + name.str() + "; recompile the model");
  return found->second;
}

Binding parse_binding(const std::map<std::string, int>& index, const Json& json) {
  Binding binding;
  binding.buffer = buffer_index(index, json);
  for (const char* kind : {"input", "output", "kv_cache"}) {
    if (const Json* name = json.find(kind)) {
      binding.kind = kind;
      binding.name = name->str();
      return binding;
    }
  }
  binding.kind = "prologue";
  binding.index = json.at("prologue").integer();
  return binding;
}

FunctionSpec parse_function(const Json& json) {
  FunctionSpec function;
  function.name = json.at("function").str();
  std::map<std::string, int> index;
  for (const Json& buffer : json.at("buffers").items()) {
    function.buffers.push_back(parse_buffer(buffer));
    index[function.buffers.back().name] = static_cast<int>(function.buffers.size()) - 1;
  }
  for (const Json& binding : json.at("arguments").items()) function.arguments.push_back(parse_binding(index, binding));
  for (const Json& binding : json.at("returns").items()) function.returns.push_back(parse_binding(index, binding));
  for (const Json& json_step : json.at("steps").items()) {
    StepSpec step;
    step.index = static_cast<int>(json_step.at("index").integer());
    step.kernel = json_step.at("kind").str() == "kernel";
    step.name = json_step.at(step.kernel ? "kernel" : "op").str();
    if (const Json* rows = json_step.find("rows")) step.rows = static_cast<int>(rows->integer());
    for (const Json& arg : json_step.at("args").items()) {
      step.args.push_back(buffer_index(index, arg));
      if (step.kernel) step.ports.push_back(arg.at("port").str());
    }
    for (const Json& result : json_step.at("results").items()) {
      step.results.push_back(buffer_index(index, result));
      if (step.kernel) step.ports.push_back(result.at("port").str());
    }
    if (const Json* slots = json_step.find("slots")) {
      for (const Json& slot : slots->items()) step.slots.push_back(static_cast<int>(slot.integer()));
    } else {
      for (std::size_t i = 0; i < step.args.size(); ++i) step.slots.push_back(static_cast<int>(i));
    }
    function.steps.push_back(step);
  }
  return function;
}

}  // namespace

int KernelSpec::parameter_count() const {
  int n = max_rows >= 0 ? 1 : 0;
  for (const PortSpec& port : ports) n += port.updates.empty() ? 1 : 0;
  return n;
}

const KernelSpec& Schedule::kernel(const std::string& name) const {
  for (const KernelSpec& k : kernels)
    if (k.name == name) return k;
  throw HostError("host_schedule.json: no kernel " + name + "; recompile the model");
}

Schedule parse_schedule(const Json& json) {
  Schedule schedule;
  schedule.format = json.at("format").str();
  for (const Json& kernel : json.at("kernels").items()) schedule.kernels.push_back(parse_kernel(kernel));
  const Json* program = json.find("step_program");
  if (program == nullptr)
    throw HostError(json.where() + " has no step program: the C++ host program runs VAR generations; "
                    "compile a VAR (its per-scale steps) or run the model with `fpqc run`");
  for (const Json& function : program->items()) {
    FunctionSpec parsed = parse_function(function);
    if (parsed.name == "prologue") {
      schedule.has_prologue = true;
      schedule.prologue = parsed;
    } else {
      schedule.scales.push_back(parsed);
    }
  }
  if (schedule.scales.empty()) throw HostError(program->where() + " has no @step_k function; recompile the model");
  return schedule;
}

std::size_t packed_words(const BufferSpec& buffer) {
  const long long per_word = 32 / buffer.bits;
  return static_cast<std::size_t>((element_count(buffer.shape) + per_word - 1) / per_word);
}

Tensor zeros_like(const BufferSpec& buffer) {
  return Tensor::zeros(buffer.dtype, buffer.shape, buffer.dtype == DType::Words ? packed_words(buffer) : 0);
}

}  // namespace fpqc_host
