/* schema.h: the one owner of every name in mstars' HDF5 files.
 *
 * 1. The spectra store's layout (written by `ingest`, read by every method): the dataset
 *    names below are the only spelling of them in the tree; no other file writes a
 *    "/spectra/...", "/meta/..." or "/input/..." literal (tests/arch/test_layering.sh).
 * 2. The catalog's column groups: every method declares its catalog columns as ONE group
 *    (name, type, unit, description, flag bit names) in the table of src/schema/schema.c.
 *    The survey writer, export, report, calibrate-errors and the cuts find a column by
 *    asking this module (ms_schema_column), never by a string of their own.
 *
 * A group's columns are an ms_catalog_column table ({NULL}-terminated) over the method's
 * own row struct; the group lists the method's flag columns' bit names, so FITS export and
 * the report can name every bit. */
#ifndef MSTARS_SCHEMA_H
#define MSTARS_SCHEMA_H

#include "mstars/catalog.h"

#include <stddef.h>

/* ---------------------------------------------------------- the spectra store */
#define MS_STORE_FLUX "/spectra/flux"             /* N x n_pix f32, the Z25 view */
#define MS_STORE_IVAR "/spectra/ivar"             /* N x n_pix f32 */
#define MS_STORE_CONTINUUM "/spectra/continuum"   /* N x n_pix f32 pseudo-continuum */
#define MS_STORE_WAVELENGTH "/spectra/wavelength" /* n_pix f64, rest frame, vacuum, A */
#define MS_STORE_FIT_MASK "/spectra/fit_mask"     /* n_pix u8 */
#define MS_STORE_META "/meta"                     /* /meta/<field>, N rows */
#define MS_STORE_INPUT "/input"                   /* /input/<column>, N rows */
#define MS_STORE_LABELS "/labels"                 /* grid store: /labels/<label> */
/* The native view (native.h): every spectrum on LAMOST's log-linear lattice, observed
 * frame, not normalised; methods derive their own views from it. Absent in stores made
 * before it existed (re-run `mstars ingest --reprocess` to add it). */
#define MS_STORE_NATIVE_FLUX "/native/flux"       /* N x MS_NATIVE_NPIX f32, LAMOST flux units */
#define MS_STORE_NATIVE_IVAR "/native/ivar"       /* N x MS_NATIVE_NPIX f32 (0: no data) */
#define MS_STORE_NATIVE_MASK "/native/mask"       /* N x MS_NATIVE_NPIX u8, MS_NATIVE_* bits */
#define MS_STORE_NATIVE_LOGLAM "/native/loglam"   /* MS_NATIVE_NPIX f64, log10 vacuum A, observed */

/* /meta/<field> (one value per row, from the FITS headers and the reader) and the input
 * catalog's columns that the survey job reads (/input/<column>, joined at ingest). */
#define MS_INPUT_BINARY_FLAG       "/input/binary_flag"
/* the Gaia CMD module (lumclass.h, docs/lumclass.md): Gaia DR3 names, Bailer-Jones 2021's
 * r_med_geo (pc), and the extinction a_g, e_bp_rp or ebv (mag) when the catalog has them */
#define MS_INPUT_A_G               "/input/a_g"
#define MS_INPUT_E_BP_RP           "/input/e_bp_rp"
#define MS_INPUT_EBV               "/input/ebv"
#define MS_INPUT_PARALLAX_OVER_ERROR "/input/parallax_over_error"
#define MS_INPUT_PHOT_BP_FLUX_OVER_ERROR "/input/phot_bp_mean_flux_over_error"
#define MS_INPUT_PHOT_G_FLUX_OVER_ERROR  "/input/phot_g_mean_flux_over_error"
#define MS_INPUT_PHOT_RP_FLUX_OVER_ERROR "/input/phot_rp_mean_flux_over_error"
#define MS_INPUT_R_MED_GEO         "/input/r_med_geo"
#define MS_INPUT_PARALLAX          "/input/parallax"
#define MS_INPUT_PARALLAX_ERROR    "/input/parallax_error"
#define MS_INPUT_PHOT_BP_MEAN_MAG  "/input/phot_bp_mean_mag"
#define MS_INPUT_PHOT_G_MEAN_MAG   "/input/phot_g_mean_mag"
#define MS_INPUT_PHOT_RP_MEAN_MAG  "/input/phot_rp_mean_mag"
#define MS_INPUT_RUWE              "/input/ruwe"
#define MS_INPUT_SOURCE_ID         "/input/source_id"
#define MS_INPUT_VARIABLE_FLAG     "/input/variable_flag"
#define MS_META_CLASS              "/meta/class"
#define MS_META_DATA_V             "/meta/data_v"
#define MS_META_DEC                "/meta/dec"
#define MS_META_DESIGNATION        "/meta/designation"
#define MS_META_FIBERID            "/meta/fiberid"
#define MS_META_FILENAME           "/meta/filename"
#define MS_META_FORMAT             "/meta/format"
#define MS_META_KEY                "/meta/key"     /* obsid, else LMJD-PLANID_spSS-FFF (join.h) */
#define MS_META_LAYOUT             "/meta/layout"
#define MS_META_LMJD               "/meta/lmjd"
#define MS_META_N_GOOD             "/meta/n_good"
#define MS_META_N_PIX_NATIVE       "/meta/n_pix_native"
#define MS_META_OBSID              "/meta/obsid"
#define MS_META_PLANID             "/meta/planid"
#define MS_META_RA                 "/meta/ra"
#define MS_META_RV_INIT            "/meta/rv_init"
#define MS_META_SNR_G              "/meta/snr_g"
#define MS_META_SNR_I              "/meta/snr_i"
#define MS_META_SNR_R              "/meta/snr_r"
#define MS_META_SNR_U              "/meta/snr_u"
#define MS_META_SNR_Z              "/meta/snr_z"
#define MS_META_SPID               "/meta/spid"
#define MS_META_STATUS             "/meta/status"
#define MS_META_STATUS_REASON      "/meta/status_reason"
#define MS_META_SUBCLASS           "/meta/subclass"
#define MS_META_Z                  "/meta/z"
#define MS_META_Z_ERR              "/meta/z_err"
/* Grid quality gate (ingest-grid, include/mstars/grid_quality.h): per model ... */
#define MS_STORE_QUALITY_STEP_MAX "/quality/step_max"         /* f64 A */
#define MS_STORE_QUALITY_STEP_MEDIAN "/quality/step_median"   /* f64 A */
#define MS_STORE_QUALITY_SAMPLES "/quality/samples_per_fwhm"  /* f64 */
#define MS_STORE_QUALITY_ALIAS "/quality/alias_noise"         /* f64 fraction */
/* ... and the verdict, root attributes of the grid store, copied into the emulator file
 * and the catalog so that every later stage can warn: */
#define MS_ATTR_GRID_QUALITY "grid_quality"           /* string: the one-line verdict */
#define MS_ATTR_GRID_QUALITY_PASS "grid_quality_pass" /* i64: 1 pass, 0 fail */
#define MS_ATTR_GRID_QUALITY_FIGURES "grid_quality_alias_median_worst_max" /* f64[3] */
#define MS_ATTR_GRID_QUALITY_COUNTS "grid_quality_models_bad"              /* i64[2] */
/* Emulator file: the per-pixel emulator error on its validation models (issue 17 item 2) */
#define MS_EMULATOR_PIXEL_ERROR "/validation/pixel_error" /* f64 [n_pix] */

/* ---------------------------------------------------------- catalog column groups */
#define MS_CATALOG_GROUP "/catalog"

/* Names of the bits of one flag column (bit k = bits[k]; NULL-terminated). */
typedef struct {
    const char *column;            /* e.g. "fit_flags" */
    const char *const *bits;
} ms_flag_bits;

typedef struct {
    const char *name;              /* method key: "core", "z25", "csn", "rv", "slam", ... */
    const char *title;             /* one line: what the method is (report, export headers) */
    const ms_catalog_column *cols; /* {NULL}-terminated, names "/catalog/<column>" */
    size_t row_size;               /* bytes of the method's row struct */
    const ms_flag_bits *flags;     /* {NULL}-terminated, or NULL */
} ms_column_group;

/* Every group, in catalog order. */
const ms_column_group *const *ms_schema_groups(size_t *n);
/* A group by method name, or NULL. */
const ms_column_group *ms_schema_group(const char *name);
/* The column "<name>" (without "/catalog/") of any group, or NULL; *group may be NULL. */
const ms_catalog_column *ms_schema_column(const char *name, const ms_column_group **group);
/* The bit names of flag column `column`, or NULL. */
const char *const *ms_schema_flag_bits(const char *column);

/* Columns that modules other than their group's owner read (calibrate-errors, the cuts, the
 * report, joins); tests/core/test_schema.c checks that each is declared by a group. */
#define MS_COL_FIT_FLAGS       MS_CATALOG_GROUP "/fit_flags"
#define MS_COL_CUT_FLAGS       MS_CATALOG_GROUP "/cut_flags"
#define MS_COL_AT_BOUND        MS_CATALOG_GROUP "/at_bound"
#define MS_COL_STORE_STATUS    MS_CATALOG_GROUP "/store_status"
#define MS_COL_TEFF            MS_CATALOG_GROUP "/teff"
#define MS_COL_CHI2_RED        MS_CATALOG_GROUP "/chi2_red"
#define MS_COL_OBSID           MS_CATALOG_GROUP "/obsid"
#define MS_COL_KEY             MS_CATALOG_GROUP "/key"   /* the store's /meta/key (join.h) */
#define MS_COL_RA              MS_CATALOG_GROUP "/ra"
#define MS_COL_DEC             MS_CATALOG_GROUP "/dec"
#define MS_COL_SOURCE_ID       MS_CATALOG_GROUP "/source_id"
#define MS_COL_TEFF_EMU        MS_CATALOG_GROUP "/teff_emu"
#define MS_COL_LOGG            MS_CATALOG_GROUP "/logg"
#define MS_COL_M_H             MS_CATALOG_GROUP "/m_h"
#define MS_COL_ALPHA_M         MS_CATALOG_GROUP "/alpha_m"
#define MS_COL_SUBCLASS        MS_CATALOG_GROUP "/subclass"

/* One catalog holding several groups (the survey job with several methods): a composite row is
 * the groups' row structs side by side, group g at byte base[g] (aligned to 8). *cols (ms_free)
 * receives every group's columns in order with offsets shifted by their base, {NULL}-
 * terminated, ready for ms_catalog_opts; a column name declared twice is an error naming it. */
ms_status ms_schema_compose(const ms_column_group *const *chosen, size_t n_groups,
                            ms_catalog_column **cols, size_t *row_size, size_t *base);

/* Where each method's answers are in a catalog, for `mstars combine` (combine.h): the column
 * that says the catalog holds the method, the value and error columns of teff, logg, m_h,
 * alpha_m and rv (NULL: the method does not give it; "<error>_total" is used instead of
 * <error> when the catalog has it, i.e. after calibrate-errors), the flag columns that must
 * be 0 for the row to count, and a column that must be 1 (a "good" flag such as L25's
 * parameter_flag; NULL: none). */
#define MS_ANSWERS_N 5
typedef struct {
    const char *method, *detect;
    const char *value[MS_ANSWERS_N], *error[MS_ANSWERS_N];
    const char *clean[2];
    const char *good;
} ms_method_answers;
const ms_method_answers *ms_schema_answers(size_t *n);

/* The stellar labels every method reports, in this order. */
#define MS_N_LABELS 4
extern const char *const ms_label_names[MS_N_LABELS];   /* teff, logg, m_h, alpha_m */
extern const char *const ms_label_units[MS_N_LABELS];   /* K, dex, dex, dex */

#endif
