// generation.cpp -- the generation loop (generation.h).
#include "generation.h"

#include <map>
#include <memory>

#include "build_check.h"
#include "error.h"
#include "host_library.h"
#include "json.h"
#include "runner.h"
#include "sampling.h"
#include "schedule.h"

namespace fpqc_host {

namespace {

// The rows one chunk of the static batch runs: start, start+1, ..., padded with `start`.
std::vector<std::size_t> chunk_rows(std::size_t start, std::size_t real, std::size_t batch) {
  std::vector<std::size_t> rows;
  for (std::size_t i = 0; i < batch; ++i) rows.push_back(i < real ? start + i : start);
  return rows;
}

bool is_label_input(const BufferSpec& b) { return b.dtype == DType::I64 && b.shape.size() == 1; }
bool is_token_input(const BufferSpec& b) { return b.dtype == DType::F32 && b.shape.size() == 3; }

// The static batch B of the step program (the first dimension of its model inputs).
std::size_t static_batch(const Schedule& schedule) {
  const FunctionSpec& first = schedule.has_prologue ? schedule.prologue : schedule.scales[0];
  for (const FunctionSpec* function : {&first, &schedule.scales.back()})
    for (const Binding& binding : function->arguments)
      if (binding.kind == "input") return static_cast<std::size_t>(function->buffers[static_cast<std::size_t>(binding.buffer)].shape.at(0));
  throw HostError("host_schedule.json: the step program takes no model input; recompile the model");
}

// The arguments of `function` for one chunk: model inputs made from the chunk's rows.
std::vector<ValuePtr> chunk_arguments(const FunctionSpec& function, const std::vector<std::size_t>& rows,
                                      const std::vector<long long>& labels, const std::vector<float>& tokens,
                                      std::size_t images, const std::vector<ValuePtr>& prologue,
                                      std::map<std::string, ValuePtr>& caches) {
  std::vector<ValuePtr> arguments;
  for (const Binding& binding : function.arguments) {
    const BufferSpec& spec = function.buffers[static_cast<std::size_t>(binding.buffer)];
    if (binding.kind == "prologue") {
      arguments.push_back(prologue.at(static_cast<std::size_t>(binding.index)));
    } else if (binding.kind == "kv_cache") {
      ValuePtr& cache = caches[binding.name];
      if (!cache) cache = host_value(zeros_like(spec));  // fp32, or a low-bit cache's codes or scales
      arguments.push_back(cache);
    } else if (is_label_input(spec)) {
      Tensor t = Tensor::zeros(DType::I64, spec.shape);
      for (std::size_t i = 0; i < rows.size(); ++i) t.i64[i] = labels[rows[i]];
      arguments.push_back(host_value(std::move(t)));
    } else if (is_token_input(spec)) {
      Tensor t = Tensor::zeros(DType::F32, spec.shape);
      const std::size_t per_row = t.f32.size() / rows.size();
      if (tokens.size() != images * per_row)
        throw HostError("@" + function.name + " takes " + shape_text(spec.shape) + " token inputs, the host library gave " +
                        std::to_string(tokens.size()) + " values for " + std::to_string(images) + " images");
      for (std::size_t i = 0; i < rows.size(); ++i)  // the unconditional half reuses the conditional rows' input
        std::copy(tokens.begin() + static_cast<std::ptrdiff_t>((rows[i] % images) * per_row),
                  tokens.begin() + static_cast<std::ptrdiff_t>((rows[i] % images + 1) * per_row),
                  t.f32.begin() + static_cast<std::ptrdiff_t>(i * per_row));
      arguments.push_back(host_value(std::move(t)));
    } else {
      throw HostError("@" + function.name + ": the host program feeds class labels (int64 [B]) and token inputs "
                      "(f32 [B, n, Cvae]), not input " + binding.name + " " + shape_text(spec.shape));
    }
  }
  return arguments;
}

}  // namespace

GenerationSummary generate(const GenerationOptions& options) {
  const std::string& build = options.build;
  const Json manifest = read_json_file(build + "/manifest.json");
  const std::string schedule_text = read_text_file(build + "/host_schedule.json");
  const Schedule schedule = parse_schedule(Json::parse(schedule_text, build + "/host_schedule.json"));
  const Json config = read_json_file(build + "/var_config.json");
  std::unique_ptr<Device> device = open_device(options.device);
  check_build(build, manifest, schedule_text, schedule, *device);

  const long long classes = config.at("num_classes").integer();
  std::vector<long long> patch_nums;
  for (const Json& pn : config.at("patch_nums").items()) patch_nums.push_back(pn.integer());
  if (patch_nums.size() != schedule.scales.size())
    throw HostError(build + "/var_config.json has " + std::to_string(patch_nums.size()) + " scales, the step program " +
                    std::to_string(schedule.scales.size()) + "; recompile the model");
  const std::size_t images = options.labels.size();
  if (images == 0) throw HostError("no class labels to generate");
  for (long long label : options.labels)
    if (label < 0 || label >= classes)
      throw HostError("class labels must be in 0.." + std::to_string(classes - 1) + "; got " + std::to_string(label));

  HostLibrary library(options.host_library);
  if (library.patch_nums() != patch_nums)
    throw HostError("the host library serves a VQVAE of other scales than " + build + "/var_config.json");

  std::vector<long long> both(options.labels);  // [labels, null class × N]
  both.insert(both.end(), images, classes);
  const std::size_t batch = static_batch(schedule);
  Runner runner(schedule, *device, build + "/weights.bin");
  NumpyGenerator rng(options.seed);
  std::map<std::size_t, std::vector<ValuePtr>> prologue;                // per chunk
  std::map<std::size_t, std::map<std::string, ValuePtr>> caches;        // per chunk
  std::vector<float> tokens_in;  // the current scale's input, [N, pn², Cvae]
  GenerationSummary summary;
  const std::size_t scales = schedule.scales.size();
  for (std::size_t k = 0; k < scales; ++k) {
    const FunctionSpec& step = schedule.scales[k];
    std::vector<float> logits;
    std::vector<long long> shape;
    for (std::size_t start = 0; start < both.size(); start += batch) {
      const std::size_t real = std::min(batch, both.size() - start);
      const std::vector<std::size_t> rows = chunk_rows(start, real, batch);
      if (schedule.has_prologue && !prologue.count(start))
        prologue[start] = runner.run(schedule.prologue, chunk_arguments(schedule.prologue, rows, both, tokens_in, images,
                                                                        {}, caches[start]));
      const std::vector<ValuePtr> results =
          runner.run(step, chunk_arguments(step, rows, both, tokens_in, images, prologue[start], caches[start]));
      for (std::size_t i = 0; i < step.returns.size(); ++i) {
        const Binding& binding = step.returns[i];
        if (binding.kind == "kv_cache") {
          caches[start][binding.name] = results[i];
        } else {
          const Tensor& out = runner.host(results[i]);
          shape = out.shape;
          const std::size_t per_row = out.f32.size() / batch;
          logits.insert(logits.end(), out.f32.begin(), out.f32.begin() + static_cast<std::ptrdiff_t>(real * per_row));
        }
      }
      for (const StepSpec& s : step.steps) summary.launches += s.kernel ? 1 : 0;
    }
    if (shape.size() != 3) throw HostError("@" + step.name + " returns no logits [B, n, V]; recompile the model");
    const std::size_t half = logits.size() / 2;
    const double ratio = scales > 1 ? static_cast<double>(k) / static_cast<double>(scales - 1) : 0.0;
    const std::vector<float> guided = guided_logits(logits.data(), logits.data() + half, half, options.cfg, ratio);
    const std::vector<long long> tokens =
        sample_tokens(guided, static_cast<int>(shape[2]), rng, options.top_k, options.top_p);
    tokens_in = library.advance(static_cast<int>(k), static_cast<int>(images), tokens);
  }
  library.finish(options.labels, options.output);
  summary.library_seconds = library.seconds();
  return summary;
}

}  // namespace fpqc_host
