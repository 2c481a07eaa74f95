// fpqc_tiled.h -- fpqc's streaming HLS templates: runtime rows, tiled linear
// layers that read every weight from DDR once per launch.
//
// The same numerics contract as fpqc_hls.h (fpqc.numerics, operation for
// operation, bit for bit), shaped for the accelerator that serves every scale
// of a VAR generation:
//
//   runtime rows   a launch processes `rows` rows (a runtime int, at most the
//                  template bound MAX_ROWS; values outside [0, MAX_ROWS] are
//                  clamped), so one kernel serves 1, 4, 9, ..., 256 tokens x
//                  batch.  Only the first `rows` rows of an output are written.
//   tiled linear   tiled_qlinear / tiled_dual_qlinear walk the weight in tiles of
//                  N_TILE output channels (ascending).  A DATAFLOW region of six
//                  processes connected by hls::stream FIFOs:
//
//                    read_weight_words   DDR burst: every weight word once, in order
//                    unpack_weight_codes gearbox: words -> vectors of LANES codes
//                    load_tile_params    DDR: each tile's weight scales (+ bias)
//                    mac_*               for every row r < rows: the LUT
//                                        products (product ROM) and the exact
//                                        integer sum of every group, PES outputs
//                                        x LANES products per cycle, from an
//                                        on-chip tile buffer [N_TILE][K]
//                    combine_*           fp32 combination of the groups in
//                                        ascending order, then the bias
//                    write_outputs       y[r, o] for the tile's N_TILE columns
//
//                  Double buffering: the weight-code FIFO holds one whole
//                  tile, so the loader fetches tile t+1 from DDR while tile t
//                  computes, and the MAC stage keeps two tile buffers
//                  (ping-pong): while it computes tile t from one, tile t+1's
//                  codes move from the FIFO into the other, one vector per
//                  compute cycle.  Tiling over output channels never changes an
//                  output's summation order: the results are bit-identical to
//                  fpqc.numerics.qlinear / dual_qlinear for every valid plan.
//
// Template          what it computes
//   quantize_rows          dynamic group quantizer (groups of G along each row)
//   quantize_tensor_rows   dynamic quantizer with one scale over all `rows` rows
//   dequantize_rows        decode LUT times the group scale
//   hadamard_rows          FPQVAR's GHT / FWHT of each row
//   dual_quantize_rows     dual-format quantizer (two code planes, two scales)
//   gelu_rows              element-wise fpqc::gelu_tanh_f32
//   tiled_qlinear          quantized linear layer, weight-stationary tiles
//   tiled_dual_qlinear     dual-format linear layer, weight-stationary tiles
//   weight_words_from_u32  host / C-simulation helper: weights.bin words -> port words
//
// Layouts.  Tensors are row-major and flattened; activations are [rows, K]
// with row stride K (also when rows < MAX_ROWS).  Scale layout of a linear
// layer, as in fpqc_hls.h: the activation scale of (row r, group g) is
// xs[r * XS_ROW + (g * G) / XG] and the weight scale of (output o, group g)
// is ws[o * WS_ROW + (g * G) / WG]:
//     per group of S along K:   *S_ROW = K / S,  *G = S
//     per token / per channel:  *S_ROW = 1,      *G = K
//     per tensor:               *S_ROW = 0,      *G = K
// G (the exactly accumulated group) is the finer of XG and WG.
//
// Weight port.  The codes of a weight [O, K] arrive on a `const
// ap_uint<WORD_BITS>*` port (an m_axi port of WORD_BITS bits, a multiple of
// 32: 32, 64, ..., 512).  Its bytes are exactly the bytes of weights.bin
// (fpqc.backends.hls.codes.pack_codes): the tensor is packed FLAT, code i of
// the flattened [O, K] at bits [(i % P) * WBITS, ...) of little-endian uint32
// number i / P, P = floor(32 / WBITS) (unused high bits of a uint32 are zero;
// rows are not padded, so a row may begin inside a word); a port word is
// WORD_BITS / 32 consecutive uint32 (the first in bits [0, 32)), i.e.
// WORD_BITS / 32 * P codes, e.g. 128 fp4 or 80 fp6 codes per 512-bit word.
// The port holds weight_port_words(O * K, WBITS, WORD_BITS) words; the last
// one may extend past the packed tensor, its extra bits are never used (a
// host must allocate the buffer to a whole number of words: weights.bin
// entries start 64-byte aligned).
//
// On-chip inputs: activation codes (ap_uint<BITS>, one per element) are read
// LANES per cycle; the caller partitions them `cyclic factor = LANES`, as
// fpqc's kernels do with their buffers.  The product ROMs are read PES x
// LANES times per cycle (every LUT multiplier needs its own copy or ports; a
// ROM of 256 (fp4) or 4096 (fp6) entries maps to LUTs).
//
// Synthesizable style: sizes are template parameters, loops are bounded
// (runtime-row loops carry LOOP_TRIPCOUNT), no dynamic memory, no recursion,
// no libm.  Loops carry no labels (an unused label is a -Wall warning).
// Compile with -ffp-contract=off and without fast-math.  C++14.
#ifndef FPQC_TILED_H
#define FPQC_TILED_H

#include <stdint.h>

#include "ap_int.h"
#include "fpqc_fpqvar.h"
#include "fpqc_hls.h"  // struct Quantizer
#include "fpqc_numerics.h"
#include "hls_stream.h"

namespace fpqc {

// ------------------------------------------------------------ weight words

// Number of WORD_BITS-bit port words that hold n_codes codes of wbits bits
// in the layout above.
constexpr int weight_port_words(int n_codes, int wbits, int word_bits) {
    return (n_codes + (32 / wbits) * (word_bits / 32) - 1) / ((32 / wbits) * (word_bits / 32));
}

// Host / C-simulation helper: the n_u32 little-endian uint32 of weights.bin
// (pack_codes) as WORD_BITS-bit port words, uint32 j of a word in bits
// [32 j, 32 j + 32); missing uint32 of the last word are 0.  On a
// little-endian host the bytes do not change.
template <int WORD_BITS>
void weight_words_from_u32(const uint32_t* u32, int n_u32, ap_uint<WORD_BITS>* words) {
    static_assert(WORD_BITS % 32 == 0 && WORD_BITS >= 32, "WORD_BITS must be a multiple of 32");
    const int per = WORD_BITS / 32;
    const int n_words = (n_u32 + per - 1) / per;
    for (int i = 0; i < n_words; ++i) {
        ap_uint<WORD_BITS> word = 0;
        for (int j = 0; j < per; ++j) {
            const int at = i * per + j;
            if (at < n_u32) word.range(32 * j + 31, 32 * j) = u32[at];
        }
        words[i] = word;
    }
}

namespace tiled_detail {

inline int clamp_rows(int rows, int max_rows) {
    return rows < 0 ? 0 : (rows > max_rows ? max_rows : rows);
}

// The scale of a group with largest magnitude `absmax` (quantize_groups):
// absmax / max_value; 1.0 for an all-zero group; NaN if it held NaN or inf.
inline float group_scale(float absmax, bool broken, float max_value) {
    float s = absmax / max_value;
    if (absmax == 0.0f) s = 1.0f;
    if (broken) s = kNaN;
    return s;
}

// absmax and the NaN/inf flag of n_chunks * LANES consecutive floats, LANES a
// cycle.  max over non-negative values (compared with >, from +0.0f, NaN
// never taken) does not depend on the order, so the lane-parallel maximum
// equals quantize_groups' sequential one bit for bit.
template <int LANES, int MIN_CHUNKS, int MAX_CHUNKS>
void absmax_lanes(const float* x, int n_chunks, float* absmax_out, bool* broken_out) {
    float lane_max[LANES];
    bool lane_broken[LANES];
#pragma HLS ARRAY_PARTITION variable = lane_max complete
#pragma HLS ARRAY_PARTITION variable = lane_broken complete
    for (int l = 0; l < LANES; ++l) {
#pragma HLS UNROLL
        lane_max[l] = 0.0f;
        lane_broken[l] = false;
    }
    for (int c = 0; c < n_chunks; ++c) {
#pragma HLS LOOP_TRIPCOUNT min = MIN_CHUNKS max = MAX_CHUNKS
#pragma HLS PIPELINE II = 1
        for (int l = 0; l < LANES; ++l) {
#pragma HLS UNROLL
            float a = x[c * LANES + l];
            if (a < 0.0f) a = -a;
            if (!(a <= 3.40282346638528859812e+38f)) lane_broken[l] = true;  // NaN or inf
            if (a > lane_max[l]) lane_max[l] = a;
        }
    }
    float absmax = 0.0f;
    bool broken = false;
    for (int l = 0; l < LANES; ++l) {
#pragma HLS UNROLL
        if (lane_broken[l]) broken = true;
        if (lane_max[l] > absmax) absmax = lane_max[l];
    }
    *absmax_out = absmax;
    *broken_out = broken;
}

// code = encode_lut(x / s) for n_chunks * LANES consecutive floats.
template <int BITS, int LANES, int MIN_CHUNKS, int MAX_CHUNKS>
void encode_lanes(const float* x, int n_chunks, float s, ap_uint<BITS>* codes, const Quantizer& q) {
    for (int c = 0; c < n_chunks; ++c) {
#pragma HLS LOOP_TRIPCOUNT min = MIN_CHUNKS max = MAX_CHUNKS
#pragma HLS PIPELINE II = 1
        for (int l = 0; l < LANES; ++l) {
#pragma HLS UNROLL
            const int i = c * LANES + l;
            codes[i] = ap_uint<BITS>(encode_lut(x[i] / s, q.neg, q.pos, q.nan_code));
        }
    }
}

}  // namespace tiled_detail

// ------------------------------------------------------------ quantization

// Dynamic quantization of `rows` rows of K floats in groups of G consecutive
// elements along the row (G = K: per token), exactly as quantize_groups:
//   absmax = max |x| over the group; s = absmax / max_value (1.0 for an
//   all-zero group, NaN if the group holds NaN or inf); code = encode_lut(x / s)
//
//   BITS      bits per code (4: fp4 e2m1, 6: fp6 e2m3 / e3m2, ...)
//   K         elements per row
//   G         elements per scale group along the row; divides K (G = K: per token)
//   MAX_ROWS  largest `rows` a launch may pass (tripcount bound)
//   LANES     elements read, compared and encoded per cycle; divides G
//   rows      runtime number of rows (clamped to [0, MAX_ROWS])
//   x         [rows, K] floats;  codes  [rows, K] codes out
//   scales    [rows, K / G] scales out;  q  the format's LUT quantizer (fpqc_tables.h)
template <int BITS, int K, int G, int MAX_ROWS, int LANES>
void quantize_rows(int rows, const float* x, ap_uint<BITS>* codes, float* scales,
                   const Quantizer& q) {
    static_assert(G > 0 && K % G == 0, "G must divide K");
    static_assert(LANES > 0 && G % LANES == 0, "LANES must divide G");
    const int n_groups = tiled_detail::clamp_rows(rows, MAX_ROWS) * (K / G);
    for (int g = 0; g < n_groups; ++g) {
#pragma HLS LOOP_TRIPCOUNT min = K / G max = MAX_ROWS * (K / G)
        float absmax;
        bool broken;
        tiled_detail::absmax_lanes<LANES, G / LANES, G / LANES>(x + g * G, G / LANES, &absmax,
                                                                 &broken);
        const float s = tiled_detail::group_scale(absmax, broken, q.max_value);
        scales[g] = s;
        tiled_detail::encode_lanes<BITS, LANES, G / LANES, G / LANES>(x + g * G, G / LANES, s,
                                                                       codes + g * G, q);
    }
}

// Dynamic quantization of `rows` rows of K floats with ONE scale for all of
// them (per tensor: the group is the rows * K elements of this launch);
// arithmetic as quantize_rows.  scale: one float out.  Parameters as
// quantize_rows; LANES divides K.
template <int BITS, int K, int MAX_ROWS, int LANES>
void quantize_tensor_rows(int rows, const float* x, ap_uint<BITS>* codes, float* scale,
                          const Quantizer& q) {
    static_assert(LANES > 0 && K % LANES == 0, "LANES must divide K");
    const int n_chunks = tiled_detail::clamp_rows(rows, MAX_ROWS) * (K / LANES);
    float absmax;
    bool broken;
    tiled_detail::absmax_lanes<LANES, K / LANES, MAX_ROWS * (K / LANES)>(x, n_chunks, &absmax,
                                                                        &broken);
    const float s = tiled_detail::group_scale(absmax, broken, q.max_value);
    scale[0] = s;
    tiled_detail::encode_lanes<BITS, LANES, K / LANES, MAX_ROWS * (K / LANES)>(x, n_chunks, s,
                                                                              codes, q);
}

// y = decode(code) * s for `rows` rows of K codes (exactly as dequantize).
//
//   K         elements per row
//   S_ROW     scales per row (K / SG; 1 per token; 0: one scale for the tensor)
//   SG        elements per scale along the row (divides K)
//   MAX_ROWS  largest `rows`;  LANES  elements per cycle, divides K
//   CODES     anything with operator[](int) giving an ap_uint (deduced): a
//             `const ap_uint<BITS>*`, fpqc::local_codes, fpqc::packed_codes
//   codes     [rows, K] codes;  scales  the scale of (r, k) at
//             scales[r * S_ROW + k / SG];  decode_table  the format's decode LUT
//   y         [rows, K] floats out
template <int K, int S_ROW, int SG, int MAX_ROWS, int LANES, class CODES>
void dequantize_rows(int rows, const CODES& codes, const float* scales,
                     const float* decode_table, float* y) {
    static_assert(SG > 0 && K % SG == 0, "SG must divide K");
    static_assert(LANES > 0 && K % LANES == 0, "LANES must divide K");
    const int n = tiled_detail::clamp_rows(rows, MAX_ROWS);
    for (int r = 0; r < n; ++r) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = MAX_ROWS
        for (int c = 0; c < K / LANES; ++c) {
#pragma HLS PIPELINE II = 1
            for (int l = 0; l < LANES; ++l) {
#pragma HLS UNROLL
                const int k = c * LANES + l;
                const float s = scales[r * S_ROW + k / SG];
                y[r * K + k] = decode_lut(codes[r * K + k].to_uint(), decode_table) * s;
            }
        }
    }
}

// ------------------------------------------------------------------ FPQVAR

// Group-wise Hadamard transform of `rows` rows of DIM channels (exactly as
// hadamard): with HAS_SIGNS every channel is first multiplied by signs[i]
// (+-1), then each block of BLOCK channels goes through fwht_f32<BLOCK>.
//
//   DIM       channels per row;  BLOCK  Hadamard block (power of two, divides DIM)
//   HAS_SIGNS whether `signs` is applied (false: folded into AdaLN, not read)
//   MAX_ROWS  largest `rows`;  LANES  row buffer partition (parallel butterflies)
//   x         [rows, DIM] in;  signs  [DIM] +-1;  y  [rows, DIM] out
template <int DIM, int BLOCK, bool HAS_SIGNS, int MAX_ROWS, int LANES>
void hadamard_rows(int rows, const float* x, const float* signs, float* y) {
    static_assert(DIM % BLOCK == 0, "BLOCK must divide DIM");
    float sign_rom[DIM];
    float row[DIM];
#pragma HLS ARRAY_PARTITION variable = row type = cyclic factor = LANES
    if (HAS_SIGNS) {
        for (int i = 0; i < DIM; ++i) {
#pragma HLS PIPELINE II = 1
            sign_rom[i] = signs[i];
        }
    }
    const int n = tiled_detail::clamp_rows(rows, MAX_ROWS);
    for (int r = 0; r < n; ++r) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = MAX_ROWS
        for (int i = 0; i < DIM; ++i) {
#pragma HLS PIPELINE II = 1
            row[i] = x[r * DIM + i];
        }
        if (HAS_SIGNS) {
            ght_f32<DIM, BLOCK>(row, sign_rom);
        } else {
            for (int b = 0; b < DIM; b += BLOCK) fwht_f32<BLOCK>(row + b);
        }
        for (int i = 0; i < DIM; ++i) {
#pragma HLS PIPELINE II = 1
            y[r * DIM + i] = row[i];
        }
    }
}

// Dual-format quantization of `rows` rows of K floats in groups of G along
// the row (fpqc::dual_scales<G>, then fpqc::dual_quantize<G> of each group).
//
//   NBITS / PBITS  bits of the negative-side / positive-side codes
//   K         elements per row;  G  elements per scale pair (divides K; K: per token)
//   MAX_ROWS  largest `rows`;  LANES  codes stored per cycle, divides G
//   x         [rows, K] in;  neg_codes / pos_codes  [rows, K] code planes out
//   s_neg / s_pos  [rows, K / G] scales out;  q  the DualQuantizer (fpqc_tables.h)
template <int NBITS, int PBITS, int K, int G, int MAX_ROWS, int LANES>
void dual_quantize_rows(int rows, const float* x, ap_uint<NBITS>* neg_codes,
                        ap_uint<PBITS>* pos_codes, float* s_neg, float* s_pos,
                        const DualQuantizer& q) {
    static_assert(G > 0 && K % G == 0, "G must divide K");
    static_assert(LANES > 0 && G % LANES == 0, "LANES must divide G");
    unsigned char neg[G];
    unsigned char pos[G];
#pragma HLS ARRAY_PARTITION variable = neg type = cyclic factor = LANES
#pragma HLS ARRAY_PARTITION variable = pos type = cyclic factor = LANES
    const int n_groups = tiled_detail::clamp_rows(rows, MAX_ROWS) * (K / G);
    for (int g = 0; g < n_groups; ++g) {
#pragma HLS LOOP_TRIPCOUNT min = K / G max = MAX_ROWS * (K / G)
        float sn, sp;
        dual_scales<G>(x + g * G, q, &sn, &sp);
        s_neg[g] = sn;
        s_pos[g] = sp;
        dual_quantize<G>(x + g * G, sn, sp, q, neg, pos);
        for (int c = 0; c < G / LANES; ++c) {
#pragma HLS PIPELINE II = 1
            for (int l = 0; l < LANES; ++l) {
#pragma HLS UNROLL
                const int k = c * LANES + l;
                neg_codes[g * G + k] = ap_uint<NBITS>(neg[k]);
                pos_codes[g * G + k] = ap_uint<PBITS>(pos[k]);
            }
        }
    }
}

// ------------------------------------------------------------ element-wise

// y = gelu_tanh_f32(x) for `rows` rows of K floats.
//   K  elements per row;  MAX_ROWS  largest `rows`;  LANES  elements per cycle, divides K
template <int K, int MAX_ROWS, int LANES>
void gelu_rows(int rows, const float* x, float* y) {
    static_assert(LANES > 0 && K % LANES == 0, "LANES must divide K");
    const int n_chunks = tiled_detail::clamp_rows(rows, MAX_ROWS) * (K / LANES);
    for (int c = 0; c < n_chunks; ++c) {
#pragma HLS LOOP_TRIPCOUNT min = K / LANES max = MAX_ROWS * (K / LANES)
#pragma HLS PIPELINE II = 1
        for (int l = 0; l < LANES; ++l) {
#pragma HLS UNROLL
            y[c * LANES + l] = gelu_tanh_f32(x[c * LANES + l]);
        }
    }
}

// ------------------------------------------------------------ tiled linear

// The exact integer group sums of PES outputs (one group of one row).
template <int ACC_BITS, int PES>
struct TileSums {
    ap_int<ACC_BITS> p[PES];
};

// The negative-plane and positive-plane group sums of PES outputs.
template <int NACC_BITS, int PACC_BITS, int PES>
struct DualTileSums {
    ap_int<NACC_BITS> n[PES];
    ap_int<PACC_BITS> p[PES];
};

// PES finished outputs of one row.
template <int PES>
struct TileOutputs {
    float v[PES];
};

namespace tiled_detail {

// Process 1: every port word of the weight, once, in order (one DDR burst).
template <int WORD_BITS, int N_WORDS>
void read_weight_words(const ap_uint<WORD_BITS>* w, hls::stream<ap_uint<WORD_BITS> >& words) {
    for (int i = 0; i < N_WORDS; ++i) {
#pragma HLS PIPELINE II = 1
        words.write(w[i]);
    }
}

// Process 2: the gearbox from port words (PER_WORD codes each) to vectors of
// LANES consecutive codes of the flattened [O, K] weight, in order.  Since
// tiles are consecutive output rows, flat order is tile order and the
// vectors of tile t are vectors [t * N_TILE * K / LANES, ...).  Reads exactly
// N_WORDS words (a word is read when fewer than LANES codes are held).
template <int WBITS, int WORD_BITS, int LANES, int N_VECTORS>
void unpack_weight_codes(hls::stream<ap_uint<WORD_BITS> >& words,
                         hls::stream<ap_uint<LANES * WBITS> >& vectors) {
    const int PER_U32 = 32 / WBITS;
    const int PER_WORD = PER_U32 * (WORD_BITS / 32);
    const int READS = (LANES + PER_WORD - 1) / PER_WORD;  // words per vector at most
    const int HOLD = LANES + PER_WORD - 1;                 // codes held at most
    ap_uint<WBITS> held[HOLD];
#pragma HLS ARRAY_PARTITION variable = held complete
    for (int j = 0; j < HOLD; ++j) {
#pragma HLS UNROLL
        held[j] = 0;
    }
    int have = 0;
    for (int v = 0; v < N_VECTORS; ++v) {
#pragma HLS PIPELINE II = READS
        for (int rd = 0; rd < READS; ++rd) {
#pragma HLS UNROLL
            if (have < LANES) {
                const ap_uint<WORD_BITS> word = words.read();
                for (int j = 0; j < PER_WORD; ++j) {
#pragma HLS UNROLL
                    const int lo = (j / PER_U32) * 32 + (j % PER_U32) * WBITS;
                    held[have + j] = word.range(lo + WBITS - 1, lo);
                }
                have += PER_WORD;
            }
        }
        ap_uint<LANES * WBITS> vector;
        for (int l = 0; l < LANES; ++l) {
#pragma HLS UNROLL
            vector.range(l * WBITS + WBITS - 1, l * WBITS) = held[l];
        }
        for (int j = 0; j + LANES < HOLD; ++j) {
#pragma HLS UNROLL
            held[j] = held[j + LANES];
        }
        have -= LANES;
        vectors.write(vector);
    }
}

// Process 3: per tile, its N_TILE x (K / WG) weight scales
// ws[o * WS_ROW + j] (o ascending, then j), then its N_TILE biases.
template <int K, int O, int WS_ROW, int WG, bool HAS_BIAS, int N_TILE>
void load_tile_params(const float* ws, const float* bias, hls::stream<float>& params) {
    const int WS_COLS = K / WG;
    for (int t = 0; t < O / N_TILE; ++t) {
        for (int i = 0; i < N_TILE * WS_COLS; ++i) {
#pragma HLS PIPELINE II = 1
            params.write(ws[(t * N_TILE + i / WS_COLS) * WS_ROW + i % WS_COLS]);
        }
        if (HAS_BIAS) {
            for (int i = 0; i < N_TILE; ++i) {
#pragma HLS PIPELINE II = 1
                params.write(bias[t * N_TILE + i]);
            }
        }
    }
}

// The MAC stage's weight tiles: two buffers wbuf[2][N_TILE][K / LANES] of
// code vectors (ping-pong).  Tile t is computed from wbuf[t % 2] while the
// vectors of tile t + 1 move from the FIFO into wbuf[(t + 1) % 2], one per
// compute cycle (move_vector); what is left moves after the tile's rows
// (move_rest).  `moved` counts the vectors of the tile being moved.
template <int WBITS, int K, int N_TILE, int LANES>
void move_vector(hls::stream<ap_uint<LANES * WBITS> >& vectors,
                 ap_uint<LANES * WBITS> wbuf[2][N_TILE][K / LANES], int side, int& moved,
                 int total) {
#pragma HLS INLINE
    if (moved < total) {
        wbuf[side][moved / (K / LANES)][moved % (K / LANES)] = vectors.read();
        ++moved;
    }
}

template <int WBITS, int K, int N_TILE, int LANES>
void move_rest(hls::stream<ap_uint<LANES * WBITS> >& vectors,
               ap_uint<LANES * WBITS> wbuf[2][N_TILE][K / LANES], int side, int& moved,
               int total) {
    for (int i = moved; i < total; ++i) {
#pragma HLS LOOP_TRIPCOUNT min = 0 max = N_TILE * (K / LANES)
#pragma HLS PIPELINE II = 1
        wbuf[side][i / (K / LANES)][i % (K / LANES)] = vectors.read();
    }
    if (moved < total) moved = total;
}

// Fill the combine stage's weight scales [N_TILE][K / WG] and biases of a tile.
template <int K, int WG, bool HAS_BIAS, int N_TILE>
void fill_params(hls::stream<float>& params, float sbuf[N_TILE][K / WG], float bbuf[N_TILE]) {
    const int WS_COLS = K / WG;
    for (int i = 0; i < N_TILE * WS_COLS; ++i) {
#pragma HLS PIPELINE II = 1
        sbuf[i / WS_COLS][i % WS_COLS] = params.read();
    }
    if (HAS_BIAS) {
        for (int i = 0; i < N_TILE; ++i) {
#pragma HLS PIPELINE II = 1
            bbuf[i] = params.read();
        }
    }
}

// The exact sum of LANES products of one activation vector and one weight
// vector: PROD[(x_code << WBITS) | w_code] (the LUT multiplier's ROM).
template <int ACC_BITS, int WBITS, int LANES, int XBITS, class PROD_T>
ap_int<ACC_BITS> lane_products(const ap_uint<XBITS>* x, const ap_uint<LANES * WBITS>& wv,
                               const PROD_T* ptable) {
    ap_int<ACC_BITS> part = 0;
    for (int l = 0; l < LANES; ++l) {
#pragma HLS UNROLL
        const unsigned xi = x[l].to_uint();
        const unsigned wi = wv.range(l * WBITS + WBITS - 1, l * WBITS).to_uint();
        part += ptable[(xi << WBITS) | wi];
    }
    return part;
}

// Process 4 (single format): per tile, for every row r < rows, group g
// (ascending), block of PES outputs: the PES exact group sums, LANES products
// per PE and cycle, from wbuf[t % 2] (tile t + 1 moves into the other half
// meanwhile).  Integer sums are exact, so the lane order is free.  Output
// order: (tile, r, g, output block).
template <int MAX_ROWS, int K, int O, int G, int WBITS, int ACC_BITS, int N_TILE, int PES,
          int LANES, int XBITS, class PROD_T>
void mac_tiles(int rows, const ap_uint<XBITS>* x, hls::stream<ap_uint<LANES * WBITS> >& vectors,
               const PROD_T* ptable, hls::stream<TileSums<ACC_BITS, PES> >& sums) {
    const int n = clamp_rows(rows, MAX_ROWS);
    const int TILE_VECTORS = N_TILE * (K / LANES);
    ap_uint<LANES * WBITS> wbuf[2][N_TILE][K / LANES];
#pragma HLS ARRAY_PARTITION variable = wbuf complete dim = 1
#pragma HLS ARRAY_PARTITION variable = wbuf type = cyclic factor = PES dim = 2
    int moved = 0;
    move_rest<WBITS, K, N_TILE, LANES>(vectors, wbuf, 0, moved, TILE_VECTORS);
    for (int t = 0; t < O / N_TILE; ++t) {
        const int cur = t % 2;
        const int next_total = t + 1 < O / N_TILE ? TILE_VECTORS : 0;
        moved = 0;
        for (int r = 0; r < n; ++r) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = MAX_ROWS
            for (int g = 0; g < K / G; ++g) {
                for (int ob = 0; ob < N_TILE / PES; ++ob) {
                    ap_int<ACC_BITS> part[PES];
#pragma HLS ARRAY_PARTITION variable = part complete
                    for (int p = 0; p < PES; ++p) {
#pragma HLS UNROLL
                        part[p] = 0;
                    }
                    for (int c = 0; c < G / LANES; ++c) {
#pragma HLS PIPELINE II = 1
#pragma HLS DEPENDENCE variable = wbuf inter false
#pragma HLS DEPENDENCE variable = wbuf intra false
                        // the halves differ: the move never touches what is read
                        move_vector<WBITS, K, N_TILE, LANES>(vectors, wbuf, 1 - cur, moved,
                                                             next_total);
                        const int kv = g * (G / LANES) + c;
                        for (int p = 0; p < PES; ++p) {
#pragma HLS UNROLL
                            part[p] += lane_products<ACC_BITS, WBITS, LANES>(
                                x + r * K + kv * LANES, wbuf[cur][ob * PES + p][kv], ptable);
                        }
                    }
                    TileSums<ACC_BITS, PES> s;
                    for (int p = 0; p < PES; ++p) {
#pragma HLS UNROLL
                        s.p[p] = part[p];
                    }
                    sums.write(s);
                }
            }
        }
        move_rest<WBITS, K, N_TILE, LANES>(vectors, wbuf, 1 - cur, moved, next_total);
    }
}

// Process 4 (dual format): as mac_tiles, two code planes against the same
// weight vector (PES x LANES pairs of LUT multipliers).
template <int MAX_ROWS, int K, int O, int G, int WBITS, int NACC_BITS, int PACC_BITS, int N_TILE,
          int PES, int LANES, int NBITS, int PBITS, class NPROD_T, class PPROD_T>
void dual_mac_tiles(int rows, const ap_uint<NBITS>* xn, const ap_uint<PBITS>* xp,
                    hls::stream<ap_uint<LANES * WBITS> >& vectors, const NPROD_T* nprod,
                    const PPROD_T* pprod,
                    hls::stream<DualTileSums<NACC_BITS, PACC_BITS, PES> >& sums) {
    const int n = clamp_rows(rows, MAX_ROWS);
    const int TILE_VECTORS = N_TILE * (K / LANES);
    ap_uint<LANES * WBITS> wbuf[2][N_TILE][K / LANES];
#pragma HLS ARRAY_PARTITION variable = wbuf complete dim = 1
#pragma HLS ARRAY_PARTITION variable = wbuf type = cyclic factor = PES dim = 2
    int moved = 0;
    move_rest<WBITS, K, N_TILE, LANES>(vectors, wbuf, 0, moved, TILE_VECTORS);
    for (int t = 0; t < O / N_TILE; ++t) {
        const int cur = t % 2;
        const int next_total = t + 1 < O / N_TILE ? TILE_VECTORS : 0;
        moved = 0;
        for (int r = 0; r < n; ++r) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = MAX_ROWS
            for (int g = 0; g < K / G; ++g) {
                for (int ob = 0; ob < N_TILE / PES; ++ob) {
                    ap_int<NACC_BITS> part_n[PES];
                    ap_int<PACC_BITS> part_p[PES];
#pragma HLS ARRAY_PARTITION variable = part_n complete
#pragma HLS ARRAY_PARTITION variable = part_p complete
                    for (int p = 0; p < PES; ++p) {
#pragma HLS UNROLL
                        part_n[p] = 0;
                        part_p[p] = 0;
                    }
                    for (int c = 0; c < G / LANES; ++c) {
#pragma HLS PIPELINE II = 1
#pragma HLS DEPENDENCE variable = wbuf inter false
#pragma HLS DEPENDENCE variable = wbuf intra false
                        // the halves differ: the move never touches what is read
                        move_vector<WBITS, K, N_TILE, LANES>(vectors, wbuf, 1 - cur, moved,
                                                             next_total);
                        const int kv = g * (G / LANES) + c;
                        for (int p = 0; p < PES; ++p) {
#pragma HLS UNROLL
                            const ap_uint<LANES * WBITS> wv = wbuf[cur][ob * PES + p][kv];
                            part_n[p] += lane_products<NACC_BITS, WBITS, LANES>(
                                xn + r * K + kv * LANES, wv, nprod);
                            part_p[p] += lane_products<PACC_BITS, WBITS, LANES>(
                                xp + r * K + kv * LANES, wv, pprod);
                        }
                    }
                    DualTileSums<NACC_BITS, PACC_BITS, PES> s;
                    for (int p = 0; p < PES; ++p) {
#pragma HLS UNROLL
                        s.n[p] = part_n[p];
                        s.p[p] = part_p[p];
                    }
                    sums.write(s);
                }
            }
        }
        move_rest<WBITS, K, N_TILE, LANES>(vectors, wbuf, 1 - cur, moved, next_total);
    }
}

// Process 5 (single format): per tile, its scales and biases; then for every
// row: acc from +0.0f, groups ascending,
//   p = (float)P * unit;  t = xs * ws;  acc = acc + t * p
// (the order of fpqc.numerics.products), then acc + bias.  The output
// blocks of a group are interleaved: N_TILE / PES independent accumulator
// chains, so that the pipelined block loop does not wait on the fp32 adder
// when N_TILE / PES covers its latency; no chain is reordered.
template <int MAX_ROWS, int K, int O, int G, int ACC_BITS, int XS_ROW, int XG, int WG,
          bool HAS_BIAS, int N_TILE, int PES>
void combine_tiles(int rows, const float* xs, hls::stream<float>& params,
                   hls::stream<TileSums<ACC_BITS, PES> >& sums, float unit,
                   hls::stream<TileOutputs<PES> >& outputs) {
    const int n = clamp_rows(rows, MAX_ROWS);
    float sbuf[N_TILE][K / WG];
    float bbuf[N_TILE];
    float acc[N_TILE];
#pragma HLS ARRAY_PARTITION variable = sbuf type = cyclic factor = PES dim = 1
#pragma HLS ARRAY_PARTITION variable = bbuf type = cyclic factor = PES
#pragma HLS ARRAY_PARTITION variable = acc type = cyclic factor = PES
    for (int t = 0; t < O / N_TILE; ++t) {
        fill_params<K, WG, HAS_BIAS, N_TILE>(params, sbuf, bbuf);
        for (int r = 0; r < n; ++r) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = MAX_ROWS
            for (int g = 0; g < K / G; ++g) {
                const float xsv = xs[r * XS_ROW + (g * G) / XG];
                for (int ob = 0; ob < N_TILE / PES; ++ob) {
#pragma HLS PIPELINE II = 1
                    const TileSums<ACC_BITS, PES> s = sums.read();
                    TileOutputs<PES> out;
                    for (int p = 0; p < PES; ++p) {
#pragma HLS UNROLL
                        const int o = ob * PES + p;
                        const float pf = (float)s.p[p].to_int64() * unit;
                        const float ts = xsv * sbuf[o][(g * G) / WG];
                        const float prev = g == 0 ? 0.0f : acc[o];
                        const float a = prev + ts * pf;
                        acc[o] = a;
                        out.v[p] = HAS_BIAS ? a + bbuf[o] : a;
                    }
                    if (g == K / G - 1) outputs.write(out);
                }
            }
        }
    }
}

// Process 5 (dual format): as combine_tiles with fpqc::dual_combine per group
// (the negative side's term first, then the positive side's).
template <int MAX_ROWS, int K, int O, int G, int NACC_BITS, int PACC_BITS, int XS_ROW, int XG,
          int WG, bool HAS_BIAS, int N_TILE, int PES>
void dual_combine_tiles(int rows, const float* sn, const float* sp, hls::stream<float>& params,
                        hls::stream<DualTileSums<NACC_BITS, PACC_BITS, PES> >& sums,
                        float unit_n, float unit_p, hls::stream<TileOutputs<PES> >& outputs) {
    const int n = clamp_rows(rows, MAX_ROWS);
    float sbuf[N_TILE][K / WG];
    float bbuf[N_TILE];
    float acc[N_TILE];
#pragma HLS ARRAY_PARTITION variable = sbuf type = cyclic factor = PES dim = 1
#pragma HLS ARRAY_PARTITION variable = bbuf type = cyclic factor = PES
#pragma HLS ARRAY_PARTITION variable = acc type = cyclic factor = PES
    for (int t = 0; t < O / N_TILE; ++t) {
        fill_params<K, WG, HAS_BIAS, N_TILE>(params, sbuf, bbuf);
        for (int r = 0; r < n; ++r) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = MAX_ROWS
            for (int g = 0; g < K / G; ++g) {
                const int xi = r * XS_ROW + (g * G) / XG;
                const float snv = sn[xi];
                const float spv = sp[xi];
                for (int ob = 0; ob < N_TILE / PES; ++ob) {
#pragma HLS PIPELINE II = 1
                    const DualTileSums<NACC_BITS, PACC_BITS, PES> s = sums.read();
                    TileOutputs<PES> out;
                    for (int p = 0; p < PES; ++p) {
#pragma HLS UNROLL
                        const int o = ob * PES + p;
                        const float prev = g == 0 ? 0.0f : acc[o];
                        const float a = dual_combine(prev, s.n[p].to_int64(), s.p[p].to_int64(),
                                                     snv, spv, sbuf[o][(g * G) / WG], unit_n,
                                                     unit_p);
                        acc[o] = a;
                        out.v[p] = HAS_BIAS ? a + bbuf[o] : a;
                    }
                    if (g == K / G - 1) outputs.write(out);
                }
            }
        }
    }
}

// Process 6: y[r, t * N_TILE + o] for each tile t, row r, o < N_TILE (one
// float a cycle, consecutive addresses within a row).
template <int MAX_ROWS, int O, int N_TILE, int PES>
void write_outputs(int rows, hls::stream<TileOutputs<PES> >& outputs, float* y) {
    const int n = clamp_rows(rows, MAX_ROWS);
    for (int t = 0; t < O / N_TILE; ++t) {
        for (int r = 0; r < n; ++r) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = MAX_ROWS
            TileOutputs<PES> out = TileOutputs<PES>();
            for (int i = 0; i < N_TILE; ++i) {
#pragma HLS PIPELINE II = 1
                if (i % PES == 0) out = outputs.read();
                y[r * O + t * N_TILE + i] = out.v[i % PES];
            }
        }
    }
}

}  // namespace tiled_detail

// y[r, o] = sum_k x[r, k] * w[o, k] (+ bias[o]) for r < rows, on quantized
// operands, weight-stationary: each weight tile of N_TILE output channels is
// loaded from DDR once and used for every row.  Results are bit-identical to
// fpqc.numerics.qlinear (see the top of this file).
//
// Template parameters (the hardware plan and the layer):
//   MAX_ROWS  largest `rows` a launch may pass (buffers, tripcounts)
//   K         reduction length (input channels)
//   O         output channels
//   G         exactly accumulated group along K: the finer of XG and WG;
//             divides K, XG and WG
//   WBITS     bits per weight code
//   ACC_BITS  signed accumulator width for a group's exact sum
//             (fpqc.numerics.accumulator_bits(x_fmt, w_fmt, G))
//   XS_ROW, XG  activation scale of (r, g) at xs[r * XS_ROW + (g * G) / XG]
//   WS_ROW, WG  weight scale of (o, g) at ws[o * WS_ROW + (g * G) / WG]
//   HAS_BIAS  add bias[o] (else `bias` is not read; pass 0)
//   N_TILE    output channels per weight tile (divides O); the on-chip tile
//             buffer holds N_TILE x K codes, the weight FIFO one tile
//   PES       output channels computed in parallel (divides N_TILE)
//   LANES     LUT multipliers per PE: products per cycle along K (divides G)
//   WORD_BITS width of the weight port in bits (a multiple of 32, e.g. 512)
//   XBITS, PROD_T  deduced: activation code bits, product ROM entry type
//
// Ports / arguments:
//   rows      runtime number of rows (clamped to [0, MAX_ROWS])
//   x         on-chip activation codes [rows, K] (partitioned cyclic LANES)
//   xs        activation scales (layout above)
//   w         weight codes, weight_port_words(O * K, WBITS, WORD_BITS) port
//             words in weights.bin's byte layout (top of this file)
//   ws        weight scales [O, K / WG] (or [1, 1] per tensor)
//   bias      [O] or 0
//   ptable    product ROM PROD[(x_code << WBITS) | w_code] (fpqc_tables.h)
//   unit      its unit (fpqc_tables.h)
//   y         [rows, O] floats out (row stride O); rows >= `rows` untouched
template <int MAX_ROWS, int K, int O, int G, int WBITS, int ACC_BITS, int XS_ROW, int XG,
          int WS_ROW, int WG, bool HAS_BIAS, int N_TILE, int PES, int LANES, int WORD_BITS,
          int XBITS, class PROD_T>
void tiled_qlinear(int rows, const ap_uint<XBITS>* x, const float* xs,
                   const ap_uint<WORD_BITS>* w, const float* ws, const float* bias,
                   const PROD_T* ptable, float unit, float* y) {
    static_assert(G > 0 && K % G == 0 && XG % G == 0 && WG % G == 0, "G must divide K, XG, WG");
    static_assert(K % XG == 0 && K % WG == 0, "XG and WG must divide K");
    static_assert(N_TILE > 0 && O % N_TILE == 0, "N_TILE must divide O");
    static_assert(PES > 0 && N_TILE % PES == 0, "PES must divide N_TILE");
    static_assert(LANES > 0 && G % LANES == 0, "LANES must divide G");
    static_assert(WORD_BITS >= 32 && WORD_BITS % 32 == 0, "WORD_BITS must be a multiple of 32");
    static_assert(WBITS >= 1 && WBITS <= 8, "weight codes of 1 to 8 bits");
    // FIFO depths: one weight tile and one tile's parameters ahead (double
    // buffering), two rows of output blocks.
    enum {
        N_WORDS = weight_port_words(O * K, WBITS, WORD_BITS),
        TILE_VECTORS = N_TILE * K / LANES,
        PARAMS = N_TILE * (K / WG) + (HAS_BIAS ? N_TILE : 0),
        BLOCKS = 2 * (N_TILE / PES)
    };
#pragma HLS DATAFLOW
    hls::stream<ap_uint<WORD_BITS> > words("fpqc_weight_words");
    hls::stream<ap_uint<LANES * WBITS> > vectors("fpqc_weight_vectors");
    hls::stream<float> params("fpqc_tile_params");
    hls::stream<TileSums<ACC_BITS, PES> > sums("fpqc_group_sums");
    hls::stream<TileOutputs<PES> > outputs("fpqc_outputs");
#pragma HLS STREAM variable = words depth = 64
#pragma HLS STREAM variable = vectors depth = TILE_VECTORS
#pragma HLS STREAM variable = params depth = PARAMS
#pragma HLS STREAM variable = sums depth = BLOCKS
#pragma HLS STREAM variable = outputs depth = BLOCKS
    tiled_detail::read_weight_words<WORD_BITS, N_WORDS>(w, words);
    tiled_detail::unpack_weight_codes<WBITS, WORD_BITS, LANES, O * K / LANES>(words, vectors);
    tiled_detail::load_tile_params<K, O, WS_ROW, WG, HAS_BIAS, N_TILE>(ws, bias, params);
    tiled_detail::mac_tiles<MAX_ROWS, K, O, G, WBITS, ACC_BITS, N_TILE, PES, LANES>(
        rows, x, vectors, ptable, sums);
    tiled_detail::combine_tiles<MAX_ROWS, K, O, G, ACC_BITS, XS_ROW, XG, WG, HAS_BIAS, N_TILE,
                                PES>(rows, xs, params, sums, unit, outputs);
    tiled_detail::write_outputs<MAX_ROWS, O, N_TILE, PES>(rows, outputs, y);
}

// Dual-format x (two code planes, a negative-side and a positive-side scale
// per row and group): y[r, o] = sum_k x[r, k] * w[o, k] (+ bias[o]), per
// group the negative plane's term first (fpqc::dual_combine), groups
// ascending; bit-identical to fpqc.numerics.dual_format.dual_qlinear.
//
// Template parameters: as tiled_qlinear, with
//   NACC_BITS accumulator width of the negative plane's group sums
//             (accumulator_bits(neg_fmt, w_fmt, G))
//   PACC_BITS the same for the positive plane (accumulator_bits(pos_fmt, w_fmt, G))
//   NBITS, PBITS, NPROD_T, PPROD_T  deduced: code bits and ROM types of the planes
//
// Ports / arguments: as tiled_qlinear, with
//   xn, xp    on-chip negative-plane / positive-plane codes [rows, K]
//   sn, sp    their scales (layout XS_ROW, XG)
//   nprod, unit_n  product ROM and unit of the negative format x weight format
//   pprod, unit_p  the same for the positive format
template <int MAX_ROWS, int K, int O, int G, int WBITS, int NACC_BITS, int PACC_BITS,
          int XS_ROW, int XG, int WS_ROW, int WG, bool HAS_BIAS, int N_TILE, int PES, int LANES,
          int WORD_BITS, int NBITS, int PBITS, class NPROD_T, class PPROD_T>
void tiled_dual_qlinear(int rows, const ap_uint<NBITS>* xn, const ap_uint<PBITS>* xp,
                        const float* sn, const float* sp, const ap_uint<WORD_BITS>* w,
                        const float* ws, const float* bias, const NPROD_T* nprod, float unit_n,
                        const PPROD_T* pprod, float unit_p, float* y) {
    static_assert(G > 0 && K % G == 0 && XG % G == 0 && WG % G == 0, "G must divide K, XG, WG");
    static_assert(K % XG == 0 && K % WG == 0, "XG and WG must divide K");
    static_assert(N_TILE > 0 && O % N_TILE == 0, "N_TILE must divide O");
    static_assert(PES > 0 && N_TILE % PES == 0, "PES must divide N_TILE");
    static_assert(LANES > 0 && G % LANES == 0, "LANES must divide G");
    static_assert(WORD_BITS >= 32 && WORD_BITS % 32 == 0, "WORD_BITS must be a multiple of 32");
    static_assert(WBITS >= 1 && WBITS <= 8, "weight codes of 1 to 8 bits");
    // FIFO depths: one weight tile and one tile's parameters ahead (double
    // buffering), two rows of output blocks.
    enum {
        N_WORDS = weight_port_words(O * K, WBITS, WORD_BITS),
        TILE_VECTORS = N_TILE * K / LANES,
        PARAMS = N_TILE * (K / WG) + (HAS_BIAS ? N_TILE : 0),
        BLOCKS = 2 * (N_TILE / PES)
    };
#pragma HLS DATAFLOW
    hls::stream<ap_uint<WORD_BITS> > words("fpqc_weight_words");
    hls::stream<ap_uint<LANES * WBITS> > vectors("fpqc_weight_vectors");
    hls::stream<float> params("fpqc_tile_params");
    hls::stream<DualTileSums<NACC_BITS, PACC_BITS, PES> > sums("fpqc_group_sums");
    hls::stream<TileOutputs<PES> > outputs("fpqc_outputs");
#pragma HLS STREAM variable = words depth = 64
#pragma HLS STREAM variable = vectors depth = TILE_VECTORS
#pragma HLS STREAM variable = params depth = PARAMS
#pragma HLS STREAM variable = sums depth = BLOCKS
#pragma HLS STREAM variable = outputs depth = BLOCKS
    tiled_detail::read_weight_words<WORD_BITS, N_WORDS>(w, words);
    tiled_detail::unpack_weight_codes<WBITS, WORD_BITS, LANES, O * K / LANES>(words, vectors);
    tiled_detail::load_tile_params<K, O, WS_ROW, WG, HAS_BIAS, N_TILE>(ws, bias, params);
    tiled_detail::dual_mac_tiles<MAX_ROWS, K, O, G, WBITS, NACC_BITS, PACC_BITS, N_TILE, PES,
                                 LANES>(rows, xn, xp, vectors, nprod, pprod, sums);
    tiled_detail::dual_combine_tiles<MAX_ROWS, K, O, G, NACC_BITS, PACC_BITS, XS_ROW, XG, WG,
                                     HAS_BIAS, N_TILE, PES>(rows, sn, sp, params, sums, unit_n,
                                                            unit_p, outputs);
    tiled_detail::write_outputs<MAX_ROWS, O, N_TILE, PES>(rows, outputs, y);
}

}  // namespace fpqc

#endif  // FPQC_TILED_H
