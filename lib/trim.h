/*
 * trim.h - when rsd gives its heap's free pages back (malloc_trim), as a
 * pure rule. No clock reads, no I/O: the caller says the time, the
 * resident set and whether it is busy, and trims when trim_due says so.
 *
 * glibc keeps the pages freed inside its heap for later; after a wave (a
 * cold start's Hellos, a big apply) rsd held twice what it used. A trim
 * holds the loop for a time that grows with the heap (0.3-0.6 s at
 * 1 GiB), so it is due only when the resident set grew by a quarter
 * (TRIM_GROWN_MIN at least) since the last one, and then
 *   - at once when rsd is not busy (it has read its agents' messages up
 *     to now), TRIM_MIN_MS after the last trim at the earliest;
 *   - while busy, TRIM_MAX_MS after the last trim: a wave that never
 *     ends still gives memory back.
 * The first call is always due (the baseline). In a steady state the
 * resident set does not grow and nothing is trimmed.
 */
#ifndef RS_TRIM_H
#define RS_TRIM_H

#include <stdbool.h>
#include <stdint.h>

#define TRIM_MIN_MS    10000           /* trims this far apart at least */
#define TRIM_MAX_MS    60000           /* ... and this far while busy */
#define TRIM_GROWN_MIN (64ull << 20)   /* growth that counts, at least */

typedef struct trim_rule {
	bool     started;   /* a first trim was done */
	uint64_t last_ms;   /* when the last one was done */
	uint64_t rss;       /* the resident set right after it */
} trim_rule;

/* Whether to trim now, with the resident set at rss bytes. */
bool trim_due(const trim_rule *t, uint64_t now_ms, uint64_t rss, bool busy);
/* A trim was done at now_ms and left rss_after bytes resident. */
void trim_done(trim_rule *t, uint64_t now_ms, uint64_t rss_after);

#endif
