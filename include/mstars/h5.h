/* h5.h: HDF5 stores, models and catalogs, serial or parallel (MPI-IO).
 *
 * Conventions of every mstars HDF5 file:
 *   - one 1-D dataset per column under a group (/meta/ra, /catalog/teff, ...), 2-D
 *     datasets only for per-pixel arrays (/spectra/flux is N x n_pix);
 *   - attributes "units" and "description" on every dataset;
 *   - root attributes: "mstars_version", "git_revision", "build", "command", "config"
 *     (the effective configuration text), "created", "ranks", and "complete" = 1, written
 *     last by ms_h5_commit.
 * A file is written under "<path>.partial" and renamed to <path> only by ms_h5_commit,
 * so an interrupted or failed run never leaves a file that looks complete; readers
 * refuse files without complete = 1 (ms_h5_open_read names the problem).
 *
 * In parallel mode every call that creates or writes is collective: all ranks call it
 * with the same arguments, except that ms_h5_write_rows takes each rank's own rows
 * (nrows may be 0). Errors are reported with the file and dataset named. */
#ifndef MSTARS_H5_H
#define MSTARS_H5_H

#include "mstars/config.h"
#include "mstars/status.h"
#include "mstars/strlist.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ms_h5 ms_h5;

typedef enum {
    MS_H5_F32 = 1,
    MS_H5_F64,
    MS_H5_I32,
    MS_H5_I64,
    MS_H5_U8,
    MS_H5_U32,
    MS_H5_STR /* fixed-length, NUL-padded strings of `str_len` bytes per element */
} ms_h5_type;

/* Create <path>.partial for writing (truncating an older partial file). parallel: open
 * with MPI-IO on all ranks; otherwise only the calling process touches the file. */
ms_status ms_h5_create(const char *path, int parallel, ms_h5 **out);

/* The folder of `path` exists and this process can create files in it (a probe file is
 * created and removed, so read-only file systems and quotas show too). MS_EIO naming the
 * folder and the system's reason otherwise. For checks before long work (training). */
ms_status ms_h5_check_writable(const char *path);

/* Open a complete file for reading (parallel: every rank opens it with MPI-IO). */
ms_status ms_h5_open_read(const char *path, int parallel, ms_h5 **out);

/* Open a complete file to add or rewrite datasets in place (e.g. calibrate-errors). The
 * "complete" attribute is cleared until ms_h5_commit. */
ms_status ms_h5_open_update(const char *path, int parallel, ms_h5 **out);
/* As ms_h5_open_update, for a step that rewrites part of a file and may simply be run again
 * (mstars calibrate-errors): complete = 0 and the root attribute "updating" = step are
 * written together (one flush), and a file left incomplete by an interrupted run of the
 * same step (complete 0, updating = step) is accepted too, with *recovered = 1 (may be
 * NULL). ms_h5_commit removes "updating". */
ms_status ms_h5_open_update_step(const char *path, int parallel, const char *step,
                                 ms_h5 **out, int *recovered);
/* Flush HDF5's buffers to the file (collective in parallel mode, where it is an
 * MPI_File_sync: with a barrier between two flushes, rows written independently by other
 * ranks become visible to this rank's reads). */
ms_status ms_h5_flush(ms_h5 *f);
/* 1 when every rank opened f with MPI-IO (writes are then collective). */
int ms_h5_parallel(const ms_h5 *f);

/* Collective. Reserve `bytes` of disk space for the partial file (fallocate(2) by rank 0),
 * so that writes into it cannot fail on a full disk: HDF5 cannot recover from a failed
 * write of a parallel file (its collective flush hangs when one rank's write fails). A disk
 * without the space fails here, before any work, with MS_EIO naming the file and the size.
 * File systems without fallocate reserve nothing (no error). ms_h5_commit trims the file
 * to HDF5's end of allocation. */
ms_status ms_h5_reserve(ms_h5 *f, uint64_t bytes);

/* Write complete = 1, close, rename <path>.partial to <path>. Frees f even on failure. */
ms_status ms_h5_commit(ms_h5 *f);
/* Close without committing: the partial file is deleted. Frees f. */
void ms_h5_abort(ms_h5 *f);
/* After a failed WRITE (e.g. disk full) of a parallel file: HDF5 cannot close such a file
 * (its collective metadata flush hangs), so the partial file is deleted (rank 0), `message`
 * is logged, and every rank stops with exit status 1 (rank 0 calls MPI_Abort,
 * the others wait for it: ms_par_abort_all). Serial files: as
 * ms_h5_abort. Does not return in parallel mode. */
void ms_h5_abort_after_write_error(ms_h5 *f, const char *message);
/* Delete the partial file of f (rank 0 in parallel mode) without closing it: for a file
 * that cannot be closed after a failed write, before ms_h5_abort_after_write_error of
 * another file stops the run. */
void ms_h5_remove_partial(const ms_h5 *f);
/* Close a file opened for reading. Frees f. */
ms_status ms_h5_close(ms_h5 *f);

const char *ms_h5_path(const ms_h5 *f);

/* Create a dataset (groups on the way are created). rank 1 or 2; dims[0] rows. Chunked
 * along rows when chunk_rows > 0 (0: contiguous). */
ms_status ms_h5_create_dataset(ms_h5 *f, const char *name, ms_h5_type type, size_t str_len,
                               int rank, const size_t *dims, size_t chunk_rows,
                               const char *units, const char *description);

/* Write rows [row0, row0 + nrows) of a dataset (whole rows of a 2-D dataset). */
ms_status ms_h5_write_rows(ms_h5 *f, const char *name, size_t row0, size_t nrows,
                           const void *data);
/* Read rows [row0, row0 + nrows) into data (converted to `type`). */
ms_status ms_h5_read_rows(ms_h5 *f, const char *name, ms_h5_type type, size_t str_len,
                          size_t row0, size_t nrows, void *data);

/* Read a whole dataset that must be exactly n0 (n1 = 0: 1-D) or n0 x n1 elements; any other
 * shape is MS_EFORMAT naming the file, the dataset and both shapes (model files, checkpoints). */
ms_status ms_h5_read_exact(ms_h5 *f, const char *name, ms_h5_type type, size_t str_len,
                           size_t n0, size_t n1, void *data);

/* The first n rows of a 1-D fixed-length string dataset as n NUL-terminated strings:
 * (*out)[i], all in one allocation (ms_free(*out)). MS_EFORMAT when it is not a string
 * dataset. */
ms_status ms_h5_read_strings(ms_h5 *f, const char *name, size_t n, char ***out);

/* Convenience: create + write a whole 1-D or 2-D dataset in one call (parallel: rank 0's
 * data is written; every rank must call). */
ms_status ms_h5_write_array(ms_h5 *f, const char *name, ms_h5_type type, size_t str_len,
                            int rank, const size_t *dims, const void *data, const char *units,
                            const char *description);

/* Open datasets once (collective in parallel mode) and then write rows INDEPENDENTLY:
 * each rank writes its own rows whenever it has them, with no other rank taking part
 * (dynamic work distribution). Close every handle before ms_h5_commit (collective). */
typedef struct ms_h5_dset ms_h5_dset;
ms_status ms_h5_dset_open(ms_h5 *f, const char *name, ms_h5_dset **out);
ms_status ms_h5_dset_write_rows(ms_h5_dset *d, size_t row0, size_t nrows, const void *data);
void ms_h5_dset_close(ms_h5_dset *d);

int ms_h5_exists(ms_h5 *f, const char *name);
/* Remove the link `name` (a dataset or group; serial files). The space is not reclaimed
 * until the file is repacked (h5repack). MS_EHDF5 naming the file and path on failure. */
ms_status ms_h5_unlink(ms_h5 *f, const char *name);
/* Rank (1 or 2) and dims of a dataset. */
ms_status ms_h5_dims(ms_h5 *f, const char *name, int *rank, size_t dims[2]);

/* Attributes on the root ("/"), a group or a dataset. */
ms_status ms_h5_attr_set_str(ms_h5 *f, const char *obj, const char *name, const char *value);
ms_status ms_h5_attr_set_f64(ms_h5 *f, const char *obj, const char *name, const double *v,
                             size_t n);
ms_status ms_h5_attr_set_i64(ms_h5 *f, const char *obj, const char *name, const int64_t *v,
                             size_t n);
/* String attribute into a new buffer (free with ms_free). */
ms_status ms_h5_attr_get_str(ms_h5 *f, const char *obj, const char *name, char **value);
/* Numeric attribute: up to cap values; *n receives the count. */
ms_status ms_h5_attr_get_f64(ms_h5 *f, const char *obj, const char *name, double *v,
                             size_t cap, size_t *n);
ms_status ms_h5_attr_get_i64(ms_h5 *f, const char *obj, const char *name, int64_t *v,
                             size_t cap, size_t *n);

/* What every model and checkpoint file repeats (src/io/h5_model.c). Writing (serial files):
 * st MS_OK: ms_h5_commit(f); else ms_h5_abort(f) and st. */
ms_status ms_h5_commit_or_abort(ms_h5 *f, ms_status st);
/* Reading: a string attribute into buf (len bytes, cut to fit; untouched on failure); */
ms_status ms_h5_attr_get_text(ms_h5 *f, const char *obj, const char *name, char *buf,
                              size_t len);
/* 1 when the root attribute "kind" is `kind`; 0 when it is another or absent; */
int ms_h5_is_kind(ms_h5 *f, const char *kind);
/* the root's "format_version" is `version`, else MS_EFORMAT "<path>: <what> format version V,
 * this mstars reads W" (what NULL: no word). */
ms_status ms_h5_check_version(ms_h5 *f, const char *what, int version);

/* Root provenance attributes: version, git revision, build description, command line,
 * the effective configuration, creation time, rank count. */
ms_status ms_h5_write_provenance(ms_h5 *f, const ms_config *cfg, const char *command);

/* ---- Listing (used by `mstars export`) -------------------------------------------- */

/* Names (not paths) of the datasets directly under `group`, in HDF5 name order (sub-groups
 * and other objects are skipped). MS_ENOTFOUND when the group does not exist. names is
 * filled from empty; free with ms_strlist_free. */
ms_status ms_h5_list(ms_h5 *f, const char *group, ms_strlist *names);
/* The ms_h5_type that reads a dataset without loss (float 4 -> F32, 8 -> F64; signed
 * integers <= 4 bytes -> I32, 8 -> I64; unsigned 1 -> U8, 2 or 4 -> U32, 8 -> I64;
 * fixed-length strings -> STR with *str_len their size). MS_EFORMAT for other types
 * (variable-length strings, compounds, ...). */
ms_status ms_h5_dset_type(ms_h5 *f, const char *name, ms_h5_type *type, size_t *str_len);
/* Names of the attributes of an object ("/" for the root), in name order. */
ms_status ms_h5_attr_list(ms_h5 *f, const char *obj, ms_strlist *names);
/* Class of an attribute: 's' fixed-length string, 'i' integer, 'f' floating point, 0 when
 * absent or of another class. */
int ms_h5_attr_class(ms_h5 *f, const char *obj, const char *name);

#endif
