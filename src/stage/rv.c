/* rv.c: the driver of `mstars rv` (stage_rv.h): the store's native view through the RV
 * module (rv.h) into a resumable catalog, chunks handed out by the work queue as in
 * `mstars fit` (src/par/survey_fit.c). Each row depends only on its own spectrum, so the
 * catalog is the same for any rank count and chunk size. */
#include "mstars/catalog.h"
#include "mstars/h5.h"
#include "mstars/hash.h"
#include "mstars/join_io.h"
#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/native.h"
#include "mstars/par.h"
#include "mstars/rv.h"
#include "mstars/schema.h"
#include "mstars/spec.h"
#include "mstars/stage_rv.h"
#include "mstars/workq.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

extern const ms_column_group ms_group_rv;

/* The identification columns of the standalone RV catalog, over the same row struct: the
 * names the z25 group declares (id, obsid, snr_r, store_status) and lmjd; then the rv group. */
#define ID(name, type, len, field, units, desc)                                            \
    {name, type, len, offsetof(ms_rv_row, field), units, desc}
static const ms_catalog_column id_columns[] = {
    ID(MS_CATALOG_GROUP "/id", MS_H5_I64, 0, id, "", "row of the spectra store"),
    ID(MS_COL_OBSID, MS_H5_STR, 32, obsid, "", "LAMOST OBSID"),
    ID(MS_COL_KEY, MS_H5_STR, MS_KEY_LEN, key, "",
       "unique key of the spectrum: OBSID, else LMJD-PLANID_spSS-FFF (the store's /meta/key)"),
    ID(MS_CATALOG_GROUP "/lmjd", MS_H5_I64, 0, lmjd, "d", "local modified Julian date (LMJD)"),
    ID(MS_CATALOG_GROUP "/snr_r", MS_H5_F64, 0, snr_r, "", "LAMOST S/N in r (SNRR)"),
    ID(MS_COL_STORE_STATUS, MS_H5_I32, 0, store_status, "",
       "status of the row in the spectra store (0 usable for the Z25 view)"),
    {NULL, 0, 0, 0, NULL, NULL},
};

/* id_columns then the rv group's columns ({NULL}-terminated; ms_free). */
static ms_catalog_column *catalog_columns(void)
{
    size_t a = 0, b = 0;
    while (id_columns[a].name) a++;
    while (ms_group_rv.cols[b].name) b++;
    ms_catalog_column *c = ms_malloc_array("rv.columns", a + b + 1, sizeof *c);
    if (!c) return NULL;
    memcpy(c, id_columns, a * sizeof *c);
    memcpy(c + a, ms_group_rv.cols, (b + 1) * sizeof *c);
    return c;
}

typedef struct {
    ms_h5 *store;
    ms_catalog *cat;
    const ms_rv_library *lib;
    ms_rv_engine *engine;
    size_t n_rows, chunk;
    float *flux, *ivar;        /* [chunk][MS_NATIVE_NPIX] */
    uint8_t *mask;
    double *z, *z_err, *snr_r; /* [chunk] */
    int64_t *lmjd;
    int32_t *status;
    char (*obsid)[32];
    char (*key)[MS_KEY_LEN];
    ms_rv_row *rows;
    long measured, no_rv, skipped;
    long by_from[MS_RV_N_FROM];
} rv_state;

static ms_status read_chunk(rv_state *s, size_t row0, size_t n)
{
    ms_h5 *f = s->store;
    MS_TRY(ms_h5_read_rows(f, MS_STORE_NATIVE_FLUX, MS_H5_F32, 0, row0, n, s->flux));
    MS_TRY(ms_h5_read_rows(f, MS_STORE_NATIVE_IVAR, MS_H5_F32, 0, row0, n, s->ivar));
    MS_TRY(ms_h5_read_rows(f, MS_STORE_NATIVE_MASK, MS_H5_U8, 0, row0, n, s->mask));
    MS_TRY(ms_h5_read_rows(f, MS_META_Z, MS_H5_F64, 0, row0, n, s->z));
    MS_TRY(ms_h5_read_rows(f, MS_META_Z_ERR, MS_H5_F64, 0, row0, n, s->z_err));
    MS_TRY(ms_h5_read_rows(f, MS_META_SNR_R, MS_H5_F64, 0, row0, n, s->snr_r));
    MS_TRY(ms_h5_read_rows(f, MS_META_LMJD, MS_H5_I64, 0, row0, n, s->lmjd));
    MS_TRY(ms_h5_read_rows(f, MS_META_STATUS, MS_H5_I32, 0, row0, n, s->status));
    MS_TRY(ms_store_read_keys(f, row0, n, s->key));
    return ms_h5_read_rows(f, MS_META_OBSID, MS_H5_STR, 32, row0, n, s->obsid);
}

/* One chunk (ms_workq_fn). */
static ms_status do_chunk(void *ctx, size_t chunk, long *n_failed)
{
    rv_state *s = ctx;
    size_t row0 = chunk * s->chunk;
    size_t n = row0 + s->chunk > s->n_rows ? s->n_rows - row0 : s->chunk;
    MS_TRY(read_chunk(s, row0, n));
    for (size_t i = 0; i < n; i++) {
        ms_rv_row *r = &s->rows[i];
        memset(r, 0, sizeof *r);
        r->id = (int64_t)(row0 + i);
        memcpy(r->obsid, s->obsid[i], sizeof r->obsid);
        r->obsid[31] = '\0';
        memcpy(r->key, s->key[i], sizeof r->key);
        r->lmjd = s->lmjd[i];
        r->snr_r = s->snr_r[i];
        r->store_status = s->status[i];
        ms_rv_native sp = {s->flux + i * MS_NATIVE_NPIX, s->ivar + i * MS_NATIVE_NPIX,
                           s->mask + i * MS_NATIVE_NPIX};
        size_t good = 0;
        for (size_t k = 0; k < MS_NATIVE_NPIX; k++) good += sp.mask[k] == 0;
        if (good == 0) { /* unreadable file: no native pixels at all */
            ms_rv_fill_unmeasured(r);
            s->skipped++;
            ++*n_failed;
            continue;
        }
        double vz = s->z[i] * MS_C_KMS, ez = s->z_err[i] * MS_C_KMS;
        int z_ok = isfinite(vz) && fabs(vz) < 3000.0 && s->z[i] > -9000.0;
        ms_rv_measurements m;
        MS_TRY(ms_rv_measure_all(s->engine, &sp, z_ok ? vz : NAN,
                                 z_ok && isfinite(ez) && ez >= 0 ? ez : NAN, &m));
        ms_rv_choice c = ms_rv_decide(&m);
        ms_rv_fill_row(&m, &c, s->lib, r);
        s->measured++;
        s->by_from[c.from]++;
        if (!isfinite(c.rv)) {
            s->no_rv++;
            ++*n_failed;
        }
    }
    return ms_catalog_write_chunk(s->cat, chunk, row0, n, s->rows);
}

static ms_status check_store(ms_h5 *store, const char *path)
{
    static const char *required[] = {MS_STORE_NATIVE_FLUX, MS_STORE_NATIVE_IVAR,
                                     MS_STORE_NATIVE_MASK, MS_STORE_NATIVE_LOGLAM, NULL};
    for (int i = 0; required[i]; i++)
        if (!ms_h5_exists(store, required[i]))
            MS_ERROR(MS_EFORMAT, "%s has no %s: it was made by an ingest without the native "
                     "view; re-run `mstars ingest --reprocess` on its spectra to add it", path,
                     required[i]);
    int rank;
    size_t dims[2];
    MS_TRY(ms_h5_dims(store, MS_STORE_NATIVE_LOGLAM, &rank, dims));
    if (dims[0] != MS_NATIVE_NPIX)
        MS_ERROR(MS_EFORMAT, "%s: %s has %zu pixels, this build's native lattice %d", path,
                 MS_STORE_NATIVE_LOGLAM, dims[0], MS_NATIVE_NPIX);
    double ll[2];
    MS_TRY(ms_h5_read_rows(store, MS_STORE_NATIVE_LOGLAM, MS_H5_F64, 0, 0, 2, ll));
    if (fabs(ll[0] - MS_NATIVE_LOGLAM0) > 1e-9 || fabs(ll[1] - ll[0] - MS_NATIVE_DLOGLAM) > 1e-9)
        MS_ERROR(MS_EFORMAT, "%s: %s is not the lattice 3.5682 + 1e-4 k of this build", path,
                 MS_STORE_NATIVE_LOGLAM);
    static const char *meta[] = {MS_META_Z, MS_META_Z_ERR, MS_META_SNR_R, MS_META_LMJD,
                                 MS_META_STATUS, MS_META_OBSID, NULL};
    for (int i = 0; meta[i]; i++)
        if (!ms_h5_exists(store, meta[i]))
            MS_ERROR(MS_EFORMAT, "%s is not a spectra store of mstars ingest: it has no %s", path,
                     meta[i]);
    return MS_OK;
}

static uint64_t settings_hash(const ms_rv_settings *st, const ms_rv_library *lib, size_t n_rows)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%.17g %.17g %.17g %.17g %d %d %d %d %d %.17g %.17g %.17g %u %.17g",
             st->wave_min, st->wave_max, st->tml_wave_max, st->step_kms, st->n_steps,
             st->poly_order, st->fit_half_width, st->inject_max, st->full_injection,
             st->curve_step_kms, st->template_R, st->spectrum_R, st->reject_bits, st->min_pixels);
    uint64_t h = ms_hash_bytes(MS_HASH_INIT, buf, strlen(buf) + 1);
    h = ms_hash_bytes(h, lib->hash, sizeof lib->hash);
    return ms_hash_bytes(h, &n_rows, sizeof n_rows);
}

static ms_status write_attributes(ms_h5 *f, const ms_config *cfg, const ms_rv_job_opts *o,
                                  const ms_rv_library *lib, const ms_rv_job_summary *sum)
{
    MS_TRY(ms_h5_write_provenance(f, cfg, o->command));
    MS_TRY(ms_h5_attr_set_str(f, "/", "spectra_store", o->spectra));
    MS_TRY(ms_h5_attr_set_str(f, "/", "rv_templates", lib->source));
    MS_TRY(ms_h5_attr_set_str(f, "/", "rv_templates_hash", lib->hash));
    size_t len = 1;
    for (size_t t = 0; t < lib->n; t++) len += strlen(lib->t[t].name) + 1;
    char *names = ms_malloc("rv.names", len);
    if (!names) return MS_ENOMEM;
    names[0] = '\0';
    for (size_t t = 0; t < lib->n; t++) {
        if (t) strcat(names, ",");
        strcat(names, lib->t[t].name);
    }
    ms_status st = ms_h5_attr_set_str(f, "/", "rv_template_names", names);
    ms_free(names);
    MS_TRY(st);
    const ms_rv_settings *s = &o->settings;
    char text[512];
    snprintf(text, sizeof text, "TM %.0f-%.0f A (TML %.0f), grid %.0f km/s x +-%d, P_%d, Gaussian "
             "on +-%d points, injections +-%d km/s (%s), templates R %.0f -> %.0f",
             s->wave_min, s->wave_max, s->tml_wave_max, s->step_kms, s->n_steps, s->poly_order,
             s->fit_half_width, s->inject_max, s->full_injection ? "literal 1001 refits" :
             "spline of the chi^2 curve", s->template_R, s->spectrum_R);
    MS_TRY(ms_h5_attr_set_str(f, "/", "rv_settings", text));
    MS_TRY(ms_h5_attr_set_str(f, MS_CATALOG_GROUP "/rv_bits", "flag_names",
                              "0=tm_failed,1=tm_at_edge,2=red_anomaly"));
    int64_t counts[4] = {sum->rows, sum->measured, sum->no_rv, sum->skipped};
    MS_TRY(ms_h5_attr_set_i64(f, "/", "counts_rows_measured_norv_skipped", counts, 4));
    int64_t from[MS_RV_N_FROM];
    for (int k = 0; k < MS_RV_N_FROM; k++) from[k] = sum->by_from[k];
    return ms_h5_attr_set_i64(f, "/", "counts_by_rv_from", from, MS_RV_N_FROM);
}

ms_status ms_rv_job(const ms_config *cfg, const ms_rv_job_opts *o, ms_rv_job_summary *sum)
{
    memset(sum, 0, sizeof *sum);
    double t0 = ms_par_wtime();
    rv_state s;
    memset(&s, 0, sizeof s);
    s.chunk = (size_t)cfg->run.chunk_size;
    ms_rv_library lib;
    memset(&lib, 0, sizeof lib);
    uint8_t *done = NULL;
    size_t *pending = NULL;
    ms_status st = ms_h5_open_read(o->spectra, 0, &s.store);
    if (st == MS_OK) st = check_store(s.store, o->spectra);
    if (st == MS_OK) {
        int rank;
        size_t dims[2];
        st = ms_h5_dims(s.store, MS_STORE_NATIVE_FLUX, &rank, dims);
        s.n_rows = dims[0];
        if (o->limit > 0 && o->limit < s.n_rows) s.n_rows = o->limit;
    }
    if (st == MS_OK) st = ms_rv_library_load(o->templates, &o->settings, &lib);
    if (st == MS_OK) st = ms_rv_engine_alloc(&lib, &o->settings, &s.engine);
    s.lib = &lib;
    if (st == MS_OK) {
        size_t c = s.chunk;
        s.flux = ms_malloc_array("rv.flux", c * MS_NATIVE_NPIX, sizeof(float));
        s.ivar = ms_malloc_array("rv.ivar", c * MS_NATIVE_NPIX, sizeof(float));
        s.mask = ms_malloc_array("rv.mask", c * MS_NATIVE_NPIX, sizeof(uint8_t));
        s.z = ms_malloc_array("rv.z", c, sizeof(double));
        s.z_err = ms_malloc_array("rv.zerr", c, sizeof(double));
        s.snr_r = ms_malloc_array("rv.snr", c, sizeof(double));
        s.lmjd = ms_malloc_array("rv.lmjd", c, sizeof(int64_t));
        s.status = ms_malloc_array("rv.status", c, sizeof(int32_t));
        s.obsid = ms_malloc_array("rv.obsid", c, sizeof *s.obsid);
        s.key = ms_malloc_array("rv.key", c, sizeof *s.key);
        s.rows = ms_calloc("rv.rows", c, sizeof *s.rows);
        if (!s.flux || !s.ivar || !s.mask || !s.z || !s.z_err || !s.snr_r || !s.lmjd ||
            !s.status || !s.obsid || !s.key || !s.rows)
            st = MS_ENOMEM;
    }
    st = ms_par_any_failed(st);
    if (st == MS_OK)
        ms_log0_info("rv: %zu spectra of %s, %zu templates from %s (hash %s), %d rank(s), "
                     "chunks of %zu", s.n_rows, o->spectra, lib.n, o->templates, lib.hash,
                     ms_par_size(), s.chunk);
    size_t n_chunks = (s.n_rows + s.chunk - 1) / s.chunk, n_pending = 0;
    ms_catalog_column *cols = NULL;
    if (st == MS_OK) {
        cols = catalog_columns();
        st = ms_par_any_failed(cols ? MS_OK : MS_ENOMEM);
    }
    if (st == MS_OK) {
        ms_catalog_opts co = {o->out, cols, sizeof(ms_rv_row), s.n_rows, s.chunk,
                              settings_hash(&o->settings, &lib, s.n_rows), o->resume};
        st = ms_catalog_open(&co, &s.cat, &done);
    }
    if (st == MS_OK) {
        pending = ms_malloc_array("rv.pending", n_chunks + 1, sizeof *pending);
        st = ms_par_any_failed(pending ? MS_OK : MS_ENOMEM);
    }
    if (st == MS_OK) {
        long rows_before = 0;
        for (size_t k = 0; k < n_chunks; k++) {
            if (!done[k])
                pending[n_pending++] = k;
            else
                rows_before += (long)(k + 1 == n_chunks ? s.n_rows - k * s.chunk : s.chunk);
        }
        sum->chunks_total = (long)n_chunks;
        sum->chunks_before = (long)(n_chunks - n_pending);
        if (sum->chunks_before > 0)
            ms_log0_info("resume: %ld of %ld chunks were done by earlier runs", sum->chunks_before,
                         sum->chunks_total);
        ms_workq_opts wo = {pending, n_pending, s.chunk, s.n_rows - (size_t)rows_before,
                            cfg->run.progress_seconds, cfg->run.max_runtime, "spectra"};
        ms_workq_stats ws;
        st = ms_workq_run(&wo, do_chunk, &s, &ws);
        sum->complete = st == MS_OK;
        if (st == MS_EINTERRUPTED) st = MS_OK;
        long counts[3 + MS_RV_N_FROM] = {s.measured, s.no_rv, s.skipped};
        for (int k = 0; k < MS_RV_N_FROM; k++) counts[3 + k] = s.by_from[k];
        if (st == MS_OK) st = ms_par_allreduce_sum_l(counts, 3 + MS_RV_N_FROM);
        sum->rows = (long)s.n_rows;
        sum->measured = counts[0];
        sum->no_rv = counts[1];
        sum->skipped = counts[2];
        for (int k = 0; k < MS_RV_N_FROM; k++) sum->by_from[k] = counts[3 + k];
        if (st == MS_OK && sum->complete)
            st = write_attributes(ms_catalog_file(s.cat), cfg, o, &lib, sum);
        ms_status fst = ms_catalog_finish(s.cat, st == MS_OK && sum->complete);
        if (st == MS_OK) st = fst;
    }
    sum->seconds = ms_par_wtime() - t0;
    ms_free(cols);
    ms_free(pending);
    ms_free(done);
    void *p[] = {s.flux, s.ivar, s.mask, s.z, s.z_err, s.snr_r, s.lmjd, s.status, s.obsid, s.key, s.rows};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) ms_free(p[i]);
    ms_rv_engine_free(s.engine);
    ms_rv_library_free(&lib);
    if (s.store) ms_h5_close(s.store);
    return st;
}
