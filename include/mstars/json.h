/* json.h: a small streaming JSON writer (summary.json of `mstars report`).
 *
 * Values are written in order into an open stdio stream, pretty-printed with two-space
 * indents. Inside an object every value has a key; inside an array keys must be NULL.
 * Strings are escaped (quote, backslash, control characters as \uXXXX; other bytes are
 * passed through, so UTF-8 stays UTF-8). Non-finite numbers are written as null (JSON has
 * no NaN). Misuse (a key in an array, a missing key, unbalanced ends, nesting deeper than
 * MS_JSON_MAX_DEPTH) is remembered and reported by ms_json_finish, which also reports
 * stream write errors, so that callers may check only once. */
#ifndef MSTARS_JSON_H
#define MSTARS_JSON_H

#include "mstars/status.h"

#include <stdint.h>
#include <stdio.h>

#define MS_JSON_MAX_DEPTH 32

typedef struct {
    FILE *f;
    int depth;
    char kind[MS_JSON_MAX_DEPTH];    /* 'o' object, 'a' array per open level */
    int count[MS_JSON_MAX_DEPTH];    /* values written at each level */
    int top_written;                 /* the one top-level value is written */
    char misuse[160];                /* first misuse, "" when none */
} ms_json;

/* Start writing into f (not owned). */
void ms_json_init(ms_json *j, FILE *f);

void ms_json_begin_object(ms_json *j, const char *key);
void ms_json_end_object(ms_json *j);
void ms_json_begin_array(ms_json *j, const char *key);
void ms_json_end_array(ms_json *j);

void ms_json_number(ms_json *j, const char *key, double v); /* NaN, +-Inf -> null */
void ms_json_int(ms_json *j, const char *key, int64_t v);
void ms_json_string(ms_json *j, const char *key, const char *s); /* NULL -> null */
void ms_json_bool(ms_json *j, const char *key, int v);
void ms_json_null(ms_json *j, const char *key);

/* Finish: a final newline; MS_EINVAL naming the first misuse (or unclosed levels), MS_EIO
 * when the stream had a write error; `what` names the output in the message. Does not
 * close the stream. */
ms_status ms_json_finish(ms_json *j, const char *what);

#endif
