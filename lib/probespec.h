/*
 * probespec.h - a service's health probes as data (rs_probe, model.h):
 * defaults, copies, checks, and the two text forms they take outside the
 * wire (rsctl's --liveness TARGET, and the store's column).
 *
 * Owns: what a valid probe is. Must not: run one (agent/probe.c does),
 * do I/O, or include protobuf-c, SQLite or libev headers.
 *
 * Defaults (Kubernetes'): period 10 s, timeout 1 s, failures 3, initial
 * delay 0; an HTTP probe passes on a status 200-399.
 */
#ifndef RS_PROBESPEC_H
#define RS_PROBESPEC_H

#include <stdbool.h>
#include <stddef.h>

#include "model.h"

#define RS_DEF_PROBE_PERIOD_MS   10000
#define RS_DEF_PROBE_TIMEOUT_MS  1000
#define RS_DEF_PROBE_FAILURES    3
#define RS_DEF_PROBE_STATUS_MIN  200
#define RS_DEF_PROBE_STATUS_MAX  399
#define RS_PROBE_TARGET_MAX      2048  /* a URL or HOST:PORT, incl. NUL */
#define RS_PROBE_ARGV_MAX        32    /* exec: arguments */
#define RS_PROBE_HEADERS_MAX     16    /* http: request headers */
#define RS_PROBE_HEADER_MAX      512   /* one "Name: value", incl. NUL */
#define RS_PROBE_PERIOD_MIN_MS   100
#define RS_PROBE_TIME_MAX_MS     3600000u   /* period, timeout: 1 h */
#define RS_PROBE_DELAY_MAX_MS    86400000u  /* initial delay: 1 day */
#define RS_PROBE_FAILURES_MAX    1000

/* A probe of kind NONE with the default timing. */
void rs_probe_init(rs_probe *p);
/* Frees what p owns and initialises it again. */
void rs_probe_clear(rs_probe *p);
/* Deep copy into dst (initialised, empty). 0 or -ENOMEM (dst cleared). */
int rs_probe_copy(rs_probe *dst, const rs_probe *src);
/* Sets the target (NULL: none). 0, -E2BIG, -ENOMEM. */
int rs_probe_set_target(rs_probe *p, const char *target);
/* Appends one exec argument / one "Name: value" header (copied).
 * 0, -E2BIG, -ENOMEM. */
int rs_probe_add_arg(rs_probe *p, const char *arg);
int rs_probe_add_header(rs_probe *p, const char *header);
/* Whether a and b probe the same way (two NONE probes are equal). */
bool rs_probe_equal(const rs_probe *a, const rs_probe *b);
/* Checks p as the probe of role r; on error writes a message naming the
 * role and the field ("liveness probe: ...") and returns -EINVAL. */
int rs_probe_validate(const rs_probe *p, rs_probe_role r, char *err,
		      size_t errlen);
/* Whether any probe of s is set. */
bool rs_spec_has_probes(const rs_spec *s);

const char *rs_probe_kind_to_string(rs_probe_kind k);
int rs_probe_kind_from_string(const char *s);
const char *rs_probe_role_to_string(rs_probe_role r);
int rs_probe_role_from_string(const char *s);

/* rsctl's form: "http://HOST[:PORT]/PATH", "https://...", "tcp:HOST:PORT",
 * "exec:/PROGRAM [ARG...]" (words split at blanks, no quoting) or "none"
 * (no probe). Sets p's kind and target or command, keeps its timing.
 * 0, or -EINVAL with a message in err. */
int rs_probe_parse_target(rs_probe *p, const char *s, char *err, size_t errlen);
/* The target as rsctl's form takes it ("tcp:..." for TCP; an exec probe's
 * argv joined by spaces; "none"), into buf. */
void rs_probe_format_target(const rs_probe *p, char *buf, size_t n);

/* The store's form of s's probes: one line per probe set, each a list of
 * percent-encoded words (role kind period timeout failures delay min max
 * target nheaders headers... argc argv...). A malloc'ed string, "" for
 * none; NULL: out of memory. */
char *rs_probes_pack(const rs_spec *s);
/* Reads rs_probes_pack's form into s's probes (replacing them). 0, or
 * -EINVAL (s's probes then all NONE), -ENOMEM. */
int rs_probes_unpack(rs_spec *s, const char *text);

#endif
