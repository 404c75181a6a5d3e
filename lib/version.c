/*
 * version.c - versions and the skew policy (version.h).
 */
#include "version.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef RS_VERSION
#define RS_VERSION "0.0.0"
#endif

const char *rs_version(void)
{
	return RS_VERSION;
}

/* One decimal part ending at *end (a '.' or the end). */
static int part(const char **p, char stop, uint32_t *out)
{
	uint32_t v = 0;
	int n = 0;

	while (isdigit((unsigned char)**p) && n < 6) {
		v = v * 10 + (uint32_t)(**p - '0');
		(*p)++;
		n++;
	}
	if (n == 0 || **p != stop)
		return -EINVAL;
	if (stop)
		(*p)++;
	*out = v;
	return 0;
}

int rs_semver_parse(const char *s, rs_semver *out)
{
	const char *p = s;

	if (!s || part(&p, '.', &out->major) < 0 || part(&p, '.', &out->minor) < 0 ||
	    part(&p, '\0', &out->patch) < 0)
		return -EINVAL;
	return 0;
}

rs_skew rs_skew_check(const char *self, const char *peer, const char *what,
		      char *why, size_t n)
{
	rs_semver s, p;
	long d;

	if (rs_semver_parse(self, &s) < 0) {
		snprintf(why, n, "rsd's own version '%s' is malformed", self);
		return RS_SKEW_UNKNOWN;
	}
	if (!peer || !*peer || rs_semver_parse(peer, &p) < 0) {
		snprintf(why, n, "%s announces no version (rs before 0.2.0?); rsd is "
			 "%s: upgrade %s to %u.%u", what, self, what, s.major, s.minor);
		return RS_SKEW_UNKNOWN;
	}
	d = (long)p.minor - (long)s.minor;
	if (p.major == s.major && d >= -RS_SKEW_MINOR && d <= RS_SKEW_MINOR)
		return RS_SKEW_OK;
	if (p.major < s.major || (p.major == s.major && d < 0)) {
		snprintf(why, n, "%s %s is too old for rsd %s (the policy: within %d "
			 "minor version of rsd, same major): upgrade %s to %u.%u first",
			 what, peer, self, RS_SKEW_MINOR, what, s.major, s.minor);
		return RS_SKEW_PEER_OLD;
	}
	snprintf(why, n, "%s %s is too new for rsd %s (the policy: within %d minor "
		 "version of rsd, same major): upgrade rsd first, one minor version "
		 "at a time", what, peer, self, RS_SKEW_MINOR);
	return RS_SKEW_PEER_NEW;
}
