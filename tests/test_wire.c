/*
 * test_wire.c - wire_encode/wire_decode: round trips of every message,
 * truncation, junk, hand-assembled protobuf with bad enums, versions,
 * oversized strings and vectors. Does not include rs.pb-c.h: bad frames are
 * built here byte by byte.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probespec.h"
#include "reslimits.h"
#include "profile.h"
#include "wire.h"

/* ---------- a tiny protobuf writer ---------- */

struct pb {
	uint8_t *p;
	size_t   n, cap;
};

static void pb_raw(struct pb *b, const void *data, size_t len)
{
	if (b->n + len > b->cap) {
		size_t cap = b->cap ? b->cap : 64;

		while (cap < b->n + len)
			cap *= 2;
		b->p = realloc(b->p, cap);
		cr_assert_not_null(b->p);
		b->cap = cap;
	}
	if (len)
		memcpy(b->p + b->n, data, len);
	b->n += len;
}

static void pb_uvarint(struct pb *b, uint64_t v)
{
	uint8_t c;

	do {
		c = v & 0x7f;
		v >>= 7;
		if (v)
			c |= 0x80;
		pb_raw(b, &c, 1);
	} while (v);
}

/* Field with wire type 0 (int32 negatives are sign-extended to 64 bits). */
static void pb_varint(struct pb *b, unsigned field, int64_t v)
{
	pb_uvarint(b, (uint64_t)field << 3);
	pb_uvarint(b, (uint64_t)v);
}

static void pb_bytes(struct pb *b, unsigned field, const void *d, size_t len)
{
	pb_uvarint(b, (uint64_t)field << 3 | 2);
	pb_uvarint(b, len);
	pb_raw(b, d, len);
}

static void pb_str(struct pb *b, unsigned field, const char *s)
{
	pb_bytes(b, field, s, strlen(s));
}

/* Appends sub as a length-delimited field and frees it. */
static void pb_sub(struct pb *b, unsigned field, struct pb *sub)
{
	pb_bytes(b, field, sub->p, sub->n);
	free(sub->p);
	memset(sub, 0, sizeof *sub);
}

static void pb_free(struct pb *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

/* Envelope field numbers */
enum { F_VERSION = 1, F_SEQ = 2, F_ACK = 3, F_HELLO = 10, F_BEAT = 11,
       F_EVENT = 12, F_START = 15, F_REQUEST = 20 };

/* Wraps body in an Envelope with the given version (0: field omitted). */
static struct pb envelope(uint32_t version, unsigned field, struct pb *body)
{
	struct pb env = { 0 };

	if (version)
		pb_varint(&env, F_VERSION, version);
	if (field)
		pb_sub(&env, field, body);
	return env;
}

/* Decodes b, frees it, and returns wire_decode's result; m cleared. */
static int decode_pb(struct pb *b)
{
	rs_msg m;
	int r = wire_decode(b->p, b->n, &m);

	pb_free(b);
	rs_msg_clear(&m);
	return r;
}

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *c = p;

	for (size_t i = 0; i < n; i++)
		if (c[i])
			return false;
	return true;
}

/* ---------- sample messages ---------- */

static void fill_iinfo(rs_iinfo *i, unsigned k)
{
	memset(i, 0, sizeof *i);
	i->id = 1000 + k;
	snprintf(i->label, sizeof i->label, "svc-%u.x_y", k);
	i->generation = 7 + k;
	i->pid = 4242 + (int)k;
	i->state = RS_IS_LOST;
	i->restarts = 3 + k;
	i->last_exit.code = -3;
	i->last_exit.signal = SIGKILL;
	i->last_exit.reason = k % 2 ? RS_ER_FENCED : RS_ER_STOPPED;
	i->last_exit.time_ms = 1700000000123ull + k;
	snprintf(i->status, sizeof i->status, "serving %u clients", k);
	i->started_ms = 1700000000000ull;
	i->ready_ms = 1700000000500ull;
	i->start_ticks = 0x123456789abcull;
}

static void fill_spec(rs_spec *s)
{
	rs_spec_init(s);
	strcpy(s->label, "web.front-1");
	cr_assert_eq(rs_spec_add_arg(s, "/usr/bin/env"), 0);
	cr_assert_eq(rs_spec_add_arg(s, "sh"), 0);
	cr_assert_eq(rs_spec_add_arg(s, "-c"), 0);
	cr_assert_eq(rs_spec_add_arg(s, ""), 0);
	cr_assert_eq(rs_spec_add_env(s, "A=1"), 0);
	cr_assert_eq(rs_spec_add_env(s, "PATH=/bin:/usr/bin"), 0);
	s->cwd = strdup("/var/lib/rs");
	s->period_ms = 1500;
	s->ready_timeout_ms = 12345;
	s->stop_timeout_ms = 777;
	s->stop_signal = SIGINT;
	s->policy = RS_RP_NEVER;
	s->backoff.initial_ms = 11;
	s->backoff.factor = 3;
	s->backoff.max_ms = 99999;
	s->backoff.reset_ms = 4444;
	s->backoff.disabled = true;
	s->notify = RS_NT_SIMPLE;
	s->settle_ms = 321;
	strcpy(s->node, "node-7");
	strcpy(s->user, "www-data");
	s->keep_caps = true;
	s->fence = RS_FENCE_STOP;
	s->reload_signal = SIGUSR2;
	cr_assert_eq(rs_spec_add_listen(s, "web=tcp:0.0.0.0:8080"), 0);
	cr_assert_eq(rs_spec_add_listen(s, "ctl=unix:/run/web.sock"), 0);
}

static void fill_hello(rs_msg *m, size_t ninst)
{
	rs_hello *h = &m->u.hello;

	rs_msg_init(m, RS_MSG_HELLO);
	strcpy(h->node, "node-a");
	strcpy(h->boot_id, "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0");
	strcpy(h->agent_version, "0.1.0");
	h->capacity = 17;
	h->session = 0x123456789abcdef0ull;
	h->events_from = 0x0123456789abcdefull;
	strcpy(h->cgroups, "/sys/fs/cgroup/unified/rs.node-a, no cgroup.kill");
	h->controllers = RS_CTL_MEMORY | RS_CTL_PIDS;
	h->privs = RS_PRIV_PROFILE | RS_PRIV_CAPS;
	h->nlabels = 3;
	h->labels = calloc(3, sizeof *h->labels);
	h->labels[0] = strdup("alpha");
	h->labels[1] = strdup("beta.2");
	h->labels[2] = strdup("Gamma_3");
	h->ninstances = ninst;
	h->instances = calloc(ninst ? ninst : 1, sizeof *h->instances);
	for (size_t i = 0; i < ninst; i++)
		fill_iinfo(&h->instances[i], (unsigned)i);
}

static void fill_start(rs_msg *m)
{
	rs_msg_init(m, RS_MSG_START);
	rs_spec_clear(&m->u.start.spec);
	fill_spec(&m->u.start.spec);
	m->u.start.instance_id = 0xfffffffffffffff0ull;
	m->u.start.generation = 99;
}

/* ---------- comparisons ---------- */

static void cmp_str_or_null(const char *a, const char *b)
{
	if (!a || !b)
		cr_assert_eq(a, b, "%p vs %p", (void *)a, (void *)b);
	else
		cr_assert_str_eq(a, b);
}

static void cmp_iinfo(const rs_iinfo *a, const rs_iinfo *b)
{
	cr_assert_eq(a->id, b->id);
	cr_assert_str_eq(a->label, b->label);
	cr_assert_eq(a->generation, b->generation);
	cr_assert_eq(a->pid, b->pid);
	cr_assert_eq(a->state, b->state);
	cr_assert_eq(a->restarts, b->restarts);
	cr_assert_eq(a->last_exit.code, b->last_exit.code);
	cr_assert_eq(a->last_exit.signal, b->last_exit.signal);
	cr_assert_eq(a->last_exit.reason, b->last_exit.reason);
	cr_assert_eq(a->last_exit.time_ms, b->last_exit.time_ms);
	cr_assert_str_eq(a->status, b->status);
	cr_assert_eq(a->started_ms, b->started_ms);
	cr_assert_eq(a->ready_ms, b->ready_ms);
	cr_assert_eq(a->start_ticks, b->start_ticks);
	cr_assert_eq(a->unready, b->unready);
}

static void cmp_spec(const rs_spec *a, const rs_spec *b)
{
	cr_assert_str_eq(a->label, b->label);
	cr_assert_eq(a->argc, b->argc);
	for (size_t i = 0; i < a->argc; i++)
		cr_assert_str_eq(a->argv[i], b->argv[i]);
	if (b->argc)
		cr_assert_null(b->argv[b->argc]);
	cr_assert_eq(a->envc, b->envc);
	for (size_t i = 0; i < a->envc; i++)
		cr_assert_str_eq(a->env[i], b->env[i]);
	cmp_str_or_null(a->cwd, b->cwd);
	cr_assert_eq(a->period_ms, b->period_ms);
	cr_assert_eq(a->ready_timeout_ms, b->ready_timeout_ms);
	cr_assert_eq(a->stop_timeout_ms, b->stop_timeout_ms);
	cr_assert_eq(a->stop_signal, b->stop_signal);
	cr_assert_eq(a->policy, b->policy);
	cr_assert_eq(a->backoff.initial_ms, b->backoff.initial_ms);
	cr_assert_eq(a->backoff.factor, b->backoff.factor);
	cr_assert_eq(a->backoff.max_ms, b->backoff.max_ms);
	cr_assert_eq(a->backoff.reset_ms, b->backoff.reset_ms);
	cr_assert_eq(a->backoff.disabled, b->backoff.disabled);
	cr_assert_eq(a->notify, b->notify);
	cr_assert_eq(a->settle_ms, b->settle_ms);
	cr_assert_str_eq(a->node, b->node);
	cr_assert_str_eq(a->user, b->user);
	cr_assert_eq(a->keep_caps, b->keep_caps);
	cr_assert_eq(a->fence, b->fence);
	cr_assert_eq(a->reload_signal, b->reload_signal);
	for (int i = 0; i < RS_PROBE__NR; i++)
		cr_assert(rs_probe_equal(&a->probes[i], &b->probes[i]), "probe %d", i);
	cr_assert(rs_limits_equal(&a->limits, &b->limits));
	cr_assert(rs_profile_equal(&a->profile, &b->profile));
	cr_assert_eq(a->profile.caps, b->profile.caps);
	cr_assert_eq(a->profile.fields, b->profile.fields);
	cr_assert_eq(a->nlisten, b->nlisten);
	for (size_t i = 0; i < a->nlisten; i++)
		cr_assert_str_eq(a->listen[i], b->listen[i]);
	if (b->nlisten)
		cr_assert_null(b->listen[b->nlisten]);
}

/* Field-by-field comparison of two messages of the same type. */
/* A row sent (a NULL string goes as "") and the row decoded (no NULL). */
static void cmp_row(const rs_status_row *a, const rs_status_row *b)
{
#define S0(s) ((s) ? (s) : "")
	cr_assert_str_eq(S0(a->label), b->label);
	cr_assert_eq(a->instance, b->instance);
	cr_assert_str_eq(S0(a->state), b->state);
	cr_assert_eq(a->standby, b->standby);
	cr_assert_str_eq(S0(a->node), b->node);
	cr_assert_eq(a->pid, b->pid);
	cr_assert_eq(a->restarts, b->restarts);
	cr_assert_eq(a->started_ms, b->started_ms);
	cr_assert_str_eq(S0(a->exit_reason), b->exit_reason);
	cr_assert_eq(a->exit_code, b->exit_code);
	cr_assert_eq(a->exit_signal, b->exit_signal);
	cr_assert_str_eq(S0(a->status), b->status);
	cr_assert_str_eq(S0(a->op_kind), b->op_kind);
	cr_assert_str_eq(S0(a->op_progress), b->op_progress);
	cr_assert_eq(a->cpu_ms, b->cpu_ms);
	cr_assert_eq(a->memory, b->memory);
	cr_assert_eq(a->memory_peak, b->memory_peak);
	cr_assert_eq(a->tasks, b->tasks);
	cr_assert_eq(a->usage_ms, b->usage_ms);
#undef S0
}

static void cmp_msg(const rs_msg *a, const rs_msg *b)
{
	cr_assert_eq(a->type, b->type);
	cr_assert_eq(b->version, RS_PROTO_VERSION);
	cr_assert_eq(a->seq, b->seq);
	cr_assert_eq(a->ack, b->ack);
	cr_assert_eq(a->epoch, b->epoch);
	cr_assert_eq(a->order, b->order);
	cr_assert_eq(a->order_ack, b->order_ack);
	cr_assert_eq(a->order_base, b->order_base);
	switch (a->type) {
	case RS_MSG_HELLO:
		cr_assert_str_eq(a->u.hello.node, b->u.hello.node);
		cr_assert_str_eq(a->u.hello.boot_id, b->u.hello.boot_id);
		cr_assert_str_eq(a->u.hello.agent_version,
				 b->u.hello.agent_version);
		cr_assert_eq(a->u.hello.capacity, b->u.hello.capacity);
		cr_assert_eq(a->u.hello.session, b->u.hello.session);
		cr_assert_eq(a->u.hello.events_from, b->u.hello.events_from);
		cr_assert_str_eq(a->u.hello.cgroups, b->u.hello.cgroups);
		cr_assert_eq(a->u.hello.controllers, b->u.hello.controllers);
		cr_assert_eq(a->u.hello.privs, b->u.hello.privs);
		cr_assert_eq(a->u.hello.nlabels, b->u.hello.nlabels);
		for (size_t i = 0; i < a->u.hello.nlabels; i++)
			cr_assert_str_eq(a->u.hello.labels[i],
					 b->u.hello.labels[i]);
		cr_assert_eq(a->u.hello.ninstances, b->u.hello.ninstances);
		for (size_t i = 0; i < a->u.hello.ninstances; i++)
			cmp_iinfo(&a->u.hello.instances[i],
				  &b->u.hello.instances[i]);
		break;
	case RS_MSG_BEAT:
		cr_assert_eq(a->u.beat.time_ms, b->u.beat.time_ms);
		cr_assert_eq(a->u.beat.running, b->u.beat.running);
		cr_assert_eq(a->u.beat.nusage, b->u.beat.nusage);
		for (size_t i = 0; i < a->u.beat.nusage; i++)
			cr_assert(memcmp(&a->u.beat.usage[i], &b->u.beat.usage[i],
					 sizeof a->u.beat.usage[i]) == 0, "usage %zu", i);
		break;
	case RS_MSG_EVENT:
		cr_assert_eq(a->u.event.kind, b->u.event.kind);
		cmp_iinfo(&a->u.event.info, &b->u.event.info);
		cmp_str_or_null(a->u.event.detail, b->u.event.detail);
		cr_assert_eq(a->u.event.backoff_ms, b->u.event.backoff_ms);
		cr_assert_eq(a->u.event.latency_us, b->u.event.latency_us);
		cr_assert_eq(a->u.event.prev_seq, b->u.event.prev_seq);
		break;
	case RS_MSG_WELCOME:
		cr_assert_eq(a->u.welcome.beat_ms, b->u.welcome.beat_ms);
		cr_assert_eq(a->u.welcome.ttl_ms, b->u.welcome.ttl_ms);
		cr_assert_eq(a->u.welcome.order_base, b->u.welcome.order_base);
		cr_assert_eq(a->u.welcome.session, b->u.welcome.session);
		cr_assert_eq(a->u.welcome.hello_seq, b->u.welcome.hello_seq);
		cr_assert_eq(a->u.welcome.lease_ms, b->u.welcome.lease_ms);
		break;
	case RS_MSG_REHELLO:
		break;
	case RS_MSG_START:
		cr_assert_eq(a->u.start.instance_id, b->u.start.instance_id);
		cr_assert_eq(a->u.start.generation, b->u.start.generation);
		cmp_spec(&a->u.start.spec, &b->u.start.spec);
		break;
	case RS_MSG_STOP:
		cr_assert_eq(a->u.stop.instance_id, b->u.stop.instance_id);
		cr_assert_eq(a->u.stop.forget, b->u.stop.forget);
		break;
	case RS_MSG_SIGNAL:
		cr_assert_eq(a->u.signal.instance_id, b->u.signal.instance_id);
		cr_assert_eq(a->u.signal.signal, b->u.signal.signal);
		cr_assert_eq(a->u.signal.group, b->u.signal.group);
		break;
	case RS_MSG_BEAT_ACK:
		cr_assert_eq(a->u.beat_ack.time_ms, b->u.beat_ack.time_ms);
		break;
	case RS_MSG_REQUEST:
		cr_assert_eq(a->u.request.id, b->u.request.id);
		cr_assert_eq(a->u.request.verb, b->u.request.verb);
		cr_assert_str_eq(a->u.request.label, b->u.request.label);
		cmp_spec(&a->u.request.spec, &b->u.request.spec);
		cr_assert_eq(a->u.request.no_block, b->u.request.no_block);
		cr_assert_eq(a->u.request.timeout_ms, b->u.request.timeout_ms);
		cr_assert_eq(a->u.request.limit, b->u.request.limit);
		cr_assert_eq(a->u.request.edit_mask, b->u.request.edit_mask);
		cr_assert_eq(a->u.request.maxtime_ms, b->u.request.maxtime_ms);
		cr_assert_eq(a->u.request.min_healthy_ms, b->u.request.min_healthy_ms);
		cr_assert_eq(a->u.request.prepare_signal, b->u.request.prepare_signal);
		cr_assert_eq(a->u.request.no_rollback, b->u.request.no_rollback);
		cr_assert_eq(a->u.request.max_unavailable, b->u.request.max_unavailable);
		cr_assert_eq(a->u.request.canary, b->u.request.canary);
		cr_assert_eq(a->u.request.nbatch, b->u.request.nbatch);
		for (size_t i = 0; i < a->u.request.nbatch; i++)
			cr_assert_str_eq(a->u.request.batch[i], b->u.request.batch[i]);
		if (b->u.request.nbatch)
			cr_assert_null(b->u.request.batch[b->u.request.nbatch]);
		cr_assert_str_eq(a->u.request.node, b->u.request.node);
		cr_assert_str_eq(a->u.request.state, b->u.request.state);
		cr_assert_str_eq(a->u.request.page_after, b->u.request.page_after);
		cr_assert_eq(a->u.request.page_size, b->u.request.page_size);
		cr_assert_eq(a->u.request.rows, b->u.request.rows);
		cr_assert_eq(a->u.request.force, b->u.request.force);
		cr_assert_eq(a->u.request.keep_events, b->u.request.keep_events);
		cr_assert_eq(a->u.request.since_ms, b->u.request.since_ms);
		cr_assert_eq(a->u.request.previous, b->u.request.previous);
		cr_assert_eq(a->u.request.pid, b->u.request.pid);
		cr_assert_eq(a->u.request.stamped, b->u.request.stamped);
		cr_assert_eq(a->u.request.signal, b->u.request.signal);
		cr_assert_eq(a->u.request.main_only, b->u.request.main_only);
		cr_assert_eq(a->u.request.revision, b->u.request.revision);
		break;
	case RS_MSG_LOGS_GET:
		cr_assert_eq(a->u.logs_get.req_id, b->u.logs_get.req_id);
		cr_assert_eq(a->u.logs_get.instance_id, b->u.logs_get.instance_id);
		cr_assert_str_eq(a->u.logs_get.label, b->u.logs_get.label);
		cr_assert_eq(a->u.logs_get.lines, b->u.logs_get.lines);
		cr_assert_eq(a->u.logs_get.after, b->u.logs_get.after);
		cr_assert_eq(a->u.logs_get.stamped, b->u.logs_get.stamped);
		cr_assert_eq(a->u.logs_get.since_ms, b->u.logs_get.since_ms);
		cr_assert_eq(a->u.logs_get.previous, b->u.logs_get.previous);
		cr_assert_eq(a->u.logs_get.pid, b->u.logs_get.pid);
		break;
	case RS_MSG_LOGS_DATA:
		cr_assert_eq(a->u.logs_data.req_id, b->u.logs_data.req_id);
		cr_assert_eq(a->u.logs_data.found, b->u.logs_data.found);
		cr_assert_eq(a->u.logs_data.len, b->u.logs_data.len);
		cr_assert(a->u.logs_data.len == 0 ||
			  !memcmp(a->u.logs_data.data, b->u.logs_data.data, a->u.logs_data.len));
		cr_assert_eq(a->u.logs_data.next, b->u.logs_data.next);
		cr_assert_eq(a->u.logs_data.pid, b->u.logs_data.pid);
		cr_assert_eq(a->u.logs_data.prev_pid, b->u.logs_data.prev_pid);
		cr_assert_eq(a->u.logs_data.more, b->u.logs_data.more);
		cr_assert_eq(a->u.logs_data.stamped, b->u.logs_data.stamped);
		break;
	case RS_MSG_REPLY:
		cr_assert_eq(a->u.reply.id, b->u.reply.id);
		cr_assert_eq(a->u.reply.code, b->u.reply.code);
		cmp_str_or_null(a->u.reply.message, b->u.reply.message);
		cmp_str_or_null(a->u.reply.json, b->u.reply.json);
		cr_assert_str_eq(a->u.reply.next_page, b->u.reply.next_page);
		cr_assert_eq(a->u.reply.nrows, b->u.reply.nrows);
		for (size_t i = 0; i < a->u.reply.nrows; i++)
			cmp_row(&a->u.reply.rows[i], &b->u.reply.rows[i]);
		break;
	default:
		cr_assert_fail("unexpected type %d", (int)a->type);
	}
}

/* Encodes m, decodes the bytes, compares, and clears m. */
static void roundtrip(rs_msg *m)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	rs_msg d;
	int r;

	m->seq = 0x0102030405060708ull;
	m->ack = 0xfedcba9876543210ull;
	r = wire_encode(m, &buf, &len);
	cr_assert_eq(r, 0, "encode %s: %d", rs_msg_type_to_string(m->type), r);
	cr_assert_not_null(buf);
	cr_assert_gt(len, 0);
	cr_assert_leq(len, RS_FRAME_MAX);
	r = wire_decode(buf, len, &d);
	cr_assert_eq(r, 0, "decode %s: %d", rs_msg_type_to_string(m->type), r);
	cmp_msg(m, &d);
	rs_msg_clear(&d);
	rs_msg_clear(m);
	free(buf);
}

/* ---------- round trips ---------- */

Test(wire, roundtrip_hello, .timeout = 10)
{
	rs_msg m;

	fill_hello(&m, 5);
	m.u.hello.instances[4].last_exit = (rs_exit){ 0 };  /* omitted */
	roundtrip(&m);
	fill_hello(&m, 0);
	roundtrip(&m);
}

Test(wire, roundtrip_beat, .timeout = 10)
{
	rs_msg m;

	rs_msg_init(&m, RS_MSG_BEAT);
	m.u.beat.time_ms = 1700000000999ull;
	m.u.beat.running = 42;
	roundtrip(&m);

	/* RS_FEAT_USAGE: the most a beat carries, extremes included */
	rs_msg_init(&m, RS_MSG_BEAT);
	m.u.beat.time_ms = 1700000000999ull;
	m.u.beat.usage = calloc(RS_BEAT_USAGE_MAX, sizeof *m.u.beat.usage);
	cr_assert_not_null(m.u.beat.usage);
	m.u.beat.nusage = RS_BEAT_USAGE_MAX;
	for (size_t i = 0; i < RS_BEAT_USAGE_MAX; i++)
		m.u.beat.usage[i] = (rs_usage){ .instance_id = 1 + i,
			.cpu_ms = i ? 1000 * i : UINT64_MAX, .memory = (64ull << 20) * i,
			.memory_peak = (65ull << 20) * i, .tasks = i ? (uint32_t)i : UINT32_MAX,
			.time_ms = 1700000000000ull + i };
	roundtrip(&m);
}

Test(wire, beat_usage_bounds, .timeout = 10)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	rs_msg m, d;

	/* not sent: more than RS_BEAT_USAGE_MAX, an entry without an id */
	rs_msg_init(&m, RS_MSG_BEAT);
	m.u.beat.usage = calloc(RS_BEAT_USAGE_MAX + 1, sizeof *m.u.beat.usage);
	cr_assert_not_null(m.u.beat.usage);
	for (size_t i = 0; i <= RS_BEAT_USAGE_MAX; i++)
		m.u.beat.usage[i].instance_id = 1 + i;
	m.u.beat.nusage = RS_BEAT_USAGE_MAX + 1;
	cr_assert_eq(wire_encode(&m, &buf, &len), -EINVAL);
	m.u.beat.nusage = 2;
	m.u.beat.usage[1].instance_id = 0;
	cr_assert_eq(wire_encode(&m, &buf, &len), -EINVAL);
	m.u.beat.nusage = 1;
	cr_assert_eq(wire_encode(&m, &buf, &len), 0);
	/* a beat without usage decodes to none (what a 0.2 agent sends) */
	rs_msg_clear(&m);
	cr_assert_eq(wire_decode(buf, len, &d), 0);
	cr_assert_eq(d.u.beat.nusage, 1);
	rs_msg_clear(&d);
	free(buf);
	rs_msg_init(&m, RS_MSG_BEAT);
	cr_assert_eq(wire_encode(&m, &buf, &len), 0);
	cr_assert_eq(wire_decode(buf, len, &d), 0);
	cr_assert_eq(d.u.beat.nusage, 0);
	cr_assert_null(d.u.beat.usage);
	rs_msg_clear(&d);
	rs_msg_clear(&m);
	free(buf);

	/* not taken: more than RS_BEAT_USAGE_MAX, an entry without an id */
	for (int k = 0; k < 2; k++) {
		struct pb beat = { 0 }, env;

		pb_varint(&beat, 1, 1700000000999ll);
		for (size_t i = 0; i < (k ? 1u : RS_BEAT_USAGE_MAX + 1u); i++) {
			struct pb u = { 0 };

			pb_varint(&u, 1, k ? 0 : (int64_t)(1 + i));
			pb_varint(&u, 2, 1000);
			pb_sub(&beat, 3, &u);
		}
		env = envelope(RS_PROTO_VERSION, F_BEAT, &beat);
		cr_assert_eq(decode_pb(&env), -WIRE_E_FIELD, "case %d", k);
	}
}

Test(wire, roundtrip_event, .timeout = 10)
{
	rs_msg m;

	rs_msg_init(&m, RS_MSG_EVENT);
	m.u.event.kind = RS_EK_WATCHDOG;
	fill_iinfo(&m.u.event.info, 9);
	m.u.event.detail = strdup("no WATCHDOG=1 for 3000 ms");
	m.u.event.backoff_ms = 8000;
	m.u.event.latency_us = 4321;
	m.u.event.prev_seq = 0xfedcba9876543210ull;
	roundtrip(&m);

	rs_msg_init(&m, RS_MSG_EVENT);      /* NULL detail stays NULL */
	m.u.event.kind = RS_EK_STARTED;
	roundtrip(&m);
}

Test(wire, roundtrip_welcome_rehello, .timeout = 10)
{
	rs_msg m;

	rs_msg_init(&m, RS_MSG_WELCOME);
	m.u.welcome.beat_ms = 500;
	m.u.welcome.ttl_ms = 0xffffffffu;
	m.u.welcome.order_base = 41;
	m.u.welcome.session = 0xfeedfacecafebeefull;
	m.u.welcome.hello_seq = 77;
	m.epoch = 1733389200000ull;
	m.u.welcome.lease_ms = 5000;
	roundtrip(&m);
	rs_msg_init(&m, RS_MSG_REHELLO);
	roundtrip(&m);
}

Test(wire, roundtrip_start, .timeout = 10)
{
	rs_msg m;

	fill_start(&m);
	m.epoch = 7;                /* an order: numbered in its epoch */
	m.order = 42;
	m.order_base = 40;
	m.order_ack = UINT64_MAX;
	roundtrip(&m);

	/* zero argv is fine at decode time; validation is the caller's */
	rs_msg_init(&m, RS_MSG_START);
	m.u.start.instance_id = 1;
	roundtrip(&m);
}

Test(wire, roundtrip_stop_beat_ack, .timeout = 10)
{
	rs_msg m;

	rs_msg_init(&m, RS_MSG_STOP);
	m.u.stop.instance_id = 77;
	m.u.stop.forget = true;
	roundtrip(&m);
	rs_msg_init(&m, RS_MSG_BEAT_ACK);
	m.u.beat_ack.time_ms = 123456789;
	roundtrip(&m);
}

Test(wire, roundtrip_request, .timeout = 10)
{
	rs_msg m;

	rs_msg_init(&m, RS_MSG_REQUEST);
	m.u.request.id = 31337;
	m.u.request.verb = RS_V_UP;
	strcpy(m.u.request.label, "web.front-1");
	rs_spec_clear(&m.u.request.spec);
	fill_spec(&m.u.request.spec);
	m.u.request.no_block = true;
	m.u.request.timeout_ms = 60000;
	m.u.request.limit = 100;
	roundtrip(&m);

	rs_msg_init(&m, RS_MSG_REQUEST);    /* status of everything */
	m.u.request.verb = RS_V_STATUS;
	roundtrip(&m);

	rs_msg_init(&m, RS_MSG_REQUEST);    /* spec as a zeroed struct */
	m.u.request.verb = RS_V_PING;
	memset(&m.u.request.spec, 0, sizeof m.u.request.spec);
	roundtrip(&m);

	/* the 0.3 verbs keep the numbers rs.proto gives them */
	cr_assert_eq(RS_V_DELETE, 26);
	cr_assert_eq(RS_V_EXPORT, 27);
	rs_msg_init(&m, RS_MSG_REQUEST);
	m.u.request.verb = RS_V_DELETE;
	strcpy(m.u.request.label, "web");
	m.u.request.force = true;
	m.u.request.keep_events = true;
	roundtrip(&m);
	rs_msg_init(&m, RS_MSG_REQUEST);
	m.u.request.verb = RS_V_EXPORT;
	roundtrip(&m);
}

/* An update request with every update field set. */
static void fill_update(rs_msg *m)
{
	rs_request *rq = &m->u.request;

	rs_msg_init(m, RS_MSG_REQUEST);
	rq->id = 77;
	rq->verb = RS_V_UPDATE;
	strcpy(rq->label, "web");
	strcpy(rq->spec.label, "web");
	cr_assert_eq(rs_spec_add_arg(&rq->spec, "--port=8081"), 0);
	cr_assert_eq(rs_spec_add_env(&rq->spec, "MODE=new"), 0);
	rq->edit_mask = RS_EDIT_ARGS_TAIL | RS_EDIT_ENV;
	rq->maxtime_ms = RS_UPDATE_TIME_MAX_MS;
	rq->min_healthy_ms = 1500;
	rq->prepare_signal = SIGUSR1;
	rq->no_rollback = true;
	rq->max_unavailable = RS_REPLICAS_MAX;
	rq->canary = true;
	rq->nbatch = 2;
	rq->batch = calloc(3, sizeof *rq->batch);
	cr_assert_not_null(rq->batch);
	rq->batch[0] = strdup("api");
	rq->batch[1] = strdup("worker.2");
	rq->timeout_ms = 30000;
}

Test(wire, roundtrip_update, .timeout = 10)
{
	rs_msg m;

	fill_update(&m);
	roundtrip(&m);

	rs_msg_init(&m, RS_MSG_REQUEST);    /* defaults: nothing set */
	m.u.request.verb = RS_V_UPDATE;
	strcpy(m.u.request.label, "web");
	roundtrip(&m);
}

/* A Request for "web" with one extra varint field. */
static int decode_request_field(unsigned field, int64_t v)
{
	struct pb body = { 0 }, env;

	pb_varint(&body, 2, RS_V_UPDATE);
	pb_str(&body, 3, "web");
	pb_varint(&body, field, v);
	env = envelope(RS_PROTO_VERSION, F_REQUEST, &body);
	return decode_pb(&env);
}

/* A Request for "web" whose batch has n copies of label. */
static int decode_request_batch(size_t n, const char *label)
{
	struct pb body = { 0 }, env;

	pb_varint(&body, 2, RS_V_UPDATE);
	pb_str(&body, 3, "web");
	for (size_t i = 0; i < n; i++)
		pb_str(&body, 20, label);
	env = envelope(RS_PROTO_VERSION, F_REQUEST, &body);
	return decode_pb(&env);
}

Test(wire, update_limits, .timeout = 10)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	rs_msg m;

	cr_assert_eq(decode_request_field(14, RS_UPDATE_TIME_MAX_MS), 0);
	cr_assert_eq(decode_request_field(14, RS_UPDATE_TIME_MAX_MS + 1), -WIRE_E_FIELD);
	cr_assert_eq(decode_request_field(15, RS_UPDATE_TIME_MAX_MS), 0);
	cr_assert_eq(decode_request_field(15, RS_UPDATE_TIME_MAX_MS + 1), -WIRE_E_FIELD);
	cr_assert_eq(decode_request_field(16, NSIG - 1), 0);
	cr_assert_eq(decode_request_field(16, NSIG), -WIRE_E_FIELD);
	cr_assert_eq(decode_request_field(16, -1), -WIRE_E_FIELD);
	cr_assert_eq(decode_request_field(18, RS_REPLICAS_MAX), 0);
	cr_assert_eq(decode_request_field(18, RS_REPLICAS_MAX + 1), -WIRE_E_FIELD);
	cr_assert_eq(decode_request_batch(RS_UPDATE_BATCH_MAX, "api"), 0);
	cr_assert_eq(decode_request_batch(RS_UPDATE_BATCH_MAX + 1, "api"), -WIRE_E_FIELD);
	cr_assert_eq(decode_request_batch(1, "not a label"), -WIRE_E_FIELD);
	cr_assert_eq(decode_request_batch(1, ""), -WIRE_E_FIELD);

	/* the encoder refuses the same */
	fill_update(&m);
	m.u.request.maxtime_ms = RS_UPDATE_TIME_MAX_MS + 1;
	cr_assert_eq(wire_encode(&m, &buf, &len), -EINVAL);
	m.u.request.maxtime_ms = 0;
	m.u.request.prepare_signal = NSIG;
	cr_assert_eq(wire_encode(&m, &buf, &len), -EINVAL);
	m.u.request.prepare_signal = 0;
	m.u.request.max_unavailable = RS_REPLICAS_MAX + 1;
	cr_assert_eq(wire_encode(&m, &buf, &len), -EINVAL);
	m.u.request.max_unavailable = 1;
	m.u.request.batch[1][0] = '-';
	cr_assert_eq(wire_encode(&m, &buf, &len), -EINVAL);
	cr_assert_null(buf);
	rs_msg_clear(&m);
}

Test(wire, roundtrip_reply, .timeout = 10)
{
	rs_msg m;

	rs_msg_init(&m, RS_MSG_REPLY);
	m.u.reply.id = 5;
	m.u.reply.code = -7;
	m.u.reply.message = strdup("label 'x' not found");
	m.u.reply.json = strdup("{\"a\":[1,2,3],\"s\":\"\xc3\xa9\"}");
	roundtrip(&m);

	rs_msg_init(&m, RS_MSG_REPLY);
	roundtrip(&m);
}

/* logs (RS_FEAT_LOGS): the filters and the answer's fields both ways; a
 * negative pid is refused either way; a 0.2 request (none of them) reads
 * as "plain text, no filter". */
Test(wire, roundtrip_logs, .timeout = 10)
{
	rs_msg m;
	uint8_t *buf = NULL;
	size_t len = 0;

	rs_msg_init(&m, RS_MSG_LOGS_GET);
	m.u.logs_get.req_id = 9;
	m.u.logs_get.instance_id = 3;
	strcpy(m.u.logs_get.label, "web");
	m.u.logs_get.lines = 100000;
	m.u.logs_get.after = 1ull << 62;
	m.u.logs_get.stamped = true;
	m.u.logs_get.since_ms = 1796529557309ull;
	m.u.logs_get.previous = true;
	m.u.logs_get.pid = 4194304;
	roundtrip(&m);
	rs_msg_init(&m, RS_MSG_LOGS_GET);
	strcpy(m.u.logs_get.label, "web");
	roundtrip(&m);

	rs_msg_init(&m, RS_MSG_LOGS_DATA);
	m.u.logs_data.req_id = 9;
	m.u.logs_data.found = true;
	m.u.logs_data.data = (uint8_t *)strdup("2026-12-06T03:59:17.309Z [12] x\n");
	m.u.logs_data.len = strlen((char *)m.u.logs_data.data);
	m.u.logs_data.next = 77;
	m.u.logs_data.pid = 13;
	m.u.logs_data.prev_pid = 12;
	m.u.logs_data.more = true;
	m.u.logs_data.stamped = true;
	roundtrip(&m);

	rs_msg_init(&m, RS_MSG_REQUEST);
	m.u.request.verb = RS_V_LOGS;
	strcpy(m.u.request.label, "web");
	m.u.request.since_ms = 5;
	m.u.request.previous = true;
	m.u.request.pid = 12;
	m.u.request.stamped = true;
	roundtrip(&m);

	rs_msg_init(&m, RS_MSG_LOGS_GET);
	strcpy(m.u.logs_get.label, "web");
	m.u.logs_get.pid = -1;
	cr_assert_lt(wire_encode(&m, &buf, &len), 0);
	rs_msg_clear(&m);
	rs_msg_init(&m, RS_MSG_LOGS_DATA);
	m.u.logs_data.prev_pid = -1;
	cr_assert_lt(wire_encode(&m, &buf, &len), 0);
	rs_msg_clear(&m);
	rs_msg_init(&m, RS_MSG_REQUEST);
	m.u.request.verb = RS_V_LOGS;
	m.u.request.pid = -5;
	cr_assert_lt(wire_encode(&m, &buf, &len), 0);
	rs_msg_clear(&m);
	free(buf);
}

/* status/nodes paging (RS_FEAT_PAGED): the filters, the cursor both ways. */
Test(wire, roundtrip_paged, .timeout = 10)
{
	rs_msg m;
	uint8_t *buf = NULL;
	size_t len = 0;

	rs_msg_init(&m, RS_MSG_REQUEST);
	m.u.request.id = 9;
	m.u.request.verb = RS_V_STATUS;
	strcpy(m.u.request.node, "n-17.eu");
	strcpy(m.u.request.state, "backoff");
	memset(m.u.request.page_after, 'x', sizeof m.u.request.page_after - 1);
	m.u.request.page_size = 7;
	roundtrip(&m);

	rs_msg_init(&m, RS_MSG_REPLY);
	m.u.reply.id = 9;
	m.u.reply.json = strdup("{\"services\":[]}");
	strcpy(m.u.reply.next_page, "web.7");
	roundtrip(&m);

	/* a node filter is a name; a cursor or state without its NUL is
	 * not sent */
	rs_msg_init(&m, RS_MSG_REQUEST);
	m.u.request.verb = RS_V_STATUS;
	strcpy(m.u.request.node, "bad name");
	cr_assert_eq(wire_encode(&m, &buf, &len), -EINVAL);
	rs_msg_clear(&m);
	rs_msg_init(&m, RS_MSG_REQUEST);
	m.u.request.verb = RS_V_NODES;
	memset(m.u.request.page_after, 'x', sizeof m.u.request.page_after);
	cr_assert_eq(wire_encode(&m, &buf, &len), -EINVAL);
	rs_msg_clear(&m);
	rs_msg_init(&m, RS_MSG_REPLY);
	memset(m.u.reply.next_page, 'x', sizeof m.u.reply.next_page);
	cr_assert_eq(wire_encode(&m, &buf, &len), -EINVAL);
	rs_msg_clear(&m);
	cr_assert_null(buf);
}

/* Rows of status (RS_FEAT_ROWS) with every field, a service's own row
 * (NULL strings), extremes. Their strings live in text (n <= 512). */
static char row_text[512][4][64];
static char long_status[RS_STATUS_MAX], long_word[RS_ROW_WORD_MAX];

static void fill_rows(rs_reply *rp, size_t n)
{
	rp->rows = calloc(n, sizeof *rp->rows);
	cr_assert_not_null(rp->rows);
	rp->nrows = n;
	for (size_t i = 0; i < n; i++) {
		rs_status_row *r = &rp->rows[i];
		char (*t)[64] = row_text[i % 512];

		snprintf(t[0], sizeof t[0], "svc-%zu", i / 3);
		r->label = t[0];
		r->instance = i % 3 ? 1000 + i : 0;
		r->state = i % 3 ? "running" : "down";
		r->standby = i % 2;
		r->node = i % 3 ? "n-17.eu" : NULL;
		r->pid = (int32_t)(i % 3 ? 4242 + i : 0);
		r->restarts = (uint32_t)i;
		r->started_ms = 1733400000123ull + i;
		r->exit_reason = i % 4 ? "signaled" : "";
		r->exit_code = i % 5 ? -1 : 0;
		r->exit_signal = i % 4 ? 9 : 0;
		snprintf(t[1], sizeof t[1], "serving %zu \xc3\xa9", i);
		r->status = t[1];
		if (i % 3) {   /* RS_FEAT_USAGE */
			r->cpu_ms = 123456789ull * i;
			r->memory = (64ull << 20) + i;
			r->memory_peak = (1ull << 40) + i;
			r->tasks = (uint32_t)(i % 7 ? i : 0);
			r->usage_ms = 1733400005000ull + i;
		}
		if (i % 3 == 0) {
			r->op_kind = "update";
			r->op_progress = "2/3 handed over";
		}
	}
	memset(long_status, 'x', sizeof long_status - 1);
	memset(long_word, 's', sizeof long_word - 1);
}

Test(wire, roundtrip_rows, .timeout = 10)
{
	rs_msg m;
	uint8_t *buf = NULL;
	size_t len = 0, want;

	rs_msg_init(&m, RS_MSG_REQUEST);
	m.u.request.verb = RS_V_STATUS;
	m.u.request.page_size = 10000;
	m.u.request.rows = true;
	roundtrip(&m);

	rs_msg_init(&m, RS_MSG_REPLY);
	m.u.reply.id = 3;
	strcpy(m.u.reply.next_page, "svc-2");
	fill_rows(&m.u.reply, 9);
	m.u.reply.rows[4].pid = INT32_MIN;
	m.u.reply.rows[5].started_ms = UINT64_MAX;
	m.u.reply.rows[6].restarts = UINT32_MAX;
	m.u.reply.rows[7].status = long_status;
	m.u.reply.rows[8].state = long_word;
	roundtrip(&m);

	/* wire_status_row_size: what each row adds to the frame */
	rs_msg_init(&m, RS_MSG_REPLY);
	m.u.reply.id = 3;
	cr_assert_eq(wire_encode(&m, &buf, &len), 0);
	free(buf);
	want = len;
	fill_rows(&m.u.reply, 300);
	m.u.reply.rows[7].exit_code = INT32_MIN;
	m.u.reply.rows[8].standby = true;
	m.u.reply.rows[9].status = long_status;
	for (size_t i = 0; i < m.u.reply.nrows; i++)
		want += wire_status_row_size(&m.u.reply.rows[i]);
	cr_assert_eq(wire_encode(&m, &buf, &len), 0);
	/* + the reply's length prefix growing from 1 to 3 bytes */
	cr_assert(len >= want && len <= want + 4, "encoded %zu bytes, rows "
		  "counted %zu", len, want);
	free(buf);
	rs_msg_clear(&m);

	/* not sent: a row without a label, a word too long, more than
	 * RS_ROWS_MAX rows */
	rs_msg_init(&m, RS_MSG_REPLY);
	fill_rows(&m.u.reply, 2);
	m.u.reply.rows[1].label = "";
	cr_assert_eq(wire_encode(&m, &buf, &len), -EINVAL);
	m.u.reply.rows[1].label = NULL;
	cr_assert_eq(wire_encode(&m, &buf, &len), -EINVAL);
	rs_msg_clear(&m);
	rs_msg_init(&m, RS_MSG_REPLY);
	fill_rows(&m.u.reply, 2);
	m.u.reply.rows[0].exit_reason = long_status;
	cr_assert_eq(wire_encode(&m, &buf, &len), -EINVAL);
	rs_msg_clear(&m);
	rs_msg_init(&m, RS_MSG_REPLY);
	fill_rows(&m.u.reply, RS_ROWS_MAX + 1);
	cr_assert_eq(wire_encode(&m, &buf, &len), -EINVAL);
	rs_msg_clear(&m);
	cr_assert_null(buf);
}

/* A Reply frame of n rows (field 6), each label + state (+ reason). */
static struct pb rows_frame(size_t n, const char *label, const char *state,
			    const char *reason)
{
	struct pb reply = { 0 }, row = { 0 };

	pb_varint(&reply, 1, 3);
	for (size_t i = 0; i < n; i++) {
		pb_str(&row, 1, label);
		pb_str(&row, 3, state);
		if (reason)
			pb_str(&row, 9, reason);
		pb_sub(&reply, 6, &row);
	}
	return envelope(RS_PROTO_VERSION, 21, &reply);
}

/* Rows from a peer: too many, a bad or missing label, an over-long word
 * reject the whole reply. */
Test(wire, rows_rejected, .timeout = 10)
{
	char longword[RS_ROW_WORD_MAX + 1];
	struct pb b = rows_frame(2, "web", "running", NULL);
	rs_msg m;

	cr_assert_eq(wire_decode(b.p, b.n, &m), 0);
	pb_free(&b);
	cr_assert_eq(m.type, RS_MSG_REPLY);
	cr_assert_eq(m.u.reply.nrows, 2);
	cr_assert_str_eq(m.u.reply.rows[1].label, "web");
	cr_assert_str_eq(m.u.reply.rows[1].state, "running");
	cr_assert_str_eq(m.u.reply.rows[1].op_progress, "", "absent strings are \"\"");
	cr_assert_str_eq(m.u.reply.rows[1].node, "");
	cr_assert_null(m.u.reply.json);
	rs_msg_clear(&m);

	b = rows_frame(RS_ROWS_MAX, "w", "up", NULL);
	cr_assert_eq(decode_pb(&b), 0);
	b = rows_frame(RS_ROWS_MAX + 1, "w", "up", NULL);
	cr_assert_eq(decode_pb(&b), -WIRE_E_FIELD);
	b = rows_frame(2, "bad label", "running", NULL);
	cr_assert_eq(decode_pb(&b), -WIRE_E_FIELD);
	b = rows_frame(2, "", "running", NULL);
	cr_assert_eq(decode_pb(&b), -WIRE_E_FIELD);
	memset(longword, 'w', sizeof longword - 1);
	longword[sizeof longword - 1] = '\0';
	b = rows_frame(2, "web", longword, NULL);
	cr_assert_eq(decode_pb(&b), -WIRE_E_FIELD);
	b = rows_frame(2, "web", "running", longword);
	cr_assert_eq(decode_pb(&b), -WIRE_E_FIELD);
	longword[sizeof longword - 2] = '\0';   /* 31 bytes: fits */
	b = rows_frame(2, "web", longword, longword);
	cr_assert_eq(decode_pb(&b), 0);
}

Test(wire, roundtrip_limits, .timeout = 10)
{
	rs_msg m;
	char big[RS_ARG_MAX];

	/* longest strings that still fit */
	fill_hello(&m, 1);
	memset(m.u.hello.node, 'n', RS_NODE_MAX - 1);
	m.u.hello.node[RS_NODE_MAX - 1] = '\0';
	memset(m.u.hello.boot_id, 'b', sizeof m.u.hello.boot_id - 1);
	memset(m.u.hello.agent_version, 'v', sizeof m.u.hello.agent_version - 1);
	memset(m.u.hello.instances[0].label, 'l', RS_LABEL_MAX - 1);
	m.u.hello.instances[0].label[RS_LABEL_MAX - 1] = '\0';
	memset(m.u.hello.instances[0].status, 's', RS_STATUS_MAX - 1);
	m.u.hello.instances[0].status[RS_STATUS_MAX - 1] = '\0';
	roundtrip(&m);

	fill_start(&m);
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	while (m.u.start.spec.argc < RS_ARGV_MAX)
		cr_assert_eq(rs_spec_add_arg(&m.u.start.spec, "x"), 0);
	cr_assert_eq(rs_spec_add_env(&m.u.start.spec, big), 0);
	roundtrip(&m);
}

/* An absent ServiceSpec / Backoff decodes to rs_spec_init defaults. */
Test(wire, missing_submessages_default, .timeout = 10)
{
	struct pb body = { 0 }, env, spec = { 0 };
	rs_spec def;
	rs_msg m;

	rs_spec_init(&def);
	pb_varint(&body, 1, 5);                     /* Start.instance_id */
	env = envelope(RS_PROTO_VERSION, F_START, &body);
	cr_assert_eq(wire_decode(env.p, env.n, &m), 0);
	cr_assert_eq(m.type, RS_MSG_START);
	cr_assert_eq(m.u.start.instance_id, 5);
	cmp_spec(&def, &m.u.start.spec);
	rs_msg_clear(&m);
	pb_free(&env);

	pb_str(&spec, 1, "svc");                    /* spec without backoff */
	pb_str(&spec, 2, "/bin/true");
	pb_sub(&body, 4, &spec);                    /* Request.spec */
	env = envelope(RS_PROTO_VERSION, F_REQUEST, &body);
	cr_assert_eq(wire_decode(env.p, env.n, &m), 0);
	cr_assert_eq(m.type, RS_MSG_REQUEST);
	cr_assert_str_eq(m.u.request.spec.label, "svc");
	cr_assert_eq(m.u.request.spec.argc, 1);
	cr_assert_eq(m.u.request.spec.ready_timeout_ms, 0);  /* present: 0 */
	cr_assert_eq(m.u.request.spec.backoff.initial_ms, RS_DEF_BACKOFF_INITIAL);
	cr_assert_eq(m.u.request.spec.backoff.factor, RS_DEF_BACKOFF_FACTOR);
	cr_assert_null(m.u.request.spec.cwd);
	rs_msg_clear(&m);
	pb_free(&env);

	pb_varint(&body, 1, RS_EK_READY);           /* event without info */
	env = envelope(RS_PROTO_VERSION, F_EVENT, &body);
	cr_assert_eq(wire_decode(env.p, env.n, &m), 0);
	cr_assert_eq(m.u.event.kind, RS_EK_READY);
	cr_assert(all_zero(&m.u.event.info, sizeof m.u.event.info));
	cr_assert_null(m.u.event.detail);
	rs_msg_clear(&m);
	pb_free(&env);
}

/* ---------- truncation ---------- */

/* Decodes every proper prefix of m's encoding: each must fail with m zeroed
 * or succeed with m of m's type. Returns how many decoded. */
static size_t truncations(rs_msg *m)
{
	uint8_t *buf = NULL, *cut;
	size_t len = 0, ok = 0;
	rs_msg d;
	int r;

	cr_assert_eq(wire_encode(m, &buf, &len), 0);
	for (size_t n = 0; n < len; n++) {
		/* an exact-size copy so ASan sees any over-read */
		cut = malloc(n ? n : 1);
		memcpy(cut, buf, n);
		r = wire_decode(cut, n, &d);
		if (r == 0) {
			ok++;
			cr_assert(d.type > RS_MSG_NONE && d.type < RS_MSG__NR);
			rs_msg_clear(&d);
		} else {
			cr_assert(r < 0 && r > -WIRE_E__NR, "r=%d", r);
			cr_assert(all_zero(&d, sizeof d));
		}
		free(cut);
	}
	r = wire_decode(buf, len, &d);
	cr_assert_eq(r, 0);
	rs_msg_clear(&d);
	free(buf);
	rs_msg_clear(m);
	return ok;
}

Test(wire, truncated_hello, .timeout = 10)
{
	rs_msg m;

	fill_hello(&m, 4);
	truncations(&m);
}

Test(wire, truncated_start, .timeout = 10)
{
	rs_msg m;

	fill_start(&m);
	truncations(&m);
}

/* ---------- junk ---------- */

/* A fixed xorshift so failures reproduce. */
static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

Test(wire, junk_random, .timeout = 10)
{
	uint8_t *buf;
	rs_msg m;
	int r;

	for (int it = 0; it < 10000; it++) {
		size_t n = rnd() % 300;

		buf = malloc(n ? n : 1);
		for (size_t i = 0; i < n; i++)
			buf[i] = (uint8_t)rnd();
		/* half the time, start like a real envelope */
		if (n >= 4 && (it & 1)) {
			buf[0] = 0x08;
			buf[1] = RS_PROTO_VERSION;
			buf[2] = (uint8_t)(((10 + rnd() % 12) << 3) | 2);
			buf[3] = (uint8_t)((n - 4) & 0x7f);
		}
		r = wire_decode(buf, n, &m);
		if (r == 0)
			cr_assert(m.type > RS_MSG_NONE && m.type < RS_MSG__NR);
		else
			cr_assert(r < 0 && r > -WIRE_E__NR && all_zero(&m, sizeof m));
		rs_msg_clear(&m);
		free(buf);
	}
}

Test(wire, junk_ff, .timeout = 10)
{
	static const size_t lens[] = { 1, 2, 3, 9, 10, 11, 64, 1000 };
	uint8_t *buf;
	rs_msg m;
	int r;

	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		buf = malloc(lens[i]);
		memset(buf, 0xff, lens[i]);
		r = wire_decode(buf, lens[i], &m);
		cr_assert(r < 0, "len %zu decoded", lens[i]);
		cr_assert(all_zero(&m, sizeof m));
		free(buf);
	}
}

Test(wire, oversize, .timeout = 10)
{
	uint8_t *buf = calloc(1, RS_FRAME_MAX + 1);
	rs_msg m;

	cr_assert_eq(wire_decode(buf, RS_FRAME_MAX + 1, &m), -WIRE_E_OVERSIZE);
	cr_assert(all_zero(&m, sizeof m));
	free(buf);
}

/* ---------- envelope ---------- */

Test(wire, version, .timeout = 10)
{
	struct pb body = { 0 }, env;

	pb_varint(&body, 1, 12345);                 /* NodeBeat.time_ms */
	env = envelope(RS_PROTO_VERSION + 1, F_BEAT, &body);
	cr_assert_eq(decode_pb(&env), -WIRE_E_VERSION);

	pb_varint(&body, 1, 12345);
	env = envelope(0, F_BEAT, &body);            /* version absent = 0 */
	cr_assert_eq(decode_pb(&env), -WIRE_E_VERSION);

	pb_varint(&body, 1, 12345);
	env = envelope(RS_PROTO_VERSION, F_BEAT, &body);
	cr_assert_eq(decode_pb(&env), 0);
}

Test(wire, empty_and_no_body, .timeout = 10)
{
	struct pb env = { 0 }, body = { 0 };
	uint8_t b = 0;
	rs_msg m;

	cr_assert_eq(wire_decode(&b, 0, &m), -WIRE_E_VERSION);
	cr_assert(all_zero(&m, sizeof m));
	cr_assert_eq(wire_decode(NULL, 0, &m), -WIRE_E_VERSION);
	cr_assert_eq(wire_decode(NULL, 5, &m), -WIRE_E_GARBAGE);

	env = envelope(RS_PROTO_VERSION, 0, NULL);   /* version, no body */
	pb_varint(&env, F_SEQ, 4);
	pb_varint(&env, F_ACK, 3);
	cr_assert_eq(decode_pb(&env), -WIRE_E_TYPE);

	pb_varint(&body, 1, 1);                      /* unknown body field */
	env = envelope(RS_PROTO_VERSION, 30, &body);
	cr_assert_eq(decode_pb(&env), -WIRE_E_TYPE);

	pb_varint(&env, F_VERSION, RS_PROTO_VERSION); /* bad wire type */
	pb_uvarint(&env, F_HELLO << 3 | 7);
	cr_assert_eq(decode_pb(&env), -WIRE_E_GARBAGE);
}

/* ---------- bad enums ---------- */

Test(wire, bad_enum_request_verb, .timeout = 10)
{
	struct pb body = { 0 }, env;

	pb_varint(&body, 1, 1);
	pb_varint(&body, 2, 99);                     /* Request.verb */
	env = envelope(RS_PROTO_VERSION, F_REQUEST, &body);
	cr_assert_eq(decode_pb(&env), -WIRE_E_ENUM);

	pb_varint(&body, 2, RS_V__NR);
	env = envelope(RS_PROTO_VERSION, F_REQUEST, &body);
	cr_assert_eq(decode_pb(&env), -WIRE_E_ENUM);

	pb_varint(&body, 2, -1);
	env = envelope(RS_PROTO_VERSION, F_REQUEST, &body);
	cr_assert_eq(decode_pb(&env), -WIRE_E_ENUM);

	pb_varint(&body, 2, RS_V__NR - 1);
	env = envelope(RS_PROTO_VERSION, F_REQUEST, &body);
	cr_assert_eq(decode_pb(&env), 0);

	/* (the numbering may have gaps, lib/msg.c: none today) */
	for (int v = 1; v < RS_V__NR; v++)
		cr_assert(rs_verb_known(v), "verb %d has no name", v);
}

Test(wire, bad_enum_nested, .timeout = 10)
{
	struct pb body = { 0 }, env, info = { 0 }, ex = { 0 }, spec = { 0 };

	pb_varint(&body, 1, RS_EK__NR);              /* InstanceEvent.kind */
	env = envelope(RS_PROTO_VERSION, F_EVENT, &body);
	cr_assert_eq(decode_pb(&env), -WIRE_E_ENUM);

	pb_varint(&info, 5, RS_IS__NR);              /* InstanceInfo.state */
	pb_sub(&body, 2, &info);
	env = envelope(RS_PROTO_VERSION, F_EVENT, &body);
	cr_assert_eq(decode_pb(&env), -WIRE_E_ENUM);

	pb_varint(&ex, 3, RS_ER__NR);                /* ExitInfo.reason */
	pb_sub(&info, 7, &ex);
	pb_sub(&body, 6, &info);                     /* Hello.instances */
	env = envelope(RS_PROTO_VERSION, F_HELLO, &body);
	cr_assert_eq(decode_pb(&env), -WIRE_E_ENUM);

	pb_varint(&spec, 9, RS_RP__NR);              /* ServiceSpec.policy */
	pb_sub(&body, 3, &spec);
	env = envelope(RS_PROTO_VERSION, F_START, &body);
	cr_assert_eq(decode_pb(&env), -WIRE_E_ENUM);

	pb_varint(&spec, 11, RS_NT__NR);             /* ServiceSpec.notify */
	pb_sub(&body, 4, &spec);
	env = envelope(RS_PROTO_VERSION, F_REQUEST, &body);
	cr_assert_eq(decode_pb(&env), -WIRE_E_ENUM);
}

Test(wire, bad_fence_enum, .timeout = 10)
{
	struct pb body = { 0 }, env, spec = { 0 };

	pb_varint(&spec, 22, RS_FENCE__NR);          /* ServiceSpec.fence */
	pb_sub(&body, 4, &spec);
	env = envelope(RS_PROTO_VERSION, F_REQUEST, &body);
	cr_assert_eq(decode_pb(&env), -WIRE_E_ENUM);
}

/* ---------- field limits ---------- */

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* A Request with just a label. */
static int decode_request_label(const char *label)
{
	struct pb body = { 0 }, env;

	pb_str(&body, 3, label);
	env = envelope(RS_PROTO_VERSION, F_REQUEST, &body);
	return decode_pb(&env);
}

Test(wire, labels, .timeout = 10)
{
	char *s = repeat('a', RS_LABEL_MAX);

	cr_assert_eq(decode_request_label(s), -WIRE_E_FIELD);
	s[RS_LABEL_MAX - 1] = '\0';
	cr_assert_eq(decode_request_label(s), 0);
	free(s);
	cr_assert_eq(decode_request_label(""), 0);
	cr_assert_eq(decode_request_label("bad label"), -WIRE_E_FIELD);
	cr_assert_eq(decode_request_label("-x"), -WIRE_E_FIELD);
	cr_assert_eq(decode_request_label("a/b"), -WIRE_E_FIELD);
}

/* A Hello with one string field set. */
static int decode_hello_str(unsigned field, const char *v)
{
	struct pb body = { 0 }, env;

	pb_str(&body, field, v);
	env = envelope(RS_PROTO_VERSION, F_HELLO, &body);
	return decode_pb(&env);
}

Test(wire, hello_limits, .timeout = 10)
{
	struct pb body = { 0 }, env, info = { 0 };
	char *s;

	s = repeat('n', RS_NODE_MAX);
	cr_assert_eq(decode_hello_str(1, s), -WIRE_E_FIELD);
	free(s);
	s = repeat('b', 64);
	cr_assert_eq(decode_hello_str(2, s), -WIRE_E_FIELD);
	s[63] = '\0';
	cr_assert_eq(decode_hello_str(2, s), 0);
	free(s);
	s = repeat('v', 32);
	cr_assert_eq(decode_hello_str(3, s), -WIRE_E_FIELD);
	free(s);
	cr_assert_eq(decode_hello_str(5, "ok.label"), 0);
	cr_assert_eq(decode_hello_str(5, "not ok"), -WIRE_E_FIELD);
	cr_assert_eq(decode_hello_str(5, ""), -WIRE_E_FIELD);

	for (int i = 0; i <= RS_HELLO_LABELS_MAX; i++)
		pb_str(&body, 5, "l");
	env = envelope(RS_PROTO_VERSION, F_HELLO, &body);
	cr_assert_eq(decode_pb(&env), -WIRE_E_FIELD);

	s = repeat('s', RS_STATUS_MAX);              /* status_text */
	pb_str(&info, 8, s);
	free(s);
	pb_sub(&body, 6, &info);
	env = envelope(RS_PROTO_VERSION, F_HELLO, &body);
	cr_assert_eq(decode_pb(&env), -WIRE_E_FIELD);

	s = repeat('l', RS_LABEL_MAX);               /* InstanceInfo.label */
	pb_str(&info, 2, s);
	free(s);
	pb_sub(&body, 6, &info);
	env = envelope(RS_PROTO_VERSION, F_HELLO, &body);
	cr_assert_eq(decode_pb(&env), -WIRE_E_FIELD);
}

Test(wire, hello_too_many_instances, .timeout = 10)
{
	struct pb body = { 0 }, env;

	for (int i = 0; i < RS_HELLO_INST_MAX; i++)
		pb_bytes(&body, 6, NULL, 0);
	env = envelope(RS_PROTO_VERSION, F_HELLO, &body);
	cr_assert_eq(decode_pb(&env), 0);

	for (int i = 0; i <= RS_HELLO_INST_MAX; i++)
		pb_bytes(&body, 6, NULL, 0);
	env = envelope(RS_PROTO_VERSION, F_HELLO, &body);
	cr_assert_eq(decode_pb(&env), -WIRE_E_FIELD);
}

/* A Start whose spec has n copies of arg in field (2 argv, 3 env). */
static int decode_start_strv(unsigned field, size_t n, const char *arg)
{
	struct pb body = { 0 }, env, spec = { 0 };

	pb_str(&spec, 1, "svc");
	for (size_t i = 0; i < n; i++)
		pb_str(&spec, field, arg);
	pb_sub(&body, 3, &spec);
	env = envelope(RS_PROTO_VERSION, F_START, &body);
	return decode_pb(&env);
}

Test(wire, argv_env_limits, .timeout = 10)
{
	struct pb body = { 0 }, env, spec = { 0 };
	char *s;

	cr_assert_eq(decode_start_strv(2, RS_ARGV_MAX, "x"), 0);
	cr_assert_eq(decode_start_strv(2, RS_ARGV_MAX + 1, "x"), -WIRE_E_FIELD);
	cr_assert_eq(decode_start_strv(3, RS_ARGV_MAX, "K=V"), 0);
	cr_assert_eq(decode_start_strv(3, RS_ARGV_MAX + 1, "K=V"), -WIRE_E_FIELD);
	s = repeat('a', RS_ARG_MAX - 1);
	cr_assert_eq(decode_start_strv(2, 1, s), 0);
	free(s);
	s = repeat('a', RS_ARG_MAX);
	cr_assert_eq(decode_start_strv(2, 1, s), -WIRE_E_FIELD);
	cr_assert_eq(decode_start_strv(3, 1, s), -WIRE_E_FIELD);
	pb_str(&spec, 4, s);                         /* cwd */
	pb_sub(&body, 3, &spec);
	env = envelope(RS_PROTO_VERSION, F_START, &body);
	cr_assert_eq(decode_pb(&env), -WIRE_E_FIELD);
	free(s);

	s = repeat('n', RS_NODE_MAX);                /* spec node */
	pb_str(&spec, 13, s);
	pb_sub(&body, 3, &spec);
	env = envelope(RS_PROTO_VERSION, F_START, &body);
	cr_assert_eq(decode_pb(&env), -WIRE_E_FIELD);
	free(s);

	pb_str(&spec, 1, "bad/label");               /* spec label */
	pb_sub(&body, 3, &spec);
	env = envelope(RS_PROTO_VERSION, F_START, &body);
	cr_assert_eq(decode_pb(&env), -WIRE_E_FIELD);
}

Test(wire, listen_limits, .timeout = 10)
{
	rs_msg m;
	uint8_t *buf = NULL;
	size_t len = 0;

	/* spec field 18: at most RS_LISTEN_MAX entries, each one that parses */
	cr_assert_eq(decode_start_strv(18, 1, "web=tcp:127.0.0.1:80"), 0);
	cr_assert_eq(decode_start_strv(18, 1, "web=tcp:127.0.0.1:99999"), -WIRE_E_FIELD);
	cr_assert_eq(decode_start_strv(18, 1, "no-equals"), -WIRE_E_FIELD);
	cr_assert_eq(decode_start_strv(18, RS_LISTEN_MAX, "web=tcp:127.0.0.1:80"), 0);
	cr_assert_eq(decode_start_strv(18, RS_LISTEN_MAX + 1, "web=tcp:127.0.0.1:80"),
		     -WIRE_E_FIELD);

	/* the encoder refuses what the decoder would */
	fill_start(&m);
	cr_assert_eq(rs_spec_add_listen(&m.u.start.spec, "bad=tcp:1.2.3.4:0"), 0);
	cr_assert_eq(wire_encode(&m, &buf, &len), -EINVAL);
	cr_assert_null(buf);
	rs_msg_clear(&m);
}

/* ---------- encode errors ---------- */

Test(wire, encode_too_big, .timeout = 10)
{
	uint8_t *buf = (uint8_t *)"x";
	size_t len = 1;
	rs_msg m;

	rs_msg_init(&m, RS_MSG_REPLY);
	m.u.reply.json = repeat('j', RS_FRAME_MAX);
	cr_assert_eq(wire_encode(&m, &buf, &len), -E2BIG);
	cr_assert_null(buf);
	cr_assert_eq(len, 0);
	rs_msg_clear(&m);

	/* a json just under the frame fits: the envelope's overhead (tags,
	 * lengths, the sender's version and features) is under 48 bytes */
	rs_msg_init(&m, RS_MSG_REPLY);
	m.u.reply.json = repeat('j', RS_FRAME_MAX - 48);
	cr_assert_eq(wire_encode(&m, &buf, &len), 0);
	cr_assert_leq(len, RS_FRAME_MAX);
	free(buf);
	rs_msg_clear(&m);
}

Test(wire, encode_invalid, .timeout = 10)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	rs_msg m;

	rs_msg_init(&m, RS_MSG_NONE);
	cr_assert_eq(wire_encode(&m, &buf, &len), -EINVAL);
	m.type = RS_MSG__NR;
	cr_assert_eq(wire_encode(&m, &buf, &len), -EINVAL);

	rs_msg_init(&m, RS_MSG_REQUEST);
	m.u.request.verb = RS_V__NR;
	cr_assert_eq(wire_encode(&m, &buf, &len), -EINVAL);
	m.u.request.verb = RS_V_UP;
	strcpy(m.u.request.label, "no spaces");
	cr_assert_eq(wire_encode(&m, &buf, &len), -EINVAL);
	memset(m.u.request.label, 'a', sizeof m.u.request.label);
	cr_assert_eq(wire_encode(&m, &buf, &len), -EINVAL);
	m.u.request.label[0] = '\0';
	m.u.request.spec.policy = RS_RP__NR;
	cr_assert_eq(wire_encode(&m, &buf, &len), -EINVAL);
	rs_msg_clear(&m);

	fill_start(&m);
	m.u.start.spec.argc = RS_ARGV_MAX + 1;        /* lie about argc */
	cr_assert_eq(wire_encode(&m, &buf, &len), -EINVAL);
	m.u.start.spec.argc = 4;
	rs_msg_clear(&m);

	fill_hello(&m, 2);
	m.u.hello.instances[1].state = RS_IS__NR;
	cr_assert_eq(wire_encode(&m, &buf, &len), -EINVAL);
	m.u.hello.instances[1].state = RS_IS_RUNNING;
	m.u.hello.labels[1][0] = ' ';
	cr_assert_eq(wire_encode(&m, &buf, &len), -EINVAL);
	rs_msg_clear(&m);

	rs_msg_init(&m, RS_MSG_EVENT);
	m.u.event.kind = RS_EK__NR;
	cr_assert_eq(wire_encode(&m, &buf, &len), -EINVAL);
	cr_assert_null(buf);
	rs_msg_clear(&m);
}

Test(wire, err_strings, .timeout = 10)
{
	cr_assert_str_eq(wire_err_to_string(WIRE_OK), "ok");
	cr_assert_str_eq(wire_err_to_string(WIRE_E_OVERSIZE), "oversize");
	cr_assert_str_eq(wire_err_to_string(WIRE_E_GARBAGE), "garbage");
	cr_assert_str_eq(wire_err_to_string(WIRE_E_VERSION), "version");
	cr_assert_str_eq(wire_err_to_string(WIRE_E_TYPE), "type");
	cr_assert_str_eq(wire_err_to_string(WIRE_E_ENUM), "enum");
	cr_assert_str_eq(wire_err_to_string(WIRE_E_FIELD), "field");
	cr_assert_str_eq(wire_err_to_string(WIRE_E__NR), "unknown");
}

/* ---------- signals (RS_FEAT_SIGNAL) ---------- */

Test(wire, roundtrip_signal, .timeout = 10)
{
	rs_msg m;

	rs_msg_init(&m, RS_MSG_SIGNAL);
	m.u.signal.instance_id = 0x123456789aull;
	m.u.signal.signal = SIGHUP;
	m.epoch = 7;
	m.order = 42;
	roundtrip(&m);
	rs_msg_init(&m, RS_MSG_SIGNAL);
	m.u.signal.instance_id = 1;
	m.u.signal.signal = NSIG - 1;
	m.u.signal.group = true;
	roundtrip(&m);
	cr_assert_str_eq(rs_msg_type_to_string(RS_MSG_SIGNAL), "signal");
}

/* A Signal body with this signal number (field 2). */
static int decode_signal(int64_t sig)
{
	struct pb body = { 0 }, env;

	pb_varint(&body, 1, 5);
	pb_varint(&body, 2, sig);
	env = envelope(RS_PROTO_VERSION, 25, &body);
	return decode_pb(&env);
}

Test(wire, signal_limits, .timeout = 10)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int32_t bad[] = { 0, -1, NSIG, 1000, INT32_MIN };
	rs_msg m;

	cr_assert_eq(decode_signal(1), 0);
	cr_assert_eq(decode_signal(NSIG - 1), 0);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		cr_assert_eq(decode_signal(bad[i]), -WIRE_E_FIELD, "%d", bad[i]);
		rs_msg_init(&m, RS_MSG_SIGNAL);
		m.u.signal.instance_id = 1;
		m.u.signal.signal = bad[i];
		cr_assert_eq(wire_encode(&m, &buf, &len), -EINVAL, "%d", bad[i]);
		rs_msg_clear(&m);
	}

	/* kill's Request.signal (40): 0 (the default) to 64 */
	cr_assert_eq(decode_request_field(40, 0), 0);
	cr_assert_eq(decode_request_field(40, NSIG - 1), 0);
	cr_assert_eq(decode_request_field(40, NSIG), -WIRE_E_FIELD);
	cr_assert_eq(decode_request_field(40, -9), -WIRE_E_FIELD);
	rs_msg_init(&m, RS_MSG_REQUEST);
	m.u.request.verb = RS_V_KILL;
	strcpy(m.u.request.label, "web");
	m.u.request.signal = NSIG;
	cr_assert_eq(wire_encode(&m, &buf, &len), -EINVAL);
	m.u.request.signal = SIGKILL;
	m.u.request.main_only = true;
	roundtrip(&m);
}

/* update's Request.revision (35): a number, or undo's "previous" */
Test(wire, request_revision_roundtrip, .timeout = 10)
{
	rs_msg m;

	cr_assert_eq(decode_request_field(35, 3), 0);
	rs_msg_init(&m, RS_MSG_REQUEST);
	m.u.request.verb = RS_V_UPDATE;
	strcpy(m.u.request.label, "web");
	m.u.request.revision = 7;
	roundtrip(&m);
	rs_msg_init(&m, RS_MSG_REQUEST);
	m.u.request.verb = RS_V_HISTORY;
	strcpy(m.u.request.label, "web");
	m.u.request.revision = RS_REVISION_PREVIOUS;
	roundtrip(&m);
}

/* ServiceSpec.reload_signal (23): 0 (SIGHUP) to 64, in a Start's spec */
static int decode_reload_signal(int64_t sig)
{
	struct pb body = { 0 }, env, spec = { 0 };

	pb_str(&spec, 1, "svc");
	pb_varint(&spec, 23, sig);
	pb_sub(&body, 3, &spec);
	env = envelope(RS_PROTO_VERSION, F_START, &body);
	return decode_pb(&env);
}

Test(wire, reload_signal_limits, .timeout = 10)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	rs_msg m;

	cr_assert_eq(decode_reload_signal(0), 0);
	cr_assert_eq(decode_reload_signal(SIGUSR2), 0);
	cr_assert_eq(decode_reload_signal(NSIG - 1), 0);
	cr_assert_eq(decode_reload_signal(NSIG), -WIRE_E_FIELD);
	cr_assert_eq(decode_reload_signal(-1), -WIRE_E_FIELD);
	fill_start(&m);
	m.u.start.spec.reload_signal = NSIG;
	cr_assert_eq(wire_encode(&m, &buf, &len), -EINVAL);
	m.u.start.spec.reload_signal = -2;
	cr_assert_eq(wire_encode(&m, &buf, &len), -EINVAL);
	rs_msg_clear(&m);
}

/* ServiceSpec.probes (24, RS_FEAT_PROBES): all three roles and kinds,
 * every field, in a Start and in a Request's spec; an event with the
 * new kind, reason and InstanceInfo.unready. */
Test(wire, roundtrip_probes, .timeout = 10)
{
	rs_msg m;
	rs_probe *p;

	fill_start(&m);
	p = &m.u.start.spec.probes[RS_PROBE_LIVENESS];
	p->kind = RS_PK_HTTP;
	rs_probe_set_target(p, "http://127.0.0.1:8080/healthz");
	rs_probe_add_header(p, "Host: example.org");
	rs_probe_add_header(p, "X-Check: 1");
	p->period_ms = 1000;
	p->timeout_ms = 250;
	p->failures = 5;
	p->initial_delay_ms = 2000;
	p->status_min = 200;
	p->status_max = 204;
	p = &m.u.start.spec.probes[RS_PROBE_READINESS];
	p->kind = RS_PK_TCP;
	rs_probe_set_target(p, "[::1]:8080");
	p = &m.u.start.spec.probes[RS_PROBE_STARTUP];
	p->kind = RS_PK_EXEC;
	rs_probe_add_arg(p, "/usr/local/bin/check");
	rs_probe_add_arg(p, "--quick");
	p->failures = 30;
	roundtrip(&m);

	rs_msg_init(&m, RS_MSG_REQUEST);
	m.u.request.verb = RS_V_EDIT;
	strcpy(m.u.request.label, "web");
	m.u.request.edit_mask = RS_EDIT_READINESS;
	p = &m.u.request.spec.probes[RS_PROBE_READINESS];
	p->kind = RS_PK_TCP;
	rs_probe_set_target(p, "127.0.0.1:1");
	roundtrip(&m);

	rs_msg_init(&m, RS_MSG_EVENT);
	m.u.event.kind = RS_EK_PROBE;
	fill_iinfo(&m.u.event.info, 3);
	m.u.event.info.unready = true;
	m.u.event.info.last_exit.reason = RS_ER_PROBE_FAILED;
	m.u.event.detail = strdup("liveness probe failed 3 times in a row: HTTP 500");
	roundtrip(&m);
}

/* ServiceSpec.limits (25, RS_FEAT_LIMITS): every field, in a Start and
 * in an edit's Request (a removed limit is RS_LIMIT_DROP*); ER_OOM. */
Test(wire, roundtrip_resource_limits, .timeout = 10)
{
	rs_msg m;

	fill_start(&m);
	m.u.start.spec.limits = (rs_limits){ .memory_max = 1ull << 34,
					     .memory_high = 200u << 20, .cpu_weight = 10000,
					     .cpu_max = 150, .pids_max = 64 };
	roundtrip(&m);
	rs_msg_init(&m, RS_MSG_REQUEST);
	m.u.request.verb = RS_V_EDIT;
	rs_strlcpy(m.u.request.label, "web", sizeof m.u.request.label);
	m.u.request.edit_mask = RS_EDIT_LIMITS;
	m.u.request.spec.limits = (rs_limits){ .memory_max = RS_LIMIT_DROP64,
					       .cpu_max = RS_LIMIT_DROP32, .pids_max = 7 };
	roundtrip(&m);
	rs_msg_init(&m, RS_MSG_EVENT);
	m.u.event.kind = RS_EK_EXITED;
	fill_iinfo(&m.u.event.info, 3);
	m.u.event.info.last_exit.reason = RS_ER_OOM;
	m.u.event.info.last_exit.signal = 9;
	m.u.event.detail = strdup("pid 3 killed by the OOM killer");
	roundtrip(&m);
}

/* A probe with two kinds (or an exec argv over the limit) is no probe:
 * the whole message is refused. */
Test(wire, probes_rejected, .timeout = 10)
{
	struct pb body = { 0 }, env, spec = { 0 }, probes = { 0 }, probe = { 0 };

	pb_str(&probe, 1, "http://127.0.0.1/");
	pb_str(&probe, 2, "127.0.0.1:80");
	pb_sub(&probes, 1, &probe);
	pb_str(&spec, 1, "svc");
	pb_sub(&spec, 24, &probes);
	pb_sub(&body, 3, &spec);
	env = envelope(RS_PROTO_VERSION, F_START, &body);
	cr_assert_eq(decode_pb(&env), -WIRE_E_FIELD);
}

/* ServiceSpec.profile (field 26): every field round-trips, an empty caps
 * list stays one (keep none), and what the receiver must refuse (an
 * unknown capability, a CPU list too long) decodes into something
 * rs_spec_validate refuses, not into a lost message. */
Test(wire, roundtrip_profile, .timeout = 10)
{
	rs_msg m, out;
	uint8_t *buf;
	size_t len;
	char err[256];

	fill_start(&m);
	m.u.start.spec.profile = (rs_profile){ .caps = 1ull << 10 | 1ull << 40,
					       .caps_set = true, .nnp = RS_NNP_OFF,
					       .ro_root = true, .private_tmp = true,
					       .nice = -20, .cpus = "0-1,3" };
	roundtrip(&m);
	fill_start(&m);
	m.u.start.spec.profile = (rs_profile){ .caps_set = true, .nice = 19,
					       .fields = RS_PF_NICE | RS_PF_CAPS };
	roundtrip(&m);
	/* out of range: decoded, then refused by validation */
	fill_start(&m);
	m.u.start.spec.profile = (rs_profile){ .nice = 40 };
	cr_assert_eq(wire_encode(&m, &buf, &len), 0);
	cr_assert_eq(wire_decode(buf, len, &out), 0);
	cr_assert_eq(rs_spec_validate(&out.u.start.spec, err, sizeof err), -EINVAL);
	cr_assert(strstr(err, "nice 40") != NULL, "%s", err);
	free(buf);
	rs_msg_clear(&out);
	rs_msg_clear(&m);
}
