/* cnn_trainer.c: the one driver of the CNN-engine trainers (cnn_trainer.h): train-cnn and
 * train-classifier are a set loader and a few hooks around ms_trainer_run. */
#include "cnn_trainer.h"

#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/par.h"

#include <stddef.h>
#include <string.h>

void ms_trainer_set_free(ms_trainer_set *s)
{
    ms_free(s->x);
    ms_free(s->y);
    ms_free(s->rows);
    memset(s, 0, sizeof *s);
}

int ms_trainer_exit_code(ms_status st)
{
    return st == MS_OK ? 0 : st == MS_EINTERRUPTED ? 3 : 1;
}

/* Rank 0's set to every rank. */
static ms_status bcast_set(ms_trainer *t, ms_trainer_set *s)
{
    MS_TRY(ms_par_bcast(s, offsetof(ms_trainer_set, x)));
    if (ms_par_rank() != 0) {
        s->x = ms_malloc_array("trainer.x", s->n * s->L + 1, sizeof(float));
        s->y = ms_malloc_array("trainer.y", s->n * s->D + 1, sizeof(double));
        s->rows = ms_malloc_array("trainer.rows", s->n + 1, sizeof(int64_t));
    }
    MS_TRY(ms_par_any_failed(s->x && s->y && s->rows ? MS_OK : MS_ENOMEM));
    MS_TRY(ms_par_bcast(s->x, s->n * s->L * sizeof(float)));
    MS_TRY(ms_par_bcast(s->y, s->n * s->D * sizeof(double)));
    MS_TRY(ms_par_bcast(s->rows, s->n * sizeof(int64_t)));
    return t->bcast ? t->bcast(t, s) : MS_OK;
}

ms_status ms_trainer_run(const ms_config *cfg, ms_trainer *t, ms_trainer_set *s,
                         ms_cnn_ensemble *e)
{
    ms_status st = MS_OK;
    if (ms_par_rank() == 0) st = t->load(t, s);
    st = ms_par_agree(st);
    if (st == MS_OK) st = bcast_set(t, s);
    if (st == MS_OK && s->n < 2 * t->folds)
        st = ms_error_set(MS_EINVAL, __FILE__, __LINE__, "%s: %zu training spectra are too few "
                          "for %zu folds", t->what, s->n, t->folds);
    if (st == MS_OK) {
        ms_cnn_train_opts o;
        ms_cnn_train_opts_default(&o);
        o.folds = t->folds;
        if (t->models) o.models = t->models;
        if (t->max_epochs) o.max_epochs = t->max_epochs;
        if (t->patience) o.patience = t->patience;
        o.seed = cfg->general.seed;
        o.checkpoint = t->checkpoint;
        o.resume = t->resume;
        o.max_seconds = t->max_seconds;
        o.comm = ms_par_comm();
        st = t->setup(t, s, &o, e);
        ms_cnn_data d = {s->x, s->y, s->rows, s->n, s->L, s->D};
        if (st == MS_OK) st = ms_cnn_train(&d, &o, e);
    }
    if (st == MS_EINTERRUPTED) {
        ms_log0_warn("%s", ms_error_message());
        return st;
    }
    if (st == MS_OK && ms_par_rank() == 0) st = t->finish(t, s, e);
    return ms_par_agree(st);
}
