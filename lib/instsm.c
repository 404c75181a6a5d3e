/*
 * instsm.c - an instance as rsd sees it (see instsm.h).
 */
#include "instsm.h"

#include <errno.h>
#include <string.h>

#define S(x) (1u << RS_IS_##x)
#define LIVE (S(PENDING) | S(STARTING) | S(RUNNING) | S(STOPPING) | S(BACKOFF))
#define ALL  ((1u << RS_IS__NR) - 1)
/* what an agent reports (LOST is rsd's own; PENDING: not started yet) */
#define REPORTED (S(PENDING) | S(STARTING) | S(RUNNING) | S(STOPPING) | \
		  S(EXITED) | S(BACKOFF) | S(DOWN) | S(FAILED))

/* The states each event is accepted in. */
static const unsigned accepts[IM_EV__NR] = {
	/* not while live (two copies) nor lost (it moves, or waits) */
	[IM_EV_PLACE]     = S(UNKNOWN) | S(EXITED) | S(DOWN) | S(FAILED),
	[IM_EV_REPORT]    = ALL,                        /* a fact */
	[IM_EV_ABSENT]    = ALL,                        /* a fact */
	[IM_EV_NODE_LOST] = ALL,
	/* a stopping one is on its way down: its stop decides */
	[IM_EV_MOVE]      = S(LOST) | S(PENDING) | S(STARTING) | S(RUNNING) |
			    S(BACKOFF),
	[IM_EV_STOP]      = ALL,
	[IM_EV_RESTART]   = LIVE | S(EXITED),
};

/* Allowed moves: from -> the states it may go to. Nothing goes back to
 * UNKNOWN; only a live instance (or a lost one, again) can be lost. */
static const unsigned moves[RS_IS__NR] = {
	[RS_IS_UNKNOWN]  = ALL & ~S(UNKNOWN) & ~S(LOST),
	[RS_IS_PENDING]  = ALL & ~S(UNKNOWN),
	[RS_IS_STARTING] = ALL & ~S(UNKNOWN),
	[RS_IS_RUNNING]  = ALL & ~S(UNKNOWN),
	[RS_IS_STOPPING] = ALL & ~S(UNKNOWN),
	[RS_IS_EXITED]   = ALL & ~S(UNKNOWN) & ~S(LOST),
	[RS_IS_BACKOFF]  = ALL & ~S(UNKNOWN),
	[RS_IS_DOWN]     = ALL & ~S(UNKNOWN) & ~S(LOST),
	[RS_IS_FAILED]   = ALL & ~S(UNKNOWN) & ~S(LOST),
	[RS_IS_LOST]     = ALL & ~S(UNKNOWN),
};

bool instsm_live(rs_istate s)
{
	return (unsigned)s < RS_IS__NR && (LIVE & (1u << s));
}

bool instsm_accepts(rs_istate s, instsm_event ev)
{
	return (unsigned)s < RS_IS__NR && (unsigned)ev < IM_EV__NR &&
	       (accepts[ev] & (1u << s));
}

bool instsm_allowed(rs_istate from, rs_istate to)
{
	return (unsigned)from < RS_IS__NR && (unsigned)to < RS_IS__NR &&
	       (from == to || (moves[from] & (1u << to)));
}

static void report(rs_istate from, const instsm_in *in, rs_istate *to,
		   instsm_fx *fx)
{
	rs_istate r = in->reported;

	*to = r;
	fx->fx |= IM_FX_PERSIST;
	/* a clone's active one that stops serving */
	if (in->death || (from == RS_IS_RUNNING && r != RS_IS_RUNNING))
		fx->fx |= IM_FX_SWITCH;
	/* a death before ready: its start failed */
	if (in->death && from != RS_IS_RUNNING)
		fx->fx |= IM_FX_DIED;
}

static void absent(rs_istate from, const instsm_in *in, rs_istate *to,
		   instsm_fx *fx)
{
	/* what its node should run and does not: a live or lost one, or one
	 * its agent stopped on shutting down (not one that ended by its own
	 * policy) */
	if (in->wanted && (instsm_live(from) || from == RS_IS_LOST ||
			   (from == RS_IS_DOWN && in->stopped))) {
		*to = RS_IS_PENDING;
		fx->fx |= IM_FX_PERSIST | IM_FX_START | IM_FX_CLEAR | IM_FX_EVENT;
		fx->event = "reconcile";
	} else if (instsm_live(from) || from == RS_IS_LOST || from == RS_IS_EXITED) {
		*to = RS_IS_DOWN;
		fx->fx |= IM_FX_PERSIST | IM_FX_CLEAR;
	}
}

int instsm_step(rs_istate *state, instsm_event ev, const instsm_in *in,
		instsm_fx *fx)
{
	rs_istate from = *state, to = from;

	memset(fx, 0, sizeof *fx);
	if (!instsm_accepts(from, ev))
		return -EINVAL;
	switch (ev) {
	case IM_EV_PLACE:
		to = RS_IS_PENDING;
		fx->fx = IM_FX_PERSIST | IM_FX_START | IM_FX_CLEAR;
		break;
	case IM_EV_REPORT:
		if ((unsigned)in->reported >= RS_IS__NR ||
		    !(REPORTED & (1u << in->reported)))
			return -EINVAL;
		report(from, in, &to, fx);
		break;
	case IM_EV_ABSENT:
		absent(from, in, &to, fx);
		break;
	case IM_EV_NODE_LOST:
		if (instsm_live(from)) {
			to = RS_IS_LOST;
			fx->fx = IM_FX_PERSIST | IM_FX_EVENT | IM_FX_SWITCH;
			fx->event = "lost";
		}
		break;
	case IM_EV_MOVE:
		to = RS_IS_PENDING;
		fx->fx = IM_FX_PERSIST | IM_FX_START | IM_FX_CLEAR | IM_FX_EVENT;
		fx->event = "rescheduled";
		if (from != RS_IS_LOST)
			fx->fx |= IM_FX_STOP_OLD;
		break;
	case IM_EV_STOP:
		/* the agent reports the way down (and drops what it keeps of
		 * a dead one); where nothing was placed or nothing can be
		 * reached there is nothing to order (a lost node's copy is
		 * stopped when its Hello shows it) */
		if (from != RS_IS_UNKNOWN && from != RS_IS_LOST)
			fx->fx = IM_FX_STOP;
		break;
	case IM_EV_RESTART:
		fx->fx = IM_FX_RESTART;
		break;
	default:
		return -EINVAL;
	}
	if (!instsm_allowed(from, to)) {   /* the tables disagree: a bug */
		memset(fx, 0, sizeof *fx);
		return -EINVAL;
	}
	*state = to;
	return 0;
}

const char *instsm_event_to_string(instsm_event ev)
{
	static const char *const names[IM_EV__NR] = {
		"place", "report", "absent", "node-lost", "move", "stop", "restart",
	};

	return (unsigned)ev < IM_EV__NR ? names[ev] : "unknown";
}
