/* join_io.h: the two sides of a join (join.h) read from files: a table (CSV or FITS: an
 * input catalog, a reference, training labels) and the rows of a spectra store or a
 * catalog; and the one call every command uses to join them and log how.
 *
 * A table's identification columns (case-insensitive): `obsid`; `key` (obsid or LAMOST
 * name, as mstars writes it); `lmjd`, `planid`, `spid`, `fiberid` (the name is built from
 * them); `file` or `filename` (the name from a LAMOST file name); `ra`, `dec` (deg). A table
 * needs at least one route; positions are used with the radius join.radius_arcsec. */
#ifndef MSTARS_JOIN_IO_H
#define MSTARS_JOIN_IO_H

#include "mstars/h5.h"
#include "mstars/join.h"
#include "mstars/status.h"

#include <stddef.h>

typedef struct {
    ms_join_side side;     /* points into the arrays below */
    char **obsid, **key, **name; /* [n] each (NULL: not available), one allocation each */
    double *ra, *dec;      /* [n] (NULL: not available) */
    char routes[96];       /* "obsid, key (lmjd/planid/spid/fiberid), position": for messages */
} ms_join_ids;

void ms_join_ids_free(ms_join_ids *ids);

/* The identification columns of the table at path. MS_ENOTFOUND naming the file and the
 * columns looked for when it has none. */
ms_status ms_table_join_ids(const char *path, ms_join_ids *ids);

/* The rows of a spectra store (n rows): /meta/obsid, /meta/key (built from /meta/lmjd,
 * planid, spid, fiberid in stores made before the key), the LAMOST name, /meta/ra, /meta/dec. */
ms_status ms_store_join_ids(ms_h5 *f, size_t n, ms_join_ids *ids);

/* The keys of store rows [row0, row0 + n): /meta/key, or in a store made before the key,
 * built from /meta/obsid, lmjd, planid, spid, fiberid. Every catalog writer copies them into
 * its `key` column (MS_COL_KEY). */
ms_status ms_store_read_keys(ms_h5 *f, size_t row0, size_t n, char (*key)[MS_KEY_LEN]);

/* The rows of a catalog (n rows): /catalog/obsid, /catalog/key, /catalog/ra, /catalog/dec,
 * those that it has (MS_ENOTFOUND when none). */
ms_status ms_catalog_join_ids(ms_h5 *f, size_t n, ms_join_ids *ids);

/* The star of each of the n catalog rows, for repeat observations (calibrate-errors,
 * precision): the integer column `name` (e.g. source_id; ids < 0: none) and, for the rows
 * without an id, position groups within radius_arcsec (ms_join_fill_groups) when the
 * catalog has ra, dec. A catalog without the column is grouped by position alone when
 * name is "source_id". *group [n] (ms_free); *filled rows grouped by position. */
ms_status ms_catalog_read_groups(ms_h5 *f, const char *name, size_t n, double radius_arcsec,
                                 int64_t **group, size_t *filled);

/* Join the table at path to rows: row [rows->n] the table row or -1. Logs one line, on this
 * process, prefixed by who: how many rows were joined by each route, ambiguous position
 * matches (nearest taken) and table keys given twice (first taken). stats may be NULL. */
ms_status ms_table_join(const char *who, const char *path, const ms_join_ids *rows,
                        double radius_arcsec, long *row, ms_join_stats *stats);

#endif
