/* test_join.c: the one join of tables to rows (join.h, join_io.h; issue 17 item 5):
 *   - keys: obsid when present, else LMJD-PLANID_spSS-FFF as LAMOST names its files;
 *   - a small table joined by each route (obsid, key, the name built from lmjd/planid/spid/
 *     fiberid, the file name, position) including an ambiguous position and a repeated key;
 *   - the position join against a brute-force reference on random skies (the RA wrap and
 *     a pole included), and the position groups against brute-force friends of friends;
 *   - the same table read from CSV by ms_table_join. */
#include "test_util.h"

#include "mstars/join.h"
#include "mstars/join_io.h"
#include "mstars/mem.h"
#include "mstars/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_keys(void **state)
{
    (void)state;
    char k[MS_KEY_LEN];
    ms_lamost_key(k, sizeof k, "", 55862, "B6212", 6, 3);
    assert_string_equal(k, "55862-B6212_sp06-003");
    ms_lamost_key(k, sizeof k, "3703110", 55877, "B7708", 3, 110);
    assert_string_equal(k, "3703110");
    ms_lamost_key(k, sizeof k, NULL, 58632, "HD201303N115103V01", 11, 247);
    assert_string_equal(k, "58632-HD201303N115103V01_sp11-247");
    ms_lamost_key(k, sizeof k, "", -1, "B6212", 6, 3); /* no LMJD: no key */
    assert_string_equal(k, "");
    ms_lamost_key(k, sizeof k, "", 55862, "", 6, 3);
    assert_string_equal(k, "");
    char small[8]; /* never a truncated key */
    ms_lamost_name(small, sizeof small, 55862, "B6212", 6, 3);
    assert_string_equal(small, "");
    ms_lamost_name_from_file(k, sizeof k, "/data/x/spec-55862-B6212_sp06-003.fits");
    assert_string_equal(k, "55862-B6212_sp06-003");
    ms_lamost_name_from_file(k, sizeof k, "spec-55859-F5902_sp01-001_dr7__253a7858.fits.gz");
    assert_string_equal(k, "55859-F5902_sp01-001");
    ms_lamost_name_from_file(k, sizeof k, "dr10-obsid-3703110.fits");
    assert_string_equal(k, "");
    ms_lamost_name_from_file(k, sizeof k, "spec-abc.fits");
    assert_string_equal(k, "");
    /* 1 arcsec along a meridian, and across RA = 0 at dec 60 (cos 60 = 0.5) */
    assert_close(ms_sky_separation(10, 20, 10, 20 + 1.0 / 3600), 1.0, 1e-9, 0, "meridian");
    assert_close(ms_sky_separation(359.9995, 60, 0.0005, 60), 1.8, 1e-6, 0, "wrap");
}

/* The rows: 0 has an obsid, 1 (DR1) has only its key, 2 has only a LAMOST name that the
 * table gives as lmjd/planid/spid/fiberid, 3 joins by position with two table rows inside
 * 3 arcsec (ambiguous: the nearer is taken), 4 has nothing within 3 arcsec, 5 has an empty
 * key and a NaN position. */
static void test_routes(void **state)
{
    (void)state;
    const char *t_obsid[] = {"111", "", "", "", "", "111"}; /* row 5 repeats 111 */
    const char *t_key[] = {"", "55862-B6212_sp06-003", "56000-P1_sp02-010", "", "", ""};
    const double t_ra[] = {10.0, 20.0, 30.0, 40.0, 40.0 + 2.0 / 3600, 10.0};
    const double t_dec[] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
    const ms_join_side table = {6, t_obsid, t_key, NULL, t_ra, t_dec};
    const char *r_obsid[] = {"111", "", "", "", "", ""};
    const char *r_key[] = {"111", "55862-B6212_sp06-003", "999", "", "", ""};
    const char *r_name[] = {"", "55862-B6212_sp06-003", "56000-P1_sp02-010", "", "", ""};
    const double r_ra[] = {50.0, 50.0, 50.0, 40.0 + 1.5 / 3600, 60.0, NAN};
    const double r_dec[] = {0.0, 0.0, 0.0, 0.0, 0.0, NAN};
    const ms_join_side rows = {6, r_obsid, r_key, r_name, r_ra, r_dec};
    long row[6];
    ms_join_stats s;
    assert_int_equal(ms_join(&table, &rows, 3.0, row, &s), MS_OK);
    assert_int_equal(row[0], 0); /* obsid: the first of the two rows with 111 */
    assert_int_equal(row[1], 1); /* key */
    assert_int_equal(row[2], 2); /* name */
    assert_int_equal(row[3], 4); /* 0.5" from row 4, 1.5" from row 3 */
    assert_int_equal(row[4], -1);
    assert_int_equal(row[5], -1);
    assert_int_equal(s.matched, 4);
    assert_int_equal(s.by_obsid, 1);
    assert_int_equal(s.by_key, 2);
    assert_int_equal(s.by_position, 1);
    assert_int_equal(s.ambiguous, 1);
    assert_int_equal(s.duplicates, 1);
    /* a smaller radius: row 3 is no longer ambiguous */
    assert_int_equal(ms_join(&table, &rows, 1.0, row, &s), MS_OK);
    assert_int_equal(row[3], 4);
    assert_int_equal(s.ambiguous, 0);
    /* without positions, row 3 stays unmatched; a bad radius is refused when needed */
    const ms_join_side no_pos = {6, r_obsid, r_key, r_name, NULL, NULL};
    assert_int_equal(ms_join(&table, &no_pos, 3.0, row, &s), MS_OK);
    assert_int_equal(row[3], -1);
    assert_int_equal(s.matched, 3);
    assert_int_equal(ms_join(&table, &rows, -1.0, row, &s), MS_EINVAL);
    ms_error_clear();
}

/* The same table as a CSV file read by ms_table_join (the name from lmjd..fiberid, the file
 * name, and positions in ra/dec columns). */
static void test_table_file(void **state)
{
    (void)state;
    char path[] = "/tmp/mstars_join_XXXXXX.csv";
    int fd = mkstemps(path, 4);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "obsid,lmjd,planid,spid,fiberid,file,ra,dec,teff\n"
               "111,,,,,,10.0,0.0,3500\n"
               ",55862,B6212,6,3,,20.0,0.0,3600\n"
               ",,,,,/x/spec-56000-P1_sp02-010.fits.gz,30.0,0.0,3700\n"
               ",,,,,,40.0,0.0,3800\n"
               ",,,,,,40.000555556,0.0,3900\n");
    fclose(f);
    ms_join_ids ids;
    assert_int_equal(ms_table_join_ids(path, &ids), MS_OK);
    assert_int_equal(ids.side.n, 5);
    assert_string_equal(ids.key[1], "55862-B6212_sp06-003");
    assert_string_equal(ids.key[2], "56000-P1_sp02-010");
    assert_string_equal(ids.key[0], "");
    assert_non_null(strstr(ids.routes, "position"));
    ms_join_ids_free(&ids);

    ms_join_ids rows;
    memset(&rows, 0, sizeof rows);
    const char *r_obsid[] = {"111", "", "", ""};
    const char *r_key[] = {"111", "55862-B6212_sp06-003", "x", ""};
    const char *r_name[] = {"", "55862-B6212_sp06-003", "56000-P1_sp02-010", ""};
    const double r_ra[] = {0, 0, 0, 40.0 + 1.5 / 3600}, r_dec[] = {0, 0, 0, 0};
    rows.side = (ms_join_side){4, r_obsid, r_key, r_name, r_ra, r_dec};
    long row[4];
    ms_join_stats s;
    assert_int_equal(ms_table_join("test", path, &rows, 3.0, row, &s), MS_OK);
    assert_int_equal(row[0], 0);
    assert_int_equal(row[1], 1);
    assert_int_equal(row[2], 2);
    assert_int_equal(row[3], 4);
    assert_int_equal(s.ambiguous, 1);
    unlink(path);

    /* a table with nothing to join on is refused by name */
    f = fopen(path, "w");
    fprintf(f, "name,teff\na,3500\n");
    fclose(f);
    assert_int_equal(ms_table_join_ids(path, &ids), MS_ENOTFOUND);
    assert_non_null(strstr(ms_error_message(), path));
    ms_error_clear();
    unlink(path);
}

/* Random positions: a band around RA = 0 and a cap at the north pole, where RA differences
 * are large for small separations. */
static double uniform(uint64_t *g)
{
    return (double)(ms_rng_splitmix64(g) >> 11) * 0x1p-53;
}

static void random_sky(uint64_t *g, size_t n, double *ra, double *dec)
{
    for (size_t i = 0; i < n; i++) {
        if (i % 2) {
            ra[i] = fmod(360.0 + (uniform(g) - 0.5) * 0.2, 360.0);
            dec[i] = (uniform(g) - 0.5) * 0.2;
        } else {
            ra[i] = uniform(g) * 360.0;
            dec[i] = 89.95 + uniform(g) * 0.05;
        }
    }
}

static void test_position_brute_force(void **state)
{
    (void)state;
    const size_t m = 3000, n = 2000;
    double *tra = ms_malloc_array("t", 2 * m, sizeof(double)), *tdec = tra + m;
    double *ra = ms_malloc_array("r", 2 * n, sizeof(double)), *dec = ra + n;
    long *row = ms_malloc_array("row", n, sizeof(long));
    double *sep = ms_malloc_array("sep", n, sizeof(double));
    unsigned char *amb = ms_malloc_array("amb", n, 1);
    uint64_t g = 17;
    random_sky(&g, m, tra, tdec);
    random_sky(&g, n, ra, dec);
    const double radius = 20.0; /* arcsec: ~half of the rows have a neighbour */
    assert_int_equal(ms_join_position(tra, tdec, m, ra, dec, n, radius, row, sep, amb), MS_OK);
    size_t matched = 0, ambiguous = 0;
    for (size_t i = 0; i < n; i++) {
        long best = -1;
        double bs = INFINITY;
        size_t within = 0;
        for (size_t j = 0; j < m; j++) {
            double s = ms_sky_separation(ra[i], dec[i], tra[j], tdec[j]);
            if (s > radius) continue;
            within++;
            if (s < bs) bs = s, best = (long)j;
        }
        assert_int_equal(row[i], best);
        assert_int_equal(amb[i], within >= 2);
        if (best >= 0) assert_close(sep[i], bs, 0, 1e-12, "separation");
        matched += best >= 0;
        ambiguous += within >= 2;
    }
    assert_true(matched > n / 10 && matched < n); /* the test can fail both ways */
    assert_true(ambiguous > 0);
    ms_free(tra);
    ms_free(ra);
    ms_free(row);
    ms_free(sep);
    ms_free(amb);
}

static long root(long *p, long x)
{
    while (p[x] != x) x = p[x];
    return x;
}

static void test_groups_brute_force(void **state)
{
    (void)state;
    const size_t n = 1500;
    double *ra = ms_malloc_array("r", 2 * n, sizeof(double)), *dec = ra + n;
    long *group = ms_malloc_array("g", n, sizeof(long)), *p = ms_malloc_array("p", n, sizeof(long));
    uint64_t g = 23;
    random_sky(&g, n, ra, dec);
    dec[7] = NAN; /* no position: a group of its own */
    const double radius = 15.0;
    assert_int_equal(ms_join_group_positions(ra, dec, n, radius, group), MS_OK);
    for (size_t i = 0; i < n; i++) p[i] = (long)i;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (ms_sky_separation(ra[i], dec[i], ra[j], dec[j]) <= radius) {
                long a = root(p, (long)i), b = root(p, (long)j);
                if (a != b) p[a > b ? a : b] = a < b ? a : b;
            }
    size_t multi = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(group[i], root(p, (long)i));
        multi += group[i] != (long)i;
    }
    assert_int_equal(group[7], 7);
    assert_true(multi > 0);
    /* star ids: a source_id kept, the others by position */
    int64_t id[4] = {123456789, -1, -1, -1};
    const double gra[4] = {10, 10, 10 + 1.0 / 3600, 11}, gdec[4] = {0, 0, 0, 0};
    size_t filled = 0;
    assert_int_equal(ms_join_fill_groups(gra, gdec, 4, 3.0, id, &filled), MS_OK);
    assert_int_equal(filled, 3);
    assert_int_equal(id[0], 123456789);
    assert_true(id[1] == id[2] && id[1] != id[3]);
    assert_true(id[1] >= MS_JOIN_POSITION_GROUP);
    ms_free(ra);
    ms_free(group);
    ms_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_table_file),
        cmocka_unit_test(test_position_brute_force),
        cmocka_unit_test(test_groups_brute_force),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
