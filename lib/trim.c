/*
 * trim.c - when rsd gives its free heap back (see trim.h).
 */
#include "trim.h"

static uint64_t quarter(uint64_t x)
{
	return x / 4 > TRIM_GROWN_MIN ? x / 4 : TRIM_GROWN_MIN;
}

bool trim_look(const trim_rule *t, uint64_t now_ms, bool busy)
{
	uint64_t since;

	if (!t->started)
		return true;
	since = now_ms > t->last_ms ? now_ms - t->last_ms : 0;
	if (since < (busy ? TRIM_MAX_MS : TRIM_MIN_MS))
		return false;
	return !t->looked || now_ms < t->look_ms || now_ms - t->look_ms >= TRIM_LOOK_MS;
}

bool trim_due(trim_rule *t, uint64_t now_ms, uint64_t rss, uint64_t used)
{
	uint64_t slack = rss > used ? rss - used : 0;

	t->looked = true;
	t->look_ms = now_ms;
	if (!t->started)
		return true;
	if (rss >= t->rss + quarter(t->rss))
		return true;
	return used && slack >= t->slack + quarter(used);
}

void trim_done(trim_rule *t, uint64_t now_ms, uint64_t rss_after, uint64_t used_after)
{
	t->started = true;
	t->last_ms = now_ms;
	t->rss = rss_after;
	t->slack = rss_after > used_after ? rss_after - used_after : 0;
}
