/* emulator_h5.c: The Payne model file (see payne.h), HDF5 through h5.h.
 *
 * Layout:
 *   /network/w_array_<l>   float32 [out, in] (PyTorch layout, l = 0..n_layers; the last
 *   /network/b_array_<l>   float32 [out]      is the output layer), as The Payne's npz
 *   /labels/names          string[32] [n_labels] (grid label names: teff, logg, m_h, alpha_m)
 *   /labels/x_min, x_max   float64 [n_labels]  training range; x = (y-min)/(max-min) - 0.5
 *   /spectra/wavelength    float64 [n_pix]     (A)
 *   /training/epoch, train_loss, val_loss      float64 [n_history]
 *   /validation/grid_row   int64 [n_val]       rows of the grid store
 *   /validation/labels     float64 [n_val, n_labels]
 *   /validation/accuracy   float64 [n_val]     Z25 Eq. 1 (mean |F - F_recon| / F)
 * Root attributes: provenance (h5.h; "config" is the training run's configuration, with
 * the preprocessing settings), kind = "mstars-emulator", format_version, shape [n_labels,
 * n_hidden, n_layers, n_pix], leaky_slope, content_hash (hex FNV-1a of the network,
 * labels, scaling and wavelengths: the value later outputs record), grid_path, grid_hash,
 * and the training record (train_*). */
#include "mstars/h5.h"
#include "mstars/mem.h"
#include "mstars/schema.h"
#include "mstars/payne.h"
#include "mstars/schema.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define KIND "mstars-emulator"
#define FORMAT_VERSION 1

static ms_status write_model(ms_h5 *f, const ms_emulator *e, const ms_config *cfg,
                             const char *command)
{
    const ms_payne *n = &e->net;
    if (cfg) {
        MS_TRY(ms_h5_write_provenance(f, cfg, command));
    } else {
        ms_config def;
        MS_TRY(ms_config_defaults(&def));
        MS_TRY(ms_h5_write_provenance(f, &def, command));
    }
    if (e->config_text) MS_TRY(ms_h5_attr_set_str(f, "/", "config", e->config_text));
    MS_TRY(ms_h5_attr_set_str(f, "/", "kind", KIND));
    int64_t v = FORMAT_VERSION;
    MS_TRY(ms_h5_attr_set_i64(f, "/", "format_version", &v, 1));
    int64_t shape[4] = {(int64_t)n->n_labels, (int64_t)n->n_hidden, (int64_t)n->n_layers,
                        (int64_t)n->n_pix};
    MS_TRY(ms_h5_attr_set_i64(f, "/", "shape", shape, 4));
    double slope = n->slope;
    MS_TRY(ms_h5_attr_set_f64(f, "/", "leaky_slope", &slope, 1));

    for (size_t l = 0; l <= n->n_layers; l++) {
        const ms_nn_tensor *tw = &n->params.t[n->iw[l]], *tb = &n->params.t[n->ib[l]];
        char name[64];
        snprintf(name, sizeof name, "/network/%s", tw->name);
        MS_TRY(ms_h5_write_array(f, name, MS_H5_F32, 0, 2, tw->shape, ms_payne_w(n, l), "",
                                 l == n->n_layers ? "output layer weights [n_pix, n_hidden]"
                                                  : "hidden layer weights [out, in]"));
        snprintf(name, sizeof name, "/network/%s", tb->name);
        MS_TRY(ms_h5_write_array(f, name, MS_H5_F32, 0, 1, tb->shape, ms_payne_b(n, l), "",
                                 "biases"));
    }
    size_t D = n->n_labels;
    char names[MS_PAYNE_MAX_LABELS][MS_PAYNE_LABEL_LEN];
    memset(names, 0, sizeof names);
    for (size_t j = 0; j < D; j++) memcpy(names[j], e->labels[j], MS_PAYNE_LABEL_LEN);
    MS_TRY(ms_h5_write_array(f, "/labels/names", MS_H5_STR, MS_PAYNE_LABEL_LEN, 1, &D, names, "",
                             "grid label names, in input order"));
    MS_TRY(ms_h5_write_array(f, "/labels/x_min", MS_H5_F64, 0, 1, &D, e->x_min, "",
                             "training minimum per label (scaled -0.5)"));
    MS_TRY(ms_h5_write_array(f, "/labels/x_max", MS_H5_F64, 0, 1, &D, e->x_max, "",
                             "training maximum per label (scaled +0.5)"));
    size_t P = n->n_pix;
    if (!e->wavelength) MS_ERROR(MS_EINVAL, "%s: emulator without a wavelength grid", ms_h5_path(f));
    MS_TRY(ms_h5_write_array(f, MS_STORE_WAVELENGTH, MS_H5_F64, 0, 1, &P, e->wavelength, "A",
                             "wavelength of each output pixel (vacuum, rest frame)"));
    if (e->n_history > 0) {
        size_t nh = e->n_history;
        MS_TRY(ms_h5_write_array(f, "/training/epoch", MS_H5_F64, 0, 1, &nh, e->hist_epoch, "",
                                 "epochs completed at each validation"));
        MS_TRY(ms_h5_write_array(f, "/training/train_loss", MS_H5_F64, 0, 1, &nh,
                                 e->hist_train_loss, "", "mean training loss of the epoch"));
        MS_TRY(ms_h5_write_array(f, "/training/val_loss", MS_H5_F64, 0, 1, &nh, e->hist_val_loss,
                                 "", "mean validation loss"));
    }
    if (e->n_val > 0) {
        size_t nv = e->n_val, d2[2] = {e->n_val, D};
        MS_TRY(ms_h5_write_array(f, "/validation/grid_row", MS_H5_I64, 0, 1, &nv, e->val_index, "",
                                 "row of each validation model in the grid store"));
        MS_TRY(ms_h5_write_array(f, "/validation/labels", MS_H5_F64, 0, 2, d2, e->val_labels, "",
                                 "labels of the validation models [n_val, n_labels]"));
        MS_TRY(ms_h5_write_array(f, "/validation/accuracy", MS_H5_F64, 0, 1, &nv,
                                 e->val_accuracy, "",
                                 "Z25 Eq. 1: mean over pixels of |F_model - F_recon| / F_model"));
    }
    if (e->pix_err)
        MS_TRY(ms_h5_write_array(f, MS_EMULATOR_PIXEL_ERROR, MS_H5_F64, 0, 1, &P, e->pix_err, "",
                                 "emulator error per pixel: RMS over the validation models of "
                                 "F_model - F_recon (normalised flux); fit adds its square to "
                                 "the pixel variance (fit.emulator_error)"));
    if (e->preprocess_hash[0])
        MS_TRY(ms_h5_attr_set_str(f, "/", "preprocess_hash", e->preprocess_hash));
    if (e->grid_quality_pass >= 0) {
        const int64_t pass = e->grid_quality_pass;
        MS_TRY(ms_h5_attr_set_i64(f, "/", MS_ATTR_GRID_QUALITY_PASS, &pass, 1));
        MS_TRY(ms_h5_attr_set_str(f, "/", MS_ATTR_GRID_QUALITY, e->grid_quality));
    }
    char hex[17];
    uint64_t h = ms_emulator_hash(e);
    snprintf(hex, sizeof hex, "%016" PRIx64, h);
    MS_TRY(ms_h5_attr_set_str(f, "/", "content_hash", hex));
    MS_TRY(ms_h5_attr_set_str(f, "/", "grid_path", e->grid_path));
    MS_TRY(ms_h5_attr_set_str(f, "/", "grid_hash", e->grid_hash));
    MS_TRY(ms_h5_attr_set_str(f, "/", "train_loss_kind", e->loss));
    MS_TRY(ms_h5_attr_set_str(f, "/", "train_optimizer", e->optimizer));
    int64_t iv[7] = {e->batch_size, e->epochs_run, e->best_epoch, e->seed, e->ranks,
                     (int64_t)e->n_train, (int64_t)e->n_val};
    MS_TRY(ms_h5_attr_set_i64(f, "/", "train_batch_epochs_best_seed_ranks_ntrain_nval", iv, 7));
    double dv[3] = {e->learning_rate, e->best_val_loss, e->train_seconds};
    MS_TRY(ms_h5_attr_set_f64(f, "/", "train_lr_bestval_seconds", dv, 3));
    return MS_OK;
}

ms_status ms_emulator_write(const ms_emulator *e, const char *path, const ms_config *cfg,
                            const char *command)
{
    ms_h5 *f;
    MS_TRY(ms_h5_create(path, 0, &f));
    return ms_h5_commit_or_abort(f, write_model(f, e, cfg, command));
}

static ms_status read_model(ms_h5 *f, ms_emulator *e)
{
    const char *path = ms_h5_path(f);
    if (!ms_h5_is_kind(f, KIND))
        MS_ERROR(MS_EFORMAT, "%s: not an mstars emulator model file (no kind = %s) ---> HINT: "
                             "train one with `mstars train-emulator`",
                 path, KIND);
    MS_TRY(ms_h5_check_version(f, "emulator", FORMAT_VERSION));
    int64_t shape[4];
    size_t n;
    MS_TRY(ms_h5_attr_get_i64(f, "/", "shape", shape, 4, &n));
    double slope;
    MS_TRY(ms_h5_attr_get_f64(f, "/", "leaky_slope", &slope, 1, &n));
    if (n != 1 || shape[0] < 1 || shape[1] < 1 || shape[2] < 1 || shape[3] < 1)
        MS_ERROR(MS_EFORMAT, "%s: bad network shape attributes", path);
    MS_TRY(ms_payne_init(&e->net, (size_t)shape[0], (size_t)shape[1], (size_t)shape[2],
                         (size_t)shape[3], (float)slope));
    const ms_payne *net = &e->net;
    for (size_t l = 0; l <= net->n_layers; l++) {
        const ms_nn_tensor *tw = &net->params.t[net->iw[l]], *tb = &net->params.t[net->ib[l]];
        char name[64];
        snprintf(name, sizeof name, "/network/%s", tw->name);
        MS_TRY(ms_h5_read_exact(f, name, MS_H5_F32, 0, tw->shape[0], tw->shape[1], ms_payne_w(net, l)));
        snprintf(name, sizeof name, "/network/%s", tb->name);
        MS_TRY(ms_h5_read_exact(f, name, MS_H5_F32, 0, tb->shape[0], 0, ms_payne_b(net, l)));
    }
    const size_t D = net->n_labels, P = net->n_pix;
    char names[MS_PAYNE_MAX_LABELS][MS_PAYNE_LABEL_LEN];
    memset(names, 0, sizeof names);
    MS_TRY(ms_h5_read_exact(f, "/labels/names", MS_H5_STR, MS_PAYNE_LABEL_LEN, D, 0, names));
    for (size_t j = 0; j < D; j++) {
        memcpy(e->labels[j], names[j], MS_PAYNE_LABEL_LEN);
        e->labels[j][MS_PAYNE_LABEL_LEN - 1] = '\0';
    }
    MS_TRY(ms_h5_read_exact(f, "/labels/x_min", MS_H5_F64, 0, D, 0, e->x_min));
    MS_TRY(ms_h5_read_exact(f, "/labels/x_max", MS_H5_F64, 0, D, 0, e->x_max));
    for (size_t j = 0; j < D; j++)
        if (!(e->x_max[j] > e->x_min[j]))
            MS_ERROR(MS_EFORMAT, "%s: label %s has an empty training range", path, e->labels[j]);
    e->wavelength = ms_malloc_array("emulator.wavelength", P, sizeof(double));
    if (!e->wavelength) return MS_ENOMEM;
    MS_TRY(ms_h5_read_exact(f, MS_STORE_WAVELENGTH, MS_H5_F64, 0, P, 0, e->wavelength));

    char *s = NULL;
    MS_TRY(ms_h5_attr_get_str(f, "/", "content_hash", &s));
    char hex[17];
    snprintf(hex, sizeof hex, "%016" PRIx64, ms_emulator_hash(e));
    int same = strcmp(s, hex) == 0;
    snprintf(e->content_hash, sizeof e->content_hash, "%s", s);
    ms_free(s);
    if (!same)
        MS_ERROR(MS_EFORMAT, "%s: content hash mismatch (stored %s, computed %s): the model file "
                             "is corrupt or was modified",
                 path, e->content_hash, hex);
    if (ms_h5_attr_get_str(f, "/", "config", &e->config_text) != MS_OK) e->config_text = NULL;
    /* optional: the training record (older files lack parts of it) */
    (void)ms_h5_attr_get_text(f, "/", "grid_path", e->grid_path, sizeof e->grid_path);
    (void)ms_h5_attr_get_text(f, "/", "grid_hash", e->grid_hash, sizeof e->grid_hash);
    (void)ms_h5_attr_get_text(f, "/", "train_loss_kind", e->loss, sizeof e->loss);
    (void)ms_h5_attr_get_text(f, "/", "train_optimizer", e->optimizer, sizeof e->optimizer);
    int64_t iv[7];
    if (ms_h5_attr_get_i64(f, "/", "train_batch_epochs_best_seed_ranks_ntrain_nval", iv, 7, &n) ==
            MS_OK &&
        n == 7) {
        e->batch_size = iv[0];
        e->epochs_run = iv[1];
        e->best_epoch = iv[2];
        e->seed = iv[3];
        e->ranks = iv[4];
        e->n_train = (size_t)iv[5];
    }
    double dv[3];
    if (ms_h5_attr_get_f64(f, "/", "train_lr_bestval_seconds", dv, 3, &n) == MS_OK && n == 3) {
        e->learning_rate = dv[0];
        e->best_val_loss = dv[1];
        e->train_seconds = dv[2];
    }
    (void)ms_h5_attr_get_text(f, "/", "preprocess_hash", e->preprocess_hash,
                              sizeof e->preprocess_hash);
    int64_t gq;
    if (ms_h5_attr_get_i64(f, "/", MS_ATTR_GRID_QUALITY_PASS, &gq, 1, &n) == MS_OK && n == 1 &&
        ms_h5_attr_get_text(f, "/", MS_ATTR_GRID_QUALITY, e->grid_quality,
                            sizeof e->grid_quality) == MS_OK)
        e->grid_quality_pass = gq != 0;
    ms_error_clear();
    if (ms_h5_exists(f, MS_EMULATOR_PIXEL_ERROR)) {
        e->pix_err = ms_malloc_array("emulator.pix_err", P, sizeof(double));
        e->pix_var = ms_malloc_array("emulator.pix_var", P, sizeof(double));
        if (!e->pix_err || !e->pix_var) return MS_ENOMEM;
        MS_TRY(ms_h5_read_exact(f, MS_EMULATOR_PIXEL_ERROR, MS_H5_F64, 0, P, 0, e->pix_err));
        for (size_t p = 0; p < P; p++) e->pix_var[p] = e->pix_err[p] * e->pix_err[p];
    }
    if (ms_h5_exists(f, "/training/epoch")) {
        int rank;
        size_t dims[2];
        MS_TRY(ms_h5_dims(f, "/training/epoch", &rank, dims));
        size_t nh = dims[0];
        e->hist_epoch = ms_malloc_array("emulator.history", nh ? nh : 1, sizeof(double));
        e->hist_train_loss = ms_malloc_array("emulator.history", nh ? nh : 1, sizeof(double));
        e->hist_val_loss = ms_malloc_array("emulator.history", nh ? nh : 1, sizeof(double));
        if (!e->hist_epoch || !e->hist_train_loss || !e->hist_val_loss) return MS_ENOMEM;
        MS_TRY(ms_h5_read_exact(f, "/training/epoch", MS_H5_F64, 0, nh, 0, e->hist_epoch));
        MS_TRY(ms_h5_read_exact(f, "/training/train_loss", MS_H5_F64, 0, nh, 0, e->hist_train_loss));
        MS_TRY(ms_h5_read_exact(f, "/training/val_loss", MS_H5_F64, 0, nh, 0, e->hist_val_loss));
        e->n_history = nh;
    }
    if (ms_h5_exists(f, "/validation/accuracy")) {
        int rank;
        size_t dims[2];
        MS_TRY(ms_h5_dims(f, "/validation/accuracy", &rank, dims));
        size_t nv = dims[0];
        e->val_index = ms_malloc_array("emulator.val", nv ? nv : 1, sizeof(int64_t));
        e->val_labels = ms_malloc_array("emulator.val", (nv ? nv : 1) * D, sizeof(double));
        e->val_accuracy = ms_malloc_array("emulator.val", nv ? nv : 1, sizeof(double));
        if (!e->val_index || !e->val_labels || !e->val_accuracy) return MS_ENOMEM;
        MS_TRY(ms_h5_read_exact(f, "/validation/grid_row", MS_H5_I64, 0, nv, 0, e->val_index));
        MS_TRY(ms_h5_read_exact(f, "/validation/labels", MS_H5_F64, 0, nv, D, e->val_labels));
        MS_TRY(ms_h5_read_exact(f, "/validation/accuracy", MS_H5_F64, 0, nv, 0, e->val_accuracy));
        e->n_val = nv;
    }
    return MS_OK;
}

ms_status ms_emulator_read(const char *path, ms_emulator *e)
{
    ms_emulator_init(e);
    ms_h5 *f;
    MS_TRY(ms_h5_open_read(path, 0, &f));
    ms_status st = read_model(f, e);
    ms_h5_close(f);
    if (st != MS_OK) ms_emulator_free(e);
    return st;
}

static ms_status load_grid(ms_h5 *f, const char *labels_csv, ms_payne_grid *g)
{
    const char *path = ms_h5_path(f);
    size_t D;
    MS_TRY(ms_emulator_parse_labels(labels_csv, g->names, &D));
    int rank;
    size_t dims[2];
    MS_TRY(ms_h5_dims(f, MS_STORE_FLUX, &rank, dims));
    if (rank != 2 || dims[0] == 0 || dims[1] == 0)
        MS_ERROR(MS_EFORMAT, "%s: /spectra/flux is not a non-empty N x n_pix array", path);
    const size_t N = dims[0], P = dims[1];
    g->n_rows = N;
    g->flux = ms_malloc_array("grid.flux", N * P, sizeof(float));
    g->labels = ms_malloc_array("grid.labels", N * D, sizeof(double));
    g->rows = ms_malloc_array("grid.rows", N, sizeof(int64_t));
    g->wavelength = ms_malloc_array("grid.wavelength", P, sizeof(double));
    double *col = ms_malloc_array("grid.col", N, sizeof(double));
    int32_t *status = ms_calloc("grid.status", N, sizeof(int32_t));
    ms_status st = (g->flux && g->labels && g->rows && g->wavelength && col && status) ? MS_OK
                                                                                     : MS_ENOMEM;
    if (st == MS_OK) st = ms_h5_read_exact(f, MS_STORE_FLUX, MS_H5_F32, 0, N, P, g->flux);
    if (st == MS_OK) st = ms_h5_read_exact(f, MS_STORE_WAVELENGTH, MS_H5_F64, 0, P, 0, g->wavelength);
    if (st == MS_OK && ms_h5_exists(f, MS_META_STATUS))
        st = ms_h5_read_exact(f, MS_META_STATUS, MS_H5_I32, 0, N, 0, status);
    for (size_t j = 0; st == MS_OK && j < D; j++) {
        char name[64];
        snprintf(name, sizeof name, "/labels/%s", g->names[j]);
        if (!ms_h5_exists(f, name)) {
            st = ms_error_set(MS_ENOTFOUND, __FILE__, __LINE__,
                              "%s: no dataset %s (emulator.labels names a label the grid store "
                              "lacks)",
                              path, name);
            break;
        }
        st = ms_h5_read_exact(f, name, MS_H5_F64, 0, N, 0, col);
        for (size_t i = 0; st == MS_OK && i < N; i++) g->labels[i * D + j] = col[i];
    }
    /* keep the usable rows, compacting in place */
    size_t n = 0;
    for (size_t i = 0; st == MS_OK && i < N; i++) {
        int ok = status[i] == 0;
        for (size_t j = 0; ok && j < D; j++) ok = isfinite(g->labels[i * D + j]);
        for (size_t p = 0; ok && p < P; p++) ok = isfinite(g->flux[i * P + p]);
        if (!ok) continue;
        if (n != i) {
            memmove(g->flux + n * P, g->flux + i * P, P * sizeof(float));
            memmove(g->labels + n * D, g->labels + i * D, D * sizeof(double));
        }
        g->rows[n++] = (int64_t)i;
    }
    ms_free(col);
    ms_free(status);
    MS_TRY(st);
    if (n < 2)
        MS_ERROR(MS_EFORMAT, "%s: %zu usable models (of %zu rows); the emulator needs at least 2",
                 path, n, N);
    g->data = (ms_payne_data){g->flux, g->labels, g->rows, n, P, D};
    /* the quality gate of ingest-grid (absent in stores written before it) */
    int64_t pass;
    size_t na;
    char *text = NULL;
    g->grid_quality_pass = -1;
    if (ms_h5_attr_get_i64(f, "/", MS_ATTR_GRID_QUALITY_PASS, &pass, 1, &na) == MS_OK && na == 1 &&
        ms_h5_attr_get_str(f, "/", MS_ATTR_GRID_QUALITY, &text) == MS_OK) {
        g->grid_quality_pass = pass != 0;
        snprintf(g->grid_quality, sizeof g->grid_quality, "%s", text);
    }
    ms_free(text);
    text = NULL;
    if (ms_h5_attr_get_str(f, "/", "preprocess_hash", &text) == MS_OK)
        snprintf(g->preprocess_hash, sizeof g->preprocess_hash, "%s", text);
    ms_free(text);
    ms_error_clear();
    return MS_OK;
}

ms_status ms_payne_grid_load(const char *path, const char *labels_csv, ms_payne_grid *g)
{
    memset(g, 0, sizeof *g);
    ms_h5 *f;
    MS_TRY(ms_h5_open_read(path, 0, &f));
    ms_status st = load_grid(f, labels_csv, g);
    ms_h5_close(f);
    if (st != MS_OK) ms_payne_grid_free(g);
    return st;
}
