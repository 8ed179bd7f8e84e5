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

#endif
