/* laspm.c: the survey method "laspm" (survey_methods.h) and the driver of `mstars laspm`
 * (stage_laspm.h): every spectrum of a store matched against an empirical library (laspm.h),
 * run by the survey skeleton (survey_job.h) alone or in `fit --methods`. */
#include "mstars/catalog.h"
#include "mstars/h5.h"
#include "mstars/hash.h"
#include "mstars/laspm.h"
#include "mstars/join_io.h"
#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/par.h"
#include "mstars/schema.h"
#include "mstars/stage_laspm.h"
#include "survey_methods.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------- the catalog row */

typedef struct {
    int64_t id, source_id;
    char obsid[32];
    char key[MS_KEY_LEN];
    double ra, dec, snr_r, snr_i;
    int32_t store_status;
    double label[MS_LASPM_N_LABELS], error[MS_LASPM_N_LABELS];
    double e_spread[MS_LASPM_N_LABELS], e_curv[MS_LASPM_N_LABELS];
    int64_t best_id[MS_LASPM_K];
    double weight[MS_LASPM_K];
    double chi2, chi2_comb, chi2_red;
    int32_t n_pix;
    uint32_t flags;
} laspm_row;

#define C(name, type, field, units, desc)                                                  \
    {MS_CATALOG_GROUP "/" name, type, 0, offsetof(laspm_row, field), units, desc}
#define A(name, type, field, k, units, desc)                                               \
    {MS_CATALOG_GROUP "/" name, type, 0,                                                   \
     offsetof(laspm_row, field) + (k) * sizeof(((laspm_row *)0)->field[0]), units, desc}

/* identity columns of a laspm catalog (the same names and meaning as the z25 group's) */
static const ms_catalog_column id_columns[] = {
    C("id", MS_H5_I64, id, "", "row of the spectra store (and of every input list)"),
    {MS_CATALOG_GROUP "/obsid", MS_H5_STR, 32, offsetof(laspm_row, obsid), "", "LAMOST OBSID"},
    {MS_COL_KEY, MS_H5_STR, MS_KEY_LEN, offsetof(laspm_row, key), "",
     "unique key of the spectrum: OBSID, else LMJD-PLANID_spSS-FFF (the store's /meta/key)"},
    C("ra", MS_H5_F64, ra, "deg", "right ascension"),
    C("dec", MS_H5_F64, dec, "deg", "declination"),
    C("source_id", MS_H5_I64, source_id, "", "Gaia DR3 source_id from the input catalog (-1: none)"),
    C("snr_r", MS_H5_F64, snr_r, "", "LAMOST S/N in r (SNRR)"),
    C("snr_i", MS_H5_F64, snr_i, "", "LAMOST S/N in i (SNRI)"),
    C("store_status", MS_H5_I32, store_status, "",
      "status of the spectrum in the store (0 usable; see the store's /meta/status)"),
    {NULL, 0, 0, 0, NULL, NULL},
};

static const ms_catalog_column laspm_columns[] = {
    A("laspm_teff", MS_H5_F64, label, 0, "K", "Teff: the five best library matches combined "
      "(non-negative least squares of the spectra, Du 2025 3.6)"),
    A("e_laspm_teff", MS_H5_F64, error, 0, "K", "sqrt(spread^2 + curvature^2) of Teff"),
    A("laspm_logg", MS_H5_F64, label, 1, "dex", "log g of the combination"),
    A("e_laspm_logg", MS_H5_F64, error, 1, "dex", "log g uncertainty"),
    A("laspm_m_h", MS_H5_F64, label, 2, "dex", "[M/H] of the combination (the library's scale)"),
    A("e_laspm_m_h", MS_H5_F64, error, 2, "dex", "[M/H] uncertainty"),
    A("laspm_teff_spread", MS_H5_F64, e_spread, 0, "K",
      "RMS of the five best matches' Teff about laspm_teff"),
    A("laspm_logg_spread", MS_H5_F64, e_spread, 1, "dex", "RMS of the five's log g"),
    A("laspm_m_h_spread", MS_H5_F64, e_spread, 2, "dex", "RMS of the five's [M/H]"),
    A("laspm_teff_curv", MS_H5_F64, e_curv, 0, "K", "Teff error from the chi2 curvature along "
      "Teff over the n_curv best matches (sqrt(chi2_red / c)); NaN when not positive"),
    A("laspm_logg_curv", MS_H5_F64, e_curv, 1, "dex", "log g error from the chi2 curvature"),
    A("laspm_m_h_curv", MS_H5_F64, e_curv, 2, "dex", "[M/H] error from the chi2 curvature"),
    A("laspm_id1", MS_H5_I64, best_id, 0, "", "library id of the best match"),
    A("laspm_id2", MS_H5_I64, best_id, 1, "", "library id of the 2nd best match"),
    A("laspm_id3", MS_H5_I64, best_id, 2, "", "library id of the 3rd best match"),
    A("laspm_id4", MS_H5_I64, best_id, 3, "", "library id of the 4th best match"),
    A("laspm_id5", MS_H5_I64, best_id, 4, "", "library id of the 5th best match"),
    A("laspm_w1", MS_H5_F64, weight, 0, "", "combination weight of the best match (sum 1)"),
    A("laspm_w2", MS_H5_F64, weight, 1, "", "combination weight of the 2nd"),
    A("laspm_w3", MS_H5_F64, weight, 2, "", "combination weight of the 3rd"),
    A("laspm_w4", MS_H5_F64, weight, 3, "", "combination weight of the 4th"),
    A("laspm_w5", MS_H5_F64, weight, 4, "", "combination weight of the 5th"),
    C("laspm_chi2", MS_H5_F64, chi2, "", "chi2 of the best single match (quadratic "
      "recalibration, Du 2025 3.3)"),
    C("laspm_chi2_comb", MS_H5_F64, chi2_comb, "", "chi2 of the combination"),
    C("laspm_chi2_red", MS_H5_F64, chi2_red, "", "laspm_chi2_comb / (laspm_n_pix - 3)"),
    C("laspm_n_pix", MS_H5_I32, n_pix, "", "pixels in chi2"),
    C("laspm_flags", MS_H5_U32, flags, "", "bits (attribute flag_names): 0 no_pixels, "
      "1 curvature_not_positive, 2 at_library_edge, 3 few_library, 4 not matched (store)"),
    {NULL, 0, 0, 0, NULL, NULL},
};

static const char *const laspm_flag_bits[] = {"no_pixels", "curvature_not_positive",
                                              "at_library_edge", "few_library",
                                              "store_unusable", "not_applicable", NULL};
static const ms_flag_bits laspm_flags[] = {{"laspm_flags", laspm_flag_bits}, {NULL, NULL}};

/* The catalog column group of LASPM (schema.h). */
const ms_column_group ms_group_laspm = {
    "laspm", "Du et al. 2025: LASPM matching against an empirical (golden-sample) library",
    laspm_columns, sizeof(laspm_row), laspm_flags};

#define LASPM_STORE_UNUSABLE 16u
#define LASPM_NOT_APPLICABLE 32u /* fit --methods: not a row this method applies to */

/* ------------------------------------------------------------- per-rank state */

typedef struct {
    ms_laspm_library lib_own;
    uint8_t *fit_mask;
    ms_laspm *m;
    const ms_laspm_library *lib;
    ms_laspm_run_opts o_copy;
    const ms_laspm_run_opts *o;
    size_t n_rows, chunk, n_pix;
    int has_source_id, has_continuum;
    int64_t *star;              /* [n_rows] star ids (leave-one-out) */
    float *flux, *ivar, *cont;  /* [chunk x n_pix] */
    float *mflux, *mivar;       /* compacted usable rows */
    int64_t *exclude;
    double *snr_r, *snr_i, *ra, *dec;
    int32_t *status;
    char (*obsid)[32];
    char (*key)[MS_KEY_LEN];
    int64_t *source_id;
    size_t *usable;
    ms_laspm_result *res;
    laspm_row *rows;
} lstate;

enum { N_MATCHED, N_FAILED, N_SKIPPED };

ms_status ms_stage_star_ids(ms_h5 *store, size_t n_rows, double radius_arcsec, int64_t **ids)
{
    int64_t *s = ms_malloc_array("laspm.star", n_rows + 1, sizeof *s);
    double *pos = ms_malloc_array("laspm.pos", 2 * n_rows + 1, sizeof *pos);
    ms_status st = s && pos ? MS_OK : MS_ENOMEM;
    int has = st == MS_OK && ms_h5_exists(store, MS_INPUT_SOURCE_ID);
    if (has) st = ms_h5_read_rows(store, MS_INPUT_SOURCE_ID, MS_H5_I64, 0, 0, n_rows, s);
    for (size_t i = 0; st == MS_OK && !has && i < n_rows; i++) s[i] = -1;
    if (st == MS_OK) st = ms_h5_read_rows(store, MS_META_RA, MS_H5_F64, 0, 0, n_rows, pos);
    if (st == MS_OK)
        st = ms_h5_read_rows(store, MS_META_DEC, MS_H5_F64, 0, 0, n_rows, pos + n_rows);
    if (st == MS_OK)
        st = ms_join_fill_groups(pos, pos + n_rows, n_rows,
                                 radius_arcsec > 0 ? radius_arcsec : MS_JOIN_RADIUS_DEFAULT, s,
                                 NULL);
    for (size_t i = 0; st == MS_OK && i < n_rows; i++)
        if (s[i] < 0) s[i] = (int64_t)i;
    ms_free(pos);
    if (st != MS_OK) {
        ms_free(s);
        return st;
    }
    *ids = s;
    return MS_OK;
}

static ms_status state_alloc(lstate *s)
{
    const size_t c = s->chunk, np = s->n_pix;
#define ALLOC(ptr, count) \
    if (!((ptr) = ms_malloc_array("laspm." #ptr, (count) + 1, sizeof *(ptr)))) return MS_ENOMEM
    ALLOC(s->flux, c * np);
    ALLOC(s->ivar, c * np);
    ALLOC(s->cont, c * np);
    ALLOC(s->mflux, c * np);
    ALLOC(s->mivar, c * np);
    ALLOC(s->exclude, c);
    ALLOC(s->snr_r, c);
    ALLOC(s->snr_i, c);
    ALLOC(s->ra, c);
    ALLOC(s->dec, c);
    ALLOC(s->status, c);
    ALLOC(s->obsid, c);
    ALLOC(s->key, c);
    ALLOC(s->source_id, c);
    ALLOC(s->usable, c);
    ALLOC(s->res, c);
    ALLOC(s->rows, c);
#undef ALLOC
    return MS_OK;
}

static void state_free(lstate *s)
{
    void *p[] = {s->star, s->flux, s->ivar, s->cont, s->mflux, s->mivar, s->exclude, s->snr_r,
                 s->snr_i, s->ra, s->dec, s->status, s->obsid, s->key, s->source_id, s->usable, s->res, s->rows};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) ms_free(p[i]);
}

static ms_status read_chunk(lstate *s, ms_survey_chunk *ck)
{
    const size_t row0 = ck->row0, n = ck->n;
    MS_TRY(ms_survey_rows(ck, MS_STORE_FLUX, MS_H5_F32, 0, s->flux));
    MS_TRY(ms_survey_rows(ck, MS_STORE_IVAR, MS_H5_F32, 0, s->ivar));
    MS_TRY(ms_survey_rows(ck, MS_STORE_CONTINUUM, MS_H5_F32, 0, s->cont));
    MS_TRY(ms_survey_rows(ck, MS_META_SNR_R, MS_H5_F64, 0, s->snr_r));
    MS_TRY(ms_survey_rows(ck, MS_META_SNR_I, MS_H5_F64, 0, s->snr_i));
    MS_TRY(ms_survey_rows(ck, MS_META_RA, MS_H5_F64, 0, s->ra));
    MS_TRY(ms_survey_rows(ck, MS_META_DEC, MS_H5_F64, 0, s->dec));
    MS_TRY(ms_survey_rows(ck, MS_META_STATUS, MS_H5_I32, 0, s->status));
    MS_TRY(ms_survey_rows(ck, MS_META_OBSID, MS_H5_STR, 32, s->obsid));
    MS_TRY(ms_store_read_keys(ck->store, row0, n, s->key));
    if (s->has_source_id)
        MS_TRY(ms_survey_rows(ck, MS_INPUT_SOURCE_ID, MS_H5_I64, 0, s->source_id));
    for (size_t i = 0; i < n; i++) {
        laspm_row *r = &s->rows[i];
        memset(r, 0, sizeof *r);
        r->id = (int64_t)(row0 + i);
        memcpy(r->obsid, s->obsid[i], sizeof r->obsid);
        r->obsid[31] = '\0';
        memcpy(r->key, s->key[i], sizeof r->key);
        r->source_id = s->has_source_id ? s->source_id[i] : -1;
        r->snr_r = s->snr_r[i];
        r->snr_i = s->snr_i[i];
        r->ra = s->ra[i];
        r->dec = s->dec[i];
        r->store_status = s->status[i];
    }
    return MS_OK;
}

static void fill_unmatched(laspm_row *r, uint32_t flags)
{
    for (int d = 0; d < MS_LASPM_N_LABELS; d++)
        r->label[d] = r->error[d] = r->e_spread[d] = r->e_curv[d] = NAN;
    for (int k = 0; k < MS_LASPM_K; k++) {
        r->best_id[k] = -1;
        r->weight[k] = NAN;
    }
    r->chi2 = r->chi2_comb = r->chi2_red = NAN;
    r->flags = flags;
}

/* One chunk (survey_job.h: run). */
static ms_status laspm_run(ms_survey_method *me, ms_survey_chunk *ck, const uint8_t *applies,
                           long *n_failed)
{
    lstate *s = me->state;
    long *cnt = me->counts;
    const size_t np = s->n_pix, row0 = ck->row0;
    const size_t n = ck->n;
    MS_TRY(read_chunk(s, ck));
    const ms_laspm_opts *mo = &s->o->match;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (!applies[i]) continue; /* the skeleton calls laspm_skip */
        if (s->status[i] != 0) {
            fill_unmatched(&s->rows[i], LASPM_STORE_UNUSABLE);
            cnt[N_SKIPPED]++;
            ++*n_failed;
            continue;
        }
        memcpy(s->mflux + m * np, s->flux + i * np, np * sizeof(float));
        memcpy(s->mivar + m * np, s->ivar + i * np, np * sizeof(float));
        ms_laspm_view(s->lib->view, s->lib->wavelength, np, mo->wave_min, mo->wave_max,
                      s->mflux + m * np, s->mivar + m * np, s->cont + i * np);
        s->exclude[m] = s->o->leave_out_self ? s->star[row0 + i] : -1;
        s->usable[m++] = i;
    }
    if (m) MS_TRY(ms_laspm_match(s->m, m, s->mflux, s->mivar, s->exclude, s->res));
    for (size_t k = 0; k < m; k++) {
        laspm_row *r = &s->rows[s->usable[k]];
        const ms_laspm_result *q = &s->res[k];
        memcpy(r->label, q->label, sizeof r->label);
        memcpy(r->error, q->error, sizeof r->error);
        memcpy(r->e_spread, q->e_spread, sizeof r->e_spread);
        memcpy(r->e_curv, q->e_curv, sizeof r->e_curv);
        memcpy(r->best_id, q->best_id, sizeof r->best_id);
        memcpy(r->weight, q->weight, sizeof r->weight);
        r->chi2 = q->chi2_best;
        r->chi2_comb = q->chi2_comb;
        r->chi2_red = q->chi2_red;
        r->n_pix = q->n_pix;
        r->flags = q->flags;
        cnt[N_MATCHED]++;
        if (q->flags & MS_LASPM_NO_PIXELS) {
            cnt[N_FAILED]++;
            ++*n_failed;
        }
    }
    return MS_OK;
}

static void laspm_skip(ms_survey_method *me, void *row)
{
    (void)me;
    fill_unmatched(row, LASPM_NOT_APPLICABLE);
}

/* The library's spectra must lie on the store's grid. */
static ms_status check_grid(ms_h5 *store, const ms_laspm_library *lib, const char *spath,
                            const char *lpath)
{
    int rank;
    size_t dims[2];
    MS_TRY(ms_h5_dims(store, MS_STORE_WAVELENGTH, &rank, dims));
    if (dims[0] != lib->n_pix)
        MS_ERROR(MS_EINVAL, "%s has %zu pixels per spectrum but the library %s %zu: build the "
                 "library from a store with the same preprocess settings", spath, dims[0],
                 lpath, lib->n_pix);
    double *w = ms_malloc_array("laspm.wave", dims[0] + 1, sizeof *w);
    if (!w) return MS_ENOMEM;
    ms_status st = ms_h5_read_rows(store, MS_STORE_WAVELENGTH, MS_H5_F64, 0, 0, dims[0], w);
    for (size_t p = 0; st == MS_OK && p < dims[0]; p++)
        if (fabs(w[p] - lib->wavelength[p]) > 1e-6 * w[p])
            st = ms_error_set(MS_EINVAL, __FILE__, __LINE__, "%s and the library %s have "
                              "different wavelength grids (pixel %zu: %.4f vs %.4f A)", spath,
                              lpath, p, w[p], lib->wavelength[p]);
    ms_free(w);
    return st;
}

static uint64_t settings_hash(const ms_laspm_run_opts *o, const ms_laspm_library *lib,
                              size_t n_rows, size_t chunk)
{
    uint64_t h = MS_HASH_INIT;
    h = ms_hash_bytes(h, lib->flux, lib->n * lib->n_pix * sizeof(float));
    h = ms_hash_bytes(h, lib->labels, lib->n * MS_LASPM_N_LABELS * sizeof(double));
    h = ms_hash_bytes(h, lib->id, lib->n * sizeof(int64_t));
    const double d[3] = {o->match.wave_min, o->match.wave_max, (double)o->match.n_curv};
    h = ms_hash_bytes(h, d, sizeof d);
    const int w[2] = {(int)o->match.weighting, o->leave_out_self};
    h = ms_hash_bytes(h, w, sizeof w);
    h = ms_hash_bytes(h, &chunk, sizeof chunk);
    return ms_hash_bytes(h, &n_rows, sizeof n_rows);
}

static ms_status laspm_attributes(ms_survey_method *me, ms_h5 *f, const ms_config *cfg,
                                  const char *command)
{
    const lstate *s = me->state;
    const ms_laspm_run_opts *o = s->o;
    const ms_laspm_library *lib = s->lib;
    MS_TRY(ms_h5_write_provenance(f, cfg, command));
    MS_TRY(ms_h5_attr_set_str(f, "/", "spectra_store", o->spectra));
    MS_TRY(ms_h5_attr_set_str(f, "/", "library", o->library));
    MS_TRY(ms_h5_attr_set_str(f, "/", "library_view", lib->view));
    char text[256];
    snprintf(text, sizeof text, "%s, %.1f-%.1f A, n_curv %zu%s",
             o->match.weighting == MS_LASPM_W_NNLS ? "nnls" : "inv_chi2", o->match.wave_min,
             o->match.wave_max, o->match.n_curv, o->leave_out_self ? ", leave-one-out" : "");
    MS_TRY(ms_h5_attr_set_str(f, "/", "laspm_settings", text));
    char flags[256] = "";
    for (int b = 0; laspm_flag_bits[b]; b++) {
        size_t len = strlen(flags);
        snprintf(flags + len, sizeof flags - len, "%s%d=%s", b ? "," : "", b, laspm_flag_bits[b]);
    }
    MS_TRY(ms_h5_attr_set_str(f, MS_CATALOG_GROUP "/laspm_flags", "flag_names", flags));
    const long *c = me->counts;
    int64_t counts[4] = {(int64_t)me->n_rows, c[N_MATCHED], c[N_FAILED], c[N_SKIPPED]};
    return ms_h5_attr_set_i64(f, "/", "counts_rows_matched_failed_skipped", counts, 4);
}

static void laspm_free(ms_survey_method *me)
{
    lstate *s = me->state;
    if (!s) return;
    ms_free(s->fit_mask);
    ms_laspm_free(s->m);
    state_free(s);
    ms_laspm_library_free(&s->lib_own);
    ms_free(s);
    me->state = NULL;
}

ms_status ms_method_laspm_open(const ms_config *cfg, const ms_laspm_run_opts *o, ms_h5 *store,
                               size_t chunk, ms_survey_method *me)
{
    (void)cfg;
    memset(me, 0, sizeof *me);
    me->name = "laspm";
    me->id_cols = id_columns;
    me->groups[0] = &ms_group_laspm;
    me->row_size = sizeof(laspm_row);
    me->n_counts = 3;
    me->run = laspm_run;
    me->skip = laspm_skip;
    me->attributes = laspm_attributes;
    me->free = laspm_free;
    lstate *s = ms_calloc("laspm.state", 1, sizeof *s);
    if (!s) return MS_ENOMEM;
    me->state = s;
    ms_laspm_library_init(&s->lib_own);
    s->o_copy = *o;
    s->o = &s->o_copy;
    s->chunk = chunk;
    MS_TRY(ms_laspm_library_read(o->library, &s->lib_own));
    s->lib = &s->lib_own;
    MS_TRY(check_grid(store, s->lib, o->spectra, o->library));
    int rank;
    size_t dims[2];
    MS_TRY(ms_h5_dims(store, MS_STORE_FLUX, &rank, dims));
    s->n_rows = dims[0];
    s->n_pix = dims[1];
    if (o->limit > 0 && o->limit < s->n_rows) s->n_rows = o->limit;
    s->has_source_id = ms_h5_exists(store, MS_INPUT_SOURCE_ID);
    MS_TRY(state_alloc(s));
    MS_TRY(ms_stage_star_ids(store, s->n_rows, cfg->join.radius_arcsec, &s->star));
    s->fit_mask = ms_malloc_array("laspm.mask", s->n_pix + 1, 1);
    if (!s->fit_mask) return MS_ENOMEM;
    MS_TRY(ms_h5_read_rows(store, MS_STORE_FIT_MASK, MS_H5_U8, 0, 0, s->n_pix, s->fit_mask));
    MS_TRY(ms_laspm_prepare(s->lib, &o->match, s->fit_mask, &s->m));
    me->rows = s->rows;
    me->n_rows = s->n_rows;
    me->hash = settings_hash(o, s->lib, s->n_rows, s->chunk);
    return MS_OK;
}

ms_status ms_stage_laspm(const ms_config *cfg, const ms_laspm_run_opts *o, ms_laspm_summary *sum)
{
    memset(sum, 0, sizeof *sum);
    const double t0 = ms_par_wtime();
    const size_t chunk = (size_t)cfg->run.chunk_size;
    ms_survey_method me;
    memset(&me, 0, sizeof me);
    ms_h5 *store = NULL;
    ms_status st = ms_h5_open_read(o->spectra, 0, &store);
    if (st == MS_OK) st = ms_method_laspm_open(cfg, o, store, chunk, &me);
    st = ms_par_any_failed(st);
    if (st == MS_OK) {
        const lstate *s = me.state;
        ms_log0_info("laspm: %zu spectra of %s against %zu library spectra of %s (%s view), %d "
                     "rank(s), chunks of %zu%s", s->n_rows, o->spectra, s->lib->n, o->library,
                     s->lib->view, ms_par_size(), chunk, o->leave_out_self ? ", leave-one-out" : "");
        ms_survey_job_summary js;
        st = ms_survey_run_one(cfg, &me, store, o->spectra, o->out, o->command, "laspm",
                               o->resume, 0, &js);
        sum->chunks_total = js.chunks_total;
        sum->chunks_before = js.chunks_before;
        sum->complete = js.complete;
        sum->rows = (long)s->n_rows;
        sum->matched = me.counts[N_MATCHED];
        sum->failed = me.counts[N_FAILED];
        sum->skipped = me.counts[N_SKIPPED];
    }
    sum->seconds = ms_par_wtime() - t0;
    ms_survey_one_close(&me, store);
    return st;
}
