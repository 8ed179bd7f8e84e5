/* export.h: `mstars export`: a catalog (HDF5, /catalog group) as a FITS binary table or
 * CSV.
 *
 * Every 1-D dataset of the group becomes a column, in HDF5 name order (datasets of
 * another rank are skipped with a warning; all columns must have the same length). The
 * catalog is streamed in blocks of `block_rows` rows: one block of every column is read,
 * its rows are written, and so on, so memory does not grow with the catalog.
 *
 * FITS: one BINTABLE HDU (EXTNAME = CATALOG) after an empty primary HDU. TFORM from the
 * type: float32 E, float64 D, int32 J, int64 K, uint8 B, uint32 V (TZERO 2^31), strings
 * <len>A. TUNITn from the dataset's "units" attribute when it is a unit astropy and the FITS
 * standard accept (omitted when empty; "dex", not a FITS unit, is omitted and named in the
 * description instead). The description is the TTYPEn comment (cut by the 80-character
 * card) and, whole, TCOMMn (the HEASARC keyword TOPCAT shows as the column description),
 * with the long-string CONTINUE convention (LONGSTRN). Flag columns of the schema
 * (fit_flags, cut_flags, at_bound; ms_schema_flag_bits) name their bits in TFLAGn =
 * '0=name,1=name,...' (bit k = value 2^k; long string); at_bound uses the catalog's own
 * bit_names attribute when it has one (the emulator's label order). The root attributes of
 * the catalog are copied into both HDUs' headers, the keyword being the
 * upper-cased name: single-line strings as string keywords with the long-string CONTINUE
 * convention (LONGSTRN) -- names longer than 8 characters use a short alias when they are
 * provenance attributes (mstars_version MSVERSN, git_revision GITREV, emulator_hash
 * EMUHASH, preprocess_hash PREPHASH, csn_hash CSNHASH, catalog_version CATVERSN), else
 * HIERARCH, where a value too long for one card is truncated with "..." and written in
 * full as COMMENT cards "name (full): value"; integer / float attributes as numeric
 * keywords (several values: one string of space-separated values); multi-line strings
 * (e.g. "config", "build") as COMMENT cards "name: line".
 *
 * Nulls, one convention per type (FITS and CSV alike): floats NaN (the catalog's -9999
 * sentinels of tio5 and spt are written as NaN); signed integers -1 (source_id, vbflag,
 * activity, obsid without an id), with TNULLn = -1 in FITS; unsigned bit masks have no null;
 * strings empty. obsid (LAMOST's id) is written as a 64-bit integer when every value is one.
 *
 * CSV: a header line of column names, then one line per row. Floats printed with the
 * fewest digits that read back to the same value (shortest round trip: 16.8375, not
 * 16.837499999999999); NaN as an EMPTY field (+/-Inf as "inf" / "-inf"); integers always as
 * integers (null -1, never an empty cell, so pandas keeps them int64); strings quoted (RFC
 * 4180: "..." with "" for a quote) when they hold a comma, a quote, a line break, or
 * leading / trailing blanks, or are empty.
 *
 * The output is written to <out>.partial and renamed at the end (a failed export leaves
 * nothing at <out>). An existing <out> is refused (MS_EIO) unless opts->force. The input
 * must be complete (ms_h5_open_read refuses an unfinished catalog). Serial: one process. */
#ifndef MSTARS_EXPORT_H
#define MSTARS_EXPORT_H

#include "mstars/status.h"

#include <stddef.h>

typedef enum { MS_EXPORT_FITS = 1, MS_EXPORT_CSV = 2 } ms_export_format;

/* Column names of the export: the HDF5 names, or LAMOST / APOGEE style (e_<x> -> <x>_err,
 * snr_r -> snrr, snr_i -> snri, source_id -> gaia_source_id, e_plx -> plx_err). */
typedef enum { MS_EXPORT_NAMES_HDF5 = 0, MS_EXPORT_NAMES_LAMOST = 1 } ms_export_names;

typedef struct {
    ms_export_format format;
    int force;         /* overwrite an existing output */
    size_t block_rows; /* rows per block (0: MS_EXPORT_BLOCK_ROWS) */
    const char *group; /* NULL: MS_CATALOG_GROUP */
    ms_export_names names;
} ms_export_opts;

/* "hdf5" or "lamost" (case-insensitive); MS_EINVAL naming the value otherwise. */
ms_status ms_export_names_parse(const char *name, ms_export_names *names);

#define MS_EXPORT_BLOCK_ROWS 65536

/* "fits" or "csv" (case-insensitive); MS_EINVAL naming the value otherwise. */
ms_status ms_export_format_parse(const char *name, ms_export_format *fmt);

/* Export the catalog at `catalog` to `out`. nrows / ncols (may be NULL) receive the
 * number of rows and columns written. */
ms_status ms_export_catalog(const char *catalog, const char *out, const ms_export_opts *opts,
                            size_t *nrows, size_t *ncols);

#endif
