/*
 * test_describe.c - rsctl describe LABEL end to end (docs/cli.md
 * "describe"): real rsd, rs-agents and rsctl (tests/harness.c), waits on
 * conditions. What an operator reads after a crash: the spec, every
 * instance with its restarts and last exit, the operation in progress and
 * the label's last events.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codes.h"
#include "harness.h"

#define T_TIMEOUT 60

static void setup2(void) { h_setup(2); }
static void teardown(void) { h_teardown(); }

static json_int_t jint(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/* `describe LABEL --json`, its pids tracked for teardown; NULL unless it
 * exits 0 with JSON. */
static json_t *describe_json(const char *label)
{
	const h_res *r = h_rsctl("--json", "describe", label, NULL);
	json_t *j = r->code == 0 ? h_json(r) : NULL, *in;
	size_t i;

	json_array_foreach(json_object_get(j, "instances"), i, in)
		h_track_pid((pid_t)jint(in, "pid"));
	return j;
}

struct wcrash {
	const char *label;
	pid_t       killed;
	json_t     *j;        /* the last answer (the harness's) */
};

/* Two instances run, one of them again after the kill (restarts >= 1,
 * its last exit the SIGKILL), and the crash is among the events. */
static bool restarted_fn(void *arg)
{
	struct wcrash *w = arg;
	json_t *in, *ev;
	size_t i, running = 0;
	bool again = false, exited = false;

	if (!(w->j = describe_json(w->label)))
		return false;
	json_array_foreach(json_object_get(w->j, "instances"), i, in) {
		const json_t *e = json_object_get(in, "last_exit");

		if (strcmp(h_jstr(in, "state"), "running") || jint(in, "pid") == w->killed)
			continue;
		running++;
		again |= jint(in, "restarts") >= 1 && jint(e, "signal") == SIGKILL;
	}
	json_array_foreach(json_object_get(w->j, "events"), i, ev)
		exited |= !strcmp(h_jstr(ev, "kind"), "exited");
	return running == 2 && again && exited;
}

/* After a crash, --json describe shows the spec, both instances (the
 * crashed one restarted with its last exit) and the crash among the last
 * events, the same ones `events LABEL -n 10` lists; the text names the
 * label and the pids; an unknown label is 3. */
Test(describe, after_a_crash, .init = setup2, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	struct wcrash w = { .label = "web" };
	const json_t *sp, *in, *ev, *first = NULL, *evs;
	json_t *ej;
	const h_res *r;
	json_int_t last_id = 0, last_seq = 0;
	char pid[32];
	size_t i;

	r = h_rsctl("up", "web", "--replicas", "2", "--env", "MODE=fast",
		    "--stop-signal", "INT", "--", h_notifysvc(), "--ready",
		    "--status", "serving", NULL);
	assert_code(r, 0, "up --replicas 2");
	w.j = describe_json("web");
	cr_assert_not_null(w.j, "describe web --json is not JSON");
	cr_assert_eq(json_array_size(json_object_get(w.j, "instances")), 2,
		     "instances: %s", json_dumps(w.j, 0));
	in = json_array_get(json_object_get(w.j, "instances"), 0);
	w.killed = (pid_t)jint(in, "pid");
	cr_assert(w.killed > 1 && h_pid_alive(w.killed), "pid %d", (int)w.killed);
	cr_assert_eq(kill(w.killed, SIGKILL), 0);
	cr_assert(h_wait_until(restarted_fn, &w, 15000), "not restarted: %s",
		  w.j ? json_dumps(w.j, 0) : "(no answer)");

	cr_assert_str_eq(h_jstr(w.j, "label"), "web");
	cr_assert_str_eq(h_jstr(w.j, "state"), "running");
	cr_assert_str_eq(h_jstr(w.j, "desired"), "up");
	cr_assert(json_is_null(json_object_get(w.j, "operation")), "operation: %s",
		  json_dumps(json_object_get(w.j, "operation"), JSON_ENCODE_ANY));
	sp = json_object_get(w.j, "spec");
	cr_assert_str_eq(json_string_value(json_array_get(json_object_get(sp, "command"), 0)),
			 h_notifysvc());
	cr_assert_str_eq(json_string_value(json_array_get(json_object_get(sp, "command"), 1)),
			 "--ready");
	cr_assert_str_eq(json_string_value(json_array_get(json_object_get(sp, "env"), 0)),
			 "MODE=fast");
	cr_assert_eq(jint(sp, "replicas"), 2);
	cr_assert_eq(jint(sp, "stop_signal"), SIGINT);
	cr_assert_str_eq(h_jstr(sp, "restart_policy"), "always");
	cr_assert_str_eq(h_jstr(sp, "notify"), "auto");
	cr_assert(jint(json_object_get(sp, "backoff"), "initial_ms") > 0);

	/* oldest first; each on an up node; the crashed one restarted */
	json_array_foreach(json_object_get(w.j, "instances"), i, in) {
		const json_t *e = json_object_get(in, "last_exit");

		cr_assert_gt(jint(in, "id"), last_id, "instances out of order");
		last_id = jint(in, "id");
		cr_assert_str_eq(h_jstr(in, "node_state"), "up");
		cr_assert_gt(jint(in, "started_ms"), 0);
		if (jint(in, "restarts") >= 1) {
			first = in;
			cr_assert_eq(jint(e, "signal"), SIGKILL);
			cr_assert_str_eq(h_jstr(e, "reason"), "signaled");
		}
	}
	cr_assert_not_null(first, "no instance counts the restart");

	/* the label's last 10 events, newest last: those events -n 10 lists */
	evs = json_object_get(w.j, "events");
	cr_assert(json_array_size(evs) > 0 && json_array_size(evs) <= 10,
		  "%zu events", json_array_size(evs));
	json_array_foreach(evs, i, ev) {
		cr_assert_str_eq(h_jstr(ev, "label"), "web");
		cr_assert_gt(jint(ev, "seq"), last_seq, "events out of order");
		last_seq = jint(ev, "seq");
	}
	r = h_rsctl("--json", "events", "web", "-n", "10", NULL);
	assert_code(r, 0, "events web -n 10");
	ej = h_json(r);
	json_array_foreach(json_object_get(ej, "events"), i, ev)
		if (jint(ev, "seq") <= last_seq)   /* newer ones may have come */
			cr_assert(jint(ev, "seq") >= jint(json_array_get(evs, 0), "seq"),
				  "events -n 10 has seq %lld that describe left out",
				  (long long)jint(ev, "seq"));

	/* the text: the label, each pid, the crash */
	r = h_rsctl("describe", "web", NULL);
	assert_code(r, 0, "describe web");
	cr_assert(strstr(r->out, "web"), "%s", r->out);
	json_array_foreach(json_object_get(w.j, "instances"), i, in) {
		snprintf(pid, sizeof pid, " %lld ", (long long)jint(in, "pid"));
		cr_assert(strstr(r->out, pid), "pid%sis not shown:\n%s", pid, r->out);
	}
	cr_assert(strstr(r->out, "signaled KILL"), "%s", r->out);
	cr_assert(strstr(r->out, "exited"), "%s", r->out);
	cr_assert(strstr(r->out, "SIGINT, then SIGKILL after 2s"), "%s", r->out);

	r = h_rsctl("describe", "nosuch", NULL);
	assert_code(r, RS_E_NOENT, "describe of an unknown service");
	cr_assert(strstr(r->err, "unknown service 'nosuch'"), "%s", r->err);
	r = h_rsctl("--json", "describe", "nosuch", NULL);
	assert_code(r, RS_E_NOENT, "describe --json of an unknown service");
	cr_assert_str_eq(r->out, "", "%s", r->out);
	h_pass();
}

struct wop {
	json_t *j;
};

/* describe web shows an operation in progress. */
static bool op_fn(void *arg)
{
	struct wop *w = arg;

	w->j = describe_json("slow");
	return w->j && json_is_object(json_object_get(w->j, "operation"));
}

/* While an up waits for its instance to be ready, describe names the
 * operation and who asked; a service that is down has no instance
 * running and says it wants none. */
Test(describe, operation_in_progress, .init = setup2, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	struct wop w = { 0 };
	const json_t *op;
	h_job *up;
	const h_res *r;

	up = h_rsctl_start("up", "slow", "--notify", "notify", "--", h_notifysvc(), "--ready",
			   "--ready-delay", "3000", NULL);
	cr_assert(h_wait_until(op_fn, &w, 10000), "no operation shown: %s",
		  w.j ? json_dumps(w.j, 0) : "(no answer)");
	op = json_object_get(w.j, "operation");
	cr_assert_str_eq(h_jstr(op, "kind"), "up");
	cr_assert_gt(jint(op, "started_ms"), 0);
	cr_assert(strlen(h_jstr(op, "caller")) > 0, "no caller");
	r = h_rsctl("describe", "slow", NULL);
	assert_code(r, 0, "describe during up");
	cr_assert(strstr(r->out, "up in progress since"), "%s", r->out);
	assert_code(h_job_wait(up, 20000), 0, "up slow");

	assert_code(h_rsctl("down", "slow", NULL), 0, "down slow");
	w.j = describe_json("slow");
	cr_assert_not_null(w.j);
	cr_assert_str_eq(h_jstr(w.j, "desired"), "down");
	cr_assert(json_is_null(json_object_get(w.j, "operation")));
	h_pass();
}
