/*
 * tcpsvc - the "plain program" of bench/handover.py: a TCP service that
 * binds its own port, as a service does without socket activation.
 *
 *   tcpsvc [--graceful] PORT [VERSION]
 *
 * Binds 127.0.0.1:PORT (SO_REUSEADDR, so a restart is not kept off the
 * port by TIME_WAIT), listens (backlog SOMAXCONN), sends READY=1 to
 * $NOTIFY_SOCKET if set, then answers each connection with one line
 * "VERSION PID\n" (VERSION default v1) and closes it: the same answer as
 * tests/helpers/sockserv.c, so the client cannot tell them apart.
 *
 * If LISTEN_FDS=1 and LISTEN_PID is its pid (socket activation, rsctl up
 * --listen), it serves fd 3 instead and PORT is not bound (give "-").
 *
 * --graceful: SIGTERM/SIGINT are blocked except while it waits in ppoll(),
 * so a stop signal never ends it between accept() and the answer: a
 * connection it accepted is always answered (what a service has to do so
 * that `rsctl update` loses no request when it stops the old process).
 * Without it the default disposition applies, as in sockserv.
 *
 * Exits 1 if it cannot bind (another process holds the port), 2 on usage.
 * Build: gcc -O2 -o tcpsvc tcpsvc.c (dynamic, as sockserv is).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void notify_ready(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len;
	int fd;

	if (!path || !*path || (len = strlen(path)) >= sizeof sa.sun_path)
		return;
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	(void)sendto(fd, "READY=1", 7, MSG_NOSIGNAL, (struct sockaddr *)&sa,
		     (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
	close(fd);
}

static int listen_fd(const char *arg)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	const char *fds = getenv("LISTEN_FDS"), *pid = getenv("LISTEN_PID");
	long port;
	int lfd, one = 1;

	if (fds && pid && atol(fds) == 1 && atol(pid) == (long)getpid()) {
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_PID");
		unsetenv("LISTEN_FDNAMES");
		return 3;
	}
	port = strtol(arg, NULL, 10);
	if (port < 1 || port > 65535) {
		fprintf(stderr, "tcpsvc: no LISTEN_FDS for this process and no PORT\n");
		exit(2);
	}
	sa.sin_port = htons((unsigned short)port);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, SOMAXCONN) < 0) {
		fprintf(stderr, "tcpsvc: 127.0.0.1:%ld: %s\n", port, strerror(errno));
		exit(1);
	}
	return lfd;
}

int main(int argc, char **argv)
{
	bool graceful = argc > 1 && !strcmp(argv[1], "--graceful");
	const char *version;
	sigset_t stop, waitmask;
	char line[128];
	int lfd, len;

	if (graceful)
		argc--, argv++;
	if (argc < 2) {
		fprintf(stderr, "usage: tcpsvc [--graceful] PORT|- [VERSION]\n");
		return 2;
	}
	version = argc > 2 ? argv[2] : "v1";
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	if (graceful)
		sigprocmask(SIG_BLOCK, &stop, &waitmask);   /* waitmask: the old one */
	lfd = listen_fd(argv[1]);
	/* non-blocking: another process may take a connection first */
	if (fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK) < 0)
		return 1;
	notify_ready();
	len = snprintf(line, sizeof line, "%s %ld\n", version, (long)getpid());
	if (len < 0 || len >= (int)sizeof line)
		return 2;
	for (;;) {
		struct pollfd pf = { .fd = lfd, .events = POLLIN };
		int c;

		/* graceful: SIGTERM can only end it here, with no request in hand */
		if (graceful ? ppoll(&pf, 1, NULL, &waitmask) < 0 : poll(&pf, 1, -1) < 0)
			continue;
		c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;   /* EAGAIN (the other process took it), EINTR, ... */
		(void)send(c, line, (size_t)len, MSG_NOSIGNAL);
		close(c);
	}
}
