/*
 * lease.h - the agent's lease from rsd, as a pure state machine.
 *
 * Owns: when the agent's fence: stop instances must stop because rsd has
 * been silent (the deadline the engine and the keeper share), and when
 * the fence is lifted. Must not: read a clock, do I/O, touch instances
 * (the caller stops them when lease_expire says so).
 *
 * Each answer from rsd (Welcome: with its lease length; BeatAck: the same
 * length again) renews the lease: it ends length ms after the answer
 * arrived. The deadline moves only when it would move by lease/4 or more
 * (or the length changed, or it had ended), so the keeper is told at most
 * every lease/4 and never holds a later deadline than the engine. Length
 * 0 (an rsd 0.2.0) means no lease: nothing is ever fenced.
 *
 *   NONE -renew(ms > 0)-> HELD (at = now + ms) -expire(now >= at)-> FENCED
 *   FENCED -renew-> HELD (and say Hello: rsd reconciles what was fenced)
 *   any -renew(0)-> NONE
 */
#ifndef RS_LEASE_H
#define RS_LEASE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct lease {
	uint32_t ms;      /* its length; 0: none (a 0.2.0 rsd, or never heard) */
	uint64_t at;      /* the deadline (monotonic ms; the keeper has the
			   * same one), 0: none */
	bool     fenced;  /* it ended: fence: stop instances are stopped until
			   * rsd speaks again */
} lease;

/* Effects of lease_renew, as bits. */
enum {
	LEASE_FX_KEEPER = 1u << 0,  /* tell the keeper (at, ms): K_LEASE */
	LEASE_FX_HELLO  = 1u << 1,  /* the fence is lifted: say Hello so rsd
				     * reconciles what was fenced */
};

/* rsd answered at now_ms; ms is the lease length it gives (a BeatAck
 * repeats the current one). Returns LEASE_FX_* bits. */
unsigned lease_renew(lease *l, uint32_t ms, uint64_t now_ms);
/* Whether the lease ends at now_ms: true once per lease (l->fenced is
 * then set and the caller stops its fence: stop instances). */
bool lease_expire(lease *l, uint64_t now_ms);
/* When to call lease_expire next (the deadline), or 0: never (no lease,
 * or fenced already). */
uint64_t lease_due(const lease *l);

#endif
