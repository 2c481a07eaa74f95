/* Attention's two ordered products, with tiles of sums in registers.
 *
 * fpqc/numerics/attention.py defines scores and weighted sums the same way:
 *
 *     out[b][i][c] = ((a[b][i][0] * rows[b][0][c] + a[b][i][1] * rows[b][1][c]) + ...)
 *
 * from the first product (not from +0.0), left to right over r, every product rounded to float32
 * before it is added: compiled with -ffp-contract=off and without fast-math, so that `acc + x * y`
 * stays a multiplication and an addition.  (Scores: a = queries [n][D], rows = keys by dimension
 * [D][m]; weighted sums: a = probabilities [n][m], rows = values [m][D].)
 *
 * A tile of MR rows of `a` by NR columns keeps its sums in registers for the whole of r; rows of
 * `a` past n read a zero row, columns past `width` a zero-padded copy of the last columns, and
 * neither is stored.
 */

#include <string.h>

#ifdef __AVX512F__
enum { VL = 16, NV = 2, MR = 12 };
#else
enum { VL = 8, NV = 2, MR = 6 };
#endif
enum { NR = VL * NV };

typedef float vf __attribute__((vector_size(VL * 4)));
typedef float vf_unaligned __attribute__((vector_size(VL * 4), aligned(4)));

/* s[i * NV + v] = the ordered sum over r < terms of a_i[r] * rows[r * ld + v * VL + lane], for the MR rows
 * a_i = a + i * lda, from the first product. */
__attribute__((noinline))
static void tile_sums(const float *a, long lda, const float *rows, long ld, long terms, vf *s)
{
    vf acc[MR][NV];
    vf b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) b[v] = *(const vf_unaligned *)(rows + v * VL);
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
        float x = a[i * lda];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) acc[i][v] = x * b[v];
    }
    for (long r = 1; r < terms; r++) {
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) b[v] = *(const vf_unaligned *)(rows + r * ld + v * VL);
#pragma GCC unroll 16
        for (int i = 0; i < MR; i++) {
            float x = a[i * lda + r];
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) acc[i][v] = acc[i][v] + x * b[v];
        }
    }
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) s[i * NV + v] = acc[i][v];
}

long combined_rows_work_floats(long terms) { return MR * terms + terms * NR; }

/* out[b] = a[b] (n x terms) combined with rows[b] (terms x width) for b in [b0, b1); `work` holds
 * combined_rows_work_floats(terms) floats (a zero-padded tile of `a`, the padded last columns). */
void combined_rows(const float *a, const float *rows, float *out, long n, long terms, long width, long b0, long b1,
                   float *work)
{
    float *a_tail = work, *rows_tail = work + MR * terms;
    long whole = width / NR * NR;
    for (long b = b0; b < b1; b++) {
        const float *ab = a + b * n * terms, *rb = rows + b * terms * width;
        float *ob = out + b * n * width;
        if (whole < width)
            for (long r = 0; r < terms; r++)
                for (long c = 0; c < NR; c++) rows_tail[r * NR + c] = whole + c < width ? rb[r * width + whole + c] : 0.0f;
        for (long i0 = 0; i0 < n; i0 += MR) {
            long tn = n - i0 < MR ? n - i0 : MR;
            const float *tile = ab + i0 * terms;
            if (tn < MR) {
                memset(a_tail, 0, sizeof(float) * MR * terms);
                memcpy(a_tail, tile, sizeof(float) * tn * terms);
                tile = a_tail;
            }
            for (long c0 = 0; c0 < width; c0 += NR) {
                vf sums[MR * NV];
                int tail = c0 == whole;
                tile_sums(tile, terms, tail ? rows_tail : rb + c0, tail ? NR : width, terms, sums);
                const float *s = (const float *)sums;
                long cn = width - c0 < NR ? width - c0 : NR;
                for (long i = 0; i < tn; i++) memcpy(ob + (i0 + i) * width + c0, s + i * NR, sizeof(float) * cn);
            }
        }
    }
}
