/* csn_h5.c: Cycle-StarNet checkpoints and model files (csn.h), HDF5 through h5.h.
 *
 * Model file layout:
 *   /generator/<tensor>      float32 [d0, d1 * d2] (PyTorch layout; attribute "shape")
 *   /discriminator/<tensor>  float32 [d0, d1 * d2]
 *   /spectra/wavelength      float64 [n_pix] (when known)
 *   /training/history        float64 [n, columns] (attribute "columns": the names)
 * Root attributes: provenance (h5.h), kind = "mstars-csn", format_version, csn_settings
 * (every csn.* key as key=value lines: ms_csn_model_read rebuilds the network from them),
 * n_pix, flux_mean_std, layout_hash (hex FNV-1a of the tensor table and lengths),
 * emulator_hash, emulator_path, observed_path, and the training record (train_*).
 *
 * Checkpoint layout: /gen/param, /gen/moments, /dis/param, /dis/moments (the flat buffers,
 * padding included), /history; attributes kind = "mstars-csn-checkpoint", csn_settings,
 * layout_hash, iteration, seconds, steps (Adam steps of both sides), flux_mean_std. */
#include "mstars/csn.h"
#include "mstars/schema.h"
#include "mstars/h5.h"
#include "mstars/hash.h"
#include "mstars/mem.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define KIND_MODEL "mstars-csn"
#define KIND_CKPT "mstars-csn-checkpoint"
#define FORMAT_VERSION 1

/* Every csn.* key of c as "csn.key=value\n" lines (ms_free the result). */
static ms_status settings_text(const ms_cfg_csn *c, char **out)
{
    ms_config cfg;
    MS_TRY(ms_config_defaults(&cfg));
    cfg.csn = *c;
    size_t cap = 1 << 14, len = 0;
    char *s = ms_malloc("csn.settings", cap);
    if (!s) return MS_ENOMEM;
    s[0] = '\0';
    for (const ms_cfg_key *k = ms_config_keys; k->key; k++) {
        if (strncmp(k->key, "csn.", 4) != 0) continue;
        char val[MS_CFG_LIST_MAX * 32 + MS_CFG_STR_MAX];
        ms_config_format_value(&cfg, k, val, sizeof val);
        size_t need = strlen(k->key) + strlen(val) + 3;
        if (len + need >= cap) {
            char *t = ms_realloc("csn.settings", s, 2 * cap + need);
            if (!t) {
                ms_free(s);
                return MS_ENOMEM;
            }
            s = t;
            cap = 2 * cap + need;
        }
        len += (size_t)snprintf(s + len, cap - len, "%s=%s\n", k->key, val);
    }
    *out = s;
    return MS_OK;
}

static ms_status settings_apply(const char *path, const char *text, ms_cfg_csn *out)
{
    ms_config cfg;
    MS_TRY(ms_config_defaults(&cfg));
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        char line[MS_CFG_LIST_MAX * 32 + 2 * MS_CFG_STR_MAX];
        if (n >= sizeof line) MS_ERROR(MS_EFORMAT, "%s: csn_settings line too long", path);
        memcpy(line, p, n);
        line[n] = '\0';
        /* an empty string value is written as key= */
        if (n > 0 && ms_config_set(&cfg, line) != MS_OK)
            MS_ERROR(MS_EFORMAT, "%s: csn_settings: %s", path, ms_error_message());
        p += n + (nl ? 1 : 0);
    }
    *out = cfg.csn;
    return MS_OK;
}

static uint64_t hash_params(uint64_t h, const ms_nn_params *p)
{
    h = ms_hash_bytes(h, &p->n_tensors, sizeof p->n_tensors);
    for (size_t i = 0; i < p->n_tensors; i++) {
        const ms_nn_tensor *t = &p->t[i];
        h = ms_hash_bytes(h, t->name, strlen(t->name));
        h = ms_hash_bytes(h, t->shape, sizeof t->shape);
        h = ms_hash_bytes(h, &t->offset, sizeof t->offset);
    }
    return h;
}

static void layout_hash(const ms_csn *net, char hex[17])
{
    uint64_t h = MS_HASH_INIT;
    const uint64_t dims[4] = {net->n_pix, net->n_len, net->z_len, (uint64_t)net->crop};
    h = ms_hash_bytes(h, dims, sizeof dims);
    h = hash_params(h, &net->gen);
    h = hash_params(h, &net->dis);
    ms_hash_hex(h, hex);
}

static ms_status write_common(ms_h5 *f, const ms_csn *net, const char *kind,
                              const ms_config *cfg, const char *command)
{
    ms_config def;
    if (!cfg) {
        MS_TRY(ms_config_defaults(&def));
        def.csn = net->cfg;
        cfg = &def;
    }
    MS_TRY(ms_h5_write_provenance(f, cfg, command));
    MS_TRY(ms_h5_attr_set_str(f, "/", "kind", kind));
    int64_t v = FORMAT_VERSION;
    MS_TRY(ms_h5_attr_set_i64(f, "/", "format_version", &v, 1));
    char *txt;
    MS_TRY(settings_text(&net->cfg, &txt));
    ms_status st = ms_h5_attr_set_str(f, "/", "csn_settings", txt);
    ms_free(txt);
    MS_TRY(st);
    int64_t np = (int64_t)net->n_pix;
    MS_TRY(ms_h5_attr_set_i64(f, "/", "n_pix", &np, 1));
    char hex[17];
    layout_hash(net, hex);
    MS_TRY(ms_h5_attr_set_str(f, "/", "layout_hash", hex));
    double ms[2] = {net->mean, net->std};
    MS_TRY(ms_h5_attr_set_f64(f, "/", "flux_mean_std", ms, 2));
    return MS_OK;
}

static ms_status write_history(ms_h5 *f, const ms_csn_history *h, const char *name)
{
    if (h->n == 0) return MS_OK;
    const size_t dims[2] = {h->n, MS_CSN_H_COLS};
    MS_TRY(ms_h5_write_array(f, name, MS_H5_F64, 0, 2, dims, h->v, "",
                             "one row per validation; columns in the attribute 'columns'"));
    char cols[1024];
    size_t len = 0;
    for (int k = 0; k < MS_CSN_H_COLS; k++)
        len += (size_t)snprintf(cols + len, sizeof cols - len, "%s%s", k ? "," : "",
                                ms_csn_hist_names[k]);
    return ms_h5_attr_set_str(f, name, "columns", cols);
}

static ms_status read_history(ms_h5 *f, const char *name, ms_csn_history *h)
{
    ms_csn_history_free(h);
    if (!ms_h5_exists(f, name)) return MS_OK;
    int rank;
    size_t dims[2] = {0, 0};
    MS_TRY(ms_h5_dims(f, name, &rank, dims));
    if (rank != 2 || dims[1] != MS_CSN_H_COLS)
        MS_ERROR(MS_EFORMAT, "%s: %s has %zu columns, expected %d", ms_h5_path(f), name,
                 rank == 2 ? dims[1] : (size_t)1, MS_CSN_H_COLS);
    if (dims[0] == 0) return MS_OK;
    h->v = ms_malloc_array("csn.history", dims[0] * MS_CSN_H_COLS, sizeof(double));
    if (!h->v) return MS_ENOMEM;
    h->n = h->cap = dims[0];
    return ms_h5_read_rows(f, name, MS_H5_F64, 0, 0, dims[0], h->v);
}

static ms_status check_kind(ms_h5 *f, const char *kind, const char *hint)
{
    if (!ms_h5_is_kind(f, kind))
        MS_ERROR(MS_EFORMAT, "%s: not an mstars %s file (kind is not %s) ---> HINT: %s",
                 ms_h5_path(f), kind, kind, hint);
    return ms_h5_check_version(f, NULL, FORMAT_VERSION);
}

static ms_status read_mean_std(ms_h5 *f, ms_csn *net)
{
    double ms[2];
    size_t n;
    MS_TRY(ms_h5_attr_get_f64(f, "/", "flux_mean_std", ms, 2, &n));
    if (n != 2 || !(ms[1] > 0.0))
        MS_ERROR(MS_EFORMAT, "%s: bad flux_mean_std attribute", ms_h5_path(f));
    net->mean = (float)ms[0];
    net->std = (float)ms[1];
    return MS_OK;
}

/* ------------------------------------------------------------------------------------- */
/* Checkpoints */

static ms_status ckpt_write(ms_h5 *f, const ms_csn *net, const ms_csn_state *st)
{
    MS_TRY(write_common(f, net, KIND_CKPT, NULL, "csn checkpoint"));
    int64_t iv[3] = {st->iteration, st->gen.step, st->dis.step};
    MS_TRY(ms_h5_attr_set_i64(f, "/", "iteration_steps", iv, 3));
    MS_TRY(ms_h5_attr_set_f64(f, "/", "seconds", &st->seconds, 1));
    const size_t ng = net->gen.n, nd = net->dis.n, ng2 = 2 * ng, nd2 = 2 * nd;
    MS_TRY(ms_h5_write_array(f, "/gen/param", MS_H5_F32, 0, 1, &ng, net->gen.param, "",
                             "generator-side flat parameter buffer"));
    MS_TRY(ms_h5_write_array(f, "/gen/moments", MS_H5_F32, 0, 1, &ng2, st->gen.moments, "",
                             "Adam m then v"));
    MS_TRY(ms_h5_write_array(f, "/dis/param", MS_H5_F32, 0, 1, &nd, net->dis.param, "",
                             "discriminator flat parameter buffer"));
    MS_TRY(ms_h5_write_array(f, "/dis/moments", MS_H5_F32, 0, 1, &nd2, st->dis.moments, "",
                             "Adam m then v"));
    return write_history(f, &st->hist, "/history");
}

ms_status ms_csn_checkpoint_write(const char *path, const ms_csn *net, const ms_csn_state *st)
{
    ms_h5 *f;
    MS_TRY(ms_h5_create(path, 0, &f));
    return ms_h5_commit_or_abort(f, ckpt_write(f, net, st));
}

static ms_status ckpt_read(ms_h5 *f, ms_csn *net, ms_csn_state *st)
{
    const char *path = ms_h5_path(f);
    MS_TRY(check_kind(f, KIND_CKPT, "give the checkpoint written by train-csn --checkpoint"));
    char *h = NULL, hex[17];
    MS_TRY(ms_h5_attr_get_str(f, "/", "layout_hash", &h));
    layout_hash(net, hex);
    int same = strcmp(h, hex) == 0;
    ms_free(h);
    if (!same)
        MS_ERROR(MS_EFORMAT, "%s: the checkpoint's architecture differs from the configured one "
                             "---> HINT: resume with the configuration of the interrupted run",
                 path);
    int64_t iv[3];
    size_t n;
    MS_TRY(ms_h5_attr_get_i64(f, "/", "iteration_steps", iv, 3, &n));
    if (n != 3 || iv[0] < 0) MS_ERROR(MS_EFORMAT, "%s: bad iteration_steps attribute", path);
    MS_TRY(ms_h5_attr_get_f64(f, "/", "seconds", &st->seconds, 1, &n));
    MS_TRY(read_mean_std(f, net));
    MS_TRY(ms_h5_read_exact(f, "/gen/param", MS_H5_F32, 0, net->gen.n, 0, net->gen.param));
    MS_TRY(ms_h5_read_exact(f, "/gen/moments", MS_H5_F32, 0, 2 * net->gen.n, 0, st->gen.moments));
    MS_TRY(ms_h5_read_exact(f, "/dis/param", MS_H5_F32, 0, net->dis.n, 0, net->dis.param));
    MS_TRY(ms_h5_read_exact(f, "/dis/moments", MS_H5_F32, 0, 2 * net->dis.n, 0, st->dis.moments));
    st->iteration = iv[0];
    st->gen.step = iv[1];
    st->dis.step = iv[2];
    return read_history(f, "/history", &st->hist);
}

ms_status ms_csn_checkpoint_read(const char *path, ms_csn *net, ms_csn_state *st)
{
    ms_h5 *f;
    MS_TRY(ms_h5_open_read(path, 0, &f));
    ms_status s = ckpt_read(f, net, st);
    ms_h5_close(f);
    return s;
}

/* ------------------------------------------------------------------------------------- */
/* Model files */

void ms_csn_record_free(ms_csn_record *r)
{
    ms_free(r->wavelength);
    ms_csn_history_free(&r->hist);
    memset(r, 0, sizeof *r);
}

static ms_status write_tensors(ms_h5 *f, const ms_nn_params *p, const char *group)
{
    for (size_t i = 0; i < p->n_tensors; i++) {
        const ms_nn_tensor *t = &p->t[i];
        char name[96];
        snprintf(name, sizeof name, "/%s/%s", group, t->name);
        size_t dims[2] = {t->shape[0], t->size / t->shape[0]};
        MS_TRY(ms_h5_write_array(f, name, MS_H5_F32, 0, 2, dims, ms_nn_param(p, i), "",
                                 "weights in PyTorch's layout (attribute shape)"));
        int64_t shape[MS_NN_MAX_DIMS];
        for (int d = 0; d < t->ndim; d++) shape[d] = (int64_t)t->shape[d];
        MS_TRY(ms_h5_attr_set_i64(f, name, "shape", shape, (size_t)t->ndim));
    }
    return MS_OK;
}

static ms_status read_tensors(ms_h5 *f, ms_nn_params *p, const char *group)
{
    for (size_t i = 0; i < p->n_tensors; i++) {
        const ms_nn_tensor *t = &p->t[i];
        char name[96];
        snprintf(name, sizeof name, "/%s/%s", group, t->name);
        MS_TRY(ms_h5_read_exact(f, name, MS_H5_F32, 0, t->shape[0], t->size / t->shape[0],
                          ms_nn_param(p, i)));
    }
    return MS_OK;
}

static ms_status model_write(ms_h5 *f, const ms_csn *net, const ms_csn_record *r,
                             const ms_config *cfg, const char *command)
{
    MS_TRY(write_common(f, net, KIND_MODEL, cfg, command));
    MS_TRY(write_tensors(f, &net->gen, "generator"));
    MS_TRY(write_tensors(f, &net->dis, "discriminator"));
    if (r->wavelength) {
        size_t P = net->n_pix;
        MS_TRY(ms_h5_write_array(f, MS_STORE_WAVELENGTH, MS_H5_F64, 0, 1, &P, r->wavelength, "A",
                                 "wavelength of each pixel (vacuum, rest frame)"));
    }
    MS_TRY(write_history(f, &r->hist, "/training/history"));
    MS_TRY(ms_h5_attr_set_str(f, "/", "emulator_hash", r->emulator_hash));
    MS_TRY(ms_h5_attr_set_str(f, "/", "emulator_path", r->emulator_path));
    MS_TRY(ms_h5_attr_set_str(f, "/", "observed_path", r->observed_path));
    int64_t iv[4] = {r->n_synth_train, r->n_obs_train, r->ranks, r->seed};
    MS_TRY(ms_h5_attr_set_i64(f, "/", "train_nsynth_nobs_ranks_seed", iv, 4));
    MS_TRY(ms_h5_attr_set_f64(f, "/", "train_seconds", &r->train_seconds, 1));
    return MS_OK;
}

ms_status ms_csn_model_write(const char *path, const ms_csn *net, const ms_csn_record *rec,
                             const ms_config *cfg, const char *command)
{
    ms_h5 *f;
    MS_TRY(ms_h5_create(path, 0, &f));
    return ms_h5_commit_or_abort(f, model_write(f, net, rec, cfg, command));
}

static void get_str(ms_h5 *f, const char *name, char *buf, size_t len)
{
    char *s = NULL;
    if (ms_h5_attr_get_str(f, "/", name, &s) == MS_OK) {
        snprintf(buf, len, "%s", s);
        ms_free(s);
    }
}

static ms_status model_read(ms_h5 *f, ms_csn *net, ms_csn_record *r)
{
    const char *path = ms_h5_path(f);
    MS_TRY(check_kind(f, KIND_MODEL, "train one with `mstars train-csn`"));
    char *txt = NULL;
    MS_TRY(ms_h5_attr_get_str(f, "/", "csn_settings", &txt));
    ms_cfg_csn cfg;
    ms_status st = settings_apply(path, txt, &cfg);
    ms_free(txt);
    MS_TRY(st);
    int64_t np = 0;
    size_t n;
    MS_TRY(ms_h5_attr_get_i64(f, "/", "n_pix", &np, 1, &n));
    if (np < 1) MS_ERROR(MS_EFORMAT, "%s: bad n_pix attribute", path);
    MS_TRY(ms_csn_init(net, &cfg, (size_t)np));
    char *h = NULL, hex[17];
    MS_TRY(ms_h5_attr_get_str(f, "/", "layout_hash", &h));
    layout_hash(net, hex);
    int same = strcmp(h, hex) == 0;
    ms_free(h);
    if (!same)
        MS_ERROR(MS_EFORMAT, "%s: the stored layout does not match the one its settings build "
                             "(written by another mstars version?)",
                 path);
    MS_TRY(read_mean_std(f, net));
    MS_TRY(read_tensors(f, &net->gen, "generator"));
    MS_TRY(read_tensors(f, &net->dis, "discriminator"));
    if (ms_h5_exists(f, MS_STORE_WAVELENGTH)) {
        r->wavelength = ms_malloc_array("csn.wavelength", (size_t)np, sizeof(double));
        if (!r->wavelength) return MS_ENOMEM;
        MS_TRY(ms_h5_read_exact(f, MS_STORE_WAVELENGTH, MS_H5_F64, 0, (size_t)np, 0, r->wavelength));
    }
    MS_TRY(read_history(f, "/training/history", &r->hist));
    get_str(f, "emulator_hash", r->emulator_hash, sizeof r->emulator_hash);
    get_str(f, "emulator_path", r->emulator_path, sizeof r->emulator_path);
    get_str(f, "observed_path", r->observed_path, sizeof r->observed_path);
    int64_t iv[4];
    if (ms_h5_attr_get_i64(f, "/", "train_nsynth_nobs_ranks_seed", iv, 4, &n) == MS_OK && n == 4) {
        r->n_synth_train = iv[0];
        r->n_obs_train = iv[1];
        r->ranks = iv[2];
        r->seed = iv[3];
    }
    if (ms_h5_attr_get_f64(f, "/", "train_seconds", &r->train_seconds, 1, &n) != MS_OK)
        r->train_seconds = 0.0;
    ms_error_clear();
    return MS_OK;
}

ms_status ms_csn_model_read(const char *path, ms_csn *net, ms_csn_record *rec)
{
    memset(rec, 0, sizeof *rec);
    memset(net, 0, sizeof *net);
    ms_h5 *f;
    MS_TRY(ms_h5_open_read(path, 0, &f));
    ms_status st = model_read(f, net, rec);
    ms_h5_close(f);
    if (st != MS_OK) {
        ms_csn_free(net);
        ms_csn_record_free(rec);
        return st;
    }
    /* a model file serves inference (the fit): one GEMM per sample in every stack, whatever
     * csn.exact_sums was in training, so that a spectrum's numbers do not depend on the
     * spectra that share its batch (the side-by-side GEMM's columns change with its width) */
    ms_csn_set_per_sample(net, 1);
    return MS_OK;
}
