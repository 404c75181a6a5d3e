/*
 * test_requests.c - requests across an rsd restart (issue 16): a request
 * that needs the nodes waits for them instead of failing, rsctl resends a
 * request that changes something and rsd recognises it (by actor and
 * request id) instead of running it twice. Real rsd, rs-agent and rsctl
 * (tests/harness.c); waits are on conditions.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codes.h"
#include "harness.h"
#include "msg.h"
#include "net.h"
#include "wire.h"

#define T_TIMEOUT 60

static void setup1(void) { h_setup(1); }
static void setup2(void) { h_setup(2); }
static void teardown(void) { h_teardown(); }

struct w { const char *label; const char *state; h_inst in; };

static bool state_fn(void *arg)
{
	struct w *w = arg;

	return h_status_instance(w->label, &w->in) && !strcmp(w->in.state, w->state);
}

/* The service is wanted down (the down was committed). */
static bool desired_down_fn(void *arg)
{
	struct w *w = arg;

	return h_status_instance(w->label, &w->in) && !strcmp(w->in.desired, "down");
}

/* Right after a kill -9 and restart of rsd every node is unknown until
 * its agent says hello: clone and up wait for that instead of failing
 * with "no connected node". */
Test(requests, clone_right_after_rsd_restart_waits_for_the_nodes, .init = setup2,
     .fini = teardown, .timeout = T_TIMEOUT)
{
	const h_res *r;
	h_inst in;

	r = h_rsctl("up", "web", "--", h_notifysvc(), "--ready", NULL);
	assert_code(r, 0, "up web");
	h_kill_rsd(SIGKILL);
	h_restart_rsd();
	r = h_rsctl("clone", "web", NULL);
	assert_code(r, 0, "clone at once after the rsd restart");
	cr_assert(strstr(r->out, "the standby of web is running"), "clone said: %s", r->out);
	cr_log_info("clone right after the rsd restart took %ld ms", r->elapsed_ms);
	cr_assert(h_status_instance("web", &in) && in.ninstances == 2,
		  "web has %d instances", in.ninstances);
	h_kill_rsd(SIGKILL);
	h_restart_rsd();
	r = h_rsctl("up", "api", "--", h_notifysvc(), "--ready", NULL);
	assert_code(r, 0, "up at once after the rsd restart");
	h_pass();
}

/* rsd killed while rsctl waits for a slow up (READY=1 after 1.5 s): rsctl
 * sends the same request again to the restarted rsd, which waits for the
 * instance its predecessor committed instead of answering "already up";
 * the service runs once. */
Test(requests, up_resent_across_rsd_restart_runs_once, .init = setup1,
     .fini = teardown, .timeout = T_TIMEOUT)
{
	struct w w = { .label = "slow", .state = "starting" };
	const h_res *r;
	h_job *j;
	h_inst in;
	int64_t t0;

	j = h_rsctl_start("up", "slow", "--notify", "notify", "--", h_notifysvc(),
			  "--ready", "--ready-delay", "1500", NULL);
	cr_assert(h_wait_until(state_fn, &w, 15000), "slow never started");
	cr_assert(h_job_running(j), "up returned before ready");
	h_kill_rsd(SIGKILL);
	t0 = h_now_ms();
	h_restart_rsd();
	r = h_job_wait(j, 20000);
	cr_assert(!r->timed_out, "up still waits");
	assert_code(r, 0, "the up rsd was killed under");
	cr_assert(strstr(r->out, "slow is running on node n1"), "up said: %s", r->out);
	cr_assert(strstr(r->err, "rsd restarted; resending the request"),
		  "rsctl did not say it resent: %s", r->err);
	cr_log_info("the resent up answered %lld ms after rsd was killed",
		    (long long)(h_now_ms() - t0));
	cr_assert(h_status_instance("slow", &in) && in.ninstances == 1,
		  "slow has %d instances", in.ninstances);
	cr_assert_str_eq(in.state, "running");
	cr_assert(h_pid_alive(in.pid));
	h_pass();
}

/* The same for a down that takes a while (the service ignores SIGTERM and
 * is killed after its 1.5 s stop timeout): the resent down answers as the
 * first would have. */
Test(requests, down_resent_across_rsd_restart_answers_like_the_first,
     .init = setup1, .fini = teardown, .timeout = T_TIMEOUT)
{
	struct w w = { .label = "stubborn" };
	const h_res *r;
	h_job *j;
	h_inst in;

	r = h_rsctl("up", "stubborn", "--stop-timeout", "1.5", "--", h_notifysvc(),
		    "--ready", "--ignore-term", NULL);
	assert_code(r, 0, "up stubborn");
	cr_assert(h_status_instance("stubborn", &in));
	j = h_rsctl_start("down", "stubborn", NULL);
	cr_assert(h_wait_until(desired_down_fn, &w, 15000), "stubborn never wanted down");
	cr_assert(h_job_running(j), "down returned before the service was down");
	h_kill_rsd(SIGKILL);
	h_restart_rsd();
	r = h_job_wait(j, 20000);
	cr_assert(!r->timed_out, "down still waits");
	assert_code(r, 0, "the down rsd was killed under");
	cr_assert(strstr(r->out, "stubborn is down"), "down said: %s", r->out);
	cr_assert(strstr(r->err, "resending"), "rsctl did not resend: %s", r->err);
	cr_assert(!h_pid_alive(in.pid), "pid %d still alive", (int)in.pid);
	h_pass();
}

/* One request sent by hand (the admin credential, a fixed id): its code
 * and message into code/msg. Returns the net_call result. */
static int raw_request(rs_msg *m, int *code, char *msg, size_t n)
{
	uint8_t *buf = NULL, *rep = NULL;
	size_t len = 0, replen = 0;
	rs_msg got;
	int r;

	cr_assert_eq(wire_encode(m, &buf, &len), 0);
	r = net_call(h_control_ep(), h_curve(), buf, len, 20000, &rep, &replen);
	free(buf);
	if (r < 0)
		return r;
	cr_assert_eq(wire_decode(rep, replen, &got), 0);
	free(rep);
	cr_assert_eq(got.type, RS_MSG_REPLY);
	cr_assert_eq(got.u.reply.id, m->u.request.id);
	*code = got.u.reply.code;
	snprintf(msg, n, "%s", got.u.reply.message ? got.u.reply.message : "");
	rs_msg_clear(&got);
	return 0;
}

/* A duplicate of an answered request gets the recorded answer again (the
 * same pid: it was not run twice, which would say "already up"), from
 * memory and, after an rsd restart, from the store. Another request id is
 * a new request. */
Test(requests, duplicate_gets_the_recorded_outcome, .init = setup1,
     .fini = teardown, .timeout = T_TIMEOUT)
{
	char first[512], again[512];
	int code = -1, code2 = -1;
	rs_msg m;
	h_inst in;

	rs_msg_init(&m, RS_MSG_REQUEST);
	m.u.request.verb = RS_V_UP;
	m.u.request.id = 0x8000000000000123ull;   /* above 2^63 too */
	m.u.request.timeout_ms = 15000;
	strcpy(m.u.request.label, "web");
	strcpy(m.u.request.spec.label, "web");
	cr_assert_eq(rs_spec_add_arg(&m.u.request.spec, h_notifysvc()), 0);
	cr_assert_eq(rs_spec_add_arg(&m.u.request.spec, "--ready"), 0);
	cr_assert_eq(raw_request(&m, &code, first, sizeof first), 0);
	cr_assert_eq(code, 0, "up: %d %s", code, first);
	cr_assert(strstr(first, "web is running on node n1"), "%s", first);

	cr_assert_eq(raw_request(&m, &code2, again, sizeof again), 0);
	cr_assert_eq(code2, 0, "the duplicate: %d %s", code2, again);
	cr_assert_str_eq(again, first);

	h_kill_rsd(SIGKILL);
	h_restart_rsd();
	cr_assert_eq(raw_request(&m, &code2, again, sizeof again), 0);
	cr_assert_eq(code2, 0, "the duplicate after a restart: %d %s", code2, again);
	cr_assert_str_eq(again, first);
	cr_assert(h_status_instance("web", &in) && in.ninstances == 1);

	m.u.request.id++;   /* a new request: run, and refused */
	cr_assert_eq(raw_request(&m, &code2, again, sizeof again), 0);
	cr_assert_eq(code2, RS_E_EXISTS, "a new up: %d %s", code2, again);
	rs_msg_clear(&m);
	net_shutdown();
	h_pass();
}
