/* predict_cnn.c: the survey methods "cnn" and "cnn_gm" (survey_methods.h) and the driver of
 * `mstars predict-cnn`: the L25 CNN ensemble run by the survey skeleton (survey_job.h), alone or
 * in `fit --methods` (there the view's rest frame is the rv method's velocity). cnn_gm is L25's
 * second ensemble, the M giants' (a gM model), in the same job as cnn (the dwarfs'): the same
 * code under its own name, column group (cnn_gm_*) and root attributes. Chunks of store
 * rows are handed out by the work queue; each rank makes the views of its chunk, runs the
 * ensemble batched, and writes the rows into the resumable catalog. When every chunk is done, the
 * parameter_flag pass (L25 1.5, cnn.h) runs over the whole catalog: its Eq. 3 regressions
 * are catalog-wide statistics. Every row depends only on its own spectrum, so the catalog is
 * the same for any rank count and chunk size. */
#include "mstars/catalog.h"
#include "mstars/cnn.h"
#include "mstars/h5.h"
#include "mstars/hash.h"
#include "mstars/join_io.h"
#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/par.h"
#include "mstars/schema.h"
#include "mstars/stage.h"

#include "cnn_input.h"
#include "survey_methods.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define BATCH 32

/* ------------------------------------------------------------- the catalog row */
typedef struct {
    int64_t id;
    char obsid[32];
    char key[MS_KEY_LEN];
    double snr_i;
    double value[MS_N_LABELS], error[MS_N_LABELS]; /* teff, logg, m_h, alpha_m */
    double error_ens[MS_N_LABELS];                  /* the ensemble's standard deviation */
    double rv;                                      /* km/s of the input's rest frame */
    int32_t parameter_flag, n_models, rv_source;
    int32_t store_status; /* the store's /meta/status (a column shared with the other methods) */
} cnn_row;

#define V(name, k, field, units, desc)                                                      \
    {MS_CATALOG_GROUP "/" name, MS_H5_F64, 0, offsetof(cnn_row, field) + (k) * sizeof(double), \
     units, desc}

/* The columns of one ensemble's group: P the column prefix ("cnn"; "cnn_gm" for the M giants'
 * ensemble of fit --methods), FLAG its parameter_flag column, W the ensemble in the
 * descriptions. Indices (flag_pass): [2k] value of label k, [8] parameter_flag, [10 + k] the
 * ensemble spread of label k. */
#define CNN_COLUMNS(P, FLAG, W)                                                                 \
    V(P "_teff", 0, value, "K", "Teff: mean of the " W "'s predictions (L25)"),                 \
    V("e_" P "_teff", 0, error, "K", "calibrated Teff error: the model's error model (e^2 = "    \
      "(s std)^2 + floor^2, fitted to the out-of-fold residuals) on the ensemble spread"),      \
    V(P "_logg", 1, value, "dex", "log g: mean of the " W "'s predictions"),                    \
    V("e_" P "_logg", 1, error, "dex", "calibrated log g error (as e_" P "_teff)"),             \
    V(P "_m_h", 2, value, "dex", "[M/H]: mean of the " W "'s predictions"),                     \
    V("e_" P "_m_h", 2, error, "dex", "calibrated [M/H] error (as e_" P "_teff)"),              \
    V(P "_alpha_m", 3, value, "dex", "[alpha/M]: mean of the " W "'s predictions (NaN when "    \
      "the model was trained without it)"),                                                     \
    V("e_" P "_alpha_m", 3, error, "dex", "calibrated [alpha/M] error (as e_" P "_teff)"),      \
    {MS_CATALOG_GROUP "/" FLAG, MS_H5_I32, 0, offsetof(cnn_row, parameter_flag), "",           \
     "L25 1.5 (" W "): 1 = recommended (error within mean + 3 std of the Eq. 3 error model of " \
     "its S/N_i bin for every label, and every label in the class's Table 10 range); 0 "        \
     "otherwise, S/N_i <= 0 or not predicted"},                                                 \
    {MS_CATALOG_GROUP "/" P "_n_models", MS_H5_I32, 0, offsetof(cnn_row, n_models), "",        \
     "models in the " W " (0: not predicted: unusable row, no view, or not applicable)"},       \
    V("e_" P "_teff_ens", 0, error_ens, "K", "standard deviation of the " W "'s Teff "          \
      "predictions (L25's error; 2-6x smaller than the actual error: use e_" P "_teff)"),       \
    V("e_" P "_logg_ens", 1, error_ens, "dex", "standard deviation of the " W "'s log g "       \
      "predictions"),                                                                           \
    V("e_" P "_m_h_ens", 2, error_ens, "dex", "standard deviation of the " W "'s [M/H] "        \
      "predictions"),                                                                           \
    V("e_" P "_alpha_m_ens", 3, error_ens, "dex", "standard deviation of the " W "'s "          \
      "[alpha/M] predictions"),                                                                 \
    {MS_CATALOG_GROUP "/" P "_rv", MS_H5_F64, 0, offsetof(cnn_row, rv), "km/s",                \
     "velocity of the input's rest frame (NaN: none, or not applicable)"},                      \
    {MS_CATALOG_GROUP "/" P "_rv_source", MS_H5_I32, 0, offsetof(cnn_row, rv_source), "",      \
     "source of " P "_rv: 1 the rv catalog's rv_adopted (rv_flag = 1) or the rv method's (fit " \
     "--methods), 2 the pipeline Z*c, 0 none"},                                                 \
    {NULL, 0, 0, 0, NULL, NULL}

static const ms_catalog_column cnn_columns[] = {
    CNN_COLUMNS("cnn", "parameter_flag", "CNN ensemble")};
/* fit --methods cnn_gm: L25's second ensemble, trained on M giants (train-cnn --class gM) */
static const ms_catalog_column cnn_gm_columns[] = {
    CNN_COLUMNS("cnn_gm", "cnn_gm_parameter_flag", "M giants' CNN ensemble")};
#undef CNN_COLUMNS
#undef V

const ms_column_group ms_group_cnn = {
    "cnn", "Li et al. 2025: ten-fold CNN ensemble (mean, calibrated error, spread), parameter_flag",
    cnn_columns, sizeof(cnn_row), NULL};
const ms_column_group ms_group_cnn_gm = {
    "cnn_gm", "Li et al. 2025: the M giants' (gM) CNN ensemble of fit --methods cnn_gm, run on "
    "the rows the job's classifiers call giants (columns as the group cnn)",
    cnn_gm_columns, sizeof(cnn_row), NULL};

/* The two survey methods of this file: the ensemble (predict-cnn, fit --methods cnn) and the
 * M giants' ensemble (fit --methods cnn_gm): their name, group, and root attribute names. */
typedef struct {
    const char *name;
    const ms_column_group *group;
    const char *attr; /* root attribute prefix: cnn_model, cnn_gm_model, ... */
    const char *counts;
} cnn_variant;

static const cnn_variant variant_cnn = {"cnn", &ms_group_cnn, "cnn",
                                        "counts_rows_predicted_skipped"};
static const cnn_variant variant_gm = {"cnn_gm", &ms_group_cnn_gm, "cnn_gm",
                                       "counts_cnn_gm_rows_predicted_skipped"};

/* The row's identity columns are the z25 group's (one spelling of each name), at this row's
 * offsets ({NULL}-terminated; the group's columns follow them in the catalog). */
static ms_status catalog_columns(ms_catalog_column **out)
{
    static const struct {
        const char *name;
        size_t offset;
    } ident[] = {{"id", offsetof(cnn_row, id)},
                 {"obsid", offsetof(cnn_row, obsid)},
                 {"key", offsetof(cnn_row, key)},
                 {"snr_i", offsetof(cnn_row, snr_i)},
                 {"store_status", offsetof(cnn_row, store_status)}};
    const size_t ni = sizeof ident / sizeof ident[0];
    size_t nc = 0;
    while (cnn_columns[nc].name) nc++;
    ms_catalog_column *c = ms_malloc_array("cnn.columns", ni + nc + 1, sizeof *c);
    if (!c) return MS_ENOMEM;
    for (size_t k = 0; k < ni; k++) {
        const ms_catalog_column *s = ms_schema_column(ident[k].name, NULL);
        if (!s) {
            ms_free(c);
            MS_ERROR(MS_ENOTFOUND, "schema: no column %s", ident[k].name);
        }
        c[k] = *s;
        c[k].offset = ident[k].offset;
    }
    c[ni] = cnn_columns[nc]; /* the {NULL} end: the skeleton adds the group's columns */
    *out = c;
    return MS_OK;
}

/* ------------------------------------------------------------- per-rank state */
typedef struct {
    ms_cnn_ensemble ens;
    const ms_cnn_ensemble *e;
    const cnn_variant *v;
    int slot[MS_CNN_MAX_OUT]; /* model label -> catalog slot, -1 none */
    ms_predict_cnn_args a;
    long flagged;
    ms_cnn_input in;
    ms_cnn_ws *ws;
    size_t n_rows, chunk, L, D;
    ms_catalog_column *id_cols; /* the identity columns of the catalog (catalog_columns) */
    float *x, *xb, *scratch;  /* [chunk, L], [BATCH, L], [K BATCH D] */
    double *mean, *sd;        /* [BATCH, D] */
    uint8_t *ok;
    size_t *use;
    int32_t *status;
    char (*obsid)[32];
    char (*key)[MS_KEY_LEN];
    double *snr_i, *rv;
    int32_t *rv_source;
    cnn_row *rows;
} state;

enum { N_PREDICTED, N_SKIPPED };

static ms_status state_alloc(state *s)
{
    const size_t c = s->chunk, K = s->e->n_models;
#define ALLOC(p, count) \
    if (!((p) = ms_malloc_array("cnn.predict." #p, (count) + 1, sizeof *(p)))) return MS_ENOMEM
    ALLOC(s->x, c * s->L);
    ALLOC(s->xb, BATCH * s->L);
    ALLOC(s->scratch, K * BATCH * s->D);
    ALLOC(s->mean, BATCH * s->D);
    ALLOC(s->sd, BATCH * s->D);
    ALLOC(s->ok, c);
    ALLOC(s->use, c);
    ALLOC(s->status, c);
    ALLOC(s->obsid, c);
    ALLOC(s->key, c);
    ALLOC(s->snr_i, c);
    ALLOC(s->rv, c);
    ALLOC(s->rv_source, c);
    ALLOC(s->rows, c);
#undef ALLOC
    return ms_cnn_ws_alloc(&s->e->net[0].arch, BATCH, &s->ws);
}

static void state_free(state *s)
{
    void *p[] = {s->x, s->xb, s->scratch, s->mean, s->sd, s->ok, s->use, s->status, s->obsid,
                 s->key, s->snr_i, s->rv, s->rv_source, s->rows, s->id_cols};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) ms_free(p[i]);
    ms_cnn_ws_free(s->ws);
    ms_cnn_input_free(&s->in);
}

/* One chunk of work (survey_job.h: run). */
static ms_status cnn_run(ms_survey_method *me, ms_survey_chunk *ck, const uint8_t *applies,
                         long *n_failed)
{
    state *s = me->state;
    long *cnt = me->counts;
    const size_t row0 = ck->row0, L = s->L, D = s->D;
    const size_t n = ck->n;
    MS_TRY(ms_survey_rows(ck, MS_META_STATUS, MS_H5_I32, 0, s->status));
    MS_TRY(ms_survey_rows(ck, MS_META_OBSID, MS_H5_STR, 32, s->obsid));
    MS_TRY(ms_store_read_keys(ck->store, row0, n, s->key));
    MS_TRY(ms_survey_rows(ck, MS_META_SNR_I, MS_H5_F64, 0, s->snr_i));
    /* the rest frames: the job's rv method's velocities in fit --methods (ck->v_start), else
     * the rv catalog's of --rv or the pipeline's (ms_cnn_choose_rv) */
    const int job_rv = s->in.rv_in_job && ck->v_start;
    MS_TRY(ms_cnn_input_rows(&s->in, ck, s->status, job_rv ? ck->v_start : NULL,
                             job_rv ? ck->v_start_rv : NULL, s->x, s->ok, s->rv, s->rv_source));
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        cnn_row *r = &s->rows[i];
        memset(r, 0, sizeof *r);
        r->id = (int64_t)(row0 + i);
        memcpy(r->obsid, s->obsid[i], sizeof r->obsid);
        r->obsid[31] = '\0';
        memcpy(r->key, s->key[i], sizeof r->key);
        r->snr_i = s->snr_i[i];
        r->store_status = s->status[i];
        for (int k = 0; k < MS_N_LABELS; k++) r->value[k] = r->error[k] = r->error_ens[k] = NAN;
        r->rv = s->rv[i];
        r->rv_source = s->rv_source[i];
        if (!applies[i]) continue; /* the skeleton calls cnn_skip */
        if (s->ok[i]) {
            s->use[m++] = i;
        } else {
            cnt[N_SKIPPED]++;
            ++*n_failed;
        }
    }
    for (size_t b0 = 0; b0 < m; b0 += BATCH) {
        const size_t B = m - b0 < BATCH ? m - b0 : BATCH;
        for (size_t b = 0; b < B; b++)
            memcpy(s->xb + b * L, s->x + s->use[b0 + b] * L, L * sizeof(float));
        MS_TRY(ms_cnn_ensemble_predict(s->e, s->ws, s->xb, B, s->scratch, s->mean, s->sd));
        for (size_t b = 0; b < B; b++) {
            cnn_row *r = &s->rows[s->use[b0 + b]];
            for (size_t j = 0; j < D; j++) {
                if (s->slot[j] < 0) continue;
                r->value[s->slot[j]] = s->mean[b * D + j];
                r->error[s->slot[j]] = ms_cnn_calibrated_error(s->e, j, s->sd[b * D + j]);
                r->error_ens[s->slot[j]] = s->sd[b * D + j];
            }
            r->n_models = (int32_t)s->e->n_models;
            cnt[N_PREDICTED]++;
        }
    }
    return MS_OK;
}

/* Not applicable: NaN values and rest frame, cnn_n_models 0 (not predicted), parameter_flag 0,
 * rv_source 0 (the method's columns null, as methods_skipped says). */
static void cnn_skip(ms_survey_method *me, void *row)
{
    (void)me;
    cnn_row *r = row;
    for (int k = 0; k < MS_N_LABELS; k++) r->value[k] = r->error[k] = r->error_ens[k] = NAN;
    r->n_models = 0;
    r->parameter_flag = 0;
    r->rv = NAN;
    r->rv_source = MS_CNN_RV_NONE;
}

/* ------------------------------------------------------------- parameter_flag pass */

/* Collective, after the last chunk: every rank reads the whole catalog's values and ensemble
 * spreads (L25's Eq. 3 models the ensemble's standard deviation; rows written
 * by other ranks made visible by sync-barrier-sync), computes the same flags, and writes its
 * slice. */
static ms_status flag_pass(ms_h5 *f, const ms_catalog_column *cols, const char *cls, size_t n,
                           long *n_flagged)
{
    if (ms_h5_parallel(f)) {
        MS_TRY(ms_h5_flush(f));
        MS_TRY(ms_par_barrier());
        MS_TRY(ms_h5_flush(f));
    }
    double *v = ms_malloc_array("cnn.flag.v", n * MS_N_LABELS + 1, sizeof(double));
    double *e = ms_malloc_array("cnn.flag.e", n * MS_N_LABELS + 1, sizeof(double));
    double *col = ms_malloc_array("cnn.flag.col", n + 1, sizeof(double));
    double *snr = ms_malloc_array("cnn.flag.snr", n + 1, sizeof(double));
    int32_t *flag = ms_malloc_array("cnn.flag", n + 1, sizeof(int32_t));
    ms_status st = v && e && col && snr && flag ? MS_OK : MS_ENOMEM;
    const ms_catalog_column *sc = ms_schema_column("snr_i", NULL);
    if (st == MS_OK) st = ms_h5_read_rows(f, sc->name, MS_H5_F64, 0, 0, n, snr);
    for (int k = 0; k < MS_N_LABELS && st == MS_OK; k++) {
        st = ms_h5_read_rows(f, cols[2 * k].name, MS_H5_F64, 0, 0, n, col);
        for (size_t i = 0; st == MS_OK && i < n; i++) v[i * MS_N_LABELS + k] = col[i];
        if (st == MS_OK) st = ms_h5_read_rows(f, cols[10 + k].name, MS_H5_F64, 0, 0, n, col);
        for (size_t i = 0; st == MS_OK && i < n; i++) e[i * MS_N_LABELS + k] = col[i];
    }
    if (st == MS_OK) st = ms_cnn_parameter_flag(cls, n, v, e, snr, flag);
    st = ms_par_any_failed(st);
    if (st == MS_OK) {
        const size_t P = (size_t)ms_par_size(), r = (size_t)ms_par_rank();
        const size_t lo = n * r / P, hi = n * (r + 1) / P;
        st = ms_h5_write_rows(f, cols[8].name, lo, hi - lo, flag + lo);
        *n_flagged = 0;
        for (size_t i = 0; i < n; i++) *n_flagged += flag[i];
    }
    ms_free(v);
    ms_free(e);
    ms_free(col);
    ms_free(snr);
    ms_free(flag);
    return ms_par_any_failed(st);
}

static ms_status cnn_post(ms_survey_method *me, ms_h5 *f, size_t n_rows)
{
    state *s = me->state;
    return flag_pass(f, s->v->group->cols, s->e->cls, n_rows, &s->flagged);
}

static ms_status cnn_attributes(ms_survey_method *me, ms_h5 *f, const ms_config *cfg,
                                const char *command)
{
    const state *s = me->state;
    const ms_cnn_ensemble *e = s->e;
    char name[48];
#define ATTR(what, value)                                                                 \
    do {                                                                                  \
        snprintf(name, sizeof name, "%s_%s", s->v->attr, what);                           \
        MS_TRY(ms_h5_attr_set_str(f, "/", name, value));                                  \
    } while (0)
    MS_TRY(ms_h5_write_provenance(f, cfg, command));
    ATTR("model", s->a.model);
    ATTR("model_hash", e->content_hash);
    ATTR("class", e->cls);
    ATTR("view", e->view_source);
    ATTR("velocity", e->input_velocity);
    ATTR("error", e->calibrated ? "calibrated (model error_scale, error_floor)"
                                : "ensemble standard deviation (model not calibrated)");
#undef ATTR
    if (s->a.rv) MS_TRY(ms_h5_attr_set_str(f, "/", "rv_catalog", s->a.rv));
    MS_TRY(ms_h5_attr_set_str(f, "/", "spectra_store", s->a.spectra));
    int64_t c[3] = {(int64_t)me->n_rows, me->counts[N_PREDICTED], me->counts[N_SKIPPED]};
    return ms_h5_attr_set_i64(f, "/", s->v->counts, c, 3);
}

static void cnn_free(ms_survey_method *me)
{
    state *s = me->state;
    if (!s) return;
    state_free(s);
    ms_cnn_ensemble_free(&s->ens);
    ms_free(s);
    me->state = NULL;
}

static ms_status open_variant(const cnn_variant *v, const ms_predict_cnn_args *a, ms_h5 *store,
                              size_t chunk, ms_survey_method *me)
{
    memset(me, 0, sizeof *me);
    me->name = v->name;
    me->groups[0] = v->group;
    me->row_size = sizeof(cnn_row);
    me->n_counts = 2;
    me->run = cnn_run;
    me->skip = cnn_skip;
    me->post = cnn_post;
    me->attributes = cnn_attributes;
    me->free = cnn_free;
    state *s = ms_calloc("cnn.state", 1, sizeof *s);
    if (!s) return MS_ENOMEM;
    me->state = s;
    ms_cnn_ensemble_init(&s->ens);
    s->e = &s->ens;
    s->v = v;
    s->a = *a;
    s->chunk = chunk;
    const ms_cnn_ensemble *e = s->e;
    MS_TRY(ms_cnn_ensemble_read(a->model, &s->ens));
    if (e->softmax)
        MS_ERROR(MS_EINVAL, "%s is a classifier (%s, train-classifier): use mstars classify",
                 a->model, e->cls);
    if (v == &variant_gm && strcmp(e->cls, "gM") != 0)
        MS_ERROR(MS_EINVAL, "cnn_gm: %s is a %s ensemble; --cnn-gm-model takes the M giants' one "
                 "(train-cnn --class gM)", a->model, e->cls);
    if (a->rv && a->rv_in_job)
        MS_ERROR(MS_EINVAL, "%s: the rest frames come either from an rv catalog (%s) or from "
                 "the job's rv method, not both", v->name, a->rv);
    MS_TRY(ms_cnn_input_open(store, a->spectra, a->rv, a->rv_in_job, s->chunk, &s->in));
    MS_TRY(ms_cnn_input_check(&s->in, e, a->model, a->spectra));
    s->n_rows = s->in.n_rows;
    if (a->limit > 0 && a->limit < s->n_rows) s->n_rows = a->limit;
    s->L = e->view.n;
    s->D = e->n_labels;
    for (size_t j = 0; j < s->D; j++) {
        s->slot[j] = -1;
        for (int k = 0; k < MS_N_LABELS; k++)
            if (strcmp(e->labels[j], ms_label_names[k]) == 0) s->slot[j] = k;
    }
    MS_TRY(state_alloc(s));
    MS_TRY(catalog_columns(&s->id_cols));
    me->id_cols = s->id_cols;
    me->rows = s->rows;
    me->n_rows = s->n_rows;
    uint64_t h = ms_hash_bytes(MS_HASH_INIT, e->content_hash, sizeof e->content_hash);
    h = ms_hash_bytes(h, &s->n_rows, sizeof s->n_rows);
    if (a->rv) h = ms_hash_bytes(h, a->rv, strlen(a->rv) + 1); /* --resume: the same velocities */
    me->hash = h;
    return MS_OK;
}

const char *ms_method_cnn_class(const ms_survey_method *me)
{
    const state *s = me->state;
    return s ? s->e->cls : "";
}

ms_status ms_method_cnn_open(const ms_config *cfg, const ms_predict_cnn_args *a, ms_h5 *store,
                             size_t chunk, ms_survey_method *me)
{
    (void)cfg;
    return open_variant(&variant_cnn, a, store, chunk, me);
}

ms_status ms_method_cnn_gm_open(const ms_config *cfg, const ms_predict_cnn_args *a, ms_h5 *store,
                                size_t chunk, ms_survey_method *me)
{
    (void)cfg;
    return open_variant(&variant_gm, a, store, chunk, me);
}

/* ------------------------------------------------------------- the job */
int ms_stage_predict_cnn(const ms_config *cfg, const ms_predict_cnn_args *a)
{
    const size_t chunk = (size_t)cfg->run.chunk_size;
    ms_survey_method me;
    memset(&me, 0, sizeof me);
    ms_h5 *store = NULL;
    ms_status st = ms_h5_open_read(a->spectra, 0, &store);
    if (st == MS_OK) st = ms_method_cnn_open(cfg, a, store, chunk, &me);
    st = ms_par_any_failed(st);
    if (st == MS_OK) {
        const state *s = me.state;
        const ms_cnn_ensemble *e = s->e;
        ms_log0_info("predict-cnn: %zu spectra of %s, %s ensemble %s (%zu models, %s), %d rank(s)",
                     s->n_rows, a->spectra, e->cls, a->model, e->n_models, e->content_hash,
                     ms_par_size());
        ms_survey_job_summary js;
        st = ms_survey_run_one(cfg, &me, store, a->spectra, a->out, a->command, "predict-cnn",
                               a->resume, 0, &js);
        if (st == MS_OK && js.complete)
            ms_log0_info("predict-cnn: wrote %s: %zu rows, %ld predicted (this run), %ld skipped, "
                         "%ld with parameter_flag = 1", a->out, s->n_rows, me.counts[N_PREDICTED],
                         me.counts[N_SKIPPED], s->flagged);
        if (st == MS_OK && !js.complete) {
            ms_log0_warn("predict-cnn stopped before the last chunk; --resume continues");
            st = MS_EINTERRUPTED;
        }
    }
    ms_survey_one_close(&me, store);
    if (st == MS_EINTERRUPTED) return 3;
    return st == MS_OK ? 0 : 1;
}
