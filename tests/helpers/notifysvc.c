/*
 * notifysvc - a test service that speaks the sd_notify protocol by hand.
 *
 *   notifysvc [--ready] [--ready-delay MS] [--status TEXT] [--watchdog MS]
 *             [--watchdog-stop-after MS] [--ignore-term] [--exit-after MS CODE]
 *             [--pidfile PATH] [--spawn-child] [--child-ignore-term]
 *             [--send-after MS TEXT]
 *
 * Messages go to $NOTIFY_SOCKET (AF_UNIX SOCK_DGRAM; a leading '@' means the
 * abstract namespace). Without NOTIFY_SOCKET the notify options are no-ops.
 *
 *   --ready                  send READY=1 (after --ready-delay MS, default 0)
 *   --status TEXT            send STATUS=TEXT at start
 *   --watchdog MS            send WATCHDOG=1 every MS ms
 *   --watchdog-stop-after MS stop the watchdog pings MS ms after start, but
 *                            keep running
 *   --ignore-term            ignore SIGTERM (a child spawned later inherits it)
 *   --exit-after MS CODE     exit with CODE after MS ms
 *   --pidfile PATH           write getpid() to PATH (and the child's to
 *                            PATH.child with --spawn-child)
 *   --spawn-child            fork a child, in the same process group, that
 *                            sleeps forever
 *   --child-ignore-term      the child ignores SIGTERM (the parent does not,
 *                            unless --ignore-term)
 *   --send-after MS TEXT     send TEXT as is (e.g. WATCHDOG=trigger) once,
 *                            MS ms after start
 *
 * Otherwise it pauses forever. Exit codes: 2 = usage error.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

struct opts {
	bool        ready;
	long        ready_delay_ms;
	const char *status;
	long        watchdog_ms;        /* 0 = off */
	long        watchdog_stop_ms;   /* -1 = never */
	bool        ignore_term;
	long        exit_after_ms;      /* -1 = never */
	int         exit_code;
	const char *pidfile;
	bool        spawn_child;
	bool        child_ignore_term;
	long        send_after_ms;      /* -1 = never */
	const char *send_text;
};

static void usage(void)
{
	fputs("usage: notifysvc [--ready] [--ready-delay MS] [--status TEXT] "
	      "[--watchdog MS] [--watchdog-stop-after MS] [--ignore-term] "
	      "[--exit-after MS CODE] [--pidfile PATH] [--spawn-child] "
	      "[--child-ignore-term] [--send-after MS TEXT]\n", stderr);
	exit(2);
}

/* Sends one datagram to $NOTIFY_SOCKET (see helpers.h). */
static int notify(const char *msg)
{
	return helper_notify_fd("notifysvc", msg, -1);
}

/* Writes "PID\n" to path atomically (tmp file + rename). */
static void write_pidfile(const char *path, pid_t pid)
{
	char tmp[PATH_MAX];
	FILE *f;

	if (snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid()) >=
	    (int)sizeof tmp) {
		fprintf(stderr, "notifysvc: pidfile path too long\n");
		exit(2);
	}
	f = fopen(tmp, "we");
	if (!f) {
		fprintf(stderr, "notifysvc: %s: %s\n", tmp, strerror(errno));
		exit(1);
	}
	fprintf(f, "%d\n", (int)pid);
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		fprintf(stderr, "notifysvc: %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);	/* EINTR: the caller recomputes its deadlines */
}

static void parse(int argc, char **argv, struct opts *o)
{
	memset(o, 0, sizeof *o);
	o->watchdog_stop_ms = -1;
	o->exit_after_ms = -1;
	o->send_after_ms = -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--ready"))
			o->ready = true;
		else if (!strcmp(a, "--ready-delay"))
			o->ready_delay_ms = helper_num("notifysvc", argv[++i < argc ? i : argc], 0, LONG_MAX / 2);
		else if (!strcmp(a, "--status")) {
			if (++i >= argc)
				usage();
			o->status = argv[i];
		} else if (!strcmp(a, "--watchdog"))
			o->watchdog_ms = helper_num("notifysvc", argv[++i < argc ? i : argc], 1, LONG_MAX / 2);
		else if (!strcmp(a, "--watchdog-stop-after"))
			o->watchdog_stop_ms = helper_num("notifysvc", argv[++i < argc ? i : argc], 0, LONG_MAX / 2);
		else if (!strcmp(a, "--ignore-term"))
			o->ignore_term = true;
		else if (!strcmp(a, "--exit-after")) {
			if (i + 2 >= argc)
				usage();
			o->exit_after_ms = helper_num("notifysvc", argv[++i], 0, LONG_MAX / 2);
			o->exit_code = (int)helper_num("notifysvc", argv[++i], 0, 255);
		} else if (!strcmp(a, "--pidfile")) {
			if (++i >= argc)
				usage();
			o->pidfile = argv[i];
		} else if (!strcmp(a, "--spawn-child"))
			o->spawn_child = true;
		else if (!strcmp(a, "--child-ignore-term"))
			o->child_ignore_term = true;
		else if (!strcmp(a, "--send-after")) {
			if (i + 2 >= argc)
				usage();
			o->send_after_ms = helper_num("notifysvc", argv[++i], 0, LONG_MAX / 2);
			o->send_text = argv[++i];
		}
		else if (!strcmp(a, "-h") || !strcmp(a, "--help"))
			usage();
		else {
			fprintf(stderr, "notifysvc: unknown option '%s'\n", a);
			usage();
		}
	}
}

static pid_t spawn_child(const struct opts *o)
{
	pid_t pid = fork();

	if (pid < 0) {
		perror("notifysvc: fork");
		exit(1);
	}
	if (pid == 0) {
		if (o->child_ignore_term)
			signal(SIGTERM, SIG_IGN);
		for (;;)
			pause();
	}
	return pid;
}

int main(int argc, char **argv)
{
	struct opts o;
	int64_t start, next_wd, ready_at;
	bool ready_sent = false, text_sent = false;
	char buf[1024];

	parse(argc, argv, &o);
	setvbuf(stderr, NULL, _IONBF, 0);
	if (o.ignore_term)
		signal(SIGTERM, SIG_IGN);
	start = helper_now_ms();
	if (o.spawn_child) {
		pid_t child = spawn_child(&o);

		if (o.pidfile) {
			char cpath[PATH_MAX];

			if (snprintf(cpath, sizeof cpath, "%s.child", o.pidfile) >=
			    (int)sizeof cpath)
				usage();
			write_pidfile(cpath, child);
		}
	}
	if (o.pidfile)
		write_pidfile(o.pidfile, getpid());
	if (o.status) {
		snprintf(buf, sizeof buf, "STATUS=%s", o.status);
		notify(buf);
	}
	ready_at = start + o.ready_delay_ms;
	next_wd = o.watchdog_ms > 0 ? start : -1;

	for (;;) {
		int64_t now = helper_now_ms(), wake = -1;

		if (o.ready && !ready_sent && now >= ready_at) {
			notify("READY=1");
			ready_sent = true;
		}
		if (next_wd >= 0 && o.watchdog_stop_ms >= 0 &&
		    now - start >= o.watchdog_stop_ms)
			next_wd = -1;
		if (next_wd >= 0 && now >= next_wd) {
			notify("WATCHDOG=1");
			while (next_wd <= now)
				next_wd += o.watchdog_ms;
		}
		if (o.send_after_ms >= 0 && !text_sent &&
		    now - start >= o.send_after_ms) {
			notify(o.send_text);
			text_sent = true;
		}
		if (o.exit_after_ms >= 0 && now - start >= o.exit_after_ms)
			exit(o.exit_code);

		/* the earliest pending deadline */
		if (o.ready && !ready_sent)
			wake = ready_at;
		if (next_wd >= 0 && (wake < 0 || next_wd < wake))
			wake = next_wd;
		if (next_wd >= 0 && o.watchdog_stop_ms >= 0 &&
		    start + o.watchdog_stop_ms < wake)
			wake = start + o.watchdog_stop_ms;
		if (o.send_after_ms >= 0 && !text_sent &&
		    (wake < 0 || start + o.send_after_ms < wake))
			wake = start + o.send_after_ms;
		if (o.exit_after_ms >= 0 &&
		    (wake < 0 || start + o.exit_after_ms < wake))
			wake = start + o.exit_after_ms;
		if (wake < 0)
			pause();
		else
			sleep_ms(wake - helper_now_ms());
	}
}
