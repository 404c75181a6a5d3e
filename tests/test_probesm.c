/*
 * test_probesm.c - lib/probesm: every state x event pair against an
 * expected table (with a probe in flight or not, one failure short of the
 * threshold or not), the threshold counted in a row, and a seeded random
 * walk checking the invariants on every step.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>

#include "probesm.h"

#define NONE (-1)   /* not accepted: -EINVAL, nothing changes */
#define SAME (-2)   /* accepted, state unchanged */

enum { OF = PS_OFF, WA = PS_WAIT, UN = PS_UNKNOWN, PA = PS_PASSED, FA = PS_FAILED };

struct want {
	int      to;
	unsigned fx;
};

#define DL PS_FX_ARM_DELAY
#define RN PS_FX_RUN
#define CA PS_FX_CANCEL
#define OK PS_FX_PASSED
#define KO PS_FX_FAILED

/* [state][event], no probe in flight, the streak one short of the
 * threshold (so a FAIL reaches it). */
static const struct want table[PS__NR][PS_EV__NR] = {
	/*        START            DUE           PASS          FAIL           STOP */
	[OF] = { { WA, DL },      { NONE, 0 },  { NONE, 0 },  { NONE, 0 },   { SAME, 0 } },
	[WA] = { { WA, CA | DL }, { UN, RN },   { NONE, 0 },  { NONE, 0 },   { OF, CA } },
	[UN] = { { WA, CA | DL }, { SAME, RN }, { PA, OK },   { FA, KO },    { OF, CA } },
	[PA] = { { WA, CA | DL }, { SAME, RN }, { SAME, 0 },  { FA, KO },    { OF, CA } },
	[FA] = { { WA, CA | DL }, { SAME, RN }, { PA, OK },   { SAME, 0 },   { OF, CA } },
};

static void make(probesm *sm, probesm_state s, bool inflight, uint32_t streak)
{
	probesm_init(sm, 3);
	sm->state = s;
	sm->inflight = inflight;
	sm->streak = streak;
}

static void check(probesm_state s, probesm_event ev, const struct want *w)
{
	probesm sm, before;
	unsigned fx = 0xdead;
	int r;

	make(&sm, s, false, 2);
	before = sm;
	r = probesm_step(&sm, ev, 1000, &fx);
	if (w->to == NONE) {
		cr_assert_eq(r, -EINVAL, "%s in %s: accepted", probesm_event_to_string(ev),
			     probesm_state_to_string(s));
		cr_assert_eq(fx, 0);
		cr_assert_eq(memcmp(&sm, &before, sizeof sm), 0, "changed on refusal");
		cr_assert(!probesm_accepts(s, ev));
		return;
	}
	cr_assert_eq(r, 0, "%s in %s: refused", probesm_event_to_string(ev),
		     probesm_state_to_string(s));
	cr_assert(probesm_accepts(s, ev));
	cr_assert_eq(sm.state, w->to == SAME ? s : (probesm_state)w->to,
		     "%s in %s: went to %s", probesm_event_to_string(ev),
		     probesm_state_to_string(s), probesm_state_to_string(sm.state));
	cr_assert_eq(fx, w->fx, "%s in %s: effects %#x, want %#x",
		     probesm_event_to_string(ev), probesm_state_to_string(s), fx, w->fx);
	cr_assert(probesm_allowed(s, sm.state));
	if (fx & RN)
		cr_assert(sm.inflight, "a run is in flight");
	if (ev == PS_EV_PASS || ev == PS_EV_FAIL || ev == PS_EV_STOP || ev == PS_EV_START)
		cr_assert(!sm.inflight);
}

Test(probesm, every_state_and_event, .timeout = 10)
{
	for (int s = 0; s < PS__NR; s++)
		for (int e = 0; e < PS_EV__NR; e++)
			check((probesm_state)s, (probesm_event)e, &table[s][e]);
}

/* A DUE while a probe is in flight runs none (a timeout longer than the
 * period): the one in flight decides. */
Test(probesm, due_while_inflight_runs_nothing, .timeout = 10)
{
	for (int s = PS_UNKNOWN; s <= PS_FAILED; s++) {
		probesm sm;
		unsigned fx;

		make(&sm, (probesm_state)s, true, 0);
		cr_assert_eq(probesm_step(&sm, PS_EV_DUE, 5, &fx), 0);
		cr_assert_eq(fx, 0, "%s: %#x", probesm_state_to_string((probesm_state)s), fx);
		cr_assert(sm.inflight);
	}
}

/* Failures count in a row: a pass in between starts the count over; the
 * verdict changes (an effect, so an event) only on the threshold. */
Test(probesm, failures_in_a_row, .timeout = 10)
{
	probesm sm;
	unsigned fx;

	probesm_init(&sm, 3);
	cr_assert_eq(probesm_step(&sm, PS_EV_START, 0, &fx), 0);
	cr_assert_eq(fx, DL);
	cr_assert_eq(probesm_step(&sm, PS_EV_DUE, 10, &fx), 0);
	cr_assert_eq(probesm_step(&sm, PS_EV_PASS, 11, &fx), 0);
	cr_assert_eq(fx, OK);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 2; i++) {
			cr_assert_eq(probesm_step(&sm, PS_EV_DUE, 20, &fx), 0);
			cr_assert_eq(probesm_step(&sm, PS_EV_FAIL, 21, &fx), 0);
			cr_assert_eq(fx, 0, "failure %d of 3 is no verdict", i + 1);
			cr_assert_eq(sm.state, PS_PASSED);
		}
		cr_assert_eq(probesm_step(&sm, PS_EV_DUE, 30, &fx), 0);
		cr_assert_eq(probesm_step(&sm, PS_EV_PASS, 31, &fx), 0);
		cr_assert_eq(fx, 0, "still passing: no event");
		cr_assert_eq(sm.streak, 0);
	}
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(probesm_step(&sm, PS_EV_DUE, 40, &fx), 0);
		cr_assert_eq(probesm_step(&sm, PS_EV_FAIL, 41 + i, &fx), 0);
	}
	cr_assert_eq(fx, KO);
	cr_assert_eq(sm.state, PS_FAILED);
	cr_assert_eq(sm.since_ms, 43);
	/* more failures: no new verdict */
	cr_assert_eq(probesm_step(&sm, PS_EV_DUE, 50, &fx), 0);
	cr_assert_eq(probesm_step(&sm, PS_EV_FAIL, 51, &fx), 0);
	cr_assert_eq(fx, 0);
	/* a result after STOP (a cancelled probe) is refused */
	cr_assert_eq(probesm_step(&sm, PS_EV_STOP, 60, &fx), 0);
	cr_assert_eq(probesm_step(&sm, PS_EV_PASS, 61, &fx), -EINVAL);
	cr_assert_eq(sm.state, PS_OFF);
}

/* failures 0 counts as 1; one failure is then a verdict */
Test(probesm, threshold_one, .timeout = 10)
{
	probesm sm;
	unsigned fx;

	probesm_init(&sm, 0);
	cr_assert_eq(sm.failures, 1);
	probesm_step(&sm, PS_EV_START, 0, &fx);
	probesm_step(&sm, PS_EV_DUE, 1, &fx);
	cr_assert_eq(probesm_step(&sm, PS_EV_FAIL, 2, &fx), 0);
	cr_assert_eq(fx, KO);
}

/* A seeded random walk: every step is a declared move, effects fit the
 * new state, a verdict effect only on a change. */
Test(probesm, random_walk, .timeout = 20)
{
	unsigned seed = 12345;
	probesm sm;

	probesm_init(&sm, 2);
	for (int i = 0; i < 200000; i++) {
		probesm_state from = sm.state;
		probesm_event ev = (probesm_event)(rand_r(&seed) % PS_EV__NR);
		unsigned fx;
		int r = probesm_step(&sm, ev, (uint64_t)i, &fx);

		if (r < 0) {
			cr_assert(!probesm_accepts(from, ev));
			cr_assert_eq(sm.state, from);
			continue;
		}
		cr_assert(probesm_allowed(from, sm.state));
		cr_assert(!((fx & OK) && (fx & KO)));
		if (fx & OK)
			cr_assert(from != PS_PASSED && sm.state == PS_PASSED);
		if (fx & KO)
			cr_assert(from != PS_FAILED && sm.state == PS_FAILED);
		if (sm.state == PS_FAILED && from != PS_FAILED)
			cr_assert(fx & KO);
		cr_assert(sm.state != PS_OFF || !sm.inflight);
	}
}

Test(probesm, names, .timeout = 10)
{
	cr_assert_str_eq(probesm_state_to_string(PS_FAILED), "failed");
	cr_assert_str_eq(probesm_state_to_string(PS__NR), "invalid");
	cr_assert_str_eq(probesm_event_to_string(PS_EV_DUE), "due");
	cr_assert_str_eq(probesm_event_to_string(PS_EV__NR), "invalid");
	cr_assert(!probesm_accepts(PS__NR, PS_EV_START));
	cr_assert(!probesm_allowed(PS_OFF, PS_PASSED));
}
