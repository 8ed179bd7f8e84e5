/* spec_internal.h: the spec module's workspace and shared kernels (not installed; used by
 * the .c files of src/spec only). */
#ifndef MSTARS_SPEC_INTERNAL_H
#define MSTARS_SPEC_INTERNAL_H

#include "mstars/spec.h"

#include <stddef.h>
#include <stdint.h>

/* Inputs of ms_spec_conv are padded so that whole blocks of outputs can be computed
 * without a scalar tail: the block is at most this many outputs on any ISA. */
#define MS_SPEC_CONV_BLOCK_MAX 64

/* Number of doubles ms_spec_conv reads from x for n outputs and nk taps. */
size_t ms_spec_conv_pad_len(size_t n, size_t nk);

/* Plain correlation with a short kernel, vectorised and branch-free:
 *   num[j] = sum_{m < nk} kern[m] * x[j + m],  j < n.
 * x: [ms_spec_conv_pad_len(n, nk)] readable (pad with zeros), kern: [nk], num: [n]. */
void ms_spec_conv(const double *x, size_t n, const double *kern, size_t nk, double *num);

/* A normalised symmetric kernel of half-width K: kern[m], m = 0..2K (centre at K), and its
 * prefix sums cum[m] = kern[0] + ... + kern[m]. */
typedef struct {
    size_t half;        /* K */
    const double *kern; /* [2K + 1] */
    const double *cum;  /* [2K + 1] */
} ms_spec_kernel;

/* Scratch of ms_spec_smooth (all from the workspace). */
typedef struct {
    double *xpad;    /* [ms_spec_conv_pad_len(n, 2K + 1)] */
    double *num;     /* [n] */
    double *den;     /* [n] */
    size_t *badlist; /* [n] */
    /* [n] the denominator with every pixel good (see ms_spec_smooth_den_full), or NULL to
     * compute it on the fly */
    const double *den_full;
} ms_spec_smooth_scratch;

/* den_full[j] = sum of the kernel over the taps that land inside 0..n-1. */
void ms_spec_smooth_den_full(ms_spec_kernel k, size_t n, double *den_full);

/* Masked kernel smoothing over the pixels 0..n-1 of a uniform grid:
 *   out[j] = sum_i g_i x_i k(j - i) / sum_i g_i k(j - i),  |i - j| <= K, 0 <= i < n,
 * with g_i = good[i] != 0 (good == NULL: every pixel good). Pixels outside 0..n-1 do not
 * exist (the kernel is renormalised at the ends). out[j] is NaN where the denominator is
 * exactly 0, i.e. no good pixel lies within K of j. Bad pixels' x values are never read
 * into a sum (they may be NaN). s.badlist may be NULL when good is NULL. */
void ms_spec_smooth(const double *x, const uint8_t *good, size_t n, ms_spec_kernel k,
                    ms_spec_smooth_scratch s, double *out);

/* The workspace (ms_spec_work in spec.h). Fixed part sized from the grid in one block;
 * buffers that depend on the input length grow on demand. */
struct ms_spec_work {
    ms_cfg_preprocess cfg;
    ms_wgrid grid;
    ms_spec_kernel ckernel;         /* pseudo-continuum kernel on the grid (Z25 Eq. 3) */
    double *flux;                   /* [n] resampled flux */
    double *ivar;                   /* [n] resampled inverse variance */
    double *cont;                   /* [n] pseudo-continuum */
    double *cden_full;              /* [n] continuum denominator with every pixel good */
    uint8_t *good;                  /* [n] */
    ms_spec_smooth_scratch scratch; /* for the continuum */
    void *block;                    /* the one allocation behind the pointers above */

    uint8_t *native_good; /* [native_cap] observed: usable native pixels */
    size_t native_cap;

    /* synthetic (allocated on first use) */
    double *lnx;          /* [n] ln(grid wavelength) */
    double *lkern, *lcum; /* [2 * lhalf + 1] LSF kernel in fine samples */
    size_t lhalf;
    double *fine_u; /* [fine_in_cap] ln(model wavelengths) */
    size_t fine_in_cap;
    double *fine;      /* [fine_cap] model averaged onto the fine ln grid */
    double *fine_conv; /* [fine_cap] after the LSF */
    ms_spec_smooth_scratch fine_scratch;
    size_t fine_cap; /* samples the fine buffers can hold */
};

/* Make room for n_native observed pixels / the synthetic fine grid (grow only). */
ms_status ms_spec_work_native(ms_spec_work *w, size_t n_native);
ms_status ms_spec_work_fine(ms_spec_work *w, size_t n_in, size_t n_fine);
/* Prepare the synthetic LSF kernel and ln(grid) on first use. */
ms_status ms_spec_work_synthetic(ms_spec_work *w);

/* Fine-grid step of the synthetic LSF convolution, in ln(lambda): sigma_LSF / this. */
#define MS_SPEC_LSF_OVERSAMPLE 8
/* The LSF kernel is truncated at this many of its sigma. */
#define MS_SPEC_LSF_TRUNCATE 6.0
/* 2 sqrt(2 ln 2): FWHM / sigma of a Gaussian. */
#define MS_SPEC_FWHM_SIGMA 2.3548200450309493

#endif
