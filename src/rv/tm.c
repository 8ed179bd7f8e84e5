/* tm.c: template matching, L25 3.4.3 (Eq. 2) and its errors by injection (rv.h).
 *
 * The spectrum stays on its native lattice (no interpolation of noisy data); the templates
 * are shifted instead: O(RV, lambda_i) - P_k S(lambda_i) of Eq. 2 is evaluated as
 * O(lambda_i) - P_k S(lambda_i / D(RV)). With x_i in [-1, 1] across the TM window and
 * m_i = 1 for good pixels, the polynomial's normal equations need only the moments
 *   G_j = sum_i m_i S_i^2 x_i^j (j = 0..2k),  B_j = sum_i m_i O_i S_i x_i^j (j = 0..k),
 * so every (template, trial velocity) of the coarse grid comes from two matrix products
 * (S^2)(m x^j) and (S)(m O x^j) (BLAS dgemm), with the shifted templates computed once per
 * library; per trial, a (k+1) x (k+1) Cholesky solve (LAPACK dposv) gives
 *   chi^2 = (sum_i m_i O_i^2 - B . c) / N. */
#include "mstars/mem.h"
#include "mstars/native.h"
#include "mstars/rv.h"
#include "mstars/spec.h"
#include "rv_internal.h"

#include <cblas.h>
#include <float.h>
#include <gsl/gsl_spline.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_K 8

struct ms_rv_engine {
    const ms_rv_library *lib;
    ms_rv_settings s;
    size_t k_lo, n;       /* TM window on the lattice: pixels [k_lo, k_lo + n) */
    int n_v, nm, nb;      /* coarse trials; moments 2k+1 and k+1 */
    float *T, *T2;        /* [n_tpl * n_v][n]: templates at the coarse velocities, and squared
                             (float: the coarse stage streams them once per spectrum, so its
                             speed is their size; the fine curve and the refits are double) */
    float *MXf, *OXf, *Gf, *Bf;
    /* one spectrum */
    double med;           /* flux scale (median of the good pixels) */
    double *O, *m, *x;    /* [n] */
    double *MX, *OX;      /* [n][nm], [n][nb] */
    double sum_o2;
    size_t n_good;
    double *G, *B, *chi2; /* [rows][nm], [rows][nb], [rows] */
    double *Tu, *Tu2;     /* [n_curve][n] the best template on the fine curve */
    size_t n_curve_max;
    double *cu, *uu;      /* [n_curve] */
    gsl_spline *spline;
    gsl_interp_accel *acc;
    const ms_rv_native *sp;
    double wave_cut;      /* upper wavelength of the current pixel set */
};

/* Template t at rest log10 wavelength ll (linear interpolation on its uniform grid). */
static double tpl_at(const ms_rv_template *t, double ll)
{
    double q = (ll - t->loglam0) / t->dloglam;
    if (q <= 0.0) return t->flux[0];
    size_t i = (size_t)q;
    if (i >= t->n - 1) return t->flux[t->n - 1];
    double u = q - (double)i;
    return (1.0 - u) * t->flux[i] + u * t->flux[i + 1];
}

/* Row of n template fluxes shifted to velocity v on the TM window. */
static void shifted_row(const ms_rv_engine *e, const ms_rv_template *t, double v, double *row)
{
    double dl = log10(ms_spec_doppler(v));
    for (size_t i = 0; i < e->n; i++) row[i] = tpl_at(t, ms_native_loglam(e->k_lo + i) - dl);
}

ms_status ms_rv_engine_alloc(const ms_rv_library *lib, const ms_rv_settings *s, ms_rv_engine **out)
{
    *out = NULL;
    if (s->poly_order < 0 || s->poly_order > MAX_K)
        MS_ERROR(MS_EINVAL, "rv: polynomial order %d outside 0..%d", s->poly_order, MAX_K);
    if (s->n_steps < 2 || s->step_kms <= 0)
        MS_ERROR(MS_EINVAL, "rv: coarse grid needs at least 2 steps each side");
    ms_rv_engine *e = ms_calloc("rv.engine", 1, sizeof *e);
    if (!e) return MS_ENOMEM;
    e->lib = lib;
    e->s = *s;
    double a = (log10(s->wave_min) - MS_NATIVE_LOGLAM0) / MS_NATIVE_DLOGLAM;
    double b = (log10(s->wave_max) - MS_NATIVE_LOGLAM0) / MS_NATIVE_DLOGLAM;
    if (a < 0) a = 0;
    if (b > MS_NATIVE_NPIX - 1) b = MS_NATIVE_NPIX - 1;
    e->k_lo = (size_t)ceil(a);
    e->n = (size_t)floor(b) - e->k_lo + 1;
    e->n_v = 2 * s->n_steps + 1;
    e->nm = 2 * s->poly_order + 1;
    e->nb = s->poly_order + 1;
    size_t rows = lib->n * (size_t)e->n_v, n = e->n;
    /* the fine chi^2 curve of the cheap injections: +-(hw + 2) coarse steps */
    e->n_curve_max = 2 * (size_t)ceil((s->fit_half_width + 2) * s->step_kms / s->curve_step_kms) + 1;
    if (e->n_curve_max < (size_t)e->n_v) e->n_curve_max = (size_t)e->n_v;
    size_t grow = rows > e->n_curve_max ? rows : e->n_curve_max;
    e->T = ms_malloc_array("rv.T", rows * n, sizeof(float));
    e->T2 = ms_malloc_array("rv.T2", rows * n, sizeof(float));
    e->MXf = ms_malloc_array("rv.MXf", n * (size_t)e->nm, sizeof(float));
    e->OXf = ms_malloc_array("rv.OXf", n * (size_t)e->nb, sizeof(float));
    e->Gf = ms_malloc_array("rv.Gf", grow * (size_t)e->nm, sizeof(float));
    e->Bf = ms_malloc_array("rv.Bf", grow * (size_t)e->nb, sizeof(float));
    e->O = ms_malloc_array("rv.O", n, sizeof(double));
    e->m = ms_malloc_array("rv.m", n, sizeof(double));
    e->x = ms_malloc_array("rv.x", n, sizeof(double));
    e->MX = ms_malloc_array("rv.MX", n * (size_t)e->nm, sizeof(double));
    e->OX = ms_malloc_array("rv.OX", n * (size_t)e->nb, sizeof(double));
    e->G = ms_malloc_array("rv.G", grow * (size_t)e->nm, sizeof(double));
    e->B = ms_malloc_array("rv.B", grow * (size_t)e->nb, sizeof(double));
    e->chi2 = ms_malloc_array("rv.chi2", grow, sizeof(double));
    e->Tu = ms_malloc_array("rv.Tu", e->n_curve_max * n, sizeof(double));
    e->Tu2 = ms_malloc_array("rv.Tu2", e->n_curve_max * n, sizeof(double));
    e->cu = ms_malloc_array("rv.cu", e->n_curve_max, sizeof(double));
    e->uu = ms_malloc_array("rv.uu", e->n_curve_max, sizeof(double));
    e->spline = gsl_spline_alloc(gsl_interp_cspline, e->n_curve_max);
    e->acc = gsl_interp_accel_alloc();
    if (!e->T || !e->T2 || !e->O || !e->m || !e->x || !e->MX || !e->OX || !e->G || !e->B ||
        !e->chi2 || !e->Tu || !e->Tu2 || !e->cu || !e->uu || !e->spline || !e->acc || !e->MXf ||
        !e->OXf || !e->Gf || !e->Bf) {
        ms_rv_engine_free(e);
        return MS_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) e->x[i] = n > 1 ? 2.0 * (double)i / (double)(n - 1) - 1.0 : 0.0;
    for (size_t t = 0; t < lib->n; t++)
        for (int v = 0; v < e->n_v; v++) {
            shifted_row(e, &lib->t[t], s->step_kms * (v - s->n_steps), e->Tu);
            float *row = e->T + (t * (size_t)e->n_v + (size_t)v) * n;
            float *row2 = e->T2 + (t * (size_t)e->n_v + (size_t)v) * n;
            for (size_t i = 0; i < n; i++) {
                row[i] = (float)e->Tu[i];
                row2[i] = (float)(e->Tu[i] * e->Tu[i]);
            }
        }
    *out = e;
    return MS_OK;
}

void ms_rv_engine_free(ms_rv_engine *e)
{
    if (!e) return;
    void *p[] = {e->T, e->T2, e->MXf, e->OXf, e->Gf, e->Bf, e->O, e->m, e->x, e->MX, e->OX, e->G, e->B, e->chi2, e->Tu, e->Tu2,
                 e->cu, e->uu};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) ms_free(p[i]);
    if (e->spline) gsl_spline_free(e->spline);
    if (e->acc) gsl_interp_accel_free(e->acc);
    ms_free(e);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int pixel_ok(const ms_rv_engine *e, const ms_rv_native *sp, size_t k)
{
    return !(sp->mask[k] & e->s.reject_bits) && sp->ivar[k] > 0.0f && isfinite(sp->flux[k]);
}

/* The moments' right-hand factors for the spectrum shifted by `shift` km/s (0: as
 * observed; otherwise linearly interpolated on the lattice, a pixel good when both of
 * its neighbours are). Sets O, m, MX, OX, sum_o2, n_good; the scale med is kept when
 * `keep_scale`. */
static void prepare(ms_rv_engine *e, const ms_rv_native *sp, double shift, int keep_scale)
{
    const size_t n = e->n;
    double cut = log10(e->wave_cut);
    if (shift == 0.0) {
        for (size_t i = 0; i < n; i++) {
            size_t k = e->k_lo + i;
            int ok = pixel_ok(e, sp, k) && ms_native_loglam(k) < cut;
            e->m[i] = ok;
            e->O[i] = ok ? sp->flux[k] : 0.0;
        }
    } else {
        double dp = log10(ms_spec_doppler(shift)) / MS_NATIVE_DLOGLAM; /* pixels */
        for (size_t i = 0; i < n; i++) {
            double q = (double)(e->k_lo + i) - dp;
            long k = (long)floor(q);
            double u = q - (double)k;
            int ok = k >= 0 && k + 1 < MS_NATIVE_NPIX && ms_native_loglam(e->k_lo + i) < cut &&
                     pixel_ok(e, sp, (size_t)k) && pixel_ok(e, sp, (size_t)k + 1);
            e->m[i] = ok;
            e->O[i] = ok ? (1.0 - u) * sp->flux[k] + u * sp->flux[k + 1] : 0.0;
        }
    }
    size_t g = 0;
    for (size_t i = 0; i < n; i++) g += e->m[i] > 0.0;
    e->n_good = g;
    if (!keep_scale) {
        double *tmp = e->Tu; /* scratch of >= n doubles */
        size_t j = 0;
        for (size_t i = 0; i < n; i++)
            if (e->m[i] > 0.0) tmp[j++] = e->O[i];
        e->med = 1.0;
        if (j) {
            qsort(tmp, j, sizeof *tmp, cmp_double);
            e->med = tmp[j / 2] > 0.0 ? tmp[j / 2] : 1.0;
            if (!(tmp[j / 2] > 0.0)) {
                double s = 0.0;
                for (size_t i = 0; i < j; i++) s += fabs(tmp[i]);
                e->med = s > 0.0 ? s / (double)j : 1.0;
            }
        }
    }
    double so2 = 0.0;
    for (size_t i = 0; i < n; i++) {
        double o = e->O[i] / e->med, mi = e->m[i], xp = mi;
        e->O[i] = o;
        so2 += mi * o * o;
        double *mx = e->MX + i * (size_t)e->nm, *ox = e->OX + i * (size_t)e->nb;
        for (int j = 0; j < e->nm; j++) {
            mx[j] = xp;
            if (j < e->nb) ox[j] = xp * o;
            xp *= e->x[i];
        }
    }
    e->sum_o2 = so2;
}

/* chi^2 of `rows` trials from their moments e->G, e->B (Eq. 2). */
static void chi2_from_moments(ms_rv_engine *e, size_t rows, double *chi2)
{
    const int nm = e->nm, nb = e->nb;
    for (size_t r = 0; r < rows; r++) {
        double A[(MAX_K + 1) * (MAX_K + 1)], c[MAX_K + 1];
        const double *g = e->G + r * (size_t)nm, *b = e->B + r * (size_t)nb;
        for (int j = 0; j < nb; j++) {
            c[j] = b[j];
            for (int l = 0; l < nb; l++) A[j * nb + l] = g[j + l];
        }
        int nn = nb, one = 1, info = 0;
        dposv_("U", &nn, &one, A, &nn, c, &nn, &info);
        double fit = 0.0;
        if (info == 0)
            for (int j = 0; j < nb; j++) fit += b[j] * c[j];
        double v = (e->sum_o2 - fit) / (double)(e->n_good ? e->n_good : 1);
        chi2[r] = v > 0.0 ? v : 0.0;
    }
}

/* chi^2 of `rows` trials from their template rows T (and T^2), Eq. 2, in double. */
static void chi2_rows(ms_rv_engine *e, const double *T, const double *T2, size_t rows, double *chi2)
{
    const int n = (int)e->n, nm = e->nm, nb = e->nb;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, nm, n, 1.0, T2, n, e->MX, nm,
                0.0, e->G, nm);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, nb, n, 1.0, T, n, e->OX, nb,
                0.0, e->B, nb);
    chi2_from_moments(e, rows, chi2);
}

/* The same for the stored float rows of the coarse grid. */
static void chi2_rows_f(ms_rv_engine *e, const float *T, const float *T2, size_t rows, double *chi2)
{
    const int n = (int)e->n, nm = e->nm, nb = e->nb;
    for (size_t i = 0; i < e->n * (size_t)nm; i++) e->MXf[i] = (float)e->MX[i];
    for (size_t i = 0; i < e->n * (size_t)nb; i++) e->OXf[i] = (float)e->OX[i];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, nm, n, 1.0f, T2, n, e->MXf,
                nm, 0.0f, e->Gf, nm);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, nb, n, 1.0f, T, n, e->OXf,
                nb, 0.0f, e->Bf, nb);
    for (size_t i = 0; i < rows * (size_t)nm; i++) e->G[i] = e->Gf[i];
    for (size_t i = 0; i < rows * (size_t)nb; i++) e->B[i] = e->Bf[i];
    chi2_from_moments(e, rows, chi2);
}

/* Step 1 with one template's coarse rows: its refined minimum (km/s) and minimum chi^2. */
static double coarse_centre(const ms_rv_engine *e, const double *c, double *cmin, int *edge)
{
    double x = ms_rv_refine_min(c, e->n_v, e->s.fit_half_width, cmin, edge);
    return e->s.step_kms * (x - e->s.n_steps);
}

double ms_rv_chi2_at(ms_rv_engine *e, int t, double v)
{
    shifted_row(e, &e->lib->t[t], v, e->Tu);
    for (size_t i = 0; i < e->n; i++) e->Tu2[i] = e->Tu[i] * e->Tu[i];
    double c;
    chi2_rows(e, e->Tu, e->Tu2, 1, &c);
    return c;
}

/* The best fit's relative rms residual above 7500 A over that below (red-end anomaly). */
static double red_blue_ratio(ms_rv_engine *e, int t, double v)
{
    shifted_row(e, &e->lib->t[t], v, e->Tu);
    for (size_t i = 0; i < e->n; i++) e->Tu2[i] = e->Tu[i] * e->Tu[i];
    double dummy;
    chi2_rows(e, e->Tu, e->Tu2, 1, &dummy);
    const int nb = e->nb;
    double A[(MAX_K + 1) * (MAX_K + 1)], c[MAX_K + 1];
    for (int j = 0; j < nb; j++) {
        c[j] = e->B[j];
        for (int l = 0; l < nb; l++) A[j * nb + l] = e->G[j + l];
    }
    int nn = nb, one = 1, info = 0;
    dposv_("U", &nn, &one, A, &nn, c, &nn, &info);
    if (info != 0) return NAN;
    double cut = log10(7500.0), s[2] = {0, 0};
    size_t cnt[2] = {0, 0};
    for (size_t i = 0; i < e->n; i++) {
        if (!(e->m[i] > 0.0)) continue;
        double p = 0.0, xp = 1.0;
        for (int j = 0; j < nb; j++) {
            p += c[j] * xp;
            xp *= e->x[i];
        }
        double model = p * e->Tu[i];
        if (!(fabs(model) > 1e-6)) continue;
        double r = (e->O[i] - model) / model;
        int red = ms_native_loglam(e->k_lo + i) >= cut;
        s[red] += r * r;
        cnt[red]++;
    }
    if (cnt[0] < 50 || cnt[1] < 50) return NAN;
    return sqrt((s[1] / (double)cnt[1]) / (s[0] / (double)cnt[0]));
}

/* Step 2, cheap: the best template's chi^2 curve c(u) on a fine grid around rv_init, a
 * cubic spline through it, and the 1001 coarse grids read off the spline. */
static int injections_cheap(ms_rv_engine *e, int t, double rv_init, double *mean, double *sd,
                            double *e_stat, double *v_min)
{
    const ms_rv_settings *s = &e->s;
    const size_t nc = e->n_curve_max, n = e->n;
    const double h = s->curve_step_kms, half = (double)(nc - 1) / 2.0;
    for (size_t j = 0; j < nc; j++) {
        e->uu[j] = rv_init + h * ((double)j - half);
        shifted_row(e, &e->lib->t[t], e->uu[j], e->Tu + j * n);
        for (size_t i = 0; i < n; i++) e->Tu2[j * n + i] = e->Tu[j * n + i] * e->Tu[j * n + i];
    }
    chi2_rows(e, e->Tu, e->Tu2, nc, e->cu);
    if (gsl_spline_init(e->spline, e->uu, e->cu, nc) != 0) return 0;
    gsl_interp_accel_reset(e->acc);
    /* statistical error from the curvature at the minimum: N (c(v) - c_min) / c_min = 1 */
    double d2 = gsl_spline_eval_deriv2(e->spline, rv_init, e->acc);
    *e_stat = d2 > 0.0 && e->n_good ? sqrt(2.0 * gsl_spline_eval(e->spline, rv_init, e->acc) /
                                           ((double)e->n_good * d2))
                                    : NAN;
    const double umin = e->uu[0], umax = e->uu[nc - 1];
    /* the fine curve's own minimum (0.25 km/s steps), a diagnostic beside L25's estimate */
    double best = INFINITY;
    *v_min = NAN;
    for (double u = umin; u <= umax; u += 0.25) {
        double cu = gsl_spline_eval(e->spline, u, e->acc);
        if (cu < best) {
            best = cu;
            *v_min = u;
        }
    }
    double c[64], sum = 0.0, sum2 = 0.0;
    long cnt = 0;
    for (int si = -s->inject_max; si <= s->inject_max; si++) {
        for (int v = 0; v < e->n_v; v++) {
            double u = s->step_kms * (v - s->n_steps) + rv_init - (double)si;
            c[v] = u >= umin && u <= umax ? gsl_spline_eval(e->spline, u, e->acc) : INFINITY;
        }
        double cmin;
        int edge;
        double x = ms_rv_refine_min(c, e->n_v, s->fit_half_width, &cmin, &edge);
        double meas = s->step_kms * (x - s->n_steps);
        double r = meas - (double)si;
        sum += r;
        sum2 += r * r;
        cnt++;
    }
    *mean = sum / (double)cnt;
    double var = sum2 / (double)cnt - (*mean) * (*mean);
    *sd = sqrt(var > 0.0 ? var : 0.0);
    return 1;
}

/* Step 2 literally: 1001 remeasurements on the coarse grid. full_injection = 1: the shift
 * s - rv_init is applied to the templates (the formulation of step 1 here: no observed pixel
 * is interpolated), so every trial is chi^2 at v + rv_init - s, computed exactly;
 * full_injection = 2: the observed spectrum itself is shifted by linear interpolation on its
 * lattice, one pixel phase for all pixels (this smooths the noise by a phase-dependent
 * amount; see benchmarks/RESULTS.md). */
static int injections_full(ms_rv_engine *e, const ms_rv_native *sp, int t, double rv_init,
                           double *mean, double *sd)
{
    const ms_rv_settings *s = &e->s;
    const size_t nv = (size_t)e->n_v, n = e->n;
    double c[64], sum = 0.0, sum2 = 0.0;
    long cnt = 0;
    for (int si = -s->inject_max; si <= s->inject_max; si++) {
        if (s->full_injection == 2) {
            prepare(e, sp, (double)si - rv_init, 1);
            chi2_rows_f(e, e->T + (size_t)t * nv * n, e->T2 + (size_t)t * nv * n, nv, c);
        } else {
            for (size_t v = 0; v < nv; v++) {
                double u = s->step_kms * ((double)v - s->n_steps) + rv_init - (double)si;
                shifted_row(e, &e->lib->t[t], u, e->Tu + v * n);
                for (size_t i = 0; i < n; i++) e->Tu2[v * n + i] = e->Tu[v * n + i] * e->Tu[v * n + i];
            }
            chi2_rows(e, e->Tu, e->Tu2, nv, c);
        }
        double cmin;
        int edge;
        double r = coarse_centre(e, c, &cmin, &edge) - (double)si;
        sum += r;
        sum2 += r * r;
        cnt++;
    }
    if (s->full_injection == 2) prepare(e, sp, 0.0, 1);
    *mean = sum / (double)cnt;
    double var = sum2 / (double)cnt - (*mean) * (*mean);
    *sd = sqrt(var > 0.0 ? var : 0.0);
    return 1;
}

ms_status ms_rv_tm(ms_rv_engine *e, const ms_rv_native *sp, double wave_max_override,
                   ms_rv_tm_result *out)
{
    memset(out, 0, sizeof *out);
    out->rv = out->e_rv = out->rv_init = out->chi2 = out->red_blue = out->e_stat = out->rv_min = NAN;
    out->template_index = -1;
    e->sp = sp;
    e->wave_cut = wave_max_override > 0 ? wave_max_override : e->s.wave_max + 1.0;
    prepare(e, sp, 0.0, 0);
    out->n_pix = (int)e->n_good;
    if ((double)e->n_good < e->s.min_pixels) return MS_OK;
    const size_t nv = (size_t)e->n_v, rows = e->lib->n * nv;
    chi2_rows_f(e, e->T, e->T2, rows, e->chi2);
    /* step 1: each template's refined minimum; the best template has the lowest */
    int best = -1, best_edge = 0;
    double best_c = DBL_MAX, best_v = NAN;
    for (size_t t = 0; t < e->lib->n; t++) {
        double cmin;
        int edge;
        double v = coarse_centre(e, e->chi2 + t * nv, &cmin, &edge);
        if (isfinite(cmin) && cmin < best_c) {
            best_c = cmin;
            best = (int)t;
            best_v = v;
            best_edge = edge;
        }
    }
    if (best < 0) return MS_OK;
    out->template_index = best;
    out->rv_init = best_v;
    out->chi2 = best_c;
    out->at_edge = best_edge;
    /* step 2: errors by injection */
    double mean, sd;
    int ok = injections_cheap(e, best, best_v, &mean, &sd, &out->e_stat, &out->rv_min);
    if (ok && e->s.full_injection) ok = injections_full(e, sp, best, best_v, &mean, &sd);
    if (!ok) return MS_OK;
    out->rv = best_v + mean;
    out->e_rv = sd;
    out->red_blue = red_blue_ratio(e, best, out->rv);
    out->ok = isfinite(out->rv) && !best_edge;
    return MS_OK;
}
