/* measure.c: one spectrum through the whole RV module (rv.h). */
#include "mstars/rv.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* rms relative residual above 7500 A more than this times that below: a red-end anomaly */
#define RED_ANOMALY_RATIO 3.0

ms_status ms_rv_measure_all(ms_rv_engine *e, const ms_rv_native *sp, double rv_lamost,
                            double e_rv_lamost, ms_rv_measurements *m)
{
    memset(m, 0, sizeof *m);
    m->rv_lamost = rv_lamost;
    m->e_rv_lamost = e_rv_lamost;
    MS_TRY(ms_rv_tm(e, sp, 0.0, &m->tm));
    m->red_anomaly = isfinite(m->tm.red_blue) && m->tm.red_blue > RED_ANOMALY_RATIO;
    /* the lines, searched around the TM velocity (else the pipeline's) */
    double v0 = m->tm.ok ? m->tm.rv : isfinite(rv_lamost) ? rv_lamost : 0.0;
    double abs_rv[MS_RV_N_LINES], em_rv[MS_RV_N_LINES];
    ms_rv_measure_lines(sp, ms_rv_dsal_lines, 0, v0, abs_rv);
    ms_rv_measure_lines(sp, ms_rv_dsel_lines, 1, v0, em_rv);
    ms_rv_dsal1(abs_rv, &m->dsal1);
    ms_rv_clip(abs_rv, &m->dsal2);
    ms_rv_clip(em_rv, &m->dsel);
    memset(&m->tml, 0, sizeof m->tml);
    m->tml.rv = m->tml.e_rv = NAN;
    /* TML7500 only where the decision may need it: LAMOST not confirmed by TM */
    if (!(m->tm.ok && isfinite(rv_lamost) && ms_rv_agrees_tm(m->tm.rv, rv_lamost)))
        MS_TRY(ms_rv_tm(e, sp, 7500.0, &m->tml));
    return MS_OK;
}

void ms_rv_fill_unmeasured(ms_rv_row *r)
{
    r->rv_template[0] = '\0';
    snprintf(r->rv_from, sizeof r->rv_from, "%s", "");
    double *d[] = {&r->rv_pipeline, &r->e_rv_pipeline, &r->rv_tm, &r->e_rv_tm, &r->e_rv_tm_stat, &r->rv_tm_min, &r->rv_tm_init,
                   &r->chi2_tm, &r->red_blue, &r->rv_tml7500, &r->e_rv_tml7500, &r->rv_dsal,
                   &r->e_rv_dsal, &r->rv_dsal1, &r->e_rv_dsal1, &r->rv_dsal2, &r->e_rv_dsal2,
                   &r->rv_dsel, &r->e_rv_dsel, &r->rv, &r->e_rv};
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) *d[i] = NAN;
    r->n_pix_tm = r->n_dsal1 = r->n_dsal2 = r->n_dsel = 0;
    r->rv_flag = 0;
    r->rv_from_code = -1;
    r->rv_bits = MS_RV_BIT_TM_FAILED;
}

void ms_rv_fill_row(const ms_rv_measurements *m, const ms_rv_choice *c, const ms_rv_library *lib,
                    ms_rv_row *r)
{
    r->rv_pipeline = m->rv_lamost;
    r->e_rv_pipeline = m->e_rv_lamost;
    r->rv_tm = m->tm.ok ? m->tm.rv : NAN;
    r->e_rv_tm = m->tm.ok ? m->tm.e_rv : NAN;
    r->rv_tm_init = m->tm.rv_init;
    r->e_rv_tm_stat = m->tm.e_stat;
    r->rv_tm_min = m->tm.rv_min;
    r->chi2_tm = m->tm.chi2;
    r->red_blue = m->tm.red_blue;
    r->n_pix_tm = m->tm.n_pix;
    snprintf(r->rv_template, sizeof r->rv_template, "%s",
             m->tm.template_index >= 0 ? lib->t[m->tm.template_index].name : "");
    r->rv_tml7500 = m->tml.ok ? m->tml.rv : NAN;
    r->e_rv_tml7500 = m->tml.ok ? m->tml.e_rv : NAN;
    r->rv_dsal1 = m->dsal1.ok ? m->dsal1.rv : NAN;
    r->e_rv_dsal1 = m->dsal1.ok ? m->dsal1.e_rv : NAN;
    r->n_dsal1 = m->dsal1.n_used;
    r->rv_dsal2 = m->dsal2.ok ? m->dsal2.rv : NAN;
    r->e_rv_dsal2 = m->dsal2.ok ? m->dsal2.e_rv : NAN;
    r->n_dsal2 = m->dsal2.n_used;
    r->rv_dsal = m->dsal1.ok ? r->rv_dsal1 : r->rv_dsal2;
    r->e_rv_dsal = m->dsal1.ok ? r->e_rv_dsal1 : r->e_rv_dsal2;
    r->rv_dsel = m->dsel.ok ? m->dsel.rv : NAN;
    r->e_rv_dsel = m->dsel.ok ? m->dsel.e_rv : NAN;
    r->n_dsel = m->dsel.n_used;
    r->rv = c->rv;
    r->e_rv = c->e_rv;
    r->rv_from_code = (int32_t)c->from;
    snprintf(r->rv_from, sizeof r->rv_from, "%s", ms_rv_from_name(c->from));
    r->rv_flag = ms_rv_flag(c->rv, r->lmjd);
    r->rv_bits = (m->tm.ok ? 0u : MS_RV_BIT_TM_FAILED) | (m->tm.at_edge ? MS_RV_BIT_TM_EDGE : 0u) |
                 (m->red_anomaly ? MS_RV_BIT_RED_ANOMALY : 0u);
}
