/* Unit tests of lib/net.c: real ZeroMQ sockets on loopback ports the OS
 * picks, driven by a real libev loop. */
#include <criterion/criterion.h>
#include <errno.h>
#include <ev.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>
#include <sys/resource.h>
#include <zmq.h>

#include "net.h"

typedef struct echo {
	net_sock *router;
	int       got;
	size_t    last_len;
} echo;

/* Router side: answer every message with "re:" + message. */
static void echo_cb(net_sock *s, const net_peer *peer, const uint8_t *buf,
		    size_t len, void *arg)
{
	echo *e = arg;
	char out[64];
	size_t n = len < 32 ? len : 32;

	e->got++;
	e->last_len = len;
	memcpy(out, "re:", 3);
	memcpy(out + 3, buf, n);
	cr_assert_not_null(peer);
	cr_assert_eq(net_send(s, peer, out, n + 3), 0);
}

typedef struct client {
	int    got;
	char   last[64];
	struct ev_loop *loop;
} client;

static void client_cb(net_sock *s, const net_peer *peer, const uint8_t *buf,
		      size_t len, void *arg)
{
	client *c = arg;

	cr_assert_null(peer);
	c->got++;
	memcpy(c->last, buf, len < 63 ? len : 63);
	c->last[len < 63 ? len : 63] = '\0';
	ev_break(c->loop, EVBREAK_ONE);
}

static void timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

/* Runs loop until a break or 5 s. */
static void run_for(struct ev_loop *loop)
{
	ev_timer t;

	ev_timer_init(&t, timeout_cb, 5., 0.);
	ev_timer_start(loop, &t);
	ev_run(loop, 0);
	ev_timer_stop(loop, &t);
}

Test(net, router_dealer_roundtrip, .timeout = 20)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	echo e = { 0 };
	client c = { .loop = loop };
	net_sock *dealer = NULL;

	cr_assert_eq(net_router_new(loop, "tcp://127.0.0.1:*", 1, NULL, echo_cb, &e, &e.router), 0);
	cr_assert(strncmp(net_endpoint(e.router), "tcp://127.0.0.1:", 16) == 0);
	cr_assert_eq(net_dealer_new(loop, net_endpoint(e.router), "n1", NULL, client_cb, &c, &dealer), 0);
	/* ZMQ_IMMEDIATE: sends fail until connected; retry on the loop */
	for (int i = 0; i < 500 && c.got == 0; i++) {
		net_send(dealer, NULL, "hello", 5);
		ev_run(loop, EVRUN_NOWAIT);
		if (!c.got) {
			ev_sleep(0.01);
			ev_run(loop, EVRUN_NOWAIT);
		}
	}
	if (!c.got)
		run_for(loop);
	cr_assert_geq(c.got, 1);
	cr_assert_str_eq(c.last, "re:hello");
	for (int i = 0; i < 100; i++)
		cr_assert_eq(net_send(dealer, NULL, "x", 1), 0);
	while (c.got < 101)
		run_for(loop);
	cr_assert_geq(e.got, 101);
	net_destroy(&dealer);
	net_destroy(&e.router);
	cr_assert_null(e.router);
	net_destroy(&e.router);   /* accepts NULL */
	ev_loop_destroy(loop);
	net_shutdown();
}

/* Router side that takes its time: 300 us a message, no answer. */
static void slow_cb(net_sock *s, const net_peer *peer, const uint8_t *buf,
		    size_t len, void *arg)
{
	int *got = arg;

	(void)s, (void)peer, (void)buf, (void)len;
	(*got)++;
	usleep(300);
}

static void quiet_cb(net_sock *s, const net_peer *peer, const uint8_t *buf,
		     size_t len, void *arg)
{
	(void)s, (void)peer, (void)buf, (void)len, (void)arg;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* heard_until is now while the loop keeps up, and stays at the start of
 * the last wake-up that read everything while messages wait unread
 * (queued, or left by a batch cut short), until they are read. */
Test(net, heard_until_stops_while_messages_wait, .timeout = 30)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	net_sock *router = NULL, *dealer = NULL;
	int got = 0, want;
	int64_t t, before;

	cr_assert_eq(net_router_new(loop, "tcp://127.0.0.1:*", 0, NULL, slow_cb, &got, &router), 0);
	cr_assert_eq(net_dealer_new(loop, net_endpoint(router), "n1", NULL, quiet_cb, NULL,
				    &dealer), 0);
	for (int i = 0; i < 500 && !got; i++) {   /* until connected */
		net_send(dealer, NULL, "x", 1);
		ev_sleep(0.01);
		ev_run(loop, EVRUN_NOWAIT);
	}
	cr_assert_gt(got, 0);
	for (int i = 0; i < 50; i++) {   /* every copy read */
		ev_sleep(0.01);
		ev_run(loop, EVRUN_NOWAIT);
	}
	t = mono_ms();
	cr_assert_geq(net_sock_heard_until(router, t), t, "an idle socket is heard up to now");

	before = mono_ms();
	want = got + 200;
	for (int i = 0; i < 200; i++)
		cr_assert_eq(net_send(dealer, NULL, "y", 1), 0);
	/* queued, none read yet: heard up to the last full read only */
	for (int i = 0; i < 500; i++) {
		ev_sleep(0.01);
		t = mono_ms();
		if (net_sock_heard_until(router, t) < t)
			break;
	}
	cr_assert_leq(net_sock_heard_until(router, t), before, "messages wait: not heard up to now");
	/* one turn of the loop reads a 2 ms batch (300 us each), not all */
	ev_run(loop, EVRUN_ONCE);
	cr_assert_lt(got, want, "one batch read everything");
	t = mono_ms();
	cr_assert_leq(net_sock_heard_until(router, t), before, "a batch cut short: not heard up to now");
	for (int i = 0; i < 2000 && got < want; i++)
		ev_run(loop, EVRUN_NOWAIT);
	cr_assert_eq(got, want);
	ev_run(loop, EVRUN_NOWAIT);
	t = mono_ms();
	cr_assert_geq(net_sock_heard_until(router, t), t, "all read: heard up to now");
	net_destroy(&dealer);
	net_destroy(&router);
	ev_loop_destroy(loop);
	net_shutdown();
}

static int open_fds(void)
{
	int fds = 0;
	DIR *dir = opendir("/proc/self/fd");

	if (!dir)
		return 0;
	while (readdir(dir))
		fds++;
	closedir(dir);
	return fds;
}

static void count_event(net_sock *s, net_event ev, uint32_t value, void *arg)
{
	(void)s;
	(void)value;
	if (ev == NET_EV_HANDSHAKE_OK)
		(*(int *)arg)++;
}

/* More monitor events than one wake-up reads (NET_BATCH), queued while
 * the loop did not run: every one is still delivered. ZMQ_FD says the
 * queue changed, not that it holds something, so a wake-up that left
 * events behind was never followed by another; the queue filled and the
 * socket's I/O thread blocked in its monitor send for good (rsd with
 * 5,000 agents reconnecting after a stall: no accept, no message). */
Test(net, monitor_events_past_one_batch_all_arrive, .timeout = 30)
{
	enum { CONNS = 300 };   /* > NET_BATCH (256) */
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	net_sock *router = NULL;
	void *ctx = zmq_ctx_new(), *dealer[CONNS];
	int ok = 0, linger = 0;
	struct rlimit rl;

	/* a dealer is two fds (its mailbox, its connection), the
	 * router's end one more */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4 * CONNS) {
		rl.rlim_cur = rl.rlim_max < 4 * CONNS ? rl.rlim_max : 4 * CONNS;
		cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	}
	cr_assert_eq(net_router_new(loop, "tcp://127.0.0.1:*", 0, NULL, quiet_cb, NULL,
				    &router), 0);
	cr_assert_eq(net_monitor(router, count_event, &ok), 0);
	ev_run(loop, EVRUN_NOWAIT);
	/* each a connection and a handshake: a monitor event at the
	 * router apiece, all queued while the router's loop does not run */
	for (int i = 0; i < CONNS; i++) {
		dealer[i] = zmq_socket(ctx, ZMQ_DEALER);
		cr_assert_not_null(dealer[i], "dealer %d: %s", i, zmq_strerror(errno));
		zmq_setsockopt(dealer[i], ZMQ_LINGER, &linger, sizeof linger);
		cr_assert_eq(zmq_connect(dealer[i], net_endpoint(router)), 0, "connect %d", i);
	}
	for (int i = 0; i < 500 && open_fds() < 3 * CONNS; i++)
		ev_sleep(0.01);   /* the router accepted them all */
	ev_sleep(0.5);        /* and handshook */
	for (int i = 0; i < 1000 && ok < CONNS; i++) {
		ev_run(loop, EVRUN_NOWAIT);
		ev_sleep(0.002);
	}
	cr_assert_eq(ok, CONNS, "%d of %d handshakes reported", ok, CONNS);
	for (int i = 0; i < CONNS; i++)
		zmq_close(dealer[i]);
	zmq_ctx_term(ctx);
	net_destroy(&router);
	ev_loop_destroy(loop);
	net_shutdown();
}

typedef struct linkup {
	net_sock *dealer;
	int       ups, sent_ok;
} linkup;

static void linkup_event(net_sock *s, net_event ev, uint32_t value, void *arg)
{
	linkup *l = arg;

	(void)value;
	if (ev != NET_EV_HANDSHAKE_OK)
		return;
	l->ups++;
	l->sent_ok += net_send(s, NULL, "hello", 5) == 0;
}

static void hello_count_cb(net_sock *s, const net_peer *peer, const uint8_t *buf,
			   size_t len, void *arg)
{
	(void)s, (void)peer;
	if (len == 5 && memcmp(buf, "hello", 5) == 0)
		(*(int *)arg)++;
}

/* A dealer's send made on its handshake's event goes out (the agent's
 * Hello on link-up). The event comes after the command that attaches
 * the connection, but a send takes the socket's commands at most once a
 * millisecond: the agent had just tried one (its first Hello, refused
 * while not connected: ZMQ_IMMEDIATE), so the Hello on the event found
 * no peer (EAGAIN) and was dropped. Here too: a send as it connects, its
 * wake-up after the monitor's, 30 connections. */
Test(net, send_on_the_handshake_event_goes_out, .timeout = 60)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	net_sock *router = NULL;
	int got = 0;

	cr_assert_eq(net_router_new(loop, "tcp://127.0.0.1:*", 0, NULL, hello_count_cb,
				    &got, &router), 0);
	for (int round = 0; round < 30; round++) {
		linkup l = { 0 };

		got = 0;
		cr_assert_eq(net_dealer_new_mon(loop, net_endpoint(router), NULL, NULL,
						quiet_cb, NULL, linkup_event, &l,
						&l.dealer), 0);
		/* the monitor's event is handled before the dealer's own
		 * wake-up (which would take the commands) */
		net_sock_set_priority(l.dealer, EV_MINPRI);
		net_send(l.dealer, NULL, "pre", 3);
		for (int i = 0; i < 20000 && l.ups == 0; i++) {
			ev_run(loop, EVRUN_NOWAIT);
			if (l.ups == 0)
				ev_sleep(0.0002);
		}
		for (int i = 0; i < 500 && got == 0; i++) {
			ev_run(loop, EVRUN_NOWAIT);
			if (got == 0)
				ev_sleep(0.002);
		}
		cr_assert_eq(l.ups, 1, "round %d: %d handshakes", round, l.ups);
		cr_assert_eq(l.sent_ok, 1, "round %d: the send on the handshake's event "
			     "failed", round);
		cr_assert_eq(got, 1, "round %d: the router got %d", round, got);
		net_destroy(&l.dealer);
	}
	net_destroy(&router);
	ev_loop_destroy(loop);
	net_shutdown();
}

/* net_sock_waiting sees a message the loop has not read yet, and the
 * loop still reads it after that look took ZMQ_FD's edge (rsd's agents'
 * reads yield to a waiting control request this way). */
Test(net, waiting_sees_a_message_and_the_loop_still_reads_it, .timeout = 20)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	net_sock *router = NULL, *dealer = NULL;
	int got = 0, seen = 0;

	cr_assert_eq(net_router_new(loop, "tcp://127.0.0.1:*", 0, NULL, hello_count_cb,
				    &got, &router), 0);
	cr_assert_eq(net_dealer_new(loop, net_endpoint(router), NULL, NULL, quiet_cb,
				    NULL, &dealer), 0);
	/* connected (a send before the handshake is refused) and quiet:
	 * the first hello read the usual way */
	for (int i = 0, sent = 0; i < 2500 && got == 0; i++) {
		if (!sent)
			sent = net_send(dealer, NULL, "hello", 5) == 0;
		ev_run(loop, EVRUN_NOWAIT);
		if (got == 0)
			ev_sleep(0.002);
	}
	cr_assert_eq(got, 1);
	for (int i = 0; i < 10; i++)
		ev_run(loop, EVRUN_NOWAIT);
	cr_assert_not(net_sock_waiting(router), "nothing waits");
	cr_assert_eq(net_send(dealer, NULL, "hello", 5), 0);
	/* the look alone, no loop turn: it comes */
	for (int i = 0; i < 2500 && !seen; i++) {
		seen = net_sock_waiting(router);
		if (!seen)
			ev_sleep(0.002);
	}
	cr_assert(seen, "net_sock_waiting never saw the second hello");
	cr_assert_eq(got, 1, "read before the loop ran");
	for (int i = 0; i < 250 && got == 1; i++) {
		ev_run(loop, EVRUN_NOWAIT);
		if (got == 1)
			ev_sleep(0.002);
	}
	cr_assert_eq(got, 2, "the loop did not read the message the look saw");
	net_destroy(&dealer);
	net_destroy(&router);
	ev_loop_destroy(loop);
	net_shutdown();
}

typedef struct gapped {
	int      got, batches;
	int64_t  batch_ms[8];
	int      batch_got[8];
	net_sock *router;
} gapped;

static void gapped_cb(net_sock *s, const net_peer *peer, const uint8_t *buf,
		      size_t len, void *arg)
{
	gapped *g = arg;

	(void)buf; (void)len;
	g->got++;
	/* an answer's send in the gap must not end the gap */
	cr_assert_eq(net_send(s, peer, "ok", 2), 0);
}

static void gapped_batch(net_sock *s, void *arg)
{
	gapped *g = arg;

	(void)s;
	if (g->batches < 8) {
		g->batch_ms[g->batches] = mono_ms();
		g->batch_got[g->batches] = g->got;
	}
	g->batches++;
}

/* net_sock_set_gap: what comes in the gap after a read is read at its
 * end, all of it in one wake-up; once quiet, a message is read at once. */
Test(net, gap_reads_what_came_meanwhile_in_one_batch, .timeout = 20)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	gapped g = { 0 };
	client c = { .loop = loop };
	net_sock *dealer = NULL;
	int64_t t;

	cr_assert_eq(net_router_new(loop, "tcp://127.0.0.1:*", 0, NULL, gapped_cb, &g,
				    &g.router), 0);
	net_sock_on_batch_end(g.router, gapped_batch);
	net_sock_set_gap(g.router, 1.0);
	cr_assert_eq(net_dealer_new(loop, net_endpoint(g.router), "n1", NULL, client_cb,
				    &c, &dealer), 0);
	while (net_send(dealer, NULL, "first", 5) != 0) {   /* ZMQ_IMMEDIATE */
		ev_run(loop, EVRUN_NOWAIT);
		ev_sleep(0.01);
	}
	while (g.got < 1)
		run_for(loop);
	cr_assert_eq(g.batches, 1);
	/* 20 more at once, in the gap */
	for (int i = 0; i < 20; i++)
		cr_assert_eq(net_send(dealer, NULL, "more", 4), 0);
	while (g.got < 21)
		run_for(loop);
	cr_assert_eq(g.batches, 2, "the 20 in %d wake-ups", g.batches - 1);
	cr_assert_eq(g.batch_got[1], 21);
	cr_assert_geq(g.batch_ms[1] - g.batch_ms[0], 990, "read %lld ms after the first",
		      (long long)(g.batch_ms[1] - g.batch_ms[0]));
	/* quiet past the gap: the next one is read as it comes */
	while (c.got < 21)
		run_for(loop);
	ev_sleep(1.05);
	ev_run(loop, EVRUN_NOWAIT);
	t = mono_ms();
	cr_assert_eq(net_send(dealer, NULL, "late", 4), 0);
	while (g.got < 22)
		run_for(loop);
	cr_assert_eq(g.batches, 3);
	cr_assert_lt(g.batch_ms[2] - t, 900, "held %lld ms for a gap that ended",
		     (long long)(g.batch_ms[2] - t));
	net_destroy(&dealer);
	net_destroy(&g.router);
	ev_loop_destroy(loop);
	net_shutdown();
}

/* The listen queue a router asks for, as the kernel reports it (ss's
 * Send-Q of a listening socket is its backlog). */
static long listen_backlog(const char *endpoint)
{
	const char *colon = strrchr(endpoint, ':');
	char cmd[128], line[256];
	long q = -1, recvq;
	FILE *p;

	cr_assert_not_null(colon);
	snprintf(cmd, sizeof cmd, "ss -ltnH 'sport = :%s' 2>/dev/null", colon + 1);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	if (fgets(line, sizeof line, p))
		cr_assert_eq(sscanf(line, "%*s %ld %ld", &recvq, &q), 2, "ss said: %s", line);
	pclose(p);
	return q;
}

static long read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* After an rsd restart every agent connects at once while the I/O
 * thread is busy with CURVE handshakes: a queue of ZeroMQ's default 100
 * overflowed and the SYNs past it were retried seconds later. */
Test(net, router_listens_with_a_backlog_for_a_wave, .timeout = 20)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	net_sock *router = NULL;
	long max = read_long("/proc/sys/net/core/somaxconn");
	long want = max > 0 && max < NET_BACKLOG ? max : NET_BACKLOG;

	cr_assert_eq(net_router_new(loop, "tcp://127.0.0.1:*", 0, NULL, quiet_cb, NULL,
				    &router), 0);
	cr_assert_eq(listen_backlog(net_endpoint(router)), want,
		     "the listen queue of %s", net_endpoint(router));
	net_destroy(&router);
	ev_loop_destroy(loop);
	net_shutdown();
}

/* The nice value of this process's thread named comm (with its
 * newline), or 100 if there is none. */
static int thread_nice(const char *comm)
{
	DIR *dir = opendir("/proc/self/task");
	struct dirent *de;
	int nice = 100;

	cr_assert_not_null(dir);
	while ((de = readdir(dir)) && nice == 100) {
		char path[300], got[32] = "";
		FILE *f;

		snprintf(path, sizeof path, "/proc/self/task/%s/comm", de->d_name);
		if (!(f = fopen(path, "r")))
			continue;
		if (fgets(got, sizeof got, f) && !strcmp(got, comm)) {
			errno = 0;
			nice = getpriority(PRIO_PROCESS, (id_t)atoi(de->d_name));
			cr_assert_eq(errno, 0);
		}
		fclose(f);
	}
	closedir(dir);
	return nice;
}

/* The agents' socket's I/O thread of rsd yields to the rest
 * (RSD_AGENTS_IO_NICE): the thread of that number gets the nice value,
 * the others keep theirs; a thread that does not exist is -ESRCH. */
Test(net, io_thread_nice_sets_that_thread_only, .timeout = 20)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	net_sock *router = NULL;
	int r, tries = 0, base, want;

	errno = 0;
	base = getpriority(PRIO_PROCESS, 0);   /* ctest may run under nice */
	cr_assert_eq(errno, 0);
	want = base + 3 > 19 ? 19 : base + 3;
	cr_assert_eq(net_configure(2, 0), 0);
	cr_assert_eq(net_router_new(loop, "tcp://127.0.0.1:*", 0, NULL, quiet_cb, NULL,
				    &router), 0);
	/* libzmq's threads name themselves as they start */
	while ((r = net_io_thread_nice(0, want)) == -ESRCH && tries++ < 200)
		usleep(5000);
	cr_assert_eq(r, 0, "net_io_thread_nice: %s", strerror(-r));
	cr_assert_eq(thread_nice("ZMQbg/IO/0\n"), want);
	for (tries = 0; thread_nice("ZMQbg/IO/1\n") == 100 && tries < 200; tries++)
		usleep(5000);   /* named as it starts, too */
	cr_assert_eq(thread_nice("ZMQbg/IO/1\n"), base);
	cr_assert_eq(net_io_thread_nice(5, want), -ESRCH);
	net_destroy(&router);
	ev_loop_destroy(loop);
	net_shutdown();
}

/* The inode of the socket listening on 127.0.0.1:port (/proc/net/tcp),
 * 0 if none. */
static unsigned long listener_inode(unsigned port)
{
	FILE *f = fopen("/proc/net/tcp", "r");
	char line[512];
	unsigned long ino = 0;

	cr_assert_not_null(f);
	while (!ino && fgets(line, sizeof line, f)) {
		unsigned addr, lport, st;
		unsigned long i;

		if (sscanf(line, " %*d: %x:%x %*x:%*x %x %*x:%*x %*x:%*x %*x %*d %*d %lu",
			   &addr, &lport, &st, &i) == 4 &&
		    lport == port && st == 0x0A && addr == 0x0100007F)
			ino = i;
	}
	fclose(f);
	return ino;
}

/* How many of this process's descriptors are the socket of inode ino. */
static int fds_of(unsigned long ino)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *de;
	char want[64], path[300], got[64];
	int n = 0;

	cr_assert_not_null(dir);
	snprintf(want, sizeof want, "socket:[%lu]", ino);
	while ((de = readdir(dir))) {
		ssize_t k;

		snprintf(path, sizeof path, "/proc/self/fd/%s", de->d_name);
		k = readlink(path, got, sizeof got - 1);
		if (k > 0) {
			got[k] = '\0';
			n += strcmp(got, want) == 0;
		}
	}
	closedir(dir);
	return n;
}

static void replied_cb(net_sock *s, const net_peer *peer, const uint8_t *buf,
		       size_t len, void *arg)
{
	(void)s, (void)peer, (void)buf, (void)len;
	(*(int *)arg)++;
}

/* A wave of connections (every agent after an rsd restart) waited behind
 * ZeroMQ's one accept a turn of a busy I/O thread: a router may have
 * several listeners share one listening socket. Still one socket (its
 * backlog, and the port stays exclusive), every peer served, and no
 * descriptor left once it is closed. */
Test(net, router_shares_one_listening_socket_among_listeners, .timeout = 30)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	echo e = { 0 };
	net_sock *other = NULL, *d[64] = { 0 };
	int got[64] = { 0 }, all = 0;
	long max = read_long("/proc/sys/net/core/somaxconn");
	unsigned long ino;
	unsigned port;
	const char *colon;

	cr_assert_eq(net_router_new_ex(loop, "tcp://127.0.0.1:*", 0, 0, -1, 0, NULL,
				       echo_cb, &e, &e.router), -EINVAL);
	cr_assert_eq(net_router_new_ex(loop, "tcp://127.0.0.1:*", 0, 0, -1,
				       NET_ACCEPTS_MAX + 1, NULL, echo_cb, &e, &e.router),
		     -EINVAL);
	cr_assert_null(e.router);
	cr_assert_eq(net_router_new_ex(loop, "tcp://127.0.0.1:*", 1, 0, -1, 8, NULL,
				       echo_cb, &e, &e.router), 0);
	colon = strrchr(net_endpoint(e.router), ':');
	cr_assert(colon && sscanf(colon + 1, "%u", &port) == 1 && port > 0,
		  "endpoint %s", net_endpoint(e.router));
	cr_assert_eq(listen_backlog(net_endpoint(e.router)),
		     max > 0 && max < NET_BACKLOG ? max : NET_BACKLOG);
	ino = listener_inode(port);
	cr_assert_neq(ino, 0ul, "nothing listens on %u", port);
	cr_assert_eq(fds_of(ino), 8, "one descriptor a listener");
	/* the port is still this router's alone */
	cr_assert_eq(net_router_new_ex(loop, net_endpoint(e.router), 0, 0, -1, 8, NULL,
				       echo_cb, &e, &other), -EADDRINUSE);
	cr_assert_eq(net_router_new(loop, net_endpoint(e.router), 0, NULL, echo_cb, &e,
				    &other), -EADDRINUSE);
	for (int i = 0; i < 64; i++) {
		char id[16];

		snprintf(id, sizeof id, "d%02d", i);
		cr_assert_eq(net_dealer_new(loop, net_endpoint(e.router), id, NULL, replied_cb,
					    &got[i], &d[i]), 0);
	}
	/* every one of them is accepted and answered */
	for (int t = 0; t < 1000 && all < 64; t++) {
		all = 0;
		for (int i = 0; i < 64; i++) {
			if (!got[i])
				net_send(d[i], NULL, "hi", 2);   /* -EAGAIN until connected */
			all += got[i] > 0;
		}
		ev_run(loop, EVRUN_NOWAIT);
		ev_sleep(0.01);
	}
	cr_assert_eq(all, 64, "%d of 64 dealers answered", all);
	for (int i = 0; i < 64; i++)
		net_destroy(&d[i]);
	net_destroy(&e.router);
	/* ZeroMQ closes its listeners on its own thread: wait for it */
	for (int t = 0; t < 200 && fds_of(ino) > 0; t++)
		ev_sleep(0.01);
	cr_assert_eq(fds_of(ino), 0, "a listener's descriptor outlived the router");
	/* an endpoint ZeroMQ resolves itself (an interface): one listener */
	cr_assert_eq(net_router_new_ex(loop, "tcp://lo:*", 0, 0, -1, 8, NULL,
				       echo_cb, &e, &e.router), 0);
	colon = strrchr(net_endpoint(e.router), ':');
	cr_assert(colon && sscanf(colon + 1, "%u", &port) == 1 && port > 0);
	ino = listener_inode(port);
	cr_assert_neq(ino, 0ul);
	cr_assert_eq(fds_of(ino), 1);
	net_destroy(&e.router);
	ev_loop_destroy(loop);
	net_shutdown();
}

Test(net, call_roundtrip_and_timeout, .timeout = 20)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	echo e = { 0 };
	uint8_t *rep = NULL;
	size_t len = 0;
	int r;

	cr_assert_eq(net_router_new(loop, "tcp://127.0.0.1:*", 0, NULL, echo_cb, &e, &e.router), 0);
	/* nobody runs the loop: the call must time out, not hang */
	r = net_call(net_endpoint(e.router), NULL, "ping", 4, 200, &rep, &len);
	cr_assert_eq(r, -ETIMEDOUT);
	cr_assert_null(rep);
	net_destroy(&e.router);
	/* an endpoint zmq cannot parse is an error, not a crash */
	r = net_call("bogus", NULL, "x", 1, 100, &rep, &len);
	cr_assert_lt(r, 0);
	ev_loop_destroy(loop);
	net_shutdown();
}

Test(net, oversized_frame_dropped_router_survives, .timeout = 20)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	echo e = { 0 };
	client c = { .loop = loop };
	net_sock *big = NULL, *small = NULL;
	size_t n = (2u << 20);
	uint8_t *buf = calloc(1, n);

	cr_assert_eq(net_router_new(loop, "tcp://127.0.0.1:*", 0, NULL, echo_cb, &e, &e.router), 0);
	cr_assert_eq(net_dealer_new(loop, net_endpoint(e.router), "big", NULL, client_cb, &c, &big), 0);
	cr_assert_eq(net_dealer_new(loop, net_endpoint(e.router), "small", NULL, client_cb, &c, &small), 0);
	for (int i = 0; i < 500 && c.got == 0; i++) {
		net_send(big, NULL, buf, n);          /* over ZMQ_MAXMSGSIZE */
		net_send(small, NULL, "ok", 2);
		ev_sleep(0.01);
		ev_run(loop, EVRUN_NOWAIT);
	}
	if (!c.got)
		run_for(loop);
	cr_assert_str_eq(c.last, "re:ok");
	cr_assert_lt(e.last_len, n, "the oversized frame reached the handler");
	free(buf);
	net_destroy(&big);
	net_destroy(&small);
	net_destroy(&e.router);
	ev_loop_destroy(loop);
	net_shutdown();
}

/* ---- a server that restarts while a request waits --------------------- */

/* Child: serves endpoint ep (or an OS-picked port when ep is NULL, written
 * to fd wfd). answer = 0: exits at the first request without answering,
 * as a server killed in the middle; answer = 1: echoes until killed. */
static void die_cb(net_sock *s, const net_peer *peer, const uint8_t *buf,
		   size_t len, void *arg)
{
	_exit(0);
}

_Noreturn static void serve(const char *ep, int answer, int wfd)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	echo e = { 0 };
	int r;

	/* the endpoint is busy until the first server is gone: retry (5 s) */
	for (int i = 0; i < 250; i++) {
		r = net_router_new(loop, ep ? ep : "tcp://127.0.0.1:*", 0, NULL,
				   answer ? echo_cb : die_cb, &e, &e.router);
		if (r != -EADDRINUSE)
			break;
		usleep(20000);
	}
	if (r < 0)
		_exit(2);
	if (wfd >= 0) {
		dprintf(wfd, "%s\n", net_endpoint(e.router));
		close(wfd);
	}
	ev_run(loop, 0);
	_exit(0);
}

struct call { const char *ep; int flags, timeout_ms, r; uint8_t *rep; size_t len; };

static void *call_thread(void *arg)
{
	struct call *c = arg;

	c->r = net_call_ex(c->ep, NULL, "ping", 4, c->timeout_ms, c->flags, &c->rep,
			   &c->len);
	return NULL;
}

/* One request delivered to a server that dies without answering; a new
 * server comes up on the same endpoint. With NET_CALL_RESEND the request
 * is sent again and answered; without, it times out. */
static void restart_case(int flags, int want)
{
	char ep[256] = "";
	struct call c = { .ep = ep, .flags = flags, .timeout_ms = 3000 };
	pthread_t th;
	pid_t s1, s2;
	int p[2], st;
	FILE *f;

	cr_assert_eq(pipe(p), 0);
	s1 = fork();
	cr_assert_geq(s1, 0);
	if (s1 == 0) {
		close(p[0]);
		serve(NULL, 0, p[1]);
	}
	close(p[1]);
	f = fdopen(p[0], "r");
	cr_assert(f && fgets(ep, sizeof ep, f), "the first server gave no endpoint");
	fclose(f);
	ep[strcspn(ep, "\n")] = '\0';
	/* forked before this process makes its ZeroMQ context: it binds the
	 * endpoint as soon as the first server has let go of it */
	s2 = fork();
	cr_assert_geq(s2, 0);
	if (s2 == 0)
		serve(ep, 1, -1);
	cr_assert_eq(pthread_create(&th, NULL, call_thread, &c), 0);
	cr_assert_eq(waitpid(s1, &st, 0), s1);   /* it got the request, and died */
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "first server: 0x%x", st);
	pthread_join(th, NULL);
	kill(s2, SIGKILL);
	waitpid(s2, NULL, 0);
	cr_assert_eq(c.r, want, "net_call_ex: %d (%s), want %d", c.r, strerror(-c.r), want);
	if (want == 0)
		cr_assert(c.len == 7 && memcmp(c.rep, "re:ping", 7) == 0);
	free(c.rep);
}

Test(net, call_resends_after_a_server_restart, .timeout = 20)
{
	restart_case(NET_CALL_RESEND, 0);
}

Test(net, call_without_resend_times_out_after_a_server_restart, .timeout = 20)
{
	restart_case(0, -ETIMEDOUT);
}

/* ---- one connection for many calls (net_client) ------------------------ */

/* A CURVE server on a loop of its own thread: a ZAP handler that admits
 * every key and counts (one ZAP request a handshake), a router that
 * answers "re:" + the message (twice for one starting with '2') and
 * keeps the routing ids it saw (one per connection), and its monitor. */
typedef struct srv {
	struct ev_loop *loop;
	ev_async        stop;
	pthread_t       th;
	net_sock       *zap, *router;
	net_curve       keys;
	char            pub[NET_KEY_LEN + 1];
	int             refuse;        /* ZAP: 400 to every key */
	int             zaps, handshakes, got;
	net_peer        peers[16];
	int             npeers;
} srv;

static int srv_zap(const net_zap_req *rq, char *user, size_t usersz, void *arg)
{
	srv *s = arg;

	(void)rq;
	s->zaps++;
	snprintf(user, usersz, "op");
	return s->refuse ? 400 : 200;
}

static void srv_recv(net_sock *ns, const net_peer *peer, const uint8_t *buf,
		     size_t len, void *arg)
{
	srv *s = arg;
	char out[64];
	size_t n = len < 32 ? len : 32;
	int known = 0;

	s->got++;
	for (int i = 0; i < s->npeers; i++)
		known |= s->peers[i].len == peer->len &&
			 memcmp(s->peers[i].id, peer->id, peer->len) == 0;
	if (!known && s->npeers < 16)
		s->peers[s->npeers++] = *peer;
	memcpy(out, "re:", 3);
	memcpy(out + 3, buf, n);
	net_send(ns, peer, out, n + 3);
	if (n && buf[0] == '2')
		net_send(ns, peer, out, n + 3);
}

static void srv_event(net_sock *ns, net_event ev, uint32_t value, void *arg)
{
	srv *s = arg;

	(void)ns, (void)value;
	s->handshakes += ev == NET_EV_HANDSHAKE_OK;
}

static void srv_stop_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	(void)w, (void)revents;
	ev_break(loop, EVBREAK_ALL);
}

static void *srv_thread(void *arg)
{
	srv *s = arg;

	ev_run(s->loop, 0);
	return NULL;
}

/* Makes everything in this thread (the context, the sockets), then hands
 * the loop to the server's thread. */
static void srv_start(srv *s, int refuse)
{
	memset(s, 0, sizeof *s);
	s->refuse = refuse;
	cr_assert_eq(net_keypair(s->pub, s->keys.sec), 0);
	snprintf(s->keys.domain, sizeof s->keys.domain, "test");
	s->loop = ev_loop_new(EVFLAG_AUTO);
	cr_assert_eq(net_zap_start(s->loop, srv_zap, s, &s->zap), 0);
	cr_assert_eq(net_router_new(s->loop, "tcp://127.0.0.1:*", 0, &s->keys,
				    srv_recv, s, &s->router), 0);
	cr_assert_eq(net_monitor(s->router, srv_event, s), 0);
	ev_async_init(&s->stop, srv_stop_cb);
	ev_async_start(s->loop, &s->stop);
	cr_assert_eq(pthread_create(&s->th, NULL, srv_thread, s), 0);
}

/* Stops the server's thread; its counters are this thread's again. */
static void srv_stop(srv *s)
{
	ev_async_send(s->loop, &s->stop);
	pthread_join(s->th, NULL);
	net_destroy(&s->router);
	net_destroy(&s->zap);
	ev_loop_destroy(s->loop);
}

/* A client's keys for s. */
static net_curve client_keys(const srv *s)
{
	net_curve k;

	memset(&k, 0, sizeof k);
	snprintf(k.server, sizeof k.server, "%s", s->pub);
	cr_assert_eq(net_keypair(k.pub, k.sec), 0);
	return k;
}

/* match: the reply is "re:" + the request (arg). */
static int is_answer_to(const uint8_t *rep, size_t len, void *arg)
{
	const char *req = arg;

	return len == 3 + strlen(req) && memcmp(rep, "re:", 3) == 0 &&
	       memcmp(rep + 3, req, len - 3) == 0;
}

Test(net, client_calls_share_one_handshake, .timeout = 30)
{
	net_curve k;
	net_client *c = NULL;
	uint8_t *rep = NULL;
	size_t len = 0;
	char req[32];
	srv s;

	cr_assert(net_curve_available(), "this libzmq has no CURVE");
	srv_start(&s, 0);
	k = client_keys(&s);
	cr_assert_eq(net_client_new(net_endpoint(s.router), &k, &c), 0);
	for (int i = 0; i < 50; i++) {
		snprintf(req, sizeof req, "page %d", i);
		cr_assert_eq(net_client_call(c, req, strlen(req), 5000,
					     i % 2 ? NET_CALL_RESEND : NET_CALL_RECONNECT,
					     NULL, NULL, &rep, &len), 0, "call %d", i);
		cr_assert(is_answer_to(rep, len, req), "call %d: %.*s", i, (int)len, rep);
		free(rep);
	}
	cr_assert_eq(net_client_handshakes(c), 1);

	/* a late second answer is not taken for the next call's */
	cr_assert_eq(net_client_call(c, "2x", 2, 5000, 0, is_answer_to, "2x", &rep,
				     &len), 0);
	free(rep);
	for (int i = 0; i < 5; i++) {
		snprintf(req, sizeof req, "after %d", i);
		cr_assert_eq(net_client_call(c, req, strlen(req), 5000, 0, is_answer_to,
					     req, &rep, &len), 0);
		cr_assert(is_answer_to(rep, len, req));
		free(rep);
	}

	/* the same number of net_call_ex: a handshake each */
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(net_call_ex(net_endpoint(s.router), &k, "one", 3, 5000,
					 NET_CALL_RESEND, &rep, &len), 0);
		cr_assert(is_answer_to(rep, len, "one"));
		free(rep);
	}
	net_client_destroy(&c);
	cr_assert_null(c);
	net_client_destroy(&c);   /* accepts NULL */
	srv_stop(&s);
	cr_assert_eq(s.got, 50 + 6 + 3);
	cr_assert_eq(s.zaps, 1 + 3, "%d ZAP requests (handshakes) for 1 client "
		     "and 3 net_call_ex", s.zaps);
	cr_assert_eq(s.handshakes, 1 + 3);
	cr_assert_eq(s.npeers, 1 + 3, "%d connections", s.npeers);
	net_shutdown();
}

/* The server refuses the client's key: -EACCES at once, not after the
 * timeout. */
Test(net, client_refused_key_is_eacces, .timeout = 30)
{
	net_curve k;
	net_client *c = NULL;
	uint8_t *rep = NULL;
	size_t len = 0;
	int64_t t0;
	srv s;

	srv_start(&s, 1);
	k = client_keys(&s);
	cr_assert_eq(net_client_new(net_endpoint(s.router), &k, &c), 0);
	t0 = mono_ms();
	cr_assert_eq(net_client_call(c, "x", 1, 10000, NET_CALL_RESEND, NULL, NULL,
				     &rep, &len), -EACCES);
	cr_assert_lt(mono_ms() - t0, 5000);
	cr_assert_null(rep);
	net_client_destroy(&c);
	srv_stop(&s);
	cr_assert_eq(s.got, 0);
	cr_assert_geq(s.zaps, 1);
	net_shutdown();
}

/* Router side for the client's restart cases: answers the first request,
 * dies at the second without answering (a server killed mid-call). */
static void once_cb(net_sock *s, const net_peer *peer, const uint8_t *buf,
		    size_t len, void *arg)
{
	static int n;

	if (n++)
		_exit(0);
	echo_cb(s, peer, buf, len, arg);
}

/* A server (first) that answers, or answers once then dies at the next
 * request (once), and a second that takes its endpoint once it is gone.
 * Forks both before this process makes its ZeroMQ context. */
static void two_servers(int once, pid_t *s1, pid_t *s2, char *ep, size_t n)
{
	int p[2];
	FILE *f;

	cr_assert_eq(pipe(p), 0);
	*s1 = fork();
	cr_assert_geq(*s1, 0);
	if (*s1 == 0) {
		struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
		echo e = { 0 };

		close(p[0]);
		if (net_router_new(loop, "tcp://127.0.0.1:*", 0, NULL,
				   once ? once_cb : echo_cb, &e, &e.router) < 0)
			_exit(2);
		dprintf(p[1], "%s\n", net_endpoint(e.router));
		close(p[1]);
		ev_run(loop, 0);
		_exit(0);
	}
	close(p[1]);
	f = fdopen(p[0], "r");
	cr_assert(f && fgets(ep, (int)n, f), "the first server gave no endpoint");
	fclose(f);
	ep[strcspn(ep, "\n")] = '\0';
	*s2 = fork();
	cr_assert_geq(*s2, 0);
	if (*s2 == 0)
		serve(ep, 1, -1);
}

struct ccall { net_client *c; int flags, r; uint8_t *rep; size_t len; };

static void *ccall_thread(void *arg)
{
	struct ccall *x = arg;

	x->r = net_client_call(x->c, "ping", 4, 3000, x->flags, NULL, NULL,
			       &x->rep, &x->len);
	return NULL;
}

/* A client whose first call was answered; the server dies at the second
 * and another comes up on its endpoint: the flags of that call decide,
 * as for net_call_ex. */
static void client_restart_case(int flags, int want)
{
	char ep[256] = "";
	struct ccall x = { .flags = flags };
	uint8_t *rep = NULL;
	size_t len = 0;
	pthread_t th;
	pid_t s1, s2;
	int st;

	two_servers(1, &s1, &s2, ep, sizeof ep);
	cr_assert_eq(net_client_new(ep, NULL, &x.c), 0);
	cr_assert_eq(net_client_call(x.c, "ping", 4, 5000, flags, NULL, NULL, &rep,
				     &len), 0);
	cr_assert(is_answer_to(rep, len, "ping"));
	free(rep);
	cr_assert_eq(pthread_create(&th, NULL, ccall_thread, &x), 0);
	cr_assert_eq(waitpid(s1, &st, 0), s1);   /* it got the request, and died */
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "first server: 0x%x", st);
	pthread_join(th, NULL);
	kill(s2, SIGKILL);
	waitpid(s2, NULL, 0);
	cr_assert_eq(x.r, want, "net_client_call: %d (%s), want %d", x.r,
		     strerror(-x.r), want);
	if (want == 0) {
		cr_assert(is_answer_to(x.rep, x.len, "ping"));
		cr_assert_eq(net_client_handshakes(x.c), 2);
	}
	free(x.rep);
	net_client_destroy(&x.c);
	net_shutdown();
}

Test(net, client_call_resends_after_a_server_restart, .timeout = 20)
{
	client_restart_case(NET_CALL_RESEND, 0);
}

Test(net, client_call_reconnect_says_so_after_a_server_restart, .timeout = 20)
{
	client_restart_case(NET_CALL_RECONNECT, -ECONNRESET);
}

Test(net, client_call_without_resend_times_out_after_a_server_restart, .timeout = 20)
{
	client_restart_case(0, -ETIMEDOUT);
}

/* The server restarts between two calls: the second call's request waits
 * for the new connection and is answered (once: a late copy is dropped). */
Test(net, client_survives_a_restart_between_calls, .timeout = 20)
{
	char ep[256] = "";
	net_client *c = NULL;
	uint8_t *rep = NULL;
	size_t len = 0;
	pid_t s1, s2;

	two_servers(0, &s1, &s2, ep, sizeof ep);
	cr_assert_eq(net_client_new(ep, NULL, &c), 0);
	cr_assert_eq(net_client_call(c, "one", 3, 5000, NET_CALL_RESEND, NULL, NULL,
				     &rep, &len), 0);
	cr_assert(is_answer_to(rep, len, "one"));
	free(rep);
	kill(s1, SIGKILL);
	waitpid(s1, NULL, 0);
	cr_assert_eq(net_client_call(c, "two", 3, 5000, NET_CALL_RESEND, is_answer_to,
				     "two", &rep, &len), 0);
	cr_assert(is_answer_to(rep, len, "two"));
	free(rep);
	cr_assert_eq(net_client_call(c, "three", 5, 5000, NET_CALL_RESEND, is_answer_to,
				     "three", &rep, &len), 0);
	free(rep);
	cr_assert_eq(net_client_handshakes(c), 2);
	kill(s2, SIGKILL);
	waitpid(s2, NULL, 0);
	net_client_destroy(&c);
	net_shutdown();
}
