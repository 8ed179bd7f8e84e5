/* mem.c: tracked aligned allocation (see mem.h).
 *
 * Each block carries a 64-byte header holding its size, so that ms_free can keep the
 * counters exact without a lookup table; the header size keeps the payload aligned. */
#include "mstars/mem.h"
#include "mstars/status.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define MS_MEM_ALIGN 64

static atomic_size_t mem_current;
static atomic_size_t mem_peak;
static atomic_long mem_fail_countdown = -1;

static int injected_failure(void)
{
    long left = atomic_load(&mem_fail_countdown);
    while (left >= 0) {
        if (atomic_compare_exchange_weak(&mem_fail_countdown, &left, left - 1))
            return left == 0;
    }
    return 0;
}

static void account(size_t added, size_t removed)
{
    size_t cur = atomic_fetch_add(&mem_current, added) + added;
    atomic_fetch_sub(&mem_current, removed);
    cur -= removed;
    size_t peak = atomic_load(&mem_peak);
    while (cur > peak && !atomic_compare_exchange_weak(&mem_peak, &peak, cur)) {
    }
}

void *ms_malloc(const char *label, size_t n)
{
    if (n > SIZE_MAX - 2 * MS_MEM_ALIGN || injected_failure()) {
        ms_error_set(MS_ENOMEM, __FILE__, __LINE__, "out of memory allocating %zu bytes for %s", n,
                     label);
        return NULL;
    }
    size_t total = (n + MS_MEM_ALIGN + MS_MEM_ALIGN - 1) / MS_MEM_ALIGN * MS_MEM_ALIGN;
    unsigned char *base = aligned_alloc(MS_MEM_ALIGN, total);
    if (!base) {
        ms_error_set(MS_ENOMEM, __FILE__, __LINE__, "out of memory allocating %zu bytes for %s", n,
                     label);
        return NULL;
    }
    memcpy(base, &n, sizeof n);
    account(n, 0);
    return base + MS_MEM_ALIGN;
}

void *ms_malloc_array(const char *label, size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size) {
        ms_error_set(MS_ENOMEM, __FILE__, __LINE__, "allocation of %zu x %zu bytes for %s overflows",
                     count, size, label);
        return NULL;
    }
    return ms_malloc(label, count * size);
}

void *ms_calloc(const char *label, size_t count, size_t size)
{
    void *p = ms_malloc_array(label, count, size);
    if (p) memset(p, 0, count * size);
    return p;
}

static size_t block_size(const void *p)
{
    size_t n;
    memcpy(&n, (const unsigned char *)p - MS_MEM_ALIGN, sizeof n);
    return n;
}

void *ms_realloc(const char *label, void *p, size_t n)
{
    if (!p) return ms_malloc(label, n);
    void *q = ms_malloc(label, n);
    if (!q) return NULL;
    size_t old = block_size(p);
    memcpy(q, p, old < n ? old : n);
    ms_free(p);
    return q;
}

void ms_free(void *p)
{
    if (!p) return;
    unsigned char *base = (unsigned char *)p - MS_MEM_ALIGN;
    account(0, block_size(p));
    free(base);
}

size_t ms_mem_current(void) { return atomic_load(&mem_current); }
size_t ms_mem_peak(void) { return atomic_load(&mem_peak); }

size_t ms_mem_peak_rss(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (size_t)ru.ru_maxrss * 1024u; /* Linux reports kilobytes */
}

void ms_mem_fail_after(long n) { atomic_store(&mem_fail_countdown, n < 0 ? -1 : n); }
