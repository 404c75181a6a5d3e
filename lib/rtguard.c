/*
 * rtguard.c - the control I/O thread's real-time priority (see rtguard.h).
 */
#include <errno.h>

#include "rtguard.h"

#define NO_MOVE RTG__NSTATES

/* The moves allowed: where each event takes each state (a TICK only when
 * its condition holds: see rtguard_step). */
static const rtg_state moves[RTG__NSTATES][RTG__NEVENTS] = {
	/*               START        RAISED      REFUSED  TICK */
	[RTG_INIT]    = { RTG_RAISING, NO_MOVE,    NO_MOVE, NO_MOVE },
	[RTG_RAISING] = { NO_MOVE,     RTG_RAISED, RTG_OFF, NO_MOVE },
	[RTG_RAISED]  = { NO_MOVE,     NO_MOVE,    NO_MOVE, RTG_HELD },
	[RTG_HELD]    = { NO_MOVE,     NO_MOVE,    NO_MOVE, RTG_RAISING },
	[RTG_OFF]     = { NO_MOVE,     NO_MOVE,    NO_MOVE, NO_MOVE },
};

void rtguard_init(rtguard *g, unsigned share_pct, unsigned window_ms, unsigned hold_ms)
{
	*g = (rtguard){
		.st = RTG_INIT,
		.share_pct = share_pct ? share_pct : RTGUARD_SHARE_PCT,
		.window_ms = window_ms ? window_ms : RTGUARD_WINDOW_MS,
		.hold_ms = hold_ms ? hold_ms : RTGUARD_HOLD_MS,
		.own_pct = RTGUARD_OWN_PCT,
		.own_hold_ms = RTGUARD_OWN_HOLD_MS,
	};
}

static void window_start(rtguard *g, uint64_t cpu_ns, uint64_t own_ns, uint64_t now)
{
	g->win_ms = now;
	g->win_cpu_ns = cpu_ns;
	g->win_own_ns = own_ns;
}

int rtguard_step(rtguard *g, rtg_event ev, uint64_t cpu_ns, uint64_t now,
		 rtg_effect *fx)
{
	return rtguard_step_own(g, ev, cpu_ns, 0, now, fx);
}

int rtguard_step_own(rtguard *g, rtg_event ev, uint64_t cpu_ns, uint64_t own_ns,
		     uint64_t now, rtg_effect *fx)
{
	rtg_state to;

	*fx = RTG_FX_NONE;
	if ((unsigned)g->st >= RTG__NSTATES || (unsigned)ev >= RTG__NEVENTS ||
	    (to = moves[g->st][ev]) == NO_MOVE)
		return -EINVAL;
	switch (g->st) {
	case RTG_INIT:
		*fx = RTG_FX_RAISE;
		break;
	case RTG_RAISING:
		if (to == RTG_RAISED) {
			window_start(g, cpu_ns, own_ns, now);
			if (!g->last_own)
				g->raised_ms = now;
		}
		break;
	case RTG_RAISED: {
		uint64_t wall = now > g->win_ms ? now - g->win_ms : 0;
		uint64_t used = cpu_ns > g->win_cpu_ns ? cpu_ns - g->win_cpu_ns : 0;
		uint64_t own = own_ns > g->win_own_ns ? own_ns - g->win_own_ns : 0;

		if (wall < g->window_ms)
			return 0;
		/* used / (wall ms in ns) at most share_pct / 100 */
		if (used * 100 <= (uint64_t)g->share_pct * wall * 1000000) {
			window_start(g, cpu_ns, own_ns, now);
			return 0;
		}
		g->last_pct = (unsigned)(used / (wall * 10000));
		g->last_own_pct = (unsigned)(own / (wall * 10000));
		g->last_ms = (unsigned)wall;
		g->last_own = g->own_pct && own * 100 >= (uint64_t)g->own_pct * wall * 1000000;
		if (g->last_own) {
			/* the process's own work: a short hold, as it ends */
			g->held_until = now + g->own_hold_ms;
			g->lowered_own++;
			*fx = RTG_FX_LOWER;
			break;
		}
		/* again within the last hold of its raise: twice that hold */
		if (g->cur_hold_ms && now - g->raised_ms < g->cur_hold_ms)
			g->cur_hold_ms = g->cur_hold_ms * 2 <= (uint64_t)g->hold_ms * RTGUARD_HOLD_GROWTH
					 ? g->cur_hold_ms * 2
					 : (uint64_t)g->hold_ms * RTGUARD_HOLD_GROWTH;
		else
			g->cur_hold_ms = g->hold_ms;
		g->held_until = now + g->cur_hold_ms;
		g->lowered++;
		*fx = RTG_FX_LOWER;
		break;
	}
	case RTG_HELD:
		if (now < g->held_until)
			return 0;
		*fx = RTG_FX_RAISE;
		break;
	default:
		return -EINVAL;
	}
	g->st = to;
	return 0;
}

const char *rtguard_state_name(rtg_state st)
{
	static const char *const name[RTG__NSTATES] = {
		[RTG_INIT] = "init", [RTG_RAISING] = "raising", [RTG_RAISED] = "raised",
		[RTG_HELD] = "held", [RTG_OFF] = "off",
	};

	return (unsigned)st < RTG__NSTATES ? name[st] : "?";
}
