/* cnn_h5.c: the CNN ensemble's model file (HDF5 through h5.h).
 *
 * Root attributes: kind "mstars-cnn-ensemble", class, labels ("teff,logg,..."), view_source,
 * architecture (i64: n_in, n_out, channels[4], kernels[4], pools[4]), architecture_note (why
 * these sizes), view (f64: first pixel, step in A) and view_pixels, label_mean, label_std,
 * the training record (seed, ranks, max_epochs, batch, learning_rate, train_seconds) and
 * content_hash (ms_cnn_ensemble_hash as hex, checked on read), plus provenance; a classifier
 * (cnn_class.h) has output "softmax" (labels = class names, class = its task).
 * Datasets: /models/param [K, n_params] f32 (PyTorch layouts, tensor order conv0.weight,
 * conv0.bias, ..., fc.weight, fc.bias), /models/best_epoch [K], /models/best_val [K],
 * /train/row [N] (store rows), /train/fold [N], /train/oof [N, n_labels] (out-of-fold
 * predictions, physical units).
 * The input definition: view_source (MS_CNN_INPUT), input_velocity (MS_CNN_VEL_*), view and
 * view_pixels; a model without input_velocity was made by an older train-cnn from the Z25
 * view and is refused. The error calibration (calibrate.c): error_scale, error_floor,
 * raw_pull_robust_std per label (absent: not calibrated); /train/oof_std, /train/rv and
 * /train/rv_source when recorded. */
#include "mstars/cnn.h"

#include "mstars/h5.h"
#include "mstars/mem.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define KIND "mstars-cnn-ensemble"

static const char note[] =
    "L25 Fig. 2 (4 conv + 4 max-pool + 1 dense, ReLU) with sizes chosen by mstars (L25 gives "
    "none): kernels 9,7,5,3 ('same' padding; the first spans ~2 resolution elements of R~1800 "
    "on a 1 A grid), pools 4,4,2,2 (receptive field 224 A, the width of TiO/CaH band heads), "
    "channels 8,16,32,32 (few weights for small labelled sets; ten models under 10 ms per "
    "spectrum on one core), one dense layer to the outputs";

static ms_status write_into(ms_h5 *f, const ms_cnn_ensemble *e, const ms_config *cfg,
                            const char *command)
{
    const size_t K = e->n_models, D = e->n_labels, N = e->n_train, n = e->net[0].params.n;
    const ms_cnn_arch *a = &e->net[0].arch;
    if (cfg)
        MS_TRY(ms_h5_write_provenance(f, cfg, command));
    else
        MS_TRY(ms_h5_attr_set_str(f, "/", "command", command ? command : ""));
    MS_TRY(ms_h5_attr_set_str(f, "/", "kind", KIND));
    MS_TRY(ms_h5_attr_set_str(f, "/", "class", e->cls));
    if (e->softmax) MS_TRY(ms_h5_attr_set_str(f, "/", "output", "softmax"));
    char labels[MS_CNN_MAX_OUT * (MS_CNN_LABEL_LEN + 1)] = "";
    for (size_t j = 0; j < D; j++) {
        if (j) strcat(labels, ",");
        strcat(labels, e->labels[j]);
    }
    MS_TRY(ms_h5_attr_set_str(f, "/", "labels", labels));
    MS_TRY(ms_h5_attr_set_str(f, "/", "view_source", e->view_source));
    MS_TRY(ms_h5_attr_set_str(f, "/", "input_velocity", e->input_velocity));
    if (e->calibrated) {
        MS_TRY(ms_h5_attr_set_f64(f, "/", "error_scale", e->err_scale, D));
        MS_TRY(ms_h5_attr_set_f64(f, "/", "error_floor", e->err_floor, D));
        MS_TRY(ms_h5_attr_set_f64(f, "/", "raw_pull_robust_std", e->calib_pull_rstd, D));
        MS_TRY(ms_h5_attr_set_str(f, "/", "error_model",
                                  "e_cnn^2 = (error_scale std)^2 + error_floor^2, fitted to the "
                                  "out-of-fold residuals (pulls of unit robust std)"));
    }
    int64_t arch[2 + 3 * MS_CNN_N_CONV] = {(int64_t)a->n_in, (int64_t)a->n_out};
    for (int i = 0; i < MS_CNN_N_CONV; i++) {
        arch[2 + i] = (int64_t)a->channels[i];
        arch[2 + MS_CNN_N_CONV + i] = (int64_t)a->kernel[i];
        arch[2 + 2 * MS_CNN_N_CONV + i] = (int64_t)a->pool[i];
    }
    MS_TRY(ms_h5_attr_set_i64(f, "/", "architecture", arch, 2 + 3 * MS_CNN_N_CONV));
    MS_TRY(ms_h5_attr_set_str(f, "/", "architecture_note", note));
    const double view[2] = {e->view.lo, e->view.step};
    const int64_t vn = (int64_t)e->view.n;
    MS_TRY(ms_h5_attr_set_f64(f, "/", "view", view, 2));
    MS_TRY(ms_h5_attr_set_i64(f, "/", "view_pixels", &vn, 1));
    MS_TRY(ms_h5_attr_set_f64(f, "/", "label_mean", e->y_mean, D));
    MS_TRY(ms_h5_attr_set_f64(f, "/", "label_std", e->y_std, D));
    const int64_t rec[4] = {e->seed, e->ranks, e->epochs_max, e->batch};
    const double frec[2] = {e->lr, e->train_seconds};
    MS_TRY(ms_h5_attr_set_i64(f, "/", "seed_ranks_max_epochs_batch", rec, 4));
    MS_TRY(ms_h5_attr_set_f64(f, "/", "learning_rate_train_seconds", frec, 2));
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)ms_cnn_ensemble_hash(e));
    MS_TRY(ms_h5_attr_set_str(f, "/", "content_hash", hex));
    float *p = ms_malloc_array("cnn.write", K * n, sizeof(float));
    if (!p) return MS_ENOMEM;
    for (size_t k = 0; k < K; k++) memcpy(p + k * n, e->net[k].params.param, n * sizeof(float));
    const size_t pd[2] = {K, n};
    ms_status st = ms_h5_write_array(f, "/models/param", MS_H5_F32, 0, 2, pd, p, "",
                                     "flat weights of each model (PyTorch layouts)");
    ms_free(p);
    MS_TRY(st);
    MS_TRY(ms_h5_write_array(f, "/models/best_epoch", MS_H5_I64, 0, 1, &K, e->best_epoch, "",
                             "epoch of the best validation loss (early stopping)"));
    MS_TRY(ms_h5_write_array(f, "/models/best_val", MS_H5_F64, 0, 1, &K, e->best_val, "",
                             "best validation MSE of the z-scored labels on the held-out fold"));
    if (N > 0) {
        const size_t od[2] = {N, D};
        MS_TRY(ms_h5_write_array(f, "/train/row", MS_H5_I64, 0, 1, &N, e->train_rows, "",
                                 "rows of the spectra store used for training"));
        MS_TRY(ms_h5_write_array(f, "/train/fold", MS_H5_I32, 0, 1, &N, e->train_fold, "",
                                 "the fold (model) each spectrum validated"));
        MS_TRY(ms_h5_write_array(f, "/train/oof", MS_H5_F32, 0, 2, od, e->oof, "",
                                 "out-of-fold prediction of the model that did not train on it"));
        if (e->oof_std)
            MS_TRY(ms_h5_write_array(f, "/train/oof_std", MS_H5_F32, 0, 2, od, e->oof_std, "",
                                     "std of the K-1 models that trained on it (calibration)"));
        if (e->train_rv)
            MS_TRY(ms_h5_write_array(f, "/train/rv", MS_H5_F64, 0, 1, &N, e->train_rv, "km/s",
                                     "velocity of the input's rest frame"));
        if (e->train_rv_source)
            MS_TRY(ms_h5_write_array(f, "/train/rv_source", MS_H5_I32, 0, 1, &N,
                                     e->train_rv_source, "", "1: rv catalog, 2: pipeline Z*c"));
    }
    return MS_OK;
}

ms_status ms_cnn_ensemble_write(const ms_cnn_ensemble *e, const char *path, const ms_config *cfg,
                                const char *command)
{
    if (e->n_models == 0) MS_ERROR(MS_EINVAL, "cnn model %s: no model to write", path);
    ms_h5 *f;
    MS_TRY(ms_h5_create(path, 0, &f));
    return ms_h5_commit_or_abort(f, write_into(f, e, cfg, command));
}

static ms_status read_from(ms_h5 *f, ms_cnn_ensemble *e)
{
    const char *path = ms_h5_path(f);
    char *s = NULL;
    if (!ms_h5_is_kind(f, KIND))
        MS_ERROR(MS_EFORMAT, "%s is not an mstars CNN model (train-cnn)", path);
    MS_TRY(ms_h5_attr_get_text(f, "/", "class", e->cls, sizeof e->cls));
    if (ms_h5_attr_class(f, "/", "output") == 's') {
        MS_TRY(ms_h5_attr_get_str(f, "/", "output", &s));
        e->softmax = strcmp(s, "softmax") == 0;
        ms_free(s);
    }
    MS_TRY(ms_h5_attr_get_text(f, "/", "view_source", e->view_source, sizeof e->view_source));
    if (e->softmax && ms_h5_attr_class(f, "/", "input_velocity") != 's') {
        /* a classifier made before input_velocity was recorded: the observed frame */
        snprintf(e->input_velocity, sizeof e->input_velocity, "%s", MS_CNN_VEL_NONE);
    } else {
        if (ms_h5_attr_class(f, "/", "input_velocity") != 's')
            MS_ERROR(MS_EFORMAT, "%s was made by an older train-cnn (input '%s', no "
                                 "input_velocity: the store's Z25 view); the input is now '%s' in "
                                 "the rest frame of a recorded velocity: train the model again",
                     path, e->view_source, MS_CNN_INPUT);
        MS_TRY(ms_h5_attr_get_text(f, "/", "input_velocity", e->input_velocity,
                                   sizeof e->input_velocity));
    }
    MS_TRY(ms_h5_attr_get_str(f, "/", "labels", &s));
    e->n_labels = 0;
    for (char *tok = strtok(s, ","); tok && e->n_labels < MS_CNN_MAX_OUT; tok = strtok(NULL, ","))
        snprintf(e->labels[e->n_labels++], MS_CNN_LABEL_LEN, "%s", tok);
    ms_free(s);
    int64_t arch[2 + 3 * MS_CNN_N_CONV], vn = 0, rec[4];
    double view[2], frec[2];
    size_t na = 0, nv = 0, nvn = 0, nm = 0, ns = 0, nr = 0, nf = 0;
    MS_TRY(ms_h5_attr_get_i64(f, "/", "architecture", arch, 2 + 3 * MS_CNN_N_CONV, &na));
    MS_TRY(ms_h5_attr_get_f64(f, "/", "view", view, 2, &nv));
    MS_TRY(ms_h5_attr_get_i64(f, "/", "view_pixels", &vn, 1, &nvn));
    MS_TRY(ms_h5_attr_get_f64(f, "/", "label_mean", e->y_mean, MS_CNN_MAX_OUT, &nm));
    MS_TRY(ms_h5_attr_get_f64(f, "/", "label_std", e->y_std, MS_CNN_MAX_OUT, &ns));
    MS_TRY(ms_h5_attr_get_i64(f, "/", "seed_ranks_max_epochs_batch", rec, 4, &nr));
    MS_TRY(ms_h5_attr_get_f64(f, "/", "learning_rate_train_seconds", frec, 2, &nf));
    if (ms_h5_attr_class(f, "/", "error_scale") != 0) {
        size_t n1 = 0, n2 = 0, n3 = 0;
        MS_TRY(ms_h5_attr_get_f64(f, "/", "error_scale", e->err_scale, MS_CNN_MAX_OUT, &n1));
        MS_TRY(ms_h5_attr_get_f64(f, "/", "error_floor", e->err_floor, MS_CNN_MAX_OUT, &n2));
        MS_TRY(ms_h5_attr_get_f64(f, "/", "raw_pull_robust_std", e->calib_pull_rstd,
                                  MS_CNN_MAX_OUT, &n3));
        if (n1 != e->n_labels || n2 != e->n_labels || n3 != e->n_labels)
            MS_ERROR(MS_EFORMAT, "%s: error_scale/error_floor do not have one value per label", path);
        e->calibrated = 1;
    }
    if (na != 2 + 3 * MS_CNN_N_CONV || nv != 2 || nvn != 1 || nm != e->n_labels ||
        ns != e->n_labels || (size_t)arch[1] != e->n_labels || nr != 4 || nf != 2)
        MS_ERROR(MS_EFORMAT, "%s: inconsistent CNN model attributes", path);
    e->view.lo = view[0];
    e->view.step = view[1];
    e->view.n = (size_t)vn;
    e->seed = rec[0];
    e->ranks = rec[1];
    e->epochs_max = rec[2];
    e->batch = rec[3];
    e->lr = frec[0];
    e->train_seconds = frec[1];
    ms_cnn_arch a;
    a.n_in = (size_t)arch[0];
    a.n_out = (size_t)arch[1];
    for (int i = 0; i < MS_CNN_N_CONV; i++) {
        a.channels[i] = (size_t)arch[2 + i];
        a.kernel[i] = (size_t)arch[2 + MS_CNN_N_CONV + i];
        a.pool[i] = (size_t)arch[2 + 2 * MS_CNN_N_CONV + i];
    }
    if (a.n_in != e->view.n) MS_ERROR(MS_EFORMAT, "%s: input %zu pixels, view %zu", path, a.n_in, e->view.n);
    int rank;
    size_t dims[2];
    MS_TRY(ms_h5_dims(f, "/models/param", &rank, dims));
    if (rank != 2 || dims[0] == 0 || dims[0] > MS_CNN_MAX_MODELS)
        MS_ERROR(MS_EFORMAT, "%s: /models/param is not [models, params]", path);
    const size_t K = dims[0];
    for (size_t k = 0; k < K; k++) MS_TRY(ms_cnn_init(&e->net[k], &a));
    e->n_models = K;
    const size_t n = e->net[0].params.n;
    if (dims[1] != n) MS_ERROR(MS_EFORMAT, "%s: %zu weights per model, the architecture has %zu", path, dims[1], n);
    for (size_t k = 0; k < K; k++)
        MS_TRY(ms_h5_read_rows(f, "/models/param", MS_H5_F32, 0, k, 1, e->net[k].params.param));
    MS_TRY(ms_h5_read_rows(f, "/models/best_epoch", MS_H5_I64, 0, 0, K, e->best_epoch));
    MS_TRY(ms_h5_read_rows(f, "/models/best_val", MS_H5_F64, 0, 0, K, e->best_val));
    if (ms_h5_exists(f, "/train/row")) {
        MS_TRY(ms_h5_dims(f, "/train/row", &rank, dims));
        const size_t N = dims[0], D = e->n_labels;
        e->train_rows = ms_malloc_array("cnn.read", N + 1, sizeof(int64_t));
        e->train_fold = ms_malloc_array("cnn.read", N + 1, sizeof(int32_t));
        e->oof = ms_malloc_array("cnn.read", N * D + 1, sizeof(float));
        if (!e->train_rows || !e->train_fold || !e->oof) return MS_ENOMEM;
        e->n_train = N;
        MS_TRY(ms_h5_read_rows(f, "/train/row", MS_H5_I64, 0, 0, N, e->train_rows));
        MS_TRY(ms_h5_read_rows(f, "/train/fold", MS_H5_I32, 0, 0, N, e->train_fold));
        MS_TRY(ms_h5_read_rows(f, "/train/oof", MS_H5_F32, 0, 0, N, e->oof));
        if (ms_h5_exists(f, "/train/oof_std")) {
            if (!(e->oof_std = ms_malloc_array("cnn.read", N * D + 1, sizeof(float)))) return MS_ENOMEM;
            MS_TRY(ms_h5_read_rows(f, "/train/oof_std", MS_H5_F32, 0, 0, N, e->oof_std));
        }
        if (ms_h5_exists(f, "/train/rv")) {
            e->train_rv = ms_malloc_array("cnn.read", N + 1, sizeof(double));
            e->train_rv_source = ms_malloc_array("cnn.read", N + 1, sizeof(int32_t));
            if (!e->train_rv || !e->train_rv_source) return MS_ENOMEM;
            MS_TRY(ms_h5_read_rows(f, "/train/rv", MS_H5_F64, 0, 0, N, e->train_rv));
            MS_TRY(ms_h5_read_rows(f, "/train/rv_source", MS_H5_I32, 0, 0, N, e->train_rv_source));
        }
    }
    MS_TRY(ms_h5_attr_get_str(f, "/", "content_hash", &s));
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)ms_cnn_ensemble_hash(e));
    int same = strcmp(s, hex) == 0;
    ms_free(s);
    if (!same) MS_ERROR(MS_EFORMAT, "%s: content hash mismatch (corrupt or edited model file)", path);
    snprintf(e->content_hash, sizeof e->content_hash, "%s", hex);
    return MS_OK;
}

ms_status ms_cnn_ensemble_read(const char *path, ms_cnn_ensemble *e)
{
    ms_cnn_ensemble_init(e);
    ms_h5 *f;
    MS_TRY(ms_h5_open_read(path, 0, &f));
    ms_status st = read_from(f, e);
    ms_h5_close(f);
    if (st != MS_OK) ms_cnn_ensemble_free(e);
    return st;
}
