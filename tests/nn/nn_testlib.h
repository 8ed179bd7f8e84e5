/* nn_testlib.h: helpers of the nn tests: PyTorch fixture files, comparisons, random fills. */
#ifndef MSTARS_NN_TESTLIB_H
#define MSTARS_NN_TESTLIB_H

#include "test_util.h"

#include "mstars/nn.h"

#include <stddef.h>

typedef struct {
    char name[64];
    int ndim;
    size_t dims[4];
    size_t n;
    double *v; /* [n] */
} nn_fx_array;

typedef struct {
    char path[512];
    size_t n;
    nn_fx_array *a; /* [n] */
} nn_fx;

/* Load tests/fixtures/nn/<name>.txt (fails the test when unreadable). */
nn_fx *nn_fx_load(const char *name);
void nn_fx_free(nn_fx *f);
/* The array `name` (fails the test when absent, or when expect_n > 0 and the size
 * differs). */
const nn_fx_array *nn_fx_get(const nn_fx *f, const char *name, size_t expect_n);
/* A float copy (free with ms_free). */
float *nn_fx_floats(const nn_fx *f, const char *name, size_t expect_n);
/* Integer entries of a small array ("dims"). */
size_t nn_fx_int(const nn_fx *f, const char *name, size_t i);

/* Compare got [n] with want [n]: every |got - want| <= rtol (|want| + max|want|)... see
 * nn_testlib.c; reports the worst element. Returns the largest relative error. */
double nn_check(const float *got, const double *want, size_t n, double rtol, const char *what);
double nn_check_f(const float *got, const float *want, size_t n, double rtol, const char *what);

/* Fill with uniform values in [lo, hi) from rng. */
void nn_fill(float *x, size_t n, double lo, double hi, ms_nn_rng *rng);
/* ms_malloc'd zeroed float array (fails the test on ENOMEM). */
float *nn_zeros(size_t n);

#endif

/* A smooth synthetic "grid": continuum-normalised spectra whose line and band depths vary
 * smoothly with (teff, logg, m_h, alpha_m). Labels on a regular grid of n[0] x n[1] x
 * n[2] x n[3] points over teff 2800-4000, logg 4.5-5.5, m_h -1.0-0.5, alpha_m 0.0-0.4
 * (a count of 1 puts that label at the low end of its range). flux
 * [N, n_pix], labels [N, 4] (teff, logg, m_h, alpha_m), wavelength [n_pix] over
 * 6000-8900 A. Arrays are ms_malloc'd. */
typedef struct {
    size_t n_models, n_pix;
    float *flux;
    double *labels;
    double *wavelength;
} nn_synth;
void nn_synth_make(nn_synth *s, const size_t n[4], size_t n_pix);
void nn_synth_spectrum(const double y[4], const double *wavelength, size_t n_pix, float *flux);
void nn_synth_free(nn_synth *s);
/* Write it as a grid store (h5.h; the layout of `mstars ingest-grid`). Row `bad_row`
 * (if < N) gets /meta/status = 1 and must be skipped by readers. */
void nn_synth_write_store(const nn_synth *s, const char *path, size_t bad_row);
