/* test_fit_prior.c: the [alpha/M] prior of the fitter (fit.alpha_prior, src/fit/fit_prior.c).
 *
 * A linear model M(z) = 1 + G z (4 labels, G fixed smooth profiles, the alpha_m profile
 * nearly that of teff: the Teff-[alpha/M] degeneracy of the real fit in miniature) makes
 * chi^2 exactly quadratic, so that with a Gaussian prior the answer is known in closed form:
 * posterior mean z* = (G^T W G + j j^T)^-1 (G^T W y + j b) and covariance (G^T W G + j j^T)^-1
 * (j = e_alpha S_alpha / sigma, b = (center - alpha_min) / sigma - S_alpha / (2 sigma)),
 * solved here independently (Gauss-Jordan). Checked:
 *   - fixed prior: the fitted labels and the full covariance against the closed form;
 *   - trend prior: ms_fit_alpha_trend at Z25's nodes and its derivative; the fit ends where
 *     the objective's gradient (computed here from G) vanishes;
 *   - pulls: with the truth drawn from the prior, (fit - truth) / error of teff and alpha_m
 *     have rms ~1 with the prior; the prior shrinks the Teff error of the degenerate model;
 *   - a model without alpha_m and a bad fit.alpha_prior are refused. */
#include "fit_testlib.h"

#include "mstars/mem.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define NP 600 /* pixels */
#define D 4
#define MAXB 32

typedef struct {
    double G[D][NP];
    float vkeep[MAXB][NP];
} lin_model;

static ms_status lin_eval(void *ctx, size_t B, const size_t *ids, const double *x, float *flux,
                          float *jac)
{
    (void)ids;
    const lin_model *L = ctx;
    for (size_t b = 0; b < B; b++)
        for (size_t p = 0; p < NP; p++) {
            double v = 1.0;
            for (size_t j = 0; j < D; j++) v += x[b * D + j] * L->G[j][p];
            flux[b * NP + p] = (float)v;
            if (jac)
                for (size_t j = 0; j < D; j++) jac[(b * D + j) * NP + p] = (float)L->G[j][p];
        }
    return MS_OK;
}

static ms_status lin_vjp(void *ctx, size_t B, const float *v, double *gx)
{
    const lin_model *L = ctx;
    for (size_t b = 0; b < B; b++)
        for (size_t j = 0; j < D; j++) {
            double s = 0.0;
            for (size_t p = 0; p < NP; p++) s += (double)v[b * NP + p] * L->G[j][p];
            gx[b * D + j] = s;
        }
    return MS_OK;
}

static const char *const names[D] = {"teff", "logg", "m_h", "alpha_m"};
static const double lo[D] = {2800.0, 4.5, -1.0, 0.0}, hi[D] = {4000.0, 5.5, 0.5, 0.4};

/* smooth profiles: a few Gaussian absorption features per label; alpha_m's = teff's plus
 * a small feature of its own (weakly measured, degenerate with teff) */
static void lin_make(lin_model *L, ms_fit_model *m, int with_alpha)
{
    memset(L, 0, sizeof *L);
    for (size_t j = 0; j < D; j++)
        for (size_t p = 0; p < NP; p++) {
            double v = 0.0;
            for (int k = 0; k < 3; k++) {
                double c = 60.0 + 170.0 * (double)k + 37.0 * (double)j, w = 6.0 + 2.0 * (double)j;
                v -= (0.08 + 0.02 * (double)k) * exp(-0.5 * ((double)p - c) * ((double)p - c) / (w * w));
            }
            L->G[j][p] = v;
        }
    for (size_t p = 0; p < NP; p++)
        L->G[3][p] = 0.9 * L->G[0][p] - 0.05 * exp(-0.5 * ((double)p - 550.0) * ((double)p - 550.0) / 25.0);
    memset(m, 0, sizeof *m);
    m->n_labels = with_alpha ? D : D - 1;
    m->n_pix = NP;
    m->max_batch = MAXB;
    m->wave_start = 6000.0;
    m->wave_step = 1.0;
    for (size_t j = 0; j < m->n_labels; j++) {
        m->phys_min[j] = lo[j];
        m->phys_max[j] = hi[j];
        snprintf(m->names[j], MS_FIT_NAME_LEN, "%s", names[j]);
    }
    m->ctx = L;
    m->eval = lin_eval;
    m->vjp = lin_vjp;
}

static ms_cfg_fit lin_cfg(const char *prior, double sigma, double center)
{
    ms_cfg_fit c = tm_cfg();
    c.fit_rv = 0;
    c.presearch_points = 0;
    c.native_dloglam = 0.0;
    snprintf(c.error_scaling, sizeof c.error_scaling, "none");
    c.min_good_pixels = 50;
    c.batch_size = MAXB;
    c.factr = 10.0;
    c.pgtol = 1e-9;
    c.max_iterations = 500;
    snprintf(c.alpha_prior, sizeof c.alpha_prior, "%s", prior);
    c.alpha_prior_sigma = sigma;
    c.alpha_prior_center = center;
    return c;
}

/* y [NP] = G z + noise (normal, sd 1/sqrt(ivar)) */
static void lin_data(const lin_model *L, const double *z, double ivar, ms_nn_rng *r, float *flux)
{
    for (size_t p = 0; p < NP; p++) {
        double v = 1.0;
        for (size_t j = 0; j < D; j++) v += z[j] * L->G[j][p];
        if (r) v += ms_nn_rng_normal(r) / sqrt(ivar);
        flux[p] = (float)v;
    }
}

/* inverse of the n x n matrix A (Gauss-Jordan with partial pivoting) */
static void invert(const double *A, size_t n, double *inv)
{
    double M[D * 2 * D];
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < 2 * n; j++) M[i * 2 * n + j] = j < n ? A[i * n + j] : (j - n == i);
    for (size_t c = 0; c < n; c++) {
        size_t piv = c;
        for (size_t i = c + 1; i < n; i++)
            if (fabs(M[i * 2 * n + c]) > fabs(M[piv * 2 * n + c])) piv = i;
        for (size_t j = 0; j < 2 * n; j++) {
            double t = M[c * 2 * n + j];
            M[c * 2 * n + j] = M[piv * 2 * n + j];
            M[piv * 2 * n + j] = t;
        }
        double d = M[c * 2 * n + c];
        for (size_t j = 0; j < 2 * n; j++) M[c * 2 * n + j] /= d;
        for (size_t i = 0; i < n; i++) {
            if (i == c) continue;
            double f = M[i * 2 * n + c];
            for (size_t j = 0; j < 2 * n; j++) M[i * 2 * n + j] -= f * M[c * 2 * n + j];
        }
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) inv[i * n + j] = M[i * 2 * n + n + j];
}

/* the closed-form posterior (fixed prior) in scaled labels: mean zs [D], covariance C [D, D] */
static void closed_form(const lin_model *L, const float *F, double ivar, double sigma,
                        double center, double *zs, double *C)
{
    double A[D * D] = {0}, rhs[D] = {0};
    for (size_t a = 0; a < D; a++) {
        for (size_t p = 0; p < NP; p++) rhs[a] += ivar * L->G[a][p] * ((double)F[p] - 1.0);
        for (size_t b = 0; b < D; b++)
            for (size_t p = 0; p < NP; p++) A[a * D + b] += ivar * L->G[a][p] * L->G[b][p];
    }
    const double S = hi[3] - lo[3], j = S / sigma, bb = (center - lo[3]) / sigma - 0.5 * S / sigma;
    A[3 * D + 3] += j * j;
    rhs[3] += j * bb;
    invert(A, D, C);
    for (size_t a = 0; a < D; a++) {
        zs[a] = 0.0;
        for (size_t b = 0; b < D; b++) zs[a] += C[a * D + b] * rhs[b];
    }
}

static void run_fit(const ms_cfg_fit *c, const ms_fit_model *m, const float *F, size_t n,
                    double ivar, ms_fit_result *res)
{
    float *iv = ms_malloc_array("t.iv", n * NP, sizeof(float));
    assert_non_null(iv);
    for (size_t i = 0; i < n * NP; i++) iv[i] = (float)ivar;
    ms_fitter *f = NULL;
    assert_int_equal(ms_fitter_alloc(c, m, &f), MS_OK);
    ms_fit_input in = {.n = n, .flux = F, .ivar = iv};
    assert_int_equal(ms_fit_batch(f, &in, res, NULL), MS_OK);
    ms_fitter_free(f);
    ms_free(iv);
}

static double zof(size_t j, double y) { return (y - lo[j]) / (hi[j] - lo[j]) - 0.5; }

static void test_fixed_prior_closed_form(void **state)
{
    (void)state;
    lin_model *L = ms_calloc("t.L", 1, sizeof *L);
    ms_fit_model m;
    lin_make(L, &m, 1);
    const double ivar = 1e4, sigma = 0.05, center = 0.18;
    const double zt[D] = {0.1, -0.2, 0.15, 0.2};
    ms_nn_rng r;
    ms_nn_rng_seed(&r, 11);
    float F[NP];
    lin_data(L, zt, ivar, &r, F);
    ms_cfg_fit c = lin_cfg("fixed", sigma, center);
    ms_fit_result res;
    run_fit(&c, &m, F, 1, ivar, &res);
    double zs[D], C[D * D];
    closed_form(L, F, ivar, sigma, center, zs, C);
    for (size_t j = 0; j < D; j++) {
        const double S = hi[j] - lo[j], y = lo[j] + (zs[j] + 0.5) * S, e = sqrt(C[j * D + j]) * S;
        assert_true(res.flags == 0 || res.flags == MS_FIT_LINESEARCH);
        /* the optimum to 1e-3 of its error, the covariance to 1e-6 (float model) */
        if (fabs(res.labels[j] - y) > 1e-3 * e || fabs(res.errors[j] / e - 1.0) > 1e-5)
            fail_msg("label %zu: fit %.8g +- %.6g, closed form %.8g +- %.6g", j, res.labels[j],
                     res.errors[j], y, e);
        for (size_t k = 0; k < D; k++) {
            double ck = C[j * D + k] * S * (hi[k] - lo[k]);
            assert_true(fabs(res.cov[j][k] - ck) <= 1e-5 * sqrt(res.cov[j][j] * res.cov[k][k]));
        }
    }
    /* the chi^2 reported is the data's alone (no prior term) */
    double chi2 = 0.0;
    for (size_t p = 0; p < NP; p++) {
        double mod = 1.0;
        for (size_t j = 0; j < D; j++) mod += zof(j, res.labels[j]) * L->G[j][p];
        chi2 += ivar * ((double)F[p] - mod) * ((double)F[p] - mod);
    }
    assert_true(fabs(res.chi2 - chi2) < 1e-4 * chi2);
    ms_free(L);
}

/* noise 2x what ivar says: with fit.error_scaling = inflate the errors grow by sqrt(chi2_red)
 * and the prior is weighed against chi^2 / chi2_red (the restart of slot_final): the closed
 * form with ivar / chi2_red */
static void test_reweighted(void **state)
{
    (void)state;
    lin_model *L = ms_calloc("t.L", 1, sizeof *L);
    ms_fit_model m;
    lin_make(L, &m, 1);
    const double ivar = 1e4, sigma = 0.05, center = 0.18;
    const double zt[D] = {-0.1, 0.2, -0.15, 0.1};
    ms_nn_rng r;
    ms_nn_rng_seed(&r, 12);
    float F[NP];
    lin_data(L, zt, ivar / 4.0, &r, F);
    ms_cfg_fit c = lin_cfg("fixed", sigma, center);
    snprintf(c.error_scaling, sizeof c.error_scaling, "inflate");
    ms_fit_result res;
    run_fit(&c, &m, F, 1, ivar, &res);
    assert_true(res.chi2_red > 3.0 && res.chi2_red < 5.0);
    double zs[D], C[D * D];
    closed_form(L, F, ivar / res.chi2_red, sigma, center, zs, C);
    for (size_t j = 0; j < D; j++) {
        const double S = hi[j] - lo[j], y = lo[j] + (zs[j] + 0.5) * S, e = sqrt(C[j * D + j]) * S;
        if (fabs(res.labels[j] - y) > 1e-2 * e || fabs(res.errors[j] / e - 1.0) > 1e-3)
            fail_msg("label %zu: fit %.8g +- %.6g, closed form %.8g +- %.6g", j, res.labels[j],
                     res.errors[j], y, e);
    }
    ms_free(L);
}

static void test_trend(void **state)
{
    (void)state;
    /* Z25 3.3.2's nodes, within the 0.05-dex smoothing */
    const double mh[] = {0.5, 0.0, -0.5, -1.0, -2.0}, want[] = {0.0, 0.0, 0.2, 0.4, 0.4};
    for (size_t i = 0; i < 5; i++) {
        double d;
        double a = ms_fit_alpha_trend(mh[i], &d);
        if (fabs(a - want[i]) > 0.015) fail_msg("trend at %g: %g, want %g", mh[i], a, want[i]);
        double h = 1e-6, fd = (ms_fit_alpha_trend(mh[i] + h, NULL) - ms_fit_alpha_trend(mh[i] - h, NULL)) / (2 * h);
        assert_true(fabs(fd - d) < 1e-6);
    }
    assert_true(fabs(ms_fit_alpha_trend(-0.25, NULL) - 0.1) < 1e-3);

    /* the fit ends where the gradient of chi^2 + prior vanishes */
    lin_model *L = ms_calloc("t.L", 1, sizeof *L);
    ms_fit_model m;
    lin_make(L, &m, 1);
    const double ivar = 1e4, sigma = 0.05;
    const double zt[D] = {0.05, 0.1, zof(2, -0.4), zof(3, 0.25)};
    ms_nn_rng r;
    ms_nn_rng_seed(&r, 5);
    float F[NP];
    lin_data(L, zt, ivar, &r, F);
    ms_cfg_fit c = lin_cfg("trend", sigma, 0.0);
    ms_fit_result res;
    run_fit(&c, &m, F, 1, ivar, &res);
    double z[D], g[D] = {0};
    for (size_t j = 0; j < D; j++) z[j] = zof(j, res.labels[j]);
    for (size_t p = 0; p < NP; p++) {
        double mod = 1.0;
        for (size_t j = 0; j < D; j++) mod += z[j] * L->G[j][p];
        for (size_t j = 0; j < D; j++) g[j] -= 2.0 * ivar * ((double)F[p] - mod) * L->G[j][p];
    }
    double dmu, mu = ms_fit_alpha_trend(res.labels[2], &dmu);
    double rr = (res.labels[3] - mu) / sigma;
    g[3] += 2.0 * rr * (hi[3] - lo[3]) / sigma;
    g[2] -= 2.0 * rr * dmu * (hi[2] - lo[2]) / sigma;
    for (size_t j = 0; j < D; j++) /* in units of the curvature: 2 / error (scaled) */
        if (fabs(g[j]) * res.errors[j] / (hi[j] - lo[j]) > 1e-3)
            fail_msg("gradient %zu at the optimum: %g (error %g)", j, g[j], res.errors[j]);
    ms_free(L);
}

/* pulls over realisations with the truth drawn from the prior: honest with the prior;
 * returns the rms pulls and the mean Teff error */
static void pulls(const char *prior, double *pull_t, double *pull_a, double *err_t)
{
    lin_model *L = ms_calloc("t.L", 1, sizeof *L);
    ms_fit_model m;
    lin_make(L, &m, 1);
    const size_t n = 300;
    const double ivar = 2e3, sigma = 0.03, center = 0.2;
    float *F = ms_malloc_array("t.F", n * NP, sizeof(float));
    double *zt = ms_malloc_array("t.zt", n * D, sizeof(double));
    ms_fit_result *res = ms_malloc_array("t.res", n, sizeof *res);
    ms_nn_rng r;
    ms_nn_rng_seed(&r, 99);
    for (size_t i = 0; i < n; i++) {
        tm_random_x(&r, 0.25, D, zt + i * D);
        zt[i * D + 3] = zof(3, center + sigma * ms_nn_rng_normal(&r));
        if (zt[i * D + 3] > 0.45) zt[i * D + 3] = 0.45;
        if (zt[i * D + 3] < -0.45) zt[i * D + 3] = -0.45;
        lin_data(L, zt + i * D, ivar, &r, F + i * NP);
    }
    ms_cfg_fit c = lin_cfg(prior, sigma, center);
    run_fit(&c, &m, F, n, ivar, res);
    double st = 0.0, sa = 0.0, et = 0.0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (res[i].at_bound) continue;
        double yt = lo[0] + (zt[i * D] + 0.5) * (hi[0] - lo[0]);
        double ya = lo[3] + (zt[i * D + 3] + 0.5) * (hi[3] - lo[3]);
        double pt = (res[i].labels[0] - yt) / res[i].errors[0];
        double pa = (res[i].labels[3] - ya) / res[i].errors[3];
        st += pt * pt;
        sa += pa * pa;
        et += res[i].errors[0];
        k++;
    }
    assert_true(k > n / 2);
    *pull_t = sqrt(st / (double)k);
    *pull_a = sqrt(sa / (double)k);
    *err_t = et / (double)k;
    ms_free(F);
    ms_free(zt);
    ms_free(res);
    ms_free(L);
}

static void test_pulls(void **state)
{
    (void)state;
    double pt0, pa0, et0, pt1, pa1, et1;
    pulls("none", &pt0, &pa0, &et0);
    pulls("fixed", &pt1, &pa1, &et1);
    printf("# rms pulls teff / alpha_m, mean Teff error: no prior %.3f / %.3f, %.1f K; "
           "prior %.3f / %.3f, %.1f K\n", pt0, pa0, et0, pt1, pa1, et1);
    /* 300 draws: rms pull within ~0.08 of 1 at 2 sigma */
    assert_true(pt0 > 0.88 && pt0 < 1.12 && pa0 > 0.88 && pa0 < 1.12);
    assert_true(pt1 > 0.88 && pt1 < 1.12 && pa1 > 0.88 && pa1 < 1.12);
    assert_true(et1 < 0.7 * et0); /* the prior breaks the degeneracy */
}

static void test_refused(void **state)
{
    (void)state;
    lin_model *L = ms_calloc("t.L", 1, sizeof *L);
    ms_fit_model m;
    lin_make(L, &m, 0); /* no alpha_m */
    ms_fitter *f = NULL;
    ms_cfg_fit c = lin_cfg("trend", 0.1, 0.0);
    assert_int_equal(ms_fitter_alloc(&c, &m, &f), MS_EINVAL);
    c = lin_cfg("none", 0.1, 0.0);
    assert_int_equal(ms_fitter_alloc(&c, &m, &f), MS_OK);
    ms_fitter_free(f);
    lin_make(L, &m, 1);
    c = lin_cfg("gaussian", 0.1, 0.0);
    assert_int_equal(ms_fitter_alloc(&c, &m, &f), MS_EINVAL);
    ms_free(L);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed_prior_closed_form),
        cmocka_unit_test(test_reweighted),
        cmocka_unit_test(test_trend),
        cmocka_unit_test(test_pulls),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
