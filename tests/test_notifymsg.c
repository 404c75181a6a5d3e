/*
 * test_notifymsg.c - notify_parse, notify_value, notify_fdname_valid
 * (agent/notifymsg.c): lines split in place, empty and '='-less lines
 * skipped, a NUL byte or an oversized message refused, the first value
 * of a key wins, store names checked.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <string.h>

#include "notifymsg.h"

static struct notify_line lines[NOTIFY_LINES_MAX];
static char buf[NOTIFY_MSG_MAX + 2];

static int parse(const char *msg, size_t len)
{
	memcpy(buf, msg, len);
	return notify_parse(buf, len, lines, NOTIFY_LINES_MAX);
}

Test(notifymsg, lines_split, .timeout = 10)
{
	const char msg[] = "READY=1\n\nSTATUS=a=b\nnoequals\n=empty\nX=";
	int n = parse(msg, sizeof msg - 1);

	cr_assert_eq(n, 4);
	cr_assert_str_eq(lines[0].key, "READY");
	cr_assert_str_eq(lines[0].val, "1");
	cr_assert_str_eq(lines[1].key, "STATUS");
	cr_assert_str_eq(lines[1].val, "a=b");
	cr_assert_str_eq(lines[2].key, "");
	cr_assert_str_eq(lines[2].val, "empty");
	cr_assert_str_eq(lines[3].key, "X");
	cr_assert_str_eq(lines[3].val, "");
	cr_assert_eq(parse("", 0), 0);
	cr_assert_eq(parse("\n\n", 2), 0);
}

Test(notifymsg, nul_and_size_refused, .timeout = 10)
{
	static char big[NOTIFY_MSG_MAX + 1];
	int n;

	cr_assert_eq(parse("READY=1\0", 8), -EBADMSG);
	cr_assert_eq(parse("READY=1\0STATUS=x", 16), -EBADMSG);
	memset(big, '\n', sizeof big);
	cr_assert_eq(parse(big, sizeof big), -EMSGSIZE);
	/* the most lines a message can hold fit */
	for (size_t i = 0; i < NOTIFY_MSG_MAX; i += 2)
		big[i] = '=';
	n = parse(big, NOTIFY_MSG_MAX);
	cr_assert_eq(n, NOTIFY_MSG_MAX / 2);
	cr_assert_eq(notify_parse(buf, 0, lines, 0), 0);
	memcpy(buf, "A=1\nB=2", 7);
	cr_assert_eq(notify_parse(buf, 7, lines, 1), -E2BIG);
}

Test(notifymsg, first_value_wins, .timeout = 10)
{
	const char msg[] = "FDNAME=a\nFDSTORE=1\nFDNAME=b";
	int n = parse(msg, sizeof msg - 1);

	cr_assert_eq(n, 3);
	cr_assert_str_eq(notify_value(lines, n, "FDNAME"), "a");
	cr_assert_str_eq(notify_value(lines, n, "FDSTORE"), "1");
	cr_assert_null(notify_value(lines, n, "FDSTOREREMOVE"));
	cr_assert_null(notify_value(lines, n, "FDNAM"));
}

Test(notifymsg, fdname_valid, .timeout = 10)
{
	char longname[80];

	cr_assert(notify_fdname_valid("stored"));
	cr_assert(notify_fdname_valid("conn-1.x"));
	cr_assert_not(notify_fdname_valid(""));
	cr_assert_not(notify_fdname_valid("a:b"));
	cr_assert_not(notify_fdname_valid("a b"));
	cr_assert_not(notify_fdname_valid("a\x7f"));
	cr_assert_not(notify_fdname_valid("\xc3\xa9"));
	memset(longname, 'a', 64);
	longname[64] = '\0';
	cr_assert(notify_fdname_valid(longname));
	longname[64] = 'a';
	longname[65] = '\0';
	cr_assert_not(notify_fdname_valid(longname));
}
