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

void knock_init(knock *k, uint32_t base_ms, uint32_t cap_ms, uint64_t seed)
{
	k->base_ms = base_ms ? base_ms : 1;
	k->cap_ms = cap_ms > k->base_ms ? cap_ms : k->base_ms;
	k->prev_ms = 0;
	k->rng = seed;
}

/* splitmix64: small, good enough to spread knocks, and reproducible. */
static uint64_t knock_rand(knock *k)
{
	uint64_t z = (k->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint32_t knock_next_ms(knock *k)
{
	uint64_t prev = k->prev_ms ? k->prev_ms : k->base_ms;
	uint64_t hi = prev * 3;

	if (hi > k->cap_ms)
		hi = k->cap_ms;
	if (hi < k->base_ms)
		hi = k->base_ms;
	k->prev_ms = (uint32_t)(k->base_ms + knock_rand(k) % (hi - k->base_ms + 1));
	return k->prev_ms;
}

void knock_reset(knock *k)
{
	k->prev_ms = 0;
}
