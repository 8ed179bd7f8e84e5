/* mask.c: the fit mask of the output grid (method.md 2.5, Z25 2.4: the wavelength ranges
 * excluded from every fit). */
#include "mstars/spec.h"

#include <math.h>
#include <string.h>

/* Pixel i is masked when lo <= start + i * step <= hi for some configured (lo, hi) pair,
 * bounds inclusive to 1e-9 of a pixel (so 6270-6330 on the 1 A grid is 61 pixels). An
 * odd trailing value (not a pair) is ignored; ms_config_validate rejects it. */
void ms_spec_fit_mask(const ms_cfg_preprocess *p, ms_wgrid grid, uint8_t *mask)
{
    if (grid.n == 0) return;
    memset(mask, 0, grid.n);
    const double eps = 1e-9;
    for (int r = 0; r + 1 < p->fit_masks.n; r += 2) {
        double lo = (p->fit_masks.v[r] - grid.start) / grid.step;
        double hi = (p->fit_masks.v[r + 1] - grid.start) / grid.step;
        if (!(hi >= lo)) continue;
        double a = ceil(lo - eps), b = floor(hi + eps);
        if (a < 0) a = 0;
        if (b > (double)(grid.n - 1)) b = (double)(grid.n - 1);
        for (double i = a; i <= b; i += 1.0) mask[(size_t)i] = 1;
    }
}
