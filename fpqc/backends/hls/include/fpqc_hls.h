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
//   hadamard         FPQVAR's GHT: optional random signs, then the FWHT of each
//                    block of a row (fpqc::ght_f32 / fpqc::fwht_f32)
//   dual_quantize_groups  dual-format quantizer: per-group negative and
//                    positive scales, two code planes (fpqc::dual_scales,
//                    fpqc::dual_quantize)
//   dual_qlinear     two LUT multipliers (negative plane and positive plane
//                    against the same weight code), exact ap_int sums per
//                    group, fpqc::dual_combine in ascending group order, bias
//   pack_codes / PackedCodes / LocalCodes   low-bit codes in memory and on chip
//
// Layouts: tensors are row-major and flattened; a quantized tensor is
// N_GROUPS groups of G consecutive elements (one scale each).  Codes that
// cross a kernel port are packed floor(32 / BITS) to a 32-bit word, code i of
// a word in bits [i*BITS, (i+1)*BITS) (little-endian order).
//
// The FPQVAR templates wrap fpqc_fpqvar.h, the C++ twin of
// fpqc/numerics/{hadamard,dual_format}.py, so that the arithmetic is written
// once.
//
// Static sizes, no dynamic memory: the templates are synthesizable as they
// stand; the pragmas only schedule (they never change an operation's order
// where that order is observable in fp32).
#ifndef FPQC_HLS_H
#define FPQC_HLS_H

#include <stdint.h>

#include "ap_int.h"
#include "fpqc_fpqvar.h"
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

// Pack the first n (<= MAX_N) on-chip codes into ceil(n / floor(32/BITS)) words
// (unused high bits 0).
template <int BITS, int MAX_N>
void pack_codes_n(const ap_uint<BITS>* codes, uint32_t* words, int n) {
    const int per = 32 / BITS;
    const int n_words = (n + per - 1) / per;
pack_words:
    for (int w = 0; w < n_words; ++w) {
#pragma HLS LOOP_TRIPCOUNT max = (MAX_N + 32 / BITS - 1) / (32 / BITS)
#pragma HLS PIPELINE II = 1
        uint32_t word = 0;
        for (int j = 0; j < per; ++j) {
            int i = w * per + j;
            if (i < n) word |= (uint32_t)codes[i].to_uint() << (j * BITS);
        }
        words[w] = word;
    }
}

// Copy the first n (<= MAX_N) values of an on-chip buffer to an output port.
template <int MAX_N>
void copy_f32_n(const float* src, float* dst, int n) {
copy:
    for (int i = 0; i < n; ++i) {
#pragma HLS LOOP_TRIPCOUNT max = MAX_N
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

// ------------------------------------------------------------------ FPQVAR

// Group-wise Hadamard transform of ROWS rows of DIM channels: with HAS_SIGNS
// every channel is first multiplied by signs[i] (+-1, exact), then each block
// of BLOCK consecutive channels goes through fwht_f32<BLOCK> (fixed stage
// order, one scaling multiply).  Without signs (they were folded into the
// AdaLN modulation) `signs` is not read.
//
// The FPGA's fast Walsh-Hadamard unit: a row is held on chip, partitioned by
// LANES so that a stage's independent butterflies run in parallel; the
// stages themselves stay in order.
template <int ROWS, int DIM, int BLOCK, bool HAS_SIGNS, int LANES>
void hadamard(const float* x, const float* signs, float* y) {
    float sign_rom[DIM];
    float row[DIM];
#pragma HLS ARRAY_PARTITION variable = row type = cyclic factor = LANES
    if (HAS_SIGNS) {
    load_signs:
        for (int i = 0; i < DIM; ++i) {
#pragma HLS PIPELINE II = 1
            sign_rom[i] = signs[i];
        }
    }
hadamard_rows:
    for (int r = 0; r < ROWS; ++r) {
    load_row:
        for (int i = 0; i < DIM; ++i) {
#pragma HLS PIPELINE II = 1
            row[i] = x[r * DIM + i];
        }
        if (HAS_SIGNS) {
            ght_f32<DIM, BLOCK>(row, sign_rom);
        } else {
        blocks:
            for (int b = 0; b < DIM; b += BLOCK) fwht_f32<BLOCK>(row + b);
        }
    store_row:
        for (int i = 0; i < DIM; ++i) {
#pragma HLS PIPELINE II = 1
            y[r * DIM + i] = row[i];
        }
    }
}

// Dual-format quantization of N_GROUPS groups of G consecutive floats: per
// group dual_scales<G> (negative side: sign bit set, absmax / neg_max;
// positive side: absmax / pos_max; 1.0 for an empty or all-zero side, NaN
// for both when the group holds NaN or inf), then dual_quantize<G> (one
// nonzero plane per element at most).
template <int NBITS, int PBITS, int N_GROUPS, int G>
void dual_quantize_groups(const float* x, ap_uint<NBITS>* neg_codes, ap_uint<PBITS>* pos_codes,
                          float* s_neg, float* s_pos, const DualQuantizer& q) {
    unsigned char neg[G];
    unsigned char pos[G];
dual_quantize_group:
    for (int g = 0; g < N_GROUPS; ++g) {
        float sn, sp;
        dual_scales<G>(x + g * G, q, &sn, &sp);
        s_neg[g] = sn;
        s_pos[g] = sp;
        dual_quantize<G>(x + g * G, sn, sp, q, neg, pos);
    store_codes:
        for (int k = 0; k < G; ++k) {
#pragma HLS PIPELINE II = 1
            neg_codes[g * G + k] = ap_uint<NBITS>(neg[k]);
            pos_codes[g * G + k] = ap_uint<PBITS>(pos[k]);
        }
    }
}

// y[r, o] = sum_k x[r, k] * w[o, k] (+ bias[o]) for a dual-format x (two code
// planes NEG and POS, one scale pair per row and group).
//
// Per group g of G consecutive k (G = the finer of the two scale groupings):
//   Pn  = exact sum of NPROD[neg_code][w_code]   (ap_int<NACC_BITS>)
//   Pp  = exact sum of PPROD[pos_code][w_code]   (ap_int<PACC_BITS>)
//   acc = dual_combine(acc, Pn, Pp, sn, sp, ws, unit_n, unit_p)
//         (negative side's term first, acc from +0.0f, g ascending)
// then y = acc + bias.  Scale indexing as in qlinear: the scales of (r, g)
// are sn/sp[r * XS_ROW + (g * G) / XG] and ws[o * WS_ROW + (g * G) / WG].
//
// Both product loops read the same weight code: LANES pairs of LUT
// multipliers per cycle; only the exact integer sums are reordered.
template <int ROWS, int K, int O, int G, int WBITS, int NACC_BITS, int PACC_BITS, int XS_ROW,
          int XG, int WS_ROW, int WG, bool HAS_BIAS, int LANES, class NCODES, class PCODES,
          class WCODES, class NPROD_T, class PPROD_T>
void dual_qlinear(const NCODES& xn, const PCODES& xp, const float* sn, const float* sp,
                  const WCODES& w, const float* ws, const float* bias, const NPROD_T* nprod,
                  float unit_n, const PPROD_T* pprod, float unit_p, float* y) {
    const int n_groups = K / G;
dual_rows:
    for (int r = 0; r < ROWS; ++r) {
    dual_outputs:
        for (int o = 0; o < O; ++o) {
            float acc = 0.0f;
        dual_groups:
            for (int g = 0; g < n_groups; ++g) {
                ap_int<NACC_BITS> p_neg = 0;
                ap_int<PACC_BITS> p_pos = 0;
            dual_products:
                for (int k = 0; k < G; ++k) {
#pragma HLS PIPELINE II = 1
#pragma HLS UNROLL factor = LANES
                    int i = r * K + g * G + k;
                    int wi = w[o * K + g * G + k].to_uint();
                    p_neg += nprod[(xn[i].to_uint() << WBITS) | wi];
                    p_pos += pprod[(xp[i].to_uint() << WBITS) | wi];
                }
                int xs = r * XS_ROW + (g * G) / XG;
                acc = dual_combine(acc, p_neg.to_int64(), p_pos.to_int64(), sn[xs], sp[xs],
                                   ws[o * WS_ROW + (g * G) / WG], unit_n, unit_p);
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
