/* spec.h: spectrum preprocessing (method.md section 2, Z25 2.4) and spectral tools.
 *
 * Observed:  bad pixels out -> rest frame (Doppler) -> resample onto the uniform grid
 *            carrying inverse variance -> Gaussian-kernel pseudo-continuum over good pixels
 *            -> divide flux and errors by the continuum.
 * Synthetic: Gaussian LSF at resolving power R (constant in log-lambda) -> resample ->
 *            same continuum -> constant normalised error.
 * All functions are pure computation (no I/O, no MPI); workspaces are passed in. */
#ifndef MSTARS_SPEC_H
#define MSTARS_SPEC_H

#include "mstars/config.h"
#include "mstars/status.h"

#include <stddef.h>
#include <stdint.h>

#define MS_C_KMS 299792.458 /* speed of light, km/s */

/* Uniform output grid: wave[i] = start + i * step, i < n. */
typedef struct {
    double start, step;
    size_t n;
} ms_wgrid;

/* The grid from preprocess.wave_min/max/step (2901 pixels by default). */
ms_wgrid ms_spec_grid(const ms_cfg_preprocess *p);

/* Relativistic Doppler factor: lambda_obs = lambda_rest * ms_spec_doppler(v),
 * v > 0 receding (km/s). */
double ms_spec_doppler(double v_kms);

/* Result of preprocessing one spectrum onto the grid. Arrays of length grid.n, owned by
 * the caller. */
typedef struct {
    float *flux;      /* normalised flux (NaN where no good data) */
    float *ivar;      /* normalised inverse variance (0 where no good data) */
    float *continuum; /* pseudo-continuum in the input flux units */
    size_t n_good;    /* pixels with ivar > 0 */
} ms_spec_out;

/* Observed spectrum. `bad[i]` non-zero marks pixel i unusable (masks already applied by
 * the caller); ivar <= 0 and non-finite values are also dropped. rv_kms: the velocity to
 * remove (wavelengths divided by the Doppler factor). MS_EFORMAT with a reason when the
 * input does not cover the grid or no good pixel remains. */
ms_status ms_spec_preprocess_observed(const ms_cfg_preprocess *p, const double *wave,
                                      const double *flux, const double *ivar,
                                      const uint8_t *bad, size_t n, double rv_kms,
                                      ms_spec_out *out);

/* Synthetic spectrum (high resolution, increasing wavelengths): convolve to
 * p->synthetic_resolution, resample, normalise; ivar = 1 / synthetic_error^2. */
ms_status ms_spec_preprocess_synthetic(const ms_cfg_preprocess *p, const double *wave,
                                       const double *flux, size_t n, ms_spec_out *out);

/* Fit-mask of the grid: mask[i] = 1 when pixel i lies in one of p->fit_masks ranges. */
void ms_spec_fit_mask(const ms_cfg_preprocess *p, ms_wgrid grid, uint8_t *mask);

#endif
