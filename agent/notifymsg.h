/*
 * notifymsg.h - the sd_notify datagram, parsed: pure functions, no I/O.
 *
 * Owns: the text format (newline-separated KEY=VALUE lines). Must not:
 * decide whom to believe or what a key does (notify.c and svc.c do).
 */
#ifndef RS_NOTIFYMSG_H
#define RS_NOTIFYMSG_H

#include <stdbool.h>
#include <stddef.h>

#define NOTIFY_MSG_MAX   4096                     /* bytes of one datagram */
#define NOTIFY_LINES_MAX (NOTIFY_MSG_MAX / 2 + 1) /* "=\n" is the shortest */

/* One KEY=VALUE line; both point into the parsed buffer. */
struct notify_line {
	const char *key;
	const char *val;
};

/* Splits the datagram buf[0..len) in place into its KEY=VALUE lines
 * (buf needs len + 1 bytes: the last line is NUL-terminated at buf[len]).
 * Empty lines and lines without '=' are skipped. Returns how many lines
 * went into lines[max], -EMSGSIZE (len over NOTIFY_MSG_MAX), -EBADMSG (a
 * NUL byte inside, which systemd refuses too) or -E2BIG (over max). */
int notify_parse(char *buf, size_t len, struct notify_line *lines, size_t max);
/* The value of the first of lines[n] whose key is key, or NULL. */
const char *notify_value(const struct notify_line *lines, int n, const char *key);
/* Whether s can name stored fds in LISTEN_FDNAMES: 1..64 printable bytes,
 * no ':'. */
bool notify_fdname_valid(const char *s);

#endif
