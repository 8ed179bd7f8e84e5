/* par.h: the MPI layer: start-up, topology and binding, the work queue (workq.h), checked
 * collectives. Only src/par and src/io include mpi.h, and only the stage drivers (src/stage)
 * and io call par: library modules get the job's ranks as an ms_comm (comm.h). */
#ifndef MSTARS_PAR_H
#define MSTARS_PAR_H

#include "mstars/config.h"
#include "mstars/status.h"

#include <stddef.h>

/* Start MPI (works as a singleton without mpirun) and set the log rank. */
ms_status ms_par_init(int *argc, char ***argv);
/* Finalize MPI if it was started. */
void ms_par_finalize(void);
int ms_par_rank(void);
int ms_par_size(void);
int ms_par_active(void); /* 1 after ms_par_init */
/* 1 when MPI granted MPI_THREAD_MULTIPLE (the work distributor then runs its master as a
 * thread and rank 0 also works). */
int ms_par_thread_multiple(void);

/* Abort every rank with the given exit code (fatal errors found by one rank only). With one
 * rank under MPI: _exit (no exit handlers: HDF5's would flush files whose writes failed). */
_Noreturn void ms_par_abort(int code);
/* Collective abort: every rank calls it once all agree on a fatal failure (ms_par_any_failed).
 * Rank 0 aborts the job with `code`; the other ranks wait, outside MPI, to be killed by it. */
_Noreturn void ms_par_abort_all(int code);

ms_status ms_par_barrier(void);
/* Broadcast n bytes from rank 0. */
ms_status ms_par_bcast(void *buf, size_t n);
/* Rank 0's status decides for all: returns rank 0's status on every rank and, on the
 * others, copies rank 0's error message so that each rank can report it. */
ms_status ms_par_agree(ms_status st);
/* Largest status over ranks (any failure fails all). The message of the lowest failing
 * rank is copied to every rank. */
ms_status ms_par_any_failed(ms_status st);
/* In-place sums over ranks. */
ms_status ms_par_allreduce_sum_f(float *buf, size_t n);
ms_status ms_par_allreduce_sum_d(double *buf, size_t n);
ms_status ms_par_allreduce_sum_l(long *buf, size_t n);
ms_status ms_par_allreduce_max_d(double *buf, size_t n);
/* Gather `n` doubles from every rank into out (size n * ranks) on every rank. */
ms_status ms_par_allgather_d(const double *in, size_t n, double *out);
double ms_par_wtime(void);

/* Bind this rank to its share of the node's cores (unless the launcher bound it) and
 * set the BLAS thread count (blas_threads, or the rank's cores when 0); logs the
 * topology and the binding. */
ms_status ms_par_bind(long blas_threads, int *threads_out);

/* This job as an ms_comm (comm.h): what the stage drivers hand to library modules. */
struct ms_comm;
const struct ms_comm *ms_par_comm(void);

/* Human-readable MPI library version (for --version). */
void ms_par_library_version(char *buf, size_t len);

#endif
