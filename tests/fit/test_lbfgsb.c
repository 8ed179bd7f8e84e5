/* test_lbfgsb.c: the L-BFGS-B wrapper on the classic problems, GSL style (Rosenbrock,
 * Wood, a bounded quadratic whose solution sits on bounds, Rosenbrock with an active
 * bound), against their analytic optima; interleaved states follow exactly the paths
 * they follow alone; misuse and non-finite values are rejected. */
#include "test_util.h"

#include "mstars/lbfgsb.h"

#include <math.h>
#include <string.h>

typedef double (*objective_fn)(const double *x, double *g, size_t n);

/* Rosenbrock: f = 100 (x2 - x1^2)^2 + (1 - x1)^2 */
static double rosenbrock(const double *x, double *g, size_t n)
{
    (void)n;
    double a = x[1] - x[0] * x[0], b = 1.0 - x[0];
    g[0] = -400.0 * a * x[0] - 2.0 * b;
    g[1] = 200.0 * a;
    return 100.0 * a * a + b * b;
}

/* Wood (More, Garbow & Hillstrom 1981, problem 14) */
static double wood(const double *x, double *g, size_t n)
{
    (void)n;
    double t1 = x[1] - x[0] * x[0], t2 = 1 - x[0], t3 = x[3] - x[2] * x[2], t4 = 1 - x[2];
    double t5 = x[1] + x[3] - 2, t6 = x[1] - x[3];
    g[0] = -400 * x[0] * t1 - 2 * t2;
    g[1] = 200 * t1 + 20 * t5 + 0.2 * t6;
    g[2] = -360 * x[2] * t3 - 2 * t4;
    g[3] = 180 * t3 + 20 * t5 - 0.2 * t6;
    return 100 * t1 * t1 + t2 * t2 + 90 * t3 * t3 + t4 * t4 + 10 * t5 * t5 + 0.1 * t6 * t6;
}

/* Separable quadratic sum_i c_i (x_i - a_i)^2 with "high entropy" constants. */
static const double QA[6] = {2.385, -1.731, 0.417, 5.09, -3.3, 0.0};
static const double QC[6] = {1.0, 3.7, 0.25, 11.0, 2.2, 0.6};
static double quad(const double *x, double *g, size_t n)
{
    double f = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = x[i] - QA[i];
        f += QC[i] * d * d;
        g[i] = 2.0 * QC[i] * d;
    }
    return f;
}

typedef struct {
    size_t iters, evals;
    ms_status end;
    double f;
} run_info;

/* Drive one state to its end; records the sequence of evaluated points in trace
 * ([max_trace, n], may be NULL). */
static run_info run(objective_fn fn, size_t n, const double *x0, const double *lo,
                    const double *hi, size_t max_iter, double *trace, size_t max_trace)
{
    ms_lbfgsb *s;
    assert_int_equal(ms_lbfgsb_alloc(n, 7, &s), MS_OK);
    double g[8], f = 0.0;
    ms_status st = ms_lbfgsb_start(s, x0, lo, hi, 1e1, 1e-10);
    size_t k = 0;
    while (st == MS_NEED_FG || st == MS_CONTINUE) {
        if (st == MS_NEED_FG) {
            f = fn(ms_lbfgsb_x(s), g, n);
            if (trace && k < max_trace) memcpy(trace + k * n, ms_lbfgsb_x(s), n * sizeof(double));
            k++;
        }
        st = ms_lbfgsb_iterate(s, f, g);
        if (st == MS_CONTINUE && ms_lbfgsb_iterations(s) >= max_iter) break;
    }
    run_info r = {ms_lbfgsb_iterations(s), ms_lbfgsb_evaluations(s), st, ms_lbfgsb_f(s)};
    assert_int_equal(r.evals, k);
    ms_lbfgsb_free(s);
    return r;
}

static void solve(objective_fn fn, size_t n, const double *x0, const double *lo,
                  const double *hi, const double *want, double want_f, double tol)
{
    ms_lbfgsb *s;
    assert_int_equal(ms_lbfgsb_alloc(n, 7, &s), MS_OK);
    double g[8], f = 0.0;
    ms_status st = ms_lbfgsb_start(s, x0, lo, hi, 1e1, 1e-10);
    while (st == MS_NEED_FG || st == MS_CONTINUE) {
        if (st == MS_NEED_FG) f = fn(ms_lbfgsb_x(s), g, n);
        st = ms_lbfgsb_iterate(s, f, g);
        assert_true(ms_lbfgsb_iterations(s) < 1000);
    }
    if (st != MS_OK && st != MS_ENOPROG) fail_msg("ended with %s: %s", ms_status_name(st), ms_lbfgsb_task(s));
    print_message("    %zu iterations, %zu evaluations, f = %.3g, task '%s'\n",
                  ms_lbfgsb_iterations(s), ms_lbfgsb_evaluations(s), ms_lbfgsb_f(s),
                  ms_lbfgsb_task(s));
    for (size_t i = 0; i < n; i++) assert_close(ms_lbfgsb_x(s)[i], want[i], 0, tol, "x");
    assert_close(ms_lbfgsb_f(s), want_f, 0, tol, "f");
    /* f and g of the state are those at x */
    double gx[8];
    assert_close(fn(ms_lbfgsb_x(s), gx, n), ms_lbfgsb_f(s), 1e-12, 1e-300, "f at x");
    for (size_t i = 0; i < n; i++) assert_close(ms_lbfgsb_g(s)[i], gx[i], 1e-12, 1e-300, "g at x");
    assert_true(ms_lbfgsb_projected_gradient(s) < 1e-3);
    ms_lbfgsb_free(s);
}

static void test_rosenbrock(void **state)
{
    (void)state;
    const double x0[2] = {-1.2, 1.0}, want[2] = {1.0, 1.0};
    solve(rosenbrock, 2, x0, NULL, NULL, want, 0.0, 1e-5);
    /* infinite bounds mean the same */
    const double lo[2] = {-INFINITY, -INFINITY}, hi[2] = {INFINITY, INFINITY};
    solve(rosenbrock, 2, x0, lo, hi, want, 0.0, 1e-5);
}

static void test_wood(void **state)
{
    (void)state;
    const double x0[4] = {-3, -1, -3, -1}, want[4] = {1, 1, 1, 1};
    solve(wood, 4, x0, NULL, NULL, want, 0.0, 1e-5);
}

static void test_bounded_quadratic(void **state)
{
    (void)state;
    /* minimiser = the clamp of QA into the box: variables 0 (upper), 1 (lower), 3 (upper
     * only), 4 (lower only) end on their bounds; 2 and 5 are free */
    const double lo[6] = {-1.0, -1.0, -1.0, -INFINITY, -2.0, -1.0};
    const double hi[6] = {1.5, 1.0, 1.0, 4.25, INFINITY, 1.0};
    const double x0[6] = {0.3, 0.9, -7.0 /* projected */, 0.0, 9.0, 0.77};
    double want[6], want_f = 0.0;
    for (size_t i = 0; i < 6; i++) {
        want[i] = QA[i] < lo[i] ? lo[i] : QA[i] > hi[i] ? hi[i] : QA[i];
        want_f += QC[i] * (want[i] - QA[i]) * (want[i] - QA[i]);
    }
    solve(quad, 6, x0, lo, hi, want, want_f, 1e-8);
}

static void test_rosenbrock_active_bound(void **state)
{
    (void)state;
    /* x1 <= 0.5: the optimum is (0.5, 0.25), f = 0.25 */
    const double x0[2] = {-1.2, 1.0}, hi[2] = {0.5, INFINITY}, want[2] = {0.5, 0.25};
    solve(rosenbrock, 2, x0, NULL, hi, want, 0.25, 1e-6);
}

/* Two problems advanced alternately take exactly the same paths as each one alone. */
static void test_interleaved(void **state)
{
    (void)state;
    enum { MAXT = 400 };
    static double ta[MAXT * 2], tb[MAXT * 4], ia[MAXT * 2], ib[MAXT * 4];
    const double xa[2] = {-1.2, 1.0}, xb[4] = {-3, -1, -3, -1};
    run_info ra = run(rosenbrock, 2, xa, NULL, NULL, 1000, ta, MAXT);
    run_info rb = run(wood, 4, xb, NULL, NULL, 1000, tb, MAXT);
    assert_true(ra.evals < MAXT && rb.evals < MAXT);

    ms_lbfgsb *sa, *sb;
    assert_int_equal(ms_lbfgsb_alloc(2, 7, &sa), MS_OK);
    assert_int_equal(ms_lbfgsb_alloc(4, 7, &sb), MS_OK);
    double ga[2], gb[4], fa = 0, fb = 0;
    ms_status sta = ms_lbfgsb_start(sa, xa, NULL, NULL, 1e1, 1e-10);
    ms_status stb = ms_lbfgsb_start(sb, xb, NULL, NULL, 1e1, 1e-10);
    size_t ka = 0, kb = 0;
    while (sta == MS_NEED_FG || sta == MS_CONTINUE || stb == MS_NEED_FG || stb == MS_CONTINUE) {
        if (sta == MS_NEED_FG || sta == MS_CONTINUE) {
            if (sta == MS_NEED_FG) {
                fa = rosenbrock(ms_lbfgsb_x(sa), ga, 2);
                memcpy(ia + ka++ * 2, ms_lbfgsb_x(sa), 2 * sizeof(double));
            }
            sta = ms_lbfgsb_iterate(sa, fa, ga);
        }
        if (stb == MS_NEED_FG || stb == MS_CONTINUE) {
            if (stb == MS_NEED_FG) {
                fb = wood(ms_lbfgsb_x(sb), gb, 4);
                memcpy(ib + kb++ * 4, ms_lbfgsb_x(sb), 4 * sizeof(double));
            }
            stb = ms_lbfgsb_iterate(sb, fb, gb);
        }
    }
    assert_int_equal(sta, ra.end);
    assert_int_equal(stb, rb.end);
    assert_int_equal(ka, ra.evals);
    assert_int_equal(kb, rb.evals);
    assert_int_equal(ms_lbfgsb_iterations(sa), ra.iters);
    assert_int_equal(ms_lbfgsb_iterations(sb), rb.iters);
    assert_memory_equal(ia, ta, ka * 2 * sizeof(double));
    assert_memory_equal(ib, tb, kb * 4 * sizeof(double));
    assert_true(ms_lbfgsb_f(sa) == ra.f && ms_lbfgsb_f(sb) == rb.f);
    ms_lbfgsb_free(sa);
    ms_lbfgsb_free(sb);
}

static void test_iteration_limit_and_restart(void **state)
{
    (void)state;
    const double x0[2] = {-1.2, 1.0};
    run_info r = run(rosenbrock, 2, x0, NULL, NULL, 5, NULL, 0);
    assert_int_equal(r.end, MS_CONTINUE);
    assert_int_equal(r.iters, 5);
    assert_true(r.evals >= 5);

    /* a finished state can be restarted and gives the same run again */
    ms_lbfgsb *s;
    assert_int_equal(ms_lbfgsb_alloc(2, 7, &s), MS_OK);
    size_t ev[2];
    for (int k = 0; k < 2; k++) {
        double g[2], f = 0;
        ms_status st = ms_lbfgsb_start(s, x0, NULL, NULL, 1e7, 1e-5);
        while (st == MS_NEED_FG || st == MS_CONTINUE) {
            if (st == MS_NEED_FG) f = rosenbrock(ms_lbfgsb_x(s), g, 2);
            st = ms_lbfgsb_iterate(s, f, g);
        }
        assert_true(st == MS_OK || st == MS_ENOPROG);
        ev[k] = ms_lbfgsb_evaluations(s);
        assert_int_equal(ms_lbfgsb_iterate(s, f, g), MS_EINVAL); /* finished */
    }
    assert_int_equal(ev[0], ev[1]);
    ms_lbfgsb_free(s);
}

/* A state reused for another problem follows exactly the path of a fresh state (the fitter
 * reuses each slot's state for the next spectrum: its fit must not depend on the one
 * before). Five bounded variables, as the fit's labels and velocity; every evaluated point
 * compared bit for bit, for each ordered pair of problems. These problems do not reach the
 * path in which setulb read its stale free-variable index set (the fit of a real spectrum
 * did: tests/store/test_determinism.sh catches that); they guard the restart in general. */
#define RN 5
static const double RQ[RN] = {0.3, -0.7, 1.9, -2.4, 0.05};
/* chained Rosenbrock plus a pull of each variable towards RQ */
static double chain(const double *x, double *g, size_t n)
{
    double f = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = x[i] - RQ[i];
        f += 0.5 * d * d;
        g[i] = d;
    }
    for (size_t i = 0; i + 1 < n; i++) {
        double a = x[i + 1] - x[i] * x[i], b = 1.0 - x[i];
        f += 10.0 * a * a + b * b;
        g[i] += -40.0 * a * x[i] - 2.0 * b;
        g[i + 1] += 20.0 * a;
    }
    return f;
}

typedef struct {
    objective_fn fn;
    double x0[RN], lo[RN], hi[RN];
} problem;

static size_t trace_on(ms_lbfgsb *s, const problem *p, double *trace, size_t max_trace)
{
    double g[RN], f = 0.0;
    ms_status st = ms_lbfgsb_start(s, p->x0, p->lo, p->hi, 1e1, 1e-10);
    size_t k = 0;
    while (st == MS_NEED_FG || st == MS_CONTINUE) {
        if (st == MS_NEED_FG) {
            f = p->fn(ms_lbfgsb_x(s), g, RN);
            if (k < max_trace) memcpy(trace + RN * k, ms_lbfgsb_x(s), RN * sizeof(double));
            k++;
        }
        st = ms_lbfgsb_iterate(s, f, g);
        if (ms_lbfgsb_iterations(s) >= 200) break;
    }
    return k;
}

static void test_reused_state(void **state)
{
    (void)state;
    const problem ps[] = {
        {chain, {0, 0, 0, 0, 0}, {-3, -3, -3, -3, -3}, {3, 3, 3, 3, 3}},
        {chain, {0.5, 0.5, 0.5, 0.5, 0.5}, {-0.2, -1, 0.9, -1, -1}, {0.4, 0.1, 1, 1, 0.3}},
        {quad, {0, 0, 0, 0, 0}, {-1, -1, -1, -1, -1}, {1, 1, 1, 1, 1}},
        {quad, {0.9, -0.9, 0.1, 2, 0}, {0, -2, 0, 0, -5}, {5, 0, 0.2, 4, 5}},
        {chain, {-1, 2, -1, 2, 0}, {-2, 1.5, -2, -2, -1}, {0, 2.5, 2, 2, 0.01}},
    };
    const size_t np = sizeof ps / sizeof ps[0], mt = 600;
    double *fresh = test_malloc(RN * mt * sizeof(double)), *reused = test_malloc(RN * mt * sizeof(double));
    size_t bad = 0;
    for (size_t a = 0; a < np; a++)
        for (size_t b = 0; b < np; b++) {
            ms_lbfgsb *s1, *s2;
            assert_int_equal(ms_lbfgsb_alloc(RN, 5, &s1), MS_OK);
            assert_int_equal(ms_lbfgsb_alloc(RN, 5, &s2), MS_OK);
            memset(fresh, 0, RN * mt * sizeof(double));
            size_t k1 = trace_on(s1, &ps[b], fresh, mt);
            (void)trace_on(s2, &ps[a], reused, mt);
            memset(reused, 0, RN * mt * sizeof(double));
            size_t k2 = trace_on(s2, &ps[b], reused, mt);
            if (k1 != k2 || memcmp(fresh, reused, RN * (k1 < mt ? k1 : mt) * sizeof(double)) != 0) {
                print_message("    problem %zu after problem %zu: %zu evaluations, fresh %zu\n", b, a,
                              k2, k1);
                bad++;
            }
            ms_lbfgsb_free(s1);
            ms_lbfgsb_free(s2);
        }
    test_free(fresh);
    test_free(reused);
    assert_int_equal(bad, 0);
}

static void test_misuse(void **state)
{
    (void)state;
    ms_lbfgsb *s = NULL;
    assert_int_equal(ms_lbfgsb_alloc(0, 5, &s), MS_EINVAL);
    assert_null(s);
    assert_int_equal(ms_lbfgsb_alloc(3, 0, &s), MS_EINVAL);
    assert_int_equal(ms_lbfgsb_alloc(2, 5, &s), MS_OK);
    double g[2] = {0, 0};
    /* never started */
    assert_int_equal(ms_lbfgsb_iterate(s, 1.0, g), MS_EINVAL);
    const double x0[2] = {0.1, 0.2}, nanx[2] = {NAN, 0.0};
    const double lo[2] = {1.0, 0.0}, hi[2] = {0.0, 1.0}, nanlo[2] = {NAN, 0};
    assert_int_equal(ms_lbfgsb_start(s, x0, lo, hi, 1e7, 1e-5), MS_EINVAL);
    assert_non_null(strstr(ms_error_message(), "bounds of variable 0"));
    assert_int_equal(ms_lbfgsb_start(s, x0, nanlo, NULL, 1e7, 1e-5), MS_EINVAL);
    assert_int_equal(ms_lbfgsb_start(s, nanx, NULL, NULL, 1e7, 1e-5), MS_EINVAL);
    assert_int_equal(ms_lbfgsb_start(s, x0, NULL, NULL, -1.0, 1e-5), MS_EINVAL);
    assert_int_equal(ms_lbfgsb_start(s, x0, NULL, NULL, 1e7, NAN), MS_EINVAL);
    /* non-finite objective or gradient ends the state */
    assert_int_equal(ms_lbfgsb_start(s, x0, NULL, NULL, 1e7, 1e-5), MS_NEED_FG);
    assert_int_equal(ms_lbfgsb_iterate(s, NAN, g), MS_EINVAL);
    assert_int_equal(ms_lbfgsb_iterate(s, 1.0, g), MS_EINVAL);
    assert_int_equal(ms_lbfgsb_start(s, x0, NULL, NULL, 1e7, 1e-5), MS_NEED_FG);
    g[1] = INFINITY;
    assert_int_equal(ms_lbfgsb_iterate(s, 1.0, g), MS_EINVAL);
    assert_int_equal(ms_lbfgsb_start(s, x0, NULL, NULL, 1e7, 1e-5), MS_NEED_FG);
    assert_int_equal(ms_lbfgsb_iterate(s, 1.0, NULL), MS_EINVAL);
    /* equal bounds (a fixed variable) are allowed */
    const double lo2[2] = {0.5, -1}, hi2[2] = {0.5, 1};
    assert_int_equal(ms_lbfgsb_start(s, x0, lo2, hi2, 1e7, 1e-5), MS_NEED_FG);
    assert_true(ms_lbfgsb_x(s)[0] == 0.5);
    assert_string_equal(ms_lbfgsb_task(s), "FG_START");
    ms_lbfgsb_free(s);
    ms_lbfgsb_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rosenbrock),
        cmocka_unit_test(test_wood),
        cmocka_unit_test(test_bounded_quadratic),
        cmocka_unit_test(test_rosenbrock_active_bound),
        cmocka_unit_test(test_interleaved),
        cmocka_unit_test(test_iteration_limit_and_restart),
        cmocka_unit_test(test_reused_state),
        cmocka_unit_test(test_misuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
