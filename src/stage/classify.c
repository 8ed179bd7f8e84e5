/* classify.c: the survey method "class" (survey_methods.h) and the driver of `mstars classify`
 * (stage_classify.h): the L25 classifiers (CNN-SPT, CNN-WDM, CNN-dMgM; cnn_class.h) on the
 * store's native view (observed frame), run by the survey skeleton (survey_job.h) alone or
 * FIRST of `fit --methods`, where its verdict routes the rows of the later methods
 * (ck->cls, run.dwarfs_only / run.giants_only). Each rank makes the views of its chunk once
 * and runs every given model batched. Every row depends only on its own spectrum, so the
 * catalog is the same for any rank count and chunk size; --resume replays the journals.
 *
 * The routing (ck->cls) of this method alone (the lum method after it refines dwarf/giant with
 * the combined luminosity_class: lumclass.c):
 *   no view (no native pixels, too few good ones)         -> UNKNOWN (no dwarfs-only method)
 *   CNN-SPT says not M                                     -> OTHER   ("non-M")
 *   CNN-WDM says white dwarf (where M or no CNN-SPT)       -> WD      ("white dwarf")
 *   CNN-dMgM says giant (dmgm_prob > 0.5)                  -> GIANT
 *   otherwise (an M dwarf, or an M star without CNN-dMgM)  -> DWARF   (L25: an M star is a
 *                                                             dwarf unless found a giant) */
#include "mstars/catalog.h"
#include "mstars/cnn_class.h"
#include "mstars/h5.h"
#include "mstars/hash.h"
#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/par.h"
#include "mstars/schema.h"
#include "mstars/stage_classify.h"

#include "class_input.h"
#include "survey_methods.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define BATCH 32

extern const ms_column_group ms_group_class;

/* ------------------------------------------------------------- the method's row */
/* The class group's row first (the group's offsets hold), then the identification columns of
 * the standalone catalog (the z25 group's names: id, obsid, subclass, snr_i, store_status). */
typedef struct {
    ms_class_row c;
    int64_t id;
    char obsid[32];
    char subclass[16];
    double snr_i;
    int32_t store_status;
} class_row;

/* the per-rank counts (m->counts): classified, no view, white dwarfs, giants, then by class */
enum { N_CLASSIFIED, N_NO_VIEW, N_WD, N_GIANT, N_BY_CLASS, N_COUNTS = N_BY_CLASS + MS_CLASS_MAX };

typedef struct {
    ms_cnn_ensemble model[MS_CLASS_N_TASKS];
    int have[MS_CLASS_N_TASKS];
    ms_classify_args a;
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
    class_row *rows;
    ms_catalog_column id_cols[6];
} class_state;

/* The identification columns: the z25 group's definitions at this row's offsets. */
static ms_status id_columns(ms_catalog_column *c)
{
    static const struct {
        const char *name;
        size_t offset;
    } ident[] = {{"id", offsetof(class_row, id)},
                 {"obsid", offsetof(class_row, obsid)},
                 {"subclass", offsetof(class_row, subclass)},
                 {"snr_i", offsetof(class_row, snr_i)},
                 {"store_status", offsetof(class_row, store_status)}};
    for (size_t k = 0; k < sizeof ident / sizeof ident[0]; k++) {
        const ms_catalog_column *s = ms_schema_column(ident[k].name, NULL);
        if (!s) MS_ERROR(MS_ENOTFOUND, "schema: no column %s", ident[k].name);
        c[k] = *s;
        c[k].offset = ident[k].offset;
    }
    c[5].name = NULL;
    return MS_OK;
}

static ms_status state_alloc(class_state *s)
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

/* The classifiers on the rows use[0..m) of the chunk, in batches. */
static ms_status run_models(class_state *s, size_t m)
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

int32_t ms_class_route(const ms_class_row *r)
{
    if (r->class_flags & MS_CLASS_NO_VIEW) return MS_SURVEY_CLASS_UNKNOWN;
    if (r->class_flags & MS_CLASS_NOT_M) return MS_SURVEY_CLASS_OTHER;
    if (r->class_flags & MS_CLASS_WD) return MS_SURVEY_CLASS_WD;
    if (r->class_flags & MS_CLASS_GIANT) return MS_SURVEY_CLASS_GIANT;
    return MS_SURVEY_CLASS_DWARF;
}

/* One chunk (survey_job.h: run). The classifiers run on every row (their predicate is ALL). */
static ms_status class_run(ms_survey_method *me, ms_survey_chunk *ck, const uint8_t *applies,
                           long *n_failed)
{
    (void)applies;
    class_state *s = me->state;
    long *cnt = me->counts;
    const size_t row0 = ck->row0, n = ck->n;
    static const char *snr_names[5] = {MS_META_SNR_U, MS_META_SNR_G, MS_META_SNR_R,
                                       MS_META_SNR_I, MS_META_SNR_Z};
    MS_TRY(ms_survey_rows(ck, MS_META_STATUS, MS_H5_I32, 0, s->status));
    MS_TRY(ms_survey_rows(ck, MS_META_OBSID, MS_H5_STR, 32, s->obsid));
    MS_TRY(ms_survey_rows(ck, MS_META_SUBCLASS, MS_H5_STR, 16, s->sub));
    for (int b = 0; b < 5; b++)
        MS_TRY(ms_survey_rows(ck, snr_names[b], MS_H5_F64, 0, s->snr + b * s->chunk));
    MS_TRY(ms_survey_rows(ck, MS_STORE_NATIVE_FLUX, MS_H5_F32, 0, s->in.flux));
    MS_TRY(ms_survey_rows(ck, MS_STORE_NATIVE_IVAR, MS_H5_F32, 0, s->in.ivar));
    MS_TRY(ms_survey_rows(ck, MS_STORE_NATIVE_MASK, MS_H5_U8, 0, s->in.mask));
    MS_TRY(ms_class_input_views(&s->in, n, s->x, s->ok));
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        class_row *r = &s->rows[i];
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
    /* the verdict of every row, and the routing of the later methods of the job */
    for (size_t i = 0; i < n; i++) {
        ms_class_row *r = &s->rows[i].c;
        double smax = -INFINITY;
        for (int b = 0; b < 5; b++) smax = fmax(smax, s->snr[b * s->chunk + i]);
        ms_class_row_verdict(r, !s->ok[i], smax);
        if (ck->cls) ck->cls[i] = ms_class_route(r);
        if (ck->dmgm) ck->dmgm[i] = r->dmgm_prob;
        if (!s->ok[i]) {
            cnt[N_NO_VIEW]++;
            ++*n_failed;
            continue;
        }
        cnt[N_CLASSIFIED]++;
        if (r->class_code >= 0) cnt[N_BY_CLASS + r->class_code]++;
        cnt[N_WD] += (r->class_flags & MS_CLASS_WD) != 0;
        cnt[N_GIANT] += (r->class_flags & MS_CLASS_GIANT) != 0;
    }
    return MS_OK;
}

/* Never called (the classifiers apply to every row); a row as without a view. */
static void class_skip(ms_survey_method *me, void *row)
{
    (void)me;
    class_row *r = row;
    memset(&r->c, 0, sizeof r->c);
    r->c.class_code = -1;
    r->c.class_prob = r->c.wd_prob = r->c.dmgm_prob = NAN;
    ms_class_row_verdict(&r->c, 1, NAN);
}

/* Every given model (the same files on every rank) must be the task's classifier on this
 * build's view. */
static ms_status load_models(const ms_classify_args *a, class_state *s)
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

static ms_status class_attributes(ms_survey_method *me, ms_h5 *f, const ms_config *cfg,
                                  const char *command)
{
    const class_state *s = me->state;
    static const char *attr[MS_CLASS_N_TASKS] = {"class_model_spt", "class_model_wdm",
                                                 "class_model_dmgm"};
    MS_TRY(ms_h5_write_provenance(f, cfg, command));
    MS_TRY(ms_h5_attr_set_str(f, "/", "spectra_store", s->a.spectra));
    for (int t = 0; t < MS_CLASS_N_TASKS; t++) {
        char text[MS_CFG_STR_MAX + 40];
        if (s->have[t])
            snprintf(text, sizeof text, "%s (hash %s)", s->a.model[t], s->model[t].content_hash);
        else
            snprintf(text, sizeof text, "none");
        MS_TRY(ms_h5_attr_set_str(f, "/", attr[t], text));
    }
    MS_TRY(ms_h5_attr_set_str(f, MS_CATALOG_GROUP "/class_flags", "flag_names",
                              "0=no_view,1=low_snr,2=not_m,3=white_dwarf,4=giant,5=uncertain"));
    const long *c = me->counts;
    int64_t counts[5] = {(int64_t)me->n_rows, c[N_CLASSIFIED], c[N_NO_VIEW], c[N_WD], c[N_GIANT]};
    MS_TRY(ms_h5_attr_set_i64(f, "/", "counts_rows_classified_noview_wd_giant", counts, 5));
    int64_t by[MS_CLASS_MAX];
    for (int k = 0; k < MS_CLASS_MAX; k++) by[k] = c[N_BY_CLASS + k];
    return ms_h5_attr_set_i64(f, "/", "counts_by_class", by, MS_CLASS_MAX);
}

static void class_free(ms_survey_method *me)
{
    class_state *s = me->state;
    if (!s) return;
    void *p[] = {s->x, s->xb, s->scratch, s->prob, s->out, s->ok, s->use, s->status, s->obsid,
                 s->sub, s->snr, s->rows};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) ms_free(p[i]);
    ms_cnn_ws_free(s->ws);
    ms_class_input_free(&s->in);
    for (int t = 0; t < MS_CLASS_N_TASKS; t++) ms_cnn_ensemble_free(&s->model[t]);
    ms_free(s);
    me->state = NULL;
}

ms_status ms_method_class_open(const ms_config *cfg, const ms_classify_args *a, ms_h5 *store,
                               size_t chunk, ms_survey_method *m)
{
    (void)cfg;
    memset(m, 0, sizeof *m);
    m->name = "class";
    m->groups[0] = &ms_group_class;
    m->row_size = sizeof(class_row);
    m->n_counts = N_COUNTS;
    m->run = class_run;
    m->skip = class_skip;
    m->attributes = class_attributes;
    m->free = class_free;
    class_state *s = ms_calloc("class.state", 1, sizeof *s);
    if (!s) return MS_ENOMEM;
    m->state = s;
    s->a = *a;
    s->chunk = chunk;
    if (!a->model[0] && !a->model[1] && !a->model[2])
        MS_ERROR(MS_EINVAL, "classify: give at least one of --spt, --wdm, --dmgm");
    MS_TRY(load_models(a, s));
    MS_TRY(ms_class_input_open(store, a->spectra, chunk, &s->in));
    s->n_rows = s->in.n_rows;
    if (a->limit > 0 && a->limit < s->n_rows) s->n_rows = a->limit;
    s->L = s->in.view.n;
    MS_TRY(state_alloc(s));
    MS_TRY(id_columns(s->id_cols));
    m->id_cols = s->id_cols;
    m->rows = s->rows;
    m->n_rows = s->n_rows;
    /* the journal's settings: the rows and the models (as before the skeleton) */
    uint64_t h = ms_hash_bytes(MS_HASH_INIT, &s->n_rows, sizeof s->n_rows);
    for (int t = 0; t < MS_CLASS_N_TASKS; t++)
        h = ms_hash_bytes(h, s->have[t] ? s->model[t].content_hash : "-", s->have[t] ? 17 : 2);
    m->hash = h;
    return MS_OK;
}

/* ------------------------------------------------------------- the command */
int ms_stage_classify(const ms_config *cfg, const ms_classify_args *a)
{
    const size_t chunk = (size_t)cfg->run.chunk_size;
    ms_survey_method m;
    memset(&m, 0, sizeof m);
    ms_h5 *store = NULL;
    ms_status st = ms_h5_open_read(a->spectra, 0, &store);
    if (st == MS_OK) st = ms_method_class_open(cfg, a, store, chunk, &m);
    st = ms_par_any_failed(st);
    if (st == MS_OK) {
        const class_state *s = m.state;
        ms_log0_info("classify: %zu spectra of %s; models: spt %s, wdm %s, dmgm %s; %d rank(s)",
                     s->n_rows, a->spectra, s->have[0] ? s->model[0].content_hash : "none",
                     s->have[1] ? s->model[1].content_hash : "none",
                     s->have[2] ? s->model[2].content_hash : "none", ms_par_size());
        ms_survey_job_summary js;
        st = ms_survey_run_one(cfg, &m, store, a->spectra, a->out, a->command, "classify",
                               a->resume, 0, &js);
        const long *c = m.counts;
        if (st == MS_OK && js.complete) {
            ms_log0_info("classify: wrote %s: %zu rows, %ld classified (this run), %ld without a "
                         "view, %ld white dwarfs, %ld giants", a->out, s->n_rows, c[N_CLASSIFIED],
                         c[N_NO_VIEW], c[N_WD], c[N_GIANT]);
            if (s->have[0]) {
                const ms_class_task_def *d = ms_class_task_get(MS_CLASS_SPT);
                for (size_t k = 0; k < d->n_classes; k++)
                    ms_log0_info("  %-7s %ld", d->classes[k], c[N_BY_CLASS + k]);
            }
        }
        if (st == MS_OK && !js.complete) {
            ms_log0_warn("classify stopped before the last chunk; --resume continues");
            st = MS_EINTERRUPTED;
        }
    }
    ms_survey_one_close(&m, store);
    if (st == MS_EINTERRUPTED) return 3;
    return st == MS_OK ? 0 : 1;
}
