/*
 * test_instsm.c - lib/instsm: every state x event pair against an
 * expected table, every report from every state, every Hello-absent case,
 * and a seeded random walk checking the invariants on every step.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>

#include "instsm.h"

#define NONE (-1)   /* not accepted: -EINVAL, nothing changes */
#define SAME (-2)   /* accepted, state unchanged */

enum { U = RS_IS_UNKNOWN, PE = RS_IS_PENDING, ST = RS_IS_STARTING,
       RU = RS_IS_RUNNING, SP = RS_IS_STOPPING, EX = RS_IS_EXITED,
       BO = RS_IS_BACKOFF, DN = RS_IS_DOWN, FA = RS_IS_FAILED, LO = RS_IS_LOST };

struct want {
	int      to;
	unsigned fx;
};

#define P  IM_FX_PERSIST
#define GO (IM_FX_PERSIST | IM_FX_START | IM_FX_CLEAR)
#define MV (GO | IM_FX_EVENT)
#define LS (IM_FX_PERSIST | IM_FX_EVENT | IM_FX_SWITCH)

/* PLACE, NODE_LOST, MOVE, STOP, RESTART from each state. */
static const struct want table[RS_IS__NR][5] = {
	/*        PLACE        NODE_LOST      MOVE                        STOP                 RESTART */
	[U]  = { { PE, GO },  { SAME, 0 },   { NONE, 0 },                { SAME, 0 },         { NONE, 0 } },
	[PE] = { { NONE, 0 }, { LO, LS },    { PE, MV | IM_FX_STOP_OLD }, { SAME, IM_FX_STOP }, { SAME, IM_FX_RESTART } },
	[ST] = { { NONE, 0 }, { LO, LS },    { PE, MV | IM_FX_STOP_OLD }, { SAME, IM_FX_STOP }, { SAME, IM_FX_RESTART } },
	[RU] = { { NONE, 0 }, { LO, LS },    { PE, MV | IM_FX_STOP_OLD }, { SAME, IM_FX_STOP }, { SAME, IM_FX_RESTART } },
	[SP] = { { NONE, 0 }, { LO, LS },    { NONE, 0 },                { SAME, IM_FX_STOP }, { SAME, IM_FX_RESTART } },
	[EX] = { { PE, GO },  { SAME, 0 },   { NONE, 0 },                { SAME, IM_FX_STOP }, { SAME, IM_FX_RESTART } },
	[BO] = { { NONE, 0 }, { LO, LS },    { PE, MV | IM_FX_STOP_OLD }, { SAME, IM_FX_STOP }, { SAME, IM_FX_RESTART } },
	[DN] = { { PE, GO },  { SAME, 0 },   { NONE, 0 },                { SAME, IM_FX_STOP }, { NONE, 0 } },
	[FA] = { { PE, GO },  { SAME, 0 },   { NONE, 0 },                { SAME, IM_FX_STOP }, { NONE, 0 } },
	[LO] = { { NONE, 0 }, { SAME, 0 },   { PE, MV },                 { SAME, 0 },         { NONE, 0 } },
};

static const instsm_event cols[5] = {
	IM_EV_PLACE, IM_EV_NODE_LOST, IM_EV_MOVE, IM_EV_STOP, IM_EV_RESTART,
};

static void check(rs_istate from, instsm_event ev, const instsm_in *in,
		  const struct want *w)
{
	rs_istate s = from;
	instsm_fx fx;
	int r = instsm_step(&s, ev, in, &fx);

	if (w->to == NONE) {
		cr_assert_eq(r, -EINVAL, "%s in %s: accepted", instsm_event_to_string(ev),
			     rs_istate_to_string(from));
		cr_assert_eq(s, from);
		cr_assert_eq(fx.fx, 0);
		cr_assert(!instsm_accepts(from, ev));
		return;
	}
	cr_assert_eq(r, 0, "%s in %s: refused", instsm_event_to_string(ev),
		     rs_istate_to_string(from));
	cr_assert(instsm_accepts(from, ev));
	cr_assert_eq(s, w->to == SAME ? from : (rs_istate)w->to, "%s in %s: went to %s",
		     instsm_event_to_string(ev), rs_istate_to_string(from),
		     rs_istate_to_string(s));
	cr_assert_eq(fx.fx, w->fx, "%s in %s: effects %#x, want %#x",
		     instsm_event_to_string(ev), rs_istate_to_string(from), fx.fx, w->fx);
	cr_assert(instsm_allowed(from, s));
}

Test(instsm, every_state_and_decision, .timeout = 10)
{
	instsm_in in = { .wanted = true };

	for (int s = 0; s < RS_IS__NR; s++)
		for (int c = 0; c < 5; c++)
			check((rs_istate)s, cols[c], &in, &table[s][c]);
}

/* A report is a fact: taken in every state; the agent's own states only. */
Test(instsm, every_report_from_every_state, .timeout = 10)
{
	for (int from = 0; from < RS_IS__NR; from++)
		for (int r = 0; r < 2 * RS_IS__NR; r++) {
			bool death = r >= RS_IS__NR;
			instsm_in in = { .reported = (rs_istate)(r % RS_IS__NR),
					 .wanted = true, .death = death };
			bool agents = (int)in.reported != U && (int)in.reported != LO;
			unsigned fx = P;
			struct want w;

			if (death || (from == RU && (int)in.reported != RU))
				fx |= IM_FX_SWITCH;
			if (death && from != RU)
				fx |= IM_FX_DIED;
			w.to = agents ? (int)in.reported : NONE;
			w.fx = agents ? fx : 0;
			if (!agents) {
				rs_istate s = (rs_istate)from;
				instsm_fx f;
				cr_assert_eq(instsm_step(&s, IM_EV_REPORT, &in, &f), -EINVAL,
					     "a report of %s taken",
					     rs_istate_to_string(in.reported));
				cr_assert_eq(s, (rs_istate)from);
				continue;
			}
			check((rs_istate)from, IM_EV_REPORT, &in, &w);
		}
}

/* A node's Hello that does not list it, for wanted x stopped-by-its-agent. */
Test(instsm, absent_from_hello, .timeout = 10)
{
	const unsigned back = GO | IM_FX_EVENT;
	const unsigned down = P | IM_FX_CLEAR;

	for (int from = 0; from < RS_IS__NR; from++)
		for (int k = 0; k < 4; k++) {
			instsm_in in = { .wanted = k & 1, .stopped = k & 2 };
			bool live = instsm_live((rs_istate)from);
			struct want w = { SAME, 0 };

			if (in.wanted && (live || from == LO || (from == DN && in.stopped)))
				w = (struct want){ PE, back };
			else if (live || from == LO || from == EX)
				w = (struct want){ DN, down };
			check((rs_istate)from, IM_EV_ABSENT, &in, &w);
		}
}

Test(instsm, tables_and_names, .timeout = 10)
{
	for (int s = 0; s < RS_IS__NR; s++) {
		cr_assert(!instsm_allowed((rs_istate)s, RS_IS_UNKNOWN) || s == U,
			  "%s may go back to unknown", rs_istate_to_string(s));
		cr_assert_eq(instsm_allowed((rs_istate)s, RS_IS_LOST),
			     instsm_live((rs_istate)s) || s == LO,
			     "lost from %s", rs_istate_to_string(s));
		cr_assert(instsm_allowed((rs_istate)s, (rs_istate)s));
		/* the one-copy rule: no Start of a live instance */
		if (instsm_live((rs_istate)s))
			cr_assert(!instsm_accepts((rs_istate)s, IM_EV_PLACE));
	}
	cr_assert(!instsm_accepts(RS_IS__NR, IM_EV_PLACE));
	cr_assert(!instsm_accepts(RS_IS_UNKNOWN, IM_EV__NR));
	cr_assert(!instsm_allowed((rs_istate)RS_IS__NR, RS_IS_UNKNOWN));
	cr_assert_str_eq(instsm_event_to_string(IM_EV_NODE_LOST), "node-lost");
	cr_assert_str_eq(instsm_event_to_string(IM_EV__NR), "unknown");
}

/* Thousands of random steps: the invariants hold after every one. */
Test(instsm, random_walk_keeps_invariants, .timeout = 30)
{
	uint64_t seed = getenv("RS_SIM_SEED") ? strtoull(getenv("RS_SIM_SEED"), NULL, 10)
					      : 20261205;
	uint64_t x = seed;

	for (int walk = 0; walk < 200; walk++) {
		rs_istate s = RS_IS_UNKNOWN;

		for (int i = 0; i < 500; i++) {
			instsm_in in;
			instsm_fx fx;
			rs_istate from = s;
			instsm_event ev;
			int r;

			x = x * 6364136223846793005ull + 1442695040888963407ull;
			ev = (instsm_event)((x >> 33) % IM_EV__NR);
			in.reported = (rs_istate)((x >> 40) % RS_IS__NR);
			in.wanted = (x >> 50) & 1;
			in.death = (x >> 52) & 1;
			in.stopped = (x >> 51) & 1;
			r = instsm_step(&s, ev, &in, &fx);
			if (r < 0) {
				cr_assert_eq(s, from, "seed %llu", (unsigned long long)seed);
				cr_assert_eq(fx.fx, 0);
				continue;
			}
			cr_assert(instsm_allowed(from, s), "seed %llu: %s -> %s",
				  (unsigned long long)seed, rs_istate_to_string(from),
				  rs_istate_to_string(s));
			if (fx.fx & IM_FX_START) {
				cr_assert_eq(s, RS_IS_PENDING, "a Start leaves it pending");
				/* one copy: a Start only of what does not run (its
				 * node's Hello said so: absent), or with a Stop of
				 * the old copy */
				cr_assert(!instsm_live(from) || (fx.fx & IM_FX_STOP_OLD) ||
					  ev == IM_EV_ABSENT,
					  "seed %llu: Start of a live %s by %s",
					  (unsigned long long)seed, rs_istate_to_string(from),
					  instsm_event_to_string(ev));
			}
			if (fx.fx & IM_FX_EVENT)
				cr_assert_not_null(fx.event);
			if (s == RS_IS_LOST && from != RS_IS_LOST)
				cr_assert(instsm_live(from));
		}
	}
}
