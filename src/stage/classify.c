/* classify.c: the driver of `mstars classify` (stage_classify.h): the L25 classifiers
 * (CNN-SPT, CNN-WDM, CNN-dMgM; cnn_class.h) over every row of a spectra store into a
 * resumable catalog with the column group "class". Chunks of rows are handed out by the work
 * queue (workq.h) as in `mstars rv`; each rank makes the views of its chunk (the native view,
 * observed frame) once and runs every given model batched. Every row depends only on its own
 * spectrum, so the catalog is the same for any rank count and chunk size; --resume replays
 * the journals.
 *
 * Where the combined luminosity class joins (issue 22, the lumclass module: Gaia CMD position
 * and the line criteria of L25 Table 3): after the CNN verdict of a row (fill_rows below),
 * with that module's own column group composed beside "class". */
#include "mstars/catalog.h"
#include "mstars/cnn_class.h"
#include "mstars/h5.h"
#include "mstars/hash.h"
#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/par.h"
#include "mstars/schema.h"
#include "mstars/stage_classify.h"
#include "mstars/workq.h"

#include "class_input.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define BATCH 32

extern const ms_column_group ms_group_class;

/* ------------------------------------------------------------- the catalog row */
typedef struct {
    int64_t id;
    char obsid[32];
    char subclass[16];
    double snr_i;
    int32_t store_status;
    ms_class_row c;
} cat_row;

/* The identification columns (the z25 group's names, at this row's offsets), then the class
 * group's columns shifted to c. {NULL}-terminated; ms_free. */
static ms_status catalog_columns(ms_catalog_column **out)
{
    static const struct {
        const char *name;
        size_t offset;
    } ident[] = {{"id", offsetof(cat_row, id)},
                 {"obsid", offsetof(cat_row, obsid)},
                 {"subclass", offsetof(cat_row, subclass)},
                 {"snr_i", offsetof(cat_row, snr_i)},
                 {"store_status", offsetof(cat_row, store_status)}};
    const size_t ni = sizeof ident / sizeof ident[0];
    size_t nc = 0;
    while (ms_group_class.cols[nc].name) nc++;
    ms_catalog_column *c = ms_malloc_array("class.columns", ni + nc + 1, sizeof *c);
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
    for (size_t k = 0; k <= nc; k++) {
        c[ni + k] = ms_group_class.cols[k];
        if (c[ni + k].name) c[ni + k].offset += offsetof(cat_row, c);
    }
    *out = c;
    return MS_OK;
}

/* ------------------------------------------------------------- per-rank state */
typedef struct {
    ms_cnn_ensemble model[MS_CLASS_N_TASKS];
    int have[MS_CLASS_N_TASKS];
    ms_h5 *store;
    ms_catalog *cat;
    ms_class_input in;
    ms_cnn_ws *ws;
    size_t n_rows, chunk, L;
    float *x, *xb, *scratch; /* [chunk, L], [BATCH, L], [BATCH, MS_CLASS_MAX] */
    double *prob;            /* [BATCH, MS_CLASS_MAX] */
    ms_class_row *out;       /* [BATCH] */
    uint8_t *ok;
    size_t *use;
    int32_t *status;
    char (*obsid)[32], (*sub)[16];
    double *snr;             /* [5, chunk] */
    cat_row *rows;
    long classified, no_view, by_class[MS_CLASS_MAX], wd, giant;
} state;

static ms_status state_alloc(state *s)
{
    const size_t c = s->chunk;
#define ALLOC(p, count) \
    if (!((p) = ms_malloc_array("class.job." #p, (count) + 1, sizeof *(p)))) return MS_ENOMEM
    ALLOC(s->x, c * s->L);
    ALLOC(s->xb, BATCH * s->L);
    ALLOC(s->scratch, BATCH * MS_CLASS_MAX);
    ALLOC(s->prob, BATCH * MS_CLASS_MAX);
    ALLOC(s->out, BATCH);
    ALLOC(s->ok, c);
    ALLOC(s->use, c);
    ALLOC(s->status, c);
    ALLOC(s->obsid, c);
    ALLOC(s->sub, c);
    ALLOC(s->snr, 5 * c);
    ALLOC(s->rows, c);
#undef ALLOC
    for (int t = 0; t < MS_CLASS_N_TASKS; t++)
        if (s->have[t]) return ms_cnn_ws_alloc(&s->model[t].net[0].arch, BATCH, &s->ws);
    return MS_OK;
}

static void state_free(state *s)
{
    void *p[] = {s->x, s->xb, s->scratch, s->prob, s->out, s->ok, s->use, s->status, s->obsid, s->sub,
                 s->snr, s->rows};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) ms_free(p[i]);
    ms_cnn_ws_free(s->ws);
    ms_class_input_free(&s->in);
    for (int t = 0; t < MS_CLASS_N_TASKS; t++) ms_cnn_ensemble_free(&s->model[t]);
}

/* The classifiers on the rows use[0..m) of the chunk, in batches. */
static ms_status run_models(state *s, size_t m)
{
    const ms_cnn_ensemble *models[MS_CLASS_N_TASKS];
    for (int t = 0; t < MS_CLASS_N_TASKS; t++) models[t] = s->have[t] ? &s->model[t] : NULL;
    const size_t L = s->L;
    for (size_t b0 = 0; b0 < m; b0 += BATCH) {
        const size_t B = m - b0 < BATCH ? m - b0 : BATCH;
        for (size_t b = 0; b < B; b++)
            memcpy(s->xb + b * L, s->x + s->use[b0 + b] * L, L * sizeof(float));
        MS_TRY(ms_class_run(models, s->ws, s->xb, B, s->scratch, s->prob, s->out));
        for (size_t b = 0; b < B; b++) s->rows[s->use[b0 + b]].c = s->out[b];
    }
    return MS_OK;
}

/* One chunk of work (ms_workq_fn). */
static ms_status do_chunk(void *ctx, size_t chunk, long *n_failed)
{
    state *s = ctx;
    const size_t row0 = chunk * s->chunk;
    const size_t n = row0 + s->chunk > s->n_rows ? s->n_rows - row0 : s->chunk;
    static const char *snr_names[5] = {MS_META_SNR_U, MS_META_SNR_G, MS_META_SNR_R,
                                       MS_META_SNR_I, MS_META_SNR_Z};
    MS_TRY(ms_h5_read_rows(s->store, MS_META_STATUS, MS_H5_I32, 0, row0, n, s->status));
    MS_TRY(ms_h5_read_rows(s->store, MS_META_OBSID, MS_H5_STR, 32, row0, n, s->obsid));
    MS_TRY(ms_h5_read_rows(s->store, MS_META_SUBCLASS, MS_H5_STR, 16, row0, n, s->sub));
    for (int b = 0; b < 5; b++)
        MS_TRY(ms_h5_read_rows(s->store, snr_names[b], MS_H5_F64, 0, row0, n, s->snr + b * s->chunk));
    MS_TRY(ms_class_input_rows(&s->in, s->store, row0, n, s->x, s->ok));
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        cat_row *r = &s->rows[i];
        memset(r, 0, sizeof *r);
        r->id = (int64_t)(row0 + i);
        memcpy(r->obsid, s->obsid[i], sizeof r->obsid);
        r->obsid[31] = '\0';
        memcpy(r->subclass, s->sub[i], sizeof r->subclass);
        r->subclass[15] = '\0';
        r->snr_i = s->snr[3 * s->chunk + i];
        r->store_status = s->status[i];
        r->c.class_code = -1;
        r->c.class_prob = r->c.wd_prob = r->c.dmgm_prob = NAN;
        if (s->ok[i]) s->use[m++] = i;
    }
    MS_TRY(run_models(s, m));
    /* the verdict of every row (the lumclass module's combination joins here) */
    for (size_t i = 0; i < n; i++) {
        ms_class_row *r = &s->rows[i].c;
        double smax = -INFINITY;
        for (int b = 0; b < 5; b++) smax = fmax(smax, s->snr[b * s->chunk + i]);
        ms_class_row_verdict(r, !s->ok[i], smax);
        if (!s->ok[i]) {
            s->no_view++;
            ++*n_failed;
            continue;
        }
        s->classified++;
        if (r->class_code >= 0) s->by_class[r->class_code]++;
        s->wd += (r->class_flags & MS_CLASS_WD) != 0;
        s->giant += (r->class_flags & MS_CLASS_GIANT) != 0;
    }
    return ms_catalog_write_chunk(s->cat, chunk, row0, n, s->rows);
}

/* Rank 0 reads the given models (the same files on every rank); each must be the task's
 * classifier on this build's view. */
static ms_status load_models(const ms_classify_args *a, state *s)
{
    static const char *opt[MS_CLASS_N_TASKS] = {"--spt", "--wdm", "--dmgm"};
    const ms_cnn_view_spec v = ms_class_view_spec();
    for (int t = 0; t < MS_CLASS_N_TASKS; t++) {
        if (!a->model[t]) continue;
        ms_cnn_ensemble *e = &s->model[t];
        MS_TRY(ms_cnn_ensemble_read(a->model[t], e));
        const ms_class_task_def *d = ms_class_task_get((ms_class_task)t);
        if (!e->softmax || strcmp(e->cls, d->name) != 0 || e->n_labels != d->n_classes)
            MS_ERROR(MS_EINVAL, "%s %s: not a %s classifier (it is %s %s; train it with "
                     "`mstars train-classifier --task %s`)", opt[t], a->model[t], d->name,
                     e->softmax ? "classifier" : "regression model", e->cls, d->name);
        if (e->view.n != v.n || e->view.lo != v.lo || e->view.step != v.step)
            MS_ERROR(MS_EINVAL, "%s %s: trained on the view %s (%zu pixels from %.0f A), not "
                     "this build's classifier view (%zu from %.0f A)", opt[t], a->model[t],
                     e->view_source, e->view.n, e->view.lo, (size_t)v.n, v.lo);
        s->have[t] = 1;
    }
    return MS_OK;
}

static ms_status write_attributes(ms_h5 *f, const ms_config *cfg, const ms_classify_args *a,
                                  const state *s, const long *counts)
{
    static const char *attr[MS_CLASS_N_TASKS] = {"class_model_spt", "class_model_wdm",
                                                 "class_model_dmgm"};
    MS_TRY(ms_h5_write_provenance(f, cfg, a->command));
    MS_TRY(ms_h5_attr_set_str(f, "/", "spectra_store", a->spectra));
    for (int t = 0; t < MS_CLASS_N_TASKS; t++) {
        char text[MS_CFG_STR_MAX + 40];
        if (s->have[t])
            snprintf(text, sizeof text, "%s (hash %s)", a->model[t], s->model[t].content_hash);
        else
            snprintf(text, sizeof text, "none");
        MS_TRY(ms_h5_attr_set_str(f, "/", attr[t], text));
    }
    MS_TRY(ms_h5_attr_set_str(f, MS_CATALOG_GROUP "/class_flags", "flag_names",
                              "0=no_view,1=low_snr,2=not_m,3=white_dwarf,4=giant,5=uncertain"));
    int64_t c[5 + MS_CLASS_MAX];
    for (int k = 0; k < 5 + MS_CLASS_MAX; k++) c[k] = counts[k];
    MS_TRY(ms_h5_attr_set_i64(f, "/", "counts_rows_classified_noview_wd_giant", c, 5));
    return ms_h5_attr_set_i64(f, "/", "counts_by_class", c + 5, 8);
}

/* ------------------------------------------------------------- the job */
int ms_stage_classify(const ms_config *cfg, const ms_classify_args *a)
{
    state s;
    memset(&s, 0, sizeof s);
    ms_catalog_column *cols = NULL;
    uint8_t *done = NULL;
    size_t *pending = NULL;
    s.chunk = (size_t)cfg->run.chunk_size;
    ms_status st = MS_OK;
    if (!a->model[0] && !a->model[1] && !a->model[2])
        st = ms_error_set(MS_EINVAL, __FILE__, __LINE__, "classify: give at least one of --spt, "
                          "--wdm, --dmgm");
    if (st == MS_OK) st = load_models(a, &s);
    if (st == MS_OK) st = ms_h5_open_read(a->spectra, 0, &s.store);
    if (st == MS_OK) st = ms_class_input_open(s.store, a->spectra, s.chunk, &s.in);
    if (st == MS_OK) {
        s.n_rows = s.in.n_rows;
        if (a->limit > 0 && a->limit < s.n_rows) s.n_rows = a->limit;
        s.L = s.in.view.n;
        st = state_alloc(&s);
    }
    if (st == MS_OK) st = catalog_columns(&cols);
    st = ms_par_any_failed(st);
    const size_t n_chunks = s.chunk ? (s.n_rows + s.chunk - 1) / s.chunk : 0;
    if (st == MS_OK) {
        ms_log0_info("classify: %zu spectra of %s; models: spt %s, wdm %s, dmgm %s; %d rank(s)",
                     s.n_rows, a->spectra, s.have[0] ? s.model[0].content_hash : "none",
                     s.have[1] ? s.model[1].content_hash : "none",
                     s.have[2] ? s.model[2].content_hash : "none", ms_par_size());
        uint64_t h = ms_hash_bytes(MS_HASH_INIT, &s.n_rows, sizeof s.n_rows);
        for (int t = 0; t < MS_CLASS_N_TASKS; t++)
            h = ms_hash_bytes(h, s.have[t] ? s.model[t].content_hash : "-", s.have[t] ? 17 : 2);
        ms_catalog_opts co = {a->out, cols, sizeof(cat_row), s.n_rows, s.chunk, h, a->resume};
        st = ms_catalog_open(&co, &s.cat, &done);
    }
    if (st == MS_OK) {
        pending = ms_malloc_array("class.pending", n_chunks + 1, sizeof *pending);
        st = ms_par_any_failed(pending ? MS_OK : MS_ENOMEM);
    }
    if (st == MS_OK) {
        size_t n_pending = 0, rows_before = 0;
        for (size_t k = 0; k < n_chunks; k++) {
            if (!done[k])
                pending[n_pending++] = k;
            else
                rows_before += k + 1 == n_chunks ? s.n_rows - k * s.chunk : s.chunk;
        }
        if (n_pending < n_chunks)
            ms_log0_info("resume: %zu of %zu chunks were done by earlier runs", n_chunks - n_pending,
                         n_chunks);
        ms_workq_opts wo = {pending, n_pending, s.chunk, s.n_rows - rows_before,
                            cfg->run.progress_seconds, cfg->run.max_runtime, "spectra"};
        ms_workq_stats ws;
        st = ms_workq_run(&wo, do_chunk, &s, &ws);
        const int complete = st == MS_OK;
        if (st == MS_EINTERRUPTED) st = MS_OK;
        /* counts of this run: rows, classified, no view, WD, giants, then per class */
        long counts[5 + MS_CLASS_MAX] = {0, s.classified, s.no_view, s.wd, s.giant};
        for (int k = 0; k < MS_CLASS_MAX; k++) counts[5 + k] = s.by_class[k];
        if (st == MS_OK) st = ms_par_allreduce_sum_l(counts + 1, 4 + MS_CLASS_MAX);
        counts[0] = (long)s.n_rows;
        if (st == MS_OK && complete)
            st = write_attributes(ms_catalog_file(s.cat), cfg, a, &s, counts);
        ms_status fst = ms_catalog_finish(s.cat, complete && st == MS_OK);
        if (st == MS_OK) st = fst;
        if (st == MS_OK && complete) {
            ms_log0_info("classify: wrote %s: %ld rows, %ld classified (this run), %ld without a "
                         "view, %ld white dwarfs, %ld giants", a->out, counts[0], counts[1],
                         counts[2], counts[3], counts[4]);
            if (s.have[0]) {
                const ms_class_task_def *d = ms_class_task_get(MS_CLASS_SPT);
                for (size_t k = 0; k < d->n_classes; k++)
                    ms_log0_info("  %-7s %ld", d->classes[k], counts[5 + k]);
            }
        }
        if (st == MS_OK && !complete) {
            ms_log0_warn("classify stopped before the last chunk; --resume continues");
            st = MS_EINTERRUPTED;
        }
    }
    ms_free(pending);
    ms_free(done);
    ms_free(cols);
    if (s.store) ms_h5_close(s.store);
    state_free(&s);
    if (st == MS_EINTERRUPTED) return 3;
    return st == MS_OK ? 0 : 1;
}
