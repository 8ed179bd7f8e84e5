/* class_columns.c: the catalog column group "class" (schema.h) over ms_class_row
 * (cnn_class.h), and the verdict of a row. The identification columns of a row (id, obsid,
 * subclass, snr_i, store_status: the z25 group's names) are the driver's (src/stage/classify.c).
 * The combined luminosity class (CNN-dMgM with the Gaia CMD and the line criteria, issue 22)
 * is a separate group of the lumclass module. */
#include "mstars/cnn_class.h"
#include "mstars/schema.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define C(name, type, field, units, desc)                                                  \
    {MS_CATALOG_GROUP "/" name, type, 0, offsetof(ms_class_row, field), units, desc}
#define S(name, len, field, desc)                                                          \
    {MS_CATALOG_GROUP "/" name, MS_H5_STR, len, offsetof(ms_class_row, field), "", desc}

static const ms_catalog_column class_columns[] = {
    S("class", 8, cls, "CNN-SPT spectral class (L25 Module 1): OB, A, F, G, K, M, GALAXY or QSO "
      "(argmax of the softmax); empty without the model or a view"),
    C("class_code", MS_H5_I32, class_code, "", "class as 0..7 in that order; -1 none"),
    C("class_prob", MS_H5_F64, class_prob, "", "CNN-SPT probability of class (NaN: no model)"),
    C("wd_prob", MS_H5_F64, wd_prob, "",
      "CNN-WDM probability that the spectrum is a white dwarf rather than an M star (NaN: no model)"),
    C("dmgm_prob", MS_H5_F64, dmgm_prob, "",
      "CNN-dMgM probability that the spectrum is an M GIANT rather than an M dwarf (NaN: no model)"),
    C("class_flags", MS_H5_U32, class_flags, "", "bits (attribute flag_names): 0 no_view, "
      "1 low_snr (S/N_max < 5), 2 not_m, 3 white_dwarf (wd_prob > 0.5), 4 giant (dmgm_prob > "
      "0.5), 5 uncertain (class_prob < 0.5); bits 3 and 4 only where class is M or CNN-SPT was "
      "not run (CNN-WDM and CNN-dMgM know only M stars and WDs)"),
    S("class_reason", 24, class_reason, "the classifiers' verdict: M dwarf, M giant, M (no "
      "dMgM model), non-M: <class>, white dwarf, no view; empty without models"),
    {NULL, 0, 0, 0, NULL, NULL},
};

static const char *const class_bit_names[] = {"no_view", "low_snr", "not_m", "white_dwarf",
                                              "giant", "uncertain", NULL};
static const ms_flag_bits class_flags[] = {{"class_flags", class_bit_names}, {NULL, NULL}};

const ms_column_group ms_group_class = {
    "class", "Li et al. 2025 CNN classifiers: spectral class (CNN-SPT), WD/M (CNN-WDM), dM/gM "
             "(CNN-dMgM)",
    class_columns, sizeof(ms_class_row), class_flags};

void ms_class_row_verdict(ms_class_row *r, int no_view, double snr_max)
{
    uint32_t f = 0;
    if (!(snr_max >= 5.0)) f |= MS_CLASS_LOW_SNR;
    if (no_view) {
        r->class_flags = f | MS_CLASS_NO_VIEW;
        snprintf(r->class_reason, sizeof r->class_reason, "no view");
        return;
    }
    const int has_spt = r->class_code >= 0, not_m = has_spt && strcmp(r->cls, "M") != 0;
    if (not_m) f |= MS_CLASS_NOT_M;
    if (has_spt && r->class_prob < 0.5) f |= MS_CLASS_UNCERTAIN;
    /* CNN-WDM and CNN-dMgM know only M stars (and WDs): their answers count where CNN-SPT
     * says M or was not run (L25 runs them on the M catalogue) */
    if (!not_m && r->wd_prob > 0.5) f |= MS_CLASS_WD;
    if (!not_m && r->dmgm_prob > 0.5) f |= MS_CLASS_GIANT;
    r->class_flags = f;
    const char *why = "";
    char buf[sizeof r->class_reason];
    if (not_m) {
        snprintf(buf, sizeof buf, "non-M: %s", r->cls);
        why = buf;
    } else if (f & MS_CLASS_WD) {
        why = "white dwarf";
    } else if (isfinite(r->dmgm_prob)) {
        why = f & MS_CLASS_GIANT ? "M giant" : "M dwarf";
    } else if (has_spt || isfinite(r->wd_prob)) {
        why = "M";
    }
    snprintf(r->class_reason, sizeof r->class_reason, "%s", why);
}
