/*
 * test_rtguard.c - lib/rtguard: every state x event pair against an
 * expected table (a TICK both with its condition holding and not), the
 * share measured over a window, a flood lowered and raised again after
 * the hold, floods after floods held longer each time (up to a cap) and
 * the base hold after a calm, and a seeded random walk checking the
 * invariants every step (the hold's length among them).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>

#include "rtguard.h"

#define NONE (-1)   /* not a move: -EINVAL, nothing changes */
#define SAME (-2)   /* accepted, state unchanged */

enum { IN = RTG_INIT, RG = RTG_RAISING, RD = RTG_RAISED, HE = RTG_HELD, OF = RTG_OFF };

struct want {
	int        to;
	rtg_effect fx;
};

#define NO RTG_FX_NONE
#define UP RTG_FX_RAISE
#define DN RTG_FX_LOWER

/* [state][event] with a TICK's condition holding (a window over and its
 * share above the limit; a hold over) ... */
static const struct want hot[RTG__NSTATES][RTG__NEVENTS] = {
	/*        START         RAISED        REFUSED       TICK */
	[IN] = { { RG, UP },   { NONE, NO }, { NONE, NO }, { NONE, NO } },
	[RG] = { { NONE, NO }, { RD, NO },   { OF, NO },   { NONE, NO } },
	[RD] = { { NONE, NO }, { NONE, NO }, { NONE, NO }, { HE, DN } },
	[HE] = { { NONE, NO }, { NONE, NO }, { NONE, NO }, { RG, UP } },
	[OF] = { { NONE, NO }, { NONE, NO }, { NONE, NO }, { NONE, NO } },
};

/* ... and not (the window not over, or its share within; the hold not
 * over): a TICK is then accepted and changes nothing. */
static const struct want cold[RTG__NSTATES][RTG__NEVENTS] = {
	[IN] = { { RG, UP },   { NONE, NO }, { NONE, NO }, { NONE, NO } },
	[RG] = { { NONE, NO }, { RD, NO },   { OF, NO },   { NONE, NO } },
	[RD] = { { NONE, NO }, { NONE, NO }, { NONE, NO }, { SAME, NO } },
	[HE] = { { NONE, NO }, { NONE, NO }, { NONE, NO }, { SAME, NO } },
	[OF] = { { NONE, NO }, { NONE, NO }, { NONE, NO }, { NONE, NO } },
};

/* A guard in state s: window from t=1000 ms at 0 ns of CPU, held until
 * t=5000 ms (limits 25 %, 500 ms, 4000 ms). */
static void make(rtguard *g, rtg_state s)
{
	rtguard_init(g, 25, 500, 4000);
	g->st = s;
	g->win_ms = 1000;
	g->win_cpu_ns = 0;
	g->held_until = 5000;
}

static void check(rtg_state s, rtg_event ev, const struct want *w, bool hot_tick)
{
	rtguard g, before;
	rtg_effect fx = (rtg_effect)99;
	/* the condition: 400 ms of CPU in a 1 s window (40 %), at 6000 ms
	 * (past the hold); not: 100 ms in 1 s (10 %), at 1200 ms (in the
	 * window and the hold) */
	uint64_t now = hot_tick ? 6000 : 1200;
	uint64_t cpu = hot_tick ? 400000000ull : 100000000ull;
	int r;

	make(&g, s);
	before = g;
	if (hot_tick && s == RTG_RAISED)
		g.win_ms = before.win_ms = 5000;   /* a 1 s window at 6000 */
	r = rtguard_step(&g, ev, cpu, now, &fx);
	cr_assert_eq(fx, w->fx, "%s x event %d (%s): effect %d, want %d",
		     rtguard_state_name(s), (int)ev, hot_tick ? "hot" : "cold", (int)fx,
		     (int)w->fx);
	if (w->to == NONE) {
		cr_assert_eq(r, -EINVAL, "%s x event %d: accepted", rtguard_state_name(s),
			     (int)ev);
		cr_assert_eq(g.st, before.st);
		cr_assert_eq(g.lowered, before.lowered);
		return;
	}
	cr_assert_eq(r, 0, "%s x event %d: refused", rtguard_state_name(s), (int)ev);
	cr_assert_eq(g.st, w->to == SAME ? s : (rtg_state)w->to,
		     "%s x event %d (%s): went to %s", rtguard_state_name(s), (int)ev,
		     hot_tick ? "hot" : "cold", rtguard_state_name(g.st));
}

Test(rtguard, every_pair, .timeout = 10)
{
	for (int s = 0; s < RTG__NSTATES; s++)
		for (int ev = 0; ev < RTG__NEVENTS; ev++) {
			check((rtg_state)s, (rtg_event)ev, &hot[s][ev], true);
			check((rtg_state)s, (rtg_event)ev, &cold[s][ev], false);
		}
}

Test(rtguard, out_of_range, .timeout = 10)
{
	rtguard g;
	rtg_effect fx;

	make(&g, RTG_RAISED);
	cr_assert_eq(rtguard_step(&g, RTG__NEVENTS, 0, 0, &fx), -EINVAL);
	cr_assert_eq(rtguard_step(&g, (rtg_event)-1, 0, 0, &fx), -EINVAL);
	g.st = RTG__NSTATES;
	cr_assert_eq(rtguard_step(&g, RTG_EV_TICK, 0, 0, &fx), -EINVAL);
	cr_assert_str_eq(rtguard_state_name(RTG__NSTATES), "?");
}

/* Defaults when given 0. */
Test(rtguard, defaults, .timeout = 10)
{
	rtguard g;

	rtguard_init(&g, 0, 0, 0);
	cr_assert_eq(g.st, RTG_INIT);
	cr_assert_eq(g.share_pct, RTGUARD_SHARE_PCT);
	cr_assert_eq(g.window_ms, RTGUARD_WINDOW_MS);
	cr_assert_eq(g.hold_ms, RTGUARD_HOLD_MS);
}

/* A day of an operator's requests (5 % of a CPU) never lowers it; a flood
 * (60 %) does within a window, once; the hold then ends and it is raised
 * again; the share is per window (a busy window after idle ones counts
 * alone). */
Test(rtguard, flood_and_back, .timeout = 10)
{
	rtguard g;
	rtg_effect fx;
	uint64_t t = 0, cpu = 0;

	rtguard_init(&g, 25, 500, 60000);
	cr_assert_eq(rtguard_step(&g, RTG_EV_START, 0, t, &fx), 0);
	cr_assert_eq(fx, RTG_FX_RAISE);
	cr_assert_eq(rtguard_step(&g, RTG_EV_RAISED, cpu, t, &fx), 0);
	for (int i = 0; i < 86400 * 10; i++) {   /* ticks every 100 ms */
		t += 100;
		cpu += 5000000;   /* 5 ms of 100: 5 % */
		cr_assert_eq(rtguard_step(&g, RTG_EV_TICK, cpu, t, &fx), 0);
		cr_assert_eq(fx, RTG_FX_NONE, "lowered at %llu ms", (unsigned long long)t);
	}
	/* exactly at the limit: 25 % is within */
	for (int i = 0; i < 10; i++) {
		t += 100;
		cpu += 25000000;
		cr_assert_eq(rtguard_step(&g, RTG_EV_TICK, cpu, t, &fx), 0);
		cr_assert_eq(fx, RTG_FX_NONE);
	}
	/* a flood: 60 % */
	int lowered_at = -1;
	for (int i = 0; i < 10 && lowered_at < 0; i++) {
		t += 100;
		cpu += 60000000;
		cr_assert_eq(rtguard_step(&g, RTG_EV_TICK, cpu, t, &fx), 0);
		if (fx == RTG_FX_LOWER)
			lowered_at = i;
	}
	cr_assert(lowered_at >= 0 && lowered_at < 10, "a flood not lowered");
	cr_assert_eq(g.st, RTG_HELD);
	cr_assert_eq(g.lowered, 1);
	cr_assert(g.last_pct >= 50 && g.last_pct <= 60, "share %u", g.last_pct);
	cr_assert(g.last_ms >= 500 && g.last_ms <= 600, "over %u ms", g.last_ms);
	/* held for the hold, flood or not */
	uint64_t held = t;
	while (t + 100 < held + 60000) {
		t += 100;
		cpu += 90000000;
		cr_assert_eq(rtguard_step(&g, RTG_EV_TICK, cpu, t, &fx), 0);
		cr_assert_eq(fx, RTG_FX_NONE);
	}
	t += 100;
	cr_assert_eq(rtguard_step(&g, RTG_EV_TICK, cpu, t, &fx), 0);
	cr_assert_eq(fx, RTG_FX_RAISE);
	cr_assert_eq(g.st, RTG_RAISING);
	/* raised again: the window starts then, the held time's CPU is not
	 * counted against it */
	cr_assert_eq(rtguard_step(&g, RTG_EV_RAISED, cpu, t, &fx), 0);
	for (int i = 0; i < 20; i++) {
		t += 100;
		cpu += 1000000;
		cr_assert_eq(rtguard_step(&g, RTG_EV_TICK, cpu, t, &fx), 0);
		cr_assert_eq(fx, RTG_FX_NONE);
	}
	cr_assert_eq(g.lowered, 1);
}

/* Floods after floods: each lowered again within its last hold of the
 * raise is held twice as long, up to RTGUARD_HOLD_GROWTH holds; one that
 * stayed raised longer than its last hold is held for the base hold. */
static uint64_t flood_until_lowered(rtguard *g, uint64_t *t, uint64_t *cpu)
{
	rtg_effect fx;

	for (int i = 0; i < 100; i++) {
		*t += 100;
		*cpu += 90000000;   /* 90 % */
		cr_assert_eq(rtguard_step(g, RTG_EV_TICK, *cpu, *t, &fx), 0);
		if (fx == RTG_FX_LOWER)
			return g->held_until - *t;
	}
	cr_assert_fail("a flood not lowered");
	return 0;
}

static void wait_raised(rtguard *g, uint64_t *t, uint64_t cpu)
{
	rtg_effect fx = RTG_FX_NONE;

	while (fx != RTG_FX_RAISE) {
		*t += 100;
		cr_assert_eq(rtguard_step(g, RTG_EV_TICK, cpu, *t, &fx), 0);
	}
	cr_assert_eq(rtguard_step(g, RTG_EV_RAISED, cpu, *t, &fx), 0);
}

Test(rtguard, lowered_again_holds_longer, .timeout = 10)
{
	rtguard g;
	rtg_effect fx;
	uint64_t t = 0, cpu = 0, want = 1000;

	rtguard_init(&g, 25, 500, 1000);
	cr_assert_eq(rtguard_step(&g, RTG_EV_START, 0, t, &fx), 0);
	cr_assert_eq(rtguard_step(&g, RTG_EV_RAISED, cpu, t, &fx), 0);
	cr_assert_eq(flood_until_lowered(&g, &t, &cpu), 1000, "the first hold");
	for (int i = 0; i < 8; i++) {
		wait_raised(&g, &t, cpu);
		want = want * 2 > 16000 ? 16000 : want * 2;
		cr_assert_eq(flood_until_lowered(&g, &t, &cpu), want,
			     "flood %d: held %llu ms, want %llu", i + 2,
			     (unsigned long long)(g.held_until - t), (unsigned long long)want);
	}
	cr_assert_eq(want, 1000ull * RTGUARD_HOLD_GROWTH, "the cap reached");
	/* raised, then calm for longer than the last hold: the base hold */
	wait_raised(&g, &t, cpu);
	for (uint64_t end = t + 17000; t < end;) {
		t += 100;
		cpu += 1000000;
		cr_assert_eq(rtguard_step(&g, RTG_EV_TICK, cpu, t, &fx), 0);
		cr_assert_eq(fx, RTG_FX_NONE);
	}
	cr_assert_eq(flood_until_lowered(&g, &t, &cpu), 1000, "not back to the base hold");
	cr_assert_eq(g.lowered, 10);
}

/* The process's own work (rtguard_step_own): a window the thread waited
 * while the process's other threads ran own_pct of it or more lowers it
 * for own_hold_ms, again and again, with no growth, counted apart; one
 * where they ran less is another's (the long hold); the exact edge is
 * its own; an own lowering between two long ones does not make the
 * second one's hold grow, nor stop it growing. */
static uint64_t starve_until_lowered(rtguard *g, uint64_t *t, uint64_t *wait,
				     uint64_t *own, unsigned own_pct)
{
	rtg_effect fx;

	for (int i = 0; i < 100; i++) {
		*t += 100;
		*wait += 90000000;                    /* 90 % waiting */
		*own += 100000000ull * own_pct / 100;
		cr_assert_eq(rtguard_step_own(g, RTG_EV_TICK, *wait, *own, *t, &fx), 0);
		if (fx == RTG_FX_LOWER)
			return g->held_until - *t;
	}
	cr_assert_fail("a starved thread not lowered");
	return 0;
}

static void wait_raised_own(rtguard *g, uint64_t *t, uint64_t wait, uint64_t own)
{
	rtg_effect fx = RTG_FX_NONE;

	while (fx != RTG_FX_RAISE) {
		*t += 100;
		cr_assert_eq(rtguard_step_own(g, RTG_EV_TICK, wait, own, *t, &fx), 0);
	}
	cr_assert_eq(rtguard_step_own(g, RTG_EV_RAISED, wait, own, *t, &fx), 0);
}

Test(rtguard, own_work_short_hold, .timeout = 10)
{
	rtguard g;
	rtg_effect fx;
	uint64_t t = 0, wait = 0, own = 0;

	rtguard_init(&g, 80, 500, 5000);
	cr_assert_eq(g.own_pct, RTGUARD_OWN_PCT);
	cr_assert_eq(g.own_hold_ms, RTGUARD_OWN_HOLD_MS);
	g.own_hold_ms = 300;
	cr_assert_eq(rtguard_step_own(&g, RTG_EV_START, 0, 0, t, &fx), 0);
	cr_assert_eq(rtguard_step_own(&g, RTG_EV_RAISED, wait, own, t, &fx), 0);
	/* the process's own busy work, ten times on end: 300 ms each */
	for (int i = 0; i < 10; i++) {
		cr_assert_eq(starve_until_lowered(&g, &t, &wait, &own, 95), 300, "own %d", i);
		cr_assert(g.last_own);
		cr_assert(g.last_own_pct >= 90 && g.last_own_pct <= 95, "own share %u",
			  g.last_own_pct);
		wait_raised_own(&g, &t, wait, own);
	}
	cr_assert_eq(g.lowered_own, 10);
	cr_assert_eq(g.lowered, 0);
	/* the edge: exactly own_pct is its own */
	cr_assert_eq(starve_until_lowered(&g, &t, &wait, &own, RTGUARD_OWN_PCT), 300);
	cr_assert(g.last_own);
	wait_raised_own(&g, &t, wait, own);
	/* another's: the base hold, then twice it, an own one between not
	 * counted as a raise after a long hold */
	cr_assert_eq(starve_until_lowered(&g, &t, &wait, &own, 40), 5000);
	cr_assert(!g.last_own);
	cr_assert_eq(g.lowered, 1);
	wait_raised_own(&g, &t, wait, own);
	cr_assert_eq(starve_until_lowered(&g, &t, &wait, &own, 95), 300);
	wait_raised_own(&g, &t, wait, own);
	cr_assert_eq(starve_until_lowered(&g, &t, &wait, &own, 10), 10000,
		     "lowered again within its hold of the long one's raise: twice");
	cr_assert_eq(g.lowered, 2);
	cr_assert_eq(g.lowered_own, 12);
	/* rtguard_step (no own time): never its own */
	wait_raised_own(&g, &t, wait, own);
	for (int i = 0; i < 100 && fx != RTG_FX_LOWER; i++) {
		t += 100;
		wait += 100000000;
		cr_assert_eq(rtguard_step(&g, RTG_EV_TICK, wait, t, &fx), 0);
	}
	cr_assert_eq(fx, RTG_FX_LOWER);
	cr_assert(!g.last_own);
	cr_assert_eq(g.lowered, 3);
	/* own_pct 0: no lowering is its own */
	rtguard_init(&g, 80, 500, 1000);
	g.own_pct = 0;
	t = wait = own = 0;
	cr_assert_eq(rtguard_step_own(&g, RTG_EV_START, 0, 0, t, &fx), 0);
	cr_assert_eq(rtguard_step_own(&g, RTG_EV_RAISED, wait, own, t, &fx), 0);
	cr_assert_eq(starve_until_lowered(&g, &t, &wait, &own, 100), 1000);
	cr_assert(!g.last_own);
}

/* A refused raise: off for good, nothing after asks for an effect. */
Test(rtguard, refused_stays_off, .timeout = 10)
{
	rtguard g;
	rtg_effect fx;

	rtguard_init(&g, 0, 0, 0);
	cr_assert_eq(rtguard_step(&g, RTG_EV_START, 0, 0, &fx), 0);
	cr_assert_eq(rtguard_step(&g, RTG_EV_REFUSED, 0, 0, &fx), 0);
	cr_assert_eq(g.st, RTG_OFF);
	for (uint64_t t = 0; t < 1000000; t += 100) {
		cr_assert_eq(rtguard_step(&g, RTG_EV_TICK, t * 1000000, t, &fx), -EINVAL);
		cr_assert_eq(fx, RTG_FX_NONE);
	}
}

/* A seeded random walk (RS_SEED to replay): time and CPU only go
 * forward, the CPU never faster than the wall clock; whatever the
 * events, a LOWER comes only from RAISED with the window's share above
 * the limit, a RAISE only from INIT or a HELD whose hold is over, two
 * LOWERs are the first one's hold apart at least, and each hold is the
 * own one when the other threads ran their share of the window (fed at
 * random too, most windows under it), else the base one or twice the
 * last (capped) as the rule says; the raise that rule looks at is the
 * one after a long hold. */
Test(rtguard, random_walk, .timeout = 20)
{
	const char *env = getenv("RS_SEED");
	unsigned seed = env ? (unsigned)strtoul(env, NULL, 0) : 20261206u;
	rtguard g;
	uint64_t t = 0, cpu = 0, own = 0, last_lower = 0, last_hold = 0;
	uint64_t raised_long = 0;   /* the raise after the last long hold */
	bool lowered_once = false, own_once = false, held_long = true;

	srand(seed);
	rtguard_init(&g, 25, 500, 3000);
	g.own_hold_ms = 1000;
	for (int i = 0; i < 200000; i++) {
		/* the raise always succeeds here: a REFUSED ends the walk */
		static const rtg_event evs[] = { RTG_EV_START, RTG_EV_RAISED, RTG_EV_TICK,
						 RTG_EV_TICK };
		rtg_event ev = evs[rand() % 4];
		uint64_t dt = (uint64_t)(rand() % 300);
		rtguard before = g;
		rtg_effect fx;
		int r;

		t += dt;
		cpu += dt * 1000000ull * (uint64_t)(rand() % 101) / 100;
		own += dt * 1000000ull * (uint64_t)(rand() % 61) / 100;
		r = rtguard_step_own(&g, ev, cpu, own, t, &fx);
		if (r < 0) {
			cr_assert_eq(g.st, before.st, "seed %u step %d", seed, i);
			continue;
		}
		if (fx == RTG_FX_LOWER) {
			uint64_t wall = t - before.win_ms;

			cr_assert_eq(before.st, RTG_RAISED, "seed %u step %d", seed, i);
			cr_assert(wall >= g.window_ms, "seed %u step %d", seed, i);
			cr_assert((cpu - before.win_cpu_ns) * 100 > 25ull * wall * 1000000,
				  "seed %u step %d: lowered within the share", seed, i);
			cr_assert(!lowered_once || t - last_lower >= last_hold,
				  "seed %u step %d: lowered again after %llu ms", seed, i,
				  (unsigned long long)(t - last_lower));
			bool mine = (own - before.win_own_ns) * 100 >=
				    (uint64_t)RTGUARD_OWN_PCT * wall * 1000000;
			/* its hold: the own one; else the base, or twice the last
			 * long one when lowered within it of the raise after it, at
			 * most the growth's */
			uint64_t want = mine ? g.own_hold_ms
					: before.cur_hold_ms && t - raised_long < before.cur_hold_ms
					? before.cur_hold_ms * 2 : g.hold_ms;

			if (want > (uint64_t)g.hold_ms * RTGUARD_HOLD_GROWTH)
				want = (uint64_t)g.hold_ms * RTGUARD_HOLD_GROWTH;
			cr_assert_eq(g.last_own, mine, "seed %u step %d", seed, i);
			cr_assert_eq(g.held_until - t, want, "seed %u step %d: held %llu ms",
				     seed, i, (unsigned long long)(g.held_until - t));
			cr_assert_eq(g.lowered + g.lowered_own, before.lowered + before.lowered_own + 1);
			last_lower = t;
			last_hold = want;
			lowered_once = true;
			own_once |= mine;
			held_long = !mine;
		}
		if (ev == RTG_EV_RAISED && before.st == RTG_RAISING && held_long)
			raised_long = t;
		if (fx == RTG_FX_RAISE)
			cr_assert(before.st == RTG_INIT ||
				  (before.st == RTG_HELD && t >= before.held_until),
				  "seed %u step %d: raised from %s", seed, i,
				  rtguard_state_name(before.st));
	}
	cr_assert(lowered_once, "seed %u: the walk never lowered", seed);
	cr_assert(own_once, "seed %u: the walk never lowered for its own work", seed);
	cr_assert(g.lowered > 0, "seed %u: the walk never lowered for another's", seed);
}
