/*
 * logline.c - the stored line's prefix (logline.h). The calendar is
 * computed here (days from 1970-01-01 to a civil date and back, proleptic
 * Gregorian) rather than with gmtime_r/timegm: the keeper stamps every
 * line it writes, the agent parses every line it filters, and neither
 * needs the C library's time zone machinery for UTC.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "logline.h"

/* The civil date of day z since 1970-01-01 (z >= 0). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era, yy;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = z / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	yy = (int64_t)yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = yy + (*m <= 2);
}

/* Days since 1970-01-01 of a civil date (y >= 1970). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = y / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

void logline_time(char *buf, uint64_t wall_ms)
{
	/* 9999-12-31T23:59:59.999Z */
	const uint64_t max_ms = 253402300799999ull;
	uint64_t ms = wall_ms > max_ms ? max_ms : wall_ms;
	uint64_t s = ms / 1000;
	unsigned sod = (unsigned)(s % 86400), m, d;
	int64_t y;

	char tmp[64];   /* the compiler cannot see that every field fits */

	civil_from_days((int64_t)(s / 86400), &y, &m, &d);
	snprintf(tmp, sizeof tmp, "%04d-%02u-%02uT%02u:%02u:%02u.%03uZ",
		 (int)y, m, d, sod / 3600, sod / 60 % 60, sod % 60,
		 (unsigned)(ms % 1000));
	memcpy(buf, tmp, LOGLINE_TIME_LEN);   /* exactly that long: ms is clamped */
	buf[LOGLINE_TIME_LEN] = '\0';
}

size_t logline_prefix(char *buf, uint64_t wall_ms, int32_t pid)
{
	int n;

	logline_time(buf, wall_ms);
	n = snprintf(buf + LOGLINE_TIME_LEN, LOGLINE_PREFIX_MAX - LOGLINE_TIME_LEN,
		     " [%d] ", (int)pid);
	return LOGLINE_TIME_LEN + (size_t)(n > 0 ? n : 0);
}

/* n digits at p as a number, or -1. */
static int64_t digits(const char *p, size_t n)
{
	int64_t v = 0;

	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

static const unsigned mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

int logline_parse_time(const char *s, size_t n, uint64_t *ms)
{
	int64_t y, mo, d, h, mi, se, frac = 0;
	size_t end = 19;

	if (n < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':')
		return -EINVAL;
	y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
	h = digits(s + 11, 2), mi = digits(s + 14, 2), se = digits(s + 17, 2);
	if (s[19] == '.') {
		if (n < 24 || (frac = digits(s + 20, 3)) < 0)
			return -EINVAL;
		end = 23;
	}
	if (n != end + 1 || s[end] != 'Z')
		return -EINVAL;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || (unsigned)d > mdays[mo - 1] ||
	    h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 60)
		return -EINVAL;
	*ms = ((uint64_t)days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400u +
	       (uint64_t)(h * 3600 + mi * 60 + se)) * 1000u + (uint64_t)frac;
	return 0;
}

bool logline_parse(const char *p, size_t n, logline *out)
{
	size_t i = LOGLINE_TIME_LEN + 2;   /* past "TIME [" */
	int64_t pid = 0;

	memset(out, 0, sizeof *out);
	if (n < LOGLINE_TIME_LEN + 5 || p[LOGLINE_TIME_LEN] != ' ' ||
	    p[LOGLINE_TIME_LEN + 1] != '[' ||
	    logline_parse_time(p, LOGLINE_TIME_LEN, &out->ms) < 0) {
		out->ms = 0;
		return false;
	}
	while (i < n && i < LOGLINE_TIME_LEN + 2 + 10 && p[i] >= '0' && p[i] <= '9')
		pid = pid * 10 + (p[i++] - '0');
	if (i == LOGLINE_TIME_LEN + 2 || pid > INT32_MAX || i + 2 > n ||
	    p[i] != ']' || p[i + 1] != ' ') {
		out->ms = 0;
		return false;
	}
	out->stamped = true;
	out->pid = (int32_t)pid;
	out->text = i + 2;
	return true;
}
