/* Unit tests of lib/net.c: real ZeroMQ sockets on loopback ports the OS
 * picks, driven by a real libev loop. */
#include <criterion/criterion.h>
#include <errno.h>
#include <ev.h>
#include <stdlib.h>
#include <string.h>

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
