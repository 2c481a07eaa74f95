// fpqc_hls.h -- the base of fpqc's header-only HLS library: low-bit codes on
// chip, the quantizer tables and the group quantizer.
//
// Every template follows the numerics contract of fpqc.numerics (and the
// scalar algorithms of fpqc_numerics.h) operation for operation, so a kernel
// built from them computes bit for bit what fpqc's interpreter computes.
// Compile with -ffp-contract=off and without fast-math.  The kernels' ops are
// in fpqc_tiled.h (quantizers, Hadamard, GELU), fpqc_linear.h (the PE array)
// and fpqc_block.h (the rest of a transformer block), passing values as
// fpqc_dataflow.h says.
//
//   LocalCodes       low-bit codes on chip, one ap_uint<BITS> per element
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

namespace fpqc {

// ---------------------------------------------------------------- code access

// Codes held on chip, one ap_uint<BITS> per element.
template <int BITS>
struct LocalCodes {
    const ap_uint<BITS>* codes;
    ap_uint<BITS> operator[](int i) const { return codes[i]; }
};

template <int BITS>
LocalCodes<BITS> local_codes(const ap_uint<BITS>* codes) {
    LocalCodes<BITS> s = {codes};
    return s;
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

}  // namespace fpqc

#endif  // FPQC_HLS_H
