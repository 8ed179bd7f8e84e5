/* status.c: status names and the thread-local error message. */
#include "mstars/status.h"
#include "mstars/log.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char error_message[1024];

const char *ms_status_name(ms_status s)
{
    switch (s) {
    case MS_OK: return "OK";
    case MS_CONTINUE: return "CONTINUE";
    case MS_NEED_FG: return "NEED_FG";
    case MS_EINVAL: return "EINVAL";
    case MS_ENOMEM: return "ENOMEM";
    case MS_EIO: return "EIO";
    case MS_EFITS: return "EFITS";
    case MS_EHDF5: return "EHDF5";
    case MS_EMPI: return "EMPI";
    case MS_EFORMAT: return "EFORMAT";
    case MS_ENOPROG: return "ENOPROG";
    case MS_EMAXITER: return "EMAXITER";
    case MS_ENOTFOUND: return "ENOTFOUND";
    case MS_EINTERRUPTED: return "EINTERRUPTED";
    }
    return "UNKNOWN";
}

ms_status ms_error_set(ms_status code, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_message, sizeof error_message, fmt, ap);
    va_end(ap);
    ms_log_debug("error %s at %s:%d: %s", ms_status_name(code), file, line, error_message);
    return code;
}

const char *ms_error_message(void) { return error_message; }

void ms_error_clear(void) { error_message[0] = '\0'; }
