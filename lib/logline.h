/*
 * logline.h - the stored form of a line of captured output: what rs-keeper
 * writes into STATE_DIR/logs/LABEL.ID.log, and what rs-agent and rsctl
 * read back (docs/design.md, "Logs"). One line is
 *
 *     2026-12-01T08:00:00.123Z [1240] the text as the service wrote it
 *
 * the wall time the keeper read the line's first byte (RFC 3339, UTC,
 * milliseconds), the pid of the process whose stdout/stderr pipe it came
 * through, one space, the text, a newline. A file stays readable with
 * cat, grep and tail; rsctl logs strips the prefix unless --timestamps.
 * A line without such a prefix (written by a 0.2 rs-keeper, which let
 * the service append to the file itself) is "unstamped": its text is the
 * whole line, with no time and no pid.
 *
 * Owns: formatting and parsing the prefix and RFC 3339 times. Must not:
 * do I/O or allocate (rs-keeper links it: libc only).
 */
#ifndef RS_LOGLINE_H
#define RS_LOGLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOGLINE_TIME_LEN   24   /* "2026-12-01T08:00:00.123Z" */
#define LOGLINE_PREFIX_MAX 48   /* time, " [", pid, "] ", NUL */

/* One parsed line. */
typedef struct logline {
	bool     stamped;   /* it has the prefix; else ms and pid are 0 */
	uint64_t ms;        /* wall ms it was read at */
	int32_t  pid;
	size_t   text;      /* offset of the text in the line */
} logline;

/* Writes wall_ms as "2026-12-01T08:00:00.123Z" and a NUL into buf
 * (LOGLINE_TIME_LEN + 1 bytes). Years past 9999 are clamped to it. */
void logline_time(char *buf, uint64_t wall_ms);
/* Writes the prefix of a line read at wall_ms from pid ("TIME [PID] ")
 * and a NUL into buf (LOGLINE_PREFIX_MAX bytes). Returns its length. */
size_t logline_prefix(char *buf, uint64_t wall_ms, int32_t pid);
/* Parses line p[n] (without its newline) into *out. Returns out->stamped;
 * an unstamped line's text is all of it (text = 0). */
bool logline_parse(const char *p, size_t n, logline *out);
/* Parses an RFC 3339 time as logline_time writes it (the milliseconds
 * are optional: "2026-12-01T08:00:00Z") into *ms. 0 or -EINVAL. */
int logline_parse_time(const char *s, size_t n, uint64_t *ms);

#endif
