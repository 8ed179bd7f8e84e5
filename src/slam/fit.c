/* fit.c: the maximum-likelihood fit of one spectrum with a SLAM model (slam.h; L21 Eq. 3).
 *
 * chi^2(z) = sum_j w_j (f_obs,j - f_j(z))^2,  w_j = 1 / (sigma_obs,j^2 + sigma_model,j^2),
 * in standardised labels z, bounded by the training box, minimised by L-BFGS-B from the
 * labels of the best-matching training spectrum; Gauss-Newton covariance (J^T W J)^-1. */
#include "mstars/lbfgsb.h"
#include "mstars/slam.h"
#include "slam_internal.h"

#include <math.h>
#include <string.h>

const char *const ms_slam_flag_names[MS_SLAM_N_FLAGS] = {"not_fitted", "failed", "at_bound",
                                                          "max_iter", "no_errors"};

void ms_slam_fit_opts_default(ms_slam_fit_opts *o)
{
    o->max_iter = 200;
    o->factr = 1e7;
    o->pgtol = 1e-6;
    o->exclude_train = -1;
}

/* chi^2 and its gradient [D] at z (Eq. 3 without the z-independent log term). */
static double objective(const ms_slam_model *m, ms_slam_ws *ws, const float *flux,
                        const double *z, double *grad)
{
    const size_t P = m->n_pix, D = m->n_labels;
    ms_slam_predict(m, ws, z, ws->model, grad ? ws->jac : NULL);
    double chi2 = 0;
    if (grad)
        for (size_t d = 0; d < D; d++) grad[d] = 0;
    for (size_t j = 0; j < P; j++) {
        if (ws->w[j] == 0) continue;
        double r = flux[j] - ws->model[j];
        chi2 += ws->w[j] * r * r;
        if (grad)
            for (size_t d = 0; d < D; d++) grad[d] -= 2.0 * ws->w[j] * r * ws->jac[j * D + d];
    }
    return chi2;
}

/* inv = A^-1 for a small SPD matrix A [D, D] (Cholesky of the Jacobi-scaled matrix);
 * 0 when A is not positive definite. */
static int spd_inverse(const double *A, size_t D, double *inv)
{
    double s[MS_SLAM_MAX_LABELS], L[MS_SLAM_MAX_LABELS * MS_SLAM_MAX_LABELS];
    for (size_t i = 0; i < D; i++) {
        if (!(A[i * D + i] > 0) || !isfinite(A[i * D + i])) return 0;
        s[i] = 1.0 / sqrt(A[i * D + i]);
    }
    for (size_t j = 0; j < D; j++) {
        double d = A[j * D + j] * s[j] * s[j];
        for (size_t k = 0; k < j; k++) d -= L[j * D + k] * L[j * D + k];
        if (!(d > 1e-12)) return 0;
        L[j * D + j] = sqrt(d);
        for (size_t i = j + 1; i < D; i++) {
            double v = A[i * D + j] * s[i] * s[j];
            for (size_t k = 0; k < j; k++) v -= L[i * D + k] * L[j * D + k];
            L[i * D + j] = v / L[j * D + j];
        }
    }
    for (size_t c = 0; c < D; c++) {
        double y[MS_SLAM_MAX_LABELS], x[MS_SLAM_MAX_LABELS];
        for (size_t i = 0; i < D; i++) {
            double v = i == c ? 1.0 : 0.0;
            for (size_t k = 0; k < i; k++) v -= L[i * D + k] * y[k];
            y[i] = v / L[i * D + i];
        }
        for (size_t i = D; i-- > 0;) {
            double v = y[i];
            for (size_t k = i + 1; k < D; k++) v -= L[k * D + i] * x[k];
            x[i] = v / L[i * D + i];
        }
        for (size_t i = 0; i < D; i++) inv[i * D + c] = x[i] * s[i] * s[c];
    }
    return 1;
}

/* The start: the training spectrum with the smallest mean weighted squared difference
 * (SLAM's predict_labels_quick). Returns its index, or -1. */
static long best_template(const ms_slam_model *m, const ms_slam_ws *ws, const float *flux,
                          long exclude)
{
    long best = -1;
    double best_v = INFINITY;
    for (size_t i = 0; i < m->n_train; i++) {
        if ((long)i == exclude) continue;
        const float *tf = m->train_flux + i * m->n_pix, *ti = m->train_ivar + i * m->n_pix;
        double s = 0, nw = 0;
        for (size_t j = 0; j < m->n_pix; j++) {
            if (ws->w[j] == 0 || !(ti[j] > 0) || !isfinite(tf[j])) continue;
            double r = flux[j] - tf[j];
            s += ws->w[j] * r * r;
            nw += ws->w[j];
        }
        if (nw > 0 && s / nw < best_v) {
            best_v = s / nw;
            best = (long)i;
        }
    }
    return best;
}

ms_status ms_slam_fit(const ms_slam_model *m, ms_slam_ws *ws, const ms_slam_fit_opts *o,
                      const float *flux, const float *ivar, const uint8_t *mask,
                      ms_slam_result *r)
{
    const size_t P = m->n_pix, D = m->n_labels;
    memset(r, 0, sizeof *r);
    for (size_t d = 0; d < MS_SLAM_MAX_LABELS; d++) r->label[d] = r->error[d] = r->start[d] = NAN;
    r->chi2 = r->chi2_red = NAN;
    r->start_index = -1;
    size_t n_use = 0;
    for (size_t j = 0; j < P; j++) {
        ws->w[j] = 0;
        if (m->status[j] != 0 || (mask && mask[j]) || !(ivar[j] > 0) || !isfinite(ivar[j]) ||
            !isfinite(flux[j]) || !isfinite(m->sigma2_model[j]))
            continue;
        ws->w[j] = 1.0 / (1.0 / (double)ivar[j] + m->sigma2_model[j]);
        n_use++;
    }
    r->n_pix = (int32_t)n_use;
    if (n_use <= D) {
        r->flags = MS_SLAM_FLAG_NOT_FITTED;
        return MS_OK;
    }
    double lo[MS_SLAM_MAX_LABELS], hi[MS_SLAM_MAX_LABELS], z0[MS_SLAM_MAX_LABELS];
    for (size_t d = 0; d < D; d++) {
        lo[d] = (m->label_min[d] - m->label_mean[d]) / m->label_scale[d];
        hi[d] = (m->label_max[d] - m->label_mean[d]) / m->label_scale[d];
    }
    long t = best_template(m, ws, flux, o->exclude_train);
    r->start_index = (int32_t)t;
    for (size_t d = 0; d < D; d++) {
        z0[d] = t >= 0 ? m->x[(size_t)t * D + d] : 0.5 * (lo[d] + hi[d]);
        r->start[d] = m->label_mean[d] + m->label_scale[d] * z0[d];
    }
    ms_lbfgsb *s;
    MS_TRY(ms_lbfgsb_alloc(D, 5, &s));
    double g[MS_SLAM_MAX_LABELS], f = 0;
    ms_status st = ms_lbfgsb_start(s, z0, lo, hi, o->factr, o->pgtol);
    while (st == MS_NEED_FG || st == MS_CONTINUE) {
        if (st == MS_NEED_FG) f = objective(m, ws, flux, ms_lbfgsb_x(s), g);
        st = ms_lbfgsb_iterate(s, f, g);
        if (st == MS_CONTINUE && ms_lbfgsb_iterations(s) >= (size_t)o->max_iter) {
            r->flags |= MS_SLAM_FLAG_MAX_ITER;
            break;
        }
    }
    r->iterations = (int32_t)ms_lbfgsb_iterations(s);
    if (st == MS_EINVAL) {
        r->flags |= MS_SLAM_FLAG_FAILED;
        ms_lbfgsb_free(s);
        ms_error_clear();
        return MS_OK;
    }
    /* MS_OK, MS_ENOPROG (line search at the float floor) and the iteration limit keep the
     * last iterate */
    double z[MS_SLAM_MAX_LABELS];
    memcpy(z, ms_lbfgsb_x(s), D * sizeof(double));
    ms_lbfgsb_free(s);
    ms_error_clear();
    r->chi2 = objective(m, ws, flux, z, g); /* also leaves the Jacobian at z in ws->jac */
    r->chi2_red = r->chi2 / (double)(n_use - D);
    double F[MS_SLAM_MAX_LABELS * MS_SLAM_MAX_LABELS] = {0}, C[MS_SLAM_MAX_LABELS * MS_SLAM_MAX_LABELS];
    for (size_t j = 0; j < P; j++) {
        if (ws->w[j] == 0) continue;
        const double *J = ws->jac + j * D;
        for (size_t a = 0; a < D; a++)
            for (size_t b = 0; b < D; b++) F[a * D + b] += ws->w[j] * J[a] * J[b];
    }
    int have_cov = spd_inverse(F, D, C);
    if (!have_cov) r->flags |= MS_SLAM_FLAG_NO_ERRORS;
    for (size_t d = 0; d < D; d++) {
        r->label[d] = m->label_mean[d] + m->label_scale[d] * z[d];
        /* the formal error, with the CV error floor in quadrature (cv-slam --calibrate) */
        r->error[d] = have_cov ? hypot(sqrt(C[d * D + d]) * m->label_scale[d], m->error_floor[d])
                               : NAN;
        double tol = 1e-6 * (hi[d] - lo[d]);
        if (z[d] <= lo[d] + tol || z[d] >= hi[d] - tol) r->flags |= MS_SLAM_FLAG_AT_BOUND;
    }
    if (!isfinite(r->chi2)) r->flags |= MS_SLAM_FLAG_FAILED;
    return MS_OK;
}

static double rms_pull(const double *delta, const double *err, size_t n, double F)
{
    double s = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(delta[i]) || !isfinite(err[i])) continue;
        double p = delta[i] / sqrt(err[i] * err[i] + F * F);
        s += p * p;
        k++;
    }
    return k ? sqrt(s / (double)k) : 0.0;
}

double ms_slam_error_floor(const double *delta, const double *err, size_t n)
{
    if (rms_pull(delta, err, n, 0.0) <= 1.0) return 0.0;
    double hi = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(delta[i]) && isfinite(err[i]) && fabs(delta[i]) > hi) hi = fabs(delta[i]);
    double lo = 0; /* rms_pull(hi) <= 1 since every |pull| <= 1 there */
    for (int it = 0; it < 100; it++) {
        double mid = 0.5 * (lo + hi);
        if (rms_pull(delta, err, n, mid) > 1.0) lo = mid;
        else hi = mid;
    }
    return hi;
}
