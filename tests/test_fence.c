/*
 * test_fence.c - issue 16: node membership and fencing, with the real
 * binaries (tests/harness.c, authenticated).
 *
 * (a) rsd frozen (SIGSTOP): the agent stops its fence: stop service after
 *     the lease and keeps the fence: none one; SIGCONT: rsd starts the
 *     fenced one again on its node.
 * (b) an agent frozen (its keeper runs on): the keeper stops the fenced
 *     service at the lease; rsd starts it on the other node only after
 *     lease + stop timeout + margin, never while the first copy lives
 *     (checked at every poll: the new copy's pid file is read first, then
 *     the old pid is probed); the unfenced one moves at the TTL. SIGCONT:
 *     the agent stops its stale copies, one copy of each remains.
 *
 * Times (TTL = lease 1.5 s, stop timeout 0.5 s, margin 1 s) are printed.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "codes.h"
#include "harness.h"

#define T_TIMEOUT 60

static void teardown(void)
{
	h_teardown();
}

#define assert_ok(r, what)                                                    \
	cr_assert_eq((r)->code, 0, "%s: rsctl exited %d\nstdout: %s\nstderr: %s", \
		     (what), (r)->code, (r)->out, (r)->err)

/* up LABEL with fence f and a pid file, ready; returns the instance. */
static h_inst up_svc(const char *label, const char *fence, const char *node)
{
	const h_res *r = h_rsctl("up", label, "--fence", fence, "--node", node,
				 "--stop-timeout", "0.5", "--", h_notifysvc(),
				 "--ready", "--pidfile", h_path(label), NULL);
	h_inst in;

	assert_ok(r, label);
	cr_assert(h_status_instance(label, &in) && in.pid > 0, "%s: no pid", label);
	return in;
}

static bool dead_fn(void *arg)
{
	return !h_pid_alive(*(pid_t *)arg);
}

struct wrun {
	const char *label;
	pid_t       not_pid;   /* a new process, not this one */
	const char *node;      /* on this node (NULL: any) */
	h_inst      in;
};

static bool running_fn(void *arg)
{
	struct wrun *w = arg;

	return h_status_instance(w->label, &w->in) && !strcmp(w->in.state, "running") &&
	       w->in.pid > 0 && w->in.pid != w->not_pid &&
	       (!w->node || !strcmp(w->in.node, w->node)) && h_pid_alive(w->in.pid);
}

/* ---- (a) rsd frozen -------------------------------------------------- */

static void setup_a(void)
{
	h_opts o = { .agents = 1, .node_ttl = "1.5", .alarm_s = 55 };

	h_setup_opts(&o);
}

Test(fence, rsd_frozen_agent_fences_then_resumes, .init = setup_a,
     .fini = teardown, .timeout = T_TIMEOUT)
{
	h_inst f = up_svc("fenced", "stop", "n1"), u = up_svc("free", "none", "n1");
	struct wrun w = { .label = "fenced", .not_pid = f.pid, .node = "n1" };
	pid_t rsd = h_rsd_pid();
	int64_t t0, t_fenced;

	cr_assert_eq(kill(rsd, SIGSTOP), 0);
	t0 = h_now_ms();
	cr_assert(h_wait_until(dead_fn, &f.pid, 8000),
		  "the fence: stop service (pid %d) still runs 8 s after rsd froze "
		  "(lease 1.5 s)", (int)f.pid);
	t_fenced = h_now_ms() - t0;
	/* not before the lease (the agent's deadline may be up to lease/4
	 * earlier than a full lease after its last answer from rsd) */
	cr_assert_geq(t_fenced, 500, "fenced after only %lld ms", (long long)t_fenced);
	cr_assert(h_pid_alive(u.pid), "the fence: none service died with the fence");
	/* nothing restarted it meanwhile: its pid file still names it */
	cr_assert_eq(h_read_pidfile(h_path("fenced")), f.pid,
		     "the fenced service was restarted while rsd was frozen");
	cr_assert_eq(kill(rsd, SIGCONT), 0);
	cr_assert(h_wait_until(running_fn, &w, 15000),
		  "the fenced service is not running again on n1 after SIGCONT "
		  "(state %s, pid %d)", w.in.state, (int)w.in.pid);
	cr_assert(h_pid_alive(u.pid), "the fence: none service was restarted");
	cr_assert(h_status_instance("fenced", &w.in));
	fprintf(stderr, "fence(a): rsd frozen -> fenced service dead in %lld ms; "
		"back %lld ms after SIGCONT\n", (long long)t_fenced,
		(long long)(h_now_ms() - t0 - t_fenced));
	h_pass();
}

/* ---- (b) an agent frozen, its keeper alive --------------------------- */

static void setup_b(void)
{
	h_opts o = { .agents = 2, .node_ttl = "1.5", .alarm_s = 55 };

	h_setup_opts(&o);
}

Test(fence, agent_frozen_keeper_fences_rsd_moves_after_lease, .init = setup_b,
     .fini = teardown, .timeout = T_TIMEOUT)
{
	h_inst f = up_svc("fenced", "stop", "n1,n2"), u;
	struct wrun wu = { .label = "free", .node = "n2" };
	struct wrun wf = { .label = "fenced", .node = "n2" };
	pid_t agent = h_agent_pid(1);
	int64_t t0, t_dead = -1, t_free = -1, t_moved = -1;
	const h_res *r;

	/* both on n1: the fenced one went there by name; the other follows
	 * while n2 is drained */
	cr_assert_str_eq(f.node, "n1");
	r = h_rsctl("drain", "n2", NULL);
	assert_ok(r, "drain n2");
	u = up_svc("free", "none", "n1,n2");
	cr_assert_str_eq(u.node, "n1");
	assert_ok(h_rsctl("undrain", "n2", NULL), "undrain n2");
	wu.not_pid = u.pid;
	wf.not_pid = f.pid;

	cr_assert_eq(kill(agent, SIGSTOP), 0);
	t0 = h_now_ms();
	while (h_now_ms() - t0 < 15000 && (t_moved < 0 || t_free < 0)) {
		/* the new copy's pid file first, then the old pid: a new pid
		 * seen while the old one still lives is two copies at once */
		pid_t now = h_read_pidfile(h_path("fenced"));
		bool old_alive = h_pid_alive(f.pid);

		if (now > 0 && now != f.pid) {
			h_track_pid(now);
			cr_assert(!old_alive, "two copies of the fenced service: pid %d "
				  "(new) and %d (old) after %lld ms", (int)now,
				  (int)f.pid, (long long)(h_now_ms() - t0));
			if (t_moved < 0)
				t_moved = h_now_ms() - t0;
		}
		if (!old_alive && t_dead < 0)
			t_dead = h_now_ms() - t0;
		if (t_free < 0 && running_fn(&wu))
			t_free = h_now_ms() - t0;
		usleep(20000);
	}
	cr_assert_geq(t_dead, 0, "the keeper did not stop the fenced service");
	cr_assert_geq(t_free, 0, "the fence: none service did not move to n2");
	cr_assert_geq(t_moved, 0, "the fenced service did not move to n2");
	/* lease 1.5 + stop 0.5 + margin 1 after rsd last heard n1 */
	cr_assert_geq(t_moved, 2000, "moved after only %lld ms", (long long)t_moved);
	cr_assert_lt(t_free, t_moved, "the unfenced one moved after the fenced one");
	cr_assert(h_wait_until(running_fn, &wf, 5000), "fenced not running on n2");
	cr_assert(h_pid_alive(u.pid), "the keeper stopped a fence: none service");
	fprintf(stderr, "fence(b): agent frozen -> keeper stopped the fenced copy at "
		"%lld ms, unfenced moved at %lld ms, fenced started on n2 at %lld ms\n",
		(long long)t_dead, (long long)t_free, (long long)t_moved);

	/* the agent wakes: it is fenced, rsd has moved both; its stale
	 * unfenced copy is stopped as a duplicate: one copy of each */
	cr_assert_eq(kill(agent, SIGCONT), 0);
	cr_assert(h_wait_until(dead_fn, &u.pid, 10000),
		  "the stale unfenced copy on n1 (pid %d) still runs", (int)u.pid);
	cr_assert(running_fn(&wf), "the fenced service on n2 stopped");
	cr_assert(h_pid_alive(wu.in.pid), "the unfenced service on n2 stopped");
	cr_assert(!h_pid_alive(f.pid));
	h_pass();
}
