// sampling.cpp -- guidance, filters and draws (sampling.h).
#include "sampling.h"

#include <algorithm>
#include <limits>
#include <numeric>

#include "fpqc_numerics.h"

namespace fpqc_host {

namespace {

// numpy's SeedSequence: pool of four 32-bit words mixed from the seed's words (bit_generator.pyx).
constexpr std::uint32_t kInitA = 0x43b0d7e5u, kMultA = 0x931e8875u, kInitB = 0x8b51f9ddu, kMultB = 0x58f38dedu;
constexpr std::uint32_t kMixMultL = 0xca01f9ddu, kMixMultR = 0x4973f715u;
constexpr int kPoolSize = 4;

std::vector<std::uint64_t> seed_sequence_state(std::uint64_t seed) {
  std::vector<std::uint32_t> entropy;  // the seed's 32-bit words, least significant first ([0] for 0)
  do {
    entropy.push_back(static_cast<std::uint32_t>(seed & 0xffffffffu));
    seed >>= 32;
  } while (seed != 0);
  std::uint32_t hash_const = kInitA;
  auto hashmix = [&hash_const](std::uint32_t value) {
    value ^= hash_const;
    hash_const *= kMultA;
    value *= hash_const;
    return value ^ (value >> 16);
  };
  auto mix = [](std::uint32_t x, std::uint32_t y) {
    std::uint32_t result = kMixMultL * x - kMixMultR * y;
    return result ^ (result >> 16);
  };
  std::uint32_t pool[kPoolSize];
  for (int i = 0; i < kPoolSize; ++i) pool[i] = hashmix(i < static_cast<int>(entropy.size()) ? entropy[i] : 0u);
  for (int src = 0; src < kPoolSize; ++src)
    for (int dst = 0; dst < kPoolSize; ++dst)
      if (src != dst) pool[dst] = mix(pool[dst], hashmix(pool[src]));
  for (std::size_t src = kPoolSize; src < entropy.size(); ++src)
    for (int dst = 0; dst < kPoolSize; ++dst) pool[dst] = mix(pool[dst], hashmix(entropy[src]));
  std::uint32_t hash_b = kInitB;  // generate_state(4, uint64): eight 32-bit words, paired little-endian
  std::vector<std::uint64_t> state;
  std::uint32_t low = 0;
  for (int i = 0; i < 8; ++i) {
    std::uint32_t value = pool[i % kPoolSize];
    value ^= hash_b;
    hash_b *= kMultB;
    value *= hash_b;
    value ^= value >> 16;
    if (i % 2 == 0) low = value;
    else state.push_back(static_cast<std::uint64_t>(low) | (static_cast<std::uint64_t>(value) << 32));
  }
  return state;
}

// softmax_f32 of fpqc/numerics/attention.py over one row: exp_f32(x − max) / (left-to-right sum).
void softmax_f32(const float* x, int n, float* p) {
  float top = x[0];
  for (int j = 1; j < n; ++j) top = x[j] > top ? x[j] : top;
  for (int j = 0; j < n; ++j) p[j] = fpqc::exp_f32(x[j] - top);
  float sum = p[0];
  for (int j = 1; j < n; ++j) sum = sum + p[j];
  for (int j = 0; j < n; ++j) p[j] = p[j] / sum;
}

// p_0, p_0 + p_1, ... in place, left to right.
void cumulate(float* p, int n) {
  for (int j = 1; j < n; ++j) p[j] = p[j - 1] + p[j];
}

}  // namespace

NumpyGenerator::U128 NumpyGenerator::add(U128 a, U128 b) {
  U128 r;
  r.low = a.low + b.low;
  r.high = a.high + b.high + (r.low < a.low ? 1u : 0u);
  return r;
}

NumpyGenerator::U128 NumpyGenerator::multiply(U128 a, U128 b) {
  // The low 128 bits of a·b: a.low·b.low in full (from 32-bit halves) plus the cross terms' low words.
  const std::uint64_t a0 = a.low & 0xffffffffu, a1 = a.low >> 32, b0 = b.low & 0xffffffffu, b1 = b.low >> 32;
  const std::uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  const std::uint64_t middle = (p00 >> 32) + (p01 & 0xffffffffu) + (p10 & 0xffffffffu);
  U128 r;
  r.low = (middle << 32) | (p00 & 0xffffffffu);
  r.high = p11 + (p01 >> 32) + (p10 >> 32) + (middle >> 32) + a.high * b.low + a.low * b.high;
  return r;
}

void NumpyGenerator::step() {
  U128 multiplier;
  multiplier.high = 0x2360ED051FC65DA4ull;
  multiplier.low = 0x4385DF649FCCF645ull;
  state_ = add(multiply(state_, multiplier), increment_);
}

NumpyGenerator::NumpyGenerator(std::uint64_t seed) {
  const std::vector<std::uint64_t> words = seed_sequence_state(seed);
  U128 initstate, initseq;
  initstate.high = words[0];
  initstate.low = words[1];
  initseq.high = words[2];
  initseq.low = words[3];
  increment_.high = (initseq.high << 1) | (initseq.low >> 63);
  increment_.low = (initseq.low << 1) | 1u;
  step();
  state_ = add(state_, initstate);
  step();
}

std::uint64_t NumpyGenerator::next64() {
  step();
  const std::uint64_t folded = state_.high ^ state_.low;
  const unsigned rotation = static_cast<unsigned>(state_.high >> 58);
  return (folded >> rotation) | (folded << ((64u - rotation) & 63u));
}

double NumpyGenerator::random() { return static_cast<double>(next64() >> 11) * (1.0 / 9007199254740992.0); }

std::vector<float> guided_logits(const float* cond, const float* uncond, std::size_t count, double cfg, double ratio) {
  const float t = static_cast<float>(cfg * ratio);
  const float one_plus_t = 1.0f + t;
  std::vector<float> out(count);
  for (std::size_t i = 0; i < count; ++i) out[i] = one_plus_t * cond[i] - t * uncond[i];
  return out;
}

void filter_top_k_top_p(float* row, int vocab, int top_k, double top_p) {
  const float minus_inf = -std::numeric_limits<float>::infinity();
  if (top_k > 0) {
    const int keep = std::min(top_k, vocab);
    std::vector<float> sorted(row, row + vocab);
    std::nth_element(sorted.begin(), sorted.begin() + (vocab - keep), sorted.end());
    const float kth = sorted[static_cast<std::size_t>(vocab - keep)];
    for (int j = 0; j < vocab; ++j)
      if (row[j] < kth) row[j] = minus_inf;
  }
  if (top_p > 0) {
    std::vector<int> order(static_cast<std::size_t>(vocab));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [row](int a, int b) { return row[a] < row[b]; });
    std::vector<float> cumulative(static_cast<std::size_t>(vocab));
    for (int j = 0; j < vocab; ++j) cumulative[static_cast<std::size_t>(j)] = row[order[static_cast<std::size_t>(j)]];
    softmax_f32(cumulative.data(), vocab, cumulative.data());
    cumulate(cumulative.data(), vocab);
    const double threshold = 1.0 - top_p;
    for (int j = 0; j + 1 < vocab; ++j)
      if (static_cast<double>(cumulative[static_cast<std::size_t>(j)]) <= threshold)
        row[order[static_cast<std::size_t>(j)]] = minus_inf;
  }
}

std::vector<long long> sample_tokens(const std::vector<float>& logits, int vocab, NumpyGenerator& rng, int top_k,
                                     double top_p) {
  const std::size_t rows = logits.size() / static_cast<std::size_t>(vocab);
  std::vector<long long> tokens(rows);
  std::vector<float> row(static_cast<std::size_t>(vocab));
  for (std::size_t r = 0; r < rows; ++r) {
    std::copy(logits.begin() + static_cast<std::ptrdiff_t>(r * vocab),
              logits.begin() + static_cast<std::ptrdiff_t>((r + 1) * vocab), row.begin());
    filter_top_k_top_p(row.data(), vocab, top_k, top_p);
    softmax_f32(row.data(), vocab, row.data());
    cumulate(row.data(), vocab);
    const double threshold = rng.random() * static_cast<double>(row[static_cast<std::size_t>(vocab - 1)]);
    long long below = 0;
    for (int j = 0; j < vocab; ++j) below += static_cast<double>(row[static_cast<std::size_t>(j)]) <= threshold ? 1 : 0;
    tokens[r] = std::min<long long>(below, vocab - 1);
  }
  return tokens;
}

}  // namespace fpqc_host
