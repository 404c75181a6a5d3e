/*
 * test_orders.c - lib/orders: the outbox and the inbox from their tables,
 * then a simulated cluster (fake clock, fake network with loss,
 * duplication, delay and reordering, crashes of rsd and agents), seeded
 * and replayable, checking that every order is applied at most once, in
 * order, only in the epoch of the agent's last Welcome, and that every
 * order not voided is applied once the faults stop.
 *
 * Replay one schedule: RS_SIM_SEED=N ./test_orders --filter sim/orders_once_in_order_despite_faults
 * More schedules: RS_SIM_SCHEDULES=N (default 2000).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orders.h"
#include "sim_net.h"

static uint8_t *bytes(uint64_t v)
{
	uint8_t *b = malloc(sizeof v);

	cr_assert(b);
	memcpy(b, &v, sizeof v);
	return b;
}

Test(outbox, numbers_keeps_and_acks, .timeout = 10)
{
	orders_out o = { 0 };

	cr_assert_eq(orders_out_next(&o), 1);
	cr_assert_eq(orders_out_push(&o, 1, bytes(11), 8, 100), 0);
	cr_assert_eq(orders_out_push(&o, 2, bytes(12), 8, 100), 0);
	cr_assert_eq(orders_out_push(&o, 2, bytes(13), 8, 100), -EINVAL, "a number twice");
	cr_assert_eq(orders_out_push(&o, 4, bytes(13), 8, 100), -EINVAL, "a gap");
	cr_assert_eq(orders_out_pending(&o), 2);
	cr_assert_eq(orders_out_ack(&o, 3), -EINVAL, "an ack beyond what was sent");
	cr_assert_eq(orders_out_pending(&o), 2);
	cr_assert_eq(orders_out_ack(&o, 1), 0);
	cr_assert_eq(orders_out_pending(&o), 1);
	cr_assert_eq(orders_out_ack(&o, 0), 0, "an older ack changes nothing");
	cr_assert_eq(o.acked, 1);
	cr_assert_eq(orders_out_pending(&o), 1);
	orders_out_void(&o);
	cr_assert_eq(orders_out_pending(&o), 0);
	cr_assert_eq(o.acked, 2);
	cr_assert_eq(orders_out_next(&o), 3, "numbers go on after a void");
	orders_out_free(&o);
}

static uint64_t sent_vals[8];
static size_t nsent;

static void collect(const uint8_t *buf, size_t len, void *arg)
{
	(void)arg;
	cr_assert_eq(len, 8);
	cr_assert_lt(nsent, 8);
	memcpy(&sent_vals[nsent++], buf, 8);
}

Test(outbox, resends_all_oldest_first_when_due, .timeout = 10)
{
	orders_out o = { 0 };

	orders_out_push(&o, 1, bytes(21), 8, 1000);
	orders_out_push(&o, 2, bytes(22), 8, 1200);
	orders_out_push(&o, 3, bytes(23), 8, 1300);
	nsent = 0;
	cr_assert_eq(orders_out_due(&o, 1400, 500, collect, NULL), 0, "not due yet");
	cr_assert_eq(orders_out_due(&o, 1500, 500, collect, NULL), 3);
	cr_assert_eq(nsent, 3);
	cr_assert(sent_vals[0] == 21 && sent_vals[1] == 22 && sent_vals[2] == 23);
	cr_assert_eq(orders_out_due(&o, 1600, 500, collect, NULL), 0,
		     "just resent: due again only after resend_ms");
	cr_assert_eq(o.resent, 3);
	orders_out_ack(&o, 3);
	cr_assert_eq(orders_out_due(&o, 9000, 0, collect, NULL), 0, "nothing kept");
	orders_out_free(&o);
}

/* An agent (or an rsd) too busy to answer within resend_ms was sent
 * everything again every period: 715,000 resent Starts for 150,000 in a
 * 5,000-agent cold start. Each resend without an acknowledgement since
 * doubles the wait, up to ORDERS_BACKOFF_MAX; progress resets it. */
Test(outbox, resends_back_off_until_progress, .timeout = 10)
{
	orders_out o = { 0 };

	orders_out_push(&o, 1, bytes(31), 8, 1000);
	orders_out_push(&o, 2, bytes(32), 8, 1000);
	nsent = 0;
	cr_assert_eq(orders_out_due(&o, 900, 500, collect, NULL), 0,
		     "a time before the send (what rsd has read up to) is never due");
	cr_assert_eq(orders_out_due(&o, 1500, 500, collect, NULL), 2, "first: after 500");
	cr_assert_eq(orders_out_due(&o, 2499, 500, collect, NULL), 0);
	cr_assert_eq(orders_out_due(&o, 2500, 500, collect, NULL), 2, "second: after 1000");
	cr_assert_eq(orders_out_due(&o, 4499, 500, collect, NULL), 0);
	cr_assert_eq(orders_out_due(&o, 4500, 500, collect, NULL), 2, "third: after 2000");
	nsent = 0;
	cr_assert_eq(orders_out_due(&o, 6499, 500, collect, NULL), 0);
	cr_assert_eq(orders_out_due(&o, 6500, 500, collect, NULL), 2,
		     "no longer than 500 << ORDERS_BACKOFF_MAX");
	cr_assert_eq(o.tries, ORDERS_BACKOFF_MAX);
	/* a resend at once (a Hello again) neither waits nor counts */
	cr_assert_eq(orders_out_due(&o, 6600, 0, collect, NULL), 2);
	cr_assert_eq(o.tries, ORDERS_BACKOFF_MAX);
	cr_assert_eq(o.resent, 10);
	/* the agent took one: back to resend_ms for what is left */
	orders_out_ack(&o, 1);
	cr_assert_eq(o.tries, 0);
	cr_assert_eq(orders_out_due(&o, 7099, 500, collect, NULL), 0);
	cr_assert_eq(orders_out_due(&o, 7100, 500, collect, NULL), 1);
	/* an acknowledgement that takes nothing off is no progress */
	orders_out_ack(&o, 1);
	cr_assert_eq(o.tries, 1);
	orders_out_free(&o);
}

Test(outbox, grows_and_gives_back, .timeout = 10)
{
	orders_out o = { 0 };

	cr_assert_eq(o.cap, 0, "a quiet node holds nothing");
	for (uint64_t i = 1; i <= 100; i++)
		cr_assert_eq(orders_out_push(&o, i, bytes(i), 8, 0), 0);
	cr_assert_eq(o.cap, 128);
	orders_out_ack(&o, 50);
	for (uint64_t i = 101; i <= 170; i++)   /* wraps, then grows again */
		cr_assert_eq(orders_out_push(&o, i, bytes(i), 8, 0), 0);
	cr_assert_eq(orders_out_pending(&o), 120);
	for (size_t i = 0; i < 120; i++) {
		uint64_t v;

		memcpy(&v, orders_out_at(&o, i)->buf, 8);
		cr_assert_eq(v, 51 + i, "kept in order across the growth");
	}
	cr_assert_null(orders_out_at(&o, 120));
	orders_out_ack(&o, 170);
	cr_assert_eq(o.cap, 0, "emptied after a burst: given back");
	orders_out_free(&o);
}

Test(outbox, bounded, .timeout = 10)
{
	orders_out o = { 0 };

	for (uint64_t i = 1; i <= ORDERS_MAX; i++)
		cr_assert_eq(orders_out_push(&o, i, bytes(i), 8, 0), 0);
	cr_assert_eq(orders_out_push(&o, ORDERS_MAX + 1, bytes(0), 8, 0), -ENOBUFS);
	cr_assert_eq(orders_out_pending(&o), ORDERS_MAX);
	orders_out_void(&o);
	cr_assert_eq(orders_out_push(&o, ORDERS_MAX + 1, bytes(0), 8, 0), 0,
		     "a void makes room; the number that failed is given again");
	orders_out_free(&o);
}

/* Every verdict, from the table in orders.h. */
Test(inbox, verdict_table, .timeout = 10)
{
	orders_in fresh = { 0 }, in = { 0 };

	cr_assert_eq(orders_in_check(&fresh, 0, 0), ORD_LEGACY, "an rsd 0.2");
	cr_assert_eq(orders_in_check(&fresh, 7, 1), ORD_REFUSE, "no Welcome yet");
	cr_assert(orders_in_welcome(&in, 7, 10, 0));
	cr_assert_eq(orders_in_check(&in, 0, 0), ORD_REFUSE,
		     "unnumbered after a numbering rsd welcomed us");
	cr_assert_eq(orders_in_check(&in, 6, 11), ORD_REFUSE, "an older epoch");
	cr_assert_eq(orders_in_check(&in, 8, 11), ORD_REFUSE, "a newer epoch before its Welcome");
	cr_assert_eq(orders_in_check(&in, 7, 0), ORD_REFUSE, "numbered 0 in an epoch");
	cr_assert_eq(orders_in_check(&in, 7, 10), ORD_DUP, "up to the base");
	cr_assert_eq(orders_in_check(&in, 7, 3), ORD_DUP);
	cr_assert_eq(orders_in_check(&in, 7, 12), ORD_GAP);
	cr_assert_eq(orders_in_check(&in, 7, 11), ORD_APPLY);
	orders_in_applied(&in, 11);
	cr_assert_eq(in.applied, 11);
	cr_assert_eq(orders_in_check(&in, 7, 11), ORD_DUP, "once");
	orders_in_applied(&in, 13);
	cr_assert_eq(in.applied, 11, "applied only in order");
}

Test(inbox, welcome_moves_the_base, .timeout = 10)
{
	orders_in in = { .grace_ms = 1000 };

	cr_assert(orders_in_welcome(&in, 5, 3, 100));
	orders_in_applied(&in, 4);
	cr_assert(orders_in_welcome(&in, 5, 2, 100));
	cr_assert_eq(in.applied, 4, "the same epoch: never back");
	cr_assert(orders_in_welcome(&in, 5, 9, 100));
	cr_assert_eq(in.applied, 9, "the same epoch: voided orders skipped");
	orders_in_base(&in, 5, 12);
	cr_assert_eq(in.applied, 12, "an order's base, as a Welcome's");
	orders_in_base(&in, 4, 20);
	orders_in_base(&in, 5, 11);
	cr_assert_eq(in.applied, 12, "another epoch's base, an older base: nothing");
	cr_assert(orders_in_welcome(&in, 6, 1, 200));
	cr_assert(in.epoch == 6 && in.applied == 1, "a newer epoch: its base");
	cr_assert(!orders_in_welcome(&in, 5, 30, 300), "a late Welcome of an older epoch");
	cr_assert(in.epoch == 6 && in.applied == 1);
	orders_in_heard(&in, 6, 900);
	cr_assert(!orders_in_welcome(&in, 5, 0, 1800), "the newer epoch spoke 900 ms ago");
	orders_in_heard(&in, 5, 1850);
	cr_assert(orders_in_welcome(&in, 5, 0, 1900),
		  "silent for the grace: an rsd whose epoch went back is followed");
	cr_assert_eq(in.epoch, 5);
	cr_assert(orders_in_welcome(&in, 0, 0, 1901), "epoch 0 at once: a downgrade");
	cr_assert(in.epoch == 0 && orders_in_check(&in, 0, 0) == ORD_LEGACY,
		  "a downgrade to an rsd that does not number");
	cr_assert_str_eq(orders_verdict_to_string(ORD_GAP), "gap");
	cr_assert_str_eq(orders_verdict_to_string(ORD__NR), "unknown");
}

/* ---- the simulation ---------------------------------------------------- */

#define SIM_NODES   3
#define SIM_NET_MAX 4096
#define SIM_ORDERS  512       /* payload ids per schedule */

enum { M_ORDER, M_WELCOME, M_REHELLO, M_HELLO, M_BEAT };

typedef struct sim_msg {
	int      kind;
	int      node;
	bool     to_agent;
	uint64_t at;              /* delivery time */
	uint64_t id;              /* queued as the id-th: ties go in order */
	uint64_t epoch, seq, payload, base, session, ack;
} sim_msg;

typedef struct sim_agent {
	orders_in in;
	uint64_t  session;
	bool      welcomed;
	uint64_t  hello_at;
	/* what this session applied in its current epoch: for the order check */
	uint64_t  last_epoch, last_seq;
} sim_agent;

typedef struct sim_rnode {
	orders_out out;
	uint64_t   session;      /* the agent session it last welcomed */
	bool       known;
} sim_rnode;

typedef struct sim {
	uint64_t   rng;
	uint64_t   now;
	uint64_t   epoch;
	sim_rnode  rn[SIM_NODES];
	sim_agent  ag[SIM_NODES];
	sim_msg    net[SIM_NET_MAX];
	size_t     nnet;
	uint64_t   nqueued;
	/* per payload: committed to which node, voided, times applied */
	int        p_node[SIM_ORDERS];
	bool       p_void[SIM_ORDERS];
	int        p_applied[SIM_ORDERS];
	uint64_t   npayload;
	bool       faults;
	bool       deciding;     /* rsd still decides new orders */
	char       why[512];
} sim;

static uint64_t rnd(sim *s)
{
	/* splitmix64: a seed is a schedule */
	uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static bool chance(sim *s, unsigned pct)
{
	return rnd(s) % 100 < pct;
}

static void net_put(sim *s, sim_msg m)
{
	if (s->faults && chance(s, 10))
		return;                               /* lost */
	m.at = s->now + 1 + (s->faults ? rnd(s) % 40 : 1);  /* delayed, reordered */
	m.id = s->nqueued++;
	if (s->nnet < SIM_NET_MAX)
		s->net[s->nnet++] = m;
	if (s->faults && chance(s, 5) && s->nnet < SIM_NET_MAX) {
		m.at += rnd(s) % 30;                  /* duplicated */
		s->net[s->nnet++] = m;
	}
}

/* An order on the wire is its three numbers, as the outbox keeps bytes. */
struct wire_order {
	uint64_t epoch, seq, payload, base;
};

struct send_ctx {
	sim *s;
	int  node;
};

static void sim_resend(const uint8_t *buf, size_t len, void *arg)
{
	struct send_ctx *c = arg;
	struct wire_order w;
	sim_msg m = { .kind = M_ORDER, .node = c->node, .to_agent = true };

	cr_assert_eq(len, sizeof w);
	memcpy(&w, buf, sizeof w);
	m.epoch = w.epoch;
	m.seq = w.seq;
	m.payload = w.payload;
	m.base = w.base;
	net_put(c->s, m);
}

/* rsd commits a decision: one order to node k. */
static void rsd_order(sim *s, int k)
{
	sim_rnode *r = &s->rn[k];
	struct wire_order w;
	uint8_t *buf;
	int rc;

	if (!r->known || !s->deciding || s->npayload >= SIM_ORDERS)
		return;
	w.epoch = s->epoch;
	w.seq = orders_out_next(&r->out);
	w.payload = s->npayload;
	w.base = r->out.acked;
	buf = malloc(sizeof w);
	cr_assert(buf);
	memcpy(buf, &w, sizeof w);
	rc = orders_out_push(&r->out, w.seq, buf, sizeof w, s->now);
	if (rc == -ENOBUFS) {
		/* as rsd: void and ask for a Hello (reconciliation decides) */
		orders_out_void(&r->out);
		r->known = false;
		return;
	}
	cr_assert_eq(rc, 0);
	s->p_node[s->npayload++] = k;
	net_put(s, (sim_msg){ .kind = M_ORDER, .node = k, .to_agent = true,
			      .epoch = w.epoch, .seq = w.seq, .payload = w.payload,
			      .base = w.base });
}

/* Voids what rsd kept for node k: those payloads need not be applied
 * (rsd's reconciliation re-decides from the Hello). */
static void rsd_void(sim *s, int k)
{
	orders_out *o = &s->rn[k].out;

	for (size_t i = 0; i < o->n; i++) {
		struct wire_order w;

		memcpy(&w, orders_out_at(o, i)->buf, sizeof w);
		s->p_void[w.payload] = true;
	}
	orders_out_void(o);
}

static void rsd_crash(sim *s)
{
	if (getenv("RS_SIM_TRACE"))
		fprintf(stderr, "t=%llu rsd crashes\n", (unsigned long long)s->now);
	for (int k = 0; k < SIM_NODES; k++) {
		rsd_void(s, k);
		orders_out_free(&s->rn[k].out);
		memset(&s->rn[k], 0, sizeof s->rn[k]);
	}
	s->epoch++;                   /* the store's epoch grows */
}

static void agent_crash(sim *s, int k)
{
	sim_agent *a = &s->ag[k];

	if (getenv("RS_SIM_TRACE"))
		fprintf(stderr, "t=%llu agent %d crashes\n", (unsigned long long)s->now, k);
	memset(a, 0, sizeof *a);
	a->session = rnd(s) | 1;
	a->in.grace_ms = 200;   /* longer than any delay in the network */
}

static bool fail(sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool fail(sim *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->why, sizeof s->why, fmt, ap);
	va_end(ap);
	return false;
}

static bool deliver(sim *s, const sim_msg *m)
{
	sim_agent *a = &s->ag[m->node];
	sim_rnode *r = &s->rn[m->node];

	if (getenv("RS_SIM_TRACE"))   /* with RS_SIM_SEED: the schedule */
		fprintf(stderr, "t=%llu %s node %d kind %d epoch %llu n %llu payload %llu "
			"ack %llu base %llu session %llx | agent %llu/%llu rsd %llu/%llu\n",
			(unsigned long long)s->now, m->to_agent ? "to agent" : "to rsd",
			m->node, m->kind, (unsigned long long)m->epoch,
			(unsigned long long)m->seq, (unsigned long long)m->payload,
			(unsigned long long)m->ack, (unsigned long long)m->base,
			(unsigned long long)m->session, (unsigned long long)a->in.epoch,
			(unsigned long long)a->in.applied, (unsigned long long)s->epoch,
			(unsigned long long)r->out.acked);
	if (!m->to_agent) {
		/* rsd: a beat from an agent it has not welcomed (this
		 * process, this session, this epoch): asks it for a Hello */
		if (m->kind == M_BEAT && (!r->known || m->session != r->session ||
					  m->epoch != s->epoch)) {
			net_put(s, (sim_msg){ .kind = M_REHELLO, .node = m->node,
					      .to_agent = true });
			return true;
		}
		if (m->epoch == s->epoch && r->known && m->session == r->session &&
		    orders_out_ack(&r->out, m->ack) < 0)
			return fail(s, "node %d acknowledged %llu, never numbered",
				    m->node, (unsigned long long)m->ack);
		if (m->kind == M_HELLO) {
			bool keep = r->known && m->session == r->session &&
				    m->epoch == s->epoch && orders_out_ack(&r->out, m->ack) == 0;

			if (!keep)
				rsd_void(s, m->node);
			r->known = true;
			r->session = m->session;
			net_put(s, (sim_msg){ .kind = M_WELCOME, .node = m->node,
					      .to_agent = true, .epoch = s->epoch,
					      .base = r->out.acked, .session = m->session });
			if (keep) {
				struct send_ctx c = { s, m->node };
				orders_out_due(&r->out, s->now, 0, sim_resend, &c);
			}
		}
		return true;
	}
	orders_in_heard(&a->in, m->epoch, s->now);
	if (m->kind == M_REHELLO) {
		a->welcomed = false;
		return true;
	}
	if (m->kind == M_WELCOME) {
		if (m->session != a->session)
			return true;   /* it answers another agent process */
		orders_in_welcome(&a->in, m->epoch, m->base, s->now);
		a->welcomed = true;
		return true;
	}
	orders_in_base(&a->in, m->epoch, m->base);
	switch (orders_in_check(&a->in, m->epoch, m->seq)) {
	case ORD_APPLY:
		if (m->epoch != a->in.epoch)
			return fail(s, "applied an order of epoch %llu in epoch %llu",
				    (unsigned long long)m->epoch, (unsigned long long)a->in.epoch);
		if (a->last_epoch == m->epoch && m->seq <= a->last_seq)
			return fail(s, "order %llu applied after %llu", (unsigned long long)m->seq,
				    (unsigned long long)a->last_seq);
		if (s->p_applied[m->payload]++)
			return fail(s, "payload %llu applied twice (seq %llu)",
				    (unsigned long long)m->payload, (unsigned long long)m->seq);
		if (s->p_node[m->payload] != m->node)
			return fail(s, "payload %llu applied on node %d, decided for %d",
				    (unsigned long long)m->payload, m->node, s->p_node[m->payload]);
		orders_in_applied(&a->in, m->seq);
		a->last_epoch = m->epoch;
		a->last_seq = m->seq;
		break;
	case ORD_LEGACY:
		return fail(s, "an unnumbered order (epoch %llu, %llu)",
			    (unsigned long long)m->epoch, (unsigned long long)m->seq);
	default:
		break;
	}
	return true;
}

static bool sim_step(sim *s)
{
	/* deliver what is due (sim_net.h) */
	for (;;) {
		size_t best = sim_net_due(s->net, s->nnet, sizeof *s->net,
					  offsetof(sim_msg, at), offsetof(sim_msg, id), s->now);
		sim_msg m;

		if (best == s->nnet)
			break;
		m = s->net[best];
		s->net[best] = s->net[--s->nnet];
		if (!deliver(s, &m))
			return false;
	}
	for (int k = 0; k < SIM_NODES; k++) {
		sim_agent *a = &s->ag[k];

		/* unwelcomed agents knock every 10 ticks; welcomed ones beat
		 * every 20 with their ack */
		if (!a->welcomed && s->now >= a->hello_at) {
			a->hello_at = s->now + 10;
			net_put(s, (sim_msg){ .kind = M_HELLO, .node = k,
					      .session = a->session,
					      .epoch = a->in.epoch, .ack = a->in.applied });
		} else if (a->welcomed && s->now % 20 == (uint64_t)k) {
			net_put(s, (sim_msg){ .kind = M_BEAT, .node = k,
					      .session = a->session,
					      .epoch = a->in.epoch, .ack = a->in.applied });
		}
		if (s->rn[k].known && chance(s, 8))
			rsd_order(s, k);
		if (s->rn[k].known) {
			struct send_ctx c = { s, k };
			orders_out_due(&s->rn[k].out, s->now, 60, sim_resend, &c);
		}
		if (s->faults && chance(s, 1) && chance(s, 20))
			agent_crash(s, k);
		if (s->faults && chance(s, 1) && chance(s, 10))
			a->welcomed = false;   /* the link blinked: say Hello again */
	}
	if (s->faults && chance(s, 1) && chance(s, 10))
		rsd_crash(s);
	s->now++;
	return true;
}

/* One schedule: faults for a while, then a calm phase in which every
 * order not voided must be applied. */
static bool sim_run(uint64_t seed, char *why, size_t n)
{
	sim *s = calloc(1, sizeof *s);
	bool ok = true;

	cr_assert(s);
	s->rng = seed;
	s->epoch = 1;
	for (int k = 0; k < SIM_NODES; k++)
		agent_crash(s, k);
	s->faults = true;
	s->deciding = true;
	for (int t = 0; t < 1500 && ok; t++)
		ok = sim_step(s);
	s->faults = false;
	for (int t = 0; t < 600 && ok; t++) {
		ok = sim_step(s);
		if (t == 300)
			s->deciding = false;   /* then let it drain */
	}
	for (int k = 0; ok && k < SIM_NODES; k++)
		if (orders_out_pending(&s->rn[k].out))
			ok = fail(s, "node %d: %zu orders never acknowledged (rsd epoch %llu, "
				  "acked %llu of %llu, session %llx; agent epoch %llu applied "
				  "%llu session %llx welcomed %d known %d)", k,
				  orders_out_pending(&s->rn[k].out),
				  (unsigned long long)s->epoch,
				  (unsigned long long)s->rn[k].out.acked,
				  (unsigned long long)s->rn[k].out.last,
				  (unsigned long long)s->rn[k].session,
				  (unsigned long long)s->ag[k].in.epoch,
				  (unsigned long long)s->ag[k].in.applied,
				  (unsigned long long)s->ag[k].session, s->ag[k].welcomed, s->rn[k].known);
	/* every order decided and not voided was applied (once: checked
	 * as it happened) */
	for (uint64_t p = 0; ok && p < s->npayload; p++)
		if (!s->p_void[p] && s->p_applied[p] == 0)
			ok = fail(s, "payload %llu (node %d) never applied",
				  (unsigned long long)p, s->p_node[p]);
	snprintf(why, n, "%s", s->why);
	for (int k = 0; k < SIM_NODES; k++)
		orders_out_free(&s->rn[k].out);
	free(s);
	return ok;
}

Test(sim, orders_once_in_order_despite_faults, .timeout = 120)
{
	const char *one = getenv("RS_SIM_SEED");
	unsigned long count = getenv("RS_SIM_SCHEDULES") ?
			      strtoul(getenv("RS_SIM_SCHEDULES"), NULL, 10) : 2000;
	char why[512];

	if (one) {
		uint64_t seed = strtoull(one, NULL, 10);
		cr_assert(sim_run(seed, why, sizeof why), "seed %llu: %s",
			  (unsigned long long)seed, why);
		return;
	}
	for (unsigned long i = 0; i < count; i++) {
		uint64_t seed = 0x5eed0000ull + i;

		cr_assert(sim_run(seed, why, sizeof why),
			  "seed %llu: %s (replay: RS_SIM_SEED=%llu)",
			  (unsigned long long)seed, why, (unsigned long long)seed);
	}
}

/* rsd asks whether an order about an instance is still on its way. */
Test(outbox, keys, .timeout = 10)
{
	orders_out o = { 0 };

	cr_assert(!orders_out_has(&o, 7), "an empty outbox");
	cr_assert_eq(orders_out_push_key(&o, 1, 7, bytes(1), 8, 0), 0);
	cr_assert_eq(orders_out_push_key(&o, 2, 9, bytes(2), 8, 0), 0);
	cr_assert(orders_out_has(&o, 7) && orders_out_has(&o, 9));
	cr_assert(!orders_out_has(&o, 8));
	orders_out_ack(&o, 1);
	cr_assert(!orders_out_has(&o, 7), "acknowledged: its effect is known");
	cr_assert(orders_out_has(&o, 9));
	orders_out_void(&o);
	cr_assert(!orders_out_has(&o, 9), "voided");
	orders_out_free(&o);
}
