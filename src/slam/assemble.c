/* assemble.c: a SLAM model from the per-pixel results of a training (slam.h). */
#include "mstars/mem.h"
#include "mstars/slam.h"

#include <math.h>
#include <string.h>

ms_status ms_slam_model_assemble(const ms_slam_train_set *t, const ms_slam_trainer *tr,
                                 const ms_slam_grid *g, const double *wavelength,
                                 const ms_slam_pixel *px, const double *coef, const double *b,
                                 ms_slam_model *m)
{
    const size_t P = t->n_pix, N = t->n, D = t->n_labels;
    MS_TRY(ms_slam_model_alloc(m, P, N, D));
    const double *mean = ms_slam_trainer_label_mean(tr), *scale = ms_slam_trainer_label_scale(tr);
    for (size_t d = 0; d < D; d++) {
        memcpy(m->label_names[d], t->label_names[d], MS_SLAM_LABEL_LEN);
        m->label_names[d][MS_SLAM_LABEL_LEN - 1] = '\0';
        m->label_mean[d] = mean[d];
        m->label_scale[d] = scale[d];
        m->label_min[d] = INFINITY;
        m->label_max[d] = -INFINITY;
        for (size_t i = 0; i < N; i++) {
            double v = t->labels[i * D + d];
            m->label_min[d] = v < m->label_min[d] ? v : m->label_min[d];
            m->label_max[d] = v > m->label_max[d] ? v : m->label_max[d];
            m->x[i * D + d] = (v - mean[d]) / scale[d];
        }
    }
    for (size_t j = 0; j < P; j++) {
        m->wavelength[j] = wavelength ? wavelength[j] : (double)j;
        m->c[j] = px[j].c;
        m->epsilon[j] = px[j].epsilon;
        m->gamma[j] = px[j].gamma;
        m->cv_mse[j] = px[j].cv_mse;
        m->flux_mean[j] = px[j].flux_mean;
        m->flux_scale[j] = px[j].flux_scale;
        m->n_fit[j] = px[j].n_train;
        m->status[j] = px[j].status;
        m->b[j] = b[j];
    }
    memcpy(m->coef, coef, P * N * sizeof(double));
    memcpy(m->train_flux, t->flux, N * P * sizeof(float));
    memcpy(m->train_ivar, t->ivar, N * P * sizeof(float));
    ms_slam_train_hash(t, m->train_hash);
    ms_slam_grid_describe(g, m->grid, sizeof m->grid);
    ms_status st = ms_slam_model_prepare(m);
    if (st != MS_OK) ms_slam_model_free(m);
    return st;
}

ms_status ms_slam_train_serial(const ms_slam_train_set *t, const ms_slam_grid *g,
                               const double *wavelength, ms_slam_model *m)
{
    ms_slam_model_init(m);
    const size_t P = t->n_pix, N = t->n;
    ms_slam_trainer *tr;
    MS_TRY(ms_slam_trainer_alloc(t, g, &tr));
    ms_slam_pixel *px = ms_calloc("slam.px", P, sizeof *px);
    double *coef = ms_malloc_array("slam.coef", P * N, sizeof(double));
    double *b = ms_malloc_array("slam.b", P, sizeof(double));
    ms_status st = px && coef && b ? MS_OK : MS_ENOMEM;
    for (size_t j = 0; st == MS_OK && j < P; j++) {
        st = ms_slam_train_pixel(tr, j, &px[j]);
        if (st == MS_OK) st = ms_slam_fit_pixel(tr, j, &px[j], coef + j * N, &b[j]);
    }
    if (st == MS_OK) st = ms_slam_model_assemble(t, tr, g, wavelength, px, coef, b, m);
    ms_free(px);
    ms_free(coef);
    ms_free(b);
    ms_slam_trainer_free(tr);
    return st;
}
