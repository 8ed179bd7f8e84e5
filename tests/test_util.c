/* test_util.c: see test_util.h. */
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *ms_test_shared(const char *relpath, char *buf, size_t len)
{
    const char *root = getenv("MSTARS_SHARED");
    if (!root) root = "../shared";
    snprintf(buf, len, "%s/%s", root, relpath);
    if (access(buf, R_OK) != 0) {
        print_message("skipping: %s is absent (real data lives in ../shared)\n", buf);
        return NULL;
    }
    return buf;
}

const char *ms_test_source(const char *relpath, char *buf, size_t len)
{
    const char *root = getenv("MSTARS_SOURCE_ROOT");
    if (!root) root = ".";
    snprintf(buf, len, "%s/%s", root, relpath);
    return buf;
}

const char *ms_test_tmpdir(void)
{
    static char dir[256];
    if (dir[0]) return dir;
    snprintf(dir, sizeof dir, "/tmp/mstars-test-XXXXXX");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "cannot create a temporary directory\n");
        exit(1);
    }
    return dir;
}

void ms_test_assert_close(double a, double b, double rtol, double atol, const char *what,
                          const char *file, int line)
{
    if (!(fabs(a - b) <= atol + rtol * fabs(b))) {
        print_error("%s: %.10g != %.10g (rtol %g, atol %g)\n", what, a, b, rtol, atol);
        _fail(file, line);
    }
}

static size_t n_run, n_skipped, n_skipped_group;

void ms_test_skip(const char *file, int line)
{
    n_skipped++;
    n_skipped_group++;
    printf("MSTARS_SKIP %s:%d\n", file, line);
    fflush(stdout);
    _skip(file, line);
}

int ms_test_group_done(int failed, size_t n)
{
    n_run += n;
    const size_t k = n_skipped_group;
    n_skipped_group = 0;
    if (k > 0) printf("MSTARS_SKIPPED %zu of %zu tests\n", k, n);
    fflush(stdout);
    if (failed) return failed;
    return n_skipped > 0 && n_skipped >= n_run ? 77 : 0;
}
