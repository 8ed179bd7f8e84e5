/* convolve.c: the kernel-smoothing engine shared by the pseudo-continuum (Z25 Eq. 2-3) and
 * the synthetic LSF (method.md 2.1).
 *
 * Speed: the pseudo-continuum of one observed spectrum is a 301-tap masked smoothing of
 * 2901 pixels, which must cost tens of microseconds. So
 *   - the numerator sum_i g_i x_i k(j - i) is one plain correlation of the zero-padded
 *     g*x with the precomputed kernel, register-blocked over outputs (8 vector
 *     accumulators of outputs j..j+8V-1, the taps streamed), branch-free;
 *   - the denominator sum_i g_i k(j - i) is not convolved: with every pixel good it is a
 *     difference of the kernel's prefix sums (exact at the grid ends too); with a few bad
 *     pixels, each bad pixel's kernel is subtracted from that (sparse correction), and
 *     pixels where the result is small (mostly bad neighbourhood, where the subtraction
 *     would lose digits) are summed directly; with many bad pixels, g is convolved.
 * The vector type matches the ISA the file is compiled for (AVX-512 / AVX / SSE2), so that
 * builds without -march=native neither change the vector ABI nor emulate wide vectors. */
#include "spec_internal.h"

#include <string.h>

#if defined(__AVX512F__)
#define VW 8
#elif defined(__AVX__)
#define VW 4
#else
#define VW 2
#endif
#define NACC 8            /* vector accumulators per block */
#define BLOCK (VW * NACC) /* outputs per block */

_Static_assert(BLOCK <= MS_SPEC_CONV_BLOCK_MAX, "block larger than the padding");

typedef double vd __attribute__((vector_size(VW * sizeof(double))));

static inline vd vload(const double *p)
{
    vd v;
    memcpy(&v, p, sizeof v);
    return v;
}

size_t ms_spec_conv_pad_len(size_t n, size_t nk)
{
    size_t blocks = (n + MS_SPEC_CONV_BLOCK_MAX - 1) / MS_SPEC_CONV_BLOCK_MAX;
    return blocks * MS_SPEC_CONV_BLOCK_MAX + nk;
}

void ms_spec_conv(const double *restrict x, size_t n, const double *restrict kern, size_t nk,
                  double *restrict num)
{
    for (size_t j0 = 0; j0 < n; j0 += BLOCK) {
        vd a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, a4 = {0}, a5 = {0}, a6 = {0}, a7 = {0};
        const double *xb = x + j0;
        for (size_t m = 0; m < nk; m++) {
            const double w = kern[m];
            const double *p = xb + m;
            a0 += w * vload(p);
            a1 += w * vload(p + VW);
            a2 += w * vload(p + 2 * VW);
            a3 += w * vload(p + 3 * VW);
            a4 += w * vload(p + 4 * VW);
            a5 += w * vload(p + 5 * VW);
            a6 += w * vload(p + 6 * VW);
            a7 += w * vload(p + 7 * VW);
        }
        double acc[BLOCK];
        memcpy(acc, &a0, sizeof a0);
        memcpy(acc + VW, &a1, sizeof a1);
        memcpy(acc + 2 * VW, &a2, sizeof a2);
        memcpy(acc + 3 * VW, &a3, sizeof a3);
        memcpy(acc + 4 * VW, &a4, sizeof a4);
        memcpy(acc + 5 * VW, &a5, sizeof a5);
        memcpy(acc + 6 * VW, &a6, sizeof a6);
        memcpy(acc + 7 * VW, &a7, sizeof a7);
        size_t lim = n - j0 < BLOCK ? n - j0 : BLOCK;
        memcpy(num + j0, acc, lim * sizeof *acc);
    }
}

/* sum of kern[m] over the taps m that land inside 0..n-1 for output j (every pixel good). */
static double den_all_good(ms_spec_kernel k, size_t n, size_t j)
{
    const size_t K = k.half;
    size_t lo = j < K ? K - j : 0;
    size_t right = n - 1 - j; /* pixels to the right of j */
    size_t hi = right < K ? K + right : 2 * K;
    return k.cum[hi] - (lo ? k.cum[lo - 1] : 0.0);
}

/* Direct sum of the kernel over the good pixels within reach of j (branch-free). */
static double den_direct(ms_spec_kernel k, const uint8_t *good, size_t n, size_t j)
{
    const size_t K = k.half;
    size_t i0 = j < K ? 0 : j - K;
    size_t i1 = j + K < n - 1 ? j + K : n - 1;
    const double *kk = k.kern + (i0 + K - j);
    double s = 0.0;
    for (size_t t = 0; t <= i1 - i0; t++) s += kk[t] * (double)(good[i0 + t] != 0);
    return s;
}

void ms_spec_smooth_den_full(ms_spec_kernel k, size_t n, double *den_full)
{
    for (size_t j = 0; j < n; j++) den_full[j] = den_all_good(k, n, j);
}

/* The sparse subtraction leaves an absolute error of a few ulp of the all-good sum per
 * subtracted pixel. A denominator below this fraction of the one-sided sum cum[K] (so at
 * least ~4x below the all-good value) is recomputed directly; that bounds the relative
 * error of the others at ~1e-13 and makes "no good pixel in reach" exactly 0. */
#define DEN_RECOMPUTE_FRACTION 0.5

void ms_spec_smooth(const double *x, const uint8_t *good, size_t n, ms_spec_kernel k,
                    ms_spec_smooth_scratch s, double *out)
{
    const size_t K = k.half, nk = 2 * K + 1;
    const size_t padn = ms_spec_conv_pad_len(n, nk);
    double *restrict xpad = s.xpad;

    /* numerator: g*x, zero-padded by K in front and to the padded length behind */
    memset(xpad, 0, K * sizeof *xpad);
    if (good) {
        for (size_t j = 0; j < n; j++) xpad[K + j] = good[j] ? x[j] : 0.0;
    } else {
        memcpy(xpad + K, x, n * sizeof *x);
    }
    memset(xpad + K + n, 0, (padn - K - n) * sizeof *xpad);
    ms_spec_conv(xpad, n, k.kern, nk, s.num);

    /* denominator */
    size_t nbad = 0;
    if (good)
        for (size_t j = 0; j < n; j++) {
            s.badlist[nbad] = j;
            nbad += !good[j];
        }
    double *restrict den = s.den;
    if (nbad > n / 4) {
        for (size_t j = 0; j < n; j++) xpad[K + j] = good[j] ? 1.0 : 0.0;
        ms_spec_conv(xpad, n, k.kern, nk, den);
    } else {
        if (s.den_full)
            memcpy(den, s.den_full, n * sizeof *den);
        else
            ms_spec_smooth_den_full(k, n, den);
        for (size_t b = 0; b < nbad; b++) {
            size_t i = s.badlist[b];
            size_t j0 = i < K ? 0 : i - K;
            size_t j1 = i + K < n - 1 ? i + K : n - 1;
            /* kern is symmetric: k(j - i) = kern[K + j - i], forward in j */
            const double *kk = k.kern + (j0 + K - i);
            double *dd = den + j0;
            for (size_t t = 0; t <= j1 - j0; t++) dd[t] -= kk[t];
        }
        if (nbad > 0) {
            /* cum[K], the one-sided sum, is the smallest all-good denominator */
            const double small = DEN_RECOMPUTE_FRACTION * k.cum[K];
            for (size_t j = 0; j < n; j++)
                if (den[j] < small) den[j] = den_direct(k, good, n, j);
        }
    }

    /* Where no good pixel is within reach, den is exactly 0 and so is num (bad pixels
     * enter as 0), and 0 / 0 gives the NaN promised; this keeps the loop vectorisable. */
    const double *restrict num = s.num;
    double *restrict o = out;
    for (size_t j = 0; j < n; j++) o[j] = num[j] / den[j];
}
