/* csn.c: the Cycle-StarNet architecture (csn.h): configuration checks, exact lengths,
 * parameter layout, initialisation, and the two transfers with their vector-Jacobian
 * products for the fit (and the synthetic -> observed one's Jacobian-vector products). */
#include "csn_internal.h"

#include "mstars/mem.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------------------------- */
/* Configuration and lengths */

static ms_status check_list(const ms_cfg_list *l, const char *key, int need_int)
{
    if (l->n < 1 || l->n > MS_CSN_MAX_LAYERS - 1)
        MS_ERROR(MS_EINVAL, "configuration key 'csn.%s' needs 1 to %d values (it has %d)", key,
                 MS_CSN_MAX_LAYERS - 1, l->n);
    for (int i = 0; i < l->n; i++)
        if (need_int && (l->v[i] < 1.0 || l->v[i] != floor(l->v[i])))
            MS_ERROR(MS_EINVAL, "configuration key 'csn.%s': value %d (%g) is not a positive "
                                "integer",
                     key, i, l->v[i]);
    return MS_OK;
}

static ms_status check_cfg(const ms_cfg_csn *c)
{
    MS_TRY(check_list(&c->dom_filters, "dom_filters", 1));
    MS_TRY(check_list(&c->dom_strides, "dom_strides", 1));
    MS_TRY(check_list(&c->sh_filters, "sh_filters", 1));
    MS_TRY(check_list(&c->sh_strides, "sh_strides", 1));
    MS_TRY(check_list(&c->sp_filters, "sp_filters", 1));
    MS_TRY(check_list(&c->sp_strides, "sp_strides", 1));
    MS_TRY(check_list(&c->dis_x_filters, "dis_x_filters", 1));
    MS_TRY(check_list(&c->dis_x_strides, "dis_x_strides", 1));
    MS_TRY(check_list(&c->dis_z_filters, "dis_z_filters", 1));
    if (c->dom_filters.n != c->dom_strides.n)
        MS_ERROR(MS_EINVAL, "configuration keys 'csn.dom_filters' and 'csn.dom_strides' differ "
                            "in length (%d, %d)", c->dom_filters.n, c->dom_strides.n);
    if (c->sh_filters.n != c->sh_strides.n)
        MS_ERROR(MS_EINVAL, "configuration keys 'csn.sh_filters' and 'csn.sh_strides' differ in "
                            "length (%d, %d)", c->sh_filters.n, c->sh_strides.n);
    if (c->sp_filters.n != c->sp_strides.n)
        MS_ERROR(MS_EINVAL, "configuration keys 'csn.sp_filters' and 'csn.sp_strides' differ in "
                            "length (%d, %d)", c->sp_filters.n, c->sp_strides.n);
    if (c->dis_x_filters.n != c->dis_x_strides.n)
        MS_ERROR(MS_EINVAL, "configuration keys 'csn.dis_x_filters' and 'csn.dis_x_strides' "
                            "differ in length (%d, %d)", c->dis_x_filters.n, c->dis_x_strides.n);
    if (c->kernel < 1 || c->dis_kernel < 1 || c->z_shared < 1 || c->z_split < 1)
        MS_ERROR(MS_EINVAL, "configuration keys csn.kernel, dis_kernel, z_shared and z_split "
                            "must be >= 1");
    if (strcmp(c->length_mode, "pad") != 0 && strcmp(c->length_mode, "crop") != 0)
        MS_ERROR(MS_EINVAL, "configuration key 'csn.length_mode': '%s' is not pad or crop",
                 c->length_mode);
    if (!(c->flux_std >= 0.0))
        MS_ERROR(MS_EINVAL, "configuration key 'csn.flux_std' must be >= 0");
    return MS_OK;
}

/* Length of the input of a stack of n convolutions (kernel k, strides s[]) that gives an
 * output of length l exactly: the transposed stack applied to l. */
static size_t up_length(size_t l, const ms_cfg_list *strides, size_t k)
{
    for (int i = strides->n; i-- > 0;) l = (l - 1) * (size_t)strides->v[i] + k;
    return l;
}

size_t ms_csn_length_for_latent(const ms_cfg_csn *cfg, size_t z_len)
{
    if (z_len == 0) return 0;
    size_t k = (size_t)cfg->kernel;
    return up_length(up_length(z_len, &cfg->sh_strides, k), &cfg->dom_strides, k);
}

ms_status ms_csn_choose_length(const ms_cfg_csn *cfg, size_t n_pix, size_t *n_len,
                               size_t *z_len)
{
    MS_TRY(check_cfg(cfg));
    if (n_pix == 0) MS_ERROR(MS_EINVAL, "csn: spectra without pixels");
    const int crop = strcmp(cfg->length_mode, "crop") == 0;
    size_t z = 2, best = 0; /* instance norm needs a latent of >= 2 positions */
    for (;; z++) {
        size_t l = ms_csn_length_for_latent(cfg, z);
        if (l > (size_t)1 << 26) MS_ERROR(MS_EINVAL, "csn: no usable length for %zu pixels", n_pix);
        if (crop) {
            if (l > n_pix) break;
            best = z;
        } else if (l >= n_pix) {
            best = z;
            break;
        }
    }
    if (best == 0)
        MS_ERROR(MS_EINVAL, "csn: %zu pixels are fewer than the shortest length the convolution "
                            "stack inverts (%zu) ---> HINT: use csn.length_mode = \"pad\"",
                 n_pix, ms_csn_length_for_latent(cfg, 2));
    *z_len = best;
    *n_len = ms_csn_length_for_latent(cfg, best);
    return MS_OK;
}

/* ------------------------------------------------------------------------------------- */
/* Architecture */

static ms_status add_layer(ms_csn_stack *st, ms_nn_params *p, const char *prefix,
                           ms_csn_kind kind, size_t c_out, size_t kernel, size_t stride, int act,
                           int exact)
{
    if (st->n_layers == MS_CSN_MAX_LAYERS)
        MS_ERROR(MS_EINVAL, "csn %s: more than %d layers", prefix, MS_CSN_MAX_LAYERS);
    ms_csn_layer *ly = &st->layer[st->n_layers];
    memset(ly, 0, sizeof *ly);
    ly->kind = kind;
    ly->c_in = st->n_layers ? st->layer[st->n_layers - 1].c_out : st->c_in;
    ly->l_in = st->n_layers ? st->layer[st->n_layers - 1].l_out : st->l_in;
    ly->c_out = c_out;
    ly->kernel = kind == MS_CSN_PW ? 1 : kernel;
    ly->stride = kind == MS_CSN_PW ? 1 : stride;
    ly->act = act;
    switch (kind) {
    case MS_CSN_CONV:
        if (ly->l_in < kernel)
            MS_ERROR(MS_EINVAL, "csn %s layer %zu: input length %zu is shorter than the kernel "
                                "(%zu) ---> HINT: fewer or shorter-stride layers, or longer spectra",
                     prefix, st->n_layers, ly->l_in, kernel);
        if (exact && (ly->l_in - kernel) % stride != 0)
            MS_ERROR(MS_EINVAL, "csn %s layer %zu: length %zu does not invert exactly (kernel "
                                "%zu, stride %zu) ---> HINT: csn.sp_strides must have the "
                                "product of csn.sh_strides",
                     prefix, st->n_layers, ly->l_in, kernel, stride);
        ly->l_out = (ly->l_in - kernel) / stride + 1;
        break;
    case MS_CSN_CONVT: ly->l_out = (ly->l_in - 1) * stride + kernel; break;
    case MS_CSN_PW: ly->l_out = ly->l_in; break;
    }
    char name[MS_NN_NAME_MAX];
    size_t wshape[3];
    if (kind == MS_CSN_CONVT) {
        wshape[0] = ly->c_in;
        wshape[1] = ly->c_out;
    } else {
        wshape[0] = ly->c_out;
        wshape[1] = ly->c_in;
    }
    wshape[2] = ly->kernel;
    snprintf(name, sizeof name, "%s.%zu.w", prefix, st->n_layers);
    MS_TRY(ms_nn_params_add(p, name, 3, wshape, &ly->iw));
    snprintf(name, sizeof name, "%s.%zu.b", prefix, st->n_layers);
    MS_TRY(ms_nn_params_add(p, name, 1, &ly->c_out, &ly->ib));
    st->n_layers++;
    st->c_out = ly->c_out;
    st->l_out = ly->l_out;
    return MS_OK;
}

static void stack_start(ms_csn_stack *st, const char *name, size_t c_in, size_t l_in)
{
    memset(st, 0, sizeof *st);
    snprintf(st->name, sizeof st->name, "%s", name);
    st->c_in = st->c_out = c_in;
    st->l_in = st->l_out = l_in;
}

/* Encoder: convolutions (filters f, strides s) with activation, then optionally a 1x1
 * convolution to z channels and an instance norm. */
static ms_status build_encoder(ms_csn_stack *st, ms_nn_params *p, const char *name, size_t c_in,
                               size_t l_in, const ms_cfg_list *f, const ms_cfg_list *s,
                               size_t kernel, size_t z)
{
    stack_start(st, name, c_in, l_in);
    for (int i = 0; i < f->n; i++)
        MS_TRY(add_layer(st, p, name, MS_CSN_CONV, (size_t)f->v[i], kernel, (size_t)s->v[i], 1, 1));
    if (z) {
        MS_TRY(add_layer(st, p, name, MS_CSN_PW, z, 1, 1, 0, 1));
        st->norm = 1;
    }
    return MS_OK;
}

/* Decoder: transposed convolutions mirroring an encoder (filters reversed: the last one
 * goes first), with activation; optionally a final 1x1 convolution to out channels. */
static ms_status build_decoder(ms_csn_stack *st, ms_nn_params *p, const char *name, size_t c_in,
                               size_t l_in, const ms_cfg_list *f, const ms_cfg_list *s,
                               size_t kernel, size_t out)
{
    stack_start(st, name, c_in, l_in);
    for (int i = f->n; i-- > 0;)
        MS_TRY(add_layer(st, p, name, MS_CSN_CONVT, (size_t)f->v[i], kernel, (size_t)s->v[i], 1, 1));
    if (out) MS_TRY(add_layer(st, p, name, MS_CSN_PW, out, 1, 1, 0, 1));
    return MS_OK;
}

static ms_status build_critic(ms_csn_critic *c, ms_nn_params *p, const char *name,
                              const ms_cfg_csn *cfg, size_t n_len, size_t cz, size_t L)
{
    memset(c, 0, sizeof *c);
    char px[16], pz[16];
    snprintf(px, sizeof px, "%s.x", name);
    snprintf(pz, sizeof pz, "%s.z", name);
    stack_start(&c->x, px, 1, n_len);
    for (int i = 0; i < cfg->dis_x_filters.n; i++)
        MS_TRY(add_layer(&c->x, p, px, MS_CSN_CONV, (size_t)cfg->dis_x_filters.v[i],
                         (size_t)cfg->dis_kernel, (size_t)cfg->dis_x_strides.v[i], 1, 0));
    stack_start(&c->z, pz, cz, L);
    for (int i = 0; i < cfg->dis_z_filters.n; i++)
        MS_TRY(add_layer(&c->z, p, pz, MS_CSN_PW, (size_t)cfg->dis_z_filters.v[i], 1, 1, 1, 0));
    c->n_feat_x = csn_out_floats(&c->x);
    c->n_feat_z = csn_out_floats(&c->z);
    char nw[MS_NN_NAME_MAX], nb[MS_NN_NAME_MAX];
    snprintf(nw, sizeof nw, "%s.fc.w", name);
    snprintf(nb, sizeof nb, "%s.fc.b", name);
    const size_t wshape[2] = {1, c->n_feat_x + c->n_feat_z}, one = 1;
    MS_TRY(ms_nn_params_add(p, nw, 2, wshape, &c->iw));
    MS_TRY(ms_nn_params_add(p, nb, 1, &one, &c->ib));
    return MS_OK;
}

static ms_status build(ms_csn *net)
{
    const ms_cfg_csn *c = &net->cfg;
    const size_t k = (size_t)c->kernel, N = net->n_len;
    ms_nn_params *g = &net->gen;
    ms_csn_stack *b = net->block;
    MS_TRY(build_encoder(&b[MS_CSN_E_SYNTH], g, "esyn", 1, N, &c->dom_filters, &c->dom_strides, k, 0));
    MS_TRY(build_encoder(&b[MS_CSN_E_OBS], g, "eobs", 1, N, &c->dom_filters, &c->dom_strides, k, 0));
    const size_t ch = b[MS_CSN_E_SYNTH].c_out, lh = b[MS_CSN_E_SYNTH].l_out;
    MS_TRY(build_encoder(&b[MS_CSN_E_SH], g, "esh", ch, lh, &c->sh_filters, &c->sh_strides, k,
                         net->z_sh));
    MS_TRY(build_encoder(&b[MS_CSN_E_SP], g, "esp", ch, lh, &c->sp_filters, &c->sp_strides, k,
                         net->z_sp));
    const size_t L = b[MS_CSN_E_SH].l_out;
    if (L < 2)
        MS_ERROR(MS_EINVAL, "csn: latent length %zu; instance norm needs at least 2 positions "
                            "---> HINT: longer spectra, length_mode pad, or fewer strides", L);
    if (L != net->z_len || b[MS_CSN_E_SP].l_out != L)
        MS_ERROR(MS_EINVAL, "csn: the split encoder gives latent length %zu, the shared one %zu "
                            "---> HINT: csn.sp_strides must have the product of csn.sh_strides",
                 b[MS_CSN_E_SP].l_out, L);
    MS_TRY(build_decoder(&b[MS_CSN_D_SH], g, "dsh", net->z_sh, L, &c->sh_filters, &c->sh_strides, k, 0));
    MS_TRY(build_decoder(&b[MS_CSN_D_SP], g, "dsp", net->z_sp, L, &c->sp_filters, &c->sp_strides, k, 0));
    if (b[MS_CSN_D_SH].l_out != lh || b[MS_CSN_D_SP].l_out != lh)
        MS_ERROR(MS_EINVAL, "csn: the decoders give lengths %zu and %zu, the encoders took %zu",
                 b[MS_CSN_D_SH].l_out, b[MS_CSN_D_SP].l_out, lh);
    const size_t cd = b[MS_CSN_D_SH].c_out, cp = b[MS_CSN_D_SP].c_out;
    MS_TRY(build_decoder(&b[MS_CSN_G_SYNTH], g, "gsyn", cd, lh, &c->dom_filters, &c->dom_strides, k, 1));
    MS_TRY(build_decoder(&b[MS_CSN_G_OBS], g, "gobs", cd + cp, lh, &c->dom_filters, &c->dom_strides,
                         k, 1));
    if (b[MS_CSN_G_SYNTH].l_out != N)
        MS_ERROR(MS_EINVAL, "csn: the generators give length %zu for an input of %zu",
                 b[MS_CSN_G_SYNTH].l_out, N);
    MS_TRY(build_critic(&net->c_synth, &net->dis, "cs", c, N, net->z_sh, L));
    MS_TRY(build_critic(&net->c_obs, &net->dis, "co", c, N, net->z_sh + net->z_sp, L));
    /* exact sums need per-sample results independent of the batch: one GEMM per sample */
    ms_csn_set_per_sample(net, c->exact_sums);
    MS_TRY(ms_nn_params_alloc(&net->gen));
    MS_TRY(ms_nn_params_alloc(&net->dis));
    return MS_OK;
}

void ms_csn_set_per_sample(ms_csn *net, int on)
{
    for (int i = 0; i < MS_CSN_N_BLOCKS; i++) net->block[i].per_sample = on;
    net->c_synth.x.per_sample = net->c_synth.z.per_sample = on;
    net->c_obs.x.per_sample = net->c_obs.z.per_sample = on;
}

ms_status ms_csn_init(ms_csn *net, const ms_cfg_csn *cfg, size_t n_pix)
{
    memset(net, 0, sizeof *net);
    ms_nn_params_init(&net->gen);
    ms_nn_params_init(&net->dis);
    net->cfg = *cfg;
    MS_TRY(ms_csn_choose_length(cfg, n_pix, &net->n_len, &net->z_len));
    net->n_pix = n_pix;
    net->crop = strcmp(cfg->length_mode, "crop") == 0;
    net->offset = net->crop ? (n_pix - net->n_len) / 2 : (net->n_len - n_pix) / 2;
    net->z_sh = (size_t)cfg->z_shared;
    net->z_sp = (size_t)cfg->z_split;
    net->slope = (float)cfg->leaky_slope;
    net->mean = cfg->flux_std > 0.0 ? (float)cfg->flux_mean : 0.0f;
    net->std = cfg->flux_std > 0.0 ? (float)cfg->flux_std : 1.0f;
    ms_status st = build(net);
    if (st != MS_OK) ms_csn_free(net);
    return st;
}

void ms_csn_free(ms_csn *net)
{
    ms_nn_params_free(&net->gen);
    ms_nn_params_free(&net->dis);
}

static void init_stack(const ms_csn_stack *st, ms_nn_params *p, ms_nn_rng *rng)
{
    for (size_t i = 0; i < st->n_layers; i++) {
        const ms_csn_layer *ly = &st->layer[i];
        const ms_nn_tensor *t = &p->t[ly->iw];
        /* PyTorch: fan_in = size(1) * k, fan_out = size(0) * k */
        ms_nn_init_xavier_uniform(ms_nn_param(p, ly->iw), t->size, t->shape[1] * t->shape[2],
                                  t->shape[0] * t->shape[2], 1.0, rng);
        ms_nn_init_const(ms_nn_param(p, ly->ib), ly->c_out, 0.01f);
    }
}

void ms_csn_init_weights(ms_csn *net, ms_nn_rng *rng)
{
    for (int b = 0; b < MS_CSN_N_BLOCKS; b++) init_stack(&net->block[b], &net->gen, rng);
    const ms_csn_critic *cs[2] = {&net->c_synth, &net->c_obs};
    for (int k = 0; k < 2; k++) {
        init_stack(&cs[k]->x, &net->dis, rng);
        init_stack(&cs[k]->z, &net->dis, rng);
        size_t F = cs[k]->n_feat_x + cs[k]->n_feat_z;
        ms_nn_init_torch_default(ms_nn_param(&net->dis, cs[k]->iw), F, F, rng);
        ms_nn_init_torch_default(ms_nn_param(&net->dis, cs[k]->ib), 1, F, rng);
    }
}

size_t ms_csn_z_sp_floats(const ms_csn *net) { return net->z_sp * net->z_len; }
size_t ms_csn_z_sh_floats(const ms_csn *net) { return net->z_sh * net->z_len; }

static size_t count_params(const ms_nn_params *p)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n_tensors; i++) n += p->t[i].size;
    return n;
}

void ms_csn_describe(const ms_csn *net, char *buf, size_t len)
{
    snprintf(buf, len,
             "Cycle-StarNet: %zu pixels %s to %zu (offset %zu), h %zu x %zu, z_sh %zu x %zu, "
             "z_sp %zu x %zu; %zu generator and %zu discriminator parameters",
             net->n_pix, net->crop ? "cropped" : "padded", net->n_len, net->offset,
             net->block[MS_CSN_E_SYNTH].c_out, net->block[MS_CSN_E_SYNTH].l_out, net->z_sh,
             net->z_len, net->z_sp, net->z_len, count_params(&net->gen), count_params(&net->dis));
}

void ms_csn_flux_stats(const float *flux, size_t n, size_t n_pix, float *mean, float *std)
{
    double s = 0.0, s2 = 0.0;
    size_t cnt = 0;
    for (size_t i = 0; i < n * n_pix; i++)
        if (isfinite(flux[i])) {
            s += flux[i];
            cnt++;
        }
    double m = cnt ? s / (double)cnt : 0.0;
    for (size_t i = 0; i < n * n_pix; i++)
        if (isfinite(flux[i])) s2 += (flux[i] - m) * (flux[i] - m);
    double v = cnt > 1 ? s2 / (double)(cnt - 1) : 1.0;
    *mean = (float)m;
    *std = v > 0.0 ? (float)sqrt(v) : 1.0f;
}

/* ------------------------------------------------------------------------------------- */
/* Inference workspace and transfers */

struct ms_csn_ws {
    size_t cap;
    float *block; /* the arena */
    csn_scratch s;
    /* synthetic -> observed */
    float *s2o_x;   /* [cap, n_len] internal input */
    float *s2o_cat; /* [cap, c_d + c_p, l_h] G_obs input */
    csn_tape s2o_es, s2o_esh, s2o_dsh, s2o_dsp, s2o_go;
    size_t s2o_B;
    /* observed -> synthetic */
    float *o2s_x;    /* [cap, n_len] */
    float *o2s_good; /* [cap, n_pix] 1 where the input pixel was finite */
    csn_tape o2s_eo, o2s_esh, o2s_dsh, o2s_gs;
    size_t o2s_B;
    /* encoders */
    float *enc_x; /* [cap, n_len] */
    csn_tape enc_e, enc_sh, enc_sp;
    /* backward buffers (also the tangent columns of ms_csn_transfer_s2o_jvp) */
    float *g_x;   /* [cap, n_len] */
    float *g_cat; /* [cap, c_d + c_p, l_h] */
    float *g_d;   /* [cap, c_d, l_h] */
    float *g_z;   /* [cap, z_sh, L] */
    float *g_h;   /* [cap, c_h, l_h] */
};

static void ws_layout(ms_csn_ws *w, const ms_csn *net, csn_arena *a)
{
    const size_t cap = w->cap, N = net->n_len, P = net->n_pix;
    const ms_csn_stack *b = net->block;
    csn_scratch_layout(&w->s, net, cap, a);
    w->s2o_x = csn_arena_take(a, cap * N);
    w->s2o_cat = csn_arena_take(a, cap * csn_in_floats(&b[MS_CSN_G_OBS]));
    csn_tape_layout(&w->s2o_es, &b[MS_CSN_E_SYNTH], cap, a);
    csn_tape_layout(&w->s2o_esh, &b[MS_CSN_E_SH], cap, a);
    csn_tape_layout(&w->s2o_dsh, &b[MS_CSN_D_SH], cap, a);
    csn_tape_layout(&w->s2o_dsp, &b[MS_CSN_D_SP], cap, a);
    csn_tape_layout(&w->s2o_go, &b[MS_CSN_G_OBS], cap, a);
    w->o2s_x = csn_arena_take(a, cap * N);
    w->o2s_good = csn_arena_take(a, cap * P);
    csn_tape_layout(&w->o2s_eo, &b[MS_CSN_E_OBS], cap, a);
    csn_tape_layout(&w->o2s_esh, &b[MS_CSN_E_SH], cap, a);
    csn_tape_layout(&w->o2s_dsh, &b[MS_CSN_D_SH], cap, a);
    csn_tape_layout(&w->o2s_gs, &b[MS_CSN_G_SYNTH], cap, a);
    w->enc_x = csn_arena_take(a, cap * N);
    csn_tape_layout(&w->enc_e, &b[MS_CSN_E_OBS], cap, a);
    csn_tape_layout(&w->enc_sh, &b[MS_CSN_E_SH], cap, a);
    csn_tape_layout(&w->enc_sp, &b[MS_CSN_E_SP], cap, a);
    w->g_x = csn_arena_take(a, cap * N);
    w->g_cat = csn_arena_take(a, cap * csn_in_floats(&b[MS_CSN_G_OBS]));
    w->g_d = csn_arena_take(a, cap * csn_out_floats(&b[MS_CSN_D_SH]));
    w->g_z = csn_arena_take(a, cap * csn_out_floats(&b[MS_CSN_E_SH]));
    w->g_h = csn_arena_take(a, cap * csn_out_floats(&b[MS_CSN_E_SYNTH]));
}

ms_status ms_csn_ws_alloc(const ms_csn *net, size_t max_batch, ms_csn_ws **out)
{
    *out = NULL;
    if (max_batch == 0) MS_ERROR(MS_EINVAL, "csn workspace: max_batch must be > 0");
    if (!net->gen.param) MS_ERROR(MS_EINVAL, "csn workspace: network not initialised");
    ms_csn_ws *w = ms_calloc("csn.ws", 1, sizeof *w);
    if (!w) return MS_ENOMEM;
    w->cap = max_batch;
    csn_arena a = {NULL, 0};
    ws_layout(w, net, &a);
    w->block = ms_calloc("csn.ws.arena", a.n, sizeof(float));
    if (!w->block) {
        ms_free(w);
        return MS_ENOMEM;
    }
    a.base = w->block;
    a.n = 0;
    ws_layout(w, net, &a);
    *out = w;
    return MS_OK;
}

void ms_csn_ws_free(ms_csn_ws *ws)
{
    if (!ws) return;
    ms_free(ws->block);
    ms_free(ws);
}

static ms_status check_batch(const ms_csn_ws *ws, size_t B, const char *what)
{
    if (B == 0 || B > ws->cap)
        MS_ERROR(MS_EINVAL, "csn %s: batch of %zu spectra (workspace holds 1..%zu)", what, B,
                 ws->cap);
    return MS_OK;
}

ms_status ms_csn_encode_obs(const ms_csn *net, ms_csn_ws *ws, const float *x_obs, size_t B,
                            float *z_sp, float *z_sh)
{
    MS_TRY(check_batch(ws, B, "encode_obs"));
    const ms_csn_stack *b = net->block;
    csn_to_internal(net, x_obs, NULL, B, ws->enc_x, NULL);
    csn_stack_forward(&b[MS_CSN_E_OBS], &net->gen, &ws->enc_e, ws->enc_x, B, net->slope, ws->s.col);
    if (z_sp) {
        csn_stack_forward(&b[MS_CSN_E_SP], &net->gen, &ws->enc_sp, ws->enc_e.out, B, net->slope,
                          ws->s.col);
        memcpy(z_sp, ws->enc_sp.out, B * ms_csn_z_sp_floats(net) * sizeof(float));
    }
    if (z_sh) {
        csn_stack_forward(&b[MS_CSN_E_SH], &net->gen, &ws->enc_sh, ws->enc_e.out, B, net->slope,
                          ws->s.col);
        memcpy(z_sh, ws->enc_sh.out, B * ms_csn_z_sh_floats(net) * sizeof(float));
    }
    return MS_OK;
}

ms_status ms_csn_encode_synth(const ms_csn *net, ms_csn_ws *ws, const float *x_synth, size_t B,
                              float *z_sh)
{
    MS_TRY(check_batch(ws, B, "encode_synth"));
    const ms_csn_stack *b = net->block;
    csn_to_internal(net, x_synth, NULL, B, ws->enc_x, NULL);
    csn_stack_forward(&b[MS_CSN_E_SYNTH], &net->gen, &ws->enc_e, ws->enc_x, B, net->slope,
                      ws->s.col);
    csn_stack_forward(&b[MS_CSN_E_SH], &net->gen, &ws->enc_sh, ws->enc_e.out, B, net->slope,
                      ws->s.col);
    memcpy(z_sh, ws->enc_sh.out, B * ms_csn_z_sh_floats(net) * sizeof(float));
    return MS_OK;
}

ms_status ms_csn_transfer_s2o(const ms_csn *net, ms_csn_ws *ws, const float *x_s,
                              const float *z_sp, size_t B, float *out)
{
    MS_TRY(check_batch(ws, B, "transfer_s2o"));
    const ms_csn_stack *b = net->block;
    const float sl = net->slope;
    float *col = ws->s.col;
    csn_to_internal(net, x_s, NULL, B, ws->s2o_x, NULL);
    csn_stack_forward(&b[MS_CSN_E_SYNTH], &net->gen, &ws->s2o_es, ws->s2o_x, B, sl, col);
    csn_stack_forward(&b[MS_CSN_E_SH], &net->gen, &ws->s2o_esh, ws->s2o_es.out, B, sl, col);
    csn_stack_forward(&b[MS_CSN_D_SH], &net->gen, &ws->s2o_dsh, ws->s2o_esh.out, B, sl, col);
    csn_stack_forward(&b[MS_CSN_D_SP], &net->gen, &ws->s2o_dsp, z_sp, B, sl, col);
    const float *parts[2] = {ws->s2o_dsh.out, ws->s2o_dsp.out};
    const size_t ch[2] = {b[MS_CSN_D_SH].c_out, b[MS_CSN_D_SP].c_out};
    ms_nn_concat_forward(ws->s2o_cat, parts, ch, 2, B, b[MS_CSN_D_SH].l_out);
    csn_stack_forward(&b[MS_CSN_G_OBS], &net->gen, &ws->s2o_go, ws->s2o_cat, B, sl, col);
    csn_from_internal(net, ws->s2o_go.out, x_s, B, out);
    ws->s2o_B = B;
    return MS_OK;
}

/* gx [B, n_pix] += the internal input gradient g [B, n_len] (the scalings by std cancel);
 * crop: pixels outside the window pass v through; good (NULL: all) masks pixels. */
static void add_input_grad(const ms_csn *net, const float *g, const float *v, const float *good,
                           size_t B, float *gx)
{
    const size_t N = net->n_len, P = net->n_pix;
    for (size_t b = 0; b < B; b++) {
        const float *gb = g + b * N, *vb = v + b * P, *ok = good ? good + b * P : NULL;
        float *out = gx + b * P;
        for (size_t p = 0; p < P; p++) {
            float d;
            if (net->crop)
                d = (p >= net->offset && p - net->offset < N) ? gb[p - net->offset] : vb[p];
            else
                d = gb[p + net->offset];
            if (ok && ok[p] == 0.0f) d = 0.0f;
            out[p] += d;
        }
    }
}

/* g_int [B, n_len] = the gradient of the internal output from v [B, n_pix] (pixels outside
 * the window: 0). */
static void output_grad(const ms_csn *net, const float *v, size_t B, float *g_int)
{
    const size_t N = net->n_len, P = net->n_pix;
    memset(g_int, 0, B * N * sizeof(float));
    for (size_t b = 0; b < B; b++) {
        const float *vb = v + b * P;
        float *gb = g_int + b * N;
        if (net->crop)
            for (size_t j = 0; j < N; j++) gb[j] = vb[j + net->offset];
        else
            for (size_t p = 0; p < P; p++) gb[p + net->offset] = vb[p];
    }
}

ms_status ms_csn_transfer_s2o_vjp(const ms_csn *net, ms_csn_ws *ws, const float *v, size_t B,
                                  float *gx)
{
    if (B == 0 || B != ws->s2o_B)
        MS_ERROR(MS_EINVAL, "csn transfer_s2o_vjp: batch %zu does not match the last "
                            "transfer_s2o (%zu)", B, ws->s2o_B);
    const ms_csn_stack *b = net->block;
    const float sl = net->slope;
    csn_scratch *s = &ws->s;
    const size_t cd = b[MS_CSN_D_SH].c_out, cp = b[MS_CSN_D_SP].c_out, lh = b[MS_CSN_D_SH].l_out;
    output_grad(net, v, B, ws->g_x);
    memset(ws->g_cat, 0, B * (cd + cp) * lh * sizeof(float));
    csn_stack_backward(&b[MS_CSN_G_OBS], &net->gen, 0, &ws->s2o_go, ws->g_x, ws->g_cat, 0, B, sl, s);
    memset(ws->g_d, 0, B * cd * lh * sizeof(float));
    float *parts[2] = {ws->g_d, NULL};
    const size_t ch[2] = {cd, cp};
    ms_nn_concat_backward(parts, ws->g_cat, ch, 2, B, lh);
    memset(ws->g_z, 0, B * ms_csn_z_sh_floats(net) * sizeof(float));
    csn_stack_backward(&b[MS_CSN_D_SH], &net->gen, 0, &ws->s2o_dsh, ws->g_d, ws->g_z, 0, B, sl, s);
    memset(ws->g_h, 0, B * csn_out_floats(&b[MS_CSN_E_SYNTH]) * sizeof(float));
    csn_stack_backward(&b[MS_CSN_E_SH], &net->gen, 0, &ws->s2o_esh, ws->g_z, ws->g_h, 0, B, sl, s);
    memset(ws->g_x, 0, B * net->n_len * sizeof(float));
    csn_stack_backward(&b[MS_CSN_E_SYNTH], &net->gen, 0, &ws->s2o_es, ws->g_h, ws->g_x, 0, B, sl, s);
    add_input_grad(net, ws->g_x, v, NULL, B, gx);
    return MS_OK;
}

/* tx [nc, n_len] = the internal tangent of the input tangents dx [nc, n_pix]: dx / std
 * inside the window, 0 at the pads (they hold the constant mean flux). */
static void input_tangent(const ms_csn *net, const float *dx, size_t nc, float *tx)
{
    const size_t N = net->n_len, P = net->n_pix;
    const float rs = 1.0f / net->std;
    for (size_t j = 0; j < nc; j++) {
        const float *d = dx + j * P;
        float *t = tx + j * N;
        if (net->crop) {
            for (size_t i = 0; i < N; i++) t[i] = d[i + net->offset] * rs;
        } else {
            memset(t, 0, N * sizeof(float));
            for (size_t p = 0; p < P; p++) t[p + net->offset] = d[p] * rs;
        }
    }
}

/* dout [nc, n_pix] = std ty [nc, n_len] inside the window; crop: the pixels outside it
 * pass through, dout = dx there (dout may be dx). */
static void output_tangent(const ms_csn *net, const float *ty, const float *dx, size_t nc,
                           float *dout)
{
    const size_t N = net->n_len, P = net->n_pix;
    for (size_t j = 0; j < nc; j++) {
        const float *t = ty + j * N, *d = dx + j * P;
        float *o = dout + j * P;
        for (size_t p = 0; p < P; p++) {
            if (!net->crop)
                o[p] = t[p + net->offset] * net->std;
            else if (p >= net->offset && p - net->offset < N)
                o[p] = t[p - net->offset] * net->std;
            else
                o[p] = d[p];
        }
    }
}

ms_status ms_csn_transfer_s2o_jvp(const ms_csn *net, ms_csn_ws *ws, const float *dx, size_t B,
                                  size_t T, float *dout)
{
    if (B == 0 || B != ws->s2o_B)
        MS_ERROR(MS_EINVAL, "csn transfer_s2o_jvp: batch %zu does not match the last "
                            "transfer_s2o (%zu)", B, ws->s2o_B);
    if (T == 0) MS_ERROR(MS_EINVAL, "csn transfer_s2o_jvp: no tangent directions");
    const ms_csn_stack *b = net->block;
    const float sl = net->slope;
    csn_scratch *s = &ws->s;
    const size_t cd = b[MS_CSN_D_SH].c_out, cp = b[MS_CSN_D_SP].c_out, lh = b[MS_CSN_D_SH].l_out;
    const size_t P = net->n_pix, nt = B * T;
    /* chunks of up to cap tangent columns through the backward buffers (each sized for cap
     * samples at its stage); the fixed D_sp(z_sp) branch has no tangent: zeros in the concat */
    for (size_t c0 = 0; c0 < nt; c0 += ws->cap) {
        const size_t nc = nt - c0 < ws->cap ? nt - c0 : ws->cap;
        input_tangent(net, dx + c0 * P, nc, ws->g_x);
        csn_stack_jvp(&b[MS_CSN_E_SYNTH], &net->gen, &ws->s2o_es, ws->g_x, ws->g_h, c0, nc, T, sl, s);
        csn_stack_jvp(&b[MS_CSN_E_SH], &net->gen, &ws->s2o_esh, ws->g_h, ws->g_z, c0, nc, T, sl, s);
        csn_stack_jvp(&b[MS_CSN_D_SH], &net->gen, &ws->s2o_dsh, ws->g_z, ws->g_d, c0, nc, T, sl, s);
        for (size_t j = 0; j < nc; j++) {
            float *cat = ws->g_cat + j * (cd + cp) * lh;
            memcpy(cat, ws->g_d + j * cd * lh, cd * lh * sizeof(float));
            memset(cat + cd * lh, 0, cp * lh * sizeof(float));
        }
        csn_stack_jvp(&b[MS_CSN_G_OBS], &net->gen, &ws->s2o_go, ws->g_cat, ws->g_x, c0, nc, T, sl, s);
        output_tangent(net, ws->g_x, dx + c0 * P, nc, dout + c0 * P);
    }
    return MS_OK;
}

ms_status ms_csn_transfer_o2s(const ms_csn *net, ms_csn_ws *ws, const float *x_o, size_t B,
                              float *out)
{
    MS_TRY(check_batch(ws, B, "transfer_o2s"));
    const ms_csn_stack *b = net->block;
    const float sl = net->slope;
    float *col = ws->s.col;
    csn_to_internal(net, x_o, NULL, B, ws->o2s_x, NULL);
    for (size_t i = 0; i < B * net->n_pix; i++) ws->o2s_good[i] = isfinite(x_o[i]) ? 1.0f : 0.0f;
    csn_stack_forward(&b[MS_CSN_E_OBS], &net->gen, &ws->o2s_eo, ws->o2s_x, B, sl, col);
    csn_stack_forward(&b[MS_CSN_E_SH], &net->gen, &ws->o2s_esh, ws->o2s_eo.out, B, sl, col);
    csn_stack_forward(&b[MS_CSN_D_SH], &net->gen, &ws->o2s_dsh, ws->o2s_esh.out, B, sl, col);
    csn_stack_forward(&b[MS_CSN_G_SYNTH], &net->gen, &ws->o2s_gs, ws->o2s_dsh.out, B, sl, col);
    csn_from_internal(net, ws->o2s_gs.out, x_o, B, out);
    ws->o2s_B = B;
    return MS_OK;
}

ms_status ms_csn_transfer_o2s_vjp(const ms_csn *net, ms_csn_ws *ws, const float *v, size_t B,
                                  float *gx)
{
    if (B == 0 || B != ws->o2s_B)
        MS_ERROR(MS_EINVAL, "csn transfer_o2s_vjp: batch %zu does not match the last "
                            "transfer_o2s (%zu)", B, ws->o2s_B);
    const ms_csn_stack *b = net->block;
    const float sl = net->slope;
    csn_scratch *s = &ws->s;
    const size_t cd = b[MS_CSN_D_SH].c_out, lh = b[MS_CSN_D_SH].l_out;
    output_grad(net, v, B, ws->g_x);
    memset(ws->g_d, 0, B * cd * lh * sizeof(float));
    csn_stack_backward(&b[MS_CSN_G_SYNTH], &net->gen, 0, &ws->o2s_gs, ws->g_x, ws->g_d, 0, B, sl, s);
    memset(ws->g_z, 0, B * ms_csn_z_sh_floats(net) * sizeof(float));
    csn_stack_backward(&b[MS_CSN_D_SH], &net->gen, 0, &ws->o2s_dsh, ws->g_d, ws->g_z, 0, B, sl, s);
    memset(ws->g_h, 0, B * csn_out_floats(&b[MS_CSN_E_OBS]) * sizeof(float));
    csn_stack_backward(&b[MS_CSN_E_SH], &net->gen, 0, &ws->o2s_esh, ws->g_z, ws->g_h, 0, B, sl, s);
    memset(ws->g_x, 0, B * net->n_len * sizeof(float));
    csn_stack_backward(&b[MS_CSN_E_OBS], &net->gen, 0, &ws->o2s_eo, ws->g_h, ws->g_x, 0, B, sl, s);
    add_input_grad(net, ws->g_x, v, ws->o2s_good, B, gx);
    return MS_OK;
}
