/* train.c: the K-fold CNN ensemble of L25 (1.3 Module 4, 1.4), data-parallel over an ms_comm.
 *
 * Folds: a permutation of the n spectra from the seed cut into K equal folds; model k trains
 * on the other K - 1 folds and validates on fold k. Each model: Adam (lr 1e-3), MSE of the
 * z-scored labels, global mini-batches of `batch` spectra; the adaptive decay multiplies the
 * learning rate by lr_factor after lr_patience epochs without a better validation loss
 * (PyTorch's ReduceLROnPlateau), early stopping after `patience` such epochs, and the weights
 * of the best validation loss are kept (L25: "terminated ... when the validation loss
 * reached its minimum").
 *
 * Exactness: a mini-batch is cut into shards of `shard` spectra (fixed by the batch, not by
 * the rank count); shard s goes to rank s mod size; each shard's gradient is computed alone
 * (the same per-spectrum GEMMs on any rank) and ms_comm_sum_exact sums the shards in 64-bit
 * fixed point, so every rank takes the same Adam step and the networks are bit-identical for
 * any rank count. Validation losses are per-spectrum values summed in spectrum order.
 *
 * Classification (opts class_weight, cnn_class.h): the same loop with L25's weighted softmax
 * cross-entropy (PyTorch's weighted mean: a mini-batch's loss is divided by its weight sum,
 * which every rank knows) on one-hot labels that are not scaled; opts models = 1 trains only
 * the first fold's model (L25's train:val 3:1 with K = 4); the out-of-fold predictions are
 * class probabilities.
 *
 * Checkpoint (HDF5 through h5.h, <path>.partial then rename, content-hashed like the other
 * trainers' checkpoints): written by rank 0 after every epoch; holds the current fold's
 * weights, Adam moments and best weights, the schedule state, the completed folds' models
 * and out-of-fold predictions. */
#include "mstars/cnn.h"

#include "mstars/cnn_class.h"
#include "mstars/h5.h"
#include "mstars/hash.h"
#include "mstars/log.h"
#include "mstars/mem.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CKPT_KIND "mstars-cnn-checkpoint"
#define CKPT_VERSION 1
#define VAL_CHUNK 32

void ms_cnn_train_opts_default(ms_cnn_train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->folds = 10;
    o->batch = 128;
    o->shard = 16;
    o->max_epochs = 200;
    o->patience = 12;
    o->lr_patience = 5;
    o->lr = 1e-3;
    o->lr_factor = 0.5;
    o->lr_min = 1e-5;
    o->seed = 1;
}

static uint64_t mix(uint64_t seed, uint64_t a, uint64_t b)
{
    uint64_t v[3] = {seed, a, b};
    return ms_hash_bytes(MS_HASH_INIT, v, sizeof v);
}

/* The schedule state of the fold in training (checkpointed). */
typedef struct {
    int64_t fold, epoch, best_epoch, bad, lr_bad, opt_step;
    double lr, best_val, elapsed;
} sched;

typedef struct {
    const ms_cnn_data *d;
    const ms_cnn_train_opts *o;
    const ms_comm *comm;
    ms_cnn_arch arch;
    size_t N, L, D, K;
    size_t M;             /* models trained: the first M folds */
    const double *cw;     /* class weights (classification), or NULL */
    float *yz;            /* [N, D] z-scored labels */
    size_t *perm;         /* fold f = perm[f N / K .. (f + 1) N / K) */
    int32_t *fold_of;     /* [N] */
    ms_cnn net, best;
    ms_nn_optim opt;
    ms_cnn_ws *ws;        /* shard-sized */
    size_t *tr, *va, n_tr, n_va;
    float *xb, *yb, *pred, *dpred; /* [shard, L], [shard, D] x2 */
    float *shard_grad;    /* [local shards, n] */
    size_t max_local;
    long *isum;
    double *scale, *vloss, *sloss;
    ms_nn_segments segs;
    uint64_t settings;
} trainer;

static void trainer_free(trainer *t)
{
    ms_free(t->yz);
    ms_free(t->perm);
    ms_free(t->fold_of);
    ms_cnn_free(&t->net);
    ms_cnn_free(&t->best);
    ms_nn_optim_free(&t->opt);
    ms_cnn_ws_free(t->ws);
    ms_free(t->tr);
    ms_free(t->va);
    ms_free(t->xb);
    ms_free(t->yb);
    ms_free(t->pred);
    ms_free(t->dpred);
    ms_free(t->shard_grad);
    ms_free(t->isum);
    ms_free(t->scale);
    ms_free(t->vloss);
    ms_free(t->sloss);
    ms_nn_segments_free(&t->segs);
}

static uint64_t settings_hash(const trainer *t)
{
    const ms_cnn_data *d = t->d;
    const ms_cnn_train_opts *o = t->o;
    uint64_t h = ms_hash_bytes(MS_HASH_INIT, d->x, d->n * d->n_in * sizeof(float));
    h = ms_hash_bytes(h, d->y, d->n * d->n_labels * sizeof(double));
    uint64_t v[10] = {d->n, d->n_in, d->n_labels, o->folds, o->batch, o->shard, o->max_epochs,
                      o->patience, o->lr_patience, (uint64_t)o->seed};
    h = ms_hash_bytes(h, v, sizeof v);
    double f[3] = {o->lr, o->lr_factor, o->lr_min};
    h = ms_hash_bytes(h, f, sizeof f);
    if (t->cw) { /* classification: the weights and the models trained */
        h = ms_hash_bytes(h, t->cw, t->D * sizeof(double));
        h = ms_hash_bytes(h, &t->M, sizeof t->M);
    }
    return ms_hash_bytes(h, &t->arch, sizeof t->arch);
}

/* ------------------------------------------------------------------ checkpoint */
static uint64_t ckpt_hash(const trainer *t, const ms_cnn_ensemble *e, const float *done)
{
    const size_t n = t->net.params.n;
    uint64_t h = ms_hash_bytes(MS_HASH_INIT, t->net.params.param, n * sizeof(float));
    h = ms_hash_bytes(h, t->opt.moments, 2 * n * sizeof(float));
    h = ms_hash_bytes(h, t->best.params.param, n * sizeof(float));
    h = ms_hash_bytes(h, done, t->K * n * sizeof(float));
    return ms_hash_bytes(h, e->oof, t->N * t->D * sizeof(float));
}

static ms_status ckpt_write_into(ms_h5 *f, const trainer *t, const sched *s,
                                 const ms_cnn_ensemble *e, const float *done)
{
    const size_t n = t->net.params.n, n2 = 2 * n, nk = t->K * n, no = t->N * t->D, K = t->K;
    MS_TRY(ms_h5_attr_set_str(f, "/", "kind", CKPT_KIND));
    const int64_t ch = (int64_t)ckpt_hash(t, e, done);
    MS_TRY(ms_h5_attr_set_i64(f, "/", "content_hash", &ch, 1));
    int64_t iv[9] = {CKPT_VERSION, (int64_t)n, (int64_t)t->settings, s->fold, s->epoch,
                     s->best_epoch, s->bad, s->lr_bad, s->opt_step};
    double fv[3] = {s->lr, s->best_val, s->elapsed};
    MS_TRY(ms_h5_attr_set_i64(f, "/", "header_i64", iv, 9));
    MS_TRY(ms_h5_attr_set_f64(f, "/", "header_f64", fv, 3));
    MS_TRY(ms_h5_write_array(f, "/param", MS_H5_F32, 0, 1, &n, t->net.params.param, "", "weights"));
    MS_TRY(ms_h5_write_array(f, "/moments", MS_H5_F32, 0, 1, &n2, t->opt.moments, "", "Adam m, v"));
    MS_TRY(ms_h5_write_array(f, "/best", MS_H5_F32, 0, 1, &n, t->best.params.param, "",
                             "weights of the best validation loss of the current fold"));
    MS_TRY(ms_h5_write_array(f, "/done/param", MS_H5_F32, 0, 1, &nk, done, "",
                             "weights of the completed folds' models"));
    MS_TRY(ms_h5_write_array(f, "/done/best_epoch", MS_H5_I64, 0, 1, &K, e->best_epoch, "", ""));
    MS_TRY(ms_h5_write_array(f, "/done/best_val", MS_H5_F64, 0, 1, &K, e->best_val, "", ""));
    return ms_h5_write_array(f, "/oof", MS_H5_F32, 0, 1, &no, e->oof, "", "out-of-fold predictions");
}

static ms_status ckpt_write(const char *path, const trainer *t, const sched *s,
                            const ms_cnn_ensemble *e, const float *done)
{
    ms_h5 *f;
    MS_TRY(ms_h5_create(path, 0, &f));
    return ms_h5_commit_or_abort(f, ckpt_write_into(f, t, s, e, done));
}

static ms_status read_vec(ms_h5 *f, const char *name, ms_h5_type type, size_t n, void *data)
{
    int rank;
    size_t dims[2] = {0, 0};
    MS_TRY(ms_h5_dims(f, name, &rank, dims));
    if (rank != 1 || dims[0] != n)
        MS_ERROR(MS_EFORMAT, "checkpoint %s: %s has %zu values, expected %zu ---> HINT: delete it "
                             "or start without --resume", ms_h5_path(f), name, dims[0], n);
    return ms_h5_read_rows(f, name, type, 0, 0, n, data);
}

static ms_status ckpt_read_from(ms_h5 *f, trainer *t, sched *s, ms_cnn_ensemble *e, float *done)
{
    const char *path = ms_h5_path(f);
    int ok = ms_h5_is_kind(f, CKPT_KIND);
    int64_t iv[9];
    double fv[3];
    size_t ni = 0, nf = 0;
    if (ok) ok = ms_h5_attr_get_i64(f, "/", "header_i64", iv, 9, &ni) == MS_OK && ni == 9 &&
                 ms_h5_attr_get_f64(f, "/", "header_f64", fv, 3, &nf) == MS_OK && nf == 3 &&
                 iv[0] == CKPT_VERSION;
    if (!ok)
        MS_ERROR(MS_EFORMAT, "checkpoint %s: not an mstars CNN checkpoint of version %d ---> HINT: "
                             "delete it or start without --resume", path, CKPT_VERSION);
    if ((uint64_t)iv[2] != t->settings || (size_t)iv[1] != t->net.params.n)
        MS_ERROR(MS_EINVAL, "checkpoint %s: written for other training spectra, labels or "
                            "settings ---> HINT: resume with the same inputs and options, or "
                            "delete the checkpoint", path);
    s->fold = iv[3];
    s->epoch = iv[4];
    s->best_epoch = iv[5];
    s->bad = iv[6];
    s->lr_bad = iv[7];
    s->opt_step = iv[8];
    s->lr = fv[0];
    s->best_val = fv[1];
    s->elapsed = fv[2];
    const size_t n = t->net.params.n;
    MS_TRY(read_vec(f, "/param", MS_H5_F32, n, t->net.params.param));
    MS_TRY(read_vec(f, "/moments", MS_H5_F32, 2 * n, t->opt.moments));
    MS_TRY(read_vec(f, "/best", MS_H5_F32, n, t->best.params.param));
    MS_TRY(read_vec(f, "/done/param", MS_H5_F32, t->K * n, done));
    MS_TRY(read_vec(f, "/done/best_epoch", MS_H5_I64, t->K, e->best_epoch));
    MS_TRY(read_vec(f, "/done/best_val", MS_H5_F64, t->K, e->best_val));
    MS_TRY(read_vec(f, "/oof", MS_H5_F32, t->N * t->D, e->oof));
    int64_t stored = 0;
    size_t nc = 0;
    MS_TRY(ms_h5_attr_get_i64(f, "/", "content_hash", &stored, 1, &nc));
    if (nc != 1 || (uint64_t)stored != ckpt_hash(t, e, done))
        MS_ERROR(MS_EFORMAT, "checkpoint %s: content hash mismatch (corrupt file) ---> HINT: "
                             "delete it or start without --resume", path);
    return MS_OK;
}

/* Rank 0 reads (found = 0 when absent); the caller broadcasts. */
static ms_status ckpt_read(const char *path, trainer *t, sched *s, ms_cnn_ensemble *e,
                           float *done, int *found)
{
    *found = 0;
    if (access(path, F_OK) != 0) {
        if (errno == ENOENT) return MS_OK;
        MS_ERROR(MS_EIO, "checkpoint %s: %s", path, strerror(errno));
    }
    *found = 1;
    ms_h5 *f;
    MS_TRY(ms_h5_open_read(path, 0, &f));
    ms_status st = ckpt_read_from(f, t, s, e, done);
    ms_h5_close(f);
    return st;
}

/* ------------------------------------------------------------------ set-up */
static ms_status setup(trainer *t, ms_cnn_ensemble *e)
{
    const ms_cnn_data *d = t->d;
    const ms_cnn_train_opts *o = t->o;
    t->N = d->n;
    t->L = d->n_in;
    t->D = d->n_labels;
    t->K = o->folds;
    t->M = o->models ? o->models : o->folds;
    t->cw = o->class_weight;
    if (t->K < 2 || t->K > MS_CNN_MAX_MODELS || t->N < 2 * t->K)
        MS_ERROR(MS_EINVAL, "cnn training: %zu folds for %zu spectra (2..%d folds, at least 2 "
                            "spectra per fold)", t->K, t->N, MS_CNN_MAX_MODELS);
    if (o->batch == 0 || o->shard == 0 || o->max_epochs == 0 || !(o->lr > 0.0))
        MS_ERROR(MS_EINVAL, "cnn training: batch %zu, shard %zu, epochs %zu, lr %g", o->batch,
                 o->shard, o->max_epochs, o->lr);
    if (t->D == 0 || t->D > MS_CNN_MAX_OUT)
        MS_ERROR(MS_EINVAL, "cnn training: %zu labels", t->D);
    if (t->M > t->K) MS_ERROR(MS_EINVAL, "cnn training: %zu models of %zu folds", t->M, t->K);
    if (t->cw && t->D < 2) MS_ERROR(MS_EINVAL, "cnn classifier: %zu classes", t->D);
    t->arch = ms_cnn_arch_default(t->L, t->D);
    MS_TRY(ms_cnn_init(&t->net, &t->arch));
    MS_TRY(ms_cnn_init(&t->best, &t->arch));
    const size_t n = t->net.params.n, N = t->N, D = t->D, S = o->shard;
    MS_TRY(ms_nn_optim_init(&t->opt, MS_NN_ADAM, n, o->lr));
    MS_TRY(ms_cnn_ws_alloc(&t->arch, S > VAL_CHUNK ? S : VAL_CHUNK, &t->ws));
    MS_TRY(ms_nn_segments_of(&t->net.params, &t->segs));
    const size_t shards = (o->batch + S - 1) / S, size = (size_t)t->comm->size;
    t->max_local = (shards + size - 1) / size;
    const size_t B = S > VAL_CHUNK ? S : VAL_CHUNK;
#define ALLOC(p, count) \
    if (!((p) = ms_malloc_array("cnn.train." #p, (count) + 1, sizeof *(p)))) return MS_ENOMEM
    ALLOC(t->yz, N * D);
    ALLOC(t->perm, N);
    ALLOC(t->fold_of, N);
    ALLOC(t->tr, N);
    ALLOC(t->va, N);
    ALLOC(t->xb, B * t->L);
    ALLOC(t->yb, B * D);
    ALLOC(t->pred, B * D);
    ALLOC(t->dpred, B * D);
    ALLOC(t->shard_grad, t->max_local * n);
    ALLOC(t->isum, n);
    ALLOC(t->scale, t->segs.segs.n);
    ALLOC(t->vloss, N);
    ALLOC(t->sloss, shards);
    ALLOC(e->train_rows, N);
    ALLOC(e->train_fold, N);
    ALLOC(e->oof, N * D);
#undef ALLOC
    /* classification: one-hot labels as they are */
    for (size_t i = 0; t->cw && i < N; i++) {
        size_t ones = 0;
        for (size_t j = 0; j < D; j++) {
            const double v = d->y[i * D + j];
            if (v != 0.0 && v != 1.0) ones = D; /* not one-hot */
            ones += v == 1.0;
            t->yz[i * D + j] = (float)v;
        }
        if (ones != 1)
            MS_ERROR(MS_EINVAL, "cnn classifier: the label of training spectrum %zu is not "
                                "one-hot", i);
    }
    for (size_t j = 0; t->cw && j < D; j++) {
        e->y_mean[j] = 0.0;
        e->y_std[j] = 1.0;
    }
    /* label scaling (population std over the training set, row order) */
    for (size_t j = 0; !t->cw && j < D; j++) {
        double s = 0.0, ss = 0.0;
        for (size_t i = 0; i < N; i++) s += d->y[i * D + j];
        const double m = s / (double)N;
        for (size_t i = 0; i < N; i++) ss += (d->y[i * D + j] - m) * (d->y[i * D + j] - m);
        const double sd = sqrt(ss / (double)N);
        if (!isfinite(m) || !(sd > 0.0))
            MS_ERROR(MS_EINVAL, "cnn training: label %s is constant or not finite over the %zu "
                                "training spectra", e->labels[j], N);
        e->y_mean[j] = m;
        e->y_std[j] = sd;
        for (size_t i = 0; i < N; i++) t->yz[i * D + j] = (float)((d->y[i * D + j] - m) / sd);
    }
    /* folds */
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, mix((uint64_t)o->seed, 0xf01d, 0));
    for (size_t i = 0; i < N; i++) t->perm[i] = i;
    ms_nn_rng_shuffle(&rng, t->perm, N);
    for (size_t f = 0; f < t->K; f++)
        for (size_t i = f * N / t->K; i < (f + 1) * N / t->K; i++) t->fold_of[t->perm[i]] = (int32_t)f;
    for (size_t i = 0; i < N; i++) {
        e->train_rows[i] = d->rows ? d->rows[i] : (int64_t)i;
        e->train_fold[i] = t->fold_of[i];
        for (size_t j = 0; j < D; j++) e->oof[i * D + j] = NAN;
    }
    t->settings = settings_hash(t);
    return MS_OK;
}

/* Training and validation rows of fold f, in row order. */
static void split(trainer *t, size_t f)
{
    t->n_tr = t->n_va = 0;
    for (size_t i = 0; i < t->N; i++) {
        if ((size_t)t->fold_of[i] == f)
            t->va[t->n_va++] = i;
        else
            t->tr[t->n_tr++] = i;
    }
}

static void gather(trainer *t, const size_t *idx, size_t nb)
{
    for (size_t i = 0; i < nb; i++) {
        memcpy(t->xb + i * t->L, t->d->x + idx[i] * t->L, t->L * sizeof(float));
        memcpy(t->yb + i * t->D, t->yz + idx[i] * t->D, t->D * sizeof(float));
    }
}

/* One epoch over the shuffled training rows; *train = mean MSE over the epoch. */
static ms_status epoch(trainer *t, size_t f, int64_t ep, double *train)
{
    const ms_cnn_train_opts *o = t->o;
    const size_t S = o->shard, n = t->net.params.n, D = t->D;
    const int rank = t->comm->rank, size = t->comm->size;
    /* the epoch's order depends only on (seed, fold, epoch): a resumed run repeats it */
    split(t, f);
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, mix((uint64_t)o->seed, f + 1, (uint64_t)ep));
    ms_nn_rng_shuffle(&rng, t->tr, t->n_tr);
    double total = 0.0;
    for (size_t b0 = 0; b0 < t->n_tr; b0 += o->batch) {
        const size_t nb = t->n_tr - b0 < o->batch ? t->n_tr - b0 : o->batch;
        const size_t n_sh = (nb + S - 1) / S;
        double scale = 1.0 / ((double)nb * (double)D); /* MSE: mean over batch and labels */
        if (t->cw) { /* cross-entropy: PyTorch's weighted mean over the whole mini-batch */
            double wsum = 0.0;
            for (size_t i = 0; i < nb; i++) {
                const float *y = t->yz + t->tr[b0 + i] * D;
                for (size_t j = 0; j < D; j++) wsum += y[j] * t->cw[j];
            }
            scale = wsum > 0.0 ? 1.0 / wsum : 0.0;
        }
        size_t local = 0;
        for (size_t s = 0; s < n_sh; s++) {
            t->sloss[s] = 0.0;
            if ((int)(s % (size_t)size) != rank) continue;
            const size_t i0 = b0 + s * S, m = i0 + S <= b0 + nb ? S : b0 + nb - i0;
            gather(t, t->tr + i0, m);
            MS_TRY(ms_cnn_forward(&t->net, t->ws, t->xb, m, t->pred));
            memset(t->dpred, 0, m * D * sizeof(float));
            if (t->cw) {
                t->sloss[s] = ms_class_ce_loss(t->pred, t->yb, t->cw, m, D, scale, t->dpred);
            } else {
                t->sloss[s] = ms_nn_l2_loss_forward(t->pred, t->yb, NULL, m * D, scale);
                ms_nn_l2_loss_backward(t->dpred, t->pred, t->yb, NULL, m * D, scale);
            }
            float *g = t->shard_grad + local * n;
            memset(g, 0, n * sizeof(float));
            MS_TRY(ms_cnn_backward(&t->net, t->ws, t->dpred, m, g));
            local++;
        }
        size_t bad = 0;
        ms_status st = ms_comm_sum_exact(t->comm, t->shard_grad, local, n, &t->segs.segs, n_sh,
                                         t->isum, t->scale, t->net.params.grad, &bad);
        if (st == MS_ENOPROG)
            MS_ERROR(MS_ENOPROG, "cnn training: non-finite gradient in %s (fold %zu, epoch %lld) "
                                 "---> HINT: check the training spectra and labels",
                     t->net.params.t[bad].name, f, (long long)ep);
        MS_TRY(st);
        ms_nn_optim_step(&t->opt, t->net.params.param, t->net.params.grad);
        /* shard losses: each is non-zero on one rank only, so the sum is exact */
        MS_TRY(t->comm->sum_d(t->sloss, n_sh));
        for (size_t s = 0; s < n_sh; s++) total += t->sloss[s] * (double)nb;
    }
    *train = total / (double)t->n_tr;
    return MS_OK;
}

/* Mean MSE (classification: weighted mean cross-entropy) of net over the validation rows
 * (chunks of VAL_CHUNK round-robin over the ranks); pred_out [n_va, D] (may be NULL)
 * receives the z-scored predictions on every rank. */
static ms_status validate(trainer *t, const ms_cnn *net, double *val, float *pred_out)
{
    const size_t D = t->D;
    const int rank = t->comm->rank, size = t->comm->size;
    size_t nc = (t->n_va + VAL_CHUNK - 1) / VAL_CHUNK;
    for (size_t i = 0; i < t->n_va; i++) t->vloss[i] = 0.0;
    double wsum = 0.0; /* classification: the validation rows' weight sum */
    for (size_t i = 0; t->cw && i < t->n_va; i++)
        for (size_t j = 0; j < D; j++) wsum += t->yz[t->va[i] * D + j] * t->cw[j];
    if (pred_out)
        for (size_t i = 0; i < t->n_va * D; i++) pred_out[i] = 0.0f;
    for (size_t c = 0; c < nc; c++) {
        if ((int)(c % (size_t)size) != rank) continue;
        const size_t i0 = c * VAL_CHUNK, m = i0 + VAL_CHUNK <= t->n_va ? VAL_CHUNK : t->n_va - i0;
        gather(t, t->va + i0, m);
        MS_TRY(ms_cnn_forward(net, t->ws, t->xb, m, t->pred));
        for (size_t b = 0; b < m; b++)
            t->vloss[i0 + b] = t->cw ? ms_class_ce_loss(t->pred + b * D, t->yb + b * D, t->cw, 1,
                                                        D, 1.0, NULL)
                                     : ms_nn_l2_loss_forward(t->pred + b * D, t->yb + b * D,
                                                             NULL, D, 1.0 / (double)D);
        if (pred_out) memcpy(pred_out + i0 * D, t->pred, m * D * sizeof(float));
    }
    MS_TRY(t->comm->sum_d(t->vloss, t->n_va));
    if (pred_out) MS_TRY(t->comm->sum_f(pred_out, t->n_va * D)); /* one non-zero term each */
    double s = 0.0;
    for (size_t i = 0; i < t->n_va; i++) s += t->vloss[i];
    *val = t->cw ? (wsum > 0.0 ? s / wsum : 0.0) : s / (double)t->n_va;
    return MS_OK;
}

static ms_status start_fold(trainer *t, size_t f, sched *s)
{
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, mix((uint64_t)t->o->seed, 0x1417, f));
    ms_cnn_init_weights(&t->net, &rng);
    MS_TRY(ms_nn_params_copy(&t->best.params, &t->net.params));
    memset(t->opt.moments, 0, 2 * t->net.params.n * sizeof(float));
    s->fold = (int64_t)f;
    s->epoch = s->best_epoch = s->bad = s->lr_bad = s->opt_step = 0;
    s->lr = t->o->lr;
    s->best_val = INFINITY;
    return MS_OK;
}

ms_status ms_cnn_train(const ms_cnn_data *d, const ms_cnn_train_opts *opt, ms_cnn_ensemble *e)
{
    trainer t;
    memset(&t, 0, sizeof t);
    t.d = d;
    t.o = opt;
    t.comm = opt->comm ? opt->comm : ms_comm_serial();
    const ms_comm *c = t.comm;
    float *done = NULL, *vpred = NULL;
    ms_status st = setup(&t, e);
    const size_t n = t.net.params.n;
    if (st == MS_OK) {
        done = ms_calloc("cnn.train.done", t.K * n + 1, sizeof(float));
        vpred = ms_malloc_array("cnn.train.vpred", t.N * t.D + 1, sizeof(float));
        if (!done || !vpred) st = MS_ENOMEM;
    }
    if ((st = c->any_failed(st)) != MS_OK) goto out;
    sched s;
    memset(&s, 0, sizeof s);
    if ((st = start_fold(&t, 0, &s)) != MS_OK) goto out;
    for (size_t k = 0; k < t.K; k++) {
        e->best_epoch[k] = -1;
        e->best_val[k] = NAN;
    }
    if (opt->resume && opt->checkpoint) {
        int found = 0;
        if (c->rank == 0) st = ckpt_read(opt->checkpoint, &t, &s, e, done, &found);
        if ((st = c->agree(st)) != MS_OK) goto out;
        if ((st = c->bcast(&found, sizeof found)) != MS_OK) goto out;
        if (found) {
            int ok = c->bcast(&s, sizeof s) == MS_OK &&
                     c->bcast(t.net.params.param, n * sizeof(float)) == MS_OK &&
                     c->bcast(t.opt.moments, 2 * n * sizeof(float)) == MS_OK &&
                     c->bcast(t.best.params.param, n * sizeof(float)) == MS_OK &&
                     c->bcast(done, t.K * n * sizeof(float)) == MS_OK &&
                     c->bcast(e->best_epoch, t.K * sizeof(long)) == MS_OK &&
                     c->bcast(e->best_val, t.K * sizeof(double)) == MS_OK &&
                     c->bcast(e->oof, t.N * t.D * sizeof(float)) == MS_OK;
            if (!ok) {
                st = MS_EMPI;
                goto out;
            }
            t.opt.step = s.opt_step;
            t.opt.lr = s.lr;
            ms_log0_info("cnn: resuming %s at fold %lld, epoch %lld", opt->checkpoint,
                         (long long)s.fold + 1, (long long)s.epoch);
        } else {
            ms_log0_info("cnn: no checkpoint %s yet, starting afresh", opt->checkpoint);
        }
    }
    const double t0 = c->wtime(), elapsed0 = s.elapsed;
    for (size_t f = (size_t)s.fold; f < t.M; f++) {
        if ((int64_t)f != s.fold && (st = start_fold(&t, f, &s)) != MS_OK) goto out;
        t.opt.lr = s.lr;
        t.opt.step = s.opt_step;
        split(&t, f);
        int finished = s.epoch > 0 && (s.bad >= (int64_t)opt->patience ||
                                       s.epoch >= (int64_t)opt->max_epochs);
        while (!finished) {
            double tr = NAN, val = NAN;
            if ((st = epoch(&t, f, s.epoch, &tr)) != MS_OK) goto out;
            if ((st = validate(&t, &t.net, &val, NULL)) != MS_OK) goto out;
            s.epoch++;
            if (!isfinite(val) || !isfinite(tr)) {
                st = ms_error_set(MS_ENOPROG, __FILE__, __LINE__, "cnn training diverged (fold "
                                  "%zu, epoch %lld, loss %g)", f + 1, (long long)s.epoch, tr);
                goto out;
            }
            if (val < s.best_val) {
                s.best_val = val;
                s.best_epoch = s.epoch;
                s.bad = s.lr_bad = 0;
                if ((st = ms_nn_params_copy(&t.best.params, &t.net.params)) != MS_OK) goto out;
            } else {
                s.bad++;
                if (++s.lr_bad >= (int64_t)opt->lr_patience) { /* the adaptive decay */
                    s.lr = fmax(s.lr * opt->lr_factor, opt->lr_min);
                    t.opt.lr = s.lr;
                    s.lr_bad = 0;
                }
            }
            s.opt_step = t.opt.step;
            finished = s.bad >= (int64_t)opt->patience || s.epoch >= (int64_t)opt->max_epochs;
            if (!opt->quiet)
                ms_log0_info("cnn fold %zu/%zu epoch %lld: train %.4f  validation %.4f  best %.4f "
                             "@%lld  lr %.1e", f + 1, t.M, (long long)s.epoch, tr, val,
                             s.best_val, (long long)s.best_epoch, s.lr);
            if (finished) {
                /* the fold's model: its best weights; out-of-fold predictions */
                memcpy(done + f * n, t.best.params.param, n * sizeof(float));
                e->best_epoch[f] = (long)s.best_epoch;
                e->best_val[f] = s.best_val;
                double v2;
                if ((st = validate(&t, &t.best, &v2, vpred)) != MS_OK) goto out;
                for (size_t i = 0; i < t.n_va; i++) {
                    double p[MS_CNN_MAX_OUT];
                    if (t.cw) ms_class_softmax(vpred + i * t.D, t.D, p);
                    for (size_t j = 0; j < t.D; j++)
                        e->oof[t.va[i] * t.D + j] =
                            t.cw ? (float)p[j]
                                 : (float)(e->y_mean[j] + e->y_std[j] * vpred[i * t.D + j]);
                }
                if (f + 1 < t.M && (st = start_fold(&t, f + 1, &s)) != MS_OK) goto out;
                if (f + 1 == t.M) s.fold = (int64_t)t.K;
            }
            /* time limit: rank 0's clock decides for all */
            double el = elapsed0 + c->wtime() - t0;
            if ((st = c->bcast(&el, sizeof el)) != MS_OK) goto out;
            s.elapsed = el;
            const int stop = opt->max_seconds > 0 && el >= opt->max_seconds && s.fold < (int64_t)t.K;
            if (opt->checkpoint) {
                if (c->rank == 0) st = ckpt_write(opt->checkpoint, &t, &s, e, done);
                if ((st = c->agree(st)) != MS_OK) goto out;
            }
            if (stop) {
                ms_log0_warn("cnn: stopping at fold %lld, epoch %lld: the time limit (%.0f s) is "
                             "reached; %s lets --resume continue", (long long)s.fold + 1,
                             (long long)s.epoch, opt->max_seconds,
                             opt->checkpoint ? opt->checkpoint : "(no checkpoint)");
                st = ms_error_set(MS_EINTERRUPTED, __FILE__, __LINE__,
                                  "cnn training stopped by its time limit");
                goto out;
            }
        }
    }
    /* hand over the M (of K) models */
    e->n_models = t.M;
    e->n_labels = t.D;
    e->softmax = t.cw != NULL;
    for (size_t k = 0; k < t.M; k++) {
        if ((st = ms_cnn_init(&e->net[k], &t.arch)) != MS_OK) goto out;
        memcpy(e->net[k].params.param, done + k * n, n * sizeof(float));
    }
    e->seed = opt->seed;
    e->ranks = c->size;
    e->epochs_max = (long)opt->max_epochs;
    e->batch = (long)opt->batch;
    e->lr = opt->lr;
    e->n_train = t.N;
    {
        double el = elapsed0 + c->wtime() - t0;
        st = c->bcast(&el, sizeof el);
        e->train_seconds = el;
    }
out:
    ms_free(done);
    ms_free(vpred);
    trainer_free(&t);
    return st;
}
