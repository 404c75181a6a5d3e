/*
 * handover.c - live update of one instance as a coordinated handover
 * (MINIX RS's live update, for Linux processes):
 *
 *   prepare   the old process gets --prepare-signal (if any) and has
 *             maxtime to say X_RS_PREPARED=1 (after any FDSTORE=1 it
 *             wants to hand over); no answer: abandoned, nothing touched
 *   start     the new process starts as a second instance (id | HO_ID_BIT)
 *             with the old one's listening sockets and stored fds, while
 *             the old one still serves on them
 *   commit    once it is ready and has stayed up min-healthy: the keeper
 *             swaps the two processes, so the instance (same id) now runs
 *             the new process with the new spec, and the old process is
 *             stopped (stop signal, stop timeout) as the second instance
 *   rollback  the new process dies, is not ready in time, or dies within
 *             min-healthy: it is stopped; the old one serves on, same pid
 *
 * Each step is an event to rsd (update-prepare, update-start,
 * update-commit, update-rollback with the reason); rsd sequences the
 * instances of an update and stores the new spec once all committed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "probe.h"
#include "clock.h"
#include "hogate.h"
#include "log.h"

struct handover {
	inst     *cand;            /* the new process's instance, or NULL */
	rs_start  next;            /* the new spec and generation (owned) */
	uint32_t  min_healthy_ms;
	uint32_t  maxtime_ms;
	ev_timer  prep_t;          /* maxtime */
	ev_timer  healthy_t;       /* min-healthy after the new one is ready */
	hogate    gate;            /* lib/hogate.h: its steps, decided */
};

static void ho_end(inst *in)
{
	handover *ho = in->ho;

	if (!ho)
		return;
	ev_timer_stop(in->ag->loop, &ho->prep_t);
	ev_timer_stop(in->ag->loop, &ho->healthy_t);
	rs_spec_clear(&ho->next.spec);
	free(ho);
	in->ho = NULL;
}

/* Stops the candidate's process (if any) and lets it be freed when dead. */
static void cand_drop(inst *cand)
{
	cand->forget = true;
	if (cand->pid > 0 ||
	    (cand->rp.state != RS_IS_DOWN && cand->rp.state != RS_IS_FAILED))
		svc_apply(cand, RP_EV_STOP);
}

static void ho_rollback(inst *in, const char *why)
{
	handover *ho = in->ho;
	inst *cand;

	if (!ho)
		return;
	cand = ho->cand;
	ho->cand = NULL;
	ho_end(in);
	log_warnx("%s/%llu: update rolled back: %s", in->spec.label,
		  (unsigned long long)in->id, why);
	agent_report(in->ag, in, RS_EK_UPDATE_ROLLBACK, why);
	if (cand) {
		cand->primary = in;    /* still reported as in's (suppressed) */
		cand_drop(cand);
	}
}

static void ho_commit(inst *in)
{
	handover *ho = in->ho;
	inst *cand = ho->cand;
	agent *ag = in->ag;
	char detail[128];
	pid_t oldpid = in->pid;
	rs_spec spec;
	int nfd;
	ev_io nio;
	char npath[sizeof in->notify_path], status[RS_STATUS_MAX];

	/* the keeper first: the instance's record gets the new process, if
	 * both processes are still alive there (an exit may be on its way) */
	if (kc_swap(ag, in->id, in->pid, cand->id, cand->pid) < 0) {
		ho_rollback(in, "a process died just as the update was to commit");
		return;
	}
	/* then our two instances trade processes and notify sockets */
#define SWAP(f) do { __typeof__(in->f) t_ = in->f; in->f = cand->f; cand->f = t_; } while (0)
	SWAP(pid);
	SWAP(start_ticks);
	SWAP(started_wall);
	SWAP(ready_wall);
	SWAP(notify_spoke);
#undef SWAP
	ev_io_stop(ag->loop, &in->notify_io);
	ev_io_stop(ag->loop, &cand->notify_io);
	nfd = in->notify_fd, in->notify_fd = cand->notify_fd, cand->notify_fd = nfd;
	memcpy(npath, in->notify_path, sizeof npath);
	memcpy(in->notify_path, cand->notify_path, sizeof npath);
	memcpy(cand->notify_path, npath, sizeof npath);
	nio = in->notify_io;
	in->notify_io = cand->notify_io;
	cand->notify_io = nio;
	in->notify_io.data = in;
	cand->notify_io.data = cand;
	if (in->notify_fd >= 0)
		ev_io_start(ag->loop, &in->notify_io);
	if (cand->notify_fd >= 0)
		ev_io_start(ag->loop, &cand->notify_io);
	memcpy(status, in->status, sizeof status);
	memcpy(in->status, cand->status, sizeof status);
	memcpy(cand->status, status, sizeof status);
	/* the new spec is the instance's from now on; the old process is
	 * stopped as the old spec says (its stop signal and timeout) */
	spec = in->spec;
	in->spec = cand->spec;
	cand->spec = spec;
	in->generation = ho->next.generation;
	in->rp.started_ms = clock_mono_ms();
	in->rp.policy = in->spec.policy;
	in->rp.backoff = in->spec.backoff;
	in->rp.hold = in->spec.script != NULL;
	ev_timer_stop(ag->loop, &in->wdog_t);
	if (in->spec.period_ms) {
		double t = 2.0 * in->spec.period_ms / 1000.0;
		ev_timer_set(&in->wdog_t, t, t);
		ev_timer_start(ag->loop, &in->wdog_t);
	}
	/* its probes (the new spec's) follow the new process; the old one,
	 * about to be stopped, is probed no more */
	probe_inst_stop(cand);
	in->startup_done = in->sd_ready = true;
	in->unready = false;
	probe_inst_start(in);
	kc_meta(ag, in);
	ho->cand = NULL;
	ho_end(in);
	snprintf(detail, sizeof detail, "pid %d serves now (was pid %d)",
		 (int)in->pid, (int)oldpid);
	log_info("%s/%llu: update committed: %s", in->spec.label,
		 (unsigned long long)in->id, detail);
	agent_report(ag, in, RS_EK_UPDATE_COMMIT, detail);
	/* the old process, now the second instance's, is stopped */
	ev_timer_stop(ag->loop, &cand->wdog_t);
	cand->primary = in;
	cand_drop(cand);
}

static void ho_start(inst *in);

/* Moves in's update gate (lib/hogate.h) and carries out what it
 * decided: start the new process, arm min-healthy, commit, or roll back
 * with why. An event the gate does not take (a late timer, a second
 * ready, X_RS_PREPARED=1 after maxtime) does nothing. */
static void ho_gate(inst *in, hogate_event ev, const char *why)
{
	handover *ho = in->ho;
	unsigned fx;

	if (!ho || hogate_step(&ho->gate, ev, &fx) < 0)
		return;
	if (fx & HG_FX_ARM) {
		/* (0: fires on the next loop turn, outside this step) */
		ev_timer_set(&ho->healthy_t, ho->min_healthy_ms / 1000.0, 0.);
		ev_timer_start(in->ag->loop, &ho->healthy_t);
	}
	if (fx & HG_FX_COMMIT)
		ho_commit(in);
	if (fx & HG_FX_ROLLBACK)
		ho_rollback(in, why);
	/* last: a start that fails at once steps the gate again (NEW_GONE)
	 * and may free in->ho */
	if (fx & HG_FX_START)
		ho_start(in);
}

/* min-healthy has passed since the new process was ready: what holds now
 * is the gate's event (both still running and the new one still ready:
 * DUE, the commit) */
static void healthy_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	inst *in = w->data;
	inst *cand = in->ho ? in->ho->cand : NULL;

	if (in->rp.state != RS_IS_RUNNING || in->pid <= 0)
		ho_gate(in, HG_EV_OLD_GONE, "the old instance is no longer running");
	else if (!cand || cand->rp.state != RS_IS_RUNNING || cand->pid <= 0)
		ho_gate(in, HG_EV_NEW_GONE, "the new process is no longer running");
	else if (cand->unready || !probe_inst_ready(cand))
		ho_gate(in, HG_EV_UNREADY, "the new process is not ready at the end of "
			"min-healthy (its readiness probe)");
	else
		ho_gate(in, HG_EV_DUE, NULL);
}

void ho_cand_unready(inst *cand, const char *detail)
{
	inst *in = cand->primary;
	char why[320];

	if (!in || !in->ho || in->ho->cand != cand)
		return;   /* not a candidate, or one already dropped */
	snprintf(why, sizeof why, "the new process (pid %d) did not stay ready "
		 "through min-healthy: %s", (int)cand->pid, detail);
	ho_gate(in, HG_EV_UNREADY, why);
}

/* Starts the new process (prepared, or no prepare asked): the gate's
 * HG_FX_START. One that cannot start is the gate's NEW_GONE. */
static void ho_start(inst *in)
{
	handover *ho = in->ho;
	agent *ag = in->ag;
	inst *cand;
	char detail[96];

	ev_timer_stop(ag->loop, &ho->prep_t);
	/* a fresh id each time: the previous handover's old process may
	 * still be stopping under the last one */
	ag->ho_seq = ag->ho_seq % ((1ull << (63 - HO_ID_SEQ_SHIFT)) - 1) + 1;
	cand = svc_new(ag, HO_ID_BIT | (ag->ho_seq << HO_ID_SEQ_SHIFT) |
		       (in->id & HO_ID_MASK));
	if (!cand || rs_spec_copy(&cand->spec, &ho->next.spec) < 0) {
		if (cand)
			cand->forget = true, cand->rp.state = RS_IS_DOWN;
		ho_gate(in, HG_EV_NEW_GONE, "out of memory");
		return;
	}
	cand->primary = in;
	cand->generation = ho->next.generation;
	ho->cand = cand;
	if (notify_open(cand, -1) < 0) {
		ho->cand = NULL;
		cand->forget = true;
		rproc_init(&cand->rp, RS_RP_NEVER, &cand->spec.backoff);
		cand->rp.state = RS_IS_DOWN;
		ho_gate(in, HG_EV_NEW_GONE, "cannot open a notify socket for the new process");
		return;
	}
	/* the new process is not restarted: its failure is a rollback */
	rproc_init(&cand->rp, RS_RP_NEVER, &cand->spec.backoff);
	svc_apply(cand, RP_EV_START);
	if (!in->ho || in->ho->cand != cand)
		return;   /* it failed at once: rolled back */
	snprintf(detail, sizeof detail, "new process pid %d", (int)cand->pid);
	agent_report(ag, in, RS_EK_UPDATE_START, detail);
}

static void prep_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	inst *in = w->data;
	char why[96];

	snprintf(why, sizeof why, "not prepared (no X_RS_PREPARED=1) within %u ms",
		 in->ho ? in->ho->maxtime_ms : 0);
	ho_gate(in, HG_EV_PREP_TIMEOUT, why);
}

void ho_prepared(inst *in)
{
	if (in->primary || !in->ho || in->ho->gate.state != HG_PREPARING)
		return;
	log_info("%s/%llu: prepared for the update", in->spec.label,
		 (unsigned long long)in->id);
	ho_gate(in, HG_EV_PREPARED, NULL);
}

int ho_begin(agent *ag, const rs_start *st)
{
	inst *in = svc_find(ag, st->instance_id);
	handover *ho;
	char detail[128];

	if (!in || in->primary) {
		inst tmp;
		memset(&tmp, 0, sizeof tmp);
		tmp.ag = ag;
		tmp.id = st->instance_id;
		tmp.rp.state = RS_IS_DOWN;
		rs_strlcpy(tmp.spec.label, st->spec.label, sizeof tmp.spec.label);
		agent_report(ag, &tmp, RS_EK_UPDATE_ROLLBACK, "no such instance here");
		return -ENOENT;
	}
	if (in->rp.state != RS_IS_RUNNING || in->pid <= 0) {
		snprintf(detail, sizeof detail, "the instance is %s, not running",
			 rs_istate_to_string(in->rp.state));
		agent_report(ag, in, RS_EK_UPDATE_ROLLBACK, detail);
		return -ENOENT;
	}
	if (in->ho) {
		agent_report(ag, in, RS_EK_UPDATE_ROLLBACK,
			     "an update of it is in progress already");
		return -EBUSY;
	}
	ho = calloc(1, sizeof *ho);
	if (!ho || rs_spec_copy(&ho->next.spec, &st->spec) < 0) {
		free(ho);
		agent_report(ag, in, RS_EK_UPDATE_ROLLBACK, "out of memory");
		return -ENOMEM;
	}
	ho->next.instance_id = st->instance_id;
	ho->next.generation = st->generation;
	ho->maxtime_ms = st->maxtime_ms ? st->maxtime_ms : 2000;
	ho->min_healthy_ms = st->min_healthy_ms;
	ev_timer_init(&ho->prep_t, prep_cb, ho->maxtime_ms / 1000.0, 0.);
	ev_timer_init(&ho->healthy_t, healthy_cb, ho->min_healthy_ms / 1000.0, 0.);
	ho->prep_t.data = ho->healthy_t.data = in;
	hogate_init(&ho->gate);
	in->ho = ho;
	if (st->prepare_signal > 0) {
		snprintf(detail, sizeof detail, "signal %d to pid %d, %u ms to prepare",
			 (int)st->prepare_signal, (int)in->pid, ho->maxtime_ms);
		agent_report(ag, in, RS_EK_UPDATE_PREPARE, detail);
		ev_timer_start(ag->loop, &ho->prep_t);
		kc_kill_main(ag, in->id, st->prepare_signal);
		return 0;
	}
	agent_report(ag, in, RS_EK_UPDATE_PREPARE, "no prepare step asked");
	ho_gate(in, HG_EV_PREPARED, NULL);
	return 0;
}

void ho_cand_moved(inst *cand, rs_istate from)
{
	inst *in = cand->primary;
	handover *ho = in->ho;
	char why[RS_STATUS_MAX + 64];

	(void)from;
	if (!ho || ho->cand != cand)
		return;   /* a dropped candidate going down: nothing to decide */
	switch (cand->rp.state) {
	case RS_IS_RUNNING:
		/* ready (its probes too): commit after min-healthy */
		ho_gate(in, HG_EV_READY, NULL);
		break;
	case RS_IS_STARTING:
	case RS_IS_PENDING:
		break;
	default:
		if (cand->rp.kill_reason != RS_ER_NONE)
			snprintf(why, sizeof why, "the new process was killed: %s%s",
				 rs_exit_reason_to_string(cand->rp.kill_reason),
				 cand->rp.kill_reason == RS_ER_READY_TIMEOUT ?
				 " (not ready in time)" : "");
		else if (cand->rp.exit.reason == RS_ER_NONE && cand->status[0])
			snprintf(why, sizeof why, "the new process failed: %s", cand->status);
		else if (cand->rp.exit.reason == RS_ER_EXITED)
			snprintf(why, sizeof why, "the new process (pid %d) exited with code %d%s",
				 (int)cand->last_pid, (int)cand->rp.exit.code,
				 cand->rp.ever_ready ? "" : " before it was ready");
		else if (cand->rp.exit.reason == RS_ER_SIGNALED)
			snprintf(why, sizeof why, "the new process (pid %d) was killed by signal %d%s",
				 (int)cand->last_pid, (int)cand->rp.exit.signal,
				 cand->rp.ever_ready ? "" : " before it was ready");
		else
			snprintf(why, sizeof why, "the new process failed (%s, %s)",
				 rs_istate_to_string(cand->rp.state),
				 rs_exit_reason_to_string(cand->rp.exit.reason));
		ho_gate(in, HG_EV_NEW_GONE, why);
		break;
	}
}

void ho_primary_exited(inst *in)
{
	ho_gate(in, HG_EV_OLD_GONE, "the old process died during the update");
}

void ho_free(inst *in)
{
	if (in->primary) {
		/* a candidate being freed: unlink it from its instance */
		if (in->primary->ho && in->primary->ho->cand == in)
			in->primary->ho->cand = NULL;
		return;
	}
	if (in->ho && in->ho->cand)
		in->ho->cand->primary = NULL;
	ho_end(in);
	/* a candidate whose primary goes away keeps running until stopped by
	 * its own stop (it was asked to stop in ho_rollback) */
	for (inst *c = in->ag->insts; c; c = c->next)
		if (c->primary == in)
			c->primary = NULL;
}
