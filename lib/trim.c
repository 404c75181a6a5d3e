/*
 * trim.c - when rsd gives its free heap back (see trim.h).
 */
#include "trim.h"

static uint64_t quarter(uint64_t x)
{
	return x / 4 > TRIM_GROWN_MIN ? x / 4 : TRIM_GROWN_MIN;
}

bool trim_due(const trim_rule *t, uint64_t now_ms, uint64_t rss, bool busy)
{
	uint64_t since;

	if (!t->started)
		return true;
	since = now_ms > t->last_ms ? now_ms - t->last_ms : 0;
	if (rss >= t->rss + quarter(t->rss))
		return since >= (busy ? TRIM_MAX_MS : TRIM_MIN_MS);
	return !busy && since >= (t->gap_ms > TRIM_MIN_MS ? t->gap_ms : TRIM_MIN_MS);
}

void trim_done(trim_rule *t, uint64_t now_ms, uint64_t rss_before, uint64_t rss_after)
{
	bool grown = !t->started || rss_before >= t->rss + quarter(t->rss);
	bool gave = rss_before >= rss_after + quarter(rss_after);

	if (grown || gave || t->gap_ms < TRIM_MIN_MS)
		t->gap_ms = TRIM_MIN_MS;
	else if ((t->gap_ms *= 2) > TRIM_AGAIN_MAX_MS)
		t->gap_ms = TRIM_AGAIN_MAX_MS;
	t->started = true;
	t->last_ms = now_ms;
	t->rss = rss_after;
}
