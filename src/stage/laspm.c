/* laspm.c: the driver of `mstars laspm` (stage_laspm.h): every spectrum of a store matched
 * against an empirical library (laspm.h) on the work queue, into a resumable catalog. The
 * model is src/par/survey_fit.c. */
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
#include "mstars/workq.h"

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
                                              "store_unusable", NULL};
static const ms_flag_bits laspm_flags[] = {{"laspm_flags", laspm_flag_bits}, {NULL, NULL}};

/* The catalog column group of LASPM (schema.h). */
const ms_column_group ms_group_laspm = {
    "laspm", "Du et al. 2025: LASPM matching against an empirical (golden-sample) library",
    laspm_columns, sizeof(laspm_row), laspm_flags};

#define LASPM_STORE_UNUSABLE 16u

/* ------------------------------------------------------------- per-rank state */

typedef struct {
    ms_h5 *store;
    ms_catalog *cat;
    ms_laspm *m;
    const ms_laspm_library *lib;
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
    long matched, failed, skipped;
} lstate;

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

static ms_status read_chunk(lstate *s, size_t row0, size_t n)
{
    ms_h5 *f = s->store;
    MS_TRY(ms_h5_read_rows(f, MS_STORE_FLUX, MS_H5_F32, 0, row0, n, s->flux));
    MS_TRY(ms_h5_read_rows(f, MS_STORE_IVAR, MS_H5_F32, 0, row0, n, s->ivar));
    MS_TRY(ms_h5_read_rows(f, MS_STORE_CONTINUUM, MS_H5_F32, 0, row0, n, s->cont));
    MS_TRY(ms_h5_read_rows(f, MS_META_SNR_R, MS_H5_F64, 0, row0, n, s->snr_r));
    MS_TRY(ms_h5_read_rows(f, MS_META_SNR_I, MS_H5_F64, 0, row0, n, s->snr_i));
    MS_TRY(ms_h5_read_rows(f, MS_META_RA, MS_H5_F64, 0, row0, n, s->ra));
    MS_TRY(ms_h5_read_rows(f, MS_META_DEC, MS_H5_F64, 0, row0, n, s->dec));
    MS_TRY(ms_h5_read_rows(f, MS_META_STATUS, MS_H5_I32, 0, row0, n, s->status));
    MS_TRY(ms_h5_read_rows(f, MS_META_OBSID, MS_H5_STR, 32, row0, n, s->obsid));
    MS_TRY(ms_store_read_keys(f, row0, n, s->key));
    if (s->has_source_id)
        MS_TRY(ms_h5_read_rows(f, MS_INPUT_SOURCE_ID, MS_H5_I64, 0, row0, n,
                               s->source_id));
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

static ms_status do_chunk(void *ctx, size_t chunk, long *n_failed)
{
    lstate *s = ctx;
    const size_t np = s->n_pix, row0 = chunk * s->chunk;
    const size_t n = row0 + s->chunk > s->n_rows ? s->n_rows - row0 : s->chunk;
    MS_TRY(read_chunk(s, row0, n));
    const ms_laspm_opts *mo = &s->o->match;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (s->status[i] != 0) {
            fill_unmatched(&s->rows[i], LASPM_STORE_UNUSABLE);
            s->skipped++;
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
        s->matched++;
        if (q->flags & MS_LASPM_NO_PIXELS) {
            s->failed++;
            ++*n_failed;
        }
    }
    return ms_catalog_write_chunk(s->cat, chunk, row0, n, s->rows);
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

static ms_status write_attributes(ms_h5 *f, const ms_config *cfg, const ms_laspm_run_opts *o,
                                  const ms_laspm_library *lib, const ms_laspm_summary *sum)
{
    MS_TRY(ms_h5_write_provenance(f, cfg, o->command));
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
    int64_t counts[4] = {sum->rows, sum->matched, sum->failed, sum->skipped};
    return ms_h5_attr_set_i64(f, "/", "counts_rows_matched_failed_skipped", counts, 4);
}

ms_status ms_stage_laspm(const ms_config *cfg, const ms_laspm_run_opts *o, ms_laspm_summary *sum)
{
    memset(sum, 0, sizeof *sum);
    const double t0 = ms_par_wtime();
    lstate s;
    memset(&s, 0, sizeof s);
    s.o = o;
    s.chunk = (size_t)cfg->run.chunk_size;
    ms_laspm_library lib;
    ms_laspm_library_init(&lib);
    ms_catalog_column *cols = NULL;
    uint8_t *done = NULL, *mask = NULL;
    size_t *pending = NULL;

    ms_status st = ms_laspm_library_read(o->library, &lib);
    if (st == MS_OK) st = ms_h5_open_read(o->spectra, 0, &s.store);
    if (st == MS_OK) st = check_grid(s.store, &lib, o->spectra, o->library);
    if (st == MS_OK) {
        int rank;
        size_t dims[2];
        st = ms_h5_dims(s.store, MS_STORE_FLUX, &rank, dims);
        s.n_rows = dims[0];
        s.n_pix = dims[1];
        if (o->limit > 0 && o->limit < s.n_rows) s.n_rows = o->limit;
    }
    if (st == MS_OK) {
        s.has_source_id = ms_h5_exists(s.store, MS_INPUT_SOURCE_ID);
        st = state_alloc(&s);
    }
    if (st == MS_OK) st = ms_stage_star_ids(s.store, s.n_rows, cfg->join.radius_arcsec, &s.star);
    if (st == MS_OK) {
        mask = ms_malloc_array("laspm.mask", s.n_pix + 1, 1);
        st = mask ? ms_h5_read_rows(s.store, MS_STORE_FIT_MASK, MS_H5_U8, 0, 0, s.n_pix, mask)
                  : MS_ENOMEM;
    }
    if (st == MS_OK) st = ms_laspm_prepare(&lib, &o->match, mask, &s.m);
    s.lib = &lib;
    if (st == MS_OK) {
        size_t a = 0, b = 0;
        while (id_columns[a].name) a++;
        while (laspm_columns[b].name) b++;
        cols = ms_malloc_array("laspm.columns", a + b + 1, sizeof *cols);
        if (!cols) st = MS_ENOMEM;
        else {
            memcpy(cols, id_columns, a * sizeof *cols);
            memcpy(cols + a, laspm_columns, (b + 1) * sizeof *cols);
        }
    }
    st = ms_par_any_failed(st);
    if (st == MS_OK)
        ms_log0_info("laspm: %zu spectra of %s against %zu library spectra of %s (%s view), %d "
                     "rank(s), chunks of %zu%s", s.n_rows, o->spectra, lib.n, o->library,
                     lib.view, ms_par_size(), s.chunk, o->leave_out_self ? ", leave-one-out" : "");
    const size_t n_chunks = (s.n_rows + s.chunk - 1) / s.chunk;
    size_t n_pending = 0;
    if (st == MS_OK) {
        ms_catalog_opts co = {o->out, cols, sizeof(laspm_row), s.n_rows, s.chunk,
                              settings_hash(o, &lib, s.n_rows, s.chunk), o->resume};
        st = ms_catalog_open(&co, &s.cat, &done);
    }
    if (st == MS_OK) {
        pending = ms_malloc_array("laspm.pending", n_chunks + 1, sizeof *pending);
        st = ms_par_any_failed(pending ? MS_OK : MS_ENOMEM);
    }
    if (st == MS_OK) {
        long rows_before = 0;
        for (size_t k = 0; k < n_chunks; k++) {
            if (!done[k]) pending[n_pending++] = k;
            else rows_before += (long)(k + 1 == n_chunks ? s.n_rows - k * s.chunk : s.chunk);
        }
        sum->chunks_total = (long)n_chunks;
        sum->chunks_before = (long)(n_chunks - n_pending);
        if (sum->chunks_before > 0)
            ms_log0_info("resume: %ld of %ld chunks were done by earlier runs",
                         sum->chunks_before, sum->chunks_total);
        ms_workq_opts wo = {pending, n_pending, s.chunk, s.n_rows - (size_t)rows_before,
                            cfg->run.progress_seconds, cfg->run.max_runtime, "spectra"};
        ms_workq_stats ws;
        st = ms_workq_run(&wo, do_chunk, &s, &ws);
        sum->complete = st == MS_OK;
        if (st == MS_EINTERRUPTED) st = MS_OK;
        long counts[3] = {s.matched, s.failed, s.skipped};
        if (st == MS_OK) st = ms_par_allreduce_sum_l(counts, 3);
        sum->rows = (long)s.n_rows;
        sum->matched = counts[0];
        sum->failed = counts[1];
        sum->skipped = counts[2];
        if (st == MS_OK && sum->complete)
            st = write_attributes(ms_catalog_file(s.cat), cfg, o, &lib, sum);
        ms_status fst = ms_catalog_finish(s.cat, st == MS_OK && sum->complete);
        if (st == MS_OK) st = fst;
    }
    sum->seconds = ms_par_wtime() - t0;
    ms_free(pending);
    ms_free(done);
    ms_free(mask);
    ms_free(cols);
    ms_laspm_free(s.m);
    if (s.store) ms_h5_close(s.store);
    state_free(&s);
    ms_laspm_library_free(&lib);
    return st;
}
