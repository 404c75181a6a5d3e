/*
 * test_sockserv.c - the socket-activated test service on its own, without
 * rs: this file plays the supervisor. It opens the listening socket, binds
 * the datagram NOTIFY_SOCKET, starts sockserv with LISTEN_FDS/LISTEN_PID/
 * LISTEN_FDNAMES (fork + exec), and waits on the messages and answers.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define WAIT_MS 5000

static char tmpdir[64];
static char notify_path[128];
static char sockserv[PATH_MAX];
static int notify_fd = -1;
static int listen_fd = -1;
static unsigned port;
static pid_t kids[4];
static int nkids;

static void setup(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof sin;
	char *slash;
	ssize_t k;

	k = readlink("/proc/self/exe", sockserv, sizeof sockserv - 16);
	cr_assert_gt(k, 0);
	sockserv[k] = '\0';
	slash = strrchr(sockserv, '/');
	cr_assert_not_null(slash);
	strcpy(slash + 1, "sockserv");
	cr_assert_eq(access(sockserv, X_OK), 0, "%s: %s", sockserv, strerror(errno));

	snprintf(tmpdir, sizeof tmpdir, "/tmp/rs-test-sockserv-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	snprintf(notify_path, sizeof notify_path, "%s/notify", tmpdir);
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	cr_assert_geq(notify_fd, 0);
	strcpy(sa.sun_path, notify_path);
	cr_assert_eq(bind(notify_fd, (struct sockaddr *)&sa, sizeof sa), 0);

	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(listen_fd, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(listen_fd, (struct sockaddr *)&sin, sizeof sin), 0);
	cr_assert_eq(listen(listen_fd, 16), 0);
	cr_assert_eq(getsockname(listen_fd, (struct sockaddr *)&sin, &len), 0);
	port = ntohs(sin.sin_port);
}

static void teardown(void)
{
	for (int i = 0; i < nkids; i++) {
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
	}
	nkids = 0;
	if (notify_fd >= 0)
		close(notify_fd);
	if (listen_fd >= 0)
		close(listen_fd);
	notify_fd = listen_fd = -1;
	unlink(notify_path);
	rmdir(tmpdir);
}

TestSuite(sockserv, .init = setup, .fini = teardown, .timeout = 20);

/* Writes v in decimal into buf (async-signal-safe). */
static void utoa(unsigned long v, char *buf)
{
	char tmp[24];
	int n = 0;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n)
		*buf++ = tmp[--n];
	*buf = '\0';
}

/* Starts sockserv ARGS with fds[0..nfds) as fds 3.. named names (a
 * LISTEN_FDNAMES value, or NULL), and $NOTIFY_SOCKET. With foreign_pid
 * LISTEN_PID names this process instead of the child. extra is one more
 * environment entry or NULL. Returns the child's pid. */
static pid_t spawn(const int *fds, int nfds, const char *names, bool foreign_pid,
		   const char *extra, const char *const *args)
{
	char env_fds[32], env_names[256], env_notify[160], env_pid[48];
	char *envp[8], *argv[16];
	int ne = 0, na = 0;
	pid_t pid;

	snprintf(env_fds, sizeof env_fds, "LISTEN_FDS=%d", nfds);
	snprintf(env_names, sizeof env_names, "LISTEN_FDNAMES=%s", names ? names : "");
	snprintf(env_notify, sizeof env_notify, "NOTIFY_SOCKET=%s", notify_path);
	strcpy(env_pid, "LISTEN_PID=");
	utoa((unsigned long)getpid(), env_pid + strlen(env_pid));
	envp[ne++] = env_fds;
	envp[ne++] = env_pid;
	envp[ne++] = env_notify;
	if (names)
		envp[ne++] = env_names;
	if (extra)
		envp[ne++] = (char *)extra;
	envp[ne] = NULL;
	argv[na++] = sockserv;
	for (; args && *args && na < 15; args++)
		argv[na++] = (char *)*args;
	argv[na] = NULL;

	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		/* only async-signal-safe calls from here to exec */
		int hi = 100;

		for (int i = 0; i < nfds; i++)
			if (dup2(fds[i], hi + i) < 0)
				_exit(126);
		for (int i = 0; i < nfds; i++)
			if (dup2(hi + i, 3 + i) < 0)
				_exit(126);
		if (!foreign_pid)
			utoa((unsigned long)getpid(), env_pid + strlen("LISTEN_PID="));
		execve(sockserv, argv, envp);
		_exit(127);
	}
	kids[nkids++] = pid;
	return pid;
}

/* Receives one notify datagram within WAIT_MS into text; an fd passed
 * with it goes to *fd (else -1). Returns false on timeout. */
static bool recv_notify(char *text, size_t n, int *fd)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = text, .iov_len = n - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf };
	struct pollfd pf = { .fd = notify_fd, .events = POLLIN };
	ssize_t k;

	*fd = -1;
	if (poll(&pf, 1, WAIT_MS) <= 0)
		return false;
	k = recvmsg(notify_fd, &mh, MSG_CMSG_CLOEXEC);
	cr_assert_geq(k, 0, "recvmsg: %s", strerror(errno));
	text[k] = '\0';
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			cr_assert_eq(c->cmsg_len, CMSG_LEN(sizeof(int)), "more than one fd");
			memcpy(fd, CMSG_DATA(c), sizeof *fd);
		}
	return true;
}

/* Asserts that the next notify message is want, and that it carries an fd
 * exactly when with_fd; returns that fd (or -1). */
static int expect_notify(const char *want, bool with_fd)
{
	char text[256];
	int fd;

	cr_assert(recv_notify(text, sizeof text, &fd), "no '%s' within %d ms", want, WAIT_MS);
	cr_assert_str_eq(text, want);
	if (with_fd)
		cr_assert_geq(fd, 0, "'%s' came without an fd", want);
	else
		cr_assert_eq(fd, -1, "'%s' came with an fd", want);
	return fd;
}

/* Asserts that nothing is waiting on the notify socket. */
static void expect_no_notify(void)
{
	char text[256];
	ssize_t k = recv(notify_fd, text, sizeof text - 1, MSG_DONTWAIT);

	if (k >= 0)
		text[k] = '\0';
	cr_assert_lt(k, 0, "unexpected notify message '%s'", k >= 0 ? text : "");
}

/* Connects to the service and returns its one-line answer. */
static void ask(char *line, size_t n)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct pollfd pf;
	size_t len = 0;
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(c, 0);
	cr_assert_eq(connect(c, (struct sockaddr *)&sin, sizeof sin), 0, "%s", strerror(errno));
	pf = (struct pollfd){ .fd = c, .events = POLLIN };
	for (;;) {
		ssize_t k;

		cr_assert_gt(poll(&pf, 1, WAIT_MS), 0, "no answer within %d ms", WAIT_MS);
		k = read(c, line + len, n - 1 - len);
		cr_assert_geq(k, 0, "read: %s", strerror(errno));
		len += (size_t)k;
		if (k == 0 || len == n - 1)
			break;
	}
	line[len] = '\0';
	close(c);
}

/* Asserts the answer line is exactly the printf result. */
__attribute__((format(printf, 1, 2)))
static void expect_answer(const char *fmt, ...)
{
	char got[256], want[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(want, sizeof want, fmt, ap);
	va_end(ap);
	ask(got, sizeof got);
	cr_assert_str_eq(got, want);
}

/* Waits for pid to exit (its pidfd becomes readable) within WAIT_MS;
 * returns its wait status. */
static int reap(pid_t pid)
{
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0), st = 0;
	struct pollfd pf = { .fd = pfd, .events = POLLIN };

	/* without pidfds the blocking waitpid is bounded by the test timeout */
	if (pfd >= 0) {
		cr_assert_eq(poll(&pf, 1, WAIT_MS), 1, "pid %d did not exit", (int)pid);
		close(pfd);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	for (int k = 0; k < nkids; k++)
		if (kids[k] == pid)
			kids[k] = kids[--nkids];
	return st;
}

static void stop(pid_t pid)
{
	kill(pid, SIGTERM);
	reap(pid);
}

Test(sockserv, ready_then_answers)
{
	const char *args[] = { "--version", "v1", NULL };
	pid_t pid = spawn(&listen_fd, 1, "web", false, NULL, args);

	expect_notify("READY=1", false);
	expect_answer("v1 %d\n", (int)pid);
	expect_answer("v1 %d\n", (int)pid);
	stop(pid);
}

Test(sockserv, counter_goes_to_the_fd_store_and_continues)
{
	const char *v1[] = { "--version", "v1", "--counter", NULL };
	const char *v2[] = { "--version", "v2", "--counter", "--listen-name", "web", NULL };
	uint64_t value = 0;
	int fds[2], memfd;
	pid_t pid;

	pid = spawn(&listen_fd, 1, "web", false, NULL, v1);
	memfd = expect_notify("FDSTORE=1\nFDNAME=state", true);
	expect_notify("READY=1", false);
	expect_answer("v1 %d 1\n", (int)pid);
	expect_answer("v1 %d 2\n", (int)pid);
	cr_assert_eq(pread(memfd, &value, sizeof value, 0), (ssize_t)sizeof value);
	cr_assert_eq(value, 2, "the stored fd holds the counter");
	stop(pid);

	/* the next version gets the state back after the socket */
	fds[0] = listen_fd;
	fds[1] = memfd;
	pid = spawn(fds, 2, "web:state", false, NULL, v2);
	expect_notify("READY=1", false);    /* no new FDSTORE: it had one */
	expect_answer("v2 %d 3\n", (int)pid);
	stop(pid);

	/* the state may come first too: the socket is found by name */
	fds[0] = memfd;
	fds[1] = listen_fd;
	pid = spawn(fds, 2, "state:web", false, NULL, v2);
	expect_notify("READY=1", false);
	expect_answer("v2 %d 4\n", (int)pid);
	stop(pid);
	close(memfd);
}

Test(sockserv, prepare_stores_state_then_says_prepared)
{
	const char *args[] = { "--counter", "--prepare", NULL };
	uint64_t value = 0;
	int memfd, fd2;
	pid_t pid = spawn(&listen_fd, 1, "web", false, NULL, args);

	memfd = expect_notify("FDSTORE=1\nFDNAME=state", true);
	expect_notify("READY=1", false);
	expect_answer("v1 %d 1\n", (int)pid);
	cr_assert_eq(kill(pid, SIGUSR1), 0);
	fd2 = expect_notify("FDSTORE=1\nFDNAME=state", true);
	expect_notify("X_RS_PREPARED=1", false);
	cr_assert_eq(pread(fd2, &value, sizeof value, 0), (ssize_t)sizeof value);
	cr_assert_eq(value, 1);
	/* still serving: a rollback needs nothing from it */
	expect_answer("v1 %d 2\n", (int)pid);
	stop(pid);
	close(memfd);
	close(fd2);
}

Test(sockserv, prepare_without_counter_only_says_prepared)
{
	const char *args[] = { "--prepare", NULL };
	pid_t pid = spawn(&listen_fd, 1, NULL, false, NULL, args);

	expect_notify("READY=1", false);
	cr_assert_eq(kill(pid, SIGUSR1), 0);
	expect_notify("X_RS_PREPARED=1", false);
	expect_answer("v1 %d\n", (int)pid);
	stop(pid);
}

Test(sockserv, never_prepared_ignores_the_signal)
{
	const char *args[] = { "--never-prepared", NULL };
	pid_t pid = spawn(&listen_fd, 1, "web", false, NULL, args);

	expect_notify("READY=1", false);
	cr_assert_eq(kill(pid, SIGUSR1), 0);   /* ignored signals are dropped at once */
	expect_answer("v1 %d\n", (int)pid);
	expect_no_notify();
	stop(pid);
}

Test(sockserv, no_ready_still_serves)
{
	const char *args[] = { "--no-ready", NULL };
	pid_t pid = spawn(&listen_fd, 1, "web", false, NULL, args);

	/* READY=1 would be sent before it serves, so once it answered the
	 * notify socket shows whether it came */
	expect_answer("v1 %d\n", (int)pid);
	expect_no_notify();
	stop(pid);
}

Test(sockserv, watchdog_at_half_the_period)
{
	const char *args[] = { "--no-ready", NULL };
	pid_t pid = spawn(&listen_fd, 1, "web", false, "WATCHDOG_USEC=100000", args);

	expect_notify("WATCHDOG=1", false);
	expect_notify("WATCHDOG=1", false);
	stop(pid);
}

Test(sockserv, exit_at_start)
{
	const char *args[] = { "--version", "v2", "--exit-at-start", "7", NULL };
	pid_t pid = spawn(&listen_fd, 1, "web", false, NULL, args);
	int st = reap(pid);

	cr_assert(WIFEXITED(st));
	cr_assert_eq(WEXITSTATUS(st), 7);
	expect_no_notify();
}

Test(sockserv, fds_for_another_pid_are_refused)
{
	pid_t pid = spawn(&listen_fd, 1, "web", true, NULL, NULL);
	int st = reap(pid);

	cr_assert(WIFEXITED(st));
	cr_assert_eq(WEXITSTATUS(st), 1);
	expect_no_notify();
}

Test(sockserv, abstract_notify_socket)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *args[] = { "--counter", NULL };
	socklen_t len;
	int memfd;
	pid_t pid;

	/* "@NAME" is NAME in the abstract namespace (a leading NUL byte) */
	close(notify_fd);
	snprintf(notify_path, sizeof notify_path, "@rs-test-sockserv-%d", (int)getpid());
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	cr_assert_geq(notify_fd, 0);
	memcpy(sa.sun_path + 1, notify_path + 1, strlen(notify_path) - 1);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(notify_path));
	cr_assert_eq(bind(notify_fd, (struct sockaddr *)&sa, len), 0, "%s", strerror(errno));

	pid = spawn(&listen_fd, 1, "web", false, NULL, args);
	memfd = expect_notify("FDSTORE=1\nFDNAME=state", true);
	expect_notify("READY=1", false);
	expect_answer("v1 %d 1\n", (int)pid);
	stop(pid);
	close(memfd);
}

Test(sockserv, unknown_listen_name_is_refused)
{
	const char *args[] = { "--listen-name", "admin", NULL };
	pid_t pid = spawn(&listen_fd, 1, "web", false, NULL, args);
	int st = reap(pid);

	cr_assert(WIFEXITED(st));
	cr_assert_eq(WEXITSTATUS(st), 1);
}
