/* lbfgsb.h: bound-constrained L-BFGS (Byrd, Lu, Nocedal & Zhu 1995; Zhu et al. 1997;
 * Morales & Nocedal 2011, "L-BFGS-B 3.0") through Debian's liblbfgsb, reverse
 * communication.
 *
 * A thin, checked wrapper over the Fortran routine `setulb`: the caller owns the loop and
 * evaluates f and its gradient g wherever the state asks, GSL style:
 *
 *     ms_lbfgsb *s;  ms_lbfgsb_alloc(n, m, &s);
 *     ms_status st = ms_lbfgsb_start(s, x0, lower, upper, factr, pgtol);
 *     while (st == MS_NEED_FG || st == MS_CONTINUE) {
 *         if (st == MS_NEED_FG) f = objective(ms_lbfgsb_x(s), g);
 *         st = ms_lbfgsb_iterate(s, f, g);     // f, g ignored after MS_CONTINUE
 *         if (st == MS_CONTINUE && ms_lbfgsb_iterations(s) >= max_iter) break;
 *     }
 *     // MS_OK: converged; x = ms_lbfgsb_x(s), f = ms_lbfgsb_f(s)
 *
 * All of the optimiser's state lives in the state object (setulb keeps nothing between
 * calls), so any number of problems can be advanced interleaved, one state each, and each
 * follows exactly the path it follows alone: that is what the batched fitter (fit.h) does,
 * sending every problem that asks for f and g at the same time into one network call.
 *
 * Convergence (setulb's own tests): the projected gradient's max norm <= pgtol, or the
 * relative reduction of f, (f_k - f_k+1) / max(|f_k|, |f_k+1|, 1) <= factr * epsmch
 * (factr 1e7: moderate accuracy, 1e12: low, 10: extreme). */
#ifndef MSTARS_LBFGSB_H
#define MSTARS_LBFGSB_H

#include "mstars/status.h"

#include <stddef.h>

typedef struct ms_lbfgsb ms_lbfgsb;

/* A state for n variables keeping m correction pairs (3..20 is usual). MS_EINVAL for
 * n or m zero or too large, MS_ENOMEM. Free with ms_lbfgsb_free. */
ms_status ms_lbfgsb_alloc(size_t n, size_t m, ms_lbfgsb **out);
void ms_lbfgsb_free(ms_lbfgsb *s);
size_t ms_lbfgsb_n(const ms_lbfgsb *s);

/* Start (or restart: the memory is cleared) at x0 [n], projected onto the box.
 * lower, upper [n] (either may be NULL: unbounded on that side; -inf / +inf entries mean
 * unbounded too). factr >= 0, pgtol >= 0 as above. Returns MS_NEED_FG (evaluate f and g
 * at ms_lbfgsb_x), or MS_EINVAL (non-finite x0, lower > upper, NaN bound, bad tolerance)
 * with the reason in ms_error_message() and in ms_lbfgsb_task(). */
ms_status ms_lbfgsb_start(ms_lbfgsb *s, const double *x0, const double *lower,
                          const double *upper, double factr, double pgtol);

/* Advance the state.
 * After MS_NEED_FG: f and g [n] are the objective and its gradient at ms_lbfgsb_x(s).
 * After MS_CONTINUE: f and g are ignored (g may be NULL).
 * Returns
 *   MS_NEED_FG   evaluate f and g at the (new) trial point ms_lbfgsb_x(s);
 *   MS_CONTINUE  an iteration finished: ms_lbfgsb_x(s) is the new iterate, with f and g
 *                in ms_lbfgsb_f / ms_lbfgsb_g (the caller may test and stop here);
 *   MS_OK        converged (task "CONVERGENCE: ..."): x, f, g are the solution;
 *   MS_ENOPROG   the line search failed ("ABNORMAL_TERMINATION_IN_LNSRCH"): x, f, g are
 *                restored to the last iterate (often at the float-precision floor of f);
 *   MS_EINVAL    setulb reported an error ("ERROR: ..."), the state was already finished,
 *                or f / g is not finite (the state is then finished).
 * The terminal codes leave the state finished; call ms_lbfgsb_start to reuse it. */
ms_status ms_lbfgsb_iterate(ms_lbfgsb *s, double f, const double *g);

/* Current point [n], objective and gradient [n] (owned by the state; valid until the next
 * start/iterate). f and g are those of the last accepted iterate after MS_CONTINUE,
 * MS_OK and MS_ENOPROG. */
const double *ms_lbfgsb_x(const ms_lbfgsb *s);
double ms_lbfgsb_f(const ms_lbfgsb *s);
const double *ms_lbfgsb_g(const ms_lbfgsb *s);
/* Iterations completed (MS_CONTINUE returns) and f,g evaluations supplied since start. */
size_t ms_lbfgsb_iterations(const ms_lbfgsb *s);
size_t ms_lbfgsb_evaluations(const ms_lbfgsb *s);
/* setulb's task text, trailing blanks removed (e.g. "FG_LNSRCH", "CONVERGENCE: REL_..."),
 * kept for diagnostics. Never NULL. */
const char *ms_lbfgsb_task(const ms_lbfgsb *s);
/* Infinity norm of the projected gradient at the current iterate (0 in a bound direction
 * pointing out of the box). */
double ms_lbfgsb_projected_gradient(const ms_lbfgsb *s);

#endif
