/*
 * evchain.h - which of an agent's events rsd has taken, exactly, so that
 * rsd records each event once and acknowledges none it has not taken
 * (RS_FEAT_EVCHAIN, docs/design.md "Events, exactly once"). Pure: no I/O,
 * no clock reads.
 *
 * Every event an agent process sends names the seq of the event it made
 * before (prev; 0 for its first): the events form a chain. Every Hello
 * names where the chain starts for rsd (events_from): every event of
 * that process up to it was acknowledged, or given up when the agent's
 * ring overflowed. rsd keeps `through` (every event with seq <= through
 * is taken: the acknowledgement it sends) and the events it took above
 * a missing link (`ahead`: new events that overtook a replay), and
 * joins them to the chain as the links arrive.
 *
 * Why not the one number rsd 0.2-0.3 kept (the highest new seq taken):
 * that number passes over an event rsd has not taken (dropped while the
 * node was not connected, or not replayed yet because the agent waits
 * for the Welcome to its latest Hello), and the agent then lets it go:
 * lost from the log (test_sim found it). And its replays, deduplicated
 * from it at each Hello, were recorded again.
 *
 *   event (seq, prev), the chain at (through, ahead):
 *     prev >= seq, or seq 0 ............... BAD   drop (not an agent's)
 *     seq <= through, or seq in ahead ..... DUP   taken already: skip
 *     prev <= through ..................... NEW   through = seq, then the
 *                                                 ahead it links join
 *     otherwise, ahead not full ........... NEW   kept in ahead
 *     otherwise ........................... FULL  drop, ask for a Hello
 *   Hello (same process?, events_from):
 *     another process ..... through = events_from, ahead emptied
 *     the same ............ through = max(through, events_from), the
 *                           ahead at or below it dropped, the rest joined
 */
#ifndef RS_EVCHAIN_H
#define RS_EVCHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Events taken above a missing link, per node: an agent keeps at most
 * 1,024 unacknowledged (AGENT_REPLAY_MAX), so an honest one never fills
 * it; a hostile one is bounded by it. */
#define EVCHAIN_AHEAD_MAX 2048

typedef struct evchain_link {
	uint64_t seq, prev;
} evchain_link;

typedef struct evchain {
	uint64_t      through;   /* every event with seq <= this is taken */
	evchain_link *ahead;     /* taken above a missing link, by seq */
	size_t        n, cap;
} evchain;

typedef enum evchain_verdict {
	EVC_NEW,    /* record it */
	EVC_DUP,    /* taken already */
	EVC_BAD,    /* not a chain link: drop */
	EVC_FULL,   /* too many above a missing link: drop (the agent keeps
		     * it); ask for a Hello, which restarts the chain */
} evchain_verdict;

/* A Hello of the same agent process (same) or of another one. Returns
 * true if it moved `through` past events rsd never took (the agent gave
 * them up: its ring overflowed, or a new rsd never saw them). */
bool evchain_hello(evchain *c, bool same, uint64_t events_from);
evchain_verdict evchain_take(evchain *c, uint64_t seq, uint64_t prev);
void evchain_free(evchain *c);
const char *evchain_verdict_to_string(evchain_verdict v);

#endif
