/* csn_step.c: one Cycle-StarNet training iteration on a local batch (csn.h): the forward
 * pass through every path, the Z25 Eq. 4-7 losses, the generator backward pass and the
 * discriminator step (O'Briain et al. 2021, training_fns.train_iter, without real inputs
 * as "true": the discriminators tell reconstructions from transfers).
 *
 * Notation (per sample): x_s, x_o inputs; h = E_dom(x); z_s = E_sh(h_s); (zsh_o, zsp_o) =
 * (E_sh, E_sp)(h_o); d = D_sh(z); p_o = D_sp(zsp_o);
 *   x_ss = G_synth(d_s)          x_oo = G_obs(d_o, p_o)     (reconstructions)
 *   x_os = G_synth(d_o)          x_so = G_obs(d_s, p_o)     (transfers)
 *   zsh_os = E_sh(E_synth(x_os)); (zsh_so, zsp_so) = (E_sh, E_sp)(E_obs(x_so))
 *   x_sos = G_synth(D_sh(zsh_so)) x_oso = G_obs(D_sh(zsh_os), p_o)  (cycles; original z_sp)
 *   fakes: C_synth(x_os, zsh_o), C_obs(x_so, (z_s, zsp_so));
 *   reals: C_synth(x_ss, z_s),   C_obs(x_oo, (zsh_o, zsp_o)). */
#include "csn_internal.h"

#include "mstars/mem.h"

#include <string.h>

struct ms_csn_step {
    size_t cap, B, B_global;
    float *block;
    csn_scratch s;
    float *x_s, *w_s, *x_o, *w_o; /* [cap, N] */
    csn_tape es_s, sh_s, eo_o, sh_o, sp_o, dsh_s, dsh_o, dsp_o, gs_ss, go_oo, go_so, gs_os;
    csn_tape es_os, sh_os, eo_so, sh_so, sp_so, dsh_os, go_oso, dsh_so, gs_sos;
    float *cat_oo, *cat_so, *cat_oso; /* [cap, c_d + c_p, l_h] */
    csn_critic_tape cs_fake, co_fake, cs_real, co_real;
    float *ones, *zeros; /* [cap] */
    /* gradients (one contiguous region [grad_floats] from grad0) */
    float *grad0;
    size_t grad_floats;
    float *dx_ss, *dx_oo, *dx_sos, *dx_oso, *dx_os, *dx_so; /* [cap, N] */
    float *dd_so, *dd_os, *dd_o, *dd_s;                     /* [cap, c_d, l_h] */
    float *dp_o;                                            /* [cap, c_p, l_h] */
    float *dcat;                                            /* [cap, c_d + c_p, l_h] */
    float *dzsh_so, *dzsh_os, *dzsh_o, *dz_s;               /* [cap, z_sh, L] */
    float *dzsp_so, *dzsp_o;                                /* [cap, z_sp, L] */
    float *dh;                                              /* [cap, c_h, l_h] */
    float *dprob;                                           /* [cap] */
    int have_forward, have_real;
};

static void step_layout(ms_csn_step *s, const ms_csn *net, csn_arena *a)
{
    const size_t cap = s->cap, N = net->n_len;
    const ms_csn_stack *b = net->block;
    const size_t ncat = csn_in_floats(&b[MS_CSN_G_OBS]), nd = csn_out_floats(&b[MS_CSN_D_SH]);
    const size_t np = csn_out_floats(&b[MS_CSN_D_SP]), nzh = ms_csn_z_sh_floats(net);
    const size_t nzp = ms_csn_z_sp_floats(net), nh = csn_out_floats(&b[MS_CSN_E_SYNTH]);
    csn_scratch_layout(&s->s, net, cap, a);
    s->x_s = csn_arena_take(a, cap * N);
    s->w_s = csn_arena_take(a, cap * N);
    s->x_o = csn_arena_take(a, cap * N);
    s->w_o = csn_arena_take(a, cap * N);
    struct {
        csn_tape *t;
        int blk;
    } tapes[] = {{&s->es_s, MS_CSN_E_SYNTH}, {&s->sh_s, MS_CSN_E_SH},    {&s->eo_o, MS_CSN_E_OBS},
                 {&s->sh_o, MS_CSN_E_SH},    {&s->sp_o, MS_CSN_E_SP},    {&s->dsh_s, MS_CSN_D_SH},
                 {&s->dsh_o, MS_CSN_D_SH},   {&s->dsp_o, MS_CSN_D_SP},   {&s->gs_ss, MS_CSN_G_SYNTH},
                 {&s->go_oo, MS_CSN_G_OBS},  {&s->go_so, MS_CSN_G_OBS},  {&s->gs_os, MS_CSN_G_SYNTH},
                 {&s->es_os, MS_CSN_E_SYNTH}, {&s->sh_os, MS_CSN_E_SH},  {&s->eo_so, MS_CSN_E_OBS},
                 {&s->sh_so, MS_CSN_E_SH},   {&s->sp_so, MS_CSN_E_SP},   {&s->dsh_os, MS_CSN_D_SH},
                 {&s->go_oso, MS_CSN_G_OBS}, {&s->dsh_so, MS_CSN_D_SH},  {&s->gs_sos, MS_CSN_G_SYNTH}};
    for (size_t i = 0; i < sizeof tapes / sizeof tapes[0]; i++)
        csn_tape_layout(tapes[i].t, &b[tapes[i].blk], cap, a);
    s->cat_oo = csn_arena_take(a, cap * ncat);
    s->cat_so = csn_arena_take(a, cap * ncat);
    s->cat_oso = csn_arena_take(a, cap * ncat);
    csn_critic_tape_layout(&s->cs_fake, &net->c_synth, cap, a);
    csn_critic_tape_layout(&s->co_fake, &net->c_obs, cap, a);
    csn_critic_tape_layout(&s->cs_real, &net->c_synth, cap, a);
    csn_critic_tape_layout(&s->co_real, &net->c_obs, cap, a);
    s->ones = csn_arena_take(a, cap);
    s->zeros = csn_arena_take(a, cap);
    size_t g0 = a->n;
    s->grad0 = a->base ? a->base + g0 : NULL;
    s->dx_ss = csn_arena_take(a, cap * N);
    s->dx_oo = csn_arena_take(a, cap * N);
    s->dx_sos = csn_arena_take(a, cap * N);
    s->dx_oso = csn_arena_take(a, cap * N);
    s->dx_os = csn_arena_take(a, cap * N);
    s->dx_so = csn_arena_take(a, cap * N);
    s->dd_so = csn_arena_take(a, cap * nd);
    s->dd_os = csn_arena_take(a, cap * nd);
    s->dd_o = csn_arena_take(a, cap * nd);
    s->dd_s = csn_arena_take(a, cap * nd);
    s->dp_o = csn_arena_take(a, cap * np);
    s->dcat = csn_arena_take(a, cap * ncat);
    s->dzsh_so = csn_arena_take(a, cap * nzh);
    s->dzsh_os = csn_arena_take(a, cap * nzh);
    s->dzsh_o = csn_arena_take(a, cap * nzh);
    s->dz_s = csn_arena_take(a, cap * nzh);
    s->dzsp_so = csn_arena_take(a, cap * nzp);
    s->dzsp_o = csn_arena_take(a, cap * nzp);
    s->dh = csn_arena_take(a, cap * nh);
    s->dprob = csn_arena_take(a, cap);
    s->grad_floats = a->n - g0;
}

ms_status ms_csn_step_alloc(const ms_csn *net, size_t max_batch, ms_csn_step **out)
{
    *out = NULL;
    if (max_batch == 0) MS_ERROR(MS_EINVAL, "csn step: max_batch must be > 0");
    if (!net->gen.param) MS_ERROR(MS_EINVAL, "csn step: network not initialised");
    ms_csn_step *s = ms_calloc("csn.step", 1, sizeof *s);
    if (!s) return MS_ENOMEM;
    s->cap = max_batch;
    csn_arena a = {NULL, 0};
    step_layout(s, net, &a);
    s->block = ms_calloc("csn.step.arena", a.n, sizeof(float));
    if (!s->block) {
        ms_free(s);
        return MS_ENOMEM;
    }
    a.base = s->block;
    a.n = 0;
    step_layout(s, net, &a);
    for (size_t i = 0; i < max_batch; i++) {
        s->ones[i] = 1.0f;
        s->zeros[i] = 0.0f;
    }
    *out = s;
    return MS_OK;
}

void ms_csn_step_free(ms_csn_step *s)
{
    if (!s) return;
    ms_free(s->block);
    ms_free(s);
}

static ms_status check_b(const ms_csn_step *s, size_t B, size_t B_global)
{
    if (B > s->cap || B > B_global || B_global == 0)
        MS_ERROR(MS_EINVAL, "csn step: local batch %zu (capacity %zu) of a global batch of %zu",
                 B, s->cap, B_global);
    return MS_OK;
}

ms_status ms_csn_batch_set(const ms_csn *net, ms_csn_step *s, const float *flux_s,
                           const float *err_s, const float *flux_o, const float *err_o,
                           size_t B, size_t B_global)
{
    MS_TRY(check_b(s, B, B_global));
    if (B > 0) {
        csn_to_internal(net, flux_s, err_s, B, s->x_s, s->w_s);
        /* observed inputs: errors required unless given as NULL on purpose (tests) */
        csn_to_internal(net, flux_o, err_o, B, s->x_o, s->w_o);
    }
    s->B = B;
    s->B_global = B_global;
    s->have_forward = s->have_real = 0;
    return MS_OK;
}

ms_status ms_csn_batch_set_internal(const ms_csn *net, ms_csn_step *s, const float *x_s,
                                    const float *w_s, const float *x_o, const float *w_o,
                                    size_t B, size_t B_global)
{
    MS_TRY(check_b(s, B, B_global));
    const size_t n = B * net->n_len * sizeof(float);
    if (B > 0) {
        memcpy(s->x_s, x_s, n);
        memcpy(s->w_s, w_s, n);
        memcpy(s->x_o, x_o, n);
        memcpy(s->w_o, w_o, n);
    }
    s->B = B;
    s->B_global = B_global;
    s->have_forward = s->have_real = 0;
    return MS_OK;
}

ms_csn_gen_weights ms_csn_gen_weights_from_cfg(const ms_cfg_csn *c)
{
    ms_csn_gen_weights g = {{c->lambda_synth, c->lambda_synth, c->lambda_obs, c->lambda_obs,
                             c->lambda_adv, c->lambda_adv}};
    return g;
}

/* Pixels each spectrum's distance loss averages over (PyTorch's mean over the spectrum). */
static size_t n_eff(const ms_csn *net) { return net->crop ? net->n_len : net->n_pix; }

static void cat2(float *out, const float *a, size_t ca, const float *b, size_t cb, size_t B,
                 size_t L)
{
    const float *parts[2] = {a, b};
    const size_t ch[2] = {ca, cb};
    ms_nn_concat_forward(out, parts, ch, 2, B, L);
}

static void split2(float *da, size_t ca, float *db, size_t cb, const float *dcat, size_t B,
                   size_t L)
{
    float *parts[2] = {da, db};
    const size_t ch[2] = {ca, cb};
    ms_nn_concat_backward(parts, dcat, ch, 2, B, L);
}

ms_status ms_csn_gen_forward(const ms_csn *net, ms_csn_step *s, const ms_csn_gen_weights *gw,
                             ms_csn_losses *L)
{
    memset(L, 0, sizeof *L);
    s->have_forward = 1;
    s->have_real = 0;
    const size_t B = s->B;
    if (B == 0) return MS_OK;
    const ms_csn_stack *b = net->block;
    const ms_nn_params *p = &net->gen;
    const float sl = net->slope;
    float *col = s->s.col;
    const size_t cd = b[MS_CSN_D_SH].c_out, cp = b[MS_CSN_D_SP].c_out, lh = b[MS_CSN_D_SH].l_out;
    csn_stack_forward(&b[MS_CSN_E_SYNTH], p, &s->es_s, s->x_s, B, sl, col);
    csn_stack_forward(&b[MS_CSN_E_SH], p, &s->sh_s, s->es_s.out, B, sl, col);
    csn_stack_forward(&b[MS_CSN_E_OBS], p, &s->eo_o, s->x_o, B, sl, col);
    csn_stack_forward(&b[MS_CSN_E_SH], p, &s->sh_o, s->eo_o.out, B, sl, col);
    csn_stack_forward(&b[MS_CSN_E_SP], p, &s->sp_o, s->eo_o.out, B, sl, col);
    csn_stack_forward(&b[MS_CSN_D_SH], p, &s->dsh_s, s->sh_s.out, B, sl, col);
    csn_stack_forward(&b[MS_CSN_D_SH], p, &s->dsh_o, s->sh_o.out, B, sl, col);
    csn_stack_forward(&b[MS_CSN_D_SP], p, &s->dsp_o, s->sp_o.out, B, sl, col);
    csn_stack_forward(&b[MS_CSN_G_SYNTH], p, &s->gs_ss, s->dsh_s.out, B, sl, col);
    cat2(s->cat_oo, s->dsh_o.out, cd, s->dsp_o.out, cp, B, lh);
    csn_stack_forward(&b[MS_CSN_G_OBS], p, &s->go_oo, s->cat_oo, B, sl, col);
    cat2(s->cat_so, s->dsh_s.out, cd, s->dsp_o.out, cp, B, lh);
    csn_stack_forward(&b[MS_CSN_G_OBS], p, &s->go_so, s->cat_so, B, sl, col);
    csn_stack_forward(&b[MS_CSN_G_SYNTH], p, &s->gs_os, s->dsh_o.out, B, sl, col);
    /* cycles */
    csn_stack_forward(&b[MS_CSN_E_SYNTH], p, &s->es_os, s->gs_os.out, B, sl, col);
    csn_stack_forward(&b[MS_CSN_E_SH], p, &s->sh_os, s->es_os.out, B, sl, col);
    csn_stack_forward(&b[MS_CSN_E_OBS], p, &s->eo_so, s->go_so.out, B, sl, col);
    csn_stack_forward(&b[MS_CSN_E_SH], p, &s->sh_so, s->eo_so.out, B, sl, col);
    csn_stack_forward(&b[MS_CSN_E_SP], p, &s->sp_so, s->eo_so.out, B, sl, col);
    csn_stack_forward(&b[MS_CSN_D_SH], p, &s->dsh_os, s->sh_os.out, B, sl, col);
    cat2(s->cat_oso, s->dsh_os.out, cd, s->dsp_o.out, cp, B, lh);
    csn_stack_forward(&b[MS_CSN_G_OBS], p, &s->go_oso, s->cat_oso, B, sl, col);
    csn_stack_forward(&b[MS_CSN_D_SH], p, &s->dsh_so, s->sh_so.out, B, sl, col);
    csn_stack_forward(&b[MS_CSN_G_SYNTH], p, &s->gs_sos, s->dsh_so.out, B, sl, col);
    /* the discriminators on the transfers */
    const size_t Lz = net->z_len;
    csn_critic_forward(&net->c_synth, &net->dis, &s->cs_fake, s->gs_os.out, s->sh_o.out,
                       net->z_sh, NULL, 0, B, Lz, sl, col);
    csn_critic_forward(&net->c_obs, &net->dis, &s->co_fake, s->go_so.out, s->sh_s.out, net->z_sh,
                       s->sp_so.out, net->z_sp, B, Lz, sl, col);
    /* losses: this rank's share of the global means */
    const size_t n = B * net->n_len;
    const double sc = 1.0 / ((double)s->B_global * (double)n_eff(net));
    const double sb = 1.0 / (double)s->B_global;
    L->rec_s = ms_nn_l2_loss_forward(s->gs_ss.out, s->x_s, s->w_s, n, sc);
    L->cyc_s = ms_nn_l2_loss_forward(s->gs_sos.out, s->x_s, s->w_s, n, sc);
    L->rec_o = ms_nn_l2_loss_forward(s->go_oo.out, s->x_o, s->w_o, n, sc);
    L->cyc_o = ms_nn_l2_loss_forward(s->go_oso.out, s->x_o, s->w_o, n, sc);
    L->gen_s = ms_nn_bce_loss_forward(s->cs_fake.prob, s->ones, B, sb);
    L->gen_o = ms_nn_bce_loss_forward(s->co_fake.prob, s->ones, B, sb);
    const double *w = gw->w;
    L->total_g = w[0] * L->rec_s + w[1] * L->cyc_s + w[2] * L->rec_o + w[3] * L->cyc_o +
                 w[4] * L->gen_s + w[5] * L->gen_o;
    return MS_OK;
}

size_t csn_step_batch(const ms_csn_step *s) { return s->B; }

static void zero_slice(float *buf, size_t per, size_t b0, size_t nb)
{
    memset(buf + b0 * per, 0, nb * per * sizeof(float));
}

ms_status csn_gen_backward_slice(ms_csn *net, ms_csn_step *s, const ms_csn_gen_weights *gw,
                                 size_t b0, size_t nb)
{
    if (!s->have_forward) MS_ERROR(MS_EINVAL, "csn gen_backward: no forward pass to differentiate");
    if (b0 + nb > s->B) MS_ERROR(MS_EINVAL, "csn gen_backward: samples beyond the batch");
    if (nb == 0) return MS_OK;
    const ms_csn_stack *b = net->block;
    const ms_nn_params *p = &net->gen;
    const float sl = net->slope;
    csn_scratch *sc = &s->s;
    const size_t N = net->n_len, n = nb * N, Lz = net->z_len;
    const size_t cd = b[MS_CSN_D_SH].c_out, cp = b[MS_CSN_D_SP].c_out, lh = b[MS_CSN_D_SH].l_out;
    const size_t nh = csn_out_floats(&b[MS_CSN_E_SYNTH]), nd = cd * lh, np = cp * lh;
    const size_t ncat = (cd + cp) * lh, nzh = ms_csn_z_sh_floats(net), nzp = ms_csn_z_sp_floats(net);
    const double scl = 1.0 / ((double)s->B_global * (double)n_eff(net));
    const double sb = 1.0 / (double)s->B_global;
    const double *w = gw->w;
    /* views of samples [b0, b0 + nb) */
#define AT(buf, per) ((buf) + b0 * (per))
    float *dx_ss = AT(s->dx_ss, N), *dx_oo = AT(s->dx_oo, N), *dx_sos = AT(s->dx_sos, N);
    float *dx_oso = AT(s->dx_oso, N), *dx_os = AT(s->dx_os, N), *dx_so = AT(s->dx_so, N);
    float *dd_so = AT(s->dd_so, nd), *dd_os = AT(s->dd_os, nd), *dd_o = AT(s->dd_o, nd);
    float *dd_s = AT(s->dd_s, nd), *dp_o = AT(s->dp_o, np), *dcat = AT(s->dcat, ncat);
    float *dzsh_so = AT(s->dzsh_so, nzh), *dzsh_os = AT(s->dzsh_os, nzh);
    float *dzsh_o = AT(s->dzsh_o, nzh), *dz_s = AT(s->dz_s, nzh);
    float *dzsp_so = AT(s->dzsp_so, nzp), *dzsp_o = AT(s->dzsp_o, nzp), *dh = AT(s->dh, nh);
    float *zero[] = {dx_ss, dx_oo, dx_sos, dx_oso, dx_os, dx_so, dd_so, dd_os, dd_o, dd_s, dp_o,
                     dzsh_so, dzsh_os, dzsh_o, dz_s, dzsp_so, dzsp_o};
    const size_t per[] = {N, N, N, N, N, N, nd, nd, nd, nd, np, nzh, nzh, nzh, nzh, nzp, nzp};
    for (size_t k = 0; k < sizeof per / sizeof per[0]; k++) zero_slice(zero[k], per[k], 0, nb);
    /* distance losses */
    ms_nn_l2_loss_backward(dx_ss, AT(s->gs_ss.out, N), AT(s->x_s, N), AT(s->w_s, N), n, scl * w[0]);
    ms_nn_l2_loss_backward(dx_sos, AT(s->gs_sos.out, N), AT(s->x_s, N), AT(s->w_s, N), n, scl * w[1]);
    ms_nn_l2_loss_backward(dx_oo, AT(s->go_oo.out, N), AT(s->x_o, N), AT(s->w_o, N), n, scl * w[2]);
    ms_nn_l2_loss_backward(dx_oso, AT(s->go_oso.out, N), AT(s->x_o, N), AT(s->w_o, N), n, scl * w[3]);
    /* adversarial terms through the (frozen) discriminators */
    if (w[4] != 0.0) {
        memset(s->dprob, 0, nb * sizeof(float));
        ms_nn_bce_loss_backward(s->dprob, s->cs_fake.prob + b0, s->ones, nb, sb * w[4]);
        csn_critic_backward(&net->c_synth, &net->dis, 0, &s->cs_fake, s->dprob, dx_os, dzsh_o,
                            net->z_sh, NULL, 0, b0, nb, Lz, sl, sc);
    }
    if (w[5] != 0.0) {
        memset(s->dprob, 0, nb * sizeof(float));
        ms_nn_bce_loss_backward(s->dprob, s->co_fake.prob + b0, s->ones, nb, sb * w[5]);
        csn_critic_backward(&net->c_obs, &net->dis, 0, &s->co_fake, s->dprob, dx_so, dz_s,
                            net->z_sh, dzsp_so, net->z_sp, b0, nb, Lz, sl, sc);
    }
    /* synthetic cycle: x_sos = G_synth(D_sh(zsh_so)) */
    csn_stack_backward(&b[MS_CSN_G_SYNTH], p, 1, &s->gs_sos, dx_sos, dd_so, b0, nb, sl, sc);
    csn_stack_backward(&b[MS_CSN_D_SH], p, 1, &s->dsh_so, dd_so, dzsh_so, b0, nb, sl, sc);
    /* observed cycle: x_oso = G_obs(D_sh(zsh_os), p_o) */
    zero_slice(dcat, ncat, 0, nb);
    csn_stack_backward(&b[MS_CSN_G_OBS], p, 1, &s->go_oso, dx_oso, dcat, b0, nb, sl, sc);
    split2(dd_os, cd, dp_o, cp, dcat, nb, lh);
    csn_stack_backward(&b[MS_CSN_D_SH], p, 1, &s->dsh_os, dd_os, dzsh_os, b0, nb, sl, sc);
    /* cycle encoders, into the transfers */
    zero_slice(dh, nh, 0, nb);
    csn_stack_backward(&b[MS_CSN_E_SP], p, 1, &s->sp_so, dzsp_so, dh, b0, nb, sl, sc);
    csn_stack_backward(&b[MS_CSN_E_SH], p, 1, &s->sh_so, dzsh_so, dh, b0, nb, sl, sc);
    csn_stack_backward(&b[MS_CSN_E_OBS], p, 1, &s->eo_so, dh, dx_so, b0, nb, sl, sc);
    zero_slice(dh, nh, 0, nb);
    csn_stack_backward(&b[MS_CSN_E_SH], p, 1, &s->sh_os, dzsh_os, dh, b0, nb, sl, sc);
    csn_stack_backward(&b[MS_CSN_E_SYNTH], p, 1, &s->es_os, dh, dx_os, b0, nb, sl, sc);
    /* transfers and reconstructions */
    csn_stack_backward(&b[MS_CSN_G_SYNTH], p, 1, &s->gs_os, dx_os, dd_o, b0, nb, sl, sc);
    zero_slice(dcat, ncat, 0, nb);
    csn_stack_backward(&b[MS_CSN_G_OBS], p, 1, &s->go_so, dx_so, dcat, b0, nb, sl, sc);
    split2(dd_s, cd, dp_o, cp, dcat, nb, lh);
    zero_slice(dcat, ncat, 0, nb);
    csn_stack_backward(&b[MS_CSN_G_OBS], p, 1, &s->go_oo, dx_oo, dcat, b0, nb, sl, sc);
    split2(dd_o, cd, dp_o, cp, dcat, nb, lh);
    csn_stack_backward(&b[MS_CSN_G_SYNTH], p, 1, &s->gs_ss, dx_ss, dd_s, b0, nb, sl, sc);
    /* decoders */
    csn_stack_backward(&b[MS_CSN_D_SP], p, 1, &s->dsp_o, dp_o, dzsp_o, b0, nb, sl, sc);
    csn_stack_backward(&b[MS_CSN_D_SH], p, 1, &s->dsh_o, dd_o, dzsh_o, b0, nb, sl, sc);
    csn_stack_backward(&b[MS_CSN_D_SH], p, 1, &s->dsh_s, dd_s, dz_s, b0, nb, sl, sc);
    /* encoders (the inputs need no gradient) */
    zero_slice(dh, nh, 0, nb);
    csn_stack_backward(&b[MS_CSN_E_SP], p, 1, &s->sp_o, dzsp_o, dh, b0, nb, sl, sc);
    csn_stack_backward(&b[MS_CSN_E_SH], p, 1, &s->sh_o, dzsh_o, dh, b0, nb, sl, sc);
    csn_stack_backward(&b[MS_CSN_E_OBS], p, 1, &s->eo_o, dh, NULL, b0, nb, sl, sc);
    zero_slice(dh, nh, 0, nb);
    csn_stack_backward(&b[MS_CSN_E_SH], p, 1, &s->sh_s, dz_s, dh, b0, nb, sl, sc);
    csn_stack_backward(&b[MS_CSN_E_SYNTH], p, 1, &s->es_s, dh, NULL, b0, nb, sl, sc);
#undef AT
    return MS_OK;
}

ms_status ms_csn_gen_backward(ms_csn *net, ms_csn_step *s, const ms_csn_gen_weights *gw)
{
    return csn_gen_backward_slice(net, s, gw, 0, s->B);
}

ms_status csn_dis_forward(ms_csn *net, ms_csn_step *s, double lambda_d, ms_csn_losses *L)
{
    if (!s->have_forward)
        MS_ERROR(MS_EINVAL, "csn dis_forward_backward: call ms_csn_gen_forward first");
    L->real_s = L->real_o = L->fake_s = L->fake_o = L->total_d = 0.0;
    const size_t B = s->B;
    if (B == 0) return MS_OK;
    const float sl = net->slope;
    const size_t Lz = net->z_len;
    const ms_nn_params *p = &net->dis;
    csn_critic_forward(&net->c_synth, p, &s->cs_real, s->gs_ss.out, s->sh_s.out, net->z_sh, NULL,
                       0, B, Lz, sl, s->s.col);
    csn_critic_forward(&net->c_obs, p, &s->co_real, s->go_oo.out, s->sh_o.out, net->z_sh,
                       s->sp_o.out, net->z_sp, B, Lz, sl, s->s.col);
    s->have_real = 1;
    const double sb = 1.0 / (double)s->B_global;
    L->real_s = ms_nn_bce_loss_forward(s->cs_real.prob, s->ones, B, sb);
    L->real_o = ms_nn_bce_loss_forward(s->co_real.prob, s->ones, B, sb);
    L->fake_s = ms_nn_bce_loss_forward(s->cs_fake.prob, s->zeros, B, sb);
    L->fake_o = ms_nn_bce_loss_forward(s->co_fake.prob, s->zeros, B, sb);
    L->total_d = lambda_d * (L->real_s + L->real_o + L->fake_s + L->fake_o);
    return MS_OK;
}

ms_status csn_dis_backward_slice(ms_csn *net, ms_csn_step *s, double lambda_d, size_t b0,
                                 size_t nb)
{
    if (!s->have_real) MS_ERROR(MS_EINVAL, "csn dis backward: no discriminator forward pass");
    if (b0 + nb > s->B) MS_ERROR(MS_EINVAL, "csn dis backward: samples beyond the batch");
    const double sb = 1.0 / (double)s->B_global;
    struct {
        const ms_csn_critic *c;
        const csn_critic_tape *t;
        const float *y;
        size_t cb;
    } terms[4] = {{&net->c_synth, &s->cs_real, s->ones, 0},
                  {&net->c_obs, &s->co_real, s->ones, net->z_sp},
                  {&net->c_synth, &s->cs_fake, s->zeros, 0},
                  {&net->c_obs, &s->co_fake, s->zeros, net->z_sp}};
    for (int k = 0; k < 4 && nb > 0; k++) {
        memset(s->dprob, 0, nb * sizeof(float));
        ms_nn_bce_loss_backward(s->dprob, terms[k].t->prob + b0, terms[k].y, nb, sb * lambda_d);
        csn_critic_backward(terms[k].c, &net->dis, 1, terms[k].t, s->dprob, NULL, NULL, net->z_sh,
                            NULL, terms[k].cb, b0, nb, net->z_len, net->slope, &s->s);
    }
    return MS_OK;
}

ms_status ms_csn_dis_forward_backward(ms_csn *net, ms_csn_step *s, double lambda_d,
                                      ms_csn_losses *L)
{
    MS_TRY(csn_dis_forward(net, s, lambda_d, L));
    return csn_dis_backward_slice(net, s, lambda_d, 0, s->B);
}

const float *ms_csn_step_view(const ms_csn_step *s, const char *name)
{
    struct {
        const char *name;
        const float *p;
    } v[] = {{"x_s", s->x_s},           {"x_o", s->x_o},           {"w_s", s->w_s},
             {"w_o", s->w_o},           {"x_ss", s->gs_ss.out},    {"x_oo", s->go_oo.out},
             {"x_so", s->go_so.out},    {"x_os", s->gs_os.out},    {"x_sos", s->gs_sos.out},
             {"x_oso", s->go_oso.out},  {"z_s", s->sh_s.out},      {"zsh_o", s->sh_o.out},
             {"zsh_os", s->sh_os.out},  {"zsh_so", s->sh_so.out},  {"zsp_o", s->sp_o.out},
             {"zsp_so", s->sp_so.out},  {"c_s_fake", s->cs_fake.prob},
             {"c_o_fake", s->co_fake.prob}, {"c_s_real", s->have_real ? s->cs_real.prob : NULL},
             {"c_o_real", s->have_real ? s->co_real.prob : NULL}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (strcmp(v[i].name, name) == 0) return v[i].p;
    return NULL;
}
