/* fit_model.c: The Payne emulator (payne.h; Z25 2.2) behind the fitter's model interface
 * (fit.h): scaled labels in, flux and d flux / d x (forward mode) or a vector-Jacobian
 * product (reverse mode) out. */
#include "mstars/fit.h"

#include "mstars/mem.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    const ms_payne *net;
    ms_payne_ws *ws;
    size_t D, max_batch;
    float *xf;   /* [max_batch, D] */
    float *gxf;  /* [max_batch, D] */
} emu_ctx;

static ms_status emu_eval(void *vctx, size_t B, const size_t *ids, const double *x, float *flux,
                          float *jac)
{
    /* x [B, D]; flux [B, n_pix]; jac [B, D, n_pix] or NULL */
    (void)ids; /* the emulator is the same for every spectrum */
    emu_ctx *c = vctx;
    if (B == 0) return MS_OK;
    if (B > c->max_batch)
        MS_ERROR(MS_EINVAL, "fit model (emulator): batch %zu exceeds its %zu", B, c->max_batch);
    for (size_t i = 0; i < B * c->D; i++) c->xf[i] = (float)x[i];
    if (jac) return ms_payne_jacobian(c->net, c->ws, c->xf, B, flux, jac);
    return ms_payne_forward(c->net, c->ws, c->xf, B, flux);
}

static ms_status emu_vjp(void *vctx, size_t B, const float *v, double *gx)
{
    /* v [B, n_pix]; gx [B, D] = v . d flux / d x */
    emu_ctx *c = vctx;
    if (B == 0) return MS_OK;
    memset(c->gxf, 0, B * c->D * sizeof(float));
    MS_TRY(ms_payne_vjp(c->net, c->ws, v, B, c->gxf));
    for (size_t i = 0; i < B * c->D; i++) gx[i] = (double)c->gxf[i];
    return MS_OK;
}

static void emu_free(void *vctx)
{
    emu_ctx *c = vctx;
    if (!c) return;
    ms_payne_ws_free(c->ws);
    ms_free(c->xf);
    ms_free(c->gxf);
    ms_free(c);
}

ms_status ms_fit_model_emulator(const ms_emulator *e, size_t max_batch, ms_fit_model *m)
{
    memset(m, 0, sizeof *m);
    const size_t D = e->net.n_labels, n = e->net.n_pix;
    if (D == 0 || D > MS_FIT_MAX_LABELS || n < 8)
        MS_ERROR(MS_EINVAL, "fit model: emulator with %zu labels and %zu pixels", D, n);
    if (max_batch == 0) MS_ERROR(MS_EINVAL, "fit model: max_batch 0");
    if (!e->wavelength) MS_ERROR(MS_EINVAL, "fit model: the emulator has no wavelength grid");
    const double start = e->wavelength[0], step = (e->wavelength[n - 1] - start) / (double)(n - 1);
    if (!(step > 0.0) || !isfinite(start))
        MS_ERROR(MS_EINVAL, "fit model: emulator wavelengths %g..%g are not increasing", start,
                 e->wavelength[n - 1]);
    for (size_t i = 0; i < n; i++)
        if (!(fabs(e->wavelength[i] - (start + (double)i * step)) <= 1e-3 * step))
            MS_ERROR(MS_EINVAL,
                     "fit model: emulator wavelength grid is not uniform (pixel %zu: %.6f A, "
                     "expected %.6f A); the velocity shift needs a uniform grid",
                     i, e->wavelength[i], start + (double)i * step);
    for (size_t j = 0; j < D; j++)
        if (!(e->x_max[j] > e->x_min[j]) || !isfinite(e->x_min[j]) || !isfinite(e->x_max[j]))
            MS_ERROR(MS_EINVAL, "fit model: training range of label %zu (%s) is [%g, %g]", j,
                     e->labels[j], e->x_min[j], e->x_max[j]);

    emu_ctx *c = ms_calloc("fit.emu", 1, sizeof *c);
    if (!c) return MS_ENOMEM;
    c->net = &e->net;
    c->D = D;
    c->max_batch = max_batch;
    c->xf = ms_malloc_array("fit.emu.x", max_batch * D, sizeof(float));
    c->gxf = ms_malloc_array("fit.emu.gx", max_batch * D, sizeof(float));
    /* exact: a spectrum's model, Jacobian and gradient do not depend on the spectra that
     * share its batch (results independent of chunk size, batch size and rank count) */
    const int flags = MS_PAYNE_WS_JACOBIAN | MS_PAYNE_WS_EXACT;
    ms_status st = (c->xf && c->gxf) ? ms_payne_ws_alloc(&e->net, max_batch, flags, &c->ws) : MS_ENOMEM;
    if (st != MS_OK) {
        emu_free(c);
        return st;
    }
    m->n_labels = D;
    m->n_pix = n;
    m->max_batch = max_batch;
    m->wave_start = start;
    m->wave_step = step;
    for (size_t j = 0; j < D; j++) {
        m->phys_min[j] = e->x_min[j];
        m->phys_max[j] = e->x_max[j];
        snprintf(m->names[j], MS_FIT_NAME_LEN, "%s", e->labels[j]);
    }
    m->per_spectrum = 0;
    m->ctx = c;
    m->eval = emu_eval;
    m->vjp = emu_vjp;
    m->free = emu_free;
    return MS_OK;
}

void ms_fit_model_free(ms_fit_model *m)
{
    if (!m) return;
    if (m->free) m->free(m->ctx);
    memset(m, 0, sizeof *m);
}
