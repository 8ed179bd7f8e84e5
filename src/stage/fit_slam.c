/* fit_slam.c: the driver of `mstars fit-slam` (slam_job.h): every spectrum of a store fitted
 * with a SLAM model into a resumable catalog (identification columns + the `slam` group). */
#include "mstars/catalog.h"
#include "mstars/h5.h"
#include "mstars/hash.h"
#include "mstars/join_io.h"
#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/par.h"
#include "mstars/schema.h"
#include "mstars/slam_job.h"
#include "mstars/workq.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

extern const ms_column_group ms_group_slam;

typedef struct {
    const ms_slam_model *m;
    ms_slam_ws *ws;
    ms_slam_fit_opts fo;
    ms_h5 *store;
    ms_catalog *cat;
    size_t n_rows, chunk, n_pix;
    int slot[MS_SLAM_MAX_LABELS];
    uint8_t *mask;
    float *flux, *ivar;
    double *col;
    int32_t *status;
    char (*obsid)[32];
    char (*key)[MS_KEY_LEN];
    ms_slam_row *rows;
    long fitted, flagged, skipped;
} fit_ctx;

static ms_status read_col(fit_ctx *c, const char *name, size_t row0, size_t n, size_t off)
{
    MS_TRY(ms_h5_read_rows(c->store, name, MS_H5_F64, 0, row0, n, c->col));
    for (size_t i = 0; i < n; i++) memcpy((char *)&c->rows[i] + off, &c->col[i], sizeof(double));
    return MS_OK;
}

static ms_status do_chunk(void *vctx, size_t chunk, long *n_failed)
{
    fit_ctx *c = vctx;
    const size_t row0 = chunk * c->chunk, n = c->n_rows - row0 < c->chunk ? c->n_rows - row0 : c->chunk;
    const size_t P = c->n_pix;
    MS_TRY(ms_h5_read_rows(c->store, MS_STORE_FLUX, MS_H5_F32, 0, row0, n, c->flux));
    MS_TRY(ms_h5_read_rows(c->store, MS_STORE_IVAR, MS_H5_F32, 0, row0, n, c->ivar));
    MS_TRY(ms_h5_read_rows(c->store, MS_META_STATUS, MS_H5_I32, 0, row0, n, c->status));
    MS_TRY(ms_h5_read_rows(c->store, MS_META_OBSID, MS_H5_STR, 32, row0, n, c->obsid));
    MS_TRY(ms_store_read_keys(c->store, row0, n, c->key));
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
        if (c->status[i] != 0) {
            r->flags = MS_SLAM_FLAG_NOT_FITTED;
            c->skipped++;
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
        c->fitted++;
        if (res.flags & (MS_SLAM_FLAG_FAILED | MS_SLAM_FLAG_NOT_FITTED)) {
            c->flagged++;
            (*n_failed)++;
        }
    }
    return ms_catalog_write_chunk(c->cat, chunk, row0, n, c->rows);
}

static ms_status open_inputs(const ms_slam_fit_job_opts *o, ms_slam_model *m, fit_ctx *c)
{
    MS_TRY(ms_slam_model_read(o->model, m));
    MS_TRY(ms_h5_open_read(o->spectra, 0, &c->store));
    int rank;
    size_t dims[2];
    MS_TRY(ms_h5_dims(c->store, MS_STORE_FLUX, &rank, dims));
    if (rank != 2 || dims[1] != m->n_pix)
        MS_ERROR(MS_EINVAL, "%s has %zu pixels per spectrum but the SLAM model %s has %zu: ingest "
                 "with the same preprocess settings", o->spectra, rank == 2 ? dims[1] : 0,
                 o->model, m->n_pix);
    c->n_rows = dims[0];
    if (o->limit > 0 && o->limit < c->n_rows) c->n_rows = o->limit;
    c->n_pix = m->n_pix;
    double *w = ms_malloc_array("slam.wave", m->n_pix, sizeof(double));
    if (!w) return MS_ENOMEM;
    ms_status st = ms_h5_read_rows(c->store, MS_STORE_WAVELENGTH, MS_H5_F64, 0, 0, m->n_pix, w);
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
    MS_TRY(ms_h5_read_rows(c->store, MS_STORE_FIT_MASK, MS_H5_U8, 0, 0, m->n_pix, c->mask));
    for (size_t d = 0; d < m->n_labels; d++) c->slot[d] = ms_slam_label_slot(m->label_names[d]);
    return ms_slam_ws_alloc(m, &c->ws);
}

ms_status ms_slam_fit_job(const ms_config *cfg, const ms_slam_fit_job_opts *o,
                          ms_slam_fit_summary *sum)
{
    memset(sum, 0, sizeof *sum);
    double t0 = ms_par_wtime();
    ms_slam_model m;
    ms_slam_model_init(&m);
    fit_ctx c;
    memset(&c, 0, sizeof c);
    c.m = &m;
    c.chunk = (size_t)cfg->run.chunk_size;
    ms_slam_fit_opts_default(&c.fo);
    ms_catalog_column *cols = NULL;
    uint8_t *done = NULL;
    size_t *pending = NULL;
    ms_status st = ms_par_any_failed(open_inputs(o, &m, &c));
    if (st == MS_OK) {
        size_t ni = 0, ns = 0;
        while (ms_slam_id_columns[ni].name) ni++;
        while (ms_group_slam.cols[ns].name) ns++;
        cols = ms_malloc_array("slam.cols", ni + ns + 1, sizeof *cols);
        st = ms_par_any_failed(cols ? MS_OK : MS_ENOMEM);
        if (st == MS_OK) {
            memcpy(cols, ms_slam_id_columns, ni * sizeof *cols);
            memcpy(cols + ni, ms_group_slam.cols, (ns + 1) * sizeof *cols);
        }
    }
    const size_t n_chunks = c.chunk ? (c.n_rows + c.chunk - 1) / c.chunk : 0;
    if (st == MS_OK) {
        ms_log0_info("fit-slam: %zu spectra of %s, SLAM model %s (%zu labels, %zu training "
                     "spectra, set %s), %d rank(s), chunks of %zu", c.n_rows, o->spectra, o->model,
                     m.n_labels, m.n_train, m.train_hash, ms_par_size(), c.chunk);
        uint64_t h = ms_hash_bytes(MS_HASH_INIT, m.train_hash, sizeof m.train_hash);
        h = ms_hash_bytes(h, m.grid, strlen(m.grid));
        h = ms_hash_bytes(h, &c.n_rows, sizeof c.n_rows);
        ms_catalog_opts co = {o->out, cols, sizeof(ms_slam_row), c.n_rows, c.chunk, h, o->resume};
        st = ms_catalog_open(&co, &c.cat, &done);
    }
    if (st == MS_OK) {
        pending = ms_malloc_array("slam.pending", n_chunks + 1, sizeof *pending);
        st = ms_par_any_failed(pending ? MS_OK : MS_ENOMEM);
        size_t n_pending = 0, rows_pending = 0;
        for (size_t k = 0; st == MS_OK && k < n_chunks; k++)
            if (!done[k]) {
                pending[n_pending++] = k;
                rows_pending += k + 1 == n_chunks ? c.n_rows - k * c.chunk : c.chunk;
            }
        if (st == MS_OK && n_pending < n_chunks)
            ms_log0_info("fit-slam: resume: %zu of %zu chunks were done by earlier runs",
                         n_chunks - n_pending, n_chunks);
        ms_workq_stats ws;
        ms_workq_opts wo = {pending, n_pending, c.chunk, rows_pending, cfg->run.progress_seconds,
                            cfg->run.max_runtime, "spectra"};
        if (st == MS_OK) st = ms_workq_run(&wo, do_chunk, &c, &ws);
        sum->complete = st == MS_OK;
        if (st == MS_EINTERRUPTED) st = MS_OK;
        long counts[3] = {c.fitted, c.flagged, c.skipped};
        if (st == MS_OK) st = ms_par_allreduce_sum_l(counts, 3);
        sum->rows = (long)c.n_rows;
        sum->fitted = counts[0];
        sum->flagged = counts[1];
        sum->skipped = counts[2];
        if (st == MS_OK && sum->complete) {
            ms_h5 *f = ms_catalog_file(c.cat);
            char flags[256] = "";
            for (int k = 0; k < MS_SLAM_N_FLAGS; k++) {
                size_t len = strlen(flags);
                snprintf(flags + len, sizeof flags - len, "%s%d=%s", k ? "," : "", k,
                         ms_slam_flag_names[k]);
            }
            ms_status ast = ms_h5_write_provenance(f, cfg, o->command);
            if (ast == MS_OK) ast = ms_h5_attr_set_str(f, MS_CATALOG_GROUP "/slam_flags", "flag_names", flags);
            if (ast == MS_OK) ast = ms_h5_attr_set_str(f, "/", "slam_model", o->model);
            if (ast == MS_OK) ast = ms_h5_attr_set_str(f, "/", "slam_train_hash", m.train_hash);
            if (ast == MS_OK) ast = ms_h5_attr_set_str(f, "/", "spectra_store", o->spectra);
            st = ms_par_any_failed(ast);
        }
        ms_status fst = ms_catalog_finish(c.cat, sum->complete && st == MS_OK);
        if (st == MS_OK) st = fst;
    }
    sum->seconds = ms_par_wtime() - t0;
    if (c.store) ms_h5_close(c.store);
    ms_slam_ws_free(c.ws);
    void *p[] = {c.mask, c.flux, c.ivar, c.col, c.status, c.obsid, c.key, c.rows, cols, done, pending};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) ms_free(p[i]);
    ms_slam_model_free(&m);
    return st;
}
