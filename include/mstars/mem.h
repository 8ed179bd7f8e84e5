/* mem.h: labelled, tracked, 64-byte aligned allocation.
 *
 * All large buffers go through ms_malloc so that each rank can report its current and
 * peak use (benchmarks record peak memory per rank). Blocks are 64-byte aligned for
 * BLAS and vector loads. A fault-injection hook makes the N-th allocation fail, so the
 * tests can reach every out-of-memory path. Thread safe (atomic counters). */
#ifndef MSTARS_MEM_H
#define MSTARS_MEM_H

#include <stddef.h>

/* Allocate n bytes (n may be 0). Returns NULL on failure and records an MS_ENOMEM message
 * naming `label`. Free with ms_free. */
void *ms_malloc(const char *label, size_t n);
/* Zero-filled array of count * size bytes, overflow-checked. */
void *ms_calloc(const char *label, size_t count, size_t size);
/* Grow or shrink a block from ms_malloc (NULL p behaves like ms_malloc). On failure the
 * old block is left untouched and NULL is returned. */
void *ms_realloc(const char *label, void *p, size_t n);
void ms_free(void *p);

/* Allocate count * size bytes with overflow check (uninitialised). */
void *ms_malloc_array(const char *label, size_t count, size_t size);

size_t ms_mem_current(void); /* bytes currently held through ms_malloc */
size_t ms_mem_peak(void);    /* high-water mark of ms_mem_current */
/* Peak resident set size of the process in bytes (from getrusage), 0 if unknown. */
size_t ms_mem_peak_rss(void);

/* Fault injection: make the allocation after `n` more successful ones fail (n < 0: off). */
void ms_mem_fail_after(long n);

#endif
