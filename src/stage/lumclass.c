/* lumclass.c: the driver of `mstars lumclass` (stage_lumclass.h): every row of the store
 * through the dwarf/giant module (lumclass.h) into a resumable catalog, chunks handed out by
 * the work queue as in `mstars rv` (src/stage/rv.c). Each row depends only on its own
 * inputs, so the catalog is the same for any rank count and chunk size. */
#include "mstars/catalog.h"
#include "mstars/h5.h"
#include "mstars/hash.h"
#include "mstars/log.h"
#include "mstars/lumclass.h"
#include "mstars/mem.h"
#include "mstars/native.h"
#include "mstars/par.h"
#include "mstars/schema.h"
#include "mstars/spec.h"
#include "mstars/stage_lumclass.h"
#include "mstars/workq.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* A catalog row: the identification columns (names the z25 group declares) and the group. */
typedef struct {
    int64_t id;
    char obsid[32];
    double snr_r;
    int32_t store_status;
    ms_lum_row lum;
} lum_cat_row;

#define ID(name, type, len, field, units, desc)                                            \
    {name, type, len, offsetof(lum_cat_row, field), units, desc}
static const ms_catalog_column id_columns[] = {
    ID(MS_CATALOG_GROUP "/id", MS_H5_I64, 0, id, "", "row of the spectra store"),
    ID(MS_COL_OBSID, MS_H5_STR, 32, obsid, "", "LAMOST OBSID"),
    ID(MS_CATALOG_GROUP "/snr_r", MS_H5_F64, 0, snr_r, "", "LAMOST S/N in r (SNRR)"),
    ID(MS_COL_STORE_STATUS, MS_H5_I32, 0, store_status, "",
       "status of the row in the spectra store (0 usable for the Z25 view)"),
    {NULL, 0, 0, 0, NULL, NULL},
};

/* id_columns, then the lum group's columns shifted to lum_cat_row.lum ({NULL}; ms_free). */
static ms_catalog_column *catalog_columns(void)
{
    size_t a = 0, b = 0;
    while (id_columns[a].name) a++;
    while (ms_group_lum.cols[b].name) b++;
    ms_catalog_column *c = ms_malloc_array("lumclass.columns", a + b + 1, sizeof *c);
    if (!c) return NULL;
    memcpy(c, id_columns, a * sizeof *c);
    memcpy(c + a, ms_group_lum.cols, (b + 1) * sizeof *c);
    for (size_t k = a; k < a + b; k++) c[k].offset += offsetof(lum_cat_row, lum);
    return c;
}

/* The store's Gaia columns (/input, joined by ingest --catalog), read when present. */
static const struct {
    const char *dataset;
    size_t offset;
} gaia_columns[] = {
    {MS_INPUT_PHOT_G_MEAN_MAG, offsetof(ms_cmd_input, g)},
    {MS_INPUT_PHOT_BP_MEAN_MAG, offsetof(ms_cmd_input, bp)},
    {MS_INPUT_PHOT_RP_MEAN_MAG, offsetof(ms_cmd_input, rp)},
    {MS_INPUT_PARALLAX, offsetof(ms_cmd_input, parallax)},
    {MS_INPUT_PARALLAX_ERROR, offsetof(ms_cmd_input, parallax_error)},
    {MS_INPUT_PARALLAX_OVER_ERROR, offsetof(ms_cmd_input, parallax_over_error)},
    {MS_INPUT_R_MED_GEO, offsetof(ms_cmd_input, r_med_geo)},
    {MS_INPUT_PHOT_G_FLUX_OVER_ERROR, offsetof(ms_cmd_input, flux_over_error[0])},
    {MS_INPUT_PHOT_BP_FLUX_OVER_ERROR, offsetof(ms_cmd_input, flux_over_error[1])},
    {MS_INPUT_PHOT_RP_FLUX_OVER_ERROR, offsetof(ms_cmd_input, flux_over_error[2])},
    {MS_INPUT_RUWE, offsetof(ms_cmd_input, ruwe)},
    {MS_INPUT_A_G, offsetof(ms_cmd_input, a_g)},
    {MS_INPUT_E_BP_RP, offsetof(ms_cmd_input, e_bp_rp)},
    {MS_INPUT_EBV, offsetof(ms_cmd_input, ebv)},
};
#define N_GAIA (sizeof gaia_columns / sizeof gaia_columns[0])

/* A per-row column of another catalog of the same store (classify's dmgm_prob, rv's
 * rv_adopted): open, its row count checked, rows checked by /catalog/id. */
typedef struct {
    ms_h5 *f;
    const char *path, *column;
} side_catalog;

typedef struct {
    ms_h5 *store;
    ms_catalog *cat;
    size_t n_rows, chunk;
    int has_gaia[N_GAIA];
    side_catalog cls, rv;
    float *flux, *ivar;           /* [chunk][MS_NATIVE_NPIX] */
    uint8_t *mask;
    double *z, *snr_r, *gaia;     /* [chunk], [chunk], [N_GAIA][chunk] */
    double *dmgm, *rv_side;       /* [chunk] */
    int64_t *side_id;
    int32_t *status;
    char (*obsid)[32];
    lum_cat_row *rows;
    long counts[7];               /* dwarf, giant, unknown, CMD_flag, line dwarf, line giant, - */
} lum_state;

static ms_status side_open(side_catalog *s, const char *path, const char *column,
                           size_t n_rows)
{
    s->path = path;
    s->column = column;
    if (!path) return MS_OK;
    MS_TRY(ms_h5_open_read(path, 0, &s->f));
    if (!ms_h5_exists(s->f, column) || !ms_h5_exists(s->f, MS_CATALOG_GROUP "/id"))
        MS_ERROR(MS_EFORMAT, "%s has no %s (or no " MS_CATALOG_GROUP "/id)", path, column);
    int rank;
    size_t dims[2];
    MS_TRY(ms_h5_dims(s->f, column, &rank, dims));
    if (dims[0] < n_rows)
        MS_ERROR(MS_EFORMAT, "%s: %s has %zu rows, the store %zu: not a catalog of this store",
                 path, column, dims[0], n_rows);
    return MS_OK;
}

static ms_status side_read(side_catalog *s, size_t row0, size_t n, int64_t *id, double *out)
{
    if (!s->f) {
        for (size_t i = 0; i < n; i++) out[i] = NAN;
        return MS_OK;
    }
    MS_TRY(ms_h5_read_rows(s->f, MS_CATALOG_GROUP "/id", MS_H5_I64, 0, row0, n, id));
    for (size_t i = 0; i < n; i++)
        if (id[i] != (int64_t)(row0 + i))
            MS_ERROR(MS_EFORMAT, "%s: row %zu has id %lld: not a catalog of this store in its "
                     "order", s->path, row0 + i, (long long)id[i]);
    return ms_h5_read_rows(s->f, s->column, MS_H5_F64, 0, row0, n, out);
}

static ms_status read_chunk(lum_state *s, size_t row0, size_t n)
{
    ms_h5 *f = s->store;
    MS_TRY(ms_h5_read_rows(f, MS_STORE_NATIVE_FLUX, MS_H5_F32, 0, row0, n, s->flux));
    MS_TRY(ms_h5_read_rows(f, MS_STORE_NATIVE_IVAR, MS_H5_F32, 0, row0, n, s->ivar));
    MS_TRY(ms_h5_read_rows(f, MS_STORE_NATIVE_MASK, MS_H5_U8, 0, row0, n, s->mask));
    MS_TRY(ms_h5_read_rows(f, MS_META_Z, MS_H5_F64, 0, row0, n, s->z));
    MS_TRY(ms_h5_read_rows(f, MS_META_SNR_R, MS_H5_F64, 0, row0, n, s->snr_r));
    MS_TRY(ms_h5_read_rows(f, MS_META_STATUS, MS_H5_I32, 0, row0, n, s->status));
    MS_TRY(ms_h5_read_rows(f, MS_META_OBSID, MS_H5_STR, 32, row0, n, s->obsid));
    for (size_t c = 0; c < N_GAIA; c++) {
        double *dst = s->gaia + c * s->chunk;
        if (s->has_gaia[c])
            MS_TRY(ms_h5_read_rows(f, gaia_columns[c].dataset, MS_H5_F64, 0, row0, n, dst));
        else
            for (size_t i = 0; i < n; i++) dst[i] = NAN;
    }
    MS_TRY(side_read(&s->cls, row0, n, s->side_id, s->dmgm));
    return side_read(&s->rv, row0, n, s->side_id, s->rv_side);
}

/* One chunk (ms_workq_fn). */
static ms_status do_chunk(void *ctx, size_t chunk, long *n_failed)
{
    lum_state *s = ctx;
    size_t row0 = chunk * s->chunk;
    size_t n = row0 + s->chunk > s->n_rows ? s->n_rows - row0 : s->chunk;
    MS_TRY(read_chunk(s, row0, n));
    for (size_t i = 0; i < n; i++) {
        lum_cat_row *r = &s->rows[i];
        memset(r, 0, sizeof *r);
        r->id = (int64_t)(row0 + i);
        memcpy(r->obsid, s->obsid[i], sizeof r->obsid);
        r->obsid[31] = '\0';
        r->snr_r = s->snr_r[i];
        r->store_status = s->status[i];
        ms_cmd_input in;
        ms_cmd_input_init(&in);
        for (size_t c = 0; c < N_GAIA; c++)
            memcpy((char *)&in + gaia_columns[c].offset, s->gaia + c * s->chunk + i,
                   sizeof(double));
        /* the rest frame: the RV catalog's adopted RV, else the pipeline's Z*c */
        double v = s->rv_side[i];
        if (!isfinite(v)) {
            double vz = s->z[i] * MS_C_KMS;
            v = isfinite(vz) && fabs(vz) < 3000.0 && s->z[i] > -9000.0 ? vz : NAN;
        }
        const float *fl = s->flux + i * MS_NATIVE_NPIX;
        size_t good = 0;
        for (size_t k = 0; k < MS_NATIVE_NPIX; k++) good += s->mask[i * MS_NATIVE_NPIX + k] == 0;
        ms_lum_fill_row(&in, good ? fl : NULL, s->ivar + i * MS_NATIVE_NPIX,
                        s->mask + i * MS_NATIVE_NPIX, v, s->dmgm[i], NULL, &r->lum);
        int c = r->lum.lum_code;
        s->counts[c == MS_LUM_DWARF ? 0 : c == MS_LUM_GIANT ? 1 : 2]++;
        s->counts[3] += r->lum.cmd_flag;
        s->counts[4] += strcmp(r->lum.line_class, "dwarf") == 0;
        s->counts[5] += strcmp(r->lum.line_class, "giant") == 0;
        if (c == MS_LUM_UNKNOWN) ++*n_failed;
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
    double ll[2];
    if (dims[0] != MS_NATIVE_NPIX)
        MS_ERROR(MS_EFORMAT, "%s: %s has %zu pixels, this build's native lattice %d", path,
                 MS_STORE_NATIVE_LOGLAM, dims[0], MS_NATIVE_NPIX);
    MS_TRY(ms_h5_read_rows(store, MS_STORE_NATIVE_LOGLAM, MS_H5_F64, 0, 0, 2, ll));
    if (fabs(ll[0] - MS_NATIVE_LOGLAM0) > 1e-9 || fabs(ll[1] - ll[0] - MS_NATIVE_DLOGLAM) > 1e-9)
        MS_ERROR(MS_EFORMAT, "%s: %s is not the lattice 3.5682 + 1e-4 k of this build", path,
                 MS_STORE_NATIVE_LOGLAM);
    static const char *meta[] = {MS_META_Z, MS_META_SNR_R, MS_META_STATUS, MS_META_OBSID, NULL};
    for (int i = 0; meta[i]; i++)
        if (!ms_h5_exists(store, meta[i]))
            MS_ERROR(MS_EFORMAT, "%s is not a spectra store of mstars ingest: it has no %s", path,
                     meta[i]);
    return MS_OK;
}

/* What a resumed run must share: the inputs present, the side catalogs, the thresholds. */
static uint64_t settings_hash(const lum_state *s, const ms_lum_job_opts *o)
{
    ms_lum_thresholds t;
    ms_lum_thresholds_default(&t);
    char buf[1024];
    snprintf(buf, sizeof buf, "%zu %.17g %.17g %.17g %.17g %s %s", s->n_rows, t.t_cah, t.t_ki,
             t.t_nai, t.t_cat, o->classify ? o->classify : "-", o->rv ? o->rv : "-");
    uint64_t h = ms_hash_bytes(MS_HASH_INIT, buf, strlen(buf) + 1);
    return ms_hash_bytes(h, s->has_gaia, sizeof s->has_gaia);
}

static ms_status write_attributes(ms_h5 *f, const ms_config *cfg, const ms_lum_job_opts *o,
                                  const lum_state *s, const ms_lum_job_summary *sum)
{
    MS_TRY(ms_h5_write_provenance(f, cfg, o->command));
    MS_TRY(ms_h5_attr_set_str(f, "/", "spectra_store", o->spectra));
    MS_TRY(ms_h5_attr_set_str(f, "/", "lum_classify_catalog", o->classify ? o->classify : ""));
    MS_TRY(ms_h5_attr_set_str(f, "/", "lum_rv_catalog", o->rv ? o->rv : ""));
    char have[1024] = "";
    for (size_t c = 0; c < N_GAIA; c++)
        if (s->has_gaia[c])
            snprintf(have + strlen(have), sizeof have - strlen(have), "%s%s", *have ? "," : "",
                     gaia_columns[c].dataset + strlen(MS_STORE_INPUT "/"));
    MS_TRY(ms_h5_attr_set_str(f, "/", "lum_gaia_columns", have));
    ms_lum_thresholds t;
    ms_lum_thresholds_default(&t);
    double th[4] = {t.t_cah, t.t_ki, t.t_nai, t.t_cat};
    MS_TRY(ms_h5_attr_set_f64(f, "/", "lum_thresholds_cah_ki_nai_cat", th, 4));
    MS_TRY(ms_h5_attr_set_str(f, MS_CATALOG_GROUP "/cmd_bits", "flag_names",
                              "0=no_phot,1=no_dist,2=dist_from_parallax,3=no_ext,4=cut_parallax,"
                              "5=cut_g_flux,6=cut_bp_flux,7=cut_rp_flux,8=cut_ruwe"));
    int64_t counts[7] = {sum->rows, sum->dwarf, sum->giant, sum->unknown, sum->cmd_flagged,
                         sum->line_dwarf, sum->line_giant};
    return ms_h5_attr_set_i64(f, "/", "counts_rows_dwarf_giant_unknown_cmdflag_linedwarf_"
                              "linegiant", counts, 7);
}

ms_status ms_lum_job(const ms_config *cfg, const ms_lum_job_opts *o, ms_lum_job_summary *sum)
{
    memset(sum, 0, sizeof *sum);
    double t0 = ms_par_wtime();
    lum_state s;
    memset(&s, 0, sizeof s);
    s.chunk = (size_t)cfg->run.chunk_size;
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
    if (st == MS_OK)
        for (size_t c = 0; c < N_GAIA; c++)
            s.has_gaia[c] = ms_h5_exists(s.store, gaia_columns[c].dataset);
    if (st == MS_OK) st = side_open(&s.cls, o->classify, MS_CATALOG_GROUP "/dmgm_prob", s.n_rows);
    if (st == MS_OK) st = side_open(&s.rv, o->rv, MS_CATALOG_GROUP "/rv_adopted", s.n_rows);
    if (st == MS_OK) {
        size_t c = s.chunk;
        s.flux = ms_malloc_array("lumclass.flux", c * MS_NATIVE_NPIX, sizeof(float));
        s.ivar = ms_malloc_array("lumclass.ivar", c * MS_NATIVE_NPIX, sizeof(float));
        s.mask = ms_malloc_array("lumclass.mask", c * MS_NATIVE_NPIX, sizeof(uint8_t));
        s.z = ms_malloc_array("lumclass.z", c, sizeof(double));
        s.snr_r = ms_malloc_array("lumclass.snr", c, sizeof(double));
        s.gaia = ms_malloc_array("lumclass.gaia", c * N_GAIA, sizeof(double));
        s.dmgm = ms_malloc_array("lumclass.dmgm", c, sizeof(double));
        s.rv_side = ms_malloc_array("lumclass.rv", c, sizeof(double));
        s.side_id = ms_malloc_array("lumclass.id", c, sizeof(int64_t));
        s.status = ms_malloc_array("lumclass.status", c, sizeof(int32_t));
        s.obsid = ms_malloc_array("lumclass.obsid", c, sizeof *s.obsid);
        s.rows = ms_calloc("lumclass.rows", c, sizeof *s.rows);
        if (!s.flux || !s.ivar || !s.mask || !s.z || !s.snr_r || !s.gaia || !s.dmgm ||
            !s.rv_side || !s.side_id || !s.status || !s.obsid || !s.rows)
            st = MS_ENOMEM;
    }
    st = ms_par_any_failed(st);
    if (st == MS_OK) {
        int n_have = 0;
        for (size_t c = 0; c < N_GAIA; c++) n_have += s.has_gaia[c];
        ms_log0_info("lumclass: %zu spectra of %s, %d of %zu Gaia input columns, CNN-dMgM %s, "
                     "rest frame from %s; %d rank(s), chunks of %zu", s.n_rows, o->spectra,
                     n_have, N_GAIA, o->classify ? o->classify : "absent",
                     o->rv ? o->rv : "the LAMOST Z", ms_par_size(), s.chunk);
        if (n_have == 0)
            ms_log0_warn("lumclass: %s has no Gaia input columns (ingest --catalog): CMD_pos "
                         "is none for every row", o->spectra);
    }
    size_t n_chunks = (s.n_rows + s.chunk - 1) / s.chunk, n_pending = 0;
    ms_catalog_column *cols = NULL;
    if (st == MS_OK) {
        cols = catalog_columns();
        st = ms_par_any_failed(cols ? MS_OK : MS_ENOMEM);
    }
    if (st == MS_OK) {
        ms_catalog_opts co = {o->out, cols, sizeof(lum_cat_row), s.n_rows, s.chunk,
                              settings_hash(&s, o), o->resume};
        st = ms_catalog_open(&co, &s.cat, &done);
    }
    if (st == MS_OK) {
        pending = ms_malloc_array("lumclass.pending", n_chunks + 1, sizeof *pending);
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
        if (st == MS_OK) st = ms_par_allreduce_sum_l(s.counts, 6);
        sum->rows = (long)s.n_rows;
        sum->dwarf = s.counts[0];
        sum->giant = s.counts[1];
        sum->unknown = s.counts[2];
        sum->cmd_flagged = s.counts[3];
        sum->line_dwarf = s.counts[4];
        sum->line_giant = s.counts[5];
        if (st == MS_OK && sum->complete)
            st = write_attributes(ms_catalog_file(s.cat), cfg, o, &s, sum);
        ms_status fst = ms_catalog_finish(s.cat, st == MS_OK && sum->complete);
        if (st == MS_OK) st = fst;
    }
    sum->seconds = ms_par_wtime() - t0;
    ms_free(cols);
    ms_free(pending);
    ms_free(done);
    void *p[] = {s.flux, s.ivar, s.mask, s.z, s.snr_r, s.gaia, s.dmgm, s.rv_side, s.side_id,
                 s.status, s.obsid, s.rows};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) ms_free(p[i]);
    if (s.cls.f) ms_h5_close(s.cls.f);
    if (s.rv.f) ms_h5_close(s.rv.f);
    if (s.store) ms_h5_close(s.store);
    return st;
}
