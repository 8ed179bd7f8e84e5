/* test_nn_grad.c: finite-difference checks of every layer's and loss's backward pass,
 * batched (B = 3): weight gradients and input gradients (vector-Jacobian products).
 *
 * For a layer y = f(x, w) the scalar L = sum_i y_i r_i (r random, double accumulation)
 * has dL/dx = VJP(r) and dL/dw; every element of every input and weight is perturbed by
 * +-h and +-h/2 and the Richardson-extrapolated central difference (O(h^4)) is compared
 * with the analytic value. Inputs keep clear of the kinks of ReLU-type functions and of
 * ties in max pooling so that the function is smooth within h. Also checks that
 * backward accumulates (calling it twice doubles the gradients). */
#include "nn_testlib.h"

#include "mstars/mem.h"
#include "mstars/nn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXV 6

typedef struct fd_case fd_case;
struct fd_case {
    const char *name;
    void (*forward)(fd_case *c);  /* writes c->out */
    void (*backward)(fd_case *c); /* accumulates into c->grad[] from c->r */
    float *out;                   /* [n_out] */
    const float *r;               /* [n_out] */
    size_t n_out;
    int nv;
    float *var[MAXV];  /* inputs and weights */
    float *grad[MAXV]; /* their gradients */
    size_t nvar[MAXV];
    const char *vname[MAXV];
    double h, rtol;
    /* layer-specific */
    size_t B, n_in, n_outf, C, L, lo;
    float slope;
    ms_nn_conv_dims d;
    float *ws, *cache1, *cache2;
    int32_t *icache;
};

static double fd_loss(fd_case *c)
{
    c->forward(c);
    double s = 0.0;
    for (size_t i = 0; i < c->n_out; i++) s += (double)c->out[i] * c->r[i];
    return s;
}

static void fd_run(fd_case *c)
{
    /* analytic, twice: backward accumulates */
    for (int v = 0; v < c->nv; v++) memset(c->grad[v], 0, c->nvar[v] * sizeof(float));
    c->forward(c);
    c->backward(c);
    float *once[MAXV];
    for (int v = 0; v < c->nv; v++) {
        once[v] = nn_zeros(c->nvar[v]);
        memcpy(once[v], c->grad[v], c->nvar[v] * sizeof(float));
    }
    c->backward(c);
    for (int v = 0; v < c->nv; v++) {
        for (size_t i = 0; i < c->nvar[v]; i++) once[v][i] *= 2.0f;
        char what[96];
        snprintf(what, sizeof what, "%s: backward accumulates into d%s", c->name, c->vname[v]);
        nn_check_f(c->grad[v], once[v], c->nvar[v], 1e-6, what);
        for (size_t i = 0; i < c->nvar[v]; i++) once[v][i] *= 0.5f;
    }
    /* numeric */
    for (int v = 0; v < c->nv; v++) {
        double *num = calloc(c->nvar[v], sizeof(double));
        assert_non_null(num);
        for (size_t i = 0; i < c->nvar[v]; i++) {
            float x0 = c->var[v][i];
            double d[2];
            for (int k = 0; k < 2; k++) {
                double h = k == 0 ? c->h : c->h / 2;
                c->var[v][i] = (float)(x0 + h);
                double hp = (double)c->var[v][i] - x0;
                double lp = fd_loss(c);
                c->var[v][i] = (float)(x0 - h);
                double hm = x0 - (double)c->var[v][i];
                double lm = fd_loss(c);
                d[k] = (lp - lm) / (hp + hm);
            }
            c->var[v][i] = x0;
            num[i] = (4.0 * d[1] - d[0]) / 3.0;
        }
        char what[96];
        snprintf(what, sizeof what, "%s: d%s vs finite differences", c->name, c->vname[v]);
        nn_check(once[v], num, c->nvar[v], c->rtol, what);
        free(num);
        ms_free(once[v]);
    }
}

static float *rnd(size_t n, double lo, double hi, ms_nn_rng *rng)
{
    float *x = nn_zeros(n);
    nn_fill(x, n, lo, hi, rng);
    return x;
}

/* keep |x| >= gap (away from the kink at 0) */
static void away_from_zero(float *x, size_t n, float gap)
{
    for (size_t i = 0; i < n; i++)
        if (fabsf(x[i]) < gap) x[i] = x[i] < 0 ? x[i] - gap : x[i] + gap;
}

static void fd_free(fd_case *c)
{
    for (int v = 0; v < c->nv; v++) {
        ms_free(c->var[v]);
        ms_free(c->grad[v]);
    }
    ms_free(c->out);
    ms_free((float *)c->r);
    ms_free(c->ws);
    ms_free(c->cache1);
    ms_free(c->cache2);
    ms_free(c->icache);
}

static void add_var(fd_case *c, const char *name, float *x, size_t n)
{
    c->vname[c->nv] = name;
    c->var[c->nv] = x;
    c->nvar[c->nv] = n;
    c->grad[c->nv] = nn_zeros(n);
    c->nv++;
}

static void set_out(fd_case *c, size_t n, ms_nn_rng *rng)
{
    c->n_out = n;
    c->out = nn_zeros(n);
    c->r = rnd(n, -1, 1, rng);
}

/* ---- dense ---- */
static void dense_f(fd_case *c)
{
    ms_nn_dense_forward(c->out, c->var[0], c->var[1], c->var[2], c->B, c->n_in, c->n_outf);
}
static void dense_b(fd_case *c)
{
    ms_nn_dense_backward(c->grad[0], c->grad[1], c->grad[2], c->r, c->var[0], c->var[1], c->B,
                         c->n_in, c->n_outf);
}

static void test_dense(void **state)
{
    (void)state;
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, 11);
    fd_case c = {.name = "dense", .forward = dense_f, .backward = dense_b, .h = 1e-2, .rtol = 1e-3,
                 .B = 3, .n_in = 7, .n_outf = 5};
    add_var(&c, "x", rnd(c.B * c.n_in, -1, 1, &rng), c.B * c.n_in);
    add_var(&c, "w", rnd(c.n_outf * c.n_in, -1, 1, &rng), c.n_outf * c.n_in);
    add_var(&c, "b", rnd(c.n_outf, -1, 1, &rng), c.n_outf);
    set_out(&c, c.B * c.n_outf, &rng);
    fd_run(&c);
    fd_free(&c);
}

/* ---- activations ---- */
static void act_f(fd_case *c)
{
    if (c->slope >= 0)
        ms_nn_leaky_relu_forward(c->out, c->var[0], c->n_out, c->slope);
    else
        ms_nn_sigmoid_forward(c->out, c->var[0], c->n_out);
}
static void act_b(fd_case *c)
{
    if (c->slope >= 0)
        ms_nn_leaky_relu_backward(c->grad[0], c->r, c->var[0], c->n_out, c->slope);
    else
        ms_nn_sigmoid_backward(c->grad[0], c->r, c->out, c->n_out);
}

static void test_activations(void **state)
{
    (void)state;
    const float slopes[] = {0.01f, 0.1f, 0.0f, -1.0f /* sigmoid */};
    const char *names[] = {"leaky relu 0.01", "leaky relu 0.1", "relu", "sigmoid"};
    for (int k = 0; k < 4; k++) {
        ms_nn_rng rng;
        ms_nn_rng_seed(&rng, 12 + (uint64_t)k);
        fd_case c = {.name = names[k], .forward = act_f, .backward = act_b, .h = 1e-2,
                     .rtol = 1e-3, .slope = slopes[k]};
        float *x = rnd(3 * 13, -3, 3, &rng);
        away_from_zero(x, 3 * 13, 0.05f);
        add_var(&c, "x", x, 3 * 13);
        set_out(&c, 3 * 13, &rng);
        fd_run(&c);
        fd_free(&c);
    }
}

/* ---- convolutions ---- */
static void conv_f(fd_case *c)
{
    ms_nn_conv1d_forward(c->out, c->ws, c->var[0], c->var[1], c->var[2], &c->d);
}
static void conv_b(fd_case *c)
{
    ms_nn_conv1d_backward(c->grad[0], c->grad[1], c->grad[2], c->ws, c->r, c->var[0], c->var[1],
                          &c->d);
}
static void convt_f(fd_case *c)
{
    ms_nn_convt1d_forward(c->out, c->ws, c->var[0], c->var[1], c->var[2], &c->d);
}
static void convt_b(fd_case *c)
{
    ms_nn_convt1d_backward(c->grad[0], c->grad[1], c->grad[2], c->ws, c->r, c->var[0], c->var[1],
                           &c->d);
}
static void c1x1_f(fd_case *c)
{
    ms_nn_conv1x1_forward(c->out, c->var[0], c->var[1], c->var[2], c->d.B, c->d.c_in, c->d.c_out,
                          c->d.l_in);
}
static void c1x1_b(fd_case *c)
{
    ms_nn_conv1x1_backward(c->grad[0], c->grad[1], c->grad[2], c->r, c->var[0], c->var[1], c->d.B,
                           c->d.c_in, c->d.c_out, c->d.l_in);
}

static void conv_case(const char *name, ms_nn_conv_dims d, int kind, uint64_t seed)
{
    /* kind 0: conv, 1: transposed, 2: 1x1 entry points */
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, seed);
    fd_case c = {.name = name, .h = 1e-2, .rtol = 1e-3, .d = d};
    c.forward = kind == 0 ? conv_f : kind == 1 ? convt_f : c1x1_f;
    c.backward = kind == 0 ? conv_b : kind == 1 ? convt_b : c1x1_b;
    assert_int_equal(ms_nn_conv_check(&d, kind == 1), MS_OK);
    size_t l_out = kind == 1 ? ms_nn_convt1d_out_len(&d) : ms_nn_conv1d_out_len(&d);
    size_t nx = d.B * d.c_in * d.l_in, nw = d.c_in * d.c_out * d.kernel;
    add_var(&c, "x", rnd(nx, -1, 1, &rng), nx);
    add_var(&c, "w", rnd(nw, -0.5, 0.5, &rng), nw);
    add_var(&c, "b", rnd(d.c_out, -0.5, 0.5, &rng), d.c_out);
    set_out(&c, d.B * d.c_out * l_out, &rng);
    c.ws = nn_zeros(kind == 1 ? ms_nn_convt1d_ws_floats(&d) : ms_nn_conv1d_ws_floats(&d));
    fd_run(&c);
    fd_free(&c);
}

static void test_conv1d(void **state)
{
    (void)state;
    conv_case("conv k7 s4", (ms_nn_conv_dims){3, 2, 3, 31, 7, 4, 0, 0}, 0, 21);
    conv_case("conv k5 s2 p2", (ms_nn_conv_dims){3, 2, 3, 14, 5, 2, 2, 0}, 0, 22);
    conv_case("conv k3 s1 p1", (ms_nn_conv_dims){3, 3, 2, 9, 3, 1, 1, 0}, 0, 23);
    conv_case("conv k1 (pointwise path)", (ms_nn_conv_dims){3, 3, 2, 9, 1, 1, 0, 0}, 0, 24);
    conv_case("conv1x1 entry points", (ms_nn_conv_dims){3, 3, 2, 9, 1, 1, 0, 0}, 2, 25);
}

static void test_convt1d(void **state)
{
    (void)state;
    conv_case("convT k7 s4", (ms_nn_conv_dims){3, 3, 2, 5, 7, 4, 0, 0}, 1, 31);
    conv_case("convT k5 s2 p1 op1", (ms_nn_conv_dims){3, 2, 3, 6, 5, 2, 1, 1}, 1, 32);
    conv_case("convT k3 s1 p1", (ms_nn_conv_dims){3, 2, 2, 7, 3, 1, 1, 0}, 1, 33);
}

/* ---- instance norm ---- */
static void in_f(fd_case *c)
{
    ms_nn_instnorm_forward(c->out, c->cache1, c->cache2, c->var[0], c->nv > 1 ? c->var[1] : NULL,
                           c->nv > 1 ? c->var[2] : NULL, c->B, c->C, c->L, 1e-5f);
}
static void in_b(fd_case *c)
{
    ms_nn_instnorm_backward(c->grad[0], c->nv > 1 ? c->grad[1] : NULL,
                            c->nv > 1 ? c->grad[2] : NULL, c->r, c->var[0], c->cache1, c->cache2,
                            c->nv > 1 ? c->var[1] : NULL, c->B, c->C, c->L);
}

static void test_instnorm(void **state)
{
    (void)state;
    for (int affine = 0; affine < 2; affine++) {
        ms_nn_rng rng;
        ms_nn_rng_seed(&rng, 41 + (uint64_t)affine);
        fd_case c = {.name = affine ? "instnorm affine" : "instnorm", .forward = in_f,
                     .backward = in_b, .h = 1e-2, .rtol = 2e-3, .B = 3, .C = 2, .L = 11};
        size_t n = c.B * c.C * c.L;
        add_var(&c, "x", rnd(n, -2, 2, &rng), n);
        if (affine) {
            add_var(&c, "gamma", rnd(c.C, 0.5, 1.5, &rng), c.C);
            add_var(&c, "beta", rnd(c.C, -1, 1, &rng), c.C);
        }
        set_out(&c, n, &rng);
        c.cache1 = nn_zeros(c.B * c.C);
        c.cache2 = nn_zeros(c.B * c.C);
        fd_run(&c);
        fd_free(&c);
    }
}

/* ---- max pooling ---- */
static void mp_f(fd_case *c)
{
    ms_nn_maxpool1d_forward(c->out, c->icache, c->var[0], c->B, c->C, c->L, c->d.kernel,
                            c->d.stride, c->d.padding);
}
static void mp_b(fd_case *c)
{
    ms_nn_maxpool1d_backward(c->grad[0], c->r, c->icache, c->B, c->C, c->L, c->lo);
}

static void test_maxpool(void **state)
{
    (void)state;
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, 51);
    fd_case c = {.name = "maxpool k3 s2 p1", .forward = mp_f, .backward = mp_b, .h = 1e-2,
                 .rtol = 1e-3, .B = 3, .C = 2, .L = 13};
    c.d.kernel = 3;
    c.d.stride = 2;
    c.d.padding = 1;
    c.lo = ms_nn_maxpool1d_out_len(c.L, 3, 2, 1);
    size_t n = c.B * c.C * c.L;
    /* distinct values 0.1 apart: no ties within h */
    size_t *perm = calloc(n, sizeof *perm);
    assert_non_null(perm);
    for (size_t i = 0; i < n; i++) perm[i] = i;
    ms_nn_rng_shuffle(&rng, perm, n);
    float *x = nn_zeros(n);
    for (size_t i = 0; i < n; i++) x[i] = 0.1f * (float)perm[i] - 3.0f;
    free(perm);
    add_var(&c, "x", x, n);
    set_out(&c, c.B * c.C * c.lo, &rng);
    c.icache = ms_malloc_array("test.argmax", c.n_out, sizeof(int32_t));
    assert_non_null(c.icache);
    fd_run(&c);
    fd_free(&c);
}

/* ---- concatenation ---- */
static void cat_f(fd_case *c)
{
    const float *ins[2] = {c->var[0], c->var[1]};
    const size_t ch[2] = {2, 3};
    ms_nn_concat_forward(c->out, ins, ch, 2, c->B, c->L);
}
static void cat_b(fd_case *c)
{
    float *d[2] = {c->grad[0], c->grad[1]};
    const size_t ch[2] = {2, 3};
    ms_nn_concat_backward(d, c->r, ch, 2, c->B, c->L);
}

static void test_concat(void **state)
{
    (void)state;
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, 61);
    fd_case c = {.name = "concat", .forward = cat_f, .backward = cat_b, .h = 1e-2, .rtol = 1e-3,
                 .B = 3, .L = 4};
    add_var(&c, "a", rnd(3 * 2 * 4, -1, 1, &rng), 3 * 2 * 4);
    add_var(&c, "b", rnd(3 * 3 * 4, -1, 1, &rng), 3 * 3 * 4);
    set_out(&c, 3 * 5 * 4, &rng);
    fd_run(&c);
    fd_free(&c);
}

/* ---- losses: the loss itself is the scalar ---- */
static void check_loss(const char *name, int kind, uint64_t seed)
{
    /* kind 0: L1, 1: L2, 2: BCE */
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, seed);
    const size_t n = 3 * 10;
    float *p = rnd(n, kind == 2 ? 0.05 : -1, kind == 2 ? 0.95 : 1, &rng);
    float *t = rnd(n, kind == 2 ? 0.0 : -1, 1, &rng);
    float *w = rnd(n, 0.2, 2.0, &rng);
    w[4] = 0.0f;
    if (kind == 0)
        for (size_t i = 0; i < n; i++)
            if (fabsf(p[i] - t[i]) < 0.05f) p[i] += 0.1f; /* away from the kink */
    float *g = nn_zeros(n);
    const double sc = 1.0 / (double)n;
    if (kind == 0) ms_nn_l1_loss_backward(g, p, t, w, n, sc);
    if (kind == 1) ms_nn_l2_loss_backward(g, p, t, w, n, sc);
    if (kind == 2) ms_nn_bce_loss_backward(g, p, t, n, sc);
    double *num = calloc(n, sizeof(double));
    assert_non_null(num);
    for (size_t i = 0; i < n; i++) {
        float x0 = p[i];
        double d[2];
        for (int k = 0; k < 2; k++) {
            double h = k == 0 ? 1e-3 : 5e-4, l[2];
            for (int s = 0; s < 2; s++) {
                p[i] = (float)(x0 + (s ? -h : h));
                l[s] = kind == 0   ? ms_nn_l1_loss_forward(p, t, w, n, sc)
                       : kind == 1 ? ms_nn_l2_loss_forward(p, t, w, n, sc)
                                   : ms_nn_bce_loss_forward(p, t, n, sc);
            }
            p[i] = (float)(x0 + h);
            double hp = (double)p[i] - x0;
            p[i] = (float)(x0 - h);
            double hm = x0 - (double)p[i];
            d[k] = (l[0] - l[1]) / (hp + hm);
        }
        p[i] = x0;
        num[i] = (4.0 * d[1] - d[0]) / 3.0;
    }
    nn_check(g, num, n, 1e-3, name);
    free(num);
    ms_free(p);
    ms_free(t);
    ms_free(w);
    ms_free(g);
}

static void test_losses(void **state)
{
    (void)state;
    check_loss("weighted L1 vs finite differences", 0, 71);
    check_loss("weighted L2 vs finite differences", 1, 72);
    check_loss("BCE vs finite differences", 2, 73);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dense),    cmocka_unit_test(test_activations),
        cmocka_unit_test(test_conv1d),   cmocka_unit_test(test_convt1d),
        cmocka_unit_test(test_instnorm), cmocka_unit_test(test_maxpool),
        cmocka_unit_test(test_concat),   cmocka_unit_test(test_losses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
