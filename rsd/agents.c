/*
 * agents.c - rsd's side of the agent protocol: Hello and reconciliation,
 * heartbeats, instance events, node loss.
 *
 * Nothing an agent sends is trusted: undecodable frames are counted and
 * dropped, messages of a type agents never send are ignored. A node is
 * the key its connection authenticated with (auth.c): a Hello under
 * another name is refused, and a node's messages count only from the
 * connection its last accepted Hello came on (so one agent cannot speak
 * for another, nor a second copy of an agent for the first).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "lease.h"
#include "log.h"
#include "rsd.h"
#include "version.h"
#include "wire.h"

static bool same_peer(const net_peer *a, const net_peer *b)
{
	return a->len == b->len && memcmp(a->id, b->id, a->len) == 0;
}

/* The node a message comes from: the node its key was enrolled as (any
 * node, insecure), if this connection is the one its Hello came on. */
static rsd_node *node_of_peer(rsd *d, const store_principal *who,
			      const net_peer *peer)
{
	if (!d->insecure) {
		rsd_node *n = rsd_node_find(d, who->name);
		return n && same_peer(&n->peer, peer) ? n : NULL;
	}
	for (rsd_node *n = d->nodes; n; n = n->next)
		if (n->connected && same_peer(&n->peer, peer))
			return n;
	return NULL;
}

/* Writes a row inside the open transaction; a failure fails its commit. */
static void node_persist(rsd *d, rsd_node *n)
{
	int r = store_node_put(d->st, &n->n);

	if (r < 0 && !d->tx_err)
		d->tx_err = r;
}

static void inst_persist(rsd *d, rsd_inst *in)
{
	int r;

	/* in the wake-up's batch: once, as it is at the commit. Nothing
	 * frees or deletes an instance inside a batch (those decisions
	 * open their own transaction, which commits the batch first) */
	if (d->tx_open && d->tx_batch) {
		if (in->row_tx == d->tx_seq)
			return;
		rsd_inst **v = rs_grow(d->batch_rows, &d->batch_rows_cap,
				       d->nbatch_rows, sizeof *v, 1024);

		if (!v)
			goto now;
		d->batch_rows = v;
		in->row_tx = d->tx_seq;
		d->batch_rows[d->nbatch_rows++] = in;
		return;
	}
now:
	r = store_instance_put(d->st, &in->si);
	if (r < 0 && !d->tx_err)
		d->tx_err = r;
}

void rsd_batch_rows(rsd *d, bool drop)
{
	uint64_t t0 = clock_mono_ns();

	for (size_t i = 0; !drop && i < d->nbatch_rows; i++) {
		int r = store_instance_put(d->st, &d->batch_rows[i]->si);

		if (r < 0 && !d->tx_err)
			d->tx_err = r;   /* the commit rolls back */
	}
	/* what a row costs, for the wake-up's budget (rsd_agents_recv) */
	if (!drop && d->nbatch_rows >= 16)
		d->row_ns = (3 * d->row_ns + (clock_mono_ns() - t0) / d->nbatch_rows) / 4;
	d->nbatch_rows = 0;
}

/* Takes what the agent says of an instance: its state through the table
 * (a fact: taken in any state), then its fields. death: the report is of
 * a death (exit, backoff, failure, missed watchdog). Returns the effects
 * (IM_FX_*), 0 if the report is refused (a state agents do not report). */
static unsigned inst_report(rsd *d, rsd_inst *in, const rs_iinfo *info, bool death)
{
	instsm_in x = { .reported = info->state, .death = death };
	const store_instance was = in->si;
	instsm_fx fx;

	if (rsd_inst_move(d, in, IM_EV_REPORT, &x, &fx) < 0)
		return 0;
	in->si.info.pid = info->pid;
	if (info->generation)
		in->si.info.generation = info->generation;
	in->si.info.restarts = info->restarts;
	in->si.info.last_exit = info->last_exit;
	rs_strlcpy(in->si.info.status, info->status, sizeof in->si.info.status);
	in->si.info.started_ms = info->started_ms;
	in->si.info.ready_ms = info->ready_ms;
	in->si.info.start_ticks = info->start_ticks;
	in->si.info.unready = info->unready;   /* 0.3: not stored */
	/* a row as it is already stored is not written again (an rsd
	 * restarted under thousands of nodes: each Hello tells mostly what
	 * the store has), unless a write failed since (the store may lag) */
	if (!d->store_failing && memcmp(&was, &in->si, sizeof was) == 0)
		fx.fx &= ~IM_FX_PERSIST;
	return fx.fx;
}

static void send_simple(rsd *d, rsd_node *n, rs_msg_type type)
{
	rs_msg m;

	rs_msg_init(&m, type);
	if (type == RS_MSG_WELCOME) {
		m.u.welcome.beat_ms = RSD_BEAT_MS;
		m.u.welcome.ttl_ms = d->ttl_ms;
		m.u.welcome.order_base = n->out.acked;
		m.u.welcome.session = n->session;
		m.u.welcome.hello_seq = n->hello_seq;
		m.u.welcome.lease_ms = (uint32_t)d->ncfg.lease_ms;
	}
	rsd_send_agent(d, n, &m);
	rs_msg_clear(&m);
}

/* A Rehello to peer: through node n's queue when it is n's connection
 * (n may be NULL), so it follows what the turn has for n already. */
static void send_rehello_to(rsd *d, rsd_node *n, const net_peer *peer)
{
	rs_msg m;
	uint8_t *buf;
	size_t len;

	rs_msg_init(&m, RS_MSG_REHELLO);
	if (wire_encode(&m, &buf, &len) == 0) {
		if (n && n->connected && same_peer(&n->peer, peer))
			rsd_agent_out(d, n, buf, len);
		else
			net_send(d->agents, peer, buf, len);
		free(buf);
	}
	rs_msg_clear(&m);
}

static void send_rehello(rsd *d, const net_peer *peer)
{
	send_rehello_to(d, NULL, peer);
}

void rsd_ask_hello(rsd *d, rsd_node *n)
{
	n->hello_fresh = false;   /* the Hello it answers is reconciled */
	if (n->connected)
		send_rehello_to(d, n, &n->peer);
}

/* ---- a turn's messages to a node in one frame (lib/sendq.h) ---------- */

void rsd_agent_flush(rsd *d, rsd_node *n)
{
	uint8_t *buf;
	size_t len;
	int k = sendq_take(&n->outq, &buf, &len);
	int r;

	if (k == 0)
		return;
	r = k < 0 ? k : net_send(d->agents, &n->peer, buf, len);
	free(buf);
	if (r == 0) {
		d->out_frames++;
		d->out_msgs += (unsigned)k;
		return;
	}
	/* as a message of its own that could not be sent: orders are resent
	 * (they stay in n->out), the rest is lost; its acknowledgement too,
	 * so its next beat gets one */
	n->told_seq = 0;
	if (d->out_failed++ % 100 == 0)
		log_warnx("cannot send %d messages to node %s: %s (resent as orders "
			  "come due)", k < 0 ? 0 : k, n->n.name, strerror(-r));
}

int rsd_agent_out(rsd *d, rsd_node *n, const uint8_t *buf, size_t len)
{
	int r;

	if (!(n->features & RS_FEAT_BATCH))
		return net_send(d->agents, &n->peer, buf, len);
	if (!sendq_fits(&n->outq, len))
		rsd_agent_flush(d, n);
	r = sendq_push(&n->outq, buf, len);
	if (r < 0)
		return r;
	if (!n->out_due) {
		n->out_due = true;
		n->out_next = d->out_due;
		d->out_due = n;
	}
	if (sendq_full(&n->outq))
		rsd_agent_flush(d, n);
	return 0;
}

void rsd_agents_flush(rsd *d)
{
	rsd_node *n;

	while ((n = d->out_due)) {
		d->out_due = n->out_next;
		n->out_next = NULL;
		n->out_due = false;
		rsd_agent_flush(d, n);
	}
}

static void out_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	(void)loop;
	(void)revents;
	/* each turn, a slice of the placements past their time (150,000 at
	 * once after a cold start's Starts: tens of ms in one piece) */
	rsd_watch_check(w->data, clock_mono_ms(), RSD_WATCH_SLICE_NS);
	rsd_events_prune(w->data, false);
	rsd_agents_flush(w->data);
	rsd_turn_end(w->data);
}

void rsd_agents_out_watch(rsd *d, bool on)
{
	if (on) {
		ev_prepare_init(&d->out_w, out_cb);
		d->out_w.data = d;
		ev_prepare_start(d->loop, &d->out_w);
	} else {
		ev_prepare_stop(d->loop, &d->out_w);
		rsd_agents_flush(d);
	}
}

static void stop_copy(rsd *d, rsd_node *n, const rs_iinfo *info)
{
	rsd_inst tmp;

	memset(&tmp, 0, sizeof tmp);
	tmp.si.info = *info;
	rs_strlcpy(tmp.si.node, n->n.name, sizeof tmp.si.node);
	rsd_send_stop(d, &tmp, true, false);
}

/* An instance its agent fenced while rsd was away, now down on node n
 * (up), still placed there and wanted: it runs there again. From the
 * Hello that shows it so, or from the event of its end when the Hello
 * still showed it stopping (found by tests/test_sim.c: it stayed down,
 * wanted, for ever). Inside the caller's transaction; whether it did. */
static bool fenced_back(rsd *d, rsd_node *n, rsd_inst *in)
{
	rsd_svc *s = rsd_svc_find(d, in->si.info.label);
	instsm_fx fx;

	if (in->si.info.state != RS_IS_DOWN ||
	    in->si.info.last_exit.reason != RS_ER_FENCED || !s ||
	    s->s.desired != RS_WANT_UP || rsd_pending_for(d, in->si.info.label) ||
	    rsd_inst_superseded(d, in) ||
	    strcmp(in->si.node, n->n.name) != 0 || n->sm.state != NM_UP ||
	    rsd_inst_move(d, in, IM_EV_PLACE, NULL, &fx) < 0)
		return false;
	rsd_event(d, in->si.info.label, in->si.info.id, n->n.name, "reconcile",
		  "instance %llu was fenced while rsd was away, starting it",
		  (unsigned long long)in->si.info.id);
	inst_persist(d, in);
	if (fx.fx & IM_FX_START)
		rsd_send_start(d, in);
	return true;
}

/* Makes the agent's view and ours agree: adopt what it runs that we want,
 * stop what we do not want, start what it lacks. */
static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void reconcile(rsd *d, rsd_node *n, const rs_hello *h)
{
	instsm_in x = { .reported = RS_IS_UNKNOWN };
	instsm_fx fx;
	rsd_pending *p;
	uint64_t *ids;

	for (size_t i = 0; i < h->ninstances; i++) {
		const rs_iinfo *info = &h->instances[i];
		rsd_inst *in = rsd_inst_find(d, info->id);
		rsd_svc *s = rsd_svc_find(d, info->label);
		bool wanted = in && s && s->s.desired == RS_WANT_UP &&
			      strcmp(in->si.node, n->n.name) == 0 &&
			      !rsd_inst_superseded(d, in);

		if (in && strcmp(in->si.node, n->n.name) != 0) {
			/* rescheduled elsewhere while this node was away: the
			 * copy here is a duplicate */
			if (rsd_istate_live(info->state)) {
				rsd_event(d, info->label, info->id, n->n.name, "duplicate",
					  "instance %llu runs on %s now; stopping the copy here (pid %d)",
					  (unsigned long long)info->id, in->si.node, (int)info->pid);
				stop_copy(d, n, info);
			}
			continue;
		}
		if (!in) {
			if (rsd_istate_live(info->state)) {
				rsd_event(d, info->label, info->id, n->n.name, "stray",
					  "node runs instance %llu (pid %d) unknown to rsd, stopping it",
					  (unsigned long long)info->id, (int)info->pid);
				stop_copy(d, n, info);
			}
			continue;
		}
		if (inst_report(d, in, info, false) & IM_FX_PERSIST)
			inst_persist(d, in);
		if (fenced_back(d, n, in))
			continue;
		if (wanted && info->state == RS_IS_RUNNING &&
		    info->generation > s->s.generation &&
		    !rsd_pending_for(d, info->label))
			rsd_update_hand_back(d, in);
		/* not wanted and running: stopped (unless an operation works
		 * on it; a down that waits for it is what it is for) */
		p = rsd_pending_for(d, info->label);
		if (!wanted && rsd_istate_live(info->state) &&
		    (!p || p->verb == RS_V_DOWN) &&
		    rsd_inst_move(d, in, IM_EV_STOP, NULL, &fx) == 0 &&
		    (fx.fx & IM_FX_STOP)) {
			rsd_event(d, info->label, info->id, n->n.name, "reconcile",
				  "instance %llu is not wanted, stopping it",
				  (unsigned long long)info->id);
			rsd_send_stop(d, in, false, false);
		}
	}
	/* what is placed here and not in the Hello: the node's own
	 * instances only, its Hello's ids sorted (or walked, without memory) */
	ids = h->ninstances ? malloc(h->ninstances * sizeof *ids) : NULL;
	for (size_t i = 0; ids && i < h->ninstances; i++)
		ids[i] = h->instances[i].id;
	if (ids)
		qsort(ids, h->ninstances, sizeof *ids, cmp_u64);
	for (rsd_inst *in = rsd_node_insts(d, n->n.name); in; in = rsd_node_insts_next(d, in)) {
		rsd_svc *s = rsd_svc_find(d, in->si.info.label);
		bool reported = false;

		if (ids)
			reported = bsearch(&in->si.info.id, ids, h->ninstances,
					   sizeof *ids, cmp_u64) != NULL;
		for (size_t i = 0; !ids && i < h->ninstances && !reported; i++)
			reported = h->instances[i].id == in->si.info.id;
		/* an order about it is still on its way (the same agent: the
		 * kept outbox is resent after the Welcome): the Hello, taken
		 * before that order, says nothing of what it will do (found by
		 * tests/test_sim.c) */
		if (reported || rsd_order_pending(n, in->si.info.id, false))
			continue;
		/* wanted and not finished by its own policy: a live or lost
		 * instance, or one its agent stopped when it shut down or was
		 * fenced, starts again; what is not wanted is down */
		/* (one a down stopped and a later up replaced is not: found
		 * by tests/test_sim.c, seed 85590076) */
		x.wanted = s && s->s.desired == RS_WANT_UP && !rsd_inst_superseded(d, in);
		x.stopped = in->si.info.last_exit.reason == RS_ER_STOPPED ||
			    in->si.info.last_exit.reason == RS_ER_FENCED;
		if (rsd_inst_move(d, in, IM_EV_ABSENT, &x, &fx) < 0)
			continue;
		if (fx.fx & IM_FX_EVENT)
			rsd_event(d, in->si.info.label, in->si.info.id, n->n.name,
				  fx.event, "node does not run instance %llu, starting it",
				  (unsigned long long)in->si.info.id);
		if (fx.fx & IM_FX_PERSIST)
			inst_persist(d, in);
		if (fx.fx & IM_FX_START)
			rsd_send_start(d, in);
	}
	free(ids);
}

/* Whether a Hello for n from peer comes from a second agent while the
 * first one still talks to us on another connection: refused then, so a
 * node's services never run twice. A connection that went away (the old
 * agent died) no longer routes, and one silent for two beats is let go. */
static bool duplicate_agent(rsd *d, rsd_node *n, const net_peer *peer,
			    const rs_hello *h)
{
	rs_msg m;
	uint8_t *buf;
	size_t len;
	int r = -1;

	if (!n->connected || same_peer(&n->peer, peer) || h->session == n->session ||
	    clock_mono_ms() - n->sm.word_ms > 2 * RSD_BEAT_MS)
		return false;
	/* probe the first one's connection with a no-op (a BeatAck of what
	 * it has acknowledged already): if that cannot be routed, it is gone */
	rs_msg_init(&m, RS_MSG_BEAT_ACK);
	m.ack = n->acked_seq;
	if (wire_encode(&m, &buf, &len) == 0) {
		r = net_send(d->agents, &n->peer, buf, len);
		free(buf);
	}
	rs_msg_clear(&m);
	return r == 0;
}

/* Records a Hello in one transaction: the node up (nodesm), what its
 * agent runs (facts), the Welcome, reconciliation (its orders held until
 * the commit, and sent after the Welcome). If that fails: the facts stay,
 * the decisions are undone, no order goes out and the node is not up (no
 * Welcome): the agent keeps saying Hello, and the first one that is
 * recorded reconciles. *fx: what nodesm decided.
 * Orders: the same agent process following this epoch keeps the orders
 * it has not acknowledged (resent now, ahead of the new ones); any other
 * voids them, since reconciliation decides again from what it runs. */
/* A Hello is recorded in the wake-up's transaction (group commit, as
 * events): if that commit fails, rsd_batch_flush puts the node back as
 * it was before (hello_unrecorded). */
static void hello_unrecorded(rsd *d, rsd_node *n, const nodesm *was)
{
	/* not recorded: as if this rsd had not heard it yet (a Hello must
	 * be recorded before the node counts as up) */
	n->sm = *was;
	if (n->sm.state == NM_UP)
		n->sm.state = NM_UNKNOWN;
	if (n->sm.state == NM_UNKNOWN)
		d->unknown_again = true;   /* (membership: every node ticked) */
	if (n->sm.state == NM_UNKNOWN &&
	    n->sm.since_ms + d->ncfg.startup_ms > d->unknown_until_ms)
		d->unknown_until_ms = n->sm.since_ms + d->ncfg.startup_ms;
	n->n.state = rsd_node_state_of(n->sm.state);
	rsd_node_placeable(d, n);
	n->hello_fresh = false;
	rsd_node_heard(d, n);
}

void rsd_batch_hellos_end(rsd *d, bool committed)
{
	/* newest first: a node that said Hello twice ends as before both */
	for (size_t i = d->nbatch_hellos; !committed && i-- > 0;)
		hello_unrecorded(d, d->batch_hellos[i].n, &d->batch_hellos[i].was);
	d->nbatch_hellos = 0;
}

/* Keeps what n was before a Hello of this batch; false without memory. */
static bool hello_remember(rsd *d, rsd_node *n, const nodesm *was)
{
	struct rsd_batch_hello *v = rs_grow(d->batch_hellos, &d->batch_hellos_cap,
					    d->nbatch_hellos, sizeof *v, 64);

	if (!v)
		return false;
	d->batch_hellos = v;
	d->batch_hellos[d->nbatch_hellos].n = n;
	d->batch_hellos[d->nbatch_hellos].was = *was;
	d->nbatch_hellos++;
	return true;
}

static int hello_record(rsd *d, rsd_node *n, const rs_msg *m, bool same_agent,
			nodesm_fx *fx)
{
	const rs_hello *h = &m->u.hello;
	const nodesm was = n->sm;
	bool keep = same_agent && (n->features & RS_FEAT_ORDERS) &&
		    m->epoch == d->epoch && orders_out_ack(&n->out, m->order_ack) == 0;
	int r = rsd_tx_batch(d);

	memset(fx, 0, sizeof *fx);
	if (r == 0 && !hello_remember(d, n, &was))
		r = -ENOMEM;
	if (r == 0 && (r = nodesm_step(&n->sm, &d->ncfg, NM_EV_HELLO, clock_mono_ms(),
				       fx)) < 0)
		d->nbatch_hellos--;   /* nothing changed */
	if (r == 0) {
		rsd_node_heard(d, n);
		n->n.state = rsd_node_state_of(n->sm.state);
		rsd_node_placeable(d, n);
		if (was.state == NM_UNKNOWN)   /* the wave after a restart */
			d->nodes_returned_ms = n->sm.heard_ms;
		if (fx->fx & NM_FX_EVENT)
			rsd_event(d, NULL, 0, n->n.name, "node-up",
				  "agent %s with %zu instances (was %s)", h->agent_version,
				  h->ninstances, nodesm_state_to_string(was.state));
		node_persist(d, n);   /* always: its version, labels, capacity */
		if (!keep)
			orders_out_void(&n->out);
		/* Welcome carries the last event we processed: the agent
		 * replays the rest, which we record as history (seq <
		 * hello_seq); and the orders' base */
		if (fx->fx & NM_FX_WELCOME)
			send_simple(d, n, RS_MSG_WELCOME);
		if (keep)
			rsd_orders_resend(d, n);
		if (fx->fx & NM_FX_RECONCILE)
			reconcile(d, n, h);
		/* committed with the batch (rsd_batch_flush), its orders and
		 * Welcome held until then */
	}
	if (r < 0) {
		hello_unrecorded(d, n, &was);
		memset(fx, 0, sizeof *fx);
		rsd_store_trouble(d, "a node's hello", r);
	}
	return r;
}

/* ---- coalescing Hellos ------------------------------------------------
 *
 * An agent that waits for rsd's answer knocks again (agent/agent.c); a
 * busy rsd then finds several Hellos of one agent queued. The first is
 * reconciled; a later one is answered with a Welcome alone (its seq, so
 * the agent's lease renews from it; the orders' base) when it cannot
 * tell rsd anything new: the same agent process (session) on the same
 * connection (routing id: ZeroMQ gives each connection its own, and one
 * connection delivers in order), the node up since, and every message
 * the agent sent in between taken (the agent numbers every message: no
 * gap from that Hello's seq to this one's), so every change it saw came
 * as an event rsd took (its replay included: those stay history, as for
 * any Hello). Not coalesced: a Hello rsd asked for (rsd_ask_hello: it
 * voided orders or misses an instance), one after a gap (the agent
 * skips a seq number before a Hello that must be reconciled: its fence
 * was lifted), one after a store failure (a decision an event led to
 * may have been undone), one that follows another epoch than that
 * Hello's and ours, acknowledges orders rsd never sent, changes the
 * node's facts (version, boot, labels, capacity), or comes from an agent
 * without RS_FEAT_ORDERS (its outbox is voided by every Hello). */

/* Every message the node's agent sent on its connection, taken while up
 * (seq: its envelope's); a gap means one was not taken. */
static void hello_note_seq(rsd_node *n, uint64_t seq)
{
	if (seq < n->seq_next)
		return;   /* a replay of older words */
	if (seq != n->seq_next)
		n->hello_fresh = false;
	n->seq_next = seq + 1;
}

/* Hello m was reconciled and committed: the next may be coalesced. */
static void hello_fresh(rsd *d, rsd_node *n, const rs_msg *m)
{
	n->hello_fresh = (n->features & RS_FEAT_ORDERS) && n->sm.state == NM_UP;
	n->seq_next = m->seq + 1;
	n->fresh_troubles = d->store_troubles;
	n->fresh_epoch = m->epoch;
}

static bool hello_same_facts(const rsd_node *n, const rs_hello *h)
{
	if (strcmp(n->n.boot_id, h->boot_id) != 0 ||
	    strcmp(n->n.agent_version, h->agent_version) != 0 ||
	    n->n.capacity != h->capacity || n->nlabels != h->nlabels)
		return false;
	for (size_t i = 0; i < h->nlabels; i++)
		if (!n->labels[i] || !h->labels[i] || strcmp(n->labels[i], h->labels[i]))
			return false;
	return true;
}

/* Whether Hello m from peer may be answered without reconciling (see
 * above). Acknowledges the orders m acknowledges (the full path would). */
static bool hello_coalesce(rsd *d, rsd_node *n, const net_peer *peer,
			   const rs_msg *m)
{
	const rs_hello *h = &m->u.hello;

	if (!n->hello_fresh || !n->connected || n->sm.state != NM_UP ||
	    !same_peer(&n->peer, peer) || h->session != n->session ||
	    m->seq != n->seq_next || !(n->features & RS_FEAT_ORDERS) ||
	    m->features != n->features || d->store_failing ||
	    d->store_troubles != n->fresh_troubles || !hello_same_facts(n, h))
		return false;
	/* still the epoch it followed then (it has not had our Welcome yet:
	 * the orders sent since are ones it will take after that Welcome,
	 * which reaches it first), or ours, with orders we sent */
	if (m->epoch != d->epoch)
		return m->epoch == n->fresh_epoch;
	return orders_out_ack(&n->out, m->order_ack) == 0;
}

/* Where the chain of the agent's events starts (RS_FEAT_EVCHAIN,
 * lib/evchain.h): kept for the same process, else from its Hello. */
static void hello_chain(rsd *d, rsd_node *n, const rs_hello *h, bool same)
{
	if (evchain_hello(&n->ev, same, h->events_from)) {
		d->events_given_up++;
		log_warnx("node %s let events go that rsd never took (its ring of "
			  "unacknowledged events overflowed): the event log misses "
			  "some before seq %llu", n->n.name,
			  (unsigned long long)h->events_from);
	}
	n->session = h->session;
	n->acked_seq = n->ev.through;
}

/* Answers a coalesced Hello: heard (nodesm: up stays up, nothing to
 * persist), its seq is the node's last Hello (what it replays below it
 * is history, as after any Hello), a Welcome naming it. No store
 * transaction, no reconciliation. */
static void hello_again(rsd *d, rsd_node *n, const rs_msg *m)
{
	nodesm_fx fx;

	if (nodesm_step(&n->sm, &d->ncfg, NM_EV_HELLO, clock_mono_ms(), &fx) < 0)
		return;
	rsd_node_heard(d, n);
	n->hello_seq = m->seq;
	n->seq_next = m->seq + 1;
	if (m->features & RS_FEAT_EVCHAIN)
		hello_chain(d, n, &m->u.hello, true);
	n->replay_seen = n->acked_seq;
	n->n.last_seen_ms = clock_wall_ms();
	if (fx.fx & NM_FX_WELCOME)
		send_simple(d, n, RS_MSG_WELCOME);
	d->hellos_coalesced++;
	log_debug("node %s said hello again (seq %llu): welcomed, nothing to reconcile",
		  n->n.name, (unsigned long long)m->seq);
}

static void on_hello(rsd *d, const net_peer *peer, const store_principal *who,
		     const rs_msg *m)
{
	const rs_hello *h = &m->u.hello;
	rsd_node *n = rsd_node_find(d, h->node);
	bool same_agent;
	nodesm_fx fx;

	if (!d->insecure && strcmp(h->node, who->name) != 0) {
		log_warnx("hello for node '%s' from the key of node '%s', refused",
			  h->node, who->name);
		d->rejected_identity++;
		rsd_auth_count(d, RSD_EP_AGENTS, RSD_AUTH_WRONG_NODE);
		rsd_auth_refuse_agent(d, peer, RS_E_FORBIDDEN,
				      "this key belongs to another node");
		return;
	}
	if (!rs_label_valid(h->node)) {
		d->rejected_identity++;
		return;
	}
	if (n && duplicate_agent(d, n, peer, h)) {
		if (n->dup_session != h->session) {
			n->dup_session = h->session;
			log_warnx("a second agent says hello as node %s while its agent "
				  "is connected; refused", h->node);
			rsd_batch_flush(d);
			if (store_begin(d->st) == 0) {
				rsd_event(d, NULL, 0, h->node, "duplicate-node",
					  "a second agent (session %llx) said hello as %s "
					  "while its agent is connected; refused",
					  (unsigned long long)h->session, h->node);
				rsd_commit(d);
			}
		}
		rsd_auth_count(d, RSD_EP_AGENTS, RSD_AUTH_WRONG_NODE);
		rsd_auth_refuse_agent(d, peer, RS_E_EXISTS, "another agent is "
				      "connected as this node; this one is refused "
				      "and starts nothing");
		return;
	}
	if (n && h->session && h->session == n->session && m->seq <= n->hello_seq) {
		/* a copy of a Hello of the process rsd follows that rsd has
		 * taken, or of an older one (a frame that came again, or late
		 * from a connection the agent left): it says what is older
		 * than what rsd has. Taken, it reconciled an old view, reset
		 * what was acknowledged and recorded the replay again
		 * (test_sim) */
		d->hellos_stale++;
		log_debug("node %s: a copy of hello seq %llu (rsd has %llu); ignored",
			  n->n.name, (unsigned long long)m->seq,
			  (unsigned long long)n->hello_seq);
		return;
	}
	if (n && hello_coalesce(d, n, peer, m)) {
		hello_again(d, n, m);
		return;
	}
	if (!n) {
		n = calloc(1, sizeof *n);
		if (!n)
			return;
		rs_strlcpy(n->n.name, h->node, sizeof n->n.name);
		nodesm_init(&n->sm, clock_mono_ms());
		rsd_node_link(d, n);
	}
	same_agent = n->connected && h->session == n->session;
	rsd_agent_flush(d, n);   /* what this turn had for its old connection */
	n->peer = *peer;
	n->connected = true;
	rsd_node_placeable(d, n);
	n->hello_seq = m->seq;
	if (m->features & RS_FEAT_EVCHAIN) {
		hello_chain(d, n, h, h->session == n->session &&
			    (n->features & RS_FEAT_EVCHAIN));
	} else if (h->session != n->session || m->seq <= n->acked_seq) {
		/* a new agent process: its seq restarted, and what it sent
		 * before this Hello may not have reached us */
		n->acked_seq = 0;
		n->session = h->session;
	}
	n->features = m->features;
	/* (without RS_FEAT_EVCHAIN) what it replays now (seq < this
	 * Hello's) is deduplicated apart from what it sends after: new
	 * events can overtake the replay */
	n->replay_seen = n->acked_seq;
	rs_strlcpy(n->n.boot_id, h->boot_id, sizeof n->n.boot_id);
	rs_strlcpy(n->n.agent_version, h->agent_version, sizeof n->n.agent_version);
	rs_strlcpy(n->cgroups, m->features & RS_FEAT_CGROUP ? h->cgroups : "",
		   sizeof n->cgroups);
	n->controllers = m->features & RS_FEAT_LIMITS ? h->controllers : 0;
	n->privs = m->features & RS_FEAT_PROFILE ? h->privs : 0;
	n->n.capacity = h->capacity;
	rsd_node_set_labels(n, h->labels, h->nlabels);
	n->n.last_seen_ms = clock_wall_ms();
	if (hello_record(d, n, m, same_agent, &fx) < 0)
		return;
	/* (a failed batch commit counts a store trouble: not fresh then) */
	hello_fresh(d, n, m);
	log_info("node %s said hello (%zu instances)", n->n.name, h->ninstances);
	d->batch_check = true;   /* pending and parked requests, after the commit */
}

/* What rsd does when an instance stopped for good or waits for a script:
 * run the recovery script, raise a critical failure. */
static void after_death(rsd *d, rsd_inst *in, rs_event_kind kind)
{
	rsd_svc *s = rsd_svc_find(d, in->si.info.label);
	const rs_iinfo *i = &in->si.info;
	int r;

	if (!s || s->s.desired != RS_WANT_UP || rsd_pending_for(d, i->label))
		return;
	if (kind == RS_EK_EXITED && i->state == RS_IS_EXITED && s->s.spec.script) {
		r = rsd_script_run(d, s->s.spec.script, i->label, i->id,
				   i->last_exit.reason, i->restarts + 1);
		if (r < 0)
			rsd_event(d, i->label, i->id, in->si.node, "script-failed",
				  "cannot run %s: %s", s->s.spec.script, strerror(-r));
		else
			rsd_event(d, i->label, i->id, in->si.node, "script",
				  "%s %s %s %u", s->s.spec.script, i->label,
				  script_reason(i->last_exit.reason),
				  i->restarts + 1);
	}
	if (kind == RS_EK_FAILED && i->state == RS_IS_FAILED && s->s.spec.critical) {
		d->critical_failures++;
		rsd_count(d, "critical", i->label, "", "");
		log_warnx("CRITICAL: service %s failed for good on node %s", i->label,
			  in->si.node);
		rsd_event(d, i->label, i->id, in->si.node, "critical",
			  "critical service failed: %s", in->detail);
	}
}

/* The metrics an event feeds (histograms, backoff, counters). */
static void event_metrics(rsd *d, rsd_node *n, rsd_inst *in, const rs_ievent *e,
			  bool history)
{
	if (!history && e->kind == RS_EK_STARTED && e->latency_us)
		prom_hist_observe(&d->h_restart, e->latency_us / 1e6);
	if (!history && e->kind == RS_EK_READY && e->info.ready_ms >= e->info.started_ms &&
	    e->info.started_ms)
		prom_hist_observe(&d->h_ready, (double)(e->info.ready_ms - e->info.started_ms) / 1e3);
	if (!history && (e->kind == RS_EK_BACKOFF || e->kind == RS_EK_READY)) {
		rsd_svc *bs = rsd_svc_find(d, e->info.label);
		if (bs)
			bs->backoff_ms = e->kind == RS_EK_BACKOFF ? e->backoff_ms : 0;
	}
	/* a restart is counted by the first event that shows a higher count */
	if (in && !history && e->info.restarts > in->si.info.restarts)
		rsd_count(d, "restart", e->info.label, n->n.name,
			  rs_exit_reason_to_string(e->info.last_exit.reason));
	if (e->kind == RS_EK_WATCHDOG)
		rsd_count(d, "watchdog", e->info.label, n->n.name, "");
}

/* A start that rsctl waits for (up, restart, clone) died before ready:
 * its request fails at once with the reason, while the agent retries by
 * the restart policy (a failed init is retried with the backoff). */
static void note_start_failure(rsd *d, const rsd_inst *in, const char *detail)
{
	rsd_pending *p = rsd_pending_for(d, in->si.info.label);

	/* an apply waits on its services by label */
	for (rsd_pending *a = d->pending; a && !p; a = a->next)
		for (size_t i = 0; a->verb == RS_V_APPLY && i < a->napply; i++)
			if (!strcmp(a->apply[i], in->si.info.label))
				p = a;
	if (!p || p->start_died || (p->verb != RS_V_UP && p->verb != RS_V_RESTART &&
				    p->verb != RS_V_CLONE && p->verb != RS_V_APPLY))
		return;
	if (p->verb == RS_V_APPLY)
		rs_strlcpy(p->died_label, in->si.info.label, sizeof p->died_label);
	if (p->verb != RS_V_UP && p->verb != RS_V_APPLY && p->inst_id != in->si.info.id)
		return;   /* restart, clone: only the instance it started */
	p->start_died = true;
	rs_strlcpy(p->died_detail, detail && *detail ? detail :
		   rs_exit_reason_to_string(in->si.info.last_exit.reason),
		   sizeof p->died_detail);
	rs_strlcpy(p->died_node, in->si.node, sizeof p->died_node);
}

static void on_event(rsd *d, rsd_node *n, const rs_msg *m)
{
	const rs_ievent *e = &m->u.event;
	rsd_inst *in = rsd_inst_find(d, e->info.id);
	bool history = m->seq < n->hello_seq;   /* replayed, state is older */
	bool upd, dies;
	int r;

	if (n->features & RS_FEAT_EVCHAIN) {
		evchain_verdict v = evchain_take(&n->ev, m->seq, e->prev_seq);

		if (v == EVC_DUP)
			return;   /* already taken */
		if (v != EVC_NEW) {
			/* dropped, unacknowledged: the agent keeps it, and
			 * replays it after the Hello this asks for */
			if (d->events_refused++ % 100 == 0)
				log_warnx("node %s: event seq %llu (after %llu) is %s for "
					  "rsd's chain of its events (through %llu, %zu "
					  "ahead); dropped, asking for a hello",
					  n->n.name, (unsigned long long)m->seq,
					  (unsigned long long)e->prev_seq,
					  evchain_verdict_to_string(v),
					  (unsigned long long)n->ev.through, n->ev.n);
			rsd_ask_hello(d, n);
			return;
		}
		n->acked_seq = n->ev.through;
	} else if (history) {
		if (m->seq <= n->replay_seen)
			return;   /* already seen */
		n->replay_seen = m->seq;
	} else {
		if (m->seq <= n->acked_seq && n->acked_seq)
			return;   /* already seen */
		n->acked_seq = m->seq;
	}
	/* what the agent reports is a fact: the table takes it even if the
	 * store cannot; only the switch-over is a decision (undone if its
	 * transaction fails). The transaction is the wake-up's (group
	 * commit): committed when its messages are handled, or below */
	if ((r = rsd_tx_batch(d)) < 0)
		rsd_store_trouble(d, "an agent's event", r);
	else
		rsd_event(d, e->info.label, e->info.id, n->n.name,
			  rs_event_kind_to_string(e->kind), "%s", e->detail ? e->detail : "");
	event_metrics(d, n, in, e, history);
	if (in && !history && strcmp(in->si.node, n->n.name) == 0) {
		bool death = e->kind == RS_EK_EXITED || e->kind == RS_EK_BACKOFF ||
			     e->kind == RS_EK_FAILED || e->kind == RS_EK_WATCHDOG;
		unsigned fx;

		if (death || e->info.pid != in->si.info.pid)
			in->use = (rs_usage){ 0 };   /* another process's */
		fx = inst_report(d, in, &e->info, death);

		if (e->detail)
			rs_strlcpy(in->detail, e->detail, sizeof in->detail);
		if ((fx & IM_FX_DIED) && e->kind != RS_EK_WATCHDOG)
			note_start_failure(d, in, e->detail);
		if (r == 0 && (fx & IM_FX_PERSIST))
			inst_persist(d, in);
		if (r == 0 && (fx & IM_FX_SWITCH))
			rsd_switch_over(d, in);
		if (r == 0)
			fenced_back(d, n, in);
	}
	/* update outcomes count even when replayed (a link that blinked) */
	upd = in && strcmp(in->si.node, n->n.name) == 0 &&
	      e->kind >= RS_EK_UPDATE_PREPARE && e->kind <= RS_EK_UPDATE_ROLLBACK;
	dies = in && !history && (e->kind == RS_EK_EXITED || e->kind == RS_EK_FAILED);
	if (!upd && !dies) {
		d->batch_check = true;   /* after the batch's commit */
		return;
	}
	/* what follows decides (an update's next step) or acts (a recovery
	 * script): on what is committed */
	rsd_batch_flush(d);
	if (upd)
		rsd_update_event(d, in, e->kind, e->detail);
	if (dies)
		after_death(d, in, e->kind);
	rsd_pending_check(d);
}

rs_node_state rsd_node_state_of(nodesm_state s)
{
	static const rs_node_state of[NM__NR] = {
		[NM_UNKNOWN] = RS_NS_UNKNOWN, [NM_UP] = RS_NS_UP,
		[NM_SUSPECT] = RS_NS_SUSPECT, [NM_LOST] = RS_NS_LOST,
		[NM_FENCED] = RS_NS_FENCED,
	};

	return (unsigned)s < NM__NR ? of[s] : RS_NS_UNKNOWN;
}

void rsd_node_cfg(nodesm_cfg *c, uint32_t ttl_ms, uint32_t margin_ms)
{
	c->ttl_ms = ttl_ms;
	c->suspect_ms = ttl_ms * 3ull / 4 ? ttl_ms * 3ull / 4 : 1;
	c->lease_ms = ttl_ms;        /* what Welcome tells the agents */
	c->margin_ms = margin_ms;
	/* a wave of Hellos after a restart may hold back the loss of the
	 * nodes not heard yet for this long; rsd_load sets it again once it
	 * knows how many nodes there are (nodesm_startup_ms) */
	c->startup_ms = nodesm_startup_ms(ttl_ms, 0);
}

/* The node's live instances are lost: a fact rsd observed, which the
 * table takes even if the store cannot (recorded false). The
 * switch-overs are decisions, undone if their transaction fails. */
static void node_instances_lost(rsd *d, rsd_node *n, bool recorded)
{
	for (rsd_inst *in = rsd_node_insts(d, n->n.name); in; in = rsd_node_insts_next(d, in)) {
		instsm_fx fx;

		if (rsd_inst_move(d, in, IM_EV_NODE_LOST, NULL, &fx) < 0 || !fx.fx ||
		    !recorded)
			continue;
		if (fx.fx & IM_FX_PERSIST)
			inst_persist(d, in);
		if (fx.fx & IM_FX_EVENT)
			rsd_event(d, in->si.info.label, in->si.info.id, n->n.name, fx.event,
				  "node %s lost", n->n.name);
		if (fx.fx & IM_FX_SWITCH)
			rsd_switch_over(d, in);
	}
}

/* The event row of a move nodesm decided, quiet ms after the last word. */
static void node_state_event(rsd *d, rsd_node *n, uint64_t quiet, nodesm_event ev)
{
	const char *kind = NULL;
	char what[160];

	if (ev == NM_EV_REVOKE) {
		rsd_event(d, NULL, 0, n->n.name, "node-lost", "its key was revoked");
		return;
	}
	switch (n->sm.state) {
	case NM_SUSPECT:
	case NM_LOST:
		kind = n->sm.state == NM_SUSPECT ? "node-suspect" : "node-lost";
		snprintf(what, sizeof what, "no heartbeat for %llu ms",
			 (unsigned long long)quiet);
		break;
	case NM_FENCED:
		kind = "node-fenced";
		snprintf(what, sizeof what, "silent for %llu ms (lease %llu + margin %llu): "
			 "its fence: stop instances are stopped there; each may run "
			 "elsewhere after its stop timeout", (unsigned long long)quiet,
			 (unsigned long long)d->ncfg.lease_ms,
			 (unsigned long long)d->ncfg.margin_ms);
		break;
	case NM_UP:
		kind = "node-up";
		snprintf(what, sizeof what, "heard again after %llu ms",
			 (unsigned long long)quiet);
		break;
	default:
		return;
	}
	rsd_event(d, NULL, 0, n->n.name, kind, "%s", what);
}

static void node_event_at(rsd *d, rsd_node *n, nodesm_event ev,
			  const net_peer *peer, uint64_t now, bool join);

void rsd_node_event(rsd *d, rsd_node *n, nodesm_event ev, const net_peer *peer)
{
	node_event_at(d, n, ev, peer, clock_mono_ms(), false);
}

void rsd_node_tick(rsd *d, rsd_node *n, uint64_t until)
{
	/* nodes not heard since this rsd started come back one after the
	 * other (5,000 took seconds here): while they do, the ones not
	 * back yet are probably in the same wave (lib/nodesm.h RETURNS) */
	nodesm_tell_return(&n->sm, &d->ncfg, d->nodes_returned_ms);
	if (until >= n->sm.heard_ms)
		node_event_at(d, n, NM_EV_TICK, NULL, until, true);
}

/* join: into the open batch (rsd_tx_batch), which the caller commits and
 * checks the pending requests after (the period: every node's move of
 * one period in one transaction; 5,000 nodes lost at once were 5,000
 * commits and 5,000 walks of the pending requests, 12 s) */
static void node_event_at(rsd *d, rsd_node *n, nodesm_event ev,
			  const net_peer *peer, uint64_t now, bool join)
{
	uint64_t quiet = now >= n->sm.word_ms ? now - n->sm.word_ms : 0;
	uint64_t heard = n->sm.heard_ms;
	nodesm_state from = n->sm.state;
	nodesm_fx fx;
	int r;

	if (nodesm_step(&n->sm, &d->ncfg, ev, now, &fx) < 0) {
		log_warnx("node %s: %s refused in membership state %s", n->n.name,
			  nodesm_event_to_string(ev), nodesm_state_to_string(from));
		return;
	}
	if (n->sm.heard_ms != heard)
		rsd_node_heard(d, n);
	n->n.state = rsd_node_state_of(n->sm.state);
	rsd_node_placeable(d, n);
	if ((fx.fx & NM_FX_REHELLO) && peer)
		send_rehello_to(d, n, peer);
	if (!(fx.fx & (NM_FX_PERSIST | NM_FX_EVENT | NM_FX_MOVE | NM_FX_MOVE_FENCED)))
		return;
	if (n->sm.state == NM_LOST || n->sm.state == NM_FENCED) {
		n->connected = false;   /* its next message gets a Rehello */
		rsd_node_placeable(d, n);
		/* its Hello (a new connection) voids them anyway; a down of
		 * its instances must not wait for their acknowledgement */
		orders_out_void(&n->out);
	}
	if (from != n->sm.state)
		(n->sm.state == NM_UP ? log_info : log_warnx)(
			"node %s: %s -> %s (no word for %llu ms)", n->n.name,
			nodesm_state_to_string(from), nodesm_state_to_string(n->sm.state),
			(unsigned long long)quiet);
	r = join ? rsd_tx_batch(d) : rsd_tx_begin(d);
	if (r < 0)
		rsd_store_trouble(d, "a node's membership", r);
	if (r == 0 && (fx.fx & NM_FX_PERSIST))
		node_persist(d, n);
	if (r == 0 && (fx.fx & NM_FX_EVENT))
		node_state_event(d, n, quiet, ev);
	if (fx.fx & NM_FX_MOVE)
		node_instances_lost(d, n, r == 0);
	if (join)
		return;   /* the caller's rsd_batch_flush, then its checks */
	if (r == 0 && (r = rsd_tx_commit(d)) < 0)
		rsd_store_trouble(d, "a node's membership", r);
	/* moves (NM_FX_MOVE*) are their own decision, the caller's to make
	 * after this one committed (or not: the table holds the facts;
	 * rescheduling records its own): rsd_reschedule_lost */
	rsd_pending_check(d);
}

/* Where a lost instance may go now: NULL if its service is not wanted, is
 * pinned (it waits for its node), or there is no other node (yet). */
static rsd_node *reschedule_target(rsd *d, rsd_inst *in)
{
	rsd_svc *s;
	rsd_node *to, *from;

	if (in->si.info.state != RS_IS_LOST)
		return NULL;
	s = rsd_svc_find(d, in->si.info.label);
	if (!s || s->s.desired != RS_WANT_UP || s->s.spec.node[0] ||
	    rsd_inst_superseded(d, in))
		return NULL;
	/* nodesm says when the copy on the silent node is surely gone (a
	 * fenced one: lease + stop timeout + margin) */
	from = rsd_node_find(d, in->si.node);
	if (from && !nodesm_releases(&from->sm, &d->ncfg,
				     s->s.spec.fence != RS_FENCE_NONE,
				     s->s.spec.stop_timeout_ms, clock_mono_ms()))
		return NULL;
	to = rsd_place_label(d, "", in->si.node, in->si.info.label);
	return to && strcmp(to->n.name, in->si.node) != 0 ? to : NULL;
}

/* Inside the transaction: moves in to node to (saved; Start held). */
static void reschedule_one(rsd *d, rsd_inst *in, rsd_node *to)
{
	rsd_svc *s = rsd_svc_find(d, in->si.info.label);
	char from[RS_NODE_MAX];
	instsm_fx fx;

	if (rsd_inst_move(d, in, IM_EV_MOVE, NULL, &fx) < 0)
		return;
	rs_strlcpy(from, in->si.node, sizeof from);
	rsd_inst_set_node(d, in, to->n.name);
	in->si.info.generation = s->s.generation;
	inst_persist(d, in);
	rsd_event(d, in->si.info.label, in->si.info.id, to->n.name, fx.event,
		  "from lost node %s to %s", from, to->n.name);
	if (fx.fx & IM_FX_START)
		rsd_send_start(d, in);
	log_info("%s/%llu: rescheduling from lost node %s to %s", in->si.info.label,
		 (unsigned long long)in->si.info.id, from, to->n.name);
}

static void move_cb(struct ev_loop *loop, ev_timer *w, int revents);

/* The period's candidates (d->moves_ids): the lost instances of the nodes
 * not up, by id (a turn looks each up again: one freed meanwhile is
 * skipped). Empty while most of the cluster is not up. */
static void moves_gather(rsd *d)
{
	size_t known = 0, up = 0;
	bool paused;

	d->moves_n = d->moves_i = 0;
	/* no instance lost (most ticks): no walk of the nodes; while paused
	 * the walk goes on, to say when the moves go on */
	if (!d->inst_nstate[RS_IS_LOST] && !d->resched_paused)
		return;
	/* most of a big cluster not up at once (rsd restarted under it, a
	 * partition): wait, rather than pile every lost instance on the few
	 * nodes left (lib/nodesm.h nodesm_mass_loss) */
	for (rsd_node *nd = d->nodes; nd; nd = nd->next, known++)
		up += nodesm_counts_up(&nd->sm, &d->ncfg, d->member_until);
	paused = nodesm_mass_wait(nodesm_mass_loss(known, up), &d->mass_seen_ms,
				  d->member_until, d->ncfg.ttl_ms);
	if (paused != d->resched_paused)
		(paused ? log_warnx : log_info)("%zu of %zu nodes are not up (or silent "
						"half the TTL): moving instances "
						"off lost nodes %s", known - up, known,
						paused ? "waits until most are back "
						"(and a TTL after)" : "goes on");
	d->resched_paused = paused;
	if (paused)
		return;
	/* lost instances are on nodes that are not up (a node's Hello
	 * reconciles every instance placed there): those nodes' instances
	 * only (a move takes one off its node's walk) */
	for (rsd_node *nd = d->nodes; nd; nd = nd->next) {
		/* a cold start's 5,000 unknown nodes have none: walking their
		 * 150,000 instances took 7-8 ms a period */
		if (nd->sm.state == NM_UP || !nd->lost)
			continue;
		for (rsd_inst *in = rsd_node_insts(d, nd->n.name); in;
		     in = rsd_node_insts_next(d, in)) {
			if (in->si.info.state != RS_IS_LOST)
				continue;
			uint64_t *v = rs_grow(d->moves_ids, &d->moves_cap, d->moves_n,
					      sizeof *v, 64);

			if (!v)
				return;   /* the rest at the next period */
			d->moves_ids = v;
			d->moves_ids[d->moves_n++] = in->si.info.id;
		}
	}
}

/* A turn's moves (moves_turn): the period's candidates from moves_i on,
 * at most RSD_MOVE_SLICE (RS_MOVE_SLICE) or RSD_MOVE_SLICE_MS of them, and
 * at most max_moves in the period, in one transaction. Nothing moves (and
 * nothing starts) unless it commits: the lost instances stay lost and are
 * tried again at the next period. Returns whether the next turn has more
 * to try. */
static bool move_slice(rsd *d)
{
	size_t moved = 0, most, slice;
	bool began = false, more = false;
	int r = 0;
	uint64_t t0 = clock_mono_ns();

	/* at most max_moves a period: the rest wait a period (a node that
	 * comes back meanwhile keeps them), the loop never stands still */
	most = d->max_moves ? d->max_moves : RSD_DEF_MAX_MOVES;
	slice = d->move_slice ? d->move_slice : RSD_MOVE_SLICE;
	while (d->moves_i < d->moves_n && d->moves_period + moved < most) {
		rsd_inst *in;
		rsd_node *to;

		if (moved == slice || (moved && clock_mono_ns() - t0 >=
					   RSD_MOVE_SLICE_MS * 1000000ull)) {
			more = true;   /* the next turn's */
			break;
		}
		in = rsd_inst_find(d, d->moves_ids[d->moves_i++]);
		if (!in || !(to = reschedule_target(d, in)))
			continue;
		if (!began && (r = rsd_tx_begin(d)) < 0)
			break;
		began = true;
		reschedule_one(d, in, to);
		moved++;
	}
	if (!more && r == 0 && d->moves_period + moved == most &&
	    d->moves_i < d->moves_n && !d->moves_warned) {
		log_warnx("moved %zu instances off lost nodes this period (--max-moves); "
			  "up to %zu more wait for the next", most, d->moves_n - d->moves_i);
		d->moves_warned = true;
	}
	if (began)
		r = rsd_tx_commit(d);
	d->moves_turns++;
	d->moves_ns += clock_mono_ns() - t0;
	if (r < 0) {
		rsd_store_trouble(d, "rescheduling", r);
		return false;
	}
	d->moves_done += moved;
	d->moves_period += moved;
	return more;
}

/* The moves said, once they are done (or the next period begins): what
 * they cost (--max-moves) and over how long. */
static void moves_said(rsd *d)
{
	if (d->moves_done)
		log_info("moved %zu instances off lost nodes in %.1f ms, %u turn%s over "
			 "%.1f ms", d->moves_done, (double)d->moves_ns / 1e6,
			 d->moves_turns, d->moves_turns == 1 ? "" : "s",
			 (double)(clock_mono_ns() - d->moves_t0) / 1e6);
	d->moves_done = d->moves_n = d->moves_i = 0;
	d->moves_ns = 0;
	d->moves_turns = 0;
}

static void moves_turn(rsd *d)
{
	if (move_slice(d)) {
		ev_timer_init(&d->move_t, move_cb, 0., 0.);
		d->move_t.data = d;
		ev_timer_start(d->loop, &d->move_t);   /* after the others' turn */
	} else {
		moves_said(d);
	}
}

static void move_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	moves_turn(w->data);
}

/* The moves off lost nodes a turn at a time: 3,000 instances of 100
 * nodes lost at once were one turn of 120-260 ms (5,000 x 30), which
 * every control request and agent message waited out. A period begins
 * --max-moves anew (and cuts short the moves of the one before); a tick
 * between periods moves what was lost since, within what is left of it,
 * unless moves are under way (their end leaves the rest to the next). */
void rsd_reschedule_lost(rsd *d, bool period)
{
	if (ev_is_active(&d->move_t)) {
		if (!period)
			return;
		ev_timer_stop(d->loop, &d->move_t);   /* the last period's */
		moves_said(d);
	}
	if (period) {
		d->moves_period = 0;
		d->moves_warned = false;
	} else if (d->moves_period >= (d->max_moves ? d->max_moves : RSD_DEF_MAX_MOVES)) {
		return;   /* the period's are made */
	}
	d->moves_t0 = clock_mono_ns();
	moves_gather(d);
	moves_turn(d);
}

void rsd_reschedule_stop(rsd *d)
{
	ev_timer_stop(d->loop, &d->move_t);
	free(d->moves_ids);
	d->moves_ids = NULL;
	d->moves_n = d->moves_i = d->moves_cap = 0;
}

void rsd_agents_batch_end(net_sock *s, void *arg)
{
	(void)s;
	rsd_batch_flush(arg);
}

/* Decodes buf from peer into *m, counted; false (counted, logged) if it
 * is no message. */
static bool agent_decode(rsd *d, const uint8_t *buf, size_t len, rs_msg *m)
{
	int r = wire_decode(buf, len, m);

	if (r < 0) {
		d->rejected[-r < WIRE_E__NR ? -r : WIRE_E_GARBAGE]++;
		log_warnx("bad message from an agent (%s, %zu bytes), dropped",
			  wire_err_to_string(-r), len);
		return false;
	}
	d->agent_msgs[(unsigned)m->type < RS_MSG__NR ? m->type : RS_MSG_NONE]++;
	return true;
}

static void agent_msg(rsd *d, const net_peer *peer, const store_principal *who,
		      const rs_msg *m);

/* The wake-up's batch so far, with the rows it writes at its end, used
 * the budget up: the agents' socket reads no more this turn (the rest
 * after the other ready watchers). The rows are written at the commit,
 * after the reading that NET_BATCH_MS bounds: they had doubled a cold
 * start's turns. And every RSD_CTL_PEEK_NS it looks whether a control
 * request waits: then it yields too, so an operator's request waits for
 * the part of a wake-up read so far and its commit, not for all 2 ms. */
static void agents_budget(rsd *d, net_sock *s)
{
	uint64_t row_ns = d->row_ns ? d->row_ns : RSD_ROW_NS_0, now;

	if (!d->tx_open || !d->tx_batch)
		return;
	now = clock_mono_ns();
	if (now - d->batch_t0_ns + d->nbatch_rows * row_ns >= RSD_WAKE_NS) {
		net_sock_yield(s);
		return;
	}
	if (now >= d->ctl_peek_ns) {
		d->ctl_peek_ns = now + RSD_CTL_PEEK_NS;
		if (net_sock_waiting(d->control)) {
			d->ctl_yields++;
			net_sock_yield(s);
		}
	}
}

void rsd_agents_recv(net_sock *s, const net_peer *peer, const uint8_t *buf,
		     size_t len, void *arg)
{
	rsd *d = arg;
	const store_principal *who = rsd_auth_peer(d, RSD_EP_AGENTS, peer);
	uint64_t gen = d->principals_gen;
	rs_msg m, item;

	if (!who)
		return;   /* not (or no longer) admitted: no answer */
	if (!agent_decode(d, buf, len, &m))
		return;
	if (m.type != RS_MSG_BATCH) {
		agent_msg(d, peer, who, &m);
		rs_msg_clear(&m);
		agents_budget(d, s);
		return;
	}
	/* a turn of the agent's (RS_FEAT_BATCH): each item as if it had
	 * come alone, in order; its sender looked up once a frame (a cold
	 * start's frames carry 60 events each), again only if an item
	 * changed the principals (who points into their table) */
	for (size_t i = 0; i < m.u.batch.nitems; i++) {
		if (d->principals_gen != gen) {
			gen = d->principals_gen;
			if (!(who = rsd_auth_peer(d, RSD_EP_AGENTS, peer)))
				break;   /* revoked meanwhile: the rest dropped */
		}
		if (!agent_decode(d, m.u.batch.items[i].buf, m.u.batch.items[i].len,
				  &item))
			continue;
		if (item.type == RS_MSG_BATCH) {
			d->rejected[WIRE_E_TYPE]++;
			log_warnx("a batch inside a batch from an agent, dropped");
		} else {
			agent_msg(d, peer, who, &item);
		}
		rs_msg_clear(&item);
	}
	rs_msg_clear(&m);
	agents_budget(d, s);
}

/* The usage a beat from n carries (RS_FEAT_USAGE), kept in memory for
 * status and /metrics: a hash lookup per entry, no store write. An entry
 * for an instance rsd does not know, or knows on another node, is
 * counted and dropped. */
static void beat_usage(rsd *d, const rsd_node *n, const rs_beat *b)
{
	for (size_t i = 0; i < b->nusage; i++) {
		const rs_usage *u = &b->usage[i];
		rsd_inst *in = rsd_inst_find(d, u->instance_id);

		if (!in || strcmp(in->si.node, n->n.name) != 0) {
			d->usage_ignored++;
			continue;
		}
		in->use = *u;
		if (!in->use.time_ms)
			in->use.time_ms = 1;   /* (0 says "none") */
		d->usage_taken++;
	}
}

/* One message from an agent (on its own or an item of a batch), from who
 * (rsd_auth_peer's, current). */
static void agent_msg(rsd *d, const net_peer *peer, const store_principal *who,
		      const rs_msg *m)
{
	rsd_node *n;
	char why[300];

	/* only Hellos and events share the wake-up's transaction: the rest
	 * find the store as every one before them left it */
	if (m->type != RS_MSG_EVENT && m->type != RS_MSG_BEAT && m->type != RS_MSG_HELLO)
		rsd_batch_flush(d);
	if ((m->type == RS_MSG_HELLO || m->type == RS_MSG_ENROLL) &&
	    !rsd_version_ok(d, RSD_EP_AGENTS, m, why, sizeof why)) {
		/* outside the skew policy: told why; an event per enrolment
		 * and per agent process that says hello */
		n = m->type == RS_MSG_HELLO ? rsd_node_find(d, m->u.hello.node) : NULL;
		rsd_batch_flush(d);
		if ((m->type == RS_MSG_ENROLL ||
		     (n && n->skew_session != m->u.hello.session)) &&
		    store_begin(d->st) == 0) {
			if (n)
				n->skew_session = m->u.hello.session;
			rsd_event(d, NULL, 0, n ? n->n.name : m->u.enroll.node,
				  "version-refused", "%s", why);
			rsd_commit(d);
		}
		rsd_auth_refuse_agent(d, peer, RS_E_VERSION, why);
		return;
	}
	if (strcmp(who->kind, "join") == 0) {
		/* a join token's connection may only enrol */
		if (m->type == RS_MSG_ENROLL)
			rsd_enroll(d, peer, who, &m->u.enroll);
		else
			d->rejected_unexpected++;
		return;
	}
	if (m->type == RS_MSG_HELLO) {
		on_hello(d, peer, who, m);
		return;
	}
	n = node_of_peer(d, who, peer);
	if (!n || !n->connected) {
		send_rehello(d, peer);   /* we do not know it (yet): ask who it is */
		return;
	}
	rsd_node_event(d, n, NM_EV_MSG, peer);   /* heard; a Rehello if not up */
	if (n->sm.state != NM_UP)
		return;
	hello_note_seq(n, m->seq);
	/* every message acknowledges the orders applied so far */
	if ((n->features & RS_FEAT_ORDERS) && m->epoch == d->epoch &&
	    orders_out_ack(&n->out, m->order_ack) < 0) {
		if (d->orders_refused_acks++ % 100 == 0)
			log_warnx("node %s acknowledges order %llu, which rsd never sent "
				  "(last %llu); ignored", n->n.name,
				  (unsigned long long)m->order_ack,
				  (unsigned long long)n->out.last);
	}
	switch (m->type) {
	case RS_MSG_BEAT:
		if ((n->features & RS_FEAT_ORDERS) && m->epoch != d->epoch) {
			/* it follows another epoch: our Welcome never reached
			 * it. (Only a beat tells: replayed events keep the
			 * envelope of their time.) */
			send_rehello_to(d, n, peer);
			break;
		}
		n->n.last_seen_ms = clock_wall_ms();
		beat_usage(d, n, &m->u.beat);
		/* every other beat when the lease allows (lib/lease.h) */
		n->beat_skipped = !lease_answer_beat(d->ncfg.lease_ms, RSD_BEAT_MS,
						     n->beat_skipped,
						     n->acked_seq != n->told_seq);
		if (n->beat_skipped)
			break;
		{	/* the answer names the beat it answers: the agent's
			 * lease runs from when that beat left (lib/lease.h) */
			rs_msg ack;

			rs_msg_init(&ack, RS_MSG_BEAT_ACK);
			ack.u.beat_ack.time_ms = m->u.beat.time_ms;
			rsd_send_agent(d, n, &ack);
			rs_msg_clear(&ack);
		}
		break;
	case RS_MSG_EVENT:
		on_event(d, n, m);
		break;
	case RS_MSG_LOGS_DATA:
		rsd_logs_data(d, n, &m->u.logs_data);
		break;
	default:
		d->rejected_unexpected++;
		log_warnx("node %s sent a %s, which agents do not send; dropped",
			  n->n.name, rs_msg_type_to_string(m->type));
		break;
	}
}
