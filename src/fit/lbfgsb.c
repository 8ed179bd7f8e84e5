/* lbfgsb.c: checked reverse-communication wrapper over Debian's L-BFGS-B 3.0 `setulb`
 * (see lbfgsb.h). The Fortran routine keeps no state between calls: everything lives in
 * the arrays of ms_lbfgsb, so states can be advanced interleaved. */
#include "mstars/lbfgsb.h"

#include "mstars/mem.h"

#include <limits.h>
#include <math.h>
#include <string.h>

#define TASK_LEN 60

/* The Fortran routine (liblbfgsb, gfortran: trailing hidden lengths of the two
 * CHARACTER*60 arguments). LOGICAL is a 4-byte int. */
void setulb_(int *n, int *m, double *x, double *l, double *u, int *nbd, double *f, double *g,
             double *factr, double *pgtol, double *wa, int *iwa, char *task, int *iprint,
             char *csave, int *lsave, int *isave, double *dsave, size_t task_len,
             size_t csave_len);

enum { PHASE_IDLE = 0, PHASE_FG, PHASE_NEWX, PHASE_DONE };

struct ms_lbfgsb {
    int n, m;
    int phase;           /* what the last setulb return asked for */
    size_t iterations, evaluations;
    double f;            /* objective at x (written by the caller and by setulb) */
    double factr, pgtol;
    double *x, *l, *u, *g; /* [n] each */
    double *wa;          /* [n_wa = 2mn + 5n + 11m^2 + 8m] */
    size_t n_wa;
    double dsave[29];
    int *nbd, *iwa;      /* [n], [3n] */
    int isave[44];
    int lsave[4];
    char task[TASK_LEN + 1], csave[TASK_LEN + 1];
    char text[TASK_LEN + 1]; /* task without trailing blanks */
    double *dblock;      /* one allocation for the double arrays */
    int *iblock;         /* one for the int arrays */
};

static void set_task(char *dst, const char *s)
{
    size_t k = strlen(s);
    if (k > TASK_LEN) k = TASK_LEN;
    memcpy(dst, s, k);
    memset(dst + k, ' ', TASK_LEN - k);
    dst[TASK_LEN] = '\0';
}

static void trim_task(ms_lbfgsb *s)
{
    memcpy(s->text, s->task, TASK_LEN);
    s->text[TASK_LEN] = '\0';
    for (size_t k = TASK_LEN; k-- > 0 && s->text[k] == ' ';) s->text[k] = '\0';
}

ms_status ms_lbfgsb_alloc(size_t n, size_t m, ms_lbfgsb **out)
{
    *out = NULL;
    if (n == 0 || m == 0) MS_ERROR(MS_EINVAL, "lbfgsb: n = %zu, m = %zu (both must be > 0)", n, m);
    if (n > 10000000 || m > 1000)
        MS_ERROR(MS_EINVAL, "lbfgsb: n = %zu or m = %zu too large", n, m);
    const size_t n_wa = 2 * m * n + 5 * n + 11 * m * m + 8 * m;
    if (n_wa > (size_t)INT_MAX) MS_ERROR(MS_EINVAL, "lbfgsb: workspace for n = %zu, m = %zu too large", n, m);
    ms_lbfgsb *s = ms_calloc("lbfgsb.state", 1, sizeof *s);
    if (!s) return MS_ENOMEM;
    s->dblock = ms_calloc("lbfgsb.wa", 4 * n + n_wa, sizeof(double));
    s->iblock = ms_calloc("lbfgsb.iwa", 4 * n, sizeof(int));
    if (!s->dblock || !s->iblock) {
        ms_lbfgsb_free(s);
        return MS_ENOMEM;
    }
    s->n = (int)n;
    s->m = (int)m;
    s->n_wa = n_wa;
    s->x = s->dblock;          /* [n] */
    s->l = s->x + n;           /* [n] */
    s->u = s->l + n;           /* [n] */
    s->g = s->u + n;           /* [n] */
    s->wa = s->g + n;          /* [n_wa] */
    s->nbd = s->iblock;        /* [n] */
    s->iwa = s->nbd + n;       /* [3n] */
    set_task(s->task, "");
    trim_task(s);
    s->phase = PHASE_IDLE;
    *out = s;
    return MS_OK;
}

void ms_lbfgsb_free(ms_lbfgsb *s)
{
    if (!s) return;
    ms_free(s->dblock);
    ms_free(s->iblock);
    ms_free(s);
}

size_t ms_lbfgsb_n(const ms_lbfgsb *s) { return (size_t)s->n; }

/* One call of setulb; classify its task. */
static ms_status call_setulb(ms_lbfgsb *s)
{
    int iprint = -1;
    setulb_(&s->n, &s->m, s->x, s->l, s->u, s->nbd, &s->f, s->g, &s->factr, &s->pgtol, s->wa,
            s->iwa, s->task, &iprint, s->csave, s->lsave, s->isave, s->dsave, TASK_LEN, TASK_LEN);
    trim_task(s);
    if (strncmp(s->task, "FG", 2) == 0) {
        s->phase = PHASE_FG;
        return MS_NEED_FG;
    }
    if (strncmp(s->task, "NEW_X", 5) == 0) {
        s->phase = PHASE_NEWX;
        s->iterations++;
        return MS_CONTINUE;
    }
    s->phase = PHASE_DONE;
    if (strncmp(s->task, "CONV", 4) == 0) return MS_OK;
    if (strncmp(s->task, "ABNO", 4) == 0) return MS_ENOPROG;
    MS_ERROR(MS_EINVAL, "lbfgsb: setulb stopped with task '%s'", s->text);
}

ms_status ms_lbfgsb_start(ms_lbfgsb *s, const double *x0, const double *lower,
                          const double *upper, double factr, double pgtol)
{
    const size_t n = (size_t)s->n;
    s->phase = PHASE_DONE;
    s->iterations = s->evaluations = 0;
    s->f = 0.0;
    if (!(factr >= 0.0) || !(pgtol >= 0.0) || !isfinite(factr) || !isfinite(pgtol)) {
        set_task(s->task, "ERROR: BAD TOLERANCE (wrapper)");
        trim_task(s);
        MS_ERROR(MS_EINVAL, "lbfgsb: factr = %g and pgtol = %g must be finite and >= 0", factr,
                 pgtol);
    }
    for (size_t i = 0; i < n; i++) {
        double lo = lower ? lower[i] : -INFINITY, hi = upper ? upper[i] : INFINITY;
        if (isnan(lo) || isnan(hi) || lo > hi || lo == INFINITY || hi == -INFINITY) {
            set_task(s->task, "ERROR: BAD BOUNDS (wrapper)");
            trim_task(s);
            MS_ERROR(MS_EINVAL, "lbfgsb: bounds of variable %zu are [%g, %g]", i, lo, hi);
        }
        if (!isfinite(x0[i])) {
            set_task(s->task, "ERROR: NON-FINITE X0 (wrapper)");
            trim_task(s);
            MS_ERROR(MS_EINVAL, "lbfgsb: start value of variable %zu is %g", i, x0[i]);
        }
        int has_lo = isfinite(lo), has_hi = isfinite(hi);
        s->nbd[i] = has_lo && has_hi ? 2 : has_lo ? 1 : has_hi ? 3 : 0;
        s->l[i] = has_lo ? lo : 0.0;
        s->u[i] = has_hi ? hi : 0.0;
        double v = x0[i];
        if (has_lo && v < lo) v = lo;
        if (has_hi && v > hi) v = hi;
        s->x[i] = v;
        s->g[i] = 0.0;
    }
    s->factr = factr;
    s->pgtol = pgtol;
    /* The work arrays too. setulb reads its free-variable index set (iwa[0, n)) as left by
     * the previous run on the state: the fitter reuses a slot's state for the next
     * spectrum, so a fit's path (evaluations, then dv, chi^2, errors) depended on which
     * spectrum the slot held before, i.e. on the chunk size and the work queue's timing
     * (benchmarks/RESULTS.md, "Determinism"). Index sets as at a first start (1-based, all
     * free), the doubles zeroed. */
    memset(s->wa, 0, s->n_wa * sizeof(double));
    for (size_t i = 0; i < n; i++) s->iwa[i] = s->iwa[n + i] = s->iwa[2 * n + i] = (int)i + 1;
    memset(s->isave, 0, sizeof s->isave);
    memset(s->dsave, 0, sizeof s->dsave);
    memset(s->lsave, 0, sizeof s->lsave);
    set_task(s->csave, "");
    set_task(s->task, "START");
    ms_status st = call_setulb(s);
    if (st != MS_NEED_FG && st != MS_EINVAL) {
        s->phase = PHASE_DONE;
        MS_ERROR(MS_EINVAL, "lbfgsb: unexpected task '%s' after START", s->text);
    }
    return st;
}

ms_status ms_lbfgsb_iterate(ms_lbfgsb *s, double f, const double *g)
{
    const size_t n = (size_t)s->n;
    if (s->phase == PHASE_FG) {
        if (!g) MS_ERROR(MS_EINVAL, "lbfgsb: a gradient is needed (task '%s')", s->text);
        if (!isfinite(f)) {
            s->phase = PHASE_DONE;
            MS_ERROR(MS_EINVAL, "lbfgsb: objective %g is not finite", f);
        }
        for (size_t i = 0; i < n; i++) {
            if (!isfinite(g[i])) {
                s->phase = PHASE_DONE;
                MS_ERROR(MS_EINVAL, "lbfgsb: gradient component %zu is %g", i, g[i]);
            }
            s->g[i] = g[i];
        }
        s->f = f;
        s->evaluations++;
        return call_setulb(s);
    }
    if (s->phase == PHASE_NEWX) return call_setulb(s);
    MS_ERROR(MS_EINVAL, "lbfgsb: iterate called on a %s state (task '%s')",
             s->phase == PHASE_IDLE ? "never started" : "finished", s->text);
}

const double *ms_lbfgsb_x(const ms_lbfgsb *s) { return s->x; }
double ms_lbfgsb_f(const ms_lbfgsb *s) { return s->f; }
const double *ms_lbfgsb_g(const ms_lbfgsb *s) { return s->g; }
size_t ms_lbfgsb_iterations(const ms_lbfgsb *s) { return s->iterations; }
size_t ms_lbfgsb_evaluations(const ms_lbfgsb *s) { return s->evaluations; }
const char *ms_lbfgsb_task(const ms_lbfgsb *s) { return s->text; }

double ms_lbfgsb_projected_gradient(const ms_lbfgsb *s)
{
    double m = 0.0;
    for (int i = 0; i < s->n; i++) {
        double gi = s->g[i];
        /* a component pushing the variable out through an active bound does not count */
        if (gi > 0.0 && (s->nbd[i] == 1 || s->nbd[i] == 2)) {
            double room = s->x[i] - s->l[i];
            if (gi > room) gi = room;
        } else if (gi < 0.0 && (s->nbd[i] == 2 || s->nbd[i] == 3)) {
            double room = s->x[i] - s->u[i]; /* <= 0 */
            if (gi < room) gi = room;
        }
        if (fabs(gi) > m) m = fabs(gi);
    }
    return m;
}
