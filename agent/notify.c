/*
 * notify.c - the sd_notify protocol: one AF_UNIX datagram socket per
 * instance at STATE_DIR/run/ID.notify, given to the service as
 * NOTIFY_SOCKET. Messages are newline-separated KEY=VALUE lines, split by
 * notify_parse (notifymsg.c, pure); one holding a NUL byte is ignored.
 *
 * Credentials (SO_PASSCRED / SCM_CREDENTIALS) decide who is believed: the
 * sender must be in the instance's session (the main pid made it with
 * setsid, so the session id is the main pid). A sender that has already
 * exited (e.g. `systemd-notify --ready` racing its own exit) is believed
 * if its uid is the agent's own or root, since the socket sits in a
 * directory only the agent's user can reach.
 *
 * The fd store: a believed message with FDSTORE=1 hands its fds (SCM_RIGHTS)
 * to the keeper under FDNAME (default "stored"; one name holds the fds of
 * its latest message), which passes them to the next process of the
 * instance with LISTEN_FDS/LISTEN_FDNAMES, after the --listen sockets.
 * FDSTOREREMOVE=1 drops FDNAME's fds. At most RS_FDSTORE_MAX fds per
 * instance; more are closed and counted. Every other passed fd is closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent.h"
#include "keeper.h"
#include "log.h"
#include "notifymsg.h"

void svc_notify(inst *in, const char *key, const char *val);

/* The session id of pid from /proc, or -1 if it is gone. */
static pid_t proc_session(pid_t pid)
{
	char path[64], buf[512], *p;
	pid_t sid = -1;
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* comm may hold spaces and ')': skip to the last ')' */
	p = strrchr(buf, ')');
	if (p && sscanf(p + 1, " %*c %*d %*d %d", &sid) != 1)
		sid = -1;
	return sid;
}

/* Whether a message with these credentials comes from the instance. */
static bool notify_believe(const inst *in, const struct ucred *uc)
{
	pid_t sid;

	if (!uc || in->pid <= 0)
		return false;
	if (uc->pid == in->pid)
		return true;
	sid = proc_session(uc->pid);
	if (sid >= 0)
		return sid == in->pid;
	return uc->uid == 0 || uc->uid == getuid();
}

/* Takes the fds a message carries into fds[] (up to max; the rest are
 * closed). Returns how many were taken. */
static int notify_take_fds(struct msghdr *mh, int *fds, int max)
{
	int n = 0;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < cnt; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
			if (n < max)
				fds[n++] = fd;
			else
				close(fd);
		}
	}
	return n;
}

static void close_fds(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

/* FDSTORE=1 / FDSTOREREMOVE=1 of a believed message; consumes fds. */
static void notify_fdstore(inst *in, const struct notify_line *lines, int n,
			   int *fds, int nfds)
{
	const char *name = notify_value(lines, n, "FDNAME");
	const char *v;

	if (!name)
		name = "stored";
	else if (!notify_fdname_valid(name)) {
		log_warnx("%s: FDNAME '%.64s' is invalid, ignoring the message",
			  in->spec.label, name);
		close_fds(fds, nfds);
		return;
	}
	v = notify_value(lines, n, "FDSTOREREMOVE");
	if (v && !strcmp(v, "1")) {
		kc_fd_del(in->ag, svc_public_id(in), KFD_STORE, name);
		log_info("%s/%llu: fd store: removed '%s'", in->spec.label,
			 (unsigned long long)in->id, name);
	}
	if (!nfds)
		return;
	v = notify_value(lines, n, "FDSTORE");
	if (!v || strcmp(v, "1")) {
		close_fds(fds, nfds);
		return;
	}
	for (int i = 0; i < nfds; i++) {
		/* the first replaces what the name held, the rest join it */
		if (kc_fd_store(in->ag, svc_public_id(in), name, fds[i], i == 0) < 0)
			log_warnx("%s: cannot hand an fd to the keeper", in->spec.label);
		close(fds[i]);
	}
	log_info("%s/%llu: fd store: %d fd(s) as '%s'", in->spec.label,
		 (unsigned long long)in->id, nfds, name);
}

static void notify_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	inst *in = w->data;
	char buf[NOTIFY_MSG_MAX + 1];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct ucred)) +
			 CMSG_SPACE(sizeof(int) * RS_FDSTORE_MAX)];
	} ctl;
	struct notify_line lines[NOTIFY_LINES_MAX];
	int fds[RS_FDSTORE_MAX], nfds, nl;

	for (int i = 0; i < 64; i++) {
		struct iovec iov = { buf, NOTIFY_MSG_MAX };
		struct msghdr mh = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf,
		};
		struct ucred *uc = NULL;
		ssize_t n = recvmsg(in->notify_fd, &mh,
				    MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);

		if (n < 0)
			return;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_SOCKET &&
			    c->cmsg_type == SCM_CREDENTIALS &&
			    c->cmsg_len == CMSG_LEN(sizeof(struct ucred)))
				uc = (struct ucred *)CMSG_DATA(c);
		nfds = notify_take_fds(&mh, fds, RS_FDSTORE_MAX);
		if (n > NOTIFY_MSG_MAX || (mh.msg_flags & MSG_CTRUNC)) {
			log_warnx("%s: oversized notify message, ignoring",
				  in->spec.label);
			close_fds(fds, nfds);
			continue;
		}
		if (!notify_believe(in, uc)) {
			log_warnx("%s: notify message from pid %d outside the service, ignoring",
				  in->spec.label, uc ? (int)uc->pid : -1);
			close_fds(fds, nfds);
			continue;
		}
		nl = notify_parse(buf, (size_t)n, lines, NOTIFY_LINES_MAX);
		if (nl < 0) {
			log_warnx("%s: malformed notify message (%s), ignoring",
				  in->spec.label, strerror(-nl));
			close_fds(fds, nfds);
			continue;
		}
		notify_fdstore(in, lines, nl, fds, nfds);
		for (int j = 0; j < nl; j++)
			svc_notify(in, lines[j].key, lines[j].val);
		/* svc_notify may stop/restart it but never frees it here */
	}
}

int notify_open(inst *in, int fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int one = 1, r, dup;

	r = snprintf(sa.sun_path, sizeof sa.sun_path, "%s/run/%llu.notify",
		     in->ag->state_dir, (unsigned long long)in->id);
	if (r < 0 || (size_t)r >= sizeof sa.sun_path) {
		if (fd >= 0)
			close(fd);
		return -ENAMETOOLONG;
	}
	if (fd >= 0) {
		/* the socket the keeper kept: its own path (a live update's
		 * commit hands an instance its new process's socket) */
		struct sockaddr_un got = { 0 };
		socklen_t len = sizeof got;

		if (getsockname(fd, (struct sockaddr *)&got, &len) == 0 &&
		    got.sun_family == AF_UNIX && got.sun_path[0])
			memcpy(sa.sun_path, got.sun_path, sizeof sa.sun_path);
	}
	memcpy(in->notify_path, sa.sun_path, sizeof in->notify_path);
	if (fd < 0) {
		fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			return -errno;
		unlink(sa.sun_path);
		if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
		    setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0) {
			r = -errno;
			close(fd);
			return r;
		}
		/* a service of another user may send to it; what it says is
		 * believed only from its own session (SCM_CREDENTIALS) */
		if (in->spec.user[0] && chmod(sa.sun_path, 0666) < 0)
			log_warn("%s: cannot open up %s", in->spec.label, sa.sun_path);
		/* the keeper holds a copy: messages sent while no engine runs
		 * wait in the socket for the next one */
		dup = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (dup < 0 || kc_fd_add(in->ag, in->id, KFD_NOTIFY, "notify", dup) < 0)
			log_warnx("%s: the keeper does not hold the notify socket; "
				  "it will not outlive this agent", in->spec.label);
		if (dup >= 0)
			close(dup);
	} else {
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	}
	in->notify_fd = fd;
	ev_io_init(&in->notify_io, notify_cb, fd, EV_READ);
	in->notify_io.data = in;
	ev_io_start(in->ag->loop, &in->notify_io);
	return 0;
}

void notify_close(inst *in, bool unlink_path)
{
	if (in->notify_fd < 0)
		return;
	ev_io_stop(in->ag->loop, &in->notify_io);
	close(in->notify_fd);
	if (unlink_path)
		unlink(in->notify_path);
	in->notify_fd = -1;
}
