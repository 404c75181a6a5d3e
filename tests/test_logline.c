/*
 * test_logline.c - the stored line's prefix (lib/logline.c: RFC 3339
 * times both ways, the calendar at its edges, what parses as stamped and
 * what does not).
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "logline.h"

Test(logline, time_formats_rfc3339_utc_ms, .timeout = 10)
{
	char buf[LOGLINE_TIME_LEN + 1];

	logline_time(buf, 0);
	cr_assert_str_eq(buf, "1970-01-01T00:00:00.000Z");
	logline_time(buf, 1796529557309ull);
	cr_assert_str_eq(buf, "2026-12-06T03:59:17.309Z");
	/* a leap day, the last ms of a year */
	logline_time(buf, 951782400000ull + 86399999ull);
	cr_assert_str_eq(buf, "2000-02-29T23:59:59.999Z");
	logline_time(buf, UINT64_MAX);
	cr_assert_str_eq(buf, "9999-12-31T23:59:59.999Z");
}

/* logline_time agrees with gmtime_r every few days for 130 years, and
 * parses back to the same ms. */
Test(logline, time_round_trips_against_gmtime, .timeout = 10)
{
	for (uint64_t s = 0; s < 4102444800ull; s += 86400 * 3 + 3661) {
		char buf[LOGLINE_TIME_LEN + 1], want[64];
		time_t t = (time_t)s;
		struct tm tm;
		uint64_t ms;

		gmtime_r(&t, &tm);
		strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%S.042Z", &tm);
		logline_time(buf, s * 1000 + 42);
		cr_assert_str_eq(buf, want);
		cr_assert_eq(logline_parse_time(buf, strlen(buf), &ms), 0);
		cr_assert_eq(ms, s * 1000 + 42);
	}
}

Test(logline, parse_time_refuses_what_is_not_one, .timeout = 10)
{
	static const char *const bad[] = {
		"", "2026-12-06", "2026-12-06T03:59:17", "2026-12-06T03:59:17.1Z",
		"2026-13-06T03:59:17Z", "2026-02-30T03:59:17Z", "2026-12-06T24:00:00Z",
		"2026-12-06 03:59:17Z", "1969-12-31T23:59:59Z", "2026-12-06T03:59:17.309",
		"2026-12-06T03:59:17.309Zx", "2026-1x-06T03:59:17Z",
	};
	uint64_t ms;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert_eq(logline_parse_time(bad[i], strlen(bad[i]), &ms), -EINVAL,
			     "'%s'", bad[i]);
	cr_assert_eq(logline_parse_time("2026-12-06T03:59:17Z", 20, &ms), 0);
	cr_assert_eq(ms, 1796529557000ull);
}

Test(logline, prefix_parses_back, .timeout = 10)
{
	char line[256];
	size_t n = logline_prefix(line, 1796529557309ull, 1240);
	logline l;

	cr_assert_str_eq(line, "2026-12-06T03:59:17.309Z [1240] ");
	cr_assert_eq(n, strlen(line));
	strcat(line, "hello [world]");
	cr_assert(logline_parse(line, strlen(line), &l));
	cr_assert(l.stamped);
	cr_assert_eq(l.ms, 1796529557309ull);
	cr_assert_eq(l.pid, 1240);
	cr_assert_str_eq(line + l.text, "hello [world]");
	/* an empty line keeps its prefix */
	n = logline_prefix(line, 0, 1);
	cr_assert(logline_parse(line, n, &l));
	cr_assert_eq(l.text, n);
}

Test(logline, unstamped_lines_are_all_text, .timeout = 10)
{
	static const char *const plain[] = {
		"", "hello", "2026-12-06T03:59:17.309Z hello",
		"2026-12-06T03:59:17.309Z [] x", "2026-12-06T03:59:17.309Z [12x] x",
		"2026-12-06T03:59:17.309Z [12]x", "2026-12-06T03:59:17.309Z [12]",
		"2026-12-06T03:59:17.309Z [99999999999] x", "xxxx-12-06T03:59:17.309Z [1] x",
	};
	logline l;

	for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
		cr_assert_not(logline_parse(plain[i], strlen(plain[i]), &l), "'%s'", plain[i]);
		cr_assert_eq(l.text, 0);
		cr_assert_eq(l.pid, 0);
		cr_assert_eq(l.ms, 0);
	}
}
