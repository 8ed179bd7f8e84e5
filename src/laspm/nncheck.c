/* nncheck.c: Du et al. 2025 3.5's neural-network cleaning of a library (laspm.h), on the
 * neural engine of src/nn (dense layers, leaky ReLU, L2 loss, Adam). */
#include "mstars/laspm.h"
#include "mstars/mem.h"
#include "mstars/nn.h"

#include <math.h>
#include <string.h>

#define H1 512
#define H2 64
#define NL MS_LASPM_N_LABELS
#define SLOPE 0.01f

void ms_laspm_nn_opts_default(ms_laspm_nn_opts *o)
{
    o->rounds = 5;
    o->steps = 2000;
    o->batch = 32;
    o->test_fraction = 0.2;
    o->lr = 1e-3;
    o->cut[0] = 100.0;
    o->cut[1] = 0.2;
    o->cut[2] = 0.2;
    o->wave_min = 6000.0;
    o->wave_max = 8800.0;
    o->seed = 2025;
}

typedef struct {
    size_t P, B;
    ms_nn_params par;
    size_t iw1, ib1, iw2, ib2, iw3, ib3;
    float *x, *y, *h1, *h2, *out, *d1, *d2, *dout; /* batch buffers */
} net;

static void forward(net *n, size_t B)
{
    const ms_nn_params *p = &n->par;
    ms_nn_dense_forward(n->h1, n->x, ms_nn_param(p, n->iw1), ms_nn_param(p, n->ib1), B, n->P, H1);
    ms_nn_leaky_relu_forward(n->h1, n->h1, B * H1, SLOPE);
    ms_nn_dense_forward(n->h2, n->h1, ms_nn_param(p, n->iw2), ms_nn_param(p, n->ib2), B, H1, H2);
    ms_nn_leaky_relu_forward(n->h2, n->h2, B * H2, SLOPE);
    ms_nn_dense_forward(n->out, n->h2, ms_nn_param(p, n->iw3), ms_nn_param(p, n->ib3), B, H2, NL);
}

/* One step on the batch in n->x, n->y: returns the loss. */
static double step(net *n, ms_nn_optim *opt, size_t B)
{
    ms_nn_params *p = &n->par;
    forward(n, B);
    ms_nn_params_zero_grad(p);
    const double scale = 1.0 / (double)(B * NL);
    double loss = ms_nn_l2_loss_forward(n->out, n->y, NULL, B * NL, scale);
    memset(n->dout, 0, B * NL * sizeof(float));
    ms_nn_l2_loss_backward(n->dout, n->out, n->y, NULL, B * NL, scale);
    /* layer 3 */
    memset(n->d2, 0, B * H2 * sizeof(float));
    ms_nn_dense_backward(n->d2, ms_nn_grad(p, n->iw3), ms_nn_grad(p, n->ib3), n->dout, n->h2,
                         ms_nn_param(p, n->iw3), B, H2, NL);
    /* through the activation in place: d2 *= leaky'(h2) */
    for (size_t i = 0; i < B * H2; i++) if (!(n->h2[i] > 0.0f)) n->d2[i] *= SLOPE;
    memset(n->d1, 0, B * H1 * sizeof(float));
    ms_nn_dense_backward(n->d1, ms_nn_grad(p, n->iw2), ms_nn_grad(p, n->ib2), n->d2, n->h1,
                         ms_nn_param(p, n->iw2), B, H1, H2);
    for (size_t i = 0; i < B * H1; i++) if (!(n->h1[i] > 0.0f)) n->d1[i] *= SLOPE;
    ms_nn_dense_backward(NULL, ms_nn_grad(p, n->iw1), ms_nn_grad(p, n->ib1), n->d1, n->x,
                         ms_nn_param(p, n->iw1), B, n->P, H1);
    ms_nn_optim_step(opt, p->param, p->grad);
    return loss;
}

static ms_status net_init(net *n, size_t P, size_t B, ms_nn_rng *rng)
{
    memset(n, 0, sizeof *n);
    n->P = P;
    n->B = B;
    ms_nn_params_init(&n->par);
    const size_t s1[2] = {H1, P}, s2[2] = {H2, H1}, s3[2] = {NL, H2}, c1 = H1, c2 = H2, c3 = NL;
    MS_TRY(ms_nn_params_add(&n->par, "w1", 2, s1, &n->iw1));
    MS_TRY(ms_nn_params_add(&n->par, "b1", 1, &c1, &n->ib1));
    MS_TRY(ms_nn_params_add(&n->par, "w2", 2, s2, &n->iw2));
    MS_TRY(ms_nn_params_add(&n->par, "b2", 1, &c2, &n->ib2));
    MS_TRY(ms_nn_params_add(&n->par, "w3", 2, s3, &n->iw3));
    MS_TRY(ms_nn_params_add(&n->par, "b3", 1, &c3, &n->ib3));
    MS_TRY(ms_nn_params_alloc(&n->par));
    ms_nn_init_torch_default(ms_nn_param(&n->par, n->iw1), H1 * P, P, rng);
    ms_nn_init_torch_default(ms_nn_param(&n->par, n->ib1), H1, P, rng);
    ms_nn_init_torch_default(ms_nn_param(&n->par, n->iw2), H2 * H1, H1, rng);
    ms_nn_init_torch_default(ms_nn_param(&n->par, n->ib2), H2, H1, rng);
    ms_nn_init_torch_default(ms_nn_param(&n->par, n->iw3), NL * H2, H2, rng);
    ms_nn_init_torch_default(ms_nn_param(&n->par, n->ib3), NL, H2, rng);
    n->x = ms_malloc_array("nn.x", B * P, sizeof(float));
    n->y = ms_malloc_array("nn.y", B * NL, sizeof(float));
    n->h1 = ms_malloc_array("nn.h1", B * H1, sizeof(float));
    n->h2 = ms_malloc_array("nn.h2", B * H2, sizeof(float));
    n->out = ms_malloc_array("nn.out", B * NL, sizeof(float));
    n->d1 = ms_malloc_array("nn.d1", B * H1, sizeof(float));
    n->d2 = ms_malloc_array("nn.d2", B * H2, sizeof(float));
    n->dout = ms_malloc_array("nn.dout", B * NL, sizeof(float));
    if (!n->x || !n->y || !n->h1 || !n->h2 || !n->out || !n->d1 || !n->d2 || !n->dout)
        return MS_ENOMEM;
    return MS_OK;
}

static void net_free(net *n)
{
    ms_nn_params_free(&n->par);
    void *p[] = {n->x, n->y, n->h1, n->h2, n->out, n->d1, n->d2, n->dout};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) ms_free(p[i]);
}

/* Round r: split, standardise, train, test, remove. */
static ms_status one_round(const ms_laspm_library *lib, const ms_laspm_nn_opts *o,
                           const size_t *pix, size_t P, uint8_t *keep, size_t r,
                           ms_laspm_nn_report *rep)
{
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, o->seed + 7919u * (uint64_t)r);
    size_t nk = 0;
    for (size_t i = 0; i < lib->n; i++) nk += keep[i] != 0;
    if (nk < 4) MS_ERROR(MS_EINVAL, "NN check: %zu library entries left (need 4)", nk);
    size_t *idx = ms_malloc_array("nn.idx", nk, sizeof *idx);
    double *mu = ms_malloc_array("nn.mu", P, sizeof *mu), *sd = ms_malloc_array("nn.sd", P, sizeof *sd);
    if (!idx || !mu || !sd) {
        ms_free(idx); ms_free(mu); ms_free(sd);
        return MS_ENOMEM;
    }
    for (size_t i = 0, k = 0; i < lib->n; i++) if (keep[i]) idx[k++] = i;
    ms_nn_rng_shuffle(&rng, idx, nk);
    size_t n_test = (size_t)llround(o->test_fraction * (double)nk);
    if (n_test < 1) n_test = 1;
    const size_t n_train = nk - n_test, *train = idx + n_test;
    /* standardisation over the training set: per pixel, and per label */
    double lm[NL] = {0}, ls[NL] = {0};
    for (size_t q = 0; q < P; q++) {
        double s = 0, s2 = 0;
        for (size_t k = 0; k < n_train; k++) s += lib->flux[train[k] * lib->n_pix + pix[q]];
        mu[q] = s / (double)n_train;
        for (size_t k = 0; k < n_train; k++) {
            double d = lib->flux[train[k] * lib->n_pix + pix[q]] - mu[q];
            s2 += d * d;
        }
        sd[q] = fmax(sqrt(s2 / (double)n_train), 1e-3);
    }
    for (int d = 0; d < NL; d++) {
        for (size_t k = 0; k < n_train; k++) lm[d] += lib->labels[train[k] * NL + d];
        lm[d] /= (double)n_train;
        for (size_t k = 0; k < n_train; k++) {
            double v = lib->labels[train[k] * NL + d] - lm[d];
            ls[d] += v * v;
        }
        ls[d] = fmax(sqrt(ls[d] / (double)n_train), 1e-6);
    }
    const size_t B = o->batch < n_train ? o->batch : n_train;
    net n;
    ms_nn_optim opt;
    memset(&opt, 0, sizeof opt);
    ms_status st = net_init(&n, P, B, &rng);
    if (st == MS_OK) st = ms_nn_optim_init(&opt, MS_NN_ADAM, n.par.n, o->lr);
    size_t *order = ms_malloc_array("nn.order", n_train + 1, sizeof *order);
    if (st == MS_OK && !order) st = MS_ENOMEM;
    double loss_sum = 0;
    size_t loss_n = 0, pos = n_train;
    for (size_t s = 0; st == MS_OK && s < o->steps; s++) {
        for (size_t b = 0; b < B; b++) {
            if (pos == n_train) { /* a new epoch */
                memcpy(order, train, n_train * sizeof *order);
                ms_nn_rng_shuffle(&rng, order, n_train);
                pos = 0;
            }
            const size_t i = order[pos++];
            for (size_t q = 0; q < P; q++)
                n.x[b * P + q] = (float)((lib->flux[i * lib->n_pix + pix[q]] - mu[q]) / sd[q]);
            for (int d = 0; d < NL; d++)
                n.y[b * NL + d] = (float)((lib->labels[i * NL + d] - lm[d]) / ls[d]);
        }
        double l = step(&n, &opt, B);
        if (s + 50 >= o->steps) { loss_sum += l; loss_n++; }
    }
    /* the test set, one entry at a time through the batch buffers */
    double s2[NL] = {0};
    size_t removed = 0;
    for (size_t k = 0; st == MS_OK && k < n_test; k++) {
        const size_t i = idx[k];
        for (size_t q = 0; q < P; q++)
            n.x[q] = (float)((lib->flux[i * lib->n_pix + pix[q]] - mu[q]) / sd[q]);
        forward(&n, 1);
        int bad = 0;
        for (int d = 0; d < NL; d++) {
            double res = n.out[d] * ls[d] + lm[d] - lib->labels[i * NL + d];
            s2[d] += res * res;
            bad |= !(fabs(res) < o->cut[d]);
        }
        if (bad) {
            keep[i] = 0;
            removed++;
        }
    }
    if (st == MS_OK) {
        rep->n_train[r] = n_train;
        rep->n_test[r] = n_test;
        rep->removed[r] = removed;
        for (int d = 0; d < NL; d++) rep->test_rms[r][d] = sqrt(s2[d] / (double)n_test);
        rep->final_loss[r] = loss_n ? loss_sum / (double)loss_n : NAN;
    }
    ms_nn_optim_free(&opt);
    net_free(&n);
    ms_free(order);
    ms_free(idx);
    ms_free(mu);
    ms_free(sd);
    return st;
}

ms_status ms_laspm_nn_check(const ms_laspm_library *lib, const ms_laspm_nn_opts *o,
                            uint8_t *keep, ms_laspm_nn_report *rep)
{
    memset(rep, 0, sizeof *rep);
    if (o->rounds > MS_LASPM_NN_MAX_ROUNDS)
        MS_ERROR(MS_EINVAL, "NN check: %zu rounds (at most %d)", o->rounds, MS_LASPM_NN_MAX_ROUNDS);
    if (!(o->test_fraction > 0 && o->test_fraction < 1) || o->batch < 1)
        MS_ERROR(MS_EINVAL, "NN check: test_fraction must be in (0, 1) and batch >= 1");
    size_t P = 0;
    for (size_t p = 0; p < lib->n_pix; p++)
        P += lib->wavelength[p] >= o->wave_min && lib->wavelength[p] <= o->wave_max;
    size_t *pix = ms_malloc_array("nn.pix", P + 1, sizeof *pix);
    if (!pix) return MS_ENOMEM;
    for (size_t p = 0, q = 0; p < lib->n_pix; p++)
        if (lib->wavelength[p] >= o->wave_min && lib->wavelength[p] <= o->wave_max) pix[q++] = p;
    ms_status st = MS_OK;
    for (size_t r = 0; st == MS_OK && r < o->rounds; r++) {
        st = one_round(lib, o, pix, P, keep, r, rep);
        rep->rounds = r + 1;
    }
    ms_free(pix);
    return st;
}
