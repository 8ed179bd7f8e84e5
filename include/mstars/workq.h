/* workq.h: dynamic work distribution over MPI ranks ("master hands out chunks").
 *
 * The items [0, n_chunks) (chunks of spectra) are handed out on demand: a worker asks for
 * its next chunk as soon as it starts the current one (one chunk of look-ahead hides the
 * round trip), so a slow chunk never stalls the others. The master is a thread on rank 0
 * that polls with MPI_Test and sleeps between polls, so rank 0 also works; it logs
 * progress (done/total, rate, ETA, failures) every `progress_seconds`.
 *
 * Stopping: ms_workq_request_stop() (called from a SIGTERM handler, or when the
 * `max_runtime` passes) makes the master hand out nothing more; chunks in flight finish;
 * ms_workq_run returns MS_EINTERRUPTED on every rank so that the caller saves its state.
 *
 * Only `pending` chunks are handed out (a resumed run passes the chunks not yet done).
 * Collective: every rank calls ms_workq_run with the same arguments. */
#ifndef MSTARS_WORKQ_H
#define MSTARS_WORKQ_H

#include "mstars/status.h"

#include <stddef.h>

/* Process chunk `chunk`; add to *n_failed the items that failed (for the progress line).
 * A non-OK return is fatal for the whole run (e.g. the catalog cannot be written). */
typedef ms_status (*ms_workq_fn)(void *ctx, size_t chunk, long *n_failed);

typedef struct {
    const size_t *pending;   /* chunk ids to process, in order of hand-out */
    size_t n_pending;
    size_t items_per_chunk;  /* for progress lines only */
    size_t items_total;      /* items in the pending chunks, for progress lines */
    double progress_seconds; /* 0: no progress lines */
    double max_runtime;      /* seconds after which no new chunk starts (0: none) */
    const char *what;        /* noun for progress lines, e.g. "spectra" */
} ms_workq_opts;

typedef struct {
    size_t chunks_done;      /* over all ranks */
    long failed;             /* over all ranks */
    double seconds;
    double master_busy;      /* seconds the master thread spent serving requests */
    size_t requests;         /* requests served by the master */
} ms_workq_stats;

ms_status ms_workq_run(const ms_workq_opts *opts, ms_workq_fn fn, void *ctx,
                       ms_workq_stats *stats);

/* Async-signal-safe: ask the running queue to stop handing out work. */
void ms_workq_request_stop(void);
/* Install SIGTERM and SIGINT handlers that call ms_workq_request_stop. */
void ms_workq_install_signal_handlers(void);
/* 1 when a stop was requested. */
int ms_workq_stop_requested(void);
/* Forget an earlier stop request (before a second run in the same process). */
void ms_workq_clear_stop(void);

#endif
