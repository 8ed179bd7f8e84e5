/* combine.c: recommended labels and method disagreement for one row (see combine.h). */
#include "mstars/combine.h"

#include <math.h>

const char *const ms_rec_names[MS_REC_N] = {"teff", "logg", "m_h", "alpha_m", "rv"};
const char *const ms_rec_units[MS_REC_N] = {"K", "dex", "dex", "dex", "km/s"};

static int usable(const ms_rec_input *x)
{
    return x->clean && isfinite(x->value) && isfinite(x->error) && x->error > 0.0;
}

void ms_combine_row(const ms_rec_input *in, size_t n_methods, double k, ms_rec_output *out)
{
    out->disagree = 0;
    out->pair[0] = out->pair[1] = -1;
    out->pair_quantity = -1;
    out->pair_sigma = NAN;
    for (int q = 0; q < MS_REC_N; q++) {
        int best = -1;
        for (size_t m = 0; m < n_methods; m++) {
            const ms_rec_input *x = &in[m * MS_REC_N + q];
            if (!usable(x)) continue;
            if (best < 0 || x->error < in[(size_t)best * MS_REC_N + q].error) best = (int)m;
            for (size_t j = 0; j < m; j++) {
                const ms_rec_input *y = &in[j * MS_REC_N + q];
                if (!usable(y)) continue;
                double sig = fabs(x->value - y->value) / hypot(x->error, y->error);
                if (sig > k) out->disagree |= 1u << q;
                if (!(sig <= out->pair_sigma)) { /* also when pair_sigma is NaN */
                    out->pair_sigma = sig;
                    out->pair[0] = (int)j;
                    out->pair[1] = (int)m;
                    out->pair_quantity = q;
                }
            }
        }
        out->method[q] = best;
        out->value[q] = best < 0 ? NAN : in[(size_t)best * MS_REC_N + q].value;
        out->error[q] = best < 0 ? NAN : in[(size_t)best * MS_REC_N + q].error;
    }
}
