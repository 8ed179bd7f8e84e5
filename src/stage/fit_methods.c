/* fit_methods.c: the driver of `mstars fit --methods` (survey.h; issue 24): the methods of
 * src/stage (survey_methods.h) in one survey job (survey_job.h): one pass over the store,
 * one journal, one catalog, with the recommended labels of `mstars combine` (combine.h's
 * rule, the same answer table) computed in the job. The classification methods (class: the
 * L25 CNN classifiers; lum: CMD, Table 3 lines, luminosity_class) run first and route the
 * rows of the others (run.dwarfs_only, run.giants_only); methods_skipped and skip_reason
 * say which methods did not apply to a row and why. */
#include "mstars/combine.h"
#include "mstars/h5.h"
#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/par.h"
#include "mstars/rv.h"
#include "mstars/schema.h"

#include "combine_rec.h"
#include "survey_methods.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const ms_column_group ms_group_rec;

/* ------------------------------------------------------------- the job's own columns */

#define SKIP_REASON_LEN 16

typedef struct {
    uint32_t methods_skipped;
    char skip_reason[SKIP_REASON_LEN];
} survey_row;

/* The rec group's row, then the methods that did not apply. */
typedef struct {
    rec_row rec;
    survey_row survey;
} job_row;

static const ms_catalog_column survey_columns[] = {
    {MS_CATALOG_GROUP "/methods_skipped", MS_H5_U32, 0, offsetof(survey_row, methods_skipped),
     "", "bit g set: method g of the attribute `methods` did not apply to this row (its row "
     "predicate, run.dwarfs_only / run.giants_only: the classification methods of the job "
     "called it no dwarf / no giant); that method's columns are null there"},
    {MS_CATALOG_GROUP "/skip_reason", MS_H5_STR, SKIP_REASON_LEN,
     offsetof(survey_row, skip_reason), "", "why methods were skipped on this row (empty: none "
     "was): the class the job's classification gave it: non-M (CNN-SPT), white dwarf "
     "(CNN-WDM), giant (CNN-dMgM / luminosity_class), dwarf (a giants-only method), "
     "unclassified (no view)"},
    {NULL, 0, 0, 0, NULL, NULL},
};

/* The job's bookkeeping columns (fit --methods): registered in schema.c. */
const ms_column_group ms_group_survey = {
    "survey", "fit --methods: which methods applied to each row", survey_columns,
    sizeof(survey_row), NULL};

/* The job's order: the classification first (it routes the rows of the others), then rv (its
 * velocity starts the later methods). */
#define N_KNOWN 8
enum { K_CLASS, K_LUM, K_RV };
static const char *const known[N_KNOWN] = {"class", "lum",    "rv",    "z25",
                                           "slam",  "cnn",    "cnn_gm", "laspm"};
#define KNOWN_TEXT "class, lum, rv, z25, slam, cnn, cnn_gm, laspm"

typedef struct {
    ms_survey_method *ms[N_KNOWN];
    size_t n;
    double sigma;
    ms_catalog_column cols[64];
    const char *reference; /* --reference: labels no method trained on (NULL: the hat) */
    double radius, scale[N_KNOWN * MS_REC_N * MS_COMBINE_SCALE_BINS];
    size_t n_ref[N_KNOWN * MS_REC_N], nm; /* extra_post's scales of its nm methods */
    const char *rec_names[N_KNOWN];
} job_t;

static ms_status extra_row(void *state, const ms_survey_chunk *ck, size_t n_methods, size_t i,
                           void *out)
{
    (void)state;
    job_row *r = out;
    memset(r, 0, sizeof *r);
    for (size_t g = 0; g < n_methods; g++)
        if (!ck->applies[g * ck->chunk_rows + i]) r->survey.methods_skipped |= 1u << g;
    if (r->survey.methods_skipped && ck->cls)
        snprintf(r->survey.skip_reason, sizeof r->survey.skip_reason, "%s",
                 ms_survey_class_name(ck->cls[i]));
    return MS_OK;
}

/* The answers of the job's method `m` (an entry of the answer table) for rows [0, n):
 * in[(r * nm + mi) * MS_REC_N + q], read from the catalog (as `mstars combine` reads them). */
static ms_status read_answers(ms_h5 *f, const ms_method_answers *a, size_t n, size_t mi,
                              size_t nm, ms_rec_input *in)
{
    double *v = ms_malloc_array("methods.v", n + 1, sizeof *v);
    double *e = ms_malloc_array("methods.e", n + 1, sizeof *e);
    uint32_t *flag = ms_malloc_array("methods.flag", n + 1, sizeof *flag);
    uint8_t *dirty = ms_calloc("methods.dirty", n + 1, 1);
    ms_status st = v && e && flag && dirty ? MS_OK : MS_ENOMEM;
    char path[160], pe[160];
    for (int c = 0; st == MS_OK && c < 2 && a->clean[c]; c++) {
        snprintf(pe, sizeof pe, MS_CATALOG_GROUP "/%s", a->clean[c]);
        ms_survey_column_name(a->method, pe, path, sizeof path);
        if (!ms_h5_exists(f, path)) continue;
        st = ms_h5_read_rows(f, path, MS_H5_U32, 0, 0, n, flag);
        for (size_t r = 0; st == MS_OK && r < n; r++) dirty[r] |= flag[r] != 0;
    }
    if (st == MS_OK && a->good) {
        snprintf(pe, sizeof pe, MS_CATALOG_GROUP "/%s", a->good);
        ms_survey_column_name(a->method, pe, path, sizeof path);
        st = ms_h5_read_rows(f, path, MS_H5_U32, 0, 0, n, flag);
        for (size_t r = 0; st == MS_OK && r < n; r++) dirty[r] |= flag[r] != 1;
    }
    for (int q = 0; st == MS_OK && q < MS_REC_N; q++) {
        const int have = a->value[q] != NULL && a->error[q] != NULL;
        if (have) {
            snprintf(pe, sizeof pe, MS_CATALOG_GROUP "/%s", a->value[q]);
            ms_survey_column_name(a->method, pe, path, sizeof path);
            st = ms_h5_read_rows(f, path, MS_H5_F64, 0, 0, n, v);
            snprintf(pe, sizeof pe, MS_CATALOG_GROUP "/%s", a->error[q]);
            ms_survey_column_name(a->method, pe, path, sizeof path);
            if (st == MS_OK) st = ms_h5_read_rows(f, path, MS_H5_F64, 0, 0, n, e);
        }
        for (size_t r = 0; st == MS_OK && r < n; r++)
            in[(r * nm + mi) * MS_REC_N + (size_t)q] =
                have ? (ms_rec_input){v[r], e[r], !dirty[r], 0.0} : (ms_rec_input){NAN, NAN, 0, 0.0};
    }
    ms_free(v);
    ms_free(e);
    ms_free(flag);
    ms_free(dirty);
    return st;
}

/* Collective, after the methods' catalog-wide passes (cut_flags, parameter_flag): every rank
 * reads the answers of the whole catalog, fills the rec columns of its slice of rows. */
static ms_status extra_post(void *state, ms_h5 *f, size_t n)
{
    job_t *j = state;
    if (ms_h5_parallel(f)) {
        MS_TRY(ms_h5_flush(f));
        MS_TRY(ms_par_barrier());
        MS_TRY(ms_h5_flush(f));
    }
    size_t na;
    const ms_method_answers *ans = ms_schema_answers(&na);
    const ms_method_answers *use[N_KNOWN];
    const char *names[N_KNOWN];
    size_t nm = 0;
    for (size_t g = 0; g < j->n; g++)
        for (size_t k = 0; k < na; k++)
            if (strcmp(ans[k].method, j->ms[g]->name) == 0) {
                use[nm] = &ans[k];
                names[nm++] = ans[k].method;
            }
    ms_rec_input *in = ms_malloc_array("methods.answers", (n ? n : 1) * (nm ? nm : 1) * MS_REC_N,
                                       sizeof *in);
    const size_t P = (size_t)ms_par_size(), rk = (size_t)ms_par_rank();
    const size_t lo = n * rk / P, hi = n * (rk + 1) / P;
    rec_row *rows = ms_calloc("methods.rec", hi - lo + 1, sizeof *rows);
    void *col = ms_malloc_array("methods.col", hi - lo + 1, 40);
    ms_status st = in && rows && col ? MS_OK : MS_ENOMEM;
    for (size_t m = 0; st == MS_OK && m < nm; m++) st = read_answers(f, use[m], n, m, nm, in);
    /* the errors made honest as `mstars combine` makes them (ms_rec_honest_errors: against
     * --reference, else the hat, over the whole catalog per S/N_r bin): every rank computes
     * the same factors from the same rows */
    if (st == MS_OK)
        st = ms_rec_honest_errors(f, n, j->reference, j->radius, in, nm, j->scale, j->n_ref);
    j->nm = nm;
    for (size_t m = 0; m < nm; m++) j->rec_names[m] = names[m];
    for (size_t r = lo; st == MS_OK && r < hi; r++) {
        ms_rec_output o;
        ms_combine_row(in + r * nm * MS_REC_N, nm, j->sigma, &o);
        ms_rec_fill(&o, names, &rows[r - lo]);
    }
    st = ms_par_any_failed(st);
    for (const ms_catalog_column *c = ms_group_rec.cols; st == MS_OK && c->name; c++) {
        const size_t e = ms_catalog_column_size(c);
        for (size_t r = 0; r < hi - lo; r++)
            memcpy((char *)col + r * e, (const char *)&rows[r] + c->offset, e);
        st = ms_h5_write_rows(f, c->name, lo, hi - lo, col);
    }
    ms_free(in);
    ms_free(rows);
    ms_free(col);
    return ms_par_any_failed(st);
}

static ms_status extra_attributes(void *state, ms_h5 *f)
{
    job_t *j = state;
    char list[128] = "";
    for (size_t g = 0; g < j->n; g++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", g ? "," : "",
                 j->ms[g]->name);
    MS_TRY(ms_h5_attr_set_str(f, "/", "methods", list));
    MS_TRY(ms_h5_attr_set_str(f, MS_CATALOG_GROUP "/disagree_flags", "flag_names",
                              "0=teff,1=logg,2=m_h,3=alpha_m,4=rv"));
    MS_TRY(ms_h5_attr_set_f64(f, "/", "disagree_sigma", &j->sigma, 1));
    MS_TRY(ms_h5_attr_set_str(f, "/", "error_reference", j->reference ? j->reference : ""));
    for (int q = 0; q < MS_REC_N; q++) { /* the factors of extra_post, as combine writes them */
        char text[1024], path[64];
        ms_rec_scale_text(j->rec_names, NULL, j->nm, q, j->scale, j->n_ref, text, sizeof text);
        snprintf(path, sizeof path, MS_CATALOG_GROUP "/e_%s", ms_rec_names[q]);
        MS_TRY(ms_h5_attr_set_str(f, path, "error_scales", text));
    }
    char skip[256] = "";
    for (size_t g = 0; g < j->n; g++)
        snprintf(skip + strlen(skip), sizeof skip - strlen(skip), "%s%zu=%s", g ? "," : "", g,
                 j->ms[g]->name);
    MS_TRY(ms_h5_attr_set_str(f, MS_CATALOG_GROUP "/methods_skipped", "flag_names", skip));
    int64_t na[N_KNOWN];
    for (size_t g = 0; g < j->n; g++) na[g] = (int64_t)j->ms[g]->skipped_na;
    return ms_h5_attr_set_i64(f, "/", "counts_not_applicable_per_method", na, j->n);
}

/* ------------------------------------------------------------- the job */

/* The methods named in `list`, in the job's order (class, lum, rv, ...). */
static ms_status parse_methods(const char *list, int want[N_KNOWN])
{
    for (int k = 0; k < N_KNOWN; k++) want[k] = 0;
    const char *p = list;
    int any = 0;
    while (p && *p) {
        while (*p == ',' || *p == ' ') p++;
        const char *e = p;
        while (*e && *e != ',' && *e != ' ') e++;
        if (e == p) break;
        int found = 0;
        for (int k = 0; k < N_KNOWN; k++)
            if ((size_t)(e - p) == strlen(known[k]) && strncmp(p, known[k], (size_t)(e - p)) == 0) {
                want[k] = found = any = 1;
            }
        if (!found)
            MS_ERROR(MS_EINVAL, "fit --methods: unknown method '%.*s' (known: " KNOWN_TEXT ")",
                     (int)(e - p), p);
        p = e;
    }
    if (!any) MS_ERROR(MS_EINVAL, "fit --methods: no method given (known: " KNOWN_TEXT ")");
    return MS_OK;
}

#define NEED(opt, what)                                                                    \
    if (!(opt))                                                                            \
    MS_ERROR(MS_EINVAL, "fit --methods %s needs %s", known[k], what)

/* Open method k (known[k]) on the store; want[]: the job's methods. */
static ms_status open_method(const ms_config *cfg, const ms_fit_methods_opts *o, ms_h5 *store,
                             size_t chunk, int k, const int *want, ms_survey_method *m)
{
    if (k == K_CLASS) {
        NEED(o->class_model[0] || o->class_model[1] || o->class_model[2],
             "at least one of --spt, --wdm, --dmgm (train-classifier models)");
        ms_classify_args ca = {o->spectra, o->out, {o->class_model[0], o->class_model[1],
                               o->class_model[2]}, o->resume, o->limit, o->command};
        return ms_method_class_open(cfg, &ca, store, chunk, m);
    }
    if (k == K_LUM) {
        ms_lum_job_opts lo = {o->spectra, o->out, NULL, NULL, o->command, o->resume, o->limit};
        return ms_method_lum_open(cfg, &lo, want[K_CLASS], store, chunk, m);
    }
    if (strcmp(known[k], "rv") == 0) {
        ms_rv_job_opts ro;
        memset(&ro, 0, sizeof ro);
        ms_rv_settings_default(&ro.settings);
        NEED(o->templates, "--templates DIR (a template library)");
        ro.spectra = o->spectra;
        ro.templates = o->templates;
        ro.limit = o->limit;
        if (o->tm_range[1] > 0.0) { /* --tm-range (as mstars rv --tm-range) */
            ro.settings.wave_min = o->tm_range[0];
            ro.settings.wave_max = o->tm_range[1];
        }
        return ms_method_rv_open(cfg, &ro, store, chunk, m);
    }
    if (strcmp(known[k], "z25") == 0) {
        NEED(o->emulator, "--emulator FILE");
        ms_survey_opts zo = {o->spectra, o->emulator, o->csn, o->out, o->command, o->resume,
                             o->limit, NULL};
        return ms_method_z25_open(cfg, &zo, store, chunk, m);
    }
    if (strcmp(known[k], "slam") == 0) {
        NEED(o->slam_model, "--slam-model FILE");
        ms_slam_fit_job_opts so = {o->spectra, o->slam_model, o->out, o->command, o->resume, o->limit};
        return ms_method_slam_open(cfg, &so, store, chunk, m);
    }
    if (strcmp(known[k], "cnn") == 0) {
        NEED(o->cnn_model, "--cnn-model FILE");
        ms_predict_cnn_args ca = {o->spectra, o->cnn_model, o->out, o->command, o->resume, o->limit,
                                  NULL, want[K_RV]};
        return ms_method_cnn_open(cfg, &ca, store, chunk, m);
    }
    if (strcmp(known[k], "cnn_gm") == 0) { /* L25's second ensemble: the M giants' */
        NEED(o->cnn_gm_model, "--cnn-gm-model FILE (a gM ensemble: train-cnn --class gM)");
        ms_predict_cnn_args ca = {o->spectra, o->cnn_gm_model, o->out, o->command, o->resume,
                                  o->limit, NULL, want[K_RV]};
        return ms_method_cnn_gm_open(cfg, &ca, store, chunk, m);
    }
    NEED(o->laspm_library, "--laspm-library FILE");
    ms_laspm_run_opts lo;
    memset(&lo, 0, sizeof lo);
    ms_laspm_opts_default(&lo.match);
    lo.spectra = o->spectra;
    lo.library = o->laspm_library;
    lo.out = o->out;
    lo.command = o->command;
    lo.limit = o->limit;
    lo.leave_out_self = o->laspm_leave_out_self; /* as mstars laspm --leave-out-self */
    return ms_method_laspm_open(cfg, &lo, store, chunk, m);
}
#undef NEED

ms_status ms_fit_methods(const ms_config *cfg, const ms_fit_methods_opts *o,
                         ms_fit_methods_summary *sum)
{
    memset(sum, 0, sizeof *sum);
    const double t0 = ms_par_wtime();
    const size_t chunk = (size_t)cfg->run.chunk_size;
    int want[N_KNOWN];
    MS_TRY(parse_methods(o->methods, want));
    ms_survey_method m[N_KNOWN];
    memset(m, 0, sizeof m);
    job_t j;
    memset(&j, 0, sizeof j);
    j.sigma = cfg->run.disagree_sigma;
    j.reference = o->reference;
    j.radius = cfg->join.radius_arcsec;
    ms_h5 *store = NULL;
    ms_status st = ms_h5_open_read(o->spectra, 0, &store);
    for (int k = 0; k < N_KNOWN && st == MS_OK; k++) {
        if (!want[k]) continue;
        ms_survey_method *me = &m[j.n];
        j.ms[j.n++] = me;
        st = open_method(cfg, o, store, chunk, k, want, me);
        if (st == MS_OK) st = ms_survey_apply_check(cfg, me->name);
        if (st == MS_OK) me->apply = ms_survey_apply_of(cfg, me->name);
        if (st == MS_OK && k <= K_LUM && me->apply != MS_APPLY_ALL)
            st = ms_error_set(MS_EINVAL, __FILE__, __LINE__, "fit --methods: %s routes the rows "
                              "of the other methods and runs on every row: take it out of "
                              "run.dwarfs_only / run.giants_only", me->name);
        /* a gM ensemble on the dwarfs is nonsense (L25 runs it on giants) */
        if (st == MS_OK && strcmp(me->name, "cnn_gm") == 0 && me->apply == MS_APPLY_DWARFS)
            st = ms_error_set(MS_EINVAL, __FILE__, __LINE__, "fit --methods: cnn_gm is the M "
                              "giants' CNN ensemble and runs on giants: take it out of "
                              "run.dwarfs_only");
        if (st == MS_OK && strcmp(me->name, "cnn") == 0 && me->apply == MS_APPLY_DWARFS &&
            strcmp(ms_method_cnn_class(me), "gM") == 0)
            st = ms_error_set(MS_EINVAL, __FILE__, __LINE__, "fit --methods: %s is a gM (M "
                              "giants') ensemble but cnn runs on dwarfs (run.dwarfs_only): give "
                              "it to cnn_gm (--cnn-gm-model)", o->cnn_model);
        if (st == MS_OK && me->n_rows != j.ms[0]->n_rows)
            st = ms_error_set(MS_EINVAL, __FILE__, __LINE__, "fit --methods: %s sees %zu rows "
                              "of %s, %s %zu", me->name, me->n_rows, o->spectra, j.ms[0]->name,
                              j.ms[0]->n_rows);
    }
    /* the job's own columns: the rec group, then methods_skipped */
    size_t nc = 0;
    for (const ms_catalog_column *c = ms_group_rec.cols; c->name; c++) j.cols[nc++] = *c;
    for (const ms_catalog_column *c = survey_columns; c->name; c++) {
        j.cols[nc] = *c;
        j.cols[nc++].offset += offsetof(job_row, survey);
    }
    j.cols[nc].name = NULL;
    st = ms_par_any_failed(st);
    if (st == MS_OK) {
        for (size_t g = 0; g < j.n; g++)
            snprintf(sum->methods + strlen(sum->methods),
                     sizeof sum->methods - strlen(sum->methods), "%s%s", g ? "," : "",
                     j.ms[g]->name);
        ms_log0_info("fit --methods %s: %zu spectra of %s in one pass, %d rank(s), chunks of %zu",
                     sum->methods, j.ms[0]->n_rows, o->spectra, ms_par_size(), chunk);
        const int classifier = want[K_CLASS] || want[K_LUM];
        for (size_t g = 0; g < j.n; g++)
            if (j.ms[g]->apply != MS_APPLY_ALL)
                ms_log0_info("fit --methods: %s runs on %s only (run.%s_only)%s", j.ms[g]->name,
                             j.ms[g]->apply == MS_APPLY_DWARFS ? "dwarfs" : "M giants",
                             j.ms[g]->apply == MS_APPLY_DWARFS ? "dwarfs" : "giants",
                             classifier ? "" : " when a classifier (class, lum) is in the job; "
                             "none is: every row");
        ms_survey_extra ex = {j.cols, sizeof(job_row), &j, extra_row, extra_post, extra_attributes};
        ms_survey_job_opts jo = {o->spectra, o->out, o->command, "fit", o->resume, store,
                                 j.ms[0]->n_rows, chunk, j.ms, j.n, &ex, 1};
        ms_survey_job_summary js;
        st = ms_survey_job(cfg, &jo, &js);
        sum->rows = (long)j.ms[0]->n_rows;
        sum->chunks_total = js.chunks_total;
        sum->chunks_before = js.chunks_before;
        sum->complete = js.complete;
        for (size_t g = 0; g < j.n && js.complete && st == MS_OK; g++)
            ms_log0_info("fit --methods: %s counts %ld %ld %ld, %zu rows not applicable",
                         j.ms[g]->name, j.ms[g]->counts[0], j.ms[g]->counts[1],
                         j.ms[g]->counts[2], j.ms[g]->skipped_na);
    }
    sum->seconds = ms_par_wtime() - t0;
    for (size_t g = 0; g < j.n; g++)
        if (j.ms[g]->free) j.ms[g]->free(j.ms[g]);
    if (store) ms_h5_close(store);
    return st;
}
