/* log.c: leveled logging (see log.h). */
#include "mstars/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static struct timespec log_start;
static int log_started;
static int log_rank;
static ms_log_level log_level = MS_LOG_INFO;

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void ms_log_init(void)
{
    clock_gettime(CLOCK_MONOTONIC, &log_start);
    log_started = 1;
    setvbuf(stdout, NULL, _IOLBF, 0);
}

void ms_log_set_rank(int rank) { log_rank = rank; }
int ms_log_rank(void) { return log_rank; }
void ms_log_set_level(ms_log_level lvl) { log_level = lvl; }
ms_log_level ms_log_get_level(void) { return log_level; }

int ms_log_level_parse(const char *name)
{
    static const char *names[] = {"debug", "info", "warn", "error", "quiet"};
    for (int i = 0; i < 5; i++)
        if (strcmp(name, names[i]) == 0) return i;
    return -1;
}

double ms_log_elapsed(void)
{
    if (!log_started) ms_log_init();
    double s = (double)log_start.tv_sec + 1e-9 * (double)log_start.tv_nsec;
    return now_seconds() - s;
}

void ms_log_msg(ms_log_level lvl, int rank0_only, const char *fmt, ...)
{
    static const char *tags[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};
    if (lvl < log_level || lvl >= MS_LOG_QUIET) return;
    if (rank0_only && log_rank != 0) return;
    char line[2048];
    int n = snprintf(line, sizeof line, "[r%d +%.3fs] %s ", log_rank, ms_log_elapsed(), tags[lvl]);
    if (n < 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    FILE *out = lvl >= MS_LOG_WARN ? stderr : stdout;
    fprintf(out, "%s\n", line);
    if (lvl >= MS_LOG_WARN) fflush(out);
}
