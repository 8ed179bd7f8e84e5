/* slam_common.c: the pieces the SLAM drivers share (slam_stage.h). */
#include "slam_stage.h"

#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/par.h"

#include <math.h>
#include <string.h>

#define PX_FIELDS 9

ms_status ms_slam_stage_gather_pixels(ms_slam_pixel *px, size_t P)
{
    double *buf = ms_calloc("slam.gather", P * PX_FIELDS + 1, sizeof(double));
    if (!buf) return MS_ENOMEM;
    const int rank = ms_par_rank(), size = ms_par_size();
    for (size_t j = (size_t)rank; j < P; j += (size_t)size) {
        double *v = buf + j * PX_FIELDS;
        v[0] = px[j].c;
        v[1] = px[j].epsilon;
        v[2] = px[j].gamma;
        v[3] = px[j].cv_mse;
        v[4] = px[j].flux_mean;
        v[5] = px[j].flux_scale;
        v[6] = px[j].n_train;
        v[7] = px[j].n_fits;
        v[8] = px[j].status;
    }
    ms_status st = ms_par_allreduce_sum_d(buf, P * PX_FIELDS);
    for (size_t j = 0; st == MS_OK && j < P; j++) {
        const double *v = buf + j * PX_FIELDS;
        px[j].c = v[0];
        px[j].epsilon = v[1];
        px[j].gamma = v[2];
        px[j].cv_mse = v[3];
        px[j].flux_mean = v[4];
        px[j].flux_scale = v[5];
        px[j].n_train = (int32_t)v[6];
        px[j].n_fits = (int32_t)v[7];
        px[j].status = (int32_t)v[8];
    }
    ms_free(buf);
    return st;
}

ms_status ms_slam_stage_final_fits(ms_slam_trainer *tr, const ms_slam_pixel *px, size_t P,
                                   size_t N, double *coef, double *b)
{
    memset(coef, 0, P * N * sizeof(double));
    memset(b, 0, P * sizeof(double));
    const int rank = ms_par_rank(), size = ms_par_size();
    ms_status st = MS_OK;
    for (size_t j = (size_t)rank; st == MS_OK && j < P; j += (size_t)size)
        st = ms_slam_fit_pixel(tr, j, &px[j], coef + j * N, &b[j]);
    st = ms_par_any_failed(st);
    if (st == MS_OK) st = ms_par_allreduce_sum_d(coef, P * N);
    if (st == MS_OK) st = ms_par_allreduce_sum_d(b, P);
    return st;
}

ms_status ms_slam_stage_train(const ms_slam_trainset *s, const ms_slam_grid *g,
                              double progress_seconds, const char *what, ms_slam_model *m)
{
    ms_slam_model_init(m);
    const size_t P = s->n_pix, N = s->n;
    ms_slam_train_set t = ms_slam_trainset_view(s);
    ms_slam_trainer *tr = NULL;
    ms_status st = ms_slam_trainer_alloc(&t, g, &tr);
    ms_slam_pixel *px = ms_calloc("slam.px", P, sizeof *px);
    double *coef = ms_malloc_array("slam.coef", P * N, sizeof(double));
    double *b = ms_malloc_array("slam.b", P, sizeof(double));
    if (st == MS_OK && (!px || !coef || !b)) st = MS_ENOMEM;
    st = ms_par_any_failed(st);
    const int rank = ms_par_rank(), size = ms_par_size();
    double t0 = ms_par_wtime(), last = t0;
    size_t mine = (P + (size_t)size - 1 - (size_t)rank) / (size_t)size, done = 0;
    for (size_t j = (size_t)rank; st == MS_OK && j < P; j += (size_t)size) {
        st = ms_slam_train_pixel(tr, j, &px[j]);
        done++;
        double now = ms_par_wtime();
        if (rank == 0 && progress_seconds > 0 && now - last >= progress_seconds) {
            last = now;
            double eta = (now - t0) / (double)done * (double)(mine - done);
            ms_log0_info("%s: %zu/%zu pixels of rank 0 searched, ETA %.0f s", what, done, mine, eta);
        }
    }
    st = ms_par_any_failed(st);
    if (st == MS_OK) st = ms_slam_stage_gather_pixels(px, P);
    if (st == MS_OK) st = ms_slam_stage_final_fits(tr, px, P, N, coef, b);
    if (st == MS_OK) st = ms_slam_model_assemble(&t, tr, g, s->wavelength, px, coef, b, m);
    st = ms_par_any_failed(st);
    ms_free(px);
    ms_free(coef);
    ms_free(b);
    ms_slam_trainer_free(tr);
    if (st != MS_OK) ms_slam_model_free(m);
    return st;
}
