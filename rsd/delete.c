/*
 * delete.c - rsctl delete LABEL: a service leaves rsd's table for good.
 *
 * Two decisions, each committed before it is acted on. If an agent keeps
 * an instance of the label (running, or dead: it must forget it), the
 * first is down's: the service wanted down and a 'delete' operation, then
 * Stop (forget) to those instances. Once none runs and their agents have
 * taken the orders (rsd_delete_check, from the pending checks), or at
 * once when there was nothing to stop, the second: in one transaction the service row, its instance
 * rows and (without --keep-events) its events go, and one 'delete' event
 * is written, which stays as the audit of the deletion; only after the
 * commit the service and its instances leave the table, its indexes and
 * its counters. A failure of the second leaves the service down and
 * listed, nothing lost: delete it again.
 *
 * Owns: the deletion. Must not: stop anything before its decision is
 * recorded, nor forget anything the store still holds.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "codes.h"
#include "log.h"
#include "rsd.h"

/* Default wait for the instances to stop: their stop timeout + this. */
#define RSD_DELETE_SLACK_MS 5000

/* Whether the first decision is done: no instance of label may still run
 * (live, or exited and its agent deciding on a restart), and no order
 * about one is on its way to a connected node (a Start would run it; a
 * Stop's answer, a 'down' report, must come before the label's events
 * go). A lost node's copy cannot be waited for: it is stopped as a stray
 * when its node reports again. */
static bool label_settled(rsd *d, const char *label)
{
	for (rsd_inst *in = rsd_label_insts(d, label); in; in = rsd_label_insts_next(d, in)) {
		rsd_node *n;

		if (rsd_istate_live(in->si.info.state) ||
		    in->si.info.state == RS_IS_EXITED)
			return false;
		if ((n = rsd_node_find(d, in->si.node)) && n->connected &&
		    rsd_order_pending(n, in->si.info.id, false))
			return false;
	}
	return true;
}

/* Whether an instance of label is one its agent keeps (running or dead):
 * it must be told to stop and forget it first. */
static bool label_kept(rsd *d, const char *label)
{
	for (rsd_inst *in = rsd_label_insts(d, label); in; in = rsd_label_insts_next(d, in)) {
		rs_istate st = in->si.info.state;   /* a copy: only asking */
		instsm_fx fx;

		if (instsm_step(&st, IM_EV_STOP, NULL, &fx) == 0 && (fx.fx & IM_FX_STOP))
			return true;
	}
	return false;
}

/* The services other than label that depend on it: "a, b" into out (cut
 * at its end). Returns how many. */
static size_t dependents(rsd *d, const char *label, char *out, size_t n)
{
	size_t k = 0, len = 0;

	out[0] = '\0';
	for (rsd_svc *s = d->svcs; s; s = s->next)
		for (size_t i = 0; i < s->s.spec.ndeps; i++)
			if (!strcmp(s->s.spec.deps[i], label) &&
			    strcmp(s->s.spec.label, label) != 0) {
				if (len + 1 < n) {
					snprintf(out + len, n - len, "%s%s", k ? ", " : "",
						 s->s.spec.label);
					len = strlen(out);
				}
				k++;
				break;
			}
	return k;
}

/* Drops label's counters (rs_restarts_total and the like): a deleted
 * service's series end with it. */
static void drop_counters(rsd *d, const char *label)
{
	rsd_counter *c;

	while ((c = rsd_label_counters(d, label))) {
		rsd_counter_unlink(d, c);
		free(c);
	}
}

/* The second decision: records the deletion of s in one transaction (its
 * instance rows, its row, its events unless keep, a 'delete' event, and
 * op if given: the row of a deletion answered at once), then takes s and
 * its instances out of the table and frees them. No agent keeps one of
 * them any more (label_kept, label_settled). 0, or -errno with nothing
 * changed. msg (n bytes) gets what was done. */
static int delete_commit(rsd *d, rsd_svc *s, bool keep, rs_op *op, char *msg,
			 size_t n)
{
	char label[RS_LABEL_MAX];
	uint64_t events = 0;
	size_t ninst = 0;
	int r;

	rs_strlcpy(label, s->s.spec.label, sizeof label);
	if ((r = rsd_tx_begin(d)) < 0)
		return r;
	for (rsd_inst *in = rsd_label_insts(d, label); in; in = rsd_label_insts_next(d, in)) {
		ninst++;
		if ((r = store_instance_del(d->st, in->si.info.id)) < 0 && r != -ENOENT)
			goto abort;
	}
	if ((r = store_service_del(d->st, label)) < 0 && r != -ENOENT)
		goto abort;
	if (!keep && (r = store_event_del_label(d->st, label, &events)) < 0)
		goto abort;
	/* a service of the same label later is another one: its history
	 * starts over (even with --keep-events) */
	if ((r = store_revision_del_label(d->st, label)) < 0)
		goto abort;
	if (keep)
		snprintf(msg, n, "%s deleted (%zu instance%s; its events kept)", label,
			 ninst, ninst == 1 ? "" : "s");
	else
		snprintf(msg, n, "%s deleted (%zu instance%s, %llu event%s dropped)",
			 label, ninst, ninst == 1 ? "" : "s",
			 (unsigned long long)events, events == 1 ? "" : "s");
	rsd_event(d, label, 0, NULL, "delete", "%s", msg);
	if (op) {
		rs_strlcpy(op->detail, msg, sizeof op->detail);
		if ((r = store_op_add(d->st, op)) < 0)
			goto abort;
	}
	if ((r = rsd_tx_commit(d)) < 0)
		return r;
	/* the table follows the store */
	for (rsd_inst *in = rsd_label_insts(d, label), *next; in; in = next) {
		next = rsd_label_insts_next(d, in);
		rsd_inst_unlink(d, in);
		free(in);
	}
	rsd_svc_forget(d, s);
	drop_counters(d, label);
	log_info("%s", msg);
	return 0;
abort:
	rsd_tx_abort(d);
	return r;
}

void rsd_delete(rsd *d, const net_peer *peer, const rs_request *rq)
{
	rsd_svc *s = rsd_svc_for_op(d, peer, rq);   /* unknown, busy: replied */
	char msg[RS_DETAIL_MAX], deps[RS_DETAIL_MAX / 2];
	store_service next;
	rsd_pending *p;
	size_t ndeps;
	int r;

	if (!s)
		return;
	for (rsd_pending *q = d->pending; q; q = q->next)
		if (q->verb == RS_V_APPLY || q->verb == RS_V_SHUTDOWN) {
			rsd_reply_err(d, peer, rq->id, RS_E_BUSY, "busy: %s in progress "
				      "(it may act on %s)", q->verb == RS_V_APPLY ?
				      "an apply is" : "a shutdown is", rq->label);
			return;
		}
	if (s->s.spec.critical && !rq->force) {
		rsd_reply_err(d, peer, rq->id, RS_E_INVAL,
			      "%s is a critical service: use delete --force", rq->label);
		return;
	}
	if ((ndeps = dependents(d, rq->label, deps, sizeof deps)) && !rq->force) {
		rsd_reply_err(d, peer, rq->id, RS_E_INVAL, "%s depend%s on %s: delete "
			      "%s first, drop %s from their depends_on (rsctl apply), "
			      "or use delete --force", deps, ndeps == 1 ? "s" : "",
			      rq->label, ndeps == 1 ? "it" : "them", rq->label);
		return;
	}
	p = rsd_op_new(d, peer, rq, s->s.spec.stop_timeout_ms + RSD_DELETE_SLACK_MS);
	if (!p) {
		rsd_reply_err(d, peer, rq->id, RS_E_INTERNAL, "out of memory");
		return;
	}
	p->keep_events = rq->keep_events;
	if (!label_kept(d, rq->label) && label_settled(d, rq->label)) {
		/* no agent keeps one: the second decision now, its
		 * operation done */
		p->op.answered = true;
		p->op.code = RS_OK;
		rs_strlcpy(p->op.state, "done", sizeof p->op.state);
		p->op.finished_ms = clock_wall_ms();
		r = delete_commit(d, s, rq->keep_events, &p->op, msg, sizeof msg);
		rsd_pending_free(p);
		if (r < 0)
			rsd_reply_unrecorded(d, peer, rq, r);
		else
			rsd_reply(d, peer, rq->id, RS_OK, NULL, msg);
		return;
	}
	/* the first decision: down's */
	next = s->s;   /* shallow: the put only reads the spec */
	next.desired = RS_WANT_DOWN;
	next.updated_ms = clock_wall_ms();
	if (rsd_op_commit(d, peer, rq, &next, NULL, p,
			  "stopping its instances, then deleting it") < 0)
		return;   /* replied, p freed, nothing changed */
	s->s.desired = next.desired;
	s->s.updated_ms = next.updated_ms;
	for (rsd_inst *in = rsd_label_insts(d, rq->label); in;
	     in = rsd_label_insts_next(d, in)) {
		instsm_fx fx;

		if (rsd_inst_move(d, in, IM_EV_STOP, NULL, &fx) < 0 || !(fx.fx & IM_FX_STOP))
			continue;
		if (rsd_send_stop(d, in, true, false) == -ENOTCONN &&
		    rsd_istate_live(in->si.info.state))
			log_warnx("delete %s: node %s not connected; it is deleted once the "
				  "node is lost or stops it", rq->label, in->si.node);
	}
	if (rq->no_block)
		rsd_reply(d, peer, rq->id, RS_OK, NULL, "stopping; deleted once it is down");
	rsd_pending_check(d);
}

void rsd_delete_check(rsd *d, rsd_pending *p)
{
	rsd_svc *s = rsd_svc_find(d, p->label);
	char msg[RS_DETAIL_MAX], actor[sizeof d->cur_actor];
	int r;

	if (!s) {   /* a resumed one an earlier rsd finished */
		rsd_pending_done(d, p, RS_OK, NULL, "%s deleted", p->label);
		return;
	}
	if (!label_settled(d, p->label))
		return;
	if (d->tx_open)
		return;   /* from inside a decision: the next check */
	/* the deletion is the caller's: its event names them */
	rs_strlcpy(actor, d->cur_actor, sizeof actor);
	rs_strlcpy(d->cur_actor, p->op.caller, sizeof d->cur_actor);
	r = delete_commit(d, s, p->keep_events, NULL, msg, sizeof msg);
	rs_strlcpy(d->cur_actor, actor, sizeof d->cur_actor);
	if (r < 0) {
		rsd_pending_done(d, p, RS_E_INTERNAL, NULL, "cannot record 'delete %s': "
				 "%s; %s is down and still listed: delete it again",
				 p->label, rsd_store_why(d, r), p->label);
		return;
	}
	rsd_pending_done(d, p, RS_OK, NULL, "%s", msg);
}
