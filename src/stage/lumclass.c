/* lumclass.c: the survey method "lum" (survey_methods.h) and the driver of `mstars lumclass`
 * (stage_lumclass.h): every row of the store through the dwarf/giant module (lumclass.h: the
 * Gaia CMD, the line indices of L25 Table 3, the combined luminosity_class), run by the survey
 * skeleton (survey_job.h) alone or in `fit --methods`, where it runs right after the class
 * method (classify.c) and before every other method:
 *   - its CNN vote is the class method's dmgm_prob of the same row (ck->dmgm), as
 *     `mstars lumclass --classify` reads it from a classify catalog;
 *   - its rest frame is the LAMOST Z (the rv method runs after it), as `mstars lumclass`
 *     without --rv;
 *   - it refines the routing of the later methods (ck->cls, see route() below).
 * Each row depends only on its own inputs, so the catalog is the same for any rank count and
 * chunk size. */
#include "mstars/store.h"
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

#include "survey_methods.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* The method's row: the lum group's row first (the group's offsets hold), then the
 * identification columns of the standalone catalog (names the z25 group declares). */
typedef struct {
    ms_lum_row lum;
    int64_t id;
    char obsid[32];
    double snr_r;
    int32_t store_status;
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

/* the per-rank counts (m->counts) */
enum { N_DWARF, N_GIANT, N_UNKNOWN, N_CMD_FLAG, N_LINE_DWARF, N_LINE_GIANT, N_COUNTS };

typedef struct {
    ms_lum_job_opts o;
    size_t n_rows, chunk;
    int has_gaia[N_GAIA];
    int class_in_job;             /* fit --methods with the class method before this one */
    side_catalog cls, rv;
    float *flux, *ivar;           /* [chunk][MS_NATIVE_NPIX] */
    uint8_t *mask;
    double *z, *snr_r, *gaia;     /* [chunk], [chunk], [N_GAIA][chunk] */
    double *dmgm, *rv_side;       /* [chunk] */
    int64_t *side_id;
    int32_t *status;
    char (*obsid)[32];
    int has_subclass;             /* the store has LAMOST's SUBCLASS: the fourth vote */
    char (*subclass)[16];         /* [chunk] */
    lum_cat_row *rows;
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

static ms_status read_chunk(lum_state *s, ms_survey_chunk *ck)
{
    MS_TRY(ms_survey_rows(ck, MS_STORE_NATIVE_FLUX, MS_H5_F32, 0, s->flux));
    MS_TRY(ms_survey_rows(ck, MS_STORE_NATIVE_IVAR, MS_H5_F32, 0, s->ivar));
    MS_TRY(ms_survey_rows(ck, MS_STORE_NATIVE_MASK, MS_H5_U8, 0, s->mask));
    MS_TRY(ms_survey_rows(ck, MS_META_Z, MS_H5_F64, 0, s->z));
    MS_TRY(ms_survey_rows(ck, MS_META_SNR_R, MS_H5_F64, 0, s->snr_r));
    MS_TRY(ms_survey_rows(ck, MS_META_STATUS, MS_H5_I32, 0, s->status));
    MS_TRY(ms_survey_rows(ck, MS_META_OBSID, MS_H5_STR, 32, s->obsid));
    if (s->has_subclass)
        MS_TRY(ms_survey_rows(ck, MS_META_SUBCLASS, MS_H5_STR, 16, s->subclass));
    for (size_t c = 0; c < N_GAIA; c++) {
        double *dst = s->gaia + c * s->chunk;
        if (s->has_gaia[c])
            MS_TRY(ms_survey_rows(ck, gaia_columns[c].dataset, MS_H5_F64, 0, dst));
        else
            for (size_t i = 0; i < ck->n; i++) dst[i] = NAN;
    }
    if (s->class_in_job && ck->dmgm)
        memcpy(s->dmgm, ck->dmgm, ck->n * sizeof *s->dmgm);
    else
        MS_TRY(side_read(&s->cls, ck->row0, ck->n, s->side_id, s->dmgm));
    return side_read(&s->rv, ck->row0, ck->n, s->side_id, s->rv_side);
}

/* The routing of the later methods of the job (ck->cls) with the combined luminosity_class:
 * a row the class method called non-M, a white dwarf or unclassifiable stays so (a
 * luminosity class is a property of M stars); an M star (or every row, without a class
 * method) is a giant or a dwarf as luminosity_class says; where it says unknown, the class
 * method's verdict stands (CNN-dMgM, or a dwarf without that model), and without a class
 * method the row is a dwarf (L25: an M star is a dwarf unless found a giant). */
static int32_t route(int class_in_job, int32_t cls, int32_t lum_code)
{
    if (class_in_job && cls != MS_SURVEY_CLASS_DWARF && cls != MS_SURVEY_CLASS_GIANT) return cls;
    if (lum_code == MS_LUM_GIANT) return MS_SURVEY_CLASS_GIANT;
    if (lum_code == MS_LUM_DWARF) return MS_SURVEY_CLASS_DWARF;
    return class_in_job ? cls : MS_SURVEY_CLASS_DWARF;
}

/* One chunk (survey_job.h: run); the method applies to every row. */
static ms_status lum_run(ms_survey_method *me, ms_survey_chunk *ck, const uint8_t *applies,
                         long *n_failed)
{
    (void)applies;
    lum_state *s = me->state;
    long *cnt = me->counts;
    const size_t row0 = ck->row0, n = ck->n;
    MS_TRY(read_chunk(s, ck));
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
        /* LAMOST's SUBCLASS is the fourth, half-weight vote (docs/lumclass.md) */
        const char *sub = NULL;
        if (s->has_subclass) {
            s->subclass[i][15] = '\0';
            sub = s->subclass[i];
        }
        ms_lum_fill_row_lamost(&in, good ? fl : NULL, s->ivar + i * MS_NATIVE_NPIX,
                               s->mask + i * MS_NATIVE_NPIX, v, s->dmgm[i], sub, NULL, &r->lum);
        const int c = r->lum.lum_code;
        cnt[c == MS_LUM_DWARF ? N_DWARF : c == MS_LUM_GIANT ? N_GIANT : N_UNKNOWN]++;
        cnt[N_CMD_FLAG] += r->lum.cmd_flag;
        cnt[N_LINE_DWARF] += strcmp(r->lum.line_class, "dwarf") == 0;
        cnt[N_LINE_GIANT] += strcmp(r->lum.line_class, "giant") == 0;
        if (c == MS_LUM_UNKNOWN) ++*n_failed;
        if (ck->cls) ck->cls[i] = route(s->class_in_job, ck->cls[i], c);
    }
    return MS_OK;
}

/* Never called (the method applies to every row): a row without inputs. */
static void lum_skip(ms_survey_method *me, void *row)
{
    (void)me;
    lum_cat_row *r = row;
    ms_lum_fill_row(NULL, NULL, NULL, NULL, NAN, NAN, NULL, &r->lum);
}

static ms_status check_store(ms_h5 *store, const char *path)
{
    static const char *const meta[] = {MS_META_Z, MS_META_SNR_R, MS_META_STATUS, MS_META_OBSID,
                                       NULL};
    return ms_store_check_native(store, path, meta);
}

/* What a resumed run must share: the inputs present, the side catalogs, the thresholds. */
static uint64_t settings_hash(const lum_state *s)
{
    ms_lum_thresholds t;
    ms_lum_thresholds_default(&t);
    char buf[1024];
    snprintf(buf, sizeof buf, "%zu %.17g %.17g %.17g %.17g %s %s", s->n_rows, t.t_cah, t.t_ki,
             t.t_nai, t.t_cat, s->class_in_job ? "(class method)" : s->o.classify ? s->o.classify : "-",
             s->o.rv ? s->o.rv : "-");
    uint64_t h = ms_hash_bytes(MS_HASH_INIT, buf, strlen(buf) + 1);
    return ms_hash_bytes(h, s->has_gaia, sizeof s->has_gaia);
}

static ms_status lum_attributes(ms_survey_method *me, ms_h5 *f, const ms_config *cfg,
                                const char *command)
{
    const lum_state *s = me->state;
    const ms_lum_job_opts *o = &s->o;
    MS_TRY(ms_h5_write_provenance(f, cfg, command));
    MS_TRY(ms_h5_attr_set_str(f, "/", "spectra_store", o->spectra));
    MS_TRY(ms_h5_attr_set_str(f, "/", "lum_classify_catalog",
                              s->class_in_job ? "(the class method of this job)"
                              : o->classify ? o->classify : ""));
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
    const long *c = me->counts;
    int64_t counts[7] = {(int64_t)me->n_rows, c[N_DWARF], c[N_GIANT], c[N_UNKNOWN],
                         c[N_CMD_FLAG], c[N_LINE_DWARF], c[N_LINE_GIANT]};
    return ms_h5_attr_set_i64(f, "/", "counts_rows_dwarf_giant_unknown_cmdflag_linedwarf_"
                              "linegiant", counts, 7);
}

static void lum_free(ms_survey_method *me)
{
    lum_state *s = me->state;
    if (!s) return;
    void *p[] = {s->flux, s->ivar, s->mask, s->z, s->snr_r, s->gaia, s->dmgm, s->rv_side,
                 s->side_id, s->status, s->obsid, s->subclass, s->rows};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) ms_free(p[i]);
    if (s->cls.f) ms_h5_close(s->cls.f);
    if (s->rv.f) ms_h5_close(s->rv.f);
    ms_free(s);
    me->state = NULL;
}

ms_status ms_method_lum_open(const ms_config *cfg, const ms_lum_job_opts *o, int class_in_job,
                             ms_h5 *store, size_t chunk, ms_survey_method *m)
{
    (void)cfg;
    memset(m, 0, sizeof *m);
    m->name = "lum";
    m->id_cols = id_columns;
    m->groups[0] = &ms_group_lum;
    m->row_size = sizeof(lum_cat_row);
    m->n_counts = N_COUNTS;
    m->run = lum_run;
    m->skip = lum_skip;
    m->attributes = lum_attributes;
    m->free = lum_free;
    lum_state *s = ms_calloc("lumclass.state", 1, sizeof *s);
    if (!s) return MS_ENOMEM;
    m->state = s;
    s->o = *o;
    s->chunk = chunk;
    s->class_in_job = class_in_job;
    if (class_in_job && o->classify)
        MS_ERROR(MS_EINVAL, "lum: the CNN-dMgM vote comes either from a classify catalog (%s) or "
                 "from the job's class method, not both", o->classify);
    MS_TRY(check_store(store, o->spectra));
    MS_TRY(ms_survey_store_rows(store, MS_STORE_NATIVE_FLUX, o->limit, &s->n_rows));
    m->n_rows = s->n_rows;
    for (size_t c = 0; c < N_GAIA; c++)
        s->has_gaia[c] = ms_h5_exists(store, gaia_columns[c].dataset);
    MS_TRY(side_open(&s->cls, o->classify, MS_CATALOG_GROUP "/dmgm_prob", s->n_rows));
    MS_TRY(side_open(&s->rv, o->rv, MS_CATALOG_GROUP "/rv_adopted", s->n_rows));
    const size_t c = chunk;
    s->flux = ms_malloc_array("lumclass.flux", c * MS_NATIVE_NPIX, sizeof(float));
    s->ivar = ms_malloc_array("lumclass.ivar", c * MS_NATIVE_NPIX, sizeof(float));
    s->mask = ms_malloc_array("lumclass.mask", c * MS_NATIVE_NPIX, sizeof(uint8_t));
    s->z = ms_malloc_array("lumclass.z", c, sizeof(double));
    s->snr_r = ms_malloc_array("lumclass.snr", c, sizeof(double));
    s->gaia = ms_malloc_array("lumclass.gaia", c * N_GAIA, sizeof(double));
    s->dmgm = ms_malloc_array("lumclass.dmgm", c, sizeof(double));
    s->rv_side = ms_malloc_array("lumclass.rv", c, sizeof(double));
    s->side_id = ms_malloc_array("lumclass.id", c, sizeof(int64_t));
    s->status = ms_malloc_array("lumclass.status", c, sizeof(int32_t));
    s->obsid = ms_malloc_array("lumclass.obsid", c, sizeof *s->obsid);
    s->has_subclass = ms_h5_exists(store, MS_META_SUBCLASS);
    s->subclass = ms_malloc_array("lumclass.subclass", c, sizeof *s->subclass);
    s->rows = ms_calloc("lumclass.rows", c, sizeof *s->rows);
    if (!s->flux || !s->ivar || !s->mask || !s->z || !s->snr_r || !s->gaia || !s->dmgm ||
        !s->rv_side || !s->side_id || !s->status || !s->obsid || !s->subclass || !s->rows)
        return MS_ENOMEM;
    m->rows = s->rows;
    m->hash = settings_hash(s);
    return MS_OK;
}

/* ------------------------------------------------------------- the command */
ms_status ms_lum_job(const ms_config *cfg, const ms_lum_job_opts *o, ms_lum_job_summary *sum)
{
    memset(sum, 0, sizeof *sum);
    const double t0 = ms_par_wtime();
    const size_t chunk = (size_t)cfg->run.chunk_size;
    ms_survey_method m;
    memset(&m, 0, sizeof m);
    ms_h5 *store = NULL;
    ms_status st = ms_h5_open_read(o->spectra, 0, &store);
    if (st == MS_OK) st = ms_method_lum_open(cfg, o, 0, store, chunk, &m);
    st = ms_par_any_failed(st);
    if (st == MS_OK) {
        const lum_state *s = m.state;
        int n_have = 0;
        for (size_t c = 0; c < N_GAIA; c++) n_have += s->has_gaia[c];
        ms_log0_info("lumclass: %zu spectra of %s, %d of %zu Gaia input columns, CNN-dMgM %s, "
                     "rest frame from %s; %d rank(s), chunks of %zu", s->n_rows, o->spectra,
                     n_have, N_GAIA, o->classify ? o->classify : "absent",
                     o->rv ? o->rv : "the LAMOST Z", ms_par_size(), chunk);
        if (n_have == 0)
            ms_log0_warn("lumclass: %s has no Gaia input columns (ingest --catalog): CMD_pos "
                         "is none for every row", o->spectra);
        ms_survey_job_summary js;
        st = ms_survey_run_one(cfg, &m, store, o->spectra, o->out, o->command, "lumclass",
                               o->resume, 0, &js);
        sum->chunks_total = js.chunks_total;
        sum->chunks_before = js.chunks_before;
        sum->complete = js.complete;
        sum->rows = (long)s->n_rows;
        const long *c = m.counts;
        sum->dwarf = c[N_DWARF];
        sum->giant = c[N_GIANT];
        sum->unknown = c[N_UNKNOWN];
        sum->cmd_flagged = c[N_CMD_FLAG];
        sum->line_dwarf = c[N_LINE_DWARF];
        sum->line_giant = c[N_LINE_GIANT];
    }
    sum->seconds = ms_par_wtime() - t0;
    ms_survey_one_close(&m, store);
    return st;
}
