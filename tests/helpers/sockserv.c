/*
 * sockserv - a socket-activated test service for live update.
 *
 *   sockserv [--version STR] [--listen-name NAME] [--exit-at-start CODE]
 *            [--no-ready] [--prepare | --never-prepared] [--counter]
 *
 * It serves one listening socket it was given the systemd way: LISTEN_FDS
 * fds from 3, for this process only if LISTEN_PID is its pid, named by the
 * colon-separated LISTEN_FDNAMES. Each accepted connection gets one line,
 * "STR PID\n" (with --counter "STR PID COUNT\n"), and is closed.
 *
 *   --version STR       the first word of each answer (default: v1)
 *   --listen-name NAME  serve the fd named NAME (default: the first one
 *                       not named "state")
 *   --exit-at-start N   exit with N at once (a new version that fails)
 *   --no-ready          never send READY=1
 *   --prepare           on SIGUSR1: with --counter, send
 *                       "FDSTORE=1\nFDNAME=state" with the counter's memfd,
 *                       then "X_RS_PREPARED=1"; it keeps serving (so a
 *                       rollback needs nothing from it)
 *   --never-prepared    ignore SIGUSR1 (a prepare that times out)
 *   --counter           count connections in a memfd: continue from the fd
 *                       named "state" if there is one, else create it and
 *                       send it with "FDSTORE=1\nFDNAME=state"
 *
 * It sends READY=1 once it serves, and WATCHDOG=1 every half WATCHDOG_USEC
 * when that is set (for it, if WATCHDOG_PID is set). Notify messages go to
 * $NOTIFY_SOCKET (a path, or '@' for the abstract namespace); fds ride
 * along as SCM_RIGHTS. Without NOTIFY_SOCKET nothing is sent.
 *
 * Exit codes: 1 = no usable socket or state, 2 = usage error. Otherwise it
 * runs until a signal ends it. Plain C and libc only: it stands for any
 * service, not for rs.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"

#define FDS_MAX   64
#define STATE_FD  "state"

struct opts {
	const char *version;
	const char *listen_name;   /* NULL: the first not named "state" */
	int         exit_at_start; /* -1: no */
	bool        no_ready;
	bool        prepare;
	bool        never_prepared;
	bool        counter;
	bool        forget_state;  /* FDSTOREREMOVE=1 the state once mapped */
};

/* What LISTEN_FDS gave us. */
struct passed {
	int   n;
	bool  foreign;            /* LISTEN_PID was another process's */
	char *names[FDS_MAX];     /* "" when LISTEN_FDNAMES has fewer */
};

static void usage(void)
{
	fputs("usage: sockserv [--version STR] [--listen-name NAME] "
	      "[--exit-at-start CODE] [--no-ready] [--prepare | --never-prepared] "
	      "[--counter [--forget-state]]\n", stderr);
	exit(2);
}

__attribute__((format(printf, 1, 2), noreturn))
static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("sockserv: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){ .version = "v1", .exit_at_start = -1 };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--version") && i + 1 < argc)
			o->version = argv[++i];
		else if (!strcmp(a, "--listen-name") && i + 1 < argc)
			o->listen_name = argv[++i];
		else if (!strcmp(a, "--exit-at-start"))
			o->exit_at_start = (int)helper_num("sockserv", i + 1 < argc ? argv[++i] : NULL, 0, 255);
		else if (!strcmp(a, "--no-ready"))
			o->no_ready = true;
		else if (!strcmp(a, "--prepare"))
			o->prepare = true;
		else if (!strcmp(a, "--never-prepared"))
			o->never_prepared = true;
		else if (!strcmp(a, "--counter"))
			o->counter = true;
		else if (!strcmp(a, "--forget-state"))
			o->forget_state = true;
		else
			usage();
	}
	if (o->prepare && o->never_prepared)
		usage();
}

static int notify_fd(const char *msg, int fd)
{
	return helper_notify_fd("sockserv", msg, fd);
}

static int notify(const char *msg)
{
	return notify_fd(msg, -1);
}

/* Takes LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES (then unsets them, so that
 * nothing this process starts mistakes them for its own). */
static void take_passed(struct passed *p)
{
	const char *fds = getenv("LISTEN_FDS"), *pid = getenv("LISTEN_PID");
	const char *names = getenv("LISTEN_FDNAMES");
	char *copy = NULL, *save = NULL, *tok;

	memset(p, 0, sizeof *p);
	if (fds && pid && helper_num("sockserv", pid, 1, INT32_MAX) == (long)getpid())
		p->n = (int)helper_num("sockserv", fds, 0, FDS_MAX);
	else if (fds)
		p->foreign = true;
	if (names && !(copy = strdup(names)))
		die("out of memory");
	tok = copy ? strtok_r(copy, ":", &save) : NULL;
	for (int i = 0; i < p->n; i++) {
		p->names[i] = strdup(tok ? tok : "");
		if (!p->names[i])
			die("out of memory");
		if (fcntl(3 + i, F_SETFD, FD_CLOEXEC) < 0)
			die("LISTEN_FDS=%d but fd %d: %s", p->n, 3 + i, strerror(errno));
		tok = tok ? strtok_r(NULL, ":", &save) : NULL;
	}
	free(copy);
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDNAMES");
}

/* The fd named name, or -1. */
static int passed_fd(const struct passed *p, const char *name)
{
	for (int i = 0; i < p->n; i++)
		if (!strcmp(p->names[i], name))
			return 3 + i;
	return -1;
}

/* The listening fd to serve, made non-blocking (another process may take
 * a connection first during a handover). Exits if there is none. */
static int serve_fd(const struct passed *p, const char *name)
{
	int fd = -1, v = 0;
	socklen_t len = sizeof v;

	if (name)
		fd = passed_fd(p, name);
	for (int i = 0; !name && fd < 0 && i < p->n; i++)
		if (strcmp(p->names[i], STATE_FD) != 0)
			fd = 3 + i;
	if (fd < 0 && p->foreign)
		die("LISTEN_FDS is set but LISTEN_PID is not %ld: the fds are not ours",
		    (long)getpid());
	if (fd < 0)
		die("no listening socket%s%s passed (LISTEN_FDS=%d)",
		    name ? " named " : "", name ? name : "", p->n);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) < 0 || !v)
		die("fd %d is not a listening socket", fd);
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		die("fd %d: %s", fd, strerror(errno));
	return fd;
}

/* Maps the counter: the passed "state" memfd, or a new one that is sent
 * to the fd store. Sets *memfd. */
static uint64_t *counter_map(const struct passed *p, int *memfd)
{
	struct stat st;
	void *m;
	int fd = passed_fd(p, STATE_FD);
	bool fresh = fd < 0;

	if (fresh) {
		fd = memfd_create("sockserv-state", MFD_CLOEXEC);
		if (fd < 0 || ftruncate(fd, sizeof(uint64_t)) < 0)
			die("memfd: %s", strerror(errno));
	}
	if (fstat(fd, &st) < 0 || st.st_size < (off_t)sizeof(uint64_t))
		die("the state fd %d holds no counter", fd);
	m = mmap(NULL, sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		die("mmap state: %s", strerror(errno));
	if (fresh && notify_fd("FDSTORE=1\nFDNAME=" STATE_FD, fd) < 0)
		exit(1);
	*memfd = fd;
	return m;
}

/* Writes all of buf to the connection, retrying after EINTR. */
static void send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;   /* the client went away: nothing to do */
		buf += n;
		len -= (size_t)n;
	}
}

/* Accepts one connection, answers it and closes it. */
static void serve_one(int lfd, const struct opts *o, uint64_t *counter)
{
	char line[512];
	int c, len;

	c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
		    errno != ECONNABORTED)
			fprintf(stderr, "sockserv: accept: %s\n", strerror(errno));
		return;
	}
	if (counter)
		len = snprintf(line, sizeof line, "%s %ld %llu\n", o->version, (long)getpid(),
			       (unsigned long long)__atomic_add_fetch(counter, 1,
								      __ATOMIC_SEQ_CST));
	else
		len = snprintf(line, sizeof line, "%s %ld\n", o->version, (long)getpid());
	if (len > 0)
		send_all(c, line, (size_t)len < sizeof line ? (size_t)len : sizeof line - 1);
	close(c);
}

/* SIGUSR1 with --prepare: hand the state over, then say prepared. */
static void prepare(int memfd)
{
	if (memfd >= 0)
		notify_fd("FDSTORE=1\nFDNAME=" STATE_FD, memfd);
	notify("X_RS_PREPARED=1");
}

/* Half the watchdog period for this process, in ms; 0 if none. */
static int64_t watchdog_half_ms(void)
{
	const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	long long v;
	char *end;

	if (!usec || (pid && strtol(pid, NULL, 10) != (long)getpid()))
		return 0;
	v = strtoll(usec, &end, 10);
	if (*end || v <= 0)
		return 0;
	return v / 2000 > 0 ? v / 2000 : 1;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct passed p;
	struct pollfd pf[2];
	uint64_t *counter = NULL;
	int64_t wd = 0, next_wd = 0;
	int lfd, memfd = -1, sfd = -1;
	sigset_t usr1, waitmask;

	parse_opts(argc, argv, &o);
	if (o.exit_at_start >= 0)
		return o.exit_at_start;
	signal(SIGPIPE, SIG_IGN);
	take_passed(&p);
	lfd = serve_fd(&p, o.listen_name);
	if (o.counter)
		counter = counter_map(&p, &memfd);
	/* the agent drops the stored state: the next process starts afresh */
	if (o.counter && o.forget_state)
		notify("FDSTOREREMOVE=1\nFDNAME=" STATE_FD);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	if (o.never_prepared)
		signal(SIGUSR1, SIG_IGN);
	if (o.prepare) {
		sigprocmask(SIG_BLOCK, &usr1, NULL);
		sfd = signalfd(-1, &usr1, SFD_CLOEXEC | SFD_NONBLOCK);
		if (sfd < 0)
			die("signalfd: %s", strerror(errno));
	}
	/* a graceful stop: SIGTERM/SIGINT end it only while it waits in ppoll,
	 * never between accept and the answer (a live update stops the old
	 * process while clients still reach it; so should any real server) */
	{
		sigset_t term;

		sigemptyset(&term);
		sigaddset(&term, SIGTERM);
		sigaddset(&term, SIGINT);
		sigprocmask(SIG_BLOCK, NULL, &waitmask);   /* USR1 stays blocked */
		sigprocmask(SIG_BLOCK, &term, NULL);
	}
	if (!o.no_ready)
		notify("READY=1");
	wd = watchdog_half_ms();
	next_wd = helper_now_ms() + wd;

	pf[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
	pf[1] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	for (;;) {
		struct timespec ts, *tsp = NULL;
		int n;

		if (wd) {
			int64_t left = next_wd - helper_now_ms();

			if (left <= 0) {
				notify("WATCHDOG=1");
				next_wd = helper_now_ms() + wd;
				left = wd;
			}
			ts.tv_sec = left / 1000;
			ts.tv_nsec = (long)(left % 1000) * 1000000L;
			tsp = &ts;
		}
		n = ppoll(pf, sfd >= 0 ? 2 : 1, tsp, &waitmask);
		if (n < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		if (n <= 0)
			continue;
		if (pf[0].revents & POLLIN)
			serve_one(lfd, &o, counter);
		if (sfd >= 0 && (pf[1].revents & POLLIN)) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si)
				if (si.ssi_signo == SIGUSR1)
					prepare(memfd);
		}
	}
}
