/*
 * trim.h - when rsd gives its heap's free pages back (malloc_trim), as a
 * pure rule. No clock reads, no I/O: the caller says the time, the
 * resident set, what the heap has in use and whether rsd is busy.
 *
 * glibc keeps the pages freed inside its heap for later; after a wave (a
 * cold start's Hellos, a big apply, 1,500 `rsctl up`s) rsd held three to
 * six times what it used. A trim holds the loop for a time that grows
 * with what it gives back, so it is due only when there is much to give:
 *   - the resident set grew by a quarter (TRIM_GROWN_MIN at least) since
 *     the last trim, or
 *   - the resident set beyond what the heap has in use (the "slack":
 *     free pages still resident) grew by a quarter of the use
 *     (TRIM_GROWN_MIN at least) since the last trim: a wave that freed
 *     its memory after the last trim, with the resident set no larger;
 * and then
 *   - at once when rsd is not busy (it has read its agents' messages up
 *     to now), TRIM_MIN_MS after the last trim at the earliest;
 *   - while busy, TRIM_MAX_MS after the last trim: a wave that never
 *     ends still gives memory back.
 * What the heap has in use costs a walk of its free lists to learn
 * (mallinfo2): trim_look says when to learn it, TRIM_LOOK_MS apart at
 * most and only when the time rule would allow a trim. The first look
 * is always due and its trim too (the baseline). In a steady state
 * neither figure grows and nothing is trimmed.
 */
#ifndef RS_TRIM_H
#define RS_TRIM_H

#include <stdbool.h>
#include <stdint.h>

#define TRIM_MIN_MS    10000           /* trims this far apart at least */
#define TRIM_MAX_MS    60000           /* ... and this far while busy */
#define TRIM_LOOK_MS   5000            /* the heap's figures, this far apart */
#define TRIM_GROWN_MIN (64ull << 20)   /* growth that counts, at least */

typedef struct trim_rule {
	bool     started;   /* a first trim was done */
	uint64_t last_ms;   /* when the last one was done */
	uint64_t rss;       /* the resident set right after it */
	uint64_t slack;     /* resident beyond the heap's use right after it */
	bool     looked;    /* look_ms is set */
	uint64_t look_ms;   /* when the figures were last read */
} trim_rule;

/* Whether to read the figures (resident set, the heap's use) now. */
bool trim_look(const trim_rule *t, uint64_t now_ms, bool busy);
/* With the figures read at now_ms (used 0: not known, the resident set's
 * growth alone decides): whether to trim now. Records the look. */
bool trim_due(trim_rule *t, uint64_t now_ms, uint64_t rss, uint64_t used);
/* A trim was done at now_ms and left rss_after bytes resident with
 * used_after in use. */
void trim_done(trim_rule *t, uint64_t now_ms, uint64_t rss_after, uint64_t used_after);

#endif
