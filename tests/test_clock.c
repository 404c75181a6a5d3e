/*
 * test_clock.c - clock_parse_duration: the units, fractions, rounding, a
 * bare 0, and what it refuses (no unit, signs, exponents, hex, spaces,
 * huge values).
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdint.h>

#include "clock.h"

static uint64_t parse_ok(const char *s)
{
	uint64_t ms = 12345;
	int r = clock_parse_duration(s, &ms);

	cr_assert_eq(r, 0, "'%s': %d", s, r);
	return ms;
}

Test(clock, durations)
{
	cr_assert_eq(parse_ok("0"), 0);
	cr_assert_eq(parse_ok("0s"), 0);
	cr_assert_eq(parse_ok("90s"), 90000);
	cr_assert_eq(parse_ok("10m"), 600000);
	cr_assert_eq(parse_ok("2h"), 7200000);
	cr_assert_eq(parse_ok("7d"), 604800000);
	cr_assert_eq(parse_ok("1.5h"), 5400000);
	cr_assert_eq(parse_ok(".5s"), 500);
	cr_assert_eq(parse_ok("0.0004s"), 0);
	cr_assert_eq(parse_ok("0.0006s"), 1);
	cr_assert_eq(parse_ok("36500d"), 36500ull * 86400000);
}

Test(clock, durations_refused)
{
	static const char *const bad[] = {
		"", "s", ".s", "5", "10", "5x", "5ss", "5 s", " 5s", "-5s", "+5s",
		"1e3s", "0x10s", "1.2.3s", "inf", "nans", "5S", "9999999999999d",
	};
	uint64_t ms = 7;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert_eq(clock_parse_duration(bad[i], &ms), -EINVAL, "'%s'", bad[i]);
	cr_assert_eq(clock_parse_duration(NULL, &ms), -EINVAL);
	cr_assert_eq(ms, 7);
}
