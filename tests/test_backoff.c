/*
 * test_backoff.c - backoff_delay_ms / backoff_next_streak: the default
 * sequence (0, 2000, 4000, ... capped at 30000), custom factors and caps,
 * disabled backoff, huge streaks (no overflow, no endless loop), and the
 * streak bookkeeping (reset after a healthy run, saturation).
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <time.h>

#include "backoff.h"

static rs_backoff defaults(void)
{
	rs_backoff b = {
		.initial_ms = RS_DEF_BACKOFF_INITIAL,
		.factor = RS_DEF_BACKOFF_FACTOR,
		.max_ms = RS_DEF_BACKOFF_MAX,
		.reset_ms = RS_DEF_BACKOFF_RESET,
		.disabled = false,
	};
	return b;
}

static rs_backoff custom(uint32_t initial, uint32_t factor, uint32_t max)
{
	rs_backoff b = defaults();

	b.initial_ms = initial;
	b.factor = factor;
	b.max_ms = max;
	return b;
}

static void expect_seq(const rs_backoff *b, const uint32_t *want, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cr_expect_eq(backoff_delay_ms(b, (uint32_t)i), want[i],
			     "streak %zu: delay %u, want %u", i,
			     backoff_delay_ms(b, (uint32_t)i), want[i]);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---------- backoff_delay_ms ---------- */

Test(backoff, defaults_sequence, .timeout = 10)
{
	rs_backoff b = defaults();
	const uint32_t want[] = {
		0, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000, 30000,
		30000,
	};

	expect_seq(&b, want, sizeof want / sizeof want[0]);
}

Test(backoff, first_restart_immediate_whatever_the_settings, .timeout = 10)
{
	rs_backoff b = custom(5000, 7, 99999);

	cr_expect_eq(backoff_delay_ms(&b, 0), 0);
	b = custom(0, 1, 0);
	cr_expect_eq(backoff_delay_ms(&b, 0), 0);
}

Test(backoff, custom_factor3_initial100_max1000, .timeout = 10)
{
	rs_backoff b = custom(100, 3, 1000);
	const uint32_t want[] = {
		0, 100, 300, 900, 1000, 1000, 1000, 1000, 1000, 1000, 1000,
	};

	expect_seq(&b, want, sizeof want / sizeof want[0]);
}

Test(backoff, factor1_is_constant, .timeout = 10)
{
	rs_backoff b = custom(500, 1, 30000);
	const uint32_t want[] = {
		0, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500,
	};

	expect_seq(&b, want, sizeof want / sizeof want[0]);
}

/* validate rejects factor 0, but the function treats it as 1 rather than
 * collapsing every delay to 0. */
Test(backoff, factor0_behaves_like_1, .timeout = 10)
{
	rs_backoff b = custom(500, 0, 30000);

	cr_expect_eq(backoff_delay_ms(&b, 1), 500);
	cr_expect_eq(backoff_delay_ms(&b, 2), 500);
	cr_expect_eq(backoff_delay_ms(&b, 10), 500);
}

Test(backoff, max_equals_initial, .timeout = 10)
{
	rs_backoff b = custom(2000, 2, 2000);
	const uint32_t want[] = {
		0, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000,
	};

	expect_seq(&b, want, sizeof want / sizeof want[0]);
}

/* Not a valid spec, but the cap must win over the initial delay. */
Test(backoff, cap_wins_over_initial, .timeout = 10)
{
	rs_backoff b = custom(5000, 2, 1000);

	cr_expect_eq(backoff_delay_ms(&b, 0), 0);
	cr_expect_eq(backoff_delay_ms(&b, 1), 1000);
	cr_expect_eq(backoff_delay_ms(&b, 5), 1000);
}

Test(backoff, disabled_always_zero, .timeout = 10)
{
	rs_backoff b = defaults();

	b.disabled = true;
	for (uint32_t s = 0; s <= 100; s++)
		cr_expect_eq(backoff_delay_ms(&b, s), 0, "streak %u", s);
	cr_expect_eq(backoff_delay_ms(&b, UINT32_MAX), 0);
}

Test(backoff, huge_streak_caps_defaults, .timeout = 10)
{
	rs_backoff b = defaults();

	cr_expect_eq(backoff_delay_ms(&b, UINT32_MAX), RS_DEF_BACKOFF_MAX);
	cr_expect_eq(backoff_delay_ms(&b, UINT32_MAX - 1), RS_DEF_BACKOFF_MAX);
	cr_expect_eq(backoff_delay_ms(&b, 1u << 31), RS_DEF_BACKOFF_MAX);
}

/* Products near 2^64 must not wrap: the result is the cap. */
Test(backoff, no_overflow_at_extremes, .timeout = 10)
{
	rs_backoff b = custom(UINT32_MAX - 1, UINT32_MAX, UINT32_MAX);

	cr_expect_eq(backoff_delay_ms(&b, 1), UINT32_MAX - 1);
	cr_expect_eq(backoff_delay_ms(&b, 2), UINT32_MAX);
	cr_expect_eq(backoff_delay_ms(&b, 3), UINT32_MAX);
	cr_expect_eq(backoff_delay_ms(&b, UINT32_MAX), UINT32_MAX);

	b = custom(1, 2, UINT32_MAX);
	cr_expect_eq(backoff_delay_ms(&b, 32), 1u << 31);
	cr_expect_eq(backoff_delay_ms(&b, 33), UINT32_MAX);
	cr_expect_eq(backoff_delay_ms(&b, 64), UINT32_MAX);
	cr_expect_eq(backoff_delay_ms(&b, UINT32_MAX), UINT32_MAX);

	b = custom(3, 1000, UINT32_MAX - 7);
	cr_expect_eq(backoff_delay_ms(&b, 4), 3000000000u);
	cr_expect_eq(backoff_delay_ms(&b, 5), UINT32_MAX - 7);
}

/*
 * A huge streak must cost about as much as a small one. With a factor of 1
 * (or an initial delay of 0) the delay never reaches the cap, so a loop that
 * only stops at the cap or at `streak` runs ~4e9 times.
 * BUG (if these fail): backoff_delay_ms is O(streak) when the cap is never
 * reached; ~6.5 s per call under ASan for factor 1 / streak UINT32_MAX.
 */
static void expect_fast(uint32_t initial, uint32_t factor, uint32_t max,
			uint32_t want)
{
	rs_backoff b = custom(initial, factor, max);
	double t0 = now_s();
	uint32_t d = backoff_delay_ms(&b, UINT32_MAX);
	double dt = now_s() - t0;

	cr_expect_eq(d, want, "delay %u, want %u", d, want);
	cr_expect_lt(dt, 0.5, "backoff_delay_ms(UINT32_MAX) took %.2f s "
		     "(linear in streak)", dt);
}

Test(backoff, huge_streak_fast_factor1, .timeout = 10)
{
	expect_fast(500, 1, 30000, 500);   /* stays at initial */
}

Test(backoff, huge_streak_fast_initial0, .timeout = 10)
{
	expect_fast(0, 2, 30000, 0);       /* stays 0 */
}

/* ---------- backoff_next_streak ---------- */

Test(backoff, next_streak_counts_up, .timeout = 10)
{
	rs_backoff b = defaults();

	cr_expect_eq(backoff_next_streak(&b, 0, 0), 1);
	cr_expect_eq(backoff_next_streak(&b, 1, 1000), 2);
	cr_expect_eq(backoff_next_streak(&b, 5, 59999), 6);
}

/*
 * After a healthy run (uptime >= reset_ms) the failure that just happened is
 * the first of a new streak: the result must be the same as for a fresh
 * streak (next_streak(0, short) == 1), so the caller's delay(streak - 1)
 * restarts at once. Returning 0 makes rproc compute delay(UINT32_MAX), the
 * cap. (BUG if this fails: backoff_next_streak returns 0 on reset.)
 */
Test(backoff, next_streak_resets_after_healthy_run, .timeout = 10)
{
	rs_backoff b = defaults();
	uint32_t fresh = backoff_next_streak(&b, 0, 0);

	cr_expect_eq(backoff_next_streak(&b, 5, RS_DEF_BACKOFF_RESET), fresh,
		     "uptime == reset_ms resets the streak");
	cr_expect_eq(backoff_next_streak(&b, 5, RS_DEF_BACKOFF_RESET + 1),
		     fresh);
	cr_expect_eq(backoff_next_streak(&b, UINT32_MAX, UINT64_MAX), fresh);
	cr_expect_eq(backoff_delay_ms(&b,
		     backoff_next_streak(&b, 9, RS_DEF_BACKOFF_RESET) - 1), 0,
		     "a reset streak restarts at once");
}

Test(backoff, next_streak_no_reset_when_reset_ms_zero, .timeout = 10)
{
	rs_backoff b = defaults();

	b.reset_ms = 0;
	cr_expect_eq(backoff_next_streak(&b, 0, 0), 1);
	cr_expect_eq(backoff_next_streak(&b, 5, 0), 6);
	cr_expect_eq(backoff_next_streak(&b, 5, 1000000), 6);
	cr_expect_eq(backoff_next_streak(&b, 5, UINT64_MAX), 6);
}

Test(backoff, next_streak_saturates, .timeout = 10)
{
	rs_backoff b = defaults();

	cr_expect_eq(backoff_next_streak(&b, UINT32_MAX - 1, 0), UINT32_MAX);
	cr_expect_eq(backoff_next_streak(&b, UINT32_MAX, 0), UINT32_MAX);
	b.reset_ms = 0;
	cr_expect_eq(backoff_next_streak(&b, UINT32_MAX, UINT64_MAX),
		     UINT32_MAX);
}

/* ---------- knock_next_ms: the agent's Hellos until welcomed ---------- */

Test(knock, every_delay_within_base_and_three_times_the_last_and_the_cap, .timeout = 10)
{
	for (uint64_t seed = 0; seed < 1000; seed++) {
		knock k;
		uint32_t prev = KNOCK_BASE_MS;

		knock_init(&k, KNOCK_BASE_MS, KNOCK_CAP_MS, seed);
		for (int i = 0; i < 40; i++) {
			uint32_t d = knock_next_ms(&k);
			uint32_t hi = prev * 3 < KNOCK_CAP_MS ? prev * 3 : KNOCK_CAP_MS;

			cr_assert(d >= KNOCK_BASE_MS && d <= hi,
				  "seed %llu step %d: %u not in [%u, %u]",
				  (unsigned long long)seed, i, d, KNOCK_BASE_MS, hi);
			prev = d;
		}
	}
}

Test(knock, jitter_spreads_the_first_knock_over_its_whole_range, .timeout = 10)
{
	uint32_t lo = UINT32_MAX, hi = 0;
	unsigned low_half = 0;

	/* 5,000 agents with their own seeds: their first knocks after a
	 * Hello are not one instant but spread over [100, 300] ms */
	for (uint64_t seed = 1; seed <= 5000; seed++) {
		knock k;
		uint32_t d;

		knock_init(&k, KNOCK_BASE_MS, KNOCK_CAP_MS, seed * 0x9e3779b9ull);
		d = knock_next_ms(&k);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
		low_half += d < 200;
	}
	cr_expect(lo <= 105, "the earliest first knock is %u ms", lo);
	cr_expect(hi >= 295, "the latest first knock is %u ms", hi);
	cr_expect(low_half > 2000 && low_half < 3000,
		  "%u of 5000 first knocks under 200 ms: not uniform", low_half);
}

Test(knock, reaches_the_cap_and_never_passes_it, .timeout = 10)
{
	knock k;
	uint32_t most = 0;

	knock_init(&k, KNOCK_BASE_MS, KNOCK_CAP_MS, 42);
	for (int i = 0; i < 10000; i++) {
		uint32_t d = knock_next_ms(&k);

		cr_assert_leq(d, KNOCK_CAP_MS);
		most = d > most ? d : most;
	}
	cr_expect_geq(most, KNOCK_CAP_MS * 9 / 10, "never came near the cap: %u", most);
}

Test(knock, a_seed_is_a_schedule, .timeout = 10)
{
	knock a, b, c;
	bool differ = false;

	knock_init(&a, KNOCK_BASE_MS, KNOCK_CAP_MS, 7);
	knock_init(&b, KNOCK_BASE_MS, KNOCK_CAP_MS, 7);
	knock_init(&c, KNOCK_BASE_MS, KNOCK_CAP_MS, 8);
	for (int i = 0; i < 50; i++) {
		uint32_t x = knock_next_ms(&a);

		cr_assert_eq(x, knock_next_ms(&b), "step %d", i);
		differ |= x != knock_next_ms(&c);
	}
	cr_expect(differ, "seeds 7 and 8 gave the same 50 delays");
}

Test(knock, reset_starts_from_base_again, .timeout = 10)
{
	knock k;

	knock_init(&k, KNOCK_BASE_MS, KNOCK_CAP_MS, 3);
	for (int i = 0; i < 30; i++)
		knock_next_ms(&k);
	for (int round = 0; round < 100; round++) {
		knock_reset(&k);
		cr_assert_leq(knock_next_ms(&k), 3 * KNOCK_BASE_MS, "round %d", round);
		for (int i = 0; i < 10; i++)
			knock_next_ms(&k);
	}
}

Test(knock, odd_settings, .timeout = 10)
{
	knock k;

	knock_init(&k, 0, 0, 1);            /* base 0 is 1, cap below base is base */
	for (int i = 0; i < 100; i++)
		cr_assert_eq(knock_next_ms(&k), 1);
	knock_init(&k, 500, 200, 1);        /* cap below base: constant base */
	for (int i = 0; i < 100; i++)
		cr_assert_eq(knock_next_ms(&k), 500);
	knock_init(&k, UINT32_MAX / 2, UINT32_MAX, 1);   /* no overflow */
	for (int i = 0; i < 100; i++)
		cr_assert_geq(knock_next_ms(&k), UINT32_MAX / 2);
}

/* 5,000 agents lose rsd at the same instant and rsd welcomes none of
 * them for 10 s (the worst case): how many Hellos does rsd receive?
 * With the old fixed 100 ms knock, 500,000 (50,000 a second); the
 * schedule must cut that at least fivefold overall and to at most 1.5
 * Hellos per agent and second once at the cap (measured: ~74,000, and
 * ~6,000 a second from the fourth second), and still give every agent a
 * knock in every cap-long window (so that a Welcome comes at most a cap
 * after rsd can answer). */
Test(knock, five_thousand_agents_knock_far_less, .timeout = 30)
{
	const unsigned agents = 5000;
	const uint64_t horizon = 10000;
	uint64_t hellos = 0, per_s[10] = { 0 };

	for (unsigned a = 0; a < agents; a++) {
		knock k;
		uint64_t t = 0, last = 0;

		knock_init(&k, KNOCK_BASE_MS, KNOCK_CAP_MS, 0x5eed0000ull + a);
		while (t < horizon) {
			hellos++;
			per_s[t / 1000]++;
			last = t;
			t += knock_next_ms(&k);
			cr_assert_leq(t - last, KNOCK_CAP_MS);
		}
	}
	cr_log_info("5,000 agents unwelcomed for 10 s: %llu Hellos (fixed 100 ms: "
		    "500,000); per second: %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
		    (unsigned long long)hellos, (unsigned long long)per_s[0],
		    (unsigned long long)per_s[1], (unsigned long long)per_s[2],
		    (unsigned long long)per_s[3], (unsigned long long)per_s[4],
		    (unsigned long long)per_s[5], (unsigned long long)per_s[6],
		    (unsigned long long)per_s[7], (unsigned long long)per_s[8],
		    (unsigned long long)per_s[9]);
	cr_expect_leq(hellos, agents * horizon / 100 / 5, "%llu Hellos",
		      (unsigned long long)hellos);
	for (int i = 3; i < 10; i++)
		cr_expect_leq(per_s[i], agents * 3 / 2, "second %d: %llu Hellos", i,
			      (unsigned long long)per_s[i]);
}
