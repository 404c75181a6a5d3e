/*
 * kclient.c - the engine's side of the keeper link (keeper.h): finding or
 * starting the keeper, adopting what it runs, and the requests the engine
 * makes of it (spawn, kill, fds, forget, quit).
 *
 * Spawn is synchronous: the keeper answers at once, and the engine needs
 * the pid before it reports. An exit that arrives while the engine waits
 * for that answer is queued and handled from an idle watcher, never in
 * the middle of the caller's state change.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "clock.h"
#include "keeper.h"
#include "kproto.h"
#include "log.h"
#include "probe.h"
#include "reslimits.h"
#include "profile.h"

#include <linux/capability.h>
#include <sys/syscall.h>
#include "wire.h"

#define KC_REPLY_TIMEOUT_MS 5000

static int kc_await(agent *ag, uint32_t type, uint64_t id, struct kmsg *out);
#define KC_START_TIMEOUT_MS 5000
/* how long a new engine waits for the keeper to let go of the previous
 * one (killed just before: its socket is not closed yet) */
#define KC_BUSY_WAIT_MS 3000
/* how long the keeper holding the node's name has to say who it is */
#define KC_IDENT_TIMEOUT_MS 2000

static int kc_connect_once(const char *dir)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if ((size_t)snprintf(sa.sun_path, sizeof sa.sun_path, "%s/run/keeper.sock",
			     dir) >= sizeof sa.sun_path)
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

/* Who holds a node's keeper name: its pid and uid (SO_PEERCRED); what
 * its K_IDENT said, if it sent one: state dir ("" if not), what it keeps
 * and its engine (-1 each if not). */
struct kc_ident {
	pid_t   pid;
	uid_t   uid;
	int64_t kept, engine;
	char    dir[PATH_MAX];
};

/* Asks whoever holds node's keeper name (keeper.h) who it is, into *id.
 * 0: nobody does; 1: somebody does; or -errno. */
static int kc_node_ident(const char *node, struct kc_ident *id)
{
	struct sockaddr_un sa;
	struct ucred uc;
	socklen_t len, ul = sizeof uc;
	struct pollfd pf = { -1, POLLIN, 0 };
	uint8_t *buf = NULL;
	int r, fd = keeper_node_socket(node, &sa, &len);

	if (fd < 0)
		return fd;
	/* EAGAIN: its backlog is full for now (it answers and closes at
	 * once, so not for long) */
	for (uint64_t end = clock_mono_ms() + KC_IDENT_TIMEOUT_MS;
	     (r = connect(fd, (struct sockaddr *)&sa, len)) < 0 && errno == EAGAIN &&
	     clock_mono_ms() < end;)
		poll(NULL, 0, 20);
	if (r < 0) {
		/* nobody bound, or bound but not listening yet: that one
		 * will find our keeper's bind fail, or ours finds its name */
		r = errno == ECONNREFUSED || errno == ENOENT ? 0 : -errno;
		goto out;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &ul) < 0) {
		r = -errno;
		goto out;
	}
	id->pid = uc.pid;
	id->uid = uc.uid;
	id->kept = id->engine = -1;
	id->dir[0] = '\0';
	r = 1;
	buf = malloc(KEEPER_MSG_MAX);
	pf.fd = fd;
	if (buf && poll(&pf, 1, KC_IDENT_TIMEOUT_MS) > 0) {
		const uint8_t *p;
		struct kmsg h;
		int rfd;

		/* trusted only as far as it is a well-formed absolute path */
		if (kmsg_recv(fd, buf, &h, &p, &rfd) == 1 && h.type == K_IDENT &&
		    h.len > 1 && h.len < sizeof id->dir && p[0] == '/' &&
		    !memchr(p, '\0', h.len)) {
			memcpy(id->dir, p, h.len);
			id->dir[h.len] = '\0';
			id->kept = h.c >= 0 ? h.c : -1;
			id->engine = h.d;
		}
		if (rfd >= 0)
			close(rfd);
	}
out:
	free(buf);
	close(fd);
	return r;
}

/* Whether two paths name one directory (a and b resolved already). */
static bool same_dir(const char *a, const char *b)
{
	struct stat sa, sb;

	if (!strcmp(a, b))
		return true;
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

/* Ends the keeper of dir if it keeps nothing: attached as its engine
 * (so no other engine can start anything meanwhile), it is told to quit
 * only if its hello lists no live service and no unreported exit. 0 once
 * it has exited, -EBUSY if it keeps something or serves an engine, or
 * -errno. buf: KEEPER_MSG_MAX bytes. */
static int kc_retire(const char *dir, uint8_t *buf)
{
	struct kmsg h = { .type = K_HELLO, .a = getpid(), .b = KEEPER_PROTO };
	uint64_t end = clock_mono_ms() + KC_IDENT_TIMEOUT_MS;
	int fd = kc_connect_once(dir), r, kept = 0;

	if (fd < 0)
		return fd;
	if ((r = kmsg_send(fd, &h, NULL, -1)) < 0)
		goto out;
	for (;;) {
		struct pollfd pf = { fd, POLLIN, 0 };
		const uint8_t *p;
		uint64_t now = clock_mono_ms();
		int rfd;

		if (now >= end) {
			r = -ETIMEDOUT;
			goto out;
		}
		if (poll(&pf, 1, (int)(end - now)) < 0 && errno != EINTR) {
			r = -errno;
			goto out;
		}
		r = kmsg_recv(fd, buf, &h, &p, &rfd);
		if (r == -EAGAIN)
			continue;
		if (r <= 0) {
			r = r == 0 ? -EPIPE : r;
			goto out;
		}
		if (rfd >= 0)
			close(rfd);
		if (h.type == K_BUSY) {
			r = -EBUSY;
			goto out;
		}
		if (h.type == K_INST && h.c != 0)
			kept++;
		if (h.type == K_HELLO_END)
			break;
	}
	if (kept) {
		r = -EBUSY;   /* closing detaches us; it keeps what it has */
		goto out;
	}
	h = (struct kmsg){ .type = K_QUIT };
	if ((r = kmsg_send(fd, &h, NULL, -1)) < 0)
		goto out;
	/* it closes its end as it exits */
	r = -ETIMEDOUT;
	while (clock_mono_ms() < end) {
		struct pollfd pf = { fd, POLLIN, 0 };
		char c;
		ssize_t n;

		if (poll(&pf, 1, 50) <= 0)
			continue;
		n = recv(fd, &c, 1, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			r = 0;
			break;
		}
	}
out:
	close(fd);
	return r;
}

int kc_node_check(const agent *ag, bool retire)
{
	struct kc_ident id;
	char *mine;
	int r, tries = 0;

again:
	if ((r = kc_node_ident(ag->node, &id)) <= 0)
		return r;
	/* a state dir that does not exist yet is surely not the keeper's */
	mine = realpath(ag->state_dir, NULL);
	if (id.dir[0] && mine && same_dir(id.dir, mine)) {
		free(mine);
		return 0;
	}
	free(mine);
	/* one that keeps nothing (an agent failed to start on that dir)
	 * blocks nobody: it is told to go, and this agent starts its own */
	if (retire && id.dir[0] && id.kept == 0 && id.engine == 0 && tries++ < 3) {
		uint8_t *buf = malloc(KEEPER_MSG_MAX);

		r = buf ? kc_retire(id.dir, buf) : -ENOMEM;
		free(buf);
		if (r == 0) {
			log_info("node %s's keeper of state dir %s (pid %d) kept "
				 "nothing and has exited", ag->node, id.dir, (int)id.pid);
			goto again;
		}
		log_debug("cannot retire the keeper of %s: %s", id.dir, strerror(-r));
		if (r == -EBUSY)
			goto again;   /* something started meanwhile: say what */
	}
	if (id.dir[0])
		log_warnx("node %s already has a keeper (pid %d, state dir %s): start "
			  "rs-agent with --state-dir %s, or stop that keeper first",
			  ag->node, (int)id.pid, id.dir, id.dir);
	else
		log_warnx("node %s's keeper name is held by pid %d (uid %d), which "
			  "does not say its state dir: stop that process first",
			  ag->node, (int)id.pid, (int)id.uid);
	return -EEXIST;
}

/* rs-keeper next to this program (build tree and install alike), or
 * $RS_KEEPER. */
static int keeper_path(char *out, size_t n)
{
	const char *env = getenv("RS_KEEPER");
	ssize_t len;
	char *slash;

	if (env && *env) {
		rs_strlcpy(out, env, n);
		return access(out, X_OK) == 0 ? 0 : -errno;
	}
	len = readlink("/proc/self/exe", out, n - 1);
	if (len <= 0)
		return -errno;
	out[len] = '\0';
	slash = strrchr(out, '/');
	if (!slash || (size_t)(slash - out) + sizeof "/rs-keeper" > n)
		return -ENAMETOOLONG;
	strcpy(slash, "/rs-keeper");
	return access(out, X_OK) == 0 ? 0 : -errno;
}

static int kc_attach_once(agent *ag);

int kc_start(agent *ag)
{
	char keeper[PATH_MAX], word[8] = "";
	uint64_t end = clock_mono_ms() + KC_START_TIMEOUT_MS;
	int fd = kc_connect_once(ag->state_dir);
	int p[2];
	pid_t pid;

	if (fd >= 0)
		goto connected;
	if (fd != -ENOENT && fd != -ECONNREFUSED)
		return fd;
	if ((fd = keeper_path(keeper, sizeof keeper)) < 0) {
		log_warnx("cannot find rs-keeper at %s (it is installed next to "
			  "rs-agent; RS_KEEPER names another): %s", keeper, strerror(-fd));
		return fd;
	}
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int e = -errno;
		close(p[0]);
		close(p[1]);
		return e;
	}
	if (pid == 0) {
		char fdarg[16];

		close(p[0]);
		/* the write end goes to the keeper: keep it across exec */
		fcntl(p[1], F_SETFD, 0);
		snprintf(fdarg, sizeof fdarg, "%d", p[1]);
		execl(keeper, "rs-keeper", "--state-dir", ag->state_dir,
		      "--node", ag->node, "--cgroups", ag->cg_off ? "off" : "on",
		      "--ready-fd", fdarg, (char *)NULL);
		dprintf(2, "rs-agent: cannot run %s: %s\n", keeper, strerror(errno));
		_exit(127);
	}
	close(p[1]);
	{
		/* "ok", "busy" (another keeper of this state dir won the
		 * race), "node" (another keeper of this node did) or EOF */
		struct pollfd pf = { p[0], POLLIN, 0 };
		if (poll(&pf, 1, KC_START_TIMEOUT_MS) > 0 &&
		    read(p[0], word, sizeof word - 1) < 0)
			word[0] = '\0';
		close(p[0]);
	}
	if (!strcmp(word, "node")) {
		/* it exited: say who won. Not retired even if it keeps
		 * nothing yet: it is another agent's, starting now */
		if (kc_node_check(ag, false) != -EEXIST)
			log_warnx("another keeper of node %s held its name a moment "
				  "ago: start rs-agent again", ag->node);
		return -EEXIST;
	}
	/* connect to whichever keeper listens now */
	while ((fd = kc_connect_once(ag->state_dir)) < 0) {
		if (clock_mono_ms() >= end)
			return fd;
		poll(NULL, 0, 20);
	}
connected:
	ag->keeper_fd = fd;
	return 0;
}

/* Waits up to the reply timeout for one message. 1, 0 on EOF, -errno. */
static int kc_recv_wait(agent *ag, struct kmsg *h, const uint8_t **p, int *fd)
{
	uint64_t end = clock_mono_ms() + KC_REPLY_TIMEOUT_MS;

	for (;;) {
		int r = kmsg_recv(ag->keeper_fd, ag->kbuf, h, p, fd);
		uint64_t now;
		struct pollfd pf = { ag->keeper_fd, POLLIN, 0 };

		if (r != -EAGAIN)
			return r;
		now = clock_mono_ms();
		if (now >= end)
			return -ETIMEDOUT;
		if (poll(&pf, 1, (int)(end - now)) < 0 && errno != EINTR)
			return -errno;
	}
}

static void kc_send(agent *ag, struct kmsg *h, const void *payload, int fd)
{
	int r = kmsg_send(ag->keeper_fd, h, payload, fd);

	if (r < 0)
		log_warnx("cannot send to the keeper: %s", strerror(-r));
}

static void kc_simple(agent *ag, uint32_t type, uint64_t id, int64_t a)
{
	struct kmsg h = { .type = type, .id = id, .a = a };

	kc_send(ag, &h, NULL, -1);
}

void kc_kill(agent *ag, uint64_t id, int sig)
{
	kc_simple(ag, K_KILL, id, sig);
}

void kc_stop(agent *ag, uint64_t id, int sig)
{
	struct kmsg h = { .type = K_KILL, .id = id, .a = sig, .c = 1 };

	kc_send(ag, &h, NULL, -1);
}

void kc_kill_main(agent *ag, uint64_t id, int sig)
{
	struct kmsg h = { .type = K_KILL, .id = id, .a = sig, .b = 1 };

	kc_send(ag, &h, NULL, -1);
}

int kc_swap(agent *ag, uint64_t a, pid_t apid, uint64_t b, pid_t bpid)
{
	struct kmsg h = { .type = K_SWAP, .id = a, .a = (int64_t)b, .b = apid,
			  .c = bpid };
	int r = kmsg_send(ag->keeper_fd, &h, NULL, -1);

	if (r == 0)
		r = kc_await(ag, K_SWAPPED, a, &h);
	return r < 0 ? r : (int)h.a;
}

void kc_lease(agent *ag, uint64_t deadline_ms, uint32_t lease_ms)
{
	struct kmsg h = { .type = K_LEASE, .a = (int64_t)deadline_ms, .b = lease_ms };

	if (ag->keeper_proto < 3)
		return;   /* an older keeper: it does not know the message */
	kc_send(ag, &h, NULL, -1);
}

void kc_forget(agent *ag, uint64_t id)
{
	kc_simple(ag, K_FORGET, id, 0);
}

int kc_fd_add(agent *ag, uint64_t id, int kind, const char *name, int fd)
{
	struct kmsg h = { .type = K_FD_ADD, .id = id, .a = kind,
			  .len = (uint32_t)strlen(name) };

	return kmsg_send(ag->keeper_fd, &h, name, fd);
}

int kc_fd_store(agent *ag, uint64_t id, const char *name, int fd, bool replace)
{
	struct kmsg h = { .type = K_FD_ADD, .id = id, .a = KFD_STORE,
			  .b = replace, .c = RS_FDSTORE_MAX,
			  .len = (uint32_t)strlen(name) };

	return kmsg_send(ag->keeper_fd, &h, name, fd);
}

void kc_fd_del(agent *ag, uint64_t id, int kind, const char *name)
{
	struct kmsg h = { .type = K_FD_DEL, .id = id, .a = kind,
			  .len = (uint32_t)strlen(name) };

	kc_send(ag, &h, name, -1);
}

/* Saves what a next engine needs to adopt the instance: its Start. */
void kc_meta(agent *ag, const inst *in)
{
	struct kmsg h = { .type = K_META, .id = in->id };
	rs_msg m;
	uint8_t *buf;
	size_t len;

	rs_msg_init(&m, RS_MSG_START);
	m.u.start.instance_id = in->id;
	m.u.start.generation = in->generation;
	if (rs_spec_copy(&m.u.start.spec, &in->spec) == 0 &&
	    wire_encode(&m, &buf, &len) == 0) {
		h.len = (uint32_t)len;
		kc_send(ag, &h, buf, -1);
		free(buf);
	}
	rs_msg_clear(&m);
}

static void kc_queue(agent *ag, const struct kmsg *h)
{
	/* never drop: an exit lost here would never be restarted */
	struct kmsg *n = rs_grow(ag->kq, &ag->kq_cap, ag->kq_len, sizeof *n, 64);

	if (!n)
		fatalx("out of memory queueing the keeper's messages");
	ag->kq = n;
	ag->kq[ag->kq_len++] = *h;
	ev_idle_start(ag->loop, &ag->kq_idle);
}

/* Waits for the keeper's answer of this type (and instance id) to a
 * request just sent, into *out; what comes before it (an exit) is queued
 * for the loop. 0, or -EPIPE / -ETIMEDOUT / -errno. */
static int kc_await(agent *ag, uint32_t type, uint64_t id, struct kmsg *out)
{
	for (;;) {
		const uint8_t *pl;
		int fd, r = kc_recv_wait(ag, out, &pl, &fd);

		if (r <= 0)
			return r == 0 ? -EPIPE : r;
		if (fd >= 0)
			close(fd);
		if (out->type == type && out->id == id)
			return 0;
		kc_queue(ag, out);
	}
}

int kc_spawn(agent *ag, uint64_t id, uint64_t fdsrc, uint32_t restarts,
	     const struct kproto_spawn *sp, const uid_t *uid, gid_t gid,
	     pid_t *pid, uint64_t *ticks, int *step)
{
	struct kmsg h = { .type = K_SPAWN, .id = id, .c = (int64_t)fdsrc,
			  .d = restarts, .a = uid ? (int64_t)*uid + 1 : 0,
			  .b = uid ? (int64_t)gid : 0 };
	size_t len;
	int r;

	if (ag->keeper_proto < KEEPER_PROTO_MIN || ag->keeper_proto > KEEPER_PROTO)
		return -EPROTO;   /* said once, at attach */
	r = kproto_spawn_pack_for(sp, (int)ag->keeper_proto, ag->kbuf,
				  KEEPER_MSG_MAX - sizeof h, &len);
	if (r < 0)
		return r;
	h.len = (uint32_t)len;
	r = kmsg_send(ag->keeper_fd, &h, ag->kbuf, -1);
	if (r == 0)
		r = kc_await(ag, K_SPAWNED, id, &h);
	if (r < 0)
		return r;
	if (h.a < 0 && step)
		*step = ag->keeper_proto >= 7 && h.b > 0 && h.b < KSTEP__NR ? (int)h.b : 0;
	if (h.a < 0)
		return (int)h.a;
	*pid = (pid_t)h.a;
	*ticks = (uint64_t)h.b;
	return 0;
}

int kc_spawn_async(agent *ag, uint64_t id, const struct kproto_spawn *sp,
		   const uid_t *uid, gid_t gid)
{
	struct kmsg h = { .type = K_SPAWN, .id = id,
			  .a = uid ? (int64_t)*uid + 1 : 0,
			  .b = uid ? (int64_t)gid : 0 };
	size_t len;
	int r;

	if (ag->keeper_proto < KEEPER_PROTO_MIN || ag->keeper_proto > KEEPER_PROTO)
		return -EPROTO;
	r = kproto_spawn_pack_for(sp, (int)ag->keeper_proto, ag->kbuf,
				  KEEPER_MSG_MAX - sizeof h, &len);
	if (r < 0)
		return r;
	h.len = (uint32_t)len;
	return kmsg_send(ag->keeper_fd, &h, ag->kbuf, -1);
}

/* Sends h (its payload p) and waits for the keeper's answer of type
 * want about the same instance, queueing what comes before it; the
 * answer's text into err (n bytes). Its a (0 or -errno), or -errno of the
 * exchange. */
static int kc_call(agent *ag, struct kmsg *h, const uint8_t *p, uint32_t want,
		   char *err, size_t n)
{
	uint64_t id = h->id;
	const uint8_t *pl;
	int fd, r;

	if ((r = kmsg_send(ag->keeper_fd, h, p, -1)) < 0)
		return r;
	for (;;) {
		if ((r = kc_recv_wait(ag, h, &pl, &fd)) <= 0)
			return r == 0 ? -EPIPE : r;
		if (fd >= 0)
			close(fd);
		if (h->type == want && h->id == id)
			break;
		kc_queue(ag, h);
	}
	if (n)
		snprintf(err, n, "%.*s", (int)(h->len < n ? h->len : n - 1), (const char *)pl);
	return (int)h->a;
}

int kc_limits(agent *ag, uint64_t id, const rs_limits *l, char *err, size_t n)
{
	struct kcg_limits kl = { .mem_max = l->memory_max, .mem_high = l->memory_high,
				 .cpu_weight = l->cpu_weight, .cpu_max = l->cpu_max,
				 .pids_max = l->pids_max };
	struct kmsg h = { .type = K_LIMITS, .id = id, .len = KPROTO_LIMITS_LEN };
	uint8_t buf[KPROTO_LIMITS_LEN];

	if (ag->keeper_proto < 6)
		return -EPROTONOSUPPORT;
	kproto_limits_pack(&kl, buf);
	return kc_call(ag, &h, buf, K_LIMITED, err, n);
}

int kc_renice(agent *ag, uint64_t id, bool set, int nice, const char *cpus,
	      char *err, size_t n)
{
	struct kmsg h = { .type = K_RENICE, .id = id, .a = nice, .b = set ? 1 : 0,
			  .len = (uint32_t)strlen(cpus) };

	if (ag->keeper_proto < 7)
		return -EPROTONOSUPPORT;
	return kc_call(ag, &h, (const uint8_t *)cpus, K_RENICED, err, n);
}

int kc_sync(agent *ag)
{
	struct kmsg h = { .type = K_SYNC };
	int r = kmsg_send(ag->keeper_fd, &h, NULL, -1);

	return r < 0 ? r : kc_await(ag, K_SYNCED, 0, &h);
}

static void kc_dispatch(agent *ag, const struct kmsg *h)
{
	switch (h->type) {
	case K_EXITED:
		switch (probe_exec_exited(ag, h->id, (pid_t)h->a, (int)h->b)) {
		case 2:
			kc_forget(ag, h->id);   /* a killed probe run's record */
			/* fall through */
		case 1:
			kc_simple(ag, K_EXIT_ACK, h->id, h->a);
			return;
		default:
			break;
		}
		if (!svc_child_exited(ag, h->id, (pid_t)h->a, (int)h->b,
				      ag->keeper_proto >= 6 && (h->d & 1),
				      ag->keeper_proto >= 6 && h->d > 1 && h->d < (1 << 20) ?
				      (int)(h->d >> 1) : 0, (uint64_t)h->c) &&
		    !svc_find(ag, h->id))
			kc_forget(ag, h->id);   /* no instance of ours: drop its record */
		kc_simple(ag, K_EXIT_ACK, h->id, h->a);
		break;
	case K_SPAWNED:
		if (probe_exec_spawned(ag, h->id, h->a))
			break;   /* an exec probe's run (kc_spawn_async) */
		/* an answer that came after kc_spawn gave up: that process runs
		 * untracked, end it */
		if (h->a > 0) {
			inst *in = svc_find(ag, h->id);
			if (!in || in->pid != (pid_t)h->a) {
				log_warnx("instance %llu: late start of pid %lld, killing it",
					  (unsigned long long)h->id, (long long)h->a);
				kc_kill(ag, h->id, SIGKILL);
			}
		}
		break;
	default:
		log_warnx("unexpected message type %u from the keeper", h->type);
		break;
	}
}

/* Handles what kc_await queued, in order. */
static void kq_drain(agent *ag)
{
	/* handling may queue more (a restart's spawn waits for its answer):
	 * take one at a time from the front */
	ev_idle_stop(ag->loop, &ag->kq_idle);
	while (ag->kq_len) {
		struct kmsg m = ag->kq[0];

		memmove(ag->kq, ag->kq + 1, --ag->kq_len * sizeof *ag->kq);
		kc_dispatch(ag, &m);
	}
}

static void kq_idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	kq_drain(w->data);
}

static void kc_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	agent *ag = w->data;

	for (int i = 0; i < 256; i++) {
		const uint8_t *p;
		struct kmsg h;
		int fd, r = kmsg_recv(ag->keeper_fd, ag->kbuf, &h, &p, &fd);

		if (r == -EAGAIN)
			return;
		if (r <= 0)
			fatalx("the keeper is gone (%s): this node's services are "
			       "no longer supervised; exiting so a new keeper starts",
			       r == 0 ? "connection closed" : strerror(-r));
		if (fd >= 0)
			close(fd);
		/* in the keeper's order: what a wait for an answer queued
		 * first (a probe's K_SPAWNED before its K_EXITED) */
		kq_drain(ag);
		kc_dispatch(ag, &h);
	}
}

/* Wall-clock ms of a process start given in clock ticks since boot. */
static uint64_t ticks_to_wall_ms(uint64_t ticks)
{
	static unsigned long long btime;
	long hz = sysconf(_SC_CLK_TCK);

	if (!btime) {
		FILE *f = fopen("/proc/stat", "re");
		char line[256];
		while (f && fgets(line, sizeof line, f))
			if (sscanf(line, "btime %llu", &btime) == 1)
				break;
		if (f)
			fclose(f);
	}
	if (!btime || hz <= 0 || !ticks)
		return clock_wall_ms();
	return btime * 1000ull + ticks * 1000ull / (uint64_t)hz;
}

/* One K_INST: rebuild the instance the previous engine had. */
static void kc_adopt_one(agent *ag, const struct kmsg *h, const uint8_t *p,
			 int notify_fd)
{
	rs_msg m;
	int r;

	if (h->c == 0 || (h->id & HO_ID_BIT) || h->len == 0 ||
	    wire_decode(p, h->len, &m) < 0 ||
	    m.type != RS_MSG_START) {
		/* dead and reported, or nothing to rebuild it from */
		if (PROBE_ID_IS(h->id))
			log_info("an exec probe's run (keeper record %llu) outlived "
				 "the previous engine: killing it",
				 (unsigned long long)h->id);
		else if (h->id & HO_ID_BIT)
			log_warnx("instance %llu: an update was in progress; "
				  "stopping the new process, the old one serves on",
				  (unsigned long long)(h->id & HO_ID_MASK));
		else if (h->len && h->c != 0)
			log_warnx("instance %llu: keeper's record is unreadable, "
				  "dropping it", (unsigned long long)h->id);
		if (notify_fd >= 0)
			close(notify_fd);
		/* a live one is killed; its record goes when its exit is seen
		 * (forget is refused while it lives) */
		if (h->c == 1)
			kc_kill(ag, h->id, SIGKILL);
		else
			kc_forget(ag, h->id);
		return;
	}
	r = svc_adopt(ag, &m.u.start, (pid_t)h->a, (uint64_t)h->b,
		      ticks_to_wall_ms((uint64_t)h->b), (uint32_t)h->d, notify_fd);
	if (r < 0) {
		log_warnx("instance %llu: cannot adopt: %s",
			  (unsigned long long)h->id, strerror(-r));
		if (notify_fd >= 0)
			close(notify_fd);
	}
	rs_msg_clear(&m);
}

/* kc_attach once; while the keeper is still attached to an engine that
 * is going away (killed just now: the keeper has not seen its socket
 * close yet), tries again on a new connection for up to
 * KC_BUSY_WAIT_MS. An engine still there then is a second agent on this
 * state dir: fatal. The keeper answers such a connection K_BUSY and
 * closes it, with our Hello unread: the close can reach us first as a
 * reset (ECONNRESET; tests/skew.sh met it on a loaded machine), which is
 * the same answer. */
int kc_attach(agent *ag)
{
	uint64_t end = clock_mono_ms() + KC_BUSY_WAIT_MS;
	int r;

	ag->keeper_busy_pid = 0;
	while ((r = kc_attach_once(ag)) == -EBUSY || r == -EPIPE || r == -ECONNRESET) {
		if (clock_mono_ms() >= end)
			break;
		close(ag->keeper_fd);
		ag->keeper_fd = -1;
		poll(NULL, 0, 50);
		while ((ag->keeper_fd = kc_connect_once(ag->state_dir)) < 0) {
			if (clock_mono_ms() >= end)
				return ag->keeper_fd;
			poll(NULL, 0, 50);
		}
	}
	if (r == -EBUSY)
		fatalx("another rs-agent (pid %d) is attached to the keeper of %s; "
		       "one agent per state dir", (int)ag->keeper_busy_pid, ag->state_dir);
	return r;
}

/* What of a privilege profile this node can apply (ag->privs, Hello
 * field 11): a keeper of protocol 7, then what the agent's capabilities
 * allow (the keeper runs with the same: it is the agent's child). Says
 * it once. */
static void kc_privs(agent *ag)
{
	struct __user_cap_header_struct hd = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	uint64_t eff = 0;
	char pv[64], why[200] = "";

	memset(d, 0, sizeof d);
	if (syscall(SYS_capget, &hd, d) == 0) {
		eff = d[0].effective | (uint64_t)d[1].effective << 32;
		ag->cap_perm = d[0].permitted | (uint64_t)d[1].permitted << 32;
	}
	CPU_ZERO(&ag->cpus);
	if (sched_getaffinity(0, sizeof ag->cpus, &ag->cpus) < 0)
		CPU_ZERO(&ag->cpus);
	ag->privs = 0;
	if (ag->keeper_proto >= 7) {
		ag->privs = RS_PRIV_PROFILE;
		if (eff & (1ull << CAP_SYS_ADMIN))
			ag->privs |= RS_PRIV_MOUNT;
		if (eff & (1ull << CAP_SYS_NICE))
			ag->privs |= RS_PRIV_NICE;
		if (eff & (1ull << CAP_SETPCAP))
			ag->privs |= RS_PRIV_CAPS;
	} else {
		snprintf(why, sizeof why, " (its keeper is an older rs-agent's)");
	}
	if (!why[0] && (ag->privs & RS_PRIV__ALL) != RS_PRIV__ALL)
		snprintf(why, sizeof why, " (without%s%s%s)",
			 ag->privs & RS_PRIV_MOUNT ? "" :
			 " CAP_SYS_ADMIN: no read_only_root, private_tmp;",
			 ag->privs & RS_PRIV_NICE ? "" : " CAP_SYS_NICE: no nice below 0;",
			 ag->privs & RS_PRIV_CAPS ? "" : " CAP_SETPCAP: no caps;");
	rs_priv_format(ag->privs, pv, sizeof pv);
	log_info("profiles: can apply %s%s", pv, why);
}

/* What the keeper's K_HELLO_END says of its cgroups (p[len], "1 K PATH"
 * or "0 0 WHY"; NULL: an older keeper), with the agent's own wish: sets
 * ag->cg_on, cg_kill and cg_where, and says once what is used. */
static void kc_cgroups(agent *ag, const char *p, size_t len)
{
	char text[sizeof ag->cg_where + 32];
	int on = 0, kill_ok = 0, skip = 0, got;
	unsigned ctl = 0, v1 = 0;

	ag->cg_on = false;
	ag->cg_kill = false;
	ag->cg_ctl = ag->cg_ctl_v1 = 0;
	if (!p) {
		snprintf(ag->cg_where, sizeof ag->cg_where, "the keeper (pid %d) is "
			 "an older rs-agent's", (int)ag->keeper_pid);
	} else {
		len = len < sizeof text - 1 ? len : sizeof text - 1;
		memcpy(text, p, len);
		text[len] = '\0';
		got = ag->keeper_proto >= 6 ?
			sscanf(text, "%d %d %u %u %n", &on, &kill_ok, &ctl, &v1, &skip) - 2 :
			sscanf(text, "%d %d %n", &on, &kill_ok, &skip);
		if (got < 2 || !text[skip])
			snprintf(ag->cg_where, sizeof ag->cg_where, "the keeper's answer "
				 "is unreadable");
		else
			rs_strlcpy(ag->cg_where, text + skip, sizeof ag->cg_where);
		ag->cg_on = on == 1 && !ag->cg_off;
		ag->cg_kill = kill_ok == 1;
		ag->cg_ctl = ag->cg_on ? ctl & RS_CTL__ALL : 0;
		ag->cg_ctl_v1 = ag->cg_on ? v1 & ag->cg_ctl : 0;
	}
	if (ag->cg_on) {
		char c[32], c1[32];
		rs_ctl_format(ag->cg_ctl, c, sizeof c);
		rs_ctl_format(ag->cg_ctl_v1, c1, sizeof c1);
		log_info("cgroups: a cgroup per instance under %s, cgroup.kill %s; "
			 "limits: controllers %s%s%s%s", ag->cg_where, ag->cg_kill ? "yes" :
			 "no (SIGKILL to each process in cgroup.procs)", c,
			 ag->cg_ctl_v1 ? " (on cgroup v1: " : "",
			 ag->cg_ctl_v1 ? c1 : "", ag->cg_ctl_v1 ? ")" : "");
	}
	else
		log_info("cgroups: none (%s); instances are tracked by process group",
			 ag->cg_off ? ag->cg_off : ag->cg_where);
}

static int kc_attach_once(agent *ag)
{
	struct kmsg h = { .type = K_HELLO, .a = getpid(), .b = KEEPER_PROTO };
	size_t n = 0;
	int r;

	ev_idle_init(&ag->kq_idle, kq_idle_cb);
	ag->kq_idle.data = ag;
	r = kmsg_send(ag->keeper_fd, &h, NULL, -1);
	if (r < 0)
		return r;
	for (;;) {
		const uint8_t *p;
		struct kmsg m;
		int fd;

		r = kc_recv_wait(ag, &m, &p, &fd);
		if (r <= 0)
			return r == 0 ? -EPIPE : r;
		if (m.type == K_BUSY) {
			ag->keeper_busy_pid = (pid_t)m.a;
			return -EBUSY;
		}
		if (m.type == K_HELLO_END) {
			ag->keeper_pid = (pid_t)m.a;
			ag->keeper_proto = m.b;
			kc_cgroups(ag, m.b >= 5 ? (const char *)p : NULL, m.b >= 5 ? m.len : 0);
			kc_privs(ag);
			/* the lease a previous engine gave (protocol 3): ours
			 * until rsd speaks to us */
			if (m.b >= 3 && m.c > 0 && m.d > 0) {
				ag->lease.at = (uint64_t)m.c;
				ag->lease.ms = (uint32_t)m.d;
			}
			break;
		}
		if (m.type != K_INST) {
			if (fd >= 0)
				close(fd);
			kc_queue(ag, &m);
			continue;
		}
		kc_adopt_one(ag, &m, p, fd);
		n += m.c != 0;
	}
	log_info("keeper pid %d; adopted %zu running instance(s)",
		 (int)ag->keeper_pid, n);
	if (ag->keeper_proto < KEEPER_PROTO_MIN || ag->keeper_proto > KEEPER_PROTO)
		log_warnx("the keeper (pid %d) speaks keeper protocol %lld, this "
			  "rs-agent %d: an rs-keeper of an older rs-agent still runs "
			  "this node's services. They are adopted and watched, but "
			  "nothing can be started or restarted until it is replaced: "
			  "stop rs-agent cleanly (SIGTERM stops the services and the "
			  "keeper) and start it again", (int)ag->keeper_pid,
			  (long long)ag->keeper_proto, KEEPER_PROTO);
	else if (ag->keeper_proto < KEEPER_PROTO)
		log_warnx("the keeper (pid %d) is an older rs-agent's (keeper protocol "
			  "%lld): services start and restart as usual, but %sits "
			  "services append to their logs themselves (no times or pids "
			  "for rsctl logs --timestamps, --since, --previous; rotated "
			  "by copy, which can lose lines); restart rs-agent cleanly "
			  "(SIGTERM stops the services and the keeper) to replace it",
			  (int)ag->keeper_pid, (long long)ag->keeper_proto,
			  ag->keeper_proto < 3 ? "it cannot stop fence: stop services "
			  "by itself if this agent dies, and " : "");
	ev_io_init(&ag->keeper_io, kc_io_cb, ag->keeper_fd, EV_READ);
	ag->keeper_io.data = ag;
	ev_io_start(ag->loop, &ag->keeper_io);
	return 0;
}

void kc_quit(agent *ag)
{
	struct pollfd pf = { ag->keeper_fd, POLLIN, 0 };
	uint64_t end = clock_mono_ms() + KC_REPLY_TIMEOUT_MS;

	if (ag->keeper_fd < 0)
		return;
	ev_io_stop(ag->loop, &ag->keeper_io);
	ev_idle_stop(ag->loop, &ag->kq_idle);
	kc_simple(ag, K_QUIT, 0, 0);
	/* the keeper closes its end when it exits */
	while (clock_mono_ms() < end) {
		char c;
		ssize_t n;

		if (poll(&pf, 1, 100) <= 0)
			continue;
		n = recv(ag->keeper_fd, &c, 1, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			break;
	}
	close(ag->keeper_fd);
	ag->keeper_fd = -1;
}
