/* bench_laspm.c: LASPM matching throughput (laspm.h) against a library, one core.
 *
 *   bench_laspm STORE.h5 LIBRARY.h5 N_SPECTRA REPEATS [BEST_OUT.txt]
 *
 * The first N_SPECTRA usable rows of the store, in the library's view, matched (chi2 against
 * every library spectrum with the quadratic recalibration, the five best, their NNLS
 * combination, the errors) REPEATS times; prints the median wall and CPU seconds and
 * spectra per second. BEST_OUT: the best library row of each spectrum (to compare with the
 * numpy peer, benchmarks/bench_laspm_numpy.py). Run with OPENBLAS_NUM_THREADS=1. */
#include "bench_util.h"
#include "mstars/h5.h"
#include "mstars/laspm.h"
#include "mstars/mem.h"
#include "mstars/schema.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: bench_laspm STORE.h5 LIBRARY.h5 N_SPECTRA REPEATS [BEST_OUT]\n");
        return 2;
    }
    const size_t want = (size_t)atol(argv[3]);
    const int reps = atoi(argv[4]);
    ms_laspm_library lib;
    if (ms_laspm_library_read(argv[2], &lib) != MS_OK) {
        fprintf(stderr, "%s\n", ms_error_message());
        return 1;
    }
    ms_h5 *f;
    if (ms_h5_open_read(argv[1], 0, &f) != MS_OK) {
        fprintf(stderr, "%s\n", ms_error_message());
        return 1;
    }
    int rank;
    size_t dims[2];
    ms_h5_dims(f, MS_STORE_FLUX, &rank, dims);
    const size_t np = dims[1], nr = dims[0];
    float *flux = ms_malloc_array("b.flux", want * np, sizeof(float));
    float *ivar = ms_malloc_array("b.ivar", want * np, sizeof(float));
    float *cont = ms_malloc_array("b.cont", np, sizeof(float));
    uint8_t *mask = ms_malloc_array("b.mask", np, 1);
    int32_t *status = ms_malloc_array("b.status", nr, sizeof(int32_t));
    ms_laspm_result *res = ms_malloc_array("b.res", want, sizeof *res);
    ms_h5_read_rows(f, MS_META_STATUS, MS_H5_I32, 0, 0, nr, status);
    ms_h5_read_rows(f, MS_STORE_FIT_MASK, MS_H5_U8, 0, 0, np, mask);
    ms_laspm_opts o;
    ms_laspm_opts_default(&o);
    size_t n = 0;
    for (size_t i = 0; i < nr && n < want; i++) {
        if (status[i] != 0) continue;
        ms_h5_read_rows(f, MS_STORE_FLUX, MS_H5_F32, 0, i, 1, flux + n * np);
        ms_h5_read_rows(f, MS_STORE_IVAR, MS_H5_F32, 0, i, 1, ivar + n * np);
        ms_h5_read_rows(f, MS_STORE_CONTINUUM, MS_H5_F32, 0, i, 1, cont);
        ms_laspm_view(lib.view, lib.wavelength, np, o.wave_min, o.wave_max, flux + n * np,
                      ivar + n * np, cont);
        n++;
    }
    ms_h5_close(f);
    ms_laspm *m;
    double t0 = now_s();
    if (ms_laspm_prepare(&lib, &o, mask, &m) != MS_OK) {
        fprintf(stderr, "%s\n", ms_error_message());
        return 1;
    }
    const double t_prep = now_s() - t0;
    double *wall = malloc(sizeof(double) * (size_t)reps), *cpu = malloc(sizeof(double) * (size_t)reps);
    for (int r = 0; r < reps; r++) {
        double w0 = now_s(), c0 = cpu_s();
        ms_laspm_match(m, n, flux, ivar, NULL, res);
        wall[r] = now_s() - w0;
        cpu[r] = cpu_s() - c0;
    }
    double mw = median(wall, (size_t)reps), mc = median(cpu, (size_t)reps);
    printf("mstars: %zu spectra x %zu library spectra, %zu pixels: prepare %.2f s; match median "
           "wall %.3f s (%.1f spectra/s), CPU %.3f s (%.1f spectra/s/core)\n", n, lib.n,
           np, t_prep, mw, (double)n / mw, mc, (double)n / mc);
    if (argc > 5) {
        FILE *out = fopen(argv[5], "w");
        for (size_t i = 0; out && i < n; i++)
            fprintf(out, "%d %.6g %.6g %.6g\n", res[i].best_index[0], res[i].chi2_best,
                    res[i].label[0], res[i].label[2]);
        if (out) fclose(out);
    }
    ms_laspm_free(m);
    ms_laspm_library_free(&lib);
    return 0;
}
