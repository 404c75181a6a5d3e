/*
 * test_handover.c - end-to-end tests of what live update stands on:
 * listening sockets the agent's keeper holds across restarts (socket
 * activation: LISTEN_FDS/LISTEN_FDNAMES/LISTEN_PID) and the fd store
 * (FDSTORE=1). Real rsd, rs-agent and rsctl (tests/harness.c), with
 * tests/helpers/sockserv.c as the service; waits are on conditions.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "codes.h"
#include "harness.h"
#include "store.h"

#define T_TIMEOUT 60

static void setup1(void) { h_setup(1); }
static void setup3(void) { h_setup(3); }
static void teardown(void) { h_teardown(); }

/* One answer of sockserv: "VERSION PID [COUNT]". */
struct answer {
	char version[32];
	int  pid;
	long count;
};

/* Connects to the unix socket path (or 127.0.0.1:port if path is NULL)
 * and reads one answer line. 0, or -errno of the step that failed
 * (-ECONNREFUSED: refused; -ENODATA: closed before a whole line). */
static int ask(const char *path, int port, struct answer *a)
{
	struct timeval tv = { .tv_sec = 10 };
	char buf[128];
	size_t len = 0;
	int fd, r;

	memset(a, 0, sizeof *a);
	if (path) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
	} else {
		struct sockaddr_in sa = { .sin_family = AF_INET,
					  .sin_port = htons((uint16_t)port),
					  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
	}
	if (r < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	while (len < sizeof buf - 1) {
		ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (memchr(buf, '\n', len))
			break;
	}
	close(fd);
	buf[len] = '\0';
	if (!strchr(buf, '\n'))
		return -ENODATA;
	if (sscanf(buf, "%31s %d %ld", a->version, &a->pid, &a->count) < 2)
		return -EBADMSG;
	return 0;
}

/* A free TCP port on 127.0.0.1 (bound and released). */
static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port;

	cr_assert(fd >= 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* up LABEL --listen web=ADDR -- sockserv ARGS...; asserts success. */
static h_inst up_sock(const char *label, const char *listen, const char *a1,
		      const char *a2)
{
	const h_res *r = h_rsctl("up", label, "--listen", listen, "--",
				 h_sockserv(), "--version", "v1", a1, a2, NULL);
	h_inst in;

	assert_code(r, 0, "up with --listen");
	cr_assert(h_status_instance(label, &in) && in.pid > 0,
		  "no running instance of %s after up", label);
	return in;
}

struct wpid {
	const char *label;
	pid_t       old;
	h_inst      in;
};

static bool new_pid_running_fn(void *arg)
{
	struct wpid *w = arg;

	return h_status_instance(w->label, &w->in) && w->in.pid > 0 &&
	       w->in.pid != w->old && !strcmp(w->in.state, "running");
}

/* The service gets the socket the agent bound, as fd 3 with LISTEN_*:
 * it answers on a TCP port it never bound itself. */
Test(handover, listen_tcp_socket_activation, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	char spec[64];
	int port = free_port();
	struct answer a;
	h_inst in;

	snprintf(spec, sizeof spec, "web=tcp:127.0.0.1:%d", port);
	in = up_sock("sock-t", spec, NULL, NULL);
	cr_assert_eq(ask(NULL, port, &a), 0, "no answer on port %d", port);
	cr_assert_str_eq(a.version, "v1");
	cr_assert_eq(a.pid, in.pid, "answered by pid %d, the instance is %d",
		     a.pid, (int)in.pid);
	h_pass();
}

/* The listening socket outlives the process: a client connecting in a
 * loop while the service is SIGKILLed three times is never refused; its
 * connections wait in the backlog for the next process. */
Test(handover, listen_kill9_zero_refused, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const char *path = h_path("web.sock");
	char spec[600];
	int refused = 0, failed = 0, served = 0;
	struct answer a;
	h_inst in;

	snprintf(spec, sizeof spec, "web=unix:%s", path);
	/* no backoff: three crashes in a row would wait 2 + 4 s */
	assert_code(h_rsctl("up", "sock-k", "--no-backoff", "--listen", spec, "--",
			    h_sockserv(), NULL), 0, "up --no-backoff --listen");
	cr_assert(h_status_instance("sock-k", &in) && in.pid > 0);
	for (int round = 0; round < 3; round++) {
		pid_t old = in.pid;
		int r;

		cr_assert_eq(kill(old, SIGKILL), 0);
		/* ask at once, while nothing accepts: the backlog holds it */
		do {
			r = ask(path, 0, &a);
			if (r == -ECONNREFUSED || r == -ECONNRESET)
				refused++;
			else if (r < 0)
				failed++;
			else
				served++;
		} while (r == 0 && a.pid == old);
		cr_assert_eq(r, 0, "round %d: a request failed: %s", round,
			     strerror(-r));
		cr_assert_neq(a.pid, old);
		in.pid = a.pid;
	}
	cr_assert_eq(refused, 0, "%d connections refused", refused);
	cr_assert_eq(failed, 0, "%d requests failed", failed);
	cr_assert_geq(served, 3);
	h_pass();
}

/* An address that cannot be bound fails `up` with the reason, and no
 * process is started. */
Test(handover, listen_port_in_use_fails_up, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof sa;
	int hold = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	const h_res *r;
	char spec[64];
	h_inst in;

	cr_assert_eq(bind(hold, (struct sockaddr *)&sa, sizeof sa), 0);
	cr_assert_eq(listen(hold, 1), 0);
	cr_assert_eq(getsockname(hold, (struct sockaddr *)&sa, &sl), 0);
	snprintf(spec, sizeof spec, "web=tcp:127.0.0.1:%d", ntohs(sa.sin_port));
	r = h_rsctl("up", "sock-u", "--listen", spec, "--", h_sockserv(), NULL);
	cr_assert_neq(r->code, 0, "up succeeded on a port in use: %s", r->out);
	cr_assert(strstr(r->err, "in use") || strstr(r->out, "in use"),
		  "the error does not say the address is in use:\n%s%s",
		  r->out, r->err);
	cr_assert(!h_status_instance("sock-u", &in) || in.pid == 0,
		  "a process (pid %d) runs though its socket failed", (int)in.pid);
	close(hold);
	h_pass();
}

/* FDSTORE: the service keeps a counter in a memfd it stored; after a
 * SIGKILL the next process gets it back (LISTEN_FDNAMES "web:state") and
 * counts on. */
Test(handover, fdstore_memfd_survives_kill9, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const char *path = h_path("cnt.sock");
	struct wpid w = { .label = "sock-f" };
	struct answer a;
	char spec[600];
	h_inst in;

	snprintf(spec, sizeof spec, "web=unix:%s", path);
	in = up_sock("sock-f", spec, "--counter", NULL);
	cr_assert_eq(ask(path, 0, &a), 0);
	cr_assert_eq(a.count, 1, "first count %ld", a.count);
	cr_assert_eq(ask(path, 0, &a), 0);
	cr_assert_eq(a.count, 2, "second count %ld", a.count);
	w.old = in.pid;
	cr_assert_eq(kill(in.pid, SIGKILL), 0);
	cr_assert(h_wait_until(new_pid_running_fn, &w, 10000),
		  "no new process after SIGKILL");
	cr_assert_eq(ask(path, 0, &a), 0);
	cr_assert_eq(a.pid, w.in.pid);
	cr_assert_eq(a.count, 3, "the counter restarted at %ld: the stored "
		     "memfd did not reach the next process", a.count);
	h_pass();
}

/* FDSTOREREMOVE=1: the service drops what it stored; the next process
 * gets nothing and counts from 1 again. */
Test(handover, fdstore_remove, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const char *path = h_path("rm.sock");
	struct wpid w = { .label = "sock-r" };
	struct answer a;
	char spec[600];
	h_inst in;

	snprintf(spec, sizeof spec, "web=unix:%s", path);
	in = up_sock("sock-r", spec, "--counter", "--forget-state");
	cr_assert_eq(ask(path, 0, &a), 0);
	cr_assert_eq(ask(path, 0, &a), 0);
	cr_assert_eq(a.count, 2);
	w.old = in.pid;
	cr_assert_eq(kill(in.pid, SIGKILL), 0);
	cr_assert(h_wait_until(new_pid_running_fn, &w, 10000));
	cr_assert_eq(ask(path, 0, &a), 0);
	cr_assert_eq(a.count, 1, "count %ld: the removed state reached the next "
		     "process", a.count);
	h_pass();
}

/* The listening socket outlives the agent's engine too: kill -9 of
 * rs-agent, and the service (kept by the keeper) answers on; a new agent
 * adopts it and a crash after that still keeps the socket. */
Test(handover, listen_survives_agent_kill9, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const char *path = h_path("ag.sock");
	struct wpid w = { .label = "sock-a" };
	struct answer a;
	char spec[600];
	h_inst in;

	snprintf(spec, sizeof spec, "web=unix:%s", path);
	in = up_sock("sock-a", spec, "--counter", NULL);
	h_kill_agent(1, SIGKILL);
	cr_assert_eq(ask(path, 0, &a), 0, "no answer with the agent dead");
	cr_assert_eq(a.pid, in.pid);
	h_restart_agent(1);
	w.old = in.pid;
	cr_assert_eq(kill(in.pid, SIGKILL), 0);
	cr_assert(h_wait_until(new_pid_running_fn, &w, 10000),
		  "the new agent did not restart the adopted service");
	cr_assert_eq(ask(path, 0, &a), 0);
	cr_assert_eq(a.pid, w.in.pid);
	cr_assert_eq(a.count, 2, "count %ld: the fd store was lost with the "
		     "agent", a.count);
	h_pass();
}

/* ---- rsctl update: coordinated handover --------------------------------- */

static bool pid_gone_fn(void *arg)
{
	return !h_pid_alive(*(pid_t *)arg);
}

/* v1 -> v2 while a client connects in a loop: no connection refused,
 * reset or left unanswered; the answers switch from v1 to v2; the old pid
 * is gone after the commit; the new spec is the service's (a crash
 * afterwards restarts v2); the operation is recorded as committed. */
Test(handover, update_zero_downtime, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const char *path = h_path("up.sock");
	struct wpid w = { .label = "upd" };
	int failed = 0, v1 = 0, v2 = 0, r = 0;
	char spec[600];
	struct answer a;
	const h_res *res;
	h_job *job;
	h_inst in;

	snprintf(spec, sizeof spec, "web=unix:%s", path);
	in = up_sock("upd", spec, "--counter", NULL);
	job = h_rsctl_start("update", "upd", "--min-healthy", "0.5", "--",
			    h_sockserv(), "--version", "v2", "--counter", NULL);
	for (int last = 0; last < 2;) {
		last += !h_job_running(job);   /* one more round after it ended */
		r = ask(path, 0, &a);
		if (r < 0) {
			failed++;
			break;
		}
		v1 += !strcmp(a.version, "v1");
		v2 += !strcmp(a.version, "v2");
	}
	res = h_job_wait(job, 20000);
	assert_code(res, 0, "update v1 -> v2");
	cr_assert_eq(failed, 0, "a request failed during the update: %s",
		     strerror(-r));
	cr_assert_gt(v1, 0, "never answered by v1");
	cr_assert_gt(v2, 0, "never answered by v2");
	/* during the handover both may answer (the new one serves while the
	 * old one still holds the socket); once the old pid is gone, only v2 */
	cr_assert(h_wait_until(pid_gone_fn, &in.pid, 5000),
		  "the old pid %d still runs after the commit", (int)in.pid);
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(ask(path, 0, &a), 0);
		cr_assert_str_eq(a.version, "v2", "answered by %s after the commit",
				 a.version);
	}
	/* the counter went on across the versions (FDSTORE'd memfd) */
	cr_assert_eq(a.count, v1 + v2 + 5, "count %ld after %d answers",
		     a.count, v1 + v2 + 5);
	/* the new spec is the service's now */
	w.old = a.pid;
	cr_assert_eq(kill(a.pid, SIGKILL), 0);
	cr_assert(h_wait_until(new_pid_running_fn, &w, 10000));
	cr_assert_eq(ask(path, 0, &a), 0);
	cr_assert_str_eq(a.version, "v2", "a crash after the commit restarted %s",
			 a.version);
	h_pass();
}

/* The new version exits at start: update fails with the reason (exit
 * 11), v1 serves on with the same pid, and the spec is unchanged (a crash
 * restarts v1). */
Test(handover, update_failing_version_rolls_back, .init = setup1,
     .fini = teardown, .timeout = T_TIMEOUT)
{
	const char *path = h_path("rb.sock");
	struct wpid w = { .label = "upr" };
	struct answer a;
	const h_res *r;
	char spec[600];
	h_inst in;

	snprintf(spec, sizeof spec, "web=unix:%s", path);
	in = up_sock("upr", spec, NULL, NULL);
	r = h_rsctl("update", "upr", "--", h_sockserv(), "--version", "v2",
		    "--exit-at-start", "3", NULL);
	assert_code(r, RS_E_ROLLED_BACK, "update to a version that exits");
	cr_assert(strstr(r->err, "exited with code 3"),
		  "the reason is not given: %s", r->err);
	cr_assert_eq(ask(path, 0, &a), 0);
	cr_assert_str_eq(a.version, "v1");
	cr_assert_eq(a.pid, in.pid, "v1 changed pid: %d -> %d", (int)in.pid, a.pid);
	w.old = in.pid;
	cr_assert_eq(kill(in.pid, SIGKILL), 0);
	cr_assert(h_wait_until(new_pid_running_fn, &w, 10000));
	cr_assert_eq(ask(path, 0, &a), 0);
	cr_assert_str_eq(a.version, "v1", "the failed update's spec was kept");
	h_pass();
}

struct wprog {
	const char *label, *needle;
	char        out[1024];
};

/* `status LABEL` prints "LABEL: update in progress: ...needle...". */
static bool status_shows_fn(void *arg)
{
	struct wprog *w = arg;
	const h_res *r = h_rsctl("status", w->label, NULL);

	snprintf(w->out, sizeof w->out, "%s", r->out);
	return strstr(r->out, "update in progress") && strstr(r->out, w->needle);
}

/* Prepare: a service that never says X_RS_PREPARED=1 is not updated: the
 * update ends after maxtime, the old process untouched. */
Test(handover, update_prepare_timeout, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const char *path = h_path("pt.sock");
	struct wprog prog = { .label = "upp", .needle = "preparing" };
	struct answer a;
	const h_res *r;
	char spec[600];
	h_job *job;
	h_inst in;

	snprintf(spec, sizeof spec, "web=unix:%s", path);
	in = up_sock("upp", spec, "--never-prepared", NULL);
	job = h_rsctl_start("update", "upp", "--prepare-signal", "USR1", "--maxtime",
			    "2", "--", h_sockserv(), "--version", "v2", NULL);
	/* status shows the update and its step meanwhile */
	cr_assert(h_wait_until(status_shows_fn, &prog, 1500),
		  "status never showed the update preparing: '%s'", prog.out);
	r = h_job_wait(job, 10000);
	assert_code(r, RS_E_ROLLED_BACK, "update of a service that never prepares");
	cr_assert(strstr(r->err, "not prepared"), "reason: %s", r->err);
	cr_assert_geq(r->elapsed_ms, 2000, "gave up after %ld ms, maxtime 2 s",
		      r->elapsed_ms);
	/* and no more once it ended */
	r = h_rsctl("status", "upp", NULL);
	cr_assert(!strstr(r->out, "in progress"), "%s", r->out);
	cr_assert_eq(ask(path, 0, &a), 0);
	cr_assert_str_eq(a.version, "v1");
	cr_assert_eq(a.pid, in.pid);
	h_pass();
}

/* Prepare answered: the old process stores its state (FDSTORE=1) then says
 * X_RS_PREPARED=1; the new one continues from it. */
Test(handover, update_prepare_hands_state_over, .init = setup1,
     .fini = teardown, .timeout = T_TIMEOUT)
{
	const char *path = h_path("ps.sock");
	struct answer a;
	const h_res *r;
	char spec[600];

	snprintf(spec, sizeof spec, "web=unix:%s", path);
	up_sock("ups", spec, "--counter", "--prepare");
	for (int i = 0; i < 3; i++)
		cr_assert_eq(ask(path, 0, &a), 0);
	r = h_rsctl("update", "ups", "--prepare-signal", "SIGUSR1", "--", h_sockserv(),
		    "--version", "v2", "--counter", "--prepare", NULL);
	assert_code(r, 0, "update with prepare");
	cr_assert_eq(ask(path, 0, &a), 0);
	cr_assert_str_eq(a.version, "v2");
	cr_assert_eq(a.count, 4, "count %ld: the state was not handed over", a.count);
	h_pass();
}

/* ---- rolling updates over replicas on three nodes ----------------------- */

struct pids3 {
	pid_t pid[3];
	int   n;
};

/* The running instances' pids of label (up to 3), in status order. */
static void pids_of(const char *label, struct pids3 *out)
{
	const h_res *r = h_rsctl("status", label, "--json", NULL);
	json_t *j = h_json(r), *svc, *in;
	size_t i;

	memset(out, 0, sizeof *out);
	cr_assert(j, "status --json: %s", r->out);
	svc = json_array_get(json_object_get(j, "services"), 0);
	json_array_foreach(json_object_get(svc, "instances"), i, in)
		if (out->n < 3)
			out->pid[out->n++] = (pid_t)json_integer_value(json_object_get(in, "pid"));
}

static int count_changed(const struct pids3 *a, const struct pids3 *b)
{
	int n = 0;

	for (int i = 0; i < a->n && i < b->n; i++)
		n += a->pid[i] != b->pid[i];
	return n;
}

/* The update's events, in order, never start a handover while another is
 * in flight (one node at a time); returns the number of commits. */
static int check_one_at_a_time(const char *label)
{
	const h_res *r = h_rsctl("events", label, "--json", "--limit", "200", NULL);
	json_t *j = h_json(r), *e;
	int flight = 0, commits = 0;
	size_t i;

	cr_assert(j, "events --json: %s", r->out);
	json_array_foreach(json_object_get(j, "events"), i, e) {
		const char *k = json_string_value(json_object_get(e, "kind"));
		if (!k)
			continue;
		if (!strcmp(k, "update-start")) {
			cr_assert_eq(flight, 0, "two handovers at once (event %zu)", i);
			flight = 1;
		} else if (!strcmp(k, "update-commit") || !strcmp(k, "update-rollback")) {
			flight = 0;
			commits += !strcmp(k, "update-commit");
		}
	}
	return commits;
}

Test(handover, update_rolling_three_replicas, .init = setup3, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	struct pids3 before, after;
	const h_res *r;

	r = h_rsctl("up", "roll", "--replicas", "3", "--", h_notifysvc(), "--ready", NULL);
	assert_code(r, 0, "up --replicas 3");
	pids_of("roll", &before);
	cr_assert_eq(before.n, 3);
	r = h_rsctl("update", "roll", "--min-healthy", "0.2", "--args", "--ready",
		    "--status", "v2", NULL);
	assert_code(r, 0, "rolling update");
	pids_of("roll", &after);
	cr_assert_eq(count_changed(&before, &after), 3, "not every replica has "
		     "a new process");
	cr_assert_eq(check_one_at_a_time("roll"), 3);
	h_pass();
}

/* The new version fails on the second replica: that one is rolled back
 * by its agent, the first is handed back (reverse order), the third is
 * never touched; the stored command is the old one. */
Test(handover, update_rolling_failure_rolls_back_the_first, .init = setup3,
     .fini = teardown, .timeout = T_TIMEOUT)
{
	struct pids3 before, after;
	char script[1024];
	const h_res *r;
	json_t *j;

	r = h_rsctl("up", "rollf", "--replicas", "3", "--", h_notifysvc(), "--ready", NULL);
	assert_code(r, 0, "up --replicas 3");
	pids_of("rollf", &before);
	/* the first process of the new version leaves a mark; any later one
	 * sees it and fails */
	snprintf(script, sizeof script, "if [ -e %s ]; then exit 3; fi; touch %s; "
		 "exec %s --ready --status v2", h_path("mark"), h_path("mark"),
		 h_notifysvc());
	r = h_rsctl("update", "rollf", "--min-healthy", "0.2", "--", "/bin/sh", "-c",
		    script, NULL);
	assert_code(r, RS_E_ROLLED_BACK, "update failing on the second replica");
	cr_assert(strstr(r->err, "exited with code 3"), "reason: %s", r->err);
	pids_of("rollf", &after);
	/* the first one ran v2 and was handed back: a new pid; the others
	 * kept theirs */
	cr_assert_eq(count_changed(&before, &after), 1, "%d replicas changed "
		     "pid, want only the one handed back", count_changed(&before, &after));
	r = h_rsctl("status", "rollf", "--json", NULL);
	j = h_json(r);
	cr_assert(j);
	cr_assert(!strstr(r->out, "/bin/sh"), "the failed spec was stored: %s", r->out);
	cr_assert_eq(check_one_at_a_time("rollf"), 2, "want 2 commits (forward "
		     "and back of the first replica)");
	h_pass();
}

/* ---- rsd kill -9 in the middle of an update ------------------------------ */

static int count_open_update(const rs_op *op, void *arg)
{
	*(int *)arg += !strcmp(op->kind, "update");
	return 0;
}

struct wserve {
	const char *path;
	const char *version;
	pid_t       not_pid;    /* must not be this pid */
	struct answer a;
};

/* Five answers in a row from the same pid of version, not not_pid. */
static bool serves_only_fn(void *arg)
{
	struct wserve *w = arg;
	int pid = 0;

	for (int i = 0; i < 5; i++) {
		if (ask(w->path, 0, &w->a) < 0 || strcmp(w->a.version, w->version) ||
		    w->a.pid == w->not_pid || (pid && w->a.pid != pid))
			return false;
		pid = w->a.pid;
	}
	return true;
}

/* rsd dies while an instance is being handed over and comes back: the
 * update never half-stays. The agent finishes the handover on its own;
 * rsd, which never stored the new spec, marks the operation rolled back
 * and hands the instance back: one version (v1) serves, the v2 process
 * is gone, no update operation is left open. */
Test(handover, update_rsd_kill9_settles, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const char *path = h_path("rk.sock");
	struct wserve ws = { .path = path, .version = "v1" };
	struct answer a;
	pid_t v2pid = 0;
	char spec[600];
	int open = 0;
	store *st;
	h_job *job;
	h_inst in;

	snprintf(spec, sizeof spec, "web=unix:%s", path);
	in = up_sock("upk", spec, NULL, NULL);
	job = h_rsctl_start("update", "upk", "--min-healthy", "2", "--",
			    h_sockserv(), "--version", "v2", NULL);
	/* wait until the new process serves too (mid-handover) */
	for (int64_t end = h_now_ms() + 10000; !v2pid && h_now_ms() < end;) {
		cr_assert_eq(ask(path, 0, &a), 0);
		if (!strcmp(a.version, "v2"))
			v2pid = a.pid;
	}
	cr_assert(v2pid > 0, "v2 never answered");
	h_kill_rsd(SIGKILL);
	h_job_wait(job, 100);   /* its rsd is gone: end it */
	h_restart_rsd();
	ws.not_pid = v2pid;
	cr_assert(h_wait_until(serves_only_fn, &ws, 20000),
		  "after rsd's restart the service does not settle on v1 alone "
		  "(last answer: %s pid %d)", ws.a.version, ws.a.pid);
	cr_assert(h_wait_until(pid_gone_fn, &v2pid, 5000),
		  "the v2 process %d still runs", (int)v2pid);
	cr_assert_eq(store_open(h_path("rs.db"), &st), 0);
	cr_assert_eq(store_op_each_open(st, count_open_update, &open), 0);
	store_close(&st);
	cr_assert_eq(open, 0, "%d update operation(s) left open", open);
	(void)in;
	h_pass();
}

/* Two updates back to back: the second starts while the first's old
 * process may still be stopping; both commit, v3 serves. */
Test(handover, update_twice_in_a_row, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const char *path = h_path("tw.sock");
	struct answer a;
	const h_res *r;
	char spec[600];

	snprintf(spec, sizeof spec, "web=unix:%s", path);
	up_sock("uptw", spec, NULL, NULL);
	r = h_rsctl("update", "uptw", "--min-healthy", "0", "--", h_sockserv(),
		    "--version", "v2", NULL);
	assert_code(r, 0, "first update");
	r = h_rsctl("update", "uptw", "--min-healthy", "0", "--", h_sockserv(),
		    "--version", "v3", NULL);
	assert_code(r, 0, "second update, right after the first");
	cr_assert_eq(ask(path, 0, &a), 0);
	cr_assert_str_eq(a.version, "v3");
	h_pass();
}

/* The most handovers in flight at once over the events of label, and
 * whether the first one ran alone (a canary). */
static int max_in_flight(const char *label, bool *first_alone)
{
	const h_res *r = h_rsctl("events", label, "--json", "--limit", "200", NULL);
	json_t *j = h_json(r), *e;
	int flight = 0, most = 0, ended = 0;
	size_t i;

	cr_assert(j, "events --json: %s", r->out);
	*first_alone = true;
	json_array_foreach(json_object_get(j, "events"), i, e) {
		const char *k = json_string_value(json_object_get(e, "kind"));
		if (!k)
			continue;
		if (!strcmp(k, "update-start")) {
			flight++;
			if (flight > 1 && ended == 0)
				*first_alone = false;
			if (flight > most)
				most = flight;
		} else if (!strcmp(k, "update-commit") || !strcmp(k, "update-rollback")) {
			flight--;
			ended++;
		}
	}
	return most;
}

/* --canary --max-unavailable 2 over three replicas: one first, alone,
 * then the other two together. */
Test(handover, update_canary_then_two_at_a_time, .init = setup3,
     .fini = teardown, .timeout = T_TIMEOUT)
{
	struct pids3 before, after;
	bool first_alone;
	const h_res *r;

	r = h_rsctl("up", "can", "--replicas", "3", "--", h_notifysvc(), "--ready", NULL);
	assert_code(r, 0, "up --replicas 3");
	pids_of("can", &before);
	r = h_rsctl("update", "can", "--canary", "--max-unavailable", "2",
		    "--min-healthy", "0.5", "--args", "--ready", "--status", "v2", NULL);
	assert_code(r, 0, "canary update");
	pids_of("can", &after);
	cr_assert_eq(count_changed(&before, &after), 3);
	cr_assert_eq(max_in_flight("can", &first_alone), 2,
		     "want two handovers at once after the canary");
	cr_assert(first_alone, "the canary did not run alone");
	h_pass();
}

/* --batch: a and b are updated together or not at all. b's new process
 * fails (the --env given to the batch makes it exit), so a, already
 * handed over, is handed back: exit 11, b untouched. */
Test(handover, update_batch_all_or_nothing, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	char script[1024];
	h_inst a0, b0, a1, b1;
	const h_res *r;

	assert_code(h_rsctl("up", "ba", "--", h_notifysvc(), "--ready", NULL), 0, "up ba");
	snprintf(script, sizeof script, "if [ \"$FAIL\" = 1 ]; then exit 3; fi; "
		 "exec %s --ready", h_notifysvc());
	assert_code(h_rsctl("up", "bb", "--", "/bin/sh", "-c", script, NULL), 0, "up bb");
	cr_assert(h_status_instance("ba", &a0) && h_status_instance("bb", &b0));
	r = h_rsctl("update", "ba", "--batch", "bb", "--env", "FAIL=1",
		    "--min-healthy", "0.2", NULL);
	assert_code(r, RS_E_ROLLED_BACK, "batch update failing on its second service");
	cr_assert(strstr(r->err, "bb") && strstr(r->err, "exited with code 3"),
		  "reason: %s", r->err);
	cr_assert(h_status_instance("ba", &a1) && h_status_instance("bb", &b1));
	cr_assert_neq(a1.pid, a0.pid, "ba was not handed back (same pid)");
	cr_assert_str_eq(a1.state, "running");
	cr_assert_eq(b1.pid, b0.pid, "bb changed pid though its update failed");
	cr_assert_eq(check_one_at_a_time("ba"), 2, "ba: want a commit forward "
		     "and one back");
	h_pass();
}

/* --no-rollback: the failed new version is kept (its spec stored, the
 * instance restarted with it under its policy); exit 1, not 11. */
Test(handover, update_no_rollback_keeps_the_new_spec, .init = setup1,
     .fini = teardown, .timeout = T_TIMEOUT)
{
	const char *path = h_path("nr.sock");
	const h_res *r;
	char spec[600];

	snprintf(spec, sizeof spec, "web=unix:%s", path);
	up_sock("upn", spec, NULL, NULL);
	r = h_rsctl("update", "upn", "--no-rollback", "--", h_sockserv(), "--version",
		    "v2", "--exit-at-start", "3", NULL);
	assert_code(r, RS_E_FAILED, "update --no-rollback to a failing version");
	cr_assert(strstr(r->err, "no-rollback"), "%s", r->err);
	r = h_rsctl("status", "upn", "--json", NULL);
	cr_assert(strstr(r->out, "--exit-at-start"), "the new spec was not kept: %s",
		  r->out);
	h_pass();
}
