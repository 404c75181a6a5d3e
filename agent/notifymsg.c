/*
 * notifymsg.c - split an sd_notify datagram into KEY=VALUE lines
 * (notifymsg.h).
 */
#include <errno.h>
#include <string.h>

#include "keeper.h"
#include "notifymsg.h"

int notify_parse(char *buf, size_t len, struct notify_line *lines, size_t max)
{
	size_t n = 0;
	char *p = buf, *end = buf + len;

	if (len > NOTIFY_MSG_MAX)
		return -EMSGSIZE;
	if (memchr(buf, '\0', len))
		return -EBADMSG;
	buf[len] = '\0';
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *eq;

		if (!nl)
			nl = end;
		*nl = '\0';
		eq = memchr(p, '=', (size_t)(nl - p));
		if (eq) {
			if (n == max)
				return -E2BIG;
			*eq = '\0';
			lines[n].key = p;
			lines[n].val = eq + 1;
			n++;
		}
		p = nl + 1;
	}
	return (int)n;
}

const char *notify_value(const struct notify_line *lines, int n, const char *key)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(lines[i].key, key))
			return lines[i].val;
	return NULL;
}

bool notify_fdname_valid(const char *s)
{
	if (!*s || strlen(s) >= KEEPER_FDNAME_MAX)
		return false;
	for (; *s; s++)
		if (*s == ':' || *s <= ' ' || *s > '~')
			return false;
	return true;
}
