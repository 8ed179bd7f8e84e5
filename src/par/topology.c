/* topology.c: core binding and BLAS thread counts per rank (hwloc).
 *
 * Ranks on one node split the node's cores evenly: local rank r of n gets cores
 * [r * c / n, (r + 1) * c / n) (at least one), unless the launcher already bound the
 * process to fewer PUs than the machine has (srun --cpu-bind, mpirun --bind-to), which
 * is respected. BLAS threads = general.blas_threads, or the cores of the rank when 0, so
 * that ranks x threads fits the cores given. */
#include "mstars/par.h"
#include "mstars/log.h"

#include <hwloc.h>
#include <mpi.h>
#include <stdio.h>
#include <string.h>

extern void openblas_set_num_threads(int n);

static void local_rank(int *lrank, int *lsize)
{
    *lrank = 0;
    *lsize = 1;
    if (!ms_par_active()) return;
    MPI_Comm node;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) !=
        MPI_SUCCESS)
        return;
    MPI_Comm_rank(node, lrank);
    MPI_Comm_size(node, lsize);
    MPI_Comm_free(&node);
}

ms_status ms_par_bind(long blas_threads, int *threads_out)
{
    hwloc_topology_t topo;
    if (hwloc_topology_init(&topo) != 0 || hwloc_topology_load(topo) != 0)
        MS_ERROR(MS_EINVAL, "hwloc cannot read the machine topology");
    int cores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
    int pus = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
    int numa = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
    if (cores <= 0) cores = pus > 0 ? pus : 1;
    int lrank, lsize;
    local_rank(&lrank, &lsize);

    hwloc_bitmap_t cur = hwloc_bitmap_alloc(), set = hwloc_bitmap_alloc();
    int bound_by_launcher = 0, my_cores = 1;
    if (cur && hwloc_get_cpubind(topo, cur, HWLOC_CPUBIND_PROCESS) == 0)
        bound_by_launcher = hwloc_bitmap_weight(cur) > 0 && hwloc_bitmap_weight(cur) < pus;
    char where[256] = "";
    if (bound_by_launcher) {
        my_cores = hwloc_get_nbobjs_inside_cpuset_by_type(topo, cur, HWLOC_OBJ_CORE);
        if (my_cores < 1) my_cores = 1;
        hwloc_bitmap_list_snprintf(where, sizeof where, cur);
    } else if (lsize <= cores && set) {
        int first = lrank * cores / lsize, last = (lrank + 1) * cores / lsize;
        if (last <= first) last = first + 1;
        for (int c = first; c < last; c++) {
            hwloc_obj_t core = hwloc_get_obj_by_type(topo, HWLOC_OBJ_CORE, (unsigned)c);
            if (core) hwloc_bitmap_or(set, set, core->cpuset);
        }
        my_cores = last - first;
        if (hwloc_set_cpubind(topo, set, HWLOC_CPUBIND_PROCESS) == 0)
            hwloc_bitmap_list_snprintf(where, sizeof where, set);
        else
            snprintf(where, sizeof where, "(binding refused by the OS)");
    } else {
        snprintf(where, sizeof where, "(more ranks than cores: not bound)");
    }
    int threads = blas_threads > 0 ? (int)blas_threads : my_cores;
    openblas_set_num_threads(threads);
    if (threads_out) *threads_out = threads;
    ms_log_info("topology: %d core(s), %d PU(s), %d NUMA node(s); local rank %d of %d bound to "
                "PU %s%s; BLAS threads %d", cores, pus, numa > 0 ? numa : 1, lrank, lsize, where,
                bound_by_launcher ? " (by the launcher)" : "", threads);
    if (cur) hwloc_bitmap_free(cur);
    if (set) hwloc_bitmap_free(set);
    hwloc_topology_destroy(topo);
    return MS_OK;
}
