// host_driver.cpp -- runs one piece of the C++ host program on a JSON case, for test_host_cpp.py.
//
//   host_driver CASE.json OUT.bin
//
// CASE is {"mode": "rng", "seed": "S", "count": N}              -> N doubles of NumpyGenerator(S)
//      or {"mode": "sample", "cond": [...], "uncond": [...], "vocab": V, "seed": "S", "cfg": F,
//          "ratio": F, "top_k": K, "top_p": P}                     -> guided logits (f32), then tokens (i64)
//      or {"mode": "op", "op": NAME, "args": [TENSOR...], "slots": [...], "results": [TENSOR...]}
//                                                                  -> every result's data, in order
//      or {"mode": "fingerprint", "file": PATH}                    -> fingerprint() of the file's bytes (u64)
// where TENSOR is {"dtype": "f32"|"int64", "shape": [...], "data": [...]} (results: no data).
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "error.h"
#include "fingerprint.h"
#include "host_ops.h"
#include "json.h"
#include "sampling.h"
#include "tensor.h"

using namespace fpqc_host;

namespace {

Tensor tensor(const Json& json) {
  std::vector<long long> shape;
  for (const Json& d : json.at("shape").items()) shape.push_back(d.integer());
  const bool f32 = json.at("dtype").str() == "f32";
  Tensor t = Tensor::zeros(f32 ? DType::F32 : DType::I64, shape);
  if (const Json* data = json.find("data")) {
    for (std::size_t i = 0; i < data->items().size(); ++i) {
      if (f32) t.f32.at(i) = static_cast<float>(data->items()[i].number());
      else t.i64.at(i) = data->items()[i].integer();
    }
  }
  return t;
}

std::vector<float> floats(const Json& json) {
  std::vector<float> out;
  for (const Json& v : json.items()) out.push_back(static_cast<float>(v.number()));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  try {
    const Json spec = read_json_file(argv[1]);
    std::FILE* out = std::fopen(argv[2], "wb");
    const std::string mode = spec.at("mode").str();
    if (mode == "rng") {
      NumpyGenerator rng(std::stoull(spec.at("seed").str()));
      for (long long i = 0; i < spec.at("count").integer(); ++i) {
        const double u = rng.random();
        std::fwrite(&u, sizeof u, 1, out);
      }
    } else if (mode == "fingerprint") {
      std::ifstream file(spec.at("file").str(), std::ios::binary);
      std::ostringstream bytes;
      bytes << file.rdbuf();
      const std::uint64_t value = fingerprint(bytes.str());
      std::fwrite(&value, sizeof value, 1, out);
    } else if (mode == "sample") {
      const std::vector<float> cond = floats(spec.at("cond")), uncond = floats(spec.at("uncond"));
      const std::vector<float> guided = guided_logits(cond.data(), uncond.data(), cond.size(), spec.at("cfg").number(),
                                                      spec.at("ratio").number());
      NumpyGenerator rng(std::stoull(spec.at("seed").str()));
      const std::vector<long long> tokens =
          sample_tokens(guided, static_cast<int>(spec.at("vocab").integer()), rng,
                        static_cast<int>(spec.at("top_k").integer()), spec.at("top_p").number());
      std::fwrite(guided.data(), sizeof(float), guided.size(), out);
      std::fwrite(tokens.data(), sizeof(long long), tokens.size(), out);
    } else {
      std::vector<Tensor> args, results;
      for (const Json& a : spec.at("args").items()) args.push_back(tensor(a));
      for (const Json& r : spec.at("results").items()) results.push_back(tensor(r));
      std::vector<const Tensor*> arg_pointers;
      std::vector<Tensor*> result_pointers;
      for (const Tensor& a : args) arg_pointers.push_back(&a);
      for (Tensor& r : results) result_pointers.push_back(&r);
      std::vector<int> slots;
      for (const Json& s : spec.at("slots").items()) slots.push_back(static_cast<int>(s.integer()));
      run_host_op(spec.at("op").str(), arg_pointers, slots, result_pointers, "the test");
      for (const Tensor& r : results) {
        if (r.dtype == DType::F32) std::fwrite(r.f32.data(), sizeof(float), r.f32.size(), out);
        else std::fwrite(r.i64.data(), sizeof(long long), r.i64.size(), out);
      }
    }
    std::fclose(out);
  } catch (const HostError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
