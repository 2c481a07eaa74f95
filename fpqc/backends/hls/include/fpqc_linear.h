// fpqc_linear.h -- the PE array: quantized linear layers as DATAFLOW stages,
// weight-stationary, reading every weight from DDR once per row tile.
//
// A linear layer y[r, o] = sum_k x[r, k] * w[o, k] (+ bias[o]) on codes is
// four processes of one DATAFLOW region (the plan's load stage, and the
// layer's lut_multiply and combine stages), connected by the plan's streams:
//
//   load_weight_words   DDR burst: every port word of the weight codes, once
//   load_weight_params  DDR: each tile's weight scales (load_biases: its biases)
//   linear_mul          for every row i of the tile, block of PES outputs,
//   (dual_linear_mul)   group g (ascending) and LANES-wide step along it:
//                       each PE's LANES LUT products (product ROM), their
//                       sum (the adder tree) and the exact integer sum of the
//                       group so far (accumulators in registers, the plan's
//                       <layer>.acc): a beat of PES group sums per group
//   linear_combine      fp32 combination of the groups in ascending order
//   (dual_linear_combine) (running totals in registers, <layer>.total), then
//                       the bias: PES outputs, written a column tile (N_TILE
//                       outputs of every row) at a time
//
// The weights are walked in tiles of N_TILE output channels (ascending).  The
// tile buffers are the plan's pe.w (codes), pe.ws (scales) and pe.b (biases),
// two copies each, shared by the kernel's layers: the multiply stage computes
// tile t from one copy while it moves tile t + 1's codes, one LANES-wide
// vector per compute cycle, from the weight stream into the other (the
// combine stage does the same with the scales and biases), so the next tile
// loads while this one computes.  Tiling over output channels never changes
// an output's summation order: the results are bit-identical to
// fpqc.numerics.qlinear / dual_qlinear.
//
// The activation codes and their scales are whole buffers of the plan, read
// from row r0 + i when they hold all rows of the launch, from row i when they
// hold the tile (fpqc_dataflow.h).  Scale layouts (as fpqc_hls.h): the
// activation scale of (row, group g) is xs[row][(g * G) / XG] (xs[0][0] per
// tensor: XS_ROW = 0), the weight scale of (output o, group g) is
// ws[o * WS_ROW + (g * G) / WG] in DDR; G, the exactly accumulated group, is
// the finer of XG and WG.
//
// Weight port.  The codes of a weight [O, K] arrive on a `const
// ap_uint<WORD_BITS>*` port whose bytes are exactly weights.bin's
// (fpqc.backends.hls.codes.pack_codes): packed FLAT, code i of the flattened
// [O, K] at bits [(i % P) * WBITS, ...) of little-endian uint32 number i / P,
// P = floor(32 / WBITS), a port word being WORD_BITS / 32 consecutive uint32
// (128 fp4 or 80 fp6 codes per 512-bit word); rows are not padded.
//
// Synthesizable style: sizes are template parameters, loops are bounded, no
// dynamic memory, no recursion, no libm, no array of a stage's own (beats of
// a stream are registers).  Compile with -ffp-contract=off.  C++14.
#ifndef FPQC_LINEAR_H
#define FPQC_LINEAR_H

#include <stdint.h>

#include "ap_int.h"
#include "fpqc_dataflow.h"
#include "fpqc_fpqvar.h"
#include "hls_stream.h"

namespace fpqc {

// Number of WORD_BITS-bit port words that hold n_codes codes of wbits bits.
constexpr int weight_port_words(int n_codes, int wbits, int word_bits) {
    return (n_codes + (32 / wbits) * (word_bits / 32) - 1) / ((32 / wbits) * (word_bits / 32));
}

// Host / C-simulation helper: the n_u32 little-endian uint32 of weights.bin as
// WORD_BITS-bit port words, uint32 j of a word in bits [32 j, 32 j + 32);
// missing uint32 of the last word are 0.
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

// "No bias": what a layer without one passes for the bias stream and buffer.
struct NoBias {};
static const NoBias no_bias = NoBias();

template <class B>
struct HasBias {
    static const bool value = true;
};
template <>
struct HasBias<const NoBias> {
    static const bool value = false;
};

namespace linear_detail {

// Moves the vectors of one weight tile (N_TILE x K codes, row-major) from the
// word stream into one copy of the tile buffer, one vector per call of step().
// A port word is split into its WORD_BITS / 32 uint32 numbers once, when it is
// read (registers: the array is partitioned), and each code is cut from its
// uint32: a code's bits are the same, and the C simulation does one wide
// part-select per uint32 instead of one per code.
template <int WBITS, int WORD_BITS, int LANES, int K>
struct WeightMover {
    static const int PER_U32 = 32 / WBITS;
    static const int U32S = WORD_BITS / 32;
    static const int PER_WORD = PER_U32 * U32S;
    ap_uint<32> word[U32S];  // the port word being unpacked, as its uint32 numbers
    int pos;                 // codes of `word` used; PER_WORD: none held
    int moved;               // vectors of the tile moved
    int total;               // vectors of the tile (0: nothing to move)
    WeightMover() : pos(PER_WORD), moved(0), total(0) {
#pragma HLS ARRAY_PARTITION variable = word complete
        for (int i = 0; i < U32S; ++i) word[i] = 0;
    }

    // 64 bits at a time from the low end (wires in hardware): in C simulation a
    // shift of a wide ap_uint costs tens of nanoseconds, and range() does two
    // and a mask, so this takes U32S / 2 - 1 shifts where range() took 2 * U32S.
    static void split(const ap_uint<WORD_BITS>& w, ap_uint<32> (&u)[U32S]) {
#pragma HLS INLINE
        ap_uint<WORD_BITS> rest = w;
        for (int i = 0; i < U32S; i += 2) {
#pragma HLS UNROLL
            const unsigned long long low = rest.to_uint64();
            u[i] = (unsigned)low;
            if (i + 1 < U32S) u[i + 1] = (unsigned)(low >> 32);
            if (i + 2 < U32S) rest >>= 64;
        }
    }

    static unsigned code(const ap_uint<32> (&u)[U32S], int j) {
#pragma HLS INLINE
        const int lo = (j % PER_U32) * WBITS;
        return u[j / PER_U32].to_uint() >> lo;  // bits [lo, lo + WBITS) (set_uint keeps those)
    }

    void begin(int vectors) {
        moved = 0;
        total = vectors;
    }

    // One vector into wbuf[side] (when the tile has one left).
    template <int NB, int KB>
    void step(hls::stream<ap_uint<WORD_BITS> >& words, ap_uint<WBITS> (&wbuf)[2][NB][KB], int side) {
#pragma HLS INLINE
        if (moved >= total) return;
        static_assert(LANES <= PER_WORD, "a vector spans at most two port words");
        if (pos == PER_WORD) {
            split(words.read(), word);
            pos = 0;
        }
        const bool spill = pos + LANES > PER_WORD;
        ap_uint<32> next[U32S];
#pragma HLS ARRAY_PARTITION variable = next complete
        if (spill) {
            split(words.read(), next);
        } else {
            for (int i = 0; i < U32S; ++i) {
#pragma HLS UNROLL
                next[i] = 0;
            }
        }
        const int o = moved / (K / LANES);
        const int k0 = (moved % (K / LANES)) * LANES;
        for (int l = 0; l < LANES; ++l) {
#pragma HLS UNROLL
            const int j = pos + l;
            set_uint(wbuf[side][o][k0 + l], j < PER_WORD ? code(word, j) : code(next, j - PER_WORD));
        }
        pos += LANES;
        if (spill) {
            for (int i = 0; i < U32S; ++i) {
#pragma HLS UNROLL
                word[i] = next[i];
            }
            pos -= PER_WORD;
        }
        ++moved;
    }

    template <int NB, int KB>
    void rest(hls::stream<ap_uint<WORD_BITS> >& words, ap_uint<WBITS> (&wbuf)[2][NB][KB], int side) {
        while (moved < total) {
#pragma HLS LOOP_TRIPCOUNT min = 0 max = NB * (KB / LANES)
#pragma HLS PIPELINE II = 1
            step(words, wbuf, side);
        }
    }
};

// Moves the weight scales (S_ROWS x S_COLS floats) and, with HAS_BIAS, the
// biases (N_TILE floats) of one tile from their streams into one copy of
// pe.ws and pe.b, one of each per call of step().
template <int S_ROWS, int S_COLS, int N_TILE, bool HAS_BIAS>
struct ParamMover {
    int scales, biases;  // moved
    ParamMover() : scales(S_ROWS * S_COLS), biases(N_TILE) {}

    void begin(bool more) {
        scales = more ? 0 : S_ROWS * S_COLS;
        biases = more && HAS_BIAS ? 0 : N_TILE;
    }

    static void bias_step(const NoBias&, const NoBias&, int, int) {}
    template <int NB>
    static void bias_step(hls::stream<float>& b_in, float (&pe_b)[2][NB], int side, int at) {
#pragma HLS INLINE
        pe_b[side][at] = b_in.read();
    }

    template <int NB, int SC, class B_IN, class B_BUF>
    void step(hls::stream<float>& ws_in, float (&pe_ws)[2][NB][SC], B_IN& b_in, B_BUF& pe_b, int side) {
#pragma HLS INLINE
        if (scales < S_ROWS * S_COLS) {
            pe_ws[side][scales / S_COLS][scales % S_COLS] = ws_in.read();
            ++scales;
        }
        if (biases < N_TILE) {
            bias_step(b_in, pe_b, side, biases);
            ++biases;
        }
    }

    template <int NB, int SC, class B_IN, class B_BUF>
    void rest(hls::stream<float>& ws_in, float (&pe_ws)[2][NB][SC], B_IN& b_in, B_BUF& pe_b, int side) {
        while (scales < S_ROWS * S_COLS || biases < N_TILE) {
#pragma HLS LOOP_TRIPCOUNT min = 0 max = S_ROWS * S_COLS + N_TILE
#pragma HLS PIPELINE II = 1
            step(ws_in, pe_ws, b_in, pe_b, side);
        }
    }
};

inline float bias_of(const NoBias&, int, int) { return 0.0f; }
template <int NB>
inline float bias_of(float (&pe_b)[2][NB], int side, int o) {
#pragma HLS INLINE
    return pe_b[side][o];
}

// The sum of one PE's LANES products: PROD[(x_code << WBITS) | w_code] (the
// LUT multipliers' ROM) of the activation vector x[k0 ..] and the weight row.
// The adder tree sums in 64 bits and keeps SUM_BITS (wrap_signed): the low
// SUM_BITS bits of a sum depend only on those of its terms, so synthesis trims
// the rest, and SUM_BITS holds any exact sum.  (Summing in an ap_int gives the
// same bits, but C simulation then stores and reloads it after every product.)
template <int SUM_BITS, int WBITS, int LANES, int XBITS, class PROD_T, int KX, int KB>
long long lane_sum(const ap_uint<XBITS> (&x)[KX], const ap_uint<WBITS> (&w)[KB], int k0, const PROD_T* ptable) {
#pragma HLS INLINE
    static_assert(SUM_BITS <= 64, "lane_sum: a lane sum fits in 64 bits");
    long long sum = 0;
    for (int l = 0; l < LANES; ++l) {
#pragma HLS UNROLL
        const unsigned xi = x[k0 + l].to_uint();
        const unsigned wi = w[k0 + l].to_uint();
        sum += ptable[(xi << WBITS) | wi];
    }
    return wrap_signed<SUM_BITS>(sum);
}

}  // namespace linear_detail

// ----------------------------------------------------------------- loaders

// The load stage of a layer's weight codes: every port word, in order.
template <int N_WORDS, int WORD_BITS>
void load_weight_words(const ap_uint<WORD_BITS>* w, hls::stream<ap_uint<WORD_BITS> >& words) {
    for (int i = 0; i < N_WORDS; ++i) {
#pragma HLS PIPELINE II = 1
        words.write(w[i]);
    }
}

// The load stage of a layer's weight scales: per tile of N_TILE outputs its
// S_ROWS x (K / WG) scales ws[(t * N_TILE + o) * WS_ROW + j] (S_ROWS = N_TILE,
// or 1 per tensor: WS_ROW = 0).
template <int K, int O, int WS_ROW, int WG, int N_TILE>
void load_weight_params(const float* ws, hls::stream<float>& scales) {
    const int S_ROWS = WS_ROW ? N_TILE : 1;
    for (int t = 0; t < O / N_TILE; ++t) {
        for (int i = 0; i < S_ROWS * (K / WG); ++i) {
#pragma HLS PIPELINE II = 1
            scales.write(ws[(t * N_TILE * (WS_ROW ? 1 : 0) + i / (K / WG)) * WS_ROW + i % (K / WG)]);
        }
    }
}

// The load stage of a layer's biases, tile after tile.
template <int O>
void load_biases(const float* bias, hls::stream<float>& biases) {
    for (int o = 0; o < O; ++o) {
#pragma HLS PIPELINE II = 1
        biases.write(bias[o]);
    }
}

// ------------------------------------------------------------------ stages

// lut_multiply (single format): per tile t (from pe.w[t % 2], tile t + 1
// moving into the other copy), row i, block of PES outputs, group g, step c:
// each PE's LANES LUT products and their sum (the adder tree, SUM_BITS),
// added to its accumulator acc[p] (ACC_BITS, no carry past it: exact, so any
// order gives the same value); after the group's last step one beat of PES
// group sums (PE p of the block: output t * N_TILE + ob * PL + p, PL = min(PES,
// N_TILE) PEs working).
//
//   K, O  reduction length and outputs;  G  exactly accumulated group
//   N_TILE  outputs per tile;  PES, LANES  the PE array;  WBITS, WORD_BITS
//   the weight codes and port;  SUM_BITS  a lane sum's bits;  ACC_BITS  a
//   group sum's;  ROW_TILE  rows
//   x  activation codes [rows][K] (whole buffer);  pe_w  [2][NB >= N_TILE][KB >= K]
template <int K, int O, int G, int N_TILE, int PES, int LANES, int WBITS, int WORD_BITS, int SUM_BITS, int ACC_BITS,
          int ROW_TILE, int XBITS, int RX, int NB, int KB, class PROD_T>
void linear_mul(ap_uint<XBITS> (&x)[RX][K], hls::stream<ap_uint<WORD_BITS> >& words,
                ap_uint<WBITS> (&pe_w)[2][NB][KB], const PROD_T* ptable, ap_int<ACC_BITS> (&acc)[PES],
                hls::stream<Beat<ap_int<ACC_BITS>, PES> >& sums, int r0, int nr) {
    const int PL = PES < N_TILE ? PES : N_TILE;
    static_assert(O % N_TILE == 0 && N_TILE % PL == 0 && K % G == 0 && G % LANES == 0, "linear_mul: tiles");
    static_assert(NB >= N_TILE && KB >= K, "linear_mul: the weight tile fits pe.w");
    const int base = RX > ROW_TILE ? r0 : 0;
    linear_detail::WeightMover<WBITS, WORD_BITS, LANES, K> mover;
    mover.begin(N_TILE * (K / LANES));
    mover.rest(words, pe_w, 0);
    for (int t = 0; t < O / N_TILE; ++t) {
        const int cur = t % 2;
        mover.begin(t + 1 < O / N_TILE ? N_TILE * (K / LANES) : 0);
        for (int i = 0; i < nr; ++i) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = ROW_TILE
            for (int ob = 0; ob < N_TILE / PL; ++ob) {
                for (int kv = 0; kv < K / LANES; ++kv) {
#pragma HLS PIPELINE II = 1
#pragma HLS DEPENDENCE variable = pe_w inter false
                    mover.step(words, pe_w, 1 - cur);  // the other copy: never the one read here
                    const int c = kv % (G / LANES);
                    for (int p = 0; p < PES; ++p) {
#pragma HLS UNROLL
                        const long long lane = p < PL ? linear_detail::lane_sum<SUM_BITS, WBITS, LANES>(
                                                            x[base + i], pe_w[cur][ob * PL + p], kv * LANES, ptable)
                                                      : 0LL;
                        set_int(acc[p], (c == 0 ? 0LL : acc[p].to_int64()) + lane);
                    }
                    if (c == G / LANES - 1) {
                        Beat<ap_int<ACC_BITS>, PES> beat;
                        for (int p = 0; p < PES; ++p) {
#pragma HLS UNROLL
                            beat.v[p] = acc[p];
                        }
                        sums.write(beat);
                    }
                }
            }
        }
        mover.rest(words, pe_w, 1 - cur);
    }
}

// lut_multiply (dual format): as linear_mul, two code planes against the same
// weight vector; accumulator and beat element p are the negative plane's sum
// of PE p, element PES + p the positive plane's.
template <int K, int O, int G, int N_TILE, int PES, int LANES, int WBITS, int WORD_BITS, int SUM_BITS, int ACC_BITS,
          int ROW_TILE, int NBITS, int PBITS, int RX, int NB, int KB, class NPROD_T, class PPROD_T>
void dual_linear_mul(ap_uint<NBITS> (&xn)[RX][K], ap_uint<PBITS> (&xp)[RX][K],
                     hls::stream<ap_uint<WORD_BITS> >& words, ap_uint<WBITS> (&pe_w)[2][NB][KB],
                     const NPROD_T* nprod, const PPROD_T* pprod, ap_int<ACC_BITS> (&acc)[2 * PES],
                     hls::stream<Beat<ap_int<ACC_BITS>, 2 * PES> >& sums, int r0, int nr) {
    const int PL = PES < N_TILE ? PES : N_TILE;
    static_assert(O % N_TILE == 0 && N_TILE % PL == 0 && K % G == 0 && G % LANES == 0, "dual_linear_mul: tiles");
    static_assert(NB >= N_TILE && KB >= K, "dual_linear_mul: the weight tile fits pe.w");
    const int base = RX > ROW_TILE ? r0 : 0;
    linear_detail::WeightMover<WBITS, WORD_BITS, LANES, K> mover;
    mover.begin(N_TILE * (K / LANES));
    mover.rest(words, pe_w, 0);
    for (int t = 0; t < O / N_TILE; ++t) {
        const int cur = t % 2;
        mover.begin(t + 1 < O / N_TILE ? N_TILE * (K / LANES) : 0);
        for (int i = 0; i < nr; ++i) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = ROW_TILE
            for (int ob = 0; ob < N_TILE / PL; ++ob) {
                for (int kv = 0; kv < K / LANES; ++kv) {
#pragma HLS PIPELINE II = 1
#pragma HLS DEPENDENCE variable = pe_w inter false
                    mover.step(words, pe_w, 1 - cur);
                    const int c = kv % (G / LANES);
                    for (int p = 0; p < PES; ++p) {
#pragma HLS UNROLL
                        const bool on = p < PL;
                        const long long neg = on ? linear_detail::lane_sum<SUM_BITS, WBITS, LANES>(
                                                       xn[base + i], pe_w[cur][ob * PL + p], kv * LANES, nprod)
                                                 : 0LL;
                        const long long pos = on ? linear_detail::lane_sum<SUM_BITS, WBITS, LANES>(
                                                       xp[base + i], pe_w[cur][ob * PL + p], kv * LANES, pprod)
                                                 : 0LL;
                        set_int(acc[p], (c == 0 ? 0LL : acc[p].to_int64()) + neg);
                        set_int(acc[PES + p], (c == 0 ? 0LL : acc[PES + p].to_int64()) + pos);
                    }
                    if (c == G / LANES - 1) {
                        Beat<ap_int<ACC_BITS>, 2 * PES> beat;
                        for (int p = 0; p < 2 * PES; ++p) {
#pragma HLS UNROLL
                            beat.v[p] = acc[p];
                        }
                        sums.write(beat);
                    }
                }
            }
        }
        mover.rest(words, pe_w, 1 - cur);
    }
}

// combine (single format): per tile (scales and biases from pe.ws / pe.b[t %
// 2], tile t + 1's moving into the other copy), row i, block, group g
// ascending: total = total + (xs * ws) * ((float)P * unit) from +0.0f (the
// order of fpqc.numerics.products), in the plan's total registers; after the
// last group total + bias is output (t * N_TILE + ob * PL + p).
template <int K, int O, int G, int N_TILE, int PES, int ACC_BITS, int XS_ROW, int XG, int WS_ROW, int WG,
          int ROW_TILE, int RXS, int XSC, int NB, int SC, class B_IN, class B_BUF, class OUT>
void linear_combine(float (&xs)[RXS][XSC], hls::stream<float>& ws_in, B_IN& b_in, float (&pe_ws)[2][NB][SC],
                    B_BUF& pe_b, float (&total)[PES], hls::stream<Beat<ap_int<ACC_BITS>, PES> >& sums, float unit,
                    OUT& y, int r0, int nr, Tap tap) {
    const int PL = PES < N_TILE ? PES : N_TILE;
    const int S_ROWS = WS_ROW ? N_TILE : 1;
    const bool has_bias = HasBias<B_IN>::value;
    const int base = RXS > ROW_TILE ? r0 : 0;
    typename Cursor<OUT>::type co(r0, ROW_TILE);
    linear_detail::ParamMover<S_ROWS, K / WG, N_TILE, HasBias<B_IN>::value> mover;
    mover.begin(true);
    mover.rest(ws_in, pe_ws, b_in, pe_b, 0);
    for (int t = 0; t < O / N_TILE; ++t) {
        const int cur = t % 2;
        mover.begin(t + 1 < O / N_TILE);
        for (int i = 0; i < nr; ++i) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = ROW_TILE
            for (int ob = 0; ob < N_TILE / PL; ++ob) {
                for (int g = 0; g < K / G; ++g) {
#pragma HLS PIPELINE II = 1
                    mover.step(ws_in, pe_ws, b_in, pe_b, 1 - cur);
                    const Beat<ap_int<ACC_BITS>, PES> s = sums.read();
                    const float xsv = xs[XS_ROW ? base + i : 0][XS_ROW ? (g * G) / XG : 0];
                    for (int p = 0; p < PL; ++p) {
#pragma HLS UNROLL
                        const int o = ob * PL + p;
                        const float pf = (float)s.v[p].to_int64() * unit;
                        const float ts = xsv * pe_ws[cur][WS_ROW ? o : 0][(g * G) / WG];
                        const float prev = g == 0 ? 0.0f : total[p];
                        total[p] = prev + ts * pf;
                        if (g == K / G - 1) {
                            const float v = has_bias ? total[p] + linear_detail::bias_of(pe_b, cur, o) : total[p];
                            put(y, co, i, t * N_TILE + o, v);
                            tap.put(r0 + i, t * N_TILE + o, v);
                        }
                    }
                }
            }
        }
        mover.rest(ws_in, pe_ws, b_in, pe_b, 1 - cur);
    }
}

// combine (dual format): as linear_combine with fpqc::dual_combine per group
// (the negative side's term first, then the positive side's); sums beat
// element p is PE p's negative-plane sum, PES + p its positive-plane sum.
template <int K, int O, int G, int N_TILE, int PES, int ACC_BITS, int XS_ROW, int XG, int WS_ROW, int WG,
          int ROW_TILE, int RXS, int XSC, int NB, int SC, class B_IN, class B_BUF, class OUT>
void dual_linear_combine(float (&sn)[RXS][XSC], float (&sp)[RXS][XSC], hls::stream<float>& ws_in, B_IN& b_in,
                         float (&pe_ws)[2][NB][SC], B_BUF& pe_b, float (&total)[PES],
                         hls::stream<Beat<ap_int<ACC_BITS>, 2 * PES> >& sums, float unit_n, float unit_p, OUT& y,
                         int r0, int nr, Tap tap) {
    const int PL = PES < N_TILE ? PES : N_TILE;
    const int S_ROWS = WS_ROW ? N_TILE : 1;
    const bool has_bias = HasBias<B_IN>::value;
    const int base = RXS > ROW_TILE ? r0 : 0;
    typename Cursor<OUT>::type co(r0, ROW_TILE);
    linear_detail::ParamMover<S_ROWS, K / WG, N_TILE, HasBias<B_IN>::value> mover;
    mover.begin(true);
    mover.rest(ws_in, pe_ws, b_in, pe_b, 0);
    for (int t = 0; t < O / N_TILE; ++t) {
        const int cur = t % 2;
        mover.begin(t + 1 < O / N_TILE);
        for (int i = 0; i < nr; ++i) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = ROW_TILE
            for (int ob = 0; ob < N_TILE / PL; ++ob) {
                for (int g = 0; g < K / G; ++g) {
#pragma HLS PIPELINE II = 1
                    mover.step(ws_in, pe_ws, b_in, pe_b, 1 - cur);
                    const Beat<ap_int<ACC_BITS>, 2 * PES> s = sums.read();
                    const int row = XS_ROW ? base + i : 0;
                    const int col = XS_ROW ? (g * G) / XG : 0;
                    for (int p = 0; p < PL; ++p) {
#pragma HLS UNROLL
                        const int o = ob * PL + p;
                        const float prev = g == 0 ? 0.0f : total[p];
                        total[p] = dual_combine(prev, s.v[p].to_int64(), s.v[PES + p].to_int64(), sn[row][col],
                                                sp[row][col], pe_ws[cur][WS_ROW ? o : 0][(g * G) / WG], unit_n,
                                                unit_p);
                        if (g == K / G - 1) {
                            const float v = has_bias ? total[p] + linear_detail::bias_of(pe_b, cur, o) : total[p];
                            put(y, co, i, t * N_TILE + o, v);
                            tap.put(r0 + i, t * N_TILE + o, v);
                        }
                    }
                }
            }
        }
        mover.rest(ws_in, pe_ws, b_in, pe_b, 1 - cur);
    }
}

}  // namespace fpqc

#endif  // FPQC_LINEAR_H
