/* match.c: chi2 of spectra against an empirical library with a quadratic flux
 * recalibration per pair (Du et al. 2025 3.3, 3.6; the GEMM form is in laspm.h), the
 * combination of the five best matches and its errors. */
#include "mstars/laspm.h"
#include "mstars/mem.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <string.h>

const char *const ms_laspm_label_names[MS_LASPM_N_LABELS] = {"teff", "logg", "m_h"};
const char *const ms_laspm_flag_names[MS_LASPM_N_FLAGS + 1] = {
    "no_pixels", "curvature_not_positive", "at_library_edge", "few_library", NULL};

struct ms_laspm {
    const ms_laspm_library *lib;
    ms_laspm_opts o;
    size_t L, P, n_pix;     /* library rows, pixels in the match, pixels of the grid */
    size_t *pix;            /* [P] grid index of match pixel q */
    double *x;              /* [P] x_q in [-1, 1] */
    double *t, *t2;         /* [L x P] library and its square (non-finite -> 0) */
    double lo[MS_LASPM_N_LABELS], hi[MS_LASPM_N_LABELS]; /* library label range */
    /* batch work space */
    size_t nb;
    double *left_b, *left_m; /* [3 nb x P], [5 nb x P] */
    double *gb, *gm;         /* [3 nb x L], [5 nb x L] */
    double *cc;              /* [nb] sum w f^2 */
    double *chi2;            /* [nb x L] */
    double *wf, *ww;         /* [P] one spectrum's f and w over the match pixels */
    double *model;           /* [K x P] the recalibrated best templates */
};

void ms_laspm_opts_default(ms_laspm_opts *o)
{
    o->wave_min = 6000.0;
    o->wave_max = 8800.0;
    o->n_curv = 20;
    o->weighting = MS_LASPM_W_NNLS;
    o->batch = 32;
}

void ms_laspm_free(ms_laspm *m)
{
    if (!m) return;
    void *p[] = {m->pix, m->x, m->t, m->t2, m->left_b, m->left_m, m->gb, m->gm, m->cc,
                 m->chi2, m->wf, m->ww, m->model};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) ms_free(p[i]);
    ms_free(m);
}

ms_status ms_laspm_prepare(const ms_laspm_library *lib, const ms_laspm_opts *o,
                           const uint8_t *mask, ms_laspm **out)
{
    *out = NULL;
    if (!lib->n) MS_ERROR(MS_EINVAL, "laspm: the library is empty");
    if (!(o->wave_max > o->wave_min))
        MS_ERROR(MS_EINVAL, "laspm: wave_max %.1f must exceed wave_min %.1f", o->wave_max,
                 o->wave_min);
    if (o->n_curv < 4 || o->n_curv > 256)
        MS_ERROR(MS_EINVAL, "laspm: n_curv %zu must be 4-256", o->n_curv);
    if (o->batch < 1) MS_ERROR(MS_EINVAL, "laspm: batch must be >= 1");
    ms_laspm *m = ms_calloc("laspm", 1, sizeof *m);
    if (!m) return MS_ENOMEM;
    m->lib = lib;
    m->o = *o;
    m->L = lib->n;
    m->n_pix = lib->n_pix;
    m->nb = o->batch;
    size_t P = 0;
    for (size_t p = 0; p < lib->n_pix; p++)
        P += lib->wavelength[p] >= o->wave_min && lib->wavelength[p] <= o->wave_max &&
             !(mask && mask[p]);
    if (P < 4) {
        ms_laspm_free(m);
        MS_ERROR(MS_EINVAL, "laspm: only %zu library pixels in %.1f-%.1f A", P, o->wave_min,
                 o->wave_max);
    }
    m->P = P;
    const size_t L = m->L, nb = m->nb;
    m->pix = ms_malloc_array("laspm.pix", P, sizeof *m->pix);
    m->x = ms_malloc_array("laspm.x", P, sizeof *m->x);
    m->t = ms_malloc_array("laspm.t", L * P, sizeof *m->t);
    m->t2 = ms_malloc_array("laspm.t2", L * P, sizeof *m->t2);
    m->left_b = ms_malloc_array("laspm.left_b", 3 * nb * P, sizeof(double));
    m->left_m = ms_malloc_array("laspm.left_m", 5 * nb * P, sizeof(double));
    m->gb = ms_malloc_array("laspm.gb", 3 * nb * L, sizeof(double));
    m->gm = ms_malloc_array("laspm.gm", 5 * nb * L, sizeof(double));
    m->cc = ms_malloc_array("laspm.cc", nb, sizeof(double));
    m->chi2 = ms_malloc_array("laspm.chi2", nb * L, sizeof(double));
    m->wf = ms_malloc_array("laspm.wf", P, sizeof(double));
    m->ww = ms_malloc_array("laspm.ww", P, sizeof(double));
    m->model = ms_malloc_array("laspm.model", MS_LASPM_K * P, sizeof(double));
    if (!m->pix || !m->x || !m->t || !m->t2 || !m->left_b || !m->left_m || !m->gb || !m->gm ||
        !m->cc || !m->chi2 || !m->wf || !m->ww || !m->model) {
        ms_laspm_free(m);
        return MS_ENOMEM;
    }
    const double mid = 0.5 * (o->wave_min + o->wave_max), half = 0.5 * (o->wave_max - o->wave_min);
    size_t q = 0;
    for (size_t p = 0; p < lib->n_pix; p++)
        if (lib->wavelength[p] >= o->wave_min && lib->wavelength[p] <= o->wave_max &&
            !(mask && mask[p])) {
            m->pix[q] = p;
            m->x[q++] = (lib->wavelength[p] - mid) / half;
        }
    for (size_t j = 0; j < L; j++)
        for (size_t q2 = 0; q2 < P; q2++) {
            double v = lib->flux[j * lib->n_pix + m->pix[q2]];
            if (!isfinite(v)) v = 0.0;
            m->t[j * P + q2] = v;
            m->t2[j * P + q2] = v * v;
        }
    for (int k = 0; k < MS_LASPM_N_LABELS; k++) {
        m->lo[k] = INFINITY;
        m->hi[k] = -INFINITY;
        for (size_t j = 0; j < L; j++) {
            double y = lib->labels[j * MS_LASPM_N_LABELS + k];
            if (y < m->lo[k]) m->lo[k] = y;
            if (y > m->hi[k]) m->hi[k] = y;
        }
    }
    *out = m;
    return MS_OK;
}

/* Solve the symmetric positive definite 3x3 system [[a0 a1 a2][a1 a3 a4][a2 a4 a5]] c = b
 * by Cholesky. 0 when not positive definite (relative pivot below 1e-12). */
static int solve3(const double a[6], const double b[3], double c[3])
{
    const double tol = 1e-12;
    if (!(a[0] > 0.0)) return 0;
    double l00 = sqrt(a[0]);
    double l10 = a[1] / l00, l20 = a[2] / l00;
    double d1 = a[3] - l10 * l10;
    if (!(d1 > tol * a[3])) return 0;
    double l11 = sqrt(d1);
    double l21 = (a[4] - l20 * l10) / l11;
    double d2 = a[5] - l20 * l20 - l21 * l21;
    if (!(d2 > tol * a[5])) return 0;
    double l22 = sqrt(d2);
    double y0 = b[0] / l00, y1 = (b[1] - l10 * y0) / l11, y2 = (b[2] - l20 * y0 - l21 * y1) / l22;
    c[2] = y2 / l22;
    c[1] = (y1 - l21 * c[2]) / l11;
    c[0] = (y0 - l10 * c[1] - l20 * c[2]) / l00;
    return 1;
}

/* The pair's normal system from the GEMM outputs (spectrum i of the batch, library j). */
static int pair_coef(const ms_laspm *m, size_t i, size_t j, double c[3], double *bc)
{
    const size_t L = m->L;
    double b[3], s[5];
    for (int k = 0; k < 3; k++) b[k] = m->gb[(i * 3 + k) * L + j];
    for (int k = 0; k < 5; k++) s[k] = m->gm[(i * 5 + k) * L + j];
    const double a[6] = {s[0], s[1], s[2], s[2], s[3], s[4]};
    if (!solve3(a, b, c)) return 0;
    *bc = b[0] * c[0] + b[1] * c[1] + b[2] * c[2];
    return 1;
}

/* The GEMMs of one batch (nb <= m->nb spectra): gb, gm, cc. The GEMMs always have the full
 * batch's shape (rows past nb are zero): OpenBLAS's kernels and blocking depend on the
 * matrix shape, so a batch of another size could round a row's sums differently; with one
 * shape a spectrum's chi2 is the same bits whatever else shares its batch (any chunk size,
 * any rank count). */
static void batch_gemm(ms_laspm *m, size_t nb, const float *flux, const float *ivar)
{
    const size_t P = m->P, L = m->L, np = m->n_pix;
    if (nb < m->nb) {
        memset(m->left_b + 3 * nb * P, 0, 3 * (m->nb - nb) * P * sizeof(double));
        memset(m->left_m + 5 * nb * P, 0, 5 * (m->nb - nb) * P * sizeof(double));
    }
    for (size_t i = 0; i < nb; i++) {
        double c = 0.0;
        for (size_t q = 0; q < P; q++) {
            const size_t p = m->pix[q];
            double f = flux[i * np + p], w = ivar[i * np + p];
            if (!(w > 0.0) || !isfinite(w) || !isfinite(f)) f = w = 0.0;
            const double x = m->x[q];
            double xk = w;
            for (int k = 0; k < 5; k++) {
                m->left_m[(i * 5 + k) * P + q] = xk;
                if (k < 3) m->left_b[(i * 3 + k) * P + q] = xk * f;
                xk *= x;
            }
            c += w * f * f;
        }
        m->cc[i] = c;
    }
    const int rows = (int)m->nb;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, 3 * rows, (int)L, (int)P, 1.0,
                m->left_b, (int)P, m->t, (int)P, 0.0, m->gb, (int)L);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, 5 * rows, (int)L, (int)P, 1.0,
                m->left_m, (int)P, m->t2, (int)P, 0.0, m->gm, (int)L);
}

static void batch_chi2(ms_laspm *m, size_t nb, double *chi2, double *coef)
{
    const size_t L = m->L;
    for (size_t i = 0; i < nb; i++)
        for (size_t j = 0; j < L; j++) {
            double c[3] = {NAN, NAN, NAN}, bc = 0.0, v = INFINITY;
            if (pair_coef(m, i, j, c, &bc)) {
                v = m->cc[i] - bc;
                if (v < 0.0) v = 0.0; /* rounding of an exact match */
            }
            chi2[i * L + j] = v;
            if (coef) memcpy(coef + (i * L + j) * 3, c, sizeof c);
        }
}

ms_status ms_laspm_chi2(ms_laspm *m, size_t n, const float *flux, const float *ivar,
                        double *chi2, double *coef)
{
    const size_t np = m->n_pix, L = m->L;
    for (size_t i0 = 0; i0 < n; i0 += m->nb) {
        size_t nb = n - i0 < m->nb ? n - i0 : m->nb;
        batch_gemm(m, nb, flux + i0 * np, ivar + i0 * np);
        batch_chi2(m, nb, chi2 + i0 * L, coef ? coef + i0 * L * 3 : NULL);
    }
    return MS_OK;
}

/* Non-negative least squares min_a a^T G a - 2 h^T a (a >= 0) for K <= 5 unknowns, exactly:
 * the unconstrained solution of every subset of the columns, keeping the best feasible one
 * (the NNLS solution is the unconstrained solution on its support). Returns the objective
 * (add sum w f^2 for the chi2). */
static double nnls_small(size_t K, const double *G, const double *h, double *a)
{
    double best = INFINITY;
    for (size_t k = 0; k < K; k++) a[k] = 0.0;
    for (unsigned s = 1; s < (1u << K); s++) {
        size_t idx[MS_LASPM_K], n = 0;
        for (size_t k = 0; k < K; k++)
            if (s & (1u << k)) idx[n++] = k;
        /* Cholesky of G restricted to idx */
        double l[MS_LASPM_K][MS_LASPM_K] = {{0}}, y[MS_LASPM_K], z[MS_LASPM_K];
        int ok = 1;
        for (size_t r = 0; r < n && ok; r++) {
            for (size_t c = 0; c <= r; c++) {
                double v = G[idx[r] * K + idx[c]];
                for (size_t t = 0; t < c; t++) v -= l[r][t] * l[c][t];
                if (r == c) {
                    if (!(v > 1e-12 * G[idx[r] * K + idx[r]])) ok = 0;
                    else l[r][r] = sqrt(v);
                } else {
                    l[r][c] = v / l[c][c];
                }
            }
        }
        if (!ok) continue;
        for (size_t r = 0; r < n; r++) {
            double v = h[idx[r]];
            for (size_t t = 0; t < r; t++) v -= l[r][t] * y[t];
            y[r] = v / l[r][r];
        }
        for (size_t r = n; r-- > 0;) {
            double v = y[r];
            for (size_t t = r + 1; t < n; t++) v -= l[t][r] * z[t];
            z[r] = v / l[r][r];
        }
        int feasible = 1;
        double obj = 0.0;
        for (size_t r = 0; r < n; r++) {
            feasible &= z[r] > 0.0;
            obj -= z[r] * h[idx[r]]; /* at the optimum a^T G a = h^T a */
        }
        if (feasible && obj < best) {
            best = obj;
            for (size_t k = 0; k < K; k++) a[k] = 0.0;
            for (size_t r = 0; r < n; r++) a[idx[r]] = z[r];
        }
    }
    return best;
}

/* Least-squares parabola y = a + b u + c u^2 through n points: c, or NaN. */
static double parabola_c(size_t n, const double *u, const double *y)
{
    double s[5] = {0}, r[3] = {0};
    for (size_t i = 0; i < n; i++) {
        double uk = 1.0;
        for (int k = 0; k < 5; k++) {
            s[k] += uk;
            if (k < 3) r[k] += uk * y[i];
            uk *= u[i];
        }
    }
    const double a[6] = {s[0], s[1], s[2], s[2], s[3], s[4]};
    double c[3];
    return solve3(a, r, c) ? c[2] : NAN;
}

/* chi2 over the match pixels of model P(x) sum_k a_k t_k against the spectrum in wf, ww. */
static double model_chi2(const ms_laspm *m, size_t K, const size_t *best, const double *a,
                         const double c[3])
{
    double chi2 = 0.0;
    for (size_t q = 0; q < m->P; q++) {
        double s = 0.0, x = m->x[q];
        for (size_t k = 0; k < K; k++) s += a[k] * m->t[best[k] * m->P + q];
        double d = m->wf[q] - (c[0] + x * (c[1] + x * c[2])) * s;
        chi2 += m->ww[q] * d * d;
    }
    return chi2;
}

/* The combination of the K best library spectra (L25 on LASPM: chi2 minimised over a linear
 * combination of the five best-matching templates), with one shared recalibration:
 * model = P(x) sum_k a_k t_k, a_k >= 0. Bilinear, so alternated: with P fixed the a's are a
 * non-negative least-squares problem (nnls_small), with the a's fixed P is the 3x3 system;
 * each step lowers chi2. Starts from P of the best single match; 30 rounds at most, until
 * chi2 changes by < 1e-10 relative. a[K] out (unnormalised); returns the chi2. */
static double combine(ms_laspm *m, size_t i, size_t K, const size_t *best, double *a)
{
    const size_t P = m->P;
    double c[3], bc;
    for (size_t k = 0; k < K; k++) a[k] = k == 0;
    if (!pair_coef(m, i, best[0], c, &bc)) return INFINITY;
    double prev = model_chi2(m, K, best, a, c);
    for (int it = 0; it < 30 && K > 1; it++) {
        /* a given P: the Gram system of u_k = P t_k */
        for (size_t k = 0; k < K; k++) {
            const double *t = m->t + best[k] * P;
            for (size_t q = 0; q < P; q++) {
                const double x = m->x[q];
                m->model[k * P + q] = (c[0] + x * (c[1] + x * c[2])) * t[q];
            }
        }
        double G[MS_LASPM_K * MS_LASPM_K], h[MS_LASPM_K], an[MS_LASPM_K];
        for (size_t k = 0; k < K; k++) {
            double hk = 0.0;
            for (size_t q = 0; q < P; q++) hk += m->ww[q] * m->wf[q] * m->model[k * P + q];
            h[k] = hk;
            for (size_t l = 0; l <= k; l++) {
                double g = 0.0;
                for (size_t q = 0; q < P; q++)
                    g += m->ww[q] * m->model[k * P + q] * m->model[l * P + q];
                G[k * K + l] = G[l * K + k] = g;
            }
        }
        if (!isfinite(nnls_small(K, G, h, an))) break;
        /* P given a: s = sum a_k t_k */
        double s5[5] = {0}, b3[3] = {0}, cn[3];
        for (size_t q = 0; q < P; q++) {
            double s = 0.0, x = m->x[q];
            for (size_t k = 0; k < K; k++) s += an[k] * m->t[best[k] * P + q];
            double xk = m->ww[q] * s * s, xb = m->ww[q] * m->wf[q] * s;
            for (int k = 0; k < 5; k++) {
                s5[k] += xk;
                if (k < 3) b3[k] += xb;
                xk *= x;
                xb *= x;
            }
        }
        const double A[6] = {s5[0], s5[1], s5[2], s5[2], s5[3], s5[4]};
        if (!solve3(A, b3, cn)) break;
        double now = model_chi2(m, K, best, an, cn);
        if (!(now <= prev)) break;
        memcpy(a, an, K * sizeof *a);
        memcpy(c, cn, sizeof c);
        const int done = prev - now <= 1e-10 * prev;
        prev = now;
        if (done) break;
    }
    return prev;
}

/* Match spectrum i of the current batch (its f, w over the match pixels). */
static void match_one(ms_laspm *m, size_t i, const float *flux, const float *ivar,
                      int64_t exclude, ms_laspm_result *r)
{
    const size_t L = m->L, P = m->P, D = MS_LASPM_N_LABELS;
    const ms_laspm_library *lib = m->lib;
    const double *chi2 = m->chi2 + i * L;
    memset(r, 0, sizeof *r);
    for (size_t d = 0; d < D; d++)
        r->label[d] = r->error[d] = r->e_spread[d] = r->e_curv[d] = NAN;
    for (int k = 0; k < MS_LASPM_K; k++) {
        r->best_index[k] = -1;
        r->best_id[k] = -1;
        r->best_chi2[k] = r->weight[k] = NAN;
    }
    r->chi2_best = r->chi2_comb = r->chi2_red = NAN;
    size_t npix = 0;
    for (size_t q = 0; q < P; q++) {
        const size_t p = m->pix[q];
        double f = flux[p], w = ivar[p];
        if (!(w > 0.0) || !isfinite(w) || !isfinite(f)) f = w = 0.0;
        m->wf[q] = f;
        m->ww[q] = w;
        npix += w > 0.0;
    }
    r->n_pix = (int32_t)npix;
    if (npix < 4) {
        r->flags |= MS_LASPM_NO_PIXELS;
        return;
    }
    /* the n_curv best (ties by library row: deterministic) */
    size_t nc = m->o.n_curv, have = 0;
    size_t best[256];
    if (nc > 256) nc = 256;
    for (size_t j = 0; j < L; j++) {
        if (!isfinite(chi2[j]) || (exclude >= 0 && lib->id[j] == exclude)) continue;
        size_t pos = have < nc ? have : nc;
        while (pos > 0 && chi2[best[pos - 1]] > chi2[j]) pos--;
        if (pos >= nc) continue;
        size_t end = have < nc ? have : nc - 1;
        memmove(best + pos + 1, best + pos, (end - pos) * sizeof *best);
        best[pos] = j;
        if (have < nc) have++;
    }
    if (have == 0) {
        r->flags |= MS_LASPM_NO_PIXELS;
        return;
    }
    const size_t K = have < MS_LASPM_K ? have : MS_LASPM_K;
    if (K < MS_LASPM_K) r->flags |= MS_LASPM_FEW_LIB;
    for (size_t k = 0; k < K; k++) {
        r->best_index[k] = (int32_t)best[k];
        r->best_id[k] = lib->id[best[k]];
        r->best_chi2[k] = chi2[best[k]];
    }
    double a[MS_LASPM_K];
    const double dof = npix > 3 ? (double)(npix - 3) : 1.0;
    r->chi2_best = chi2[best[0]];
    const double red1 = r->chi2_best / dof > 0.0 ? r->chi2_best / dof : 1.0;
    r->chi2_comb = combine(m, i, K, best, a);
    if (!isfinite(r->chi2_comb)) r->chi2_comb = r->chi2_best;
    if (m->o.weighting == MS_LASPM_W_INVCHI2)
        for (size_t k = 0; k < K; k++)
            a[k] = exp(-0.5 * (r->best_chi2[k] - r->chi2_best) / red1);
    r->chi2_red = r->chi2_comb / dof;
    double asum = 0.0;
    for (size_t k = 0; k < K; k++) asum += a[k];
    for (size_t k = 0; k < K; k++) r->weight[k] = a[k] / asum;
    for (size_t d = 0; d < D; d++) {
        double y = 0.0, s2 = 0.0;
        for (size_t k = 0; k < K; k++) y += r->weight[k] * lib->labels[best[k] * D + d];
        for (size_t k = 0; k < K; k++) {
            double dy = lib->labels[best[k] * D + d] - y;
            s2 += dy * dy;
        }
        r->label[d] = y;
        r->e_spread[d] = sqrt(s2 / (double)K);
        const double span = m->hi[d] - m->lo[d];
        if (span > 0 && (y <= m->lo[d] + 1e-9 * span || y >= m->hi[d] - 1e-9 * span))
            r->flags |= MS_LASPM_AT_EDGE;
        /* curvature of chi2 along label d over the `have` best (u centred and scaled) */
        double u[256], cv[256], mean = 0.0, var = 0.0;
        for (size_t k = 0; k < have; k++) mean += lib->labels[best[k] * D + d];
        mean /= (double)have;
        for (size_t k = 0; k < have; k++) {
            double dy = lib->labels[best[k] * D + d] - mean;
            var += dy * dy;
        }
        double sc = sqrt(var / (double)have), c = NAN;
        if (have >= 4 && sc > 0.0) {
            for (size_t k = 0; k < have; k++) {
                u[k] = (lib->labels[best[k] * D + d] - mean) / sc;
                cv[k] = chi2[best[k]] - r->chi2_best;
            }
            c = parabola_c(have, u, cv) / (sc * sc);
        }
        if (c > 0.0) {
            r->e_curv[d] = sqrt(red1 / c);
            r->error[d] = sqrt(r->e_spread[d] * r->e_spread[d] + r->e_curv[d] * r->e_curv[d]);
        } else {
            r->flags |= MS_LASPM_CURV_BAD;
            r->error[d] = r->e_spread[d];
        }
    }
}

ms_status ms_laspm_match(ms_laspm *m, size_t n, const float *flux, const float *ivar,
                         const int64_t *exclude, ms_laspm_result *res)
{
    const size_t np = m->n_pix;
    for (size_t i0 = 0; i0 < n; i0 += m->nb) {
        size_t nb = n - i0 < m->nb ? n - i0 : m->nb;
        batch_gemm(m, nb, flux + i0 * np, ivar + i0 * np);
        batch_chi2(m, nb, m->chi2, NULL);
        for (size_t i = 0; i < nb; i++)
            match_one(m, i, flux + (i0 + i) * np, ivar + (i0 + i) * np,
                      exclude ? exclude[i0 + i] : -1, &res[i0 + i]);
    }
    return MS_OK;
}

void ms_laspm_view(const char *view, const double *wavelength, size_t n_pix, double wave_min,
                   double wave_max, float *flux, float *ivar, const float *continuum)
{
    if (strcmp(view, "calibrated") == 0 && continuum)
        for (size_t p = 0; p < n_pix; p++) {
            const double c = continuum[p];
            if (isfinite(c) && c > 0.0) {
                flux[p] = (float)(flux[p] * c);
                ivar[p] = (float)(ivar[p] / (c * c));
            } else {
                ivar[p] = 0.0f;
            }
        }
    /* the median over the match range's good pixels (sorted copy: O(n log n), small n) */
    float buf[8192];
    size_t n = 0;
    for (size_t p = 0; p < n_pix && n < sizeof buf / sizeof buf[0]; p++)
        if (wavelength[p] >= wave_min && wavelength[p] <= wave_max && ivar[p] > 0.0f &&
            isfinite(flux[p]))
            buf[n++] = flux[p];
    if (!n) return;
    /* insertion-free median: nth element by partial selection sort would be O(n^2); use a
     * simple quickselect */
    size_t lo = 0, hi = n - 1, kth = n / 2;
    while (lo < hi) {
        float pivot = buf[(lo + hi) / 2];
        size_t a = lo, b = hi;
        while (a <= b) {
            while (buf[a] < pivot) a++;
            while (buf[b] > pivot) b--;
            if (a <= b) {
                float tmp = buf[a];
                buf[a] = buf[b];
                buf[b] = tmp;
                a++;
                if (b == 0) break;
                b--;
            }
        }
        if (kth <= b) hi = b;
        else if (kth >= a) lo = a;
        else break;
    }
    const double med = buf[kth];
    if (!(med > 0.0) || !isfinite(med)) return;
    for (size_t p = 0; p < n_pix; p++) {
        flux[p] = (float)(flux[p] / med);
        ivar[p] = (float)(ivar[p] * med * med);
    }
}
