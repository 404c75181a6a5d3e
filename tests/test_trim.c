/* Unit tests of lib/trim.c: when rsd trims its heap, for every input. */
#include <criterion/criterion.h>

#include "trim.h"

#define MiB (1ull << 20)

Test(trim, first_call_is_the_baseline, .timeout = 10)
{
	trim_rule t = { 0 };

	cr_assert(trim_look(&t, 0, true), "a look at once, even busy");
	cr_assert(trim_due(&t, 0, 0, 0), "due at once");
	trim_done(&t, 5, 100 * MiB, 70 * MiB);
	cr_assert(t.started);
	cr_assert_eq(t.last_ms, 5);
	cr_assert_eq(t.rss, 100 * MiB);
	cr_assert_eq(t.slack, 30 * MiB);
	trim_done(&t, 6, 100 * MiB, 130 * MiB);
	cr_assert_eq(t.slack, 0, "the use above the resident set (untouched pages): no slack");
}

/* When to look, for every combination: busy or not, the time since the
 * last trim and since the last look before, at and past each bound. */
Test(trim, when_to_look, .timeout = 10)
{
	const uint64_t last = 1000000;
	const uint64_t since[] = { 0, TRIM_MIN_MS - 1, TRIM_MIN_MS, TRIM_MAX_MS - 1,
				   TRIM_MAX_MS, 10 * TRIM_MAX_MS };
	const uint64_t looked[] = { 0, TRIM_LOOK_MS - 1, TRIM_LOOK_MS, UINT64_MAX };

	for (size_t s = 0; s < sizeof since / sizeof *since; s++)
		for (size_t l = 0; l < sizeof looked / sizeof *looked; l++)
			for (int busy = 0; busy < 2; busy++) {
				uint64_t now = last + since[s];
				bool never = looked[l] == UINT64_MAX;
				trim_rule t = { .started = true, .last_ms = last,
						.rss = 100 * MiB, .looked = !never,
						.look_ms = never ? 0 : now - looked[l] };
				bool want = since[s] >= (busy ? TRIM_MAX_MS : TRIM_MIN_MS) &&
					    (never || looked[l] >= TRIM_LOOK_MS);

				cr_assert_eq(trim_look(&t, now, busy), want,
					     "%llu ms since the trim, %llu since the look, busy %d",
					     (unsigned long long)since[s],
					     (unsigned long long)looked[l], busy);
			}
}

/* Whether to trim, for every combination: the resident set grown or not,
 * the slack grown or not, the use known or not. */
Test(trim, every_combination, .timeout = 10)
{
	const uint64_t base = 1024 * MiB;   /* a quarter: 256 MiB */
	const trim_rule t0 = { .started = true, .last_ms = 0, .rss = base,
			       .slack = 100 * MiB };
	/* the resident set, and the use that gives each slack */
	const uint64_t rss[] = { base - 300 * MiB, base, base + 256 * MiB - 1,
				 base + 256 * MiB, 4 * base };
	const uint64_t slack[] = { 0, 100 * MiB, 300 * MiB - 1, 300 * MiB, 2 * base };

	for (size_t r = 0; r < sizeof rss / sizeof *rss; r++)
		for (size_t k = 0; k < sizeof slack / sizeof *slack; k++)
			for (int known = 0; known < 2; known++) {
				trim_rule t = t0;
				/* the use that leaves slack[k] resident */
				uint64_t u = rss[r] > slack[k] ? rss[r] - slack[k] : 0;
				bool grown = rss[r] >= base + 256 * MiB;
				uint64_t q = u / 4 > 64 * MiB ? u / 4 : 64 * MiB;
				bool want = grown || (known && u &&
						      slack[k] >= 100 * MiB + q);

				cr_assert_eq(trim_due(&t, 5, rss[r], known ? u : 0), want,
					     "rss %llu MiB, slack %llu MiB, use %s",
					     (unsigned long long)(rss[r] / MiB),
					     (unsigned long long)(slack[k] / MiB),
					     known ? "known" : "unknown");
				cr_assert(t.looked);
				cr_assert_eq(t.look_ms, 5);
			}
}

Test(trim, small_heaps_need_64_mib, .timeout = 10)
{
	trim_rule t = { .started = true, .last_ms = 0, .rss = 40 * MiB };

	/* a quarter of 40 MiB is 10: the floor is 64 */
	cr_assert_not(trim_due(&t, TRIM_MAX_MS, 40 * MiB + 63 * MiB, 0));
	cr_assert(trim_due(&t, TRIM_MAX_MS, 40 * MiB + 64 * MiB, 0));
	/* the slack too: 63 MiB resident beyond 37 in use is not worth a
	 * trim, 64 is (the resident set not grown by 64 either way) */
	cr_assert_not(trim_due(&t, TRIM_MAX_MS, 100 * MiB, 37 * MiB));
	cr_assert(trim_due(&t, TRIM_MAX_MS, 101 * MiB, 37 * MiB));
}

Test(trim, a_clock_behind_the_last_trim_is_not_late, .timeout = 10)
{
	trim_rule t = { .started = true, .last_ms = 50000, .rss = 100 * MiB };

	cr_assert_not(trim_look(&t, 10000, false));
	t.looked = true;
	t.last_ms = 0;
	t.look_ms = 50000;   /* a look "later" than now: look again */
	cr_assert(trim_look(&t, 20000, false));
}

/* Runs the rule once a second from `from` to `to` (ms) as rsd's period
 * does, with rss resident (after once trimmed) and used in use. */
typedef struct sim {
	trim_rule t;
	int       trims;
	uint64_t  first;   /* the first trim's time at or after `from` */
} sim;

static void run(sim *s, uint64_t from, uint64_t to, bool busy, uint64_t rss,
		uint64_t used, uint64_t after)
{
	for (uint64_t now = from; now <= to; now += 1000) {
		uint64_t r = s->t.started && s->t.last_ms >= from ? after : rss;

		if (trim_look(&s->t, now, busy) && trim_due(&s->t, now, r, used)) {
			if (!s->trims++)
				s->first = now;
			trim_done(&s->t, now, after, used);
		}
	}
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

		if (trim_look(&t, now, busy) && trim_due(&t, now, rss, 500 * MiB)) {
			trims++;
			if (now >= 40000 && !first_after)
				first_after = now;
			trim_done(&t, now, now ? 620 * MiB : rss, 500 * MiB);
		}
	}
	cr_assert_eq(trims, 2, "the baseline and one after the wave: %d", trims);
	cr_assert_eq(first_after, 40000, "at the first quiet period");
}

/* What the 5,000-node benchmark found (session 16): a trim taken while a
 * wave's memory was still in use (2.6 GiB resident, 2.5 in use) set the
 * baseline; the wave freed 1.8 GiB, the resident set stayed at 3.1 GiB,
 * never a quarter above the baseline, and nothing was given back. The
 * slack (3.1 - 0.7 GiB) makes it due at the first look allowed; after
 * it, with the slack gone, none again. */
Test(trim, a_wave_freed_after_the_last_trim, .timeout = 10)
{
	sim s = { .t = { .started = true, .last_ms = 0, .rss = 2600 * MiB,
			 .slack = 100 * MiB } };

	run(&s, 30000, 120000, false, 3100 * MiB, 700 * MiB, 520 * MiB);
	cr_assert_eq(s.trims, 1, "%d trims", s.trims);
	cr_assert_eq(s.first, 30000);
	cr_assert_eq(s.t.slack, 0);
}

/* A trim that gives little back (the free pages are holes between used
 * ones) is not tried again and again: the slack it left is the new
 * baseline. */
Test(trim, a_futile_trim_is_not_repeated, .timeout = 10)
{
	sim s = { .t = { .started = true, .last_ms = 0, .rss = 1000 * MiB,
			 .slack = 0 } };

	run(&s, 20000, 300000, false, 1000 * MiB, 600 * MiB, 990 * MiB);
	cr_assert_eq(s.trims, 1, "one trim, not one every %d s: %d", TRIM_MIN_MS / 1000,
		     s.trims);
}
