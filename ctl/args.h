/*
 * args.h - rsctl's command line: global options, verbs, their options and
 * usage texts, turned into one ready-to-send request.
 *
 * Owns: the CLI grammar (docs/cli.md) and local validation of the request.
 * Must not: talk to rsd or print anything but usage, help and usage errors.
 */
#ifndef RS_CTL_ARGS_H
#define RS_CTL_ARGS_H

#include <stdbool.h>
#include <stdint.h>

#include "msg.h"
#include "net.h"

#define CTL_DEFAULT_ENDPOINT "tcp://127.0.0.1:7700"
#define CTL_ENDPOINT_ENV     "RS_CONTROL"
#define CTL_CRED_ENV         "RS_CRED"
#define CTL_CRED_SYSTEM      "/var/lib/rsd/admin.cred"  /* a packaged rsd's */
#define CTL_TIMEOUT_MS       5000   /* default request timeout */
#define CTL_UP_SLACK_MS      5000   /* up: ready timeout + this */
#define CTL_DOWN_TIMEOUT_MS  10000  /* down, delete: the stop timeout is rsd's */
#define CTL_LONG_TIMEOUT_MS  30000  /* refresh, restart, shutdown */
#define CTL_APPLY_TIMEOUT_MS 120000 /* apply: every service ready in order */
#define CTL_EVENTS_LIMIT     50
/* rows per page: what rsd sends at most (rsd/control.c RSD_PAGE_*: about
 * 1 ms of its loop a page, which every other request waits behind) */
#define CTL_PAGE_SIZE        100    /* status --json: instances */
#define CTL_PAGE_SIZE_STR    "100"
#define CTL_NODES_PAGE_SIZE  250    /* nodes */
#define CTL_NODES_PAGE_SIZE_STR "250"
#define CTL_ROWS_PAGE_SIZE   1000   /* the status table (rows) */
#define CTL_ROWS_PAGE_SIZE_STR "1000"
#define CTL_REPLY_SLACK_MS   2000   /* rsctl waits timeout + this */
#define CTL_TOP_DELAY_MS     2000   /* top: a frame every 2 s */

/* top --sort (output.h's OUTPUT_TOP_* alike) */
enum { CTL_TOP_CPU, CTL_TOP_MEM, CTL_TOP_TASKS };

/* One parsed command line. */
typedef struct ctl_cmd {
	const char *endpoint;   /* borrowed from argv or the environment */
	bool        json;
	rs_msg      req;        /* RS_MSG_REQUEST, owned; timeout_ms resolved */
	bool        follow;     /* logs/events -f: keep asking for more */
	bool        watch;      /* status -w: redraw it as it changes */
	bool        wide;       /* status -o wide: more columns */
	bool        top;        /* top: the usage table, refreshed */
	uint32_t    top_delay_ms; /* top -d: between frames */
	uint32_t    top_frames; /* top -n: frames, then exit (0: until ^C) */
	int         top_sort;   /* top --sort: CTL_TOP_* */
	bool        timestamps; /* logs --timestamps: each line's time */
	const char *cred_path;  /* --cred FILE (borrowed), NULL: $RS_CRED... */
	bool        insecure;   /* --insecure: plaintext, no credential */
	bool        predicate;  /* is-running: the answer is the exit code */
	const net_curve *curve; /* the credential's keys; NULL: plaintext */
	char        cred_name[64];
	char        new_sec[NET_KEY_LEN + 1];  /* cred create: the new secret */
} ctl_cmd;

enum {
	ARGS_RUN = 0,           /* send c->req */
	ARGS_DONE = -1,         /* help or version printed: exit 0 */
};

/* Parses argv into c (initialised here; clear it with ctl_cmd_clear() in
 * every case). Returns ARGS_RUN, ARGS_DONE after printing help to stdout,
 * or RS_E_USAGE after printing the reason to stderr. */
int args_parse(int argc, char **argv, ctl_cmd *c);
/* Frees what c owns. Accepts a cleared or zeroed cmd. */
void ctl_cmd_clear(ctl_cmd *c);

#endif
