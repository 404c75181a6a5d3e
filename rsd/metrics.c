/*
 * metrics.c - rsd's Prometheus endpoint (GET /metrics, GET /healthz).
 *
 * libmicrohttpd runs without a thread of its own, on rsd's libev loop:
 * its epoll fd is one io watcher and MHD_get_timeout() one timer, so a
 * scrape is answered from the same thread that owns the table (no locks)
 * and a slow or hostile client costs only a socket. Connections are
 * limited in number, time (5 s) and memory (16 KiB of request headers:
 * more gets an error), so a scrape never blocks supervision.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "codes.h"
#include "log.h"
#include "prom.h"
#include "rsd.h"
#include "wire.h"

#define METRICS_CONN_MAX     64
#define METRICS_TIMEOUT_S    5
#define METRICS_MEM_LIMIT    (16 * 1024)

/* One counter family from d->counters of the given kind; by_node adds the
 * node and reason labels. */
static void counter_family(rsd *d, prom_buf *b, const char *kind,
			   const char *name, const char *help, bool by_node)
{
	prom_family(b, name, "counter", help);
	for (rsd_counter *c = d->counters; c; c = c->next) {
		if (strcmp(c->kind, kind) != 0)
			continue;
		if (by_node)
			prom_sample(b, name, (double)c->n, "label", c->label,
				    "node", c->node, "reason", c->reason, NULL);
		else
			prom_sample(b, name, (double)c->n, "label", c->label, NULL);
	}
}

static void count_kinds(rsd *d, prom_buf *b)
{
	counter_family(d, b, "restart", "rs_instance_restarts_total",
		       "Restarts of instances seen by this rsd, by label, node and reason.",
		       true);
	counter_family(d, b, "critical", "rs_critical_failures_total",
		       "Permanent failures of critical services, by label.", false);
	counter_family(d, b, "watchdog", "rs_watchdog_misses_total",
		       "Instances killed for a missing WATCHDOG=1, by label.", false);
}

/* Builds the whole exposition into b. */
static void metrics_text(rsd *d, prom_buf *b)
{
	uint64_t by_state[RS_IS__NR] = { 0 }, nodes[RS_NS__NR] = { 0 };
	uint64_t now = clock_mono_ms();
	size_t nsvc = 0;
	char id[32];

	for (rsd_svc *s = d->svcs; s; s = s->next)
		nsvc++;
	prom_family(b, "rs_services", "gauge", "Services in the rproc table.");
	prom_sample(b, "rs_services", (double)nsvc, NULL);

	for (rsd_inst *in = d->insts; in; in = in->next)
		if ((unsigned)in->si.info.state < RS_IS__NR)
			by_state[in->si.info.state]++;
	prom_family(b, "rs_instances", "gauge", "Instances by state.");
	for (int s = RS_IS_PENDING; s < RS_IS__NR; s++)
		prom_sample(b, "rs_instances", (double)by_state[s],
			    "state", rs_istate_to_string(s), NULL);

	prom_family(b, "rs_instance_up", "gauge",
		    "1 if the instance is running (ready), else 0.");
	for (rsd_inst *in = d->insts; in; in = in->next) {
		snprintf(id, sizeof id, "%llu", (unsigned long long)in->si.info.id);
		prom_sample(b, "rs_instance_up", in->si.info.state == RS_IS_RUNNING,
			    "label", in->si.info.label, "node", in->si.node,
			    "instance", id, NULL);
	}
	prom_family(b, "rs_instance_restarts", "gauge",
		    "Restarts of the instance since it was brought up (as its agent counts).");
	for (rsd_inst *in = d->insts; in; in = in->next) {
		snprintf(id, sizeof id, "%llu", (unsigned long long)in->si.info.id);
		prom_sample(b, "rs_instance_restarts", in->si.info.restarts,
			    "label", in->si.info.label, "node", in->si.node,
			    "instance", id, NULL);
	}
	count_kinds(d, b);

	for (rsd_node *n = d->nodes; n; n = n->next)
		if ((unsigned)n->n.state < RS_NS__NR)
			nodes[n->n.state]++;
	prom_family(b, "rs_nodes", "gauge", "Nodes by state.");
	for (int s = RS_NS_UNKNOWN; s < RS_NS__NR; s++)
		prom_sample(b, "rs_nodes", (double)nodes[s], "state",
			    rs_node_state_to_string(s), NULL);
	prom_family(b, "rs_node_heartbeat_age_seconds", "gauge",
		    "Seconds since the node's agent was last heard from (this rsd process).");
	for (rsd_node *n = d->nodes; n; n = n->next)
		prom_sample(b, "rs_node_heartbeat_age_seconds",
			    (double)(now - n->beat_mono) / 1000.0, "node", n->n.name, NULL);

	prom_family(b, "rs_backoff_seconds", "gauge",
		    "The restart delay a service is waiting out now (0 when it runs).");
	for (rsd_svc *s = d->svcs; s; s = s->next)
		prom_sample(b, "rs_backoff_seconds", s->backoff_ms / 1000.0,
			    "label", s->s.spec.label, NULL);
	prom_hist_write(b, "rs_instance_ready_seconds",
			"Time from a process start to its readiness (READY=1 or settled).",
			&d->h_ready);
	prom_hist_write(b, "rs_restart_latency_seconds",
			"Time from a death seen by the agent to the new process (incl. backoff).",
			&d->h_restart);
	prom_hist_write(b, "rs_store_commit_seconds",
			"Duration of rsd's SQLite commits.", &d->h_commit);
	{
		bool booted = d->booted || !d->boot;
		for (rsd_node *n = d->nodes; n; n = n->next)
			booted &= n->n.state != RS_NS_UNKNOWN;
		prom_family(b, "rs_boot_complete", "gauge",
			    "1 once the --manifest services all run and every node known "
			    "from the store has reported (or been lost).");
		prom_sample(b, "rs_boot_complete", booted, NULL);
	}
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
	prom_process(b);
}

static enum MHD_Result metrics_answer(void *cls, struct MHD_Connection *c,
				      const char *url, const char *method,
				      const char *version, const char *upload,
				      size_t *upload_size, void **con_cls)
{
	rsd *d = cls;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	unsigned status = MHD_HTTP_OK;
	prom_buf b = { 0 };
	const char *type = "text/plain; version=0.0.4; charset=utf-8";

	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
	} else if (strcmp(url, "/metrics") == 0) {
		metrics_text(d, &b);
		if (b.oom)
			status = MHD_HTTP_INTERNAL_SERVER_ERROR;
	} else if (strcmp(url, "/healthz") != 0) {
		status = MHD_HTTP_NOT_FOUND;
	}
	if (status != MHD_HTTP_OK) {
		prom_free(&b);
		b.s = strdup(status == MHD_HTTP_NOT_FOUND ? "not found\n" :
			     status == MHD_HTTP_METHOD_NOT_ALLOWED ?
			     "method not allowed\n" : "internal error\n");
		b.len = b.s ? strlen(b.s) : 0;
		type = "text/plain; charset=utf-8";
	} else if (strcmp(url, "/healthz") == 0) {
		b.s = strdup("ok\n");
		b.len = b.s ? 3 : 0;
	}
	resp = MHD_create_response_from_buffer(b.len, b.s ? b.s : (char *)"",
					       b.s ? MHD_RESPMEM_MUST_FREE :
					       MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(b.s);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", type);
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Lets MHD do its work, then re-arms the timer it asks for. */
static void metrics_run(rsd *d)
{
	MHD_UNSIGNED_LONG_LONG to;

	MHD_run(d->mhd);
	ev_timer_stop(d->loop, &d->mhd_t);
	if (MHD_get_timeout(d->mhd, &to) == MHD_YES) {
		ev_timer_set(&d->mhd_t, (double)to / 1000.0, 0.);
		ev_timer_start(d->loop, &d->mhd_t);
	}
}

static void mhd_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	metrics_run(w->data);
}

static void mhd_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	metrics_run(w->data);
}

/* Parses HOST:PORT ([v6]:PORT too) into a socket address. */
static int parse_hostport(const char *hp, struct sockaddr_storage *ss)
{
	char host[256], *port;
	struct addrinfo hints = { .ai_flags = AI_NUMERICSERV | AI_PASSIVE,
				  .ai_socktype = SOCK_STREAM }, *res;
	int r;

	if (rs_strlcpy(host, hp, sizeof host) < 0)
		return -EINVAL;
	port = strrchr(host, ':');
	if (!port)
		return -EINVAL;
	*port++ = '\0';
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	r = getaddrinfo(host[0] && strcmp(host, "*") ? host : NULL, port, &hints, &res);
	if (r != 0)
		return -EINVAL;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

int rsd_metrics_start(rsd *d, const char *hostport)
{
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *info;
	char addr[INET6_ADDRSTRLEN] = "?";
	unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	int r;

	r = parse_hostport(hostport, &ss);
	if (r < 0)
		return r;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	d->mhd = MHD_start_daemon(flags, 0, NULL, NULL, metrics_answer, d,
				  MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_CONN_MAX,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_TIMEOUT_S,
				  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)METRICS_MEM_LIMIT,
				  MHD_OPTION_END);
	if (!d->mhd)
		return -EADDRINUSE;
	info = MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info) {
		MHD_stop_daemon(d->mhd);
		d->mhd = NULL;
		return -ENOTSUP;
	}
	ev_io_init(&d->mhd_io, mhd_io_cb, info->epoll_fd, EV_READ);
	d->mhd_io.data = d;
	ev_io_start(d->loop, &d->mhd_io);
	ev_init(&d->mhd_t, mhd_timer_cb);
	d->mhd_t.data = d;
	info = MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_BIND_PORT);
	if (ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, addr, sizeof addr);
	else
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, addr, sizeof addr);
	snprintf(d->metrics_ep, sizeof d->metrics_ep,
		 ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", addr,
		 info ? (unsigned)info->port : 0u);
	return 0;
}

void rsd_metrics_stop(rsd *d)
{
	if (!d->mhd)
		return;
	ev_io_stop(d->loop, &d->mhd_io);
	ev_timer_stop(d->loop, &d->mhd_t);
	MHD_stop_daemon(d->mhd);
	d->mhd = NULL;
}

void rsd_count(rsd *d, const char *kind, const char *label, const char *node,
	       const char *reason)
{
	rsd_counter *c;

	for (c = d->counters; c; c = c->next)
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
		c->next = d->counters;
		d->counters = c;
	}
	c->n++;
}
