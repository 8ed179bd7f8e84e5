/* optim.c: Adam and RAdam over flat buffers, PyTorch 1.13's formulas (see nn.h). */
#include "mstars/nn.h"

#include "mstars/mem.h"
#include "simd.h"

#include <math.h>
#include <string.h>
#include <strings.h>

ms_status ms_nn_optim_init(ms_nn_optim *o, ms_nn_optim_kind kind, size_t n, double lr)
{
    memset(o, 0, sizeof *o);
    if (kind != MS_NN_ADAM && kind != MS_NN_RADAM)
        MS_ERROR(MS_EINVAL, "nn optimizer: unknown kind %d", (int)kind);
    if (n == 0 || !(lr > 0.0)) MS_ERROR(MS_EINVAL, "nn optimizer: need n > 0 and lr > 0");
    o->kind = kind;
    o->lr = lr;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = 1e-8;
    o->n = n;
    o->moments = ms_calloc("nn.optim.moments", 2 * n, sizeof(float));
    if (!o->moments) return MS_ENOMEM;
    return MS_OK;
}

ms_status ms_nn_optim_parse(const char *name, ms_nn_optim_kind *kind)
{
    if (strcasecmp(name, "adam") == 0)
        *kind = MS_NN_ADAM;
    else if (strcasecmp(name, "radam") == 0)
        *kind = MS_NN_RADAM;
    else
        MS_ERROR(MS_EINVAL, "unknown optimizer '%s' (expected adam or radam)", name);
    return MS_OK;
}

const char *ms_nn_optim_name(ms_nn_optim_kind kind)
{
    return kind == MS_NN_ADAM ? "adam" : kind == MS_NN_RADAM ? "radam" : "unknown";
}

/* The element-wise update over restrict-qualified buffers; vector lanes, then a scalar
 * tail with the same operations (no fused multiply-add: lanes and tail round alike).
 * mode 0: Adam; 1: RAdam rectified; 2: RAdam un-rectified (plain momentum). */
typedef struct {
    float b1, b2, c1, c2, wd, step_size, sbc2, eps, ibc1, lr, rect;
} upd_coef;

static void update(float *restrict param, const float *restrict grad, float *restrict m,
                   float *restrict v, size_t n, int mode, const upd_coef *k)
{
    size_t i = 0;
#if MS_VL > 0
    const ms_vf b1 = ms_v_set1(k->b1), b2 = ms_v_set1(k->b2), c1 = ms_v_set1(k->c1),
                c2 = ms_v_set1(k->c2), wd = ms_v_set1(k->wd), ss = ms_v_set1(k->step_size),
                sbc2 = ms_v_set1(k->sbc2), eps = ms_v_set1(k->eps), ibc1 = ms_v_set1(k->ibc1),
                lr = ms_v_set1(k->lr), rect = ms_v_set1(k->rect);
    for (; i + MS_VL <= n; i += MS_VL) {
        ms_vf p = ms_v_load(param + i);
        ms_vf g = ms_v_add(ms_v_load(grad + i), ms_v_mul(wd, p));
        ms_vf mi = ms_v_add(ms_v_mul(ms_v_load(m + i), b1), ms_v_mul(c1, g));
        ms_vf vi = ms_v_add(ms_v_mul(ms_v_load(v + i), b2), ms_v_mul(c2, ms_v_mul(g, g)));
        ms_v_store(m + i, mi);
        ms_v_store(v + i, vi);
        ms_vf d;
        if (mode == 0)
            d = ms_v_mul(ss, ms_v_div(mi, ms_v_add(ms_v_div(ms_v_sqrt(vi), sbc2), eps)));
        else if (mode == 1)
            d = ms_v_mul(ms_v_mul(ms_v_mul(ms_v_div(mi, ibc1), lr),
                                  ms_v_div(sbc2, ms_v_add(ms_v_sqrt(vi), eps))),
                         rect);
        else
            d = ms_v_mul(ms_v_div(mi, ibc1), lr);
        ms_v_store(param + i, ms_v_sub(p, d));
    }
#endif
    for (; i < n; i++) {
        float g = grad[i] + k->wd * param[i];
        float mi = m[i] * k->b1 + k->c1 * g;
        float vi = v[i] * k->b2 + k->c2 * (g * g);
        m[i] = mi;
        v[i] = vi;
        if (mode == 0) /* torch: p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps) */
            param[i] -= k->step_size * (mi / (sqrtf(vi) / k->sbc2 + k->eps));
        else if (mode == 1) /* torch: p -= m / bc1 * lr * sqrt(bc2) / (sqrt(v) + eps) * rect */
            param[i] -= (mi / k->ibc1) * k->lr * (k->sbc2 / (sqrtf(vi) + k->eps)) * k->rect;
        else
            param[i] -= (mi / k->ibc1) * k->lr;
    }
}

void ms_nn_optim_step(ms_nn_optim *o, float *param, const float *grad)
{
    /* param [n] updated in place; grad [n]; m, v [n] */
    o->step++;
    const double t = (double)o->step;
    const double bc1 = 1.0 - pow(o->beta1, t), bc2 = 1.0 - pow(o->beta2, t);
    int mode = 0;
    float rect = 1.0f;
    if (o->kind == MS_NN_RADAM) {
        /* rectified when the approximated SMA length exceeds 5 */
        const double rho_inf = 2.0 / (1.0 - o->beta2) - 1.0;
        const double rho_t = rho_inf - 2.0 * t * pow(o->beta2, t) / bc2;
        mode = rho_t > 5.0 ? 1 : 2;
        if (mode == 1)
            rect = (float)sqrt((rho_t - 4.0) * (rho_t - 2.0) * rho_inf /
                               ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t));
    }
    /* weight decay 0 adds exactly 0 * p: the same as skipping it for finite p */
    const upd_coef k = {(float)o->beta1,        (float)o->beta2,      (float)(1.0 - o->beta1),
                        (float)(1.0 - o->beta2), (float)o->weight_decay, (float)(o->lr / bc1),
                        (float)sqrt(bc2),        (float)o->eps,        (float)bc1,
                        (float)o->lr,            rect};
    update(param, grad, o->moments, o->moments + o->n, o->n, mode, &k);
}

void ms_nn_optim_free(ms_nn_optim *o)
{
    ms_free(o->moments);
    memset(o, 0, sizeof *o);
}
