#include "rproc.h"

#include <errno.h>
#include <string.h>
#include <sys/wait.h>

#include "backoff.h"

#define S(x) (1u << RS_IS_##x)

/* accepts[state] = the events that state handles; anything else is refused. */
static const unsigned accepts[RS_IS__NR] = {
	[RS_IS_PENDING]  = 1u << RP_EV_START | 1u << RP_EV_STOP,
	[RS_IS_STARTING] = 1u << RP_EV_SPAWN_FAILED | 1u << RP_EV_READY |
			   1u << RP_EV_READY_TIMEOUT | 1u << RP_EV_EXIT |
			   1u << RP_EV_STOP | 1u << RP_EV_PROBE_FAILED,
	[RS_IS_RUNNING]  = 1u << RP_EV_READY | 1u << RP_EV_WATCHDOG_MISS |
			   1u << RP_EV_EXIT | 1u << RP_EV_STOP |
			   1u << RP_EV_PROBE_FAILED,
	[RS_IS_STOPPING] = 1u << RP_EV_EXIT | 1u << RP_EV_STOP |
			   1u << RP_EV_STOP_TIMEOUT,
	[RS_IS_BACKOFF]  = 1u << RP_EV_BACKOFF_DONE | 1u << RP_EV_STOP |
			   1u << RP_EV_START,
	[RS_IS_EXITED]   = 1u << RP_EV_START | 1u << RP_EV_STOP,
	[RS_IS_DOWN]     = 1u << RP_EV_START | 1u << RP_EV_STOP,
	[RS_IS_FAILED]   = 1u << RP_EV_START | 1u << RP_EV_STOP,
};

/* next[from] = the states a move from `from` may reach. */
static const unsigned next[RS_IS__NR] = {
	[RS_IS_PENDING]  = S(STARTING) | S(DOWN) | S(FAILED),
	[RS_IS_STARTING] = S(STARTING) | S(RUNNING) | S(STOPPING) |
			   S(BACKOFF) | S(EXITED) | S(DOWN) | S(FAILED),
	[RS_IS_RUNNING]  = S(RUNNING) | S(STARTING) | S(STOPPING) |
			   S(BACKOFF) | S(EXITED) | S(DOWN) | S(FAILED),
	[RS_IS_STOPPING] = S(STOPPING) | S(STARTING) | S(BACKOFF) |
			   S(EXITED) | S(DOWN) | S(FAILED),
	[RS_IS_EXITED]   = S(STARTING) | S(DOWN) | S(FAILED),
	[RS_IS_BACKOFF]  = S(STARTING) | S(DOWN) | S(FAILED),
	[RS_IS_DOWN]     = S(STARTING) | S(DOWN) | S(FAILED),
	[RS_IS_FAILED]   = S(STARTING) | S(DOWN) | S(FAILED),
};

static const char *const ev_names[RP_EV__NR] = {
	"start", "spawn-failed", "ready", "ready-timeout", "watchdog-miss",
	"exit", "stop", "stop-timeout", "backoff-done", "probe-failed",
};

const char *rproc_event_to_string(rproc_event ev)
{
	return (unsigned)ev < RP_EV__NR ? ev_names[ev] : "invalid";
}

bool rproc_allowed(rs_istate from, rs_istate to)
{
	if ((unsigned)from >= RS_IS__NR || (unsigned)to >= RS_IS__NR)
		return false;
	return next[from] & (1u << to);
}

bool rproc_accepts(rs_istate s, rproc_event ev)
{
	if ((unsigned)s >= RS_IS__NR || (unsigned)ev >= RP_EV__NR)
		return false;
	return accepts[s] & (1u << ev);
}

void rproc_init(rproc *rp, rs_policy policy, const rs_backoff *b)
{
	memset(rp, 0, sizeof *rp);
	rp->state = RS_IS_PENDING;
	rp->policy = policy;
	rp->backoff = *b;
}

void rproc_classify(int wstatus, rs_exit *out)
{
	memset(out, 0, sizeof *out);
	if (WIFSIGNALED(wstatus)) {
		out->signal = WTERMSIG(wstatus);
		out->reason = RS_ER_SIGNALED;
	} else {
		out->code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
		out->reason = RS_ER_EXITED;
	}
}

/* Spawn now: the effects of entering STARTING. */
static rs_istate rproc_spawn(rproc *rp, uint64_t now, rproc_fx *fx)
{
	fx->fx |= RP_FX_SPAWN | RP_FX_ARM_READY;
	rp->started_ms = now;
	rp->kill_reason = RS_ER_NONE;
	return RS_IS_STARTING;
}

/* The main process is gone and nobody asked for it: restart, back off,
 * or give up, by policy. */
static rs_istate rproc_after_death(rproc *rp, uint64_t now, rproc_fx *fx)
{
	bool clean = rp->exit.reason == RS_ER_EXITED && rp->exit.code == 0 &&
		     rp->kill_reason == RS_ER_NONE;
	uint64_t up = now >= rp->started_ms ? now - rp->started_ms : 0;

	fx->reason = rp->kill_reason != RS_ER_NONE ? rp->kill_reason
						   : rp->exit.reason;
	rp->exit.reason = fx->reason;
	/* a failed init (died, or killed for the ready timeout, before the
	 * first ready) is retried by the restart policy like any death, so a
	 * boot-time race (its database not up yet) heals itself; a recovery
	 * script only sees deaths after ready */
	if (!rp->ever_ready && rp->hold)
		return clean ? RS_IS_DOWN : RS_IS_FAILED;
	if (rp->hold)
		return RS_IS_EXITED;   /* the recovery script decides */
	if (rp->policy == RS_RP_NEVER ||
	    (rp->policy == RS_RP_ON_FAILURE && clean))
		return clean ? RS_IS_DOWN : RS_IS_FAILED;
	rp->streak = backoff_next_streak(&rp->backoff, rp->streak, up);
	rp->restarts++;
	fx->fx |= RP_FX_RESTARTED;
	/* streak 1 is the first failure of a series: restart at once */
	fx->delay_ms = backoff_delay_ms(&rp->backoff, rp->streak - 1);
	if (fx->delay_ms == 0)
		return rproc_spawn(rp, now, fx);
	fx->fx |= RP_FX_ARM_BACKOFF;
	return RS_IS_BACKOFF;
}

int rproc_step(rproc *rp, rproc_event ev, uint64_t now, rproc_fx *fx)
{
	rs_istate to = rp->state;
	const rproc orig = *rp;

	memset(fx, 0, sizeof *fx);
	if (!rproc_accepts(rp->state, ev))
		return -EINVAL;
	switch (ev) {
	case RP_EV_START:
		if (rp->state == RS_IS_EXITED) {
			rp->restarts++;   /* a script's restart is a restart */
			fx->fx |= RP_FX_RESTARTED;
		}
		rp->stop_requested = false;
		rp->fenced = false;
		rp->ever_ready = false;
		rp->streak = 0;
		fx->fx |= RP_FX_DISARM;
		to = rproc_spawn(rp, now, fx);
		break;
	case RP_EV_SPAWN_FAILED:
		fx->fx |= RP_FX_DISARM;
		fx->reason = rp->exit.reason = RS_ER_EXEC_FAILED;
		to = RS_IS_FAILED;
		break;
	case RP_EV_READY:
		if (rp->state == RS_IS_STARTING) {
			rp->ever_ready = true;
			fx->fx |= RP_FX_DISARM | RP_FX_ARM_WDOG;
			to = RS_IS_RUNNING;
		}
		break;
	case RP_EV_READY_TIMEOUT:
		rp->kill_reason = RS_ER_READY_TIMEOUT;
		fx->fx |= RP_FX_DISARM | RP_FX_KILL;
		to = RS_IS_STOPPING;
		break;
	case RP_EV_WATCHDOG_MISS:
		rp->kill_reason = RS_ER_NO_HEARTBEAT;
		fx->fx |= RP_FX_DISARM | RP_FX_KILL;
		to = RS_IS_STOPPING;
		break;
	case RP_EV_PROBE_FAILED:
		rp->kill_reason = RS_ER_PROBE_FAILED;
		fx->fx |= RP_FX_DISARM | RP_FX_KILL;
		to = RS_IS_STOPPING;
		break;
	case RP_EV_EXIT:
		fx->fx |= RP_FX_DISARM;
		if (rp->stop_requested) {
			fx->reason = rp->exit.reason = rp->fenced ? RS_ER_FENCED
								  : RS_ER_STOPPED;
			to = RS_IS_DOWN;
		} else {
			to = rproc_after_death(rp, now, fx);
		}
		break;
	case RP_EV_STOP:
		rp->stop_requested = true;
		if (rp->state == RS_IS_STARTING || rp->state == RS_IS_RUNNING) {
			fx->fx |= RP_FX_DISARM | RP_FX_STOP_SIGNAL;
			to = RS_IS_STOPPING;
		} else if (rp->state != RS_IS_STOPPING) {
			fx->fx |= RP_FX_DISARM;
			if (rp->fenced && rp->state != RS_IS_DOWN &&
			    rp->state != RS_IS_FAILED)
				fx->reason = rp->exit.reason = RS_ER_FENCED;
			to = RS_IS_DOWN;
		}
		break;
	case RP_EV_STOP_TIMEOUT:
		fx->fx |= RP_FX_KILL;
		break;
	case RP_EV_BACKOFF_DONE:
		to = rproc_spawn(rp, now, fx);
		break;
	default:
		return -EINVAL;
	}
	if (!rproc_allowed(rp->state, to)) {
		*rp = orig;
		memset(fx, 0, sizeof *fx);
		return -EINVAL;   /* the table and the code disagree: refuse */
	}
	rp->state = to;
	return 0;
}
