/*
 * net.c - ZeroMQ ROUTER/DEALER sockets on a libev loop.
 *
 * ZMQ_FD is edge-triggered: it signals "something changed", not "readable".
 * So the read callback drains until ZMQ_EVENTS has no POLLIN, and every send
 * re-checks ZMQ_EVENTS and feeds a read event if input is pending, because a
 * send can consume the edge that announced it.
 */
#include "net.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define NET_BATCH 256   /* messages handled per wake-up before yielding */
#define NET_BATCH_MS 2   /* or this long (checked after each message: one
			  * may be a Batch of 60 events, ~1 ms): about the
			  * longest a control request waits behind agents */

struct net_sock {
	void           *zs;
	struct ev_loop *loop;
	ev_io           io;
	ev_idle         more;        /* a batch cut short goes on from here */
	ev_timer        gap;         /* net_sock_set_gap: the next read */
	double          gap_s;
	int             router;
	int             zap;         /* the ZAP handler's REP socket */
	net_recv_fn     fn;
	void           *arg;
	net_batch_fn    batch_fn;    /* after each wake-up's messages */
	int             recheck;     /* a send fed one more net_io_cb */
	int             reading;     /* in net_io_cb (its batch_fn included) */
	int             yield;       /* net_sock_yield: this batch reads no more */
	int             sent_reading; /* a send meanwhile: a recheck at its end */
	int             behind;      /* the last wake-up left messages unread */
	int64_t         drained_ms;  /* when the last wake-up that read all began */
	net_zap_fn      zap_fn;
	void           *mon;         /* net_monitor's PAIR socket, or NULL */
	ev_io           mon_io;
	ev_idle         mon_more;    /* events left after a batch: go on here */
	net_event_fn    mon_fn;
	void           *mon_arg;
	char            endpoint[256];
};

static void *net_ctx;

static int64_t net_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int net_io_threads, net_max_sockets;   /* 0: libzmq's defaults */

/* The process-wide context, made on first use. */
static void *net_context(void)
{
	if (!net_ctx) {
		net_ctx = zmq_ctx_new();
		if (net_ctx && net_io_threads > 0)
			zmq_ctx_set(net_ctx, ZMQ_IO_THREADS, net_io_threads);
		if (net_ctx && net_max_sockets > 0)
			zmq_ctx_set(net_ctx, ZMQ_MAX_SOCKETS, net_max_sockets);
	}
	return net_ctx;
}

int net_configure(int io_threads, int max_sockets)
{
	if (net_ctx)
		return -EBUSY;
	if (io_threads < 0 || max_sockets < 0)
		return -EINVAL;
	net_io_threads = io_threads;
	net_max_sockets = max_sockets;
	return 0;
}

int net_io_thread_tid(unsigned index)
{
	char want[32], path[64], comm[32];
	DIR *dir;
	struct dirent *e;
	int r = -ESRCH;

	/* libzmq names its I/O threads "ZMQbg/IO/<n>" (Linux: the task's
	 * comm); they exist once the context has a socket */
	snprintf(want, sizeof want, "ZMQbg/IO/%u\n", index);
	if (!(dir = opendir("/proc/self/task")))
		return -errno;
	while ((e = readdir(dir))) {
		FILE *f;
		char *end;
		long tid = strtol(e->d_name, &end, 10);

		if (tid <= 0 || *end)
			continue;
		snprintf(path, sizeof path, "/proc/self/task/%ld/comm", tid);
		if (!(f = fopen(path, "re")))
			continue;
		if (fgets(comm, sizeof comm, f) && !strcmp(comm, want))
			r = (int)tid;
		fclose(f);
		if (r != -ESRCH)
			break;
	}
	closedir(dir);
	return r;
}

int net_io_thread_nice(unsigned index, int nice)
{
	int tid = net_io_thread_tid(index);

	if (tid < 0)
		return tid;
	return setpriority(PRIO_PROCESS, (id_t)tid, nice) < 0 ? -errno : 0;
}

void net_shutdown(void)
{
	if (net_ctx) {
		zmq_ctx_term(net_ctx);
		net_ctx = NULL;
	}
}

/* Receives one multipart message; the routing frame (ROUTER) goes to peer,
 * the last frame is the payload. Returns 1 if a message was handled, 0 if
 * none was pending. */
static int net_recv_one(net_sock *s)
{
	net_peer peer;
	zmq_msg_t part;
	int more, nparts = 0, got_payload = 0;
	size_t len = sizeof more;

	peer.len = 0;
	peer.user[0] = '\0';
	zmq_msg_init(&part);
	for (;;) {
		if (zmq_msg_recv(&part, s->zs, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&part);
			return nparts > 0;
		}
		nparts++;
		if (zmq_getsockopt(s->zs, ZMQ_RCVMORE, &more, &len) != 0)
			more = 0;
		if (s->router && nparts == 1) {
			peer.len = zmq_msg_size(&part);
			if (peer.len > NET_PEER_MAX)
				peer.len = NET_PEER_MAX;
			memcpy(peer.id, zmq_msg_data(&part), peer.len);
		} else if (!more && !got_payload) {
			const char *u = zmq_msg_gets(&part, "User-Id");

			got_payload = 1;
			if (u && strlen(u) < sizeof peer.user)
				strcpy(peer.user, u);
			s->fn(s, s->router ? &peer : NULL, zmq_msg_data(&part),
			      zmq_msg_size(&part), s->arg);
		}
		if (!more)
			break;
	}
	zmq_msg_close(&part);
	return 1;
}

static int net_zap_one(net_sock *s);

static void net_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	net_sock *s = w->data;
	int64_t t0 = net_now_ms();
	int i, got = 0;

	if (ev_is_active(&s->gap))
		return;   /* a send's recheck in the gap: the gap's read looks */
	s->recheck = 0;   /* what is sent from here on is looked after again */
	s->reading = 1;
	s->sent_reading = 0;
	s->yield = 0;

	/* a receive that finds nothing (EAGAIN) ends the batch: asking
	 * ZMQ_EVENTS before each one costs a poll and a getpid apiece */
	for (i = 0; i < NET_BATCH; i++) {
		if (!(s->zap ? net_zap_one(s) : net_recv_one(s)))
			break;
		got++;
		/* heavy messages (a Hello storm, batches): the others'
		 * turn sooner (a clock read is ~20 ns) */
		if (s->yield || net_now_ms() - t0 >= NET_BATCH_MS) {
			i = NET_BATCH;
			break;
		}
	}
	s->behind = i == NET_BATCH;
	if (!s->behind)
		s->drained_ms = t0;
	if (got && s->batch_fn)
		s->batch_fn(s, s->arg);
	s->reading = 0;
	/* more pending: come back once the loop has polled again and the
	 * other ready watchers had their turn (libev runs a watcher fed
	 * now in this same pass, before it looks at the control socket) */
	if (i == NET_BATCH)
		ev_idle_start(loop, &s->more);
	else if (got && s->gap_s > 0) {
		/* what comes meanwhile waits for the gap's end (the io
		 * watcher would wake the loop for each message) */
		ev_io_stop(loop, &s->io);
		ev_timer_set(&s->gap, s->gap_s, 0.);
		ev_timer_start(loop, &s->gap);
	} else if (s->sent_reading && !s->recheck) {
		/* all read, and a send may have taken the edge since */
		s->recheck = 1;
		ev_feed_event(loop, &s->io, EV_READ);
	}
}

static void net_gap_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	net_sock *s = w->data;

	(void)revents;
	ev_io_start(loop, &s->io);
	net_io_cb(loop, &s->io, EV_READ);
}

void net_sock_yield(net_sock *s)
{
	s->yield = 1;
}

bool net_sock_waiting(net_sock *s)
{
	int ev = 0;
	size_t n = sizeof ev;

	if (!s || zmq_getsockopt(s->zs, ZMQ_EVENTS, &ev, &n) < 0 || !(ev & ZMQ_POLLIN))
		return false;
	if (s->loop && ev_is_active(&s->io))
		ev_feed_event(s->loop, &s->io, EV_READ);
	return true;
}

void net_sock_set_gap(net_sock *s, double seconds)
{
	s->gap_s = seconds > 0 ? seconds : 0;
}

static void net_more_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	net_sock *s = w->data;

	(void)revents;
	ev_idle_stop(loop, w);
	net_io_cb(loop, &s->io, EV_READ);
}

void net_sock_on_batch_end(net_sock *s, net_batch_fn fn)
{
	s->batch_fn = fn;
}

void net_sock_set_priority(net_sock *s, int pri)
{
	if (!s->loop)
		return;
	ev_io_stop(s->loop, &s->io);   /* libev: only an idle watcher's */
	ev_idle_stop(s->loop, &s->more);
	ev_set_priority(&s->io, pri);
	ev_set_priority(&s->more, pri);
	if (ev_is_active(&s->gap))
		return;   /* the gap's end starts it again and reads */
	ev_io_start(s->loop, &s->io);
	ev_feed_event(s->loop, &s->io, EV_READ);   /* what came meanwhile */
}

int64_t net_sock_heard_until(net_sock *s, int64_t now_ms)
{
	int ev = 0;
	size_t len = sizeof ev;

	if (!s->behind && (zmq_getsockopt(s->zs, ZMQ_EVENTS, &ev, &len) != 0 ||
			   !(ev & ZMQ_POLLIN)))
		return now_ms;
	/* asking ZMQ_EVENTS may take the edge of ZMQ_FD that says input
	 * waits: read it on the loop's next turn */
	if (s->loop && !s->behind)
		ev_feed_event(s->loop, &s->io, EV_READ);
	return s->drained_ms < now_ms ? s->drained_ms : now_ms;
}

static int net_sock_new(struct ev_loop *loop, int type, net_recv_fn fn,
			void *arg, net_sock **out)
{
	net_sock *s;
	int fd, linger = 0, hwm = 100000;
	int64_t maxsz = (int64_t)(1u << 20) + 1024;
	size_t len = sizeof fd;

	s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->zs = zmq_socket(net_context(), type);
	if (!s->zs) {
		int e = errno;
		free(s);
		return -e;
	}
	zmq_setsockopt(s->zs, ZMQ_LINGER, &linger, sizeof linger);
	zmq_setsockopt(s->zs, ZMQ_MAXMSGSIZE, &maxsz, sizeof maxsz);
	zmq_setsockopt(s->zs, ZMQ_SNDHWM, &hwm, sizeof hwm);
	zmq_setsockopt(s->zs, ZMQ_RCVHWM, &hwm, sizeof hwm);
	s->loop = loop;
	s->drained_ms = net_now_ms();   /* nothing was sent to it before */
	s->fn = fn;
	s->arg = arg;
	s->router = type == ZMQ_ROUTER;
	if (loop) {
		zmq_getsockopt(s->zs, ZMQ_FD, &fd, &len);
		ev_io_init(&s->io, net_io_cb, fd, EV_READ);
		s->io.data = s;
		ev_idle_init(&s->more, net_more_cb);
		s->more.data = s;
		ev_init(&s->gap, net_gap_cb);
		s->gap.data = s;
		ev_io_start(loop, &s->io);
	}
	*out = s;
	return 0;
}

/* Makes s a CURVE server (secret key, ZAP domain) or client (pinned
 * server key, own pair). Before bind/connect. */
static int net_set_curve(net_sock *s, const net_curve *c, int server)
{
	int one = 1;

	if (!c)
		return 0;
	if (server) {
		if (!net_key_valid(c->sec))
			return -EINVAL;
		if (zmq_setsockopt(s->zs, ZMQ_CURVE_SERVER, &one, sizeof one) ||
		    zmq_setsockopt(s->zs, ZMQ_CURVE_SECRETKEY, c->sec, NET_KEY_LEN) ||
		    zmq_setsockopt(s->zs, ZMQ_ZAP_DOMAIN, c->domain, strlen(c->domain)))
			return -errno;
		return 0;
	}
	if (!net_key_valid(c->server) || !net_key_valid(c->pub) ||
	    !net_key_valid(c->sec))
		return -EINVAL;
	if (zmq_setsockopt(s->zs, ZMQ_CURVE_SERVERKEY, c->server, NET_KEY_LEN) ||
	    zmq_setsockopt(s->zs, ZMQ_CURVE_PUBLICKEY, c->pub, NET_KEY_LEN) ||
	    zmq_setsockopt(s->zs, ZMQ_CURVE_SECRETKEY, c->sec, NET_KEY_LEN))
		return -errno;
	return 0;
}

static void net_fill_endpoint(net_sock *s, const char *fallback)
{
	size_t len = sizeof s->endpoint;

	if (zmq_getsockopt(s->zs, ZMQ_LAST_ENDPOINT, s->endpoint, &len) != 0 ||
	    !s->endpoint[0]) {
		strncpy(s->endpoint, fallback, sizeof s->endpoint - 1);
		s->endpoint[sizeof s->endpoint - 1] = '\0';
	}
}

int net_router_new(struct ev_loop *loop, const char *endpoint, int handover,
		   const net_curve *curve, net_recv_fn fn, void *arg,
		   net_sock **out)
{
	return net_router_new_ex(loop, endpoint, handover, 0, -1, 1, curve, fn, arg, out);
}

/* "tcp://HOST:PORT" with HOST an IPv4 literal or "*" and PORT a number or
 * "*" (0): its address. -EINVAL for anything else (a host or interface
 * name, IPv6, ipc://): ZeroMQ resolves those in its own bind. */
static int net_tcp4_addr(const char *ep, struct sockaddr_in *sa)
{
	const char *h, *colon;
	char host[INET_ADDRSTRLEN], *end;
	unsigned long port = 0;
	size_t hl;

	if (strncmp(ep, "tcp://", 6) != 0)
		return -EINVAL;
	h = ep + 6;
	colon = strrchr(h, ':');
	if (!colon || (hl = (size_t)(colon - h)) == 0 || hl >= sizeof host)
		return -EINVAL;
	if (strcmp(colon + 1, "*") != 0) {
		errno = 0;
		port = strtoul(colon + 1, &end, 10);
		if (!isdigit((unsigned char)colon[1]) || *end || errno || port > 65535)
			return -EINVAL;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	memset(sa, 0, sizeof *sa);
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (strcmp(host, "*") == 0)
		sa->sin_addr.s_addr = htonl(INADDR_ANY);
	else if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return -EINVAL;
	return 0;
}

/* Binds s on one listening socket of its own that `accepts` ZeroMQ
 * listeners share (ZMQ_USE_FD, each with its own descriptor of it): a
 * ZeroMQ listener accepts one connection per turn of its I/O thread, and
 * a turn of a busy thread (thousands of connections, their handshakes)
 * is milliseconds long; n listeners accept n a turn. Still one socket,
 * bound as ZeroMQ binds (SO_REUSEADDR, no SO_REUSEPORT): a second
 * process on the port fails, as before. Non-blocking: the listeners that
 * find the queue already emptied by the others get EAGAIN, which ZeroMQ
 * ignores. */
static int net_bind_shared(net_sock *s, const struct sockaddr_in *sa, int accepts,
			   int backlog)
{
	struct sockaddr_in got;
	socklen_t gl = sizeof got;
	char ip[INET_ADDRSTRLEN], ep[64];
	int fd, one = 1, none = -1, r = 0;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(fd, (const struct sockaddr *)sa, sizeof *sa) < 0 ||
	    listen(fd, backlog) < 0 ||
	    getsockname(fd, (struct sockaddr *)&got, &gl) < 0 ||
	    !inet_ntop(AF_INET, &got.sin_addr, ip, sizeof ip)) {
		r = -errno;
		close(fd);
		return r;
	}
	snprintf(ep, sizeof ep, "tcp://%s:%u", ip, (unsigned)ntohs(got.sin_port));
	/* the copies first, the socket itself last: on a failure, what
	 * ZeroMQ took is closed with s, the rest here */
	for (int i = 1; i <= accepts; i++) {
		int use = i < accepts ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : fd;

		if (use < 0 ||
		    zmq_setsockopt(s->zs, ZMQ_USE_FD, &use, sizeof use) != 0 ||
		    zmq_bind(s->zs, ep) != 0) {
			r = -errno;
			if (use >= 0 && use != fd)
				close(use);
			close(fd);
			break;
		}
	}
	zmq_setsockopt(s->zs, ZMQ_USE_FD, &none, sizeof none);
	return r;
}

int net_router_new_ex(struct ev_loop *loop, const char *endpoint, int handover,
		      int rcvhwm, int io_thread, int accepts, const net_curve *curve,
		      net_recv_fn fn, void *arg, net_sock **out)
{
	net_sock *s;
	struct sockaddr_in sa;
	int r, one = 1, backlog = NET_BACKLOG;

	if (io_thread >= 64 || accepts < 1 || accepts > NET_ACCEPTS_MAX)
		return -EINVAL;
	r = net_sock_new(loop, ZMQ_ROUTER, fn, arg, &s);
	if (r < 0)
		return r;
	/* before bind: each accepted connection's pipe takes the listener's
	 * options as they were at bind */
	if (rcvhwm > 0)
		zmq_setsockopt(s->zs, ZMQ_RCVHWM, &rcvhwm, sizeof rcvhwm);
	if (io_thread >= 0) {
		uint64_t mask = 1ull << io_thread;
		zmq_setsockopt(s->zs, ZMQ_AFFINITY, &mask, sizeof mask);
	}
	if ((r = net_set_curve(s, curve, 1)) < 0) {
		net_destroy(&s);
		return r;
	}
	/* a wave of connections (every agent after an rsd restart) waits in
	 * the listen queue while the I/O thread handshakes: ZeroMQ's 100
	 * overflows, and the kernel drops the SYNs past it, whose clients
	 * retry after 1, 3, 7, 15, 31 s (the kernel caps it at somaxconn) */
	zmq_setsockopt(s->zs, ZMQ_BACKLOG, &backlog, sizeof backlog);
	/* unroutable sends fail with EHOSTUNREACH instead of vanishing */
	zmq_setsockopt(s->zs, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
	if (handover)
		zmq_setsockopt(s->zs, ZMQ_ROUTER_HANDOVER, &one, sizeof one);
	if (accepts > 1 && net_tcp4_addr(endpoint, &sa) == 0)
		r = net_bind_shared(s, &sa, accepts, backlog);
	else
		r = zmq_bind(s->zs, endpoint) != 0 ? -errno : 0;
	if (r < 0) {
		net_destroy(&s);
		return r;
	}
	net_fill_endpoint(s, endpoint);
	*out = s;
	return 0;
}

int net_dealer_new(struct ev_loop *loop, const char *endpoint,
		   const char *identity, const net_curve *curve,
		   net_recv_fn fn, void *arg, net_sock **out)
{
	return net_dealer_new_mon(loop, endpoint, identity, curve, fn, arg,
				  NULL, NULL, out);
}

int net_dealer_new_mon(struct ev_loop *loop, const char *endpoint,
		       const char *identity, const net_curve *curve,
		       net_recv_fn fn, void *arg, net_event_fn ev_fn,
		       void *ev_arg, net_sock **out)
{
	net_sock *s;
	int r, ivl = 100, ivl_max = 1000, one = 1, maxrt = NET_DEAD_MS;

	r = net_sock_new(loop, ZMQ_DEALER, fn, arg, &s);
	if (r < 0)
		return r;
	if ((r = net_set_curve(s, curve, 0)) < 0) {
		net_destroy(&s);
		return r;
	}
	if (identity && identity[0])
		zmq_setsockopt(s->zs, ZMQ_ROUTING_ID, identity, strlen(identity));
	zmq_setsockopt(s->zs, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
	zmq_setsockopt(s->zs, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max);
	/* queue nothing for a peer that is not there (the caller replays) */
	zmq_setsockopt(s->zs, ZMQ_IMMEDIATE, &one, sizeof one);
	/* notice a dead peer even without a TCP reset: what we sent has had
	 * no TCP acknowledgement for NET_DEAD_MS (TCP_USER_TIMEOUT). The
	 * peer's kernel acknowledges while its process is busy, so busy is
	 * never dead; and it costs no message, where ZMTP's PING and PONG
	 * each second were a quarter of rsd's messages at 5,000 agents. A
	 * peer we send nothing to is not checked: an agent beats every
	 * second, and rsctl's calls are short. */
	zmq_setsockopt(s->zs, ZMQ_TCP_MAXRT, &maxrt, sizeof maxrt);
	/* monitored before it connects: a handshake done before the
	 * monitor was there would never be reported */
	if (ev_fn && (r = net_monitor(s, ev_fn, ev_arg)) < 0) {
		net_destroy(&s);
		return r;
	}
	if (zmq_connect(s->zs, endpoint) != 0) {
		r = -errno;
		net_destroy(&s);
		return r;
	}
	net_fill_endpoint(s, endpoint);
	*out = s;
	return 0;
}

/* Whether a DEALER whose send found no peer has one after all. The
 * handshake's monitor event comes after ZeroMQ's command that attaches
 * the new connection (ZMQ_IMMEDIATE: no pipe until then), but a send
 * takes the socket's commands at most once a millisecond: one that
 * failed just before (the agent's first Hello) left the next waiting.
 * ZMQ_EVENTS takes them all. Else the Hello sent on that event was
 * dropped, and the agent welcomed a knock (100 ms or more) later. */
static int net_send_ready(net_sock *s)
{
	int ev = 0;
	size_t len = sizeof ev;

	return zmq_getsockopt(s->zs, ZMQ_EVENTS, &ev, &len) == 0 && (ev & ZMQ_POLLOUT);
}

int net_send(net_sock *s, const net_peer *peer, const void *buf, size_t len)
{
	int r = 0;

	if (s->router) {
		if (!peer || zmq_send(s->zs, peer->id, peer->len,
				      ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
			r = peer ? -errno : -EINVAL;
	}
	if (r == 0 && zmq_send(s->zs, buf, len, ZMQ_DONTWAIT) < 0)
		r = -errno;
	if (r == -EAGAIN && !s->router && net_send_ready(s))
		r = zmq_send(s->zs, buf, len, ZMQ_DONTWAIT) < 0 ? -errno : 0;
	/* a send may take the edge of ZMQ_FD that says input waits: look
	 * once more (one receive per wake-up, not a ZMQ_EVENTS per send).
	 * Not when a batch was cut short: its idle reads on once the others
	 * had their turn, where a feed runs in this same pass of the loop (a
	 * second batch's 2 ms before the control socket's turn) */
	if (s->reading)
		s->sent_reading = 1;   /* net_io_cb looks at its end */
	else if (s->loop && !s->recheck && !ev_is_active(&s->more)) {
		s->recheck = 1;
		ev_feed_event(s->loop, &s->io, EV_READ);
	}
	return r;
}

const char *net_endpoint(const net_sock *s)
{
	return s->endpoint;
}

void net_destroy(net_sock **sp)
{
	net_sock *s = sp ? *sp : NULL;

	if (!s)
		return;
	if (s->loop) {
		ev_io_stop(s->loop, &s->io);
		ev_idle_stop(s->loop, &s->more);
		ev_timer_stop(s->loop, &s->gap);
	}
	if (s->mon) {
		ev_io_stop(s->loop, &s->mon_io);
		ev_idle_stop(s->loop, &s->mon_more);
		zmq_socket_monitor(s->zs, NULL, 0);
		zmq_close(s->mon);
	}
	zmq_close(s->zs);
	free(s);
	*sp = NULL;
}

/* Opens a PAIR socket that receives s->zs's monitor events (handshake
 * outcomes, disconnections). Returns it, or NULL. */
static void *net_monitor_open(net_sock *s)
{
	static unsigned long seq;
	char ep[64];
	void *mon;
	int linger = 0, hwm = 100000;

	snprintf(ep, sizeof ep, "inproc://rs-monitor-%lu-%p", ++seq, (void *)s);
	if (zmq_socket_monitor(s->zs, ep, ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
			       ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
			       ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
			       ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
			       ZMQ_EVENT_DISCONNECTED) != 0)
		return NULL;
	mon = zmq_socket(net_context(), ZMQ_PAIR);
	if (!mon)
		return NULL;
	zmq_setsockopt(mon, ZMQ_LINGER, &linger, sizeof linger);
	/* room for a reconnection storm's events while the loop is busy:
	 * past it, the socket's I/O thread blocks on its monitor send */
	zmq_setsockopt(mon, ZMQ_RCVHWM, &hwm, sizeof hwm);
	if (zmq_connect(mon, ep) != 0) {
		zmq_close(mon);
		return NULL;
	}
	return mon;
}

/* Reads one monitor event (two frames: 16-bit event + 32-bit value, then
 * the endpoint). Returns 1 with the event and value set, 0 if none waits. */
static int net_monitor_read(void *mon, net_event *ev, uint32_t *value)
{
	uint8_t head[6];
	uint16_t e;
	zmq_msg_t part;
	int n, more;
	size_t len = sizeof more;

	zmq_msg_init(&part);
	n = zmq_msg_recv(&part, mon, ZMQ_DONTWAIT);
	if (n < 0) {
		zmq_msg_close(&part);
		return 0;
	}
	if (n == (int)sizeof head)
		memcpy(head, zmq_msg_data(&part), sizeof head);
	else
		memset(head, 0, sizeof head);
	/* drop the endpoint frame */
	while (zmq_getsockopt(mon, ZMQ_RCVMORE, &more, &len) == 0 && more &&
	       zmq_msg_recv(&part, mon, ZMQ_DONTWAIT) >= 0)
		;
	zmq_msg_close(&part);
	memcpy(&e, head, sizeof e);
	memcpy(value, head + 2, sizeof *value);
	switch (e) {
	case ZMQ_EVENT_HANDSHAKE_SUCCEEDED: *ev = NET_EV_HANDSHAKE_OK; break;
	case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: *ev = NET_EV_HANDSHAKE_AUTH; break;
	case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL: *ev = NET_EV_HANDSHAKE_PROTOCOL; break;
	case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL: *ev = NET_EV_HANDSHAKE_OTHER; break;
	case ZMQ_EVENT_DISCONNECTED: *ev = NET_EV_DISCONNECTED; break;
	default: return net_monitor_read(mon, ev, value);
	}
	return 1;
}

static void net_mon_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	net_sock *s = w->data;
	net_event ev;
	uint32_t value;
	int n = 0;

	(void)revents;
	ev_idle_stop(loop, &s->mon_more);
	while (s->mon && n < NET_BATCH && net_monitor_read(s->mon, &ev, &value)) {
		n++;
		s->mon_fn(s, ev, value, s->mon_arg);
	}
	/* events left: ZMQ_FD will not say so again (it says that the
	 * queue changed, not that it holds something), so go on once the
	 * loop has polled. Left behind, the queue fills and ZeroMQ's I/O
	 * thread, whose monitor send blocks, stops: no accept, no message
	 * on the socket again (rsd at 5,000 reconnecting agents) */
	if (n == NET_BATCH)
		ev_idle_start(loop, &s->mon_more);
}

static void net_mon_more_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	net_sock *s = w->data;

	net_mon_cb(loop, &s->mon_io, revents);
}

void net_sock_poke(net_sock *s)
{
	if (!s->loop)
		return;
	ev_feed_event(s->loop, &s->io, EV_READ);
	if (s->mon)
		ev_feed_event(s->loop, &s->mon_io, EV_READ);
}

int net_monitor(net_sock *s, net_event_fn fn, void *arg)
{
	int fd;
	size_t len = sizeof fd;

	if (!s->loop || s->mon)
		return -EINVAL;
	s->mon = net_monitor_open(s);
	if (!s->mon)
		return errno ? -errno : -EIO;
	s->mon_fn = fn;
	s->mon_arg = arg;
	zmq_getsockopt(s->mon, ZMQ_FD, &fd, &len);
	ev_io_init(&s->mon_io, net_mon_cb, fd, EV_READ);
	s->mon_io.data = s;
	ev_idle_init(&s->mon_more, net_mon_more_cb);
	s->mon_more.data = s;
	ev_io_start(s->loop, &s->mon_io);
	ev_feed_event(s->loop, &s->mon_io, EV_READ);
	return 0;
}

/* ---- blocking calls (rsctl) ------------------------------------------ */

struct net_client {
	net_sock *s;          /* a DEALER, not on a loop */
	void     *mon;        /* its monitor's PAIR socket */
	int       up;         /* a handshake completed, no drop seen since */
	unsigned  handshakes;
};

/* What monitor event ev says of c's connection: a handshake (up), a
 * refusal (-EACCES), a drop. lost (may be NULL): a connection that was
 * up dropped, set here and cleared by the next handshake, which then
 * returns 1 (the caller resends or gives up). drops (may be NULL):
 * connections that dropped before a handshake, -EACCES at 3 (a server
 * that cannot read our HELLO: another key). Otherwise 0. */
static int net_client_event(net_client *c, net_event ev, int *lost, int *drops)
{
	if (ev == NET_EV_HANDSHAKE_OK) {
		c->handshakes++;
		c->up = 1;
		if (lost && *lost) {
			*lost = 0;
			return 1;
		}
	} else if (ev == NET_EV_HANDSHAKE_AUTH || ev == NET_EV_HANDSHAKE_PROTOCOL) {
		return -EACCES;
	} else if (ev == NET_EV_DISCONNECTED && c->up) {
		c->up = 0;
		if (lost)
			*lost = 1;
	} else if (ev == NET_EV_DISCONNECTED && drops && !(lost && *lost) &&
		   ++*drops >= 3) {
		return -EACCES;
	}
	return 0;
}

/* Reads the monitor events that wait, before a call sends: they tell
 * whether the connection is up (a drop since the last call: the request
 * waits in the pipe for the next connection, nothing to resend).
 * Returns 0, or -EACCES when a new handshake failed. */
static int net_client_catch_up(net_client *c)
{
	net_event ev;
	uint32_t value;
	int r;

	while (net_monitor_read(c->mon, &ev, &value))
		if ((r = net_client_event(c, ev, NULL, NULL)) < 0)
			return r;
	return 0;
}

/* Drops the replies that came after their call gave up. */
static void net_client_drop_late(net_client *c)
{
	zmq_msg_t msg;

	zmq_msg_init(&msg);
	while (zmq_msg_recv(&msg, c->s->zs, ZMQ_DONTWAIT) >= 0)
		;
	zmq_msg_close(&msg);
}

/* Takes the message that waits on c into *rep (malloc'ed). Returns 1, 0
 * when match refuses it (dropped), or -errno. */
static int net_client_take(net_client *c, net_match_fn match, void *arg,
			   uint8_t **rep, size_t *replen)
{
	zmq_msg_t msg;
	size_t n;
	int r = 1;

	zmq_msg_init(&msg);
	if (zmq_msg_recv(&msg, c->s->zs, ZMQ_DONTWAIT) < 0) {
		r = errno == EAGAIN ? 0 : -errno;
		zmq_msg_close(&msg);
		return r;
	}
	n = zmq_msg_size(&msg);
	if (match && !match(zmq_msg_data(&msg), n, arg)) {
		r = 0;
	} else if (!(*rep = malloc(n ? n : 1))) {
		r = -ENOMEM;
	} else {
		memcpy(*rep, zmq_msg_data(&msg), n);
		*replen = n;
	}
	zmq_msg_close(&msg);
	return r;
}

/* Waits for the reply to req on c, watching the handshake through its
 * monitor: -EACCES as soon as it fails, or when the connection keeps
 * dropping before it completes (a server that cannot read our HELLO:
 * another key). With NET_CALL_RESEND, a request whose connection dropped
 * after its handshake (the server restarted) is sent again on the next
 * connection; with NET_CALL_RECONNECT the next connection's handshake
 * ends the wait (-ECONNRESET). A connection already up before the call
 * counts as its handshake. */
static int net_call_wait(net_client *c, int timeout_ms, int flags,
			 const void *req, size_t len, net_match_fn match,
			 void *arg, uint8_t **rep, size_t *replen)
{
	zmq_pollitem_t pi[2];
	int64_t deadline = timeout_ms < 0 ? -1 : net_now_ms() + timeout_ms;
	int r, drops = 0, lost = 0;

	for (;;) {
		int64_t left = deadline < 0 ? -1 : deadline - net_now_ms();
		net_event ev;
		uint32_t value;

		if (deadline >= 0 && left <= 0)
			return -ETIMEDOUT;
		pi[0] = (zmq_pollitem_t){ .socket = c->s->zs, .events = ZMQ_POLLIN };
		pi[1] = (zmq_pollitem_t){ .socket = c->mon, .events = ZMQ_POLLIN };
		r = zmq_poll(pi, 2, (long)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		/* a reply that match refuses is dropped: poll again */
		if ((pi[0].revents & ZMQ_POLLIN) &&
		    (r = net_client_take(c, match, arg, rep, replen)) != 0)
			return r < 0 ? r : 0;
		while (net_monitor_read(c->mon, &ev, &value)) {
			r = net_client_event(c, ev, &lost, &drops);
			if (r < 0)
				return r;
			if (r == 1 && (flags & NET_CALL_RECONNECT))
				return -ECONNRESET;
			if (r == 1 && (flags & NET_CALL_RESEND) &&
			    zmq_send(c->s->zs, req, len, ZMQ_DONTWAIT) < 0)
				return -errno;
		}
	}
}

int net_client_new(const char *endpoint, const net_curve *curve,
		   net_client **out)
{
	net_client *c = calloc(1, sizeof *c);
	int r, ivl = 100;

	*out = NULL;
	if (!c)
		return -ENOMEM;
	if ((r = net_sock_new(NULL, ZMQ_DEALER, NULL, NULL, &c->s)) < 0) {
		free(c);
		return r;
	}
	zmq_setsockopt(c->s->zs, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
	if ((r = net_set_curve(c->s, curve, 0)) < 0)
		goto fail;
	if (!(c->mon = net_monitor_open(c->s))) {
		r = errno ? -errno : -EIO;
		goto fail;
	}
	if (zmq_connect(c->s->zs, endpoint) != 0) {
		r = -errno;
		goto fail;
	}
	*out = c;
	return 0;
fail:
	net_client_destroy(&c);
	return r;
}

int net_client_call(net_client *c, const void *req, size_t len, int timeout_ms,
		    int flags, net_match_fn match, void *arg, uint8_t **rep,
		    size_t *replen)
{
	int r;

	*rep = NULL;
	*replen = 0;
	net_client_drop_late(c);
	if ((r = net_client_catch_up(c)) < 0)
		return r;
	if (zmq_send(c->s->zs, req, len, 0) < 0)
		return -errno;
	return net_call_wait(c, timeout_ms, flags, req, len, match, arg, rep, replen);
}

unsigned net_client_handshakes(const net_client *c)
{
	return c->handshakes;
}

void net_client_destroy(net_client **cp)
{
	net_client *c = cp ? *cp : NULL;

	if (!c)
		return;
	if (c->mon) {
		zmq_socket_monitor(c->s->zs, NULL, 0);
		zmq_close(c->mon);
	}
	net_destroy(&c->s);
	free(c);
	*cp = NULL;
}

int net_call(const char *endpoint, const net_curve *curve, const void *req,
	     size_t len, int timeout_ms, uint8_t **rep, size_t *replen)
{
	return net_call_ex(endpoint, curve, req, len, timeout_ms, 0, rep, replen);
}

int net_call_ex(const char *endpoint, const net_curve *curve, const void *req,
		size_t len, int timeout_ms, int flags, uint8_t **rep,
		size_t *replen)
{
	net_client *c;
	int r;

	*rep = NULL;
	*replen = 0;
	if ((r = net_client_new(endpoint, curve, &c)) < 0)
		return r;
	r = net_client_call(c, req, len, timeout_ms, flags, NULL, NULL, rep, replen);
	net_client_destroy(&c);
	return r;
}

/* ---- CURVE keys -------------------------------------------------------- */

int net_curve_available(void)
{
	return zmq_has("curve");
}

int net_keypair(char pub[NET_KEY_LEN + 1], char sec[NET_KEY_LEN + 1])
{
	if (zmq_curve_keypair(pub, sec) != 0)
		return errno ? -errno : -EIO;
	return 0;
}

int net_key_valid(const char *s)
{
	uint8_t bin[32];

	return s && strlen(s) == NET_KEY_LEN && zmq_z85_decode(bin, s) != NULL;
}

int net_public_of(const char *sec, char pub[NET_KEY_LEN + 1])
{
	if (!net_key_valid(sec) || zmq_curve_public(pub, sec) != 0)
		return -EINVAL;
	return 0;
}

/* ---- the ZAP handler (RFC 27) ------------------------------------------ */

#define ZAP_FRAMES 8

/* Copies frame i of a ZAP request as a string (NUL-terminated, cut). */
static void zap_str(zmq_msg_t *f, char *out, size_t n)
{
	size_t len = zmq_msg_size(f);

	if (len >= n)
		len = n - 1;
	memcpy(out, zmq_msg_data(f), len);
	out[len] = '\0';
}

/* Answers one ZAP request (RFC 27: version, request id, domain, address,
 * identity, mechanism, credentials... -> version, request id, status
 * code, status text, user id, metadata). A malformed request is refused. */
static int net_zap_one(net_sock *s)
{
	zmq_msg_t f[ZAP_FRAMES];
	int nf = 0, more = 1, code = 400;
	size_t len = sizeof more;
	char version[8], domain[64], address[128], mech[16], user[NET_USER_MAX];
	char codes[4];
	net_zap_req rq;

	while (more && nf < ZAP_FRAMES) {
		zmq_msg_init(&f[nf]);
		if (zmq_msg_recv(&f[nf], s->zs, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&f[nf]);
			if (nf == 0)
				return 0;
			break;
		}
		nf++;
		if (zmq_getsockopt(s->zs, ZMQ_RCVMORE, &more, &len) != 0)
			more = 0;
	}
	while (more) {   /* more frames than any mechanism sends: drain */
		zmq_msg_t x;
		zmq_msg_init(&x);
		if (zmq_msg_recv(&x, s->zs, ZMQ_DONTWAIT) < 0 ||
		    zmq_getsockopt(s->zs, ZMQ_RCVMORE, &more, &len) != 0)
			more = 0;
		zmq_msg_close(&x);
	}
	user[0] = '\0';
	memset(&rq, 0, sizeof rq);
	if (nf >= 6) {
		zap_str(&f[0], version, sizeof version);
		zap_str(&f[2], domain, sizeof domain);
		zap_str(&f[3], address, sizeof address);
		zap_str(&f[5], mech, sizeof mech);
		rq.domain = domain;
		rq.address = address;
		rq.mechanism = mech;
		if (strcmp(mech, "CURVE") == 0 && nf == 7 &&
		    zmq_msg_size(&f[6]) == 32)
			zmq_z85_encode(rq.key, zmq_msg_data(&f[6]), 32);
		if (strcmp(version, "1.0") == 0)
			code = s->zap_fn(&rq, user, sizeof user, s->arg);
	}
	if (code != 200)
		user[0] = '\0';
	snprintf(codes, sizeof codes, "%d", code == 200 ? 200 : 400);
	zmq_send(s->zs, "1.0", 3, ZMQ_SNDMORE);
	if (nf >= 2)
		zmq_send(s->zs, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]), ZMQ_SNDMORE);
	else
		zmq_send(s->zs, "", 0, ZMQ_SNDMORE);
	zmq_send(s->zs, codes, 3, ZMQ_SNDMORE);
	zmq_send(s->zs, code == 200 ? "OK" : "refused", code == 200 ? 2 : 7,
		 ZMQ_SNDMORE);
	zmq_send(s->zs, user, strlen(user), ZMQ_SNDMORE);
	zmq_send(s->zs, "", 0, 0);
	for (int i = 0; i < nf; i++)
		zmq_msg_close(&f[i]);
	return 1;
}

int net_zap_start(struct ev_loop *loop, net_zap_fn fn, void *arg,
		  net_sock **out)
{
	net_sock *s;
	int r;

	r = net_sock_new(loop, ZMQ_REP, NULL, arg, &s);
	if (r < 0)
		return r;
	s->zap = 1;
	s->zap_fn = fn;
	if (zmq_bind(s->zs, "inproc://zeromq.zap.01") != 0) {
		r = -errno;
		net_destroy(&s);
		return r;
	}
	net_fill_endpoint(s, "inproc://zeromq.zap.01");
	*out = s;
	return 0;
}
