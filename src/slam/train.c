/* train.c: the per-pixel SVR training of SLAM (slam.h; L21 2, Eq. 1) through libsvm.
 *
 * Kernel reuse: the RBF kernel K(x_i, x_k) = exp(-gamma |x_i - x_k|^2) of the standardised
 * labels is the same for every pixel, fold, C and epsilon, so one Gram matrix per gamma of
 * the grid is built here once and given to libsvm as a PRECOMPUTED kernel. libsvm's
 * precomputed format: sample i is the node array [0: serial number i+1, k: K(x_i, x_k) for
 * k = 1..n]; the kernel of two samples is a lookup x_i[serial(x_k)], so any subset of the
 * rows (a fold, the spectra valid at a pixel) is a valid problem without copying, and a
 * held-out spectrum is predicted from its own row. */
#include "mstars/hash.h"
#include "mstars/mem.h"
#include "mstars/rng.h"
#include "mstars/slam.h"

#include <libsvm/svm.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

struct ms_slam_trainer {
    const ms_slam_train_set *t;
    ms_slam_grid g;
    size_t n, D;
    double mean[MS_SLAM_MAX_LABELS], scale[MS_SLAM_MAX_LABELS];
    double *z;                     /* [n, D] standardised labels */
    int *fold;                     /* [n] */
    double gval[MS_SLAM_MAX_GRID]; /* resolved gamma per grid index */
    struct svm_node *gram[MS_SLAM_MAX_GRID]; /* [n, n + 2] per gamma */
    /* per-pixel scratch */
    double *y;                     /* [n] standardised flux */
    uint8_t *valid;                /* [n] */
    size_t *idx;                   /* [n] */
    double *yv;                    /* [n] */
    struct svm_node **xp;          /* [n] */
    double *mse;                   /* [n_gamma * n_c * n_eps] memo (NaN: not evaluated) */
    int n_fits;
};

static void quiet(const char *s) { (void)s; }

const double *ms_slam_trainer_label_mean(const ms_slam_trainer *tr) { return tr->mean; }
const double *ms_slam_trainer_label_scale(const ms_slam_trainer *tr) { return tr->scale; }
int ms_slam_trainer_fold(const ms_slam_trainer *tr, size_t i) { return tr->fold[i]; }

void ms_slam_train_hash(const ms_slam_train_set *t, char hex[17])
{
    uint64_t h = MS_HASH_INIT;
    size_t dims[3] = {t->n, t->n_pix, t->n_labels};
    h = ms_hash_bytes(h, dims, sizeof dims);
    for (size_t d = 0; d < t->n_labels; d++)
        h = ms_hash_bytes(h, t->label_names[d], strlen(t->label_names[d]) + 1);
    h = ms_hash_bytes(h, t->labels, t->n * t->n_labels * sizeof(double));
    h = ms_hash_bytes(h, t->flux, t->n * t->n_pix * sizeof(float));
    h = ms_hash_bytes(h, t->ivar, t->n * t->n_pix * sizeof(float));
    if (t->mask) h = ms_hash_bytes(h, t->mask, t->n_pix);
    ms_hash_hex(h, hex);
}

void ms_slam_trainer_free(ms_slam_trainer *tr)
{
    if (!tr) return;
    for (size_t k = 0; k < MS_SLAM_MAX_GRID; k++) ms_free(tr->gram[k]);
    void *p[] = {tr->z, tr->fold, tr->y, tr->valid, tr->idx, tr->yv, tr->xp, tr->mse};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) ms_free(p[i]);
    ms_free(tr);
}

static ms_status check_grid(const ms_slam_grid *g)
{
    if (g->n_c < 1 || g->n_eps < 1 || g->n_gamma < 1 || g->n_c > MS_SLAM_MAX_GRID ||
        g->n_eps > MS_SLAM_MAX_GRID || g->n_gamma > MS_SLAM_MAX_GRID)
        MS_ERROR(MS_EINVAL, "slam grid: every list needs 1..%d values", MS_SLAM_MAX_GRID);
    for (size_t i = 0; i < g->n_c; i++)
        if (!(g->c[i] > 0)) MS_ERROR(MS_EINVAL, "slam grid: C must be > 0 (got %g)", g->c[i]);
    for (size_t i = 0; i < g->n_eps; i++)
        if (!(g->eps[i] >= 0)) MS_ERROR(MS_EINVAL, "slam grid: epsilon must be >= 0");
    for (size_t i = 0; i < g->n_gamma; i++)
        if (!(g->gamma[i] >= 0)) MS_ERROR(MS_EINVAL, "slam grid: gamma must be >= 0 (0: auto)");
    if (g->folds < 2) MS_ERROR(MS_EINVAL, "slam grid: folds must be >= 2 (got %d)", g->folds);
    if (!(g->tol > 0)) MS_ERROR(MS_EINVAL, "slam grid: the libsvm tolerance must be > 0");
    return MS_OK;
}

ms_status ms_slam_trainer_alloc(const ms_slam_train_set *t, const ms_slam_grid *g,
                                ms_slam_trainer **out)
{
    *out = NULL;
    MS_TRY(check_grid(g));
    const size_t n = t->n, D = t->n_labels;
    if (D < 1 || D > MS_SLAM_MAX_LABELS)
        MS_ERROR(MS_EINVAL, "slam: %zu labels (1..%d supported)", D, MS_SLAM_MAX_LABELS);
    if (n < (size_t)g->folds + 1)
        MS_ERROR(MS_EINVAL, "slam: %zu training spectra are too few for %d-fold CV", n, g->folds);
    /* the Gram matrices: n (n + 2) nodes of 16 bytes per gamma */
    double bytes = (double)n * (double)(n + 2) * (double)sizeof(struct svm_node) * (double)g->n_gamma;
    if (bytes > 16.0 * 1073741824.0)
        MS_ERROR(MS_EINVAL, "slam: %zu training spectra need %.1f GiB of Gram matrices for %zu "
                 "gammas; use fewer spectra or gammas", n, bytes / 1073741824.0, g->n_gamma);
    ms_slam_trainer *tr = ms_calloc("slam.trainer", 1, sizeof *tr);
    if (!tr) return MS_ENOMEM;
    tr->t = t;
    tr->g = *g;
    tr->n = n;
    tr->D = D;
    tr->z = ms_malloc_array("slam.z", n * D, sizeof(double));
    tr->fold = ms_malloc_array("slam.fold", n, sizeof(int));
    tr->y = ms_malloc_array("slam.y", n, sizeof(double));
    tr->valid = ms_malloc_array("slam.valid", n, 1);
    tr->idx = ms_malloc_array("slam.idx", n, sizeof(size_t));
    tr->yv = ms_malloc_array("slam.yv", n, sizeof(double));
    tr->xp = ms_malloc_array("slam.xp", n, sizeof(struct svm_node *));
    tr->mse = ms_malloc_array("slam.mse", g->n_gamma * g->n_c * g->n_eps, sizeof(double));
    if (!tr->z || !tr->fold || !tr->y || !tr->valid || !tr->idx || !tr->yv || !tr->xp || !tr->mse) {
        ms_slam_trainer_free(tr);
        return MS_ENOMEM;
    }
    /* labels standardised to mean 0, sd 1 (population sd, as sklearn's StandardScaler) */
    for (size_t d = 0; d < D; d++) {
        double s = 0, s2 = 0;
        for (size_t i = 0; i < n; i++) {
            double v = t->labels[i * D + d];
            if (!isfinite(v)) {
                ms_slam_trainer_free(tr);
                MS_ERROR(MS_EINVAL, "slam: training spectrum %zu has a non-finite %s", i,
                         t->label_names[d]);
            }
            s += v;
        }
        tr->mean[d] = s / (double)n;
        for (size_t i = 0; i < n; i++) {
            double v = t->labels[i * D + d] - tr->mean[d];
            s2 += v * v;
        }
        tr->scale[d] = sqrt(s2 / (double)n);
        if (!(tr->scale[d] > 0)) {
            ms_slam_trainer_free(tr);
            MS_ERROR(MS_EINVAL, "slam: label %s has the same value for every training spectrum",
                     t->label_names[d]);
        }
        for (size_t i = 0; i < n; i++)
            tr->z[i * D + d] = (t->labels[i * D + d] - tr->mean[d]) / tr->scale[d];
    }
    /* folds: a seeded shuffle, then round robin (labels are often sorted) */
    size_t *perm = tr->idx;
    for (size_t i = 0; i < n; i++) perm[i] = i;
    uint64_t sm = g->seed, st[4];
    for (int k = 0; k < 4; k++) st[k] = ms_rng_splitmix64(&sm);
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(ms_rng_xoshiro256ss(st) % i), tmp = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = tmp;
    }
    for (size_t k = 0; k < n; k++) tr->fold[perm[k]] = (int)(k % (size_t)g->folds);
    /* one Gram matrix per gamma */
    for (size_t gi = 0; gi < g->n_gamma; gi++) {
        double gam = g->gamma[gi] > 0 ? g->gamma[gi] : 1.0 / (double)D; /* "auto" */
        tr->gval[gi] = gam;
        struct svm_node *G = ms_malloc_array("slam.gram", n * (n + 2), sizeof *G);
        if (!G) {
            ms_slam_trainer_free(tr);
            return MS_ENOMEM;
        }
        tr->gram[gi] = G;
        for (size_t i = 0; i < n; i++) {
            struct svm_node *row = G + i * (n + 2);
            row[0].index = 0;
            row[0].value = (double)(i + 1);
            for (size_t k = 0; k < n; k++) {
                double r2 = 0;
                for (size_t d = 0; d < D; d++) {
                    double u = tr->z[i * D + d] - tr->z[k * D + d];
                    r2 += u * u;
                }
                row[k + 1].index = (int)(k + 1);
                row[k + 1].value = exp(-gam * r2);
            }
            row[n + 1].index = -1;
            row[n + 1].value = 0;
        }
    }
    svm_set_print_string_function(quiet);
    *out = tr;
    return MS_OK;
}

static void svr_param(const ms_slam_trainer *tr, double C, double eps, struct svm_parameter *p)
{
    memset(p, 0, sizeof *p);
    p->svm_type = EPSILON_SVR;
    p->kernel_type = PRECOMPUTED;
    p->C = C;
    p->p = eps;
    p->eps = tr->g.tol;
    p->cache_size = 64;
    p->shrinking = 1;
    p->probability = 0;
}

/* Standardise pixel j's flux over the valid training spectra. Returns the pixel status. */
static int prepare_pixel(ms_slam_trainer *tr, size_t j, ms_slam_pixel *res)
{
    const ms_slam_train_set *t = tr->t;
    memset(res, 0, sizeof *res);
    res->cv_mse = NAN;
    res->flux_mean = NAN;
    res->flux_scale = NAN;
    if (t->mask && t->mask[j]) return res->status = 1;
    size_t m = 0;
    double s = 0;
    for (size_t i = 0; i < tr->n; i++) {
        float f = t->flux[i * t->n_pix + j], iv = t->ivar[i * t->n_pix + j];
        tr->valid[i] = isfinite(f) && isfinite(iv) && iv > 0;
        if (tr->valid[i]) {
            m++;
            s += f;
        }
    }
    res->n_train = (int32_t)m;
    if (m < (size_t)tr->g.folds + 1) return res->status = 2;
    double mean = s / (double)m, s2 = 0;
    for (size_t i = 0; i < tr->n; i++)
        if (tr->valid[i]) {
            double u = t->flux[i * t->n_pix + j] - mean;
            s2 += u * u;
        }
    double sd = sqrt(s2 / (double)m);
    if (!(sd > 0)) return res->status = 3;
    res->flux_mean = mean;
    res->flux_scale = sd;
    for (size_t i = 0; i < tr->n; i++)
        tr->y[i] = tr->valid[i] ? (t->flux[i * t->n_pix + j] - mean) / sd : 0.0;
    return 0;
}

/* k-fold CV MSE (Eq. 1, standardised flux) of one grid point at the prepared pixel. */
static ms_status cv_mse(ms_slam_trainer *tr, size_t gi, size_t ci, size_t ei, double *out)
{
    struct svm_parameter p;
    svr_param(tr, tr->g.c[ci], tr->g.eps[ei], &p);
    const size_t n = tr->n, stride = n + 2;
    const struct svm_node *G = tr->gram[gi];
    double sse = 0;
    size_t m = 0;
    for (int k = 0; k < tr->g.folds; k++) {
        size_t l = 0, n_test = 0;
        for (size_t i = 0; i < n; i++) {
            if (!tr->valid[i]) continue;
            if (tr->fold[i] == k) {
                n_test++;
                continue;
            }
            tr->xp[l] = (struct svm_node *)(G + i * stride);
            tr->yv[l] = tr->y[i];
            l++;
        }
        if (n_test == 0 || l == 0) continue;
        struct svm_problem prob = {(int)l, tr->yv, tr->xp};
        struct svm_model *model = svm_train(&prob, &p);
        if (!model) MS_ERROR(MS_ENOMEM, "slam: libsvm svm_train failed (fold %d)", k);
        tr->n_fits++;
        for (size_t i = 0; i < n; i++) {
            if (!tr->valid[i] || tr->fold[i] != k) continue;
            double r = svm_predict(model, G + i * stride) - tr->y[i];
            sse += r * r;
            m++;
        }
        svm_free_and_destroy_model(&model);
    }
    *out = m ? sse / (double)m : NAN;
    return MS_OK;
}

/* The memoised CV MSE of grid point (gi, ci, ei). */
static ms_status grid_mse(ms_slam_trainer *tr, size_t gi, size_t ci, size_t ei, double *out)
{
    double *slot = &tr->mse[(gi * tr->g.n_c + ci) * tr->g.n_eps + ei];
    if (isnan(*slot)) MS_TRY(cv_mse(tr, gi, ci, ei, slot));
    *out = *slot;
    return MS_OK;
}

/* Coordinate search: from the grid's centre, the best value of one hyperparameter at a time
 * (gamma, C, epsilon), repeated until a sweep changes nothing. */
static ms_status coord_search(ms_slam_trainer *tr, size_t best[3], double *best_mse)
{
    const size_t len[3] = {tr->g.n_gamma, tr->g.n_c, tr->g.n_eps};
    for (int a = 0; a < 3; a++) best[a] = (len[a] - 1) / 2;
    MS_TRY(grid_mse(tr, best[0], best[1], best[2], best_mse));
    for (int sweep = 0; sweep < 8; sweep++) {
        int changed = 0;
        for (int a = 0; a < 3; a++) {
            size_t cur[3] = {best[0], best[1], best[2]};
            for (size_t v = 0; v < len[a]; v++) {
                cur[a] = v;
                double e;
                MS_TRY(grid_mse(tr, cur[0], cur[1], cur[2], &e));
                if (e < *best_mse) {
                    *best_mse = e;
                    best[a] = v;
                    changed = 1;
                }
            }
        }
        if (!changed) break;
    }
    return MS_OK;
}

ms_status ms_slam_train_pixel(ms_slam_trainer *tr, size_t j, ms_slam_pixel *res)
{
    if (j >= tr->t->n_pix) MS_ERROR(MS_EINVAL, "slam: pixel %zu of %zu", j, tr->t->n_pix);
    if (prepare_pixel(tr, j, res)) return MS_OK;
    const size_t ng = tr->g.n_gamma, nc = tr->g.n_c, ne = tr->g.n_eps;
    for (size_t i = 0; i < ng * nc * ne; i++) tr->mse[i] = NAN;
    tr->n_fits = 0;
    size_t best[3] = {0, 0, 0};
    double best_mse = INFINITY;
    if (tr->g.search == MS_SLAM_SEARCH_COORD) {
        MS_TRY(coord_search(tr, best, &best_mse));
    } else { /* every grid point, the first minimum in (gamma, C, epsilon) order */
        for (size_t gi = 0; gi < ng; gi++)
            for (size_t ci = 0; ci < nc; ci++)
                for (size_t ei = 0; ei < ne; ei++) {
                    double e;
                    MS_TRY(grid_mse(tr, gi, ci, ei, &e));
                    if (e < best_mse) {
                        best_mse = e;
                        best[0] = gi;
                        best[1] = ci;
                        best[2] = ei;
                    }
                }
    }
    res->gamma = tr->gval[best[0]];
    res->c = tr->g.c[best[1]];
    res->epsilon = tr->g.eps[best[2]];
    res->cv_mse = best_mse;
    res->n_fits = tr->n_fits;
    return MS_OK;
}

ms_status ms_slam_fit_pixel(ms_slam_trainer *tr, size_t j, const ms_slam_pixel *hp,
                            double *coef, double *b)
{
    const size_t n = tr->n;
    for (size_t i = 0; i < n; i++) coef[i] = 0;
    *b = 0;
    ms_slam_pixel chk;
    if (hp->status != 0 || prepare_pixel(tr, j, &chk)) return MS_OK;
    size_t gi = tr->g.n_gamma;
    for (size_t k = 0; k < tr->g.n_gamma; k++)
        if (tr->gval[k] == hp->gamma) gi = k;
    if (gi == tr->g.n_gamma)
        MS_ERROR(MS_EINVAL, "slam: pixel %zu: gamma %g is not in the trainer's grid", j, hp->gamma);
    struct svm_parameter p;
    svr_param(tr, hp->c, hp->epsilon, &p);
    const struct svm_node *G = tr->gram[gi];
    size_t l = 0;
    for (size_t i = 0; i < n; i++) {
        if (!tr->valid[i]) continue;
        tr->idx[l] = i;
        tr->xp[l] = (struct svm_node *)(G + i * (n + 2));
        tr->yv[l] = tr->y[i];
        l++;
    }
    struct svm_problem prob = {(int)l, tr->yv, tr->xp};
    struct svm_model *model = svm_train(&prob, &p);
    if (!model) MS_ERROR(MS_ENOMEM, "slam: libsvm svm_train failed (pixel %zu)", j);
    int nsv = svm_get_nr_sv(model);
    int *svi = ms_malloc_array("slam.svi", (size_t)nsv + 1, sizeof(int));
    if (!svi) {
        svm_free_and_destroy_model(&model);
        return MS_ENOMEM;
    }
    svm_get_sv_indices(model, svi);
    for (int s = 0; s < nsv; s++) coef[tr->idx[svi[s] - 1]] = model->sv_coef[0][s];
    *b = -model->rho[0];
    ms_free(svi);
    svm_free_and_destroy_model(&model);
    return MS_OK;
}
