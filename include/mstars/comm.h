/* comm.h: all that a library module (nn, sim, spec, fit, the methods) may know of the
 * ranks it runs on. Library modules never include mpi.h or par.h: a stage driver (src/stage)
 * hands them an ms_comm, ms_par_comm() for the MPI job or ms_comm_serial() for one process
 * (tests, tools). Every collective must be called by every rank of the job, in the same order.
 *
 * The one exact all-reduce (sum_exact) is what every trainer uses to sum gradients: the result
 * is bit-identical for any number of ranks and any split of the work, because each segment
 * (a tensor) is summed in 64-bit fixed point with a scale shared by all ranks. */
#ifndef MSTARS_COMM_H
#define MSTARS_COMM_H

#include "mstars/status.h"

#include <stddef.h>

typedef struct ms_comm ms_comm;

/* Segments of a gradient vector that share one fixed-point scale (e.g. the tensors of a
 * network): segment k covers [off[k], off[k] + len[k]). */
typedef struct {
    const size_t *off, *len;
    size_t n;
} ms_segments;

struct ms_comm {
    int rank, size;
    ms_status (*barrier)(void);
    ms_status (*bcast)(void *buf, size_t n);        /* n bytes from rank 0 */
    ms_status (*agree)(ms_status st);               /* rank 0's status decides for all */
    ms_status (*any_failed)(ms_status st);          /* the worst status of any rank */
    ms_status (*sum_f)(float *buf, size_t n);       /* in-place sums (order: MPI's) */
    ms_status (*sum_d)(double *buf, size_t n);
    ms_status (*sum_l)(long *buf, size_t n);        /* exact */
    ms_status (*max_d)(double *buf, size_t n);
    double (*wtime)(void);
};

/* One process: rank 0 of 1; every collective is the identity. */
const ms_comm *ms_comm_serial(void);

/* The exact all-reduce (par.h's implementation of it, usable with any ms_comm):
 *   out[i] = sum over ranks r and local shards s < nb of shards[s * n + i]
 * For each segment k the scale is 2^(62 - e) with max|g| * n_global < 2^e (max over every
 * rank), each value is rounded to the nearest fixed-point unit and the 64-bit integers are
 * summed exactly, so the sum does not depend on the order or on which rank held which of the
 * n_global shards (values below 2^-38 of the segment's largest are lost: far below float
 * precision of the sum). isum [n] and scale [segs->n] are work buffers. On a non-finite
 * value anywhere, returns MS_ENOPROG with *bad_segment = its segment on every rank. */
ms_status ms_comm_sum_exact(const ms_comm *c, const float *shards, size_t nb, size_t n,
                            const ms_segments *segs, size_t n_global, long *isum,
                            double *scale, float *out, size_t *bad_segment);

#endif
