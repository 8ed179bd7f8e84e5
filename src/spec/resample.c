/* resample.c: linear resampling of an observed spectrum onto the uniform grid, carrying
 * the inverse variance (method.md 2.3).
 *
 * Output pixel x between native pixels a and b = a + 1, t = (x - x_a) / (x_b - x_a):
 *   f(x) = (1 - t) f_a + t f_b,   var(x) = (1 - t)^2 var_a + t^2 var_b.
 * The output is good only when every native pixel with non-zero weight is good: we never
 * interpolate across a bad pixel, and pixels outside the native range are bad.
 *
 * CORRELATIONS: LAMOST native pixels are 1.38-2.05 A wide in 6000-8900 A (1e-4 dex), so
 * the 1 A grid oversamples 1.4-2x and neighbouring output pixels share native pixels: their
 * errors are positively correlated. ivar_out is each pixel's own (marginal) variance only.
 * A chi^2 summed over output pixels therefore counts ~1.4-2x more independent points than
 * there are; later stages must not read its absolute value as if the pixels were
 * independent (scale errors, or count effective degrees of freedom by native pixels). */
#include "mstars/spec.h"

#include <math.h>

size_t ms_spec_resample(const double *wave, const double *flux, const double *ivar,
                        const uint8_t *good, size_t n, double doppler, ms_wgrid grid,
                        double *flux_out, double *ivar_out)
{
    size_t n_good = 0, a = 0;
    for (size_t j = 0; j < grid.n; j++) {
        /* rest-frame x corresponds to observed x * doppler; interpolating the observed
         * wavelengths there is the same as interpolating rest-frame wave / doppler
         * (t is invariant under scaling the abscissa) and saves n divisions. */
        const double x = (grid.start + (double)j * grid.step) * doppler;
        if (n < 2 || !(x >= wave[0] && x <= wave[n - 1])) {
            flux_out[j] = NAN;
            ivar_out[j] = 0.0;
            continue;
        }
        /* bracket: wave[a] <= x < wave[a + 1] (or a = n - 2). The grid is finer than the
         * native pixels, so a advances by 0 or 1 per output: take that step without a
         * branch (it would be unpredictable), loop only for coarser grids. */
        if (a + 2 < n) a += wave[a + 1] <= x;
        while (a + 2 < n && wave[a + 1] <= x) a++;
        const size_t b = a + 1;
        /* t = p / q; the weights (1 - t) and t are pm / q and p / q */
        const double p = x - wave[a], q = wave[b] - wave[a], pm = q - p;
        const int use_a = pm > 0.0, use_b = p > 0.0;
        /* a pixel with zero weight contributes nothing, whatever its values */
        const double fa = use_a ? flux[a] : 0.0, fb = use_b ? flux[b] : 0.0;
        const double ia = use_a ? ivar[a] : 1.0, ib = use_b ? ivar[b] : 1.0;
        /* f = (pm fa + p fb) / q and ivar = 1 / ((pm/q)^2 / ia + (p/q)^2 / ib)
         *   = ia ib q^2 / D with D = pm^2 ib + p^2 ia: one division r = 1 / (q D) serves
         * both (divisions are most of this loop's arithmetic). */
        const double D = pm * pm * ib + p * p * ia;
        const double r = 1.0 / (q * D);
        const double f = (pm * fa + p * fb) * D * r;
        const double iv = ia * ib * q * q * q * r;
        /* validity without branches (bad pixels may hold NaN; the results are discarded) */
        int ok = iv > 0.0 && isfinite(iv) && isfinite(f);
        if (good) ok &= ((!use_a) | (good[a] != 0)) & ((!use_b) | (good[b] != 0));
        flux_out[j] = ok ? f : NAN;
        ivar_out[j] = ok ? iv : 0.0;
        n_good += (size_t)ok;
    }
    return n_good;
}
