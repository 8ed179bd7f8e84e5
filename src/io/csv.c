/* csv.c: comma-separated tables (see csv.h). */
#include "mstars/csv.h"
#include "mstars/mem.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Split one line into fields, appended to `out`; returns the field count or -1 on an
 * unterminated quote. Quotes "" inside a quoted field stand for one quote. */
static long split_line(char *line, ms_strlist *out, ms_status *st)
{
    long n = 0;
    char *p = line;
    for (;;) {
        char field[4096];
        size_t len = 0;
        while (*p == ' ' || *p == '\t') p++;
        if (*p == '"') {
            p++;
            for (;;) {
                if (*p == '\0') return -1;
                if (*p == '"' && p[1] == '"') {
                    if (len < sizeof field - 1) field[len++] = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    if (len < sizeof field - 1) field[len++] = *p;
                    p++;
                }
            }
            while (*p && *p != ',') p++;
        } else {
            while (*p && *p != ',') {
                if (len < sizeof field - 1) field[len++] = *p;
                p++;
            }
            while (len && (field[len - 1] == ' ' || field[len - 1] == '\t')) len--;
        }
        field[len] = '\0';
        *st = ms_strlist_push(out, field);
        if (*st != MS_OK) return -1;
        n++;
        if (*p != ',') break;
        p++;
    }
    return n;
}

static int parse_integer(const char *s, long long *v)
{
    if (!*s) return 0;
    char *end;
    errno = 0;
    *v = strtoll(s, &end, 10);
    while (*end == ' ') end++;
    return end != s && *end == '\0' && errno != ERANGE;
}

static int parse_number(const char *s, double *v)
{
    if (!*s) return 0;
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    while (*end == ' ') end++;
    return end != s && *end == '\0';
}

ms_status ms_csv_read(const char *path, ms_csv *t)
{
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "r");
    if (!f) MS_ERROR(MS_EIO, "cannot open %s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0;
    ms_status st = MS_OK;
    while (st == MS_OK && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        if (len == 0 || line[0] == '#') continue;
        ms_strlist *target = t->names.n == 0 ? &t->names : &t->cells;
        long n = split_line(line, target, &st);
        if (st != MS_OK) break;
        if (n < 0) {
            st = ms_error_set(MS_EFORMAT, __FILE__, __LINE__, "%s:%ld: unterminated quote",
                              path, lineno);
        } else if (target == &t->names) {
            t->n_cols = (size_t)n;
        } else if ((size_t)n != t->n_cols) {
            st = ms_error_set(MS_EFORMAT, __FILE__, __LINE__,
                              "%s:%ld: %ld fields, the header has %zu", path, lineno, n,
                              t->n_cols);
        } else {
            t->n_rows++;
        }
    }
    free(line);
    if (st == MS_OK && ferror(f))
        st = ms_error_set(MS_EIO, __FILE__, __LINE__, "reading %s failed", path);
    fclose(f);
    if (st == MS_OK && t->n_cols == 0)
        st = ms_error_set(MS_EFORMAT, __FILE__, __LINE__, "%s has no header line", path);
    if (st == MS_OK) {
        t->numeric = ms_calloc("csv.numeric", t->n_cols, sizeof *t->numeric);
        t->integer = ms_calloc("csv.integer", t->n_cols, sizeof *t->integer);
        if (!t->numeric || !t->integer) st = MS_ENOMEM;
    }
    for (size_t c = 0; st == MS_OK && c < t->n_cols; c++) {
        int numeric = 1, integer = 1;
        for (size_t r = 0; r < t->n_rows && numeric; r++) {
            const char *s = ms_csv_cell(t, r, c);
            double v;
            long long k;
            if (*s && !parse_number(s, &v)) numeric = 0;
            if (*s && !parse_integer(s, &k)) integer = 0;
        }
        t->numeric[c] = numeric;
        t->integer[c] = numeric && integer && t->n_rows > 0;
    }
    if (st != MS_OK) ms_csv_free(t);
    return st;
}

void ms_csv_free(ms_csv *t)
{
    ms_strlist_free(&t->names);
    ms_strlist_free(&t->cells);
    ms_free(t->numeric);
    ms_free(t->integer);
    memset(t, 0, sizeof *t);
}

long ms_csv_column(const ms_csv *t, const char *name)
{
    for (size_t c = 0; c < t->n_cols; c++)
        if (strcasecmp(t->names.items[c], name) == 0) return (long)c;
    return -1;
}

const char *ms_csv_cell(const ms_csv *t, size_t row, size_t col)
{
    return t->cells.items[row * t->n_cols + col];
}

double ms_csv_number(const ms_csv *t, size_t row, size_t col)
{
    double v;
    return parse_number(ms_csv_cell(t, row, col), &v) ? v : NAN;
}

long long ms_csv_integer(const ms_csv *t, size_t row, size_t col, long long missing)
{
    long long v;
    return parse_integer(ms_csv_cell(t, row, col), &v) ? v : missing;
}
