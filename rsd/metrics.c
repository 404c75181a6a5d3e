/*
 * metrics.c - what rsd's Prometheus endpoint says (lib/httpd.c serves
 * it on rsd's loop: GET /metrics, GET /healthz).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "codes.h"
#include "httpd.h"
#include "log.h"
#include "prom.h"
#include "rsd.h"
#include "version.h"
#include "wire.h"

/* /metrics in parts (lib/httpd.h httpd_stream_fn): at 150,000 instances
 * the exposition is ~20 MB, 0.36-0.39 s to write at once (5,000 agents,
 * bench/scale.py), every control request and agent message waiting
 * behind it at each scrape. The families by instance and by service go
 * service by service in label order (ms_fam), a part of about MS_PART
 * bytes at a time; the cursor is the last label written, so a service
 * added or removed between parts is written once or not at all, and
 * nothing is held that could be freed meanwhile. The lines by node
 * (~5,000 at 5,000 nodes) go MS_NODES at a time, newest node first, the
 * cursor the last one's link number (a node linked meanwhile is not
 * written, one forgotten is not there: none twice); rsd's own is the
 * last part. (Written whole, the nodes' and the services' backoff lines
 * made the last part 4.5 ms of rsd's loop at 5,000 nodes.) Families
 * are whole (one HELP/TYPE, their samples together); the parts are not
 * one snapshot, as two scrapes are not. */
#define MS_PART (64u << 10)
/* ... or of about MS_PART_INSTS instances looked at: the usage sums write
 * a line a service from all its instances (a part of 64 KiB of them held
 * ~1,300 services x 60 instances, 8-10 ms of the loop at a scrape) */
#define MS_PART_INSTS 1000u
#define MS_NODES 1000u   /* node lines a part (~0.6 ms) */
/* MS_NODES, or RS_TEST_METRICS_NODES (tests/metrics.sh: 1, so that its
 * two nodes take two parts) */
static unsigned ms_nodes = MS_NODES;

/* The families written service by service, in this order. A family by
 * label alone has a series for every service, at 0 until it first counts:
 * an alert's increase() over a series that appears at 1 is 0, and the
 * first failure never fired. A counter whose service is gone is not
 * written (rsctl delete drops them). */
enum { MS_UP, MS_RESTARTS, MS_RESTARTS_TOTAL, MS_CRITICAL, MS_WATCHDOG, MS_BACKOFF,
       MS_CPU, MS_MEMORY, MS_TASKS,
       MS_SVC_END, MS_NODES_STAGE = MS_SVC_END, MS_REST };

static const struct {
	const char *name, *type, *help, *kind;   /* kind: rsd_count's */
} ms_fam[MS_SVC_END] = {
	[MS_UP] = { "rs_instance_up", "gauge",
		    "1 if the instance is running (ready), else 0.", NULL },
	[MS_RESTARTS] = { "rs_instance_restarts", "gauge",
			  "Restarts of the instance since it was brought up (as its agent counts).",
			  NULL },
	[MS_RESTARTS_TOTAL] = { "rs_instance_restarts_total", "counter",
				"Restarts of instances seen by this rsd, by label, node and reason.",
				"restart" },
	[MS_CRITICAL] = { "rs_critical_failures_total", "counter",
			  "Permanent failures of critical services, by label.", "critical" },
	[MS_WATCHDOG] = { "rs_watchdog_misses_total", "counter",
			  "Instances killed for a missing WATCHDOG=1, by label.", "watchdog" },
	[MS_BACKOFF] = { "rs_backoff_seconds", "gauge",
			 "The restart delay a service is waiting out now (0 when it runs).",
			 NULL },
	/* usage (RS_FEAT_USAGE): sums by label, not a series per instance
	 * (150,000 would be); an instance counts once its agent reported */
	[MS_CPU] = { "rs_service_cpu_seconds_total", "counter",
		     "CPU time of the service's running processes, as their agents last "
		     "reported (a restart takes its process's share out).", NULL },
	[MS_MEMORY] = { "rs_service_memory_bytes", "gauge",
			"Memory of the service's instances now, as their agents last reported.",
			NULL },
	[MS_TASKS] = { "rs_service_tasks", "gauge",
		       "Processes and threads of the service's instances, as their agents "
		       "last reported.", NULL },
};

typedef struct mstream {
	int      stage;
	bool     begun;                 /* the stage's family is announced */
	char     after[RS_LABEL_MAX];   /* the last service written */
	uint64_t node_after;            /* MS_NODES_STAGE: the last node's
					 * link_seq (0: none yet) */
	uint64_t by_state[RS_IS__NR];   /* counted as MS_UP writes them */
	unsigned visits;                /* instances looked at this part */
} mstream;

/* One service's samples of the stage's family. */
static void svc_samples(rsd *d, mstream *x, prom_buf *b, const rsd_svc *s)
{
	const char *name = ms_fam[x->stage].name, *kind = ms_fam[x->stage].kind;
	const char *label = s->s.spec.label;
	char id[32];
	uint64_t sum = 0;

	if (x->stage == MS_BACKOFF) {
		prom_sample(b, name, s->backoff_ms / 1000.0, "label", label, NULL);
		return;
	}
	if (x->stage >= MS_CPU && x->stage <= MS_TASKS) {
		for (rsd_inst *in = rsd_label_insts(d, label); in;
		     in = rsd_label_insts_next(d, in), x->visits++)
			sum += x->stage == MS_CPU ? in->use.cpu_ms :
			       x->stage == MS_MEMORY ? in->use.memory : in->use.tasks;
		prom_sample(b, name, x->stage == MS_CPU ? (double)sum / 1000.0 : (double)sum,
			    "label", label, NULL);
		return;
	}
	if (!kind) {
		for (rsd_inst *in = rsd_label_insts(d, label); in;
		     in = rsd_label_insts_next(d, in)) {
			const rs_iinfo *f = &in->si.info;

			snprintf(id, sizeof id, "%llu", (unsigned long long)f->id);
			if (x->stage == MS_UP && (unsigned)f->state < RS_IS__NR)
				x->by_state[f->state]++;
			prom_sample(b, name, x->stage == MS_UP ? f->state == RS_IS_RUNNING :
				    f->restarts, "label", label, "node", in->si.node,
				    "instance", id, NULL);
		}
		return;
	}
	for (rsd_counter *c = rsd_label_counters(d, label); c;
	     c = rsd_label_counters_next(d, c)) {
		if (strcmp(c->kind, kind) != 0)
			continue;
		if (x->stage == MS_RESTARTS_TOTAL)
			prom_sample(b, name, (double)c->n, "label", label, "node", c->node,
				    "reason", c->reason, NULL);
		else
			sum += c->n;   /* one series a label, whatever the node */
	}
	if (x->stage != MS_RESTARTS_TOTAL)
		prom_sample(b, name, (double)sum, "label", label, NULL);
}

/* The stage's next part: the services after x->after. */
static void svc_part(rsd *d, mstream *x, prom_buf *b)
{
	size_t n, i = 0, start = b->len;
	rsd_svc **v = rsd_svcs_sorted(d, &n);

	if (!v) {
		b->oom = 1;
		return;
	}
	if (!x->begun) {
		prom_family(b, ms_fam[x->stage].name, ms_fam[x->stage].type,
			    ms_fam[x->stage].help);
		x->begun = true;
	}
	if (x->after[0]) {   /* the first label after the cursor */
		size_t lo = 0, hi = n;

		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (strcmp(v[mid]->s.spec.label, x->after) <= 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		i = lo;
	}
	x->visits = 0;
	for (; i < n && b->len - start < MS_PART && x->visits < MS_PART_INSTS &&
	     !b->oom; i++) {
		svc_samples(d, x, b, v[i]);
		rs_strlcpy(x->after, v[i]->s.spec.label, sizeof x->after);
	}
	if (i == n) {
		x->stage++;
		x->begun = false;
		x->after[0] = '\0';
	}
}

static void metrics_rest(rsd *d, const mstream *x, prom_buf *b);

/* The next MS_NODES nodes' lines: the list is newest first (rsd_node_link),
 * so those linked before the cursor's. */
static void node_part(rsd *d, mstream *x, prom_buf *b)
{
	uint64_t now = clock_mono_ms();
	rsd_node *n = d->nodes;
	unsigned k = 0;

	if (!x->begun) {
		prom_family(b, "rs_node_heartbeat_age_seconds", "gauge",
			    "Seconds since the node's agent was last heard from (this rsd process).");
		x->begun = true;
	}
	while (n && x->node_after && n->link_seq >= x->node_after)
		n = n->next;
	for (; n && k < ms_nodes && !b->oom; n = n->next, k++) {
		prom_sample(b, "rs_node_heartbeat_age_seconds",
			    (double)(now - n->sm.word_ms) / 1000.0, "node", n->n.name, NULL);
		x->node_after = n->link_seq;
	}
	if (!n) {
		x->stage++;
		x->begun = false;
	}
}

static int metrics_stream(void *arg, void **state, prom_buf *b)
{
	rsd *d = arg;
	mstream *x = *state;

	if (!b || (!x && !(x = *state = calloc(1, sizeof *x)))) {
		if (b)
			b->oom = 1;
		free(x);
		*state = NULL;
		return 0;
	}
	if (x->stage < MS_REST) {
		if (x->stage < MS_SVC_END)
			svc_part(d, x, b);
		else
			node_part(d, x, b);
		if (!b->oom)
			return 1;
	} else {
		metrics_rest(d, x, b);
	}
	free(x);
	*state = NULL;
	return 0;
}

/* The last part: everything but the families of ms_fam (what is by node,
 * rs_backoff_seconds by service, rsd's own). */
static void metrics_rest(rsd *d, const mstream *x, prom_buf *b)
{
	uint64_t nodes[RS_NS__NR] = { 0 };
	size_t nsvc = 0, nwait = 0;
	char id[32];

	for (rsd_svc *s = d->svcs; s; s = s->next) {
		nsvc++;
		nwait += s->wait_since_ms && s->s.desired == RS_WANT_UP;
	}
	prom_family(b, "rs_services", "gauge", "Services in the rproc table.");
	prom_sample(b, "rs_services", (double)nsvc, NULL);
	prom_family(b, "rs_services_waiting_for_node", "gauge",
		    "Services wanted up that rsd found no node to place an instance "
		    "of on (none up, or none their placement allows; rsctl describe: "
		    "Waiting).");
	prom_sample(b, "rs_services_waiting_for_node", (double)nwait, NULL);
	prom_family(b, "rs_instances", "gauge", "Instances by state.");
	for (int s = RS_IS_PENDING; s < RS_IS__NR; s++)
		prom_sample(b, "rs_instances", (double)x->by_state[s],
			    "state", rs_istate_to_string(s), NULL);

	for (rsd_node *n = d->nodes; n; n = n->next)
		if ((unsigned)n->n.state < RS_NS__NR)
			nodes[n->n.state]++;
	prom_family(b, "rs_nodes", "gauge", "Nodes by state.");
	for (int s = RS_NS_UNKNOWN; s < RS_NS__NR; s++)
		prom_sample(b, "rs_nodes", (double)nodes[s], "state",
			    rs_node_state_to_string(s), NULL);

	prom_hist_write(b, "rs_instance_ready_seconds",
			"Time from a process start to its readiness (READY=1 or settled).",
			&d->h_ready);
	prom_hist_write(b, "rs_restart_latency_seconds",
			"Time from a death seen by the agent to the new process (incl. backoff).",
			&d->h_restart);
	prom_hist_write(b, "rs_store_commit_seconds",
			"Duration of rsd's SQLite commits.", &d->h_commit);
	{
		store_ckpt_stats c;

		store_checkpoint_stats(d->st, &c);
		prom_family(b, "rs_store_checkpoints_total", "counter",
			    "WAL checkpoints run by rsd's checkpointer thread.");
		prom_sample(b, "rs_store_checkpoints_total", (double)c.runs, NULL);
		prom_family(b, "rs_store_checkpoint_failures_total", "counter",
			    "Checkpoints that failed (a full disk): the WAL grows until one works.");
		prom_sample(b, "rs_store_checkpoint_failures_total", (double)c.failures, NULL);
		prom_family(b, "rs_store_checkpoint_seconds_total", "counter",
			    "Time the checkpointer spent copying the WAL into the file.");
		prom_sample(b, "rs_store_checkpoint_seconds_total", c.seconds, NULL);
	}
	prom_family(b, "rs_control_io_realtime", "gauge",
		    "1 while the control socket's ZeroMQ I/O thread runs at SCHED_RR "
		    "(--control-rt), 0 otherwise (not allowed, off, or lowered after a "
		    "flood).");
	prom_sample(b, "rs_control_io_realtime", d->ctlrt.st == RTG_RAISED ? 1 : 0, NULL);
	prom_family(b, "rs_control_io_lowered_total", "counter",
		    "Times the control socket's I/O thread went back to the normal "
		    "priority for a while: it used more than its share of a CPU (a "
		    "flood of control connections).");
	prom_sample(b, "rs_control_io_lowered_total", (double)d->ctlrt.lowered, NULL);
	prom_family(b, "rs_agents_io_idle", "gauge",
		    "1 while the agents' ZeroMQ I/O thread runs at SCHED_IDLE (--agents-io "
		    "idle), 0 otherwise (not allowed, nice, or put back among the normal "
		    "threads after it waited for a CPU).");
	prom_sample(b, "rs_agents_io_idle", d->agidle.st == RTG_RAISED ? 1 : 0, NULL);
	prom_family(b, "rs_agents_io_starved_total", "counter",
		    "Times the agents' I/O thread went back among the normal threads for "
		    "a while: it waited for a CPU most of a window (another busy thread "
		    "on rsd's core).");
	prom_sample(b, "rs_agents_io_starved_total", (double)d->agidle.lowered, NULL);
	prom_family(b, "rs_agents_io_behind_loop_total", "counter",
		    "Times the agents' I/O thread went back among the normal threads "
		    "for 2 s: it waited for a CPU most of a window while rsd's own "
		    "threads (its loop) ran at least half of it: rsd's own busy work, "
		    "not another's.");
	prom_sample(b, "rs_agents_io_behind_loop_total", (double)d->agidle.lowered_own,
		    NULL);
	prom_family(b, "rs_stalls_total", "counter",
		    "Times rsd did not run for 2.5 s or more (stopped, starved of CPU, "
		    "its machine paused): that time is no node's silence, forgiven once "
		    "what its agents sent meanwhile was read.");
	prom_sample(b, "rs_stalls_total", (double)d->stalls, NULL);
	prom_family(b, "rs_malloc_trims_total", "counter",
		    "Times rsd gave its heap's free pages back to the system (malloc_trim: once at start, then when it grew by a quarter or after a gap that doubles while trims give little back, once it has caught up with its agents).");
	prom_sample(b, "rs_malloc_trims_total", (double)d->trims, NULL);
	prom_family(b, "rs_malloc_trim_seconds_total", "counter",
		    "Time rsd's loop spent in malloc_trim.");
	prom_sample(b, "rs_malloc_trim_seconds_total", (double)d->trim_ns / 1e9, NULL);
	prom_hist_write(b, "rs_period_seconds",
			"Duration of rsd's periodic check (node ticks, moves, converge).",
			&d->h_period);
	prom_hist_write(b, "rs_loop_turn_seconds",
			"rsd's loop busy without a break: from one poll to the next (agents' "
			"and control messages, commits, the period, sends). What a request "
			"may wait behind.",
			&d->h_turn);
	prom_hist_write(b, "rs_ctl_page_seconds",
			"Time rsd's loop spends on one page of status or nodes (built, encoded, sent).",
			&d->h_page);
	{
		bool booted = d->booted || !d->boot;
		for (rsd_node *n = d->nodes; n; n = n->next)
			booted &= n->n.state != RS_NS_UNKNOWN;
		prom_family(b, "rs_boot_complete", "gauge",
			    "1 once the --manifest services all run and every node known "
			    "from the store has reported (or been lost).");
		prom_sample(b, "rs_boot_complete", booted, NULL);
	}
	prom_family(b, "rs_ctl_request_seconds", "histogram",
		    "Time rsd's loop spends on one control request (decided, committed, "
		    "sent; a status or nodes page each), by verb.");
	for (int v = 0; v < RS_V__NR; v++)
		if (d->h_ctl[v].count)
			prom_hist_samples(b, "rs_ctl_request_seconds", &d->h_ctl[v], "verb",
					  rs_verb_to_string(v));
	prom_family(b, "rs_ctl_requests_total", "counter",
		    "Control requests answered, by verb and result code.");
	for (int v = 0; v < RS_V__NR; v++)
		for (int c = 0; c < RS_E__NR; c++)
			if (d->ctl_requests[v][c]) {
				snprintf(id, sizeof id, "%d", c);
				prom_sample(b, "rs_ctl_requests_total",
					    (double)d->ctl_requests[v][c], "verb",
					    rs_verb_to_string(v), "code", id, NULL);
			}
	prom_family(b, "rs_wire_rejected_total", "counter",
		    "Messages rejected from agents and clients, by reason.");
	for (int e = 1; e < WIRE_E__NR; e++)
		prom_sample(b, "rs_wire_rejected_total", (double)d->rejected[e],
			    "reason", wire_err_to_string(e), NULL);
	prom_sample(b, "rs_wire_rejected_total", (double)d->rejected_identity,
		    "reason", "identity", NULL);
	prom_sample(b, "rs_wire_rejected_total", (double)d->rejected_unexpected,
		    "reason", "unexpected", NULL);
	prom_family(b, "rs_usage_reports_total", "counter",
		    "Instance usage entries of agents' beats: kept, or ignored (an "
		    "instance rsd does not know on that node).");
	prom_sample(b, "rs_usage_reports_total", (double)d->usage_taken,
		    "result", "taken", NULL);
	prom_sample(b, "rs_usage_reports_total", (double)d->usage_ignored,
		    "result", "ignored", NULL);
	prom_family(b, "rs_version_refused_total", "counter",
		    "Peers refused for a version outside the skew policy, by peer.");
	prom_sample(b, "rs_version_refused_total", (double)d->version_refused[RSD_EP_AGENTS],
		    "peer", "rs-agent", NULL);
	prom_sample(b, "rs_version_refused_total", (double)d->version_refused[RSD_EP_CONTROL],
		    "peer", "rsctl", NULL);
	{
		size_t unacked = 0;

		for (rsd_node *n = d->nodes; n; n = n->next)
			unacked += orders_out_pending(&n->out);
		prom_family(b, "rs_orders_unacknowledged", "gauge",
			    "Orders (start, stop) sent to agents and not yet acknowledged.");
		prom_sample(b, "rs_orders_unacknowledged", (double)unacked, NULL);
	}
	prom_family(b, "rs_orders_resent_total", "counter",
		    "Orders sent again because their agent had not acknowledged them.");
	prom_sample(b, "rs_orders_resent_total", (double)d->orders_resent, NULL);
	prom_family(b, "rs_reconcile_asks_total", "counter",
		    "Hellos rsd asked for because a node said nothing of an instance "
		    "placed there (desired against observed, each period).");
	prom_sample(b, "rs_reconcile_asks_total", (double)d->watch_rehellos, NULL);
	prom_family(b, "rs_agents_backlog_seconds", "gauge",
		    "How far behind its agents' messages rsd was at its last period "
		    "(0: it had read everything); no node is counted silent for it.");
	prom_sample(b, "rs_agents_backlog_seconds", d->agents_lag_ms / 1000.0, NULL);
	prom_family(b, "rs_agent_hellos_coalesced_total", "counter",
		    "Hellos answered with a Welcome alone: the same agent process "
		    "again on the same connection, nothing missed since its last "
		    "reconciled Hello.");
	prom_sample(b, "rs_agent_hellos_coalesced_total", (double)d->hellos_coalesced,
		    NULL);
	prom_family(b, "rs_agent_wakeups_cut_total", "counter",
		    "Reads of the agents' socket that stopped before their budget "
		    "(2 ms, the rows they write included) was used up: a control "
		    "request was waiting.");
	prom_sample(b, "rs_agent_wakeups_cut_total", (double)d->ctl_yields,
		    "why", "control", NULL);
	prom_family(b, "rs_agent_hellos_stale_total", "counter",
		    "Copies of an older Hello of the agent process rsd follows (a "
		    "frame that came again, or late from a connection it left): "
		    "older than what rsd has, ignored.");
	prom_sample(b, "rs_agent_hellos_stale_total", (double)d->hellos_stale, NULL);
	prom_family(b, "rs_agent_event_gaps_total", "counter",
		    "Agents' events rsd could not take exactly once: given-up (the "
		    "agent's ring of unacknowledged events overflowed; counted once "
		    "a Hello), refused (not a link of the agent's chain, or too many "
		    "above a missing one: the agent keeps it and says Hello).");
	prom_sample(b, "rs_agent_event_gaps_total", (double)d->events_given_up,
		    "why", "given-up", NULL);
	prom_sample(b, "rs_agent_event_gaps_total", (double)d->events_refused,
		    "why", "refused", NULL);
	prom_family(b, "rs_agent_messages_total", "counter",
		    "Messages read from agents (admitted and decoded), by type.");
	for (int t = 1; t < RS_MSG__NR; t++)
		if (d->agent_msgs[t])
			prom_sample(b, "rs_agent_messages_total", (double)d->agent_msgs[t],
				    "type", rs_msg_type_to_string((rs_msg_type)t), NULL);
	prom_family(b, "rs_agent_frames_total", "counter",
		    "Frames for agents that take a turn's messages in one "
		    "(RS_FEAT_BATCH): sent, or failed (could not be sent).");
	prom_sample(b, "rs_agent_frames_total", (double)d->out_frames,
		    "result", "sent", NULL);
	prom_sample(b, "rs_agent_frames_total", (double)d->out_failed,
		    "result", "failed", NULL);
	prom_family(b, "rs_agent_frame_messages_total", "counter",
		    "Messages in the frames sent to agents (rs_agent_frames_total).");
	prom_sample(b, "rs_agent_frame_messages_total", (double)d->out_msgs, NULL);
	prom_family(b, "rs_orders_bad_acks_total", "counter",
		    "Acknowledgements of orders rsd never sent (a confused agent), ignored.");
	prom_sample(b, "rs_orders_bad_acks_total", (double)d->orders_refused_acks, NULL);
	prom_family(b, "rs_events_pruned_total", "counter",
		    "Events deleted by the retention (rsd --events-keep, --events-max-age).");
	prom_sample(b, "rs_events_pruned_total", (double)d->events_pruned, NULL);
	{
		uint64_t rows = 0;

		/* rowid lookups and the holes rsctl delete left, not a count(*) */
		if (store_event_count(d->st, &rows) == 0) {
			prom_family(b, "rs_events", "gauge", "Events in the store.");
			prom_sample(b, "rs_events", (double)rows, NULL);
		}
	}
	prom_family(b, "rs_build_info", "gauge", "rsd's version (always 1).");
	prom_sample(b, "rs_build_info", 1, "version", rs_version(), NULL);
	prom_family(b, "rs_auth_failures_total", "counter",
		    "Peers and messages refused for want of a valid key, by endpoint and reason.");
	for (int ep = 0; ep < RSD_EP__NR; ep++)
		for (int r = 0; r < RSD_AUTH__NR; r++)
			prom_sample(b, "rs_auth_failures_total",
				    (double)d->auth_failures[ep][r], "endpoint",
				    ep == RSD_EP_AGENTS ? "agents" : "control",
				    "reason", rsd_auth_reason_to_string(r), NULL);
	prom_process(b);
}

/* The whole text at once (httpd's, when not streamed). */
static void metrics_cb(void *arg, prom_buf *b)
{
	void *state = NULL;

	while (metrics_stream(arg, &state, b) && !b->oom)
		;
}

int rsd_metrics_start(rsd *d, const char *hostport)
{
	int r = httpd_start(d->loop, hostport, metrics_cb, d, &d->http,
			    d->metrics_ep, sizeof d->metrics_ep);
	const char *t = getenv("RS_TEST_METRICS_NODES");

	if (t && strtoul(t, NULL, 10) > 0)
		ms_nodes = (unsigned)strtoul(t, NULL, 10);
	if (r == 0) {
		httpd_set_pages(d->http, rsd_page);
		httpd_set_stream(d->http, metrics_stream);
	}
	return r;
}

void rsd_metrics_stop(rsd *d)
{
	httpd_stop(&d->http);
}

void rsd_count(rsd *d, const char *kind, const char *label, const char *node,
	       const char *reason)
{
	rsd_counter *c;

	/* by hash: one per (label, node, reason), 150,000 after a cluster's
	 * every instance restarted once, and each restart counts */
	c = d->tcounters.broken ? d->counters :
	    rsd_tab_chain(&d->tcounters, rsd_counter_hash(kind, label, node, reason));
	for (; c; c = d->tcounters.broken ? c->next : rsd_tab_next(&d->tcounters, c))
		if (!strcmp(c->kind, kind) && !strcmp(c->label, label) &&
		    !strcmp(c->node, node) && !strcmp(c->reason, reason))
			break;
	if (!c) {
		c = calloc(1, sizeof *c);
		if (!c)
			return;
		rs_strlcpy(c->kind, kind, sizeof c->kind);
		rs_strlcpy(c->label, label, sizeof c->label);
		rs_strlcpy(c->node, node, sizeof c->node);
		rs_strlcpy(c->reason, reason, sizeof c->reason);
		rsd_counter_link(d, c);
	}
	c->n++;
}
