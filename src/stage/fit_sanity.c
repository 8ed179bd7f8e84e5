/* fit_sanity.c: the catalog-wide sanity check after the fit (sanity.h, catalog_post.h).
 *
 * One streaming pass over each rank's contiguous slice of the rows in blocks (as the cut
 * pass: every rank makes the same sequence of HDF5 calls), gathering counts only: label
 * histograms over the training ranges, model_mismatch rows, and per LAMOST subtype the row
 * count and the sum of round(teff). Counts all-reduce exactly, so the verdict is the same
 * for any rank count. Written as root attributes sanity (text) and sanity_pass (1/0). */
#include "mstars/catalog_post.h"
#include "mstars/fit.h"
#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/par.h"
#include "mstars/schema.h"

#include "mstars/survey_job.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define BLOCK 65536
#define SUB_LEN 16

static const char *const label_cols[MS_SANITY_LABELS] = {MS_COL_TEFF, MS_COL_LOGG, MS_COL_M_H,
                                                   MS_COL_ALPHA_M};

ms_status ms_catalog_sanity(ms_h5 *f, const double lo[MS_SANITY_LABELS],
                            const double hi[MS_SANITY_LABELS], const ms_sanity_opts *o,
                            ms_sanity_result *res)
{
    return ms_catalog_sanity_of(f, NULL, lo, hi, o, res);
}

ms_status ms_catalog_sanity_of(ms_h5 *f, const char *method, const double lo[MS_SANITY_LABELS],
                               const double hi[MS_SANITY_LABELS], const ms_sanity_opts *o,
                               ms_sanity_result *res)
{
    char cols[MS_SANITY_LABELS][96];
    for (int k = 0; k < MS_SANITY_LABELS; k++) {
        if (method) ms_survey_column_name(method, label_cols[k], cols[k], sizeof cols[k]);
        else snprintf(cols[k], sizeof cols[k], "%s", label_cols[k]);
    }
    const int par = ms_h5_parallel(f);
    if (par) {
        MS_TRY(ms_h5_flush(f));
        MS_TRY(ms_par_barrier());
        MS_TRY(ms_h5_flush(f));
    }
    int rank;
    size_t dims[2];
    MS_TRY(ms_h5_dims(f, MS_COL_STORE_STATUS, &rank, dims));
    const size_t n_rows = dims[0];
    const size_t P = (size_t)(par ? ms_par_size() : 1), r = (size_t)(par ? ms_par_rank() : 0);
    const size_t rlo = n_rows * r / P, rhi = n_rows * (r + 1) / P;
    const size_t widest = (n_rows + P - 1) / P, n_blocks = (widest + BLOCK - 1) / BLOCK;
    int have[MS_SANITY_LABELS];
    for (int k = 0; k < MS_SANITY_LABELS; k++) have[k] = isfinite(lo[k]) && ms_h5_exists(f, cols[k]);
    const int have_sub = ms_h5_exists(f, MS_COL_SUBCLASS);
    ms_sanity_counts *c = ms_calloc("sanity.counts", 1, sizeof *c);
    int32_t *status = ms_malloc_array("sanity.status", BLOCK, sizeof *status);
    uint32_t *flags = ms_malloc_array("sanity.flags", BLOCK, sizeof *flags);
    double *lab[MS_SANITY_LABELS];
    int ok = c && status && flags;
    for (int k = 0; k < MS_SANITY_LABELS; k++)
        ok &= (lab[k] = ms_malloc_array("sanity.lab", BLOCK, sizeof(double))) != NULL;
    char(*sub)[SUB_LEN] = ms_malloc_array("sanity.sub", BLOCK, SUB_LEN);
    ms_status st = ok && sub ? MS_OK : MS_ENOMEM;
    for (size_t blk = 0; st == MS_OK && blk < n_blocks; blk++) {
        size_t row0 = rlo + blk * BLOCK;
        if (row0 > rhi) row0 = rhi;
        const size_t n = rhi - row0 < BLOCK ? rhi - row0 : BLOCK;
        st = ms_h5_read_rows(f, MS_COL_STORE_STATUS, MS_H5_I32, 0, row0, n, status);
        if (st == MS_OK) st = ms_h5_read_rows(f, MS_COL_FIT_FLAGS, MS_H5_U32, 0, row0, n, flags);
        for (int k = 0; st == MS_OK && k < MS_SANITY_LABELS; k++)
            if (have[k]) st = ms_h5_read_rows(f, cols[k], MS_H5_F64, 0, row0, n, lab[k]);
        if (st == MS_OK && have_sub)
            st = ms_h5_read_rows(f, MS_COL_SUBCLASS, MS_H5_STR, SUB_LEN, row0, n, sub);
        for (size_t i = 0; st == MS_OK && i < n; i++) {
            if (status[i] != 0 || (flags[i] & MS_FIT_FAILED) || !isfinite(lab[0][i])) continue;
            c->fitted += 1;
            c->mismatch += (flags[i] & MS_FIT_MODEL_MISMATCH) != 0;
            for (int k = 0; k < MS_SANITY_LABELS; k++) {
                const int b = have[k] ? ms_sanity_bin(lab[k][i], lo[k], hi[k]) : -1;
                if (b >= 0) c->hist[k][b] += 1;
            }
            if (have_sub) {
                sub[i][SUB_LEN - 1] = '\0';
                const int s = ms_sanity_subtype(sub[i]);
                if (s >= 0) {
                    c->sub_n[s] += 1;
                    c->sub_teff[s] += round(lab[0][i]);
                }
            }
        }
    }
    if (par) st = ms_par_any_failed(st);
    if (st == MS_OK && par) st = ms_par_allreduce_sum_d((double *)c, sizeof *c / sizeof(double));
    if (st == MS_OK) {
        ms_sanity_evaluate(c, lo, hi, o, res);
        st = ms_h5_attr_set_str(f, "/", "sanity", res->text);
        const int64_t pass = res->pass;
        if (st == MS_OK) st = ms_h5_attr_set_i64(f, "/", "sanity_pass", &pass, 1);
    }
    ms_free(c);
    ms_free(status);
    ms_free(flags);
    for (int k = 0; k < MS_SANITY_LABELS; k++) ms_free(lab[k]);
    ms_free(sub);
    return st;
}
