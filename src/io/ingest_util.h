/* ingest_util.h: pieces shared by the spectra and grid ingests (private to src/io). */
#ifndef MSTARS_INGEST_UTIL_H
#define MSTARS_INGEST_UTIL_H

#include "mstars/catalog.h"
#include "mstars/config.h"
#include "mstars/h5.h"
#include "mstars/spec.h"
#include "mstars/strlist.h"

#include <stddef.h>
#include <stdint.h>

/* A column of a row struct, written as one 1-D dataset: the catalog's column type. */
typedef ms_catalog_column ms_column;


/* Rank 0 builds the list with `build`; every rank receives it. */
ms_status ms_strlist_bcast(ms_strlist *l, ms_status st);

/* ms_preprocess_hash: store.h */
#include "mstars/store.h"

/* Create the per-pixel datasets (flux, ivar[, continuum]) and write wavelength and
 * fit_mask. Collective. */
ms_status ms_store_create_pixels(ms_h5 *f, const ms_config *cfg, size_t n_rows,
                                 int with_continuum);

/* Create the native view's datasets (native.h; MS_STORE_NATIVE_*) and write the lattice.
 * Collective. */
ms_status ms_store_create_native(ms_h5 *f, size_t n_rows);

/* Create one dataset per column (n_rows rows). Collective. */
ms_status ms_columns_create(ms_h5 *f, const ms_column *cols, size_t n_rows);
/* Write rows [row0, row0+n) of every column from an array of row structs of `row_size`
 * bytes. buf: scratch of at least n * 256 bytes. Collective (n may be 0). */
ms_status ms_columns_write(ms_h5 *f, const ms_column *cols, const void *rows, size_t row_size,
                           size_t row0, size_t n, void *buf);
/* Read rows into row structs (inverse of ms_columns_write; not collective). */
ms_status ms_columns_read(ms_h5 *f, const ms_column *cols, void *rows, size_t row_size,
                          size_t row0, size_t n, void *buf);

/* End of writing a store (collective): commit it when st is MS_OK; otherwise delete the
 * partial file, and after a failed write of the store itself (MS_EHDF5, MS_EIO) stop every
 * rank (ms_h5_abort_after_write_error). Returns st (or the commit's status) with the error
 * message kept. f may be NULL when creating it failed. */
ms_status ms_store_finish(ms_h5 *f, ms_status st);

/* Round-robin batches: how many collective rounds and which rows a rank owns in a round. */
size_t ms_batches_rounds(size_t n_rows, size_t batch, int ranks);
/* Rows [*row0, *row0 + return) of this rank in round r (0 rows when none). */
size_t ms_batches_mine(size_t n_rows, size_t batch, int ranks, int rank, size_t round,
                       size_t *row0);

#endif
