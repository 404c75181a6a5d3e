/*
 * helpers.h - what the test services (notifysvc, sockserv) share: number
 * arguments, the monotonic clock and an sd_notify sender. Plain C and libc
 * only, header-only: each helper stays one self-contained program that
 * stands for any service, not for rs.
 */
#ifndef RS_TEST_HELPERS_H
#define RS_TEST_HELPERS_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* The number in s, in [min, max]; a missing or bad one ends prog with
 * exit code 2 (usage). */
static inline long helper_num(const char *prog, const char *s, long min, long max)
{
	char *end;
	long v;

	if (!s) {
		fprintf(stderr, "%s: a number is missing\n", prog);
		exit(2);
	}
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "%s: bad number '%s'\n", prog, s);
		exit(2);
	}
	return v;
}

static inline int64_t helper_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sends msg as one datagram to $NOTIFY_SOCKET (a path, or '@' for the
 * abstract namespace), with fd (>= 0) as SCM_RIGHTS. Returns 0, or -1
 * with the reason on stderr; no NOTIFY_SOCKET is not an error. */
static inline int helper_notify_fd(const char *prog, const char *msg, int fd)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = strlen(msg) };
	struct msghdr mh = { .msg_name = &sa, .msg_iov = &iov, .msg_iovlen = 1 };
	size_t plen;
	ssize_t n;
	int s;

	if (!path || !*path)
		return 0;
	plen = strlen(path);
	if (plen >= sizeof sa.sun_path || (path[0] != '/' && path[0] != '@')) {
		fprintf(stderr, "%s: NOTIFY_SOCKET '%s' is not a socket path\n", prog, path);
		return -1;
	}
	memcpy(sa.sun_path, path, plen);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	mh.msg_namelen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen +
				     (path[0] == '/'));
	if (fd >= 0) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof ctl);
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof ctl.buf;
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof fd);
	}
	s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0) {
		fprintf(stderr, "%s: notify socket: %s\n", prog, strerror(errno));
		return -1;
	}
	do
		n = sendmsg(s, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		fprintf(stderr, "%s: cannot notify %s: %s\n", prog, path, strerror(errno));
	close(s);
	return n < 0 ? -1 : 0;
}

#endif
