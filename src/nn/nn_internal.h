/* nn_internal.h: helpers shared by the src/nn sources (not installed). */
#ifndef MSTARS_NN_INTERNAL_H
#define MSTARS_NN_INTERNAL_H

#include "mstars/payne.h"

#include <assert.h>
#include <cblas.h>
#include <limits.h>
#include <stddef.h>

/* size_t -> BLAS int; sizes are checked by the callers' dimension checks (assert here). */
static inline blasint ms_nn_bi(size_t n)
{
    assert(n <= (size_t)INT_MAX);
    return (blasint)n;
}

/* Row-major C [M, N] = alpha op(A) op(B) + beta C with op(A) [M, K], op(B) [K, N]. */
static inline void ms_nn_sgemm(int trans_a, int trans_b, size_t M, size_t N, size_t K,
                               float alpha, const float *A, size_t lda, const float *B,
                               size_t ldb, float beta, float *C, size_t ldc)
{
    if (M == 0 || N == 0) return;
    if (K == 0) {
        /* BLAS leaves C * beta; keep that meaning without calling it with K = 0 */
        for (size_t i = 0; i < M; i++)
            for (size_t j = 0; j < N; j++) C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
        return;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, ms_nn_bi(M), ms_nn_bi(N), ms_nn_bi(K), alpha,
                A, ms_nn_bi(lda), B, ms_nn_bi(ldb), beta, C, ms_nn_bi(ldc));
}

/* im2col for one sample: col [c * kernel, l_cols] with
 * col[(ci kernel + k), t] = x[ci, t stride + k - padding] (0 outside [0, l_x)). */
void ms_nn_im2col(float *col, const float *x, size_t c, size_t l_x, size_t kernel,
                  size_t stride, size_t padding, size_t l_cols);
/* The adjoint: x[ci, t stride + k - padding] += col[(ci kernel + k), t] for positions
 * inside [0, l_x). */
void ms_nn_col2im(float *x, const float *col, size_t c, size_t l_x, size_t kernel,
                  size_t stride, size_t padding, size_t l_cols);
/* Rows of A up to which ms_nn_gemm_nt_exact beats a packing GEMM. */
#define MS_NN_SMALL_M 10

/* C [M, N] (=|+=) A [M, K] . B [N, K]^T for a few rows of A: ms_nn_gemm_nt_exact (nn.h)
 * with a vector path (AVX2, AVX-512), OpenBLAS in a portable build. */
void ms_nn_gemm_nt_small(size_t M, size_t N, size_t K, const float *A, size_t lda,
                         const float *B, size_t ldb, float *C, size_t ldc, int accumulate);

/* payne.c: like ms_payne_backward, but the parameter gradients are WRITTEN into grad
 * [params.n] (same layout as net->params; padding left untouched) rather than added. */
ms_status ms_payne_backward_into(const ms_payne *net, ms_payne_ws *ws, const float *x,
                                 const float *dflux, size_t B, float *grad);

#endif
