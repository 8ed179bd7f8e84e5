/* ensemble.c: the K-model ensemble of L25 (1.3 Module 4): value = mean of the K predictions,
 * error = their standard deviation. */
#include "mstars/cnn.h"

#include "mstars/hash.h"
#include "mstars/mem.h"

#include <math.h>
#include <string.h>

void ms_cnn_ensemble_init(ms_cnn_ensemble *e)
{
    memset(e, 0, sizeof *e);
}

void ms_cnn_ensemble_free(ms_cnn_ensemble *e)
{
    for (size_t k = 0; k < MS_CNN_MAX_MODELS; k++) ms_cnn_free(&e->net[k]);
    ms_free(e->train_rows);
    ms_free(e->train_fold);
    ms_free(e->oof);
    ms_free(e->oof_std);
    ms_free(e->train_rv);
    ms_free(e->train_rv_source);
    memset(e, 0, sizeof *e);
}

int ms_cnn_label_index(const ms_cnn_ensemble *e, const char *name)
{
    for (size_t j = 0; j < e->n_labels; j++)
        if (strcmp(e->labels[j], name) == 0) return (int)j;
    return -1;
}

ms_status ms_cnn_ensemble_predict(const ms_cnn_ensemble *e, ms_cnn_ws *ws, const float *x,
                                  size_t B, float *scratch, double *mean, double *std)
{
    const size_t K = e->n_models, D = e->n_labels;
    if (K == 0) MS_ERROR(MS_EINVAL, "cnn ensemble: no model");
    for (size_t k = 0; k < K; k++) MS_TRY(ms_cnn_forward(&e->net[k], ws, x, B, scratch + k * B * D));
    for (size_t b = 0; b < B; b++)
        for (size_t j = 0; j < D; j++) {
            double s = 0.0;
            for (size_t k = 0; k < K; k++) s += scratch[(k * B + b) * D + j];
            const double m = s / (double)K;
            double ss = 0.0;
            for (size_t k = 0; k < K; k++) {
                const double r = scratch[(k * B + b) * D + j] - m;
                ss += r * r;
            }
            /* de-normalise: z -> physical */
            mean[b * D + j] = e->y_mean[j] + e->y_std[j] * m;
            std[b * D + j] = K > 1 ? e->y_std[j] * sqrt(ss / (double)(K - 1)) : 0.0;
        }
    return MS_OK;
}

uint64_t ms_cnn_ensemble_hash(const ms_cnn_ensemble *e)
{
    uint64_t h = MS_HASH_INIT;
    uint64_t n[2] = {e->n_models, e->n_labels};
    h = ms_hash_bytes(h, n, sizeof n);
    for (size_t k = 0; k < e->n_models; k++) {
        const ms_cnn_arch *a = &e->net[k].arch;
        uint64_t v[2 + 3 * MS_CNN_N_CONV];
        v[0] = a->n_in;
        v[1] = a->n_out;
        for (int i = 0; i < MS_CNN_N_CONV; i++) {
            v[2 + 3 * i] = a->channels[i];
            v[3 + 3 * i] = a->kernel[i];
            v[4 + 3 * i] = a->pool[i];
        }
        h = ms_hash_bytes(h, v, sizeof v);
        h = ms_hash_bytes(h, e->net[k].params.param, e->net[k].params.n * sizeof(float));
    }
    for (size_t j = 0; j < e->n_labels; j++) {
        h = ms_hash_bytes(h, e->labels[j], strlen(e->labels[j]) + 1);
        h = ms_hash_bytes(h, &e->y_mean[j], sizeof(double));
        h = ms_hash_bytes(h, &e->y_std[j], sizeof(double));
    }
    double vw[2] = {e->view.lo, e->view.step};
    uint64_t vn = e->view.n;
    h = ms_hash_bytes(h, vw, sizeof vw);
    h = ms_hash_bytes(h, &vn, sizeof vn);
    h = ms_hash_bytes(h, e->view_source, strlen(e->view_source) + 1);
    h = ms_hash_bytes(h, e->input_velocity, strlen(e->input_velocity) + 1);
    if (e->calibrated) {
        h = ms_hash_bytes(h, e->err_scale, e->n_labels * sizeof(double));
        h = ms_hash_bytes(h, e->err_floor, e->n_labels * sizeof(double));
    }
    if (e->softmax) h = ms_hash_bytes(h, "softmax", 8); /* classifiers only: old hashes hold */
    return ms_hash_bytes(h, e->cls, strlen(e->cls) + 1);
}
