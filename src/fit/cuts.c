/* cuts.c: the quality cuts of the catalog, row by row (see cuts.h). */
#include "mstars/cuts.h"
#include "mstars/fit.h"

#include <math.h>

const char *const ms_cut_error_params[MS_CUT_N_ERRORS] = {"teff", "logg", "m_h", "alpha_m",
                                                          "rv"};

const char *const ms_cut_flag_names[MS_CUT_N_FLAGS + 1] = {"teff_hot", "at_boundary",
                                                           "error_outlier", "chi2_high", NULL};

const char *ms_cut_flag_name(uint32_t bit)
{
    switch (bit) {
    case MS_CUT_TEFF_HOT: return "teff_hot";
    case MS_CUT_AT_BOUNDARY: return "at_boundary";
    case MS_CUT_ERROR_OUTLIER: return "error_outlier";
    case MS_CUT_CHI2_HIGH: return "chi2_high";
    default: return NULL;
    }
}

int32_t ms_cut_flags(const ms_cut_row *r, const ms_cut_limits *l)
{
    int32_t f = 0;
    if (r->teff > l->teff_max) f |= MS_CUT_TEFF_HOT;
    if (r->at_bound & l->label_bits) f |= MS_CUT_AT_BOUNDARY;
    for (int k = 0; k < MS_CUT_N_ERRORS; k++)
        if (r->error[k] > l->error_max[k]) f |= MS_CUT_ERROR_OUTLIER; /* false for NaN */
    if (r->chi2_red > l->chi2_red_max) f |= MS_CUT_CHI2_HIGH;
    return f;
}

int ms_cut_row_fitted(int32_t store_status, uint32_t fit_flags)
{
    return store_status == 0 && (fit_flags & MS_FIT_FAILED) == 0;
}

double ms_cut_outlier_limit(double n, double sum, double dev2, double k)
{
    if (!(n >= 2)) return NAN;
    double mean = sum / n, var = dev2 / (n - 1.0);
    return mean + k * sqrt(var > 0 ? var : 0.0);
}
