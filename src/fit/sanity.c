/* sanity.c: the catalog-wide sanity checks (sanity.h). */
#include "mstars/sanity.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const label_names[MS_SANITY_LABELS] = {"teff", "logg", "m_h", "alpha_m"};

int ms_sanity_subtype(const char *s)
{
    if (!s) return -1;
    while (*s == ' ') s++;
    if (*s == 'd' || *s == 's') s++; /* dwarf / subdwarf prefixes */
    const char cls = (char)toupper((unsigned char)*s);
    if ((cls != 'M' && cls != 'K') || !isdigit((unsigned char)s[1])) return -1;
    const int v = s[1] - '0';
    if (cls == 'M') return 2 + v;
    return v == 5 || v == 6 ? 0 : v == 7 ? 1 : -1;
}

int ms_sanity_bin(double x, double lo, double hi)
{
    if (!isfinite(x) || !(hi > lo) || x < lo || x > hi) return -1;
    int b = (int)floor((x - lo) / (hi - lo) * MS_SANITY_BINS);
    return b >= MS_SANITY_BINS ? MS_SANITY_BINS - 1 : b;
}

/* the subtype's number on the SpT scale (K5 -2, K7 -1, M0 0 ...) */
static double subtype_value(int k) { return k - 2.0; }

void ms_sanity_evaluate(const ms_sanity_counts *c, const double lo[MS_SANITY_LABELS],
                        const double hi[MS_SANITY_LABELS], const ms_sanity_opts *o,
                        ms_sanity_result *r)
{
    memset(r, 0, sizeof *r);
    r->pass = 1;
    size_t len = 0;
    char *t = r->text;
    const size_t cap = sizeof r->text;
#define ADD(...)                                                                           \
    do {                                                                                   \
        if (len < cap) len += (size_t)snprintf(t + len, cap - len, __VA_ARGS__);            \
    } while (0)
    for (int k = 0; k < MS_SANITY_LABELS; k++) {
        r->pile_frac[k] = r->pile_at[k] = NAN;
        if (!isfinite(lo[k]) || !(c->fitted > 0)) continue;
        int best = 0;
        double n = 0;
        for (int b = 0; b < MS_SANITY_BINS; b++) {
            n += c->hist[k][b];
            if (c->hist[k][b] > c->hist[k][best]) best = b;
        }
        if (!(n > 0)) continue;
        r->pile_frac[k] = c->hist[k][best] / n;
        r->pile_at[k] = lo[k] + (best + 0.5) * (hi[k] - lo[k]) / MS_SANITY_BINS;
        if (r->pile_frac[k] > o->pile_fraction) {
            r->pile[k] = 1;
            r->pass = 0;
            ADD("%s%.0f%% of the rows have %s within 1%% of its range near %.4g%s", len ? "; " : "",
                100 * r->pile_frac[k], label_names[k], r->pile_at[k],
                best == 0 || best == MS_SANITY_BINS - 1 ? " (a bound)" : "");
        }
    }
    r->mismatch_frac = c->fitted > 0 ? c->mismatch / c->fitted : NAN;
    if (r->mismatch_frac > o->mismatch_fraction) {
        r->chi2_excess = 1;
        r->pass = 0;
        ADD("%s%.0f%% of the fitted rows are model_mismatch (the model misses them beyond "
            "the noise)", len ? "; " : "", 100 * r->mismatch_frac);
    }
    /* Teff per subtype: weighted least squares of the mean against the subtype */
    double sw = 0, sx = 0, sy = 0, n_rows = 0, xmin = 1e9, xmax = -1e9;
    for (int k = 0; k < MS_SANITY_SUBTYPES; k++) {
        if (c->sub_n[k] < 3) continue;
        const double x = subtype_value(k), y = c->sub_teff[k] / c->sub_n[k];
        sw += c->sub_n[k];
        sx += c->sub_n[k] * x;
        sy += c->sub_n[k] * y;
        n_rows += c->sub_n[k];
        xmin = fmin(xmin, x);
        xmax = fmax(xmax, x);
    }
    r->teff_slope = NAN;
    if (n_rows >= 10 && xmax - xmin >= 2) {
        const double mx = sx / sw, my = sy / sw;
        double sxx = 0, sxy = 0;
        for (int k = 0; k < MS_SANITY_SUBTYPES; k++) {
            if (c->sub_n[k] < 3) continue;
            const double x = subtype_value(k) - mx, y = c->sub_teff[k] / c->sub_n[k] - my;
            sxx += c->sub_n[k] * x * x;
            sxy += c->sub_n[k] * x * y;
        }
        r->teff_slope = sxy / sxx;
        if (r->teff_slope > o->teff_slope_max) {
            r->teff_subclass_bad = 1;
            r->pass = 0;
            ADD("%sTeff does not follow the LAMOST SUBCLASS (%+.0f K per subtype over %.0f "
                "rows; dwarfs: -150 to -250)", len ? "; " : "", r->teff_slope, n_rows);
        }
    }
    if (r->pass)
        ADD("catalog sanity: PASS (largest pile-up %.0f%% of a 1%% bin, %.0f%% model_mismatch, "
            "Teff %+.0f K per subtype)", 100 * fmax(r->pile_frac[0], r->pile_frac[1]),
            100 * r->mismatch_frac, r->teff_slope);
    else {
        char tmp[sizeof r->text + 128];
        snprintf(tmp, sizeof tmp, "catalog sanity: FAIL: %s: this catalog looks like a failed "
                 "fit", r->text);
        memcpy(r->text, tmp, sizeof r->text);
        r->text[sizeof r->text - 1] = '\0';
    }
#undef ADD
}
