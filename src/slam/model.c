/* model.c: the SLAM forward model in memory and its prediction (slam.h).
 *
 * f_j(z) = mean_j + scale_j (sum_i a_ji K_j(z, x_i) + b_j),  K_j = exp(-gamma_j |z - x_i|^2)
 * d f_j / d z_d = scale_j sum_i a_ji K_j(z, x_i) (-2 gamma_j) (z_d - x_id)
 * (the RBF SVR of libsvm, L21 2). Pixels sharing a gamma form one block; for each block
 * one GEMM gives [f, df/dz] = A_block [k, k * (z - x)]. */
#include "mstars/mem.h"
#include "slam_internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

void ms_slam_model_init(ms_slam_model *m) { memset(m, 0, sizeof *m); }

void ms_slam_model_free(ms_slam_model *m)
{
    void *p[] = {m->wavelength, m->x, m->coef, m->b, m->c, m->epsilon, m->gamma, m->cv_mse,
                 m->flux_mean, m->flux_scale, m->n_fit, m->status, m->train_flux,
                 m->train_ivar, m->sigma2_model, m->order, m->coef_g};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) ms_free(p[i]);
    ms_slam_model_init(m);
}

ms_status ms_slam_model_alloc(ms_slam_model *m, size_t n_pix, size_t n_train, size_t n_labels)
{
    ms_slam_model_init(m);
    if (n_pix < 1 || n_train < 1 || n_labels < 1 || n_labels > MS_SLAM_MAX_LABELS)
        MS_ERROR(MS_EINVAL, "slam model: bad shape %zu pixels, %zu spectra, %zu labels", n_pix,
                 n_train, n_labels);
    m->n_pix = n_pix;
    m->n_train = n_train;
    m->n_labels = n_labels;
    m->wavelength = ms_calloc("slam.wavelength", n_pix, sizeof(double));
    m->x = ms_calloc("slam.x", n_train * n_labels, sizeof(double));
    m->coef = ms_calloc("slam.coef", n_pix * n_train, sizeof(double));
    double **pix[] = {&m->b, &m->c, &m->epsilon, &m->gamma, &m->cv_mse, &m->flux_mean,
                      &m->flux_scale};
    int ok = m->wavelength && m->x && m->coef;
    for (size_t k = 0; k < sizeof pix / sizeof pix[0]; k++)
        ok &= (*pix[k] = ms_calloc("slam.pixel", n_pix, sizeof(double))) != NULL;
    m->n_fit = ms_calloc("slam.n_fit", n_pix, sizeof(int32_t));
    m->status = ms_calloc("slam.status", n_pix, sizeof(int32_t));
    m->train_flux = ms_calloc("slam.train_flux", n_train * n_pix, sizeof(float));
    m->train_ivar = ms_calloc("slam.train_ivar", n_train * n_pix, sizeof(float));
    if (!ok || !m->n_fit || !m->status || !m->train_flux || !m->train_ivar) {
        ms_slam_model_free(m);
        return MS_ENOMEM;
    }
    return MS_OK;
}

ms_status ms_slam_model_prepare(ms_slam_model *m)
{
    const size_t P = m->n_pix, N = m->n_train;
    ms_free(m->sigma2_model);
    ms_free(m->order);
    ms_free(m->coef_g);
    m->sigma2_model = ms_malloc_array("slam.sigma2", P, sizeof(double));
    m->order = ms_malloc_array("slam.order", P, sizeof(size_t));
    m->coef_g = ms_malloc_array("slam.coef_g", P * N, sizeof(double));
    if (!m->sigma2_model || !m->order || !m->coef_g) return MS_ENOMEM;
    m->n_gval = 0;
    for (size_t j = 0; j < P; j++) {
        /* Eq. 3: sigma_model^2 = CV-MSE in flux units (standardised MSE x flux variance) */
        m->sigma2_model[j] = m->status[j] == 0 ? m->cv_mse[j] * m->flux_scale[j] * m->flux_scale[j]
                                               : NAN;
        if (m->status[j] != 0) continue;
        if (!(m->gamma[j] > 0))
            MS_ERROR(MS_EFORMAT, "slam model: pixel %zu has gamma %g", j, m->gamma[j]);
        size_t g = 0;
        while (g < m->n_gval && m->gval[g] != m->gamma[j]) g++;
        if (g == m->n_gval) {
            if (m->n_gval == MS_SLAM_MAX_GRID)
                MS_ERROR(MS_EFORMAT, "slam model: more than %d distinct gammas", MS_SLAM_MAX_GRID);
            m->gval[m->n_gval++] = m->gamma[j];
        }
    }
    size_t k = 0;
    for (size_t g = 0; g < m->n_gval; g++) {
        m->gstart[g] = k;
        for (size_t j = 0; j < P; j++)
            if (m->status[j] == 0 && m->gamma[j] == m->gval[g]) {
                m->order[k] = j;
                memcpy(m->coef_g + k * N, m->coef + j * N, N * sizeof(double));
                k++;
            }
    }
    m->gstart[m->n_gval] = k;
    return MS_OK;
}

ms_status ms_slam_ws_alloc(const ms_slam_model *m, ms_slam_ws **out)
{
    *out = NULL;
    ms_slam_ws *ws = ms_calloc("slam.ws", 1, sizeof *ws);
    if (!ws) return MS_ENOMEM;
    const size_t W = 1 + m->n_labels;
    ws->B = ms_malloc_array("slam.ws.B", m->n_train * W, sizeof(double));
    ws->Cm = ms_malloc_array("slam.ws.C", m->n_pix * W, sizeof(double));
    ws->model = ms_malloc_array("slam.ws.model", m->n_pix, sizeof(double));
    ws->jac = ms_malloc_array("slam.ws.jac", m->n_pix * m->n_labels, sizeof(double));
    ws->w = ms_malloc_array("slam.ws.w", m->n_pix, sizeof(double));
    if (!ws->B || !ws->Cm || !ws->model || !ws->jac || !ws->w) {
        ms_slam_ws_free(ws);
        return MS_ENOMEM;
    }
    *out = ws;
    return MS_OK;
}

void ms_slam_ws_free(ms_slam_ws *ws)
{
    if (!ws) return;
    ms_free(ws->B);
    ms_free(ws->Cm);
    ms_free(ws->model);
    ms_free(ws->jac);
    ms_free(ws->w);
    ms_free(ws);
}

void ms_slam_predict(const ms_slam_model *m, ms_slam_ws *ws, const double *z, double *flux,
                     double *jac)
{
    const size_t N = m->n_train, D = m->n_labels, W = jac ? 1 + D : 1;
    for (size_t j = 0; j < m->n_pix; j++) {
        flux[j] = NAN;
        if (jac)
            for (size_t d = 0; d < D; d++) jac[j * D + d] = NAN;
    }
    for (size_t g = 0; g < m->n_gval; g++) {
        const double gam = m->gval[g];
        for (size_t i = 0; i < N; i++) {
            const double *xi = m->x + i * D;
            double r2 = 0;
            for (size_t d = 0; d < D; d++) r2 += (z[d] - xi[d]) * (z[d] - xi[d]);
            const double k = exp(-gam * r2);
            ws->B[i * W] = k;
            if (jac)
                for (size_t d = 0; d < D; d++) ws->B[i * W + 1 + d] = k * (z[d] - xi[d]);
        }
        const size_t r0 = m->gstart[g], nr = m->gstart[g + 1] - r0;
        if (!nr) continue;
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nr, (int)W, (int)N, 1.0,
                    m->coef_g + r0 * N, (int)N, ws->B, (int)W, 0.0, ws->Cm, (int)W);
        for (size_t r = 0; r < nr; r++) {
            const size_t j = m->order[r0 + r];
            const double s = m->flux_scale[j];
            flux[j] = m->flux_mean[j] + s * (ws->Cm[r * W] + m->b[j]);
            if (jac)
                for (size_t d = 0; d < D; d++)
                    jac[j * D + d] = s * (-2.0 * gam) * ws->Cm[r * W + 1 + d];
        }
    }
}
