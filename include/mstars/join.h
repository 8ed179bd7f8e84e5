/* join.h: one way to join a table (an input catalog, a reference, training labels) to the
 * rows of a store or catalog, for every LAMOST data release (issue 17 item 5).
 *
 * The key of a spectrum: its OBSID when the file has one (DR2 and later), else the name
 * LAMOST gives the file, "LMJD-PLANID_spSS-FFF" (spec-{LMJD}-{PLANID}_sp{SPID:02d}-
 * {FIBERID:03d}.fits, laspec lamost_filepath; DR1 files have no OBSID keyword). A row is
 * joined by the first route that finds it:
 *   1. obsid against obsid (both non-empty);
 *   2. the table's key (a `key` column, or the name built from lmjd, planid, spid, fiberid
 *      columns, or from a `file` column of LAMOST file names) against the row's key, then
 *      against the row's name;
 *   3. position: the nearest table row within a radius (3 arcsec by default, config key
 *      join.radius_arcsec); a row with two or more table rows in the radius is ambiguous:
 *      counted (and logged by the caller), the nearest taken.
 * Pure functions, no I/O: io/table_join.c reads the tables. Positions are matched by a
 * the zones algorithm (declination zones one radius high, sorted by RA: O((N + M) log M) plus
 * the few candidates of three RA windows per row; Gray et al. 2006). */
#ifndef MSTARS_JOIN_H
#define MSTARS_JOIN_H

#include "mstars/status.h"

#include <stddef.h>
#include <stdint.h>

#define MS_JOIN_RADIUS_DEFAULT 3.0 /* arcsec */
#define MS_KEY_LEN 48              /* bytes of a key, NUL included */

/* The key of a spectrum into buf: obsid when non-empty, else the LAMOST name; "" when
 * neither can be formed (lmjd < 0, empty planid, spid or fiberid < 0). */
void ms_lamost_key(char *buf, size_t len, const char *obsid, long lmjd, const char *planid,
                   long spid, long fiberid);
/* The LAMOST name "LMJD-PLANID_spSS-FFF" ("" when it cannot be formed). */
void ms_lamost_name(char *buf, size_t len, long lmjd, const char *planid, long spid,
                    long fiberid);
/* The name from a LAMOST file name or path ("spec-55862-B6212_sp06-003.fits.gz" ->
 * "55862-B6212_sp06-003"); "" when the name is not of that form. */
void ms_lamost_name_from_file(char *buf, size_t len, const char *file);

/* One side of a join: n rows, each array may be NULL (that route is not available). Strings
 * are trimmed by the caller; an empty string never matches. */
typedef struct {
    size_t n;
    const char *const *obsid;
    const char *const *key;  /* table: key/name column; rows: obsid-or-name key */
    const char *const *name; /* rows only: the LAMOST name (may equal key) */
    const double *ra, *dec;  /* deg; NaN never matches */
} ms_join_side;

typedef struct {
    size_t matched, by_obsid, by_key, by_position;
    size_t ambiguous;  /* rows matched by position with two or more table rows in the radius */
    size_t duplicates; /* table rows whose obsid or key an earlier table row has */
} ms_join_stats;

/* For each of the n keys, the first table row (of m) with that key, or -1. *duplicates
 * (may be NULL): table rows that repeat an earlier row's non-empty key. */
ms_status ms_join_keys(const char *const *table_keys, size_t m, const char *const *keys,
                       size_t n, long *row, size_t *duplicates);

/* For each of the n positions, the nearest of the m table positions within radius_arcsec
 * (ties: the lower table row), or -1; sep [n] (may be NULL) its separation in arcsec (NaN
 * when none); ambiguous [n] (may be NULL) 1 where two or more were within the radius. */
ms_status ms_join_position(const double *table_ra, const double *table_dec, size_t m,
                           const double *ra, const double *dec, size_t n, double radius_arcsec,
                           long *row, double *sep, unsigned char *ambiguous);

/* The join of table to rows by the routes above: row [rows->n] receives the table row or -1.
 * stats may be NULL. */
ms_status ms_join(const ms_join_side *table, const ms_join_side *rows, double radius_arcsec,
                  long *row, ms_join_stats *stats);

/* The same with the table sorted once, for a table joined to many batches of rows (ingest):
 * the index keeps pointers into `table`'s arrays, which must outlive it. stats->duplicates
 * is the table's. */
typedef struct ms_join_index ms_join_index;
ms_status ms_join_index_build(const ms_join_side *table, double radius_arcsec,
                              ms_join_index **out); /* lookups: radius <= this one */
ms_status ms_join_lookup(const ms_join_index *ix, const ms_join_side *rows, double radius_arcsec,
                         long *row, ms_join_stats *stats);
void ms_join_index_free(ms_join_index *ix);

/* Group n positions into sources: rows within radius_arcsec of each other (friends of
 * friends) share a group, numbered by the lowest row in it; rows with NaN positions are
 * groups of their own. group [n]. */
ms_status ms_join_group_positions(const double *ra, const double *dec, size_t n,
                                  double radius_arcsec, long *group);

/* Star ids for rows without one: every row with group[i] < 0 and a finite position gets the
 * id MS_JOIN_POSITION_GROUP + (its position group among those rows, numbered by the lowest
 * row); ids >= 0 are kept (e.g. Gaia source_ids). *filled (may be NULL): rows given an id. */
#define MS_JOIN_POSITION_GROUP ((int64_t)1 << 62)
ms_status ms_join_fill_groups(const double *ra, const double *dec, size_t n,
                              double radius_arcsec, int64_t *group, size_t *filled);

/* Angular separation in arcsec (haversine). */
double ms_sky_separation(double ra1, double dec1, double ra2, double dec2);

#endif
