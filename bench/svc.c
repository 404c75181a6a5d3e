/*
 * svc - the test service of rs's benchmarks (bench/restart.py, bench/memory.py).
 *
 *   BENCH_STAMP=FIFO   write "S <pid> <CLOCK_MONOTONIC ns>\n" to FIFO on start
 *                      (one write(), so concurrent stamps never interleave)
 *   BENCH_READY=1      then send "READY=1" to $NOTIFY_SOCKET (AF_UNIX dgram)
 *   BENCH_CRASH_MS=N   then, after N ms, write "X <pid> <ns>\n" and _exit(1)
 *
 * Otherwise it pauses forever. Arguments are ignored (a label such as
 * "--name svc001" can be passed to tell the processes apart in ps).
 * Build: gcc -O2 -static -o svc svc.c
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static void stamp(const char *fifo, char kind, const struct timespec *ts)
{
	char line[64];
	int n, fd;

	if (!fifo || !*fifo)
		return;
	n = snprintf(line, sizeof line, "%c %ld %lld\n", kind, (long)getpid(),
		     (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec);
	fd = open(fifo, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, line, (size_t)n) != n)
			_exit(3);
		close(fd);
	}
}

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

int main(void)
{
	struct timespec t0, t1;
	const char *fifo, *ready, *crash;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	fifo = getenv("BENCH_STAMP");
	stamp(fifo, 'S', &t0);

	ready = getenv("BENCH_READY");
	if (ready && !strcmp(ready, "1"))
		notify_ready();

	crash = getenv("BENCH_CRASH_MS");
	if (crash && atol(crash) > 0) {
		long ms = atol(crash);
		struct timespec d = { ms / 1000, (ms % 1000) * 1000000L };

		while (nanosleep(&d, &d) < 0)
			;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		stamp(fifo, 'X', &t1);
		_exit(1);
	}
	for (;;)
		pause();
}
