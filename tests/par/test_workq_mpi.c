/* test_workq_mpi.c: the dynamic work distributor under 1, 2 and 3 ranks: every pending
 * chunk is processed exactly once whatever the chunk durations, only pending chunks are
 * handed out, a time limit stops cleanly with no chunk lost or doubled, and a failure on
 * one rank fails every rank. */
#include "test_util.h"

#include "mstars/mem.h"
#include "mstars/par.h"
#include "mstars/workq.h"

#include <string.h>
#include <time.h>

#define N_CHUNKS 97

typedef struct {
    long count[N_CHUNKS]; /* times this rank processed each chunk */
    double sleep_ms;
    long fail_at;
} work;

static ms_status do_chunk(void *ctx, size_t chunk, long *n_failed)
{
    work *w = ctx;
    if ((long)chunk == w->fail_at) MS_ERROR(MS_EIO, "chunk %zu: cannot write", chunk);
    w->count[chunk]++;
    *n_failed += chunk % 10 == 0; /* pretend some items failed */
    /* uneven durations: some chunks are 5x slower */
    double ms = w->sleep_ms * (chunk % 7 == 0 ? 5.0 : 1.0);
    struct timespec ts = {0, (long)(ms * 1e6)};
    nanosleep(&ts, NULL);
    return MS_OK;
}

static ms_status run(work *w, const size_t *pending, size_t n, double max_runtime,
                     ms_workq_stats *stats)
{
    ms_workq_opts o = {pending, n, 10, n * 10, 0.0, max_runtime, "spectra"};
    ms_workq_clear_stop();
    return ms_workq_run(&o, do_chunk, w, stats);
}

static void totals(work *w, long *all)
{
    memcpy(all, w->count, sizeof w->count);
    assert_int_equal(ms_par_allreduce_sum_l(all, N_CHUNKS), MS_OK);
}

static void test_every_chunk_exactly_once(void **state)
{
    (void)state;
    static work w;
    memset(&w, 0, sizeof w);
    w.sleep_ms = 0.3;
    w.fail_at = -1;
    size_t pending[N_CHUNKS];
    for (size_t i = 0; i < N_CHUNKS; i++) pending[i] = i;
    ms_workq_stats s;
    assert_int_equal(run(&w, pending, N_CHUNKS, 0, &s), MS_OK);
    long all[N_CHUNKS];
    totals(&w, all);
    for (int i = 0; i < N_CHUNKS; i++) assert_int_equal(all[i], 1);
    assert_int_equal(s.chunks_done, N_CHUNKS);
    assert_int_equal(s.failed, 10); /* chunks 0, 10, ..., 90 */
    if (ms_par_size() > 1) {
        /* dynamic: with 2+ ranks, rank 0 is not the only one working */
        long mine = 0;
        for (int i = 0; i < N_CHUNKS; i++) mine += w.count[i];
        long others = N_CHUNKS - (ms_par_rank() == 0 ? mine : 0);
        ms_par_bcast(&others, sizeof others);
        assert_true(others > 0);
    }
}

static void test_only_pending_chunks(void **state)
{
    (void)state;
    static work w;
    memset(&w, 0, sizeof w);
    w.fail_at = -1;
    size_t pending[N_CHUNKS];
    size_t n = 0;
    for (size_t i = 1; i < N_CHUNKS; i += 2) pending[n++] = i;
    ms_workq_stats s;
    assert_int_equal(run(&w, pending, n, 0, &s), MS_OK);
    long all[N_CHUNKS];
    totals(&w, all);
    for (int i = 0; i < N_CHUNKS; i++) assert_int_equal(all[i], i % 2);
}

static void test_time_limit_stops_cleanly(void **state)
{
    (void)state;
    static work w;
    memset(&w, 0, sizeof w);
    w.sleep_ms = 2.0;
    w.fail_at = -1;
    size_t pending[N_CHUNKS];
    for (size_t i = 0; i < N_CHUNKS; i++) pending[i] = i;
    ms_workq_stats s;
    assert_int_equal(run(&w, pending, N_CHUNKS, 0.02, &s), MS_EINTERRUPTED);
    long all[N_CHUNKS], done = 0;
    totals(&w, all);
    for (int i = 0; i < N_CHUNKS; i++) {
        assert_true(all[i] == 0 || all[i] == 1);
        done += all[i];
    }
    assert_true(done > 0 && done < N_CHUNKS);
    assert_int_equal((long)s.chunks_done, done);
    assert_true(ms_workq_stop_requested());
}

static void test_failure_fails_every_rank(void **state)
{
    (void)state;
    static work w;
    memset(&w, 0, sizeof w);
    w.fail_at = 13;
    size_t pending[N_CHUNKS];
    for (size_t i = 0; i < N_CHUNKS; i++) pending[i] = i;
    ms_workq_stats s;
    assert_int_equal(run(&w, pending, N_CHUNKS, 0, &s), MS_EIO);
    assert_non_null(strstr(ms_error_message(), "chunk 13"));
}

int main(int argc, char **argv)
{
    if (ms_par_init(&argc, &argv) != MS_OK) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_chunk_exactly_once),
        cmocka_unit_test(test_only_pending_chunks),
        cmocka_unit_test(test_time_limit_stops_cleanly),
        cmocka_unit_test(test_failure_fails_every_rank),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    ms_par_finalize();
    return rc;
}
