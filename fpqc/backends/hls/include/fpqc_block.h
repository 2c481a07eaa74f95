// fpqc_block.h -- the rest of a VAR transformer block in fpqc's HLS library:
// layernorm, AdaLN modulation, gated residual, and attention against a KV cache.
//
// The C++ twin of fpqc/numerics/block.py (layernorm_f32, modulate_f32,
// residual_f32), fpqc/numerics/attention.py (l2_normalize_f32, attend) and of
// the interpreter's fpq.cached_attention (fpqc/backends/interp/fpq_ops.py);
// the Python docstrings are the specification, and
// tests/unit/hls/test_block_library.py requires bit-identical results.
//
//   layernorm         rows of C: affine-free layer normalisation
//   modulate          AdaLN: y = (x * (1 + scale)) + shift, one scale/shift vector per sample
//   residual          gated residual: y = x + (f * gamma), one gate vector per sample
//   l2_inv_norm       1 / max(|x|, eps) of one head row, as rsqrt_f32(max(sum x^2, eps*eps))
//   l2_normalize      x * l2_inv_norm(x) for one head row
//   attend_head       n query rows against m keys/values of one (sample, head)
//   NoKvQuant / KvQuant / kv_quant   the optional KV-cache quantizer (kv_quant, kv_scope)
//   kv_cache_write    one sample's new keys (normalised) and values, KV-quantized
//                     when asked, into the cache rows [offset, offset + n)
//   cached_attend     one sample's n new queries (normalised, times q_scale[h])
//                     against the cache rows [0, offset + n)
//   cached_attention  fpq.cached_attention for a batch: kv_cache_write, then cached_attend
//
// Arithmetic: every + - * / is one fp32 operation in the order written (compile
// with -ffp-contract=off, never fast-math).  Every sum runs left to right and
// starts from its first term (not from 0.0f, which would turn a -0.0 sum into
// +0.0); a product is rounded to fp32 before it is added.
//
// Layouts: row-major.  Activations are [rows, C]; a per-sample vector
// (scale, shift, gamma) is [batch, C].  qkv is [n, 3C] per sample, laid out
// [q | k | v], each C = H * D split into H heads of D channels; a KV cache is
// [B, L, C] (heads side by side like k and v in qkv), cache row r of sample b
// at (b * L + r) * C.  The cache holds keys normalised (and, with kv_quant,
// keys and values quantized then dequantized), so a cached key is never
// normalised again.
//
// Hardware: fixed-size on-chip buffers sized by template parameters, no
// dynamic memory, no libm, no recursion.  Runtime counts (rows, n, m, batch)
// are bounded by template parameters, given to the scheduler by
// loop_tripcount.  The fp32 reductions are loop-carried chains: their loops
// pipeline at the adder's latency (or, where independent sums are interleaved,
// at II = 1); the pragmas only schedule, they never change an operation's
// order.  The big buffers (a head's keys and values, a head's queries) are
// function-static so that a C simulation does not put them on the stack;
// every call writes what it reads, so nothing carries over between calls.
#ifndef FPQC_BLOCK_H
#define FPQC_BLOCK_H

#include "fpqc_hls.h"

namespace fpqc {

// ------------------------------------------------------------- layernorm

// Affine-free layer normalisation of `rows` rows of C (rows <= MAX_ROWS); for
// each row x[0..C), in fp32:
//   s    = ((x0 + x1) + x2) + ... + x(C-1)
//   mean = s / (float)C
//   d_i  = x_i - mean
//   v    = ((d0*d0 + d1*d1) + ...) / (float)C
//   y_i  = d_i * rsqrt_f32(v + eps)
// y may be x (in place).
template <int C, int MAX_ROWS>
void layernorm(const float* x, float* y, int rows, float eps) {
    static_assert(C >= 1 && MAX_ROWS >= 1, "layernorm: C and MAX_ROWS must be positive");
    const float n = static_cast<float>(C);
    float d[C];
layernorm_rows:
    for (int r = 0; r < rows; ++r) {
#pragma HLS loop_tripcount min = 1 max = MAX_ROWS
        const float* xr = x + r * C;
        float s = xr[0];
        d[0] = s;
    layernorm_sum:
        for (int i = 1; i < C; ++i) {
#pragma HLS PIPELINE
            const float v = xr[i];
            d[i] = v;
            s = s + v;
        }
        const float mean = s / n;
        float var = 0.0f;
    layernorm_var:
        for (int i = 0; i < C; ++i) {
#pragma HLS PIPELINE
            const float di = d[i] - mean;
            d[i] = di;
            const float sq = di * di;
            var = (i == 0) ? sq : var + sq;
        }
        const float inv = rsqrt_f32(var / n + eps);
    layernorm_scale:
        for (int i = 0; i < C; ++i) {
#pragma HLS PIPELINE II = 1
            y[r * C + i] = d[i] * inv;
        }
    }
}

// ------------------------------------------------------ modulate / residual

// AdaLN modulation of x [batch, rows, C]: y = (x * (1.0f + scale)) + shift with
// scale and shift [batch, C] (one vector per sample, broadcast over its rows).
// batch <= MAX_BATCH, rows <= MAX_ROWS.  y may be x.
template <int C, int MAX_BATCH, int MAX_ROWS>
void modulate(const float* x, const float* scale, const float* shift, float* y, int batch,
              int rows) {
    float one_plus[C];
    float sh[C];
modulate_samples:
    for (int b = 0; b < batch; ++b) {
#pragma HLS loop_tripcount min = 1 max = MAX_BATCH
    modulate_vectors:
        for (int c = 0; c < C; ++c) {
#pragma HLS PIPELINE II = 1
            one_plus[c] = 1.0f + scale[b * C + c];
            sh[c] = shift[b * C + c];
        }
    modulate_rows:
        for (int r = 0; r < rows; ++r) {
#pragma HLS loop_tripcount min = 1 max = MAX_ROWS
        modulate_channels:
            for (int c = 0; c < C; ++c) {
#pragma HLS PIPELINE II = 1
                const int i = (b * rows + r) * C + c;
                y[i] = x[i] * one_plus[c] + sh[c];
            }
        }
    }
}

// Gated residual of x, f [batch, rows, C]: y = x + (f * gamma) with gamma
// [batch, C] (one gate vector per sample).  batch <= MAX_BATCH,
// rows <= MAX_ROWS.  y may be x or f.
template <int C, int MAX_BATCH, int MAX_ROWS>
void residual(const float* x, const float* f, const float* gamma, float* y, int batch, int rows) {
    float g[C];
residual_samples:
    for (int b = 0; b < batch; ++b) {
#pragma HLS loop_tripcount min = 1 max = MAX_BATCH
    residual_gate:
        for (int c = 0; c < C; ++c) {
#pragma HLS PIPELINE II = 1
            g[c] = gamma[b * C + c];
        }
    residual_rows:
        for (int r = 0; r < rows; ++r) {
#pragma HLS loop_tripcount min = 1 max = MAX_ROWS
        residual_channels:
            for (int c = 0; c < C; ++c) {
#pragma HLS PIPELINE II = 1
                const int i = (b * rows + r) * C + c;
                y[i] = x[i] + f[i] * g[c];
            }
        }
    }
}

// ------------------------------------------------------- l2 normalisation

// rsqrt_f32(max(((x0*x0 + x1*x1) + ...), eps*eps)) for one row of D (eps*eps
// one fp32 product; a NaN sum stays NaN, as numpy's maximum).
template <int D>
float l2_inv_norm(const float* x, float eps) {
    float ss = x[0] * x[0];
l2_sum:
    for (int d = 1; d < D; ++d) {
#pragma HLS PIPELINE
        const float v = x[d];
        ss = ss + v * v;
    }
    const float eps2 = eps * eps;
    return rsqrt_f32((ss != ss || ss > eps2) ? ss : eps2);
}

// y = x * l2_inv_norm<D>(x, eps) for one row of D.  y may be x.
template <int D>
void l2_normalize(const float* x, float* y, float eps) {
    const float inv = l2_inv_norm<D>(x, eps);
l2_scale:
    for (int d = 0; d < D; ++d) {
#pragma HLS PIPELINE II = 1
        y[d] = x[d] * inv;
    }
}

// -------------------------------------------------------------- attention

namespace detail {

// Keys and values [0, m) of one head into on-chip buffers; row j is read at
// k + j * stride and v + j * stride.
template <int D, int MAX_KEYS>
void load_head(const float* k, const float* v, int stride, int m, float kb[MAX_KEYS][D],
               float vb[MAX_KEYS][D]) {
load_keys:
    for (int j = 0; j < m; ++j) {
#pragma HLS loop_tripcount min = 1 max = MAX_KEYS
    load_key_row:
        for (int d = 0; d < D; ++d) {
#pragma HLS PIPELINE II = 1
            kb[j][d] = k[j * stride + d];
            vb[j][d] = v[j * stride + d];
        }
    }
}

// One query row q[0..D) against the m keys and values on chip:
//   s[j] = ((q0*k[j,0] + q1*k[j,1]) + ...)          over D
//   top  = max_j s[j]                                (NaN propagates)
//   e[j] = exp_f32(s[j] - top)
//   p[j] = e[j] / ((e0 + e1) + ...)                  over the keys
//   o[d] = ((p0*v[0,d] + p1*v[1,d]) + ...)           over the keys
template <int D, int MAX_KEYS>
void attend_row(const float q[D], const float kb[MAX_KEYS][D], const float vb[MAX_KEYS][D],
                int m, float o[D]) {
    float s[MAX_KEYS];
    // One score per cycle: the D-term chain of one key is unrolled (the keys'
    // buffer is partitioned along D), successive keys are independent.
attend_scores:
    for (int j = 0; j < m; ++j) {
#pragma HLS loop_tripcount min = 1 max = MAX_KEYS
#pragma HLS PIPELINE II = 1
        float acc = q[0] * kb[j][0];
    attend_dot:
        for (int d = 1; d < D; ++d) acc = acc + q[d] * kb[j][d];
        s[j] = acc;
    }
    float top = s[0];
attend_max:
    for (int j = 1; j < m; ++j) {
#pragma HLS loop_tripcount min = 0 max = MAX_KEYS - 1
#pragma HLS PIPELINE II = 1
        const float v = s[j];
        if (v != v || v > top) top = v;
    }
    float sum = 0.0f;
attend_exp:
    for (int j = 0; j < m; ++j) {
#pragma HLS loop_tripcount min = 1 max = MAX_KEYS
#pragma HLS PIPELINE
        const float e = exp_f32(s[j] - top);
        s[j] = e;
        sum = (j == 0) ? e : sum + e;
    }
attend_probs:
    for (int j = 0; j < m; ++j) {
#pragma HLS loop_tripcount min = 1 max = MAX_KEYS
#pragma HLS PIPELINE II = 1
        s[j] = s[j] / sum;
    }
    // Key by key, all D outputs at once: each o[d] is its own chain over the keys.
attend_values:
    for (int j = 0; j < m; ++j) {
#pragma HLS loop_tripcount min = 1 max = MAX_KEYS
#pragma HLS PIPELINE
        const float p = s[j];
    attend_axpy:
        for (int d = 0; d < D; ++d) {
            const float t = p * vb[j][d];
            o[d] = (j == 0) ? t : o[d] + t;
        }
    }
}

}  // namespace detail

// Attention of n query rows (n <= MAX_ROWS) against m keys and values
// (1 <= m <= MAX_KEYS) of one (sample, head), head dim D: fpqc.numerics
// .attention.attend.  The queries are already normalised and scaled, the keys
// normalised.  Query row i is read at q + i * q_stride, key/value row j at
// k/v + j * kv_stride, output row i written at out + i * out_stride.
template <int D, int MAX_ROWS, int MAX_KEYS>
void attend_head(const float* q, int q_stride, const float* k, const float* v, int kv_stride,
                 float* out, int out_stride, int n, int m) {
    static_assert(D >= 1 && MAX_ROWS >= 1 && MAX_KEYS >= 1, "attend_head: positive sizes");
    static float kb[MAX_KEYS][D];
    static float vb[MAX_KEYS][D];
#pragma HLS ARRAY_PARTITION variable = kb type = complete dim = 2
#pragma HLS ARRAY_PARTITION variable = vb type = complete dim = 2
    float qr[D];
    float o[D];
#pragma HLS ARRAY_PARTITION variable = qr type = complete
#pragma HLS ARRAY_PARTITION variable = o type = complete
    detail::load_head<D, MAX_KEYS>(k, v, kv_stride, m, kb, vb);
attend_queries:
    for (int i = 0; i < n; ++i) {
#pragma HLS loop_tripcount min = 1 max = MAX_ROWS
    attend_load_query:
        for (int d = 0; d < D; ++d) {
#pragma HLS PIPELINE II = 1
            qr[d] = q[i * q_stride + d];
        }
        detail::attend_row<D, MAX_KEYS>(qr, kb, vb, m, o);
    attend_store:
        for (int d = 0; d < D; ++d) {
#pragma HLS PIPELINE II = 1
            out[i * out_stride + d] = o[d];
        }
    }
}

// ------------------------------------------------------------- KV cache

// No KV quantization: the cache holds the normalised keys and the values as
// they are.
struct NoKvQuant {
    static const bool before_attending = false;
    static const bool after_attending = false;
};

// KV quantization (fpq.cached_attention's kv_quant): each head row of D is
// quantized in groups of G consecutive channels (G = D for `token` or
// `channel`: one scale per token per head; G = N for `group N`) by
// quantize_groups and decoded back by dequantize -- the interpreter's
// dequantize(quantize(x)) with scales from x.  The quantizer's tables carry
// the rounding mode.  kv_scope (fpqc/dialects/fpq/kv_scope.py) says when the
// new rows are quantized: ALL = false ("cached", FPQVAR's KV6) after the new
// rows have attended to their own keys and values in fp32, on their way into
// the cache; ALL = true ("all") before they are attended to.  Not covered:
// `tensor` granularity (one scale over all samples, heads and new tokens) and
// `scale = "e8m0"` (quantize_groups computes fp32 scales only).
template <int BITS, int G, bool ALL>
struct KvQuant {
    const Quantizer* quantizer;
    const float* decode_table;
    static const bool before_attending = ALL;
    static const bool after_attending = !ALL;
};

template <int BITS, int G, bool ALL>
KvQuant<BITS, G, ALL> kv_quant(const Quantizer& quantizer, const float* decode_table) {
    KvQuant<BITS, G, ALL> q = {&quantizer, decode_table};
    return q;
}

template <int D>
void kv_fake_quantize(float*, const NoKvQuant&) {}

// row = dequantize(quantize(row)) for one head row of D, in place.
template <int D, int BITS, int G, bool ALL>
void kv_fake_quantize(float* row, const KvQuant<BITS, G, ALL>& kvq) {
    static_assert(G >= 1 && D % G == 0, "kv_quant: the group size must divide the head dim");
    ap_uint<BITS> codes[D];
    float scales[D / G];
    quantize_groups<BITS, D / G, G>(row, codes, scales, *kvq.quantizer);
    dequantize<D / G, G>(local_codes<BITS>(codes), scales, kvq.decode_table, row);
}

// One sample's new keys and values into its cache: for each of the n new
// tokens (n <= MAX_ROWS) and each head h, the key k = l2_normalize<D>(qkv's k
// third, eps) and the value v (qkv's v third), through kv_fake_quantize when
// KVQ quantizes before attending, go to cache row offset + i.  qkv is
// the sample's [n, 3C], k_cache and v_cache the sample's [L, C] (L >= offset + n).
template <int C, int H, int MAX_ROWS, class KVQ>
void kv_cache_write(const float* qkv, float* k_cache, float* v_cache, int n, int offset, float eps,
                    const KVQ& kvq) {
    static_assert(H >= 1 && C % H == 0, "kv_cache_write: H must divide C");
    constexpr int D = C / H;
    float kr[D];
    float vr[D];
kv_rows:
    for (int i = 0; i < n; ++i) {
#pragma HLS loop_tripcount min = 1 max = MAX_ROWS
    kv_heads:
        for (int h = 0; h < H; ++h) {
            const float* key = qkv + i * 3 * C + C + h * D;
            const float* value = qkv + i * 3 * C + 2 * C + h * D;
            const float inv = l2_inv_norm<D>(key, eps);
        kv_load:
            for (int d = 0; d < D; ++d) {
#pragma HLS PIPELINE II = 1
                kr[d] = key[d] * inv;
                vr[d] = value[d];
            }
            if (KVQ::before_attending) {
                kv_fake_quantize<D>(kr, kvq);
                kv_fake_quantize<D>(vr, kvq);
            }
            const int row = (offset + i) * C + h * D;
        kv_store:
            for (int d = 0; d < D; ++d) {
#pragma HLS PIPELINE II = 1
                k_cache[row + d] = kr[d];
                v_cache[row + d] = vr[d];
            }
        }
    }
}

// The n new rows of one sample's caches, from row offset, through
// kv_fake_quantize in place when KVQ quantizes after attending.
template <int C, int H, int MAX_ROWS, class KVQ>
void kv_cache_quantize_new_rows(float* k_cache, float* v_cache, int n, int offset, const KVQ& kvq) {
    if (!KVQ::after_attending) return;
    constexpr int D = C / H;
kv_quantize_rows:
    for (int i = 0; i < n; ++i) {
#pragma HLS loop_tripcount min = 1 max = MAX_ROWS
    kv_quantize_heads:
        for (int h = 0; h < H; ++h) {
            const int row = (offset + i) * C + h * D;
            kv_fake_quantize<D>(k_cache + row, kvq);
            kv_fake_quantize<D>(v_cache + row, kvq);
        }
    }
}

// One sample's attention output out [n, C] (n <= MAX_ROWS): for each head h,
// the queries q = l2_normalize<D>(qkv's q third, eps) * q_scale[h] (multiplied
// after normalising) attend_head against the cache rows [0, offset + n)
// (offset + n <= MAX_KEYS).  qkv is the sample's [n, 3C], the caches the
// sample's [L, C], already holding this step's rows (kv_cache_write).
template <int C, int H, int MAX_ROWS, int MAX_KEYS>
void cached_attend(const float* qkv, const float* q_scale, const float* k_cache,
                   const float* v_cache, float* out, int n, int offset, float eps) {
    static_assert(H >= 1 && C % H == 0, "cached_attend: H must divide C");
    constexpr int D = C / H;
    static float qb[MAX_ROWS * D];
    const int m = offset + n;
cached_heads:
    for (int h = 0; h < H; ++h) {
        const float qs = q_scale[h];
    cached_queries:
        for (int i = 0; i < n; ++i) {
#pragma HLS loop_tripcount min = 1 max = MAX_ROWS
            const float* query = qkv + i * 3 * C + h * D;
            const float inv = l2_inv_norm<D>(query, eps);
        cached_scale_query:
            for (int d = 0; d < D; ++d) {
#pragma HLS PIPELINE II = 1
                qb[i * D + d] = (query[d] * inv) * qs;
            }
        }
        attend_head<D, MAX_ROWS, MAX_KEYS>(qb, D, k_cache + h * D, v_cache + h * D, C, out + h * D,
                                           C, n, m);
    }
}

// fpq.cached_attention for a batch of B samples and caches of L rows: each
// sample's n new tokens (n <= MAX_ROWS, offset + n <= L) write their keys and
// values into cache rows [offset, offset + n) (kv_cache_write), then its
// queries attend to rows [0, offset + n) (cached_attend), then the new rows
// are quantized where KVQ says so (kv_cache_quantize_new_rows).  qkv is [B, n, 3C],
// q_scale [H], the caches [B, L, C] (updated in place), out [B, n, C].
template <int B, int L, int C, int H, int MAX_ROWS, class KVQ>
void cached_attention(const float* qkv, const float* q_scale, float* k_cache, float* v_cache,
                      float* out, int n, int offset, float eps, const KVQ& kvq) {
cached_samples:
    for (int b = 0; b < B; ++b) {
        const float* sample = qkv + b * n * 3 * C;
        float* k_rows = k_cache + b * L * C;
        float* v_rows = v_cache + b * L * C;
        kv_cache_write<C, H, MAX_ROWS>(sample, k_rows, v_rows, n, offset, eps, kvq);
        cached_attend<C, H, MAX_ROWS, L>(sample, q_scale, k_rows, v_rows, out + b * n * C, n,
                                         offset, eps);
        kv_cache_quantize_new_rows<C, H, MAX_ROWS>(k_rows, v_rows, n, offset, kvq);
    }
}

}  // namespace fpqc

#endif  // FPQC_BLOCK_H
