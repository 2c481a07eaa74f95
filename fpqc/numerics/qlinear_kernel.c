/* A quantized linear layer in one pass: exact group sums in registers, combined by the contract.
 *
 * fpqc/numerics/products.py defines the layer: the exact integer sum of each group of `gs`
 * products of units, then, group by group in ascending order, every operation one float32
 * rounding and no fused multiply-add:
 *
 *     acc = +0.0f
 *     for g in 0 .. G-1:
 *         p   = float32(P[g, t, o]) * unit
 *         t_s = xs[g, t] * ws[g, o]
 *         acc = acc + (t_s * p)
 *     y = acc (+ bias[o])
 *
 * BLAS computes the sums P group by group and writes G arrays [T, O] that the combining loop reads
 * back; here a tile of MR rows by NR outputs keeps its sums and its accumulators in registers
 * across all groups.  The sums are of integers below 2^24 (the caller checks, with
 * exact_sum_dtype), so float32 multiply-adds compute them exactly in any order, fused or not:
 * `tile_sums` alone is compiled with contraction allowed.  Everything else is compiled with
 * -ffp-contract=off and without fast-math, like the HLS C++.
 *
 * Codes become float32 units through a table (`table[code]`) while the operands are packed:
 * activation rows into [K][MR] blocks (one broadcast a row and step), weight columns into
 * [K][NR] panels (NR outputs side by side).  Rows past T and outputs past O are padded with
 * zero units and never stored.
 */

#include <stdint.h>

#ifdef __AVX512F__
enum { VL = 16, NV = 2, MR = 12 };
#else
enum { VL = 8, NV = 3, MR = 4 };
#endif
enum { NR = VL * NV, PACK_STEPS = 64 };

typedef float vf __attribute__((vector_size(VL * 4)));
typedef float vf_unaligned __attribute__((vector_size(VL * 4), aligned(4)));

/* s[i * NV + v] = sum over k < kn of a[k * MR + i] * panel[k * NR + v * VL + lane]: exact sums of units. */
__attribute__((noinline, optimize("fp-contract=fast")))
static void tile_sums(const float *a, const float *panel, long kn, vf *s)
{
    vf acc[MR][NV];
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) acc[i][v] = (vf){0};
    for (long k = 0; k < kn; k++) {
        vf b[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) b[v] = *(const vf_unaligned *)(panel + k * NR + v * VL);
#pragma GCC unroll 16
        for (int i = 0; i < MR; i++) {
            float x = a[k * MR + i];
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) acc[i][v] += x * b[v];
        }
    }
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) s[i * NV + v] = acc[i][v];
}

long qlinear_rows_per_tile(void) { return MR; }

long qlinear_outputs_per_panel(void) { return NR; }

/* Rows [t0, t1) of codes [T, K] (t0 a multiple of MR) as units into blocks [K][MR], from packed + t0 * K. */
void qlinear_pack_rows(const uint8_t *codes, const float *table, long rows, long k_size, long t0, long t1,
                       float *packed)
{
    for (long tile = t0; tile < t1; tile += MR) {
        float *block = packed + tile * k_size;
        for (int i = 0; i < MR; i++) {
            long t = tile + i;
            if (t < rows) {
                const uint8_t *row = codes + t * k_size;
                for (long k = 0; k < k_size; k++) block[k * MR + i] = table[row[k]];
            } else {
                for (long k = 0; k < k_size; k++) block[k * MR + i] = 0.0f;
            }
        }
    }
}

/* Outputs [o0, o1) of the layer for every row, from rows packed by qlinear_pack_rows (padded to whole
 * tiles) and weight codes [O, K]; `panel` holds (K + G) * NR floats: the weight's units, then its scales
 * (zero past O).  xs [G, T], ws [G, O], out [T, O]. */
void qlinear_outputs(const float *packed_rows, const uint8_t *w_codes, const float *w_table, const float *xs,
                     const float *ws, float unit, const float *bias, float *out, long rows, long outputs,
                     long k_size, long group_size, long o0, long o1, float *panel)
{
    long groups = k_size / group_size;
    float *scales = panel + k_size * NR;
    for (long ob = o0; ob < o1; ob += NR) {
        long on = o1 - ob < NR ? o1 - ob : NR;
        for (long k0 = 0; k0 < k_size; k0 += PACK_STEPS) {  /* a block of PACK_STEPS x NR stays in L1 */
            long kn = k_size - k0 < PACK_STEPS ? k_size - k0 : PACK_STEPS;
            for (long j = 0; j < NR; j++) {
                const uint8_t *column = w_codes + (ob + j) * k_size + k0;
                float *to = panel + k0 * NR + j;
                if (j < on)
                    for (long k = 0; k < kn; k++) to[k * NR] = w_table[column[k]];
                else
                    for (long k = 0; k < kn; k++) to[k * NR] = 0.0f;
            }
        }
        for (long g = 0; g < groups; g++)
            for (long j = 0; j < NR; j++) scales[g * NR + j] = j < on ? ws[g * outputs + ob + j] : 0.0f;
        for (long t0 = 0; t0 < rows; t0 += MR) {
            long tn = rows - t0 < MR ? rows - t0 : MR;
            const float *block = packed_rows + t0 * k_size;
            float acc[MR][NR] = {{0.0f}};
            for (long g = 0; g < groups; g++) {
                vf sums[MR * NV];
                tile_sums(block + g * group_size * MR, panel + g * group_size * NR, group_size, sums);
                const float *s = (const float *)sums;
                const float *w_scale = scales + g * NR;
                for (int i = 0; i < MR; i++) {
                    float x_scale = i < tn ? xs[g * rows + t0 + i] : 0.0f;
                    for (int j = 0; j < NR; j++) {
                        float p = s[i * NR + j] * unit;
                        float t_s = x_scale * w_scale[j];
                        acc[i][j] = acc[i][j] + t_s * p;
                    }
                }
            }
            for (long i = 0; i < tn; i++) {
                float *row = out + (t0 + i) * outputs + ob;
                for (long j = 0; j < on; j++) row[j] = bias ? acc[i][j] + bias[ob + j] : acc[i][j];
            }
        }
    }
}
