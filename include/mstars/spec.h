/* spec.h: spectrum preprocessing (method.md section 2, Z25 2.4) and spectral tools.
 *
 * Observed:  bad pixels out -> rest frame (Doppler) -> resample onto the uniform grid
 *            carrying inverse variance -> Gaussian-kernel pseudo-continuum over good pixels
 *            -> divide flux and errors by the continuum.
 * Synthetic: Gaussian LSF at resolving power R (constant in log-lambda) -> resample ->
 *            same continuum -> constant normalised error.
 * All functions are pure computation (no I/O, no MPI); the _ws variants take a workspace
 * (ms_spec_work) so that loops over spectra do not allocate. */
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
 * input does not cover the grid or no good pixel remains.
 * Details: wave strictly increasing (A, vacuum); bad may be NULL. An output pixel is good
 * when both native pixels it interpolates are usable, it lies inside the coverage (see
 * MS_SPEC_COVERAGE_TOL_PIXELS) and the pseudo-continuum there is > 0. Neighbouring output
 * pixels are correlated (the 1 A grid oversamples LAMOST's 1.4-2 A pixels; see
 * ms_spec_resample). Other MS_EFORMAT reasons: all flux NaN, all ivar <= 0, all pixels
 * masked, wavelengths not increasing, |rv| >= c, continuum <= 0 everywhere. On failure
 * `out` holds flux NaN, ivar 0, continuum NaN, n_good 0. The min_good_fraction check is
 * the caller's (n_good). MS_EINVAL for NULL arguments or an unusable configuration. */
ms_status ms_spec_preprocess_observed(const ms_cfg_preprocess *p, const double *wave,
                                      const double *flux, const double *ivar,
                                      const uint8_t *bad, size_t n, double rv_kms,
                                      ms_spec_out *out);

/* Synthetic spectrum (high resolution, increasing wavelengths): convolve to
 * p->synthetic_resolution, resample, normalise; ivar = 1 / synthetic_error^2.
 * Details: any sampling (uniform or not, finer or coarser than the LSF), strictly
 * increasing, covering [wave_min, wave_max]; only the points within reach of the grid are
 * read. Every output pixel is good. MS_EFORMAT (with the reason) for short coverage,
 * non-increasing wavelengths, non-finite flux in the used range, or a non-positive
 * continuum. The flux integral and line centroids are preserved by the convolution. */
ms_status ms_spec_preprocess_synthetic(const ms_cfg_preprocess *p, const double *wave,
                                       const double *flux, size_t n, ms_spec_out *out);

/* Fit-mask of the grid: mask[i] = 1 when pixel i lies in one of p->fit_masks ranges
 * (bounds inclusive, to 1e-9 of a pixel), else 0. */
void ms_spec_fit_mask(const ms_cfg_preprocess *p, ms_wgrid grid, uint8_t *mask);

/* ---- Workspace variants and building blocks ---------------------------------------
 * The two preprocess functions above allocate a workspace per call. Loops over many
 * spectra should allocate one workspace per thread and call the _ws variants, which do
 * not allocate (except to grow for a longer input than seen before). */

/* An observed spectrum's rest-frame coverage may fall short of [wave_min, wave_max] by up
 * to this many output pixels at either end; those pixels are bad (ivar 0). More than that
 * is MS_EFORMAT. */
#define MS_SPEC_COVERAGE_TOL_PIXELS 2.0

/* Workspace for one configuration (opaque). Not shareable between threads. */
typedef struct ms_spec_work ms_spec_work;

/* Allocate a workspace for the grid and kernels of p (p is copied). MS_EINVAL when p is
 * unusable (e.g. wave_max <= wave_min), MS_ENOMEM. Free with ms_spec_work_free. */
ms_status ms_spec_work_alloc(const ms_cfg_preprocess *p, ms_spec_work **out);
void ms_spec_work_free(ms_spec_work *w);
/* The grid of the workspace. */
ms_wgrid ms_spec_work_grid(const ms_spec_work *w);

/* As ms_spec_preprocess_observed / _synthetic with the workspace's configuration. On
 * failure `out` is still filled (flux NaN, ivar 0, continuum NaN, n_good 0). */
ms_status ms_spec_preprocess_observed_ws(ms_spec_work *w, const double *wave,
                                         const double *flux, const double *ivar,
                                         const uint8_t *bad, size_t n, double rv_kms,
                                         ms_spec_out *out);
ms_status ms_spec_preprocess_synthetic_ws(ms_spec_work *w, const double *wave,
                                          const double *flux, size_t n, ms_spec_out *out);

/* Linear resampling with inverse-variance propagation onto `grid`. Native pixel i lies
 * at rest-frame wavelength wave[i] / doppler (wave strictly increasing). Output pixel j
 * at x between native a and b = a + 1 (t = (x - x_a) / (x_b - x_a)):
 *   flux_out = (1 - t) f_a + t f_b,   1 / ivar_out = (1 - t)^2 / ivar_a + t^2 / ivar_b,
 * good only when every native pixel with non-zero weight is good and x lies inside the
 * native range; bad outputs get flux NaN, ivar 0. good == NULL: every pixel good (good
 * pixels must have finite flux and ivar > 0). Returns the number of good outputs. */
size_t ms_spec_resample(const double *wave, const double *flux, const double *ivar,
                        const uint8_t *good, size_t n, double doppler, ms_wgrid grid,
                        double *flux_out, double *ivar_out);

/* Pseudo-continuum (Z25 Eq. 2-3) of a spectrum on the workspace grid: a Gaussian-kernel
 * weighted mean of the good pixels (ivar[j] > 0 and flux finite; ivar == NULL: flux
 * finite), w = exp(-d^2 / sigma^2), cut at continuum_truncate sigma. cont[j] is NaN where
 * no good pixel lies within reach. flux, ivar, cont: [grid.n]. */
void ms_spec_continuum(ms_spec_work *w, const double *flux, const double *ivar, double *cont);

/* The synthetic spectrum convolved with the Gaussian LSF of resolving power
 * synthetic_resolution (constant in ln lambda) and resampled onto the grid, not yet
 * normalised: flux_out [grid.n]. Same input rules and errors as
 * ms_spec_preprocess_synthetic. */
ms_status ms_spec_convolve_synthetic(ms_spec_work *w, const double *wave, const double *flux,
                                     size_t n, double *flux_out);

#endif
