/* ingest_grid.c: a folder of model spectra -> one grid store (`mstars ingest-grid`).
 *
 * Same distribution as the spectra ingest (round-robin batches, collective writes, rows
 * in sorted file-name order). Each model is read in its native format, convolved to the
 * synthetic resolution, resampled and continuum-normalised (method.md section 2). A
 * model that cannot be read becomes a flagged row. */
#include "../io/ingest_util.h"
#include "mstars/grid.h"
#include "mstars/schema.h"
#include "mstars/grid_quality.h"
#include "mstars/hash.h"
#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/par.h"
#include "mstars/spec.h"
#include "mstars/store.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    char filename[256];
    char format[16];
    char reason[MS_REASON_LEN];
    double teff, logg, m_h, alpha_m;
    ms_grid_quality q; /* the quality gate's figures (grid_quality.h) */
    int32_t status;
} grid_row;

#define GCOL(name, type, len, field, units, desc)                                          \
    {name, type, len, offsetof(grid_row, field), units, desc}

static const ms_column grid_columns[] = {
    GCOL("/labels/teff", MS_H5_F64, 0, teff, "K", "effective temperature of the model"),
    GCOL("/labels/logg", MS_H5_F64, 0, logg, "dex", "surface gravity log10(g / cm s^-2)"),
    GCOL("/labels/m_h", MS_H5_F64, 0, m_h, "dex", "metallicity [M/H]"),
    GCOL("/labels/alpha_m", MS_H5_F64, 0, alpha_m, "dex", "alpha enhancement [alpha/M]"),
    GCOL(MS_META_FILENAME, MS_H5_STR, 256, filename, "", "model file"),
    GCOL(MS_META_FORMAT, MS_H5_STR, 16, format, "", "spec7, cifist-fits or ascii2"),
    GCOL(MS_META_STATUS, MS_H5_I32, 0, status, "", "0 usable; 1 unreadable; 3 no data"),
    GCOL(MS_META_STATUS_REASON, MS_H5_STR, MS_REASON_LEN, reason, "",
         "why the model is not usable (empty when status is 0)"),
    GCOL(MS_STORE_QUALITY_STEP_MAX, MS_H5_F64, 0, q.step_max, "A",
         "largest step between model points within the output grid's range"),
    GCOL(MS_STORE_QUALITY_STEP_MEDIAN, MS_H5_F64, 0, q.step_median, "A",
         "median step between model points within the output grid's range"),
    GCOL(MS_STORE_QUALITY_SAMPLES, MS_H5_F64, 0, q.samples_per_fwhm, "",
         "model points per FWHM of the synthetic LSF at wave_min (wave_min / R / step_max)"),
    GCOL(MS_STORE_QUALITY_ALIAS, MS_H5_F64, 0, q.alias_noise, "",
         "aliasing noise at the synthetic resolution: robust sigma of (even - odd) / full, "
         "the model convolved from its even and from its odd points (grid_quality.h); "
         "above ingest.grid_alias_max the model fails the quality gate"),
    {NULL, 0, 0, 0, NULL, NULL},
};

static void ingest_model(const ms_config *cfg, ms_spec_work *w, const char *path, grid_row *row,
                         float *flux, float *ivar, float *cont, size_t n_pix)
{
    const ms_cfg_preprocess *p = &cfg->preprocess;
    memset(row, 0, sizeof *row);
    snprintf(row->filename, sizeof row->filename, "%s", path);
    row->teff = row->logg = row->m_h = row->alpha_m = NAN;
    row->q.step_max = row->q.step_median = row->q.samples_per_fwhm = row->q.alias_noise = NAN;
    ms_grid_labels labels;
    if (ms_grid_parse_name(path, &labels) == MS_OK) {
        row->teff = labels.teff;
        row->logg = labels.logg;
        row->m_h = labels.m_h;
        row->alpha_m = labels.alpha_m;
    }
    /* margin for the LSF wings at the ends of the output grid */
    double margin = 0.02 * p->wave_max;
    ms_grid_spectrum s;
    ms_grid_format fmt;
    ms_status st = ms_grid_read(path, p->wave_min - margin, p->wave_max + margin, &s, &labels,
                                &fmt);
    if (st == MS_OK) {
        snprintf(row->format, sizeof row->format, "%s", ms_grid_format_name(fmt));
        ms_spec_out out = {flux, ivar, cont, 0};
        st = ms_spec_preprocess_synthetic_ws(w, s.wave, s.flux, s.n, &out);
        /* the quality gate's figures; a model it cannot measure stays usable (NaN) */
        if (st == MS_OK && ms_grid_quality_measure(w, s.wave, s.flux, s.n, &row->q) != MS_OK)
            ms_error_clear();
        ms_grid_spectrum_free(&s);
        if (st != MS_OK) row->status = MS_ROW_NO_DATA;
    } else {
        row->status = st == MS_EIO ? MS_ROW_UNREADABLE : MS_ROW_BAD_STRUCTURE;
    }
    if (st != MS_OK) {
        snprintf(row->reason, sizeof row->reason, "%s", ms_error_message());
        for (size_t i = 0; i < n_pix; i++) {
            flux[i] = NAN;
            ivar[i] = 0.0f;
            cont[i] = NAN;
        }
    }
}

/* The gate's verdict as root attributes (schema.h), read by train-emulator. */
static ms_status grid_quality_attrs(ms_h5 *f, const ms_grid_quality_summary *q)
{
    MS_TRY(ms_h5_attr_set_str(f, "/", MS_ATTR_GRID_QUALITY, q->text));
    const int64_t pass = q->pass, counts[2] = {(int64_t)q->n_models, (int64_t)q->n_bad};
    MS_TRY(ms_h5_attr_set_i64(f, "/", MS_ATTR_GRID_QUALITY_PASS, &pass, 1));
    MS_TRY(ms_h5_attr_set_i64(f, "/", MS_ATTR_GRID_QUALITY_COUNTS, counts, 2));
    const double fig[3] = {q->alias_median, q->alias_worst, q->alias_max};
    return ms_h5_attr_set_f64(f, "/", MS_ATTR_GRID_QUALITY_FIGURES, fig, 3);
}

ms_status ms_ingest_grid(const ms_config *cfg, const char *grid_dir, const char *out,
                         const char *command, ms_ingest_summary *summary)
{
    memset(summary, 0, sizeof *summary);
    double t0 = ms_par_wtime();
    ms_strlist files = {0};
    ms_status st = MS_OK;
    if (ms_par_rank() == 0) st = ms_filelist_grid(grid_dir, &files);
    MS_TRY(ms_strlist_bcast(&files, st));
    if (files.n == 0) {
        ms_strlist_free(&files);
        MS_ERROR(MS_EINVAL, "no model files (lte*.7, lte*.spec.fits[.gz], lte*.txt) in %s",
                 grid_dir);
    }
    ms_log0_info("ingest-grid: %zu models from %s on %d rank(s)", files.n, grid_dir,
                 ms_par_size());
    size_t n_pix = ms_spec_grid(&cfg->preprocess).n;
    size_t batch = 16;
    grid_row *rows = ms_calloc("grid.rows", batch, sizeof *rows);
    float *flux = ms_malloc_array("grid.flux", batch * n_pix, sizeof(float));
    float *ivar = ms_malloc_array("grid.ivar", batch * n_pix, sizeof(float));
    float *cont = ms_malloc_array("grid.cont", batch * n_pix, sizeof(float));
    char *buf = ms_malloc("grid.buf", batch * 256);
    ms_grid_quality *quality = ms_calloc("grid.quality", files.n, sizeof *quality);
    ms_spec_work *work = NULL;
    st = rows && flux && ivar && cont && buf && quality ? MS_OK : MS_ENOMEM;
    if (st == MS_OK) st = ms_spec_work_alloc(&cfg->preprocess, &work);
    st = ms_par_any_failed(st);
    ms_h5 *f = NULL;
    if (st == MS_OK) st = ms_par_any_failed(ms_h5_create(out, 1, &f));
    if (st == MS_OK) st = ms_store_create_pixels(f, cfg, files.n, 1);
    if (st == MS_OK) st = ms_columns_create(f, grid_columns, files.n);
    long by_status[MS_ROW_N_STATUS] = {0};
    size_t rounds = ms_batches_rounds(files.n, batch, ms_par_size());
    for (size_t r = 0; st == MS_OK && r < rounds; r++) {
        size_t row0, n = ms_batches_mine(files.n, batch, ms_par_size(), ms_par_rank(), r, &row0);
        for (size_t i = 0; i < n; i++) {
            ingest_model(cfg, work, files.items[row0 + i], &rows[i], flux + i * n_pix,
                         ivar + i * n_pix, cont + i * n_pix, n_pix);
            by_status[rows[i].status]++;
            if (rows[i].status == MS_ROW_OK) quality[row0 + i] = rows[i].q;
        }
        st = ms_columns_write(f, grid_columns, rows, sizeof *rows, row0, n, buf);
        if (st == MS_OK) st = ms_h5_write_rows(f, MS_STORE_FLUX, row0, n, flux);
        if (st == MS_OK) st = ms_h5_write_rows(f, MS_STORE_IVAR, row0, n, ivar);
        if (st == MS_OK) st = ms_h5_write_rows(f, MS_STORE_CONTINUUM, row0, n, cont);
        st = ms_par_any_failed(st); /* a write can fail on one rank only (disk full) */
    }
    if (st == MS_OK) st = ms_par_allreduce_sum_l(by_status, MS_ROW_N_STATUS);
    /* the quality gate: every rank's figures (zeros elsewhere: the sum is exact) */
    if (st == MS_OK) st = ms_par_allreduce_sum_d((double *)quality, files.n * 4);
    if (st == MS_OK) {
        for (size_t i = 0; i < files.n; i++)
            if (quality[i].step_max == 0.0) quality[i].alias_noise = NAN; /* not usable */
        ms_grid_quality_summarize(quality, files.n, cfg->ingest.grid_alias_max,
                                  cfg->preprocess.synthetic_resolution, &summary->grid_quality);
    }
    const ms_grid_quality_summary *gq = &summary->grid_quality;
    if (st == MS_OK) st = grid_quality_attrs(f, gq);
    if (st == MS_OK && !gq->pass) {
        if (cfg->ingest.grid_refuse)
            st = ms_error_set(MS_EINVAL, __FILE__, __LINE__,
                              "%s fails the grid quality gate (ingest.grid_refuse): %zu of %zu "
                              "models have aliasing noise above %.2g%%; no store is written",
                              grid_dir, gq->n_bad, gq->n_models, 100 * gq->alias_max);
    }
    summary->total = (long)files.n;
    summary->processed = (long)files.n;
    memcpy(summary->by_status, by_status, sizeof by_status);
    if (st == MS_OK) st = ms_h5_write_provenance(f, cfg, command);
    if (st == MS_OK) {
        char hex[17];
        ms_hash_hex(ms_preprocess_hash(cfg), hex);
        st = ms_h5_attr_set_str(f, "/", "preprocess_hash", hex);
    }
    if (st == MS_OK) {
        int64_t counts[MS_ROW_N_STATUS];
        for (int k = 0; k < MS_ROW_N_STATUS; k++) counts[k] = by_status[k];
        st = ms_h5_attr_set_i64(f, "/", "count_by_status", counts, MS_ROW_N_STATUS);
    }
    st = ms_store_finish(f, st);
    summary->seconds = ms_par_wtime() - t0;
    ms_free(rows);
    ms_free(flux);
    ms_free(ivar);
    ms_free(cont);
    ms_free(buf);
    ms_free(quality);
    ms_spec_work_free(work);
    ms_strlist_free(&files);
    return st;
}
