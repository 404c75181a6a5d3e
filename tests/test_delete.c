/*
 * test_delete.c - rsctl delete LABEL end to end (docs/cli.md "delete"):
 * real rsd (RS_CHECK_TABLES=1: its tables are checked each period),
 * rs-agents and rsctl on the authenticated path (tests/harness.c), waits
 * on conditions. A deleted service's processes are gone, status and
 * describe no longer know it, its events are one 'delete' (or all of
 * them, kept), and an rsd killed and started again on the same store
 * does not bring it back.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codes.h"
#include "harness.h"

#define T_TIMEOUT 90

static void setup2(void) { h_setup(2); }
static void teardown(void) { h_teardown(); }

/* The pids of label's instances (status --json), tracked for teardown;
 * how many into *n (at most max). */
static void label_pids(const char *label, pid_t *pids, size_t max, size_t *n)
{
	const h_res *r = h_rsctl("status", label, "--json", NULL);
	json_t *j = h_json(r), *svc, *in;
	size_t i, k;

	*n = 0;
	json_array_foreach(json_object_get(j, "services"), i, svc)
		json_array_foreach(json_object_get(svc, "instances"), k, in) {
			pid_t pid = (pid_t)json_integer_value(json_object_get(in, "pid"));

			h_track_pid(pid);
			if (pid > 1 && *n < max)
				pids[(*n)++] = pid;
		}
}

/* The kinds of label's events (events LABEL --json), "up stopping ...". */
static const char *event_kinds(const char *label)
{
	static char out[2048];
	const h_res *r = h_rsctl("events", label, "-n", "500", "--json", NULL);
	json_t *j = h_json(r), *ev;
	size_t i;

	cr_assert_not_null(j, "events %s: %s %s", label, r->out, r->err);
	out[0] = '\0';
	json_array_foreach(json_object_get(j, "events"), i, ev) {
		cr_assert_str_eq(h_jstr(ev, "label"), label);
		snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s",
			 out[0] ? " " : "", h_jstr(ev, "kind"));
	}
	return out;
}

/* The detail of label's newest event. */
static const char *last_detail(const char *label)
{
	static char out[600];
	const h_res *r = h_rsctl("events", label, "-n", "1", "--json", NULL);
	json_t *ev = json_array_get(json_object_get(h_json(r), "events"), 0);

	snprintf(out, sizeof out, "%s (by %s)", h_jstr(ev, "detail"), h_jstr(ev, "actor"));
	return out;
}

struct pids { pid_t *v; size_t n; };

static bool all_dead(void *arg)
{
	struct pids *p = arg;

	for (size_t i = 0; i < p->n; i++)
		if (h_pid_alive(p->v[i]))
			return false;
	return true;
}

/* rsd ran at least one period (its table check) since t0, and lives. */
static bool period_passed(void *arg)
{
	int64_t t0 = *(int64_t *)arg;

	return h_now_ms() - t0 >= 1500 && h_pid_alive(h_rsd_pid());
}

static bool nodes_up(void *arg)
{
	(void)arg;
	return h_nodes_all_up();
}

/* `rsctl ARGV...` exits with code `want` (the last run kept in r). */
struct wcode {
	const char *const *argv;
	int want;
	const h_res *r;
};

static bool code_is(void *arg)
{
	struct wcode *w = arg;

	w->r = h_rsctl_v(H_RSCTL_TIMEOUT_MS, w->argv);
	return w->r->code == w->want;
}

static void assert_gone(const char *label)
{
	const h_res *r = h_rsctl("status", label, NULL);

	assert_code(r, RS_E_NOENT, "status after delete");
	r = h_rsctl("describe", label, NULL);
	assert_code(r, RS_E_NOENT, "describe after delete");
	r = h_rsctl("status", "--json", NULL);
	assert_code(r, 0, "status");
	cr_assert_null(strstr(r->out, label), "status still lists %s: %s", label, r->out);
}

/* Two running replicas: delete stops both (their processes die), the
 * service and its instances are gone from status and describe, its
 * events are the one 'delete' naming the caller; a second delete is 3.
 * rsd killed and started on the same store: still gone, the agents do
 * not start it again, and the label can be used again. */
Test(delete, running_replicas_then_rsd_restart, .init = setup2, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	pid_t pids[4];
	struct pids p = { pids, 0 };
	const h_res *r;
	int64_t t0;

	r = h_rsctl("up", "web", "--replicas", "2", "--", h_notifysvc(), "--ready", NULL);
	assert_code(r, 0, "up --replicas 2");
	label_pids("web", pids, 4, &p.n);
	cr_assert_eq(p.n, 2, "pids of web: %zu", p.n);
	cr_assert(!strstr(event_kinds("web"), "delete"));

	r = h_rsctl("delete", "web", NULL);
	assert_code(r, 0, "delete web");
	cr_assert(strstr(r->out, "web deleted (2 instances,"), "%s", r->out);
	t0 = h_now_ms();
	cr_assert(h_wait_until(all_dead, &p, 5000), "web's processes still run");
	assert_gone("web");
	cr_assert_str_eq(event_kinds("web"), "delete");
	cr_assert(strstr(last_detail("web"), "by operator:admin"), "%s", last_detail("web"));
	r = h_rsctl("delete", "web", NULL);
	assert_code(r, RS_E_NOENT, "delete web again");
	cr_assert(strstr(r->err, "unknown service 'web'"), "%s", r->err);
	cr_assert(h_wait_until(period_passed, &t0, 5000), "rsd died (RS_CHECK_TABLES?)");

	h_kill_rsd(SIGKILL);
	h_restart_rsd();
	cr_assert(h_wait_until(nodes_up, NULL, 15000),
		  "the agents did not come back");
	assert_gone("web");
	cr_assert_str_eq(event_kinds("web"), "delete");
	r = h_rsctl("events", "-n", "500", NULL);
	cr_assert_null(strstr(r->out, "stray"), "an agent still ran web: %s", r->out);
	cr_assert(all_dead(&p));

	/* the label is free again */
	r = h_rsctl("up", "web", "--", h_notifysvc(), "--ready", NULL);
	assert_code(r, 0, "up web again");
	label_pids("web", pids, 4, &p.n);
	cr_assert_eq(p.n, 1);
	cr_assert(!strncmp(event_kinds("web"), "delete up ", 10), "%s", event_kinds("web"));
	h_pass();
}

/* --keep-events keeps the label's history, the 'delete' event last; a
 * failed service (nothing runs) is deleted at once, its history with it;
 * a critical one needs --force; an unknown label is 3, as for status. */
Test(delete, keep_events_failed_critical_unknown, .init = setup2, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const h_res *r;
	const char *kinds;
	h_inst in;
	int64_t t0;

	r = h_rsctl("up", "keep", "--", h_notifysvc(), "--ready", NULL);
	assert_code(r, 0, "up keep");
	r = h_rsctl("delete", "keep", "--keep-events", NULL);
	assert_code(r, 0, "delete --keep-events");
	cr_assert(strstr(r->out, "its events kept"), "%s", r->out);
	kinds = event_kinds("keep");
	cr_assert(!strncmp(kinds, "up ", 3), "%s", kinds);
	cr_assert(strlen(kinds) > 7 && !strcmp(kinds + strlen(kinds) - 7, " delete"),
		  "%s", kinds);
	assert_gone("keep");

	/* failed: its start failed, nothing runs (no stop to wait for) */
	r = h_rsctl("up", "bad", "--restart", "never", "--", h_notifysvc(),
		    "--exit-after", "0", "3", NULL);
	assert_code(r, RS_E_FAILED, "up bad");
	cr_assert(h_status_instance("bad", &in) && !strcmp(in.state, "failed"),
		  "bad is %s", in.state);
	r = h_rsctl("delete", "bad", NULL);
	assert_code(r, 0, "delete a failed service");
	cr_assert(strstr(r->out, "bad deleted (1 instance,"), "%s", r->out);
	assert_gone("bad");
	cr_assert_str_eq(event_kinds("bad"), "delete");

	/* critical: refused without --force, nothing changed */
	r = h_rsctl("up", "core", "--critical", "--", h_notifysvc(), "--ready", NULL);
	assert_code(r, 0, "up core");
	r = h_rsctl("delete", "core", NULL);
	assert_code(r, RS_E_INVAL, "delete critical");
	cr_assert(strstr(r->err, "--force"), "%s", r->err);
	cr_assert(h_status_instance("core", &in) && !strcmp(in.state, "running"));
	r = h_rsctl("delete", "core", "--force", NULL);
	assert_code(r, 0, "delete --force");
	assert_gone("core");

	r = h_rsctl("delete", "nosuch", NULL);
	assert_code(r, RS_E_NOENT, "delete unknown");
	r = h_rsctl("status", "nosuch", NULL);
	assert_code(r, RS_E_NOENT, "status unknown");
	t0 = h_now_ms();
	cr_assert(h_wait_until(period_passed, &t0, 5000), "rsd died (RS_CHECK_TABLES?)");
	h_pass();
}

/* An operation on the label makes delete busy (a start that waits for
 * ready: down cancels it, delete does not); a service others depend on
 * needs --force; --no-block answers at once and the deletion follows. */
Test(delete, busy_dependents_no_block, .init = setup2, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	static const char *const del_slow[] = { "delete", "slow", NULL };
	static const char *const status_web[] = { "status", "web", NULL };
	const char *mf = h_path("deps.yaml");
	struct wcode w = { 0 };
	char text[1024];
	const h_res *r;
	h_job *j;
	FILE *f;

	/* a start that waits for READY=1, which never comes */
	j = h_rsctl_start("up", "slow", "--notify", "notify", "--ready-timeout", "60",
			  "--", h_notifysvc(), NULL);
	w.argv = del_slow;   /* unknown until rsd has handled the up */
	w.want = RS_E_BUSY;
	cr_assert(h_wait_until(code_is, &w, 10000), "delete during up: %d %s",
		  w.r->code, w.r->err);
	cr_assert(strstr(w.r->err, "'up' operation"), "%s", w.r->err);
	r = h_rsctl("down", "slow", NULL);
	assert_code(r, 0, "down cancels the up");
	h_job_wait(j, 10000);
	r = h_rsctl("delete", "slow", NULL);
	assert_code(r, 0, "delete after down");

	/* web depends on db */
	snprintf(text, sizeof text,
		 "services:\n"
		 "  - label: db\n"
		 "    command: [%s, --ready]\n"
		 "  - label: web\n"
		 "    command: [%s, --ready]\n"
		 "    depends_on: [db]\n", h_notifysvc(), h_notifysvc());
	f = fopen(mf, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	r = h_rsctl("apply", mf, NULL);
	assert_code(r, 0, "apply");
	r = h_rsctl("delete", "db", NULL);
	assert_code(r, RS_E_INVAL, "delete a dependency");
	cr_assert(strstr(r->err, "web depends on db"), "%s", r->err);

	/* --no-block: answered while it stops, deleted once down */
	r = h_rsctl("delete", "web", "--no-block", NULL);
	assert_code(r, 0, "delete --no-block");
	cr_assert(strstr(r->out, "stopping"), "%s", r->out);
	w.argv = status_web;
	w.want = RS_E_NOENT;
	cr_assert(h_wait_until(code_is, &w, 10000), "web not deleted after --no-block: "
		  "%d %s", w.r->code, w.r->out);
	r = h_rsctl("delete", "db", NULL);
	assert_code(r, 0, "delete db once web is gone");
	assert_gone("db");
	h_pass();
}
