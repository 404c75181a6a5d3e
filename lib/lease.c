/*
 * lease.c - the agent's lease from rsd (see lease.h).
 */
#include "lease.h"

unsigned lease_renew(lease *l, uint32_t ms, uint64_t said, uint64_t now)
{
	uint64_t at = (said < now ? said : now) + ms;
	unsigned fx = 0;

	if (!ms) {   /* a 0.2.0 rsd: no lease, never fence */
		fx = l->at ? LEASE_FX_KEEPER : 0;
		l->at = 0;
		l->ms = 0;
		l->fenced = false;
		return fx;
	}
	if (l->fenced) {
		/* rsd speaks again: its reconcile starts what it still places
		 * here (its answer may have crossed an earlier Hello, or none
		 * was due: rsd was only slow) */
		l->fenced = false;
		fx |= LEASE_FX_HELLO;
	}
	if (at <= now && l->at) {
		/* a stale answer (it waited longer than the lease): it says
		 * nothing of rsd now; what ended stays ended */
		if (fx & LEASE_FX_HELLO)
			l->fenced = true;
		return 0;
	}
	if (!l->at || l->ms != ms || now >= l->at || at >= l->at + ms / 4) {
		l->at = at;
		l->ms = ms;
		fx |= LEASE_FX_KEEPER;
	}
	return fx;
}

bool lease_expire(lease *l, uint64_t now)
{
	if (!l->at || l->fenced || now < l->at)
		return false;
	l->fenced = true;
	return true;
}

bool lease_holds(const lease *l, uint64_t now)
{
	if (!l->ms || !l->at)
		return true;
	return !l->fenced && now < l->at;
}

uint64_t lease_due(const lease *l)
{
	return l->at && !l->fenced ? l->at : 0;
}

bool lease_answer_beat(uint32_t lease_ms, uint32_t beat_ms, bool skipped, bool news)
{
	return news || skipped || !beat_ms || lease_ms < 4ull * beat_ms;
}
