/* fit.c: the survey method "z25" (survey_methods.h) and the driver of `mstars fit` (survey.h):
 * the Z25 fit (emulator, optionally Cycle-StarNet) of every store row, run by the survey
 * skeleton (survey_job.h) alone or in `fit --methods` (fit_methods.c), where the rv method's
 * velocity informs the RV start (ck->v_start; see z25_run). */
#include "mstars/catalog.h"
#include "mstars/catalog_post.h"
#include "mstars/csn.h"
#include "mstars/cuts.h"
#include "mstars/fit.h"
#include "mstars/h5.h"
#include "mstars/hash.h"
#include "mstars/indices.h"
#include "mstars/join_io.h"
#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/par.h"
#include "mstars/payne.h"
#include "mstars/schema.h"
#include "mstars/spec.h"
#include "mstars/store.h"
#include "mstars/survey.h"
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
    char subclass[16];
    double ra, dec, snr_r, snr_i;
    double gmag, bpmag, rpmag, plx, e_plx, ruwe;
    double rv, e_rv, rv_init, dv;
    double label[4], error[4], start[4]; /* teff, logg, m_h, alpha_m */
    double chi2, chi2_red, resid_sigma, model_misfit;
    double emu_label[4], chi2_emu, resid_sigma_emu; /* the emulator-only fit (with --csn) */
    double chi2_synth;             /* the synthetic-domain fit (with --csn) */
    double halpha_ew, e_halpha_ew, tio5, spt;   /* value-added (method.md 7) */
    char spt_label[8];
    int32_t n_pix_fit, iterations, evaluations, store_status, activity, vbflag;
    int32_t cut_flags; /* 0 here; set by the cut pass (catalog_post.h) after the last chunk */
    uint32_t fit_flags, at_bound;
} cat_row;

#define C(name, type, field, units, desc)                                                  \
    {MS_CATALOG_GROUP "/" name, type, 0, offsetof(cat_row, field), units, desc}
#define L(name, k, field, units, desc)                                                     \
    {MS_CATALOG_GROUP "/" name, MS_H5_F64, 0, offsetof(cat_row, field) + (k) * sizeof(double), units, desc}

static const ms_catalog_column columns[] = {
    C("id", MS_H5_I64, id, "", "row of the spectra store (and of every input list)"),
    {MS_COL_OBSID, MS_H5_STR, 32, offsetof(cat_row, obsid), "", "LAMOST OBSID"},
    {MS_COL_KEY, MS_H5_STR, MS_KEY_LEN, offsetof(cat_row, key), "",
     "unique key of the spectrum: OBSID, else LMJD-PLANID_spSS-FFF (the store's /meta/key)"},
    C("ra", MS_H5_F64, ra, "deg", "right ascension"),
    C("dec", MS_H5_F64, dec, "deg", "declination"),
    C("snr_r", MS_H5_F64, snr_r, "", "LAMOST S/N in r (SNRR)"),
    C("snr_i", MS_H5_F64, snr_i, "", "LAMOST S/N in i (SNRI)"),
    {MS_CATALOG_GROUP "/subclass", MS_H5_STR, 16, offsetof(cat_row, subclass), "",
     "LAMOST pipeline subclass"},
    C("source_id", MS_H5_I64, source_id, "", "Gaia DR3 source_id from the input catalog (-1: none)"),
    C("gmag", MS_H5_F64, gmag, "mag", "Gaia G (input catalog)"),
    C("bpmag", MS_H5_F64, bpmag, "mag", "Gaia BP (input catalog)"),
    C("rpmag", MS_H5_F64, rpmag, "mag", "Gaia RP (input catalog)"),
    C("plx", MS_H5_F64, plx, "mas", "Gaia parallax (input catalog)"),
    C("e_plx", MS_H5_F64, e_plx, "mas", "Gaia parallax error (input catalog)"),
    C("ruwe", MS_H5_F64, ruwe, "", "Gaia RUWE (input catalog)"),
    C("rv", MS_H5_F64, rv, "km/s", "radial velocity: rv_init + dv (Z25 2.3)"),
    C("e_rv", MS_H5_F64, e_rv, "km/s", "RV uncertainty from the fit curvature (Err_fitting)"),
    C("rv_init", MS_H5_F64, rv_init, "km/s", "pipeline RV Z*c removed before resampling"),
    C("dv", MS_H5_F64, dv, "km/s", "residual velocity fitted against the emulator"),
    L("teff", 0, label, "K", "effective temperature"),
    L("e_teff", 0, error, "K", "Teff uncertainty from the fit curvature (Err_fitting)"),
    L("logg", 1, label, "dex", "surface gravity"),
    L("e_logg", 1, error, "dex", "log g uncertainty (Err_fitting)"),
    L("m_h", 2, label, "dex", "metallicity [M/H]"),
    L("e_m_h", 2, error, "dex", "[M/H] uncertainty (Err_fitting)"),
    L("alpha_m", 3, label, "dex", "alpha enhancement [alpha/M]"),
    L("e_alpha_m", 3, error, "dex", "[alpha/M] uncertainty (Err_fitting)"),
    C("halpha_ew", MS_H5_F64, halpha_ew, "Angstrom",
      "H-alpha equivalent width (Z25 Eq. 10), positive for emission; NaN when pixels are missing"),
    C("e_halpha_ew", MS_H5_F64, e_halpha_ew, "Angstrom", "uncertainty of halpha_ew from the ivar"),
    C("activity", MS_H5_I32, activity, "",
      "1 when halpha_ew > 0.75 A (Z25 4), else 0; -1 (null) when halpha_ew is NaN"),
    C("tio5", MS_H5_F64, tio5, "",
      "TiO5 = mean flux 7126-7135 A / mean flux 7042-7046 A (-9999: cannot be computed)"),
    C("spt", MS_H5_F64, spt, "",
      "spectral subtype -10.775 TiO5 + 8.2 (-2 K5, -1 K7, 0..7 M0..M7; -9999 outside or missing)"),
    {MS_CATALOG_GROUP "/spt_label", MS_H5_STR, 8, offsetof(cat_row, spt_label), "",
     "spectral subtype as text, e.g. M3.5 (empty when spt is -9999)"},
    C("vbflag", MS_H5_I32, vbflag, "",
      "1 variable candidate, 2 binary candidate, 0 neither (input catalog); -1 no flags given"),
    L("teff_start", 0, start, "K", "Teff where the final fit started (pre-search best; with "
      "--csn the synthetic-domain fit to CSN_obs->synth(F_obs), Z25 3.5)"),
    L("logg_start", 1, start, "dex", "log g where the final fit started (see teff_start)"),
    L("m_h_start", 2, start, "dex", "[M/H] where the final fit started"),
    L("alpha_m_start", 3, start, "dex", "[alpha/M] where the final fit started"),
    C("chi2", MS_H5_F64, chi2, "", "chi^2 over the fitted pixels"),
    C("chi2_red", MS_H5_F64, chi2_red, "", "chi^2 / (pixels - parameters)"),
    C("resid_sigma", MS_H5_F64, resid_sigma, "",
      "mean |F_obs - F_model| / sigma over the fitted pixels (Z25 Fig. 8)"),
    C("model_misfit", MS_H5_F64, model_misfit, "",
      "the model's misfit beyond the pixel noise (normalised flux; ~0 for a perfect model at "
      "any S/N): above fit.mismatch_max sets the fit_flags bit model_mismatch"),
    C("n_pix_fit", MS_H5_I32, n_pix_fit, "", "pixels in chi^2"),
    C("iterations", MS_H5_I32, iterations, "", "L-BFGS-B iterations"),
    C("evaluations", MS_H5_I32, evaluations, "", "chi^2 and gradient evaluations"),
    C("fit_flags", MS_H5_U32, fit_flags, "",
      "fit status bits (attribute flag_names); 0 = clean fit"),
    C("at_bound", MS_H5_U32, at_bound, "", "bit j: label j (attribute bit_names) ended at its "
      "training bound; bit n_labels: dv at the edge of its window"),
    C("store_status", MS_H5_I32, store_status, "",
      "status of the spectrum in the store (0 usable; see the store's /meta/status)"),
    C("cut_flags", MS_H5_I32, cut_flags, "",
      "Z25 cuts, flags not deletions (attribute flag_names): teff_hot, at_boundary, "
      "error_outlier, chi2_high; 0 for rows not fitted"),
    {NULL, 0, 0, 0, NULL, NULL},
};

/* Extra columns of a run with --csn: the emulator-only fit that the CSN fit started from. */
static const ms_catalog_column csn_columns[] = {
    L("teff_emu", 0, emu_label, "K", "Teff of the emulator-only fit (synthetic domain)"),
    L("logg_emu", 1, emu_label, "dex", "log g of the emulator-only fit"),
    L("m_h_emu", 2, emu_label, "dex", "[M/H] of the emulator-only fit"),
    L("alpha_m_emu", 3, emu_label, "dex", "[alpha/M] of the emulator-only fit"),
    C("chi2_emu", MS_H5_F64, chi2_emu, "", "chi^2 of the emulator-only fit"),
    C("resid_sigma_emu", MS_H5_F64, resid_sigma_emu, "",
      "mean |F_obs - F_model| / sigma of the emulator-only fit (no domain adaptation)"),
    C("chi2_synth", MS_H5_F64, chi2_synth, "",
      "chi^2 of the synthetic-domain fit (emulator vs CSN_obs->synth(F_obs), observed ivar; "
      "NaN with fit.synthetic_start = false)"),
    {NULL, 0, 0, 0, NULL, NULL},
};

/* at_bound with the 4-label emulator (teff, logg, m_h, alpha_m); the catalog's own attribute
 * bit_names gives the order of the emulator that made it. */
static const char *const at_bound_names[] = {"teff", "logg", "m_h", "alpha_m", "dv", NULL};
static const ms_flag_bits z25_flags[] = {
    {"fit_flags", ms_fit_flag_names},
    {"cut_flags", ms_cut_flag_names},
    {"at_bound", at_bound_names},
    {NULL, NULL},
};

/* The catalog column groups of the Z25 fit (schema.h). Flag bit names are also written as
 * attributes by the fit (fit_flags, at_bound) and the cut pass (cut_flags). */
const ms_column_group ms_group_z25 = {
    "z25", "Zhang et al. 2025: The Payne emulator fit (L-BFGS-B), RV, activity, SpT, cuts",
    columns, sizeof(cat_row), z25_flags};
const ms_column_group ms_group_csn = {
    "csn", "Zhang et al. 2025 with Cycle-StarNet: the emulator-only and synthetic-domain fits",
    csn_columns, sizeof(cat_row), NULL};

static const char *const *const label_names = ms_label_names;

/* Optional input-catalog columns of the store, read when present. */
static const struct {
    const char *dataset;
    size_t offset;
} gaia_columns[] = {
    {MS_INPUT_PHOT_G_MEAN_MAG, offsetof(cat_row, gmag)},
    {MS_INPUT_PHOT_BP_MEAN_MAG, offsetof(cat_row, bpmag)},
    {MS_INPUT_PHOT_RP_MEAN_MAG, offsetof(cat_row, rpmag)},
    {MS_INPUT_PARALLAX, offsetof(cat_row, plx)},
    {MS_INPUT_PARALLAX_ERROR, offsetof(cat_row, e_plx)},
    {MS_INPUT_RUWE, offsetof(cat_row, ruwe)},
};
#define N_GAIA (sizeof gaia_columns / sizeof gaia_columns[0])

/* ------------------------------------------------------------- per-rank state */

typedef struct {
    const ms_config *cfg;
    ms_h5 *store;
    ms_survey_chunk *ck;               /* the chunk being fitted */
    /* what the method loaded (ms_method_z25_open) */
    ms_survey_opts o;
    ms_emulator e;
    ms_fit_model model, csn_model;
    ms_csn csn_net_own;
    ms_csn_record csn_rec;
    int have_csn;
    char *store_created;
    char store_hex[17];
    double t_start;
    ms_fitter *fitter;
    ms_fitter *csn_fitter;             /* --csn: the observed-domain fit, or NULL */
    ms_fitter *synth_fitter;           /* --csn: the synthetic-domain fit (fixed dv), or NULL */
    const ms_csn *csn_net;
    ms_csn_ws *csn_ws;                 /* the obs->synth transfer */
    float *osflux;                     /* [chunk, n_pix] CSN_obs->synth(F_obs) */
    ms_fit_result *synth_res;          /* [chunk] */
    float *model_fit, *model_emu;      /* [chunk, n_pix] best-fit models (final, emulator-only) */
    double *csn_start, *csn_dv;        /* [chunk, D], [chunk] its start labels and fixed dv */
    ms_fit_result *csn_res;            /* [chunk] */
    size_t n_rows, chunk, n_pix, n_labels;
    int label_slot[MS_FIT_MAX_LABELS]; /* emulator label -> catalog slot (0..3) or -1 */
    int has_gaia[N_GAIA], has_source_id, has_vbflags;
    int grid_failed;                   /* the emulator's grid failed the quality gate */
    uint8_t *mask;                     /* [n_pix] */
    ms_wgrid grid;                     /* the store's wavelength grid (for the indices) */
    float *cont;                       /* [chunk, n_pix] pseudo-continuum */
    int64_t *var_flag, *bin_flag;      /* [chunk] input-catalog flags */
    /* chunk buffers */
    float *flux, *ivar;                /* [chunk, n_pix] */
    double *rv_init, *z, *ra, *dec, *snr_r, *snr_i, *col; /* [chunk] */
    int32_t *status;
    char (*obsid)[32];
    char (*key)[MS_KEY_LEN];
    char (*subclass)[16];
    int64_t *source_id;
    uint8_t *rv_known;
    size_t *usable;                    /* [chunk] rows fitted */
    float *fflux, *fivar;              /* [chunk, n_pix] compacted usable rows */
    double *frv, *fstart;
    uint8_t *fknown;
    ms_fit_result *res;                /* [chunk] */
    cat_row *rows;                     /* [chunk] */
    /* --models: the best-fit model spectra, written per chunk by the rank that fitted it */
    ms_h5 *models;
    ms_h5_dset *models_flux, *models_flux_emu;
    float *models_buf;                 /* [chunk, n_pix] */
} survey_state;

static ms_status state_alloc(survey_state *s)
{
    size_t c = s->chunk, np = s->n_pix;
#define ALLOC(ptr, count) \
    if (!((ptr) = ms_malloc_array("survey." #ptr, (count) + 1, sizeof *(ptr)))) return MS_ENOMEM
    ALLOC(s->flux, c * np);
    ALLOC(s->ivar, c * np);
    ALLOC(s->fflux, c * np);
    ALLOC(s->fivar, c * np);
    ALLOC(s->rv_init, c);
    ALLOC(s->z, c);
    ALLOC(s->ra, c);
    ALLOC(s->dec, c);
    ALLOC(s->snr_r, c);
    ALLOC(s->snr_i, c);
    ALLOC(s->col, c);
    ALLOC(s->status, c);
    ALLOC(s->obsid, c);
    ALLOC(s->key, c);
    ALLOC(s->subclass, c);
    ALLOC(s->source_id, c);
    ALLOC(s->rv_known, c);
    ALLOC(s->usable, c);
    ALLOC(s->frv, c);
    ALLOC(s->fknown, c);
    ALLOC(s->res, c);
    ALLOC(s->rows, c);
    ALLOC(s->mask, np);
    ALLOC(s->cont, c * np);
    ALLOC(s->var_flag, c);
    ALLOC(s->bin_flag, c);
    ALLOC(s->model_fit, c * np);
#undef ALLOC
    return MS_OK;
}

static void state_free(survey_state *s)
{
    void *ptrs[] = {s->flux, s->ivar, s->fflux, s->fivar, s->rv_init, s->z, s->ra, s->dec,
                    s->snr_r, s->snr_i, s->col, s->status, s->obsid, s->key, s->subclass,
                    s->source_id, s->rv_known, s->usable, s->frv, s->fknown, s->res, s->rows,
                    s->mask, s->csn_start, s->csn_dv, s->csn_res, s->cont, s->var_flag,
                    s->bin_flag, s->osflux, s->synth_res, s->model_fit, s->model_emu,
                    s->models_buf};
    for (size_t i = 0; i < sizeof ptrs / sizeof ptrs[0]; i++) ms_free(ptrs[i]);
}

/* Activity, spectral subtype and VBFlag of row i of the chunk (method.md 7): measured on
 * the store's spectrum (flux x continuum), independent of the fit. */
static void value_added(const survey_state *s, cat_row *r, size_t i)
{
    const float *flux = s->flux + i * s->n_pix, *ivar = s->ivar + i * s->n_pix,
                *cont = s->cont + i * s->n_pix;
    r->halpha_ew = ms_index_halpha_ew(s->grid, flux, ivar, cont, &r->e_halpha_ew);
    r->activity = isnan(r->halpha_ew) ? -1 : ms_index_activity(r->halpha_ew); /* -1: null */
    r->tio5 = ms_index_tio5(s->grid, flux, ivar, cont);
    r->spt = ms_index_spt(r->tio5);
    ms_index_spt_string(r->spt, r->spt_label, sizeof r->spt_label);
    /* -1 (unmatched in the input catalog) counts as no flag */
    r->vbflag = s->has_vbflags ? ms_index_vbflag(s->var_flag[i] > 0, s->bin_flag[i] > 0) : -1;
}

/* Read the store rows of one chunk. */
static ms_status read_chunk(survey_state *s, ms_survey_chunk *ck)
{
    const size_t row0 = ck->row0, n = ck->n;
    MS_TRY(ms_survey_rows(ck, MS_STORE_FLUX, MS_H5_F32, 0, s->flux));
    MS_TRY(ms_survey_rows(ck, MS_STORE_IVAR, MS_H5_F32, 0, s->ivar));
    MS_TRY(ms_survey_rows(ck, MS_META_RV_INIT, MS_H5_F64, 0, s->rv_init));
    MS_TRY(ms_survey_rows(ck, MS_META_Z, MS_H5_F64, 0, s->z));
    MS_TRY(ms_survey_rows(ck, MS_META_RA, MS_H5_F64, 0, s->ra));
    MS_TRY(ms_survey_rows(ck, MS_META_DEC, MS_H5_F64, 0, s->dec));
    MS_TRY(ms_survey_rows(ck, MS_META_SNR_R, MS_H5_F64, 0, s->snr_r));
    MS_TRY(ms_survey_rows(ck, MS_META_SNR_I, MS_H5_F64, 0, s->snr_i));
    MS_TRY(ms_survey_rows(ck, MS_META_STATUS, MS_H5_I32, 0, s->status));
    MS_TRY(ms_survey_rows(ck, MS_META_OBSID, MS_H5_STR, 32, s->obsid));
    MS_TRY(ms_store_read_keys(ck->store, row0, n, s->key));
    MS_TRY(ms_survey_rows(ck, MS_META_SUBCLASS, MS_H5_STR, 16, s->subclass));
    for (size_t i = 0; i < n; i++) {
        cat_row *r = &s->rows[i];
        memset(r, 0, sizeof *r);
        r->id = (int64_t)(row0 + i);
        memcpy(r->obsid, s->obsid[i], sizeof r->obsid);
        r->obsid[31] = '\0';
        memcpy(r->key, s->key[i], sizeof r->key);
        memcpy(r->subclass, s->subclass[i], sizeof r->subclass);
        r->subclass[15] = '\0';
        r->ra = s->ra[i];
        r->dec = s->dec[i];
        r->snr_r = s->snr_r[i];
        r->snr_i = s->snr_i[i];
        r->rv_init = s->rv_init[i];
        r->store_status = s->status[i];
        r->source_id = -1;
        for (size_t g = 0; g < N_GAIA; g++) *(double *)((char *)r + gaia_columns[g].offset) = NAN;
        /* Z = -9999 (missing) or an absurd value: the fitter scans a wide RV range */
        s->rv_known[i] = isfinite(s->z[i]) && fabs(s->z[i] * MS_C_KMS) < 3000.0;
    }
    for (size_t g = 0; g < N_GAIA; g++) {
        if (!s->has_gaia[g]) continue;
        MS_TRY(ms_survey_rows(ck, gaia_columns[g].dataset, MS_H5_F64, 0, s->col));
        for (size_t i = 0; i < n; i++)
            *(double *)((char *)&s->rows[i] + gaia_columns[g].offset) = s->col[i];
    }
    if (s->has_source_id) {
        MS_TRY(ms_survey_rows(ck, MS_INPUT_SOURCE_ID, MS_H5_I64, 0, s->source_id));
        for (size_t i = 0; i < n; i++) s->rows[i].source_id = s->source_id[i];
    }
    MS_TRY(ms_survey_rows(ck, MS_STORE_CONTINUUM, MS_H5_F32, 0, s->cont));
    if (s->has_vbflags) {
        MS_TRY(ms_survey_rows(ck, MS_INPUT_VARIABLE_FLAG, MS_H5_I64, 0, s->var_flag));
        MS_TRY(ms_survey_rows(ck, MS_INPUT_BINARY_FLAG, MS_H5_I64, 0, s->bin_flag));
    }
    for (size_t i = 0; i < n; i++) value_added(s, &s->rows[i], i);
    return MS_OK;
}

static void fill_result(survey_state *s, cat_row *r, const ms_fit_result *fr)
{
    for (int k = 0; k < 4; k++) r->label[k] = r->error[k] = r->start[k] = NAN;
    for (size_t j = 0; j < s->n_labels; j++) {
        int k = s->label_slot[j];
        if (k < 0) continue;
        r->label[k] = fr->labels[j];
        r->error[k] = fr->errors[j];
        r->start[k] = fr->start_labels[j];
    }
    r->rv = fr->rv;
    r->e_rv = fr->rv_err;
    r->dv = fr->dv;
    r->chi2 = fr->chi2;
    r->chi2_red = fr->chi2_red;
    r->model_misfit = fr->misfit;
    r->n_pix_fit = (int32_t)fr->n_good;
    r->iterations = (int32_t)fr->iterations;
    r->evaluations = (int32_t)fr->evaluations;
    r->fit_flags = fr->flags;
    if (s->grid_failed && !(fr->flags & MS_FIT_FAILED)) r->fit_flags |= MS_FIT_GRID_FAILED;
    r->at_bound = fr->at_bound;
}

static void fill_unfitted(cat_row *r)
{
    for (int k = 0; k < 4; k++) r->label[k] = r->error[k] = r->start[k] = r->emu_label[k] = NAN;
    r->chi2_emu = r->chi2_synth = r->resid_sigma = r->resid_sigma_emu = NAN;
    r->rv = r->e_rv = r->dv = r->chi2 = r->chi2_red = r->model_misfit = NAN;
    r->fit_flags = MS_FIT_BAD_INPUT;
}

/* Mean |F_obs - F_model| / sigma over the pixels of usable row k that the fit used (ivar
 * > 0, finite flux, outside the fit mask, model defined): Z25's residual in units of the
 * flux uncertainty (Fig. 8; 2.0 -> 1.68 with the domain adaptation). NaN when none. */
static double resid_over_sigma(const survey_state *s, size_t k, const float *model)
{
    const float *f = s->fflux + k * s->n_pix, *iv = s->fivar + k * s->n_pix;
    double sum = 0.0;
    size_t n = 0;
    for (size_t p = 0; p < s->n_pix; p++) {
        if (s->mask[p] || !(iv[p] > 0.0f) || !isfinite(iv[p]) || !isfinite(f[p]) ||
            !isfinite(model[p]))
            continue;
        sum += fabs((double)f[p] - (double)model[p]) * sqrt((double)iv[p]);
        n++;
    }
    return n ? sum / (double)n : NAN;
}

/* Z25 3.5 with a CSN, after the emulator-only fit of the m usable rows (s->res: RV and
 * labels). Step 1 (fit.synthetic_start): the synthetic-domain fit, the emulator against
 * CSN_obs->synth(F_obs) at the emulator fit's velocity, weighted by the observed ivar (Z25
 * writes the plain norm; the weights keep masked and noisy pixels out). Step 2: the
 * observed-domain fit of CSN_synth->obs(Payne(y)) to F_obs from there, z_sp of the star
 * fixed, same velocity. Results in s->synth_res and s->csn_res, the model in s->model_fit. */
static ms_status fit_observed_domain(survey_state *s, size_t m)
{
    const size_t D = s->n_labels, np = s->n_pix;
    for (size_t k = 0; k < m; k++) {
        for (size_t j = 0; j < D; j++) s->csn_start[k * D + j] = s->res[k].labels[j];
        s->csn_dv[k] = isfinite(s->res[k].dv) ? s->res[k].dv : 0.0;
    }
    if (s->synth_fitter) {
        const size_t bmax = (size_t)s->cfg->fit.batch_size;
        for (size_t i0 = 0; i0 < m; i0 += bmax) {
            const size_t B = m - i0 < bmax ? m - i0 : bmax;
            MS_TRY(ms_csn_transfer_o2s(s->csn_net, s->csn_ws, s->fflux + i0 * np, B,
                                       s->osflux + i0 * np));
        }
        ms_fit_input sin = {m, s->osflux, s->fivar, s->mask, s->frv, s->fknown, s->csn_start, s->csn_dv};
        MS_TRY(ms_fit_batch(s->synth_fitter, &sin, s->synth_res, NULL));
        /* a failed synthetic-domain fit leaves the emulator-only start */
        for (size_t k = 0; k < m; k++)
            if (!(s->synth_res[k].flags & MS_FIT_FAILED))
                for (size_t j = 0; j < D; j++) s->csn_start[k * D + j] = s->synth_res[k].labels[j];
    }
    ms_fit_input in = {m, s->fflux, s->fivar, s->mask, s->frv, s->fknown, s->csn_start, s->csn_dv};
    return ms_fit_batch(s->csn_fitter, &in, s->csn_res, s->model_fit);
}

/* ------------------------------------------------------------- --models */

/* Create the models file (collective): the wavelength grid and the model datasets, opened
 * for independent writes by the rank that fits each chunk. */
static ms_status models_open(survey_state *s, const ms_config *cfg, const ms_survey_opts *o)
{
    MS_TRY(ms_h5_create(o->models, 1, &s->models));
    ms_h5 *f = s->models;
    /* the model rows (and the emulator-only ones with --csn): a full disk fails here */
    MS_TRY(ms_h5_reserve(f, 1048576 + (uint64_t)s->n_rows * s->n_pix * sizeof(float) *
                                          (o->csn ? 2 : 1) + (uint64_t)s->n_pix * 8));
    double *w = ms_malloc_array("survey.models.wave", s->n_pix, sizeof *w);
    if (!w) return MS_ENOMEM;
    ms_status st = ms_h5_read_rows(s->store, MS_STORE_WAVELENGTH, MS_H5_F64, 0, 0, s->n_pix, w);
    if (st == MS_OK)
        st = ms_h5_write_array(f, "/models/wavelength", MS_H5_F64, 0, 1, &s->n_pix, w, "Angstrom",
                               "the spectra store's wavelength grid (vacuum, rest frame)");
    ms_free(w);
    MS_TRY(st);
    const size_t dims[2] = {s->n_rows, s->n_pix};
    char desc[512];
    snprintf(desc, sizeof desc, "best-fit model of catalog row i (%s), on the grid of "
             MS_STORE_FLUX " of %s at the fitted velocity, to compare with that row's "
             "normalised flux; NaN where the row was not fitted, the fit failed or the model "
             "is not defined (grid edges)", o->csn ? "the observed-domain fit through "
             "Cycle-StarNet" : "the emulator-only fit", o->spectra);
    MS_TRY(ms_h5_create_dataset(f, "/models/flux", MS_H5_F32, 0, 2, dims, s->chunk, "", desc));
    MS_TRY(ms_h5_dset_open(f, "/models/flux", &s->models_flux));
    if (o->csn) {
        snprintf(desc, sizeof desc, "best-fit model of the emulator-only fit of catalog row i "
                 "(the columns *_emu), as /models/flux");
        MS_TRY(ms_h5_create_dataset(f, "/models/flux_emu", MS_H5_F32, 0, 2, dims, s->chunk, "",
                                    desc));
        MS_TRY(ms_h5_dset_open(f, "/models/flux_emu", &s->models_flux_emu));
    }
    MS_TRY(ms_h5_write_provenance(f, cfg, o->command));
    MS_TRY(ms_h5_attr_set_str(f, "/", "catalog", o->out));
    s->models_buf = ms_malloc_array("survey.models_buf", s->chunk * s->n_pix, sizeof(float));
    return s->models_buf ? MS_OK : MS_ENOMEM;
}

/* Rows [row0, row0 + n) of one model dataset: the usable rows' models, NaN elsewhere. */
static ms_status models_write(survey_state *s, ms_h5_dset *d, const float *model, size_t row0,
                              size_t n, size_t m)
{
    const size_t np = s->n_pix;
    for (size_t i = 0; i < n * np; i++) s->models_buf[i] = NAN;
    for (size_t k = 0; k < m; k++)
        memcpy(s->models_buf + s->usable[k] * np, model + k * np, np * sizeof(float));
    return ms_h5_dset_write_rows(d, row0, n, s->models_buf);
}

enum { N_FITTED, N_FAILED, N_SKIPPED };

/* The RV start of row i when an rv method ran before (fit --methods): the store's spectrum
 * stays in the frame of its rv_init (the Z25 view is resampled once, at ingest), and the fit
 * keeps its own pre-search and residual-velocity scan. The template velocity v decides the
 * scan's width: a row whose pipeline velocity is missing or absurd (rv_known 0: the wide
 * +-fit.rv_scan_range scan, where the two-valued chi^2 minima of issue 19 come from) is
 * fitted in the narrow +-fit.rv_window when v (rv_flag good) lies inside that window of the
 * store's frame. */
static int rv_known_with_start(const survey_state *s, const ms_survey_chunk *ck, size_t i)
{
    if (s->rv_known[i] || !ck->v_start || !isfinite(ck->v_start[i])) return s->rv_known[i];
    const double rv0 = isfinite(s->rv_init[i]) ? s->rv_init[i] : 0.0;
    return fabs(ck->v_start[i] - rv0) < s->cfg->fit.rv_window;
}

/* One chunk of work (survey_job.h: run). */
static ms_status z25_run(ms_survey_method *me, ms_survey_chunk *ck, const uint8_t *applies,
                         long *n_failed)
{
    survey_state *s = me->state;
    long *cnt = me->counts;
    const size_t row0 = ck->row0, np = s->n_pix;
    const size_t n = ck->n;
    s->ck = ck;
    MS_TRY(read_chunk(s, ck));
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (!applies[i]) continue; /* the skeleton calls z25_skip */
        if (s->status[i] != 0) {
            fill_unfitted(&s->rows[i]);
            cnt[N_SKIPPED]++;
            ++*n_failed;
            continue;
        }
        memcpy(s->fflux + m * np, s->flux + i * np, np * sizeof(float));
        memcpy(s->fivar + m * np, s->ivar + i * np, np * sizeof(float));
        s->frv[m] = s->rv_init[i];
        s->fknown[m] = (uint8_t)rv_known_with_start(s, ck, i);
        s->usable[m++] = i;
    }
    if (m > 0) {
        ms_fit_input in = {m, s->fflux, s->fivar, s->mask, s->frv, s->fknown, NULL, NULL};
        MS_TRY(ms_fit_batch(s->fitter, &in, s->res, s->model_emu ? s->model_emu : s->model_fit));
    }
    if (m > 0 && s->csn_fitter) MS_TRY(fit_observed_domain(s, m));
    for (size_t k = 0; k < m; k++) {
        cat_row *r = &s->rows[s->usable[k]];
        for (int q = 0; q < 4; q++) r->emu_label[q] = NAN;
        r->chi2_emu = r->chi2_synth = r->resid_sigma_emu = NAN;
        if (s->csn_fitter) {
            for (size_t j = 0; j < s->n_labels; j++)
                if (s->label_slot[j] >= 0) r->emu_label[s->label_slot[j]] = s->res[k].labels[j];
            r->chi2_emu = s->res[k].chi2;
            r->resid_sigma_emu = resid_over_sigma(s, k, s->model_emu + k * np);
            if (s->synth_fitter) r->chi2_synth = s->synth_res[k].chi2;
            const double dv = s->res[k].dv, rv = s->res[k].rv, erv = s->res[k].rv_err;
            s->res[k] = s->csn_res[k];
            if (!s->cfg->fit.csn_fit_rv) {
                /* the velocity is the emulator fit's (the CSN fit held it fixed) */
                s->res[k].dv = dv;
                s->res[k].rv = rv;
                s->res[k].rv_err = erv;
            }
        }
        fill_result(s, r, &s->res[k]);
        r->resid_sigma = resid_over_sigma(s, k, s->model_fit + k * np);
        cnt[N_FITTED]++;
        if (s->res[k].flags & MS_FIT_FAILED) {
            cnt[N_FAILED]++;
            ++*n_failed;
        }
    }
    /* the models before the catalog rows: a chunk in the journal has its models written */
    if (s->models_flux) MS_TRY(models_write(s, s->models_flux, s->model_fit, row0, n, m));
    if (s->models_flux_emu) MS_TRY(models_write(s, s->models_flux_emu, s->model_emu, row0, n, m));
    return MS_OK;
}

/* Not applicable (fit --methods): NaN labels, fit_flags bad_input, cut_flags 0. */
static void z25_skip(ms_survey_method *me, void *row)
{
    (void)me;
    fill_unfitted(row);
}

/* ------------------------------------------------------------- set-up checks */

/* A spectra store has every dataset the job reads (checked before any work). */
static ms_status check_store(ms_h5 *store, const char *path)
{
    static const char *required[] = {MS_STORE_FLUX, MS_STORE_IVAR, MS_STORE_WAVELENGTH,
                                     MS_STORE_FIT_MASK, MS_STORE_CONTINUUM, MS_META_RV_INIT, MS_META_Z,
                                     MS_META_RA, MS_META_DEC, MS_META_SNR_R, MS_META_SNR_I,
                                     MS_META_STATUS, MS_META_OBSID, MS_META_SUBCLASS, NULL};
    for (int i = 0; required[i]; i++)
        if (!ms_h5_exists(store, required[i]))
            MS_ERROR(MS_EFORMAT, "%s is not a spectra store of mstars ingest: it has no %s", path,
                     required[i]);
    return MS_OK;
}

/* The emulator must produce spectra on the store's wavelength grid. */
static ms_status check_grids(const ms_emulator *e, ms_h5 *store, const char *epath,
                             const char *spath, size_t *n_pix, ms_wgrid *grid)
{
    int rank;
    size_t dims[2];
    MS_TRY(ms_h5_dims(store, MS_STORE_WAVELENGTH, &rank, dims));
    size_t np = dims[0];
    if (np != ms_emulator_n_pix(e))
        MS_ERROR(MS_EINVAL, "%s has %zu pixels per spectrum but the emulator %s makes %zu: "
                 "ingest and train-emulator must use the same preprocess settings", spath, np,
                 epath, ms_emulator_n_pix(e));
    double *w = ms_malloc_array("survey.wave", np, sizeof *w);
    if (!w) return MS_ENOMEM;
    ms_status st = ms_h5_read_rows(store, MS_STORE_WAVELENGTH, MS_H5_F64, 0, 0, np, w);
    for (size_t i = 0; st == MS_OK && i < np; i++)
        if (fabs(w[i] - e->wavelength[i]) > 1e-6 * w[i])
            st = ms_error_set(MS_EINVAL, __FILE__, __LINE__, "%s and the emulator %s have "
                              "different wavelength grids (pixel %zu: %.4f vs %.4f A)", spath,
                              epath, i, w[i], e->wavelength[i]);
    if (st == MS_OK && np < 2)
        st = ms_error_set(MS_EFORMAT, __FILE__, __LINE__, "%s: fewer than 2 pixels", spath);
    if (st == MS_OK) {
        grid->start = w[0];
        grid->step = (w[np - 1] - w[0]) / (double)(np - 1);
        grid->n = np;
    }
    ms_free(w);
    *n_pix = np;
    return st;
}

/* The store and the emulator's grid were preprocessed alike, and with the preprocess.*
 * settings given to fit (issue 17 item 4): their preprocess hashes (every preprocess.*
 * key) agree. An emulator trained before the hash was recorded is accepted with a
 * warning. */
static ms_status check_preprocess(const ms_config *cfg, const ms_emulator *e, ms_h5 *store,
                                  const char *epath, const char *spath)
{
    char *hs = NULL;
    if (ms_h5_attr_get_str(store, "/", "preprocess_hash", &hs) != MS_OK) {
        ms_error_clear();
        ms_log0_warn("%s records no preprocess_hash: its preprocessing cannot be checked "
                     "against the emulator's", spath);
        return MS_OK;
    }
    ms_status st = MS_OK;
    char mine[17];
    ms_hash_hex(ms_preprocess_hash(cfg), mine);
    if (strcmp(hs, mine) != 0) /* fit reads the store's preprocessed spectra and fit mask */
        st = ms_error_set(MS_EINVAL, __FILE__, __LINE__,
                          "the preprocess.* settings given to fit (hash %s) differ from those "
                          "%s was made with (%s): fit does not preprocess again and would "
                          "ignore them (the fit mask included); run ingest (and ingest-grid, "
                          "train-emulator) with them, or leave them out",
                          mine, spath, hs);
    else if (!e->preprocess_hash[0])
        ms_log0_warn("the emulator %s records no preprocess_hash (trained before it was "
                     "recorded): its preprocessing cannot be checked against %s", epath, spath);
    else if (strcmp(hs, e->preprocess_hash) != 0)
        st = ms_error_set(MS_EINVAL, __FILE__, __LINE__,
                          "%s was preprocessed with other settings (preprocess_hash %s) than "
                          "the grid of the emulator %s (%s): ingest and ingest-grid must use "
                          "the same preprocess.* keys (mstars config shows them)",
                          spath, hs, epath, e->preprocess_hash);
    ms_free(hs);
    return st;
}

/* An identity hash of the spectra store (issue 17): its creation time, preprocess hash,
 * shape and every row's file name, obsid and status (FNV-1a, rows in order), read by rank 0
 * in blocks and broadcast. A store rewritten or re-ingested gets another hash. */
static ms_status store_hash(ms_h5 *store, const char *created, char hex[17])
{
    uint64_t h = MS_HASH_INIT;
    ms_status st = MS_OK;
    if (ms_par_rank() == 0) {
        int rank;
        size_t dims[2];
        char *ph = NULL;
        st = ms_h5_dims(store, MS_STORE_FLUX, &rank, dims);
        if (st == MS_OK && ms_h5_attr_get_str(store, "/", "preprocess_hash", &ph) != MS_OK)
            ms_error_clear();
        h = ms_hash_bytes(h, created, strlen(created) + 1);
        if (ph) h = ms_hash_bytes(h, ph, strlen(ph) + 1);
        ms_free(ph);
        h = ms_hash_bytes(h, dims, sizeof dims);
        enum { B = 4096 };
        char(*fn)[256] = ms_malloc_array("survey.hash.fn", B, 256);
        char(*ob)[32] = ms_malloc_array("survey.hash.ob", B, 32);
        int32_t *stt = ms_malloc_array("survey.hash.st", B, sizeof *stt);
        if (st == MS_OK && (!fn || !ob || !stt)) st = MS_ENOMEM;
        for (size_t r0 = 0; st == MS_OK && r0 < dims[0]; r0 += B) {
            const size_t n = dims[0] - r0 < B ? dims[0] - r0 : B;
            st = ms_h5_read_rows(store, MS_META_FILENAME, MS_H5_STR, 256, r0, n, fn);
            if (st == MS_OK) st = ms_h5_read_rows(store, MS_META_OBSID, MS_H5_STR, 32, r0, n, ob);
            if (st == MS_OK) st = ms_h5_read_rows(store, MS_META_STATUS, MS_H5_I32, 0, r0, n, stt);
            for (size_t i = 0; st == MS_OK && i < n; i++) {
                fn[i][255] = ob[i][31] = '\0';
                h = ms_hash_bytes(h, fn[i], strlen(fn[i]) + 1);
                h = ms_hash_bytes(h, ob[i], strlen(ob[i]) + 1);
                h = ms_hash_bytes(h, &stt[i], sizeof stt[i]);
            }
        }
        ms_free(fn);
        ms_free(ob);
        ms_free(stt);
    }
    st = ms_par_agree(st);
    if (st == MS_OK) st = ms_par_bcast(&h, sizeof h);
    if (st == MS_OK) ms_hash_hex(h, hex);
    return st;
}

/* Settings a resumed run must share with the interrupted one. */
static uint64_t settings_hash(const ms_config *cfg, const ms_emulator *e, const char *csn,
                              size_t n_rows)
{
    static const char *volatile_keys[] = {"general.log_level", "general.blas_threads",
                                          "run.progress_seconds", "run.max_runtime", NULL};
    uint64_t h = MS_HASH_INIT;
    for (const ms_cfg_key *k = ms_config_keys; k->key; k++) {
        int skip = 0;
        for (int v = 0; volatile_keys[v]; v++) skip |= strcmp(k->key, volatile_keys[v]) == 0;
        if (skip) continue;
        char buf[4096];
        ms_config_format_value(cfg, k, buf, sizeof buf);
        h = ms_hash_bytes(h, k->key, strlen(k->key) + 1);
        h = ms_hash_bytes(h, buf, strlen(buf) + 1);
    }
    h = ms_hash_bytes(h, e->content_hash, sizeof e->content_hash);
    if (csn) h = ms_hash_bytes(h, csn, strlen(csn) + 1);
    return ms_hash_bytes(h, &n_rows, sizeof n_rows);
}

static ms_status write_attributes(ms_h5 *f, const ms_config *cfg, const ms_survey_opts *o,
                                  const ms_emulator *e, const char *csn_hash,
                                  const char *store_created, const char *store_hex,
                                  const ms_survey_summary *sum, double t_start)
{
    MS_TRY(ms_h5_write_provenance(f, cfg, o->command));
    MS_TRY(ms_h5_attr_set_str(f, "/", "emulator", o->emulator));
    MS_TRY(ms_h5_attr_set_str(f, "/", "emulator_hash", e->content_hash));
    MS_TRY(ms_h5_attr_set_str(f, "/", "spectra_store", o->spectra));
    MS_TRY(ms_h5_attr_set_str(f, "/", "spectra_store_created", store_created));
    MS_TRY(ms_h5_attr_set_str(f, "/", "spectra_store_hash", store_hex));
    if (e->grid_quality_pass >= 0) {
        const int64_t pass = e->grid_quality_pass;
        MS_TRY(ms_h5_attr_set_i64(f, "/", MS_ATTR_GRID_QUALITY_PASS, &pass, 1));
        MS_TRY(ms_h5_attr_set_str(f, "/", MS_ATTR_GRID_QUALITY, e->grid_quality));
    }
    char em[256];
    snprintf(em, sizeof em, "Gauss-Newton (Err_fitting)%s%s%s",
             strcmp(cfg->fit.error_scaling, "none") ? ", scaled by sqrt(chi2_red) (" : "",
             strcmp(cfg->fit.error_scaling, "none") ? cfg->fit.error_scaling : "",
             strcmp(cfg->fit.error_scaling, "none") ? ")" : "");
    if (cfg->fit.emulator_error && e->pix_var)
        snprintf(em + strlen(em), sizeof em - strlen(em),
                 ", the emulator's per-pixel validation error added to the pixel variance");
    MS_TRY(ms_h5_attr_set_str(f, "/", "error_model", em));
    if (csn_hash) {
        char da[2 * MS_CFG_STR_MAX];
        snprintf(da, sizeof da, "Cycle-StarNet %s (emulator hash %s)", o->csn, csn_hash);
        MS_TRY(ms_h5_attr_set_str(f, "/", "domain_adaptation", da));
    } else {
        MS_TRY(ms_h5_attr_set_str(f, "/", "domain_adaptation", "none (emulator-only fit)"));
    }
    char flags[1024] = "";
    for (int b = 0; b < MS_FIT_N_FLAGS; b++) {
        const char *name = ms_fit_flag_name(1u << b);
        size_t len = strlen(flags);
        snprintf(flags + len, sizeof flags - len, "%s%d=%s", b ? "," : "", b, name ? name : "?");
    }
    MS_TRY(ms_h5_attr_set_str(f, MS_COL_FIT_FLAGS, "flag_names", flags));
    double times[2] = {t_start, (double)time(NULL)};
    MS_TRY(ms_par_bcast(times, sizeof times));
    MS_TRY(ms_h5_attr_set_f64(f, "/", "start_end_unix_time", times, 2));
    int64_t counts[4] = {sum->rows, sum->fitted, sum->failed, sum->skipped};
    return ms_h5_attr_set_i64(f, "/", "counts_rows_fitted_failed_skipped", counts, 4);
}

/* A write into the catalog, its journals or the models file failed (disk full, quota; every
 * rank agrees): the skeleton deletes the partial catalog (ms_catalog_abort_after_write_error);
 * the models file goes first. */
static void z25_abort_files(ms_survey_method *me)
{
    survey_state *s = me->state;
    if (s->models) ms_h5_remove_partial(s->models);
}

static ms_status z25_flush(ms_survey_method *me)
{
    survey_state *s = me->state;
    return s->models ? ms_h5_flush(s->models) : MS_OK;
}

/* The models file is committed only with the catalog; otherwise deleted (never looks
 * complete). */
static ms_status z25_commit(ms_survey_method *me, int complete)
{
    survey_state *s = me->state;
    if (!s->models) return MS_OK;
    ms_h5_dset_close(s->models_flux);
    ms_h5_dset_close(s->models_flux_emu);
    s->models_flux = s->models_flux_emu = NULL;
    ms_status mst = MS_OK;
    if (complete) {
        const int64_t rows = (int64_t)s->n_rows;
        mst = ms_h5_attr_set_i64(s->models, "/", "rows", &rows, 1);
        mst = ms_par_any_failed(mst);
        if (mst == MS_OK) mst = ms_h5_commit(s->models);
        else ms_h5_abort(s->models);
    } else {
        ms_h5_abort(s->models);
    }
    s->models = NULL;
    return mst;
}

/* The catalog-wide passes after the last chunk: the Z25 cut flags, the sanity check. */
static ms_status z25_post(ms_survey_method *me, ms_h5 *cat, size_t n_rows)
{
    (void)n_rows;
    survey_state *s = me->state;
    const ms_config *cfg = s->cfg;
    const ms_emulator *e = &s->e;
    const char *lab[MS_FIT_MAX_LABELS];
    for (size_t j = 0; j < s->n_labels; j++) lab[j] = e->labels[j];
    ms_catalog_cuts_opts cu = {cfg->fit.cut_teff_max, cfg->fit.cut_error_sigma,
                               cfg->fit.cut_chi2_red, lab, s->n_labels, 0, 0,
                               me->renamed ? me->name : NULL};
    MS_TRY(ms_catalog_cuts(cat, &cu, NULL));
    /* issue 17: does the catalog look like a failure? */
    double lo[MS_SANITY_LABELS], hi[MS_SANITY_LABELS];
    for (int k = 0; k < MS_SANITY_LABELS; k++) lo[k] = hi[k] = NAN;
    for (size_t j = 0; j < s->n_labels; j++)
        if (s->label_slot[j] >= 0) {
            lo[s->label_slot[j]] = e->x_min[j];
            hi[s->label_slot[j]] = e->x_max[j];
        }
    const ms_sanity_opts so = MS_SANITY_DEFAULTS;
    ms_sanity_result sr;
    MS_TRY(ms_catalog_sanity_of(cat, me->renamed ? me->name : NULL, lo, hi, &so, &sr));
    if (!sr.pass) ms_log0_warn("%s", sr.text);
    else ms_log0_info("%s", sr.text);
    return MS_OK;
}

static ms_status z25_attributes(ms_survey_method *me, ms_h5 *f, const ms_config *cfg,
                                const char *command)
{
    survey_state *s = me->state;
    ms_survey_opts o = s->o;
    o.command = command;
    if (!s->store_hex[0]) /* fit --methods: the store's identity hash, as fit records it */
        MS_TRY(store_hash(s->store, s->store_created ? s->store_created : "", s->store_hex));
    ms_survey_summary sum;
    memset(&sum, 0, sizeof sum);
    sum.rows = (long)s->n_rows;
    sum.fitted = me->counts[N_FITTED];
    sum.failed = me->counts[N_FAILED];
    sum.skipped = me->counts[N_SKIPPED];
    return write_attributes(f, cfg, &o, &s->e, s->have_csn ? s->csn_rec.emulator_hash : NULL,
                            s->store_created ? s->store_created : "", s->store_hex, &sum,
                            s->t_start);
}

static void z25_free(ms_survey_method *me)
{
    survey_state *s = me->state;
    if (!s) return;
    if (s->models) { /* failed before the work queue ran */
        ms_h5_dset_close(s->models_flux);
        ms_h5_dset_close(s->models_flux_emu);
        ms_h5_abort(s->models);
    }
    ms_free(s->store_created);
    if (s->fitter) ms_fitter_free(s->fitter);
    ms_fit_model_free(&s->model);
    if (s->csn_fitter) ms_fitter_free(s->csn_fitter);
    if (s->synth_fitter) ms_fitter_free(s->synth_fitter);
    ms_csn_ws_free(s->csn_ws);
    ms_fit_model_free(&s->csn_model);
    if (s->have_csn) {
        ms_csn_free(&s->csn_net_own);
        ms_csn_record_free(&s->csn_rec);
    }
    state_free(s);
    ms_emulator_free(&s->e);
    ms_free(s);
    me->state = NULL;
}

ms_status ms_method_z25_open(const ms_config *cfg, const ms_survey_opts *o, ms_h5 *store,
                             size_t chunk, ms_survey_method *me)
{
    memset(me, 0, sizeof *me);
    me->name = "z25";
    me->groups[0] = &ms_group_z25;
    me->groups[1] = o->csn ? &ms_group_csn : NULL;
    me->row_size = sizeof(cat_row);
    me->n_counts = 3;
    me->run = z25_run;
    me->skip = z25_skip;
    me->post = z25_post;
    me->attributes = z25_attributes;
    me->free = z25_free;
    me->flush = z25_flush;
    me->abort_files = z25_abort_files;
    me->commit = z25_commit;
    survey_state *sp = ms_calloc("survey.state", 1, sizeof *sp);
    if (!sp) return MS_ENOMEM;
    me->state = sp;
    survey_state *const ps = sp;
#define s (*ps)
    s.cfg = cfg;
    s.o = *o;
    s.store = store;
    s.chunk = chunk;
    s.t_start = (double)time(NULL);
    ms_emulator_init(&s.e);
    ms_emulator *const e = &s.e;
    ms_csn *const csn_net = &s.csn_net_own;
    ms_fit_model *const model = &s.model, *const csn_model = &s.csn_model;

    /* fail fast, before any work: the model, the store, their agreement */
    MS_TRY(ms_emulator_read(o->emulator, e));
    MS_TRY(check_store(store, o->spectra));
    MS_TRY(check_grids(e, store, o->emulator, o->spectra, &s.n_pix, &s.grid));
    MS_TRY(check_preprocess(cfg, e, store, o->emulator, o->spectra));
    MS_TRY(ms_survey_store_rows(store, MS_STORE_FLUX, o->limit, &s.n_rows));
    if (ms_h5_attr_get_str(store, "/", "created", &s.store_created) != MS_OK) {
        ms_error_clear();
        s.store_created = NULL;
    }
    s.n_labels = ms_emulator_n_labels(e);
    for (size_t j = 0; j < s.n_labels; j++) {
        s.label_slot[j] = -1;
        for (int k = 0; k < 4; k++)
            if (strcmp(e->labels[j], label_names[k]) == 0) s.label_slot[j] = k;
    }
    for (size_t g = 0; g < N_GAIA; g++) s.has_gaia[g] = ms_h5_exists(store, gaia_columns[g].dataset);
    s.has_source_id = ms_h5_exists(store, MS_INPUT_SOURCE_ID);
    s.has_vbflags = ms_h5_exists(store, MS_INPUT_VARIABLE_FLAG) &&
                    ms_h5_exists(store, MS_INPUT_BINARY_FLAG);
    s.grid_failed = e->grid_quality_pass == 0;
    MS_TRY(state_alloc(&s));
    MS_TRY(ms_h5_read_rows(store, MS_STORE_FIT_MASK, MS_H5_U8, 0, 0, s.n_pix, s.mask));
    MS_TRY(ms_fit_model_emulator(e, (size_t)cfg->fit.batch_size, model));
    if (cfg->fit.emulator_error) model->pix_var = e->pix_var; /* issue 17 item 2 */
    MS_TRY(ms_fitter_alloc(&cfg->fit, model, &s.fitter));
    if (o->csn) {
        /* the CSN, loaded once per rank; it must have been trained on this emulator */
        MS_TRY(ms_csn_model_read(o->csn, csn_net, &s.csn_rec));
        s.have_csn = 1;
        if (strcmp(s.csn_rec.emulator_hash, e->content_hash) != 0)
            MS_ERROR(MS_EINVAL, "the CSN model %s was trained on the emulator with content hash "
                     "%s, but %s has hash %s: train-csn with this emulator",
                     o->csn, s.csn_rec.emulator_hash, o->emulator, e->content_hash);
        MS_TRY(ms_fit_model_csn(e, csn_net, (size_t)cfg->fit.batch_size, csn_model));
        if (cfg->fit.emulator_error) csn_model->pix_var = e->pix_var;
        ms_cfg_fit fc = cfg->fit;
        /* fit.csn_fit_rv (default): the velocity is refitted in the observed domain,
         * from the emulator fit's, within the same window; off: kept, as in Z25 */
        fc.fit_rv = cfg->fit.fit_rv && cfg->fit.csn_fit_rv;
        MS_TRY(ms_fitter_alloc(&fc, csn_model, &s.csn_fitter));
        if (cfg->fit.synthetic_start) {
            /* the synthetic-domain fit: the emulator from a given start at a fixed velocity
             * (no pre-search bank needed) */
            ms_cfg_fit fs = cfg->fit;
            fs.fit_rv = 0;
            fs.presearch_points = 0;
            s.csn_net = csn_net;
            MS_TRY(ms_fitter_alloc(&fs, model, &s.synth_fitter));
            MS_TRY(ms_csn_ws_alloc(csn_net, (size_t)cfg->fit.batch_size, &s.csn_ws));
            s.osflux = ms_malloc_array("survey.osflux", s.chunk * s.n_pix, sizeof(float));
            s.synth_res = ms_calloc("survey.synth_res", s.chunk, sizeof(ms_fit_result));
            if (!s.osflux || !s.synth_res) return MS_ENOMEM;
        }
        s.model_emu = ms_malloc_array("survey.model_emu", s.chunk * s.n_pix, sizeof(float));
        s.csn_start = ms_malloc_array("survey.csn_start", s.chunk * (s.n_labels ? s.n_labels : 1), sizeof(double));
        s.csn_dv = ms_malloc_array("survey.csn_dv", s.chunk, sizeof(double));
        s.csn_res = ms_calloc("survey.csn_res", s.chunk, sizeof(ms_fit_result));
        if (!s.model_emu || !s.csn_start || !s.csn_dv || !s.csn_res) return MS_ENOMEM;
    }
    me->rows = s.rows;
    me->n_rows = s.n_rows;
    me->hash = settings_hash(cfg, e, o->csn, s.n_rows);
#undef s
    return MS_OK;
}

/* ------------------------------------------------------------- the job */

ms_status ms_survey_fit(const ms_config *cfg, const ms_survey_opts *o, ms_survey_summary *sum)
{
    memset(sum, 0, sizeof *sum);
    const double t0 = ms_par_wtime();
    const size_t chunk = (size_t)cfg->run.chunk_size;
    if (o->models && o->resume)
        MS_ERROR(MS_EINVAL, "--models cannot be combined with --resume: the models of the "
                 "chunks done before the interruption are not journaled; run the fit again "
                 "with --models (or with --limit N for a sample to plot)");
    ms_survey_method me;
    memset(&me, 0, sizeof me);
    ms_h5 *store = NULL;
    ms_status st = ms_h5_open_read(o->spectra, 0, &store);
    if (st == MS_OK) st = ms_method_z25_open(cfg, o, store, chunk, &me);
    survey_state *s = me.state;
    if (s) s->t_start = (double)time(NULL);
    /* an identity hash of the store (collective: after every rank opened it) */
    if (ms_par_agree(st) == MS_OK) st = store_hash(store, s->store_created ? s->store_created : "",
                                                   s->store_hex);
    st = ms_par_any_failed(st);
    if (st == MS_OK) {
        const ms_emulator *e = &s->e;
        ms_log0_info("fit: %zu spectra of %s, emulator %s (%s, %zu labels), %d rank(s), chunks "
                     "of %zu", s->n_rows, o->spectra, o->emulator, e->content_hash, s->n_labels,
                     ms_par_size(), chunk);
        if (e->grid_quality_pass == 0)
            ms_log0_warn("%s (the grid of the emulator %s): the labels of this fit are not "
                         "trustworthy", e->grid_quality, o->emulator);
        if (cfg->fit.emulator_error && !e->pix_var)
            ms_log0_warn("the emulator %s has no per-pixel error (trained before it was "
                         "stored): the errors leave the emulator's error out", o->emulator);
    }
    if (st == MS_OK && o->models) st = ms_par_any_failed(models_open(s, cfg, o));
    if (st == MS_OK) {
        ms_survey_job_summary js;
        st = ms_survey_run_one(cfg, &me, store, o->spectra, o->out, o->command, "fit", o->resume,
                               1, &js);
        sum->chunks_total = js.chunks_total;
        sum->chunks_before = js.chunks_before;
        sum->complete = js.complete;
        sum->master_busy = js.master_busy;
        sum->requests = js.requests;
        sum->rows = (long)s->n_rows;
        sum->fitted = me.counts[N_FITTED];
        sum->failed = me.counts[N_FAILED];
        sum->skipped = me.counts[N_SKIPPED];
    }
    sum->seconds = ms_par_wtime() - t0;
    ms_survey_one_close(&me, store);
    return st;
}
