/*
 * script.c - recovery scripts (MINIX RS): when an instance of a service
 * with a script dies, its agent does not restart it; rsd runs
 *
 *	SCRIPT LABEL REASON INCARNATION
 *
 * on the control node, with RS_CONTROL set to rsd's control endpoint and
 * RS_CRED to script.cred (an operator credential rsd made beside its
 * database; RS_INSECURE=1 instead with --insecure), so the script decides
 * with `rsctl restart LABEL` or `rsctl down LABEL`.
 * REASON is "restart" (killed by a signal, or not ready in time),
 * "no-heartbeat" (watchdog), "probe-failed" (its liveness probe, 0.3) or
 * "terminated" (it exited). Each output line
 * becomes a "script-output" event; a script still running after
 * RSD_SCRIPT_TIMEOUT_S is killed with its process group.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "rsd.h"

extern char **environ;

typedef struct rsd_script {
	struct rsd_script *next;
	rsd      *d;
	pid_t     pid;
	int       fd;          /* read end of its stdout+stderr */
	ev_io     io;
	ev_timer  timeout;
	ev_child  child;
	char      label[RS_LABEL_MAX];
	uint64_t  inst;
	char      buf[1024];   /* a partial output line */
	size_t    len;
	bool      exited;
	int       status;
} rsd_script;

const char *script_reason(rs_exit_reason r)
{
	switch (r) {
	case RS_ER_NO_HEARTBEAT: return "no-heartbeat";
	case RS_ER_EXITED: return "terminated";
	case RS_ER_PROBE_FAILED: return "probe-failed";
	case RS_ER_OOM: return "oom";
	default: return "restart";
	}
}

/* Frees sc once both its output is drained and it was reaped. */
static void script_maybe_free(rsd_script *sc)
{
	rsd *d = sc->d;

	if (sc->fd >= 0 || !sc->exited)
		return;
	ev_timer_stop(d->loop, &sc->timeout);
	ev_child_stop(d->loop, &sc->child);
	for (rsd_script **pp = &d->scripts; *pp; pp = &(*pp)->next)
		if (*pp == sc) {
			*pp = sc->next;
			break;
		}
	if (WIFEXITED(sc->status))
		rsd_event(d, sc->label, sc->inst, NULL, "script-exit", "exit code %d",
			  WEXITSTATUS(sc->status));
	else
		rsd_event(d, sc->label, sc->inst, NULL, "script-exit",
			  "killed by signal %d", WTERMSIG(sc->status));
	free(sc);
}

static void script_line(rsd_script *sc)
{
	sc->buf[sc->len] = '\0';
	if (sc->len)
		rsd_event(sc->d, sc->label, sc->inst, NULL, "script-output", "%s", sc->buf);
	sc->len = 0;
}

static void script_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	rsd_script *sc = w->data;
	char chunk[512];
	ssize_t n = read(sc->fd, chunk, sizeof chunk);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		script_line(sc);
		ev_io_stop(loop, w);
		close(sc->fd);
		sc->fd = -1;
		script_maybe_free(sc);
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		if (chunk[i] == '\n' || sc->len == sizeof sc->buf - 1)
			script_line(sc);
		if (chunk[i] != '\n')
			sc->buf[sc->len++] = chunk[i];
	}
}

static void script_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	rsd_script *sc = w->data;

	log_warnx("recovery script of %s still runs after %d s, killing it",
		  sc->label, RSD_SCRIPT_TIMEOUT_S);
	rsd_event(sc->d, sc->label, sc->inst, NULL, "script-timeout",
		  "killed after %d s", RSD_SCRIPT_TIMEOUT_S);
	kill(-sc->pid, SIGKILL);
}

static void script_child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	rsd_script *sc = w->data;

	ev_child_stop(loop, w);
	sc->exited = true;
	sc->status = w->rstatus;
	kill(-sc->pid, SIGKILL);   /* whatever it left behind in its group */
	script_maybe_free(sc);
}

int rsd_script_run(rsd *d, const char *script, const char *label,
		   uint64_t inst, rs_exit_reason reason, uint32_t incarnation)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	char inc[16], ctl[300], cred[RSD_PATH_MAX + 32];
	char *argv[5], **envp = NULL;
	size_t n = 0, i;
	int p[2], r;
	rsd_script *sc;
	pid_t pid;

	snprintf(inc, sizeof inc, "%u", incarnation);
	snprintf(ctl, sizeof ctl, "RS_CONTROL=%s", net_endpoint(d->control));
	argv[0] = (char *)script;
	argv[1] = (char *)label;
	argv[2] = (char *)script_reason(reason);
	argv[3] = inc;
	argv[4] = NULL;
	while (environ[n])
		n++;
	if (d->insecure)
		snprintf(cred, sizeof cred, "RS_INSECURE=1");
	else
		snprintf(cred, sizeof cred, "RS_CRED=%s/script.cred", d->auth_dir);
	envp = calloc(n + 3, sizeof *envp);
	sc = calloc(1, sizeof *sc);
	if (!envp || !sc || pipe2(p, O_CLOEXEC) < 0) {
		r = envp && sc ? -errno : -ENOMEM;
		free(envp);
		free(sc);
		return r;
	}
	envp[0] = ctl;
	envp[1] = cred;
	for (i = 0; i < n; i++)
		envp[i + 2] = environ[i];
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
	r = posix_spawn(&pid, script, &fa, &attr, argv, envp);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	free(envp);
	close(p[1]);
	if (r != 0) {
		close(p[0]);
		free(sc);
		return -r;
	}
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	sc->d = d;
	sc->pid = pid;
	sc->fd = p[0];
	sc->inst = inst;
	rs_strlcpy(sc->label, label, sizeof sc->label);
	ev_io_init(&sc->io, script_io_cb, p[0], EV_READ);
	ev_timer_init(&sc->timeout, script_timeout_cb, RSD_SCRIPT_TIMEOUT_S, 0.);
	ev_child_init(&sc->child, script_child_cb, pid, 0);
	sc->io.data = sc->timeout.data = sc->child.data = sc;
	ev_io_start(d->loop, &sc->io);
	ev_timer_start(d->loop, &sc->timeout);
	ev_child_start(d->loop, &sc->child);
	sc->next = d->scripts;
	d->scripts = sc;
	return 0;
}

void rsd_scripts_kill(rsd *d)
{
	while (d->scripts) {
		rsd_script *sc = d->scripts;
		d->scripts = sc->next;
		kill(-sc->pid, SIGKILL);
		ev_io_stop(d->loop, &sc->io);
		ev_timer_stop(d->loop, &sc->timeout);
		ev_child_stop(d->loop, &sc->child);
		if (sc->fd >= 0)
			close(sc->fd);
		free(sc);
	}
}
