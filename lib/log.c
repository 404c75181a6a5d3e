#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *log_prog = "rs";
static int log_level = LOG_LVL_INFO;
static int log_json;

int log_set_format(const char *name)
{
	if (strcmp(name, "json") && strcmp(name, "text"))
		return -1;
	log_set_json(strcmp(name, "json") == 0);
	return 0;
}

void log_set_json(int on)
{
	log_json = on;
}

/* Appends s to out as a JSON string body (no quotes), escaped. */
static size_t json_escape(char *out, size_t n, const char *s)
{
	size_t o = 0;

	for (; *s && o + 7 < n; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20) {
			o += (size_t)snprintf(out + o, n - o, "\\u%04x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
	return o;
}

void log_init(const char *prog, int level)
{
	log_prog = prog;
	log_level = level;
}

__attribute__((format(printf, 4, 0)))
static void log_emit(int lvl, const char *name, const char *err,
		     const char *fmt, va_list ap)
{
	char line[2048], ts[32];
	struct timespec now;
	struct tm tm;
	int n;

	if (lvl < log_level)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof line, "%s.%03ldZ %s %s: ", ts,
		     now.tv_nsec / 1000000, name, log_prog);
	if (n < 0 || (size_t)n >= sizeof line)
		return;
	vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	if (log_json) {
		char msg[4200], e[300];
		json_escape(msg, sizeof msg, line + n);
		json_escape(e, sizeof e, err ? err : "");
		fprintf(stderr, "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"prog\":\"%s\","
			"\"msg\":\"%s\"%s%s%s}\n", ts, now.tv_nsec / 1000000, name,
			log_prog, msg, err ? ",\"error\":\"" : "", err ? e : "",
			err ? "\"" : "");
		return;
	}
	/* one write per line so concurrent writers do not interleave */
	fprintf(stderr, err ? "%s: %s\n" : "%s\n", line, err);
}

#define LOG_FN(fn, lvl, name)                        \
	void fn(const char *fmt, ...)                \
	{                                            \
		va_list ap;                          \
		va_start(ap, fmt);                   \
		log_emit(lvl, name, NULL, fmt, ap);  \
		va_end(ap);                          \
	}
LOG_FN(log_debug, LOG_LVL_DEBUG, "debug")
LOG_FN(log_info, LOG_LVL_INFO, "info")
LOG_FN(log_warnx, LOG_LVL_WARN, "warn")

void log_warn(const char *fmt, ...)
{
	const char *err = strerror(errno);
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LVL_WARN, "warn", err, fmt, ap);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	const char *err = strerror(errno);
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LVL_ERROR, "fatal", err, fmt, ap);
	va_end(ap);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LVL_ERROR, "fatal", NULL, fmt, ap);
	va_end(ap);
	exit(1);
}
