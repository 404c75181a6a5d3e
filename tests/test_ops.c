/*
 * test_ops.c - end-to-end tests of the MINIX RS requests beyond up/down:
 * refresh, restart, shutdown, edit, one operation per service at a time,
 * and rsd's answer to malformed control messages. Real rsd, rs-agent and
 * rsctl (tests/harness.c); waits are on conditions.
 */
#include <criterion/criterion.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codes.h"
#include "harness.h"
#include "msg.h"
#include "net.h"
#include "wire.h"

#define T_TIMEOUT 60

static void setup1(void) { h_setup(1); }
static void teardown(void) { h_teardown(); }

/* up LABEL -- notifysvc --ready ARGS..., asserting it runs; returns it. */
static h_inst up_svc(const char *label, const char *extra)
{
	const h_res *r;
	h_inst in;

	if (extra)
		r = h_rsctl("up", label, "--", h_notifysvc(), "--ready", extra, NULL);
	else
		r = h_rsctl("up", label, "--", h_notifysvc(), "--ready", NULL);
	assert_code(r, 0, "up");
	cr_assert(h_status_instance(label, &in) && in.pid > 0 && h_pid_alive(in.pid));
	return in;
}

struct w { const char *label; const char *state; h_inst in; };

static bool state_fn(void *arg)
{
	struct w *w = arg;

	return h_status_instance(w->label, &w->in) && !strcmp(w->in.state, w->state);
}

Test(ops, refresh_replaces_the_process, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	h_inst a = up_svc("web", NULL), b;
	const h_res *r = h_rsctl("refresh", "web", NULL);

	assert_code(r, 0, "refresh");
	cr_assert(h_status_instance("web", &b));
	cr_assert_str_eq(b.state, "running");
	cr_assert_neq(b.pid, a.pid, "refresh kept pid %d", (int)a.pid);
	cr_assert(h_pid_alive(b.pid));
	cr_assert(!h_pid_alive(a.pid), "old pid %d still alive", (int)a.pid);
	cr_assert_eq(b.restarts, 0, "a refresh is not a failure restart");
	cr_assert_str_eq(b.reason, "stopped");
	h_pass();
}

Test(ops, refresh_of_a_stopped_service_is_refused, .init = setup1,
     .fini = teardown, .timeout = T_TIMEOUT)
{
	up_svc("web", NULL);
	assert_code(h_rsctl("down", "web", NULL), 0, "down");
	const h_res *r = h_rsctl("refresh", "web", NULL);
	assert_code(r, RS_E_FAILED, "refresh of a down service");
	cr_assert(strstr(r->err, "restart"), "no hint to use restart: %s", r->err);
	assert_code(h_rsctl("refresh", "nosuch", NULL), RS_E_NOENT, "refresh nosuch");
	h_pass();
}

Test(ops, restart_terminated_only, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	h_inst a = up_svc("web", NULL), b;
	const h_res *r = h_rsctl("restart", "web", NULL);

	assert_code(r, RS_E_EXISTS, "restart of a running service");
	cr_assert(strstr(r->err, "refresh"), "no hint to use refresh: %s", r->err);
	cr_assert(h_status_instance("web", &b) && b.pid == a.pid,
		  "a refused restart touched the service");
	assert_code(h_rsctl("down", "web", NULL), 0, "down");
	assert_code(h_rsctl("restart", "web", NULL), 0, "restart of a down service");
	cr_assert(h_status_instance("web", &b));
	cr_assert_str_eq(b.state, "running");
	cr_assert(b.pid > 0 && b.pid != a.pid && h_pid_alive(b.pid));
	h_pass();
}

Test(ops, shutdown_then_status, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	h_inst a = up_svc("a", NULL), b = up_svc("b", NULL), x;
	const h_res *r = h_rsctl("shutdown", NULL);

	assert_code(r, 0, "shutdown");
	cr_assert(!h_pid_alive(a.pid) && !h_pid_alive(b.pid));
	r = h_rsctl("--json", "status", NULL);
	assert_code(r, 0, "status after shutdown");
	cr_assert(h_status_instance("a", &x));
	cr_assert_str_eq(x.desired, "down");
	cr_assert(!strcmp(x.state, "down") || !strcmp(x.state, "failed"),
		  "a is %s after shutdown", x.state);
	/* nothing comes back by itself: it is down, and stays down while we
	 * ask a few times (a restart would show a new live pid at once) */
	for (int i = 0; i < 5; i++) {
		cr_assert(h_status_instance("b", &x));
		cr_assert(x.pid == 0 || !h_pid_alive(x.pid), "b came back: pid %d", (int)x.pid);
	}
	assert_code(h_rsctl("ping", NULL), 0, "rsd still answers");
	h_pass();
}

Test(ops, second_operation_is_busy, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const h_res *r;
	struct w w = { .label = "slow", .state = "running" };

	/* ready only after 3 s: the up stays in progress meanwhile */
	r = h_rsctl("up", "slow", "--no-block", "--", h_notifysvc(), "--ready",
		    "--ready-delay", "3000", NULL);
	assert_code(r, 0, "up --no-block");
	/* (down cancels it instead: ops::down_cancels_a_pending_up) */
	r = h_rsctl("refresh", "slow", NULL);
	assert_code(r, RS_E_BUSY, "refresh while the up runs");
	cr_assert(strstr(r->err, "up"), "the refusal does not name the operation: %s", r->err);
	r = h_rsctl("edit", "slow", "--period", "5", NULL);
	assert_code(r, RS_E_BUSY, "edit while the up runs");
	cr_assert(h_wait_until(state_fn, &w, 15000), "slow never became running");
	assert_code(h_rsctl("down", "slow", NULL), 0, "down once the up is done");
	h_pass();
}

Test(ops, edit_persists_across_rsd_restart, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	h_inst a = up_svc("web", NULL), b;
	const h_res *r;
	json_t *j, *svc;

	r = h_rsctl("edit", "web", "--period", "2.5", "--restart-policy",
		    "on-failure", "--env", "COLOR=blue", NULL);
	assert_code(r, 0, "edit");
	cr_assert(h_status_instance("web", &b) && b.pid == a.pid,
		  "edit restarted the service");
	assert_code(h_rsctl("edit", "web", NULL), RS_E_USAGE, "edit without changes");
	assert_code(h_rsctl("edit", "web", "--stop-signal", "0", NULL), RS_E_USAGE,
		    "edit to an invalid signal");
	assert_code(h_rsctl("edit", "nosuch", "--period", "1", NULL), RS_E_NOENT,
		    "edit nosuch");

	h_kill_rsd(SIGKILL);
	h_restart_rsd();
	r = h_rsctl("--json", "status", "web", NULL);
	assert_code(r, 0, "status after rsd restart");
	j = h_json(r);
	cr_assert_not_null(j);
	svc = json_array_get(json_object_get(j, "services"), 0);
	cr_assert_eq(json_integer_value(json_object_get(svc, "period_ms")), 2500);
	cr_assert_str_eq(json_string_value(json_object_get(svc, "restart_policy")),
			 "on-failure");
	cr_assert(h_status_instance("web", &b) && b.pid == a.pid,
		  "rsd restart restarted the service");
	h_pass();
}

/* Sends raw bytes to rsd's control endpoint; returns the reply's code, or
 * a negative errno. */
static int raw_call(const void *buf, size_t len)
{
	uint8_t *rep = NULL;
	size_t replen = 0;
	rs_msg m;
	int r = net_call(h_control_ep(), h_curve(), buf, len, 5000, &rep, &replen);

	if (r < 0)
		return r;
	r = wire_decode(rep, replen, &m);
	free(rep);
	if (r < 0)
		return -1000 + r;
	r = m.type == RS_MSG_REPLY ? m.u.reply.code : -2000;
	rs_msg_clear(&m);
	return r;
}

Test(ops, malformed_control_messages_rejected, .init = setup1,
     .fini = teardown, .timeout = T_TIMEOUT)
{
	h_inst a = up_svc("web", NULL), b;
	uint8_t junk[512];
	rs_msg m;
	uint8_t *buf;
	size_t len;

	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (uint8_t)(i * 131 + 7);
	cr_assert_eq(raw_call(junk, sizeof junk), RS_E_INVAL);
	cr_assert_eq(raw_call("", 0), RS_E_INVAL);
	/* a well-formed message of a type clients must not send */
	rs_msg_init(&m, RS_MSG_BEAT);
	cr_assert_eq(wire_encode(&m, &buf, &len), 0);
	rs_msg_clear(&m);
	cr_assert_eq(raw_call(buf, len), RS_E_INVAL);
	free(buf);
	/* an up whose spec is invalid (no command) */
	rs_msg_init(&m, RS_MSG_REQUEST);
	m.u.request.verb = RS_V_UP;
	strcpy(m.u.request.label, "x");
	strcpy(m.u.request.spec.label, "x");
	cr_assert_eq(wire_encode(&m, &buf, &len), 0);
	rs_msg_clear(&m);
	cr_assert_eq(raw_call(buf, len), RS_E_INVAL);
	free(buf);
	/* rsd is alive and the service untouched */
	cr_assert_eq(h_rsctl("ping", NULL)->code, 0);
	cr_assert(h_status_instance("web", &b) && b.pid == a.pid);
	net_shutdown();
	h_pass();
}

/* Writes an executable recovery script into the temp dir that runs
 * `rsctl -s EP VERB LABEL` and records its arguments; returns its path. */
static const char *write_script(const char *name, const char *verb)
{
	const char *path = h_path(name);
	char bin[600];
	FILE *f = fopen(path, "w");

	/* rsctl sits next to the test helper: BIN/tests/notifysvc */
	snprintf(bin, sizeof bin, "%s", h_notifysvc());
	*strrchr(bin, '/') = '\0';
	*strrchr(bin, '/') = '\0';
	cr_assert_not_null(f);
	fprintf(f, "#!/bin/sh\necho \"args: $1 $2 $3\"\necho \"$1 $2 $3\" > %s.args\n"
		"exec %s/ctl/rsctl -s \"$RS_CONTROL\" %s \"$1\"\n",
		path, bin, verb);
	fclose(f);
	chmod(path, 0755);
	return path;
}

struct wscript { const char *args_path; char args[128]; };

static bool args_fn(void *arg)
{
	struct wscript *w = arg;
	FILE *f = fopen(w->args_path, "r");

	if (!f)
		return false;
	w->args[0] = '\0';
	if (!fgets(w->args, sizeof w->args, f))
		w->args[0] = '\0';
	fclose(f);
	return w->args[0] != '\0';
}

Test(ops, script_that_restarts, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const char *script = write_script("restart.sh", "restart");
	char args_path[600];
	struct wscript ws = { args_path, "" };
	struct w w = { .label = "web", .state = "running" };
	const h_res *r;
	h_inst a, b;

	snprintf(args_path, sizeof args_path, "%s.args", script);
	r = h_rsctl("up", "web", "--script", script, "--", h_notifysvc(), "--ready", NULL);
	assert_code(r, 0, "up --script");
	cr_assert(h_status_instance("web", &a) && a.pid > 0);
	kill(a.pid, SIGKILL);
	cr_assert(h_wait_until(args_fn, &ws, 15000), "the script never ran");
	cr_assert_str_eq(ws.args, "web restart 1\n");
	/* the script's rsctl restart brings it back, with a new pid */
	for (int i = 0; i < 750; i++) {
		if (h_wait_until(state_fn, &w, 20) && w.in.pid != a.pid)
			break;
	}
	cr_assert(h_status_instance("web", &b));
	cr_assert_str_eq(b.state, "running");
	cr_assert(b.pid != a.pid && h_pid_alive(b.pid));
	cr_assert_eq(b.restarts, 1);
	h_pass();
}

static bool down_fn(void *arg)
{
	h_inst in;

	return h_status_instance(arg, &in) && !strcmp(in.desired, "down") &&
	       (in.pid == 0 || !h_pid_alive(in.pid));
}

Test(ops, script_that_downs, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const char *script = write_script("down.sh", "down");
	char args_path[600];
	struct wscript ws = { args_path, "" };
	const h_res *r;
	h_inst a, b;

	snprintf(args_path, sizeof args_path, "%s.args", script);
	r = h_rsctl("up", "web", "--period", "0.3", "--script", script, "--",
		    h_notifysvc(), "--ready", "--watchdog", "100",
		    "--watchdog-stop-after", "500", NULL);
	assert_code(r, 0, "up --script --period");
	cr_assert(h_status_instance("web", &a) && a.pid > 0);
	cr_assert(h_wait_until(args_fn, &ws, 15000), "the script never ran");
	cr_assert_str_eq(ws.args, "web no-heartbeat 1\n");
	cr_assert(h_wait_until(down_fn, (void *)"web", 15000), "the script's down did not happen");
	cr_assert(h_status_instance("web", &b));
	cr_assert(!h_pid_alive(a.pid));
	h_pass();
}

Test(ops, critical_needs_force, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const h_res *r;
	h_inst a;
	json_t *j, *e;
	size_t i;
	bool critical = false;

	r = h_rsctl("up", "core", "--critical", "--restart", "never", "--",
		    h_notifysvc(), "--ready", NULL);
	assert_code(r, 0, "up --critical");
	r = h_rsctl("down", "core", NULL);
	assert_code(r, RS_E_INVAL, "down of a critical service");
	cr_assert(strstr(r->err, "--force"), "%s", r->err);
	cr_assert(h_status_instance("core", &a) && h_pid_alive(a.pid));
	kill(a.pid, SIGKILL);   /* policy never: it fails for good */
	for (int k = 0; k < 500 && !critical; k++) {
		r = h_rsctl("--json", "events", "core", NULL);
		j = h_json(r);
		json_array_foreach(json_object_get(j, "events"), i, e)
			if (!strcmp(json_string_value(json_object_get(e, "kind")), "critical"))
				critical = true;
	}
	cr_assert(critical, "no critical event after the failure");
	assert_code(h_rsctl("down", "core", "--force", NULL), 0, "down --force");
	h_pass();
}

/* A service that ignores its stop signal: down kills it after its stop
 * timeout and says so, in the answer and in the down event. */
Test(ops, down_says_sigkill, .init = setup1, .fini = teardown, .timeout = T_TIMEOUT)
{
	const h_res *r;
	h_inst a;
	json_t *j, *e;
	size_t i;
	bool said = false;

	/* SIG_IGN survives exec: sleep ignores SIGTERM */
	r = h_rsctl("up", "stubborn", "--stop-timeout", "0.5", "--", "/bin/sh", "-c",
		    "trap '' TERM; exec sleep 1000", NULL);
	assert_code(r, 0, "up stubborn");
	cr_assert(h_status_instance("stubborn", &a) && h_pid_alive(a.pid));
	r = h_rsctl("down", "stubborn", NULL);
	assert_code(r, 0, "down stubborn");
	cr_assert(strstr(r->out, "stubborn is down: stopped with SIGKILL after 0.5 s "
			 "(signal 15 did not stop it)"), "the answer: %s", r->out);
	cr_assert_not(h_pid_alive(a.pid));
	r = h_rsctl("--json", "events", "stubborn", NULL);
	j = h_json(r);
	json_array_foreach(json_object_get(j, "events"), i, e)
		if (!strcmp(json_string_value(json_object_get(e, "kind")), "down") &&
		    strstr(json_string_value(json_object_get(e, "detail")),
			   "stopped with SIGKILL after 0.5 s"))
			said = true;
	cr_assert(said, "no down event saying SIGKILL: %s", r->out);
	/* one that stops on its signal is just down */
	r = h_rsctl("up", "polite", "--", "/bin/sleep", "1000", NULL);
	assert_code(r, 0, "up polite");
	r = h_rsctl("down", "polite", NULL);
	assert_code(r, 0, "down polite");
	cr_assert_not(strstr(r->out, "SIGKILL"), "%s", r->out);
	h_pass();
}

/* What a file holds now ("" if nothing). */
static char *file_text(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	char chunk[4096];
	size_t k;

	cr_assert_not_null(m);
	while (f && (k = fread(chunk, 1, sizeof chunk, f)) > 0)
		fwrite(chunk, 1, k, m);
	if (f)
		fclose(f);
	fclose(m);
	return buf;
}

struct watch_want { const char *path; const char *a, *b; int frames; };

/* The watch printed at least w->frames frames, the last one with a and b. */
static bool watch_shows(void *arg)
{
	struct watch_want *w = arg;
	char *t = file_text(w->path), *last = t, *p;
	int frames = 0;
	bool ok;

	for (p = t; (p = strstr(p, "--- ")); p++, frames++)
		last = p;
	ok = frames >= w->frames && strstr(last, w->a) && (!w->b || strstr(last, w->b));
	free(t);
	return ok;
}

struct log_want { const char *text; };

/* rsd's log holds w->text. */
static bool rsd_log_says(void *arg)
{
	struct log_want *w = arg;
	char *t = file_text(h_path("rsd.log"));
	bool ok = strstr(t, w->text) != NULL;

	free(t);
	return ok;
}

/* After rsd's restart its log says when its start has settled: every
 * node back and no instance on its way. While a node is not back (its
 * agent down; its keeper keeps web running) rsd warns that it has not
 * settled, and says it has once the agent returns with web's pid. */
Test(ops, rsd_says_when_its_start_settled, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	h_inst a = up_svc("web", NULL), b;
	struct log_want late = { "rsd's start has not settled 1 s after the store "
				 "was loaded: nodes not back yet 1; instances on "
				 "their way 0 of 1" };
	struct log_want settled = { "rsd's start has settled: 1 of the 1 instances "
				    "running, none on its way" };

	h_kill_agent(1, SIGKILL);
	h_kill_rsd(SIGKILL);
	setenv("RS_SETTLE_LATE_MS", "1000", 1);
	h_restart_rsd();
	cr_assert(h_wait_until(rsd_log_says, &late, 15000),
		  "rsd did not warn that its start had not settled");
	cr_assert_not(rsd_log_says(&settled), "settled with its node not back");
	h_restart_agent(1);
	cr_assert(h_wait_until(rsd_log_says, &settled, 15000),
		  "rsd did not say its start settled");
	cr_assert(h_status_instance("web", &b) && b.pid == a.pid, "web was restarted");
	h_pass();
}

/* status --watch (not a terminal): a frame, then a new one when the
 * service changes (a crash: restarts 1); SIGINT ends it with exit 0.
 * -o wide: the instance id and start time. */
Test(ops, status_watch_and_wide, .init = setup1, .fini = teardown, .timeout = T_TIMEOUT)
{
	const h_res *r;
	h_inst a;
	h_job *j;
	struct watch_want w = { 0 };

	assert_code(h_rsctl("up", "web", "--", "/bin/sleep", "1000", NULL), 0, "up web");
	cr_assert(h_status_instance("web", &a));
	j = h_rsctl_start("status", "web", "--watch", NULL);
	w.path = h_job_out(j);
	w.a = "running";
	w.frames = 1;
	cr_assert(h_wait_until(watch_shows, &w, 10000), "no first frame: %s",
		  file_text(w.path));
	kill(a.pid, SIGKILL);
	w.a = "signaled KILL";
	w.frames = 2;
	cr_assert(h_wait_until(watch_shows, &w, 10000), "no frame after the crash: %s",
		  file_text(w.path));
	kill(h_job_pid(j), SIGINT);
	r = h_job_wait(j, 5000);
	assert_code(r, 0, "status --watch after SIGINT");

	r = h_rsctl("status", "web", "-o", "wide", NULL);
	assert_code(r, 0, "status -o wide");
	cr_assert(strstr(r->out, "INSTANCE") && strstr(r->out, "STARTED"), "%s", r->out);
	/* the start time, then the usage columns (0.3: tests/usage.sh) */
	cr_assert(strstr(r->out, "STARTED  ") && strstr(r->out, "  CPU  ") &&
		  strstr(r->out, "  MEM  ") && strstr(r->out, "  PEAK  ") &&
		  strstr(r->out, "  TASKS\n"), "%s", r->out);
	cr_assert(strstr(r->out, "Z  "), "no start time: %s", r->out);
	r = h_rsctl("status", "web", NULL);
	cr_assert_not(strstr(r->out, "INSTANCE"), "%s", r->out);
	h_pass();
}

static void setup2(void) { h_setup(2); }

struct wlookup { pid_t want; };

/* lookup names the pid we expect. */
static bool lookup_fn(void *arg)
{
	struct wlookup *w = arg;
	const h_res *r = h_rsctl("--json", "lookup", "web", NULL);
	json_t *j = h_json(r);

	return r->code == 0 && j &&
	       json_integer_value(json_object_get(j, "pid")) == w->want;
}

static bool two_running_fn(void *arg)
{
	const h_res *r = h_rsctl("--json", "status", "web", NULL);
	json_t *j = h_json(r), *svc, *in;
	size_t i;
	int running = 0, standby = 0;

	if (r->code || !j)
		return false;
	svc = json_array_get(json_object_get(j, "services"), 0);
	json_array_foreach(json_object_get(svc, "instances"), i, in) {
		running += !strcmp(json_string_value(json_object_get(in, "state")), "running");
		standby += !strcmp(json_string_value(json_object_get(in, "role")), "standby");
		h_track_pid((pid_t)json_integer_value(json_object_get(in, "pid")));
	}
	return running == 2 && standby == 1;
}

Test(ops, clone_switch_over, .init = setup2, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const h_res *r;
	json_t *j;
	pid_t active, standby;
	struct wlookup w;
	int64_t t0, dt;

	r = h_rsctl("up", "web", "--node", "n1", "--", h_notifysvc(), "--ready", NULL);
	assert_code(r, 0, "up");
	r = h_rsctl("--json", "clone", "web", NULL);
	assert_code(r, 0, "clone");
	j = h_json(r);
	cr_assert_str_eq(json_string_value(json_object_get(j, "node")), "n2",
			 "the standby should go to the other node");
	standby = (pid_t)json_integer_value(json_object_get(j, "pid"));
	h_track_pid(standby);
	cr_assert(h_pid_alive(standby));
	assert_code(h_rsctl("clone", "web", NULL), RS_E_EXISTS, "second clone");
	j = h_json(h_rsctl("--json", "lookup", "web", NULL));
	active = (pid_t)json_integer_value(json_object_get(j, "pid"));
	cr_assert_neq(active, standby);

	/* kill the active: the standby takes over */
	t0 = h_now_ms();
	kill(active, SIGKILL);
	w.want = standby;
	cr_assert(h_wait_until(lookup_fn, &w, 10000), "lookup never named the standby");
	dt = h_now_ms() - t0;
	fprintf(stderr, "clone switch-over: lookup names the standby %lld ms after SIGKILL "
		"(includes rsctl polls every 20 ms)\n", (long long)dt);
	/* and a new standby is made: the old instance, restarted */
	cr_assert(h_wait_until(two_running_fn, NULL, 15000), "no new standby");
	assert_code(h_rsctl("unclone", "web", NULL), 0, "unclone");
	assert_code(h_rsctl("unclone", "web", NULL), RS_E_FAILED, "unclone without a standby");
	h_pass();
}

Test(ops, ready_timeout_is_a_failed_init, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const h_res *r;
	h_inst in;
	int64_t t0 = h_now_ms();

	/* speaks sd_notify (STATUS=) but never READY=1 */
	r = h_rsctl("up", "slow", "--notify", "notify", "--ready-timeout", "1", "--",
		    h_notifysvc(), "--status", "loading", NULL);
	assert_code(r, RS_E_FAILED, "up of a service that never gets ready");
	cr_assert(strstr(r->err, "ready-timeout"), "%s", r->err);
	cr_assert_geq(h_now_ms() - t0, 1000);
	/* the default policy retries it with the backoff */
	cr_assert(strstr(r->err, "retried with the backoff"), "%s", r->err);
	cr_assert(h_status_instance("slow", &in));
	cr_assert_str_eq(in.reason, "ready-timeout");
	cr_assert(strcmp(in.state, "failed") != 0, "not retried: %s", in.state);
	assert_code(h_rsctl("down", "slow", NULL), 0, "down of the retried service");
	/* --restart never: the ready timeout is final */
	r = h_rsctl("up", "slow2", "--restart", "never", "--notify", "notify",
		    "--ready-timeout", "1", "--", h_notifysvc(), "--status", "loading", NULL);
	assert_code(r, RS_E_FAILED, "up --restart never of a service never ready");
	cr_assert(h_status_instance("slow2", &in));
	cr_assert_str_eq(in.state, "failed");
	cr_assert_str_eq(in.reason, "ready-timeout");
	cr_assert(in.pid == 0 || !h_pid_alive(in.pid));
	h_pass();
}

struct wpol { const char *label; const char *state; int restarts; h_inst in; };

static bool pol_fn(void *arg)
{
	struct wpol *w = arg;

	/* in backoff, any later crash of the streak is as good */
	return h_status_instance(w->label, &w->in) && !strcmp(w->in.state, w->state) &&
	       (w->in.restarts == w->restarts ||
		(!strcmp(w->state, "backoff") && w->in.restarts >= w->restarts));
}

Test(ops, restart_policies, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const h_res *r;
	struct wpol w;

	/* never: a crash after ready is final */
	r = h_rsctl("up", "never", "--restart", "never", "--", h_notifysvc(),
		    "--ready", "--exit-after", "300", "3", NULL);
	assert_code(r, 0, "up never");
	w = (struct wpol){ "never", "failed", 0, { 0 } };
	cr_assert(h_wait_until(pol_fn, &w, 10000), "never: state %s restarts %d",
		  w.in.state, w.in.restarts);
	cr_assert_eq(w.in.exit_code, 3);
	/* on-failure: exit 0 is done, not restarted */
	r = h_rsctl("up", "onf0", "--restart", "on-failure", "--", h_notifysvc(),
		    "--ready", "--exit-after", "300", "0", NULL);
	assert_code(r, 0, "up on-failure 0");
	w = (struct wpol){ "onf0", "down", 0, { 0 } };
	cr_assert(h_wait_until(pol_fn, &w, 10000), "on-failure/0: state %s restarts %d",
		  w.in.state, w.in.restarts);
	/* on-failure: exit 1 is restarted (at once: first of a streak) */
	r = h_rsctl("up", "onf1", "--restart", "on-failure", "--", h_notifysvc(),
		    "--ready", "--exit-after", "300", "1", NULL);
	assert_code(r, 0, "up on-failure 1");
	w = (struct wpol){ "onf1", "running", 1, { 0 } };
	cr_assert(h_wait_until(pol_fn, &w, 10000), "on-failure/1: state %s restarts %d",
		  w.in.state, w.in.restarts);
	/* always: exit 0 is restarted too; the 2nd crash in a row backs off */
	r = h_rsctl("up", "alw", "--backoff-initial", "0.5", "--", h_notifysvc(),
		    "--ready", "--exit-after", "200", "0", NULL);
	assert_code(r, 0, "up always");
	w = (struct wpol){ "alw", "backoff", 2, { 0 } };
	cr_assert(h_wait_until(pol_fn, &w, 10000), "always: state %s restarts %d",
		  w.in.state, w.in.restarts);
	assert_code(h_rsctl("down", "alw", NULL), 0, "down during backoff");
	h_pass();
}

static bool status_hi_fn(void *arg)
{
	h_inst in;

	return h_status_instance("sdn", &in) && !strcmp(in.status, "hi from systemd-notify");
}

/* A service that already speaks sd_notify through systemd's own tool works
 * unchanged: READY=1 (required here, so settling cannot fake it), STATUS=. */
Test(ops, systemd_notify_works_unchanged, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const h_res *r;
	h_inst in;

	if (access("/usr/bin/systemd-notify", X_OK) != 0)
		cr_skip_test("systemd-notify is not installed");
	r = h_rsctl("up", "sdn", "--notify", "notify", "--ready-timeout", "10", "--",
		    "/bin/sh", "-c",
		    "sleep 0.2; systemd-notify --ready --status='hi from systemd-notify'; "
		    "exec sleep 1000", NULL);
	assert_code(r, 0, "up of a systemd-notify service");
	cr_assert(h_status_instance("sdn", &in));
	cr_assert_str_eq(in.state, "running");
	cr_assert(h_wait_until(status_hi_fn, NULL, 5000), "STATUS= not shown");
	h_pass();
}

static bool inner_status_fn(void *arg)
{
	h_inst in;

	return h_status_instance("inner", &in) && strstr(in.status, "serving control");
}

/* rs's own daemons speak sd_notify to their supervisor (systemd
 * Type=notify, or rs itself): an rsd supervised by an rs-agent becomes
 * ready by READY=1 and reports its STATUS=. */
Test(ops, rsd_is_an_sd_notify_service, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	char rsd[600], db[600];
	const h_res *r;
	h_inst in;

	snprintf(rsd, sizeof rsd, "%s", h_notifysvc());
	*strrchr(rsd, '/') = '\0';
	*strrchr(rsd, '/') = '\0';
	strcat(rsd, "/rsd/rsd");
	/* its own folder: rsd keeps its keys beside its database */
	cr_assert(mkdir(h_path("inner"), 0700) == 0);
	snprintf(db, sizeof db, "%s", h_path("inner/inner.db"));
	r = h_rsctl("up", "inner", "--notify", "notify", "--", rsd, "--db", db,
		    "--control", "tcp://127.0.0.1:*", "--agents", "tcp://127.0.0.1:*", NULL);
	assert_code(r, 0, "up of an rsd under rs");
	cr_assert(h_status_instance("inner", &in));
	cr_assert_str_eq(in.state, "running");
	cr_assert(h_wait_until(inner_status_fn, NULL, 5000), "no STATUS= from the inner rsd");
	assert_code(h_rsctl("down", "inner", NULL), 0, "down of the inner rsd");
	h_pass();
}

/* ---- logs ------------------------------------------------------------- */

static bool has_line_fn(void *arg)
{
	const char **want = arg;
	const h_res *r = h_rsctl("logs", want[0], "-n", "20", NULL);

	return r->code == 0 && strstr(r->out, want[1]);
}

Test(ops, logs_of_running_and_crashed, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const char *w1[] = { "talk", "hello 3" };
	const h_res *r;
	h_inst a;

	r = h_rsctl("up", "talk", "--restart", "never", "--", "/bin/sh", "-c",
		    "for i in 1 2 3; do echo \"hello $i\"; done; echo oops >&2; "
		    "exec sleep 1000", NULL);
	assert_code(r, 0, "up");
	cr_assert(h_wait_until(has_line_fn, w1, 10000), "no output in logs");
	r = h_rsctl("logs", "talk", "-n", "2", NULL);
	assert_code(r, 0, "logs -n 2");
	cr_assert_str_eq(r->out, "hello 3\noops\n", "tail of 2 lines: '%s'", r->out);
	/* crashed (policy never: failed) - its last lines are still there */
	cr_assert(h_status_instance("talk", &a));
	kill(a.pid, SIGKILL);
	for (int i = 0; i < 500; i++) {
		h_inst x;
		if (h_status_instance("talk", &x) && !strcmp(x.state, "failed"))
			break;
	}
	r = h_rsctl("logs", "talk", "-n", "1", NULL);
	assert_code(r, 0, "logs of a crashed instance");
	cr_assert_str_eq(r->out, "oops\n");
	assert_code(h_rsctl("logs", "nosuch", NULL), RS_E_NOENT, "logs nosuch");
	assert_code(h_rsctl("logs", "talk", "--instance", "999", NULL), RS_E_NOENT,
		    "logs of an unknown instance");
	h_pass();
}

Test(ops, logs_follow_shows_new_lines, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const char *w[] = { "tick", "tick 1" };
	char marker[600];
	const h_res *r;
	h_job *j;

	snprintf(marker, sizeof marker, "%s", h_path("go"));
	{
		char script[1400];
		snprintf(script, sizeof script,
			 "echo 'tick 1'; while [ ! -e %s ]; do sleep 0.05; done; "
			 "echo 'written later'; exec sleep 1000", marker);
		r = h_rsctl("up", "tick", "--", "/bin/sh", "-c", script, NULL);
	}
	assert_code(r, 0, "up");
	cr_assert(h_wait_until(has_line_fn, w, 10000));
	j = h_rsctl_start("logs", "tick", "-n", "5", "-f", NULL);
	/* the follower is running: now the service writes a new line */
	FILE *f = fopen(marker, "w");
	cr_assert_not_null(f);
	fclose(f);
	w[1] = "written later";
	cr_assert(h_wait_until(has_line_fn, w, 10000), "the service never wrote it");
	r = h_job_wait(j, 3000);   /* -f never ends by itself: killed */
	cr_assert(r->timed_out);
	cr_assert(strstr(r->out, "tick 1\n"), "follow output: '%s'", r->out);
	cr_assert(strstr(r->out, "written later\n"), "follow missed the new line: '%s'", r->out);
	h_pass();
}

struct wrot { const char *dir; long main_size; long old_size; };

/* the burst is all written: LOG ends with its last line */
static bool rotated_fn(void *arg)
{
	struct wrot *w = arg;
	char path[700], tail[16] = "";
	struct stat st;
	FILE *f;

	snprintf(path, sizeof path, "%s/logs/big.1.log.1", w->dir);
	if (stat(path, &st) < 0)
		return false;
	w->old_size = (long)st.st_size;
	snprintf(path, sizeof path, "%s/logs/big.1.log", w->dir);
	if (stat(path, &st) < 0 || st.st_size < 7 || !(f = fopen(path, "r")))
		return false;
	w->main_size = (long)st.st_size;
	if (fseek(f, -7, SEEK_END) == 0 && !fgets(tail, sizeof tail, f))
		tail[0] = '\0';
	fclose(f);
	return strcmp(tail, " after\n") == 0;
}

/* The keeper rotates by rename before a line would pass the default
 * 8 MiB (tests/test_logs.c checks the lines themselves). */
Test(ops, log_rotation_keeps_the_bound, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	char dir[600];
	struct wrot w = { dir, 0, 0 };
	const h_res *r;
	h_inst a, b;

	snprintf(dir, sizeof dir, "%s/n1", h_tmpdir());
	/* 10 MB in one burst (one line: stored as lines of 16 KiB), over the
	 * default 8 MiB bound */
	r = h_rsctl("up", "big", "--", "/bin/sh", "-c",
		    "head -c 10000000 /dev/zero | tr '\\000' x; echo; echo after; "
		    "exec sleep 1000", NULL);
	assert_code(r, 0, "up");
	cr_assert(h_status_instance("big", &a));
	cr_assert(h_wait_until(rotated_fn, &w, 20000), "not rotated: main %ld old %ld",
		  w.main_size, w.old_size);
	cr_assert_leq(w.old_size, 8l << 20);
	cr_assert_gt(w.old_size, 7l << 20);
	cr_assert_leq(w.main_size, 8l << 20);
	cr_assert_gt(w.old_size + w.main_size, 10000000l);
	cr_assert(h_status_instance("big", &b) && b.pid == a.pid,
		  "rotation disturbed the service");
	h_pass();
}

/* ---- node loss -------------------------------------------------------- */

static void setup2_ttl2(void)
{
	h_opts o = { .agents = 2, .node_ttl = "2", .alarm_s = 50 };

	h_setup_opts(&o);
}

struct wmove { const char *node; h_inst in; };

static bool moved_fn(void *arg)
{
	struct wmove *w = arg;

	return h_status_instance("web", &w->in) && !strcmp(w->in.node, w->node) &&
	       !strcmp(w->in.state, "running") && h_pid_alive(w->in.pid);
}

struct wdead { pid_t pid; };

static bool dead_fn(void *arg)
{
	return !h_pid_alive(((struct wdead *)arg)->pid);
}

/* A node that stops heartbeating (its agent frozen with SIGSTOP: the
 * service there keeps running, as in a partition) is lost after the TTL;
 * its instance is rescheduled on the other node; when the node comes back
 * the copy it still runs is stopped, so the instance runs exactly once. */
Test(ops, node_loss_reschedules_then_no_duplicate, .init = setup2_ttl2,
     .fini = teardown, .timeout = T_TIMEOUT)
{
	struct wmove w = { .node = "n2" };
	struct wdead dw;
	const h_res *r;
	h_inst a;
	int64_t t0, dt;

	r = h_rsctl("up", "web", "--", h_notifysvc(), "--ready", NULL);
	assert_code(r, 0, "up");
	cr_assert(h_status_instance("web", &a));
	cr_assert_str_eq(a.node, "n1", "placement: the first of two empty nodes");
	cr_assert_eq(kill(h_agent_pid(1), SIGSTOP), 0);
	t0 = h_now_ms();
	cr_assert(h_wait_until(moved_fn, &w, 20000), "not rescheduled to n2: %s on %s",
		  w.in.state, w.in.node);
	dt = h_now_ms() - t0;
	fprintf(stderr, "node loss (TTL 2 s): detected and rescheduled, running on n2 "
		"%lld ms after the agent froze\n", (long long)dt);
	cr_assert_eq(w.in.id, a.id, "the instance moved, it was not duplicated");
	cr_assert(h_pid_alive(a.pid), "the partitioned copy should still run meanwhile");
	cr_assert_eq(kill(h_agent_pid(1), SIGCONT), 0);
	dw.pid = a.pid;
	cr_assert(h_wait_until(dead_fn, &dw, 15000),
		  "the duplicate on n1 (pid %d) was not stopped", (int)a.pid);
	cr_assert(h_status_instance("web", &a));
	cr_assert_str_eq(a.node, "n2");
	cr_assert_str_eq(a.state, "running");
	cr_assert(h_pid_alive(a.pid));
	h_pass();
}

static bool crash_tail_fn(void *arg)
{
	const h_res *r = h_rsctl("--json", "events", "sayer", NULL);

	return r->code == 0 && strstr(r->out, "last output: one | two | three about to crash");
}

/* The crash event carries the last lines the instance wrote. */
Test(ops, crash_event_carries_last_lines, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	char cmd[2000], flag[600];

	snprintf(flag, sizeof flag, "%s", h_path("crashed-once"));
	snprintf(cmd, sizeof cmd, "echo zero; echo one; echo two; "
		 "echo 'three about to crash' >&2; [ -e %s ] && exec sleep 1000; "
		 "touch %s; sleep 0.3; exit 7", flag, flag);
	assert_code(h_rsctl("up", "sayer", "--settle", "0.1", "--", "/bin/sh", "-c", cmd, NULL),
		    0, "up");
	cr_assert(h_wait_until(crash_tail_fn, NULL, 10000), "no exited event with the last lines");
	h_pass();
}

/* ---- manifests -------------------------------------------------------- */

/* seq of the first event of `kind` for label, 0 if none */
static long long event_seq(const char *label, const char *kind)
{
	json_t *j = h_json(h_rsctl("--json", "events", label, "-n", "200", NULL)), *e;
	size_t i;

	json_array_foreach(json_object_get(j, "events"), i, e)
		if (!strcmp(json_string_value(json_object_get(e, "kind")), kind))
			return json_integer_value(json_object_get(e, "seq"));
	return 0;
}

Test(ops, apply_converges_in_dependency_order, .init = setup2, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	char yaml[2000];
	const char *path;
	const h_res *r;
	json_t *j;
	h_inst in;

	snprintf(yaml, sizeof yaml,
		 "services:\n"
		 "  - label: web\n"
		 "    command: [%s, --ready, --ready-delay, '100']\n"
		 "    depends_on: [db]\n"
		 "  - label: db\n"
		 "    command: [%s, --ready, --ready-delay, '400']\n"
		 "    node: n2\n", h_notifysvc(), h_notifysvc());
	path = h_save("site.yaml", yaml);
	assert_code(h_rsctl("up", "old", "--", h_notifysvc(), "--ready", NULL), 0, "up old");

	r = h_rsctl("--json", "diff", path, NULL);
	assert_code(r, 0, "diff");
	j = h_json(r);
	cr_assert_eq(json_array_size(json_object_get(j, "added")), 2);
	cr_assert_str_eq(json_string_value(json_array_get(json_object_get(j, "removed"), 0)), "old");
	cr_assert(!h_status_instance("web", &in), "diff changed something");

	r = h_rsctl("apply", path, NULL);
	assert_code(r, 0, "apply");
	cr_assert(h_status_instance("web", &in) && !strcmp(in.state, "running"));
	cr_assert(h_status_instance("db", &in) && !strcmp(in.state, "running"));
	cr_assert_str_eq(in.node, "n2");
	cr_assert(h_status_instance("old", &in) && !strcmp(in.desired, "down"));
	/* boot order: web was started only after db was ready */
	cr_assert_gt(event_seq("web", "up"), event_seq("db", "ready"),
		     "web started before db was ready");
	/* applying again changes nothing */
	r = h_rsctl("--json", "diff", path, NULL);
	j = h_json(r);
	cr_assert_eq(json_array_size(json_object_get(j, "added")), 0);
	cr_assert_eq(json_array_size(json_object_get(j, "changed")), 0);
	cr_assert_eq(json_array_size(json_object_get(j, "removed")), 0);
	/* ... and doing it leaves every service as it was: the same
	 * generation (no new spec sent to the agents), the same process */
	{
		json_t *before = h_json(h_rsctl("--json", "status", "db", NULL));
		json_int_t gen = json_integer_value(json_object_get(
			json_array_get(json_object_get(before, "services"), 0), "generation"));
		pid_t pid;

		cr_assert(h_status_instance("db", &in) && in.pid > 0);
		pid = in.pid;
		cr_assert_gt(gen, 0);
		r = h_rsctl("--json", "apply", path, NULL);
		assert_code(r, 0, "apply again");
		j = h_json(r);
		cr_assert_eq(json_array_size(json_object_get(j, "unchanged")), 2, "%s", r->out);
		j = h_json(h_rsctl("--json", "status", "db", NULL));
		cr_assert_eq(json_integer_value(json_object_get(
			json_array_get(json_object_get(j, "services"), 0), "generation")), gen,
			"an unchanged service got a new generation");
		cr_assert(h_status_instance("db", &in) && in.pid == pid, "pid %d, was %d", (int)in.pid, (int)pid);
	}
	h_pass();
}

/* rsd starting an apply's services one a turn (RS_APPLY_SLICE=1, the
 * 2 ms of a big apply made small) */
static void setup_apply_slice(void)
{
	h_setup_env(2, "RS_APPLY_SLICE", "1");
}

/* An apply whose starts take several turns: a chain a <- b <- c and
 * three free services, one started a turn; every service runs, each of
 * the chain only once what it depends on was ready, and rsd says the
 * starts' turns once, when the last is started. */
Test(ops, apply_in_turns_keeps_dependency_order, .init = setup_apply_slice,
     .fini = teardown, .timeout = T_TIMEOUT)
{
	char yaml[2000];
	const char *svc = h_notifysvc(), *path;
	const char *all[] = { "a", "b", "c", "x", "y", "z" };
	const char *rsdlog = h_path("rsd.log"), *said = "apply: started 6 services in ";
	h_inst in;

	snprintf(yaml, sizeof yaml,
		 "services:\n"
		 "  - {label: c, command: [%s, --ready, --ready-delay, '100'], depends_on: [b]}\n"
		 "  - {label: b, command: [%s, --ready, --ready-delay, '100'], depends_on: [a]}\n"
		 "  - {label: a, command: [%s, --ready, --ready-delay, '100']}\n"
		 "  - {label: x, command: [%s, --ready]}\n"
		 "  - {label: y, command: [%s, --ready]}\n"
		 "  - {label: z, command: [%s, --ready]}\n", svc, svc, svc, svc, svc, svc);
	path = h_save("turns.yaml", yaml);
	assert_code(h_rsctl("apply", path, NULL), 0, "apply");
	for (size_t i = 0; i < sizeof all / sizeof *all; i++)
		cr_assert(h_status_instance(all[i], &in) && !strcmp(in.state, "running"),
			  "%s not running", all[i]);
	cr_assert_gt(event_seq("b", "up"), event_seq("a", "ready"), "b started before a was ready");
	cr_assert_gt(event_seq("c", "up"), event_seq("b", "ready"), "c started before b was ready");
	cr_assert(h_wait_file_has(rsdlog, said, 5000), "rsd did not say the apply's turns");
	/* once: the lines before the chain's last start said nothing */
	char *log = h_slurp(rsdlog, NULL);
	const char *first = strstr(log, said);

	cr_assert(first && strstr(first, ", 6 turns over "), "%s", first ? first : "");
	cr_assert_null(strstr(log, "apply: started 4 services"), "said before its end");
	free(log);
	h_pass();
}

Test(ops, apply_bad_manifests_change_nothing, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	static const struct { const char *yaml, *want; } bad[] = {
		{ "services:\n  - label: a\n    command: [x]\n    colour: red\n",
		  ":4: services[0].colour: unknown key" },
		{ "services:\n  - {label: a, command: [x], depends_on: [b]}\n"
		  "  - {label: b, command: [x], depends_on: [a]}\n", "dependency cycle" },
		{ "services:\n  - {label: a, command: [x]}\n  - {label: a, command: [y]}\n",
		  "duplicate label 'a'" },
		{ "services:\n  - {label: a, command: [x], node: n9}\n", "unknown node 'n9'" },
	};
	h_inst in;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char name[32];
		const h_res *r;

		snprintf(name, sizeof name, "bad%zu.yaml", i);
		r = h_rsctl("apply", h_save(name, bad[i].yaml), NULL);
		assert_code(r, RS_E_INVAL, name);
		cr_assert(strstr(r->err, bad[i].want), "%s: %s", name, r->err);
	}
	cr_assert(!h_status_instance("a", &in), "a bad apply created a service");
	h_pass();
}

/* Sends an apply of the specs "label[:dep,dep...]" (each a sleep) as a
 * raw request, past rsctl's manifest check; returns the reply's code and
 * copies its detail. */
static uint64_t raw_apply_id = 7700;

static int raw_apply(const char *const *specs, size_t n, char *detail, size_t dn)
{
	uint8_t *buf, *rep = NULL;
	size_t len, replen = 0;
	rs_msg m;
	int r;

	rs_msg_init(&m, RS_MSG_REQUEST);
	m.u.request.verb = RS_V_APPLY;
	m.u.request.id = ++raw_apply_id;   /* (a resent id gets the first answer) */
	m.u.request.specs = calloc(n, sizeof *m.u.request.specs);
	cr_assert_not_null(m.u.request.specs);
	m.u.request.nspecs = n;
	for (size_t i = 0; i < n; i++) {
		rs_spec *sp = &m.u.request.specs[i];
		char text[256], *deps;

		rs_spec_init(sp);
		snprintf(text, sizeof text, "%s", specs[i]);
		deps = strchr(text, ':');
		if (deps)
			*deps++ = '\0';
		cr_assert_lt(strlen(text), sizeof sp->label);
		memcpy(sp->label, text, strlen(text) + 1);
		cr_assert_eq(rs_spec_add_arg(sp, "/bin/sleep"), 0);
		cr_assert_eq(rs_spec_add_arg(sp, "3600"), 0);
		for (char *d = deps ? strtok(deps, ",") : NULL; d; d = strtok(NULL, ","))
			cr_assert_eq(rs_spec_add_dep(sp, d), 0);
	}
	cr_assert_eq(wire_encode(&m, &buf, &len), 0);
	rs_msg_clear(&m);
	r = net_call(h_control_ep(), h_curve(), buf, len, 5000, &rep, &replen);
	free(buf);
	cr_assert_geq(r, 0, "no answer: %d", r);
	cr_assert_eq(wire_decode(rep, replen, &m), 0);
	free(rep);
	cr_assert_eq(m.type, RS_MSG_REPLY);
	r = m.u.reply.code;
	snprintf(detail, dn, "%s", m.u.reply.message ? m.u.reply.message : "");
	rs_msg_clear(&m);
	return r;
}

/* rsd checks an apply's services against each other itself (rsctl's
 * manifest check is not the only way in): a cycle, whichever service it
 * is found from, a service depending on itself, a dependency outside the
 * apply and a label twice each get a clear error and change nothing. */
Test(ops, apply_raw_requests_checked_by_rsd, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	static const struct { const char *specs[5]; size_t n; const char *want; } bad[] = {
		{ { "free", "d:a", "a:b", "b:c", "c:a" }, 5,
		  "dependency cycle: a -> b -> c -> a" },
		{ { "c:a", "b:c", "a:b" }, 3, "dependency cycle: c -> a -> b -> c" },
		{ { "free", "self:self" }, 2, "dependency cycle: self -> self" },
		{ { "a", "b:a,zz" }, 2, "b depends on 'zz', which is not in the apply" },
		{ { "a", "b", "a" }, 3, "a: twice in the apply" },
	};
	char detail[512];
	h_inst in;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int code = raw_apply(bad[i].specs, bad[i].n, detail, sizeof detail);

		cr_assert_eq(code, RS_E_INVAL, "case %zu: code %d (%s)", i, code, detail);
		cr_assert_str_eq(detail, bad[i].want, "case %zu: %s", i, detail);
	}
	cr_assert(!h_status_instance("free", &in), "a refused apply created a service");
	cr_assert(!h_status_instance("a", &in), "a refused apply created a service");
	/* the same way in, without the fault: applied, in order */
	{
		const char *good[] = { "c:b", "b:a", "a" };

		cr_assert_eq(raw_apply(good, 3, detail, sizeof detail), RS_OK, "%s", detail);
	}
	cr_assert_gt(event_seq("c", "up"), event_seq("b", "up"), "c started before b");
	cr_assert_gt(event_seq("b", "up"), event_seq("a", "up"), "b started before a");
	net_shutdown();
	h_pass();
}

/* rsd's CPU time (user + system) in ms, from /proc. */
static long long proc_cpu_ms(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	cr_assert_not_null(f, "%s", path);
	cr_assert_not_null(fgets(buf, sizeof buf, f));
	fclose(f);
	p = strrchr(buf, ')');   /* after the command, which may hold spaces */
	cr_assert_not_null(p);
	cr_assert_eq(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
			    &ut, &st), 2);
	return (long long)((ut + st) * 1000 / (unsigned long long)sysconf(_SC_CLK_TCK));
}

static void setup0(void) { h_setup(0); }

/* Services wanted up that no node can take (here: no node at all) are
 * looked at again once a period, not in every turn, and rsd says they
 * wait (its log once each, describe's Waiting). The periodic
 * converge went on in slices from the head of the services, and with
 * more of them than one slice of 0.5 ms looks at (512: ~7 us each under
 * ASan), each slice looked at the same first ones and failed to place
 * them again, holding rsd's loop at ~100 % of a core for as long as they
 * waited (a livelock, not a cost: once a period, ~0.4 % here). */
Test(ops, unplaceable_services_leave_rsd_idle, .init = setup0, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	char *yaml = NULL;
	size_t cap = 0;
	FILE *f = open_memstream(&yaml, &cap);
	const h_res *r;
	long long c0, c1, t0, t1;

	cr_assert_not_null(f);
	fprintf(f, "services:\n");
	for (int i = 0; i < 512; i++)
		fprintf(f, "  - {label: u%03d, command: [/bin/sleep, '3600']}\n", i);
	fclose(f);
	r = h_rsctl("apply", h_save("u.yaml", yaml), NULL);
	free(yaml);
	cr_assert_neq(r->code, 0, "applied with no node: %s", r->out);
	cr_assert(strstr(r->err, "no node to place it on (none up, or none its placement "
			 "allows): it stays wanted up, and rsd places it when a node "
			 "can take it"), "%s", r->err);
	/* they stay wanted up: each period's converge tries them */
	r = h_rsctl("--json", "status", NULL);
	cr_assert_eq(r->code, 0);
	cr_assert(strstr(r->out, "\"u511\""), "u511 not listed: %s", r->out);
	c0 = proc_cpu_ms(h_rsd_pid());
	t0 = h_now_ms();
	while (h_now_ms() - t0 < 3000)   /* the span measured: three periods */
		usleep(100 * 1000);
	c1 = proc_cpu_ms(h_rsd_pid());
	t1 = h_now_ms();
	cr_assert_lt((c1 - c0) * 100, (t1 - t0) * 50,
		     "rsd used %lld ms of CPU in %lld ms with nothing it could do",
		     c1 - c0, t1 - t0);
	cr_assert(h_pid_alive(h_rsd_pid()));
	/* and it says why they wait: once each in its log, in describe */
	{
		char *log = h_slurp(h_path("rsd.log"), NULL);
		const char *said = "u000: no node to place 1 instance on", *at;

		cr_assert_not_null(log);
		at = strstr(log, said);
		cr_assert(at, "rsd did not say u000 waits for a node");
		cr_assert_null(strstr(at + 1, said), "said more than once");
		cr_assert(strstr(log, "u511: no node to place 1 instance on"));
		free(log);
	}
	r = h_rsctl("describe", "u007", NULL);
	cr_assert_eq(r->code, 0, "%s", r->err);
	cr_assert(strstr(r->out, "Waiting:") && strstr(r->out, "for a node to take 1 instance"),
		  "%s", r->out);
	r = h_rsctl("--json", "describe", "u007", NULL);
	cr_assert(strstr(r->out, "\"waiting\":{"), "%s", r->out);
	h_pass();
}

/* A service that waited for a node says so when one takes it: here its
 * placement asked for a label no node has, and the next apply drops it. */
Test(ops, a_service_waiting_for_a_node_says_when_placed, .init = setup1,
     .fini = teardown, .timeout = T_TIMEOUT)
{
	const char *rsdlog = h_path("rsd.log");
	const h_res *r;
	h_inst in;

	r = h_rsctl("apply", h_save("gpu.yaml", "services:\n  - label: w\n"
		    "    command: [/bin/sleep, '3600']\n"
		    "    placement: {labels: [gpu]}\n"), NULL);
	cr_assert_neq(r->code, 0, "applied with no gpu node: %s", r->out);
	cr_assert(h_wait_file_has(rsdlog, "w: no node to place 1 instance on", 5000),
		  "rsd did not say w waits");
	cr_assert(strstr(h_rsctl("describe", "w", NULL)->out, "Waiting:"));
	r = h_rsctl("status", "w", NULL);
	cr_assert(strstr(r->out, "waiting for a node"), "%s", r->out);
	r = h_rsctl("--json", "status", "w", NULL);
	cr_assert(strstr(r->out, "\"waiting\":{\"for\":\"node\",\"missing\":1,"), "%s", r->out);
	r = h_rsctl("apply", h_save("any.yaml", "services:\n  - label: w\n"
		    "    command: [/bin/sleep, '3600']\n"), NULL);
	cr_assert_eq(r->code, 0, "%s", r->err);
	cr_assert(h_status_instance("w", &in) && !strcmp(in.state, "running"));
	cr_assert(h_wait_file_has(rsdlog, "w: placed after waiting ", 5000),
		  "rsd did not say w was placed");
	r = h_rsctl("describe", "w", NULL);
	cr_assert_null(strstr(r->out, "Waiting:"), "%s", r->out);
	h_pass();
}

/* ---- replicas --------------------------------------------------------- */

static void setup3(void) { h_setup(3); }

/* Live (starting/running) instances of label and the set of their nodes. */
static int live_replicas(const char *label, char *nodes, size_t n)
{
	json_t *j = h_json(h_rsctl("--json", "status", label, NULL)), *in;
	json_t *svc = json_array_get(json_object_get(j, "services"), 0);
	size_t i;
	int live = 0;

	nodes[0] = '\0';
	json_array_foreach(json_object_get(svc, "instances"), i, in) {
		const char *st = json_string_value(json_object_get(in, "state"));
		if (!st || strcmp(st, "running"))
			continue;
		h_track_pid((pid_t)json_integer_value(json_object_get(in, "pid")));
		live++;
		strncat(nodes, json_string_value(json_object_get(in, "node")), n - strlen(nodes) - 1);
		strncat(nodes, " ", n - strlen(nodes) - 1);
	}
	return live;
}

struct wrep { const char *label; int want; char nodes[128]; };

static bool replicas_fn(void *arg)
{
	struct wrep *w = arg;

	return live_replicas(w->label, w->nodes, sizeof w->nodes) == w->want;
}

Test(ops, replicas_spread_and_scale, .init = setup3, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	struct wrep w = { "web", 3, "" };
	char yaml[1000];
	const h_res *r;

	r = h_rsctl("up", "web", "--replicas", "3", "--", h_notifysvc(), "--ready", NULL);
	assert_code(r, 0, "up --replicas 3");
	cr_assert(h_wait_until(replicas_fn, &w, 10000), "3 replicas not running: %s", w.nodes);
	cr_assert(strstr(w.nodes, "n1") && strstr(w.nodes, "n2") && strstr(w.nodes, "n3"),
		  "replicas not spread: %s", w.nodes);
	assert_code(h_rsctl("clone", "web", NULL), RS_E_INVAL, "clone of a replicated service");
	/* scale down to 2 with a manifest */
	snprintf(yaml, sizeof yaml, "services:\n  - label: web\n    command: [%s, --ready]\n"
		 "    replicas: 2\n", h_notifysvc());
	r = h_rsctl("apply", h_save("scale.yaml", yaml), NULL);
	assert_code(r, 0, "apply replicas: 2");
	w.want = 2;
	cr_assert(h_wait_until(replicas_fn, &w, 10000), "not scaled to 2: %s", w.nodes);
	h_pass();
}

Test(ops, drain_moves_instances_and_blocks_placement, .init = setup2, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	struct wmove w = { .node = "n2" };
	const h_res *r;
	h_inst a, b;
	json_t *j;

	r = h_rsctl("up", "web", "--", h_notifysvc(), "--ready", NULL);
	assert_code(r, 0, "up");
	cr_assert(h_status_instance("web", &a) && !strcmp(a.node, "n1"));
	r = h_rsctl("drain", "n1", NULL);
	assert_code(r, 0, "drain n1");
	cr_assert(strstr(r->out, "1 instance(s) moved"), "%s", r->out);
	cr_assert(h_wait_until(moved_fn, &w, 10000), "web did not move to n2");
	cr_assert(!h_pid_alive(a.pid) || h_wait_until(dead_fn, &(struct wdead){ a.pid }, 10000),
		  "the copy on the drained node still runs");
	/* nothing new goes to n1 */
	assert_code(h_rsctl("up", "api", "--", h_notifysvc(), "--ready", NULL), 0, "up api");
	cr_assert(h_status_instance("api", &b) && !strcmp(b.node, "n2"),
		  "placed on the drained node: %s", b.node);
	j = h_json(h_rsctl("--json", "nodes", NULL));
	cr_assert(json_is_true(json_object_get(json_array_get(json_object_get(j, "nodes"), 0),
					       "drained")));
	assert_code(h_rsctl("undrain", "n1", NULL), 0, "undrain");
	assert_code(h_rsctl("drain", "nosuch", NULL), RS_E_NOENT, "drain of an unknown node");
	h_pass();
}

Test(ops, edit_args_keeps_the_program, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const h_res *r;
	json_t *cmd;

	assert_code(h_rsctl("up", "web", "--", h_notifysvc(), "--ready", NULL), 0, "up");
	assert_code(h_rsctl("edit", "web", "--args", "--ready", "--status", "v2", NULL), 0,
		    "edit --args");
	r = h_rsctl("--json", "status", "web", NULL);
	cmd = json_object_get(json_array_get(json_object_get(h_json(r), "services"), 0), "command");
	cr_assert_eq(json_array_size(cmd), 4);
	cr_assert_str_eq(json_string_value(json_array_get(cmd, 0)), h_notifysvc());
	cr_assert_str_eq(json_string_value(json_array_get(cmd, 3)), "v2");
	h_pass();
}

/* rsd killed in the middle of an apply (db committed and starting slowly,
 * web committed but waiting for db): after the restart the open operation
 * is closed and what was committed is finished: every service runs once. */
Test(ops, rsd_killed_during_apply_finishes_it, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	char yaml[2000];
	struct wrep wdb = { "db", 1, "" }, wweb = { "web", 1, "" };
	const h_res *r;
	h_inst in;

	snprintf(yaml, sizeof yaml,
		 "services:\n"
		 "  - label: web\n    command: [%s, --ready]\n    depends_on: [db]\n"
		 "  - label: db\n    command: [%s, --ready, --ready-delay, '4000']\n    notify: notify\n",
		 h_notifysvc(), h_notifysvc());
	r = h_rsctl("apply", h_save("slow.yaml", yaml), "--no-block", NULL);
	assert_code(r, 0, "apply --no-block");
	cr_assert(!h_status_instance("web", &in) || in.ninstances == 0,
		  "web started before db was ready");
	h_kill_rsd(SIGKILL);
	h_restart_rsd();
	cr_assert(h_wait_until(replicas_fn, &wdb, 15000), "db not running after the restart");
	cr_assert(h_wait_until(replicas_fn, &wweb, 15000), "web was never started after the restart");
	/* exactly one of each */
	cr_assert(h_status_instance("db", &in) && in.ninstances == 1, "db has %d instances",
		  in.ninstances);
	cr_assert(h_status_instance("web", &in) && in.ninstances == 1, "web has %d instances",
		  in.ninstances);
	/* and still in dependency order: depends_on is stored, so the
	 * restarted rsd started web only once db was ready */
	cr_assert_gt(event_seq("web", "up"), event_seq("db", "ready"),
		     "web started before db was ready, after rsd's restart");
	h_pass();
}

/* rsctl ARGS (one shell command line) under a pseudo-terminal: script(1)
 * runs it with its stdout a TTY and copies what it printed to ours. */
static const h_res *rsctl_on_tty(const char *env, const char *args)
{
	char cmd[2048], bin[H_PATH_MAX];
	const char *argv[] = { "/usr/bin/script", "-qfec", cmd, "/dev/null", NULL };
	char *tests;

	/* the build tree: h_notifysvc() is BUILD/tests/notifysvc */
	snprintf(bin, sizeof bin, "%s", h_notifysvc());
	tests = strstr(bin, "/tests/notifysvc");
	cr_assert(tests, "unexpected helper path %s", bin);
	*tests = '\0';
	snprintf(cmd, sizeof cmd, "%s %s/ctl/rsctl -s %s %s", env, bin, h_control_ep(), args);
	return h_run(H_RSCTL_TIMEOUT_MS, argv);
}

/* Lines of out that contain every one of a and b. */
static int lines_with(const char *out, const char *a, const char *b)
{
	int n = 0;

	for (const char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		const char *end = strchr(l, '\n'), *x = strstr(l, a), *y = strstr(l, b);
		n += x && y && (!end || (x < end && y < end));
	}
	return n;
}

/* A person at a terminal sees each instance of a long operation change
 * state, then a summary; a pipe (scripts, tests) gets the output as
 * before, without them. */
Test(ops, progress_lines_on_a_terminal_only, .init = setup3, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	char args[1024], yaml[1024];
	const h_res *r;
	h_inst in;

	/* ready after 800 ms: the polls in between see them starting */
	snprintf(args, sizeof args, "up web --replicas 3 -- %s --ready --ready-delay 800",
		 h_notifysvc());
	r = rsctl_on_tty("LC_ALL=C.UTF-8", args);
	h_status_instance("web", &in);   /* records the pids for teardown */
	assert_code(r, 0, "up --replicas 3 on a terminal");
	cr_assert_eq(lines_with(r->out, "  web#", ": new \u2192 "), 3,
		     "want a line per new replica:\n%s", r->out);
	cr_assert_eq(lines_with(r->out, "  web#", "starting \u2192 running"), 3,
		     "want a line per replica from starting to running:\n%s", r->out);
	cr_assert(strstr(r->out, "up web: 3/3 running in "), "no summary:\n%s", r->out);
	cr_assert(strstr(r->out, "web: 3 replicas are running"),
		  "the reply's message is gone:\n%s", r->out);

	r = h_rsctl("up", "api", "--replicas", "3", "--", h_notifysvc(), "--ready", NULL);
	h_status_instance("api", &in);
	assert_code(r, 0, "up --replicas 3 into a pipe");
	cr_assert(!strstr(r->out, "api#") && !strstr(r->out, "running in"),
		  "progress lines in a pipe:\n%s", r->out);
	cr_assert(strstr(r->out, "api: 3 replicas are running"), "%s", r->out);

	/* drain answers at once; the lines follow the moves until they run */
	r = rsctl_on_tty("LC_ALL=C", "drain n1");
	assert_code(r, 0, "drain on a terminal");
	cr_assert_eq(lines_with(r->out, "running on n1 -> ", ""), 2,
		     "want a line per instance leaving n1:\n%s", r->out);
	cr_assert(strstr(r->out, "drain n1: 2 moved, 2/2 running in "), "no summary:\n%s",
		  r->out);
	h_status_instance("web", &in);
	h_status_instance("api", &in);

	r = rsctl_on_tty("LC_ALL=C", "shutdown");
	assert_code(r, 0, "shutdown on a terminal");
	cr_assert_eq(lines_with(r->out, "#", "-> down"), 6, "want 6 lines to down:\n%s",
		     r->out);
	cr_assert(strstr(r->out, "shutdown: 0 started, 6 stopped in "), "no summary:\n%s",
		  r->out);

	/* apply: its lines, its +/- list and a summary by service */
	snprintf(yaml, sizeof yaml, "services:\n  - label: db\n    command: [%s, --ready]\n"
		 "    replicas: 2\n", h_notifysvc());
	snprintf(args, sizeof args, "apply %s", h_save("progress.yaml", yaml));
	r = rsctl_on_tty("LC_ALL=C", args);
	h_status_instance("db", &in);
	assert_code(r, 0, "apply on a terminal");
	cr_assert_eq(lines_with(r->out, "  db#", "-> running"), 2, "%s", r->out);
	cr_assert(strstr(r->out, "+ db\r\n"), "the plan is gone:\n%s", r->out);
	cr_assert(strstr(r->out, "apply: 1 started, 0 changed, 0 stopped, 0 unchanged in "),
		  "no summary:\n%s", r->out);
	h_pass();
}

/* ---- placement: node lists, node labels, capacity ------------------------ */

static void setup_labels(void)
{
	h_opts o = { .agents = 3, .alarm_s = 50 };

	o.agent_arg[1] = "--label=ssd";
	o.agent_arg[2] = "--capacity=1";
	o.agent_arg[3] = "--label=ssd";
	h_setup_opts(&o);
}

/* The nodes of label's instances, sorted, joined by ',' into out. */
static void nodes_of(const char *label, char *out, size_t n)
{
	const h_res *r = h_rsctl("status", label, "--json", NULL);
	json_t *j = h_json(r), *in;
	char names[8][64];
	size_t i, k = 0;

	out[0] = '\0';
	cr_assert(j, "status --json: %s", r->out);
	json_array_foreach(json_object_get(json_array_get(json_object_get(j, "services"), 0),
					   "instances"), i, in)
		if (k < 8)
			snprintf(names[k++], sizeof names[0], "%s",
				 json_string_value(json_object_get(in, "node")));
	qsort(names, k, sizeof names[0], (int (*)(const void *, const void *))strcmp);
	for (i = 0; i < k; i++)
		snprintf(out + strlen(out), n - strlen(out), "%s%s", i ? "," : "", names[i]);
}

Test(ops, placement_labels_nodes_capacity, .init = setup_labels, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const h_res *r;
	char where[256];

	/* labels and capacity are reported by nodes */
	r = h_rsctl("nodes", "--json", NULL);
	cr_assert(strstr(r->out, "\"labels\":[\"ssd\"]"), "%s", r->out);
	cr_assert(strstr(r->out, "\"capacity\":1"), "%s", r->out);
	/* only the ssd nodes, spread */
	r = h_rsctl("up", "fast", "--replicas", "2", "--node-label", "ssd", "--",
		    h_notifysvc(), "--ready", NULL);
	assert_code(r, 0, "up --node-label ssd");
	nodes_of("fast", where, sizeof where);
	cr_assert_str_eq(where, "n1,n3", "ssd replicas on %s", where);
	/* any of n1, n2: the emptier one */
	r = h_rsctl("up", "pair", "--node", "n1,n2", "--", h_notifysvc(), "--ready", NULL);
	assert_code(r, 0, "up --node n1,n2");
	nodes_of("pair", where, sizeof where);
	cr_assert_str_eq(where, "n2");
	/* n2 is full (capacity 1) */
	r = h_rsctl("up", "more", "--node", "n2", "--", h_notifysvc(), "--ready", NULL);
	assert_code(r, RS_E_NONODE, "up on a full node");
	cr_assert(strstr(r->err, "full"), "%s", r->err);
	/* no node has the label */
	r = h_rsctl("up", "gpu", "--node-label", "gpu", "--", h_notifysvc(), "--ready", NULL);
	assert_code(r, RS_E_NONODE, "up with a label no node has");
	cr_assert(strstr(r->err, "label=gpu"), "%s", r->err);
	/* a bad label is refused before anything is sent */
	r = h_rsctl("up", "bad", "--node-label", "a b", "--", h_notifysvc(), NULL);
	assert_code(r, RS_E_USAGE, "up --node-label 'a b'");
	h_pass();
}

/* ---- events --since ------------------------------------------------------ */

static bool wall_past_fn(void *arg)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec > *(int64_t *)arg;
}

Test(ops, events_since, .init = setup1, .fini = teardown, .timeout = T_TIMEOUT)
{
	struct timespec ts;
	int64_t t0;
	char iso[64];
	struct tm tm;
	const h_res *r;
	json_t *j, *e;
	size_t i;
	bool saw_up = false;

	/* a second boundary after the setup's events */
	clock_gettime(CLOCK_REALTIME, &ts);
	t0 = (int64_t)ts.tv_sec;
	cr_assert(h_wait_until(wall_past_fn, &t0, 3000));
	t0++;
	gmtime_r(&(time_t){ (time_t)t0 }, &tm);
	strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
	assert_code(h_rsctl("up", "since", "--", h_notifysvc(), "--ready", NULL), 0, "up");
	r = h_rsctl("events", "--since", iso, "--json", NULL);
	assert_code(r, 0, "events --since");
	j = h_json(r);
	cr_assert(j, "%s", r->out);
	json_array_foreach(json_object_get(j, "events"), i, e) {
		cr_assert_geq(json_integer_value(json_object_get(e, "time_ms")), t0 * 1000,
			      "an event before %s: %s", iso, r->out);
		saw_up |= !strcmp(json_string_value(json_object_get(e, "kind")), "up");
	}
	cr_assert(saw_up, "the up after %s is missing: %s", iso, r->out);
	/* an hour ago: the node's hello too */
	r = h_rsctl("events", "--since", "1h", "--json", NULL);
	assert_code(r, 0, "events --since 1h");
	cr_assert(strstr(r->out, "node-up"), "%s", r->out);
	/* with -n: the newest of them */
	r = h_rsctl("events", "--since", "1h", "-n", "2", "--json", NULL);
	assert_code(r, 0, "events --since 1h -n 2");
	j = h_json(r);
	cr_assert(j && json_array_size(json_object_get(j, "events")) == 2, "%s", r->out);
	cr_assert(strstr(r->out, "\"since\""), "the up's label among the newest: %s", r->out);
	r = h_rsctl("events", "--since", "yesterday", NULL);
	assert_code(r, RS_E_USAGE, "events --since yesterday");
	cr_assert(strstr(r->err, "not a time"), "%s", r->err);
	h_pass();
}

/* ---- user: run as another user ------------------------------------------- */

static uid_t proc_uid(pid_t pid)
{
	char path[64], line[256];
	unsigned long uid = (unsigned long)-1;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "Uid: %lu", &uid) == 1)
			break;
	if (f)
		fclose(f);
	return (uid_t)uid;
}

Test(ops, user_runs_as_that_user, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	struct passwd *pw = getpwnam("nobody");
	const h_res *r;
	h_inst in;

	cr_assert(pw, "no user nobody on this machine");
	if (geteuid() != 0) {
		cr_skip_test("the agent must be root to run a service as another user");
		return;
	}
	/* the test's temp dir (the agent's state dir is in it) is 0700: let
	 * nobody pass through it, as /var/lib does */
	cr_assert_eq(chmod(h_tmpdir(), 0711), 0);
	/* --notify notify: up succeeds only if READY=1 from the service (as
	 * nobody) reached its notify socket */
	r = h_rsctl("up", "asnobody", "--user", "nobody", "--notify", "notify", "--",
		    h_notifysvc(), "--ready", NULL);
	assert_code(r, 0, "up --user nobody");
	cr_assert(h_status_instance("asnobody", &in) && in.pid > 0);
	cr_assert_eq(proc_uid(in.pid), pw->pw_uid, "pid %d runs as uid %u, want %u",
		     (int)in.pid, (unsigned)proc_uid(in.pid), (unsigned)pw->pw_uid);
	r = h_rsctl("up", "asghost", "--user", "no-such-user-here", "--",
		    h_notifysvc(), "--ready", NULL);
	cr_assert_neq(r->code, 0, "up as an unknown user succeeded");
	cr_assert(strstr(r->err, "no such user") || strstr(r->out, "no such user"),
		  "%s%s", r->out, r->err);
	h_pass();
}

/* ---- user: no_new_privs and no capabilities unless keep_caps -------------- */

struct wlogs {
	const char *label;
	const char *want[2];
	const h_res *r;
};

/* `rsctl logs LABEL` shows every line of want. */
static bool logs_show_fn(void *arg)
{
	struct wlogs *w = arg;

	w->r = h_rsctl("logs", w->label, NULL);
	for (size_t i = 0; i < 2; i++)
		if (w->want[i] && !strstr(w->r->out, w->want[i]))
			return false;
	return true;
}

/* Starts LABEL as nobody (extra: one more up option or NULL); the service
 * prints its own NoNewPrivs and CapBnd lines, then sleeps. Waits until
 * its log shows want_nnp and want_bnd (either may be NULL); returns the
 * log. */
static const char *up_caps(const char *label, const char *extra, const char *want_nnp,
		    const char *want_bnd)
{
	struct wlogs w = { label, { want_nnp, want_bnd }, NULL };
	const char *argv[16];
	const h_res *r;
	h_inst in;
	int n = 0;

	argv[n++] = "up";
	argv[n++] = label;
	argv[n++] = "--user";
	argv[n++] = "nobody";
	if (extra)
		argv[n++] = extra;
	argv[n++] = "--";
	argv[n++] = "/bin/sh";
	argv[n++] = "-c";
	argv[n++] = "grep -E '^(NoNewPrivs|CapBnd):' /proc/self/status; exec sleep 1000";
	argv[n] = NULL;
	r = h_rsctl_v(H_RSCTL_TIMEOUT_MS, argv);
	assert_code(r, 0, "up --user nobody");
	cr_assert(h_status_instance(label, &in) && in.pid > 0);
	cr_assert(h_wait_until(logs_show_fn, &w, 10000),
		  "%s: log shows '%s', want '%s' and '%s'", label,
		  w.r ? w.r->out : "", want_nnp ? want_nnp : "",
		  want_bnd ? want_bnd : "");
	return w.r->out;
}

Test(ops, user_gets_no_new_privs_and_no_caps, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const char *log;
	FILE *f;
	char line[256];
	bool own_caps = false;

	if (geteuid() != 0) {
		cr_skip_test("the agent must be root to run a service as another user");
		return;
	}
	cr_assert(getpwnam("nobody"), "no user nobody on this machine");
	cr_assert_eq(chmod(h_tmpdir(), 0711), 0);
	up_caps("hardened", NULL, "NoNewPrivs:\t1", "CapBnd:\t0000000000000000");
	/* --keep-caps: the bounding set stays (the agent's, as the test's) */
	log = up_caps("keeps", "--keep-caps", "NoNewPrivs:\t0", "CapBnd:\t");
	f = fopen("/proc/self/status", "re");
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, "CapBnd:", 7))
			own_caps = strcmp(line, "CapBnd:\t0000000000000000\n") != 0;
	if (f)
		fclose(f);
	if (own_caps)
		cr_assert_null(strstr(log, "CapBnd:\t0000000000000000"),
			       "--keep-caps emptied the bounding set: %s", log);
	h_pass();
}

/* ---- many services: the engine/keeper link under a burst ------------------ */

static bool pid_dead_fn(void *arg)
{
	return !h_pid_alive(*(pid_t *)arg);
}

/* An agent with 1,000 services stopped with SIGTERM sends its keeper 2,000
 * signals at once while the keeper reports 1,000 exits: neither side may
 * drop or block the other (the keeper once detached on a full socket and
 * left the services behind). Every service must be gone and the agent
 * exit 0. */
Test(ops, agent_sigterm_stops_1000_services, .init = setup1, .fini = teardown,
     .timeout = 120)
{
	enum { N = 1000 };
	static char yaml[N * 96 + 64];
	pid_t pids[N];
	size_t off, n = 0, i;
	const h_res *r;
	json_t *j, *s;
	int st;

	off = (size_t)snprintf(yaml, sizeof yaml, "services:\n");
	for (int k = 0; k < N; k++)
		off += (size_t)snprintf(yaml + off, sizeof yaml - off,
					"  - {label: m%04d, command: [sleep, '1000'], settle: 0.1}\n", k);
	r = h_rsctl_t(100000, "apply", h_save("many.yaml", yaml), NULL);
	assert_code(r, 0, "apply 1000 services");
	r = h_rsctl("status", "--json", NULL);
	j = h_json(r);
	cr_assert(j, "%s", r->out);
	json_array_foreach(json_object_get(j, "services"), i, s) {
		json_t *in = json_array_get(json_object_get(s, "instances"), 0);
		pid_t p = (pid_t)json_integer_value(json_object_get(in, "pid"));
		if (p > 0 && n < N)
			pids[n++] = p;
	}
	cr_assert_eq(n, N, "%zu of %d services have a pid", n, N);
	st = h_kill_agent(1, SIGTERM);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the agent ended with status 0x%x", st);
	for (i = 0; i < n; i++)
		cr_assert(h_wait_until(pid_dead_fn, &pids[i], 5000),
			  "service pid %d outlived its agent's SIGTERM", (int)pids[i]);
	h_pass();
}

/* down during a slow up (a service that never says READY=1): the start is
 * cancelled, as systemctl stop cancels a start; up answers 1 at once with
 * the reason, the service is down. Other operations still make down
 * busy (tests elsewhere). */
Test(ops, down_cancels_a_pending_up, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	struct w w = { .label = "slow", .state = "starting" };
	h_job *j;
	const h_res *r;
	h_inst in;

	j = h_rsctl_start("up", "slow", "--notify", "notify", "--ready-timeout", "60",
			  "--", h_notifysvc(), NULL);
	cr_assert(h_wait_until(state_fn, &w, 15000), "slow never started");
	cr_assert(h_job_running(j), "up returned before ready");
	r = h_rsctl("down", "slow", NULL);
	assert_code(r, 0, "down during up");
	r = h_job_wait(j, 10000);
	cr_assert(!r->timed_out, "up still waits after down");
	assert_code(r, 1, "the cancelled up");
	cr_assert(strstr(r->err, "cancelled by down"), "up said: %s", r->err);
	cr_assert(h_status_instance("slow", &in));
	cr_assert_str_eq(in.desired, "down");
	cr_assert(in.pid == 0 || !h_pid_alive(in.pid), "slow still runs (pid %d)", (int)in.pid);
	h_pass();
}

/* apply answers the first failure of a service it starts (exit 1, which
 * service, why) instead of waiting out its timeout while the agent
 * retries it with the backoff. */
Test(ops, apply_reports_a_failed_start_at_once, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	char yaml[1000];
	const h_res *r;
	int64_t t0;

	snprintf(yaml, sizeof yaml, "services:\n"
		 "  - label: good\n    command: [%s, --ready]\n"
		 "  - label: bad\n    command: [/bin/false]\n    depends_on: [good]\n",
		 h_notifysvc());
	t0 = h_now_ms();
	r = h_rsctl("apply", h_save("bad.yaml", yaml), NULL);
	assert_code(r, RS_E_FAILED, "apply with a service that cannot start");
	cr_assert(strstr(r->err, "bad failed to start") && strstr(r->err, "retried"),
		  "apply said: %s", r->err);
	cr_assert_lt(h_now_ms() - t0, 10000, "the failure took %lld ms",
		     (long long)(h_now_ms() - t0));
	h_pass();
}

/* The stop times a, b, c wrote to stops.log ("LABEL NANOSECONDS" lines);
 * false until all three are there. */
struct stops { long long t[3]; };

static bool read_stops(struct stops *s)
{
	FILE *f = fopen(h_path("stops.log"), "r");
	char label[16];
	long long t;
	int n = 0;

	memset(s, 0, sizeof *s);
	if (!f)
		return false;
	while (fscanf(f, "%15s %lld", label, &t) == 2)
		if (label[0] >= 'a' && label[0] <= 'c' && !label[1] && !s->t[label[0] - 'a']) {
			s->t[label[0] - 'a'] = t;
			n++;
		}
	fclose(f);
	return n == 3;
}

/* apply removing a <- b <- c (c depends on b, b on a), each taking 0.3 s
 * to stop: apply answers only once all three are down, and stops them in
 * reverse dependency order, each after its dependent was down. */
Test(ops, apply_stops_in_reverse_dependency_order_and_waits, .init = setup1,
     .fini = teardown, .timeout = T_TIMEOUT)
{
	char yaml[4000], cmd[1000];
	const h_res *r;
	struct stops st;
	h_inst in;
	int64_t t0;

	/* TERM: 0.3 s of cleanup, then the time of the stop, then exit */
	snprintf(cmd, sizeof cmd, "trap 'sleep 0.3; echo $0 $(date +%%s%%N) >> %s; "
		 "exit 0' TERM; sleep 1000 & wait", h_path("stops.log"));
	snprintf(yaml, sizeof yaml,
		 "services:\n"
		 "  - {label: a, command: [sh, -c, \"%s\", a], settle: 0.2}\n"
		 "  - {label: b, command: [sh, -c, \"%s\", b], settle: 0.2, depends_on: [a]}\n"
		 "  - {label: c, command: [sh, -c, \"%s\", c], settle: 0.2, depends_on: [b]}\n",
		 cmd, cmd, cmd);
	r = h_rsctl("apply", h_save("abc.yaml", yaml), NULL);
	assert_code(r, 0, "apply a <- b <- c");
	t0 = h_now_ms();
	r = h_rsctl("--json", "apply", h_save("none.yaml", "services: []\n"), NULL);
	assert_code(r, 0, "apply services: []");
	cr_assert_geq(h_now_ms() - t0, 900, "apply answered after %lld ms: before "
		      "three stops of 0.3 s each", (long long)(h_now_ms() - t0));
	cr_assert_eq(json_array_size(json_object_get(h_json(r), "removed")), 3,
		     "the plan: %s", r->out);
	/* answered only when every one is down */
	cr_assert(read_stops(&st), "apply answered before every service stopped");
	for (const char *l = "abc"; *l; l++) {
		char label[2] = { *l, 0 };
		cr_assert(h_status_instance(label, &in));
		cr_assert(in.pid == 0 || !h_pid_alive(in.pid), "%s still runs (pid %d, %s)",
			  label, (int)in.pid, in.state);
		cr_assert(strcmp(in.state, "running") && strcmp(in.state, "stopping"),
			  "%s is %s after apply", label, in.state);
	}
	/* c, then b once c was down, then a once b was down */
	cr_assert_gt(st.t[1] - st.t[2], 250000000LL, "b stopped %lld ns after c",
		     st.t[1] - st.t[2]);
	cr_assert_gt(st.t[0] - st.t[1], 250000000LL, "a stopped %lld ns after b",
		     st.t[0] - st.t[1]);
	h_pass();
}

/* ---- reload and kill (RS_FEAT_SIGNAL) --------------------------------- */

/* What a file holds (its first line, trimmed), into w->got. */
struct wfile { const char *path; const char *want; char got[64]; };

static bool file_fn(void *arg)
{
	struct wfile *w = arg;
	FILE *f = fopen(w->path, "r");

	w->got[0] = '\0';
	if (f) {
		if (!fgets(w->got, sizeof w->got, f))
			w->got[0] = '\0';
		fclose(f);
	}
	w->got[strcspn(w->got, "\n")] = '\0';
	return !strcmp(w->got, w->want);
}

/* A shell that counts SIG (a trap: run between its sleeps) into path. */
static void up_counter(const char *label, const char *sig, const char *path,
		       const char *opt, const char *val)
{
	char script[512];
	const h_res *r;

	snprintf(script, sizeof script, "n=0; trap 'n=$((n+1)); echo $n > %s' %s; "
		 "while :; do sleep 0.1; done", path, sig);
	if (opt)
		r = h_rsctl("up", label, opt, val, "--", "/bin/sh", "-c", script, NULL);
	else
		r = h_rsctl("up", label, "--", "/bin/sh", "-c", script, NULL);
	assert_code(r, 0, "up counter");
}

/* Whether LABEL's events hold one of kind whose detail has text. */
static bool has_event(const char *label, const char *kind, const char *text)
{
	const h_res *r = h_rsctl("--json", "events", label, NULL);
	json_t *j = h_json(r), *e;
	size_t i;

	json_array_foreach(json_object_get(j, "events"), i, e)
		if (!strcmp(json_string_value(json_object_get(e, "kind")), kind) &&
		    strstr(json_string_value(json_object_get(e, "detail")), text))
			return true;
	return false;
}

/* reload: the spec's reload signal (HUP by default) reaches the main
 * process, which keeps its pid (no restart, restarts 0); an event says
 * so; a service up with --reload-signal USR1 gets USR1 (a HUP would have
 * killed it: it has no HUP trap). */
Test(ops, reload_sends_the_reload_signal, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	struct wfile hup = { .path = h_path("hups"), .want = "1" };
	struct wfile usr = { .path = h_path("usr1s"), .want = "1" };
	char want[128];
	const h_res *r;
	h_inst a, b;
	json_t *j;

	up_counter("web", "HUP", hup.path, NULL, NULL);
	cr_assert(h_status_instance("web", &a) && a.pid > 0);
	r = h_rsctl("reload", "web", NULL);
	assert_code(r, 0, "reload");
	snprintf(want, sizeof want, "sent SIGHUP to 1 instance of web (pid %d)", (int)a.pid);
	cr_assert(strstr(r->out, want), "the answer: %s\nwant: %s", r->out, want);
	cr_assert(h_wait_until(file_fn, &hup, 10000), "no HUP counted: '%s'", hup.got);
	hup.want = "2";
	r = h_rsctl("--json", "reload", "web", NULL);
	assert_code(r, 0, "reload --json");
	j = h_json(r);
	cr_assert_eq(json_integer_value(json_object_get(j, "signal")), SIGHUP, "%s", r->out);
	cr_assert_eq(json_array_size(json_object_get(j, "instances")), 1, "%s", r->out);
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(
		json_object_get(j, "instances"), 0), "pid")), a.pid, "%s", r->out);
	cr_assert(h_wait_until(file_fn, &hup, 10000), "no second HUP: '%s'", hup.got);
	cr_assert(h_status_instance("web", &b));
	cr_assert_eq(b.pid, a.pid, "reload restarted it");
	cr_assert_eq(b.restarts, 0);
	cr_assert_str_eq(b.state, "running");
	snprintf(want, sizeof want, "SIGHUP to pid %d", (int)a.pid);
	cr_assert(has_event("web", "reload", want), "no reload event");

	up_counter("usr", "USR1", usr.path, "--reload-signal", "USR1");
	cr_assert(h_status_instance("usr", &a));
	r = h_rsctl("reload", "usr", NULL);
	assert_code(r, 0, "reload usr");
	cr_assert(strstr(r->out, "sent SIGUSR1"), "%s", r->out);
	cr_assert(h_wait_until(file_fn, &usr, 10000), "no USR1 counted: '%s'", usr.got);
	cr_assert(h_status_instance("usr", &b) && b.pid == a.pid && b.restarts == 0);
	r = h_rsctl("--json", "describe", "usr", NULL);
	assert_code(r, 0, "describe");
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(h_json(r), "spec"),
				       "reload_signal")), SIGUSR1, "%s", r->out);
	h_pass();
}

/* A restart of w->label after its pid w->old died: running again with
 * another pid and one restart. */
struct wrestart { const char *label; pid_t old; h_inst in; };

static bool restarted_fn(void *arg)
{
	struct wrestart *w = arg;

	return h_status_instance(w->label, &w->in) && w->in.restarts == 1 &&
	       w->in.pid > 0 && w->in.pid != w->old && !strcmp(w->in.state, "running");
}

/* kill -s KILL: the instance dies and its policy restarts it; an event
 * names the signal. */
Test(ops, kill_and_the_policy_restarts, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	h_inst a = up_svc("web", NULL);
	struct wrestart w = { .label = "web", .old = a.pid };
	const h_res *r = h_rsctl("kill", "web", "-s", "KILL", NULL);
	char want[128];

	assert_code(r, 0, "kill -s KILL");
	snprintf(want, sizeof want, "sent SIGKILL to the process groups of 1 instance "
		 "of web (pid %d)", (int)a.pid);
	cr_assert(strstr(r->out, want), "the answer: %s\nwant: %s", r->out, want);
	cr_assert(h_wait_until(restarted_fn, &w, 20000), "not restarted: %s pid %d, "
		  "%d restarts", w.in.state, (int)w.in.pid, w.in.restarts);
	cr_assert_eq(w.in.exit_signal, SIGKILL);
	cr_assert_not(h_pid_alive(a.pid));
	snprintf(want, sizeof want, "SIGKILL to the group of pid %d", (int)a.pid);
	cr_assert(has_event("web", "kill", want), "no kill event");
	h_pass();
}

struct wdead2 { pid_t a, b; };

static bool dead2_fn(void *arg)
{
	const struct wdead2 *w = arg;

	return !h_pid_alive(w->a) && (w->b <= 0 || !h_pid_alive(w->b));
}

/* kill (TERM, the default) reaches every process of the group: the
 * shell (which traps it and stays) and its child (which dies); with
 * --main only the shell (the child stays). */
Test(ops, kill_reaches_the_group, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	struct wfile term = { .path = h_path("terms"), .want = "1" };
	char script[512];
	const char *cpid = h_path("child.pid");
	struct wdead2 w;
	const h_res *r;
	h_inst a, b;
	pid_t child;

	snprintf(script, sizeof script, "n=0; trap 'n=$((n+1)); echo $n > %s' TERM; "
		 "sleep 1000 & echo $! > %s; while :; do sleep 0.1; done",
		 term.path, cpid);
	r = h_rsctl("up", "fam", "--", "/bin/sh", "-c", script, NULL);
	assert_code(r, 0, "up fam");
	cr_assert(h_status_instance("fam", &a) && a.pid > 0);
	child = h_read_pidfile(cpid);
	cr_assert(child > 0 && h_pid_alive(child));
	h_track_pid(child);

	r = h_rsctl("kill", "fam", "--main", NULL);
	assert_code(r, 0, "kill --main");
	cr_assert(strstr(r->out, "sent SIGTERM to 1 instance of fam"), "%s", r->out);
	cr_assert(h_wait_until(file_fn, &term, 10000), "the shell got no TERM: '%s'",
		  term.got);
	cr_assert(h_pid_alive(child), "--main reached the child too");

	term.want = "2";
	assert_code(h_rsctl("kill", "fam", NULL), 0, "kill");
	cr_assert(h_wait_until(file_fn, &term, 10000), "the shell got no second TERM: "
		  "'%s'", term.got);
	w = (struct wdead2){ child, 0 };
	cr_assert(h_wait_until(dead2_fn, &w, 10000), "the child survived SIGTERM to "
		  "the group");
	cr_assert(h_status_instance("fam", &b) && b.pid == a.pid && b.restarts == 0,
		  "the shell did not stay: pid %d, %d restarts", (int)b.pid, b.restarts);
	h_pass();
}

/* The refusals: an unknown label 3, a service that is down 1, a bad
 * signal a usage error before anything is sent. */
Test(ops, reload_and_kill_refusals, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const h_res *r;

	assert_code(h_rsctl("reload", "nosuch", NULL), RS_E_NOENT, "reload nosuch");
	assert_code(h_rsctl("kill", "nosuch", NULL), RS_E_NOENT, "kill nosuch");
	up_svc("web", NULL);
	assert_code(h_rsctl("down", "web", NULL), 0, "down");
	r = h_rsctl("reload", "web", NULL);
	assert_code(r, RS_E_FAILED, "reload of a down service");
	cr_assert(strstr(r->err, "web has no running instance"), "%s", r->err);
	assert_code(h_rsctl("kill", "web", "-s", "KILL", NULL), RS_E_FAILED, "kill down");
	r = h_rsctl("kill", "web", "-s", "NOPE", NULL);
	assert_code(r, RS_E_USAGE, "kill -s NOPE");
	cr_assert(strstr(r->err, "'NOPE' is not a signal"), "%s", r->err);
	h_pass();
}
