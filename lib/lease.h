/*
 * lease.h - the agent's lease from rsd, as a pure state machine.
 *
 * Owns: when the agent's fence: stop instances must stop because rsd has
 * been silent (the deadline the engine and the keeper share), and when
 * the fence is lifted. Must not: read a clock, do I/O, touch instances
 * (the caller stops them when lease_expire says so).
 *
 * Each answer from rsd (Welcome: with its lease length; BeatAck: the same
 * length again) renews the lease: it ends length ms after the agent last
 * spoke before that answer (a Hello or a beat: what rsd answered, or a
 * later word), never after the answer's arrival. The deadline moves only when it would move by lease/4 or more
 * (or the length changed, or it had ended), so the keeper is told at most
 * every lease/4 and never holds a later deadline than the engine. Length
 * 0 (an rsd 0.2.0) means no lease: nothing is ever fenced.
 *
 *   NONE -renew(ms > 0)-> HELD (at = said + ms) -expire(now >= at)-> FENCED
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
 * repeats the current one); said_ms: when the agent last said something
 * rsd answers (a Hello or a beat). The lease runs from said_ms, not from
 * the answer's arrival: an answer that waited (in a frozen agent's
 * socket, on a slow link) answers a word rsd heard before, and rsd counts
 * the silence from that word. Returns LEASE_FX_* bits. */
unsigned lease_renew(lease *l, uint32_t ms, uint64_t said_ms, uint64_t now_ms);
/* Whether the lease ends at now_ms: true once per lease (l->fenced is
 * then set and the caller stops its fence: stop instances). */
bool lease_expire(lease *l, uint64_t now_ms);
/* Whether a fence: stop instance may be started at now_ms: there is no
 * lease (rsd 0.2.0: nothing is fenced), or it has not ended. An order
 * that waited in the agent's socket (a frozen agent, a slow link) may
 * arrive after the lease ended, when rsd may already run the instance
 * elsewhere: it must not start it here (call lease_expire first). */
bool lease_holds(const lease *l, uint64_t now_ms);
/* When to call lease_expire next (the deadline), or 0: never (no lease,
 * or fenced already). */
uint64_t lease_due(const lease *l);

/* rsd's side: whether to answer a beat (with a BeatAck). Each answer
 * renews the lease from the beat it answers, so with a lease of 4 beats
 * or more every other beat is enough: the lease never has less than
 * lease - 2 beats left when renewed, an agent hears rsd at least every 2
 * beats (agent/agent.c calls rsd slow after 3), and rsd sends its agents
 * half as much (at 5,000 agents each message is syscalls on both of
 * ZeroMQ's threads). skipped: the node's last beat went unanswered;
 * news: rsd took events the agent has not seen acknowledged (the ack
 * rides the answer, and the agent holds them until then). */
bool lease_answer_beat(uint32_t lease_ms, uint32_t beat_ms, bool skipped, bool news);

#endif
