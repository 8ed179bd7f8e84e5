/* test_comm.c: the one exact all-reduce (ms_comm_sum_exact, comm.h) on one process:
 *   - the sum is within one float ulp of the exactly computed sum (long double reference);
 *   - it does not depend on the order of the shards (bit for bit), which is what makes the
 *     trainers' networks identical for any rank count;
 *   - segments keep their own scale (a tiny tensor beside a huge one keeps its precision);
 *   - a non-finite value is refused with its segment named. */
#include "mstars/comm.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#define NB 7
#define N 53 /* not a multiple of the vector width: the tails are exercised */

static uint64_t rng = 88172645463325252ULL;
static double uniform(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) * 0x1.0p-53;
}

static void fill(float *g, float small_scale)
{
    for (size_t s = 0; s < NB; s++)
        for (size_t i = 0; i < N; i++)
            g[s * N + i] = (float)((uniform() - 0.5) * (i < 20 ? 1e3 : small_scale));
}

static void test_exact_and_order_free(void **state)
{
    (void)state;
    static float g[NB * N], h[NB * N], out1[N], out2[N];
    long isum[N];
    double scale[2];
    size_t off[2] = {0, 20}, len[2] = {20, N - 20};
    ms_segments segs = {off, len, 2};
    fill(g, 1e-6f); /* segment 1 is a billion times smaller than segment 0 */
    assert_int_equal(ms_comm_sum_exact(ms_comm_serial(), g, NB, N, &segs, NB, isum, scale, out1, NULL),
                     MS_OK);
    for (size_t i = 0; i < N; i++) {
        long double ex = 0;
        for (size_t s = 0; s < NB; s++) ex += (long double)g[s * N + i];
        float want = (float)ex;
        assert_true(fabsf(out1[i] - want) <= nextafterf(fabsf(want), INFINITY) - fabsf(want));
    }
    /* reversed shard order: the same bits */
    for (size_t s = 0; s < NB; s++) memcpy(h + s * N, g + (NB - 1 - s) * N, N * sizeof(float));
    assert_int_equal(ms_comm_sum_exact(ms_comm_serial(), h, NB, N, &segs, NB, isum, scale, out2, NULL),
                     MS_OK);
    assert_memory_equal(out1, out2, sizeof out1);
}

static void test_non_finite_named(void **state)
{
    (void)state;
    static float g[NB * N], out[N];
    long isum[N];
    double scale[2];
    size_t off[2] = {0, 20}, len[2] = {20, N - 20}, bad = 99;
    ms_segments segs = {off, len, 2};
    fill(g, 1.0f);
    g[3 * N + 40] = NAN;
    assert_int_equal(ms_comm_sum_exact(ms_comm_serial(), g, NB, N, &segs, NB, isum, scale, out, &bad),
                     MS_ENOPROG);
    assert_int_equal(bad, 1);
    g[3 * N + 40] = 0.0f;
    g[5 * N + 2] = INFINITY;
    assert_int_equal(ms_comm_sum_exact(ms_comm_serial(), g, NB, N, &segs, NB, isum, scale, out, &bad),
                     MS_ENOPROG);
    assert_int_equal(bad, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_and_order_free),
        cmocka_unit_test(test_non_finite_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
