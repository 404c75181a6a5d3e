/*
 * orders.c - numbered, acknowledged, resent orders (see orders.h).
 */
#include "orders.h"

#include <errno.h>
#include <stdlib.h>

uint64_t orders_out_next(orders_out *o)
{
	return o->last + 1;
}

int orders_out_push(orders_out *o, uint64_t seq, uint8_t *buf, size_t len,
		    uint64_t now_ms)
{
	return orders_out_push_key(o, seq, 0, buf, len, now_ms);
}

bool orders_out_has(const orders_out *o, uint64_t key)
{
	for (size_t i = 0; i < o->n; i++)
		if (o->ring[(o->head + i) % o->cap].key == key)
			return true;
	return false;
}

/* Doubles the ring (16 at first), the kept orders first, in order. */
static int grow(orders_out *o)
{
	size_t cap = o->cap ? o->cap * 2 : 16;
	orders_item *r;

	if (cap > ORDERS_MAX)
		cap = ORDERS_MAX;
	r = calloc(cap, sizeof *r);
	if (!r)
		return -ENOMEM;
	for (size_t i = 0; i < o->n; i++)
		r[i] = o->ring[(o->head + i) % o->cap];
	free(o->ring);
	o->ring = r;
	o->cap = cap;
	o->head = 0;
	return 0;
}

const orders_item *orders_out_at(const orders_out *o, size_t i)
{
	return i < o->n ? &o->ring[(o->head + i) % o->cap] : NULL;
}

int orders_out_push_key(orders_out *o, uint64_t seq, uint64_t key, uint8_t *buf,
			size_t len, uint64_t now_ms)
{
	orders_item *it;

	if (seq != o->last + 1) {
		free(buf);
		return -EINVAL;
	}
	if (o->n == ORDERS_MAX) {
		free(buf);
		return -ENOBUFS;
	}
	if (o->n == o->cap && grow(o) < 0) {
		free(buf);
		return -ENOMEM;
	}
	it = &o->ring[(o->head + o->n) % o->cap];
	it->seq = seq;
	it->key = key;
	it->sent_ms = now_ms;
	it->buf = buf;
	it->len = len;
	o->n++;
	o->last = seq;
	return 0;
}

int orders_out_ack(orders_out *o, uint64_t ack)
{
	if (ack > o->last)
		return -EINVAL;
	if (ack > o->acked)
		o->acked = ack;
	if (o->n && o->ring[o->head].seq <= o->acked)
		o->tries = 0;   /* it goes on: the next resend waits resend_ms */
	while (o->n && o->ring[o->head].seq <= o->acked) {
		free(o->ring[o->head].buf);
		o->ring[o->head].buf = NULL;
		o->head = (o->head + 1) % o->cap;
		o->n--;
	}
	if (!o->n && o->cap > 64) {   /* a burst is over: give it back */
		free(o->ring);
		o->ring = NULL;
		o->cap = o->head = 0;
	}
	return 0;
}

size_t orders_out_due(orders_out *o, uint64_t now_ms, uint64_t resend_ms,
		      void (*send)(const uint8_t *buf, size_t len, void *arg),
		      void *arg)
{
	uint64_t wait, sent;

	if (!o->n)
		return 0;
	wait = resend_ms << (o->tries < ORDERS_BACKOFF_MAX ? o->tries : ORDERS_BACKOFF_MAX);
	sent = o->ring[o->head].sent_ms;
	if (now_ms < sent || now_ms - sent < wait)
		return 0;
	for (size_t i = 0; i < o->n; i++) {
		orders_item *it = &o->ring[(o->head + i) % o->cap];

		send(it->buf, it->len, arg);
		if (now_ms > it->sent_ms)
			it->sent_ms = now_ms;
	}
	if (resend_ms && o->tries < ORDERS_BACKOFF_MAX)
		o->tries++;
	o->resent += o->n;
	return o->n;
}

void orders_out_void(orders_out *o)
{
	orders_out_ack(o, o->last);
}

size_t orders_out_pending(const orders_out *o)
{
	return o->n;
}

void orders_out_free(orders_out *o)
{
	orders_out_void(o);
	free(o->ring);
	o->ring = NULL;
	o->head = 0;
	o->cap = 0;
}

bool orders_in_welcome(orders_in *in, uint64_t epoch, uint64_t base,
		       uint64_t now_ms)
{
	if (epoch && epoch < in->epoch && now_ms - in->heard_ms < in->grace_ms)
		return false;
	if (epoch != in->epoch) {
		in->epoch = epoch;
		in->applied = base;
	} else if (base > in->applied) {
		in->applied = base;
	}
	in->heard_ms = now_ms;
	return true;
}

void orders_in_heard(orders_in *in, uint64_t epoch, uint64_t now_ms)
{
	if (epoch == in->epoch)
		in->heard_ms = now_ms;
}

void orders_in_base(orders_in *in, uint64_t epoch, uint64_t base)
{
	if (epoch && epoch == in->epoch && base > in->applied)
		in->applied = base;
}

orders_verdict orders_in_check(const orders_in *in, uint64_t epoch, uint64_t n)
{
	if (epoch == 0 && n == 0)
		return in->epoch == 0 ? ORD_LEGACY : ORD_REFUSE;
	if (epoch != in->epoch || n == 0)
		return ORD_REFUSE;
	if (n <= in->applied)
		return ORD_DUP;
	return n == in->applied + 1 ? ORD_APPLY : ORD_GAP;
}

void orders_in_applied(orders_in *in, uint64_t n)
{
	if (n == in->applied + 1)
		in->applied = n;
}

const char *orders_verdict_to_string(orders_verdict v)
{
	static const char *const names[ORD__NR] = {
		"apply", "duplicate", "gap", "refused", "legacy",
	};

	return (unsigned)v < ORD__NR ? names[v] : "unknown";
}
