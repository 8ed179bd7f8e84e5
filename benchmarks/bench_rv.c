/* bench_rv.c: CPU time per spectrum of the RV module (rv.h) on the native view of a store:
 * TM with its errors (ms_rv_tm), and the whole module (ms_rv_measure_all: TM, the line
 * methods, TML7500 where needed). Prints the medians and the per-spectrum TM results as
 * CSV for benchmarks/bench_rv_numpy.py to compare.
 *
 * usage: bench_rv STORE.h5 TEMPLATES N_SPECTRA [OUT.csv] */
#include "bench_util.h"
#include "mstars/h5.h"
#include "mstars/mem.h"
#include "mstars/native.h"
#include "mstars/rv.h"
#include "mstars/schema.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_rv STORE.h5 TEMPLATES N_SPECTRA [OUT.csv]\n");
        return 2;
    }
    ms_rv_settings s;
    ms_rv_settings_default(&s);
    ms_rv_library lib;
    double t0 = cpu_s();
    if (ms_rv_library_load(argv[2], &s, &lib) != MS_OK) {
        fprintf(stderr, "%s\n", ms_error_message());
        return 1;
    }
    ms_rv_engine *e;
    if (ms_rv_engine_alloc(&lib, &s, &e) != MS_OK) return 1;
    double t_load = cpu_s() - t0;
    ms_h5 *f;
    if (ms_h5_open_read(argv[1], 0, &f) != MS_OK) {
        fprintf(stderr, "%s\n", ms_error_message());
        return 1;
    }
    int rank;
    size_t dims[2];
    if (ms_h5_dims(f, MS_STORE_NATIVE_FLUX, &rank, dims) != MS_OK) {
        fprintf(stderr, "%s\n", ms_error_message());
        return 1;
    }
    size_t n = (size_t)atol(argv[3]);
    if (n > dims[0]) n = dims[0];
    float *flux = malloc(n * MS_NATIVE_NPIX * sizeof *flux), *ivar = malloc(n * MS_NATIVE_NPIX * sizeof *ivar);
    uint8_t *mask = malloc(n * MS_NATIVE_NPIX);
    double *z = malloc(n * sizeof *z), *t_tm = malloc(n * sizeof *t_tm), *t_all = malloc(n * sizeof *t_all);
    if (ms_h5_read_rows(f, MS_STORE_NATIVE_FLUX, MS_H5_F32, 0, 0, n, flux) != MS_OK ||
        ms_h5_read_rows(f, MS_STORE_NATIVE_IVAR, MS_H5_F32, 0, 0, n, ivar) != MS_OK ||
        ms_h5_read_rows(f, MS_STORE_NATIVE_MASK, MS_H5_U8, 0, 0, n, mask) != MS_OK ||
        ms_h5_read_rows(f, MS_META_Z, MS_H5_F64, 0, 0, n, z) != MS_OK) {
        fprintf(stderr, "%s\n", ms_error_message());
        return 1;
    }
    FILE *out = argc > 4 ? fopen(argv[4], "w") : NULL;
    if (out) fprintf(out, "row,rv_init,rv,e_rv,chi2,template\n");
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        ms_rv_native sp = {flux + i * MS_NATIVE_NPIX, ivar + i * MS_NATIVE_NPIX, mask + i * MS_NATIVE_NPIX};
        size_t good = 0;
        for (size_t k = 0; k < MS_NATIVE_NPIX; k++) good += sp.mask[k] == 0;
        if (good < 1000) continue;
        ms_rv_tm_result r;
        double a = cpu_s();
        ms_rv_tm(e, &sp, 0.0, &r);
        double b = cpu_s();
        ms_rv_measurements meas;
        double vz = z[i] * 299792.458;
        ms_rv_measure_all(e, &sp, fabs(vz) < 3000 ? vz : NAN, NAN, &meas);
        double c = cpu_s();
        t_tm[m] = b - a;
        t_all[m] = c - b;
        m++;
        if (out)
            fprintf(out, "%zu,%.6f,%.6f,%.6f,%.9g,%s\n", i, r.rv_init, r.rv, r.e_rv, r.chi2,
                    r.template_index >= 0 ? lib.t[r.template_index].name : "");
    }
    if (out) fclose(out);
    printf("bench_rv: %zu spectra, %zu templates, library load + shifted templates %.2f s CPU\n", m,
           lib.n, t_load);
    printf("bench_rv: TM incl. errors  median %.2f ms CPU per spectrum\n", 1e3 * median(t_tm, m));
    printf("bench_rv: whole module     median %.2f ms CPU per spectrum (TM, DSAL I/II, DSEL, "
           "TML7500 where needed)\n", 1e3 * median(t_all, m));
    ms_h5_close(f);
    ms_rv_engine_free(e);
    ms_rv_library_free(&lib);
    free(flux);
    free(ivar);
    free(mask);
    free(z);
    free(t_tm);
    free(t_all);
    return 0;
}
