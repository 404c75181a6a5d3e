/*
 * harness.c - see harness.h.
 *
 * Child processes are started with fork + exec; between the two only
 * async-signal-safe calls are made (the worker may have threads). Each
 * daemon gets PR_SET_PDEATHSIG(SIGKILL), so a test worker that Criterion
 * kills on timeout does not leave rsd or agents behind.
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cred.h"
#include "net.h"

#define H_MAX_ARGS   1024  /* a spec at its limits: 256 --env and 256 entries */
#define H_EXTRA_STRS 128
#define H_MAX_JOBS   16

struct h_str {
	struct h_str *next;
	char s[];
};

static struct {
	bool          active;           /* h_setup ran (even half-way) */
	bool          passed;
	char          dir[H_PATH_MAX];
	char          rsd_bin[H_PATH_MAX];
	char          agent_bin[H_PATH_MAX];
	char          ctl_bin[H_PATH_MAX];
	char          svc_bin[H_PATH_MAX];
	char          sockserv_bin[H_PATH_MAX];
	char          db[H_PATH_MAX + 16];
	char          keydir[H_PATH_MAX];     /* the db's folder: rsd's key files */
	bool          insecure;
	char          control_ep[128];
	char          agents_ep[128];
	char          node_ttl[32];
	const char   *rsd_arg[4];                    /* h_opts.rsd_arg */
	pid_t         rsd;
	int           nagents;
	pid_t         agents[H_MAX_AGENTS + 1];      /* index 1..N */
	const char   *agent_arg[H_MAX_AGENTS + 1];   /* h_opts.agent_arg */
	pid_t         keepers[H_MAX_AGENTS + 1][4];  /* every keeper seen */
	pid_t         pids[H_MAX_PIDS];              /* services seen */
	int           npids;
	h_res        *results;
	struct h_job {
		pid_t   pid;
		bool    done;
		int64_t start;
		char    out[H_PATH_MAX + 32];
		char    err[H_PATH_MAX + 32];
	}             jobs[H_MAX_JOBS];
	int           njobs;
	json_t       *jpool;
	struct h_str *strs;
	volatile sig_atomic_t aborting;            /* the alarm fired */
	volatile pid_t        cur_child;           /* rsctl in flight */
} H;

/* ---- small helpers ---------------------------------------------------- */

int64_t h_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static const char *intern(const char *s)
{
	size_t n = strlen(s) + 1;
	struct h_str *e = malloc(sizeof *e + n);

	cr_assert(e, "out of memory");
	memcpy(e->s, s, n);
	e->next = H.strs;
	H.strs = e;
	return e->s;
}

const char *h_tmpdir(void) { return H.dir; }
const char *h_control_ep(void) { return H.control_ep; }
const char *h_agents_ep(void) { return H.agents_ep; }
pid_t h_rsd_pid(void) { return H.rsd; }
const char *h_notifysvc(void) { return H.svc_bin; }
const char *h_sockserv(void) { return H.sockserv_bin; }

pid_t h_agent_pid(int i)
{
	return i >= 1 && i <= H.nagents ? H.agents[i] : 0;
}

pid_t h_keeper_pid(int i)
{
	char path[H_PATH_MAX + 64];

	snprintf(path, sizeof path, "%s/n%d/run/keeper.pid", H.dir, i);
	return h_read_pidfile(path);
}

/* Remembers agent i's current keeper, so that teardown kills it even if
 * its pid file is gone by then. */
static void note_keeper(int i)
{
	pid_t k = h_keeper_pid(i);

	for (int j = 0; k > 1 && j < 4; j++) {
		if (H.keepers[i][j] == k)
			return;
		if (H.keepers[i][j] == 0) {
			H.keepers[i][j] = k;
			return;
		}
	}
}

/* SIGKILLs every agent's keeper (its services die with it: they have
 * PR_SET_PDEATHSIG): the one in its pid file and every one seen before.
 * Async-signal-safe enough for the alarm handler: open/read/kill only. */
static void kill_keepers(void)
{
	for (int i = 1; i <= H.nagents; i++) {
		pid_t k = h_keeper_pid(i);
		if (k > 1 && k != getpid())
			kill(k, SIGKILL);
		for (int j = 0; j < 4; j++)
			if (H.keepers[i][j] > 1 && H.keepers[i][j] != getpid())
				kill(H.keepers[i][j], SIGKILL);
	}
}

const char *h_path(const char *name)
{
	char buf[H_PATH_MAX * 2];

	snprintf(buf, sizeof buf, "%s/%s", H.dir, name);
	return intern(buf);
}

const char *h_save(const char *name, const char *text)
{
	const char *path = h_path(name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	cr_assert(fd >= 0, "cannot write %s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

/* A key file rsd keeps beside its db (admin.cred, join.token). */
static const char *key_path(const char *name)
{
	char buf[H_PATH_MAX * 2];

	snprintf(buf, sizeof buf, "%s/%s", H.keydir, name);
	return intern(buf);
}

void h_pass(void)
{
	H.passed = true;
}

/* ---- processes -------------------------------------------------------- */

bool h_pid_alive(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	if (pid <= 0)
		return false;
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return false;
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	p = strrchr(buf, ')');		/* comm may hold ')' and spaces */
	if (!p || p[1] != ' ')
		return true;
	return p[2] != 'Z' && p[2] != 'X' && p[2] != 'x';
}

void h_track_pid(pid_t pid)
{
	if (pid <= 1 || pid == getpid())
		return;
	for (int i = 0; i < H.npids; i++)
		if (H.pids[i] == pid)
			return;
	if (H.npids < H_MAX_PIDS)
		H.pids[H.npids++] = pid;
}

pid_t h_read_pidfile(const char *path)
{
	char buf[32];
	ssize_t n;
	long v;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	v = strtol(buf, NULL, 10);
	return v > 1 && v < INT_MAX ? (pid_t)v : 0;
}

/* SIGKILLs pid and the process group it leads (services run in their own
 * session). Never our own group. */
static void kill_pid_and_group(pid_t pid)
{
	if (pid <= 1 || pid == getpid())
		return;
	if (pid != getpgrp())
		kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
}

/* Reaps our child pid, waiting up to timeout_ms; true if reaped. */
static bool reap(pid_t pid, int timeout_ms, int *status)
{
	int64_t end = h_now_ms() + timeout_ms;
	int st;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid) {
			if (status)
				*status = st;
			return true;
		}
		if (r < 0 && errno != EINTR)
			return errno == ECHILD;
		if (h_now_ms() >= end)
			return false;
		sleep_ms(5);
	}
}

/* In the child between fork and exec: async-signal-safe only. Makes fds
 * 0, 1, 2 (and 3 = keep if >= 0) and closes the rest, resets signals. */
static void child_setup(pid_t parent, int in, int out, int err, int keep)
{
	struct sigaction sa;
	sigset_t none;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			sigaction(s, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* move everything above 3 first so dup2 cannot clobber a source */
	if (in >= 0 && in < 4)
		in = fcntl(in, F_DUPFD, 10);
	if (out >= 0 && out < 4)
		out = fcntl(out, F_DUPFD, 10);
	if (err >= 0 && err < 4)
		err = fcntl(err, F_DUPFD, 10);
	if (keep >= 0 && keep < 4)
		keep = fcntl(keep, F_DUPFD, 10);
	if (in < 0 || out < 0 || err < 0)
		_exit(127);
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(127);
	if (keep >= 0) {
		if (dup2(keep, 3) < 0)
			_exit(127);
		close_range(4, ~0U, 0);
	} else {
		close_range(3, ~0U, 0);
	}
}

/* Starts a daemon with stdout+stderr appended to logpath; ready_wfd (or
 * -1) becomes its fd 3. Returns its pid. */
static pid_t spawn_daemon(const char *const *argv, const char *logpath,
			  int ready_wfd)
{
	int logfd, nullfd;
	pid_t pid, parent = getpid();

	logfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	cr_assert(logfd >= 0, "cannot open %s: %s", logpath, strerror(errno));
	nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	cr_assert(nullfd >= 0, "cannot open /dev/null");
	fflush(NULL);
	pid = fork();
	cr_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		child_setup(parent, nullfd, logfd, logfd, ready_wfd);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(logfd);
	close(nullfd);
	return pid;
}

/* ---- running programs ------------------------------------------------- */

struct buf {
	char  *p;
	size_t len, cap;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4096;

		while (cap < b->len + n + 1)
			cap *= 2;
		b->p = realloc(b->p, cap);
		cr_assert(b->p, "out of memory");
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static h_res *res_new(void)
{
	h_res *r = calloc(1, sizeof *r);

	cr_assert(r, "out of memory");
	r->next_ = H.results;
	H.results = r;
	return r;
}

const h_res *h_run(int timeout_ms, const char *const *argv)
{
	struct buf out = { 0 }, err = { 0 };
	int po[2], pe[2], nullfd, st = 0;
	int64_t start = h_now_ms(), end = start + timeout_ms;
	h_res *r = res_new();
	pid_t pid, parent = getpid();
	bool open_o = true, open_e = true;

	buf_add(&out, "", 0);
	buf_add(&err, "", 0);
	if (H.aborting) {
		static const char m[] = "harness: aborting (alarm), not run\n";

		buf_add(&err, m, sizeof m - 1);
		r->code = -1;
		r->timed_out = true;
		r->out = out.p;
		r->err = err.p;
		return r;
	}
	cr_assert(pipe2(po, O_CLOEXEC) == 0 && pipe2(pe, O_CLOEXEC) == 0,
		  "pipe: %s", strerror(errno));
	nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	cr_assert(nullfd >= 0);
	fflush(NULL);
	pid = fork();
	cr_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		child_setup(parent, nullfd, po[1], pe[1], -1);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	H.cur_child = pid;
	close(po[1]);
	close(pe[1]);
	close(nullfd);
	while (open_o || open_e) {
		struct pollfd pf[2];
		int nf = 0, left = (int)(end - h_now_ms()), n;
		char chunk[4096];

		if (left <= 0 || H.aborting) {
			if (!r->timed_out) {
				kill(pid, SIGKILL);
				r->timed_out = true;
			}
			left = 1000;	/* drain what is left after the kill */
			end = h_now_ms() + left;
		}
		if (open_o)
			pf[nf++] = (struct pollfd){ .fd = po[0], .events = POLLIN };
		if (open_e)
			pf[nf++] = (struct pollfd){ .fd = pe[0], .events = POLLIN };
		n = poll(pf, (nfds_t)nf, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (r->timed_out)
				break;	/* someone else holds the pipe */
			continue;
		}
		for (int i = 0; i < nf; i++) {
			ssize_t k;

			if (!pf[i].revents)
				continue;
			k = read(pf[i].fd, chunk, sizeof chunk);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) {
				if (pf[i].fd == po[0])
					open_o = false;
				else
					open_e = false;
				continue;
			}
			buf_add(pf[i].fd == po[0] ? &out : &err, chunk, (size_t)k);
		}
	}
	close(po[0]);
	close(pe[0]);
	if (!reap(pid, r->timed_out ? 5000 : timeout_ms + 1000, &st)) {
		kill(pid, SIGKILL);
		reap(pid, 5000, &st);
		r->timed_out = true;
	}
	H.cur_child = 0;
	r->elapsed_ms = (long)(h_now_ms() - start);
	if (WIFEXITED(st) && !r->timed_out) {
		r->code = WEXITSTATUS(st);
	} else {
		r->code = -1;
		r->sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
	}
	r->out = out.p;
	r->err = err.p;
	return r;
}

const h_res *h_rsctl_v(int timeout_ms, const char *const *args)
{
	const char *argv[H_MAX_ARGS + 5];
	int n = 0;

	argv[n++] = H.ctl_bin;
	argv[n++] = "-s";
	argv[n++] = H.control_ep;
	if (H.insecure)
		argv[n++] = "--insecure";
	for (int i = 0; args[i]; i++) {
		cr_assert(n < H_MAX_ARGS + 4, "too many rsctl arguments");
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	return h_run(timeout_ms, argv);
}

static const h_res *rsctl_va(int timeout_ms, const char *arg, va_list ap)
{
	const char *args[H_MAX_ARGS + 1];
	int n = 0;

	for (const char *a = arg; a; a = va_arg(ap, const char *)) {
		cr_assert(n < H_MAX_ARGS, "too many rsctl arguments");
		args[n++] = a;
	}
	args[n] = NULL;
	return h_rsctl_v(timeout_ms, args);
}

const h_res *h_rsctl(const char *arg, ...)
{
	const h_res *r;
	va_list ap;

	va_start(ap, arg);
	r = rsctl_va(H_RSCTL_TIMEOUT_MS, arg, ap);
	va_end(ap);
	return r;
}

const h_res *h_rsctl_t(int timeout_ms, const char *arg, ...)
{
	const h_res *r;
	va_list ap;

	va_start(ap, arg);
	r = rsctl_va(timeout_ms, arg, ap);
	va_end(ap);
	return r;
}

char *h_slurp(const char *path, size_t *len)
{
	struct buf b = { 0 };
	char chunk[4096];
	size_t k;
	FILE *f = fopen(path, "re");

	buf_add(&b, "", 0);
	while (f && (k = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_add(&b, chunk, k);
	if (f)
		fclose(f);
	if (len)
		*len = b.len;
	return b.p;
}

bool h_file_has(const char *path, const char *what)
{
	char *s = h_slurp(path, NULL);
	bool yes = strstr(s, what) != NULL;

	free(s);
	return yes;
}

pid_t h_job_pid(const h_job *j)
{
	return j->pid;
}

const char *h_job_out(const h_job *j)
{
	return j->out;
}

h_job *h_rsctl_start(const char *arg, ...)
{
	const char *argv[H_MAX_ARGS + 5];
	struct h_job *j;
	int n = 0, in, out, err;
	pid_t pid, parent = getpid();
	va_list ap;

	cr_assert(H.njobs < H_MAX_JOBS, "too many rsctl jobs");
	j = &H.jobs[H.njobs];
	snprintf(j->out, sizeof j->out, "%s/job-%d.out", H.dir, H.njobs);
	snprintf(j->err, sizeof j->err, "%s/job-%d.err", H.dir, H.njobs);
	argv[n++] = H.ctl_bin;
	argv[n++] = "-s";
	argv[n++] = H.control_ep;
	if (H.insecure)
		argv[n++] = "--insecure";
	va_start(ap, arg);
	for (const char *a = arg; a; a = va_arg(ap, const char *)) {
		cr_assert(n < H_MAX_ARGS + 3, "too many rsctl arguments");
		argv[n++] = a;
	}
	va_end(ap);
	argv[n] = NULL;
	in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	out = open(j->out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	err = open(j->err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	cr_assert(in >= 0 && out >= 0 && err >= 0, "cannot open job files");
	fflush(NULL);
	j->start = h_now_ms();
	pid = fork();
	cr_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		child_setup(parent, in, out, err, -1);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(in);
	close(out);
	close(err);
	j->pid = pid;
	H.njobs++;
	return j;
}

bool h_job_running(h_job *j)
{
	siginfo_t si;

	if (!j || j->pid <= 0 || j->done)
		return false;
	memset(&si, 0, sizeof si);
	/* WNOWAIT: look, do not reap (h_job_wait does) */
	if (waitid(P_PID, (id_t)j->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return false;
	return si.si_pid == 0;
}

const h_res *h_job_wait(h_job *j, int timeout_ms)
{
	h_res *r = res_new();
	int st = 0;

	cr_assert(j && j->pid > 0 && !j->done, "not a running job");
	if (H.aborting || !reap(j->pid, timeout_ms, &st)) {
		kill(j->pid, SIGKILL);
		reap(j->pid, 5000, &st);
		r->timed_out = true;
	}
	j->done = true;
	r->elapsed_ms = (long)(h_now_ms() - j->start);
	if (WIFEXITED(st) && !r->timed_out) {
		r->code = WEXITSTATUS(st);
	} else {
		r->code = -1;
		r->sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
	}
	r->out = h_slurp(j->out, NULL);
	r->err = h_slurp(j->err, NULL);
	return r;
}

const char *h_jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

json_t *h_json(const h_res *r)
{
	json_error_t e;
	json_t *j;

	if (!r || !r->out || !r->out[0])
		return NULL;
	j = json_loads(r->out, JSON_DECODE_ANY, &e);
	if (!j)
		return NULL;
	if (!H.jpool)
		H.jpool = json_array();
	json_array_append_new(H.jpool, j);	/* the pool owns it */
	return j;
}

/* ---- queries ---------------------------------------------------------- */

static void copy_str(char *dst, size_t n, const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	snprintf(dst, n, "%s", s ? s : "");
}

static long long get_int(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_real(v))
		return (long long)json_real_value(v);
	return 0;
}

static bool live_state(const char *s)
{
	return !strcmp(s, "starting") || !strcmp(s, "running") ||
	       !strcmp(s, "stopping");
}

bool h_status_instance(const char *label, h_inst *inst)
{
	const h_res *r = h_rsctl_t(15000, "status", label, "--json", NULL);
	json_t *j = h_json(r), *svcs, *svc = NULL, *insts, *best = NULL, *v;
	size_t i;

	memset(inst, 0, sizeof *inst);
	if (!j)
		return false;
	svcs = json_object_get(j, "services");
	json_array_foreach(svcs, i, v) {
		const char *l = json_string_value(json_object_get(v, "label"));

		if (l && !strcmp(l, label)) {
			svc = v;
			break;
		}
	}
	if (!svc)
		return false;
	copy_str(inst->svc_state, sizeof inst->svc_state, svc, "state");
	copy_str(inst->desired, sizeof inst->desired, svc, "desired");
	insts = json_object_get(svc, "instances");
	inst->ninstances = (int)json_array_size(insts);
	json_array_foreach(insts, i, v) {
		const char *st = json_string_value(json_object_get(v, "state"));
		const char *bst = best ? json_string_value(
			json_object_get(best, "state")) : NULL;
		bool live = st && live_state(st);
		bool blive = bst && live_state(bst);

		h_track_pid((pid_t)get_int(v, "pid"));
		if (!best || (live && !blive) ||
		    (live == blive && get_int(v, "id") > get_int(best, "id")))
			best = v;
	}
	if (!best)
		return false;
	inst->found = true;
	inst->id = (uint64_t)get_int(best, "id");
	copy_str(inst->node, sizeof inst->node, best, "node");
	inst->pid = (pid_t)get_int(best, "pid");
	copy_str(inst->state, sizeof inst->state, best, "state");
	inst->restarts = (int)get_int(best, "restarts");
	copy_str(inst->status, sizeof inst->status, best, "status");
	v = json_object_get(best, "last_exit");
	inst->exit_code = (int)get_int(v, "code");
	inst->exit_signal = (int)get_int(v, "signal");
	copy_str(inst->reason, sizeof inst->reason, v, "reason");
	return true;
}

/* Records the pid of every instance `status --json` lists. */
static void track_all_instances(int timeout_ms)
{
	const h_res *r = h_rsctl_t(timeout_ms, "status", "--json", NULL);
	json_t *j = h_json(r), *svc, *in;
	size_t i, k;

	if (!j)
		return;
	json_array_foreach(json_object_get(j, "services"), i, svc)
		json_array_foreach(json_object_get(svc, "instances"), k, in)
			h_track_pid((pid_t)get_int(in, "pid"));
}

bool h_node_state(const char *node, char *state, size_t n)
{
	const h_res *r = h_rsctl_t(15000, "nodes", "--json", NULL);
	json_t *j = h_json(r), *v;
	size_t i;

	if (state && n)
		state[0] = '\0';
	if (!j)
		return false;
	json_array_foreach(json_object_get(j, "nodes"), i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));

		if (name && !strcmp(name, node)) {
			if (state && n)
				copy_str(state, n, v, "state");
			return true;
		}
	}
	return false;
}

bool h_nodes_all_up(void)
{
	const h_res *r = h_rsctl_t(15000, "nodes", "--json", NULL);
	json_t *j = h_json(r), *v;
	size_t i;
	int up = 0;

	if (!j)
		return false;
	for (int a = 1; a <= H.nagents; a++) {
		char name[16];

		snprintf(name, sizeof name, "n%d", a);
		json_array_foreach(json_object_get(j, "nodes"), i, v) {
			const char *nm = json_string_value(json_object_get(v, "name"));
			const char *st = json_string_value(json_object_get(v, "state"));

			if (nm && st && !strcmp(nm, name) && !strcmp(st, "up")) {
				up++;
				break;
			}
		}
	}
	return up == H.nagents;
}

/* ---- waiting ---------------------------------------------------------- */

bool h_wait_until(bool (*fn)(void *), void *arg, int timeout_ms)
{
	int64_t end = h_now_ms() + timeout_ms;

	for (;;) {
		if (H.aborting)
			return false;
		if (fn(arg))
			return true;
		if (h_now_ms() >= end)
			return false;
		sleep_ms(20);
	}
}

struct file_has { const char *path, *what; };

static bool file_has_fn(void *arg)
{
	const struct file_has *h = arg;

	return h_file_has(h->path, h->what);
}

bool h_wait_file_has(const char *path, const char *what, int timeout_ms)
{
	struct file_has h = { path, what };

	return h_wait_until(file_has_fn, &h, timeout_ms);
}

static bool nodes_up_fn(void *arg)
{
	(void)arg;
	return h_nodes_all_up();
}

/* ---- the cluster ------------------------------------------------------ */

/* The directory of the build tree: $RS_BIN_DIR, else two levels above
 * this executable (BUILD/tests/test_integration). */
static void find_bindir(char *dir, size_t n)
{
	const char *env = getenv("RS_BIN_DIR");
	char exe[H_PATH_MAX];
	ssize_t k;

	if (env && *env) {
		snprintf(dir, n, "%s", env);
		return;
	}
	k = readlink("/proc/self/exe", exe, sizeof exe - 1);
	cr_assert(k > 0, "RS_BIN_DIR is not set and /proc/self/exe unreadable");
	exe[k] = '\0';
	for (int up = 0; up < 2; up++) {
		char *s = strrchr(exe, '/');

		if (s)
			*s = '\0';
	}
	snprintf(dir, n, "%s", exe);
}

static void set_bin(char *dst, const char *dir, const char *rel)
{
	int k = snprintf(dst, H_PATH_MAX, "%s/%s", dir, rel);

	cr_assert(k > 0 && k < H_PATH_MAX, "path too long");
	cr_assert(access(dst, X_OK) == 0, "%s is not executable (RS_BIN_DIR=%s): %s",
		  dst, dir, strerror(errno));
}

/* Reads "control=EP agents=EP[ ...]\n" from fd within timeout_ms. */
static bool read_ready_line(int fd, int timeout_ms, char *line, size_t n)
{
	int64_t end = h_now_ms() + timeout_ms;
	size_t len = 0;

	line[0] = '\0';
	while (len + 1 < n) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		int left = (int)(end - h_now_ms()), k;
		ssize_t got;

		if (left <= 0)
			return false;
		k = poll(&pf, 1, left);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return false;
		got = read(fd, line + len, n - 1 - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return false;	/* EOF: rsd died or closed without a line */
		len += (size_t)got;
		line[len] = '\0';
		if (strchr(line, '\n'))
			return true;
	}
	return false;
}

static bool ready_field(const char *line, const char *key, char *out, size_t n)
{
	size_t kl = strlen(key);

	for (const char *p = line; p && *p; ) {
		while (*p == ' ')
			p++;
		if (!strncmp(p, key, kl) && p[kl] == '=') {
			size_t vl = strcspn(p + kl + 1, " \n");

			if (vl == 0 || vl >= n)
				return false;
			memcpy(out, p + kl + 1, vl);
			out[vl] = '\0';
			return true;
		}
		p = strchr(p, ' ');
	}
	return false;
}

/* Starts rsd on control/agents endpoints and reads its ready line into
 * H.control_ep / H.agents_ep. */
static void start_rsd(const char *control, const char *agents)
{
	const char *argv[24];
	char fdarg[16], line[1024], log[H_PATH_MAX + 16];
	int p[2], n = 0;
	bool ok;

	cr_assert(pipe2(p, O_CLOEXEC) == 0, "pipe: %s", strerror(errno));
	snprintf(fdarg, sizeof fdarg, "%d", 3);
	snprintf(log, sizeof log, "%s/rsd.log", H.dir);
	argv[n++] = H.rsd_bin;
	argv[n++] = "--db";
	argv[n++] = H.db;
	argv[n++] = "--agents";
	argv[n++] = agents;
	argv[n++] = "--control";
	argv[n++] = control;
	if (H.node_ttl[0]) {
		argv[n++] = "--node-ttl";
		argv[n++] = H.node_ttl;
	}
	argv[n++] = "--ready-fd";
	argv[n++] = fdarg;
	if (H.insecure)
		argv[n++] = "--insecure";
	for (int i = 0; i < 4 && H.rsd_arg[i]; i++)
		argv[n++] = H.rsd_arg[i];
	argv[n] = NULL;
	H.rsd = spawn_daemon(argv, log, p[1]);
	close(p[1]);
	ok = read_ready_line(p[0], H_START_TIMEOUT_MS, line, sizeof line);
	close(p[0]);
	if (!ok) {
		pid_t rsd = H.rsd;

		h_teardown();	/* .fini does not run when .init fails */
		cr_assert_fail("rsd (pid %d) gave no ready line within %d ms "
			       "(got '%s')", (int)rsd, H_START_TIMEOUT_MS, line);
	}
	cr_assert(ready_field(line, "control", H.control_ep, sizeof H.control_ep) &&
		  ready_field(line, "agents", H.agents_ep, sizeof H.agents_ep),
		  "rsd's ready line is malformed: '%s'", line);
	/* every rsctl the test runs uses rsd's admin credential */
	if (H.insecure)
		unsetenv("RS_CRED");
	else
		setenv("RS_CRED", key_path("admin.cred"), 1);
}

static void start_agent(int i)
{
	char node[16], sdir[H_PATH_MAX + 16], log[H_PATH_MAX + 32];
	char token[H_PATH_MAX + 16];
	const char *argv[] = { H.agent_bin, "--node", node, "--rsd",
			       H.agents_ep, "--state-dir", sdir,
			       H.insecure ? "--insecure" : "--token-file", token,
			       H.agent_arg[i], NULL };

	snprintf(node, sizeof node, "n%d", i);
	snprintf(token, sizeof token, "%s/join.token", H.keydir);
	if (H.insecure)
		argv[8] = H.agent_arg[i], argv[9] = NULL;
	snprintf(sdir, sizeof sdir, "%s/%s", H.dir, node);
	snprintf(log, sizeof log, "%s/agent-%s.log", H.dir, node);
	H.agents[i] = spawn_daemon(argv, log, -1);
}

static void alarm_handler(int sig)
{
	static const char msg[] =
		"harness: test alarm fired, aborting waits and killing rsctl\n";
	pid_t c = H.cur_child;

	(void)sig;
	if (!H.aborting) {
		H.aborting = 1;
		if (write(2, msg, sizeof msg - 1) < 0) {
			/* nothing to do */
		}
		if (c > 0)
			kill(c, SIGKILL);
		alarm(5);
		return;
	}
	/* second stage: teardown did not come; kill everything by pid */
	for (int i = 0; i < H.npids; i++) {
		kill(-H.pids[i], SIGKILL);
		kill(H.pids[i], SIGKILL);
	}
	for (int i = 1; i <= H.nagents; i++)
		if (H.agents[i] > 0)
			kill(H.agents[i], SIGKILL);
	kill_keepers();
	if (H.rsd > 0)
		kill(H.rsd, SIGKILL);
	for (int i = 0; i < H.njobs; i++)
		if (!H.jobs[i].done && H.jobs[i].pid > 0)
			kill(H.jobs[i].pid, SIGKILL);
}

void h_setup(int agents)
{
	h_opts o = { .agents = agents, .node_ttl = NULL, .alarm_s = 50 };

	h_setup_opts(&o);
}

void h_setup_env(int agents, const char *name, const char *value)
{
	cr_assert_eq(setenv(name, value, 1), 0, "setenv %s", name);
	h_setup(agents);
	unsetenv(name);
}

void h_setup_opts(const h_opts *o)
{
	char bindir[H_PATH_MAX];
	struct sigaction sa;

	memset(&H, 0, sizeof H);
	H.active = true;
	/* every rsd checks its lookups against its lists each period and
	 * aborts on a mismatch (rsd/rsd.c rsd_tables_check) */
	setenv("RS_CHECK_TABLES", "1", 1);
	cr_assert(o->agents >= 0 && o->agents <= H_MAX_AGENTS);
	find_bindir(bindir, sizeof bindir);
	set_bin(H.rsd_bin, bindir, "rsd/rsd");
	set_bin(H.agent_bin, bindir, "agent/rs-agent");
	set_bin(H.ctl_bin, bindir, "ctl/rsctl");
	set_bin(H.svc_bin, bindir, "tests/notifysvc");
	set_bin(H.sockserv_bin, bindir, "tests/sockserv");
	snprintf(H.dir, sizeof H.dir, "%s", "/tmp/rs-it-XXXXXX");
	cr_assert(mkdtemp(H.dir), "mkdtemp: %s", strerror(errno));
	/* one keeper per node and host (docs/design.md): every cluster here
	 * names its nodes n1..nN, so each is a host of its own */
	h_as_host(NULL);
	snprintf(H.keydir, sizeof H.keydir, "%s", o->db_dir ? o->db_dir : H.dir);
	snprintf(H.db, sizeof H.db, "%s/rs.db", H.keydir);
	if (o->node_ttl)
		snprintf(H.node_ttl, sizeof H.node_ttl, "%s", o->node_ttl);
	H.insecure = o->insecure;
	memcpy(H.rsd_arg, o->rsd_arg, sizeof H.rsd_arg);
	if (o->alarm_s > 0) {
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = alarm_handler;
		sigaction(SIGALRM, &sa, NULL);
		alarm((unsigned)o->alarm_s);
	}
	start_rsd("tcp://127.0.0.1:*", "tcp://127.0.0.1:*");
	for (int i = 1; i <= o->agents; i++) {
		H.nagents = i;
		H.agent_arg[i] = o->agent_arg[i];
		start_agent(i);
	}
	if (o->agents > 0 && !h_wait_until(nodes_up_fn, NULL, H_START_TIMEOUT_MS)) {
		const h_res *r = h_rsctl_t(15000, "nodes", NULL);
		char msg[2048];

		snprintf(msg, sizeof msg, "the agents are not all up after %d ms; "
			 "rsctl nodes (exit %d):\n%s%s", H_START_TIMEOUT_MS,
			 r->code, r->out, r->err);
		h_teardown();	/* .fini does not run when .init fails */
		cr_assert_fail("%s", msg);
	}
	for (int i = 1; i <= o->agents; i++)
		note_keeper(i);
}

int h_kill_rsd(int sig)
{
	int st = 0;

	cr_assert(H.rsd > 0, "rsd is not running");
	kill(H.rsd, sig);
	if (!reap(H.rsd, 5000, &st)) {
		h_dump_logs(30);
		cr_assert_fail("rsd (pid %d) did not die on signal %d",
			       (int)H.rsd, sig);
	}
	H.rsd = 0;
	return st;
}

int h_kill_agent(int i, int sig)
{
	int st = 0;

	cr_assert(i >= 1 && i <= H.nagents && H.agents[i] > 0,
		  "agent n%d is not running", i);
	note_keeper(i);
	kill(H.agents[i], sig);
	if (!reap(H.agents[i], 10000, &st)) {
		h_dump_logs(30);
		cr_assert_fail("agent n%d (pid %d) did not die on signal %d",
			       i, (int)H.agents[i], sig);
	}
	H.agents[i] = 0;
	return st;
}

void h_restart_agent(int i)
{
	cr_assert(i >= 1 && i <= H.nagents, "no agent n%d", i);
	cr_assert(H.agents[i] == 0, "agent n%d is still running", i);
	start_agent(i);
}

void h_as_host(const char *tag)
{
	char host[H_PATH_MAX + 64];
	const char *base = strrchr(H.dir, '/');

	snprintf(host, sizeof host, "%s%s%s", base ? base + 1 : H.dir,
		 tag ? "-" : "", tag ? tag : "");
	setenv("RS_TEST_HOST", host, 1);
}

const h_res *h_run_agent_dir(int i, const char *dir, int timeout_ms)
{
	char node[16], token[H_PATH_MAX + 16], pidfile[H_PATH_MAX + 32];
	const char *argv[] = { H.agent_bin, "--node", node, "--rsd",
			       H.agents_ep, "--state-dir", dir,
			       H.insecure ? "--insecure" : "--token-file", token,
			       H.agent_arg[i], NULL };
	const h_res *r;

	cr_assert(i >= 1 && i <= H.nagents, "no agent n%d", i);
	snprintf(node, sizeof node, "n%d", i);
	snprintf(token, sizeof token, "%s/join.token", H.keydir);
	if (H.insecure)
		argv[8] = H.agent_arg[i], argv[9] = NULL;
	r = h_run(timeout_ms, argv);
	snprintf(pidfile, sizeof pidfile, "%s/run/keeper.pid", dir);
	h_track_pid(h_read_pidfile(pidfile));
	return r;
}

void h_restart_rsd(void)
{
	char control[128], agents[128];

	cr_assert(H.rsd == 0 || !h_pid_alive(H.rsd), "rsd is still running");
	if (H.rsd > 0)
		reap(H.rsd, 1000, NULL);
	snprintf(control, sizeof control, "%s", H.control_ep);
	snprintf(agents, sizeof agents, "%s", H.agents_ep);
	start_rsd(control, agents);
	cr_assert_str_eq(H.control_ep, control, "rsd moved its control endpoint");
	cr_assert_str_eq(H.agents_ep, agents, "rsd moved its agent endpoint");
}

/* Prints the last `lines` lines of one file to stderr. */
static void dump_tail(const char *path, int lines)
{
	FILE *f = fopen(path, "re");
	long size, pos;
	int nl = 0;
	char chunk[512];

	if (!f)
		return;
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	pos = size;
	/* walk back to the start of the last `lines` lines */
	while (pos > 0 && nl <= lines) {
		int c;

		pos--;
		fseek(f, pos, SEEK_SET);
		c = fgetc(f);
		if (c == '\n' && pos != size - 1)
			nl++;
	}
	if (nl > lines)
		pos++;
	fseek(f, pos, SEEK_SET);
	fprintf(stderr, "----- %s (last %d lines) -----\n", path, lines);
	for (size_t k; (k = fread(chunk, 1, sizeof chunk, f)) > 0; )
		fwrite(chunk, 1, k, stderr);
	fprintf(stderr, "----- end of %s -----\n", path);
	fclose(f);
}

void h_dump_logs(int lines)
{
	char path[H_PATH_MAX * 2];
	DIR *d;
	struct dirent *e;

	if (!H.dir[0])
		return;
	snprintf(path, sizeof path, "%s/rsd.log", H.dir);
	dump_tail(path, lines);
	for (int i = 1; i <= H.nagents; i++) {
		snprintf(path, sizeof path, "%s/agent-n%d.log", H.dir, i);
		dump_tail(path, lines);
	}
	/* the services' own logs: STATE_DIR/logs/LABEL.ID.log */
	for (int i = 1; i <= H.nagents; i++) {
		char ldir[H_PATH_MAX + 32];

		snprintf(ldir, sizeof ldir, "%s/n%d/logs", H.dir, i);
		d = opendir(ldir);
		if (!d)
			continue;
		while ((e = readdir(d))) {
			struct stat stt;

			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof path, "%s/%s", ldir, e->d_name);
			if (stat(path, &stt) == 0 && stt.st_size > 0)
				dump_tail(path, 5);
		}
		closedir(d);
	}
}

/* Pids of processes whose environment points NOTIFY_SOCKET into our temp
 * dir: services of our agents that status did not show (a start in
 * flight, a child left in a group...). Matched on our unique dir. */
static void track_env_matches(void)
{
	char needle[H_PATH_MAX + 32];
	size_t nl;
	DIR *d = opendir("/proc");
	struct dirent *e;

	if (!d || !H.dir[0]) {
		if (d)
			closedir(d);
		return;
	}
	nl = (size_t)snprintf(needle, sizeof needle, "NOTIFY_SOCKET=%s/", H.dir);
	while ((e = readdir(d))) {
		char path[300], env[16384];
		long pid = strtol(e->d_name, NULL, 10);
		ssize_t n;
		int fd;

		if (pid <= 1 || pid == getpid())
			continue;
		snprintf(path, sizeof path, "/proc/%ld/environ", pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, env, sizeof env - 1);
		close(fd);
		if (n <= 0)
			continue;
		env[n] = '\0';
		for (ssize_t off = 0; off < n; off += (ssize_t)strlen(env + off) + 1)
			if (!strncmp(env + off, needle, nl)) {
				h_track_pid((pid_t)pid);
				break;
			}
	}
	closedir(d);
}

static int rm_cb(const char *path, const struct stat *sb, int flag,
		 struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* Kills what a cgroup dir holds and removes it (one level of children,
 * as the keeper makes them). */
static void remove_cgroup_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		char sub[H_PATH_MAX * 2], f[H_PATH_MAX * 2 + 32], ev[256];
		int fd;

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if (snprintf(sub, sizeof sub, "%s/%s", dir, de->d_name) >= (int)sizeof sub)
			continue;   /* not one of ours: their names are short */
		snprintf(f, sizeof f, "%s/cgroup.kill", sub);
		if ((fd = open(f, O_WRONLY | O_CLOEXEC)) >= 0) {
			if (write(fd, "1", 1) < 0) {
				/* removed below if it empties anyway */
			}
			close(fd);
		}
		snprintf(f, sizeof f, "%s/cgroup.events", sub);
		for (int i = 0; i < 200; i++) {
			ssize_t n = 0;
			if ((fd = open(f, O_RDONLY | O_CLOEXEC)) >= 0) {
				n = read(fd, ev, sizeof ev - 1);
				close(fd);
			}
			ev[n > 0 ? n : 0] = '\0';
			if (!strstr(ev, "populated 1"))
				break;
			poll(NULL, 0, 10);
		}
		rmdir(sub);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

/* The cgroups the cluster's keepers made (docs/design.md, "A cgroup per
 * instance"): <cgroup2>/rs.HOST.NODE, HOST this cluster's (h_as_host);
 * a keeper killed by teardown leaves them. */
static void remove_cgroups(void)
{
	static const char *const mounts[] = { "/sys/fs/cgroup/unified", "/sys/fs/cgroup" };
	const char *base = strrchr(H.dir, '/');
	char prefix[H_PATH_MAX];

	snprintf(prefix, sizeof prefix, "rs.%.200s", base ? base + 1 : H.dir);
	for (size_t m = 0; m < sizeof mounts / sizeof mounts[0]; m++) {
		DIR *d = opendir(mounts[m]);
		struct dirent *de;

		while (d && (de = readdir(d))) {
			char path[H_PATH_MAX * 2];
			if (de->d_type != DT_DIR ||
			    strncmp(de->d_name, prefix, strlen(prefix)) != 0)
				continue;
			snprintf(path, sizeof path, "%s/%s", mounts[m], de->d_name);
			remove_cgroup_tree(path);
		}
		if (d)
			closedir(d);
	}
	/* the subtrees on v1 hierarchies (limits), listed by each keeper in
	 * run/cgroup.v1: empty once the v2 ones are (the same processes) */
	for (int i = 1; i <= H.nagents; i++) {
		char list[H_PATH_MAX + 32], line[H_PATH_MAX];
		FILE *f;

		snprintf(list, sizeof list, "%s/n%d/run/cgroup.v1", H.dir, i);
		if (!(f = fopen(list, "re")))
			continue;
		while (fgets(line, sizeof line, f)) {
			line[strcspn(line, "\n")] = '\0';
			if (!strncmp(line, "/sys/fs/cgroup/", 15) && strstr(line, "/rs."))
				remove_cgroup_tree(line);
		}
		fclose(f);
	}
}

void h_teardown(void)
{
	if (!H.active)
		return;
	alarm(0);
	/* 1. learn every service pid rsd knows of, while it still answers */
	if (H.rsd > 0 && h_pid_alive(H.rsd) && H.control_ep[0] && !H.aborting)
		track_all_instances(5000);
	/* 2. agents first, so nothing restarts what we kill next (their
	 * keepers after them) */
	for (int i = 1; i <= H.nagents; i++)
		note_keeper(i);
	for (int i = 1; i <= H.nagents; i++)
		if (H.agents[i] > 0)
			kill(H.agents[i], SIGKILL);
	for (int i = 1; i <= H.nagents; i++)
		if (H.agents[i] > 0) {
			reap(H.agents[i], 5000, NULL);
			H.agents[i] = 0;
		}
	kill_keepers();
	/* 3. the services (and their groups) */
	track_env_matches();
	for (int i = 0; i < H.npids; i++)
		kill_pid_and_group(H.pids[i]);
	remove_cgroups();
	/* 4. rsd */
	if (H.rsd > 0) {
		kill(H.rsd, SIGKILL);
		reap(H.rsd, 5000, NULL);
		H.rsd = 0;
	}
	for (int i = 0; i < H.njobs; i++)
		if (!H.jobs[i].done && H.jobs[i].pid > 0) {
			kill(H.jobs[i].pid, SIGKILL);
			reap(H.jobs[i].pid, 5000, NULL);
		}
	/* any other child of ours (a stray rsctl) */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	if (!H.passed)
		h_dump_logs(30);
	if (H.dir[0] && getenv("RS_IT_KEEP") == NULL)
		nftw(H.dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	else if (H.dir[0])
		fprintf(stderr, "harness: kept %s\n", H.dir);
	for (h_res *r = H.results, *nx; r; r = nx) {
		nx = r->next_;
		free(r->out);
		free(r->err);
		free(r);
	}
	for (struct h_str *s = H.strs, *nx; s; s = nx) {
		nx = s->next;
		free(s);
	}
	json_decref(H.jpool);
	memset(&H, 0, sizeof H);
}

const struct net_curve *h_curve(void)
{
	static net_curve c;
	char err[512];
	rs_cred cr;

	if (H.insecure)
		return NULL;
	cr_assert(cred_read(key_path("admin.cred"), &cr, err, sizeof err) == 0,
		  "admin.cred: %s", err);
	cred_curve(&cr, &c);
	return &c;
}
