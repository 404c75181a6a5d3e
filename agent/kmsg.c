/*
 * kmsg.c - one message of the keeper protocol (keeper.h) on a
 * SOCK_SEQPACKET socket: a fixed header, a length-checked payload and at
 * most one fd. Shared by the keeper and the engine.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "keeper.h"

int kmsg_send(int sock, const struct kmsg *h, const void *payload, int fd)
{
	struct iovec iov[2] = {
		{ (void *)h, sizeof *h },
		{ (void *)payload, h->len },
	};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = h->len ? 2 : 1 };
	ssize_t n;

	if (sizeof *h + h->len > KEEPER_MSG_MAX)
		return -EMSGSIZE;
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
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == sizeof *h + h->len ? 0 : -EMSGSIZE;
}

int kmsg_recv(int sock, uint8_t *buf, struct kmsg *h, const uint8_t **payload,
	      int *fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} ctl;
	struct iovec iov = { buf, KEEPER_MSG_MAX };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf,
	};
	int bad = 0;
	ssize_t n;

	*fd = -1;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (n == 0)
		return 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < nfd; i++) {
			int f;
			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof f);
			if (*fd < 0)
				*fd = f;
			else
				close(f), bad = 1;   /* one fd per message */
		}
	}
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		bad = 1;
	if ((size_t)n < sizeof *h)
		bad = 1;
	if (!bad) {
		memcpy(h, buf, sizeof *h);
		if (h->len != (size_t)n - sizeof *h)
			bad = 1;
		*payload = buf + sizeof *h;
	}
	if (bad) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		return -EBADMSG;
	}
	return 1;
}


int keeper_node_addr(const char *node, struct sockaddr_un *sa, socklen_t *len)
{
	const char *host = getenv("RS_TEST_HOST");
	int n;

	if (!node || !*node)
		return -EINVAL;
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	/* sun_path[0] stays NUL: an abstract name, no file, gone with the
	 * last fd of the socket (the keeper's) */
	if (host && *host)
		n = snprintf(sa->sun_path + 1, sizeof sa->sun_path - 1,
			     "rs-keeper/%s/node/%s", host, node);
	else
		n = snprintf(sa->sun_path + 1, sizeof sa->sun_path - 1,
			     "rs-keeper/node/%s", node);
	if (n < 0 || (size_t)n >= sizeof sa->sun_path - 1)
		return -ENAMETOOLONG;
	/* the name is exactly these bytes: no trailing NULs */
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
	return 0;
}

int keeper_node_socket(const char *node, struct sockaddr_un *sa, socklen_t *len)
{
	int fd, r = keeper_node_addr(node, sa, len);

	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	return fd < 0 ? -errno : fd;
}
