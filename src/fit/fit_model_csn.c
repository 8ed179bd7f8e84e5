/* fit_model_csn.c: the observed-domain model of Z25 (method.md 5.3) behind the fitter's
 * model interface (fit.h): M(x) = CSN_synth->obs(Payne(x); z_sp), with the split code
 * z_sp = E_sp(E_obs(F_obs)) of each spectrum computed once per ms_fit_batch (begin) and
 * held fixed during the fit.
 *
 * Gradients: exact, in reverse mode (vjp = the CSN s2o vector-Jacobian product, then
 * ms_payne_vjp), so with fit.gradient = auto the fitter's L-BFGS-B uses it for every
 * chi^2 gradient.
 *
 * Jacobian (eval with jac != NULL; the fitter asks for it twice per spectrum: at the start
 * for the Jacobi scaling of the variables, at the optimum for the Gauss-Newton covariance,
 * i.e. the reported errors): exact, in forward mode, J = J_s2o . J_Payne. The emulator's
 * Jacobian dP/dx [B, D, n_pix] (ms_payne_jacobian, with P itself) gives D tangent spectra
 * per row, and ms_csn_transfer_s2o_jvp carries them through the CSN at the activations of
 * the one s2o forward that makes the flux: one Payne Jacobian, one CSN forward and D
 * tangent sweeps, no step size.
 *
 * Bad pixels in begin(): the observed spectrum goes into E_obs as it is, like in CSN
 * training (csn_to_internal: a non-finite flux is replaced by the mean flux, i.e. 0 in
 * standardised units; a finite flux with zero ivar is kept, training only zeroes its
 * weight in the losses); ms_csn_encode_obs does that same replacement. */
#include "mstars/csn.h"
#include "mstars/fit.h"

#include "mstars/mem.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    ms_fit_model emu;      /* the emulator model (Payne forward / vjp on scaled labels) */
    const ms_csn *net;
    ms_csn_ws *ws;
    size_t D, n_pix, max_batch, zf; /* zf: floats of one z_sp */
    float *zsp;            /* [cap, zf] z_sp of the spectra of the current ms_fit_batch */
    size_t n, cap;
    float *zrows;          /* [max_batch, zf] gathered per call */
    float *pflux;          /* [max_batch, n_pix] Payne spectra */
    float *gp;             /* [max_batch, n_pix] v . d out / d payne */
    size_t last_B;         /* rows of the last eval without Jacobian (for vjp) */
    int have_fwd;
} csn_ctx;

/* flux [B, n_pix] = CSN_s2o(Payne(x), z_sp of ids) */
static ms_status csn_forward(csn_ctx *c, size_t B, const double *x, float *flux)
{
    /* z_sp of the rows already gathered in c->zrows */
    MS_TRY(c->emu.eval(c->emu.ctx, B, NULL, x, c->pflux, NULL));
    return ms_csn_transfer_s2o(c->net, c->ws, c->pflux, c->zrows, B, flux);
}

static ms_status csn_eval(void *vctx, size_t B, const size_t *ids, const double *x, float *flux,
                          float *jac)
{
    csn_ctx *c = vctx;
    c->have_fwd = 0;
    if (B == 0) return MS_OK;
    if (B > c->max_batch)
        MS_ERROR(MS_EINVAL, "fit model (CSN): batch %zu exceeds its %zu", B, c->max_batch);
    if (!ids)
        MS_ERROR(MS_EINVAL, "fit model (CSN): per-spectrum model called without spectrum ids");
    for (size_t b = 0; b < B; b++) {
        if (ids[b] >= c->n)
            MS_ERROR(MS_EINVAL, "fit model (CSN): spectrum %zu but begin() saw %zu", ids[b], c->n);
        memcpy(c->zrows + b * c->zf, c->zsp + ids[b] * c->zf, c->zf * sizeof(float));
    }
    if (jac) {
        /* J = J_s2o . J_Payne (see the top of the file): jac first holds dP/dx, then in
         * place the tangents through the CSN */
        MS_TRY(c->emu.eval(c->emu.ctx, B, NULL, x, c->pflux, jac));
        MS_TRY(ms_csn_transfer_s2o(c->net, c->ws, c->pflux, c->zrows, B, flux));
        return ms_csn_transfer_s2o_jvp(c->net, c->ws, jac, B, c->D, jac);
    }
    MS_TRY(csn_forward(c, B, x, flux));
    c->have_fwd = 1;
    c->last_B = B;
    return MS_OK;
}

static ms_status csn_vjp(void *vctx, size_t B, const float *v, double *gx)
{
    /* gx [B, D] = v . d CSN(Payne(x)) / d x = (v . dCSN/dP) . dP/dx */
    csn_ctx *c = vctx;
    if (B == 0) return MS_OK;
    if (!c->have_fwd || B != c->last_B)
        MS_ERROR(MS_EINVAL, "fit model (CSN): vjp of %zu rows without a matching eval", B);
    memset(c->gp, 0, B * c->n_pix * sizeof(float));
    MS_TRY(ms_csn_transfer_s2o_vjp(c->net, c->ws, v, B, c->gp));
    return c->emu.vjp(c->emu.ctx, B, c->gp, gx);
}

static ms_status csn_begin(void *vctx, size_t n, const float *flux, const float *ivar,
                           size_t n_pix)
{
    (void)ivar; /* bad pixels: as in CSN training, see the top of the file */
    csn_ctx *c = vctx;
    c->have_fwd = 0;
    c->n = 0;
    if (n_pix != c->n_pix)
        MS_ERROR(MS_EINVAL, "fit model (CSN): spectra of %zu pixels, the model has %zu", n_pix,
                 c->n_pix);
    if (n > c->cap) {
        float *z = ms_malloc_array("fit.csn.zsp", n * c->zf, sizeof(float));
        if (!z) return MS_ENOMEM;
        ms_free(c->zsp);
        c->zsp = z;
        c->cap = n;
    }
    for (size_t i0 = 0; i0 < n; i0 += c->max_batch) {
        const size_t B = n - i0 < c->max_batch ? n - i0 : c->max_batch;
        MS_TRY(ms_csn_encode_obs(c->net, c->ws, flux + i0 * n_pix, B, c->zsp + i0 * c->zf, NULL));
    }
    c->n = n;
    return MS_OK;
}

static void csn_free(void *vctx)
{
    csn_ctx *c = vctx;
    if (!c) return;
    ms_fit_model_free(&c->emu);
    ms_csn_ws_free(c->ws);
    ms_free(c->zsp);
    ms_free(c->zrows);
    ms_free(c->pflux);
    ms_free(c->gp);
    ms_free(c);
}

ms_status ms_fit_model_csn(const ms_emulator *e, const ms_csn *net, size_t max_batch,
                           ms_fit_model *m)
{
    memset(m, 0, sizeof *m);
    if (!e || !net) MS_ERROR(MS_EINVAL, "fit model (CSN): no emulator or network");
    if (net->n_pix != e->net.n_pix)
        MS_ERROR(MS_EINVAL, "fit model (CSN): the CSN takes %zu pixels, the emulator makes %zu",
                 net->n_pix, e->net.n_pix);
    csn_ctx *c = ms_calloc("fit.csn", 1, sizeof *c);
    if (!c) return MS_ENOMEM;
    ms_status st = ms_fit_model_emulator(e, max_batch, &c->emu);
    if (st != MS_OK) {
        ms_free(c);
        return st;
    }
    c->net = net;
    c->D = c->emu.n_labels;
    c->n_pix = c->emu.n_pix;
    c->max_batch = max_batch;
    c->zf = ms_csn_z_sp_floats(net);
    const size_t n = c->n_pix;
    c->zrows = ms_malloc_array("fit.csn.zrows", max_batch * (c->zf ? c->zf : 1), sizeof(float));
    c->pflux = ms_malloc_array("fit.csn.pflux", max_batch * n, sizeof(float));
    c->gp = ms_malloc_array("fit.csn.gp", max_batch * n, sizeof(float));
    st = (c->zrows && c->pflux && c->gp) ? ms_csn_ws_alloc(net, max_batch, &c->ws) : MS_ENOMEM;
    if (st != MS_OK) {
        csn_free(c);
        return st;
    }
    *m = c->emu; /* sizes, grid, label names and ranges */
    m->per_spectrum = 1;
    m->ctx = c;
    m->begin = csn_begin;
    m->eval = csn_eval;
    m->vjp = csn_vjp;
    m->free = csn_free;
    return MS_OK;
}
