/*
 * update.c - rsctl update: live update as a coordinated handover, over the
 * instances of a service (one node at a time, or --max-unavailable at a
 * time, or --canary first) and over a --batch of services.
 *
 * rsd sequences; each agent hands its instance over (agent/handover.c) and
 * says update-commit or update-rollback. The new specs are stored only
 * when every instance has committed. On the first failure nothing new is
 * started, the instances in flight finish, and those already handed over
 * are handed back to the stored spec in reverse order; the reply is
 * RS_E_ROLLED_BACK with the reason. --no-rollback keeps the new spec
 * instead and restarts the failed instances with it.
 *
 * --to-revision N and rsctl undo (Request.revision) take a kept revision's
 * spec (rsctl history) whole as the new spec; the rest is the same. Each
 * committed spec is recorded as a revision ("update", or "undo" when it
 * came from one) in the transaction that stores it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "codes.h"
#include "index.h"
#include "log.h"
#include "rsd.h"

enum item_state {
	IT_TODO = 0,
	IT_FLIGHT,      /* handing over to the new spec */
	IT_DONE,        /* committed */
	IT_FAILED,      /* rolled back by its agent */
	IT_BACK,        /* handing back to the old spec */
	IT_RESTORED,    /* handed back (or could not be) */
};

struct upd_item {
	uint64_t inst;
	size_t   svc;            /* index into labels/specs */
	uint64_t old_gen;
	int32_t  old_pid;
	int32_t  new_pid;
	int      state;
	const char *step;        /* the last step its agent reported */
};

struct rsd_update {
	char           **labels;
	rs_spec         *specs;   /* the new spec of each label */
	size_t           nlabels;
	struct upd_item *items;
	size_t           n;
	uint32_t         maxtime_ms, min_healthy_ms, max_unavailable;
	int32_t          prepare_signal;
	bool             canary, no_rollback, failing;
	size_t           committed, nfailed;
	bool             extended;   /* the deadline passed once: rolling back */
	uint32_t         revision;   /* the kept revision it goes back to, 0 none */
	char             reason[RS_DETAIL_MAX];
};

bool rsd_update_has_label(const struct rsd_update *u, const char *label)
{
	for (size_t i = 0; u && i < u->nlabels; i++)
		if (u->labels[i] && !strcmp(u->labels[i], label))
			return true;
	return false;
}

void rsd_update_free(struct rsd_update *u)
{
	if (!u)
		return;
	for (size_t i = 0; i < u->nlabels; i++) {
		free(u->labels[i]);
		rs_spec_clear(&u->specs[i]);
	}
	free(u->labels);
	free(u->specs);
	free(u->items);
	free(u);
}


/* Sends one instance its handover: to the new spec, or back to the old. */
static int send_item(rsd *d, struct rsd_update *u, struct upd_item *it, bool back)
{
	rsd_inst *in = rsd_inst_find(d, it->inst);
	rsd_svc *s = in ? rsd_svc_find(d, in->si.info.label) : NULL;
	rs_msg m;
	int r;

	if (!in || !s)
		return -ENOENT;
	rs_msg_init(&m, RS_MSG_START);
	m.u.start.instance_id = it->inst;
	m.u.start.generation = back ? it->old_gen : s->s.generation + 1;
	m.u.start.update = true;
	m.u.start.maxtime_ms = u->maxtime_ms;
	m.u.start.min_healthy_ms = u->min_healthy_ms;
	/* going back, the new version is not asked to prepare */
	m.u.start.prepare_signal = back ? 0 : u->prepare_signal;
	rs_spec_clear(&m.u.start.spec);
	r = rs_spec_copy(&m.u.start.spec, back ? &s->s.spec : &u->specs[it->svc]);
	if (r == 0)
		r = rsd_send_agent(d, rsd_node_find(d, in->si.node), &m);
	rs_msg_clear(&m);
	return r;
}

/* An item failed: the update stops and rolls back, or with --no-rollback
 * goes on with the other instances (the failed ones restart with the new
 * spec at the end). */
static void fail_item(struct rsd_update *u, struct upd_item *it, const char *why)
{
	it->state = IT_FAILED;
	if (!u->nfailed++)
		snprintf(u->reason, sizeof u->reason, "%s instance %llu: %s",
			 u->labels[it->svc], (unsigned long long)it->inst, why);
	if (!u->no_rollback)
		u->failing = true;
}

/* Stores the new specs and their revisions (one transaction), by p's
 * caller: the update is committed. */
static int store_specs(rsd *d, rsd_pending *p)
{
	struct rsd_update *u = p->upd;
	store_service *next = calloc(u->nlabels, sizeof *next);
	int r = next ? store_begin(d->st) : -ENOMEM;
	size_t made = 0;

	for (size_t i = 0; r == 0 && i < u->nlabels; i++, made++) {
		rsd_svc *s = rsd_svc_find(d, u->labels[i]);

		rs_spec_init(&next[i].spec);
		if (!s)
			continue;
		next[i] = s->s;
		if ((r = rs_spec_copy(&next[i].spec, &u->specs[i])) < 0) {
			rs_spec_init(&next[i].spec);
			break;
		}
		next[i].generation = s->s.generation + 1;
		next[i].updated_ms = clock_wall_ms();
		r = store_service_put(d->st, &next[i]);
		if (r == 0)
			r = store_revision_add(d->st, &next[i], next[i].updated_ms,
					       p->op.caller, u->revision ? "undo" : "update",
					       NULL);
	}
	if (r == 0)
		r = rsd_commit(d);
	else if (next)
		store_rollback(d->st);
	/* the table takes the new specs only once the store has them */
	for (size_t i = 0; i < made; i++) {
		rsd_svc *s = rsd_svc_find(d, u->labels[i]);

		if (r == 0 && s) {
			rs_spec_clear(&s->s.spec);
			s->s = next[i];
		} else {
			rs_spec_clear(&next[i].spec);
		}
	}
	free(next);
	return r;
}

static void finish(rsd *d, rsd_pending *p)
{
	struct rsd_update *u = p->upd;
	char pids[256] = "";
	size_t off = 0;

	if (!u->failing && !u->nfailed) {
		for (size_t i = 0; i < u->n && off < sizeof pids; i++) {
			int w = snprintf(pids + off, sizeof pids - off, "%s%d->%d",
					 i ? ", " : "", (int)u->items[i].old_pid,
					 (int)u->items[i].new_pid);
			if (w > 0)
				off += (size_t)w;
		}
		int r = store_specs(d, p);

		if (r < 0) {
			rsd_pending_done(d, p, RS_E_INTERNAL, NULL,
					 "every instance runs the new version, but the "
					 "new spec could not be recorded: %s",
					 rsd_store_why(d, r));
			return;
		}
		rsd_pending_done(d, p, RS_OK, NULL, "%s updated: %zu instance(s) "
				 "handed over (pid %s)", p->label, u->n, pids);
		return;
	}
	if (u->no_rollback && !u->failing) {
		/* keep the new spec; what failed restarts with it */
		int r = store_specs(d, p);

		if (r < 0) {
			/* the store keeps the old spec: the failed instances
			 * are left as they are, and an instance that took the
			 * new one is handed back when rsd next sees it */
			rsd_pending_done(d, p, RS_E_INTERNAL, NULL, "the new version "
					 "failed (%s), and --no-rollback cannot keep the new "
					 "spec: cannot record it: %s", u->reason,
					 rsd_store_why(d, r));
			return;
		}
		for (size_t i = 0; i < u->n; i++) {
			rsd_inst *in = rsd_inst_find(d, u->items[i].inst);
			if (in && u->items[i].state == IT_FAILED) {
				in->si.info.generation = rsd_svc_find(d, in->si.info.label) ?
					rsd_svc_find(d, in->si.info.label)->s.generation :
					in->si.info.generation;
				rsd_send_respec(d, in);
				rsd_send_stop(d, in, false, true);
			}
		}
		rsd_pending_done(d, p, RS_E_FAILED, NULL, "the new version failed "
				 "(%s); --no-rollback: the new spec is kept and the "
				 "failed instances restart with it", u->reason);
		return;
	}
	rsd_pending_done(d, p, RS_E_ROLLED_BACK, NULL, "update rolled back: %s",
			 u->reason);
}

/* Moves the update on: starts what may start, rolls back, or finishes. */
static void pump(rsd *d, rsd_pending *p)
{
	struct rsd_update *u = p->upd;
	size_t flight = 0, window;

	for (size_t i = 0; i < u->n; i++)
		flight += u->items[i].state == IT_FLIGHT || u->items[i].state == IT_BACK;
	if (!u->failing) {
		window = u->canary && u->committed == 0 ? 1 : u->max_unavailable;
		for (size_t i = 0; i < u->n && flight < window && !u->failing; i++) {
			struct upd_item *it = &u->items[i];
			int r;

			if (it->state != IT_TODO)
				continue;
			it->state = IT_FLIGHT;
			it->step = NULL;
			flight++;
			r = send_item(d, u, it, false);
			if (r < 0) {
				flight--;
				fail_item(u, it, r == -ENOTCONN ? "its node is not connected" :
					  "cannot reach its agent");
			}
		}
		if (!u->failing && flight == 0) {
			finish(d, p);
			return;
		}
	}
	if (!u->failing || flight)
		return;
	if (!u->no_rollback) {
		/* hand the committed ones back, newest first, one at a time */
		for (size_t i = u->n; i-- > 0;) {
			struct upd_item *it = &u->items[i];

			if (it->state != IT_DONE)
				continue;
			it->state = IT_BACK;
			it->step = NULL;
			if (send_item(d, u, it, true) == 0)
				return;
			it->state = IT_RESTORED;
			snprintf(u->reason + strlen(u->reason),
				 sizeof u->reason - strlen(u->reason),
				 "; instance %llu could not be handed back (node not "
				 "connected)", (unsigned long long)it->inst);
		}
	}
	finish(d, p);
}

bool rsd_update_expired(rsd *d, rsd_pending *p)
{
	struct rsd_update *u = p->upd;

	if (!u || u->extended)
		return false;   /* it had its extra time: end as timed out */
	/* an answer that never came (an agent restarted or lost mid-handover)
	 * is a failure: give the hand-back of what committed its own time */
	u->extended = true;
	for (size_t i = 0; i < u->n; i++) {
		struct upd_item *it = &u->items[i];

		if (it->state == IT_FLIGHT)
			fail_item(u, it, "no answer from its agent in time");
		else if (it->state == IT_BACK)
			it->state = IT_RESTORED;
	}
	u->failing = true;
	p->deadline_mono = clock_mono_ms() + 60000;
	pump(d, p);
	return true;
}

void rsd_update_event(rsd *d, rsd_inst *in, rs_event_kind kind, const char *detail)
{
	for (rsd_pending *p = d->pending; p; p = p->next) {
		struct rsd_update *u = p->upd;

		if (p->verb != RS_V_UPDATE || !u)
			continue;
		for (size_t i = 0; i < u->n; i++) {
			struct upd_item *it = &u->items[i];

			if (it->inst != in->si.info.id)
				continue;
			if (kind == RS_EK_UPDATE_PREPARE || kind == RS_EK_UPDATE_START) {
				it->step = kind == RS_EK_UPDATE_PREPARE ?
					"preparing the old process" :
					"new process started, waiting for ready + min-healthy";
				return;
			}
			if (it->state == IT_FLIGHT && kind == RS_EK_UPDATE_COMMIT) {
				it->state = IT_DONE;
				it->new_pid = in->si.info.pid;
				u->committed++;
			} else if (it->state == IT_FLIGHT) {
				fail_item(u, it, detail && *detail ? detail : "rolled back");
			} else if (it->state == IT_BACK) {
				it->state = IT_RESTORED;
				if (kind != RS_EK_UPDATE_COMMIT)
					snprintf(u->reason + strlen(u->reason),
						 sizeof u->reason - strlen(u->reason),
						 "; handing instance %llu back failed: %s",
						 (unsigned long long)it->inst,
						 detail ? detail : "?");
			} else {
				continue;
			}
			pump(d, p);
			return;
		}
	}
	/* no update of ours: one that committed while rsd was away */
	if (kind == RS_EK_UPDATE_COMMIT) {
		rsd_svc *s = rsd_svc_find(d, in->si.info.label);
		if (s && in->si.info.generation > s->s.generation &&
		    !rsd_pending_for(d, in->si.info.label))
			rsd_update_hand_back(d, in);
	}
}

void rsd_update_progress(const rsd_pending *p, const char *label, char *out,
			 size_t n)
{
	const struct rsd_update *u = p->upd;
	size_t off = 0;

	out[0] = '\0';
	if (!u)
		return;
	for (size_t i = 0; i < u->n && off < n; i++) {
		const struct upd_item *it = &u->items[i];
		int w;

		if (it->state != IT_FLIGHT && it->state != IT_BACK)
			continue;
		w = snprintf(out + off, n - off, "%sinstance %llu (%zu of %zu, %s)%s%s%s",
			     off ? "; " : "", (unsigned long long)it->inst, i + 1, u->n,
			     u->labels[it->svc], it->state == IT_BACK ? " handing back" : "",
			     it->step ? ": " : "", it->step ? it->step : "");
		if (w > 0)
			off += (size_t)w;
	}
	if (!off)
		snprintf(out, n, "%zu of %zu handed over%s", u->committed, u->n,
			 u->failing ? ", rolling back" : "");
	(void)label;
}

void rsd_update_hand_back(rsd *d, rsd_inst *in)
{
	rsd_svc *s = rsd_svc_find(d, in->si.info.label);
	rs_msg m;

	if (!s)
		return;
	rsd_event(d, in->si.info.label, in->si.info.id, in->si.node, "reconcile",
		  "instance %llu runs generation %llu, the store has %llu (an update "
		  "rsd did not see end): handing it back to the stored spec",
		  (unsigned long long)in->si.info.id,
		  (unsigned long long)in->si.info.generation,
		  (unsigned long long)s->s.generation);
	rs_msg_init(&m, RS_MSG_START);
	m.u.start.instance_id = in->si.info.id;
	m.u.start.generation = s->s.generation;
	m.u.start.update = true;
	m.u.start.maxtime_ms = RS_DEF_UPDATE_MAXTIME_MS;
	m.u.start.min_healthy_ms = RS_DEF_UPDATE_MIN_HEALTHY_MS;
	rs_spec_clear(&m.u.start.spec);
	if (rs_spec_copy(&m.u.start.spec, &s->s.spec) == 0)
		rsd_send_agent(d, rsd_node_find(d, in->si.node), &m);
	rs_msg_clear(&m);
}

/* Adds the running, non-standby instances of label i to u's items. */
static int add_items(rsd *d, struct rsd_update *u, size_t i)
{
	rsd_label_buf buf = { 0 };
	const rsd_label *l = rsd_label_view(d, u->labels[i], &buf);

	if (!l && rsd_label_insts(d, u->labels[i]))
		return -ENOMEM;   /* (NULL, not out of memory: nothing) */
	for (size_t k = 0; l && k < l->ninsts; k++) {   /* newest first */
		rsd_inst *in = l->insts[k];
		struct upd_item *n;

		if (in->si.standby || in->si.info.state != RS_IS_RUNNING)
			continue;
		n = realloc(u->items, (u->n + 1) * sizeof *n);
		if (!n) {
			rsd_label_buf_free(&buf);
			return -ENOMEM;
		}
		u->items = n;
		u->items[u->n++] = (struct upd_item){
			.inst = in->si.info.id, .svc = i,
			.old_gen = in->si.info.generation,
			.old_pid = in->si.info.pid,
		};
	}
	rsd_label_buf_free(&buf);
	return 0;
}

struct rev_nums {
	uint32_t v[STORE_REVISION_KEEP + 1];
	size_t   n;
	char     list[128];   /* "1, 2, 3" */
};

static int rev_num(const store_revision *rev, void *arg)
{
	struct rev_nums *l = arg;
	size_t off = strlen(l->list);

	if (l->n < sizeof l->v / sizeof *l->v)
		l->v[l->n++] = rev->revision;
	snprintf(l->list + off, sizeof l->list - off, "%s%u", off ? ", " : "",
		 rev->revision);
	return 0;
}

/* The spec of the kept revision rq->revision of s (RS_REVISION_PREVIOUS:
 * the one before the newest) into *out, its number into *n. Returns 0,
 * 1 when s has that spec already (answered: nothing to change) or -1
 * (answered: no such revision, or one update cannot go back to). */
static int revision_spec(rsd *d, const net_peer *peer, const rs_request *rq,
			 const rsd_svc *s, rs_spec *out, uint32_t *n)
{
	struct rev_nums l = { .n = 0 };
	store_revision rev;
	int r;

	if ((r = store_revision_each(d->st, rq->label, 0, rev_num, &l)) < 0) {
		rsd_reply_err(d, peer, rq->id, RS_E_INTERNAL, "cannot read the "
			      "revisions of %s: %s", rq->label, rsd_store_why(d, r));
		return -1;
	}
	if (rq->revision == RS_REVISION_PREVIOUS && l.n < 2) {
		rsd_reply_err(d, peer, rq->id, RS_E_INVAL, "%s has no revision before "
			      "the newest to go back to (kept: %s)", rq->label,
			      l.n ? l.list : "none");
		return -1;
	}
	*n = rq->revision == RS_REVISION_PREVIOUS ? l.v[l.n - 2] : rq->revision;
	r = store_revision_get(d->st, rq->label, *n, &rev);
	if (r == -ENOENT) {
		rsd_reply_err(d, peer, rq->id, RS_E_INVAL, "%s has no revision %u "
			      "(kept: %s; rsctl history %s)", rq->label, *n,
			      l.n ? l.list : "none", rq->label);
		goto fail;
	}
	if (r < 0) {
		rsd_reply_err(d, peer, rq->id, RS_E_INTERNAL, "cannot read revision "
			      "%u of %s: %s", *n, rq->label, rsd_store_why(d, r));
		goto fail;
	}
	if (strcmp(rev.svc.spec.node, s->s.spec.node) != 0) {
		rsd_reply_err(d, peer, rq->id, RS_E_INVAL, "revision %u of %s pins "
			      "node '%s', now '%s': update does not move a service "
			      "(use down and up)", *n, rq->label, rev.svc.spec.node,
			      s->s.spec.node);
		goto fail;
	}
	if (rsd_spec_eq(&rev.svc.spec, &s->s.spec)) {
		char msg[RS_DETAIL_MAX];

		snprintf(msg, sizeof msg, "nothing to change: %s runs the spec of "
			 "revision %u already", rq->label, *n);
		rsd_reply(d, peer, rq->id, RS_OK, NULL, msg);
		rs_spec_clear(&rev.svc.spec);
		return 1;
	}
	rs_spec_clear(out);
	*out = rev.svc.spec;   /* moved */
	return 0;
fail:
	rs_spec_clear(&rev.svc.spec);
	return -1;
}

void rsd_update(rsd *d, const net_peer *peer, const rs_request *rq)
{
	struct rsd_update *u;
	rsd_pending *p;
	char err[RS_DETAIL_MAX];
	uint64_t timeout = 0;
	rsd_svc *s = rsd_svc_for_op(d, peer, rq);
	int r;

	if (!s)
		return;
	u = calloc(1, sizeof *u);
	if (!u)
		goto nomem;
	u->nlabels = 1 + rq->nbatch;
	u->labels = calloc(u->nlabels, sizeof *u->labels);
	u->specs = calloc(u->nlabels, sizeof *u->specs);
	if (!u->labels || !u->specs)
		goto nomem;
	u->maxtime_ms = rq->maxtime_ms ? rq->maxtime_ms : RS_DEF_UPDATE_MAXTIME_MS;
	u->min_healthy_ms = rq->min_healthy_ms;
	u->max_unavailable = rq->max_unavailable ? rq->max_unavailable : 1;
	u->prepare_signal = rq->prepare_signal;
	u->canary = rq->canary;
	u->no_rollback = rq->no_rollback;
	if (rq->revision && (rq->nbatch || rq->edit_mask)) {
		rsd_reply_err(d, peer, rq->id, RS_E_INVAL, "update --to-revision (or "
			      "undo) takes the revision's spec whole: no settings, no "
			      "--batch");
		goto out;
	}
	for (size_t i = 0; i < u->nlabels; i++) {
		const char *label = i ? rq->batch[i - 1] : rq->label;
		rsd_svc *si = rsd_svc_find(d, label);
		rsd_pending *busy = rsd_pending_for(d, label);

		for (size_t j = 0; j < i; j++)
			if (!strcmp(u->labels[j], label)) {
				rsd_reply_err(d, peer, rq->id, RS_E_INVAL,
					  "%s is named twice in the update", label);
				goto out;
			}
		if (!si) {
			rsd_reply_err(d, peer, rq->id, RS_E_NOENT, "unknown service '%s'", label);
			goto out;
		}
		if (busy) {
			rsd_reply_err(d, peer, rq->id, RS_E_BUSY, "%s is busy: a '%s' "
				  "operation is in progress", label, busy->op.kind);
			goto out;
		}
		u->labels[i] = strdup(label);
		rs_spec_init(&u->specs[i]);
		if (!u->labels[i])
			goto nomem;
		if (rq->revision) {
			if (revision_spec(d, peer, rq, si, &u->specs[i], &u->revision))
				goto out;   /* answered */
			r = 0;
		} else if (rs_spec_copy(&u->specs[i], &si->s.spec) < 0) {
			goto nomem;
		} else {
			r = rsd_spec_merge(&u->specs[i], &rq->spec,
					   i ? rq->edit_mask & RS_EDIT_ENV : rq->edit_mask);
		}
		if (r < 0) {
			rsd_reply_merge_err(d, peer, rq->id, label, r);
			goto out;
		}
		if (rs_spec_validate(&u->specs[i], err, sizeof err) < 0) {
			rsd_reply_err(d, peer, rq->id, RS_E_INVAL, "%s: %s", label, err);
			goto out;
		}
		if (si->s.desired != RS_WANT_UP) {
			rsd_reply_err(d, peer, rq->id, RS_E_FAILED, "%s is down; update "
				  "hands a running service over (use up)", label);
			goto out;
		}
		size_t before = u->n;
		if (add_items(d, u, i) < 0)
			goto nomem;
		if (u->n == before) {
			rsd_reply_err(d, peer, rq->id, RS_E_FAILED, "%s has no running "
				  "instance to update", label);
			goto out;
		}
		timeout += (uint64_t)(u->n - before) *
			   (u->specs[i].ready_timeout_ms + u->maxtime_ms +
			    u->min_healthy_ms + 2ull * u->specs[i].stop_timeout_ms + 5000);
	}
	p = rsd_op_new(d, peer, rq, (uint32_t)(timeout > UINT32_MAX ? UINT32_MAX : timeout));
	if (!p)
		goto nomem;
	p->upd = u;
	snprintf(err, sizeof err, "live update of %zu instance(s)%s", u->n,
		 u->nlabels > 1 ? " across a batch" : "");
	if (rsd_op_commit(d, peer, rq, NULL, NULL, p, err) < 0)
		return;   /* replied; p (and u) freed */
	if (rq->no_block)
		rsd_reply(d, peer, rq->id, RS_OK, NULL, "updating");
	pump(d, p);
	return;
nomem:
	rsd_reply_err(d, peer, rq->id, RS_E_INTERNAL, "out of memory");
out:
	rsd_update_free(u);
}
