/* test_slam.c: the SLAM module (src/slam) on synthetic analytic spectra:
 *   - predict: our kernel-reuse SVR + GEMM prediction equals libsvm's own svm_predict of an
 *     SVR trained independently with libsvm's built-in RBF kernel (same data, C, eps, gamma);
 *   - jacobian: the analytic label derivative equals central finite differences;
 *   - roundtrip: the model file written and read back gives identical arrays/predictions;
 *   - cv: on y = g(labels) + Gaussian noise of known sigma, the CV-MSE of the search is the
 *     noise variance (it is the model variance of the fit), the full search is never worse
 *     than the coordinate search, and both are deterministic;
 *   - fit: noiseless spectra of held-out labels are recovered, and on noisy spectra the pulls
 *     (fit - truth) / error have a standard deviation near 1. */
#include "test_util.h"

#include "mstars/mem.h"
#include "mstars/rng.h"
#include "mstars/slam.h"

#include <libsvm/svm.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------- synthetic spectra */

typedef struct {
    size_t n, P, D;
    double *labels;
    float *flux, *ivar;
    ms_slam_train_set t;
} synth;

static uint64_t rng_state[4];
static void rng_seed(uint64_t s)
{
    for (int k = 0; k < 4; k++) rng_state[k] = ms_rng_splitmix64(&s);
}
static double uniform(void) { return (double)(ms_rng_xoshiro256ss(rng_state) >> 11) * 0x1.0p-53; }
static double gauss(void)
{
    double u = uniform(), v = uniform();
    return sqrt(-2.0 * log(u > 0 ? u : 1e-300)) * cos(2 * M_PI * v);
}

/* Flux of pixel j at labels (teff, m_h): smooth absorption features. */
static double true_flux(size_t j, const double *y)
{
    double t = (y[0] - 3500.0) / 500.0, m = y[1];
    double c = -1.0 + 2.0 * (double)j / 29.0;
    return 1.0 - 0.3 / (1.0 + exp(-3.0 * (t - c))) - 0.1 * m * cos((double)j) + 0.05 * t * t;
}

static void synth_make(synth *s, size_t n, size_t P, double noise, uint64_t seed)
{
    rng_seed(seed);
    s->n = n;
    s->P = P;
    s->D = 2;
    s->labels = ms_malloc_array("t.labels", n * 2, sizeof(double));
    s->flux = ms_malloc_array("t.flux", n * P, sizeof(float));
    s->ivar = ms_malloc_array("t.ivar", n * P, sizeof(float));
    assert_non_null(s->labels);
    for (size_t i = 0; i < n; i++) {
        s->labels[i * 2] = 3000.0 + 1000.0 * uniform();
        s->labels[i * 2 + 1] = -1.0 + 1.5 * uniform();
        for (size_t j = 0; j < P; j++) {
            s->flux[i * P + j] = (float)(true_flux(j, s->labels + i * 2) + noise * gauss());
            s->ivar[i * P + j] = noise > 0 ? (float)(1.0 / (noise * noise)) : 1e6f;
        }
    }
    memset(&s->t, 0, sizeof s->t);
    s->t.n = n;
    s->t.n_pix = P;
    s->t.n_labels = 2;
    snprintf(s->t.label_names[0], MS_SLAM_LABEL_LEN, "teff");
    snprintf(s->t.label_names[1], MS_SLAM_LABEL_LEN, "m_h");
    s->t.labels = s->labels;
    s->t.flux = s->flux;
    s->t.ivar = s->ivar;
}

static void synth_free(synth *s)
{
    ms_free(s->labels);
    ms_free(s->flux);
    ms_free(s->ivar);
}

static void small_grid(ms_slam_grid *g)
{
    ms_slam_grid_default(g);
    g->n_c = 3;
    g->c[0] = 1;
    g->c[1] = 4;
    g->c[2] = 16;
    g->n_eps = 2;
    g->eps[0] = 0.01;
    g->eps[1] = 0.05;
    g->n_gamma = 2;
    g->gamma[0] = 0; /* auto */
    g->gamma[1] = 0.3;
    g->folds = 4;
}

/* ------------------------------------------------------------- predict vs libsvm */

static void test_predict_vs_libsvm(void **state)
{
    (void)state;
    synth s;
    synth_make(&s, 60, 30, 0.01, 1);
    ms_slam_grid g;
    small_grid(&g);
    g.tol = 1e-10; /* both solvers converge to the same optimum */
    ms_slam_model m;
    assert_int_equal(ms_slam_train_serial(&s.t, &g, NULL, &m), MS_OK);
    ms_slam_ws *ws;
    assert_int_equal(ms_slam_ws_alloc(&m, &ws), MS_OK);
    double flux[30];
    /* the reference: libsvm's built-in RBF kernel on the standardised labels */
    struct svm_node *nodes = ms_malloc_array("t.nodes", s.n * 3, sizeof *nodes);
    struct svm_node **xp = ms_malloc_array("t.xp", s.n, sizeof *xp);
    double *y = ms_malloc_array("t.y", s.n, sizeof(double));
    for (size_t i = 0; i < s.n; i++) {
        for (int d = 0; d < 2; d++) {
            nodes[i * 3 + d].index = d + 1;
            nodes[i * 3 + d].value = m.x[i * 2 + d];
        }
        nodes[i * 3 + 2].index = -1;
        xp[i] = nodes + i * 3;
    }
    rng_seed(99);
    int checked = 0;
    for (size_t j = 0; j < s.P; j += 3) {
        assert_int_equal(m.status[j], 0);
        for (size_t i = 0; i < s.n; i++) y[i] = (s.flux[i * s.P + j] - m.flux_mean[j]) / m.flux_scale[j];
        struct svm_parameter p;
        memset(&p, 0, sizeof p);
        p.svm_type = EPSILON_SVR;
        p.kernel_type = RBF;
        p.gamma = m.gamma[j];
        p.C = m.c[j];
        p.p = m.epsilon[j];
        p.eps = 1e-10;
        p.cache_size = 10;
        p.shrinking = 1;
        struct svm_problem prob = {(int)s.n, y, xp};
        struct svm_model *ref = svm_train(&prob, &p);
        assert_non_null(ref);
        for (int k = 0; k < 5; k++) {
            double z[2] = {-1.5 + 3 * uniform(), -1.5 + 3 * uniform()};
            struct svm_node q[3] = {{1, z[0]}, {2, z[1]}, {-1, 0}};
            double want = m.flux_mean[j] + m.flux_scale[j] * svm_predict(ref, q);
            ms_slam_predict(&m, ws, z, flux, NULL);
            assert_close(flux[j], want, 0, 2e-6, "SLAM prediction vs libsvm svm_predict (RBF)");
            checked++;
        }
        svm_free_and_destroy_model(&ref);
    }
    assert_true(checked >= 50);
    ms_free(nodes);
    ms_free(xp);
    ms_free(y);
    ms_slam_ws_free(ws);
    ms_slam_model_free(&m);
    synth_free(&s);
}

/* ------------------------------------------------------------- Jacobian */

static void test_jacobian(void **state)
{
    (void)state;
    synth s;
    synth_make(&s, 50, 30, 0.01, 2);
    ms_slam_grid g;
    small_grid(&g);
    ms_slam_model m;
    assert_int_equal(ms_slam_train_serial(&s.t, &g, NULL, &m), MS_OK);
    ms_slam_ws *ws;
    assert_int_equal(ms_slam_ws_alloc(&m, &ws), MS_OK);
    double f0[30], fp[30], fm[30], jac[60];
    rng_seed(7);
    for (int k = 0; k < 10; k++) {
        double z[2] = {-1.5 + 3 * uniform(), -1.5 + 3 * uniform()};
        ms_slam_predict(&m, ws, z, f0, jac);
        for (int d = 0; d < 2; d++) {
            const double h = 1e-5;
            double zp[2] = {z[0], z[1]}, zm[2] = {z[0], z[1]};
            zp[d] += h;
            zm[d] -= h;
            ms_slam_predict(&m, ws, zp, fp, NULL);
            ms_slam_predict(&m, ws, zm, fm, NULL);
            for (size_t j = 0; j < s.P; j++)
                assert_close(jac[j * 2 + d], (fp[j] - fm[j]) / (2 * h), 1e-5, 1e-7,
                             "d flux / d label vs central differences");
        }
    }
    ms_slam_ws_free(ws);
    ms_slam_model_free(&m);
    synth_free(&s);
}

/* ------------------------------------------------------------- model file */

static void test_roundtrip(void **state)
{
    (void)state;
    synth s;
    synth_make(&s, 40, 30, 0.01, 3);
    uint8_t mask[30] = {0};
    mask[4] = 1; /* a masked pixel survives the round trip as "no model" */
    s.t.mask = mask;
    ms_slam_grid g;
    small_grid(&g);
    double wave[30];
    for (int j = 0; j < 30; j++) wave[j] = 6000.0 + j;
    ms_slam_model m, r;
    assert_int_equal(ms_slam_train_serial(&s.t, &g, wave, &m), MS_OK);
    assert_int_equal(m.status[4], 1);
    char path[512];
    snprintf(path, sizeof path, "%s/slam.h5", ms_test_tmpdir());
    assert_int_equal(ms_slam_model_write(path, &m, NULL, "test"), MS_OK);
    assert_int_equal(ms_slam_model_read(path, &r), MS_OK);
    assert_int_equal(r.n_pix, m.n_pix);
    assert_int_equal(r.n_train, m.n_train);
    assert_int_equal(r.n_labels, m.n_labels);
    assert_string_equal(r.train_hash, m.train_hash);
    assert_string_equal(r.grid, m.grid);
    assert_string_equal(r.label_names[1], "m_h");
    assert_memory_equal(r.coef, m.coef, m.n_pix * m.n_train * sizeof(double));
    assert_memory_equal(r.x, m.x, m.n_train * 2 * sizeof(double));
    assert_memory_equal(r.train_flux, m.train_flux, m.n_train * m.n_pix * sizeof(float));
    assert_memory_equal(r.status, m.status, m.n_pix * sizeof(int32_t));
    for (size_t j = 0; j < m.n_pix; j++) {
        if (m.status[j]) continue;
        assert_true(r.c[j] == m.c[j] && r.epsilon[j] == m.epsilon[j] && r.gamma[j] == m.gamma[j]);
        assert_true(r.cv_mse[j] == m.cv_mse[j] && r.b[j] == m.b[j]);
        assert_true(r.wavelength[j] == wave[j]);
    }
    ms_slam_ws *w1, *w2;
    assert_int_equal(ms_slam_ws_alloc(&m, &w1), MS_OK);
    assert_int_equal(ms_slam_ws_alloc(&r, &w2), MS_OK);
    double z[2] = {0.3, -0.2}, f1[30], f2[30];
    ms_slam_predict(&m, w1, z, f1, NULL);
    ms_slam_predict(&r, w2, z, f2, NULL);
    assert_true(isnan(f2[4]));
    assert_memory_equal(f1, f2, sizeof f1);
    /* the CV error floor is written in place and read back */
    double floor[2] = {25.0, 0.07};
    assert_int_equal(ms_slam_model_set_error_floor(path, floor, 2), MS_OK);
    ms_slam_model r2;
    assert_int_equal(ms_slam_model_read(path, &r2), MS_OK);
    assert_true(r2.error_floor[0] == 25.0 && r2.error_floor[1] == 0.07);
    ms_slam_model_free(&r2);
    assert_int_not_equal(ms_slam_model_set_error_floor(path, floor, 3), MS_OK);
    assert_int_equal(ms_slam_model_read(path, &r2), MS_OK); /* still a complete model */
    ms_slam_model_free(&r2);
    ms_slam_ws_free(w1);
    ms_slam_ws_free(w2);
    ms_slam_model_free(&r);
    ms_slam_model_free(&m);
    synth_free(&s);
}

/* ------------------------------------------------------------- CV on an analytic case */

static void test_cv_analytic(void **state)
{
    (void)state;
    const double noise = 0.01;
    synth s;
    synth_make(&s, 100, 30, noise, 4);
    ms_slam_grid g;
    ms_slam_grid_default(&g); /* the paper's grid */
    g.folds = 5;
    ms_slam_trainer *tr, *tr2;
    assert_int_equal(ms_slam_trainer_alloc(&s.t, &g, &tr), MS_OK);
    ms_slam_grid gc = g;
    gc.search = MS_SLAM_SEARCH_COORD;
    assert_int_equal(ms_slam_trainer_alloc(&s.t, &gc, &tr2), MS_OK);
    double ratio_sum = 0;
    int n = 0;
    for (size_t j = 0; j < s.P; j += 7) {
        ms_slam_pixel full, coord, again;
        assert_int_equal(ms_slam_train_pixel(tr, j, &full), MS_OK);
        assert_int_equal(ms_slam_train_pixel(tr2, j, &coord), MS_OK);
        assert_int_equal(ms_slam_train_pixel(tr, j, &again), MS_OK);
        assert_int_equal(full.n_fits, 11 * 4 * 5 * 5);
        assert_true(coord.n_fits < full.n_fits / 2);
        assert_true(full.cv_mse <= coord.cv_mse);        /* the full grid's minimum */
        assert_true(full.cv_mse == again.cv_mse && full.c == again.c); /* deterministic */
        /* CV-MSE in flux units vs the noise variance (the model's own error adds a little) */
        double mse_flux = full.cv_mse * full.flux_scale * full.flux_scale;
        double ratio = mse_flux / (noise * noise);
        ratio_sum += ratio;
        n++;
        assert_true(ratio > 0.6 && ratio < 2.5);
    }
    printf("mean CV-MSE / noise variance = %.3f over %d pixels\n", ratio_sum / n, n);
    ms_slam_trainer_free(tr);
    ms_slam_trainer_free(tr2);
    synth_free(&s);
}

/* ------------------------------------------------------------- the fit */

static void test_fit(void **state)
{
    (void)state;
    const double noise = 0.01;
    synth s;
    synth_make(&s, 200, 30, noise, 5);
    ms_slam_grid g;
    small_grid(&g);
    ms_slam_model m;
    assert_int_equal(ms_slam_train_serial(&s.t, &g, NULL, &m), MS_OK);
    ms_slam_ws *ws;
    assert_int_equal(ms_slam_ws_alloc(&m, &ws), MS_OK);
    ms_slam_fit_opts o;
    ms_slam_fit_opts_default(&o);
    rng_seed(11);
    float flux[30], ivar[30];
    double s_pull[2] = {0, 0}, max_dev[2] = {0, 0};
    const int n_test = 60;
    for (int k = 0; k < n_test; k++) {
        double y[2] = {3150.0 + 700.0 * uniform(), -0.85 + 1.2 * uniform()};
        for (int j = 0; j < 30; j++) {
            flux[j] = (float)(true_flux((size_t)j, y) + noise * gauss());
            ivar[j] = (float)(1.0 / (noise * noise));
        }
        ms_slam_result r;
        assert_int_equal(ms_slam_fit(&m, ws, &o, flux, ivar, NULL, &r), MS_OK);
        assert_int_equal(r.flags & (MS_SLAM_FLAG_FAILED | MS_SLAM_FLAG_NO_ERRORS), 0);
        assert_int_equal(r.n_pix, 30);
        for (int d = 0; d < 2; d++) {
            double dev = r.label[d] - y[d];
            s_pull[d] += (dev / r.error[d]) * (dev / r.error[d]);
            max_dev[d] = fabs(dev) > max_dev[d] ? fabs(dev) : max_dev[d];
        }
    }
    double sd_t = sqrt(s_pull[0] / n_test), sd_m = sqrt(s_pull[1] / n_test);
    printf("pull sd: teff %.2f, m_h %.2f; max |dev| %.0f K, %.3f dex\n", sd_t, sd_m, max_dev[0],
           max_dev[1]);
    assert_true(max_dev[0] < 150 && max_dev[1] < 0.3);
    assert_true(sd_t > 0.6 && sd_t < 1.6);
    assert_true(sd_m > 0.6 && sd_m < 1.6);
    /* a spectrum with nothing usable is flagged, not fitted */
    for (int j = 0; j < 30; j++) ivar[j] = 0;
    ms_slam_result r;
    assert_int_equal(ms_slam_fit(&m, ws, &o, flux, ivar, NULL, &r), MS_OK);
    assert_true(r.flags & MS_SLAM_FLAG_NOT_FITTED);
    assert_true(isnan(r.label[0]));
    ms_slam_ws_free(ws);
    ms_slam_model_free(&m);
    synth_free(&s);
}

static void test_parse(void **state)
{
    (void)state;
    double v[32];
    size_t n;
    assert_int_equal(ms_slam_parse_list("C", "2^-5:2^5", v, 32, &n), MS_OK);
    assert_int_equal(n, 11);
    assert_true(v[0] == 1.0 / 32 && v[10] == 32);
    assert_int_equal(ms_slam_parse_list("gamma", "auto,0.2,0.5", v, 32, &n), MS_OK);
    assert_int_equal(n, 3);
    assert_true(v[0] == 0 && v[2] == 0.5);
    assert_int_equal(ms_slam_parse_list("eps", "x", v, 32, &n), MS_EINVAL);
    assert_int_equal(ms_slam_parse_list("eps", "", v, 32, &n), MS_EINVAL);
}

/* the CV error floor: deltas ~ N(0, 2^2) with formal errors 1 need F = sqrt(3) */
static void test_error_floor(void **state)
{
    (void)state;
    rng_seed(21);
    const size_t n = 20000;
    double *d = ms_malloc_array("t.d", n, sizeof(double)), *e = ms_malloc_array("t.e", n, sizeof(double));
    for (size_t i = 0; i < n; i++) {
        d[i] = 2.0 * gauss();
        e[i] = 1.0;
    }
    assert_close(ms_slam_error_floor(d, e, n), sqrt(3.0), 0.03, 0, "error floor");
    for (size_t i = 0; i < n; i++) e[i] = 3.0; /* errors already large enough */
    assert_true(ms_slam_error_floor(d, e, n) == 0.0);
    ms_free(d);
    ms_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_predict_vs_libsvm),
        cmocka_unit_test(test_jacobian),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_cv_analytic),
        cmocka_unit_test(test_fit),
        cmocka_unit_test(test_error_floor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
