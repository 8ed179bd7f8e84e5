/* test_catalog_mpi.c: the resumable catalog with the dynamic work distributor, under 1-3
 * ranks: a run stopped by its time limit keeps its journals and never leaves a complete-
 * looking file; the resumed run computes only the missing chunks (none twice), ignores a
 * torn journal record, and its catalog equals the uninterrupted result. */
#include "test_util.h"

#include "mstars/catalog.h"
#include "mstars/h5.h"
#include "mstars/mem.h"
#include "mstars/par.h"
#include "mstars/workq.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define N_ROWS 1003
#define CHUNK 10

typedef struct {
    int64_t id;
    double teff;
    char obsid[16];
    uint32_t flags;
} row;

static const ms_catalog_column cols[] = {
    {"/catalog/id", MS_H5_I64, 0, offsetof(row, id), "", "row"},
    {"/catalog/teff", MS_H5_F64, 0, offsetof(row, teff), "K", "a value derived from the row"},
    {"/catalog/obsid", MS_H5_STR, 16, offsetof(row, obsid), "", "text"},
    {"/catalog/flags", MS_H5_U32, 0, offsetof(row, flags), "", "bits"},
    {NULL, 0, 0, 0, NULL, NULL},
};

static void make_row(size_t i, row *r)
{
    memset(r, 0, sizeof *r);
    r->id = (int64_t)i;
    r->teff = 3000.0 + 0.37 * (double)i;
    snprintf(r->obsid, sizeof r->obsid, "obs%zu", i);
    r->flags = (uint32_t)(i * 2654435761u);
}

typedef struct {
    ms_catalog *cat;
    long computed[(N_ROWS + CHUNK - 1) / CHUNK];
    double sleep_ms;
} ctx_t;

static ms_status do_chunk(void *p, size_t chunk, long *failed)
{
    (void)failed;
    ctx_t *c = p;
    row rows[CHUNK];
    size_t row0 = chunk * CHUNK, n = row0 + CHUNK > N_ROWS ? N_ROWS - row0 : CHUNK;
    for (size_t i = 0; i < n; i++) make_row(row0 + i, &rows[i]);
    c->computed[chunk]++;
    struct timespec ts = {0, (long)(c->sleep_ms * 1e6)};
    nanosleep(&ts, NULL);
    return ms_catalog_write_chunk(c->cat, chunk, row0, n, rows);
}

static char path[512];

static ms_status run(int resume, double max_runtime, ctx_t *c)
{
    ms_catalog_opts o = {path, cols, sizeof(row), N_ROWS, CHUNK, 1234, resume};
    uint8_t *done;
    MS_TRY(ms_catalog_open(&o, &c->cat, &done));
    size_t n_chunks = (N_ROWS + CHUNK - 1) / CHUNK, pending[128], np = 0;
    for (size_t k = 0; k < n_chunks; k++)
        if (!done[k]) pending[np++] = k;
    ms_free(done);
    ms_workq_opts w = {pending, np, CHUNK, np * CHUNK, 0, max_runtime, "rows"};
    ms_workq_stats s;
    ms_workq_clear_stop();
    ms_status st = ms_workq_run(&w, do_chunk, c, &s);
    ms_status fst = ms_catalog_finish(c->cat, st == MS_OK);
    return st != MS_OK ? st : fst;
}

static void test_interrupt_and_resume(void **state)
{
    (void)state;
    if (ms_par_rank() == 0) snprintf(path, sizeof path, "%s/cat.h5", ms_test_tmpdir());
    ms_par_bcast(path, sizeof path);
    static ctx_t a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.sleep_ms = 3.0;
    assert_int_equal(run(0, 0.05, &a), MS_EINTERRUPTED);
    char partial[600], journal[600];
    snprintf(partial, sizeof partial, "%s.partial", path);
    snprintf(journal, sizeof journal, "%s.journal", path);
    assert_int_equal(access(path, F_OK), -1);      /* nothing looks complete */
    assert_int_equal(access(journal, F_OK), 0);

    /* a second run without --resume refuses to overwrite the journals */
    ctx_t *tmp = &b;
    assert_int_equal(run(0, 0, tmp), MS_EINVAL);
    assert_non_null(strstr(ms_error_message(), "--resume"));
    memset(&b, 0, sizeof b);

    /* a torn record at the end of one journal (as from a kill during a write) */
    ms_par_barrier();
    if (ms_par_rank() == 0) {
        char jpath[700];
        snprintf(jpath, sizeof jpath, "%s/rank-0.bin", journal);
        FILE *f = fopen(jpath, "ab");
        uint64_t torn[3] = {5, 50, 10};
        fwrite(torn, sizeof torn, 1, f);
        fclose(f);
    }
    ms_par_barrier();

    assert_int_equal(run(1, 0, &b), MS_OK);
    long both[128];
    size_t n_chunks = (N_ROWS + CHUNK - 1) / CHUNK;
    for (size_t k = 0; k < n_chunks; k++) both[k] = a.computed[k] + b.computed[k];
    assert_int_equal(ms_par_allreduce_sum_l(both, n_chunks), MS_OK);
    long first = 0;
    for (size_t k = 0; k < n_chunks; k++) {
        assert_int_equal(both[k], 1); /* each chunk computed exactly once over both runs */
        first += a.computed[k];
    }
    assert_int_equal(ms_par_allreduce_sum_l(&first, 1), MS_OK);
    assert_true(first > 0 && first < (long)n_chunks);
    assert_int_equal(access(journal, F_OK), -1);
    assert_int_equal(access(partial, F_OK), -1);

    /* the catalog equals the uninterrupted result */
    ms_h5 *f;
    assert_int_equal(ms_h5_open_read(path, 0, &f), MS_OK);
    static int64_t id[N_ROWS];
    static double teff[N_ROWS];
    static char obsid[N_ROWS][16];
    static uint32_t flags[N_ROWS];
    assert_int_equal(ms_h5_read_rows(f, "/catalog/id", MS_H5_I64, 0, 0, N_ROWS, id), MS_OK);
    assert_int_equal(ms_h5_read_rows(f, "/catalog/teff", MS_H5_F64, 0, 0, N_ROWS, teff), MS_OK);
    assert_int_equal(ms_h5_read_rows(f, "/catalog/obsid", MS_H5_STR, 16, 0, N_ROWS, obsid), MS_OK);
    assert_int_equal(ms_h5_read_rows(f, "/catalog/flags", MS_H5_U32, 0, 0, N_ROWS, flags), MS_OK);
    for (size_t i = 0; i < N_ROWS; i++) {
        row r;
        make_row(i, &r);
        assert_int_equal(id[i], r.id);
        assert_true(teff[i] == r.teff);
        assert_memory_equal(obsid[i], r.obsid, 16);
        assert_int_equal(flags[i], r.flags);
    }
    ms_strlist names; /* listed in declaration order, not by name */
    assert_int_equal(ms_h5_list(f, "/catalog", &names), MS_OK);
    assert_int_equal(names.n, 4);
    assert_string_equal(names.items[0], "id");
    assert_string_equal(names.items[1], "teff");
    assert_string_equal(names.items[2], "obsid");
    assert_string_equal(names.items[3], "flags");
    ms_strlist_free(&names);
    char *units;
    assert_int_equal(ms_h5_attr_get_str(f, "/catalog/teff", "units", &units), MS_OK);
    assert_string_equal(units, "K");
    ms_free(units);
    ms_h5_close(f);
}

int main(int argc, char **argv)
{
    if (ms_par_init(&argc, &argv) != MS_OK) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interrupt_and_resume),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    ms_par_finalize();
    return rc;
}
