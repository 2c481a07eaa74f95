// fpqc_kv_codes.h -- a low-bit KV cache in DDR, stored as codes and scales
// (FPQVAR's 6-bit KV cache: fpq.cached_attention with kv_quant).
//
// The C++ twin of the interpreter's fpq.cached_attention with a codes cache
// (fpqc/backends/interp/fpq_ops.py); the tests require bit-identical results.
//
//   KvCodes            one cache (keys or values) [B, L, C] in DDR: codes and scales
//   read_head_row      a head row of the cache as fp32: decode(code) * scale
//   write_head_row     a head row quantized into the cache (quantize_groups)
//   store_kv_codes_stage   the new rows of a launch: queries into q, keys
//                      (normalised) and values into the on-chip buffers
//                      fresh_k / fresh_v -- quantized first, and their codes
//                      written to the cache, when ALL (kv_scope = "all")
//   load_kv_codes_stage    per sample and head, keys then values of rows
//                      [0, offset + n): the earlier rows read from the cache,
//                      the new ones from fresh_k / fresh_v; with the `cached`
//                      scope each new row is then quantized into the cache
//
// The new rows never go to DDR in fp32: with the `cached` scope (FPQVAR's)
// they attend to their own keys and values in fp32, which stay on chip in
// fresh_k / fresh_v until every query of the launch has them (the plan's
// buffers); later scales read them from the cache as codes.
//
// Memory: the codes of a cache [B, L, C] are packed as fpqc/backends/hls/codes.py
// packs every code tensor: PER = 32 / BITS codes to a uint32_t word, code i of
// the flattened tensor in word i / PER at bits (i % PER) * BITS.  A head row
// (D codes) need not start on a word: its first and last words may hold codes
// of the neighbouring head rows, which are read, kept and written back.  The
// scales are fp32 [B, L, C / G], one per group of G channels of a head row
// (G = D: one per token and head).
#ifndef FPQC_KV_CODES_H
#define FPQC_KV_CODES_H

#include "fpqc_block.h"
#include "fpqc_hls.h"

namespace fpqc {

template <int BITS, int G>
struct KvCodes {
    uint32_t* codes;
    float* scales;
};

// A KV quantizer: the format's tables (the rounding mode is in the quantizer's).
struct KvQuantizer {
    const Quantizer* quantizer;
    const float* decode_table;
};

inline KvQuantizer kv_quantizer(const Quantizer& quantizer, const float* decode_table) {
    KvQuantizer q = {&quantizer, decode_table};
    return q;
}

// Head h of cache row `row` (= b * L + j) as fp32: dequantize(codes, scales).
template <int C, int D, int BITS, int G>
void read_head_row(const KvCodes<BITS, G>& cache, long row, int h, const KvQuantizer& kvq, float* out) {
    constexpr int PER = 32 / BITS;
    const long first = row * C + h * D;
    ap_uint<BITS> codes[D];
    float scales[D / G];
    uint32_t word = cache.codes[first / PER];
    for (int d = 0; d < D; ++d) {
#pragma HLS PIPELINE II = 1
        const long at = first + d;
        if (d > 0 && at % PER == 0) word = cache.codes[at / PER];
        codes[d] = ap_uint<BITS>((word >> ((at % PER) * BITS)) & ((1u << BITS) - 1));
    }
    for (int g = 0; g < D / G; ++g) scales[g] = cache.scales[row * (C / G) + h * (D / G) + g];
    dequantize<D / G, G>(local_codes<BITS>(codes), scales, kvq.decode_table, out);
}

// Head h of cache row `row` quantized into the cache; `row_values` becomes what
// the cache now holds (dequantize(quantize(row_values))).
template <int C, int D, int BITS, int G>
void write_head_row(KvCodes<BITS, G>& cache, long row, int h, const KvQuantizer& kvq, float* row_values) {
    static_assert(G >= 1 && D % G == 0, "kv_quant: the group size must divide the head dim");
    constexpr int PER = 32 / BITS;
    const long first = row * C + h * D;
    ap_uint<BITS> codes[D];
    float scales[D / G];
    quantize_groups<BITS, D / G, G>(row_values, codes, scales, *kvq.quantizer);
    dequantize<D / G, G>(local_codes<BITS>(codes), scales, kvq.decode_table, row_values);
    uint32_t word = cache.codes[first / PER];
    for (int d = 0; d < D; ++d) {
#pragma HLS PIPELINE II = 1
        const long at = first + d;
        const int shift = (at % PER) * BITS;
        word = (word & ~(((1u << BITS) - 1) << shift)) | (static_cast<uint32_t>(codes[d].to_uint()) << shift);
        if (d == D - 1 || (at + 1) % PER == 0) {
            cache.codes[at / PER] = word;
            if (d < D - 1) word = cache.codes[(at + 1) / PER];
        }
    }
    for (int g = 0; g < D / G; ++g) cache.scales[row * (C / G) + h * (D / G) + g] = scales[g];
}

// The new rows [r0, r0 + nr) of a launch (row n * b + i of sample b): a query
// element into q (as store_kv_stage), a key head row collected in kv[0] and
// normalised, a value head row in kv[1]; when ALL, quantized into the cache
// row offset + i (write_head_row); then into fresh_k / fresh_v at the row.
//
//   C, H  channels and heads (D = C / H);  B, L  samples and cache rows
//   n  new rows per sample;  offset  cache row of the first new one
template <int C, int H, int W, int B, int L, int ROW_TILE, bool ALL, class IN, int RQ, int QC, int RF, int BITS, int G>
void store_kv_codes_stage(IN& qkv, float (&q)[RQ][QC], float (&kv)[2][C / H], float (&fresh_k)[RF][C],
                          float (&fresh_v)[RF][C], KvCodes<BITS, G> k_cache, KvCodes<BITS, G> v_cache,
                          const KvQuantizer& kvq, int n, int offset, float eps, int r0, int nr) {
    constexpr int D = C / H;
    static_assert(H >= 1 && C % H == 0 && (3 * C) % W == 0 && W % D == 0, "store_kv_codes_stage: W holds whole heads");
    typename Cursor<IN>::type ci(r0, ROW_TILE);
    const int q_base = RQ > ROW_TILE ? r0 : 0;
    for (int t = 0; t < 3 * C / W; ++t) {
        for (int i = 0; i < nr; ++i) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = ROW_TILE
            const int row = r0 + i;
            const long cache_row = (long)(row / n) * L + offset + row % n;
            for (int j = 0; j < W; ++j) {
#pragma HLS PIPELINE II = 1
                const int c = t * W + j;
                const float v = get(qkv, ci, i, c);
                const int part = c / C;  // 0: q, 1: k, 2: v
                const int e = c % C;
                const int d = e % D;
                if (part == 0) {
                    q[q_base + i][e] = v;
                    continue;
                }
                float* head = kv[part - 1];
                head[d] = v;
                if (d != D - 1) continue;
                if (part == 1) {
                    const float inv = l2_inv_norm<D>(head, eps);
                    for (int k = 0; k < D; ++k) head[k] = head[k] * inv;
                }
                if (ALL) write_head_row<C, D>(part == 1 ? k_cache : v_cache, cache_row, e / D, kvq, head);
                float(&fresh)[RF][C] = part == 1 ? fresh_k : fresh_v;
                for (int k = 0; k < D; ++k) {
#pragma HLS PIPELINE II = 1
                    fresh[row][e - (D - 1) + k] = head[k];
                }
            }
        }
    }
}

// Per sample b and head h (in that order), keys then values of the rows
// [0, offset + n), N floats a beat: row j < offset read from the cache
// (read_head_row), row j >= offset from fresh_k / fresh_v; when not ALL (the
// `cached` scope) each new row is then quantized into the cache.
template <int C, int H, int B, int L, bool ALL, int N, int RF, int BITS, int G>
void load_kv_codes_stage(KvCodes<BITS, G> k_cache, KvCodes<BITS, G> v_cache, float (&fresh_k)[RF][C],
                         float (&fresh_v)[RF][C], hls::stream<Beat<float, N> >& keys,
                         hls::stream<Beat<float, N> >& values, float (&kv)[2][C / H], const KvQuantizer& kvq, int n,
                         int offset) {
    constexpr int D = C / H;
    static_assert(D % N == 0, "load_kv_codes_stage: N divides the head dim");
    const int m = offset + n;
    Beat<float, N> beat;
    for (int b = 0; b < B; ++b) {
        for (int h = 0; h < H; ++h) {
            for (int p = 0; p < 2; ++p) {
                KvCodes<BITS, G>& cache = p == 0 ? k_cache : v_cache;
                float(&fresh)[RF][C] = p == 0 ? fresh_k : fresh_v;
                for (int j = 0; j < m; ++j) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = L
                    const long row = (long)b * L + j;
                    const bool is_new = j >= offset;
                    if (is_new) {
                        for (int d = 0; d < D; ++d) {
#pragma HLS PIPELINE II = 1
                            kv[0][d] = fresh[b * n + j - offset][h * D + d];
                        }
                    } else {
                        read_head_row<C, D>(cache, row, h, kvq, kv[0]);
                    }
                    for (int d = 0; d < D; ++d) {
#pragma HLS PIPELINE II = 1
                        beat.v[d % N] = kv[0][d];
                        if (d % N == N - 1) (p == 0 ? keys : values).write(beat);
                    }
                    if (!ALL && is_new) write_head_row<C, D>(cache, row, h, kvq, kv[0]);
                }
            }
        }
    }
}

}  // namespace fpqc

#endif  // FPQC_KV_CODES_H
