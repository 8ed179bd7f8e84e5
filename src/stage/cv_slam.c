/* cv_slam.c: the driver of `mstars cv-slam` (slam_job.h): k-fold cross-validation of the
 * whole SLAM method (L21 4.1.1, Eqs. 4-5): for each fold a model is trained on the other
 * folds (full per-pixel search) and the fold's spectra are fitted with it.
 *
 * Statistics per label, over all stars and per S/N bin: bias = mean(delta) (Eq. 4),
 * scatter = sample sd of delta (L21's Eq. 5 as printed, (1/n) sqrt(sum delta^2), is read as
 * the rms sqrt(sum delta^2 / n), also given), with bootstrap errors (sd over resamples);
 * pulls delta / error (sd and median |pull|: 1 and 0.67 for honest Gaussian errors). */
#include "slam_stage.h"

#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/par.h"
#include "mstars/rng.h"
#include "mstars/slam_job.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    size_t n;
    double bias, e_bias, sd, e_sd, rms, pull_sd, pull_med;
} cv_stat;

/* Statistics of the deltas d [n] (finite ones) and pulls p [n], bootstrap with B resamples. */
static void stats(const double *d, const double *p, const uint8_t *sel, size_t n, int B,
                  uint64_t seed, double *work, cv_stat *s)
{
    memset(s, 0, sizeof *s);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if ((!sel || sel[i]) && isfinite(d[i])) work[m++] = d[i];
    s->n = m;
    s->bias = s->sd = s->rms = s->e_bias = s->e_sd = s->pull_sd = s->pull_med = NAN;
    if (m == 0) return;
    double sum = 0, ss = 0;
    for (size_t i = 0; i < m; i++) sum += work[i];
    s->bias = sum / (double)m;
    for (size_t i = 0; i < m; i++) ss += work[i] * work[i];
    s->rms = sqrt(ss / (double)m);
    if (m >= 2) {
        double v = 0;
        for (size_t i = 0; i < m; i++) v += (work[i] - s->bias) * (work[i] - s->bias);
        s->sd = sqrt(v / (double)(m - 1));
    }
    /* bootstrap */
    uint64_t sm = seed, st[4];
    for (int k = 0; k < 4; k++) st[k] = ms_rng_splitmix64(&sm);
    double sb = 0, sb2 = 0, ssd = 0, ssd2 = 0;
    int nb = 0;
    for (int b = 0; b < B && m >= 2; b++) {
        double bs = 0, bq = 0;
        double *x = work + m; /* resample into the second half of work */
        for (size_t i = 0; i < m; i++) {
            x[i] = work[ms_rng_xoshiro256ss(st) % m];
            bs += x[i];
        }
        double mean = bs / (double)m;
        for (size_t i = 0; i < m; i++) bq += (x[i] - mean) * (x[i] - mean);
        double sd = sqrt(bq / (double)(m - 1));
        sb += mean;
        sb2 += mean * mean;
        ssd += sd;
        ssd2 += sd * sd;
        nb++;
    }
    if (nb > 1) {
        s->e_bias = sqrt(fmax(sb2 / nb - (sb / nb) * (sb / nb), 0) * nb / (nb - 1));
        s->e_sd = sqrt(fmax(ssd2 / nb - (ssd / nb) * (ssd / nb), 0) * nb / (nb - 1));
    }
    /* pulls */
    size_t k = 0;
    double pp = 0;
    for (size_t i = 0; i < n; i++)
        if ((!sel || sel[i]) && isfinite(p[i])) {
            work[k++] = fabs(p[i]);
            pp += p[i] * p[i];
        }
    if (k > 0) {
        s->pull_sd = sqrt(pp / (double)k);
        qsort(work, k, sizeof(double), cmp_d);
        s->pull_med = k % 2 ? work[k / 2] : 0.5 * (work[k / 2 - 1] + work[k / 2]);
    }
}

static ms_status parse_bins(const char *text, double *edges, size_t cap, size_t *n)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", text ? text : "0,20,50,100,inf");
    *n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (*n >= cap) MS_ERROR(MS_EINVAL, "cv-slam: too many S/N bin edges");
        char *end;
        edges[*n] = strcmp(tok, "inf") == 0 ? INFINITY : strtod(tok, &end);
        if (strcmp(tok, "inf") != 0 && *end) MS_ERROR(MS_EINVAL, "cv-slam: bad S/N edge '%s'", tok);
        if (*n > 0 && !(edges[*n] > edges[*n - 1]))
            MS_ERROR(MS_EINVAL, "cv-slam: S/N bin edges must increase");
        (*n)++;
    }
    if (*n < 2) MS_ERROR(MS_EINVAL, "cv-slam: need at least two S/N bin edges");
    return MS_OK;
}

/* Per-star table and summary (rank 0). */
static ms_status write_outputs(const ms_slam_cv_job_opts *o, const ms_slam_trainset *s,
                               const int *fold, const double *pred, const double *err,
                               const double *chi2r, const double *flags, int K, double seconds,
                               double *floors)
{
    const size_t n = s->n, D = s->n_labels;
    FILE *f = fopen(o->out, "w");
    if (!f) MS_ERROR(MS_EIO, "cv-slam: cannot write %s", o->out);
    fprintf(f, "store_row,obsid,fold,snr");
    for (size_t d = 0; d < D; d++)
        fprintf(f, ",%s,slam_%s,e_slam_%s", s->label_names[d], s->label_names[d], s->label_names[d]);
    fprintf(f, ",chi2_red,flags\n");
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "%zu,%s,%d,%.3f", s->store_row[i], s->obsid[i], fold[i], s->snr[i]);
        for (size_t d = 0; d < D; d++)
            fprintf(f, ",%.6g,%.6g,%.6g", s->labels[i * D + d], pred[i * D + d], err[i * D + d]);
        fprintf(f, ",%.4f,%d\n", chi2r[i], (int)flags[i]);
    }
    if (fclose(f) != 0) MS_ERROR(MS_EIO, "cv-slam: cannot write %s", o->out);

    char spath[MS_CFG_STR_MAX + 16];
    if (o->summary) snprintf(spath, sizeof spath, "%s", o->summary);
    else snprintf(spath, sizeof spath, "%s.summary.txt", o->out);
    FILE *g = fopen(spath, "w");
    if (!g) MS_ERROR(MS_EIO, "cv-slam: cannot write %s", spath);
    double edges[16];
    size_t ne;
    MS_TRY(parse_bins(o->snr_bins, edges, 16, &ne));
    double *dl = ms_malloc_array("cv.d", n + 1, sizeof(double));
    double *pl = ms_malloc_array("cv.p", n + 1, sizeof(double));
    double *work = ms_malloc_array("cv.w", 2 * n + 2, sizeof(double));
    uint8_t *sel = ms_malloc_array("cv.sel", n + 1, 1);
    if (!dl || !pl || !work || !sel) {
        fclose(g);
        ms_free(dl);
        ms_free(pl);
        ms_free(work);
        ms_free(sel);
        return MS_ENOMEM;
    }
    fprintf(g, "# mstars cv-slam: %d-fold cross-validation of SLAM on %zu spectra (%s joined to "
            "%s), %.0f s\n# %s\n# bias = mean(SLAM - reference) +/- bootstrap error; scatter = sd "
            "+/- bootstrap error; rms; pull = delta / error (sd, median |pull|)\n",
            K, n, o->ts.store, o->ts.labels, seconds, o->command ? o->command : "");
    fprintf(g, "%-10s %-12s %4s %22s %22s %10s %8s %8s\n", "label", "snr", "n", "bias", "scatter",
            "rms", "pull_rms", "pull_med");
    for (size_t d = 0; d < D; d++) {
        for (size_t i = 0; i < n; i++) {
            dl[i] = pred[i * D + d] - s->labels[i * D + d];
            pl[i] = err[i * D + d] > 0 ? dl[i] / err[i * D + d] : NAN;
        }
        for (size_t b = 0; b < ne; b++) { /* b == 0: all stars; then the bins */
            char name[32];
            if (b == 0) {
                snprintf(name, sizeof name, "all");
                for (size_t i = 0; i < n; i++) sel[i] = 1;
            } else {
                snprintf(name, sizeof name, "[%g,%g)", edges[b - 1], edges[b]);
                for (size_t i = 0; i < n; i++) sel[i] = s->snr[i] >= edges[b - 1] && s->snr[i] < edges[b];
            }
            cv_stat st;
            stats(dl, pl, sel, n, o->bootstrap, 12345 + d * 17 + b, work, &st);
            char bias[48], sd[48];
            snprintf(bias, sizeof bias, "%+.4g +/- %.3g", st.bias, st.e_bias);
            snprintf(sd, sizeof sd, "%.4g +/- %.3g", st.sd, st.e_sd);
            fprintf(g, "%-10s %-12s %4zu %22s %22s %10.4g %8.2f %8.2f\n", s->label_names[d], name,
                    st.n, bias, sd, st.rms, st.pull_sd, st.pull_med);
            if (b == 0)
                ms_log0_info("cv-slam: %-6s n=%zu bias %s, scatter %s, rms %.4g, pull sd %.2f "
                             "(median |pull| %.2f)", s->label_names[d], st.n, bias, sd, st.rms,
                             st.pull_sd, st.pull_med);
        }
    }
    /* the error floor that makes the pulls honest, and its leave-one-out check */
    fprintf(g, "# error floor F (added in quadrature so that rms pull = 1; cv-slam --calibrate "
            "writes it into a model); pulls with F fitted on the other stars (leave-one-out):\n");
    for (size_t d = 0; d < D; d++) {
        double *e = work;
        for (size_t i = 0; i < n; i++) {
            dl[i] = pred[i * D + d] - s->labels[i * D + d];
            e[i] = err[i * D + d];
        }
        floors[d] = ms_slam_error_floor(dl, e, n);
        double ss = 0;
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (!isfinite(dl[i]) || !isfinite(e[i])) continue;
            double keep_d = dl[i];
            dl[i] = NAN;
            double F = ms_slam_error_floor(dl, e, n);
            dl[i] = keep_d;
            double p = dl[i] / sqrt(e[i] * e[i] + F * F);
            ss += p * p;
            k++;
        }
        fprintf(g, "floor %-10s %.4g   rms pull with a leave-one-out floor %.2f (n=%zu)\n",
                s->label_names[d], floors[d], k ? sqrt(ss / (double)k) : NAN, k);
        ms_log0_info("cv-slam: %-6s error floor %.4g; rms pull with a leave-one-out floor %.2f",
                     s->label_names[d], floors[d], k ? sqrt(ss / (double)k) : NAN);
    }
    ms_free(dl);
    ms_free(pl);
    ms_free(work);
    ms_free(sel);
    if (fclose(g) != 0) MS_ERROR(MS_EIO, "cv-slam: cannot write %s", spath);
    ms_log0_info("cv-slam: wrote %s and %s", o->out, spath);
    return MS_OK;
}

ms_status ms_slam_cv_job(const ms_config *cfg, const ms_slam_cv_job_opts *o)
{
    double t0 = ms_par_wtime();
    double edges[16];
    size_t ne;
    MS_TRY(parse_bins(o->snr_bins, edges, 16, &ne));
    ms_slam_trainset s;
    MS_TRY(ms_par_any_failed(ms_slam_trainset_load(&o->ts, &s)));
    const size_t n = s.n, D = s.n_labels;
    int K = o->folds >= (int)n || o->folds <= 0 ? (int)n : o->folds;
    if (K < 2) {
        ms_slam_trainset_free(&s);
        MS_ERROR(MS_EINVAL, "cv-slam: %zu spectra are too few to cross-validate", n);
    }
    ms_log0_info("cv-slam: %zu spectra, %zu labels, %d folds%s; inner search %d-fold", n, D, K,
                 K == (int)n ? " (leave-one-out)" : "", o->grid.folds);
    int *fold = ms_malloc_array("cv.fold", n, sizeof(int));
    size_t *perm = ms_malloc_array("cv.perm", n, sizeof(size_t));
    uint8_t *keep = ms_malloc_array("cv.keep", n, 1);
    double *pred = ms_calloc("cv.pred", n * D, sizeof(double));
    double *err = ms_calloc("cv.err", n * D, sizeof(double));
    double *chi2r = ms_calloc("cv.chi2", n, sizeof(double));
    double *flags = ms_calloc("cv.flags", n, sizeof(double));
    double floors[MS_SLAM_MAX_LABELS] = {0};
    ms_status st = fold && perm && keep && pred && err && chi2r && flags ? MS_OK : MS_ENOMEM;
    st = ms_par_any_failed(st);
    if (st == MS_OK) {
        uint64_t sm = (uint64_t)cfg->general.seed ^ 0x5a17u, rs[4];
        for (int k = 0; k < 4; k++) rs[k] = ms_rng_splitmix64(&sm);
        for (size_t i = 0; i < n; i++) perm[i] = i;
        for (size_t i = n; i > 1; i--) {
            size_t j = (size_t)(ms_rng_xoshiro256ss(rs) % i), t = perm[i - 1];
            perm[i - 1] = perm[j];
            perm[j] = t;
        }
        for (size_t k = 0; k < n; k++) fold[perm[k]] = (int)(k % (size_t)K);
    }
    size_t fitted_here = 0;
    for (int k = 0; st == MS_OK && k < K; k++) {
        for (size_t i = 0; i < n; i++) keep[i] = fold[i] != k;
        ms_slam_trainset sub;
        st = ms_par_any_failed(ms_slam_trainset_subset(&s, keep, &sub));
        if (st != MS_OK) break;
        ms_slam_model m;
        char what[64];
        snprintf(what, sizeof what, "cv-slam fold %d/%d", k + 1, K);
        st = ms_slam_stage_train(&sub, &o->grid, cfg->run.progress_seconds, what, &m);
        ms_slam_trainset_free(&sub);
        if (st != MS_OK) break;
        ms_slam_ws *ws = NULL;
        st = ms_slam_ws_alloc(&m, &ws);
        ms_slam_fit_opts fo;
        ms_slam_fit_opts_default(&fo);
        for (size_t i = 0; st == MS_OK && i < n; i++) {
            if (fold[i] != k) continue;
            if ((fitted_here++ % (size_t)ms_par_size()) != (size_t)ms_par_rank()) continue;
            ms_slam_result r;
            st = ms_slam_fit(&m, ws, &fo, s.flux + i * s.n_pix, s.ivar + i * s.n_pix, s.mask, &r);
            for (size_t d = 0; d < D; d++) {
                pred[i * D + d] = r.label[d];
                err[i * D + d] = r.error[d];
            }
            chi2r[i] = r.chi2_red;
            flags[i] = (double)r.flags;
        }
        ms_slam_ws_free(ws);
        ms_slam_model_free(&m);
        st = ms_par_any_failed(st);
        ms_log0_info("cv-slam: fold %d/%d done (%.0f s)", k + 1, K, ms_par_wtime() - t0);
    }
    if (st == MS_OK) st = ms_par_allreduce_sum_d(pred, n * D);
    if (st == MS_OK) st = ms_par_allreduce_sum_d(err, n * D);
    if (st == MS_OK) st = ms_par_allreduce_sum_d(chi2r, n);
    if (st == MS_OK) st = ms_par_allreduce_sum_d(flags, n);
    if (st == MS_OK && ms_par_rank() == 0)
        st = write_outputs(o, &s, fold, pred, err, chi2r, flags, K, ms_par_wtime() - t0, floors);
    if (st == MS_OK && ms_par_rank() == 0 && o->calibrate) {
        st = ms_slam_model_set_error_floor(o->calibrate, floors, D);
        if (st == MS_OK) ms_log0_info("cv-slam: wrote the error floors into %s", o->calibrate);
    }
    st = ms_par_agree(st);
    ms_free(fold);
    ms_free(perm);
    ms_free(keep);
    ms_free(pred);
    ms_free(err);
    ms_free(chi2r);
    ms_free(flags);
    ms_slam_trainset_free(&s);
    return st;
}
