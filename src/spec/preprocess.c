/* preprocess.c: the two preprocessing pipelines of method.md section 2 (Z25 2.4).
 *
 * Observed (method.md 2.2-2.4): usable native pixels -> rest frame -> linear resampling
 * with inverse variance (resample.c) -> pseudo-continuum over the good output pixels
 * (continuum.c) -> flux / F, ivar * F^2 (errors divided by the same F).
 * Synthetic (method.md 2.1, 2.3-2.4): LSF at R (synthetic.c) -> same continuum -> flux / F,
 * ivar = 1 / synthetic_error^2 on every pixel.
 *
 * Coverage of observed spectra: the native wavelengths, taken to the rest frame, may
 * fall short of [wave_min, wave_max] by at most MS_SPEC_COVERAGE_TOL_PIXELS output pixels
 * at either end (2 A by default: tolerates rounding and a small RV at a truncated edge
 * without shrinking the grid); those pixels are bad. Anything shorter is MS_EFORMAT,
 * because the continuum and the fits assume the full range. LAMOST LRS (3700-9100 A)
 * covers the default grid with > 190 A to spare on each side.
 *
 * Non-positive continuum: where F <= 0 (possible for noisy, near-zero flux) dividing by
 * F is meaningless, so those pixels are bad. */
#include "spec_internal.h"

#include <float.h>
#include <math.h>

/* Fill `out` as "no data" (used on every failure, so the caller can store it as is). */
static void out_clear(ms_spec_out *out, size_t n)
{
    for (size_t j = 0; j < n; j++) {
        out->flux[j] = NAN;
        out->ivar[j] = 0.0f;
        out->continuum[j] = NAN;
    }
    out->n_good = 0;
}

/* Usable native pixels and the reason when there are none. */
static ms_status native_good(const double *flux, const double *ivar, const uint8_t *bad, size_t n,
                             uint8_t *good)
{
    size_t n_flux = 0, n_ivar = 0, n_unmasked = 0, n_good = 0;
    for (size_t i = 0; i < n; i++) {
        int f_ok = isfinite(flux[i]);
        int iv_ok = ivar[i] > 0.0 && isfinite(ivar[i]);
        int m_ok = !bad || !bad[i];
        n_flux += (size_t)f_ok;
        n_ivar += (size_t)iv_ok;
        n_unmasked += (size_t)m_ok;
        good[i] = (uint8_t)(f_ok && iv_ok && m_ok);
        n_good += good[i];
    }
    if (n_flux == 0) MS_ERROR(MS_EFORMAT, "all %zu flux values are NaN or infinite", n);
    if (n_ivar == 0) MS_ERROR(MS_EFORMAT, "all %zu inverse variances are zero or invalid", n);
    if (n_unmasked == 0) MS_ERROR(MS_EFORMAT, "all %zu pixels are masked", n);
    if (n_good == 0)
        MS_ERROR(MS_EFORMAT, "no pixel has finite flux, ivar > 0 and no mask (of %zu)", n);
    return MS_OK;
}

static ms_status observed(ms_spec_work *w, const double *wave, const double *flux,
                          const double *ivar, const uint8_t *bad, size_t n, double rv_kms,
                          ms_spec_out *out)
{
    const ms_wgrid g = w->grid;
    const double last = g.start + (double)(g.n - 1) * g.step;
    if (n < 2) MS_ERROR(MS_EFORMAT, "spectrum has %zu pixels", n);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(wave[i]) || !(wave[i] > 0))
            MS_ERROR(MS_EFORMAT, "wavelength of pixel %zu is %g", i, wave[i]);
        if (i > 0 && !(wave[i] > wave[i - 1]))
            MS_ERROR(MS_EFORMAT,
                     "wavelengths not strictly increasing at pixel %zu (%.3f after %.3f A)", i,
                     wave[i], wave[i - 1]);
    }
    const double dop = ms_spec_doppler(rv_kms);
    if (!isfinite(dop)) MS_ERROR(MS_EFORMAT, "radial velocity %g km/s is not usable", rv_kms);

    MS_TRY(ms_spec_work_native(w, n));
    MS_TRY(native_good(flux, ivar, bad, n, w->native_good));

    /* rest frame: lambda_rest = lambda_obs / doppler(rv) (method.md 2.2) */
    const double rest0 = wave[0] / dop, rest1 = wave[n - 1] / dop;
    const double tol = MS_SPEC_COVERAGE_TOL_PIXELS * g.step;
    if (rest0 > g.start + tol || rest1 < last - tol)
        MS_ERROR(MS_EFORMAT,
                 "wavelength coverage %.1f-%.1f A (rest frame) misses the grid %.0f-%.0f A", rest0,
                 rest1, g.start, last);

    size_t n_good = ms_spec_resample(wave, flux, ivar, w->native_good, n, dop, g, w->flux, w->ivar);
    if (n_good == 0) MS_ERROR(MS_EFORMAT, "no good pixels in %.0f-%.0f A", g.start, last);

    ms_spec_continuum(w, w->flux, w->ivar, w->cont);

    /* flux / F and ivar * F^2 (Z25 2.4: errors normalised by the same F); branch-free so
     * that it vectorises. A pixel is good when it was resampled (ivar > 0), F > 0 and the
     * results are finite in float. */
    n_good = 0;
    const double *restrict rf = w->flux, *restrict ri = w->ivar, *restrict cont = w->cont;
    float *restrict of = out->flux, *restrict oi = out->ivar, *restrict oc = out->continuum;
    for (size_t j = 0; j < g.n; j++) {
        const double c = cont[j];
        const float f = (float)(rf[j] / c), iv = (float)(ri[j] * c * c);
        const int ok = (ri[j] > 0.0) & (c > 0.0) & (fabsf(f) <= FLT_MAX) & (iv > 0.0f) &
                       (iv <= FLT_MAX);
        of[j] = ok ? f : NAN;
        oi[j] = ok ? iv : 0.0f;
        oc[j] = (float)c;
        n_good += (size_t)ok;
    }
    out->n_good = n_good;
    if (n_good == 0)
        MS_ERROR(MS_EFORMAT, "pseudo-continuum not positive at any good pixel in %.0f-%.0f A",
                 g.start, last);
    return MS_OK;
}

ms_status ms_spec_preprocess_observed_ws(ms_spec_work *w, const double *wave, const double *flux,
                                         const double *ivar, const uint8_t *bad, size_t n,
                                         double rv_kms, ms_spec_out *out)
{
    if (!w || !out || (n > 0 && (!wave || !flux || !ivar)))
        MS_ERROR(MS_EINVAL, "ms_spec_preprocess_observed: NULL argument");
    ms_status st = observed(w, wave, flux, ivar, bad, n, rv_kms, out);
    if (st != MS_OK) out_clear(out, w->grid.n);
    return st;
}

static ms_status synthetic(ms_spec_work *w, const double *wave, const double *flux, size_t n,
                           ms_spec_out *out)
{
    const ms_wgrid g = w->grid;
    MS_TRY(ms_spec_convolve_synthetic(w, wave, flux, n, w->flux));
    ms_spec_continuum(w, w->flux, NULL, w->cont);
    const float iv = (float)(1.0 / (w->cfg.synthetic_error * w->cfg.synthetic_error));
    for (size_t j = 0; j < g.n; j++) {
        const double c = w->cont[j];
        if (!(c > 0.0) || !isfinite(c))
            MS_ERROR(MS_EFORMAT, "model pseudo-continuum is %g at %.0f A", c,
                     g.start + (double)j * g.step);
        out->flux[j] = (float)(w->flux[j] / c);
        out->ivar[j] = iv;
        out->continuum[j] = (float)c;
    }
    out->n_good = g.n;
    return MS_OK;
}

ms_status ms_spec_preprocess_synthetic_ws(ms_spec_work *w, const double *wave, const double *flux,
                                          size_t n, ms_spec_out *out)
{
    if (!w || !out || (n > 0 && (!wave || !flux)))
        MS_ERROR(MS_EINVAL, "ms_spec_preprocess_synthetic: NULL argument");
    ms_status st = synthetic(w, wave, flux, n, out);
    if (st != MS_OK) out_clear(out, w->grid.n);
    return st;
}

ms_status ms_spec_preprocess_observed(const ms_cfg_preprocess *p, const double *wave,
                                      const double *flux, const double *ivar, const uint8_t *bad,
                                      size_t n, double rv_kms, ms_spec_out *out)
{
    ms_spec_work *w;
    ms_status st = ms_spec_work_alloc(p, &w);
    if (st != MS_OK) {
        if (out) out_clear(out, ms_spec_grid(p).n);
        return st;
    }
    st = ms_spec_preprocess_observed_ws(w, wave, flux, ivar, bad, n, rv_kms, out);
    ms_spec_work_free(w);
    return st;
}

ms_status ms_spec_preprocess_synthetic(const ms_cfg_preprocess *p, const double *wave,
                                       const double *flux, size_t n, ms_spec_out *out)
{
    ms_spec_work *w;
    ms_status st = ms_spec_work_alloc(p, &w);
    if (st != MS_OK) {
        if (out) out_clear(out, ms_spec_grid(p).n);
        return st;
    }
    st = ms_spec_preprocess_synthetic_ws(w, wave, flux, n, out);
    ms_spec_work_free(w);
    return st;
}
