/*
 * test_integration.c - end-to-end tests: a real rsd, real rs-agents and
 * rsctl on 127.0.0.1 (tests/harness.c), with tests/helpers/notifysvc as the
 * supervised service.
 *
 * Each test starts its own cluster in .init and kills everything by pid in
 * .fini. Waits are on conditions (polled every 20 ms), never bare sleeps,
 * except where a test checks that something does NOT happen for a while.
 * Set RS_IT_KEEP=1 to keep the temp dirs (logs, db) for a look.
 *
 * The brief's cases: (a) up_ready, (b) up_plain_settles, (c)
 * up_bad_command_fails, (d) crash_restarts, (e)
 * down_stop_timeout_kills_group + down_kills_leftover_group, (f)
 * watchdog_miss_restarts, (g) down_stays_down, (h) rsd_crash_recovers,
 * (i) agent_kill_node_lost, (j) unknown_label, (k) events_after_crash.
 * The rest check further documented behaviour (docs/cli.md, design.md).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "codes.h"
#include "harness.h"

#define T_TIMEOUT 60	/* seconds, per test */

static void setup1(void)
{
	h_setup(1);
}

static void setup_ttl2(void)
{
	h_opts o = { .agents = 2, .node_ttl = "2", .alarm_s = 50 };

	h_setup_opts(&o);
}

static void teardown(void)
{
	h_teardown();
}

/* Fails with the whole rsctl run when it did not exit with `code`. */

#define assert_ok(r, what) assert_code(r, 0, what)

/* Starts LABEL running notifysvc --ready [ARGS...] with `up` and returns
 * its instance (asserting it is running with a live pid). Extra rsctl up
 * options go before "--" through up_opts (NULL-terminated, may be NULL). */
static h_inst up_notifysvc(const char *label, const char *const *up_opts,
			   const char *const *svc_args)
{
	const char *argv[64];
	const h_res *r;
	h_inst in;
	int n = 0;

	argv[n++] = "up";
	argv[n++] = label;
	for (int i = 0; up_opts && up_opts[i]; i++)
		argv[n++] = up_opts[i];
	argv[n++] = "--";
	argv[n++] = h_notifysvc();
	argv[n++] = "--ready";
	for (int i = 0; svc_args && svc_args[i]; i++)
		argv[n++] = svc_args[i];
	argv[n] = NULL;
	r = h_rsctl_v(H_RSCTL_TIMEOUT_MS, argv);
	assert_ok(r, "up");
	cr_assert(h_status_instance(label, &in), "status %s lists no instance "
		  "right after a successful up", label);
	cr_assert_str_eq(in.state, "running", "state of %s after up: '%s'",
			 label, in.state);
	cr_assert(in.pid > 0 && h_pid_alive(in.pid),
		  "pid %d of %s is not alive after up", (int)in.pid, label);
	return in;
}

/* ---- conditions ------------------------------------------------------- */

static bool not_live_fn(void *arg);

struct wstatus {
	const char *label;
	pid_t       old_pid;
	h_inst      in;
};

/* A new process (pid != old_pid) runs and is alive. */
static bool restarted_fn(void *arg)
{
	struct wstatus *w = arg;

	if (!h_status_instance(w->label, &w->in))
		return false;
	return w->in.pid > 0 && w->in.pid != w->old_pid &&
	       !strcmp(w->in.state, "running") && h_pid_alive(w->in.pid);
}

static bool watchdog_fn(void *arg)
{
	struct wstatus *w = arg;

	if (!h_status_instance(w->label, &w->in))
		return false;
	return w->in.restarts >= 1 && !strcmp(w->in.reason, "no-heartbeat");
}

static bool status_text_fn(void *arg)
{
	struct wstatus *w = arg;

	return h_status_instance(w->label, &w->in) &&
	       !strcmp(w->in.status, "hello");
}

static bool pid_dead_fn(void *arg)
{
	return !h_pid_alive(*(pid_t *)arg);
}

static bool pidfile_fn(void *arg)
{
	return h_read_pidfile(arg) > 0;
}

struct wpidfile {
	const char *path;
	pid_t       old;
	pid_t       now;
};

/* The pid file names a live process other than old. */
static bool pidfile_changed_fn(void *arg)
{
	struct wpidfile *w = arg;

	w->now = h_read_pidfile(w->path);
	return w->now > 0 && w->now != w->old && h_pid_alive(w->now);
}

struct wnode {
	const char *node;
	const char *want;
	char        state[32];
};

static bool node_state_fn(void *arg)
{
	struct wnode *w = arg;

	return h_node_state(w->node, w->state, sizeof w->state) &&
	       !strcmp(w->state, w->want);
}

struct wsame {
	const char *label;
	pid_t       pid;
	h_inst      in;
};

/* rsd lists the service with the same pid, running. */
static bool same_pid_fn(void *arg)
{
	struct wsame *w = arg;

	return h_status_instance(w->label, &w->in) && w->in.pid == w->pid &&
	       !strcmp(w->in.state, "running");
}

struct wevents {
	const char *label;
	char        kinds[512];
	bool        bad_label;
};

/* `events LABEL --json` holds an event whose kind mentions exit/restart. */
static bool crash_event_fn(void *arg)
{
	struct wevents *w = arg;
	const h_res *r = h_rsctl_t(15000, "events", w->label, "--json", NULL);
	json_t *j = h_json(r), *e;
	size_t i;
	bool found = false;

	w->kinds[0] = '\0';
	if (r->code != 0 || !j)
		return false;
	json_array_foreach(json_object_get(j, "events"), i, e) {
		const char *k = json_string_value(json_object_get(e, "kind"));
		const char *l = json_string_value(json_object_get(e, "label"));
		size_t len = strlen(w->kinds);

		if (!l || strcmp(l, w->label))
			w->bad_label = true;
		if (!k)
			continue;
		snprintf(w->kinds + len, sizeof w->kinds - len, "%s%s",
			 len ? "," : "", k);
		if (strstr(k, "exit") || strstr(k, "restart"))
			found = true;
	}
	return found;
}

static bool live_state_str(const char *s)
{
	return !strcmp(s, "starting") || !strcmp(s, "running") ||
	       !strcmp(s, "stopping");
}

static void read_comm(pid_t pid, char *buf, size_t n)
{
	char path[64];
	ssize_t k;
	int fd;

	buf[0] = '\0';
	snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	k = read(fd, buf, n - 1);
	close(fd);
	buf[k > 0 ? k : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

/* ---- (a) up -> ready -------------------------------------------------- */

Test(integration, up_ready, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const char *pidfile = h_path("a.pid");
	const char *svc[] = { "--status", "hello", "--pidfile", pidfile, NULL };
	h_inst in = up_notifysvc("svc-a", NULL, svc);
	struct wstatus w = { .label = "svc-a" };
	const h_res *r;
	json_t *j;

	cr_assert_eq(in.pid, h_read_pidfile(pidfile),
		     "status pid %d is not the service's own pid %d",
		     (int)in.pid, (int)h_read_pidfile(pidfile));
	cr_assert_str_eq(in.node, "n1");
	cr_assert_eq(in.restarts, 0);

	r = h_rsctl("lookup", "svc-a", "--json", NULL);
	assert_ok(r, "lookup svc-a");
	j = h_json(r);
	cr_assert(j, "lookup --json printed no JSON: %s", r->out);
	cr_assert_str_eq(h_jstr(j, "label"),
			 "svc-a", "lookup: %s", r->out);
	cr_assert_eq(json_integer_value(json_object_get(j, "pid")), in.pid,
		     "lookup pid differs from status pid %d: %s", (int)in.pid,
		     r->out);
	cr_assert_str_eq(h_jstr(j, "node"),
			 "n1", "lookup: %s", r->out);
	cr_assert_str_eq(h_jstr(j, "state"),
			 "running", "lookup: %s", r->out);

	cr_assert(h_wait_until(status_text_fn, &w, 5000),
		  "STATUS=hello never showed in status (status '%s')",
		  w.in.status);
	h_pass();
}

/* ---- (b) a plain program becomes running after the settle time -------- */

Test(integration, up_plain_settles, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const h_res *r = h_rsctl("up", "svc-b", "--", "sleep", "1000", NULL);
	h_inst in;
	char comm[32];

	assert_ok(r, "up sleep 1000");
	cr_assert_geq(r->elapsed_ms, 900, "up of a plain program returned "
		      "after %ld ms, before the 1 s settle time", r->elapsed_ms);
	cr_assert(h_status_instance("svc-b", &in), "no instance of svc-b");
	cr_assert_str_eq(in.state, "running");
	cr_assert(h_pid_alive(in.pid), "pid %d not alive", (int)in.pid);
	read_comm(in.pid, comm, sizeof comm);
	cr_assert_str_eq(comm, "sleep", "pid %d is '%s', not sleep",
			 (int)in.pid, comm);
	h_pass();
}

/* ---- (c) commands that cannot start ----------------------------------- */

Test(integration, up_bad_command_fails, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const h_res *r;
	h_inst in;

	r = h_rsctl("up", "svc-c", "--", "/nonexistent/rs-it-no-such-cmd", NULL);
	cr_assert(!r->timed_out, "up of a missing command hung");
	cr_assert_neq(r->code, 0, "up of a missing command exited 0: %s", r->out);
	cr_expect_eq(r->code, RS_E_FAILED, "up of a missing command: exit %d, "
		     "want %d (failed); stderr: %s", r->code, RS_E_FAILED, r->err);
	cr_assert(r->err[0], "up of a missing command: nothing on stderr");
	cr_expect_lt(r->elapsed_ms, 9000, "exec failure took %ld ms to report",
		     r->elapsed_ms);
	if (h_status_instance("svc-c", &in)) {
		cr_expect_str_eq(in.state, "failed", "svc-c state");
		cr_expect_str_eq(in.reason, "exec-failed", "svc-c last_exit.reason");
	}

	r = h_rsctl("up", "svc-c2", "--", "/bin/false", NULL);
	cr_assert(!r->timed_out, "up of /bin/false hung");
	cr_assert_neq(r->code, 0, "up of /bin/false exited 0: %s", r->out);
	cr_expect_eq(r->code, RS_E_FAILED, "up of /bin/false: exit %d; "
		     "stderr: %s", r->code, r->err);
	cr_assert(r->err[0], "up of /bin/false: nothing on stderr");
	cr_expect_lt(r->elapsed_ms, 9000, "the failure took %ld ms to report",
		     r->elapsed_ms);
	/* the first failure is the answer; the default policy (always)
	 * retries a failed init with the backoff */
	cr_assert(strstr(r->err, "retried with the backoff"), "up said: %s", r->err);
	cr_assert(h_status_instance("svc-c2", &in));
	cr_expect(!strcmp(in.state, "starting") || !strcmp(in.state, "backoff"),
		  "svc-c2 is %s, want starting or backoff (retried)", in.state);
	cr_expect_str_eq(in.reason, "exited", "svc-c2 last_exit.reason");
	cr_expect_eq(in.exit_code, 1, "svc-c2 last_exit.code");
	cr_expect_geq(in.restarts, 1, "svc-c2 restarts");

	/* --restart never: a failed init is final */
	r = h_rsctl("up", "svc-c3", "--restart", "never", "--", "/bin/false", NULL);
	cr_expect_eq(r->code, RS_E_FAILED, "up --restart never of /bin/false: exit %d; "
		     "stderr: %s", r->code, r->err);
	cr_assert(!strstr(r->err, "retried"), "never retried: %s", r->err);
	cr_assert(h_status_instance("svc-c3", &in));
	cr_expect_str_eq(in.state, "failed", "svc-c3 state");
	cr_expect_str_eq(in.reason, "exited", "svc-c3 last_exit.reason");
	cr_expect_eq(in.exit_code, 1, "svc-c3 last_exit.code");
	cr_expect_eq(in.restarts, 0, "svc-c3 restarts");
	cr_expect(!h_pid_alive(in.pid) || in.pid == 0);
	h_pass();
}

static bool running_fn(void *arg)
{
	h_inst in;

	return h_status_instance(arg, &in) && !strcmp(in.state, "running");
}

/* A boot-time race: the service fails until what it needs exists (its
 * database not up yet). up reports the first failure at once; the agent
 * retries with the backoff, and once the dependency is there it runs,
 * with no operator in between. */
Test(integration, failed_init_is_retried_until_it_works, .init = setup1,
     .fini = teardown, .timeout = T_TIMEOUT)
{
	const char *flag = h_path("db-is-up");
	char cmd[700];
	const h_res *r;
	h_inst in;

	snprintf(cmd, sizeof cmd, "[ -f %s ] || exit 1; exec sleep 1000", flag);
	r = h_rsctl("up", "app", "--settle", "0.2", "--", "/bin/sh", "-c", cmd, NULL);
	cr_expect_eq(r->code, RS_E_FAILED, "up while the dependency is missing: %d (%s)",
		     r->code, r->err);
	cr_assert(strstr(r->err, "retried with the backoff"), "%s", r->err);
	{
		FILE *f = fopen(flag, "w");
		cr_assert(f);
		fclose(f);
	}
	cr_assert(h_wait_until(running_fn, (void *)"app", 20000),
		  "app was not retried into running");
	cr_assert(h_status_instance("app", &in));
	cr_assert(h_pid_alive(in.pid));
	cr_expect_geq(in.restarts, 1);
	h_pass();
}

/* ---- (d) kill -9 of the service -> restarted -------------------------- */

Test(integration, crash_restarts, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	h_inst in = up_notifysvc("svc-d", NULL, NULL);
	struct wstatus w = { .label = "svc-d", .old_pid = in.pid };

	cr_assert_eq(kill(in.pid, SIGKILL), 0);
	cr_assert(h_wait_until(restarted_fn, &w, 10000),
		  "svc-d not restarted within 10 s: pid %d state '%s' "
		  "restarts %d reason '%s'", (int)w.in.pid, w.in.state,
		  w.in.restarts, w.in.reason);
	cr_assert(!h_pid_alive(in.pid), "old pid %d still alive", (int)in.pid);
	cr_assert_eq(w.in.restarts, 1, "restarts %d, want 1", w.in.restarts);
	cr_assert_eq(w.in.exit_signal, SIGKILL, "last_exit.signal %d, want 9",
		     w.in.exit_signal);
	cr_assert_str_eq(w.in.reason, "signaled");
	h_pass();
}

/* ---- (e) stop timeout and process-group kill -------------------------- */

Test(integration, down_stop_timeout_kills_group, .init = setup1,
     .fini = teardown, .timeout = T_TIMEOUT)
{
	const char *pidfile = h_path("e.pid");
	const char *childfile = h_path("e.pid.child");
	const char *upo[] = { "--stop-timeout", "1", NULL };
	const char *svc[] = { "--ignore-term", "--spawn-child", "--pidfile",
			      pidfile, NULL };
	h_inst in = up_notifysvc("svc-e", upo, svc);
	pid_t child;
	const h_res *r;

	cr_assert(h_wait_until(pidfile_fn, (void *)childfile, 5000),
		  "no child pid file");
	child = h_read_pidfile(childfile);
	h_track_pid(child);
	cr_assert(h_pid_alive(child), "the service's child %d is not alive",
		  (int)child);

	r = h_rsctl("down", "svc-e", NULL);
	assert_ok(r, "down svc-e");
	cr_assert_geq(r->elapsed_ms, 900, "down of a TERM-ignoring service "
		      "with --stop-timeout 1 took only %ld ms", r->elapsed_ms);
	cr_assert_lt(r->elapsed_ms, 8000, "down took %ld ms", r->elapsed_ms);
	cr_assert(!h_pid_alive(in.pid), "pid %d alive after down returned",
		  (int)in.pid);
	cr_assert(h_wait_until(pid_dead_fn, &child, 1000),
		  "the child %d in the service's group survived down",
		  (int)child);
	h_pass();
}

/* The main process obeys SIGTERM at once but its child ignores it: after
 * down nothing of the group may be left. */
Test(integration, down_kills_leftover_group, .init = setup1,
     .fini = teardown, .timeout = T_TIMEOUT)
{
	const char *pidfile = h_path("e2.pid");
	const char *childfile = h_path("e2.pid.child");
	const char *svc[] = { "--spawn-child", "--child-ignore-term",
			      "--pidfile", pidfile, NULL };
	h_inst in = up_notifysvc("svc-e2", NULL, svc);
	pid_t child;
	const h_res *r;

	cr_assert(h_wait_until(pidfile_fn, (void *)childfile, 5000),
		  "no child pid file");
	child = h_read_pidfile(childfile);
	h_track_pid(child);
	cr_assert(h_pid_alive(child));

	r = h_rsctl("down", "svc-e2", NULL);
	assert_ok(r, "down svc-e2");
	cr_assert(!h_pid_alive(in.pid), "pid %d alive after down", (int)in.pid);
	cr_assert(h_wait_until(pid_dead_fn, &child, 3000),
		  "the TERM-ignoring child %d of the group survived down "
		  "(main exited on TERM at once)", (int)child);
	h_pass();
}

/* ---- (f) watchdog ----------------------------------------------------- */

Test(integration, watchdog_miss_restarts, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const char *upo[] = { "--period", "0.3", NULL };
	const char *svc[] = { "--watchdog", "100", "--watchdog-stop-after",
			      "800", NULL };
	h_inst in = up_notifysvc("svc-f", upo, svc);
	struct wstatus w = { .label = "svc-f", .old_pid = in.pid };

	cr_assert(h_wait_until(watchdog_fn, &w, 15000),
		  "no restart for a missed watchdog within 15 s: pid %d "
		  "state '%s' restarts %d reason '%s' signal %d",
		  (int)w.in.pid, w.in.state, w.in.restarts, w.in.reason,
		  w.in.exit_signal);
	cr_assert(h_wait_until(pid_dead_fn, &in.pid, 2000),
		  "the silent process %d is still alive", (int)in.pid);
	h_pass();
}

/* ---- (g) down keeps it down ------------------------------------------- */

Test(integration, down_stays_down, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	h_inst in = up_notifysvc("svc-g", NULL, NULL), now;
	const h_res *r = h_rsctl("down", "svc-g", NULL);
	int64_t end;

	assert_ok(r, "down svc-g");
	cr_assert(!h_pid_alive(in.pid), "pid %d alive after down", (int)in.pid);
	h_status_instance("svc-g", &now);
	cr_assert_str_eq(now.desired, "down", "desired after down");
	if (now.found) {
		cr_assert_str_eq(now.state, "down", "instance state after down");
		cr_assert(now.pid == 0 || !h_pid_alive(now.pid),
			  "live pid %d after down", (int)now.pid);
	} else {
		cr_assert_str_eq(now.svc_state, "down", "service state after down");
	}
	/* It must not come back: watch it for 1.5 s. */
	end = h_now_ms() + 1500;
	while (h_now_ms() < end) {
		h_status_instance("svc-g", &now);
		cr_assert(!now.found || (strcmp(now.state, "running") &&
					 strcmp(now.state, "starting")),
			  "svc-g came back after down: state '%s' pid %d",
			  now.state, (int)now.pid);
		cr_assert(now.pid == 0 || !h_pid_alive(now.pid),
			  "svc-g has a live pid %d after down", (int)now.pid);
		cr_assert(!h_pid_alive(in.pid), "old pid %d alive again?",
			  (int)in.pid);
	}
	h_pass();
}

/* ---- (h) kill -9 of rsd: state survives, agents come back ------------- */

Test(integration, rsd_crash_recovers, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	h_inst in = up_notifysvc("svc-h", NULL, NULL);
	struct wsame w = { .label = "svc-h", .pid = in.pid };
	struct wnode wn = { .node = "n1", .want = "up" };
	const h_res *r;

	h_kill_rsd(SIGKILL);
	cr_assert(h_pid_alive(in.pid), "the service died with rsd");
	h_restart_rsd();
	cr_assert(h_wait_until(same_pid_fn, &w, 10000),
		  "after the rsd restart svc-h is not running with pid %d: "
		  "found %d pid %d state '%s'", (int)in.pid, w.in.found,
		  (int)w.in.pid, w.in.state);
	cr_assert_eq(w.in.restarts, in.restarts, "restarts changed %d -> %d",
		     in.restarts, w.in.restarts);
	cr_assert(h_pid_alive(in.pid));
	cr_assert(h_wait_until(node_state_fn, &wn, 10000),
		  "n1 not up after the rsd restart (state '%s')", wn.state);
	/* the agent really talks to the new rsd: it can start a service */
	r = h_rsctl("up", "svc-h2", "--", h_notifysvc(), "--ready", NULL);
	assert_ok(r, "up svc-h2 after the rsd restart");
	cr_assert(h_wait_until(same_pid_fn, &w, 1000), "svc-h changed");
	h_pass();
}

/* ---- (i) agent killed -> node lost within the TTL --------------------- */

Test(integration, agent_kill_node_lost, .init = setup_ttl2, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const char *upo[] = { "--node", "n1", NULL };
	h_inst in = up_notifysvc("svc-i", upo, NULL);
	struct wnode wn = { .node = "n1", .want = "lost" };
	char st[32];
	int64_t t0;

	cr_assert_str_eq(in.node, "n1");
	h_kill_agent(1, SIGKILL);
	t0 = h_now_ms();
	cr_assert(h_wait_until(node_state_fn, &wn, 6000),
		  "n1 not lost 6 s after its agent was killed (TTL 2 s); "
		  "state '%s'", wn.state);
	cr_assert_geq(h_now_ms() - t0, 1000, "n1 lost after only %lld ms",
		      (long long)(h_now_ms() - t0));
	cr_assert(h_node_state("n2", st, sizeof st), "n2 is gone from nodes");
	cr_assert_str_eq(st, "up", "n2 must stay up");
	/* the service lives on in the agent's keeper */
	cr_assert(h_pid_alive(in.pid), "pid %d died with its agent",
		  (int)in.pid);
	h_pass();
}

/* ---- (j) unknown label ------------------------------------------------ */

Test(integration, unknown_label, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	static const char *const verbs[] = { "status", "down", "lookup" };

	for (size_t i = 0; i < sizeof verbs / sizeof *verbs; i++) {
		const h_res *r = h_rsctl(verbs[i], "nosuch", NULL);

		assert_code(r, RS_E_NOENT, verbs[i]);
		cr_assert(strstr(r->err, "nosuch"), "%s nosuch: stderr does not "
			  "name the label: '%s'", verbs[i], r->err);
	}
	h_pass();
}

/* ---- (k) events after a crash ----------------------------------------- */

Test(integration, events_after_crash, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	h_inst in = up_notifysvc("svc-k", NULL, NULL);
	struct wstatus w = { .label = "svc-k", .old_pid = in.pid };
	struct wevents we = { .label = "svc-k" };

	cr_assert_eq(kill(in.pid, SIGKILL), 0);
	cr_assert(h_wait_until(restarted_fn, &w, 10000), "svc-k not restarted");
	cr_assert(h_wait_until(crash_event_fn, &we, 5000),
		  "events svc-k --json has no exit/restart event; kinds: %s",
		  we.kinds);
	cr_assert(!we.bad_label, "events svc-k listed another label");
	h_pass();
}

/* ---- more: exit codes of common mistakes ------------------------------ */

Test(integration, up_twice_exists, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	h_inst in = up_notifysvc("svc-l", NULL, NULL), now;
	const h_res *r = h_rsctl("up", "svc-l", "--", h_notifysvc(), "--ready",
				 NULL);

	assert_code(r, RS_E_EXISTS, "second up of svc-l");
	cr_assert(h_status_instance("svc-l", &now));
	cr_assert_eq(now.pid, in.pid, "a second up replaced the process");
	cr_assert(h_pid_alive(in.pid));
	h_pass();
}

Test(integration, up_json_is_lookup, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const h_res *r = h_rsctl("--json", "up", "svc-uj", "--", h_notifysvc(),
				 "--ready", NULL);
	json_t *j;
	h_inst in;

	assert_ok(r, "up --json");
	j = h_json(r);
	cr_assert(json_is_object(j), "up --json printed no JSON object: %s",
		  r->out);
	cr_assert(h_status_instance("svc-uj", &in));
	if (json_object_get(j, "pid")) {	/* the lookup object */
		cr_assert_str_eq(h_jstr(j, "label"), "svc-uj", "%s", r->out);
		cr_assert_eq(json_integer_value(json_object_get(j, "pid")),
			     in.pid, "up --json pid vs status: %s", r->out);
	} else {				/* {"code":0,"message":...} */
		cr_assert_eq(json_integer_value(json_object_get(j, "code")), 0,
			     "%s", r->out);
	}
	h_pass();
}

Test(integration, rsd_unreachable_exit6, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const h_res *r;

	h_kill_rsd(SIGKILL);
	r = h_rsctl("--timeout", "0.5", "status", NULL);
	assert_code(r, RS_E_UNREACHABLE, "status with rsd dead");
	cr_assert(strstr(r->err, "did not answer"), "stderr: %s", r->err);
	cr_assert_lt(r->elapsed_ms, 5000, "gave up after %ld ms (timeout 0.5 s "
		     "+ 2 s slack)", r->elapsed_ms);
	h_pass();
}

/* ---- more: backoff on the second crash in a row ----------------------- */

Test(integration, second_crash_backs_off, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	h_inst in = up_notifysvc("svc-n", NULL, NULL);
	struct wstatus w = { .label = "svc-n", .old_pid = in.pid };
	pid_t pid2;
	int64_t t0, took;

	cr_assert_eq(kill(in.pid, SIGKILL), 0);
	cr_assert(h_wait_until(restarted_fn, &w, 10000), "1st restart missing");
	pid2 = w.in.pid;
	w.old_pid = pid2;
	t0 = h_now_ms();
	cr_assert_eq(kill(pid2, SIGKILL), 0);
	cr_assert(h_wait_until(restarted_fn, &w, 10000),
		  "2nd restart missing: state '%s' restarts %d", w.in.state,
		  w.in.restarts);
	took = h_now_ms() - t0;
	cr_assert_eq(w.in.restarts, 2, "restarts %d, want 2", w.in.restarts);
	cr_assert_geq(took, 1500, "the 2nd restart in a row came after %lld ms, "
		      "not after the 2 s backoff", (long long)took);
	h_pass();
}

/* ---- more: SIGTERM of an agent stops its services --------------------- */

Test(integration, agent_sigterm_stops_services, .init = setup1,
     .fini = teardown, .timeout = T_TIMEOUT)
{
	const char *upo[] = { "--stop-timeout", "1", NULL };
	const char *svc[] = { "--ignore-term", NULL };
	h_inst a = up_notifysvc("svc-o1", NULL, NULL);
	h_inst b = up_notifysvc("svc-o2", upo, svc);
	int64_t t0 = h_now_ms();
	int st = h_kill_agent(1, SIGTERM);

	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "rs-agent on SIGTERM: wait status 0x%x, want exit 0", st);
	cr_assert(!h_pid_alive(a.pid), "svc-o1 (%d) survived the agent's SIGTERM",
		  (int)a.pid);
	cr_assert(!h_pid_alive(b.pid), "TERM-ignoring svc-o2 (%d) survived "
		  "the agent's SIGTERM", (int)b.pid);
	cr_assert_geq(h_now_ms() - t0, 900, "the agent did not wait the stop "
		      "timeout of svc-o2");
	h_pass();
}

/* ---- more: SIGTERM of rsd: clean exit, services keep running ---------- */

Test(integration, rsd_sigterm_clean, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	h_inst in = up_notifysvc("svc-p", NULL, NULL);
	struct wsame w = { .label = "svc-p", .pid = in.pid };
	int st = h_kill_rsd(SIGTERM);

	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "rsd on SIGTERM: wait status 0x%x, want exit 0", st);
	cr_assert(h_pid_alive(in.pid), "svc-p died with rsd");
	h_restart_rsd();
	cr_assert(h_wait_until(same_pid_fn, &w, 10000),
		  "svc-p not running with pid %d after the rsd restart "
		  "(pid %d state '%s')", (int)in.pid, (int)w.in.pid,
		  w.in.state);
	h_pass();
}

/* ---- more: a crash while rsd is down is replayed ---------------------- */

/* An event of kind with detail containing what (NULL: any) in label's
 * trail. */
struct wevent {
	const char *label, *kind, *what;
};

static bool event_seen_fn(void *arg)
{
	struct wevent *w = arg;
	const h_res *r = h_rsctl("events", w->label, "--json", NULL);
	json_t *j = h_json(r), *e;
	size_t i;

	json_array_foreach(json_object_get(j, "events"), i, e) {
		const char *k = json_string_value(json_object_get(e, "kind"));
		const char *dt = json_string_value(json_object_get(e, "detail"));

		if (k && !strcmp(k, w->kind) && (!w->what || (dt && strstr(dt, w->what))))
			return true;
	}
	return false;
}

Test(integration, crash_while_rsd_down_replayed, .init = setup1,
     .fini = teardown, .timeout = T_TIMEOUT)
{
	const char *pidfile = h_path("q.pid");
	const char *svc[] = { "--pidfile", pidfile, NULL };
	h_inst in = up_notifysvc("svc-q", NULL, svc);
	struct wstatus w = { .label = "svc-q", .old_pid = in.pid };
	struct wnode wn = { .node = "n1", .want = "up" };
	struct wpidfile pf;
	pid_t newpid;

	h_kill_rsd(SIGKILL);
	cr_assert_eq(kill(in.pid, SIGKILL), 0);
	/* the agent restarts it on its own: the pid file changes */
	pf.path = pidfile;
	pf.old = in.pid;
	cr_assert(h_wait_until(pidfile_changed_fn, &pf, 10000),
		  "the agent did not restart svc-q while rsd was down");
	newpid = pf.now;
	h_track_pid(newpid);
	h_restart_rsd();
	cr_assert(h_wait_until(node_state_fn, &wn, 10000), "n1 not up again");
	cr_assert(h_wait_until(restarted_fn, &w, 10000),
		  "rsd does not show the restart done while it was down: "
		  "pid %d state '%s' restarts %d", (int)w.in.pid, w.in.state,
		  w.in.restarts);
	cr_assert_eq(w.in.pid, newpid, "status pid %d, real pid %d",
		     (int)w.in.pid, (int)newpid);
	cr_assert_eq(w.in.restarts, 1, "restarts %d, want 1", w.in.restarts);
	cr_assert_str_eq(w.in.reason, "signaled");
	{	/* and the events themselves, replayed: the Hello carries only
		 * the state */
		char pid[32];
		struct wevent we = { .label = "svc-q", .kind = "started", .what = pid };

		snprintf(pid, sizeof pid, "%d", (int)newpid);
		cr_assert(h_wait_until(event_seen_fn, &we, 5000),
			  "the start of pid %d while rsd was down is not in its events",
			  (int)newpid);
		we.kind = "exited";
		we.what = NULL;
		cr_assert(h_wait_until(event_seen_fn, &we, 5000),
			  "the crash while rsd was down is not in its events");
	}
	h_pass();
}

/* ---- more: a lost node comes back when its agent returns -------------- */

Test(integration, lost_node_comes_back, .init = setup_ttl2, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	struct wnode wn = { .node = "n2", .want = "lost" };

	h_kill_agent(2, SIGKILL);
	cr_assert(h_wait_until(node_state_fn, &wn, 6000), "n2 not lost: '%s'",
		  wn.state);
	h_restart_agent(2);
	wn.want = "up";
	cr_assert(h_wait_until(node_state_fn, &wn, 6000),
		  "n2 not up again after its agent restarted: '%s'", wn.state);
	cr_assert(h_nodes_all_up());
	h_pass();
}

/* ---- more: ready timeout ---------------------------------------------- */

struct wreason {
	const char *label;
	const char *reason;
	h_inst      in;
};

static bool reason_fn(void *arg)
{
	struct wreason *w = arg;

	return h_status_instance(w->label, &w->in) &&
	       !strcmp(w->in.reason, w->reason);
}

Test(integration, ready_timeout_fails_up, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const char *pidfile = h_path("rt.pid");
	const h_res *r = h_rsctl("up", "svc-rt", "--ready-timeout", "1",
				 "--notify", "notify", "--", h_notifysvc(),
				 "--pidfile", pidfile, NULL);
	struct wreason w = { .label = "svc-rt", .reason = "ready-timeout" };
	pid_t pid = h_read_pidfile(pidfile);

	h_track_pid(pid);
	cr_assert(!r->timed_out, "up hung");
	cr_assert_neq(r->code, 0, "up of a never-ready service exited 0");
	/* docs/cli.md: 5 = "rsd gave up waiting (e.g. not ready in time)";
	 * design.md: a start that never got ready has failed (1). Either. */
	cr_assert(r->code == RS_E_TIMEOUT || r->code == RS_E_FAILED,
		  "exit %d, want %d (timeout) or %d (failed); stderr: %s",
		  r->code, RS_E_TIMEOUT, RS_E_FAILED, r->err);
	cr_assert(r->err[0], "nothing on stderr");
	cr_assert_geq(r->elapsed_ms, 900, "failed after %ld ms, before the "
		      "1 s ready timeout", r->elapsed_ms);
	cr_assert_lt(r->elapsed_ms, 8000, "took %ld ms", r->elapsed_ms);
	cr_assert_gt(pid, 0, "the service never ran (no pid file)");
	cr_assert(h_wait_until(pid_dead_fn, &pid, 3000),
		  "the never-ready process %d is still alive", (int)pid);
	cr_assert(h_wait_until(reason_fn, &w, 3000),
		  "last_exit.reason '%s', want ready-timeout (state '%s')",
		  w.in.reason, w.in.state);
	h_pass();
}

/* ---- more: restart policy never --------------------------------------- */

static bool not_live_fn(void *arg)
{
	struct wstatus *w = arg;

	return h_status_instance(w->label, &w->in) && !live_state_str(w->in.state);
}

Test(integration, policy_never_no_restart, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const char *upo[] = { "--restart", "never", NULL };
	h_inst in = up_notifysvc("svc-nv", upo, NULL), now;
	struct wstatus w = { .label = "svc-nv", .old_pid = in.pid };

	cr_assert_eq(kill(in.pid, SIGKILL), 0);
	cr_assert(h_wait_until(not_live_fn, &w, 5000),
		  "svc-nv still '%s' after its crash", w.in.state);
	cr_expect(!strcmp(w.in.state, "failed") || !strcmp(w.in.state, "down"),
		  "state '%s', want failed or down", w.in.state);
	cr_assert_str_eq(w.in.reason, "signaled");
	cr_assert_eq(w.in.restarts, 0, "restarts %d", w.in.restarts);
	/* and it stays that way */
	for (int64_t end = h_now_ms() + 1500; h_now_ms() < end; ) {
		cr_assert(h_status_instance("svc-nv", &now));
		cr_assert(!live_state_str(now.state) &&
			  (now.pid == 0 || !h_pid_alive(now.pid)),
			  "restarted despite --restart never: '%s' pid %d",
			  now.state, (int)now.pid);
	}
	h_pass();
}

/* ---- more: refresh, restart, shutdown --------------------------------- */

Test(integration, refresh_replaces_process, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	h_inst in = up_notifysvc("svc-rf", NULL, NULL), now;
	const h_res *r = h_rsctl("refresh", "svc-rf", NULL);

	assert_ok(r, "refresh");
	cr_assert(h_status_instance("svc-rf", &now));
	cr_assert_str_eq(now.state, "running");
	cr_assert_neq(now.pid, in.pid, "refresh kept pid %d", (int)in.pid);
	cr_assert(h_pid_alive(now.pid));
	cr_assert(!h_pid_alive(in.pid), "old pid %d alive after refresh",
		  (int)in.pid);
	cr_assert_eq(now.restarts, in.restarts, "refresh counted as a restart "
		     "(%d -> %d)", in.restarts, now.restarts);
	h_pass();
}

Test(integration, restart_after_down, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	h_inst in = up_notifysvc("svc-rs", NULL, NULL), now;
	const h_res *r;

	r = h_rsctl("restart", "svc-rs", NULL);
	assert_code(r, RS_E_EXISTS, "restart of a live service");
	cr_assert(h_pid_alive(in.pid));
	assert_ok(h_rsctl("down", "svc-rs", NULL), "down");
	r = h_rsctl("restart", "svc-rs", NULL);
	assert_ok(r, "restart after down");
	cr_assert(h_status_instance("svc-rs", &now));
	cr_assert_str_eq(now.state, "running");
	cr_assert_str_eq(now.desired, "up");
	cr_assert_neq(now.pid, in.pid);
	cr_assert(h_pid_alive(now.pid));
	h_pass();
}

Test(integration, shutdown_stops_all, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	h_inst a = up_notifysvc("svc-s1", NULL, NULL);
	h_inst b = up_notifysvc("svc-s2", NULL, NULL), now;
	const h_res *r = h_rsctl("shutdown", NULL);

	assert_ok(r, "shutdown");
	cr_assert(!h_pid_alive(a.pid) && !h_pid_alive(b.pid),
		  "a service survived shutdown (%d %d)", h_pid_alive(a.pid),
		  h_pid_alive(b.pid));
	assert_ok(h_rsctl("status", NULL), "status after shutdown");
	for (int64_t end = h_now_ms() + 1500; h_now_ms() < end; ) {
		cr_assert(h_status_instance("svc-s1", &now) || now.svc_state[0]);
		cr_assert(now.pid == 0 || !h_pid_alive(now.pid),
			  "svc-s1 came back after shutdown (pid %d)",
			  (int)now.pid);
	}
	h_pass();
}

/* ---- more: placement -------------------------------------------------- */

Test(integration, placement_on_node, .init = setup_ttl2, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const char *upo[] = { "--node", "n2", NULL };
	h_inst in = up_notifysvc("svc-pl", upo, NULL);
	const h_res *r;

	cr_assert_str_eq(in.node, "n2");
	r = h_rsctl("up", "svc-pl9", "--node", "n9", "--", h_notifysvc(),
		    "--ready", NULL);
	assert_code(r, RS_E_NONODE, "up on an unknown node");
	h_pass();
}

/* ---- more: the service's environment ---------------------------------- */

/* Whether /proc/PID/environ holds the entry `kv` (or, when kv ends with
 * '=', an entry starting with it). */
static bool env_has(pid_t pid, const char *kv)
{
	char path[64], env[32768];
	size_t kl = strlen(kv);
	bool prefix = kl && kv[kl - 1] == '=';
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, env, sizeof env - 1);
	close(fd);
	if (n <= 0)
		return false;
	env[n] = '\0';
	for (ssize_t off = 0; off < n; off += (ssize_t)strlen(env + off) + 1)
		if (prefix ? !strncmp(env + off, kv, kl) : !strcmp(env + off, kv))
			return true;
	return false;
}

Test(integration, service_environment, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const char *upo[] = { "--period", "0.5", "--env", "FOO=bar", NULL };
	const char *svc[] = { "--watchdog", "100", NULL };
	h_inst in = up_notifysvc("svc-env", upo, svc);

	cr_assert(env_has(in.pid, "RS_LABEL=svc-env"), "RS_LABEL missing");
	cr_assert(env_has(in.pid, "RS_NODE=n1"), "RS_NODE missing");
	cr_assert(env_has(in.pid, "RS_INSTANCE="), "RS_INSTANCE missing");
	cr_assert(env_has(in.pid, "NOTIFY_SOCKET="), "NOTIFY_SOCKET missing");
	cr_assert(env_has(in.pid, "WATCHDOG_USEC=500000"),
		  "WATCHDOG_USEC=500000 missing for --period 0.5");
	cr_assert(env_has(in.pid, "FOO=bar"), "--env FOO=bar missing");
	h_pass();
}

/* ---- empty arguments reach the service as they are --------------------- */

struct wfile {
	const char *path;
	const char *want;
	char        got[256];
};

static bool file_is_fn(void *arg)
{
	struct wfile *w = arg;
	FILE *f = fopen(w->path, "re");
	size_t n;

	if (!f)
		return false;
	n = fread(w->got, 1, sizeof w->got - 1, f);
	fclose(f);
	w->got[n] = '\0';
	return !strcmp(w->got, w->want);
}

/* Fails if dir holds an entry named like an environment variable: what
 * the keeper created when an empty argument shifted argv into env. */
static void assert_no_env_named_file(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	cr_assert_not_null(d, "cannot list %s", dir);
	while ((e = readdir(d)))
		cr_assert_null(strchr(e->d_name, '='), "stray file %s/%s", dir,
			       e->d_name);
	closedir(d);
}

Test(integration, empty_arguments_kept, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	char env_out[H_PATH_MAX + 8], link[64], cwd[H_PATH_MAX];
	struct wfile w = { .path = h_path("args.out"), .want = "[][a][]" };
	const h_res *r;
	pid_t keeper = h_keeper_pid(1);
	h_inst in;
	ssize_t n;

	snprintf(env_out, sizeof env_out, "OUT=%s", w.path);
	r = h_rsctl("up", "x", "--env", env_out, "--", "/bin/sh", "-c",
		    "printf '[%s]' \"$@\" > \"$OUT\"; exec sleep 1000", "sh", "",
		    "a", "", NULL);
	assert_ok(r, "up with empty arguments");
	cr_assert(h_status_instance("x", &in), "no instance of x");
	cr_assert_str_eq(in.state, "running");
	cr_assert(h_wait_until(file_is_fn, &w, 10000), "%s holds '%s', want '%s'",
		  w.path, w.got, w.want);
	/* the keeper runs in / and created nothing there or where the
	 * agent runs */
	cr_assert_gt(keeper, 0, "no keeper pid");
	snprintf(link, sizeof link, "/proc/%d/cwd", (int)keeper);
	n = readlink(link, cwd, sizeof cwd - 1);
	cr_assert_gt(n, 0, "cannot read %s", link);
	cwd[n] = '\0';
	cr_assert_str_eq(cwd, "/", "the keeper runs in %s", cwd);
	assert_no_env_named_file("/");
	snprintf(link, sizeof link, "/proc/%d/cwd", (int)h_agent_pid(1));
	n = readlink(link, cwd, sizeof cwd - 1);
	cr_assert_gt(n, 0, "cannot read %s", link);
	cwd[n] = '\0';
	assert_no_env_named_file(cwd);
	assert_no_env_named_file(h_tmpdir());
	h_pass();
}

/* ---- more: WATCHDOG=trigger ------------------------------------------- */

Test(integration, watchdog_trigger, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const char *upo[] = { "--period", "10", NULL };
	/* 1.5 s: up_notifysvc's status must find it alive first, also
	 * under ASan on a loaded machine (300 ms was not, once) */
	const char *svc[] = { "--watchdog", "200", "--send-after", "1500",
			      "WATCHDOG=trigger", NULL };
	h_inst in = up_notifysvc("svc-wt", upo, svc);
	struct wstatus w = { .label = "svc-wt", .old_pid = in.pid };

	/* well before the 2 x 10 s miss */
	cr_assert(h_wait_until(watchdog_fn, &w, 5000),
		  "WATCHDOG=trigger did not restart the service: pid %d "
		  "state '%s' restarts %d reason '%s'", (int)w.in.pid,
		  w.in.state, w.in.restarts, w.in.reason);
	cr_assert(h_wait_until(pid_dead_fn, &in.pid, 2000));
	h_pass();
}

/* ---- more: the event log's shape -------------------------------------- */

Test(integration, events_shape, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	h_inst in = up_notifysvc("svc-ev", NULL, NULL);
	const h_res *r = h_rsctl("events", "svc-ev", "--json", NULL);
	json_t *j = h_json(r), *e;
	long long last = -1;
	bool started = false, ready = false;
	size_t i;

	(void)in;
	assert_ok(r, "events");
	cr_assert(json_is_array(json_object_get(j, "events")), "%s", r->out);
	json_array_foreach(json_object_get(j, "events"), i, e) {
		long long seq = json_integer_value(json_object_get(e, "seq"));

		cr_assert_str_eq(h_jstr(e, "label"), "svc-ev", "%s", r->out);
		cr_assert_gt(json_integer_value(json_object_get(e, "time_ms")), 0,
			     "%s", r->out);
		cr_assert_neq(seq, last, "duplicate seq %lld: %s", seq, r->out);
		last = seq;
		if (!strcmp(h_jstr(e, "kind"), "started"))
			started = true;
		if (!strcmp(h_jstr(e, "kind"), "ready"))
			ready = true;
	}
	cr_assert(started && ready, "no started/ready event: %s", r->out);
	h_pass();
}

/* ---- agent kill -9: the keeper keeps the services ----------------------- */

/* The events of label (JSON) hold one of kind whose detail has needle. */
static bool has_event(const char *label, const char *kind, const char *needle)
{
	const h_res *r = h_rsctl_t(15000, "events", label, "--json", NULL);
	json_t *j = h_json(r), *e;
	size_t i;

	if (r->code != 0 || !j)
		return false;
	json_array_foreach(json_object_get(j, "events"), i, e)
		if (!strcmp(h_jstr(e, "kind"), kind) &&
		    (!needle || strstr(h_jstr(e, "detail"), needle)))
			return true;
	return false;
}

/* An agent killed with SIGKILL and started again restarts no service: the
 * keeper kept it, the new agent adopts it (same pid, no restart counted),
 * and it is supervised again (a crash afterwards is restarted). */
Test(integration, agent_kill9_readopts, .init = setup_ttl2, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const char *upo[] = { "--node", "n1", NULL };
	h_inst in = up_notifysvc("svc-ka", upo, NULL);
	struct wsame ws = { .label = "svc-ka", .pid = in.pid };
	struct wstatus w = { .label = "svc-ka", .old_pid = in.pid };
	pid_t keeper = h_keeper_pid(1);
	pid_t agent = h_agent_pid(1);

	cr_assert(keeper > 1 && keeper != agent,
		  "no keeper pid file for n1 (keeper %d, agent %d)", (int)keeper,
		  (int)agent);
	h_kill_agent(1, SIGKILL);
	cr_assert(h_pid_alive(in.pid), "pid %d died with its agent", (int)in.pid);
	cr_assert(h_pid_alive(keeper), "the keeper died with its agent");
	h_restart_agent(1);
	cr_assert(h_wait_until(same_pid_fn, &ws, 8000),
		  "after the agent's restart svc-ka shows pid %d state '%s', "
		  "want the same pid %d running", (int)ws.in.pid, ws.in.state,
		  (int)in.pid);
	cr_assert_eq(ws.in.restarts, 0, "restarts %d after re-adoption",
		     ws.in.restarts);
	cr_assert_eq(h_keeper_pid(1), keeper, "a new keeper was started");
	cr_assert(!has_event("svc-ka", "exited", NULL),
		  "an exit was recorded though nothing died");
	/* supervised again: the new agent restarts it after a crash */
	cr_assert_eq(kill(in.pid, SIGKILL), 0);
	cr_assert(h_wait_until(restarted_fn, &w, 8000),
		  "svc-ka not restarted by the new agent: pid %d state '%s'",
		  (int)w.in.pid, w.in.state);
	h_pass();
}

/* A service that dies while its agent is dead: the keeper keeps the exit
 * status, the next agent reports it (with the signal) and restarts it. */
Test(integration, agent_kill9_exit_reported, .init = setup_ttl2,
     .fini = teardown, .timeout = T_TIMEOUT)
{
	const char *upo[] = { "--node", "n1", NULL };
	h_inst in = up_notifysvc("svc-ke", upo, NULL);
	struct wstatus w = { .label = "svc-ke", .old_pid = in.pid };
	char needle[64];

	h_kill_agent(1, SIGKILL);
	cr_assert_eq(kill(in.pid, SIGKILL), 0);
	cr_assert(h_wait_until(pid_dead_fn, &in.pid, 5000),
		  "pid %d still alive after SIGKILL", (int)in.pid);
	h_restart_agent(1);
	cr_assert(h_wait_until(restarted_fn, &w, 8000),
		  "svc-ke not restarted after the agent came back: pid %d "
		  "state '%s'", (int)w.in.pid, w.in.state);
	snprintf(needle, sizeof needle, "pid %d killed by signal 9", (int)in.pid);
	cr_assert(has_event("svc-ke", "exited", needle),
		  "no 'exited' event saying '%s' for the death while the agent "
		  "was gone", needle);
	h_pass();
}

/* The keeper itself killed (the whole agent gone, as in a host crash): its
 * services die with it (PR_SET_PDEATHSIG) instead of running on
 * untracked, and when the agent returns rsd starts what it lacks. */
Test(integration, keeper_killed_services_restarted, .init = setup_ttl2,
     .fini = teardown, .timeout = T_TIMEOUT)
{
	const char *upo[] = { "--node", "n1", NULL };
	h_inst in = up_notifysvc("svc-lb", upo, NULL);
	struct wnode wn = { .node = "n1", .want = "lost" };
	struct wstatus w = { .label = "svc-lb", .old_pid = in.pid };
	pid_t keeper = h_keeper_pid(1);

	cr_assert(keeper > 1);
	h_kill_agent(1, SIGKILL);
	cr_assert_eq(kill(keeper, SIGKILL), 0);
	cr_assert(h_wait_until(pid_dead_fn, &in.pid, 5000),
		  "pid %d outlived its keeper", (int)in.pid);
	cr_assert(h_wait_until(node_state_fn, &wn, 6000), "n1 not lost");
	h_restart_agent(1);
	wn.want = "up";
	cr_assert(h_wait_until(node_state_fn, &wn, 6000), "n1 not up again");
	cr_assert(h_wait_until(restarted_fn, &w, 10000),
		  "svc-lb not started again on the returning n1: pid %d "
		  "state '%s' node '%s'", (int)w.in.pid, w.in.state,
		  w.in.node);
	cr_assert_str_eq(w.in.node, "n1");
	cr_assert_neq(h_keeper_pid(1), keeper, "no new keeper");
	h_pass();
}

struct wdown {
	const char *label;
	h_inst      in;
};

static bool settled_down_fn(void *arg)
{
	struct wdown *w = arg;

	if (!h_status_instance(w->label, &w->in))
		return !strcmp(w->in.svc_state, "down");
	return !strcmp(w->in.state, "down");
}

/* Desired down (set while the node was lost): once the agent is back and
 * says it runs nothing, the instance must not stay "lost" forever. */
Test(integration, lost_node_back_down_reconciled, .init = setup_ttl2,
     .fini = teardown, .timeout = T_TIMEOUT)
{
	const char *upo[] = { "--node", "n1", NULL };
	h_inst in = up_notifysvc("svc-ld", upo, NULL);
	struct wnode wn = { .node = "n1", .want = "lost" };
	struct wdown w = { .label = "svc-ld" };
	const h_res *r;

	h_kill_agent(1, SIGKILL);
	cr_assert(h_wait_until(node_state_fn, &wn, 6000), "n1 not lost");
	r = h_rsctl("down", "svc-ld", NULL);
	cr_assert(!r->timed_out, "down on a lost node hung");
	/* the answer does not pretend: the copy there is out of reach */
	cr_assert_eq(r->code, 0, "down: %s", r->err);
	cr_assert(strstr(r->out, "lost node n1") || strstr(r->err, "lost node n1"),
		  "down does not say the copy on lost n1 is out of reach: %s%s",
		  r->out, r->err);
	h_restart_agent(1);
	wn.want = "up";
	cr_assert(h_wait_until(node_state_fn, &wn, 6000), "n1 not up again");
	cr_assert(h_wait_until(settled_down_fn, &w, 5000),
		  "after `down` (exit %d: %s%s) on lost n1 and the agent's "
		  "return with no instances, svc-ld shows state '%s' pid %d "
		  "(desired '%s'), want down", r->code, r->out, r->err,
		  w.in.state, (int)w.in.pid, w.in.desired);
	(void)in;
	h_pass();
}

/* The instances of label in rsd's status: how many run, and whether one
 * that runs is on node. */
struct wsup {
	const char *label;
	const char *node;
	int         running, total;
	bool        on_node;
};

static bool one_running_fn(void *arg)
{
	struct wsup *w = arg;
	const h_res *r = h_rsctl("--json", "status", w->label, NULL);
	json_t *j = h_json(r), *svcs, *insts, *in;   /* the harness owns j */
	size_t i;

	w->running = w->total = 0;
	w->on_node = false;
	svcs = j ? json_object_get(j, "services") : NULL;
	insts = json_array_size(svcs) ? json_object_get(json_array_get(svcs, 0),
							"instances") : NULL;
	json_array_foreach(insts, i, in) {
		const char *st = json_string_value(json_object_get(in, "state"));
		const char *nd = json_string_value(json_object_get(in, "node"));
		bool run = st && !strcmp(st, "running");

		w->total++;
		w->running += run;
		w->on_node |= run && nd && !strcmp(nd, w->node);
	}
	return w->running == 1 && w->on_node;
}

/* `down` while the service's node was lost could not reach its copy (its
 * keeper kept it running), then `up` made a new instance on the other
 * node. When the lost node comes back and reports the old copy, that copy
 * is stopped and stays stopped: one copy runs, on n2, not two. */
Test(integration, down_on_lost_node_then_up_elsewhere_runs_one_copy,
     .init = setup_ttl2, .fini = teardown, .timeout = T_TIMEOUT)
{
	const char *on1[] = { "--node", "n1", NULL };
	const char *on2[] = { "--node", "n2", NULL };
	h_inst old = up_notifysvc("svc-sup", on1, NULL), now;
	struct wnode wn = { .node = "n1", .want = "lost" };
	struct wsup w = { .label = "svc-sup", .node = "n2" };
	const h_res *r;

	h_kill_agent(1, SIGKILL);
	cr_assert(h_wait_until(node_state_fn, &wn, 6000), "n1 not lost");
	r = h_rsctl("down", "svc-sup", NULL);
	cr_assert_eq(r->code, 0, "down with n1 lost: %s%s", r->out, r->err);
	now = up_notifysvc("svc-sup", on2, NULL);
	cr_assert_neq(now.id, old.id, "up made no new instance");
	h_restart_agent(1);
	wn.want = "up";
	cr_assert(h_wait_until(node_state_fn, &wn, 6000), "n1 not up again");
	/* a few periods and the returning node's Hello */
	cr_assert(h_wait_until(one_running_fn, &w, 5000), "svc-sup: %d of %d running, "
		  "one on n2: %d", w.running, w.total, w.on_node);
	cr_assert(h_wait_until(pid_dead_fn, &old.pid, 5000),
		  "the old copy (pid %d) still runs on n1", (int)old.pid);
	cr_assert(h_pid_alive(now.pid), "the new copy (pid %d) is gone", (int)now.pid);
	for (int t = 0; t < 30; t++) {   /* and it stays that way */
		cr_assert(one_running_fn(&w), "svc-sup: %d of %d running after n1 came "
			  "back (one on n2: %d): the superseded copy started again",
			  w.running, w.total, w.on_node);
		usleep(100 * 1000);
	}
	h_pass();
}

/* rsctl is-running: the exit code alone (0 running, 1 not, 3 unknown),
 * nothing printed. */
Test(integration, is_running_is_an_exit_code, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const h_res *r;

	up_notifysvc("svc-is", NULL, NULL);
	r = h_rsctl("is-running", "svc-is", NULL);
	assert_ok(r, "is-running of a running service");
	cr_assert_str_eq(r->out, "", "printed: %s", r->out);
	cr_assert_str_eq(r->err, "", "printed: %s", r->err);
	r = h_rsctl("is-running", "svc-none", NULL);
	assert_code(r, RS_E_NOENT, "is-running of an unknown service");
	cr_assert_str_eq(r->out, "", "printed: %s", r->out);
	cr_assert_str_eq(r->err, "", "printed: %s", r->err);
	assert_ok(h_rsctl("down", "svc-is", NULL), "down");
	r = h_rsctl("is-running", "svc-is", NULL);
	assert_code(r, RS_E_FAILED, "is-running of a service that is down");
	cr_assert_str_eq(r->err, "", "printed: %s", r->err);
	h_pass();
}

/* rsctl node forget: a node that is up is refused, an unknown one too,
 * and so is a lost one while a pinned service's instance waits for it;
 * once that is down the node leaves rsctl nodes, an event says so, and
 * its agent coming back joins again as a new node. */
Test(integration, node_forget_only_a_gone_node, .init = setup_ttl2,
     .fini = teardown, .timeout = T_TIMEOUT)
{
	const char *on2[] = { "--node", "n2", NULL };
	struct wnode wn = { .node = "n2", .want = "lost" };
	const h_res *r;

	up_notifysvc("svc-pin", on2, NULL);
	r = h_rsctl("node", "forget", "n2", NULL);
	assert_code(r, RS_E_BUSY, "forget of an up node");
	cr_assert(strstr(r->err, "only a node that is gone"), "%s", r->err);
	r = h_rsctl("node", "forget", "n9", NULL);
	assert_code(r, RS_E_NOENT, "forget of an unknown node");

	h_kill_agent(2, SIGKILL);
	cr_assert(h_wait_until(node_state_fn, &wn, 6000), "n2 not lost: %s", wn.state);
	r = h_rsctl("node", "forget", "n2", NULL);
	assert_code(r, RS_E_BUSY, "forget with a pinned instance placed there");
	cr_assert(strstr(r->err, "1 instance(s) placed on node n2"), "%s", r->err);
	assert_ok(h_rsctl("down", "svc-pin", NULL), "down of the pinned service");
	r = h_rsctl("node", "forget", "n2", NULL);
	assert_ok(r, "forget of a lost node");
	cr_assert(strstr(r->out, "node n2 forgotten (it was lost)"), "%s", r->out);
	r = h_rsctl("nodes", NULL);
	assert_ok(r, "nodes");
	cr_assert(strstr(r->out, "n1") && !strstr(r->out, "n2"), "nodes: %s", r->out);
	r = h_rsctl("events", NULL);
	cr_assert(strstr(r->out, "node-forget"), "events: %s", r->out);
	r = h_rsctl("node", "forget", "n2", NULL);
	assert_code(r, RS_E_NOENT, "a second forget");

	h_restart_agent(2);
	wn.want = "up";
	cr_assert(h_wait_until(node_state_fn, &wn, 6000), "n2 did not join again: %s",
		  wn.state);
	h_pass();
}

/* An agent stopped with SIGTERM (upgrade, reboot) stops its services; when
 * it comes back rsd still wants them up (desired "up") and must start
 * them again (design.md: "instances rsd wants but the agent lacks are
 * started"). */
Test(integration, agent_restart_restores_services, .init = setup1,
     .fini = teardown, .timeout = T_TIMEOUT)
{
	h_inst in = up_notifysvc("svc-ar", NULL, NULL);
	struct wstatus w = { .label = "svc-ar", .old_pid = in.pid };
	struct wnode wn = { .node = "n1", .want = "up" };

	h_kill_agent(1, SIGTERM);
	cr_assert(!h_pid_alive(in.pid), "the agent's SIGTERM left pid %d",
		  (int)in.pid);
	h_restart_agent(1);
	cr_assert(h_wait_until(node_state_fn, &wn, 6000), "n1 not up again");
	cr_assert(h_wait_until(restarted_fn, &w, 10000),
		  "svc-ar (desired '%s') not started again after its agent "
		  "came back: service state '%s', instance state '%s', "
		  "pid %d, reason '%s'", w.in.desired, w.in.svc_state,
		  w.in.state, (int)w.in.pid, w.in.reason);
	h_pass();
}

static bool env_get(pid_t pid, const char *name, char *out, size_t n);

/* How many live processes of this test's cluster serve label: its
 * RS_LABEL and a NOTIFY_SOCKET under the test's temp dir (another test
 * binary running at the same time has its own). */
static int count_copies(const char *label)
{
	char kv[128], sock[H_PATH_MAX];
	size_t tl = strlen(h_tmpdir());
	struct dirent *e;
	DIR *d = opendir("/proc");
	int n = 0;

	cr_assert(d, "opendir /proc: %s", strerror(errno));
	snprintf(kv, sizeof kv, "RS_LABEL=%s", label);
	while ((e = readdir(d))) {
		pid_t pid = (pid_t)atoi(e->d_name);

		if (pid > 1 && h_pid_alive(pid) && env_has(pid, kv) &&
		    env_get(pid, "NOTIFY_SOCKET", sock, sizeof sock) &&
		    !strncmp(sock, h_tmpdir(), tl) && sock[tl] == '/')
			n++;
	}
	closedir(d);
	return n;
}

static bool no_copy_fn(void *arg)
{
	return count_copies(arg) == 0;
}

/* Issue 16: rs-agent restarted for n1 with another --state-dir while
 * n1's keeper (of the first one) still runs its service. The agent
 * refuses with exit 3, naming that keeper's pid and state dir, and makes
 * no second keeper and no second copy. Its key goes along, as an operator
 * moving the state dir would take it: without the keeper check rsd would
 * take it for n1 and start the service a second time beside the kept
 * one. The restart on the right state dir adopts the service as before,
 * and a down then leaves no process of it. */
Test(integration, agent_other_state_dir_refused, .init = setup1,
     .fini = teardown, .timeout = T_TIMEOUT)
{
	h_inst in = up_notifysvc("svc-od", NULL, NULL);
	struct wsame ws = { .label = "svc-od", .pid = in.pid };
	pid_t keeper = h_keeper_pid(1);
	char other[H_PATH_MAX], first[PATH_MAX], want[3 * PATH_MAX],
	     cmd[3 * PATH_MAX];
	const h_res *r;

	cr_assert(keeper > 1, "no keeper pid file for n1");
	cr_assert(realpath(h_path("n1"), first), "realpath n1: %s", strerror(errno));
	h_kill_agent(1, SIGKILL);
	cr_assert(h_pid_alive(in.pid) && h_pid_alive(keeper),
		  "the service or its keeper died with the agent");
	snprintf(other, sizeof other, "%s", h_path("n1-other"));
	snprintf(cmd, sizeof cmd, "mkdir -m 700 %s && cp -p %s/agent.key %s/",
		 other, first, other);
	{
		const char *argv[] = { "/bin/sh", "-c", cmd, NULL };
		assert_ok(h_run(5000, argv), "copy n1's key");
	}
	r = h_run_agent_dir(1, other, 10000);
	cr_assert_eq(r->code, 3, "rs-agent n1 on another state dir exited %d "
		     "(signal %d%s), want 3; stderr:\n%s", r->code, r->sig,
		     r->timed_out ? ", still running: killed" : "", r->err);
	snprintf(want, sizeof want, "node n1 already has a keeper (pid %d, state "
		 "dir %s): start rs-agent with --state-dir %s", (int)keeper, first,
		 first);
	cr_assert(strstr(r->err, want), "stderr lacks '%s':\n%s", want, r->err);
	snprintf(cmd, sizeof cmd, "%s/run/keeper.pid", other);
	cr_assert_eq(h_read_pidfile(cmd), 0, "a second keeper was started for n1");
	cr_assert_eq(count_copies("svc-od"), 1, "svc-od runs %d times",
		     count_copies("svc-od"));
	cr_assert(h_pid_alive(in.pid), "the kept copy (pid %d) died", (int)in.pid);
	/* the right state dir: adopted as before, same keeper, same pid */
	h_restart_agent(1);
	cr_assert(h_wait_until(same_pid_fn, &ws, 8000),
		  "after the agent's restart svc-od shows pid %d state '%s', "
		  "want the same pid %d running", (int)ws.in.pid, ws.in.state,
		  (int)in.pid);
	cr_assert_eq(ws.in.restarts, 0, "restarts %d after re-adoption",
		     ws.in.restarts);
	cr_assert_eq(ws.in.ninstances, 1, "%d instances", ws.in.ninstances);
	cr_assert_eq(h_keeper_pid(1), keeper, "a new keeper was started");
	cr_assert_eq(count_copies("svc-od"), 1, "svc-od runs %d times",
		     count_copies("svc-od"));
	assert_ok(h_rsctl("down", "svc-od", NULL), "down");
	cr_assert(h_wait_until(no_copy_fn, "svc-od", 5000),
		  "%d process(es) of svc-od left after down", count_copies("svc-od"));
	h_pass();
}

/* The other side of agent_other_state_dir_refused: a keeper that keeps
 * nothing (its agent killed, no service, no exit to report) blocks no
 * agent of its node. One started on another state dir tells it to exit,
 * starts its own keeper and serves as n1 (it is killed after a while:
 * running is what it should do). */
Test(integration, agent_other_state_dir_retires_idle_keeper, .init = setup1,
     .fini = teardown, .timeout = T_TIMEOUT)
{
	pid_t keeper = h_keeper_pid(1);
	char other[H_PATH_MAX], cmd[3 * H_PATH_MAX];
	const h_res *r;

	cr_assert(keeper > 1, "no keeper pid file for n1");
	h_kill_agent(1, SIGKILL);
	cr_assert(h_pid_alive(keeper), "the keeper died with its agent");
	snprintf(other, sizeof other, "%s", h_path("n1-other"));
	snprintf(cmd, sizeof cmd, "mkdir -m 700 %s && cp -p %s/n1/agent.key %s/",
		 other, h_tmpdir(), other);
	{
		const char *argv[] = { "/bin/sh", "-c", cmd, NULL };
		assert_ok(h_run(5000, argv), "copy n1's key");
	}
	r = h_run_agent_dir(1, other, 4000);
	cr_assert(r->timed_out, "rs-agent n1 on another state dir exited %d "
		  "instead of serving; stderr:\n%s", r->code, r->err);
	cr_assert(strstr(r->err, "kept nothing and has exited"),
		  "the idle keeper was not retired; stderr:\n%s", r->err);
	cr_assert(strstr(r->err, "welcomed by rsd"), "not welcomed; stderr:\n%s",
		  r->err);
	cr_assert(h_wait_until(pid_dead_fn, &keeper, 3000),
		  "the idle keeper (pid %d) still runs", (int)keeper);
	h_pass();
}

/* ---- more: sd_notify credentials -------------------------------------- */

/* Copies the value of NAME from /proc/PID/environ into out; false if
 * absent. */
static bool env_get(pid_t pid, const char *name, char *out, size_t n)
{
	char path[64], env[32768];
	size_t nl = strlen(name);
	ssize_t k;
	int fd;

	snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	k = read(fd, env, sizeof env - 1);
	close(fd);
	if (k <= 0)
		return false;
	env[k] = '\0';
	for (ssize_t off = 0; off < k; off += (ssize_t)strlen(env + off) + 1)
		if (!strncmp(env + off, name, nl) && env[off + (ssize_t)nl] == '=') {
			snprintf(out, n, "%s", env + off + nl + 1);
			return true;
		}
	return false;
}

/* Sends msg to the sd_notify socket at path (a leading '@' = abstract). */
static int notify_send(const char *path, const char *msg)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t pl = strlen(path);
	socklen_t len;
	ssize_t k;
	int fd;

	if (pl >= sizeof sa.sun_path)
		return -1;
	memcpy(sa.sun_path, path, pl);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + pl +
			  (path[0] == '@' ? 0 : 1));
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	k = sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&sa, len);
	close(fd);
	return k < 0 ? -1 : 0;
}

/* READY=1 from a live process outside the service's session (this test)
 * must not make a --notify notify service ready. */
Test(integration, notify_from_outsider_ignored, .init = setup1,
     .fini = teardown, .timeout = T_TIMEOUT)
{
	const char *pidfile = h_path("x.pid");
	const h_res *r = h_rsctl("up", "svc-x", "--no-block", "--notify",
				 "notify", "--ready-timeout", "30", "--",
				 h_notifysvc(), "--pidfile", pidfile, NULL);
	char sock[256];
	pid_t pid;
	h_inst in;

	assert_ok(r, "up --no-block");
	cr_assert(h_wait_until(pidfile_fn, (void *)pidfile, 5000), "no pid file");
	pid = h_read_pidfile(pidfile);
	h_track_pid(pid);
	cr_assert(env_get(pid, "NOTIFY_SOCKET", sock, sizeof sock),
		  "the service has no NOTIFY_SOCKET");
	cr_assert(h_status_instance("svc-x", &in));
	cr_assert_str_eq(in.state, "starting");
	cr_assert_eq(notify_send(sock, "READY=1\nSTATUS=forged"), 0,
		     "cannot send to %s: %s", sock, strerror(errno));
	/* checking that nothing happens for 1 s */
	for (int64_t end = h_now_ms() + 1000; h_now_ms() < end; ) {
		cr_assert(h_status_instance("svc-x", &in));
		cr_assert_str_eq(in.state, "starting", "a forged READY=1 from "
				 "pid %d (outside the service's session) was "
				 "believed", (int)getpid());
		cr_assert_str_neq(in.status, "forged", "forged STATUS= believed");
	}
	h_pass();
}

/* ---- more: blocking requests in flight -------------------------------- */

static bool starting_fn(void *arg)
{
	struct wstatus *w = arg;

	return h_status_instance(w->label, &w->in) &&
	       !strcmp(w->in.state, "starting");
}

/* While a blocking `up` waits for READY=1, other requests on the label are
 * refused with 4 (busy); the up then completes. (down is the exception:
 * it cancels the start, ops::down_cancels_a_pending_up.) */
Test(integration, busy_while_up_in_flight, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	h_job *j = h_rsctl_start("up", "svc-bz", "--notify", "notify", "--",
				 h_notifysvc(), "--ready", "--ready-delay",
				 "2500", NULL);
	struct wstatus w = { .label = "svc-bz" };
	const h_res *r;

	cr_assert(h_wait_until(starting_fn, &w, 5000), "svc-bz never starting");
	r = h_rsctl("refresh", "svc-bz", NULL);
	assert_code(r, RS_E_BUSY, "refresh while up is in flight");
	r = h_rsctl("clone", "svc-bz", NULL);
	assert_code(r, RS_E_BUSY, "clone while up is in flight");
	r = h_job_wait(j, 20000);
	assert_ok(r, "the blocking up");
	cr_assert_geq(r->elapsed_ms, 2000, "up returned after %ld ms, before "
		      "READY=1 at 2.5 s", r->elapsed_ms);
	cr_assert(h_status_instance("svc-bz", &w.in));
	cr_assert_str_eq(w.in.state, "running");
	h_pass();
}

/* rsd killed while an `up` waits: the restarted rsd closes the stale
 * operation, so the service is not stuck busy, and the readiness reached
 * while rsd was down is known. */
Test(integration, rsd_killed_during_up, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	h_job *j = h_rsctl_start("--timeout", "3", "up", "svc-kd", "--notify",
				 "notify", "--", h_notifysvc(), "--ready",
				 "--ready-delay", "1500", NULL);
	struct wstatus w = { .label = "svc-kd" };
	struct wnode wn = { .node = "n1", .want = "up" };
	const h_res *r;
	pid_t pid;

	cr_assert(h_wait_until(starting_fn, &w, 5000), "svc-kd never starting");
	pid = w.in.pid;
	h_kill_rsd(SIGKILL);
	r = h_job_wait(j, 15000);
	cr_assert_neq(r->code, 0, "up succeeded without rsd");
	h_restart_rsd();
	cr_assert(h_wait_until(node_state_fn, &wn, 10000), "n1 not up again");
	w.old_pid = 0;
	cr_assert(h_wait_until(restarted_fn, &w, 10000),
		  "svc-kd not running after the rsd restart: state '%s' pid %d",
		  w.in.state, (int)w.in.pid);
	cr_assert_eq(w.in.pid, pid, "pid changed %d -> %d", (int)pid,
		     (int)w.in.pid);
	r = h_rsctl("down", "svc-kd", NULL);
	assert_ok(r, "down after the rsd restart (stale operation?)");
	cr_assert(!h_pid_alive(pid));
	h_pass();
}

/* ---- more: spec options reach the agent ------------------------------- */

Test(integration, stop_signal_option, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const char *upo[] = { "--stop-signal", "INT", "--stop-timeout", "5",
			      NULL };
	const char *svc[] = { "--ignore-term", NULL };
	h_inst in = up_notifysvc("svc-ss", upo, svc), now;
	const h_res *r = h_rsctl("down", "svc-ss", NULL);

	assert_ok(r, "down");
	cr_assert_lt(r->elapsed_ms, 3000, "down took %ld ms: SIGINT not sent "
		     "(the service ignores only TERM)", r->elapsed_ms);
	cr_assert(!h_pid_alive(in.pid));
	cr_assert(h_status_instance("svc-ss", &now));
	cr_expect_eq(now.exit_signal, SIGINT, "last_exit.signal %d, want 2",
		     now.exit_signal);
	h_pass();
}

Test(integration, no_backoff_restarts_at_once, .init = setup1,
     .fini = teardown, .timeout = T_TIMEOUT)
{
	const char *upo[] = { "--no-backoff", NULL };
	h_inst in = up_notifysvc("svc-nb", upo, NULL);
	struct wstatus w = { .label = "svc-nb", .old_pid = in.pid };
	int64_t t0;

	for (int k = 1; k <= 3; k++) {
		t0 = h_now_ms();
		cr_assert_eq(kill(w.old_pid, SIGKILL), 0);
		cr_assert(h_wait_until(restarted_fn, &w, 10000),
			  "restart %d missing", k);
		cr_assert_lt(h_now_ms() - t0, 1500, "restart %d took %lld ms "
			     "with --no-backoff", k,
			     (long long)(h_now_ms() - t0));
		cr_assert_eq(w.in.restarts, k);
		w.old_pid = w.in.pid;
	}
	h_pass();
}

Test(integration, on_failure_policy, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const char *upo[] = { "--restart", "on-failure", NULL };
	/* alive for up_notifysvc's check, also under ASan on a loaded
	 * machine (300 ms was not, once) */
	const char *ok0[] = { "--exit-after", "1500", "0", NULL };
	const char *bad3[] = { "--exit-after", "1500", "3", NULL };
	struct wstatus w0, w3;
	h_inst a = up_notifysvc("svc-of0", upo, ok0);
	h_inst b = up_notifysvc("svc-of3", upo, bad3);

	w0 = (struct wstatus){ .label = "svc-of0", .old_pid = a.pid };
	w3 = (struct wstatus){ .label = "svc-of3", .old_pid = b.pid };
	cr_assert(h_wait_until(restarted_fn, &w3, 10000),
		  "exit 3 under on-failure not restarted: '%s'", w3.in.state);
	cr_assert_eq(w3.in.exit_code, 3);
	cr_assert_str_eq(w3.in.reason, "exited");
	cr_assert(h_wait_until(not_live_fn, &w0, 5000),
		  "exit 0 under on-failure: still '%s'", w0.in.state);
	cr_assert_str_eq(w0.in.reason, "exited");
	cr_assert_eq(w0.in.exit_code, 0);
	cr_assert_eq(w0.in.restarts, 0, "exit 0 restarted under on-failure");
	h_pass();
}

Test(integration, up_true_exits_at_once, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const h_res *r = h_rsctl("up", "svc-tr", "--", "/bin/true", NULL);
	h_inst in;

	cr_assert(!r->timed_out);
	cr_assert_neq(r->code, 0, "up of /bin/true (exits before it is "
		      "ready) exited 0: %s", r->out);
	cr_assert(r->err[0], "nothing on stderr");
	if (h_status_instance("svc-tr", &in))
		cr_expect(!live_state_str(in.state), "state '%s'", in.state);
	h_pass();
}

/* ---- orders: a lost order is resent and applied once ------------------ */

static void setup_drop_orders(void)
{
	/* the agent loses the first copy of rsd's orders 1 and 2 */
	h_setup_env(1, "RS_TEST_DROP_ORDERS", "1,2");
}

Test(integration, lost_orders_are_resent, .init = setup_drop_orders,
     .fini = teardown, .timeout = T_TIMEOUT)
{
	const char *alog = h_path("agent-n1.log");
	h_inst in = up_notifysvc("lo", NULL, NULL);   /* its Start lost once */
	const h_res *r;

	cr_assert(h_file_has(alog, "order 1 dropped"),
		  "the agent never lost the Start: the test proves nothing");
	cr_assert_eq(in.restarts, 0, "started more than once");
	cr_assert_eq(in.ninstances, 1);
	r = h_rsctl("down", "lo", NULL);             /* its Stop lost once */
	assert_ok(r, "down lo");
	cr_assert(h_file_has(alog, "order 2 dropped"), "the Stop was never lost");
	cr_assert(!h_pid_alive(in.pid), "pid %d alive after down", (int)in.pid);
	h_pass();
}

/* ---- desired against observed: an order taken and never carried out -- */

static void setup_forget_orders(void)
{
	/* the agent takes (acknowledges) rsd's order 1 and does nothing */
	h_setup_env(1, "RS_TEST_FORGET_ORDERS", "1");
}

Test(integration, forgotten_start_is_noticed, .init = setup_forget_orders,
     .fini = teardown, .timeout = T_TIMEOUT)
{
	const char *alog = h_path("agent-n1.log");
	int64_t t0 = h_now_ms();
	h_inst in = up_notifysvc("fg", NULL, NULL);   /* its Start is forgotten */
	int64_t took = h_now_ms() - t0;

	cr_assert(h_file_has(alog, "order 1 forgotten"),
		  "the agent carried the Start out: the test proves nothing");
	cr_assert(h_file_has(h_path("rsd.log"), "has said nothing of it"),
		  "rsd never noticed that n1 runs nothing of fg");
	cr_assert_eq(in.ninstances, 1);
	cr_assert_eq(in.restarts, 0);
	cr_log_info("a Start taken and never carried out: fg running after %lld ms",
		    (long long)took);
	h_pass();
}

/* ---- the limits of a spec (docs/cli.md, up: Limits) ------------------ */

/* A command of 256 entries (the program and 255 arguments) and 256
 * environment entries run; an edit that would make it 257 variables is
 * rsd's exit 9 naming the limit (not "out of memory"), one that replaces
 * a variable is not. rsctl's own refusals: test_ctl_args.c. */
Test(integration, spec_at_its_limits, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	static char words[2 * 256 + 300][32];
	const char *argv[2 * 256 + 300];
	char script[H_PATH_MAX + 64];
	struct wfile w = { .path = h_path("argc.out"), .want = "252" };
	const h_res *r;
	h_inst in;
	int n = 0, k = 0;

	argv[n++] = "up";
	argv[n++] = "lim";
	argv[n++] = "--notify";
	argv[n++] = "simple";
	argv[n++] = "--settle";
	argv[n++] = "0.2";
	for (int i = 1; i <= 256; i++) {
		snprintf(words[k], sizeof words[k], "E%d=1", i);
		argv[n++] = "--env";
		argv[n++] = words[k++];
	}
	snprintf(script, sizeof script, "printf %%s $# > '%s'; exec sleep 1000", w.path);
	argv[n++] = "--";
	argv[n++] = "/bin/sh";      /* 4 entries, then 252 arguments: 256 */
	argv[n++] = "-c";
	argv[n++] = script;
	argv[n++] = "sh";
	for (int i = 1; i <= 252; i++) {
		snprintf(words[k], sizeof words[k], "a%d", i);
		argv[n++] = words[k++];
	}
	argv[n] = NULL;
	r = h_rsctl_v(H_RSCTL_TIMEOUT_MS, argv);
	assert_ok(r, "up with 256 command entries and 256 variables");
	cr_assert(h_status_instance("lim", &in) && !strcmp(in.state, "running"),
		  "lim is not running");
	cr_assert(h_wait_until(file_is_fn, &w, 10000), "the shell got %s arguments, "
		  "want %s", w.got, w.want);

	r = h_rsctl("edit", "lim", "--env", "E257=1", NULL);
	assert_code(r, RS_E_INVAL, "edit --env: a 257th variable");
	cr_assert(strstr(r->err, "lim: the command would have more than 256 entries "
			 "(the program and 255 arguments), or the environment "
			 "more than 256"), "stderr: %s", r->err);
	assert_ok(h_rsctl("edit", "lim", "--env", "E1=2", NULL),
		  "edit --env replacing one of the 256");
	h_pass();
}

/* ---- ping (docs/cli.md, ping) ----------------------------------------- */

/* rsctl ping prints pong; with --json exactly {"code": 0, "message":
 * "pong"}, the object docs/cli.md shows (it printed rsd's empty {}). */
Test(integration, ping_as_documented, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const h_res *r = h_rsctl("ping", NULL);
	json_t *j;

	assert_ok(r, "ping");
	cr_assert_str_eq(r->out, "pong\n");
	r = h_rsctl("--json", "ping", NULL);
	assert_ok(r, "ping --json");
	j = h_json(r);
	cr_assert(json_is_object(j), "ping --json printed no JSON object: %s", r->out);
	cr_assert_eq(json_object_size(j), 2, "ping --json: %s", r->out);
	cr_assert(json_is_integer(json_object_get(j, "code")), "%s", r->out);
	cr_assert_eq(json_integer_value(json_object_get(j, "code")), 0, "%s", r->out);
	cr_assert_str_eq(h_jstr(j, "message"), "pong", "%s", r->out);
	h_pass();
}
