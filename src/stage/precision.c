/* precision.c: the driver of `mstars precision` (stage_laspm.h): Du et al. 2025 3.7's
 * repeat-observation precision of any catalog's label columns, as a table. Serial. */
#include "mstars/h5.h"
#include "mstars/join_io.h"
#include "mstars/laspm.h"
#include "mstars/mem.h"
#include "mstars/schema.h"
#include "mstars/stage_laspm.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

ms_status ms_stage_precision(const ms_precision_opts *o, FILE *out)
{
    ms_h5 *f;
    MS_TRY(ms_h5_open_read(o->catalog, 0, &f));
    char path[256];
    int rank;
    size_t dims[2] = {0, 0};
    snprintf(path, sizeof path, MS_CATALOG_GROUP "/%s", o->snr);
    ms_status st = ms_h5_dims(f, path, &rank, dims);
    const size_t n = dims[0];
    int64_t *group = NULL;
    size_t filled = 0;
    if (st == MS_OK)
        st = ms_catalog_read_groups(f, o->group_by, n,
                                    o->radius > 0 ? o->radius : MS_JOIN_RADIUS_DEFAULT, &group,
                                    &filled);
    double *snr = ms_malloc_array("precision.snr", n + 1, sizeof *snr);
    double *val = ms_malloc_array("precision.val", n + 1, sizeof *val);
    if (st == MS_OK && (!snr || !val)) st = MS_ENOMEM;
    snprintf(path, sizeof path, MS_CATALOG_GROUP "/%s", o->snr);
    if (st == MS_OK) st = ms_h5_read_rows(f, path, MS_H5_F64, 0, 0, n, snr);
    if (st == MS_OK)
        fprintf(out, "# repeat precision (Du et al. 2025 Eq. 1) of %s: epsilon = sqrt(N/(N-1)) "
                "(P_i - mean P) per star (%s%s), RMS per %s bin of %g\n", o->catalog, o->group_by,
                filled ? ", else position" : "", o->snr, o->bin_width);
    for (size_t c = 0; st == MS_OK && c < o->n_columns; c++) {
        snprintf(path, sizeof path, MS_CATALOG_GROUP "/%s", o->columns[c]);
        st = ms_h5_read_rows(f, path, MS_H5_F64, 0, 0, n, val);
        if (st != MS_OK) break;
        ms_repeat_fit bins;
        double eps;
        size_t n_eps = 0, n_stars = 0;
        st = ms_laspm_repeat_precision(n, group, val, snr, o->bin_width, o->min_per_bin,
                                       o->snr_min, &bins, &eps, &n_eps, &n_stars);
        if (st == MS_OK) {
            fprintf(out, "\n%s: %zu stars with repeats; 1-sigma epsilon at %s >= %g: %.4g "
                    "(%zu observations)\n", o->columns[c], n_stars, o->snr, o->snr_min, eps,
                    n_eps);
            fprintf(out, "| %s | N | RMS epsilon |\n|---|---|---|\n", o->snr);
            for (size_t b = 0; b < bins.n_bins; b++)
                fprintf(out, "| %g-%g | %.0f | %.4g |\n", bins.snr_min[b], bins.snr_max[b],
                        bins.n[b], bins.scatter[b]);
        }
        ms_repeat_fit_free(&bins);
    }
    ms_free(group);
    ms_free(snr);
    ms_free(val);
    ms_status cst = ms_h5_close(f);
    return st == MS_OK ? cst : st;
}
