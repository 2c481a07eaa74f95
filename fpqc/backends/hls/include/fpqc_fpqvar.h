// fpqc_fpqvar.h -- the C++ mirror of FPQVAR's numerics in fpqc.numerics
// (header-only, C++14, namespace fpqc).
//
//   fwht_f32<BLOCK>          fast Walsh-Hadamard transform of one block, fixed
//                            stage order, then the 1/sqrt(BLOCK) multiply
//                            (fpqc/numerics/hadamard.py)
//   ght_f32<DIM, BLOCK>      random signs, then fwht_f32 on each block of a row
//   dual_scales<G>           dual-format scales of one group
//   dual_code                the two dual-format codes of one element
//   dual_quantize<G>         dual-format codes of one group (two code planes)
//   dual_combine             one group's step of the dual combination order
//   dual_dot<K, G, ...>      one output of a dual-format linear layer
//                            (fpqc/numerics/dual_format.py)
//
// The Python docstrings are the specification; tests/unit/numerics/
// test_fpqvar_cpp.py compiles this header with g++ -std=c++14 -O2
// -ffp-contract=off and requires bit-identical results.  Never build with
// -ffast-math or floating-point contraction.
//
// HLS-friendly: sizes are template parameters, no dynamic memory, no libm, no
// recursion.  Tables come from fpqc.numerics (emit_dual_tables,
// emit_dual_product_tables, emit_ght_signs) and are included after this header.
// Exact group sums use long long here; a kernel may narrow them to
// accumulator_bits() (any exact width gives the same value).
#ifndef FPQC_FPQVAR_H
#define FPQC_FPQVAR_H

#include "fpqc_numerics.h"

namespace fpqc {

// ------------------------------------------------------------------ GHT

namespace detail {
constexpr float kInvSqrt2 = 7.0710677e-1f /* 0x1.6a09e6p-1 */;

constexpr int log2_exact(int n) {
  int k = 0;
  while ((1 << k) < n) ++k;
  return k;
}

// float32 nearest 1/sqrt(2^k): 2^(-k/2) for even k, kInvSqrt2 * 2^(-(k-1)/2) for odd k.
constexpr float fwht_scale_for(int k) {
  return (k % 2 ? kInvSqrt2 : 1.0f) / static_cast<float>(1LL << (k / 2));
}
}  // namespace detail

// In place on x[0 .. BLOCK): stages h = 1, 2, 4, ..., BLOCK/2; in each stage
// every pair (i, i+h) with (i & h) == 0 becomes (a + b, a - b); then every
// element is multiplied by the float32 constant nearest 1/sqrt(BLOCK).
template <int BLOCK>
void fwht_f32(float* x) {
  static_assert(BLOCK >= 1 && (BLOCK & (BLOCK - 1)) == 0, "BLOCK must be a power of two");
  constexpr float kScale = detail::fwht_scale_for(detail::log2_exact(BLOCK));
  for (int h = 1; h < BLOCK; h *= 2) {
    for (int p = 0; p < BLOCK / 2; ++p) {
      const int i = (p / h) * 2 * h + (p % h);
      const float a = x[i];
      const float b = x[i + h];
      x[i] = a + b;
      x[i + h] = a - b;
    }
  }
  for (int i = 0; i < BLOCK; ++i) x[i] = x[i] * kScale;
}

// One row of DIM channels in place: x[i] * signs[i] (exact), then fwht_f32 on
// each block of BLOCK consecutive channels.
template <int DIM, int BLOCK>
void ght_f32(float* x, const float* signs) {
  static_assert(DIM % BLOCK == 0, "DIM must be a multiple of BLOCK");
  for (int i = 0; i < DIM; ++i) x[i] = x[i] * signs[i];
  for (int b = 0; b < DIM; b += BLOCK) fwht_f32<BLOCK>(x + b);
}

// ------------------------------------------------------------------ DFQ

// The two LUT quantizers of a dual format (emit_dual_tables): the negative
// side of the negative format's LUT and the positive side of the positive
// format's, with each format's NaN code and each side's largest magnitude.
struct DualQuantizer {
  QuantizerSide neg;
  unsigned char neg_nan_code;
  float neg_max;
  QuantizerSide pos;
  unsigned char pos_nan_code;
  float pos_max;
};

// Scales of one group of G floats: per side absmax over its elements (sign
// bit set: negative side), divided by the side maximum; 1.0 for a side with
// absmax 0; NaN for both when the group holds NaN or inf.
template <int G>
void dual_scales(const float* x, const DualQuantizer& q, float* s_neg, float* s_pos) {
  float neg_absmax = 0.0f;
  float pos_absmax = 0.0f;
  bool broken = false;
  for (int k = 0; k < G; ++k) {
    const float v = x[k];
    const float a = abs_f32(v);
    if (!(a <= 3.40282347e+38f /* 0x1.fffffep+127 */)) broken = true;  // NaN or inf
    if (bits_of(v) < 0) {
      if (a > neg_absmax) neg_absmax = a;
    } else {
      if (a > pos_absmax) pos_absmax = a;
    }
  }
  float sn = neg_absmax / q.neg_max;
  float sp = pos_absmax / q.pos_max;
  if (neg_absmax == 0.0f) sn = 1.0f;
  if (pos_absmax == 0.0f) sp = 1.0f;
  if (broken) sn = sp = kNaN;
  *s_neg = sn;
  *s_pos = sp;
}

// The two codes of one element: a negative element (sign bit set) gets
// neg_code = encode(v / s_neg), pos_code = 0; any other element neg_code = 0,
// pos_code = encode(v / s_pos).  v / s_neg is negative or NaN, so only the
// negative format's negative LUT side is consulted (and vice versa).
inline void dual_code(float v, float s_neg, float s_pos, const DualQuantizer& q, unsigned char* neg_code,
                      unsigned char* pos_code) {
  if (bits_of(v) < 0) {
    *neg_code = encode_lut(v / s_neg, q.neg, q.neg, q.neg_nan_code);
    *pos_code = 0;
  } else {
    *neg_code = 0;
    *pos_code = encode_lut(v / s_pos, q.pos, q.pos, q.pos_nan_code);
  }
}

// Codes of one group: dual_code of each element.
template <int G>
void dual_quantize(const float* x, float s_neg, float s_pos, const DualQuantizer& q,
                   unsigned char* neg_codes, unsigned char* pos_codes) {
  for (int k = 0; k < G; ++k) dual_code(x[k], s_neg, s_pos, q, neg_codes + k, pos_codes + k);
}

// One group's step of the dual combination order: the negative side's term,
// then the positive side's, each (s_x * s_w) * (float(P) * unit).
inline float dual_combine(float acc, long long p_neg, long long p_pos, float s_neg, float s_pos,
                          float ws, float unit_neg, float unit_pos) {
  const float pn = static_cast<float>(p_neg) * unit_neg;
  const float tn = s_neg * ws;
  acc = acc + tn * pn;
  const float pp = static_cast<float>(p_pos) * unit_pos;
  const float tp = s_pos * ws;
  return acc + tp * pp;
}

// sum_k x[k] * w[k] for one activation row and one weight row of K codes,
// without bias: per group g of G (ascending) the exact sums
//   p_neg = sum NEG_PROD[neg_code][w_code],  p_pos = sum POS_PROD[pos_code][w_code]
// (product ROMs indexed (x_code << WBITS) | w_code), then dual_combine from
// acc = +0.0f.  Scales: s_neg[(g*G)/XG], s_pos[(g*G)/XG], ws[(g*G)/WG] (XG, WG
// the activation and weight scale groups; XG = K for per token).
template <int K, int G, int WBITS, int XG, int WG, class NP, class PP>
float dual_dot(const unsigned char* neg_codes, const unsigned char* pos_codes,
               const unsigned char* w_codes, const float* s_neg, const float* s_pos,
               const float* ws, const NP* neg_prod, float unit_neg, const PP* pos_prod,
               float unit_pos) {
  static_assert(K % G == 0 && XG % G == 0 && WG % G == 0, "G must divide K, XG and WG");
  float acc = 0.0f;
  for (int g = 0; g < K / G; ++g) {
    long long p_neg = 0;
    long long p_pos = 0;
    for (int k = g * G; k < (g + 1) * G; ++k) {
      const int w = w_codes[k];
      p_neg += neg_prod[(neg_codes[k] << WBITS) | w];
      p_pos += pos_prod[(pos_codes[k] << WBITS) | w];
    }
    acc = dual_combine(acc, p_neg, p_pos, s_neg[(g * G) / XG], s_pos[(g * G) / XG],
                       ws[(g * G) / WG], unit_neg, unit_pos);
  }
  return acc;
}

}  // namespace fpqc

#endif  // FPQC_FPQVAR_H
