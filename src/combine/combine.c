/* combine.c: recommended labels and method disagreement for one row (see combine.h). */
#include "mstars/combine.h"
#include "mstars/schema.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const char *const ms_rec_names[MS_REC_N] = {"teff", "logg", "m_h", "alpha_m", "rv"};
const char *const ms_rec_units[MS_REC_N] = {"K", "dex", "dex", "dex", "km/s"};

static int usable(const ms_rec_input *x)
{
    return x->clean && isfinite(x->value) && isfinite(x->error) && x->error > 0.0;
}

/* the honest error a candidate is ranked by (combine.h) */
static double rank_of(const ms_rec_input *x)
{
    return x->score > 0.0 ? x->score : x->error;
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
            if (best < 0 || rank_of(x) < rank_of(&in[(size_t)best * MS_REC_N + q])) best = (int)m;
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

int ms_combine_column_name(const void *answers, const char *name, char *buf, size_t len)
{
    const ms_method_answers *a = answers;
    snprintf(buf, len, "%s", name);
    const size_t lm = strlen(a->method);
    for (int q = 0; q < MS_ANSWERS_N; q++) {
        const char *v = a->value[q];
        if (!v) continue;
        /* already prefixed (laspm_teff, e_laspm_teff): kept */
        if (strncmp(v, a->method, lm) == 0 && v[lm] == '_') continue;
        const size_t lv = strlen(v);
        if (strcmp(name, v) == 0) {
            snprintf(buf, len, "%s_%s", a->method, v);
            return 1;
        }
        /* e_<v>, e_<v>_total, e_<v>_repeat, ... */
        if (strncmp(name, "e_", 2) == 0 && strncmp(name + 2, v, lv) == 0 &&
            (name[2 + lv] == '\0' || name[2 + lv] == '_')) {
            snprintf(buf, len, "e_%s_%s", a->method, name + 2);
            return 1;
        }
    }
    return 0;
}
