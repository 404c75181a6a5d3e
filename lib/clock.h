/* clock.h - the two clocks rs uses, in milliseconds. */
#ifndef RS_CLOCK_H
#define RS_CLOCK_H

#include <stdint.h>

uint64_t clock_mono_ms(void);   /* CLOCK_MONOTONIC: timeouts, ages */
uint64_t clock_wall_ms(void);   /* CLOCK_REALTIME: what is stored and shown */
uint64_t clock_mono_ns(void);

/* Parses a duration as rsctl --since and rsd's flags write it: a
 * non-negative decimal number and a unit, s, m, h or d ("90s", "1.5h",
 * "7d"), or a bare "0". Returns 0 and sets *ms (rounded to the nearest
 * ms), or -EINVAL (also beyond 2^53 ms). */
int clock_parse_duration(const char *s, uint64_t *ms);

#endif
