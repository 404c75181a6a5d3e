/*
 * wire.c - rs_msg <-> protobuf Envelope bytes (see wire.h, proto/rs.proto).
 *
 * The only user of protobuf-c in rs. Encoding builds a tree of Rs__* structs
 * on the stack that borrows the rs_msg's strings, then packs it. Decoding
 * unpacks with protobuf-c, checks every field against the limits of model.h
 * and msg.h, and copies it into an rs_msg; no Rs__* pointer escapes.
 *
 * Absent sub-messages: an absent ServiceSpec or Backoff decodes to the
 * rs_spec_init() defaults, an absent InstanceInfo or ExitInfo to zeroes.
 * Heap strings (cwd, detail, message, json): NULL encodes as "" and ""
 * decodes as NULL.
 */
#include "wire.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "listen.h"
#include "reslimits.h"
#include "profile.h"
#include "probespec.h"
#include "rs.pb-c.h"
#include "version.h"

/* protobuf-c reports allocation failure and bad input alike (NULL), so an
 * allocation failure while decoding is reported as garbage too. */
#define WIRE_E_NOMEM WIRE_E_GARBAGE

/* ------------------------------------------------------------------ */
/* encode                                                              */
/* ------------------------------------------------------------------ */

/* What an encoded spec points to besides its strings. */
struct spec_aux {
	Rs__Backoff backoff;
	Rs__Probes  probes;
	Rs__Probe   probe[RS_PROBE__NR];
	Rs__Limits  limits;
	Rs__Profile profile;
	char       *caps[RS_CAP_LAST + 1];
};

/* Storage for one Envelope tree; only infos/pinfos/exits are heap. */
struct enc {
	Rs__Envelope env;
	union {
		Rs__Hello         hello;
		Rs__NodeBeat      beat;
		Rs__InstanceEvent event;
		Rs__Welcome       welcome;
		Rs__Rehello       rehello;
		Rs__Start         start;
		Rs__Stop          stop;
		Rs__Signal        signal;
		Rs__BeatAck       beat_ack;
		Rs__Request       request;
		Rs__Reply         reply;
		Rs__LogsGet       logs_get;
		Rs__LogsData      logs_data;
		Rs__Enroll        enroll;
		Rs__Enrolled      enrolled;
		Rs__Batch         batch;
	} b;
	Rs__ServiceSpec    spec;
	struct spec_aux    backoff;  /* spec's backoff and probes */
	Rs__InstanceInfo   info;
	Rs__ExitInfo       exit;
	Rs__ServiceSpec   *specs;    /* request: nspecs entries */
	Rs__ServiceSpec  **pspecs;
	struct spec_aux   *backoffs;
	Rs__InstanceInfo  *infos;    /* hello: ninstances entries */
	Rs__InstanceInfo **pinfos;
	Rs__ExitInfo      *exits;
	Rs__StatusRow     *rows;     /* reply: nrows entries */
	Rs__StatusRow    **prows;
	ProtobufCBinaryData *items;  /* batch: nitems entries */
	Rs__InstanceUsage  *usage;   /* beat: nusage entries */
	Rs__InstanceUsage **pusage;
};

/* A protobuf-c string field borrowing s; NULL becomes "". */
static char *pb_str(const char *s)
{
	return (char *)(s ? s : "");
}

/* True if the inline buffer buf[n] holds a NUL-terminated string. */
static bool str_fits(const char *buf, size_t n)
{
	return memchr(buf, '\0', n) != NULL;
}

/* True if the inline label buf[n] is "" or a valid label. */
static bool label_ok(const char *buf, size_t n)
{
	return str_fits(buf, n) && (!buf[0] || rs_label_valid(buf));
}

/* True if v[n] is a sendable argv/env vector. */
static bool strv_ok(char *const *v, size_t n)
{
	if (n > RS_ARGV_MAX || (n && !v))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!v[i] || strnlen(v[i], RS_ARG_MAX) >= RS_ARG_MAX)
			return false;
	return true;
}

/* True if v[n] holds at most max valid labels. */
static bool labels_ok(char *const *v, size_t n, size_t max)
{
	if (n > max || (n && !v))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!v[i] || !rs_label_valid(v[i]))
			return false;
	return true;
}

/* True if the update settings are within msg.h's bounds. */
static bool update_ok(uint32_t maxtime_ms, uint32_t min_healthy_ms,
		      int32_t prepare_signal, uint32_t max_unavailable)
{
	return maxtime_ms <= RS_UPDATE_TIME_MAX_MS &&
	       min_healthy_ms <= RS_UPDATE_TIME_MAX_MS &&
	       prepare_signal >= 0 && prepare_signal < NSIG &&
	       max_unavailable <= RS_REPLICAS_MAX;
}

/* True if s parses as a "NAME=ADDR" listen spec. */
static bool listen_spec_ok(const char *s)
{
	char err[1];
	rs_listen l;

	return s && strnlen(s, RS_LISTEN_STR_MAX) < RS_LISTEN_STR_MAX &&
	       rs_listen_parse(s, &l, err, sizeof err) == 0;
}

/* True if v[n] is a sendable placement vector. */
static bool placement_ok(char *const *v, size_t n)
{
	bool ok = n <= RS_PLACEMENT_MAX;

	for (size_t i = 0; ok && i < n; i++)
		ok = v && rs_placement_valid(v[i]);
	return ok;
}

/* True if v[n] is a sendable listen vector. */
static bool listen_ok(char *const *v, size_t n)
{
	if (n > RS_LISTEN_MAX || (n && !v))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!listen_spec_ok(v[i]))
			return false;
	return true;
}

/* Fills pp from p, borrowing its strings. */
static void enc_probe(const rs_probe *p, Rs__Probe *pp)
{
	rs__probe__init(pp);
	if (p->kind == RS_PK_HTTP)
		pp->http = pb_str(p->target);
	else if (p->kind == RS_PK_TCP)
		pp->tcp = pb_str(p->target);
	pp->n_exec = p->kind == RS_PK_EXEC ? p->argc : 0;
	pp->exec = pp->n_exec ? p->argv : NULL;
	pp->period_ms = p->period_ms;
	pp->timeout_ms = p->timeout_ms;
	pp->failures = p->failures;
	pp->initial_delay_ms = p->initial_delay_ms;
	pp->status_min = p->status_min;
	pp->status_max = p->status_max;
	pp->n_headers = p->nheaders;
	pp->headers = p->nheaders ? p->headers : NULL;
}

/* Fills ps/aux from s, borrowing its strings. 0 or -EINVAL. */
static int enc_spec(const rs_spec *s, Rs__ServiceSpec *ps, struct spec_aux *aux)
{
	Rs__Backoff *pb = &aux->backoff;
	char err[256];

	if (!label_ok(s->label, sizeof s->label) ||
	    !str_fits(s->node, sizeof s->node) ||
	    !str_fits(s->user, sizeof s->user) ||
	    (unsigned)s->policy >= RS_RP__NR ||
	    (unsigned)s->notify >= RS_NT__NR ||
	    (unsigned)s->fence >= RS_FENCE__NR ||
	    s->reload_signal < 0 || s->reload_signal >= NSIG ||
	    !strv_ok(s->argv, s->argc) || !strv_ok(s->env, s->envc) ||
	    (s->cwd && strnlen(s->cwd, RS_ARG_MAX) >= RS_ARG_MAX) ||
	    (s->script && strnlen(s->script, RS_ARG_MAX) >= RS_ARG_MAX) ||
	    !strv_ok(s->deps, s->ndeps) || !listen_ok(s->listen, s->nlisten) ||
	    !placement_ok(s->placement, s->nplacement))
		return -EINVAL;
	for (int i = 0; i < RS_PROBE__NR; i++)
		if (rs_probe_validate(&s->probes[i], (rs_probe_role)i, err, sizeof err) < 0)
			return -EINVAL;

	rs__backoff__init(pb);
	pb->initial_ms = s->backoff.initial_ms;
	pb->factor = s->backoff.factor;
	pb->max_ms = s->backoff.max_ms;
	pb->reset_ms = s->backoff.reset_ms;
	pb->disabled = s->backoff.disabled;

	rs__service_spec__init(ps);
	ps->label = pb_str(s->label);
	ps->n_argv = s->argc;
	ps->argv = s->argc ? s->argv : NULL;
	ps->n_env = s->envc;
	ps->env = s->envc ? s->env : NULL;
	ps->cwd = pb_str(s->cwd);
	ps->period_ms = s->period_ms;
	ps->ready_timeout_ms = s->ready_timeout_ms;
	ps->stop_timeout_ms = s->stop_timeout_ms;
	ps->stop_signal = s->stop_signal;
	ps->policy = (Rs__RestartPolicy)s->policy;
	ps->backoff = pb;
	ps->notify = (Rs__NotifyType)s->notify;
	ps->settle_ms = s->settle_ms;
	ps->node = pb_str(s->node);
	ps->user = pb_str(s->user);
	ps->keep_caps = s->keep_caps;
	ps->fence = (Rs__FencePolicy)s->fence;
	ps->reload_signal = s->reload_signal;
	ps->script = pb_str(s->script);
	ps->critical = s->critical;
	ps->replicas = s->replicas;
	ps->n_depends_on = s->ndeps;
	ps->depends_on = s->ndeps ? s->deps : NULL;
	ps->n_listen = s->nlisten;
	ps->listen = s->nlisten ? s->listen : NULL;
	ps->n_placement = s->nplacement;
	ps->placement = s->nplacement ? s->placement : NULL;
	if (rs_spec_has_probes(s)) {
		Rs__Probe **slot[RS_PROBE__NR] = {
			&aux->probes.liveness, &aux->probes.readiness, &aux->probes.startup,
		};
		rs__probes__init(&aux->probes);
		for (int i = 0; i < RS_PROBE__NR; i++) {
			if (s->probes[i].kind == RS_PK_NONE)
				continue;
			enc_probe(&s->probes[i], &aux->probe[i]);
			*slot[i] = &aux->probe[i];
		}
		ps->probes = &aux->probes;
	}
	if (rs_limits_any(&s->limits)) {
		rs__limits__init(&aux->limits);
		aux->limits.memory_max = s->limits.memory_max;
		aux->limits.memory_high = s->limits.memory_high;
		aux->limits.cpu_weight = s->limits.cpu_weight;
		aux->limits.cpu_max = s->limits.cpu_max;
		aux->limits.pids_max = s->limits.pids_max;
		ps->limits = &aux->limits;
	}
	if (rs_profile_any(&s->profile) || s->profile.fields) {
		const rs_profile *pf = &s->profile;
		rs__profile__init(&aux->profile);
		for (int i = 0; i <= RS_CAP_LAST; i++)
			if (pf->caps & (1ull << i))
				aux->caps[aux->profile.n_caps++] = (char *)rs_cap_name(i);
		aux->profile.caps = aux->profile.n_caps ? aux->caps : NULL;
		aux->profile.caps_set = pf->caps_set;
		aux->profile.no_new_privs = pf->nnp;
		aux->profile.read_only_root = pf->ro_root;
		aux->profile.private_tmp = pf->private_tmp;
		aux->profile.nice = pf->nice;
		aux->profile.cpus = (char *)pf->cpus;
		aux->profile.fields = pf->fields;
		ps->profile = &aux->profile;
	}
	return 0;
}

/* Fills pi/pe from in, borrowing its strings; last_exit is only sent when
 * it is not all zero. 0 or -EINVAL. */
static int enc_iinfo(const rs_iinfo *in, Rs__InstanceInfo *pi,
		     Rs__ExitInfo *pe)
{
	const rs_exit *x = &in->last_exit;

	if (!label_ok(in->label, sizeof in->label) ||
	    !str_fits(in->status, sizeof in->status) ||
	    (unsigned)in->state >= RS_IS__NR ||
	    (unsigned)x->reason >= RS_ER__NR)
		return -EINVAL;

	rs__exit_info__init(pe);
	pe->code = x->code;
	pe->signal = x->signal;
	pe->reason = (Rs__ExitReason)x->reason;
	pe->time_ms = x->time_ms;

	rs__instance_info__init(pi);
	pi->id = in->id;
	pi->label = pb_str(in->label);
	pi->generation = in->generation;
	pi->pid = in->pid;
	pi->state = (Rs__InstanceState)in->state;
	pi->restarts = in->restarts;
	if (x->code || x->signal || x->reason || x->time_ms)
		pi->last_exit = pe;
	pi->status_text = pb_str(in->status);
	pi->started_ms = in->started_ms;
	pi->ready_ms = in->ready_ms;
	pi->start_ticks = in->start_ticks;
	pi->unready = in->unready;
	return 0;
}

/* Fills e->b.hello from h; allocates the instance arrays in e.
 * 0, -EINVAL or -ENOMEM. */
static int enc_hello(struct enc *e, const rs_hello *h)
{
	Rs__Hello *ph = &e->b.hello;
	int r;

	if (!str_fits(h->node, sizeof h->node) ||
	    !str_fits(h->boot_id, sizeof h->boot_id) ||
	    !str_fits(h->agent_version, sizeof h->agent_version) ||
	    !str_fits(h->cgroups, sizeof h->cgroups) ||
	    !labels_ok(h->labels, h->nlabels, RS_HELLO_LABELS_MAX) ||
	    h->ninstances > RS_HELLO_INST_MAX ||
	    (h->ninstances && !h->instances))
		return -EINVAL;

	rs__hello__init(ph);
	ph->node = pb_str(h->node);
	ph->boot_id = pb_str(h->boot_id);
	ph->agent_version = pb_str(h->agent_version);
	ph->capacity = h->capacity;
	ph->session = h->session;
	ph->events_from = h->events_from;
	ph->cgroups = pb_str(h->cgroups);
	ph->controllers = h->controllers;
	ph->privs = h->privs;
	ph->n_labels = h->nlabels;
	ph->labels = h->nlabels ? h->labels : NULL;
	if (!h->ninstances)
		return 0;

	e->infos = calloc(h->ninstances, sizeof *e->infos);
	e->pinfos = calloc(h->ninstances, sizeof *e->pinfos);
	e->exits = calloc(h->ninstances, sizeof *e->exits);
	if (!e->infos || !e->pinfos || !e->exits)
		return -ENOMEM;
	for (size_t i = 0; i < h->ninstances; i++) {
		r = enc_iinfo(&h->instances[i], &e->infos[i], &e->exits[i]);
		if (r < 0)
			return r;
		e->pinfos[i] = &e->infos[i];
	}
	ph->n_instances = h->ninstances;
	ph->instances = e->pinfos;
	return 0;
}

/* Whether s is NULL or shorter than max. */
static bool row_str_ok(const char *s, size_t max)
{
	return !s || strnlen(s, max) < max;
}

/* Whether row r is sendable: a label, every string within its limit. */
static bool row_ok(const rs_status_row *r)
{
	return r->label && rs_label_valid(r->label) &&
	       row_str_ok(r->state, RS_ROW_WORD_MAX) &&
	       row_str_ok(r->node, RS_NODE_MAX) &&
	       row_str_ok(r->exit_reason, RS_ROW_WORD_MAX) &&
	       row_str_ok(r->status, RS_STATUS_MAX) &&
	       row_str_ok(r->op_kind, RS_ROW_WORD_MAX) &&
	       row_str_ok(r->op_progress, RS_DETAIL_MAX);
}

/* Fills e->b.reply's rows from rp, borrowing their strings; allocates the
 * arrays in e. 0, -EINVAL or -ENOMEM. */
static int enc_rows(struct enc *e, const rs_reply *rp)
{
	size_t n = rp->nrows;

	if (!n)
		return 0;
	if (n > RS_ROWS_MAX || !rp->rows)
		return -EINVAL;
	e->rows = calloc(n, sizeof *e->rows);
	e->prows = calloc(n, sizeof *e->prows);
	if (!e->rows || !e->prows)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const rs_status_row *r = &rp->rows[i];
		Rs__StatusRow *pr = &e->rows[i];

		if (!row_ok(r))
			return -EINVAL;
		rs__status_row__init(pr);
		pr->label = pb_str(r->label);
		pr->instance = r->instance;
		pr->state = pb_str(r->state);
		pr->standby = r->standby;
		pr->node = pb_str(r->node);
		pr->pid = r->pid;
		pr->restarts = r->restarts;
		pr->started_ms = r->started_ms;
		pr->exit_reason = pb_str(r->exit_reason);
		pr->exit_code = r->exit_code;
		pr->exit_signal = r->exit_signal;
		pr->status_text = pb_str(r->status);
		pr->op_kind = pb_str(r->op_kind);
		pr->op_progress = pb_str(r->op_progress);
		pr->cpu_ms = r->cpu_ms;
		pr->memory = r->memory;
		pr->memory_peak = r->memory_peak;
		pr->tasks = r->tasks;
		pr->usage_ms = r->usage_ms;
		e->prows[i] = pr;
	}
	e->b.reply.n_rows = n;
	e->b.reply.rows = e->prows;
	return 0;
}

/* Fills e->b.beat's usage from b; allocates the arrays in e. 0, -EINVAL
 * or -ENOMEM. */
static int enc_usage(struct enc *e, const rs_beat *b)
{
	size_t n = b->nusage;

	if (!n)
		return 0;
	if (n > RS_BEAT_USAGE_MAX || !b->usage)
		return -EINVAL;
	e->usage = calloc(n, sizeof *e->usage);
	e->pusage = calloc(n, sizeof *e->pusage);
	if (!e->usage || !e->pusage)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const rs_usage *u = &b->usage[i];
		Rs__InstanceUsage *pu = &e->usage[i];

		if (!u->instance_id)
			return -EINVAL;
		rs__instance_usage__init(pu);
		pu->instance_id = u->instance_id;
		pu->cpu_ms = u->cpu_ms;
		pu->memory = u->memory;
		pu->memory_peak = u->memory_peak;
		pu->tasks = u->tasks;
		pu->time_ms = u->time_ms;
		e->pusage[i] = pu;
	}
	e->b.beat.n_usage = n;
	e->b.beat.usage = e->pusage;
	return 0;
}

/* Bytes of a varint. */
static size_t varint_size(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* Bytes of a string field (one-byte tag) that is not "". */
static size_t str_field_size(const char *s)
{
	size_t len = s ? strlen(s) : 0;

	return len ? 1 + varint_size(len) + len : 0;
}

/* Bytes of an int32 field: a negative one is sign-extended to 10 bytes. */
static size_t i32_field_size(int32_t v)
{
	return v ? 1 + (v < 0 ? 10 : varint_size((uint64_t)v)) : 0;
}

static size_t u64_field_size(uint64_t v)
{
	return v ? 1 + varint_size(v) : 0;
}

size_t wire_status_row_size(const rs_status_row *r)
{
	size_t body = str_field_size(r->label) + u64_field_size(r->instance) +
		      str_field_size(r->state) + (r->standby ? 2 : 0) +
		      str_field_size(r->node) + i32_field_size(r->pid) +
		      u64_field_size(r->restarts) + u64_field_size(r->started_ms) +
		      str_field_size(r->exit_reason) + i32_field_size(r->exit_code) +
		      i32_field_size(r->exit_signal) + str_field_size(r->status) +
		      str_field_size(r->op_kind) + str_field_size(r->op_progress) +
		      u64_field_size(r->cpu_ms) + u64_field_size(r->memory) +
		      u64_field_size(r->memory_peak) + u64_field_size(r->tasks) +
		      u64_field_size(r->usage_ms) +
		      /* fields 16..19: two-byte tags */
		      !!r->memory + !!r->memory_peak + !!r->tasks + !!r->usage_ms;

	return 1 + varint_size(body) + body;   /* Reply.rows: tag, length */
}

/* Fills e->env's body from m. 0, -EINVAL or -ENOMEM. */
static int enc_body(struct enc *e, const rs_msg *m)
{
	Rs__Envelope *env = &e->env;
	int r;

	switch (m->type) {
	case RS_MSG_HELLO:
		r = enc_hello(e, &m->u.hello);
		if (r < 0)
			return r;
		env->body_case = RS__ENVELOPE__BODY_HELLO;
		env->hello = &e->b.hello;
		return 0;
	case RS_MSG_BEAT:
		rs__node_beat__init(&e->b.beat);
		e->b.beat.time_ms = m->u.beat.time_ms;
		e->b.beat.running = m->u.beat.running;
		r = enc_usage(e, &m->u.beat);
		if (r < 0)
			return r;
		env->body_case = RS__ENVELOPE__BODY_BEAT;
		env->beat = &e->b.beat;
		return 0;
	case RS_MSG_EVENT:
		if ((unsigned)m->u.event.kind >= RS_EK__NR)
			return -EINVAL;
		r = enc_iinfo(&m->u.event.info, &e->info, &e->exit);
		if (r < 0)
			return r;
		rs__instance_event__init(&e->b.event);
		e->b.event.kind = (Rs__EventKind)m->u.event.kind;
		e->b.event.info = &e->info;
		e->b.event.detail = pb_str(m->u.event.detail);
		e->b.event.backoff_ms = m->u.event.backoff_ms;
		e->b.event.latency_us = m->u.event.latency_us;
		e->b.event.prev_seq = m->u.event.prev_seq;
		env->body_case = RS__ENVELOPE__BODY_EVENT;
		env->event = &e->b.event;
		return 0;
	case RS_MSG_WELCOME:
		rs__welcome__init(&e->b.welcome);
		e->b.welcome.beat_ms = m->u.welcome.beat_ms;
		e->b.welcome.ttl_ms = m->u.welcome.ttl_ms;
		e->b.welcome.order_base = m->u.welcome.order_base;
		e->b.welcome.session = m->u.welcome.session;
		e->b.welcome.hello_seq = m->u.welcome.hello_seq;
		e->b.welcome.lease_ms = m->u.welcome.lease_ms;
		env->body_case = RS__ENVELOPE__BODY_WELCOME;
		env->welcome = &e->b.welcome;
		return 0;
	case RS_MSG_REHELLO:
		rs__rehello__init(&e->b.rehello);
		env->body_case = RS__ENVELOPE__BODY_REHELLO;
		env->rehello = &e->b.rehello;
		return 0;
	case RS_MSG_START:
		r = enc_spec(&m->u.start.spec, &e->spec, &e->backoff);
		if (r < 0)
			return r;
		rs__start__init(&e->b.start);
		e->b.start.instance_id = m->u.start.instance_id;
		e->b.start.generation = m->u.start.generation;
		e->b.start.respec = m->u.start.respec;
		if (m->u.start.prepare_signal < 0 || m->u.start.prepare_signal >= NSIG ||
		    m->u.start.maxtime_ms > RS_UPDATE_TIME_MAX_MS ||
		    m->u.start.min_healthy_ms > RS_UPDATE_TIME_MAX_MS)
			return -EINVAL;
		e->b.start.update = m->u.start.update;
		e->b.start.maxtime_ms = m->u.start.maxtime_ms;
		e->b.start.min_healthy_ms = m->u.start.min_healthy_ms;
		e->b.start.prepare_signal = m->u.start.prepare_signal;
		e->b.start.spec = &e->spec;
		env->body_case = RS__ENVELOPE__BODY_START;
		env->start = &e->b.start;
		return 0;
	case RS_MSG_STOP:
		rs__stop__init(&e->b.stop);
		e->b.stop.instance_id = m->u.stop.instance_id;
		e->b.stop.forget = m->u.stop.forget;
		e->b.stop.restart = m->u.stop.restart;
		env->body_case = RS__ENVELOPE__BODY_STOP;
		env->stop = &e->b.stop;
		return 0;
	case RS_MSG_SIGNAL:
		if (m->u.signal.signal < 1 || m->u.signal.signal >= NSIG)
			return -EINVAL;
		rs__signal__init(&e->b.signal);
		e->b.signal.instance_id = m->u.signal.instance_id;
		e->b.signal.signal = m->u.signal.signal;
		e->b.signal.group = m->u.signal.group;
		env->body_case = RS__ENVELOPE__BODY_SIGNAL;
		env->signal = &e->b.signal;
		return 0;
	case RS_MSG_BEAT_ACK:
		rs__beat_ack__init(&e->b.beat_ack);
		e->b.beat_ack.time_ms = m->u.beat_ack.time_ms;
		env->body_case = RS__ENVELOPE__BODY_BEAT_ACK;
		env->beat_ack = &e->b.beat_ack;
		return 0;
	case RS_MSG_REQUEST:
		if (!rs_verb_known(m->u.request.verb) ||
		    !label_ok(m->u.request.label, sizeof m->u.request.label) ||
		    !update_ok(m->u.request.maxtime_ms, m->u.request.min_healthy_ms,
			       m->u.request.prepare_signal, m->u.request.max_unavailable) ||
		    !labels_ok(m->u.request.batch, m->u.request.nbatch, RS_UPDATE_BATCH_MAX) ||
		    !label_ok(m->u.request.node, sizeof m->u.request.node) ||
		    !str_fits(m->u.request.state, sizeof m->u.request.state) ||
		    !str_fits(m->u.request.page_after, sizeof m->u.request.page_after) ||
		    m->u.request.signal < 0 || m->u.request.signal >= NSIG)
			return -EINVAL;
		r = enc_spec(&m->u.request.spec, &e->spec, &e->backoff);
		if (r < 0)
			return r;
		rs__request__init(&e->b.request);
		e->b.request.id = m->u.request.id;
		e->b.request.verb = (Rs__Verb)m->u.request.verb;
		e->b.request.label = pb_str(m->u.request.label);
		e->b.request.spec = &e->spec;
		e->b.request.no_block = m->u.request.no_block;
		e->b.request.timeout_ms = m->u.request.timeout_ms;
		e->b.request.limit = m->u.request.limit;
		e->b.request.edit_mask = m->u.request.edit_mask;
		e->b.request.force = m->u.request.force;
		e->b.request.keep_events = m->u.request.keep_events;
		e->b.request.instance = m->u.request.instance;
		e->b.request.after = m->u.request.after;
		e->b.request.dry_run = m->u.request.dry_run;
		e->b.request.maxtime_ms = m->u.request.maxtime_ms;
		e->b.request.min_healthy_ms = m->u.request.min_healthy_ms;
		e->b.request.prepare_signal = m->u.request.prepare_signal;
		e->b.request.no_rollback = m->u.request.no_rollback;
		e->b.request.max_unavailable = m->u.request.max_unavailable;
		e->b.request.canary = m->u.request.canary;
		e->b.request.since_ms = m->u.request.since_ms;
		e->b.request.role = pb_str(m->u.request.role);
		e->b.request.pattern = pb_str(m->u.request.pattern);
		e->b.request.node_key = m->u.request.node_key;
		e->b.request.public_key = pb_str(m->u.request.public_key);
		e->b.request.node = pb_str(m->u.request.node);
		e->b.request.state = pb_str(m->u.request.state);
		e->b.request.page_after = pb_str(m->u.request.page_after);
		e->b.request.page_size = m->u.request.page_size;
		e->b.request.rows = m->u.request.rows;
		if (m->u.request.pid < 0)
			return -EINVAL;
		e->b.request.previous = m->u.request.previous;
		e->b.request.pid = m->u.request.pid;
		e->b.request.stamped = m->u.request.stamped;
		e->b.request.signal = m->u.request.signal;
		e->b.request.main_only = m->u.request.main_only;
		e->b.request.revision = m->u.request.revision;
		e->b.request.n_batch = m->u.request.nbatch;
		e->b.request.batch = m->u.request.nbatch ? m->u.request.batch : NULL;
		if (m->u.request.nspecs > RS_APPLY_MAX)
			return -EINVAL;
		if (m->u.request.nspecs) {
			size_t n = m->u.request.nspecs;
			e->specs = calloc(n, sizeof *e->specs);
			e->pspecs = calloc(n, sizeof *e->pspecs);
			e->backoffs = calloc(n, sizeof *e->backoffs);
			if (!e->specs || !e->pspecs || !e->backoffs)
				return -ENOMEM;
			for (size_t i = 0; i < n; i++) {
				r = enc_spec(&m->u.request.specs[i], &e->specs[i],
					     &e->backoffs[i]);
				if (r < 0)
					return r;
				e->pspecs[i] = &e->specs[i];
			}
			e->b.request.n_specs = n;
			e->b.request.specs = e->pspecs;
		}
		env->body_case = RS__ENVELOPE__BODY_REQUEST;
		env->request = &e->b.request;
		return 0;
	case RS_MSG_REPLY:
		rs__reply__init(&e->b.reply);
		e->b.reply.id = m->u.reply.id;
		e->b.reply.code = m->u.reply.code;
		e->b.reply.message = pb_str(m->u.reply.message);
		if (!str_fits(m->u.reply.next_page, sizeof m->u.reply.next_page))
			return -EINVAL;
		e->b.reply.json = pb_str(m->u.reply.json);
		e->b.reply.next_page = pb_str(m->u.reply.next_page);
		if ((r = enc_rows(e, &m->u.reply)) < 0)
			return r;
		env->body_case = RS__ENVELOPE__BODY_REPLY;
		env->reply = &e->b.reply;
		return 0;
	case RS_MSG_LOGS_GET:
		if (!label_ok(m->u.logs_get.label, sizeof m->u.logs_get.label))
			return -EINVAL;
		rs__logs_get__init(&e->b.logs_get);
		e->b.logs_get.req_id = m->u.logs_get.req_id;
		e->b.logs_get.instance_id = m->u.logs_get.instance_id;
		e->b.logs_get.label = pb_str(m->u.logs_get.label);
		e->b.logs_get.lines = m->u.logs_get.lines;
		e->b.logs_get.after = m->u.logs_get.after;
		if (m->u.logs_get.pid < 0)
			return -EINVAL;
		e->b.logs_get.stamped = m->u.logs_get.stamped;
		e->b.logs_get.since_ms = m->u.logs_get.since_ms;
		e->b.logs_get.previous = m->u.logs_get.previous;
		e->b.logs_get.pid = m->u.logs_get.pid;
		env->body_case = RS__ENVELOPE__BODY_LOGS_GET;
		env->logs_get = &e->b.logs_get;
		return 0;
	case RS_MSG_LOGS_DATA:
		if (m->u.logs_data.len > RS_LOGS_MAX)
			return -EINVAL;
		rs__logs_data__init(&e->b.logs_data);
		e->b.logs_data.req_id = m->u.logs_data.req_id;
		e->b.logs_data.found = m->u.logs_data.found;
		e->b.logs_data.data.data = m->u.logs_data.data;
		e->b.logs_data.data.len = m->u.logs_data.len;
		e->b.logs_data.next = m->u.logs_data.next;
		if (m->u.logs_data.pid < 0 || m->u.logs_data.prev_pid < 0)
			return -EINVAL;
		e->b.logs_data.pid = m->u.logs_data.pid;
		e->b.logs_data.prev_pid = m->u.logs_data.prev_pid;
		e->b.logs_data.more = m->u.logs_data.more;
		e->b.logs_data.stamped = m->u.logs_data.stamped;
		env->body_case = RS__ENVELOPE__BODY_LOGS_DATA;
		env->logs_data = &e->b.logs_data;
		return 0;
	case RS_MSG_ENROLL:
		if (!memchr(m->u.enroll.node, '\0', sizeof m->u.enroll.node) ||
		    !memchr(m->u.enroll.public_key, '\0', sizeof m->u.enroll.public_key))
			return -EINVAL;
		rs__enroll__init(&e->b.enroll);
		e->b.enroll.node = pb_str(m->u.enroll.node);
		e->b.enroll.public_key = pb_str(m->u.enroll.public_key);
		env->body_case = RS__ENVELOPE__BODY_ENROLL;
		env->enroll = &e->b.enroll;
		return 0;
	case RS_MSG_ENROLLED:
		rs__enrolled__init(&e->b.enrolled);
		e->b.enrolled.code = m->u.enrolled.code;
		e->b.enrolled.message = pb_str(m->u.enrolled.message);
		env->body_case = RS__ENVELOPE__BODY_ENROLLED;
		env->enrolled = &e->b.enrolled;
		return 0;
	case RS_MSG_BATCH:
		if (!m->u.batch.nitems || m->u.batch.nitems > RS_BATCH_MAX)
			return -EINVAL;
		e->items = calloc(m->u.batch.nitems, sizeof *e->items);
		if (!e->items)
			return -ENOMEM;
		for (size_t i = 0; i < m->u.batch.nitems; i++) {
			e->items[i].data = m->u.batch.items[i].buf;
			e->items[i].len = m->u.batch.items[i].len;
		}
		rs__batch__init(&e->b.batch);
		e->b.batch.n_items = m->u.batch.nitems;
		e->b.batch.items = e->items;
		env->body_case = RS__ENVELOPE__BODY_BATCH;
		env->batch = &e->b.batch;
		return 0;
	default:
		return -EINVAL;
	}
}

int wire_encode(const rs_msg *m, uint8_t **out, size_t *len)
{
	struct enc e;
	uint8_t *buf = NULL;
	size_t size;
	int r;

	if (!m || !out || !len)
		return -EINVAL;
	*out = NULL;
	*len = 0;
	memset(&e, 0, sizeof e);
	rs__envelope__init(&e.env);
	e.env.version = RS_PROTO_VERSION;
	e.env.sender_version = (char *)rs_version();
	e.env.features = RS_FEATURES;
	e.env.seq = m->seq;
	e.env.ack = m->ack;
	e.env.epoch = m->epoch;
	e.env.order = m->order;
	e.env.order_ack = m->order_ack;
	e.env.order_base = m->order_base;
	r = enc_body(&e, m);
	if (r < 0)
		goto out;

	size = rs__envelope__get_packed_size(&e.env);
	if (size > RS_FRAME_MAX) {
		r = -E2BIG;
		goto out;
	}
	buf = malloc(size ? size : 1);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	if (rs__envelope__pack(&e.env, buf) != size) {
		free(buf);
		r = -EINVAL;
		goto out;
	}
	*out = buf;
	*len = size;
out:
	free(e.specs);
	free(e.pspecs);
	free(e.backoffs);
	free(e.infos);
	free(e.pinfos);
	free(e.exits);
	free(e.rows);
	free(e.prows);
	free(e.items);
	free(e.usage);
	free(e.pusage);
	return r;
}

/* ------------------------------------------------------------------ */
/* decode                                                              */
/* ------------------------------------------------------------------ */

/* Copies src into the inline buffer dst[n]. 0 or -WIRE_E_FIELD. */
static int dec_str(char *dst, size_t n, const char *src)
{
	return rs_strlcpy(dst, src ? src : "", n) < 0 ? -WIRE_E_FIELD : 0;
}

/* Copies a label that may be "" into dst. 0 or -WIRE_E_FIELD. */
static int dec_label(char *dst, const char *src)
{
	if (dec_str(dst, RS_LABEL_MAX, src) < 0)
		return -WIRE_E_FIELD;
	return dst[0] && !rs_label_valid(dst) ? -WIRE_E_FIELD : 0;
}

/* Duplicates src into *dst, "" as NULL; at most max-1 chars (0: no limit).
 * 0, -WIRE_E_FIELD or -WIRE_E_NOMEM. */
static int dec_dup(char **dst, const char *src, size_t max)
{
	*dst = NULL;
	if (!src || !src[0])
		return 0;
	if (max && strnlen(src, max) >= max)
		return -WIRE_E_FIELD;
	*dst = strdup(src);
	return *dst ? 0 : -WIRE_E_NOMEM;
}

/* Appends v[n] to s with add (rs_spec_add_arg/_env). 0 or -wire_err. */
static int dec_strv(rs_spec *s, char *const *v, size_t n,
		    int (*add)(rs_spec *, const char *))
{
	int r;

	if (n > RS_ARGV_MAX)
		return -WIRE_E_FIELD;
	for (size_t i = 0; i < n; i++) {
		if (!v[i] || strnlen(v[i], RS_ARG_MAX) >= RS_ARG_MAX)
			return -WIRE_E_FIELD;
		r = add(s, v[i]);
		if (r == -ENOMEM)
			return -WIRE_E_NOMEM;
		if (r < 0)
			return -WIRE_E_FIELD;
	}
	return 0;
}

/* rs_spec_add_listen() for a spec that parses; -EINVAL otherwise. */
static int add_listen_checked(rs_spec *s, const char *spec)
{
	return listen_spec_ok(spec) ? rs_spec_add_listen(s, spec) : -EINVAL;
}

/* Fills the initialised probe p from pp: exactly one of http, tcp, exec
 * (none: NONE); 0 in status_min/max is the default range. Its values are
 * checked by the receiver's rs_spec_validate. 0 or -wire_err. */
static int dec_probe(rs_probe *p, const Rs__Probe *pp)
{
	bool http = pp->http && *pp->http, tcp = pp->tcp && *pp->tcp;
	int n = http + tcp + (pp->n_exec > 0), r = 0;

	if (n == 0)
		return 0;
	if (n > 1 || pp->n_exec > RS_PROBE_ARGV_MAX ||
	    pp->n_headers > RS_PROBE_HEADERS_MAX)
		return -WIRE_E_FIELD;
	p->kind = http ? RS_PK_HTTP : tcp ? RS_PK_TCP : RS_PK_EXEC;
	if (http || tcp)
		r = rs_probe_set_target(p, http ? pp->http : pp->tcp);
	for (size_t i = 0; r == 0 && i < pp->n_exec; i++)
		r = rs_probe_add_arg(p, pp->exec[i]);
	for (size_t i = 0; r == 0 && i < pp->n_headers; i++)
		r = rs_probe_add_header(p, pp->headers[i]);
	if (r == -ENOMEM)
		return -WIRE_E_NOMEM;
	if (r < 0)
		return -WIRE_E_FIELD;
	p->period_ms = pp->period_ms;
	p->timeout_ms = pp->timeout_ms;
	p->failures = pp->failures;
	p->initial_delay_ms = pp->initial_delay_ms;
	p->status_min = pp->status_min ? pp->status_min : RS_DEF_PROBE_STATUS_MIN;
	p->status_max = pp->status_max ? pp->status_max : RS_DEF_PROBE_STATUS_MAX;
	return 0;
}

/* Fills the initialised spec s from ps (NULL keeps the defaults); s owns
 * what it got even on failure. 0 or -wire_err. */
static int dec_spec(rs_spec *s, const Rs__ServiceSpec *ps)
{
	const Rs__Backoff *pb;
	int r;

	if (!ps)
		return 0;
	if ((unsigned)ps->policy >= RS_RP__NR ||
	    (unsigned)ps->notify >= RS_NT__NR ||
	    (unsigned)ps->fence >= RS_FENCE__NR)
		return -WIRE_E_ENUM;
	if (ps->reload_signal < 0 || ps->reload_signal >= NSIG)
		return -WIRE_E_FIELD;
	r = dec_label(s->label, ps->label);
	if (r == 0)
		r = dec_str(s->node, sizeof s->node, ps->node);
	if (r == 0)
		r = dec_str(s->user, sizeof s->user, ps->user);
	if (r == 0)
		r = dec_strv(s, ps->argv, ps->n_argv, rs_spec_add_arg);
	if (r == 0)
		r = dec_strv(s, ps->env, ps->n_env, rs_spec_add_env);
	if (r == 0)
		r = dec_dup(&s->cwd, ps->cwd, RS_ARG_MAX);
	if (r == 0)
		r = dec_dup(&s->script, ps->script, RS_ARG_MAX);
	if (r == 0)
		r = dec_strv(s, ps->depends_on, ps->n_depends_on, rs_spec_add_dep);
	if (r == 0 && ps->n_listen > RS_LISTEN_MAX)
		r = -WIRE_E_FIELD;
	if (r == 0)
		r = dec_strv(s, ps->listen, ps->n_listen, add_listen_checked);
	if (r == 0 && ps->n_placement > RS_PLACEMENT_MAX)
		r = -WIRE_E_FIELD;
	if (r == 0)
		r = dec_strv(s, ps->placement, ps->n_placement, rs_spec_add_placement);
	if (r == 0 && ps->probes) {
		const Rs__Probe *pp[RS_PROBE__NR] = {
			ps->probes->liveness, ps->probes->readiness, ps->probes->startup,
		};
		/* the receiver's rs_spec_validate says what is wrong in it */
		for (int i = 0; r == 0 && i < RS_PROBE__NR; i++)
			if (pp[i])
				r = dec_probe(&s->probes[i], pp[i]);
	}
	if (r == 0 && ps->limits) {
		/* the receiver's rs_spec_validate says what is out of range */
		s->limits.memory_max = ps->limits->memory_max;
		s->limits.memory_high = ps->limits->memory_high;
		s->limits.cpu_weight = ps->limits->cpu_weight;
		s->limits.cpu_max = ps->limits->cpu_max;
		s->limits.pids_max = ps->limits->pids_max;
	}
	if (r == 0 && ps->profile) {
		/* as for limits, the receiver's rs_spec_validate says what is
		 * out of range: an unknown capability, a value too large */
		const Rs__Profile *pp = ps->profile;
		rs_profile *pf = &s->profile;
		for (size_t i = 0; i < pp->n_caps; i++) {
			int k = rs_cap_parse(pp->caps[i]);
			pf->caps |= k < 0 ? 1ull << 63 : 1ull << k;
		}
		pf->caps_set = pp->caps_set || pp->n_caps;
		pf->nnp = pp->no_new_privs > 255 ? 255 : (uint8_t)pp->no_new_privs;
		pf->ro_root = pp->read_only_root;
		pf->private_tmp = pp->private_tmp;
		pf->nice = pp->nice;
		pf->fields = pp->fields;
		if (pp->cpus && strlen(pp->cpus) < sizeof pf->cpus)
			memcpy(pf->cpus, pp->cpus, strlen(pp->cpus) + 1);
		else if (pp->cpus)
			memset(pf->cpus, 'x', sizeof pf->cpus);   /* too long: refused */
	}
	if (r < 0)
		return r;
	s->critical = ps->critical != 0;
	s->keep_caps = ps->keep_caps != 0;
	s->fence = (rs_fence)ps->fence;
	s->reload_signal = ps->reload_signal;
	s->replicas = ps->replicas ? ps->replicas : 1;
	s->period_ms = ps->period_ms;
	s->ready_timeout_ms = ps->ready_timeout_ms;
	s->stop_timeout_ms = ps->stop_timeout_ms;
	s->stop_signal = ps->stop_signal;
	s->policy = (rs_policy)ps->policy;
	s->notify = (rs_notify_type)ps->notify;
	s->settle_ms = ps->settle_ms;
	pb = ps->backoff;
	if (pb) {
		s->backoff.initial_ms = pb->initial_ms;
		s->backoff.factor = pb->factor;
		s->backoff.max_ms = pb->max_ms;
		s->backoff.reset_ms = pb->reset_ms;
		s->backoff.disabled = pb->disabled != 0;
	}
	return 0;
}

/* Fills the zeroed o from pi (NULL keeps zeroes). 0 or -wire_err. */
static int dec_iinfo(rs_iinfo *o, const Rs__InstanceInfo *pi)
{
	const Rs__ExitInfo *pe;
	int r;

	if (!pi)
		return 0;
	pe = pi->last_exit;
	if ((unsigned)pi->state >= RS_IS__NR ||
	    (pe && (unsigned)pe->reason >= RS_ER__NR))
		return -WIRE_E_ENUM;
	r = dec_label(o->label, pi->label);
	if (r == 0)
		r = dec_str(o->status, sizeof o->status, pi->status_text);
	if (r < 0)
		return r;
	o->id = pi->id;
	o->generation = pi->generation;
	o->pid = pi->pid;
	o->state = (rs_istate)pi->state;
	o->restarts = pi->restarts;
	if (pe) {
		o->last_exit.code = pe->code;
		o->last_exit.signal = pe->signal;
		o->last_exit.reason = (rs_exit_reason)pe->reason;
		o->last_exit.time_ms = pe->time_ms;
	}
	o->started_ms = pi->started_ms;
	o->ready_ms = pi->ready_ms;
	o->start_ticks = pi->start_ticks;
	o->unready = pi->unready != 0;
	return 0;
}

/* Copies the n valid labels v[] (at most max) into a new NULL-terminated
 * *out; *nout counts what *out owns, also on failure. 0 or -wire_err. */
static int dec_labels(char ***out, size_t *nout, char *const *v, size_t n,
		      size_t max)
{
	if (n > max)
		return -WIRE_E_FIELD;
	if (!n)
		return 0;
	*out = calloc(n + 1, sizeof **out);
	if (!*out)
		return -WIRE_E_NOMEM;
	for (size_t i = 0; i < n; i++) {
		if (!v[i] || !rs_label_valid(v[i]))
			return -WIRE_E_FIELD;
		(*out)[i] = strdup(v[i]);
		if (!(*out)[i])
			return -WIRE_E_NOMEM;
		++*nout;
	}
	return 0;
}

/* Fills the zeroed h from ph; h owns what it got even on failure.
 * 0 or -wire_err. */
static int dec_hello(rs_hello *h, const Rs__Hello *ph)
{
	int r;

	if (ph->n_instances > RS_HELLO_INST_MAX)
		return -WIRE_E_FIELD;
	r = dec_str(h->node, sizeof h->node, ph->node);
	if (r == 0)
		r = dec_str(h->boot_id, sizeof h->boot_id, ph->boot_id);
	if (r == 0)
		r = dec_str(h->agent_version, sizeof h->agent_version,
			    ph->agent_version);
	if (r == 0)
		r = dec_str(h->cgroups, sizeof h->cgroups, ph->cgroups);
	if (r < 0)
		return r;
	h->capacity = ph->capacity;
	h->session = ph->session;
	h->events_from = ph->events_from;
	h->controllers = ph->controllers;
	h->privs = ph->privs;
	r = dec_labels(&h->labels, &h->nlabels, ph->labels, ph->n_labels,
		       RS_HELLO_LABELS_MAX);
	if (r < 0)
		return r;

	if (ph->n_instances) {
		h->instances = calloc(ph->n_instances, sizeof *h->instances);
		if (!h->instances)
			return -WIRE_E_NOMEM;
		h->ninstances = ph->n_instances;
	}
	for (size_t i = 0; i < ph->n_instances; i++) {
		r = dec_iinfo(&h->instances[i], ph->instances[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The bytes src takes in rows_text (with its NUL) if shorter than max,
 * else 0. */
static size_t row_str_len(const char *src, size_t max)
{
	size_t n = strnlen(src ? src : "", max);

	return n < max ? n + 1 : 0;
}

/* Copies src into *text (advanced) for *dst. */
static void row_str_put(const char **dst, const char *src, char **text)
{
	size_t n = strlen(src ? src : "") + 1;

	memcpy(*text, src ? src : "", n);
	*dst = *text;
	*text += n;
}

/* Copies pr's rows into rp: one array of rows and one block of their
 * strings (rows_text), both owned. 0 or -wire_err. */
static int dec_rows(rs_reply *rp, const Rs__Reply *pr)
{
	static const size_t max[] = { RS_LABEL_MAX, RS_ROW_WORD_MAX, RS_NODE_MAX,
		RS_ROW_WORD_MAX, RS_STATUS_MAX, RS_ROW_WORD_MAX, RS_DETAIL_MAX };
	size_t total = 0;
	char *text;

	if (!pr->n_rows)
		return 0;
	if (pr->n_rows > RS_ROWS_MAX)
		return -WIRE_E_FIELD;
	for (size_t i = 0; i < pr->n_rows; i++) {
		const Rs__StatusRow *x = pr->rows[i];
		const char *s[] = { x ? x->label : NULL, x ? x->state : NULL,
				    x ? x->node : NULL, x ? x->exit_reason : NULL,
				    x ? x->status_text : NULL, x ? x->op_kind : NULL,
				    x ? x->op_progress : NULL };

		if (!x || !x->label || !rs_label_valid(x->label))
			return -WIRE_E_FIELD;
		for (size_t k = 0; k < sizeof s / sizeof s[0]; k++) {
			size_t n = row_str_len(s[k], max[k]);

			if (!n)
				return -WIRE_E_FIELD;
			total += n;
		}
	}
	rp->rows = malloc(pr->n_rows * sizeof *rp->rows);
	rp->rows_text = text = malloc(total);
	if (!rp->rows || !text)
		return -WIRE_E_NOMEM;
	rp->nrows = pr->n_rows;
	for (size_t i = 0; i < pr->n_rows; i++) {
		const Rs__StatusRow *x = pr->rows[i];
		rs_status_row *y = &rp->rows[i];

		y->instance = x->instance;
		y->standby = x->standby != 0;
		y->pid = x->pid;
		y->restarts = x->restarts;
		y->started_ms = x->started_ms;
		y->exit_code = x->exit_code;
		y->exit_signal = x->exit_signal;
		y->cpu_ms = x->cpu_ms;
		y->memory = x->memory;
		y->memory_peak = x->memory_peak;
		y->tasks = x->tasks;
		y->usage_ms = x->usage_ms;
		row_str_put(&y->label, x->label, &text);
		row_str_put(&y->state, x->state, &text);
		row_str_put(&y->node, x->node, &text);
		row_str_put(&y->exit_reason, x->exit_reason, &text);
		row_str_put(&y->status, x->status_text, &text);
		row_str_put(&y->op_kind, x->op_kind, &text);
		row_str_put(&y->op_progress, x->op_progress, &text);
	}
	return 0;
}

/* A beat's usage entries, copied: at most RS_BEAT_USAGE_MAX, each with
 * an instance id. 0 or -wire_err. */
static int dec_usage(rs_beat *b, const Rs__NodeBeat *x)
{
	if (!x->n_usage)
		return 0;
	if (x->n_usage > RS_BEAT_USAGE_MAX)
		return -WIRE_E_FIELD;
	for (size_t i = 0; i < x->n_usage; i++)
		if (!x->usage[i] || !x->usage[i]->instance_id)
			return -WIRE_E_FIELD;
	b->usage = calloc(x->n_usage, sizeof *b->usage);
	if (!b->usage)
		return -WIRE_E_NOMEM;
	b->nusage = x->n_usage;
	for (size_t i = 0; i < x->n_usage; i++) {
		const Rs__InstanceUsage *u = x->usage[i];

		b->usage[i] = (rs_usage){ .instance_id = u->instance_id,
			.cpu_ms = u->cpu_ms, .memory = u->memory,
			.memory_peak = u->memory_peak, .tasks = u->tasks,
			.time_ms = u->time_ms };
	}
	return 0;
}

/* A Batch's items, copied: at least one, at most RS_BATCH_MAX. (Whether
 * an item is itself a Batch is the receiver's check: it decodes each.) */
static int dec_batch(rs_batch *b, const Rs__Batch *x)
{
	if (!x->n_items || x->n_items > RS_BATCH_MAX)
		return -WIRE_E_FIELD;
	b->items = calloc(x->n_items, sizeof *b->items);
	if (!b->items)
		return -WIRE_E_GARBAGE;
	for (size_t i = 0; i < x->n_items; i++) {
		size_t len = x->items[i].len;

		b->items[i].buf = malloc(len ? len : 1);
		if (!b->items[i].buf)
			return -WIRE_E_GARBAGE;   /* (rs_msg_clear frees the rest) */
		if (len)
			memcpy(b->items[i].buf, x->items[i].data, len);
		b->items[i].len = len;
		b->nitems++;
	}
	return 0;
}

/* Fills m (initialised for its type) from env's body. 0 or -wire_err. */
static int dec_body(rs_msg *m, const Rs__Envelope *env)
{
	int r;

	switch (m->type) {
	case RS_MSG_HELLO:
		return dec_hello(&m->u.hello, env->hello);
	case RS_MSG_BEAT:
		m->u.beat.time_ms = env->beat->time_ms;
		m->u.beat.running = env->beat->running;
		return dec_usage(&m->u.beat, env->beat);
	case RS_MSG_EVENT:
		if ((unsigned)env->event->kind >= RS_EK__NR)
			return -WIRE_E_ENUM;
		m->u.event.kind = (rs_event_kind)env->event->kind;
		m->u.event.backoff_ms = env->event->backoff_ms;
		m->u.event.latency_us = env->event->latency_us;
		m->u.event.prev_seq = env->event->prev_seq;
		r = dec_iinfo(&m->u.event.info, env->event->info);
		if (r < 0)
			return r;
		return dec_dup(&m->u.event.detail, env->event->detail, 0);
	case RS_MSG_WELCOME:
		m->u.welcome.beat_ms = env->welcome->beat_ms;
		m->u.welcome.ttl_ms = env->welcome->ttl_ms;
		m->u.welcome.order_base = env->welcome->order_base;
		m->u.welcome.session = env->welcome->session;
		m->u.welcome.hello_seq = env->welcome->hello_seq;
		m->u.welcome.lease_ms = env->welcome->lease_ms;
		return 0;
	case RS_MSG_REHELLO:
		return 0;
	case RS_MSG_START:
		m->u.start.instance_id = env->start->instance_id;
		m->u.start.generation = env->start->generation;
		m->u.start.respec = env->start->respec != 0;
		if (env->start->prepare_signal < 0 || env->start->prepare_signal >= NSIG ||
		    env->start->maxtime_ms > RS_UPDATE_TIME_MAX_MS ||
		    env->start->min_healthy_ms > RS_UPDATE_TIME_MAX_MS)
			return -WIRE_E_FIELD;
		m->u.start.update = env->start->update != 0;
		m->u.start.maxtime_ms = env->start->maxtime_ms;
		m->u.start.min_healthy_ms = env->start->min_healthy_ms;
		m->u.start.prepare_signal = env->start->prepare_signal;
		return dec_spec(&m->u.start.spec, env->start->spec);
	case RS_MSG_STOP:
		m->u.stop.instance_id = env->stop->instance_id;
		m->u.stop.forget = env->stop->forget != 0;
		m->u.stop.restart = env->stop->restart != 0;
		return 0;
	case RS_MSG_SIGNAL:
		if (env->signal->signal < 1 || env->signal->signal >= NSIG)
			return -WIRE_E_FIELD;
		m->u.signal.instance_id = env->signal->instance_id;
		m->u.signal.signal = env->signal->signal;
		m->u.signal.group = env->signal->group != 0;
		return 0;
	case RS_MSG_BEAT_ACK:
		m->u.beat_ack.time_ms = env->beat_ack->time_ms;
		return 0;
	case RS_MSG_REQUEST:
		if (!rs_verb_known(env->request->verb))
			return -WIRE_E_ENUM;
		m->u.request.id = env->request->id;
		m->u.request.verb = (rs_verb)env->request->verb;
		m->u.request.no_block = env->request->no_block != 0;
		m->u.request.timeout_ms = env->request->timeout_ms;
		m->u.request.limit = env->request->limit;
		m->u.request.edit_mask = env->request->edit_mask;
		m->u.request.force = env->request->force != 0;
		m->u.request.keep_events = env->request->keep_events != 0;
		m->u.request.instance = env->request->instance;
		m->u.request.after = env->request->after;
		m->u.request.dry_run = env->request->dry_run != 0;
		if (!update_ok(env->request->maxtime_ms, env->request->min_healthy_ms,
			       env->request->prepare_signal, env->request->max_unavailable))
			return -WIRE_E_FIELD;
		m->u.request.maxtime_ms = env->request->maxtime_ms;
		m->u.request.min_healthy_ms = env->request->min_healthy_ms;
		m->u.request.prepare_signal = env->request->prepare_signal;
		m->u.request.no_rollback = env->request->no_rollback != 0;
		m->u.request.max_unavailable = env->request->max_unavailable;
		m->u.request.canary = env->request->canary != 0;
		m->u.request.since_ms = env->request->since_ms;
		m->u.request.node_key = env->request->node_key != 0;
		r = dec_str(m->u.request.role, sizeof m->u.request.role,
			    env->request->role);
		if (r < 0)
			return r;
		r = dec_str(m->u.request.pattern, sizeof m->u.request.pattern,
			    env->request->pattern);
		if (r < 0)
			return r;
		r = dec_str(m->u.request.public_key, sizeof m->u.request.public_key,
			    env->request->public_key);
		if (r < 0)
			return r;
		m->u.request.page_size = env->request->page_size;
		m->u.request.rows = env->request->rows != 0;
		if (env->request->pid < 0)
			return -WIRE_E_FIELD;
		m->u.request.previous = env->request->previous != 0;
		m->u.request.pid = env->request->pid;
		m->u.request.stamped = env->request->stamped != 0;
		if (env->request->signal < 0 || env->request->signal >= NSIG)
			return -WIRE_E_FIELD;
		m->u.request.signal = env->request->signal;
		m->u.request.main_only = env->request->main_only != 0;
		m->u.request.revision = env->request->revision;
		if ((r = dec_label(m->u.request.node, env->request->node)) < 0 ||
		    (r = dec_str(m->u.request.state, sizeof m->u.request.state,
				 env->request->state)) < 0 ||
		    (r = dec_str(m->u.request.page_after, sizeof m->u.request.page_after,
				 env->request->page_after)) < 0)
			return r;
		r = dec_labels(&m->u.request.batch, &m->u.request.nbatch,
			       env->request->batch, env->request->n_batch,
			       RS_UPDATE_BATCH_MAX);
		if (r < 0)
			return r;
		if (env->request->n_specs > RS_APPLY_MAX)
			return -WIRE_E_FIELD;
		if (env->request->n_specs) {
			m->u.request.specs = calloc(env->request->n_specs, sizeof(rs_spec));
			if (!m->u.request.specs)
				return -WIRE_E_NOMEM;
			for (size_t i = 0; i < env->request->n_specs; i++) {
				rs_spec_init(&m->u.request.specs[i]);
				m->u.request.nspecs = i + 1;
				if (!env->request->specs[i])
					return -WIRE_E_FIELD;
				r = dec_spec(&m->u.request.specs[i], env->request->specs[i]);
				if (r < 0)
					return r;
			}
		}
		r = dec_label(m->u.request.label, env->request->label);
		if (r < 0)
			return r;
		return dec_spec(&m->u.request.spec, env->request->spec);
	case RS_MSG_REPLY:
		m->u.reply.id = env->reply->id;
		m->u.reply.code = env->reply->code;
		r = dec_dup(&m->u.reply.message, env->reply->message, 0);
		if (r < 0)
			return r;
		r = dec_str(m->u.reply.next_page, sizeof m->u.reply.next_page,
			    env->reply->next_page);
		if (r < 0)
			return r;
		r = dec_rows(&m->u.reply, env->reply);
		if (r < 0)
			return r;
		return dec_dup(&m->u.reply.json, env->reply->json, 0);
	case RS_MSG_LOGS_GET:
		m->u.logs_get.req_id = env->logs_get->req_id;
		m->u.logs_get.instance_id = env->logs_get->instance_id;
		m->u.logs_get.lines = env->logs_get->lines;
		m->u.logs_get.after = env->logs_get->after;
		if (env->logs_get->pid < 0)
			return -WIRE_E_FIELD;
		m->u.logs_get.stamped = env->logs_get->stamped != 0;
		m->u.logs_get.since_ms = env->logs_get->since_ms;
		m->u.logs_get.previous = env->logs_get->previous != 0;
		m->u.logs_get.pid = env->logs_get->pid;
		return dec_label(m->u.logs_get.label, env->logs_get->label);
	case RS_MSG_LOGS_DATA:
		if (env->logs_data->data.len > RS_LOGS_MAX)
			return -WIRE_E_FIELD;
		m->u.logs_data.req_id = env->logs_data->req_id;
		m->u.logs_data.found = env->logs_data->found != 0;
		m->u.logs_data.next = env->logs_data->next;
		if (env->logs_data->pid < 0 || env->logs_data->prev_pid < 0)
			return -WIRE_E_FIELD;
		m->u.logs_data.pid = env->logs_data->pid;
		m->u.logs_data.prev_pid = env->logs_data->prev_pid;
		m->u.logs_data.more = env->logs_data->more != 0;
		m->u.logs_data.stamped = env->logs_data->stamped != 0;
		m->u.logs_data.len = env->logs_data->data.len;
		m->u.logs_data.data = malloc(m->u.logs_data.len ? m->u.logs_data.len : 1);
		if (!m->u.logs_data.data)
			return -WIRE_E_GARBAGE;
		if (m->u.logs_data.len)
			memcpy(m->u.logs_data.data, env->logs_data->data.data,
			       m->u.logs_data.len);
		return 0;
	case RS_MSG_ENROLL:
		r = dec_str(m->u.enroll.public_key, sizeof m->u.enroll.public_key,
			    env->enroll->public_key);
		if (r < 0)
			return r;
		return dec_str(m->u.enroll.node, sizeof m->u.enroll.node,
			       env->enroll->node);
	case RS_MSG_ENROLLED:
		m->u.enrolled.code = env->enrolled->code;
		return dec_dup(&m->u.enrolled.message, env->enrolled->message, 0);
	case RS_MSG_BATCH:
		return dec_batch(&m->u.batch, env->batch);
	default:
		return -WIRE_E_TYPE;
	}
}

/* The rs_msg_type of env's body, RS_MSG_NONE if unset/unknown/missing. */
static rs_msg_type body_type(const Rs__Envelope *env)
{
	switch (env->body_case) {
	case RS__ENVELOPE__BODY_HELLO:
		return env->hello ? RS_MSG_HELLO : RS_MSG_NONE;
	case RS__ENVELOPE__BODY_BEAT:
		return env->beat ? RS_MSG_BEAT : RS_MSG_NONE;
	case RS__ENVELOPE__BODY_EVENT:
		return env->event ? RS_MSG_EVENT : RS_MSG_NONE;
	case RS__ENVELOPE__BODY_WELCOME:
		return env->welcome ? RS_MSG_WELCOME : RS_MSG_NONE;
	case RS__ENVELOPE__BODY_REHELLO:
		return env->rehello ? RS_MSG_REHELLO : RS_MSG_NONE;
	case RS__ENVELOPE__BODY_START:
		return env->start ? RS_MSG_START : RS_MSG_NONE;
	case RS__ENVELOPE__BODY_STOP:
		return env->stop ? RS_MSG_STOP : RS_MSG_NONE;
	case RS__ENVELOPE__BODY_BEAT_ACK:
		return env->beat_ack ? RS_MSG_BEAT_ACK : RS_MSG_NONE;
	case RS__ENVELOPE__BODY_REQUEST:
		return env->request ? RS_MSG_REQUEST : RS_MSG_NONE;
	case RS__ENVELOPE__BODY_REPLY:
		return env->reply ? RS_MSG_REPLY : RS_MSG_NONE;
	case RS__ENVELOPE__BODY_LOGS_GET:
		return env->logs_get ? RS_MSG_LOGS_GET : RS_MSG_NONE;
	case RS__ENVELOPE__BODY_LOGS_DATA:
		return env->logs_data ? RS_MSG_LOGS_DATA : RS_MSG_NONE;
	case RS__ENVELOPE__BODY_ENROLL:
		return env->enroll ? RS_MSG_ENROLL : RS_MSG_NONE;
	case RS__ENVELOPE__BODY_ENROLLED:
		return env->enrolled ? RS_MSG_ENROLLED : RS_MSG_NONE;
	case RS__ENVELOPE__BODY_BATCH:
		return env->batch ? RS_MSG_BATCH : RS_MSG_NONE;
	case RS__ENVELOPE__BODY_SIGNAL:
		return env->signal ? RS_MSG_SIGNAL : RS_MSG_NONE;
	default:
		return RS_MSG_NONE;
	}
}

int wire_decode(const uint8_t *buf, size_t len, rs_msg *m)
{
	static const uint8_t empty[1];
	Rs__Envelope *env;
	rs_msg_type type;
	int r;

	memset(m, 0, sizeof *m);
	if (len > RS_FRAME_MAX)
		return -WIRE_E_OVERSIZE;
	if (!buf) {
		if (len)
			return -WIRE_E_GARBAGE;
		buf = empty;
	}
	env = rs__envelope__unpack(NULL, len, buf);
	if (!env)
		return -WIRE_E_GARBAGE;

	if (env->version != RS_PROTO_VERSION) {
		r = -WIRE_E_VERSION;
		goto out;
	}
	type = body_type(env);
	if (type == RS_MSG_NONE) {
		r = -WIRE_E_TYPE;
		goto out;
	}
	rs_msg_init(m, type);
	m->version = env->version;
	m->seq = env->seq;
	m->ack = env->ack;
	m->features = env->features;
	m->epoch = env->epoch;
	m->order = env->order;
	m->order_ack = env->order_ack;
	m->order_base = env->order_base;
	if (rs_strlcpy(m->sender_version, env->sender_version ? env->sender_version : "",
		       sizeof m->sender_version) < 0) {
		r = -WIRE_E_FIELD;
		goto out;
	}
	r = dec_body(m, env);
out:
	if (r < 0)
		rs_msg_clear(m);
	rs__envelope__free_unpacked(env, NULL);
	return r;
}

const char *wire_err_to_string(wire_err e)
{
	static const char *const names[WIRE_E__NR] = {
		"ok", "oversize", "garbage", "version", "type", "enum", "field",
	};

	return (unsigned)e < WIRE_E__NR ? names[e] : "unknown";
}
