/* csn_testlib.c: see csn_testlib.h. */
#include "csn_testlib.h"

#include "mstars/mem.h"

#include <stdio.h>
#include <string.h>

void csn_test_set_list(ms_cfg_list *l, int n, const double *v)
{
    l->n = n;
    for (int i = 0; i < n; i++) l->v[i] = v[i];
}

ms_cfg_csn csn_test_tiny_cfg(int crop)
{
    ms_config c;
    assert_int_equal(ms_config_defaults(&c), MS_OK);
    ms_cfg_csn k = c.csn;
    const double dom_f[] = {3, 4}, dom_s_pad[] = {2, 2}, dom_s_crop[] = {2, 1};
    const double sh_f[] = {5, 6, 6}, sp_f[] = {3, 3, 2}, two3[] = {2, 2, 2};
    const double dx_f[] = {2, 3}, dx_s[] = {2, 2}, dz_f[] = {3, 4};
    csn_test_set_list(&k.dom_filters, 2, dom_f);
    csn_test_set_list(&k.dom_strides, 2, crop ? dom_s_crop : dom_s_pad);
    csn_test_set_list(&k.sh_filters, 3, sh_f);
    csn_test_set_list(&k.sh_strides, 3, two3);
    csn_test_set_list(&k.sp_filters, 3, sp_f);
    csn_test_set_list(&k.sp_strides, 3, two3);
    csn_test_set_list(&k.dis_x_filters, 2, dx_f);
    csn_test_set_list(&k.dis_x_strides, 2, dx_s);
    csn_test_set_list(&k.dis_z_filters, 2, dz_f);
    k.kernel = crop ? 5 : 3;
    k.dis_kernel = 3;
    k.z_shared = 3;
    k.z_split = 2;
    k.leaky_slope = 0.1;
    snprintf(k.length_mode, sizeof k.length_mode, "%s", crop ? "crop" : "pad");
    k.flux_mean = 0.9;
    k.flux_std = 0.08;
    k.err_floor = 0.005;
    k.synthetic_error = 0.005;
    k.err_max = 0.0;
    k.lambda_synth = 3.0;
    k.lambda_obs = 9.0;
    k.lambda_adv = crop ? 0.5 : 1.0;
    k.lambda_dis = 1.0;
    return k;
}

nn_fx *csn_fx_load(const char *name)
{
    /* nn_fx_load reads tests/fixtures/nn/<name>.txt: step over to the csn directory */
    char rel[128];
    snprintf(rel, sizeof rel, "../csn/%s", name);
    return nn_fx_load(rel);
}

void csn_fx_load_params(const nn_fx *f, ms_nn_params *p)
{
    for (size_t i = 0; i < p->n_tensors; i++) {
        char key[80];
        snprintf(key, sizeof key, "p.%s", p->t[i].name);
        const nn_fx_array *a = nn_fx_get(f, key, p->t[i].size);
        float *dst = ms_nn_param(p, i);
        for (size_t j = 0; j < a->n; j++) dst[j] = (float)a->v[j];
    }
}

void csn_test_random_gen_weights(ms_csn *net, ms_nn_rng *rng, float gain)
{
    ms_csn_init_weights(net, rng);
    for (size_t i = 0; i < net->gen.n_tensors; i++) {
        float *w = ms_nn_param(&net->gen, i);
        const ms_nn_tensor *t = &net->gen.t[i];
        if (t->ndim == 3)
            for (size_t j = 0; j < t->size; j++) w[j] *= gain;
        else
            nn_fill(w, t->size, -0.1, 0.1, rng);
    }
}

double csn_test_dot(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}
