/* csn_train.c: the Cycle-StarNet training loop (csn.h): data-parallel generator and
 * discriminator steps with Adam and a step-decayed rate, validation, history, progress
 * lines and checkpoints. */
#include "csn_internal.h"

#include "mstars/log.h"
#include "mstars/mem.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

const char *const ms_csn_hist_names[MS_CSN_H_COLS] = {
    "iteration", "learning_rate", "rec_synth", "cyc_synth", "rec_obs", "cyc_obs", "gen_synth",
    "gen_obs", "dis", "val_rec_synth", "val_cyc_synth", "val_rec_obs", "val_cyc_obs",
    "val_zsh_synth", "val_zsh_obs", "val_zsp", "val_zsh_domains", "seconds"};

void ms_csn_history_free(ms_csn_history *h)
{
    ms_free(h->v);
    memset(h, 0, sizeof *h);
}

ms_status ms_csn_history_append(ms_csn_history *h, const double row[MS_CSN_H_COLS])
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 64;
        double *v = ms_realloc("csn.history", h->v, cap * MS_CSN_H_COLS * sizeof(double));
        if (!v) return MS_ENOMEM;
        h->v = v;
        h->cap = cap;
    }
    memcpy(h->v + h->n * MS_CSN_H_COLS, row, MS_CSN_H_COLS * sizeof(double));
    h->n++;
    return MS_OK;
}

ms_status ms_csn_state_init(ms_csn_state *st, const ms_csn *net)
{
    memset(st, 0, sizeof *st);
    const ms_cfg_csn *c = &net->cfg;
    ms_status s = ms_nn_optim_init(&st->gen, MS_NN_ADAM, net->gen.n, c->learning_rate);
    if (s == MS_OK) s = ms_nn_optim_init(&st->dis, MS_NN_ADAM, net->dis.n, c->learning_rate);
    if (s != MS_OK) {
        ms_csn_state_free(st);
        return s;
    }
    st->gen.beta1 = st->dis.beta1 = c->beta1;
    st->gen.beta2 = st->dis.beta2 = c->beta2;
    return MS_OK;
}

void ms_csn_state_free(ms_csn_state *st)
{
    ms_nn_optim_free(&st->gen);
    ms_nn_optim_free(&st->dis);
    ms_csn_history_free(&st->hist);
    memset(st, 0, sizeof *st);
}

/* [*lo, *hi): rank's contiguous share of n items. */
static void slice(size_t n, int rank, int size, size_t *lo, size_t *hi)
{
    *lo = n * (size_t)rank / (size_t)size;
    *hi = n * (size_t)(rank + 1) / (size_t)size;
}

static uint64_t mix(uint64_t a, uint64_t b)
{
    uint64_t z = a ^ (b + 0x9e3779b97f4a7c15ULL + (a << 6) + (a >> 2));
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* An endless sequence of epoch permutations of one training set. */
typedef struct {
    const ms_csn_data *d;
    size_t *perm; /* [n] */
    long epoch;
    uint64_t seed;
} stream;

static size_t stream_at(stream *s, uint64_t pos)
{
    const size_t n = s->d->n;
    long e = (long)(pos / n);
    if (e != s->epoch) {
        for (size_t i = 0; i < n; i++) s->perm[i] = i;
        ms_nn_rng r;
        ms_nn_rng_seed(&r, mix(s->seed, (uint64_t)e));
        ms_nn_rng_shuffle(&r, s->perm, n);
        s->epoch = e;
    }
    return s->perm[pos % n];
}

static double lr_at(const ms_cfg_csn *c, long it)
{
    double lr = c->learning_rate;
    for (int i = 0; i < c->lr_milestones.n; i++)
        if ((double)it >= c->lr_milestones.v[i]) lr *= c->lr_gamma;
    return lr;
}

/* Staging buffers for one local batch. */
typedef struct {
    float *fs, *es, *fo, *eo; /* [cap, n_pix] */
} staging;

static void copy_rows(const ms_csn_data *d, const size_t *idx, size_t nb, float *f, float *e)
{
    for (size_t i = 0; i < nb; i++) {
        memcpy(f + i * d->n_pix, d->flux + idx[i] * d->n_pix, d->n_pix * sizeof(float));
        if (d->err) memcpy(e + i * d->n_pix, d->err + idx[i] * d->n_pix, d->n_pix * sizeof(float));
    }
}

/* O'Briain's latent score: mean |a - b| after min-max normalising every (channel,
 * position) over the batch (mn, mx [n]). Sum over nb samples of per-sample sums. */
static double latent_absdiff(const float *a, const float *b, const double *mn, const double *mx,
                             size_t nb, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < nb; i++)
        for (size_t j = 0; j < n; j++) {
            double r = mx[j] - mn[j];
            if (!(r > 0.0)) continue;
            s += fabs(((double)a[i * n + j] - (double)b[i * n + j]) / r);
        }
    return s;
}

static void minmax_update(const float *z, size_t nb, size_t n, double *mn, double *mx)
{
    for (size_t i = 0; i < nb; i++)
        for (size_t j = 0; j < n; j++) {
            double v = z[i * n + j];
            if (v < mn[j]) mn[j] = v;
            if (v > mx[j]) mx[j] = v;
        }
}

ms_status ms_csn_validate(const ms_csn *net, ms_csn_step *s, const ms_csn_data *synth,
                          const ms_csn_data *obs, size_t max_spectra, const ms_comm *comm,
                          double *row)
{
    for (int k = MS_CSN_H_VREC_S; k <= MS_CSN_H_VZSH_DOM; k++) row[k] = NAN;
    size_t n = max_spectra;
    if (synth->n < n) n = synth->n;
    if (obs->n < n) n = obs->n;
    if (n == 0) return MS_OK;
    const int rank = comm->rank, size = comm->size;
    const size_t Bg = (size_t)net->cfg.batch_size, P = net->n_pix;
    const size_t nzh = ms_csn_z_sh_floats(net), nzp = ms_csn_z_sp_floats(net);
    /* this rank's samples: a slice of every chunk of Bg */
    size_t n_local = 0;
    for (size_t c0 = 0; c0 < n; c0 += Bg) {
        size_t ng = n - c0 < Bg ? n - c0 : Bg, lo, hi;
        slice(ng, rank, size, &lo, &hi);
        n_local += hi - lo;
    }
    size_t cap = 1;
    {
        size_t lo, hi;
        slice(Bg, rank, size, &lo, &hi);
        cap = hi - lo > 0 ? hi - lo : 1;
    }
    ms_status st = MS_OK;
    const size_t nzall = 4 * nzh + 2 * nzp;
    float *z = ms_malloc_array("csn.val.z", (n_local ? n_local : 1) * nzall, sizeof(float));
    float *fs = ms_malloc_array("csn.val.fs", cap * P, sizeof(float));
    float *fo = ms_malloc_array("csn.val.fo", cap * P, sizeof(float));
    float *eo = ms_malloc_array("csn.val.eo", cap * P, sizeof(float));
    float *es = ms_malloc_array("csn.val.es", cap * P, sizeof(float));
    double *mm = ms_malloc_array("csn.val.minmax", 2 * (nzh + nzp), sizeof(double));
    size_t *idx = ms_malloc_array("csn.val.idx", cap, sizeof(size_t));
    if (!z || !fs || !fo || !eo || !es || !mm || !idx) {
        st = MS_ENOMEM;
        goto done;
    }
    double acc[4] = {0, 0, 0, 0};
    const ms_csn_gen_weights gw = {{1, 1, 1, 1, 0, 0}};
    size_t done_local = 0;
    for (size_t c0 = 0; c0 < n; c0 += Bg) {
        size_t ng = n - c0 < Bg ? n - c0 : Bg, lo, hi;
        slice(ng, rank, size, &lo, &hi);
        size_t nb = hi - lo;
        for (size_t i = 0; i < nb; i++) idx[i] = c0 + lo + i;
        copy_rows(synth, idx, nb, fs, es);
        copy_rows(obs, idx, nb, fo, eo);
        if ((st = ms_csn_batch_set(net, s, fs, synth->err ? es : NULL, fo, obs->err ? eo : NULL,
                                   nb, n)) != MS_OK)
            goto done;
        ms_csn_losses L;
        if ((st = ms_csn_gen_forward(net, s, &gw, &L)) != MS_OK) goto done;
        acc[0] += L.rec_s;
        acc[1] += L.cyc_s;
        acc[2] += L.rec_o;
        acc[3] += L.cyc_o;
        const char *names[6] = {"z_s", "zsh_o", "zsh_so", "zsh_os", "zsp_o", "zsp_so"};
        for (size_t i = 0; i < nb; i++) {
            float *zi = z + (done_local + i) * nzall;
            for (int k = 0; k < 6; k++) {
                const float *v = ms_csn_step_view(s, names[k]);
                size_t m = k < 4 ? nzh : nzp, off = k < 4 ? (size_t)k * nzh : 4 * nzh + (size_t)(k - 4) * nzp;
                memcpy(zi + off, v + i * m, m * sizeof(float));
            }
        }
        done_local += nb;
    }
    /* min-max over every sample of every rank: mm = [-min_sh, max_sh, -min_sp, max_sp] */
    double *mn_sh = mm, *mx_sh = mm + nzh, *mn_sp = mm + 2 * nzh, *mx_sp = mm + 2 * nzh + nzp;
    for (size_t j = 0; j < nzh; j++) mn_sh[j] = INFINITY, mx_sh[j] = -INFINITY;
    for (size_t j = 0; j < nzp; j++) mn_sp[j] = INFINITY, mx_sp[j] = -INFINITY;
    for (size_t i = 0; i < n_local; i++) {
        const float *zi = z + i * nzall;
        for (int k = 0; k < 4; k++) minmax_update(zi + (size_t)k * nzh, 1, nzh, mn_sh, mx_sh);
        for (int k = 0; k < 2; k++) minmax_update(zi + 4 * nzh + (size_t)k * nzp, 1, nzp, mn_sp, mx_sp);
    }
    for (size_t j = 0; j < nzh; j++) mn_sh[j] = -mn_sh[j];
    for (size_t j = 0; j < nzp; j++) mn_sp[j] = -mn_sp[j];
    if ((st = comm->max_d(mm, 2 * (nzh + nzp))) != MS_OK) goto done;
    for (size_t j = 0; j < nzh; j++) mn_sh[j] = -mn_sh[j];
    for (size_t j = 0; j < nzp; j++) mn_sp[j] = -mn_sp[j];
    double sums[8] = {acc[0], acc[1], acc[2], acc[3], 0, 0, 0, 0};
    for (size_t i = 0; i < n_local; i++) {
        const float *zi = z + i * nzall;
        const float *z_s = zi, *zsh_o = zi + nzh, *zsh_so = zi + 2 * nzh, *zsh_os = zi + 3 * nzh;
        const float *zsp_o = zi + 4 * nzh, *zsp_so = zi + 4 * nzh + nzp;
        sums[4] += latent_absdiff(z_s, zsh_so, mn_sh, mx_sh, 1, nzh);
        sums[5] += latent_absdiff(zsh_o, zsh_os, mn_sh, mx_sh, 1, nzh);
        sums[6] += latent_absdiff(zsp_o, zsp_so, mn_sp, mx_sp, 1, nzp);
        sums[7] += latent_absdiff(z_s, zsh_o, mn_sh, mx_sh, 1, nzh);
    }
    if ((st = comm->sum_d(sums, 8)) != MS_OK) goto done;
    row[MS_CSN_H_VREC_S] = sums[0];
    row[MS_CSN_H_VCYC_S] = sums[1];
    row[MS_CSN_H_VREC_O] = sums[2];
    row[MS_CSN_H_VCYC_O] = sums[3];
    row[MS_CSN_H_VZSH_S] = sums[4] / ((double)n * (double)nzh);
    row[MS_CSN_H_VZSH_O] = sums[5] / ((double)n * (double)nzh);
    row[MS_CSN_H_VZSP] = sums[6] / ((double)n * (double)nzp);
    row[MS_CSN_H_VZSH_DOM] = sums[7] / ((double)n * (double)nzh);
done:
    ms_free(z);
    ms_free(fs);
    ms_free(fo);
    ms_free(eo);
    ms_free(es);
    ms_free(mm);
    ms_free(idx);
    return st;
}

/* Exact sums over ranks (comm.h, the trainers' one exact all-reduce): every local sample's
 * gradient (store [nb, p->n]) is summed in 64-bit fixed point per tensor into p->grad, the
 * same bits for any number of ranks. */
typedef struct {
    float *store;  /* [cap, n] per-sample gradients */
    long *isum;    /* [n] */
    double *scale; /* [n_tensors] */
    ms_nn_segments segs;
} exact_buf;

static ms_status exact_alloc(exact_buf *x, const ms_nn_params *p, size_t cap)
{
    memset(x, 0, sizeof *x);
    x->store = ms_malloc_array("csn.exact.store", cap * p->n, sizeof(float));
    x->isum = ms_malloc_array("csn.exact.isum", p->n, sizeof(long));
    x->scale = ms_malloc_array("csn.exact.scale", p->n_tensors, sizeof(double));
    if (!x->store || !x->isum || !x->scale) return MS_ENOMEM;
    return ms_nn_segments_of(p, &x->segs);
}

static void exact_free(exact_buf *x)
{
    ms_free(x->store);
    ms_free(x->isum);
    ms_free(x->scale);
    ms_nn_segments_free(&x->segs);
    memset(x, 0, sizeof *x);
}

static ms_status exact_reduce(const ms_comm *comm, ms_nn_params *p, exact_buf *x, size_t nb,
                              size_t n_global, const char *side)
{
    size_t bad = 0;
    ms_status st = ms_comm_sum_exact(comm, x->store, nb, p->n, &x->segs.segs, n_global, x->isum,
                                     x->scale, p->grad, &bad);
    if (st == MS_ENOPROG)
        MS_ERROR(MS_ENOPROG, "csn training: non-finite %s gradient in %s ---> HINT: lower "
                             "csn.learning_rate or check the training spectra",
                 side, p->t[bad].name);
    return st;
}

static ms_status check_sets(const ms_csn *net, const ms_csn_sets *sets)
{
    const ms_csn_data *d[4] = {&sets->synth_train, &sets->obs_train, &sets->synth_val,
                               &sets->obs_val};
    const char *names[4] = {"synthetic training", "observed training", "synthetic validation",
                            "observed validation"};
    for (int k = 0; k < 4; k++) {
        if (d[k]->n > 0 && d[k]->n_pix != net->n_pix)
            MS_ERROR(MS_EINVAL, "csn training: the %s set has %zu pixels, the network %zu",
                     names[k], d[k]->n_pix, net->n_pix);
        if (k < 2 && d[k]->n == 0)
            MS_ERROR(MS_EINVAL, "csn training: the %s set is empty", names[k]);
    }
    return MS_OK;
}

ms_status ms_csn_train(ms_csn *net, const ms_csn_sets *sets, const ms_csn_train_opts *opt,
                       ms_csn_state *state)
{
    MS_TRY(check_sets(net, sets));
    const ms_cfg_csn *c = &net->cfg;
    const ms_comm *comm = opt->comm ? opt->comm : ms_comm_serial();
    const int rank = comm->rank, size = comm->size;
    const size_t Bg = (size_t)c->batch_size, P = net->n_pix;
    size_t lo, hi;
    slice(Bg, 0, size, &lo, &hi);
    size_t cap = hi - lo;
    for (int r = 1; r < size; r++) {
        slice(Bg, r, size, &lo, &hi);
        if (hi - lo > cap) cap = hi - lo;
    }
    if (cap == 0) cap = 1;
    if (opt->resume) {
        if (!opt->checkpoint) MS_ERROR(MS_EINVAL, "csn training: resume without a checkpoint path");
        MS_TRY(ms_csn_checkpoint_read(opt->checkpoint, net, state));
        if (!opt->quiet)
            ms_log0_info("csn: resumed from %s at iteration %ld", opt->checkpoint, state->iteration);
    }
    ms_status st = MS_OK;
    ms_csn_step *s = NULL;
    staging g = {0};
    stream ss = {&sets->synth_train, NULL, -1, mix((uint64_t)opt->seed, 0x53594e5448ULL)};
    stream so = {&sets->obs_train, NULL, -1, mix((uint64_t)opt->seed, 0x4f42534552ULL)};
    size_t *is = NULL, *io = NULL;
    exact_buf xg = {0}, xd = {0};
    if ((st = ms_csn_step_alloc(net, cap, &s)) != MS_OK) goto done;
    if (c->exact_sums && ((st = exact_alloc(&xg, &net->gen, cap)) != MS_OK ||
                          (st = exact_alloc(&xd, &net->dis, cap)) != MS_OK))
        goto done;
    g.fs = ms_malloc_array("csn.train.fs", cap * P, sizeof(float));
    g.es = ms_malloc_array("csn.train.es", cap * P, sizeof(float));
    g.fo = ms_malloc_array("csn.train.fo", cap * P, sizeof(float));
    g.eo = ms_malloc_array("csn.train.eo", cap * P, sizeof(float));
    ss.perm = ms_malloc_array("csn.train.perm_s", sets->synth_train.n, sizeof(size_t));
    so.perm = ms_malloc_array("csn.train.perm_o", sets->obs_train.n, sizeof(size_t));
    is = ms_malloc_array("csn.train.is", cap, sizeof(size_t));
    io = ms_malloc_array("csn.train.io", cap, sizeof(size_t));
    if (!g.fs || !g.es || !g.fo || !g.eo || !ss.perm || !so.perm || !is || !io) {
        st = MS_ENOMEM;
        goto done;
    }
    const ms_csn_gen_weights gw = ms_csn_gen_weights_from_cfg(c);
    double acc[7] = {0};
    long acc_n = 0;
    const double t_run = wall_now(), t0 = t_run - state->seconds;
    double t_last = t_run;
    long it_last = state->iteration;
    for (long it = state->iteration; it < c->iterations; it++) {
        const double lr = lr_at(c, it);
        state->gen.lr = state->dis.lr = lr;
        slice(Bg, rank, size, &lo, &hi);
        const size_t nb = hi - lo;
        for (size_t i = 0; i < nb; i++) {
            uint64_t pos = (uint64_t)it * Bg + lo + i;
            is[i] = stream_at(&ss, pos);
            io[i] = stream_at(&so, pos);
        }
        copy_rows(&sets->synth_train, is, nb, g.fs, g.es);
        copy_rows(&sets->obs_train, io, nb, g.fo, g.eo);
        if ((st = ms_csn_batch_set(net, s, g.fs, sets->synth_train.err ? g.es : NULL, g.fo,
                                   sets->obs_train.err ? g.eo : NULL, nb, Bg)) != MS_OK)
            goto done;
        /* generator step */
        ms_csn_losses L;
        if ((st = ms_csn_gen_forward(net, s, &gw, &L)) != MS_OK) goto done;
        if (c->exact_sums) {
            /* each sample's gradient straight into its slot of the store */
            float *keep = net->gen.grad;
            for (size_t i = 0; i < nb && st == MS_OK; i++) {
                net->gen.grad = xg.store + i * net->gen.n;
                ms_nn_params_zero_grad(&net->gen);
                st = csn_gen_backward_slice(net, s, &gw, i, 1);
            }
            net->gen.grad = keep;
            if (st == MS_OK) st = exact_reduce(comm, &net->gen, &xg, nb, Bg, "generator");
        } else {
            ms_nn_params_zero_grad(&net->gen);
            st = ms_csn_gen_backward(net, s, &gw);
            if (st == MS_OK && size > 1) st = comm->sum_f(net->gen.grad, net->gen.n);
        }
        if (st != MS_OK) goto done;
        ms_nn_optim_step(&state->gen, net->gen.param, net->gen.grad);
        /* discriminator step on the same (detached) generator outputs */
        if ((st = csn_dis_forward(net, s, c->lambda_dis, &L)) != MS_OK) goto done;
        if (c->exact_sums) {
            float *keep = net->dis.grad;
            for (size_t i = 0; i < nb && st == MS_OK; i++) {
                net->dis.grad = xd.store + i * net->dis.n;
                ms_nn_params_zero_grad(&net->dis);
                st = csn_dis_backward_slice(net, s, c->lambda_dis, i, 1);
            }
            net->dis.grad = keep;
            if (st == MS_OK) st = exact_reduce(comm, &net->dis, &xd, nb, Bg, "discriminator");
        } else {
            ms_nn_params_zero_grad(&net->dis);
            st = csn_dis_backward_slice(net, s, c->lambda_dis, 0, nb);
            if (st == MS_OK && size > 1) st = comm->sum_f(net->dis.grad, net->dis.n);
        }
        if (st != MS_OK) goto done;
        ms_nn_optim_step(&state->dis, net->dis.param, net->dis.grad);
        acc[0] += L.rec_s;
        acc[1] += L.cyc_s;
        acc[2] += L.rec_o;
        acc[3] += L.cyc_o;
        acc[4] += L.gen_s;
        acc[5] += L.gen_o;
        acc[6] += L.total_d;
        acc_n++;
        state->iteration = it + 1;
        const int last = state->iteration == c->iterations;
        if (state->iteration % c->validate_every == 0 || last) {
            double row[MS_CSN_H_COLS];
            if ((st = comm->sum_d(acc, 7)) != MS_OK) goto done;
            row[MS_CSN_H_ITER] = (double)state->iteration;
            row[MS_CSN_H_LR] = lr;
            for (int k = 0; k < 7; k++) row[MS_CSN_H_REC_S + k] = acc[k] / (double)acc_n;
            if ((st = ms_csn_validate(net, s, &sets->synth_val, &sets->obs_val,
                                      (size_t)c->validation_spectra, comm, row)) != MS_OK)
                goto done;
            double now = wall_now();
            state->seconds = now - t0;
            row[MS_CSN_H_SECONDS] = state->seconds;
            if ((st = ms_csn_history_append(&state->hist, row)) != MS_OK) goto done;
            if (!opt->quiet)
                ms_log0_info("csn it %ld/%ld lr %.3g | train rec %.4g/%.4g cyc %.4g/%.4g gen "
                             "%.3f/%.3f dis %.3f | val rec %.4g/%.4g cyc %.4g/%.4g z_sh %.3f/%.3f "
                             "z_sp %.3f dom %.3f | %.1f ms/it",
                             state->iteration, c->iterations, lr, row[MS_CSN_H_REC_S],
                             row[MS_CSN_H_REC_O], row[MS_CSN_H_CYC_S], row[MS_CSN_H_CYC_O],
                             row[MS_CSN_H_GEN_S], row[MS_CSN_H_GEN_O], row[MS_CSN_H_DIS],
                             row[MS_CSN_H_VREC_S], row[MS_CSN_H_VREC_O], row[MS_CSN_H_VCYC_S],
                             row[MS_CSN_H_VCYC_O], row[MS_CSN_H_VZSH_S], row[MS_CSN_H_VZSH_O],
                             row[MS_CSN_H_VZSP], row[MS_CSN_H_VZSH_DOM],
                             1e3 * (now - t_last) / (double)(state->iteration - it_last));
            t_last = now;
            it_last = state->iteration;
            memset(acc, 0, sizeof acc);
            acc_n = 0;
        }
        state->seconds = wall_now() - t0;
        int stop = opt->max_seconds > 0.0 && wall_now() - t_run >= opt->max_seconds;
        if (size > 1) {
            long flag = stop;
            if ((st = comm->sum_l(&flag, 1)) != MS_OK) goto done;
            stop = flag > 0;
        }
        if (opt->checkpoint && !last &&
            (stop || state->iteration % c->checkpoint_every == 0)) {
            ms_status w = rank == 0 ? ms_csn_checkpoint_write(opt->checkpoint, net, state) : MS_OK;
            if ((st = comm->agree(w)) != MS_OK) goto done;
        }
        if (stop && !last) {
            ms_log0_info("csn: stopped after %.0f s at iteration %ld (checkpoint %s)",
                         state->seconds, state->iteration,
                         opt->checkpoint ? opt->checkpoint : "none");
            st = MS_EINTERRUPTED;
            goto done;
        }
    }
done:
    exact_free(&xg);
    exact_free(&xd);
    ms_csn_step_free(s);
    ms_free(g.fs);
    ms_free(g.es);
    ms_free(g.fo);
    ms_free(g.eo);
    ms_free(ss.perm);
    ms_free(so.perm);
    ms_free(is);
    ms_free(io);
    return st;
}
