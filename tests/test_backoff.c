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
