/* bench_catalog.c: write throughput of the survey catalog (catalog.h), issue 8.
 *
 * Every rank writes its share of chunks (round robin, as a steady survey run would) of a
 * catalog with the column set of `mstars fit --csn` (53 float64, 9 int32/uint32, 2 int64
 * and 3 string columns: 520 bytes per row), each chunk into the parallel HDF5 file
 * (independent I/O, one write per column) and into the rank's fsync'ed journal, exactly as
 * the survey job does; then the catalog is committed. Reports, per rank count: rows per
 * second and MB/s of the chunk writes (the time inside ms_catalog_write_chunk, summed
 * over ranks and divided by the wall time of the write phase), and the open and commit
 * times. No fitting: the rows are synthetic.
 *
 * Usage: mpirun -n P bench_catalog [--rows N] [--chunk C] [--out DIR]
 */
#include "mstars/catalog.h"
#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/par.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_F64 53
#define N_I32 9

typedef struct {
    double f[N_F64];
    int32_t i[N_I32];
    int64_t id, source_id;
    char obsid[32], subclass[16], spt[8];
} row_t;

static ms_catalog_column *make_columns(void)
{
    static char names[N_F64 + N_I32 + 5][32];
    ms_catalog_column *c = calloc(N_F64 + N_I32 + 6, sizeof *c);
    if (!c) return NULL;
    size_t k = 0;
    for (int j = 0; j < N_F64; j++, k++) {
        snprintf(names[k], sizeof names[k], "/catalog/f%02d", j);
        c[k] = (ms_catalog_column){names[k], MS_H5_F64, 0, offsetof(row_t, f) + (size_t)j * 8, "", "f64"};
    }
    for (int j = 0; j < N_I32; j++, k++) {
        snprintf(names[k], sizeof names[k], "/catalog/i%02d", j);
        c[k] = (ms_catalog_column){names[k], MS_H5_I32, 0, offsetof(row_t, i) + (size_t)j * 4, "", "i32"};
    }
    c[k++] = (ms_catalog_column){"/catalog/id", MS_H5_I64, 0, offsetof(row_t, id), "", "id"};
    c[k++] = (ms_catalog_column){"/catalog/source_id", MS_H5_I64, 0, offsetof(row_t, source_id), "", "id"};
    c[k++] = (ms_catalog_column){"/catalog/obsid", MS_H5_STR, 32, offsetof(row_t, obsid), "", "s"};
    c[k++] = (ms_catalog_column){"/catalog/subclass", MS_H5_STR, 16, offsetof(row_t, subclass), "", "s"};
    c[k++] = (ms_catalog_column){"/catalog/spt_label", MS_H5_STR, 8, offsetof(row_t, spt), "", "s"};
    return c;
}

int main(int argc, char **argv)
{
    size_t n_rows = 100000, chunk = 256;
    const char *dir = ".";
    if (ms_par_init(&argc, &argv) != MS_OK) return 1;
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--rows") && a + 1 < argc) n_rows = (size_t)atol(argv[++a]);
        else if (!strcmp(argv[a], "--chunk") && a + 1 < argc) chunk = (size_t)atol(argv[++a]);
        else if (!strcmp(argv[a], "--out") && a + 1 < argc) dir = argv[++a];
        else {
            fprintf(stderr, "usage: bench_catalog [--rows N] [--chunk C] [--out DIR]\n");
            ms_par_finalize();
            return 2;
        }
    }
    int rank = ms_par_rank(), size = ms_par_size();
    char path[4096];
    snprintf(path, sizeof path, "%s/bench_catalog_%d.h5", dir, size);
    ms_catalog_column *cols = make_columns();
    row_t *rows = calloc(chunk, sizeof *rows);
    if (!cols || !rows) return 1;
    size_t n_chunks = (n_rows + chunk - 1) / chunk;
    ms_catalog_opts o = {path, cols, sizeof(row_t), n_rows, chunk, 42, 0};
    ms_catalog *cat = NULL;
    uint8_t *done = NULL;
    double t0 = ms_par_wtime();
    ms_status st = ms_catalog_open(&o, &cat, &done);
    double t_open = ms_par_wtime() - t0, t_write = 0.0;
    if (st != MS_OK) {
        fprintf(stderr, "bench_catalog: %s\n", ms_error_message());
        ms_par_finalize();
        return 1;
    }
    ms_par_barrier();
    double tw0 = ms_par_wtime();
    for (size_t c = (size_t)rank; c < n_chunks && st == MS_OK; c += (size_t)size) {
        size_t row0 = c * chunk, n = row0 + chunk > n_rows ? n_rows - row0 : chunk;
        for (size_t r = 0; r < n; r++) {
            row_t *w = &rows[r];
            for (int j = 0; j < N_F64; j++) w->f[j] = (double)(row0 + r) + 0.001 * j;
            for (int j = 0; j < N_I32; j++) w->i[j] = (int32_t)(row0 + r + (size_t)j);
            w->id = (int64_t)(row0 + r);
            w->source_id = 1000000000000000000LL + (int64_t)(row0 + r);
            snprintf(w->obsid, sizeof w->obsid, "%zu", 100000000 + row0 + r);
            snprintf(w->subclass, sizeof w->subclass, "M%zu", (row0 + r) % 8);
            snprintf(w->spt, sizeof w->spt, "M%zu.5", (row0 + r) % 8);
        }
        double a = ms_par_wtime();
        st = ms_catalog_write_chunk(cat, c, row0, n, rows);
        t_write += ms_par_wtime() - a;
    }
    st = ms_par_any_failed(st);
    double t_phase = ms_par_wtime() - tw0;
    double t1 = ms_par_wtime();
    ms_status fst = ms_catalog_finish(cat, st == MS_OK);
    double t_commit = ms_par_wtime() - t1;
    if (st == MS_OK) st = fst;
    double sums[2] = {t_write, t_phase};
    if (st == MS_OK) st = ms_par_allreduce_sum_d(sums, 2);
    if (st == MS_OK && rank == 0) {
        double mb = (double)n_rows * (double)sizeof(row_t) / 1e6;
        double wall = sums[1] / size;
        printf("ranks %d rows %zu chunk %zu row %zu B: open %.3f s, write phase %.3f s (%.0f rows/s, "
               "%.1f MB/s; %.1f%% of the phase inside write_chunk), commit %.3f s, %.0f us per chunk "
               "per rank\n",
               size, n_rows, chunk, sizeof(row_t), t_open, wall, (double)n_rows / wall, mb / wall,
               100.0 * sums[0] / sums[1], t_commit, 1e6 * sums[0] / (double)n_chunks);
    }
    if (st != MS_OK) fprintf(stderr, "bench_catalog: %s\n", ms_error_message());
    if (rank == 0) unlink(path);
    ms_free(done);
    free(rows);
    free(cols);
    ms_par_finalize();
    return st == MS_OK ? 0 : 1;
}
