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

/* The stellar labels every method reports, in this order. */
#define MS_N_LABELS 4
extern const char *const ms_label_names[MS_N_LABELS];   /* teff, logg, m_h, alpha_m */
extern const char *const ms_label_units[MS_N_LABELS];   /* K, dex, dex, dex */

#endif
