/* decide.c: which RV a spectrum gets (L25 3.4.3, Table 7; rv_flag of L25 1.5). L25 checked
 * the disputed spectra by eye; this is the automated form documented in docs/rv.md. */
#include "mstars/rv.h"

#include <math.h>

const char *ms_rv_from_name(ms_rv_from f)
{
    static const char *names[] = {"LAMOST", "TM", "DSAL I", "DSAL II", "TML7500", "DSEL",
                                  "NoRV_lowQuality", "NoRV_waveErr"};
    return f >= 0 && f < MS_RV_N_FROM ? names[f] : "";
}

/* L25 Fig. 10: residual (method - LAMOST) means and standard deviations. */
int ms_rv_agrees_tm(double rv_tm, double rv_lamost)
{
    return fabs(rv_tm - rv_lamost - 3.63) <= 3.0 * 11.95;
}

int ms_rv_agrees_dsal(double rv_dsal, double rv_lamost, int dsal1)
{
    return dsal1 ? fabs(rv_dsal - rv_lamost - 5.02) <= 2.0 * 28.90
                 : fabs(rv_dsal - rv_lamost - 14.05) <= 2.0 * 45.93;
}

/* Two measurements confirm each other: within 3 combined sigma, at least 15 km/s. */
static int confirm(int ok_a, double a, double ea, int ok_b, double b, double eb)
{
    if (!ok_a || !ok_b) return 0;
    double tol = 3.0 * sqrt(ea * ea + eb * eb);
    if (!(tol > 15.0)) tol = 15.0;
    return fabs(a - b) <= tol;
}

/* TM's error in the decision and in e_rv: L25's injection spread (the grid-phase
 * sensitivity) and the statistical error of the chi^2 curvature in quadrature. */
static double tm_err(const ms_rv_tm_result *t)
{
    return isfinite(t->e_stat) ? hypot(t->e_rv, t->e_stat) : t->e_rv;
}

static ms_rv_choice pick(ms_rv_from f, double rv, double e)
{
    ms_rv_choice c = {f, rv, e};
    return c;
}

ms_rv_choice ms_rv_decide(const ms_rv_measurements *m)
{
    const ms_rv_tm_result *tm = &m->tm, *tml = &m->tml;
    const ms_rv_lines_result *d1 = &m->dsal1, *d2 = &m->dsal2, *de = &m->dsel;
    if (isfinite(m->rv_lamost)) {
        int tm_agree = tm->ok && ms_rv_agrees_tm(tm->rv, m->rv_lamost);
        int dsal_agree = d1->ok ? ms_rv_agrees_dsal(d1->rv, m->rv_lamost, 1)
                                : d2->ok && ms_rv_agrees_dsal(d2->rv, m->rv_lamost, 0);
        /* |RV| > 150 km/s: L25 looked at every one; here TM must confirm it */
        if ((tm_agree || dsal_agree) && (fabs(m->rv_lamost) <= 150.0 || tm_agree))
            return pick(MS_RV_FROM_LAMOST, m->rv_lamost, m->e_rv_lamost);
    }
    if (confirm(tm->ok, tm->rv, tm_err(tm), d1->ok, d1->rv, d1->e_rv) ||
        confirm(tm->ok, tm->rv, tm_err(tm), d2->ok, d2->rv, d2->e_rv) ||
        confirm(tm->ok, tm->rv, tm_err(tm), de->ok, de->rv, de->e_rv))
        return pick(MS_RV_FROM_TM, tm->rv, tm_err(tm));
    if (d1->ok) return pick(MS_RV_FROM_DSAL1, d1->rv, d1->e_rv);
    if (m->red_anomaly && (confirm(tml->ok, tml->rv, tm_err(tml), d2->ok, d2->rv, d2->e_rv) ||
                           confirm(tml->ok, tml->rv, tm_err(tml), de->ok, de->rv, de->e_rv)))
        return pick(MS_RV_FROM_TML7500, tml->rv, tm_err(tml));
    if (confirm(d2->ok, d2->rv, d2->e_rv, tml->ok, tml->rv, tm_err(tml)))
        return pick(MS_RV_FROM_DSAL2, d2->rv, d2->e_rv);
    if (confirm(de->ok, de->rv, de->e_rv, tm->ok, tm->rv, tm_err(tm)) ||
        confirm(de->ok, de->rv, de->e_rv, tml->ok, tml->rv, tm_err(tml)))
        return pick(MS_RV_FROM_DSEL, de->rv, de->e_rv);
    /* a clean TM minimum that no line confirms (faint or featureless lines) */
    if (tm->ok && tm_err(tm) < 15.0) return pick(MS_RV_FROM_TM, tm->rv, tm_err(tm));
    /* the absorption lines scatter by hundreds of km/s although TM finds a minimum: the
     * lines are not where the wavelength solution puts them */
    if (tm->ok) {
        double lo = INFINITY, hi = -INFINITY;
        int n = 0;
        for (int l = 0; l < MS_RV_N_LINES; l++)
            if (isfinite(d2->line_rv[l])) {
                lo = fmin(lo, d2->line_rv[l]);
                hi = fmax(hi, d2->line_rv[l]);
                n++;
            }
        if (n >= 3 && hi - lo > 300.0) return pick(MS_RV_FROM_NORV_WAVEERR, NAN, NAN);
    }
    return pick(MS_RV_FROM_NORV_LOWQ, NAN, NAN);
}

int ms_rv_flag(double rv, int64_t lmjd)
{
    return isfinite(rv) && lmjd > 55940;
}
