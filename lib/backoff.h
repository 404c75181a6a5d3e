/*
 * backoff.h - the restart delay as a pure function (MINIX RS policy).
 * First restart of a streak immediate, then initial, initial*factor, ...,
 * capped at max. A run that stayed up for reset_ms ends the streak.
 *
 * Also the agent's knock schedule (the Hellos of an agent rsd has not
 * welcomed yet): pure as well, its random state passed in and out, so a
 * seed is a schedule (tests/test_backoff.c).
 */
#ifndef RS_BACKOFF_H
#define RS_BACKOFF_H

#include "model.h"

/* Delay before restart number `streak` (0-based) of a streak of failures. */
uint32_t backoff_delay_ms(const rs_backoff *b, uint32_t streak);
/* The failures-in-a-row count after one more failure, given the previous
 * count and how long the instance that just died had been up (1 when that
 * run was long enough to reset the streak). */
uint32_t backoff_next_streak(const rs_backoff *b, uint32_t streak,
			     uint64_t uptime_ms);

/* The knock schedule: the first Hello goes at once (the caller's), each
 * next one after a delay with "decorrelated jitter" (uniform in
 * [base, 3 x the previous delay], at most cap): 5,000 agents that lost
 * the same rsd at the same instant spread their Hellos instead of
 * knocking together every 100 ms, and none waits longer than cap
 * between two (rsd answers each with one Welcome). */
#define KNOCK_BASE_MS 100
#define KNOCK_CAP_MS  2000

typedef struct knock {
	uint32_t base_ms, cap_ms;
	uint32_t prev_ms;   /* the last delay given; 0: none since the reset */
	uint64_t rng;       /* splitmix64 state: a seed is a schedule */
} knock;

/* Sets the schedule (base 0 is taken as 1; a cap below base as base). */
void knock_init(knock *k, uint32_t base_ms, uint32_t cap_ms, uint64_t seed);
/* The delay before the next Hello, in [base, min(cap, 3 x previous)]
 * (the first after a reset in [base, min(cap, 3 x base)]). */
uint32_t knock_next_ms(knock *k);
/* Welcomed, or a new connection: the next delay starts from base again. */
void knock_reset(knock *k);

#endif
