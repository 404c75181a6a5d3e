/*
 * signal.c - rsctl reload and rsctl kill: a signal to each live instance
 * of a service, sent by its agent (a Signal order, RS_FEAT_SIGNAL).
 *
 * The targets are the instances with a process: starting or running,
 * standbys included (a clone's standby serves the same configuration; a
 * reload that skipped it would leave a stale copy to switch over to).
 * Everything is checked before anything is recorded or sent: each
 * target's agent connected and speaking RS_FEAT_SIGNAL. Then one
 * transaction records an event per instance ("reload", "kill") and the
 * orders go at its commit. The reply says what was sent, not what the
 * processes made of it: a reload that fails shows in the service's logs,
 * a kill in its restarts.
 *
 * Neither is an operation: no operation row, no "busy" (a reload while an
 * update runs reaches the old and the new process alike). A resent
 * request is answered from the outcome kept for it (requests.c), so an
 * rsctl retry does not signal twice.
 */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codes.h"
#include "log.h"
#include "rsd.h"
#include "version.h"

/* Whether in has a process a signal can reach. */
static bool signal_target(const rsd_inst *in)
{
	return in->si.info.pid > 0 && (in->si.info.state == RS_IS_RUNNING ||
				       in->si.info.state == RS_IS_STARTING);
}

/* "SIGHUP", or the number for a signal without a name. */
static const char *sig_name(int sig, char *buf, size_t n)
{
	const char *a = sigabbrev_np(sig);

	if (a)
		snprintf(buf, n, "SIG%s", a);
	else
		snprintf(buf, n, "signal %d", sig);
	return buf;
}

/* The targets of rq->label into *out (malloc'ed, *nout entries), or
 * replies and returns -1: unknown label, none running, an agent not
 * connected or too old to take a Signal. */
static int signal_targets(rsd *d, const net_peer *peer, const rs_request *rq,
			  rsd_inst ***out, size_t *nout)
{
	rsd_inst **v = NULL;
	size_t n = 0, cap = 0;

	*out = NULL;
	*nout = 0;
	if (!rsd_svc_find(d, rq->label)) {
		rsd_reply_err(d, peer, rq->id, RS_E_NOENT, "unknown service '%s'", rq->label);
		return -1;
	}
	for (rsd_inst *in = rsd_label_insts(d, rq->label); in;
	     in = rsd_label_insts_next(d, in)) {
		const rsd_node *node;

		if (!signal_target(in))
			continue;
		node = rsd_node_find(d, in->si.node);
		if (!node || !node->connected) {
			rsd_reply_err(d, peer, rq->id, RS_E_NONODE, "node %s of %s "
				      "instance %llu is not connected; nothing sent",
				      in->si.node, rq->label,
				      (unsigned long long)in->si.info.id);
			goto fail;
		}
		if (!(node->features & RS_FEAT_SIGNAL)) {
			rsd_reply_err(d, peer, rq->id, RS_E_VERSION, "node %s runs "
				      "rs-agent %s, which cannot take a signal from rsd "
				      "(%s needs rs-agent 0.3.0); upgrade it first. "
				      "Nothing sent", node->n.name,
				      node->n.agent_version[0] ? node->n.agent_version :
				      "(unknown version)", rs_verb_to_string(rq->verb));
			goto fail;
		}
		if (n == cap) {
			size_t ncap = cap ? 2 * cap : 8;
			rsd_inst **nv = realloc(v, ncap * sizeof *nv);

			if (!nv) {
				rsd_reply_err(d, peer, rq->id, RS_E_INTERNAL, "out of memory");
				goto fail;
			}
			v = nv;
			cap = ncap;
		}
		v[n++] = in;
	}
	if (!n) {
		rsd_reply_err(d, peer, rq->id, RS_E_FAILED, "%s has no running instance",
			      rq->label);
		goto fail;
	}
	*out = v;
	*nout = n;
	return 0;
fail:
	free(v);
	return -1;
}

/* Records the event of each target and sends each a Signal at the
 * commit; replies either way. */
static void signal_send(rsd *d, const net_peer *peer, const rs_request *rq,
			rsd_inst **v, size_t n, int sig, bool group)
{
	const char *verb = rs_verb_to_string(rq->verb);
	char name[32], pids[256] = "", msg[512];
	size_t used = 0;
	json_t *arr;
	int r;

	sig_name(sig, name, sizeof name);
	if ((r = rsd_tx_begin(d)) < 0) {
		rsd_reply_unrecorded(d, peer, rq, r);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		rsd_inst *in = v[i];
		rs_msg m;

		rsd_event(d, rq->label, in->si.info.id, in->si.node, verb,
			  "%s to %spid %d", name, group ? "the group of " : "",
			  (int)in->si.info.pid);
		rs_msg_init(&m, RS_MSG_SIGNAL);
		m.u.signal.instance_id = in->si.info.id;
		m.u.signal.signal = sig;
		m.u.signal.group = group;
		/* held until the commit (the node is connected: checked) */
		rsd_send_agent(d, rsd_node_find(d, in->si.node), &m);
		rs_msg_clear(&m);
	}
	if ((r = rsd_tx_commit(d)) < 0) {
		rsd_reply_unrecorded(d, peer, rq, r);
		return;
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++) {
		const rsd_inst *in = v[i];

		json_array_append_new(arr, json_pack("{s:I, s:s, s:i}", "id",
			(json_int_t)in->si.info.id, "node", in->si.node,
			"pid", (int)in->si.info.pid));
		if (used < sizeof pids - 16)
			used += (size_t)snprintf(pids + used, sizeof pids - used, "%s%d",
						 i ? ", " : "", (int)in->si.info.pid);
		else if (i + 1 == n)
			snprintf(pids + used, sizeof pids - used, ", ...");
	}
	log_info("%s %s: %s to %zu instance%s (pid%s %s)", verb, rq->label, name, n,
		 n == 1 ? "" : "s", n == 1 ? "" : "s", pids);
	snprintf(msg, sizeof msg, "sent %s to %s%zu instance%s of %s (pid%s %s)",
		 name, group ? "the process groups of " : "", n, n == 1 ? "" : "s",
		 rq->label, n == 1 ? "" : "s", pids);
	rsd_reply_json(d, peer, rq->id, json_pack("{s:i, s:b, s:o}", "signal", sig,
		       "group", group, "instances", arr), msg);
}

void rsd_signal(rsd *d, const net_peer *peer, const rs_request *rq)
{
	const rsd_svc *s;
	rsd_inst **v;
	size_t n;
	int sig;
	bool group;

	if (signal_targets(d, peer, rq, &v, &n) < 0)
		return;
	if (rq->verb == RS_V_RELOAD) {
		s = rsd_svc_find(d, rq->label);
		sig = s->s.spec.reload_signal ? s->s.spec.reload_signal : SIGHUP;
		group = false;   /* the main process, as ExecReload=kill -HUP $MAINPID */
	} else {
		sig = rq->signal ? rq->signal : SIGTERM;
		group = !rq->main_only;   /* every process, as systemctl kill */
	}
	signal_send(d, peer, rq, v, n, sig, group);
	free(v);
}
