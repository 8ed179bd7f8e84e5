/* cnn_input.c: the CNN's input view from a spectra store.
 *
 * L25 feeds the CNN 3900-8899 A at 1 A, z-scored, rest frame (seeds_summary.md 1.2 step 4a).
 * The store holds today only the Z25 view (rest frame with the pipeline velocity, 1 A,
 * 6000-8900 A, pseudo-continuum normalised, with the continuum stored): the CNN's view is
 * taken from flux x continuum (the un-normalised flux, as L25 z-scores the spectrum itself)
 * over the overlap of 3900-8899 A with the store's grid. The blue part (3900-6000 A) is
 * missing until ingest stores the native spectra; only this file changes then. */
#include "cnn_input.h"

#include "mstars/mem.h"
#include "mstars/schema.h"
#include "mstars/spec.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define L25_LO 3900.0
#define L25_HI 8899.0
#define MIN_GOOD 0.8

ms_status ms_cnn_input_open(ms_h5 *store, const char *path, size_t chunk, ms_cnn_input *in)
{
    memset(in, 0, sizeof *in);
    static const char *need[] = {MS_STORE_FLUX, MS_STORE_IVAR, MS_STORE_CONTINUUM,
                                 MS_STORE_WAVELENGTH, MS_META_STATUS, NULL};
    for (int i = 0; need[i]; i++)
        if (!ms_h5_exists(store, need[i]))
            MS_ERROR(MS_EFORMAT, "%s is not a spectra store of mstars ingest: it has no %s", path,
                     need[i]);
    int rank;
    size_t dims[2];
    MS_TRY(ms_h5_dims(store, MS_STORE_FLUX, &rank, dims));
    in->n_rows = dims[0];
    in->n_pix = dims[1];
    in->chunk = chunk;
    in->wave = ms_malloc_array("cnn.input.wave", in->n_pix, sizeof(double));
    in->flux = ms_malloc_array("cnn.input.flux", chunk * in->n_pix, sizeof(float));
    in->ivar = ms_malloc_array("cnn.input.ivar", chunk * in->n_pix, sizeof(float));
    in->cont = ms_malloc_array("cnn.input.cont", chunk * in->n_pix, sizeof(float));
    in->rv_init = ms_malloc_array("cnn.input.rv_init", chunk, sizeof(double));
    in->wrow = ms_malloc_array("cnn.input.wrow", in->n_pix, sizeof(double));
    if (!in->wave || !in->flux || !in->ivar || !in->cont || !in->rv_init || !in->wrow)
        return MS_ENOMEM;
    MS_TRY(ms_h5_read_rows(store, MS_STORE_WAVELENGTH, MS_H5_F64, 0, 0, in->n_pix, in->wave));
    const double lo = fmax(L25_LO, ceil(in->wave[0])), hi = fmin(L25_HI, floor(in->wave[in->n_pix - 1]));
    if (!(hi - lo >= 100.0))
        MS_ERROR(MS_EFORMAT, "%s: the store's grid %.1f-%.1f A hardly overlaps the L25 view "
                             "%.0f-%.0f A", path, in->wave[0], in->wave[in->n_pix - 1], L25_LO, L25_HI);
    in->view.lo = lo;
    in->view.step = 1.0;
    in->view.n = (size_t)(hi - lo) + 1;
    snprintf(in->source, sizeof in->source, "Z25 view x continuum, %.0f-%.0f A", lo, hi);
    return MS_OK;
}

void ms_cnn_input_free(ms_cnn_input *in)
{
    ms_free(in->wave);
    ms_free(in->flux);
    ms_free(in->ivar);
    ms_free(in->cont);
    ms_free(in->rv_init);
    ms_free(in->wrow);
    memset(in, 0, sizeof *in);
}

/* The store's rest-frame wavelengths moved to the rest frame of velocity v (km/s): the store
 * removed rv_init, so lambda_rest(v) = lambda_store (1 + rv_init / c) / (1 + v / c). */
static const double *rest_frame(ms_cnn_input *in, double rv_init, double v)
{
    const double s = (1.0 + rv_init / MS_C_KMS) / (1.0 + v / MS_C_KMS);
    for (size_t p = 0; p < in->n_pix; p++) in->wrow[p] = in->wave[p] * s;
    return in->wrow;
}

ms_status ms_cnn_input_rows(ms_cnn_input *in, ms_survey_chunk *ck, const int32_t *status,
                            const double *v_rest, float *out, uint8_t *ok)
{
    const size_t n = ck->n;
    if (n > in->chunk) MS_ERROR(MS_EINVAL, "cnn input: %zu rows for chunks of %zu", n, in->chunk);
    const size_t np = in->n_pix;
    MS_TRY(ms_survey_rows(ck, MS_STORE_FLUX, MS_H5_F32, 0, in->flux));
    MS_TRY(ms_survey_rows(ck, MS_STORE_IVAR, MS_H5_F32, 0, in->ivar));
    MS_TRY(ms_survey_rows(ck, MS_STORE_CONTINUUM, MS_H5_F32, 0, in->cont));
    if (v_rest) MS_TRY(ms_survey_rows(ck, MS_META_RV_INIT, MS_H5_F64, 0, in->rv_init));
    for (size_t i = 0; i < n; i++) {
        float *f = in->flux + i * np, *o = out + i * in->view.n;
        const float *c = in->cont + i * np;
        for (size_t p = 0; p < np; p++) f[p] *= c[p];
        ok[i] = !status || status[i] == 0;
        const double *w = in->wave;
        if (v_rest && isfinite(v_rest[i]) && isfinite(in->rv_init[i]))
            w = rest_frame(in, in->rv_init[i], v_rest[i]);
        if (ok[i] && ms_cnn_view(&in->view, w, f, in->ivar + i * np, np, MIN_GOOD, o) != MS_OK) {
            ok[i] = 0;
            ms_error_clear();
        }
        if (!ok[i]) memset(o, 0, in->view.n * sizeof(float));
    }
    return MS_OK;
}
