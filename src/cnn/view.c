/* view.c: the L25 input view of a spectrum (L25 3.2 steps 1-5, seeds_summary.md 1.2): bad
 * pixels dropped, linear interpolation onto a 1 A grid, z-score over the view. The rest-frame
 * shift (step 2) is the caller's: the store's spectra are already in the rest frame. */
#include "mstars/cnn.h"

#include <math.h>

static int good(const float *flux, const float *ivar, size_t i)
{
    return isfinite(flux[i]) && isfinite(ivar[i]) && ivar[i] > 0.0f;
}

ms_status ms_cnn_view(const ms_cnn_view_spec *v, const double *wave, const float *flux,
                      const float *ivar, size_t n_pix, double min_good, float *out)
{
    if (v->n == 0 || !(v->step > 0.0) || n_pix < 2)
        MS_ERROR(MS_EINVAL, "cnn view: %zu pixels of step %g from %zu input pixels", v->n, v->step,
                 n_pix);
    /* the first and last good input pixels */
    size_t first = n_pix, last = 0;
    for (size_t i = 0; i < n_pix; i++)
        if (good(flux, ivar, i)) {
            if (first == n_pix) first = i;
            last = i;
        }
    if (first == n_pix) MS_ERROR(MS_EFORMAT, "cnn view: no good pixel");
    size_t inside = 0, i = first; /* i: the good pixel at or left of the current wavelength */
    for (size_t j = 0; j < v->n; j++) {
        const double w = v->lo + (double)j * v->step;
        double f;
        if (w <= wave[first]) {
            f = flux[first];
        } else if (w >= wave[last]) {
            f = flux[last];
        } else {
            /* advance to the good pixel pair [i, k] bracketing w */
            size_t k = i + 1;
            while (k <= last && !good(flux, ivar, k)) k++;
            while (k <= last && wave[k] < w) {
                i = k;
                k++;
                while (k <= last && !good(flux, ivar, k)) k++;
            }
            const double t = (w - wave[i]) / (wave[k] - wave[i]);
            f = (1.0 - t) * flux[i] + t * flux[k];
            inside++;
        }
        out[j] = (float)f;
    }
    if ((double)inside < min_good * (double)v->n)
        MS_ERROR(MS_EFORMAT, "cnn view: only %zu of %zu pixels (%.0f-%.0f A) lie between good "
                             "pixels of the spectrum",
                 inside, v->n, v->lo, v->lo + (double)(v->n - 1) * v->step);
    /* z-score in double, pixel order */
    double s = 0.0, ss = 0.0;
    for (size_t j = 0; j < v->n; j++) s += out[j];
    const double mean = s / (double)v->n;
    for (size_t j = 0; j < v->n; j++) ss += ((double)out[j] - mean) * ((double)out[j] - mean);
    const double sd = sqrt(ss / (double)v->n);
    if (!(sd > 0.0) || !isfinite(sd)) MS_ERROR(MS_EFORMAT, "cnn view: flat or non-finite spectrum");
    for (size_t j = 0; j < v->n; j++) out[j] = (float)(((double)out[j] - mean) / sd);
    return MS_OK;
}
