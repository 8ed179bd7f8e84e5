/* params.c: flat parameter/gradient buffers with named views (see nn.h). */
#include "mstars/nn.h"

#include "mstars/mem.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#define ALIGN_FLOATS 16 /* 64 bytes */

void ms_nn_params_init(ms_nn_params *p) { memset(p, 0, sizeof *p); }

ms_status ms_nn_params_add(ms_nn_params *p, const char *name, int ndim, const size_t *shape,
                           size_t *index)
{
    if (p->param) MS_ERROR(MS_EINVAL, "nn params: tensor '%s' added after allocation", name);
    if (p->n_tensors == MS_NN_MAX_TENSORS)
        MS_ERROR(MS_EINVAL, "nn params: more than %d tensors (adding '%s')", MS_NN_MAX_TENSORS,
                 name);
    if (!name || strlen(name) >= MS_NN_NAME_MAX)
        MS_ERROR(MS_EINVAL, "nn params: tensor name missing or longer than %d characters",
                 MS_NN_NAME_MAX - 1);
    if (ndim < 1 || ndim > MS_NN_MAX_DIMS)
        MS_ERROR(MS_EINVAL, "nn params: tensor '%s' has %d dimensions (1..%d)", name, ndim,
                 MS_NN_MAX_DIMS);
    for (size_t i = 0; i < p->n_tensors; i++)
        if (strcmp(p->t[i].name, name) == 0)
            MS_ERROR(MS_EINVAL, "nn params: duplicate tensor name '%s'", name);
    ms_nn_tensor *t = &p->t[p->n_tensors];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = ndim;
    t->size = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] == 0) MS_ERROR(MS_EINVAL, "nn params: tensor '%s' has a zero dimension", name);
        if (t->size > ((size_t)1 << 40) / shape[d])
            MS_ERROR(MS_EINVAL, "nn params: tensor '%s' is too large", name);
        t->shape[d] = shape[d];
        t->size *= shape[d];
    }
    t->offset = p->n;
    p->n += (t->size + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS;
    if (index) *index = p->n_tensors;
    p->n_tensors++;
    return MS_OK;
}

ms_status ms_nn_params_alloc(ms_nn_params *p)
{
    if (p->param) MS_ERROR(MS_EINVAL, "nn params: already allocated");
    if (p->n == 0) MS_ERROR(MS_EINVAL, "nn params: no tensors declared");
    p->param = ms_calloc("nn.params", p->n, sizeof(float));
    p->grad = ms_calloc("nn.grads", p->n, sizeof(float));
    if (!p->param || !p->grad) {
        ms_free(p->param);
        ms_free(p->grad);
        p->param = p->grad = NULL;
        return MS_ENOMEM;
    }
    return MS_OK;
}

ms_status ms_nn_params_find(const ms_nn_params *p, const char *name, size_t *index)
{
    for (size_t i = 0; i < p->n_tensors; i++)
        if (strcmp(p->t[i].name, name) == 0) {
            *index = i;
            return MS_OK;
        }
    MS_ERROR(MS_ENOTFOUND, "nn params: no tensor named '%s'", name);
}

float *ms_nn_param(const ms_nn_params *p, size_t index)
{
    assert(index < p->n_tensors && p->param);
    return p->param + p->t[index].offset;
}

float *ms_nn_grad(const ms_nn_params *p, size_t index)
{
    assert(index < p->n_tensors && p->grad);
    return p->grad + p->t[index].offset;
}

void ms_nn_params_zero_grad(ms_nn_params *p)
{
    if (p->grad) memset(p->grad, 0, p->n * sizeof(float));
}

int ms_nn_params_same_layout(const ms_nn_params *a, const ms_nn_params *b)
{
    if (a->n_tensors != b->n_tensors || a->n != b->n) return 0;
    for (size_t i = 0; i < a->n_tensors; i++) {
        const ms_nn_tensor *x = &a->t[i], *y = &b->t[i];
        if (strcmp(x->name, y->name) != 0 || x->ndim != y->ndim || x->offset != y->offset)
            return 0;
        for (int d = 0; d < x->ndim; d++)
            if (x->shape[d] != y->shape[d]) return 0;
    }
    return 1;
}

ms_status ms_nn_params_copy(ms_nn_params *dst, const ms_nn_params *src)
{
    if (!ms_nn_params_same_layout(dst, src) || !dst->param || !src->param)
        MS_ERROR(MS_EINVAL, "nn params: copy between different or unallocated layouts");
    memcpy(dst->param, src->param, src->n * sizeof(float));
    return MS_OK;
}

void ms_nn_params_free(ms_nn_params *p)
{
    ms_free(p->param);
    ms_free(p->grad);
    ms_nn_params_init(p);
}

ms_status ms_nn_segments_of(const ms_nn_params *p, ms_nn_segments *out)
{
    memset(out, 0, sizeof *out);
    out->off = ms_malloc_array("nn.segments", p->n_tensors + 1, sizeof(size_t));
    out->len = ms_malloc_array("nn.segments", p->n_tensors + 1, sizeof(size_t));
    if (!out->off || !out->len) {
        ms_nn_segments_free(out);
        return MS_ENOMEM;
    }
    for (size_t k = 0; k < p->n_tensors; k++) {
        out->off[k] = p->t[k].offset;
        out->len[k] = p->t[k].size;
    }
    out->segs = (ms_segments){out->off, out->len, p->n_tensors};
    return MS_OK;
}

void ms_nn_segments_free(ms_nn_segments *s)
{
    ms_free(s->off);
    ms_free(s->len);
    memset(s, 0, sizeof *s);
}
