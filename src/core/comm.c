/* comm.c: the one-process ms_comm (comm.h) and the exact all-reduce over any comm. It lives
 * in core, not par, because library modules call it; par only supplies the collectives. */
#include "mstars/comm.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#if defined(__x86_64__) && defined(__SSE2__)
#include <immintrin.h>
#endif
#include <string.h>
#include <sys/time.h>

static ms_status serial_barrier(void) { return MS_OK; }
static ms_status serial_bcast(void *buf, size_t n) { (void)buf; (void)n; return MS_OK; }
static ms_status serial_status(ms_status st) { return st; }
static ms_status serial_sum_f(float *buf, size_t n) { (void)buf; (void)n; return MS_OK; }
static ms_status serial_sum_d(double *buf, size_t n) { (void)buf; (void)n; return MS_OK; }
static ms_status serial_sum_l(long *buf, size_t n) { (void)buf; (void)n; return MS_OK; }
static double serial_wtime(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + 1e-6 * (double)tv.tv_usec;
}

static const ms_comm serial = {
    0, 1, serial_barrier, serial_bcast, serial_status, serial_status,
    serial_sum_f, serial_sum_d, serial_sum_l, serial_sum_d, serial_wtime,
};

const ms_comm *ms_comm_serial(void) { return &serial; }

/* max |g| of g[0..n) into *m; returns 1 when a value is inf or NaN. */
static int absmax(const float *g, size_t n, float *m)
{
    size_t i = 0;
    float mx = *m;
    int bad = 0;
#if defined(__AVX512F__) && defined(__AVX512DQ__)
    __m512 vm = _mm512_setzero_ps();
    const __m512 big = _mm512_set1_ps(FLT_MAX);
    __mmask16 nf = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 a = _mm512_abs_ps(_mm512_loadu_ps(g + i));
        nf |= _mm512_cmp_ps_mask(a, big, _CMP_NLE_UQ); /* > FLT_MAX or NaN */
        vm = _mm512_max_ps(vm, a);
    }
    bad = nf != 0;
    float v = _mm512_reduce_max_ps(vm);
    mx = v > mx ? v : mx;
#endif
    for (; i < n; i++) {
        float a = fabsf(g[i]);
        bad |= !(a <= FLT_MAX); /* inf or NaN */
        mx = a > mx ? a : mx;
    }
    *m = mx;
    return bad;
}

/* acc[i] += round-to-nearest(g[i] * sc): exact in double (float mantissa times a power of
 * two), then converted with the current rounding mode (nearest), as lrint. */
static void accumulate(long *acc, const float *g, size_t n, double sc)
{
    size_t i = 0;
#if defined(__AVX512F__) && defined(__AVX512DQ__)
    const __m512d vs = _mm512_set1_pd(sc);
    for (; i + 8 <= n; i += 8) {
        __m512d x = _mm512_mul_pd(_mm512_cvtps_pd(_mm256_loadu_ps(g + i)), vs);
        __m512i q = _mm512_add_epi64(_mm512_loadu_si512(acc + i), _mm512_cvtpd_epi64(x));
        _mm512_storeu_si512(acc + i, q);
    }
#endif
#if defined(__x86_64__) && defined(__SSE2__)
    /* cvtsd2si rounds by MXCSR (nearest), as lrint, without libm's call per value */
    for (; i < n; i++) acc[i] += _mm_cvtsd_si64(_mm_set_sd((double)g[i] * sc));
#else
    for (; i < n; i++) acc[i] += lrint((double)g[i] * sc);
#endif
}

ms_status ms_comm_sum_exact(const ms_comm *c, const float *shards, size_t nb, size_t n,
                            const ms_segments *segs, size_t n_global, long *isum,
                            double *scale, float *out, size_t *bad_segment)
{
    /* 1. the largest |g| of each segment over every rank (non-finite -> +inf) */
    for (size_t k = 0; k < segs->n; k++) {
        float m = 0.0f;
        int bad = 0;
        for (size_t s = 0; s < nb; s++)
            bad |= absmax(shards + s * n + segs->off[k], segs->len[k], &m);
        scale[k] = bad ? INFINITY : (double)m;
    }
    MS_TRY(c->max_d(scale, segs->n));
    /* 2. fixed point per segment: scale 2^(62 - e), max|g| n_global < 2^e, so no sum of
     *    n_global values can overflow 2^62; g * scale is exact in double (float mantissa,
     *    power-of-two scale), and lrint rounds it to the nearest unit */
    memset(isum, 0, n * sizeof *isum);
    for (size_t k = 0; k < segs->n; k++) {
        if (!isfinite(scale[k])) {
            if (bad_segment) *bad_segment = k;
            return MS_ENOPROG;
        }
        int ex = 0;
        if (scale[k] > 0.0) frexp(scale[k] * (double)(n_global ? n_global : 1), &ex);
        scale[k] = scale[k] > 0.0 ? ldexp(1.0, 62 - ex) : 1.0;
        const double sc = scale[k];
        long *acc = isum + segs->off[k];
        for (size_t s = 0; s < nb; s++) accumulate(acc, shards + s * n + segs->off[k], segs->len[k], sc);
    }
    /* 3. exact integer sum over ranks, back to float */
    if (c->size > 1) MS_TRY(c->sum_l(isum, n));
    for (size_t k = 0; k < segs->n; k++) {
        const double inv = 1.0 / scale[k];
        for (size_t i = segs->off[k]; i < segs->off[k] + segs->len[k]; i++)
            out[i] = (float)((double)isum[i] * inv);
    }
    return MS_OK;
}
