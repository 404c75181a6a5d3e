/*
 * test_klog.c - the keeper's output capture (agent/klog.c) on real pipes
 * and files: lines stamped with the writer's pid, a partial line written
 * when its process is let go, long lines split at the line limit, the
 * rotation by rename keeping both files under the bound with no line lost,
 * and two processes sharing one log and its bound.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "klog.h"
#include "logline.h"

static char dir[] = "/tmp/rs-klog.XXXXXX";
static char path[PATH_MAX];

static void setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/w.1.log", dir);
}

static void teardown(void)
{
	char p[PATH_MAX + 8];

	klog_close_all();
	unlink(path);
	snprintf(p, sizeof p, "%s.1", path);
	unlink(p);
	rmdir(dir);
}

TestSuite(klog, .init = setup, .fini = teardown, .timeout = 10);

/* Reads every pipe until none has anything left. */
static void pump(void)
{
	for (;;) {
		struct pollfd pf[16];
		size_t n = klog_poll_fill(pf, 16);
		int r = poll(pf, (nfds_t)n, 0);

		if (r <= 0)
			return;
		klog_poll_done(pf, n);
	}
}

static void put(int fd, const char *s)
{
	cr_assert_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

/* The file's text, malloc'ed ("" if absent); *size its bytes. */
static char *slurp(const char *p, size_t *size)
{
	FILE *f = fopen(p, "r");
	char *buf = calloc(1, 1 << 20);
	size_t n = f ? fread(buf, 1, (1 << 20) - 1, f) : 0;

	if (f)
		fclose(f);
	buf[n] = '\0';
	if (size)
		*size = n;
	return buf;
}

/* Checks that text's lines are stamped with pid and their texts are
 * want[0..n-1]. */
static void assert_lines(const char *text, pid_t pid, const char *const *want, size_t n)
{
	const char *p = text;

	for (size_t i = 0; i < n; i++) {
		const char *nl = strchr(p, '\n');
		logline l;

		cr_assert(nl, "line %zu missing in '%s'", i, text);
		cr_assert(logline_parse(p, (size_t)(nl - p), &l), "not stamped: '%.*s'",
			  (int)(nl - p), p);
		cr_assert_eq(l.pid, pid);
		cr_assert_eq((size_t)(nl - p) - l.text, strlen(want[i]), "line %zu: '%.*s'",
			     i, (int)(nl - p), p);
		cr_assert_eq(memcmp(p + l.text, want[i], strlen(want[i])), 0);
		p = nl + 1;
	}
	cr_assert_str_eq(p, "", "more lines than %zu", n);
}

Test(klog, lines_stamped_and_partial_written_at_release)
{
	int wfd;
	struct klog_pipe *p = klog_pipe_new(path, 1 << 20, &wfd);
	const char *want2[] = { "a", "bb" }, *want3[] = { "a", "bb", "ccc" };
	char *s;

	cr_assert_not_null(p, "%s", strerror(errno));
	klog_pipe_set_pid(p, 42);
	put(wfd, "a\nbb\nccc");
	pump();
	s = slurp(path, NULL);
	assert_lines(s, 42, want2, 2);   /* ccc waits for its newline */
	free(s);
	close(wfd);
	klog_pipe_release(&p);
	cr_assert_null(p);
	s = slurp(path, NULL);
	assert_lines(s, 42, want3, 3);
	free(s);
}

Test(klog, long_lines_split_at_the_line_limit)
{
	int wfd;
	struct klog_pipe *p = klog_pipe_new(path, 4096, &wfd);   /* lines of 1024 */
	char line[3002], a[1025], b[953];
	const char *want[] = { a, a, b, "" };
	char *s;

	cr_assert_not_null(p);
	klog_pipe_set_pid(p, 7);
	memset(line, 'x', 3000);
	line[3000] = '\n';
	line[3001] = '\0';
	memset(a, 'x', 1024), a[1024] = '\0';
	memset(b, 'x', 952), b[952] = '\0';
	put(wfd, line);
	put(wfd, "\n");   /* an empty line stays a line */
	pump();
	close(wfd);
	klog_pipe_release(&p);
	s = slurp(path, NULL);
	assert_lines(s, 7, want, 4);
	free(s);
}

Test(klog, rotation_keeps_the_bound_and_every_line)
{
	char old[PATH_MAX + 8], line[64], *o, *c;
	size_t lo, lc;
	int wfd, next = -1;
	struct klog_pipe *p = klog_pipe_new(path, 4096, &wfd);

	cr_assert_not_null(p);
	klog_pipe_set_pid(p, 9);
	for (int i = 1; i <= 300; i++) {
		snprintf(line, sizeof line, "line %04d %s\n", i, "0123456789abcdef");
		put(wfd, line);
		if (i % 50 == 0)
			pump();
	}
	pump();
	snprintf(old, sizeof old, "%s.1", path);
	o = slurp(old, &lo);
	c = slurp(path, &lc);
	cr_assert_leq(lo, 4096);
	cr_assert_leq(lc, 4096);
	cr_assert_gt(lo, 4096 - 60, "LOG.1 was not filled: %zu", lo);
	for (const char *t = o; ; t = c) {
		for (const char *q = t; *q; q = strchr(q, '\n') + 1) {
			logline l;
			int k;
			cr_assert(logline_parse(q, (size_t)(strchr(q, '\n') - q), &l));
			cr_assert_eq(sscanf(q + l.text, "line %d", &k), 1);
			cr_assert(next < 0 || k == next, "line %d after %d", k, next - 1);
			next = k + 1;
		}
		if (t == c)
			break;
	}
	cr_assert_eq(next, 301);
	free(o), free(c);
	close(wfd);
	klog_pipe_release(&p);
}

/* A live update's two processes write one log: one bound, lines whole. */
Test(klog, two_pipes_share_one_log)
{
	char old[PATH_MAX + 8], *o, *c;
	size_t lo, lc, n1 = 0, n2 = 0;
	int w1, w2;
	struct klog_pipe *p1 = klog_pipe_new(path, 4096, &w1);
	struct klog_pipe *p2 = klog_pipe_new(path, 4096, &w2);

	cr_assert(p1 && p2);
	klog_pipe_set_pid(p1, 1), klog_pipe_set_pid(p2, 2);
	for (int i = 0; i < 100; i++) {
		put(w1, "from the old process\n");
		put(w2, "from the new one\n");
		if (i % 20 == 0)
			pump();
	}
	pump();
	close(w1), close(w2);
	klog_pipe_release(&p1);
	klog_pipe_release(&p2);
	snprintf(old, sizeof old, "%s.1", path);
	o = slurp(old, &lo);
	c = slurp(path, &lc);
	cr_assert_leq(lo, 4096);
	cr_assert_leq(lc, 4096);
	for (const char *t = c; *t; t = strchr(t, '\n') + 1) {
		logline l;
		cr_assert(logline_parse(t, (size_t)(strchr(t, '\n') - t), &l));
		if (l.pid == 1) {
			n1++;
			cr_assert_eq(strncmp(t + l.text, "from the old process\n", 21), 0);
		} else {
			n2++;
			cr_assert_eq(strncmp(t + l.text, "from the new one\n", 17), 0);
		}
	}
	cr_assert(n1 && n2);
	free(o), free(c);
}

Test(klog, a_log_that_cannot_be_opened_fails_the_pipe)
{
	int wfd = -1;
	char bad[PATH_MAX + 16];

	snprintf(bad, sizeof bad, "%s/no/such/dir.log", dir);
	cr_assert_null(klog_pipe_new(bad, 4096, &wfd));
	cr_assert_eq(errno, ENOENT);
	cr_assert_eq(klog_count(), 0);
}
