// fpqc_hls.h -- the base of fpqc's header-only HLS library: low-bit codes in
// memory and on chip, the quantizer tables, the group quantizer, and the
// C-simulation dump of intermediates.
//
// Every template follows the numerics contract of fpqc.numerics (and the
// scalar algorithms of fpqc_numerics.h) operation for operation, so a kernel
// built from them computes bit for bit what fpqc's interpreter computes.
// Compile with -ffp-contract=off and without fast-math.  The kernels' ops are
// in fpqc_tiled.h (quantized layers, runtime rows, weight tiles) and
// fpqc_block.h (the rest of a transformer block).
//
//   pack_codes_n / PackedCodes / LocalCodes   low-bit codes in memory and on chip
//   copy_f32_n       an on-chip buffer's first n values to an output port
//   Quantizer        one format's LUT quantizer tables and its largest value
//   quantize_groups  dynamic quantizer: per-group absmax -> fp32 scale -> LUT encode
//   dequantize       decode LUT times the group scale
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
