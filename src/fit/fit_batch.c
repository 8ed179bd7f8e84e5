/* fit_batch.c: the batched fitter (fit.h): per-spectrum L-BFGS-B states advanced together,
 * one batched model call per step for every spectrum that needs chi^2 and its gradient
 * (Z25 2.3 and 3.5, method.md 5.3 observed-domain fit), and the Gauss-Newton errors at
 * the optimum (Z25 4.1 Err_fitting, method.md 6).
 *
 * Pixel correlation (the C_p factor of fit.h). A native pixel of width k output pixels
 * (k = native width / grid step) with noise sigma feeds about k output pixels by linear
 * interpolation; output j at fraction t between native a and a+1 has variance
 * ((1-t)^2 + t^2) sigma^2 and its ivar is exactly the inverse of that, so the weighted fit
 * treating the output pixels as independent credits, per native pixel, k E_t[1 / ((1-t)^2
 * + t^2)] = (pi/2) k times the information the native pixel holds (t uniform on [0, 1)).
 * The true variance of that weighted estimator (the sandwich A^-1 J^T W Cov W J A^-1 with
 * the real covariance of the resampled noise) is larger than the naive A^-1 by the same
 * factor for a Jacobian smooth on the pixel scale: checked numerically for a constant
 * model over k = 1.2 .. 3 (ratio (pi/2) k within 2%; for k near 1 the ratio depends on the
 * grid phase and averages 1.56). Per pixel we use C_p = max(1, (pi/2) k_p) with
 * k_p = lambda_p (10^dloglam - 1) / step, and Cov = A^-1 (J^T W C J) A^-1. */
#include "fit_internal.h"

#include "mstars/mem.h"
#include "mstars/spec.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define PS_ROWS 128           /* spectra per pre-search GEMM */

/* Slot life: START (a Jacobian evaluation at the start point sets the variable scaling
 * and L-BFGS-B's first f, g) -> FG (chi^2 and gradient wherever L-BFGS-B asks) -> FINAL (a
 * Jacobian evaluation at the end point: errors, result; or a restart over the wide
 * velocity range) -> FREE. */
enum { SLOT_FREE = 0, SLOT_START, SLOT_FG, SLOT_FINAL };

typedef struct {
    size_t id;            /* spectrum index in the input */
    int stage;
    int wide, retried;
    long iters, evals;    /* of finished L-BFGS-B runs (a retry restarts) */
    double first_f;       /* chi^2 at the start */
    double prior_w;       /* weight of the [alpha/M] prior's term (1; the error scaling's
                             factor after the reweighted restart, see slot_final) */
    int reweighted;
    double d[MS_FIT_MAX_PARAMS]; /* optimiser variable = d z (Jacobi preconditioning) */
    double lower[MS_FIT_MAX_PARAMS], upper[MS_FIT_MAX_PARAMS]; /* bounds of z */
    double z[MS_FIT_MAX_PARAMS]; /* start point (START) or end point (FINAL) */
    uint32_t flags;
    char task[64];
} fit_slot;

const char *const ms_fit_flag_names[MS_FIT_N_FLAGS + 1] = {
    "not_converged", "linesearch", "at_bound", "presearch_disagree", "few_pixels", "bad_input",
    "nonfinite", "rv_edge", "bad_pixels", "singular", "rv_wide", "no_rv_start",
    "model_mismatch", "grid_failed", NULL};
#define flag_names ms_fit_flag_names

const char *ms_fit_flag_name(uint32_t bit)
{
    for (size_t i = 0; i < MS_FIT_N_FLAGS; i++)
        if (bit == (1u << i)) return flag_names[i];
    return NULL;
}

char *ms_fit_flags_format(uint32_t flags, char *buf, size_t len)
{
    size_t used = 0;
    if (len == 0) return buf;
    buf[0] = '\0';
    for (size_t i = 0; i < 32; i++) {
        if (!(flags & (1u << i))) continue;
        const char *nm = i < MS_FIT_N_FLAGS ? flag_names[i] : "unknown";
        int w = snprintf(buf + used, len - used, "%s%s", used ? "|" : "", nm);
        if (w < 0 || (size_t)w >= len - used) { /* no partial names */
            buf[used] = '\0';
            break;
        }
        used += (size_t)w;
    }
    return buf;
}

size_t fit_weights(const float *F, const float *iv, const uint8_t *mask, size_t n, size_t lo,
                   size_t hi, const double *pix_var, double *w, uint32_t *flags)
{
    size_t n_good = 0;
    int usable = 0, bad = 0;
    for (size_t p = 0; p < n; p++) {
        const double fl = F[p], v = iv[p];
        w[p] = 0.0;
        if (!isfinite(v) || v < 0.0 || (v > 0.0 && !isfinite(fl))) {
            bad = 1;
            continue;
        }
        if (!(v > 0.0)) continue;
        usable = 1;
        if (p < lo || p > hi || (mask && mask[p])) continue;
        /* the model's own variance (the emulator's error) adds to the pixel's: SLAM's
         * cross-validated model error, issue 17 item 2 */
        w[p] = pix_var ? v / (1.0 + v * pix_var[p]) : v;
        n_good++;
    }
    if (!usable) *flags |= MS_FIT_BAD_INPUT;
    if (bad) *flags |= MS_FIT_BAD_PIXELS;
    return n_good;
}

/* ------------------------------------------------------------------------------------- */

void ms_fitter_free(ms_fitter *f)
{
    if (!f) return;
    if (f->opt)
        for (size_t b = 0; b < f->batch; b++) ms_lbfgsb_free(f->opt[b]);
    ms_free(f->opt);
    ms_free(f->corr);
    ms_free(f->bank_x);
    ms_free(f->bank_cat);
    ms_free(f->bank_prior);
    ms_free(f->g2);
    ms_free(f->ps_cat);
    ms_free(f->ps_score);
    ms_free(f->ps_w);
    ms_free(f->slot_w);
    ms_free(f->slot_f);
    ms_free(f->ps_f);
    ms_free(f->xrows);
    ms_free(f->ids);
    ms_free(f->rowslot);
    ms_free(f->mflux);
    ms_free(f->mjac);
    ms_free(f->vrows);
    ms_free(f->gx);
    ms_free(f->scratch);
    ms_free(f);
}

static ms_status check_config(const ms_cfg_fit *c, const ms_fit_model *m, int *use_vjp,
                              int *scaling)
{
    if (!m->eval) MS_ERROR(MS_EINVAL, "fit: the model has no eval function");
    if (m->n_labels == 0 || m->n_labels > MS_FIT_MAX_LABELS)
        MS_ERROR(MS_EINVAL, "fit: model with %zu labels (1..%d)", m->n_labels, MS_FIT_MAX_LABELS);
    if (m->n_pix < 8) MS_ERROR(MS_EINVAL, "fit: model with %zu pixels", m->n_pix);
    if (!(m->wave_step > 0.0) || !isfinite(m->wave_start))
        MS_ERROR(MS_EINVAL, "fit: model grid start %g, step %g", m->wave_start, m->wave_step);
    for (size_t j = 0; j < m->n_labels; j++)
        if (!(m->phys_max[j] > m->phys_min[j]) || !isfinite(m->phys_max[j] - m->phys_min[j]))
            MS_ERROR(MS_EINVAL, "fit: label %zu (%s) range [%g, %g]", j, m->names[j],
                     m->phys_min[j], m->phys_max[j]);
    if (c->batch_size < 1 || c->lbfgs_memory < 1 || c->max_iterations < 1 || c->presearch_points < 0 ||
        c->min_good_pixels < 1)
        MS_ERROR(MS_EINVAL, "fit: batch_size, lbfgs_memory, max_iterations, min_good_pixels must "
                            "be >= 1 and presearch_points >= 0");
    if (m->max_batch < (size_t)c->batch_size)
        MS_ERROR(MS_EINVAL, "fit: fit.batch_size %ld exceeds the model's batch capacity %zu",
                 c->batch_size, m->max_batch);
    if (c->fit_rv && (!(c->rv_window > 0.0) || !(c->rv_scan_range > 0.0) || !(c->rv_scan_step > 0.0)))
        MS_ERROR(MS_EINVAL, "fit: rv_window, rv_scan_range and rv_scan_step must be > 0");
    if (!(c->factr >= 0.0) || !(c->pgtol >= 0.0) || !(c->bound_tol >= 0.0) ||
        !(c->native_dloglam >= 0.0) || !(c->presearch_disagree >= 0.0))
        MS_ERROR(MS_EINVAL, "fit: factr, pgtol, bound_tol, native_dloglam and "
                            "presearch_disagree must be >= 0");
    if (!strcmp(c->gradient, "vjp")) {
        if (!m->vjp) MS_ERROR(MS_EINVAL, "fit.gradient = vjp but the model has no vjp function");
        *use_vjp = 1;
    } else if (!strcmp(c->gradient, "jacobian")) {
        *use_vjp = 0;
    } else if (!strcmp(c->gradient, "auto")) {
        /* reverse mode whenever the model has it: with The Payne (4 labels, 2 x 300, 2901
         * pixels; bench_fit) it is faster at every batch size, 1 to 128 (forward+vjp costs
         * about 2 forward passes, the Jacobian D + 1). Fixed per fitter, never per call, so
         * that a spectrum's path does not depend on its neighbours. */
        *use_vjp = m->vjp != NULL;
    } else {
        MS_ERROR(MS_EINVAL, "fit.gradient '%s': expected auto, vjp or jacobian", c->gradient);
    }
    if (!strcmp(c->error_scaling, "none")) *scaling = 0;
    else if (!strcmp(c->error_scaling, "chi2")) *scaling = 1;
    else if (!strcmp(c->error_scaling, "inflate")) *scaling = 2;
    else MS_ERROR(MS_EINVAL, "fit.error_scaling '%s': expected none, chi2 or inflate", c->error_scaling);
    return MS_OK;
}

ms_status ms_fitter_alloc(const ms_cfg_fit *cfg, const ms_fit_model *model, ms_fitter **out)
{
    *out = NULL;
    int use_vjp = 0, scaling = 0;
    MS_TRY(check_config(cfg, model, &use_vjp, &scaling));
    ms_fitter *f = ms_calloc("fit.fitter", 1, sizeof *f);
    if (!f) return MS_ENOMEM;
    f->cfg = *cfg;
    f->model = *model;
    f->D = model->n_labels;
    f->P = f->D + (cfg->fit_rv ? 1 : 0);
    f->n_pix = model->n_pix;
    f->batch = (size_t)cfg->batch_size;
    f->use_vjp = use_vjp;
    f->error_scaling = scaling;
    {
        ms_status sp = fit_prior_setup(cfg, model, &f->prior);
        if (sp != MS_OK) {
            ms_fitter_free(f);
            return sp;
        }
    }
    const size_t n = f->n_pix, D = f->D, B = f->batch;
    const double start = model->wave_start, step = model->wave_step;
    f->vmax_all = cfg->fit_rv ? fmax(cfg->rv_window, cfg->rv_scan_range) : 0.0;
    fit_shift_range(n, start, step, f->vmax_all, &f->lo_all, &f->hi_all);
    if (f->hi_all < f->lo_all || f->hi_all - f->lo_all < 8) {
        ms_fitter_free(f);
        MS_ERROR(MS_EINVAL, "fit: a velocity range of %g km/s leaves no pixel of the %zu-pixel grid",
                 f->vmax_all, n);
    }
    f->K = model->per_spectrum ? 0 : (size_t)cfg->presearch_points;
    f->ps_rows = PS_ROWS;
    ms_status st = MS_ENOMEM;
    f->corr = ms_malloc_array("fit.corr", n, sizeof(double));
    f->opt = ms_calloc("fit.opt", B, sizeof *f->opt);
    f->slot_w = ms_malloc_array("fit.slot_w", B * n, sizeof(double));
    f->slot_f = ms_malloc_array("fit.slot_f", B * n, sizeof(double));
    f->ps_f = ms_malloc_array("fit.ps_f", n, sizeof(double));
    f->xrows = ms_malloc_array("fit.xrows", B * D, sizeof(double));
    f->ids = ms_malloc_array("fit.ids", B, sizeof(size_t));
    f->rowslot = ms_malloc_array("fit.rowslot", B, sizeof(size_t));
    f->mflux = ms_malloc_array("fit.mflux", B * n, sizeof(float));
    f->mjac = ms_malloc_array("fit.mjac", B * D * n, sizeof(float));
    f->vrows = ms_malloc_array("fit.vrows", B * n, sizeof(float));
    f->gx = ms_malloc_array("fit.gx", B * D, sizeof(double));
    f->scratch = ms_malloc_array("fit.scratch", (MS_FIT_MAX_PARAMS + 4) * n, sizeof(double));
    f->ps_w = ms_malloc_array("fit.ps_w", n, sizeof(double));
    if (!f->corr || !f->opt || !f->slot_w || !f->slot_f || !f->ps_f || !f->xrows || !f->ids || !f->rowslot || !f->mflux ||
        !f->mjac || !f->vrows || !f->gx || !f->scratch || !f->ps_w)
        goto fail;
    if (f->K > 0) {
        f->bank_x = ms_malloc_array("fit.bank_x", f->K * D, sizeof(double));
        f->bank_cat = ms_malloc_array("fit.bank", f->K * 2 * n, sizeof(float));
        f->ps_cat = ms_malloc_array("fit.ps_cat", f->ps_rows * 2 * n, sizeof(float));
        f->ps_score = ms_malloc_array("fit.ps_score", f->ps_rows * f->K, sizeof(float));
        f->g2 = ms_malloc_array("fit.g2", f->P * n, sizeof(double));
        if (!f->bank_x || !f->bank_cat || !f->ps_cat || !f->ps_score || !f->g2) goto fail;
    }
    for (size_t b = 0; b < B; b++)
        if ((st = ms_lbfgsb_alloc(f->P, (size_t)cfg->lbfgs_memory, &f->opt[b])) != MS_OK) goto fail;
    /* pixel-correlation variance factors C_p (see the top of this file) */
    for (size_t p = 0; p < n; p++) {
        double c = 1.0;
        if (cfg->native_dloglam > 0.0) {
            double lam = start + (double)p * step;
            double k = lam * (pow(10.0, cfg->native_dloglam) - 1.0) / step;
            c = fmax(1.0, 0.5 * M_PI * k);
        }
        f->corr[p] = c;
    }
    if ((st = fit_bank_build(f)) != MS_OK) goto fail;
    *out = f;
    return MS_OK;
fail:
    ms_fitter_free(f);
    return st;
}

size_t ms_fitter_n_params(const ms_fitter *f) { return f->P; }
ms_fit_stats ms_fitter_stats(const ms_fitter *f) { return f->stats; }
size_t ms_fitter_bank_size(const ms_fitter *f) { return f->K; }
const double *ms_fitter_bank_points(const ms_fitter *f) { return f->bank_x; }

/* ------------------------------------------------------------------------------------- */

static void result_init(ms_fit_result *r)
{
    memset(r, 0, sizeof *r);
    for (size_t j = 0; j < MS_FIT_MAX_LABELS; j++)
        r->labels[j] = r->errors[j] = r->start_labels[j] = NAN;
    for (size_t i = 0; i < MS_FIT_MAX_PARAMS; i++)
        for (size_t j = 0; j < MS_FIT_MAX_PARAMS; j++) r->cov[i][j] = NAN;
    r->rv = r->rv_err = r->dv = r->chi2 = r->chi2_red = r->err_scale = r->misfit = NAN;
    r->start_dv = r->start_chi2 = NAN;
}

/* physical label j from scaled x */
static double phys(const ms_fitter *f, size_t j, double x)
{
    return f->model.phys_min[j] + (x + 0.5) * (f->model.phys_max[j] - f->model.phys_min[j]);
}

static void prep_one(ms_fitter *f, const ms_fit_input *in, size_t i, fit_prep *pp)
{
    const size_t n = f->n_pix, D = f->D;
    const ms_cfg_fit *c = &f->cfg;
    memset(pp, 0, sizeof *pp);
    pp->chi2_start = NAN;
    double rv0 = in->rv_init ? in->rv_init[i] : 0.0;
    int known = in->rv_known ? in->rv_known[i] != 0 : 1;
    if (!isfinite(rv0)) known = 0;
    const double *srow = in->start ? in->start + i * D : NULL;
    int given = srow != NULL;
    for (size_t j = 0; given && j < D; j++)
        if (!isfinite(srow[j])) given = 0;
    double dvs = in->start_dv && isfinite(in->start_dv[i]) ? in->start_dv[i] : 0.0;
    if (!c->fit_rv) { /* a fixed velocity: the pixel range follows it */
        pp->dv_fixed = dvs;
        pp->shift = dvs != 0.0;
    }
    if (c->fit_rv) {
        pp->shift = 1;
        pp->lo = f->lo_all;
        pp->hi = f->hi_all;
        pp->wide = !known;
    } else if (pp->shift) {
        fit_shift_range(n, f->model.wave_start, f->model.wave_step, fabs(dvs), &pp->lo, &pp->hi);
    } else {
        pp->lo = 0;
        pp->hi = n - 1;
    }
    double *w = f->ps_w;
    pp->n_good = fit_weights(in->flux + i * n, in->ivar + i * n, in->mask, n, pp->lo, pp->hi, f->model.pix_var, w,
                             &pp->flags);
    size_t need = (size_t)c->min_good_pixels > f->P + 1 ? (size_t)c->min_good_pixels : f->P + 1;
    if (!(pp->flags & MS_FIT_BAD_INPUT) && (pp->hi < pp->lo || pp->n_good < need))
        pp->flags |= MS_FIT_FEW_PIXELS;
    pp->skip = (pp->flags & MS_FIT_FAILED) != 0;
    if (pp->skip) return;
    const double vb = (pp->wide ? c->rv_scan_range : c->rv_window) / MS_FIT_RV_UNIT;
    if (given) {
        for (size_t j = 0; j < D; j++) {
            double x = (srow[j] - f->model.phys_min[j]) / (f->model.phys_max[j] - f->model.phys_min[j]) - 0.5;
            pp->z0[j] = x < -0.5 ? -0.5 : x > 0.5 ? 0.5 : x;
        }
        double u = dvs / MS_FIT_RV_UNIT;
        pp->z0[D] = u < -vb ? -vb : u > vb ? vb : u;
    } else if (f->K > 0) {
        pp->presearch = 1;
    } else {
        for (size_t j = 0; j <= D; j++) pp->z0[j] = 0.0;
        if (c->fit_rv && !known) pp->flags |= MS_FIT_NO_RV_START;
    }
    if (c->fit_rv && !known) pp->flags |= MS_FIT_RV_WIDE;
}

static void slot_advance(ms_fitter *f, fit_slot *s, ms_lbfgsb *opt, ms_status st);

/* The preconditioner from the bank's mean squared Jacobian g2: d_j^2 = sum_p w_p g2_j,p,
 * the Gauss-Newton diagonal of this spectrum's weights for a typical point of the box (see
 * slot_begin); L-BFGS-B starts at once and its first f, g join the batched calls. */
static void precondition_bank(ms_fitter *f, const fit_prep *pp, fit_slot *s, size_t slot_index)
{
    const size_t n = f->n_pix, P = f->P;
    const double *w = f->slot_w + slot_index * n;
    double x0[MS_FIT_MAX_PARAMS], lo_x[MS_FIT_MAX_PARAMS], hi_x[MS_FIT_MAX_PARAMS];
    double jp[MS_FIT_MAX_PARAMS];
    fit_prior_eval(&f->prior, s->z, P, NULL, jp);
    for (size_t j = 0; j < P; j++) {
        double a = s->prior_w * jp[j] * jp[j]; /* the prior's curvature */
        const double *g = f->g2 + j * n;
        for (size_t p = pp->lo; p <= pp->hi; p++) a += w[p] * g[p];
        s->d[j] = a > 0.0 && isfinite(a) ? sqrt(a) : 1.0;
        x0[j] = s->z[j] * s->d[j];
        lo_x[j] = s->lower[j] * s->d[j];
        hi_x[j] = s->upper[j] * s->d[j];
    }
    ms_lbfgsb *opt = f->opt[slot_index];
    ms_status st = ms_lbfgsb_start(opt, x0, lo_x, hi_x, f->cfg.factr, f->cfg.pgtol);
    if (st != MS_NEED_FG) { /* cannot happen with finite starts and valid bounds */
        s->flags |= MS_FIT_NOT_CONVERGED;
        snprintf(s->task, sizeof s->task, "%s", ms_lbfgsb_task(opt));
        s->stage = SLOT_FINAL; /* s->z: the start */
        return;
    }
    slot_advance(f, s, opt, st);
}

static void slot_start(ms_fitter *f, const ms_fit_input *in, const fit_prep *prep, fit_slot *s,
                       size_t slot_index, size_t id)
{
    const size_t n = f->n_pix, D = f->D;
    const fit_prep *pp = &prep[id];
    memset(s, 0, sizeof *s);
    s->id = id;
    s->wide = pp->wide;
    s->flags = pp->flags;
    s->first_f = NAN;
    s->prior_w = 1.0;
    uint32_t dummy = 0;
    fit_weights(in->flux + id * n, in->ivar + id * n, in->mask, n, pp->lo, pp->hi,
                f->model.pix_var, f->slot_w + slot_index * n, &dummy);
    fit_clean_flux(in->flux + id * n, f->slot_w + slot_index * n, n, f->slot_f + slot_index * n);
    for (size_t j = 0; j < D; j++) {
        s->lower[j] = -0.5;
        s->upper[j] = 0.5;
    }
    if (f->cfg.fit_rv) {
        double vb = (s->wide ? f->cfg.rv_scan_range : f->cfg.rv_window) / MS_FIT_RV_UNIT;
        s->lower[D] = -vb;
        s->upper[D] = vb;
    }
    for (size_t j = 0; j < f->P; j++)
        s->z[j] = pp->z0[j] < s->lower[j] ? s->lower[j] : pp->z0[j] > s->upper[j] ? s->upper[j] : pp->z0[j];
    s->stage = SLOT_START;
    if (f->g2) precondition_bank(f, pp, s, slot_index);
}

/* chi^2 and the dv-gradient at the slot's current point from the unshifted model M [n];
 * vd [n] (double) receives S^T W r, the vector whose product with the label Jacobian
 * gives -1/2 the label gradient. */
static double row_chi2(const ms_fitter *f, const fit_prep *pp, const double *F, const double *w,
                       const float *M, double dv, double *vd, double *g_u)
{
    const size_t n = f->n_pix, lo = pp->lo, hi = pp->hi;
    double *m = f->scratch, *dm = f->scratch + n, *q = f->scratch + 2 * n;
    const int rv = f->cfg.fit_rv;
    fit_shift fs = {0};
    if (pp->shift) {
        fs = fit_shift_make(f->model.wave_start, f->model.wave_step, dv);
        fit_shift_apply(&fs, M, lo, hi, m, rv ? dm : NULL);
    }
    double chi2 = 0.0, gu = 0.0;
    for (size_t p = lo; p <= hi; p++) {
        if (w[p] == 0.0) {
            q[p] = 0.0;
            continue;
        }
        double mp = pp->shift ? m[p] : (double)M[p];
        double r = F[p] - mp, qp = w[p] * r;
        chi2 += qp * r;
        if (rv) gu += qp * dm[p];
        q[p] = qp;
    }
    *g_u = -2.0 * gu * MS_FIT_RV_UNIT;
    memset(vd, 0, n * sizeof(double));
    if (pp->shift) fit_shift_adjoint(&fs, q, lo, hi, vd);
    else memcpy(vd + lo, q + lo, (hi - lo + 1) * sizeof(double));
    return chi2;
}

/* The shifted model m [n] and its Jacobian in fit coordinates Jt [P, n] (labels, then
 * u = dv / MS_FIT_RV_UNIT) over [lo, hi], from the model M [n] and J [D, n] at dv. */
static void shifted_jacobian(const ms_fitter *f, const fit_prep *pp, const float *M,
                             const float *J, double dv, double *m, double *Jt)
{
    const size_t n = f->n_pix, D = f->D, lo = pp->lo, hi = pp->hi;
    if (pp->shift) {
        fit_shift fs = fit_shift_make(f->model.wave_start, f->model.wave_step, dv);
        fit_shift_apply(&fs, M, lo, hi, m, f->cfg.fit_rv ? Jt + D * n : NULL);
        for (size_t j = 0; j < D; j++) fit_shift_apply(&fs, J + j * n, lo, hi, Jt + j * n, NULL);
        if (f->cfg.fit_rv)
            for (size_t p = lo; p <= hi; p++) Jt[D * n + p] *= MS_FIT_RV_UNIT;
    } else {
        for (size_t p = lo; p <= hi; p++) m[p] = M[p];
        for (size_t j = 0; j < D; j++)
            for (size_t p = lo; p <= hi; p++) Jt[j * n + p] = J[j * n + p];
    }
}

/* Advance a slot's L-BFGS-B after a status; sets the stage (FG or FINAL). */
static void slot_advance(ms_fitter *f, fit_slot *s, ms_lbfgsb *opt, ms_status st)
{
    while (st == MS_CONTINUE) {
        if (ms_lbfgsb_iterations(opt) >= (size_t)f->cfg.max_iterations) {
            s->flags |= MS_FIT_NOT_CONVERGED;
            break;
        }
        st = ms_lbfgsb_iterate(opt, 0.0, NULL);
    }
    if (st == MS_NEED_FG) {
        s->stage = SLOT_FG;
        return;
    }
    if (st == MS_ENOPROG) s->flags |= MS_FIT_LINESEARCH;
    if (st == MS_EINVAL) s->flags |= MS_FIT_NOT_CONVERGED;
    snprintf(s->task, sizeof s->task, "%s", ms_lbfgsb_task(opt));
    const double *x = ms_lbfgsb_x(opt);
    for (size_t j = 0; j < f->P; j++) s->z[j] = x[j] / s->d[j];
    s->stage = SLOT_FINAL;
}

static void fail_result(const ms_fitter *f, const fit_prep *pp, uint32_t flags, ms_fit_result *r,
                        float *model_row)
{
    result_init(r);
    r->flags = flags;
    r->n_good = pp->n_good;
    if (model_row)
        for (size_t p = 0; p < f->n_pix; p++) model_row[p] = NAN;
}

/* inv [P, P] = A^-1 for a symmetric positive-definite A [P, P] (Cholesky of the
 * Jacobi-scaled matrix); 0 when A is not positive definite to relative 1e-12. */
static int spd_inverse(const double *A, size_t P, double *inv)
{
    double s[MS_FIT_MAX_PARAMS], L[MS_FIT_MAX_PARAMS * MS_FIT_MAX_PARAMS];
    double y[MS_FIT_MAX_PARAMS], x[MS_FIT_MAX_PARAMS];
    for (size_t i = 0; i < P; i++) {
        if (!(A[i * P + i] > 0.0) || !isfinite(A[i * P + i])) return 0;
        s[i] = 1.0 / sqrt(A[i * P + i]);
    }
    for (size_t j = 0; j < P; j++) {
        double d = A[j * P + j] * s[j] * s[j];
        for (size_t k = 0; k < j; k++) d -= L[j * P + k] * L[j * P + k];
        if (!(d > 1e-12)) return 0;
        L[j * P + j] = sqrt(d);
        for (size_t i = j + 1; i < P; i++) {
            double v = A[i * P + j] * s[i] * s[j];
            for (size_t k = 0; k < j; k++) v -= L[i * P + k] * L[j * P + k];
            L[i * P + j] = v / L[j * P + j];
        }
    }
    for (size_t c = 0; c < P; c++) {
        for (size_t i = 0; i < P; i++) { /* L y = e_c */
            double v = i == c ? 1.0 : 0.0;
            for (size_t k = 0; k < i; k++) v -= L[i * P + k] * y[k];
            y[i] = v / L[i * P + i];
        }
        for (size_t i = P; i-- > 0;) { /* L^T x = y */
            double v = y[i];
            for (size_t k = i + 1; k < P; k++) v -= L[k * P + i] * x[k];
            x[i] = v / L[i * P + i];
        }
        for (size_t i = 0; i < P; i++) inv[i * P + c] = s[i] * x[i] * s[c];
    }
    return 1;
}

/* A slot whose chi^2 or gradient went non-finite: NaN result, slot freed. */
static void slot_nonfinite(ms_fitter *f, const fit_prep *pp, fit_slot *s, ms_lbfgsb *opt,
                           ms_fit_result *r, float *model_row)
{
    fail_result(f, pp, s->flags | MS_FIT_NONFINITE, r, model_row);
    r->iterations = s->iters + (long)ms_lbfgsb_iterations(opt);
    r->evaluations = s->evals + (long)ms_lbfgsb_evaluations(opt) + 1;
    f->stats.evaluations += (size_t)r->evaluations;
    s->stage = SLOT_FREE;
}

/* START: chi^2, gradient and the Gauss-Newton diagonal at s->z from m, Jt; the variables
 * are scaled by d_j = sqrt((J^T W J)_jj) so that L-BFGS-B's initial Hessian (the identity)
 * matches the curvature: its first step is then a diagonal Gauss-Newton step instead of a
 * raw gradient step (chi^2 gradients are ~1e3 in box units), and pgtol reads in units of
 * the statistical error (a 1-sigma offset gives a gradient of about 2). */
static void slot_begin(ms_fitter *f, const fit_prep *pp, fit_slot *s, size_t slot_index,
                       const double *F, const double *m, const double *Jt, ms_fit_result *r,
                       float *model_row)
{
    const size_t n = f->n_pix, P = f->P, lo = pp->lo, hi = pp->hi;
    const double *w = f->slot_w + slot_index * n;
    ms_lbfgsb *opt = f->opt[slot_index];
    double chi2 = 0.0, g[MS_FIT_MAX_PARAMS] = {0}, A[MS_FIT_MAX_PARAMS] = {0};
    for (size_t p = lo; p <= hi; p++) {
        if (w[p] == 0.0) continue;
        double rr = F[p] - m[p], q = w[p] * rr;
        chi2 += q * rr;
        for (size_t j = 0; j < P; j++) {
            g[j] -= 2.0 * q * Jt[j * n + p];
            A[j] += w[p] * Jt[j * n + p] * Jt[j * n + p];
        }
    }
    /* the objective: chi^2 + the [alpha/M] prior (fit_prior.c); first_f stays chi^2 */
    double pres, jp[MS_FIT_MAX_PARAMS];
    const double prior = s->prior_w * fit_prior_eval(&f->prior, s->z, P, &pres, jp);
    for (size_t j = 0; j < P; j++) {
        g[j] += 2.0 * s->prior_w * pres * jp[j];
        A[j] += s->prior_w * jp[j] * jp[j];
    }
    int ok = isfinite(chi2) && isfinite(prior);
    for (size_t j = 0; j < P; j++) {
        ok = ok && isfinite(g[j]);
        s->d[j] = A[j] > 0.0 && isfinite(A[j]) ? sqrt(A[j]) : 1.0;
    }
    if (!ok) {
        for (size_t j = 0; j < P; j++) s->d[j] = 1.0;
        ms_lbfgsb_start(opt, s->z, s->lower, s->upper, f->cfg.factr, f->cfg.pgtol);
        slot_nonfinite(f, pp, s, opt, r, model_row);
        return;
    }
    double x0[MS_FIT_MAX_PARAMS], lo_x[MS_FIT_MAX_PARAMS], hi_x[MS_FIT_MAX_PARAMS], gx[MS_FIT_MAX_PARAMS];
    for (size_t j = 0; j < P; j++) {
        x0[j] = s->z[j] * s->d[j];
        lo_x[j] = s->lower[j] * s->d[j];
        hi_x[j] = s->upper[j] * s->d[j];
        gx[j] = g[j] / s->d[j];
    }
    if (s->evals == 0) s->first_f = chi2;
    ms_status st = ms_lbfgsb_start(opt, x0, lo_x, hi_x, f->cfg.factr, f->cfg.pgtol);
    if (st != MS_NEED_FG) { /* cannot happen with finite starts and valid bounds */
        s->flags |= MS_FIT_NOT_CONVERGED;
        snprintf(s->task, sizeof s->task, "%s", ms_lbfgsb_task(opt));
        s->stage = SLOT_FINAL;
        return;
    }
    slot_advance(f, s, opt, ms_lbfgsb_iterate(opt, chi2 + prior, gx));
}

/* FINAL: the result at s->z from m, Jt (or a restart over the wide velocity range:
 * returns 1). */
static int slot_final(ms_fitter *f, const ms_fit_input *in, const fit_prep *pp, fit_slot *s,
                      size_t slot_index, const float *M, const double *m, const double *Jt,
                      ms_fit_result *r, float *model_row)
{
    const size_t n = f->n_pix, D = f->D, P = f->P, lo = pp->lo, hi = pp->hi;
    const ms_cfg_fit *c = &f->cfg;
    const double start = f->model.wave_start, step = f->model.wave_step;
    const double *w = f->slot_w + slot_index * n;
    const double *F = f->slot_f + slot_index * n;
    ms_lbfgsb *opt = f->opt[slot_index];
    const double dv = c->fit_rv ? s->z[D] * MS_FIT_RV_UNIT : pp->dv_fixed;
    double chi2 = 0.0;
    for (size_t p = lo; p <= hi; p++) {
        if (w[p] == 0.0) continue;
        double rr = F[p] - m[p];
        chi2 += w[p] * rr * rr;
    }
    long iters = s->iters + (long)ms_lbfgsb_iterations(opt);
    long evals = s->evals + (long)ms_lbfgsb_evaluations(opt);
    if (!isfinite(chi2)) {
        fail_result(f, pp, s->flags | MS_FIT_NONFINITE, r, model_row);
        r->iterations = iters;
        r->evaluations = evals;
        f->stats.evaluations += (size_t)evals;
        return 0;
    }

    /* the velocity window was too narrow: rescan wide at these labels, restart once */
    const double tol = c->bound_tol;
    if (c->fit_rv && !s->wide && !s->retried && fabs(s->z[D]) >= s->upper[D] - tol) {
        double chi2v;
        double v = fit_rv_scan(M, F, w, lo, hi, start, step, 0.0, c->rv_scan_range,
                               c->rv_scan_step, -c->rv_scan_range, c->rv_scan_range, &chi2v, f->scratch);
        s->iters = iters;
        s->evals = evals;
        s->wide = s->retried = 1;
        s->flags |= MS_FIT_RV_WIDE;
        s->flags &= ~(uint32_t)(MS_FIT_NOT_CONVERGED | MS_FIT_LINESEARCH);
        s->lower[D] = -c->rv_scan_range / MS_FIT_RV_UNIT;
        s->upper[D] = c->rv_scan_range / MS_FIT_RV_UNIT;
        s->z[D] = v / MS_FIT_RV_UNIT;
        s->stage = SLOT_START;
        if (f->g2) precondition_bank(f, pp, s, slot_index);
        return 1;
    }

    /* A = J^T W J, Bm = J^T W C J (pixel-correlation factors) */
    double A[MS_FIT_MAX_PARAMS * MS_FIT_MAX_PARAMS] = {0}, Bm[MS_FIT_MAX_PARAMS * MS_FIT_MAX_PARAMS] = {0};
    int corr = c->native_dloglam > 0.0;
    for (size_t a = 0; a < P; a++)
        for (size_t b = 0; b <= a; b++) {
            const double *ja = Jt + a * n, *jb = Jt + b * n;
            double sa = 0.0, sb = 0.0;
            for (size_t p = lo; p <= hi; p++) {
                if (w[p] == 0.0) continue;
                double t = w[p] * ja[p] * jb[p];
                sa += t;
                sb += t * f->corr[p];
            }
            A[a * P + b] = A[b * P + a] = sa;
            Bm[a * P + b] = Bm[b * P + a] = sb;
        }
    double Ai[MS_FIT_MAX_PARAMS * MS_FIT_MAX_PARAMS], cov[MS_FIT_MAX_PARAMS * MS_FIT_MAX_PARAMS];
    uint32_t flags = s->flags;
    const double dof = (double)pp->n_good - (double)P;
    const double chi2_red = chi2 / dof;
    double factor = 1.0;
    if (f->error_scaling == 1) factor = chi2_red;
    if (f->error_scaling == 2) factor = chi2_red > 1.0 ? chi2_red : 1.0;
    /* With an error scaling (factor > 1: the model misses the spectrum by more than its
     * noise) the errors treat the pixel variances as factor times larger; the prior must be
     * weighed against the same chi^2, i.e. the objective is chi^2 / factor + prior. The
     * first run cannot know factor: a spectrum whose factor exceeds 1.05 restarts once from
     * its optimum with the prior's weight = factor (this fit's reduced chi^2). */
    if (f->prior.kind != FIT_PRIOR_NONE && !s->reweighted && factor > 1.05 && isfinite(factor)) {
        s->iters = iters;
        s->evals = evals;
        s->reweighted = 1;
        s->prior_w = factor;
        s->flags &= ~(uint32_t)(MS_FIT_NOT_CONVERGED | MS_FIT_LINESEARCH);
        s->stage = SLOT_START;
        if (f->g2) precondition_bank(f, pp, s, slot_index);
        return 1;
    }
    double cov_factor = factor;
    if (f->prior.kind != FIT_PRIOR_NONE && factor > 0.0 && isfinite(factor)) {
        /* the posterior: the data's information (scaled by the error scaling, i.e. the
         * pixel variances times factor) plus the prior's jp jp^T, in A and in the sandwich's
         * middle (the prior's information is not inflated by the pixel correlation) */
        double jp[MS_FIT_MAX_PARAMS];
        fit_prior_eval(&f->prior, s->z, P, NULL, jp);
        for (size_t a = 0; a < P * P; a++) {
            A[a] /= factor;
            Bm[a] /= factor;
        }
        for (size_t a = 0; a < P; a++)
            for (size_t b = 0; b < P; b++) {
                A[a * P + b] += jp[a] * jp[b];
                Bm[a * P + b] += jp[a] * jp[b];
            }
        cov_factor = 1.0;
    }
    if (spd_inverse(A, P, Ai)) {
        if (corr) { /* sandwich A^-1 Bm A^-1 */
            double T[MS_FIT_MAX_PARAMS * MS_FIT_MAX_PARAMS];
            for (size_t a = 0; a < P; a++)
                for (size_t b = 0; b < P; b++) {
                    double v = 0.0;
                    for (size_t k = 0; k < P; k++) v += Ai[a * P + k] * Bm[k * P + b];
                    T[a * P + b] = v;
                }
            for (size_t a = 0; a < P; a++)
                for (size_t b = 0; b < P; b++) {
                    double v = 0.0;
                    for (size_t k = 0; k < P; k++) v += T[a * P + k] * Ai[k * P + b];
                    cov[a * P + b] = v;
                }
        } else {
            memcpy(cov, Ai, P * P * sizeof(double));
        }
        for (size_t a = 0; a < P * P; a++) cov[a] *= cov_factor;
    } else {
        flags |= MS_FIT_SINGULAR;
        for (size_t a = 0; a < P * P; a++) cov[a] = NAN;
    }

    /* the misfit beyond the pixel noise (ms_fit_result.misfit): excess variance weighted by
     * ivar^2, the inverse variance of r^2 - 1/ivar for Gaussian noise */
    double ex_num = 0.0, ex_den = 0.0;
    const float *iv_row = in->ivar + s->id * n;
    for (size_t p = lo; p <= hi; p++) {
        if (w[p] == 0.0) continue;
        const double v = iv_row[p], rr = F[p] - m[p];
        ex_num += v * v * (rr * rr - 1.0 / v);
        ex_den += v * v;
    }
    const double misfit = ex_den > 0.0 ? sqrt(fmax(0.0, ex_num / ex_den)) : NAN;
    if (misfit > c->mismatch_max) flags |= MS_FIT_MODEL_MISMATCH;

    /* results in physical units */
    result_init(r);
    r->misfit = misfit;
    double scale[MS_FIT_MAX_PARAMS];
    for (size_t j = 0; j < D; j++) scale[j] = f->model.phys_max[j] - f->model.phys_min[j];
    if (c->fit_rv) scale[D] = MS_FIT_RV_UNIT;
    for (size_t a = 0; a < P; a++)
        for (size_t b = 0; b < P; b++) r->cov[a][b] = cov[a * P + b] * scale[a] * scale[b];
    uint32_t at = 0;
    double dist = 0.0;
    for (size_t j = 0; j < D; j++) {
        r->labels[j] = phys(f, j, s->z[j]);
        r->errors[j] = sqrt(r->cov[j][j]);
        r->start_labels[j] = phys(f, j, pp->z0[j]);
        if (s->z[j] <= -0.5 + tol || s->z[j] >= 0.5 - tol) at |= 1u << j;
        dist = fmax(dist, fabs(s->z[j] - pp->z0[j]));
    }
    if (at) flags |= MS_FIT_AT_BOUND;
    if (c->fit_rv) {
        r->rv_err = sqrt(r->cov[D][D]);
        r->start_dv = pp->z0[D] * MS_FIT_RV_UNIT;
        if (s->z[D] <= s->lower[D] + tol || s->z[D] >= s->upper[D] - tol) {
            at |= 1u << D;
            flags |= MS_FIT_RV_EDGE;
        }
    } else {
        r->start_dv = pp->dv_fixed;
    }
    if (pp->presearch && dist > c->presearch_disagree) flags |= MS_FIT_PRESEARCH_DISAGREE;
    double rv0 = in->rv_init && isfinite(in->rv_init[s->id]) ? in->rv_init[s->id] : 0.0;
    r->dv = dv;
    r->rv = rv0 + dv;
    r->chi2 = chi2;
    r->chi2_red = chi2_red;
    r->err_scale = sqrt(factor);
    r->start_chi2 = s->first_f;
    r->presearch = pp->presearch;
    r->n_good = pp->n_good;
    r->iterations = iters;
    r->evaluations = evals;
    r->flags = flags;
    r->at_bound = at;
    snprintf(r->task, sizeof r->task, "%s", s->task);
    if (model_row)
        for (size_t p = 0; p < n; p++) model_row[p] = p >= lo && p <= hi ? (float)m[p] : NAN;
    f->stats.fitted++;
    f->stats.evaluations += (size_t)evals;
    f->stats.iterations += (size_t)iters;
    return 0;
}

ms_status ms_fit_batch(ms_fitter *f, const ms_fit_input *in, ms_fit_result *res,
                       float *model_out)
{
    const double t_start = fit_now();
    if (!in || !res) MS_ERROR(MS_EINVAL, "fit: NULL input or result array");
    const size_t N = in->n, n = f->n_pix, D = f->D, P = f->P, B = f->batch;
    if (N == 0) return MS_OK;
    if (!in->flux || !in->ivar) MS_ERROR(MS_EINVAL, "fit: NULL flux or ivar");
    if (f->model.begin) MS_TRY(f->model.begin(f->model.ctx, N, in->flux, in->ivar, n));

    fit_prep *prep = ms_calloc("fit.prep", N, sizeof *prep);
    fit_slot *slots = ms_calloc("fit.slots", B, sizeof *slots);
    if (!prep || !slots) {
        ms_free(prep);
        ms_free(slots);
        return MS_ENOMEM;
    }
    ms_status st = MS_OK;
    /* 1. checks, pixel sets, starts; the failures get their results now */
    for (size_t i = 0; i < N; i++) {
        result_init(&res[i]); /* what a caller sees if the batch fails as a whole */
        prep_one(f, in, i, &prep[i]);
        if (prep[i].skip) fail_result(f, &prep[i], prep[i].flags, &res[i], model_out ? model_out + i * n : NULL);
    }
    /* 2. pre-search, a chunk of spectra per GEMM */
    for (size_t i0 = 0; i0 < N && st == MS_OK; i0 += f->ps_rows)
        st = fit_presearch_chunk(f, in, i0, N - i0 < f->ps_rows ? N - i0 : f->ps_rows, prep);

    /* 3. the slots: every spectrum that needs chi^2 and gradient joins one model call */
    size_t next = 0;
    double *vd = f->scratch + 3 * n;                   /* [n] */
    double *chi2s = f->scratch + 4 * n, *gus = chi2s + B; /* [B] each */
    double *mrow = f->scratch + 3 * n, *Jt = f->scratch + 4 * n; /* [n], [P, n] */
    while (st == MS_OK) {
        size_t active = 0;
        for (size_t b = 0; b < B; b++) {
            if (slots[b].stage == SLOT_FREE) {
                while (next < N && prep[next].skip) next++;
                if (next < N) slot_start(f, in, prep, &slots[b], b, next++);
            }
            if (slots[b].stage != SLOT_FREE) active++;
        }
        if (active == 0) break;

        /* chi^2 and gradient: one batched call (reverse or forward mode) */
        size_t R = 0;
        for (size_t b = 0; b < B; b++) {
            if (slots[b].stage != SLOT_FG) continue;
            const double *x = ms_lbfgsb_x(f->opt[b]);
            for (size_t j = 0; j < D; j++) f->xrows[R * D + j] = x[j] / slots[b].d[j];
            f->ids[R] = slots[b].id;
            f->rowslot[R++] = b;
        }
        if (R > 0) {
            double t0 = fit_now();
            st = f->model.eval(f->model.ctx, R, f->ids, f->xrows, f->mflux, f->use_vjp ? NULL : f->mjac);
            if (st != MS_OK) break;
            for (size_t r = 0; r < R; r++) {
                size_t b = f->rowslot[r];
                const fit_prep *pp = &prep[slots[b].id];
                const double *x = ms_lbfgsb_x(f->opt[b]);
                double dv = f->cfg.fit_rv ? x[D] / slots[b].d[D] * MS_FIT_RV_UNIT : pp->dv_fixed;
                chi2s[r] = row_chi2(f, pp, f->slot_f + b * n, f->slot_w + b * n,
                                    f->mflux + r * n, dv, vd, &gus[r]);
                if (f->use_vjp) {
                    float *v = f->vrows + r * n;
                    for (size_t p = 0; p < n; p++) v[p] = (float)vd[p];
                } else {
                    const float *J = f->mjac + r * D * n;
                    for (size_t j = 0; j < D; j++) {
                        double g = 0.0;
                        for (size_t p = pp->lo; p <= pp->hi; p++) g += (double)J[j * n + p] * vd[p];
                        f->gx[r * D + j] = g;
                    }
                }
            }
            if (f->use_vjp) st = f->model.vjp(f->model.ctx, R, f->vrows, f->gx);
            f->stats.t_fg += fit_now() - t0;
            f->stats.fg_calls++;
            f->stats.fg_rows += R;
            if (st != MS_OK) break;
            for (size_t r = 0; r < R; r++) {
                size_t b = f->rowslot[r];
                fit_slot *s = &slots[b];
                double g[MS_FIT_MAX_PARAMS];
                int ok = isfinite(chi2s[r]);
                for (size_t j = 0; j < D; j++) g[j] = -2.0 * f->gx[r * D + j];
                if (f->cfg.fit_rv) g[D] = gus[r];
                double pres, jp[MS_FIT_MAX_PARAMS];
                const double prior = s->prior_w * fit_prior_eval(&f->prior, f->xrows + r * D, P, &pres, jp);
                ok = ok && isfinite(prior);
                for (size_t j = 0; j < P; j++) g[j] += 2.0 * s->prior_w * pres * jp[j];
                for (size_t j = 0; j < P; j++) {
                    g[j] /= s->d[j];
                    ok = ok && isfinite(g[j]);
                }
                if (!ok) {
                    slot_nonfinite(f, &prep[s->id], s, f->opt[b], &res[s->id],
                                   model_out ? model_out + s->id * n : NULL);
                    continue;
                }
                if (s->evals == 0 && ms_lbfgsb_evaluations(f->opt[b]) == 0) s->first_f = chi2s[r];
                slot_advance(f, s, f->opt[b], ms_lbfgsb_iterate(f->opt[b], chi2s[r] + prior, g));
            }
        }

        /* Jacobian rows: new starts and end points. A Jacobian call costs nearly as much for
         * a few rows as for many (it streams the weights once), so end points wait until a
         * quarter of the slots has finished or nothing else is left to evaluate; each
         * spectrum's result is the same either way. */
        size_t n_wait = 0, n_start = 0;
        for (size_t b = 0; b < B; b++) {
            n_wait += slots[b].stage == SLOT_FINAL;
            n_start += slots[b].stage == SLOT_START;
        }
        size_t n_fg = 0;
        for (size_t b = 0; b < B; b++) n_fg += slots[b].stage == SLOT_FG;
        int go = n_start > 0 || (n_wait > 0 && (n_wait * 4 >= B || n_fg == 0 || next >= N));
        R = 0;
        for (size_t b = 0; b < B && go; b++) {
            if (slots[b].stage != SLOT_START && slots[b].stage != SLOT_FINAL) continue;
            memcpy(f->xrows + R * D, slots[b].z, D * sizeof(double));
            f->ids[R] = slots[b].id;
            f->rowslot[R++] = b;
        }
        if (R > 0) {
            double t0 = fit_now();
            st = f->model.eval(f->model.ctx, R, f->ids, f->xrows, f->mflux, f->mjac);
            f->stats.jac_calls++;
            f->stats.jac_rows += R;
            if (st != MS_OK) break;
            for (size_t r = 0; r < R; r++) {
                size_t b = f->rowslot[r];
                fit_slot *s = &slots[b];
                size_t id = s->id;
                const fit_prep *pp = &prep[id];
                double dv = f->cfg.fit_rv ? s->z[D] * MS_FIT_RV_UNIT : pp->dv_fixed;
                const float *M = f->mflux + r * n;
                shifted_jacobian(f, pp, M, f->mjac + r * D * n, dv, mrow, Jt);
                float *mo = model_out ? model_out + id * n : NULL;
                if (s->stage == SLOT_START) {
                    slot_begin(f, pp, s, b, f->slot_f + b * n, mrow, Jt, &res[id], mo);
                } else if (!slot_final(f, in, pp, s, b, M, mrow, Jt, &res[id], mo)) {
                    s->stage = SLOT_FREE;
                }
            }
            f->stats.t_jac += fit_now() - t0;
        }
    }
    f->stats.spectra += N;
    f->stats.t_total += fit_now() - t_start;
    ms_free(prep);
    ms_free(slots);
    return st;
}
