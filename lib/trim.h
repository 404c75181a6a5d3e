/*
 * trim.h - when rsd gives its heap's free pages back (malloc_trim), as a
 * pure rule. No clock reads, no I/O: the caller says the time, the
 * resident set and whether it is busy, and trims when trim_due says so.
 *
 * glibc keeps the pages freed inside its heap for later; after a wave (a
 * cold start's Hellos, a big apply, 1,500 `rsctl up`s) rsd held three to
 * six times what it used. A trim holds the loop for a walk of the heap's
 * free chunks (and the pages it gives back), so:
 *   - when the resident set grew by a quarter (TRIM_GROWN_MIN at least)
 *     since the last trim, one is due at once when rsd is not busy (it
 *     has read its agents' messages up to now), TRIM_MIN_MS after the
 *     last at the earliest; while busy, TRIM_MAX_MS after the last: a
 *     wave that never ends still gives memory back;
 *   - otherwise, when rsd is not busy, again after a gap that starts at
 *     TRIM_MIN_MS and doubles after each trim that gave little back, up
 *     to TRIM_AGAIN_MAX_MS: what a wave freed after the last trim (taken
 *     while that memory was still in use, so its resident set is the
 *     baseline) shows in no figure this rule reads. Measuring the heap's
 *     use instead (mallinfo2) walks every free chunk too, every time it
 *     is asked: 150 ms for a million of them.
 * The first call is always due (the baseline). In a steady state the
 * resident set does not grow and a trim comes every TRIM_AGAIN_MAX_MS.
 */
#ifndef RS_TRIM_H
#define RS_TRIM_H

#include <stdbool.h>
#include <stdint.h>

#define TRIM_MIN_MS       10000        /* trims this far apart at least */
#define TRIM_MAX_MS       60000        /* ... and this far while busy */
#define TRIM_AGAIN_MAX_MS 600000       /* a trim without growth, at least this often */
#define TRIM_GROWN_MIN    (64ull << 20) /* growth that counts, at least */

typedef struct trim_rule {
	bool     started;   /* a first trim was done */
	uint64_t last_ms;   /* when the last one was done */
	uint64_t rss;       /* the resident set right after it */
	uint64_t gap_ms;    /* the next trim without growth, this long after */
} trim_rule;

/* Whether to trim now, with the resident set at rss bytes. */
bool trim_due(const trim_rule *t, uint64_t now_ms, uint64_t rss, bool busy);
/* A trim was done at now_ms: the resident set was rss_before, it left
 * rss_after. */
void trim_done(trim_rule *t, uint64_t now_ms, uint64_t rss_before, uint64_t rss_after);

#endif
