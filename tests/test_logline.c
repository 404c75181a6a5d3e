/*
 * test_logline.c - the stored line's prefix (lib/logline.c: RFC 3339
 * times both ways, the calendar at its edges, what parses as stamped and
 * what does not) and rsctl's printing of stored lines (ctl/logview.c:
 * the text, --timestamps, the restart separator, the line limit).
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "logline.h"
#include "logview.h"

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

/* Runs logview_write over data; returns stdout, *err gets stderr (both
 * malloc'ed). */
static char *view(logview *v, const char *data, bool stamped, char **err)
{
	char *o = NULL, *e = NULL;
	size_t ol = 0, el = 0;
	FILE *out = open_memstream(&o, &ol), *ef = open_memstream(&e, &el);

	cr_assert_eq(logview_write(v, data, strlen(data), stamped, out, ef), 0);
	fclose(out);
	fclose(ef);
	*err = e;
	return o;
}

static const char stored[] =
	"2026-12-06T03:59:17.309Z [10] one\n"
	"2026-12-06T03:59:17.400Z [10] two\n"
	"old unstamped\n"
	"2026-12-06T03:59:18.000Z [12] three\n";

Test(logview, text_timestamps_and_separators, .timeout = 10)
{
	logview v = { .label = "web", .instance = 3 };
	char *out, *err;

	out = view(&v, stored, true, &err);
	cr_assert_str_eq(out, "one\ntwo\nold unstamped\nthree\n");
	cr_assert_str_eq(err, "", "no separator without -f");
	cr_assert_eq(v.lines, 4);
	free(out), free(err);

	v = (logview){ .label = "web", .instance = 3, .timestamps = true,
		       .separators = true };
	out = view(&v, stored, true, &err);
	cr_assert_str_eq(out, "2026-12-06T03:59:17.309Z one\n2026-12-06T03:59:17.400Z two\n"
			 "old unstamped\n2026-12-06T03:59:18.000Z three\n");
	cr_assert_str_eq(err, "--- web/3 restarted: pid 10 -> 12 ---\n");
	cr_assert_eq(v.pid, 12);
	free(out), free(err);
}

Test(logview, process_change_without_lines, .timeout = 10)
{
	logview v = { .label = "web", .instance = 3, .separators = true };
	char *o = NULL, *e = NULL;
	size_t ol = 0, el = 0;
	FILE *out = open_memstream(&o, &ol), *err = open_memstream(&e, &el);

	logview_process(&v, 0, out, err);      /* none: nothing */
	logview_process(&v, 20, out, err);     /* the first: nothing */
	logview_process(&v, 20, out, err);
	logview_process(&v, 21, out, err);     /* restarted, silent so far */
	cr_assert_eq(logview_write(&v, "2026-12-06T03:59:18.000Z [21] up\n", 33,
				   true, out, err), 0);
	fclose(out);
	fclose(err);
	cr_assert_str_eq(o, "up\n");
	cr_assert_str_eq(e, "--- web/3 restarted: pid 20 -> 21 ---\n");
	free(o), free(e);
}

Test(logview, stops_at_max_lines, .timeout = 10)
{
	logview v = { .label = "web", .max = 2 };
	char *out, *err;

	out = view(&v, stored, true, &err);
	cr_assert_str_eq(out, "one\ntwo\n");
	cr_assert_eq(v.lines, 2);
	free(out), free(err);
	/* plain text (an older agent) prints as it came */
	v = (logview){ .label = "web" };
	out = view(&v, "a\nb\n", false, &err);
	cr_assert_str_eq(out, "a\nb\n");
	cr_assert_eq(v.lines, 2);
	free(out), free(err);
}

Test(logview, separator_text, .timeout = 10)
{
	char buf[128];

	logview_separator(buf, sizeof buf, "web", 1, 1234, 1240);
	cr_assert_str_eq(buf, "--- web/1 restarted: pid 1234 -> 1240 ---");
}
