/* error_scales.c: honest errors for the recommended-label rule (combine.h): against reference
 * labels the methods never trained on (ms_combine_reference_scales), else from the methods'
 * mutual differences, the three-cornered hat (ms_combine_error_scales). Pure computation: no
 * I/O, no MPI. */
#include "mstars/combine.h"
#include "mstars/mem.h"
#include "mstars/stats.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* LAPACK: Cholesky solve of a symmetric positive definite system */
void dposv_(const char *uplo, const int *n, const int *nrhs, double *a, const int *lda, double *b,
            const int *ldb, int *info);

#define MAX_M 16

static int usable(const ms_rec_input *x)
{
    return x->clean && isfinite(x->value) && isfinite(x->error) && x->error > 0.0;
}

static int in_bin(const double *key, size_t r, const double *edges, size_t b, size_t n_bins)
{
    if (n_bins == 0 || b == n_bins) return 1; /* b == n_bins: every row */
    double k = key ? key[r] : NAN;
    if (!key) return 1;
    return k >= edges[b] && k < edges[b + 1];
}

/* s^2 of every method of q in one bin (b == n_bins: all rows); s2[m] = NaN: not estimated. */
static void solve_bin(const ms_rec_input *in, size_t n, size_t nm, int q, const double *key,
                      const double *edges, size_t b, size_t n_bins, size_t min_rows,
                      double *d, double *work, double *s2, double *e_med)
{
    int have[MAX_M] = {0};
    for (size_t m = 0; m < nm; m++) {
        s2[m] = NAN;
        e_med[m] = NAN;
        size_t k = 0;
        for (size_t r = 0; r < n; r++) {
            const ms_rec_input *x = &in[(r * nm + m) * MS_REC_N + (size_t)q];
            if (usable(x) && in_bin(key, r, edges, b, n_bins)) d[k++] = x->error;
        }
        if (k >= min_rows) {
            have[m] = 1;
            e_med[m] = ms_stats_median_inplace(d, k);
        }
    }
    /* pairs: v_ij = robust variance of v_i - v_j */
    double ata[MAX_M * MAX_M], atv[MAX_M];
    memset(ata, 0, sizeof ata);
    memset(atv, 0, sizeof atv);
    size_t n_pairs = 0, idx[MAX_M], nu = 0;
    int pos[MAX_M];
    for (size_t m = 0; m < nm; m++) pos[m] = -1;
    double v_last = NAN;
    for (size_t i = 0; i < nm; i++)
        for (size_t j = i + 1; j < nm; j++) {
            if (!have[i] || !have[j]) continue;
            size_t k = 0;
            for (size_t r = 0; r < n; r++) {
                const ms_rec_input *x = &in[(r * nm + i) * MS_REC_N + (size_t)q];
                const ms_rec_input *y = &in[(r * nm + j) * MS_REC_N + (size_t)q];
                if (usable(x) && usable(y) && in_bin(key, r, edges, b, n_bins))
                    d[k++] = x->value - y->value;
            }
            if (k < min_rows) continue;
            ms_stats_summary s;
            ms_stats_summarize(d, k, work, &s);
            double v = s.robust_std * s.robust_std;
            if (!isfinite(v)) continue;
            const size_t ij[2] = {i, j};
            for (int t = 0; t < 2; t++)
                if (pos[ij[t]] < 0) {
                    pos[ij[t]] = (int)nu;
                    idx[nu++] = ij[t];
                }
            int a = pos[i], c = pos[j];
            ata[a * MAX_M + a] += 1.0;
            ata[c * MAX_M + c] += 1.0;
            ata[a * MAX_M + c] += 1.0;
            ata[c * MAX_M + a] += 1.0;
            atv[a] += v;
            atv[c] += v;
            v_last = v;
            n_pairs++;
        }
    if (nu == 2 && n_pairs == 1) {
        /* two methods: only s_i^2 + s_j^2 is known; one common factor for both */
        double f2 = v_last / (e_med[idx[0]] * e_med[idx[0]] + e_med[idx[1]] * e_med[idx[1]]);
        for (int t = 0; t < 2; t++) s2[idx[t]] = f2 * e_med[idx[t]] * e_med[idx[t]];
        return;
    }
    if (nu < 3 || n_pairs < nu) return;
    /* normal equations A^T A x = A^T v, compacted to the nu methods met */
    double a[MAX_M * MAX_M], x[MAX_M];
    for (size_t r = 0; r < nu; r++) {
        x[r] = atv[r];
        for (size_t c = 0; c < nu; c++) a[c * nu + r] = ata[r * MAX_M + c];
    }
    int nn = (int)nu, one = 1, info = 0;
    dposv_("U", &nn, &one, a, &nn, x, &nn, &info);
    if (info != 0) return;
    for (size_t t = 0; t < nu; t++)
        if (x[t] > 0.0) s2[idx[t]] = x[t];
}

int ms_combine_error_scales(const ms_rec_input *in, size_t n, size_t n_methods,
                            const double *key, const double *edges, size_t n_bins,
                            size_t min_rows, double *scale)
{
    const size_t nb = n_bins ? n_bins : 1;
    for (size_t i = 0; i < n_methods * MS_REC_N * nb; i++) scale[i] = 1.0;
    if (n_methods < 2 || n_methods > MAX_M) return 0;
    double *d = ms_malloc_array("combine.scales.d", n + 1, sizeof *d);
    double *work = ms_malloc_array("combine.scales.work", n + 1, sizeof *work);
    if (!d || !work) {
        ms_free(d);
        ms_free(work);
        return -1;
    }
    double s2[MAX_M], e_med[MAX_M], s2_all[MAX_M], e_all[MAX_M];
    for (int q = 0; q < MS_REC_N; q++) {
        /* all rows first: the fallback of a bin that cannot be estimated */
        solve_bin(in, n, n_methods, q, key, edges, n_bins, n_bins, min_rows, d, work, s2_all,
                  e_all);
        for (size_t b = 0; b < nb; b++) {
            if (n_bins)
                solve_bin(in, n, n_methods, q, key, edges, b, n_bins, min_rows, d, work, s2,
                          e_med);
            for (size_t m = 0; m < n_methods; m++) {
                double sc = NAN;
                if (n_bins && isfinite(s2[m]) && e_med[m] > 0.0) sc = sqrt(s2[m]) / e_med[m];
                if (!isfinite(sc) && isfinite(s2_all[m]) && e_all[m] > 0.0)
                    sc = sqrt(s2_all[m]) / e_all[m];
                scale[(m * MS_REC_N + (size_t)q) * nb + b] = isfinite(sc) && sc > 0.0 ? sc : 1.0;
            }
        }
    }
    ms_free(d);
    ms_free(work);
    return 0;
}

/* Honest errors against reference labels (combine.h, ms_combine_reference_scales);
 * rms_all [n_methods][MS_REC_N]: the all-rows RMS (NaN: fewer than min_rows in all);
 * n_bin, mse_bin [n_methods][MS_REC_N][bins] (NULL: not wanted): every bin's own row count
 * and mean squared difference, whatever the count (mse 0 where the bin has no row). */
static int reference_scales(const ms_rec_input *in, size_t n, size_t n_methods,
                            const double *ref, const double *key, const double *edges,
                            size_t n_bins, size_t min_rows, double *scale, double *rms,
                            size_t *n_used, double *rms_all, size_t *n_bin, double *mse_bin)
{
    const size_t nb = n_bins ? n_bins : 1;
    for (size_t i = 0; i < n_methods * MS_REC_N * nb; i++) scale[i] = NAN;
    for (size_t i = 0; rms && i < n_methods * MS_REC_N * nb; i++) rms[i] = NAN;
    for (size_t i = 0; n_used && i < n_methods * MS_REC_N; i++) n_used[i] = 0;
    for (size_t i = 0; rms_all && i < n_methods * MS_REC_N; i++) rms_all[i] = NAN;
    for (size_t i = 0; n_bin && i < n_methods * MS_REC_N * nb; i++) n_bin[i] = 0;
    for (size_t i = 0; mse_bin && i < n_methods * MS_REC_N * nb; i++) mse_bin[i] = 0.0;
    double *z = ms_malloc_array("combine.refscales.z", n + 1, sizeof *z);
    if (!z) return -1;
    for (size_t m = 0; m < n_methods; m++)
        for (int q = 0; q < MS_REC_N; q++) {
            /* b == nb: every row (the fallback of a bin with fewer than min_rows) */
            double all = NAN, all_rms = NAN;
            for (size_t b = nb + 1; b-- > 0;) {
                const size_t bb = b == nb ? n_bins : b; /* in_bin's "every row" */
                size_t k = 0;
                double ss = 0.0;
                for (size_t r = 0; r < n; r++) {
                    const ms_rec_input *x = &in[(r * n_methods + m) * MS_REC_N + (size_t)q];
                    const double t = ref[r * MS_REC_N + (size_t)q];
                    if (!usable(x) || !isfinite(t) || !in_bin(key, r, edges, bb, n_bins)) continue;
                    z[k++] = fabs((x->value - t) / x->error);
                    ss += (x->value - t) * (x->value - t); /* row order: deterministic */
                }
                /* 1.4826 median |z|: the robust spread about ZERO, so a bias counts as error */
                const double s = k >= min_rows && k > 0 ? 1.4826 * ms_stats_median_inplace(z, k) : NAN;
                const double e = k >= min_rows && k > 0 ? sqrt(ss / (double)k) : NAN;
                const size_t at = (m * MS_REC_N + (size_t)q) * nb + b;
                if (b < nb && n_bin) n_bin[at] = k;
                if (b < nb && mse_bin && k > 0) mse_bin[at] = ss / (double)k;
                if (b == nb) {
                    if (!(s > 0.0) || !isfinite(s)) break; /* too few rows: not estimated */
                    all = s;
                    all_rms = e;
                    if (n_used) n_used[m * MS_REC_N + (size_t)q] = k;
                    if (rms_all) rms_all[m * MS_REC_N + (size_t)q] = e;
                } else {
                    const int own = s > 0.0 && isfinite(s);
                    scale[at] = own ? s : all;
                    if (rms) rms[at] = own ? e : all_rms;
                }
            }
        }
    ms_free(z);
    return 0;
}

int ms_combine_reference_scales(const ms_rec_input *in, size_t n, size_t n_methods,
                                const double *ref, const double *key, const double *edges,
                                size_t n_bins, size_t min_rows, double *scale, double *rms,
                                size_t *n_used)
{
    return reference_scales(in, n, n_methods, ref, key, edges, n_bins, min_rows, scale, rms,
                            n_used, NULL, NULL, NULL);
}

const double ms_combine_scale_edges[MS_COMBINE_SCALE_BINS + 1] = {-HUGE_VAL, 10, 20, 50, HUGE_VAL};

/* The rank of every candidate (combine.h, ms_combine_rescale_errors): its mean squared
 * difference from the reference in the bin, shrunk toward what its all-rows value predicts
 * for the bin. The log of a mean of k squared normal errors scatters by ~sqrt(2 / k) about
 * the log of the true value, so a normal prior on log s^2 worth n0 = MS_COMBINE_REF_MIN_ROWS
 * rows gives the posterior mean (the normal-normal update, in log space)
 *   log s_{m,b}^2 = (k_{m,b} log mse_{m,b} + n0 log(f_b mse_{m,all})) / (k_{m,b} + n0),
 *   log f_b = sum_m k_{m,b} log(mse_{m,b} / mse_{m,all}) / sum_m k_{m,b}   (measured methods),
 * f_b: how much harder (or easier) the bin's rows are than all rows, common to the methods,
 * so that the prior alone (a method with no row in the bin) ranks as the all-rows RMS does
 * (like with like), and a bin with many rows of its own ranks by the bin's RMS. Every
 * candidate thus has a value in every bin; none falls back to another kind of number.
 * rall [nk], nbin and mse [nk][nbins] as reference_scales leaves them; rank [nk][nbins] out:
 * s, NaN where the method was not measured (rall NaN). Sums in method order. */
static void rank_scores(size_t n_methods, size_t nbins, const double *rall, const size_t *nbin,
                        const double *mse, double *rank)
{
    const double n0 = MS_COMBINE_REF_MIN_ROWS;
    for (int q = 0; q < MS_REC_N; q++)
        for (size_t b = 0; b < nbins; b++) {
            double num = 0.0, den = 0.0;
            for (size_t m = 0; m < n_methods; m++) {
                const size_t i = m * MS_REC_N + (size_t)q, at = i * nbins + b;
                if (!isfinite(rall[i]) || nbin[at] == 0) continue;
                num += (double)nbin[at] * log(fmax(mse[at], DBL_MIN) / (rall[i] * rall[i]));
                den += (double)nbin[at];
            }
            const double log_f = den > 0.0 ? num / den : 0.0;
            for (size_t m = 0; m < n_methods; m++) {
                const size_t i = m * MS_REC_N + (size_t)q, at = i * nbins + b;
                const double k = (double)nbin[at];
                const double prior = log_f + 2.0 * log(rall[i]);
                const double own = k > 0.0 ? log(fmax(mse[at], DBL_MIN)) : 0.0;
                rank[at] = isfinite(rall[i]) ? exp(0.5 * (k * own + n0 * prior) / (k + n0)) : NAN;
            }
        }
}

/* The rescaling of `mstars combine` and `fit --methods` (combine.h). */
int ms_combine_rescale_errors(ms_rec_input *in, size_t n, size_t n_methods, const double *snr,
                              const double *ref, double *scale, size_t *n_ref)
{
    const size_t nb = MS_COMBINE_SCALE_BINS, nk = n_methods * MS_REC_N;
    if (ms_combine_error_scales(in, n, n_methods, snr, ms_combine_scale_edges, snr ? nb : 0,
                                MS_COMBINE_SCALE_MIN_ROWS, scale) != 0)
        return -1;
    if (!snr) /* one bin was estimated: the same factor in every bin (backwards: in place) */
        for (size_t i = nk; i-- > 0;)
            for (size_t b = nb; b-- > 0;) scale[i * nb + b] = scale[i];
    for (size_t i = 0; n_ref && i < nk; i++) n_ref[i] = 0;
    if (ref) {
        /* the reference's scales replace the hat's wherever they could be measured */
        double *rs = ms_malloc_array("combine.refscales", 4 * nk * nb, sizeof *rs);
        size_t *nbin = ms_malloc_array("combine.refscales.n", nk * nb, sizeof *nbin);
        if (!rs || !nbin) {
            ms_free(rs);
            ms_free(nbin);
            return -1;
        }
        double *rall = rs + nk * nb, *mse = rs + 2 * nk * nb, *rank = rs + 3 * nk * nb;
        if (reference_scales(in, n, n_methods, ref, snr, ms_combine_scale_edges, snr ? nb : 0,
                             MS_COMBINE_REF_MIN_ROWS, rs, NULL, n_ref, rall, nbin, mse) != 0) {
            ms_free(rs);
            ms_free(nbin);
            return -1;
        }
        for (size_t i = 0; i < nk; i++)
            for (size_t b = 0; b < nb; b++) {
                const size_t at = snr ? i * nb + b : i; /* no snr: one bin */
                if (isfinite(rs[at])) scale[i * nb + b] = rs[at];
            }
        rank_scores(n_methods, snr ? nb : 1, rall, nbin, mse, rank);
        /* the rank of each candidate: its shrunk reference RMS in the row's bin; where a
         * usable candidate of the row has none (the reference could not measure the method:
         * e.g. the M giants' ensemble cnn_gm when the reference holds no giants), every
         * candidate of the row is ranked by its rescaled row error (score NaN), not one by an
         * RMS and another by an error */
        for (size_t r = 0; r < n; r++) {
            size_t b = 0;
            while (snr && b + 1 < nb && !(snr[r] < ms_combine_scale_edges[b + 1])) b++;
            for (int q = 0; q < MS_REC_N; q++) {
                int all_ref = 1;
                for (size_t m = 0; m < n_methods; m++) {
                    const size_t i = m * MS_REC_N + (size_t)q;
                    if (usable(&in[r * nk + i]) && !isfinite(rank[snr ? i * nb + b : i])) all_ref = 0;
                }
                for (size_t m = 0; m < n_methods; m++) {
                    const size_t i = m * MS_REC_N + (size_t)q;
                    in[r * nk + i].score = all_ref ? rank[snr ? i * nb + b : i] : NAN;
                }
            }
        }
        ms_free(rs);
        ms_free(nbin);
    }
    for (size_t r = 0; r < n; r++) {
        size_t b = 0;
        while (snr && b + 1 < nb && !(snr[r] < ms_combine_scale_edges[b + 1])) b++;
        for (size_t m = 0; m < n_methods; m++)
            for (int q = 0; q < MS_REC_N; q++)
                in[(r * n_methods + m) * MS_REC_N + (size_t)q].error *=
                    scale[(m * MS_REC_N + (size_t)q) * nb + b];
    }
    return 0;
}
