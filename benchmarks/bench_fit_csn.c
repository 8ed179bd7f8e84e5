/* bench_fit_csn.c: speed of the observed-domain Cycle-StarNet fit (`mstars fit --csn`,
 * fit_model_csn.c: M(y) = CSN_synth->obs(Payne(y); z_sp of the star held fixed)) on one core.
 *
 * Real spectra: the first --n usable rows (store status 0) from --row0 of an ingested store,
 * with a trained emulator and a CSN model trained on it. The three steps of the survey job's
 * --csn path (src/par/survey_fit.c) are run exactly as there: the emulator-only fit (its RV),
 * the synthetic-domain fit to CSN_obs->synth(F_obs) at that velocity (fit.synthetic_start),
 * then the observed-domain fit of CSN_synth->obs(Payne(y)) to F_obs from there, the velocity
 * refitted unless fit.csn_fit_rv is false. Only the last step is timed, at each --batch size
 * (median over --reps runs): CPU and wall time per spectrum, evaluations per fit, and where
 * the time goes (the fitter's counters: chi^2 + gradient calls, the model Jacobians at the
 * start and the optimum, the rest = z_sp encoding, L-BFGS-B, bookkeeping).
 * A profile then times the parts of one evaluation at each batch size through the library's
 * public calls: Payne forward and VJP, CSN s2o forward and VJP, the whole model evaluation
 * (forward + VJP, what one chi^2 gradient costs), one Jacobian row (eval with jac: whatever
 * fit_model_csn.c does for it) and the z_sp encoding of one spectrum.
 *
 * Usage: bench_fit_csn --emulator FILE --csn FILE --spectra STORE [--n N] [--row0 R]
 *                      [--batch 1,8,32] [--reps R] [--profile-reps K] [--config FILE]
 *                      [--set key=value]... [--dump FILE]
 * --dump writes what benchmarks/bench_fit_csn_torch.py needs: the model paths, the spectra
 * (flux and ivar as stored, the fit mask), the C z_sp, the C model at the start labels, the
 * start points, the C fits of the first batch size and the C timings.
 * Set OPENBLAS_NUM_THREADS=1 (one core). */
#include "mstars/config.h"
#include "mstars/csn.h"
#include "mstars/fit.h"
#include "mstars/h5.h"
#include "mstars/mem.h"
#include "mstars/payne.h"

#include "bench_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define C_KMS 299792.458
#define MAX_BATCHES 16
#define N_MODEL_DUMP 8 /* spectra whose C model output at the start labels is dumped */

static int fail(const char *what)
{
    fprintf(stderr, "bench_fit_csn: %s: %s\n", what, ms_error_message());
    return 1;
}

/* The spectra: N usable rows from row0 (status 0), as the survey job reads them. */
typedef struct {
    size_t N, n, first_row, last_row;
    float *flux, *ivar;   /* [N, n] */
    double *rv_init;      /* [N] */
    uint8_t *rv_known;    /* [N] */
    uint8_t *mask;        /* [n] */
    size_t *row;          /* [N] store rows */
} spectra;

static ms_status read_spectra(const char *path, size_t row0, size_t N, size_t n, spectra *s)
{
    memset(s, 0, sizeof *s);
    ms_h5 *f;
    MS_TRY(ms_h5_open_read(path, 0, &f));
    int rank;
    size_t dims[2];
    ms_status st = ms_h5_dims(f, "/spectra/flux", &rank, dims);
    if (st == MS_OK && (rank != 2 || dims[1] != n))
        st = ms_error_set(MS_EINVAL, __FILE__, __LINE__, "%s: /spectra/flux is not [rows, %zu]",
                          path, n);
    const size_t rows = st == MS_OK ? dims[0] : 0, chunk = 256;
    s->flux = ms_malloc_array("b.flux", N * n, sizeof(float));
    s->ivar = ms_malloc_array("b.ivar", N * n, sizeof(float));
    s->rv_init = ms_malloc_array("b.rv", N, sizeof(double));
    s->rv_known = ms_malloc_array("b.known", N, 1);
    s->mask = ms_malloc_array("b.mask", n, 1);
    s->row = ms_malloc_array("b.row", N, sizeof(size_t));
    float *cf = ms_malloc_array("b.cf", chunk * n, sizeof(float));
    float *ci = ms_malloc_array("b.ci", chunk * n, sizeof(float));
    double *crv = ms_malloc_array("b.crv", chunk, sizeof(double));
    double *cz = ms_malloc_array("b.cz", chunk, sizeof(double));
    int32_t *cs = ms_malloc_array("b.cs", chunk, sizeof(int32_t));
    if (st == MS_OK && (!s->flux || !s->ivar || !s->rv_init || !s->rv_known || !s->mask ||
                        !s->row || !cf || !ci || !crv || !cz || !cs))
        st = MS_ENOMEM;
    if (st == MS_OK) st = ms_h5_read_rows(f, "/spectra/fit_mask", MS_H5_U8, 0, 0, n, s->mask);
    size_t got = 0, r0 = row0;
    while (st == MS_OK && got < N && r0 < rows) {
        size_t m = rows - r0 < chunk ? rows - r0 : chunk;
        st = ms_h5_read_rows(f, "/meta/status", MS_H5_I32, 0, r0, m, cs);
        if (st == MS_OK) st = ms_h5_read_rows(f, "/spectra/flux", MS_H5_F32, 0, r0, m, cf);
        if (st == MS_OK) st = ms_h5_read_rows(f, "/spectra/ivar", MS_H5_F32, 0, r0, m, ci);
        if (st == MS_OK) st = ms_h5_read_rows(f, "/meta/rv_init", MS_H5_F64, 0, r0, m, crv);
        if (st == MS_OK) st = ms_h5_read_rows(f, "/meta/z", MS_H5_F64, 0, r0, m, cz);
        for (size_t i = 0; st == MS_OK && i < m && got < N; i++) {
            if (cs[i] != 0) continue;
            memcpy(s->flux + got * n, cf + i * n, n * sizeof(float));
            memcpy(s->ivar + got * n, ci + i * n, n * sizeof(float));
            s->rv_init[got] = crv[i];
            /* as survey_fit.c: Z missing or absurd -> the wide velocity scan */
            s->rv_known[got] = isfinite(cz[i]) && fabs(cz[i] * C_KMS) < 3000.0;
            s->row[got++] = r0 + i;
        }
        r0 += m;
    }
    ms_free(cf);
    ms_free(ci);
    ms_free(crv);
    ms_free(cz);
    ms_free(cs);
    ms_status cst = ms_h5_close(f);
    if (st == MS_OK) st = cst;
    if (st == MS_OK && got == 0)
        st = ms_error_set(MS_EINVAL, __FILE__, __LINE__, "%s: no usable row from %zu", path, row0);
    s->N = got;
    s->n = n;
    s->first_row = got ? s->row[0] : 0;
    s->last_row = got ? s->row[got - 1] : 0;
    return st;
}

static void spectra_free(spectra *s)
{
    ms_free(s->flux);
    ms_free(s->ivar);
    ms_free(s->rv_init);
    ms_free(s->rv_known);
    ms_free(s->mask);
    ms_free(s->row);
}

/* ------------------------------------------------------------------------------------- */
/* The per-evaluation profile at batch B: CPU ms per row of each part, median of K runs. */
typedef struct {
    double payne_f, payne_vjp, s2o_f, s2o_vjp, eval_vjp, jac_row, encode;
} profile;

typedef struct {
    const ms_emulator *e;
    const ms_csn *net;
    const spectra *sp;
    const double *xstart; /* [N, D] scaled start labels */
} prof_in;

static ms_status run_profile(const prof_in *pi, size_t B, size_t K, profile *out)
{
    const size_t D = pi->e->net.n_labels, n = pi->sp->n, N = pi->sp->N;
    const size_t zf = ms_csn_z_sp_floats(pi->net);
    ms_fit_model emu, csn;
    memset(&emu, 0, sizeof emu);
    memset(&csn, 0, sizeof csn);
    ms_csn_ws *ws = NULL;
    double *x = ms_malloc_array("p.x", B * D, sizeof(double));
    size_t *ids = ms_malloc_array("p.ids", B, sizeof(size_t));
    float *fl = ms_malloc_array("p.fl", B * n, sizeof(float));
    float *pf = ms_malloc_array("p.pf", B * n, sizeof(float));
    float *v = ms_malloc_array("p.v", B * n, sizeof(float));
    float *gp = ms_malloc_array("p.gp", B * n, sizeof(float));
    float *jac = ms_malloc_array("p.jac", B * D * n, sizeof(float));
    float *zsp = ms_malloc_array("p.zsp", B * zf, sizeof(float));
    float *obs = ms_malloc_array("p.obs", B * n, sizeof(float));
    double *gx = ms_malloc_array("p.gx", B * D, sizeof(double));
    double *t[7];
    for (int k = 0; k < 7; k++) t[k] = ms_malloc_array("p.t", K, sizeof(double));
    ms_status st = MS_OK;
    if (!x || !ids || !fl || !pf || !v || !gp || !jac || !zsp || !obs || !gx || !t[0] || !t[1] ||
        !t[2] || !t[3] || !t[4] || !t[5] || !t[6])
        st = MS_ENOMEM;
    if (st == MS_OK) st = ms_fit_model_emulator(pi->e, B, &emu);
    if (st == MS_OK) st = ms_fit_model_csn(pi->e, pi->net, B, &csn);
    if (st == MS_OK) st = ms_csn_ws_alloc(pi->net, B, &ws);
    if (st == MS_OK) {
        ms_nn_rng r;
        ms_nn_rng_seed(&r, 99);
        for (size_t b = 0; b < B; b++) {
            size_t i = b % N;
            ids[b] = i;
            memcpy(x + b * D, pi->xstart + i * D, D * sizeof(double));
            memcpy(obs + b * n, pi->sp->flux + i * n, n * sizeof(float));
            for (size_t p = 0; p < n; p++) v[b * n + p] = (float)(100.0 * ms_nn_rng_normal(&r));
        }
        st = ms_csn_encode_obs(pi->net, ws, obs, B, zsp, NULL);
    }
    if (st == MS_OK && csn.begin) st = csn.begin(csn.ctx, N, pi->sp->flux, pi->sp->ivar, n);
    for (size_t k = 0; k < K && st == MS_OK; k++) {
        double c0 = cpu_s();
        st = emu.eval(emu.ctx, B, NULL, x, pf, NULL);
        double c1 = cpu_s();
        if (st == MS_OK) st = emu.vjp(emu.ctx, B, v, gx);
        double c2 = cpu_s();
        if (st == MS_OK) st = ms_csn_transfer_s2o(pi->net, ws, pf, zsp, B, fl);
        double c3 = cpu_s();
        memset(gp, 0, B * n * sizeof(float));
        double c4 = cpu_s();
        if (st == MS_OK) st = ms_csn_transfer_s2o_vjp(pi->net, ws, v, B, gp);
        double c5 = cpu_s();
        if (st == MS_OK) st = csn.eval(csn.ctx, B, ids, x, fl, NULL);
        if (st == MS_OK) st = csn.vjp(csn.ctx, B, v, gx);
        double c6 = cpu_s();
        if (st == MS_OK) st = csn.eval(csn.ctx, B, ids, x, fl, jac);
        double c7 = cpu_s();
        if (st == MS_OK) st = ms_csn_encode_obs(pi->net, ws, obs, B, zsp, NULL);
        double c8 = cpu_s();
        const double rb = 1e3 / (double)B;
        t[0][k] = (c1 - c0) * rb;
        t[1][k] = (c2 - c1) * rb;
        t[2][k] = (c3 - c2) * rb;
        t[3][k] = (c5 - c4) * rb;
        t[4][k] = (c6 - c5) * rb;
        t[5][k] = (c7 - c6) * rb;
        t[6][k] = (c8 - c7) * rb;
    }
    if (st == MS_OK) {
        out->payne_f = median(t[0], K);
        out->payne_vjp = median(t[1], K);
        out->s2o_f = median(t[2], K);
        out->s2o_vjp = median(t[3], K);
        out->eval_vjp = median(t[4], K);
        out->jac_row = median(t[5], K);
        out->encode = median(t[6], K);
    }
    for (int k = 0; k < 7; k++) ms_free(t[k]);
    ms_free(x);
    ms_free(ids);
    ms_free(fl);
    ms_free(pf);
    ms_free(v);
    ms_free(gp);
    ms_free(jac);
    ms_free(zsp);
    ms_free(obs);
    ms_free(gx);
    ms_csn_ws_free(ws);
    ms_fit_model_free(&csn);
    ms_fit_model_free(&emu);
    return st;
}

/* ------------------------------------------------------------------------------------- */
/* Steps 1 and 2 of the survey job's --csn path: the start of the observed-domain fit. */
static ms_status csn_start(const ms_config *cfg, const ms_emulator *e, const ms_csn *net,
                           const spectra *sp, double *start, double *start_dv, double *t_emu,
                           double *t_synth, size_t *n_synth_failed)
{
    const size_t N = sp->N, n = sp->n, D = e->net.n_labels;
    const size_t bmax = (size_t)cfg->fit.batch_size;
    ms_fit_model model;
    ms_fitter *fe = NULL, *fs = NULL;
    ms_csn_ws *ws = NULL;
    ms_fit_result *res = ms_calloc("b.res", N, sizeof *res), *sres = ms_calloc("b.sres", N, sizeof *sres);
    float *osflux = ms_malloc_array("b.os", N * n, sizeof(float));
    if (!res || !sres || !osflux) return MS_ENOMEM;
    ms_status st = ms_fit_model_emulator(e, bmax, &model);
    if (st == MS_OK) st = ms_fitter_alloc(&cfg->fit, &model, &fe);
    double c0 = cpu_s();
    ms_fit_input in = {N, sp->flux, sp->ivar, sp->mask, sp->rv_init, sp->rv_known, NULL, NULL};
    if (st == MS_OK) st = ms_fit_batch(fe, &in, res, NULL);
    *t_emu = cpu_s() - c0;
    for (size_t k = 0; st == MS_OK && k < N; k++) {
        for (size_t j = 0; j < D; j++) start[k * D + j] = res[k].labels[j];
        start_dv[k] = isfinite(res[k].dv) ? res[k].dv : 0.0;
    }
    *n_synth_failed = 0;
    *t_synth = 0.0;
    if (st == MS_OK && cfg->fit.synthetic_start) {
        ms_cfg_fit fc = cfg->fit;
        fc.fit_rv = 0;
        fc.presearch_points = 0;
        c0 = cpu_s();
        st = ms_fitter_alloc(&fc, &model, &fs);
        if (st == MS_OK) st = ms_csn_ws_alloc(net, bmax, &ws);
        for (size_t i0 = 0; st == MS_OK && i0 < N; i0 += bmax) {
            const size_t B = N - i0 < bmax ? N - i0 : bmax;
            st = ms_csn_transfer_o2s(net, ws, sp->flux + i0 * n, B, osflux + i0 * n);
        }
        ms_fit_input sin = {N, osflux, sp->ivar, sp->mask, sp->rv_init, sp->rv_known, start, start_dv};
        if (st == MS_OK) st = ms_fit_batch(fs, &sin, sres, NULL);
        for (size_t k = 0; st == MS_OK && k < N; k++) {
            if (sres[k].flags & MS_FIT_FAILED) {
                ++*n_synth_failed;
                continue;
            }
            for (size_t j = 0; j < D; j++) start[k * D + j] = sres[k].labels[j];
        }
        *t_synth = cpu_s() - c0;
    }
    ms_csn_ws_free(ws);
    if (fs) ms_fitter_free(fs);
    if (fe) ms_fitter_free(fe);
    ms_fit_model_free(&model);
    ms_free(res);
    ms_free(sres);
    ms_free(osflux);
    return st;
}

/* ------------------------------------------------------------------------------------- */
typedef struct {
    size_t B;
    double cpu_ms, wall_ms, ev_med, ev_mean, it_mean;
    double fg_ms, jac_ms, other_ms;       /* per spectrum (wall, fitter counters) */
    double fg_per_row, jac_per_row;       /* ms per evaluation / Jacobian row */
    double rows_fg, rows_jac;             /* rows per batched call */
    double fg_rows_per_fit, jac_rows_per_fit;
    double dmax_sigma;                    /* max |labels - first batch's| / error */
    profile prof;
} batch_row;

static void write_floats(FILE *o, const char *key, size_t i, const float *v, size_t n)
{
    fprintf(o, "%s %zu", key, i);
    for (size_t p = 0; p < n; p++) {
        if (isfinite(v[p])) fprintf(o, " %.9g", v[p]);
        else fprintf(o, " nan");
    }
    fprintf(o, "\n");
}

int main(int argc, char **argv)
{
    size_t N = 32, row0 = 0, reps = 1, K = 9;
    char batches[128] = "1,8,32", emu_path[512] = "", csn_path[512] = "", store[512] = "";
    char dump[512] = "", cfg_path[512] = "";
    ms_config cfg;
    if (ms_config_defaults(&cfg) != MS_OK) return fail("config");
    const char *sets[32];
    size_t n_sets = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(a, "--n")) N = (size_t)atol(v), i++;
        else if (!strcmp(a, "--row0")) row0 = (size_t)atol(v), i++;
        else if (!strcmp(a, "--batch")) snprintf(batches, sizeof batches, "%s", v), i++;
        else if (!strcmp(a, "--reps")) reps = (size_t)atol(v), i++;
        else if (!strcmp(a, "--profile-reps")) K = (size_t)atol(v), i++;
        else if (!strcmp(a, "--emulator")) snprintf(emu_path, sizeof emu_path, "%s", v), i++;
        else if (!strcmp(a, "--csn")) snprintf(csn_path, sizeof csn_path, "%s", v), i++;
        else if (!strcmp(a, "--spectra")) snprintf(store, sizeof store, "%s", v), i++;
        else if (!strcmp(a, "--dump")) snprintf(dump, sizeof dump, "%s", v), i++;
        else if (!strcmp(a, "--config")) snprintf(cfg_path, sizeof cfg_path, "%s", v), i++;
        else if (!strcmp(a, "--set") && n_sets < 32) sets[n_sets++] = v, i++;
        else {
            fprintf(stderr, "bench_fit_csn: unknown option %s\n", a);
            return 2;
        }
    }
    if (!emu_path[0] || !csn_path[0] || !store[0] || N == 0 || reps == 0 || K == 0) {
        fprintf(stderr, "usage: bench_fit_csn --emulator FILE --csn FILE --spectra STORE [--n N] "
                        "[--row0 R] [--batch 1,8,32] [--reps R] [--profile-reps K] "
                        "[--config FILE] [--set k=v] [--dump FILE]\n");
        return 2;
    }
    if (cfg_path[0] && ms_config_load_file(&cfg, cfg_path) != MS_OK) return fail(cfg_path);
    for (size_t k = 0; k < n_sets; k++)
        if (ms_config_set(&cfg, sets[k]) != MS_OK) return fail(sets[k]);

    ms_emulator e;
    if (ms_emulator_read(emu_path, &e) != MS_OK) return fail(emu_path);
    ms_csn net;
    ms_csn_record rec;
    if (ms_csn_model_read(csn_path, &net, &rec) != MS_OK) return fail(csn_path);
    if (strcmp(rec.emulator_hash, e.content_hash) != 0) {
        fprintf(stderr, "bench_fit_csn: %s was trained on the emulator %s, %s is %s\n", csn_path,
                rec.emulator_hash, emu_path, e.content_hash);
        return 1;
    }
    const size_t D = e.net.n_labels, n = e.net.n_pix;
    spectra sp;
    if (read_spectra(store, row0, N, n, &sp) != MS_OK) return fail(store);
    N = sp.N;

    double *start = ms_malloc_array("b.start", N * D, sizeof(double));
    double *start_dv = ms_malloc_array("b.sdv", N, sizeof(double));
    double *xstart = ms_malloc_array("b.xs", N * D, sizeof(double));
    ms_fit_result *res = ms_calloc("b.res", N, sizeof *res), *res1 = ms_calloc("b.res1", N, sizeof *res);
    double *ev = ms_malloc_array("b.ev", N, sizeof(double));
    double *tw = ms_malloc_array("b.tw", reps, sizeof(double)), *tc = ms_malloc_array("b.tc", reps, sizeof(double));
    if (!start || !start_dv || !xstart || !res || !res1 || !ev || !tw || !tc) return fail("memory");
    double t_emu = 0.0, t_synth = 0.0;
    size_t n_sfail = 0;
    if (csn_start(&cfg, &e, &net, &sp, start, start_dv, &t_emu, &t_synth, &n_sfail) != MS_OK)
        return fail("start fits");
    for (size_t k = 0; k < N; k++)
        for (size_t j = 0; j < D; j++) {
            double x = (start[k * D + j] - e.x_min[j]) / (e.x_max[j] - e.x_min[j]) - 0.5;
            xstart[k * D + j] = x < -0.5 ? -0.5 : x > 0.5 ? 0.5 : x;
        }

    ms_cfg_fit fc = cfg.fit;
    fc.fit_rv = cfg.fit.fit_rv && cfg.fit.csn_fit_rv;
    char desc[256];
    ms_csn_describe(&net, desc, sizeof desc);
    printf("# observed-domain CSN fit (mstars fit --csn, step 2): emulator %s (%zu -> %zu x %zu -> "
           "%zu), CSN %s\n#   %s\n", emu_path, D, e.net.n_layers, e.net.n_hidden, n, csn_path, desc);
    printf("# %zu spectra of %s (rows %zu..%zu, status 0), fit_rv %d, synthetic_start %d, gradient "
           "%s, 1 core; start fits (not timed below): emulator-only %.1f ms, synthetic-domain %.1f "
           "ms per spectrum CPU (%zu synthetic fits failed: emulator start)\n",
           N, store, sp.first_row, sp.last_row, fc.fit_rv, cfg.fit.synthetic_start, fc.gradient,
           1e3 * t_emu / (double)N, 1e3 * t_synth / (double)N, n_sfail);

    batch_row rows[MAX_BATCHES];
    size_t n_rows = 0;
    prof_in pin = {&e, &net, &sp, xstart};
    ms_fit_input in = {N, sp.flux, sp.ivar, sp.mask, sp.rv_init, sp.rv_known, start, start_dv};
    char *save = NULL, *tok = strtok_r(batches, ",", &save);
    for (; tok && n_rows < MAX_BATCHES; tok = strtok_r(NULL, ",", &save)) {
        size_t B = (size_t)atol(tok);
        if (B == 0) continue;
        batch_row *br = &rows[n_rows];
        memset(br, 0, sizeof *br);
        br->B = B;
        fc.batch_size = (long)B;
        ms_fit_model m;
        ms_fitter *f;
        if (ms_fit_model_csn(&e, &net, B, &m) != MS_OK) return fail("CSN model");
        if (ms_fitter_alloc(&fc, &m, &f) != MS_OK) return fail("fitter");
        ms_fit_stats s0 = ms_fitter_stats(f);
        for (size_t k = 0; k < reps; k++) {
            double t0 = now_s(), c0 = cpu_s();
            if (ms_fit_batch(f, &in, res, NULL) != MS_OK) return fail("fit");
            tw[k] = (now_s() - t0) / (double)N;
            tc[k] = (cpu_s() - c0) / (double)N;
        }
        ms_fit_stats s1 = ms_fitter_stats(f);
        const double nf = (double)(N * reps);
        br->cpu_ms = 1e3 * median(tc, reps);
        br->wall_ms = 1e3 * median(tw, reps);
        for (size_t i = 0; i < N; i++) {
            ev[i] = (double)res[i].evaluations;
            br->ev_mean += ev[i] / (double)N;
            br->it_mean += (double)res[i].iterations / (double)N;
        }
        br->ev_med = median(ev, N);
        br->fg_ms = 1e3 * (s1.t_fg - s0.t_fg) / nf;
        br->jac_ms = 1e3 * (s1.t_jac - s0.t_jac) / nf;
        br->other_ms = 1e3 * (s1.t_total - s0.t_total) / nf - br->fg_ms - br->jac_ms;
        br->fg_per_row = 1e3 * (s1.t_fg - s0.t_fg) / (double)(s1.fg_rows - s0.fg_rows ? s1.fg_rows - s0.fg_rows : 1);
        br->jac_per_row = 1e3 * (s1.t_jac - s0.t_jac) / (double)(s1.jac_rows - s0.jac_rows ? s1.jac_rows - s0.jac_rows : 1);
        br->rows_fg = (double)(s1.fg_rows - s0.fg_rows) / (double)(s1.fg_calls - s0.fg_calls ? s1.fg_calls - s0.fg_calls : 1);
        br->rows_jac = (double)(s1.jac_rows - s0.jac_rows) / (double)(s1.jac_calls - s0.jac_calls ? s1.jac_calls - s0.jac_calls : 1);
        br->fg_rows_per_fit = (double)(s1.fg_rows - s0.fg_rows) / nf;
        br->jac_rows_per_fit = (double)(s1.jac_rows - s0.jac_rows) / nf;
        if (n_rows == 0) {
            memcpy(res1, res, N * sizeof *res);
        } else {
            for (size_t i = 0; i < N; i++)
                for (size_t j = 0; j < D; j++) {
                    double d = fabs(res[i].labels[j] - res1[i].labels[j]) / res1[i].errors[j];
                    if (isfinite(d) && d > br->dmax_sigma) br->dmax_sigma = d;
                }
        }
        ms_fitter_free(f);
        ms_fit_model_free(&m);
        if (run_profile(&pin, B, K, &br->prof) != MS_OK) return fail("profile");
        n_rows++;
    }

    printf("\n# batch  ms/spectrum CPU  wall | evals/fit med mean | iters | per spectrum (ms, wall): "
           "chi2+grad  Jacobians  other | ms per eval  per Jacobian row | rows/call fg jac | "
           "max |dlabel|/sigma vs first batch\n");
    for (size_t r = 0; r < n_rows; r++) {
        const batch_row *b = &rows[r];
        printf("%5zu  %9.1f %9.1f   |   %5.1f %6.2f   | %5.2f | %9.1f %12.1f %8.1f | %8.2f %8.2f | "
               "%5.1f %5.1f | %.3g\n",
               b->B, b->cpu_ms, b->wall_ms, b->ev_med, b->ev_mean, b->it_mean, b->fg_ms, b->jac_ms,
               b->other_ms, b->fg_per_row, b->jac_per_row, b->rows_fg, b->rows_jac, b->dmax_sigma);
    }
    printf("\n# one evaluation, CPU ms per row (median of %zu): Payne fwd, Payne vjp, CSN s2o fwd, "
           "CSN s2o vjp, model eval+vjp (one chi^2 gradient), model Jacobian row (eval with jac), "
           "z_sp encoding per spectrum\n", K);
    for (size_t r = 0; r < n_rows; r++) {
        const profile *p = &rows[r].prof;
        printf("prof %4zu  %7.3f %7.3f %7.3f %7.3f  %7.3f  %7.3f  %7.3f\n", rows[r].B, p->payne_f,
               p->payne_vjp, p->s2o_f, p->s2o_vjp, p->eval_vjp, p->jac_row, p->encode);
    }
    printf("\n# per fit from the profile (ms CPU): evaluations x (eval+vjp) + Jacobian rows x "
           "(Jacobian row) + encoding = model work; the rest of the measured CPU time is the fitter "
           "(chi^2, velocity shift, L-BFGS-B)\n");
    for (size_t r = 0; r < n_rows; r++) {
        const batch_row *b = &rows[r];
        const profile *p = &b->prof;
        double model = b->fg_rows_per_fit * p->eval_vjp + b->jac_rows_per_fit * p->jac_row + p->encode;
        printf("split %4zu  fg rows %.1f x %.2f = %.1f | jac rows %.2f x %.2f = %.1f | encode %.2f | "
               "model %.1f of %.1f measured (%.0f%%)\n",
               b->B, b->fg_rows_per_fit, p->eval_vjp, b->fg_rows_per_fit * p->eval_vjp,
               b->jac_rows_per_fit, p->jac_row, b->jac_rows_per_fit * p->jac_row, p->encode, model,
               b->cpu_ms, 100.0 * model / b->cpu_ms);
    }

    if (dump[0] && n_rows > 0) {
        /* for bench_fit_csn_torch.py; fits and starts in scaled labels x and u = dv / 100 */
        FILE *o = fopen(dump, "w");
        if (!o) {
            fprintf(stderr, "bench_fit_csn: cannot write %s\n", dump);
            return 1;
        }
        ms_fit_model m;
        ms_csn_ws *ws = NULL;
        const size_t zf = ms_csn_z_sp_floats(&net);
        float *zsp = ms_malloc_array("d.zsp", zf, sizeof(float)), *mo = ms_malloc_array("d.mo", n, sizeof(float));
        if (!zsp || !mo) return fail("memory");
        if (ms_fit_model_csn(&e, &net, 1, &m) != MS_OK || ms_csn_ws_alloc(&net, 1, &ws) != MS_OK)
            return fail("dump model");
        if (m.begin(m.ctx, N, sp.flux, sp.ivar, n) != MS_OK) return fail("dump begin");
        fprintf(o, "files %s %s\n", emu_path, csn_path);
        fprintf(o, "dims %zu %zu %zu %.17g %.17g %.17g %d %.17g %.17g %ld %.17g %.17g %.17g %s\n", D,
                n, N, m.wave_start, m.wave_step,
                fc.fit_rv ? fmax(fc.rv_window, fc.rv_scan_range) : 0.0, fc.fit_rv, fc.rv_window,
                fc.rv_scan_range, fc.lbfgs_memory, fc.factr, fc.pgtol, fc.native_dloglam,
                fc.error_scaling);
        for (size_t r = 0; r < n_rows; r++) {
            const batch_row *b = &rows[r];
            const profile *p = &b->prof;
            fprintf(o, "ctime %zu %.6f %.6f %.3f %.3f %.6f %.6f %.6f %.6f %.6f %.6f %.6f %.6f %.6f %.6f %.6f\n",
                    b->B, b->cpu_ms, b->wall_ms, b->ev_med, b->ev_mean, b->fg_per_row, b->jac_per_row,
                    b->fg_rows_per_fit, b->jac_rows_per_fit, p->payne_f, p->payne_vjp, p->s2o_f,
                    p->s2o_vjp, p->eval_vjp, p->jac_row, p->encode);
        }
        for (size_t j = 0; j < D; j++) fprintf(o, "range %.17g %.17g\n", e.x_min[j], e.x_max[j]);
        fprintf(o, "mask");
        for (size_t p = 0; p < n; p++) fprintf(o, " %d", sp.mask[p] ? 1 : 0);
        fprintf(o, "\n");
        for (size_t i = 0; i < N; i++) {
            const ms_fit_result *q = &res1[i];
            write_floats(o, "flux", i, sp.flux + i * n, n);
            write_floats(o, "ivar", i, sp.ivar + i * n, n);
            if (ms_csn_encode_obs(&net, ws, sp.flux + i * n, 1, zsp, NULL) != MS_OK) return fail("encode");
            write_floats(o, "zsp", i, zsp, zf);
            if (i < N_MODEL_DUMP) {
                if (m.eval(m.ctx, 1, &i, xstart + i * D, mo, NULL) != MS_OK) return fail("dump eval");
                write_floats(o, "model", i, mo, n);
            }
            fprintf(o, "fit %zu %ld %ld %zu %u", i, q->evaluations, q->iterations, q->n_good, q->flags);
            for (size_t j = 0; j < D; j++)
                fprintf(o, " %.17g", (q->labels[j] - e.x_min[j]) / (e.x_max[j] - e.x_min[j]) - 0.5);
            fprintf(o, " %.17g %.17g", q->dv / MS_FIT_RV_UNIT, q->chi2);
            for (size_t j = 0; j < D; j++) fprintf(o, " %.17g", q->errors[j] / (e.x_max[j] - e.x_min[j]));
            fprintf(o, " %.17g\n", q->rv_err / MS_FIT_RV_UNIT);
            fprintf(o, "start %zu %d %d", i, sp.rv_known[i] ? 1 : 0, fc.fit_rv);
            for (size_t j = 0; j < D; j++)
                fprintf(o, " %.17g", (q->start_labels[j] - e.x_min[j]) / (e.x_max[j] - e.x_min[j]) - 0.5);
            fprintf(o, " %.17g %.17g\n", q->start_dv / MS_FIT_RV_UNIT, q->start_chi2);
        }
        if (fclose(o) != 0) {
            fprintf(stderr, "bench_fit_csn: write error on %s\n", dump);
            return 1;
        }
        ms_free(zsp);
        ms_free(mo);
        ms_csn_ws_free(ws);
        ms_fit_model_free(&m);
    }
    ms_free(start);
    ms_free(start_dv);
    ms_free(xstart);
    ms_free(res);
    ms_free(res1);
    ms_free(ev);
    ms_free(tw);
    ms_free(tc);
    spectra_free(&sp);
    ms_csn_free(&net);
    ms_csn_record_free(&rec);
    ms_emulator_free(&e);
    return 0;
}
