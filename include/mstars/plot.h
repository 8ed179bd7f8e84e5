/* plot.h: PNG figures with PLplot's cairo driver ("pngcairo"), for `mstars report`.
 *
 * A figure is a grid of nx x ny panels written to one PNG file. Panels are filled in
 * reading order: ms_plot_panel moves to the next one and draws its axes; the drawing
 * calls that follow draw into it in data coordinates. Non-finite points are skipped (a
 * line is broken at them). Text may use PLplot's escapes: #d...#u subscript
 * (T#deff#u), #u...#d superscript, #ga alpha, #gs sigma.
 *
 * PLplot keeps global state: one figure at a time, in one thread. PLplot ends the process
 * on internal errors (plexit); ms_plot_open installs a handler that logs the message
 * first, and the module checks its arguments (finite, non-empty ranges) so that the calls
 * it makes cannot trigger such an error. */
#ifndef MSTARS_PLOT_H
#define MSTARS_PLOT_H

#include "mstars/status.h"

#include <stddef.h>

/* Colours (PLplot colour map 0 entries set by ms_plot_open). */
enum {
    MS_PLOT_BLACK = 1,
    MS_PLOT_BLUE,
    MS_PLOT_RED,
    MS_PLOT_GREEN,
    MS_PLOT_ORANGE,
    MS_PLOT_GREY,
    MS_PLOT_PURPLE,
    MS_PLOT_N_COLOURS
};

/* Panel flags. */
#define MS_PLOT_LOGX 1u      /* logarithmic x axis (limits and data in linear units, > 0) */
#define MS_PLOT_COLORBAR 2u  /* leave room on the right for ms_plot_colorbar */

typedef struct ms_plot ms_plot;

/* 1 when PLplot has the pngcairo device (else the report cannot draw). */
int ms_plot_available(void);

/* Start a figure of width x height pixels with nx x ny panels. MS_ENOTFOUND when PLplot
 * lacks the pngcairo device (Debian: plplot-driver-cairo). */
ms_status ms_plot_open(const char *path, int width, int height, int nx, int ny,
                       ms_plot **out);
/* Finish and write the file; MS_EIO when it was not written. Frees p. */
ms_status ms_plot_close(ms_plot *p);

/* Next panel with axes over [x0, x1] x [y0, y1] (x0 > x1 or y0 > y1 reverses an axis).
 * MS_EINVAL for non-finite or empty ranges (and, with MS_PLOT_LOGX, x <= 0). */
ms_status ms_plot_panel(ms_plot *p, double x0, double x1, double y0, double y1,
                        const char *xlabel, const char *ylabel, const char *title,
                        unsigned flags);

/* Filled circles; size 1 is a small dot (about 3 px at 1000 px width). */
void ms_plot_points(ms_plot *p, const double *x, const double *y, size_t n, int colour,
                    double size);
/* Filled circles coloured by c on the colour scale [cmin, cmax] (clipped to it). */
void ms_plot_points_coloured(ms_plot *p, const double *x, const double *y, const double *c,
                             size_t n, double cmin, double cmax, double size);
/* The colour scale [cmin, cmax] as a bar right of the current panel (needs
 * MS_PLOT_COLORBAR on the panel). */
void ms_plot_colorbar(ms_plot *p, double cmin, double cmax, const char *label);
/* A polyline; style 1 solid, 2 dashed, 3 dotted; width in pixels. */
void ms_plot_line(ms_plot *p, const double *x, const double *y, size_t n, int colour,
                  int style, double width);
/* Vertical error bars from ylo to yhi at x. */
void ms_plot_errorbars(ms_plot *p, const double *x, const double *ylo, const double *yhi,
                       size_t n, int colour);
/* A step histogram: bin k spans [lo + k width, lo + (k + 1) width) with height counts[k]. */
void ms_plot_steps(ms_plot *p, double lo, double width, const double *counts, size_t n_bins,
                   int colour, int style, double line_width);
/* Text at (fx, fy), fractions of the panel box (0,0 lower left); just 0 left, 0.5 centre,
 * 1 right; scale 1 = the axis-label size. */
void ms_plot_text(ms_plot *p, double fx, double fy, double just, double scale,
                  const char *text);
/* A legend box inside the panel: corner 0 upper left, 1 upper right, 2 lower right,
 * 3 lower left;
 * kinds[k] 0 line (style styles[k]), 1 filled circle. */
void ms_plot_legend(ms_plot *p, int corner, size_t n, const char *const *labels,
                    const int *colours, const int *kinds, const int *styles);

/* The next panel holds only a legend (and an optional title line above it). */
ms_status ms_plot_legend_panel(ms_plot *p, const char *title, size_t n,
                               const char *const *labels, const int *colours, const int *kinds,
                               const int *styles);

/* A "nice" axis range containing [lo, hi] with some margin (frac of the span on each
 * side); a degenerate or non-finite range is widened around its value (or [0, 1]). */
void ms_plot_nice_range(double lo, double hi, double frac, double *out_lo, double *out_hi);

#endif
