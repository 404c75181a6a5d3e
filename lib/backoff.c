#include "backoff.h"

uint32_t backoff_delay_ms(const rs_backoff *b, uint32_t streak)
{
	uint64_t d;

	if (b->disabled || streak == 0)
		return 0;
	d = b->initial_ms;
	/* stops at the cap, so at most ~32 rounds whatever the streak */
	for (uint32_t i = 1; i < streak && d < b->max_ms && d && b->factor > 1; i++)
		d *= b->factor;
	return d > b->max_ms ? b->max_ms : (uint32_t)d;
}

uint32_t backoff_next_streak(const rs_backoff *b, uint32_t streak,
			     uint64_t uptime_ms)
{
	if (b->reset_ms && uptime_ms >= b->reset_ms)
		return 1;   /* a new streak: this failure is its first */
	return streak == UINT32_MAX ? streak : streak + 1;
}
