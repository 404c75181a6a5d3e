/*
 * backoff.h - the restart delay as a pure function (MINIX RS policy).
 * First restart of a streak immediate, then initial, initial*factor, ...,
 * capped at max. A run that stayed up for reset_ms ends the streak.
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

#endif
