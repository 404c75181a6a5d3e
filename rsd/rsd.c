/*
 * rsd.c - the in-memory rproc table, loaded from the store at boot, the
 * periodic check, and the pending-request bookkeeping.
 */
#include "reslimits.h"
#include "profile.h"
#include "probespec.h"
#include "rsd.h"
#include "version.h"

#include <errno.h>
#include <malloc.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "codes.h"
#include "index.h"
#include "log.h"
#include "sdnotify.h"
#include "wire.h"

int rsd_commit(rsd *d)
{
	uint64_t t0 = clock_mono_ns();
	int r = store_commit(d->st);

	prom_hist_observe(&d->h_commit, (double)(clock_mono_ns() - t0) / 1e9);
	if (r == 0 && d->store_failing) {
		d->store_failing = false;
		log_info("the store takes writes again");
	}
	return r;
}

/* A message held until its transaction commits: the message itself (an
 * order is numbered when it goes out, so a decision that is not recorded
 * leaves no gap in the numbers), or bytes already encoded (a resend). */
struct rsd_order {
	struct rsd_order *next;
	char     node[RS_NODE_MAX];
	rs_msg   m;              /* m.type RS_MSG_NONE: buf instead */
	uint8_t *buf;
	size_t   len;
};

/* An instance as it was when its transaction began. */
struct rsd_saved {
	struct rsd_saved *next;
	rsd_inst *in;
	rsd_inst  was;           /* next is not restored */
};

static int deliver(rsd *d, rsd_node *n, rs_msg *m);
static void inst_account(rsd *d, rsd_inst *in, int dir);
static int inst_class(rs_istate st);
static void inst_tally(rsd *d, const rsd_inst *in, rs_istate st, int dir);

/* Puts in back as it was (was: a copy from before the transaction),
 * keeping its places in the list and the tables. */
static void inst_restore(rsd *d, rsd_inst *in, rsd_inst *was)
{
	bool renode = in->linked && strcmp(was->si.node, in->si.node) != 0;

	inst_account(d, in, -1);
	inst_tally(d, in, in->si.info.state, -1);
	if (renode)
		rsd_tab_del(&d->tbynode, in);
	was->next = in->next;
	was->hnext = in->hnext;
	was->nnext = in->nnext;
	was->lnext = in->lnext;
	was->linked = in->linked;
	*in = *was;
	if (renode)
		rsd_tab_add(&d->tbynode, in);
	inst_account(d, in, 1);
	inst_tally(d, in, in->si.info.state, 1);
	d->insts_gen++;   /* a standby again, say */
	rsd_converge_due(d, in->si.info.label);
}

/* Ends the transaction's bookkeeping: sends (or drops) the orders in the
 * order they were held, restores (or forgets) the saved instances. */
static void tx_end(rsd *d, bool committed)
{
	struct rsd_order *o, *rev = NULL;

	while ((o = d->tx_orders)) {   /* held newest first: reverse */
		d->tx_orders = o->next;
		o->next = rev;
		rev = o;
	}
	while ((o = rev)) {
		rsd_node *n = rsd_node_find(d, o->node);
		rev = o->next;
		if (committed && n && n->connected) {
			if (o->m.type != RS_MSG_NONE)
				deliver(d, n, &o->m);
			else if (rsd_agent_out(d, n, o->buf, o->len) < 0)
				log_warnx("cannot send an order to node %s", n->n.name);
		}
		rs_msg_clear(&o->m);
		free(o->buf);
		free(o);
	}
	while (d->tx_saved) {
		struct rsd_saved *sv = d->tx_saved;
		d->tx_saved = sv->next;
		if (!committed)
			inst_restore(d, sv->in, &sv->was);
		free(sv);
	}
	d->tx_open = false;
	d->tx_err = 0;
}

int rsd_tx_begin(rsd *d)
{
	int r;

	if (d->tx_open && d->tx_batch)
		rsd_batch_flush(d);   /* the events before this decision */
	if (d->tx_open) {   /* a programmer's error: one decision at a time */
		log_warnx("a transaction is already open, refused");
		return -EBUSY;
	}
	r = store_begin(d->st);
	if (r < 0)
		return r;
	d->tx_open = true;
	d->tx_seq++;
	d->tx_err = 0;
	return 0;
}

int rsd_tx_commit(rsd *d)
{
	int r;

	if (d->tx_open)
		rsd_batch_rows(d, false);   /* the batch's rows, inside it */
	r = d->tx_err;
	if (r == 0)
		r = rsd_commit(d);   /* rolls back if it fails */
	else
		store_rollback(d->st);
	tx_end(d, r == 0);
	return r;
}

void rsd_tx_abort(rsd *d)
{
	store_rollback(d->st);
	tx_end(d, false);
	if (d->tx_batch) {
		rsd_batch_rows(d, true);
		rsd_batch_hellos_end(d, false);
	}
	d->tx_batch = false;
}

int rsd_tx_batch(rsd *d)
{
	int r;

	if (d->tx_open)
		return d->tx_batch ? 0 : -EBUSY;
	if ((r = rsd_tx_begin(d)) == 0) {
		d->tx_batch = true;
		d->batch_t0_ns = clock_mono_ns();
	}
	return r;
}

void rsd_batch_flush(rsd *d)
{
	int r;

	if (d->tx_open && d->tx_batch) {
		d->tx_batch = false;
		r = rsd_tx_commit(d);
		rsd_batch_hellos_end(d, r == 0);
		if (r < 0)
			rsd_store_trouble(d, "agents' hellos and events, nodes' "
					  "membership", r);
	}
	if (d->batch_check) {
		d->batch_check = false;
		rsd_pending_check(d);
		rsd_parked_run(d);
	}
}

void rsd_tx_save(rsd *d, rsd_inst *in)
{
	struct rsd_saved *sv;

	/* a hello batch saves tens of thousands: a walk of the list made
	 * a cold start of 5,000 nodes quadratic */
	if (!d->tx_open || in->saved_tx == d->tx_seq)
		return;
	sv = calloc(1, sizeof *sv);
	if (!sv) {
		d->tx_err = -ENOMEM;
		return;
	}
	in->saved_tx = d->tx_seq;
	sv->in = in;
	sv->was = *in;
	sv->next = d->tx_saved;
	d->tx_saved = sv;
}

const char *rsd_store_why(rsd *d, int r)
{
	if (r == -ENOSPC)
		return "database or disk full";
	if (r == -ENOMEM)
		return "out of memory";
	if (r == -EBUSY)
		return "database locked";
	if (r < 0 && !store_failed(d->st))
		return strerror(-r);   /* not SQLite's: "not an error" */
	return store_errmsg(d->st);
}

void rsd_store_trouble(rsd *d, const char *what, int r)
{
	d->store_troubles++;
	if (d->store_failing)
		return;
	d->store_failing = true;
	log_warnx("cannot record %s: %s, ignoring (until the store takes writes "
		  "again, further failures are not logged)", what, rsd_store_why(d, r));
}

bool rsd_istate_live(rs_istate s)
{
	return instsm_live(s);
}

void rsd_switch_over(rsd *d, rsd_inst *in)
{
	rsd_svc *s = rsd_svc_find(d, in->si.info.label);

	if (in->si.standby || in->si.info.state == RS_IS_RUNNING || !s ||
	    s->s.desired != RS_WANT_UP)
		return;
	for (rsd_inst *sb = rsd_label_insts(d, in->si.info.label); sb;
	     sb = rsd_label_insts_next(d, sb)) {
		if (!sb->si.standby || sb->si.info.state != RS_IS_RUNNING)
			continue;
		rsd_tx_save(d, sb);   /* a failed commit switches back */
		rsd_tx_save(d, in);
		sb->si.standby = false;
		in->si.standby = true;
		d->insts_gen++;
		rsd_converge_due(d, in->si.info.label);
		if (store_instance_put(d->st, &sb->si) < 0 ||
		    store_instance_put(d->st, &in->si) < 0)
			log_warnx("cannot store the switch-over of %s: %s",
				  in->si.info.label, store_errmsg(d->st));
		rsd_event(d, in->si.info.label, sb->si.info.id, sb->si.node,
			  "switch-over", "standby %llu (pid %d on %s) is active; %llu (%s) becomes the standby",
			  (unsigned long long)sb->si.info.id, (int)sb->si.info.pid,
			  sb->si.node, (unsigned long long)in->si.info.id,
			  rs_istate_to_string(in->si.info.state));
		log_info("%s: switched over to standby %llu on %s", in->si.info.label,
			 (unsigned long long)sb->si.info.id, sb->si.node);
		return;
	}
}

void rsd_node_set_labels(rsd_node *n, char *const *labels, size_t nl)
{
	for (size_t i = 0; i < n->nlabels; i++)
		free(n->labels[i]);
	free(n->labels);
	n->labels = NULL;
	n->nlabels = 0;
	if (!nl || !(n->labels = calloc(nl, sizeof *n->labels)))
		return;
	for (size_t i = 0; i < nl; i++)
		if ((n->labels[n->nlabels] = strdup(labels[i])))
			n->nlabels++;
}

/* Superseded by the walk: want instances of its label (not standbys)
 * are newer. */
static bool superseded_walk(rsd *d, const rsd_inst *in, uint32_t want)
{
	uint32_t newer = 0;

	for (rsd_inst *x = rsd_label_insts(d, in->si.info.label); x && newer < want;
	     x = rsd_label_insts_next(d, x))
		newer += x->si.info.id > in->si.info.id && !x->si.standby;
	return newer >= want;
}

static int by_id_desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x > y ? -1 : x < y;
}

/* The want-th newest id of label's instances (not standbys), 0 if there
 * are fewer: the ids below it are superseded. -ENOMEM as UINT64_MAX. */
static uint64_t superseded_cut(rsd *d, const char *label, uint32_t want)
{
	uint64_t stack[64], *ids = stack, cut = 0;
	size_t n = 0, cap = 64;

	for (rsd_inst *x = rsd_label_insts(d, label); x; x = rsd_label_insts_next(d, x)) {
		if (x->si.standby)
			continue;
		if (n == cap) {
			uint64_t *v = ids == stack ? malloc(2 * cap * sizeof *v) :
				      realloc(ids, 2 * cap * sizeof *v);

			if (!v) {
				cut = UINT64_MAX;
				goto out;
			}
			if (ids == stack)
				memcpy(v, stack, sizeof stack);
			ids = v;
			cap *= 2;
		}
		ids[n++] = x->si.info.id;
	}
	if (n >= want) {
		qsort(ids, n, sizeof *ids, by_id_desc);
		cut = ids[want - 1];
	}
out:
	if (ids != stack)
		free(ids);
	return cut;
}

bool rsd_inst_superseded(rsd *d, const rsd_inst *in)
{
	rsd_svc *s = rsd_svc_find(d, in->si.info.label);
	uint32_t want = s && s->s.spec.replicas ? s->s.spec.replicas : 1;
	bool r;

	if (in->si.standby)
		return false;
	/* each of a Hello's instances walked its label's (issue 12: 13 % of
	 * a cold start's main thread): the cut-off is kept per service until
	 * an instance is linked, unlinked or changes standby (insts_gen) */
	if (!s)
		return superseded_walk(d, in, want);
	if (s->sup_gen != d->insts_gen || s->sup_want != want) {
		uint64_t cut = superseded_cut(d, in->si.info.label, want);

		if (cut == UINT64_MAX)
			return superseded_walk(d, in, want);
		s->sup_cut = cut;
		s->sup_gen = d->insts_gen;
		s->sup_want = want;
	}
	r = in->si.info.id < s->sup_cut;
	if (d->check_tables && r != superseded_walk(d, in, want)) {
		/* RS_CHECK_TABLES (the integration tests): both ways agree */
		log_warnx("RS_CHECK_TABLES: instance %llu of %s: superseded %s by "
			  "the cut-off %llu, %s by the walk",
			  (unsigned long long)in->si.info.id, in->si.info.label,
			  r ? "yes" : "no", (unsigned long long)s->sup_cut,
			  r ? "no" : "yes");
		abort();
	}
	return r;
}

int rsd_node_instances(rsd *d, const char *node)
{
	rsd_node *nd = rsd_node_find(d, node);
	int n = 0;

	if (nd)
		return (int)nd->live;
	for (rsd_inst *in = rsd_node_insts(d, node); in; in = rsd_node_insts_next(d, in))
		n += rsd_istate_live(in->si.info.state);
	return n;
}

/* ---- nodes by load (d->nheap) ---------------------------------------- */

static bool node_less(const rsd_node *a, const rsd_node *b)
{
	if (a->placeable != b->placeable)
		return a->placeable;
	return a->live != b->live ? a->live < b->live : strcmp(a->n.name, b->n.name) < 0;
}

static bool node_takes(const rsd_node *n)
{
	return n->connected && n->n.state == RS_NS_UP && !n->n.drained;
}

static void heap_set(rsd *d, size_t i, rsd_node *n)
{
	d->nheap[i] = n;
	n->heap_i = i;
}

static void heap_fix(rsd *d, rsd_node *n)
{
	size_t i = n->heap_i;

	if (i >= d->nheap_n || d->nheap[i] != n)
		return;   /* not in it (out of memory when it was linked) */
	while (i > 0 && node_less(n, d->nheap[(i - 1) / 2])) {
		heap_set(d, i, d->nheap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= d->nheap_n)
			break;
		if (c + 1 < d->nheap_n && node_less(d->nheap[c + 1], d->nheap[c]))
			c++;
		if (!node_less(d->nheap[c], n))
			break;
		heap_set(d, i, d->nheap[c]);
		i = c;
	}
	heap_set(d, i, n);
}

static void heap_remove(rsd *d, rsd_node *n)
{
	size_t i = n->heap_i;
	rsd_node *last;

	if (i >= d->nheap_n || d->nheap[i] != n)
		return;
	last = d->nheap[--d->nheap_n];
	if (last != n) {
		heap_set(d, i, last);
		heap_fix(d, last);
	}
	n->heap_i = SIZE_MAX;
}

void rsd_node_placeable(rsd *d, rsd_node *n)
{
	bool p = node_takes(n);

	if (p == n->placeable)
		return;
	n->placeable = p;
	heap_fix(d, n);
}

static void heap_add(rsd *d, rsd_node *n)
{
	rsd_node **v = rs_grow(d->nheap, &d->nheap_cap, d->nheap_n, sizeof *v, 64);

	if (!v) {
		n->heap_i = SIZE_MAX;   /* placement falls back to the walk */
		d->nheap_broken = true;
		return;
	}
	d->nheap = v;
	heap_set(d, d->nheap_n++, n);
	heap_fix(d, n);
}

/* Marks every node with how many live instances of label it has (mark_n,
 * valid while mark is the mark returned). */
static uint64_t mark_label(rsd *d, const char *label)
{
	uint64_t gen = ++d->mark_gen;

	for (rsd_inst *in = rsd_label_insts(d, label); in; in = rsd_label_insts_next(d, in)) {
		rsd_node *n;

		if (!rsd_istate_live(in->si.info.state) || !(n = rsd_node_find(d, in->si.node)))
			continue;
		if (n->mark != gen) {
			n->mark = gen;
			n->mark_n = 0;
		}
		n->mark_n++;
	}
	return gen;
}

/* The features (RS_FEAT_*) an agent must announce to run spec: a feature
 * a peer does not announce is not used with it (docs/upgrade.md). */
static uint64_t spec_features(const rs_spec *spec)
{
	uint64_t f = 0;

	if (spec && spec->keep_caps)
		f |= RS_FEAT_KEEPCAPS;
	if (spec && spec->fence != RS_FENCE_NONE)
		f |= RS_FEAT_FENCE;
	if (spec && rs_spec_has_probes(spec))
		f |= RS_FEAT_PROBES;
	if (spec && rs_limits_any(&spec->limits))
		f |= RS_FEAT_LIMITS;
	if (spec && rs_profile_any(&spec->profile))
		f |= RS_FEAT_PROFILE;
	return f;
}

bool rsd_node_speaks(const rsd_node *n, const rs_spec *spec)
{
	uint32_t need = spec ? rs_limits_needs(&spec->limits) : 0;
	uint32_t pneed = spec ? rs_profile_needs(&spec->profile) : 0;

	/* limits only where the node has the controllers they need, a
	 * profile where it can apply it */
	return (n->features & spec_features(spec)) == spec_features(spec) &&
	       (n->controllers & need) == need && (n->privs & pneed) == pneed;
}

/* Whether n may take one more instance of spec (NULL: any): its placement
 * (node names, node labels) and the node's capacity. */
static bool node_fits(rsd *d, rsd_node *n, const rs_spec *spec)
{
	if (spec && !rs_spec_allows(spec, n->n.name, n->labels, n->nlabels))
		return false;
	return !n->n.capacity ||
	       rsd_node_instances(d, n->n.name) < (int)n->n.capacity;
}

static int place_cost(const rsd_node *n, const char *label, const char *avoid,
		      uint64_t mark)
{
	int c = (int)n->live;

	if (label && n->mark == mark)
		c += (int)n->mark_n << 10;
	if (avoid && strcmp(n->n.name, avoid) == 0)
		c += 1 << 20;
	return c;
}

/* Makes n the best so far (*best, its cost *best_c) if it may take
 * spec and costs less (ties: the lesser name); the cheap tests first, the
 * placement rules only for a node that would win. */
static void place_consider(rsd *d, rsd_node *n, const rs_spec *spec, const char *avoid,
			   uint64_t mark, rsd_node **best, int *best_c)
{
	int c;

	if (!node_takes(n))
		return;
	c = place_cost(n, spec ? spec->label : NULL, avoid, mark);
	if (*best && (c > *best_c || (c == *best_c && strcmp(n->n.name, (*best)->n.name) >= 0)))
		return;
	if (!node_fits(d, n, spec) || !rsd_node_speaks(n, spec))
		return;
	*best = n;
	*best_c = c;
}

/* The placement's least (cost, name), node by node. */
static rsd_node *place_walk(rsd *d, const rs_spec *spec, const char *avoid,
			    uint64_t mark)
{
	rsd_node *best = NULL;
	int best_c = 0;

	for (rsd_node *n = d->nodes; n; n = n->next)
		place_consider(d, n, spec, avoid, mark, &best, &best_c);
	return best;
}

/* The placement's least (cost, name) by a best-first walk of d->nheap:
 * a node's cost is never below its load, so once the next node's (load,
 * name) is past the best (cost, name) found, nothing after it can win;
 * nor once the next one takes nothing (those come last).
 * Usually the first few nodes decide. The walk's own queue is a heap of
 * d->nheap's indexes; when it outgrows PLACE_Q (most nodes busy with
 * this label, down or refused), placement walks every node instead. */
#define PLACE_Q 512

static bool idx_less(const rsd *d, size_t a, size_t b)
{
	return node_less(d->nheap[a], d->nheap[b]);
}

static rsd_node *place_by_load(rsd *d, const rs_spec *spec, const char *avoid,
			       uint64_t mark)
{
	size_t q[PLACE_Q], nq = 0;
	rsd_node *best = NULL;
	int best_c = 0;

	if (d->nheap_n)
		q[nq++] = 0;
	while (nq) {
		size_t top = q[0], i = 0;
		rsd_node *n = d->nheap[top];

		/* pop the least index of the queue */
		q[0] = q[--nq];
		for (;;) {
			size_t k = 2 * i + 1;

			if (k >= nq)
				break;
			if (k + 1 < nq && idx_less(d, q[k + 1], q[k]))
				k++;
			if (!idx_less(d, q[k], q[i]))
				break;
			size_t t = q[i];
			q[i] = q[k];
			q[k] = t;
			i = k;
		}
		if (!n->placeable)
			break;   /* nor any node after it */
		if (best && ((int)n->live > best_c ||
			     ((int)n->live == best_c && strcmp(n->n.name, best->n.name) >= 0)))
			break;   /* no node from here on can win */
		/* its children in d->nheap next */
		for (size_t ch = 2 * top + 1; ch <= 2 * top + 2 && ch < d->nheap_n; ch++) {
			if (nq == PLACE_Q)
				goto walk;
			q[nq] = ch;
			for (size_t j = nq++; j > 0 && idx_less(d, q[j], q[(j - 1) / 2]); j = (j - 1) / 2) {
				size_t t = q[j];
				q[j] = q[(j - 1) / 2];
				q[(j - 1) / 2] = t;
			}
		}
		place_consider(d, n, spec, avoid, mark, &best, &best_c);
	}
	return best;
walk:
	return place_walk(d, spec, avoid, mark);
}

rsd_node *rsd_place_spec(rsd *d, const rs_spec *spec, const char *want,
			 const char *avoid)
{
	const char *label = spec ? spec->label : NULL;
	uint64_t mark;

	if (want && want[0]) {
		rsd_node *n = rsd_node_find(d, want);
		return n && n->connected && n->n.state == RS_NS_UP &&
		       node_fits(d, n, NULL) && rsd_node_speaks(n, spec) ? n : NULL;
	}
	/* the least (cost, name): cost is the load, plus 1,024 for each
	 * replica of the label there (spread replicas first, then balance
	 * the load), plus 2^20 on the node to avoid (only if there is no
	 * other); the cheap tests first, the rules only for a node that
	 * would win */
	mark = label ? mark_label(d, label) : 0;
	if (d->nheap_broken)
		return place_walk(d, spec, avoid, mark);
	rsd_node *n = place_by_load(d, spec, avoid, mark);
	if (d->check_tables && n != place_walk(d, spec, avoid, mark)) {
		/* RS_CHECK_TABLES (the integration tests): both ways agree */
		log_warnx("RS_CHECK_TABLES: placement of %s: %s by load, %s by the walk",
			  label ? label : "-", n ? n->n.name : "none",
			  place_walk(d, spec, avoid, mark) ?
			  place_walk(d, spec, avoid, mark)->n.name : "none");
		abort();
	}
	return n;
}

rsd_node *rsd_place_label(rsd *d, const char *want, const char *avoid,
			  const char *label)
{
	rsd_svc *s = label ? rsd_svc_find(d, label) : NULL;
	rs_spec any;

	if (s)
		return rsd_place_spec(d, &s->s.spec, want, avoid);
	rs_spec_init(&any);
	if (label)
		rs_strlcpy(any.label, label, sizeof any.label);
	return rsd_place_spec(d, label ? &any : NULL, want, avoid);
}

/* Watches instance id: its node must speak of it within RSD_WATCH_MS. */
static void watch_add(rsd *d, uint64_t id)
{
	/* unwatched if out of memory: its node's next Hello still tells */
	(void)dueq_push(&d->watch, id, clock_mono_ms() + RSD_WATCH_MS);
}

int rsd_inst_move(rsd *d, rsd_inst *in, instsm_event ev, const instsm_in *x,
		  instsm_fx *fx)
{
	instsm_in none = { .reported = RS_IS_UNKNOWN };
	rs_istate s = in->si.info.state;
	int r = instsm_step(&s, ev, x ? x : &none, fx);

	if (r < 0) {
		log_warnx("%s/%llu: %s refused in state %s (a bug), ignored",
			  in->si.info.label, (unsigned long long)in->si.info.id,
			  instsm_event_to_string(ev), rs_istate_to_string(in->si.info.state));
		return r;
	}
	/* a decision is undone if its transaction fails; what the agent
	 * reports and a node's loss are facts, which the table keeps */
	if (ev != IM_EV_REPORT && ev != IM_EV_NODE_LOST)
		rsd_tx_save(d, in);
	if (s != in->si.info.state) {
		inst_tally(d, in, in->si.info.state, -1);
		inst_tally(d, in, s, 1);
	}
	if (inst_class(s) == inst_class(in->si.info.state)) {
		/* the node's counts stay: no round trip through its place in
		 * the load heap (a running instance's status report took
		 * ~24 name comparisons there, 17 % of rsd's loop in a burst
		 * from 5,000 agents) */
		in->si.info.state = s;
	} else {
		inst_account(d, in, -1);
		in->si.info.state = s;
		inst_account(d, in, 1);
	}
	if (fx->fx & IM_FX_CLEAR)
		in->si.info.pid = 0;
	if (fx->fx & IM_FX_START)
		watch_add(d, in->si.info.id);
	return 0;
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t agent_msgs_sum(const rsd *d)
{
	uint64_t n = 0;

	for (int t = 0; t < RS_MSG__NR; t++)
		n += d->agent_msgs[t];
	return n;
}

static uint64_t ctl_sum(const rsd *d)
{
	uint64_t n = 0;

	for (int v = 0; v < RS_V__NR; v++)
		for (int e = 0; e < RS_E__NR; e++)
			n += d->ctl_requests[v][e];
	return n;
}

static void turn_begin_cb(struct ev_loop *loop, ev_check *w, int revents)
{
	rsd *d = w->data;

	(void)loop;
	(void)revents;
	d->turn_t0 = clock_mono_ns();
	d->turn_period_ns = 0;
	if (!d->slow_turn_ms)
		return;
	d->turn_cpu0 = thread_cpu_ns();
	d->turn_msgs0 = agent_msgs_sum(d);
	d->turn_ctl0 = ctl_sum(d);
	d->turn_commits0 = d->h_commit.count;
	d->turn_commit_s0 = d->h_commit.sum;
	d->turn_zap0 = d->zap_requests;
}

void rsd_turn_watch(rsd *d)
{
	ev_check_init(&d->turn_w, turn_begin_cb);
	ev_set_priority(&d->turn_w, EV_MAXPRI);   /* before anything it polled */
	d->turn_w.data = d;
	ev_check_start(d->loop, &d->turn_w);
}

void rsd_turn_end(rsd *d)
{
	char period[160] = "";
	uint64_t ns;

	if (!d->turn_t0)
		return;   /* the first prepare, before any poll */
	ns = clock_mono_ns() - d->turn_t0;
	d->turn_t0 = 0;
	prom_hist_observe(&d->h_turn, (double)ns / 1e9);
	if (!d->slow_turn_ms || ns < (uint64_t)d->slow_turn_ms * 1000000ull)
		return;
	if (d->turn_period_ns) {
		const uint64_t *p = d->period_part;

		snprintf(period, sizeof period, ", the period (%.2f ms: ticks %.2f, "
			 "moves %.2f, orders %.2f, converge %.2f, checks %.2f, prune "
			 "%.2f, trim %.2f)", (double)d->turn_period_ns / 1e6,
			 (p[1] - p[0]) / 1e6, (p[2] - p[1]) / 1e6, (p[3] - p[2]) / 1e6,
			 (p[4] - p[3]) / 1e6, (p[5] - p[4]) / 1e6, (p[6] - p[5]) / 1e6,
			 (p[7] - p[6]) / 1e6);
	}
	log_info("slow turn: %.2f ms (%.2f ms of it on a CPU): %llu agent messages, "
		 "%llu control requests, %llu handshakes judged, %llu commits (%.2f ms)%s",
		 (double)ns / 1e6, (double)(thread_cpu_ns() - d->turn_cpu0) / 1e6,
		 (unsigned long long)(agent_msgs_sum(d) - d->turn_msgs0),
		 (unsigned long long)(ctl_sum(d) - d->turn_ctl0),
		 (unsigned long long)(d->zap_requests - d->turn_zap0),
		 (unsigned long long)(d->h_commit.count - d->turn_commits0),
		 (d->h_commit.sum - d->turn_commit_s0) * 1e3, period);
}

void rsd_watch_check(rsd *d, uint64_t now_ms, uint64_t budget_ns)
{
	uint64_t t0 = budget_ns ? clock_mono_ns() : 0, id;
	size_t done = 0;

	for (;;) {
		rsd_inst *in;
		rsd_node *n;

		if (budget_ns && ++done % 256 == 0 && clock_mono_ns() - t0 >= budget_ns)
			break;   /* the rest at the next turn */
		if (!dueq_pop_due(&d->watch, now_ms, &id))
			break;
		in = rsd_inst_find(d, id);
		if (!in || in->si.info.state != RS_IS_PENDING)
			continue;   /* its node spoke of it, or it is gone */
		n = rsd_node_find(d, in->si.node);
		if (!n || !n->connected || n->sm.state != NM_UP ||
		    rsd_order_pending(n, in->si.info.id, false))
			continue;   /* its Hello, or the order's resend, will tell */
		log_warnx("%s/%llu: node %s has said nothing of it for %u ms; "
			  "asking it what it runs", in->si.info.label,
			  (unsigned long long)in->si.info.id, n->n.name, RSD_WATCH_MS);
		d->watch_rehellos++;
		rsd_ask_hello(d, n);
	}
}

/* Creates, stores and starts want instances of service s, in one
 * transaction: an apply of 100 services of 60 replicas was 6,000
 * commits in one turn of the loop. Each is placed in turn (the ones
 * before it count: they are linked at once, and unlinked again if the
 * commit fails). Returns 0 when all were started, -ENODEV when no node
 * took the rest (the ones placed are started), -EIO when the store
 * refused (none is); *started (may be NULL) says how many. */
int rsd_start_instances(rsd *d, rsd_svc *s, uint32_t want, uint32_t *started)
{
	rsd_inst **made = want ? calloc(want, sizeof *made) : NULL;
	uint32_t n = 0;
	int r = 0;

	if (started)
		*started = 0;
	if (!want)
		return 0;
	/* a service no node takes (converge tries it every period) costs no
	 * store work: asked before the transaction, whose begin commits the
	 * loop's batch of events first (which may change the nodes: the
	 * placements themselves come after it) */
	if (made && !rsd_place_label(d, s->s.spec.node, NULL, s->s.spec.label)) {
		free(made);
		return -ENODEV;
	}
	if (!made || rsd_tx_begin(d) < 0) {
		free(made);
		return -EIO;
	}
	for (; n < want; n++) {
		rsd_node *to = rsd_place_label(d, s->s.spec.node, NULL, s->s.spec.label);
		rsd_inst *in;
		instsm_fx fx;

		if (!to) {
			r = -ENODEV;
			break;
		}
		if (!(in = calloc(1, sizeof *in))) {
			r = -EIO;
			break;
		}
		in->si.info.id = d->next_inst_id + n;
		rs_strlcpy(in->si.info.label, s->s.spec.label, sizeof in->si.info.label);
		in->si.info.generation = s->s.generation;
		rs_strlcpy(in->si.node, to->n.name, sizeof in->si.node);
		if (rsd_inst_move(d, in, IM_EV_PLACE, NULL, &fx) < 0 ||
		    store_instance_put(d->st, &in->si) < 0) {
			rsd_tx_abort(d);   /* it was saved: restored, then freed */
			free(in);
			r = -EIO;
			break;
		}
		rsd_event(d, s->s.spec.label, in->si.info.id, to->n.name, "up", "replica");
		rsd_inst_link(d, in);   /* the next placement counts it */
		made[n] = in;
	}
	if (r == -EIO || (n > 0 ? rsd_tx_commit(d) : (rsd_tx_abort(d), 0)) < 0) {
		if (d->tx_open)
			rsd_tx_abort(d);
		while (n > 0) {   /* linked last, first in the list */
			rsd_inst *in = made[--n];

			rsd_inst_unlink(d, d->insts);
			free(in);
		}
		free(made);
		return -EIO;
	}
	d->next_inst_id += n;
	for (uint32_t i = 0; i < n; i++)
		rsd_send_start(d, made[i]);
	free(made);
	if (started)
		*started = n;
	return r;
}

int rsd_start_instance(rsd *d, rsd_svc *s)
{
	return rsd_start_instances(d, s, 1, NULL);
}

static uint64_t hash_svc(const void *e)
{
	return rsd_tab_hash_str(((const rsd_svc *)e)->s.spec.label);
}

static uint64_t hash_inst(const void *e)
{
	return rsd_tab_hash_u64(((const rsd_inst *)e)->si.info.id);
}

static uint64_t hash_node(const void *e)
{
	return rsd_tab_hash_str(((const rsd_node *)e)->n.name);
}

static uint64_t hash_inst_node(const void *e)
{
	return rsd_tab_hash_str(((const rsd_inst *)e)->si.node);
}

static uint64_t hash_inst_label(const void *e)
{
	return rsd_tab_hash_str(((const rsd_inst *)e)->si.info.label);
}

uint64_t rsd_counter_hash(const char *kind, const char *label, const char *node,
			  const char *reason)
{
	uint64_t h = rsd_tab_hash_str(kind);

	h = rsd_tab_hash_u64(h ^ rsd_tab_hash_str(label));
	h = rsd_tab_hash_u64(h ^ rsd_tab_hash_str(node));
	return rsd_tab_hash_u64(h ^ rsd_tab_hash_str(reason));
}

static uint64_t hash_counter(const void *e)
{
	const rsd_counter *c = e;

	return rsd_counter_hash(c->kind, c->label, c->node, c->reason);
}

static uint64_t hash_counter_label(const void *e)
{
	return rsd_tab_hash_str(((const rsd_counter *)e)->label);
}

static bool counter_of(const void *e, const void *label)
{
	return strcmp(((const rsd_counter *)e)->label, label) == 0;
}

void rsd_counter_link(rsd *d, rsd_counter *c)
{
	c->prev = NULL;
	c->next = d->counters;
	if (c->next)
		c->next->prev = c;
	d->counters = c;
	(void)rsd_tab_add(&d->tcounters, c);   /* else broken: finds walk */
	(void)rsd_tab_add(&d->tcnt_label, c);
}

void rsd_counter_unlink(rsd *d, rsd_counter *c)
{
	*(c->prev ? &c->prev->next : &d->counters) = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next = c->prev = NULL;
	rsd_tab_del(&d->tcounters, c);
	rsd_tab_del(&d->tcnt_label, c);
}

static rsd_counter *walk_counters(rsd_counter *c, const char *label)
{
	while (c && strcmp(c->label, label) != 0)
		c = c->next;
	return c;
}

rsd_counter *rsd_label_counters(rsd *d, const char *label)
{
	if (d->tcnt_label.broken)
		return walk_counters(d->counters, label);
	return rsd_tab_first(&d->tcnt_label, rsd_tab_hash_str(label), counter_of, label);
}

rsd_counter *rsd_label_counters_next(rsd *d, const rsd_counter *c)
{
	if (d->tcnt_label.broken)
		return walk_counters(c->next, c->label);
	return rsd_tab_more(&d->tcnt_label, c, counter_of, c->label);
}

static bool inst_on(const void *e, const void *node)
{
	return strcmp(((const rsd_inst *)e)->si.node, node) == 0;
}

static bool inst_of(const void *e, const void *label)
{
	return strcmp(((const rsd_inst *)e)->si.info.label, label) == 0;
}

void rsd_tables_init(rsd *d)
{
	rsd_tab_init(&d->tsvcs, offsetof(rsd_svc, hnext), hash_svc);
	rsd_tab_init(&d->tinsts, offsetof(rsd_inst, hnext), hash_inst);
	rsd_tab_init(&d->tnodes, offsetof(rsd_node, hnext), hash_node);
	rsd_tab_init(&d->tbynode, offsetof(rsd_inst, nnext), hash_inst_node);
	rsd_tab_init(&d->tbylabel, offsetof(rsd_inst, lnext), hash_inst_label);
	rsd_tab_init(&d->tcounters, offsetof(rsd_counter, hnext), hash_counter);
	rsd_tab_init(&d->tcnt_label, offsetof(rsd_counter, lnext), hash_counter_label);
	d->insts_gen = 1;   /* a service's cut-off (sup_gen 0) is not known */
}

/* Which of its node's counts an instance in state st is in
 * (inst_account). */
enum { INST_UNCOUNTED, INST_LIVE, INST_LOST };

static int inst_class(rs_istate st)
{
	return st == RS_IS_LOST ? INST_LOST : rsd_istate_live(st) ? INST_LIVE : INST_UNCOUNTED;
}

/* Adds (dir 1) or takes away (-1) a linked live or lost instance's
 * share of its node's counts. */
static void inst_account(rsd *d, rsd_inst *in, int dir)
{
	int c = inst_class(in->si.info.state);
	rsd_node *n;

	if (!in->linked || c == INST_UNCOUNTED || !(n = rsd_node_find(d, in->si.node)))
		return;
	if (c == INST_LOST) {
		if (dir > 0)
			n->lost++;
		else if (n->lost)
			n->lost--;
		return;
	}
	if (dir > 0)
		n->live++;
	else if (n->live)
		n->live--;
	heap_fix(d, n);
}

/* The states of an instance on its way after rsd's start: not heard of,
 * placed, starting, stopping, on a lost node (settle_check). */
static bool inst_on_way(rs_istate st)
{
	return st == RS_IS_UNKNOWN || st == RS_IS_PENDING || st == RS_IS_STARTING ||
	       st == RS_IS_STOPPING || st == RS_IS_LOST;
}

/* Adds (dir 1) or takes away (-1) a linked instance in state st from
 * the count of its state; one leaving a state on the way while rsd's
 * start settles is the latest move of the start. */
static void inst_tally(rsd *d, const rsd_inst *in, rs_istate st, int dir)
{
	if (!in->linked || (unsigned)st >= RS_IS__NR)
		return;
	if (dir > 0) {
		d->inst_nstate[st]++;
		return;
	}
	if (d->inst_nstate[st])
		d->inst_nstate[st]--;
	if (d->settle_wait && inst_on_way(st))
		d->settle_last_ms = clock_mono_ms();
}

/* A walk that found nothing in a broken table's chain may miss what was
 * added after it broke: the list, then. */
static rsd_inst *walk_list(const rsd_inst *from, rsd_tab_eq eq, const void *key)
{
	for (; from && !eq(from, key); from = from->next)
		;
	return (rsd_inst *)from;
}

rsd_inst *rsd_node_insts(rsd *d, const char *node)
{
	if (d->tbynode.broken)
		return walk_list(d->insts, inst_on, node);
	return rsd_tab_first(&d->tbynode, rsd_tab_hash_str(node), inst_on, node);
}

rsd_inst *rsd_node_insts_next(rsd *d, const rsd_inst *in)
{
	if (d->tbynode.broken)
		return walk_list(in->next, inst_on, in->si.node);
	return rsd_tab_more(&d->tbynode, in, inst_on, in->si.node);
}

rsd_inst *rsd_label_insts(rsd *d, const char *label)
{
	if (d->tbylabel.broken)
		return walk_list(d->insts, inst_of, label);
	return rsd_tab_first(&d->tbylabel, rsd_tab_hash_str(label), inst_of, label);
}

rsd_inst *rsd_label_insts_next(rsd *d, const rsd_inst *in)
{
	if (d->tbylabel.broken)
		return walk_list(in->next, inst_of, in->si.info.label);
	return rsd_tab_more(&d->tbylabel, in, inst_of, in->si.info.label);
}

/* Whether converge may pass s by: its last look found every replica and
 * nothing it counted changed since. */
static bool converged(const rsd_svc *s)
{
	return s->conv_ok && s->conv_desired == s->s.desired &&
	       s->conv_replicas == s->s.spec.replicas;
}

static int count_event(const rs_event *ev, void *arg)
{
	(void)ev;
	++*(unsigned *)arg;
	return 0;
}

int rsd_tables_check(rsd *d, char *why, size_t len)
{
	size_t ninsts = 0, seen;

	/* a service's newest known event is its newest: a read of its
	 * events from there down misses none */
	for (rsd_svc *s = d->svcs; s; s = s->next) {
		unsigned above = 0;

		if (s->ev_newest &&
		    store_event_each(d->st, s->s.spec.label, s->ev_newest, 1, count_event,
				     &above) == 0 && above) {
			snprintf(why, len, "service %s has an event above its newest "
				 "known one (seq %llu)", s->s.spec.label,
				 (unsigned long long)s->ev_newest);
			return -EINVAL;
		}
	}

	for (rsd_inst *in = d->insts; in; in = in->next, ninsts++) {
		if (!in->linked || rsd_inst_find(d, in->si.info.id) != in) {
			snprintf(why, len, "instance %llu not found by its id",
				 (unsigned long long)in->si.info.id);
			return -EINVAL;
		}
		seen = 0;
		for (rsd_inst *x = rsd_node_insts(d, in->si.node); x && !seen;
		     x = rsd_node_insts_next(d, x))
			seen += x == in;
		for (rsd_inst *x = rsd_label_insts(d, in->si.info.label); x && seen == 1;
		     x = rsd_label_insts_next(d, x))
			seen += x == in;
		if (seen != 2) {
			snprintf(why, len, "instance %llu not found on node %s or under "
				 "label %s", (unsigned long long)in->si.info.id,
				 in->si.node, in->si.info.label);
			return -EINVAL;
		}
	}
	{
		size_t by[RS_IS__NR] = { 0 };

		for (rsd_inst *in = d->insts; in; in = in->next)
			if ((unsigned)in->si.info.state < RS_IS__NR)
				by[in->si.info.state]++;
		for (int st = 0; st < RS_IS__NR; st++) {
			if (by[st] != d->inst_nstate[st]) {
				snprintf(why, len, "%zu instances %s, %zu counted",
					 by[st], rs_istate_to_string(st),
					 d->inst_nstate[st]);
				return -EINVAL;
			}
		}
	}
	if ((!d->tbynode.broken && d->tbynode.n != ninsts) ||
	    (!d->tbylabel.broken && d->tbylabel.n != ninsts)) {
		snprintf(why, len, "%zu instances listed, %zu by node, %zu by label",
			 ninsts, d->tbynode.n, d->tbylabel.n);
		return -EINVAL;
	}
	for (rsd_svc *s = d->svcs; s; s = s->next) {
		uint32_t have = 0;

		if (s->s.desired != RS_WANT_UP || !converged(s))
			continue;
		for (rsd_inst *in = d->insts; in; in = in->next)
			have += !in->si.standby && !strcmp(in->si.info.label, s->s.spec.label);
		if (have < s->s.spec.replicas) {
			snprintf(why, len, "service %s has %u of %u instances, and converge "
				 "would not look at it", s->s.spec.label, have,
				 s->s.spec.replicas);
			return -EINVAL;
		}
	}
	/* a superseded cut-off that says it is current is */
	for (rsd_svc *s = d->svcs; s; s = s->next) {
		uint64_t cut;

		if (s->sup_gen != d->insts_gen)
			continue;
		cut = superseded_cut(d, s->s.spec.label, s->sup_want);
		if (cut != UINT64_MAX && cut != s->sup_cut) {
			snprintf(why, len, "service %s keeps the superseded cut-off %llu, "
				 "its instances give %llu", s->s.spec.label,
				 (unsigned long long)s->sup_cut, (unsigned long long)cut);
			return -EINVAL;
		}
	}
	for (rsd_node *n = d->nodes; n; n = n->next) {
		uint32_t live = 0, lost = 0;

		for (rsd_inst *in = d->insts; in; in = in->next) {
			if (strcmp(in->si.node, n->n.name) != 0)
				continue;
			live += rsd_istate_live(in->si.info.state);
			lost += in->si.info.state == RS_IS_LOST;
			/* rsd_reschedule_lost looks for them on nodes not up */
			if (in->si.info.state == RS_IS_LOST && n->sm.state == NM_UP) {
				snprintf(why, len, "instance %llu lost on node %s, which is up",
					 (unsigned long long)in->si.info.id, n->n.name);
				return -EINVAL;
			}
		}
		if (live != n->live) {
			snprintf(why, len, "node %s counts %u live instances, has %u",
				 n->n.name, n->live, live);
			return -EINVAL;
		}
		if (lost != n->lost) {
			snprintf(why, len, "node %s counts %u lost instances, has %u",
				 n->n.name, n->lost, lost);
			return -EINVAL;
		}
	}
	for (rsd_node *n = d->nodes; n; n = n->next)
		if (n->placeable != node_takes(n)) {
			snprintf(why, len, "node %s is %splaceable in the load heap, "
				 "should be %splaceable (rsd_node_placeable not called)",
				 n->n.name, n->placeable ? "" : "not ",
				 node_takes(n) ? "" : "not ");
			return -EINVAL;
		}
	for (size_t i = 0; !d->nheap_broken && i < d->nheap_n; i++)
		if (d->nheap[i]->heap_i != i ||
		    (i > 0 && node_less(d->nheap[i], d->nheap[(i - 1) / 2]))) {
			snprintf(why, len, "the nodes' load heap is out of order at %zu (%s)",
				 i, d->nheap[i]->n.name);
			return -EINVAL;
		}
	{
		size_t nc = 0;

		for (rsd_counter *c = d->counters; c; c = c->next)
			nc++;
		if ((!d->tcounters.broken && d->tcounters.n != nc) ||
		    (!d->tcnt_label.broken && d->tcnt_label.n != nc)) {
			snprintf(why, len, "%zu counters, %zu by their keys", nc,
				 d->tcounters.n);
			return -EINVAL;
		}
	}
	{
		/* the period's list: every node once, the one heard longest
		 * ago first, its links both ways */
		size_t nodes = 0, quiet = 0;
		const rsd_node *prev = NULL;

		for (rsd_node *n = d->nodes; n; n = n->next)
			nodes++;
		for (rsd_node *n = d->quiet_head; n && quiet <= nodes; n = n->qnext) {
			if (n->qprev != prev ||
			    (prev && prev->sm.heard_ms > n->sm.heard_ms)) {
				snprintf(why, len, "the nodes by silence are out of order "
					 "at %s", n->n.name);
				return -EINVAL;
			}
			prev = n;
			quiet++;
		}
		if (quiet != nodes || d->quiet_tail != prev) {
			snprintf(why, len, "%zu nodes, %zu by silence", nodes, quiet);
			return -EINVAL;
		}
	}
	return 0;
}

void rsd_inst_set_node(rsd *d, rsd_inst *in, const char *node)
{
	if (!in->linked) {
		rs_strlcpy(in->si.node, node, sizeof in->si.node);
		return;
	}
	inst_account(d, in, -1);
	rsd_tab_del(&d->tbynode, in);
	rs_strlcpy(in->si.node, node, sizeof in->si.node);
	rsd_tab_add(&d->tbynode, in);
	inst_account(d, in, 1);
}

void rsd_svc_link(rsd *d, rsd_svc *s)
{
	s->next = d->svcs;
	d->svcs = s;
	rsd_tab_add(&d->tsvcs, s);
	d->svcs_gen++;   /* (rsd_svc_forget bumps it too) */
}

void rsd_svc_forget(rsd *d, rsd_svc *s)
{
	for (rsd_svc **pp = &d->svcs; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	rsd_tab_del(&d->tsvcs, s);
	d->svcs_gen++;   /* rsd_svcs_sorted's copy names it */
	rs_spec_clear(&s->s.spec);
	free(s->ev_ring);
	free(s);
}

rsd_svc **rsd_svcs_sorted(rsd *d, size_t *n)
{
	size_t k = 0;
	rsd_svc **v;

	if (d->svc_sorted && d->svc_sorted_gen == d->svcs_gen) {
		*n = d->nsvc_sorted;
		return d->svc_sorted;
	}
	for (rsd_svc *s = d->svcs; s; s = s->next)
		k++;
	v = realloc(d->svc_sorted, (k ? k : 1) * sizeof *v);
	if (!v)
		return NULL;
	k = 0;
	for (rsd_svc *s = d->svcs; s; s = s->next)
		v[k++] = s;
	qsort(v, k, sizeof *v, rsd_svc_label_cmp);
	d->svc_sorted = v;
	d->nsvc_sorted = *n = k;
	d->svc_sorted_gen = d->svcs_gen;
	return v;
}

void rsd_inst_link(rsd *d, rsd_inst *in)
{
	in->next = d->insts;
	in->prev = NULL;
	if (d->insts)
		d->insts->prev = in;
	d->insts = in;
	rsd_tab_add(&d->tinsts, in);
	rsd_tab_add(&d->tbynode, in);
	rsd_tab_add(&d->tbylabel, in);
	in->linked = true;
	inst_account(d, in, 1);
	inst_tally(d, in, in->si.info.state, 1);
	d->insts_gen++;
}

void rsd_inst_unlink(rsd *d, rsd_inst *in)
{
	inst_account(d, in, -1);
	inst_tally(d, in, in->si.info.state, -1);
	*(in->prev ? &in->prev->next : &d->insts) = in->next;
	if (in->next)
		in->next->prev = in->prev;
	in->next = in->prev = NULL;
	rsd_tab_del(&d->tinsts, in);
	rsd_tab_del(&d->tbynode, in);
	rsd_tab_del(&d->tbylabel, in);
	in->linked = false;
	d->insts_gen++;
	rsd_converge_due(d, in->si.info.label);
}

void rsd_converge_due(rsd *d, const char *label)
{
	rsd_svc *s = rsd_svc_find(d, label);

	if (s)
		s->conv_ok = false;
}

static void quiet_unlink(rsd *d, rsd_node *n)
{
	*(n->qprev ? &n->qprev->qnext : &d->quiet_head) = n->qnext;
	*(n->qnext ? &n->qnext->qprev : &d->quiet_tail) = n->qprev;
	n->qprev = n->qnext = NULL;
}

void rsd_node_heard(rsd *d, rsd_node *n)
{
	rsd_node *p;

	if (n->qprev || n->qnext || d->quiet_head == n)
		quiet_unlink(d, n);
	/* from the newest back: a node just heard goes last at once; one
	 * whose Hello was undone (hello_unrecorded) walks back to its time */
	for (p = d->quiet_tail; p && p->sm.heard_ms > n->sm.heard_ms; p = p->qprev)
		;
	n->qprev = p;
	n->qnext = p ? p->qnext : d->quiet_head;
	*(p ? &p->qnext : &d->quiet_head) = n;
	*(n->qnext ? &n->qnext->qprev : &d->quiet_tail) = n;
}

void rsd_node_link(rsd *d, rsd_node *n)
{
	n->link_seq = ++d->node_links;
	n->next = d->nodes;
	d->nodes = n;
	rsd_tab_add(&d->tnodes, n);
	rsd_node_heard(d, n);
	/* what was placed on it before it was known (rsd_load: instances
	 * first) counts now */
	n->live = n->lost = 0;
	for (rsd_inst *in = rsd_node_insts(d, n->n.name); in; in = rsd_node_insts_next(d, in)) {
		n->live += rsd_istate_live(in->si.info.state);
		n->lost += in->si.info.state == RS_IS_LOST;
	}
	n->placeable = node_takes(n);
	heap_add(d, n);
}

void rsd_node_forget(rsd *d, rsd_node *n)
{
	rsd_agents_flush(d);   /* (n leaves d->out_due) */
	for (rsd_node **pp = &d->nodes; *pp; pp = &(*pp)->next) {
		if (*pp == n) {
			*pp = n->next;
			break;
		}
	}
	rsd_tab_del(&d->tnodes, n);
	quiet_unlink(d, n);
	heap_remove(d, n);
	rsd_node_set_labels(n, NULL, 0);
	orders_out_free(&n->out);
	evchain_free(&n->ev);
	sendq_clear(&n->outq);
	free(n);
}

rsd_svc *rsd_svc_find(rsd *d, const char *label)
{
	if (!d->tsvcs.broken) {
		for (rsd_svc *s = rsd_tab_chain(&d->tsvcs, rsd_tab_hash_str(label)); s;
		     s = s->hnext)
			if (strcmp(s->s.spec.label, label) == 0)
				return s;
		return NULL;
	}
	for (rsd_svc *s = d->svcs; s; s = s->next)
		if (strcmp(s->s.spec.label, label) == 0)
			return s;
	return NULL;
}

rsd_node *rsd_node_find(rsd *d, const char *name)
{
	if (!d->tnodes.broken) {
		for (rsd_node *n = rsd_tab_chain(&d->tnodes, rsd_tab_hash_str(name)); n;
		     n = n->hnext)
			if (strcmp(n->n.name, name) == 0)
				return n;
		return NULL;
	}
	for (rsd_node *n = d->nodes; n; n = n->next)
		if (strcmp(n->n.name, name) == 0)
			return n;
	return NULL;
}

rsd_inst *rsd_inst_find(rsd *d, uint64_t id)
{
	if (!d->tinsts.broken) {
		for (rsd_inst *i = rsd_tab_chain(&d->tinsts, rsd_tab_hash_u64(id)); i;
		     i = i->hnext)
			if (i->si.info.id == id)
				return i;
		return NULL;
	}
	for (rsd_inst *i = d->insts; i; i = i->next)
		if (i->si.info.id == id)
			return i;
	return NULL;
}

static int inst_newer(const void *a, const void *b)
{
	uint64_t x = (*(rsd_inst *const *)a)->si.info.id;
	uint64_t y = (*(rsd_inst *const *)b)->si.info.id;

	return x > y ? -1 : x < y;
}

/* The instances of a chain (first, next: a label's or a node's) into
 * *v (grown, *cap its room; the caller's to free either way), newest
 * first; *n of them. 0 or -ENOMEM. */
static int chain_newest(rsd *d, rsd_inst *first, rsd_inst *(*next)(rsd *, const rsd_inst *),
			rsd_inst ***v, size_t *cap, size_t *n)
{
	size_t k = 0;

	for (rsd_inst *in = first; in; in = next(d, in)) {
		rsd_inst **w = rs_grow(*v, cap, k, sizeof *w, 64);

		if (!w)
			return -ENOMEM;
		*v = w;
		(*v)[k++] = in;
	}
	if (k > 1)   /* (none: *v may still be NULL) */
		qsort(*v, k, sizeof **v, inst_newer);
	*n = k;
	return 0;
}

const rsd_label *rsd_label_view(rsd *d, const char *label, rsd_label_buf *buf)
{
	rsd_svc *s = rsd_svc_find(d, label);
	size_t k;

	if (chain_newest(d, rsd_label_insts(d, label), rsd_label_insts_next, &buf->v,
			 &buf->cap, &k) < 0 || (!s && !k))
		return NULL;
	buf->l = (rsd_label){ .label = s ? s->s.spec.label : label, .svc = s,
			      .insts = buf->v, .ninsts = k };
	return &buf->l;
}

int rsd_node_insts_newest(rsd *d, const char *node, rsd_inst ***out, size_t *n)
{
	size_t cap = 0;

	*out = NULL;
	if (chain_newest(d, rsd_node_insts(d, node), rsd_node_insts_next, out, &cap, n) < 0) {
		free(*out);
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}

void rsd_label_buf_free(rsd_label_buf *buf)
{
	free(buf->v);
	memset(buf, 0, sizeof *buf);
}

rsd_pending *rsd_pending_for(rsd *d, const char *label)
{
	for (rsd_pending *p = d->pending; p; p = p->next)
		if (strcmp(p->label, label) == 0 || rsd_update_has_label(p->upd, label))
			return p;
	return NULL;
}

void rsd_event(rsd *d, const char *label, uint64_t inst, const char *node,
	       const char *kind, const char *fmt, ...)
{
	rs_event ev;
	va_list ap;
	int r;

	memset(&ev, 0, sizeof ev);
	ev.time_ms = clock_wall_ms();
	rs_strlcpy(ev.label, label ? label : "", sizeof ev.label);
	ev.instance = inst;
	rs_strlcpy(ev.node, node ? node : "", sizeof ev.node);
	rs_strlcpy(ev.kind, kind, sizeof ev.kind);
	va_start(ap, fmt);
	vsnprintf(ev.detail, sizeof ev.detail, fmt, ap);
	va_end(ap);
	rs_strlcpy(ev.actor, d->cur_actor, sizeof ev.actor);
	r = store_event_add(d->st, &ev);
	if (r < 0)
		log_warnx("cannot record event %s %s: %s, ignoring", kind,
			  ev.label, store_errmsg(d->st));
	else if (ev.label[0])
		rsd_event_written(d, ev.label, ev.seq);
}

void rsd_event_seen(rsd *d, const char *label, uint64_t seq)
{
	rsd_svc *s = rsd_svc_find(d, label);

	if (s && seq > s->ev_newest)
		s->ev_newest = seq;
}

/* A service's newest event seqs, oldest first from head (a ring), as of
 * the store's rows: every event of the label above seq[head] is in it,
 * and with `all` there is no older one either. Only a hint: each use
 * reads the rows and checks their label (a rolled-back transaction may
 * have left a seq no row has, or one another label's event took). */
struct rsd_evring {
	uint64_t seq[RSD_EV_RING];
	uint32_t head, n;
	bool     all;
};

static uint64_t ring_at(const struct rsd_evring *g, uint32_t i)
{
	return g->seq[(g->head + i) % RSD_EV_RING];
}

static void ring_push(struct rsd_evring *g, uint64_t seq)
{
	if (g->n == RSD_EV_RING) {
		g->head = (g->head + 1) % RSD_EV_RING;
		g->n--;
		g->all = false;
	}
	g->seq[(g->head + g->n) % RSD_EV_RING] = seq;
	g->n++;
}

void rsd_event_written(rsd *d, const char *label, uint64_t seq)
{
	rsd_svc *s = rsd_svc_find(d, label);

	if (!s)
		return;
	if (s->ev_ring && s->ev_ring->n && seq <= ring_at(s->ev_ring, s->ev_ring->n - 1)) {
		/* a seq again (its first owner rolled back): the ring's
		 * order is gone, the next read makes it again */
		free(s->ev_ring);
		s->ev_ring = NULL;
	}
	if (s->ev_ring)
		ring_push(s->ev_ring, seq);
	if (seq > s->ev_newest)
		s->ev_newest = seq;
}

/* The newest `limit` of s's events from its ring, oldest first, each row
 * read and checked: -ESTALE when one is gone or another label's (the
 * caller scans), else fn's first non-zero or 0. */
static int ring_answer(rsd *d, const rsd_svc *s, uint32_t limit, store_event_fn fn,
		       void *arg)
{
	const struct rsd_evring *g = s->ev_ring;
	uint32_t k = limit < g->n ? limit : g->n;
	rs_event *ev = k ? calloc(k, sizeof *ev) : NULL;
	int r = 0;

	if (k && !ev)
		return -ENOMEM;
	for (uint32_t i = 0; i < k && r == 0; i++) {
		r = store_event_get(d->st, ring_at(g, g->n - k + i), &ev[i]);
		if (r == -ENOENT || (r == 0 && strcmp(ev[i].label, s->s.spec.label) != 0))
			r = -ESTALE;
	}
	for (uint32_t i = 0; i < k && r == 0; i++)
		r = fn(&ev[i], arg);
	free(ev);
	return r;
}

/* A scan's rows (oldest first), passed on to fn if any, the newest
 * RSD_EV_RING of their seqs kept: the i-th of the newest k is
 * seqs[(n - k + i) % RSD_EV_RING]. */
struct ring_fill {
	store_event_fn fn;
	void          *arg;
	uint64_t       seqs[RSD_EV_RING];
	uint32_t       n;
};

static int fill_one(const rs_event *ev, void *arg)
{
	struct ring_fill *f = arg;

	f->seqs[f->n++ % RSD_EV_RING] = ev->seq;
	return f->fn ? f->fn(ev, f->arg) : 0;
}

/* RS_CHECK_TABLES (the integration tests): the ring answered what the
 * scan would have. */
static void ring_check(rsd *d, const rsd_svc *s, uint32_t limit)
{
	const struct rsd_evring *g = s->ev_ring;
	struct ring_fill f = { .fn = NULL };
	uint32_t k = limit < g->n ? limit : g->n;
	bool same;

	if (store_event_each_upto(d->st, s->s.spec.label, 0, s->ev_newest, limit,
				  fill_one, &f) < 0)
		return;
	same = f.n == k;
	for (uint32_t i = 0; same && i < k; i++)
		same = f.seqs[(f.n - k + i) % RSD_EV_RING] == ring_at(g, g->n - k + i);
	if (!same) {
		log_warnx("RS_CHECK_TABLES: the newest %u events of %s: %u rows from "
			  "the ring, %u by the scan, or not the same", limit,
			  s->s.spec.label, k, f.n);
		abort();
	}
}

int rsd_label_events(rsd *d, const char *label, uint64_t after, uint32_t limit,
		     store_event_fn fn, void *arg)
{
	rsd_svc *s = rsd_svc_find(d, label);
	struct ring_fill *f;
	int r;

	if (!s || after || !limit)
		return store_event_each_upto(d->st, label, after, s ? s->ev_newest : 0,
					     limit, fn, arg);
	if (s->ev_ring && (limit <= s->ev_ring->n || s->ev_ring->all)) {
		r = ring_answer(d, s, limit, fn, arg);
		if (r == 0 && d->check_tables)
			ring_check(d, s, limit);
		if (r != -ESTALE)
			return r;
	}
	/* the scan; its rows (the label's newest, up to its newest event)
	 * make the ring again */
	free(s->ev_ring);
	s->ev_ring = NULL;
	if (!(f = calloc(1, sizeof *f)))
		return -ENOMEM;
	f->fn = fn;
	f->arg = arg;
	r = store_event_each_upto(d->st, label, 0, s->ev_newest, limit, fill_one, f);
	if (r == 0 && (s->ev_ring = calloc(1, sizeof *s->ev_ring))) {
		uint32_t keep = f->n < RSD_EV_RING ? f->n : RSD_EV_RING;

		for (uint32_t i = 0; i < keep; i++)
			ring_push(s->ev_ring, f->seqs[(f->n - keep + i) % RSD_EV_RING]);
		/* fewer than asked: the label has no other event */
		s->ev_ring->all = f->n < limit && f->n <= RSD_EV_RING;
	}
	free(f);
	return r;
}

/* Holds m (taken: left empty) or buf (taken) until the transaction ends. */
static int hold_order(rsd *d, rsd_node *n, rs_msg *m, uint8_t *buf, size_t len)
{
	struct rsd_order *o = calloc(1, sizeof *o);

	if (!o) {
		free(buf);
		d->tx_err = -ENOMEM;
		return -ENOMEM;
	}
	rs_strlcpy(o->node, n->n.name, sizeof o->node);
	if (m) {
		o->m = *m;
		memset(m, 0, sizeof *m);
	}
	o->buf = buf;
	o->len = len;
	o->next = d->tx_orders;
	d->tx_orders = o;
	return 0;
}

/* An outbox key: the instance, and whether the order is a Start or a
 * Signal (ids are below 2^40: HO_ID_MASK). A Signal's key is its own, so
 * that a signal waiting for its acknowledgement does not count as a Start
 * or Stop in flight (rsd_order_pending); two signals to one instance are
 * two orders, both applied, in order: an operator's HUP then KILL must
 * not become only the KILL. */
#define ORDER_KEY_START  (1ull << 63)
#define ORDER_KEY_SIGNAL (1ull << 62)

bool rsd_order_pending(const rsd_node *n, uint64_t id, bool start_only)
{
	return orders_out_has(&n->out, id | ORDER_KEY_START) ||
	       (!start_only && orders_out_has(&n->out, id));
}

static bool is_order(const rsd_node *n, const rs_msg *m)
{
	return (m->type == RS_MSG_START || m->type == RS_MSG_STOP ||
		m->type == RS_MSG_SIGNAL) && (n->features & RS_FEAT_ORDERS);
}

/* The outbox key of order m (is_order). */
static uint64_t order_key(const rs_msg *m)
{
	switch (m->type) {
	case RS_MSG_START:
		return m->u.start.instance_id | ORDER_KEY_START;
	case RS_MSG_SIGNAL:
		return m->u.signal.instance_id | ORDER_KEY_SIGNAL;
	default:
		return m->u.stop.instance_id;
	}
}

/* Encodes and sends m to n now; an order is numbered and kept until n
 * acknowledges it. An outbox that overflows (an agent that takes no
 * orders) is voided and the agent asked for a Hello: reconciliation
 * decides again from what it runs. */
static int deliver(rsd *d, rsd_node *n, rs_msg *m)
{
	bool order = is_order(n, m);
	uint8_t *buf;
	size_t len;
	int r;

	m->ack = n->acked_seq;
	if (n->features & RS_FEAT_ORDERS)
		m->epoch = d->epoch;
	m->order = order ? orders_out_next(&n->out) : 0;
	m->order_base = order ? n->out.acked : 0;
	r = wire_encode(m, &buf, &len);
	if (r < 0)
		return r;
	if (order && (r = orders_out_push_key(&n->out, m->order, order_key(m),
					      buf, len, clock_mono_ms())) < 0) {
		log_warnx("node %s: cannot keep order %llu (%s); asking it for a hello",
			  n->n.name, (unsigned long long)m->order, strerror(-r));
		orders_out_void(&n->out);
		rsd_ask_hello(d, n);
		return r;
	}
	r = rsd_agent_out(d, n, buf, len);
	if (r == 0)
		n->told_seq = m->ack;   /* the agent may let those events go */
	if (!order)
		free(buf);   /* (an order's bytes stay in the outbox) */
	if (r < 0)
		log_warnx("cannot send %s to node %s: %s%s",
			  rs_msg_type_to_string(m->type), n->n.name, strerror(-r),
			  order ? " (resent later)" : "");
	return order ? 0 : r;
}

int rsd_send_agent(rsd *d, rsd_node *n, rs_msg *m)
{
	if (!n || !n->connected)
		return -ENOTCONN;
	if (d->tx_open)
		return hold_order(d, n, m, NULL, 0);
	return deliver(d, n, m);
}

struct resend_ctx {
	rsd      *d;
	rsd_node *n;
};

static void resend_one(const uint8_t *buf, size_t len, void *arg)
{
	struct resend_ctx *c = arg;
	uint8_t *copy;

	if (!c->d->tx_open) {
		rsd_agent_out(c->d, c->n, buf, len);
		return;
	}
	copy = malloc(len ? len : 1);
	if (!copy) {
		c->d->tx_err = -ENOMEM;
		return;
	}
	memcpy(copy, buf, len);
	hold_order(c->d, c->n, NULL, copy, len);
}

void rsd_orders_resend(rsd *d, rsd_node *n)
{
	struct resend_ctx c = { d, n };

	if (n->connected)
		d->orders_resent += orders_out_due(&n->out, clock_mono_ms(), 0,
						   resend_one, &c);
}

void rsd_orders_due(rsd *d, uint64_t heard_ms)
{
	size_t orders = 0, nodes = 0;
	const rsd_node *first = NULL;

	for (rsd_node *n = d->nodes; n; n = n->next) {
		struct resend_ctx c = { d, n };
		size_t k;

		if (!n->connected || !orders_out_pending(&n->out))
			continue;
		k = orders_out_due(&n->out, heard_ms, RSD_ORDER_RESEND_MS, resend_one, &c);
		if (!k)
			continue;
		if (!first)
			first = n;
		orders += k;
		nodes++;
	}
	d->orders_resent += orders;
	/* one line a period, not one a node: a wave of thousands */
	if (nodes == 1)
		log_info("node %s: %zu orders not acknowledged in time, resent (from %llu)",
			 first->n.name, orders, (unsigned long long)(first->out.acked + 1));
	else if (nodes)
		log_info("%zu orders to %zu nodes (%s first) not acknowledged in time, "
			 "resent", orders, nodes, first->n.name);
}

/* Start (respec false) or a new spec for a live instance (respec true). */
static int send_spec(rsd *d, rsd_inst *in, bool respec)
{
	rsd_svc *s = rsd_svc_find(d, in->si.info.label);
	rs_msg m;
	int r;

	if (!s)
		return -ENOENT;
	rs_msg_init(&m, RS_MSG_START);
	m.u.start.instance_id = in->si.info.id;
	m.u.start.generation = in->si.info.generation;
	m.u.start.respec = respec;
	rs_spec_clear(&m.u.start.spec);
	r = rs_spec_copy(&m.u.start.spec, &s->s.spec);
	if (r == 0)
		r = rsd_send_agent(d, rsd_node_find(d, in->si.node), &m);
	rs_msg_clear(&m);
	return r;
}

int rsd_send_start(rsd *d, rsd_inst *in)
{
	return send_spec(d, in, false);
}

int rsd_send_respec(rsd *d, rsd_inst *in)
{
	return send_spec(d, in, true);
}

int rsd_send_stop(rsd *d, rsd_inst *in, bool forget, bool restart)
{
	rs_msg m;
	int r;

	rs_msg_init(&m, RS_MSG_STOP);
	m.u.stop.instance_id = in->si.info.id;
	m.u.stop.forget = forget;
	m.u.stop.restart = restart;
	r = rsd_send_agent(d, rsd_node_find(d, in->si.node), &m);
	rs_msg_clear(&m);
	return r;
}

void rsd_pending_add(rsd *d, rsd_pending *p)
{
	if (opsm_step(&p->st, OP_EV_RECORDED, p->verb == RS_V_UPDATE) < 0)
		log_warnx("%s %s: operation queued twice (a bug), ignored",
			  rs_verb_to_string(p->verb), p->label);
	p->next = d->pending;
	d->pending = p;
}

/* The event that ends p with code. */
static opsm_event pending_outcome(const rsd_pending *p, int code)
{
	if (p->cancelled)
		return OP_EV_CANCEL;
	switch (code) {
	case RS_OK:            return OP_EV_SUCCEED;
	case RS_E_ROLLED_BACK: return OP_EV_ROLLBACK;
	case RS_E_TIMEOUT:     return OP_EV_TIMEOUT;
	default:               return OP_EV_FAIL;
	}
}

void rsd_pending_done(rsd *d, rsd_pending *p, int code, const char *json,
		      const char *fmt, ...)
{
	bool update = p->verb == RS_V_UPDATE;
	opsm_event ev = pending_outcome(p, code);
	rsd_pending **pp = &d->pending;
	char msg[RS_DETAIL_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	while (*pp && *pp != p)
		pp = &(*pp)->next;
	if (*pp)
		*pp = p->next;
	if (p->st == OP_NEW)   /* answered before it was queued */
		opsm_step(&p->st, OP_EV_RECORDED, update);
	if (opsm_step(&p->st, ev, update) < 0 && opsm_step(&p->st, OP_EV_FAIL, update) < 0)
		log_warnx("%s %s: %s refused in operation state %s (a bug)",
			  rs_verb_to_string(p->verb), p->label, opsm_event_to_string(ev),
			  opsm_state_to_string(p->st, update));
	rs_strlcpy(p->op.state, opsm_state_to_string(p->st, update), sizeof p->op.state);
	rs_strlcpy(p->op.detail, msg, sizeof p->op.detail);
	p->op.finished_ms = clock_wall_ms();
	p->op.answered = true;
	p->op.code = code;
	if (p->op.id && store_op_update(d->st, &p->op) < 0)
		log_warnx("cannot close operation %llu: %s",
			  (unsigned long long)p->op.id, store_errmsg(d->st));
	if (p->reply && !p->boot) {
		d->cur_verb = p->verb;
		rsd_reply(d, &p->peer, p->req_id, code, json, msg);
		rsd_outcome_add(d, p->op.caller, p->req_id, code, json, msg);
	}
	if (p->boot) {
		d->boot_running = false;
		if (code == RS_OK) {
			d->booted = true;
			rs_msg_clear(d->boot);
			free(d->boot);
			d->boot = NULL;
			rsd_event(d, NULL, 0, NULL, "boot-complete", "every service of the manifest runs");
			log_info("boot complete");
		} else {
			rsd_event(d, NULL, 0, NULL, "boot-failed", "%s; retrying", msg);
		}
	}
	{
		const char *verb = rs_verb_to_string(p->verb);
		size_t vlen = strlen(verb);

		if (p->label[0])
			log_info("%s %s: %s", verb, p->label, msg);
		else if (!strncmp(msg, verb, vlen) && (msg[vlen] == ':' || msg[vlen] == ' '))
			log_info("%s", msg);   /* ("apply: ...", "apply timed out") */
		else
			log_info("%s: %s", verb, msg);
	}
	rsd_pending_free(p);
}

/* Whether an up is finished: its instance is ready, or gave up. */
static void pending_check_up(rsd *d, rsd_pending *p)
{
	rsd_inst *in = rsd_inst_find(d, p->inst_id);
	char json[512];

	if (!in) {
		rsd_pending_done(d, p, RS_E_FAILED, NULL, "%s: instance vanished", p->label);
		return;
	}
	if (p->start_died) {
		/* the first failure is the answer; the agent goes on by policy */
		bool retried = in->si.info.state == RS_IS_STARTING ||
			       in->si.info.state == RS_IS_BACKOFF ||
			       in->si.info.state == RS_IS_RUNNING;
		rsd_pending_done(d, p, RS_E_FAILED, NULL, "%s failed to start on node %s: %s%s",
				 p->label, p->died_node, p->died_detail, retried ?
				 "; retried with the backoff (rsctl down stops it)" : "");
		return;
	}
	if (p->verb == RS_V_UP) {
		rsd_svc *s = rsd_svc_find(d, p->label);
		uint32_t running = 0;
		for (rsd_inst *x = s && s->s.spec.replicas > 1 ? rsd_label_insts(d, p->label) : NULL;
		     x; x = rsd_label_insts_next(d, x)) {
			if (x->si.standby)
				continue;
			if (x->si.info.state == RS_IS_FAILED || x->si.info.state == RS_IS_DOWN) {
				rsd_pending_done(d, p, RS_E_FAILED, NULL,
						 "%s: a replica failed to start on %s: %s",
						 p->label, x->si.node, x->detail);
				return;
			}
			running += x->si.info.state == RS_IS_RUNNING;
		}
		if (s && s->s.spec.replicas > 1) {
			if (running >= s->s.spec.replicas)
				rsd_pending_done(d, p, RS_OK, NULL, "%s: %u replicas are running",
						 p->label, running);
			return;
		}
	}
	if (p->verb == RS_V_REFRESH &&
	    ((in->si.info.pid == p->old_pid && in->si.info.state == RS_IS_RUNNING) ||
	     in->si.info.state == RS_IS_DOWN))
		return;   /* the old process is not replaced yet */
	switch (in->si.info.state) {
	case RS_IS_RUNNING:
		snprintf(json, sizeof json,
			 "{\"label\":\"%s\",\"instance\":%llu,\"node\":\"%s\",\"pid\":%d,\"state\":\"running\"}",
			 p->label, (unsigned long long)in->si.info.id, in->si.node,
			 (int)in->si.info.pid);
		rsd_pending_done(d, p, RS_OK, json, "%s%s is running on node %s (pid %d)",
				 p->verb == RS_V_CLONE ? "the standby of " : "",
				 p->label, in->si.node, (int)in->si.info.pid);
		break;
	case RS_IS_FAILED:
	case RS_IS_DOWN:
		rsd_pending_done(d, p, RS_E_FAILED, NULL,
				 "%s failed to start on node %s: %s", p->label,
				 in->si.node, in->detail[0] ? in->detail :
				 rs_exit_reason_to_string(in->si.info.last_exit.reason));
		break;
	case RS_IS_LOST:
		rsd_pending_done(d, p, RS_E_FAILED, NULL, "%s: node %s was lost",
				 p->label, in->si.node);
		break;
	default:
		break;
	}
}

/* Whether a down (or, with label "", a shutdown) is finished: no instance
 * of the label rsd can reach is alive, and no Start of one is on its way.
 * One on a lost node cannot be reached: it is stopped when its node
 * reports again (its Hello: not wanted), a fence: stop one at the latest
 * at its lease; the answer says so rather than pretend. */
static void pending_check_down(rsd *d, rsd_pending *p)
{
	const char *lost_node = NULL, *killed_how = NULL;
	unsigned lost = 0, killed = 0;
	char json[160], what[RS_DETAIL_MAX / 2] = "", kill_what[RS_DETAIL_MAX / 2] = "";

	for (rsd_inst *in = p->label[0] ? rsd_label_insts(d, p->label) : d->insts; in;
	     in = p->label[0] ? rsd_label_insts_next(d, in) : in->next) {
		rsd_node *n;

		if (rsd_istate_live(in->si.info.state))
			return;
		/* a Start still on its way would run it after the answer
		 * (the table says down from a Hello taken before that Start
		 * arrives: found by tests/test_sim.c, seed 85590052) */
		if ((n = rsd_node_find(d, in->si.node)) && rsd_order_pending(n, in->si.info.id, true))
			return;
		if (in->si.info.state == RS_IS_LOST && !lost++)
			lost_node = in->si.node;
		/* its agent's down event of this stop (its exit after the
		 * request, a second of clock skew allowed): "stopped with
		 * SIGKILL after 2 s (signal 15 did not stop it)" (agent/svc.c) */
		if (!strncmp(in->detail, "stopped with SIGKILL", 20) &&
		    in->si.info.last_exit.time_ms + 1000 >= p->op.started_ms && !killed++)
			killed_how = in->detail;
	}
	snprintf(json, sizeof json, "{\"state\":\"down\",\"unreachable\":%u,"
		 "\"killed\":%u}", lost, killed);
	if (killed == 1)
		snprintf(kill_what, sizeof kill_what, ": %.200s", killed_how);
	else if (killed)
		snprintf(kill_what, sizeof kill_what, ": %u instances %.200s", killed,
			 killed_how);
	if (lost)
		snprintf(what, sizeof what, " (%u instance%s on lost node%s %s%s: stopped "
			 "when %s again)", lost, lost > 1 ? "s" : "", lost > 1 ? "s" : "",
			 lost_node, lost > 1 ? ", ..." : "",
			 lost > 1 ? "they report" : "it reports");
	if (p->label[0])
		rsd_pending_done(d, p, RS_OK, json, "%s is down%s%s", p->label, kill_what,
				 what);
	else
		rsd_pending_done(d, p, RS_OK, json, "every service is down%s%s", kill_what,
				 what);
}

void rsd_pending_check(rsd *d)
{
	rsd_pending *p = d->pending, *next;
	uint64_t now = clock_mono_ms();
	int settling = -1;   /* asked once, only if a resumed one waits */

	for (; p; p = next) {
		next = p->next;
		if (p->resumed && settling < 0)
			settling = rsd_nodes_settling(d);
		if (p->resumed && settling)
			continue;   /* what the store says may be stale: wait */
		if (p->verb == RS_V_UP || p->verb == RS_V_REFRESH ||
		    p->verb == RS_V_RESTART || p->verb == RS_V_CLONE)
			pending_check_up(d, p);
		else if (p->verb == RS_V_DOWN || p->verb == RS_V_SHUTDOWN)
			pending_check_down(d, p);
		else if (p->verb == RS_V_APPLY)
			rsd_apply_check(d, p);
		else if (p->verb == RS_V_DELETE)
			rsd_delete_check(d, p);
	}
	for (p = d->pending; p; p = next) {
		next = p->next;
		if (now >= p->deadline_mono && p->verb == RS_V_UPDATE &&
		    rsd_update_expired(d, p))
			continue;
		if (now >= p->deadline_mono && p->verb == RS_V_APPLY) {
			rsd_apply_expired(d, p);
			continue;
		}
		if (now >= p->deadline_mono && p->verb == RS_V_DELETE)
			rsd_pending_done(d, p, RS_E_TIMEOUT, NULL, "%s: delete timed out "
					 "waiting for its instances to stop; it is wanted "
					 "down and still listed (delete it again)", p->label);
		else if (now >= p->deadline_mono)
			rsd_pending_done(d, p, RS_E_TIMEOUT, NULL,
					 "%s: %s timed out", p->label,
					 rs_verb_to_string(p->verb));
	}
}

/* The level-triggered half of reconciliation: a wanted service with fewer
 * instances (in any state) than its replicas gets the missing ones, unless
 * an operation is working on it. This resumes what a killed rsd left
 * half-done (an apply whose services were committed but not yet started)
 * and never restarts what failed (a failed instance still counts). */
/* Whether every dependency of s (depends_on, stored) has a running
 * instance: MINIX's boot order, kept after an rsd restart too. */
static bool deps_ready(rsd *d, const rsd_svc *s)
{
	for (size_t k = 0; k < s->s.spec.ndeps; k++) {
		const char *dep = s->s.spec.deps[k];
		const rsd_svc *ds = rsd_svc_find(d, dep);
		bool up = false;

		for (rsd_inst *in = rsd_label_insts(d, dep); in && !up;
		     in = rsd_label_insts_next(d, in))
			up = in->si.info.state == RS_IS_RUNNING;
		if (!up && ds && ds->s.desired == RS_WANT_UP)
			return false;   /* a dependency that is down on purpose
					 * does not hold the others back */
	}
	return true;
}

/* Whether s waits for a node to take `missing` of its instances (converge
 * found none): said when that begins and when it ends, shown by describe
 * (0: it does not wait). */
static void svc_waiting(rsd_svc *s, uint32_t missing)
{
	if (missing && !s->wait_since_ms) {
		s->wait_since_ms = clock_wall_ms();
		log_warnx("%s: no node to place %u instance%s on (no node up, or none "
			  "its placement allows): tried again every period",
			  s->s.spec.label, missing, missing == 1 ? "" : "s");
	} else if (!missing && s->wait_since_ms) {
		log_info("%s: placed after waiting %.1f s for a node", s->s.spec.label,
			 (double)(clock_wall_ms() - s->wait_since_ms) / 1e3);
		s->wait_since_ms = 0;
	}
	s->wait_missing = missing;
}

/* Each wanted service that may miss an instance (converged() says which
 * may not), its instances by label: O(services) a period when nothing
 * changed, nothing allocated. A slice of RSD_CONVERGE_BUDGET_NS at most:
 * false if it stopped there (the caller goes on at a later turn; the
 * services this period's round looked at are skipped then), true when
 * every one was looked at or none may be now (the next period looks
 * again). period: a new round (the period's own call). */
static bool converge(rsd *d, bool period)
{
	uint64_t t0 = clock_mono_ns();
	unsigned looked = 0;

	if (period)
		d->conv_round++;
	for (rsd_pending *p = d->pending; p; p = p->next)
		if (p->verb == RS_V_APPLY || p->verb == RS_V_SHUTDOWN)
			return true;   /* the next period looks again */
	if (d->boot_running)
		return true;
	for (rsd_svc *s = d->svcs; s; s = s->next) {
		uint32_t have = 0;

		if (s->s.desired != RS_WANT_UP) {
			s->wait_since_ms = 0;   /* down on purpose: waits for nothing */
			continue;
		}
		if (converged(s))
			continue;
		/* a service looked at stays converged (skipped at once) until
		 * it changes; one still missing an instance (no node for it)
		 * is looked at once a round: the slices after the first go on
		 * where the one before stopped (they began from the head: 1,024
		 * services no node could take kept the loop at ~100 % of a
		 * core, slice after slice on the same ones) */
		if (s->conv_round == d->conv_round)
			continue;
		if (++looked % 8 == 0 && clock_mono_ns() - t0 >= RSD_CONVERGE_BUDGET_NS)
			return false;
		s->conv_round = d->conv_round;
		for (rsd_inst *in = rsd_label_insts(d, s->s.spec.label);
		     in && have < s->s.spec.replicas; in = rsd_label_insts_next(d, in))
			have += !in->si.standby;
		s->conv_ok = have >= s->s.spec.replicas;
		s->conv_desired = s->s.desired;
		s->conv_replicas = s->s.spec.replicas;
		if (s->conv_ok)
			svc_waiting(s, 0);
		if (s->conv_ok || rsd_pending_for(d, s->s.spec.label))
			continue;
		if (!deps_ready(d, s))
			continue;   /* after what it depends on (next period) */
		if (have < s->s.spec.replicas) {
			uint32_t n;
			/* no node for some yet: next period */
			int r = rsd_start_instances(d, s, s->s.spec.replicas - have, &n);

			if (n)
				log_info("%s: started %u missing instance%s (%u of %u)",
					 s->s.spec.label, n, n == 1 ? "" : "s", have + n,
					 s->s.spec.replicas);
			svc_waiting(s, r == -ENODEV ? s->s.spec.replicas - have - n : 0);
		}
	}
	return true;
}

/* converge's next slice, once the loop has nothing else ready */
static void converge_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	(void)revents;
	if (converge(w->data, false))
		ev_idle_stop(loop, w);
}

void rsd_events_prune(rsd *d, bool period)
{
	uint64_t before = 0, n = 0, now;
	int r;

	if (period)
		d->prune_left = RSD_EVENTS_PRUNE_MAX;
	if (!d->prune_left || (!d->events_keep && !d->events_max_age_ms) || d->tx_open)
		return;
	now = clock_wall_ms();
	if (d->events_max_age_ms && now > d->events_max_age_ms)
		before = now - d->events_max_age_ms;
	r = store_event_prune(d->st, d->events_keep, before, RSD_EVENTS_PRUNE_CHUNK, &n);
	d->events_pruned += n;
	/* a short chunk: nothing more to prune until the next period */
	d->prune_left = r == 0 && n == RSD_EVENTS_PRUNE_CHUNK && d->prune_left > n ?
			d->prune_left - n : 0;
	if (r < 0) {
		if (!d->prune_failing)
			log_warnx("cannot prune old events: %s, trying every period",
				  store_errmsg(d->st));
		d->prune_failing = true;
		return;
	}
	if (d->prune_failing)
		log_info("pruning old events again");
	d->prune_failing = false;
}

/* rsd's resident set, bytes (0 if unknown). */
static uint64_t rss_bytes(void)
{
	unsigned long long size, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return 0;
	if (fscanf(f, "%llu %llu", &size, &rss) != 2)
		rss = 0;
	fclose(f);
	return rss * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* glibc keeps the free pages inside its heap (a Hello wave's, a big
 * apply's, a cold start's) for ever; malloc_trim gives them back. It
 * holds the loop for a walk of the heap's free chunks and the pages it
 * gives back: when, is lib/trim.h's rule (the resident set grew by a
 * quarter, or a gap since the last trim that grows while trims give
 * little back; not while rsd is behind its agents' messages, unless a
 * minute went by). */
static void trim_heap(rsd *d, uint64_t now)
{
	uint64_t rss = rss_bytes(), after, t;

	if (!trim_due(&d->trim, now, rss, d->agents_behind))
		return;
	t = clock_mono_ns();
	malloc_trim(0);
	d->trims++;
	d->trim_ns += clock_mono_ns() - t;
	after = rss_bytes();
	trim_done(&d->trim, now, rss, after);
	if (rss > after + (64u << 20))
		log_info("gave %llu MiB of free heap back to the system (%llu MiB "
			 "resident now, %.0f ms)",
			 (unsigned long long)((rss - after) >> 20),
			 (unsigned long long)(after >> 20),
			 (double)(clock_mono_ns() - t) / 1e6);
}

/* rsd did not run from `from` to now: that span is no node's silence
 * (nodesm FORGIVE). It keeps the order of the period's list. */
static void forgive_nodes(rsd *d, uint64_t from, uint64_t now)
{
	size_t k = 0;

	for (rsd_node *n = d->quiet_head; n && n->sm.heard_ms < now; n = n->qnext) {
		nodesm_fx fx;

		if (nodesm_forgive(&n->sm, &d->ncfg, from, now, &fx) < 0)
			log_warnx("node %s: forgive refused in membership state %s",
				  n->n.name, nodesm_state_to_string(n->sm.state));
		k++;
	}
	log_info("forgave %zu node%s the %llu ms rsd did not run or read its "
		 "agents' messages", k, k == 1 ? "" : "s",
		 (unsigned long long)(now - from));
}

/* Once no node known at start is still unheard: says when the last came
 * back (its Hello reconciled its instances), for the operator who
 * restarted rsd. A walk of the nodes a period only until then. */
static void wave_check(rsd *d)
{
	size_t up = 0, lost = 0;

	if (!d->wave_known)
		return;
	for (rsd_node *n = d->nodes; n; n = n->next) {
		if (n->sm.state == NM_UNKNOWN)
			return;
		if (n->sm.state == NM_UP)
			up++;
		else if (n->sm.state == NM_LOST)
			lost++;
	}
	if (d->nodes_returned_ms >= d->load_ms)
		log_info("each of the %zu nodes known at start is back or lost (now %zu "
			 "up, %zu lost): the last came back %llu ms after the store was "
			 "loaded", d->wave_known, up, lost,
			 (unsigned long long)(d->nodes_returned_ms - d->load_ms));
	else
		log_info("none of the %zu nodes known at start came back (now %zu up, "
			 "%zu lost)", d->wave_known, up, lost);
	d->wave_known = 0;
}

/* Once every node known at start is back or lost and no instance is on
 * its way (not heard of, placed, starting, stopping, on a lost node):
 * says when rsd's start settled, for the operator who restarted it (and
 * the benchmark of a cold start or a kill -9: rsd's own figure, not the
 * agents' acknowledgements a beat later). A warning once if it has not
 * settled settle_late_ms after the load (RSD_SETTLE_LATE_MS: a node that
 * does not come back, an instance no node can take, one that does not
 * stop), naming the first few: the line comes when it does settle. The
 * counts are kept (inst_tally): no walk but the warning's. */
static void settle_check(rsd *d, uint64_t now)
{
	size_t all = 0, on_way = 0, unheard = 0, at = 0, named = 0;
	char some[256] = "";
	uint64_t last;

	if (!d->settle_wait)
		return;
	for (int st = 0; st < RS_IS__NR; st++) {
		all += d->inst_nstate[st];
		if (inst_on_way(st))
			on_way += d->inst_nstate[st];
	}
	if (!d->wave_known && on_way == 0) {
		last = d->settle_last_ms > d->nodes_returned_ms ? d->settle_last_ms
								: d->nodes_returned_ms;
		log_info("rsd's start has settled: %zu of the %zu instances running, "
			 "none on its way; the last got there %llu ms after the store "
			 "was loaded", d->inst_nstate[RS_IS_RUNNING], all,
			 (unsigned long long)(last > d->load_ms ? last - d->load_ms : 0));
		d->settle_wait = false;
		return;
	}
	if (d->settle_late || now < d->load_ms + d->settle_late_ms)
		return;
	d->settle_late = true;
	for (rsd_node *n = d->nodes; n && d->wave_known; n = n->next)
		unheard += n->sm.state == NM_UNKNOWN;
	/* which, for the operator: the first few (a walk, once) */
	for (rsd_inst *in = d->insts; in && named < 4; in = in->next) {
		int k;

		if (!inst_on_way(in->si.info.state))
			continue;
		k = snprintf(some + at, sizeof some - at, "%s%s/%llu %s on %s",
			     named ? ", " : "", in->si.info.label,
			     (unsigned long long)in->si.info.id,
			     rs_istate_to_string(in->si.info.state),
			     in->si.node[0] ? in->si.node : "no node");
		if (k < 0 || (size_t)k >= sizeof some - at)
			break;
		at += (size_t)k;
		named++;
	}
	log_warnx("rsd's start has not settled %llu s after the store was loaded: "
		  "nodes not back yet %zu; instances on their way %zu of %zu "
		  "(%zu placed, %zu starting, %zu stopping, %zu on lost nodes, %zu "
		  "not heard of)%s%s", (unsigned long long)(d->settle_late_ms / 1000),
		  unheard, on_way, all, d->inst_nstate[RS_IS_PENDING],
		  d->inst_nstate[RS_IS_STARTING], d->inst_nstate[RS_IS_STOPPING],
		  d->inst_nstate[RS_IS_LOST], d->inst_nstate[RS_IS_UNKNOWN],
		  named ? ", such as " : "", some);
}

/* rsd's clock of silence and the nodes' membership at now: the period's,
 * and a tick's between periods (RSD_TICK_S), so that a silent node is
 * suspected, lost or fenced within a tick of its time, not a period (its
 * instances running elsewhere within TTL + 1 s: the period alone made that
 * up to TTL + 1 s + the moves). A tick walks only the nodes whose time
 * may have come (the quiet list's head) and leaves the startup wave's
 * nodes, the wave's and the settle's checks to the period. Returns the
 * time up to which the nodes' silence counted. */
static uint64_t membership(rsd *d, uint64_t now, bool period)
{
	uint64_t read = d->agents ? (uint64_t)net_sock_heard_until(d->agents, (int64_t)now) : now;
	const nodesm_clock_cfg kc = {
		.stall_ms = RSD_STALL_MS, .lag_ms = RSD_CAUGHT_MS,
		.calm_ms = RSD_CALM_MS, .ttl_ms = d->ncfg.ttl_ms,
	};
	nodesm_clock_fx kfx;
	uint64_t until = read;
	bool cut = false;

	ev_timer_stop(d->loop, &d->member_t);   /* a cut walk's rest: this one */
	/* a node's silence counts up to what rsd has read: behind a backlog
	 * (a Hello storm), the beats that wait in it are no node's fault;
	 * a stall of rsd itself (SIGSTOP, no CPU) is nobody's: forgiven
	 * once what waited meanwhile is read (lib/nodesm.h's clock) */
	if (nodesm_clock_period(&d->sclock, &kc, now, read < now ? read : now, &kfx) == 0)
		until = kfx.until_ms;
	else
		memset(&kfx, 0, sizeof kfx);
	if (kfx.stall_ms) {
		d->stalls++;
		log_warnx("rsd did not run for %llu ms: no node is counted silent for "
			  "that time", (unsigned long long)kfx.stall_ms);
	}
	if (kfx.forgive)
		forgive_nodes(d, kfx.forgive_from, now);
	d->agents_lag_ms = now - until;
	if (d->agents_lag_ms >= RSD_BEHIND_LOG_MS && !d->agents_behind) {
		if (!kfx.stall_ms)   /* a stall's warning says it already */
			log_warnx("rsd is %llu ms behind its agents' messages: no node "
				  "is counted silent for that time",
				  (unsigned long long)d->agents_lag_ms);
		d->agents_behind = true;
	} else if (until == now && d->agents_behind) {
		log_info("rsd has read its agents' messages up to now again");
		d->agents_behind = false;
	}
	/* membership is nodesm's (lib/nodesm.c): rsd tells it the time */
	/* every node's membership first, then the moves once: the mass-loss
	 * guard counts the nodes not up after all of them ticked, not
	 * halfway (tests/loadgen.sh found moves under ASan's slower ticks) */
	if (period)
		d->period_part[0] = clock_mono_ns();
	if (until <= d->unknown_until_ms && (d->wave_known || d->unknown_again)) {
		/* a node not heard since rsd started is never idle then (once
		 * each is back or lost, wave_check, none is left) */
		if (!period)
			return until;
		for (rsd_node *n = d->nodes; n; n = n->next)
			rsd_node_tick(d, n, until);
	} else {
		/* the nodes heard longest ago, up to the first one heard
		 * within suspect_ms: the others' ticks would change nothing.
		 * A node lost marks its instances lost in the same commit
		 * (~0.4 ms a node of 30 at 5,000 x 30: 50 nodes lost at once
		 * held the loop 19 ms, and their commit 12 ms more): after
		 * RSD_TICK_SLICE_MS (or RS_TICK_NODES nodes moved), the rest
		 * next turn, from the head again (a node's tick that moves
		 * nothing is cheap, and each turn moves one node at least) */
		uint64_t w0 = clock_mono_ns();
		unsigned moved = 0;

		for (rsd_node *n = d->quiet_head;
		     n && until >= n->sm.heard_ms + d->ncfg.suspect_ms; n = n->qnext) {
			nodesm_state was = n->sm.state;

			if (nodesm_tick_idle(&n->sm, &d->ncfg, until))
				continue;
			if (moved && (moved == d->tick_nodes ||
				      clock_mono_ns() - w0 >= RSD_TICK_SLICE_MS * 1000000ull)) {
				cut = true;
				break;
			}
			rsd_node_tick(d, n, until);
			moved += n->sm.state != was;
		}
		d->member_moved += moved;
	}
	if (period) {
		d->period_part[1] = clock_mono_ns();
		wave_check(d);
		settle_check(d, now);
	}
	rsd_batch_flush(d);       /* every node's move in one commit */
	d->member_until = until;   /* (the mass-loss guard's silence) */
	/* the moves once every node has ticked: the mass-loss guard counts
	 * the nodes not up after all of them */
	d->member_period |= period;
	if (cut) {
		if (!d->member_turns++)
			d->member_t0 = clock_mono_ns();
		ev_timer_start(d->loop, &d->member_t);   /* the rest next turn */
		return until;
	}
	if (d->member_turns)   /* (a node lost marks its instances lost) */
		log_info("the nodes' membership: %u nodes changed state over %u turns "
			 "(%.1f ms)", d->member_moved, d->member_turns + 1,
			 (double)(clock_mono_ns() - d->member_t0) / 1e6);
	d->member_turns = 0;
	d->member_moved = 0;
	rsd_reschedule_lost(d, d->member_period);   /* lost now, or a fenced instance's time */
	d->member_period = false;
	return until;
}

/* A tick between periods (d->tick_t), or a cut walk's rest (d->member_t). */
static void member_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	membership(w->data, clock_mono_ms(), false);
}

/* MINIX's do_period: node membership ticks, moves, request deadlines. */
static void period_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	rsd *d = w->data;
	uint64_t now = clock_mono_ms(), t0 = clock_mono_ns();
	uint64_t until;

	/* a ZeroMQ socket whose ZMQ_FD edge was missed is never read
	 * again (and a monitor left full stops the socket's I/O thread):
	 * read each on the next turn anyway, a receive that finds nothing */
	if (d->agents)
		net_sock_poke(d->agents);
	if (d->control)
		net_sock_poke(d->control);
	if (d->zap)
		net_sock_poke(d->zap);
	until = membership(d, now, true);
	d->period_part[2] = clock_mono_ns();
	rsd_orders_due(d, until);
	d->period_part[3] = clock_mono_ns();
	if (!converge(d, true))
		ev_idle_start(d->loop, &d->converge_w);   /* the rest, sliced */
	d->period_part[4] = clock_mono_ns();
	rsd_boot_check(d);
	rsd_pending_check(d);
	rsd_parked_run(d);
	rsd_logs_expire(d, now);
	if (d->check_tables) {
		char why[256];

		if (rsd_tables_check(d, why, sizeof why) < 0) {
			log_warnx("RS_CHECK_TABLES: %s", why);
			abort();   /* a test's check: the table is wrong */
		}
	}
	d->period_part[5] = clock_mono_ns();
	rsd_events_prune(d, true);
	d->period_part[6] = clock_mono_ns();
	trim_heap(d, now);
	d->period_part[7] = clock_mono_ns();
	{
		store_ckpt_stats cs;

		store_checkpoint_stats(d->st, &cs);
		if (cs.failures > d->ckpt_failures)
			log_warnx("the store's checkpoints fail (%llu so far): its WAL "
				  "grows until one works (a full disk?)",
				  (unsigned long long)cs.failures);
		d->ckpt_failures = cs.failures;
	}
	d->turn_period_ns = clock_mono_ns() - t0;
	prom_hist_observe(&d->h_period, (double)d->turn_period_ns / 1e9);
	/* our own supervisor's watchdog: the loop turned, we are alive */
	if (d->sd_watchdog_ms)
		sdnotify_send("WATCHDOG=1");
}

void rsd_start_period(rsd *d)
{
	ev_timer_init(&d->period_t, period_cb, RSD_PERIOD_S, RSD_PERIOD_S);
	d->period_t.data = d;
	ev_timer_start(d->loop, &d->period_t);
	ev_timer_init(&d->tick_t, member_cb, RSD_TICK_S, RSD_TICK_S);
	d->tick_t.data = d;
	ev_timer_start(d->loop, &d->tick_t);
	ev_timer_init(&d->member_t, member_cb, 0., 0.);
	d->member_t.data = d;
	ev_idle_init(&d->converge_w, converge_cb);
	d->converge_w.data = d;
}

static int load_svc(const store_service *s, void *arg)
{
	rsd *d = arg;
	rsd_svc *x = calloc(1, sizeof *x);

	if (!x)
		return -ENOMEM;
	x->s = *s;
	if (rs_spec_copy(&x->s.spec, &s->spec) < 0) {
		free(x);
		return -ENOMEM;
	}
	rsd_svc_link(d, x);
	return 0;
}

/* The store gives the instances by node (its rows' order); they are
 * linked in id order, as they were made. */
struct loaded {
	rsd_inst **v;
	size_t     n, cap;
};

static int load_inst(const store_instance *si, void *arg)
{
	struct loaded *l = arg;
	rsd_inst *x;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 1024;
		rsd_inst **v = realloc(l->v, cap * sizeof *v);

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	if (!(x = calloc(1, sizeof *x)))
		return -ENOMEM;
	x->si = *si;
	l->v[l->n++] = x;
	return 0;
}

static int by_id(const void *a, const void *b)
{
	uint64_t x = (*(rsd_inst *const *)a)->si.info.id;
	uint64_t y = (*(rsd_inst *const *)b)->si.info.id;

	return x < y ? -1 : x > y;
}

static int load_insts(rsd *d)
{
	struct loaded l = { 0 };
	int r = store_instance_each(d->st, load_inst, &l);

	if (r == 0 && l.n > 1)
		qsort(l.v, l.n, sizeof *l.v, by_id);
	for (size_t i = 0; i < l.n; i++) {
		if (r == 0)
			rsd_inst_link(d, l.v[i]);
		else
			free(l.v[i]);
	}
	free(l.v);
	return r;
}

static int load_node(const store_node *n, void *arg)
{
	rsd *d = arg;
	rsd_node *x = calloc(1, sizeof *x);

	if (!x)
		return -ENOMEM;
	x->n = *n;
	/* not up until it says hello to this rsd (it has a TTL to do so);
	 * one lost or fenced stays so, its silence counted from now (when
	 * the previous rsd last heard it is not known: the safe side) */
	nodesm_init(&x->sm, clock_mono_ms());
	if (x->n.state == RS_NS_LOST)
		x->sm.state = NM_LOST;
	else if (x->n.state == RS_NS_FENCED)
		x->sm.state = NM_FENCED;
	x->n.state = rsd_node_state_of(x->sm.state);
	rsd_node_link(d, x);
	return 0;
}

/* Operations a previous rsd left open: closed as failed, saying why, but
 * not answered (code NULL): a caller that resends the request waits for
 * its outcome again (requests.c). An update is rolled back: that is its
 * answer. */
static int close_op(const rs_op *op, void *arg)
{
	rsd *d = arg;
	rs_op o = *op;
	bool update = !strcmp(o.kind, "update");
	opsm_state st = OP_RUNNING;

	opsm_step(&st, OP_EV_RSD_RESTART, update);   /* failed, or rolled back */
	rs_strlcpy(o.state, opsm_state_to_string(st, update), sizeof o.state);
	if (update) {
		/* the new spec was not stored: an instance that committed
		 * anyway is handed back when its agent reports it */
		rs_strlcpy(o.detail, "rsd restarted during the update; every "
			   "instance runs the stored spec again", sizeof o.detail);
		o.answered = true;   /* a resent update gets this answer */
		o.code = RS_E_ROLLED_BACK;
	} else {
		rs_strlcpy(o.detail, "rsd restarted while it ran; the service's "
			   "desired state stands", sizeof o.detail);
	}
	o.finished_ms = clock_wall_ms();
	return store_op_update(d->st, &o);
}

int rsd_load(rsd *d)
{
	int r;

	rsd_tables_init(d);

	r = store_service_each(d->st, load_svc, d);
	if (r == 0)
		r = load_insts(d);
	if (r == 0)
		r = store_node_each(d->st, load_node, d);
	if (r == 0) {
		size_t known = 0;

		for (rsd_node *n = d->nodes; n; n = n->next)
			known++;
		/* the wave of their Hellos takes longer the more they are */
		d->ncfg.startup_ms = nodesm_startup_ms(d->ttl_ms, known);
		d->load_ms = clock_mono_ms();
		d->unknown_until_ms = d->load_ms + d->ncfg.startup_ms;
		d->wave_known = known;
		/* from here on, the moves of rsd's start (settle_check) */
		d->settle_wait = d->insts != NULL;
		d->settle_last_ms = 0;
		if (known)
			log_info("%zu nodes known: while they come back, one not heard yet is "
				 "lost only once none came back for the TTL (for at most %llu s)",
				 known, (unsigned long long)(d->ncfg.startup_ms / 1000));
	}
	if (r == 0)
		r = store_instance_max_id(d->st, &d->next_inst_id);
	if (r == 0 && (r = store_epoch_next(d->st, clock_wall_ms(), &d->epoch)) < 0) {
		/* a full disk must not keep rsd down: the clock still grows */
		log_warnx("cannot record rsd's epoch (%s); using the clock, ignoring",
			  rsd_store_why(d, r));
		d->epoch = clock_wall_ms();
		r = 0;
	}
	if (r == 0 && (r = store_begin(d->st)) == 0) {
		r = store_op_each_open(d->st, close_op, d);
		if (r == 0)
			r = rsd_commit(d);
		else
			store_rollback(d->st);
	}
	d->next_inst_id++;
	return r;
}

void rsd_free(rsd *d)
{
	while (d->svcs) {
		rsd_svc *s = d->svcs;
		d->svcs = s->next;
		rs_spec_clear(&s->s.spec);
		free(s->ev_ring);
		free(s);
	}
	while (d->insts) {
		rsd_inst *i = d->insts;
		d->insts = i->next;
		free(i);
	}
	while (d->nodes) {
		rsd_node *n = d->nodes;
		d->nodes = n->next;
		rsd_node_set_labels(n, NULL, 0);
		orders_out_free(&n->out);
		evchain_free(&n->ev);
		sendq_clear(&n->outq);
		free(n);
	}
	free(d->batch_rows);
	d->batch_rows = NULL;
	d->nbatch_rows = d->batch_rows_cap = 0;
	if (d->boot) {
		rs_msg_clear(d->boot);
		free(d->boot);
		d->boot = NULL;
	}
	while (d->logreqs) {
		rsd_logreq *lr = d->logreqs;
		d->logreqs = lr->next;
		free(lr);
	}
	while (d->counters) {
		rsd_counter *c = d->counters;
		d->counters = c->next;
		free(c);
	}
	while (d->pending) {
		rsd_pending *p = d->pending;
		d->pending = p->next;
		rsd_pending_free(p);
	}
	rsd_requests_free(d);
	rsd_tab_free(&d->tsvcs);
	free(d->batch_hellos);
	d->batch_hellos = NULL;
	free(d->svc_sorted);
	d->svc_sorted = NULL;
	rsd_tab_free(&d->tinsts);
	rsd_tab_free(&d->tnodes);
	free(d->nheap);
	d->nheap = NULL;
	d->nheap_n = d->nheap_cap = 0;
	rsd_tab_free(&d->tbynode);
	rsd_tab_free(&d->tbylabel);
	rsd_tab_free(&d->tcounters);
	rsd_tab_free(&d->tcnt_label);
	dueq_free(&d->watch);
}
