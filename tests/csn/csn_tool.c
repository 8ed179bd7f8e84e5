/* csn_tool.c: helper program of the train-csn shell tests.
 *   csn_tool make-observed PATH N N_PIX SEED   an "observed" spectra store: nn_synth spectra
 *       (as `nn_tool make-grid` makes the grid) at random labels, times a smooth distortion,
 *       minus an extra absorption line, plus noise (sigma 0.01); row 1 is unusable
 *   csn_tool info MODEL                        print n_pix, n_len, history rows, the last
 *       iteration, the emulator hash and a transfer checksum of a CSN model file
 *   csn_tool compare A B RTOL                  two model files: same architecture; their
 *       transfers of the same spectra agree to RTOL (relative to the flux scale) */
#include "csn_testlib.h"

#include "mstars/h5.h"
#include "mstars/mem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int make_observed(char **argv)
{
    const size_t N = (size_t)atol(argv[3]), P = (size_t)atol(argv[4]);
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, (uint64_t)atol(argv[5]));
    float *flux = ms_malloc_array("obs", N * P, sizeof(float));
    float *ivar = ms_malloc_array("obs", N * P, sizeof(float));
    double *wave = ms_malloc_array("obs", P, sizeof(double));
    int32_t *status = ms_calloc("obs", N, sizeof(int32_t));
    if (!flux || !ivar || !wave || !status) return 1;
    for (size_t p = 0; p < P; p++) wave[p] = 6000.0 + 2900.0 * (double)p / (double)(P - 1);
    for (size_t i = 0; i < N; i++) {
        double y[4] = {2800.0 + 1200.0 * ms_nn_rng_uniform(&rng), 4.5 + ms_nn_rng_uniform(&rng),
                       -1.0 + 1.5 * ms_nn_rng_uniform(&rng), 0.0};
        nn_synth_spectrum(y, wave, P, flux + i * P);
        for (size_t p = 0; p < P; p++) {
            double lam = wave[p], t = (lam - 7450.0) / 1450.0, d = (lam - 7100.0) / 12.0;
            double f = flux[i * P + p] * (1.0 + 0.06 * t + 0.03 * sin(lam / 180.0)) -
                       0.15 * exp(-0.5 * d * d);
            flux[i * P + p] = (float)(f + 0.01 * ms_nn_rng_normal(&rng));
            ivar[i * P + p] = 1e4f;
        }
        ivar[i * P + (i % P)] = 0.0f; /* a masked pixel */
    }
    if (N > 1) status[1] = 3;
    ms_h5 *f;
    if (ms_h5_create(argv[2], 0, &f) != MS_OK) goto fail;
    ms_config cfg;
    ms_config_defaults(&cfg);
    const size_t d2[2] = {N, P};
    if (ms_h5_write_provenance(f, &cfg, "csn_tool make-observed") != MS_OK ||
        ms_h5_write_array(f, "/spectra/flux", MS_H5_F32, 0, 2, d2, flux, "", "flux") != MS_OK ||
        ms_h5_write_array(f, "/spectra/ivar", MS_H5_F32, 0, 2, d2, ivar, "", "ivar") != MS_OK ||
        ms_h5_write_array(f, "/spectra/wavelength", MS_H5_F64, 0, 1, &P, wave, "A", "wave") != MS_OK ||
        ms_h5_write_array(f, "/meta/status", MS_H5_I32, 0, 1, &N, status, "", "status") != MS_OK) {
        ms_h5_abort(f);
        goto fail;
    }
    if (ms_h5_commit(f) != MS_OK) goto fail;
    ms_free(flux);
    ms_free(ivar);
    ms_free(wave);
    ms_free(status);
    return 0;
fail:
    fprintf(stderr, "csn_tool make-observed: %s\n", ms_error_message());
    return 1;
}

/* Transfers (s2o with the split code of a second spectrum, and o2s) of B fixed spectra. */
static int transfers(const ms_csn *net, float *s2o, float *o2s, size_t B)
{
    const size_t P = net->n_pix;
    float *x = ms_malloc_array("x", B * P, sizeof(float)), *z = ms_malloc_array("z", B * ms_csn_z_sp_floats(net), sizeof(float));
    ms_csn_ws *ws;
    if (!x || !z || ms_csn_ws_alloc(net, B, &ws) != MS_OK) return 1;
    for (size_t i = 0; i < B * P; i++) x[i] = (float)(0.9 + 0.1 * sin(0.05 * (double)i));
    int bad = ms_csn_encode_obs(net, ws, x, B, z, NULL) != MS_OK ||
              ms_csn_transfer_s2o(net, ws, x, z, B, s2o) != MS_OK ||
              ms_csn_transfer_o2s(net, ws, x, B, o2s) != MS_OK;
    ms_csn_ws_free(ws);
    ms_free(x);
    ms_free(z);
    return bad;
}

static int info(char **argv)
{
    ms_csn net;
    ms_csn_record r;
    if (ms_csn_model_read(argv[2], &net, &r) != MS_OK) {
        fprintf(stderr, "csn_tool info: %s\n", ms_error_message());
        return 1;
    }
    const size_t B = 2, P = net.n_pix;
    float *a = ms_malloc_array("a", B * P, sizeof(float)), *b = ms_malloc_array("b", B * P, sizeof(float));
    if (!a || !b || transfers(&net, a, b, B)) return 1;
    double sum = 0.0;
    for (size_t i = 0; i < B * P; i++) sum += a[i] + b[i];
    printf("n_pix %zu n_len %zu history %zu last_iteration %.0f emulator_hash %s "
           "n_synth_train %ld n_obs_train %ld ranks %ld checksum %.6f\n",
           net.n_pix, net.n_len, r.hist.n,
           r.hist.n ? r.hist.v[(r.hist.n - 1) * MS_CSN_H_COLS + MS_CSN_H_ITER] : 0.0,
           r.emulator_hash, r.n_synth_train, r.n_obs_train, r.ranks, sum);
    ms_free(a);
    ms_free(b);
    ms_csn_record_free(&r);
    ms_csn_free(&net);
    return 0;
}

static int compare(char **argv)
{
    ms_csn n1, n2;
    ms_csn_record r1, r2;
    if (ms_csn_model_read(argv[2], &n1, &r1) != MS_OK || ms_csn_model_read(argv[3], &n2, &r2) != MS_OK) {
        fprintf(stderr, "csn_tool compare: %s\n", ms_error_message());
        return 1;
    }
    if (n1.gen.n != n2.gen.n || n1.dis.n != n2.dis.n || n1.n_pix != n2.n_pix) {
        fprintf(stderr, "csn_tool compare: different architectures\n");
        return 1;
    }
    const size_t B = 2, P = n1.n_pix;
    float *a1 = ms_malloc_array("a", B * P, sizeof(float)), *b1 = ms_malloc_array("b", B * P, sizeof(float));
    float *a2 = ms_malloc_array("a", B * P, sizeof(float)), *b2 = ms_malloc_array("b", B * P, sizeof(float));
    if (!a1 || !b1 || !a2 || !b2 || transfers(&n1, a1, b1, B) || transfers(&n2, a2, b2, B)) return 1;
    double worst = 0.0;
    for (size_t i = 0; i < B * P; i++) {
        worst = fmax(worst, fabs((double)a1[i] - a2[i]));
        worst = fmax(worst, fabs((double)b1[i] - b2[i]));
    }
    double rtol = atof(argv[4]);
    printf("largest transfer difference %.3g (tolerance %.3g)\n", worst, rtol);
    return worst <= rtol ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 6 && strcmp(argv[1], "make-observed") == 0) return make_observed(argv);
    if (argc == 3 && strcmp(argv[1], "info") == 0) return info(argv);
    if (argc == 5 && strcmp(argv[1], "compare") == 0) return compare(argv);
    fprintf(stderr, "usage: csn_tool make-observed PATH N N_PIX SEED | info MODEL | compare A B "
                    "RTOL\n");
    return 2;
}
