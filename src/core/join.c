/* join.c: keys of LAMOST spectra and the joins of tables to rows by obsid, key or position
 * (see join.h). */
#include "mstars/join.h"
#include "mstars/mem.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEG (M_PI / 180.0)
#define ARCSEC_PER_DEG 3600.0

void ms_lamost_name(char *buf, size_t len, long lmjd, const char *planid, long spid,
                    long fiberid)
{
    if (!len) return;
    buf[0] = '\0';
    if (lmjd < 0 || !planid || !planid[0] || spid < 0 || fiberid < 0) return;
    /* spec-{LMJD}-{PLANID}_sp{SPID:02d}-{FIBERID:03d}.fits without "spec-" and ".fits" */
    int w = snprintf(buf, len, "%ld-%s_sp%02ld-%03ld", lmjd, planid, spid, fiberid);
    if (w < 0 || (size_t)w >= len) buf[0] = '\0'; /* never a truncated, ambiguous key */
}

void ms_lamost_key(char *buf, size_t len, const char *obsid, long lmjd, const char *planid,
                   long spid, long fiberid)
{
    if (!len) return;
    if (obsid && obsid[0]) {
        int w = snprintf(buf, len, "%s", obsid);
        if (w >= 0 && (size_t)w < len) return;
    }
    ms_lamost_name(buf, len, lmjd, planid, spid, fiberid);
}

void ms_lamost_name_from_file(char *buf, size_t len, const char *file)
{
    if (!len) return;
    buf[0] = '\0';
    if (!file) return;
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    while (isspace((unsigned char)*base)) base++;
    if (strncmp(base, "spec-", 5) != 0) return;
    const char *s = base + 5;
    /* LMJD digits, '-', PLANID (up to "_sp"), "_sp" SS '-' FFF */
    char *end;
    long lmjd = strtol(s, &end, 10);
    if (end == s || *end != '-') return;
    const char *plan = end + 1, *sp = strstr(plan, "_sp");
    if (!sp || sp == plan) return;
    /* the last "_sp" before the fibre: PLANIDs do not contain "_sp" but be safe */
    for (const char *q = strstr(sp + 1, "_sp"); q; q = strstr(q + 1, "_sp")) sp = q;
    long spid = strtol(sp + 3, &end, 10);
    if (end == sp + 3 || *end != '-') return;
    const char *fib = end + 1;
    long fiberid = strtol(fib, &end, 10);
    if (end == fib) return;
    char planid[64];
    size_t pl = (size_t)(sp - plan);
    if (pl >= sizeof planid) return;
    memcpy(planid, plan, pl);
    planid[pl] = '\0';
    ms_lamost_name(buf, len, lmjd, planid, spid, fiberid);
}

double ms_sky_separation(double ra1, double dec1, double ra2, double dec2)
{
    double sd = sin(0.5 * (dec2 - dec1) * DEG), sr = sin(0.5 * (ra2 - ra1) * DEG);
    double h = sd * sd + cos(dec1 * DEG) * cos(dec2 * DEG) * sr * sr;
    if (h > 1) h = 1;
    return 2.0 * asin(sqrt(h)) / DEG * ARCSEC_PER_DEG;
}

/* ------------------------------------------------------------------- keys */

typedef struct {
    const char *key;
    size_t row;
} keyed;

static int cmp_keyed(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->row > y->row) - (x->row < y->row);
}

/* The non-empty keys of m table rows, sorted (key, row); *mk of them; *dup repeats. */
static keyed *sorted_keys(const char *const *table_keys, size_t m, size_t *mk, size_t *dup)
{
    keyed *k = ms_malloc_array("join.keys", m + 1, sizeof *k);
    if (!k) return NULL;
    size_t n = 0;
    for (size_t r = 0; r < m; r++)
        if (table_keys[r] && table_keys[r][0]) k[n++] = (keyed){table_keys[r], r};
    qsort(k, n, sizeof *k, cmp_keyed);
    *dup = 0;
    for (size_t r = 1; r < n; r++) *dup += strcmp(k[r].key, k[r - 1].key) == 0;
    *mk = n;
    return k;
}

/* The lowest table row with key q, or -1. */
static long find_key(const keyed *k, size_t mk, const char *q)
{
    if (!q || !q[0]) return -1;
    size_t lo = 0, hi = mk; /* the first sorted key >= q: the lowest row of that key */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(k[mid].key, q) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < mk && strcmp(k[lo].key, q) == 0 ? (long)k[lo].row : -1;
}

ms_status ms_join_keys(const char *const *table_keys, size_t m, const char *const *keys,
                       size_t n, long *row, size_t *duplicates)
{
    size_t mk = 0, dup = 0;
    keyed *k = sorted_keys(table_keys, m, &mk, &dup);
    if (!k) return MS_ENOMEM;
    if (duplicates) *duplicates = dup;
    for (size_t i = 0; i < n; i++) row[i] = find_key(k, mk, keys[i]);
    ms_free(k);
    return MS_OK;
}

/* --------------------------------------------------------------- positions */

/* The zones algorithm (Gray, Nieto-Santisteban & Szalay 2006, "The Zones Algorithm for Finding
 * Points-Near-a-Point or Cross-Matching Spatial Datasets", MSR-TR-2006-52): declination zones one
 * radius high, positions sorted by (zone, RA); the neighbours of a point lie in its zone and the
 * two beside it, within an RA window of asin(sin r / cos dec) (the whole zone near a pole), so
 * a query reads the few positions of three RA windows instead of a whole declination band. */
typedef struct {
    int64_t zone;
    double ra, dec; /* ra in [0, 360) */
    size_t row;
} pos;

typedef struct {
    pos *p;
    size_t n;
    double h; /* zone height, deg (= the radius) */
} zones;

static double norm_ra(double ra)
{
    double r = fmod(ra, 360.0);
    return r < 0 ? r + 360.0 : r;
}

static int64_t zone_of(const zones *z, double dec)
{
    return (int64_t)floor((dec + 90.0) / z->h);
}

static int cmp_pos(const void *a, const void *b)
{
    const pos *x = a, *y = b;
    if (x->zone != y->zone) return (x->zone > y->zone) - (x->zone < y->zone);
    if (x->ra != y->ra) return (x->ra > y->ra) - (x->ra < y->ra);
    return (x->row > y->row) - (x->row < y->row);
}

static ms_status check_radius(double radius_arcsec)
{
    if (!(radius_arcsec > 0) || !isfinite(radius_arcsec))
        MS_ERROR(MS_EINVAL, "join: the match radius must be a positive number of arcsec (got %g; "
                            "config key join.radius_arcsec)", radius_arcsec);
    return MS_OK;
}

/* The table's finite positions in zones of radius_arcsec. */
static ms_status zones_build(zones *z, const double *ra, const double *dec, size_t m,
                             double radius_arcsec)
{
    memset(z, 0, sizeof *z);
    MS_TRY(check_radius(radius_arcsec));
    z->h = radius_arcsec / ARCSEC_PER_DEG;
    z->p = ms_malloc_array("join.pos", m + 1, sizeof *z->p);
    if (!z->p) return MS_ENOMEM;
    for (size_t r = 0; r < m; r++)
        if (isfinite(ra[r]) && isfinite(dec[r]))
            z->p[z->n++] = (pos){zone_of(z, dec[r]), norm_ra(ra[r]), dec[r], r};
    qsort(z->p, z->n, sizeof *z->p, cmp_pos);
    return MS_OK;
}

/* First sorted position >= (zone, ra). */
static size_t lower(const zones *z, int64_t zone, double ra)
{
    size_t lo = 0, hi = z->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const pos *q = &z->p[mid];
        if (q->zone < zone || (q->zone == zone && q->ra < ra))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Calls visit(ctx, table position, separation) for every position within radius_arcsec of
 * (ra, dec) (radius_arcsec <= the zone height). */
typedef void (*visit_fn)(void *ctx, const pos *q, double sep);
static void zones_visit(const zones *z, double ra, double dec, double radius_arcsec, visit_fn visit,
                        void *ctx)
{
    if (!isfinite(ra) || !isfinite(dec)) return;
    ra = norm_ra(ra);
    const double r = radius_arcsec / ARCSEC_PER_DEG, dmax = fabs(dec) + r;
    /* the RA half-width (with a margin for rounding), or the whole zone near a pole */
    double dra = 360.0;
    if (dmax < 89.999) {
        double s = sin(r * DEG) / cos(dmax * DEG);
        if (s < 1) dra = asin(s) / DEG * (1 + 1e-9) + 1e-12;
    }
    double win[2][2];
    int n_win = 0;
    if (dra >= 180.0) {
        win[n_win][0] = 0, win[n_win][1] = 360.0, n_win++;
    } else if (ra - dra < 0) {
        win[n_win][0] = 0, win[n_win][1] = ra + dra, n_win++;
        win[n_win][0] = ra - dra + 360.0, win[n_win][1] = 360.0, n_win++;
    } else if (ra + dra >= 360.0) {
        win[n_win][0] = ra - dra, win[n_win][1] = 360.0, n_win++;
        win[n_win][0] = 0, win[n_win][1] = ra + dra - 360.0, n_win++;
    } else {
        win[n_win][0] = ra - dra, win[n_win][1] = ra + dra, n_win++;
    }
    const int64_t zq = zone_of(z, dec);
    for (int64_t zone = zq - 1; zone <= zq + 1; zone++)
        for (int w = 0; w < n_win; w++)
            for (size_t j = lower(z, zone, win[w][0]);
                 j < z->n && z->p[j].zone == zone && z->p[j].ra <= win[w][1]; j++) {
                double s = ms_sky_separation(ra, dec, z->p[j].ra, z->p[j].dec);
                if (s <= radius_arcsec) visit(ctx, &z->p[j], s);
            }
}

typedef struct {
    size_t within;
    double best;
    long row;
} nearest;

static void visit_nearest(void *ctx, const pos *q, double sep)
{
    nearest *b = ctx;
    b->within++;
    if (sep < b->best || (sep == b->best && (long)q->row < b->row)) {
        b->best = sep;
        b->row = (long)q->row;
    }
}

/* The nearest position within radius of (ra, dec) (ties: the lower row), or -1; *within: how
 * many are within the radius. */
static long find_nearest(const zones *z, double ra, double dec, double radius_arcsec,
                         double *sep, size_t *within)
{
    nearest b = {0, INFINITY, -1};
    zones_visit(z, ra, dec, radius_arcsec, visit_nearest, &b);
    *within = b.within;
    *sep = b.row >= 0 ? b.best : NAN;
    return b.row;
}

ms_status ms_join_position(const double *table_ra, const double *table_dec, size_t m,
                           const double *ra, const double *dec, size_t n, double radius_arcsec,
                           long *row, double *sep, unsigned char *ambiguous)
{
    zones z;
    MS_TRY(zones_build(&z, table_ra, table_dec, m, radius_arcsec));
    for (size_t i = 0; i < n; i++) {
        size_t within;
        double s;
        row[i] = find_nearest(&z, ra[i], dec[i], radius_arcsec, &s, &within);
        if (sep) sep[i] = s;
        if (ambiguous) ambiguous[i] = within >= 2;
    }
    ms_free(z.p);
    return MS_OK;
}

/* ------------------------------------------------------------ the cascade */

struct ms_join_index {
    keyed *obsid, *key;
    size_t n_obsid, n_key;
    zones pos;     /* pos.p NULL: no positions */
    double radius; /* arcsec, the zone height */
    size_t duplicates;
};

void ms_join_index_free(ms_join_index *ix)
{
    if (!ix) return;
    ms_free(ix->obsid);
    ms_free(ix->key);
    ms_free(ix->pos.p);
    ms_free(ix);
}

ms_status ms_join_index_build(const ms_join_side *table, double radius_arcsec,
                              ms_join_index **out)
{
    *out = NULL;
    ms_join_index *ix = ms_calloc("join.index", 1, sizeof *ix);
    if (!ix) return MS_ENOMEM;
    size_t dup = 0;
    ms_status st = MS_OK;
    if (table->obsid) {
        ix->obsid = sorted_keys(table->obsid, table->n, &ix->n_obsid, &dup);
        ix->duplicates += dup;
        if (!ix->obsid) st = MS_ENOMEM;
    }
    if (st == MS_OK && table->key) {
        ix->key = sorted_keys(table->key, table->n, &ix->n_key, &dup);
        ix->duplicates += dup;
        if (!ix->key) st = MS_ENOMEM;
    }
    ix->radius = radius_arcsec;
    if (st == MS_OK && table->ra && table->dec)
        st = zones_build(&ix->pos, table->ra, table->dec, table->n, radius_arcsec);
    if (st != MS_OK) {
        ms_join_index_free(ix);
        return st;
    }
    *out = ix;
    return MS_OK;
}

ms_status ms_join_lookup(const ms_join_index *ix, const ms_join_side *rows, double radius_arcsec,
                         long *row, ms_join_stats *stats)
{
    ms_join_stats s;
    memset(&s, 0, sizeof s);
    s.duplicates = ix->duplicates;
    const int by_pos = ix->pos.p && rows->ra && rows->dec;
    if (by_pos) MS_TRY(check_radius(radius_arcsec));
    if (by_pos && radius_arcsec > ix->radius)
        MS_ERROR(MS_EINVAL, "join: a radius of %g arcsec on an index built for %g", radius_arcsec,
                 ix->radius);
    for (size_t i = 0; i < rows->n; i++) {
        long r = -1;
        /* 1. obsid */
        if (ix->obsid && rows->obsid) r = find_key(ix->obsid, ix->n_obsid, rows->obsid[i]);
        if (r >= 0) {
            s.by_obsid++;
        } else if (ix->key) { /* 2. the key, against the row's key and then its name */
            if (rows->key) r = find_key(ix->key, ix->n_key, rows->key[i]);
            if (r < 0 && rows->name) r = find_key(ix->key, ix->n_key, rows->name[i]);
            s.by_key += r >= 0;
        }
        if (r < 0 && by_pos) { /* 3. position */
            size_t within;
            double sep;
            r = find_nearest(&ix->pos, rows->ra[i], rows->dec[i], radius_arcsec, &sep, &within);
            s.by_position += r >= 0;
            s.ambiguous += within >= 2;
        }
        row[i] = r;
        s.matched += r >= 0;
    }
    if (stats) *stats = s;
    return MS_OK;
}

ms_status ms_join(const ms_join_side *table, const ms_join_side *rows, double radius_arcsec,
                  long *row, ms_join_stats *stats)
{
    ms_join_index *ix;
    const int by_pos = table->ra && table->dec && rows->ra && rows->dec;
    MS_TRY(ms_join_index_build(by_pos ? table : &(ms_join_side){table->n, table->obsid,
                                                                 table->key, NULL, NULL, NULL},
                               radius_arcsec, &ix));
    ms_status st = ms_join_lookup(ix, rows, radius_arcsec, row, stats);
    ms_join_index_free(ix);
    return st;
}

/* --------------------------------------------------------------- grouping */

static size_t find_root(size_t *parent, size_t x)
{
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

typedef struct {
    size_t *parent;
    size_t self;
} fof;

static void visit_union(void *ctx, const pos *q, double sep)
{
    (void)sep;
    fof *f = ctx;
    size_t x = find_root(f->parent, f->self), y = find_root(f->parent, q->row);
    if (x != y) { /* the root is the lowest row of the group */
        if (x < y)
            f->parent[y] = x;
        else
            f->parent[x] = y;
    }
}

ms_status ms_join_group_positions(const double *ra, const double *dec, size_t n,
                                  double radius_arcsec, long *group)
{
    zones z;
    MS_TRY(zones_build(&z, ra, dec, n, radius_arcsec));
    size_t *parent = ms_malloc_array("join.parent", n + 1, sizeof *parent);
    if (!parent) {
        ms_free(z.p);
        return MS_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) parent[i] = i;
    fof f = {parent, 0};
    for (size_t i = 0; i < n; i++) {
        f.self = i;
        zones_visit(&z, ra[i], dec[i], radius_arcsec, visit_union, &f);
    }
    for (size_t i = 0; i < n; i++) group[i] = (long)find_root(parent, i);
    ms_free(z.p);
    ms_free(parent);
    return MS_OK;
}

ms_status ms_join_fill_groups(const double *ra, const double *dec, size_t n,
                              double radius_arcsec, int64_t *group, size_t *filled)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) m += group[i] < 0 && isfinite(ra[i]) && isfinite(dec[i]);
    if (filled) *filled = m;
    if (!m) return MS_OK;
    size_t *idx = ms_malloc_array("join.fill.idx", m, sizeof *idx);
    double *pr = ms_malloc_array("join.fill.ra", 2 * m, sizeof *pr);
    long *g = ms_malloc_array("join.fill.g", m, sizeof *g);
    ms_status st = idx && pr && g ? MS_OK : MS_ENOMEM;
    for (size_t i = 0, k = 0; st == MS_OK && i < n; i++)
        if (group[i] < 0 && isfinite(ra[i]) && isfinite(dec[i])) {
            idx[k] = i;
            pr[k] = ra[i];
            pr[m + k] = dec[i];
            k++;
        }
    if (st == MS_OK) st = ms_join_group_positions(pr, pr + m, m, radius_arcsec, g);
    for (size_t k = 0; st == MS_OK && k < m; k++)
        group[idx[k]] = MS_JOIN_POSITION_GROUP + (int64_t)idx[g[k]];
    ms_free(idx);
    ms_free(pr);
    ms_free(g);
    return st;
}
