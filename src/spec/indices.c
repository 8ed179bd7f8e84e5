/* indices.c: H-alpha EW, TiO5 and spectral type, VBFlag (see indices.h). */
#include "mstars/indices.h"

#include <math.h>
#include <stdio.h>

/* Un-normalised flux and its inverse variance at pixel i; returns 0 when missing. */
static int pixel(const float *flux, const float *ivar, const float *cont, size_t i, double *f,
                 double *iv)
{
    double v = flux[i];
    double w = ivar ? (double)ivar[i] : 1.0;
    double c = cont ? (double)cont[i] : 1.0;
    if (!isfinite(v) || !(w > 0) || !isfinite(w) || !isfinite(c) || !(c > 0)) return 0;
    *f = v * c;
    *iv = w / (c * c);
    return 1;
}

/* Pixel index range [*i0, *i1] whose centres lie in [lo, hi] (inclusive to 1e-9 pixel).
 * Returns 0 when the band is not entirely inside the grid or holds no pixel. */
static int band_range(ms_wgrid g, double lo, double hi, size_t *i0, size_t *i1)
{
    if (g.n == 0 || !(g.step > 0)) return 0;
    double a = (lo - g.start) / g.step, b = (hi - g.start) / g.step;
    double eps = 1e-9;
    if (a < -eps || b > (double)(g.n - 1) + eps) return 0;
    double ca = ceil(a - eps), fb = floor(b + eps);
    if (ca < 0) ca = 0;
    if (fb > (double)(g.n - 1)) fb = (double)(g.n - 1);
    if (fb < ca) return 0;
    *i0 = (size_t)ca;
    *i1 = (size_t)fb;
    return 1;
}

/* Mean un-normalised flux of a band over its good pixels (and, when xmean is not NULL,
 * the mean wavelength of those pixels); NaN when fewer than half are good. */
static double band_mean(ms_wgrid g, const float *flux, const float *ivar, const float *cont,
                        double lo, double hi, double *xmean)
{
    size_t i0, i1;
    if (!band_range(g, lo, hi, &i0, &i1)) return NAN;
    size_t n = i1 - i0 + 1, good = 0;
    double sum = 0, sx = 0;
    for (size_t i = i0; i <= i1; i++) {
        double f, iv;
        if (!pixel(flux, ivar, cont, i, &f, &iv)) continue;
        sum += f;
        sx += g.start + (double)i * g.step;
        good++;
    }
    if (good == 0 || 2 * good < n) return NAN;
    if (xmean) *xmean = sx / (double)good;
    return sum / (double)good;
}

double ms_index_halpha_ew(ms_wgrid g, const float *flux, const float *ivar,
                          const float *continuum, double *err)
{
    if (err) *err = NAN;
    if (!flux || g.n == 0 || !(g.step > 0)) return NAN;
    /* the continuum line passes through each band's mean flux at its pixels' mean
     * wavelength: exact for a linear continuum whatever pixels are missing */
    double xb = 0, xr = 0;
    double blue = band_mean(g, flux, ivar, continuum, MS_HALPHA_BLUE_LO, MS_HALPHA_BLUE_HI, &xb);
    double red = band_mean(g, flux, ivar, continuum, MS_HALPHA_RED_LO, MS_HALPHA_RED_HI, &xr);
    if (!isfinite(blue) || !isfinite(red) || !(xr > xb)) return NAN;
    double lo = MS_HALPHA_WAVE - MS_HALPHA_HALF_WIDTH, hi = MS_HALPHA_WAVE + MS_HALPHA_HALF_WIDTH;
    /* pixels whose cells [x - step/2, x + step/2] overlap the window */
    double a = (lo - g.start) / g.step - 0.5, b = (hi - g.start) / g.step + 0.5;
    if (a < -0.5 || b > (double)g.n - 0.5) return NAN;
    long i0 = (long)ceil(a - 1e-12), i1 = (long)floor(b + 1e-12);
    if (i0 < 0) i0 = 0;
    if (i1 > (long)g.n - 1) i1 = (long)g.n - 1;
    double ew = 0, var = 0;
    for (long i = i0; i <= i1; i++) {
        double x = g.start + (double)i * g.step;
        double c0 = fmax(x - 0.5 * g.step, lo), c1 = fmin(x + 0.5 * g.step, hi);
        double w = c1 - c0;
        if (!(w > 0)) continue;
        double f, iv;
        if (!pixel(flux, ivar, continuum, (size_t)i, &f, &iv)) return NAN;
        double fc = blue + (red - blue) * (x - xb) / (xr - xb);
        if (!(fc > 0)) return NAN;
        ew -= w * (1.0 - f / fc);
        var += (w / fc) * (w / fc) / iv;
    }
    if (err) *err = sqrt(var);
    return ew;
}

int ms_index_activity(double ew) { return ew > MS_ACTIVITY_EW ? 1 : 0; }

double ms_index_tio5(ms_wgrid g, const float *flux, const float *ivar, const float *continuum)
{
    if (!flux) return MS_INDEX_MISSING;
    double num = band_mean(g, flux, ivar, continuum, MS_TIO5_NUM_LO, MS_TIO5_NUM_HI,
                            NULL);
    double den = band_mean(g, flux, ivar, continuum, MS_TIO5_DEN_LO, MS_TIO5_DEN_HI,
                            NULL);
    if (!isfinite(num) || !isfinite(den) || !(den > 0)) return MS_INDEX_MISSING;
    double r = num / den;
    return isfinite(r) ? r : MS_INDEX_MISSING;
}

double ms_index_spt(double tio5)
{
    if (!isfinite(tio5) || tio5 == MS_INDEX_MISSING) return MS_INDEX_MISSING;
    double s = -10.775 * tio5 + 8.2;
    /* tolerate rounding at the bounds (TiO5 values that map exactly to -2 or 7) */
    const double eps = 1e-9;
    if (s < MS_SPT_MIN - eps || s > MS_SPT_MAX + eps) return MS_INDEX_MISSING;
    return fmin(fmax(s, MS_SPT_MIN), MS_SPT_MAX);
}

char *ms_index_spt_string(double spt, char *buf, size_t len)
{
    if (len == 0) return buf;
    buf[0] = '\0';
    if (!isfinite(spt) || spt < MS_SPT_MIN - 1e-9 || spt > MS_SPT_MAX + 1e-9) return buf;
    double r = round(2.0 * spt) / 2.0;
    if (r >= 0) {
        if (r == floor(r))
            snprintf(buf, len, "M%d", (int)r);
        else
            snprintf(buf, len, "M%.1f", r);
    } else {
        /* -2 = K5, -1 = K7: two K subtypes per unit; -0.5 stays K7 */
        int k = (int)lround(5.0 + 2.0 * (r + 2.0));
        if (k > 7) k = 7;
        snprintf(buf, len, "K%d", k);
    }
    return buf;
}

int ms_index_vbflag(int variable_candidate, int binary_candidate)
{
    if (binary_candidate) return 2;
    if (variable_candidate) return 1;
    return 0;
}

double ms_mdwarf_logg_ms(double teff, double m_h)
{
    double x = (teff - 3500.0) / 500.0;
    return 4.80 - 0.19 * x + 0.04 * x * x - 0.06 * m_h;
}
