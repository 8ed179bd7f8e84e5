/* join_io.c: the sides of a join read from tables, stores and catalogs, and the logged join
 * (see join_io.h). */
#include "mstars/join_io.h"
#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/schema.h"
#include "mstars/table.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ms_join_ids_free(ms_join_ids *ids)
{
    ms_free(ids->obsid);
    ms_free(ids->key);
    ms_free(ids->name);
    ms_free(ids->ra);
    ms_free(ids->dec);
    memset(ids, 0, sizeof *ids);
}

/* n empty strings of len bytes: pointers and characters in one allocation. */
static char **strings_alloc(const char *label, size_t n, size_t len)
{
    char **p = ms_calloc(label, 1, (n + 1) * (sizeof(char *) + len));
    if (!p) return NULL;
    char *blob = (char *)(p + n + 1);
    for (size_t i = 0; i < n; i++) p[i] = blob + i * len;
    return p;
}

static void trim(char *s)
{
    size_t a = 0, b = strlen(s);
    while (a < b && isspace((unsigned char)s[a])) a++;
    while (b > a && isspace((unsigned char)s[b - 1])) b--;
    memmove(s, s + a, b - a);
    s[b - a] = '\0';
}

static void set_side(ms_join_ids *ids, size_t n)
{
    ids->side.n = n;
    ids->side.obsid = (const char *const *)ids->obsid;
    ids->side.key = (const char *const *)ids->key;
    ids->side.name = (const char *const *)ids->name;
    ids->side.ra = ids->ra;
    ids->side.dec = ids->dec;
}

static void add_route(ms_join_ids *ids, const char *route)
{
    size_t l = strlen(ids->routes);
    snprintf(ids->routes + l, sizeof ids->routes - l, "%s%s", l ? ", " : "", route);
}

/* ------------------------------------------------------------------ tables */

enum { T_OBSID, T_KEY, T_LMJD, T_PLANID, T_SPID, T_FIBERID, T_FILE, T_FILENAME, T_N };

static long parse_long(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    while (isspace((unsigned char)*end)) end++;
    return end != s && *end == '\0' ? v : -1;
}

ms_status ms_table_join_ids(const char *path, ms_join_ids *ids)
{
    memset(ids, 0, sizeof *ids);
    static const char *const names[T_N] = {"obsid", "key",     "lmjd", "planid",
                                           "spid",  "fiberid", "file", "filename"};
    ms_strlist col[T_N];
    int present[T_N];
    size_t n = 0;
    MS_TRY(ms_table_read_text(path, names, T_N, col, present, &n));
    ms_table pos;
    static const char *const radec[2] = {"ra", "dec"};
    ms_status st = ms_table_read(path, NULL, radec, 2, &pos);
    if (st == MS_OK && pos.n_rows != n)
        st = ms_error_set(MS_EFORMAT, __FILE__, __LINE__, "%s: %zu rows then %zu", path, n,
                          pos.n_rows);
    const int by_name = present[T_LMJD] && present[T_PLANID] && present[T_SPID] &&
                        present[T_FIBERID];
    const int by_file = present[T_FILE] || present[T_FILENAME];
    if (st == MS_OK && present[T_OBSID]) {
        ids->obsid = strings_alloc("join.t.obsid", n, 32);
        if (!ids->obsid) st = MS_ENOMEM;
        for (size_t r = 0; st == MS_OK && r < n; r++)
            snprintf(ids->obsid[r], 32, "%s", col[T_OBSID].items[r]);
        if (st == MS_OK) add_route(ids, "obsid");
    }
    if (st == MS_OK && (present[T_KEY] || by_name || by_file)) {
        ids->key = strings_alloc("join.t.key", n, MS_KEY_LEN);
        if (!ids->key) st = MS_ENOMEM;
        for (size_t r = 0; st == MS_OK && r < n; r++) { /* the first of key, name, file name */
            char *k = ids->key[r];
            if (present[T_KEY]) snprintf(k, MS_KEY_LEN, "%s", col[T_KEY].items[r]);
            if (!k[0] && by_name)
                ms_lamost_name(k, MS_KEY_LEN, parse_long(col[T_LMJD].items[r]),
                               col[T_PLANID].items[r], parse_long(col[T_SPID].items[r]),
                               parse_long(col[T_FIBERID].items[r]));
            if (!k[0] && by_file)
                ms_lamost_name_from_file(k, MS_KEY_LEN, col[present[T_FILE] ? T_FILE
                                                                            : T_FILENAME].items[r]);
        }
        if (st == MS_OK)
            add_route(ids, present[T_KEY] ? "key"
                           : by_name       ? "key (lmjd/planid/spid/fiberid)"
                                           : "key (LAMOST file name)");
    }
    if (st == MS_OK && pos.present[0] && pos.present[1]) {
        ids->ra = ms_malloc_array("join.t.ra", n + 1, sizeof *ids->ra);
        ids->dec = ms_malloc_array("join.t.dec", n + 1, sizeof *ids->dec);
        if (!ids->ra || !ids->dec) st = MS_ENOMEM;
        if (st == MS_OK) {
            memcpy(ids->ra, ms_table_column(&pos, 0), n * sizeof *ids->ra);
            memcpy(ids->dec, ms_table_column(&pos, 1), n * sizeof *ids->dec);
            add_route(ids, "position");
        }
    }
    if (st == MS_OK && !ids->routes[0])
        st = ms_error_set(MS_ENOTFOUND, __FILE__, __LINE__,
                          "%s: nothing to join on: no column obsid, key, lmjd+planid+spid+"
                          "fiberid, file or ra+dec", path);
    for (int c = 0; c < T_N; c++) ms_strlist_free(&col[c]);
    ms_table_free(&pos);
    if (st != MS_OK) {
        ms_join_ids_free(ids);
        return st;
    }
    set_side(ids, n);
    return MS_OK;
}

/* ----------------------------------------------------------- stores, catalogs */

/* A string dataset of n rows into a new string array of len bytes per row (trimmed). */
static ms_status read_text(ms_h5 *f, const char *name, size_t n, size_t len, char ***out)
{
    char **raw = NULL;
    MS_TRY(ms_h5_read_strings(f, name, n, &raw));
    char **s = strings_alloc("join.text", n, len);
    if (!s) {
        ms_free(raw);
        return MS_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        snprintf(s[i], len, "%s", raw[i]);
        trim(s[i]);
    }
    ms_free(raw);
    *out = s;
    return MS_OK;
}

static ms_status read_f64(ms_h5 *f, const char *name, size_t n, double **out)
{
    double *v = ms_malloc_array("join.f64", n + 1, sizeof *v);
    if (!v) return MS_ENOMEM;
    ms_status st = ms_h5_read_rows(f, name, MS_H5_F64, 0, 0, n, v);
    if (st != MS_OK) {
        ms_free(v);
        return st;
    }
    *out = v;
    return MS_OK;
}

ms_status ms_store_join_ids(ms_h5 *f, size_t n, ms_join_ids *ids)
{
    memset(ids, 0, sizeof *ids);
    int64_t *lmjd = ms_malloc_array("join.lmjd", n + 1, sizeof *lmjd);
    int32_t *spid = ms_malloc_array("join.spid", n + 1, sizeof *spid);
    int32_t *fib = ms_malloc_array("join.fib", n + 1, sizeof *fib);
    char **planid = NULL;
    ms_status st = lmjd && spid && fib ? MS_OK : MS_ENOMEM;
    if (st == MS_OK) st = read_text(f, MS_META_OBSID, n, 32, &ids->obsid);
    if (st == MS_OK) st = ms_h5_read_rows(f, MS_META_LMJD, MS_H5_I64, 0, 0, n, lmjd);
    if (st == MS_OK) st = ms_h5_read_rows(f, MS_META_SPID, MS_H5_I32, 0, 0, n, spid);
    if (st == MS_OK) st = ms_h5_read_rows(f, MS_META_FIBERID, MS_H5_I32, 0, 0, n, fib);
    if (st == MS_OK) st = read_text(f, MS_META_PLANID, n, 48, &planid);
    if (st == MS_OK) {
        ids->name = strings_alloc("join.name", n, MS_KEY_LEN);
        if (!ids->name) st = MS_ENOMEM;
    }
    for (size_t i = 0; st == MS_OK && i < n; i++)
        ms_lamost_name(ids->name[i], MS_KEY_LEN, (long)lmjd[i], planid[i], spid[i], fib[i]);
    if (st == MS_OK && ms_h5_exists(f, MS_META_KEY)) {
        st = read_text(f, MS_META_KEY, n, MS_KEY_LEN, &ids->key);
    } else if (st == MS_OK) { /* a store made before /meta/key */
        ids->key = strings_alloc("join.key", n, MS_KEY_LEN);
        if (!ids->key) st = MS_ENOMEM;
        for (size_t i = 0; st == MS_OK && i < n; i++)
            ms_lamost_key(ids->key[i], MS_KEY_LEN, ids->obsid[i], (long)lmjd[i], planid[i],
                          spid[i], fib[i]);
    }
    if (st == MS_OK) st = read_f64(f, MS_META_RA, n, &ids->ra);
    if (st == MS_OK) st = read_f64(f, MS_META_DEC, n, &ids->dec);
    ms_free(lmjd);
    ms_free(spid);
    ms_free(fib);
    ms_free(planid);
    if (st != MS_OK) {
        ms_join_ids_free(ids);
        return st;
    }
    snprintf(ids->routes, sizeof ids->routes, "obsid, key, position");
    set_side(ids, n);
    return MS_OK;
}

ms_status ms_store_read_keys(ms_h5 *f, size_t row0, size_t n, char (*key)[MS_KEY_LEN])
{
    if (ms_h5_exists(f, MS_META_KEY)) {
        MS_TRY(ms_h5_read_rows(f, MS_META_KEY, MS_H5_STR, MS_KEY_LEN, row0, n, key));
        for (size_t i = 0; i < n; i++) key[i][MS_KEY_LEN - 1] = '\0';
        return MS_OK;
    }
    char(*obsid)[32] = ms_malloc_array("keys.obsid", n + 1, sizeof *obsid);
    char(*planid)[48] = ms_malloc_array("keys.planid", n + 1, sizeof *planid);
    int64_t *lmjd = ms_malloc_array("keys.lmjd", n + 1, sizeof *lmjd);
    int32_t *spid = ms_malloc_array("keys.spid", 2 * n + 1, sizeof *spid);
    ms_status st = obsid && planid && lmjd && spid ? MS_OK : MS_ENOMEM;
    if (st == MS_OK) st = ms_h5_read_rows(f, MS_META_OBSID, MS_H5_STR, 32, row0, n, obsid);
    if (st == MS_OK) st = ms_h5_read_rows(f, MS_META_PLANID, MS_H5_STR, 48, row0, n, planid);
    if (st == MS_OK) st = ms_h5_read_rows(f, MS_META_LMJD, MS_H5_I64, 0, row0, n, lmjd);
    if (st == MS_OK) st = ms_h5_read_rows(f, MS_META_SPID, MS_H5_I32, 0, row0, n, spid);
    if (st == MS_OK) st = ms_h5_read_rows(f, MS_META_FIBERID, MS_H5_I32, 0, row0, n, spid + n);
    for (size_t i = 0; st == MS_OK && i < n; i++) {
        obsid[i][31] = planid[i][47] = '\0';
        trim(obsid[i]);
        trim(planid[i]);
        ms_lamost_key(key[i], MS_KEY_LEN, obsid[i], (long)lmjd[i], planid[i], spid[i],
                      spid[n + i]);
    }
    ms_free(obsid);
    ms_free(planid);
    ms_free(lmjd);
    ms_free(spid);
    return st;
}

ms_status ms_catalog_join_ids(ms_h5 *f, size_t n, ms_join_ids *ids)
{
    memset(ids, 0, sizeof *ids);
    ms_status st = MS_OK;
    if (ms_h5_exists(f, MS_COL_OBSID)) {
        st = read_text(f, MS_COL_OBSID, n, 32, &ids->obsid);
        if (st == MS_OK) add_route(ids, "obsid");
    }
    if (st == MS_OK && ms_h5_exists(f, MS_COL_KEY)) {
        st = read_text(f, MS_COL_KEY, n, MS_KEY_LEN, &ids->key);
        if (st == MS_OK) add_route(ids, "key");
    }
    if (st == MS_OK && ms_h5_exists(f, MS_COL_RA) && ms_h5_exists(f, MS_COL_DEC)) {
        st = read_f64(f, MS_COL_RA, n, &ids->ra);
        if (st == MS_OK) st = read_f64(f, MS_COL_DEC, n, &ids->dec);
        if (st == MS_OK) add_route(ids, "position");
    }
    if (st == MS_OK && !ids->routes[0])
        st = ms_error_set(MS_ENOTFOUND, __FILE__, __LINE__,
                          "%s has none of the columns %s, %s, %s+%s to join a table on",
                          ms_h5_path(f), MS_COL_OBSID, MS_COL_KEY, MS_COL_RA, MS_COL_DEC);
    if (st != MS_OK) {
        ms_join_ids_free(ids);
        return st;
    }
    set_side(ids, n);
    return MS_OK;
}

ms_status ms_catalog_read_groups(ms_h5 *f, const char *name, size_t n, double radius_arcsec,
                                 int64_t **group, size_t *filled)
{
    *group = NULL;
    *filled = 0;
    char path[128];
    snprintf(path, sizeof path, MS_CATALOG_GROUP "/%s", name);
    const int has_pos = ms_h5_exists(f, MS_COL_RA) && ms_h5_exists(f, MS_COL_DEC);
    const int has_col = ms_h5_exists(f, path);
    if (!has_col && !(has_pos && strcmp(name, "source_id") == 0))
        MS_ERROR(MS_ENOTFOUND, "%s has no column %s to group repeat observations by (--group-by)",
                 ms_h5_path(f), name);
    if (has_col) {
        ms_h5_type t;
        size_t sl;
        MS_TRY(ms_h5_dset_type(f, path, &t, &sl));
        if (t != MS_H5_I32 && t != MS_H5_I64 && t != MS_H5_U8 && t != MS_H5_U32)
            MS_ERROR(MS_EINVAL, "%s: --group-by %s: the column is not an integer column (star "
                     "ids such as source_id)", ms_h5_path(f), name);
    }
    int64_t *g = ms_malloc_array("groups", n + 1, sizeof *g);
    if (!g) return MS_ENOMEM;
    ms_status st = MS_OK;
    if (has_col)
        st = ms_h5_read_rows(f, path, MS_H5_I64, 0, 0, n, g);
    else
        for (size_t i = 0; i < n; i++) g[i] = -1;
    double *ra = NULL, *dec = NULL;
    if (st == MS_OK && has_pos) {
        st = read_f64(f, MS_COL_RA, n, &ra);
        if (st == MS_OK) st = read_f64(f, MS_COL_DEC, n, &dec);
        if (st == MS_OK) st = ms_join_fill_groups(ra, dec, n, radius_arcsec, g, filled);
    }
    ms_free(ra);
    ms_free(dec);
    if (st != MS_OK) {
        ms_free(g);
        return st;
    }
    *group = g;
    return MS_OK;
}

/* ------------------------------------------------------------------- the join */

ms_status ms_table_join(const char *who, const char *path, const ms_join_ids *rows,
                        double radius_arcsec, long *row, ms_join_stats *stats)
{
    ms_join_ids t;
    MS_TRY(ms_table_join_ids(path, &t));
    ms_join_stats s;
    ms_status st = ms_join(&t.side, &rows->side, radius_arcsec, row, &s);
    if (st == MS_OK) {
        ms_log_info("%s: %s (%zu rows; joins by %s): %zu of %zu rows joined: %zu by obsid, %zu "
                    "by key, %zu by position within %.3g arcsec", who, path, t.side.n, t.routes,
                    s.matched, rows->side.n, s.by_obsid, s.by_key, s.by_position, radius_arcsec);
        if (s.ambiguous)
            ms_log_warn("%s: %s: %zu rows had two or more table rows within %.3g arcsec "
                        "(ambiguous: the nearest was taken)", who, path, s.ambiguous,
                        radius_arcsec);
        if (s.duplicates)
            ms_log_warn("%s: %s: %zu table rows repeat an obsid or key of an earlier row (the "
                        "first is used)", who, path, s.duplicates);
    }
    if (stats) *stats = s;
    ms_join_ids_free(&t);
    return st;
}
