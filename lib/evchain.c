/*
 * evchain.c - which of an agent's events rsd has taken (evchain.h).
 */
#include "evchain.h"

#include <stdlib.h>
#include <string.h>

#include "model.h"

/* The first entry of ahead with seq >= seq. */
static size_t ahead_find(const evchain *c, uint64_t seq)
{
	size_t lo = 0, hi = c->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->ahead[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void ahead_drop_front(evchain *c, size_t k)
{
	if (!k)
		return;
	memmove(c->ahead, c->ahead + k, (c->n - k) * sizeof *c->ahead);
	c->n -= k;
}

/* Drops what through covers, then joins the links that follow it. */
static void join(evchain *c)
{
	ahead_drop_front(c, ahead_find(c, c->through + 1));
	while (c->n && c->ahead[0].prev <= c->through) {
		c->through = c->ahead[0].seq;
		ahead_drop_front(c, 1);
	}
	if (!c->n && c->ahead) {
		/* the missing link came: a quiet node holds nothing */
		free(c->ahead);
		c->ahead = NULL;
		c->cap = 0;
	}
}

bool evchain_hello(evchain *c, bool same, uint64_t events_from)
{
	bool skipped = same && events_from > c->through;

	if (!same) {
		c->n = 0;
		c->through = events_from;
	} else if (events_from > c->through) {
		c->through = events_from;
	}
	join(c);
	return skipped;
}

evchain_verdict evchain_take(evchain *c, uint64_t seq, uint64_t prev)
{
	evchain_link *a;
	size_t at;

	if (!seq || prev >= seq)
		return EVC_BAD;
	if (seq <= c->through)
		return EVC_DUP;
	at = ahead_find(c, seq);
	if (at < c->n && c->ahead[at].seq == seq)
		return EVC_DUP;
	if (prev <= c->through) {
		c->through = seq;
		join(c);
		return EVC_NEW;
	}
	if (c->n == EVCHAIN_AHEAD_MAX)
		return EVC_FULL;
	if (!(a = rs_grow(c->ahead, &c->cap, c->n, sizeof *a, 16)))
		return EVC_FULL;
	c->ahead = a;
	if (at < c->n)
		memmove(c->ahead + at + 1, c->ahead + at, (c->n - at) * sizeof *c->ahead);
	c->ahead[at] = (evchain_link){ .seq = seq, .prev = prev };
	c->n++;
	return EVC_NEW;
}

void evchain_free(evchain *c)
{
	free(c->ahead);
	*c = (evchain){ 0 };
}

const char *evchain_verdict_to_string(evchain_verdict v)
{
	switch (v) {
	case EVC_NEW:  return "new";
	case EVC_DUP:  return "duplicate";
	case EVC_BAD:  return "bad";
	case EVC_FULL: return "full";
	}
	return "?";
}
