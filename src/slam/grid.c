/* grid.c: the hyperparameter grid of the per-pixel search (slam.h). */
#include "mstars/slam.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The public SLAM code's default grid (hypergravity/astroslam, L21 2): C = 2^-5..2^5,
 * epsilon {0.01, 0.05, 0.1, 0.15}, gamma {auto, 0.2, 0.25, 0.3, 0.5}, 8-fold CV. */
void ms_slam_grid_default(ms_slam_grid *g)
{
    memset(g, 0, sizeof *g);
    g->n_c = 11;
    for (size_t i = 0; i < 11; i++) g->c[i] = ldexp(1.0, (int)i - 5);
    const double eps[] = {0.01, 0.05, 0.1, 0.15}, gam[] = {0.0, 0.2, 0.25, 0.3, 0.5};
    g->n_eps = 4;
    memcpy(g->eps, eps, sizeof eps);
    g->n_gamma = 5;
    memcpy(g->gamma, gam, sizeof gam);
    g->folds = 8;
    g->search = MS_SLAM_SEARCH_FULL;
    g->tol = 1e-3;
    g->seed = 20250101;
}

static ms_status parse_value(const char *what, const char *s, double *v)
{
    if (strcmp(s, "auto") == 0) {
        *v = 0.0;
        return MS_OK;
    }
    char *end;
    errno = 0;
    if (strncmp(s, "2^", 2) == 0) {
        long e = strtol(s + 2, &end, 10);
        if (end == s + 2 || *end || errno) MS_ERROR(MS_EINVAL, "%s: '%s' is not 2^<integer>", what, s);
        *v = ldexp(1.0, (int)e);
        return MS_OK;
    }
    *v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(*v) || *v < 0)
        MS_ERROR(MS_EINVAL, "%s: '%s' is not a non-negative number (or auto, or 2^k)", what, s);
    return MS_OK;
}

ms_status ms_slam_parse_list(const char *what, const char *text, double *v, size_t cap,
                             size_t *n)
{
    char buf[1024];
    if (strlen(text) >= sizeof buf) MS_ERROR(MS_EINVAL, "%s: list too long", what);
    snprintf(buf, sizeof buf, "%s", text);
    *n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(tok, ':');
        if (colon) { /* 2^a:2^b, every integer power */
            *colon = '\0';
            if (strncmp(tok, "2^", 2) || strncmp(colon + 1, "2^", 2))
                MS_ERROR(MS_EINVAL, "%s: a range is written 2^a:2^b, not '%s:%s'", what, tok,
                         colon + 1);
            char *e1, *e2;
            long a = strtol(tok + 2, &e1, 10), b = strtol(colon + 3, &e2, 10);
            if (*e1 || *e2 || b < a || b - a > 64)
                MS_ERROR(MS_EINVAL, "%s: bad range 2^%s:2^%s", what, tok + 2, colon + 3);
            for (long k = a; k <= b; k++) {
                if (*n >= cap) MS_ERROR(MS_EINVAL, "%s: more than %zu values", what, cap);
                v[(*n)++] = ldexp(1.0, (int)k);
            }
            continue;
        }
        if (*n >= cap) MS_ERROR(MS_EINVAL, "%s: more than %zu values", what, cap);
        MS_TRY(parse_value(what, tok, &v[*n]));
        (*n)++;
    }
    if (*n == 0) MS_ERROR(MS_EINVAL, "%s: empty list", what);
    return MS_OK;
}

static void append_list(char *buf, size_t len, const char *name, const double *v, size_t n)
{
    size_t k = strlen(buf);
    k += (size_t)snprintf(buf + k, k < len ? len - k : 0, "%s%s=", k ? " " : "", name);
    for (size_t i = 0; i < n && k < len; i++) {
        if (v[i] == 0.0)
            k += (size_t)snprintf(buf + k, len - k, "%sauto", i ? "," : "");
        else
            k += (size_t)snprintf(buf + k, len - k, "%s%.6g", i ? "," : "", v[i]);
    }
}

void ms_slam_grid_describe(const ms_slam_grid *g, char *buf, size_t len)
{
    if (!len) return;
    buf[0] = '\0';
    append_list(buf, len, "C", g->c, g->n_c);
    append_list(buf, len, "epsilon", g->eps, g->n_eps);
    append_list(buf, len, "gamma", g->gamma, g->n_gamma);
    size_t k = strlen(buf);
    if (k < len)
        snprintf(buf + k, len - k, " folds=%d search=%s tol=%g", g->folds,
                 g->search == MS_SLAM_SEARCH_COORD ? "coordinate" : "full", g->tol);
}
