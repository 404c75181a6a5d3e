/*
 * requests.c - what rsd remembers about rsctl requests: duplicates of a
 * request rsctl resent (deduplicated by actor and request id), and
 * requests parked until the nodes rsd knew have reported after a restart.
 *
 * Owns: the table of recent outcomes, the parked requests, the resumption
 * of a request a previous rsd process accepted and committed but never
 * answered. Must not: decide an operation (control.c, apply.c do).
 *
 * A duplicate is a request of a mutating verb whose (actor, id) rsd has
 * seen: while the first is in progress the duplicate takes its place as
 * the one answered; once it was answered the duplicate gets the same
 * code, message and payload (kept RSD_OUTCOME_KEEP_MS, at most
 * RSD_OUTCOMES_MAX); an operation row of an earlier rsd process is found
 * by its request id (store migration 10) and answered from its recorded
 * code, or waited on again if that rsd never answered it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "rsd.h"

/* Verbs that change nothing: never deduplicated, never parked behind
 * others (answered at once). */
bool rsd_verb_read_only(rs_verb v)
{
	switch (v) {
	case RS_V_STATUS: case RS_V_NODES: case RS_V_LOOKUP: case RS_V_EVENTS:
	case RS_V_PING: case RS_V_LOGS: case RS_V_CRED_LIST: case RS_V_UPGRADE_PLAN:
	case RS_V_DESCRIBE: case RS_V_EXPORT: case RS_V_HISTORY: case RS_V_NONE:
		return true;
	default:
		return false;
	}
}

/* Requests that place instances or talk to a node's agent: they wait for
 * the nodes after an rsd restart instead of failing "no connected node". */
static bool needs_nodes(const rs_request *rq)
{
	switch (rq->verb) {
	case RS_V_UP: case RS_V_RESTART: case RS_V_REFRESH: case RS_V_CLONE:
	case RS_V_UPDATE: case RS_V_DRAIN: case RS_V_LOGS: case RS_V_RELOAD:
	case RS_V_KILL:
		return true;
	case RS_V_APPLY:
		return !rq->dry_run;
	default:
		return false;
	}
}

bool rsd_nodes_settling(rsd *d)
{
	for (rsd_node *n = d->nodes; n; n = n->next)
		if (n->n.state == RS_NS_UNKNOWN)
			return true;
	return false;
}

/* ---- outcomes --------------------------------------------------------- */

static rsd_outcome *outcome_find(rsd *d, const char *actor, uint64_t id)
{
	uint64_t now = clock_mono_ms();

	for (size_t i = 0; d->outcomes && i < RSD_OUTCOMES_MAX; i++) {
		rsd_outcome *o = &d->outcomes[i];
		if (o->id == id && !strcmp(o->actor, actor) &&
		    now - o->mono < RSD_OUTCOME_KEEP_MS)
			return o;
	}
	return NULL;
}

static void outcome_clear(rsd_outcome *o)
{
	free(o->message);
	free(o->json);
	memset(o, 0, sizeof *o);
}

void rsd_outcome_add(rsd *d, const char *actor, uint64_t id, int code,
		     const char *json, const char *message)
{
	rsd_outcome *o;

	if (!id || !actor || !actor[0])
		return;
	if (!d->outcomes && !(d->outcomes = calloc(RSD_OUTCOMES_MAX, sizeof *d->outcomes)))
		return;   /* out of memory: duplicates re-execute */
	o = outcome_find(d, actor, id);
	if (!o) {   /* the oldest goes */
		o = &d->outcomes[d->outcome_next];
		d->outcome_next = (d->outcome_next + 1) % RSD_OUTCOMES_MAX;
	}
	outcome_clear(o);
	rs_strlcpy(o->actor, actor, sizeof o->actor);
	o->id = id;
	o->code = code;
	o->mono = clock_mono_ms();
	o->message = message ? strdup(message) : NULL;
	o->json = json ? strdup(json) : NULL;
}

void rsd_requests_free(rsd *d)
{
	for (size_t i = 0; d->outcomes && i < RSD_OUTCOMES_MAX; i++)
		outcome_clear(&d->outcomes[i]);
	free(d->outcomes);
	d->outcomes = NULL;
	while (d->parked) {
		rsd_parked *pk = d->parked;
		d->parked = pk->next;
		rs_msg_clear(&pk->m);
		free(pk);
	}
}

/* ---- resuming an operation of an earlier rsd -------------------------- */

/* The instance a resumed up/restart/refresh (standby false) or clone
 * (true) waits on: the live one, else the newest. */
static rsd_inst *resume_instance(rsd *d, const char *label, bool standby)
{
	rsd_inst *best = NULL;

	for (rsd_inst *in = rsd_label_insts(d, label); in; in = rsd_label_insts_next(d, in)) {
		if (in->si.standby != standby)
			continue;
		if (!best || (rsd_istate_live(in->si.info.state) &&
			      !rsd_istate_live(best->si.info.state)) ||
		    (rsd_istate_live(in->si.info.state) ==
		     rsd_istate_live(best->si.info.state) &&
		     in->si.info.id > best->si.info.id))
			best = in;
	}
	return best;
}

/* rq's operation op was accepted and committed by an earlier rsd process,
 * which never answered it: wait for its outcome again, under the same row
 * (re-opened), instead of executing it twice. */
static void resume(rsd *d, const net_peer *peer, const rs_request *rq,
		   const rs_op *op)
{
	rsd_pending *p;
	rsd_inst *in = NULL;
	int r;

	if (strcmp(op->kind, rs_verb_to_string(rq->verb)) != 0) {
		rsd_reply_err(d, peer, rq->id, RS_E_INVAL, "request id %llx was used "
			      "for a '%s', not a '%s'", (unsigned long long)rq->id,
			      op->kind, rs_verb_to_string(rq->verb));
		return;
	}
	if (rq->no_block) {
		rsd_reply_err(d, peer, rq->id, RS_OK, "%s %s: accepted before rsd "
			      "restarted; in progress", op->kind, op->label);
		return;
	}
	switch (rq->verb) {
	case RS_V_UP: case RS_V_RESTART: case RS_V_REFRESH: case RS_V_CLONE:
		in = resume_instance(d, op->label, rq->verb == RS_V_CLONE);
		if (!in) {
			rsd_reply_err(d, peer, rq->id, RS_E_FAILED, "%s: instance vanished "
				      "while rsd restarted", op->label);
			return;
		}
		break;
	case RS_V_DOWN: case RS_V_SHUTDOWN: case RS_V_APPLY: case RS_V_DELETE:
		break;
	default:   /* update: answered when it was closed; others have no row */
		rsd_reply_err(d, peer, rq->id, RS_E_FAILED, "%s", op->detail);
		return;
	}
	if (rsd_pending_for(d, op->label) && op->label[0]) {
		rsd_reply_err(d, peer, rq->id, RS_E_BUSY, "%s is busy: a '%s' operation "
			      "is in progress", op->label, rsd_pending_for(d, op->label)->op.kind);
		return;
	}
	p = rsd_op_new(d, peer, rq, 30000);
	if (!p) {
		rsd_reply_err(d, peer, rq->id, RS_E_INTERNAL, "out of memory");
		return;
	}
	p->op = *op;
	rs_strlcpy(p->op.state, "running", sizeof p->op.state);
	rs_strlcpy(p->op.detail, "resumed after an rsd restart", sizeof p->op.detail);
	p->op.finished_ms = 0;
	p->op.answered = false;
	p->inst_id = in ? in->si.info.id : 0;
	p->resumed = true;
	p->keep_events = rq->keep_events;
	if (rq->verb == RS_V_APPLY && rsd_apply_resume(d, p) < 0) {
		rsd_pending_free(p);
		rsd_reply_err(d, peer, rq->id, RS_E_INTERNAL, "out of memory");
		return;
	}
	if ((r = rsd_tx_begin(d)) == 0) {
		if ((r = store_op_update(d->st, &p->op)) < 0)
			rsd_tx_abort(d);
		else
			r = rsd_tx_commit(d);
	}
	if (r < 0) {
		rsd_reply_unrecorded(d, peer, rq, r);
		rsd_pending_free(p);
		return;
	}
	log_info("%s %s: request %llx of %s resumed (accepted before rsd restarted)",
		 op->kind, op->label, (unsigned long long)rq->id, op->caller);
	rsd_pending_add(d, p);
	rsd_pending_check(d);
}

/* ---- duplicates ------------------------------------------------------- */

bool rsd_request_dup(rsd *d, const net_peer *peer, const rs_request *rq)
{
	const char *actor = d->cur_actor;
	rsd_outcome *o;
	rs_op op;
	int r;

	if (!rq->id || rsd_verb_read_only(rq->verb) || !actor[0])
		return false;
	if ((o = outcome_find(d, actor, rq->id))) {
		log_info("%s %s: request %llx of %s again: answered as the first",
			 rs_verb_to_string(rq->verb), rq->label,
			 (unsigned long long)rq->id, actor);
		rsd_reply(d, peer, rq->id, o->code, o->json, o->message);
		return true;
	}
	for (rsd_pending *p = d->pending; p; p = p->next) {
		if (p->req_id != rq->id || strcmp(p->op.caller, actor) != 0)
			continue;
		if (!p->reply) {   /* --no-block: its answer was "under way" */
			rsd_reply_err(d, peer, rq->id, RS_OK, "%s %s: in progress",
				      p->op.kind, p->label);
			return true;
		}
		log_info("%s %s: request %llx of %s again: attached to the one "
			 "in progress", rs_verb_to_string(rq->verb), p->label,
			 (unsigned long long)rq->id, actor);
		p->peer = *peer;
		return true;
	}
	for (rsd_parked *pk = d->parked; pk; pk = pk->next)
		if (pk->m.u.request.id == rq->id && !strcmp(pk->actor, actor)) {
			pk->peer = *peer;
			return true;
		}
	r = store_op_find_req(d->st, actor, rq->id, &op);
	if (r == -ENOENT)
		return false;
	if (r < 0) {
		rsd_reply_err(d, peer, rq->id, RS_E_INTERNAL, "cannot read the operations: %s",
			      rsd_store_why(d, r));
		return true;
	}
	if (op.finished_ms && clock_wall_ms() - op.finished_ms > RSD_OUTCOME_KEEP_MS)
		return false;   /* too old to be a resend: a new request */
	if (op.answered) {
		log_info("%s %s: request %llx of %s again: answered from its operation "
			 "row", op.kind, op.label, (unsigned long long)rq->id, actor);
		rsd_reply(d, peer, rq->id, op.code, NULL, op.detail);
		return true;
	}
	resume(d, peer, rq, &op);
	return true;
}

/* ---- parked requests -------------------------------------------------- */

bool rsd_request_park(rsd *d, const net_peer *peer, rs_msg *m)
{
	const rs_request *rq = &m->u.request;
	rsd_parked *pk, **pp;

	if (!(needs_nodes(rq) && rsd_nodes_settling(d)) &&
	    !(d->parked && !rsd_verb_read_only(rq->verb)))
		return false;
	pk = calloc(1, sizeof *pk);
	if (!pk)
		return false;   /* handled now: at worst "no connected node" */
	pk->peer = *peer;
	pk->m = *m;        /* taken: the caller must not clear m */
	rs_strlcpy(pk->actor, d->cur_actor, sizeof pk->actor);
	pk->role = d->cur_role;
	pk->since_mono = clock_mono_ms();
	pk->deadline_mono = pk->since_mono + (rq->timeout_ms ? rq->timeout_ms : 5000);
	for (pp = &d->parked; *pp; pp = &(*pp)->next)
		;
	*pp = pk;
	log_info("%s %s: waits until the nodes rsd knew have reported",
		 rs_verb_to_string(rq->verb), rq->label);
	return true;
}

/* The nodes still unknown, "n1, n2", for a timeout's message. */
static void unknown_nodes(rsd *d, char *out, size_t n)
{
	size_t len = 0;

	out[0] = '\0';
	for (rsd_node *x = d->nodes; x && len + 1 < n; x = x->next)
		if (x->n.state == RS_NS_UNKNOWN) {
			snprintf(out + len, n - len, "%s%s", len ? ", " : "", x->n.name);
			len = strlen(out);
		}
}

void rsd_parked_run(rsd *d)
{
	uint64_t now = clock_mono_ms();
	bool settling;

	if (d->in_request || !d->parked)
		return;   /* from inside a handler: at the next turn */
	settling = rsd_nodes_settling(d);
	while (d->parked) {
		rsd_parked *pk = d->parked;
		rs_request *rq = &pk->m.u.request;
		char names[RS_DETAIL_MAX / 2];

		if (settling && now < pk->deadline_mono)
			break;   /* first in, first out: the rest waits too */
		d->parked = pk->next;
		rs_strlcpy(d->cur_actor, pk->actor, sizeof d->cur_actor);
		d->cur_role = pk->role;
		d->cur_verb = rs_verb_known(rq->verb) ? rq->verb : RS_V_NONE;
		if (settling) {
			unknown_nodes(d, names, sizeof names);
			d->cap_on = !rsd_verb_read_only(rq->verb);
			d->cap_id = rq->id;
			rsd_reply_err(d, &pk->peer, rq->id, RS_E_TIMEOUT,
				      "%s%s%s: timed out waiting for the nodes rsd knew to "
				      "report after its restart (still unknown: %s)",
				      rs_verb_to_string(rq->verb), rq->label[0] ? " " : "",
				      rq->label, names);
			d->cap_on = false;
		} else {
			/* the time it waited counts against its timeout */
			if (rq->timeout_ms) {
				uint64_t waited = now - pk->since_mono;
				rq->timeout_ms = waited < rq->timeout_ms ?
						 rq->timeout_ms - (uint32_t)waited : 1;
			}
			log_info("%s %s: the nodes have reported, handling it after %llu ms",
				 rs_verb_to_string(rq->verb), rq->label,
				 (unsigned long long)(now - pk->since_mono));
			rsd_control_handle(d, &pk->peer, rq);
		}
		d->cur_actor[0] = '\0';
		d->cur_role = 0;
		rs_msg_clear(&pk->m);
		free(pk);
	}
}
