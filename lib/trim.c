/*
 * trim.c - when rsd gives its free heap back (see trim.h).
 */
#include "trim.h"

bool trim_due(const trim_rule *t, uint64_t now_ms, uint64_t rss, bool busy)
{
	uint64_t grown, since;

	if (!t->started)
		return true;
	since = now_ms > t->last_ms ? now_ms - t->last_ms : 0;
	grown = t->rss / 4 > TRIM_GROWN_MIN ? t->rss / 4 : TRIM_GROWN_MIN;
	if (rss < t->rss + grown)
		return false;
	return since >= (busy ? TRIM_MAX_MS : TRIM_MIN_MS);
}

void trim_done(trim_rule *t, uint64_t now_ms, uint64_t rss_after)
{
	t->started = true;
	t->last_ms = now_ms;
	t->rss = rss_after;
}
