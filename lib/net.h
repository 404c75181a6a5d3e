/*
 * net.h - ZeroMQ sockets driven by a libev loop, and a blocking call for
 * the CLI.
 *
 * Owns: the only use of libzmq in rs (one process-wide context), the
 * ZMQ_FD edge-trigger glue, message size limits on receive.
 * Must not: know message contents (bytes in, bytes out).
 */
#ifndef RS_NET_H
#define RS_NET_H

#include <stddef.h>
#include <stdint.h>

struct ev_loop;
typedef struct net_sock net_sock;

#define NET_PEER_MAX 255

/* A ROUTER peer's routing id. */
typedef struct net_peer {
	uint8_t id[NET_PEER_MAX];
	size_t  len;
} net_peer;

/* Called for each received message. peer is NULL on a DEALER. The buffer
 * is borrowed for the call. Frames over the socket's max size are dropped
 * by ZeroMQ (ZMQ_MAXMSGSIZE) and the peer disconnected. */
typedef void (*net_recv_fn)(net_sock *s, const net_peer *peer,
			    const uint8_t *buf, size_t len, void *arg);

/* ROUTER bound to endpoint (e.g. "tcp://127.0.0.1:*"). handover: a peer
 * reconnecting with the same routing id takes over its old pipe. */
int net_router_new(struct ev_loop *loop, const char *endpoint, int handover,
		   net_recv_fn fn, void *arg, net_sock **out);
/* DEALER connected to endpoint with routing id `identity` (NULL = random). */
int net_dealer_new(struct ev_loop *loop, const char *endpoint,
		   const char *identity, net_recv_fn fn, void *arg,
		   net_sock **out);
/* Sends one message (to peer on a ROUTER). Never blocks: -EAGAIN when the
 * peer's queue is full, -EHOSTUNREACH when the peer is gone. */
int net_send(net_sock *s, const net_peer *peer, const void *buf, size_t len);
/* The endpoint actually bound/connected (with the OS-chosen port). */
const char *net_endpoint(const net_sock *s);
/* Closes and NULLs *s. Accepts NULL. */
void net_destroy(net_sock **s);
/* Terminates the shared context (call last, after every net_destroy). */
void net_shutdown(void);

/* Blocking request/reply for rsctl: connects a DEALER to endpoint, sends
 * req, waits up to timeout_ms (<0 = forever) for one reply. On success
 * *rep is malloc'ed (caller frees). -ETIMEDOUT, -ECONNREFUSED, -errno. */
int net_call(const char *endpoint, const void *req, size_t len,
	     int timeout_ms, uint8_t **rep, size_t *replen);

#endif
