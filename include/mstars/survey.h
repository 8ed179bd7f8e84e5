/* survey.h: the survey job: fit every spectrum of a store into one catalog, over MPI
 * ranks (`mstars fit`; issue 8).
 *
 * Rank 0 hands out chunks of run.chunk_size store rows on demand (workq.h); each rank
 * reads its chunk's rows straight from the store, fits them with the batched fitter
 * (fit.h) against the emulator it loaded once, and writes the rows into the catalog
 * (catalog.h: parallel HDF5, independent I/O, per-rank journals for --resume). A row
 * that cannot be fitted is a flagged row; a model or store that cannot be used stops the
 * run before any work starts. Results do not depend on the rank count or chunk size.
 *
 * Catalog columns (/catalog/<name>, units and descriptions as attributes): id, obsid,
 * ra, dec, snr_r, snr_i, subclass, source_id, gmag, bpmag, rpmag, plx, e_plx, ruwe (Gaia
 * columns when the store has them from the input catalog), rv, e_rv, rv_init, dv, teff,
 * e_teff, logg, e_logg, m_h, e_m_h, alpha_m, e_alpha_m (NaN for labels the emulator does
 * not take), teff_start, logg_start, m_h_start, alpha_m_start (where the final fit
 * started), chi2, chi2_red, n_pix_fit, iterations, evaluations, fit_flags, at_bound,
 * store_status, cut_flags (the Z25 cuts, a collective pass over the whole catalog after the
 * last chunk: catalog_post.h); with --csn also teff_emu, logg_emu, m_h_emu, alpha_m_emu,
 * chi2_emu. */
#ifndef MSTARS_SURVEY_H
#define MSTARS_SURVEY_H

#include "mstars/config.h"
#include "mstars/status.h"

typedef struct {
    const char *spectra;   /* the spectra store (mstars ingest) */
    const char *emulator;  /* the emulator model file (mstars train-emulator) */
    const char *csn;       /* NULL, or a Cycle-StarNet model (mstars train-csn) trained on
                              that emulator: after the emulator-only fit, the synthetic-domain
                              fit to CSN_o2s(F_obs) (fit.synthetic_start) and from there the
                              final fit of CSN_s2o(Payne(y); z_sp) (velocity refitted with
                              fit.csn_fit_rv); columns *_emu keep the emulator-only fit */
    const char *out;       /* the catalog to write */
    const char *command;   /* command line (provenance) */
    int resume;            /* continue an interrupted run from its journals */
    size_t limit;          /* > 0: fit only the first `limit` rows of the store (trials) */
    const char *models;    /* NULL, or a file for the best-fit model spectra: /models/flux
                              [rows, n_pix] (the final fit), /models/flux_emu (the
                              emulator-only fit of a --csn run), /models/wavelength; row i
                              is catalog row i, on the store's grid and at the fitted
                              velocity; NaN where a row was not fitted or the fit failed.
                              Not with resume (models are not journaled). */
} ms_survey_opts;

typedef struct {
    long rows, fitted, failed, skipped; /* skipped: store rows with a non-zero status */
    long chunks_total, chunks_before;   /* chunks_before: done by earlier runs (--resume) */
    int complete;          /* 0: stopped by a signal or run.max_runtime; resubmit with --resume */
    double seconds, master_busy;
    size_t requests;
} ms_survey_summary;

/* Collective over all ranks. */
ms_status ms_survey_fit(const ms_config *cfg, const ms_survey_opts *opts,
                        ms_survey_summary *summary);

/* `mstars fit --methods class,lum,rv,z25,slam,cnn,cnn_gm,laspm` (src/stage/fit_methods.c; issue
 * 24): several methods in ONE pass over the store (each chunk read once, the methods run on it
 * in the order class, lum, rv, z25, slam, cnn, cnn_gm, laspm, whatever the order given), one journal
 * and --resume, one catalog: the identification columns once, every method's column group
 * (z25's label, rv and error columns prefixed as `mstars combine` does: z25_teff, e_z25_teff,
 * z25_rv), the recommended labels and the disagreement (the rec group, computed by combine.h's
 * rule after the catalog-wide passes), methods_skipped (bit g: method g of the attribute
 * `methods` did not apply to the row, run.dwarfs_only / run.giants_only) and skip_reason. The
 * classification methods (class, lum) route the rows of the others (survey_job.h: ck->cls);
 * the rv method's chosen velocity starts the later methods (ck->v_start). */
typedef struct {
    const char *methods;        /* comma-separated names */
    const char *spectra, *out, *command;
    int resume;
    size_t limit;
    const char *emulator, *csn; /* z25 */
    const char *templates;      /* rv (NULL: the default library) */
    const char *slam_model;     /* slam */
    const char *cnn_model;      /* cnn */
    const char *cnn_gm_model;   /* cnn_gm: the M giants' ensemble (a gM model) */
    const char *laspm_library;  /* laspm */
    const char *class_model[3]; /* class: spt, wdm, dmgm (cnn_class.h task order; NULL: none) */
    const char *reference;      /* labels no method trained on: the rec error scales (NULL: hat) */
    double tm_range[2];         /* rv: template-matching range, A (0, 0: the default) */
    int laspm_leave_out_self;   /* laspm: leave out each spectrum's own star (laspm --leave-out-self) */
} ms_fit_methods_opts;

typedef struct {
    long rows, chunks_total, chunks_before;
    int complete;
    double seconds;
    char methods[128];          /* the methods run, in order */
} ms_fit_methods_summary;

ms_status ms_fit_methods(const ms_config *cfg, const ms_fit_methods_opts *o,
                         ms_fit_methods_summary *sum);

#endif
