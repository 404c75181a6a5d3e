/*
 * usagesel.h - which instances' usage an agent's beat carries to rsd
 * (RS_FEAT_USAGE), and the CPU share rsctl shows from two reports: pure
 * functions over rs_usage (msg.h), tested in tests/test_usagesel.c.
 *
 * The rule (docs/design.md "Usage"): an instance is sent when it was
 * never sent, or when at least USAGE_RESEND_MS passed since it was last
 * sent and something changed by a threshold since then: CPU time by
 * USAGE_CPU_MS or more (or went back: a new process), memory now or at
 * peak by 1 % of the last value sent or USAGE_MEM_MIN bytes, whichever
 * is more, the task count at all. A beat carries at most
 * RS_BEAT_USAGE_MAX; the rest wait for the next beats.
 *
 * Owns: nothing. Must not: do I/O, read a clock.
 */
#ifndef RS_USAGESEL_H
#define RS_USAGESEL_H

#include <stdbool.h>
#include <stdint.h>

#include "msg.h"

#define USAGE_RESEND_MS 10000        /* at most once per 10 s per instance */
#define USAGE_CPU_MS    10           /* CPU time that is a change */
#define USAGE_MEM_MIN   (64u << 10)  /* memory change below 1 % that counts */

/* Whether cur (sampled now, at now_ms) is worth sending, given last, what
 * was sent at sent_ms (sent_ms 0: nothing was ever sent; last is then
 * ignored). */
bool usagesel_due(const rs_usage *last, uint64_t sent_ms, const rs_usage *cur,
		  uint64_t now_ms);

/* The CPU share (100 = one CPU) between two reports of one instance: the
 * CPU time between them over the wall time between their samples. -1
 * when it cannot be told: no earlier report, the same sample, a sample
 * older than prev, or CPU time that went back (a new process). */
double usagesel_cpu_pct(const rs_usage *prev, const rs_usage *cur);

#endif
