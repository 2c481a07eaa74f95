/* The float-level linear layer, bit for bit, with its sums in registers.
 *
 * fpqc/numerics/float_linear.py defines the layer: for every row t and output o,
 *
 *     acc = +0.0 (double);  for k = 0, 1, ..., K-1:  acc = acc + double(x[t][k]) * double(w[o][k])
 *     y[t][o] = float(acc)
 *
 * The product of two floats is exact in double, so a fused multiply-add rounds exactly where the
 * contract's addition does (fma(a, b, acc) = round(a*b + acc) = round(round(a*b) + acc)), and the
 * sum of an exact -0 product with +0.0 is +0.0 either way: `tile_dots` alone is compiled with
 * contraction allowed, everything else with -ffp-contract=off and without fast-math.
 *
 * A tile of MR rows by NR outputs keeps its NR * MR sums in registers for K_BLOCK steps of k at a
 * time, in the contract's order; rows are packed as doubles into [K][MR] blocks (one broadcast a row
 * and step), weight columns into [K_BLOCK][NR] panels.  Between blocks of k (K > K_BLOCK) the sums
 * wait in `partial` as doubles, which changes no bit; a long K would otherwise stream every row's
 * whole length from memory for each panel.  Rows past T and outputs past O are zero and never stored.
 */

#include <stdint.h>

#ifdef __AVX512F__
enum { VL = 8, NV = 3, MR = 8 };
#else
enum { VL = 4, NV = 3, MR = 4 };
#endif
enum { NR = VL * NV, PACK_STEPS = 64, K_BLOCK = 1024 };

typedef double vd __attribute__((vector_size(VL * 8)));
typedef double vd_unaligned __attribute__((vector_size(VL * 8), aligned(8)));

/* s[i * NV + v] = the ordered sum over k < kn of a[k * MR + i] * panel[k * NR + v * VL + lane], from
 * +0.0, or with `resume` from s[i * NV + v] (the sum of the k before). */
__attribute__((noinline, optimize("fp-contract=fast")))
static void tile_dots(const double *a, const double *panel, long kn, vd_unaligned *s, int resume)
{
    vd acc[MR][NV];
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) acc[i][v] = resume ? s[i * NV + v] : (vd){0};
    for (long k = 0; k < kn; k++) {
        vd b[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) b[v] = *(const vd_unaligned *)(panel + k * NR + v * VL);
#pragma GCC unroll 16
        for (int i = 0; i < MR; i++) {
            double x = a[k * MR + i];
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) acc[i][v] += x * b[v];
        }
    }
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) s[i * NV + v] = acc[i][v];
}

long float_linear_rows_per_tile(void) { return MR; }

long float_linear_outputs_per_panel(void) { return NR; }

long float_linear_k_block(void) { return K_BLOCK; }

/* Rows [t0, t1) of x [T, K] (t0 a multiple of MR) as doubles into blocks [K][MR], from packed + t0 * K. */
void float_linear_pack_rows(const float *x, long rows, long k_size, long t0, long t1, double *packed)
{
    for (long tile = t0; tile < t1; tile += MR) {
        double *block = packed + tile * k_size;
        for (int i = 0; i < MR; i++) {
            long t = tile + i;
            for (long k = 0; k < k_size; k++) block[k * MR + i] = t < rows ? (double)x[t * k_size + k] : 0.0;
        }
    }
}

/* Steps [kb, kb + kn) of weight columns [ob, ob + on) of w [O, K] as doubles into panel [kn][NR]; columns
 * past `on` are zero. */
static void pack_panel(const float *w, long k_size, long ob, long on, long kb, long kn_all, double *panel)
{
    for (long k0 = 0; k0 < kn_all; k0 += PACK_STEPS) {  /* a block of PACK_STEPS x NR stays in L1 */
        long kn = kn_all - k0 < PACK_STEPS ? kn_all - k0 : PACK_STEPS;
        for (long j = 0; j < NR; j++) {
            const float *column = w + (ob + j) * k_size + kb + k0;
            double *to = panel + k0 * NR + j;
            if (j < on)
                for (long k = 0; k < kn; k++) to[k * NR] = (double)column[k];
            else
                for (long k = 0; k < kn; k++) to[k * NR] = 0.0;
        }
    }
}

/* Rows [t0, t0 + tn) and outputs [ob, ob + on) of out [T, O] from a tile's sums s [MR][NR], rounded to float. */
static void store_tile(const double *s, float *out, long outputs, long t0, long tn, long ob, long on)
{
    for (long i = 0; i < tn; i++) {
        float *row = out + (t0 + i) * outputs + ob;
        for (long j = 0; j < on; j++) row[j] = (float)s[i * NR + j];
    }
}

/* Outputs [o0, o1) for every row, from rows packed by float_linear_pack_rows and w [O, K]; `panel` holds
 * K_BLOCK * NR doubles.  out [T, O].  With K <= K_BLOCK each tile's sums go straight to out; a longer K
 * takes one block of k for all the outputs, then the next (each block of every row is read from cache
 * once a panel), its sums waiting in `partial`: panel p's (outputs p * NR ...) at
 * partial + p * ceil(T / MR) * MR * NR, tile of rows after tile. */
void float_linear_outputs(const double *packed_rows, const float *w, float *out, long rows, long outputs,
                          long k_size, long o0, long o1, double *panel, double *partial)
{
    if (k_size <= K_BLOCK) {
        for (long ob = o0; ob < o1; ob += NR) {
            long on = o1 - ob < NR ? o1 - ob : NR;
            pack_panel(w, k_size, ob, on, 0, k_size, panel);
            for (long t0 = 0; t0 < rows; t0 += MR) {
                vd sums[MR * NV];
                tile_dots(packed_rows + t0 * k_size, panel, k_size, (vd_unaligned *)sums, 0);
                store_tile((const double *)sums, out, outputs, t0, rows - t0 < MR ? rows - t0 : MR, ob, on);
            }
        }
        return;
    }
    const long tiles = (rows + MR - 1) / MR;
    for (long kb = 0; kb < k_size; kb += K_BLOCK) {
        long kb_n = k_size - kb < K_BLOCK ? k_size - kb : K_BLOCK;
        for (long ob = o0; ob < o1; ob += NR) {
            pack_panel(w, k_size, ob, o1 - ob < NR ? o1 - ob : NR, kb, kb_n, panel);
            double *sums = partial + (ob / NR) * tiles * MR * NR;
            for (long t0 = 0; t0 < rows; t0 += MR)
                tile_dots(packed_rows + t0 * k_size + kb * MR, panel, kb_n, (vd_unaligned *)(sums + t0 * NR), kb > 0);
        }
    }
    for (long ob = o0; ob < o1; ob += NR) {
        const double *sums = partial + (ob / NR) * tiles * MR * NR;
        for (long t0 = 0; t0 < rows; t0 += MR)
            store_tile(sums + t0 * NR, out, outputs, t0, rows - t0 < MR ? rows - t0 : MR, ob, o1 - ob < NR ? o1 - ob : NR);
    }
}
