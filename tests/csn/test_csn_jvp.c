/* test_csn_jvp.c: the forward-mode tangents of the synthetic -> observed transfer
 * (ms_csn_transfer_s2o_jvp) and of the instance norm (ms_nn_instnorm_jvp):
 *   - the instance norm's linearisation against central differences of an independent
 *     double-precision instance norm, and against its adjoint (ms_nn_instnorm_backward);
 *   - dot-product tests against the exact VJP, <u, J v> == <J^T u, v> per spectrum and
 *     direction, on the tiny architectures (pad, crop), on random small architectures and
 *     on the default (O'Briain) one; with a workspace smaller than B T, so that the tangent
 *     columns run in chunks that split a spectrum's directions;
 *   - J v against central differences of an independent double-precision forward of the
 *     transfer (tight), and of the library's float32 forward (loose: rounding and kinks),
 *     tiny and default architectures, random and smooth directions.
 * The tolerances are float32-tight: dropping the mean or the variance term of the instance
 * norm's linearisation, the leaky-ReLU slope, the 1/std of the standardisation or the zero
 * tangent of the D_sp branch fails the dot-product and reference tests. */
#include "csn_testlib.h"

#include "mstars/mem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CSN_EPS 1e-5 /* the instance norm's epsilon (PyTorch's default, csn_internal.h) */

static int verbose(void) { return getenv("MSTARS_NN_VERBOSE") != NULL; }

/* Random weights: xavier times gain, biases uniform in +-0.1. */
static void random_weights(ms_csn *net, uint64_t seed, float gain)
{
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, seed);
    csn_test_random_gen_weights(net, &rng, gain);
}

static double dot_abs(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += fabs((double)a[i] * b[i]);
    return s;
}

/* ------------------------------------------------------------------------------------- */
/* Instance norm */

/* y [L] = (x - mean) / sqrt(var + eps) g + beta in double (the reference) */
static void ref_instnorm(double *y, const double *x, size_t L, double g, double beta, double eps)
{
    double m = 0.0, v = 0.0;
    for (size_t t = 0; t < L; t++) m += x[t];
    m /= (double)L;
    for (size_t t = 0; t < L; t++) v += (x[t] - m) * (x[t] - m);
    v /= (double)L;
    for (size_t t = 0; t < L; t++) y[t] = (x[t] - m) / sqrt(v + eps) * g + beta;
}

static void test_instnorm_jvp(void **state)
{
    (void)state;
    const size_t B = 2, C = 3, L = 9, n = B * C * L;
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, 31);
    float *x = nn_zeros(n), *y = nn_zeros(n), *dx = nn_zeros(n), *dy = nn_zeros(n);
    float *u = nn_zeros(n), *gx = nn_zeros(n), *mean = nn_zeros(B * C), *rstd = nn_zeros(B * C);
    float gamma[3] = {1.3f, -0.7f, 0.4f}, beta[3] = {0.1f, 0.2f, -0.3f};
    nn_fill(x, n, -1.0, 2.0, &rng);
    for (size_t i = 0; i < L; i++) x[i] += 3.0f; /* one row with a large mean */
    nn_fill(dx, n, -1.0, 1.0, &rng);
    nn_fill(u, n, -1.0, 1.0, &rng);
    const float eps = 1e-5f;
    ms_nn_instnorm_forward(y, mean, rstd, x, gamma, beta, B, C, L, eps);
    ms_nn_instnorm_jvp(dy, dx, x, mean, rstd, gamma, B, C, L);
    /* central differences of the double reference, row by row */
    double xp[9], xm[9], yp[9], ym[9];
    const double h = 1e-5;
    for (size_t r = 0; r < B * C; r++) {
        for (size_t t = 0; t < L; t++) {
            xp[t] = (double)x[r * L + t] + h * dx[r * L + t];
            xm[t] = (double)x[r * L + t] - h * dx[r * L + t];
        }
        ref_instnorm(yp, xp, L, gamma[r % C], beta[r % C], eps);
        ref_instnorm(ym, xm, L, gamma[r % C], beta[r % C], eps);
        for (size_t t = 0; t < L; t++)
            assert_close(dy[r * L + t], (yp[t] - ym[t]) / (2.0 * h), 1e-4, 1e-5, "instnorm jvp vs fd");
    }
    /* adjoint: <u, J dx> == <J^T u, dx> */
    ms_nn_instnorm_backward(gx, NULL, NULL, u, x, mean, rstd, gamma, B, C, L);
    assert_close(csn_test_dot(u, dy, n), csn_test_dot(gx, dx, n), 0, 1e-6 * dot_abs(u, dy, n),
                 "instnorm adjoint");
    float *ptrs[] = {x, y, dx, dy, u, gx, mean, rstd};
    for (size_t i = 0; i < sizeof ptrs / sizeof *ptrs; i++) ms_free(ptrs[i]);
}

/* ------------------------------------------------------------------------------------- */
/* The transfer */

typedef struct {
    size_t B, T, P;
    float *x, *xo, *z_sp, *out, *dx, *jv, *u, *gx, *ut;
} case_bufs;

static void bufs_alloc(case_bufs *c, const ms_csn *net, size_t B, size_t T)
{
    memset(c, 0, sizeof *c);
    c->B = B;
    c->T = T;
    c->P = net->n_pix;
    const size_t n = B * c->P, nt = n * T;
    c->x = nn_zeros(n);
    c->xo = nn_zeros(n);
    c->out = nn_zeros(n);
    c->gx = nn_zeros(nt);
    c->ut = nn_zeros(n);
    c->z_sp = nn_zeros(B * ms_csn_z_sp_floats(net));
    c->dx = nn_zeros(nt);
    c->jv = nn_zeros(nt);
    c->u = nn_zeros(nt);
}

static void bufs_free(case_bufs *c)
{
    float *ptrs[] = {c->x, c->xo, c->z_sp, c->out, c->dx, c->jv, c->u, c->gx, c->ut};
    for (size_t i = 0; i < sizeof ptrs / sizeof *ptrs; i++) ms_free(ptrs[i]);
}

/* Spectra-like inputs (x: the synthetic spectra, xo: observed ones for z_sp) and random
 * tangents dx and cotangents u [B, T, n_pix]. */
static void bufs_fill(case_bufs *c, const ms_csn *net, ms_csn_ws *ws, ms_nn_rng *rng)
{
    const size_t n = c->B * c->P;
    nn_fill(c->x, n, 0.75, 1.05, rng);
    nn_fill(c->xo, n, 0.75, 1.05, rng);
    nn_fill(c->dx, n * c->T, -1.0, 1.0, rng);
    nn_fill(c->u, n * c->T, -1.0, 1.0, rng);
    assert_int_equal(ms_csn_encode_obs(net, ws, c->xo, c->B, c->z_sp, NULL), MS_OK);
}

/* <u_bt, J dx_bt> against <J^T u_bt, dx_bt> for every spectrum b and direction t; returns
 * the worst |difference| / sum |u J dx|. ws must hold B spectra; the JVP runs in chunks of
 * its capacity. */
static double dot_product_test(const ms_csn *net, ms_csn_ws *ws, case_bufs *c, double tol,
                               const char *what)
{
    const size_t B = c->B, T = c->T, P = c->P;
    assert_int_equal(ms_csn_transfer_s2o(net, ws, c->x, c->z_sp, B, c->out), MS_OK);
    /* the VJPs first: they leave gradients in the workspace buffers the JVP reuses */
    memset(c->gx, 0, B * T * P * sizeof(float));
    for (size_t t = 0; t < T; t++) {
        for (size_t b = 0; b < B; b++) memcpy(c->ut + b * P, c->u + (b * T + t) * P, P * sizeof(float));
        assert_int_equal(ms_csn_transfer_s2o_vjp(net, ws, c->ut, B, c->gx + t * B * P), MS_OK);
    }
    assert_int_equal(ms_csn_transfer_s2o_jvp(net, ws, c->dx, B, T, c->jv), MS_OK);
    double worst = 0.0;
    for (size_t t = 0; t < T; t++) {
        for (size_t b = 0; b < B; b++) {
            const float *ub = c->u + (b * T + t) * P, *jb = c->jv + (b * T + t) * P;
            const double lhs = csn_test_dot(ub, jb, P),
                         rhs = csn_test_dot(c->gx + (t * B + b) * P, c->dx + (b * T + t) * P, P);
            const double scale = dot_abs(ub, jb, P);
            assert_true(scale > 0.0);
            const double rel = fabs(lhs - rhs) / scale;
            worst = rel > worst ? rel : worst;
            char msg[160];
            snprintf(msg, sizeof msg, "%s: <u, J v> vs <J^T u, v>, spectrum %zu direction %zu", what, b, t);
            assert_close(lhs, rhs, 0, tol * scale, msg);
        }
    }
    if (verbose()) print_message("  %s: dot-product test worst %.2e (of sum |u J v|)\n", what, worst);
    return worst;
}

static void check_tiny(int crop)
{
    const size_t P = crop ? 140 : 180, B = 3, T = 3;
    ms_csn net;
    ms_cfg_csn k = csn_test_tiny_cfg(crop);
    assert_int_equal(ms_csn_init(&net, &k, P), MS_OK);
    random_weights(&net, 101 + (uint64_t)crop, 2.0f);
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, 7);
    /* a workspace of B spectra: the B T = 9 tangent columns run in chunks of 3 */
    ms_csn_ws *ws, *big;
    assert_int_equal(ms_csn_ws_alloc(&net, B, &ws), MS_OK);
    assert_int_equal(ms_csn_ws_alloc(&net, B * T, &big), MS_OK);
    case_bufs c;
    bufs_alloc(&c, &net, B, T);
    bufs_fill(&c, &net, ws, &rng);
    dot_product_test(&net, ws, &c, 2e-5, crop ? "tiny crop" : "tiny pad");
    /* chunking does not change the result: all columns in one GEMM */
    const size_t nt = B * T * P;
    float *jv1 = nn_zeros(nt);
    memcpy(jv1, c.jv, nt * sizeof(float));
    assert_int_equal(ms_csn_transfer_s2o(&net, big, c.x, c.z_sp, B, c.out), MS_OK);
    assert_int_equal(ms_csn_transfer_s2o_jvp(&net, big, c.dx, B, T, c.jv), MS_OK);
    double amax = 0.0;
    for (size_t i = 0; i < nt; i++) amax = fmax(amax, fabs(c.jv[i]));
    for (size_t i = 0; i < nt; i++) assert_close(jv1[i], c.jv[i], 0, 1e-5 * amax, "chunked vs one GEMM");
    /* in place (dout = dx), as the fit uses it */
    memcpy(jv1, c.dx, nt * sizeof(float));
    assert_int_equal(ms_csn_transfer_s2o_jvp(&net, big, jv1, B, T, jv1), MS_OK);
    for (size_t i = 0; i < nt; i++) assert_true(jv1[i] == c.jv[i]);
    /* crop: the pixels outside the window pass the tangent through */
    if (crop)
        for (size_t p = 0; p < P; p++)
            if (p < net.offset || p - net.offset >= net.n_len) assert_true(c.jv[p] == c.dx[p]);
    /* a batch other than the last forward's, or no directions, is refused */
    assert_int_equal(ms_csn_transfer_s2o_jvp(&net, big, c.dx, B - 1, T, c.jv), MS_EINVAL);
    assert_int_equal(ms_csn_transfer_s2o_jvp(&net, big, c.dx, B, 0, c.jv), MS_EINVAL);
    ms_free(jv1);
    bufs_free(&c);
    ms_csn_ws_free(ws);
    ms_csn_ws_free(big);
    ms_csn_free(&net);
}

static void test_dot_tiny_pad(void **state)
{
    (void)state;
    check_tiny(0);
}

static void test_dot_tiny_crop(void **state)
{
    (void)state;
    check_tiny(1);
}

static void test_dot_random_architectures(void **state)
{
    (void)state;
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, 2024);
    int done = 0;
    for (int trial = 0; trial < 40 && done < 8; trial++) {
        ms_cfg_csn k = csn_test_tiny_cfg(0);
        int nd = 1 + (int)ms_nn_rng_below(&rng, 3), ns = 1 + (int)ms_nn_rng_below(&rng, 3);
        double df[4], ds[4], sf[4], ss[4], pf[4];
        for (int i = 0; i < nd; i++)
            df[i] = 2 + (double)ms_nn_rng_below(&rng, 4), ds[i] = 1 + (double)ms_nn_rng_below(&rng, 3);
        for (int i = 0; i < ns; i++)
            sf[i] = 2 + (double)ms_nn_rng_below(&rng, 5), ss[i] = 1 + (double)ms_nn_rng_below(&rng, 3),
            pf[i] = 1 + (double)ms_nn_rng_below(&rng, 3);
        csn_test_set_list(&k.dom_filters, nd, df);
        csn_test_set_list(&k.dom_strides, nd, ds);
        csn_test_set_list(&k.sh_filters, ns, sf);
        csn_test_set_list(&k.sh_strides, ns, ss);
        csn_test_set_list(&k.sp_filters, ns, pf);
        csn_test_set_list(&k.sp_strides, ns, ss);
        k.kernel = 1 + (long)ms_nn_rng_below(&rng, 6);
        k.z_shared = 1 + (long)ms_nn_rng_below(&rng, 4);
        k.z_split = 1 + (long)ms_nn_rng_below(&rng, 3);
        k.leaky_slope = 0.05 + 0.3 * ms_nn_rng_uniform(&rng);
        k.exact_sums = (int)ms_nn_rng_below(&rng, 2);
        snprintf(k.length_mode, sizeof k.length_mode, "%s", ms_nn_rng_below(&rng, 2) ? "crop" : "pad");
        const size_t P = 60 + (size_t)ms_nn_rng_below(&rng, 300);
        ms_csn net;
        if (ms_csn_init(&net, &k, P) != MS_OK) continue; /* no usable length: another draw */
        random_weights(&net, 500 + (uint64_t)trial, 1.5f);
        const size_t B = 1 + (size_t)ms_nn_rng_below(&rng, 3), T = 1 + (size_t)ms_nn_rng_below(&rng, 4);
        const size_t cap = 1 + (size_t)ms_nn_rng_below(&rng, B * T);
        ms_csn_ws *ws;
        /* the workspace must hold the B spectra of the forward; the JVP's chunks follow it */
        assert_int_equal(ms_csn_ws_alloc(&net, cap > B ? cap : B, &ws), MS_OK);
        case_bufs c;
        bufs_alloc(&c, &net, B, T);
        bufs_fill(&c, &net, ws, &rng);
        char what[160];
        snprintf(what, sizeof what, "random architecture %d (%s, %zu px, k %ld, %d + %d layers, B %zu, T %zu)",
                 trial, k.length_mode, P, k.kernel, nd, ns, B, T);
        dot_product_test(&net, ws, &c, 2e-5, what);
        bufs_free(&c);
        ms_csn_ws_free(ws);
        ms_csn_free(&net);
        done++;
    }
    assert_true(done >= 6);
}

/* The default architecture at 2901 pixels (pad to 3071), random weights. */
static void default_net(ms_csn *net, uint64_t seed)
{
    ms_config cfg;
    assert_int_equal(ms_config_defaults(&cfg), MS_OK);
    cfg.csn.flux_mean = 0.9;
    cfg.csn.flux_std = 0.08;
    assert_int_equal(ms_csn_init(net, &cfg.csn, 2901), MS_OK);
    random_weights(net, seed, 1.0f);
}

static void test_dot_default(void **state)
{
    (void)state;
    ms_csn net;
    default_net(&net, 77);
    /* the fit's 4 labels; chunks of 3 tangent columns: 3 + 3 + 2 */
    const size_t B = 2, T = 4;
    ms_csn_ws *ws;
    assert_int_equal(ms_csn_ws_alloc(&net, 3, &ws), MS_OK);
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, 8);
    case_bufs c;
    bufs_alloc(&c, &net, B, T);
    bufs_fill(&c, &net, ws, &rng);
    dot_product_test(&net, ws, &c, 2e-5, "default architecture");
    bufs_free(&c);
    ms_csn_ws_free(ws);
    ms_csn_free(&net);
}

/* ------------------------------------------------------------------------------------- */
/* Against central differences of the forward.
 *
 * Central differences of the float32 forward itself are limited by its rounding (~1e-6 of
 * the flux against differences of h |J v|) and by the leaky-ReLU kinks that a larger step
 * crosses: a few per cent at best on these random networks. The tight check therefore
 * differences an independent double-precision forward of the same transfer (direct loops
 * over the PyTorch layouts, written here), where h = 1e-7 leaves neither problem; the
 * float forward's own differences are checked too, more loosely. */

/* out [c_out, l_out] = layer(in [c_in, l_in]), in double. */
static void ref_layer(const ms_csn_layer *ly, const ms_nn_params *p, const double *in, double *out,
                      float slope)
{
    const float *w = ms_nn_param(p, ly->iw), *bias = ms_nn_param(p, ly->ib);
    const size_t ci = ly->c_in, co = ly->c_out, k = ly->kernel, s = ly->stride;
    const size_t li = ly->l_in, lo = ly->l_out;
    for (size_t o = 0; o < co; o++)
        for (size_t t = 0; t < lo; t++) out[o * lo + t] = bias[o];
    for (size_t o = 0; o < co; o++)
        for (size_t i = 0; i < ci; i++)
            for (size_t kk = 0; kk < k; kk++) {
                if (ly->kind == MS_CSN_CONVT) { /* w [c_in, c_out, k] */
                    const double wv = w[(i * co + o) * k + kk];
                    for (size_t t = 0; t < li; t++) out[o * lo + t * s + kk] += wv * in[i * li + t];
                } else { /* w [c_out, c_in, k]; PW: k = s = 1 */
                    const double wv = w[(o * ci + i) * k + kk];
                    for (size_t t = 0; t < lo; t++) out[o * lo + t] += wv * in[i * li + t * s + kk];
                }
            }
    if (ly->act)
        for (size_t q = 0; q < co * lo; q++)
            if (!(out[q] > 0.0)) out[q] *= slope;
}

/* out [c_out, l_out] = stack(in), in double; a, b scratch of the largest layer output. */
static void ref_stack(const ms_csn_stack *st, const ms_nn_params *p, const double *in, double *out,
                      double *a, double *b, float slope)
{
    const double *src = in;
    for (size_t i = 0; i < st->n_layers; i++) {
        double *dst = (i + 1 == st->n_layers && !st->norm) ? out : (i % 2 ? b : a);
        ref_layer(&st->layer[i], p, src, dst, slope);
        src = dst;
    }
    if (st->norm)
        for (size_t c = 0; c < st->c_out; c++)
            ref_instnorm(out + c * st->l_out, src + c * st->l_out, st->l_out, 1.0, 0.0, CSN_EPS);
}

/* out [n_pix] = s2o(x [n_pix]; z_sp [z_sp, L]) for one spectrum, in double. */
static void ref_s2o(const ms_csn *net, const double *x, const float *z_sp, double *out)
{
    const ms_csn_stack *bk = net->block;
    const size_t N = net->n_len, P = net->n_pix, big = 200000;
    const size_t cd = bk[MS_CSN_D_SH].c_out, cp = bk[MS_CSN_D_SP].c_out, lh = bk[MS_CSN_D_SH].l_out;
    double *xi = ms_calloc("t.ref", 6 * big, sizeof(double));
    assert_non_null(xi);
    double *h = xi + big, *z = xi + 2 * big, *cat = xi + 3 * big, *a = xi + 4 * big, *b = xi + 5 * big;
    assert_true(N <= big && (cd + cp) * lh <= big);
    for (size_t i = 0; i < MS_CSN_N_BLOCKS; i++)
        for (size_t l = 0; l < bk[i].n_layers; l++)
            assert_true(bk[i].layer[l].c_out * bk[i].layer[l].l_out <= big);
    for (size_t j = 0; j < N; j++) {
        const size_t pix = net->crop ? j + net->offset : j - net->offset;
        const int inside = net->crop || (j >= net->offset && j - net->offset < P);
        xi[j] = inside ? (x[pix] - net->mean) / net->std : 0.0;
    }
    ref_stack(&bk[MS_CSN_E_SYNTH], &net->gen, xi, h, a, b, net->slope);
    ref_stack(&bk[MS_CSN_E_SH], &net->gen, h, z, a, b, net->slope);
    ref_stack(&bk[MS_CSN_D_SH], &net->gen, z, cat, a, b, net->slope); /* channels 0..cd-1 */
    const size_t zn = ms_csn_z_sp_floats(net);
    for (size_t i = 0; i < zn; i++) z[i] = z_sp[i];
    ref_stack(&bk[MS_CSN_D_SP], &net->gen, z, cat + cd * lh, a, b, net->slope);
    ref_stack(&bk[MS_CSN_G_OBS], &net->gen, cat, xi, a, b, net->slope);
    for (size_t p = 0; p < P; p++) {
        if (!net->crop)
            out[p] = xi[p + net->offset] * net->std + net->mean;
        else if (p >= net->offset && p - net->offset < N)
            out[p] = xi[p - net->offset] * net->std + net->mean;
        else
            out[p] = x[p];
    }
    ms_free(xi);
}

/* Smooth directions (the fit's tangents are derivative spectra, not pixel noise): four
 * random sinusoids of the lowest frequencies. */
static void smooth_direction(float *d, size_t P, ms_nn_rng *rng)
{
    double a[4], ph[4];
    for (int q = 0; q < 4; q++)
        a[q] = ms_nn_rng_uniform(rng) * 2.0 - 1.0, ph[q] = 6.283185307 * ms_nn_rng_uniform(rng);
    for (size_t p = 0; p < P; p++) {
        double v = 0.0;
        for (int q = 0; q < 4; q++) v += a[q] * sin(6.283185307 * (q + 1) * (double)p / (double)P + ph[q]);
        d[p] = (float)v;
    }
}

/* J v of the library (float) against central differences of the double reference (step
 * h_ref) and of the library's forward (step h_lib, with the realised input difference as
 * the tangent), both as relative L2 norms per spectrum and direction. */
static void fd_test(const ms_csn *net, ms_csn_ws *ws, case_bufs *c, int smooth, double tol_ref,
                    double h_lib, double tol_lib, const char *what, ms_nn_rng *rng)
{
    const size_t B = c->B, T = c->T, P = c->P, n = B * P;
    if (smooth)
        for (size_t r = 0; r < B * T; r++) smooth_direction(c->dx + r * P, P, rng);
    assert_int_equal(ms_csn_transfer_s2o(net, ws, c->x, c->z_sp, B, c->out), MS_OK);
    assert_int_equal(ms_csn_transfer_s2o_jvp(net, ws, c->dx, B, T, c->jv), MS_OK);
    double *xd = ms_calloc("t.xd", 4 * P, sizeof(double)), *fp = xd + P, *fm = xd + 2 * P, *r0 = xd + 3 * P;
    float *xp = nn_zeros(n), *xm = nn_zeros(n), *gp = nn_zeros(n), *gm = nn_zeros(n);
    float *du = nn_zeros(n), *jd = nn_zeros(n);
    assert_non_null(xd);
    const size_t zf = ms_csn_z_sp_floats(net);
    double worst_ref = 0.0, worst_fwd = 0.0, worst_lib = 0.0;
    for (size_t b = 0; b < B; b++) {
        /* the reference agrees with the library's forward */
        for (size_t p = 0; p < P; p++) xd[p] = c->x[b * P + p];
        ref_s2o(net, xd, c->z_sp + b * zf, r0);
        double e2 = 0.0, f2 = 0.0;
        for (size_t p = 0; p < P; p++) {
            e2 += (r0[p] - c->out[b * P + p]) * (r0[p] - c->out[b * P + p]);
            f2 += r0[p] * r0[p];
        }
        worst_fwd = fmax(worst_fwd, sqrt(e2 / f2));
        assert_close(sqrt(e2 / f2), 0.0, 0, 1e-5, "double reference vs library forward");
        for (size_t t = 0; t < T; t++) {
            const float *d = c->dx + (b * T + t) * P, *jv = c->jv + (b * T + t) * P;
            const double h = 1e-7;
            for (size_t p = 0; p < P; p++) xd[p] = (double)c->x[b * P + p] + h * d[p];
            ref_s2o(net, xd, c->z_sp + b * zf, fp);
            for (size_t p = 0; p < P; p++) xd[p] = (double)c->x[b * P + p] - h * d[p];
            ref_s2o(net, xd, c->z_sp + b * zf, fm);
            e2 = f2 = 0.0;
            for (size_t p = 0; p < P; p++) {
                const double fd = (fp[p] - fm[p]) / (2.0 * h);
                e2 += (jv[p] - fd) * (jv[p] - fd);
                f2 += fd * fd;
            }
            assert_true(f2 > 0.0);
            worst_ref = fmax(worst_ref, sqrt(e2 / f2));
            char msg[160];
            snprintf(msg, sizeof msg, "%s: J v vs differences of the double reference, spectrum %zu direction %zu",
                     what, b, t);
            assert_close(sqrt(e2 / f2), 0.0, 0, tol_ref, msg);
        }
    }
    /* the library's own forward, float32, all spectra at once */
    for (size_t t = 0; t < T; t++) {
        for (size_t b = 0; b < B; b++)
            for (size_t p = 0; p < P; p++) {
                const double x = c->x[b * P + p], d = c->dx[(b * T + t) * P + p];
                xp[b * P + p] = (float)(x + h_lib * d);
                xm[b * P + p] = (float)(x - h_lib * d);
                du[b * P + p] = xp[b * P + p] - xm[b * P + p];
            }
        assert_int_equal(ms_csn_transfer_s2o(net, ws, xp, c->z_sp, B, gp), MS_OK);
        assert_int_equal(ms_csn_transfer_s2o(net, ws, xm, c->z_sp, B, gm), MS_OK);
        assert_int_equal(ms_csn_transfer_s2o(net, ws, c->x, c->z_sp, B, c->out), MS_OK);
        assert_int_equal(ms_csn_transfer_s2o_jvp(net, ws, du, B, 1, jd), MS_OK);
        for (size_t b = 0; b < B; b++) {
            double e2 = 0.0, f2 = 0.0;
            for (size_t p = 0; p < P; p++) {
                const double fd = (double)gp[b * P + p] - gm[b * P + p];
                e2 += (jd[b * P + p] - fd) * (jd[b * P + p] - fd);
                f2 += fd * fd;
            }
            worst_lib = fmax(worst_lib, sqrt(e2 / f2));
            char msg[160];
            snprintf(msg, sizeof msg, "%s: J v vs differences of the float forward, spectrum %zu direction %zu",
                     what, b, t);
            assert_close(sqrt(e2 / f2), 0.0, 0, tol_lib, msg);
        }
    }
    if (verbose())
        print_message("  %s: forward vs double reference %.1e; J v vs central differences of the "
                      "reference %.2e, of the float forward (h %.0e) %.2e (relative L2)\n",
                      what, worst_fwd, worst_ref, h_lib, worst_lib);
    ms_free(xd);
    float *ptrs[] = {xp, xm, gp, gm, du, jd};
    for (size_t i = 0; i < sizeof ptrs / sizeof *ptrs; i++) ms_free(ptrs[i]);
}

static void test_fd_tiny(void **state)
{
    (void)state;
    for (int crop = 0; crop < 2; crop++) {
        ms_csn net;
        ms_cfg_csn k = csn_test_tiny_cfg(crop);
        const size_t P = crop ? 140 : 180, B = 2, T = 3;
        assert_int_equal(ms_csn_init(&net, &k, P), MS_OK);
        random_weights(&net, 201 + (uint64_t)crop, 1.0f);
        ms_csn_ws *ws;
        assert_int_equal(ms_csn_ws_alloc(&net, B, &ws), MS_OK);
        ms_nn_rng rng;
        ms_nn_rng_seed(&rng, 9);
        case_bufs c;
        bufs_alloc(&c, &net, B, T);
        bufs_fill(&c, &net, ws, &rng);
        fd_test(&net, ws, &c, 0, 5e-5, 1e-4, 0.2,
                crop ? "tiny crop, random directions" : "tiny pad, random directions", &rng);
        fd_test(&net, ws, &c, 1, 5e-5, 3e-4, 0.1,
                crop ? "tiny crop, smooth directions" : "tiny pad, smooth directions", &rng);
        bufs_free(&c);
        ms_csn_ws_free(ws);
        ms_csn_free(&net);
    }
}

static void test_fd_default(void **state)
{
    (void)state;
    ms_csn net;
    default_net(&net, 78);
    const size_t B = 1, T = 2;
    ms_csn_ws *ws;
    assert_int_equal(ms_csn_ws_alloc(&net, B, &ws), MS_OK);
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, 10);
    case_bufs c;
    bufs_alloc(&c, &net, B, T);
    bufs_fill(&c, &net, ws, &rng);
    fd_test(&net, ws, &c, 1, 5e-5, 1e-4, 0.1, "default architecture, smooth directions", &rng);
    bufs_free(&c);
    ms_csn_ws_free(ws);
    ms_csn_free(&net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_instnorm_jvp),    cmocka_unit_test(test_dot_tiny_pad),
        cmocka_unit_test(test_dot_tiny_crop),   cmocka_unit_test(test_dot_random_architectures),
        cmocka_unit_test(test_dot_default),     cmocka_unit_test(test_fd_tiny),
        cmocka_unit_test(test_fd_default),
    };
    return cmocka_run_group_tests_name("csn_jvp", tests, NULL, NULL);
}
