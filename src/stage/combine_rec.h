/* combine_rec.h: the row of the recommended-label group "rec" (defined in combine.c, schema.h)
 * and how one ms_combine_row answer fills it; shared by `mstars combine` and `fit --methods`
 * (private to src/stage). */
#ifndef MSTARS_STAGE_COMBINE_REC_H
#define MSTARS_STAGE_COMBINE_REC_H

#include "mstars/combine.h"
#include "mstars/h5.h"
#include "mstars/status.h"

#include <stdint.h>
#include <stdio.h>

typedef struct {
    double value[MS_REC_N], error[MS_REC_N];
    char method[MS_REC_N][16];
    uint32_t disagree;
    char pair[40];
    double pair_sigma;
} rec_row;

/* w from o; names[m] is method m's name. */
static inline void ms_rec_fill(const ms_rec_output *o, const char *const *names, rec_row *w)
{
    for (int q = 0; q < MS_REC_N; q++) {
        w->value[q] = o->value[q];
        w->error[q] = o->error[q];
        snprintf(w->method[q], sizeof w->method[q], "%s", o->method[q] < 0 ? "" : names[o->method[q]]);
    }
    w->disagree = o->disagree;
    w->pair_sigma = o->pair_sigma;
    w->pair[0] = '\0';
    if (o->pair[0] >= 0)
        snprintf(w->pair, sizeof w->pair, "%s/%s:%s", names[o->pair[0]], names[o->pair[1]],
                 ms_rec_names[o->pair_quantity]);
}

/* The errors in[] of nm methods made honest in place (rec_errors.c): the three-cornered hat,
 * replaced by the scales measured against `reference` (a CSV/FITS table of labels the
 * methods never trained on, joined to f's rows by obsid, key or position within radius
 * arcsec; NULL: the hat alone), per quantity and S/N_r bin (f's /catalog/snr_r) by
 * ms_combine_rescale_errors. scale [nm][MS_REC_N][MS_COMBINE_SCALE_BINS] and n_ref
 * [nm][MS_REC_N] (may be NULL) out. */
ms_status ms_rec_honest_errors(ms_h5 *f, size_t n, const char *reference, double radius,
                               ms_rec_input *in, size_t nm, double *scale, size_t *n_ref);

/* "z25:1.52,1.31,1.20,1.18(hat);cnn:...(reference, 52 rows)" for quantity q; has[m*MS_REC_N+q]
 * = 0 leaves method m out (has NULL: every method). */
void ms_rec_scale_text(const char *const *names, const int *has, size_t nm, int q,
                       const double *scale, const size_t *n_ref, char *buf, size_t len);

#endif
