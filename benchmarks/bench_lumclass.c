/* bench_lumclass.c: CPU time per spectrum of the dwarf/giant module (lumclass.h) on the native
 * view of a store: ms_lum_fill_row (the Table 3 indices on the rest-frame native pixels, the
 * verdict, the CMD and the combination), each spectrum REPS times; prints the median per
 * spectrum.
 *
 * usage: bench_lumclass STORE.h5 [REPS] */
#include "bench_util.h"
#include "mstars/h5.h"
#include "mstars/lumclass.h"
#include "mstars/native.h"
#include "mstars/schema.h"
#include "mstars/spec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_lumclass STORE.h5 [REPS]\n");
        return 2;
    }
    int reps = argc > 2 ? atoi(argv[2]) : 200;
    ms_h5 *f;
    int rank;
    size_t dims[2];
    if (ms_h5_open_read(argv[1], 0, &f) != MS_OK ||
        ms_h5_dims(f, MS_STORE_NATIVE_FLUX, &rank, dims) != MS_OK) {
        fprintf(stderr, "%s\n", ms_error_message());
        return 1;
    }
    size_t n = dims[0];
    float *flux = malloc(n * MS_NATIVE_NPIX * sizeof *flux), *ivar = malloc(n * MS_NATIVE_NPIX * sizeof *ivar);
    uint8_t *mask = malloc(n * MS_NATIVE_NPIX);
    double *z = malloc(n * sizeof *z), *t = malloc(n * sizeof *t);
    if (!flux || !ivar || !mask || !z || !t) return 1;
    if (ms_h5_read_rows(f, MS_STORE_NATIVE_FLUX, MS_H5_F32, 0, 0, n, flux) != MS_OK ||
        ms_h5_read_rows(f, MS_STORE_NATIVE_IVAR, MS_H5_F32, 0, 0, n, ivar) != MS_OK ||
        ms_h5_read_rows(f, MS_STORE_NATIVE_MASK, MS_H5_U8, 0, 0, n, mask) != MS_OK ||
        ms_h5_read_rows(f, MS_META_Z, MS_H5_F64, 0, 0, n, z) != MS_OK) {
        fprintf(stderr, "%s\n", ms_error_message());
        return 1;
    }
    ms_cmd_input in;
    ms_cmd_input_init(&in);
    ms_lum_row row;
    double check = 0;
    for (size_t i = 0; i < n; i++) {
        double v = z[i] > -9000 ? z[i] * MS_C_KMS : NAN;
        double t0 = cpu_s();
        for (int r = 0; r < reps; r++) {
            ms_lum_fill_row(&in, flux + i * MS_NATIVE_NPIX, ivar + i * MS_NATIVE_NPIX,
                            mask + i * MS_NATIVE_NPIX, v, NAN, NULL, &row);
            check += isfinite(row.nai) ? row.nai : 0;
        }
        t[i] = (cpu_s() - t0) / reps;
    }
    printf("lumclass: %zu spectra x %d: median %.4f ms per spectrum (ms_lum_fill_row, CPU) "
           "[checksum %.6g]\n", n, reps, 1e3 * median(t, n), check / reps);
    printf("C_MS %.6f\n", 1e3 * median(t, n));
    ms_h5_close(f);
    free(flux);
    free(ivar);
    free(mask);
    free(z);
    free(t);
    return 0;
}
