/*
 * apply.c - converge the cluster to a manifest (rsctl apply / diff).
 *
 * The client parsed and checked the file; rsd checks what only it knows
 * (nodes, operations in progress), computes the plan (added, changed,
 * removed, unchanged), commits every desired state in one transaction with
 * an operation row, and only then acts: changed ones take their new spec
 * (a refresh when the command, env or cwd changed), added ones are started
 * in dependency order, each once what it depends on runs, and removed ones
 * are stopped in reverse dependency order, each once every service wanted
 * down that depends on it is down. The reply comes when every start runs
 * and every stop is down.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reslimits.h"
#include "profile.h"
#include "probespec.h"
#include "clock.h"
#include "deporder.h"
#include "log.h"
#include "index.h"
#include "rsd.h"

static bool strv_eq(char **a, size_t an, char **b, size_t bn)
{
	if (an != bn)
		return false;
	for (size_t i = 0; i < an; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return true;
}

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/* Whether a change needs a new process (command, env, cwd, listen, user,
 * keep_caps, the profile but for nice and cpus). */
static bool spec_needs_restart(const rs_spec *a, const rs_spec *b)
{
	return !strv_eq(a->argv, a->argc, b->argv, b->argc) ||
	       !strv_eq(a->env, a->envc, b->env, b->envc) || !str_eq(a->cwd, b->cwd) ||
	       !strv_eq(a->listen, a->nlisten, b->listen, b->nlisten) ||
	       strcmp(a->user, b->user) != 0 || a->keep_caps != b->keep_caps ||
	       rs_profile_restart(&a->profile, &b->profile);
}

static bool probes_eq(const rs_spec *a, const rs_spec *b)
{
	for (int i = 0; i < RS_PROBE__NR; i++)
		if (!rs_probe_equal(&a->probes[i], &b->probes[i]))
			return false;
	return true;
}

bool rsd_spec_eq(const rs_spec *a, const rs_spec *b)
{
	return !spec_needs_restart(a, b) && probes_eq(a, b) &&
	       rs_limits_equal(&a->limits, &b->limits) &&
	       rs_profile_equal(&a->profile, &b->profile) &&
	       a->period_ms == b->period_ms &&
	       a->ready_timeout_ms == b->ready_timeout_ms &&
	       a->stop_timeout_ms == b->stop_timeout_ms &&
	       a->stop_signal == b->stop_signal && a->policy == b->policy &&
	       !memcmp(&a->backoff, &b->backoff, sizeof a->backoff) &&
	       a->notify == b->notify && a->settle_ms == b->settle_ms &&
	       !strcmp(a->node, b->node) && str_eq(a->script, b->script) &&
	       a->critical == b->critical && a->replicas == b->replicas &&
	       a->fence == b->fence && a->reload_signal == b->reload_signal &&
	       strv_eq(a->placement, a->nplacement, b->placement, b->nplacement) &&
	       strv_eq(a->deps, a->ndeps, b->deps, b->ndeps);
}

/* An apply's manifest by label, sorted: an apply of 1,024 services into
 * a table of 2,500 looked every service up by walking the manifest (and
 * the plan compared each with every added and changed label), millions
 * of strcmp in the loop. */
typedef struct spec_ix {
	const rs_spec **by_label;
	size_t          n;
} spec_ix;

static int spec_label_cmp(const void *a, const void *b)
{
	return strcmp((*(const rs_spec *const *)a)->label, (*(const rs_spec *const *)b)->label);
}

static int spec_key_cmp(const void *key, const void *e)
{
	return strcmp(key, (*(const rs_spec *const *)e)->label);
}

static int spec_ix_init(spec_ix *ix, const rs_request *rq)
{
	ix->n = rq->nspecs;
	ix->by_label = calloc(rq->nspecs + 1, sizeof *ix->by_label);
	if (!ix->by_label)
		return -ENOMEM;
	for (size_t i = 0; i < rq->nspecs; i++)
		ix->by_label[i] = &rq->specs[i];
	if (ix->n)
		qsort(ix->by_label, ix->n, sizeof *ix->by_label, spec_label_cmp);
	return 0;
}

static const rs_spec *find_spec(const spec_ix *ix, const char *label)
{
	const rs_spec **e = ix->n ? bsearch(label, ix->by_label, ix->n,
					    sizeof *ix->by_label, spec_key_cmp) : NULL;

	return e ? *e : NULL;
}

/* What an apply does with each service of its manifest. */
enum { SPEC_SAME, SPEC_ADDED, SPEC_CHANGED };

/* The request's own checks across its services, which rsctl's manifest
 * check makes first (a raw request must get them too): a label twice,
 * a dependency outside the apply (the apply stops every service it does
 * not name: the dependent would never start) or a cycle; then the start
 * order (lib/deporder.h). order: every spec's index, in start order. */
static int apply_order(const rs_request *rq, size_t *order, char *err, size_t errlen)
{
	deporder_item *v = calloc(rq->nspecs + 1, sizeof *v);
	int r;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < rq->nspecs; i++)
		v[i] = (deporder_item){ .label = rq->specs[i].label,
					.deps = rq->specs[i].deps,
					.ndeps = rq->specs[i].ndeps };
	r = deporder(v, rq->nspecs, "apply", order, NULL, err, errlen);
	free(v);
	return r;
}

void rsd_boot_check(rsd *d)
{
	static const net_peer nobody;   /* the boot apply answers no one */
	uint64_t now = clock_mono_ms();
	int up = 0, unknown = 0;

	if (!d->boot || d->boot_running)
		return;
	for (rsd_node *n = d->nodes; n; n = n->next) {
		up += n->connected && n->n.state == RS_NS_UP;
		unknown += n->n.state == RS_NS_UNKNOWN;
	}
	/* MINIX boot step 2 needs somewhere to run: wait for the nodes we knew
	 * (or their TTL), and for at least one node */
	if (!up || (unknown && now - d->start_mono < d->ttl_ms))
		return;
	log_info("boot: applying the manifest on %d node(s)", up);
	rsd_event(d, NULL, 0, NULL, "boot", "applying the manifest (%zu services) on %d node(s)",
		  d->boot->u.request.nspecs, up);
	d->boot_running = true;
	rsd_apply(d, &nobody, &d->boot->u.request);
	for (rsd_pending *p = d->pending; p; p = p->next)
		if (p->boot)
			return;
	/* no pending: the apply failed at once (logged); try again next period */
	d->boot_running = false;
}

/* A service an apply removes: stopped once its dependents are down. */
struct rsd_stop {
	char label[RS_LABEL_MAX];
	bool sent;                /* its instances were told to stop */
};

void rsd_pending_free(rsd_pending *p)
{
	if (!p)
		return;
	free(p->stops);
	for (size_t i = 0; i < p->napply; i++)
		free(p->apply[i]);
	free(p->apply);
	free(p->apply_json);
	rsd_update_free(p->upd);
	free(p);
}

/* Whether a non-standby instance in l runs. */
static bool svc_running(const rsd_label *l)
{
	for (size_t i = 0; l && i < l->ninsts; i++)
		if (!l->insts[i]->si.standby && l->insts[i]->si.info.state == RS_IS_RUNNING)
			return true;
	return false;
}

/* Whether label has an instance that runs or will (live, lost, exited). */
static bool svc_live(rsd *d, const char *label)
{
	for (rsd_inst *in = rsd_label_insts(d, label); in; in = rsd_label_insts_next(d, in))
		if (!in->si.standby &&
		    (rsd_istate_live(in->si.info.state) || in->si.info.state == RS_IS_LOST ||
		     in->si.info.state == RS_IS_EXITED))
			return true;
	return false;
}

static bool is_dead(const rsd_inst *in)
{
	return in->si.info.state == RS_IS_DOWN || in->si.info.state == RS_IS_FAILED;
}

/* Inside the apply's transaction: deletes the rows of label's dead
 * instances (a new one replaces them). */
static int store_drop_dead(rsd *d, const char *label)
{
	int r = 0;

	for (rsd_inst *in = rsd_label_insts(d, label); in && r == 0;
	     in = rsd_label_insts_next(d, in))
		if (is_dead(in))
			r = store_instance_del(d->st, in->si.info.id);
	return r;
}

/* After the commit: drops label's dead instances from the table. */
static void drop_dead(rsd *d, const char *label)
{
	for (rsd_inst *in = rsd_label_insts(d, label), *next; in; in = next) {
		next = rsd_label_insts_next(d, in);
		if (is_dead(in)) {
			rsd_inst_unlink(d, in);
			free(in);
		}
	}
}

/* The first non-standby instance in l, or NULL. */
static rsd_inst *svc_inst(const rsd_label *l)
{
	for (size_t i = 0; l && i < l->ninsts; i++)
		if (!l->insts[i]->si.standby)
			return l->insts[i];
	return NULL;
}

/* Whether an instance of l (standbys too) still runs or will. */
static bool label_live(const rsd_label *l)
{
	for (size_t i = 0; l && i < l->ninsts; i++)
		if (rsd_istate_live(l->insts[i]->si.info.state))
			return true;
	return false;
}

/* Whether a service wanted down that depends on label still has a live
 * instance: label must wait for it (reverse dependency order). */
static bool dependents_live(rsd *d, rsd_label_buf *b, const char *label)
{
	for (rsd_svc *s = d->svcs; s; s = s->next) {
		if (s->s.desired != RS_WANT_DOWN)
			continue;   /* a kept service cannot name a removed one */
		for (size_t k = 0; k < s->s.spec.ndeps; k++)
			if (!strcmp(s->s.spec.deps[k], label) &&
			    label_live(rsd_label_view(d, s->s.spec.label, b)))
				return true;
	}
	return false;
}

/* The apply's stops: sends Stop to each removed service whose dependents
 * are down (its decision was committed with the apply). Returns how many
 * removed services still have a live instance. */
static size_t apply_stops(rsd *d, rsd_pending *p, rsd_label_buf *b1,
			  rsd_label_buf *b2)
{
	size_t live = 0;

	for (size_t i = 0; i < p->nstops; i++) {
		struct rsd_stop *st = &p->stops[i];
		const rsd_label *l = rsd_label_view(d, st->label, b1);

		if (!st->sent && !dependents_live(d, b2, st->label)) {
			st->sent = true;
			for (size_t k = 0; l && k < l->ninsts; k++) {
				rsd_inst *in = l->insts[k];
				if ((rsd_istate_live(in->si.info.state) ||
				     in->si.info.state == RS_IS_EXITED) &&
				    rsd_send_stop(d, in, true, false) == -ENOTCONN)
					log_warnx("apply: node %s of %s is not connected; "
						  "it is stopped when it returns",
						  in->si.node, st->label);
			}
		}
		live += label_live(l);
	}
	return live;
}

/* Appends label to buf (", " between), cut at the end of buf. */
static void list_add(char *buf, size_t n, const char *label)
{
	size_t len = strlen(buf);

	if (len + 1 < n)
		snprintf(buf + len, n - len, "%s%s", len ? ", " : "", label);
}

void rsd_apply_expired(rsd *d, rsd_pending *p)
{
	char stopping[RS_DETAIL_MAX / 2] = "", starting[RS_DETAIL_MAX / 2] = "";
	rsd_label_buf b = { 0 };

	for (size_t i = 0; i < p->nstops; i++)
		if (label_live(rsd_label_view(d, p->stops[i].label, &b)))
			list_add(stopping, sizeof stopping, p->stops[i].label);
	for (size_t i = 0; i < p->napply; i++)
		if (!svc_running(rsd_label_view(d, p->apply[i], &b)))
			list_add(starting, sizeof starting, p->apply[i]);
	rsd_label_buf_free(&b);
	rsd_pending_done(d, p, RS_E_TIMEOUT, p->apply_json, "apply timed out; "
			 "still stopping: %s; still starting: %s",
			 stopping[0] ? stopping : "none", starting[0] ? starting : "none");
}

/* The next turn of an apply's starts (apply_check): the operations are
 * checked again after the loop's other work (rsd_pending_check: a
 * resumed one still waits for the nodes to settle). */
static void apply_turn_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	rsd_pending_check(w->data);
}

void rsd_apply_stop(rsd *d)
{
	ev_timer_stop(d->loop, &d->apply_t);
}

/* Whether the apply's starts made so far this turn are its share (at
 * least one service a turn: RSD_APPLY_SLICE_MS, or RS_APPLY_SLICE
 * services); then the rest waits for a turn of its own. */
static bool apply_slice_spent(rsd *d, size_t started, uint64_t t0)
{
	if (!started)
		return false;
	if (d->apply_slice)
		return started >= d->apply_slice;
	return clock_mono_ns() - t0 >= RSD_APPLY_SLICE_MS * 1000000ull;
}

/* The end of a turn that started services: counted, and the next turn
 * asked for when some are left (more); the log line once the last of
 * the apply's services is started (none waits for its dependencies),
 * when its starts took more than one turn. */
static void apply_turn_end(rsd *d, rsd_pending *p, size_t started, uint64_t t0,
			   bool more, bool waiting)
{
	if (started) {
		if (!p->apply_turns)
			p->apply_t0 = t0;
		p->apply_turns++;
		p->apply_started += started;
		p->apply_ns += clock_mono_ns() - t0;
	}
	if (more) {
		if (!ev_is_active(&d->apply_t)) {
			ev_timer_init(&d->apply_t, apply_turn_cb, 0., 0.);
			d->apply_t.data = d;
			ev_timer_start(d->loop, &d->apply_t);   /* after the others' turn */
		}
		return;
	}
	if (started && !waiting && p->apply_turns > 1)
		log_info("apply: started %zu services in %.1f ms, %u turns over %.1f ms",
			 p->apply_started, (double)p->apply_ns / 1e6, p->apply_turns,
			 (double)(clock_mono_ns() - p->apply_t0) / 1e6);
}

/* Called after every change while an apply runs: each of its labels
 * found by label, so a check costs the apply's services and their
 * instances, not the whole table. The services it may start it starts
 * RSD_APPLY_SLICE_MS a turn (each its own transaction, as before): an
 * apply of 100 services of 60 replicas at 5,000 nodes held the loop
 * 150-235 ms in one turn, and every control request and agent message
 * with it. */
void rsd_apply_check(rsd *d, rsd_pending *p)
{
	bool all_running = true, more = false, waiting = false;
	size_t stopping, started = 0;
	uint64_t t0 = clock_mono_ns();
	rsd_label_buf b1 = { 0 }, b2 = { 0 };

	if (p->start_died) {
		/* the first failure of a service it starts is the answer; the
		 * agent retries it by its restart policy */
		rsd_pending_done(d, p, RS_E_FAILED, p->apply_json,
				 "apply: %s failed to start on %s: %s; retried with the "
				 "backoff", p->died_label, p->died_node, p->died_detail);
		return;
	}
	stopping = apply_stops(d, p, &b1, &b2);
	for (size_t i = 0; i < p->napply; i++) {
		const char *label = p->apply[i];
		const rsd_label *l = rsd_label_view(d, label, &b1);
		rsd_svc *s = l ? l->svc : NULL;
		rsd_inst *in = svc_inst(l);
		bool deps_ok = true;

		if (!s) {
			rsd_label_buf_free(&b1);
			rsd_label_buf_free(&b2);
			rsd_pending_done(d, p, RS_E_FAILED, p->apply_json,
					 "apply: %s vanished", label);
			return;
		}
		if (in && (in->si.info.state == RS_IS_FAILED ||
			   in->si.info.state == RS_IS_DOWN)) {
			rsd_label_buf_free(&b1);
			rsd_label_buf_free(&b2);
			rsd_pending_done(d, p, RS_E_FAILED, p->apply_json,
					 "apply: %s failed to start on %s: %s", label,
					 in->si.node, in->detail);
			return;
		}
		if (in) {
			for (size_t k = 0; k < l->ninsts; k++)
				if (!l->insts[k]->si.standby)
					all_running &= l->insts[k]->si.info.state == RS_IS_RUNNING;
			continue;
		}
		all_running = false;
		for (size_t k = 0; k < s->s.spec.ndeps; k++)
			deps_ok &= svc_running(rsd_label_view(d, s->s.spec.deps[k], &b2));
		if (!deps_ok) {
			waiting = true;
			continue;   /* its dependencies are not ready yet */
		}
		if (apply_slice_spent(d, started, t0)) {
			more = true;   /* the rest next turn */
			break;
		}
		int r = rsd_start_instances(d, s, s->s.spec.replicas, NULL);
		if (r < 0) {
			rsd_label_buf_free(&b1);
			rsd_label_buf_free(&b2);
			rsd_pending_done(d, p, r == -ENODEV ? RS_E_NONODE : RS_E_INTERNAL,
					 p->apply_json, "apply: cannot start %s: %s", label,
					 r == -ENODEV ? "no node to place it on (none up, or "
					 "none its placement allows): it stays wanted up, and "
					 "rsd places it when a node can take it" : strerror(-r));
			return;
		}
		started++;
	}
	apply_turn_end(d, p, started, t0, more, waiting);
	rsd_label_buf_free(&b1);
	rsd_label_buf_free(&b2);
	if (all_running && !stopping)
		rsd_pending_done(d, p, RS_OK, p->apply_json, p->nstops ?
				 "applied: every service runs, every removed one is down" :
				 "applied: every service runs");
}

int rsd_apply_resume(rsd *d, rsd_pending *p)
{
	size_t n = 0;

	for (rsd_svc *s = d->svcs; s; s = s->next)
		n++;
	if (!(p->apply = calloc(n + 1, sizeof *p->apply)) ||
	    !(p->stops = calloc(n + 1, sizeof *p->stops)))
		return -ENOMEM;
	for (rsd_svc *s = d->svcs; s; s = s->next) {
		if (s->s.desired == RS_WANT_DOWN) {
			rs_strlcpy(p->stops[p->nstops++].label, s->s.spec.label,
				   sizeof p->stops[0].label);
			continue;
		}
		if (!(p->apply[p->napply] = strdup(s->s.spec.label)))
			return -ENOMEM;
		p->napply++;
	}
	return 0;
}

/* The reply's plan as JSON (the caller frees). */
static char *plan_json(rsd *d, const rs_request *rq, const spec_ix *ix,
		       const unsigned char *what, char **added, size_t na,
		       char **changed, size_t nc)
{
	json_t *o = json_object(), *a = json_array(), *c = json_array(),
	       *r = json_array(), *u = json_array();
	char *s;

	for (size_t i = 0; i < na; i++)
		json_array_append_new(a, json_string(added[i]));
	for (size_t i = 0; i < nc; i++)
		json_array_append_new(c, json_string(changed[i]));
	for (rsd_svc *sv = d->svcs; sv; sv = sv->next) {
		const rs_spec *sp = find_spec(ix, sv->s.spec.label);

		if (!sp) {
			if (sv->s.desired == RS_WANT_UP)
				json_array_append_new(r, json_string(sv->s.spec.label));
			continue;
		}
		if (what[sp - rq->specs] == SPEC_SAME)
			json_array_append_new(u, json_string(sv->s.spec.label));
	}
	json_object_set_new(o, "added", a);
	json_object_set_new(o, "changed", c);
	json_object_set_new(o, "removed", r);
	json_object_set_new(o, "unchanged", u);
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

void rsd_apply(rsd *d, const net_peer *peer, const rs_request *rq)
{
	char **added = NULL, **changed = NULL, err[RS_DETAIL_MAX];
	unsigned char *what = NULL;   /* SPEC_* of each spec */
	spec_ix ix = { 0 };
	size_t na = 0, nc = 0, nr = 0, i;
	size_t *order = NULL;         /* the specs in start order */
	char *json = NULL;
	rsd_pending *p = NULL;
	int r = 0;

	/* what only rsd can check */
	for (i = 0; i < rq->nspecs; i++) {
		const rs_spec *sp = &rq->specs[i];
		if (rs_spec_validate(sp, err, sizeof err) < 0) {
			rsd_reply(d, peer, rq->id, RS_E_INVAL, NULL, err);
			return;
		}
		if (sp->node[0] && !rsd_node_find(d, sp->node)) {
			snprintf(err, sizeof err, "%s: unknown node '%s'", sp->label, sp->node);
			rsd_reply(d, peer, rq->id, RS_E_INVAL, NULL, err);
			return;
		}
		for (size_t k = 0; k < sp->nplacement; k++)
			if (!strncmp(sp->placement[k], "node=", 5) &&
			    !rsd_node_find(d, sp->placement[k] + 5)) {
				snprintf(err, sizeof err, "%s: placement: unknown node '%s'",
					 sp->label, sp->placement[k] + 5);
				rsd_reply(d, peer, rq->id, RS_E_INVAL, NULL, err);
				return;
			}
		if (rsd_pending_for(d, sp->label)) {
			snprintf(err, sizeof err, "%s is busy: a '%s' operation is in progress",
				 sp->label, rsd_pending_for(d, sp->label)->op.kind);
			rsd_reply(d, peer, rq->id, RS_E_BUSY, NULL, err);
			return;
		}
	}
	for (rsd_pending *q = d->pending; q; q = q->next)
		if (q->verb == RS_V_APPLY || q->verb == RS_V_SHUTDOWN) {
			rsd_reply(d, peer, rq->id, RS_E_BUSY, NULL,
				  "busy: another apply or a shutdown is in progress");
			return;
		}
	added = calloc(rq->nspecs + 1, sizeof *added);
	changed = calloc(rq->nspecs + 1, sizeof *changed);
	what = calloc(rq->nspecs + 1, 1);
	order = calloc(rq->nspecs + 1, sizeof *order);
	if (!added || !changed || !what || !order || spec_ix_init(&ix, rq) < 0)
		goto fail;
	if ((r = apply_order(rq, order, err, sizeof err)) < 0) {
		if (r != -EINVAL)
			goto fail;
		rsd_reply(d, peer, rq->id, RS_E_INVAL, NULL, err);
		goto out;
	}
	r = 0;
	for (i = 0; i < rq->nspecs; i++) {
		rsd_svc *s = rsd_svc_find(d, rq->specs[i].label);
		if (!s || s->s.desired != RS_WANT_UP || !svc_live(d, rq->specs[i].label)) {
			added[na++] = rq->specs[i].label;
			what[i] = SPEC_ADDED;
		} else if (!rsd_spec_eq(&s->s.spec, &rq->specs[i])) {
			changed[nc++] = rq->specs[i].label;
			what[i] = SPEC_CHANGED;
		}
	}
	json = plan_json(d, rq, &ix, what, added, na, changed, nc);
	if (!json)
		goto fail;
	for (rsd_svc *s = d->svcs; s; s = s->next)
		nr += !find_spec(&ix, s->s.spec.label) && s->s.desired == RS_WANT_UP;
	if (rq->dry_run) {
		snprintf(err, sizeof err, "would add %zu, change %zu, remove %zu", na, nc, nr);
		rsd_reply(d, peer, rq->id, RS_OK, json, err);
		goto out;
	}
	p = calloc(1, sizeof *p);
	if (!p || !(p->apply = calloc(na + 1, sizeof *p->apply)) ||
	    !(p->stops = calloc(nr + 1, sizeof *p->stops)))
		goto fail;
	p->peer = *peer;
	p->req_id = rq->id;
	p->op.req_id = rq->id;
	p->verb = RS_V_APPLY;
	p->reply = !rq->no_block;
	p->deadline_mono = clock_mono_ms() + (rq->timeout_ms ? rq->timeout_ms : 120000);
	rs_strlcpy(p->op.kind, "apply", sizeof p->op.kind);
	rs_strlcpy(p->op.state, "running", sizeof p->op.state);
	rs_strlcpy(p->op.caller, d->cur_actor[0] ? d->cur_actor : "rsctl", sizeof p->op.caller);
	p->op.started_ms = clock_wall_ms();
	snprintf(p->op.detail, sizeof p->op.detail, "add %zu, change %zu, remove %zu",
		 na, nc, nr);

	/* 1. commit every desired state at once */
	if ((r = rsd_tx_begin(d)) < 0)
		goto fail_store;
	for (i = 0; i < rq->nspecs; i++) {
		rsd_svc *s = rsd_svc_find(d, rq->specs[i].label);
		store_service next = { .desired = RS_WANT_UP };
		if (what[i] == SPEC_SAME)
			continue;   /* stored as it is: no new generation */
		if (s)
			next = s->s;
		next.desired = RS_WANT_UP;
		next.spec = rq->specs[i];            /* borrowed for the put */
		next.generation++;
		next.updated_ms = clock_wall_ms();
		if (!s)
			next.created_ms = next.updated_ms;
		if ((r = store_service_put(d->st, &next)) < 0 ||
		    (r = rsd_revision_add(d, &next, "apply")) < 0)
			goto rollback;
	}
	for (i = 0; i < na; i++)
		if ((r = store_drop_dead(d, added[i])) < 0)
			goto rollback;
	for (rsd_svc *s = d->svcs; s; s = s->next)
		if (!find_spec(&ix, s->s.spec.label) && s->s.desired == RS_WANT_UP) {
			store_service down = s->s;
			down.desired = RS_WANT_DOWN;
			if ((r = store_service_put(d->st, &down)) < 0)
				goto rollback;
		}
	if ((r = store_op_add(d->st, &p->op)) < 0)
		goto rollback;
	rsd_event(d, NULL, 0, NULL, "apply", "%s", p->op.detail);
	if ((r = rsd_tx_commit(d)) < 0)
		goto fail_store;

	/* 2. the table follows the store; removed services are stopped by
	 * rsd_apply_check, dependents first */
	for (rsd_svc *s = d->svcs; s; s = s->next)
		if (!find_spec(&ix, s->s.spec.label) && s->s.desired == RS_WANT_UP) {
			s->s.desired = RS_WANT_DOWN;
			rs_strlcpy(p->stops[p->nstops++].label, s->s.spec.label,
				   sizeof p->stops[0].label);
		}
	for (i = 0; i < rq->nspecs; i++) {
		const rs_spec *sp = &rq->specs[i];
		rsd_svc *s = rsd_svc_find(d, sp->label);
		bool restart = s && spec_needs_restart(&s->s.spec, sp);
		bool same = what[i] == SPEC_SAME;
		uint32_t live = 0;

		if (same)
			goto replicas;   /* no new spec: only its replicas made whole */
		if (!s) {
			s = calloc(1, sizeof *s);
			if (!s)
				goto fail_after_commit;
			rs_spec_init(&s->s.spec);
			s->s.created_ms = clock_wall_ms();
			rs_strlcpy(s->s.spec.label, sp->label, sizeof s->s.spec.label);
			rsd_svc_link(d, s);
		}
		rs_spec_clear(&s->s.spec);
		if (rs_spec_copy(&s->s.spec, sp) < 0)
			goto fail_after_commit;
		s->s.desired = RS_WANT_UP;
		s->s.generation++;
		s->s.updated_ms = clock_wall_ms();
replicas:
		for (rsd_inst *in = rsd_label_insts(d, sp->label); in;
		     in = rsd_label_insts_next(d, in)) {
			if (!rsd_istate_live(in->si.info.state) || in->si.standby)
				continue;
			if (++live > sp->replicas) {   /* scale down */
				rsd_send_stop(d, in, true, false);
				continue;
			}
			if (same)
				continue;
			rsd_send_respec(d, in);
			if (restart)
				rsd_send_stop(d, in, false, true);   /* refresh */
		}
		/* scale up a running service (added ones start in order below) */
		if (what[i] != SPEC_ADDED && live < sp->replicas &&
		    rsd_start_instances(d, s, sp->replicas - live, NULL) < 0)
			log_warnx("apply %s: no node for another replica", sp->label);
	}
	for (i = 0; i < na; i++)
		drop_dead(d, added[i]);
	/* 3. added services start in dependency order (rsd_apply_check
	 * starts each once its dependencies run) */
	for (i = 0; i < rq->nspecs; i++) {
		if (what[order[i]] != SPEC_ADDED)
			continue;
		if (!(p->apply[p->napply] = strdup(rq->specs[order[i]].label)))
			goto fail_after_commit;
		p->napply++;
	}
	p->apply_json = json;
	json = NULL;
	p->boot = d->boot && rq == &d->boot->u.request;
	rsd_pending_add(d, p);
	if (rq->no_block && !p->boot) {
		snprintf(err, sizeof err, "applying: add %zu, change %zu, remove %zu", na, nc, nr);
		rsd_reply(d, peer, rq->id, RS_OK, p->apply_json, err);
	}
	rsd_apply_check(d, p);
	goto out_keep;

rollback:
	rsd_tx_abort(d);
fail_store:
	if (peer->len)
		rsd_reply_unrecorded(d, peer, rq, r);
	else
		rsd_store_trouble(d, "the boot apply", r);
	rsd_pending_free(p);
	goto out;
fail:
	rsd_reply(d, peer, rq->id, RS_E_INTERNAL, NULL, "apply failed: out of memory");
	rsd_pending_free(p);
	goto out;
fail_after_commit:
	rsd_reply(d, peer, rq->id, RS_E_INTERNAL, NULL,
		  "apply: out of memory after the plan was stored; it will converge at the next apply");
	rsd_pending_free(p);
out:
	free(json);
out_keep:
	free(added);
	free(changed);
	free(what);
	free(order);
	free(ix.by_label);
}
