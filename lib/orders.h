/*
 * orders.h - rsd's orders to an agent, numbered, acknowledged and resent;
 * applied once, in order, by the agent. Pure: no I/O, no clock reads.
 *
 * rsd numbers the orders (Start, Stop, Signal) it sends to one node 1, 2, 3, ...
 * within its epoch (a number that grows with every rsd process). The
 * outbox keeps each order, encoded, until the agent acknowledges it and
 * resends what is not acknowledged after resend_ms, oldest first. The
 * agent's inbox applies order n only after n - 1 (a gap: dropped, the
 * resend brings both), skips what it applied already (acknowledging it
 * again) and refuses orders of another epoch than the one its last
 * Welcome named: a stale rsd cannot order it about.
 *
 * A Welcome names a base: every order up to it is void or applied (each
 * order repeats the base of its time, in case that Welcome is lost). An
 * epoch never goes back while the newer rsd speaks: a late Welcome of an
 * older epoch is refused unless the current one has been silent for
 * grace_ms (an rsd whose store was restored and clock set back). rsd
 * voids its outbox when the agent is a new process or follows another
 * epoch (its Hello said what runs; reconciliation decides again), and
 * keeps it when the same agent only re-said Hello (a link that blinked).
 *
 *   inbox verdicts for (epoch, n), the inbox at (E, applied):
 *     epoch 0, n 0 .............. LEGACY  apply (rsd 0.2: not numbered)
 *     epoch != E, or no Welcome . REFUSE  drop (rsd resends after Welcome)
 *     n <= applied .............. DUP     skip, acknowledge again
 *     n == applied + 1 .......... APPLY   apply, then orders_in_applied
 *     n > applied + 1 ........... GAP     drop (an earlier one was lost)
 */
#ifndef RS_ORDERS_H
#define RS_ORDERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ORDERS_MAX 4096   /* unacknowledged orders kept per node */
#define ORDERS_BACKOFF_MAX 2   /* resends back off to resend_ms x 4: an agent
				* (or an rsd) too busy to answer in time is
				* not sent everything again each time */

typedef struct orders_item {
	uint64_t seq;
	uint64_t key;         /* what it is about (rsd: the instance id) */
	uint64_t sent_ms;     /* last (re)sent */
	uint8_t *buf;         /* owned: the encoded message */
	size_t   len;
} orders_item;

/* rsd's outbox for one node: a ring of unacknowledged orders. */
typedef struct orders_out {
	uint64_t     last;    /* the last number given */
	uint64_t     acked;   /* every order up to this one is applied or void */
	orders_item *ring;    /* cap entries: grown by doubling from 16 up to
			       * ORDERS_MAX as orders wait (a quiet node costs
			       * nothing, a busy one what it holds) */
	size_t       head, n, cap;
	uint64_t     resent;  /* orders sent again (a counter) */
	uint32_t     tries;   /* resends since the agent last acknowledged
			       * one: the next waits resend_ms << tries
			       * (ORDERS_BACKOFF_MAX at most) */
} orders_out;

/* The number of the next order (orders_out_push must follow with it). */
uint64_t orders_out_next(orders_out *o);
/* Keeps buf (taken, also on error) as order seq, sent at now_ms.
 * -ENOBUFS: ORDERS_MAX unacknowledged (the caller voids the outbox and
 * asks the agent for a Hello); -ENOMEM; -EINVAL: seq is not the last
 * number given. */
int orders_out_push(orders_out *o, uint64_t seq, uint8_t *buf, size_t len,
		    uint64_t now_ms);
/* The same, with a key saying what the order is about. */
int orders_out_push_key(orders_out *o, uint64_t seq, uint64_t key, uint8_t *buf,
			size_t len, uint64_t now_ms);
/* Whether an unacknowledged order about key is kept (its effect is not
 * known yet: a Hello taken before it says nothing of it). */
bool orders_out_has(const orders_out *o, uint64_t key);
/* The agent applied every order up to ack. -EINVAL (nothing changed) if
 * ack is beyond the last number given: a confused or hostile peer. */
int orders_out_ack(orders_out *o, uint64_t ack);
/* Calls send(buf, len, arg) for every kept order, oldest first, if the
 * oldest was last sent resend_ms << tries ago or more (go-back-N; now_ms
 * before that send: not due). Each such resend makes the next wait twice
 * as long, up to ORDERS_BACKOFF_MAX doublings, until an acknowledgement
 * takes an order off; resend_ms 0 (resend now: the agent said Hello
 * again) neither waits nor counts. Returns how many were sent. */
size_t orders_out_due(orders_out *o, uint64_t now_ms, uint64_t resend_ms,
		      void (*send)(const uint8_t *buf, size_t len, void *arg),
		      void *arg);
/* Voids every kept order: acked becomes last (the Welcome's base). */
void orders_out_void(orders_out *o);
/* Unacknowledged orders kept. */
size_t orders_out_pending(const orders_out *o);
/* The i-th kept order, oldest first (i < orders_out_pending). */
const orders_item *orders_out_at(const orders_out *o, size_t i);
/* Frees the ring; o is then empty (numbers kept). */
void orders_out_free(orders_out *o);

typedef enum orders_verdict {
	ORD_APPLY = 0,
	ORD_DUP,
	ORD_GAP,
	ORD_REFUSE,
	ORD_LEGACY,
	ORD__NR
} orders_verdict;

/* The agent's inbox. */
typedef struct orders_in {
	uint64_t epoch;       /* of the last Welcome (0: none yet) */
	uint64_t applied;     /* the last order applied in epoch */
	uint64_t heard_ms;    /* last message of epoch */
	uint64_t grace_ms;    /* an older epoch is followed only after the
			       * current one was silent this long */
} orders_in;

/* A Welcome of rsd epoch `epoch` with base `base`, at now_ms. false:
 * refused, an older epoch than the one that spoke within grace_ms (a
 * late copy, or a stale rsd). Epoch 0 (an rsd 0.2, which numbers
 * nothing: a downgrade) is always followed. */
bool orders_in_welcome(orders_in *in, uint64_t epoch, uint64_t base,
		       uint64_t now_ms);
/* A message of epoch arrived at now_ms. */
void orders_in_heard(orders_in *in, uint64_t epoch, uint64_t now_ms);
/* An order of epoch says every order up to base is applied or void (a
 * Welcome that named that base may have been lost). */
void orders_in_base(orders_in *in, uint64_t epoch, uint64_t base);
/* What to do with order n of epoch (pure: nothing changes). */
orders_verdict orders_in_check(const orders_in *in, uint64_t epoch, uint64_t n);
/* Order n (ORD_APPLY) was applied. */
void orders_in_applied(orders_in *in, uint64_t n);
const char *orders_verdict_to_string(orders_verdict v);

#endif
