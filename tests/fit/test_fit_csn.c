/* test_fit_csn.c: the observed-domain model CSN_s2o(Payne(x); z_sp) (ms_fit_model_csn)
 * with a tiny random Cycle-StarNet and a tiny Payne (fit_testlib.h): its vjp against
 * finite differences of its eval, its exact (forward-mode) Jacobian against the vjp (J^T v
 * == vjp(v)) and against finite differences of its eval column by column, noiseless
 * recovery of the labels from a nearby start, and batched == one-by-one.
 *
 * Noiseless observations must be self-consistent: F = CSN_s2o(P(y); z_sp(F)) with
 * z_sp(F) = E_sp(E_obs(F)). They are made by the fixed-point iteration F <- s2o(P, z_sp(F))
 * from F = P; the D_sp weights are scaled down so that the map contracts quickly. */
#include "fit_testlib.h"

#include "mstars/csn.h"
#include "mstars/mem.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define N_PIX TM_NPIX
#define NS 6 /* spectra */

static void set_list(ms_cfg_list *l, int n, const double *v)
{
    l->n = n;
    for (int i = 0; i < n; i++) l->v[i] = v[i];
}

/* a tiny CSN (as tests/csn/csn_testlib.c, pad mode) with random weights */
static void tiny_csn(ms_csn *net)
{
    ms_config c;
    assert_int_equal(ms_config_defaults(&c), MS_OK);
    ms_cfg_csn k = c.csn;
    const double dom_f[] = {3, 4}, dom_s[] = {2, 2}, sh_f[] = {5, 6, 6}, sp_f[] = {3, 3, 2};
    const double two3[] = {2, 2, 2}, dx_f[] = {2, 3}, dx_s[] = {2, 2}, dz_f[] = {3, 4};
    set_list(&k.dom_filters, 2, dom_f);
    set_list(&k.dom_strides, 2, dom_s);
    set_list(&k.sh_filters, 3, sh_f);
    set_list(&k.sh_strides, 3, two3);
    set_list(&k.sp_filters, 3, sp_f);
    set_list(&k.sp_strides, 3, two3);
    set_list(&k.dis_x_filters, 2, dx_f);
    set_list(&k.dis_x_strides, 2, dx_s);
    set_list(&k.dis_z_filters, 2, dz_f);
    k.kernel = 3;
    k.dis_kernel = 3;
    k.z_shared = 3;
    k.z_split = 2;
    k.leaky_slope = 0.1;
    snprintf(k.length_mode, sizeof k.length_mode, "pad");
    k.flux_mean = 0.9;
    k.flux_std = 0.08;
    assert_int_equal(ms_csn_init(net, &k, N_PIX), MS_OK);
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, 4242);
    ms_csn_init_weights(net, &rng);
    const ms_csn_stack *s = &net->block[MS_CSN_D_SP];
    for (size_t l = 0; l < s->n_layers; l++) {
        float *w = ms_nn_param(&net->gen, s->layer[l].iw);
        for (size_t i = 0; i < net->gen.t[s->layer[l].iw].size; i++) w[i] *= 0.5f;
    }
}

typedef struct {
    ms_emulator e;
    ms_csn net;
    double x[NS * TM_D];     /* truth, scaled */
    float flux[NS * N_PIX], ivar[NS * N_PIX];
} fixture;

static fixture *fx_make(void)
{
    fixture *F = ms_calloc("t.fx", 1, sizeof *F);
    assert_non_null(F);
    tm_payne_make(&F->e, TM_D, 32, 11);
    tiny_csn(&F->net);
    ms_nn_rng r;
    ms_nn_rng_seed(&r, 77);
    for (size_t i = 0; i < NS; i++) tm_random_x(&r, 0.3, TM_D, F->x + i * TM_D);
    /* P(y), then the fixed point F = s2o(P, z_sp(F)) */
    ms_fit_model emu;
    assert_int_equal(ms_fit_model_emulator(&F->e, NS, &emu), MS_OK);
    float *P = ms_malloc_array("t.P", NS * N_PIX, sizeof(float));
    float *nf = ms_malloc_array("t.nf", NS * N_PIX, sizeof(float));
    float *z = ms_malloc_array("t.z", NS * ms_csn_z_sp_floats(&F->net), sizeof(float));
    ms_csn_ws *ws;
    assert_true(P && nf && z);
    assert_int_equal(ms_csn_ws_alloc(&F->net, NS, &ws), MS_OK);
    assert_int_equal(emu.eval(emu.ctx, NS, NULL, F->x, P, NULL), MS_OK);
    memcpy(F->flux, P, sizeof F->flux);
    double change = 0.0;
    for (int it = 0; it < 200; it++) {
        assert_int_equal(ms_csn_encode_obs(&F->net, ws, F->flux, NS, z, NULL), MS_OK);
        assert_int_equal(ms_csn_transfer_s2o(&F->net, ws, P, z, NS, nf), MS_OK);
        change = 0.0;
        for (size_t i = 0; i < NS * N_PIX; i++) change = fmax(change, fabs((double)nf[i] - F->flux[i]));
        memcpy(F->flux, nf, sizeof F->flux);
        if (change == 0.0) break;
    }
    double diff = 0.0;
    for (size_t i = 0; i < NS * N_PIX; i++) diff = fmax(diff, fabs((double)P[i] - F->flux[i]));
    print_message("    fixed point: last change %.2e; |s2o(P) - P| up to %.3f\n", change, diff);
    assert_true(change < 1e-6);
    for (size_t i = 0; i < NS * N_PIX; i++) F->ivar[i] = 1e4f;
    ms_csn_ws_free(ws);
    ms_free(P);
    ms_free(nf);
    ms_free(z);
    ms_fit_model_free(&emu);
    return F;
}

static void fx_free(fixture *F)
{
    ms_csn_free(&F->net);
    ms_emulator_free(&F->e);
    ms_free(F);
}

/* (a) vjp == finite differences of eval; the Jacobian columns agree with the vjp */
static void test_csn_model_gradient(void **state)
{
    (void)state;
    fixture *F = fx_make();
    ms_fit_model m;
    assert_int_equal(ms_fit_model_csn(&F->e, &F->net, 4, &m), MS_OK);
    assert_int_equal(m.per_spectrum, 1);
    assert_int_equal(m.n_labels, TM_D);
    assert_string_equal(m.names[0], "teff");
    assert_int_equal(m.begin(m.ctx, NS, F->flux, F->ivar, N_PIX), MS_OK);
    /* rows for spectra 4, 1, 3 at points near their truths */
    const size_t ids[3] = {4, 1, 3}, B = 3;
    double x[3 * TM_D];
    for (size_t b = 0; b < B; b++)
        for (size_t j = 0; j < TM_D; j++) x[b * TM_D + j] = F->x[ids[b] * TM_D + j] + 0.02 * ((double)j - 1.5);
    float *fl = ms_malloc_array("t.fl", B * N_PIX, sizeof(float)), *fp = ms_malloc_array("t.fp", B * N_PIX, sizeof(float));
    float *fm = ms_malloc_array("t.fm", B * N_PIX, sizeof(float)), *v = ms_malloc_array("t.v", B * N_PIX, sizeof(float));
    float *J = ms_malloc_array("t.J", B * TM_D * N_PIX, sizeof(float));
    assert_true(fl && fp && fm && v && J);
    ms_nn_rng r;
    ms_nn_rng_seed(&r, 5);
    for (size_t i = 0; i < B * N_PIX; i++) v[i] = (float)ms_nn_rng_normal(&r);
    assert_int_equal(m.eval(m.ctx, B, ids, x, fl, J), MS_OK);
    assert_int_equal(m.vjp(m.ctx, B, v, (double[3 * TM_D]){0}), MS_EINVAL); /* no plain eval */
    memcpy(fp, fl, B * N_PIX * sizeof(float));
    assert_int_equal(m.eval(m.ctx, B, ids, x, fl, NULL), MS_OK);
    for (size_t i = 0; i < B * N_PIX; i++) assert_close(fp[i], fl[i], 1e-6, 1e-6, "flux with and without Jacobian");
    double gx[3 * TM_D];
    assert_int_equal(m.vjp(m.ctx, B, v, gx), MS_OK);
    /* the Jacobian is the exact transpose of the vjp: J^T v == vjp(v) to float rounding */
    double worst_t = 0.0;
    for (size_t b = 0; b < B; b++)
        for (size_t j = 0; j < TM_D; j++) {
            double jv = 0.0, sc = 0.0;
            for (size_t p = 0; p < N_PIX; p++) {
                jv += (double)J[(b * TM_D + j) * N_PIX + p] * v[b * N_PIX + p];
                sc += fabs((double)J[(b * TM_D + j) * N_PIX + p] * v[b * N_PIX + p]);
            }
            worst_t = fmax(worst_t, fabs(jv - gx[b * TM_D + j]) / sc);
            assert_close(jv, gx[b * TM_D + j], 0, 1e-5 * sc, "Jacobian^T v vs vjp");
        }
    /* exact chain rule: gx_j == (v . dCSN/dP) . dP/dx_j with the CSN's own vjp and the
     * Payne's forward-mode Jacobian */
    {
        ms_fit_model emu;
        assert_int_equal(ms_fit_model_emulator(&F->e, B, &emu), MS_OK);
        const size_t zf = ms_csn_z_sp_floats(&F->net);
        float *obs = ms_malloc_array("t.obs", B * N_PIX, sizeof(float)), *z = ms_malloc_array("t.z", B * zf, sizeof(float));
        float *gP = ms_calloc("t.gP", B * N_PIX, sizeof(float));
        assert_true(obs && z && gP);
        for (size_t b = 0; b < B; b++) memcpy(obs + b * N_PIX, F->flux + ids[b] * N_PIX, N_PIX * sizeof(float));
        ms_csn_ws *ws;
        assert_int_equal(ms_csn_ws_alloc(&F->net, B, &ws), MS_OK);
        assert_int_equal(ms_csn_encode_obs(&F->net, ws, obs, B, z, NULL), MS_OK);
        assert_int_equal(emu.eval(emu.ctx, B, NULL, x, fp, J), MS_OK); /* P, dP/dx */
        assert_int_equal(ms_csn_transfer_s2o(&F->net, ws, fp, z, B, fm), MS_OK);
        for (size_t i = 0; i < B * N_PIX; i++) assert_close(fm[i], fl[i], 1e-6, 1e-6, "flux");
        assert_int_equal(ms_csn_transfer_s2o_vjp(&F->net, ws, v, B, gP), MS_OK);
        for (size_t b = 0; b < B; b++)
            for (size_t j = 0; j < TM_D; j++) {
                double ref = 0.0, sc = 0.0;
                for (size_t p = 0; p < N_PIX; p++) {
                    ref += (double)gP[b * N_PIX + p] * J[(b * TM_D + j) * N_PIX + p];
                    sc += fabs((double)gP[b * N_PIX + p] * J[(b * TM_D + j) * N_PIX + p]);
                }
                assert_close(gx[b * TM_D + j], ref, 0, 1e-4 * sc, "vjp vs chain rule");
            }
        ms_csn_ws_free(ws);
        ms_free(obs);
        ms_free(z);
        ms_free(gP);
        ms_fit_model_free(&emu);
        /* the model's Jacobian again (J was overwritten) */
        assert_int_equal(m.eval(m.ctx, B, ids, x, fp, J), MS_OK);
        assert_int_equal(m.eval(m.ctx, B, ids, x, fl, NULL), MS_OK);
    }
    /* Richardson-extrapolated central differences: the random network is strongly curved
     * and has leaky-ReLU kinks near 1e-3, and float32 rounding limits small steps, so these
     * checks are loose (1e-2 of sum |v dflux|; Jacobian columns below); the chain-rule
     * checks above are the tight ones */
    const double h = 2e-3;
    double worst = 0.0, worst_col = 0.0;
    float *fdc = ms_calloc("t.fdc", 2 * B * N_PIX, sizeof(float)); /* [2 steps, B, N_PIX] */
    assert_non_null(fdc);
    for (size_t j = 0; j < TM_D; j++) {
        double fd[2][3], sc[3] = {0.0, 0.0, 0.0};
        for (int q = 0; q < 2; q++) {
            const double hq = q ? h / 2.0 : h;
            double xp[3 * TM_D], xm[3 * TM_D];
            memcpy(xp, x, sizeof xp);
            memcpy(xm, x, sizeof xm);
            for (size_t b = 0; b < B; b++) xp[b * TM_D + j] += hq, xm[b * TM_D + j] -= hq;
            assert_int_equal(m.eval(m.ctx, B, ids, xp, fp, NULL), MS_OK);
            assert_int_equal(m.eval(m.ctx, B, ids, xm, fm, NULL), MS_OK);
            for (size_t b = 0; b < B; b++) {
                fd[q][b] = 0.0;
                for (size_t p = 0; p < N_PIX; p++) {
                    const double d = ((double)fp[b * N_PIX + p] - fm[b * N_PIX + p]) / (2.0 * hq);
                    fdc[(q * B + b) * N_PIX + p] = (float)d;
                    fd[q][b] += d * v[b * N_PIX + p];
                    if (q == 0) sc[b] += fabs(d * v[b * N_PIX + p]);
                }
            }
        }
        for (size_t b = 0; b < B; b++) {
            const double ref = (4.0 * fd[1][b] - fd[0][b]) / 3.0;
            worst = fmax(worst, fabs(gx[b * TM_D + j] - ref) / sc[b]);
            assert_close(gx[b * TM_D + j], ref, 0, 1e-2 * sc[b], "vjp vs finite differences");
            /* the whole Jacobian column against the differences at h/2: a check of the
             * wiring (scaled-label units, the [B, D, n_pix] layout, each row's own z_sp),
             * whose errors would be of order 1; differences at h and h/2 disagree with
             * each other by 2-7% on this network, so the tolerance is 0.15 */
            double e2 = 0.0, f2 = 0.0;
            for (size_t p = 0; p < N_PIX; p++) {
                const double d = fdc[(B + b) * N_PIX + p];
                e2 += ((double)J[(b * TM_D + j) * N_PIX + p] - d) * ((double)J[(b * TM_D + j) * N_PIX + p] - d);
                f2 += d * d;
            }
            assert_true(f2 > 0.0);
            worst_col = fmax(worst_col, sqrt(e2 / f2));
            assert_close(sqrt(e2 / f2), 0.0, 0, 0.15, "Jacobian column vs finite differences");
        }
    }
    ms_free(fdc);
    print_message("    CSN model: vjp vs central differences %.1e, Jacobian^T v vs vjp %.1e (of sum "
                  "|.|); Jacobian columns vs central differences %.1e (relative L2)\n",
                  worst, worst_t, worst_col);
    /* rows do not depend on the batch: spectrum 1 alone (and its Jacobian: in the batch of
     * 3, its 4 directions ran in the CSN's chunks of 4 tangent columns split 3 + 1) */
    float *one = ms_malloc_array("t.one", N_PIX, sizeof(float));
    float *Jone = ms_malloc_array("t.Jone", TM_D * N_PIX, sizeof(float));
    assert_true(one && Jone);
    assert_int_equal(m.eval(m.ctx, 1, &ids[1], x + TM_D, one, Jone), MS_OK);
    double jmax = 0.0, jd = 0.0;
    for (size_t i = 0; i < TM_D * N_PIX; i++) {
        jmax = fmax(jmax, fabs((double)J[TM_D * N_PIX + i]));
        jd = fmax(jd, fabs((double)Jone[i] - J[TM_D * N_PIX + i]));
    }
    assert_true(jd <= 1e-5 * jmax);
    ms_free(Jone);
    assert_int_equal(m.eval(m.ctx, 1, &ids[1], x + TM_D, one, NULL), MS_OK);
    assert_int_equal(m.eval(m.ctx, B, ids, x, fl, NULL), MS_OK);
    double dd = 0.0;
    for (size_t p = 0; p < N_PIX; p++) dd = fmax(dd, fabs((double)one[p] - fl[N_PIX + p]));
    assert_true(dd < 1e-5);
    /* errors */
    const size_t bad = NS;
    assert_int_equal(m.eval(m.ctx, 1, &bad, x, one, NULL), MS_EINVAL);
    assert_int_equal(m.eval(m.ctx, 5, ids, x, one, NULL), MS_EINVAL);
    assert_int_equal(m.eval(m.ctx, 1, NULL, x, one, NULL), MS_EINVAL);
    ms_free(one);
    ms_free(fl);
    ms_free(fp);
    ms_free(fm);
    ms_free(v);
    ms_free(J);
    ms_fit_model_free(&m);
    fx_free(F);
}

static ms_fit_input fx_input(const fixture *F, const double *start, const double *sdv)
{
    ms_fit_input in;
    memset(&in, 0, sizeof in);
    in.n = NS;
    in.flux = F->flux;
    in.ivar = F->ivar;
    in.start = start;
    in.start_dv = sdv;
    return in;
}

/* A spectrum's model, Jacobian and gradient are bit-identical whatever the batch it is
 * evaluated in (all NS rows at once, or each alone through a batch-1 model): the fit's
 * results then do not depend on the chunk size, batch size or rank count. */
static void test_csn_model_batch_exact(void **state)
{
    (void)state;
    fixture *F = fx_make();
    ms_csn_set_per_sample(&F->net, 1);
    ms_fit_model mb, m1;
    assert_int_equal(ms_fit_model_csn(&F->e, &F->net, NS, &mb), MS_OK);
    assert_int_equal(ms_fit_model_csn(&F->e, &F->net, 1, &m1), MS_OK);
    const size_t D = TM_D, n = N_PIX;
    float *fb = ms_malloc_array("t.fb", NS * n, sizeof(float)), *f1 = ms_malloc_array("t.f1", n, sizeof(float));
    float *jb = ms_malloc_array("t.jb", NS * D * n, sizeof(float)), *j1 = ms_malloc_array("t.j1", D * n, sizeof(float));
    float *v = ms_malloc_array("t.v", NS * n, sizeof(float));
    assert_true(fb && f1 && jb && j1 && v);
    double gb[NS * TM_D], g1[TM_D];
    size_t ids[NS];
    for (size_t i = 0; i < NS; i++) ids[i] = i;
    for (size_t i = 0; i < NS * n; i++) v[i] = (float)sin(0.37 * (double)i);
    assert_int_equal(mb.begin(mb.ctx, NS, F->flux, F->ivar, n), MS_OK);
    assert_int_equal(m1.begin(m1.ctx, NS, F->flux, F->ivar, n), MS_OK);
    size_t bad_f = 0, bad_j = 0, bad_g = 0;
    assert_int_equal(mb.eval(mb.ctx, NS, ids, F->x, fb, jb), MS_OK);
    for (size_t i = 0; i < NS; i++) {
        assert_int_equal(m1.eval(m1.ctx, 1, &ids[i], F->x + i * D, f1, j1), MS_OK);
        bad_f += memcmp(f1, fb + i * n, n * sizeof(float)) != 0;
        bad_j += memcmp(j1, jb + i * D * n, D * n * sizeof(float)) != 0;
    }
    assert_int_equal(mb.eval(mb.ctx, NS, ids, F->x, fb, NULL), MS_OK);
    assert_int_equal(mb.vjp(mb.ctx, NS, v, gb), MS_OK);
    for (size_t i = 0; i < NS; i++) {
        assert_int_equal(m1.eval(m1.ctx, 1, &ids[i], F->x + i * D, f1, NULL), MS_OK);
        bad_f += memcmp(f1, fb + i * n, n * sizeof(float)) != 0;
        assert_int_equal(m1.vjp(m1.ctx, 1, v + i * n, g1), MS_OK);
        bad_g += memcmp(g1, gb + i * D, D * sizeof(double)) != 0;
    }
    print_message("    rows that differ batch %d vs 1: flux %zu, Jacobian %zu, vjp %zu\n", NS, bad_f,
                  bad_j, bad_g);
    assert_true(bad_f == 0 && bad_j == 0 && bad_g == 0);
    ms_free(fb);
    ms_free(f1);
    ms_free(jb);
    ms_free(j1);
    ms_free(v);
    ms_fit_model_free(&mb);
    ms_fit_model_free(&m1);
    fx_free(F);
}

/* (b) noiseless recovery from a start near the truth, fit_rv off (the survey's CSN fit);
 * (c) batch sizes 4 and 1 give the same results, bit for bit */
static void test_csn_recovery_and_batching(void **state)
{
    (void)state;
    fixture *F = fx_make();
    ms_fit_model m4, m1;
    assert_int_equal(ms_fit_model_csn(&F->e, &F->net, 4, &m4), MS_OK);
    assert_int_equal(ms_fit_model_csn(&F->e, &F->net, 1, &m1), MS_OK);
    ms_cfg_fit cfg = tm_cfg();
    cfg.fit_rv = 0;
    cfg.factr = 10.0;
    cfg.pgtol = 0.0;
    double start[NS * TM_D], sdv[NS];
    for (size_t i = 0; i < NS; i++) {
        sdv[i] = 0.0;
        for (size_t j = 0; j < TM_D; j++) {
            const double xs = F->x[i * TM_D + j] + (j % 2 ? -0.06 : 0.06);
            start[i * TM_D + j] = m4.phys_min[j] + (xs + 0.5) * (m4.phys_max[j] - m4.phys_min[j]);
        }
    }
    ms_fit_result r4[NS], r1[NS];
    ms_fitter *f;
    cfg.batch_size = 4;
    assert_int_equal(ms_fitter_alloc(&cfg, &m4, &f), MS_OK);
    assert_int_equal(ms_fitter_bank_size(f), 0);
    ms_fit_input in = fx_input(F, start, sdv);
    assert_int_equal(ms_fit_batch(f, &in, r4, NULL), MS_OK);
    ms_fitter_free(f);
    double wx = 0.0;
    for (size_t i = 0; i < NS; i++) {
        assert_int_equal(r4[i].flags & (MS_FIT_FAILED | MS_FIT_NOT_CONVERGED), 0);
        assert_false(r4[i].presearch);
        for (size_t j = 0; j < TM_D; j++) {
            const double xs = (r4[i].labels[j] - m4.phys_min[j]) / (m4.phys_max[j] - m4.phys_min[j]) - 0.5;
            wx = fmax(wx, fabs(xs - F->x[i * TM_D + j]));
            assert_true(isfinite(r4[i].errors[j]) && r4[i].errors[j] > 0.0);
        }
        assert_true(r4[i].chi2 < 1e-3);
    }
    print_message("    CSN fit: worst label error %.2e (box units), iterations of spectrum 0: %ld\n", wx,
                  r4[0].iterations);
    assert_true(wx < 2e-3);
    /* one by one through a batch-1 fitter: the same end points */
    cfg.batch_size = 1;
    assert_int_equal(ms_fitter_alloc(&cfg, &m1, &f), MS_OK);
    for (size_t i = 0; i < NS; i++) {
        ms_fit_input in1 = {1, F->flux + i * N_PIX, F->ivar + i * N_PIX, NULL, NULL, NULL,
                            start + i * TM_D, sdv + i};
        assert_int_equal(ms_fit_batch(f, &in1, &r1[i], NULL), MS_OK);
    }
    ms_fitter_free(f);
    double wd = 0.0, we = 0.0;
    for (size_t i = 0; i < NS; i++)
        for (size_t j = 0; j < TM_D; j++) {
            wd = fmax(wd, fabs(r1[i].labels[j] - r4[i].labels[j]) / r4[i].errors[j]);
            we = fmax(we, fabs(r1[i].errors[j] / r4[i].errors[j] - 1.0));
        }
    print_message("    batch 4 vs 1: labels differ by <= %.2e sigma, errors by <= %.2e\n", wd, we);
    /* bit for bit: the model's rows do not depend on the batch (test_csn_model_batch_exact) */
    for (size_t i = 0; i < NS; i++) {
        assert_memory_equal(r1[i].labels, r4[i].labels, sizeof r4[i].labels);
        assert_memory_equal(r1[i].errors, r4[i].errors, sizeof r4[i].errors);
        assert_true(r1[i].chi2 == r4[i].chi2 && r1[i].evaluations == r4[i].evaluations);
    }
    ms_fit_model_free(&m4);
    ms_fit_model_free(&m1);
    /* a CSN for another pixel count is refused */
    ms_csn other;
    ms_cfg_csn k = F->net.cfg;
    assert_int_equal(ms_csn_init(&other, &k, N_PIX - 100), MS_OK);
    assert_int_equal(ms_fit_model_csn(&F->e, &other, 4, &m4), MS_EINVAL);
    ms_csn_free(&other);
    fx_free(F);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csn_model_gradient),
        cmocka_unit_test(test_csn_recovery_and_batching),
        cmocka_unit_test(test_csn_model_batch_exact),
    };
    return cmocka_run_group_tests_name("fit_csn", tests, NULL, NULL);
}
