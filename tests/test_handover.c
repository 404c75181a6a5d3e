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

#include "codes.h"
#include "harness.h"

#define T_TIMEOUT 60

static void setup1(void) { h_setup(1); }
static void teardown(void) { h_teardown(); }

#define assert_code(r, want, what)                                            \
	cr_assert_eq((r)->code, (want),                                       \
		     "%s: rsctl exited %d (%ld ms), want %d\nstdout: %s\n"    \
		     "stderr: %s", (what), (r)->code, (r)->elapsed_ms,        \
		     (want), (r)->out, (r)->err)

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
	in = up_sock("sock-k", spec, NULL, NULL);
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
