/* fit_testlib.h: models and spectra for the fit tests.
 *
 * tm_model: a smooth analytic "M-dwarf-like" model through the fitter's interface: 4 labels
 * (teff, logg, m_h, alpha_m over 2800-4000 K, 4.5-5.5, -1-0.5, 0-0.4), 2901 pixels on the
 * 1 A grid 6000-8900 A; flux = 1 - gain sum_k d_k(x) g_k(lambda) with Gaussian lines and
 * bands g_k and depths d_k = a_k sigmoid(o_k + c_k . x) (analytic Jacobian and vjp).
 * Optional per-spectrum gain (exercises the ids of a per-spectrum model) and a poisoned
 * spectrum id whose rows come out NaN.
 *
 * tm_payne: a small Payne emulator (ms_payne_init + random weights) made spectrum-like:
 * output weights smoothed along the pixels and an absorption pattern in the output bias. */
#ifndef MSTARS_FIT_TESTLIB_H
#define MSTARS_FIT_TESTLIB_H

#include "test_util.h"

#include "mstars/fit.h"
#include "mstars/nn.h"

#include <stddef.h>

#define TM_D 4
#define TM_NPIX 2901
#define TM_NLINES 140

typedef struct {
    size_t n_lines;
    double amp[TM_NLINES], off[TM_NLINES], c[TM_NLINES][TM_D];
    size_t p0[TM_NLINES], len[TM_NLINES]; /* pixel span of each profile */
    double *prof;                         /* [n_lines, max len] profile values */
    size_t max_len;
    size_t max_batch;
    int per_spectrum;
    const double *gain;                   /* [n_gain] per spectrum (per_spectrum) */
    size_t n_gain;
    long poison;                          /* spectrum id whose rows are NaN (-1: none) */
    float *jac;                           /* [max_batch, D, n] kept for vjp */
    size_t last_B;
    size_t rows;                          /* rows evaluated */
    size_t begins;                        /* begin() calls */
} tm_model;

/* Build the analytic model (seeded) and its interface view. */
void tm_model_make(tm_model *t, ms_fit_model *m, size_t max_batch, uint64_t seed);
void tm_model_free(tm_model *t);

/* flux [n] = the model at scaled labels x [D] seen at residual velocity dv (km/s) through
 * the fitter's own Doppler shift (NaN where the shift leaves the grid). */
void tm_observe(const ms_fit_model *m, const double *x, double dv, float *flux);

/* A Payne emulator of D labels, hidden width H, 2 layers on the same grid, with the
 * ranges of tm_model. */
void tm_payne_make(ms_emulator *e, size_t D, size_t H, uint64_t seed);

/* The default fit configuration (config defaults). */
ms_cfg_fit tm_cfg(void);

/* Uniform random scaled labels in [-a, a]^D. */
void tm_random_x(ms_nn_rng *r, double a, size_t D, double *x);

#endif
