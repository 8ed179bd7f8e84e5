/* rv_internal.h: pieces shared inside src/rv (not part of the module's interface). */
#ifndef MSTARS_RV_INTERNAL_H
#define MSTARS_RV_INTERNAL_H

#include <stddef.h>

/* LAPACK (OpenBLAS): Cholesky solve of a symmetric positive-definite system. */
void dposv_(const char *uplo, const int *n, const int *nrhs, double *a, const int *lda, double *b,
            const int *ldb, int *info);

/* A model y(x; p) with its gradient dy/dp (np <= 6). */
typedef double (*ms_rv_model_fn)(double x, const double *p, double *grad);

/* Levenberg-Marquardt least squares of y(x; p) to (x_i, y_i) with weights w_i (NULL: 1):
 * p updated in place; returns 1 when converged, 0 otherwise (p keeps the best found).
 * Each step solves (J^T W J + lambda diag) dp = J^T W r with dposv. */
int ms_rv_lm(ms_rv_model_fn f, int np, double *p, size_t n, const double *x, const double *y,
             const double *w, int max_iter);

/* chi^2 curve model: p0 - p1 exp(-(x - p2)^2 / (2 p3^2)). */
double ms_rv_gauss_dip(double x, const double *p, double *grad);

/* The Gaussian refinement of a coarse chi^2 curve c[0..n) at x = 0..n-1 (grid steps): the
 * 2 hw + 1 points around the minimum (clipped at the ends). Returns the centre (in steps)
 * and *cmin the fitted minimum; a 3-point parabola when the Gaussian fit fails; *edge = 1
 * when the minimum is an end point. */
double ms_rv_refine_min(const double *c, int n, int hw, double *cmin, int *edge);

#endif
