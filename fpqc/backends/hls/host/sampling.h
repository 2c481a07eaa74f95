// sampling.h -- classifier-free guidance and top-k / top-p sampling, bit for bit as fpqc/runtime/sampling.py.
//
// Every + - * / is one fp32 operation in the order the Python docstring gives; exp is fpqc's
// exp_f32 (fpqc_numerics.h); every sum runs left to right.  The draws come from NumpyGenerator,
// numpy's default_rng(seed): its SeedSequence and its PCG64 bit generator.
#ifndef FPQC_HOST_SAMPLING_H
#define FPQC_HOST_SAMPLING_H

#include <cstdint>
#include <vector>

namespace fpqc_host {

// numpy.random.default_rng(seed).random(): SeedSequence(seed) → PCG64 (XSL-RR 128/64) → doubles
// (next 64-bit output >> 11) · 2^-53.
class NumpyGenerator {
 public:
  explicit NumpyGenerator(std::uint64_t seed);
  double random();
  std::uint64_t next64();

 private:
  struct U128 {
    std::uint64_t high = 0, low = 0;
  };
  static U128 add(U128 a, U128 b);
  static U128 multiply(U128 a, U128 b);
  void step();

  U128 state_, increment_;
};

// (1 + t)·cond − t·uncond with t = float32(cfg · ratio), for `count` logits.
std::vector<float> guided_logits(const float* cond, const float* uncond, std::size_t count, double cfg, double ratio);

// In place on one row of V logits: top-k, then top-p (0 turns a filter off).
void filter_top_k_top_p(float* row, int vocab, int top_k, double top_p);

// One token per row of `logits` [rows, V] (top-k, top-p, a draw from `rng` per row in order).
std::vector<long long> sample_tokens(const std::vector<float>& logits, int vocab, NumpyGenerator& rng, int top_k,
                                     double top_p);

}  // namespace fpqc_host

#endif
