/* workqueue.c: dynamic chunk distribution (see workq.h).
 *
 * Protocol (tags): a worker sends REQ {chunks finished, items failed} and receives
 * ASSIGN {chunk id, or -1 = no more work}. Every worker keeps exactly one request
 * outstanding while it works, so the master answers while the worker computes. Rank 0's
 * own worker loop takes chunks from the same counter under a mutex, without MPI. */
#include "mstars/workq.h"
#include "mstars/log.h"
#include "mstars/par.h"

#include <errno.h>
#include <mpi.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

enum { TAG_REQ = 7101, TAG_ASSIGN = 7102 };

static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t stop_on_error; /* the stop is a rank's failure, not a signal */

void ms_workq_request_stop(void) { stop_flag = 1; }
int ms_workq_stop_requested(void) { return stop_flag != 0; }
void ms_workq_clear_stop(void) { stop_flag = stop_on_error = 0; }

/* A rank failed: stop handing out work (the progress line says why). */
static void stop_after_error(void)
{
    stop_on_error = 1;
    stop_flag = 1;
}

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

void ms_workq_install_signal_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

typedef struct {
    const ms_workq_opts *opts;
    pthread_mutex_t lock;
    size_t next;          /* index into opts->pending */
    size_t done;          /* chunks finished (all ranks) */
    long failed;          /* items failed (all ranks) */
    int stopping;
    double t0, last_progress, busy;
    size_t requests;
    ms_status status;     /* of the master thread */
} master_state;

static double now_s(void) { return MPI_Wtime(); }

/* Next chunk id to hand out, or -1 (under the lock). */
static int64_t take_locked(master_state *m)
{
    if (!m->stopping && (stop_flag || (m->opts->max_runtime > 0 &&
                                       now_s() - m->t0 > m->opts->max_runtime))) {
        m->stopping = 1;
        ms_log_warn("stop requested (%s): no new chunks are started; chunks in flight finish",
                    stop_on_error ? "a rank failed" : stop_flag ? "signal" : "max runtime reached");
    }
    if (m->stopping || m->next >= m->opts->n_pending) return -1;
    return (int64_t)m->opts->pending[m->next++];
}

static void progress_locked(master_state *m, int final)
{
    const ms_workq_opts *o = m->opts;
    double t = now_s();
    if (o->progress_seconds <= 0 || (!final && t - m->last_progress < o->progress_seconds))
        return;
    m->last_progress = t;
    double items = (double)m->done * (double)o->items_per_chunk;
    if (items > (double)o->items_total) items = (double)o->items_total;
    double rate = items / (t - m->t0 + 1e-9);
    double eta = rate > 0 ? ((double)o->items_total - items) / rate : 0.0;
    ms_log_info("progress: %.0f / %zu %s (%.1f%%), %.1f %s/s, ETA %.0f s, %ld flagged so far "
                "(failed or unusable)",
                items, o->items_total, o->what ? o->what : "items",
                o->items_total ? 100.0 * items / (double)o->items_total : 100.0, rate,
                o->what ? o->what : "items", eta, m->failed);
}

/* The master thread: answer requests until every worker has been told to stop. */
static void *master_main(void *arg)
{
    master_state *m = arg;
    int size = ms_par_size(), active = size - 1;
    int64_t reqbuf[2]; /* per request: {chunks finished, items failed} */
    MPI_Request req;
    MPI_Status stat;
    int rc = MPI_Irecv(reqbuf, 2, MPI_INT64_T, MPI_ANY_SOURCE, TAG_REQ, MPI_COMM_WORLD, &req);
    while (rc == MPI_SUCCESS && active > 0) {
        int flag = 0;
        rc = MPI_Test(&req, &flag, &stat);
        if (rc != MPI_SUCCESS) break;
        if (!flag) {
            pthread_mutex_lock(&m->lock);
            progress_locked(m, 0);
            pthread_mutex_unlock(&m->lock);
            struct timespec ts = {0, 200000}; /* 0.2 ms: negligible latency, idle CPU */
            nanosleep(&ts, NULL);
            continue;
        }
        double t = now_s();
        int64_t reply[1];
        pthread_mutex_lock(&m->lock);
        m->done += (size_t)reqbuf[0];
        m->failed += (long)reqbuf[1];
        m->requests++;
        reply[0] = take_locked(m);
        pthread_mutex_unlock(&m->lock);
        if (reply[0] < 0) active--;
        int src = stat.MPI_SOURCE;
        rc = MPI_Send(reply, 1, MPI_INT64_T, src, TAG_ASSIGN, MPI_COMM_WORLD);
        if (rc == MPI_SUCCESS && active > 0)
            rc = MPI_Irecv(reqbuf, 2, MPI_INT64_T, MPI_ANY_SOURCE, TAG_REQ, MPI_COMM_WORLD, &req);
        m->busy += now_s() - t;
    }
    if (rc != MPI_SUCCESS) {
        m->status = ms_error_set(MS_EMPI, __FILE__, __LINE__, "work distribution: MPI error %d",
                                 rc);
        ms_log_error("%s", ms_error_message());
    }
    return NULL;
}

/* Worker loop on ranks > 0: one request always in flight. */
static ms_status worker_loop(ms_workq_fn fn, void *ctx, long *my_done, long *my_failed)
{
    int64_t req[2] = {0, 0}, chunk = -1;
    ms_status st = MS_OK;
    if (MPI_Send(req, 2, MPI_INT64_T, 0, TAG_REQ, MPI_COMM_WORLD) != MPI_SUCCESS ||
        MPI_Recv(&chunk, 1, MPI_INT64_T, 0, TAG_ASSIGN, MPI_COMM_WORLD, MPI_STATUS_IGNORE) !=
            MPI_SUCCESS)
        MS_ERROR(MS_EMPI, "work distribution: first request failed");
    while (chunk >= 0) {
        /* ask for the next chunk now; report this one when it is done (next request) */
        int64_t next = -1;
        MPI_Request rreq;
        long failed = 0;
        if (MPI_Irecv(&next, 1, MPI_INT64_T, 0, TAG_ASSIGN, MPI_COMM_WORLD, &rreq) !=
            MPI_SUCCESS)
            MS_ERROR(MS_EMPI, "work distribution: receive failed");
        int64_t ask[2] = {req[0], req[1]};
        if (MPI_Send(ask, 2, MPI_INT64_T, 0, TAG_REQ, MPI_COMM_WORLD) != MPI_SUCCESS)
            MS_ERROR(MS_EMPI, "work distribution: request failed");
        if (st == MS_OK) {
            st = fn(ctx, (size_t)chunk, &failed);
            ++*my_done;
            *my_failed += failed;
        }
        req[0] = 1;
        req[1] = failed;
        if (MPI_Wait(&rreq, MPI_STATUS_IGNORE) != MPI_SUCCESS)
            MS_ERROR(MS_EMPI, "work distribution: wait failed");
        chunk = next;
        if (st != MS_OK) { /* keep answering the protocol, but do no more work */
            while (chunk >= 0) {
                int64_t drop[2] = {0, 0};
                if (MPI_Send(drop, 2, MPI_INT64_T, 0, TAG_REQ, MPI_COMM_WORLD) != MPI_SUCCESS ||
                    MPI_Recv(&chunk, 1, MPI_INT64_T, 0, TAG_ASSIGN, MPI_COMM_WORLD,
                             MPI_STATUS_IGNORE) != MPI_SUCCESS)
                    break;
            }
            stop_after_error();
        }
    }
    /* the last chunk's count never reaches the master (it answered "no more" first):
     * the totals come from the closing reduction */
    return st;
}

ms_status ms_workq_run(const ms_workq_opts *opts, ms_workq_fn fn, void *ctx,
                       ms_workq_stats *stats)
{
    memset(stats, 0, sizeof *stats);
    master_state m;
    memset(&m, 0, sizeof m);
    m.opts = opts;
    m.t0 = m.last_progress = now_s();
    pthread_mutex_init(&m.lock, NULL);
    int rank = ms_par_rank(), size = ms_par_size();
    ms_status st = MS_OK;
    long my_done = 0, my_failed = 0;
    if (rank == 0 && size > 1 && !ms_par_thread_multiple()) {
        /* MPI without thread support: rank 0 only distributes */
        master_main(&m);
        st = m.status;
    } else if (rank == 0) {
        pthread_t thread;
        int threaded = size > 1;
        if (threaded && pthread_create(&thread, NULL, master_main, &m) != 0) {
            threaded = 0;
            st = ms_error_set(MS_EMPI, __FILE__, __LINE__, "cannot start the master thread");
        }
        for (;;) {
            pthread_mutex_lock(&m.lock);
            int64_t chunk = st == MS_OK ? take_locked(&m) : -1;
            if (size == 1) progress_locked(&m, 0);
            pthread_mutex_unlock(&m.lock);
            if (chunk < 0) break;
            long failed = 0;
            st = fn(ctx, (size_t)chunk, &failed);
            pthread_mutex_lock(&m.lock);
            m.done++;
            m.failed += failed;
            pthread_mutex_unlock(&m.lock);
            my_done++;
            my_failed += failed;
            if (st != MS_OK) stop_after_error();
        }
        if (threaded) pthread_join(thread, NULL);
        if (st == MS_OK) st = m.status;
    } else {
        st = worker_loop(fn, ctx, &my_done, &my_failed);
    }
    st = ms_par_any_failed(st);
    long totals[2] = {my_done, my_failed};
    ms_status rst = ms_par_allreduce_sum_l(totals, 2);
    if (st == MS_OK) st = rst;
    stats->chunks_done = (size_t)totals[0];
    stats->failed = totals[1];
    int stopped = stop_flag || m.stopping;
    int any_stopped = stopped;
    if (ms_par_active() && size > 1)
        MPI_Allreduce(&stopped, &any_stopped, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    stats->seconds = now_s() - m.t0;
    stats->master_busy = m.busy;
    stats->requests = m.requests;
    pthread_mutex_destroy(&m.lock);
    if (st != MS_OK) return st;
    if (any_stopped) {
        stop_flag = 1;
        return ms_error_set(MS_EINTERRUPTED, __FILE__, __LINE__,
                            "stopped before all chunks were processed");
    }
    return MS_OK;
}
