/*
 * hogate.c - a live update's commit or rollback (see hogate.h).
 */
#include "hogate.h"

#include <errno.h>

#define S(x) (1u << HG_##x)
#define E(x) (1u << HG_EV_##x)
#define GONE (E(NEW_GONE) | E(OLD_GONE))

/* accepts[state]: DUE only while min-healthy runs; READY only before;
 * nothing of a new process before it starts */
static const unsigned accepts[HG__NR] = {
	[HG_PREPARING]   = E(PREPARED) | E(PREP_TIMEOUT) | E(OLD_GONE),
	[HG_WAIT]        = E(READY) | E(UNREADY) | GONE,
	[HG_HEALTHY]     = E(UNREADY) | E(DUE) | GONE,
	[HG_COMMITTED]   = 0,
	[HG_ROLLED_BACK] = 0,
};

/* next[from]: an end is final */
static const unsigned next[HG__NR] = {
	[HG_PREPARING]   = S(WAIT) | S(ROLLED_BACK),
	[HG_WAIT]        = S(WAIT) | S(HEALTHY) | S(ROLLED_BACK),
	[HG_HEALTHY]     = S(COMMITTED) | S(ROLLED_BACK),
	[HG_COMMITTED]   = 0,
	[HG_ROLLED_BACK] = 0,
};

static const char *const state_names[HG__NR] = {
	"preparing", "wait", "healthy", "committed", "rolled-back",
};
static const char *const ev_names[HG_EV__NR] = {
	"prepared", "prep-timeout", "ready", "unready", "due", "new-gone", "old-gone",
};

const char *hogate_state_to_string(hogate_state s)
{
	return (unsigned)s < HG__NR ? state_names[s] : "invalid";
}

const char *hogate_event_to_string(hogate_event ev)
{
	return (unsigned)ev < HG_EV__NR ? ev_names[ev] : "invalid";
}

bool hogate_allowed(hogate_state from, hogate_state to)
{
	return (unsigned)from < HG__NR && (unsigned)to < HG__NR &&
	       (next[from] & (1u << to));
}

bool hogate_accepts(hogate_state s, hogate_event ev)
{
	return (unsigned)s < HG__NR && (unsigned)ev < HG_EV__NR &&
	       (accepts[s] & (1u << ev));
}

void hogate_init(hogate *g)
{
	g->state = HG_PREPARING;
}

int hogate_step(hogate *g, hogate_event ev, unsigned *fx)
{
	hogate_state to = g->state;

	*fx = 0;
	if (!hogate_accepts(g->state, ev))
		return -EINVAL;
	switch (ev) {
	case HG_EV_PREPARED:
		to = HG_WAIT;
		*fx = HG_FX_START;
		break;
	case HG_EV_PREP_TIMEOUT:
		to = HG_ROLLED_BACK;
		*fx = HG_FX_ROLLBACK;
		break;
	case HG_EV_READY:
		to = HG_HEALTHY;
		*fx = HG_FX_ARM;
		break;
	case HG_EV_UNREADY:
		/* before its first ready it simply is not ready yet */
		if (g->state == HG_HEALTHY) {
			to = HG_ROLLED_BACK;
			*fx = HG_FX_ROLLBACK;
		}
		break;
	case HG_EV_DUE:
		to = HG_COMMITTED;
		*fx = HG_FX_COMMIT;
		break;
	case HG_EV_NEW_GONE:
	case HG_EV_OLD_GONE:
		to = HG_ROLLED_BACK;
		*fx = HG_FX_ROLLBACK;
		break;
	default:
		return -EINVAL;
	}
	if (!hogate_allowed(g->state, to)) {
		*fx = 0;
		return -EINVAL;
	}
	g->state = to;
	return 0;
}
