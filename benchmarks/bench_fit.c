/* bench_fit.c: speed of the emulator-only fit (fit.h) on one core.
 *
 * The Z25 emulator (4 labels -> 2 x 300 -> 2901 pixels, leaky ReLU 0.01) with random
 * weights made spectrum-like (output weights smoothed over the pixels, absorption lines in
 * the output bias), or a trained model file (--emulator FILE). N spectra are made by the
 * emulator at random labels (|x| <= 0.4 of the box) and residual velocities (|dv| <= 40
 * km/s), with Gaussian noise at --snr; each batch size fits them all (pre-search, RV scan,
 * L-BFGS-B, final Jacobian and errors) and reports the median over --reps runs of the
 * wall time per spectrum, the evaluations per fit and where the time goes.
 *
 * Usage: bench_fit [--n N] [--batch 1,64] [--snr S] [--reps R] [--gradient auto|vjp|jacobian]
 *                  [--presearch K] [--hidden H] [--layers L] [--emulator FILE] [--no-rv]
 *                  [--factr F] [--pgtol G] [--dump FILE]
 * --dump writes the network, the spectra, the C timings and the C fits of the first batch
 * size for benchmarks/bench_fit_torch.py (the PyTorch reference at equal evaluation counts).
 * Set OPENBLAS_NUM_THREADS=1 (one core). */
#include "mstars/config.h"
#include "mstars/fit.h"
#include "mstars/mem.h"
#include "mstars/payne.h"
#include "mstars/spec.h"

#include "bench_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NPIX 2901

/* random spectrum-like emulator (see the file comment) */
static int make_emulator(ms_emulator *e, size_t D, size_t H, size_t L, uint64_t seed)
{
    static const double mn[4] = {2800.0, 4.5, -1.0, 0.0}, mx[4] = {4000.0, 5.5, 0.5, 0.4};
    static const char *names[4] = {"teff", "logg", "m_h", "alpha_m"};
    ms_emulator_init(e);
    if (ms_payne_init(&e->net, D, H, L, NPIX, 0.01f) != MS_OK) return 1;
    ms_nn_rng r;
    ms_nn_rng_seed(&r, seed);
    ms_payne_init_weights(&e->net, &r);
    float *w = ms_payne_w(&e->net, L), *b = ms_payne_b(&e->net, L); /* [NPIX, H], [NPIX] */
    float *tmp = malloc(NPIX * H * sizeof(float));
    if (!tmp) return 1;
    for (size_t p = 0; p < NPIX; p++)
        for (size_t h = 0; h < H; h++) {
            double s = 0.0, ws = 0.0;
            for (int i = -5; i <= 5; i++) {
                long q = (long)p + i;
                if (q < 0 || q >= NPIX) continue;
                double k = exp(-0.5 * (i / 1.5) * (i / 1.5));
                s += k * w[(size_t)q * H + h];
                ws += k;
            }
            tmp[p * H + h] = (float)(2.0 * s / ws);
        }
    memcpy(w, tmp, NPIX * H * sizeof(float));
    free(tmp);
    for (size_t p = 0; p < NPIX; p++) b[p] = 1.0f;
    for (int k = 0; k < 150; k++) {
        double c = NPIX * ms_nn_rng_uniform(&r), s = 1.2 + 2.0 * ms_nn_rng_uniform(&r);
        double a = 0.05 + 0.4 * ms_nn_rng_uniform(&r);
        for (long p = (long)(c - 6 * s); p <= (long)(c + 6 * s); p++)
            if (p >= 0 && p < NPIX) b[p] -= (float)(a * exp(-0.5 * ((double)p - c) * ((double)p - c) / (s * s)));
    }
    for (size_t j = 0; j < D; j++) {
        snprintf(e->labels[j], MS_PAYNE_LABEL_LEN, "%s", names[j % 4]);
        e->x_min[j] = mn[j % 4];
        e->x_max[j] = mx[j % 4];
    }
    e->wavelength = ms_malloc_array("bench.wave", NPIX, sizeof(double));
    if (!e->wavelength) return 1;
    for (size_t p = 0; p < NPIX; p++) e->wavelength[p] = 6000.0 + (double)p;
    return 0;
}

int main(int argc, char **argv)
{
    size_t N = 256, H = 300, L = 2, reps = 3;
    long presearch = -1;
    double snr = 50.0;
    char batches[128] = "1,64", gradient[16] = "", emu_path[512] = "", dump[512] = "";
    int no_rv = 0;
    double factr = -1.0, pgtol = -1.0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(a, "--n")) N = (size_t)atol(v), i++;
        else if (!strcmp(a, "--batch")) snprintf(batches, sizeof batches, "%s", v), i++;
        else if (!strcmp(a, "--snr")) snr = atof(v), i++;
        else if (!strcmp(a, "--reps")) reps = (size_t)atol(v), i++;
        else if (!strcmp(a, "--gradient")) snprintf(gradient, sizeof gradient, "%s", v), i++;
        else if (!strcmp(a, "--presearch")) presearch = atol(v), i++;
        else if (!strcmp(a, "--hidden")) H = (size_t)atol(v), i++;
        else if (!strcmp(a, "--layers")) L = (size_t)atol(v), i++;
        else if (!strcmp(a, "--emulator")) snprintf(emu_path, sizeof emu_path, "%s", v), i++;
        else if (!strcmp(a, "--dump")) snprintf(dump, sizeof dump, "%s", v), i++;
        else if (!strcmp(a, "--no-rv")) no_rv = 1;
        else if (!strcmp(a, "--factr")) factr = atof(v), i++;
        else if (!strcmp(a, "--pgtol")) pgtol = atof(v), i++;
        else {
            fprintf(stderr, "bench_fit: unknown option %s\n", a);
            return 2;
        }
    }
    if (N == 0 || reps == 0) return 2;
    ms_emulator e;
    if (emu_path[0]) {
        if (ms_emulator_read(emu_path, &e) != MS_OK) {
            fprintf(stderr, "bench_fit: %s\n", ms_error_message());
            return 1;
        }
    } else if (make_emulator(&e, 4, H, L, 12345)) {
        fprintf(stderr, "bench_fit: cannot build the emulator\n");
        return 1;
    }
    const size_t D = e.net.n_labels, n = e.net.n_pix;
    ms_config cfg;
    if (ms_config_defaults(&cfg) != MS_OK) return 1;
    if (gradient[0]) snprintf(cfg.fit.gradient, sizeof cfg.fit.gradient, "%s", gradient);
    if (presearch >= 0) cfg.fit.presearch_points = presearch;
    if (no_rv) cfg.fit.fit_rv = 0;
    if (factr >= 0.0) cfg.fit.factr = factr;
    if (pgtol >= 0.0) cfg.fit.pgtol = pgtol;

    /* the spectra */
    float *flux = malloc(N * n * sizeof(float)), *ivar = malloc(N * n * sizeof(float));
    double *x = malloc(N * D * sizeof(double)), *y = malloc(N * D * sizeof(double));
    double *dv = malloc(N * sizeof(double)), *sh = malloc(n * sizeof(double));
    ms_fit_result *res = malloc(N * sizeof *res), *res1 = malloc(N * sizeof *res);
    if (!flux || !ivar || !x || !y || !dv || !sh || !res || !res1) return 1;
    size_t ct_b[16], n_ct = 0;
    double ct_ms[16], ct_ev[16];
    int have_res1 = 0;
    ms_fit_model m;
    if (ms_fit_model_emulator(&e, 64, &m) != MS_OK) {
        fprintf(stderr, "bench_fit: %s\n", ms_error_message());
        return 1;
    }
    ms_nn_rng r;
    ms_nn_rng_seed(&r, 777);
    for (size_t i = 0; i < N; i++) {
        for (size_t j = 0; j < D; j++) {
            x[i * D + j] = 0.8 * (ms_nn_rng_uniform(&r) - 0.5);
            y[i * D + j] = e.x_min[j] + (x[i * D + j] + 0.5) * (e.x_max[j] - e.x_min[j]);
        }
        dv[i] = no_rv ? 0.0 : 80.0 * (ms_nn_rng_uniform(&r) - 0.5);
        size_t id = i;
        if (m.eval(m.ctx, 1, &id, x + i * D, flux + i * n, NULL) != MS_OK) return 1;
        ms_fit_doppler_shift(flux + i * n, n, m.wave_start, m.wave_step, dv[i], sh, NULL);
        for (size_t p = 0; p < n; p++) {
            int ok = isfinite(sh[p]);
            flux[i * n + p] = ok ? (float)(sh[p] + ms_nn_rng_normal(&r) / snr) : NAN;
            ivar[i * n + p] = ok ? (float)(snr * snr) : 0.0f;
        }
    }
    uint8_t *mask = malloc(n);
    ms_wgrid g = {m.wave_start, m.wave_step, n};
    ms_spec_fit_mask(&cfg.preprocess, g, mask);
    ms_fit_input in = {N, flux, ivar, mask, NULL, NULL, NULL, NULL};

    printf("# emulator-only fit: The Payne %zu -> %zu x %zu -> %zu (%s), %zu spectra, S/N %.0f, "
           "fit_rv %d, presearch %ld, gradient %s, 1 core\n",
           D, L, H, n, emu_path[0] ? emu_path : "random spectrum-like weights", N, snr,
           cfg.fit.fit_rv, cfg.fit.presearch_points, cfg.fit.gradient);
    printf("# batch  ms/spectrum(cpu wall)  evals/fit(median mean)  iters  | per spectrum wall (ms): "
           "presearch fg jacobian other | bank(once) s | rows/call fg jac | within 3 sigma\n");
    char *save = NULL, *tok = strtok_r(batches, ",", &save);
    while (tok) {
        size_t B = (size_t)atol(tok);
        tok = strtok_r(NULL, ",", &save);
        if (B == 0) continue;
        cfg.fit.batch_size = (long)B;
        ms_fit_model mb;
        if (ms_fit_model_emulator(&e, B, &mb) != MS_OK) return 1;
        ms_fitter *f;
        if (ms_fitter_alloc(&cfg.fit, &mb, &f) != MS_OK) {
            fprintf(stderr, "bench_fit: %s\n", ms_error_message());
            return 1;
        }
        ms_fit_stats s0 = ms_fitter_stats(f);
        double *t = malloc(reps * sizeof(double)), *tc = malloc(reps * sizeof(double));
        double ev_med = 0, ev_mean = 0, it_mean = 0;
        double tp = 0, tm = 0, tj = 0, tt = 0;
        for (size_t k = 0; k < reps; k++) {
            ms_fit_stats a = ms_fitter_stats(f);
            double t0 = now_s(), c0 = cpu_s();
            if (ms_fit_batch(f, &in, res, NULL) != MS_OK) {
                fprintf(stderr, "bench_fit: %s\n", ms_error_message());
                return 1;
            }
            t[k] = (now_s() - t0) / (double)N;
            tc[k] = (cpu_s() - c0) / (double)N;
            ms_fit_stats b2 = ms_fitter_stats(f);
            tp += (b2.t_presearch - a.t_presearch) / (double)N;
            tm += (b2.t_fg - a.t_fg) / (double)N;
            tj += (b2.t_jac - a.t_jac) / (double)N;
            tt += (b2.t_total - a.t_total) / (double)N;
        }
        double *ev = malloc(N * sizeof(double));
        size_t good = 0, tot = 0;
        for (size_t i = 0; i < N; i++) {
            ev[i] = (double)res[i].evaluations;
            ev_mean += ev[i] / (double)N;
            it_mean += (double)res[i].iterations / (double)N;
            for (size_t j = 0; j < D; j++) {
                tot++;
                if (fabs(res[i].labels[j] - y[i * D + j]) <= 3.0 * res[i].errors[j]) good++;
            }
            if (!no_rv) {
                tot++;
                if (fabs(res[i].dv - dv[i]) <= 3.0 * res[i].rv_err) good++;
            }
        }
        ev_med = median(ev, N);
        ms_fit_stats s1 = ms_fitter_stats(f);
        double tmed = median(t, reps), tcmed = median(tc, reps);
        printf("%5zu  %8.3f %8.3f       %6.1f %6.1f            %5.1f  | %6.3f %6.3f %6.3f %6.3f | %6.2f | %6.1f %6.1f | %.3f\n",
               B, 1e3 * tcmed, 1e3 * tmed, ev_med, ev_mean, it_mean, 1e3 * tp / (double)reps,
               1e3 * tm / (double)reps, 1e3 * tj / (double)reps, 1e3 * (tt - tp - tm - tj) / (double)reps,
               s0.t_bank, (double)s1.fg_rows / (double)(s1.fg_calls ? s1.fg_calls : 1),
               (double)s1.jac_rows / (double)(s1.jac_calls ? s1.jac_calls : 1), (double)good / (double)tot);
        if (n_ct < 16) {
            ct_b[n_ct] = B;
            ct_ms[n_ct] = 1e3 * tcmed;
            ct_ev[n_ct++] = ev_mean;
        }
        if (!have_res1) { /* keep the first batch size's results for the dump */
            memcpy(res1, res, N * sizeof *res);
            have_res1 = 1;
        }
        free(ev);
        free(t);
        free(tc);
        ms_fitter_free(f);
        ms_fit_model_free(&mb);
    }
    if (dump[0] && have_res1) {
        /* text dump for bench_fit_torch.py: sizes, C timings, weights ([out, in]), the
         * spectra (flux and ivar, 0 where masked), and the C fits (start, end, evaluations) */
        FILE *o = fopen(dump, "w");
        if (!o) return 1;
        fprintf(o, "dims %zu %zu %zu %zu %zu %.17g %.17g %.17g %d\n", D, H, L, n, N, m.wave_start,
                m.wave_step, cfg.fit.fit_rv ? fmax(cfg.fit.rv_window, cfg.fit.rv_scan_range) : 0.0,
                cfg.fit.fit_rv);
        for (size_t k = 0; k < n_ct; k++) fprintf(o, "ctime %zu %.6f %.3f\n", ct_b[k], ct_ms[k], ct_ev[k]);
        for (size_t j = 0; j < D; j++) fprintf(o, "range %.17g %.17g\n", e.x_min[j], e.x_max[j]);
        for (size_t l = 0; l <= L; l++) {
            size_t ni = l == 0 ? D : H, no = l == L ? n : H;
            const float *w = ms_payne_w(&e.net, l), *b = ms_payne_b(&e.net, l);
            fprintf(o, "w%zu", l);
            for (size_t k = 0; k < ni * no; k++) fprintf(o, " %.9g", w[k]);
            fprintf(o, "\nb%zu", l);
            for (size_t k = 0; k < no; k++) fprintf(o, " %.9g", b[k]);
            fprintf(o, "\n");
        }
        for (size_t i = 0; i < N; i++) {
            const ms_fit_result *q = &res1[i];
            int okm;
            fprintf(o, "spec %zu", i);
            for (size_t p = 0; p < n; p++) {
                okm = isfinite(flux[i * n + p]) && !mask[p];
                fprintf(o, " %.9g", okm ? flux[i * n + p] : 0.0);
            }
            fprintf(o, "\nivar %zu", i);
            for (size_t p = 0; p < n; p++) {
                okm = isfinite(flux[i * n + p]) && !mask[p];
                fprintf(o, " %.9g", okm ? ivar[i * n + p] : 0.0);
            }
            fprintf(o, "\nfit %zu %ld %zu", i, q->evaluations, q->n_good);
            for (size_t j = 0; j < D; j++) fprintf(o, " %.17g", (q->labels[j] - e.x_min[j]) / (e.x_max[j] - e.x_min[j]) - 0.5);
            fprintf(o, " %.17g %.17g", q->dv, q->chi2);
            fprintf(o, "\nstart %zu", i);
            for (size_t j = 0; j < D; j++) fprintf(o, " %.17g", (q->start_labels[j] - e.x_min[j]) / (e.x_max[j] - e.x_min[j]) - 0.5);
            fprintf(o, " %.17g %.17g\n", q->start_dv, q->start_chi2);
        }
        fclose(o);
    }
    ms_fit_model_free(&m);
    ms_emulator_free(&e);
    free(res1);
    free(flux);
    free(ivar);
    free(x);
    free(y);
    free(dv);
    free(sh);
    free(res);
    free(mask);
    return 0;
}
