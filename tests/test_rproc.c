/*
 * test_rproc.c - the instance life-cycle state machine.
 *
 * (a) every (state, event) pair against the accepts/next tables, in many
 *     field variants; refused events leave rp unchanged and fx empty;
 * (b-j) scenarios driven by a fake clock, with exit statuses taken from real
 *     children (killed by SIGKILL, or _exit(n)) and rproc_classify.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backoff.h"
#include "rproc.h"

/* ---------- helpers ---------- */

static rs_backoff def_backoff(void)
{
	rs_backoff b = {
		.initial_ms = RS_DEF_BACKOFF_INITIAL,
		.factor = RS_DEF_BACKOFF_FACTOR,
		.max_ms = RS_DEF_BACKOFF_MAX,
		.reset_ms = RS_DEF_BACKOFF_RESET,
	};
	return b;
}

/* A real wait status: the child _exit()s with code, or, if sig > 0, dies of
 * that signal. */
static int real_status(int code, int sig)
{
	int st = 0;
	pid_t pid = fork();

	cr_assert_neq(pid, -1, "fork: %s", strerror(errno));
	if (pid == 0) {
		if (sig > 0) {
			signal(sig, SIG_DFL);
			raise(sig);
			for (;;)
				pause();
		}
		_exit(code);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	return st;
}

static void die_signal(rproc *rp, int sig)
{
	rproc_classify(real_status(0, sig), &rp->exit);
}

static void die_code(rproc *rp, int code)
{
	rproc_classify(real_status(code, 0), &rp->exit);
}

static rproc_fx step_ok(rproc *rp, rproc_event ev, uint64_t now)
{
	rproc_fx fx;
	rs_istate from = rp->state;
	int r = rproc_step(rp, ev, now, &fx);

	cr_assert_eq(r, 0, "%s in %s refused (%d)", rproc_event_to_string(ev),
		     rs_istate_to_string(from), r);
	cr_assert(rproc_allowed(from, rp->state), "%s -> %s not allowed",
		  rs_istate_to_string(from), rs_istate_to_string(rp->state));
	return fx;
}

static void expect_state(const rproc *rp, rs_istate s)
{
	cr_assert_eq(rp->state, s, "state %s, want %s",
		     rs_istate_to_string(rp->state), rs_istate_to_string(s));
}

/* fx has all bits of `on` and none of `off`. */
static void expect_fx(const rproc_fx *fx, unsigned on, unsigned off)
{
	cr_expect_eq(fx->fx & on, on, "fx 0x%x lacks 0x%x", fx->fx,
		     on & ~fx->fx);
	cr_expect_eq(fx->fx & off, 0, "fx 0x%x has unwanted 0x%x", fx->fx,
		     fx->fx & off);
}

/* START at t and READY at t + 10: a running instance. */
static void start_ready(rproc *rp, uint64_t t)
{
	rproc_fx fx = step_ok(rp, RP_EV_START, t);

	expect_state(rp, RS_IS_STARTING);
	expect_fx(&fx, RP_FX_SPAWN | RP_FX_ARM_READY, RP_FX_ARM_BACKOFF);
	fx = step_ok(rp, RP_EV_READY, t + 10);
	expect_state(rp, RS_IS_RUNNING);
	expect_fx(&fx, RP_FX_ARM_WDOG, RP_FX_SPAWN | RP_FX_KILL);
}

static void same_rproc(const rproc *a, const rproc *b, const char *what)
{
	cr_expect_eq(a->state, b->state, "%s: state", what);
	cr_expect_eq(a->policy, b->policy, "%s: policy", what);
	cr_expect_eq(a->backoff.initial_ms, b->backoff.initial_ms, "%s", what);
	cr_expect_eq(a->backoff.factor, b->backoff.factor, "%s", what);
	cr_expect_eq(a->backoff.max_ms, b->backoff.max_ms, "%s", what);
	cr_expect_eq(a->backoff.reset_ms, b->backoff.reset_ms, "%s", what);
	cr_expect_eq(a->backoff.disabled, b->backoff.disabled, "%s", what);
	cr_expect_eq(a->streak, b->streak, "%s: streak", what);
	cr_expect_eq(a->restarts, b->restarts, "%s: restarts", what);
	cr_expect_eq(a->started_ms, b->started_ms, "%s: started_ms", what);
	cr_expect_eq(a->ever_ready, b->ever_ready, "%s: ever_ready", what);
	cr_expect_eq(a->stop_requested, b->stop_requested, "%s: stop_req",
		     what);
	cr_expect_eq(a->kill_reason, b->kill_reason, "%s: kill_reason", what);
	cr_expect_eq(a->exit.code, b->exit.code, "%s: exit.code", what);
	cr_expect_eq(a->exit.signal, b->exit.signal, "%s: exit.signal", what);
	cr_expect_eq(a->exit.reason, b->exit.reason, "%s: exit.reason", what);
	cr_expect_eq(a->exit.time_ms, b->exit.time_ms, "%s: exit.time", what);
	cr_expect_eq(memcmp(a, b, sizeof *a), 0, "%s: bytes differ", what);
}

/* ---------- (a) the full (state, event) matrix ---------- */

/* One variant of the fields that do not depend on a pid. */
struct variant {
	bool ever_ready, stop_requested, disabled;
	rs_policy policy;
	rs_exit_reason kill_reason;
	int exit_kind;          /* 0: exit 0, 1: exit 3, 2: SIGKILL */
	uint64_t up_ms;         /* now - started_ms */
};

static void make_rproc(rproc *rp, rs_istate s, const struct variant *v)
{
	rs_backoff b = def_backoff();

	memset(rp, 0, sizeof *rp);
	b.disabled = v->disabled;
	rproc_init(rp, v->policy, &b);
	rp->state = s;
	rp->ever_ready = v->ever_ready;
	rp->stop_requested = v->stop_requested;
	rp->kill_reason = v->kill_reason;
	rp->streak = 3;
	rp->restarts = 7;
	rp->started_ms = 100000;
	switch (v->exit_kind) {
	case 0:
		rp->exit.reason = RS_ER_EXITED;
		break;
	case 1:
		rp->exit.reason = RS_ER_EXITED;
		rp->exit.code = 3;
		break;
	default:
		rp->exit.reason = RS_ER_SIGNALED;
		rp->exit.signal = SIGKILL;
		break;
	}
}

static void check_pair(rs_istate s, rproc_event ev, const struct variant *v,
		       unsigned *accepted)
{
	rproc rp, before;
	rproc_fx fx;
	uint64_t now = 100000 + v->up_ms;
	char what[160];
	int r;

	make_rproc(&rp, s, v);
	memcpy(&before, &rp, sizeof rp);
	memset(&fx, 0xa5, sizeof fx);
	r = rproc_step(&rp, ev, now, &fx);
	snprintf(what, sizeof what,
		 "%s/%s (ready %d, stopreq %d, pol %d, kill %d, exit %d, up %llu)",
		 rs_istate_to_string(s), rproc_event_to_string(ev),
		 v->ever_ready, v->stop_requested, v->policy, v->kill_reason,
		 v->exit_kind, (unsigned long long)v->up_ms);

	if (!rproc_accepts(s, ev)) {
		cr_expect_eq(r, -EINVAL, "%s: returned %d, want -EINVAL",
			     what, r);
		same_rproc(&rp, &before, what);
		cr_expect_eq(fx.fx, 0, "%s: fx 0x%x on refusal", what, fx.fx);
		cr_expect_eq(fx.delay_ms, 0, "%s: delay on refusal", what);
		cr_expect_eq(fx.reason, RS_ER_NONE, "%s: reason on refusal",
			     what);
		return;
	}
	(*accepted)++;
	cr_expect_eq(r, 0, "%s: refused (%d) though accepted", what, r);
	if (r != 0)
		return;
	cr_expect(rproc_allowed(s, rp.state), "%s: move %s -> %s undeclared",
		  what, rs_istate_to_string(s),
		  rs_istate_to_string(rp.state));
	cr_expect(rp.state >= RS_IS_PENDING && rp.state <= RS_IS_FAILED &&
		  (rp.state != RS_IS_EXITED || rp.hold), "%s: lands in %s", what,
		  rs_istate_to_string(rp.state));
	/* effects are consistent with the new state */
	cr_expect_eq(!!(fx.fx & RP_FX_SPAWN), rp.state == RS_IS_STARTING,
		     "%s: SPAWN 0x%x vs %s", what, fx.fx,
		     rs_istate_to_string(rp.state));
	if (fx.fx & RP_FX_SPAWN)
		cr_expect(fx.fx & RP_FX_ARM_READY, "%s: spawn w/o ready timer",
			  what);
	cr_expect_eq(!!(fx.fx & RP_FX_ARM_BACKOFF), rp.state == RS_IS_BACKOFF,
		     "%s: ARM_BACKOFF 0x%x vs %s", what, fx.fx,
		     rs_istate_to_string(rp.state));
	if (fx.fx & RP_FX_ARM_BACKOFF)
		cr_expect_gt(fx.delay_ms, 0, "%s: backoff with no delay", what);
	else
		cr_expect_eq(fx.delay_ms, 0, "%s: delay %u without backoff",
			     what, fx.delay_ms);
	if (fx.fx & RP_FX_RESTARTED)
		cr_expect_eq(rp.restarts, before.restarts + 1, "%s", what);
	else
		cr_expect_eq(rp.restarts, before.restarts, "%s", what);
	cr_expect_eq(rp.policy, before.policy, "%s: policy changed", what);
	cr_expect((unsigned)fx.reason < RS_ER__NR, "%s: reason %d", what,
		  fx.reason);
}

Test(rproc, every_state_event_pair, .timeout = 10)
{
	static const rs_exit_reason kills[] = {
		RS_ER_NONE, RS_ER_NO_HEARTBEAT, RS_ER_READY_TIMEOUT,
		RS_ER_PROBE_FAILED,
	};
	static const uint64_t ups[] = { 0, 500, RS_DEF_BACKOFF_RESET };
	unsigned accepted[RS_IS__NR][RP_EV__NR] = { { 0 } };
	unsigned variants = 0;

	for (int er = 0; er < 2; er++)
	for (int sr = 0; sr < 2; sr++)
	for (int dis = 0; dis < 2; dis++)
	for (int pol = 0; pol < RS_RP__NR; pol++)
	for (size_t k = 0; k < sizeof kills / sizeof kills[0]; k++)
	for (int ek = 0; ek < 3; ek++)
	for (size_t u = 0; u < sizeof ups / sizeof ups[0]; u++) {
		struct variant v = {
			.ever_ready = er, .stop_requested = sr,
			.disabled = dis, .policy = (rs_policy)pol,
			.kill_reason = kills[k], .exit_kind = ek,
			.up_ms = ups[u],
		};

		variants++;
		for (int s = RS_IS_PENDING; s <= RS_IS_FAILED; s++)
			for (int ev = 0; ev < RP_EV__NR; ev++)
				check_pair((rs_istate)s, (rproc_event)ev, &v,
					   &accepted[s][ev]);
	}
	/* every accepted pair was exercised in every variant */
	for (int s = RS_IS_PENDING; s <= RS_IS_FAILED; s++)
		for (int ev = 0; ev < RP_EV__NR; ev++)
			cr_expect_eq(accepted[s][ev],
				     rproc_accepts((rs_istate)s,
						   (rproc_event)ev) ? variants
								    : 0);
}

/* The accepts table itself, as documented by the header diagram. */
Test(rproc, accepts_table_contents, .timeout = 10)
{
	cr_expect(rproc_accepts(RS_IS_PENDING, RP_EV_START));
	cr_expect(rproc_accepts(RS_IS_STARTING, RP_EV_READY));
	cr_expect(rproc_accepts(RS_IS_STARTING, RP_EV_READY_TIMEOUT));
	cr_expect(rproc_accepts(RS_IS_STARTING, RP_EV_SPAWN_FAILED));
	cr_expect(rproc_accepts(RS_IS_STARTING, RP_EV_EXIT));
	cr_expect(rproc_accepts(RS_IS_RUNNING, RP_EV_WATCHDOG_MISS));
	cr_expect(rproc_accepts(RS_IS_RUNNING, RP_EV_PROBE_FAILED));
	cr_expect(rproc_accepts(RS_IS_STARTING, RP_EV_PROBE_FAILED));
	cr_expect(rproc_accepts(RS_IS_RUNNING, RP_EV_EXIT));
	cr_expect(rproc_accepts(RS_IS_RUNNING, RP_EV_STOP));
	cr_expect(rproc_accepts(RS_IS_STOPPING, RP_EV_STOP_TIMEOUT));
	cr_expect(rproc_accepts(RS_IS_STOPPING, RP_EV_EXIT));
	cr_expect(rproc_accepts(RS_IS_BACKOFF, RP_EV_BACKOFF_DONE));
	cr_expect(rproc_accepts(RS_IS_BACKOFF, RP_EV_STOP));
	cr_expect(rproc_accepts(RS_IS_DOWN, RP_EV_START));
	cr_expect(rproc_accepts(RS_IS_FAILED, RP_EV_START));

	cr_expect_not(rproc_accepts(RS_IS_PENDING, RP_EV_EXIT));
	cr_expect_not(rproc_accepts(RS_IS_RUNNING, RP_EV_START));
	cr_expect_not(rproc_accepts(RS_IS_RUNNING, RP_EV_BACKOFF_DONE));
	cr_expect_not(rproc_accepts(RS_IS_STARTING, RP_EV_WATCHDOG_MISS));
	cr_expect_not(rproc_accepts(RS_IS_DOWN, RP_EV_EXIT));
	cr_expect_not(rproc_accepts(RS_IS_BACKOFF, RP_EV_EXIT));
	cr_expect_not(rproc_accepts(RS_IS_STOPPING, RP_EV_PROBE_FAILED));
	cr_expect_not(rproc_accepts(RS_IS_BACKOFF, RP_EV_PROBE_FAILED));
	/* every managed state can be stopped (EXITED: a script's 'down') */
	for (int s = RS_IS_PENDING; s <= RS_IS_FAILED; s++)
		cr_expect(rproc_accepts((rs_istate)s, RP_EV_STOP),
			  "%s", rs_istate_to_string((rs_istate)s));
}

Test(rproc, unmanaged_states_accept_nothing, .timeout = 10)
{
	static const rs_istate dead[] = {
		RS_IS_UNKNOWN, RS_IS_LOST, RS_IS__NR,
		(rs_istate)(RS_IS__NR + 5),
	};

	for (size_t i = 0; i < sizeof dead / sizeof dead[0]; i++) {
		for (int ev = 0; ev <= RP_EV__NR; ev++) {
			rs_backoff b = def_backoff();
			rproc rp, before;
			rproc_fx fx;

			memset(&rp, 0, sizeof rp);
			rproc_init(&rp, RS_RP_ALWAYS, &b);
			rp.state = dead[i];
			rp.ever_ready = true;
			memcpy(&before, &rp, sizeof rp);
			memset(&fx, 0xff, sizeof fx);
			cr_expect_not(rproc_accepts(dead[i], (rproc_event)ev),
				      "state %d accepts %s", dead[i],
				      rproc_event_to_string((rproc_event)ev));
			cr_expect_eq(rproc_step(&rp, (rproc_event)ev, 1000,
						&fx), -EINVAL);
			cr_expect_eq(memcmp(&rp, &before, sizeof rp), 0);
			cr_expect_eq(fx.fx, 0);
		}
	}
}

Test(rproc, unknown_event_refused_everywhere, .timeout = 10)
{
	for (int s = 0; s < RS_IS__NR; s++) {
		rs_backoff b = def_backoff();
		rproc rp, before;
		rproc_fx fx;

		memset(&rp, 0, sizeof rp);
		rproc_init(&rp, RS_RP_ALWAYS, &b);
		rp.state = (rs_istate)s;
		memcpy(&before, &rp, sizeof rp);
		cr_expect_not(rproc_accepts((rs_istate)s, RP_EV__NR));
		cr_expect_eq(rproc_step(&rp, RP_EV__NR, 5, &fx), -EINVAL);
		cr_expect_eq(memcmp(&rp, &before, sizeof rp), 0);
		cr_expect_eq(fx.fx, 0);
	}
}

Test(rproc, allowed_table_sanity, .timeout = 10)
{
	for (int s = 0; s < RS_IS__NR; s++) {
		/* nothing ever goes (back) to UNKNOWN, PENDING, LOST; EXITED
		 * only from a state with a process (script hold) */
		cr_expect_not(rproc_allowed((rs_istate)s, RS_IS_UNKNOWN));
		cr_expect_not(rproc_allowed((rs_istate)s, RS_IS_PENDING));
		if (s != RS_IS_STARTING && s != RS_IS_RUNNING && s != RS_IS_STOPPING)
			cr_expect_not(rproc_allowed((rs_istate)s, RS_IS_EXITED));
		cr_expect_not(rproc_allowed((rs_istate)s, RS_IS_LOST));
		cr_expect_not(rproc_allowed((rs_istate)s, RS_IS__NR));
		cr_expect_not(rproc_allowed(RS_IS__NR, (rs_istate)s));
	}
	for (int s = 0; s < RS_IS__NR; s++)
		cr_expect_not(rproc_allowed(RS_IS_UNKNOWN, (rs_istate)s));
	cr_expect(rproc_allowed(RS_IS_PENDING, RS_IS_STARTING));
	cr_expect(rproc_allowed(RS_IS_STARTING, RS_IS_RUNNING));
	cr_expect(rproc_allowed(RS_IS_RUNNING, RS_IS_STOPPING));
	cr_expect(rproc_allowed(RS_IS_STOPPING, RS_IS_DOWN));
	cr_expect(rproc_allowed(RS_IS_BACKOFF, RS_IS_STARTING));
	cr_expect_not(rproc_allowed(RS_IS_PENDING, RS_IS_RUNNING));
	cr_expect_not(rproc_allowed(RS_IS_BACKOFF, RS_IS_RUNNING));
	cr_expect_not(rproc_allowed(RS_IS_DOWN, RS_IS_RUNNING));
}

Test(rproc, event_names, .timeout = 10)
{
	for (int a = 0; a < RP_EV__NR; a++) {
		const char *n = rproc_event_to_string((rproc_event)a);

		cr_assert_not_null(n);
		cr_expect_str_neq(n, "invalid");
		cr_expect_neq(n[0], '\0');
		for (int b = 0; b < a; b++)
			cr_expect_str_neq(n,
				rproc_event_to_string((rproc_event)b));
	}
	cr_expect_str_eq(rproc_event_to_string(RP_EV_EXIT), "exit");
	cr_expect_str_eq(rproc_event_to_string(RP_EV__NR), "invalid");
	cr_expect_str_eq(rproc_event_to_string((rproc_event)-1), "invalid");
}

Test(rproc, init_is_pending, .timeout = 10)
{
	rs_backoff b = def_backoff();
	rproc rp;

	memset(&rp, 0xff, sizeof rp);
	rproc_init(&rp, RS_RP_ON_FAILURE, &b);
	cr_expect_eq(rp.state, RS_IS_PENDING);
	cr_expect_eq(rp.policy, RS_RP_ON_FAILURE);
	cr_expect_eq(rp.backoff.initial_ms, b.initial_ms);
	cr_expect_eq(rp.backoff.reset_ms, b.reset_ms);
	cr_expect_eq(rp.streak, 0);
	cr_expect_eq(rp.restarts, 0);
	cr_expect_not(rp.ever_ready);
	cr_expect_not(rp.stop_requested);
	cr_expect_eq(rp.kill_reason, RS_ER_NONE);
	cr_expect_eq(rp.exit.reason, RS_ER_NONE);
}

/* ---------- rproc_classify on real wait statuses ---------- */

Test(rproc, classify_real_statuses, .timeout = 10)
{
	rs_exit e;

	memset(&e, 0xff, sizeof e);
	rproc_classify(real_status(0, SIGKILL), &e);
	cr_expect_eq(e.reason, RS_ER_SIGNALED);
	cr_expect_eq(e.signal, SIGKILL);
	cr_expect_eq(e.code, 0);
	cr_expect_eq(e.time_ms, 0);

	rproc_classify(real_status(0, SIGTERM), &e);
	cr_expect_eq(e.reason, RS_ER_SIGNALED);
	cr_expect_eq(e.signal, SIGTERM);

	rproc_classify(real_status(3, 0), &e);
	cr_expect_eq(e.reason, RS_ER_EXITED);
	cr_expect_eq(e.code, 3);
	cr_expect_eq(e.signal, 0);

	rproc_classify(real_status(0, 0), &e);
	cr_expect_eq(e.reason, RS_ER_EXITED);
	cr_expect_eq(e.code, 0);

	rproc_classify(real_status(255, 0), &e);
	cr_expect_eq(e.code, 255);
}

/* ---------- (b) start, ready, crash, backoff sequence, reset ---------- */

Test(rproc, start_ready, .timeout = 10)
{
	rs_backoff b = def_backoff();
	rproc rp;
	rproc_fx fx;

	rproc_init(&rp, RS_RP_ALWAYS, &b);
	fx = step_ok(&rp, RP_EV_START, 1000);
	expect_state(&rp, RS_IS_STARTING);
	expect_fx(&fx, RP_FX_SPAWN | RP_FX_ARM_READY,
		  RP_FX_KILL | RP_FX_STOP_SIGNAL | RP_FX_ARM_BACKOFF |
		  RP_FX_ARM_WDOG | RP_FX_RESTARTED);
	cr_expect_eq(rp.started_ms, 1000);
	cr_expect_eq(fx.reason, RS_ER_NONE);

	fx = step_ok(&rp, RP_EV_READY, 1500);
	expect_state(&rp, RS_IS_RUNNING);
	expect_fx(&fx, RP_FX_ARM_WDOG,
		  RP_FX_SPAWN | RP_FX_KILL | RP_FX_ARM_BACKOFF |
		  RP_FX_RESTARTED);
	cr_expect(rp.ever_ready);
	cr_expect_eq(rp.started_ms, 1000, "READY does not move started_ms");

	/* a second READY (e.g. after reload) is harmless */
	fx = step_ok(&rp, RP_EV_READY, 1600);
	expect_state(&rp, RS_IS_RUNNING);
	expect_fx(&fx, 0, RP_FX_SPAWN | RP_FX_KILL | RP_FX_ARM_BACKOFF);
}

Test(rproc, crash_backoff_sequence_and_reset, .timeout = 10)
{
	static const uint32_t want[] = { 2000, 4000, 8000, 16000, 30000,
					 30000, 30000 };
	rs_backoff b = def_backoff();
	uint64_t t = 0;
	rproc rp;
	rproc_fx fx;

	rproc_init(&rp, RS_RP_ALWAYS, &b);
	start_ready(&rp, t);

	/* first crash: restart at once */
	t += 1000;
	die_signal(&rp, SIGKILL);
	cr_expect_eq(rp.exit.signal, 9);
	fx = step_ok(&rp, RP_EV_EXIT, t);
	expect_state(&rp, RS_IS_STARTING);
	expect_fx(&fx, RP_FX_SPAWN | RP_FX_RESTARTED | RP_FX_ARM_READY |
		  RP_FX_DISARM, RP_FX_ARM_BACKOFF);
	cr_expect_eq(fx.delay_ms, 0);
	cr_expect_eq(fx.reason, RS_ER_SIGNALED);
	cr_expect_eq(rp.exit.reason, RS_ER_SIGNALED);
	cr_expect_eq(rp.restarts, 1);
	cr_expect_eq(rp.streak, 1);
	cr_expect_eq(rp.started_ms, t);

	/* further crashes within the reset window back off */
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		t += 500;
		if (i % 2 == 0) {   /* ready or not: ever_ready stays */
			fx = step_ok(&rp, RP_EV_READY, t);
			expect_state(&rp, RS_IS_RUNNING);
		}
		t += 500;
		die_signal(&rp, SIGKILL);
		fx = step_ok(&rp, RP_EV_EXIT, t);
		expect_state(&rp, RS_IS_BACKOFF);
		expect_fx(&fx, RP_FX_ARM_BACKOFF | RP_FX_RESTARTED |
			  RP_FX_DISARM, RP_FX_SPAWN);
		cr_expect_eq(fx.delay_ms, want[i], "crash %zu: delay %u, "
			     "want %u", i + 2, fx.delay_ms, want[i]);
		cr_expect_eq(fx.reason, RS_ER_SIGNALED);
		cr_expect_eq(rp.restarts, i + 2);

		t += fx.delay_ms;
		fx = step_ok(&rp, RP_EV_BACKOFF_DONE, t);
		expect_state(&rp, RS_IS_STARTING);
		expect_fx(&fx, RP_FX_SPAWN | RP_FX_ARM_READY,
			  RP_FX_ARM_BACKOFF | RP_FX_RESTARTED);
		cr_expect_eq(rp.started_ms, t);
	}

	/* a healthy run of reset_ms (60 s) ends the streak: immediate restart.
	 * BUG if this fails: backoff_next_streak returns 0 on reset and
	 * rproc_after_death computes backoff_delay_ms(streak - 1 = UINT32_MAX)
	 * = the 30000 ms cap. */
	fx = step_ok(&rp, RP_EV_READY, t + 100);
	t += RS_DEF_BACKOFF_RESET + 1;
	die_signal(&rp, SIGKILL);
	fx = step_ok(&rp, RP_EV_EXIT, t);
	cr_expect_eq(rp.state, RS_IS_STARTING,
		     "after a 60 s run: state %s (delay %u), want starting",
		     rs_istate_to_string(rp.state), fx.delay_ms);
	cr_expect_eq(fx.delay_ms, 0);
	expect_fx(&fx, RP_FX_SPAWN | RP_FX_RESTARTED, RP_FX_ARM_BACKOFF);

	/* and the next quick crash is the 2nd of a new streak: 2000 */
	if (rp.state == RS_IS_BACKOFF) {
		t += fx.delay_ms;
		step_ok(&rp, RP_EV_BACKOFF_DONE, t);
	}
	t += 1000;
	die_signal(&rp, SIGKILL);
	fx = step_ok(&rp, RP_EV_EXIT, t);
	expect_state(&rp, RS_IS_BACKOFF);
	cr_expect_eq(fx.delay_ms, 2000);
}

/* reset_ms is measured from the spawn; uptime == reset_ms resets,
 * reset_ms - 1 does not. */
Test(rproc, reset_boundary, .timeout = 10)
{
	rs_backoff b = def_backoff();
	rproc rp;
	rproc_fx fx;

	rproc_init(&rp, RS_RP_ALWAYS, &b);
	start_ready(&rp, 0);
	die_signal(&rp, SIGKILL);
	step_ok(&rp, RP_EV_EXIT, 10);               /* streak 1, restart */
	expect_state(&rp, RS_IS_STARTING);
	die_code(&rp, 1);
	fx = step_ok(&rp, RP_EV_EXIT, 10 + RS_DEF_BACKOFF_RESET - 1);
	expect_state(&rp, RS_IS_BACKOFF);
	cr_expect_eq(fx.delay_ms, 2000, "59.999 s up: still in the streak");
	cr_expect_eq(fx.reason, RS_ER_EXITED);

	step_ok(&rp, RP_EV_BACKOFF_DONE, 100000);
	die_code(&rp, 1);
	fx = step_ok(&rp, RP_EV_EXIT, 100000 + RS_DEF_BACKOFF_RESET);
	/* BUG if this fails: see crash_backoff_sequence_and_reset */
	cr_expect_eq(rp.state, RS_IS_STARTING, "60 s up: state %s delay %u",
		     rs_istate_to_string(rp.state), fx.delay_ms);
	cr_expect_eq(fx.delay_ms, 0);
}

/* reset_ms == 0: the streak never resets, even after long runs. */
Test(rproc, no_reset_when_reset_ms_zero, .timeout = 10)
{
	rs_backoff b = def_backoff();
	uint64_t t = 0;
	rproc rp;
	rproc_fx fx;

	b.reset_ms = 0;
	rproc_init(&rp, RS_RP_ALWAYS, &b);
	start_ready(&rp, t);
	t += 1000000;
	die_signal(&rp, SIGKILL);
	fx = step_ok(&rp, RP_EV_EXIT, t);
	expect_state(&rp, RS_IS_STARTING);
	t += 1000000;
	die_signal(&rp, SIGKILL);
	fx = step_ok(&rp, RP_EV_EXIT, t);
	expect_state(&rp, RS_IS_BACKOFF);
	cr_expect_eq(fx.delay_ms, 2000);
}

/* A clock that goes backwards (now < started_ms) counts as uptime 0. */
Test(rproc, clock_backwards_is_uptime_zero, .timeout = 10)
{
	rs_backoff b = def_backoff();
	rproc rp;
	rproc_fx fx;

	rproc_init(&rp, RS_RP_ALWAYS, &b);
	start_ready(&rp, 500000);
	die_signal(&rp, SIGKILL);
	fx = step_ok(&rp, RP_EV_EXIT, 10);
	expect_state(&rp, RS_IS_STARTING);
	die_signal(&rp, SIGKILL);
	fx = step_ok(&rp, RP_EV_EXIT, 5);
	expect_state(&rp, RS_IS_BACKOFF);
	cr_expect_eq(fx.delay_ms, 2000);
}

/* ---------- (c) watchdog ---------- */

Test(rproc, watchdog_miss_kills_and_restarts, .timeout = 10)
{
	rs_backoff b = def_backoff();
	rproc rp;
	rproc_fx fx;

	rproc_init(&rp, RS_RP_ALWAYS, &b);
	start_ready(&rp, 0);
	fx = step_ok(&rp, RP_EV_WATCHDOG_MISS, 5000);
	expect_state(&rp, RS_IS_STOPPING);
	expect_fx(&fx, RP_FX_KILL, RP_FX_SPAWN | RP_FX_STOP_SIGNAL |
		  RP_FX_RESTARTED | RP_FX_ARM_BACKOFF);
	cr_expect_eq(rp.kill_reason, RS_ER_NO_HEARTBEAT);
	cr_expect_eq(rp.restarts, 0);

	die_signal(&rp, SIGKILL);
	fx = step_ok(&rp, RP_EV_EXIT, 5010);
	cr_expect_eq(fx.reason, RS_ER_NO_HEARTBEAT);
	cr_expect_eq(rp.exit.reason, RS_ER_NO_HEARTBEAT);
	cr_expect_eq(rp.exit.signal, SIGKILL);
	expect_state(&rp, RS_IS_STARTING);
	expect_fx(&fx, RP_FX_SPAWN | RP_FX_RESTARTED | RP_FX_ARM_READY,
		  RP_FX_ARM_BACKOFF);
	cr_expect_eq(rp.restarts, 1);
	cr_expect_eq(rp.kill_reason, RS_ER_NONE, "new spawn clears it");

	/* the next, unrelated crash reports its own reason */
	step_ok(&rp, RP_EV_READY, 5100);
	die_code(&rp, 2);
	fx = step_ok(&rp, RP_EV_EXIT, 5200);
	cr_expect_eq(fx.reason, RS_ER_EXITED);
}

/* A liveness probe's verdict kills like a missed watchdog, with its own
 * reason, and the restart follows the policy. */
Test(rproc, probe_failed_kills_and_restarts, .timeout = 10)
{
	rs_backoff b = def_backoff();
	rproc rp;
	rproc_fx fx;

	rproc_init(&rp, RS_RP_ON_FAILURE, &b);
	start_ready(&rp, 0);
	fx = step_ok(&rp, RP_EV_PROBE_FAILED, 5000);
	expect_state(&rp, RS_IS_STOPPING);
	expect_fx(&fx, RP_FX_KILL | RP_FX_DISARM, RP_FX_SPAWN | RP_FX_STOP_SIGNAL |
		  RP_FX_RESTARTED);
	cr_expect_eq(rp.kill_reason, RS_ER_PROBE_FAILED);
	die_code(&rp, 0);   /* a clean exit after the kill is still a failure */
	fx = step_ok(&rp, RP_EV_EXIT, 5010);
	cr_expect_eq(fx.reason, RS_ER_PROBE_FAILED);
	cr_expect_eq(rp.exit.reason, RS_ER_PROBE_FAILED);
	expect_state(&rp, RS_IS_STARTING);
	expect_fx(&fx, RP_FX_SPAWN | RP_FX_RESTARTED, 0);
	cr_expect_eq(rp.restarts, 1);
	/* a startup probe may fail before the first ready: the same kill */
	fx = step_ok(&rp, RP_EV_PROBE_FAILED, 6000);
	expect_state(&rp, RS_IS_STOPPING);
	cr_expect_eq(rp.kill_reason, RS_ER_PROBE_FAILED);
	/* a probe's late verdict while it stops changes nothing */
	cr_expect_eq(rproc_step(&rp, RP_EV_PROBE_FAILED, 6001, &fx), -EINVAL);
}

/* Even an exit code of 0 after a watchdog kill is a failure. */
Test(rproc, watchdog_kill_clean_exit_still_failure, .timeout = 10)
{
	rs_backoff b = def_backoff();
	rproc rp;
	rproc_fx fx;

	rproc_init(&rp, RS_RP_ON_FAILURE, &b);
	start_ready(&rp, 0);
	step_ok(&rp, RP_EV_WATCHDOG_MISS, 5000);
	die_code(&rp, 0);
	fx = step_ok(&rp, RP_EV_EXIT, 5010);
	cr_expect_eq(fx.reason, RS_ER_NO_HEARTBEAT);
	expect_state(&rp, RS_IS_STARTING);
	expect_fx(&fx, RP_FX_SPAWN | RP_FX_RESTARTED, 0);
}

/* ---------- (d) ready timeout ---------- */

/* A new instance with policy pol (and the default backoff), started at 0. */
static void started(rproc *rp, rs_policy pol)
{
	rs_backoff b = def_backoff();

	rproc_init(rp, pol, &b);
	step_ok(rp, RP_EV_START, 0);
}

/* After a death before the first ready (outcome of EXIT at t = 100 + up):
 * restarted at once (the first of a streak), or stopped for good. */
static void expect_init_outcome(const rproc *rp, const rproc_fx *fx,
				bool restart, rs_istate stop_state)
{
	if (restart) {
		expect_state(rp, RS_IS_STARTING);
		expect_fx(fx, RP_FX_SPAWN | RP_FX_RESTARTED | RP_FX_ARM_READY,
			  RP_FX_ARM_BACKOFF);
		cr_expect_eq(rp->restarts, 1);
		cr_expect_not(rp->ever_ready);
	} else {
		expect_state(rp, stop_state);
		expect_fx(fx, RP_FX_DISARM, RP_FX_SPAWN | RP_FX_RESTARTED |
			  RP_FX_ARM_BACKOFF);
		cr_expect_eq(rp->restarts, 0);
	}
}

/* The ready timeout kills it; its death then follows the restart policy:
 * a failed init is retried (always, on-failure), or final (never). */
Test(rproc, ready_timeout_retries_by_policy, .timeout = 10)
{
	for (int pol = 0; pol < RS_RP__NR; pol++) {
		rproc rp;
		rproc_fx fx;

		started(&rp, (rs_policy)pol);
		fx = step_ok(&rp, RP_EV_READY_TIMEOUT, RS_DEF_READY_TIMEOUT_MS);
		expect_state(&rp, RS_IS_STOPPING);
		expect_fx(&fx, RP_FX_KILL, RP_FX_SPAWN | RP_FX_STOP_SIGNAL |
			  RP_FX_RESTARTED);
		cr_expect_eq(rp.kill_reason, RS_ER_READY_TIMEOUT);
		die_signal(&rp, SIGKILL);
		fx = step_ok(&rp, RP_EV_EXIT, RS_DEF_READY_TIMEOUT_MS + 5);
		cr_expect_eq(fx.reason, RS_ER_READY_TIMEOUT);
		cr_expect_eq(rp.exit.reason, RS_ER_READY_TIMEOUT);
		expect_init_outcome(&rp, &fx, pol != RS_RP_NEVER, RS_IS_FAILED);
	}
}

/* Killed for the ready timeout but exits 0 (it handled the signal): still
 * a failure, never a clean DOWN: on-failure retries it, never fails it. */
Test(rproc, ready_timeout_clean_exit_is_a_failure, .timeout = 10)
{
	for (int pol = 0; pol < RS_RP__NR; pol++) {
		rproc rp;
		rproc_fx fx;

		started(&rp, (rs_policy)pol);
		step_ok(&rp, RP_EV_READY_TIMEOUT, 10000);
		die_code(&rp, 0);
		fx = step_ok(&rp, RP_EV_EXIT, 10001);
		cr_expect_eq(fx.reason, RS_ER_READY_TIMEOUT);
		expect_init_outcome(&rp, &fx, pol != RS_RP_NEVER, RS_IS_FAILED);
	}
}

/* ---------- (e) exit before ever ready ---------- */

/* A crash before ready is retried by always and on-failure, at once and
 * then with the backoff (a boot-time race heals); never leaves it failed. */
Test(rproc, crash_before_ready_follows_policy, .timeout = 10)
{
	for (int pol = 0; pol < RS_RP__NR; pol++) {
		rs_backoff b = def_backoff();
		rproc rp;
		rproc_fx fx;

		started(&rp, (rs_policy)pol);
		die_signal(&rp, SIGKILL);
		fx = step_ok(&rp, RP_EV_EXIT, 100);
		cr_expect_eq(fx.reason, RS_ER_SIGNALED);
		expect_init_outcome(&rp, &fx, pol != RS_RP_NEVER, RS_IS_FAILED);

		started(&rp, (rs_policy)pol);
		die_code(&rp, 3);
		fx = step_ok(&rp, RP_EV_EXIT, 100);
		cr_expect_eq(fx.reason, RS_ER_EXITED);
		cr_expect_eq(rp.exit.code, 3);
		expect_init_outcome(&rp, &fx, pol != RS_RP_NEVER, RS_IS_FAILED);
		if (pol == RS_RP_NEVER)
			continue;
		/* the second failure in a row waits the backoff's first delay */
		die_code(&rp, 3);
		fx = step_ok(&rp, RP_EV_EXIT, 200);
		expect_state(&rp, RS_IS_BACKOFF);
		expect_fx(&fx, RP_FX_ARM_BACKOFF | RP_FX_RESTARTED, RP_FX_SPAWN);
		cr_expect_eq(fx.delay_ms, b.initial_ms);
		cr_expect_eq(rp.restarts, 2);
		fx = step_ok(&rp, RP_EV_BACKOFF_DONE, 200 + b.initial_ms);
		expect_state(&rp, RS_IS_STARTING);
		/* and once it gets ready, it is an ordinary running service */
		step_ok(&rp, RP_EV_READY, 300 + b.initial_ms);
		expect_state(&rp, RS_IS_RUNNING);
		cr_expect(rp.ever_ready);
	}
}

/* A clean exit (0) before ready: down for never and on-failure, retried
 * by always (it was meant to keep running). */
Test(rproc, clean_exit_before_ready_follows_policy, .timeout = 10)
{
	for (int pol = 0; pol < RS_RP__NR; pol++) {
		rproc rp;
		rproc_fx fx;

		started(&rp, (rs_policy)pol);
		die_code(&rp, 0);
		fx = step_ok(&rp, RP_EV_EXIT, 100);
		cr_expect_eq(fx.reason, RS_ER_EXITED);
		expect_init_outcome(&rp, &fx, pol == RS_RP_ALWAYS, RS_IS_DOWN);
	}
}

/* With a recovery script (hold), a death before ready is a failed start:
 * no restart and no EXITED wait for the script. */
Test(rproc, hold_death_before_ready_is_failed, .timeout = 10)
{
	rproc rp;
	rproc_fx fx;

	started(&rp, RS_RP_ALWAYS);
	rp.hold = true;
	die_code(&rp, 3);
	fx = step_ok(&rp, RP_EV_EXIT, 100);
	expect_init_outcome(&rp, &fx, false, RS_IS_FAILED);
	started(&rp, RS_RP_ALWAYS);
	rp.hold = true;
	die_code(&rp, 0);
	fx = step_ok(&rp, RP_EV_EXIT, 100);
	expect_init_outcome(&rp, &fx, false, RS_IS_DOWN);
}

/* ---------- (f) stop ---------- */

Test(rproc, stop_running, .timeout = 10)
{
	rs_backoff b = def_backoff();
	rproc rp;
	rproc_fx fx;

	rproc_init(&rp, RS_RP_ALWAYS, &b);
	start_ready(&rp, 0);
	fx = step_ok(&rp, RP_EV_STOP, 1000);
	expect_state(&rp, RS_IS_STOPPING);
	expect_fx(&fx, RP_FX_STOP_SIGNAL | RP_FX_DISARM, RP_FX_KILL |
		  RP_FX_SPAWN);
	cr_expect(rp.stop_requested);

	fx = step_ok(&rp, RP_EV_STOP_TIMEOUT, 3000);
	expect_state(&rp, RS_IS_STOPPING);
	cr_expect_eq(fx.fx, RP_FX_KILL);

	/* a repeated stop while stopping changes nothing */
	fx = step_ok(&rp, RP_EV_STOP, 3001);
	expect_state(&rp, RS_IS_STOPPING);
	expect_fx(&fx, 0, RP_FX_STOP_SIGNAL | RP_FX_KILL | RP_FX_SPAWN);

	die_signal(&rp, SIGKILL);
	fx = step_ok(&rp, RP_EV_EXIT, 3010);
	expect_state(&rp, RS_IS_DOWN);
	cr_expect_eq(fx.reason, RS_ER_STOPPED);
	cr_expect_eq(rp.exit.reason, RS_ER_STOPPED);
	expect_fx(&fx, RP_FX_DISARM, RP_FX_SPAWN | RP_FX_RESTARTED |
		  RP_FX_ARM_BACKOFF);
	cr_expect_eq(rp.restarts, 0);
}

static void into_backoff(rproc *rp);

/* A stop for the lease (fenced set by the agent): a normal stop, stop
 * signal then SIGKILL, that ends in DOWN with reason fenced; from backoff
 * at once; START (rsd speaks again) clears it. */
Test(rproc, fenced_stop_is_down_fenced, .timeout = 10)
{
	rs_backoff b = def_backoff();
	rproc rp;
	rproc_fx fx;

	rproc_init(&rp, RS_RP_ALWAYS, &b);
	start_ready(&rp, 0);
	rp.fenced = true;
	fx = step_ok(&rp, RP_EV_STOP, 1000);
	expect_state(&rp, RS_IS_STOPPING);
	expect_fx(&fx, RP_FX_STOP_SIGNAL | RP_FX_DISARM, RP_FX_KILL | RP_FX_SPAWN);
	fx = step_ok(&rp, RP_EV_STOP_TIMEOUT, 3000);
	cr_expect_eq(fx.fx, RP_FX_KILL);
	die_signal(&rp, SIGKILL);
	fx = step_ok(&rp, RP_EV_EXIT, 3010);
	expect_state(&rp, RS_IS_DOWN);
	cr_expect_eq(fx.reason, RS_ER_FENCED);
	cr_expect_eq(rp.exit.reason, RS_ER_FENCED);
	expect_fx(&fx, RP_FX_DISARM, RP_FX_SPAWN | RP_FX_RESTARTED);

	fx = step_ok(&rp, RP_EV_START, 9000);
	expect_state(&rp, RS_IS_STARTING);
	cr_expect_not(rp.fenced);

	into_backoff(&rp);
	rp.fenced = true;
	fx = step_ok(&rp, RP_EV_STOP, 300);
	expect_state(&rp, RS_IS_DOWN);
	cr_expect_eq(rp.exit.reason, RS_ER_FENCED);
	expect_fx(&fx, RP_FX_DISARM, RP_FX_SPAWN | RP_FX_STOP_SIGNAL);
}

Test(rproc, stop_starting, .timeout = 10)
{
	rs_backoff b = def_backoff();
	rproc rp;
	rproc_fx fx;

	rproc_init(&rp, RS_RP_ALWAYS, &b);
	step_ok(&rp, RP_EV_START, 0);
	fx = step_ok(&rp, RP_EV_STOP, 10);
	expect_state(&rp, RS_IS_STOPPING);
	expect_fx(&fx, RP_FX_STOP_SIGNAL, RP_FX_KILL);
	die_code(&rp, 0);
	fx = step_ok(&rp, RP_EV_EXIT, 20);
	expect_state(&rp, RS_IS_DOWN);
	cr_expect_eq(fx.reason, RS_ER_STOPPED);
}

/* The operator's stop wins over a watchdog kill in progress. */
Test(rproc, stop_during_watchdog_kill, .timeout = 10)
{
	rs_backoff b = def_backoff();
	rproc rp;
	rproc_fx fx;

	rproc_init(&rp, RS_RP_ALWAYS, &b);
	start_ready(&rp, 0);
	step_ok(&rp, RP_EV_WATCHDOG_MISS, 100);
	step_ok(&rp, RP_EV_STOP, 110);
	die_signal(&rp, SIGKILL);
	fx = step_ok(&rp, RP_EV_EXIT, 120);
	expect_state(&rp, RS_IS_DOWN);
	cr_expect_eq(fx.reason, RS_ER_STOPPED);
	expect_fx(&fx, 0, RP_FX_SPAWN | RP_FX_RESTARTED);
}

Test(rproc, stop_pending_is_down, .timeout = 10)
{
	rs_backoff b = def_backoff();
	rproc rp;
	rproc_fx fx;

	rproc_init(&rp, RS_RP_ALWAYS, &b);
	fx = step_ok(&rp, RP_EV_STOP, 0);
	expect_state(&rp, RS_IS_DOWN);
	expect_fx(&fx, 0, RP_FX_SPAWN | RP_FX_STOP_SIGNAL | RP_FX_KILL);
}

/* ---------- (g) policies ---------- */

static rproc_fx exit_after_ready(rproc *rp, rs_policy pol, int code, int sig)
{
	rs_backoff b = def_backoff();

	rproc_init(rp, pol, &b);
	start_ready(rp, 0);
	if (sig)
		die_signal(rp, sig);
	else
		die_code(rp, code);
	return step_ok(rp, RP_EV_EXIT, 1000);
}

static void expect_restart(const rproc *rp, const rproc_fx *fx)
{
	expect_state(rp, RS_IS_STARTING);
	expect_fx(fx, RP_FX_SPAWN | RP_FX_RESTARTED | RP_FX_ARM_READY,
		  RP_FX_ARM_BACKOFF);
	cr_expect_eq(rp->restarts, 1);
}

static void expect_no_restart(const rproc *rp, const rproc_fx *fx,
			      rs_istate s)
{
	expect_state(rp, s);
	expect_fx(fx, RP_FX_DISARM, RP_FX_SPAWN | RP_FX_RESTARTED |
		  RP_FX_ARM_BACKOFF);
	cr_expect_eq(rp->restarts, 0);
}

Test(rproc, policy_on_failure, .timeout = 10)
{
	rproc rp;
	rproc_fx fx;

	fx = exit_after_ready(&rp, RS_RP_ON_FAILURE, 0, 0);
	expect_no_restart(&rp, &fx, RS_IS_DOWN);
	cr_expect_eq(fx.reason, RS_ER_EXITED);

	fx = exit_after_ready(&rp, RS_RP_ON_FAILURE, 1, 0);
	expect_restart(&rp, &fx);
	cr_expect_eq(fx.reason, RS_ER_EXITED);

	fx = exit_after_ready(&rp, RS_RP_ON_FAILURE, 0, SIGKILL);
	expect_restart(&rp, &fx);
	cr_expect_eq(fx.reason, RS_ER_SIGNALED);
}

Test(rproc, policy_never, .timeout = 10)
{
	rproc rp;
	rproc_fx fx;

	fx = exit_after_ready(&rp, RS_RP_NEVER, 0, SIGKILL);
	expect_no_restart(&rp, &fx, RS_IS_FAILED);
	cr_expect_eq(fx.reason, RS_ER_SIGNALED);

	fx = exit_after_ready(&rp, RS_RP_NEVER, 3, 0);
	expect_no_restart(&rp, &fx, RS_IS_FAILED);

	fx = exit_after_ready(&rp, RS_RP_NEVER, 0, 0);
	expect_no_restart(&rp, &fx, RS_IS_DOWN);
}

Test(rproc, policy_always, .timeout = 10)
{
	rproc rp;
	rproc_fx fx;

	fx = exit_after_ready(&rp, RS_RP_ALWAYS, 0, 0);
	expect_restart(&rp, &fx);
	cr_expect_eq(fx.reason, RS_ER_EXITED);

	fx = exit_after_ready(&rp, RS_RP_ALWAYS, 1, 0);
	expect_restart(&rp, &fx);

	fx = exit_after_ready(&rp, RS_RP_ALWAYS, 0, SIGKILL);
	expect_restart(&rp, &fx);
}

/* ---------- (h) backoff disabled ---------- */

Test(rproc, backoff_disabled_always_immediate, .timeout = 10)
{
	rs_backoff b = def_backoff();
	uint64_t t = 0;
	rproc rp;
	rproc_fx fx;
	int st = real_status(0, SIGKILL);

	b.disabled = true;
	rproc_init(&rp, RS_RP_ALWAYS, &b);
	start_ready(&rp, t);
	for (uint32_t i = 1; i <= 20; i++) {
		t += 100;
		rproc_classify(st, &rp.exit);
		fx = step_ok(&rp, RP_EV_EXIT, t);
		expect_state(&rp, RS_IS_STARTING);
		expect_fx(&fx, RP_FX_SPAWN | RP_FX_RESTARTED,
			  RP_FX_ARM_BACKOFF);
		cr_expect_eq(fx.delay_ms, 0, "restart %u", i);
		cr_expect_eq(rp.restarts, i);
	}
	/* also after a long run */
	t += 10 * RS_DEF_BACKOFF_RESET;
	rproc_classify(st, &rp.exit);
	fx = step_ok(&rp, RP_EV_EXIT, t);
	expect_state(&rp, RS_IS_STARTING);
	cr_expect_eq(fx.delay_ms, 0);
}

/* ---------- (i) stop in backoff, start after down/failed ---------- */

/* Crash twice quickly: the instance is in BACKOFF with streak 2. */
static void into_backoff(rproc *rp)
{
	rs_backoff b = def_backoff();
	rproc_fx fx;

	rproc_init(rp, RS_RP_ALWAYS, &b);
	start_ready(rp, 0);
	die_signal(rp, SIGKILL);
	step_ok(rp, RP_EV_EXIT, 100);
	die_signal(rp, SIGKILL);
	fx = step_ok(rp, RP_EV_EXIT, 200);
	expect_state(rp, RS_IS_BACKOFF);
	cr_assert_eq(fx.delay_ms, 2000);
	cr_assert_eq(rp->streak, 2);
}

Test(rproc, stop_in_backoff_is_down, .timeout = 10)
{
	rproc rp;
	rproc_fx fx;

	into_backoff(&rp);
	fx = step_ok(&rp, RP_EV_STOP, 300);
	expect_state(&rp, RS_IS_DOWN);
	expect_fx(&fx, RP_FX_DISARM, RP_FX_SPAWN | RP_FX_STOP_SIGNAL |
		  RP_FX_KILL | RP_FX_ARM_BACKOFF);
	cr_expect(rp.stop_requested);
	/* the backoff timer may still fire: refused, nothing happens */
	cr_expect_eq(rproc_step(&rp, RP_EV_BACKOFF_DONE, 2200, &fx), -EINVAL);
	cr_expect_eq(fx.fx, 0);
	expect_state(&rp, RS_IS_DOWN);
}

/* After START the streak is new: a quick crash after READY restarts at
 * once, the next one waits the initial delay. */
static void expect_fresh_streak(rproc *rp, uint64_t t)
{
	rproc_fx fx;

	cr_expect_eq(rp->streak, 0);
	cr_expect_not(rp->ever_ready);
	cr_expect_not(rp->stop_requested);
	cr_expect_eq(rp->started_ms, t);
	step_ok(rp, RP_EV_READY, t + 10);
	die_signal(rp, SIGKILL);
	fx = step_ok(rp, RP_EV_EXIT, t + 20);
	expect_state(rp, RS_IS_STARTING);
	cr_expect_eq(fx.delay_ms, 0);
	die_signal(rp, SIGKILL);
	fx = step_ok(rp, RP_EV_EXIT, t + 30);
	expect_state(rp, RS_IS_BACKOFF);
	cr_expect_eq(fx.delay_ms, 2000);
}

Test(rproc, start_in_down_resets_streak, .timeout = 10)
{
	rproc rp;
	rproc_fx fx;

	into_backoff(&rp);
	step_ok(&rp, RP_EV_STOP, 300);
	expect_state(&rp, RS_IS_DOWN);
	fx = step_ok(&rp, RP_EV_START, 400);
	expect_state(&rp, RS_IS_STARTING);
	expect_fx(&fx, RP_FX_SPAWN | RP_FX_ARM_READY | RP_FX_DISARM,
		  RP_FX_RESTARTED | RP_FX_ARM_BACKOFF);
	expect_fresh_streak(&rp, 400);
}

Test(rproc, start_in_failed_resets_streak, .timeout = 10)
{
	rs_backoff b = def_backoff();
	rproc rp;
	rproc_fx fx;

	/* FAILED after a streak: policy never */
	rproc_init(&rp, RS_RP_NEVER, &b);
	start_ready(&rp, 0);
	rp.streak = 4;
	die_signal(&rp, SIGKILL);
	step_ok(&rp, RP_EV_EXIT, 100);
	expect_state(&rp, RS_IS_FAILED);
	rp.policy = RS_RP_ALWAYS;
	fx = step_ok(&rp, RP_EV_START, 400);
	expect_state(&rp, RS_IS_STARTING);
	expect_fx(&fx, RP_FX_SPAWN | RP_FX_ARM_READY, RP_FX_RESTARTED);
	cr_expect_eq(rp.kill_reason, RS_ER_NONE);
	expect_fresh_streak(&rp, 400);
}

Test(rproc, start_in_backoff_spawns_now, .timeout = 10)
{
	rproc rp;
	rproc_fx fx;

	into_backoff(&rp);
	fx = step_ok(&rp, RP_EV_START, 300);
	expect_state(&rp, RS_IS_STARTING);
	expect_fx(&fx, RP_FX_SPAWN | RP_FX_DISARM, RP_FX_ARM_BACKOFF);
	expect_fresh_streak(&rp, 300);
}

/* ---------- (j) spawn failure ---------- */

Test(rproc, spawn_failed_is_failed, .timeout = 10)
{
	rs_backoff b = def_backoff();
	rproc rp;
	rproc_fx fx;

	rproc_init(&rp, RS_RP_ALWAYS, &b);
	step_ok(&rp, RP_EV_START, 0);
	fx = step_ok(&rp, RP_EV_SPAWN_FAILED, 1);
	expect_state(&rp, RS_IS_FAILED);
	cr_expect_eq(fx.reason, RS_ER_EXEC_FAILED);
	cr_expect_eq(rp.exit.reason, RS_ER_EXEC_FAILED);
	expect_fx(&fx, RP_FX_DISARM, RP_FX_SPAWN | RP_FX_RESTARTED |
		  RP_FX_ARM_BACKOFF);
	cr_expect_eq(rp.restarts, 0);

	/* also on a restart (instance had been ready): no retry loop */
	rproc_init(&rp, RS_RP_ALWAYS, &b);
	start_ready(&rp, 0);
	die_signal(&rp, SIGKILL);
	step_ok(&rp, RP_EV_EXIT, 100);
	expect_state(&rp, RS_IS_STARTING);
	fx = step_ok(&rp, RP_EV_SPAWN_FAILED, 101);
	expect_state(&rp, RS_IS_FAILED);
	cr_expect_eq(fx.reason, RS_ER_EXEC_FAILED);
}

/* With a recovery script (hold), a death after ready waits in EXITED for
 * the script's decision: START (rsctl restart) or STOP (rsctl down). */
Test(rproc, script_hold_waits_in_exited, .timeout = 10)
{
	rs_backoff b = def_backoff();
	rproc rp;
	rproc_fx fx;

	rproc_init(&rp, RS_RP_ALWAYS, &b);
	rp.hold = true;
	cr_assert_eq(rproc_step(&rp, RP_EV_START, 0, &fx), 0);
	cr_assert_eq(rproc_step(&rp, RP_EV_READY, 10, &fx), 0);
	rp.exit.reason = RS_ER_SIGNALED;
	rp.exit.signal = 9;
	cr_assert_eq(rproc_step(&rp, RP_EV_EXIT, 100, &fx), 0);
	cr_assert_eq(rp.state, RS_IS_EXITED);
	cr_assert_eq(fx.fx & (RP_FX_SPAWN | RP_FX_ARM_BACKOFF), 0, "restarted on its own");
	cr_assert_eq(fx.reason, RS_ER_SIGNALED);
	cr_assert_eq(rproc_step(&rp, RP_EV_BACKOFF_DONE, 200, &fx), -EINVAL);
	cr_assert_eq(rproc_step(&rp, RP_EV_START, 300, &fx), 0);
	cr_assert_eq(rp.state, RS_IS_STARTING);
	cr_assert(fx.fx & RP_FX_SPAWN);
	cr_assert_eq(rproc_step(&rp, RP_EV_READY, 310, &fx), 0);
	cr_assert_eq(rproc_step(&rp, RP_EV_WATCHDOG_MISS, 400, &fx), 0);
	cr_assert_eq(rproc_step(&rp, RP_EV_EXIT, 410, &fx), 0);
	cr_assert_eq(rp.state, RS_IS_EXITED);
	cr_assert_eq(fx.reason, RS_ER_NO_HEARTBEAT);
	cr_assert_eq(rproc_step(&rp, RP_EV_STOP, 500, &fx), 0);
	cr_assert_eq(rp.state, RS_IS_DOWN);
	cr_assert_eq(fx.fx & RP_FX_SPAWN, 0);
}
