/*
 * net.c - ZeroMQ ROUTER/DEALER sockets on a libev loop.
 *
 * ZMQ_FD is edge-triggered: it signals "something changed", not "readable".
 * So the read callback drains until ZMQ_EVENTS has no POLLIN, and every send
 * re-checks ZMQ_EVENTS and feeds a read event if input is pending, because a
 * send can consume the edge that announced it.
 */
#include "net.h"

#include <errno.h>
#include <ev.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define NET_BATCH 256   /* messages handled per wake-up before yielding */

struct net_sock {
	void           *zs;
	struct ev_loop *loop;
	ev_io           io;
	int             router;
	net_recv_fn     fn;
	void           *arg;
	char            endpoint[256];
};

static void *net_ctx;

/* The process-wide context, made on first use. */
static void *net_context(void)
{
	if (!net_ctx)
		net_ctx = zmq_ctx_new();
	return net_ctx;
}

void net_shutdown(void)
{
	if (net_ctx) {
		zmq_ctx_term(net_ctx);
		net_ctx = NULL;
	}
}

static int net_has_input(net_sock *s)
{
	int ev = 0;
	size_t len = sizeof ev;

	if (zmq_getsockopt(s->zs, ZMQ_EVENTS, &ev, &len) != 0)
		return 0;
	return ev & ZMQ_POLLIN;
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
			got_payload = 1;
			s->fn(s, s->router ? &peer : NULL, zmq_msg_data(&part),
			      zmq_msg_size(&part), s->arg);
		}
		if (!more)
			break;
	}
	zmq_msg_close(&part);
	return 1;
}

static void net_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	net_sock *s = w->data;

	for (int i = 0; i < NET_BATCH; i++) {
		if (!net_has_input(s))
			return;
		if (!net_recv_one(s))
			return;
	}
	/* more pending: come back after other watchers had their turn */
	ev_feed_event(loop, &s->io, EV_READ);
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
	s->fn = fn;
	s->arg = arg;
	s->router = type == ZMQ_ROUTER;
	if (loop) {
		zmq_getsockopt(s->zs, ZMQ_FD, &fd, &len);
		ev_io_init(&s->io, net_io_cb, fd, EV_READ);
		s->io.data = s;
		ev_io_start(loop, &s->io);
	}
	*out = s;
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
		   net_recv_fn fn, void *arg, net_sock **out)
{
	net_sock *s;
	int r, one = 1;

	r = net_sock_new(loop, ZMQ_ROUTER, fn, arg, &s);
	if (r < 0)
		return r;
	/* unroutable sends fail with EHOSTUNREACH instead of vanishing */
	zmq_setsockopt(s->zs, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
	if (handover)
		zmq_setsockopt(s->zs, ZMQ_ROUTER_HANDOVER, &one, sizeof one);
	if (zmq_bind(s->zs, endpoint) != 0) {
		r = -errno;
		net_destroy(&s);
		return r;
	}
	net_fill_endpoint(s, endpoint);
	*out = s;
	return 0;
}

int net_dealer_new(struct ev_loop *loop, const char *endpoint,
		   const char *identity, net_recv_fn fn, void *arg,
		   net_sock **out)
{
	net_sock *s;
	int r, ivl = 100, ivl_max = 1000, one = 1, hb = 1000, hb_to = 3000;

	r = net_sock_new(loop, ZMQ_DEALER, fn, arg, &s);
	if (r < 0)
		return r;
	if (identity && identity[0])
		zmq_setsockopt(s->zs, ZMQ_ROUTING_ID, identity, strlen(identity));
	zmq_setsockopt(s->zs, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
	zmq_setsockopt(s->zs, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max);
	/* queue nothing for a peer that is not there (the caller replays),
	 * and notice a dead peer within hb_to even without a TCP reset */
	zmq_setsockopt(s->zs, ZMQ_IMMEDIATE, &one, sizeof one);
	zmq_setsockopt(s->zs, ZMQ_HEARTBEAT_IVL, &hb, sizeof hb);
	zmq_setsockopt(s->zs, ZMQ_HEARTBEAT_TIMEOUT, &hb_to, sizeof hb_to);
	if (zmq_connect(s->zs, endpoint) != 0) {
		r = -errno;
		net_destroy(&s);
		return r;
	}
	net_fill_endpoint(s, endpoint);
	*out = s;
	return 0;
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
	if (s->loop && net_has_input(s))
		ev_feed_event(s->loop, &s->io, EV_READ);
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
	if (s->loop)
		ev_io_stop(s->loop, &s->io);
	zmq_close(s->zs);
	free(s);
	*sp = NULL;
}

int net_call(const char *endpoint, const void *req, size_t len,
	     int timeout_ms, uint8_t **rep, size_t *replen)
{
	net_sock *s;
	zmq_pollitem_t pi;
	zmq_msg_t msg;
	int r;

	*rep = NULL;
	*replen = 0;
	r = net_sock_new(NULL, ZMQ_DEALER, NULL, NULL, &s);
	if (r < 0)
		return r;
	if (zmq_connect(s->zs, endpoint) != 0) {
		r = -errno;
		goto out;
	}
	if (zmq_send(s->zs, req, len, 0) < 0) {
		r = -errno;
		goto out;
	}
	pi.socket = s->zs;
	pi.fd = 0;
	pi.events = ZMQ_POLLIN;
	pi.revents = 0;
	do
		r = zmq_poll(&pi, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		r = -errno;
		goto out;
	}
	if (r == 0) {
		r = -ETIMEDOUT;
		goto out;
	}
	zmq_msg_init(&msg);
	if (zmq_msg_recv(&msg, s->zs, ZMQ_DONTWAIT) < 0) {
		r = -errno;
		zmq_msg_close(&msg);
		goto out;
	}
	*replen = zmq_msg_size(&msg);
	*rep = malloc(*replen ? *replen : 1);
	if (!*rep) {
		r = -ENOMEM;
		*replen = 0;
	} else {
		memcpy(*rep, zmq_msg_data(&msg), *replen);
		r = 0;
	}
	zmq_msg_close(&msg);
out:
	net_destroy(&s);
	return r;
}
