/*
 * metrics.c - rs-agent's own Prometheus endpoint (rs-agent --metrics
 * HOST:PORT; lib/httpd.c serves it on the agent's loop): what this node
 * runs and how fast it restarts, from the agent's point of view, so a node
 * can be watched even while rsd is unreachable.
 */
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "clock.h"
#include "httpd.h"
#include "prom.h"
#include "probe.h"
#include "probespec.h"

static void metrics_text(void *arg, prom_buf *b)
{
	agent *ag = arg;
	uint64_t by_state[RS_IS__NR] = { 0 };
	char id[32];

	for (inst *in = ag->insts; in; in = in->next)
		if (!in->primary && (unsigned)in->rp.state < RS_IS__NR)
			by_state[in->rp.state]++;
	prom_family(b, "rs_agent_instances", "gauge",
		    "Instances on this node by state (an update's new process not counted).");
	for (int s = 0; s < RS_IS__NR; s++)
		prom_sample(b, "rs_agent_instances", (double)by_state[s], "node", ag->node,
			    "state", rs_istate_to_string((rs_istate)s), NULL);
	prom_family(b, "rs_agent_instance_up", "gauge",
		    "1 if the instance has a live process on this node.");
	for (inst *in = ag->insts; in; in = in->next) {
		if (in->primary)
			continue;
		snprintf(id, sizeof id, "%llu", (unsigned long long)in->id);
		prom_sample(b, "rs_agent_instance_up", in->pid > 0 ? 1 : 0,
			    "label", in->spec.label, "instance", id, NULL);
	}
	prom_family(b, "rs_agent_instance_restarts", "gauge",
		    "Restarts of the instance since it was started (up).");
	for (inst *in = ag->insts; in; in = in->next) {
		if (in->primary)
			continue;
		snprintf(id, sizeof id, "%llu", (unsigned long long)in->id);
		prom_sample(b, "rs_agent_instance_restarts", in->rp.restarts,
			    "label", in->spec.label, "instance", id, NULL);
	}
	usage_metrics(ag, b);
	prom_hist_write(b, "rs_agent_restart_latency_seconds",
			"From the death of a process, as the keeper saw it, to the new pid.",
			&ag->h_restart);
	if (probe_hub_durations(ag))
		prom_hist_write(b, "rs_probe_duration_seconds",
				"How long each health probe took (HTTP and TCP), "
				"pass or fail.", probe_hub_durations(ag));
	prom_family(b, "rs_probe_failures_total", "counter",
		    "Failed health probes by service and probe (liveness, readiness, "
		    "startup); a series at 0 for each probe a service here has.");
	for (inst *in = ag->insts; in; in = in->next) {
		bool first = true;

		if (in->primary)
			continue;
		/* one series per label: the instances of a label here summed */
		for (inst *o = ag->insts; o != in && first; o = o->next)
			first = o->primary || strcmp(o->spec.label, in->spec.label) != 0;
		if (!first)
			continue;
		for (int r = 0; r < RS_PROBE__NR; r++) {
			uint64_t n = 0;
			bool has = false;

			for (inst *o = in; o; o = o->next) {
				if (o->primary || strcmp(o->spec.label, in->spec.label))
					continue;
				has = has || o->spec.probes[r].kind != RS_PK_NONE ||
				      probe_inst_failures(o, (rs_probe_role)r);
				n += probe_inst_failures(o, (rs_probe_role)r);
			}
			if (has)
				prom_sample(b, "rs_probe_failures_total", (double)n,
					    "label", in->spec.label, "probe",
					    rs_probe_role_to_string((rs_probe_role)r), NULL);
		}
	}
	prom_family(b, "rs_agent_rsd_connected", "gauge",
		    "1 while rsd answers this agent.");
	prom_sample(b, "rs_agent_rsd_connected", ag->welcomed ? 1 : 0, NULL);
	prom_family(b, "rs_agent_unacked_events", "gauge",
		    "Events kept for rsd until it acknowledges them (replayed on reconnect).");
	prom_sample(b, "rs_agent_unacked_events", (double)ag->replay_len, NULL);
	prom_family(b, "rs_agent_orders_total", "counter",
		    "rsd's orders received, by what the agent did with them: apply, "
		    "duplicate (applied before), gap (an earlier one missing), refused "
		    "(another rsd epoch), legacy (an rsd that does not number them).");
	for (int v = 0; v < ORD__NR; v++)
		prom_sample(b, "rs_agent_orders_total", (double)ag->orders[v],
			    "verdict", orders_verdict_to_string(v), NULL);
	prom_family(b, "rs_agent_keeper_pid", "gauge",
		    "The pid of this node's keeper (the parent of every service).");
	prom_sample(b, "rs_agent_keeper_pid", ag->keeper_pid, NULL);
	prom_process(b);
}

int agent_metrics_start(agent *ag, const char *hostport)
{
	return httpd_start(ag->loop, hostport, metrics_text, ag, &ag->http,
			   ag->metrics_ep, sizeof ag->metrics_ep);
}

void agent_metrics_stop(agent *ag)
{
	httpd_stop(&ag->http);
}
