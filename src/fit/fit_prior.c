/* fit_prior.c: the optional Gaussian prior on [alpha/M] of the per-spectrum fit
 * (fit.alpha_prior; fit.h "Prior").
 *
 * Why: at R ~ 1800 the four-label fit hardly measures [alpha/M], and Teff trades against it
 * (on the demo's mock universe the fitted [alpha/M] misses the truth by 0.18-0.21 dex rms,
 * Teff moves ~200 K per dex of it, and the Teff error correlates +0.84..0.90 with the
 * [alpha/M] error: benchmarks/RESULTS.md, issue 24). A prior on [alpha/M] removes the
 * degeneracy: the objective becomes
 *
 *     chi^2(y) + ((alpha - mu) / sigma)^2,       mu = mu([M/H]) (trend) or a constant,
 *
 * and the Gauss-Newton covariance gets the prior's information J_p^T J_p, J_p the gradient
 * of the residual (alpha - mu) / sigma (the posterior covariance of a Gaussian likelihood
 * times a Gaussian prior; fit_batch.c slot_final).
 *
 * The trend is the one Z25 itself assumes for M dwarfs (Z25 3.3.2 step 1: the synthetic
 * training labels of Cycle-StarNet set [alpha/M] "empirically as 0.0 for [M/H] >= 0, 0.2 for
 * [M/H] = -0.5 dex, and 0.4 for [M/H] = -1.0 dex"): the broken line through these nodes,
 * flat outside [-1, 0], smoothed with softplus corners of width 0.05 dex so that chi^2 stays
 * differentiable (it is within 0.014 dex of the nodes). Z25 does not put a prior in its fit
 * (it publishes no [alpha/M]); this is our option, off by default. */
#include "fit_internal.h"

#include <math.h>
#include <string.h>

#define TREND_SMOOTH 0.05 /* dex: width of the smoothed corners */

/* s ln(1 + exp(x / s)) and its derivative 1 / (1 + exp(-x / s)), stable for any x */
static double softplus(double x, double s, double *d)
{
    double t = x / s;
    *d = t >= 0.0 ? 1.0 / (1.0 + exp(-t)) : exp(t) / (1.0 + exp(t));
    return s * (fmax(t, 0.0) + log1p(exp(-fabs(t))));
}

double ms_fit_alpha_trend(double m_h, double *deriv)
{
    /* 0.4 (relu(-m) - relu(-m - 1)): 0 above 0, -0.4 m between, 0.4 below -1 */
    double d1, d2;
    double a = softplus(-m_h, TREND_SMOOTH, &d1);
    double b = softplus(-m_h - 1.0, TREND_SMOOTH, &d2);
    if (deriv) *deriv = 0.4 * (-d1 + d2);
    return 0.4 * (a - b);
}

static long label_index(const ms_fit_model *m, const char *name)
{
    for (size_t j = 0; j < m->n_labels; j++)
        if (!strcmp(m->names[j], name)) return (long)j;
    return -1;
}

ms_status fit_prior_setup(const ms_cfg_fit *c, const ms_fit_model *m, fit_prior *p)
{
    memset(p, 0, sizeof *p);
    if (!strcmp(c->alpha_prior, "none")) return MS_OK;
    if (!strcmp(c->alpha_prior, "trend")) p->kind = FIT_PRIOR_TREND;
    else if (!strcmp(c->alpha_prior, "fixed")) p->kind = FIT_PRIOR_FIXED;
    else MS_ERROR(MS_EINVAL, "fit.alpha_prior '%s': expected none, trend or fixed", c->alpha_prior);
    if (!(c->alpha_prior_sigma > 0.0) || !isfinite(c->alpha_prior_sigma))
        MS_ERROR(MS_EINVAL, "fit.alpha_prior_sigma %g: must be > 0", c->alpha_prior_sigma);
    if (!isfinite(c->alpha_prior_center))
        MS_ERROR(MS_EINVAL, "fit.alpha_prior_center is not finite");
    long ia = label_index(m, "alpha_m"), im = label_index(m, "m_h");
    if (ia < 0)
        MS_ERROR(MS_EINVAL, "fit.alpha_prior = %s but the model has no label alpha_m",
                 c->alpha_prior);
    if (p->kind == FIT_PRIOR_TREND && im < 0)
        MS_ERROR(MS_EINVAL, "fit.alpha_prior = trend but the model has no label m_h");
    p->ia = (size_t)ia;
    p->im = im < 0 ? 0 : (size_t)im;
    p->sigma = c->alpha_prior_sigma;
    p->center = c->alpha_prior_center;
    p->min_a = m->phys_min[ia];
    p->scale_a = m->phys_max[ia] - m->phys_min[ia];
    if (im >= 0) {
        p->min_m = m->phys_min[im];
        p->scale_m = m->phys_max[im] - m->phys_min[im];
    }
    return MS_OK;
}

double fit_prior_eval(const fit_prior *p, const double *z, size_t P, double *res, double *jp)
{
    if (jp)
        for (size_t j = 0; j < P; j++) jp[j] = 0.0;
    if (res) *res = 0.0;
    if (p->kind == FIT_PRIOR_NONE) return 0.0;
    const double alpha = p->min_a + (z[p->ia] + 0.5) * p->scale_a;
    double mu = p->center, dmu = 0.0;
    if (p->kind == FIT_PRIOR_TREND) mu = ms_fit_alpha_trend(p->min_m + (z[p->im] + 0.5) * p->scale_m, &dmu);
    const double r = (alpha - mu) / p->sigma;
    if (res) *res = r;
    if (jp) {
        jp[p->ia] = p->scale_a / p->sigma;
        if (p->kind == FIT_PRIOR_TREND) jp[p->im] = -dmu * p->scale_m / p->sigma;
    }
    return r * r;
}
