/* bench_join.c: the position join of join.h (sorted-declination sweep) on N table and N row
 * positions, for bench_join.sh (against scipy's cKDTree on unit vectors).
 *
 *   bench_join POSITIONS.bin N REPEATS RADIUS_ARCSEC OUT.txt
 *
 * POSITIONS.bin: 4N float64 (table ra, table dec, row ra, row dec), written by bench_join.py.
 * Prints the median wall and CPU time of REPEATS joins; OUT.txt: the matched table row of
 * every row (-1: none). */
#include "bench_util.h"
#include "mstars/join.h"
#include "mstars/mem.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: bench_join POSITIONS.bin N REPEATS RADIUS_ARCSEC OUT.txt\n");
        return 2;
    }
    const size_t n = (size_t)atol(argv[2]);
    const int reps = atoi(argv[3]);
    const double radius = atof(argv[4]);
    double *p = ms_malloc_array("bench.pos", 4 * n, sizeof(double));
    long *row = ms_malloc_array("bench.row", n, sizeof(long));
    unsigned char *amb = ms_malloc_array("bench.amb", n, 1);
    FILE *f = fopen(argv[1], "rb");
    if (!p || !row || !amb || !f || fread(p, sizeof(double), 4 * n, f) != 4 * n) {
        fprintf(stderr, "bench_join: cannot read %s\n", argv[1]);
        return 1;
    }
    fclose(f);
    double wall[64], cpu[64];
    for (int r = 0; r < reps && r < 64; r++) {
        double w0 = now_s(), c0 = cpu_s();
        if (ms_join_position(p, p + n, n, p + 2 * n, p + 3 * n, n, radius, row, NULL, amb) != MS_OK)
            return 1;
        wall[r] = now_s() - w0;
        cpu[r] = cpu_s() - c0;
    }
    size_t matched = 0, ambiguous = 0;
    FILE *o = fopen(argv[5], "w");
    for (size_t i = 0; i < n; i++) {
        matched += row[i] >= 0;
        ambiguous += amb[i];
        fprintf(o, "%ld\n", row[i]);
    }
    fclose(o);
    printf("mstars (zones): %zu x %zu positions, radius %g\": median %.3f s wall, %.3f s "
           "CPU over %d runs; %zu matched, %zu ambiguous\n", n, n, radius,
           median(wall, (size_t)reps), median(cpu, (size_t)reps), reps, matched, ambiguous);
    ms_free(p);
    ms_free(row);
    ms_free(amb);
    return 0;
}
