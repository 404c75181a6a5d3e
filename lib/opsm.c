/*
 * opsm.c - operations as a pure state machine (see opsm.h).
 */
#include "opsm.h"

#include <errno.h>

#define B(x) (1u << OP_##x)
#define OPEN B(RUNNING)

/* The states each event is accepted in. */
static const unsigned accepts[OP_EV__NR] = {
	[OP_EV_RECORDED]    = B(NEW),
	[OP_EV_SUCCEED]     = B(RUNNING),
	[OP_EV_FAIL]        = OPEN,
	[OP_EV_TIMEOUT]     = OPEN,
	[OP_EV_CANCEL]      = OPEN,
	[OP_EV_ROLLBACK]    = B(RUNNING),
	[OP_EV_RSD_RESTART] = OPEN,
};

/* Allowed moves: from -> the states it may go to. */
static const unsigned moves[OP__NR] = {
	[OP_NEW]     = B(RUNNING),
	[OP_RUNNING] = B(DONE) | B(FAILED) | B(TIMED_OUT) | B(CANCELLED) |
		       B(ROLLED_BACK),
	/* terminal: nothing */
};

bool opsm_accepts(opsm_state s, opsm_event ev)
{
	return (unsigned)s < OP__NR && (unsigned)ev < OP_EV__NR &&
	       (accepts[ev] & (1u << s));
}

bool opsm_allowed(opsm_state from, opsm_state to)
{
	return (unsigned)from < OP__NR && (unsigned)to < OP__NR &&
	       (moves[from] & (1u << to));
}

bool opsm_open(opsm_state s)
{
	return (unsigned)s < OP__NR && (OPEN & (1u << s));
}

int opsm_step(opsm_state *s, opsm_event ev, bool update)
{
	static const opsm_state to[OP_EV__NR] = {
		[OP_EV_RECORDED] = OP_RUNNING,  [OP_EV_SUCCEED] = OP_DONE,
		[OP_EV_FAIL] = OP_FAILED,       [OP_EV_TIMEOUT] = OP_TIMED_OUT,
		[OP_EV_CANCEL] = OP_CANCELLED,  [OP_EV_ROLLBACK] = OP_ROLLED_BACK,
		[OP_EV_RSD_RESTART] = OP_FAILED,
	};
	opsm_state next;

	if (!opsm_accepts(*s, ev))
		return -EINVAL;
	next = to[ev];
	if (ev == OP_EV_RSD_RESTART && update)
		next = OP_ROLLED_BACK;   /* its instances are handed back */
	if (!opsm_allowed(*s, next))
		return -EINVAL;
	*s = next;
	return 0;
}

bool opsm_mutates(rs_verb v)
{
	switch (v) {
	case RS_V_UP: case RS_V_DOWN: case RS_V_REFRESH: case RS_V_RESTART:
	case RS_V_EDIT: case RS_V_CLONE: case RS_V_UNCLONE: case RS_V_UPDATE:
	case RS_V_DELETE:
		return true;
	default:
		return false;
	}
}

opsm_verdict opsm_admit(rs_verb running, rs_verb incoming)
{
	if (!opsm_mutates(incoming))
		return OPSM_ADMIT;       /* status, lookup, logs, events, ... */
	if (running == RS_V_UP && incoming == RS_V_DOWN)
		return OPSM_CANCELS;     /* a start that waits for ready */
	return OPSM_BUSY;
}

const char *opsm_state_to_string(opsm_state s, bool update)
{
	static const char *const names[OP__NR] = {
		"new", "running", "done", "failed", "timed-out",
		"cancelled", "rolled-back",
	};

	if (s == OP_DONE && update)
		return "committed";
	return (unsigned)s < OP__NR ? names[s] : "unknown";
}

const char *opsm_event_to_string(opsm_event ev)
{
	static const char *const names[OP_EV__NR] = {
		"recorded", "succeed", "fail", "timeout", "cancel",
		"rollback", "rsd-restart",
	};

	return (unsigned)ev < OP_EV__NR ? names[ev] : "unknown";
}
