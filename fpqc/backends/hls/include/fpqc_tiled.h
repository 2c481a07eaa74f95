// fpqc_tiled.h -- the row stages of the quantized path: quantizers, dequantizer,
// FPQVAR's Hadamard transform and GELU, as DATAFLOW processes.
//
// The same numerics contract as fpqc_hls.h (fpqc.numerics, operation for
// operation, bit for bit).  Each stage is one process of a DATAFLOW region of
// a kernel (fpqc.backends.hls.kernel_cpp): it reads its input and writes its
// results through fpqc_dataflow.h's get() / put() -- an hls::stream of beats
// or a whole buffer, as the plan says -- for the rows [r0, r0 + nr) of a row
// tile (nr <= ROW_TILE), in column tiles of W columns (W = the row length: row
// after row).  A stage's working memory is a buffer of the plan (its scratch
// buffer, two copies: a group is read into one copy while the previous one is
// finished in the other); a stage declares no array of its own.  Each stage
// records the results it produces on its taps (C simulation only).
//
//   quantize_stage        dynamic group quantizer (groups of G along each row)
//   quantize_tensor_stage dynamic quantizer with one scale over all rows of the launch
//   dequantize_stage      decode LUT times the group scale
//   hadamard_stage        FPQVAR's GHT / FWHT of each block of a row
//   dual_quantize_stage   dual-format quantizer (two code planes, two scales)
//   gelu_stage            element-wise fpqc::gelu_tanh_f32
//
// Synthesizable style: sizes are template parameters, loops are bounded
// (row loops carry LOOP_TRIPCOUNT), no dynamic memory, no recursion, no libm.
// Compile with -ffp-contract=off and without fast-math.  C++14.
#ifndef FPQC_TILED_H
#define FPQC_TILED_H

#include <stdint.h>

#include "ap_int.h"
#include "fpqc_dataflow.h"
#include "fpqc_fpqvar.h"
#include "fpqc_hls.h"  // struct Quantizer
#include "fpqc_numerics.h"

namespace fpqc {

namespace tiled_detail {

// The scale of a group with largest magnitude `absmax` (quantize_groups):
// absmax / max_value; 1.0 for an all-zero group; NaN if it held NaN or inf.
inline float group_scale(float absmax, bool broken, float max_value) {
    float s = absmax / max_value;
    if (absmax == 0.0f) s = 1.0f;
    if (broken) s = kNaN;
    return s;
}

// One element into a group's running absmax and NaN/inf flag.  max over
// non-negative values (compared with >, from +0.0f, NaN never taken) does not
// depend on the order, so any order of the elements gives quantize_groups'
// sequential maximum bit for bit.
inline void absmax_step(float x, float& absmax, bool& broken) {
    float a = x < 0.0f ? -x : x;
    if (!(a <= 3.40282346638528859812e+38f)) broken = true;  // NaN or inf
    if (a > absmax) absmax = a;
}

}  // namespace tiled_detail

// Dynamic quantization of rows of C floats in groups of G consecutive
// elements (G = C: per token), exactly as quantize_groups:
//   absmax = max |x| over the group; s = absmax / max_value (1.0 for an
//   all-zero group, NaN if the group holds NaN or inf); code = encode_lut(x / s)
// A group is read into group[copy] (LANES elements a cycle), its scale is
// written, then its codes.
//
//   BITS  bits per code;  C  row length;  G  group (divides W);  W  column tile
//   ROW_TILE  rows of a tile at most;  LANES  elements a cycle (divides G)
//   in  [rows, C] floats;  codes  [rows, C] codes;  scales  [rows, C / G]
template <int BITS, int C, int G, int W, int ROW_TILE, int LANES, class IN, class OUT_C, class OUT_S>
void quantize_stage(IN& in, float (&group)[2][G], OUT_C& codes, OUT_S& scales, const Quantizer& q,
                    int r0, int nr, Tap codes_tap, Tap scales_tap) {
    static_assert(C % W == 0 && W % G == 0 && G % LANES == 0, "quantize_stage: LANES | G | W | C");
    typename Cursor<IN>::type ci(r0, ROW_TILE);
    typename Cursor<OUT_C>::type cc(r0, ROW_TILE);
    typename Cursor<OUT_S>::type cs(r0, ROW_TILE);
    int side = 0;
    for (int t = 0; t < C / W; ++t) {
        for (int i = 0; i < nr; ++i) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = ROW_TILE
            for (int g = 0; g < W / G; ++g) {
                const int c0 = t * W + g * G;
                float absmax = 0.0f;
                bool broken = false;
                for (int k = 0; k < G; ++k) {
#pragma HLS PIPELINE II = 1
#pragma HLS UNROLL factor = LANES
                    const float x = get(in, ci, i, c0 + k);
                    group[side][k] = x;
                    tiled_detail::absmax_step(x, absmax, broken);
                }
                const float s = tiled_detail::group_scale(absmax, broken, q.max_value);
                put(scales, cs, i, c0 / G, s);
                scales_tap.put(r0 + i, c0 / G, s);
                for (int k = 0; k < G; ++k) {
#pragma HLS PIPELINE II = 1
#pragma HLS UNROLL factor = LANES
                    const ap_uint<BITS> code(encode_lut(group[side][k] / s, q.neg, q.pos, q.nan_code));
                    put(codes, cc, i, c0 + k, code);
                    codes_tap.put(r0 + i, c0 + k, code);
                }
                side = 1 - side;
            }
        }
    }
}

// Dynamic quantization of all rows [0, nr) of the launch with ONE scale (per
// tensor); arithmetic as quantize_stage.  The input is a whole buffer (read
// twice: the maximum, then the codes); scale: a [1][1] buffer.
template <int BITS, int C, int ROW_TILE, int LANES, class T_IN, int R_IN, class OUT_C, class OUT_S>
void quantize_tensor_stage(T_IN (&in)[R_IN][C], OUT_C& codes, OUT_S& scale, const Quantizer& q, int nr,
                           Tap codes_tap, Tap scale_tap) {
    typename Cursor<OUT_C>::type cc(0, ROW_TILE);
    typename Cursor<OUT_S>::type cs(0, ROW_TILE);
    float absmax = 0.0f;
    bool broken = false;
    for (int i = 0; i < nr; ++i) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = R_IN
        for (int c = 0; c < C; ++c) {
#pragma HLS PIPELINE II = 1
#pragma HLS UNROLL factor = LANES
            tiled_detail::absmax_step(in[i][c], absmax, broken);
        }
    }
    const float s = tiled_detail::group_scale(absmax, broken, q.max_value);
    put(scale, cs, 0, 0, s);
    scale_tap.put(0, 0, s);
    for (int i = 0; i < nr; ++i) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = R_IN
        for (int c = 0; c < C; ++c) {
#pragma HLS PIPELINE II = 1
#pragma HLS UNROLL factor = LANES
            const ap_uint<BITS> code(encode_lut(in[i][c] / s, q.neg, q.pos, q.nan_code));
            put(codes, cc, i, c, code);
            codes_tap.put(i, c, code);
        }
    }
}

// y = decode(code) * s for rows of C codes, s the scale of the element's
// group of SG (exactly as dequantize).  scales: [rows, C / SG].
template <int C, int SG, int W, int ROW_TILE, int LANES, class IN_C, class IN_S, class OUT>
void dequantize_stage(IN_C& codes, IN_S& scales, OUT& y, const float* decode_table, int r0, int nr, Tap tap) {
    static_assert(C % W == 0 && W % SG == 0 && W % LANES == 0, "dequantize_stage: SG | W, LANES | W, W | C");
    typename Cursor<IN_C>::type cc(r0, ROW_TILE);
    typename Cursor<IN_S>::type cs(r0, ROW_TILE);
    typename Cursor<OUT>::type co(r0, ROW_TILE);
    float s = 0.0f;
    for (int t = 0; t < C / W; ++t) {
        for (int i = 0; i < nr; ++i) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = ROW_TILE
            for (int j = 0; j < W; ++j) {
#pragma HLS PIPELINE II = 1
#pragma HLS UNROLL factor = LANES
                const int c = t * W + j;
                if (c % SG == 0) s = get(scales, cs, i, c / SG);
                const float v = decode_lut(get(codes, cc, i, c).to_uint(), decode_table) * s;
                put(y, co, i, c, v);
                tap.put(r0 + i, c, v);
            }
        }
    }
}

// Group-wise Hadamard transform (exactly as hadamard): with HAS_SIGNS every
// channel is first multiplied by signs[c] (+-1, exact), then each block of
// BLOCK channels goes through fwht_f32<BLOCK> in block[copy].
//
//   DIM  row length;  BLOCK  Hadamard block (power of two, divides W)
//   signs  [DIM] (a whole buffer; 0 without signs)
template <int DIM, int BLOCK, bool HAS_SIGNS, int W, int ROW_TILE, int LANES, class IN, class OUT>
void hadamard_stage(IN& in, float (&block)[2][BLOCK], const float* signs, OUT& y, int r0, int nr, Tap tap) {
    static_assert(DIM % W == 0 && W % BLOCK == 0 && BLOCK % LANES == 0, "hadamard_stage: LANES | BLOCK | W | DIM");
    typename Cursor<IN>::type ci(r0, ROW_TILE);
    typename Cursor<OUT>::type co(r0, ROW_TILE);
    int side = 0;
    for (int t = 0; t < DIM / W; ++t) {
        for (int i = 0; i < nr; ++i) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = ROW_TILE
            for (int b = 0; b < W / BLOCK; ++b) {
                const int c0 = t * W + b * BLOCK;
                for (int k = 0; k < BLOCK; ++k) {
#pragma HLS PIPELINE II = 1
#pragma HLS UNROLL factor = LANES
                    const float x = get(in, ci, i, c0 + k);
                    block[side][k] = HAS_SIGNS ? x * signs[c0 + k] : x;
                }
                fwht_f32<BLOCK>(block[side]);
                for (int k = 0; k < BLOCK; ++k) {
#pragma HLS PIPELINE II = 1
#pragma HLS UNROLL factor = LANES
                    put(y, co, i, c0 + k, block[side][k]);
                    tap.put(r0 + i, c0 + k, block[side][k]);
                }
                side = 1 - side;
            }
        }
    }
}

// Dual-format quantization of rows of C floats in groups of G (dual_scales<G>
// on the group in group[copy], then dual_code of each element).  Per group
// the two scales are written, then the two code planes.
//
//   NBITS / PBITS  bits of the negative-side / positive-side codes
//   neg, pos  [rows, C] code planes;  s_neg, s_pos  [rows, C / G]
template <int NBITS, int PBITS, int C, int G, int W, int ROW_TILE, int LANES, class IN, class OUT_N, class OUT_P,
          class OUT_SN, class OUT_SP>
void dual_quantize_stage(IN& in, float (&group)[2][G], OUT_N& neg, OUT_P& pos, OUT_SN& s_neg, OUT_SP& s_pos,
                         const DualQuantizer& q, int r0, int nr, Tap neg_tap, Tap pos_tap, Tap s_neg_tap,
                         Tap s_pos_tap) {
    static_assert(C % W == 0 && W % G == 0 && G % LANES == 0, "dual_quantize_stage: LANES | G | W | C");
    typename Cursor<IN>::type ci(r0, ROW_TILE);
    typename Cursor<OUT_N>::type cn(r0, ROW_TILE);
    typename Cursor<OUT_P>::type cp(r0, ROW_TILE);
    typename Cursor<OUT_SN>::type csn(r0, ROW_TILE);
    typename Cursor<OUT_SP>::type csp(r0, ROW_TILE);
    int side = 0;
    for (int t = 0; t < C / W; ++t) {
        for (int i = 0; i < nr; ++i) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = ROW_TILE
            for (int g = 0; g < W / G; ++g) {
                const int c0 = t * W + g * G;
                for (int k = 0; k < G; ++k) {
#pragma HLS PIPELINE II = 1
#pragma HLS UNROLL factor = LANES
                    group[side][k] = get(in, ci, i, c0 + k);
                }
                float sn, sp;
                dual_scales<G>(group[side], q, &sn, &sp);
                put(s_neg, csn, i, c0 / G, sn);
                put(s_pos, csp, i, c0 / G, sp);
                s_neg_tap.put(r0 + i, c0 / G, sn);
                s_pos_tap.put(r0 + i, c0 / G, sp);
                for (int k = 0; k < G; ++k) {
#pragma HLS PIPELINE II = 1
#pragma HLS UNROLL factor = LANES
                    unsigned char n_code, p_code;
                    dual_code(group[side][k], sn, sp, q, &n_code, &p_code);
                    const ap_uint<NBITS> nc(n_code);
                    const ap_uint<PBITS> pc(p_code);
                    put(neg, cn, i, c0 + k, nc);
                    put(pos, cp, i, c0 + k, pc);
                    neg_tap.put(r0 + i, c0 + k, nc);
                    pos_tap.put(r0 + i, c0 + k, pc);
                }
                side = 1 - side;
            }
        }
    }
}

// y = gelu_tanh_f32(x), element by element.
template <int C, int W, int ROW_TILE, int LANES, class IN, class OUT>
void gelu_stage(IN& in, OUT& y, int r0, int nr, Tap tap) {
    static_assert(C % W == 0 && W % LANES == 0, "gelu_stage: LANES | W | C");
    typename Cursor<IN>::type ci(r0, ROW_TILE);
    typename Cursor<OUT>::type co(r0, ROW_TILE);
    for (int t = 0; t < C / W; ++t) {
        for (int i = 0; i < nr; ++i) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = ROW_TILE
            for (int j = 0; j < W; ++j) {
#pragma HLS PIPELINE II = 1
#pragma HLS UNROLL factor = LANES
                const int c = t * W + j;
                const float v = gelu_tanh_f32(get(in, ci, i, c));
                put(y, co, i, c, v);
                tap.put(r0 + i, c, v);
            }
        }
    }
}

}  // namespace fpqc

#endif  // FPQC_TILED_H
