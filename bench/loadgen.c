/*
 * loadgen.c - rs-loadgen: many simulated rs-agents in one process, each
 * speaking the real agent protocol to one real rsd (issue 12).
 *
 * Owns: N simulated nodes (one ZeroMQ DEALER each, CURVE with the node's
 * own key, enrolled once with the join token and kept in --keys DIR),
 * their fake instances, a control channel (lines on stdin) and the JSON
 * reports on stdout. Must not: start a process, or read anything of rsd
 * but what the protocol carries.
 *
 * Each node does what agent/agent.c does with the messages (Hello with
 * its instances, knocks every 100 ms until welcomed, beats every beat_ms,
 * orders applied once and in order through lib/orders.h, every message
 * acknowledging them, events kept until acknowledged and replayed after a
 * Welcome); a Start answers STARTED then READY with a fake pid, a Stop
 * DOWN. No lease is kept: a simulated instance is never fenced.
 *
 *   rs-loadgen --rsd EP --token FILE --keys DIR --agents N [options]
 *
 * Control lines (stdin): report | silent K | silent NAME... | wake all |
 * wake NAME... | burst E [K] | quit. Every answer is one JSON line on stdout.
 * Exit status: 0, 1 on a failure to start (keys, enrolment refused), 2 on
 * a bad command line.
 */
#include <errno.h>
#include <ev.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backoff.h"
#include "clock.h"
#include "codes.h"
#include "cred.h"
#include "log.h"
#include "msg.h"
#include "net.h"
#include "orders.h"
#include "replay.h"
#include "sendq.h"
#include "usagesel.h"
#include "version.h"
#include "wire.h"

#define LG_REPLAY_MAX   1024   /* unacknowledged events kept (as the agent) */
#define LG_BEATS_KEPT   4      /* beats whose BeatAck gives a round trip */
#define LG_ENROLL_MS    5000   /* an enrolment unanswered this long is resent */
#define LG_KNOCK_S      (KNOCK_BASE_MS / 1000.0)  /* the first knock */
#define LG_LINE_MAX     65536

typedef struct lg lg;

typedef struct lg_inst {
	uint64_t  id;
	uint64_t  generation;
	char      label[RS_LABEL_MAX];
	int32_t   pid;
	rs_istate state;
	uint32_t  restarts;
	rs_exit   last_exit;
	uint64_t  started_ms, ready_ms;
	rs_usage  use_sent;      /* usage last sent (lib/usagesel.h) */
	uint64_t  use_sent_ms;   /* mono; 0: not since the Welcome */
} lg_inst;

typedef struct lg_ent {
	uint64_t seq;
	uint64_t prev;       /* the event before it (lib/evchain.h) */
	uint8_t *buf;
	size_t   len;
} lg_ent;

typedef struct lg_agent {
	lg        *lg;
	unsigned   idx;
	char       name[RS_NODE_MAX];
	net_curve  curve;
	bool       keyed;
	net_sock  *link;
	ev_timer   beat_t;       /* first the start delay, then knocks and beats */
	uint64_t   session;
	uint64_t   seq;
	uint32_t   beat_ms;
	uint64_t   rsd_seen_ms;
	uint64_t   knock_since;  /* mono ms of the first unanswered Hello, 0 */
	bool       started, welcomed, silent, handshaken, refused;
	bool       counted;   /* in lg->welcomed (recount) */
	knock      kn;           /* agent.c's knock schedule (lib/backoff.h) */
	orders_in  oin;
	struct {
		uint64_t time_ms, mono_ns;
	} beats[LG_BEATS_KEPT];
	unsigned   nbeats;
	lg_inst   *insts;
	size_t     ninsts, icap;
	lg_ent    *replay;       /* ring, grown by doubling up to LG_REPLAY_MAX */
	size_t     rhead, rlen, rcap;
	uint32_t   burst_left;
	uint64_t   burst_seq;    /* seq of its last burst event */
	uint64_t   hello_seq;    /* seq of its last Hello */
	uint64_t   event_seq;    /* seq of its last event kept (agent.c) */
	bool       replay_due;   /* lib/replay.h, as rs-agent's */
	/* a turn's messages in one frame (lib/sendq.h), as rs-agent's */
	uint64_t   rsd_features; /* of the Welcome on this connection */
	sendq      outq;
	bool       out_due;
	struct lg_agent *out_next;
} lg_agent;

typedef struct lg_slot {     /* one enrolment connection (join token) */
	lg       *lg;
	net_sock *s;
	lg_agent *a;             /* the node it enrols now, NULL: idle */
	rs_cred   c;             /* that node's pending key */
	bool      up;            /* handshake done */
	ev_timer  t;
} lg_slot;

/* Latency samples of one report period, µs. */
typedef struct lg_lat {
	uint32_t *v;
	size_t    n, cap;
} lg_lat;

struct lg {
	struct ev_loop *loop;
	const char     *rsd_ep, *keys, *token_file, *prefix;
	unsigned        nagents, first, spread_ms, window, report_ms;
	bool            enroll_only;
	bool            no_usage;    /* --no-usage: beats without usage */
	unsigned        usage_stray; /* --usage-stray N: each beat also reports
				      * instances 1..N and N unknown ones */
	uint64_t        usage_sent;  /* usage entries sent */
	lg_agent       *agents;
	rs_cred         token;
	bool            have_token;
	lg_slot        *slots;
	unsigned        enroll_next, enroll_left;
	uint64_t        enroll_t0;
	uint64_t        t0;          /* mono ms the agents started */
	int32_t         next_pid;
	unsigned        started, welcomed, silent, handshaken, refused, silence_cursor;
	uint64_t        running, ninst;
	uint64_t        sent, recv, dropped, send_err, hellos, rehellos, beats;
	uint64_t        hellos_unlinked;  /* sent with no handshake since the connect */
	uint64_t        starts, stops, events, bad, updates;
	uint64_t        orders[ORD__NR];
	uint64_t        last_sent, last_recv, last_report_ms;
	lg_lat          welcome, rtt;
	uint64_t        all_welcomed_ms, all_handshaken_ms;
	/* burst */
	uint64_t        burst_t0, burst_events, burst_sent_ms, burst_acked_ms;
	unsigned        burst_agents;
	unsigned        burst_turn;  /* events an agent sends a turn (one frame) */
	ev_idle         burst_idle;
	ev_timer        report_t;
	ev_timer        done_t;      /* enrolment over: close its sockets */
	ev_io           ctl_io;
	char            line[LG_LINE_MAX];
	size_t          linelen;
	ev_signal       sigint_w, sigterm_w, sigusr1_w;
	lg_agent       *out_due;     /* agents with a frame to send */
	ev_prepare      out_w;
	uint64_t        frames;      /* frames sent (a message alone is one) */
};

static void lg_hello(lg_agent *a);
static lg_inst *inst_find(lg_agent *a, uint64_t id);

/* A running instance's usage as a real agent would sample it (every 5 s):
 * 5 % of a CPU since it started, 32 to 95 MiB, 1 to 4 tasks. */
static rs_usage inst_usage(const lg_inst *in, uint64_t wall)
{
	uint64_t at = wall - wall % 5000;
	uint64_t mem = (32ull + in->id % 64) << 20;

	return (rs_usage){ .instance_id = in->id,
		.cpu_ms = at > in->started_ms ? (at - in->started_ms) / 20 : 0,
		.memory = mem, .memory_peak = mem, .tasks = 1 + (uint32_t)(in->id % 4),
		.time_ms = at };
}

/* What agent.c's usage_beat would put on a's beat b (RS_FEAT_USAGE), by
 * the same rule (lib/usagesel.h), plus --usage-stray's entries. */
static void beat_usage(lg_agent *a, rs_beat *b, uint64_t now)
{
	uint64_t wall = clock_wall_ms();
	unsigned stray = a->lg->usage_stray;

	if (a->lg->no_usage || !(a->rsd_features & RS_FEAT_USAGE))
		return;
	if (!(b->usage = calloc(RS_BEAT_USAGE_MAX, sizeof *b->usage)))
		return;
	for (size_t i = 0; i < a->ninsts && b->nusage < RS_BEAT_USAGE_MAX - 2 * stray; i++) {
		lg_inst *in = &a->insts[i];
		rs_usage cur;

		if (in->pid <= 0 || in->state != RS_IS_RUNNING)
			continue;
		cur = inst_usage(in, wall);
		if (!usagesel_due(&in->use_sent, in->use_sent_ms, &cur, now))
			continue;
		b->usage[b->nusage++] = cur;
		in->use_sent = cur;
		in->use_sent_ms = now ? now : 1;
	}
	for (unsigned k = 1; k <= stray; k++) {
		/* another node's instance (ids count from 1; not one of its
		 * own), and none's */
		if (!inst_find(a, k))
			b->usage[b->nusage++] = (rs_usage){ .instance_id = k, .cpu_ms = 1,
				.memory = 1, .memory_peak = 1, .tasks = 1, .time_ms = wall };
		b->usage[b->nusage++] = (rs_usage){ .instance_id = (1ull << 62) + k,
			.cpu_ms = 1, .memory = 1, .memory_peak = 1, .tasks = 1,
			.time_ms = wall };
	}
	a->lg->usage_sent += b->nusage;
}

/* ---- numbers ---------------------------------------------------------- */

static void lat_add(lg_lat *l, uint64_t us)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 1024;
		uint32_t *v = realloc(l->v, cap * sizeof *v);

		if (!v)
			return;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Prints "NAME":{"n","p50","p99","max"} in ms and empties l. */
static void lat_print(FILE *f, const char *name, lg_lat *l)
{
	if (!l->n) {
		fprintf(f, "\"%s\":{\"n\":0}", name);
		return;
	}
	qsort(l->v, l->n, sizeof *l->v, cmp_u32);
	fprintf(f, "\"%s\":{\"n\":%zu,\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f}", name,
		l->n, l->v[l->n / 2] / 1e3, l->v[(l->n * 99) / 100] / 1e3,
		l->v[l->n - 1] / 1e3);
	l->n = 0;
}

/* The beat timer fires at the next knock, as agent.c's knock_arm. */
static void knock_arm(lg_agent *a)
{
	a->beat_t.repeat = knock_next_ms(&a->kn) / 1000.0;
	ev_timer_again(a->lg->loop, &a->beat_t);
}

/* The count of agents welcomed on the link they have now (the figure):
 * an agent whose connection dropped still thinks itself welcomed (as
 * agent.c: it beats on until it knows better), but is not counted, or
 * after an rsd restart the first few welcomed would make "all welcomed"
 * while most had not yet noticed the restart. */
static void recount(lg_agent *a)
{
	bool on = a->welcomed && a->handshaken;

	if (on == a->counted)
		return;
	a->counted = on;
	a->lg->welcomed += on ? 1 : -1;
	if (on && a->lg->welcomed == a->lg->nagents) {
		a->lg->all_welcomed_ms = clock_mono_ms();
		printf("{\"type\":\"all_welcomed\",\"mono_ms\":%llu,\"t_s\":%.3f}\n",
		       (unsigned long long)a->lg->all_welcomed_ms,
		       (a->lg->all_welcomed_ms - a->lg->t0) / 1e3);
	}
}

static void set_welcomed(lg_agent *a, bool on)
{
	a->welcomed = on;
	recount(a);
}

static void set_state(lg_agent *a, lg_inst *in, rs_istate st)
{
	if (in->state == RS_IS_RUNNING)
		a->lg->running--;
	if (st == RS_IS_RUNNING)
		a->lg->running++;
	in->state = st;
}

/* ---- sending ---------------------------------------------------------- */

/* Sends a's frame of this turn (agent_flush). */
static void lg_flush(lg_agent *a)
{
	uint8_t *buf;
	size_t len;
	int k = sendq_take(&a->outq, &buf, &len);

	if (k == 0)
		return;
	if (k < 0 || net_send(a->link, NULL, buf, len) < 0)
		a->lg->send_err++;
	else
		a->lg->frames++;
	free(buf);
}

/* agent_out: into this turn's frame when rsd takes batches, else now. */
static int lg_out(lg_agent *a, const uint8_t *buf, size_t len)
{
	int r;

	if (!(a->rsd_features & RS_FEAT_BATCH)) {
		r = net_send(a->link, NULL, buf, len);
		a->lg->frames += r == 0;
		return r;
	}
	if (!sendq_fits(&a->outq, len))
		lg_flush(a);
	if ((r = sendq_push(&a->outq, buf, len)) < 0)
		return r;
	if (!a->out_due) {
		a->out_due = true;
		a->out_next = a->lg->out_due;
		a->lg->out_due = a;
	}
	if (sendq_full(&a->outq))
		lg_flush(a);
	return 0;
}

static void out_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	lg *g = w->data;
	lg_agent *a;

	(void)loop;
	(void)revents;
	while ((a = g->out_due)) {
		g->out_due = a->out_next;
		a->out_next = NULL;
		a->out_due = false;
		lg_flush(a);
	}
}

/* Encodes and sends m (seq, epoch and order_ack as agent.c sets them);
 * keeps the bytes for replay if keep. */
static int lg_send(lg_agent *a, rs_msg *m, bool keep)
{
	uint8_t *buf;
	size_t len;
	int r;

	m->seq = ++a->seq;
	m->epoch = a->oin.epoch;
	m->order_ack = a->oin.applied;
	if ((r = wire_encode(m, &buf, &len)) < 0) {
		a->lg->bad++;
		return r;
	}
	r = lg_out(a, buf, len);
	if (r < 0)
		a->lg->send_err++;
	else
		a->lg->sent++;
	if (!keep) {
		free(buf);
		return r;
	}
	if (a->rlen == a->rcap && a->rcap < LG_REPLAY_MAX) {
		size_t cap = a->rcap ? a->rcap * 2 : 8;
		lg_ent *v = malloc(cap * sizeof *v);

		if (v) {
			for (size_t i = 0; i < a->rlen; i++)
				v[i] = a->replay[(a->rhead + i) % a->rcap];
			free(a->replay);
			a->replay = v;
			a->rhead = 0;
			a->rcap = cap;
		}
	}
	if (a->rlen == a->rcap) {   /* full: drop the oldest, as agent.c does */
		if (!a->rcap) {
			free(buf);
			return r;
		}
		free(a->replay[a->rhead].buf);
		a->rhead = (a->rhead + 1) % a->rcap;
		a->rlen--;
	}
	a->replay[(a->rhead + a->rlen) % a->rcap] =
		(lg_ent){ m->seq, m->u.event.prev_seq, buf, len };
	a->rlen++;
	a->event_seq = m->seq;   /* the chain links kept events (agent.c) */
	return r;
}

static void replay_ack(lg_agent *a, uint64_t ack)
{
	while (a->rlen && a->replay[a->rhead].seq <= ack) {
		free(a->replay[a->rhead].buf);
		a->rhead = (a->rhead + 1) % a->rcap;
		a->rlen--;
	}
}

static void replay_resend(lg_agent *a, uint64_t below)
{
	for (size_t i = 0; i < a->rlen; i++) {
		lg_ent *e = &a->replay[(a->rhead + i) % a->rcap];

		if (e->seq >= below)
			break;   /* in seq order; the later ones follow the Hello */
		if (lg_out(a, e->buf, e->len) == 0)
			a->lg->sent++;
	}
}

static void fill_info(const lg_inst *in, rs_iinfo *out)
{
	memset(out, 0, sizeof *out);
	out->id = in->id;
	rs_strlcpy(out->label, in->label, sizeof out->label);
	out->generation = in->generation;
	out->pid = in->pid;
	out->state = in->state;
	out->restarts = in->restarts;
	out->last_exit = in->last_exit;
	out->started_ms = in->started_ms;
	out->ready_ms = in->ready_ms;
	out->start_ticks = in->started_ms;
}

/* An instance event, kept until rsd acknowledges it (agent_report). */
static void lg_event(lg_agent *a, const lg_inst *in, rs_event_kind kind,
		     const char *detail)
{
	rs_msg m;

	rs_msg_init(&m, RS_MSG_EVENT);
	m.u.event.kind = kind;
	fill_info(in, &m.u.event.info);
	m.u.event.detail = detail ? strdup(detail) : NULL;
	m.u.event.prev_seq = a->event_seq;
	lg_send(a, &m, true);
	a->lg->events++;
	rs_msg_clear(&m);
}

static void lg_hello(lg_agent *a)
{
	rs_msg m;

	rs_msg_init(&m, RS_MSG_HELLO);
	rs_strlcpy(m.u.hello.node, a->name, sizeof m.u.hello.node);
	snprintf(m.u.hello.boot_id, sizeof m.u.hello.boot_id, "loadgen-%016llx",
		 (unsigned long long)a->session);
	rs_strlcpy(m.u.hello.agent_version, rs_version(), sizeof m.u.hello.agent_version);
	m.u.hello.session = a->session;
	m.u.hello.events_from = a->rlen ? a->replay[a->rhead].prev : a->event_seq;
	if (a->ninsts && (m.u.hello.instances = calloc(a->ninsts, sizeof(rs_iinfo)))) {
		for (size_t i = 0; i < a->ninsts; i++)
			fill_info(&a->insts[i], &m.u.hello.instances[i]);
		m.u.hello.ninstances = a->ninsts;
	}
	lg_send(a, &m, false);
	a->hello_seq = m.seq;
	a->lg->hellos++;
	if (!a->handshaken)
		a->lg->hellos_unlinked++;
	if (!a->knock_since)
		a->knock_since = clock_mono_ns() / 1000;
	rs_msg_clear(&m);
}

/* ---- the agent's protocol --------------------------------------------- */

static void beat_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	lg_agent *a = w->data;
	uint64_t now = clock_mono_ms();
	rs_msg m;

	if (a->silent)
		return;
	/* agent.c's rsd_silent: no answer for 3 beats on a live
	 * connection is a busy rsd, not a gone one: beat on; without the
	 * connection, knock */
	if (a->welcomed && now - a->rsd_seen_ms > 3ull * a->beat_ms && !a->handshaken) {
		set_welcomed(a, false);
		knock_reset(&a->kn);
	}
	if (!a->welcomed) {
		/* one Hello per knock (lib/backoff.h) until rsd answers */
		lg_hello(a);
		knock_arm(a);
		return;
	}
	rs_msg_init(&m, RS_MSG_BEAT);
	m.u.beat.time_ms = clock_wall_ms();
	for (size_t i = 0; i < a->ninsts; i++)
		m.u.beat.running += a->insts[i].pid > 0;
	beat_usage(a, &m.u.beat, now);
	a->beats[a->nbeats % LG_BEATS_KEPT].time_ms = m.u.beat.time_ms;
	a->beats[a->nbeats % LG_BEATS_KEPT].mono_ns = clock_mono_ns();
	a->nbeats++;
	lg_send(a, &m, false);
	a->lg->beats++;
	rs_msg_clear(&m);
}

/* lib/orders.h, as agent.c's order_take. */
static bool order_take(lg_agent *a, const rs_msg *m)
{
	orders_verdict v;

	orders_in_base(&a->oin, m->epoch, m->order_base);
	v = orders_in_check(&a->oin, m->epoch, m->order);
	a->lg->orders[v]++;
	if (v != ORD_APPLY && v != ORD_LEGACY)
		return false;
	orders_in_applied(&a->oin, m->order);
	return true;
}

static lg_inst *inst_find(lg_agent *a, uint64_t id)
{
	for (size_t i = 0; i < a->ninsts; i++)
		if (a->insts[i].id == id)
			return &a->insts[i];
	return NULL;
}

/* A new process for in: STARTED with a fresh fake pid, then READY. */
static void inst_run(lg_agent *a, lg_inst *in)
{
	char detail[32];

	in->pid = a->lg->next_pid++;
	in->started_ms = clock_wall_ms();
	in->ready_ms = 0;
	set_state(a, in, RS_IS_STARTING);
	snprintf(detail, sizeof detail, "pid %d", (int)in->pid);
	lg_event(a, in, RS_EK_STARTED, detail);
	in->ready_ms = clock_wall_ms();
	set_state(a, in, RS_IS_RUNNING);
	lg_event(a, in, RS_EK_READY, "settled");
	a->lg->starts++;
}

static void on_start(lg_agent *a, const rs_start *st)
{
	lg_inst *in = inst_find(a, st->instance_id);

	if (st->update) {
		/* no live update here: rsd's operation ends at once */
		lg_inst tmp = in ? *in : (lg_inst){ .id = st->instance_id };

		a->lg->updates++;
		lg_event(a, &tmp, RS_EK_UPDATE_ROLLBACK, "rs-loadgen does no live update");
		return;
	}
	if (st->respec) {
		if (in)
			in->generation = st->generation;
		return;
	}
	if (in && (in->state == RS_IS_STARTING || in->state == RS_IS_RUNNING)) {
		lg_event(a, in, in->state == RS_IS_RUNNING ? RS_EK_READY : RS_EK_STARTED,
			 "already running");
		return;
	}
	if (!in) {
		if (a->ninsts == a->icap) {
			size_t cap = a->icap ? a->icap * 2 : 32;
			lg_inst *v = realloc(a->insts, cap * sizeof *v);

			if (!v)
				return;
			a->insts = v;
			a->icap = cap;
		}
		in = &a->insts[a->ninsts++];
		memset(in, 0, sizeof *in);
		in->id = st->instance_id;
		a->lg->ninst++;
	}
	in->generation = st->generation;
	rs_strlcpy(in->label, st->spec.label, sizeof in->label);
	inst_run(a, in);
}

static void on_stop(lg_agent *a, const rs_stop *sp)
{
	lg_inst *in = inst_find(a, sp->instance_id);

	if (!in) {
		lg_inst tmp = { .id = sp->instance_id, .state = RS_IS_DOWN };

		lg_event(a, &tmp, RS_EK_DOWN, "not running here");
		return;
	}
	if (in->pid > 0) {
		in->last_exit = (rs_exit){ .signal = 15, .reason = RS_ER_STOPPED,
					   .time_ms = clock_wall_ms() };
		a->lg->stops++;
	}
	in->pid = 0;
	set_state(a, in, RS_IS_DOWN);
	lg_event(a, in, RS_EK_DOWN, sp->restart ? "stopped for refresh" : "stopped");
	if (sp->restart) {
		inst_run(a, in);
	} else if (sp->forget) {
		*in = a->insts[--a->ninsts];
		a->lg->ninst--;
	}
}

static void on_welcome(lg_agent *a, const rs_msg *m)
{
	const rs_welcome *w = &m->u.welcome;
	uint64_t below;

	if (w->session && w->session != a->session)
		return;   /* a late copy for another process of this node */
	if (!orders_in_welcome(&a->oin, m->epoch, w->order_base, a->rsd_seen_ms))
		return;
	if (a->knock_since) {
		lat_add(&a->lg->welcome, clock_mono_ns() / 1000 - a->knock_since);
		a->knock_since = 0;
	}
	set_welcomed(a, true);
	a->rsd_features = m->features;
	for (size_t i = 0; i < a->ninsts; i++)
		a->insts[i].use_sent_ms = 0;   /* agent.c's usage_resend_all */
	knock_reset(&a->kn);
	a->beat_ms = w->beat_ms ? w->beat_ms : 1000;
	a->beat_t.repeat = a->beat_ms / 1000.0;
	ev_timer_again(a->lg->loop, &a->beat_t);
	replay_ack(a, m->ack);
	below = replay_on_welcome(&a->replay_due, w->hello_seq, a->hello_seq);
	if (below != REPLAY_NONE)
		replay_resend(a, below);
}

static void on_beat_ack(lg_agent *a, const rs_msg *m)
{
	uint64_t below;

	for (unsigned i = 0; i < LG_BEATS_KEPT && i < a->nbeats; i++)
		if (a->beats[i].time_ms == m->u.beat_ack.time_ms && a->beats[i].mono_ns) {
			lat_add(&a->lg->rtt, (clock_mono_ns() - a->beats[i].mono_ns) / 1000);
			a->beats[i].mono_ns = 0;
			break;
		}
	replay_ack(a, m->ack);
	below = replay_on_beat_ack(&a->replay_due, a->hello_seq);
	if (below != REPLAY_NONE)
		replay_resend(a, below);
}

static void on_msg(lg_agent *a, const rs_msg *m)
{
	a->rsd_seen_ms = clock_mono_ms();
	orders_in_heard(&a->oin, m->epoch, a->rsd_seen_ms);
	switch (m->type) {
	case RS_MSG_WELCOME:
		on_welcome(a, m);
		break;
	case RS_MSG_BEAT_ACK:
		on_beat_ack(a, m);
		break;
	case RS_MSG_REHELLO:
		/* agent.c: a Hello now if it thought it was welcomed, else
		 * the next knock says it */
		a->lg->rehellos++;
		if (!a->welcomed)
			break;
		set_welcomed(a, false);
		knock_reset(&a->kn);
		lg_hello(a);
		knock_arm(a);
		break;
	case RS_MSG_START:
		if (order_take(a, m))
			on_start(a, &m->u.start);
		break;
	case RS_MSG_STOP:
		if (order_take(a, m))
			on_stop(a, &m->u.stop);
		break;
	case RS_MSG_ENROLLED:
		if (m->u.enrolled.code != RS_OK && !a->refused) {
			a->refused = true;
			a->lg->refused++;
			log_warnx("%s: rsd refuses this agent: %s", a->name,
				  m->u.enrolled.message ? m->u.enrolled.message : "");
		}
		break;
	default:
		a->lg->bad++;
		break;
	}
}

static void link_cb(net_sock *s, const net_peer *peer, const uint8_t *buf,
		    size_t len, void *arg)
{
	lg_agent *a = arg;
	rs_msg m, item;

	(void)s;
	(void)peer;
	a->lg->recv++;
	if (a->silent) {
		a->lg->dropped++;
		return;   /* a frozen node: what comes is never read */
	}
	if (wire_decode(buf, len, &m) < 0) {
		a->lg->bad++;
		return;
	}
	if (m.type != RS_MSG_BATCH) {
		on_msg(a, &m);
		rs_msg_clear(&m);
		return;
	}
	for (size_t i = 0; i < m.u.batch.nitems; i++) {
		if (wire_decode(m.u.batch.items[i].buf, m.u.batch.items[i].len, &item) < 0 ||
		    item.type == RS_MSG_BATCH)
			a->lg->bad++;
		else
			on_msg(a, &item);
		rs_msg_clear(&item);
	}
	rs_msg_clear(&m);
}

static void link_event(net_sock *s, net_event ev, uint32_t value, void *arg)
{
	lg_agent *a = arg;

	if (ev == NET_EV_HANDSHAKE_OK) {
		if (!a->handshaken && ++a->lg->handshaken == a->lg->nagents) {
			a->lg->all_handshaken_ms = clock_mono_ms();
			printf("{\"type\":\"all_handshaken\",\"mono_ms\":%llu,\"t_s\":%.3f}\n",
			       (unsigned long long)a->lg->all_handshaken_ms,
			       (a->lg->all_handshaken_ms - a->lg->t0) / 1e3);
		}
		a->handshaken = true;
		if (a->silent)
			return;
		/* agent_link_up: hello now, knock until welcomed */
		lg_flush(a);
		a->rsd_features = 0;
		set_welcomed(a, false);
		knock_reset(&a->kn);
		lg_hello(a);
		knock_arm(a);
	} else if (ev == NET_EV_DISCONNECTED) {
		if (a->handshaken)
			a->lg->handshaken--;
		a->handshaken = false;
		recount(a);
	} else if (ev == NET_EV_HANDSHAKE_AUTH && !a->refused) {
		a->refused = true;
		a->lg->refused++;
		log_warnx("%s: rsd refused this node's key", a->name);
	}
}

/* The start delay ended: connect and say Hello (agent_init). */
static void start_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	lg_agent *a = w->data;
	int r;

	ev_timer_stop(loop, w);
	ev_timer_init(w, beat_cb, LG_KNOCK_S, LG_KNOCK_S);
	w->data = a;
	r = net_dealer_new_mon(loop, a->lg->rsd_ep, NULL, &a->curve, link_cb, a,
			       link_event, a, &a->link);
	if (r < 0) {
		log_warnx("%s: cannot connect to %s: %s", a->name, a->lg->rsd_ep,
			  strerror(-r));
		return;
	}
	a->started = true;
	a->lg->started++;
	ev_timer_start(loop, w);
	lg_hello(a);
}

static void agents_start(lg *g)
{
	g->t0 = clock_mono_ms();
	printf("{\"type\":\"start\",\"mono_ms\":%llu,\"agents\":%u}\n",
	       (unsigned long long)g->t0, g->nagents);
	for (unsigned i = 0; i < g->nagents; i++) {
		lg_agent *a = &g->agents[i];
		uint32_t rnd = 0;
		double delay = 0;

		if (g->spread_ms) {
			if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
				rnd = i * 2654435761u;
			delay = (rnd % g->spread_ms) / 1000.0;
		}
		ev_timer_init(&a->beat_t, start_cb, delay, 0.);
		a->beat_t.data = a;
		ev_timer_start(g->loop, &a->beat_t);
	}
}

/* ---- keys and enrolment ------------------------------------------------ */

static void key_path(const lg *g, const lg_agent *a, const char *ext, char *out,
		     size_t n)
{
	snprintf(out, n, "%s/%s.key%s", g->keys, a->name, ext);
}

/* Loads a's key from --keys, if it holds one for this rsd. */
static bool key_load(lg *g, lg_agent *a)
{
	char path[4096], err[256];
	rs_cred c;

	key_path(g, a, "", path, sizeof path);
	if (cred_read(path, &c, err, sizeof err) < 0 || strcmp(c.kind, "node") != 0 ||
	    strcmp(c.name, a->name) != 0)
		return false;
	if (g->have_token && strcmp(c.server, g->token.server) != 0)
		return false;   /* the key of another rsd: enrol again */
	cred_curve(&c, &a->curve);
	memset(&c, 0, sizeof c);
	return a->keyed = true;
}

/* The key this enrolment offers: NAME.key.new if an earlier try left one
 * (a retried enrolment binds the same key once), else a new one. */
static int key_pending(lg *g, lg_agent *a, rs_cred *c)
{
	char path[4096], err[256];
	int r;

	key_path(g, a, ".new", path, sizeof path);
	if (cred_read(path, c, err, sizeof err) == 0 && strcmp(c->kind, "node") == 0 &&
	    strcmp(c->name, a->name) == 0 && strcmp(c->server, g->token.server) == 0)
		return 0;
	memset(c, 0, sizeof *c);
	strcpy(c->kind, "node");
	rs_strlcpy(c->name, a->name, sizeof c->name);
	strcpy(c->server, g->token.server);
	if ((r = net_keypair(c->pub, c->sec)) < 0)
		return r;
	return cred_write(path, c, 0);
}

static void enroll_next(lg_slot *sl);

static void enroll_send(lg_slot *sl)
{
	rs_msg m;
	uint8_t *buf;
	size_t len;

	if (!sl->a || !sl->up)
		return;
	rs_msg_init(&m, RS_MSG_ENROLL);
	rs_strlcpy(m.u.enroll.node, sl->a->name, sizeof m.u.enroll.node);
	rs_strlcpy(m.u.enroll.public_key, sl->c.pub, sizeof m.u.enroll.public_key);
	if (wire_encode(&m, &buf, &len) == 0) {
		net_send(sl->s, NULL, buf, len);
		free(buf);
	}
	rs_msg_clear(&m);
	/* sent again on a new handshake while the timer runs: libev forbids
	 * ev_timer_set on an active timer (a suspect: one enrolment of 5,000
	 * was never retried, 2026-12-07) */
	ev_timer_stop(sl->lg->loop, &sl->t);
	ev_timer_set(&sl->t, LG_ENROLL_MS / 1000.0, 0.);
	ev_timer_start(sl->lg->loop, &sl->t);
}

static void enroll_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	enroll_send(w->data);   /* idempotent: the same key binds once */
}

/* Closes the enrolment sockets (not from their own callbacks) and
 * starts the nodes, or ends with --enroll-only. */
static void enroll_close_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	lg *g = w->data;

	for (unsigned i = 0; g->slots && i < g->window; i++) {
		ev_timer_stop(loop, &g->slots[i].t);
		net_destroy(&g->slots[i].s);
	}
	if (g->enroll_only)
		ev_break(loop, EVBREAK_ALL);
	else
		agents_start(g);
}

static void enroll_done(lg *g)
{
	printf("{\"type\":\"enrolled\",\"mono_ms\":%llu,\"enroll_s\":%.3f,\"agents\":%u}\n",
	       (unsigned long long)clock_mono_ms(),
	       (clock_mono_ms() - g->enroll_t0) / 1e3, g->nagents);
	ev_timer_init(&g->done_t, enroll_close_cb, 0., 0.);
	g->done_t.data = g;
	ev_timer_start(g->loop, &g->done_t);
}

static void enroll_recv(net_sock *s, const net_peer *peer, const uint8_t *buf,
			size_t len, void *arg)
{
	lg_slot *sl = arg;
	lg *g = sl->lg;
	char path[4096], done[4096];
	rs_msg m;

	if (!sl->a || wire_decode(buf, len, &m) < 0)
		return;
	if (m.type != RS_MSG_ENROLLED) {
		rs_msg_clear(&m);
		return;
	}
	if (m.u.enrolled.code == RS_E_INTERNAL) {
		rs_msg_clear(&m);
		return;   /* the timer tries again */
	}
	ev_timer_stop(g->loop, &sl->t);
	if (m.u.enrolled.code != RS_OK) {
		fprintf(stderr, "rs-loadgen: rsd refused to enrol %s: %s\n", sl->a->name,
			m.u.enrolled.message ? m.u.enrolled.message : "");
		exit(1);
	}
	rs_msg_clear(&m);
	key_path(g, sl->a, ".new", path, sizeof path);
	key_path(g, sl->a, "", done, sizeof done);
	if (rename(path, done) < 0)
		fatal("cannot keep %s", done);
	cred_curve(&sl->c, &sl->a->curve);
	sl->a->keyed = true;
	sl->a = NULL;
	if (--g->enroll_left == 0)
		enroll_done(g);
	else
		enroll_next(sl);
}

static void enroll_event(net_sock *s, net_event ev, uint32_t value, void *arg)
{
	lg_slot *sl = arg;

	if (ev == NET_EV_HANDSHAKE_OK) {
		sl->up = true;
		enroll_send(sl);
	} else if (ev == NET_EV_DISCONNECTED) {
		sl->up = false;
	} else if (ev == NET_EV_HANDSHAKE_AUTH) {
		fprintf(stderr, "rs-loadgen: rsd refused the join token %s\n",
			sl->lg->token_file);
		exit(1);
	}
}

/* Gives the slot the next node without a key, if any. */
static void enroll_next(lg_slot *sl)
{
	lg *g = sl->lg;
	int r;

	while (g->enroll_next < g->nagents && g->agents[g->enroll_next].keyed)
		g->enroll_next++;
	if (g->enroll_next == g->nagents)
		return;
	sl->a = &g->agents[g->enroll_next++];
	if ((r = key_pending(g, sl->a, &sl->c)) < 0)
		fatalx("cannot make %s's key in %s: %s", sl->a->name, g->keys, strerror(-r));
	enroll_send(sl);
}

/* Loads every cached key; enrols the others, --window at a time. */
static int keys_start(lg *g)
{
	char err[256];
	net_curve jc;
	int r;

	if (mkdir(g->keys, 0700) < 0 && errno != EEXIST) {
		log_warn("cannot make %s", g->keys);
		return -errno;
	}
	if (g->token_file) {
		r = cred_read(g->token_file, &g->token, err, sizeof err);
		if (r < 0 || strcmp(g->token.kind, "join") != 0) {
			log_warnx("cannot use the join token %s: %s", g->token_file,
				  r < 0 ? err : "not a join token");
			return r < 0 ? r : -EINVAL;
		}
		g->have_token = true;
	}
	for (unsigned i = 0; i < g->nagents; i++)
		if (!key_load(g, &g->agents[i]))
			g->enroll_left++;
	g->enroll_t0 = clock_mono_ms();
	if (!g->enroll_left) {
		enroll_done(g);
		return 0;
	}
	if (!g->have_token) {
		log_warnx("%u nodes have no key in %s: give --token (rsd's join.token)",
			  g->enroll_left, g->keys);
		return -ENOKEY;
	}
	cred_curve(&g->token, &jc);
	if (g->window > g->enroll_left)
		g->window = g->enroll_left;
	g->slots = calloc(g->window, sizeof *g->slots);
	if (!g->slots)
		return -ENOMEM;
	for (unsigned i = 0; i < g->window; i++) {
		lg_slot *sl = &g->slots[i];

		sl->lg = g;
		ev_init(&sl->t, enroll_timeout);
		sl->t.data = sl;
		r = net_dealer_new(g->loop, g->rsd_ep, NULL, &jc, enroll_recv, sl, &sl->s);
		if (r < 0 || (r = net_monitor(sl->s, enroll_event, sl)) < 0)
			return r;
		enroll_next(sl);
	}
	return 0;
}

/* ---- reports and control ----------------------------------------------- */

static uint64_t unacked(const lg *g)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < g->nagents; i++)
		n += g->agents[i].rlen;
	return n;
}

/* Instances running on nodes that are not silent. */
static uint64_t running_live(const lg *g)
{
	uint64_t n = g->running;

	for (unsigned i = 0; g->silent && i < g->nagents; i++)
		for (size_t j = 0; g->agents[i].silent && j < g->agents[i].ninsts; j++)
			n -= g->agents[i].insts[j].state == RS_IS_RUNNING;
	return n;
}

static void burst_check(lg *g, uint64_t now);

/* One JSON line: counters, and the period's latencies if periodic. */
static void report(lg *g, bool periodic)
{
	uint64_t now = clock_mono_ms();
	double dt = (now - g->last_report_ms) / 1e3;

	burst_check(g, now);
	printf("{\"type\":\"report\",\"mono_ms\":%llu,\"t_s\":%.3f,\"agents\":%u,"
	       "\"started\":%u,\"handshaken\":%u,\"welcomed\":%u,\"silent\":%u,"
	       "\"refused\":%u,\"instances\":%llu,\"running\":%llu,\"running_live\":%llu,"
	       "\"starts\":%llu,"
	       "\"stops\":%llu,\"events\":%llu,\"unacked\":%llu,\"sent\":%llu,"
	       "\"frames\":%llu,"
	       "\"recv\":%llu,\"send_err\":%llu,\"bad\":%llu,\"hellos\":%llu,"
	       "\"hellos_unlinked\":%llu,\"rehellos\":%llu,\"beats\":%llu,\"orders\":{\"apply\":%llu,\"dup\":%llu,"
	       "\"gap\":%llu,\"refuse\":%llu},\"updates\":%llu,\"usage_sent\":%llu",
	       (unsigned long long)now, g->t0 ? (now - g->t0) / 1e3 : 0.,
	       g->nagents, g->started, g->handshaken, g->welcomed,
	       g->silent, g->refused, (unsigned long long)g->ninst,
	       (unsigned long long)g->running, (unsigned long long)running_live(g),
	       (unsigned long long)g->starts,
	       (unsigned long long)g->stops, (unsigned long long)g->events,
	       (unsigned long long)unacked(g), (unsigned long long)g->sent,
	       (unsigned long long)g->frames, (unsigned long long)g->recv, (unsigned long long)g->send_err,
	       (unsigned long long)g->bad, (unsigned long long)g->hellos,
	       (unsigned long long)g->hellos_unlinked,
	       (unsigned long long)g->rehellos, (unsigned long long)g->beats,
	       (unsigned long long)g->orders[ORD_APPLY] + g->orders[ORD_LEGACY],
	       (unsigned long long)g->orders[ORD_DUP], (unsigned long long)g->orders[ORD_GAP],
	       (unsigned long long)g->orders[ORD_REFUSE], (unsigned long long)g->updates,
	       (unsigned long long)g->usage_sent);
	if (g->burst_t0)
		printf(",\"burst\":{\"agents\":%u,\"events\":%llu,\"sent_s\":%.3f,"
		       "\"acked_s\":%.3f}", g->burst_agents,
		       (unsigned long long)g->burst_events,
		       g->burst_sent_ms ? (g->burst_sent_ms - g->burst_t0) / 1e3 : -1.,
		       g->burst_acked_ms ? (g->burst_acked_ms - g->burst_t0) / 1e3 : -1.);
	if (periodic && dt > 0) {
		printf(",\"sent_per_s\":%.1f,\"recv_per_s\":%.1f,",
		       (g->sent - g->last_sent) / dt, (g->recv - g->last_recv) / dt);
		lat_print(stdout, "welcome_ms", &g->welcome);
		putchar(',');
		lat_print(stdout, "beat_rtt_ms", &g->rtt);
		g->last_sent = g->sent;
		g->last_recv = g->recv;
		g->last_report_ms = now;
	}
	printf("}\n");
}

static void report_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	report(w->data, true);
}

static lg_agent *agent_named(lg *g, const char *name)
{
	for (unsigned i = 0; i < g->nagents; i++)
		if (strcmp(g->agents[i].name, name) == 0)
			return &g->agents[i];
	return NULL;
}

static void silence(lg *g, lg_agent *a, bool on)
{
	if (a->silent == on)
		return;
	a->silent = on;
	g->silent += on ? 1 : -1;
	if (on) {
		set_welcomed(a, false);
		a->knock_since = 0;
	} else if (a->started) {
		/* as an agent after SIGCONT: no word for long, so Hello and
		 * knock until welcomed */
		knock_reset(&a->kn);
		lg_hello(a);
		knock_arm(a);
	}
}

/* "silent K": K welcomed nodes that run something, spread over the
 * range; "silent NAME...": those. Prints the names. */
static void cmd_silent(lg *g, char *args, bool on)
{
	char *save = NULL, *tok = strtok_r(args, " \t", &save);
	char *end;
	unsigned long k = tok ? strtoul(tok, &end, 10) : 0;
	bool first = true;

	printf("{\"type\":\"%s\",\"nodes\":[", on ? "silenced" : "woken");
	if (tok && !*end && on) {
		for (unsigned i = 0; i < g->nagents && k; i++) {
			lg_agent *a = &g->agents[(g->silence_cursor + i * 7919u) % g->nagents];

			if (a->silent || !a->welcomed || !a->ninsts)
				continue;
			silence(g, a, true);
			printf("%s\"%s\"", first ? "" : ",", a->name);
			first = false;
			k--;
		}
		g->silence_cursor++;
	} else if (tok && !on && strcmp(tok, "all") == 0) {
		for (unsigned i = 0; i < g->nagents; i++)
			if (g->agents[i].silent) {
				silence(g, &g->agents[i], false);
				printf("%s\"%s\"", first ? "" : ",", g->agents[i].name);
				first = false;
			}
	} else {
		for (; tok; tok = strtok_r(NULL, " \t", &save)) {
			lg_agent *a = agent_named(g, tok);

			if (!a)
				continue;
			silence(g, a, on);
			printf("%s\"%s\"", first ? "" : ",", a->name);
			first = false;
		}
	}
	printf("],\"mono_ms\":%llu}\n", (unsigned long long)clock_mono_ms());
}

/* Whether every burst event has been acknowledged (at BeatAck pace). */
static void burst_check(lg *g, uint64_t now)
{
	if (!g->burst_t0 || g->burst_acked_ms || !g->burst_sent_ms)
		return;
	for (unsigned i = 0; i < g->nagents; i++) {
		const lg_agent *a = &g->agents[i];

		if (a->burst_seq && !a->silent && a->rlen && a->replay[a->rhead].seq <= a->burst_seq)
			return;
	}
	g->burst_acked_ms = now;
}

/* burst_turn events per bursting agent per pass (one frame each with
 * RS_FEAT_BATCH, as an agent's turn that has that many), so the agents
 * interleave. */
static void burst_idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	lg *g = w->data;
	bool more = false;

	for (unsigned i = 0; i < g->nagents; i++) {
		lg_agent *a = &g->agents[i];
		lg_inst *in = NULL;

		if (!a->burst_left || a->silent)
			continue;
		for (size_t j = 0; j < a->ninsts && !in; j++)
			if (a->insts[j].state == RS_IS_RUNNING)
				in = &a->insts[j];
		if (!in) {
			a->burst_left = 0;
			continue;
		}
		for (unsigned k = 0; k < g->burst_turn && a->burst_left; k++) {
			lg_event(a, in, RS_EK_STATUS, "burst");
			a->burst_seq = a->seq;
			g->burst_events++;
			a->burst_left--;
		}
		more |= a->burst_left > 0;
	}
	if (!more) {
		ev_idle_stop(loop, w);
		g->burst_sent_ms = clock_mono_ms();
	}
}

/* burst E [K]: E events from each agent, K a turn (default 1). */
static void cmd_burst(lg *g, const char *arg)
{
	char *end;
	unsigned long e = strtoul(arg, &end, 10), k = strtoul(end, NULL, 10);

	g->burst_turn = k >= 1 && k <= 1000 ? (unsigned)k : 1;

	g->burst_t0 = clock_mono_ms();
	g->burst_events = g->burst_sent_ms = g->burst_acked_ms = 0;
	g->burst_agents = 0;
	for (unsigned i = 0; i < g->nagents; i++) {
		lg_agent *a = &g->agents[i];

		a->burst_seq = 0;
		a->burst_left = a->welcomed && !a->silent && a->ninsts ? (uint32_t)e : 0;
		g->burst_agents += a->burst_left > 0;
	}
	printf("{\"type\":\"burst\",\"mono_ms\":%llu,\"agents\":%u,\"per_agent\":%lu,"
	       "\"per_turn\":%u}\n",
	       (unsigned long long)g->burst_t0, g->burst_agents, e, g->burst_turn);
	ev_idle_start(g->loop, &g->burst_idle);
}

static void command(lg *g, char *line)
{
	char *arg = line + strcspn(line, " \t");

	if (*arg)
		*arg++ = '\0';
	if (strcmp(line, "report") == 0)
		report(g, false);
	else if (strcmp(line, "silent") == 0)
		cmd_silent(g, arg, true);
	else if (strcmp(line, "wake") == 0)
		cmd_silent(g, arg, false);
	else if (strcmp(line, "burst") == 0)
		cmd_burst(g, arg);
	else if (strcmp(line, "quit") == 0)
		ev_break(g->loop, EVBREAK_ALL);
	else if (*line)
		printf("{\"type\":\"error\",\"what\":\"unknown command %s\"}\n", line);
}

static void ctl_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	lg *g = w->data;
	ssize_t n = read(w->fd, g->line + g->linelen, sizeof g->line - 1 - g->linelen);
	char *nl;

	if (n <= 0) {
		if (n < 0 && errno == EINTR)
			return;
		ev_io_stop(loop, w);   /* no more commands; keep running */
		return;
	}
	g->linelen += (size_t)n;
	g->line[g->linelen] = '\0';
	while ((nl = strchr(g->line, '\n'))) {
		*nl = '\0';
		command(g, g->line);
		g->linelen -= (size_t)(nl + 1 - g->line);
		memmove(g->line, nl + 1, g->linelen + 1);
	}
	if (g->linelen == sizeof g->line - 1)
		g->linelen = 0;   /* a line too long: dropped */
}

static void signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	if (w->signum == SIGUSR1)
		report(w->data, false);
	else
		ev_break(loop, EVBREAK_ALL);
}

/* ---- setup ------------------------------------------------------------- */

/* Room for every fd: a DEALER, its TCP connection and its monitor's two
 * sockets per node. Raises the hard limit too when allowed (root). */
static void raise_nofile(rlim_t want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur >= want)
		return;
	if (rl.rlim_max < want) {
		struct rlimit up = { want, want };

		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			return;
		log_warnx("cannot raise the fd limit to %llu (hard limit %llu), ignoring",
			  (unsigned long long)want, (unsigned long long)rl.rlim_max);
	}
	rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
	setrlimit(RLIMIT_NOFILE, &rl);
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: rs-loadgen --rsd EP --keys DIR [--token FILE] [--agents N] [options]\n"
"  --rsd EP              rsd's agent endpoint\n"
"  --keys DIR            node keys (NAME.key), made on first use\n"
"  --token FILE          rsd's join.token: enrol the nodes without a key\n"
"  --agents N            simulated nodes (default 10)\n"
"  --prefix P            node names P00001... (default lg)\n"
"  --first K             number of the first node (default 1)\n"
"  --hello-spread-ms MS  first Hellos spread uniformly over MS (default 0)\n"
"  --enroll-window W     enrolments in flight (default 64)\n"
"  --enroll-only         enrol (or load) every key, then exit\n"
"  --report-ms MS        a report every MS (default 1000; 0: on request)\n"
"  --io-threads T        ZeroMQ I/O threads (default 1, 2 above 1000 nodes)\n"
"  --no-usage            beats carry no instance usage (RS_FEAT_USAGE)\n"
"  --usage-stray N       each beat also reports instances 1..N that it\n"
"                        does not run and N that do not exist (tests)\n"
"  -v                    log what each node does\n"
"control lines on stdin: report | silent K | silent NAME... | wake all |\n"
"  wake NAME... | burst E | quit\n");
}

static unsigned parse_uint(const char *opt, const char *s, unsigned max)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (!*s || *end || v > max) {
		fprintf(stderr, "rs-loadgen: %s wants a number up to %u\n", opt, max);
		exit(2);
	}
	return (unsigned)v;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "rsd", required_argument, NULL, 'r' },
		{ "keys", required_argument, NULL, 'k' },
		{ "token", required_argument, NULL, 't' },
		{ "agents", required_argument, NULL, 'n' },
		{ "prefix", required_argument, NULL, 'p' },
		{ "first", required_argument, NULL, 'f' },
		{ "hello-spread-ms", required_argument, NULL, 's' },
		{ "enroll-window", required_argument, NULL, 'w' },
		{ "enroll-only", no_argument, NULL, 'E' },
		{ "report-ms", required_argument, NULL, 'R' },
		{ "io-threads", required_argument, NULL, 'T' },
		{ "no-usage", no_argument, NULL, 'U' },
		{ "usage-stray", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static lg g;
	unsigned io_threads = 0;
	int c, r, verbose = 0;

	g.nagents = 10;
	g.first = 1;
	g.prefix = "lg";
	g.window = 64;
	g.report_ms = 1000;
	while ((c = getopt_long(argc, argv, "hv", opts, NULL)) != -1) {
		switch (c) {
		case 'r': g.rsd_ep = optarg; break;
		case 'k': g.keys = optarg; break;
		case 't': g.token_file = optarg; break;
		case 'n': g.nagents = parse_uint("--agents", optarg, 100000); break;
		case 'p': g.prefix = optarg; break;
		case 'f': g.first = parse_uint("--first", optarg, 1000000); break;
		case 's': g.spread_ms = parse_uint("--hello-spread-ms", optarg, 3600000); break;
		case 'w': g.window = parse_uint("--enroll-window", optarg, 4096); break;
		case 'E': g.enroll_only = true; break;
		case 'R': g.report_ms = parse_uint("--report-ms", optarg, 3600000); break;
		case 'T': io_threads = parse_uint("--io-threads", optarg, 64); break;
		case 'U': g.no_usage = true; break;
		case 'S': g.usage_stray = parse_uint("--usage-stray", optarg, 8); break;
		case 'v': verbose = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!g.rsd_ep || !g.keys || !g.nagents || !g.window || optind != argc) {
		usage(stderr);
		return 2;
	}
	log_init("rs-loadgen", verbose ? LOG_LVL_DEBUG : LOG_LVL_WARN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile(4ull * g.nagents + 4ull * g.window + 256);
	if (!io_threads)
		io_threads = g.nagents > 1000 ? 2 : 1;
	net_configure((int)io_threads, (int)(3 * g.nagents + 3 * g.window + 64));
	g.loop = ev_default_loop(EVBACKEND_EPOLL);
	if (!g.loop)
		fatalx("cannot initialise libev");
	g.next_pid = 10000;
	g.agents = calloc(g.nagents, sizeof *g.agents);
	if (!g.agents)
		fatalx("out of memory");
	for (unsigned i = 0; i < g.nagents; i++) {
		lg_agent *a = &g.agents[i];

		a->lg = &g;
		a->idx = i;
		a->beat_ms = 1000;
		a->oin.grace_ms = 10000;   /* as agent_init */
		snprintf(a->name, sizeof a->name, "%s%05u", g.prefix, g.first + i);
		if (!cred_name_valid(a->name))
			fatalx("%s is no node name", a->name);
		if (getrandom(&a->session, sizeof a->session, 0) != sizeof a->session)
			a->session = clock_wall_ms() ^ ((uint64_t)i << 40);
		knock_init(&a->kn, KNOCK_BASE_MS, KNOCK_CAP_MS, a->session);
	}
	ev_idle_init(&g.burst_idle, burst_idle_cb);
	g.burst_idle.data = &g;
	ev_io_init(&g.ctl_io, ctl_cb, 0, EV_READ);
	g.ctl_io.data = &g;
	ev_io_start(g.loop, &g.ctl_io);
	ev_signal_init(&g.sigint_w, signal_cb, SIGINT);
	ev_signal_init(&g.sigterm_w, signal_cb, SIGTERM);
	ev_signal_init(&g.sigusr1_w, signal_cb, SIGUSR1);
	g.sigint_w.data = g.sigterm_w.data = g.sigusr1_w.data = &g;
	ev_signal_start(g.loop, &g.sigint_w);
	ev_signal_start(g.loop, &g.sigterm_w);
	ev_signal_start(g.loop, &g.sigusr1_w);
	ev_prepare_init(&g.out_w, out_cb);
	g.out_w.data = &g;
	ev_prepare_start(g.loop, &g.out_w);
	if (g.report_ms) {
		ev_timer_init(&g.report_t, report_cb, g.report_ms / 1e3, g.report_ms / 1e3);
		g.report_t.data = &g;
		ev_timer_start(g.loop, &g.report_t);
	}
	g.last_report_ms = clock_mono_ms();
	if ((r = keys_start(&g)) < 0) {
		fprintf(stderr, "rs-loadgen: cannot get the nodes' keys: %s\n", strerror(-r));
		return 1;
	}
	ev_run(g.loop, 0);
	for (unsigned i = 0; i < g.nagents; i++) {
		lg_agent *a = &g.agents[i];

		ev_timer_stop(g.loop, &a->beat_t);
		net_destroy(&a->link);
		replay_ack(a, UINT64_MAX);
		free(a->replay);
		free(a->insts);
	}
	for (unsigned i = 0; g.slots && i < g.window; i++)
		net_destroy(&g.slots[i].s);
	free(g.slots);
	free(g.agents);
	free(g.welcome.v);
	free(g.rtt.v);
	net_shutdown();
	return 0;
}
