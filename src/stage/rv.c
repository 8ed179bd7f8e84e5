/* rv.c: the survey method "rv" (survey_methods.h) and the driver of `mstars rv`
 * (stage_rv.h): the store's native view through the RV module (rv.h), run by the survey
 * skeleton (survey_job.h) alone or first of `fit --methods`, where its chosen velocity is
 * the start velocity of the later methods (ck->v_start). Each row depends only on its own
 * spectrum, so the catalog is the same for any rank count and chunk size. */
#include "mstars/store.h"
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
#include "survey_methods.h"

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

typedef struct {
    ms_rv_library lib_own;
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
    ms_rv_settings settings;
    const char *templates, *spectra;
} rv_state;

/* the per-rank counts (m->counts) */
enum { N_MEASURED, N_NO_RV, N_SKIPPED, N_BY_FROM };

static ms_status read_chunk(rv_state *s, ms_survey_chunk *ck)
{
    MS_TRY(ms_survey_rows(ck, MS_STORE_NATIVE_FLUX, MS_H5_F32, 0, s->flux));
    MS_TRY(ms_survey_rows(ck, MS_STORE_NATIVE_IVAR, MS_H5_F32, 0, s->ivar));
    MS_TRY(ms_survey_rows(ck, MS_STORE_NATIVE_MASK, MS_H5_U8, 0, s->mask));
    MS_TRY(ms_survey_rows(ck, MS_META_Z, MS_H5_F64, 0, s->z));
    MS_TRY(ms_survey_rows(ck, MS_META_Z_ERR, MS_H5_F64, 0, s->z_err));
    MS_TRY(ms_survey_rows(ck, MS_META_SNR_R, MS_H5_F64, 0, s->snr_r));
    MS_TRY(ms_survey_rows(ck, MS_META_LMJD, MS_H5_I64, 0, s->lmjd));
    MS_TRY(ms_survey_rows(ck, MS_META_STATUS, MS_H5_I32, 0, s->status));
    MS_TRY(ms_store_read_keys(ck->store, ck->row0, ck->n, s->key));
    return ms_survey_rows(ck, MS_META_OBSID, MS_H5_STR, 32, s->obsid);
}

/* The start velocity of the later methods of the job (ck->v_start): the adopted RV where
 * rv_flag says it is good, else the pipeline's Z c where that is sane, else NaN. */
static double start_velocity(const ms_rv_row *r, double z)
{
    if (r->rv_flag == 1 && isfinite(r->rv)) return r->rv;
    double vz = z * MS_C_KMS;
    return isfinite(vz) && fabs(vz) < 3000.0 && z > -9000.0 ? vz : (double)NAN;
}

/* One chunk (survey_job.h: run). */
static ms_status rv_run(ms_survey_method *me, ms_survey_chunk *ck, const uint8_t *applies,
                        long *n_failed)
{
    rv_state *s = me->state;
    long *cnt = me->counts;
    const size_t row0 = ck->row0, n = ck->n;
    MS_TRY(read_chunk(s, ck));
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
        if (!applies[i]) continue; /* the skeleton calls rv_skip */
        ms_rv_native sp = {s->flux + i * MS_NATIVE_NPIX, s->ivar + i * MS_NATIVE_NPIX,
                           s->mask + i * MS_NATIVE_NPIX};
        size_t good = 0;
        for (size_t k = 0; k < MS_NATIVE_NPIX; k++) good += sp.mask[k] == 0;
        if (good == 0) { /* unreadable file: no native pixels at all */
            ms_rv_fill_unmeasured(r);
            cnt[N_SKIPPED]++;
            ++*n_failed;
            if (ck->v_start) {
                ck->v_start[i] = start_velocity(r, s->z[i]);
                ck->v_start_rv[i] = r->rv_flag == 1 && isfinite(r->rv);
            }
            continue;
        }
        double vz = s->z[i] * MS_C_KMS, ez = s->z_err[i] * MS_C_KMS;
        int z_ok = isfinite(vz) && fabs(vz) < 3000.0 && s->z[i] > -9000.0;
        ms_rv_measurements m;
        MS_TRY(ms_rv_measure_all(s->engine, &sp, z_ok ? vz : NAN,
                                 z_ok && isfinite(ez) && ez >= 0 ? ez : NAN, &m));
        ms_rv_choice c = ms_rv_decide(&m);
        ms_rv_fill_row(&m, &c, s->lib, r);
        cnt[N_MEASURED]++;
        cnt[N_BY_FROM + c.from]++;
        if (!isfinite(c.rv)) {
            cnt[N_NO_RV]++;
            ++*n_failed;
        }
        if (ck->v_start) {
            ck->v_start[i] = start_velocity(r, s->z[i]);
            ck->v_start_rv[i] = r->rv_flag == 1 && isfinite(r->rv);
        }
    }
    return MS_OK;
}

static void rv_skip(ms_survey_method *me, void *row)
{
    (void)me;
    ms_rv_fill_unmeasured(row);
}

static ms_status check_store(ms_h5 *store, const char *path)
{
    static const char *const meta[] = {MS_META_Z,      MS_META_Z_ERR, MS_META_SNR_R, MS_META_LMJD,
                                       MS_META_STATUS, MS_META_OBSID, NULL};
    return ms_store_check_native(store, path, meta);
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

static ms_status rv_attributes(ms_survey_method *me, ms_h5 *f, const ms_config *cfg,
                               const char *command)
{
    const rv_state *st_ = me->state;
    const ms_rv_library *lib = st_->lib;
    MS_TRY(ms_h5_write_provenance(f, cfg, command));
    MS_TRY(ms_h5_attr_set_str(f, "/", "spectra_store", st_->spectra));
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
    const ms_rv_settings *s = &st_->settings;
    char text[512];
    snprintf(text, sizeof text, "TM %.0f-%.0f A (TML %.0f), grid %.0f km/s x +-%d, P_%d, Gaussian "
             "on +-%d points, injections +-%d km/s (%s), templates R %.0f -> %.0f",
             s->wave_min, s->wave_max, s->tml_wave_max, s->step_kms, s->n_steps, s->poly_order,
             s->fit_half_width, s->inject_max, s->full_injection ? "literal 1001 refits" :
             "spline of the chi^2 curve", s->template_R, s->spectrum_R);
    MS_TRY(ms_h5_attr_set_str(f, "/", "rv_settings", text));
    MS_TRY(ms_h5_attr_set_str(f, MS_CATALOG_GROUP "/rv_bits", "flag_names",
                              "0=tm_failed,1=tm_at_edge,2=red_anomaly"));
    const long *c = me->counts;
    int64_t counts[4] = {(int64_t)me->n_rows, c[N_MEASURED], c[N_NO_RV], c[N_SKIPPED]};
    MS_TRY(ms_h5_attr_set_i64(f, "/", "counts_rows_measured_norv_skipped", counts, 4));
    int64_t from[MS_RV_N_FROM];
    for (int k = 0; k < MS_RV_N_FROM; k++) from[k] = c[N_BY_FROM + k];
    return ms_h5_attr_set_i64(f, "/", "counts_by_rv_from", from, MS_RV_N_FROM);
}

static void rv_free(ms_survey_method *me)
{
    rv_state *s = me->state;
    if (!s) return;
    void *p[] = {s->flux, s->ivar, s->mask, s->z, s->z_err, s->snr_r, s->lmjd, s->status, s->obsid, s->key, s->rows};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) ms_free(p[i]);
    ms_rv_engine_free(s->engine);
    ms_rv_library_free(&s->lib_own);
    ms_free(s);
    me->state = NULL;
}

ms_status ms_survey_store_rows(ms_h5 *store, const char *dataset, size_t limit, size_t *n_rows)
{
    int rank;
    size_t dims[2];
    MS_TRY(ms_h5_dims(store, dataset, &rank, dims));
    *n_rows = limit > 0 && limit < dims[0] ? limit : dims[0];
    return MS_OK;
}

ms_status ms_method_rv_open(const ms_config *cfg, const ms_rv_job_opts *o, ms_h5 *store,
                            size_t chunk, ms_survey_method *m)
{
    (void)cfg;
    memset(m, 0, sizeof *m);
    m->name = "rv";
    m->id_cols = id_columns;
    m->groups[0] = &ms_group_rv;
    m->row_size = sizeof(ms_rv_row);
    m->n_counts = N_BY_FROM + MS_RV_N_FROM;
    m->run = rv_run;
    m->skip = rv_skip;
    m->attributes = rv_attributes;
    m->free = rv_free;
    rv_state *s = ms_calloc("rv.state", 1, sizeof *s);
    if (!s) return MS_ENOMEM;
    m->state = s;
    s->chunk = chunk;
    s->settings = o->settings;
    s->templates = o->templates;
    s->spectra = o->spectra;
    MS_TRY(check_store(store, o->spectra));
    MS_TRY(ms_survey_store_rows(store, MS_STORE_NATIVE_FLUX, o->limit, &s->n_rows));
    m->n_rows = s->n_rows;
    MS_TRY(ms_rv_library_load(o->templates, &o->settings, &s->lib_own));
    s->lib = &s->lib_own;
    MS_TRY(ms_rv_engine_alloc(s->lib, &o->settings, &s->engine));
    size_t c = chunk;
    s->flux = ms_malloc_array("rv.flux", c * MS_NATIVE_NPIX, sizeof(float));
    s->ivar = ms_malloc_array("rv.ivar", c * MS_NATIVE_NPIX, sizeof(float));
    s->mask = ms_malloc_array("rv.mask", c * MS_NATIVE_NPIX, sizeof(uint8_t));
    s->z = ms_malloc_array("rv.z", c, sizeof(double));
    s->z_err = ms_malloc_array("rv.zerr", c, sizeof(double));
    s->snr_r = ms_malloc_array("rv.snr", c, sizeof(double));
    s->lmjd = ms_malloc_array("rv.lmjd", c, sizeof(int64_t));
    s->status = ms_malloc_array("rv.status", c, sizeof(int32_t));
    s->obsid = ms_malloc_array("rv.obsid", c, sizeof *s->obsid);
    s->key = ms_malloc_array("rv.key", c, sizeof *s->key);
    s->rows = ms_calloc("rv.rows", c, sizeof *s->rows);
    if (!s->flux || !s->ivar || !s->mask || !s->z || !s->z_err || !s->snr_r || !s->lmjd ||
        !s->status || !s->obsid || !s->key || !s->rows)
        return MS_ENOMEM;
    m->rows = s->rows;
    m->hash = settings_hash(&o->settings, s->lib, s->n_rows);
    return MS_OK;
}

ms_status ms_rv_job(const ms_config *cfg, const ms_rv_job_opts *o, ms_rv_job_summary *sum)
{
    memset(sum, 0, sizeof *sum);
    double t0 = ms_par_wtime();
    const size_t chunk = (size_t)cfg->run.chunk_size;
    ms_survey_method m;
    memset(&m, 0, sizeof m);
    ms_h5 *store = NULL;
    ms_status st = ms_h5_open_read(o->spectra, 0, &store);
    if (st == MS_OK) st = ms_method_rv_open(cfg, o, store, chunk, &m);
    st = ms_par_any_failed(st);
    if (st == MS_OK) {
        const rv_state *s = m.state;
        ms_log0_info("rv: %zu spectra of %s, %zu templates from %s (hash %s), %d rank(s), "
                     "chunks of %zu", s->n_rows, o->spectra, s->lib->n, o->templates, s->lib->hash,
                     ms_par_size(), chunk);
        ms_survey_job_summary js;
        st = ms_survey_run_one(cfg, &m, store, o->spectra, o->out, o->command, "rv", o->resume, 0,
                               &js);
        sum->chunks_total = js.chunks_total;
        sum->chunks_before = js.chunks_before;
        sum->complete = js.complete;
        sum->rows = (long)s->n_rows;
        sum->measured = m.counts[N_MEASURED];
        sum->no_rv = m.counts[N_NO_RV];
        sum->skipped = m.counts[N_SKIPPED];
        for (int k = 0; k < MS_RV_N_FROM; k++) sum->by_from[k] = m.counts[N_BY_FROM + k];
    }
    sum->seconds = ms_par_wtime() - t0;
    ms_survey_one_close(&m, store);
    return st;
}
