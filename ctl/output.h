/*
 * output.h - what rsctl prints: a small table builder, time formatting and
 * the human and --json renderings of reply payloads.
 *
 * Owns: the only use of jansson in rsctl; the layout of human output.
 * Must not: talk to rsd, exit, or print to stderr (callers report errors).
 */
#ifndef RS_CTL_OUTPUT_H
#define RS_CTL_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "msg.h"

typedef struct table table;

/* Creates a table with ncols columns titled by headers[0..ncols-1] (copied).
 * Returns NULL when out of memory. Free with table_destroy(). */
table *table_new(const char *const *headers, size_t ncols);
/* Appends one cell (copied) to the current row; a full row starts the next.
 * NULL or "" prints as "-"; control characters print as '?'. */
void table_cell(table *t, const char *s);
/* table_cell() with printf formatting. */
void table_cellf(table *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Prints the header and every row, columns padded to their widest cell and
 * separated by two spaces. Returns 0, or -ENOMEM if any earlier cell could
 * not be stored (nothing is printed then). */
int table_print(const table *t, FILE *out);
/* Frees t and NULLs *tp. Accepts NULL and *tp == NULL. */
void table_destroy(table **tp);

/* Writes a duration as "450ms", "5s", "3m12s", "2h03m" or "4d". With
 * precise, durations under 10 s keep one decimal ("2.5s") and under 1 s
 * show milliseconds; without, they are whole seconds. Returns buf. */
char *output_duration(uint64_t ms, int precise, char *buf, size_t len);
/* Writes a wall-clock time in ms as ISO 8601 UTC with milliseconds,
 * "2024-05-01T12:00:00.123Z". Returns buf. */
char *output_time(uint64_t ms, char *buf, size_t len);

/* Writes a byte count as "512B", "4.0Ki", "64Mi", "1.5Gi". Returns buf. */
char *output_bytes(uint64_t n, char *buf, size_t len);

/* rsctl top: one instance's row of status and what rsctl makes of it.
 * The row's strings are not used (rows move): label and node are
 * copied. */
typedef struct output_top_row {
	rs_status_row row;       /* its numbers */
	char     label[RS_LABEL_MAX];
	char     node[RS_NODE_MAX];
	rs_usage prev;           /* the report before row's, of the same
				  * process (time_ms 0: none seen) */
	double   cpu_pct;        /* 100 = one CPU; -1: unknown */
} output_top_row;
enum { OUTPUT_TOP_CPU, OUTPUT_TOP_MEM, OUTPUT_TOP_TASKS };
/* Sorts v by instance id and sets each row's prev and cpu_pct from the
 * last frame's rows old[nold] (as this left them: sorted by id): the CPU
 * time between the two latest distinct reports rsctl saw, over the time
 * between their samples; with one report only, its share since the
 * process started (started_ms). */
void output_top_rate(output_top_row *v, size_t n, const output_top_row *old,
		     size_t nold);
/* Prints the top table of v (highest first by key, OUTPUT_TOP_*), at most
 * max rows (0: all). 0, -ENOMEM or -EIO. */
int output_top_print(const output_top_row *v, size_t n, int key, size_t max,
		     uint64_t now_ms, FILE *out);

/* Renders a reply's JSON payload for humans on out according to the verb
 * it answers (status, nodes, lookup, events); now_ms is the wall clock used
 * for ages. Returns 0 when printed, -ENOENT when the verb has no rendering
 * or the payload is absent or not of the expected shape (nothing printed),
 * -ENOMEM. */
/* Colours state words in tables (rsctl: a TTY and no NO_COLOR). */
void output_set_colour(bool on);
/* status: -o wide's columns (the instance's id, when it started). */
void output_set_wide(bool on);
int output_human(rs_verb verb, const char *json, uint64_t now_ms, FILE *out);
/* Prints json, which must be one valid JSON document, as received plus a
 * newline. Returns 0, or -EINVAL (nothing printed) if it is not valid. */
int output_json(const char *json, FILE *out);
/* Prints {"code":code,"message":message} as one line: the --json output
 * when a reply carries no payload. Returns 0 or -ENOMEM. */
int output_json_message(int code, const char *message, FILE *out);

/* A status or nodes answer that comes in pages (rsd answers one page per
 * request): --json streams {"KEY":[items...],OTHER MEMBERS} page by page
 * (for one page, what rsd sent); the table is printed at the end, as wide
 * as its widest cell. */
typedef struct output_pager output_pager;
/* verb: RS_V_STATUS or RS_V_NODES. NULL without memory. Free with
 * output_pager_destroy(). */
output_pager *output_pager_new(rs_verb verb, bool json, FILE *out);
/* Applies --node / --state here ("" or NULL: none): for an rsd that does
 * not filter (no RS_FEAT_PAGED), with rsd's rules. */
void output_pager_filter(output_pager *p, const char *node, const char *state);
/* Takes one page's payload. Returns 0, -EINVAL (not of the verb's shape:
 * nothing taken), -ENOMEM, -EIO. */
int output_pager_add(output_pager *p, const char *page_json, uint64_t now_ms);
/* Takes one page of status rows (rsd's answer to Request.rows, already
 * filtered; not with --json); they print as the same service's JSON item
 * would. Returns 0 or -EINVAL (not a status table: nothing taken). */
int output_pager_add_rows(output_pager *p, const rs_status_row *rows,
			  size_t n, uint64_t now_ms);
/* Prints what is left: --json closes the document, else the table and
 * the lines under it. Returns 0 or -ENOMEM. */
int output_pager_end(output_pager *p);
/* Frees p and NULLs *pp. Accepts NULL. */
void output_pager_destroy(output_pager **pp);

/* Progress of a long operation (up of replicas, apply, shutdown, drain):
 * status snapshots compared one after the other. */
typedef struct progress progress;
/* Starts from a status payload (the state before the operation); utf8:
 * draw the arrow as U+2192, else "->". NULL on a bad payload or no memory.
 * Free with progress_destroy(). */
progress *progress_new(const char *status_json, bool utf8);
/* Prints one line per instance that changed state or node since the last
 * snapshot ("  web#3 on n2: starting -> running"; "new", "gone"), and
 * keeps status_json as the last snapshot. Returns the number of lines, or
 * -EINVAL / -ENOMEM (nothing printed, the last snapshot kept). */
int progress_update(progress *p, const char *status_json, FILE *out);
/* Whether no instance of the last snapshot is pending, starting or
 * stopping. */
bool progress_settled(const progress *p);
/* Prints the summary line of rq, from the first and last snapshots and
 * the reply's payload (apply: its lists), e.g. "up web: 3/3 running in
 * 0.8 s". */
void progress_summary(const progress *p, const rs_request *rq,
		      const char *reply_json, uint64_t elapsed_ms, FILE *out);
/* Frees p and NULLs *pp. Accepts NULL. */
void progress_destroy(progress **pp);

#endif
