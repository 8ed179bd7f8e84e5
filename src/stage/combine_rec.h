/* combine_rec.h: the row of the recommended-label group "rec" (defined in combine.c, schema.h)
 * and how one ms_combine_row answer fills it; shared by `mstars combine` and `fit --methods`
 * (private to src/stage). */
#ifndef MSTARS_STAGE_COMBINE_REC_H
#define MSTARS_STAGE_COMBINE_REC_H

#include "mstars/combine.h"

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

#endif
