/* test_ingest_mpi.c: `mstars ingest` on the real LAMOST files of ../shared plus broken
 * files, under 1, 2 and 3 ranks: rows in list order, bad files as flagged rows with
 * reasons, every usable row equal to an independent serial preprocessing of its file,
 * the input catalog joined by OBSID, and a re-run over a grown list reusing old rows
 * and giving the same store as a fresh run. */
#include "test_util.h"

#include "mstars/config.h"
#include "mstars/h5.h"
#include "mstars/lamost.h"
#include "mstars/mem.h"
#include "mstars/par.h"
#include "mstars/spec.h"
#include "mstars/store.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[256];
static char files[40][1280];
static int n_real, n_files;
static ms_config cfg;

static int cmp_names(const void *a, const void *b) { return strcmp(a, b); }

/* Rank 0 lays out the inputs; every rank learns the directory. */
static int setup(void)
{
    char lamost[1024];
    int have = 1;
    if (ms_par_rank() == 0) {
        have = ms_test_shared("data/lamost/INDEX.md", lamost, sizeof lamost) != NULL;
        snprintf(dir, sizeof dir, "%s", ms_test_tmpdir());
    }
    ms_par_bcast(&have, sizeof have);
    ms_par_bcast(dir, sizeof dir);
    if (!have) return 0;
    if (ms_par_rank() == 0) {
        char *slash = strrchr(lamost, '/');
        *slash = '\0';
        DIR *d = opendir(lamost);
        struct dirent *e;
        while ((e = readdir(d)) != NULL)
            if (strstr(e->d_name, ".fits")) snprintf(files[n_real++], sizeof files[0], "%s/%s", lamost, e->d_name);
        closedir(d);
        qsort(files, (size_t)n_real, sizeof files[0], cmp_names);
        n_files = n_real;
        /* broken inputs */
        snprintf(files[n_files], sizeof files[0], "%s/notfits.fits", dir);
        FILE *f = fopen(files[n_files++], "w");
        fputs("SIMPLE  = this is not a FITS file\n", f);
        fclose(f);
        snprintf(files[n_files], sizeof files[0], "%s/empty.fits", dir);
        fclose(fopen(files[n_files++], "w"));
        snprintf(files[n_files], sizeof files[0], "%s/truncated.fits", dir);
        FILE *src = fopen(files[0], "rb"), *dst = fopen(files[n_files++], "wb");
        char buf[10000];
        size_t got = fread(buf, 1, sizeof buf, src);
        fwrite(buf, 1, got, dst);
        fclose(src);
        fclose(dst);
        snprintf(files[n_files++], sizeof files[0], "%s/vanished.fits", dir);
        char path[600];
        snprintf(path, sizeof path, "%s/all.lst", dir);
        f = fopen(path, "w");
        for (int i = 0; i < n_files; i++) fprintf(f, "%s\n", files[i]);
        fclose(f);
        snprintf(path, sizeof path, "%s/first.lst", dir);
        f = fopen(path, "w");
        fprintf(f, "# the first ten files\n");
        for (int i = 0; i < 10; i++) fprintf(f, "%s\n", files[i]);
        fclose(f);
        /* an input catalog naming three observations of the real files */
        snprintf(path, sizeof path, "%s/input.csv", dir);
        f = fopen(path, "w");
        fprintf(f, "obsid,gmag,note,source_id\n3703110,12.5,\"bright, K7\",1234567890123456789\n"
                   "3715155,14.25,x,7\n999,1,none,8\n");
        fclose(f);
    }
    ms_par_bcast(&n_real, sizeof n_real);
    ms_par_bcast(&n_files, sizeof n_files);
    ms_par_bcast(files, sizeof files);
    return 1;
}

static void ingest(const char *list, const char *out, int reprocess, int catalog,
                   ms_ingest_summary *s)
{
    char lpath[600], opath[600], cpath[600];
    snprintf(lpath, sizeof lpath, "%s/%s", dir, list);
    snprintf(opath, sizeof opath, "%s/%s", dir, out);
    snprintf(cpath, sizeof cpath, "%s/input.csv", dir);
    ms_ingest_opts o = {lpath, catalog ? cpath : NULL, opath, "test", reprocess};
    ms_status st = ms_ingest_spectra(&cfg, &o, s);
    if (st != MS_OK) fail_msg("ingest failed: %s", ms_error_message());
}

static ms_h5 *open_store(const char *name)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    ms_h5 *f = NULL;
    if (ms_h5_open_read(path, 0, &f) != MS_OK) fail_msg("%s", ms_error_message());
    return f;
}

static void test_ingest_real_and_broken_files(void **state)
{
    (void)state;
    if (!setup()) skip();
    ms_ingest_summary s;
    ingest("all.lst", "store.h5", 1, 1, &s);
    assert_int_equal(s.total, n_files);
    assert_int_equal(s.reused, 0);
    /* 4 broken inputs; the real file of CLASS "Unknown" is not a star */
    assert_int_equal(s.by_status[MS_ROW_UNREADABLE] + s.by_status[MS_ROW_BAD_STRUCTURE], 4);
    assert_int_equal(s.by_status[MS_ROW_NOT_STAR], 1);
    assert_int_equal(s.by_status[MS_ROW_OK], n_real - 1);

    ms_h5 *f = open_store("store.h5");
    size_t n = (size_t)n_files, np = ms_spec_grid(&cfg.preprocess).n;
    char (*names)[256] = ms_malloc("t.names", n * 256);
    char (*reasons)[MS_REASON_LEN] = ms_malloc("t.reasons", n * MS_REASON_LEN);
    int32_t *status = ms_malloc("t.status", n * 4);
    float *flux = ms_malloc("t.flux", n * np * 4), *ivar = ms_malloc("t.ivar", n * np * 4);
    double *gmag = ms_malloc("t.gmag", n * 8);
    int64_t *source_id = ms_malloc("t.sid", n * 8);
    assert_int_equal(ms_h5_read_rows(f, "/input/source_id", MS_H5_I64, 0, 0, n, source_id),
                     MS_OK);
    assert_int_equal(ms_h5_read_rows(f, "/meta/filename", MS_H5_STR, 256, 0, n, names), MS_OK);
    assert_int_equal(ms_h5_read_rows(f, "/meta/status_reason", MS_H5_STR, MS_REASON_LEN, 0, n,
                                     reasons), MS_OK);
    assert_int_equal(ms_h5_read_rows(f, "/meta/status", MS_H5_I32, 0, 0, n, status), MS_OK);
    assert_int_equal(ms_h5_read_rows(f, "/spectra/flux", MS_H5_F32, 0, 0, n, flux), MS_OK);
    assert_int_equal(ms_h5_read_rows(f, "/spectra/ivar", MS_H5_F32, 0, 0, n, ivar), MS_OK);
    assert_int_equal(ms_h5_read_rows(f, "/input/gmag", MS_H5_F64, 0, 0, n, gmag), MS_OK);
    char obsids[40][32];
    assert_int_equal(ms_h5_read_rows(f, "/meta/obsid", MS_H5_STR, 32, 0, n, obsids), MS_OK);
    for (size_t i = 0; i < n; i++) {
        names[i][255] = '\0';
        reasons[i][MS_REASON_LEN - 1] = '\0';
        assert_string_equal(names[i], files[i]); /* input order */
        if (status[i] != 0) {
            assert_true(strlen(reasons[i]) > 5);
            for (size_t k = 0; k < np; k++) assert_true(ivar[i * np + k] == 0.0f);
        }
        /* catalog join */
        obsids[i][31] = '\0';
        if (!strcmp(obsids[i], "3703110")) {
            assert_true(gmag[i] == 12.5);
            assert_true(source_id[i] == INT64_C(1234567890123456789)); /* every digit */
        } else if (!strcmp(obsids[i], "3715155")) {
            assert_true(gmag[i] == 14.25);
        } else {
            assert_true(isnan(gmag[i]));
            assert_true(source_id[i] == -1);
        }
    }
    assert_int_equal(status[n_real + 1], MS_ROW_UNREADABLE); /* the empty file */
    assert_non_null(strstr(reasons[n_real + 3], "vanished.fits"));

    /* every usable row equals an independent serial preprocessing of its file */
    float *ref_flux = ms_malloc("t.rf", np * 4), *ref_ivar = ms_malloc("t.ri", np * 4),
          *ref_cont = ms_malloc("t.rc", np * 4);
    for (int i = 0; i < n_real; i++) {
        if (status[i] != 0) continue;
        ms_lamost_spectrum sp;
        ms_lamost_meta h;
        assert_int_equal(ms_lamost_read(files[i], &sp, &h), MS_OK);
        uint8_t *bad = ms_malloc("t.bad", sp.n);
        for (size_t k = 0; k < sp.n; k++) bad[k] = sp.ormask[k] != 0;
        double rv = isfinite(h.z) && fabs(h.z * MS_C_KMS) < 3000 ? h.z * MS_C_KMS : 0.0;
        ms_spec_out out = {ref_flux, ref_ivar, ref_cont, 0};
        assert_int_equal(ms_spec_preprocess_observed(&cfg.preprocess, sp.wave, sp.flux, sp.ivar,
                                                     bad, sp.n, rv, &out), MS_OK);
        for (size_t k = 0; k < np; k++) {
            assert_memory_equal(&ivar[(size_t)i * np + k], &ref_ivar[k], 4);
            if (ref_ivar[k] > 0) assert_memory_equal(&flux[(size_t)i * np + k], &ref_flux[k], 4);
        }
        ms_free(bad);
        ms_lamost_spectrum_free(&sp);
    }
    ms_free(ref_flux);
    ms_free(ref_ivar);
    ms_free(ref_cont);
    assert_int_equal(ms_h5_close(f), MS_OK);
    ms_free(names);
    ms_free(reasons);
    ms_free(status);
    ms_free(flux);
    ms_free(ivar);
    ms_free(gmag);
    ms_free(source_id);
}

static void test_grown_list_reuses_rows(void **state)
{
    (void)state;
    if (n_files == 0) skip();
    ms_ingest_summary s;
    ingest("first.lst", "grown.h5", 0, 0, &s);
    assert_int_equal(s.total, 10);
    ingest("all.lst", "grown.h5", 0, 1, &s);
    assert_int_equal(s.total, n_files);
    assert_int_equal(s.reused, 10);
    /* same content as the fresh store */
    ms_h5 *a = open_store("store.h5"), *b = open_store("grown.h5");
    size_t n = (size_t)n_files, np = ms_spec_grid(&cfg.preprocess).n;
    float *fa = ms_malloc("t.fa", n * np * 4), *fb = ms_malloc("t.fb", n * np * 4);
    assert_int_equal(ms_h5_read_rows(a, "/spectra/flux", MS_H5_F32, 0, 0, n, fa), MS_OK);
    assert_int_equal(ms_h5_read_rows(b, "/spectra/flux", MS_H5_F32, 0, 0, n, fb), MS_OK);
    assert_memory_equal(fa, fb, n * np * 4);
    double ra_a[40], ra_b[40];
    assert_int_equal(ms_h5_read_rows(a, "/meta/ra", MS_H5_F64, 0, 0, n, ra_a), MS_OK);
    assert_int_equal(ms_h5_read_rows(b, "/meta/ra", MS_H5_F64, 0, 0, n, ra_b), MS_OK);
    assert_memory_equal(ra_a, ra_b, n * 8);
    ms_free(fa);
    ms_free(fb);
    ms_h5_close(a);
    ms_h5_close(b);
}

int main(int argc, char **argv)
{
    if (ms_par_init(&argc, &argv) != MS_OK) return 1;
    ms_config_defaults(&cfg);
    cfg.ingest.write_batch = 3; /* many rounds, uneven last batch */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ingest_real_and_broken_files),
        cmocka_unit_test(test_grown_list_reuses_rows),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    ms_par_finalize();
    return rc;
}
