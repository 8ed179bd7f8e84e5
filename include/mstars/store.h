/* store.h: the spectra store (`mstars ingest`) and the grid store (`mstars ingest-grid`).
 *
 * Spectra store layout (one row per input file, in input-list order):
 *   /spectra/flux, /spectra/ivar, /spectra/continuum   N x n_pix float32 (normalised)
 *   /spectra/wavelength   n_pix float64 (rest frame, vacuum, A)
 *   /spectra/fit_mask     n_pix uint8 (1: excluded from fits, preprocess.fit_masks)
 *   /meta/<field>         N, see ms_store_meta below (status, status_reason, ...)
 *   /input/<column>       N, input-catalog columns joined by obsid, key or position (join.h;
 *                         NaN / "" / -1 unmatched)
 *   /native/flux, /native/ivar, /native/mask   N x MS_NATIVE_NPIX: the native view (native.h:
 *                         LAMOST's log-linear lattice, observed frame, not normalised; the
 *                         methods derive their own views from it; docs/rv.md)
 *   /native/loglam        MS_NATIVE_NPIX float64
 * Grid store layout:
 *   /spectra/flux, /spectra/ivar, /spectra/wavelength, /spectra/fit_mask as above
 *   /labels/teff, /labels/logg, /labels/m_h, /labels/alpha_m   N float64
 *   /meta/filename, /meta/format, /meta/status, /meta/status_reason
 * Root attributes: provenance (h5.h), "preprocess_hash" (ingest reuses rows only when the
 * preprocessing settings are identical), counts per status. */
#ifndef MSTARS_STORE_H
#define MSTARS_STORE_H

#include "mstars/config.h"
#include "mstars/grid_quality.h"
#include "mstars/join.h"
#include "mstars/status.h"

#include <stdint.h>

/* Per-row status (0 = usable). Stored in /meta/status; the text in /meta/status_reason. */
typedef enum {
    MS_ROW_OK = 0,
    MS_ROW_UNREADABLE = 1,    /* missing, unreadable, truncated or not FITS */
    MS_ROW_BAD_STRUCTURE = 2, /* FITS without the expected HDU, columns or keywords */
    MS_ROW_NO_DATA = 3,       /* all flux NaN, all IVAR zero, or no good pixel */
    MS_ROW_COVERAGE = 4,      /* wavelength range does not cover the fit range */
    MS_ROW_NOT_STAR = 5,      /* CLASS is not preprocess.required_class */
    MS_ROW_FEW_PIXELS = 6,    /* good pixels below preprocess.min_good_fraction */
    MS_ROW_N_STATUS
} ms_row_status;

/* Short name of a row status, e.g. "coverage". */
const char *ms_row_status_name(int status);

#define MS_REASON_LEN 160

typedef struct {
    char filename[256];  /* as given in the input list */
    char obsid[32];
    char key[MS_KEY_LEN]; /* obsid, else LMJD-PLANID_spSS-FFF (join.h): every row has one */
    char desig[48];
    char cls[16];
    char subclass[16];
    char planid[48];
    char data_v[32];
    char layout[16];
    char reason[MS_REASON_LEN];
    double ra, dec, z, z_err, rv_init;
    double snr[5];
    int64_t lmjd;
    int32_t spid, fiberid, n_pix_native, n_good, status;
} ms_store_meta;

typedef struct {
    const char *spectra;  /* directory or list file */
    const char *catalog;  /* input catalog (CSV) or NULL */
    const char *out;      /* store path */
    const char *command;  /* command line, recorded as provenance */
    int reprocess;        /* 1: ignore rows of an existing store */
} ms_ingest_opts;

/* Summary of an ingest, identical on every rank. */
typedef struct {
    long total, reused, processed;
    long by_status[MS_ROW_N_STATUS];
    double seconds;
    ms_grid_quality_summary grid_quality; /* ingest-grid only */
} ms_ingest_summary;

/* Collective over all ranks: ingest the spectra into the store. */
ms_status ms_ingest_spectra(const ms_config *cfg, const ms_ingest_opts *opts,
                            ms_ingest_summary *summary);

/* Hash of the preprocessing settings (the preprocess.* keys as text): the root attribute
 * preprocess_hash of every store, copied into the emulator file by train-emulator. */
uint64_t ms_preprocess_hash(const ms_config *cfg);

/* Collective: ingest a model grid directory into a grid store. */
ms_status ms_ingest_grid(const ms_config *cfg, const char *grid_dir, const char *out,
                         const char *command, ms_ingest_summary *summary);

typedef struct ms_h5 ms_h5;
/* MS_EFORMAT naming the store `path` and what is missing unless it holds the native view
 * (native.h: flux, ivar, mask on this build's lattice) and every dataset of the
 * NULL-terminated `meta` list (may be NULL). For the methods that read the native pixels. */
ms_status ms_store_check_native(ms_h5 *store, const char *path, const char *const *meta);

#endif
