/* columns.c: the catalog columns of `mstars fit-slam` (slam.h): the identification columns
 * and the `slam` column group (schema.h), over ms_slam_row. */
#include "mstars/schema.h"
#include "mstars/slam.h"

#include <stddef.h>
#include <string.h>

#define C(name, type, field, units, desc) \
    {MS_CATALOG_GROUP "/" name, type, 0, offsetof(ms_slam_row, field), units, desc}
#define L(name, k, field, units, desc) \
    {MS_CATALOG_GROUP "/" name, MS_H5_F64, 0, offsetof(ms_slam_row, field) + (k) * sizeof(double), units, desc}

const ms_catalog_column ms_slam_id_columns[] = {
    C("id", MS_H5_I64, id, "", "row of the spectra store"),
    {MS_CATALOG_GROUP "/obsid", MS_H5_STR, 32, offsetof(ms_slam_row, obsid), "", "LAMOST OBSID"},
    {MS_COL_KEY, MS_H5_STR, MS_KEY_LEN, offsetof(ms_slam_row, key), "",
     "unique key of the spectrum: OBSID, else LMJD-PLANID_spSS-FFF (the store's /meta/key)"},
    C("ra", MS_H5_F64, ra, "deg", "right ascension"),
    C("dec", MS_H5_F64, dec, "deg", "declination"),
    C("snr_r", MS_H5_F64, snr_r, "", "LAMOST S/N in r (SNRR)"),
    C("snr_i", MS_H5_F64, snr_i, "", "LAMOST S/N in i (SNRI)"),
    C("store_status", MS_H5_I32, store_status, "",
      "status of the spectrum in the store (0 usable; see the store's /meta/status)"),
    {NULL, 0, 0, 0, NULL, NULL},
};

static const ms_catalog_column slam_columns[] = {
    L("slam_teff", 0, label, "K", "SLAM effective temperature (L21 Eq. 3 maximum likelihood)"),
    L("e_slam_teff", 0, error, "K", "SLAM Teff uncertainty, Gauss-Newton (J^T W J)^-1"),
    L("slam_logg", 1, label, "dex", "SLAM surface gravity"),
    L("e_slam_logg", 1, error, "dex", "SLAM log g uncertainty"),
    L("slam_m_h", 2, label, "dex", "SLAM metallicity ([M/H] or [Fe/H], as the training labels)"),
    L("e_slam_m_h", 2, error, "dex", "SLAM metallicity uncertainty"),
    L("slam_alpha_m", 3, label, "dex", "SLAM [alpha/M]"),
    L("e_slam_alpha_m", 3, error, "dex", "SLAM [alpha/M] uncertainty"),
    L("slam_teff_start", 0, start, "K", "Teff of the best-matching training spectrum (the start)"),
    L("slam_logg_start", 1, start, "dex", "log g of the start"),
    L("slam_m_h_start", 2, start, "dex", "metallicity of the start"),
    L("slam_alpha_m_start", 3, start, "dex", "[alpha/M] of the start"),
    C("slam_chi2", MS_H5_F64, chi2, "", "chi^2 with sigma^2 = sigma_obs^2 + CV-MSE (L21 Eq. 3)"),
    C("slam_chi2_red", MS_H5_F64, chi2_red, "", "slam_chi2 / (pixels - labels)"),
    C("slam_n_pix", MS_H5_I32, n_pix, "", "pixels in slam_chi2"),
    C("slam_iterations", MS_H5_I32, iterations, "", "L-BFGS-B iterations"),
    C("slam_flags", MS_H5_U32, flags, "", "SLAM fit bits (attribute flag_names); 0 = clean fit"),
    {NULL, 0, 0, 0, NULL, NULL},
};

static const char *const slam_flag_bits[] = {"not_fitted", "failed", "at_bound", "max_iter",
                                             "no_errors", NULL};
static const ms_flag_bits slam_flags[] = {{"slam_flags", slam_flag_bits}, {NULL, NULL}};

const ms_column_group ms_group_slam = {
    "slam", "Li et al. 2021: SLAM, per-pixel RBF SVR trained on reference labels, ML fit",
    slam_columns, sizeof(ms_slam_row), slam_flags};

int ms_slam_label_slot(const char *name)
{
    static const struct {
        const char *name;
        int slot;
    } map[] = {{"teff", 0}, {"logg", 1}, {"m_h", 2}, {"mh", 2}, {"fe_h", 2}, {"feh", 2},
               {"alpha_m", 3}, {"alpha_fe", 3}};
    for (size_t k = 0; k < sizeof map / sizeof map[0]; k++)
        if (strcmp(map[k].name, name) == 0) return map[k].slot;
    return -1;
}
