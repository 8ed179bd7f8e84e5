/* status.h: status codes and the error-message channel shared by every module.
 *
 * Functions that can fail return ms_status. On failure they record a human-readable
 * message (naming the file, field or key at fault) with MS_ERROR, which the caller may
 * read back with ms_error_message() -- e.g. to store it as a spectrum's status_reason,
 * or to print it from the command line. The message is thread-local. */
#ifndef MSTARS_STATUS_H
#define MSTARS_STATUS_H

#include <stddef.h>

typedef enum {
    MS_OK = 0,
    MS_CONTINUE,    /* iterative algorithm: not finished, call again */
    MS_NEED_FG,     /* reverse communication: evaluate f and g at x */
    MS_EINVAL,      /* invalid argument, configuration value or option */
    MS_ENOMEM,      /* allocation failed */
    MS_EIO,         /* file system error (open, read, write, rename) */
    MS_EFITS,       /* FITS file unreadable or lacking a required HDU, key or column */
    MS_EHDF5,       /* HDF5 error */
    MS_EMPI,        /* MPI error */
    MS_EFORMAT,     /* input readable but its content is unusable (bad values, coverage) */
    MS_ENOPROG,     /* iteration makes no progress */
    MS_EMAXITER,    /* iteration limit reached */
    MS_ENOTFOUND,   /* a named item (key, column, file) does not exist */
    MS_EINTERRUPTED /* stopped by a signal or a time limit; state was saved */
} ms_status;

/* Short name of a status code, e.g. "EINVAL". Never NULL. */
const char *ms_status_name(ms_status s);

/* Record an error message (printf format) for the current thread and return `code`. */
ms_status ms_error_set(ms_status code, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The last message recorded by MS_ERROR on this thread ("" when none). */
const char *ms_error_message(void);

/* Clear the thread's message. */
void ms_error_clear(void);

/* Record a message and return the code from the current function. */
#define MS_ERROR(code, ...) return ms_error_set((code), __FILE__, __LINE__, __VA_ARGS__)

/* Evaluate an ms_status expression and return it from the current function on failure. */
#define MS_TRY(expr)                                                                       \
    do {                                                                                   \
        ms_status ms_try_status_ = (expr);                                                 \
        if (ms_try_status_ != MS_OK) return ms_try_status_;                                \
    } while (0)

#endif
