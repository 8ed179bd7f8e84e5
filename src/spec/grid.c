/* grid.c: the uniform output grid and the relativistic Doppler factor (method.md 2.2-2.3). */
#include "mstars/spec.h"

#include <math.h>

/* method.md 2.3 / Z25 2.4: uniform 1 A grid over 6000-8900 A (2901 pixels by default).
 * The last pixel is the largest start + i * step not beyond wave_max (to 1e-9 of a step,
 * so that 6000 + 2900 * 1 counts as 8900). Degenerate settings give n = 0. */
ms_wgrid ms_spec_grid(const ms_cfg_preprocess *p)
{
    ms_wgrid g = {p->wave_min, p->wave_step, 0};
    if (!(p->wave_step > 0) || !(p->wave_max >= p->wave_min) || !isfinite(p->wave_max)) return g;
    double span = (p->wave_max - p->wave_min) / p->wave_step;
    if (!(span < 1e9)) return g;
    g.n = (size_t)floor(span + 1e-9) + 1;
    return g;
}

/* Special-relativistic Doppler factor for a radial velocity v (v > 0 receding):
 *   lambda_obs / lambda_rest = sqrt((1 + beta) / (1 - beta)),  beta = v / c.
 * NaN when |v| >= c or v is not finite. */
double ms_spec_doppler(double v_kms)
{
    double beta = v_kms / MS_C_KMS;
    if (!(fabs(beta) < 1.0)) return NAN;
    return sqrt((1.0 + beta) / (1.0 - beta));
}
