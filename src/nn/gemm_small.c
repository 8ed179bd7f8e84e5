/* gemm_small.c: C = A B^T with every element computed on its own (see nn_internal.h).
 *
 * Two jobs. (1) Batch-1 inference multiplies one to nine activation rows by a large weight
 * matrix (The Payne's output layer: 2901 x 300 floats, 3.5 MB); a general GEMM packs that
 * matrix on every call, which costs more than the product; this kernel streams each weight
 * row once per MB rows of A. (2) Results that do not depend on how the work is cut: a BLAS
 * GEMM picks its kernels and blocking by the matrix sizes, so row i of C = A B^T changes in
 * the last bits with the number of rows of A (OpenBLAS 0.3.21, Haswell kernels: row 0 of a
 * [M, 2901] product differs for M = 1 and M = 5; benchmarks/RESULTS.md, "Determinism").
 * Here C[i][j] is one fixed sequence of operations on row i of A and row j of B: VL
 * independent lanes over k (the tail as one zero-padded masked step), then the same
 * horizontal-sum tree for every element, whatever M, N, the element's position or the
 * cache blocking; a spectrum's model is the same in any batch. Vector paths: AVX-512F (16
 * lanes, 4 rows of B per step) and AVX2+FMA (8 lanes, 2 rows), chosen at compile time
 * (meson option native); without them, the same scheme in portable C (8 lanes). */
#include "nn_internal.h"

#include <string.h>

/* Optimised in every build type: the fit's products all go through this kernel, which the
 * debug sanitizer build would otherwise run at -O0. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O2")
#endif

#if defined(__AVX512F__)
#include <immintrin.h>
#define VL 16
#define NB 4
typedef __m512 vf;
static inline vf v_zero(void) { return _mm512_setzero_ps(); }
static inline vf v_load(const float *p) { return _mm512_loadu_ps(p); }
/* the first n (< VL) floats of p, zeros above; reads nothing beyond p[n-1] */
static inline vf v_load_part(const float *p, size_t n)
{
    return _mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1u), p);
}
static inline vf v_fma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
/* out[0..4) = the lane sums of v[0..4), in one fixed sequence of adds; out[r] depends on
 * v[r] only */
static inline void v_reduce_nb(float *out, const vf *v)
{
    __m256 t[4];
    for (int r = 0; r < 4; r++)
        t[r] = _mm256_add_ps(_mm512_castps512_ps256(v[r]),
                             _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v[r]), 1)));
    __m256 w = _mm256_hadd_ps(_mm256_hadd_ps(t[0], t[1]), _mm256_hadd_ps(t[2], t[3]));
    _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(w), _mm256_extractf128_ps(w, 1)));
}
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define VL 8
#define NB 2
typedef __m256 vf;
static inline vf v_zero(void) { return _mm256_setzero_ps(); }
static inline vf v_load(const float *p) { return _mm256_loadu_ps(p); }
static inline vf v_load_part(const float *p, size_t n)
{
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_maskload_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), idx));
}
static inline vf v_fma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
static inline void v_reduce_nb(float *out, const vf *v)
{
    __m256 u = _mm256_hadd_ps(v[0], v[1]);
    __m128 w = _mm_add_ps(_mm256_castps256_ps128(u), _mm256_extractf128_ps(u, 1));
    w = _mm_hadd_ps(w, w);
    out[0] = _mm_cvtss_f32(w);
    out[1] = _mm_cvtss_f32(_mm_shuffle_ps(w, w, 1));
}
#else
/* portable: 8 lanes in plain C (no reassociation without -ffast-math) */
#define VL 8
#define NB 2
typedef struct {
    float l[VL];
} vf;
static inline vf v_zero(void)
{
    vf v;
    for (int i = 0; i < VL; i++) v.l[i] = 0.0f;
    return v;
}
static inline vf v_load(const float *p)
{
    vf v;
    for (int i = 0; i < VL; i++) v.l[i] = p[i];
    return v;
}
static inline vf v_load_part(const float *p, size_t n)
{
    vf v;
    for (size_t i = 0; i < VL; i++) v.l[i] = i < n ? p[i] : 0.0f;
    return v;
}
static inline vf v_fma(vf a, vf b, vf c)
{
    for (int i = 0; i < VL; i++) c.l[i] += a.l[i] * b.l[i];
    return c;
}
static inline void v_reduce_nb(float *out, const vf *v)
{
    for (int r = 0; r < NB; r++) {
        const float *x = v[r].l;
        out[r] = ((x[0] + x[1]) + (x[2] + x[3])) + ((x[4] + x[5]) + (x[6] + x[7]));
    }
}
#endif

#define MB 5 /* rows of A per pass */

/* the lane sum of v by the tree of v_reduce_nb (the same value as in a group of NB) */
static inline float v_hsum(vf v)
{
    vf t[NB];
    float s[NB];
    t[0] = v;
    for (int r = 1; r < NB; r++) t[r] = v_zero();
    v_reduce_nb(s, t);
    return s[0];
}

/* Rows [0, M) of A (M <= MB, a compile-time constant after inlining). */
static inline __attribute__((always_inline)) void block(const int M, size_t N, size_t K,
                                                        const float *A, size_t lda,
                                                        const float *B, size_t ldb, float *C,
                                                        size_t ldc, int accumulate)
{
    size_t n = 0;
    const size_t kv = K / VL * VL;
    for (; n + NB <= N; n += NB) {
        vf acc[NB][MB];
#pragma GCC unroll 4
        for (int r = 0; r < NB; r++)
#pragma GCC unroll 5
            for (int j = 0; j < M; j++) acc[r][j] = v_zero();
        for (size_t k = 0; k < kv; k += VL) {
            vf b[NB];
#pragma GCC unroll 4
            for (int r = 0; r < NB; r++) b[r] = v_load(B + (n + (size_t)r) * ldb + k);
#pragma GCC unroll 5
            for (int j = 0; j < M; j++) {
                vf a = v_load(A + (size_t)j * lda + k);
#pragma GCC unroll 4
                for (int r = 0; r < NB; r++) acc[r][j] = v_fma(a, b[r], acc[r][j]);
            }
        }
        if (kv < K) { /* the tail as one zero-padded vector step */
            vf b[NB];
#pragma GCC unroll 4
            for (int r = 0; r < NB; r++) b[r] = v_load_part(B + (n + (size_t)r) * ldb + kv, K - kv);
#pragma GCC unroll 5
            for (int j = 0; j < M; j++) {
                vf a = v_load_part(A + (size_t)j * lda + kv, K - kv);
#pragma GCC unroll 4
                for (int r = 0; r < NB; r++) acc[r][j] = v_fma(a, b[r], acc[r][j]);
            }
        }
        for (int j = 0; j < M; j++) {
            vf col[NB];
            float s[NB];
            for (int r = 0; r < NB; r++) col[r] = acc[r][j];
            v_reduce_nb(s, col);
            float *c = C + (size_t)j * ldc + n;
            for (int r = 0; r < NB; r++) c[r] = accumulate ? c[r] + s[r] : s[r];
        }
    }
    for (; n < N; n++) { /* the last rows of B: the same lanes and the same sum tree */
        vf acc[MB];
#pragma GCC unroll 5
        for (int j = 0; j < M; j++) acc[j] = v_zero();
        const float *b = B + n * ldb;
        for (size_t k = 0; k < kv; k += VL) {
            vf bv = v_load(b + k);
#pragma GCC unroll 5
            for (int j = 0; j < M; j++) acc[j] = v_fma(v_load(A + (size_t)j * lda + k), bv, acc[j]);
        }
        if (kv < K) {
            vf bv = v_load_part(b + kv, K - kv);
#pragma GCC unroll 5
            for (int j = 0; j < M; j++)
                acc[j] = v_fma(v_load_part(A + (size_t)j * lda + kv, K - kv), bv, acc[j]);
        }
        for (int j = 0; j < M; j++) {
            float s = v_hsum(acc[j]);
            float *c = C + (size_t)j * ldc + n;
            *c = accumulate ? *c + s : s;
        }
    }
}

/* rows of B per cache block: about 128 KiB of B, reused by every row of A */
static size_t b_block(size_t K)
{
    size_t rows = (size_t)(128 * 1024) / (K * sizeof(float) + 1);
    rows = rows / NB * NB;
    return rows < NB ? NB : rows;
}

void ms_nn_gemm_nt_exact(size_t M, size_t N, size_t K, const float *A, size_t lda,
                         const float *B, size_t ldb, float *C, size_t ldc, int accumulate)
{
    /* C [M, N] (=|+=) A [M, K] . B [N, K]^T */
    if (M == 0 || N == 0) return;
    const size_t nb = M <= MB ? N : b_block(K); /* a few rows: one pass over B */
    for (size_t n0 = 0; n0 < N; n0 += nb) {
        const size_t nn = N - n0 < nb ? N - n0 : nb;
        const float *b = B + n0 * ldb;
        for (size_t j0 = 0; j0 < M; j0 += MB) {
            const float *a = A + j0 * lda;
            float *c = C + j0 * ldc + n0;
            switch (M - j0 < MB ? M - j0 : MB) {
            case 1: block(1, nn, K, a, lda, b, ldb, c, ldc, accumulate); break;
            case 2: block(2, nn, K, a, lda, b, ldb, c, ldc, accumulate); break;
            case 3: block(3, nn, K, a, lda, b, ldb, c, ldc, accumulate); break;
            case 4: block(4, nn, K, a, lda, b, ldb, c, ldc, accumulate); break;
            default: block(5, nn, K, a, lda, b, ldb, c, ldc, accumulate); break;
            }
        }
    }
}

void ms_nn_gemm_nt_small(size_t M, size_t N, size_t K, const float *A, size_t lda,
                         const float *B, size_t ldb, float *C, size_t ldc, int accumulate)
{
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
    ms_nn_gemm_nt_exact(M, N, K, A, lda, B, ldb, C, ldc, accumulate);
#else
    /* portable build: OpenBLAS as before (training's arithmetic unchanged); the exact kernel
     * only where a caller asks for it */
    if (M == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, ms_nn_bi(N), ms_nn_bi(K), 1.0f, B, ms_nn_bi(ldb),
                    A, 1, accumulate ? 1.0f : 0.0f, C, 1);
    else
        ms_nn_sgemm(0, 1, M, N, K, 1.0f, A, lda, B, ldb, accumulate ? 1.0f : 0.0f, C, ldc);
#endif
}
