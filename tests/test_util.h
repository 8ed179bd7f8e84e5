/* test_util.h: shared helpers of the C tests (cmocka). */
#ifndef MSTARS_TEST_UTIL_H
#define MSTARS_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* Path of a file under ../shared (from MSTARS_SHARED) into buf, or NULL (with a message
 * printed) when it is absent, so that the caller can skip(). */
const char *ms_test_shared(const char *relpath, char *buf, size_t len);
/* Path under the source tree (MSTARS_SOURCE_ROOT). */
const char *ms_test_source(const char *relpath, char *buf, size_t len);
/* A fresh empty directory for this test process; removed by nothing (lives in /tmp). */
const char *ms_test_tmpdir(void);

/* |a - b| <= atol + rtol * |b|, with a message naming `what` on failure. */
#define assert_close(a, b, rtol, atol, what)                                               \
    ms_test_assert_close((double)(a), (double)(b), (rtol), (atol), (what), __FILE__, __LINE__)
void ms_test_assert_close(double a, double b, double rtol, double atol, const char *what,
                          const char *file, int line);

/* Skipped tests are counted, not passed in silence. cmocka's skip() ends a test as
 * "skipped" but the binary still exits 0, so meson counted it as passed. Here skip() also
 * prints "MSTARS_SKIP file:line" (tests/run.sh counts and lists these lines), and
 * cmocka_run_group_tests returns 77 (meson's SKIP) when every test run so far in the
 * process skipped and none failed; a group with some tests skipped prints
 * "MSTARS_SKIPPED k of n tests". */
#undef skip
#define skip() ms_test_skip(__FILE__, __LINE__)
void ms_test_skip(const char *file, int line);
/* failed -> the exit status of the group of n tests (see above) */
int ms_test_group_done(int failed, size_t n);
#undef cmocka_run_group_tests
#define cmocka_run_group_tests(tests, setup, teardown)                                     \
    ms_test_group_done(_cmocka_run_group_tests(#tests, tests, sizeof(tests) / sizeof((tests)[0]), \
                                               setup, teardown),                          \
                       sizeof(tests) / sizeof((tests)[0]))
#undef cmocka_run_group_tests_name
#define cmocka_run_group_tests_name(name, tests, setup, teardown)                          \
    ms_test_group_done(_cmocka_run_group_tests(name, tests, sizeof(tests) / sizeof((tests)[0]), \
                                               setup, teardown),                          \
                       sizeof(tests) / sizeof((tests)[0]))

#endif
