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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ev_loop;
typedef struct net_sock net_sock;

#define NET_PEER_MAX 255

#define NET_KEY_LEN  40    /* a CURVE key as Z85 text (32 bytes) */
#define NET_USER_MAX 128   /* the ZAP user id of an authenticated peer */
#define NET_BACKLOG  4096  /* a router's listen queue (the kernel caps it at somaxconn) */
#define NET_ACCEPTS_MAX 64 /* net_router_new_ex: listeners on one socket at most */
#define NET_DEAD_MS  3000  /* a dealer's peer is gone: what it sent unacknowledged this long */

/* A ROUTER peer's routing id, and who the ZAP handler said it is (the
 * User-Id of its connection; "" on a plaintext socket). */
typedef struct net_peer {
	uint8_t id[NET_PEER_MAX];
	size_t  len;
	char    user[NET_USER_MAX];
} net_peer;

/* CURVE keys of one side of a connection, Z85 text. A server fills sec
 * (its secret key) and domain (the ZAP domain its handler sees); a client
 * fills all three keys: server is the server's public key it pins. */
typedef struct net_curve {
	char server[NET_KEY_LEN + 1];
	char pub[NET_KEY_LEN + 1];
	char sec[NET_KEY_LEN + 1];
	char domain[32];
} net_curve;

/* Called for each received message. peer is NULL on a DEALER. The buffer
 * is borrowed for the call. Frames over the socket's max size are dropped
 * by ZeroMQ (ZMQ_MAXMSGSIZE) and the peer disconnected. */
typedef void (*net_recv_fn)(net_sock *s, const net_peer *peer,
			    const uint8_t *buf, size_t len, void *arg);

/* ROUTER bound to endpoint (e.g. "tcp://127.0.0.1:*"). handover: a peer
 * reconnecting with the same routing id takes over its old pipe. curve:
 * NULL for plaintext, else a CURVE server whose peers a ZAP handler
 * (net_zap_start, started before) admits. */
int net_router_new(struct ev_loop *loop, const char *endpoint, int handover,
		   const net_curve *curve, net_recv_fn fn, void *arg,
		   net_sock **out);
/* The same with rcvhwm messages at most queued per peer (ZMQ_RCVHWM: a
 * ROUTER's is per connection; 0: 100,000): past it ZeroMQ stops reading
 * that connection, so the peer's own queue (and then its sends, -EAGAIN)
 * waits instead of this process's memory growing. io_thread >= 0: its
 * connections are served by that ZeroMQ I/O thread only (ZMQ_AFFINITY;
 * net_configure sets how many there are), so another socket's traffic
 * (thousands of handshakes) never queues in front of its own; -1: any.
 * accepts (1..NET_ACCEPTS_MAX): connections accepted per turn of that
 * thread at most (ZeroMQ's listener takes one a turn; a wave of thousands
 * of reconnecting peers waits in the listen queue behind the turns). For
 * an IPv4 address or "*" as the host, one listening socket that many
 * listeners share; an endpoint ZeroMQ resolves itself (an interface
 * name, IPv6) takes one a turn. */
int net_router_new_ex(struct ev_loop *loop, const char *endpoint, int handover,
		      int rcvhwm, int io_thread, int accepts, const net_curve *curve,
		      net_recv_fn fn, void *arg, net_sock **out);
/* DEALER connected to endpoint with routing id `identity` (NULL = random);
 * curve: NULL for plaintext, else a CURVE client. */
int net_dealer_new(struct ev_loop *loop, const char *endpoint,
		   const char *identity, const net_curve *curve,
		   net_recv_fn fn, void *arg, net_sock **out);
/* Called when a wake-up's messages have all been handed to the socket's
 * net_recv_fn (at most a batch: more come at the next turn of the loop),
 * before the loop does anything else: where a receiver groups the work of
 * many messages (one store commit for them). */
typedef void (*net_batch_fn)(net_sock *s, void *arg);
void net_sock_on_batch_end(net_sock *s, net_batch_fn fn);
/* From s's net_recv_fn: this wake-up reads no more after the message at
 * hand (the receiver's own work for it, e.g. rows it writes at the batch
 * end, used the budget up); the rest come at a later turn of the loop,
 * after the other ready watchers, as when NET_BATCH_MS is up. */
void net_sock_yield(net_sock *s);
/* Whether a message waits on s now (ZeroMQ's ZMQ_EVENTS, which takes the
 * socket's pending commands: a first message after a quiet spell too).
 * That took the edge its loop watcher waits for, so when one waits the
 * watcher is fed: s reads it at the loop's next look. For a receiver of
 * another socket that would yield to s (net_sock_yield). */
bool net_sock_waiting(net_sock *s);
/* The socket's turn among the loop's ready watchers (libev's priority,
 * EV_MINPRI..EV_MAXPRI, 0 by default): a higher one is served first. */
void net_sock_set_priority(net_sock *s, int pri);
/* After a wake-up that read messages, the next read waits this long
 * (0, the default: reads as messages come). For a socket that thousands
 * of peers talk to a message at a time: each wake-up costs both ZeroMQ
 * threads a signal and rsd's loop a turn, so a gap of a few ms reads
 * tens of messages for the cost of one (and groups their commit).
 * Latency grows by at most the gap; a batch cut short (NET_BATCH) goes
 * on at once. */
void net_sock_set_gap(net_sock *s, double seconds);
/* Reads s (and its monitor) on the loop's next turn whether or not
 * ZMQ_FD said something waits: a safety net against a missed edge,
 * which would leave s unread for good (rsd's period pokes its sockets). */
void net_sock_poke(net_sock *s);
/* The time (CLOCK_MONOTONIC ms) up to which everything sent to s has
 * been read: now_ms while the loop keeps up (the last wake-up read until
 * nothing was left, and nothing waits now), else when the last wake-up
 * that read everything began. Silence measured past it may be our own
 * backlog, not the peer's. */
int64_t net_sock_heard_until(net_sock *s, int64_t now_ms);
/* Sends one message (to peer on a ROUTER). Never blocks: -EAGAIN when the
 * peer's queue is full, -EHOSTUNREACH when the peer is gone. */
int net_send(net_sock *s, const net_peer *peer, const void *buf, size_t len);
/* The endpoint actually bound/connected (with the OS-chosen port). */
const char *net_endpoint(const net_sock *s);
/* Closes and NULLs *s. Accepts NULL. */
void net_destroy(net_sock **s);
/* Terminates the shared context (call last, after every net_destroy). */
void net_shutdown(void);
/* Sets the scheduling nice value of the shared context's I/O thread
 * number index (the one a socket made with that io_thread uses), so that
 * bulk work there (a wave of CURVE handshakes) yields the CPU to the
 * rest of the process. Linux (/proc/self/task); call once a socket
 * exists. 0, -ESRCH (no such thread), or -errno of setpriority. */
int net_io_thread_nice(unsigned index, int nice);
/* The kernel's thread id of that I/O thread, or -ESRCH. */
int net_io_thread_tid(unsigned index);
/* Sizes the shared context before its first use: ZeroMQ I/O threads and
 * the most sockets it may hold (0: libzmq's defaults, 1 thread and 1023
 * sockets). For a process with thousands of sockets (bench/loadgen.c).
 * 0, -EBUSY (the context exists already), -EINVAL. */
int net_configure(int io_threads, int max_sockets);

/* Blocking request/reply for rsctl: connects a DEALER to endpoint (curve:
 * NULL = plaintext), sends req, waits up to timeout_ms (<0 = forever) for
 * one reply. On success *rep is malloc'ed (caller frees). -ETIMEDOUT,
 * -ECONNREFUSED, -EACCES (the secure handshake failed: the server refused
 * our key, or does not hold the key we pin, or speaks no CURVE), -errno. */
int net_call(const char *endpoint, const net_curve *curve, const void *req,
	     size_t len, int timeout_ms, uint8_t **rep, size_t *replen);
/* net_call with flags. NET_CALL_RESEND: the request is idempotent; if the
 * connection drops after its handshake (the server restarted), send it
 * again once connected again, within the same timeout. */
#define NET_CALL_RESEND 1
/* NET_CALL_RECONNECT: if the connection drops after its handshake and a
 * new one completes, return -ECONNRESET at once: the caller decides
 * whether to send the request again (a request that changes something). */
#define NET_CALL_RECONNECT 2
int net_call_ex(const char *endpoint, const net_curve *curve, const void *req,
		size_t len, int timeout_ms, int flags, uint8_t **rep,
		size_t *replen);

/* Blocking calls one after the other on one connection (one handshake for
 * all of them: rsctl's pages). net_call_ex is a client for one call. */
typedef struct net_client net_client;
/* Connects a DEALER to endpoint (curve: NULL = plaintext); the handshake
 * runs while the first call waits. 0 or -errno; *out is the caller's
 * (net_client_destroy). */
int net_client_new(const char *endpoint, const net_curve *curve,
		   net_client **out);
/* Whether rep is the reply a call waits for (e.g. it names the request's
 * id). One that is not, a late answer to an earlier call, is dropped. */
typedef int (*net_match_fn)(const uint8_t *rep, size_t len, void *arg);
/* One call on c, as net_call_ex (flags, errors, *rep malloc'ed): the
 * connection may drop and come back between calls or during one; flags
 * decide, per call, what happens to a request whose connection dropped
 * after it was sent. match: NULL takes the first reply. A reply that came
 * after its call gave up is dropped. */
int net_client_call(net_client *c, const void *req, size_t len, int timeout_ms,
		    int flags, net_match_fn match, void *arg, uint8_t **rep,
		    size_t *replen);
/* The handshakes c's connection has completed so far (1 while it never
 * dropped). */
unsigned net_client_handshakes(const net_client *c);
/* Closes c and NULLs *cp. Accepts NULL and *cp == NULL. */
void net_client_destroy(net_client **cp);

/* ---- CURVE keys and the ZAP handler (RFC 26, RFC 27) ------------------ */

/* Whether this libzmq can do CURVE (built with libsodium). */
int net_curve_available(void);
/* A new key pair, Z85 text. 0 or -errno. */
int net_keypair(char pub[NET_KEY_LEN + 1], char sec[NET_KEY_LEN + 1]);
/* The public key of a secret key. 0, or -EINVAL if sec is not Z85. */
int net_public_of(const char *sec, char pub[NET_KEY_LEN + 1]);
/* Whether s is a well-formed Z85 key (40 characters of the alphabet). */
int net_key_valid(const char *s);

/* One ZAP request: the socket's domain, the peer's address, the mechanism
 * ("NULL", "PLAIN", "CURVE") and, for CURVE, its public key (Z85). */
typedef struct net_zap_req {
	const char *domain;
	const char *address;
	const char *mechanism;
	char        key[NET_KEY_LEN + 1];
} net_zap_req;

/* Decides one ZAP request: returns 200 (admit; user gets the user id the
 * messages of that connection carry in net_peer.user) or 400 (refuse). */
typedef int (*net_zap_fn)(const net_zap_req *rq, char *user, size_t usersz,
			  void *arg);

/* Serves ZAP on the process's context from loop. Start it before any
 * CURVE server socket, so that no handshake finds no handler. */
int net_zap_start(struct ev_loop *loop, net_zap_fn fn, void *arg,
		  net_sock **out);

/* What a socket monitor reports (net_monitor). */
typedef enum net_event {
	NET_EV_HANDSHAKE_OK = 1,
	NET_EV_HANDSHAKE_AUTH,      /* the ZAP handler refused (value: status) */
	NET_EV_HANDSHAKE_PROTOCOL,  /* bad or mismatched security (value: code) */
	NET_EV_HANDSHAKE_OTHER,     /* a system error during the handshake */
	NET_EV_DISCONNECTED,
} net_event;

typedef void (*net_event_fn)(net_sock *s, net_event ev, uint32_t value,
			     void *arg);
/* Reports s's handshake outcomes and disconnections to fn (s must be on
 * a loop). 0 or -errno. */
int net_monitor(net_sock *s, net_event_fn fn, void *arg);
/* net_dealer_new whose handshakes and disconnections go to ev_fn (as
 * net_monitor's) from before it connects: net_monitor on a socket that
 * has connected may miss its first handshake. */
int net_dealer_new_mon(struct ev_loop *loop, const char *endpoint,
		       const char *identity, const net_curve *curve,
		       net_recv_fn fn, void *arg, net_event_fn ev_fn,
		       void *ev_arg, net_sock **out);

#endif
