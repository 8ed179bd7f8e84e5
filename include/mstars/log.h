/* log.h: leveled logging with rank and elapsed wall time.
 *
 * Every line reads "[r0 +12.345s] INFO  message". Info and debug go to stdout, warnings
 * and errors to stderr; both are line-buffered so that Slurm log files interleave sanely.
 * The rank is set once by the par module after MPI starts (core never calls MPI). */
#ifndef MSTARS_LOG_H
#define MSTARS_LOG_H

typedef enum { MS_LOG_DEBUG = 0, MS_LOG_INFO, MS_LOG_WARN, MS_LOG_ERROR, MS_LOG_QUIET } ms_log_level;

void ms_log_init(void);                 /* start the elapsed-time clock */
void ms_log_set_rank(int rank);         /* rank shown in every line */
int ms_log_rank(void);
void ms_log_set_level(ms_log_level lvl);
ms_log_level ms_log_get_level(void);
/* Parse "debug", "info", "warn", "error", "quiet"; returns -1 when unknown. */
int ms_log_level_parse(const char *name);
double ms_log_elapsed(void);            /* seconds since ms_log_init */

void ms_log_msg(ms_log_level lvl, int rank0_only, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define ms_log_debug(...) ms_log_msg(MS_LOG_DEBUG, 0, __VA_ARGS__)
#define ms_log_info(...) ms_log_msg(MS_LOG_INFO, 0, __VA_ARGS__)
#define ms_log_warn(...) ms_log_msg(MS_LOG_WARN, 0, __VA_ARGS__)
#define ms_log_error(...) ms_log_msg(MS_LOG_ERROR, 0, __VA_ARGS__)
/* Rank 0 only. */
#define ms_log0_info(...) ms_log_msg(MS_LOG_INFO, 1, __VA_ARGS__)
#define ms_log0_warn(...) ms_log_msg(MS_LOG_WARN, 1, __VA_ARGS__)

#endif
