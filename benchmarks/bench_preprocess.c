/* bench_preprocess.c: time of the spectrum preprocessing (src/spec) per spectrum.
 *
 * Observed: a LAMOST-like spectrum, 3909 log-linear pixels from 10^3.5682 A in steps of
 * 1e-4 dex (3700-9100 A), an M-dwarf-like shape with bands and lines, Gaussian noise
 * (S/N ~ 30), 25 masked pixels, RV 23.4 km/s -> the default 2901-pixel grid. Timed with
 * a reused workspace (the ingest loop) and through the allocating convenience call.
 * Synthetic: a 0.25 A mock model over 5900-9000 A and a 2 A BT-Settl-like model.
 *
 * Usage: bench_preprocess [runs]   (default 5000; prints median and 10-90% range, us) */
#include "mstars/config.h"
#include "mstars/spec.h"

#include "bench_util.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static uint64_t rng_state = 0x2545F4914F6CDD1DULL;

static double uniform01(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) * 0x1.0p-53;
}

static double gauss(void)
{
    return sqrt(-2.0 * log(uniform01())) * cos(6.283185307179586 * uniform01());
}

/* A smooth red continuum with TiO-like band heads and absorption lines (arbitrary). */
static double mdwarf_shape(double lam)
{
    double f = 1.0 + 0.6 * (lam - 6000.0) / 3000.0;
    const double heads[] = {6159, 6651, 7053, 7666, 8432};
    for (size_t b = 0; b < sizeof heads / sizeof *heads; b++)
        if (lam > heads[b]) f *= 1.0 - 0.25 * exp(-(lam - heads[b]) / 60.0);
    const double lines[] = {6563, 6708, 7665, 7699, 8183, 8195, 8498, 8542, 8662};
    for (size_t l = 0; l < sizeof lines / sizeof *lines; l++)
        f *= 1.0 - 0.4 * exp(-0.5 * pow((lam - lines[l]) / 2.0, 2));
    return 1000.0 * f;
}

static void report(const char *what, double *t, size_t runs)
{
    qsort(t, runs, sizeof *t, cmp_double);
    printf("%-44s median %8.1f us   (10%% %7.1f, 90%% %7.1f; %zu runs)\n", what, 1e6 * t[runs / 2],
           1e6 * t[runs / 10], 1e6 * t[runs * 9 / 10], runs);
}

int main(int argc, char **argv)
{
    size_t runs = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 5000;
    if (runs < 10) runs = 10;
    ms_config cfg;
    if (ms_config_defaults(&cfg) != MS_OK) return 1;
    const ms_cfg_preprocess *p = &cfg.preprocess;

    enum { N = 3909 };
    static double wave[N], flux[N], ivar[N];
    static uint8_t bad[N];
    const double rv = 23.4, dop = ms_spec_doppler(rv);
    for (size_t i = 0; i < N; i++) {
        wave[i] = pow(10.0, 3.5682 + 1e-4 * (double)i);
        double f = mdwarf_shape(wave[i] / dop);
        double sig = f / 30.0;
        flux[i] = f + sig * gauss();
        ivar[i] = 1.0 / (sig * sig);
        bad[i] = (i % 157 == 3);
    }

    ms_spec_work *w;
    if (ms_spec_work_alloc(p, &w) != MS_OK) return 1;
    ms_wgrid g = ms_spec_work_grid(w);
    float *of = malloc(g.n * sizeof *of), *oi = malloc(g.n * sizeof *oi),
          *oc = malloc(g.n * sizeof *oc);
    double *t = malloc(runs * sizeof *t);
    if (!of || !oi || !oc || !t) return 1;
    ms_spec_out out = {of, oi, oc, 0};

    for (size_t r = 0; r < runs; r++) {
        double t0 = now_s();
        ms_status st = ms_spec_preprocess_observed_ws(w, wave, flux, ivar, bad, N, rv, &out);
        t[r] = now_s() - t0;
        if (st != MS_OK) {
            fprintf(stderr, "observed: %s\n", ms_error_message());
            return 1;
        }
    }
    printf("observed spectrum: %d native pixels -> %zu grid pixels, %zu good\n", N, g.n,
           out.n_good);
    report("observed, workspace reused (_ws)", t, runs);
    for (size_t r = 0; r < runs; r++) {
        double t0 = now_s();
        ms_status st = ms_spec_preprocess_observed(p, wave, flux, ivar, bad, N, rv, &out);
        t[r] = now_s() - t0;
        if (st != MS_OK) return 1;
    }
    report("observed, allocating call", t, runs);

    /* synthetic models */
    const double steps[] = {0.25, 2.0};
    for (size_t s = 0; s < 2; s++) {
        size_t m = (size_t)((9000.0 - 5900.0) / steps[s]) + 1;
        double *mw = malloc(m * sizeof *mw), *mf = malloc(m * sizeof *mf);
        if (!mw || !mf) return 1;
        for (size_t i = 0; i < m; i++) {
            mw[i] = 5900.0 + steps[s] * (double)i;
            mf[i] = 1e6 * mdwarf_shape(mw[i]) * (1.0 + 0.1 * sin(mw[i] * 3.1));
        }
        size_t sruns = runs / 5 < 200 ? 200 : runs / 5;
        for (size_t r = 0; r < sruns; r++) {
            double t0 = now_s();
            ms_status st = ms_spec_preprocess_synthetic_ws(w, mw, mf, m, &out);
            t[r] = now_s() - t0;
            if (st != MS_OK) {
                fprintf(stderr, "synthetic: %s\n", ms_error_message());
                return 1;
            }
        }
        char what[64];
        snprintf(what, sizeof what, "synthetic, %.2f A model (%zu points)", steps[s], m);
        report(what, t, sruns);
        free(mw);
        free(mf);
    }

    ms_spec_work_free(w);
    free(of);
    free(oi);
    free(oc);
    free(t);
    return 0;
}
