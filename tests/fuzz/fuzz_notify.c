/*
 * fuzz_notify.c - libFuzzer target for notify_parse, the sd_notify
 * datagram parser (agent/notifymsg.c), with notify_value and
 * notify_fdname_valid on what it returns.
 *
 * Every line returned lies within the buffer, its key holds no '=' and
 * neither part a newline; a message with a NUL byte is refused.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keeper.h"
#include "notifymsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct notify_line lines[NOTIFY_LINES_MAX];
	char *buf = malloc(size + 1);
	const char *v;
	int n;

	if (!buf)
		abort();
	memcpy(buf, data, size);
	n = notify_parse(buf, size, lines, NOTIFY_LINES_MAX);
	if (n < 0) {
		if (n == -EBADMSG ? !memchr(data, '\0', size) :
		    n != -EMSGSIZE || size <= NOTIFY_MSG_MAX)
			abort();
		free(buf);
		return 0;
	}
	if (size > NOTIFY_MSG_MAX || memchr(data, '\0', size))
		abort();
	for (int i = 0; i < n; i++) {
		const char *k = lines[i].key, *val = lines[i].val;

		if (k < buf || val <= k || val > buf + size ||
		    strchr(k, '=') || strchr(k, '\n') || strchr(val, '\n') ||
		    val != k + strlen(k) + 1)
			abort();
	}
	v = notify_value(lines, n, "FDNAME");
	if (v && notify_fdname_valid(v) &&
	    (strlen(v) >= KEEPER_FDNAME_MAX || strchr(v, ':')))
		abort();
	free(buf);
	return 0;
}
