/* Unit tests of lib/trim.c: when rsd trims its heap, for every input. */
#include <criterion/criterion.h>

#include "trim.h"

#define MiB (1ull << 20)

Test(trim, first_call_is_the_baseline, .timeout = 10)
{
	trim_rule t = { 0 };

	cr_assert(trim_due(&t, 0, 0, true), "due at once, even busy");
	trim_done(&t, 5, 120 * MiB, 100 * MiB);
	cr_assert(t.started);
	cr_assert_eq(t.last_ms, 5);
	cr_assert_eq(t.rss, 100 * MiB);
	cr_assert_eq(t.gap_ms, TRIM_MIN_MS);
}

/* Every combination: grown or not, busy or not, and the time since the
 * last trim before, at and past each bound, with the gap at its least
 * and doubled. */
Test(trim, every_combination, .timeout = 10)
{
	const uint64_t last = 1000000, base = 1024 * MiB;   /* a quarter: 256 MiB */
	const uint64_t rss[] = { base / 2, base, base + 256 * MiB - 1, base + 256 * MiB,
				 4 * base };
	const bool grown[] = { false, false, false, true, true };
	const uint64_t gaps[] = { TRIM_MIN_MS, 4 * TRIM_MIN_MS };
	const uint64_t since[] = { 0, TRIM_MIN_MS - 1, TRIM_MIN_MS, 4 * TRIM_MIN_MS - 1,
				   4 * TRIM_MIN_MS, TRIM_MAX_MS - 1, TRIM_MAX_MS,
				   10 * TRIM_MAX_MS };

	for (size_t r = 0; r < sizeof rss / sizeof *rss; r++)
		for (size_t g = 0; g < sizeof gaps / sizeof *gaps; g++)
			for (size_t s = 0; s < sizeof since / sizeof *since; s++)
				for (int busy = 0; busy < 2; busy++) {
					trim_rule t = { .started = true, .last_ms = last,
							.rss = base, .gap_ms = gaps[g] };
					bool want = grown[r] ?
						    since[s] >= (busy ? TRIM_MAX_MS : TRIM_MIN_MS) :
						    !busy && since[s] >= gaps[g];

					cr_assert_eq(trim_due(&t, last + since[s], rss[r], busy),
						     want, "rss %llu MiB, gap %llu, %llu ms since, "
						     "busy %d", (unsigned long long)(rss[r] / MiB),
						     (unsigned long long)gaps[g],
						     (unsigned long long)since[s], busy);
				}
}

Test(trim, small_heaps_need_64_mib, .timeout = 10)
{
	trim_rule t = { .started = true, .last_ms = 0, .rss = 40 * MiB,
			.gap_ms = TRIM_AGAIN_MAX_MS };

	/* a quarter of 40 MiB is 10: the floor is 64 */
	cr_assert_not(trim_due(&t, TRIM_MAX_MS, 40 * MiB + 63 * MiB, false));
	cr_assert(trim_due(&t, TRIM_MAX_MS, 40 * MiB + 64 * MiB, false));
}

Test(trim, a_clock_behind_the_last_trim_is_not_late, .timeout = 10)
{
	trim_rule t = { .started = true, .last_ms = 50000, .rss = 100 * MiB,
			.gap_ms = TRIM_MIN_MS };

	cr_assert_not(trim_due(&t, 10000, 10000 * MiB, false));
	cr_assert_not(trim_due(&t, 10000, 100 * MiB, false));
}

/* The gap after a trim: back to TRIM_MIN_MS after one the growth called
 * or one that gave a quarter back, else doubled up to TRIM_AGAIN_MAX_MS. */
Test(trim, the_gap, .timeout = 10)
{
	trim_rule t = { .started = true, .last_ms = 0, .rss = 400 * MiB,
			.gap_ms = TRIM_MIN_MS };

	trim_done(&t, 10000, 410 * MiB, 405 * MiB);   /* little back */
	cr_assert_eq(t.gap_ms, 2 * TRIM_MIN_MS);
	trim_done(&t, 30000, 405 * MiB, 405 * MiB);
	cr_assert_eq(t.gap_ms, 4 * TRIM_MIN_MS);
	for (int i = 0; i < 20; i++)
		trim_done(&t, 30000, 405 * MiB, 405 * MiB);
	cr_assert_eq(t.gap_ms, TRIM_AGAIN_MAX_MS);
	trim_done(&t, 40000, 600 * MiB, 590 * MiB);   /* the growth's */
	cr_assert_eq(t.gap_ms, TRIM_MIN_MS);
	t.gap_ms = TRIM_AGAIN_MAX_MS;
	trim_done(&t, 50000, 700 * MiB, 400 * MiB);   /* gave much back */
	cr_assert_eq(t.gap_ms, TRIM_MIN_MS);
	t.gap_ms = 0;   /* a rule never trimmed by trim_done: the least */
	trim_done(&t, 60000, 400 * MiB, 400 * MiB);
	cr_assert_eq(t.gap_ms, TRIM_MIN_MS);
}

/* Runs the rule once a second from `from` to `to` (ms) as rsd's period
 * does: rss(now, trimmed) gives the resident set. Returns the trims. */
typedef uint64_t (*rss_fn)(uint64_t now, bool trimmed_since_wave);

static int run(trim_rule *t, uint64_t from, uint64_t to, uint64_t busy_until,
	       uint64_t wave_end, rss_fn rss, uint64_t *first_after_wave)
{
	int trims = 0;
	bool trimmed = false;

	for (uint64_t now = from; now <= to; now += 1000) {
		uint64_t r = rss(now, trimmed);
		bool busy = now < busy_until;

		if (trim_due(t, now, r, busy)) {
			trims++;
			if (now >= wave_end && !trimmed) {
				trimmed = true;
				if (first_after_wave)
					*first_after_wave = now;
			}
			trim_done(t, now, r, rss(now, trimmed));
		}
	}
	return trims;
}

/* A cold start as the benchmark saw it: the baseline at 0, the heap grows
 * through a wave that keeps rsd busy for 40 s, then rsd catches up. No
 * trim in the wave (each would stall it), one at once after it. */
static uint64_t wave_rss(uint64_t now, bool trimmed)
{
	if (now == 0)
		return 200 * MiB;
	if (now < 40000)
		return 200 * MiB + now / 1000 * 25 * MiB;
	return trimmed ? 620 * MiB : 1200 * MiB;
}

Test(trim, a_wave_then_quiet, .timeout = 10)
{
	trim_rule t = { 0 };
	uint64_t first = 0;
	int trims = run(&t, 0, 40000, 40000, 40000, wave_rss, &first);

	cr_assert_eq(trims, 2, "the baseline and one after the wave: %d", trims);
	cr_assert_eq(first, 40000, "at the first quiet period");
}

/* What the 5,000-node benchmark found (session 16): a trim taken while
 * the wave's memory was in use (2.6 GiB resident) set the baseline; the
 * wave freed 2.4 GiB and the resident set stayed at 3.1 GiB, never a
 * quarter above the baseline: nothing was given back. Now a trim comes
 * TRIM_MIN_MS after the last once rsd is not busy. */
static uint64_t freed_rss(uint64_t now, bool trimmed)
{
	(void)now;
	return trimmed ? 520 * MiB : 3100 * MiB;
}

Test(trim, a_wave_freed_after_the_last_trim, .timeout = 10)
{
	trim_rule t = { .started = true, .last_ms = 0, .rss = 2600 * MiB,
			.gap_ms = TRIM_MIN_MS };
	uint64_t first = 0;

	run(&t, 1000, 30000, 5000, 1000, freed_rss, &first);
	cr_assert_eq(first, TRIM_MIN_MS, "when the gap ended, rsd not busy: %llu",
		     (unsigned long long)first);
	cr_assert_eq(t.rss, 520 * MiB);
}

/* A steady state: the resident set does not move, trims give nothing
 * back and come less and less often: over a day, fewer than one every
 * TRIM_AGAIN_MAX_MS plus the first few. */
static uint64_t steady_rss(uint64_t now, bool trimmed)
{
	(void)now;
	(void)trimmed;
	return 500 * MiB;
}

Test(trim, a_steady_state_trims_rarely, .timeout = 10)
{
	trim_rule t = { .started = true, .last_ms = 0, .rss = 500 * MiB,
			.gap_ms = TRIM_MIN_MS };
	const uint64_t day = 24ull * 3600 * 1000;
	int trims = run(&t, 1000, day, 0, day + 1, steady_rss, NULL);

	cr_assert_leq(trims, (int)(day / TRIM_AGAIN_MAX_MS) + 8, "%d trims", trims);
	cr_assert_geq(trims, (int)(day / TRIM_AGAIN_MAX_MS) - 1, "%d trims", trims);
	cr_assert_eq(t.gap_ms, TRIM_AGAIN_MAX_MS);
}
