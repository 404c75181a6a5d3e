/*
 * test_logs.c - captured output end to end (docs/design.md "Logs",
 * docs/cli.md "logs"): real rsd, rs-agent (its keeper writes the logs)
 * and rsctl. The keeper's rotation keeps both files under the bound and
 * loses no line; rsctl logs reads the rotated file too, prints times,
 * filters by time and by process (--previous), and -f says where the
 * instance restarted. Waits are on conditions.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "codes.h"
#include "harness.h"
#include "logline.h"

#define T_TIMEOUT 60
#define LOG_MAX   65536
#define BURST     2000   /* numbered lines, ~96 stored bytes each: ~3 x LOG_MAX */

static void setup_small(void)
{
	h_opts o = { .agents = 1, .alarm_s = 55,
		     .agent_arg = { NULL, "--log-max=65536" } };

	h_setup_opts(&o);
}

static void setup1(void) { h_setup(1); }
static void teardown(void) { h_teardown(); }

static const char *log_file(const char *label, uint64_t id, const char *suffix)
{
	char name[256];

	snprintf(name, sizeof name, "n1/logs/%s.%llu.log%s", label,
		 (unsigned long long)id, suffix);
	return h_path(name);
}

/* Waits until the file at path holds want. */
static void wait_file(const char *path, const char *want, int ms)
{
	cr_assert(h_wait_file_has(path, want, ms), "%s never held '%s'", path, want);
}

/* `rsctl logs LABEL` (+ extra) prints want. */
static bool logs_have_fn(void *arg)
{
	const char **w = arg;
	const h_res *r = w[2] ? h_rsctl("logs", w[0], "-n", "1000", w[2], NULL) :
			 h_rsctl("logs", w[0], "-n", "1000", NULL);

	return r->code == 0 && strstr(r->out, w[1]);
}

static void wait_logs(const char *label, const char *want)
{
	const char *w[] = { label, want, NULL };

	cr_assert(h_wait_until(logs_have_fn, w, 10000), "logs of %s never showed '%s'",
		  label, want);
}

/* Starts BURST numbered lines ("line 000001 ..."), then "done", then
 * waits for the last one in the log; returns the instance. */
static h_inst up_burst(void)
{
	const h_res *r;
	h_inst in;
	char script[512];

	snprintf(script, sizeof script,
		 "awk 'BEGIN { for (i = 1; i <= %d; i++) printf \"line %%06d "
		 "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz\\n\", i; "
		 "print \"done\" }'; exec sleep 1000", BURST);
	r = h_rsctl("up", "big", "--", "/bin/sh", "-c", script, NULL);
	assert_code(r, 0, "up");
	cr_assert(h_status_instance("big", &in));
	wait_file(log_file("big", in.id, ""), "] done\n", 20000);
	return in;
}

/* Checks that text (lines, stamped when stamped) is line k..BURST and
 * "done", consecutive; returns k. */
static int check_consecutive(const char *text, bool stamped)
{
	int want = -1, first = -1;
	const char *p = text;
	bool done = false;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		const char *t = p;
		logline l;
		int k;

		cr_assert(nl, "a line without its newline: '%.60s'", p);
		cr_assert_not(done, "a line after done: '%.60s'", p);
		if (stamped) {
			cr_assert(logline_parse(p, len, &l), "not stamped: '%.60s'", p);
			t = p + l.text;
		}
		if (strncmp(t, "done\n", 5) == 0) {
			done = true;
		} else {
			cr_assert_eq(sscanf(t, "line %d", &k), 1, "'%.60s'", t);
			if (want < 0)
				want = first = k;
			cr_assert_eq(k, want, "line %d where %d belongs: a line lost", k, want);
			want++;
		}
		p = nl + 1;
	}
	cr_assert(done, "no done line");
	cr_assert_eq(want, BURST + 1, "ends at line %d", want - 1);
	return first;
}

/* ---- rotation ------------------------------------------------------- */

Test(logs, rotation_keeps_the_bound_and_loses_no_line, .init = setup_small,
     .fini = teardown, .timeout = T_TIMEOUT)
{
	h_inst in = up_burst(), after;
	char *old, *cur, *both;
	size_t lold, lcur;
	struct stat st;
	int first;

	old = h_slurp(log_file("big", in.id, ".1"), &lold);
	cur = h_slurp(log_file("big", in.id, ""), &lcur);
	cr_assert_leq(lold, LOG_MAX, "LOG.1 has %zu bytes", lold);
	cr_assert_leq(lcur, LOG_MAX, "LOG has %zu bytes", lcur);
	cr_assert_gt(lold, LOG_MAX / 2, "LOG.1 (%zu bytes) was not filled", lold);
	cr_assert(stat(log_file("big", in.id, ".2"), &st) < 0, "a third file");
	both = malloc(lold + lcur + 1);
	cr_assert_not_null(both);
	memcpy(both, old, lold);
	memcpy(both + lold, cur, lcur + 1);
	first = check_consecutive(both, true);
	cr_assert_gt(first, 1, "the oldest lines are dropped by design");
	cr_assert(h_status_instance("big", &after) && after.pid == in.pid,
		  "rotation disturbed the service");
	free(old), free(cur), free(both);
	h_pass();
}

/* -n reads LOG.1 when LOG alone has fewer lines, and a tail longer than
 * one answer comes in pages. */
Test(logs, lines_across_the_rotation, .init = setup_small, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	h_inst in = up_burst();
	char *cur = h_slurp(log_file("big", in.id, ""), NULL), *old;
	const h_res *r;
	int in_cur = 0, n = 0;

	for (const char *p = cur; (p = strchr(p, '\n')); p++)
		in_cur++;
	cr_assert_lt(in_cur, 1000, "LOG alone has %d lines", in_cur);
	r = h_rsctl("logs", "big", "-n", "1000", NULL);
	assert_code(r, 0, "logs -n 1000");
	cr_assert_eq(check_consecutive(r->out, false), BURST - 998);
	/* everything kept: more than one answer's 64 KiB */
	r = h_rsctl("logs", "big", "-n", "100000", NULL);
	assert_code(r, 0, "logs -n 100000");
	cr_assert_gt(strlen(r->out), 64u << 10);
	for (const char *p = r->out; (p = strchr(p, '\n')); p++)
		n++;
	old = h_slurp(log_file("big", in.id, ".1"), NULL);
	for (const char *p = old; (p = strchr(p, '\n')); p++)
		in_cur++;
	cr_assert_eq(n, in_cur, "%d lines printed, %d kept", n, in_cur);
	check_consecutive(r->out, false);
	free(cur), free(old);
	h_pass();
}

/* ---- times ---------------------------------------------------------- */

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

Test(logs, timestamps_format_and_order, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	uint64_t t0 = wall_ms(), prev = 0;
	const char *want[] = { "one", "two", "three" };
	const h_res *r;
	const char *p;

	r = h_rsctl("up", "ts", "--", "/bin/sh", "-c",
		    "echo one; sleep 0.1; echo two; sleep 0.1; echo three; "
		    "exec sleep 1000", NULL);
	assert_code(r, 0, "up");
	wait_logs("ts", "three");
	r = h_rsctl("logs", "ts", "--timestamps", NULL);
	assert_code(r, 0, "logs --timestamps");
	p = r->out;
	for (int i = 0; i < 3; i++) {
		const char *nl = strchr(p, '\n');
		uint64_t ms;

		cr_assert(nl, "%d lines: '%s'", i, r->out);
		cr_assert_eq((size_t)(nl - p), LOGLINE_TIME_LEN + 1 + strlen(want[i]),
			     "'%.*s'", (int)(nl - p), p);
		cr_assert_eq(logline_parse_time(p, LOGLINE_TIME_LEN, &ms), 0,
			     "not RFC 3339 with ms: '%.*s'", (int)(nl - p), p);
		cr_assert_eq(p[LOGLINE_TIME_LEN], ' ');
		cr_assert_eq(strncmp(p + LOGLINE_TIME_LEN + 1, want[i], strlen(want[i])), 0);
		cr_assert_geq(ms + 5, t0, "a time before the start");
		cr_assert_leq(ms, wall_ms() + 5, "a time in the future");
		cr_assert_geq(ms, prev, "out of order");
		prev = ms;
		p = nl + 1;
	}
	cr_assert_str_eq(p, "");
	/* -t is the same; without it the text alone */
	assert_code(h_rsctl("logs", "ts", "-t", NULL), 0, "logs -t");
	r = h_rsctl("logs", "ts", NULL);
	cr_assert_str_eq(r->out, "one\ntwo\nthree\n");
	h_pass();
}

static bool second_passed_fn(void *arg)
{
	return wall_ms() >= *(uint64_t *)arg;
}

Test(logs, since_filters_by_time, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	char script[1400], since[64];
	uint64_t early, next_s;
	const h_res *r;
	time_t t;
	struct tm tm;

	snprintf(script, sizeof script,
		 "echo early; while [ ! -e %s ]; do sleep 0.05; done; echo late; "
		 "exec sleep 1000", h_path("go"));
	r = h_rsctl("up", "tick", "--", "/bin/sh", "-c", script, NULL);
	assert_code(r, 0, "up");
	wait_logs("tick", "early");
	r = h_rsctl("logs", "tick", "--timestamps", NULL);
	cr_assert_eq(logline_parse_time(r->out, LOGLINE_TIME_LEN, &early), 0, "%s", r->out);
	/* late is written in a later second than early (--since TIME has
	 * whole seconds) */
	next_s = (early / 1000 + 1) * 1000;
	cr_assert(h_wait_until(second_passed_fn, &next_s, 3000));
	fclose(fopen(h_path("go"), "w"));
	wait_logs("tick", "late");
	t = (time_t)(next_s / 1000);
	gmtime_r(&t, &tm);
	strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%SZ", &tm);
	r = h_rsctl("logs", "tick", "--since", since, NULL);
	assert_code(r, 0, "logs --since TIME");
	cr_assert_str_eq(r->out, "late\n", "--since %s: '%s'", since, r->out);
	r = h_rsctl("logs", "tick", "--since", "1h", NULL);
	assert_code(r, 0, "logs --since 1h");
	cr_assert_str_eq(r->out, "early\nlate\n");
	r = h_rsctl("logs", "tick", "--since", "2099-01-01T00:00:00Z", NULL);
	assert_code(r, 0, "logs --since the future");
	cr_assert_str_eq(r->out, "");
	assert_code(h_rsctl("logs", "tick", "--since", "yesterday", NULL), RS_E_USAGE,
		    "a --since that is no time");
	h_pass();
}

/* ---- restarts ------------------------------------------------------- */

struct wpid { const char *label; pid_t old; h_inst in; };

static bool restarted_fn(void *arg)
{
	struct wpid *w = arg;

	return h_status_instance(w->label, &w->in) && w->in.pid > 0 &&
	       w->in.pid != w->old && !strcmp(w->in.state, "running");
}

/* Kills LABEL's process (SIGKILL, a crash) and waits for the next one
 * and its "last PID" line; returns it. */
static h_inst crash(const char *label, pid_t pid)
{
	struct wpid w = { label, pid, { 0 } };
	char want[64];

	cr_assert_eq(kill(pid, SIGKILL), 0);
	cr_assert(h_wait_until(restarted_fn, &w, 10000), "%s not restarted", label);
	snprintf(want, sizeof want, "last %d\n", (int)w.in.pid);
	wait_logs(label, want);
	return w.in;
}

#define TWO_LINES "echo \"first $$\"; echo \"last $$\"; exec sleep 1000"

Test(logs, previous_shows_the_process_before_the_restart, .init = setup1,
     .fini = teardown, .timeout = T_TIMEOUT)
{
	char old_last[64], new_first[64], both[128];
	const h_res *r;
	h_inst a, b;

	r = h_rsctl("up", "web", "--", "/bin/sh", "-c", TWO_LINES, NULL);
	assert_code(r, 0, "up");
	cr_assert(h_status_instance("web", &a));
	snprintf(old_last, sizeof old_last, "last %d\n", (int)a.pid);
	wait_logs("web", old_last);
	/* no restart yet: no earlier process */
	r = h_rsctl("logs", "web", "--previous", NULL);
	assert_code(r, RS_E_NOENT, "--previous before any restart");
	cr_assert(strstr(r->err, "no output of an earlier process"), "%s", r->err);
	b = crash("web", a.pid);
	snprintf(new_first, sizeof new_first, "first %d\n", (int)b.pid);
	r = h_rsctl("logs", "web", "--previous", NULL);
	assert_code(r, 0, "logs --previous");
	snprintf(both, sizeof both, "first %d\nlast %d\n", (int)a.pid, (int)a.pid);
	cr_assert_str_eq(r->out, both, "--previous: '%s'", r->out);
	r = h_rsctl("logs", "web", "-p", "-n", "1", NULL);
	assert_code(r, 0, "logs -p -n 1");
	cr_assert_str_eq(r->out, old_last, "the old process's last line: '%s'", r->out);
	/* without it: both processes */
	r = h_rsctl("logs", "web", NULL);
	cr_assert(strstr(r->out, old_last) && strstr(r->out, new_first), "%s", r->out);
	assert_code(h_rsctl("logs", "web", "--previous", "-f", NULL), RS_E_USAGE,
		    "--previous with -f");
	h_pass();
}

Test(logs, follow_says_where_the_instance_restarted, .init = setup1,
     .fini = teardown, .timeout = T_TIMEOUT)
{
	char sep[160], old_last[64], new_last[64];
	const char *werr[2], *wout[2];
	const h_res *r;
	h_inst a, b;
	h_job *j;

	r = h_rsctl("up", "web", "--", "/bin/sh", "-c", TWO_LINES, NULL);
	assert_code(r, 0, "up");
	cr_assert(h_status_instance("web", &a));
	snprintf(old_last, sizeof old_last, "last %d\n", (int)a.pid);
	wait_logs("web", old_last);
	j = h_rsctl_start("logs", "web", "-f", NULL);   /* job-0 */
	wout[0] = h_path("job-0.out");
	wout[1] = old_last;
	cr_assert(h_wait_file_has(wout[0], wout[1], 10000), "the follower printed nothing");
	b = crash("web", a.pid);
	snprintf(sep, sizeof sep, "--- web/%llu restarted: pid %d -> %d ---\n",
		 (unsigned long long)a.id, (int)a.pid, (int)b.pid);
	werr[0] = h_path("job-0.err");
	werr[1] = sep;
	cr_assert(h_wait_file_has(werr[0], werr[1], 10000), "no separator '%s'", sep);
	snprintf(new_last, sizeof new_last, "last %d\n", (int)b.pid);
	wout[1] = new_last;
	cr_assert(h_wait_file_has(wout[0], wout[1], 10000),
		  "the follower stopped at the restart");
	cr_assert(h_job_running(j), "-f ended");
	r = h_job_wait(j, 100);   /* -f never ends by itself: killed */
	{
		char *err = h_slurp(werr[0], NULL);
		const char *once = strstr(err, sep);
		cr_assert(once && !strstr(once + strlen(sep), "restarted"),
			  "one separator: '%s'", err);
		free(err);
	}
	(void)r;
	h_pass();
}
