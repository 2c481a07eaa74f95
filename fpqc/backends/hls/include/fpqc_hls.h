// fpqc_hls.h -- fpqc's header-only HLS library: one template per accelerator op.
//
// Every template follows the numerics contract of fpqc.numerics (and the
// scalar algorithms of fpqc_numerics.h) operation for operation, so a kernel
// built from them computes bit for bit what fpqc's interpreter computes.
// Compile with -ffp-contract=off and without fast-math.
//
//   quantize_groups  dynamic quantizer: per-group absmax -> fp32 scale -> LUT encode
//   qlinear          LUT multiplier (product ROM), exact ap_int accumulation per
//                    group, fp32 combination of groups in ascending order, bias
//   dequantize       decode LUT times the group scale
//   gelu             element-wise fpqc::gelu_tanh_f32
//   pack_codes / PackedCodes / LocalCodes   low-bit codes in memory and on chip
//
// Layouts: tensors are row-major and flattened; a quantized tensor is
// N_GROUPS groups of G consecutive elements (one scale each).  Codes that
// cross a kernel port are packed floor(32 / BITS) to a 32-bit word, code i of
// a word in bits [i*BITS, (i+1)*BITS) (little-endian order).
//
// Static sizes, no dynamic memory: the templates are synthesizable as they
// stand; the pragmas only schedule (they never change an operation's order
// where that order is observable in fp32).
#ifndef FPQC_HLS_H
#define FPQC_HLS_H

#include <stdint.h>

#include "ap_int.h"
#include "fpqc_numerics.h"

#ifdef FPQC_DUMP
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#endif

namespace fpqc {

// ---------------------------------------------------------------- code access

// Codes held on chip, one ap_uint<BITS> per element.
template <int BITS>
struct LocalCodes {
    const ap_uint<BITS>* codes;
    ap_uint<BITS> operator[](int i) const { return codes[i]; }
};

// Codes packed in 32-bit words (a kernel port or a weight buffer).
template <int BITS>
struct PackedCodes {
    static const int PER_WORD = 32 / BITS;
    const uint32_t* words;
    ap_uint<BITS> operator[](int i) const {
        uint32_t word = words[i / PER_WORD];
        return ap_uint<BITS>((word >> ((i % PER_WORD) * BITS)) & ((1u << BITS) - 1u));
    }
};

template <int BITS>
LocalCodes<BITS> local_codes(const ap_uint<BITS>* codes) {
    LocalCodes<BITS> s = {codes};
    return s;
}

template <int BITS>
PackedCodes<BITS> packed_codes(const uint32_t* words) {
    PackedCodes<BITS> s = {words};
    return s;
}

// Pack N on-chip codes into ceil(N / floor(32/BITS)) words (unused high bits 0).
template <int BITS, int N>
void pack_codes(const ap_uint<BITS>* codes, uint32_t* words) {
    const int per = 32 / BITS;
    const int n_words = (N + per - 1) / per;
pack_words:
    for (int w = 0; w < n_words; ++w) {
#pragma HLS PIPELINE II = 1
        uint32_t word = 0;
        for (int j = 0; j < per; ++j) {
            int i = w * per + j;
            if (i < N) word |= (uint32_t)codes[i].to_uint() << (j * BITS);
        }
        words[w] = word;
    }
}

template <int N>
void copy_f32(const float* src, float* dst) {
copy:
    for (int i = 0; i < N; ++i) {
#pragma HLS PIPELINE II = 1
        dst[i] = src[i];
    }
}

// -------------------------------------------------------------- quantization

// One low-bit format's quantizer: the LUT tables of fpqc.numerics.rounding
// plus the format's largest finite value (for scales).
struct Quantizer {
    QuantizerSide neg;
    QuantizerSide pos;
    unsigned char nan_code;
    float max_value;
};

// Dynamic quantization of N_GROUPS groups of G consecutive floats:
//   absmax = max |x| over the group (fp32, exact)
//   s      = absmax / max_value; 1.0 for an all-zero group; NaN if the group
//            holds NaN or inf
//   code   = encode_lut(x / s)
template <int BITS, int N_GROUPS, int G>
void quantize_groups(const float* x, ap_uint<BITS>* codes, float* scales, const Quantizer& q) {
quantize_group:
    for (int g = 0; g < N_GROUPS; ++g) {
        float absmax = 0.0f;
        bool broken = false;
    absmax:
        for (int k = 0; k < G; ++k) {
#pragma HLS PIPELINE II = 1
            float a = x[g * G + k];
            if (a < 0.0f) a = -a;
            if (!(a <= 3.40282346638528859812e+38f)) broken = true;  // NaN or inf
            if (a > absmax) absmax = a;
        }
        float s = absmax / q.max_value;
        if (absmax == 0.0f) s = 1.0f;
        if (broken) s = __builtin_nanf("");
        scales[g] = s;
    encode:
        for (int k = 0; k < G; ++k) {
#pragma HLS PIPELINE II = 1
            codes[g * G + k] = ap_uint<BITS>(encode_lut(x[g * G + k] / s, q.neg, q.pos, q.nan_code));
        }
    }
}

// decode(code) * s for N_GROUPS groups of G codes.
template <int N_GROUPS, int G, class CODES>
void dequantize(const CODES& codes, const float* scales, const float* decode_table, float* y) {
dequantize_group:
    for (int g = 0; g < N_GROUPS; ++g) {
        float s = scales[g];
    decode:
        for (int k = 0; k < G; ++k) {
#pragma HLS PIPELINE II = 1
            y[g * G + k] = decode_lut(codes[g * G + k].to_uint(), decode_table) * s;
        }
    }
}

// ------------------------------------------------------------ linear layer

// y[r, o] = sum_k x[r, k] * w[o, k] (+ bias[o]) on quantized operands.
//
// Per group g of G consecutive k (G = the finer of the two scale groupings):
//   P   = exact sum of PTABLE[x_code][w_code]     (ap_int<ACC_BITS>, LUT products)
//   p   = (float)P * unit                          (int -> fp32 rounds to nearest even)
//   t   = xs * ws                                  (the two group scales)
//   acc = acc + t * p                              (acc from +0.0f, g ascending)
// then y = acc + bias.  Scale indexing: x scale of (r, g) is
// xs[r * XS_ROW + (g * G) / XG] with XG the x scale group (XS_ROW = 0 for one
// scale per tensor); likewise for w with WS_ROW, WG.
//
// The integer sum is exact whatever the order, so the product loop is
// unrolled by LANES (LUT multipliers per cycle); the fp32 combination is not
// reordered.
template <int ROWS, int K, int O, int G, int WBITS, int ACC_BITS, int XS_ROW, int XG, int WS_ROW,
          int WG, bool HAS_BIAS, int LANES, class XCODES, class WCODES, class PROD_T>
void qlinear(const XCODES& x, const float* xs, const WCODES& w, const float* ws,
             const float* bias, const PROD_T* ptable, float unit, float* y) {
    const int n_groups = K / G;
rows:
    for (int r = 0; r < ROWS; ++r) {
    outputs:
        for (int o = 0; o < O; ++o) {
            float acc = 0.0f;
        groups:
            for (int g = 0; g < n_groups; ++g) {
                ap_int<ACC_BITS> sum = 0;
            products:
                for (int k = 0; k < G; ++k) {
#pragma HLS PIPELINE II = 1
#pragma HLS UNROLL factor = LANES
                    int xi = x[r * K + g * G + k].to_uint();
                    int wi = w[o * K + g * G + k].to_uint();
                    sum += ptable[(xi << WBITS) | wi];
                }
                float p = (float)sum.to_int64() * unit;
                float t = xs[r * XS_ROW + (g * G) / XG] * ws[o * WS_ROW + (g * G) / WG];
                acc = acc + t * p;
            }
            y[r * O + o] = HAS_BIAS ? acc + bias[o] : acc;
        }
    }
}

// ---------------------------------------------------------------- element-wise

template <int N>
void gelu(const float* x, float* y) {
gelu:
    for (int i = 0; i < N; ++i) {
#pragma HLS PIPELINE II = 1
        y[i] = gelu_tanh_f32(x[i]);
    }
}

// ----------------------------------------------------------------- debugging

#ifdef FPQC_DUMP
// Write n bytes to $FPQC_DUMP_DIR/<name>.bin (C simulation only).
inline void dump_bytes(const char* name, const void* data, unsigned long n) {
    const char* dir = getenv("FPQC_DUMP_DIR");
    if (dir == 0) return;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.bin", dir, name);
    FILE* f = fopen(path, "wb");
    if (f == 0) return;
    fwrite(data, 1, n, f);
    fclose(f);
}

template <int BITS>
void dump_codes(const char* name, const ap_uint<BITS>* codes, int n) {
    unsigned char* bytes = (unsigned char*)malloc(n > 0 ? n : 1);
    for (int i = 0; i < n; ++i) bytes[i] = (unsigned char)codes[i].to_uint();
    dump_bytes(name, bytes, n);
    free(bytes);
}
#define FPQC_DUMP_F32(name, data, n) ::fpqc::dump_bytes(name, data, (unsigned long)(n) * 4)
#define FPQC_DUMP_CODES(name, codes, n) ::fpqc::dump_codes(name, codes, n)
#else
#define FPQC_DUMP_F32(name, data, n)
#define FPQC_DUMP_CODES(name, codes, n)
#endif

}  // namespace fpqc

#endif  // FPQC_HLS_H
