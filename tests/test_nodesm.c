/*
 * test_nodesm.c - node membership (lib/nodesm.c): every state x event
 * pair against a table of expected moves and effects, the allowed-move
 * table, and a seeded random walk that checks the fencing rule.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nodesm.h"

static const nodesm_cfg cfg = {
	.suspect_ms = 2000, .ttl_ms = 5000, .lease_ms = 8000, .margin_ms = 2000,
	.startup_ms = 30000,
};

#define P  NM_FX_PERSIST
#define EV NM_FX_EVENT
#define RC NM_FX_RECONCILE
#define W  NM_FX_WELCOME
#define RH NM_FX_REHELLO
#define MV NM_FX_MOVE
#define MF NM_FX_MOVE_FENCED

/* From state `from`, last heard at 1000, event at 1000 + quiet. */
static const struct {
	nodesm_state from;
	nodesm_event ev;
	uint64_t     quiet;
	nodesm_state to;
	unsigned     fx;
} cases[] = {
	{ NM_UNKNOWN, NM_EV_HELLO,  0,     NM_UP,      P | EV | RC | W },
	{ NM_UNKNOWN, NM_EV_MSG,    0,     NM_UNKNOWN, RH },
	{ NM_UNKNOWN, NM_EV_TICK,   1000,  NM_UNKNOWN, 0 },
	{ NM_UNKNOWN, NM_EV_TICK,   3000,  NM_UNKNOWN, 0 },
	{ NM_UNKNOWN, NM_EV_TICK,   5000,  NM_LOST,    P | EV | MV },
	{ NM_UNKNOWN, NM_EV_TICK,   10000, NM_FENCED,  P | EV | MV | MF },
	{ NM_UNKNOWN, NM_EV_REVOKE, 0,     NM_LOST,    P | EV | MV },
	{ NM_UNKNOWN, NM_EV_RETURNS, 500,  NM_UNKNOWN, 0 },
	{ NM_UP,      NM_EV_HELLO,  0,     NM_UP,      RC | W },
	{ NM_UP,      NM_EV_MSG,    0,     NM_UP,      0 },
	{ NM_UP,      NM_EV_TICK,   1999,  NM_UP,      0 },
	{ NM_UP,      NM_EV_TICK,   2000,  NM_SUSPECT, P | EV },
	{ NM_UP,      NM_EV_TICK,   5000,  NM_LOST,    P | EV | MV },
	{ NM_UP,      NM_EV_TICK,   9999,  NM_LOST,    P | EV | MV },
	{ NM_UP,      NM_EV_TICK,   10000, NM_FENCED,  P | EV | MV | MF },
	{ NM_UP,      NM_EV_REVOKE, 0,     NM_LOST,    P | EV | MV },
	{ NM_SUSPECT, NM_EV_HELLO,  0,     NM_UP,      P | EV | RC | W },
	{ NM_SUSPECT, NM_EV_MSG,    0,     NM_UP,      P | EV },
	{ NM_SUSPECT, NM_EV_TICK,   3000,  NM_SUSPECT, 0 },
	{ NM_SUSPECT, NM_EV_TICK,   5000,  NM_LOST,    P | EV | MV },
	{ NM_SUSPECT, NM_EV_TICK,   10000, NM_FENCED,  P | EV | MV | MF },
	{ NM_SUSPECT, NM_EV_REVOKE, 0,     NM_LOST,    P | EV | MV },
	{ NM_LOST,    NM_EV_HELLO,  0,     NM_UP,      P | EV | RC | W },
	{ NM_LOST,    NM_EV_MSG,    0,     NM_LOST,    RH },
	{ NM_LOST,    NM_EV_TICK,   6000,  NM_LOST,    0 },
	{ NM_LOST,    NM_EV_TICK,   10000, NM_FENCED,  P | EV | MF },
	{ NM_LOST,    NM_EV_REVOKE, 0,     NM_LOST,    0 },
	{ NM_FENCED,  NM_EV_HELLO,  0,     NM_UP,      P | EV | RC | W },
	{ NM_FENCED,  NM_EV_MSG,    0,     NM_FENCED,  RH },
	{ NM_FENCED,  NM_EV_TICK,   20000, NM_FENCED,  0 },
	{ NM_FENCED,  NM_EV_REVOKE, 0,     NM_FENCED,  0 },
	/* nodesm_step's FORGIVE: an empty span, nothing moves (the spans
	 * themselves: forgive_moves_silence_later_by_the_stall) */
	{ NM_UNKNOWN, NM_EV_FORGIVE, 3000, NM_UNKNOWN, 0 },
	{ NM_UP,      NM_EV_FORGIVE, 3000, NM_UP,      0 },
	{ NM_SUSPECT, NM_EV_FORGIVE, 3000, NM_SUSPECT, 0 },
	{ NM_LOST,    NM_EV_FORGIVE, 3000, NM_LOST,    0 },
	{ NM_FENCED,  NM_EV_FORGIVE, 3000, NM_FENCED,  0 },
};

Test(nodesm, every_state_and_event)
{
	bool seen[NM__NR][NM_EV__NR] = { { false } };

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		nodesm n = { .state = cases[i].from, .heard_ms = 1000, .since_ms = 500 };
		nodesm_fx fx;
		uint64_t now = 1000 + cases[i].quiet;

		cr_assert_eq(nodesm_step(&n, &cfg, cases[i].ev, now, &fx), 0, "case %zu", i);
		cr_assert_eq(n.state, cases[i].to, "case %zu: %s -%s-> %s, want %s", i,
			     nodesm_state_to_string(cases[i].from),
			     nodesm_event_to_string(cases[i].ev),
			     nodesm_state_to_string(n.state),
			     nodesm_state_to_string(cases[i].to));
		cr_assert_eq(fx.fx, cases[i].fx, "case %zu: fx 0x%x, want 0x%x", i,
			     fx.fx, cases[i].fx);
		cr_assert_eq(n.since_ms, n.state != cases[i].from ? now : 500u, "case %zu", i);
		if (cases[i].ev == NM_EV_HELLO || cases[i].ev == NM_EV_MSG)
			cr_assert_eq(n.heard_ms, now);
		else
			cr_assert_eq(n.heard_ms, 1000u);
		seen[cases[i].from][cases[i].ev] = true;
	}
	for (int s = 0; s < NM__NR; s++)
		for (int e = 0; e < NM_EV__NR; e++)
			cr_assert(seen[s][e] == nodesm_accepts(s, e),
				  "%s x %s: accepted but not tested (or the reverse)",
				  nodesm_state_to_string(s), nodesm_event_to_string(e));
}

/* After rsd restarted: while other nodes it had not heard come back, a
 * node not heard yet is counted silent from the last of them, at most
 * startup_ms after rsd started; a node heard meanwhile is not moved. */
Test(nodesm, a_wave_of_returns_holds_back_the_loss_of_unknown_nodes)
{
	nodesm n, m;
	nodesm_fx fx;

	nodesm_init(&n, 1000);   /* rsd started at 1000 */
	cr_assert_eq(nodesm_step(&n, &cfg, NM_EV_RETURNS, 4000, &fx), 0);
	cr_assert_eq(fx.fx, 0u);
	cr_assert_eq(n.heard_ms, 1000u, "a return of another is not this one heard");
	cr_assert_eq(nodesm_step(&n, &cfg, NM_EV_TICK, 8999, &fx), 0);
	cr_assert_eq(n.state, NM_UNKNOWN, "4999 ms after the last return");
	cr_assert_eq(nodesm_step(&n, &cfg, NM_EV_TICK, 9000, &fx), 0);
	cr_assert_eq(n.state, NM_LOST);
	cr_assert_eq(fx.fx, (unsigned)(P | EV | MV));
	/* a return older than the last one counted changes nothing */
	nodesm_init(&n, 1000);
	cr_assert_eq(nodesm_step(&n, &cfg, NM_EV_RETURNS, 4000, &fx), 0);
	cr_assert_eq(nodesm_step(&n, &cfg, NM_EV_RETURNS, 3000, &fx), 0);
	cr_assert_eq(n.wave_ms, 4000u);
	/* a TICK behind the wave (rsd's backlog rule) is silence 0 */
	cr_assert_eq(nodesm_step(&n, &cfg, NM_EV_TICK, 3500, &fx), 0);
	cr_assert_eq(n.state, NM_UNKNOWN);
	/* the wave ends at startup_ms after rsd's start: returns after
	 * that do not count, the loss comes ttl after the last that did */
	nodesm_init(&n, 1000);
	for (uint64_t t = 2000; t <= 60000; t += 1000) {
		cr_assert_eq(nodesm_step(&n, &cfg, NM_EV_RETURNS, t, &fx), 0);
		cr_assert_eq(nodesm_step(&n, &cfg, NM_EV_TICK, t, &fx), 0);
		if (n.state != NM_UNKNOWN)
			break;
	}
	cr_assert_eq(n.state, NM_LOST);
	cr_assert_eq(n.since_ms, 1000u + 30000 + 5000, "lost at %llu",
		     (unsigned long long)n.since_ms);
	/* the hold ends with a Hello; an UP node ignores nothing: it refuses */
	nodesm_init(&m, 1000);
	cr_assert_eq(nodesm_step(&m, &cfg, NM_EV_RETURNS, 4000, &fx), 0);
	cr_assert_eq(nodesm_step(&m, &cfg, NM_EV_HELLO, 4500, &fx), 0);
	cr_assert_eq(m.state, NM_UP);
	cr_assert_eq(nodesm_step(&m, &cfg, NM_EV_RETURNS, 5000, &fx), -EINVAL);
	cr_assert_eq(nodesm_step(&m, &cfg, NM_EV_TICK, 4500 + 5000, &fx), 0);
	cr_assert_eq(m.state, NM_LOST, "an up node's silence counts from its Hello");
	/* as rsd's period tells it: only news, only to an unknown node */
	nodesm_init(&n, 1000);
	cr_assert_eq(nodesm_step(&n, &cfg, NM_EV_MSG, 2000, &fx), 0);
	nodesm_tell_return(&n, &cfg, 1500);
	cr_assert_eq(n.wave_ms, 0u, "a return before its own last word");
	nodesm_tell_return(&n, &cfg, 0);
	cr_assert_eq(n.wave_ms, 0u, "no return yet");
	nodesm_tell_return(&n, &cfg, 2500);
	cr_assert_eq(n.wave_ms, 2500u);
	nodesm_tell_return(&m, &cfg, 9000);
	cr_assert_eq(m.state, NM_LOST);
	cr_assert_eq(m.wave_ms, 4000u, "told to a node that is not unknown");
	/* a startup_ms of 0: no hold at all */
	{
		nodesm_cfg c0 = cfg;

		c0.startup_ms = 0;
		nodesm_init(&n, 1000);
		cr_assert_eq(nodesm_step(&n, &c0, NM_EV_RETURNS, 4000, &fx), 0);
		cr_assert_eq(nodesm_step(&n, &c0, NM_EV_TICK, 6000, &fx), 0);
		cr_assert_eq(n.state, NM_LOST);
	}
}

/* The moves the table allows, exactly. */
Test(nodesm, allowed_moves)
{
	static const char *const want[NM__NR] = {
		/* to: unknown up suspect lost fenced */
		[NM_UNKNOWN] = "11011",
		[NM_UP]      = "01111",
		[NM_SUSPECT] = "01111",
		[NM_LOST]    = "01011",
		[NM_FENCED]  = "01001",
	};

	for (int f = 0; f < NM__NR; f++)
		for (int t = 0; t < NM__NR; t++)
			cr_assert_eq(nodesm_allowed(f, t), want[f][t] == '1', "%s -> %s",
				     nodesm_state_to_string(f), nodesm_state_to_string(t));
	cr_assert(!nodesm_allowed(NM__NR, NM_UP));
	cr_assert(!nodesm_allowed(NM_UP, NM__NR));
	cr_assert(!nodesm_accepts(NM_UP, NM_EV__NR));
	cr_assert_str_eq(nodesm_state_to_string(NM__NR), "invalid");
	cr_assert_str_eq(nodesm_event_to_string(NM_EV__NR), "invalid");
}

Test(nodesm, refuses_time_going_back_and_bad_config)
{
	nodesm n;
	nodesm_fx fx;
	nodesm_cfg bad = cfg;

	nodesm_init(&n, 5000);
	cr_assert_eq(n.state, NM_UNKNOWN);
	cr_assert_eq(nodesm_step(&n, &cfg, NM_EV_TICK, 4999, &fx), -EINVAL);
	cr_assert_eq(n.state, NM_UNKNOWN);
	cr_assert_eq(fx.fx, 0);
	cr_assert_eq(nodesm_step(&n, &cfg, (nodesm_event)99, 6000, &fx), -EINVAL);
	cr_assert(nodesm_cfg_valid(&cfg));
	bad.suspect_ms = bad.ttl_ms;
	cr_assert(!nodesm_cfg_valid(&bad));
	bad = cfg;
	bad.lease_ms = 1000;   /* fenced before lost */
	bad.margin_ms = 0;
	cr_assert(!nodesm_cfg_valid(&bad));
	bad = cfg;
	bad.suspect_ms = 0;
	cr_assert(!nodesm_cfg_valid(&bad));
}

/* A stall of rsd forgiven: every state keeps its state, a node heard
 * before the span is silent later by it, one heard since is left alone,
 * and the silence then moves it as if the span had not been. */
Test(nodesm, forgive_moves_silence_later_by_the_stall)
{
	for (int s = 0; s < NM__NR; s++) {
		nodesm n = { .state = s, .heard_ms = 1000, .word_ms = 1000, .since_ms = 500 };
		nodesm_fx fx;

		/* rsd stopped from 1500 to 31500 (a 30 s stall) */
		cr_assert_eq(nodesm_forgive(&n, &cfg, 1500, 31500, &fx), 0);
		cr_assert_eq(n.state, (nodesm_state)s, "%s", nodesm_state_to_string(s));
		cr_assert_eq(fx.fx, 0);
		cr_assert_eq(n.heard_ms, 31000u, "%s", nodesm_state_to_string(s));
		cr_assert_eq(n.word_ms, 1000u, "its last word stays what it was");
		cr_assert_eq(n.since_ms, 500u);
		/* heard within the span: from its end; after it: as it was */
		n.heard_ms = 1600;
		cr_assert_eq(nodesm_forgive(&n, &cfg, 1500, 31500, &fx), 0);
		cr_assert_eq(n.heard_ms, 31500u);
		n.heard_ms = 31600;
		cr_assert_eq(nodesm_forgive(&n, &cfg, 1500, 31500, &fx), -EINVAL,
			     "heard after now: time went back");
		cr_assert_eq(n.heard_ms, 31600u);
		/* a span that ends before it began: refused, nothing moves */
		n.heard_ms = 1000;
		cr_assert_eq(nodesm_forgive(&n, &cfg, 2000, 1999, &fx), -EINVAL);
		cr_assert_eq(n.heard_ms, 1000u);
		cr_assert_eq(n.state, (nodesm_state)s);
	}
	{
		/* up, quiet 1 s before a 30 s stall: 1 s quiet after it,
		 * suspect 2 s, lost 5 s after its last word not counting it */
		nodesm n = { .state = NM_UP, .heard_ms = 1000, .since_ms = 500 };
		nodesm_fx fx;

		cr_assert_eq(nodesm_forgive(&n, &cfg, 2000, 32000, &fx), 0);
		cr_assert_eq(nodesm_step(&n, &cfg, NM_EV_TICK, 32000, &fx), 0);
		cr_assert_eq(n.state, NM_UP);
		cr_assert_eq(nodesm_step(&n, &cfg, NM_EV_TICK, 32999, &fx), 0);
		cr_assert_eq(n.state, NM_UP);
		cr_assert_eq(nodesm_step(&n, &cfg, NM_EV_TICK, 33000, &fx), 0);
		cr_assert_eq(n.state, NM_SUSPECT);
		cr_assert_eq(nodesm_step(&n, &cfg, NM_EV_TICK, 35999, &fx), 0);
		cr_assert_eq(n.state, NM_SUSPECT);
		cr_assert_eq(nodesm_step(&n, &cfg, NM_EV_TICK, 36000, &fx), 0);
		cr_assert_eq(n.state, NM_LOST);
		cr_assert_eq(fx.fx, P | EV | MV);
		/* its fenced instances: lease + stop + margin after, too */
		cr_assert(!nodesm_releases(&n, &cfg, true, 0, 60000));
	}
	{
		/* UNKNOWN after a restart: its last wave moves later too */
		nodesm n;
		nodesm_fx fx;

		nodesm_init(&n, 1000);
		nodesm_tell_return(&n, &cfg, 3000);
		cr_assert_eq(n.wave_ms, 3000u);
		cr_assert_eq(nodesm_forgive(&n, &cfg, 4000, 24000, &fx), 0);
		cr_assert_eq(n.wave_ms, 23000u);
		cr_assert_eq(n.heard_ms, 21000u);
		cr_assert_eq(nodesm_step(&n, &cfg, NM_EV_TICK, 27999, &fx), 0);
		cr_assert_eq(n.state, NM_UNKNOWN);
		cr_assert_eq(nodesm_step(&n, &cfg, NM_EV_TICK, 28000, &fx), 0);
		cr_assert_eq(n.state, NM_LOST);
	}
}

static const nodesm_clock_cfg kcfg = {
	.stall_ms = 2500, .lag_ms = 250, .calm_ms = 2000, .ttl_ms = 5000,
};

/* The clock of silence, every state against each kind of period: on
 * time and caught up, on time and behind, late (a stall); and in
 * STALLED the ways out (calm long enough, the hold's end). */
Test(nodesm, clock_every_state_and_period)
{
	static const struct {
		nodesm_clock_state from;
		bool     calm;       /* STALLED: calm since 9000 */
		uint64_t now, read;  /* the last period 1 s before (a stall: at 10000) */
		nodesm_clock_state to;
		uint64_t until, stall;
		bool     forgive;
	} kcases[] = {
		/* RUNNING: silence up to what was read; a late period stalls */
		{ NC_RUNNING, false, 11000, 11000, NC_RUNNING, 11000, 0,    false },
		{ NC_RUNNING, false, 11000, 9000,  NC_RUNNING, 9000,  0,    false },
		{ NC_RUNNING, false, 11000, 10751, NC_RUNNING, 10751, 0,    false },
		{ NC_RUNNING, false, 12500, 12500, NC_STALLED, 10000, 2500, false },
		{ NC_RUNNING, false, 40000, 40000, NC_STALLED, 10000, 30000, false },
		/* STALLED (from 8000, seen at 10000, hold 5000): held at
		 * 8000 until calm for 2 s or the hold ends */
		{ NC_STALLED, false, 11000, 11000, NC_STALLED, 8000,  0,    false },
		{ NC_STALLED, false, 11000, 10000, NC_STALLED, 8000,  0,    false },
		{ NC_STALLED, true,  10999, 10999, NC_STALLED, 8000,  0,    false },
		{ NC_STALLED, true,  11000, 10800, NC_RUNNING, 10800, 0,    true },
		{ NC_STALLED, true,  11000, 10700, NC_STALLED, 8000,  0,    false },
		{ NC_STALLED, false, 14999, 10000, NC_STALLED, 8000,  0,    false },
		{ NC_STALLED, false, 15000, 10000, NC_RUNNING, 10000, 0,    true },
		/* another stall while held: held from the first one's start */
		{ NC_STALLED, true,  13000, 13000, NC_STALLED, 8000,  3000, false },
	};

	for (size_t i = 0; i < sizeof kcases / sizeof *kcases; i++) {
		nodesm_clock k = { .state = kcases[i].from, .last_ms = kcases[i].now - 1000 };
		nodesm_clock_fx fx;

		if (kcases[i].stall)
			k.last_ms = 10000;   /* this period is late */
		if (k.state == NC_STALLED) {
			k.from_ms = 8000;
			k.seen_ms = 10000;
			k.hold_ms = 5000;
			k.calm = kcases[i].calm;
			k.calm_ms = 9000;
		}
		cr_assert_eq(nodesm_clock_period(&k, &kcfg, kcases[i].now, kcases[i].read, &fx),
			     0, "case %zu", i);
		cr_assert_eq(k.state, kcases[i].to, "case %zu: %s", i,
			     nodesm_clock_state_to_string(k.state));
		cr_assert_eq(fx.until_ms, kcases[i].until, "case %zu: until %llu", i,
			     (unsigned long long)fx.until_ms);
		cr_assert_eq(fx.stall_ms, kcases[i].stall, "case %zu", i);
		cr_assert_eq(fx.forgive, kcases[i].forgive, "case %zu", i);
		if (fx.forgive)
			cr_assert_eq(fx.forgive_from, 8000u, "case %zu", i);
		cr_assert_eq(k.last_ms, kcases[i].now);
		if (k.state == NC_STALLED)
			cr_assert_eq(k.from_ms, kcases[i].from == NC_RUNNING ? 10000u : 8000u,
				     "case %zu", i);
	}
	for (int f = 0; f < NC__NR; f++)
		for (int t = 0; t < NC__NR; t++)
			cr_assert(nodesm_clock_allowed(f, t));
	cr_assert(!nodesm_clock_allowed(NC__NR, NC_RUNNING));
	cr_assert(!nodesm_clock_allowed(NC_RUNNING, NC__NR));
	cr_assert_str_eq(nodesm_clock_state_to_string(NC__NR), "invalid");
}

/* A stall's way through: the late period and libev's second run of it
 * at once, then a backlog (behind), then calm for 2 s: forgiven once,
 * from the last period before the stall; refused: time going back, a
 * read after now, a first period never a stall. */
Test(nodesm, clock_holds_a_stall_until_caught_up)
{
	nodesm_clock k = { 0 };
	nodesm_clock_fx fx;
	uint64_t t = 1000;

	cr_assert_eq(nodesm_clock_period(&k, &kcfg, 50000, 50000, &fx), 0);
	cr_assert_eq(k.state, NC_RUNNING, "a first period is no stall");
	cr_assert_eq(fx.stall_ms, 0u);
	t = 50000;
	cr_assert_eq(nodesm_clock_period(&k, &kcfg, t + 1000, t + 1000, &fx), 0);
	t += 1000;
	cr_assert_eq(nodesm_clock_period(&k, &kcfg, t - 1, t - 1, &fx), -EINVAL);
	cr_assert_eq(nodesm_clock_period(&k, &kcfg, t + 1, t + 2, &fx), -EINVAL);
	cr_assert_eq(k.last_ms, t);
	/* stopped 8 s; nothing waiting is seen at first (not read yet) */
	cr_assert_eq(nodesm_clock_period(&k, &kcfg, t + 8000, t + 8000, &fx), 0);
	cr_assert_eq(fx.stall_ms, 8000u);
	cr_assert_eq(fx.until_ms, t);
	cr_assert_eq(nodesm_clock_period(&k, &kcfg, t + 8001, t + 8001, &fx), 0);
	cr_assert_eq(fx.until_ms, t);
	cr_assert(!fx.forgive);
	/* then behind its backlog for 3 s */
	for (uint64_t p = t + 9000; p <= t + 11000; p += 1000) {
		cr_assert_eq(nodesm_clock_period(&k, &kcfg, p, t + 8001, &fx), 0);
		cr_assert(!fx.forgive);
		cr_assert_eq(fx.until_ms, t);
	}
	/* caught up at 12000, 13000: not yet 2 s; at 14000 forgiven */
	cr_assert_eq(nodesm_clock_period(&k, &kcfg, t + 12000, t + 12000, &fx), 0);
	cr_assert(!fx.forgive);
	cr_assert_eq(nodesm_clock_period(&k, &kcfg, t + 13000, t + 13000, &fx), 0);
	cr_assert(!fx.forgive);
	cr_assert_eq(nodesm_clock_period(&k, &kcfg, t + 14000, t + 13900, &fx), 0);
	cr_assert(fx.forgive);
	cr_assert_eq(fx.forgive_from, t);
	cr_assert_eq(fx.until_ms, t + 13900);
	cr_assert_eq(k.state, NC_RUNNING);
	cr_assert_eq(nodesm_clock_period(&k, &kcfg, t + 15000, t + 15000, &fx), 0);
	cr_assert(!fx.forgive, "forgiven once");
	cr_assert_eq(fx.until_ms, t + 15000);
}

/* Which instances a node releases: unfenced ones once it is lost, fenced
 * ones only after lease + their stop timeout + margin of silence. */
Test(nodesm, releases_fenced_instances_only_after_lease_stop_and_margin)
{
	nodesm n = { .state = NM_UP, .heard_ms = 1000, .since_ms = 1000 };
	const uint64_t stop = 3000, free_at = 1000 + 8000 + stop + 2000;

	cr_assert_not(nodesm_releases(&n, &cfg, false, stop, 100000));
	cr_assert_not(nodesm_releases(&n, &cfg, true, stop, 100000));
	n.state = NM_SUSPECT;
	cr_assert_not(nodesm_releases(&n, &cfg, false, stop, 100000));
	n.state = NM_UNKNOWN;
	cr_assert_not(nodesm_releases(&n, &cfg, false, stop, 100000));
	n.state = NM_LOST;
	cr_assert(nodesm_releases(&n, &cfg, false, stop, 6000));
	cr_assert_not(nodesm_releases(&n, &cfg, true, stop, 100000));
	n.state = NM_FENCED;
	cr_assert(nodesm_releases(&n, &cfg, false, stop, 11000));
	cr_assert_not(nodesm_releases(&n, &cfg, true, stop, free_at - 1));
	cr_assert(nodesm_releases(&n, &cfg, true, stop, free_at));
	cr_assert(nodesm_releases(&n, &cfg, true, 0, 1000 + 8000 + 2000));
	cr_assert_not(nodesm_releases(&n, &cfg, true, stop, 500));   /* time went back */
}

/* A seeded random walk of messages, ticks, hellos, revokes and (while
 * unknown) others' returns: every move
 * is in the table, and the fencing rule holds: fenced instances are only
 * released (MOVE_FENCED) when the node has been silent for the lease plus
 * the margin, and unfenced ones (MOVE) never before the TTL, unless the
 * key was revoked. A failing seed is printed. */
Test(nodesm, random_walk_keeps_the_fencing_rule)
{
	for (unsigned seed = 1; seed <= 200; seed++) {
		nodesm n;
		uint64_t now = 0;

		srand(seed);
		nodesm_init(&n, now);
		for (int i = 0; i < 500; i++) {
			nodesm_event ev = (nodesm_event)(rand() % 10 < 6 ? NM_EV_TICK :
							 rand() % 10 < 8 ? NM_EV_MSG :
							 rand() % 2 ? NM_EV_HELLO : NM_EV_REVOKE);
			nodesm before = n;
			nodesm_fx fx;
			uint64_t quiet;

			if (n.state == NM_UNKNOWN && rand() % 4 == 0)
				ev = NM_EV_RETURNS;   /* only delays a loss */
			now += (uint64_t)(rand() % 3000);
			quiet = now - n.heard_ms;
			cr_assert_eq(nodesm_step(&n, &cfg, ev, now, &fx), 0, "seed %u step %d",
				     seed, i);
			cr_assert(nodesm_allowed(before.state, n.state), "seed %u", seed);
			if (fx.fx & NM_FX_MOVE_FENCED)
				cr_assert_geq(quiet, cfg.lease_ms + cfg.margin_ms,
					      "seed %u step %d: fenced moved after %llu ms", seed,
					      i, (unsigned long long)quiet);
			if ((fx.fx & NM_FX_MOVE) && ev != NM_EV_REVOKE)
				cr_assert_geq(quiet, cfg.ttl_ms, "seed %u step %d", seed, i);
			if (n.state == NM_UP)
				cr_assert(before.state == NM_UP || ev == NM_EV_HELLO ||
					  (before.state == NM_SUSPECT && ev == NM_EV_MSG),
					  "seed %u: up without a hello", seed);
		}
	}
}

/* The wave's bound: 12 TTLs, longer for a big cluster. */
Test(nodesm, startup_bound_grows_with_the_cluster)
{
	cr_assert_eq(nodesm_startup_ms(5000, 0), 60000u);
	cr_assert_eq(nodesm_startup_ms(5000, 100), 60000u, "a small cluster: 12 TTLs");
	cr_assert_eq(nodesm_startup_ms(5000, 5000), 5000u * NODESM_RETURN_MS);
	cr_assert_gt(nodesm_startup_ms(5000, 5000), 45000u * 2,
		     "twice the 45 s a 5,000-node wave took on 2 cores");
	cr_assert_eq(nodesm_startup_ms(100, 10), 1200u);
}

Test(nodesm, a_node_counts_up_only_if_heard_within_half_its_ttl)
{
	const nodesm_cfg c = cfg;
	nodesm n;
	nodesm_fx fx;

	nodesm_init(&n, 1000);
	cr_assert_not(nodesm_counts_up(&n, &c, 1000), "unknown");
	cr_assert_eq(nodesm_step(&n, &c, NM_EV_HELLO, 2000, &fx), 0);
	cr_assert(nodesm_counts_up(&n, &c, 2000));
	cr_assert(nodesm_counts_up(&n, &c, 1999), "a clock read before its word");
	cr_assert(nodesm_counts_up(&n, &c, 2000 + c.ttl_ms / 2 - 1));
	cr_assert_not(nodesm_counts_up(&n, &c, 2000 + c.ttl_ms / 2),
		      "up as of its last step, but half its TTL silent");
	cr_assert_eq(n.state, NM_UP);
	cr_assert_eq(nodesm_step(&n, &c, NM_EV_MSG, 2000 + c.ttl_ms / 2, &fx), 0);
	cr_assert(nodesm_counts_up(&n, &c, 2000 + c.ttl_ms / 2), "heard again");
	for (nodesm_state s = NM_UNKNOWN; s < NM__NR; s++) {
		n.state = s;
		cr_assert_eq(nodesm_counts_up(&n, &c, n.heard_ms), s == NM_UP, "%s",
			     nodesm_state_to_string(s));
	}
}

Test(nodesm, moves_wait_a_hold_after_the_last_mass_loss)
{
	uint64_t seen = 0;

	cr_assert_not(nodesm_mass_wait(false, &seen, 1000, 5000), "never seen");
	cr_assert_eq(seen, 0u);
	cr_assert(nodesm_mass_wait(true, &seen, 2000, 5000));
	cr_assert_eq(seen, 2000u);
	cr_assert(nodesm_mass_wait(false, &seen, 2250, 5000), "most back: the rest returning");
	cr_assert(nodesm_mass_wait(false, &seen, 6999, 5000));
	cr_assert_not(nodesm_mass_wait(false, &seen, 7000, 5000), "a hold after it");
	cr_assert(nodesm_mass_wait(true, &seen, 8000, 5000), "seen again");
	cr_assert(nodesm_mass_wait(false, &seen, 12999, 5000), "held from the last one");
	cr_assert_not(nodesm_mass_wait(false, &seen, 13000, 5000));
	seen = 9000;
	cr_assert(nodesm_mass_wait(false, &seen, 8000, 5000),
		  "a time before it (silence held in a stall): held");
}

Test(nodesm, mass_loss_pauses_rescheduling_only_in_a_big_cluster)
{
	/* small clusters always move what was lost */
	cr_assert_not(nodesm_mass_loss(3, 0));
	cr_assert_not(nodesm_mass_loss(NODESM_MASS_MIN - 1, 0));
	/* from NODESM_MASS_MIN nodes: 55 % or more not up waits */
	cr_assert_not(nodesm_mass_loss(10, 10));
	cr_assert_not(nodesm_mass_loss(10, 5), "45 %% up: 5 of 10 down is 50 %%");
	cr_assert(nodesm_mass_loss(10, 4), "6 of 10 down");
	cr_assert_not(nodesm_mass_loss(5000, 4900), "100 of 5,000 lost: moved");
	cr_assert(nodesm_mass_loss(5000, 2250), "2,750 of 5,000 not up (55 %%)");
	cr_assert_not(nodesm_mass_loss(5000, 2251));
	cr_assert(nodesm_mass_loss(5000, 0), "an rsd restarted under 5,000 nodes");
	cr_assert_not(nodesm_mass_loss(0, 0));
	cr_assert_not(nodesm_mass_loss(10, 12), "more up than known: no underflow");
}

/* nodesm_tick_idle: every state, every silence around the thresholds,
 * with and without a wave, inside rsd's startup window and after: where it says idle, a TICK moves nothing and
 * has no effect; UP heard suspect_ms ago is not idle. */
Test(nodesm, an_idle_tick_changes_nothing)
{
	static const uint64_t quiets[] = { 0, 1, 1999, 2000, 2001, 4999, 5000,
					   9999, 10000, 10001, 20000 };

	for (int s = 0; s < NM__NR; s++)
		for (size_t q = 0; q < sizeof quiets / sizeof quiets[0]; q++)
			for (int v = 0; v < 4; v++) {
				/* heard at B; a wave after it or not; since
				 * within startup_ms or long before */
				const uint64_t B = 100000;
				nodesm n = { .state = (nodesm_state)s, .heard_ms = B,
					     .since_ms = v & 2 ? B - 40000 : B,
					     .wave_ms = v & 1 ? B + 1500 : 0 };
				nodesm before = n;
				uint64_t now = B + quiets[q];
				bool idle = nodesm_tick_idle(&n, &cfg, now);
				nodesm_fx fx;

				cr_assert_eq(nodesm_step(&n, &cfg, NM_EV_TICK, now, &fx), 0);
				if (idle)
					cr_assert(n.state == before.state && fx.fx == 0,
						  "%s quiet %llu: idle, but the tick moved it to %s",
						  nodesm_state_to_string(before.state),
						  (unsigned long long)quiets[q],
						  nodesm_state_to_string(n.state));
				if (before.state == NM_UP && quiets[q] >= cfg.suspect_ms)
					cr_assert_not(idle, "up, silent %llu ms",
						      (unsigned long long)quiets[q]);
			}
	cr_assert(nodesm_tick_idle(&(nodesm){ .state = NM_UP, .heard_ms = 5000 },
				   &cfg, 4000), "time before its last word: nothing to do");
}

/* rsd's period ticks (and tells of returns) only the nodes that are not
 * idle: a seeded walk of one node ticked every time and one ticked only
 * when not idle ends every step in the same state with the same effects.
 * A failing seed is printed. */
Test(nodesm, ticking_only_the_busy_nodes_decides_the_same)
{
	for (unsigned seed = 1; seed <= 300; seed++) {
		nodesm a, b;
		uint64_t now = 0, returned = 0;

		srand(seed);
		nodesm_init(&a, now);
		b = a;
		for (int i = 0; i < 400; i++) {
			int k = rand() % 10;
			nodesm_fx fa = { 0 }, fb = { 0 };

			now += (uint64_t)(rand() % 1500);
			if (rand() % 5 == 0)
				returned = now;   /* another node came back */
			if (k < 7) {   /* a period */
				nodesm_tell_return(&a, &cfg, returned);
				cr_assert_eq(nodesm_step(&a, &cfg, NM_EV_TICK, now, &fa), 0);
				if (!nodesm_tick_idle(&b, &cfg, now)) {
					nodesm_tell_return(&b, &cfg, returned);
					cr_assert_eq(nodesm_step(&b, &cfg, NM_EV_TICK, now, &fb), 0);
				}
			} else {
				nodesm_event ev = k < 9 ? NM_EV_MSG : rand() % 3 ? NM_EV_HELLO :
						  NM_EV_REVOKE;

				cr_assert_eq(nodesm_step(&a, &cfg, ev, now, &fa), 0);
				cr_assert_eq(nodesm_step(&b, &cfg, ev, now, &fb), 0);
			}
			cr_assert_eq(a.state, b.state, "seed %u step %d: %s against %s", seed, i,
				     nodesm_state_to_string(a.state),
				     nodesm_state_to_string(b.state));
			cr_assert_eq(fa.fx, fb.fx, "seed %u step %d: effects differ", seed, i);
			cr_assert_eq(a.heard_ms, b.heard_ms, "seed %u step %d", seed, i);
		}
	}
}

/* Why an UNKNOWN node inside the startup window is never idle: told of a
 * return at 29 s while heard 1.5 s before (idle by silence alone), its
 * loss counts from the return; skipping that RETURNS would lose it at
 * 32.6 s, 3.6 s after the wave last brought a node back. */
Test(nodesm, a_return_told_while_quiet_still_counts)
{
	nodesm n;
	nodesm_fx fx;

	nodesm_init(&n, 0);
	cr_assert_eq(nodesm_step(&n, &cfg, NM_EV_MSG, 27500, &fx), 0);
	cr_assert_not(nodesm_tick_idle(&n, &cfg, 29000), "unknown, in the window");
	nodesm_tell_return(&n, &cfg, 29000);
	cr_assert_eq(nodesm_step(&n, &cfg, NM_EV_TICK, 29000, &fx), 0);
	for (uint64_t t = 30000; t <= 32000; t += 1000) {
		nodesm_tell_return(&n, &cfg, 30500);   /* past the window: no wave */
		cr_assert_eq(nodesm_step(&n, &cfg, NM_EV_TICK, t, &fx), 0);
	}
	cr_assert_eq(nodesm_step(&n, &cfg, NM_EV_TICK, 32600, &fx), 0);
	cr_assert_eq(n.state, NM_UNKNOWN, "silent 3.6 s since the wave: not lost yet");
	cr_assert_eq(nodesm_step(&n, &cfg, NM_EV_TICK, 34000, &fx), 0);
	cr_assert_eq(n.state, NM_LOST);
}
