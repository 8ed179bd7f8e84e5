/* cnn_input.c: the CNN's input from a spectra store: L25's input (seeds_summary.md 1.2 step
 * 4a; cnn.h MS_CNN_INPUT) made by ms_cnn_native_view from the store's native view
 * (/native/flux, ivar, mask, loglam; native.h) and the chosen RV of each row
 * (ms_cnn_choose_rv): the rv catalog's rv_adopted where rv_flag = 1, else the pipeline Z*c. */
#include "cnn_input.h"

#include "mstars/store.h"
#include "mstars/mem.h"
#include "mstars/schema.h"
#include "mstars/spec.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* The rv catalog's rv_adopted and rv_flag, after checking that its rows are this store's. */
static ms_status read_rv(ms_h5 *store, const char *path, const char *rv_path, ms_cnn_input *in)
{
    const size_t N = in->n_rows;
    const char *obs = ms_schema_column("obsid", NULL)->name;
    static const char *need[] = {MS_CATALOG_GROUP "/rv_adopted", MS_CATALOG_GROUP "/rv_flag", NULL};
    ms_h5 *f = NULL;
    char(*a)[32] = NULL, (*b)[32] = NULL;
    MS_TRY(ms_h5_open_read(rv_path, 0, &f));
    ms_status st = MS_OK;
    for (int i = 0; need[i] && st == MS_OK; i++)
        if (!ms_h5_exists(f, need[i]))
            st = ms_error_set(MS_EFORMAT, __FILE__, __LINE__, "%s is not an rv catalog of mstars "
                              "rv: it has no %s", rv_path, need[i]);
    int rank;
    size_t dims[2] = {0, 0};
    if (st == MS_OK) st = ms_h5_dims(f, need[0], &rank, dims);
    if (st == MS_OK && dims[0] != N)
        st = ms_error_set(MS_EFORMAT, __FILE__, __LINE__, "the rv catalog %s has %zu rows, the "
                          "store %s %zu: not the rv catalog of this store", rv_path, dims[0], path, N);
    if (st == MS_OK) {
        in->rv_adopted = ms_malloc_array("cnn.input.rv", N + 1, sizeof(double));
        in->rv_flag = ms_malloc_array("cnn.input.rv_flag", N + 1, sizeof(int32_t));
        a = ms_malloc_array("cnn.input.obsid", N + 1, sizeof *a);
        b = ms_malloc_array("cnn.input.obsid", N + 1, sizeof *b);
        if (!in->rv_adopted || !in->rv_flag || !a || !b) st = MS_ENOMEM;
    }
    if (st == MS_OK) st = ms_h5_read_rows(f, need[0], MS_H5_F64, 0, 0, N, in->rv_adopted);
    if (st == MS_OK) st = ms_h5_read_rows(f, need[1], MS_H5_I32, 0, 0, N, in->rv_flag);
    if (st == MS_OK) st = ms_h5_read_rows(f, obs, MS_H5_STR, 32, 0, N, a);
    if (st == MS_OK) st = ms_h5_read_rows(store, MS_META_OBSID, MS_H5_STR, 32, 0, N, b);
    for (size_t i = 0; st == MS_OK && i < N; i++)
        if (strncmp(a[i], b[i], 32) != 0)
            st = ms_error_set(MS_EFORMAT, __FILE__, __LINE__, "row %zu: OBSID %.32s in the rv "
                              "catalog %s, %.32s in the store %s: not the rv catalog of this "
                              "store", i, a[i], rv_path, b[i], path);
    ms_free(a);
    ms_free(b);
    ms_h5_close(f);
    return st;
}

ms_status ms_cnn_input_open(ms_h5 *store, const char *path, const char *rv_path, int rv_in_job,
                            size_t chunk, ms_cnn_input *in)
{
    memset(in, 0, sizeof *in);
    static const char *const meta[] = {MS_META_Z, MS_META_STATUS, NULL};
    MS_TRY(ms_store_check_native(store, path, meta));
    int rank;
    size_t dims[2];
    MS_TRY(ms_h5_dims(store, MS_STORE_NATIVE_FLUX, &rank, dims));
    in->n_rows = dims[0];
    in->chunk = chunk;
    MS_TRY(ms_h5_read_exact(store, MS_STORE_NATIVE_LOGLAM, MS_H5_F64, 0, MS_NATIVE_NPIX, 0, in->loglam));
    in->view = ms_cnn_view_l25();
    snprintf(in->source, sizeof in->source, "%s", MS_CNN_INPUT);
    snprintf(in->velocity, sizeof in->velocity, "%s",
             rv_path || rv_in_job ? MS_CNN_VEL_RV : MS_CNN_VEL_PIPELINE);
    in->rv_in_job = rv_in_job;
    in->flux = ms_malloc_array("cnn.input.flux", chunk * MS_NATIVE_NPIX, sizeof(float));
    in->ivar = ms_malloc_array("cnn.input.ivar", chunk * MS_NATIVE_NPIX, sizeof(float));
    in->mask = ms_malloc_array("cnn.input.mask", chunk * MS_NATIVE_NPIX, 1);
    in->z = ms_malloc_array("cnn.input.z", chunk, sizeof(double));
    if (!in->flux || !in->ivar || !in->mask || !in->z) return MS_ENOMEM;
    return rv_path ? read_rv(store, path, rv_path, in) : MS_OK;
}

void ms_cnn_input_free(ms_cnn_input *in)
{
    ms_free(in->rv_adopted);
    ms_free(in->rv_flag);
    ms_free(in->flux);
    ms_free(in->ivar);
    ms_free(in->mask);
    ms_free(in->z);
    memset(in, 0, sizeof *in);
}

ms_status ms_cnn_input_check(const ms_cnn_input *in, const ms_cnn_ensemble *e, const char *model,
                             const char *spectra)
{
    if (e->view.n != in->view.n || e->view.lo != in->view.lo || e->view.step != in->view.step ||
        strcmp(e->view_source, in->source) != 0)
        MS_ERROR(MS_EINVAL, "the CNN model %s was trained on the input '%s' (%zu pixels from "
                            "%.0f A, step %g A); %s gives '%s' (%zu pixels from %.0f A, step %g A)",
                 model, e->view_source, e->view.n, e->view.lo, e->view.step, spectra, in->source,
                 in->view.n, in->view.lo, in->view.step);
    if (strcmp(e->input_velocity, in->velocity) != 0)
        MS_ERROR(MS_EINVAL, "the CNN model %s was trained on inputs in the rest frame of '%s'; "
                            "this run would use '%s' (%s): the velocity sources must agree",
                 model, e->input_velocity, in->velocity,
                 in->rv_adopted  ? "--rv given"
                 : in->rv_in_job ? "fit --methods with rv"
                                 : "no --rv; pass the rv catalog with --rv (or fit --methods rv,cnn)");
    return MS_OK;
}

/* The velocity of row i of the chunk and its source (MS_CNN_RV_*): the job's rv method's
 * (v_rest: rv_adopted where rv_flag = 1 (v_rest_rv), else Z*c) where finite, else (no rv method, a row it skipped) the rv catalog's or the pipeline's by
 * ms_cnn_choose_rv (which gives none where the rv method gave NaN). */
static int32_t row_velocity(const ms_cnn_input *in, const ms_survey_chunk *ck, const double *v_rest,
                            const uint8_t *v_rest_rv, size_t i, double *v)
{
    if (v_rest && isfinite(v_rest[i])) {
        *v = v_rest[i];
        return v_rest_rv[i] ? MS_CNN_RV_CATALOG : MS_CNN_RV_PIPELINE;
    }
    const size_t r = ck->row0 + i;
    return ms_cnn_choose_rv(in->rv_adopted ? in->rv_adopted[r] : NAN,
                            in->rv_flag ? in->rv_flag[r] : 0, in->z[i], v);
}

ms_status ms_cnn_input_rows(ms_cnn_input *in, ms_survey_chunk *ck, const int32_t *status,
                            const double *v_rest, const uint8_t *v_rest_rv, float *out,
                            uint8_t *ok, double *rv, int32_t *rv_source)
{
    const size_t n = ck->n;
    if (n > in->chunk) MS_ERROR(MS_EINVAL, "cnn input: %zu rows for chunks of %zu", n, in->chunk);
    const size_t np = MS_NATIVE_NPIX, L = in->view.n;
    MS_TRY(ms_survey_rows(ck, MS_STORE_NATIVE_FLUX, MS_H5_F32, 0, in->flux));
    MS_TRY(ms_survey_rows(ck, MS_STORE_NATIVE_IVAR, MS_H5_F32, 0, in->ivar));
    MS_TRY(ms_survey_rows(ck, MS_STORE_NATIVE_MASK, MS_H5_U8, 0, in->mask));
    MS_TRY(ms_survey_rows(ck, MS_META_Z, MS_H5_F64, 0, in->z));
    for (size_t i = 0; i < n; i++) {
        float *o = out + i * L;
        rv_source[i] = row_velocity(in, ck, v_rest, v_rest_rv, i, &rv[i]);
        if (rv_source[i] == MS_CNN_RV_NONE) rv[i] = NAN;
        ok[i] = (!status || status[i] == 0) && rv_source[i] != MS_CNN_RV_NONE;
        if (ok[i] && ms_cnn_native_view(&in->view, in->loglam, in->flux + i * np, in->ivar + i * np,
                                        in->mask + i * np, np, rv[i], o) != MS_OK) {
            ok[i] = 0;
            ms_error_clear();
        }
        if (!ok[i]) memset(o, 0, L * sizeof(float));
    }
    return MS_OK;
}
