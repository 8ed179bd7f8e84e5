/* rv_columns.c: the catalog column group "rv" (schema.h) over ms_rv_row (rv.h): the RV
 * module's own columns. The identification columns of a row (id, obsid, snr_r, store_status,
 * declared by the z25 group, and lmjd) are the driver's (src/stage/rv.c); the adopted RV is
 * rv_adopted, since "rv" is the emulator fit's column. */
#include "mstars/rv.h"
#include "mstars/schema.h"

#include <stddef.h>

#define C(name, type, field, units, desc)                                                  \
    {MS_CATALOG_GROUP "/" name, type, 0, offsetof(ms_rv_row, field), units, desc}
#define S(name, len, field, desc)                                                          \
    {MS_CATALOG_GROUP "/" name, MS_H5_STR, len, offsetof(ms_rv_row, field), "", desc}

static const ms_catalog_column rv_columns[] = {
    C("rv_pipeline", MS_H5_F64, rv_pipeline, "km/s", "LAMOST pipeline RV, Z*c (NaN: Z missing)"),
    C("e_rv_pipeline", MS_H5_F64, e_rv_pipeline, "km/s", "Z_ERR*c"),
    C("rv_tm", MS_H5_F64, rv_tm, "km/s",
      "template-matching RV (L25 Eq. 2): RV_init + mean residual of the 1001 injections"),
    C("e_rv_tm", MS_H5_F64, e_rv_tm, "km/s", "std of the injection residuals (L25 3.4.3 step 2)"),
    C("e_rv_tm_stat", MS_H5_F64, e_rv_tm_stat, "km/s",
      "statistical TM error from the chi^2 curvature (residual variance as the noise; not L25)"),
    C("rv_tm_min", MS_H5_F64, rv_tm_min, "km/s",
      "minimum of the best template's chi^2 curve on a 5 km/s grid (spline; diagnostic, not L25)"),
    C("rv_tm_init", MS_H5_F64, rv_tm_init, "km/s", "Gaussian centre of the best template's chi^2"),
    S("rv_template", 64, rv_template, "best template (lowest chi^2; attribute rv_templates)"),
    C("chi2_tm", MS_H5_F64, chi2_tm, "", "minimum chi^2 of Eq. 2 (flux scaled to median 1)"),
    C("n_pix_tm", MS_H5_I32, n_pix_tm, "", "pixels in Eq. 2"),
    C("red_blue", MS_H5_F64, red_blue, "",
      "rms relative residual of the TM fit above 7500 A over that below"),
    C("rv_tml7500", MS_H5_F64, rv_tml7500, "km/s",
      "TM below 7500 A (measured when TM does not confirm the pipeline RV)"),
    C("e_rv_tml7500", MS_H5_F64, e_rv_tml7500, "km/s", "its error"),
    C("rv_dsal", MS_H5_F64, rv_dsal, "km/s", "DSAL RV: DSAL I where it exists, else DSAL II"),
    C("e_rv_dsal", MS_H5_F64, e_rv_dsal, "km/s", "its error"),
    C("rv_dsal1", MS_H5_F64, rv_dsal1, "km/s", "DSAL I: mean of >= 3 consistent Table 5 lines"),
    C("e_rv_dsal1", MS_H5_F64, e_rv_dsal1, "km/s", "std of those lines"),
    C("n_dsal1", MS_H5_I32, n_dsal1, "", "lines in DSAL I"),
    C("rv_dsal2", MS_H5_F64, rv_dsal2, "km/s", "DSAL II: iterative 1-sigma clipping of Table 5"),
    C("e_rv_dsal2", MS_H5_F64, e_rv_dsal2, "km/s", "std of the lines kept"),
    C("n_dsal2", MS_H5_I32, n_dsal2, "", "lines kept in DSAL II"),
    C("rv_dsel", MS_H5_F64, rv_dsel, "km/s", "DSEL: emission lines of Table 6, as DSAL II"),
    C("e_rv_dsel", MS_H5_F64, e_rv_dsel, "km/s", "its error"),
    C("n_dsel", MS_H5_I32, n_dsel, "", "emission lines kept"),
    C("rv_adopted", MS_H5_F64, rv, "km/s", "the adopted RV of L25's decision (source rv_from; "
      "NaN for NoRV_*)"),
    C("e_rv_adopted", MS_H5_F64, e_rv, "km/s", "its error"),
    S("rv_from", 16, rv_from, "source of rv (L25 Table 7): LAMOST, TM, DSAL I, DSAL II, TML7500, "
      "DSEL, NoRV_lowQuality, NoRV_waveErr; empty when not measured"),
    C("rv_from_code", MS_H5_I32, rv_from_code, "", "rv_from as 0..7 (-1 not measured)"),
    C("rv_flag", MS_H5_I32, rv_flag, "", "1: rv not null and observed after 2012-01-14 (L25)"),
    C("rv_bits", MS_H5_U32, rv_bits, "", "bits (attribute flag_names): 0 TM failed, 1 TM minimum "
      "at the grid edge, 2 red-end anomaly"),
    {NULL, 0, 0, 0, NULL, NULL},
};

static const char *const rv_bit_names[] = {"tm_failed", "tm_at_edge", "red_anomaly", NULL};
static const ms_flag_bits rv_flags[] = {{"rv_bits", rv_bit_names}, {NULL, NULL}};

const ms_column_group ms_group_rv = {
    "rv", "Li et al. 2025 RV module: template matching, DSAL/DSEL line shifts, rv_from",
    rv_columns, sizeof(ms_rv_row), rv_flags};
