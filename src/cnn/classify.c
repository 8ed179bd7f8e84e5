/* classify.c: the L25 classifiers on the CNN engine (cnn_class.h): the three tasks, class
 * weights, the weighted softmax cross-entropy (L25 1.4), the native view without rest-frame
 * shift (L25 3.2 steps 1, 3, 4a, 5), ensemble probabilities and confusion counts. */
#include "mstars/cnn_class.h"

#include "mstars/native.h"

#include <math.h>
#include <string.h>
#include <strings.h>

static const ms_class_task_def tasks[MS_CLASS_N_TASKS] = {
    {"spt", "CNN-SPT: spectral class", 8, {"OB", "A", "F", "G", "K", "M", "GALAXY", "QSO"}},
    {"wdm", "CNN-WDM: white dwarf against M", 2, {"M", "WD"}},
    {"dmgm", "CNN-dMgM: M dwarf against M giant", 2, {"dM", "gM"}},
};

const ms_class_task_def *ms_class_task_get(ms_class_task t)
{
    return t >= 0 && t < MS_CLASS_N_TASKS ? &tasks[t] : NULL;
}

ms_status ms_class_task_parse(const char *name, ms_class_task *t)
{
    for (int k = 0; k < MS_CLASS_N_TASKS; k++)
        if (name && strcasecmp(name, tasks[k].name) == 0) {
            *t = (ms_class_task)k;
            return MS_OK;
        }
    MS_ERROR(MS_EINVAL, "classifier task '%s': choose spt, wdm or dmgm", name ? name : "");
}

int ms_class_index(const ms_class_task_def *d, const char *name)
{
    for (size_t c = 0; c < d->n_classes; c++)
        if (strcasecmp(d->classes[c], name) == 0) return (int)c;
    return -1;
}

void ms_class_weights(const size_t *count, size_t n_classes, double *weight)
{
    for (size_t c = 0; c < n_classes; c++) weight[c] = count[c] ? 30000.0 / (double)count[c] : 0.0;
}

/* ------------------------------------------------------------------ loss */
void ms_class_softmax(const float *z, size_t C, double *p)
{
    double m = z[0], s = 0.0;
    for (size_t c = 1; c < C; c++) m = fmax(m, (double)z[c]);
    for (size_t c = 0; c < C; c++) s += (p[c] = exp((double)z[c] - m));
    for (size_t c = 0; c < C; c++) p[c] /= s;
}

/* The target class of a one-hot row (the first 1). */
static size_t target(const float *y, size_t C)
{
    for (size_t c = 0; c < C; c++)
        if (y[c] > 0.5f) return c;
    return 0;
}

/* L25 1.4: cross-entropy of the softmax, PyTorch's weighted form. */
double ms_class_ce_loss(const float *z, const float *y, const double *w, size_t B, size_t C,
                        double scale, float *dz)
{
    double loss = 0.0, p[MS_CNN_MAX_OUT];
    for (size_t b = 0; b < B; b++) {
        const float *zb = z + b * C;
        const size_t t = target(y + b * C, C);
        /* log softmax_t = z_t - m - log sum exp(z - m) */
        double m = zb[0], s = 0.0;
        for (size_t c = 1; c < C; c++) m = fmax(m, (double)zb[c]);
        for (size_t c = 0; c < C; c++) s += (p[c] = exp((double)zb[c] - m));
        loss += w[t] * -((double)zb[t] - m - log(s));
        if (dz)
            for (size_t c = 0; c < C; c++)
                dz[b * C + c] += (float)(scale * w[t] * (p[c] / s - (c == t ? 1.0 : 0.0)));
    }
    return scale * loss;
}

/* ------------------------------------------------------------------ view */
ms_cnn_view_spec ms_class_view_spec(void)
{
    ms_cnn_view_spec v = {MS_CLASS_VIEW_LO, 1.0, MS_CLASS_VIEW_N};
    return v;
}

ms_status ms_class_view_native(const double *wave, const float *flux, const float *ivar,
                               const uint8_t *mask, size_t n, float *ivar_scratch, float *out)
{
    /* step 1: drop masked pixels (ORMASK, ANDMASK, no data), by a zero weight */
    for (size_t k = 0; k < n; k++) ivar_scratch[k] = mask[k] ? 0.0f : ivar[k];
    const ms_cnn_view_spec v = ms_class_view_spec();
    /* steps 3, 4a, 5: 1 A, 3900-8899 A, z-score; observed frame (no step 2) */
    return ms_cnn_view(&v, wave, flux, ivar_scratch, n, 0.8, out);
}

/* ------------------------------------------------------------------ prediction */
ms_status ms_class_predict(const ms_cnn_ensemble *e, ms_cnn_ws *ws, const float *x, size_t B,
                           float *scratch, double *prob)
{
    const size_t K = e->n_models, C = e->n_labels;
    if (!e->softmax || K == 0) MS_ERROR(MS_EINVAL, "cnn classifier: not a classifier model");
    double p[MS_CNN_MAX_OUT];
    for (size_t i = 0; i < B * C; i++) prob[i] = 0.0;
    for (size_t k = 0; k < K; k++) {
        MS_TRY(ms_cnn_forward(&e->net[k], ws, x, B, scratch));
        for (size_t b = 0; b < B; b++) {
            ms_class_softmax(scratch + b * C, C, p);
            for (size_t c = 0; c < C; c++) prob[b * C + c] += p[c];
        }
    }
    for (size_t i = 0; i < B * C; i++) prob[i] /= (double)K;
    return MS_OK;
}

ms_status ms_class_run(const ms_cnn_ensemble *const models[MS_CLASS_N_TASKS], ms_cnn_ws *ws,
                       const float *x, size_t B, float *scratch, double *prob, ms_class_row *out)
{
    for (size_t b = 0; b < B; b++) {
        memset(&out[b], 0, sizeof out[b]);
        out[b].class_code = -1;
        out[b].class_prob = out[b].wd_prob = out[b].dmgm_prob = NAN;
    }
    for (int t = 0; t < MS_CLASS_N_TASKS; t++) {
        const ms_cnn_ensemble *e = models[t];
        if (!e) continue;
        const ms_class_task_def *d = ms_class_task_get((ms_class_task)t);
        if (strcmp(e->cls, d->name) != 0 || e->n_labels != d->n_classes)
            MS_ERROR(MS_EINVAL, "cnn classifier: a %s model (%zu classes) given as %s", e->cls,
                     e->n_labels, d->name);
        MS_TRY(ms_class_predict(e, ws, x, B, scratch, prob));
        const size_t C = e->n_labels;
        const int wd = ms_cnn_label_index(e, "WD"), gm = ms_cnn_label_index(e, "gM");
        for (size_t b = 0; b < B; b++) {
            const double *p = prob + b * C;
            ms_class_row *r = &out[b];
            if (t == MS_CLASS_SPT) {
                const size_t k = ms_class_argmax(p, C);
                const size_t len = strnlen(e->labels[k], sizeof r->cls - 1);
                memcpy(r->cls, e->labels[k], len);
                r->cls[len] = '\0';
                r->class_code = (int32_t)k;
                r->class_prob = p[k];
            } else if (t == MS_CLASS_WDM) {
                r->wd_prob = p[wd];
            } else {
                r->dmgm_prob = p[gm];
            }
        }
    }
    return MS_OK;
}

size_t ms_class_argmax(const double *p, size_t C)
{
    size_t best = 0;
    for (size_t c = 1; c < C; c++)
        if (p[c] > p[best]) best = c;
    return best;
}

size_t ms_class_confusion(const int32_t *truth, const float *prob, size_t n, size_t C, long *counts)
{
    memset(counts, 0, C * C * sizeof *counts);
    size_t used = 0;
    double p[MS_CNN_MAX_OUT];
    for (size_t i = 0; i < n; i++) {
        if (truth[i] < 0 || (size_t)truth[i] >= C || !isfinite(prob[i * C])) continue;
        for (size_t c = 0; c < C; c++) p[c] = prob[i * C + c];
        counts[(size_t)truth[i] * C + ms_class_argmax(p, C)]++;
        used++;
    }
    return used;
}
