/* rec_errors.c: the methods' errors made honest before the recommended-label rule, for both
 * `mstars combine` and `fit --methods` (combine_rec.h): the catalog's S/N_r, the reference
 * table joined to the catalog's rows (as calibrate-errors --reference joins it), and the one
 * library function ms_combine_rescale_errors (combine.h). */
#include "../io/catalog_reference.h"
#include "mstars/join.h"
#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/schema.h"

#include "combine_rec.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

ms_status ms_rec_honest_errors(ms_h5 *f, size_t n, const char *reference, double radius,
                               ms_rec_input *in, size_t nm, double *scale, size_t *n_ref)
{
    double *snr = NULL, *ref = NULL;
    ms_calib_ref cr;
    int have_cr = 0;
    ms_status st = MS_OK;
    if (n > 0 && ms_h5_exists(f, MS_CATALOG_GROUP "/snr_r")) {
        snr = ms_malloc_array("rec.snr", n, sizeof *snr);
        st = snr ? ms_h5_read_rows(f, MS_CATALOG_GROUP "/snr_r", MS_H5_F64, 0, 0, n, snr)
                 : MS_ENOMEM;
    }
    if (st == MS_OK && reference && n > 0) {
        st = ms_calib_ref_read(f, n, reference, ms_rec_names, MS_REC_N,
                               radius > 0 ? radius : MS_JOIN_RADIUS_DEFAULT, &cr);
        have_cr = 1;
        if (st == MS_OK && cr.matched == 0)
            st = ms_error_set(MS_ENOPROG, __FILE__, __LINE__,
                              "%s: none of its %zu rows joins one of the %zu catalog rows by "
                              "obsid, key or position (--reference)", reference, cr.table_rows, n);
        if (st == MS_OK) {
            ref = ms_malloc_array("rec.ref", n * MS_REC_N, sizeof *ref);
            if (!ref) st = MS_ENOMEM;
        }
        for (size_t r = 0; st == MS_OK && r < n; r++)
            for (int q = 0; q < MS_REC_N; q++)
                ref[r * MS_REC_N + (size_t)q] = cr.value[q] ? cr.value[q][r] : NAN;
    }
    if (st == MS_OK && n > 0 && ms_combine_rescale_errors(in, n, nm, snr, ref, scale, n_ref) != 0)
        st = MS_ENOMEM;
    if (st == MS_OK && n == 0)
        for (size_t i = 0; i < nm * MS_REC_N * MS_COMBINE_SCALE_BINS; i++) scale[i] = 1.0;
    if (st == MS_OK && n == 0 && n_ref)
        for (size_t i = 0; i < nm * MS_REC_N; i++) n_ref[i] = 0;
    if (have_cr) ms_calib_ref_free(&cr);
    ms_free(snr);
    ms_free(ref);
    return st;
}

void ms_rec_scale_text(const char *const *names, const int *has, size_t nm, int q,
                       const double *scale, const size_t *n_ref, char *buf, size_t len)
{
    buf[0] = '\0';
    for (size_t m = 0; m < nm; m++) {
        if (has && !has[m * MS_REC_N + (size_t)q]) continue;
        size_t l = strlen(buf);
        snprintf(buf + l, len - l, "%s%s:", l ? ";" : "", names[m]);
        for (size_t b = 0; b < MS_COMBINE_SCALE_BINS; b++) {
            l = strlen(buf);
            snprintf(buf + l, len - l, "%s%.3g", b ? "," : "",
                     scale[(m * MS_REC_N + (size_t)q) * MS_COMBINE_SCALE_BINS + b]);
        }
        const size_t k = n_ref ? n_ref[m * MS_REC_N + (size_t)q] : 0;
        l = strlen(buf);
        if (k) snprintf(buf + l, len - l, "(reference, %zu rows)", k);
        else snprintf(buf + l, len - l, "(hat)");
    }
}
