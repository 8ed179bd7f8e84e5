/* payne_train.c: data-parallel training of The Payne (see payne.h, method.md section 3).
 *
 * Every rank holds the whole (small) training set. The split, the per-epoch shuffles and
 * the initial weights come from general.seed, identically on every rank. Each global
 * mini-batch of Bg models is cut into shards of emulator.shard_size models (fixed by the
 * batch, not by the rank count); every rank computes the gradients of whole shards, and
 * the per-shard gradients are summed exactly: per tensor, a power-of-two scale from the
 * global max |g| turns them into 64-bit integers, integer sums are all-reduced, and the
 * sum is scaled back. Integer addition does not depend on its order, every shard is
 * computed with the same GEMM shapes for any rank count, and the per-model losses are
 * summed in model order, so training gives the same bits on 1, 2 or N ranks; every rank
 * then takes the same optimizer step. With shard_size = 0 each rank instead computes its
 * contiguous slice in one pass and one float all-reduce sums the slices: a little faster,
 * equal to float rounding per step (Adam amplifies such differences over many steps).
 *
 * Loss: L1 or L2 per pixel, averaged over the batch and the pixels and multiplied by
 * 1e4 as in The Payne's training (the factor only keeps Adam's eps negligible); progress
 * lines report the unscaled mean |F - F_recon| (L1) or mean (F - F_recon)^2 (L2).
 *
 * Checkpoint: one binary file written by rank 0 (temp file + rename): a header with the
 * sizes, a fingerprint of the settings that must not change on resume, and the epoch,
 * optimizer step and best-validation record; then the weights, the optimizer moments,
 * the best weights and the history; then an FNV-1a hash of everything before it. */
#include "mstars/payne.h"

#include "mstars/h5.h"
#include "mstars/hash.h"
#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/comm.h"
#include "nn_internal.h"
#include "simd.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define LOSS_SCALE 1e4
#define CKPT_MAGIC "MSPAYNE"
#define CKPT_VERSION 1u

_Static_assert(sizeof(long) == 8, "the exact gradient sums need a 64-bit long");

typedef struct {
    char magic[8];
    uint32_t version, header_bytes;
    uint64_t n_params, n_labels, n_hidden, n_layers, n_pix, n_models, n_train, n_val;
    uint64_t settings_hash;
    int64_t epochs_done, opt_step, best_epoch;
    double best_val, elapsed;
    uint64_t n_history;
    uint64_t reserved[8];
} ckpt_header;

typedef struct {
    size_t cap, n;
    double *epoch, *train, *val;
} history;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t mix(uint64_t seed, uint64_t tag)
{
    uint64_t h = MS_HASH_INIT;
    h = ms_hash_bytes(h, &seed, sizeof seed);
    return ms_hash_bytes(h, &tag, sizeof tag);
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

static ms_status history_push(history *h, double epoch, double tr, double va)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 64;
        double *e = ms_realloc("payne.history", h->epoch, cap * sizeof(double));
        if (!e) return MS_ENOMEM;
        h->epoch = e;
        double *t = ms_realloc("payne.history", h->train, cap * sizeof(double));
        if (!t) return MS_ENOMEM;
        h->train = t;
        double *v = ms_realloc("payne.history", h->val, cap * sizeof(double));
        if (!v) return MS_ENOMEM;
        h->val = v;
        h->cap = cap;
    }
    h->epoch[h->n] = epoch;
    h->train[h->n] = tr;
    h->val[h->n] = va;
    h->n++;
    return MS_OK;
}

static void history_free(history *h)
{
    ms_free(h->epoch);
    ms_free(h->train);
    ms_free(h->val);
    memset(h, 0, sizeof *h);
}

/* Everything a resumed run must share with the run that wrote the checkpoint. */
static uint64_t settings_hash(const ms_payne_data *d, const ms_payne_train_opts *o,
                              uint64_t data_hash)
{
    uint64_t h = MS_HASH_INIT;
    const ms_cfg_emulator *c = &o->cfg;
    h = ms_hash_bytes(h, &data_hash, sizeof data_hash);
    uint64_t v[7] = {d->n_models, d->n_pix,           d->n_labels,
                     (uint64_t)c->hidden, (uint64_t)c->layers, (uint64_t)c->batch_size,
                     (uint64_t)c->shard_size};
    h = ms_hash_bytes(h, v, sizeof v);
    h = ms_hash_bytes(h, &o->seed, sizeof o->seed);
    h = ms_hash_bytes(h, &c->leaky_slope, sizeof c->leaky_slope);
    h = ms_hash_bytes(h, &c->learning_rate, sizeof c->learning_rate);
    h = ms_hash_bytes(h, &c->validation_fraction, sizeof c->validation_fraction);
    h = ms_hash_bytes(h, c->loss, strlen(c->loss));
    h = ms_hash_bytes(h, c->optimizer, strlen(c->optimizer));
    return h;
}

/* Checkpoints: HDF5 through h5.h, the one checkpoint format of the trainers (Cycle-StarNet's is
 * io/csn_h5.c). Layout: /param, /moments (Adam or RAdam m then v), /best (the weights of the
 * best validation loss), /history/{epoch,train,val}; root attributes kind, header_u64 (the
 * counts and the settings hash), header_i64 (epochs done, optimizer step, best epoch),
 * header_f64 (best validation loss, elapsed seconds). Written as <path>.partial and renamed
 * (ms_h5_commit), so a checkpoint is never half-written. */
#define CKPT_KIND "mstars-emulator-checkpoint"

/* FNV-1a over the arrays: HDF5 does not checksum raw data, and a flipped bit in a weight must
 * not resume silently. */
static uint64_t ckpt_hash(const float *param, const float *moments, const float *best, size_t n,
                          const history *hi)
{
    uint64_t h = ms_hash_bytes(MS_HASH_INIT, param, n * sizeof(float));
    h = ms_hash_bytes(h, moments, 2 * n * sizeof(float));
    h = ms_hash_bytes(h, best, n * sizeof(float));
    h = ms_hash_bytes(h, hi->epoch, hi->n * sizeof(double));
    h = ms_hash_bytes(h, hi->train, hi->n * sizeof(double));
    return ms_hash_bytes(h, hi->val, hi->n * sizeof(double));
}

static ms_status ckpt_write_into(ms_h5 *f, const ckpt_header *hd, const ms_payne *net,
                                 const ms_nn_optim *opt, const ms_nn_params *best, const history *hi)
{
    const size_t n = net->params.n, n2 = 2 * n, nh = hi->n;
    MS_TRY(ms_h5_attr_set_str(f, "/", "kind", CKPT_KIND));
    const int64_t content =
        (int64_t)ckpt_hash(net->params.param, opt->moments, best->param, n, hi);
    MS_TRY(ms_h5_attr_set_i64(f, "/", "content_hash", &content, 1));
    int64_t u[10] = {(int64_t)hd->version,  (int64_t)hd->n_params, (int64_t)hd->n_labels,
                     (int64_t)hd->n_hidden, (int64_t)hd->n_layers, (int64_t)hd->n_pix,
                     (int64_t)hd->n_models, (int64_t)hd->n_train,  (int64_t)hd->n_val,
                     (int64_t)hd->settings_hash};
    int64_t iv[3] = {hd->epochs_done, hd->opt_step, hd->best_epoch};
    double fv[2] = {hd->best_val, hd->elapsed};
    MS_TRY(ms_h5_attr_set_i64(f, "/", "header_u64", u, 10));
    MS_TRY(ms_h5_attr_set_i64(f, "/", "header_i64", iv, 3));
    MS_TRY(ms_h5_attr_set_f64(f, "/", "header_f64", fv, 2));
    MS_TRY(ms_h5_write_array(f, "/param", MS_H5_F32, 0, 1, &n, net->params.param, "",
                             "flat parameter buffer"));
    MS_TRY(ms_h5_write_array(f, "/moments", MS_H5_F32, 0, 1, &n2, opt->moments, "",
                             "optimizer moments m then v"));
    MS_TRY(ms_h5_write_array(f, "/best", MS_H5_F32, 0, 1, &n, best->param, "",
                             "parameters of the best validation loss"));
    MS_TRY(ms_h5_write_array(f, "/history/epoch", MS_H5_F64, 0, 1, &nh, hi->epoch, "", "epoch"));
    MS_TRY(ms_h5_write_array(f, "/history/train", MS_H5_F64, 0, 1, &nh, hi->train, "",
                             "mean training loss"));
    return ms_h5_write_array(f, "/history/val", MS_H5_F64, 0, 1, &nh, hi->val, "",
                             "validation loss");
}

static ms_status ckpt_write(const char *path, const ckpt_header *hd, const ms_payne *net,
                            const ms_nn_optim *opt, const ms_nn_params *best, const history *hi)
{
    ms_h5 *f;
    MS_TRY(ms_h5_create(path, 0, &f));
    return ms_h5_commit_or_abort(f, ckpt_write_into(f, hd, net, opt, best, hi));
}

static ms_status read_vector(ms_h5 *f, const char *name, ms_h5_type type, size_t n, void *data)
{
    int rank;
    size_t dims[2] = {0, 0};
    MS_TRY(ms_h5_dims(f, name, &rank, dims));
    if (rank != 1 || dims[0] != n)
        MS_ERROR(MS_EFORMAT, "checkpoint %s: %s has %zu values, expected %zu ---> HINT: delete "
                             "it or start without --resume",
                 ms_h5_path(f), name, dims[0], n);
    return n ? ms_h5_read_rows(f, name, type, 0, 0, n, data) : MS_OK;
}

static ms_status ckpt_read_from(ms_h5 *f, ckpt_header *hd, uint64_t want_settings, ms_payne *net,
                                ms_nn_optim *opt, ms_nn_params *best, history *hi)
{
    const char *path = ms_h5_path(f);
    int ok = ms_h5_is_kind(f, CKPT_KIND);
    int64_t u[10], iv[3];
    double fv[2];
    size_t nu = 0, ni = 0, nf = 0;
    if (ok) ok = ms_h5_attr_get_i64(f, "/", "header_u64", u, 10, &nu) == MS_OK && nu == 10 &&
                 ms_h5_attr_get_i64(f, "/", "header_i64", iv, 3, &ni) == MS_OK && ni == 3 &&
                 ms_h5_attr_get_f64(f, "/", "header_f64", fv, 2, &nf) == MS_OK && nf == 2 &&
                 u[0] == (int64_t)CKPT_VERSION;
    if (!ok)
        MS_ERROR(MS_EFORMAT, "checkpoint %s: not an mstars emulator checkpoint of version %u "
                             "---> HINT: delete it or start without --resume",
                 path, CKPT_VERSION);
    hd->settings_hash = (uint64_t)u[9];
    hd->n_params = (uint64_t)u[1];
    if (hd->settings_hash != want_settings || hd->n_params != net->params.n)
        MS_ERROR(MS_EINVAL, "checkpoint %s: written for another grid or other emulator settings "
                            "---> HINT: resume with the same grid, seed and emulator.* keys "
                            "(epochs may grow), or delete the checkpoint",
                 path);
    hd->epochs_done = iv[0];
    hd->opt_step = iv[1];
    hd->best_epoch = iv[2];
    hd->best_val = fv[0];
    hd->elapsed = fv[1];
    const size_t n = net->params.n;
    MS_TRY(read_vector(f, "/param", MS_H5_F32, n, net->params.param));
    MS_TRY(read_vector(f, "/moments", MS_H5_F32, 2 * n, opt->moments));
    MS_TRY(read_vector(f, "/best", MS_H5_F32, n, best->param));
    int rank;
    size_t dims[2] = {0, 0};
    MS_TRY(ms_h5_dims(f, "/history/epoch", &rank, dims));
    hd->n_history = dims[0];
    for (uint64_t i = 0; i < hd->n_history; i++) MS_TRY(history_push(hi, 0, 0, 0));
    MS_TRY(read_vector(f, "/history/epoch", MS_H5_F64, hi->n, hi->epoch));
    MS_TRY(read_vector(f, "/history/train", MS_H5_F64, hi->n, hi->train));
    MS_TRY(read_vector(f, "/history/val", MS_H5_F64, hi->n, hi->val));
    int64_t stored = 0;
    size_t nc = 0;
    MS_TRY(ms_h5_attr_get_i64(f, "/", "content_hash", &stored, 1, &nc));
    if (nc != 1 || (uint64_t)stored != ckpt_hash(net->params.param, opt->moments, best->param, n, hi))
        MS_ERROR(MS_EFORMAT, "checkpoint %s: content hash mismatch (corrupt file) ---> HINT: "
                             "delete it or start without --resume",
                 path);
    return MS_OK;
}

/* Rank 0 reads; the caller broadcasts. *found = 0 when the file does not exist. */
static ms_status ckpt_read(const char *path, ckpt_header *hd, uint64_t want_settings,
                           ms_payne *net, ms_nn_optim *opt, ms_nn_params *best, history *hi,
                           int *found)
{
    *found = 0;
    if (access(path, F_OK) != 0) {
        if (errno == ENOENT) return MS_OK;
        MS_ERROR(MS_EIO, "checkpoint %s: cannot open: %s", path, strerror(errno));
    }
    *found = 1;
    ms_h5 *f;
    MS_TRY(ms_h5_open_read(path, 0, &f));
    ms_status st = ckpt_read_from(f, hd, want_settings, net, opt, best, hi);
    ms_h5_close(f);
    return st;
}

typedef struct {
    const ms_payne_data *d;
    const ms_payne_train_opts *o;
    const ms_comm *comm; /* the ranks (opt->comm, or one process) */
    ms_payne net;
    ms_payne_ws *ws;
    ms_nn_optim opt;
    ms_nn_params best;
    history hist;
    int l1;
    size_t D, P, maxb;
    float *x;        /* [n_models, D] scaled labels */
    float *xb, *fb;  /* [maxb, D], [maxb, P] local batch */
    float *pred, *dpred; /* [maxb, P] */
    size_t *train, *val; /* indices */
    size_t n_train, n_val;
    size_t unit;         /* models per evaluation unit (shard_size, or maxb) */
    double *eloss;       /* [n_train] per-model training loss of the epoch */
    double *mloss;       /* [n_val] per-model validation loss */
    float *shard_grad;   /* [own shards, params.n] gradients of this rank's shards */
    long *isum;          /* [params.n] fixed-point gradient sums */
    double *tscale;      /* [n_tensors] fixed-point scales */
    ms_nn_segments segs; /* the tensors, for the exact all-reduce */
} trainer;

static void trainer_free(trainer *t)
{
    ms_payne_free(&t->net);
    ms_payne_ws_free(t->ws);
    ms_nn_optim_free(&t->opt);
    ms_nn_params_free(&t->best);
    history_free(&t->hist);
    ms_free(t->x);
    ms_free(t->xb);
    ms_free(t->fb);
    ms_free(t->pred);
    ms_free(t->dpred);
    ms_free(t->train);
    ms_free(t->val);
    ms_free(t->eloss);
    ms_free(t->mloss);
    ms_free(t->shard_grad);
    ms_free(t->isum);
    ms_free(t->tscale);
    ms_nn_segments_free(&t->segs);
}

/* Gather models idx[0..nb) into the local batch buffers. */
static void gather(trainer *t, const size_t *idx, size_t nb)
{
    for (size_t i = 0; i < nb; i++) {
        memcpy(t->xb + i * t->D, t->x + idx[i] * t->D, t->D * sizeof(float));
        memcpy(t->fb + i * t->P, t->d->flux + idx[i] * t->P, t->P * sizeof(float));
    }
}

/* Slice [*lo, *hi) of n items that rank r of `size` takes. */
static void slice(size_t n, int r, int size, size_t *lo, size_t *hi)
{
    *lo = n * (size_t)r / (size_t)size;
    *hi = n * (size_t)(r + 1) / (size_t)size;
}

/* Per-model loss (unscaled sum over the pixels) of the nb models in the batch buffers. */
static void model_losses(const trainer *t, size_t nb, double *out)
{
    for (size_t b = 0; b < nb; b++) {
        const float *p = t->pred + b * t->P, *f = t->fb + b * t->P;
        out[b] = t->l1 ? ms_nn_l1_loss_forward(p, f, NULL, t->P, 1.0)
                       : ms_nn_l2_loss_forward(p, f, NULL, t->P, 1.0);
    }
}

/* Sum of per-model values v[0..n) that each rank filled for its own models (zeros
 * elsewhere): the all-reduce adds zeros only, so it is exact, and the final sum runs in
 * model order: the same bits for any rank count. */
static ms_status exact_sum(const ms_comm *comm, double *v, size_t n, double *sum)
{
    MS_TRY(comm->sum_d(v, n));
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += v[i];
    *sum = s;
    return MS_OK;
}

/* Evaluate models idx[0..n) in fixed units of t->unit models (ranks take whole units, so
 * every model is computed in the same GEMM shape for any rank count); per-model loss into
 * loss[n] and, when acc is not NULL, Z25 Eq. 1 into acc[n] (both zero-filled here and
 * completed over the ranks). */
static ms_status eval_models(trainer *t, const size_t *idx, size_t n, double *loss, double *acc)
{
    memset(loss, 0, n * sizeof *loss);
    if (acc) memset(acc, 0, n * sizeof *acc);
    size_t n_units = (n + t->unit - 1) / t->unit, lo, hi;
    slice(n_units, t->comm->rank, t->comm->size, &lo, &hi);
    for (size_t u = lo; u < hi; u++) {
        size_t i = u * t->unit, nb = n - i < t->unit ? n - i : t->unit;
        gather(t, idx + i, nb);
        MS_TRY(ms_payne_forward(&t->net, t->ws, t->xb, nb, t->pred));
        model_losses(t, nb, loss + i);
        for (size_t b = 0; acc && b < nb; b++)
            acc[i + b] = ms_emulator_eq1(t->fb + b * t->P, t->pred + b * t->P, t->P);
    }
    MS_TRY(t->comm->sum_d(loss, n));
    if (acc) MS_TRY(t->comm->sum_d(acc, n));
    return MS_OK;
}

/* Mean loss (unscaled, per pixel) of the validation models. */
static ms_status eval_loss(trainer *t, double *mean)
{
    MS_TRY(eval_models(t, t->val, t->n_val, t->mloss, NULL));
    double s = 0.0;
    for (size_t i = 0; i < t->n_val; i++) s += t->mloss[i];
    *mean = s / ((double)t->n_val * (double)t->P);
    return MS_OK;
}

/* Forward + backward of models idx[0..nb): parameter gradients added to net->params.grad
 * (into == NULL) or written into `into` [params.n]; per-model losses into loss[nb]. `ng`
 * is the global batch size (the loss is a mean over it). */
static ms_status grad_of(trainer *t, const size_t *idx, size_t nb, size_t ng, double *loss,
                         float *into)
{
    gather(t, idx, nb);
    MS_TRY(ms_payne_forward(&t->net, t->ws, t->xb, nb, t->pred));
    model_losses(t, nb, loss);
    const double sc = LOSS_SCALE / ((double)ng * (double)t->P);
    memset(t->dpred, 0, nb * t->P * sizeof(float));
    if (t->l1)
        ms_nn_l1_loss_backward(t->dpred, t->pred, t->fb, NULL, nb * t->P, sc);
    else
        ms_nn_l2_loss_backward(t->dpred, t->pred, t->fb, NULL, nb * t->P, sc);
    if (into) return ms_payne_backward_into(&t->net, t->ws, t->xb, t->dpred, nb, into);
    return ms_payne_backward(&t->net, t->ws, t->xb, t->dpred, nb, NULL);
}

/* Exact sum over all shards of all ranks of the gradients in t->shard_grad (k_own local
 * shards of n floats each, n_sh shards in the global batch) into net->params.grad: per
 * tensor, a power-of-two scale from the global max |g| turns every value into a 64-bit
 * integer with room for n_sh terms; integer sums do not depend on their order. */
static ms_status exact_reduce(trainer *t, size_t k_own, size_t n_sh)
{
    ms_nn_params *p = &t->net.params;
    size_t bad = 0;
    ms_status st = ms_comm_sum_exact(t->comm, t->shard_grad, k_own, p->n, &t->segs.segs, n_sh,
                                     t->isum, t->tscale, p->grad, &bad);
    if (st == MS_ENOPROG)
        MS_ERROR(MS_ENOPROG, "emulator training: non-finite gradient in %s ---> HINT: lower "
                             "emulator.learning_rate", p->t[bad].name);
    return st;
}

/* One epoch over the training set; *mean = the mean training loss (unscaled). */
static ms_status run_epoch(trainer *t, long epoch, size_t *perm, double *mean)
{
    const size_t Bg = (size_t)t->o->cfg.batch_size, S = (size_t)t->o->cfg.shard_size;
    const int rank = t->comm->rank, size = t->comm->size;
    memcpy(perm, t->train, t->n_train * sizeof *perm);
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, mix((uint64_t)t->o->seed, 0x5348554646ULL + (uint64_t)epoch));
    ms_nn_rng_shuffle(&rng, perm, t->n_train);
    double *eloss = t->eloss; /* [n_train] per model, in epoch order */
    memset(eloss, 0, t->n_train * sizeof *eloss);
    ms_nn_params *p = &t->net.params;
    for (size_t b0 = 0; b0 < t->n_train; b0 += Bg) {
        size_t ng = t->n_train - b0 < Bg ? t->n_train - b0 : Bg;
        if (S == 0) {
            /* plain: this rank's slice in one pass, one float all-reduce */
            size_t lo, hi;
            slice(ng, rank, size, &lo, &hi);
            ms_nn_params_zero_grad(p);
            if (hi > lo) MS_TRY(grad_of(t, perm + b0 + lo, hi - lo, ng, eloss + b0 + lo, NULL));
            if (size > 1) MS_TRY(t->comm->sum_f(p->grad, p->n));
        } else {
            /* exact: whole shards of S models per rank, gradients summed in fixed point */
            size_t n_sh = (ng + S - 1) / S, lo, hi;
            slice(n_sh, rank, size, &lo, &hi);
            for (size_t k = lo; k < hi; k++) {
                size_t i = b0 + k * S, nb = b0 + ng - i < S ? b0 + ng - i : S;
                MS_TRY(grad_of(t, perm + i, nb, ng, eloss + i, t->shard_grad + (k - lo) * p->n));
            }
            MS_TRY(exact_reduce(t, hi - lo, n_sh));
        }
        ms_nn_optim_step(&t->opt, p->param, p->grad);
    }
    double s;
    MS_TRY(exact_sum(t->comm, eloss, t->n_train, &s));
    *mean = s / ((double)t->n_train * (double)t->P);
    return MS_OK;
}

static ms_status setup(trainer *t, ms_emulator *e, uint64_t *data_hash)
{
    const ms_payne_data *d = t->d;
    const ms_payne_train_opts *o = t->o;
    const ms_cfg_emulator *c = &o->cfg;
    t->D = d->n_labels;
    t->P = d->n_pix;
    if (strcasecmp(c->loss, "l1") == 0)
        t->l1 = 1;
    else if (strcasecmp(c->loss, "l2") == 0)
        t->l1 = 0;
    else
        MS_ERROR(MS_EINVAL, "emulator.loss: unknown loss '%s' (expected l1 or l2)", c->loss);
    ms_nn_optim_kind kind;
    MS_TRY(ms_nn_optim_parse(c->optimizer, &kind));
    if (d->n_models < 2)
        MS_ERROR(MS_EINVAL, "emulator training: %zu usable models; need at least 2", d->n_models);
    if (c->batch_size < 1 || c->epochs < 1 || c->hidden < 1 || c->layers < 1)
        MS_ERROR(MS_EINVAL, "emulator training: batch_size, epochs, hidden, layers must be >= 1");

    /* split (identical on every rank) */
    size_t *perm = ms_malloc_array("payne.split", d->n_models, sizeof(size_t));
    if (!perm) return MS_ENOMEM;
    for (size_t i = 0; i < d->n_models; i++) perm[i] = i;
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, mix((uint64_t)o->seed, 0x53504c4954ULL));
    ms_nn_rng_shuffle(&rng, perm, d->n_models);
    t->n_val = (size_t)llround(c->validation_fraction * (double)d->n_models);
    if (t->n_val < 1) t->n_val = 1;
    if (t->n_val >= d->n_models) t->n_val = d->n_models - 1;
    t->n_train = d->n_models - t->n_val;
    t->val = ms_malloc_array("payne.val", t->n_val, sizeof(size_t));
    t->train = ms_malloc_array("payne.train", t->n_train, sizeof(size_t));
    if (!t->val || !t->train) {
        ms_free(perm);
        return MS_ENOMEM;
    }
    memcpy(t->val, perm, t->n_val * sizeof(size_t));
    memcpy(t->train, perm + t->n_val, t->n_train * sizeof(size_t));
    ms_free(perm);
    qsort(t->val, t->n_val, sizeof(size_t), cmp_size);
    qsort(t->train, t->n_train, sizeof(size_t), cmp_size);

    /* label scaling from the training models */
    for (size_t j = 0; j < t->D; j++) {
        double lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; i < t->n_train; i++) {
            double y = d->labels[t->train[i] * t->D + j];
            if (!isfinite(y))
                MS_ERROR(MS_EFORMAT, "emulator training: label %s of model %zu is not finite",
                         e->labels[j], t->train[i]);
            if (y < lo) lo = y;
            if (y > hi) hi = y;
        }
        if (!(hi > lo))
            MS_ERROR(MS_EINVAL,
                     "emulator training: label '%s' is constant (%g) over the training models; "
                     "remove it from emulator.labels",
                     e->labels[j], lo);
        e->x_min[j] = lo;
        e->x_max[j] = hi;
    }
    uint64_t h = MS_HASH_INIT;
    h = ms_hash_bytes(h, d->flux, d->n_models * t->P * sizeof(float));
    h = ms_hash_bytes(h, d->labels, d->n_models * t->D * sizeof(double));
    *data_hash = h;

    /* network, optimizer, buffers */
    MS_TRY(ms_payne_init(&t->net, t->D, (size_t)c->hidden, (size_t)c->layers, t->P,
                         (float)c->leaky_slope));
    ms_nn_rng_seed(&rng, mix((uint64_t)o->seed, 0x494e4954ULL));
    ms_payne_init_weights(&t->net, &rng);
    MS_TRY(ms_nn_optim_init(&t->opt, kind, t->net.params.n, c->learning_rate));
    ms_nn_params_init(&t->best);
    for (size_t i = 0; i < t->net.params.n_tensors; i++) {
        const ms_nn_tensor *tt = &t->net.params.t[i];
        MS_TRY(ms_nn_params_add(&t->best, tt->name, tt->ndim, tt->shape, NULL));
    }
    MS_TRY(ms_nn_params_alloc(&t->best));
    MS_TRY(ms_nn_params_copy(&t->best, &t->net.params));
    if (c->shard_size < 0) MS_ERROR(MS_EINVAL, "emulator.shard_size must be >= 0");
    size_t Bg = (size_t)c->batch_size, size = (size_t)t->comm->size, S = (size_t)c->shard_size;
    if (S > Bg) S = Bg;
    if (S == 0) {
        t->maxb = (Bg + size - 1) / size; /* the largest slice of a global batch */
        t->unit = t->maxb;
    } else {
        t->maxb = t->unit = S;
        size_t own = ((Bg + S - 1) / S + size - 1) / size; /* most shards a rank takes */
        /* zero-filled: the padding between tensors is never written */
        t->shard_grad = ms_calloc("payne.shard_grad", own * t->net.params.n, sizeof(float));
        t->isum = ms_malloc_array("payne.isum", t->net.params.n, sizeof(long));
        t->tscale = ms_malloc_array("payne.tscale", t->net.params.n_tensors, sizeof(double));
        if (!t->shard_grad || !t->isum || !t->tscale) return MS_ENOMEM;
        MS_TRY(ms_nn_segments_of(&t->net.params, &t->segs));
    }
    t->eloss = ms_malloc_array("payne.eloss", t->n_train, sizeof(double));
    t->mloss = ms_malloc_array("payne.mloss", t->n_val, sizeof(double));
    if (!t->eloss || !t->mloss) return MS_ENOMEM;
    MS_TRY(ms_payne_ws_alloc(&t->net, t->maxb, 0, &t->ws));
    t->x = ms_malloc_array("payne.x", d->n_models * t->D, sizeof(float));
    t->xb = ms_malloc_array("payne.xb", t->maxb * t->D, sizeof(float));
    t->fb = ms_malloc_array("payne.fb", t->maxb * t->P, sizeof(float));
    t->pred = ms_malloc_array("payne.pred", t->maxb * t->P, sizeof(float));
    t->dpred = ms_malloc_array("payne.dpred", t->maxb * t->P, sizeof(float));
    if (!t->x || !t->xb || !t->fb || !t->pred || !t->dpred) return MS_ENOMEM;
    for (size_t i = 0; i < d->n_models; i++)
        for (size_t j = 0; j < t->D; j++)
            t->x[i * t->D + j] = (float)((d->labels[i * t->D + j] - e->x_min[j]) /
                                             (e->x_max[j] - e->x_min[j]) -
                                         0.5);
    return MS_OK;
}

/* The emulator's error per pixel: RMS over the validation models of F_model - F_recon
 * (issue 17 item 2; the fit adds its square to every spectrum's pixel variance). Each
 * rank fills the rows of its own models (zeros elsewhere), the all-reduce adds zeros only
 * and the sum over models runs in model order: the same bits for any rank count. */
static ms_status pixel_error(trainer *t, ms_emulator *e)
{
    const size_t n = t->n_val, P = t->P;
    e->pix_err = ms_calloc("payne.pix_err", P, sizeof(double));
    double *sq = ms_calloc("payne.pix_sq", (n ? n : 1) * P, sizeof(double));
    if (!e->pix_err || !sq) {
        ms_free(sq);
        return MS_ENOMEM;
    }
    size_t n_units = (n + t->unit - 1) / t->unit, lo, hi;
    slice(n_units, t->comm->rank, t->comm->size, &lo, &hi);
    ms_status st = MS_OK;
    for (size_t u = lo; st == MS_OK && u < hi; u++) {
        size_t i = u * t->unit, nb = n - i < t->unit ? n - i : t->unit;
        gather(t, t->val + i, nb);
        st = ms_payne_forward(&t->net, t->ws, t->xb, nb, t->pred);
        for (size_t b = 0; st == MS_OK && b < nb; b++)
            for (size_t p = 0; p < P; p++) {
                double d = (double)t->fb[b * P + p] - (double)t->pred[b * P + p];
                sq[(i + b) * P + p] = d * d;
            }
    }
    if (st == MS_OK) st = t->comm->sum_d(sq, n * P);
    for (size_t p = 0; st == MS_OK && p < P; p++) {
        double s = 0.0;
        for (size_t i = 0; i < n; i++) s += sq[i * P + p];
        e->pix_err[p] = n ? sqrt(s / (double)n) : 0.0;
    }
    ms_free(sq);
    return st;
}

/* Z25 Eq. 1 for every validation model with the best weights (on all ranks). */
static ms_status accuracy(trainer *t, ms_emulator *e)
{
    e->n_val = t->n_val;
    e->val_index = ms_malloc_array("payne.val_index", t->n_val, sizeof(int64_t));
    e->val_labels = ms_calloc("payne.val_labels", t->n_val * t->D, sizeof(double));
    e->val_accuracy = ms_calloc("payne.val_accuracy", t->n_val, sizeof(double));
    if (!e->val_index || !e->val_labels || !e->val_accuracy) return MS_ENOMEM;
    for (size_t i = 0; i < t->n_val; i++) {
        size_t m = t->val[i];
        e->val_index[i] = t->d->rows ? t->d->rows[m] : (int64_t)m;
        memcpy(e->val_labels + i * t->D, t->d->labels + m * t->D, t->D * sizeof(double));
    }
    MS_TRY(eval_models(t, t->val, t->n_val, t->mloss, e->val_accuracy));
    return pixel_error(t, e);
}

ms_status ms_payne_train(const ms_payne_data *data, const ms_payne_train_opts *opt,
                         ms_emulator *e)
{
    trainer t;
    memset(&t, 0, sizeof t);
    t.d = data;
    t.o = opt;
    t.comm = opt->comm ? opt->comm : ms_comm_serial();
    uint64_t data_hash = 0;
    const ms_cfg_emulator *c = &opt->cfg;
    const int rank = t.comm->rank;
    size_t *perm = NULL;
    ms_status st = setup(&t, e, &data_hash);
    if (st != MS_OK) goto done;
    perm = ms_malloc_array("payne.perm", t.n_train, sizeof(size_t));
    if (!perm) {
        st = MS_ENOMEM;
        goto done;
    }

    ckpt_header hd;
    memset(&hd, 0, sizeof hd);
    memcpy(hd.magic, CKPT_MAGIC, sizeof CKPT_MAGIC);
    hd.version = CKPT_VERSION;
    hd.header_bytes = sizeof hd;
    hd.n_params = t.net.params.n;
    hd.n_labels = t.D;
    hd.n_hidden = (uint64_t)c->hidden;
    hd.n_layers = (uint64_t)c->layers;
    hd.n_pix = t.P;
    hd.n_models = data->n_models;
    hd.n_train = t.n_train;
    hd.n_val = t.n_val;
    hd.settings_hash = settings_hash(data, opt, data_hash);
    hd.best_val = INFINITY;
    long start = 0;
    double elapsed0 = 0.0;
    if (opt->resume && opt->checkpoint) {
        int found = 0;
        uint64_t want = hd.settings_hash;
        if (rank == 0) st = ckpt_read(opt->checkpoint, &hd, want, &t.net, &t.opt, &t.best, &t.hist, &found);
        st = t.comm->agree(st);
        if (st != MS_OK) goto done;
        if ((st = t.comm->bcast(&found, sizeof found)) != MS_OK) goto done;
        if (found) {
            size_t nh = 0;
            if (rank == 0) nh = t.hist.n;
            if ((st = t.comm->bcast(&hd, sizeof hd)) != MS_OK) goto done;
            if ((st = t.comm->bcast(&nh, sizeof nh)) != MS_OK) goto done;
            for (size_t i = t.hist.n; st == MS_OK && i < nh; i++) st = history_push(&t.hist, 0, 0, 0);
            if (st == MS_OK) st = t.comm->bcast(t.net.params.param, t.net.params.n * sizeof(float));
            if (st == MS_OK) st = t.comm->bcast(t.opt.moments, 2 * t.net.params.n * sizeof(float));
            if (st == MS_OK) st = t.comm->bcast(t.best.param, t.net.params.n * sizeof(float));
            if (st == MS_OK) st = t.comm->bcast(t.hist.epoch, nh * sizeof(double));
            if (st == MS_OK) st = t.comm->bcast(t.hist.train, nh * sizeof(double));
            if (st == MS_OK) st = t.comm->bcast(t.hist.val, nh * sizeof(double));
            if (st != MS_OK) goto done;
            start = (long)hd.epochs_done;
            t.opt.step = (long)hd.opt_step;
            elapsed0 = hd.elapsed;
            ms_log0_info("resuming from %s at epoch %ld (best validation %.4g at epoch %ld)",
                         opt->checkpoint, start, hd.best_val, (long)hd.best_epoch);
        } else {
            ms_log0_warn("checkpoint %s does not exist: starting from scratch", opt->checkpoint);
        }
    }
    if (!opt->quiet)
        ms_log0_info("training The Payne %zu -> %ld x %ld -> %zu (%zu parameters) on %zu models "
                     "(%zu validation), %s loss, %s lr %g, batch %ld over %d rank(s)",
                     t.D, c->layers, c->hidden, t.P, t.net.params.n, t.n_train, t.n_val, c->loss,
                     c->optimizer, c->learning_rate, c->batch_size, t.comm->size);

    const double t0 = now();
    double last_train = NAN, tlast = t0;
    long last_epoch = start;
    for (long ep = start; ep < c->epochs; ep++) {
        if ((st = run_epoch(&t, ep, perm, &last_train)) != MS_OK) goto done;
        const long done_ep = ep + 1;
        int stop = 0;
        if (opt->max_seconds > 0) {
            stop = now() - t0 >= opt->max_seconds && done_ep < c->epochs;
            if ((st = t.comm->bcast(&stop, sizeof stop)) != MS_OK) goto done;
        }
        /* validation points: multiples of validate_every and the last epoch (not a
         * time-limit stop, so that a resumed run validates where an uninterrupted one does) */
        if (done_ep % c->validate_every == 0 || done_ep == c->epochs) {
            double val;
            if ((st = eval_loss(&t, &val)) != MS_OK) goto done;
            if (!isfinite(val) || !isfinite(last_train)) {
                st = ms_error_set(MS_ENOPROG, __FILE__, __LINE__,
                                  "emulator training diverged at epoch %ld (loss %g) ---> HINT: "
                                  "lower emulator.learning_rate",
                                  done_ep, last_train);
                goto done;
            }
            if (val < hd.best_val) {
                hd.best_val = val;
                hd.best_epoch = done_ep;
                if ((st = ms_nn_params_copy(&t.best, &t.net.params)) != MS_OK) goto done;
            }
            if ((st = history_push(&t.hist, (double)done_ep, last_train, val)) != MS_OK) goto done;
            if (!opt->quiet) {
                double tn = now();
                ms_log0_info("epoch %ld/%ld  train %s %.4e  validation %.4e  best %.4e @%ld  "
                             "(%.3f s/epoch)",
                             done_ep, c->epochs, t.l1 ? "L1" : "L2", last_train, val, hd.best_val,
                             (long)hd.best_epoch, (tn - tlast) / (double)(done_ep - last_epoch));
                tlast = tn;
                last_epoch = done_ep;
            }
        }
        int ckpt = opt->checkpoint && (done_ep % c->checkpoint_every == 0 || done_ep == c->epochs || stop);
        if (ckpt) {
            hd.epochs_done = done_ep;
            hd.opt_step = t.opt.step;
            hd.elapsed = elapsed0 + now() - t0;
            hd.n_history = t.hist.n;
            if (rank == 0) st = ckpt_write(opt->checkpoint, &hd, &t.net, &t.opt, &t.best, &t.hist);
            if ((st = t.comm->agree(st)) != MS_OK) goto done;
        }
        if (stop) {
            ms_log0_warn("stopping after %ld epochs: the time limit (%.0f s) is reached; the "
                         "checkpoint %s lets --resume continue",
                         done_ep, opt->max_seconds, opt->checkpoint ? opt->checkpoint : "(none)");
            st = ms_error_set(MS_EINTERRUPTED, __FILE__, __LINE__,
                              "training stopped by its time limit after %ld epochs", done_ep);
            goto done;
        }
    }
    /* the best weights become the network */
    if ((st = ms_nn_params_copy(&t.net.params, &t.best)) != MS_OK) goto done;
    if ((st = accuracy(&t, e)) != MS_OK) goto done;

    /* the replicas must agree (MPI reductions are deterministic; this guards the claim) */
    if (t.comm->size > 1) {
        uint64_t h = ms_hash_bytes(MS_HASH_INIT, t.net.params.param, t.net.params.n * sizeof(float));
        double mine[2] = {(double)(h >> 32), (double)(h & 0xffffffffu)}, mx[2] = {mine[0], mine[1]};
        if ((st = t.comm->max_d(mx, 2)) != MS_OK) goto done;
        double neg[2] = {-mine[0], -mine[1]};
        if ((st = t.comm->max_d(neg, 2)) != MS_OK) goto done;
        if (mx[0] != -neg[0] || mx[1] != -neg[1]) {
            st = ms_error_set(MS_EMPI, __FILE__, __LINE__,
                              "emulator training: the ranks' weights differ after training");
            goto done;
        }
    }

    /* hand over */
    e->net = t.net;
    memset(&t.net, 0, sizeof t.net);
    ms_hash_hex(data_hash, e->grid_hash);
    snprintf(e->loss, sizeof e->loss, "%s", c->loss);
    snprintf(e->optimizer, sizeof e->optimizer, "%s", c->optimizer);
    e->learning_rate = c->learning_rate;
    e->batch_size = c->batch_size;
    e->epochs_run = c->epochs;
    e->best_epoch = (long)hd.best_epoch;
    e->best_val_loss = hd.best_val;
    e->seed = opt->seed;
    e->ranks = t.comm->size;
    e->train_seconds = elapsed0 + now() - t0;
    e->n_train = t.n_train;
    e->n_history = t.hist.n;
    e->hist_epoch = t.hist.epoch;
    e->hist_train_loss = t.hist.train;
    e->hist_val_loss = t.hist.val;
    memset(&t.hist, 0, sizeof t.hist);
done:
    ms_free(perm);
    trainer_free(&t);
    return st;
}
