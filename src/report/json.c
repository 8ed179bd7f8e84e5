/* json.c: a small streaming JSON writer (see json.h). */
#include "mstars/json.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

void ms_json_init(ms_json *j, FILE *f)
{
    memset(j, 0, sizeof *j);
    j->f = f;
}

static void misuse(ms_json *j, const char *what, const char *key)
{
    if (j->misuse[0]) return;
    snprintf(j->misuse, sizeof j->misuse, "%s%s%s%s", what, key ? " (key \"" : "",
             key ? key : "", key ? "\")" : "");
}

static void indent(ms_json *j)
{
    fputc('\n', j->f);
    for (int i = 0; i < j->depth; i++) fputs("  ", j->f);
}

static void write_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        case '\b': fputs("\\b", f); break;
        case '\f': fputs("\\f", f); break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", (unsigned)*p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

/* Separator, indentation and key before a value; 0 when the value must not be written. */
static int before_value(ms_json *j, const char *key)
{
    if (j->depth == 0) {
        if (j->top_written) {
            misuse(j, "a second top-level value", key);
            return 0;
        }
        if (key) {
            misuse(j, "a key outside any object", key);
            return 0;
        }
        j->top_written = 1;
        return 1;
    }
    int lvl = j->depth - 1;
    if (j->kind[lvl] == 'o' && !key) {
        misuse(j, "a value without a key inside an object", NULL);
        return 0;
    }
    if (j->kind[lvl] == 'a' && key) {
        misuse(j, "a key inside an array", key);
        return 0;
    }
    if (j->count[lvl]++) fputc(',', j->f);
    indent(j);
    if (key) {
        write_string(j->f, key);
        fputs(": ", j->f);
    }
    return 1;
}

static void begin(ms_json *j, const char *key, char kind)
{
    if (j->depth >= MS_JSON_MAX_DEPTH) {
        misuse(j, "nesting deeper than MS_JSON_MAX_DEPTH", key);
        return;
    }
    if (!before_value(j, key)) return;
    fputc(kind == 'o' ? '{' : '[', j->f);
    j->kind[j->depth] = kind;
    j->count[j->depth] = 0;
    j->depth++;
}

static void end(ms_json *j, char kind)
{
    if (j->depth == 0 || j->kind[j->depth - 1] != kind) {
        misuse(j, kind == 'o' ? "an end of object that closes nothing open"
                              : "an end of array that closes nothing open", NULL);
        return;
    }
    int had = j->count[j->depth - 1];
    j->depth--;
    if (had) indent(j);
    fputc(kind == 'o' ? '}' : ']', j->f);
}

void ms_json_begin_object(ms_json *j, const char *key) { begin(j, key, 'o'); }
void ms_json_end_object(ms_json *j) { end(j, 'o'); }
void ms_json_begin_array(ms_json *j, const char *key) { begin(j, key, 'a'); }
void ms_json_end_array(ms_json *j) { end(j, 'a'); }

void ms_json_number(ms_json *j, const char *key, double v)
{
    if (!before_value(j, key)) return;
    if (!isfinite(v)) {
        fputs("null", j->f);
        return;
    }
    /* 15 significant digits: exact for the values a reader compares, no 0.1000000001 */
    char buf[40];
    snprintf(buf, sizeof buf, "%.15g", v);
    /* "1e+20" and "-0" are valid JSON; "inf"/"nan" cannot occur here */
    fputs(buf, j->f);
}

void ms_json_int(ms_json *j, const char *key, int64_t v)
{
    if (before_value(j, key)) fprintf(j->f, "%" PRId64, v);
}

void ms_json_string(ms_json *j, const char *key, const char *s)
{
    if (!before_value(j, key)) return;
    if (s)
        write_string(j->f, s);
    else
        fputs("null", j->f);
}

void ms_json_bool(ms_json *j, const char *key, int v)
{
    if (before_value(j, key)) fputs(v ? "true" : "false", j->f);
}

void ms_json_null(ms_json *j, const char *key)
{
    if (before_value(j, key)) fputs("null", j->f);
}

ms_status ms_json_finish(ms_json *j, const char *what)
{
    if (!j->misuse[0] && j->depth != 0)
        snprintf(j->misuse, sizeof j->misuse, "%d level(s) left open", j->depth);
    if (!j->misuse[0] && !j->top_written) snprintf(j->misuse, sizeof j->misuse, "no value");
    if (j->misuse[0]) MS_ERROR(MS_EINVAL, "%s: JSON writer misuse: %s", what, j->misuse);
    fputc('\n', j->f);
    if (fflush(j->f) != 0 || ferror(j->f)) MS_ERROR(MS_EIO, "%s: write error", what);
    return MS_OK;
}
