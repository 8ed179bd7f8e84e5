/* simd.h: the few vector operations the hot loops of src/nn use, for AVX-512F (16 lanes)
 * or AVX2+FMA (8 lanes), picked at compile time (meson option native); MS_VL is 0 when
 * neither is available and the callers fall back to plain loops or BLAS. The project
 * builds at -O2 in ISO C, where GCC vectorises neither these loops nor sqrt. Private to
 * src/nn. */
#ifndef MSTARS_NN_SIMD_H
#define MSTARS_NN_SIMD_H

#if defined(__AVX512F__)
#include <immintrin.h>
#define MS_VL 16
typedef __m512 ms_vf;
static inline ms_vf ms_v_zero(void) { return _mm512_setzero_ps(); }
static inline ms_vf ms_v_set1(float x) { return _mm512_set1_ps(x); }
static inline ms_vf ms_v_load(const float *p) { return _mm512_loadu_ps(p); }
static inline void ms_v_store(float *p, ms_vf v) { _mm512_storeu_ps(p, v); }
static inline ms_vf ms_v_add(ms_vf a, ms_vf b) { return _mm512_add_ps(a, b); }
static inline ms_vf ms_v_sub(ms_vf a, ms_vf b) { return _mm512_sub_ps(a, b); }
static inline ms_vf ms_v_mul(ms_vf a, ms_vf b) { return _mm512_mul_ps(a, b); }
static inline ms_vf ms_v_div(ms_vf a, ms_vf b) { return _mm512_div_ps(a, b); }
static inline ms_vf ms_v_sqrt(ms_vf a) { return _mm512_sqrt_ps(a); }
static inline ms_vf ms_v_fma(ms_vf a, ms_vf b, ms_vf c) { return _mm512_fmadd_ps(a, b, c); }
static inline ms_vf ms_v_max(ms_vf a, ms_vf b) { return _mm512_max_ps(a, b); }
static inline ms_vf ms_v_abs(ms_vf a) { return _mm512_abs_ps(a); }
/* 1 when some lane is NaN or infinite */
static inline int ms_v_nonfinite(ms_vf a)
{
    return _mm512_cmp_ps_mask(ms_v_abs(a), _mm512_set1_ps(3.402823466e38f), _CMP_NLE_UQ) != 0;
}
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define MS_VL 8
typedef __m256 ms_vf;
static inline ms_vf ms_v_zero(void) { return _mm256_setzero_ps(); }
static inline ms_vf ms_v_set1(float x) { return _mm256_set1_ps(x); }
static inline ms_vf ms_v_load(const float *p) { return _mm256_loadu_ps(p); }
static inline void ms_v_store(float *p, ms_vf v) { _mm256_storeu_ps(p, v); }
static inline ms_vf ms_v_add(ms_vf a, ms_vf b) { return _mm256_add_ps(a, b); }
static inline ms_vf ms_v_sub(ms_vf a, ms_vf b) { return _mm256_sub_ps(a, b); }
static inline ms_vf ms_v_mul(ms_vf a, ms_vf b) { return _mm256_mul_ps(a, b); }
static inline ms_vf ms_v_div(ms_vf a, ms_vf b) { return _mm256_div_ps(a, b); }
static inline ms_vf ms_v_sqrt(ms_vf a) { return _mm256_sqrt_ps(a); }
static inline ms_vf ms_v_fma(ms_vf a, ms_vf b, ms_vf c) { return _mm256_fmadd_ps(a, b, c); }
static inline ms_vf ms_v_max(ms_vf a, ms_vf b) { return _mm256_max_ps(a, b); }
static inline ms_vf ms_v_abs(ms_vf a)
{
    return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a);
}
static inline int ms_v_nonfinite(ms_vf a)
{
    return _mm256_movemask_ps(
               _mm256_cmp_ps(ms_v_abs(a), _mm256_set1_ps(3.402823466e38f), _CMP_NLE_UQ)) != 0;
}
#else
#define MS_VL 0
#endif

#endif
