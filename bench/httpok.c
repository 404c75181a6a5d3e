/*
 * httpok - the HTTP server behind bench/probes_load.py's probes: one
 * process, epoll, non-blocking. Every request on a connection gets
 * "HTTP/1.1 200 OK" with an empty body and the connection is closed (rs's
 * probes never reuse one). Prints "PORT\n" on stdout once it listens on
 * 127.0.0.1:PORT (0: the OS picks).
 *
 *   httpok [PORT]
 *
 * Build: gcc -O2 -o httpok httpok.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static const char reply[] =
	"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof sa;
	struct epoll_event ev, evs[256];
	int one = 1, ls, ep;

	sa.sin_port = htons(argc > 1 ? (uint16_t)atoi(argv[1]) : 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(ls, SOMAXCONN) < 0 ||
	    getsockname(ls, (struct sockaddr *)&sa, &len) < 0) {
		perror("httpok: listen");
		return 1;
	}
	printf("%d\n", ntohs(sa.sin_port));
	fflush(stdout);
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return 1;
	ev = (struct epoll_event){ .events = EPOLLIN, .data.fd = ls };
	epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);

		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			char buf[4096];
			ssize_t r;

			if (fd == ls) {
				int c;
				while ((c = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					ev = (struct epoll_event){ .events = EPOLLIN, .data.fd = c };
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
				}
				continue;
			}
			r = read(fd, buf, sizeof buf);
			if (r < 0 && errno == EAGAIN)
				continue;
			/* a request's first bytes (a GET fits one read): answer */
			if (r > 0)   /* a client gone away: nothing to do */
				(void)!write(fd, reply, sizeof reply - 1);
			close(fd);
		}
	}
}
