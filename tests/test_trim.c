/* Unit tests of lib/trim.c: when rsd trims its heap, for every input. */
#include <criterion/criterion.h>

#include "trim.h"

#define MiB (1ull << 20)

Test(trim, first_call_is_the_baseline, .timeout = 10)
{
	trim_rule t = { 0 };

	cr_assert(trim_due(&t, 0, 0, true), "due at once, even busy");
	trim_done(&t, 5, 100 * MiB);
	cr_assert(t.started);
	cr_assert_eq(t.last_ms, 5);
	cr_assert_eq(t.rss, 100 * MiB);
}

/* Every combination: grown or not, busy or not, and the time since the
 * last trim before, at and past each bound. */
Test(trim, every_combination, .timeout = 10)
{
	const uint64_t last = 1000000, base = 1024 * MiB;   /* a quarter: 256 MiB */
	const uint64_t rss[] = { base, base + 256 * MiB - 1, base + 256 * MiB, 4 * base };
	const bool grown[] = { false, false, true, true };
	const uint64_t since[] = { 0, TRIM_MIN_MS - 1, TRIM_MIN_MS, TRIM_MAX_MS - 1,
				   TRIM_MAX_MS, 10 * TRIM_MAX_MS };

	for (size_t r = 0; r < sizeof rss / sizeof *rss; r++)
		for (size_t s = 0; s < sizeof since / sizeof *since; s++)
			for (int busy = 0; busy < 2; busy++) {
				trim_rule t = { .started = true, .last_ms = last, .rss = base };
				bool want = grown[r] &&
					    since[s] >= (busy ? TRIM_MAX_MS : TRIM_MIN_MS);

				cr_assert_eq(trim_due(&t, last + since[s], rss[r], busy), want,
					     "rss +%llu MiB, %llu ms since, busy %d",
					     (unsigned long long)((rss[r] - base) / MiB),
					     (unsigned long long)since[s], busy);
			}
}

Test(trim, small_heaps_need_64_mib, .timeout = 10)
{
	trim_rule t = { .started = true, .last_ms = 0, .rss = 40 * MiB };

	/* a quarter of 40 MiB is 10: the floor is 64 */
	cr_assert_not(trim_due(&t, TRIM_MAX_MS, 40 * MiB + 63 * MiB, false));
	cr_assert(trim_due(&t, TRIM_MAX_MS, 40 * MiB + 64 * MiB, false));
}

Test(trim, a_clock_behind_the_last_trim_is_not_late, .timeout = 10)
{
	trim_rule t = { .started = true, .last_ms = 50000, .rss = 100 * MiB };

	cr_assert_not(trim_due(&t, 10000, 10000 * MiB, false));
}

/* A cold start as the benchmark saw it: the baseline at 0, the heap grows
 * through a wave that keeps rsd busy for 40 s, then rsd catches up. No
 * trim in the wave (each would stall it), one at once after it; none in
 * the steady state after. */
Test(trim, a_wave_then_quiet, .timeout = 10)
{
	trim_rule t = { 0 };
	int trims = 0;
	uint64_t first_after = 0;

	for (uint64_t now = 0; now <= 120000; now += 1000) {
		bool busy = now > 0 && now < 40000;
		uint64_t rss = now < 40000 ? 200 * MiB + now / 1000 * 25 * MiB :
			       t.started && t.last_ms >= 40000 ? 620 * MiB : 1200 * MiB;

		if (trim_due(&t, now, rss, busy)) {
			trims++;
			if (now >= 40000 && !first_after)
				first_after = now;
			trim_done(&t, now, now ? 620 * MiB : rss);
		}
	}
	cr_assert_eq(trims, 2, "the baseline and one after the wave: %d", trims);
	cr_assert_eq(first_after, 40000, "at the first quiet period");
}
