/* continuum.c: the pseudo-continuum (Z25 2.4, Eq. 2-3; method.md 2.4):
 *   F(lambda) = sum_i f_i w_i(lambda) / sum_i w_i(lambda),
 *   w_i(lambda) = exp(-(lambda - lambda_i)^2 / sigma^2)   (sigma^2, not 2 sigma^2: Eq. 3),
 * the sums running over the good pixels of the uniform output grid within
 * continuum_truncate sigma. It is the masked kernel smoothing of convolve.c. Edges: only
 * grid pixels enter (nothing beyond wave_min/wave_max), the normalised kernel is simply
 * cut there, which keeps a constant exact but not a slope (a linear flux gets a continuum
 * bent towards the interior mean within ~2 sigma of either end). Synthetic and observed
 * spectra are treated identically, so the edge behaviour cancels in the fits. */
#include "spec_internal.h"

#include <math.h>

void ms_spec_continuum(ms_spec_work *w, const double *flux, const double *ivar, double *cont)
{
    const size_t n = w->grid.n;
    uint8_t *good = w->good;
    for (size_t j = 0; j < n; j++)
        good[j] = isfinite(flux[j]) && (!ivar || (ivar[j] > 0.0 && isfinite(ivar[j])));
    ms_spec_smooth(flux, good, n, w->ckernel, w->scratch, cont);
}
