/*
 * log.h - one line per event on stderr: "TIME LEVEL prog: message".
 * Owns: the process's log level and program name. Libraries don't log;
 * daemons and the CLI log at their boundary.
 */
#ifndef RS_LOG_H
#define RS_LOG_H

#include <stdnoreturn.h>

enum { LOG_LVL_DEBUG = 0, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR };

void log_init(const char *prog, int level);
/* One JSON object per line ({"time","level","prog","msg"[,"error"]})
 * instead of text; for log collectors (--log-format json). */
void log_set_json(int on);
/* --log-format NAME: "text" or "json"; -1 (nothing changed) otherwise. */
int log_set_format(const char *name);
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_warn appends ": strerror(errno)"; log_warnx does not. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
