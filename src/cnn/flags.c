/* flags.c: L25's parameter_flag (1.5): the error-model cut (Eq. 3, Eq. 4) per class and S/N_i
 * bin, and the recommended label ranges (Table 10). */
#include "mstars/cnn.h"

#include "mstars/mem.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_multifit.h>
#include <math.h>
#include <string.h>

#define N_LAB 4
#define N_COEF (2 + N_LAB) /* a0 + a1 S/N_i + a2..a5 labels (Eq. 3) */

ms_status ms_cnn_class_ranges(const char *cls, double *lo, double *hi)
{
    /* L25 Table 10 */
    static const double dm[2][N_LAB] = {{3225, 4.35, -0.85, -0.13}, {4125, 5.45, 0.35, 0.25}};
    static const double gm[2][N_LAB] = {{3425, -0.05, -1.35, -0.03}, {4075, 1.55, 0.45, 0.31}};
    const double(*r)[N_LAB];
    if (strcmp(cls, "dM") == 0)
        r = dm;
    else if (strcmp(cls, "gM") == 0)
        r = gm;
    else
        MS_ERROR(MS_EINVAL, "cnn: class '%s' (dM or gM)", cls);
    memcpy(lo, r[0], sizeof r[0]);
    memcpy(hi, r[1], sizeof r[1]);
    return MS_OK;
}

/* S/N_i bin of L25 1.5: 0 (0,20], 1 (20,50], 2 (50,100], 3 >100; -1 for S/N_i <= 0. */
static int snr_bin(double s)
{
    if (!(s > 0.0)) return -1;
    return s <= 20.0 ? 0 : s <= 50.0 ? 1 : s <= 100.0 ? 2 : 3;
}

/* Eq. 3 and Eq. 4 for label p over the rows of one bin (idx [m]); clears ok[i] of outliers.
 * Fewer rows than 2 N_COEF: too few for a regression, the cut is not applied. */
static ms_status error_cut(size_t m, const size_t *idx, int p, const int *used,
                           const double *value, const double *error, const double *snr,
                           int32_t *ok)
{
    if (m < 2 * N_COEF) return MS_OK;
    gsl_matrix *X = gsl_matrix_alloc(m, N_COEF), *cov = gsl_matrix_alloc(N_COEF, N_COEF);
    gsl_vector *y = gsl_vector_alloc(m), *c = gsl_vector_alloc(N_COEF);
    gsl_multifit_linear_workspace *w = gsl_multifit_linear_alloc(m, N_COEF);
    double *r = ms_malloc_array("cnn.flag.resid", m, sizeof(double));
    ms_status st = MS_OK;
    if (!X || !cov || !y || !c || !w || !r) {
        st = ms_error_set(MS_ENOMEM, __FILE__, __LINE__, "cnn parameter_flag: %zu rows", m);
        goto done;
    }
    for (size_t k = 0; k < m; k++) {
        const size_t i = idx[k];
        gsl_matrix_set(X, k, 0, 1.0);
        gsl_matrix_set(X, k, 1, snr[i]);
        for (int q = 0; q < N_LAB; q++)
            gsl_matrix_set(X, k, 2 + q, used[q] ? value[i * N_LAB + q] : 0.0);
        gsl_vector_set(y, k, error[i * N_LAB + p]);
    }
    double chisq;
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    /* SVD-based least squares: unused (zero) label columns are rank-deficient, which the
     * SVD's truncation handles */
    size_t rank;
    int gs = gsl_multifit_linear_tsvd(X, y, 1e-12, c, cov, &chisq, &rank, w);
    gsl_set_error_handler(old);
    if (gs) {
        st = ms_error_set(MS_ENOPROG, __FILE__, __LINE__,
                          "cnn parameter_flag: the Eq. 3 regression failed (%s)", gsl_strerror(gs));
        goto done;
    }
    double s = 0.0, ss = 0.0;
    for (size_t k = 0; k < m; k++) {
        double fit = 0.0;
        for (int q = 0; q < N_COEF; q++) fit += gsl_matrix_get(X, k, (size_t)q) * gsl_vector_get(c, (size_t)q);
        r[k] = gsl_vector_get(y, k) - fit;
        s += r[k];
    }
    const double mean = s / (double)m;
    for (size_t k = 0; k < m; k++) ss += (r[k] - mean) * (r[k] - mean);
    const double sd = sqrt(ss / (double)(m - 1));
    for (size_t k = 0; k < m; k++)
        if (!(r[k] < mean + 3.0 * sd)) ok[idx[k]] = 0; /* Eq. 4 */
done:
    ms_free(r);
    if (w) gsl_multifit_linear_free(w);
    if (X) gsl_matrix_free(X);
    if (cov) gsl_matrix_free(cov);
    if (y) gsl_vector_free(y);
    if (c) gsl_vector_free(c);
    return st;
}

ms_status ms_cnn_parameter_flag(const char *cls, size_t n, const double *value,
                                const double *error, const double *snr_i, int32_t *flag)
{
    double lo[N_LAB], hi[N_LAB];
    MS_TRY(ms_cnn_class_ranges(cls, lo, hi));
    /* labels the model predicts: any finite value */
    int used[N_LAB] = {0};
    for (size_t i = 0; i < n; i++)
        for (int q = 0; q < N_LAB; q++) used[q] |= isfinite(value[i * N_LAB + q]);
    for (size_t i = 0; i < n; i++) {
        int ok = snr_bin(snr_i[i]) >= 0, any = 0;
        for (int q = 0; q < N_LAB && ok; q++) {
            if (!used[q]) continue;
            const double v = value[i * N_LAB + q], e = error[i * N_LAB + q];
            ok = isfinite(v) && isfinite(e) && v >= lo[q] && v <= hi[q]; /* Table 10 */
            any = 1;
        }
        flag[i] = ok && any;
    }
    size_t *idx = ms_malloc_array("cnn.flag.idx", n + 1, sizeof(size_t));
    if (!idx) return MS_ENOMEM;
    ms_status st = MS_OK;
    for (int bin = 0; bin < 4 && st == MS_OK; bin++) {
        /* the rows of the bin with every used label predicted (the regression's sample) */
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            if (snr_bin(snr_i[i]) != bin) continue;
            int fin = 1;
            for (int q = 0; q < N_LAB; q++)
                if (used[q]) fin &= isfinite(value[i * N_LAB + q]) && isfinite(error[i * N_LAB + q]);
            if (fin) idx[m++] = i;
        }
        for (int p = 0; p < N_LAB && st == MS_OK; p++)
            if (used[p]) st = error_cut(m, idx, p, used, value, error, snr_i, flag);
    }
    ms_free(idx);
    return st;
}
