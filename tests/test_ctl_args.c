/*
 * test_ctl_args.c - rsctl's command line (ctl/args.c) without rsd: what
 * --listen and update put into the request, and the usage errors (exit 2,
 * nothing sent) with the text rsctl prints for them.
 */
#include <criterion/criterion.h>

#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "probespec.h"
#include "codes.h"

TestSuite(ctl_args, .timeout = 10);

static char errtext[2048];

#define ARGS_MAX 300   /* arguments of one parse_v */

/* Runs args_parse on "rsctl ARGS..." (args NULL-terminated) into c, with
 * its stderr captured in errtext. Returns args_parse's result. */
static int parse_v(ctl_cmd *c, const char *const *args)
{
	char *argv[ARGS_MAX + 2] = { "rsctl" };
	int argc = 1, saved, r;
	FILE *tmp = tmpfile();
	size_t n;

	cr_assert_not_null(tmp);
	for (; *args && argc < ARGS_MAX + 1; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	cr_assert_geq(saved, 0);
	dup2(fileno(tmp), STDERR_FILENO);
	r = args_parse(argc, argv, c);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	n = fread(errtext, 1, sizeof errtext - 1, tmp);
	errtext[n] = '\0';
	fclose(tmp);
	return r;
}

static int parse(ctl_cmd *c, ...)
{
	const char *args[64];
	int n = 0;
	va_list ap;

	va_start(ap, c);
	while (n < 63 && (args[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	args[n] = NULL;
	return parse_v(c, args);
}

/* Asserts that the command line is a usage error that says want. */
#define assert_usage(want, ...) do {                                          \
		ctl_cmd c_;                                                   \
		cr_assert_eq(parse(&c_, __VA_ARGS__, NULL), RS_E_USAGE,       \
			     "accepted (stderr: %s)", errtext);               \
		cr_assert(strstr(errtext, want), "got: %s\nwant: %s", errtext, want); \
		ctl_cmd_clear(&c_);                                           \
	} while (0)

Test(ctl_args, up_listen_goes_into_the_spec)
{
	ctl_cmd c;
	const rs_request *r = &c.req.u.request;

	cr_assert_eq(parse(&c, "up", "web", "--listen", "http=tcp:0.0.0.0:8080",
			   "--listen=admin=unix:/run/web.sock", "--", "/bin/web", NULL),
		     ARGS_RUN, "%s", errtext);
	cr_assert_eq(r->verb, RS_V_UP);
	cr_assert_eq(r->spec.nlisten, 2);
	cr_assert_str_eq(r->spec.listen[0], "http=tcp:0.0.0.0:8080");
	cr_assert_str_eq(r->spec.listen[1], "admin=unix:/run/web.sock");
	ctl_cmd_clear(&c);
}

Test(ctl_args, bad_listen_is_a_usage_error)
{
	assert_usage("rsctl: --listen: listen \"web=tcp:1.2.3.4:99999\": port must be 1..65535",
		     "up", "web", "--listen", "web=tcp:1.2.3.4:99999", "--", "/bin/web");
	assert_usage("listen \"web\": expected NAME=ADDR",
		     "up", "web", "--listen", "web", "--", "/bin/web");
	assert_usage("listen \"b=tcp:1.2.3.4:80\": tcp:1.2.3.4:80 is already listed as 'a'",
		     "up", "web", "--listen", "a=tcp:1.2.3.4:80", "--listen", "b=tcp:1.2.3.4:80",
		     "--", "/bin/web");
	assert_usage("listen \"a=unix:/y\": NAME 'a' is given twice",
		     "edit", "web", "--listen", "a=unix:/x", "--listen", "a=unix:/y");
	assert_usage("option --listen needs a value", "edit", "web", "--listen");
}

Test(ctl_args, edit_listen_sets_its_bit)
{
	ctl_cmd c;
	const rs_request *r = &c.req.u.request;

	cr_assert_eq(parse(&c, "edit", "web", "--listen", "v6=tcp6:[::1]:8080", NULL),
		     ARGS_RUN, "%s", errtext);
	cr_assert_eq(r->verb, RS_V_EDIT);
	cr_assert_eq(r->edit_mask, RS_EDIT_LISTEN);
	cr_assert(r->edit_mask & RS_EDIT_NEXT_START);
	cr_assert_eq(r->spec.nlisten, 1);
	cr_assert_str_eq(r->spec.listen[0], "v6=tcp6:[::1]:8080");
	ctl_cmd_clear(&c);
}

Test(ctl_args, keep_caps)
{
	ctl_cmd c;
	const rs_request *r = &c.req.u.request;

	cr_assert_eq(parse(&c, "up", "web", "--user", "nobody", "--", "/bin/web", NULL),
		     ARGS_RUN, "%s", errtext);
	cr_assert_not(r->spec.keep_caps);
	ctl_cmd_clear(&c);
	cr_assert_eq(parse(&c, "up", "web", "--user", "nobody", "--keep-caps", "--",
			   "/bin/web", NULL), ARGS_RUN, "%s", errtext);
	cr_assert(r->spec.keep_caps);
	ctl_cmd_clear(&c);
	cr_assert_eq(parse(&c, "edit", "web", "--keep-caps", NULL), ARGS_RUN, "%s",
		     errtext);
	cr_assert_eq(r->edit_mask, RS_EDIT_KEEP_CAPS);
	cr_assert(r->edit_mask & RS_EDIT_NEXT_START);
	cr_assert(r->spec.keep_caps);
	ctl_cmd_clear(&c);
	cr_assert_eq(parse(&c, "edit", "web", "--no-keep-caps", NULL), ARGS_RUN, "%s",
		     errtext);
	cr_assert_eq(r->edit_mask, RS_EDIT_KEEP_CAPS);
	cr_assert_not(r->spec.keep_caps);
	ctl_cmd_clear(&c);
	assert_usage("--no-keep-caps", "up", "web", "--no-keep-caps", "--", "/bin/web");
}

Test(ctl_args, fence)
{
	ctl_cmd c;
	const rs_request *r = &c.req.u.request;

	cr_assert_eq(parse(&c, "up", "web", "--", "/bin/web", NULL), ARGS_RUN, "%s",
		     errtext);
	cr_assert_eq(r->spec.fence, RS_FENCE_NONE);
	ctl_cmd_clear(&c);
	cr_assert_eq(parse(&c, "up", "web", "--fence", "stop", "--", "/bin/web", NULL),
		     ARGS_RUN, "%s", errtext);
	cr_assert_eq(r->spec.fence, RS_FENCE_STOP);
	ctl_cmd_clear(&c);
	cr_assert_eq(parse(&c, "edit", "web", "--fence", "none", NULL), ARGS_RUN, "%s",
		     errtext);
	cr_assert_eq(r->edit_mask, RS_EDIT_FENCE);
	cr_assert_not(r->edit_mask & RS_EDIT_NEXT_START);
	cr_assert_eq(r->spec.fence, RS_FENCE_NONE);
	ctl_cmd_clear(&c);
	assert_usage("rsctl: --fence: 'kill' is not none or stop", "up", "web", "--fence",
		     "kill", "--", "/bin/web");
}

Test(ctl_args, update_defaults)
{
	ctl_cmd c;
	const rs_request *r = &c.req.u.request;

	cr_assert_eq(parse(&c, "update", "web", NULL), ARGS_RUN, "%s", errtext);
	cr_assert_eq(r->verb, RS_V_UPDATE);
	cr_assert_str_eq(r->label, "web");
	cr_assert_str_eq(r->spec.label, "web");
	cr_assert_eq(r->edit_mask, 0, "the same spec: a new process only");
	cr_assert_eq(r->spec.argc, 0);
	cr_assert_eq(r->maxtime_ms, 2000);
	cr_assert_eq(r->min_healthy_ms, 1000);
	cr_assert_eq(r->max_unavailable, 1);
	cr_assert_eq(r->prepare_signal, 0);
	cr_assert_not(r->no_rollback);
	cr_assert_not(r->canary);
	cr_assert_eq(r->nbatch, 0);
	cr_assert_eq(r->timeout_ms, 30000 + 2000 + 1000);
	ctl_cmd_clear(&c);
}

Test(ctl_args, update_every_option)
{
	ctl_cmd c;
	const rs_request *r = &c.req.u.request;

	cr_assert_eq(parse(&c, "--json", "update", "web", "--env", "MODE=new",
			   "--maxtime", "5", "--min-healthy=0", "--prepare-signal", "SIGUSR1",
			   "--no-rollback", "--max-unavailable", "3", "--canary",
			   "--timeout", "9", "--", "/bin/web2", "-v", NULL),
		     ARGS_RUN, "%s", errtext);
	cr_assert(c.json);
	cr_assert_eq(r->edit_mask, RS_EDIT_ENV | RS_EDIT_ARGS);
	cr_assert_eq(r->spec.envc, 1);
	cr_assert_str_eq(r->spec.env[0], "MODE=new");
	cr_assert_eq(r->spec.argc, 2);
	cr_assert_str_eq(r->spec.argv[0], "/bin/web2");
	cr_assert_eq(r->maxtime_ms, 5000);
	cr_assert_eq(r->min_healthy_ms, 0);
	cr_assert_eq(r->prepare_signal, SIGUSR1);
	cr_assert(r->no_rollback);
	cr_assert_eq(r->max_unavailable, 3);
	cr_assert(r->canary);
	cr_assert_eq(r->timeout_ms, 9000);
	ctl_cmd_clear(&c);

	cr_assert_eq(parse(&c, "update", "web", "--prepare-signal", "usr2", "--args",
			   "--port", "81", NULL), ARGS_RUN, "%s", errtext);
	cr_assert_eq(r->prepare_signal, SIGUSR2);
	cr_assert_eq(r->edit_mask, RS_EDIT_ARGS_TAIL);
	cr_assert_eq(r->spec.argc, 2);
	cr_assert_str_eq(r->spec.argv[0], "--port");
	ctl_cmd_clear(&c);

	cr_assert_eq(parse(&c, "update", "web", "--prepare-signal", "10", NULL), ARGS_RUN,
		     "%s", errtext);
	cr_assert_eq(r->prepare_signal, 10);
	ctl_cmd_clear(&c);
}

Test(ctl_args, update_batch)
{
	ctl_cmd c;
	const rs_request *r = &c.req.u.request;

	cr_assert_eq(parse(&c, "update", "web", "--batch", "api", "worker.2", "--canary",
			   "--env", "A=1", NULL), ARGS_RUN, "%s", errtext);
	cr_assert_eq(r->nbatch, 2);
	cr_assert_str_eq(r->batch[0], "api");
	cr_assert_str_eq(r->batch[1], "worker.2");
	cr_assert_null(r->batch[2]);
	cr_assert(r->canary);
	cr_assert_eq(r->edit_mask, RS_EDIT_ENV);
	cr_assert_eq(r->timeout_ms, 3 * (30000 + 2000 + 1000));
	ctl_cmd_clear(&c);
}

/* update command lines that are usage errors, and what rsctl says. */
static const struct { const char *want; const char *args[8]; } update_bad[] = {
	{ "update: missing LABEL", { "update" } },
	{ "--prepare-signal: 'NOPE' is not a signal (USR1, SIGUSR1, 10)",
	  { "update", "web", "--prepare-signal", "NOPE" } },
	{ "--maxtime must be more than 0 and at most 3600 s",
	  { "update", "web", "--maxtime", "0" } },
	{ "--maxtime must be more than 0 and at most 3600 s",
	  { "update", "web", "--maxtime", "3600.001" } },
	{ "--min-healthy must be at most 3600 s", { "update", "web", "--min-healthy", "3601" } },
	{ "--max-unavailable: '0' is not a whole number >= 1",
	  { "update", "web", "--max-unavailable", "0" } },
	{ "--max-unavailable must be 1 to 64", { "update", "web", "--max-unavailable", "65" } },
	{ "--batch needs at least one LABEL", { "update", "web", "--batch" } },
	{ "--batch needs at least one LABEL", { "update", "web", "--batch", "--canary" } },
	{ "--batch: label 'a b' is invalid", { "update", "web", "--batch", "a b" } },
	{ "--batch: 'api' is given twice", { "update", "web", "--batch", "api", "api" } },
	{ "--batch: 'web' is the LABEL already", { "update", "web", "--batch", "web" } },
	{ "--batch updates several services: it takes no new command or --args",
	  { "update", "web", "--batch", "api", "--args", "x" } },
	{ "--batch updates several services: it takes no new command or --args",
	  { "update", "web", "--batch", "api", "--", "/bin/x" } },
	{ "unknown option '--listen'", { "update", "web", "--listen", "a=unix:/x" } },
	{ "unknown option '--node'", { "update", "web", "--node", "n1" } },
};

Test(ctl_args, update_usage_errors)
{
	for (size_t i = 0; i < sizeof update_bad / sizeof update_bad[0]; i++) {
		ctl_cmd c;

		cr_expect_eq(parse_v(&c, update_bad[i].args), RS_E_USAGE,
			     "%s: accepted (stderr: %s)", update_bad[i].want, errtext);
		cr_expect(strstr(errtext, update_bad[i].want), "got: %s\nwant: %s", errtext,
			  update_bad[i].want);
		ctl_cmd_clear(&c);
	}
}

Test(ctl_args, status_filters_and_pages)
{
	ctl_cmd c;
	const rs_request *r = &c.req.u.request;

	cr_assert_eq(parse(&c, "status", NULL), ARGS_RUN, "%s", errtext);
	cr_assert_eq(r->verb, RS_V_STATUS);
	cr_assert_eq(r->page_size, CTL_ROWS_PAGE_SIZE, "rsctl always asks for pages");
	cr_assert(r->rows, "the table asks for rows");
	cr_assert_str_empty(r->node);
	cr_assert_str_empty(r->state);
	cr_assert_str_empty(r->label);
	ctl_cmd_clear(&c);

	cr_assert_eq(parse(&c, "status", "web", "db", "--node", "n7", "--state=backoff",
			   "--page-size", "7", "api", NULL), ARGS_RUN, "%s", errtext);
	cr_assert_str_eq(r->label, "web");
	cr_assert_eq(r->nbatch, 2);
	cr_assert_str_eq(r->batch[0], "db");
	cr_assert_str_eq(r->batch[1], "api");
	cr_assert_null(r->batch[2]);
	cr_assert_str_eq(r->node, "n7");
	cr_assert_str_eq(r->state, "backoff");
	cr_assert_eq(r->page_size, 7);
	cr_assert(r->rows);
	cr_assert_str_empty(r->spec.node, "--node of status is a filter, not placement");
	ctl_cmd_clear(&c);

	/* --json (before or after the verb): JSON pages, of the JSON size */
	cr_assert_eq(parse(&c, "--json", "status", NULL), ARGS_RUN, "%s", errtext);
	cr_assert_not(r->rows);
	cr_assert_eq(r->page_size, CTL_PAGE_SIZE);
	ctl_cmd_clear(&c);
	cr_assert_eq(parse(&c, "status", "--json", NULL), ARGS_RUN, "%s", errtext);
	cr_assert_not(r->rows);
	ctl_cmd_clear(&c);

	cr_assert_eq(parse(&c, "--json", "nodes", "--state", "suspect", NULL), ARGS_RUN,
		     "%s", errtext);
	cr_assert_eq(r->verb, RS_V_NODES);
	cr_assert_str_eq(r->state, "suspect");
	cr_assert_eq(r->page_size, CTL_NODES_PAGE_SIZE, "nodes: a page size of its own");
	cr_assert_not(r->rows, "nodes come as JSON");
	cr_assert(c.json);
	ctl_cmd_clear(&c);
	cr_assert_eq(parse(&c, "nodes", NULL), ARGS_RUN, "%s", errtext);
	cr_assert_not(r->rows);
	cr_assert_eq(r->page_size, CTL_NODES_PAGE_SIZE);
	ctl_cmd_clear(&c);
}

Test(ctl_args, status_filter_usage_errors)
{
	assert_usage("'sleeping' is not an instance state", "status", "--state", "sleeping");
	assert_usage("'unknown' is not an instance state", "status", "--state", "unknown");
	assert_usage("'running' is not a node state", "nodes", "--state", "running");
	assert_usage("'up' is not an instance state", "status", "--state", "up");
	assert_usage("'a b' is not a node name", "status", "--node", "a b");
	assert_usage("option --node needs a value", "status", "--node");
	assert_usage("'0' is not a whole number >= 1", "status", "--page-size", "0");
	assert_usage("'x' is not a whole number >= 1", "nodes", "--page-size", "x");
	assert_usage("'web' is given twice", "status", "web", "db", "web");
	assert_usage("label '.x' is invalid", "status", "web", ".x");
	assert_usage("unknown option '--node'", "nodes", "--node", "n1");
	assert_usage("unexpected argument 'n1'", "nodes", "n1");
}

/* rsctl node forget NODE: a two-word verb like cred's and token's */
Test(ctl_args, node_forget)
{
	ctl_cmd c;
	const rs_request *r;

	cr_assert_eq(parse(&c, "node", "forget", "n7", NULL), ARGS_RUN, "%s", errtext);
	r = &c.req.u.request;
	cr_assert_eq(r->verb, RS_V_NODE_FORGET);
	cr_assert_str_eq(r->label, "n7");
	ctl_cmd_clear(&c);
	assert_usage("unknown verb 'node remove'", "node", "remove", "n7");
	assert_usage("unknown verb 'node'", "node");
}

/* rsctl delete LABEL [--keep-events] [--force] [--no-block]: down's
 * timeout, nothing kept or forced unless asked */
Test(ctl_args, delete)
{
	ctl_cmd c;
	const rs_request *r;

	cr_assert_eq(parse(&c, "delete", "web", NULL), ARGS_RUN, "%s", errtext);
	r = &c.req.u.request;
	cr_assert_eq(r->verb, RS_V_DELETE);
	cr_assert_str_eq(r->label, "web");
	cr_assert_not(r->keep_events);
	cr_assert_not(r->force);
	cr_assert_not(r->no_block);
	cr_assert_eq(r->timeout_ms, CTL_DOWN_TIMEOUT_MS);
	ctl_cmd_clear(&c);
	cr_assert_eq(parse(&c, "delete", "--keep-events", "db-1", "--force", "--no-block",
			   "--timeout", "30", NULL), ARGS_RUN, "%s", errtext);
	r = &c.req.u.request;
	cr_assert_str_eq(r->label, "db-1");
	cr_assert(r->keep_events);
	cr_assert(r->force);
	cr_assert(r->no_block);
	cr_assert_eq(r->timeout_ms, 30000);
	ctl_cmd_clear(&c);
	assert_usage("missing LABEL", "delete");
	assert_usage("unexpected argument 'db'", "delete", "web", "db");
	assert_usage("unknown option '--keep'", "delete", "web", "--keep");
	assert_usage("is invalid", "delete", "web/1");
}

/* rsctl export [LABEL...]: every service, or the LABELs in order */
Test(ctl_args, export)
{
	ctl_cmd c;
	const rs_request *r;

	cr_assert_eq(parse(&c, "export", NULL), ARGS_RUN, "%s", errtext);
	r = &c.req.u.request;
	cr_assert_eq(r->verb, RS_V_EXPORT);
	cr_assert_str_eq(r->label, "");
	cr_assert_eq(r->nbatch, 0);
	cr_assert_eq(r->timeout_ms, CTL_TIMEOUT_MS);
	ctl_cmd_clear(&c);
	cr_assert_eq(parse(&c, "export", "web", "db", "api", "--json", NULL), ARGS_RUN,
		     "%s", errtext);
	r = &c.req.u.request;
	cr_assert_str_eq(r->label, "web");
	cr_assert_eq(r->nbatch, 2);
	cr_assert_str_eq(r->batch[0], "db");
	cr_assert_str_eq(r->batch[1], "api");
	cr_assert(c.json);
	ctl_cmd_clear(&c);
	assert_usage("'web' is given twice", "export", "web", "web");
	assert_usage("'db' is given twice", "export", "web", "db", "db");
	assert_usage("is invalid", "export", "web/1");
	assert_usage("unknown option '--all'", "export", "--all");
}

/* rsctl describe LABEL: one label, no options of its own; --json is the
 * global one, before or after the verb */
Test(ctl_args, describe)
{
	ctl_cmd c;
	const rs_request *r;

	cr_assert_eq(parse(&c, "describe", "web", NULL), ARGS_RUN, "%s", errtext);
	r = &c.req.u.request;
	cr_assert_eq(r->verb, RS_V_DESCRIBE);
	cr_assert_str_eq(r->label, "web");
	cr_assert_not(c.json);
	cr_assert_eq(r->limit, 0);
	cr_assert_not(r->rows);
	ctl_cmd_clear(&c);
	cr_assert_eq(parse(&c, "describe", "web", "--json", NULL), ARGS_RUN, "%s", errtext);
	cr_assert(c.json);
	ctl_cmd_clear(&c);
	cr_assert_eq(parse(&c, "--json", "describe", "db-1", NULL), ARGS_RUN, "%s", errtext);
	cr_assert(c.json);
	cr_assert_str_eq(c.req.u.request.label, "db-1");
	ctl_cmd_clear(&c);
	assert_usage("missing LABEL", "describe");
	assert_usage("unexpected argument 'db'", "describe", "web", "db");
	assert_usage("unknown option '--node'", "describe", "web", "--node", "n1");
	assert_usage("is invalid", "describe", "web/1");
}

/* "rsctl VERB LABEL OPT" and then n arguments "a1".."an" into c. */
static int parse_n(ctl_cmd *c, const char *verb, const char *opt, int n)
{
	static char words[ARGS_MAX][16];
	const char *args[ARGS_MAX + 1] = { verb, "web", opt };
	int k = 3;

	cr_assert_leq(n, ARGS_MAX - k);
	for (int i = 1; i <= n; i++) {
		snprintf(words[i], sizeof words[i], "a%d", i);
		args[k++] = words[i];
	}
	args[k] = NULL;
	return parse_v(c, args);
}

/* A command is at most RS_ARGV_MAX (256) entries, the program included:
 * -- takes the program and 255 arguments, --args (the program kept) 255
 * arguments; one more is a usage error that says so, as is an argument
 * of RS_ARG_MAX bytes. docs/cli.md documents the limit. */
Test(ctl_args, command_limits)
{
	static char big[RS_ARG_MAX + 1];
	ctl_cmd c;

	cr_assert_eq(RS_ARGV_MAX, 256, "docs/cli.md says 256: change it too");
	cr_assert_eq(parse_n(&c, "up", "--", RS_ARGV_MAX), ARGS_RUN, "%s", errtext);
	cr_assert_eq(c.req.u.request.spec.argc, RS_ARGV_MAX);
	ctl_cmd_clear(&c);
	cr_assert_eq(parse_n(&c, "up", "--", RS_ARGV_MAX + 1), RS_E_USAGE);
	cr_assert(strstr(errtext, "the command has more than 256 entries (the program "
			 "and 255 arguments), or one over 4095 bytes"), "got: %s", errtext);
	ctl_cmd_clear(&c);

	cr_assert_eq(parse_n(&c, "edit", "--args", RS_ARGV_MAX - 1), ARGS_RUN, "%s", errtext);
	cr_assert_eq(c.req.u.request.spec.argc, RS_ARGV_MAX - 1);
	ctl_cmd_clear(&c);
	cr_assert_eq(parse_n(&c, "update", "--args", RS_ARGV_MAX), RS_E_USAGE);
	cr_assert(strstr(errtext, "--args: more than 255 arguments (with the program, "
			 "256 entries)"), "got: %s", errtext);
	ctl_cmd_clear(&c);

	memset(big, 'x', RS_ARG_MAX);
	assert_usage("or one over 4095 bytes", "up", "web", "--", "/bin/echo", big);
	big[RS_ARG_MAX - 1] = '\0';
	cr_assert_eq(parse(&c, "up", "web", "--", "/bin/echo", big, NULL), ARGS_RUN,
		     "%s", errtext);
	ctl_cmd_clear(&c);
}

/* status -w/--watch and -o wide set the command's flags; -o wants wide */
Test(ctl_args, status_watch_wide)
{
	ctl_cmd c;

	cr_assert_eq(parse(&c, "status", "web", "-w", "-o", "wide", NULL), ARGS_RUN,
		     "%s", errtext);
	cr_assert(c.watch);
	cr_assert(c.wide);
	cr_assert_eq(c.req.u.request.verb, RS_V_STATUS);
	ctl_cmd_clear(&c);
	cr_assert_eq(parse(&c, "status", "--watch", NULL), ARGS_RUN, "%s", errtext);
	cr_assert(c.watch);
	cr_assert_not(c.wide);
	ctl_cmd_clear(&c);
	assert_usage("-o: unknown format 'yaml'", "status", "-o", "yaml");
	assert_usage("-o needs a format", "status", "-o");
	assert_usage("unknown option '--watch'", "nodes", "--watch");
}

/* rsctl's own flags (how it shows the answer) on every verb that shows
 * one: each taken where it means something, short and long, and refused
 * as unknown elsewhere */
Test(ctl_args, own_flags_only_where_they_mean_something)
{
	static const struct {
		const char *verb, *flag;
		size_t      field;   /* the ctl_cmd flag it sets; 0: refused */
	} cases[] = {
		{ "logs",   "-f",           offsetof(ctl_cmd, follow) },
		{ "logs",   "--follow",     offsetof(ctl_cmd, follow) },
		{ "events", "-f",           offsetof(ctl_cmd, follow) },
		{ "events", "--follow",     offsetof(ctl_cmd, follow) },
		{ "status", "-w",           offsetof(ctl_cmd, watch) },
		{ "status", "--watch",      offsetof(ctl_cmd, watch) },
		{ "logs",   "-t",           offsetof(ctl_cmd, timestamps) },
		{ "logs",   "--timestamps", offsetof(ctl_cmd, timestamps) },
		{ "status", "-f",           0 },
		{ "nodes",  "--follow",     0 },
		{ "logs",   "-w",           0 },
		{ "events", "--watch",      0 },
		{ "events", "-t",           0 },
		{ "status", "--timestamps", 0 },
		{ "logs",   "-o",           0 },
		{ "nodes",  "-o",           0 },
	};

	for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
		/* logs needs its LABEL; the others take one or none */
		bool label = !strcmp(cases[k].verb, "logs");
		char want[64];
		ctl_cmd c;

		if (!cases[k].field) {
			snprintf(want, sizeof want, "unknown option '%s'", cases[k].flag);
			if (label)
				assert_usage(want, cases[k].verb, "web", cases[k].flag);
			else
				assert_usage(want, cases[k].verb, cases[k].flag);
			continue;
		}
		cr_assert_eq(label ? parse(&c, cases[k].verb, "web", cases[k].flag, NULL) :
			     parse(&c, cases[k].verb, cases[k].flag, NULL), ARGS_RUN,
			     "%s %s: %s", cases[k].verb, cases[k].flag, errtext);
		cr_assert(*(bool *)((char *)&c + cases[k].field), "%s %s", cases[k].verb,
			  cases[k].flag);
		ctl_cmd_clear(&c);
	}
}

/* rsctl logs: --timestamps is rsctl's own (it formats the stored lines it
 * always asks for), --since and --previous go to rsd; --previous with -f
 * is refused: that process writes no more. */
Test(ctl_args, logs_options)
{
	ctl_cmd c;
	const rs_request *r;
	uint64_t now = (uint64_t)time(NULL) * 1000;

	cr_assert_eq(parse(&c, "logs", "web", NULL), ARGS_RUN, "%s", errtext);
	r = &c.req.u.request;
	cr_assert_eq(r->verb, RS_V_LOGS);
	cr_assert_eq(r->limit, 50);
	cr_assert(r->stamped, "rsctl asks for the stored lines");
	cr_assert_not(c.timestamps);
	cr_assert_not(r->previous);
	cr_assert_eq(r->since_ms, 0);
	ctl_cmd_clear(&c);

	cr_assert_eq(parse(&c, "logs", "web", "--timestamps", "--since", "10m",
			   "--previous", "-n", "5", NULL), ARGS_RUN, "%s", errtext);
	r = &c.req.u.request;
	cr_assert(c.timestamps);
	cr_assert(r->previous);
	cr_assert_eq(r->limit, 5);
	cr_assert(r->since_ms + 600000 >= now - 5000 && r->since_ms + 600000 <= now + 5000,
		  "since %llu", (unsigned long long)r->since_ms);
	ctl_cmd_clear(&c);

	cr_assert_eq(parse(&c, "logs", "-t", "-p", "web", "--since",
			   "2026-11-25T08:00:00Z", "-f", NULL), RS_E_USAGE);
	cr_assert(strstr(errtext, "--previous shows a process that writes no more"),
		  "%s", errtext);
	ctl_cmd_clear(&c);
	cr_assert_eq(parse(&c, "logs", "-t", "web", "--since",
			   "2026-11-25T08:00:00Z", "-f", NULL), ARGS_RUN, "%s", errtext);
	cr_assert(c.timestamps && c.follow);
	cr_assert_eq(c.req.u.request.since_ms, 1795593600000ull);
	ctl_cmd_clear(&c);

	assert_usage("'yesterday' is not a time", "logs", "web", "--since", "yesterday");
	assert_usage("option --since needs a value", "logs", "web", "--since");
	assert_usage("unknown option '--timestamps'", "events", "--timestamps");
	assert_usage("unknown option '--previous'", "events", "--previous");
}

Test(ctl_args, reload_signal)
{
	ctl_cmd c;
	const rs_request *r = &c.req.u.request;

	cr_assert_eq(parse(&c, "up", "web", "--", "/bin/web", NULL), ARGS_RUN, "%s",
		     errtext);
	cr_assert_eq(r->spec.reload_signal, 0);   /* rsd sends SIGHUP */
	ctl_cmd_clear(&c);
	cr_assert_eq(parse(&c, "up", "web", "--reload-signal", "USR2", "--", "/bin/web",
			   NULL), ARGS_RUN, "%s", errtext);
	cr_assert_eq(r->spec.reload_signal, SIGUSR2);
	ctl_cmd_clear(&c);
	cr_assert_eq(parse(&c, "edit", "web", "--reload-signal=sigusr1", NULL), ARGS_RUN,
		     "%s", errtext);
	cr_assert_eq(r->edit_mask, RS_EDIT_RELOAD_SIGNAL);
	cr_assert_not(r->edit_mask & RS_EDIT_NEXT_START);
	cr_assert_eq(r->spec.reload_signal, SIGUSR1);
	ctl_cmd_clear(&c);
	assert_usage("rsctl: --reload-signal: 'NOPE' is not a signal", "up", "web",
		     "--reload-signal", "NOPE", "--", "/bin/web");
	assert_usage("is not a signal", "edit", "web", "--reload-signal", "0");
	assert_usage("is not a signal", "edit", "web", "--reload-signal", "65");
}

Test(ctl_args, reload_and_kill)
{
	ctl_cmd c;
	const rs_request *r = &c.req.u.request;

	cr_assert_eq(parse(&c, "reload", "web", NULL), ARGS_RUN, "%s", errtext);
	cr_assert_eq(r->verb, RS_V_RELOAD);
	cr_assert_str_eq(r->label, "web");
	ctl_cmd_clear(&c);

	cr_assert_eq(parse(&c, "kill", "web", NULL), ARGS_RUN, "%s", errtext);
	cr_assert_eq(r->verb, RS_V_KILL);
	cr_assert_eq(r->signal, 0);             /* rsd sends SIGTERM */
	cr_assert_not(r->main_only);
	ctl_cmd_clear(&c);
	/* after the verb, -s is kill's signal; before it, the endpoint */
	cr_assert_eq(parse(&c, "-s", "tcp://127.0.0.1:1", "kill", "web", "-s", "KILL",
			   "--main", NULL), ARGS_RUN, "%s", errtext);
	cr_assert_str_eq(c.endpoint, "tcp://127.0.0.1:1");
	cr_assert_eq(r->signal, SIGKILL);
	cr_assert(r->main_only);
	ctl_cmd_clear(&c);
	cr_assert_eq(parse(&c, "kill", "web", "--signal=SIGUSR1", NULL), ARGS_RUN, "%s",
		     errtext);
	cr_assert_eq(r->signal, SIGUSR1);
	ctl_cmd_clear(&c);
	cr_assert_eq(parse(&c, "kill", "-s9", "web", NULL), ARGS_RUN, "%s", errtext);
	cr_assert_eq(r->signal, SIGKILL);
	ctl_cmd_clear(&c);

	assert_usage("rsctl: -s: 'NOPE' is not a signal", "kill", "web", "-s", "NOPE");
	assert_usage("is not a signal", "kill", "web", "-s", "0");
	assert_usage("is not a signal", "kill", "web", "-s", "65");
	assert_usage("option -s needs a value", "kill", "web", "-s");
	assert_usage("missing LABEL", "kill");
	assert_usage("missing LABEL", "reload");
	assert_usage("unknown option '--main'", "reload", "web", "--main");
	assert_usage("unexpected argument 'db'", "reload", "web", "db");
}

/* history LABEL; undo LABEL (update to the revision before the newest,
 * with update's handover options); update --to-revision N, whole: no
 * settings, command or --batch with it */
Test(ctl_args, history_undo_to_revision)
{
	ctl_cmd c;
	const rs_request *r = &c.req.u.request;

	cr_assert_eq(parse(&c, "history", "web", NULL), ARGS_RUN, "%s", errtext);
	cr_assert_eq(r->verb, RS_V_HISTORY);
	cr_assert_str_eq(r->label, "web");
	ctl_cmd_clear(&c);
	assert_usage("missing LABEL", "history");

	cr_assert_eq(parse(&c, "undo", "web", "--canary", "--min-healthy", "2", NULL),
		     ARGS_RUN, "%s", errtext);
	cr_assert_eq(r->verb, RS_V_UPDATE);
	cr_assert_eq(r->revision, RS_REVISION_PREVIOUS);
	cr_assert(r->canary);
	cr_assert_eq(r->min_healthy_ms, 2000);
	cr_assert_eq(r->edit_mask, 0);
	ctl_cmd_clear(&c);
	assert_usage("missing LABEL", "undo");
	assert_usage("unknown option '--env'", "undo", "web", "--env", "A=1");

	cr_assert_eq(parse(&c, "update", "web", "--to-revision", "3", NULL), ARGS_RUN,
		     "%s", errtext);
	cr_assert_eq(r->verb, RS_V_UPDATE);
	cr_assert_eq(r->revision, 3);
	ctl_cmd_clear(&c);
	assert_usage("--to-revision takes the revision's spec whole",
		     "update", "web", "--to-revision", "3", "--env", "A=1");
	assert_usage("--to-revision takes the revision's spec whole",
		     "update", "web", "--to-revision", "3", "--", "/bin/web");
	assert_usage("--to-revision takes the revision's spec whole",
		     "update", "web", "--to-revision", "3", "--batch", "db");
}

/* --liveness/--readiness/--startup and the --probe-* options they take. */
Test(ctl_args, probes)
{
	ctl_cmd c;
	const rs_request *r = &c.req.u.request;
	const rs_probe *l = &r->spec.probes[RS_PROBE_LIVENESS];
	const rs_probe *rd = &r->spec.probes[RS_PROBE_READINESS];

	cr_assert_eq(parse(&c, "up", "web", "--liveness", "http://127.0.0.1:8080/healthz",
			   "--readiness", "tcp:127.0.0.1:8080", "--probe-period", "0.5",
			   "--probe-failures", "5", "--probe-timeout", "0.25",
			   "--probe-delay", "2", "--probe-status", "200-204",
			   "--probe-header", "Host: example.org", "--", "/bin/web", NULL),
		     ARGS_RUN, "%s", errtext);
	cr_assert_eq(l->kind, RS_PK_HTTP);
	cr_assert_str_eq(l->target, "http://127.0.0.1:8080/healthz");
	cr_assert_eq(l->period_ms, 500);
	cr_assert_eq(l->failures, 5);
	cr_assert_eq(l->timeout_ms, 250);
	cr_assert_eq(l->initial_delay_ms, 2000);
	cr_assert_eq(l->status_max, 204);
	cr_assert_eq(l->nheaders, 1);
	cr_assert_eq(rd->kind, RS_PK_TCP);
	cr_assert_str_eq(rd->target, "127.0.0.1:8080");
	cr_assert_eq(rd->period_ms, 500, "the --probe-* options set every probe given");
	cr_assert_eq(rd->nheaders, 0, "headers stay with the http probes");
	cr_assert_eq(rd->status_max, 399);
	cr_assert_eq(r->spec.probes[RS_PROBE_STARTUP].kind, RS_PK_NONE);
	ctl_cmd_clear(&c);

	/* edit: only the probes given change; none removes one */
	cr_assert_eq(parse(&c, "edit", "web", "--readiness", "none", NULL), ARGS_RUN,
		     "%s", errtext);
	cr_assert_eq(r->edit_mask, RS_EDIT_READINESS);
	cr_assert_eq(rd->kind, RS_PK_NONE);
	ctl_cmd_clear(&c);
	cr_assert_eq(parse(&c, "edit", "web", "--startup", "tcp:[::1]:80",
			   "--probe-failures", "30", NULL), ARGS_RUN, "%s", errtext);
	cr_assert_eq(r->edit_mask, RS_EDIT_STARTUP, "no client-side bit is sent");
	cr_assert_eq(r->spec.probes[RS_PROBE_STARTUP].failures, 30);
	ctl_cmd_clear(&c);

	assert_usage("add --liveness, --readiness or --startup", "edit", "web",
		     "--probe-period", "1");
	assert_usage("--liveness: 'ftp://x/' is not", "up", "web", "--liveness", "ftp://x/",
		     "--", "/bin/web");
	assert_usage("numeric address", "up", "web", "--readiness", "tcp:db.local:5432",
		     "--", "/bin/web");
	assert_usage("--probe-header is for http probes", "up", "web", "--liveness",
		     "tcp:127.0.0.1:1", "--probe-header", "A: b", "--", "/bin/web");
	assert_usage("liveness probe: period", "up", "web", "--liveness",
		     "tcp:127.0.0.1:1", "--probe-period", "0.01", "--", "/bin/web");
	assert_usage("is not a status", "up", "web", "--liveness", "http://h/",
		     "--probe-status", "600", "--", "/bin/web");
}

/* top: the status request (rows, LABELs, --node) with its own frame
 * options; -d, -n, --sort checked here; status's -w, -o are not its */
Test(ctl_args, top)
{
	ctl_cmd c;

	cr_assert_eq(parse(&c, "top", NULL), ARGS_RUN, "%s", errtext);
	cr_assert(c.top);
	cr_assert_eq(c.req.u.request.verb, RS_V_STATUS);
	cr_assert(c.req.u.request.rows);
	cr_assert_eq(c.top_delay_ms, CTL_TOP_DELAY_MS);
	cr_assert_eq(c.top_frames, 0);
	cr_assert_eq(c.top_sort, CTL_TOP_CPU);
	ctl_cmd_clear(&c);
	cr_assert_eq(parse(&c, "top", "web", "--node", "n1", "-d", "0.5", "-n", "3",
			   "--sort", "mem", NULL), ARGS_RUN, "%s", errtext);
	cr_assert_eq(c.top_delay_ms, 500);
	cr_assert_eq(c.top_frames, 3);
	cr_assert_eq(c.top_sort, CTL_TOP_MEM);
	cr_assert_str_eq(c.req.u.request.node, "n1");
	cr_assert_str_eq(c.req.u.request.label, "web");
	ctl_cmd_clear(&c);
	cr_assert_eq(parse(&c, "top", "-n1", "--sort=tasks", "-d2", NULL), ARGS_RUN,
		     "%s", errtext);
	cr_assert_eq(c.top_frames, 1);
	cr_assert_eq(c.top_sort, CTL_TOP_TASKS);
	cr_assert_eq(c.top_delay_ms, 2000);
	ctl_cmd_clear(&c);
	/* status is not top */
	cr_assert_eq(parse(&c, "status", NULL), ARGS_RUN, "%s", errtext);
	cr_assert_not(c.top);
	ctl_cmd_clear(&c);
	assert_usage("--sort: 'disk' is not cpu, mem or tasks", "top", "--sort", "disk");
	assert_usage("-d: '0' is not SECONDS", "top", "-d", "0");
	assert_usage("-d: 'x' is not SECONDS", "top", "-d", "x");
	assert_usage("-n: '0' is not a count", "top", "-n", "0");
	assert_usage("-n: '-2' is not a count", "top", "-n", "-2");
	assert_usage("top prints a table", "--json", "top");
	assert_usage("unknown option '-w'", "top", "-w");
	assert_usage("unknown option '-o'", "top", "-o", "wide");
	assert_usage("unknown option '--state'", "top", "--state", "running");
	assert_usage("unknown option '-d'", "status", "-d", "1");
}
