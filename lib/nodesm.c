/*
 * nodesm.c - node membership (nodesm.h).
 */
#include "nodesm.h"

#include <errno.h>
#include <string.h>

#define S(x) (1u << NM_##x)
#define E(x) (1u << NM_EV_##x)

/* accepts[state] = the events that state handles. */
static const unsigned accepts[NM__NR] = {
	[NM_UNKNOWN] = E(HELLO) | E(MSG) | E(TICK) | E(REVOKE) | E(RETURNS) | E(FORGIVE),
	[NM_UP]      = E(HELLO) | E(MSG) | E(TICK) | E(REVOKE) | E(FORGIVE),
	[NM_SUSPECT] = E(HELLO) | E(MSG) | E(TICK) | E(REVOKE) | E(FORGIVE),
	[NM_LOST]    = E(HELLO) | E(MSG) | E(TICK) | E(REVOKE) | E(FORGIVE),
	[NM_FENCED]  = E(HELLO) | E(MSG) | E(TICK) | E(REVOKE) | E(FORGIVE),
};

/* next[from] = the states a move from `from` may reach. A node never goes
 * back to UNKNOWN, and only a Hello makes it UP. */
static const unsigned next[NM__NR] = {
	[NM_UNKNOWN] = S(UNKNOWN) | S(UP) | S(LOST) | S(FENCED),
	[NM_UP]      = S(UP) | S(SUSPECT) | S(LOST) | S(FENCED),
	[NM_SUSPECT] = S(SUSPECT) | S(UP) | S(LOST) | S(FENCED),
	[NM_LOST]    = S(LOST) | S(UP) | S(FENCED),
	[NM_FENCED]  = S(FENCED) | S(UP),
};

static const char *const state_names[NM__NR] = {
	"unknown", "up", "suspect", "lost", "fenced",
};
static const char *const ev_names[NM_EV__NR] = {
	"hello", "msg", "tick", "revoke", "returns", "forgive",
};

const char *nodesm_state_to_string(nodesm_state s)
{
	return (unsigned)s < NM__NR ? state_names[s] : "invalid";
}

const char *nodesm_event_to_string(nodesm_event ev)
{
	return (unsigned)ev < NM_EV__NR ? ev_names[ev] : "invalid";
}

bool nodesm_allowed(nodesm_state from, nodesm_state to)
{
	if ((unsigned)from >= NM__NR || (unsigned)to >= NM__NR)
		return false;
	return next[from] & (1u << to);
}

bool nodesm_accepts(nodesm_state s, nodesm_event ev)
{
	if ((unsigned)s >= NM__NR || (unsigned)ev >= NM_EV__NR)
		return false;
	return accepts[s] & (1u << ev);
}

bool nodesm_cfg_valid(const nodesm_cfg *c)
{
	return c->suspect_ms > 0 && c->suspect_ms < c->ttl_ms &&
	       c->ttl_ms <= c->lease_ms + c->margin_ms;
}

bool nodesm_mass_loss(size_t known, size_t up)
{
	size_t down = known >= up ? known - up : 0;

	return known >= NODESM_MASS_MIN && down * 100 >= known * NODESM_MASS_PCT;
}

bool nodesm_counts_up(const nodesm *n, const nodesm_cfg *c, uint64_t now_ms)
{
	return n->state == NM_UP && (now_ms < n->heard_ms || now_ms - n->heard_ms < c->ttl_ms / 2);
}

bool nodesm_mass_wait(bool mass, uint64_t *seen_ms, uint64_t now_ms, uint64_t hold_ms)
{
	if (mass) {
		*seen_ms = now_ms;
		return true;
	}
	/* (a time before it: rsd's count of silence held in a stall) */
	return *seen_ms && (now_ms < *seen_ms || now_ms - *seen_ms < hold_ms);
}

uint64_t nodesm_startup_ms(uint64_t ttl_ms, size_t nodes)
{
	uint64_t by_ttl = 12 * ttl_ms, by_nodes = (uint64_t)nodes * NODESM_RETURN_MS;

	return by_nodes > by_ttl ? by_nodes : by_ttl;
}

void nodesm_tell_return(nodesm *n, const nodesm_cfg *c, uint64_t returned_ms)
{
	nodesm_fx fx;

	if (n->state == NM_UNKNOWN && returned_ms >= n->heard_ms &&
	    returned_ms > n->wave_ms)
		(void)nodesm_step(n, c, NM_EV_RETURNS, returned_ms, &fx);
}

bool nodesm_releases(const nodesm *n, const nodesm_cfg *c, bool fenced,
		     uint64_t stop_ms, uint64_t now)
{
	if (!fenced)
		return n->state == NM_LOST || n->state == NM_FENCED;
	return n->state == NM_FENCED && now >= n->heard_ms &&
	       now - n->heard_ms >= c->lease_ms + stop_ms + c->margin_ms;
}

bool nodesm_tick_idle(const nodesm *n, const nodesm_cfg *c, uint64_t now)
{
	if (n->state == NM_UNKNOWN &&
	    (now < n->since_ms || now - n->since_ms <= c->startup_ms))
		return false;
	return n->state == NM_FENCED || now < n->heard_ms ||
	       now - n->heard_ms < c->suspect_ms;
}

void nodesm_init(nodesm *n, uint64_t now)
{
	memset(n, 0, sizeof *n);
	n->state = NM_UNKNOWN;
	n->heard_ms = now;
	n->word_ms = now;
	n->since_ms = now;
}

/* Where silence of `quiet` ms takes a node in state s (a TICK). */
static nodesm_state silent_state(nodesm_state s, const nodesm_cfg *c,
				 uint64_t quiet)
{
	if (quiet >= c->lease_ms + c->margin_ms)
		return NM_FENCED;
	if (quiet >= c->ttl_ms)
		return s == NM_FENCED ? NM_FENCED : NM_LOST;
	if (quiet >= c->suspect_ms && s == NM_UP)
		return NM_SUSPECT;
	return s;
}

/* The effects of arriving in `to` from `from` by silence (or a revoke). */
static unsigned silence_fx(nodesm_state from, nodesm_state to)
{
	unsigned fx = 0;

	if (to == from)
		return 0;
	fx |= NM_FX_PERSIST | NM_FX_EVENT;
	if ((to == NM_LOST || to == NM_FENCED) && from != NM_LOST)
		fx |= NM_FX_MOVE;
	if (to == NM_FENCED)
		fx |= NM_FX_MOVE_FENCED;
	return fx;
}

/* Time t as FORGIVE of (from, now) moves it: the span becomes the
 * instant `now`, the time before it later by its length (monotone: the
 * order of nodes by silence stays). */
static uint64_t forgiven(uint64_t t, uint64_t from, uint64_t now)
{
	if (t < from)
		return t + (now - from);
	return t < now ? now : t;
}

/* nodesm_step, with the span FORGIVE forgives (from, now) */
static int step(nodesm *n, const nodesm_cfg *c, nodesm_event ev,
		uint64_t now, uint64_t from_ms, nodesm_fx *fx)
{
	nodesm_state to = n->state;
	const nodesm orig = *n;

	memset(fx, 0, sizeof *fx);
	if (!nodesm_accepts(n->state, ev) || now < n->heard_ms)
		return -EINVAL;
	switch (ev) {
	case NM_EV_HELLO:
		n->heard_ms = n->word_ms = now;
		fx->fx |= NM_FX_RECONCILE | NM_FX_WELCOME;
		if (n->state != NM_UP)
			fx->fx |= NM_FX_PERSIST | NM_FX_EVENT;
		to = NM_UP;
		break;
	case NM_EV_MSG:
		n->heard_ms = n->word_ms = now;
		if (n->state == NM_SUSPECT) {
			to = NM_UP;   /* it was only slow */
			fx->fx |= NM_FX_PERSIST | NM_FX_EVENT;
		} else if (n->state != NM_UP) {
			fx->fx |= NM_FX_REHELLO;   /* say who you are first */
		}
		break;
	case NM_EV_TICK: {
		/* a node not heard since rsd started: silent since the wave
		 * of Hellos it is probably part of last brought one back */
		uint64_t from = n->heard_ms;

		if (n->state == NM_UNKNOWN && n->wave_ms > from)
			from = n->wave_ms < now ? n->wave_ms : now;
		to = silent_state(n->state, c, now - from);
		fx->fx |= silence_fx(n->state, to);
		break;
	}
	case NM_EV_RETURNS:
		/* only within startup_ms of rsd's start (since_ms: an
		 * UNKNOWN node never moved): a cluster that never stops
		 * trickling back must not hide a dead node for ever */
		if (now - n->since_ms <= c->startup_ms && now > n->wave_ms)
			n->wave_ms = now;
		break;
	case NM_EV_FORGIVE:
		/* the span counts for none: a node's silence (heard_ms, and
		 * an UNKNOWN node's last wave) before it moves later by it,
		 * one heard within it counts from its end (rsd knows the
		 * stall only between two periods: a word read after the
		 * first may still be before the stall) */
		n->heard_ms = forgiven(n->heard_ms, from_ms, now);
		if (n->wave_ms)
			n->wave_ms = forgiven(n->wave_ms, from_ms, now);
		break;
	case NM_EV_REVOKE:
		if (n->state != NM_LOST && n->state != NM_FENCED)
			to = NM_LOST;
		fx->fx |= silence_fx(n->state, to);
		break;
	default:
		return -EINVAL;
	}
	if (!nodesm_allowed(orig.state, to)) {
		*n = orig;
		memset(fx, 0, sizeof *fx);
		return -EINVAL;   /* the table and the code disagree: refuse */
	}
	if (to != orig.state)
		n->since_ms = now;
	n->state = to;
	return 0;
}

int nodesm_step(nodesm *n, const nodesm_cfg *c, nodesm_event ev,
		uint64_t now, nodesm_fx *fx)
{
	return step(n, c, ev, now, now, fx);
}

int nodesm_forgive(nodesm *n, const nodesm_cfg *c, uint64_t from_ms,
		   uint64_t now, nodesm_fx *fx)
{
	if (from_ms > now) {
		memset(fx, 0, sizeof *fx);
		return -EINVAL;
	}
	return step(n, c, NM_EV_FORGIVE, now, from_ms, fx);
}

#define C(x) (1u << NC_##x)

/* clock_next[from] = the states a period may take the clock to */
static const unsigned clock_next[NC__NR] = {
	[NC_RUNNING] = C(RUNNING) | C(STALLED),
	[NC_STALLED] = C(STALLED) | C(RUNNING),
};

static const char *const clock_names[NC__NR] = { "running", "stalled" };

const char *nodesm_clock_state_to_string(nodesm_clock_state s)
{
	return (unsigned)s < NC__NR ? clock_names[s] : "invalid";
}

bool nodesm_clock_allowed(nodesm_clock_state from, nodesm_clock_state to)
{
	if ((unsigned)from >= NC__NR || (unsigned)to >= NC__NR)
		return false;
	return clock_next[from] & (1u << to);
}

int nodesm_clock_period(nodesm_clock *k, const nodesm_clock_cfg *c,
			uint64_t now, uint64_t read_ms, nodesm_clock_fx *fx)
{
	const nodesm_clock orig = *k;
	nodesm_clock_state to = k->state;
	uint64_t gap = k->last_ms ? now - k->last_ms : 0;
	bool caught = now - read_ms <= c->lag_ms;

	memset(fx, 0, sizeof *fx);
	if (now < k->last_ms || read_ms > now || (unsigned)k->state >= NC__NR)
		return -EINVAL;
	if (k->last_ms && gap >= c->stall_ms) {
		/* rsd did not run: whatever its agents said meanwhile waits
		 * unread; held from the first stall's start */
		if (k->state == NC_RUNNING)
			k->from_ms = k->last_ms;
		to = NC_STALLED;
		k->seen_ms = now;
		k->hold_ms = gap > c->ttl_ms ? gap : c->ttl_ms;
		k->calm = false;   /* nothing read yet may be all there is */
		fx->stall_ms = gap;
	} else if (k->state == NC_STALLED) {
		if (!caught)
			k->calm = false;
		else if (!k->calm) {
			k->calm = true;
			k->calm_ms = now;
		}
		if ((k->calm && now - k->calm_ms >= c->calm_ms) ||
		    now - k->seen_ms >= k->hold_ms) {
			to = NC_RUNNING;
			fx->forgive = true;
			fx->forgive_from = k->from_ms;
		}
	}
	if (!nodesm_clock_allowed(orig.state, to)) {
		*k = orig;
		memset(fx, 0, sizeof *fx);
		return -EINVAL;
	}
	k->state = to;
	k->last_ms = now;
	fx->until_ms = to == NC_STALLED ? k->from_ms : read_ms;
	return 0;
}
