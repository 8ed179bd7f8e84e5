/* train_csn.c: the driver of `mstars train-csn` (Z25 3; csn.h): read the emulator and the
 * observed store, draw the synthetic set (emulator spectra at Z25 3.3.2 labels), train
 * Cycle-StarNet data-parallel with this job's ms_comm, report the test split, write the model. */
#include "mstars/stage.h"
#include "mstars/csn.h"
#include "mstars/h5.h"
#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/par.h"
#include "mstars/payne.h"
#include "mstars/schema.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Both domains' sets, split train : validation : test. */
typedef struct {
    size_t n_pix;
    double *wavelength;                /* [n_pix] */
    float *obs_flux, *obs_err;         /* [n_obs, n_pix] */
    float *syn_flux;                   /* [n_syn, n_pix] */
    double *syn_labels;                /* [n_syn, 4] */
    size_t n_obs, n_syn;
    size_t obs_split[3], syn_split[3]; /* counts of train, validation, test */
} sets_t;

static void sets_free(sets_t *s)
{
    ms_free(s->wavelength);
    ms_free(s->obs_flux);
    ms_free(s->obs_err);
    ms_free(s->syn_flux);
    ms_free(s->syn_labels);
    memset(s, 0, sizeof *s);
}

static void split_counts(const ms_cfg_list *split, size_t n, size_t out[3])
{
    double tot = 0.0, f[3] = {8, 2, 1};
    if (split->n == 3) memcpy(f, split->v, sizeof f);
    for (int k = 0; k < 3; k++) tot += f[k];
    out[1] = (size_t)floor((double)n * f[1] / tot + 0.5);
    out[2] = (size_t)floor((double)n * f[2] / tot + 0.5);
    if (out[1] + out[2] > n) out[1] = out[2] = 0;
    out[0] = n - out[1] - out[2];
}

/* The observed set: a random subset (general.seed) of the usable rows, no S/N cut. Every
 * rank reads the same rows. */
static ms_status load_observed(const ms_config *cfg, const char *path, sets_t *s)
{
    ms_h5 *f;
    MS_TRY(ms_h5_open_read(path, 0, &f));
    ms_status st = MS_OK;
    int rank;
    size_t dims[2] = {0, 0};
    int32_t *status = NULL;
    size_t *rows = NULL;
    float *ivar = NULL;
    if ((st = ms_h5_dims(f, MS_STORE_FLUX, &rank, dims)) != MS_OK) goto done;
    if (rank != 2 || dims[0] == 0) {
        st = ms_error_set(MS_EFORMAT, __FILE__, __LINE__, "%s: /spectra/flux is not N x n_pix",
                          path);
        goto done;
    }
    const size_t N = dims[0], P = dims[1];
    s->n_pix = P;
    s->wavelength = ms_malloc_array("csn.wave", P, sizeof(double));
    status = ms_calloc("csn.status", N, sizeof(int32_t));
    rows = ms_malloc_array("csn.rows", N, sizeof(size_t));
    if (!s->wavelength || !status || !rows) {
        st = MS_ENOMEM;
        goto done;
    }
    if ((st = ms_h5_read_rows(f, MS_STORE_WAVELENGTH, MS_H5_F64, 0, 0, P, s->wavelength)) != MS_OK)
        goto done;
    if (ms_h5_exists(f, MS_META_STATUS) &&
        (st = ms_h5_read_rows(f, MS_META_STATUS, MS_H5_I32, 0, 0, N, status)) != MS_OK)
        goto done;
    size_t n_ok = 0;
    for (size_t i = 0; i < N; i++)
        if (status[i] == 0) rows[n_ok++] = i;
    if (n_ok < 3) {
        st = ms_error_set(MS_EFORMAT, __FILE__, __LINE__, "%s: %zu usable spectra; train-csn "
                                                          "needs at least 3", path, n_ok);
        goto done;
    }
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, (uint64_t)cfg->general.seed ^ 0x4f4253u);
    ms_nn_rng_shuffle(&rng, rows, n_ok);
    size_t n = (size_t)cfg->csn.n_observed < n_ok ? (size_t)cfg->csn.n_observed : n_ok;
    s->n_obs = n;
    split_counts(&cfg->csn.split, n, s->obs_split);
    s->obs_flux = ms_malloc_array("csn.obs.flux", n * P, sizeof(float));
    s->obs_err = ms_malloc_array("csn.obs.err", n * P, sizeof(float));
    ivar = ms_malloc_array("csn.obs.ivar", P, sizeof(float));
    if (!s->obs_flux || !s->obs_err || !ivar) {
        st = MS_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < n && st == MS_OK; i++) {
        st = ms_h5_read_rows(f, MS_STORE_FLUX, MS_H5_F32, 0, rows[i], 1, s->obs_flux + i * P);
        if (st == MS_OK) st = ms_h5_read_rows(f, MS_STORE_IVAR, MS_H5_F32, 0, rows[i], 1, ivar);
        for (size_t p = 0; st == MS_OK && p < P; p++)
            s->obs_err[i * P + p] = ivar[p] > 0.0f && isfinite(ivar[p]) ? 1.0f / sqrtf(ivar[p]) : NAN;
    }
done:
    ms_h5_close(f);
    ms_free(status);
    ms_free(rows);
    ms_free(ivar);
    return st;
}

/* The synthetic set: Z25 3.3.2 labels, emulated; ranks share the work (sum all-reduce). */
static ms_status make_synthetic(const ms_config *cfg, const ms_emulator *e, const char *ref,
                                sets_t *s)
{
    const size_t P = s->n_pix, n = cfg->csn.n_synthetic > 0 ? (size_t)cfg->csn.n_synthetic : s->n_obs;
    s->n_syn = n;
    split_counts(&cfg->csn.split, n, s->syn_split);
    s->syn_labels = ms_malloc_array("csn.syn.labels", n * 4, sizeof(double));
    s->syn_flux = ms_calloc("csn.syn.flux", n * P, sizeof(float));
    if (!s->syn_labels || !s->syn_flux) return MS_ENOMEM;
    /* the emulator's training range bounds the four labels it takes */
    const char *const *names = ms_label_names;
    double lo[4] = {-1e30, -1e30, -1e30, -1e30}, hi[4] = {1e30, 1e30, 1e30, 1e30};
    int idx[4];
    for (int d = 0; d < 4; d++) {
        idx[d] = ms_emulator_label_index(e, names[d]);
        if (idx[d] >= 0) lo[d] = e->x_min[idx[d]], hi[d] = e->x_max[idx[d]];
    }
    MS_TRY(ms_csn_sample_labels(&cfg->csn, (uint64_t)cfg->general.seed ^ 0x53594eu, ref, lo, hi,
                                n, s->syn_labels));
    const size_t D = ms_emulator_n_labels(e), chunk = 256;
    ms_payne_ws *ws;
    MS_TRY(ms_payne_ws_alloc(&e->net, chunk, 0, &ws));
    double *y = ms_malloc_array("csn.syn.y", chunk * D, sizeof(double));
    if (!y) {
        ms_payne_ws_free(ws);
        return MS_ENOMEM;
    }
    /* fixed chunks of the whole set, dealt round-robin: the same batches (and so the same
     * float results) for any rank count */
    ms_status st = MS_OK;
    const size_t stride = chunk * (size_t)ms_par_size();
    for (size_t i0 = chunk * (size_t)ms_par_rank(); i0 < n && st == MS_OK; i0 += stride) {
        size_t nb = n - i0 < chunk ? n - i0 : chunk;
        for (size_t i = 0; i < nb; i++)
            for (int d = 0; d < 4; d++)
                if (idx[d] >= 0) y[i * D + (size_t)idx[d]] = s->syn_labels[(i0 + i) * 4 + (size_t)d];
        st = ms_emulator_predict(e, ws, y, nb, s->syn_flux + i0 * P, NULL);
    }
    ms_free(y);
    ms_payne_ws_free(ws);
    st = ms_par_any_failed(st);
    if (st == MS_OK) st = ms_par_allreduce_sum_f(s->syn_flux, n * P);
    return st;
}

int ms_stage_train_csn(const ms_config *cfg, const ms_train_csn_args *a)
{
    ms_emulator e;
    ms_emulator_init(&e);
    sets_t s;
    memset(&s, 0, sizeof s);
    ms_csn net;
    memset(&net, 0, sizeof net);
    ms_csn_state state;
    memset(&state, 0, sizeof state);
    int code = 1;
    ms_status st = ms_par_any_failed(ms_emulator_read(a->emulator, &e));
    if (st != MS_OK) goto fail;
    st = ms_par_any_failed(load_observed(cfg, a->observed, &s));
    if (st != MS_OK) goto fail;
    if (ms_emulator_n_pix(&e) != s.n_pix) {
        st = ms_error_set(MS_EINVAL, __FILE__, __LINE__,
                          "the emulator makes %zu pixels, the store has %zu ---> HINT: use the "
                          "same preprocess.wave_* settings for both",
                          ms_emulator_n_pix(&e), s.n_pix);
        goto fail;
    }
    for (size_t p = 0; p < s.n_pix; p++)
        if (fabs(e.wavelength[p] - s.wavelength[p]) > 1e-6 * s.wavelength[p]) {
            st = ms_error_set(MS_EINVAL, __FILE__, __LINE__,
                              "pixel %zu: the emulator's wavelength %.4f differs from the "
                              "store's %.4f",
                              p, e.wavelength[p], s.wavelength[p]);
            goto fail;
        }
    if ((st = make_synthetic(cfg, &e, a->reference, &s)) != MS_OK) goto fail;
    ms_log0_info("observed: %zu spectra of %s (train %zu, validation %zu, test %zu); synthetic: "
                 "%zu emulator spectra (train %zu, validation %zu, test %zu)",
                 s.n_obs, a->observed, s.obs_split[0], s.obs_split[1], s.obs_split[2], s.n_syn,
                 s.syn_split[0], s.syn_split[1], s.syn_split[2]);
    if (s.obs_split[0] == 0 || s.syn_split[0] == 0) {
        st = ms_error_set(MS_EINVAL, __FILE__, __LINE__, "empty training set (csn.split)");
        goto fail;
    }
    if ((st = ms_csn_init(&net, &cfg->csn, s.n_pix)) != MS_OK) goto fail;
    ms_nn_rng rng;
    ms_nn_rng_seed(&rng, (uint64_t)cfg->general.seed ^ 0x43534eu);
    ms_csn_init_weights(&net, &rng);
    if (!(cfg->csn.flux_std > 0.0))
        ms_csn_flux_stats(s.syn_flux, s.syn_split[0], s.n_pix, &net.mean, &net.std);
    char desc[512];
    ms_csn_describe(&net, desc, sizeof desc);
    ms_log0_info("%s; flux mean %.6f std %.6f; batch %ld per domain on %d rank(s)", desc,
                 net.mean, net.std, cfg->csn.batch_size, ms_par_size());
    if ((st = ms_csn_state_init(&state, &net)) != MS_OK) goto fail;
    const size_t P = s.n_pix, os = s.obs_split[0], ov = s.obs_split[1];
    const size_t ss = s.syn_split[0], sv = s.syn_split[1];
    ms_csn_sets sets = {
        {s.syn_flux, NULL, ss, P},
        {s.obs_flux, s.obs_err, os, P},
        {s.syn_flux + ss * P, NULL, sv, P},
        {s.obs_flux + os * P, s.obs_err + os * P, ov, P},
    };
    int resume = a->resume;
    if (resume) {
        FILE *fc = fopen(a->checkpoint, "rb");
        if (fc) fclose(fc);
        else {
            ms_log0_info("no checkpoint %s yet: starting from the beginning", a->checkpoint);
            resume = 0;
        }
    }
    ms_csn_train_opts o = {cfg->general.seed, a->checkpoint, resume, a->max_time, 0, ms_par_comm()};
    st = ms_csn_train(&net, &sets, &o, &state);
    if (st == MS_EINTERRUPTED) {
        ms_log0_warn("%s", ms_error_message());
        code = 3;
        goto fail;
    }
    if (st != MS_OK) goto fail;
    /* the test split: the same metrics as validation, on spectra never used */
    {
        ms_csn_step *step = NULL;
        size_t cap = ((size_t)cfg->csn.batch_size + (size_t)ms_par_size() - 1) / (size_t)ms_par_size();
        double row[MS_CSN_H_COLS];
        st = ms_csn_step_alloc(&net, cap, &step);
        const ms_csn_data ts = {s.syn_flux + (ss + sv) * P, NULL, s.syn_split[2], P};
        const ms_csn_data to = {s.obs_flux + (os + ov) * P, s.obs_err + (os + ov) * P, s.obs_split[2], P};
        if (st == MS_OK) st = ms_csn_validate(&net, step, &ts, &to, ts.n, ms_par_comm(), row);
        ms_csn_step_free(step);
        if (st != MS_OK) goto fail;
        ms_log0_info("test set: rec %.4g / %.4g, cycle %.4g / %.4g (synthetic / observed); "
                     "latent agreement z_sh %.3f / %.3f, z_sp %.3f, domains %.3f",
                     row[MS_CSN_H_VREC_S], row[MS_CSN_H_VREC_O], row[MS_CSN_H_VCYC_S],
                     row[MS_CSN_H_VCYC_O], row[MS_CSN_H_VZSH_S], row[MS_CSN_H_VZSH_O],
                     row[MS_CSN_H_VZSP], row[MS_CSN_H_VZSH_DOM]);
    }
    if (ms_par_rank() == 0) {
        ms_csn_record rec;
        memset(&rec, 0, sizeof rec);
        snprintf(rec.emulator_hash, sizeof rec.emulator_hash, "%s", e.content_hash);
        snprintf(rec.emulator_path, sizeof rec.emulator_path, "%s", a->emulator);
        snprintf(rec.observed_path, sizeof rec.observed_path, "%s", a->observed);
        rec.n_synth_train = (long)ss;
        rec.n_obs_train = (long)os;
        rec.ranks = ms_par_size();
        rec.seed = cfg->general.seed;
        rec.train_seconds = state.seconds;
        rec.wavelength = s.wavelength;
        rec.hist = state.hist;
        char command[3 * MS_CFG_STR_MAX + 64];
        snprintf(command, sizeof command, "mstars train-csn --emulator %s --observed %s --out %s",
                 a->emulator, a->observed, a->out);
        st = ms_csn_model_write(a->out, &net, &rec, cfg, command);
        if (st == MS_OK) st = ms_csn_checkpoint_write(a->checkpoint, &net, &state);
    }
    st = ms_par_agree(st);
    if (st != MS_OK) goto fail;
    ms_log0_info("wrote %s (emulator %s, %ld iterations, %.1f s)", a->out, e.content_hash,
                 state.iteration, state.seconds);
    code = 0;
fail:
        ms_csn_state_free(&state);
    ms_csn_free(&net);
    sets_free(&s);
    ms_emulator_free(&e);
    return code;
}

