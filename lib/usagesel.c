/*
 * usagesel.c - the agent's choice of usage to send and rsctl's CPU share
 * (see usagesel.h).
 */
#include "usagesel.h"

/* Whether a and b differ by at least 1 % of a or USAGE_MEM_MIN bytes,
 * whichever is more. */
static bool mem_moved(uint64_t a, uint64_t b)
{
	uint64_t d = a > b ? a - b : b - a;
	uint64_t min = a / 100 > USAGE_MEM_MIN ? a / 100 : USAGE_MEM_MIN;

	return d >= min;
}

bool usagesel_due(const rs_usage *last, uint64_t sent_ms, const rs_usage *cur,
		  uint64_t now_ms)
{
	if (!sent_ms)
		return true;
	if (now_ms < sent_ms + USAGE_RESEND_MS)
		return false;
	return cur->cpu_ms < last->cpu_ms ||
	       cur->cpu_ms - last->cpu_ms >= USAGE_CPU_MS ||
	       mem_moved(last->memory, cur->memory) ||
	       mem_moved(last->memory_peak, cur->memory_peak) ||
	       cur->tasks != last->tasks;
}

double usagesel_cpu_pct(const rs_usage *prev, const rs_usage *cur)
{
	if (!prev->time_ms || !cur->time_ms || cur->time_ms <= prev->time_ms ||
	    cur->cpu_ms < prev->cpu_ms)
		return -1;
	return 100.0 * (double)(cur->cpu_ms - prev->cpu_ms) /
	       (double)(cur->time_ms - prev->time_ms);
}
