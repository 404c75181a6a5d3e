/*
 * probesm.c - one health probe's verdict (see probesm.h).
 */
#include "probesm.h"

#include <errno.h>
#include <string.h>

#define S(x) (1u << PS_##x)
#define E(x) (1u << PS_EV_##x)
#define LIVE (S(UNKNOWN) | S(PASSED) | S(FAILED))

/* accepts[state]: the events it takes; results come only while probing */
static const unsigned accepts[PS__NR] = {
	[PS_OFF]     = E(START) | E(STOP),
	[PS_WAIT]    = E(START) | E(DUE) | E(STOP),
	[PS_UNKNOWN] = E(START) | E(DUE) | E(PASS) | E(FAIL) | E(STOP),
	[PS_PASSED]  = E(START) | E(DUE) | E(PASS) | E(FAIL) | E(STOP),
	[PS_FAILED]  = E(START) | E(DUE) | E(PASS) | E(FAIL) | E(STOP),
};

/* next[from]: the states a move may reach; nothing goes back to UNKNOWN
 * but through a new START (a verdict is never forgotten while probing) */
static const unsigned next[PS__NR] = {
	[PS_OFF]     = S(OFF) | S(WAIT),
	[PS_WAIT]    = S(OFF) | S(WAIT) | S(UNKNOWN),
	[PS_UNKNOWN] = S(OFF) | S(WAIT) | S(UNKNOWN) | S(PASSED) | S(FAILED),
	[PS_PASSED]  = S(OFF) | S(WAIT) | S(PASSED) | S(FAILED),
	[PS_FAILED]  = S(OFF) | S(WAIT) | S(PASSED) | S(FAILED),
};

static const char *const state_names[PS__NR] = {
	"off", "wait", "unknown", "passed", "failed",
};
static const char *const ev_names[PS_EV__NR] = {
	"start", "due", "pass", "fail", "stop",
};

const char *probesm_state_to_string(probesm_state s)
{
	return (unsigned)s < PS__NR ? state_names[s] : "invalid";
}

const char *probesm_event_to_string(probesm_event ev)
{
	return (unsigned)ev < PS_EV__NR ? ev_names[ev] : "invalid";
}

bool probesm_allowed(probesm_state from, probesm_state to)
{
	return (unsigned)from < PS__NR && (unsigned)to < PS__NR &&
	       (next[from] & (1u << to));
}

bool probesm_accepts(probesm_state s, probesm_event ev)
{
	return (unsigned)s < PS__NR && (unsigned)ev < PS_EV__NR &&
	       (accepts[s] & (1u << ev));
}

void probesm_init(probesm *sm, uint32_t failures)
{
	memset(sm, 0, sizeof *sm);
	sm->state = PS_OFF;
	sm->failures = failures ? failures : 1;
}

int probesm_step(probesm *sm, probesm_event ev, uint64_t now_ms, unsigned *fx)
{
	const probesm orig = *sm;
	probesm_state to = sm->state;

	*fx = 0;
	if (!probesm_accepts(sm->state, ev))
		return -EINVAL;
	switch (ev) {
	case PS_EV_START:
		if (sm->state != PS_OFF)
			*fx |= PS_FX_CANCEL;
		*fx |= PS_FX_ARM_DELAY;
		sm->streak = 0;
		sm->inflight = false;
		sm->ever_passed = false;
		sm->since_ms = now_ms;
		to = PS_WAIT;
		break;
	case PS_EV_DUE:
		if (!sm->inflight) {
			*fx |= PS_FX_RUN;
			sm->inflight = true;
		}
		if (sm->state == PS_WAIT)
			to = PS_UNKNOWN;
		break;
	case PS_EV_PASS:
		sm->inflight = false;
		sm->streak = 0;
		sm->ever_passed = true;
		if (sm->state != PS_PASSED) {
			*fx |= PS_FX_PASSED;
			sm->since_ms = now_ms;
		}
		to = PS_PASSED;
		break;
	case PS_EV_FAIL:
		sm->inflight = false;
		if (sm->streak < UINT32_MAX)
			sm->streak++;
		if (sm->state != PS_FAILED && sm->streak >= sm->failures) {
			*fx |= PS_FX_FAILED;
			sm->since_ms = now_ms;
			to = PS_FAILED;
		}
		break;
	case PS_EV_STOP:
		if (sm->state != PS_OFF)
			*fx |= PS_FX_CANCEL;
		sm->inflight = false;
		sm->streak = 0;
		to = PS_OFF;
		break;
	default:
		return -EINVAL;
	}
	if (!probesm_allowed(sm->state, to)) {
		*sm = orig;
		*fx = 0;
		return -EINVAL;   /* the tables and the code disagree: refuse */
	}
	sm->state = to;
	return 0;
}
