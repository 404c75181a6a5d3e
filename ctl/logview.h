/*
 * logview.h - how rsctl logs prints the stored lines an agent answers
 * (lib/logline.h: "TIME [PID] text"): the text alone, or with
 * --timestamps "TIME text"; with -f, a line on stderr where the output
 * passes from one process of the instance to the next:
 *
 *     --- web/3 restarted: pid 1234 -> 1240 ---
 *
 * (stderr, so that stdout stays exactly what the service wrote: a pipe
 * into grep sees only its lines). An unstamped line (a keeper older than
 * 0.3 wrote it) prints as it is.
 *
 * Owns: that formatting and the follower's idea of the current process.
 * Must not: talk to rsd.
 */
#ifndef RS_CTL_LOGVIEW_H
#define RS_CTL_LOGVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct logview {
	bool        timestamps;   /* --timestamps */
	bool        separators;   /* -f: say where a restart is */
	const char *label;        /* borrowed */
	uint64_t    instance;
	int32_t     pid;          /* the process of the last line (or the
				   * instance's process last heard), 0: none */
	size_t      lines;        /* lines written */
	size_t      max;          /* write no more than this many, 0: any */
} logview;

/* Writes "--- LABEL/ID restarted: pid FROM -> TO ---" into buf (n bytes).
 * Returns what snprintf returns. */
int logview_separator(char *buf, size_t n, const char *label, uint64_t id,
		      int32_t from, int32_t to);
/* Writes the lines of data[n] to out (stamped: stored lines, else plain
 * text, written as it is), a separator on err before a line of another
 * process (out is flushed first, so that a terminal shows them in
 * order). Stops at v->max lines. Returns 0, or -EIO when out fails. */
int logview_write(logview *v, const char *data, size_t n, bool stamped,
		  FILE *out, FILE *err);
/* The instance's process is now pid (0: none, ignored): a separator if
 * lines of another one were the last shown. */
void logview_process(logview *v, int32_t pid, FILE *out, FILE *err);

#endif
