/* test_export.c: `mstars export` functions: a small catalog-like HDF5 file with a column of
 * every type is exported in blocks smaller than the catalog and read back (FITS with
 * cfitsio: names, forms, units, descriptions, values, header keywords; CSV as text). */
#include "test_util.h"

#include "mstars/config.h"
#include "mstars/export.h"
#include "mstars/h5.h"
#include "mstars/mem.h"

#include <fitsio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NROWS 7

static char catalog[512];

static void make_catalog(const char *path)
{
    ms_h5 *f;
    assert_int_equal(ms_h5_create(path, 0, &f), MS_OK);
    size_t n = NROWS;
    float teff[NROWS] = {3500.5f, NAN, 3100.25f, 2900.0f, 4000.0f, 3333.0f, -1.5f};
    double ra[NROWS] = {10.123456789012345, 20.5, -0.0, 359.999999999, 1e-300, NAN, 180.0};
    int32_t spid[NROWS] = {1, -2, 3, 2147483647, 0, 16, -2147483647};
    int64_t obsid[NROWS] = {INT64_C(9007199254740993), 2, 3, -4, 5, 6, INT64_C(-9007199254740993)};
    uint8_t act[NROWS] = {0, 1, 255, 0, 1, 0, 1};
    uint32_t flags[NROWS] = {0, 1, 4000000000u, 7, 8, 9, 10};
    char spt[NROWS][6] = {"M3.5", "K7", "", "M0", "a,b", "q\"t", "M7"};
    assert_int_equal(ms_h5_write_array(f, "/catalog/teff", MS_H5_F32, 0, 1, &n, teff, "K",
                                       "effective temperature"), MS_OK);
    assert_int_equal(ms_h5_write_array(f, "/catalog/ra", MS_H5_F64, 0, 1, &n, ra, "deg",
                                       "right ascension (J2000)"), MS_OK);
    assert_int_equal(ms_h5_write_array(f, "/catalog/spid", MS_H5_I32, 0, 1, &n, spid, "",
                                       "spectrograph"), MS_OK);
    assert_int_equal(ms_h5_write_array(f, "/catalog/obsid", MS_H5_I64, 0, 1, &n, obsid, "",
                                       "LAMOST observation id"), MS_OK);
    assert_int_equal(ms_h5_write_array(f, "/catalog/activity", MS_H5_U8, 0, 1, &n, act, "",
                                       ""), MS_OK);
    assert_int_equal(ms_h5_write_array(f, "/catalog/flags", MS_H5_U32, 0, 1, &n, flags, "",
                                       "quality flags"), MS_OK);
    assert_int_equal(ms_h5_write_array(f, "/catalog/spt", MS_H5_STR, 6, 1, &n, spt, "",
                                       "spectral type from TiO5"), MS_OK);
    /* a 2-D dataset in the group is skipped; other groups are ignored */
    size_t d2[2] = {NROWS, 2};
    double m[2 * NROWS] = {0};
    assert_int_equal(ms_h5_write_array(f, "/catalog/cov", MS_H5_F64, 0, 2, d2, m, "", "2-D"),
                     MS_OK);
    assert_int_equal(ms_h5_write_array(f, "/meta/other", MS_H5_F64, 0, 1, &n, ra, "", "x"),
                     MS_OK);
    ms_config cfg;
    assert_int_equal(ms_config_defaults(&cfg), MS_OK);
    assert_int_equal(ms_h5_write_provenance(f, &cfg, "mstars fit --test"), MS_OK);
    char longv[300];
    memset(longv, 'x', sizeof longv - 1);
    longv[sizeof longv - 1] = '\0';
    assert_int_equal(ms_h5_attr_set_str(f, "/", "emulator_hash", longv), MS_OK);
    memset(longv, 'y', sizeof longv - 1);
    assert_int_equal(ms_h5_attr_set_str(f, "/", "long_attribute_name", longv), MS_OK);
    double cuts[3] = {1.5, 2.5, NAN};
    assert_int_equal(ms_h5_attr_set_f64(f, "/", "cuts", cuts, 3), MS_OK);
    assert_int_equal(ms_h5_commit(f), MS_OK);
}

static int setup(void **state)
{
    (void)state;
    snprintf(catalog, sizeof catalog, "%s/catalog.h5", ms_test_tmpdir());
    make_catalog(catalog);
    return 0;
}

static void test_h5_listing(void **state)
{
    (void)state;
    ms_h5 *f;
    assert_int_equal(ms_h5_open_read(catalog, 0, &f), MS_OK);
    ms_strlist l;
    assert_int_equal(ms_h5_list(f, "/catalog", &l), MS_OK);
    assert_int_equal(l.n, 8);
    assert_string_equal(l.items[0], "activity");
    assert_string_equal(l.items[7], "teff");
    ms_strlist_free(&l);
    assert_int_equal(ms_h5_list(f, "/nope", &l), MS_ENOTFOUND);
    ms_h5_type t;
    size_t sl;
    assert_int_equal(ms_h5_dset_type(f, "/catalog/spt", &t, &sl), MS_OK);
    assert_int_equal(t, MS_H5_STR);
    assert_int_equal(sl, 6);
    assert_int_equal(ms_h5_dset_type(f, "/catalog/flags", &t, &sl), MS_OK);
    assert_int_equal(t, MS_H5_U32);
    assert_int_equal(ms_h5_attr_list(f, "/", &l), MS_OK);
    assert_true(l.n >= 9);
    ms_strlist_free(&l);
    assert_int_equal(ms_h5_attr_class(f, "/", "created"), 's');
    assert_int_equal(ms_h5_attr_class(f, "/", "ranks"), 'i');
    assert_int_equal(ms_h5_attr_class(f, "/", "cuts"), 'f');
    assert_int_equal(ms_h5_attr_class(f, "/", "absent"), 0);
    assert_int_equal(ms_h5_close(f), MS_OK);
}

static void check_key_str(fitsfile *fp, const char *key, const char *want)
{
    int st = 0;
    char *v = NULL;
    fits_read_key_longstr(fp, key, &v, NULL, &st);
    assert_int_equal(st, 0);
    assert_string_equal(v, want);
    fits_free_memory(v, &st);
}

static void test_fits(void **state)
{
    (void)state;
    char out[600];
    snprintf(out, sizeof out, "%s/cat.fits", ms_test_tmpdir());
    ms_export_opts o = {MS_EXPORT_FITS, 0, 3, NULL, MS_EXPORT_NAMES_HDF5}; /* 3 rows per block: 3 blocks */
    size_t nr = 0, nc = 0;
    assert_int_equal(ms_export_catalog(catalog, out, &o, &nr, &nc), MS_OK);
    assert_int_equal(nr, NROWS);
    assert_int_equal(nc, 7);
    char partial[640];
    snprintf(partial, sizeof partial, "%s.partial", out);
    assert_int_not_equal(access(partial, F_OK), 0);

    fitsfile *fp;
    int st = 0;
    fits_open_diskfile(&fp, out, READONLY, &st);
    assert_int_equal(st, 0);
    /* primary header: provenance */
    char *ver = NULL;
    fits_read_key_longstr(fp, "MSVERSN", &ver, NULL, &st);
    assert_int_equal(st, 0);
    assert_true(strlen(ver) > 0);
    fits_free_memory(ver, &st);
    fits_movnam_hdu(fp, BINARY_TBL, "CATALOG", 0, &st);
    assert_int_equal(st, 0);
    long nrows;
    int ncols;
    fits_get_num_rows(fp, &nrows, &st);
    fits_get_num_cols(fp, &ncols, &st);
    assert_int_equal(st, 0);
    assert_int_equal(nrows, NROWS);
    assert_int_equal(ncols, 7);
    char card[FLEN_CARD], val[FLEN_VALUE], com[FLEN_COMMENT];
    const char *names[] = {"activity", "flags", "obsid", "ra", "spid", "spt", "teff"};
    for (int k = 0; k < 7; k++) {
        char key[16];
        snprintf(key, sizeof key, "TTYPE%d", k + 1);
        fits_read_keyword(fp, key, val, com, &st);
        assert_int_equal(st, 0);
        char want[64];
        snprintf(want, sizeof want, "'%s'", names[k]);
        assert_non_null(strstr(val, names[k]));
    }
    fits_read_keyword(fp, "TTYPE7", val, com, &st);
    assert_string_equal(com, "effective temperature");
    fits_read_keyword(fp, "TUNIT7", val, com, &st);
    assert_int_equal(st, 0);
    assert_string_equal(val, "'K       '");
    fits_read_keyword(fp, "TUNIT4", val, com, &st);
    assert_string_equal(val, "'deg     '");
    (void)card;
    /* long string (CONTINUE) and git revision in the table header too */
    char longv[300];
    memset(longv, 'x', sizeof longv - 1);
    longv[sizeof longv - 1] = '\0';
    check_key_str(fp, "EMUHASH", longv); /* alias, CONTINUE */
    char longk[120];
    fits_read_key(fp, TSTRING, "LONG_ATTRIBUTE_NAME", longk, NULL, &st);
    assert_int_equal(st, 0);
    assert_int_equal(strncmp(longk, "yyyy", 4), 0); /* HIERARCH, truncated */
    assert_non_null(strstr(longk + 4, "..."));
    check_key_str(fp, "COMMAND", "mstars fit --test");
    check_key_str(fp, "CUTS", "1.5 2.5 nan");
    long ranks = 0;
    fits_read_key(fp, TLONG, "RANKS", &ranks, NULL, &st);
    assert_int_equal(st, 0);
    assert_int_equal(ranks, 1);

    int typecode;
    long rep, width;
    fits_get_coltype(fp, 6, &typecode, &rep, &width, &st);
    assert_int_equal(typecode, TSTRING);
    assert_int_equal(rep, 6);

    float teff[NROWS];
    double ra[NROWS];
    int spid[NROWS];
    LONGLONG obsid[NROWS];
    unsigned char act[NROWS];
    unsigned int flags[NROWS];
    int anynul = 0;
    fits_read_col(fp, TBYTE, 1, 1, 1, NROWS, NULL, act, &anynul, &st);
    fits_read_col(fp, TUINT, 2, 1, 1, NROWS, NULL, flags, &anynul, &st);
    fits_read_col(fp, TLONGLONG, 3, 1, 1, NROWS, NULL, obsid, &anynul, &st);
    fits_read_col(fp, TDOUBLE, 4, 1, 1, NROWS, NULL, ra, &anynul, &st);
    fits_read_col(fp, TINT, 5, 1, 1, NROWS, NULL, spid, &anynul, &st);
    fits_read_col(fp, TFLOAT, 7, 1, 1, NROWS, NULL, teff, &anynul, &st);
    assert_int_equal(st, 0);
    assert_int_equal(act[2], 255);
    assert_true(flags[2] == 4000000000u);
    assert_true(obsid[0] == INT64_C(9007199254740993));
    assert_true(obsid[6] == INT64_C(-9007199254740993));
    assert_true(ra[0] == 10.123456789012345 && ra[4] == 1e-300 && isnan(ra[5]));
    assert_int_equal(spid[3], 2147483647);
    assert_true(teff[0] == 3500.5f && isnan(teff[1]) && teff[6] == -1.5f);
    char sbuf[NROWS][8];
    char *sp[NROWS];
    for (int i = 0; i < NROWS; i++) sp[i] = sbuf[i];
    fits_read_col(fp, TSTRING, 6, 1, 1, NROWS, NULL, sp, &anynul, &st);
    assert_int_equal(st, 0);
    assert_string_equal(sp[0], "M3.5");
    assert_int_equal(sp[2][strspn(sp[2], " ")], 0); /* cfitsio reads an empty field as " " */
    assert_string_equal(sp[5], "q\"t");
    fits_close_file(fp, &st);
    assert_int_equal(st, 0);

    /* an existing output is refused without force, replaced with it */
    assert_int_equal(ms_export_catalog(catalog, out, &o, NULL, NULL), MS_EIO);
    assert_non_null(strstr(ms_error_message(), "--force"));
    o.force = 1;
    o.block_rows = 0; /* default block */
    assert_int_equal(ms_export_catalog(catalog, out, &o, &nr, NULL), MS_OK);
    assert_int_equal(nr, NROWS);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_csv(void **state)
{
    (void)state;
    char out[600];
    snprintf(out, sizeof out, "%s/cat.csv", ms_test_tmpdir());
    ms_export_opts o = {MS_EXPORT_CSV, 0, 2, NULL, MS_EXPORT_NAMES_HDF5};
    size_t mem0 = ms_mem_current();
    assert_int_equal(ms_export_catalog(catalog, out, &o, NULL, NULL), MS_OK);
    assert_int_equal(ms_mem_current(), mem0); /* every buffer released */
    const char *want =
        "activity,flags,obsid,ra,spid,spt,teff\n"
        "0,0,9007199254740993,10.123456789012344,1,M3.5,3500.5\n"
        "1,1,2,20.5,-2,K7,\n"
        "255,4000000000,3,-0,3,\"\",3100.25\n"
        "0,7,-4,359.999999999,2147483647,M0,2900\n" /* shortest round trip */
        "1,8,5,1e-300,0,\"a,b\",4000\n"
        "0,9,6,,16,\"q\"\"t\",3333\n"
        "1,10,-9007199254740993,180,-2147483647,M7,-1.5\n";
    assert_string_equal(slurp(out), want);
}

static void test_refusals(void **state)
{
    (void)state;
    ms_export_format fmt;
    assert_int_equal(ms_export_format_parse("FITS", &fmt), MS_OK);
    assert_int_equal(fmt, MS_EXPORT_FITS);
    assert_int_equal(ms_export_format_parse("csv", &fmt), MS_OK);
    assert_int_equal(fmt, MS_EXPORT_CSV);
    assert_int_equal(ms_export_format_parse("votable", &fmt), MS_EINVAL);
    assert_non_null(strstr(ms_error_message(), "votable"));

    char out[600], inc[600];
    snprintf(out, sizeof out, "%s/never.csv", ms_test_tmpdir());
    ms_export_opts o = {MS_EXPORT_CSV, 0, 0, NULL, MS_EXPORT_NAMES_HDF5};
    /* missing catalog */
    snprintf(inc, sizeof inc, "%s/missing.h5", ms_test_tmpdir());
    assert_int_not_equal(ms_export_catalog(inc, out, &o, NULL, NULL), MS_OK);
    /* an incomplete catalog (complete = 0) */
    snprintf(inc, sizeof inc, "%s/incomplete.h5", ms_test_tmpdir());
    make_catalog(inc);
    ms_h5 *f;
    assert_int_equal(ms_h5_open_update(inc, 0, &f), MS_OK);
    ms_h5_abort(f);
    assert_int_not_equal(ms_export_catalog(inc, out, &o, NULL, NULL), MS_OK);
    assert_int_not_equal(access(out, F_OK), 0);
    /* no such group; failures release every buffer */
    size_t mem0 = ms_mem_current();
    o.group = "/nothing";
    assert_int_equal(ms_export_catalog(catalog, out, &o, NULL, NULL), MS_ENOTFOUND);
    o.group = "/meta"; /* a group with a column of another length is fine on its own */
    assert_int_equal(ms_export_catalog(catalog, out, &o, NULL, NULL), MS_OK);
    assert_int_equal(access(out, F_OK), 0);
    unlink(out);
    o.group = "/"; /* only groups under the root: no column */
    assert_int_equal(ms_export_catalog(catalog, out, &o, NULL, NULL), MS_EFORMAT);
    assert_int_not_equal(access(out, F_OK), 0);
    /* out-of-memory at every allocation of an export */
    o.group = NULL;
    for (long k = 0; k < 40; k++) {
        ms_mem_fail_after(k);
        ms_status st = ms_export_catalog(catalog, out, &o, NULL, NULL);
        ms_mem_fail_after(-1);
        if (st == MS_OK) {
            unlink(out);
            break;
        }
        assert_int_not_equal(access(out, F_OK), 0);
    }
    assert_int_equal(ms_mem_current(), mem0);
}

/* Issue 18: the conventions of export.h on a catalog shaped like the fit's. */
#define NC 3
static void make_fit_like(const char *path)
{
    ms_h5 *f;
    assert_int_equal(ms_h5_create(path, 0, &f), MS_OK);
    size_t n = NC;
    char obsid[NC][32] = {"100001001", "", "9007199254740993"};
    double e_teff[NC] = {16.8375, -9999.0, NAN};
    double logg[NC] = {4.85, 5.0, 0.1};
    float spt[NC] = {3.5f, -9999.0f, 0.25f};
    uint32_t fit_flags[NC] = {0, 5, 2048};
    int64_t source_id[NC] = {-1, 5, INT64_C(1000000000000001009)};
    int32_t vbflag[NC] = {-1, 0, 2};
    static const char long_desc[] = "surface gravity from the emulator fit, a description "
                                    "longer than one FITS card can hold in its comment field";
    assert_int_equal(ms_h5_write_array(f, "/catalog/obsid", MS_H5_STR, 32, 1, &n, obsid, "",
                                       "LAMOST OBSID"), MS_OK);
    assert_int_equal(ms_h5_write_array(f, "/catalog/e_teff", MS_H5_F64, 0, 1, &n, e_teff, "K",
                                       "Teff uncertainty"), MS_OK);
    assert_int_equal(ms_h5_write_array(f, "/catalog/logg", MS_H5_F64, 0, 1, &n, logg, "dex",
                                       long_desc), MS_OK);
    assert_int_equal(ms_h5_write_array(f, "/catalog/spt", MS_H5_F32, 0, 1, &n, spt, "", "SpT"),
                     MS_OK);
    assert_int_equal(ms_h5_write_array(f, "/catalog/fit_flags", MS_H5_U32, 0, 1, &n, fit_flags,
                                       "", "fit status bits"), MS_OK);
    assert_int_equal(ms_h5_write_array(f, "/catalog/source_id", MS_H5_I64, 0, 1, &n, source_id,
                                       "", "Gaia DR3 source_id"), MS_OK);
    assert_int_equal(ms_h5_write_array(f, "/catalog/vbflag", MS_H5_I32, 0, 1, &n, vbflag, "",
                                       "variable / binary"), MS_OK);
    assert_int_equal(ms_h5_commit(f), MS_OK);
}

static void test_conventions(void **state)
{
    (void)state;
    char cat[600], out[600];
    snprintf(cat, sizeof cat, "%s/fitlike.h5", ms_test_tmpdir());
    make_fit_like(cat);
    /* CSV, LAMOST names: shortest round trip, -9999 -> empty, obsid int64 with -1 */
    snprintf(out, sizeof out, "%s/fitlike.csv", ms_test_tmpdir());
    ms_export_opts o = {MS_EXPORT_CSV, 1, 2, NULL, MS_EXPORT_NAMES_LAMOST};
    assert_int_equal(ms_export_catalog(cat, out, &o, NULL, NULL), MS_OK);
    const char *want =
        "teff_err,fit_flags,logg,obsid,gaia_source_id,spt,vbflag\n"
        "16.8375,0,4.85,100001001,-1,3.5,-1\n"
        ",5,5,-1,5,,0\n"
        ",2048,0.1,9007199254740993,1000000000000001009,0.25,2\n";
    assert_string_equal(slurp(out), want);
    ms_export_names nm;
    assert_int_equal(ms_export_names_parse("LAMOST", &nm), MS_OK);
    assert_int_equal(nm, MS_EXPORT_NAMES_LAMOST);
    assert_int_equal(ms_export_names_parse("apogee", &nm), MS_EINVAL);

    /* FITS: TNULL, TCOMM (whole description), no TUNIT for dex, TFLAG from the schema */
    snprintf(out, sizeof out, "%s/fitlike.fits", ms_test_tmpdir());
    o.format = MS_EXPORT_FITS;
    o.names = MS_EXPORT_NAMES_HDF5;
    assert_int_equal(ms_export_catalog(cat, out, &o, NULL, NULL), MS_OK);
    fitsfile *fp;
    int st = 0;
    fits_open_diskfile(&fp, out, READONLY, &st);
    fits_movnam_hdu(fp, BINARY_TBL, "CATALOG", 0, &st);
    assert_int_equal(st, 0);
    /* name order: e_teff 1, fit_flags 2, logg 3, obsid 4, source_id 5, spt 6, vbflag 7 */
    int typecode;
    long rep, width;
    fits_get_coltype(fp, 4, &typecode, &rep, &width, &st);
    assert_int_equal(typecode, TLONGLONG);
    LONGLONG null = 0;
    fits_read_key(fp, TLONGLONG, "TNULL4", &null, NULL, &st);
    assert_int_equal(st, 0);
    assert_true(null == -1);
    fits_read_key(fp, TLONGLONG, "TNULL5", &null, NULL, &st);
    fits_read_key(fp, TLONGLONG, "TNULL7", &null, NULL, &st);
    assert_int_equal(st, 0);
    char val[FLEN_VALUE], com[FLEN_COMMENT];
    fits_read_keyword(fp, "TUNIT3", val, com, &st);
    assert_int_equal(st, KEY_NO_EXIST); /* dex: not a FITS unit */
    st = 0;
    char *text = NULL;
    fits_read_key_longstr(fp, "TCOMM3", &text, NULL, &st);
    assert_int_equal(st, 0);
    assert_non_null(strstr(text, "in its comment field [dex]"));
    fits_free_memory(text, &st);
    fits_read_key_longstr(fp, "TFLAG2", &text, NULL, &st);
    assert_int_equal(st, 0);
    assert_non_null(strstr(text, "0=not_converged,1=linesearch,"));
    assert_non_null(strstr(text, "11=no_rv_start"));
    fits_free_memory(text, &st);
    LONGLONG ids[NC];
    double et[NC];
    int anynul = 0;
    fits_read_col(fp, TLONGLONG, 4, 1, 1, NC, NULL, ids, &anynul, &st);
    fits_read_col(fp, TDOUBLE, 1, 1, 1, NC, NULL, et, &anynul, &st);
    assert_int_equal(st, 0);
    assert_true(ids[0] == 100001001 && ids[1] == -1 && ids[2] == INT64_C(9007199254740993));
    assert_true(et[0] == 16.8375 && isnan(et[1]) && isnan(et[2]));
    fits_close_file(fp, &st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_h5_listing),
        cmocka_unit_test(test_fits),
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_conventions),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
