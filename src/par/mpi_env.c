/* mpi_env.c: MPI start-up and checked collective wrappers (see par.h). */
#include "mstars/par.h"
#include "mstars/comm.h"
#include "mstars/log.h"

#include <limits.h>
#include <signal.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int par_started;
static int par_rank;
static int par_size = 1;
static int par_thread_multiple;

static ms_status mpi_check(int rc, const char *what)
{
    if (rc == MPI_SUCCESS) return MS_OK;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    MS_ERROR(MS_EMPI, "%s failed: %s", what, msg);
}

ms_status ms_par_init(int *argc, char ***argv)
{
    if (par_started) return MS_OK;
    int initialized = 0;
    MS_TRY(mpi_check(MPI_Initialized(&initialized), "MPI_Initialized"));
    int provided = MPI_THREAD_SINGLE;
    /* the work distributor runs a master thread beside rank 0's worker (workq.h) */
    if (!initialized)
        MS_TRY(mpi_check(MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided),
                         "MPI_Init_thread"));
    else
        MS_TRY(mpi_check(MPI_Query_thread(&provided), "MPI_Query_thread"));
    par_thread_multiple = provided >= MPI_THREAD_MULTIPLE;
    /* return codes instead of aborting, so failures carry our messages */
    MS_TRY(mpi_check(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN),
                     "MPI_Comm_set_errhandler"));
    MS_TRY(mpi_check(MPI_Comm_rank(MPI_COMM_WORLD, &par_rank), "MPI_Comm_rank"));
    MS_TRY(mpi_check(MPI_Comm_size(MPI_COMM_WORLD, &par_size), "MPI_Comm_size"));
    par_started = 1;
    ms_log_set_rank(par_rank);
    return MS_OK;
}

void ms_par_finalize(void)
{
    if (!par_started) return;
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
    par_started = 0;
}

int ms_par_rank(void) { return par_rank; }
int ms_par_size(void) { return par_size; }
int ms_par_active(void) { return par_started; }
int ms_par_thread_multiple(void) { return par_thread_multiple; }

/* The work queue catches SIGTERM and SIGINT to stop cleanly; a rank being aborted must die
 * on the runtime's SIGTERM instead of running on while the runtime tears down. */
static void default_signals(void)
{
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
}

_Noreturn void ms_par_abort(int code)
{
    fflush(stdout);
    fflush(stderr);
    default_signals();
    if (par_started && par_size > 1) MPI_Abort(MPI_COMM_WORLD, code);
    /* one process: _exit, not exit: the library's exit handlers (HDF5 closing its files)
     * would flush a file whose write failed and crash in MPI */
    if (par_started) _exit(code);
    exit(code);
}

_Noreturn void ms_par_abort_all(int code)
{
    if (!par_started || par_size == 1 || par_rank == 0) ms_par_abort(code);
    /* Only rank 0 calls MPI_Abort; the others wait outside any MPI call to be killed by it.
     * When every rank aborted at once (after a barrier), a rank could still be inside the
     * barrier's last step, or inside its own MPI_Abort, while the runtime removed the
     * shared-memory segments: it died of a segmentation fault (seen once in CI under load,
     * 3 ranks on a full disk) and mpiexec's exit status was the signal's, not `code`. */
    fflush(stdout);
    fflush(stderr);
    default_signals();
    for (int s = 0; s < 600; s++) sleep(1); /* rank 0's abort arrives within seconds */
    _exit(code);
}

ms_status ms_par_barrier(void)
{
    if (!par_started) return MS_OK;
    return mpi_check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
}

ms_status ms_par_bcast(void *buf, size_t n)
{
    if (!par_started || par_size == 1) return MS_OK;
    char *p = buf;
    while (n > 0) { /* MPI counts are int */
        int chunk = n > (size_t)INT_MAX ? INT_MAX : (int)n;
        MS_TRY(mpi_check(MPI_Bcast(p, chunk, MPI_BYTE, 0, MPI_COMM_WORLD), "MPI_Bcast"));
        p += chunk;
        n -= (size_t)chunk;
    }
    return MS_OK;
}

/* Share the error message of rank `from` with every rank. */
static ms_status share_message(int from)
{
    char msg[1024];
    if (par_rank == from) snprintf(msg, sizeof msg, "%s", ms_error_message());
    MS_TRY(mpi_check(MPI_Bcast(msg, sizeof msg, MPI_CHAR, from, MPI_COMM_WORLD), "MPI_Bcast"));
    msg[sizeof msg - 1] = '\0';
    if (par_rank != from) ms_error_set(MS_OK, __FILE__, __LINE__, "%s", msg);
    return MS_OK;
}

ms_status ms_par_agree(ms_status st)
{
    if (!par_started || par_size == 1) return st;
    int s = (int)st;
    MS_TRY(mpi_check(MPI_Bcast(&s, 1, MPI_INT, 0, MPI_COMM_WORLD), "MPI_Bcast"));
    if (s != MS_OK) MS_TRY(share_message(0));
    return (ms_status)s;
}

ms_status ms_par_any_failed(ms_status st)
{
    if (!par_started || par_size == 1) return st;
    int mine[2] = {(int)st, st != MS_OK ? par_rank : par_size}, all[2];
    MS_TRY(mpi_check(MPI_Allreduce(&mine[0], &all[0], 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD),
                     "MPI_Allreduce"));
    MS_TRY(mpi_check(MPI_Allreduce(&mine[1], &all[1], 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD),
                     "MPI_Allreduce"));
    if (all[0] != MS_OK && all[1] < par_size) MS_TRY(share_message(all[1]));
    return (ms_status)all[0];
}

static ms_status allreduce(void *buf, size_t n, MPI_Datatype type, size_t elem, MPI_Op op)
{
    if (!par_started || par_size == 1) return MS_OK;
    char *p = buf;
    while (n > 0) {
        int chunk = n > (size_t)INT_MAX ? INT_MAX : (int)n;
        MS_TRY(mpi_check(MPI_Allreduce(MPI_IN_PLACE, p, chunk, type, op, MPI_COMM_WORLD),
                         "MPI_Allreduce"));
        p += (size_t)chunk * elem;
        n -= (size_t)chunk;
    }
    return MS_OK;
}

ms_status ms_par_allreduce_sum_f(float *buf, size_t n)
{
    return allreduce(buf, n, MPI_FLOAT, sizeof(float), MPI_SUM);
}
ms_status ms_par_allreduce_sum_d(double *buf, size_t n)
{
    return allreduce(buf, n, MPI_DOUBLE, sizeof(double), MPI_SUM);
}
ms_status ms_par_allreduce_sum_l(long *buf, size_t n)
{
    return allreduce(buf, n, MPI_LONG, sizeof(long), MPI_SUM);
}
ms_status ms_par_allreduce_max_d(double *buf, size_t n)
{
    return allreduce(buf, n, MPI_DOUBLE, sizeof(double), MPI_MAX);
}

ms_status ms_par_allgather_d(const double *in, size_t n, double *out)
{
    if (!par_started || par_size == 1) {
        memcpy(out, in, n * sizeof *in);
        return MS_OK;
    }
    if (n > (size_t)INT_MAX) MS_ERROR(MS_EINVAL, "allgather of %zu values is too large", n);
    return mpi_check(MPI_Allgather(in, (int)n, MPI_DOUBLE, out, (int)n, MPI_DOUBLE,
                                   MPI_COMM_WORLD), "MPI_Allgather");
}

double ms_par_wtime(void) { return MPI_Wtime(); }

void ms_par_library_version(char *buf, size_t len)
{
    char v[MPI_MAX_LIBRARY_VERSION_STRING];
    int n = 0;
    if (MPI_Get_library_version(v, &n) != MPI_SUCCESS) {
        snprintf(buf, len, "unknown");
        return;
    }
    /* first line only, e.g. "Open MPI v4.1.4, package: Debian OpenMPI, ..." */
    char *nl = strchr(v, '\n');
    if (nl) *nl = '\0';
    char *comma = strstr(v, ", package");
    if (comma) *comma = '\0';
    int major = 0, minor = 0;
    MPI_Get_version(&major, &minor);
    snprintf(buf, len, "%s (MPI %d.%d)", v, major, minor);
}

/* The MPI job as an ms_comm (comm.h), for the library modules a stage driver calls. Rank and
 * size are read when it is asked for, after ms_par_init. */
static ms_comm par_comm;

const ms_comm *ms_par_comm(void)
{
    par_comm = (ms_comm){
        par_rank, par_size, ms_par_barrier, ms_par_bcast, ms_par_agree, ms_par_any_failed,
        ms_par_allreduce_sum_f, ms_par_allreduce_sum_d, ms_par_allreduce_sum_l,
        ms_par_allreduce_max_d, ms_par_wtime,
    };
    return &par_comm;
}
