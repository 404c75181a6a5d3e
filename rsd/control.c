/*
 * control.c - rsctl requests: up, down, status, describe, export, nodes,
 * lookup, events.
 *
 * Each request is decoded, checked, committed to the store, and only then
 * acted on (messages to agents). up and down reply when the instance is
 * ready / dead (rsd_pending), unless --no-block. One operation per service
 * at a time: a second one gets RS_E_BUSY naming the one in progress.
 */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reslimits.h"
#include "profile.h"
#include "probespec.h"
#include "clock.h"
#include "codes.h"
#include "index.h"
#include "auth.h"
#include "version.h"
#include "log.h"
#include "manifest.h"
#include "rsd.h"
#include "wire.h"

/* Sends a Reply; next: Reply.next_page (NULL: none); rows[nrows]: status
 * rows (borrowed, with their strings). */
static void reply_send(rsd *d, const net_peer *peer, uint64_t id, int code,
		       const char *json, const char *message, const char *next,
		       rs_status_row *rows, size_t nrows)
{
	rs_msg m;
	uint8_t *buf;
	size_t len;
	int r;

	rs_msg_init(&m, RS_MSG_REPLY);
	m.u.reply.id = id;
	m.u.reply.code = code;
	m.u.reply.message = message ? strdup(message) : NULL;
	m.u.reply.json = json ? strdup(json) : NULL;
	m.u.reply.rows = rows;
	m.u.reply.nrows = nrows;
	rs_strlcpy(m.u.reply.next_page, next ? next : "", sizeof m.u.reply.next_page);
	if ((unsigned)code < RS_E__NR)
		d->ctl_requests[d->cur_verb][code]++;
	if (d->cap_on && id == d->cap_id) {   /* the answer to the request handled */
		rsd_outcome_add(d, d->cur_actor, id, code, json, message);
		d->cap_on = false;
	}
	r = wire_encode(&m, &buf, &len);
	m.u.reply.rows = NULL;   /* the caller's */
	m.u.reply.nrows = 0;
	rs_msg_clear(&m);
	if (r < 0) {
		log_warnx("cannot encode reply: %s", strerror(-r));
		return;
	}
	r = net_send(d->control, peer, buf, len);
	if (r < 0)
		log_debug("reply not delivered (client gone?): %s", strerror(-r));
	free(buf);
}

void rsd_reply(rsd *d, const net_peer *peer, uint64_t id, int code,
	       const char *json, const char *message)
{
	reply_send(d, peer, id, code, json, message, NULL, NULL, 0);
}

/* One page of a status or nodes answer: json, or rows[nrows] (borrowed),
 * and the next page's cursor. */
static void rsd_reply_page(rsd *d, const net_peer *peer, uint64_t id,
			   const char *json, rs_status_row *rows, size_t nrows,
			   const char *next)
{
	reply_send(d, peer, id, RS_OK, json, NULL, next, rows, nrows);
}

/* Replies with a jansson object (stolen) as payload. */
void rsd_reply_json(rsd *d, const net_peer *peer, uint64_t id, json_t *o,
		    const char *msg)
{
	char *s = json_dumps(o, JSON_COMPACT);

	rsd_reply(d, peer, id, s ? RS_OK : RS_E_INTERNAL, s, s ? msg : "out of memory");
	free(s);
	json_decref(o);
}

void rsd_reply_err(rsd *d, const net_peer *peer, uint64_t id, int code,
		   const char *fmt, ...)
{
	char msg[RS_DETAIL_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	rsd_reply(d, peer, id, code, NULL, msg);
}

void rsd_reply_unrecorded(rsd *d, const net_peer *peer, const rs_request *rq,
			  int r)
{
	const char *verb = rs_verb_to_string(rq->verb);

	log_warnx("cannot record '%s%s%s': %s; refused, nothing changed", verb,
		  rq->label[0] ? " " : "", rq->label, rsd_store_why(d, r));
	rsd_reply_err(d, peer, rq->id, RS_E_INTERNAL, "cannot record '%s%s%s': %s; "
		      "nothing was changed", verb, rq->label[0] ? " " : "", rq->label,
		      rsd_store_why(d, r));
}

rsd_pending *rsd_op_new(rsd *d, const net_peer *peer, const rs_request *rq,
				uint32_t default_ms)
{
	rsd_pending *p = calloc(1, sizeof *p);

	if (!p)
		return NULL;
	p->peer = *peer;
	p->req_id = rq->id;
	p->op.req_id = rq->id;
	p->verb = rq->verb;
	rs_strlcpy(p->label, rq->label, sizeof p->label);
	p->deadline_mono = clock_mono_ms() + (rq->timeout_ms ? rq->timeout_ms : default_ms);
	p->reply = !rq->no_block;
	rs_strlcpy(p->op.kind, rs_verb_to_string(rq->verb), sizeof p->op.kind);
	rs_strlcpy(p->op.label, rq->label, sizeof p->op.label);
	rs_strlcpy(p->op.state, "running", sizeof p->op.state);
	rs_strlcpy(p->op.caller, d->cur_actor[0] ? d->cur_actor : "rsctl", sizeof p->op.caller);
	p->op.started_ms = clock_wall_ms();
	return p;
}

/* Whether an operation on rq's label refuses rq (lib/opsm: busy): replies
 * exit 4 then. */
static bool busy(rsd *d, const net_peer *peer, const rs_request *rq)
{
	rsd_pending *p = rsd_pending_for(d, rq->label);

	if (!p || opsm_admit(p->verb, rq->verb) != OPSM_BUSY)
		return false;
	rsd_reply_err(d, peer, rq->id, RS_E_BUSY,
		  "%s is busy: a '%s' operation is in progress (since %llu ms)",
		  rq->label, p->op.kind,
		  (unsigned long long)(clock_wall_ms() - p->op.started_ms));
	return true;
}

/* The service an operation on rq->label acts on, or NULL after replying
 * "unknown" or "busy". */
rsd_svc *rsd_svc_for_op(rsd *d, const net_peer *peer, const rs_request *rq)
{
	rsd_svc *s = rsd_svc_find(d, rq->label);

	if (!s) {
		rsd_reply_err(d, peer, rq->id, RS_E_NOENT, "unknown service '%s'", rq->label);
		return NULL;
	}
	return busy(d, peer, rq) ? NULL : s;
}

/* Whether up may go ahead: a valid spec, no operation on the label, not
 * up already. Replies if not. */
static bool up_allowed(rsd *d, const net_peer *peer, const rs_request *rq,
		       const rsd_svc *s)
{
	char err[RS_DETAIL_MAX];

	if (strcmp(rq->spec.label, rq->label) != 0 ||
	    rs_spec_validate(&rq->spec, err, sizeof err) < 0) {
		rsd_reply_err(d, peer, rq->id, RS_E_INVAL, "%s", err);
		return false;
	}
	if (busy(d, peer, rq))
		return false;
	if (!s || s->s.desired != RS_WANT_UP)
		return true;
	for (rsd_inst *x = rsd_label_insts(d, rq->label); x; x = rsd_label_insts_next(d, x))
		if ((rsd_istate_live(x->si.info.state) ||
		     x->si.info.state == RS_IS_LOST ||
		     x->si.info.state == RS_IS_EXITED)) {
			rsd_reply_err(d, peer, rq->id, RS_E_EXISTS,
				  "%s is already up (%s on %s; use down first, or edit and refresh)",
				  rq->label, rs_istate_to_string(x->si.info.state),
				  x->si.node);
			return false;
		}
	return true;   /* wanted up but nothing runs (its start failed): up again */
}

/* The node up places the first instance on, or NULL after replying. */
static rsd_node *up_node(rsd *d, const net_peer *peer, const rs_request *rq)
{
	rsd_node *n = rsd_place_spec(d, &rq->spec, rq->spec.node, NULL);

	uint32_t need = rs_limits_needs(&rq->spec.limits);
	uint32_t pneed = rs_profile_needs(&rq->spec.profile);
	rsd_node *w;
	char has[48], want[48];

	if (n)
		return n;
	w = rq->spec.node[0] ? rsd_node_find(d, rq->spec.node) : NULL;
	if (w && pneed && (w->privs & pneed) != pneed) {
		rs_priv_format(pneed, want, sizeof want);
		rs_priv_format(w->privs, has, sizeof has);
		rsd_reply_err(d, peer, rq->id, RS_E_NONODE,
			      "node %s cannot apply the profile of %s: it needs %s, "
			      "the node can apply %s (rsctl nodes: PRIVS)",
			      rq->spec.node, rq->label, want, has);
	} else if (w && need && (w->controllers & need) != need) {
		rs_ctl_format(need, want, sizeof want);
		rs_ctl_format(w->controllers, has, sizeof has);
		rsd_reply_err(d, peer, rq->id, RS_E_NONODE,
			      "node %s cannot enforce the limits of %s: they need the "
			      "%s controllers, it has %s (rsctl nodes: LIMITS)",
			      rq->spec.node, rq->label, want, has);
	} else if (rq->spec.node[0])
		rsd_reply_err(d, peer, rq->id, RS_E_NONODE,
			  "node %s is not connected (or is full)", rq->spec.node);
	else if (need)
		rsd_reply_err(d, peer, rq->id, RS_E_NONODE, "no connected node "
			  "%scan enforce the limits of %s (they need the %s controllers)",
			  rq->spec.nplacement ? "that matches its placement " : "",
			  rq->label, (rs_ctl_format(need, want, sizeof want), want));
	else if (pneed)
		rsd_reply_err(d, peer, rq->id, RS_E_NONODE, "no connected node "
			  "%scan apply the profile of %s (it needs %s; rsctl nodes: "
			  "PRIVS)",
			  rq->spec.nplacement ? "that matches its placement " : "",
			  rq->label, (rs_priv_format(pneed, want, sizeof want), want));
	else if (rq->spec.nplacement)
		rsd_reply_err(d, peer, rq->id, RS_E_NONODE, "no connected node "
			  "matches the placement of %s (%s%s)", rq->label,
			  rq->spec.placement[0], rq->spec.nplacement > 1 ? ", ..." : "");
	else
		rsd_reply_err(d, peer, rq->id, RS_E_NONODE, "no node is connected");
	return NULL;
}

/* The service row up stores: s's (NULL: a new one) with rq's spec (owned
 * by *next), wanted up, the next generation. */
static int up_service(const rsd_svc *s, const rs_request *rq, store_service *next)
{
	uint64_t now = clock_wall_ms();

	if (s) {
		*next = s->s;
	} else {
		memset(next, 0, sizeof *next);
		next->created_ms = now;
	}
	rs_spec_init(&next->spec);
	next->desired = RS_WANT_UP;
	next->generation++;
	next->updated_ms = now;
	return rs_spec_copy(&next->spec, &rq->spec);
}

int rsd_revision_add(rsd *d, const store_service *svc, const char *kind)
{
	return store_revision_add(d->st, svc, svc->updated_ms ? svc->updated_ms :
				  clock_wall_ms(), d->cur_actor, kind, NULL);
}

/* Whether an up stores a spec the service did not have (a new service,
 * or up of a stopped one with other settings): a revision. */
static bool up_changes(rsd *d, const rs_request *rq)
{
	const rsd_svc *s = rsd_svc_find(d, rq->label);

	return !s || !rsd_spec_eq(&s->s.spec, &rq->spec);
}

/* Records an up in one transaction: the service row, the new instance,
 * the operation, the label's dead instances dropped, an event. */
static int up_record(rsd *d, const rs_request *rq, const store_service *next,
		     const rsd_inst *in, rsd_pending *p)
{
	int r = rsd_tx_begin(d);

	if (r < 0)
		return r;
	if ((r = store_service_put(d->st, next)) < 0 ||
	    (up_changes(d, rq) && (r = rsd_revision_add(d, next, "up")) < 0) ||
	    (r = store_instance_put(d->st, &in->si)) < 0 ||
	    (r = store_op_add(d->st, &p->op)) < 0)
		goto abort;
	/* older, dead instances of this label are history now */
	for (rsd_inst *old = rsd_label_insts(d, rq->label); old;
	     old = rsd_label_insts_next(d, old))
		if (!rsd_istate_live(old->si.info.state) &&
		    (r = store_instance_del(d->st, old->si.info.id)) < 0)
			goto abort;
	rsd_event(d, rq->label, in->si.info.id, in->si.node, "up", "%s", rq->spec.argv[0]);
	return rsd_tx_commit(d);
abort:
	rsd_tx_abort(d);
	return r;
}

/* Drops label's instances that are not live from the table. */
static void drop_not_live(rsd *d, const char *label)
{
	for (rsd_inst *old = rsd_label_insts(d, label), *next; old; old = next) {
		next = rsd_label_insts_next(d, old);
		if (!rsd_istate_live(old->si.info.state)) {
			rsd_inst_unlink(d, old);
			free(old);
		}
	}
}

/* After up's commit: the table takes the service (next, s, its spec are
 * taken), the instance and the operation; Start goes out, then the other
 * replicas. */
static void up_act(rsd *d, const net_peer *peer, const rs_request *rq, rsd_svc *s,
		   bool fresh, store_service *next, rsd_inst *in, rsd_pending *p)
{
	drop_not_live(d, rq->label);
	d->next_inst_id++;
	if (!fresh)
		rs_spec_clear(&s->s.spec);
	s->s = *next;
	if (fresh)
		rsd_svc_link(d, s);
	rsd_inst_link(d, in);
	p->inst_id = in->si.info.id;
	rsd_pending_add(d, p);
	rsd_send_start(d, in);
	if (s->s.spec.replicas > 1) {   /* spread the others */
		uint32_t n;
		int r = rsd_start_instances(d, s, s->s.spec.replicas - 1, &n);

		if (r < 0)
			log_warnx("up %s: replicas %u to %u %s", rq->label, n + 2,
				  s->s.spec.replicas, r == -ENODEV ? "have no node yet" :
				  "were not recorded: the period's converge tries again");
	}
	if (rq->no_block) {
		char json[256];
		snprintf(json, sizeof json,
			 "{\"label\":\"%s\",\"instance\":%llu,\"node\":\"%s\",\"state\":\"pending\"}",
			 rq->label, (unsigned long long)in->si.info.id, in->si.node);
		rsd_reply(d, peer, rq->id, RS_OK, json, "starting");
	}
}

/* up: decide (checks, node), record, then act. */
static void do_up(rsd *d, const net_peer *peer, const rs_request *rq)
{
	rsd_svc *s = rsd_svc_find(d, rq->label);
	bool fresh = !s;
	store_service next;
	rsd_node *n;
	rsd_inst *in;
	rsd_pending *p;
	instsm_fx fx;
	int r;

	if (!up_allowed(d, peer, rq, s) || !(n = up_node(d, peer, rq)))
		return;
	p = rsd_op_new(d, peer, rq, rq->spec.ready_timeout_ms + 5000);
	in = calloc(1, sizeof *in);
	if (fresh)
		s = calloc(1, sizeof *s);
	r = up_service(fresh ? NULL : s, rq, &next);
	if (!p || !in || !s || r < 0) {
		rsd_reply_err(d, peer, rq->id, RS_E_INTERNAL, "out of memory");
		goto fail;
	}
	in->si.info.id = d->next_inst_id;
	rs_strlcpy(in->si.info.label, rq->label, sizeof in->si.info.label);
	in->si.info.generation = next.generation;
	rs_strlcpy(in->si.node, n->n.name, sizeof in->si.node);
	if ((r = rsd_inst_move(d, in, IM_EV_PLACE, NULL, &fx)) < 0) {
		rsd_reply_err(d, peer, rq->id, RS_E_INTERNAL, "cannot place %s", rq->label);
		goto fail;
	}
	if ((r = up_record(d, rq, &next, in, p)) < 0) {
		rsd_reply_unrecorded(d, peer, rq, r);
		goto fail;
	}
	up_act(d, peer, rq, s, fresh, &next, in, p);
	return;
fail:
	rs_spec_clear(&next.spec);
	free(p);
	free(in);
	if (fresh)
		free(s);
}

/* down: record the service wanted down and the operation, then stop its
 * instances; the reply comes when they are dead. */
static void do_down(rsd *d, const net_peer *peer, const rs_request *rq)
{
	/* down cancels a start still waiting for ready (as systemctl stop
	 * does); any other operation in progress makes it busy (lib/opsm) */
	rsd_pending *up = rsd_pending_for(d, rq->label);
	rsd_svc *s;
	store_service next;
	rsd_pending *p;

	if (up && opsm_admit(up->verb, rq->verb) != OPSM_CANCELS)
		up = NULL;
	s = up ? rsd_svc_find(d, rq->label) : rsd_svc_for_op(d, peer, rq);
	if (!s)
		return;
	if (s->s.spec.critical && !rq->force) {
		rsd_reply_err(d, peer, rq->id, RS_E_INVAL,
			  "%s is a critical service: use down --force to stop it", rq->label);
		return;
	}
	p = rsd_op_new(d, peer, rq, s->s.spec.stop_timeout_ms + 5000);
	if (!p) {
		rsd_reply_err(d, peer, rq->id, RS_E_INTERNAL, "out of memory");
		return;
	}
	next = s->s;   /* shallow: the put only reads the spec */
	next.desired = RS_WANT_DOWN;
	next.updated_ms = clock_wall_ms();
	if (rsd_op_commit(d, peer, rq, &next, NULL, p, "requested") < 0)
		return;   /* replied, p freed, nothing changed */
	s->s.desired = next.desired;
	s->s.updated_ms = next.updated_ms;
	if (up) {   /* recorded: now answer the start it cancels */
		up->cancelled = true;
		rsd_pending_done(d, up, RS_E_FAILED, NULL, "%s: start cancelled by down "
				 "(%s)", rq->label, d->cur_actor[0] ? d->cur_actor : "rsctl");
	}
	for (rsd_inst *in = rsd_label_insts(d, rq->label); in;
	     in = rsd_label_insts_next(d, in)) {
		instsm_fx fx;

		/* the table says what to order: a stop of what may run, and
		 * of what its agent keeps dead (it forgets it) */
		if (rsd_inst_move(d, in, IM_EV_STOP, NULL, &fx) < 0 ||
		    !(fx.fx & IM_FX_STOP))
			continue;
		if (rsd_send_stop(d, in, true, false) == -ENOTCONN &&
		    rsd_istate_live(in->si.info.state))
			log_warnx("down %s: node %s not connected; it will be stopped when it returns",
				  rq->label, in->si.node);
	}
	if (rq->no_block)
		rsd_reply(d, peer, rq->id, RS_OK, NULL, "stopping");
	rsd_pending_check(d);
}

/* The instance of label that an operation acts on: the live one (running
 * first), or else the newest. */
static rsd_inst *svc_instance(rsd *d, const char *label)
{
	rsd_inst *best = NULL;
	rsd_label_buf buf = { 0 };
	const rsd_label *l = rsd_label_view(d, label, &buf);

	for (size_t i = 0; l && i < l->ninsts; i++) {   /* newest first */
		rsd_inst *in = l->insts[i];

		if (in->si.standby && best && !best->si.standby)
			continue;
		if (!best || (best->si.standby && !in->si.standby) ||
		    in->si.info.state == RS_IS_RUNNING ||
		    (rsd_istate_live(in->si.info.state) &&
		     !rsd_istate_live(best->si.info.state)) ||
		    (!rsd_istate_live(best->si.info.state) &&
		     in->si.info.id > best->si.info.id))
			best = in;
	}
	rsd_label_buf_free(&buf);
	return best;
}

/* Stores svc and si (if any), the operation and an event in one
 * transaction, then queues p. On failure replies and frees p. */
int rsd_op_commit(rsd *d, const net_peer *peer, const rs_request *rq,
		  const store_service *svc, const store_instance *si,
		  rsd_pending *p, const char *what)
{
	int r = rsd_tx_begin(d);

	if (r < 0)
		goto fail;
	if ((svc && (r = store_service_put(d->st, svc)) < 0) ||
	    (si && (r = store_instance_put(d->st, si)) < 0) ||
	    (r = store_op_add(d->st, &p->op)) < 0) {
		rsd_tx_abort(d);
		goto fail;
	}
	rsd_event(d, rq->label[0] ? rq->label : NULL, p->inst_id, si ? si->node : NULL,
		  rs_verb_to_string(rq->verb), "%s", what);
	if ((r = rsd_tx_commit(d)) < 0)
		goto fail;
	rsd_pending_add(d, p);
	return 0;
fail:
	rsd_reply_unrecorded(d, peer, rq, r);
	rsd_pending_free(p);
	return -EIO;
}

/* refresh: a deliberate restart of the running instance; replies when the
 * new process is ready. */
static void do_refresh(rsd *d, const net_peer *peer, const rs_request *rq)
{
	rsd_svc *s = rsd_svc_for_op(d, peer, rq);
	rsd_inst *in;
	rsd_pending *p;

	if (!s)
		return;
	in = svc_instance(d, rq->label);
	if (s->s.desired != RS_WANT_UP || !in ||
	    (in->si.info.state != RS_IS_RUNNING && in->si.info.state != RS_IS_STARTING &&
	     in->si.info.state != RS_IS_BACKOFF)) {
		rsd_reply_err(d, peer, rq->id, RS_E_FAILED,
			  "%s is not running (%s); use restart for a terminated service",
			  rq->label, in ? rs_istate_to_string(in->si.info.state) : "no instance");
		return;
	}
	p = rsd_op_new(d, peer, rq, s->s.spec.stop_timeout_ms +
			s->s.spec.ready_timeout_ms + 5000);
	if (!p) {
		rsd_reply_err(d, peer, rq->id, RS_E_INTERNAL, "out of memory");
		return;
	}
	p->inst_id = in->si.info.id;
	p->old_pid = in->si.info.pid;
	if (rsd_op_commit(d, peer, rq, NULL, NULL, p, "deliberate restart") < 0)
		return;
	if (rsd_send_stop(d, in, false, true) < 0)
		rsd_pending_done(d, p, RS_E_NONODE, NULL, "node %s is not connected",
				 in->si.node);
	else if (rq->no_block)
		rsd_reply(d, peer, rq->id, RS_OK, NULL, "refreshing");
}

/* restart: start a terminated service again (what recovery scripts call);
 * refused while it runs. */
static void do_restart(rsd *d, const net_peer *peer, const rs_request *rq)
{
	rsd_svc *s = rsd_svc_for_op(d, peer, rq);
	store_service next;
	rsd_inst *in;
	rsd_pending *p;
	instsm_fx fx;

	if (!s)
		return;
	in = svc_instance(d, rq->label);
	if (in && !instsm_accepts(in->si.info.state, IM_EV_PLACE)) {
		rsd_reply_err(d, peer, rq->id, RS_E_EXISTS,
			  "%s is %s, not terminated; use refresh to restart a running service",
			  rq->label, rs_istate_to_string(in->si.info.state));
		return;
	}
	if (!in) {
		rsd_reply_err(d, peer, rq->id, RS_E_FAILED,
			  "%s has no instance to restart; use up", rq->label);
		return;
	}
	if (!rsd_node_find(d, in->si.node) || !rsd_node_find(d, in->si.node)->connected) {
		rsd_reply_err(d, peer, rq->id, RS_E_NONODE, "node %s is not connected",
			  in->si.node);
		return;
	}
	p = rsd_op_new(d, peer, rq, s->s.spec.ready_timeout_ms + 5000);
	if (!p) {
		rsd_reply_err(d, peer, rq->id, RS_E_INTERNAL, "out of memory");
		return;
	}
	p->inst_id = in->si.info.id;
	next = s->s;   /* shallow: the put only reads the spec */
	next.desired = RS_WANT_UP;
	next.updated_ms = clock_wall_ms();
	if (rsd_op_commit(d, peer, rq, &next, NULL, p,
			  "restart of a terminated service") < 0)
		return;
	s->s.desired = next.desired;
	s->s.updated_ms = next.updated_ms;
	if (rsd_inst_move(d, in, IM_EV_PLACE, NULL, &fx) == 0 && (fx.fx & IM_FX_START))
		rsd_send_start(d, in);
	if (rq->no_block)
		rsd_reply(d, peer, rq->id, RS_OK, NULL, "restarting");
}

/* shutdown: every service down on every node, nothing restarted; rsd stays. */
static void do_shutdown(rsd *d, const net_peer *peer, const rs_request *rq)
{
	rsd_pending *p;
	uint32_t wait_ms = 0;
	int r;

	for (rsd_pending *q = d->pending; q; q = q->next)
		if (q->reply || q->verb == RS_V_SHUTDOWN) {
			rsd_reply_err(d, peer, rq->id, RS_E_BUSY,
				  "busy: a '%s' of %s is in progress", q->op.kind,
				  q->label[0] ? q->label : "everything");
			return;
		}
	for (rsd_svc *s = d->svcs; s; s = s->next)
		if (s->s.spec.stop_timeout_ms > wait_ms)
			wait_ms = s->s.spec.stop_timeout_ms;
	p = rsd_op_new(d, peer, rq, wait_ms + 5000);
	if (!p) {
		rsd_reply_err(d, peer, rq->id, RS_E_INTERNAL, "out of memory");
		return;
	}
	if ((r = rsd_tx_begin(d)) < 0)
		goto fail;
	for (rsd_svc *s = d->svcs; s; s = s->next) {
		store_service down = s->s;   /* shallow: put only reads it */
		down.desired = RS_WANT_DOWN;
		if ((r = store_service_put(d->st, &down)) < 0)
			goto fail_rollback;
	}
	if ((r = store_op_add(d->st, &p->op)) < 0)
		goto fail_rollback;
	rsd_event(d, NULL, 0, NULL, "shutdown", "every service is going down");
	if ((r = rsd_tx_commit(d)) < 0)
		goto fail;
	for (rsd_svc *s = d->svcs; s; s = s->next)
		s->s.desired = RS_WANT_DOWN;
	rsd_pending_add(d, p);
	for (rsd_inst *in = d->insts; in; in = in->next)
		if (rsd_istate_live(in->si.info.state))
			rsd_send_stop(d, in, true, false);
	if (rq->no_block)
		rsd_reply(d, peer, rq->id, RS_OK, NULL, "shutting down");
	rsd_pending_check(d);
	return;
fail_rollback:
	rsd_tx_abort(d);
fail:
	rsd_reply_unrecorded(d, peer, rq, r);
	free(p);
}

/* Sets KEY=VALUE in spec's env, replacing an entry with the same key. */
static int env_set(rs_spec *spec, const char *kv)
{
	size_t klen = strcspn(kv, "=");

	for (size_t i = 0; i < spec->envc; i++)
		if (strncmp(spec->env[i], kv, klen) == 0 && spec->env[i][klen] == '=') {
			char *dup = strdup(kv);
			if (!dup)
				return -ENOMEM;
			free(spec->env[i]);
			spec->env[i] = dup;
			return 0;
		}
	return rs_spec_add_env(spec, kv);
}

void rsd_reply_merge_err(rsd *d, const net_peer *peer, uint64_t id,
			 const char *label, int r)
{
	if (r == -E2BIG)
		rsd_reply_err(d, peer, id, RS_E_INVAL, "%s: the command would have more "
			      "than %d entries (the program and %d arguments), or the "
			      "environment more than %d", label, RS_ARGV_MAX,
			      RS_ARGV_MAX - 1, RS_ARGV_MAX);
	else
		rsd_reply_err(d, peer, id, RS_E_INTERNAL, "out of memory");
}

/* Copies the fields named by mask from src into dst. */
int rsd_spec_merge(rs_spec *dst, const rs_spec *src, uint32_t mask)
{
	int r = 0;

#define TAKE(bit, field) do { if (mask & (bit)) dst->field = src->field; } while (0)
	TAKE(RS_EDIT_PERIOD, period_ms);
	TAKE(RS_EDIT_READY_TIMEOUT, ready_timeout_ms);
	TAKE(RS_EDIT_POLICY, policy);
	TAKE(RS_EDIT_BO_INITIAL, backoff.initial_ms);
	TAKE(RS_EDIT_BO_FACTOR, backoff.factor);
	TAKE(RS_EDIT_BO_MAX, backoff.max_ms);
	TAKE(RS_EDIT_BO_RESET, backoff.reset_ms);
	TAKE(RS_EDIT_BO_DISABLED, backoff.disabled);
	TAKE(RS_EDIT_STOP_SIGNAL, stop_signal);
	TAKE(RS_EDIT_STOP_TIMEOUT, stop_timeout_ms);
	TAKE(RS_EDIT_NOTIFY, notify);
	TAKE(RS_EDIT_SETTLE, settle_ms);
	TAKE(RS_EDIT_CRITICAL, critical);
	TAKE(RS_EDIT_KEEP_CAPS, keep_caps);
	TAKE(RS_EDIT_FENCE, fence);
	TAKE(RS_EDIT_RELOAD_SIGNAL, reload_signal);
#undef TAKE
	if (mask & RS_EDIT_LIMITS)
		rs_limits_merge(&dst->limits, &src->limits);
	if (mask & RS_EDIT_PROFILE)
		rs_profile_merge(&dst->profile, &src->profile);
	for (int i = 0; r == 0 && i < RS_PROBE__NR; i++)
		if (mask & ((uint32_t)RS_EDIT_LIVENESS << i))
			r = rs_probe_copy(&dst->probes[i], &src->probes[i]);
	if (r < 0)
		return r;
	if (mask & RS_EDIT_USER)
		memcpy(dst->user, src->user, sizeof dst->user);
	if (mask & RS_EDIT_SCRIPT) {
		free(dst->script);
		dst->script = src->script && *src->script ? strdup(src->script) : NULL;
		if (src->script && *src->script && !dst->script)
			return -ENOMEM;
	}
	for (size_t i = 0; r == 0 && (mask & RS_EDIT_ENV) && i < src->envc; i++)
		r = env_set(dst, src->env[i]);
	if (r == 0 && (mask & RS_EDIT_CWD)) {
		free(dst->cwd);
		dst->cwd = src->cwd ? strdup(src->cwd) : NULL;
		if (src->cwd && !dst->cwd)
			r = -ENOMEM;
	}
	if (r == 0 && (mask & RS_EDIT_LISTEN))
		r = rs_spec_set_listen(dst, src->listen, src->nlisten);
	if (r == 0 && (mask & RS_EDIT_ARGS_TAIL) && dst->argc) {
		/* keep argv[0], take the new arguments */
		char *prog = dst->argv[0];
		for (size_t i = 1; i < dst->argc; i++)
			free(dst->argv[i]);
		free(dst->argv);
		dst->argv = NULL;
		dst->argc = 0;
		r = rs_spec_add_arg(dst, prog);
		free(prog);
		for (size_t i = 0; r == 0 && i < src->argc; i++)
			r = rs_spec_add_arg(dst, src->argv[i]);
	}
	if (r == 0 && (mask & RS_EDIT_ARGS)) {
		for (size_t i = 0; i < dst->argc; i++)
			free(dst->argv[i]);
		free(dst->argv);
		dst->argv = NULL;
		dst->argc = 0;
		for (size_t i = 0; r == 0 && i < src->argc; i++)
			r = rs_spec_add_arg(dst, src->argv[i]);
	}
	return r;
}

/* edit: change a service's stored settings; live instances get the new
 * spec at once (what needs a new process waits for the next start). */
static void do_edit(rsd *d, const net_peer *peer, const rs_request *rq)
{
	rsd_svc *s = rsd_svc_for_op(d, peer, rq);
	store_service next;
	char err[RS_DETAIL_MAX];
	int r;

	if (!s)
		return;
	if (rq->edit_mask & RS_EDIT_NODE || rq->edit_mask & ~(uint32_t)RS_EDIT__ALL) {
		rsd_reply_err(d, peer, rq->id, RS_E_INVAL,
			  "edit cannot move %s to another node; use down and up", rq->label);
		return;
	}
	next = s->s;
	if ((r = rs_spec_copy(&next.spec, &s->s.spec)) == 0)
		r = rsd_spec_merge(&next.spec, &rq->spec, rq->edit_mask);
	if (r < 0) {
		rs_spec_clear(&next.spec);
		rsd_reply_merge_err(d, peer, rq->id, rq->label, r);
		return;
	}
	if (rs_spec_validate(&next.spec, err, sizeof err) < 0) {
		rs_spec_clear(&next.spec);
		rsd_reply_err(d, peer, rq->id, RS_E_INVAL, "%s", err);
		return;
	}
	for (rsd_inst *in = rsd_label_insts(d, rq->label); in;
	     in = rsd_label_insts_next(d, in)) {
		rsd_node *n = rsd_node_find(d, in->si.node);

		if (!rsd_istate_live(in->si.info.state) || !n || rsd_node_speaks(n, &next.spec))
			continue;
		rs_spec_clear(&next.spec);
		rsd_reply_err(d, peer, rq->id, RS_E_INVAL, "the agent of node %s (%s) "
			      "does not speak what the new settings need (fence? "
			      "limits its node cannot enforce? a profile it "
			      "cannot apply?); "
			      "upgrade it first, or move %s", n->n.name,
			      n->n.agent_version, rq->label);
		return;
	}
	next.updated_ms = clock_wall_ms();
	r = rsd_tx_begin(d);
	if (r == 0 && ((r = store_service_put(d->st, &next)) < 0 ||
		       (!rsd_spec_eq(&next.spec, &s->s.spec) &&
			(r = rsd_revision_add(d, &next, "edit")) < 0)))
		rsd_tx_abort(d);
	if (r == 0) {
		rsd_event(d, rq->label, 0, NULL, "edit", "settings changed (mask 0x%x)%s%s",
			  rq->edit_mask, rq->edit_mask & RS_EDIT_NEXT_START ?
			  "; command/env/cwd apply at the next start" : "",
			  rq->edit_mask & RS_EDIT_PROFILE &&
			  rq->spec.profile.fields & ~RS_PF_LIVE ?
			  "; the profile's caps, no_new_privileges, read_only_root "
			  "and private_tmp apply at the next start (nice and cpus "
			  "at once)" : "");
		r = rsd_tx_commit(d);
	}
	if (r < 0) {
		rs_spec_clear(&next.spec);
		rsd_reply_unrecorded(d, peer, rq, r);
		return;
	}
	rs_spec_clear(&s->s.spec);
	s->s = next;
	for (rsd_inst *in = rsd_label_insts(d, rq->label); in;
	     in = rsd_label_insts_next(d, in))
		if (rsd_istate_live(in->si.info.state))
			rsd_send_respec(d, in);
	rsd_reply(d, peer, rq->id, RS_OK, NULL,
		  rq->edit_mask & RS_EDIT_NEXT_START ?
		  "edited; the command, environment and cwd apply at the next start (rsctl refresh)" :
		  "edited; in effect now");
}

/* clone: start a warm standby instance of a running service. */
static void do_clone(rsd *d, const net_peer *peer, const rs_request *rq)
{
	rsd_svc *s = rsd_svc_for_op(d, peer, rq);
	rsd_inst *act, *sb;
	rsd_node *n;
	rsd_pending *p;
	instsm_fx fx;

	if (!s)
		return;
	act = svc_instance(d, rq->label);
	if (s->s.spec.replicas > 1) {
		rsd_reply_err(d, peer, rq->id, RS_E_INVAL,
			  "%s has %u replicas: it needs no standby", rq->label,
			  s->s.spec.replicas);
		return;
	}
	if (s->s.desired != RS_WANT_UP || !act || act->si.standby ||
	    !rsd_istate_live(act->si.info.state)) {
		rsd_reply_err(d, peer, rq->id, RS_E_FAILED, "%s is not running; up it first",
			  rq->label);
		return;
	}
	for (rsd_inst *in = rsd_label_insts(d, rq->label); in;
	     in = rsd_label_insts_next(d, in))
		if (in->si.standby) {
			rsd_reply_err(d, peer, rq->id, RS_E_EXISTS,
				  "%s already has a standby (instance %llu on %s)",
				  rq->label, (unsigned long long)in->si.info.id, in->si.node);
			return;
		}
	{
		/* the standby goes where the placement allows, but not where
		 * the service is pinned: a shallow copy without the pin */
		rs_spec where = s->s.spec;

		where.node[0] = '\0';
		n = rsd_place_spec(d, &where, rq->spec.node,
				   rq->spec.node[0] ? NULL : act->si.node);
	}
	if (!n) {
		rsd_reply_err(d, peer, rq->id, RS_E_NONODE, "no connected node for a standby of %s",
			  rq->label);
		return;
	}
	p = rsd_op_new(d, peer, rq, s->s.spec.ready_timeout_ms + 5000);
	sb = calloc(1, sizeof *sb);
	if (!p || !sb) {
		free(p);
		free(sb);
		rsd_reply_err(d, peer, rq->id, RS_E_INTERNAL, "out of memory");
		return;
	}
	sb->si.info.id = d->next_inst_id;
	rs_strlcpy(sb->si.info.label, rq->label, sizeof sb->si.info.label);
	sb->si.info.generation = s->s.generation;
	sb->si.standby = true;
	rsd_inst_move(d, sb, IM_EV_PLACE, NULL, &fx);   /* new: pending */
	rs_strlcpy(sb->si.node, n->n.name, sizeof sb->si.node);
	p->inst_id = sb->si.info.id;
	if (rsd_op_commit(d, peer, rq, NULL, &sb->si, p, "warm standby") < 0) {
		free(sb);   /* replied, p freed, nothing changed */
		return;
	}
	d->next_inst_id++;
	rsd_inst_link(d, sb);
	rsd_send_start(d, sb);
	if (rq->no_block)
		rsd_reply(d, peer, rq->id, RS_OK, NULL, "starting a standby");
}

/* unclone: stop and forget the standby. */
static void do_unclone(rsd *d, const net_peer *peer, const rs_request *rq)
{
	rsd_svc *s = rsd_svc_for_op(d, peer, rq);

	if (!s)
		return;
	for (rsd_inst *in = rsd_label_insts(d, rq->label); in;
	     in = rsd_label_insts_next(d, in)) {
		int r;

		if (!in->si.standby)
			continue;
		if ((r = rsd_tx_begin(d)) == 0 &&
		    (r = store_instance_del(d->st, in->si.info.id)) < 0)
			rsd_tx_abort(d);
		if (r == 0) {
			rsd_event(d, rq->label, in->si.info.id, in->si.node, "unclone",
				  "standby stopped");
			r = rsd_tx_commit(d);
		}
		if (r < 0) {
			rsd_reply_unrecorded(d, peer, rq, r);
			return;
		}
		rsd_send_stop(d, in, true, false);
		rsd_inst_unlink(d, in);
		free(in);
		rsd_reply(d, peer, rq->id, RS_OK, NULL, "standby stopped");
		return;
	}
	rsd_reply_err(d, peer, rq->id, RS_E_FAILED, "%s has no standby", rq->label);
}

/* logs: ask the instance's agent for its output; the reply follows when
 * the agent answers (rsd_logs_data) or the request times out. */
static void do_logs(rsd *d, const net_peer *peer, const rs_request *rq)
{
	rsd_inst *in = rq->instance ? rsd_inst_find(d, rq->instance) :
		       svc_instance(d, rq->label);
	rsd_node *n;
	rsd_logreq *lr;
	rs_msg m;

	if (!rsd_svc_find(d, rq->label)) {
		rsd_reply_err(d, peer, rq->id, RS_E_NOENT, "unknown service '%s'", rq->label);
		return;
	}
	if (!in || strcmp(in->si.info.label, rq->label) != 0) {
		rsd_reply_err(d, peer, rq->id, RS_E_NOENT, "%s has no instance %llu",
			  rq->label, (unsigned long long)rq->instance);
		return;
	}
	n = rsd_node_find(d, in->si.node);
	if (!n || !n->connected) {
		rsd_reply_err(d, peer, rq->id, RS_E_NONODE, "node %s is not connected",
			  in->si.node);
		return;
	}
	/* an agent without stamped logs cannot filter them: say so rather
	 * than answer every line */
	if (!(n->features & RS_FEAT_LOGS) && (rq->since_ms || rq->previous || rq->pid)) {
		rsd_reply_err(d, peer, rq->id, RS_E_INVAL, "node %s runs rs-agent %s, "
			      "which keeps no times or pids with the output: --since "
			      "and --previous need rs-agent %s there", n->n.name,
			      n->n.agent_version[0] ? n->n.agent_version : "0.2",
			      rs_version());
		return;
	}
	lr = calloc(1, sizeof *lr);
	if (!lr) {
		rsd_reply_err(d, peer, rq->id, RS_E_INTERNAL, "out of memory");
		return;
	}
	lr->peer = *peer;
	lr->req_id = rq->id;
	lr->id = ++d->logreq_seq;
	lr->inst = in->si.info.id;
	lr->stamped = rq->stamped;
	lr->previous = rq->previous && !rq->pid;
	rs_strlcpy(lr->label, rq->label, sizeof lr->label);
	rs_strlcpy(lr->node, in->si.node, sizeof lr->node);
	lr->deadline_mono = clock_mono_ms() + (rq->timeout_ms ? rq->timeout_ms : 5000);
	rs_msg_init(&m, RS_MSG_LOGS_GET);
	m.u.logs_get.req_id = lr->id;
	m.u.logs_get.instance_id = in->si.info.id;
	rs_strlcpy(m.u.logs_get.label, rq->label, sizeof m.u.logs_get.label);
	m.u.logs_get.lines = rq->limit ? rq->limit : 50;
	m.u.logs_get.after = rq->after;
	if (n->features & RS_FEAT_LOGS) {
		m.u.logs_get.stamped = rq->stamped;
		m.u.logs_get.since_ms = rq->since_ms;
		m.u.logs_get.previous = rq->previous;
		m.u.logs_get.pid = rq->pid;
	}
	if (rsd_send_agent(d, n, &m) < 0) {
		free(lr);
		rsd_reply_err(d, peer, rq->id, RS_E_NONODE, "cannot reach node %s", n->n.name);
	} else {
		lr->next = d->logreqs;
		d->logreqs = lr;
	}
	rs_msg_clear(&m);
}

void rsd_logs_data(rsd *d, rsd_node *n, const rs_logs_data *ld)
{
	rsd_logreq **pp = &d->logreqs, *lr;
	json_t *o, *data;

	while (*pp && (*pp)->id != ld->req_id)
		pp = &(*pp)->next;
	lr = *pp;
	if (!lr || strcmp(lr->node, n->n.name) != 0)
		return;   /* timed out already, or not this node's to answer */
	*pp = lr->next;
	d->cur_verb = RS_V_LOGS;
	if (!ld->found) {
		rsd_reply(d, &lr->peer, lr->req_id, RS_E_NOENT, NULL,
			  "no output captured for this instance on its node");
		free(lr);
		return;
	}
	if (lr->previous && ld->stamped && !ld->prev_pid) {
		rsd_reply_err(d, &lr->peer, lr->req_id, RS_E_NOENT, "%s/%llu: no output "
			      "of an earlier process in its log (it has not restarted, "
			      "or that output was rotated away)", lr->label,
			      (unsigned long long)lr->inst);
		free(lr);
		return;
	}
	data = json_stringn((const char *)ld->data, ld->len);
	if (!data) {   /* not UTF-8: show the bytes that are not ASCII as '?' */
		char *copy = malloc(ld->len + 1);
		for (size_t i = 0; copy && i < ld->len; i++)
			copy[i] = ld->data[i] < 0x80 && ld->data[i] ? (char)ld->data[i] : '?';
		data = copy ? json_stringn(copy, ld->len) : NULL;
		free(copy);
	}
	o = json_pack("{s:I, s:s, s:o*, s:I}", "instance", (json_int_t)lr->inst,
		      "node", lr->node, "data", data, "next", (json_int_t)ld->next);
	/* a 0.3 rsctl's keys; a 0.2 one gets what it always got */
	if (o && lr->stamped) {
		json_object_set_new(o, "stamped", json_boolean(ld->stamped));
		json_object_set_new(o, "more", json_boolean(ld->more));
		json_object_set_new(o, "pid", json_integer(ld->pid));
		json_object_set_new(o, "prev_pid", json_integer(ld->prev_pid));
	}
	rsd_reply_json(d, &lr->peer, lr->req_id, o, NULL);
	free(lr);
}

void rsd_logs_expire(rsd *d, uint64_t now)
{
	for (rsd_logreq **pp = &d->logreqs; *pp;) {
		rsd_logreq *lr = *pp;
		if (now < lr->deadline_mono) {
			pp = &lr->next;
			continue;
		}
		*pp = lr->next;
		d->cur_verb = RS_V_LOGS;
		rsd_reply(d, &lr->peer, lr->req_id, RS_E_TIMEOUT, NULL,
			  "node did not send the output in time");
		free(lr);
	}
}

/* What a drain did, for its reply. */
typedef struct drain_count {
	size_t moved, pinned, stuck;
} drain_count;

/* Inside drain's transaction: moves n's instances of wanted, unpinned
 * services to other nodes (same instance id). The table changes at once
 * (saved: a failed commit puts them back); Stop to n and Start to the new
 * node are held until the commit. */
static int drain_moves(rsd *d, rsd_node *n, drain_count *c)
{
	instsm_fx fx;
	rsd_inst **v;
	size_t nv;
	int r;

	/* n's instances (not a walk of the whole table), taken first: each
	 * move takes one off n's chain */
	if ((r = rsd_node_insts_newest(d, n->n.name, &v, &nv)) < 0)
		return r;
	for (size_t i = 0; i < nv; i++) {
		rsd_inst *in = v[i];
		rsd_svc *s = rsd_svc_find(d, in->si.info.label);
		rsd_node *to;

		/* what runs there (one on its way down is not moved) */
		if (!instsm_accepts(in->si.info.state, IM_EV_MOVE) ||
		    in->si.info.state == RS_IS_LOST || !s || s->s.desired != RS_WANT_UP)
			continue;
		if (s->s.spec.node[0]) {
			c->pinned++;
			continue;
		}
		to = rsd_place_label(d, "", n->n.name, in->si.info.label);
		if (!to || to == n) {
			c->stuck++;
			continue;
		}
		if (rsd_inst_move(d, in, IM_EV_MOVE, NULL, &fx) < 0) {
			c->stuck++;
			continue;
		}
		if (fx.fx & IM_FX_STOP_OLD)
			rsd_send_stop(d, in, true, false);   /* the copy here goes */
		rsd_inst_set_node(d, in, to->n.name);
		if ((r = store_instance_put(d->st, &in->si)) < 0)
			break;
		rsd_event(d, in->si.info.label, in->si.info.id, to->n.name, "moved",
			  "from drained node %s", n->n.name);
		if (fx.fx & IM_FX_START)
			rsd_send_start(d, in);
		c->moved++;
	}
	free(v);
	return r < 0 ? r : 0;
}

/* drain NODE: place nothing new there and move its instances elsewhere
 * (stop there, start on another node, same instance id); undrain: place
 * again. Pinned services (--node) stay and are named in the reply. All of
 * it is one transaction; nothing moves unless it commits. */
static void do_drain(rsd *d, const net_peer *peer, const rs_request *rq, bool on)
{
	rsd_node *n = rsd_node_find(d, rq->label);
	drain_count c = { 0, 0, 0 };
	bool was;
	char msg[RS_DETAIL_MAX];
	int r;

	if (!n) {
		rsd_reply_err(d, peer, rq->id, RS_E_NOENT, "unknown node '%s'", rq->label);
		return;
	}
	if ((r = rsd_tx_begin(d)) < 0) {
		rsd_reply_unrecorded(d, peer, rq, r);
		return;
	}
	was = n->n.drained;
	n->n.drained = on;
	rsd_node_placeable(d, n);
	if ((r = store_node_put(d->st, &n->n)) == 0) {
		rsd_event(d, NULL, 0, n->n.name, on ? "drain" : "undrain", "%s",
			  on ? "no new instances; moving its instances" : "placing again");
		if (on)
			r = drain_moves(d, n, &c);
	}
	if (r < 0)
		rsd_tx_abort(d);
	else
		r = rsd_tx_commit(d);
	if (r < 0) {
		n->n.drained = was;
		rsd_node_placeable(d, n);
		rsd_reply_unrecorded(d, peer, rq, r);
		return;
	}
	if (on)
		snprintf(msg, sizeof msg, "node %s drained: %zu instance(s) moved, %zu pinned "
			 "stay, %zu without another node", n->n.name, c.moved, c.pinned, c.stuck);
	else
		snprintf(msg, sizeof msg, "node %s takes new instances again", n->n.name);
	rsd_reply(d, peer, rq->id, RS_OK, NULL, msg);
}

/* node forget NODE: a node gone for good leaves the table, its metrics
 * and rsctl nodes (RsNodeLost fired for it for ever). Not while it is up
 * or suspect (its agent speaks: it would only join again), nor while an
 * instance that is not finished is placed there (a pinned service's
 * waits for it: down or move it first). Its key stays admitted. */
static void do_node_forget(rsd *d, const net_peer *peer, const rs_request *rq)
{
	rsd_node *n = rsd_node_find(d, rq->label);
	const char *was;
	char msg[RS_DETAIL_MAX];
	size_t placed = 0;
	int r;

	if (!n) {
		rsd_reply_err(d, peer, rq->id, RS_E_NOENT, "unknown node '%s'", rq->label);
		return;
	}
	was = rs_node_state_to_string(n->n.state);
	if (n->connected || n->sm.state == NM_UP || n->sm.state == NM_SUSPECT) {
		rsd_reply_err(d, peer, rq->id, RS_E_BUSY, "node %s is %s: only a node "
			      "that is gone can be forgotten (stop its agent first)",
			      n->n.name, n->connected ? "connected" : was);
		return;
	}
	for (rsd_inst *in = rsd_node_insts(d, n->n.name); in; in = rsd_node_insts_next(d, in)) {
		rsd_svc *s = rsd_svc_find(d, in->si.info.label);

		placed += rsd_istate_live(in->si.info.state) ||
			  (in->si.info.state == RS_IS_LOST && s &&
			   s->s.desired == RS_WANT_UP);
	}
	if (placed) {
		rsd_reply_err(d, peer, rq->id, RS_E_BUSY, "%zu instance(s) placed on "
			      "node %s are not finished (a pinned service's wait for "
			      "it): down or move them first", placed, n->n.name);
		return;
	}
	if ((r = rsd_tx_begin(d)) < 0) {
		rsd_reply_unrecorded(d, peer, rq, r);
		return;
	}
	if ((r = store_node_del(d->st, n->n.name)) == 0 || r == -ENOENT) {
		rsd_event(d, NULL, 0, n->n.name, "node-forget", "forgotten (it was %s)", was);
		r = rsd_tx_commit(d);
	} else {
		rsd_tx_abort(d);
	}
	if (r < 0) {
		rsd_reply_unrecorded(d, peer, rq, r);
		return;
	}
	snprintf(msg, sizeof msg, "node %s forgotten (it was %s)", n->n.name, was);
	log_info("%s", msg);
	rsd_reply(d, peer, rq->id, RS_OK, NULL, msg);
	rsd_node_forget(d, n);
}

/* Instance in as the status answer's JSON: its state and its last
 * reported usage (RS_FEAT_USAGE; usage_ms 0: none). */
static json_t *inst_json(const rsd_inst *in)
{
	const rs_iinfo *i = &in->si.info;

	return json_pack("{s:I, s:s, s:i, s:s, s:s, s:b, s:i, s:s, s:I, s:I, s:I,"
			 " s:{s:i, s:i, s:s, s:I}, s:I, s:I, s:I, s:i, s:I}",
			 "id", (json_int_t)i->id, "node", in->si.node, "pid", (int)i->pid,
			 "role", in->si.standby ? "standby" : "active",
			 "state", rs_istate_to_string(i->state),
			 "unready", i->state == RS_IS_RUNNING && i->unready,
			 "restarts", (int)i->restarts,
			 "status", i->status, "generation", (json_int_t)i->generation,
			 "started_ms", (json_int_t)i->started_ms,
			 "ready_ms", (json_int_t)i->ready_ms,
			 "last_exit", "code", (int)i->last_exit.code,
			 "signal", (int)i->last_exit.signal,
			 "reason", rs_exit_reason_to_string(i->last_exit.reason),
			 "time_ms", (json_int_t)i->last_exit.time_ms,
			 "cpu_ms", (json_int_t)in->use.cpu_ms,
			 "memory", (json_int_t)in->use.memory,
			 "memory_peak", (json_int_t)in->use.memory_peak,
			 "tasks", (int)in->use.tasks,
			 "usage_ms", (json_int_t)in->use.time_ms);
}

/* A service's state, from its instances l: the most alive one wins. */
static const char *svc_state(const rsd_label *l)
{
	static const rs_istate order[] = {
		RS_IS_RUNNING, RS_IS_STARTING, RS_IS_BACKOFF, RS_IS_STOPPING,
		RS_IS_EXITED, RS_IS_PENDING, RS_IS_LOST, RS_IS_FAILED, RS_IS_DOWN,
	};
	size_t best = sizeof order / sizeof order[0];

	for (size_t i = 0; l && i < l->ninsts; i++)
		for (size_t k = 0; k < best; k++)
			if (l->insts[i]->si.info.state == order[k])
				best = k;
	return best < sizeof order / sizeof order[0] ? rs_istate_to_string(order[best]) : "down";
}

/* The service's environment for the caller: operators and admins see
 * KEY=VALUE, viewers KEY=*** (values are where secrets go). */
static json_t *env_json(const rsd *d, const rs_spec *spec)
{
	json_t *env = json_array();
	bool mask = d->cur_role < RS_ROLE_OPERATOR;

	for (size_t i = 0; i < spec->envc; i++) {
		const char *eq = strchr(spec->env[i], '=');
		if (mask && eq) {
			char buf[RS_LABEL_MAX + 256];
			snprintf(buf, sizeof buf, "%.*s=***", (int)(eq - spec->env[i]),
				 spec->env[i]);
			json_array_append_new(env, json_string(buf));
		} else {
			json_array_append_new(env, json_string(spec->env[i]));
		}
	}
	return env;
}

/* A string vector as a JSON array. */
static json_t *strv_json(char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/* Operation p (rsd_pending_for label) as status and describe show it:
 * null when there is none; an update says which instance and step. */
static json_t *op_json(const rsd_pending *p, const char *label)
{
	char progress[RS_DETAIL_MAX] = "";

	if (!p)
		return json_null();
	if (p->verb == RS_V_UPDATE)
		rsd_update_progress(p, label, progress, sizeof progress);
	return json_pack("{s:s, s:I, s:s}", "kind", p->op.kind,
			 "started_ms", (json_int_t)p->op.started_ms,
			 "progress", progress);
}

/* ---- status and nodes, one page at a time (RS_FEAT_PAGED) ------------ */

/* A page is cut after page_size rows (an instance, or a service without
 * one), or once its JSON passes RSD_PAGE_BYTES (at least one service or
 * node always goes in: 64 replicas are far below the frame). A request
 * without page_size (rsctl 0.2) gets everything, unless that passes
 * RSD_UNPAGED_MAX: then an error instead of a frame nobody can read.
 * A page holds rsd's loop while it is built, and every other client's
 * request waits behind it (issue 12: control p99 < 5 ms while an operator
 * lists 150,000 instances), so page_size is capped near 1 ms of work:
 * status as rows (Request.rows, RS_FEAT_ROWS, what rsctl asks) ~1.2 us a
 * row built, encoded and sent (rs_ctl_page_seconds: 5,000 rows were
 * ~4-7 ms), RSD_PAGE_ROWS_MAX; status as JSON (--json) ~15 us an
 * instance, RSD_PAGE_JSON_MAX; nodes RSD_PAGE_NODES_MAX. A service goes
 * in whole (never more than the cap + its replicas <= RS_ROWS_MAX). Caps,
 * not a clock: the same request gets the same pages. */
#define RSD_PAGE_ROWS_MAX  1000
#define RSD_PAGE_JSON_MAX  100
#define RSD_PAGE_NODES_MAX 250
/* A filter that keeps few rows (--state failed) would otherwise look at
 * every service in one page (2,500 services, 150,000 instances: ~40 ms):
 * a page ends after this many services looked at, even with no row in
 * it; its cursor says where the next one goes on. */
#define RSD_PAGE_SVCS_MAX  64
#define RSD_PAGE_BYTES    (256u << 10)
#define RSD_UNPAGED_MAX   (RS_FRAME_MAX - (64u << 10))

/* What a status or nodes request keeps: node "" and state -1 keep all. */
typedef struct row_filter {
	const char *node;
	int         state;   /* rs_istate (status) or rs_node_state (nodes) */
} row_filter;

/* One page, built item by item: a JSON array, or status rows. */
typedef struct page_buf {
	char   *s;           /* "[item,item" so far; NULL before the first */
	size_t  len, cap;    /* rows: len counts their encoded bytes */
	size_t  rows;
	size_t  limit_rows;  /* SIZE_MAX when not paged */
	size_t  limit_bytes;
	bool    failed;      /* out of memory */
	bool    as_rows;     /* status with Request.rows: rowv, not s */
	rs_status_row *rowv; /* rows rows so far: their strings are the
			      * table's, but op_progress (malloc'ed) */
	size_t  rowv_cap;
} page_buf;

static void page_init(page_buf *pb, const rs_request *rq)
{
	size_t cap;

	memset(pb, 0, sizeof *pb);
	pb->as_rows = rq->rows && rq->verb == RS_V_STATUS;
	cap = pb->as_rows ? RSD_PAGE_ROWS_MAX :
	      rq->verb == RS_V_NODES ? RSD_PAGE_NODES_MAX : RSD_PAGE_JSON_MAX;
	pb->limit_rows = !rq->page_size && !pb->as_rows ? SIZE_MAX :
			 !rq->page_size || rq->page_size > cap ? cap : rq->page_size;
	pb->limit_bytes = rq->page_size && !pb->as_rows ? RSD_PAGE_BYTES :
			  RSD_UNPAGED_MAX;
}

/* Whether the page takes nothing more. */
static bool page_full(const page_buf *pb)
{
	return pb->failed || pb->rows >= pb->limit_rows ||
	       pb->len >= pb->limit_bytes;
}

/* Appends item (stolen) as rows rows. */
static void page_add(page_buf *pb, json_t *item, size_t rows)
{
	char *js = item ? json_dumps(item, JSON_COMPACT) : NULL;
	size_t n = js ? strlen(js) : 0;

	json_decref(item);
	if (!js || pb->failed) {
		pb->failed = true;
		free(js);
		return;
	}
	if (pb->len + n + 2 > pb->cap) {
		size_t cap = pb->cap ? pb->cap : 4096;
		char *ns;

		while (cap < pb->len + n + 2)
			cap *= 2;
		if (!(ns = realloc(pb->s, cap))) {
			pb->failed = true;
			free(js);
			return;
		}
		pb->s = ns;
		pb->cap = cap;
	}
	pb->s[pb->len] = pb->len ? ',' : '[';
	pb->len++;
	memcpy(pb->s + pb->len, js, n + 1);
	pb->len += n;
	pb->rows += rows;
	free(js);
}

/* Replies {"KEY":[the page's items]TAIL}, or the page's rows; tail is ""
 * or ",\"k\":..." (already JSON). more: items are left after the page,
 * whose cursor is last (Reply.next_page), or an error when rq is not
 * paged. Frees the page. */
static void page_reply(rsd *d, const net_peer *peer, const rs_request *rq,
		       page_buf *pb, const char *key, const char *tail,
		       bool more, const char *last)
{
	size_t n = pb->len + strlen(key) + strlen(tail) + 16;
	char *js = NULL;

	if (pb->failed || (!pb->as_rows && !(js = malloc(n)))) {
		rsd_reply_err(d, peer, rq->id, RS_E_INTERNAL, "out of memory");
	} else if (!rq->page_size && more) {
		rsd_reply_err(d, peer, rq->id, RS_E_FAILED, "the %s answer is larger than "
			      "one reply (%u KiB): use rsctl 0.3.0 or newer, which asks "
			      "for it page by page, or ask for less (%s)", rs_verb_to_string(rq->verb),
			      RSD_UNPAGED_MAX >> 10, rq->verb == RS_V_STATUS ?
			      "status LABEL" : "a filter");
	} else if (pb->as_rows) {
		rsd_reply_page(d, peer, rq->id, NULL, pb->rowv, pb->rows,
			       more ? last : "");
	} else {
		snprintf(js, n, "{\"%s\":%s%.*s]%s}", key, pb->len ? "" : "[",
			 (int)pb->len, pb->s ? pb->s : "", tail);
		rsd_reply_page(d, peer, rq->id, js, NULL, 0, more ? last : "");
	}
	free(js);
	free(pb->s);
	for (size_t i = 0; pb->rowv && i < pb->rows; i++)
		free((char *)pb->rowv[i].op_progress);   /* page_add_rows' */
	free(pb->rowv);
	memset(pb, 0, sizeof *pb);
}

/* Whether instance in passes f. */
static bool inst_kept(const rsd_inst *in, const row_filter *f)
{
	return (!f->node[0] || strcmp(in->si.node, f->node) == 0) &&
	       (f->state < 0 || (int)in->si.info.state == f->state);
}

/* The rows of l's service that f keeps: its kept instances, or 1 for a
 * service without instances ("down", no node) if f allows that. */
static size_t svc_rows(const rsd_label *l, const row_filter *f)
{
	size_t n = 0;

	if (!l || !l->ninsts)
		return !f->node[0] && (f->state < 0 || f->state == RS_IS_DOWN);
	for (size_t i = 0; i < l->ninsts; i++)
		n += inst_kept(l->insts[i], f);
	return n;
}

/* Into service JSON o (status, describe): "waiting", when converge found
 * no node for some of its instances (0.3). Returns o. */
static json_t *waiting_json(json_t *o, const rsd_svc *s)
{
	if (o && s->wait_since_ms && s->s.desired == RS_WANT_UP)
		json_object_set_new(o, "waiting", json_pack("{s:s, s:i, s:I}",
			"for", "node", "missing", (int)s->wait_missing,
			"since_ms", (json_int_t)s->wait_since_ms));
	return o;
}

/* A service and its instances l (from the index) that f keeps as status
 * JSON. */
static json_t *svc_json(rsd *d, const rsd_svc *s, const rsd_label *l,
			const row_filter *f)
{
	json_t *insts = json_array();
	json_t *argv = strv_json(s->s.spec.argv, s->s.spec.argc);
	json_t *op = op_json(rsd_pending_for(d, s->s.spec.label), s->s.spec.label);

	for (size_t i = 0; l && i < l->ninsts; i++)
		if (inst_kept(l->insts[i], f))
			json_array_append_new(insts, inst_json(l->insts[i]));
	return waiting_json(json_pack("{s:s, s:s, s:s, s:o, s:o, s:s, s:s, s:I, s:I, s:b, s:s?, s:o, s:o}",
			 "label", s->s.spec.label, "state", svc_state(l),
			 "desired", rs_desired_to_string(s->s.desired),
			 "command", argv, "env", env_json(d, &s->s.spec),
			 "restart_policy", rs_policy_to_string(s->s.spec.policy),
			 "fence", rs_fence_to_string(s->s.spec.fence),
			 "period_ms", (json_int_t)s->s.spec.period_ms,
			 "generation", (json_int_t)s->s.generation,
			 "critical", s->s.spec.critical, "script", s->s.spec.script,
			 "instances", insts, "operation", op), s);
}

/* The next row of pb (zeroed), or NULL after marking pb failed. The
 * first takes room for the rows svcs services may have (the page's most
 * at most) at once: growing a few MiB by doubling copied them twice. */
static rs_status_row *row_new(page_buf *pb, size_t svcs)
{
	if (pb->failed)
		return NULL;
	if (pb->rows == pb->rowv_cap) {
		size_t most = pb->limit_rows + RS_REPLICAS_MAX;
		size_t cap = pb->rowv_cap ? 2 * pb->rowv_cap :
			     svcs < most / RS_REPLICAS_MAX ? (svcs + 1) * RS_REPLICAS_MAX :
			     most;
		rs_status_row *v = realloc(pb->rowv, cap * sizeof *v);

		if (!v) {
			pb->failed = true;
			return NULL;
		}
		pb->rowv = v;
		pb->rowv_cap = cap;
	}
	memset(&pb->rowv[pb->rows], 0, sizeof *pb->rowv);
	return &pb->rowv[pb->rows++];
}

/* Fills row r from instance in (borrowing its strings). */
static void inst_row(rs_status_row *r, const rsd_inst *in)
{
	const rs_iinfo *i = &in->si.info;

	r->instance = i->id;
	/* running, its readiness probe failing: a word of its own in the
	 * table (an older rsctl prints it as sent) */
	r->state = i->state == RS_IS_RUNNING && i->unready ? "unready" :
		   rs_istate_to_string(i->state);
	r->standby = in->si.standby;
	r->node = in->si.node;
	r->pid = i->pid;
	r->restarts = i->restarts;
	r->started_ms = i->started_ms;
	r->exit_reason = i->last_exit.reason != RS_ER_NONE ?
			 rs_exit_reason_to_string(i->last_exit.reason) : "";
	r->exit_code = i->last_exit.code;
	r->exit_signal = i->last_exit.signal;
	r->status = i->status;
	r->cpu_ms = in->use.cpu_ms;
	r->memory = in->use.memory;
	r->memory_peak = in->use.memory_peak;
	r->tasks = in->use.tasks;
	r->usage_ms = in->use.time_ms;
}

/* Appends the rows of service s (instances l) that f keeps, as svc_json
 * lists them: one per kept instance, else the service's own row; its
 * operation in progress on the first. svcs: the services left to list
 * (s and those after it). */
static void page_add_rows(rsd *d, page_buf *pb, const rsd_svc *s,
			  const rsd_label *l, const row_filter *f, size_t svcs)
{
	const char *label = s->s.spec.label;
	rsd_pending *p = rsd_pending_for(d, label);
	size_t first = pb->rows;
	rs_status_row *r;

	for (size_t i = 0; l && i < l->ninsts; i++)
		if (inst_kept(l->insts[i], f) && (r = row_new(pb, svcs)))
			inst_row(r, l->insts[i]);
	if (pb->rows == first && (r = row_new(pb, svcs))) {
		r->state = svc_state(l);
		if (s->wait_since_ms && s->s.desired == RS_WANT_UP)
			r->status = "waiting for a node";   /* (describe: Waiting) */
	}
	if (pb->failed)
		return;
	if (p) {
		char progress[RS_DETAIL_MAX] = "";

		r = &pb->rowv[first];
		if (p->verb == RS_V_UPDATE)
			rsd_update_progress(p, label, progress, sizeof progress);
		r->op_kind = p->op.kind;
		if (progress[0] && !(r->op_progress = strdup(progress)))
			pb->failed = true;
	}
	for (size_t i = first; i < pb->rows; i++) {
		pb->rowv[i].label = label;
		pb->len += wire_status_row_size(&pb->rowv[i]);
	}
}

/* Parses rq's filters into f with parse (a state's from_string). Returns 0,
 * or -EINVAL after replying that the state is unknown (one of names). */
static int filter_parse(rsd *d, const net_peer *peer, const rs_request *rq,
			int (*parse)(const char *), const char *what,
			const char *names, row_filter *f)
{
	f->node = rq->node;
	f->state = rq->state[0] ? parse(rq->state) : -1;
	if (rq->state[0] && f->state < 0) {
		rsd_reply_err(d, peer, rq->id, RS_E_INVAL, "unknown %s state '%s': "
			      "one of %s", what, rq->state, names);
		return -EINVAL;
	}
	return 0;
}

/* The services status LABEL [LABEL...] names (rq->label, rq->batch), in
 * label order, into *out (malloc'ed, *n of them). Returns 0, -ENOMEM, or
 * -ENOENT after replying which label is unknown. */
static int status_named(rsd *d, const net_peer *peer, const rs_request *rq,
			rsd_svc ***out, size_t *n)
{
	rsd_svc **v = calloc(rq->nbatch + 1, sizeof *v);

	*n = 0;
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i <= rq->nbatch; i++) {
		const char *label = i ? rq->batch[i - 1] : rq->label;
		rsd_svc *sv = rsd_svc_find(d, label);

		if (!sv) {
			free(v);
			rsd_reply_err(d, peer, rq->id, RS_E_NOENT, "unknown service '%s'", label);
			return -ENOENT;
		}
		v[(*n)++] = sv;
	}
	qsort(v, *n, sizeof *v, rsd_svc_label_cmp);
	*out = v;
	return 0;
}

/* The first of v[0..n-1] (sorted by key) whose key is after cursor. */
static size_t page_start(void *const *v, size_t n, const char *(*key)(const void *),
			 const char *cursor)
{
	size_t lo = 0, hi = n;

	if (!cursor[0])
		return 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(key(v[mid]), cursor) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static const char *svc_key(const void *p)
{
	return ((const rsd_svc *)p)->s.spec.label;
}

static const char *node_key(const void *p)
{
	return ((const rsd_node *)p)->n.name;
}

#define ISTATE_NAMES "pending starting running stopping exited backoff down " \
		     "failed lost"
#define NSTATE_NAMES "unknown up suspect lost fenced"

/* status [LABEL...] [node, state filters]: services in label order with
 * their instances, through one index (O(S log S + I) per page), one page
 * after rq->page_after. Reply.next_page is the page's last label while
 * more may follow. */
static void do_status(rsd *d, const net_peer *peer, const rs_request *rq)
{
	uint64_t t0 = clock_mono_ns();
	rsd_svc **named = NULL, **v;
	rsd_label_buf buf = { 0 };
	const rsd_label *l;
	size_t n, i, k;
	row_filter f;
	page_buf pb;

	if (filter_parse(d, peer, rq, rs_istate_from_string, "instance",
			 ISTATE_NAMES, &f) < 0)
		return;
	if (rq->label[0]) {
		int r = status_named(d, peer, rq, &named, &n);
		if (r < 0) {
			if (r == -ENOMEM)
				rsd_reply_err(d, peer, rq->id, RS_E_INTERNAL, "out of memory");
			return;
		}
		v = named;
	} else if (!(v = rsd_svcs_sorted(d, &n))) {
		rsd_reply_err(d, peer, rq->id, RS_E_INTERNAL, "out of memory");
		return;
	}
	/* a page costs its services and their instances: the services are
	 * sorted once (until one is added), each one's instances found by
	 * label */
	page_init(&pb, rq);
	for (i = page_start((void *const *)v, n, svc_key, rq->page_after), k = 0;
	     i < n && !page_full(&pb) &&
	     (pb.limit_rows == SIZE_MAX || k < RSD_PAGE_SVCS_MAX); i++, k++) {
		size_t rows;

		if (!(l = rsd_label_view(d, v[i]->s.spec.label, &buf))) {
			pb.failed = true;   /* out of memory (it has a service) */
			break;
		}
		rows = svc_rows(l, &f);
		/* a named service is listed even when the filter keeps none
		 * of its instances (as status LABEL always listed it) */
		if (!rows && !(named && !f.node[0] && f.state < 0))
			continue;
		if (pb.as_rows)
			page_add_rows(d, &pb, v[i], l, &f, n - i);
		else
			page_add(&pb, svc_json(d, v[i], l, &f), rows ? rows : 1);
	}
	page_reply(d, peer, rq, &pb, "services", "", i < n,
		   i ? v[i - 1]->s.spec.label : "");
	free(named);
	rsd_label_buf_free(&buf);
	prom_hist_observe(&d->h_page, (double)(clock_mono_ns() - t0) / 1e9);
}

static int node_cmp(const void *a, const void *b)
{
	const rsd_node *x = *(rsd_node *const *)a, *y = *(rsd_node *const *)b;

	return strcmp(x->n.name, y->n.name);
}

/* The nodes in name order (malloc'ed, *n of them; the caller frees), or
 * NULL without memory. */
static rsd_node **nodes_by_name(rsd *d, size_t *n)
{
	rsd_node **v;
	size_t k = 0;

	*n = 0;
	for (rsd_node *x = d->nodes; x; x = x->next)
		(*n)++;
	v = calloc(*n ? *n : 1, sizeof *v);
	if (!v)
		return NULL;
	for (rsd_node *x = d->nodes; x; x = x->next)
		v[k++] = x;
	qsort(v, *n, sizeof *v, node_cmp);
	return v;
}

static json_t *node_json(const rsd_node *n, int instances, uint64_t now,
			 uint64_t wall)
{
	json_t *labels = json_array();
	uint64_t age = n->connected ? now - n->sm.word_ms :
		       (wall > n->n.last_seen_ms ? wall - n->n.last_seen_ms : 0);

	char ctl[32], privs[48];

	if (n->features & RS_FEAT_PROFILE)
		rs_priv_format(n->privs, privs, sizeof privs);
	else
		privs[0] = '\0';
	for (size_t i = 0; i < n->nlabels; i++)
		json_array_append_new(labels, json_string(n->labels[i]));
	if (n->features & RS_FEAT_LIMITS)
		rs_ctl_format(n->controllers, ctl, sizeof ctl);
	else
		ctl[0] = '\0';
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:I, s:b, s:b, s:o, s:i, s:I}",
			 "name", n->n.name, "state", rs_node_state_to_string(n->n.state),
			 "boot_id", n->n.boot_id, "agent_version", n->n.agent_version,
			 "cgroups", n->cgroups, "controllers", ctl, "privs", privs,
			 "instances", instances,
			 "last_seen_ms", (json_int_t)n->n.last_seen_ms,
			 "heartbeat_age_ms", (json_int_t)age, "connected", n->connected,
			 "drained", n->n.drained, "labels", labels,
			 "capacity", (int)n->n.capacity,
			 "features", (json_int_t)n->features);
}

/* nodes [state filter]: the nodes in name order, one page after
 * rq->page_after, with their kept instance counts. */
static void do_nodes(rsd *d, const net_peer *peer, const rs_request *rq)
{
	uint64_t t0 = clock_mono_ns(), now = clock_mono_ms(), wall = clock_wall_ms();
	size_t nn, nsel = 0, i, k;
	rsd_node **v, **sel = NULL;
	char tail[64];
	row_filter f;
	page_buf pb;

	if (filter_parse(d, peer, rq, rs_node_state_from_string, "node",
			 NSTATE_NAMES, &f) < 0)
		return;
	if (!(v = nodes_by_name(d, &nn)) ||
	    !(sel = calloc(nn ? nn : 1, sizeof *sel))) {
		free(v);
		free(sel);
		rsd_reply_err(d, peer, rq->id, RS_E_INTERNAL, "out of memory");
		return;
	}
	page_init(&pb, rq);
	/* the candidates of this page: the rows limit, before the bytes */
	for (i = page_start((void *const *)v, nn, node_key, rq->page_after);
	     i < nn && nsel < pb.limit_rows; i++)
		if (f.state < 0 || (int)v[i]->n.state == f.state)
			sel[nsel++] = v[i];
	/* its live instances: each node's kept count */
	for (k = 0; k < nsel && !page_full(&pb); k++)
		page_add(&pb, node_json(sel[k], (int)sel[k]->live, now, wall), 1);
	snprintf(tail, sizeof tail, ",\"rsd_version\":\"%s\"", rs_version());
	page_reply(d, peer, rq, &pb, "nodes", tail, k > 0 && (k < nsel || i < nn),
		   k ? sel[k - 1]->n.name : "");
	free(sel);
	free(v);
	prom_hist_observe(&d->h_page, (double)(clock_mono_ns() - t0) / 1e9);
}

/* upgrade-plan: which node runs which version, whether the cluster is
 * inside the skew policy, and what may be upgraded next. */
static void do_upgrade_plan(rsd *d, const net_peer *peer, const rs_request *rq)
{
	static const char *const skew_names[] = { "ok", "too-old", "too-new", "unknown" };
	json_t *arr;
	size_t nn;
	rsd_node **v = nodes_by_name(d, &nn);
	bool inside = true, can_next = true;
	rs_semver self = { 0, 0, 0 };
	char next[200];

	if (!v) {
		rsd_reply_err(d, peer, rq->id, RS_E_INTERNAL, "out of memory");
		return;
	}
	arr = json_array();
	rs_semver_parse(rs_version(), &self);
	for (size_t i = 0; i < nn; i++) {
		const rsd_node *n = v[i];
		char why[300] = "";
		rs_semver nv;
		rs_skew sk = rs_skew_check(rs_version(), n->n.agent_version, "rs-agent",
					   why, sizeof why);

		if (sk != RS_SKEW_OK)
			inside = false;
		if (rs_semver_parse(n->n.agent_version, &nv) < 0 || nv.major != self.major ||
		    nv.minor < self.minor)
			can_next = false;
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:s}",
			"name", n->n.name, "state", rs_node_state_to_string(n->n.state),
			"version", n->n.agent_version, "skew", skew_names[sk],
			"advice", why));
	}
	free(v);
	if (can_next)
		snprintf(next, sizeof next, "every agent runs %u.%u or newer: rsd may be "
			 "upgraded to %u.%u", self.major, self.minor, self.major, self.minor + 1);
	else
		snprintf(next, sizeof next, "upgrade the agents older than rsd %u.%u "
			 "before upgrading rsd", self.major, self.minor);
	rsd_reply_json(d, peer, rq->id, json_pack("{s:s, s:s, s:b, s:s, s:o}",
		"rsd_version", rs_version(),
		"policy", "agents and rsctl: same major version as rsd, at most 1 minor "
			  "version older or newer",
		"inside_policy", inside, "next", next, "nodes", arr), NULL);
}

static void do_lookup(rsd *d, const net_peer *peer, const rs_request *rq)
{
	rsd_inst *best = NULL;

	if (!rsd_svc_find(d, rq->label)) {
		rsd_reply_err(d, peer, rq->id, RS_E_NOENT, "unknown service '%s'", rq->label);
		return;
	}
	/* the oldest running instance, else the newest starting one */
	for (rsd_inst *in = rsd_label_insts(d, rq->label); in; in = rsd_label_insts_next(d, in)) {
		bool run = in->si.info.state == RS_IS_RUNNING;

		if (in->si.standby || (!run && in->si.info.state != RS_IS_STARTING))
			continue;
		if (!best || (run && (best->si.info.state != RS_IS_RUNNING ||
				      in->si.info.id < best->si.info.id)) ||
		    (!run && best->si.info.state != RS_IS_RUNNING &&
		     in->si.info.id > best->si.info.id))
			best = in;
	}
	if (!best) {
		rsd_reply_err(d, peer, rq->id, RS_E_FAILED, "%s has no active instance", rq->label);
		return;
	}
	rsd_reply_json(d, peer, rq->id, json_pack("{s:s, s:I, s:s, s:i, s:s}",
		"label", rq->label, "instance", (json_int_t)best->si.info.id,
		"node", best->si.node, "pid", (int)best->si.info.pid,
		"state", rs_istate_to_string(best->si.info.state)), NULL);
}

/* An event's row in a reply; arg: {rsd, the array}. */
struct ev_rows {
	rsd    *d;
	json_t *arr;
};

static int event_json(const rs_event *ev, void *arg)
{
	struct ev_rows *e = arg;

	if (ev->label[0])
		rsd_event_seen(e->d, ev->label, ev->seq);
	json_array_append_new(e->arr, json_pack("{s:I, s:I, s:s, s:I, s:s, s:s, s:s, s:s}",
		"seq", (json_int_t)ev->seq, "time_ms", (json_int_t)ev->time_ms,
		"label", ev->label, "instance", (json_int_t)ev->instance,
		"node", ev->node, "kind", ev->kind, "detail", ev->detail,
		"actor", ev->actor));
	return 0;
}

/* The rows of arr (oldest first) after the newest one stamped before
 * since_ms: `events --since`. The table has no index by time, so the
 * newest `limit` rows are read and cut here rather than the boundary
 * looked for below them (a walk as long as the table when every row is
 * newer). Takes arr. */
static json_t *events_since(json_t *arr, uint64_t since_ms)
{
	size_t n = json_array_size(arr), k = n;
	json_t *out;

	while (k > 0 && (uint64_t)json_integer_value(json_object_get(
			       json_array_get(arr, k - 1), "time_ms")) >= since_ms)
		k--;
	if (k == 0)
		return arr;   /* every row is since then */
	out = json_array();
	for (size_t i = k; out && i < n; i++)
		json_array_append(out, json_array_get(arr, i));
	json_decref(arr);
	return out;
}

static void do_events(rsd *d, const net_peer *peer, const rs_request *rq)
{
	json_t *arr = json_array();
	struct ev_rows e = { d, arr };
	/* since a time: every event since then, the newest
	 * RSD_EVENTS_SINCE_MAX (or the limit given); after a seq (-f): all */
	uint32_t limit = rq->limit ? rq->limit : rq->since_ms ? RSD_EVENTS_SINCE_MAX :
			 rq->after ? 0 : 50;
	int r = rq->label[0] ? rsd_label_events(d, rq->label, rq->after, limit, event_json, &e) :
		store_event_each(d->st, NULL, rq->after, limit, event_json, &e);

	if (r == 0 && rq->since_ms && !(arr = events_since(arr, rq->since_ms)))
		r = -ENOMEM;
	if (r < 0) {
		json_decref(arr);
		rsd_reply_err(d, peer, rq->id, RS_E_INTERNAL, "cannot read events: %s",
			  rsd_store_why(d, r));
		return;
	}
	rsd_reply_json(d, peer, rq->id, json_pack("{s:o}", "events", arr), NULL);
}

/* A spec whole, as describe shows it: status's names where status has
 * the field (command, env as the caller may see it, restart_policy,
 * period_ms, critical, script: null without one, fence), durations in
 * ms, the stop and reload signals as numbers (reload: what is sent, 0
 * being SIGHUP). */
/* A spec's probes as JSON: {ROLE: {kind, target or command, period_ms,
 * timeout_ms, failures, initial_delay_ms, status_min, status_max,
 * headers}} for each probe set. */
static json_t *probes_json(const rs_spec *sp)
{
	json_t *o = json_object();

	for (int i = 0; o && i < RS_PROBE__NR; i++) {
		const rs_probe *p = &sp->probes[i];
		json_t *j;

		if (p->kind == RS_PK_NONE)
			continue;
		j = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:o}",
			      "kind", rs_probe_kind_to_string(p->kind),
			      "period_ms", (json_int_t)p->period_ms,
			      "timeout_ms", (json_int_t)p->timeout_ms,
			      "failures", (json_int_t)p->failures,
			      "initial_delay_ms", (json_int_t)p->initial_delay_ms,
			      "status_min", (json_int_t)p->status_min,
			      "status_max", (json_int_t)p->status_max,
			      "headers", strv_json(p->headers, p->nheaders));
		if (j && p->kind == RS_PK_EXEC)
			json_object_set_new(j, "command", strv_json(p->argv, p->argc));
		else if (j)
			json_object_set_new(j, "target", json_string(p->target ? p->target : ""));
		json_object_set_new(o, rs_probe_role_to_string((rs_probe_role)i), j);
	}
	return o;
}

static json_t *spec_json(const rsd *d, const rs_spec *sp)
{
	const rs_backoff *b = &sp->backoff;
	json_t *j;

	j = json_pack("{s:o, s:o, s:s, s:s, s:b, s:i, s:s,"
			 " s:{s:I, s:I, s:I, s:I, s:b}, s:I, s:I, s:i, s:I, s:s, s:I,"
			 " s:s, s:o, s:o, s:o, s:b, s:s?, s:s, s:i}",
			 "command", strv_json(sp->argv, sp->argc),
			 "env", env_json(d, sp),
			 "cwd", sp->cwd ? sp->cwd : "/",
			 "user", sp->user, "keep_caps", sp->keep_caps,
			 "replicas", (int)sp->replicas,
			 "restart_policy", rs_policy_to_string(sp->policy),
			 "backoff", "initial_ms", (json_int_t)b->initial_ms,
			 "factor", (json_int_t)b->factor, "max_ms", (json_int_t)b->max_ms,
			 "reset_ms", (json_int_t)b->reset_ms, "disabled", b->disabled,
			 "period_ms", (json_int_t)sp->period_ms,
			 "ready_timeout_ms", (json_int_t)sp->ready_timeout_ms,
			 "stop_signal", (int)sp->stop_signal,
			 "stop_timeout_ms", (json_int_t)sp->stop_timeout_ms,
			 "notify", rs_notify_type_to_string(sp->notify),
			 "settle_ms", (json_int_t)sp->settle_ms,
			 "node", sp->node,
			 "placement", strv_json(sp->placement, sp->nplacement),
			 "listen", strv_json(sp->listen, sp->nlisten),
			 "depends_on", strv_json(sp->deps, sp->ndeps),
			 "critical", sp->critical, "script", sp->script,
			 "fence", rs_fence_to_string(sp->fence),
			 "reload_signal", (int)(sp->reload_signal ? sp->reload_signal : SIGHUP));
	if (j)
		json_object_set_new(j, "probes", probes_json(sp));
	if (j) {
		/* the limits set (none: {}), bytes, weight, percent, count */
		const rs_limits *l = &sp->limits;
		json_t *lj = json_object();
		if (l->memory_max)
			json_object_set_new(lj, "memory_max", json_integer((json_int_t)l->memory_max));
		if (l->memory_high)
			json_object_set_new(lj, "memory_high", json_integer((json_int_t)l->memory_high));
		if (l->cpu_weight)
			json_object_set_new(lj, "cpu_weight", json_integer(l->cpu_weight));
		if (l->cpu_max)
			json_object_set_new(lj, "cpu_max", json_integer(l->cpu_max));
		if (l->pids_max)
			json_object_set_new(lj, "pids_max", json_integer(l->pids_max));
		json_object_set_new(j, "limits", lj);
	}
	if (j) {
		/* the profile set (none: {}) */
		const rs_profile *pf = &sp->profile;
		json_t *pj = json_object();
		char caps[RS_PROFILE_TEXT_MAX];
		if (pf->caps_set) {
			json_t *ca = json_array();
			for (int i = 0; i <= RS_CAP_LAST; i++)
				if (pf->caps & (1ull << i))
					json_array_append_new(ca, json_string(rs_cap_name(i)));
			json_object_set_new(pj, "caps", ca);
		}
		if (pf->nnp)
			json_object_set_new(pj, "no_new_privileges", json_boolean(pf->nnp == RS_NNP_ON));
		if (pf->ro_root)
			json_object_set_new(pj, "read_only_root", json_true());
		if (pf->private_tmp)
			json_object_set_new(pj, "private_tmp", json_true());
		if (pf->nice)
			json_object_set_new(pj, "nice", json_integer(pf->nice));
		if (pf->cpus[0])
			json_object_set_new(pj, "cpus", json_string(pf->cpus));
		rs_profile_pack(pf, caps, sizeof caps);
		json_object_set_new(j, "profile", pj);
		json_object_set_new(j, "profile_text", json_string(caps));
	}
	return j;
}

/* Events describe shows: the label's newest, newest last. */
#define RSD_DESCRIBE_EVENTS 10

/* describe LABEL: one service whole (docs/cli.md "describe"): its spec,
 * its instances oldest first (each with its node's state), the operation
 * in progress and its last RSD_DESCRIBE_EVENTS events. Costs the
 * service's instances (found by label) and one walk of the event table
 * from its newest row until that many are found (design.md "Events by
 * label"), never the whole instance table. */
static void do_describe(rsd *d, const net_peer *peer, const rs_request *rq)
{
	const rsd_svc *s = rsd_svc_find(d, rq->label);
	const rsd_pending *p = rsd_pending_for(d, rq->label);
	rsd_label_buf buf = { 0 };
	const rsd_label *l;
	json_t *insts, *evs, *op, *root;
	int r;

	if (!s) {
		rsd_reply_err(d, peer, rq->id, RS_E_NOENT, "unknown service '%s'", rq->label);
		return;
	}
	evs = json_array();
	if ((r = rsd_label_events(d, rq->label, 0, RSD_DESCRIBE_EVENTS, event_json,
				  &(struct ev_rows){ d, evs })) < 0) {
		json_decref(evs);
		rsd_reply_err(d, peer, rq->id, RS_E_INTERNAL, "cannot read events: %s",
			      rsd_store_why(d, r));
		return;
	}
	if (!(l = rsd_label_view(d, rq->label, &buf))) {
		json_decref(evs);
		rsd_reply_err(d, peer, rq->id, RS_E_INTERNAL, "out of memory");
		return;
	}
	insts = json_array();
	for (size_t i = l->ninsts; i-- > 0;) {   /* the view is newest first */
		const rsd_inst *in = l->insts[i];
		const rsd_node *n = in->si.node[0] ? rsd_node_find(d, in->si.node) : NULL;
		json_t *o = inst_json(in);

		json_object_set_new(o, "node_state", json_string(n ?
				    rs_node_state_to_string(n->n.state) : ""));
		json_array_append_new(insts, o);
	}
	op = op_json(p, rq->label);
	if (p)
		json_object_set_new(op, "caller", json_string(p->op.caller));
	root = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:o, s:o, s:o, s:o}",
		"label", s->s.spec.label, "state", svc_state(l),
		"desired", rs_desired_to_string(s->s.desired),
		"generation", (json_int_t)s->s.generation,
		"created_ms", (json_int_t)s->s.created_ms,
		"updated_ms", (json_int_t)s->s.updated_ms,
		"spec", spec_json(d, &s->s.spec), "instances", insts,
		"operation", op, "events", evs);
	rsd_reply_json(d, peer, rq->id, waiting_json(root, s), NULL);
	rsd_label_buf_free(&buf);
}

/* history's rows: one revision each, oldest first */
static int revision_json(const store_revision *rev, void *arg)
{
	struct { const rsd *d; json_t *arr; } *h = arg;
	const rs_spec *sp = &rev->svc.spec;

	json_array_append_new(h->arr, json_pack("{s:i, s:I, s:s, s:s, s:I, s:o,"
		" s:o, s:s, s:o}",
		"revision", (int)rev->revision, "time_ms", (json_int_t)rev->time_ms,
		"actor", rev->actor, "kind", rev->kind,
		"generation", (json_int_t)rev->svc.generation,
		"command", strv_json(sp->argv, sp->argc), "env", env_json(h->d, sp),
		"cwd", sp->cwd ? sp->cwd : "/", "spec", spec_json(h->d, sp)));
	return 0;
}

/* history LABEL: the kept revisions of its spec (store.h, the newest
 * STORE_REVISION_KEEP), oldest first, each with the spec whole; env values
 * as the caller may see them. */
static void do_history(rsd *d, const net_peer *peer, const rs_request *rq)
{
	const rsd_svc *s = rsd_svc_find(d, rq->label);
	struct { const rsd *d; json_t *arr; } h = { d, NULL };
	int r;

	if (!s) {
		rsd_reply_err(d, peer, rq->id, RS_E_NOENT, "unknown service '%s'", rq->label);
		return;
	}
	h.arr = json_array();
	if ((r = store_revision_each(d->st, rq->label, 0, revision_json, &h)) < 0) {
		json_decref(h.arr);
		rsd_reply_err(d, peer, rq->id, RS_E_INTERNAL, "cannot read the "
			      "revisions: %s", rsd_store_why(d, r));
		return;
	}
	rsd_reply_json(d, peer, rq->id, json_pack("{s:s, s:I, s:o}",
		"label", s->s.spec.label, "generation", (json_int_t)s->s.generation,
		"revisions", h.arr), NULL);
}

/* export's labels: rq's LABEL and the batch after it, or NULL for every
 * service wanted up. */
static bool export_named(const rs_request *rq)
{
	return rq->label[0] != '\0';
}

/* Appends "FMT..." to the warnings array w. */
__attribute__((format(printf, 2, 3)))
static void warn_add(json_t *w, const char *fmt, ...)
{
	char msg[RS_DETAIL_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	json_array_append_new(w, json_string(msg));
}

/* Whether label is among v[n] (by their specs' labels). */
static bool spec_listed(const rs_spec *v, size_t n, const char *label)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].label, label))
			return true;
	return false;
}

/* The exported specs' warnings: what rsctl apply of the file would
 * refuse (a dependency left out) or do that the table does not (start a
 * service wanted down, stop the services a partial export leaves out). */
static void export_warnings(rsd *d, bool named, const rs_spec *v, size_t n,
			    json_t *w)
{
	size_t all = 0;

	for (rsd_svc *s = d->svcs; s; s = s->next)
		all++;
	for (size_t i = 0; i < n; i++) {
		const rsd_svc *s = rsd_svc_find(d, v[i].label);

		if (s && s->s.desired != RS_WANT_UP)
			warn_add(w, "%s is wanted down: rsctl apply of this file starts it",
				 v[i].label);
		for (size_t k = 0; k < v[i].ndeps; k++)
			if (!spec_listed(v, n, v[i].deps[k]))
				warn_add(w, "%s depends on %s, which is not in this file (%s): "
					 "rsctl apply refuses it until it is", v[i].label,
					 v[i].deps[k], !rsd_svc_find(d, v[i].deps[k]) ?
					 "rsd knows no such service" : named ?
					 "not named" : "wanted down");
	}
	if (named && n < all)
		warn_add(w, "this file names %zu of rsd's %zu services: rsctl apply of it "
			 "stops the others", n, all);
	if (n > RS_APPLY_MAX)
		warn_add(w, "%zu services: rsctl apply takes at most %d at once", n,
			 RS_APPLY_MAX);
}

/* The answer to an export: the manifest text of v[0..n) (in that
 * order), their labels, the services wanted down left out (down, taken),
 * the warnings. */
static void export_reply(rsd *d, const net_peer *peer, uint64_t id, bool named,
			 const char *text, const rs_spec *v, size_t n, json_t *down)
{
	json_t *names = json_array(), *w = json_array(), *o = NULL;
	char *out = NULL;

	for (size_t i = 0; names && i < n; i++)
		json_array_append_new(names, json_string(v[i].label));
	if (names && w && down) {
		export_warnings(d, named, v, n, w);
		o = json_pack("{s:s, s:O, s:O, s:O}", "manifest", text, "services", names,
			      "wanted_down", down, "warnings", w);
	}
	out = o ? json_dumps(o, JSON_COMPACT) : NULL;
	if (!out)
		rsd_reply_err(d, peer, id, RS_E_INTERNAL, "out of memory");
	else if (strlen(out) > RSD_UNPAGED_MAX)
		rsd_reply_err(d, peer, id, RS_E_INVAL, "the export of %zu services "
			      "takes %zu KiB, more than one reply carries (%u KiB): name "
			      "fewer labels", n, strlen(out) >> 10, RSD_UNPAGED_MAX >> 10);
	else
		rsd_reply(d, peer, id, RS_OK, out, NULL);
	free(out);
	json_decref(o);
	json_decref(names);
	json_decref(w);
	json_decref(down);
}

/* An export of more than RSD_EXPORT_SLICE services: its text is made a
 * slice a turn of the loop (export_cb), each spec as it is then, so that
 * 2,500 of them (16-18 ms of libyaml in one piece at 5,000 nodes) do not
 * hold the agents' messages and the other requests. */
struct rsd_export {
	struct rsd_export *next;
	net_peer           peer;
	uint64_t           id;
	bool               named;
	char             **labels;   /* the services, in the file's order */
	size_t             n, done;
	manifest_emitter  *em;
	json_t            *down;     /* wanted_down (taken) */
};

static void export_free(rsd_export *x)
{
	for (size_t i = 0; x->labels && i < x->n; i++)
		free(x->labels[i]);
	free(x->labels);
	manifest_emit_free(x->em);
	json_decref(x->down);
	free(x);
}

/* Takes x off the list and frees it. */
static void export_end(rsd *d, rsd_export *x)
{
	for (rsd_export **pp = &d->exports; *pp; pp = &(*pp)->next) {
		if (*pp == x) {
			*pp = x->next;
			break;
		}
	}
	export_free(x);
}

/* The answer to an export whose text could not be made (r, err). */
static void export_failed(rsd *d, const net_peer *peer, uint64_t id, int r,
			  const char *err)
{
	if (r == -ENOMEM)
		rsd_reply_err(d, peer, id, RS_E_INTERNAL, "out of memory");
	else
		rsd_reply_err(d, peer, id, RS_E_INVAL, "cannot export: %s", err);
}

/* x's service label, or NULL once x is answered that it is gone. */
static const rsd_svc *export_svc(rsd *d, const rsd_export *x, const char *label)
{
	const rsd_svc *s = rsd_svc_find(d, label);

	if (!s)
		rsd_reply_err(d, &x->peer, x->id, RS_E_BUSY, "service '%s' was deleted "
			      "during the export: ask again", label);
	return s;
}

/* One slice of the oldest export; its answer once the last is made. */
static void export_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	rsd *d = w->data;
	rsd_export *x = d->exports;
	char err[RS_DETAIL_MAX], *text = NULL;
	size_t end, len;
	rs_spec *v;
	int r = 0;

	(void)revents;
	if (!x)
		return;
	d->cur_verb = RS_V_EXPORT;   /* its answer's count (reply_send) */
	end = x->done + RSD_EXPORT_SLICE < x->n ? x->done + RSD_EXPORT_SLICE : x->n;
	for (; x->done < end && r == 0; x->done++) {
		const rsd_svc *s = export_svc(d, x, x->labels[x->done]);

		if (!s)
			r = -ENOENT;
		else if ((r = manifest_emit_add(x->em, &s->s.spec, err, sizeof err)) < 0)
			export_failed(d, &x->peer, x->id, r, err);
	}
	if (r == 0 && x->done == x->n) {
		r = manifest_emit_end(x->em, &text, &len, err, sizeof err);
		x->em = NULL;
		v = r == 0 ? calloc(x->n, sizeof *v) : NULL;
		if (r < 0 || !v)
			export_failed(d, &x->peer, x->id, r < 0 ? r : -ENOMEM, err);
		for (size_t i = 0; v && i < x->n; i++) {
			const rsd_svc *s = export_svc(d, x, x->labels[i]);

			if (!s) {
				free(v);
				v = NULL;
				break;
			}
			v[i] = s->s.spec;   /* shallow: borrowed */
		}
		if (v) {
			export_reply(d, &x->peer, x->id, x->named, text, v, x->n, x->down);
			x->down = NULL;
		}
		free(v);
		free(text);
		r = 1;   /* done */
	}
	if (r != 0)
		export_end(d, x);
	if (d->exports)
		ev_timer_start(loop, w);   /* the next slice after the others' turn */
}

void rsd_exports_free(rsd *d)
{
	ev_timer_stop(d->loop, &d->export_t);
	while (d->exports) {
		rsd_export *x = d->exports;

		d->exports = x->next;
		export_free(x);
	}
}

/* Queues an export of v[0..n) for export_cb (down: taken). 0, or
 * -ENOMEM (nothing queued, down not taken). */
static int export_defer(rsd *d, const net_peer *peer, uint64_t id, bool named,
			const rs_spec *v, size_t n, json_t *down)
{
	rsd_export *x = calloc(1, sizeof *x), **pp;

	if (!x || !(x->labels = calloc(n, sizeof *x->labels)) ||
	    manifest_emit_begin(&x->em) < 0) {
		if (x)
			export_free(x);
		return -ENOMEM;
	}
	x->n = n;
	for (size_t i = 0; i < n; i++) {
		if (!(x->labels[i] = strdup(v[i].label))) {
			export_free(x);
			return -ENOMEM;
		}
	}
	x->peer = *peer;
	x->id = id;
	x->named = named;
	x->down = down;
	for (pp = &d->exports; *pp; pp = &(*pp)->next)
		;
	*pp = x;
	if (!ev_is_active(&d->export_t)) {
		ev_timer_init(&d->export_t, export_cb, 0., 0.);
		d->export_t.data = d;
		ev_timer_start(d->loop, &d->export_t);
	}
	return 0;
}

/* export [LABEL...]: the specs as a manifest rsctl apply takes unchanged
 * (lib/manifest.c), every service wanted up in label order, or the
 * LABELs in the order given (any desired state). Operator only: the
 * file carries env values, which viewers see masked. Costs the services
 * exported (their specs are borrowed, not copied) and the text; more
 * than RSD_EXPORT_SLICE are made a slice a turn (export_cb). */
static void do_export(rsd *d, const net_peer *peer, const rs_request *rq)
{
	size_t n = 0, cap = export_named(rq) ? rq->nbatch + 1 : 0, len;
	rs_spec *v = NULL;
	json_t *down = json_array();
	char err[RS_DETAIL_MAX], *text = NULL;
	int r;

	if (!export_named(rq)) {
		for (rsd_svc *s = d->svcs; s; s = s->next)
			cap++;
	}
	if (!(v = calloc(cap ? cap : 1, sizeof *v)) || !down)
		goto nomem;
	if (export_named(rq)) {
		for (size_t i = 0; i <= rq->nbatch; i++) {
			const char *label = i ? rq->batch[i - 1] : rq->label;
			rsd_svc *s = rsd_svc_find(d, label);

			if (!s) {
				rsd_reply_err(d, peer, rq->id, RS_E_NOENT,
					      "unknown service '%s'", label);
				goto out;
			}
			v[n++] = s->s.spec;   /* shallow: borrowed */
		}
	} else {
		size_t ns;
		rsd_svc **sorted = rsd_svcs_sorted(d, &ns);

		if (!sorted)
			goto nomem;
		for (size_t i = 0; i < ns; i++) {
			if (sorted[i]->s.desired == RS_WANT_UP)
				v[n++] = sorted[i]->s.spec;
			else
				json_array_append_new(down, json_string(sorted[i]->s.spec.label));
		}
	}
	if (n > RSD_EXPORT_SLICE) {
		if (export_defer(d, peer, rq->id, export_named(rq), v, n, down) < 0)
			goto nomem;
		down = NULL;   /* the export's now */
		goto out;
	}
	if ((r = manifest_emit(v, n, &text, &len, err, sizeof err)) < 0) {
		export_failed(d, peer, rq->id, r, err);
		goto out;
	}
	export_reply(d, peer, rq->id, export_named(rq), text, v, n, down);
	down = NULL;   /* taken */
	goto out;
nomem:
	rsd_reply_err(d, peer, rq->id, RS_E_INTERNAL, "out of memory");
out:
	free(text);
	free(v);
	json_decref(down);
}

void rsd_control_handle(rsd *d, const net_peer *peer, const rs_request *rq)
{
	uint64_t t0 = clock_mono_ns();

	d->in_request = true;
	d->cap_on = rq->id != 0 && !rsd_verb_read_only(rq->verb);
	d->cap_id = rq->id;
	switch (rq->verb) {
	case RS_V_UP: do_up(d, peer, rq); break;
	case RS_V_DOWN: do_down(d, peer, rq); break;
	case RS_V_STATUS: do_status(d, peer, rq); break;
	case RS_V_NODES: do_nodes(d, peer, rq); break;
	case RS_V_LOOKUP: do_lookup(d, peer, rq); break;
	case RS_V_EVENTS: do_events(d, peer, rq); break;
	case RS_V_PING: rsd_reply(d, peer, rq->id, RS_OK, NULL, "pong"); break;
	case RS_V_REFRESH: do_refresh(d, peer, rq); break;
	case RS_V_RESTART: do_restart(d, peer, rq); break;
	case RS_V_SHUTDOWN: do_shutdown(d, peer, rq); break;
	case RS_V_EDIT: do_edit(d, peer, rq); break;
	case RS_V_CLONE: do_clone(d, peer, rq); break;
	case RS_V_UNCLONE: do_unclone(d, peer, rq); break;
	case RS_V_LOGS: do_logs(d, peer, rq); break;
	case RS_V_APPLY: rsd_apply(d, peer, rq); break;
	case RS_V_DRAIN: do_drain(d, peer, rq, true); break;
	case RS_V_UNDRAIN: do_drain(d, peer, rq, false); break;
	case RS_V_NODE_FORGET: do_node_forget(d, peer, rq); break;
	case RS_V_UPDATE: rsd_update(d, peer, rq); break;
	case RS_V_CRED_CREATE:
	case RS_V_CRED_LIST:
	case RS_V_CRED_REVOKE:
	case RS_V_TOKEN_ROTATE: rsd_auth_request(d, peer, rq); break;
	case RS_V_UPGRADE_PLAN: do_upgrade_plan(d, peer, rq); break;
	case RS_V_DESCRIBE: do_describe(d, peer, rq); break;
	case RS_V_HISTORY: do_history(d, peer, rq); break;
	case RS_V_DELETE: rsd_delete(d, peer, rq); break;
	case RS_V_EXPORT: do_export(d, peer, rq); break;
	case RS_V_RELOAD:
	case RS_V_KILL: rsd_signal(d, peer, rq); break;
	default:
		rsd_reply_err(d, peer, rq->id, RS_E_INVAL, "unknown verb %d", (int)rq->verb);
		break;
	}
	d->cap_on = false;
	d->in_request = false;
	/* how long the verb held the loop (decided, committed, sent; not
	 * what it waits for afterwards) */
	prom_hist_observe(&d->h_ctl[rs_verb_known(rq->verb) ? rq->verb : RS_V_NONE],
			  (double)(clock_mono_ns() - t0) / 1e9);
}

void rsd_control_recv(net_sock *s, const net_peer *peer, const uint8_t *buf,
		      size_t len, void *arg)
{
	rsd *d = arg;
	rs_msg m;
	int r, role;
	const rs_request *rq = &m.u.request;
	const store_principal *who = rsd_auth_peer(d, RSD_EP_CONTROL, peer);
	char why[300];

	d->cur_verb = RS_V_NONE;
	if (!who)
		return;   /* not (or no longer) admitted: no answer */
	r = wire_decode(buf, len, &m);
	if (r < 0) {
		d->rejected[-r < WIRE_E__NR ? -r : WIRE_E_GARBAGE]++;
		log_warnx("bad control request (%s, %zu bytes), rejected",
			  wire_err_to_string(-r), len);
		rsd_reply(d, peer, 0, RS_E_INVAL, NULL, "malformed request");
		return;
	}
	if (m.type != RS_MSG_REQUEST) {
		d->rejected_unexpected++;
		rsd_reply(d, peer, 0, RS_E_INVAL, NULL, "expected a request");
		goto out;
	}
	log_debug("request %s %s from %s", rs_verb_to_string(rq->verb), rq->label,
		  who->name);
	if (!rsd_version_ok(d, RSD_EP_CONTROL, &m, why, sizeof why)) {
		rsd_reply_err(d, peer, rq->id, RS_E_VERSION, "%s", why);
		goto out;
	}
	d->cur_verb = rs_verb_known(rq->verb) ? rq->verb : RS_V_NONE;
	role = rs_role_from_string(who->role);
	if (!auth_allowed(role < 0 ? RS_ROLE_NONE : (rs_role)role, who->labels, rq,
			  why, sizeof why)) {
		log_info("refused %s %s from %s: %s", rs_verb_to_string(rq->verb),
			 rq->label, who->name, why);
		rsd_reply_err(d, peer, rq->id, RS_E_FORBIDDEN, "forbidden: credential "
			      "'%s': %s", who->name, why);
		goto out;
	}
	snprintf(d->cur_actor, sizeof d->cur_actor, "%s:%s", who->kind, who->name);
	d->cur_role = role < 0 ? RS_ROLE_NONE : (rs_role)role;
	if (rsd_request_dup(d, peer, rq))
		goto out;
	if (rsd_request_park(d, peer, &m)) {
		d->cur_actor[0] = '\0';
		d->cur_role = RS_ROLE_NONE;
		return;   /* m is the parked request's now */
	}
	rsd_control_handle(d, peer, rq);
out:
	d->cur_actor[0] = '\0';
	d->cur_role = RS_ROLE_NONE;
	rs_msg_clear(&m);
}
