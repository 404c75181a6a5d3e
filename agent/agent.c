/*
 * agent.c - rs-agent's link to rsd: Hello, heartbeats, the replay of
 * unacknowledged events, and the dispatch of rsd's orders.
 *
 * Every event is sent with a sequence number and kept until rsd
 * acknowledges it (BeatAck/Welcome carry the ack); after a reconnect
 * the agent sends a Hello (its full current view) and then replays what
 * rsd has not seen, so nothing that happened while rsd was away is lost.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "probe.h"
#include "clock.h"
#include "codes.h"
#include "version.h"
#include "log.h"
#include "reslimits.h"
#include "replay.h"
#include "sdnotify.h"
#include "sendq.h"
#include "wire.h"

/* Encodes and sends m (only encodes it if hold); returns the encoded
 * buffer in *keep if asked. */
static int agent_send_ex(agent *ag, rs_msg *m, bool hold, uint8_t **keep,
			 size_t *keeplen)
{
	uint8_t *buf;
	size_t len;
	int r;

	m->seq = ++ag->seq;
	/* every message acknowledges rsd's orders applied so far */
	m->epoch = ag->oin.epoch;
	m->order_ack = ag->oin.applied;
	r = wire_encode(m, &buf, &len);
	if (r < 0) {
		log_warnx("cannot encode %s: %s", rs_msg_type_to_string(m->type),
			  strerror(-r));
		return r;
	}
	r = hold ? -EAGAIN : agent_out(ag, buf, len, m->type == RS_MSG_EVENT);
	if (keep) {
		*keep = buf;
		*keeplen = len;
	} else {
		free(buf);
	}
	return r;
}

static int agent_send(agent *ag, rs_msg *m, uint8_t **keep, size_t *keeplen)
{
	return agent_send_ex(ag, m, false, keep, keeplen);
}

static void knock_again(agent *ag);

/* ---- a turn's messages in one frame (lib/sendq.h) --------------------- */

/* Events that could not be sent wait in the ring for the next Welcome. */
static void events_held(agent *ag)
{
	if (ag->held)
		return;
	log_warnx("cannot send an event to rsd; events wait for the next Welcome");
	ag->held = true;
	knock_again(ag);
}

void agent_flush(agent *ag)
{
	uint8_t *buf;
	size_t len;
	bool events = ag->outq_events;
	int k = sendq_take(&ag->outq, &buf, &len);

	ag->outq_events = false;
	if (k == 0)
		return;
	if ((k < 0 || net_send(ag->link, NULL, buf, len) < 0) && events)
		events_held(ag);   /* (a beat or a log answer is just lost) */
	free(buf);
}

int agent_out(agent *ag, const uint8_t *buf, size_t len, bool event)
{
	int r;

	if (!(ag->rsd_features & RS_FEAT_BATCH))
		return net_send(ag->link, NULL, buf, len);
	if (!sendq_fits(&ag->outq, len))
		agent_flush(ag);
	r = sendq_push(&ag->outq, buf, len);
	if (r < 0)
		return r;
	ag->outq_events |= event;
	if (sendq_full(&ag->outq))
		agent_flush(ag);
	return 0;
}

static void out_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	(void)loop;
	(void)revents;
	agent_flush(w->data);
}

/* Drops replay entries rsd has acknowledged (seq <= ack). */
static void replay_ack(agent *ag, uint64_t ack)
{
	while (ag->replay_len) {
		replay_ent *e = &ag->replay[ag->replay_head];
		if (e->seq > ack)
			break;
		free(e->buf);
		e->buf = NULL;
		ag->replay_head = (ag->replay_head + 1) % AGENT_REPLAY_MAX;
		ag->replay_len--;
	}
}

static void replay_push(agent *ag, uint64_t seq, uint64_t prev, uint8_t *buf,
			size_t len)
{
	replay_ent *e;

	if (ag->replay_len == AGENT_REPLAY_MAX)
		replay_ack(ag, ag->replay[ag->replay_head].seq); /* drop oldest */
	e = &ag->replay[(ag->replay_head + ag->replay_len) % AGENT_REPLAY_MAX];
	e->seq = seq;
	e->prev = prev;
	e->buf = buf;
	e->len = len;
	ag->replay_len++;
}

/* Sends what rsd has not acknowledged, oldest first. One that cannot be
 * sent (the link is full or gone) holds it and every later event in the
 * ring, in order, until the next Welcome: sending a later one would let
 * rsd's acknowledgement pass over the gap and lose it. Only the events
 * sent before seq below: the later ones follow that Hello on the same
 * connection (a broken one makes a new Hello), unless events were held
 * (never sent): then all of them. */
static void replay_resend(agent *ag, uint64_t below)
{
	if (ag->held)
		below = REPLAY_ALL;
	ag->held = false;
	for (size_t i = 0; i < ag->replay_len; i++) {
		replay_ent *e = &ag->replay[(ag->replay_head + i) % AGENT_REPLAY_MAX];
		if (e->seq >= below)
			break;   /* the ring is in seq order */
		if (agent_out(ag, e->buf, e->len, true) < 0) {
			ag->held = true;
			knock_again(ag);
			return;
		}
	}
}

void agent_report(agent *ag, inst *in, rs_event_kind kind, const char *detail)
{
	rs_msg m;
	uint8_t *buf = NULL;
	size_t len = 0;

	if (kind == RS_EK_PROBE && !(ag->rsd_features_last & RS_FEAT_PROBES))
		return;   /* an older rsd would drop the whole message */
	if (in->primary) {
		/* an update's new process: handover.c reports for it */
		log_debug("%s/%llu (new version) %s pid %d: %s", in->spec.label,
			  (unsigned long long)in->primary->id,
			  rs_event_kind_to_string(kind), (int)in->pid,
			  detail ? detail : "");
		return;
	}
	rs_msg_init(&m, RS_MSG_EVENT);
	m.u.event.kind = kind;
	svc_fill_info(in, &m.u.event.info);
	m.u.event.detail = detail ? strdup(detail) : NULL;
	m.u.event.backoff_ms = kind == RS_EK_BACKOFF ? in->backoff_ms : 0;
	m.u.event.latency_us = kind == RS_EK_STARTED ? in->latency_us : 0;
	m.u.event.prev_seq = ag->event_seq;
	log_info("%s/%llu %s pid %d: %s", in->spec.label,
		 (unsigned long long)in->id, rs_event_kind_to_string(kind),
		 (int)in->pid, detail ? detail : "");
	if (agent_send_ex(ag, &m, ag->held, &buf, &len) < 0 && buf && !ag->held)
		events_held(ag);
	if (buf) {
		/* the chain links only events kept (one that could not be
		 * encoded is no link rsd would wait for) */
		replay_push(ag, m.seq, ag->event_seq, buf, len);
		ag->event_seq = m.seq;
	}
	rs_msg_clear(&m);
}

static void said_add(said_ring *r, uint64_t key, uint64_t mono)
{
	r->w[r->n % AGENT_SAID_KEPT].key = key;
	r->w[r->n % AGENT_SAID_KEPT].mono = mono;
	r->n++;
}

/* When the word an answer names (key) left: 0 if no longer kept (the
 * answer renews nothing); an answer that names none (an rsd 0.2): the
 * last word said. */
static uint64_t said_at(const agent *ag, const said_ring *r, uint64_t key)
{
	if (!key)
		return ag->said_ms;
	for (unsigned i = 0; i < AGENT_SAID_KEPT && i < r->n; i++)
		if (r->w[i].key == key)
			return r->w[i].mono;
	return 0;
}

static void agent_hello(agent *ag)
{
	rs_msg m;
	size_t n = 0;

	rs_msg_init(&m, RS_MSG_HELLO);
	rs_strlcpy(m.u.hello.node, ag->node, sizeof m.u.hello.node);
	rs_strlcpy(m.u.hello.boot_id, ag->boot_id, sizeof m.u.hello.boot_id);
	rs_strlcpy(m.u.hello.agent_version, rs_version(), sizeof m.u.hello.agent_version);
	m.u.hello.session = ag->session;
	/* where rsd's chain of our events starts: before the oldest kept
	 * (what the ring let go unacknowledged is given up) */
	m.u.hello.events_from = ag->replay_len ? ag->replay[ag->replay_head].prev :
				ag->event_seq;
	m.u.hello.capacity = ag->capacity;
	/* RS_FEAT_CGROUP: what the log said at the start (rsd ignores the
	 * field when it is older) */
	if (ag->cg_on)
		snprintf(m.u.hello.cgroups, sizeof m.u.hello.cgroups, "%.130s%s",
			 ag->cg_where, ag->cg_kill ? "" : ", no cgroup.kill");
	else
		snprintf(m.u.hello.cgroups, sizeof m.u.hello.cgroups, "none (%.150s)",
			 ag->cg_off ? ag->cg_off : ag->cg_where);
	/* RS_FEAT_LIMITS: the controllers it enforces limits with */
	m.u.hello.controllers = ag->cg_on && ag->keeper_proto >= 6 ? ag->cg_ctl : 0;
	/* RS_FEAT_PROFILE: what of a privilege profile it can apply */
	m.u.hello.privs = ag->privs;
	if (ag->nlabels) {
		m.u.hello.labels = calloc(ag->nlabels + 1, sizeof *m.u.hello.labels);
		for (size_t i = 0; m.u.hello.labels && i < ag->nlabels; i++)
			if ((m.u.hello.labels[m.u.hello.nlabels] = strdup(ag->labels[i])))
				m.u.hello.nlabels++;
	}
	for (inst *in = ag->insts; in; in = in->next)
		n += !in->primary;
	if (n) {
		m.u.hello.instances = calloc(n, sizeof(rs_iinfo));
		if (!m.u.hello.instances)
			n = 0;
	}
	m.u.hello.ninstances = n;
	n = 0;
	for (inst *in = ag->insts; in && n < m.u.hello.ninstances; in = in->next)
		if (!in->primary)
			svc_fill_info(in, &m.u.hello.instances[n++]);
	agent_send(ag, &m, NULL, NULL);
	ag->hello_seq = m.seq;
	said_add(&ag->hellos, m.seq, clock_mono_ms());
	ag->said_ms = clock_mono_ms();
	rs_msg_clear(&m);
}

/* The beat timer fires at the next knock (lib/backoff.h), not at the
 * next beat. */
static void knock_arm(agent *ag)
{
	ag->beat_t.repeat = knock_next_ms(&ag->kn) / 1000.0;
	ev_timer_again(ag->loop, &ag->beat_t);
}

/* Not welcomed any more (an event or a replay could not be sent): say
 * Hello at the next knock, the schedule going on from where it was (a
 * full link is not helped by knocking faster). */
static void knock_again(agent *ag)
{
	if (!ag->welcomed)
		return;
	ag->welcomed = false;
	knock_arm(ag);
}

void agent_link_up(agent *ag)
{
	/* a new connection to rsd: a restarted rsd (or one that lost our
	 * connection) does not know us yet; say hello now rather than at
	 * the next beat, then knock with backoff until welcomed */
	ag->link_alive = true;
	ag->rsd_slow = false;
	ag->welcomed = false;
	/* what this turn had goes first; then one message a frame until
	 * the rsd on this connection says it takes batches */
	agent_flush(ag);
	ag->rsd_features = 0;
	knock_reset(&ag->kn);
	agent_hello(ag);
	for (unsigned i = 0; i < ag->test_knocks; i++)
		agent_hello(ag);
	knock_arm(ag);
}

void agent_link_down(agent *ag)
{
	if (ag->link_alive)
		log_info("the connection to rsd %s dropped; reconnecting", ag->rsd_ep);
	ag->link_alive = false;
}

/* No word from rsd for 3 beats. On a live connection (the monitor saw
 * its handshake and no disconnect since) rsd is busy, not gone: a
 * restarted rsd or a broken link drops the connection, and an rsd that
 * forgot us answers our next beat with a Rehello; so beat on (the lease
 * runs from the last answer and fences as before). Without that
 * knowledge: knock. */
static void rsd_silent(agent *ag, uint64_t now)
{
	if (ag->monitored && ag->link_alive) {
		if (!ag->rsd_slow)
			log_warnx("no answer from rsd for %llu ms on a live connection: "
				  "rsd is busy; beating on",
				  (unsigned long long)(now - ag->rsd_seen_ms));
		ag->rsd_slow = true;
		return;
	}
	log_warnx("no answer from rsd for %llu ms, saying hello again",
		  (unsigned long long)(now - ag->rsd_seen_ms));
	ag->welcomed = false;
	knock_reset(&ag->kn);
}

static void beat_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	agent *ag = w->data;
	uint64_t now = clock_mono_ms();
	rs_msg m;

	if (ag->sd_watchdog_ms)
		sdnotify_send("WATCHDOG=1");
	if (ag->welcomed && now - ag->rsd_seen_ms > 3ull * ag->beat_ms)
		rsd_silent(ag, now);
	if (!ag->welcomed) {
		/* one Hello per knock until rsd answers, then beat */
		agent_hello(ag);
		knock_arm(ag);
		return;
	}
	rs_msg_init(&m, RS_MSG_BEAT);
	m.u.beat.time_ms = clock_wall_ms();
	for (inst *in = ag->insts; in; in = in->next)
		m.u.beat.running += in->pid > 0;
	/* what changed (lib/usagesel.h): only to an rsd that reads it */
	if (ag->rsd_features & RS_FEAT_USAGE && usage_beat(ag, &m.u.beat, now) < 0)
		log_warn("usage for rsd");
	agent_send(ag, &m, NULL, NULL);
	ag->said_ms = now;
	said_add(&ag->beats, m.u.beat.time_ms, now);
	rs_msg_clear(&m);
}

/* Whether to carry out order m now (lib/orders.h): each once, in order,
 * only from the epoch of the last Welcome. What is skipped is counted;
 * rsd resends what is not acknowledged. */
/* A test's fault injection: whether order n is in list (then taken out
 * of it: it hits the first copy only). */
static bool test_hook(uint64_t *list, size_t *len, uint64_t n, const char *what)
{
	for (size_t i = 0; i < *len && n; i++)
		if (list[i] == n) {
			list[i] = list[--*len];
			log_info("order %llu %s", (unsigned long long)n, what);
			return true;
		}
	return false;
}

static bool order_take(agent *ag, const rs_msg *m)
{
	orders_verdict v;

	if (test_hook(ag->drop_orders, &ag->ndrop_orders, m->order,
		      "dropped (RS_TEST_DROP_ORDERS)"))
		return false;   /* this copy is lost on the way */
	orders_in_base(&ag->oin, m->epoch, m->order_base);
	v = orders_in_check(&ag->oin, m->epoch, m->order);
	if (v == ORD_APPLY && test_hook(ag->forget_orders, &ag->nforget_orders, m->order,
					"forgotten (RS_TEST_FORGET_ORDERS)")) {
		orders_in_applied(&ag->oin, m->order);   /* taken, never done */
		return false;
	}
	ag->orders[v]++;
	if (v != ORD_APPLY && v != ORD_LEGACY) {
		log_debug("order %llu of epoch %llu: %s (applied %llu of epoch %llu)",
			  (unsigned long long)m->order, (unsigned long long)m->epoch,
			  orders_verdict_to_string(v),
			  (unsigned long long)ag->oin.applied,
			  (unsigned long long)ag->oin.epoch);
		return false;
	}
	/* applied before it is carried out: what it does cannot fail in a
	 * way that a second copy would mend (a refused spec stays refused) */
	orders_in_applied(&ag->oin, m->order);
	return true;
}

/* ---- the lease ------------------------------------------------------- */

static void lease_arm(agent *ag, uint64_t now)
{
	uint64_t at = lease_due(&ag->lease);

	ev_timer_stop(ag->loop, &ag->lease_t);
	if (!at)
		return;
	ev_timer_set(&ag->lease_t, at > now ? (double)(at - now) / 1e3 : 0., 0.);
	ev_timer_start(ag->loop, &ag->lease_t);
}

static void lease_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	agent_lease_check(w->data);
}

void agent_lease_check(agent *ag)
{
	uint64_t now = clock_mono_ms();
	inst *in, *next;

	if (!lease_due(&ag->lease) || ag->exiting)
		return;
	if (!lease_expire(&ag->lease, now)) {
		lease_arm(ag, now);
		return;
	}
	snprintf(ag->fence_why, sizeof ag->fence_why,
		 "fenced: no word from rsd for %llu ms",
		 (unsigned long long)(now - (ag->lease.at - ag->lease.ms)));
	log_warnx("%s (lease %u ms): stopping the fence: stop services until rsd "
		  "speaks again", ag->fence_why, ag->lease.ms);
	for (in = ag->insts; in; in = next) {
		next = in->next;   /* svc_apply may free in */
		if (in->spec.fence != RS_FENCE_STOP || in->primary ||
		    in->rp.state == RS_IS_DOWN || in->rp.state == RS_IS_FAILED)
			continue;
		/* a normal stop (stop signal, SIGKILL after the stop timeout)
		 * that ends down, reason fenced; nothing restarts it here */
		in->refresh = false;
		in->rp.fenced = true;
		svc_apply(in, RP_EV_STOP);
	}
}

/* rsd answered (Welcome: lease_ms from it; BeatAck): the lease runs
 * lease_ms from our last Hello or beat (lib/lease.h). Only answers renew it: rsd sends them
 * right after hearing this node, so the lease never outlasts what rsd
 * counts from its last word from us (an order may be sent long after
 * that). The keeper gets the same deadline, at most every lease/4. */
static void agent_lease_renew(agent *ag, uint32_t lease_ms, uint64_t said_ms)
{
	uint64_t now = clock_mono_ms();
	unsigned fx = lease_renew(&ag->lease, lease_ms, said_ms, now);

	if (fx & LEASE_FX_HELLO) {
		log_info("rsd speaks again: the fence is lifted, saying hello");
		/* a seq skipped: rsd reconciles a Hello that follows a gap,
		 * never coalesces it (what was fenced must start again) */
		ag->seq++;
		agent_hello(ag);
	}
	if (fx & LEASE_FX_KEEPER)
		kc_lease(ag, ag->lease.at, ag->lease.ms);
	lease_arm(ag, now);
}

static void agent_on_msg(agent *ag, rs_msg *m)
{
	uint64_t below;

	if (ag->rsd_slow) {
		log_info("rsd answers again after %llu ms",
			 (unsigned long long)(clock_mono_ms() - ag->rsd_seen_ms));
		ag->rsd_slow = false;
	}
	ag->rsd_seen_ms = clock_mono_ms();
	orders_in_heard(&ag->oin, m->epoch, ag->rsd_seen_ms);
	/* the lease: renewed by the answers of the rsd this agent follows
	 * (a Welcome below, once taken) */
	if (m->type == RS_MSG_BEAT_ACK && ag->lease.ms && m->epoch == ag->oin.epoch) {
		/* rsd 0.3 echoes the beat it answers (an answer that waited
		 * in our socket while a newer beat went out renews only from
		 * the old one) */
		uint64_t said = said_at(ag, &ag->beats, m->u.beat_ack.time_ms);

		if (said)
			agent_lease_renew(ag, ag->lease.ms, said);
	}
	switch (m->type) {
	case RS_MSG_WELCOME:
		if (m->u.welcome.session && m->u.welcome.session != ag->session) {
			/* it answers another process of this node (a late copy) */
			log_debug("a Welcome for session %llx, not ours; ignored",
				  (unsigned long long)m->u.welcome.session);
			break;
		}
		if (!orders_in_welcome(&ag->oin, m->epoch, m->u.welcome.order_base,
				       ag->rsd_seen_ms)) {
			log_warnx("a Welcome of rsd epoch %llu, older than epoch %llu that "
				  "spoke %llu ms ago; ignored (a stale rsd?)",
				  (unsigned long long)m->epoch,
				  (unsigned long long)ag->oin.epoch,
				  (unsigned long long)(ag->rsd_seen_ms - ag->oin.heard_ms));
			break;
		}
		{	/* from when the Hello it answers left (rsd 0.3 names it) */
			uint64_t said = said_at(ag, &ag->hellos, m->u.welcome.hello_seq);

			if (said)
				agent_lease_renew(ag, m->u.welcome.lease_ms, said);
		}
		if (!ag->welcomed) {
			log_info("welcomed by rsd %s (ack %llu, epoch %llu, orders after %llu)",
				 m->sender_version, (unsigned long long)m->ack,
				 (unsigned long long)m->epoch,
				 (unsigned long long)m->u.welcome.order_base);
			sdnotify_send("STATUS=connected to rsd");
		}
		ag->welcomed = true;
		ag->rsd_features = m->features;
		ag->rsd_features_last = m->features;
		usage_resend_all(ag);   /* a new rsd knows none of it */
		knock_reset(&ag->kn);
		ag->beat_t.repeat = ag->beat_ms / 1000.0;
		ev_timer_again(ag->loop, &ag->beat_t);
		replay_ack(ag, m->ack);
		/* once per Hello, not per Welcome (lib/replay.h): when each
		 * Welcome replayed everything unacknowledged, rsd read 1.2-1.5
		 * million events in a 5,000-node cold start that made 300,000
		 * (docs/bench.md, session 10) */
		below = replay_on_welcome(&ag->replay_due, m->u.welcome.hello_seq,
					  ag->hello_seq);
		if (below != REPLAY_NONE)
			replay_resend(ag, below);
		break;
	case RS_MSG_REHELLO:
		/* rsd answers each word of a node it does not know with one:
		 * a Hello now if we thought we were welcomed, else the next
		 * knock says it (not one Hello per Rehello: a burst of events
		 * would make a burst of Hellos) */
		if (!ag->welcomed)
			break;
		ag->welcomed = false;
		knock_reset(&ag->kn);
		agent_hello(ag);
		knock_arm(ag);
		break;
	case RS_MSG_ENROLLED:
		/* rsd refuses this agent (e.g. another one runs as this node) */
		if (m->u.enrolled.code != RS_OK && m->u.enrolled.message &&
		    strcmp(ag->refused, m->u.enrolled.message) != 0) {
			rs_strlcpy(ag->refused, m->u.enrolled.message, sizeof ag->refused);
			log_warnx("rsd refuses this agent: %s", m->u.enrolled.message);
		}
		break;
	case RS_MSG_BEAT_ACK:
		replay_ack(ag, m->ack);
		below = replay_on_beat_ack(&ag->replay_due, ag->hello_seq);
		if (below != REPLAY_NONE)
			replay_resend(ag, below);
		break;
	case RS_MSG_LOGS_GET:
		logs_get(ag, m);
		break;
	case RS_MSG_START:
		if (!order_take(ag, m) || ag->exiting)
			break;
		/* an order that waited (a frozen agent, a slow link) may come
		 * after the lease ended, when rsd may run the instance
		 * elsewhere: no new fence: stop process then (rsd's reconcile
		 * starts it again once it hears us, if it is still ours) */
		agent_lease_check(ag);
		if (!m->u.start.respec && m->u.start.spec.fence == RS_FENCE_STOP &&
		    !lease_holds(&ag->lease, clock_mono_ms())) {
			log_warnx("%s/%llu: start refused: the lease ended (%s)",
				  m->u.start.spec.label,
				  (unsigned long long)m->u.start.instance_id,
				  ag->fence_why);
			break;
		}
		svc_start(ag, &m->u.start);
		break;
	case RS_MSG_STOP:
		if (!order_take(ag, m))
			break;
		if (svc_stop(ag, m->u.stop.instance_id, m->u.stop.forget,
			     m->u.stop.restart && !ag->exiting) == -ENOENT) {
			/* unknown here: tell rsd it is down so its op completes */
			inst tmp;
			memset(&tmp, 0, sizeof tmp);
			tmp.id = m->u.stop.instance_id;
			tmp.rp.state = RS_IS_DOWN;
			tmp.ag = ag;
			agent_report(ag, &tmp, RS_EK_DOWN, "not running here");
		}
		break;
	case RS_MSG_SIGNAL:
		/* applied once: a resent copy must not signal twice (a second
		 * HUP is a second reload); not running: the order is still
		 * taken and acknowledged, what it meant is moot */
		if (order_take(ag, m))
			svc_send_signal(ag, &m->u.signal);
		break;
	default:
		log_warnx("unexpected %s from rsd, ignoring", rs_msg_type_to_string(m->type));
		break;
	}
}

static void link_cb(net_sock *s, const net_peer *peer, const uint8_t *buf,
		    size_t len, void *arg)
{
	agent *ag = arg;
	rs_msg m, item;
	int r = wire_decode(buf, len, &m);

	(void)s;
	(void)peer;
	if (r < 0) {
		log_warnx("bad message from rsd (%s, %zu bytes), ignoring",
			  wire_err_to_string(-r), len);
		return;
	}
	if (m.type != RS_MSG_BATCH) {
		agent_on_msg(ag, &m);
		rs_msg_clear(&m);
		return;
	}
	/* rsd's turn for us (RS_FEAT_BATCH): each item as if it had come
	 * alone, in order */
	for (size_t i = 0; i < m.u.batch.nitems; i++) {
		r = wire_decode(m.u.batch.items[i].buf, m.u.batch.items[i].len, &item);
		if (r < 0 || item.type == RS_MSG_BATCH)
			log_warnx("bad message in a batch from rsd (%s), ignoring",
				  r < 0 ? wire_err_to_string(-r) : "a batch");
		else
			agent_on_msg(ag, &item);
		rs_msg_clear(&item);
	}
	rs_msg_clear(&m);
}

static void rotate_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	logs_rotate_all(w->data);
}

void agent_maybe_exit(agent *ag)
{
	if (ag->exiting && !ag->insts)
		ev_break(ag->loop, EVBREAK_ALL);
}

static void signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	agent *ag = w->data;

	if (ag->exiting)
		return;
	log_info("signal %d: stopping every service, then exiting", w->signum);
	ag->exiting = true;
	svc_stop_all(ag);
	agent_maybe_exit(ag);
}

int agent_init(agent *ag, struct ev_loop *loop)
{
	int r;

	ag->loop = loop;
	/* an rsd whose epoch went back (its store restored, its clock set
	 * back) is followed after the newer one has been silent this long */
	ag->oin.grace_ms = 10000;
	if (getrandom(&ag->session, sizeof ag->session, 0) != sizeof ag->session)
		ag->session = clock_wall_ms() ^ ((uint64_t)getpid() << 40);
	/* handover ids (and their notify socket names) differ from those of
	 * a previous engine whose update's sockets may still exist */
	ag->ho_seq = ag->session & ((1ull << (63 - HO_ID_SEQ_SHIFT)) - 1);
	/* so are exec probe runs' (their cgroups' names) */
	ag->probe_seq = (ag->session >> 24) & HO_ID_MASK;
	/* the probes' libcurl first: adopted services are probed at once */
	r = probe_hub_init(ag);
	if (r < 0) {
		log_warnx("cannot set up libcurl for probes: %s", strerror(-r));
		return r;
	}
	/* first what runs already (a previous engine's services), so the
	 * first Hello tells rsd about them */
	r = kc_attach(ag);
	if (r < 0) {
		log_warnx("cannot attach to the keeper: %s", strerror(-r));
		return r;
	}
	/* no routing id of our own: rsd knows the node by its key, and a
	 * routing id could be claimed by another connection */
	knock_init(&ag->kn, KNOCK_BASE_MS, KNOCK_CAP_MS, ag->session);
	r = net_dealer_new_mon(loop, ag->rsd_ep, NULL, ag->insecure ? NULL : &ag->curve,
			       link_cb, ag, agent_link_event, ag, &ag->link);
	ag->monitored = r == 0;
	if (r < 0) {
		log_warnx("cannot monitor the link to rsd (%s: a silent rsd counts "
			  "as gone), ignoring", strerror(-r));
		r = net_dealer_new(loop, ag->rsd_ep, NULL,
				   ag->insecure ? NULL : &ag->curve, link_cb, ag,
				   &ag->link);
	}
	if (r < 0)
		return r;
	ev_signal_init(&ag->sigterm_w, signal_cb, SIGTERM);
	ev_signal_init(&ag->sigint_w, signal_cb, SIGINT);
	ag->sigterm_w.data = ag->sigint_w.data = ag;
	ev_signal_start(loop, &ag->sigterm_w);
	ev_signal_start(loop, &ag->sigint_w);
	usage_start(ag);
	ev_timer_init(&ag->rotate_t, rotate_cb, 1., 1.);
	ag->rotate_t.data = ag;
	ev_timer_start(loop, &ag->rotate_t);
	ev_prepare_init(&ag->out_w, out_cb);
	ag->out_w.data = ag;
	ev_prepare_start(loop, &ag->out_w);
	{	/* the first Hello goes below; the beat timer knocks next */
		double d = knock_next_ms(&ag->kn) / 1000.0;

		ev_timer_init(&ag->beat_t, beat_cb, d, d);
	}
	ag->beat_t.data = ag;
	ev_timer_start(loop, &ag->beat_t);
	/* a lease the keeper kept from the previous engine holds until rsd
	 * speaks to this one */
	ev_init(&ag->lease_t, lease_cb);
	ag->lease_t.data = ag;
	lease_arm(ag, clock_mono_ms());
	agent_hello(ag);
	return 0;
}

void agent_fini(agent *ag)
{
	inst *in, *next;

	for (in = ag->insts; in; in = next) {
		next = in->next;
		svc_free(in);
	}
	ag->insts = NULL;
	probe_hub_fini(ag);
	kc_quit(ag);
	replay_ack(ag, UINT64_MAX);
	ev_timer_stop(ag->loop, &ag->beat_t);
	ev_timer_stop(ag->loop, &ag->lease_t);
	ev_timer_stop(ag->loop, &ag->rotate_t);
	ev_signal_stop(ag->loop, &ag->sigterm_w);
	ev_signal_stop(ag->loop, &ag->sigint_w);
	agent_flush(ag);
	ev_prepare_stop(ag->loop, &ag->out_w);
	sendq_clear(&ag->outq);
	net_destroy(&ag->link);
}
