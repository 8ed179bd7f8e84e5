/* fit_slam.c: the survey method "slam" (survey_methods.h) and the driver of `mstars fit-slam`
 * (slam_job.h): every spectrum of a store fitted with a SLAM model, run by the survey
 * skeleton (survey_job.h) into a resumable catalog (identification columns + the `slam`
 * group), alone or in `fit --methods`. */
#include "mstars/catalog.h"
#include "mstars/h5.h"
#include "mstars/hash.h"
#include "mstars/join_io.h"
#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/par.h"
#include "mstars/schema.h"
#include "mstars/slam_job.h"
#include "survey_methods.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

extern const ms_column_group ms_group_slam;

typedef struct {
    ms_slam_model model;
    const ms_slam_model *m;
    ms_slam_ws *ws;
    ms_slam_fit_opts fo;
    ms_survey_chunk *ck;
    const char *model_path, *spectra;
    size_t n_rows, chunk, n_pix;
    int slot[MS_SLAM_MAX_LABELS];
    uint8_t *mask;
    float *flux, *ivar;
    double *col;
    int32_t *status;
    char (*obsid)[32];
    char (*key)[MS_KEY_LEN];
    ms_slam_row *rows;
} fit_ctx;

enum { N_FITTED, N_FLAGGED, N_SKIPPED };

static ms_status read_col(fit_ctx *c, const char *name, size_t row0, size_t n, size_t off)
{
    (void)row0;
    MS_TRY(ms_survey_rows(c->ck, name, MS_H5_F64, 0, c->col));
    for (size_t i = 0; i < n; i++) memcpy((char *)&c->rows[i] + off, &c->col[i], sizeof(double));
    return MS_OK;
}

static void slam_unfitted(ms_slam_row *r)
{
    for (int k = 0; k < 4; k++) r->label[k] = r->error[k] = r->start[k] = NAN;
    r->chi2 = r->chi2_red = NAN;
    r->n_pix = r->iterations = 0;
    r->flags = MS_SLAM_FLAG_NOT_FITTED;
}

/* One chunk (survey_job.h: run). */
static ms_status slam_run(ms_survey_method *me, ms_survey_chunk *ck, const uint8_t *applies,
                          long *n_failed)
{
    fit_ctx *c = me->state;
    long *cnt = me->counts;
    c->ck = ck;
    const size_t row0 = ck->row0, n = ck->n;
    const size_t P = c->n_pix;
    MS_TRY(ms_survey_rows(ck, MS_STORE_FLUX, MS_H5_F32, 0, c->flux));
    MS_TRY(ms_survey_rows(ck, MS_STORE_IVAR, MS_H5_F32, 0, c->ivar));
    MS_TRY(ms_survey_rows(ck, MS_META_STATUS, MS_H5_I32, 0, c->status));
    MS_TRY(ms_survey_rows(ck, MS_META_OBSID, MS_H5_STR, 32, c->obsid));
    MS_TRY(ms_store_read_keys(ck->store, ck->row0, ck->n, c->key));
    memset(c->rows, 0, n * sizeof *c->rows);
    MS_TRY(read_col(c, MS_META_RA, row0, n, offsetof(ms_slam_row, ra)));
    MS_TRY(read_col(c, MS_META_DEC, row0, n, offsetof(ms_slam_row, dec)));
    MS_TRY(read_col(c, MS_META_SNR_R, row0, n, offsetof(ms_slam_row, snr_r)));
    MS_TRY(read_col(c, MS_META_SNR_I, row0, n, offsetof(ms_slam_row, snr_i)));
    for (size_t i = 0; i < n; i++) {
        ms_slam_row *r = &c->rows[i];
        r->id = (int64_t)(row0 + i);
        memcpy(r->obsid, c->obsid[i], sizeof r->obsid);
        r->obsid[31] = '\0';
        memcpy(r->key, c->key[i], sizeof r->key);
        r->store_status = c->status[i];
        for (int k = 0; k < 4; k++) r->label[k] = r->error[k] = r->start[k] = NAN;
        r->chi2 = r->chi2_red = NAN;
        if (!applies[i]) continue; /* the skeleton calls slam_skip */
        if (c->status[i] != 0) {
            r->flags = MS_SLAM_FLAG_NOT_FITTED;
            cnt[N_SKIPPED]++;
            continue;
        }
        ms_slam_result res;
        MS_TRY(ms_slam_fit(c->m, c->ws, &c->fo, c->flux + i * P, c->ivar + i * P, c->mask, &res));
        for (size_t d = 0; d < c->m->n_labels; d++) {
            if (c->slot[d] < 0) continue;
            r->label[c->slot[d]] = res.label[d];
            r->error[c->slot[d]] = res.error[d];
            r->start[c->slot[d]] = res.start[d];
        }
        r->chi2 = res.chi2;
        r->chi2_red = res.chi2_red;
        r->n_pix = res.n_pix;
        r->iterations = res.iterations;
        r->flags = res.flags;
        cnt[N_FITTED]++;
        if (res.flags & (MS_SLAM_FLAG_FAILED | MS_SLAM_FLAG_NOT_FITTED)) {
            cnt[N_FLAGGED]++;
            (*n_failed)++;
        }
    }
    return MS_OK;
}

static void slam_skip(ms_survey_method *me, void *row)
{
    (void)me;
    slam_unfitted(row);
}

static ms_status open_inputs(const ms_slam_fit_job_opts *o, ms_slam_model *m, fit_ctx *c,
                             ms_h5 *store)
{
    MS_TRY(ms_slam_model_read(o->model, m));
    int rank;
    size_t dims[2];
    MS_TRY(ms_h5_dims(store, MS_STORE_FLUX, &rank, dims));
    if (rank != 2 || dims[1] != m->n_pix)
        MS_ERROR(MS_EINVAL, "%s has %zu pixels per spectrum but the SLAM model %s has %zu: ingest "
                 "with the same preprocess settings", o->spectra, rank == 2 ? dims[1] : 0,
                 o->model, m->n_pix);
    c->n_rows = dims[0];
    if (o->limit > 0 && o->limit < c->n_rows) c->n_rows = o->limit;
    c->n_pix = m->n_pix;
    double *w = ms_malloc_array("slam.wave", m->n_pix, sizeof(double));
    if (!w) return MS_ENOMEM;
    ms_status st = ms_h5_read_rows(store, MS_STORE_WAVELENGTH, MS_H5_F64, 0, 0, m->n_pix, w);
    for (size_t j = 0; st == MS_OK && j < m->n_pix; j++)
        if (fabs(w[j] - m->wavelength[j]) > 1e-6 * w[j])
            st = ms_error_set(MS_EINVAL, __FILE__, __LINE__, "%s and the SLAM model %s have "
                              "different wavelength grids (pixel %zu: %.4f vs %.4f A)",
                              o->spectra, o->model, j, w[j], m->wavelength[j]);
    ms_free(w);
    MS_TRY(st);
    c->mask = ms_malloc_array("slam.mask", m->n_pix, 1);
    c->flux = ms_malloc_array("slam.flux", c->chunk * m->n_pix, sizeof(float));
    c->ivar = ms_malloc_array("slam.ivar", c->chunk * m->n_pix, sizeof(float));
    c->col = ms_malloc_array("slam.col", c->chunk, sizeof(double));
    c->status = ms_malloc_array("slam.status", c->chunk, sizeof(int32_t));
    c->obsid = ms_malloc_array("slam.obsid", c->chunk, sizeof *c->obsid);
    c->key = ms_malloc_array("slam.key", c->chunk, sizeof *c->key);
    c->rows = ms_malloc_array("slam.rows", c->chunk, sizeof *c->rows);
    if (!c->mask || !c->flux || !c->ivar || !c->col || !c->status || !c->obsid || !c->key || !c->rows)
        return MS_ENOMEM;
    MS_TRY(ms_h5_read_rows(store, MS_STORE_FIT_MASK, MS_H5_U8, 0, 0, m->n_pix, c->mask));
    for (size_t d = 0; d < m->n_labels; d++) c->slot[d] = ms_slam_label_slot(m->label_names[d]);
    return ms_slam_ws_alloc(m, &c->ws);
}

static ms_status slam_attributes(ms_survey_method *me, ms_h5 *f, const ms_config *cfg,
                                 const char *command)
{
    const fit_ctx *c = me->state;
    char flags[256] = "";
    for (int k = 0; k < MS_SLAM_N_FLAGS; k++) {
        size_t len = strlen(flags);
        snprintf(flags + len, sizeof flags - len, "%s%d=%s", k ? "," : "", k,
                 ms_slam_flag_names[k]);
    }
    ms_status ast = ms_h5_write_provenance(f, cfg, command);
    if (ast == MS_OK) ast = ms_h5_attr_set_str(f, MS_CATALOG_GROUP "/slam_flags", "flag_names", flags);
    if (ast == MS_OK) ast = ms_h5_attr_set_str(f, "/", "slam_model", c->model_path);
    if (ast == MS_OK) ast = ms_h5_attr_set_str(f, "/", "slam_train_hash", c->m->train_hash);
    if (ast == MS_OK) ast = ms_h5_attr_set_str(f, "/", "spectra_store", c->spectra);
    return ms_par_any_failed(ast);
}

static void slam_free(ms_survey_method *me)
{
    fit_ctx *c = me->state;
    if (!c) return;
    ms_slam_ws_free(c->ws);
    void *p[] = {c->mask, c->flux, c->ivar, c->col, c->status, c->obsid, c->rows};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) ms_free(p[i]);
    ms_slam_model_free(&c->model);
    ms_free(c);
    me->state = NULL;
}

ms_status ms_method_slam_open(const ms_config *cfg, const ms_slam_fit_job_opts *o, ms_h5 *store,
                              size_t chunk, ms_survey_method *me)
{
    (void)cfg;
    memset(me, 0, sizeof *me);
    me->name = "slam";
    me->id_cols = ms_slam_id_columns;
    me->groups[0] = &ms_group_slam;
    me->row_size = sizeof(ms_slam_row);
    me->n_counts = 3;
    me->run = slam_run;
    me->skip = slam_skip;
    me->attributes = slam_attributes;
    me->free = slam_free;
    fit_ctx *c = ms_calloc("slam.state", 1, sizeof *c);
    if (!c) return MS_ENOMEM;
    me->state = c;
    ms_slam_model_init(&c->model);
    c->m = &c->model;
    c->chunk = chunk;
    c->model_path = o->model;
    c->spectra = o->spectra;
    ms_slam_fit_opts_default(&c->fo);
    MS_TRY(open_inputs(o, &c->model, c, store));
    me->rows = c->rows;
    me->n_rows = c->n_rows;
    uint64_t h = ms_hash_bytes(MS_HASH_INIT, c->m->train_hash, sizeof c->m->train_hash);
    h = ms_hash_bytes(h, c->m->grid, strlen(c->m->grid));
    me->hash = ms_hash_bytes(h, &c->n_rows, sizeof c->n_rows);
    return MS_OK;
}

ms_status ms_slam_fit_job(const ms_config *cfg, const ms_slam_fit_job_opts *o,
                          ms_slam_fit_summary *sum)
{
    memset(sum, 0, sizeof *sum);
    double t0 = ms_par_wtime();
    const size_t chunk = (size_t)cfg->run.chunk_size;
    ms_survey_method me;
    memset(&me, 0, sizeof me);
    ms_h5 *store = NULL;
    ms_status st = ms_h5_open_read(o->spectra, 0, &store);
    if (st == MS_OK) st = ms_method_slam_open(cfg, o, store, chunk, &me);
    st = ms_par_any_failed(st);
    if (st == MS_OK) {
        const fit_ctx *c = me.state;
        const ms_slam_model *m = c->m;
        ms_log0_info("fit-slam: %zu spectra of %s, SLAM model %s (%zu labels, %zu training "
                     "spectra, set %s), %d rank(s), chunks of %zu", c->n_rows, o->spectra, o->model,
                     m->n_labels, m->n_train, m->train_hash, ms_par_size(), chunk);
        ms_survey_job_summary js;
        st = ms_survey_run_one(cfg, &me, store, o->spectra, o->out, o->command, "fit-slam",
                               o->resume, 0, &js);
        sum->complete = js.complete;
        sum->rows = (long)c->n_rows;
        sum->fitted = me.counts[N_FITTED];
        sum->flagged = me.counts[N_FLAGGED];
        sum->skipped = me.counts[N_SKIPPED];
    }
    sum->seconds = ms_par_wtime() - t0;
    ms_survey_one_close(&me, store);
    return st;
}
