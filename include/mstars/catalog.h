/* catalog.h: the output catalog of a survey run, written by the ranks that computed the
 * rows, and resumable.
 *
 * Rows are grouped in chunks (the unit of work distribution). When a rank finishes a
 * chunk it writes the chunk's rows straight into the catalog (parallel HDF5, independent
 * I/O; no funnel through rank 0) and appends the same rows to its journal
 * (<catalog>.journal/rank-<r>.bin, flushed and fsync'ed per chunk). The journals, not the
 * HDF5 file, are the record of what is done: a run killed at any moment (kill -9, node
 * loss) restarts with --resume, builds a fresh <catalog>.partial, replays every complete
 * journal record into it (a torn last record is ignored), and computes only the chunks
 * no journal holds. So no row is lost and none is computed twice, and the final catalog
 * equals an uninterrupted run's. The catalog appears under its name only when complete;
 * the journals are then removed.
 *
 * Columns are declared as a table (ms_catalog_column) over a caller-defined row struct. */
#ifndef MSTARS_CATALOG_H
#define MSTARS_CATALOG_H

#include "mstars/h5.h"
#include "mstars/status.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *name;   /* dataset path, e.g. /catalog/teff (MS_CATALOG_GROUP) */
    ms_h5_type type;
    size_t str_len;     /* MS_H5_STR only */
    size_t offset;      /* into the row struct */
    const char *units;
    const char *description;
} ms_catalog_column;

/* Bytes of one element of a column (strings: str_len). */
size_t ms_catalog_column_size(const ms_catalog_column *c);

typedef struct ms_catalog ms_catalog;

typedef struct {
    const char *path;               /* final catalog path */
    const ms_catalog_column *cols;  /* terminated by {NULL} */
    size_t row_size;                /* bytes of the row struct */
    size_t n_rows, chunk_rows;      /* chunk c holds rows [c*chunk_rows, ...) */
    uint64_t settings_hash;         /* a resumed run must have the same settings */
    int resume;                     /* replay journals instead of refusing them */
} ms_catalog_opts;

/* Collective. Creates <path>.partial with every column. Without resume, existing journals
 * are an error (naming the folder: "use --resume or remove it"). With resume, journals
 * made with other settings are an error; complete records are replayed. `done` receives
 * a [n_chunks] array (ms_free) with 1 for chunks already in a journal (every rank). */
ms_status ms_catalog_open(const ms_catalog_opts *o, ms_catalog **out, uint8_t **done);

/* Independent: write rows [row0, row0 + n) of chunk `chunk` and journal them. */
ms_status ms_catalog_write_chunk(ms_catalog *c, size_t chunk, size_t row0, size_t n,
                                 const void *rows);

/* The HDF5 file, for collective attribute writes before ms_catalog_finish. */
ms_h5 *ms_catalog_file(ms_catalog *c);

/* Collective. complete = 1: close, commit (rename), delete the journals. complete = 0
 * (interrupted): close and keep the journals for --resume (the .partial file stays, never
 * looking complete). Frees c. */
ms_status ms_catalog_finish(ms_catalog *c, int complete);

/* Collective. After a failed WRITE (disk full, quota; MS_EHDF5 or MS_EIO agreed by every
 * rank): HDF5 cannot close a parallel file whose write failed (the collective close hangs,
 * or crashes MPI_Finalize), so <path>.partial is deleted, the journals are kept (every
 * complete record in them stays valid for --resume once there is space), `message` is
 * logged with that advice, and every rank stops with exit status 1. Returns (freeing c)
 * only where MPI is not running, with the error set. */
ms_status ms_catalog_abort_after_write_error(ms_catalog *c, const char *message);

#endif
