/* report_figures.c: the PNG figures of `mstars report` (Z25 figure numbers in the
 * captions). A figure whose data are missing is left out with a note. */
#include "report_internal.h"

#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/plot.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Bytes of scratch per row that the figures need (work + x, y, c). */
typedef struct {
    const rp_catalog *c;
    const char *out_dir;
    rp_results *r;
    size_t n;
    double *work, *x, *y, *z; /* [n] each */
} fig_ctx;

static ms_status add_figure(fig_ctx *g, const char *file, const char *key, const char *caption)
{
    rp_results *r = g->r;
    if (r->n_figures >= RP_MAX_FIGURES) MS_ERROR(MS_EINVAL, "report: too many figures");
    snprintf(r->figures[r->n_figures].file, sizeof r->figures[0].file, "%s", file);
    snprintf(r->figures[r->n_figures].key, sizeof r->figures[0].key, "%s", key);
    snprintf(r->figures[r->n_figures].caption, sizeof r->figures[0].caption, "%s", caption);
    r->n_figures++;
    return MS_OK;
}

static ms_status open_fig(fig_ctx *g, const char *file, int w, int h, int nx, int ny,
                          ms_plot **p)
{
    char path[4200];
    if (snprintf(path, sizeof path, "%s/%s", g->out_dir, file) >= (int)sizeof path)
        MS_ERROR(MS_EINVAL, "report: output path too long: %s", g->out_dir);
    return ms_plot_open(path, w, h, nx, ny, p);
}

/* Finish a figure: close it (also after a failure while drawing) and record it. */
static ms_status close_fig(fig_ctx *g, ms_plot *p, ms_status st, const char *file,
                           const char *key, const char *caption)
{
    ms_status cs = ms_plot_close(p);
    MS_TRY(st);
    MS_TRY(cs);
    ms_log_info("report: wrote %s/%s", g->out_dir, file);
    return add_figure(g, file, key, caption);
}

/* Axis range over the finite values of v [n] between the q and 1-q quantiles, padded. */
static void data_range(fig_ctx *g, const double *v, size_t n, double q, double pad, double *lo,
                       double *hi)
{
    double a = ms_stats_quantile(v, n, q, g->work), b = ms_stats_quantile(v, n, 1 - q, g->work);
    ms_plot_nice_range(a, b, pad, lo, hi);
}

/* Colour scale over [2%, 98%] of v, widened when degenerate. */
static void colour_range(fig_ctx *g, const double *v, size_t n, double *lo, double *hi)
{
    data_range(g, v, n, 0.02, 0.0, lo, hi);
}

/* ------------------------------------------------------------------ Kiel and HR */

/* A diagram of the m points (g->x, g->y) coloured by [M/H] (g->z), y axis reversed (magnitudes,
 * log g), x reversed too when flip_x (Teff): the Kiel and HR diagrams. */
static ms_status coloured_diagram(fig_ctx *g, size_t m, int flip_x, const char *file,
                                  const char *tag, const char *title, const char *xlabel,
                                  const char *ylabel, const char *caption)
{
    double x0, x1, y0, y1, c0, c1;
    data_range(g, g->x, m, 0.002, 0.05, &x0, &x1);
    data_range(g, g->y, m, 0.002, 0.05, &y0, &y1);
    size_t nz = 0;
    for (size_t i = 0; i < m; i++) nz += isfinite(g->z[i]) != 0;
    if (nz == 0) { /* no [M/H] (a 2-label fit): one colour, no bar (issue 17) */
        ms_plot *p;
        MS_TRY(open_fig(g, file, 1100, 850, 1, 1, &p));
        ms_status st = ms_plot_panel(p, flip_x ? x1 : x0, flip_x ? x0 : x1, y1, y0, xlabel,
                                     ylabel, title, 0);
        if (st == MS_OK) ms_plot_points(p, g->x, g->y, m, MS_PLOT_BLUE, 1.0);
        return close_fig(g, p, st, file, tag, caption);
    }
    colour_range(g, g->z, m, &c0, &c1);
    ms_plot *p;
    MS_TRY(open_fig(g, file, 1100, 850, 1, 1, &p));
    ms_status st = ms_plot_panel(p, flip_x ? x1 : x0, flip_x ? x0 : x1, y1, y0, xlabel, ylabel,
                                 title, MS_PLOT_COLORBAR);
    if (st == MS_OK) {
        ms_plot_points_coloured(p, g->x, g->y, g->z, m, c0, c1, 1.0);
        ms_plot_colorbar(p, c0, c1, rp_params[RP_MH].plot);
    }
    return close_fig(g, p, st, file, tag, caption);
}

static ms_status fig_kiel(fig_ctx *g)
{
    const rp_catalog *c = g->c;
    const double *teff = c->label[RP_TEFF], *logg = c->label[RP_LOGG], *mh = c->label[RP_MH];
    if (!teff || !logg) {
        rp_note(g->r, "Kiel diagram (Fig. 9): the catalog lacks teff or logg");
        return MS_OK;
    }
    size_t m = 0;
    for (size_t i = 0; i < g->n; i++) {
        if (!isfinite(teff[i]) || !isfinite(logg[i])) continue;
        g->x[m] = teff[i];
        g->y[m] = logg[i];
        g->z[m] = mh ? mh[i] : NAN;
        m++;
    }
    if (m == 0) {
        rp_note(g->r, "Kiel diagram (Fig. 9): no fitted row");
        return MS_OK;
    }
    size_t n_mh = 0;
    for (size_t i = 0; i < m; i++) n_mh += isfinite(g->z[i]) != 0;
    if (!mh || n_mh == 0) rp_note(g->r, "Kiel diagram: no [M/H] values, points not coloured");
    char title[128];
    snprintf(title, sizeof title, "Kiel diagram: %zu fitted spectra", m);
    return coloured_diagram(g, m, 1, "kiel.png", "kiel", title, rp_params[RP_TEFF].plot,
                            rp_params[RP_LOGG].plot,
                            "Kiel diagram (Z25 Fig. 9): log g against Teff of every fitted "
                            "spectrum, coloured by [M/H]");
}

static ms_status fig_hr(fig_ctx *g)
{
    const rp_catalog *c = g->c;
    if (!c->gmag || !c->bpmag || !c->rpmag || !c->plx) {
        rp_note(g->r, "HR diagram (Fig. 11): the catalog lacks Gaia columns (gmag, bpmag, rpmag, "
                      "plx)");
        return MS_OK;
    }
    const double *mh = c->label[RP_MH];
    size_t m = 0;
    for (size_t i = 0; i < g->n; i++) {
        if (!(c->plx[i] > 0) || !isfinite(c->gmag[i]) || !isfinite(c->bpmag[i]) ||
            !isfinite(c->rpmag[i]) || !(c->label[RP_TEFF] && isfinite(c->label[RP_TEFF][i])))
            continue;
        g->x[m] = c->bpmag[i] - c->rpmag[i];
        g->y[m] = c->gmag[i] + 5 * log10(c->plx[i] / 100.0);
        g->z[m] = mh ? mh[i] : NAN;
        m++;
    }
    if (m == 0) {
        rp_note(g->r, "HR diagram (Fig. 11): no fitted row with Gaia photometry and a positive "
                      "parallax");
        return MS_OK;
    }
    char title[128];
    snprintf(title, sizeof title, "HR diagram: %zu fitted spectra with parallax > 0", m);
    return coloured_diagram(g, m, 0, "hr.png", "hr", title, "BP - RP (mag)", "M#dG#u (mag)",
                            "HR diagram (Z25 Fig. 11): absolute G magnitude M_G = G + 5 "
                            "log10(plx/100) (plx in mas, > 0) against BP - RP, coloured by [M/H]");
}

/* ------------------------------------------------------------------ precision vs S/N */

static ms_status fig_precision(fig_ctx *g)
{
    const rp_catalog *c = g->c;
    int have = 0;
    for (int q = 0; q < RP_N_PARAMS; q++) have += c->repeat[q].have;
    if (!have) {
        rp_note(g->r, "precision vs S/N (Fig. 10): no Err_repeat fit in the catalog (%s)",
                c->repeat[RP_TEFF].why);
        return MS_OK;
    }
    ms_plot *p;
    MS_TRY(open_fig(g, "precision_snr.png", 1500, 1000, 3, 2, &p));
    ms_status st = MS_OK;
    for (int q = 0; q < RP_N_PARAMS && st == MS_OK; q++) {
        const rp_repeat *rp = &c->repeat[q];
        if (!rp->have) {
            rp_note(g->r, "precision_vs_snr.%s: %s", rp_params[q].name, rp->why);
            continue;
        }
        size_t nb = rp->n_bins;
        double smin = HUGE_VAL, smax = 0, ymax = 0;
        for (size_t k = 0; k < nb; k++) {
            double hi = isfinite(rp->bin_max[k]) ? rp->bin_max[k] : 1.5 * rp->bin_min[k];
            /* the bin's effective S/N (1 / RMS 1/(S/N)) when recorded, else its centre */
            double inv = rp->bin_inv_snr ? rp->bin_inv_snr[k] : NAN;
            g->x[k] = inv > 0 ? 1.0 / inv : 0.5 * (rp->bin_min[k] + hi);
            g->y[k] = rp->bin_scatter[k];
            if (g->x[k] > 0) smin = fmin(smin, g->x[k]); /* the curve from the first point */
            smax = fmax(smax, hi);
            if (isfinite(rp->bin_scatter[k])) ymax = fmax(ymax, rp->bin_scatter[k]);
        }
        if (!(smin < smax)) {
            smin = 5;
            smax = 200;
        }
        smin = fmax(0.8 * smin, 1.0);
        /* the curve a / SNR + b from the lowest point on */
        double cx[100], cy[100];
        for (int k = 0; k < 100; k++) {
            cx[k] = smin + (smax - smin) * k / 99.0;
            cy[k] = rp->a / cx[k] + rp->b;
            if (isfinite(cy[k])) ymax = fmax(ymax, cy[k]);
        }
        if (!(ymax > 0)) ymax = 1;
        char ylab[96], title[160];
        snprintf(ylab, sizeof ylab, "#gs %s", rp_params[q].plot);
        snprintf(title, sizeof title, "%s: %.0f stars with repeats", rp_params[q].symbol,
                 rp->n_stars);
        /* room above the data for the fitted values */
        st = ms_plot_panel(p, 0, smax * 1.05, 0, ymax * 1.3, "S/N (r band)", ylab, title, 0);
        if (st != MS_OK) break;
        ms_plot_line(p, cx, cy, 100, MS_PLOT_RED, 1, 2.0);
        ms_plot_points(p, g->x, g->y, nb, MS_PLOT_BLUE, 2.2);
        char eq[128];
        snprintf(eq, sizeof eq, "a = %.4g, b = %.4g %s", rp->a, rp->b, rp_params[q].unit);
        ms_plot_text(p, 0.96, 0.91, 1.0, 0.9, eq);
    }
    if (st == MS_OK) {
        const char *labels[2] = {"scatter of repeats in a S/N bin", "Err#drepeat#u = a/(S/N) + b"};
        int colours[2] = {MS_PLOT_BLUE, MS_PLOT_RED}, kinds[2] = {1, 0}, styles[2] = {1, 1};
        st = ms_plot_legend_panel(p, NULL, 2, labels, colours, kinds, styles);
    }
    return close_fig(g, p, st, "precision_snr.png", "precision_snr",
                     "Precision against S/N from repeat observations (Z25 Fig. 10): scatter of "
                     "repeats per S/N bin (points) and the fitted Err_repeat = a/(S/N) + b (line)");
}

/* ------------------------------------------------------------------ comparisons */

static const int bin_colours[RP_N_SNR_BINS] = {MS_PLOT_ORANGE, MS_PLOT_GREEN, MS_PLOT_BLUE,
                                               MS_PLOT_PURPLE};

static void fmt_value(char *buf, size_t len, double v, int digits)
{
    if (isfinite(v))
        snprintf(buf, len, "%.*f", digits, v);
    else
        snprintf(buf, len, "n/a");
}

static ms_status fig_one_to_one(fig_ctx *g, const rp_comparison *cm, const char *file,
                                const char *key)
{
    const rp_catalog *c = g->c;
    ms_plot *p;
    MS_TRY(open_fig(g, file, 1500, 1000, 3, 2, &p));
    ms_status st = MS_OK;
    for (int q = 0; q < RP_N_PARAMS && st == MS_OK; q++) {
        if (!cm->p[q].have_column) continue;
        const double *est = c->label[q], *ref = cm->ref[q];
        size_t m = 0;
        for (size_t i = 0; i < g->n; i++) {
            if (!isfinite(est[i]) || !isfinite(ref[i])) continue;
            g->x[m] = ref[i];
            g->y[m] = est[i];
            m++;
        }
        if (m == 0) continue;
        /* one range for both axes */
        double lo1, hi1, lo2, hi2;
        data_range(g, g->x, m, 0.002, 0.0, &lo1, &hi1);
        data_range(g, g->y, m, 0.002, 0.0, &lo2, &hi2);
        double lo, hi;
        ms_plot_nice_range(fmin(lo1, lo2), fmax(hi1, hi2), 0.05, &lo, &hi);
        char xl[96], yl[96], title[160], b1[32], b2[32];
        snprintf(xl, sizeof xl, "%s %s", cm->kind, rp_params[q].plot);
        snprintf(yl, sizeof yl, "mstars %s", rp_params[q].plot);
        const ms_stats_summary *s = &cm->p[q].all;
        fmt_value(b1, sizeof b1, s->mean, rp_params[q].digits);
        fmt_value(b2, sizeof b2, s->std, rp_params[q].digits);
        snprintf(title, sizeof title, "n = %zu, bias = %s, #gs = %s %s", s->n, b1, b2,
                 rp_params[q].unit);
        st = ms_plot_panel(p, lo, hi, lo, hi, xl, yl, title, 0);
        if (st != MS_OK) break;
        double d[2] = {lo, hi};
        ms_plot_line(p, d, d, 2, MS_PLOT_BLACK, 2, 1.5);
        /* points by S/N bin (grey: below 5 or unknown) */
        size_t k = 0;
        for (int b = -1; b < RP_N_SNR_BINS; b++) {
            m = 0;
            for (size_t i = 0; i < g->n; i++) {
                if (!isfinite(est[i]) || !isfinite(ref[i])) continue;
                double snr = c->snr_r ? c->snr_r[i] : NAN;
                int bin = -1;
                for (int e = 0; e < RP_N_SNR_BINS; e++)
                    if (snr >= rp_snr_edges[e] && snr < rp_snr_edges[e + 1]) bin = e;
                if (bin != b) continue;
                g->x[m] = ref[i];
                g->y[m] = est[i];
                m++;
            }
            ms_plot_points(p, g->x, g->y, m, b < 0 ? MS_PLOT_GREY : bin_colours[b], 1.2);
            k += m;
        }
        (void)k;
    }
    if (st == MS_OK && c->snr_r) {
        const char *labels[RP_N_SNR_BINS + 1] = {"S/N 5-10", "S/N 10-20", "S/N 20-50",
                                                 "S/N > 50", "S/N < 5"};
        int colours[RP_N_SNR_BINS + 1], kinds[RP_N_SNR_BINS + 1];
        for (int e = 0; e < RP_N_SNR_BINS; e++) colours[e] = bin_colours[e];
        colours[RP_N_SNR_BINS] = MS_PLOT_GREY;
        for (int e = 0; e <= RP_N_SNR_BINS; e++) kinds[e] = 1;
        st = ms_plot_legend_panel(p, "colours: the catalog's snr_r", RP_N_SNR_BINS + 1, labels,
                                  colours, kinds, NULL);
    }
    char caption[RP_NOTE_LEN];
    snprintf(caption, sizeof caption,
             "One-to-one comparison with the %s (Z25 Fig. 14): mstars against %s values of the "
             "fitted spectra joined by obsid, key or position, coloured by the catalog's S/N (snr_r); dashed: "
             "one to one", cm->kind, cm->kind);
    return close_fig(g, p, st, file, key, caption);
}

static ms_status fig_diff_snr(fig_ctx *g, const rp_comparison *cm, const char *file,
                              const char *key)
{
    const rp_catalog *c = g->c;
    if (!c->snr_r) return MS_OK; /* noted by rp_compare */
    ms_plot *p;
    MS_TRY(open_fig(g, file, 1500, 1000, 3, 2, &p));
    ms_status st = MS_OK;
    for (int q = 0; q < RP_N_PARAMS && st == MS_OK; q++) {
        if (!cm->p[q].have_column) continue;
        const double *est = c->label[q], *ref = cm->ref[q];
        size_t m = 0;
        for (size_t i = 0; i < g->n; i++) {
            if (!isfinite(est[i]) || !isfinite(ref[i]) || !(c->snr_r[i] > 0)) continue;
            g->x[m] = c->snr_r[i];
            g->y[m] = est[i] - ref[i];
            g->z[m] = fabs(g->y[m]);
            m++;
        }
        if (m == 0) continue;
        double xlo = fmax(1.0, ms_stats_quantile(g->x, m, 0.0, g->work));
        double xhi = ms_stats_quantile(g->x, m, 1.0, g->work);
        if (!(xhi > xlo * 1.5)) xhi = xlo * 10;
        double yspan = 1.15 * ms_stats_quantile(g->z, m, 0.99, g->work);
        if (!(yspan > 0)) yspan = 1;
        char yl[96];
        snprintf(yl, sizeof yl, "#gD %s", rp_params[q].plot);
        st = ms_plot_panel(p, xlo / 1.2, xhi * 1.2, -yspan, yspan, "S/N (r band)", yl, NULL,
                           MS_PLOT_LOGX);
        if (st != MS_OK) break;
        ms_plot_points(p, g->x, g->y, m, MS_PLOT_GREY, 1.0);
        double zx[2] = {xlo / 1.2, xhi * 1.2}, zy[2] = {0, 0};
        ms_plot_line(p, zx, zy, 2, MS_PLOT_BLACK, 2, 1.0);
        /* per-bin bias (points) and bias +- scatter (bars) */
        double bx[RP_N_SNR_BINS], by[RP_N_SNR_BINS], lo[RP_N_SNR_BINS], hi[RP_N_SNR_BINS];
        for (int b = 0; b < RP_N_SNR_BINS; b++) {
            const ms_stats_summary *s = &cm->p[q].bins[b];
            double e1 = rp_snr_edges[b + 1];
            if (!isfinite(e1)) e1 = fmax(2 * rp_snr_edges[b], xhi);
            bx[b] = sqrt(rp_snr_edges[b] * e1);
            by[b] = s->n ? s->mean : NAN;
            double sd = isfinite(s->std) ? s->std : 0;
            lo[b] = by[b] - sd;
            hi[b] = by[b] + sd;
        }
        ms_plot_errorbars(p, bx, lo, hi, RP_N_SNR_BINS, MS_PLOT_RED);
        ms_plot_points(p, bx, by, RP_N_SNR_BINS, MS_PLOT_RED, 2.2);
    }
    if (st == MS_OK) {
        char title[64], what[96];
        snprintf(title, sizeof title, "#gD = mstars - %s", cm->kind);
        snprintf(what, sizeof what, "bias \xc2\xb1 scatter per S/N bin");
        const char *labels[2] = {"one spectrum", what};
        int colours[2] = {MS_PLOT_GREY, MS_PLOT_RED}, kinds[2] = {1, 1};
        st = ms_plot_legend_panel(p, title, 2, labels, colours, kinds, NULL);
    }
    char caption[RP_NOTE_LEN];
    snprintf(caption, sizeof caption,
             "Difference mstars - %s against the catalog's S/N (snr_r) (Z25 Fig. 15): "
             "grey, every matched spectrum; red, bias and bias +- scatter in the S/N bins "
             "5-10, 10-20, 20-50, > 50", cm->kind);
    return close_fig(g, p, st, file, key, caption);
}

/* ------------------------------------------------------------------ residuals */

static ms_status fig_residuals(fig_ctx *g)
{
    const rp_catalog *c = g->c;
    rp_results *r = g->r;
    const double *with = c->csn_run ? c->resid : NULL;
    const double *without = c->csn_run ? c->resid_emu : c->resid;
    if (!with && !without) return MS_OK; /* noted by rp_residuals */
    size_t m = 0;
    for (size_t i = 0; i < g->n; i++) {
        if (with) g->work[m++] = with[i];
        if (without) g->work[m++] = without[i];
    }
    /* range from the pooled values (z: the quantiles sort a copy in work) */
    for (size_t i = 0; i < m; i++) g->z[i] = g->work[i];
    double lo = ms_stats_quantile(g->z, m, 0.005, g->work);
    double hi = ms_stats_quantile(g->z, m, 0.995, g->work);
    if (!(hi > lo)) {
        lo = 0;
        hi = 3;
    }
    double span = hi - lo;
    lo = fmax(0, lo - 0.15 * span);
    hi += 0.15 * span;
    enum { NB = 40 };
    double h_with[NB], h_without[NB], top = 0;
    if (with) ms_stats_histogram(with, g->n, lo, hi, NB, h_with);
    if (without) ms_stats_histogram(without, g->n, lo, hi, NB, h_without);
    for (int k = 0; k < NB; k++) {
        if (with) top = fmax(top, h_with[k]);
        if (without) top = fmax(top, h_without[k]);
    }
    if (!(top > 0)) top = 1;
    ms_plot *p;
    MS_TRY(open_fig(g, "residuals.png", 1100, 800, 1, 1, &p));
    ms_status st = ms_plot_panel(p, lo, hi, 0, top * 1.25,
                                 "mean |F#dobs#u - F#dmodel#u| / #gs per spectrum",
                                 "spectra per bin", "Best-fit residuals over the flux uncertainty",
                                 0);
    if (st == MS_OK) {
        const char *labels[3];
        int colours[3], kinds[3] = {0, 0, 0}, styles[3] = {1, 1, 1};
        size_t nl = 0;
        char l1[96], l2[96];
        if (without) {
            ms_plot_steps(p, lo, (hi - lo) / NB, h_without, NB, MS_PLOT_BLUE, 1, 2.0);
            snprintf(l2, sizeof l2, "emulator only: mean %.3f", r->resid_without);
            labels[nl] = l2;
            colours[nl++] = MS_PLOT_BLUE;
        }
        if (with) {
            ms_plot_steps(p, lo, (hi - lo) / NB, h_with, NB, MS_PLOT_RED, 1, 2.0);
            snprintf(l1, sizeof l1, "with Cycle-StarNet: mean %.3f", r->resid_with);
            labels[nl] = l1;
            colours[nl++] = MS_PLOT_RED;
        }
        /* a perfect model with Gaussian noise: E|x| / sigma = sqrt(2 / pi) */
        const double gauss = sqrt(2.0 / M_PI);
        if (gauss > lo && gauss < hi) {
            double gx[2] = {gauss, gauss}, gy[2] = {0, top * 1.25};
            ms_plot_line(p, gx, gy, 2, MS_PLOT_BLACK, 2, 1.5);
            styles[nl] = 2;
            labels[nl] = "perfect model, Gaussian noise: 0.798";
            colours[nl++] = MS_PLOT_BLACK;
        }
        ms_plot_legend(p, 1, nl, labels, colours, kinds, styles);
    }
    return close_fig(g, p, st, "residuals.png", "residuals",
                     "Distribution of the per-spectrum mean |F_obs - F_model| / sigma over the "
                     "fitted pixels (Z25 Fig. 8), with and without domain adaptation when the "
                     "catalog has both");
}

/* ------------------------------------------------------------------ emulator */

static int label_index(const rp_results *r, const char *name)
{
    for (size_t d = 0; d < r->emu_d; d++)
        if (strcmp(r->emu_names[d], name) == 0) return (int)d;
    return -1;
}

static ms_status fig_emulator(fig_ctx *g)
{
    rp_results *r = g->r;
    if (r->emu_s.n == 0) return MS_OK; /* noted by rp_emulator */
    int it = label_index(r, "teff"), ig = label_index(r, "logg"), im = label_index(r, "m_h");
    if (it < 0 || r->emu_d < 2) {
        it = 0;
        ig = 1;
        im = -1;
    }
    if (ig < 0) ig = it == 0 ? 1 : 0;
    int panels = im >= 0 ? 2 : 1;
    size_t n = r->emu_n;
    double *acc = ms_malloc_array("report.emu.pct", n, sizeof *acc);
    if (!acc) return MS_ENOMEM;
    for (size_t i = 0; i < n; i++) acc[i] = 100.0 * r->emu_accuracy[i];
    /* the colour bar covers every model, the worst included (issue 17) */
    double c0 = 0, c1 = 100.0 * r->emu_s.max;
    if (!(c1 > c0)) c1 = c0 + 1;
    ms_plot *p;
    ms_status st = open_fig(g, "emulator_accuracy.png", panels == 2 ? 1600 : 1000, 700, panels, 1,
                            &p);
    if (st != MS_OK) {
        ms_free(acc);
        return st;
    }
    int ys[2] = {ig, im};
    for (int k = 0; k < panels && st == MS_OK; k++) {
        for (size_t i = 0; i < n; i++) {
            g->x[i] = r->emu_labels[i * r->emu_d + (size_t)it];
            g->y[i] = r->emu_labels[i * r->emu_d + (size_t)ys[k]];
        }
        double x0, x1, y0, y1;
        data_range(g, g->x, n, 0, 0.06, &x0, &x1);
        data_range(g, g->y, n, 0, 0.08, &y0, &y1);
        const char *xl = strcmp(r->emu_names[it], "teff") == 0 ? rp_params[RP_TEFF].plot
                                                                : r->emu_names[it];
        const char *yl = r->emu_names[ys[k]];
        if (strcmp(yl, "logg") == 0) yl = rp_params[RP_LOGG].plot;
        if (strcmp(yl, "m_h") == 0) yl = rp_params[RP_MH].plot;
        char title[160];
        if (k == 0)
            snprintf(title, sizeof title, "Eq. 1 error of %zu validation models", n);
        else
            snprintf(title, sizeof title, "median %.3g%%, max %.3g%%", 100 * r->emu_s.median,
                     100 * r->emu_s.max);
        st = ms_plot_panel(p, x1, x0, y0, y1, xl, yl, title, MS_PLOT_COLORBAR);
        if (st != MS_OK) break;
        ms_plot_points_coloured(p, g->x, g->y, acc, n, c0, c1, 2.0);
        ms_plot_colorbar(p, c0, c1, "Eq. 1 error (%)");
    }
    ms_free(acc);
    return close_fig(g, p, st, "emulator_accuracy.png", "emulator_accuracy",
                     "Emulator accuracy (Z25 Fig. 3): Eq. 1, mean |F_model - F_emulated| / "
                     "F_model in percent, of each validation model of the emulator, over its "
                     "labels");
}

/* ------------------------------------------------------------------ SpT */

static ms_status fig_spt(fig_ctx *g)
{
    const rp_catalog *c = g->c;
    rp_results *r = g->r;
    if (r->spt_n == 0) {
        if (c->spt) rp_note(r, "SpT vs subclass (Fig. 13): no spectrum has a SpT");
        return MS_OK;
    }
    enum { NB_MAX = 12 }; /* one subtype per bin, centred on -2 (K5) ... 9 (M9) */
    double h_spt[NB_MAX], h_sub[NB_MAX], vmax = 5;
    for (size_t i = 0; i < g->n; i++) {
        g->x[i] = c->spt[i] > -9000 ? c->spt[i] : NAN;
        if (g->x[i] > vmax) vmax = g->x[i];
        if (r->subclass_num[i] > vmax) vmax = r->subclass_num[i];
    }
    /* up to the latest subtype present (at least M5), M9 at most */
    const double lo = -2.5, hi = fmin(9.5, floor(vmax + 0.5) + 1.5), w = 1.0;
    const size_t NB = (size_t)lround(hi - lo);
    ms_stats_histogram(g->x, g->n, lo, hi, NB, h_spt);
    ms_stats_histogram(r->subclass_num, g->n, lo, hi, NB, h_sub);
    double top = 0;
    for (size_t k = 0; k < NB; k++) top = fmax(top, fmax(h_spt[k], h_sub[k]));
    if (!(top > 0)) top = 1;
    int two = r->spt_n_subclass > 0;
    ms_plot *p;
    MS_TRY(open_fig(g, "spt_subclass.png", two ? 1600 : 1000, 700, two ? 2 : 1, 1, &p));
    const char *xl = "spectral subtype (-2 K5, -1 K7, 0-9 M0-M9)";
    ms_status st = ms_plot_panel(p, lo, hi, 0, top * 1.25, xl, "spectra per bin",
                                 "SpT from TiO5 and the LAMOST subclass", 0);
    if (st == MS_OK) {
        ms_plot_steps(p, lo, w, h_spt, NB, MS_PLOT_BLUE, 1, 2.0);
        ms_plot_steps(p, lo, w, h_sub, NB, MS_PLOT_ORANGE, 1, 2.0);
        const char *labels[2] = {"SpT (TiO5)", "LAMOST subclass"};
        int colours[2] = {MS_PLOT_BLUE, MS_PLOT_ORANGE}, kinds[2] = {0, 0}, styles[2] = {1, 1};
        ms_plot_legend(p, 1, 2, labels, colours, kinds, styles);
    }
    if (st == MS_OK && two) {
        size_t m = 0;
        for (size_t i = 0; i < g->n; i++) {
            if (!isfinite(g->x[i]) || !isfinite(r->subclass_num[i])) continue;
            /* a small deterministic horizontal jitter shows the density of a subclass */
            g->y[m] = g->x[i];
            g->z[m] = r->subclass_num[i] + 0.3 * ((double)((i * 7919) % 101) / 100.0 - 0.5);
            m++;
        }
        st = ms_plot_panel(p, lo, hi, lo, hi, "LAMOST subclass", "SpT (TiO5)",
                           "SpT against the LAMOST subclass", 0);
        if (st == MS_OK) {
            double d[2] = {lo, hi};
            ms_plot_line(p, d, d, 2, MS_PLOT_BLACK, 2, 1.5);
            ms_plot_points(p, g->z, g->y, m, MS_PLOT_BLUE, 1.0);
            char line[96];
            snprintf(line, sizeof line, "%zu spectra, %.1f%% within 1 subtype",
                     r->spt_n_subclass, 100 * r->spt_agree1);
            ms_plot_text(p, 0.04, 0.92, 0.0, 0.9, line);
        }
    }
    return close_fig(g, p, st, "spt_subclass.png", "spt_subclass",
                     "Spectral subtype from TiO5 (SpT = -10.775 TiO5 + 8.2) and the LAMOST "
                     "pipeline subclass (Z25 Fig. 13)");
}

/* ------------------------------------------------------------------ all */

ms_status rp_figures(const rp_catalog *c, const char *out_dir, rp_results *r)
{
    if (!ms_plot_available()) {
        rp_note(r, "every figure: PLplot has no pngcairo device (Debian: plplot-driver-cairo)");
        return MS_OK;
    }
    fig_ctx g = {c, out_dir, r, c->n, NULL, NULL, NULL, NULL};
    size_t cap = 2 * (c->n > r->emu_n ? c->n : r->emu_n) + 16;
    g.work = ms_malloc_array("report.fig", 4 * cap, sizeof(double));
    if (!g.work) return MS_ENOMEM;
    g.x = g.work + cap;
    g.y = g.x + cap;
    g.z = g.y + cap;
    ms_status st = fig_kiel(&g);
    if (st == MS_OK) st = fig_hr(&g);
    if (st == MS_OK) st = fig_precision(&g);
    static const char *const files[2][2] = {{"recovery.png", "recovery_snr.png"},
                                            {"reference.png", "reference_snr.png"}};
    static const char *const keys[2][2] = {{"recovery", "recovery_snr"},
                                           {"reference", "reference_snr"}};
    for (int k = 0; k < 2 && st == MS_OK; k++) {
        if (!r->cmp[k].have || r->cmp[k].matched == 0) continue;
        st = fig_one_to_one(&g, &r->cmp[k], files[k][0], keys[k][0]);
        if (st == MS_OK) st = fig_diff_snr(&g, &r->cmp[k], files[k][1], keys[k][1]);
    }
    if (st == MS_OK) st = fig_residuals(&g);
    if (st == MS_OK) st = fig_emulator(&g);
    if (st == MS_OK) st = fig_spt(&g);
    ms_free(g.work);
    return st;
}
