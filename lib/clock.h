/* clock.h - the two clocks rs uses, in milliseconds. */
#ifndef RS_CLOCK_H
#define RS_CLOCK_H

#include <stdint.h>

uint64_t clock_mono_ms(void);   /* CLOCK_MONOTONIC: timeouts, ages */
uint64_t clock_wall_ms(void);   /* CLOCK_REALTIME: what is stored and shown */
uint64_t clock_mono_ns(void);

#endif
