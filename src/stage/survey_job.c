/* survey_job.c: the one survey skeleton (survey_job.h): store rows -> methods, in order ->
 * one resumable catalog, chunks on the work queue. The drivers of fit, rv, fit-slam, laspm
 * and predict-cnn are a method each plus a call of ms_survey_job; `fit --methods` is several
 * methods and the recommended labels (src/stage/fit_methods.c). */
#include "mstars/survey_job.h"

#include "mstars/combine.h"
#include "mstars/hash.h"
#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/par.h"
#include "mstars/workq.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------- the chunk context */

static size_t type_size(ms_h5_type t, size_t str_len)
{
    ms_catalog_column c = {NULL, t, str_len, 0, NULL, NULL};
    return ms_catalog_column_size(&c);
}

void ms_survey_chunk_plain(ms_survey_chunk *ck, ms_h5 *store, size_t row0, size_t n)
{
    memset(ck, 0, sizeof *ck);
    ck->store = store;
    ck->row0 = row0;
    ck->n = n;
    ck->chunk_rows = n;
}

ms_status ms_survey_rows(ms_survey_chunk *ck, const char *name, ms_h5_type type, size_t str_len,
                         void *out)
{
    if (!ck->cache) return ms_h5_read_rows(ck->store, name, type, str_len, ck->row0, ck->n, out);
    ms_survey_cached *c = NULL;
    for (size_t k = 0; k < ck->n_cached; k++)
        if (strcmp(ck->c[k].name, name) == 0 && ck->c[k].type == type &&
            ck->c[k].str_len == str_len)
            c = &ck->c[k];
    if (!c) {
        if (ck->n_cached == MS_SURVEY_MAX_CACHE)
            MS_ERROR(MS_EINVAL, "survey: more than %d store datasets per chunk (%s)",
                     MS_SURVEY_MAX_CACHE, name);
        int rank;
        size_t dims[2];
        MS_TRY(ms_h5_dims(ck->store, name, &rank, dims));
        c = &ck->c[ck->n_cached];
        memset(c, 0, sizeof *c);
        c->name = name;
        c->type = type;
        c->str_len = str_len;
        c->width = rank == 2 ? dims[1] : 1;
        c->elem = type_size(type, str_len);
        c->chunk_stamp = SIZE_MAX;
        c->buf = ms_malloc_array("survey.cache", ck->chunk_rows * c->width + 1, c->elem);
        if (!c->buf) return MS_ENOMEM;
        ck->n_cached++;
    }
    if (c->chunk_stamp != ck->chunk_id) {
        c->chunk_stamp = SIZE_MAX;
        MS_TRY(ms_h5_read_rows(ck->store, name, type, str_len, ck->row0, ck->n, c->buf));
        c->chunk_stamp = ck->chunk_id;
    }
    memcpy(out, c->buf, ck->n * c->width * c->elem);
    return MS_OK;
}

static void chunk_free(ms_survey_chunk *ck)
{
    for (size_t k = 0; k < ck->n_cached; k++) ms_free(ck->c[k].buf);
    ms_free(ck->v_start);
    ms_free(ck->v_start_rv);
    ms_free(ck->cls);
    ms_free(ck->dmgm);
    ms_free(ck->applies);
    memset(ck, 0, sizeof *ck);
}

/* ------------------------------------------------------------- applicability */

int ms_survey_applies(ms_survey_apply a, const ms_survey_chunk *ck, size_t i)
{
    switch (a) {
    case MS_APPLY_ALL: return 1;
    case MS_APPLY_DWARFS: return !ck->cls || ck->cls[i] == MS_SURVEY_CLASS_DWARF;
    case MS_APPLY_GIANTS: return !ck->cls || ck->cls[i] == MS_SURVEY_CLASS_GIANT;
    }
    return 1;
}

const char *ms_survey_class_name(int32_t cls)
{
    switch (cls) {
    case MS_SURVEY_CLASS_DWARF: return "dwarf";
    case MS_SURVEY_CLASS_GIANT: return "giant";
    case MS_SURVEY_CLASS_OTHER: return "non-M";
    case MS_SURVEY_CLASS_WD: return "white dwarf";
    default: return "unclassified";
    }
}

/* 1 when `method` is in the comma-separated list. */
static int listed(const char *p, const char *method)
{
    const size_t len = strlen(method);
    while (*p) {
        while (*p == ',' || *p == ' ') p++;
        const char *e = p;
        while (*e && *e != ',' && *e != ' ') e++;
        if ((size_t)(e - p) == len && strncmp(p, method, len) == 0) return 1;
        p = e;
    }
    return 0;
}

ms_survey_apply ms_survey_apply_of(const ms_config *cfg, const char *method)
{
    if (listed(cfg->run.dwarfs_only, method)) return MS_APPLY_DWARFS;
    if (listed(cfg->run.giants_only, method)) return MS_APPLY_GIANTS;
    return MS_APPLY_ALL;
}

ms_status ms_survey_apply_check(const ms_config *cfg, const char *method)
{
    if (listed(cfg->run.dwarfs_only, method) && listed(cfg->run.giants_only, method))
        MS_ERROR(MS_EINVAL, "configuration: method %s is in both run.dwarfs_only (%s) and "
                 "run.giants_only (%s)", method, cfg->run.dwarfs_only, cfg->run.giants_only);
    return MS_OK;
}

/* ------------------------------------------------------------- columns */

static int is_id_name(const char *name, const ms_survey_method *m)
{
    for (const ms_catalog_column *c = m->id_cols; c && c->name; c++)
        if (strcmp(c->name, name) == 0) return 1;
    return 0;
}

void ms_survey_column_name(const char *method, const char *name, char *buf, size_t len)
{
    const size_t pre = strlen(MS_CATALOG_GROUP "/");
    size_t na;
    const ms_method_answers *a = ms_schema_answers(&na);
    if (strncmp(name, MS_CATALOG_GROUP "/", pre) == 0)
        for (size_t k = 0; k < na; k++)
            if (strcmp(a[k].method, method) == 0) {
                char out[100];
                ms_combine_column_name(&a[k], name + pre, out, sizeof out);
                snprintf(buf, len, MS_CATALOG_GROUP "/%s", out);
                return;
            }
    snprintf(buf, len, "%s", name);
}

static void job_name(const ms_survey_method *m, const char *name, char *buf, size_t len)
{
    ms_survey_column_name(m->name, name, buf, len);
}

ms_status ms_survey_columns(ms_survey_method *const *ms, size_t n, const ms_survey_extra *extra,
                            ms_catalog_column **cols, size_t *row_size, size_t *base)
{
    const int alone = n == 1 && !extra;
    size_t total = 1;
    for (size_t g = 0; g < n; g++) {
        for (const ms_catalog_column *c = ms[g]->id_cols; c && c->name; c++) total++;
        for (int q = 0; q < MS_SURVEY_MAX_GROUPS && ms[g]->groups[q]; q++)
            for (const ms_catalog_column *c = ms[g]->groups[q]->cols; c->name; c++) total++;
    }
    if (extra)
        for (const ms_catalog_column *c = extra->cols; c->name; c++) total++;
    /* the column table, then the renamed names (128 bytes each) */
    char *block = ms_calloc("survey.columns", total, sizeof(ms_catalog_column) + 128);
    if (!block) return MS_ENOMEM;
    ms_catalog_column *out = (ms_catalog_column *)block;
    char *names = block + total * sizeof(ms_catalog_column);
    size_t k = 0, off = 0;
    const size_t n_all = n + (extra ? 1 : 0);
    for (size_t g = 0; g < n_all; g++) {
        base[g] = off;
        off += ((g < n ? ms[g]->row_size : extra->row_size) + 7) / 8 * 8;
    }
    if (alone) off = ms[0]->row_size;
    ms_status st = MS_OK;
#define ADD(col, b, rename_m)                                                                  \
    do {                                                                                       \
        const char *nm = (col)->name;                                                          \
        if (rename_m) {                                                                        \
            job_name(rename_m, nm, names + k * 128, 128);                                      \
            nm = names + k * 128;                                                              \
        }                                                                                      \
        int dup = 0;                                                                           \
        for (size_t j = 0; j < k; j++) dup |= strcmp(out[j].name, nm) == 0;                    \
        if (dup && !(alone)) {                                                                 \
            /* shared identification columns are written once (the first method's) */         \
            if (!id) st = ms_error_set(MS_EINVAL, __FILE__, __LINE__, "survey: column %s is "  \
                                       "declared by two methods of the job", nm);              \
        } else {                                                                               \
            out[k] = *(col);                                                                   \
            out[k].name = nm;                                                                  \
            out[k].offset += (b);                                                              \
            k++;                                                                               \
        }                                                                                      \
    } while (0)
    /* identification columns first (once), then each method's groups, then the extra */
    for (size_t g = 0; g < n && st == MS_OK; g++)
        for (const ms_catalog_column *c = ms[g]->id_cols; c && c->name && st == MS_OK; c++) {
            const int id = 1;
            ADD(c, base[g], (const ms_survey_method *)NULL);
        }
    for (size_t g = 0; g < n && st == MS_OK; g++)
        for (int q = 0; q < MS_SURVEY_MAX_GROUPS && ms[g]->groups[q] && st == MS_OK; q++)
            for (const ms_catalog_column *c = ms[g]->groups[q]->cols; c->name && st == MS_OK; c++) {
                /* a group that carries identification columns itself (z25: id, obsid, ...) */
                int id = 0;
                for (size_t h = 0; h < n; h++) id |= is_id_name(c->name, ms[h]);
                ADD(c, base[g], alone || id ? (const ms_survey_method *)NULL : ms[g]);
            }
    if (extra)
        for (const ms_catalog_column *c = extra->cols; c->name && st == MS_OK; c++) {
            const int id = 0;
            ADD(c, base[n], (const ms_survey_method *)NULL);
        }
#undef ADD
    if (st != MS_OK) {
        ms_free(block);
        return st;
    }
    out[k].name = NULL;
    *cols = out;
    *row_size = off;
    return MS_OK;
}

uint64_t ms_survey_hash(ms_survey_method *const *ms, size_t n, size_t n_rows)
{
    if (n == 1) return ms[0]->hash; /* a single command's journals, as before */
    uint64_t h = MS_HASH_INIT;
    for (size_t g = 0; g < n; g++) {
        h = ms_hash_bytes(h, ms[g]->name, strlen(ms[g]->name) + 1);
        h = ms_hash_bytes(h, &ms[g]->hash, sizeof ms[g]->hash);
        const int a = (int)ms[g]->apply;
        h = ms_hash_bytes(h, &a, sizeof a);
    }
    return ms_hash_bytes(h, &n_rows, sizeof n_rows);
}

/* ------------------------------------------------------------- the job */

typedef struct {
    const ms_survey_job_opts *o;
    ms_catalog *cat;
    ms_survey_chunk ck;
    size_t row_size, base[16];
    char *rows;                  /* [chunk][row_size], NULL with one method (its own rows) */
} job_state;

static ms_status do_chunk(void *ctx, size_t chunk, long *n_failed)
{
    job_state *s = ctx;
    const ms_survey_job_opts *o = s->o;
    const size_t row0 = chunk * o->chunk;
    const size_t n = row0 + o->chunk > o->n_rows ? o->n_rows - row0 : o->chunk;
    ms_survey_chunk *ck = &s->ck;
    ck->row0 = row0;
    ck->n = n;
    ck->chunk_id = chunk;
    for (size_t i = 0; ck->v_start && i < n; i++) {
        ck->v_start[i] = (double)NAN;
        ck->v_start_rv[i] = 0;
    }
    for (size_t i = 0; ck->cls && i < n; i++) ck->cls[i] = MS_SURVEY_CLASS_UNKNOWN;
    for (size_t i = 0; ck->dmgm && i < n; i++) ck->dmgm[i] = (double)NAN;
    for (size_t g = 0; g < o->n_methods; g++) {
        ms_survey_method *m = o->methods[g];
        uint8_t *ap = ck->applies + g * o->chunk;
        for (size_t i = 0; i < n; i++) ap[i] = (uint8_t)ms_survey_applies(m->apply, ck, i);
        MS_TRY(m->run(m, ck, ap, n_failed));
        for (size_t i = 0; i < n; i++)
            if (!ap[i]) {
                m->skip(m, (char *)m->rows + i * m->row_size);
                m->skipped_na++;
            }
    }
    if (!s->rows) return ms_catalog_write_chunk(s->cat, chunk, row0, n, o->methods[0]->rows);
    memset(s->rows, 0, n * s->row_size);
    for (size_t i = 0; i < n; i++) {
        char *r = s->rows + i * s->row_size;
        for (size_t g = 0; g < o->n_methods; g++) {
            const ms_survey_method *m = o->methods[g];
            memcpy(r + s->base[g], (const char *)m->rows + i * m->row_size, m->row_size);
        }
        if (o->extra)
            MS_TRY(o->extra->row(o->extra->state, ck, o->n_methods, i, r + s->base[o->n_methods]));
    }
    return ms_catalog_write_chunk(s->cat, chunk, row0, n, s->rows);
}

ms_status ms_survey_job(const ms_config *cfg, const ms_survey_job_opts *o,
                        ms_survey_job_summary *sum)
{
    memset(sum, 0, sizeof *sum);
    const double t0 = ms_par_wtime();
    job_state s;
    memset(&s, 0, sizeof s);
    s.o = o;
    ms_catalog_column *cols = NULL;
    uint8_t *done = NULL;
    size_t *pending = NULL;
    ms_status st = o->n_methods >= 1 && o->n_methods < 15 ? MS_OK
                   : ms_error_set(MS_EINVAL, __FILE__, __LINE__, "survey: %zu methods",
                                  o->n_methods);
    if (st == MS_OK) st = ms_survey_columns(o->methods, o->n_methods, o->extra, &cols, &s.row_size,
                                            s.base);
    for (size_t g = 0; g < o->n_methods; g++) o->methods[g]->renamed = o->n_methods > 1 || o->extra;
    s.ck.store = o->store;
    s.ck.cache = 1;
    s.ck.chunk_rows = o->chunk;
    if (st == MS_OK) {
        s.ck.applies = ms_malloc_array("survey.applies", o->n_methods * o->chunk + 1, 1);
        if (!s.ck.applies) st = MS_ENOMEM;
        if (st == MS_OK && (o->n_methods > 1 || o->extra)) {
            s.rows = ms_malloc_array("survey.rows", o->chunk, s.row_size);
            if (!s.rows) st = MS_ENOMEM;
        }
        for (size_t g = 0; st == MS_OK && g < o->n_methods; g++)
            if (strcmp(o->methods[g]->name, "rv") == 0 && !s.ck.v_start) {
                s.ck.v_start = ms_malloc_array("survey.v_start", o->chunk + 1, sizeof(double));
                s.ck.v_start_rv = ms_malloc_array("survey.v_start_rv", o->chunk + 1, 1);
                if (!s.ck.v_start || !s.ck.v_start_rv) st = MS_ENOMEM;
            }
        /* a classification method routes the rows of the later ones (ck->cls) */
        for (size_t g = 0; st == MS_OK && g < o->n_methods; g++) {
            const char *nm = o->methods[g]->name;
            if ((strcmp(nm, "class") == 0 || strcmp(nm, "lum") == 0) && !s.ck.cls) {
                s.ck.cls = ms_malloc_array("survey.cls", o->chunk + 1, sizeof(int32_t));
                if (!s.ck.cls) st = MS_ENOMEM;
            }
            if (strcmp(nm, "class") == 0 && !s.ck.dmgm) {
                s.ck.dmgm = ms_malloc_array("survey.dmgm", o->chunk + 1, sizeof(double));
                if (!s.ck.dmgm) st = MS_ENOMEM;
            }
        }
    }
    st = ms_par_any_failed(st);
    const size_t n_chunks = o->chunk ? (o->n_rows + o->chunk - 1) / o->chunk : 0;
    if (st == MS_OK) {
        ms_catalog_opts co = {o->out, cols, s.row_size, o->n_rows, o->chunk,
                              ms_survey_hash(o->methods, o->n_methods, o->n_rows), o->resume};
        st = ms_catalog_open(&co, &s.cat, &done);
    }
    if (st == MS_OK) {
        pending = ms_malloc_array("survey.pending", n_chunks + 1, sizeof *pending);
        st = ms_par_any_failed(pending ? MS_OK : MS_ENOMEM);
    }
    if (st == MS_OK) {
        size_t n_pending = 0, rows_before = 0;
        for (size_t k = 0; k < n_chunks; k++) {
            if (!done[k])
                pending[n_pending++] = k;
            else
                rows_before += k + 1 == n_chunks ? o->n_rows - k * o->chunk : o->chunk;
        }
        sum->chunks_total = (long)n_chunks;
        sum->chunks_before = (long)(n_chunks - n_pending);
        if (sum->chunks_before > 0)
            ms_log0_info("resume: %ld of %ld chunks were done by earlier runs", sum->chunks_before,
                         sum->chunks_total);
        ms_workq_opts wo = {pending, n_pending, o->chunk, o->n_rows - rows_before,
                            cfg->run.progress_seconds, cfg->run.max_runtime, "spectra"};
        ms_workq_stats ws;
        memset(&ws, 0, sizeof ws);
        st = ms_workq_run(&wo, do_chunk, &s, &ws);
        sum->master_busy = ws.master_busy;
        sum->requests = ws.requests;
        sum->complete = st == MS_OK;
        if (st == MS_EINTERRUPTED) st = MS_OK;
        for (size_t g = 0; st == MS_OK && g < o->n_methods; g++) {
            ms_survey_method *m = o->methods[g];
            long na = (long)m->skipped_na;
            if (m->n_counts) st = ms_par_allreduce_sum_l(m->counts, (size_t)m->n_counts);
            if (st == MS_OK) st = ms_par_allreduce_sum_l(&na, 1);
            m->skipped_na = (size_t)na;
        }
        for (size_t g = 0; st == MS_OK && sum->complete && g < o->n_methods; g++)
            if (o->methods[g]->post)
                st = ms_par_any_failed(o->methods[g]->post(o->methods[g], ms_catalog_file(s.cat),
                                                           o->n_rows));
        for (size_t g = 0; st == MS_OK && sum->complete && g < o->n_methods; g++)
            if (o->methods[g]->attributes)
                st = o->methods[g]->attributes(o->methods[g], ms_catalog_file(s.cat), cfg,
                                               o->command);
        if (st == MS_OK && sum->complete && o->extra && o->extra->post)
            st = ms_par_any_failed(o->extra->post(o->extra->state, ms_catalog_file(s.cat),
                                                  o->n_rows));
        if (st == MS_OK && sum->complete && o->extra && o->extra->attributes)
            st = o->extra->attributes(o->extra->state, ms_catalog_file(s.cat));
        if (o->abort_on_write_error) {
            st = ms_par_any_failed(st);
            if (st == MS_OK && sum->complete) /* a full disk shows here, not at the close */
                st = ms_h5_flush(ms_catalog_file(s.cat));
            for (size_t g = 0; st == MS_OK && sum->complete && g < o->n_methods; g++)
                if (o->methods[g]->flush) st = o->methods[g]->flush(o->methods[g]);
            st = ms_par_any_failed(st);
            if (st == MS_EHDF5 || st == MS_EIO) {
                char msg[1024];
                snprintf(msg, sizeof msg, "%s: %s", o->what, ms_error_message());
                for (size_t g = 0; g < o->n_methods; g++)
                    if (o->methods[g]->abort_files) o->methods[g]->abort_files(o->methods[g]);
                st = ms_catalog_abort_after_write_error(s.cat, msg); /* no return under MPI */
                s.cat = NULL;
            }
        }
        for (size_t g = 0; s.cat && g < o->n_methods; g++)
            if (o->methods[g]->commit) {
                ms_status mst = o->methods[g]->commit(o->methods[g], st == MS_OK && sum->complete);
                if (st == MS_OK) st = mst;
            }
        if (s.cat) {
            ms_status fst = ms_catalog_finish(s.cat, sum->complete && st == MS_OK);
            if (st == MS_OK) st = fst;
        }
    }
    sum->seconds = ms_par_wtime() - t0;
    ms_free(cols);
    ms_free(pending);
    ms_free(done);
    ms_free(s.rows);
    chunk_free(&s.ck);
    return st;
}

/* ------------------------------------------------------------- one method */

ms_status ms_survey_run_one(const ms_config *cfg, ms_survey_method *m, ms_h5 *store,
                            const char *spectra, const char *out, const char *command,
                            const char *what, int resume, int abort_on_write_error,
                            ms_survey_job_summary *sum)
{
    ms_survey_method *ms[1] = {m};
    ms_survey_job_opts jo = {spectra, out, command, what, resume, store, m->n_rows,
                             (size_t)cfg->run.chunk_size, ms, 1, NULL, abort_on_write_error};
    return ms_survey_job(cfg, &jo, sum);
}

void ms_survey_one_close(ms_survey_method *m, ms_h5 *store)
{
    if (m->free) m->free(m);
    if (store) ms_h5_close(store);
}
