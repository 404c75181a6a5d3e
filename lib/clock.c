#include "clock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t clock_read_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t clock_mono_ns(void) { return clock_read_ns(CLOCK_MONOTONIC); }
uint64_t clock_mono_ms(void) { return clock_read_ns(CLOCK_MONOTONIC) / 1000000ull; }
uint64_t clock_wall_ms(void) { return clock_read_ns(CLOCK_REALTIME) / 1000000ull; }

int clock_parse_duration(const char *s, uint64_t *ms)
{
	static const char units[] = "smhd";
	static const double unit_ms[] = { 1e3, 60e3, 3600e3, 86400e3 };
	const char *u;
	char *end;
	double n;

	if (!s)
		return -EINVAL;
	if (strcmp(s, "0") == 0) {
		*ms = 0;
		return 0;
	}
	/* digits and dots, then the unit: no sign, exponent, hex or space */
	if (!*s || strspn(s, "0123456789.") != strlen(s) - 1)
		return -EINVAL;
	errno = 0;
	n = strtod(s, &end);
	if (errno || end == s || !end[0] || end[1] || !(u = strchr(units, end[0])))
		return -EINVAL;
	n = n * unit_ms[u - units] + 0.5;
	if (n >= 9007199254740992.0)   /* 2^53: exact in a double */
		return -EINVAL;
	*ms = (uint64_t)n;
	return 0;
}
