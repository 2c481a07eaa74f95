// fpqc_block.h -- the rest of a VAR transformer block in fpqc's HLS library,
// as DATAFLOW stages: layernorm, AdaLN modulation, gated residual, and
// attention against a KV cache.
//
// The C++ twin of fpqc/numerics/block.py (layernorm_f32, modulate_f32,
// residual_f32), fpqc/numerics/attention.py (l2_normalize_f32, attend) and of
// the interpreter's fpq.cached_attention (fpqc/backends/interp/fpq_ops.py);
// the Python docstrings are the specification, and the tests require
// bit-identical results.
//
//   layernorm_stage   rows of C: affine-free layer normalisation
//   modulate_stage    AdaLN: y = (x * (1 + scale)) + shift, one scale/shift vector per sample
//   residual_stage    gated residual: y = x + (f * gamma), one gate vector per sample
//   l2_inv_norm       1 / max(|x|, eps) of one head row, as rsqrt_f32(max(sum x^2, eps*eps))
//   store_kv_stage    the new keys (normalised) and values into the fp32 cache
//                     rows [offset, offset + n) in DDR; the queries into the
//                     whole buffer q
//   load_kv_stage     per sample and head, its cache rows [0, offset + n) from
//                     DDR (a cache of low-bit codes: fpqc_kv_codes.h)
//   attend_stage      per sample and group of U heads (one per attention unit),
//                     the n new queries (normalised, times q_scale[h]) against
//                     those keys and values
//
// Stages (see fpqc_dataflow.h): each is one process of a DATAFLOW region of a
// kernel, for the rows [r0, r0 + nr) of a row tile (nr <= ROW_TILE; attention
// once for all rows of the launch), reading and writing through get() / put()
// -- streams or whole buffers as the plan says -- with the plan's buffers for
// its working memory (a stage declares no array of its own).  A row of the
// launch is row n * b + i of sample b (n new tokens per sample).  Attention
// is two regions: store_kv ends the one of mat_qkv (a row tile's keys and
// values go to the cache as they come); load_kv and attend start the next,
// once every row tile's keys are in the cache (every new query attends to
// every new key).
//
// Arithmetic: every + - * / is one fp32 operation in the order written (compile
// with -ffp-contract=off, never fast-math).  Every sum runs left to right and
// starts from its first term (not from 0.0f, which would turn a -0.0 sum into
// +0.0); a product is rounded to fp32 before it is added.
//
// Layouts: row-major.  A per-sample vector (scale, shift, gamma) is a whole
// buffer [B][C].  qkv's rows are [q | k | v], each C = H * D split into H
// heads of D channels; a KV cache is [B, L, C] in DDR (heads side by side
// like k and v in qkv), cache row j of sample b at (b * L + j) * C.  The cache
// holds keys normalised, so a cached key is never normalised again.
//
// Hardware: sizes are template parameters, no dynamic memory, no libm, no
// recursion; runtime counts are bounded by template parameters (tripcounts).
// The fp32 reductions are loop-carried chains: their loops pipeline at the
// adder's latency; the pragmas only schedule, they never change an
// operation's order.
#ifndef FPQC_BLOCK_H
#define FPQC_BLOCK_H

#include "fpqc_dataflow.h"
#include "fpqc_hls.h"

namespace fpqc {

// ------------------------------------------------------------- layernorm

// Affine-free layer normalisation of rows of C (row after row), each row in
// row[copy]; in fp32:
//   s    = ((x0 + x1) + x2) + ... + x(C-1)
//   mean = s / (float)C
//   d_i  = x_i - mean
//   v    = ((d0*d0 + d1*d1) + ...) / (float)C
//   y_i  = d_i * rsqrt_f32(v + eps)
template <int C, int ROW_TILE, int LANES, class IN, class OUT>
void layernorm_stage(IN& in, float (&row)[2][C], OUT& y, float eps, int r0, int nr, Tap tap) {
    static_assert(C >= 1 && C % LANES == 0, "layernorm_stage: LANES divides C");
    typename Cursor<IN>::type ci(r0, ROW_TILE);
    typename Cursor<OUT>::type co(r0, ROW_TILE);
    const float n = static_cast<float>(C);
    for (int i = 0; i < nr; ++i) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = ROW_TILE
        float* d = row[i % 2];
        float s = 0.0f;
        for (int c = 0; c < C; ++c) {
#pragma HLS PIPELINE
            const float v = get(in, ci, i, c);
            d[c] = v;
            s = (c == 0) ? v : s + v;
        }
        const float mean = s / n;
        float var = 0.0f;
        for (int c = 0; c < C; ++c) {
#pragma HLS PIPELINE
            const float dc = d[c] - mean;
            d[c] = dc;
            const float sq = dc * dc;
            var = (c == 0) ? sq : var + sq;
        }
        const float inv = rsqrt_f32(var / n + eps);
        for (int c = 0; c < C; ++c) {
#pragma HLS PIPELINE II = 1
#pragma HLS UNROLL factor = LANES
            const float v = d[c] * inv;
            put(y, co, i, c, v);
            tap.put(r0 + i, c, v);
        }
    }
}

// ------------------------------------------------------ modulate / residual

// AdaLN modulation: y = (x * (1.0f + scale[b][c])) + shift[b][c], b the
// sample of the row (n rows per sample), in column tiles of W.
template <int C, int W, int ROW_TILE, int LANES, int B, class IN, class OUT>
void modulate_stage(IN& in, float (&scale)[B][C], float (&shift)[B][C], OUT& y, int n, int r0, int nr, Tap tap) {
    static_assert(C % W == 0 && W % LANES == 0, "modulate_stage: LANES | W | C");
    typename Cursor<IN>::type ci(r0, ROW_TILE);
    typename Cursor<OUT>::type co(r0, ROW_TILE);
    for (int t = 0; t < C / W; ++t) {
        for (int i = 0; i < nr; ++i) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = ROW_TILE
            const int b = (r0 + i) / n;
            for (int j = 0; j < W; ++j) {
#pragma HLS PIPELINE II = 1
#pragma HLS UNROLL factor = LANES
                const int c = t * W + j;
                const float one_plus = 1.0f + scale[b][c];
                const float v = get(in, ci, i, c) * one_plus + shift[b][c];
                put(y, co, i, c, v);
                tap.put(r0 + i, c, v);
            }
        }
    }
}

// Gated residual: y = x + (f * gamma[b][c]), b the sample of the row, in
// column tiles of W (x and f in the same order).
template <int C, int W, int ROW_TILE, int LANES, int B, class IN_X, class IN_F, class OUT>
void residual_stage(IN_X& x, IN_F& f, float (&gamma)[B][C], OUT& y, int n, int r0, int nr, Tap tap) {
    static_assert(C % W == 0 && W % LANES == 0, "residual_stage: LANES | W | C");
    typename Cursor<IN_X>::type cx(r0, ROW_TILE);
    typename Cursor<IN_F>::type cf(r0, ROW_TILE);
    typename Cursor<OUT>::type co(r0, ROW_TILE);
    for (int t = 0; t < C / W; ++t) {
        for (int i = 0; i < nr; ++i) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = ROW_TILE
            const int b = (r0 + i) / n;
            for (int j = 0; j < W; ++j) {
#pragma HLS PIPELINE II = 1
#pragma HLS UNROLL factor = LANES
                const int c = t * W + j;
                const float xv = get(x, cx, i, c);
                const float v = xv + get(f, cf, i, c) * gamma[b][c];
                put(y, co, i, c, v);
                tap.put(r0 + i, c, v);
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

// -------------------------------------------------------------- attention

namespace detail {

// One query row q[u*D .. u*D + D) against the m keys and values of the head on
// attention unit u of U (its key j in row j*U + u of the unit-banked tiles),
// the scores in s[j*U + u], the context in o[u*D .. u*D + D):
//   s[j] = ((q0*k[j,0] + q1*k[j,1]) + ...)          over D
//   top  = max_j s[j]                                (NaN propagates)
//   e[j] = exp_f32(s[j] - top)
//   p[j] = e[j] / ((e0 + e1) + ...)                  over the keys
//   o[d] = ((p0*v[0,d] + p1*v[1,d]) + ...)           over the keys
// In each step of unit 0's score loop, move.step() moves a beat of the next
// heads' keys or values into the other copy of the tiles (double buffering).
template <int D, int MAX_KEYS, int U, class MOVE>
void attend_row(const float (&q)[U * D], const float (&kb)[U * MAX_KEYS][D], const float (&vb)[U * MAX_KEYS][D],
                int m, float (&s)[U * MAX_KEYS], float (&o)[U * D], int u, MOVE& move) {
    // One score per cycle: the D-term chain of one key is unrolled (the keys'
    // buffer is partitioned along D), successive keys are independent.
attend_scores:
    for (int j = 0; j < m; ++j) {
#pragma HLS loop_tripcount min = 1 max = MAX_KEYS
#pragma HLS PIPELINE II = 1
        if (u == 0) move.step();
        const int row = j * U + u;
        float acc = q[u * D] * kb[row][0];
    attend_dot:
        for (int d = 1; d < D; ++d) acc = acc + q[u * D + d] * kb[row][d];
        s[row] = acc;
    }
    float top = s[u];
attend_max:
    for (int j = 1; j < m; ++j) {
#pragma HLS loop_tripcount min = 0 max = MAX_KEYS - 1
#pragma HLS PIPELINE II = 1
        const float v = s[j * U + u];
        if (v != v || v > top) top = v;
    }
    float sum = 0.0f;
attend_exp:
    for (int j = 0; j < m; ++j) {
#pragma HLS loop_tripcount min = 1 max = MAX_KEYS
#pragma HLS PIPELINE
        const float e = exp_f32(s[j * U + u] - top);
        s[j * U + u] = e;
        sum = (j == 0) ? e : sum + e;
    }
attend_probs:
    for (int j = 0; j < m; ++j) {
#pragma HLS loop_tripcount min = 1 max = MAX_KEYS
#pragma HLS PIPELINE II = 1
        s[j * U + u] = s[j * U + u] / sum;
    }
    // Key by key, all D outputs at once: each o[d] is its own chain over the keys.
attend_values:
    for (int j = 0; j < m; ++j) {
#pragma HLS loop_tripcount min = 1 max = MAX_KEYS
#pragma HLS PIPELINE
        const float p = s[j * U + u];
    attend_axpy:
        for (int d = 0; d < D; ++d) {
            const float t = p * vb[j * U + u][d];
            o[u * D + d] = (j == 0) ? t : o[u * D + d] + t;
        }
    }
}

// Moves the keys, then the values, of each of `heads` heads (m rows of D, N
// floats a beat) from their streams into one copy of the unit-banked K / V
// tiles (head u of the group to rows j*U + u), a beat per step.
template <int D, int L, int N, int U>
struct KvMover {
    hls::stream<Beat<float, N> >& keys;
    hls::stream<Beat<float, N> >& values;
    float (&kt)[2][U * L][D];
    float (&vt)[2][U * L][D];
    int side, moved, total, per_head;  // beats

    KvMover(hls::stream<Beat<float, N> >& k, hls::stream<Beat<float, N> >& v, float (&kt_)[2][U * L][D],
            float (&vt_)[2][U * L][D])
        : keys(k), values(v), kt(kt_), vt(vt_), side(0), moved(0), total(0), per_head(0) {}

    void begin(int to_side, int m, int heads) {
        side = to_side;
        moved = 0;
        per_head = 2 * m * (D / N);
        total = m > 0 ? heads * per_head : 0;
    }

    void step() {
#pragma HLS INLINE
        if (moved >= total) return;
        const int u = moved / per_head;
        const int in_head = moved % per_head;
        const bool key = in_head < per_head / 2;
        const int at = key ? in_head : in_head - per_head / 2;
        const Beat<float, N> beat = key ? keys.read() : values.read();
        float(&tile)[U * L][D] = key ? kt[side] : vt[side];
        for (int e = 0; e < N; ++e) {
#pragma HLS UNROLL
            tile[(at / (D / N)) * U + u][(at % (D / N)) * N + e] = beat.v[e];
        }
        ++moved;
    }

    void rest() {
        while (moved < total) {
#pragma HLS LOOP_TRIPCOUNT min = 0 max = 2 * U * L * (D / N)
#pragma HLS PIPELINE II = 1
            step();
        }
    }
};

}  // namespace detail

// ------------------------------------------------------------- KV cache

// The new keys and values of rows [r0, r0 + nr) into the caches, and their
// queries into the whole buffer q (its first C columns: q may be a whole
// buffer of all of qkv, which then is also the input).  qkv comes in column tiles of W (a whole
// number of heads): a query element goes to q; a key head row collects in
// kv[0], is normalised (l2_inv_norm<D>, then key * inv) and written to
// cache row offset + i of its sample; a value goes to the cache as it comes.
//
//   C, H  channels and heads (D = C / H);  B, L  samples and cache rows
//   n  new rows per sample;  offset  cache row of the first new one
template <int C, int H, int W, int B, int L, int ROW_TILE, class IN, int RQ, int QC>
void store_kv_stage(IN& qkv, float (&q)[RQ][QC], float (&kv)[1][C / H], float* k_cache, float* v_cache, int n,
                    int offset, float eps, int r0, int nr) {
    constexpr int D = C / H;
    static_assert(H >= 1 && C % H == 0 && (3 * C) % W == 0 && W % D == 0, "store_kv_stage: W holds whole heads");
    typename Cursor<IN>::type ci(r0, ROW_TILE);
    const int q_base = RQ > ROW_TILE ? r0 : 0;
    for (int t = 0; t < 3 * C / W; ++t) {
        for (int i = 0; i < nr; ++i) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = ROW_TILE
            const int b = (r0 + i) / n;
            const long cache_row = (long)(b * L + offset + (r0 + i) % n) * C;
            for (int j = 0; j < W; ++j) {
#pragma HLS PIPELINE II = 1
                const int c = t * W + j;
                const float v = get(qkv, ci, i, c);
                const int part = c / C;  // 0: q, 1: k, 2: v
                const int e = c % C;
                const int d = e % D;
                if (part == 0) {
                    q[q_base + i][e] = v;
                } else if (part == 2) {
                    v_cache[cache_row + e] = v;
                } else {
                    float* head = kv[0];
                    head[d] = v;
                    if (d == D - 1) {
                        const float inv = l2_inv_norm<D>(head, eps);
                        for (int k = 0; k < D; ++k) {
#pragma HLS PIPELINE II = 1
                            k_cache[cache_row + e - (D - 1) + k] = head[k] * inv;
                        }
                    }
                }
            }
        }
    }
}

// Per sample b and head h (in that order), the cache rows [0, offset + n) of
// the head's D channels, keys then values, N floats a beat.
template <int C, int H, int B, int L, int N>
void load_kv_stage(float* k_cache, float* v_cache, hls::stream<Beat<float, N> >& keys,
                   hls::stream<Beat<float, N> >& values, int n, int offset) {
    constexpr int D = C / H;
    static_assert(D % N == 0, "load_kv_stage: N divides the head dim");
    const int m = offset + n;
    Beat<float, N> beat;
    for (int b = 0; b < B; ++b) {
        for (int h = 0; h < H; ++h) {
            for (int p = 0; p < 2; ++p) {
                float* cache = p == 0 ? k_cache : v_cache;
                for (int j = 0; j < m; ++j) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = L
                    const long row = (long)(b * L + j) * C + h * D;
                    for (int d = 0; d < D; ++d) {
#pragma HLS PIPELINE II = 1
                        beat.v[d % N] = cache[row + d];
                        if (d % N == N - 1) (p == 0 ? keys : values).write(beat);
                    }
                }
            }
        }
    }
}

// Per sample b and group of U heads h = g*U + u (attention unit u; the last
// group may be short): the group's keys and values (moved from their streams
// into kt / vt[copy] while the previous group computes from the other copy),
// then each new query i on every unit at once: q = q_buffer row * l2_inv_norm
// (in query[u*D ..]), times q_scale[h], attend_row against the m = offset + n
// rows (scores in scores[i % 2], the context in context[u*D ..]), written to
// the result buffer.
template <int C, int H, int B, int L, int U, int N, int RQ, int QC, int RO>
void attend_stage(hls::stream<Beat<float, N> >& keys, hls::stream<Beat<float, N> >& values,
                  float (&kt)[2][U * L][C / H], float (&vt)[2][U * L][C / H], float (&q)[RQ][QC], float (&q_scale)[H],
                  float (&scores)[2][U * L], float (&query)[U * (C / H)], float (&context)[U * (C / H)],
                  float (&out)[RO][C], int n, int offset, float eps, Tap tap) {
    constexpr int D = C / H;
    constexpr int GROUPS = (H + U - 1) / U;
    const int m = offset + n;
    detail::KvMover<D, L, N, U> mover(keys, values, kt, vt);
    mover.begin(0, m, H < U ? H : U);
    mover.rest();
    for (int bg = 0; bg < B * GROUPS; ++bg) {
        const int b = bg / GROUPS;
        const int h0 = (bg % GROUPS) * U;
        const int cur = bg % 2;
        const int next_h0 = ((bg + 1) % GROUPS) * U;
        mover.begin(1 - cur, bg + 1 < B * GROUPS ? m : 0, H - next_h0 < U ? H - next_h0 : U);
        for (int i = 0; i < n; ++i) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = RQ / B
            const int row = b * n + i;
            for (int u = 0; u < U; ++u) {
#pragma HLS UNROLL
                const int h = h0 + u;
                if (h >= H) continue;
                const float qs = q_scale[h];
                const float inv = l2_inv_norm<D>(&q[row][h * D], eps);
                for (int d = 0; d < D; ++d) {
#pragma HLS PIPELINE II = 1
                    query[u * D + d] = (q[row][h * D + d] * inv) * qs;
                }
                detail::attend_row<D, L, U>(query, kt[cur], vt[cur], m, scores[i % 2], context, u, mover);
                for (int d = 0; d < D; ++d) {
#pragma HLS PIPELINE II = 1
                    out[row][h * D + d] = context[u * D + d];
                    tap.put(row, h * D + d, context[u * D + d]);
                }
            }
        }
        mover.rest();
    }
}

}  // namespace fpqc

#endif  // FPQC_BLOCK_H
