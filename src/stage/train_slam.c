/* train_slam.c: the driver of `mstars train-slam` (slam_job.h). */
#include "slam_stage.h"

#include "mstars/catalog.h"
#include "mstars/h5.h"
#include "mstars/hash.h"
#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/par.h"
#include "mstars/slam_job.h"
#include "mstars/workq.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* The search table <out>.search.h5: one row per pixel (the checkpoint). */
#define S(name, type, field, desc) {"/search/" name, type, 0, offsetof(ms_slam_pixel, field), "", desc}
static const ms_catalog_column search_columns[] = {
    S("c", MS_H5_F64, c, "SVR penalty C chosen by CV"),
    S("epsilon", MS_H5_F64, epsilon, "SVR tube radius chosen by CV (standardised flux)"),
    S("gamma", MS_H5_F64, gamma, "RBF gamma chosen by CV (standardised labels)"),
    S("cv_mse", MS_H5_F64, cv_mse, "k-fold CV MSE (standardised flux, L21 Eq. 1)"),
    S("flux_mean", MS_H5_F64, flux_mean, "flux standardisation mean"),
    S("flux_scale", MS_H5_F64, flux_scale, "flux standardisation scale"),
    S("n_train", MS_H5_I32, n_train, "training spectra usable at the pixel"),
    S("n_fits", MS_H5_I32, n_fits, "SVR fits of the search"),
    S("status", MS_H5_I32, status, "0 ok, 1 masked, 2 too few spectra, 3 flat flux"),
    {NULL, 0, 0, 0, NULL, NULL},
};
#undef S

typedef struct {
    ms_slam_trainer *tr;
    ms_catalog *cat;
    size_t n_pix, chunk;
    ms_slam_pixel *buf; /* [chunk] */
    long fits;
} train_ctx;

static ms_status do_chunk(void *vctx, size_t chunk, long *n_failed)
{
    train_ctx *c = vctx;
    size_t p0 = chunk * c->chunk, n = c->n_pix - p0 < c->chunk ? c->n_pix - p0 : c->chunk;
    for (size_t k = 0; k < n; k++) {
        MS_TRY(ms_slam_train_pixel(c->tr, p0 + k, &c->buf[k]));
        c->fits += c->buf[k].n_fits;
        if (c->buf[k].status == 2 || c->buf[k].status == 3) (*n_failed)++;
    }
    return ms_catalog_write_chunk(c->cat, chunk, p0, n, c->buf);
}

/* Read the committed search table back (every rank). */
static ms_status read_search(const char *path, ms_slam_pixel *px, size_t P)
{
    ms_h5 *f;
    MS_TRY(ms_h5_open_read(path, 0, &f));
    double *d = ms_malloc_array("slam.read", P + 1, sizeof(double));
    int32_t *i32 = ms_malloc_array("slam.read", P + 1, sizeof(int32_t));
    ms_status st = d && i32 ? MS_OK : MS_ENOMEM;
    for (const ms_catalog_column *c = search_columns; st == MS_OK && c->name; c++) {
        int dbl = c->type == MS_H5_F64;
        st = ms_h5_read_rows(f, c->name, c->type, 0, 0, P, dbl ? (void *)d : (void *)i32);
        for (size_t j = 0; st == MS_OK && j < P; j++) {
            char *dst = (char *)&px[j] + c->offset;
            if (dbl) memcpy(dst, &d[j], sizeof(double));
            else memcpy(dst, &i32[j], sizeof(int32_t));
        }
    }
    ms_free(d);
    ms_free(i32);
    ms_status cst = ms_h5_close(f);
    return st == MS_OK ? cst : st;
}

ms_status ms_slam_train_job(const ms_config *cfg, const ms_slam_train_job_opts *o)
{
    double t0 = ms_par_wtime();
    ms_slam_trainset s;
    ms_status st = ms_par_any_failed(ms_slam_trainset_load(&o->ts, &s));
    if (st != MS_OK) return st;
    const size_t P = s.n_pix, N = s.n;
    ms_slam_train_set t = ms_slam_trainset_view(&s);
    char hash[17], grid_text[512];
    ms_slam_train_hash(&t, hash);
    ms_slam_grid_describe(&o->grid, grid_text, sizeof grid_text);
    ms_log0_info("train-slam: %zu training spectra of %s joined to %s, %zu labels, %zu pixels; "
                 "training set %s; grid %s; %d rank(s)", N, o->ts.store, o->ts.labels, s.n_labels,
                 P, hash, grid_text, ms_par_size());
    ms_slam_trainer *tr = NULL;
    st = ms_par_any_failed(ms_slam_trainer_alloc(&t, &o->grid, &tr));
    ms_slam_pixel *px = NULL, *buf = NULL;
    double *coef = NULL, *b = NULL;
    uint8_t *done = NULL;
    size_t *pending = NULL;
    ms_slam_model m;
    ms_slam_model_init(&m);
    char search_path[MS_CFG_STR_MAX + 16];
    snprintf(search_path, sizeof search_path, "%s.search.h5", o->out);
    const size_t chunk = o->pixels_per_chunk ? o->pixels_per_chunk : 16;
    const size_t n_chunks = (P + chunk - 1) / chunk;
    int complete = 0;
    if (st == MS_OK) {
        px = ms_calloc("slam.px", P, sizeof *px);
        buf = ms_calloc("slam.buf", chunk, sizeof *buf);
        coef = ms_malloc_array("slam.coef", P * N, sizeof(double));
        b = ms_malloc_array("slam.b", P, sizeof(double));
        pending = ms_malloc_array("slam.pending", n_chunks + 1, sizeof *pending);
        st = ms_par_any_failed(px && buf && coef && b && pending ? MS_OK : MS_ENOMEM);
    }
    if (st == MS_OK) {
        /* the search, journalled: a resumed run must have the same training set and grid */
        uint64_t h = ms_hash_bytes(MS_HASH_INIT, hash, sizeof hash);
        h = ms_hash_bytes(h, grid_text, strlen(grid_text));
        ms_catalog_opts co = {search_path, search_columns, sizeof(ms_slam_pixel), P, chunk, h,
                              o->resume};
        ms_catalog *cat = NULL;
        st = ms_catalog_open(&co, &cat, &done);
        size_t n_pending = 0, pix_pending = 0;
        for (size_t k = 0; st == MS_OK && k < n_chunks; k++)
            if (!done[k]) {
                pending[n_pending++] = k;
                pix_pending += k + 1 == n_chunks ? P - k * chunk : chunk;
            }
        if (st == MS_OK && n_pending < n_chunks)
            ms_log0_info("train-slam: resume: %zu of %zu pixel chunks were searched by earlier runs",
                         n_chunks - n_pending, n_chunks);
        if (st == MS_OK) {
            train_ctx c = {tr, cat, P, chunk, buf, 0};
            ms_workq_opts wo = {pending, n_pending, chunk, pix_pending, cfg->run.progress_seconds,
                                cfg->run.max_runtime, "pixels"};
            ms_workq_stats ws;
            st = ms_workq_run(&wo, do_chunk, &c, &ws);
            complete = st == MS_OK;
            if (st == MS_EINTERRUPTED) st = MS_OK;
            long fits = c.fits;
            if (st == MS_OK) st = ms_par_allreduce_sum_l(&fits, 1);
            if (st == MS_OK)
                ms_log0_info("train-slam: search %s in %.1f s: %ld SVR fits (%.0f per pixel searched)",
                             complete ? "finished" : "stopped", ms_par_wtime() - t0, fits,
                             pix_pending ? (double)fits / (double)pix_pending : 0.0);
            if (complete && st == MS_OK) {
                ms_status ast = ms_h5_attr_set_str(ms_catalog_file(cat), "/", "grid", grid_text);
                if (ast == MS_OK) ast = ms_h5_attr_set_str(ms_catalog_file(cat), "/", "train_hash", hash);
                st = ms_par_any_failed(ast);
            }
            ms_status fst = ms_catalog_finish(cat, complete && st == MS_OK);
            if (st == MS_OK) st = fst;
        }
    }
    if (st == MS_OK && !complete) {
        ms_log0_info("train-slam: stopped before the end (signal or max runtime); the search is "
                     "journalled: rerun the same command with --resume");
        st = MS_EINTERRUPTED;
    }
    if (st == MS_OK) st = ms_par_any_failed(read_search(search_path, px, P));
    if (st == MS_OK) {
        double t1 = ms_par_wtime();
        st = ms_slam_stage_final_fits(tr, px, P, N, coef, b);
        if (st == MS_OK) ms_log0_info("train-slam: final SVRs in %.1f s", ms_par_wtime() - t1);
    }
    if (st == MS_OK && ms_par_rank() == 0) {
        st = ms_slam_model_assemble(&t, tr, &o->grid, s.wavelength, px, coef, b, &m);
        if (st == MS_OK) st = ms_slam_model_write(o->out, &m, cfg, o->command);
    }
    st = ms_par_agree(st);
    if (st == MS_OK) {
        size_t ok = 0, nsv = 0;
        double mse = 0;
        for (size_t j = 0; j < P; j++)
            if (px[j].status == 0) {
                ok++;
                mse += px[j].cv_mse;
                for (size_t i = 0; i < N; i++) nsv += coef[j * N + i] != 0;
            }
        ms_log0_info("train-slam: %zu of %zu pixels modelled, mean CV-MSE %.4f (standardised), "
                     "%.1f support vectors per pixel of %zu; wrote %s in %.1f s", ok, P,
                     ok ? mse / (double)ok : NAN, ok ? (double)nsv / (double)ok : 0.0, N, o->out,
                     ms_par_wtime() - t0);
    }
    ms_slam_model_free(&m);
    ms_free(px);
    ms_free(buf);
    ms_free(coef);
    ms_free(b);
    ms_free(done);
    ms_free(pending);
    ms_slam_trainer_free(tr);
    ms_slam_trainset_free(&s);
    return st;
}
