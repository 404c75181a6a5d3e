/*
 * keeper.c - the keeper process (see keeper.h): a poll loop over its
 * listening socket, the one attached engine and a signalfd.
 *
 * Each instance is a record: the pid it runs (or ran last), the fds held
 * for it, and the engine's opaque meta. Exits are queued until the engine
 * acknowledges them, so a death while no engine is attached is reported
 * to the next one. Nothing here trusts the engine's bytes: every message
 * is length-checked and a malformed one drops the connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <grp.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "kcgroup.h"
#include "keeper.h"
#include "klog.h"
#include "kproto.h"
#include "log.h"
#include "profile.h"

#include <linux/capability.h>

#define KEEPER_TERM_GRACE_MS 3000
#define KEEPER_CHILD_STACK   (256u << 10)
#define KEEPER_IDLE_EXIT_MS  60000
#define KEEPER_OUT_MAX       (1u << 20)   /* queued messages for a slow engine */
/* A killed cgroup not empty after this long holds processes SIGKILL
 * cannot end (uninterruptible sleep: a hung NFS or FUSE call, a frozen
 * v1 freezer cgroup): the instance's exit goes out anyway and the
 * cgroup is set aside (drain_stuck). RS_TEST_DRAIN_MAX_MS changes it. */
#define KEEPER_DRAIN_MAX_MS  10000
#define KEEPER_STUCK_MAX     64           /* set-aside cgroups remembered */
#define KEEPER_STUCK_TRY_MS  1000         /* how often they are rmdir'ed */

struct kfd {
	int  fd;
	int  kind;
	char name[KEEPER_FDNAME_MAX];
};

struct krec {
	struct krec *next;
	uint64_t     id;
	pid_t        pid;        /* live process, or the last one */
	int          alive;
	uint64_t     ticks;      /* /proc/PID/stat start time */
	int64_t      restarts;   /* the engine's count at the last spawn */
	unsigned     dropped;    /* fds refused over the limit */
	uint8_t     *meta;
	size_t       metalen;
	struct kfd  *fds;        /* nfds of cap (grown as needed, at most
				  * KEEPER_FDS_MAX) */
	int          nfds, capfds;
	/* fence: stop (KSPAWN_FENCED): stopped at the engine's lease */
	bool         fenced;
	int          stop_sig;
	uint64_t     stop_ms;
	bool         fence_hit;  /* its process got the stop signal */
	uint64_t     kill_at;    /* mono ms of the SIGKILL that follows, 0 none */
	struct klog_pipe *out;   /* the live process's stdout/stderr */
	/* its cgroup (kcgroup.h): made at its first spawn, kept across
	 * restarts, removed with the record */
	int          cg_fd;      /* -1: none (a process group only) */
	char         cg_name[KCG_NAME_MAX];
	int          cg_wd;      /* inotify watch of its cgroup.events, -1 */
	/* its limits (protocol 6), written into its cgroups before each
	 * spawn and at K_LIMITS; on a v1 hierarchy, its cgroups there
	 * (named v1name, kept across restarts, removed with the record) */
	struct kcg_limits lim;
	int          v1fd[KCG_NCTL];
	char         v1name[KCG_NAME_MAX];
	uint64_t     oom_base;   /* the OOM kill count at its spawn */
	bool         cg_killed;  /* cgroup.kill was written to it: removed once
				  * empty, a new one made at the next spawn
				  * (cg_kill) */
	/* the main process is reaped and what it left in the cgroup is being
	 * killed: alive stays 1, the exit waits here until "populated 0" */
	bool         main_dead;
	int          held_status;
	uint64_t     held_ns;
	uint64_t     drain_ms;   /* mono ms the drain began */
	/* a stop is under way (K_KILL with c = 1, or the fence's): its
	 * signal went to the main process's group; when the main process
	 * dies, what is left of the instance in its cgroup gets that signal
	 * (stop_sig_now) and until stop_kill_at (mono ms) to end by itself,
	 * then cgroup.kill */
	bool         stopping;
	int          stop_sig_now;
	uint64_t     stop_kill_at;
	uint64_t     killed_ms;  /* mono ms of cg_kill */
};

struct kexit {
	uint64_t id;
	pid_t    pid;
	int      status;
	uint64_t ns;
	int      oom;    /* the OOM killer killed in its memory cgroup */
	int      stuck;  /* processes SIGKILL could not end (drain_stuck) */
};

static struct {
	const char   *dir;
	int           lsock, conn, sigfd;
	int           nsock;     /* the node's name (keeper_node_addr), -1 none */
	pid_t         engine;
	struct krec  *recs;
	struct kexit *exits;
	size_t        nexits, capexits;
	int           quit;
	int           cap_last;  /* /proc/sys/kernel/cap_last_cap, read once */
	uint8_t      *buf;
	struct kout  *out;       /* to_engine's queue */
	size_t        nout, capout;
	uint64_t      lease_at;  /* the engine's lease deadline (mono ms), 0 none */
	uint64_t      lease_ms;
	struct kcg    cg;        /* the node's cgroups (cg.dirfd -1: none) */
	int           ino;       /* inotify: draining cgroups' cgroup.events */
	int           ndraining; /* records with main_dead */
	bool          cg_procs;  /* RS_KEEPER_CG_SPAWN=procs: the child enters
				  * its cgroup itself (no clone3) */
	uint64_t      drain_max_ms; /* KEEPER_DRAIN_MAX_MS or the test's */
	/* cgroups set aside with processes SIGKILL could not end: removed
	 * once empty (tried every KEEPER_STUCK_TRY_MS; past the list, or by
	 * a next keeper's sweep) */
	char          stuck[KEEPER_STUCK_MAX][KCG_NAME_MAX];
	int           nstuck;
	uint64_t      stuck_try_at;
} K = { .lsock = -1, .conn = -1, .sigfd = -1, .nsock = -1, .ino = -1,
	.cg = { .dirfd = -1 } };

static struct krec *rec_find(uint64_t id)
{
	for (struct krec *r = K.recs; r; r = r->next)
		if (r->id == id)
			return r;
	return NULL;
}

static struct krec *rec_get(uint64_t id)
{
	struct krec *r = rec_find(id);

	if (r)
		return r;
	r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->id = id;
	r->cg_fd = -1;
	r->cg_wd = -1;
	for (int i = 0; i < KCG_NCTL; i++)
		r->v1fd[i] = -1;
	r->next = K.recs;
	K.recs = r;
	return r;
}

static void rec_close_fds(struct krec *r, int kind, const char *name)
{
	int j = 0;

	for (int i = 0; i < r->nfds; i++) {
		struct kfd *f = &r->fds[i];
		if ((kind == 0 || f->kind == kind) &&
		    (!name || !name[0] || strcmp(f->name, name) == 0))
			close(f->fd);
		else
			r->fds[j++] = *f;
	}
	r->nfds = j;
}

static void rec_free(struct krec *r)
{
	struct krec **pp = &K.recs;

	while (*pp && *pp != r)
		pp = &(*pp)->next;
	if (*pp)
		*pp = r->next;
	rec_close_fds(r, 0, NULL);
	klog_pipe_release(&r->out);
	if (r->cg_wd >= 0)
		inotify_rm_watch(K.ino, r->cg_wd);
	if (r->cg_fd >= 0) {
		close(r->cg_fd);
		/* empty unless a process outlived every kill: then it stays,
		 * for the next keeper's sweep */
		int e = kcg_remove(&K.cg, r->cg_name);
		if (e < 0 && e != -ENOENT)
			log_warnx("instance %llu: cannot remove cgroup %s/%s, ignoring",
				  (unsigned long long)r->id, K.cg.path, r->cg_name);
	}
	kcg_v1_remove(&K.cg, r->v1name, r->v1fd);
	free(r->meta);
	free(r->fds);
	free(r);
}

static void detach(const char *why);
static void cg_kill(struct krec *r);

/* Messages the engine's socket could not take yet, in order. The keeper
 * never blocks on the engine: the engine may itself be blocked sending
 * to us (a burst of stops), and each side waiting for the other would
 * deadlock. */
struct kout {
	struct kmsg h;
	uint8_t    *payload;
	int         fd;
};

static void out_drop(void)
{
	for (size_t i = 0; i < K.nout; i++) {
		free(K.out[i].payload);
		if (K.out[i].fd >= 0)
			close(K.out[i].fd);
	}
	K.nout = 0;
}

/* Sends what is queued; stops at the first EAGAIN. */
static void out_flush(void)
{
	size_t done = 0;

	while (done < K.nout && K.conn >= 0) {
		struct kout *o = &K.out[done];
		int r = kmsg_send(K.conn, &o->h, o->payload, o->fd);

		if (r == -EAGAIN)
			break;
		if (r < 0) {
			memmove(K.out, K.out + done, (K.nout - done) * sizeof *K.out);
			K.nout -= done;
			detach("cannot be written to");
			return;
		}
		free(o->payload);
		if (o->fd >= 0)
			close(o->fd);
		o->payload = NULL;   /* a detach below must not free it again */
		o->fd = -1;
		done++;
	}
	memmove(K.out, K.out + done, (K.nout - done) * sizeof *K.out);
	K.nout -= done;
}

static void to_engine(const struct kmsg *h, const void *payload, int fd)
{
	struct kout *o;
	int r;

	if (K.conn < 0)
		return;
	if (K.nout == 0) {
		r = kmsg_send(K.conn, h, payload, fd);
		if (r == 0)
			return;
		if (r != -EAGAIN) {
			detach("cannot be written to");
			return;
		}
	}
	if (K.nout == K.capout) {
		size_t cap = K.capout ? K.capout * 2 : 64;
		struct kout *n = cap <= KEEPER_OUT_MAX ? realloc(K.out, cap * sizeof *n) : NULL;

		if (!n) {
			detach("does not read what it is sent");
			return;
		}
		K.out = n;
		K.capout = cap;
	}
	o = &K.out[K.nout];
	o->h = *h;
	o->payload = h->len ? malloc(h->len) : NULL;
	o->fd = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 3) : -1;
	if ((h->len && !o->payload) || (fd >= 0 && o->fd < 0)) {
		free(o->payload);
		if (o->fd >= 0)
			close(o->fd);
		detach("cannot be queued for (out of memory)");
		return;
	}
	if (h->len)
		memcpy(o->payload, payload, h->len);
	K.nout++;
}

/* Reads a small file (a /proc entry) into buf as a string. The length,
 * or 0 if it cannot be read or is empty. */
static size_t read_small(const char *path, char *buf, size_t n)
{
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	r = read(fd, buf, n - 1);
	close(fd);
	if (r <= 0)
		return 0;
	buf[r] = '\0';
	return (size_t)r;
}

/* The start time of pid in clock ticks since boot (field 22), or 0. */
static uint64_t proc_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long t = 0;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (!read_small(path, buf, sizeof buf))
		return 0;
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			 "%*u %*u %*d %*d %*d %*d %*d %*d %llu", &t) != 1)
		return 0;
	return t;
}

static bool stuck_has(const char *name);

struct child {
	struct krec  *r;
	char        **argv, **env;
	const char   *cwd;
	int           logfd;     /* the pipe's write end: stdout and stderr */
	pid_t         keeper;
	bool          as_user;   /* drop to uid/gid/groups before exec */
	bool          harden;    /* as_user: empty the capability bounding set,
				  * then PR_SET_NO_NEW_PRIVS */
	int           cap_last;  /* the highest capability the kernel knows */
	uid_t         uid;
	gid_t         gid;
	gid_t         groups[KEEPER_GROUPS_MAX];
	int           ngroups;
	int           cg_procs;  /* cgroup.procs to write "0" to (the child
				  * enters its cgroup itself), -1: none */
	int           v1procs[KCG_NCTL]; /* its v1 cgroups' cgroup.procs,
				  * written "0" to the same way, -1: none */
	/* its profile (protocol 7), everything worked out before the clone */
	uint32_t      prof;      /* KPROF_* */
	uint64_t      caps;      /* KPROF_CAPS: the capabilities kept */
	int           nnp;       /* 1 on, 0 off */
	bool          nice_set;
	int           nice;
	bool          cpus_set;
	cpu_set_t     cpus;
	char         *mnts;      /* KPROF_RO_ROOT: nmnts mount points, each
				  * NUL-terminated, one after the other */
	unsigned long *mnt_flags; /* the flags each keeps (nosuid, ...) */
	int           nmnts;
	bool          tmp, var_tmp; /* KPROF_PRIVATE_TMP: which exist */
	volatile int  step;    /* KSTEP_*: where the child is */
	volatile int  err;     /* set by the child when it cannot exec */
};

/* The new process, sharing the keeper's memory (CLONE_VM|CLONE_VFORK:
 * the keeper waits until it execs or exits, as posix_spawn does, with no
 * page tables copied). Becomes the service; never returns. */
static int child_exec(void *arg)
{
	struct child *c = arg;
	struct krec *r = c->r;
	char **env = c->env;
	int nl = 0, target = 3, fd;
	int src[KEEPER_FDS_MAX];
	const char *m;
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	/* its cgroup first, before it can start anything (without clone3:
	 * with it, the child is born there) */
	c->step = KSTEP_CGROUP;
	if (c->cg_procs >= 0 && write(c->cg_procs, "0", 1) != 1)
		goto fail;
	/* and its v1 cgroups (the limits, where the host has the
	 * controllers only there): before it runs a line of its own */
	for (int i = 0; i < KCG_NCTL; i++)
		if (c->v1procs[i] >= 0 && write(c->v1procs[i], "0", 1) != 1)
			goto fail;
	setsid();
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != c->keeper)   /* the keeper died before the prctl */
		_exit(127);
	/* stdout and stderr first: the pipe's fd may be one of the targets
	 * 3.. below */
	c->step = KSTEP_FDS;
	if (dup2(c->logfd, 1) < 0 || dup2(1, 2) < 0)
		goto fail;
	/* listening sockets first, stored fds after: moved clear of the
	 * targets 3.. first, so no dup2 overwrites a source */
	for (int kind = KFD_LISTEN; kind <= KFD_STORE; kind++)
		for (int i = 0; i < r->nfds; i++)
			if (r->fds[i].kind == kind) {
				src[nl] = fcntl(r->fds[i].fd, F_DUPFD_CLOEXEC,
						3 + KEEPER_FDS_MAX + 1);
				if (src[nl] < 0)
					goto fail;
				nl++;
			}
	for (int i = 0; i < nl; i++, target++)
		if (dup2(src[i], target) < 0)
			goto fail;
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || dup2(fd, 0) < 0)
		goto fail;
	/* the profile's mounts (docs/design.md "Profiles"): a mount
	 * namespace of its own, nothing of it propagating back; every mount
	 * but /dev, /proc, /sys and what is under them read-only (a bind
	 * remount keeps its nosuid/nodev/noexec); then fresh tmpfs on /tmp
	 * and /var/tmp, writable, on top */
	if (c->prof & KPROF_MOUNTS) {
		c->step = KSTEP_MOUNTNS;
		if (unshare(CLONE_NEWNS) < 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
			goto fail;
		c->step = KSTEP_RO_ROOT;
		m = c->mnts;
		for (int i = 0; i < c->nmnts; i++, m += strlen(m) + 1)
			if (mount(NULL, m, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY |
				  c->mnt_flags[i], NULL) < 0 && errno != ENOENT)
				goto fail;
		c->step = KSTEP_TMP;
		if (c->tmp && mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV,
				    "mode=1777") < 0)
			goto fail;
		if (c->var_tmp && mount("tmpfs", "/var/tmp", "tmpfs", MS_NOSUID | MS_NODEV,
					"mode=1777") < 0)
			goto fail;
	}
	/* scheduling: before the uid changes (a nice below 0 needs
	 * CAP_SYS_NICE) */
	c->step = KSTEP_NICE;
	if (c->nice_set && setpriority(PRIO_PROCESS, 0, c->nice) < 0)
		goto fail;
	c->step = KSTEP_CPUS;
	if (c->cpus_set && sched_setaffinity(0, sizeof c->cpus, &c->cpus) < 0)
		goto fail;
	/* the output goes to the keeper, which writes the log; now become
	 * the service's user, groups first, the uid last. Unless the spec
	 * keeps them, no
	 * capability can come back through exec (the bounding set is empty,
	 * or holds only the profile's caps, which needs CAP_SETPCAP: before
	 * setuid) and no setuid/file-cap program can raise privileges again
	 * (no_new_privs) */
	c->step = KSTEP_BOUNDING;
	for (int cap = 0; (c->harden || c->prof & KPROF_CAPS) && cap <= c->cap_last; cap++)
		if (!(c->prof & KPROF_CAPS && cap < 64 && c->caps & (1ull << cap)) &&
		    prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			goto fail;
	c->step = KSTEP_USER;
	/* the kept capabilities survive the setuid (permitted only; the
	 * effective set is raised again below) */
	if (c->as_user && c->prof & KPROF_CAPS && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		goto fail;
	if (c->as_user && (setgroups((size_t)c->ngroups, c->groups) < 0 ||
			   setgid(c->gid) < 0 || setuid(c->uid) < 0))
		goto fail;
	if (c->prof & KPROF_CAPS) {
		/* permitted, effective and inheritable: the kept ones only;
		 * as another user also ambient, so its exec keeps them */
		struct __user_cap_header_struct hd = { _LINUX_CAPABILITY_VERSION_3, 0 };
		struct __user_cap_data_struct d[2] = { { 0, 0, 0 }, { 0, 0, 0 } };
		d[0].effective = d[0].permitted = d[0].inheritable = (uint32_t)c->caps;
		d[1].effective = d[1].permitted = d[1].inheritable = (uint32_t)(c->caps >> 32);
		c->step = KSTEP_CAPS;
		if (syscall(SYS_capset, &hd, d) < 0)
			goto fail;
		c->step = KSTEP_AMBIENT;
		for (int cap = 0; c->as_user && cap <= c->cap_last && cap < 64; cap++)
			if (c->caps & (1ull << cap) &&
			    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
				goto fail;
	}
	c->step = KSTEP_NNP;
	if (c->nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		goto fail;
	/* changing credentials clears the death signal: set it again */
	if (c->as_user && (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 ||
			   getppid() != c->keeper))
		goto fail;
	c->step = KSTEP_CWD;
	if (chdir(c->cwd[0] ? c->cwd : "/") < 0)
		goto fail;
	if (nl) {
		/* LISTEN_PID is this pid: why the keeper forks, not spawns */
		for (char **v = env; *v; v++)
			if (strncmp(*v, "LISTEN_PID=", 11) == 0) {
				static char pidvar[32];
				snprintf(pidvar, sizeof pidvar, "LISTEN_PID=%d", (int)getpid());
				*v = pidvar;
			}
	}
	c->step = KSTEP_EXEC;
	execvpe(c->argv[0], c->argv, env);
fail:
	c->err = errno ? errno : ENOEXEC;
	_exit(127);
}

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

/* clone3's argument (linux/sched.h, which does not mix with glibc's
 * sched.h). */
struct kclone_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack,
		 stack_size, tls, set_tid, set_tid_size, cgroup;
};

#if defined(__x86_64__)
/* clone3 with the child on its own stack calling fn(arg) and exiting
 * with what it returns (glibc 2.36 has no clone3 wrapper, and a child
 * of syscall() could not return from it on a new stack). The child's
 * pid, or -1 with errno set. */
static pid_t clone3_call(struct kclone_args *ca, int (*fn)(void *), void *arg)
{
	register void *rfn __asm__("r12") = (void *)fn;
	register void *rarg __asm__("r13") = arg;
	long ret;

	__asm__ volatile(
		"syscall\n\t"
		"testq %%rax, %%rax\n\t"
		"jnz 1f\n\t"
		/* the child, on ca->stack: r12 and r13 survive the syscall */
		"xorl %%ebp, %%ebp\n\t"
		"movq %%r13, %%rdi\n\t"
		"callq *%%r12\n\t"
		"movl %%eax, %%edi\n\t"
		"movl $60, %%eax\n\t"   /* SYS_exit */
		"syscall\n\t"
		"hlt\n\t"
		"1:\n\t"
		: "=a"(ret)
		: "0"((long)SYS_clone3), "D"(ca), "S"(sizeof *ca), "r"(rfn), "r"(rarg)
		: "rcx", "r11", "memory", "cc");
	if (ret < 0) {
		errno = (int)-ret;
		return -1;
	}
	return (pid_t)ret;
}
#endif

/* The child's stack: used by one child at a time (the keeper is
 * suspended until it execs). */
static void *child_stack(void)
{
	static void *stack;

	if (!stack) {
		stack = mmap(NULL, KEEPER_CHILD_STACK, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
		if (stack == MAP_FAILED)
			stack = NULL;
	}
	return stack ? (char *)stack + KEEPER_CHILD_STACK : NULL;
}

/* Builds the LISTEN_* variables for r's passed fds into env (which has
 * room for three more entries). */
static void listen_env(struct krec *r, char **env, int n, char *names,
		       size_t namesz, char *fdsvar, size_t fdsz)
{
	int cnt = 0;
	size_t off = 0;

	names[0] = '\0';
	for (int kind = KFD_LISTEN; kind <= KFD_STORE; kind++)
		for (int i = 0; i < r->nfds; i++)
			if (r->fds[i].kind == kind) {
				int w = snprintf(names + off, namesz - off, "%s%s",
						 cnt ? ":" : "LISTEN_FDNAMES=",
						 r->fds[i].name);
				if (w > 0 && (size_t)w < namesz - off)
					off += (size_t)w;
				cnt++;
			}
	if (!cnt)
		return;
	snprintf(fdsvar, fdsz, "LISTEN_FDS=%d", cnt);
	env[n++] = fdsvar;
	env[n++] = names;
	env[n++] = "LISTEN_PID=0";   /* the child writes its own */
	env[n] = NULL;
}

/* Starts c as r's process on stack (its top): in r's cgroup if it has
 * one, born there (clone3 CLONE_INTO_CGROUP) or, without clone3 (another
 * architecture, an older kernel, RS_KEEPER_CG_SPAWN=procs), entering it
 * itself before anything else. Returns when it has exec'd or exited:
 * its pid, or -1 with errno set. */
static pid_t spawn_child(struct krec *r, struct child *c, void *stack)
{
	pid_t pid;
	int e;

	if (r->cg_fd < 0)
		return clone(child_exec, stack, CLONE_VM | CLONE_VFORK | SIGCHLD, c);
#if defined(__x86_64__)
	if (!K.cg_procs) {
		struct kclone_args ca = {
			.flags = CLONE_VM | CLONE_VFORK | CLONE_INTO_CGROUP,
			.exit_signal = SIGCHLD,
			.stack = (uint64_t)(uintptr_t)((char *)stack - KEEPER_CHILD_STACK),
			.stack_size = KEEPER_CHILD_STACK,
			.cgroup = (uint64_t)r->cg_fd,
		};
		pid = clone3_call(&ca, child_exec, c);
		if (pid >= 0 || (errno != ENOSYS && errno != E2BIG))
			return pid;
		log_warnx("no clone3 (%s): children enter their cgroup themselves",
			  strerror(errno));
		K.cg_procs = true;
	}
#endif
	c->cg_procs = kcg_procs_fd(r->cg_fd);
	if (c->cg_procs < 0) {
		errno = -c->cg_procs;
		return -1;
	}
	pid = clone(child_exec, stack, CLONE_VM | CLONE_VFORK | SIGCHLD, c);
	e = errno;
	close(c->cg_procs);
	c->cg_procs = -1;
	errno = e;
	return pid;
}

/* A mountinfo field at s up to a blank, its \ooo escapes undone, into
 * out (room for it); returns the byte after it. */
static const char *mi_field(const char *s, char *out)
{
	while (*s && *s != ' ' && *s != '\n') {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
		    s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*out++ = *s++;
		}
	}
	*out = '\0';
	return s;
}

/* Whether mount point m is /dev, /proc, /sys or under one: what stays
 * writable under read_only_root. */
static bool mnt_kept(const char *m)
{
	static const char *const keep[] = { "/dev", "/proc", "/sys" };

	for (size_t i = 0; i < sizeof keep / sizeof *keep; i++) {
		size_t n = strlen(keep[i]);
		if (strncmp(m, keep[i], n) == 0 && (m[n] == '\0' || m[n] == '/'))
			return true;
	}
	return false;
}

/* The mount points read_only_root remounts, from the keeper's
 * /proc/self/mountinfo (the child's before its unshare), with the flags
 * each keeps, into c->mnts, c->mnt_flags, c->nmnts. 0 or -errno. */
static int prof_mounts(struct child *c)
{
	char *text = NULL, *line, *save = NULL;
	size_t cap = 0, len = 0, used = 0;
	int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	ssize_t n;
	int lines = 0;

	if (fd < 0)
		return -errno;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			char *t = realloc(text, cap = cap ? cap * 2 : 65536);
			if (!t) {
				free(text);
				close(fd);
				return -ENOMEM;
			}
			text = t;
		}
		n = read(fd, text + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (n < 0) {
		free(text);
		return -EIO;
	}
	text[len] = '\0';
	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	c->mnts = malloc(len + 1);
	c->mnt_flags = calloc((size_t)lines + 1, sizeof *c->mnt_flags);
	if (!c->mnts || !c->mnt_flags) {
		free(text);
		return -ENOMEM;
	}
	c->nmnts = 0;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ... */
		const char *s = line;
		char *mp = c->mnts + used, opts[256], *o, *os = NULL;
		unsigned long fl = 0;
		for (int f = 0; f < 4 && s; f++)
			s = (s = strchr(s, ' ')) ? s + 1 : NULL;
		if (!s || c->nmnts >= lines)
			continue;
		s = mi_field(s, mp);
		if (*s != ' ' || strlen(s + 1) < 1)
			continue;
		snprintf(opts, sizeof opts, "%.*s", (int)strcspn(s + 1, " "), s + 1);
		for (o = strtok_r(opts, ",", &os); o; o = strtok_r(NULL, ",", &os)) {
			if (!strcmp(o, "nosuid"))
				fl |= MS_NOSUID;
			else if (!strcmp(o, "nodev"))
				fl |= MS_NODEV;
			else if (!strcmp(o, "noexec"))
				fl |= MS_NOEXEC;
			else if (!strcmp(o, "noatime"))
				fl |= MS_NOATIME;
			else if (!strcmp(o, "nodiratime"))
				fl |= MS_NODIRATIME;
			else if (!strcmp(o, "relatime"))
				fl |= MS_RELATIME;
			else if (!strcmp(o, "strictatime"))
				fl |= MS_STRICTATIME;
		}
		if (mp[0] != '/' || mnt_kept(mp))
			continue;
		c->mnt_flags[c->nmnts++] = fl;
		used += strlen(mp) + 1;
	}
	free(text);
	return 0;
}

/* Works out sp's profile into c before the clone (the child only calls
 * what it is given): the flags, no_new_privs (on: the record says so,
 * or a uid without KSPAWN_KEEP_CAPS; off: it says so), the CPU set, the
 * mount points. 0, or -errno with the step that cannot be in *step. */
static int prof_prepare(struct child *c, const struct kproto_spawn *sp, int *step)
{
	const struct kproto_profile *pf = &sp->prof;
	uint64_t mask[RS_CPUS_WORDS];
	struct stat st;
	int r;

	c->prof = pf->flags;
	c->caps = pf->caps;
	c->nnp = pf->flags & KPROF_NNP_ON ? 1 : pf->flags & KPROF_NNP_OFF ? 0 : c->harden;
	c->nice_set = pf->nice != 0;
	c->nice = pf->nice;
	CPU_ZERO(&c->cpus);
	if (pf->cpus && pf->cpus[0]) {
		*step = KSTEP_CPUS;
		if (rs_cpus_parse(pf->cpus, mask, NULL) < 0)
			return -EINVAL;
		for (int i = 0; i < RS_CPUS_MAX && i < CPU_SETSIZE; i++)
			if (mask[i / 64] & (1ull << (i % 64)))
				CPU_SET(i, &c->cpus);
		c->cpus_set = true;
	}
	if (pf->flags & KPROF_RO_ROOT) {
		*step = KSTEP_RO_ROOT;
		if ((r = prof_mounts(c)) < 0)
			return r;
	}
	if (pf->flags & KPROF_PRIVATE_TMP) {
		c->tmp = stat("/tmp", &st) == 0 && S_ISDIR(st.st_mode);
		c->var_tmp = stat("/var/tmp", &st) == 0 && S_ISDIR(st.st_mode);
	}
	*step = KSTEP_NONE;
	return 0;
}

/* K_SPAWN: starts the process its record describes, answers K_SPAWNED.
 * A record that does not parse exactly starts nothing (-EINVAL). */
static void do_spawn(const struct kmsg *h, const uint8_t *p)
{
	struct krec *src = h->c ? rec_find((uint64_t)h->c) : NULL;
	struct kmsg rep = { .type = K_SPAWNED, .id = h->id };
	char *env[RS_KEEPER_ENV + 4];
	char names[KEEPER_FDS_MAX * KEEPER_FDNAME_MAX + 32], fdsvar[32];
	struct krec *r = rec_get(h->id);
	struct kproto_spawn sp;
	struct klog_pipe *out;
	struct child c;
	void *stack = child_stack();
	uint32_t sp_flags, sp_stop_sig, sp_stop_ms;
	pid_t pid;
	int e, wfd, pstep = 0;

	if (!r) {
		rep.a = -ENOMEM;
		goto out;
	}
	if (r->alive) {
		rep.a = -EBUSY;
		goto out;
	}
	if (!stack) {
		rep.a = -ENOMEM;
		goto out;
	}
	if ((e = kproto_spawn_unpack(p, h->len, &sp)) < 0) {
		if (e != -ENOMEM)
			log_warnx("instance %llu: malformed spawn record (%s), "
				  "starting nothing", (unsigned long long)h->id,
				  strerror(-e));
		rep.a = e == -ENOMEM ? e : -EINVAL;
		goto out;
	}
	/* the log is opened here, in the keeper's dir, before anything runs:
	 * a log that cannot be written fails the start with the reason */
	if (!(out = klog_pipe_new(sp.logpath, sp.log_max, &wfd))) {
		rep.a = -errno;
		kproto_spawn_free(&sp);
		goto out;
	}
	memcpy(env, sp.env, ((size_t)sp.envc + 1) * sizeof *env);
	listen_env(src ? src : r, env, (int)sp.envc, names, sizeof names, fdsvar,
		   sizeof fdsvar);
	c = (struct child){ .r = src ? src : r, .argv = sp.argv, .env = env,
			    .cwd = sp.cwd, .logfd = wfd, .keeper = getpid(),
			    .cg_procs = -1, .v1procs = { -1, -1, -1 } };
	/* its cgroup: made at the first spawn, kept across restarts; an
	 * engine that wants none (--cgroups=off) gets none, even where an
	 * earlier one made it */
	if ((!sp.cgroup || !sp.cgroup[0]) && r->cg_fd >= 0) {
		close(r->cg_fd);
		r->cg_fd = -1;
		kcg_remove(&K.cg, r->cg_name);
	}
	if (sp.cgroup && sp.cgroup[0] && K.cg.dirfd >= 0 && r->cg_fd < 0) {
		r->cg_fd = kcg_make(&K.cg, sp.cgroup, r->cg_name, stuck_has);
		if (r->cg_fd < 0) {
			e = r->cg_fd;
			r->cg_fd = -1;
			log_warnx("instance %llu: cannot make cgroup %s/%s: %s",
				  (unsigned long long)h->id, K.cg.path, sp.cgroup,
				  strerror(-e));
			rep.a = e;
			kproto_spawn_free(&sp);
			close(wfd);
			klog_pipe_release(&out);
			goto out;
		}
	}
	/* its limits, before it can run: a spawn that cannot have them
	 * starts nothing */
	if (r->cg_fd >= 0 && (kcg_limits_needs(&sp.limits) || kcg_limits_needs(&r->lim))) {
		char why[300];
		if ((e = kcg_limits_write(&K.cg, r->cg_fd, r->v1name[0] ? r->v1name :
					  r->cg_name, r->v1fd, &sp.limits, &r->lim, true,
					  why, sizeof why)) < 0) {
			log_warnx("instance %llu: cannot set its limits: %s",
				  (unsigned long long)h->id, why);
			rep.a = e;
			kproto_spawn_free(&sp);
			close(wfd);
			klog_pipe_release(&out);
			goto out;
		}
		if (!r->v1name[0])
			memcpy(r->v1name, r->cg_name, sizeof r->v1name);
	}
	r->lim = sp.limits;
	for (int i = 0; i < KCG_NCTL; i++)
		if (r->v1fd[i] >= 0 && (c.v1procs[i] = kcg_procs_fd(r->v1fd[i])) < 0) {
			rep.a = c.v1procs[i];
			for (int k = 0; k < i; k++)
				if (c.v1procs[k] >= 0)
					close(c.v1procs[k]);
			kproto_spawn_free(&sp);
			close(wfd);
			klog_pipe_release(&out);
			goto out;
		}
	r->oom_base = r->cg_fd >= 0 ? kcg_oom_kills(&K.cg, r->cg_fd, r->v1fd) : 0;
	if (h->a > 0) {
		c.as_user = true;
		c.uid = (uid_t)(h->a - 1);
		c.gid = (gid_t)h->b;
		c.ngroups = (int)sp.ngroups;
		memcpy(c.groups, sp.groups, sp.ngroups * sizeof *sp.groups);
		c.harden = !(sp.flags & KSPAWN_KEEP_CAPS);
	}
	c.cap_last = K.cap_last;
	if ((e = prof_prepare(&c, &sp, &pstep)) < 0) {
		log_warnx("instance %llu: cannot prepare its profile (%s): %s",
			  (unsigned long long)h->id, kproto_step_name(pstep), strerror(-e));
		rep.a = e;
		rep.b = pstep;
		free(c.mnts);
		free(c.mnt_flags);
		for (int i = 0; i < KCG_NCTL; i++)
			if (c.v1procs[i] >= 0)
				close(c.v1procs[i]);
		kproto_spawn_free(&sp);
		close(wfd);
		klog_pipe_release(&out);
		goto out;
	}
	pid = spawn_child(r, &c, stack);
	e = pid < 0 ? -errno : 0;
	free(c.mnts);
	free(c.mnt_flags);
	for (int i = 0; i < KCG_NCTL; i++)
		if (c.v1procs[i] >= 0)
			close(c.v1procs[i]);
	sp_flags = sp.flags;
	sp_stop_sig = sp.stop_signal;
	sp_stop_ms = sp.stop_ms;
	/* the child has exec'd or exited: its strings and its end of the
	 * pipe are no longer ours to use */
	kproto_spawn_free(&sp);
	close(wfd);
	if (pid < 0) {
		klog_pipe_release(&out);
		rep.a = e;
		goto out;
	}
	if (c.err) {
		/* exec failed: the child is gone; reap it here, it is no exit
		 * of the service */
		waitpid(pid, NULL, 0);
		klog_pipe_release(&out);
		rep.a = -c.err;
		rep.b = c.step;   /* protocol 7: which step failed */
		goto out;
	}
	klog_pipe_set_pid(out, pid);
	klog_pipe_release(&r->out);   /* a previous process's, if still held */
	r->out = out;
	r->pid = pid;
	r->alive = 1;
	r->restarts = h->d;
	r->fenced = (sp_flags & KSPAWN_FENCED) != 0;
	r->stop_sig = (int)sp_stop_sig;
	r->stop_ms = sp_stop_ms;
	r->fence_hit = false;
	r->kill_at = 0;
	r->stopping = false;
	r->ticks = proc_ticks(pid);
	rep.a = pid;
	rep.b = (int64_t)r->ticks;
out:
	to_engine(&rep, NULL, -1);
}

/* K_LIMITS: writes new limits into a running instance's cgroups (what
 * changed only), answers K_LIMITED. An instance not running takes them
 * at its next spawn's record. */
static void do_limits(const struct kmsg *h, const uint8_t *p)
{
	struct krec *r = rec_find(h->id);
	struct kmsg rep = { .type = K_LIMITED, .id = h->id };
	struct kcg_limits l;
	char why[300] = "";

	if (kproto_limits_unpack(p, h->len, &l) < 0) {
		rep.a = -EINVAL;
		snprintf(why, sizeof why, "malformed limits");
	} else if (!r || r->cg_fd < 0 || !r->alive) {
		rep.a = -ESRCH;
		snprintf(why, sizeof why, "not running in a cgroup");
	} else if ((rep.a = kcg_limits_write(&K.cg, r->cg_fd, r->v1name[0] ? r->v1name :
					     r->cg_name, r->v1fd, &l, &r->lim, false,
					     why, sizeof why)) == 0) {
		if (!r->v1name[0])
			memcpy(r->v1name, r->cg_name, sizeof r->v1name);
		r->lim = l;
	} else {
		log_warnx("instance %llu: cannot change its limits: %s",
			  (unsigned long long)h->id, why);
	}
	rep.len = (uint32_t)strlen(why);
	to_engine(&rep, why, -1);
}

/* sig to r, whose main process is our unreaped child (its pid cannot
 * have been reused): its process group, and with all and a cgroup every
 * process of it outside that group (what it setsid'ed or
 * double-forked); a SIGKILL kills the cgroup at once. */
static void signal_instance(struct krec *r, int sig, bool all)
{
	if (kill(-r->pid, sig) < 0 && errno == ESRCH)
		kill(r->pid, sig);
	if (r->cg_fd < 0 || (!all && sig != SIGKILL))
		return;
	if (sig == SIGKILL)
		cg_kill(r);
	else if (sig)
		kcg_signal_all(r->cg_fd, sig, r->pid);
}

/* A stop of r begins with sig to its main process's group only (a
 * daemon that runs its own children, as postgres's setsid'ed backends,
 * stops them its own way: a TERM to each would end its clients'
 * sessions at once); what outlives the main process gets sig then
 * (drain_begin). All of it gets r->stop_ms (the stop timeout): the
 * keeper's own bound, should the engine's SIGKILL not come (an engine
 * killed meanwhile). */
static void stop_begin(struct krec *r, int sig, uint64_t now)
{
	r->stopping = true;
	r->stop_sig_now = sig;
	r->stop_kill_at = now + r->stop_ms;
	signal_instance(r, sig, false);
	signal_instance(r, SIGCONT, false);
}

/* Sets nice (when set) and affinity (when cpus) of thread tid: 0 or
 * -errno. */
static int renice_one(pid_t tid, bool set, int nice, const cpu_set_t *cpus)
{
	if (set && setpriority(PRIO_PROCESS, (id_t)tid, nice) < 0 && errno != ESRCH)
		return -errno;
	if (cpus && sched_setaffinity(tid, sizeof *cpus, cpus) < 0 && errno != ESRCH)
		return -errno;
	return 0;
}

struct renice {
	bool             set;
	int              nice;
	const cpu_set_t *cpus;
	int              r;      /* the first -errno, or 0 */
};

static void renice_id(pid_t tid, void *arg)
{
	struct renice *x = arg;
	int e = renice_one(tid, x->set, x->nice, x->cpus);

	if (e < 0 && !x->r)
		x->r = e;
}

/* Every thread id in a list file fd (cgroup.threads, tasks, or none:
 * the main process's /proc/PID/task) renice_one'd: 0 or the first
 * -errno; *n: the threads. */
static int renice_list(int fd, pid_t main, bool set, int nice,
		       const cpu_set_t *cpus, int *n)
{
	struct renice x = { set, nice, cpus, 0 };
	char path[64];
	int r = 0, e;

	*n = 0;
	if (fd < 0) {
		DIR *d;
		struct dirent *de;
		snprintf(path, sizeof path, "/proc/%d/task", (int)main);
		if (!(d = opendir(path)))
			return -errno;
		while ((de = readdir(d)))
			if (de->d_name[0] >= '0' && de->d_name[0] <= '9') {
				(*n)++;
				if ((e = renice_one((pid_t)atoi(de->d_name), set, nice, cpus)) < 0 && !r)
					r = e;
			}
		closedir(d);
		return r;
	}
	e = kcg_ids_each(fd, renice_id, &x);
	*n = e < 0 ? 0 : e;
	return e < 0 ? e : x.r;
}

/* K_RENICE: a running instance's nice and affinity, on every thread of
 * every process it has (its cgroup's; without one, its main process's),
 * answers K_RENICED. Threads started meanwhile inherit from theirs. */
static void do_renice(const struct kmsg *h, const uint8_t *p)
{
	struct krec *r = rec_find(h->id);
	struct kmsg rep = { .type = K_RENICED, .id = h->id };
	char why[300] = "", list[KPROF_CPUS_MAX];
	uint64_t mask[RS_CPUS_WORDS];
	cpu_set_t cpus;
	bool set = h->b == 1, aff = h->len > 0;
	int fd = -1, n = 0;

	CPU_ZERO(&cpus);
	if (h->len >= sizeof list || h->a < RS_NICE_MIN || h->a > RS_NICE_MAX) {
		rep.a = -EINVAL;
		snprintf(why, sizeof why, "malformed request");
		goto out;
	}
	memcpy(list, p, h->len);
	list[h->len] = '\0';
	if (aff && rs_cpus_parse(list, mask, NULL) < 0) {
		rep.a = -EINVAL;
		snprintf(why, sizeof why, "'%s' is not a CPU list", list);
		goto out;
	}
	for (int i = 0; aff && i < RS_CPUS_MAX && i < CPU_SETSIZE; i++)
		if (mask[i / 64] & (1ull << (i % 64)))
			CPU_SET(i, &cpus);
	if (!r || !r->alive || r->main_dead) {
		rep.a = -ESRCH;
		snprintf(why, sizeof why, "not running");
		goto out;
	}
	if (r->cg_fd >= 0 && (fd = openat(r->cg_fd, "cgroup.threads", O_RDONLY | O_CLOEXEC)) < 0)
		fd = openat(r->cg_fd, "tasks", O_RDONLY | O_CLOEXEC);
	rep.a = renice_list(fd, r->pid, set, (int)h->a, aff ? &cpus : NULL, &n);
	if (fd >= 0)
		close(fd);
	if (rep.a < 0)
		snprintf(why, sizeof why, "%s%s%s: %s", set ? "setpriority" : "",
			 set && aff ? " or " : "", aff ? "sched_setaffinity" : "",
			 strerror((int)-rep.a));
	else
		log_info("instance %llu: %d threads reniced", (unsigned long long)h->id, n);
out:
	rep.len = (uint32_t)strlen(why);
	to_engine(&rep, why, -1);
}

static void do_kill(const struct kmsg *h)
{
	struct krec *r = rec_find(h->id);
	int sig = (int)h->a;

	if (!r || !r->alive || sig < 0 || sig >= NSIG)
		return;
	if (r->main_dead) {
		/* reaped: its pid is no longer ours to signal; what is left
		 * of the instance is in its cgroup, ending after a stop or
		 * being killed already */
		if (sig == SIGKILL && !r->cg_killed)
			cg_kill(r);
		else if (sig && sig != SIGKILL)
			kcg_signal_all(r->cg_fd, sig, 0);
		return;
	}
	if (h->b) {
		kill(r->pid, sig);
		return;
	}
	/* c = 1: the stop signal (protocol 6 engines from 0.3.0 on; an
	 * older keeper ignores c and kills the rest at the main's death) */
	if (h->c == 1 && sig != SIGKILL)
		stop_begin(r, sig, clock_mono_ms());
	else
		signal_instance(r, sig, true);
}

static void do_swap(const struct kmsg *h)
{
	struct krec *a = rec_find(h->id), *b = rec_find((uint64_t)h->a);
	struct kmsg rep = { .type = K_SWAPPED, .id = h->id };
	struct krec t;

	if (!a || !b || a == b || !a->alive || !b->alive || a->main_dead ||
	    b->main_dead || a->pid != (pid_t)h->b || b->pid != (pid_t)h->c) {
		rep.a = -ESRCH;
		to_engine(&rep, NULL, -1);
		return;
	}
	t = *a;
	a->pid = b->pid, a->alive = b->alive, a->ticks = b->ticks, a->out = b->out;
	b->pid = t.pid, b->alive = t.alive, b->ticks = t.ticks, b->out = t.out;
	/* the cgroups go with their processes */
	a->cg_fd = b->cg_fd, b->cg_fd = t.cg_fd;
	a->cg_killed = b->cg_killed, b->cg_killed = t.cg_killed;
	memcpy(a->cg_name, b->cg_name, sizeof a->cg_name);
	memcpy(b->cg_name, t.cg_name, sizeof b->cg_name);
	memcpy(a->v1fd, b->v1fd, sizeof a->v1fd);
	memcpy(b->v1fd, t.v1fd, sizeof b->v1fd);
	memcpy(a->v1name, b->v1name, sizeof a->v1name);
	memcpy(b->v1name, t.v1name, sizeof b->v1name);
	a->lim = b->lim, b->lim = t.lim;
	a->oom_base = b->oom_base, b->oom_base = t.oom_base;
	for (int i = 0; i < a->nfds; i++)
		if (a->fds[i].kind == KFD_NOTIFY)
			for (int j = 0; j < b->nfds; j++)
				if (b->fds[j].kind == KFD_NOTIFY) {
					int fd = a->fds[i].fd;
					a->fds[i].fd = b->fds[j].fd;
					b->fds[j].fd = fd;
				}
	to_engine(&rep, NULL, -1);
}

static void send_exit(const struct kexit *x)
{
	struct kmsg h = { .type = K_EXITED, .id = x->id, .a = x->pid,
			  .b = x->status, .c = (int64_t)x->ns,
			  .d = (x->oom ? 1 : 0) | (int64_t)x->stuck << 1 };

	to_engine(&h, NULL, -1);
}

/* SIGKILLs every process of r's cgroup. A cgroup once killed is not
 * used again: seen on Linux 6.18, a child cloned into a cgroup with
 * CLONE_INTO_CGROUP is SIGKILLed at birth if cgroup.kill was ever
 * written to that cgroup (as we read it, the fork compares the kill
 * count of the parent's cgroup with the target's), so drain_end removes
 * it and the next spawn makes a new one. */
static void cg_kill(struct krec *r)
{
	if (!r->cg_killed)
		r->killed_ms = clock_mono_ms();
	r->cg_killed = true;
	kcg_kill(&K.cg, r->cg_fd, false);
}

/* Keeps the exit until the engine acknowledges it, and tells it. */
static void exit_push(uint64_t id, pid_t pid, int status, uint64_t ns, int oom,
		      int stuck)
{
	if (K.nexits == K.capexits) {
		size_t cap = K.capexits ? K.capexits * 2 : 16;
		struct kexit *nx = realloc(K.exits, cap * sizeof *nx);
		if (!nx) {
			log_warnx("out of memory: the exit of pid %d is lost", (int)pid);
			return;
		}
		K.exits = nx;
		K.capexits = cap;
	}
	K.exits[K.nexits] = (struct kexit){ id, pid, status, ns, oom, stuck };
	send_exit(&K.exits[K.nexits]);
	K.nexits++;
}

/* Sets aside r's killed cgroup, which still holds stuck processes (no
 * SIGKILL ends them): remembered in K.stuck, so no spawn takes it once it
 * empties (a child cloned into a cgroup that was ever cgroup.kill'ed dies
 * at birth; cgroup v2 cannot rename a cgroup), and rmdir'ed once it is
 * empty. How many processes it holds. */
static int drain_stuck(struct krec *r)
{
	char pids[256] = "";
	int n = 0, fd = openat(r->cg_fd, "cgroup.procs", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		char buf[4096];
		ssize_t got = read(fd, buf, sizeof buf - 1);

		close(fd);
		for (ssize_t i = 0; i < got; i++)
			if (buf[i] == '\n') {
				n++;
				buf[i] = ' ';
			}
		if (got > 0) {
			size_t l = (size_t)got < sizeof pids ? (size_t)got : sizeof pids - 1;

			while (l && buf[l - 1] == ' ')
				l--;
			memcpy(pids, buf, l);
			pids[l] = '\0';
		}
	}
	if (K.nstuck < KEEPER_STUCK_MAX)
		memcpy(K.stuck[K.nstuck++], r->cg_name, KCG_NAME_MAX);
	else   /* past the list: left to a next keeper's sweep */
		log_warnx("%d cgroups set aside already: %s is not watched",
			  KEEPER_STUCK_MAX, r->cg_name);
	log_warnx("instance %llu: %d process(es) of it (pid %s) still alive %llu ms "
		  "after SIGKILL (in uninterruptible sleep?): its exit goes out; "
		  "they stay in cgroup %s/%s, which no start takes again, until "
		  "they die", (unsigned long long)r->id, n ? n : 1, pids[0] ? pids : "?",
		  (unsigned long long)(clock_mono_ms() - r->killed_ms), K.cg.path,
		  r->cg_name);
	return n ? n : 1;
}

/* Whether name is a set-aside cgroup (kcg_make's avoid). */
static bool stuck_has(const char *name)
{
	for (int i = 0; i < K.nstuck; i++)
		if (!strcmp(K.stuck[i], name))
			return true;
	return false;
}

/* Removes the set-aside cgroups that have emptied. */
static void stuck_tick(uint64_t now)
{
	if (!K.nstuck || now < K.stuck_try_at)
		return;
	K.stuck_try_at = now + KEEPER_STUCK_TRY_MS;
	for (int i = 0; i < K.nstuck; i++)
		if (unlinkat(K.cg.dirfd, K.stuck[i], AT_REMOVEDIR) == 0 || errno == ENOENT) {
			log_info("cgroup %s/%s emptied: removed", K.cg.path, K.stuck[i]);
			memmove(K.stuck[i], K.stuck[K.nstuck - 1], KCG_NAME_MAX);
			K.nstuck--;
			i--;
		}
}

/* r's cgroup is empty, or (stuck) holds only processes no SIGKILL ends:
 * the instance is gone, its exit goes out. */
static void drain_end(struct krec *r, bool stuck)
{
	/* read before its cgroup may go: the OOM killer's count rose */
	int oom = kcg_limits_needs(&r->lim) & KCG_MEMORY &&
		  kcg_oom_kills(&K.cg, r->cg_fd, r->v1fd) > r->oom_base;
	int nstuck = stuck ? drain_stuck(r) : 0;

	if (r->cg_wd >= 0)
		inotify_rm_watch(K.ino, r->cg_wd);
	r->cg_wd = -1;
	if (r->main_dead) {
		uint64_t ms = clock_mono_ms() - r->drain_ms;
		if (ms >= 1000)
			log_warnx("instance %llu: its cgroup took %llu ms to empty",
				  (unsigned long long)r->id, (unsigned long long)ms);
		r->main_dead = false;
		K.ndraining--;
	}
	if (r->cg_killed) {
		int e;
		close(r->cg_fd);
		r->cg_fd = -1;
		r->cg_killed = false;
		if (!stuck && (e = kcg_remove(&K.cg, r->cg_name)) < 0)
			log_warnx("instance %llu: cannot remove cgroup %s/%s: %s, ignoring",
				  (unsigned long long)r->id, K.cg.path, r->cg_name,
				  strerror(-e));
	}
	r->alive = 0;
	r->stopping = false;
	exit_push(r->id, r->pid, r->held_status, r->held_ns, oom, nstuck);
}

/* Checks r, whose main process is gone, again: done when its cgroup is
 * empty. After a stop, what is left ends by itself until the stop's
 * deadline, then is killed; once killed, without cgroup.kill, what is
 * left gets SIGKILL again (a process may have forked between a read of
 * cgroup.procs and its kill). */
static void drain_check(struct krec *r)
{
	int p = kcg_populated(r->cg_fd);

	if (p == 1 && !r->cg_killed && clock_mono_ms() >= r->stop_kill_at) {
		log_warnx("instance %llu: what its main process left ran past the "
			  "stop timeout (%llu ms): SIGKILL", (unsigned long long)r->id,
			  (unsigned long long)r->stop_ms);
		cg_kill(r);
	}
	if (p == 1 && r->cg_killed && !K.cg.has_kill)
		kcg_kill(&K.cg, r->cg_fd, true);
	if (p != 1)
		drain_end(r, false);
	else if (r->cg_killed && clock_mono_ms() - r->killed_ms >= K.drain_max_ms)
		drain_end(r, true);
}

/* r's main process died (reaped, status, seen at ns): every process of
 * its cgroup is killed, and the exit is held until the cgroup is empty
 * (at once when nothing was left). */
static void drain_begin(struct krec *r, int status, uint64_t ns)
{
	char path[PATH_MAX + KCG_NAME_MAX];
	int p = kcg_populated(r->cg_fd);

	r->held_status = status;
	r->held_ns = ns;
	r->main_dead = true;
	r->drain_ms = clock_mono_ms();
	K.ndraining++;
	if (p != 1) {
		drain_end(r, false);
		return;
	}
	/* a crash or a kill: at once; a stop: what is left gets the stop
	 * signal now, and ends by itself until the stop's deadline */
	if (!r->stopping || clock_mono_ms() >= r->stop_kill_at) {
		cg_kill(r);
	} else {
		kcg_signal_all(r->cg_fd, r->stop_sig_now, 0);
		kcg_signal_all(r->cg_fd, SIGCONT, 0);
	}
	/* watched before it is read again: its last change is not missed */
	if (K.ino >= 0 && kcg_events_path(&K.cg, r->cg_name, path, sizeof path) == 0)
		r->cg_wd = inotify_add_watch(K.ino, path, IN_MODIFY);
	drain_check(r);
}

/* Every record whose main process is gone, checked again. */
static void drain_tick(void)
{
	for (struct krec *r = K.recs; r; r = r->next)
		if (r->main_dead)
			drain_check(r);
}

static void reap_all(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		uint64_t ns = clock_mono_ns();
		struct krec *r;

		for (r = K.recs; r; r = r->next)
			if (r->alive && !r->main_dead && r->pid == pid)
				break;
		if (!r)
			continue;   /* an orphan we inherited as subreaper */
		/* what the main process left in its group goes with it */
		kill(-pid, SIGKILL);
		r->kill_at = 0;
		/* its last lines are in the log before the engine hears of
		 * its death (the crash event quotes them) */
		klog_pipe_release(&r->out);
		if (r->cg_fd >= 0) {
			/* and so does what it left anywhere in its cgroup */
			drain_begin(r, status, ns);
			continue;
		}
		r->alive = 0;
		exit_push(r->id, pid, status, ns, 0, 0);
	}
}

static void do_exit_ack(const struct kmsg *h)
{
	for (size_t i = 0; i < K.nexits; i++)
		if (K.exits[i].id == h->id && K.exits[i].pid == (pid_t)h->a) {
			memmove(&K.exits[i], &K.exits[i + 1],
				(K.nexits - i - 1) * sizeof *K.exits);
			K.nexits--;
			return;
		}
}

static void do_hello(const struct kmsg *h)
{
	struct kmsg end = { .type = K_HELLO_END, .a = getpid(), .b = KEEPER_PROTO,
			    .c = (int64_t)K.lease_at, .d = (int64_t)K.lease_ms };
	char cgs[sizeof K.cg.path + sizeof K.cg.why + 32];
	int n = K.cg.dirfd >= 0 ?
		snprintf(cgs, sizeof cgs, "1 %d %u %u %s", K.cg.has_kill, K.cg.ctl,
			 K.cg.ctl_v1, K.cg.path) :
		snprintf(cgs, sizeof cgs, "0 0 0 0 %s", K.cg.why);

	K.engine = (pid_t)h->a;
	log_info("engine pid %d attached", (int)K.engine);
	if (h->b != KEEPER_PROTO)
		log_warnx("engine pid %d speaks keeper protocol %lld, this keeper %d: "
			  "its spawn requests will be refused", (int)K.engine,
			  (long long)h->b, KEEPER_PROTO);
	for (struct krec *r = K.recs; r; r = r->next) {
		struct kmsg m = { .type = K_INST, .id = r->id, .a = r->pid,
				  .b = (int64_t)r->ticks, .c = r->alive,
				  .d = r->restarts, .len = (uint32_t)r->metalen };
		int nfd = -1;

		for (size_t i = 0; !r->alive && i < K.nexits; i++)
			if (K.exits[i].id == r->id && K.exits[i].pid == r->pid)
				m.c = 2;   /* dead, its K_EXITED follows */

		for (int i = 0; i < r->nfds; i++)
			if (r->fds[i].kind == KFD_NOTIFY)
				nfd = r->fds[i].fd;
		to_engine(&m, r->meta, nfd);
	}
	end.len = n > 0 && (size_t)n < sizeof cgs ? (uint32_t)n : 0;
	to_engine(&end, cgs, -1);
	for (size_t i = 0; i < K.nexits; i++)
		send_exit(&K.exits[i]);
}

static void do_fd(const struct kmsg *h, const uint8_t *p, int fd)
{
	struct krec *r = rec_get(h->id);
	char name[KEEPER_FDNAME_MAX];
	int kind = (int)h->a;

	if (h->len >= sizeof name || memchr(p, '\0', h->len) ||
	    kind < KFD_NOTIFY || kind > KFD_STORE || !r) {
		log_warnx("bad fd message for instance %llu, ignoring",
			  (unsigned long long)h->id);
		if (fd >= 0)
			close(fd);
		return;
	}
	memcpy(name, p, h->len);
	name[h->len] = '\0';
	if (h->type == K_FD_DEL) {
		rec_close_fds(r, kind, name);
		return;
	}
	if (fd < 0)
		return;
	/* one notify socket; a named fd replaces those of the same name
	 * (stored fds: only when asked, several may share a name) */
	if (kind != KFD_STORE || h->b)
		rec_close_fds(r, kind, kind == KFD_NOTIFY ? NULL : name);
	{
		int same = 0;
		for (int i = 0; i < r->nfds; i++)
			same += r->fds[i].kind == kind;
		if (r->nfds == KEEPER_FDS_MAX || (h->c > 0 && same >= h->c)) {
			r->dropped++;
			log_warnx("instance %llu holds %d fds of this kind already, "
				  "closing '%s' (%u dropped so far)",
				  (unsigned long long)h->id, same, name, r->dropped);
			close(fd);
			return;
		}
	}
	if (r->nfds == r->capfds) {
		int cap = r->capfds ? r->capfds * 2 : 2;
		struct kfd *nf = realloc(r->fds, (size_t)cap * sizeof *nf);

		if (!nf) {
			log_warnx("out of memory: closing '%s'", name);
			close(fd);
			return;
		}
		r->fds = nf;
		r->capfds = cap;
	}
	r->fds[r->nfds].fd = fd;
	r->fds[r->nfds].kind = kind;
	memcpy(r->fds[r->nfds].name, name, sizeof name);
	r->nfds++;
}

static void do_meta(const struct kmsg *h, const uint8_t *p)
{
	struct krec *r = rec_get(h->id);
	uint8_t *m = h->len ? malloc(h->len) : NULL;

	if (!r || (h->len && !m)) {
		free(m);
		return;
	}
	if (h->len)
		memcpy(m, p, h->len);
	free(r->meta);
	r->meta = m;
	r->metalen = h->len;
}

/* K_LEASE: the engine heard rsd; its fenced children live until a. */
static void do_lease(const struct kmsg *h)
{
	if (h->a < 0 || h->b < 0) {
		log_warnx("bad lease from the engine, ignoring");
		return;
	}
	if (K.lease_at && clock_mono_ms() >= K.lease_at && (uint64_t)h->a > K.lease_at)
		log_info("the engine hears rsd again: lease renewed");
	K.lease_at = (uint64_t)h->a;
	K.lease_ms = (uint64_t)h->b;
}

/* Enforces the lease at now: at the deadline each live fenced child's
 * group gets its stop signal (once per process), SIGKILL after its stop
 * timeout. Returns the ms until the next thing to do, or -1 (nothing). */
static int fence_tick(uint64_t now)
{
	uint64_t next = UINT64_MAX;

	for (struct krec *r = K.recs; r; r = r->next) {
		if (!r->alive || !r->fenced || r->main_dead)
			continue;
		if (K.lease_at && now >= K.lease_at && !r->fence_hit) {
			log_warnx("instance %llu: no lease from the engine since %llu ms "
				  "(no word from rsd for %llu ms): stopping pid %d "
				  "(signal %d, SIGKILL in %llu ms)",
				  (unsigned long long)r->id,
				  (unsigned long long)(now - K.lease_at),
				  (unsigned long long)(now - K.lease_at + K.lease_ms),
				  (int)r->pid, r->stop_sig, (unsigned long long)r->stop_ms);
			r->fence_hit = true;
			r->kill_at = now + r->stop_ms;
			stop_begin(r, r->stop_sig, now);
		}
		if (r->kill_at && now >= r->kill_at) {
			log_warnx("instance %llu: pid %d outlived its stop timeout after "
				  "the lease, SIGKILL", (unsigned long long)r->id,
				  (int)r->pid);
			kill(-r->pid, SIGKILL);
			kill(r->pid, SIGKILL);
			if (r->cg_fd >= 0)
				cg_kill(r);
			r->kill_at = 0;
		}
		if (r->kill_at && r->kill_at < next)
			next = r->kill_at;
		if (K.lease_at && !r->fence_hit && K.lease_at < next)
			next = K.lease_at;
	}
	if (next == UINT64_MAX)
		return -1;
	return next <= now ? 0 : next - now > INT32_MAX ? INT32_MAX : (int)(next - now);
}

static void detach(const char *why)
{
	size_t live = 0;

	for (struct krec *r = K.recs; r; r = r->next)
		live += r->alive;
	log_warnx("engine pid %d %s; keeping %zu services running", (int)K.engine,
		  why, live);
	close(K.conn);
	K.conn = -1;
	K.engine = 0;
	out_drop();   /* the exits stay in K.exits for the next engine */
}

static void engine_readable(void)
{
	for (;;) {
		const uint8_t *p = NULL;
		struct kmsg h;
		int fd, r = kmsg_recv(K.conn, K.buf, &h, &p, &fd);

		if (r == -EAGAIN)
			return;
		if (r == 0) {
			detach("is gone");
			return;
		}
		if (r < 0) {
			detach("sent a malformed message");
			return;
		}
		if (fd >= 0 && h.type != K_FD_ADD) {
			close(fd);
			fd = -1;
		}
		switch (h.type) {
		case K_HELLO:     do_hello(&h); break;
		case K_META:      do_meta(&h, p); break;
		case K_SPAWN:     do_spawn(&h, p); break;
		case K_KILL:      do_kill(&h); break;
		case K_SWAP:      do_swap(&h); break;
		case K_LEASE:     do_lease(&h); break;
		case K_LIMITS:    do_limits(&h, p); break;
		case K_RENICE:    do_renice(&h, p); break;
		case K_EXIT_ACK:  do_exit_ack(&h); break;
		case K_FD_ADD:
		case K_FD_DEL:    do_fd(&h, p, fd); break;
		case K_FORGET: {
			struct krec *rec = rec_find(h.id);
			if (rec && !rec->alive)
				rec_free(rec);
			break;
		}
		case K_QUIT:
			K.quit = 1;
			return;
		case K_SYNC: {
			struct kmsg s = { .type = K_SYNCED, .id = h.id };
			to_engine(&s, NULL, -1);
			break;
		}
		default:
			log_warnx("unknown message type %u from the engine", h.type);
			break;
		}
		if (K.conn < 0)
			return;
	}
}

/* Whether a peer may talk to the keeper: our own user or root. */
static bool peer_allowed(int c, struct ucred *uc)
{
	socklen_t ul = sizeof *uc;

	return getsockopt(c, SOL_SOCKET, SO_PEERCRED, uc, &ul) == 0 &&
	       (uc->uid == getuid() || uc->uid == 0);
}

static void accept_engine(void)
{
	int c = accept4(K.lsock, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	struct ucred uc = { .uid = (uid_t)-1 };

	if (c < 0)
		return;
	/* only our own user (or root) may drive the keeper; the socket's
	 * directory is 0700 too */
	if (!peer_allowed(c, &uc)) {
		log_warnx("refused a keeper connection from uid %d", (int)uc.uid);
		close(c);
		return;
	}
	if (K.conn >= 0) {
		struct kmsg busy = { .type = K_BUSY, .a = K.engine };
		kmsg_send(c, &busy, NULL, -1);
		close(c);
		return;
	}
	K.conn = c;
}

/* Someone asks the node's name who keeps the node: one K_IDENT, then
 * the connection is closed. Never blocks: a fresh connection's buffer
 * takes one small message. */
static void accept_ident(void)
{
	int c = accept4(K.nsock, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	struct kmsg h = { .type = K_IDENT, .a = getpid(), .b = KEEPER_PROTO,
			  .c = (int64_t)K.nexits,
			  .d = K.conn < 0 ? 0 : K.engine > 0 ? K.engine : -1,
			  .len = (uint32_t)strlen(K.dir) };
	struct ucred uc = { .uid = (uid_t)-1 };

	if (c < 0)
		return;
	for (struct krec *r = K.recs; r; r = r->next)
		h.c += r->alive;
	if (!peer_allowed(c, &uc))
		log_warnx("refused a node-name query from uid %d", (int)uc.uid);
	else if (kmsg_send(c, &h, K.dir, -1) < 0)
		log_warnx("cannot answer a node-name query, ignoring");
	close(c);
}

/* Stops every service: SIGTERM to each group, SIGKILL after a grace. */
static void stop_all(void)
{
	uint64_t end = clock_mono_ms() + KEEPER_TERM_GRACE_MS;
	int live;

	for (struct krec *r = K.recs; r; r = r->next)
		if (r->alive && !r->main_dead)
			kill(-r->pid, SIGTERM);
	for (;;) {
		reap_all();
		drain_tick();
		live = 0;
		for (struct krec *r = K.recs; r; r = r->next)
			live += r->alive;
		if (!live || clock_mono_ms() >= end)
			break;
		{
			/* a service saying goodbye must not block on its pipe */
			struct pollfd pf[64];
			size_t n = klog_poll_fill(pf, 64);

			poll(pf, (nfds_t)n, 20);
			klog_poll_done(pf, n);
		}
	}
	for (struct krec *r = K.recs; r; r = r->next) {
		if (r->alive && !r->main_dead)
			kill(-r->pid, SIGKILL);
		if (r->alive && r->cg_fd >= 0)
			cg_kill(r);
	}
	/* a moment for the kills to land: the cgroups are removed below */
	end = clock_mono_ms() + 1000;
	do {
		reap_all();
		drain_tick();
		live = 0;
		for (struct krec *r = K.recs; r; r = r->next)
			live += r->alive;
		if (live)
			poll(NULL, 0, 5);
	} while (live && clock_mono_ms() < end);
}

static int listen_on(const char *dir)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if ((size_t)snprintf(sa.sun_path, sizeof sa.sun_path, "%s/run/keeper.sock",
			     dir) >= sizeof sa.sun_path)
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	unlink(sa.sun_path);   /* we hold the lock: any socket there is stale */
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 4) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

/* Binds and listens on node's name (keeper_node_addr): the fd, or
 * -EADDRINUSE when another keeper of node holds it, or -errno. */
static int node_listen(const char *node)
{
	struct sockaddr_un sa;
	socklen_t len;
	int r, fd = keeper_node_socket(node, &sa, &len);

	if (fd < 0)
		return fd;
	if (bind(fd, (struct sockaddr *)&sa, len) < 0 || listen(fd, 4) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* The highest capability number of this kernel, from
 * /proc/sys/kernel/cap_last_cap; 63 (every bit of the 64-bit sets, the
 * child skips what the kernel calls invalid) if it cannot be read. */
static int read_cap_last(void)
{
	char buf[16];
	long v;

	if (!read_small("/proc/sys/kernel/cap_last_cap", buf, sizeof buf))
		return 63;
	v = strtol(buf, NULL, 10);
	return v > 0 && v < 64 ? (int)v : 63;
}

/* Takes STATE_DIR/run/keeper.lock for the life of the process and writes
 * keeper.pid. 0, or -EWOULDBLOCK when another keeper holds it. */
static int take_lock(const char *dir)
{
	char path[PATH_MAX], pid[32];
	int fd, n;

	snprintf(path, sizeof path, "%s/run/keeper.lock", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	snprintf(path, sizeof path, "%s/run/keeper.pid", dir);
	n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
	{
		int pf = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (pf >= 0) {
			if (write(pf, pid, (size_t)n) != n)
				log_warn("cannot write %s", path);
			close(pf);
		}
	}
	return 0;   /* fd stays open: the lock lives as long as we do */
}

/* Finds the node's cgroups (kcgroup.h) and says what it found; ends
 * what a previous keeper's services left in them. */
static void cgroups_init(const char *node, const char *off)
{
	int n;

	if (kcg_open(&K.cg, node, node ? off : "the keeper has no node name") < 0) {
		log_info("cgroups: none (%s); instances are tracked by process group",
			 K.cg.why);
		return;
	}
	K.ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	K.drain_max_ms = getenv("RS_TEST_DRAIN_MAX_MS") ?
			 strtoull(getenv("RS_TEST_DRAIN_MAX_MS"), NULL, 10) :
			 KEEPER_DRAIN_MAX_MS;
	K.cg_procs = getenv("RS_KEEPER_CG_SPAWN") &&
		     !strcmp(getenv("RS_KEEPER_CG_SPAWN"), "procs");
	n = kcg_sweep(&K.cg, 2000);
	if (n > 0)
		log_warnx("killed what a previous keeper's services left in %d "
			  "cgroup(s) of %s", n, K.cg.path);
	kcg_ctl_open(&K.cg);
	log_info("cgroups: a cgroup per instance under %s (cgroup2 at %s), "
		 "cgroup.kill %s; limits with%s%s%s%s%s%s", K.cg.path, K.cg.mount,
		 K.cg.has_kill ? "yes" : "no (SIGKILL to each process in cgroup.procs)",
		 K.cg.ctl & KCG_MEMORY ? " memory" : "",
		 K.cg.ctl & KCG_CPU ? " cpu" : "", K.cg.ctl & KCG_PIDS ? " pids" : "",
		 !K.cg.ctl ? " no controllers" : "",
		 K.cg.ctl_v1 ? " (on cgroup v1: " : "",
		 K.cg.ctl_v1 ? (K.cg.ctl_v1 == K.cg.ctl ? "all)" : "some)") : "");
	/* a process joining a v1 cgroup waits for an RCU grace period
	 * (the kernel's cgroup-wide lock) unless favordynmods is on */
	if (K.cg.ctl_v1 && !kcg_favordynmods())
		log_info("cgroups: a start with limits on cgroup v1 may wait for an RCU "
			 "grace period (the kernel's cgroup lock: 0.05 ms on an idle "
			 "host, 12-15 ms measured on a busy one); `mount -o "
			 "remount,favordynmods %s` (or the boot option "
			 "cgroup_favordynmods=1) avoids it, at a small cost to every "
			 "fork", K.cg.mount);
}

/* STATE_DIR/run/cgroup: the node's subtree, for scripts and tests that
 * clean up after a keeper killed with SIGKILL. Removed at a clean exit. */
static void cgroups_note(const char *dir)
{
	char path[PATH_MAX];
	int fd;

	if (K.cg.dirfd < 0)
		return;
	snprintf(path, sizeof path, "%s/run/cgroup", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || dprintf(fd, "%s\n", K.cg.path) < 0)
		log_warn("cannot write %s, ignoring", path);
	if (fd >= 0)
		close(fd);
	/* run/cgroup.v1: its subtrees on v1 hierarchies (limits), a line each */
	snprintf(path, sizeof path, "%s/run/cgroup.v1", dir);
	if (!K.cg.ctl_v1) {
		unlink(path);
		return;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	for (int i = 0; fd >= 0 && i < KCG_NCTL; i++)
		if (K.cg.ctl_v1 & (1u << i))
			dprintf(fd, "%s\n", K.cg.v1path[i]);
	if (fd < 0)
		log_warn("cannot write %s, ignoring", path);
	else
		close(fd);
}

_Noreturn void keeper_main(const char *state_dir, const char *node, int ready_fd,
			   const char *cg_off)
{
	struct pollfd *pf = NULL;
	size_t pfcap = 0;
	char *abs_dir;
	sigset_t set;
	int r;

	log_init("rs-keeper", LOG_LVL_INFO);
	/* hold nothing of the engine's (or its parent's) but stdio and the
	 * pipe to the engine: the keeper may live for months */
	if (ready_fd > 3)
		close_range(3, (unsigned)ready_fd - 1, 0);
	close_range((unsigned)ready_fd + 1, ~0u, 0);
	/* every path the keeper uses (its socket, lock, each log) is
	 * absolute, and its cwd is /: it never creates or opens anything
	 * relative to wherever rs-agent happened to be started */
	abs_dir = realpath(state_dir, NULL);
	if (!abs_dir || chdir("/") < 0) {
		log_warn("cannot resolve state dir %s or enter /", state_dir);
		if (write(ready_fd, "fail", 4) < 0) {
			/* the engine sees EOF */
		}
		_exit(1);
	}
	state_dir = abs_dir;
	K.dir = state_dir;
	setsid();   /* outlives the engine and its terminal */
	prctl(PR_SET_NAME, "rs-keeper");
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	K.sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	K.buf = malloc(KEEPER_MSG_MAX);
	if (K.sigfd < 0 || !K.buf)
		_exit(1);
	K.cap_last = read_cap_last();
	if ((r = take_lock(state_dir)) < 0) {
		/* another keeper won the race: the engine connects to it */
		if (write(ready_fd, r == -EWOULDBLOCK ? "busy" : "fail", 4) < 0) {
			/* the engine sees EOF */
		}
		_exit(r == -EWOULDBLOCK ? 0 : 1);
	}
	/* one keeper per node on this host, whatever its state dir: the
	 * name first, so that losing it leaves nothing behind but the lock
	 * (dropped as we exit) and our pid file */
	if (node && (K.nsock = node_listen(node)) < 0) {
		char path[PATH_MAX];

		if (K.nsock != -EADDRINUSE)
			log_warnx("cannot bind node %s's keeper name: %s", node,
				  strerror(-K.nsock));
		snprintf(path, sizeof path, "%s/run/keeper.pid", state_dir);
		unlink(path);
		if (write(ready_fd, K.nsock == -EADDRINUSE ? "node" : "fail", 4) < 0) {
			/* the engine sees EOF */
		}
		_exit(K.nsock == -EADDRINUSE ? 0 : 1);
	}
	cgroups_init(node, cg_off);
	cgroups_note(state_dir);
	K.lsock = listen_on(state_dir);
	if (K.lsock < 0) {
		log_warnx("cannot listen on %s/run/keeper.sock: %s", state_dir,
			  strerror(-K.lsock));
		_exit(1);
	}
	if (write(ready_fd, "ok", 2) < 0) {
		/* the engine sees EOF and tries to connect anyway */
	}
	close(ready_fd);
	log_info("pid %d, state dir %s, node %s", (int)getpid(), state_dir,
		 node ? node : "(not named)");
	while (!K.quit) {
		int live = 0, n, fence_wait = fence_tick(clock_mono_ms());
		size_t npipes = klog_count();

		if (K.ndraining) {
			/* inotify says when a cgroup empties; this is the net
			 * under it (and the loop of SIGKILLs without cgroup.kill) */
			drain_tick();
			if (K.ndraining && (fence_wait < 0 || fence_wait > 50))
				fence_wait = 50;
		}
		if (K.nstuck) {
			stuck_tick(clock_mono_ms());
			if (K.nstuck && (fence_wait < 0 || fence_wait > KEEPER_STUCK_TRY_MS))
				fence_wait = KEEPER_STUCK_TRY_MS;
		}
		if (5 + npipes > pfcap) {
			struct pollfd *np = realloc(pf, (5 + npipes) * sizeof *np);
			if (!np) {
				log_warnx("out of memory for %zu pipes, retrying", npipes);
				poll(NULL, 0, 100);
				continue;
			}
			pf = np;
			pfcap = 5 + npipes;
		}
		/* a negative fd (no engine, no node name) is not polled */
		pf[0] = (struct pollfd){ K.sigfd, POLLIN, 0 };
		pf[1] = (struct pollfd){ K.lsock, POLLIN, 0 };
		pf[2] = (struct pollfd){ K.conn, (short)(POLLIN | (K.nout ? POLLOUT : 0)), 0 };
		pf[3] = (struct pollfd){ K.nsock, POLLIN, 0 };
		pf[4] = (struct pollfd){ K.ndraining ? K.ino : -1, POLLIN, 0 };
		npipes = klog_poll_fill(pf + 5, pfcap - 5);
		for (struct krec *k = K.recs; k; k = k->next)
			live += k->alive;
		/* no engine and nothing running: nothing to keep. Wait a while
		 * for an engine (a restart), then go rather than linger */
		n = poll(pf, (nfds_t)(5 + npipes),
			 K.conn < 0 && !live ? KEEPER_IDLE_EXIT_MS : fence_wait);
		if (n < 0 && errno != EINTR)
			break;
		if (n == 0 && (live || K.conn >= 0))
			continue;   /* a lease deadline or a SIGKILL is due */
		if (n == 0) {
			log_info("no engine and no service for %d s, exiting",
				 KEEPER_IDLE_EXIT_MS / 1000);
			break;
		}
		/* output first: a death below drains its pipe anyway */
		klog_poll_done(pf + 5, npipes);
		if (pf[0].revents) {
			struct signalfd_siginfo si;
			while (read(K.sigfd, &si, sizeof si) == (ssize_t)sizeof si)
				if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
					K.quit = 2;
			reap_all();
		}
		if (K.conn >= 0 && (pf[2].revents & POLLOUT))
			out_flush();
		if (K.conn >= 0 && (pf[2].revents & ~POLLOUT))
			engine_readable();
		if (pf[1].revents)
			accept_engine();
		if (pf[3].revents)
			accept_ident();
		if (pf[4].revents) {
			char evbuf[4096];
			while (read(K.ino, evbuf, sizeof evbuf) > 0)
				;
			drain_tick();
		}
	}
	if (K.quit == 2)
		log_info("signalled: stopping every service");
	stop_all();
	klog_close_all();
	free(pf);
	/* nothing of the node runs any more: its name is free for a next
	 * keeper, before the engine sees us go */
	if (K.nsock >= 0)
		close(K.nsock);
	while (K.recs)
		rec_free(K.recs);
	if (K.cg.dirfd >= 0)
		rmdir(K.cg.path);   /* the node's subtree, if nothing is left */
	for (int i = 0; i < KCG_NCTL; i++)
		if (K.cg.ctl_v1 & (1u << i))
			rmdir(K.cg.v1path[i]);   /* and its v1 subtrees */
	kcg_close(&K.cg);
	if (K.ino >= 0)
		close(K.ino);
	free(K.exits);
	free(K.buf);
	out_drop();
	free(K.out);
	if (K.conn >= 0)
		close(K.conn);
	{
		char path[PATH_MAX];
		snprintf(path, sizeof path, "%s/run/keeper.sock", state_dir);
		unlink(path);
		/* no stale pid for scripts that kill by it */
		snprintf(path, sizeof path, "%s/run/keeper.pid", state_dir);
		unlink(path);
		snprintf(path, sizeof path, "%s/run/cgroup", state_dir);
		unlink(path);
		snprintf(path, sizeof path, "%s/run/cgroup.v1", state_dir);
		unlink(path);
	}
	log_info("exited");
	free(abs_dir);
	exit(0);
}
