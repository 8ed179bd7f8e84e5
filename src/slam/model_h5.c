/* model_h5.c: the SLAM model file (slam.h), HDF5 through h5.h.
 *
 * Layout:
 *   /slam/wavelength         float64 [n_pix] (A)
 *   /slam/labels/names       string[16] [n_labels]
 *   /slam/labels/mean, scale float64 [n_labels]  z = (label - mean) / scale
 *   /slam/labels/min, max    float64 [n_labels]  training range (the fit's box)
 *   /slam/labels/error_floor float64 [n_labels]  CV error floor (cv-slam --calibrate; 0)
 *   /slam/train/x            float64 [n_train, n_labels] standardised training labels
 *   /slam/train/flux, ivar   float32 [n_train, n_pix] training spectra (the fit's start)
 *   /slam/pixel/c, epsilon, gamma   float64 [n_pix] chosen hyperparameters
 *   /slam/pixel/cv_mse       float64 [n_pix] k-fold CV MSE, standardised flux (Eq. 1)
 *   /slam/pixel/flux_mean, flux_scale, b   float64 [n_pix]
 *   /slam/pixel/n_fit        int32 [n_pix] training spectra used at the pixel
 *   /slam/pixel/status       int32 [n_pix] 0 ok, 1 masked, 2 too few spectra, 3 flat
 *   /slam/coef               float64 [n_pix, n_train] SVR dual coefficients
 * Root attributes: provenance (h5.h), kind = "mstars-slam", format_version, train_hash
 * (the training set's content hash), grid (the search), shape [n_pix, n_train, n_labels]. */
#include "mstars/h5.h"
#include "mstars/mem.h"
#include "mstars/slam.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define KIND "mstars-slam"
#define FORMAT_VERSION 1

static ms_status write_model(ms_h5 *f, const ms_slam_model *m, const ms_config *cfg,
                             const char *command)
{
    if (cfg) {
        MS_TRY(ms_h5_write_provenance(f, cfg, command));
    } else {
        ms_config def;
        MS_TRY(ms_config_defaults(&def));
        MS_TRY(ms_h5_write_provenance(f, &def, command));
    }
    MS_TRY(ms_h5_attr_set_str(f, "/", "kind", KIND));
    int64_t v = FORMAT_VERSION;
    MS_TRY(ms_h5_attr_set_i64(f, "/", "format_version", &v, 1));
    int64_t shape[3] = {(int64_t)m->n_pix, (int64_t)m->n_train, (int64_t)m->n_labels};
    MS_TRY(ms_h5_attr_set_i64(f, "/", "shape", shape, 3));
    MS_TRY(ms_h5_attr_set_str(f, "/", "train_hash", m->train_hash));
    MS_TRY(ms_h5_attr_set_str(f, "/", "grid", m->grid));
    const size_t P = m->n_pix, N = m->n_train, D = m->n_labels;
    size_t d1[1] = {P}, dl[1] = {D}, dx[2] = {N, D}, df[2] = {N, P}, dc[2] = {P, N};
    MS_TRY(ms_h5_write_array(f, "/slam/wavelength", MS_H5_F64, 0, 1, d1, m->wavelength, "A",
                             "rest-frame vacuum wavelength of each pixel"));
    MS_TRY(ms_h5_write_array(f, "/slam/labels/names", MS_H5_STR, MS_SLAM_LABEL_LEN, 1, dl,
                             m->label_names, "", "label names, in model order"));
    MS_TRY(ms_h5_write_array(f, "/slam/labels/mean", MS_H5_F64, 0, 1, dl, m->label_mean, "",
                             "label standardisation: z = (label - mean) / scale"));
    MS_TRY(ms_h5_write_array(f, "/slam/labels/scale", MS_H5_F64, 0, 1, dl, m->label_scale, "",
                             "label standardisation scale (population sd)"));
    MS_TRY(ms_h5_write_array(f, "/slam/labels/min", MS_H5_F64, 0, 1, dl, m->label_min, "",
                             "smallest training label (the fit's lower bound)"));
    MS_TRY(ms_h5_write_array(f, "/slam/labels/max", MS_H5_F64, 0, 1, dl, m->label_max, "",
                             "largest training label (the fit's upper bound)"));
    MS_TRY(ms_h5_write_array(f, "/slam/labels/error_floor", MS_H5_F64, 0, 1, dl, m->error_floor, "",
                             "added in quadrature to the fit's formal errors (cv-slam --calibrate)"));
    MS_TRY(ms_h5_write_array(f, "/slam/train/x", MS_H5_F64, 0, 2, dx, m->x, "",
                             "standardised training labels (the SVR inputs)"));
    MS_TRY(ms_h5_write_array(f, "/slam/train/flux", MS_H5_F32, 0, 2, df, m->train_flux, "",
                             "training spectra (normalised flux)"));
    MS_TRY(ms_h5_write_array(f, "/slam/train/ivar", MS_H5_F32, 0, 2, df, m->train_ivar, "",
                             "training spectra inverse variance"));
    static const struct {
        const char *name, *desc;
        size_t off;
    } pix[] = {
        {"/slam/pixel/c", "SVR penalty C chosen by CV", offsetof(ms_slam_model, c)},
        {"/slam/pixel/epsilon", "SVR tube radius (standardised flux) chosen by CV",
         offsetof(ms_slam_model, epsilon)},
        {"/slam/pixel/gamma", "RBF gamma (standardised labels) chosen by CV",
         offsetof(ms_slam_model, gamma)},
        {"/slam/pixel/cv_mse", "k-fold CV mean squared error in standardised flux (L21 Eq. 1); "
                               "x flux_scale^2 = sigma_model^2 of the fit (L21 Eq. 3)",
         offsetof(ms_slam_model, cv_mse)},
        {"/slam/pixel/flux_mean", "flux standardisation mean", offsetof(ms_slam_model, flux_mean)},
        {"/slam/pixel/flux_scale", "flux standardisation scale (population sd)",
         offsetof(ms_slam_model, flux_scale)},
        {"/slam/pixel/b", "SVR intercept (-rho, standardised flux)", offsetof(ms_slam_model, b)},
    };
    for (size_t k = 0; k < sizeof pix / sizeof pix[0]; k++)
        MS_TRY(ms_h5_write_array(f, pix[k].name, MS_H5_F64, 0, 1, d1,
                                 *(double *const *)((const char *)m + pix[k].off), "", pix[k].desc));
    MS_TRY(ms_h5_write_array(f, "/slam/pixel/n_fit", MS_H5_I32, 0, 1, d1, m->n_fit, "",
                             "training spectra usable at this pixel"));
    MS_TRY(ms_h5_write_array(f, "/slam/pixel/status", MS_H5_I32, 0, 1, d1, m->status, "",
                             "0 modelled, 1 masked, 2 too few training spectra, 3 flat flux"));
    MS_TRY(ms_h5_write_array(f, "/slam/coef", MS_H5_F64, 0, 2, dc, m->coef, "",
                             "SVR dual coefficients per pixel and training spectrum (0: not a "
                             "support vector)"));
    return MS_OK;
}

ms_status ms_slam_model_write(const char *path, const ms_slam_model *m, const ms_config *cfg,
                              const char *command)
{
    ms_h5 *f;
    MS_TRY(ms_h5_create(path, 0, &f));
    return ms_h5_commit_or_abort(f, write_model(f, m, cfg, command));
}

static ms_status read_model(ms_h5 *f, ms_slam_model *m)
{
    const char *path = ms_h5_path(f);
    if (!ms_h5_is_kind(f, KIND))
        MS_ERROR(MS_EFORMAT, "%s: not a SLAM model file (no kind = %s) ---> HINT: train one "
                 "with `mstars train-slam`", path, KIND);
    MS_TRY(ms_h5_check_version(f, "SLAM", FORMAT_VERSION));
    int64_t shape[3];
    size_t n;
    MS_TRY(ms_h5_attr_get_i64(f, "/", "shape", shape, 3, &n));
    if (n != 3 || shape[0] < 1 || shape[1] < 1 || shape[2] < 1 || shape[2] > MS_SLAM_MAX_LABELS)
        MS_ERROR(MS_EFORMAT, "%s: bad shape attribute", path);
    MS_TRY(ms_slam_model_alloc(m, (size_t)shape[0], (size_t)shape[1], (size_t)shape[2]));
    const size_t P = m->n_pix, N = m->n_train, D = m->n_labels;
    MS_TRY(ms_h5_attr_get_text(f, "/", "train_hash", m->train_hash, sizeof m->train_hash));
    MS_TRY(ms_h5_attr_get_text(f, "/", "grid", m->grid, sizeof m->grid));
    MS_TRY(ms_h5_read_exact(f, "/slam/wavelength", MS_H5_F64, 0, P, 0, m->wavelength));
    MS_TRY(ms_h5_read_exact(f, "/slam/labels/names", MS_H5_STR, MS_SLAM_LABEL_LEN, D, 0, m->label_names));
    for (size_t d = 0; d < D; d++) m->label_names[d][MS_SLAM_LABEL_LEN - 1] = '\0';
    MS_TRY(ms_h5_read_exact(f, "/slam/labels/mean", MS_H5_F64, 0, D, 0, m->label_mean));
    MS_TRY(ms_h5_read_exact(f, "/slam/labels/scale", MS_H5_F64, 0, D, 0, m->label_scale));
    MS_TRY(ms_h5_read_exact(f, "/slam/labels/min", MS_H5_F64, 0, D, 0, m->label_min));
    MS_TRY(ms_h5_read_exact(f, "/slam/labels/max", MS_H5_F64, 0, D, 0, m->label_max));
    MS_TRY(ms_h5_read_exact(f, "/slam/labels/error_floor", MS_H5_F64, 0, D, 0, m->error_floor));
    for (size_t d = 0; d < D; d++)
        if (!(m->label_scale[d] > 0) || !(m->label_max[d] >= m->label_min[d]))
            MS_ERROR(MS_EFORMAT, "%s: label %s has a bad scale or range", path, m->label_names[d]);
    MS_TRY(ms_h5_read_exact(f, "/slam/train/x", MS_H5_F64, 0, N, D, m->x));
    MS_TRY(ms_h5_read_exact(f, "/slam/train/flux", MS_H5_F32, 0, N, P, m->train_flux));
    MS_TRY(ms_h5_read_exact(f, "/slam/train/ivar", MS_H5_F32, 0, N, P, m->train_ivar));
    MS_TRY(ms_h5_read_exact(f, "/slam/pixel/c", MS_H5_F64, 0, P, 0, m->c));
    MS_TRY(ms_h5_read_exact(f, "/slam/pixel/epsilon", MS_H5_F64, 0, P, 0, m->epsilon));
    MS_TRY(ms_h5_read_exact(f, "/slam/pixel/gamma", MS_H5_F64, 0, P, 0, m->gamma));
    MS_TRY(ms_h5_read_exact(f, "/slam/pixel/cv_mse", MS_H5_F64, 0, P, 0, m->cv_mse));
    MS_TRY(ms_h5_read_exact(f, "/slam/pixel/flux_mean", MS_H5_F64, 0, P, 0, m->flux_mean));
    MS_TRY(ms_h5_read_exact(f, "/slam/pixel/flux_scale", MS_H5_F64, 0, P, 0, m->flux_scale));
    MS_TRY(ms_h5_read_exact(f, "/slam/pixel/b", MS_H5_F64, 0, P, 0, m->b));
    MS_TRY(ms_h5_read_exact(f, "/slam/pixel/n_fit", MS_H5_I32, 0, P, 0, m->n_fit));
    MS_TRY(ms_h5_read_exact(f, "/slam/pixel/status", MS_H5_I32, 0, P, 0, m->status));
    MS_TRY(ms_h5_read_exact(f, "/slam/coef", MS_H5_F64, 0, P, N, m->coef));
    return ms_slam_model_prepare(m);
}

ms_status ms_slam_model_read(const char *path, ms_slam_model *m)
{
    ms_slam_model_init(m);
    ms_h5 *f;
    MS_TRY(ms_h5_open_read(path, 0, &f));
    ms_status st = read_model(f, m);
    ms_status cst = ms_h5_close(f);
    if (st != MS_OK) {
        ms_slam_model_free(m);
        return st;
    }
    if (cst != MS_OK) ms_slam_model_free(m);
    return cst;
}

ms_status ms_slam_model_set_error_floor(const char *path, const double *floor, size_t n_labels)
{
    ms_h5 *f;
    MS_TRY(ms_h5_open_update(path, 0, &f));
    int rank;
    size_t dims[2] = {0, 0};
    ms_status st = ms_h5_dims(f, "/slam/labels/error_floor", &rank, dims);
    if (st == MS_OK && (rank != 1 || dims[0] != n_labels))
        st = ms_error_set(MS_EFORMAT, __FILE__, __LINE__, "%s: the model has %zu labels, the "
                          "calibration %zu", path, dims[0], n_labels);
    if (st == MS_OK) st = ms_h5_write_rows(f, "/slam/labels/error_floor", 0, n_labels, floor);
    /* committed either way: a refused calibration leaves the model as it was */
    ms_status cst = ms_h5_commit(f);
    return st != MS_OK ? st : cst;
}
