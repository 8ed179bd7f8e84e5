/* plot.c: PNG figures with PLplot's pngcairo device (see plot.h). */
#include "mstars/plot.h"
#include "mstars/log.h"
#include "mstars/mem.h"

#include <math.h>
#include <plplot.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

struct ms_plot {
    char path[4096];
    int nx, ny, panel;
    int logx, colorbar;
    double vp[4];  /* current panel's viewport (normalised subpage coordinates) */
    double win[4]; /* current panel's world window as given to plwind */
    double ht_x, ht_y; /* one character height in normalised subpage units (x and y) */
    double scale;      /* character scale of the figure (smaller with 3+ columns) */
};

/* ------------------------------------------------------------------ the device */

static const char *current_figure = "";

static int exit_handler(PLCHAR_VECTOR message)
{
    ms_log_error("PLplot stops the program while drawing %s: %s", current_figure,
                 message ? message : "");
    return 1;
}

int ms_plot_available(void)
{
    enum { CAP = 128 };
    const char *menu[CAP], *names[CAP];
    const char **menu_p = menu, **names_p = names;
    int n = CAP;
    plgDevs(&menu_p, &names_p, &n);
    for (int i = 0; i < n && i < CAP; i++)
        if (names[i] && strcmp(names[i], "pngcairo") == 0) return 1;
    return 0;
}

/* Colour map 0 (discrete colours) and 1 (a viridis-like scale, dark blue -> yellow). */
static void set_colours(void)
{
    static const int rgb[MS_PLOT_N_COLOURS][3] = {
        {255, 255, 255}, /* 0 background */
        {0, 0, 0},       {31, 97, 180},  {200, 40, 40}, {40, 150, 60},
        {235, 140, 20},  {140, 140, 140}, {130, 60, 160},
    };
    for (int i = 0; i < MS_PLOT_N_COLOURS; i++) plscol0(i, rgb[i][0], rgb[i][1], rgb[i][2]);
    PLFLT pos[6] = {0.0, 0.2, 0.4, 0.6, 0.8, 1.0};
    PLFLT r[6] = {0.267, 0.254, 0.164, 0.135, 0.478, 0.993};
    PLFLT g[6] = {0.005, 0.265, 0.471, 0.659, 0.821, 0.906};
    PLFLT b[6] = {0.329, 0.530, 0.558, 0.518, 0.318, 0.144};
    plscmap1n(256);
    plscmap1l(1, 6, pos, r, g, b, NULL);
}

ms_status ms_plot_open(const char *path, int width, int height, int nx, int ny,
                       ms_plot **out)
{
    *out = NULL;
    if (width < 100 || height < 100 || nx < 1 || ny < 1)
        MS_ERROR(MS_EINVAL, "%s: bad figure size %dx%d px, %dx%d panels", path, width, height,
                 nx, ny);
    if (!ms_plot_available())
        MS_ERROR(MS_ENOTFOUND, "PLplot has no pngcairo device (Debian: plplot-driver-cairo); "
                 "cannot draw %s", path);
    ms_plot *p = ms_calloc("plot", 1, sizeof *p);
    if (!p) return MS_ENOMEM;
    if (snprintf(p->path, sizeof p->path, "%s", path) >= (int)sizeof p->path) {
        ms_free(p);
        MS_ERROR(MS_EINVAL, "figure path too long: %s", path);
    }
    p->nx = nx;
    p->ny = ny;
    p->scale = nx >= 3 ? 0.85 : 1.0;
    current_figure = p->path;
    plsexit(exit_handler);
    remove(path); /* so that a file present afterwards is this figure */
    plsdev("pngcairo");
    plsfnam(p->path);
    plspage(0, 0, width, height, 0, 0);
    set_colours();
    plinit();
    plssub(nx, ny);
    *out = p;
    return MS_OK;
}

/* 1 when the file ends with a PNG's IEND chunk (length 0, "IEND", its CRC), i.e. was
 * written to the end. */
static int png_complete(const char *path)
{
    static const unsigned char iend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60,
                                           0x82};
    unsigned char tail[12];
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    int ok = fseek(f, -12, SEEK_END) == 0 && fread(tail, 1, 12, f) == 12 &&
             memcmp(tail, iend, 12) == 0;
    fclose(f);
    return ok;
}

ms_status ms_plot_close(ms_plot *p)
{
    if (!p) return MS_OK;
    plend1();
    current_figure = "";
    struct stat sb;
    int ok = stat(p->path, &sb) == 0 && sb.st_size > 0;
    char path[sizeof p->path];
    memcpy(path, p->path, sizeof path);
    ms_free(p);
    if (!ok) {
        remove(path);
        MS_ERROR(MS_EIO, "%s: PLplot did not write the figure (disk full or not writable?)",
                 path);
    }
    if (!png_complete(path)) { /* cairo does not report a failed write: check the end */
        remove(path);
        MS_ERROR(MS_EIO, "%s: the figure was cut short (no PNG end chunk): disk full?", path);
    }
    return MS_OK;
}

/* ------------------------------------------------------------------ helpers */

void ms_plot_nice_range(double lo, double hi, double frac, double *out_lo, double *out_hi)
{
    if (!isfinite(lo) || !isfinite(hi)) {
        lo = 0;
        hi = 1;
    }
    if (lo > hi) {
        double t = lo;
        lo = hi;
        hi = t;
    }
    double span = hi - lo;
    if (!(span > 1e-12 * fmax(1.0, fabs(hi)))) {
        double w = fabs(lo) > 0 ? 0.05 * fabs(lo) : 0.5;
        lo -= w;
        hi += w;
        span = hi - lo;
    }
    *out_lo = lo - frac * span;
    *out_hi = hi + frac * span;
}

/* Major tick interval for about `want` ticks over span: 1, 2 or 5 x 10^k (not 2.5, whose
 * labels PLplot would round to one digit fewer than they need). */
static double tick_step(double span, double want)
{
    double raw = fabs(span) / want;
    if (!(raw > 0) || !isfinite(raw)) return 0;
    double e = pow(10.0, floor(log10(raw)));
    double m = raw / e;
    double nice = m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10;
    return nice * e;
}

/* Characters of the widest tick label of an axis over [a, b] with ticks every step. */
static int tick_label_chars(double a, double b, double step)
{
    int decimals = step > 0 && step < 1 ? (int)ceil(-log10(step) - 1e-9) : 0;
    char buf[64];
    int w = 1;
    double lo = fmin(a, b), hi = fmax(a, b);
    if (step > 0) { /* the labels drawn: multiples of step inside the range */
        lo = ceil(lo / step - 1e-9) * step;
        hi = floor(hi / step + 1e-9) * step;
    }
    double ends[2] = {lo, hi};
    for (int k = 0; k < 2; k++) {
        int n = snprintf(buf, sizeof buf, "%.*f", decimals, ends[k] == 0 ? 0.0 : ends[k]);
        if (n > w) w = n;
    }
    return w;
}

static int inside_window(const ms_plot *p, double x, double y)
{
    double x0 = fmin(p->win[0], p->win[1]), x1 = fmax(p->win[0], p->win[1]);
    double y0 = fmin(p->win[2], p->win[3]), y1 = fmax(p->win[2], p->win[3]);
    return x >= x0 && x <= x1 && y >= y0 && y <= y1;
}

/* x in world coordinates (log10 on a log axis); NaN when not drawable. */
static double wx(const ms_plot *p, double x)
{
    if (!isfinite(x)) return NAN;
    if (p->logx) return x > 0 ? log10(x) : NAN;
    return x;
}

/* ------------------------------------------------------------------ panels */

ms_status ms_plot_panel(ms_plot *p, double x0, double x1, double y0, double y1,
                        const char *xlabel, const char *ylabel, const char *title,
                        unsigned flags)
{
    if (!isfinite(x0) || !isfinite(x1) || !isfinite(y0) || !isfinite(y1) || x0 == x1 ||
        y0 == y1)
        MS_ERROR(MS_EINVAL, "%s: bad panel range [%g, %g] x [%g, %g]", p->path, x0, x1, y0, y1);
    if ((flags & MS_PLOT_LOGX) && (x0 <= 0 || x1 <= 0))
        MS_ERROR(MS_EINVAL, "%s: logarithmic axis over [%g, %g]", p->path, x0, x1);
    if (p->panel >= p->nx * p->ny)
        MS_ERROR(MS_EINVAL, "%s: more than %d panels", p->path, p->nx * p->ny);
    p->panel++;
    p->logx = (flags & MS_PLOT_LOGX) != 0;
    p->colorbar = (flags & MS_PLOT_COLORBAR) != 0;
    pladv(0);
    plschr(0, p->scale);
    plwidth(1.0);
    pllsty(1);
    double yt = tick_step(y1 - y0, p->ny >= 2 ? 5 : 7);
    /* margins from the character height: tick labels, axis labels, title, colour bar */
    PLFLT sx0, sx1, sy0, sy1, def, ht;
    plgspa(&sx0, &sx1, &sy0, &sy1);
    plgchr(&def, &ht);
    p->ht_x = ht / (sx1 - sx0);
    p->ht_y = ht / (sy1 - sy0);
    double ylab_disp = 1.6 + 0.9 * tick_label_chars(y0, y1, yt);
    double left = (ylab_disp + 1.6) * p->ht_x;
    double right = 1 - (p->colorbar ? 11.0 : 2.2) * p->ht_x;
    double bottom = 4.8 * p->ht_y, top = 1 - (title ? 3.2 : 1.2) * p->ht_y;
    if (right - left < 0.3 || top - bottom < 0.3) { /* tiny panels: fixed fractions */
        left = 0.15;
        right = p->colorbar ? 0.78 : 0.95;
        bottom = 0.15;
        top = 0.88;
    }
    p->vp[0] = left;
    p->vp[1] = right;
    p->vp[2] = bottom;
    p->vp[3] = top;
    plvpor(left, right, bottom, top);
    /* x ticks: as many as fit with their labels (about 0.85 character heights per digit)
     * and a gap of two characters between neighbours */
    double xt = 0;
    for (double want = 7; !p->logx && want >= 2; want--) {
        xt = tick_step(x1 - x0, want);
        double ticks = fabs(x1 - x0) / xt + 1;
        double need = ticks * (0.85 * tick_label_chars(x0, x1, xt) + 2.0) * p->ht_x;
        if (need <= right - left) break;
    }
    double wx0 = p->logx ? log10(x0) : x0, wx1 = p->logx ? log10(x1) : x1;
    p->win[0] = wx0;
    p->win[1] = wx1;
    p->win[2] = y0;
    p->win[3] = y1;
    plwind(wx0, wx1, y0, y1);
    plcol0(MS_PLOT_BLACK);
    /* labels in full (e.g. -1000): PLplot would otherwise divide them by 10^3 and print the
     * multiplier where the panel layout can cut it off (issue 17) */
    plsxax(12, 0);
    plsyax(12, 0);
    plbox(p->logx ? "bcnstl" : "bcnst", xt, 0, "bcnstv", yt, 0);
    if (xlabel) plmtex("b", 3.2, 0.5, 0.5, xlabel);
    if (ylabel) plmtex("l", ylab_disp, 0.5, 0.5, ylabel);
    if (title) {
        plschr(0, p->scale);
        plmtex("t", 1.2, 0.5, 0.5, title);
        plschr(0, p->scale);
    }
    return MS_OK;
}

void ms_plot_points(ms_plot *p, const double *x, const double *y, size_t n, int colour,
                    double size)
{
    plcol0(colour);
    plssym(0, 0.6 * size);
    for (size_t i = 0; i < n; i++) {
        PLFLT px = wx(p, x[i]), py = y[i];
        if (!isfinite(px) || !isfinite(py) || !inside_window(p, px, py)) continue;
        plpoin(1, &px, &py, 17);
    }
    plssym(0, 1.0);
}

void ms_plot_points_coloured(ms_plot *p, const double *x, const double *y, const double *c,
                             size_t n, double cmin, double cmax, double size)
{
    if (!(cmax > cmin) || !isfinite(cmin) || !isfinite(cmax)) {
        ms_plot_points(p, x, y, n, MS_PLOT_GREY, size);
        return;
    }
    plssym(0, 0.6 * size);
    for (size_t i = 0; i < n; i++) {
        PLFLT px = wx(p, x[i]), py = y[i];
        if (!isfinite(px) || !isfinite(py) || !isfinite(c[i]) || !inside_window(p, px, py))
            continue;
        double f = (c[i] - cmin) / (cmax - cmin);
        plcol1(f < 0 ? 0 : f > 1 ? 1 : f);
        plpoin(1, &px, &py, 17);
    }
    plssym(0, 1.0);
    plcol0(MS_PLOT_BLACK);
}

void ms_plot_colorbar(ms_plot *p, double cmin, double cmax, const char *label)
{
    if (!p->colorbar || !(cmax > cmin) || !isfinite(cmin) || !isfinite(cmax)) return;
    double x0 = p->vp[1] + 1.5 * p->ht_x, x1 = x0 + 1.6 * p->ht_x;
    plvpor(x0, x1, p->vp[2], p->vp[3]);
    plwind(0, 1, cmin, cmax);
    PLFLT bx[4] = {0, 1, 1, 0}, by[4] = {cmin, cmin, cmax, cmax};
    plgradient(4, bx, by, 90.0);
    plcol0(MS_PLOT_BLACK);
    plsyax(12, 0);
    double step = tick_step(cmax - cmin, 6);
    plbox("bc", 0, 0, "bcmstv", step, 0);
    if (label) plmtex("r", 2.4 + 0.85 * tick_label_chars(cmin, cmax, step), 0.5, 0.5, label);
    /* back to the panel */
    plvpor(p->vp[0], p->vp[1], p->vp[2], p->vp[3]);
    plwind(p->win[0], p->win[1], p->win[2], p->win[3]);
}

void ms_plot_line(ms_plot *p, const double *x, const double *y, size_t n, int colour,
                  int style, double width)
{
    plcol0(colour);
    pllsty(style >= 1 && style <= 8 ? style : 1);
    plwidth(width > 0 ? width : 1);
    size_t i = 0;
    PLFLT seg_x[256], seg_y[256];
    while (i < n) {
        size_t m = 0;
        while (i < n && m < 256) {
            PLFLT px = wx(p, x[i]), py = y[i];
            if (!isfinite(px) || !isfinite(py)) {
                i++;
                break;
            }
            seg_x[m] = px;
            seg_y[m] = py;
            m++;
            i++;
        }
        if (m >= 2) plline((PLINT)m, seg_x, seg_y);
        if (m == 256 && i < n) i--; /* continue the line from the last point */
    }
    pllsty(1);
    plwidth(1);
}

void ms_plot_errorbars(ms_plot *p, const double *x, const double *ylo, const double *yhi,
                       size_t n, int colour)
{
    plcol0(colour);
    plwidth(1.5);
    for (size_t i = 0; i < n; i++) {
        PLFLT px = wx(p, x[i]), lo = ylo[i], hi = yhi[i];
        if (!isfinite(px) || !isfinite(lo) || !isfinite(hi)) continue;
        plerry(1, &px, &lo, &hi);
    }
    plwidth(1);
}

void ms_plot_steps(ms_plot *p, double lo, double width, const double *counts, size_t n_bins,
                   int colour, int style, double line_width)
{
    if (n_bins == 0 || !(width > 0)) return;
    size_t m = 2 * n_bins + 2;
    double *x = ms_malloc_array("plot.steps", 2 * m, sizeof *x);
    if (!x) return; /* nothing drawn; the caller's figure stays valid */
    double *y = x + m;
    x[0] = lo;
    y[0] = 0;
    for (size_t k = 0; k < n_bins; k++) {
        x[1 + 2 * k] = lo + (double)k * width;
        y[1 + 2 * k] = counts[k];
        x[2 + 2 * k] = lo + (double)(k + 1) * width;
        y[2 + 2 * k] = counts[k];
    }
    x[m - 1] = lo + (double)n_bins * width;
    y[m - 1] = 0;
    ms_plot_line(p, x, y, m, colour, style, line_width);
    ms_free(x);
}

void ms_plot_text(ms_plot *p, double fx, double fy, double just, double scale,
                  const char *text)
{
    double x = p->win[0] + fx * (p->win[1] - p->win[0]);
    double y = p->win[2] + fy * (p->win[3] - p->win[2]);
    plschr(0, scale * p->scale);
    plcol0(MS_PLOT_BLACK);
    plptex(x, y, p->win[1] > p->win[0] ? 1 : -1, 0, just, text);
    plschr(0, p->scale);
}

/* The legend itself at position pos (PL_POSITION_* bits). */
static void draw_legend(PLINT pos, double x, double y, double scale, size_t n,
                        const char *const *labels, const int *colours, const int *kinds,
                        const int *styles)
{
    enum { MAXL = 8 };
    if (n == 0) return;
    if (n > MAXL) n = MAXL;
    PLINT opt[MAXL], tcol[MAXL], lcol[MAXL], lsty[MAXL], scol[MAXL], snum[MAXL];
    PLFLT lwid[MAXL], sscale[MAXL];
    const char *sym[MAXL];
    for (size_t k = 0; k < n; k++) {
        opt[k] = kinds[k] ? PL_LEGEND_SYMBOL : PL_LEGEND_LINE;
        tcol[k] = MS_PLOT_BLACK;
        lcol[k] = scol[k] = colours[k];
        lsty[k] = styles ? styles[k] : 1;
        lwid[k] = 2.0;
        sscale[k] = 1.3;
        snum[k] = 1;
        sym[k] = "\xe2\x97\x8f"; /* U+25CF black circle */
    }
    PLFLT w = 0, h = 0;
    plschr(0, scale);
    pllegend(&w, &h, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX, pos, x, y, 0.08, 0,
             MS_PLOT_BLACK, 1, 0, 0, (PLINT)n, opt, 1.0, 0.9, 2.0, 0.0, tcol, labels, NULL, NULL,
             NULL, NULL, lcol, lsty, lwid, scol, sscale, snum, sym);
    plschr(0, 1.0);
}

void ms_plot_legend(ms_plot *p, int corner, size_t n, const char *const *labels,
                    const int *colours, const int *kinds, const int *styles)
{
    (void)p;
    PLINT pos = PL_POSITION_INSIDE | (corner >= 2 ? PL_POSITION_BOTTOM : PL_POSITION_TOP) |
                (corner == 1 || corner == 2 ? PL_POSITION_RIGHT : PL_POSITION_LEFT);
    draw_legend(pos, 0.02, 0.02, 0.9 * p->scale, n, labels, colours, kinds, styles);
    plschr(0, p->scale);
}

ms_status ms_plot_legend_panel(ms_plot *p, const char *title, size_t n,
                               const char *const *labels, const int *colours, const int *kinds,
                               const int *styles)
{
    if (p->panel >= p->nx * p->ny)
        MS_ERROR(MS_EINVAL, "%s: more than %d panels", p->path, p->nx * p->ny);
    p->panel++;
    pladv(0);
    plschr(0, p->scale);
    plvpor(0.08, 0.92, 0.15, 0.85);
    plwind(0, 1, 0, 1);
    p->win[0] = 0;
    p->win[1] = 1;
    p->win[2] = 0;
    p->win[3] = 1;
    if (title) {
        plcol0(MS_PLOT_BLACK);
        plmtex("t", -1.0, 0.5, 0.5, title);
    }
    draw_legend(PL_POSITION_INSIDE | PL_POSITION_TOP | PL_POSITION_LEFT, 0.05, 0.15,
                p->scale, n, labels, colours, kinds, styles);
    plschr(0, p->scale);
    return MS_OK;
}
